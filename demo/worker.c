/* zkfence-demo-worker: one "application server" taking concert bookings.
 *
 * A booking is a read-modify-write of the seat map stored through
 * zkfence-proxy: read the map, pick the first free seat, "process" for a
 * while, write the map back with the seat taken. Depending on the mode the
 * worker does this with no lock, or under a zkfence lock, sending its
 * fencing token with the write or not. In the paused modes every worker
 * is given the same claim file, and the first one that holds the lock and
 * has a seat to write claims it (O_EXCL) and becomes the pause victim: it
 * stops itself (SIGSTOP, as a GC pause would) right before that write,
 * after checking that it still holds the lock: the worst moment. Taking
 * the first holder, not a fixed worker, means the victim always exists,
 * however few seats there are for however many workers.
 *
 * Every step is appended to the events log ("-": stdout), one line per event:
 *   <unix ms> <worker> <event> <token> <seat> <booking> <http status>
 * A holding ends with "released" (deletion sent), "lost" (the library knew
 * the holding was gone), "release_pending" (ZooKeeper unreachable: deletion
 * deferred) or "release_failed" (status: the zkf error code).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <zkfence/zkfence.h>

#include "http.h"
#include "seatmap.h"

typedef struct config {
    int id;
    int use_lock;
    int send_token;
    const char *pause_claim; /* NULL: never the pause victim */
    const char *zk;
    const char *proxy;
    const char *bucket;
    const char *key;
    const char *lock;
    int session_ms;
    int process_ms;
    int64_t give_up_at;    /* CLOCK_MONOTONIC ms; 0: keep trying */
    int ready_fd, gate_fd; /* the demo's start line, -1 if none */
    int log_fd;
} config_t;

static long long wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void log_event_at(const config_t *cf, long long ms, const char *ev, uint64_t token, int seat,
                         const char *booking, int status)
{
    char line[256];
    int n = snprintf(line, sizeof(line), "%lld %d %s %" PRIu64 " %d %s %d\n", ms, cf->id, ev, token,
                     seat, booking ? booking : "-", status);
    /* One write per line on an O_APPEND file: lines of concurrent workers
     * never interleave. */
    if (write(cf->log_fd, line, (size_t)n) != n)
        perror("demo-worker: events log");
}

