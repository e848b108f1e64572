/* The HTTP side: libmicrohttpd's epoll event loops (`io_threads` of
 * them), and a pool of `threads` workers for what blocks.
 *
 * Why: most requests never wait (reads come from the page cache, listings
 * from memory, a body's bytes go to the page cache), and an event loop
 * serves many connections per wake-up, where a thread per connection wakes
 * once per request (that switching was a quarter of the CPU on 4 KiB GETs).
 * But a write blocks: the object's fsync, the mark's group commit, the
 * directory's fsync. So the final step of every mutating request runs on
 * a worker: the loop suspends the connection and goes on with the others,
 * the worker executes the request, keeps its response, and resumes the
 * connection; the loop then queues the response. Many writes (of many
 * locks) so wait for their syncs at once, which is what lets the syncs of
 * concurrent requests batch.
 *
 * Two listeners may run side by side, each a libmicrohttpd daemon with the
 * same callbacks: plain HTTP (`listen`, loopback unless allowed otherwise)
 * and HTTPS (`tls_listen`, libmicrohttpd's GnuTLS).
 *
 * Connection life cycle: on_connection STARTED registers the connection
 * with the request-head deadline (http/headwatch.h) and, on HTTPS, takes
 * over its GnuTLS push (http/tlsjoin.h: a small response's head and body
 * in one send, armed by on_access when it queues one); CLOSED undoes
 * both.
 *
 * Request life cycle, as libmicrohttpd drives it:
 *   uri_log      request line read: allocate the context (http/reqctx.h),
 *                count in-flight
 *   on_access #1 headers read: the head deadline is met; check the framing
 *                and size (http/headcheck.h), classify (http/request.c),
 *                check repeated headers and metadata, authenticate and
 *                check rights (auth/), start the S3 operation
 *                (s3/dispatch.c: fencing precheck, staging)
 *   on_access #n body bytes (s3/body.c: streamed to the backend, never
 *                buffered whole)
 *   on_access #z body complete: execute (s3/dispatch.c) and respond
 *   on_completed response sent or connection lost: undo what is staged,
 *                record metrics, free; the deadline for the next head
 *                starts
 *
 * This file is the top of the proxy's core: it calls down into auth/ and
 * s3/, and nothing below calls it. */
#include "http/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "auth/auth.h"
#include "http/headcheck.h"
#include "http/headwatch.h"
#include "http/reqctx.h"
#include "http/respond.h"
#include "http/tls.h"
#include "http/tlsjoin.h"
#include "s3/body.h"
#include "s3/dispatch.h"
#include "s3/service.h"
#include "util/clock.h"
#include "util/workers.h"

/* One listener: the daemon, and what its callbacks need to know of it. */
typedef struct listener {
    struct zkp_server *srv;
    struct MHD_Daemon *daemon;
    int tls;
    int fd; /* the bound socket, until the daemon owns it; -1 if none */
    unsigned port;
} listener_t;

struct zkp_server {
    zkp_config_t cfg;
    zkp_service_t svc; /* backend, marks, audit log, metrics (s3/service.h) */
    zkp_auth_t *auth;  /* SigV4 and rights (auth/) */
    zkp_tls_pem_t pem; /* the HTTPS listener's certificate and key */
    listener_t plain, tls;
    zkp_headwatch_t *headwatch;
    zkp_workers_t *workers; /* the blocking part of writes */
    atomic_int stopping;    /* zkp_server_stop has begun: refuse new requests */
    atomic_uint_least64_t next_request_id;
    pthread_mutex_t idle_mu; /* with idle_cv: shutdown waits for metrics.inflight == 0 */
    pthread_cond_t idle_cv;
};

/* 1 if the client connected from 127.0.0.0/8. */
static int peer_is_loopback(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci == NULL || ci->client_addr == NULL || ci->client_addr->sa_family != AF_INET)
        return 0;
    const struct sockaddr_in *a = (const struct sockaddr_in *)ci->client_addr;
    return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
}

