/* jepsen-worker: one process of the Jepsen-style suite.
 *
 * Loops read-modify-writes of one ledger object through zkfence-proxy,
 * under one zkfence lock, until SIGTERM:
 *
 *   acquire (blocking, with a timeout; a lost session or connection is
 *   retried with the client's next session)
 *   [--fence-advance: POST /_zkfence/fence-advance with lock and token]
 *   GET the ledger, with lock and token (a fenced read; none with
 *   --no-read-fence)
 *   think (0..--think-ms, the application's processing)
 *   append "<worker> <op> <token>", PUT the ledger back with lock and token
 *   release
 *
 * It does not check that it still holds the lock before writing: the
 * storage's fence is what is under test, and a check would not close the
 * window anyway (a pause can come right after it).
 *
 * Every event is one line of the log (history.h has the format), written
 * with one write(2) on an O_APPEND file; `invoke` and the op's outcome are
 * fdatasync'ed before the worker goes on (the invoke before the PUT is
 * sent, the outcome before the next op starts). Events:
 *   start, acquired, acquire_failed, advance_ok, advance_refused,
 *   advance_failed, read, read_refused, read_failed, pause, resume, hold,
 *   unhold, invoke, ok, refused, unknown, released, lost, release_pending,
 *   release_failed, stop.
 * Outcomes of a PUT: ok (2xx), refused (4xx: nothing was written), unknown
 * (a transport error, a timeout or 5xx: it may or may not have landed).
 * Op numbers go on from the highest one in the log, so a worker restarted
 * on its own log never reuses one.
 *
 * Nemesis hooks (--nemesis-dir DIR; the runner drives them):
 *   - DIR/pause-early or DIR/pause-late, created by the runner, is claimed
 *     (renamed to DIR/victim-<worker>) by the first worker that has just
 *     read the ledger: it logs `pause` and stops itself (SIGSTOP) between
 *     its read and its write, holding the lock, until the runner sends
 *     SIGCONT; then it writes as if nothing happened.
 *   - early: the victim also publishes DIR/hold with its token. A worker
 *     with a higher token that has read the ledger while DIR/hold exists
 *     logs `hold` and waits (at most --hold-ms) until the victim, resumed
 *     and answered, removes it: so the stale write always lands between
 *     its successor's read and that successor's write, the interleaving
 *     that loses an acknowledged write when reads are not fenced.
 *
 * Exit: 0 after SIGTERM/SIGINT, 64 usage error, 1 setup failure. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <zkfence/zkfence.h>

#include "history.h"
#include "http.h"

typedef struct config {
    int id;
    const char *zk, *proxy, *bucket, *key, *lock, *log, *nemesis_dir;
    int session_ms, acquire_timeout_ms, http_timeout_ms, think_ms, hold_ms;
    int read_fence, fence_advance;
} config_t;

typedef struct worker {
    config_t cf;
    int log_fd;
    uint64_t last_op;
    unsigned seed;
    zkf_client_t *client;
    jp_http_t *http;
    char path[1200];
    /* The lock, for the signal thread's zkf_lock_cancel(); NULL when none. */
    pthread_mutex_t mu;
    zkf_lock_t *lock;
} worker_t;

static atomic_int stopping;

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* One event. durable: fdatasync before returning. A log that cannot be
 * written makes the history worthless: the worker exits. */
static void ev(worker_t *w, int durable, const char *event, uint64_t token, uint64_t op, int status,
               const char *fmt, ...) __attribute__((format(printf, 7, 8)));
