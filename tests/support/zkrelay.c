/* A fault-injecting ZooKeeper relay for tests: see zkrelay.h.
 *
 * One thread polls the listening socket, a wake-up pipe and every
 * connection pair. Client-to-server bytes are parsed into frames so that
 * create requests can be recognised; server-to-client bytes are copied
 * through as they come, and parsed on the side (frame headers only) for
 * the trace. Faults are requested from other threads under the mutex and
 * applied by the relay thread. */
#include "zkrelay.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_PAIRS 64
#define BUF 65536
#define TRACE_MAX 4096
#define DRAIN_MAX_MS 30000

enum { OP_CREATE = 1, OP_CREATE2 = 15, OP_CREATE_CONTAINER = 19, OP_CREATE_TTL = 21 };

/* A parser of server -> client frames: header bytes of the current frame
 * (length, xid), and how much of its body is still to skip. */
typedef struct frames {
    int handshake; /* the ConnectResponse frame has been seen */
    unsigned char hdr[8];
    size_t have;
    size_t skip;
} frames_t;

typedef struct pair {
    int cfd, sfd;          /* client side, server side; -1 when closed */
    int handshake;         /* the ConnectRequest frame has been seen */
    int silent;            /* blackholed: no server side; read and discard */
    int muted;             /* silenced: both sides open, both read and discarded */
    unsigned char up[BUF]; /* client -> server bytes not yet forwarded */
    size_t uplen;
    unsigned char down[BUF]; /* server -> client bytes held back (zkrelay_hold_replies) */
    size_t downlen;
    frames_t down_frames; /* server -> client frames, for the trace */
} pair_t;

/* The server side of a pair cut after a create: kept open, read and
 * discarded, until the create's own reply arrives (or the server closes).
 * Closing earlier, even with a half-close, lets the server see the line go
 * while the create is still in its pipeline, and ZooKeeper drops requests
 * of a closed connection (zk_stale_requests): the create would then not
 * be applied at all, which is not the fault asked for. The same happens
 * when the client's reconnect reaches the server first (the session moves
 * to the new connection, and the old one's requests go stale): so no new
 * connection is accepted while a drain is pending. */
typedef struct drain {
    int fd; /* -1: free */
    int xid;
    int done;      /* the reply to xid has been read */
    int64_t until; /* given up then (a server that never answers) */
    frames_t frames;
} drain_t;

