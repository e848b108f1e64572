/* zkfence-demo: the double-booking scenario, in four modes.
 *
 * A concert has S seats; W worker processes (zkfence-demo-worker) take
 * bookings as read-modify-writes of a seat map stored through zkfence-proxy.
 *
 *   1 no lock                 workers race: seats double-booked, oversold
 *   2 lock + fencing          exactly S bookings
 *   3 lock, holder paused,    the paused holder's session expires, a
 *     no fencing              successor books, the holder wakes and
 *                             overwrites: a lock alone is not enough
 *   4 lock, holder paused,    the same pause; the woken holder's write
 *     fencing on              carries its old token and the proxy refuses it
 *
 * The demo checks its own outcome: modes 2 and 4 must show no double
 * booking, and mode 1 or 3 must show the failure they exist to show;
 * otherwise it exits 1. It prints a table and writes report.html (with an
 * SVG timeline per mode) and report.txt into the output directory. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <zkfence/zkfence.h>

#include "http.h"
#include "report.h"
#include "seatmap.h"

#define MAX_WORKERS 64
#define MODE_TIMEOUT_MS 120000

static const char *const mode_names[5] = {"", "nolock", "fenced", "paused-nofence",
                                          "paused-fenced"};
static const char *const mode_titles[5] = {"", "no lock", "lock + fencing",
                                           "lock, holder paused, no fencing",
                                           "lock, holder paused, fencing on"};

typedef struct options {
    const char *zk, *proxy, *out, *worker_bin;
    int workers, seats, session_ms, process_ms;
    int modes[5];
} options_t;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void fault_pause(int ms)
{
    /* The injected fault's duration: the victim stays stopped this long. */
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int usage(int code)
{
    fprintf(code ? stderr : stdout,
            "usage: zkfence-demo --zk HOSTS --proxy URL [--workers W] [--seats S]\n"
            "                    [--session-ms MS] [--process-ms MS] [--modes 1,2,3,4]\n"
            "                    [--out DIR] [--worker PATH]\n"
            "Runs the double-booking scenario against a ZooKeeper and a zkfence-proxy whose\n"
            "bucket 'demo-open' has fencing optional and 'demo-fenced' required.\n");
    return code;
}

static int parse_modes(const char *s, int *modes)
{
    memset(modes, 0, 5 * sizeof(int));
    for (const char *p = s; *p; p++) {
        if (*p >= '1' && *p <= '4')
            modes[*p - '0'] = 1;
        else if (*p != ',')
            return -1;
    }
    return 0;
}

static int parse_options(int argc, char **argv, options_t *o)
{
    static const struct option lo[] = {{"zk", required_argument, NULL, 'z'},
                                       {"proxy", required_argument, NULL, 'p'},
                                       {"workers", required_argument, NULL, 'w'},
                                       {"seats", required_argument, NULL, 's'},
                                       {"session-ms", required_argument, NULL, 'S'},
                                       {"process-ms", required_argument, NULL, 'P'},
                                       {"modes", required_argument, NULL, 'm'},
                                       {"out", required_argument, NULL, 'o'},
                                       {"worker", required_argument, NULL, 'W'},
                                       {"help", no_argument, NULL, 'h'},
                                       {0, 0, 0, 0}};
    o->workers = 6;
    o->seats = 10;
    o->session_ms = 2000;
    o->process_ms = 30;
    o->out = "demo-report";
    parse_modes("1,2,3,4", o->modes);
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'z':
            o->zk = optarg;
            break;
        case 'p':
            o->proxy = optarg;
            break;
        case 'w':
            o->workers = atoi(optarg);
            break;
        case 's':
            o->seats = atoi(optarg);
            break;
        case 'S':
            o->session_ms = atoi(optarg);
            break;
        case 'P':
            o->process_ms = atoi(optarg);
            break;
        case 'm':
            if (parse_modes(optarg, o->modes) != 0)
                return -1;
            break;
        case 'o':
            o->out = optarg;
            break;
        case 'W':
            o->worker_bin = optarg;
            break;
        case 'h':
            exit(usage(0));
        default:
            return -1;
        }
    }
    if (!o->zk || !o->proxy || o->workers < 2 || o->workers > MAX_WORKERS || o->seats < 1 ||
        o->seats > SEATMAP_MAX || o->session_ms < 100 || o->process_ms < 0)
        return -1;
    return 0;
}

