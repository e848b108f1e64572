/* Minimal S3-style HTTP calls for the demo, over libcurl.
 *
 * Requests are signed with AWS Signature Version 4 (libcurl's
 * CURLOPT_AWS_SIGV4) when AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are
 * set, for the region in AWS_REGION or AWS_DEFAULT_REGION (default
 * us-east-1), as a proxy with authentication on requires; bodies are
 * covered by their SHA-256 (x-amz-content-sha256). AWS_CA_BUNDLE names the
 * CA certificate of an https:// proxy. */
#ifndef ZKF_DEMO_HTTP_H
#define ZKF_DEMO_HTTP_H

#include <stddef.h>
#include <stdint.h>

typedef struct demo_http demo_http_t;

/* base: "http://127.0.0.1:9000". NULL on error. One per thread/process. */
demo_http_t *demo_http_new(const char *base);
void demo_http_free(demo_http_t *h);

/* GET /bucket/key into *body (malloc'ed, NUL-terminated; caller frees).
 * Returns the HTTP status, or -1 on a transport error. */
int demo_http_get(demo_http_t *h, const char *bucket, const char *key, char **body);

/* PUT /bucket/key with `body`. lock NULL: no fencing headers. Returns the
 * HTTP status, or -1 on a transport error. On a non-2xx answer, *err (if
 * not NULL) gets the response body (malloc'ed). */
int demo_http_put(demo_http_t *h, const char *bucket, const char *key, const char *body,
                  const char *lock, uint64_t token, char **err);

/* PUT /bucket (CreateBucket). Returns the HTTP status, or -1 on a
 * transport error. */
int demo_http_create_bucket(demo_http_t *h, const char *bucket);

/* Why the last call got no HTTP answer (-1): libcurl's explanation and the
 * URL, e.g. "Failed to connect to 127.0.0.1 port 9 after 0 ms: Connection
 * refused (PUT http://127.0.0.1:9/demo-open)". "" after an answered call.
 * Owned by h; valid until its next call. */
const char *demo_http_error(const demo_http_t *h);

#endif
