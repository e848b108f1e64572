/* Request authentication: may this request go on? (auth/auth.c)
 *
 * The seam where the HTTP server asks, once the request line and headers
 * are read and the request classified, before the S3 operation starts and
 * before any body byte is read. It reads the request through the accessors
 * of http/reqctx.h and returns a verdict; the server answers a refusal
 * (this layer queues nothing, audits nothing).
 *
 * Today it accepts every request: the proxy does not verify signatures yet
 * (proxy/README.md, "What it does not guarantee"). AWS SigV4 verification
 * (header and presigned forms; chunk signatures also need the body intake)
 * plugs in here. */
#ifndef ZKP_AUTH_H
#define ZKP_AUTH_H

#include "http/reqctx.h"

/* Why a request is refused: the HTTP status and S3 error code and message
 * (static strings), e.g. 403 SignatureDoesNotMatch. */
typedef struct zkp_auth_refusal {
    int status;
    const char *code;
    const char *msg;
} zkp_auth_refusal_t;

/* Returns 0 if the request may proceed, or -1 with *why filled. Thread-safe
 * (called from every event loop). */
int zkp_auth_check(const zkp_req_t *r, zkp_auth_refusal_t *why);

/* The rights check of fence-advance (POST /_zkfence/fence-advance), which
 * raises the mark of `lock` (a valid lock name, NUL-terminated) without
 * touching data: may the (authenticated) sender of r do that? The rule, once
 * identities and per-bucket rights exist: admin rights, or write rights on a
 * bucket bound to that lock (a caller who may write under the lock may as
 * well raise its mark by a write). Called by the endpoint (s3/ops_admin.c)
 * after zkp_auth_check() accepted the request and before the mark store is
 * consulted, so a refused caller learns nothing of the mark.
 * Today it allows every request, like zkp_auth_check(): there are no
 * identities yet. Returns 0 if allowed, or -1 with *why filled (e.g. 403
 * AccessDenied). Thread-safe. */
int zkp_auth_may_fence_advance(const zkp_req_t *r, const char *lock, zkp_auth_refusal_t *why);

#endif
