/* Test harness for the zkfence-proxy suites: start a real zkfence-proxy
 * process on a free loopback port with its own temporary data directory
 * and credentials, wait for /_zkfence/health with a deadline, talk to it
 * (libcurl, or raw sockets for malformed input), stop it by PID, look at
 * what reached storage. Waiting is always on a condition with a deadline.
 *
 * Authentication is on, as in production: each proxy gets a credentials
 * file (mode 0600) with an admin key ("* admin", random secret), and every
 * request the harness sends is signed with AWS SigV4 (sigv4/sigv4.h) by
 * that key unless the test says otherwise (pt_req_opts_t): another key,
 * no signature, a presigned URL, a skewed clock. Tests stay in the curl
 * style: the request sent, the response expected. */
#ifndef PT_HARNESS_H
#define PT_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct curl_slist;

/* An access key and its secret. */
typedef struct pt_key {
    char id[64];
    char secret[80];
} pt_key_t;

typedef struct pt_proxy {
    pid_t pid;
    unsigned port;      /* plain HTTP (loopback) */
    unsigned tls_port;  /* HTTPS, with PT_TLS; else 0 */
    char dir[256];      /* temp dir: conf, log, credentials, data/ */
    char data_dir[300]; /* dir/data */
    char conf[300];
    char creds[300]; /* the credentials file */
    char cert[300];  /* with PT_TLS: the certificate (CN and SAN 127.0.0.1, localhost) */
    char key[300];   /*   and its key (0600) */
    pt_key_t admin;  /* "* admin": what requests are signed with by default */
} pt_proxy_t;

/* Creates a temp dir and starts the proxy with `conf_extra` (lines
 * appended to the generated config; may be NULL), the debug fault endpoint
 * on, and credentials holding the admin key only. Returns 0 when healthy,
 * -1 (with the log printed) if not within 20 s. */
int pt_proxy_start(pt_proxy_t *p, const char *conf_extra);

#define PT_TLS 1 /* pt_proxy_start_ex: also an HTTPS listener, with a fresh certificate */
/* pt_proxy_start(), with `creds_extra` appended to the credentials file
 * (more "key" and "grant" lines; may be NULL) and flags (PT_TLS). */
int pt_proxy_start_ex(pt_proxy_t *p, const char *conf_extra, const char *creds_extra, int flags);

/* Writes a self-signed certificate for 127.0.0.1 and localhost (openssl
 * command, P-256 key) to cert and key (mode 0600). Returns 0 or -1. */
int pt_make_cert(const char *cert, const char *key);
/* Starts again on the same dir and port (after a stop or kill). */
int pt_proxy_restart(pt_proxy_t *p);
/* SIGTERM and wait (20 s): returns the exit status (0 = clean), or -1. */
int pt_proxy_stop(pt_proxy_t *p);
/* SIGKILL and reap. */
void pt_proxy_kill9(pt_proxy_t *p);
/* Stops if running, removes the temp dir. */
void pt_proxy_cleanup(pt_proxy_t *p);
/* Prints the proxy's log to stderr (for failures). */
void pt_proxy_dump_log(const pt_proxy_t *p);

typedef struct pt_resp {
    long status; /* 0 if the transfer failed */
    char *body;
    size_t len;
    char *headers;
    size_t hlen;
} pt_resp_t;

/* How a request is signed. All zero: the header form, by the proxy's
 * admin key, the body's SHA-256 as payload, now, plain HTTP. */
typedef enum {
    PT_SIGN_HEADER = 0, /* Authorization header */
    PT_SIGN_NONE,       /* anonymous: no signature */
    PT_SIGN_PRESIGNED,  /* X-Amz-* query parameters */
} pt_sign_mode_t;