/* A connection's own state, its socket context: its entry in the head
 * deadline watch, and on HTTPS the joining of heads and bodies
 * (http/tlsjoin.h). Either may be NULL (out of memory). */
typedef struct conn_ctx {
    zkp_headwatch_conn_t *watch;
    zkp_tlsjoin_t *join;
} conn_ctx_t;

static conn_ctx_t *conn_ctx(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci != NULL ? ci->socket_context : NULL;
}

static zkp_headwatch_conn_t *watched(struct MHD_Connection *conn)
{
    conn_ctx_t *c = conn_ctx(conn);
    return c != NULL ? c->watch : NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    listener_t *l = cls;
    zkp_headwatch_t *w = l->srv->headwatch;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        conn_ctx_t *c = ci != NULL ? calloc(1, sizeof(*c)) : NULL;
        *socket_context = c;
        if (c == NULL)
            return;
        int fd = ci->connect_fd;
        c->watch = zkp_headwatch_add(w, fd);
        const union MHD_ConnectionInfo *ti =
            l->tls ? MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION) : NULL;
        if (ti != NULL && ti->tls_session != NULL)
            c->join = zkp_tlsjoin_attach(ti->tls_session, fd);
    } else {
        /* Before libmicrohttpd closes the descriptor: the watch never
         * touches a number that a new connection may get next. */
        conn_ctx_t *c = *socket_context;
        if (c != NULL) {
            zkp_headwatch_remove(w, c->watch);
            zkp_tlsjoin_detach(c->join);
            free(c);
        }
        *socket_context = NULL;
    }
}

/* Once zkp_server_stop has begun, a connection that arrives is closed at
 * once, before a byte of it is read: the proxy takes no new work. (This
 * stands in for MHD_quiesce_daemon, which races its own event loops in
 * libmicrohttpd 0.9.75's epoll mode: both remove the listening socket
 * from the epoll set, and the loser aborts the process with "Failed to
 * remove listen FD from epoll set".) */
static enum MHD_Result accept_policy(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    const listener_t *l = cls;
    (void)addr;
    (void)addrlen;
    return atomic_load(&l->srv->stopping) ? MHD_NO : MHD_YES;
}

static void *uri_log(void *cls, const char *uri, struct MHD_Connection *conn)
{
    listener_t *l = cls;
    zkp_server_t *s = l->srv;
    zkp_req_t *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->srv = s;
    r->tls = l->tls;
    r->peer_loopback = peer_is_loopback(conn);
    r->svc = &s->svc;
    r->stopping = &s->stopping;
    r->conn = conn;
    r->target = strdup(uri ? uri : "/");
    r->t0_us = zkp_now_us();
    uint64_t id = atomic_fetch_add(&s->next_request_id, 1);
    snprintf(r->request_id, sizeof(r->request_id), "%016" PRIX64, id);
    atomic_fetch_add(&s->svc.metrics.inflight, 1);
    return r;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    listener_t *l = cls;
    zkp_server_t *s = l->srv;
    zkp_req_t *r = *con_cls;
    (void)toe;
    /* The next request's head is awaited from now on (if the connection
     * stays open). */
    zkp_headwatch_arm(s->headwatch, watched(conn));
    if (r == NULL)
        return;
    /* A body cut short (client gone, timeout) never reached the final call:
     * its staged put is discarded here, so nothing of it is stored. */
    zkp_body_cleanup(r);
    if (r->kept != NULL)
        MHD_destroy_response(r->kept); /* the client went before the worker's answer */
    zkp_metrics_request(&s->svc.metrics, r->op.kind, r->status, zkp_now_us() - r->t0_us);
    zkp_req_auth_end(&r->auth);
    zkp_req_headers_free(r);
    zkp_op_free(&r->op);
    free(r->target);
    free(r);
    *con_cls = NULL;
    pthread_mutex_lock(&s->idle_mu);
    if (atomic_fetch_sub(&s->svc.metrics.inflight, 1) == 1)
        pthread_cond_broadcast(&s->idle_cv);
    pthread_mutex_unlock(&s->idle_mu);
}

