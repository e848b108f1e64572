/* The upstream S3 endpoint as the backend calls it: where it is (endpoint,
 * addressing), who we are (credentials, read from a file only its owner can
 * read), and one function that builds a request, signs it with SigV4
 * (sigv4/sigv4.h: ours, not libcurl's) and hands it to the transfer thread
 * (transfer.h). Also: what an answer that is not a success means for the
 * client (zkp_upstream_error).
 *
 * The secret key never leaves this module's struct: it is not logged, not
 * put in an error message, and wiped when the upstream is freed. */
#ifndef ZKP_S3_UPSTREAM_H
#define ZKP_S3_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "backend/s3/transfer.h"
#include "util/config.h"

typedef struct zkp_upstream zkp_upstream_t;

/* Reads the credentials file and starts the transfer thread. Returns it,
 * or NULL with a message in err and *failure = ZKP_FAIL_CONFIG (settings,
 * credentials file) or ZKP_FAIL_START. */
zkp_upstream_t *zkp_upstream_new(const zkp_s3_config_t *c, char *err, size_t errlen, int *failure);
/* Stops the transfer thread (every transfer must have been released) and
 * wipes the secret. NULL is a no-op. */
void zkp_upstream_free(zkp_upstream_t *u);
/* The endpoint URL, for messages. */
const char *zkp_upstream_endpoint(const zkp_upstream_t *u);

/* One request. bucket NULL: the service ("/"); key NULL: the bucket.
 * query: "name=value&..." already percent-encoded (zkp_upstream_query_add),
 * or NULL. headers: extra "name" / "value" pairs (nheaders pairs, names
 * lowercase), signed and sent. body as for zkp_xfer_new (NULL: none).
 * sha256: the body's SHA-256 (64 lowercase hex digits), signed as the
 * payload hash so that the upstream refuses other bytes; NULL: a body goes
 * as UNSIGNED-PAYLOAD (then send Content-MD5). The transfer is submitted;
 * the caller waits on it and releases it. NULL on OOM or a signing failure
 * (a bug). */
zkp_xfer_t *zkp_upstream_send(zkp_upstream_t *u, const char *method, const char *bucket,
                              const char *key, const char *query, const char *const *headers,
                              size_t nheaders, const zkp_xfer_body_t *body, const char *sha256,
                              int stream);

/* Appends "&name=value" (no '&' first) to q (capacity cap), both
 * percent-encoded as SigV4 wants. Returns 0, or -1 if it does not fit. */
int zkp_upstream_query_add(char *q, size_t cap, const char *name, const char *value);

/* After waiting on x (zkp_xfer_wait, or wait_headers for a stream): 0 and
 * *status when the upstream answered; else ZKP_BE_UNAVAILABLE with the
 * detail (backend.h) naming the endpoint, the call `what` and libcurl's
 * reason. */
int zkp_upstream_answered(zkp_upstream_t *u, zkp_xfer_t *x, const char *what, long *status);

/* The backend error for an answer that is not a success (status >= 300):
 * 5xx: ZKP_BE_UNAVAILABLE, except an S3 501 NotImplemented, passed
 * through as ZKP_BE_UPSTREAM (no retry helps); NoSuchKey, NoSuchBucket, BucketNotEmpty,
 * BucketAlreadyOwnedByYou: the backend's own codes; another 4xx:
 * ZKP_BE_UPSTREAM with its status, code and message (a body without an S3
 * error, as a HEAD answer: a code from the status; 404 means NoSuchKey when
 * object != 0, else NoSuchBucket); a 3xx or an answer that is not S3:
 * ZKP_BE_BAD_GATEWAY. The detail names the endpoint and `what`. */
int zkp_upstream_error(zkp_upstream_t *u, zkp_xfer_t *x, long status, const char *what, int object);

#endif
