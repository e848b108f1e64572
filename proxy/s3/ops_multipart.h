/* Multipart upload operations (s3/ops_multipart.c): CreateMultipartUpload,
 * UploadPart, UploadPartCopy, CompleteMultipartUpload,
 * AbortMultipartUpload, ListParts, ListMultipartUploads. On a backend
 * without multipart operations (backend.h: the mpu_* are NULL) each answers
 * 501 NotImplemented.
 *
 * Fencing, step by step (proxy/README.md, "Multipart upload"):
 *  - create: fenced like a PutObject (428 where fencing is required and
 *    missing, 412 if stale, the mark raised if higher), and the upload
 *    records the lock and token it was created with;
 *  - each part (upload or copy), and the completion: fenced with their own
 *    fencing headers if they carry any (they must name the upload's lock:
 *    else 400 InvalidFencingLock), else with the upload's record; checked
 *    before the body (412 early) and decided again inside the lock's
 *    section, where the part is stored, or the object published, only if
 *    accepted;
 *  - abort and the listings are not fenced: they make nothing visible.
 * Every decision is counted and audited as for PutObject, under the
 * operation's name. */
#ifndef ZKP_OPS_MULTIPART_H
#define ZKP_OPS_MULTIPART_H

#include "http/reqctx.h"

/* At request start, before the fencing precheck: for a multipart
 * operation, 501 if the backend has none; for a part or a completion, the
 * upload (404 NoSuchUpload for a part of an unknown upload) and the
 * fencing it is checked with (above). Returns 0 to go on (the precheck
 * next), 1 to go on without it (a completion whose upload is gone: it can
 * only be answered again or refused, nothing is written), or -1 with the
 * error queued in *res. Other operations: 0. */
int zkp_mpu_resolve(zkp_req_t *r, enum MHD_Result *res);

/* Prepares UploadPart's streamed body (the staged part) and
 * CompleteMultipartUpload's buffered one. 0, or -1 with the error queued
 * in *res. Once its body is in, a part ends as a PutObject does
 * (s3/ops_object.h: zkp_op_put_object). */
int zkp_mpu_part_start(zkp_req_t *r, enum MHD_Result *res);
int zkp_mpu_complete_start(zkp_req_t *r, enum MHD_Result *res);

enum MHD_Result zkp_op_create_mpu(zkp_req_t *r);
enum MHD_Result zkp_op_upload_part_copy(zkp_req_t *r);
enum MHD_Result zkp_op_complete_mpu(zkp_req_t *r);
enum MHD_Result zkp_op_abort_mpu(zkp_req_t *r);
enum MHD_Result zkp_op_list_parts(zkp_req_t *r);
enum MHD_Result zkp_op_list_mpu(zkp_req_t *r);

#endif