/* The worker binary sits next to this one unless given. */
static void find_worker(options_t *o, const char *argv0, char *buf, size_t len)
{
    if (o->worker_bin)
        return;
    char self[PATH_MAX - 32]; /* room for the worker's name */
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash)
            *slash = '\0';
        snprintf(buf, len, "%s/zkfence-demo-worker", self);
    } else {
        snprintf(buf, len, "zkfence-demo-worker");
    }
    o->worker_bin = buf;
}

/* The session timeout the server grants: the pause must outlast it. */
static int negotiated_session_ms(const options_t *o)
{
    zkf_client_options_t co;
    zkf_client_options_init(&co);
    co.hosts = o->zk;
    co.session_timeout_ms = o->session_ms;
    co.zk_log_level = 0;
    zkf_client_t *c;
    int rc = zkf_client_connect(&co, &c);
    if (rc != 0) {
        fprintf(stderr, "zkfence-demo: ZooKeeper at %s: %s\n", o->zk, zkf_strerror(rc));
        return -1;
    }
    int ms = zkf_client_session_timeout(c);
    zkf_client_destroy(c);
    return ms;
}

static pid_t spawn_worker(const options_t *o, int mode, int id, const char *bucket, const char *key,
                          const char *lock, const char *log, int victim)
{
    char ids[16], sess[16], proc[16];
    snprintf(ids, sizeof(ids), "%d", id);
    snprintf(sess, sizeof(sess), "%d", o->session_ms);
    snprintf(proc, sizeof(proc), "%d", o->process_ms);
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    const char *argv[32];
    int k = 0;
    argv[k++] = o->worker_bin;
    const char *pairs[][2] = {{"--id", ids},          {"--mode", mode_names[mode]},
                              {"--zk", o->zk},        {"--proxy", o->proxy},
                              {"--bucket", bucket},   {"--key", key},
                              {"--lock", lock},       {"--log", log},
                              {"--session-ms", sess}, {"--process-ms", proc}};
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        argv[k++] = pairs[i][0];
        argv[k++] = pairs[i][1];
    }
    if (victim)
        argv[k++] = "--pause-victim";
    argv[k] = NULL;
    execv(o->worker_bin, (char *const *)argv);
    fprintf(stderr, "zkfence-demo: cannot run %s: %s\n", o->worker_bin, strerror(errno));
    _exit(127);
}

/* Runs the workers to completion; stops the victim's world for pause_ms
 * when it stops itself. Returns 0 if every worker finished cleanly. */
