/* Conditional requests on the S3 side (s3/precond.c): which request
 * headers make a precondition (backend/cond.h), which values are refused
 * outright, and the answers of a failed one.
 *
 *   GetObject, HeadObject   If-Match, If-None-Match, If-Modified-Since,
 *                           If-Unmodified-Since: 304 or 412
 *   PutObject, CopyObject   If-Match, If-None-Match on the destination: 412
 *                           (404 NoSuchKey for If-Match without an object)
 *   CopyObject              x-amz-copy-source-if-match, -if-none-match,
 *                           -if-modified-since, -if-unmodified-since: 412
 *
 * Multipart complete, when it exists, takes a write's preconditions like
 * PutObject: zkp_precond_write_start() at request start, then
 * zkp_precond_write() handed to the backend's commit. */
#ifndef ZKP_PRECOND_H
#define ZKP_PRECOND_H

#include "backend/cond.h"
#include "http/reqctx.h"

/* The preconditions of a read (GetObject, HeadObject). */
void zkp_precond_read(const zkp_req_t *r, zkp_cond_t *c);
/* The preconditions of a write on its own key (If-Match, If-None-Match). */
void zkp_precond_write(const zkp_req_t *r, zkp_cond_t *c);
/* The preconditions of a copy on its source (x-amz-copy-source-if-*). */
void zkp_precond_copy_source(const zkp_req_t *r, zkp_cond_t *c);

/* At the start of a write, before its body: If-None-Match with anything
 * but "*" (the only value S3 documents for a write: a write can only ask
 * for "no object") is refused, 501 NotImplemented. Returns 0 to go on, or -1 with the error queued
 * and the result of queueing it in *res. */
int zkp_precond_write_start(zkp_req_t *r, enum MHD_Result *res);

/* 412 PreconditionFailed, naming the header that failed (<Condition>) when
 * known (NULL: not named). */
enum MHD_Result zkp_precond_failed(zkp_req_t *r, const char *condition);

#endif
