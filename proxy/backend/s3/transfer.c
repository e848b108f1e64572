/* The transfer thread (transfer.h): one libcurl multi handle, its
 * connection cache shared by every request to the upstream.
 *
 * Locks: each transfer has its own mutex (x->mu); the engine's (e->mu)
 * guards its queues only and is always the innermost: nothing takes x->mu
 * while holding e->mu. libcurl calls (perform, pause, remove) are made on
 * the transfer thread only, with no lock held, since libcurl may call our
 * callbacks from inside them and they take x->mu.
 *
 * A transfer is held by its caller and, once submitted, by the transfer
 * thread until it ends: freed when both have let go. */
#include "backend/s3/transfer.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "util/buf.h"

#define STREAM_CAP (512 * 1024)         /* bytes of a streamed body held for its reader */
#define CURL_BUF (128 * 1024)           /* libcurl's receive buffer */
#define NOTIFY_MIN (64 * 1024)          /* buffered bytes worth waking a waiting reader for */
#define COLLECT_MAX (16u * 1024 * 1024) /* a collected (XML) body: a listing page fits */

struct zkp_engine {
    CURLM *multi;
    pthread_t thread;
    pthread_mutex_t mu;    /* the queues and `stopping` */
    zkp_xfer_t *incoming;  /* submitted, not yet added to the multi handle */
    zkp_xfer_t *attention; /* readers asking to unpause, callers cancelling */
    int stopping;
    zkp_xfer_t *active; /* on the transfer thread only: in the multi handle */
    zkp_engine_options_t opt;
    char ca_file[4096];
};

typedef struct hdr {
    char *name;
    char *value;
} hdr_t;

struct zkp_xfer {
    zkp_engine_t *e;
    CURL *easy;
    struct curl_slist *req_headers;
    atomic_int refs;
    zkp_xfer_t *qnext;                     /* incoming / attention queue (under e->mu) */
    zkp_xfer_t *anext;                     /* attention queue (under e->mu) */
    zkp_xfer_t *next_active, *prev_active; /* the transfer thread's list */
    int in_attention;                      /* under e->mu */

    int body_fd;
    const char *body_mem; /* the body in memory, or NULL: read from body_fd */
    uint64_t body_len, body_off;
    int stream;
    int head;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    int submitted;
    int headers_done; /* the final (non-1xx) header block ended */
    int done;
    CURLcode result;
    long status;
    char errbuf[CURL_ERROR_SIZE];
    hdr_t *hdrs;
    size_t nhdrs;
    zkp_buf_t collected;
    int collect_overflow;
    /* streamed body */
    char *sbuf;
    size_t sstart, slen;
    int paused;       /* libcurl holds data we refused (CURL_WRITEFUNC_PAUSE) */
    int want_unpause; /* a reader made room: the thread should resume */
    int want_cancel;
    int released;      /* the caller let go */
    uint64_t expected; /* Content-Length of a 2xx response, or UINT64_MAX */
    uint64_t received;
    void (*on_wait)(void *);
    void (*on_ready)(void *);
    void *notify_arg;
    int want_notify;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* --- life of a transfer ------------------------------------------------------- */

static void xfer_free(zkp_xfer_t *x)
{
    if (x->easy != NULL)
        curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->req_headers);
    for (size_t i = 0; i < x->nhdrs; i++) {
        free(x->hdrs[i].name);
        free(x->hdrs[i].value);
    }
    free(x->hdrs);
    zkp_buf_free(&x->collected);
    free(x->sbuf);
    pthread_mutex_destroy(&x->mu);
    pthread_cond_destroy(&x->cv);
    free(x);
}

static void xfer_unref(zkp_xfer_t *x)
{
    if (atomic_fetch_sub(&x->refs, 1) == 1)
        xfer_free(x);
}

/* Caller holds x->mu. */
static void notify_ready(zkp_xfer_t *x)
{
    if (x->want_notify && x->on_ready != NULL) {
        x->want_notify = 0;
        x->on_ready(x->notify_arg);
    }
}

/* The transfer ended (on the transfer thread, or at submit after a stop):
 * wakes waiters and the reader, and drops the thread's hold. */
static void finish(zkp_xfer_t *x, CURLcode rc, const char *why)
{
    pthread_mutex_lock(&x->mu);
    x->done = 1;
    x->result = rc;
    if (why != NULL && x->errbuf[0] == '\0')
        snprintf(x->errbuf, sizeof(x->errbuf), "%s", why);
    if (rc == CURLE_OK && x->collect_overflow) {
        x->result = CURLE_WRITE_ERROR;
        snprintf(x->errbuf, sizeof(x->errbuf), "answer larger than %u bytes", COLLECT_MAX);
    }
    pthread_cond_broadcast(&x->cv);
    notify_ready(x);
    pthread_mutex_unlock(&x->mu);
    xfer_unref(x);
}