struct zkrelay {
    pthread_mutex_t mu;
    pthread_t thread;
    int lfd;
    int wake[2];
    int port;
    struct sockaddr_storage upstream;
    socklen_t upstream_len;
    pair_t pairs[MAX_PAIRS];
    drain_t draining[MAX_PAIRS]; /* server sides of pairs cut after a create */
    /* requests and counters, under mu */
    int stop;
    int drop_creates;
    int disconnect_req;
    int blackhole;
    int silence;
    int hold;
    int cut_creates;
    int creates_seen;
    int connections;
    char last_create_path[1024];
    int64_t last_reply_ms;
    int tracing;
    size_t trace_len;
    zkrelay_frame_t trace[TRACE_MAX];
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint32_t be32(const unsigned char *b)
{
    uint32_t v;
    memcpy(&v, b, 4);
    return ntohl(v);
}

/* Appends to the trace (r->mu held). */
static void trace_add(zkrelay_t *r, int dir, int xid, int type)
{
    if (!r->tracing || r->trace_len == TRACE_MAX)
        return;
    r->trace[r->trace_len++] = (zkrelay_frame_t){dir, xid, type, now_ms()};
}

/* Follows the server's frames through a chunk of forwarded bytes and
 * traces each reply's xid. The first frame is the ConnectResponse, which
 * has no reply header. */
/* Feeds server -> client bytes to f; calls on_reply(arg, xid) for each
 * reply header (not for the ConnectResponse). */
static void frames_feed(frames_t *f, const unsigned char *b, size_t n,
                        void (*on_reply)(void *, int), void *arg)
{
    while (n > 0) {
        if (f->skip > 0) {
            size_t k = n < f->skip ? n : f->skip;
            f->skip -= k;
            b += k;
            n -= k;
            continue;
        }
        size_t want = f->handshake ? 8 : 4;
        size_t k = want - f->have < n ? want - f->have : n;
        memcpy(f->hdr + f->have, b, k);
        f->have += k;
        b += k;
        n -= k;
        if (f->have < want)
            break;
        uint32_t len = be32(f->hdr);
        f->have = 0;
        if (!f->handshake) {
            f->handshake = 1;
            f->skip = len;
            continue;
        }
        f->skip = len >= 4 ? len - 4 : 0;
        on_reply(arg, (int)be32(f->hdr + 4));
    }
}

static void trace_reply(void *arg, int xid)
{
    zkrelay_t *r = arg;
    pthread_mutex_lock(&r->mu);
    trace_add(r, ZKRELAY_DOWN, xid, 0);
    pthread_mutex_unlock(&r->mu);
}

static void parse_down(zkrelay_t *r, pair_t *p, const unsigned char *b, size_t n)
{
    frames_feed(&p->down_frames, b, n, trace_reply, r);
}

static void drain_reply(void *arg, int xid)
{
    drain_t *d = arg;
    if (xid == d->xid)
        d->done = 1;
}

/* Feeds a drained connection's bytes; closes it once the create's reply
 * has come. */
static void drain_feed(drain_t *d, const unsigned char *b, size_t n)
{
    frames_feed(&d->frames, b, n, drain_reply, d);
    if (d->done) {
        close(d->fd);
        d->fd = -1;
    }
}

static void poke(zkrelay_t *r)
{
    char b = 1;
    if (write(r->wake[1], &b, 1) < 0) {
        /* the pipe is full: the thread is awake already */
    }
}

static void close_pair(pair_t *p)
{
    if (p->cfd >= 0)
        close(p->cfd);
    if (p->sfd >= 0)
        close(p->sfd);
    p->cfd = p->sfd = -1;
    p->uplen = 0;
    p->downlen = 0;
    p->muted = 0;
}

static int write_all(int fd, const unsigned char *b, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd pf = {fd, POLLOUT, 0};
            poll(&pf, 1, 1000);
            continue;
        }
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Forwards every complete client frame; applies the create fault. Returns
 * -1 when the pair must be closed. */
static int pump_up(zkrelay_t *r, pair_t *p)
{
    size_t off = 0;
    while (p->uplen - off >= 4) {
        uint32_t len;
        memcpy(&len, p->up + off, 4);
        len = ntohl(len);
        if (len > BUF - 4)
            return -1; /* not ZooKeeper, or a frame too large for the relay */
        if (p->uplen - off < 4 + (size_t)len)
            break;
        int type = 0, xid = 0;
        if (p->handshake && len >= 8) {
            xid = (int)be32(p->up + off + 4);
            type = (int)be32(p->up + off + 8);
        }
        int is_create = type == OP_CREATE || type == OP_CREATE2 || type == OP_CREATE_CONTAINER ||
                        type == OP_CREATE_TTL;
        int cut = 0;
        pthread_mutex_lock(&r->mu);
        if (is_create && len >= 12) {
            /* CreateRequest: the path (int32 length + bytes) comes first. */
            uint32_t plen = be32(p->up + off + 12);
            if (plen < sizeof(r->last_create_path) && 16 + (size_t)plen <= 4 + (size_t)len) {
                memcpy(r->last_create_path, p->up + off + 16, plen);
                r->last_create_path[plen] = '\0';
            }
            if (r->cut_creates > 0) {
                r->cut_creates--;
                r->blackhole = 1; /* reconnects find silence until the test lifts it */
                cut = 1;
            }
        }
        if (p->handshake && !cut)
            trace_add(r, ZKRELAY_UP, xid, type);
        pthread_mutex_unlock(&r->mu);
        if (cut)
            return -1; /* this request and everything after it never reach the server */
        if (write_all(p->sfd, p->up + off, 4 + (size_t)len) != 0)
            return -1;
        off += 4 + (size_t)len;
        p->handshake = 1;
        if (is_create) {
            pthread_mutex_lock(&r->mu);
            r->creates_seen++;
            int drop = r->drop_creates > 0;
            if (drop)
                r->drop_creates--;
            pthread_mutex_unlock(&r->mu);
            if (drop) {
                /* The client side goes now, so the reply is lost; the
                 * server side stays until the create is answered (drain_t),
                 * behind whatever replies the server still owed. */
                for (int i = 0; i < MAX_PAIRS; i++) {
                    drain_t *d = &r->draining[i];
                    if (d->fd < 0) {
                        *d = (drain_t){p->sfd, xid, 0, now_ms() + DRAIN_MAX_MS, p->down_frames};
                        p->sfd = -1;
                        drain_feed(d, p->down, p->downlen);
                        p->downlen = 0;
                        break;
                    }
                }
                return -1;
            }
        }
    }
    memmove(p->up, p->up + off, p->uplen - off);
    p->uplen -= off;
    return 0;
}

static int connect_upstream(zkrelay_t *r)
{
    int fd = socket(r->upstream.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&r->upstream, r->upstream_len) != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static void accept_one(zkrelay_t *r, int blackhole)
{
    int cfd = accept4(r->lfd, NULL, NULL, SOCK_CLOEXEC);
    if (cfd < 0)
        return;
    pthread_mutex_lock(&r->mu);
    r->connections++;
    pthread_mutex_unlock(&r->mu);
    int one = 1;
    setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    for (int i = 0; i < MAX_PAIRS; i++) {
        pair_t *p = &r->pairs[i];
        if (p->cfd >= 0)
            continue;
        p->cfd = cfd;
        p->sfd = blackhole ? -1 : connect_upstream(r);
        p->silent = blackhole;
        p->muted = 0;
        p->handshake = 0;
        p->uplen = 0;
        p->downlen = 0;
        p->down_frames = (frames_t){0};
        if (!blackhole && p->sfd < 0)
            close_pair(p);
        return;
    }
    close(cfd);
}

/* Forwards server bytes to the client, noting when and what for the trace.
 * Returns -1 when the pair must be closed. */
static int forward_down(zkrelay_t *r, pair_t *p, const unsigned char *b, size_t n)
{
    if (write_all(p->cfd, b, n) != 0)
        return -1;
    pthread_mutex_lock(&r->mu);
    r->last_reply_ms = now_ms();
    pthread_mutex_unlock(&r->mu);
    parse_down(r, p, b, n);
    return 0;
}

static void *relay_main(void *arg)
{
    zkrelay_t *r = arg;
    struct pollfd pf[2 + 3 * MAX_PAIRS];
    int owner[2 + 3 * MAX_PAIRS];
    unsigned char buf[BUF];
    for (;;) {
        pthread_mutex_lock(&r->mu);
        int stop = r->stop, disconnect = r->disconnect_req, blackhole = r->blackhole;
        int silence = r->silence, hold = r->hold;
        r->disconnect_req = 0;
        pthread_mutex_unlock(&r->mu);
        if (stop)
            break;
        for (int i = 0; i < MAX_PAIRS; i++) {
            pair_t *p = &r->pairs[i];
            if (p->cfd < 0)
                continue;
            /* A silenced pair's streams have holes: when the silence lifts
             * it can only be closed. */
            if (disconnect || (blackhole && !p->silent) || (!blackhole && !silence && p->silent) ||
                (!silence && p->muted))
                close_pair(p);
            else if (silence && !p->silent)
                p->muted = 1;
            if (p->cfd >= 0 && !hold && p->downlen > 0) {
                if (forward_down(r, p, p->down, p->downlen) != 0)
                    close_pair(p);
                p->downlen = 0;
            }
        }
        int n = 0, draining = 0, timeout = -1;
        int64_t now = now_ms();
        for (int i = 0; i < MAX_PAIRS; i++) {
            drain_t *d = &r->draining[i];
            if (d->fd >= 0 && now >= d->until) {
                close(d->fd);
                d->fd = -1;
            } else if (d->fd >= 0) {
                draining = 1;
                if (timeout < 0 || d->until - now < timeout)
                    timeout = (int)(d->until - now);
            }
        }
        /* Reconnects wait in the backlog until the creates are answered. */
        pf[n] = (struct pollfd){draining ? -1 : r->lfd, POLLIN, 0};
        owner[n++] = -1;
        pf[n] = (struct pollfd){r->wake[0], POLLIN, 0};
        owner[n++] = -2;
        for (int i = 0; i < MAX_PAIRS; i++) {
            pair_t *p = &r->pairs[i];
            if (p->cfd < 0)
                continue;
            pf[n] = (struct pollfd){p->cfd, POLLIN, 0};
            owner[n++] = 2 * i;
            if (p->sfd >= 0) {
                pf[n] = (struct pollfd){p->sfd, POLLIN, 0};
                owner[n++] = 2 * i + 1;
            }
        }
        for (int i = 0; i < MAX_PAIRS; i++) {
            if (r->draining[i].fd >= 0) {
                pf[n] = (struct pollfd){r->draining[i].fd, POLLIN, 0};
                owner[n++] = -3 - i;
            }
        }
        if (poll(pf, (nfds_t)n, timeout) < 0 && errno != EINTR)
            break;
        for (int k = 0; k < n; k++) {
            if (!pf[k].revents)
                continue;
            if (owner[k] == -1) {
                accept_one(r, blackhole || silence);
                continue;
            }
            if (owner[k] == -2) {
                ssize_t drained = read(r->wake[0], buf, sizeof(buf));
                (void)drained;
                continue;
            }
            if (owner[k] <= -3) {
                drain_t *d = &r->draining[-3 - owner[k]];
                ssize_t got = recv(d->fd, buf, sizeof(buf), 0);
                if (got <= 0) {
                    close(d->fd);
                    d->fd = -1;
                } else {
                    drain_feed(d, buf, (size_t)got);
                }
                continue;
            }
            pair_t *p = &r->pairs[owner[k] / 2];
            int from_client = owner[k] % 2 == 0;
            if (p->cfd < 0)
                continue;
            if (from_client) {
                ssize_t got = recv(p->cfd, p->up + p->uplen, BUF - p->uplen, 0);
                int discard = p->silent || p->muted;
                if (got <= 0 || (!discard && (p->uplen += (size_t)got, pump_up(r, p) != 0)))
                    close_pair(p);
            } else {
                ssize_t got = recv(p->sfd, buf, sizeof(buf), 0);
                if (got <= 0) {
                    close_pair(p);
                } else if (p->muted) {
                    /* discarded */
                } else if (hold || p->downlen > 0) {
                    /* held back, in order behind what is held already */
                    if (p->downlen + (size_t)got > BUF) {
                        close_pair(p);
                        continue;
                    }
                    memcpy(p->down + p->downlen, buf, (size_t)got);
                    p->downlen += (size_t)got;
                } else if (forward_down(r, p, buf, (size_t)got) != 0) {
                    close_pair(p);
                }
            }
        }
    }
    for (int i = 0; i < MAX_PAIRS; i++) {
        close_pair(&r->pairs[i]);
        if (r->draining[i].fd >= 0)
            close(r->draining[i].fd);
    }
    return NULL;
}

zkrelay_t *zkrelay_start(const char *host, int port)
{
    zkrelay_t *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    for (int i = 0; i < MAX_PAIRS; i++) {
        r->pairs[i].cfd = r->pairs[i].sfd = -1;
        r->draining[i].fd = -1;
    }
    char ps[16];
    snprintf(ps, sizeof(ps), "%d", port);
    struct addrinfo hints = {0}, *ai;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, ps, &hints, &ai) != 0) {
        free(r);
        return NULL;
    }
    memcpy(&r->upstream, ai->ai_addr, ai->ai_addrlen);
    r->upstream_len = ai->ai_addrlen;
    freeaddrinfo(ai);

    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof(sa);
    r->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (r->lfd < 0 || bind(r->lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        listen(r->lfd, 64) != 0 || getsockname(r->lfd, (struct sockaddr *)&sa, &sl) != 0 ||
        pipe2(r->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        if (r->lfd >= 0)
            close(r->lfd);
        free(r);
        return NULL;
    }
    r->port = ntohs(sa.sin_port);
    pthread_mutex_init(&r->mu, NULL);
    if (pthread_create(&r->thread, NULL, relay_main, r) != 0) {
        close(r->lfd);
        close(r->wake[0]);
        close(r->wake[1]);
        free(r);
        return NULL;
    }
    return r;
}

int zkrelay_port(zkrelay_t *r)
{
    return r->port;
}

void zkrelay_stop(zkrelay_t *r)
{
    if (r == NULL)
        return;
    pthread_mutex_lock(&r->mu);
    r->stop = 1;
    pthread_mutex_unlock(&r->mu);
    poke(r);
    pthread_join(r->thread, NULL);
    close(r->lfd);
    close(r->wake[0]);
    close(r->wake[1]);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

void zkrelay_drop_after_create(zkrelay_t *r, int n)
{
    pthread_mutex_lock(&r->mu);
    r->drop_creates = n;
    pthread_mutex_unlock(&r->mu);
}

void zkrelay_disconnect_all(zkrelay_t *r)
{
    pthread_mutex_lock(&r->mu);
    r->disconnect_req = 1;
    pthread_mutex_unlock(&r->mu);
    poke(r);
}

void zkrelay_set_blackhole(zkrelay_t *r, int on)
{
    pthread_mutex_lock(&r->mu);
    r->blackhole = on;
    pthread_mutex_unlock(&r->mu);
    poke(r);
}

void zkrelay_set_silent(zkrelay_t *r, int on)
{
    pthread_mutex_lock(&r->mu);
    r->silence = on;
    pthread_mutex_unlock(&r->mu);
    poke(r);
}

void zkrelay_hold_replies(zkrelay_t *r, int on)
{
    pthread_mutex_lock(&r->mu);
    r->hold = on;
    pthread_mutex_unlock(&r->mu);
    poke(r);
}

void zkrelay_cut_before_create(zkrelay_t *r, int n)
{
    pthread_mutex_lock(&r->mu);
    r->cut_creates = n;
    pthread_mutex_unlock(&r->mu);
}

int zkrelay_blackholed(zkrelay_t *r)
{
    pthread_mutex_lock(&r->mu);
    int on = r->blackhole;
    pthread_mutex_unlock(&r->mu);
    return on;
}

int zkrelay_last_create_path(zkrelay_t *r, char *buf, size_t len)
{
    pthread_mutex_lock(&r->mu);
    size_t n = strlen(r->last_create_path);
    int ok = n > 0 && n < len;
    if (ok)
        memcpy(buf, r->last_create_path, n + 1);
    pthread_mutex_unlock(&r->mu);
    return ok ? 0 : -1;
}

int64_t zkrelay_last_reply_ms(zkrelay_t *r)
{
    pthread_mutex_lock(&r->mu);
    int64_t t = r->last_reply_ms;
    pthread_mutex_unlock(&r->mu);
    return t;
}

void zkrelay_trace_start(zkrelay_t *r)
{
    pthread_mutex_lock(&r->mu);
    r->tracing = 1;
    r->trace_len = 0;
    pthread_mutex_unlock(&r->mu);
}

size_t zkrelay_trace(zkrelay_t *r, zkrelay_frame_t *out, size_t max)
{
    pthread_mutex_lock(&r->mu);
    size_t n = r->trace_len < max ? r->trace_len : max;
    memcpy(out, r->trace, n * sizeof(*out));
    pthread_mutex_unlock(&r->mu);
    return n;
}

int zkrelay_creates_seen(zkrelay_t *r)
{
    pthread_mutex_lock(&r->mu);
    int n = r->creates_seen;
    pthread_mutex_unlock(&r->mu);
    return n;
}

int zkrelay_connections(zkrelay_t *r)
{
    pthread_mutex_lock(&r->mu);
    int n = r->connections;
    pthread_mutex_unlock(&r->mu);
    return n;
}
