/* HTTP transfers to an upstream S3 endpoint: one libcurl multi handle,
 * driven by one thread of its own (the transfer thread), that every
 * request of the backend goes through. Why one multi handle: its
 * connection cache keeps connections to the upstream alive and reuses them
 * across requests and threads, and one thread moves the bytes of every
 * transfer without tying up a worker per streaming GET.
 *
 * A caller builds a transfer (zkp_xfer_new: method, URL, headers, an
 * optional body read from a file descriptor), submits it, and then either
 * waits (zkp_xfer_wait: until the response's headers arrived, or until it
 * ended) or reads its body as it arrives (zkp_xfer_read, which never
 * waits). A body streamed to a reader is held in a bounded buffer: when it
 * is full the transfer is paused (nothing more is read from the upstream's
 * socket) until the reader has taken enough of it: backpressure from the
 * client to the upstream.
 *
 * Thread safety: the engine and each transfer may be used from any thread;
 * a transfer's read side by one thread at a time. */
#ifndef ZKP_S3_TRANSFER_H
#define ZKP_S3_TRANSFER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct zkp_engine zkp_engine_t;
typedef struct zkp_xfer zkp_xfer_t;

typedef struct zkp_engine_options {
    const char *ca_file;        /* NULL or "": the system's CA bundle */
    unsigned timeout_s;         /* a request without progress this long fails */
    unsigned connect_timeout_s; /* connecting (and TLS) */
} zkp_engine_options_t;

/* Starts the transfer thread. Returns 0, or -1 with a message in err. */
int zkp_engine_start(const zkp_engine_options_t *o, zkp_engine_t **out, char *err, size_t errlen);
/* Cancels every transfer still running, stops the thread and frees the
 * engine. Transfers still held by callers stay valid until released (they
 * end with an error). NULL is a no-op. */
void zkp_engine_stop(zkp_engine_t *e);

/* A request body: len bytes at mem when mem != NULL (the caller's, kept
 * until the transfer ended), else read from fd from offset 0 (pread: the
 * descriptor stays the caller's). */
typedef struct zkp_xfer_body {
    int fd;
    const void *mem;
    uint64_t len;
} zkp_xfer_body_t;

/* A new transfer (not yet submitted). headers: "Name: value" lines, copied.
 * body: the request body (copied, not its bytes), or NULL: none. HEAD
 * requests (method "HEAD") expect no response body. stream: 1 to read a
 * 2xx response's body with zkp_xfer_read; 0 to collect it (up to 1 MiB;
 * more is an error) for zkp_xfer_body. Returns NULL on OOM. */
zkp_xfer_t *zkp_xfer_new(zkp_engine_t *e, const char *method, const char *url,
                         const char *const *headers, size_t nheaders, const zkp_xfer_body_t *body,
                         int stream);
/* Hands the transfer to the transfer thread. 0, or -1 if the engine has
 * stopped (the transfer then ends at once with an error). */
int zkp_xfer_submit(zkp_xfer_t *x);

/* Waits until the response's status and headers have arrived (for a
 * non-2xx answer, or a collected body: until the transfer ended), or the
 * transfer failed. */
void zkp_xfer_wait_headers(zkp_xfer_t *x);
/* Waits until the transfer ended. */
void zkp_xfer_wait(zkp_xfer_t *x);

/* After a wait: 0 if an HTTP answer arrived (its status in *status), or
 * -1 if the transfer failed (connection, timeout, TLS, cancelled) with
 * libcurl's reason in why. A streamed body may still fail later (read). */
int zkp_xfer_result(zkp_xfer_t *x, long *status, char *why, size_t whylen);
/* The value of a response header (first of that name, case-insensitive),
 * or NULL. Valid until the transfer is released. After wait_headers. */
const char *zkp_xfer_header(zkp_xfer_t *x, const char *name);
/* Calls fn for every response header, in order. After wait_headers. */
void zkp_xfer_headers(zkp_xfer_t *x, void (*fn)(void *arg, const char *name, const char *value),
                      void *arg);
/* The collected body (stream = 0, or a non-2xx answer), NUL-terminated;
 * *len its length. After zkp_xfer_wait. */
const char *zkp_xfer_body(zkp_xfer_t *x, size_t *len);

/* Streamed body: copies up to len bytes. Returns the count, 0 at the end
 * of a complete body, -1 if the transfer failed or the body is shorter
 * than its Content-Length, or ZKP_XFER_AGAIN when nothing is buffered yet:
 * then, if set, on_wait was called (under the transfer's lock, before
 * returning) and on_ready will be called, once, from the transfer thread
 * when the reader can make progress: 64 KiB buffered, the body's last
 * byte, or the transfer's end (a batch, not each piece libcurl hands
 * over: fewer wake-ups of the reader's loop). Never waits. */
#define ZKP_XFER_AGAIN (-2)
ssize_t zkp_xfer_read(zkp_xfer_t *x, void *buf, size_t len);
void zkp_xfer_set_notify(zkp_xfer_t *x, void (*on_wait)(void *), void (*on_ready)(void *),
                         void *arg);

/* Drops the caller's hold: a transfer still running is cancelled (its
 * connection closed). NULL is a no-op. */
void zkp_xfer_release(zkp_xfer_t *x);

#endif