/* --- libcurl callbacks (transfer thread) ----------------------------------------- */

static size_t on_header(char *line, size_t size, size_t n, void *arg)
{
    zkp_xfer_t *x = arg;
    size_t len = size * n;
    pthread_mutex_lock(&x->mu);
    if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
        /* A new header block (after a 100 Continue, or a redirect): start over. */
        for (size_t i = 0; i < x->nhdrs; i++) {
            free(x->hdrs[i].name);
            free(x->hdrs[i].value);
        }
        x->nhdrs = 0;
        long st = 0;
        const char *sp = memchr(line, ' ', len);
        if (sp != NULL)
            st = strtol(sp + 1, NULL, 10);
        x->status = st;
    } else if (len <= 2) {
        /* The blank line: the block ended. A 1xx block is followed by another. */
        if (x->status >= 200) {
            x->headers_done = 1;
            const char *cl = NULL;
            for (size_t i = 0; i < x->nhdrs; i++)
                if (strcasecmp(x->hdrs[i].name, "content-length") == 0)
                    cl = x->hdrs[i].value;
            x->expected = cl != NULL && !x->head ? strtoull(cl, NULL, 10) : UINT64_MAX;
            pthread_cond_broadcast(&x->cv);
        }
    } else {
        const char *colon = memchr(line, ':', len);
        hdr_t *t = colon ? realloc(x->hdrs, (x->nhdrs + 1) * sizeof(*t)) : NULL;
        if (t != NULL) {
            x->hdrs = t;
            const char *v = colon + 1;
            const char *end = line + len;
            while (v < end && (*v == ' ' || *v == '\t'))
                v++;
            while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
                end--;
            t[x->nhdrs].name = strndup(line, (size_t)(colon - line));
            t[x->nhdrs].value = strndup(v, (size_t)(end - v));
            if (t[x->nhdrs].name != NULL && t[x->nhdrs].value != NULL)
                x->nhdrs++;
            else {
                free(t[x->nhdrs].name);
                free(t[x->nhdrs].value);
            }
        }
    }
    pthread_mutex_unlock(&x->mu);
    return len;
}

static int streaming(const zkp_xfer_t *x)
{
    return x->stream && x->status >= 200 && x->status < 300;
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    zkp_xfer_t *x = arg;
    size_t len = size * n;
    pthread_mutex_lock(&x->mu);
    if (x->want_cancel || x->released) {
        pthread_mutex_unlock(&x->mu);
        return 0; /* nobody reads it: abort the transfer */
    }
    if (!streaming(x)) {
        if (x->collected.len + len > COLLECT_MAX) {
            x->collect_overflow = 1;
            pthread_mutex_unlock(&x->mu);
            return 0;
        }
        zkp_buf_append(&x->collected, data, len);
        pthread_mutex_unlock(&x->mu);
        return len;
    }
    if (x->slen + len > STREAM_CAP) {
        /* Full: libcurl keeps these bytes and stops reading the socket
         * until the reader has made room (read -> attention -> resume). */
        x->paused = 1;
        pthread_mutex_unlock(&x->mu);
        return CURL_WRITEFUNC_PAUSE;
    }
    if (x->sstart + x->slen + len > STREAM_CAP) {
        memmove(x->sbuf, x->sbuf + x->sstart, x->slen);
        x->sstart = 0;
    }
    memcpy(x->sbuf + x->sstart + x->slen, data, len);
    x->slen += len;
    x->received += len;
    /* libcurl hands the body over in pieces of 16 KiB: waking a waiting
     * reader for each costs its loop a resume, a wake-up and a short send
     * per piece. It is woken once NOTIFY_MIN is here, at the body's last
     * byte, or by finish(); a full buffer (the pause above) holds more. */
    if (x->slen >= NOTIFY_MIN || x->received == x->expected)
        notify_ready(x);
    pthread_mutex_unlock(&x->mu);
    return len;
}