/* --- request start ---------------------------------------------------------- */

static int classify(zkp_req_t *r)
{
    /* Virtual-hosted style: a Host under one of the configured domains
     * names the bucket. */
    char vb[ZKP_BUCKET_MAX + 1];
    const char *domains[ZKP_DOMAINS_MAX];
    for (size_t i = 0; i < r->srv->cfg.ndomains; i++)
        domains[i] = r->srv->cfg.domains[i];
    int vh = zkp_vhost_choose(zkp_req_header(r, "Host"), domains, r->srv->cfg.ndomains, vb);
    if (vh < 0) {
        memset(&r->op, 0, sizeof(r->op));
        r->op.status = 400;
        r->op.err_code = "InvalidBucketName";
        r->op.err_msg = "The specified bucket is not valid (the Host header's bucket, "
                        "virtual-hosted style)";
        return -1;
    }
    zkp_request_in_t in = {
        .vhost_bucket = vh == 1 ? vb : NULL,
        .method = r->method,
        .target = r->target,
        .copy_source = zkp_req_header(r, "x-amz-copy-source"),
        .copy_source_range = zkp_req_header(r, "x-amz-copy-source-range"),
        .fencing_lock = zkp_req_header(r, "X-Fencing-Lock"),
        .fencing_token = zkp_req_header(r, "X-Fencing-Token"),
        .meta_fencing_lock = zkp_req_header(r, "x-amz-meta-fencing-lock"),
        .meta_fencing_token = zkp_req_header(r, "x-amz-meta-fencing-token"),
        .max_key_bytes = r->srv->cfg.max_key_bytes,
    };
    return zkp_request_classify(&in, &r->op);
}

static enum MHD_Result refuse_head(zkp_req_t *r, const zkp_head_verdict_t *v)
{
    r->close_conn = v->close;
    return zkp_respond_error(r, v->status, v->code, v->msg);
}

static enum MHD_Result refuse_auth(zkp_req_t *r, zkp_auth_refusal_t *why)
{
    atomic_fetch_add(&r->srv->svc.metrics.auth_refused, 1);
    enum MHD_Result res =
        zkp_respond_error_x(r, why->status, why->code, why->msg, why->extra, why->nextra);
    zkp_auth_refusal_free(why);
    return res;
}

static enum MHD_Result start(zkp_req_t *r)
{
    if (zkp_req_collect_headers(r) != 0)
        return MHD_NO; /* out of memory: close */
    zkp_head_verdict_t v;
    size_t line = strlen(r->target) + strlen(r->method);
    if (zkp_head_check_framing(r->hdrs.v, r->hdrs.n, line, r->srv->cfg.max_header_bytes, &v) != 0)
        return refuse_head(r, &v);
    if (classify(r) != 0) {
        zkp_op_kind_t kind = r->op.kind;
        enum MHD_Result res = zkp_respond_error(r, r->op.status, r->op.err_code, r->op.err_msg);
        r->op.kind = kind;
        return res;
    }
    if (zkp_head_check_headers(r->hdrs.v, r->hdrs.n, zkp_op_stores_metadata(r->op.kind), &v) != 0)
        return refuse_head(r, &v);
    zkp_op_kind_t k = r->op.kind;
    if (zkp_head_check_features(r->hdrs.v, r->hdrs.n,
                                zkp_op_stores_metadata(k) || k == ZKP_OP_CREATE_MULTIPART_UPLOAD,
                                k == ZKP_OP_CREATE_BUCKET, &v) != 0)
        return refuse_head(r, &v);
    zkp_auth_refusal_t why;
    if (zkp_auth_check(r->srv->auth, r, &why) != 0)
        return refuse_auth(r, &why);
    enum MHD_Result res = MHD_YES;
    if (zkp_s3_start(r, &res) != 0)
        return res;
    return MHD_YES; /* read the body (if any), then the final call executes */
}

