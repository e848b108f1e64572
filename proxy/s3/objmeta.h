/* The request headers an object keeps (s3/objmeta.c): Content-Type,
 * Cache-Control, Content-Disposition, Content-Encoding (without the
 * aws-chunked framing), Content-Language, Expires and x-amz-meta-*, except
 * the fencing credentials (x-amz-meta-fencing-lock/-token: they belong to
 * one write, not to the object), and the write's fencing provenance.
 * PutObject, CopyObject (REPLACE) and CreateMultipartUpload take them. */
#ifndef ZKP_OBJMETA_H
#define ZKP_OBJMETA_H

#include "http/reqctx.h"

/* Fills r->meta from the request's headers, and its provenance (fence_lock,
 * fence_token) from r->op when the request carries fencing. An allocation
 * that fails drops that header. */
void zkp_objmeta_collect(zkp_req_t *r);

#endif