static size_t on_upload(char *buf, size_t size, size_t n, void *arg)
{
    zkp_xfer_t *x = arg;
    size_t want = size * n;
    if (want > x->body_len - x->body_off)
        want = (size_t)(x->body_len - x->body_off);
    if (want == 0)
        return 0;
    ssize_t got;
    if (x->body_mem != NULL) {
        memcpy(buf, x->body_mem + x->body_off, want);
        got = (ssize_t)want;
    } else {
        do
            got = pread(x->body_fd, buf, want, (off_t)x->body_off);
        while (got < 0 && errno == EINTR);
    }
    if (got <= 0)
        return CURL_READFUNC_ABORT; /* the staged body vanished: never send a short one */
    x->body_off += (uint64_t)got;
    return (size_t)got;
}

/* --- building a transfer ----------------------------------------------------------- */

zkp_xfer_t *zkp_xfer_new(zkp_engine_t *e, const char *method, const char *url,
                         const char *const *headers, size_t nheaders, const zkp_xfer_body_t *body,
                         int stream)
{
    pthread_once(&curl_once, curl_init_once);
    zkp_xfer_t *x = calloc(1, sizeof(*x));
    if (x == NULL)
        return NULL;
    pthread_mutex_init(&x->mu, NULL);
    pthread_cond_init(&x->cv, NULL);
    zkp_buf_init(&x->collected);
    atomic_init(&x->refs, 1);
    x->e = e;
    x->body_fd = body != NULL ? body->fd : -1;
    x->body_mem = body != NULL ? body->mem : NULL;
    x->body_len = body != NULL ? body->len : 0;
    x->stream = stream;
    x->head = strcmp(method, "HEAD") == 0;
    x->expected = UINT64_MAX;
    x->easy = curl_easy_init();
    if (x->easy == NULL || (stream && (x->sbuf = malloc(STREAM_CAP)) == NULL)) {
        xfer_free(x);
        return NULL;
    }
    struct curl_slist *sl = NULL;
    for (size_t i = 0; i < nheaders; i++) {
        struct curl_slist *t = curl_slist_append(sl, headers[i]);
        if (t == NULL) {
            curl_slist_free_all(sl);
            xfer_free(x);
            return NULL;
        }
        sl = t;
    }
    /* No "Expect: 100-continue" round trip, and no Accept header we did
     * not sign. */
    const char *const ours[] = {"Expect:", "Accept:"};
    for (size_t i = 0; i < 2; i++) {
        struct curl_slist *t = curl_slist_append(sl, ours[i]);
        if (t == NULL) {
            curl_slist_free_all(sl);
            xfer_free(x);
            return NULL;
        }
        sl = t;
    }
    x->req_headers = sl;
    CURL *c = x->easy;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, sl);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(c, CURLOPT_BUFFERSIZE, (long)CURL_BUF);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)e->opt.connect_timeout_s);
    /* A stalled transfer fails after timeout_s; a paused one (a slow
     * reader) is not stalled: libcurl skips the speed check while paused. */
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)e->opt.timeout_s);
    if (e->ca_file[0] != '\0')
        curl_easy_setopt(c, CURLOPT_CAINFO, e->ca_file);
    if (x->head) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "PUT") == 0 || strcmp(method, "POST") == 0) {
        /* A POST (the multipart calls) is sent as an upload too: with its
         * Content-Length (0 without a body) and no form Content-Type, which
         * a store would keep as the object's. */
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)x->body_len);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_upload);
        curl_easy_setopt(c, CURLOPT_READDATA, x);
        if (method[1] == 'O')
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    curl_easy_setopt(c, CURLOPT_PRIVATE, x);
    return x;
}

/* --- the transfer thread ------------------------------------------------------------- */

static void wakeup(zkp_engine_t *e)
{
    curl_multi_wakeup(e->multi);
}

/* Caller holds e->mu. */
static void want_attention(zkp_engine_t *e, zkp_xfer_t *x)
{
    if (x->in_attention)
        return;
    x->in_attention = 1;
    x->anext = e->attention;
    e->attention = x;
}

static void active_add(zkp_engine_t *e, zkp_xfer_t *x)
{
    x->prev_active = NULL;
    x->next_active = e->active;
    if (e->active != NULL)
        e->active->prev_active = x;
    e->active = x;
}

static void active_remove(zkp_engine_t *e, zkp_xfer_t *x)
{
    if (x->prev_active != NULL)
        x->prev_active->next_active = x->next_active;
    else
        e->active = x->next_active;
    if (x->next_active != NULL)
        x->next_active->prev_active = x->prev_active;
    x->next_active = x->prev_active = NULL;
}

static void end_active(zkp_engine_t *e, zkp_xfer_t *x, CURLcode rc, const char *why)
{
    curl_multi_remove_handle(e->multi, x->easy);
    active_remove(e, x);
    finish(x, rc, why);
}