/* On a worker: executes the request, then wakes its connection. */
static void run_job(zkp_job_t *job)
{
    zkp_req_t *r = (zkp_req_t *)((char *)job - offsetof(zkp_req_t, job));
    r->deferring = 1;
    r->job_rc = zkp_s3_execute(r);
    r->deferring = 0;
    r->job_state = ZKP_JOB_DONE;
    MHD_resume_connection(r->conn); /* libmicrohttpd calls on_access again */
}

/* Back on the event loop after the worker: queue what it decided. */
static enum MHD_Result deliver(zkp_req_t *r)
{
    struct MHD_Response *resp = r->kept;
    r->kept = NULL;
    if (resp == NULL)
        return MHD_NO; /* execute gave up (out of memory): close */
    enum MHD_Result rc = MHD_NO;
    if (r->job_rc == MHD_YES)
        rc = MHD_queue_response(r->conn, (unsigned)r->kept_status, resp);
    MHD_destroy_response(resp);
    if (rc == MHD_YES)
        r->queued_mem_body = r->kept_mem_body;
    r->kept_mem_body = 0;
    return rc;
}

/* Whether the client of a plain-HTTP request with a Content-Length body has
 * closed its side before sending the whole body, after a piece of `got`
 * bytes. libmicrohttpd (0.9.75, edge-triggered epoll) takes a read shorter
 * than it asked for as "the socket is drained" and waits for the next
 * readiness edge; a FIN that came right behind the data was in that same
 * edge, so the connection, its staging file and its slot of the per-address
 * cap stayed until connection_timeout_s. A short piece is the moment to
 * look: a peek without waiting, which sees the end of the stream only when
 * nothing is left to read. Over TLS, GnuTLS may hold records the socket no
 * longer has, and a chunked body's end is libmicrohttpd's to find: neither
 * is judged here. */