static void ev(worker_t *w, int durable, const char *event, uint64_t token, uint64_t op, int status,
               const char *fmt, ...)
{
    char line[512];
    int n = snprintf(line, sizeof(line), "%" PRId64 " %d %s %" PRIu64 " %" PRIu64 " %d", now_us(),
                     w->cf.id, event, token, op, status);
    if (fmt && *fmt && n < (int)sizeof(line) - 2) {
        line[n++] = ' ';
        va_list ap;
        va_start(ap, fmt);
        n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
        va_end(ap);
    }
    if (n > (int)sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    for (int i = 0; i < n; i++) /* one line, whatever curl's error text holds */
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    line[n++] = '\n';
    if (write(w->log_fd, line, (size_t)n) != n || (durable && fdatasync(w->log_fd) != 0)) {
        fprintf(stderr, "jepsen-worker %d: %s: %s\n", w->cf.id, w->cf.log, strerror(errno));
        _exit(1);
    }
}

static int usage(void)
{
    fprintf(stderr,
            "usage: jepsen-worker --id N --zk HOSTS --proxy URL --bucket B --key K --lock PATH\n"
            "         --log FILE [--session-ms MS] [--acquire-timeout-ms MS] [--think-ms MS]\n"
            "         [--http-timeout-ms MS] [--no-read-fence] [--fence-advance]\n"
            "         [--nemesis-dir DIR] [--hold-ms MS]\n");
    return 64;
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

static int parse_args(int argc, char **argv, config_t *cf)
{
    static const struct option opts[] = {{"id", required_argument, NULL, 'i'},
                                         {"zk", required_argument, NULL, 'z'},
                                         {"proxy", required_argument, NULL, 'p'},
                                         {"bucket", required_argument, NULL, 'b'},
                                         {"key", required_argument, NULL, 'k'},
                                         {"lock", required_argument, NULL, 'l'},
                                         {"log", required_argument, NULL, 'L'},
                                         {"session-ms", required_argument, NULL, 's'},
                                         {"acquire-timeout-ms", required_argument, NULL, 'a'},
                                         {"http-timeout-ms", required_argument, NULL, 'h'},
                                         {"think-ms", required_argument, NULL, 't'},
                                         {"hold-ms", required_argument, NULL, 'H'},
                                         {"nemesis-dir", required_argument, NULL, 'n'},
                                         {"no-read-fence", no_argument, NULL, 'R'},
                                         {"fence-advance", no_argument, NULL, 'A'},
                                         {0, 0, 0, 0}};
    *cf = (config_t){.id = -1,
                     .session_ms = 1500,
                     .acquire_timeout_ms = 10000,
                     .http_timeout_ms = 10000,
                     .think_ms = 20,
                     .hold_ms = 10000,
                     .read_fence = 1};
    int o, bad = 0;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'i':
            bad |= parse_int(optarg, 0, 1000000, &cf->id);
            break;
        case 'z':
            cf->zk = optarg;
            break;
        case 'p':
            cf->proxy = optarg;
            break;
        case 'b':
            cf->bucket = optarg;
            break;
        case 'k':
            cf->key = optarg;
            break;
        case 'l':
            cf->lock = optarg;
            break;
        case 'L':
            cf->log = optarg;
            break;
        case 's':
            bad |= parse_int(optarg, 100, 600000, &cf->session_ms);
            break;
        case 'a':
            bad |= parse_int(optarg, 1, 600000, &cf->acquire_timeout_ms);
            break;
        case 'h':
            bad |= parse_int(optarg, 100, 600000, &cf->http_timeout_ms);
            break;
        case 't':
            bad |= parse_int(optarg, 0, 60000, &cf->think_ms);
            break;
        case 'H':
            bad |= parse_int(optarg, 0, 600000, &cf->hold_ms);
            break;
        case 'n':
            cf->nemesis_dir = optarg;
            break;
        case 'R':
            cf->read_fence = 0;
            break;
        case 'A':
            cf->fence_advance = 1;
            break;
        default:
            return -1;
        }
    }
    if (bad || optind != argc || cf->id < 0 || !cf->zk || !cf->proxy || !cf->bucket || !cf->key ||
        !cf->lock || !cf->log)
        return -1;
    return 0;
}

/* The highest op number of this worker in its log, so that a restarted
 * worker goes on from there. */