static void handle_attention(zkp_engine_t *e, zkp_xfer_t *list)
{
    while (list != NULL) {
        zkp_xfer_t *x = list;
        list = x->anext;
        pthread_mutex_lock(&x->mu);
        int cancel = x->want_cancel, resume = x->want_unpause && x->paused;
        x->want_unpause = 0;
        if (resume)
            x->paused = 0;
        int live = x->submitted && !x->done;
        pthread_mutex_unlock(&x->mu);
        if (live && cancel)
            end_active(e, x, CURLE_ABORTED_BY_CALLBACK, "cancelled");
        else if (live && resume)
            curl_easy_pause(x->easy, CURLPAUSE_CONT); /* may deliver the held bytes now */
        xfer_unref(x);                                /* the attention queue's hold */
    }
}

static void *engine_main(void *arg)
{
    zkp_engine_t *e = arg;
    for (;;) {
        pthread_mutex_lock(&e->mu);
        int stopping = e->stopping;
        zkp_xfer_t *in = e->incoming, *att = e->attention;
        e->incoming = NULL;
        e->attention = NULL;
        for (zkp_xfer_t *x = att; x != NULL; x = x->anext)
            x->in_attention = 0;
        pthread_mutex_unlock(&e->mu);
        while (in != NULL) {
            zkp_xfer_t *x = in;
            in = x->qnext;
            if (stopping || curl_multi_add_handle(e->multi, x->easy) != CURLM_OK) {
                finish(x, CURLE_FAILED_INIT, stopping ? "the proxy is stopping" : "libcurl failed");
                continue;
            }
            active_add(e, x);
        }
        handle_attention(e, att);
        if (stopping)
            break;
        int running = 0;
        curl_multi_perform(e->multi, &running);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(e->multi, &left)) != NULL) {
            if (m->msg != CURLMSG_DONE)
                continue;
            zkp_xfer_t *x = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
            end_active(e, x, m->data.result, NULL);
        }
        curl_multi_poll(e->multi, NULL, 0, 1000, NULL);
    }
    while (e->active != NULL)
        end_active(e, e->active, CURLE_ABORTED_BY_CALLBACK, "the proxy is stopping");
    return NULL;
}

