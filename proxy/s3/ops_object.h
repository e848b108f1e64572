/* Object operations (s3/ops_object.c). The op_ functions run when the
 * request (and its body) is complete; they queue their response and
 * return the result of queueing it. */
#ifndef ZKP_OPS_OBJECT_H
#define ZKP_OPS_OBJECT_H

#include "backend/cond.h"
#include "http/reqctx.h"

/* Prepares a PutObject at request start (staging, digests). Returns 0 to
 * read the body, or -1 with an error response queued in *res. */
int zkp_put_start(zkp_req_t *r, enum MHD_Result *res);
/* Prepares DeleteObjects' buffered body at request start; like put_start. */
int zkp_delete_objects_start(zkp_req_t *r, enum MHD_Result *res);

/* PutObject once its body is in; also UploadPart's (the staged put is
 * then a part): the body's checks, the fenced commit, the ETag. */
enum MHD_Result zkp_op_put_object(zkp_req_t *r);
enum MHD_Result zkp_op_copy_object(zkp_req_t *r);
/* The end of a copy (CopyObject, UploadPartCopy): the staged copy p
 * (consumed) committed through the fencing gate with the write's
 * precondition cond (NULL: none, as for a part), and the answer <root>
 * with its LastModified and ETag. */
enum MHD_Result zkp_copy_finish(zkp_req_t *r, zkp_put_t *p, const char *etag,
                                const zkp_cond_t *cond, const char *root);
/* GetObject, or HeadObject when head. */
enum MHD_Result zkp_op_get_object(zkp_req_t *r, int head);
enum MHD_Result zkp_op_delete_object(zkp_req_t *r);
enum MHD_Result zkp_op_delete_objects(zkp_req_t *r);

#endif