static int recover_last_op(worker_t *w)
{
    char *text;
    size_t len;
    if (jp_read_file(w->cf.log, &text, &len) != 0)
        return errno == ENOENT ? 0 : -1;
    jp_history_t h;
    jp_history_init(&h, 0);
    int rc = jp_parse_log(&h, w->cf.log, text, len);
    for (size_t i = 0; rc == 0 && i < h.nev; i++)
        if (h.ev[i].worker == w->cf.id && h.ev[i].op > w->last_op)
            w->last_op = h.ev[i].op;
    jp_history_free(&h);
    free(text);
    if (rc != 0)
        errno = ENOMEM;
    return rc;
}

/* SIGTERM/SIGINT: stop after the op in progress; an acquire that waits is
 * cancelled. */
static void *signal_main(void *arg)
{
    worker_t *w = arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    for (;;) {
        int sig;
        if (sigwait(&set, &sig) != 0)
            continue;
        atomic_store(&stopping, 1);
        pthread_mutex_lock(&w->mu);
        if (w->lock)
            zkf_lock_cancel(w->lock);
        pthread_mutex_unlock(&w->mu);
    }
    return NULL;
}

static const char *release_event(int rc)
{
    switch (rc) {
    case 0:
        return "released";
    case ZKF_ELOCKLOST:
        return "lost";
    case ZKF_EPENDING:
        return "release_pending";
    default:
        return "release_failed";
    }
}

/* The <HighWaterMark> of a 412 answer, or 0. */
static uint64_t mark_of(const jp_body_t *b)
{
    const char *p = b->data ? strstr(b->data, "<HighWaterMark>") : NULL;
    return p ? strtoull(p + strlen("<HighWaterMark>"), NULL, 10) : 0;
}

static char *nem_path(const worker_t *w, char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", w->cf.nemesis_dir, name);
    return buf;
}

/* Claims a pause request: 0 none, 1 early, 2 late. */
static int claim_pause(worker_t *w, uint64_t token)
{
    char req[1100], victim[1100], name[64];
    snprintf(name, sizeof(name), "victim-%d", w->cf.id);
    nem_path(w, victim, sizeof(victim), name);
    if (rename(nem_path(w, req, sizeof(req), "pause-early"), victim) == 0) {
        char tmp[1100], hold[1100];
        snprintf(name, sizeof(name), "hold.%d.tmp", w->cf.id);
        FILE *f = fopen(nem_path(w, tmp, sizeof(tmp), name), "w");
        if (f == NULL || fprintf(f, "%" PRIu64 "\n", token) < 0 || fclose(f) != 0 ||
            rename(tmp, nem_path(w, hold, sizeof(hold), "hold")) != 0) {
            fprintf(stderr, "jepsen-worker %d: hold file: %s\n", w->cf.id, strerror(errno));
            _exit(1);
        }
        return 1;
    }
    return rename(nem_path(w, req, sizeof(req), "pause-late"), victim) == 0 ? 2 : 0;
}

/* The token in DIR/hold, or 0 when there is none. */
static uint64_t hold_token(const worker_t *w)
{
    char path[1100];
    FILE *f = fopen(nem_path(w, path, sizeof(path), "hold"), "r");
    if (f == NULL)
        return 0;
    uint64_t t = 0;
    if (fscanf(f, "%" SCNu64, &t) != 1)
        t = 0;
    fclose(f);
    return t;
}

/* After our read: the nemesis hooks. Returns the pause kind claimed. */
static int nemesis_after_read(worker_t *w, uint64_t token, uint64_t op)
{
    if (w->cf.nemesis_dir == NULL)
        return 0;
    int kind = claim_pause(w, token);
    if (kind) {
        ev(w, 1, "pause", token, op, kind, "%s pid=%d", kind == 1 ? "early" : "late",
           (int)getpid());
        raise(SIGSTOP); /* here the world stops for us, holding the lock */
        ev(w, 1, "resume", token, op, kind, NULL);
        return kind;
    }
    uint64_t victim = hold_token(w);
    if (victim == 0 || victim >= token)
        return 0;
    ev(w, 1, "hold", token, op, 0, "victim_token=%" PRIu64, victim);
    int64_t deadline = mono_ms() + w->cf.hold_ms;
    int waited_out = 0;
    while (hold_token(w) == victim && !(waited_out = mono_ms() >= deadline))
        nap_ms(2); /* polling interval: the victim removes the file */
    ev(w, 0, "unhold", token, op, waited_out, NULL);
    return 0;
}