static void log_event(const config_t *cf, const char *ev, uint64_t token, int seat,
                      const char *booking, int status)
{
    log_event_at(cf, wall_ms(), ev, token, seat, booking, status);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pause_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int usage(void)
{
    fprintf(stderr,
            "usage: zkfence-demo-worker --mode nolock|fenced|paused-nofence|paused-fenced\n"
            "           --zk HOSTS --proxy URL --bucket B --key K --lock PATH --log FILE|-\n"
            "           [--id N] [--session-ms MS] [--process-ms MS] [--pause-claim FILE]\n"
            "           [--give-up-ms MS] [--ready-fd FD --gate-fd FD]\n"
            "--id defaults to a number derived from the host name and the process id, so\n"
            "that workers in separate containers differ. --log - writes to stdout.\n"
            "--pause-claim: the first worker to create FILE stops itself while holding.\n"
            "--give-up-ms: stop trying to get the lock MS after start (default: never; a\n"
            "lost session is replaced and the acquisition retried until then).\n"
            "--ready-fd/--gate-fd: once connected, write a byte to the first, then wait\n"
            "for end-of-file on the second before booking (zkfence-demo starts its\n"
            "workers together this way).\n");
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

/* FNV-1a of "<hostname>:<pid>", folded into 9 digits: unique in practice
 * across containers (whose host name is the container id, and whose pid
 * is often 1) and across processes of one host. */
static int default_id(void)
{
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    char buf[300];
    snprintf(buf, sizeof(buf), "%s:%d", host, (int)getpid());
    uint32_t h = 2166136261u;
    for (const char *p = buf; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return 100000000 + (int)(h % 900000000u);
}

static int parse_args(int argc, char **argv, config_t *cf)
{
    static const struct option opts[] = {{"id", required_argument, NULL, 'i'},
                                         {"mode", required_argument, NULL, 'm'},
                                         {"zk", required_argument, NULL, 'z'},
                                         {"proxy", required_argument, NULL, 'p'},
                                         {"bucket", required_argument, NULL, 'b'},
                                         {"key", required_argument, NULL, 'k'},
                                         {"lock", required_argument, NULL, 'l'},
                                         {"log", required_argument, NULL, 'L'},
                                         {"session-ms", required_argument, NULL, 's'},
                                         {"process-ms", required_argument, NULL, 't'},
                                         {"pause-claim", required_argument, NULL, 'v'},
                                         {"give-up-ms", required_argument, NULL, 'g'},
                                         {"ready-fd", required_argument, NULL, 'R'},
                                         {"gate-fd", required_argument, NULL, 'G'},
                                         {0, 0, 0, 0}};
    const char *mode = NULL, *log = NULL;
    int o;
    cf->session_ms = 2000;
    cf->process_ms = 30;
    cf->id = -1;
    cf->ready_fd = cf->gate_fd = -1;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'i':
            if (parse_int(optarg, 1, INT_MAX, &cf->id) != 0)
                return -1;
            break;
        case 'm':
            mode = optarg;
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
            log = optarg;
            break;
        case 's':
            if (parse_int(optarg, 1, 3600000, &cf->session_ms) != 0)
                return -1;
            break;
        case 't':
            if (parse_int(optarg, 0, 60000, &cf->process_ms) != 0)
                return -1;
            break;
        case 'v':
            cf->pause_claim = optarg;
            break;
        case 'g': {
            int ms;
            if (parse_int(optarg, 1, INT_MAX, &ms) != 0)
                return -1;
            cf->give_up_at = mono_ms() + ms;
            break;
        }
        case 'R':
            if (parse_int(optarg, 0, INT_MAX, &cf->ready_fd) != 0)
                return -1;
            break;
        case 'G':
            if (parse_int(optarg, 0, INT_MAX, &cf->gate_fd) != 0)
                return -1;
            break;
        default:
            return -1;
        }
    }
    if (optind != argc || !mode || !cf->proxy || !cf->bucket || !cf->key || !log ||
        (cf->ready_fd < 0) != (cf->gate_fd < 0))
        return -1;
    if (cf->id < 0)
        cf->id = default_id();
    if (strcmp(mode, "nolock") == 0) {
        cf->use_lock = 0;
    } else if (strcmp(mode, "fenced") == 0 || strcmp(mode, "paused-fenced") == 0) {
        cf->use_lock = cf->send_token = 1;
    } else if (strcmp(mode, "paused-nofence") == 0) {
        cf->use_lock = 1;
    } else {
        return -1;
    }
    if (cf->use_lock && (!cf->zk || !cf->lock))
        return -1;
    /* "-" is our stdout as it is: reopening /dev/stdout fails when it is a
     * socket, or a pipe the (non-root) user may not open. */
    if (strcmp(log, "-") == 0) {
        cf->log_fd = STDOUT_FILENO;
        return 0;
    }
    cf->log_fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (cf->log_fd < 0)
        fprintf(stderr, "demo-worker: %s: %s\n", log, strerror(errno));
    return cf->log_fd < 0 ? -1 : 0;
}

/* The first worker to create the claim file is the pause victim. */
static int claim_pause(const config_t *cf)
{
    int fd = open(cf->pause_claim, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return 0;
    dprintf(fd, "%d\n", cf->id);
    close(fd);
    return 1;
}

/* How a release ended, for the events log: the application sees this
 * code, so the timeline shows it rather than a plain "released". */
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

/* Waits for the lock. A session that expires meanwhile (a busy machine
 * can starve a worker past its timeout) is no reason to stop: the library
 * sets up a new session by itself, and the worker queues again with it, as
 * an application server would, until --give-up-ms says enough. Every wait
 * is bounded by that deadline, so a retry cannot outlive it. */
static int acquire_until_given_up(const config_t *cf, zkf_lock_t *lock, uint64_t *token)
{
    int rc = ZKF_ETIMEDOUT;
    for (;;) {
        int wait = -1;
        if (cf->give_up_at) {
            int64_t left = cf->give_up_at - mono_ms();
            if (left <= 0)
                return rc; /* why the last try ended */
            wait = left > INT_MAX ? INT_MAX : (int)left;
        }
        rc = zkf_lock_acquire(lock, wait, token);
        if (rc != ZKF_ESESSIONEXPIRED && rc != ZKF_ECONNLOSS)
            return rc;
        fprintf(stderr, "worker %d: acquire: %s; queueing again with a new session\n", cf->id,
                zkf_strerror(rc));
    }
}

/* One booking attempt. Returns 1 to go on, 0 when the house is full, -1 on
 * an error. */
static int book_once(const config_t *cf, demo_http_t *http, zkf_lock_t *lock, int *paused, int *seq)
{
    uint64_t token = 0;
    if (lock) {
        log_event(cf, "acquiring", 0, -1, NULL, 0);
        int rc = acquire_until_given_up(cf, lock, &token);
        if (rc != 0) {
            fprintf(stderr, "worker %d: acquire: %s\n", cf->id, zkf_strerror(rc));
            return -1;
        }
        log_event(cf, "acquired", token, -1, NULL, 0);
    }
    char *body = NULL;
    int st = demo_http_get(http, cf->bucket, cf->key, &body);
    seatmap_t map;
    int go_on = 1;
    if (st < 0) {
        fprintf(stderr, "worker %d: GET seat map: %s\n", cf->id, demo_http_error(http));
        go_on = -1;
    } else if (st != 200 || seatmap_parse(body, &map) != 0) {
        fprintf(stderr, "worker %d: GET seat map: HTTP %d\n", cf->id, st);
        go_on = -1;
    } else {
        int seat = seatmap_first_free(&map);
        log_event(cf, "read", token, seat, NULL, st);
        if (seat < 0) {
            go_on = 0;
        } else {
            pause_ms(cf->process_ms / 2 + rand() % (cf->process_ms + 1));
            if (cf->pause_claim && !*paused) {
                /* Still ours, says the library... */
                uint64_t t;
                if (lock && zkf_lock_token(lock, &t) == 0 && claim_pause(cf)) {
                    log_event(cf, "pause", token, seat, NULL, 0);
                    *paused = 1;
                    raise(SIGSTOP); /* ...and here the world stops for us. */
                    log_event(cf, "resume", token, seat, NULL, 0);
                }
            }
            char booking[64];
            snprintf(booking, sizeof(booking), "w%d-%d", cf->id, ++*seq);
            seatmap_set(&map, seat, booking);
            char *text = seatmap_format(&map);
            char *err = NULL;
            st = text ? demo_http_put(http, cf->bucket, cf->key, text,
                                      cf->send_token ? cf->lock : NULL, token, &err)
                      : -1;
            if (st >= 200 && st < 300)
                log_event(cf, "write_ok", token, seat, booking, st);
            else
                log_event(cf, st == 412 ? "write_stale" : "write_failed", token, seat, booking, st);
            free(err);
            free(text);
        }
    }
    free(body);
    if (lock) {
        /* Stamped with the time the release began: the successor cannot
         * get the lock before that, so a successor's acquisition inside a
         * holding always means the holding was lost (report.c). */
        long long at = wall_ms();
        int rc = zkf_lock_release(lock);
        log_event_at(cf, at, release_event(rc), token, -1, NULL, rc);
        /* A lost or pending release is part of the story (the paused
         * holder's), and in the events log; anything else is a fault. */
        if (rc != 0 && rc != ZKF_ELOCKLOST && rc != ZKF_EPENDING)
            fprintf(stderr, "worker %d: release: %s\n", cf->id, zkf_strerror(rc));
    }
    return go_on;
}

/* Connected and ready: say so, then wait for the gate to open (EOF),
 * which it does for every worker of the mode at once. */
static void wait_at_start_line(config_t *cf)
{
    if (cf->ready_fd < 0)
        return;
    if (write(cf->ready_fd, "r", 1) != 1)
        perror("demo-worker: start line");
    close(cf->ready_fd);
    char b;
    ssize_t n;
    while ((n = read(cf->gate_fd, &b, 1)) != 0 && (n > 0 || errno == EINTR))
        ;
    close(cf->gate_fd);
}

int main(int argc, char **argv)
{
    config_t cf = {0};
    if (parse_args(argc, argv, &cf) != 0)
        return usage();
    srand((unsigned)(getpid() * 7919));
    curl_global_init(CURL_GLOBAL_DEFAULT);
    demo_http_t *http = demo_http_new(cf.proxy);
    if (http == NULL) {
        fprintf(stderr, "worker %d: cannot set up HTTP for %s\n", cf.id, cf.proxy);
        return 70;
    }
    zkf_client_t *client = NULL;
    zkf_lock_t *lock = NULL;
    if (cf.use_lock) {
        zkf_client_options_t o;
        zkf_client_options_init(&o);
        o.hosts = cf.zk;
        o.session_timeout_ms = cf.session_ms;
        o.zk_log_level = 0;
        int rc = zkf_client_connect(&o, &client);
        if (rc == 0)
            rc = zkf_lock_create(client, cf.lock, NULL, &lock);
        if (rc != 0) {
            fprintf(stderr, "worker %d: %s\n", cf.id, zkf_strerror(rc));
            return 69;
        }
    }
    wait_at_start_line(&cf);
    int paused = 0, seq = 0, r;
    while ((r = book_once(&cf, http, lock, &paused, &seq)) > 0)
        ;
    log_event(&cf, "done", 0, -1, NULL, 0);
    zkf_lock_destroy(lock);
    zkf_client_destroy(client);
    demo_http_free(http);
    curl_global_cleanup();
    if (cf.log_fd != STDOUT_FILENO)
        close(cf.log_fd);
    return r < 0 ? 1 : 0;
}