typedef struct pt_req_opts {
    pt_sign_mode_t mode;
    const pt_key_t *key; /* NULL: the proxy's admin key */
    /* x-amz-content-sha256: NULL for the body's SHA-256 (or a value the
     * test's own headers give), else "UNSIGNED-PAYLOAD",
     * "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", ... or 64 hex digits. */
    const char *payload;
    time_t when;         /* the signing time; 0: now, plus skew_s */
    long skew_s;         /* signing time minus now (with when = 0) */
    unsigned expires_s;  /* presigned: X-Amz-Expires (0: 300) */
    const char *region;  /* NULL: us-east-1 */
    int tls;             /* https to tls_port, the certificate as CA */
    char *signature_out; /* if not NULL (65 bytes): the request's signature (a stream's seed) */
} pt_req_opts_t;

/* One request on a fresh connection, signed with the proxy's admin key.
 * headers: NULL-terminated array of "Name: value" (each one with a value is
 * signed; "Name:" removes a header libcurl would add). body may be NULL.
 * Returns 0 if a response arrived. */
int pt_http(const pt_proxy_t *p, const char *method, const char *path, const char *const *headers,
            const void *body, size_t len, pt_resp_t *out);
/* pt_http() signed as o says (NULL: as pt_http). */
int pt_http_opts(const pt_proxy_t *p, const pt_req_opts_t *o, const char *method, const char *path,
                 const char *const *headers, const void *body, size_t len, pt_resp_t *out);

/* The headers of a signed request for a libcurl handle of the test's own
 * (keep-alive writers): Host, the given ones, x-amz-date,
 * x-amz-content-sha256 and Authorization. For PT_SIGN_PRESIGNED, *path_out
 * (malloc'ed) gets the path with its query to request; else it may be
 * NULL. Free the list with curl_slist_free_all(). */
struct curl_slist *pt_signed_headers(const pt_proxy_t *p, const pt_req_opts_t *o,
                                     const char *method, const char *path,
                                     const char *const *headers, const void *body, size_t len,
                                     char **path_out);

/* The head of a signed request as raw bytes, for tests that write to a
 * socket: "METHOD path HTTP/1.1", Host, the given headers, the signature's
 * headers, and the blank line. The payload hash covers body[0..len) unless
 * o->payload says otherwise. Returns a malloc'ed string. */
char *pt_signed_head(const pt_proxy_t *p, const pt_req_opts_t *o, const char *method,
                     const char *path, const char *const *headers, const void *body, size_t len);

/* An aws-chunked body: body in chunks of `chunk` bytes, then the final
 * chunk, then `trailer` ("x-amz-checksum-crc32:<base64>", or NULL) and the
 * blank line. With seed (the request's signature, PT_REQ signature_out)
 * every chunk is signed with key k at time `when` (the request's signing
 * time), and a trailer gets its x-amz-trailer-signature; without, chunks
 * carry no signature. Returns malloc'ed bytes, their length in *out_len. */
char *pt_aws_chunked(const pt_key_t *k, time_t when, const char *seed, const void *body, size_t len,
                     size_t chunk, const char *trailer, size_t *out_len);

/* The base64 of a buffer into out (4 * ceil(len / 3) + 1 bytes). */
void pt_base64(const void *data, size_t len, char *out);
void pt_resp_free(pt_resp_t *r);
/* The value of a metric without labels in /_zkfence/metrics, or -1. */
long long pt_metric(const pt_proxy_t *p, const char *name);
/* The status of one request without headers or body (0 if none came). */
long pt_status(const pt_proxy_t *p, const char *method, const char *path);
/* The lock's high-water mark as GET /_zkfence/marks lists it, or -1 if the
 * lock has none. */
long long pt_mark(const pt_proxy_t *p, const char *lock);
/* The value of a response header (case-insensitive) copied into buf, or
 * NULL. */
const char *pt_header(const pt_resp_t *r, const char *name, char *buf, size_t cap);
/* 1 if the body contains s. */
int pt_body_has(const pt_resp_t *r, const char *s);

/* A request carrying X-Fencing-Lock and X-Fencing-Token (either NULL: not
 * sent) and an optional text body; returns the status (0: no answer). out
 * may be NULL; else the caller frees it. */
long pt_fenced(const pt_proxy_t *p, const char *method, const char *path, const char *lock,
               const char *token, const char *body, pt_resp_t *out);