int zkp_engine_start(const zkp_engine_options_t *o, zkp_engine_t **out, char *err, size_t errlen)
{
    pthread_once(&curl_once, curl_init_once);
    zkp_engine_t *e = calloc(1, sizeof(*e));
    if (e == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    e->opt = *o;
    snprintf(e->ca_file, sizeof(e->ca_file), "%s", o->ca_file ? o->ca_file : "");
    e->opt.ca_file = e->ca_file;
    pthread_mutex_init(&e->mu, NULL);
    e->multi = curl_multi_init();
    if (e->multi == NULL) {
        snprintf(err, errlen, "libcurl: cannot create a multi handle");
        pthread_mutex_destroy(&e->mu);
        free(e);
        return -1;
    }
    /* Keep-alive connections to the upstream, enough for every worker. */
    curl_multi_setopt(e->multi, CURLMOPT_MAXCONNECTS, 256L);
    if (pthread_create(&e->thread, NULL, engine_main, e) != 0) {
        snprintf(err, errlen, "cannot start the upstream transfer thread");
        curl_multi_cleanup(e->multi);
        pthread_mutex_destroy(&e->mu);
        free(e);
        return -1;
    }
    *out = e;
    return 0;
}

void zkp_engine_stop(zkp_engine_t *e)
{
    if (e == NULL)
        return;
    pthread_mutex_lock(&e->mu);
    e->stopping = 1;
    pthread_mutex_unlock(&e->mu);
    wakeup(e);
    pthread_join(e->thread, NULL);
    curl_multi_cleanup(e->multi);
    pthread_mutex_destroy(&e->mu);
    free(e);
}

int zkp_xfer_submit(zkp_xfer_t *x)
{
    zkp_engine_t *e = x->e;
    atomic_fetch_add(&x->refs, 1); /* the transfer thread's hold, dropped by finish() */
    pthread_mutex_lock(&x->mu);
    x->submitted = 1;
    pthread_mutex_unlock(&x->mu);
    pthread_mutex_lock(&e->mu);
    int stopping = e->stopping;
    if (!stopping) {
        x->qnext = e->incoming;
        e->incoming = x;
    }
    pthread_mutex_unlock(&e->mu);
    if (stopping) {
        finish(x, CURLE_FAILED_INIT, "the proxy is stopping");
        return -1;
    }
    wakeup(e);
    return 0;
}

/* Asks the transfer thread to look at x (caller holds x->mu; wake the
 * thread after unlocking). The queue holds a reference while x is on it. */
static void queue_attention(zkp_engine_t *e, zkp_xfer_t *x)
{
    pthread_mutex_lock(&e->mu);
    if (!x->in_attention)
        atomic_fetch_add(&x->refs, 1);
    want_attention(e, x);
    pthread_mutex_unlock(&e->mu);
}

/* --- the caller's side ----------------------------------------------------------------- */

void zkp_xfer_wait_headers(zkp_xfer_t *x)
{
    pthread_mutex_lock(&x->mu);
    while (!x->done && !(x->headers_done && streaming(x)))
        pthread_cond_wait(&x->cv, &x->mu);
    pthread_mutex_unlock(&x->mu);
}

void zkp_xfer_wait(zkp_xfer_t *x)
{
    pthread_mutex_lock(&x->mu);
    while (!x->done)
        pthread_cond_wait(&x->cv, &x->mu);
    pthread_mutex_unlock(&x->mu);
}

int zkp_xfer_result(zkp_xfer_t *x, long *status, char *why, size_t whylen)
{
    pthread_mutex_lock(&x->mu);
    int answered = x->headers_done && (!x->done || x->result == CURLE_OK || streaming(x));
    *status = x->status;
    if (!answered && why != NULL)
        snprintf(why, whylen, "%s",
                 x->errbuf[0] ? x->errbuf : curl_easy_strerror(x->done ? x->result : CURLE_OK));
    pthread_mutex_unlock(&x->mu);
    return answered ? 0 : -1;
}

const char *zkp_xfer_header(zkp_xfer_t *x, const char *name)
{
    for (size_t i = 0; i < x->nhdrs; i++)
        if (strcasecmp(x->hdrs[i].name, name) == 0)
            return x->hdrs[i].value;
    return NULL;
}

void zkp_xfer_headers(zkp_xfer_t *x, void (*fn)(void *arg, const char *name, const char *value),
                      void *arg)
{
    for (size_t i = 0; i < x->nhdrs; i++)
        fn(arg, x->hdrs[i].name, x->hdrs[i].value);
}

const char *zkp_xfer_body(zkp_xfer_t *x, size_t *len)
{
    *len = x->collected.len;
    return x->collected.data ? x->collected.data : "";
}

ssize_t zkp_xfer_read(zkp_xfer_t *x, void *buf, size_t len)
{
    zkp_engine_t *e = x->e;
    pthread_mutex_lock(&x->mu);
    if (x->slen > 0) {
        size_t n = len < x->slen ? len : x->slen;
        memcpy(buf, x->sbuf + x->sstart, n);
        x->sstart += n;
        x->slen -= n;
        if (x->slen == 0)
            x->sstart = 0;
        int ask =
            x->paused && !x->done && !x->want_unpause && STREAM_CAP - x->slen >= STREAM_CAP / 2;
        if (ask) {
            x->want_unpause = 1;
            queue_attention(e, x);
        }
        pthread_mutex_unlock(&x->mu);
        if (ask)
            wakeup(e);
        return (ssize_t)n;
    }
    ssize_t rc;
    if (x->done) {
        int complete = x->result == CURLE_OK && streaming(x) &&
                       (x->expected == UINT64_MAX || x->received == x->expected);
        rc = complete ? 0 : -1;
    } else {
        x->want_notify = 1;
        if (x->on_wait != NULL)
            x->on_wait(x->notify_arg);
        rc = ZKP_XFER_AGAIN;
    }
    pthread_mutex_unlock(&x->mu);
    return rc;
}

void zkp_xfer_set_notify(zkp_xfer_t *x, void (*on_wait)(void *), void (*on_ready)(void *),
                         void *arg)
{
    pthread_mutex_lock(&x->mu);
    x->on_wait = on_wait;
    x->on_ready = on_ready;
    x->notify_arg = arg;
    pthread_mutex_unlock(&x->mu);
}

void zkp_xfer_release(zkp_xfer_t *x)
{
    if (x == NULL)
        return;
    zkp_engine_t *e = x->e;
    pthread_mutex_lock(&x->mu);
    x->released = 1;
    x->on_wait = x->on_ready = NULL;
    int cancel = x->submitted && !x->done;
    if (cancel) {
        x->want_cancel = 1;
        queue_attention(e, x);
    }
    pthread_mutex_unlock(&x->mu);
    if (cancel)
        wakeup(e);
    xfer_unref(x);
}