static int supervise(pid_t *pids, int n, int pause_ms, mode_result_t *res)
{
    int alive = n, failed = 0;
    int64_t deadline = now_ms() + MODE_TIMEOUT_MS;
    while (alive > 0) {
        int st;
        pid_t p = waitpid(-1, &st, WUNTRACED);
        if (p < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (WIFSTOPPED(st)) {
            res->pause_start_ms = now_ms();
            fault_pause(pause_ms); /* a GC pause longer than the session */
            res->pause_end_ms = now_ms();
            kill(p, SIGCONT);
            continue;
        }
        alive--;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            failed++;
        if (now_ms() > deadline)
            break;
    }
    for (int i = 0; i < n && alive > 0; i++)
        kill(pids[i], SIGKILL);
    while (alive > 0 && waitpid(-1, NULL, 0) > 0)
        alive--;
    return failed ? -1 : 0;
}

static int run_mode(const options_t *o, int mode, int pause_ms, demo_http_t *http,
                    mode_result_t *res)
{
    char key[128], lock[128], log[PATH_MAX];
    const char *bucket = (mode == 2 || mode == 4) ? "demo-fenced" : "demo-open";
    snprintf(key, sizeof(key), "run-%d-%lld/mode%d/seatmap", (int)getpid(), (long long)now_ms(),
             mode);
    snprintf(lock, sizeof(lock), "/zkfence-demo/run-%d/mode%d", (int)getpid(), mode);
    snprintf(log, sizeof(log), "%s/mode%d.events", o->out, mode);
    unlink(log);

    seatmap_t map;
    seatmap_init(&map, o->seats);
    char *text = seatmap_format(&map);
    char *err = NULL;
    /* The initial map is written under token 0: every real token is higher. */
    int st = demo_http_put(http, bucket, key, text, mode == 1 || mode == 3 ? NULL : lock, 0, &err);
    free(text);
    if (st < 200 || st > 299) {
        fprintf(stderr, "zkfence-demo: writing the initial seat map: HTTP %d %s\n", st,
                err ? err : "");
        free(err);
        return -1;
    }

    memset(res, 0, sizeof(*res));
    res->mode = mode;
    res->title = mode_titles[mode];
    res->seats = o->seats;
    res->workers = o->workers;
    res->fenced = mode == 2 || mode == 4;
    res->paused = mode >= 3;
    pid_t pids[MAX_WORKERS];
    for (int i = 0; i < o->workers; i++)
        pids[i] = spawn_worker(o, mode, i + 1, bucket, key, lock, log, res->paused && i == 0);
    int rc = supervise(pids, o->workers, pause_ms, res);

    char *final = NULL;
    st = demo_http_get(http, bucket, key, &final);
    if (st != 200 || seatmap_parse(final, &res->final_map) != 0) {
        fprintf(stderr, "zkfence-demo: reading the final seat map: HTTP %d\n", st);
        rc = -1;
    }
    free(final);
    if (report_load_events(log, res) != 0)
        rc = -1;
    report_analyse(res);
    return rc;
}

int main(int argc, char **argv)
{
    options_t o = {0};
    char worker_buf[PATH_MAX];
    if (parse_options(argc, argv, &o) != 0)
        return usage(64);
    find_worker(&o, argv[0], worker_buf, sizeof(worker_buf));
    if (mkdir(o.out, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "zkfence-demo: %s: %s\n", o.out, strerror(errno));
        return 1;
    }
    int session = negotiated_session_ms(&o);
    if (session < 0)
        return 69;
    int pause_ms = session * 5 / 2 + 1000;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    demo_http_t *http = demo_http_new(o.proxy);
    int st1 = demo_http_create_bucket(http, "demo-open");
    int st2 = demo_http_create_bucket(http, "demo-fenced");
    if ((st1 != 200 && st1 != 409) || (st2 != 200 && st2 != 409)) {
        fprintf(stderr, "zkfence-demo: proxy at %s: cannot create buckets (HTTP %d, %d)\n", o.proxy,
                st1, st2);
        return 69;
    }

    printf("zkfence double-booking demo: %d workers, %d seats, session timeout %d ms "
           "(pause %d ms)\n\n",
           o.workers, o.seats, session, pause_ms);
    mode_result_t results[5];
    int n = 0, errors = 0;
    for (int m = 1; m <= 4; m++) {
        if (!o.modes[m])
            continue;
        printf("mode %d: %s ...\n", m, mode_titles[m]);
        fflush(stdout);
        if (run_mode(&o, m, pause_ms, http, &results[n]) != 0)
            errors++;
        n++;
    }
    demo_http_free(http);
    curl_global_cleanup();

    int verdict = report_verdict(results, n);
    report_print(stdout, results, n);
    if (report_write(o.out, results, n, session, pause_ms) != 0)
        errors++;
    for (int i = 0; i < n; i++)
        free(results[i].events);
    printf("\nreport: %s/report.html and %s/report.txt\n", o.out, o.out);
    if (errors)
        printf("demo: %d mode(s) had worker or proxy errors\n", errors);
    printf("verdict: %s\n", verdict == 0 && errors == 0 ? "as expected (fencing prevents "
                                                          "double booking)"
                                                        : "UNEXPECTED OUTCOME");
    return verdict == 0 && errors == 0 ? 0 : 1;
}
