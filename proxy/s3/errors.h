/* S3 errors for the backend's error codes (backend/backend.h): the one
 * place that decides what a client is told when storage says no. */
#ifndef ZKP_S3_ERRORS_H
#define ZKP_S3_ERRORS_H

#include "http/reqctx.h"

/* Queues the S3 error for be_rc (a zkp_be_err_t): 404 NoSuchKey,
 * 404 NoSuchBucket, 409 BucketAlreadyOwnedByYou, 409 BucketNotEmpty,
 * 404 NoSuchUpload, 400 InvalidPart, 400 EntityTooSmall, 400
 * InvalidArgument (a copy range outside its source), 413 EntityTooLarge,
 * 412 PreconditionFailed, 503 SlowDown (out of memory); for a remote
 * backend, 503 ServiceUnavailable with Retry-After (the upstream
 * unreachable, timed out, or 5xx), 502 BadGateway (its answer is not S3)
 * and its own 4xx and 501 passed through (status, code, message: zkp_be_detail(),
 * read on the thread that got be_rc); else 500 InternalError. Returns the
 * result of queueing it. */
enum MHD_Result zkp_respond_be_error(zkp_req_t *r, int be_rc);

#endif