/* The body of a plain GET (malloc'ed, "" when none); *status gets the status. */
char *pt_get_body(const pt_proxy_t *p, const char *path, long *status);
/* 1 if the response is an S3 error with this <Code>. */
int pt_error_is(const pt_resp_t *r, const char *code);

/* Sends raw bytes on a new connection, optionally half-closes, reads the
 * answer until EOF or timeout_ms. Returns bytes read (NUL-terminated in
 * out), or -1 if the connection failed. */
long pt_raw(const pt_proxy_t *p, const void *req, size_t len, int shut_wr, char *out, size_t cap,
            int timeout_ms);
/* pt_raw, and *eof tells how reading ended: 1 the server closed (FIN), 2
 * the connection was reset, 0 the timeout passed (or out filled up). */
long pt_raw_eof(const pt_proxy_t *p, const void *req, size_t len, int shut_wr, char *out,
                size_t cap, int timeout_ms, int *eof);
/* Status code of a raw HTTP response ("HTTP/1.1 400 ..."), or 0. */
int pt_raw_status(const char *resp);

/* A raw connection kept open between calls, for a request sent in parts
 * (a body that is still streaming while something else happens). */
int pt_conn_open(const pt_proxy_t *p);                  /* the socket, or -1 */
int pt_conn_send(int fd, const void *data, size_t len); /* 0, or -1 */
/* Reads one header block (up to and including the blank line), e.g. an
 * interim "100 Continue". Returns the bytes read (NUL-terminated in out);
 * fewer than a whole block if the peer closed or timeout_ms passed. */
long pt_conn_read_headers(int fd, char *out, size_t cap, int timeout_ms);
/* Reads one whole response: headers, then Content-Length bytes of body.
 * Returns the bytes read (NUL-terminated), or -1 if it did not arrive
 * whole within timeout_ms. */
long pt_conn_read_response(int fd, char *out, size_t cap, int timeout_ms);
void pt_conn_close(int fd);

/* Lines of the file at path that contain needle (0 if it does not exist). */
int pt_file_count(const char *path, const char *needle);
/* Lines of the proxy's log (stdout and stderr) that contain needle. */
int pt_log_count(const pt_proxy_t *p, const char *needle);
/* Lines of DATA_DIR/audit.log that contain needle. */
int pt_audit_count(const pt_proxy_t *p, const char *needle);

/* Runs the zkfence-proxy binary with args (NULL-terminated, without
 * argv[0]) to completion, its output in out_path. Returns the exit status,
 * or -1 if it was still running after timeout_ms (it is then killed) or
 * died of a signal. */
int pt_proxy_run(const char *const *args, const char *out_path, int timeout_ms);

/* Number of regular files under dir/data/<sub> (recursively), excluding
 * bucket markers. */
int pt_count_files(const pt_proxy_t *p, const char *sub);
/* Staged writes of the running proxy: files in DATA_DIR/tmp, plus the
 * unnamed (O_TMPFILE) staging files it holds open there, which have no
 * name to count (seen in /proc/PID/fd as "DATA_DIR/tmp/#INODE (deleted)").
 * -1 when either cannot be read while the proxy runs. */
int pt_count_staged(const pt_proxy_t *p);

int64_t pt_now_ms(void);
/* Deadline for what should come within a request's round trip: generous
 * (30 s; 120 s when the suite runs under valgrind), since only a failing
 * test waits that long, and a busy machine can stall a proxy for seconds. */
int pt_soon_ms(void);
/* Polls cond every 5 ms until true or ms pass (a polling interval, not a
 * synchronisation sleep). */
#define PT_WAIT_UNTIL(cond, ms)                                                                    \
    ({                                                                                             \
        int64_t pt_deadline_ = pt_now_ms() + (ms);                                                 \
        int pt_ok_;                                                                                \
        while (!(pt_ok_ = !!(cond)) && pt_now_ms() < pt_deadline_)                                 \
            pt_poll_interval();                                                                    \
        pt_ok_;                                                                                    \
    })
void pt_poll_interval(void);

/* Runs the CUnit tests registered by the suite and returns the exit code. */
int pt_run_suite(const char *name, void (*add_tests)(void *suite));

#endif