static int peer_gone(zkp_req_t *r, size_t got)
{
    r->raw_in += got;
    if (got >= r->raw_piece_max) {
        r->raw_piece_max = got;
        return 0;
    }
    if (r->tls || zkp_req_header(r, "Transfer-Encoding") != NULL)
        return 0;
    const char *cl = zkp_req_header(r, "Content-Length");
    char *end;
    errno = 0;
    unsigned long long want = cl != NULL ? strtoull(cl, &end, 10) : 0;
    if (cl == NULL || errno != 0 || *end != '\0' || r->raw_in >= want)
        return 0;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    char c;
    return ci != NULL && recv(ci->connect_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

static enum MHD_Result handle(struct MHD_Connection *conn, const char *url, const char *method,
                              const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
    (void)url; /* already unescaped by MHD; we classify the raw target instead */
    (void)version;
    zkp_req_t *r = *con_cls;
    if (r == NULL || r->target == NULL)
        return MHD_NO;
    if (!r->started) {
        r->started = 1;
        r->conn = conn;
        r->method = method;
        zkp_headwatch_disarm(watched(conn)); /* the head is in */
        if (atomic_load(&r->srv->stopping))
            /* A new request on a kept-alive connection during shutdown:
             * refused before its body, so that the requests in progress
             * can finish and the connections close (zkp_respond). */
            return zkp_respond_error(r, 503, "ServiceUnavailable",
                                     "The proxy is shutting down; retry against another instance "
                                     "or after its restart");
        return start(r);
    }
    if (*upload_data_size > 0) {
        size_t got = *upload_data_size;
        zkp_body_feed(r, upload_data, got);
        *upload_data_size = 0;
        return zkp_body_should_hang_up(r) || peer_gone(r, got) ? MHD_NO : MHD_YES;
    }
    if (r->job_state == ZKP_JOB_DONE)
        return deliver(r);
    if (r->job_state == ZKP_JOB_NONE && zkp_s3_blocks(r)) {
        r->job_state = ZKP_JOB_RUNNING;
        r->job.fn = run_job;
        MHD_suspend_connection(conn);
        if (zkp_workers_submit(r->srv->workers, &r->job) != 0)
            run_job(&r->job); /* the pool has closed (shutdown): here, then resume */
        return MHD_YES;
    }
    return zkp_s3_execute(r);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    const listener_t *l = cls;
    enum MHD_Result rc = handle(conn, url, method, version, upload_data, upload_data_size, con_cls);
    zkp_req_t *r = *con_cls;
    /* A response with its body in memory was queued in this call, by
     * zkp_respond or by deliver (queued_mem_body is set only there, from
     * the very response queued): on HTTPS its head and body go out in one
     * send (http/tlsjoin.h). Arming for any other response could hold a
     * head that no body push follows. */
    if (r != NULL && r->queued_mem_body > 0) {
        conn_ctx_t *c = l->tls && rc == MHD_YES ? conn_ctx(conn) : NULL;
        if (c != NULL)
            zkp_tlsjoin_arm(c->join, r->queued_mem_body);
        r->queued_mem_body = 0;
    }
    return rc;
}

/* --- start and stop ----------------------------------------------------------- */

/* marks_db and audit_log default to files in data_dir. */
static int resolve_paths(zkp_config_t *c)
{
    if (c->audit_log == NULL && asprintf(&c->audit_log, "%s/audit.log", c->data_dir) < 0)
        c->audit_log = NULL;
    if (c->marks_db == NULL && asprintf(&c->marks_db, "%s/marks.db", c->data_dir) < 0)
        c->marks_db = NULL;
    return c->audit_log && c->marks_db ? 0 : -1;
}

/* Binds and listens on host:port, before anything else is created: a port
 * in use, an address that is not this machine's or a privileged port stops
 * the start-up with a message that names the address and what to do, and
 * the data directory stays untouched. SO_REUSEADDR as libmicrohttpd sets
 * it (a restart does not wait out TIME_WAIT), and no SO_REUSEPORT: a second
 * proxy on the same port would then silently share the traffic while
 * serving other data. Binding must fail instead. */
static int bind_listener(listener_t *l, const char *host, unsigned port, char *err, size_t errlen)
{
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, host, &sin.sin_addr);
    const char *what = l->tls ? "tls_listen" : "listen";
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int on = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0) {
        snprintf(err, errlen, "%s %s:%u: cannot create a socket: %s", what, host, port,
                 strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 || listen(fd, SOMAXCONN) != 0) {
        int e = errno;
        const char *hint = e == EADDRINUSE      ? "another process listens there: stop it, or "
                                                  "choose another port"
                           : e == EADDRNOTAVAIL ? "not an address of this machine: choose one "
                                                  "of its own (ip -4 addr)"
                           : e == EACCES        ? "ports below 1024 need privileges: choose a "
                                                  "port above 1023"
                                                : "choose another address";
        snprintf(err, errlen, "cannot listen on %s:%u (%s = %s:%u): %s; %s", host, port, what, host,
                 port, strerror(e), hint);
        close(fd);
        return -1;
    }
    struct sockaddr_in bound;
    socklen_t blen = sizeof(bound);
    l->port = port;
    if (getsockname(fd, (struct sockaddr *)&bound, &blen) == 0)
        l->port = ntohs(bound.sin_port);
    l->fd = fd;
    return 0;
}

/* Starts libmicrohttpd on the socket bind_listener bound; the daemon owns
 * the socket from here on (it closes it when it stops). */
static int start_daemon(zkp_server_t *s, listener_t *l, char *err, size_t errlen)
{
    l->srv = s;
    /* Headers beyond max_header_bytes get our own 431 (S3 XML); MHD's pool
     * must be larger than that (by 16 KiB: a head up to that much over the
     * limit still reaches us; beyond, MHD answers its own 431), and leaves
     * the rest as body read buffer. No larger: libmicrohttpd zeroes the
     * whole pool between requests on a connection (MHD_pool_reset), which
     * was 9% of a 4 KiB GET's CPU at 64 KiB (perf, 2026-12-07) and 6% at
     * 128 KiB of read buffer before that; at the default 32 KiB it is half
     * of that, and a 1 MiB body still arrives in about 40 reads. */
    size_t pool = s->cfg.max_header_bytes + 16 * 1024;
    unsigned loops = s->cfg.io_threads;
    if (loops == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        loops = cpus <= 0 ? 2 : cpus > 64 ? 64 : (unsigned)cpus;
    }
    /* ITC: resume and quiesce from other threads wake the loops. With TLS,
     * libmicrohttpd cannot use sendfile: it reads a file response into its
     * buffer and sends it through GnuTLS, piece by piece, so large GETs
     * still stream. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
                     MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG | (l->tls ? MHD_USE_TLS : 0);
    struct MHD_OptionItem tls_opts[] = {
        {l->tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, s->pem.key},
        {MHD_OPTION_HTTPS_MEM_CERT, 0, s->pem.cert},
        {MHD_OPTION_END, 0, NULL},
    };
    l->daemon = MHD_start_daemon(
        flags, 0, accept_policy, l, on_access, l, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)l->fd,
        MHD_OPTION_URI_LOG_CALLBACK, uri_log, l, MHD_OPTION_NOTIFY_COMPLETED, on_completed, l,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, l, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned int)s->cfg.connection_timeout_s, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned int)s->cfg.max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned int)s->cfg.max_connections_per_ip, MHD_OPTION_THREAD_POOL_SIZE,
        loops > 1 ? loops : 0, MHD_OPTION_CONNECTION_MEMORY_LIMIT, pool, MHD_OPTION_ARRAY, tls_opts,
        MHD_OPTION_END);
    /* The daemon owns the socket now; if it did not start, whether
     * libmicrohttpd closed it depends on where it failed, so the socket is
     * left to the process's exit rather than risk closing it twice. */
    l->fd = -1;
    if (l->daemon == NULL) {
        snprintf(err, errlen,
                 "cannot start the HTTP%s server on port %u (libmicrohttpd said why "
                 "above)",
                 l->tls ? "S" : "", l->port);
        return -1;
    }
    return 0;
}

static void destroy(zkp_server_t *s)
{
    if (s->plain.fd >= 0)
        close(s->plain.fd);
    if (s->tls.fd >= 0)
        close(s->tls.fd);
    zkp_workers_free(s->workers);
    zkp_headwatch_stop(s->headwatch);
    zkp_service_close(&s->svc);
    zkp_auth_close(s->auth);
    zkp_tls_pem_free(&s->pem);
    pthread_cond_destroy(&s->idle_cv);
    pthread_mutex_destroy(&s->idle_mu);
    zkp_config_free(&s->cfg);
    free(s);
}

/* What the configuration names outside the data directory: checked first,
 * so that a configuration error touches nothing. */
static int open_config_files(zkp_server_t *s, char *err, size_t errlen)
{
    if (zkp_config_check(&s->cfg, err, errlen) != 0 ||
        zkp_auth_open(&s->cfg, &s->auth, err, errlen) != 0)
        return -1;
    if (s->cfg.tls_listen_host[0] != '\0') {
        if (!MHD_is_feature_supported(MHD_FEATURE_TLS)) {
            snprintf(err, errlen, "tls_listen: this libmicrohttpd was built without TLS");
            return -1;
        }
        if (zkp_tls_load(s->cfg.tls_cert, s->cfg.tls_key, &s->pem, err, errlen) != 0)
            return -1;
    }
    return 0;
}

static int bind_listeners(zkp_server_t *s, char *err, size_t errlen)
{
    s->tls.tls = 1;
    if (s->cfg.listen_host[0] != '\0' &&
        bind_listener(&s->plain, s->cfg.listen_host, s->cfg.listen_port, err, errlen) != 0)
        return -1;
    if (s->cfg.tls_listen_host[0] != '\0' &&
        bind_listener(&s->tls, s->cfg.tls_listen_host, s->cfg.tls_listen_port, err, errlen) != 0)
        return -1;
    return 0;
}

static int start_listeners(zkp_server_t *s, char *err, size_t errlen)
{
    if (s->plain.fd >= 0 && start_daemon(s, &s->plain, err, errlen) != 0)
        return -1;
    if (s->tls.fd >= 0 && start_daemon(s, &s->tls, err, errlen) != 0) {
        if (s->plain.daemon != NULL)
            MHD_stop_daemon(s->plain.daemon);
        s->plain.daemon = NULL;
        return -1;
    }
    return 0;
}

int zkp_server_start(const zkp_config_t *cfg, zkp_server_t **out, char *err, size_t errlen)
{
    zkp_server_t *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    s->plain.fd = s->tls.fd = -1;
    pthread_mutex_init(&s->idle_mu, NULL);
    pthread_cond_init(&s->idle_cv, NULL);
    atomic_store(&s->next_request_id, ((uint64_t)time(NULL) << 24));
    if (zkp_config_copy(&s->cfg, cfg) != 0 || resolve_paths(&s->cfg) != 0) {
        snprintf(err, errlen, "out of memory");
        destroy(s);
        return -1;
    }
    if (open_config_files(s, err, errlen) != 0) {
        destroy(s);
        return ZKP_FAIL_CONFIG;
    }
    /* The ports first: nothing is created in the data directory by a proxy
     * that cannot serve (a port in use, a wrong address). */
    if (bind_listeners(s, err, errlen) != 0)
        goto fail;
    int rc = zkp_service_open(&s->svc, &s->cfg, err, errlen);
    if (rc != 0) {
        destroy(s);
        return rc;
    }
    if (zkp_workers_start(s->cfg.threads, &s->workers) != 0) {
        snprintf(err, errlen, "cannot start %u worker threads", s->cfg.threads);
        goto fail;
    }
    if (zkp_headwatch_start(s->cfg.request_head_timeout_s, &s->svc.metrics.head_timeouts,
                            &s->headwatch) != 0) {
        snprintf(err, errlen, "cannot start the request-head deadline's thread");
        goto fail;
    }
    if (start_listeners(s, err, errlen) != 0)
        goto fail;
    *out = s;
    return 0;
fail:
    destroy(s);
    return -1;
}

unsigned zkp_server_port(const zkp_server_t *s)
{
    return s->plain.daemon != NULL ? s->plain.port : 0;
}

unsigned zkp_server_tls_port(const zkp_server_t *s)
{
    return s->tls.daemon != NULL ? s->tls.port : 0;
}

int zkp_server_reopen_logs(zkp_server_t *s)
{
    return s != NULL && zkp_service_reopen_logs(&s->svc) != 0 ? -1 : 0;
}

int zkp_server_reload(zkp_server_t *s, char *msg, size_t msglen)
{
    return zkp_auth_reload(s->auth, msg, msglen);
}

/* Waits until no request is in progress, or seconds have passed. */
static void wait_idle(zkp_server_t *s, unsigned seconds)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += seconds;
    pthread_mutex_lock(&s->idle_mu);
    while (atomic_load(&s->svc.metrics.inflight) > 0)
        if (pthread_cond_timedwait(&s->idle_cv, &s->idle_mu, &deadline) != 0)
            break;
    pthread_mutex_unlock(&s->idle_mu);
}

void zkp_server_stop(zkp_server_t *s)
{
    if (s == NULL)
        return;
    /* Stop accepting (accept_policy closes what arrives), let requests in
     * progress finish, then tear down: no write is cut between its mark
     * and its commit by our own exit. From here on, a new request on an
     * open connection gets 503, and every response closes its
     * connection. */
    atomic_store(&s->stopping, 1);
    wait_idle(s, (unsigned)s->cfg.shutdown_grace_s);
    /* Past the grace period, writes may still be on workers: let them end
     * (a write is never cut between its mark and its commit). A write
     * whose body ends after this runs on its event loop instead. Then give
     * the loops a moment to send the answers of those that ended, before
     * the daemon closes every connection and its listening socket. */
    zkp_workers_close(s->workers);
    wait_idle(s, 2);
    listener_t *ls[] = {&s->plain, &s->tls};
    for (int i = 0; i < 2; i++)
        if (ls[i]->daemon != NULL)
            MHD_stop_daemon(ls[i]->daemon);
    destroy(s);
}
