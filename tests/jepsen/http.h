/* The Jepsen-style suite's HTTP client: one request at a time to
 * zkfence-proxy over libcurl, with or without the fencing headers. */
#ifndef JP_HTTP_H
#define JP_HTTP_H

#include <stddef.h>
#include <stdint.h>

typedef struct jp_http jp_http_t;

/* A response body, malloc'ed and NUL-terminated (text may hold NULs: use
 * len). Freed with free(body.data). */
typedef struct jp_body {
    char *data;
    size_t len;
} jp_body_t;

/* base: "http://127.0.0.1:9000". timeout_ms bounds each whole request.
 * Requests are signed (AWS SigV4, region us-east-1) with the key in
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY when both are set, as the
 * proxy requires unless it runs with auth = off.
 * Returns NULL when out of memory. One per process (or thread). */
jp_http_t *jp_http_new(const char *base, int timeout_ms);
void jp_http_free(jp_http_t *h);

/* Sends METHOD base+path with `body` (NULL: none), and X-Fencing-Lock /
 * X-Fencing-Token when lock is not NULL. Returns the HTTP status, or -1 on
 * a transport error (refused connection, reset, timeout), with curl's text
 * in err. On return out (if not NULL) holds the response body; the caller
 * frees out->data, whatever the status. */
int jp_http_request(jp_http_t *h, const char *method, const char *path, const char *body,
                    size_t body_len, const char *lock, uint64_t token, jp_body_t *out, char *err,
                    size_t errlen);

#endif