/* Waits until the client has a connected session, at most ms. */
static void wait_connected(worker_t *w, int ms)
{
    int64_t deadline = mono_ms() + ms;
    while (zkf_client_state(w->client) != ZKF_CLIENT_CONNECTED && mono_ms() < deadline &&
           !atomic_load(&stopping))
        nap_ms(10); /* polling interval */
}

/* PUT the new ledger; logs invoke and the outcome. */
static void append(worker_t *w, const jp_body_t *old, uint64_t token, uint64_t op)
{
    char line[128];
    int n = snprintf(line, sizeof(line), "%d %" PRIu64 " %" PRIu64 "\n", w->cf.id, op, token);
    size_t len = old->len + (size_t)n;
    char *body = malloc(len + 1);
    if (body == NULL) {
        fprintf(stderr, "jepsen-worker %d: out of memory\n", w->cf.id);
        _exit(1);
    }
    memcpy(body, old->data, old->len);
    memcpy(body + old->len, line, (size_t)n + 1);
    ev(w, 1, "invoke", token, op, 0, "bytes=%zu", len);
    jp_body_t resp;
    char err[CURL_ERROR_SIZE] = "";
    int st = jp_http_request(w->http, "PUT", w->path, body, len, w->cf.lock, token, &resp, err,
                             sizeof(err));
    if (st >= 200 && st < 300)
        ev(w, 1, "ok", token, op, st, NULL);
    else if (st >= 400 && st < 500)
        ev(w, 1, "refused", token, op, st, "mark=%" PRIu64, mark_of(&resp));
    else
        ev(w, 1, "unknown", token, op, st, "%s", st < 0 ? err : "server error");
    free(resp.data);
    free(body);
}

/* Between acquire and release: advance, read, think, write. */
static void critical_section(worker_t *w, zkf_lock_t *lock, uint64_t token)
{
    const char *fence = w->cf.lock;
    char err[CURL_ERROR_SIZE] = "";
    jp_body_t b = {NULL, 0};
    int st;
    if (w->cf.fence_advance) {
        st = jp_http_request(w->http, "POST", "/_zkfence/fence-advance", "", 0, fence, token, &b,
                             err, sizeof(err));
        int refused = st == 412;
        ev(w, 1,
           st >= 200 && st < 300 ? "advance_ok"
           : refused             ? "advance_refused"
                                 : "advance_failed",
           token, 0, st, "mark=%" PRIu64, mark_of(&b));
        free(b.data);
        if (st < 200 || st >= 300)
            return; /* never read unfenced: a failed advance ends the holding */
    }
    st = jp_http_request(w->http, "GET", w->path, NULL, 0, w->cf.read_fence ? fence : NULL, token,
                         &b, err, sizeof(err));
    if (st == 404) { /* the first holder: an empty ledger */
        free(b.data);
        b = (jp_body_t){calloc(1, 1), 0};
        st = 200;
    }
    if (st != 200 || b.data == NULL) {
        ev(w, 1, st == 412 ? "read_refused" : "read_failed", token, 0, st, "%s", st < 0 ? err : "");
        free(b.data);
        return;
    }
    size_t lines = 0;
    for (size_t i = 0; i < b.len; i++)
        lines += b.data[i] == '\n';
    uint64_t op = w->last_op + 1;
    ev(w, 0, "read", token, 0, st, "lines=%zu fenced=%d", lines, w->cf.read_fence);
    int paused = nemesis_after_read(w, token, op);
    if (w->cf.think_ms > 0)
        nap_ms((int)(rand_r(&w->seed) % (unsigned)(w->cf.think_ms + 1))); /* the "processing" */
    w->last_op = op;
    append(w, &b, token, op);
    free(b.data);
    if (paused == 1) {
        char hold[1100];
        unlink(nem_path(w, hold, sizeof(hold), "hold"));
    }
    (void)lock;
}

