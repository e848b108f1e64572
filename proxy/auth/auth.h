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
 * well raise its mark by a write). "Bound to that lock": the configuration's
 * bindings (fence/bind.h, r->svc->binds) answer it; zkp_binds_owner(binds,
 * lock, B, NULL) != NULL says whether bucket B's bindings give that lock to
 * some key of B. An unbound lock (no binding gives it) is fenced by writes
 * to unbound keys of any bucket: write rights on any bucket then. Called by
 * the endpoint (s3/ops_advance.c)
 * after zkp_auth_check() accepted the request and before the mark store is
 * consulted, so a refused caller learns nothing of the mark.
 * Today it allows every request, like zkp_auth_check(): there are no
 * identities yet. Returns 0 if allowed, or -1 with *why filled (e.g. 403
 * AccessDenied). Thread-safe. */
int zkp_auth_may_fence_advance(const zkp_req_t *r, const char *lock, zkp_auth_refusal_t *why);

/* The rights hooks below are where the credentials and per-bucket rights
 * (read, write, admin) of authentication plug in: each is named for the
 * decision it makes, so that the operation asks one question and the rule
 * lives here. Today there are no identities: each allows every request.
 * Each returns 0 if allowed, or -1 with *why filled (e.g. 403
 * AccessDenied). Thread-safe. */

/* DeleteBucket of a bucket whose keys the configuration binds to locks
 * (fence/bind.h): the rule, once rights exist, is admin rights on that
 * bucket. Called by the operation (s3/ops_bucket.c) before the backend is
 * asked anything. */
int zkp_auth_may_delete_bound_bucket(const zkp_req_t *r, const char *bucket,
                                     zkp_auth_refusal_t *why);

/* Mark repair (POST /_zkfence/marks/repair), which lowers or clears the
 * mark of `lock` (a lock name, canonical or a legacy one being cleared):
 * the rule is admin rights on every bucket ('*'), as for the other admin
 * endpoints. Called by the endpoint (s3/ops_repair.c) before the mark
 * store is consulted, so a refused caller learns nothing of the mark. */
int zkp_auth_may_repair_marks(const zkp_req_t *r, const char *lock, zkp_auth_refusal_t *why);

/* Who sent r, for the audit log: the verified access key, or NULL for an
 * anonymous request (today, every request). The string lives as long as
 * the request. */
const char *zkp_auth_identity(const zkp_req_t *r);

#endif
