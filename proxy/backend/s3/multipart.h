/* Multipart upload on the upstream S3 backend (multipart.c): the mpu_*
 * operations of the backend table (backend.h), each mapped onto the
 * upstream's own call of the same name. Internal to backend/s3/:
 * backend_s3.c puts them in its table.
 *
 * Fencing: a part, a part copy and a completion are staged puts, sent
 * upstream by put_commit, which the core calls inside the lock's fencing
 * section once the mark is durable, exactly as a PutObject on this backend:
 * a part's body is staged in an unnamed spool file as it arrives (never
 * held in memory) and streamed from it to the upstream's UploadPart after
 * the decision. So no byte of a refused step reaches the upstream, and once
 * a step with token T has been sent, no step or write with a lower token
 * is: T is the mark from then on, whatever the upstream answered. The
 * create is sent inside the section too.
 *
 * Upload ids: the client sees the proxy's own (uploads.h), checked against
 * the request's bucket and key before anything goes upstream. */
#ifndef ZKP_S3_MULTIPART_H
#define ZKP_S3_MULTIPART_H

#include "backend/backend.h"

int zkp_s3_mpu_create(zkp_backend_t *be, const char *bucket, const char *key,
                      const zkp_obj_meta_t *meta, char **upload_id);
int zkp_s3_mpu_stat(zkp_backend_t *be, const char *bucket, const char *key, const char *upload_id,
                    zkp_obj_meta_t *meta);
int zkp_s3_mpu_part_begin(zkp_backend_t *be, const char *bucket, const char *key,
                          const char *upload_id, int number, zkp_put_t **out);
int zkp_s3_mpu_part_copy_begin(zkp_backend_t *be, const char *bucket, const char *key,
                               const char *upload_id, int number, const char *src_bucket,
                               const char *src_key, int has_range, uint64_t first, uint64_t last,
                               zkp_put_t **out, char etag[ZKP_ETAG_MAX + 1]);
int zkp_s3_mpu_list_parts(zkp_backend_t *be, const char *bucket, const char *key,
                          const char *upload_id, int after, int max, zkp_part_list_t *out);
int zkp_s3_mpu_complete_begin(zkp_backend_t *be, const char *bucket, const char *key,
                              const char *upload_id, const zkp_part_ref_t *parts, size_t n,
                              const zkp_obj_meta_t *prov, const zkp_cond_t *pre, zkp_put_t **out,
                              char etag[ZKP_ETAG_MAX + 1], size_t *bad);
int zkp_s3_mpu_abort(zkp_backend_t *be, const char *bucket, const char *key, const char *upload_id);
int zkp_s3_mpu_list(zkp_backend_t *be, const char *bucket, const zkp_upload_list_req_t *req,
                    zkp_upload_list_result_t *res);
int zkp_s3_mpu_sweep(zkp_backend_t *be, time_t before);

#endif
