/* zkfence-demo-worker: one "application server" taking concert bookings.
 *
 * A booking is a read-modify-write of the seat map stored through
 * zkfence-proxy: read the map, pick the first free seat, "process" for a
 * while, write the map back with the seat taken. Depending on the mode the
 * worker does this with no lock, or under a zkfence lock, sending its
 * fencing token with the write or not. The pause victim stops itself
 * (SIGSTOP, as a GC pause would) right before its first write, after
 * checking that it still holds the lock: the worst moment.
 *
 * Every step is appended to the events log, one line per event:
 *   <unix ms> <worker> <event> <token> <seat> <booking> <http status>
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
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
    int victim;
    const char *zk;
    const char *proxy;
    const char *bucket;
    const char *key;
    const char *lock;
    int session_ms;
    int process_ms;
    int log_fd;
} config_t;

static void log_event(const config_t *cf, const char *ev, uint64_t token, int seat,
                      const char *booking, int status)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char line[256];
    int n = snprintf(line, sizeof(line), "%lld %d %s %" PRIu64 " %d %s %d\n",
                     (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, cf->id, ev, token, seat,
                     booking ? booking : "-", status);
    /* One write per line on an O_APPEND file: lines of concurrent workers
     * never interleave. */
    if (write(cf->log_fd, line, (size_t)n) != n)
        perror("demo-worker: events log");
}

static void pause_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int usage(void)
{
    fprintf(stderr, "usage: zkfence-demo-worker --id N --mode nolock|fenced|paused-nofence|"
                    "paused-fenced --zk HOSTS --proxy URL --bucket B --key K --lock PATH "
                    "--log FILE [--session-ms MS] [--process-ms MS] [--pause-victim]\n");
    return 64;
}

static int parse_args(int argc, char **argv, config_t *cf)
{
    static const struct option opts[] = {
        {"id", required_argument, NULL, 'i'},         {"mode", required_argument, NULL, 'm'},
        {"zk", required_argument, NULL, 'z'},         {"proxy", required_argument, NULL, 'p'},
        {"bucket", required_argument, NULL, 'b'},     {"key", required_argument, NULL, 'k'},
        {"lock", required_argument, NULL, 'l'},       {"log", required_argument, NULL, 'L'},
        {"session-ms", required_argument, NULL, 's'}, {"process-ms", required_argument, NULL, 't'},
        {"pause-victim", no_argument, NULL, 'v'},     {0, 0, 0, 0}};
    const char *mode = NULL, *log = NULL;
    int o;
    cf->session_ms = 2000;
    cf->process_ms = 30;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'i':
            cf->id = atoi(optarg);
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
            cf->session_ms = atoi(optarg);
            break;
        case 't':
            cf->process_ms = atoi(optarg);
            break;
        case 'v':
            cf->victim = 1;
            break;
        default:
            return -1;
        }
    }
    if (!mode || !cf->proxy || !cf->bucket || !cf->key || !log)
        return -1;
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
    cf->log_fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    return cf->log_fd < 0 ? -1 : 0;
}

/* One booking attempt. Returns 1 to go on, 0 when the house is full, -1 on
 * an error. */
static int book_once(const config_t *cf, demo_http_t *http, zkf_lock_t *lock, int *paused, int *seq)
{
    uint64_t token = 0;
    if (lock) {
        log_event(cf, "acquiring", 0, -1, NULL, 0);
        int rc, tries = 0;
        /* A worker that lost its session retries with the new one, as an
         * application server would. */
        while ((rc = zkf_lock_acquire(lock, 60000, &token)) == ZKF_ESESSIONEXPIRED ||
               rc == ZKF_ECONNLOSS) {
            if (++tries == 5)
                break;
        }
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
    if (st != 200 || seatmap_parse(body, &map) != 0) {
        fprintf(stderr, "worker %d: GET seat map: HTTP %d\n", cf->id, st);
        go_on = -1;
    } else {
        int seat = seatmap_first_free(&map);
        log_event(cf, "read", token, seat, NULL, st);
        if (seat < 0) {
            go_on = 0;
        } else {
            pause_ms(cf->process_ms / 2 + rand() % (cf->process_ms + 1));
            if (cf->victim && !*paused) {
                /* Still ours, says the library... */
                uint64_t t;
                if (!lock || zkf_lock_token(lock, &t) == 0) {
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
        int rc = zkf_lock_release(lock);
        log_event(cf, rc == ZKF_ELOCKLOST ? "lost" : "released", token, -1, NULL, 0);
    }
    return go_on;
}

int main(int argc, char **argv)
{
    config_t cf = {0};
    if (parse_args(argc, argv, &cf) != 0)
        return usage();
    srand((unsigned)(getpid() * 7919));
    curl_global_init(CURL_GLOBAL_DEFAULT);
    demo_http_t *http = demo_http_new(cf.proxy);
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
    int paused = 0, seq = 0, r;
    while ((r = book_once(&cf, http, lock, &paused, &seq)) > 0)
        ;
    log_event(&cf, "done", 0, -1, NULL, 0);
    zkf_lock_destroy(lock);
    zkf_client_destroy(client);
    demo_http_free(http);
    curl_global_cleanup();
    close(cf.log_fd);
    return r < 0 ? 1 : 0;
}
