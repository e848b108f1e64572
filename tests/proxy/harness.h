/* Test harness for the zkfence-proxy suites: start a real zkfence-proxy
 * process on a free loopback port with its own temporary data directory,
 * wait for /_zkfence/health with a deadline, talk to it (libcurl, or raw
 * sockets for malformed input), stop it by PID, look at what reached
 * storage. Waiting is always on a condition with a deadline. */
#ifndef PT_HARNESS_H
#define PT_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct pt_proxy {
    pid_t pid;
    unsigned port;
    char dir[256];      /* temp dir: conf, log, data/ */
    char data_dir[300]; /* dir/data */
    char conf[300];
} pt_proxy_t;

/* Creates a temp dir and starts the proxy with `conf_extra` (lines
 * appended to the generated config; may be NULL) and the debug fault
 * endpoint on. Returns 0 when healthy, -1 (with the log printed) if not
 * within 20 s. */
int pt_proxy_start(pt_proxy_t *p, const char *conf_extra);
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

/* One request on a fresh connection. headers: NULL-terminated array of
 * "Name: value". body may be NULL. Returns 0 if a response arrived. */
int pt_http(const pt_proxy_t *p, const char *method, const char *path, const char *const *headers,
            const void *body, size_t len, pt_resp_t *out);
void pt_resp_free(pt_resp_t *r);
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

int64_t pt_now_ms(void);
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
