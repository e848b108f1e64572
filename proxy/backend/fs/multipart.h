/* The multipart operations of the local-files backend's table (multipart.c;
 * their contracts are in backend.h, the uploads on disk in upload.h).
 *
 * Atomicity and durability:
 *  - create builds the upload's directory and manifest in tmp/, fsyncs
 *    them, and renames the directory into .uploads/: an upload exists whole
 *    or not at all, and durably once acknowledged;
 *  - a part is staged in tmp/ and fsync'ed (seal), then renamed into the
 *    upload over any part of the same number and the upload's directory is
 *    fsync'ed (commit): an acknowledged part survives a crash;
 *  - a completion, under the upload's lock, checks the listed parts, stages
 *    the object in tmp/ with the parts copied in the kernel
 *    (copy_file_range: no byte passes through the proxy), fsyncs it (seal),
 *    and at commit publishes it as a PUT does (rename over the key's file,
 *    the bucket directory fsync'ed), then removes the upload. The object
 *    records the upload's id: a crash before the rename leaves the upload
 *    completable, a crash after it leaves an object whose upload start-up
 *    removes (completed), and a completion retried after success is
 *    recognised (answered again, nothing staged);
 *  - an abort removes the upload under its lock; a part committed after
 *    that finds no upload (NoSuchUpload). */
#ifndef ZKP_FS_MULTIPART_H
#define ZKP_FS_MULTIPART_H

#include "backend/backend.h"

int zkp_fs_mpu_create(zkp_backend_t *be, const char *bucket, const char *key,
                      const zkp_obj_meta_t *meta, char **upload_id);
int zkp_fs_mpu_stat(zkp_backend_t *be, const char *bucket, const char *key, const char *upload_id,
                    zkp_obj_meta_t *meta);
int zkp_fs_mpu_part_begin(zkp_backend_t *be, const char *bucket, const char *key,
                          const char *upload_id, int number, zkp_put_t **out);
int zkp_fs_mpu_part_copy_begin(zkp_backend_t *be, const char *bucket, const char *key,
                               const char *upload_id, int number, const char *src_bucket,
                               const char *src_key, int has_range, uint64_t first, uint64_t last,
                               zkp_put_t **out, char etag[ZKP_ETAG_MAX + 1]);
int zkp_fs_mpu_list_parts(zkp_backend_t *be, const char *bucket, const char *key,
                          const char *upload_id, int after, int max, zkp_part_list_t *out);
int zkp_fs_mpu_complete_begin(zkp_backend_t *be, const char *bucket, const char *key,
                              const char *upload_id, const zkp_part_ref_t *parts, size_t n,
                              const zkp_obj_meta_t *prov, const zkp_cond_t *pre, zkp_put_t **out,
                              char etag[ZKP_ETAG_MAX + 1], size_t *bad);
int zkp_fs_mpu_abort(zkp_backend_t *be, const char *bucket, const char *key, const char *upload_id);
int zkp_fs_mpu_list(zkp_backend_t *be, const char *bucket, const zkp_upload_list_req_t *req,
                    zkp_upload_list_result_t *res);
int zkp_fs_mpu_sweep(zkp_backend_t *be, time_t before);

#endif