static void one_round(worker_t *w, zkf_lock_t *lock)
{
    uint64_t token = 0;
    int64_t t0 = mono_ms();
    int rc = zkf_lock_acquire(lock, w->cf.acquire_timeout_ms, &token);
    if (rc != 0) {
        ev(w, 0, "acquire_failed", 0, 0, rc, "%s", zkf_err_name(rc));
        /* A quick failure (session expired, connection lost): wait for the
         * client's next session rather than spin. */
        if (mono_ms() - t0 < 100)
            wait_connected(w, w->cf.acquire_timeout_ms);
        return;
    }
    ev(w, 0, "acquired", token, 0, 0, "session=%" PRIx64,
       (uint64_t)zkf_client_session_id(w->client));
    critical_section(w, lock, token);
    rc = zkf_lock_release(lock);
    ev(w, 0, release_event(rc), token, 0, rc, NULL);
}

static int connect_client(worker_t *w)
{
    zkf_client_options_t o;
    zkf_client_options_init(&o);
    o.hosts = w->cf.zk;
    o.session_timeout_ms = w->cf.session_ms;
    o.connect_timeout_ms = 5000;
    o.zk_log_level = 0;
    while (!atomic_load(&stopping)) {
        int rc = zkf_client_connect(&o, &w->client);
        if (rc == 0)
            return 0;
        ev(w, 0, "connect_failed", 0, 0, rc, "%s", zkf_err_name(rc));
        if (rc != ZKF_ECONNECT)
            return -1;
    }
    return -1;
}

int main(int argc, char **argv)
{
    static worker_t w = {.mu = PTHREAD_MUTEX_INITIALIZER};
    if (parse_args(argc, argv, &w.cf) != 0)
        return usage();
    snprintf(w.path, sizeof(w.path), "/%s/%s", w.cf.bucket, w.cf.key);
    w.seed = (unsigned)(w.cf.id * 2654435761u) ^ (unsigned)getpid() ^ (unsigned)now_us();
    if (recover_last_op(&w) != 0) {
        fprintf(stderr, "jepsen-worker %d: %s: %s\n", w.cf.id, w.cf.log, strerror(errno));
        return 1;
    }
    w.log_fd = open(w.cf.log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (w.log_fd < 0) {
        fprintf(stderr, "jepsen-worker %d: %s: %s\n", w.cf.id, w.cf.log, strerror(errno));
        return 1;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* every thread, libzookeeper's too */
    pthread_t sig_thread;
    if (pthread_create(&sig_thread, NULL, signal_main, &w) != 0)
        return 1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    ev(&w, 1, "start", 0, w.last_op, 0, "pid=%d read_fence=%d fence_advance=%d", (int)getpid(),
       w.cf.read_fence, w.cf.fence_advance);
    zkf_lock_t *lock = NULL;
    if ((w.http = jp_http_new(w.cf.proxy, w.cf.http_timeout_ms)) == NULL ||
        connect_client(&w) != 0 || zkf_lock_create(w.client, w.cf.lock, NULL, &lock) != 0) {
        int stopped = atomic_load(&stopping);
        ev(&w, 1, "stop", 0, w.last_op, stopped ? 0 : 1, NULL);
        zkf_client_destroy(w.client);
        jp_http_free(w.http);
        return stopped ? 0 : 1;
    }
    pthread_mutex_lock(&w.mu);
    w.lock = lock;
    pthread_mutex_unlock(&w.mu);
    while (!atomic_load(&stopping))
        one_round(&w, lock);
    pthread_mutex_lock(&w.mu);
    w.lock = NULL;
    pthread_mutex_unlock(&w.mu);
    zkf_lock_destroy(lock);
    zkf_client_destroy(w.client);
    jp_http_free(w.http);
    curl_global_cleanup();
    ev(&w, 1, "stop", 0, w.last_op, 0, NULL);
    return 0;
}
