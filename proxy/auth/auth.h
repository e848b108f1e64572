/* Request authentication: may this request go on? (auth/auth.c)
 *
 * The seam where the HTTP server asks, once the request line and headers
 * are read and the request classified, before the S3 operation starts and
 * before any body byte is read. It returns a verdict; the server answers a
 * refusal (this layer queues nothing, audits nothing).
 *
 * With `auth = on` (the default), every request is verified as AWS
 * Signature Version 4 (sigv4/sigv4.h: the Authorization header form and
 * presigned URLs, the clock, the scope) against the credentials file
 * (auth/creds.h), and its operation is checked against the sender's rights
 * (auth/rights.h). What the signature says about the body (a SHA-256 of it,
 * or signed aws-chunked framing) is handed to the body intake through
 * zkp_req_auth_t (http/reqctx.h), which checks it before anything is
 * committed. Headers that carry the fencing credentials (X-Fencing-Lock,
 * X-Fencing-Token) must be signed when sent: the token decides what is
 * written. Anonymous requests get 403 AccessDenied, except where the rights
 * table lets anyone in (health; metrics from loopback).
 *
 * With `auth = off` (local experiments only: a warning at start, and
 * /_zkfence/health says so), every request proceeds and nothing of SigV4 is
 * checked.
 *
 * The credentials are a set swapped whole on reload (SIGHUP): a request
 * keeps the set it was verified against until it ends, and a reload that
 * fails keeps the old set. */
#ifndef ZKP_AUTH_H
#define ZKP_AUTH_H

#include <stddef.h>
#include <time.h>

#include "http/reqctx.h"
#include "http/request.h"
#include "http/xml.h"
#include "sigv4/sigv4.h"
#include "util/config.h"

typedef struct zkp_auth zkp_auth_t;

/* Why a request is refused: the HTTP status, the S3 error code (static) and
 * message, and the extra elements S3 adds to some errors (for
 * SignatureDoesNotMatch: AWSAccessKeyId, StringToSign, SignatureProvided,
 * CanonicalRequest). zkp_auth_refusal_free() after use. */
#define ZKP_AUTH_EXTRA_MAX 4
typedef struct zkp_auth_refusal {
    int status;
    const char *code;
    char msg[512];
    zkp_xml_extra_t extra[ZKP_AUTH_EXTRA_MAX];
    size_t nextra;
    char *owned[ZKP_AUTH_EXTRA_MAX]; /* the extras' texts, malloc'ed */
} zkp_auth_refusal_t;

void zkp_auth_refusal_free(zkp_auth_refusal_t *why);

/* Opens authentication as the configuration says. With auth on, loads the
 * credentials file (refused if missing, unreadable, malformed, or
 * accessible by group or others). Returns 0 and sets *out, or -1 with a
 * message in err (a configuration error: the proxy must not start). cfg is
 * read during the call only. */
int zkp_auth_open(const zkp_config_t *cfg, zkp_auth_t **out, char *err, size_t errlen);

/* Closes. No request may still hold a credentials set, and no other
 * thread may be in a call on a or exiting (the server joins its threads
 * first): the threads' per-thread state is freed here. NULL is a no-op. */
void zkp_auth_close(zkp_auth_t *a);

/* 1 if authentication is on. */
int zkp_auth_enabled(const zkp_auth_t *a);

/* How many credentials sets are in memory: the current one, and older ones
 * that requests still hold (0 with auth off). A set is freed when the last
 * request that holds it ends, so this is 1 whenever no request that began
 * before the last reload is still running. Thread-safe. */
unsigned zkp_auth_sets_live(zkp_auth_t *a);

/* Reloads the credentials file (SIGHUP). Returns 0 with "N keys" in msg,
 * or -1 with the reason in msg: the set in use is kept. With auth off: 0
 * and "auth is off". Safe while requests run: each request keeps the set
 * it started with. */
int zkp_auth_reload(zkp_auth_t *a, char *msg, size_t msglen);

/* What the decision reads of a request: pure data, so that the fuzz target
 * can drive it without a connection. */
typedef struct zkp_auth_input {
    const char *method;
    const char *target; /* raw request-target, as received */
    size_t target_len;
    const zkp_sigv4_header_t *headers; /* every header, in order */
    size_t n_headers;
    time_t now;
    int peer_loopback; /* connected from 127.0.0.0/8 */
    const zkp_op_t *op;
} zkp_auth_input_t;

/* Decides. Returns 0 if the request may proceed, with *out filled (call
 * zkp_req_auth_end(out) when the request ends, whatever happens next, from
 * any thread), or -1 with *why filled (*out is then empty). Thread-safe;
 * the calling thread keeps a little state for a (its hold on the current
 * credentials set and its cache of signing keys), freed when it exits or
 * at zkp_auth_close(). */
int zkp_auth_decide(zkp_auth_t *a, const zkp_auth_input_t *in, zkp_req_auth_t *out,
                    zkp_auth_refusal_t *why);

/* zkp_auth_decide() for a request of the server: reads r's method, target,
 * headers (r->hdrs must be collected), peer and operation, fills r->auth.
 * Returns 0 or -1 as zkp_auth_decide(). */
int zkp_auth_check(zkp_auth_t *a, zkp_req_t *r, zkp_auth_refusal_t *why);

#endif
