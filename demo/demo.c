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
 * In modes 3 and 4 the victim is the first worker to hold the lock (it
 * claims the role through a file, see worker.c), so there always is one.
 *
 * The demo checks its own outcome: every mode that ran must show what it
 * exists to show (1: seats double-booked or oversold; 2 and 4: exactly S
 * bookings, none double; 3: the paused holder's write double-books; 4: that
 * write refused as stale, with a token below its successor's); otherwise
 * it exits 1. It prints a table and writes report.txt, report.tsv and
 * report.html (with an SVG timeline per mode) into the output directory.
 *
 * --replay DIR re-analyses the events and final seat maps an earlier run
 * left in DIR (modeN.events, modeN.seatmap), without ZooKeeper or proxy:
 * to redraw a report, and to test the verdict on outcomes that a live run
 * cannot be made to produce on demand. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <zkfence/zkfence.h>

#include "http.h"
#include "report.h"
#include "seatmap.h"

#define MAX_WORKERS REPORT_MAX_WORKERS
#define EXIT_USAGE 64
#define EXIT_UNAVAILABLE 69

static const char *const mode_names[5] = {"", "nolock", "fenced", "paused-nofence",
                                          "paused-fenced"};
static const char *const mode_titles[5] = {"", "no lock", "lock + fencing",
                                           "lock, holder paused, no fencing",
                                           "lock, holder paused, fencing on"};

typedef struct options {
    const char *zk, *proxy, *out, *worker_bin, *replay;
    int workers, seats, session_ms, process_ms, mode_timeout_ms;
    int modes[5];
} options_t;

/* Wall-clock time, to compare with the workers' event stamps. */
static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* For deadlines and the pause's length: immune to clock steps. */
static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int usage(int code)
{
    fprintf(code ? stderr : stdout,
            "usage: zkfence-demo --zk HOSTS --proxy URL [--workers W] [--seats S]\n"
            "                    [--session-ms MS] [--process-ms MS] [--modes 1,2,3,4]\n"
            "                    [--mode-timeout-ms MS] [--out DIR] [--worker PATH]\n"
            "       zkfence-demo --replay DIR [--workers W] [--seats S] [--modes ...] [--out DIR]\n"
            "Runs the double-booking scenario against a ZooKeeper and a zkfence-proxy whose\n"
            "bucket 'demo-open' has fencing optional and 'demo-fenced' required.\n"
            "  --workers W          worker processes, 1-%d (default 6; at least 2 for\n"
            "                       modes 1, 3 and 4: a race, or a successor, needs two)\n"
            "  --seats S            seats on sale, 1-%d (default 10)\n"
            "  --session-ms MS      requested ZooKeeper session timeout (default 2000)\n"
            "  --process-ms MS      \"processing\" time per booking (default 30)\n"
            "  --modes LIST         comma-separated modes to run, of 1-4 (default 1,2,3,4)\n"
            "  --mode-timeout-ms MS a mode's workers are killed, and the mode fails, after\n"
            "                       this long plus the pause (default 120000)\n"
            "  --out DIR            report directory (default demo-report)\n"
            "  --worker PATH        the worker binary (default: next to this one)\n"
            "  --replay DIR         re-analyse DIR/modeN.events and DIR/modeN.seatmap of an\n"
            "                       earlier run instead of running the workers\n"
            "Exit status: 0 outcome as expected, 1 unexpected outcome or a mode failed,\n"
            "64 usage error, 69 ZooKeeper or proxy unreachable.\n",
            MAX_WORKERS, SEATMAP_MAX);
    return code;
}

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "zkfence-demo: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry 'zkfence-demo --help'.\n");
    va_end(ap);
    return EXIT_USAGE;
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

/* "1,3": every item one mode number, no empty items, at least one mode. */
static int parse_modes(const char *s, int *modes)
{
    memset(modes, 0, 5 * sizeof(int));
    int any = 0;
    const char *p = s;
    for (;;) {
        if (p[0] < '1' || p[0] > '4' || (p[1] != ',' && p[1] != '\0'))
            return -1;
        modes[p[0] - '0'] = any = 1;
        if (p[1] == '\0')
            break;
        p += 2;
    }
    return any ? 0 : -1;
}

/* 0, or EXIT_USAGE after saying what is wrong. */
static int parse_options(int argc, char **argv, options_t *o)
{
    static const struct option lo[] = {{"zk", required_argument, NULL, 'z'},
                                       {"proxy", required_argument, NULL, 'p'},
                                       {"workers", required_argument, NULL, 'w'},
                                       {"seats", required_argument, NULL, 's'},
                                       {"session-ms", required_argument, NULL, 'S'},
                                       {"process-ms", required_argument, NULL, 'P'},
                                       {"modes", required_argument, NULL, 'm'},
                                       {"mode-timeout-ms", required_argument, NULL, 'T'},
                                       {"out", required_argument, NULL, 'o'},
                                       {"worker", required_argument, NULL, 'W'},
                                       {"replay", required_argument, NULL, 'R'},
                                       {"help", no_argument, NULL, 'h'},
                                       {0, 0, 0, 0}};
    o->workers = 6;
    o->seats = 10;
    o->session_ms = 2000;
    o->process_ms = 30;
    o->mode_timeout_ms = 120000;
    o->out = "demo-report";
    parse_modes("1,2,3,4", o->modes);
    int c;
    opterr = 0; /* our messages name the option */
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'z':
            o->zk = optarg;
            break;
        case 'p':
            o->proxy = optarg;
            break;
        case 'w':
            if (parse_int(optarg, 1, MAX_WORKERS, &o->workers) != 0)
                return usage_error("--workers must be a number from 1 to %d, not '%s'", MAX_WORKERS,
                                   optarg);
            break;
        case 's':
            if (parse_int(optarg, 1, SEATMAP_MAX, &o->seats) != 0)
                return usage_error("--seats must be a number from 1 to %d, not '%s'", SEATMAP_MAX,
                                   optarg);
            break;
        case 'S':
            if (parse_int(optarg, 100, 3600000, &o->session_ms) != 0)
                return usage_error("--session-ms must be from 100 to 3600000, not '%s'", optarg);
            break;
        case 'P':
            if (parse_int(optarg, 0, 60000, &o->process_ms) != 0)
                return usage_error("--process-ms must be from 0 to 60000, not '%s'", optarg);
            break;
        case 'm':
            if (parse_modes(optarg, o->modes) != 0)
                return usage_error("--modes takes a comma-separated list of modes 1 to 4, "
                                   "such as 1,2,3,4 or 4, not '%s'",
                                   optarg);
            break;
        case 'T':
            if (parse_int(optarg, 1000, 3600000, &o->mode_timeout_ms) != 0)
                return usage_error("--mode-timeout-ms must be from 1000 to 3600000, not '%s'",
                                   optarg);
            break;
        case 'o':
            o->out = optarg;
            break;
        case 'W':
            o->worker_bin = optarg;
            break;
        case 'R':
            o->replay = optarg;
            break;
        case 'h':
            exit(usage(0));
        default:
            return usage_error("unknown option or missing value: '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    if (!o->replay && (!o->zk || !o->proxy))
        return usage_error("%s", "--zk HOSTS and --proxy URL are required");
    if (o->workers < 2 && (o->modes[1] || o->modes[3] || o->modes[4]))
        return usage_error("modes 1, 3 and 4 need --workers 2 or more (a race needs two "
                           "workers, a paused holder a successor); got %d",
                           o->workers);
    return 0;
}

/* The demo's two buckets (409: there already). 0, or -1 after saying why
 * not: the transport's reason and the URL when there was no answer at all
 * (a stopped proxy), else the status. */
static int create_buckets(demo_http_t *http, const char *proxy)
{
    const char *names[] = {"demo-open", "demo-fenced"};
    for (size_t i = 0; i < 2; i++) {
        int st = demo_http_create_bucket(http, names[i]);
        if (st == 200 || st == 409)
            continue;
        if (st < 0)
            fprintf(stderr,
                    "zkfence-demo: no answer from the proxy at %s: %s\n"
                    "(is zkfence-proxy running there? --proxy URL names it)\n",
                    proxy, demo_http_error(http));
        else
            fprintf(stderr, "zkfence-demo: proxy at %s: creating bucket %s: HTTP %d\n", proxy,
                    names[i], st);
        return -1;
    }
    return 0;
}

/* The worker binary sits next to this one unless given. */
static void find_worker(options_t *o, char *buf, size_t len)
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

/* A name no earlier run used: a persistent proxy keeps every lock's mark,
 * and pids repeat (across container runs, pid 1 every time), so a lock
 * named after the pid alone may already have a mark above the token 0 the
 * initial seat map is written with. */
static void make_run_id(char *buf, size_t len)
{
    uint32_t rnd;
    if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        rnd = (uint32_t)now_ms() ^ ((uint32_t)getpid() << 16);
    snprintf(buf, len, "run-%lld-%d-%08" PRIx32, (long long)now_ms(), (int)getpid(), rnd);
}

/* The start line: a mode's workers connect, then wait at a gate that opens
 * for all of them at once, when every one has said it is ready. Without
 * it, on a busy machine, one worker may book every seat before the next
 * has even connected, and mode 1 shows no race. Pipes, so that a worker's
 * end closes when it dies: ready[] (workers write a byte) and gate[]
 * (workers read; the demo opens it by closing its write end: EOF). */
typedef struct start_line {
    int ready[2], gate[2];
} start_line_t;

static int start_line_open(start_line_t *sl)
{
    sl->ready[0] = sl->ready[1] = sl->gate[0] = sl->gate[1] = -1;
    if (pipe(sl->ready) != 0 || pipe(sl->gate) != 0)
        return -1;
    /* The demo's own ends never reach a worker. */
    fcntl(sl->ready[0], F_SETFD, FD_CLOEXEC);
    fcntl(sl->gate[1], F_SETFD, FD_CLOEXEC);
    return 0;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static void start_line_close(start_line_t *sl)
{
    for (int i = 0; i < 2; i++) {
        close_fd(&sl->ready[i]);
        close_fd(&sl->gate[i]);
    }
}

/* Waits until n workers said they are ready (or every worker's end of the
 * ready pipe closed: some died) or until deadline (CLOCK_MONOTONIC ms),
 * then opens the gate. Returns how many were ready. */
static int start_line_go(start_line_t *sl, int n, int64_t deadline)
{
    close_fd(&sl->ready[1]); /* only the workers' copies keep it open */
    close_fd(&sl->gate[0]);
    int ready = 0;
    while (ready < n) {
        int64_t left = deadline - mono_ms();
        if (left <= 0)
            break;
        struct pollfd p = {sl->ready[0], POLLIN, 0};
        int r = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        char buf[MAX_WORKERS];
        ssize_t got = read(sl->ready[0], buf, sizeof(buf));
        if (got <= 0)
            break; /* EOF: no worker is left to say it */
        ready += (int)got;
    }
    close_fd(&sl->gate[1]); /* EOF at every worker's end: go */
    return ready;
}

typedef struct worker_args {
    char ids[16], sess[16], proc[16], give_up[24], ready_fd[16], gate_fd[16];
    const char *argv[32];
} worker_args_t;

/* Returns the child's pid, or -1 (errno set) if it could not be forked. */
static pid_t spawn_worker(const options_t *o, int mode, int id, const char *bucket, const char *key,
                          const char *lock, const char *log, const char *claim, int64_t budget_ms,
                          const start_line_t *sl, const sigset_t *child_mask)
{
    /* Everything the child needs is built before fork: between fork and
     * exec it only calls async-signal-safe functions. */
    worker_args_t a;
    snprintf(a.ids, sizeof(a.ids), "%d", id);
    snprintf(a.sess, sizeof(a.sess), "%d", o->session_ms);
    snprintf(a.proc, sizeof(a.proc), "%d", o->process_ms);
    /* A worker keeps queueing for the lock (with a new session if its own
     * expired) until the mode's deadline, when the supervisor stops it. */
    snprintf(a.give_up, sizeof(a.give_up), "%lld", (long long)budget_ms);
    snprintf(a.ready_fd, sizeof(a.ready_fd), "%d", sl->ready[1]);
    snprintf(a.gate_fd, sizeof(a.gate_fd), "%d", sl->gate[0]);
    int k = 0;
    a.argv[k++] = o->worker_bin;
    const char *pairs[][2] = {{"--id", a.ids},
                              {"--mode", mode_names[mode]},
                              {"--zk", o->zk},
                              {"--proxy", o->proxy},
                              {"--bucket", bucket},
                              {"--key", key},
                              {"--lock", lock},
                              {"--log", log},
                              {"--session-ms", a.sess},
                              {"--process-ms", a.proc},
                              {"--give-up-ms", a.give_up},
                              {"--ready-fd", a.ready_fd},
                              {"--gate-fd", a.gate_fd}};
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        a.argv[k++] = pairs[i][0];
        a.argv[k++] = pairs[i][1];
    }
    if (claim) {
        a.argv[k++] = "--pause-claim";
        a.argv[k++] = claim;
    }
    a.argv[k] = NULL;
    pid_t pid = fork();
    if (pid != 0)
        return pid; /* the parent, or -1 */
    sigprocmask(SIG_SETMASK, child_mask, NULL);
    execv(o->worker_bin, (char *const *)a.argv);
    static const char msg[] = "zkfence-demo: cannot run the worker binary\n";
    ssize_t ignored = write(STDERR_FILENO, msg, sizeof(msg) - 1);
    (void)ignored;
    _exit(127);
}

/* SIGKILLs and reaps every worker still running. Only pids > 0: kill(-1)
 * would signal every process of the user, kill(0) our own group. */
static void kill_workers(pid_t *pids, int n)
{
    for (int i = 0; i < n; i++) {
        if (pids[i] <= 0)
            continue;
        kill(pids[i], SIGKILL);
        while (waitpid(pids[i], NULL, 0) < 0 && errno == EINTR)
            ;
        pids[i] = 0;
    }
}

/* Runs the workers to completion, or for at most budget_ms; resumes the
 * victim pause_ms after it stops itself. SIGCHLD is blocked (main), so a
 * child's exit or stop between two looks stays pending and sigtimedwait
 * returns at once: no event is missed and nothing waits longer than it
 * must. Reaped or killed workers are set to 0 in pids. */
static void supervise(pid_t *pids, int n, int pause_ms, int64_t budget_ms, mode_result_t *res)
{
    int64_t deadline = mono_ms() + budget_ms;
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    int alive = 0, failed = 0;
    for (int i = 0; i < n; i++)
        alive += pids[i] > 0;
    pid_t stopped = 0;
    int64_t resume_at = 0;
    while (alive > 0) {
        for (int i = 0; i < n; i++) {
            if (pids[i] <= 0)
                continue;
            int st;
            pid_t p = waitpid(pids[i], &st, WNOHANG | WUNTRACED);
            if (p == 0 || (p < 0 && errno == EINTR))
                continue;
            if (p > 0 && WIFSTOPPED(st)) {
                if (!stopped && !res->pause_start_ms) {
                    /* The victim stopped itself, holding the lock: a GC
                     * pause longer than its session. */
                    stopped = p;
                    res->pause_start_ms = now_ms();
                    resume_at = mono_ms() + pause_ms;
                } else {
                    kill(p, SIGCONT); /* not ours to pause twice */
                }
                continue;
            }
            if (p < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
                failed++;
            if (p == stopped) { /* died while stopped: the pause is over */
                stopped = 0;
                res->pause_end_ms = now_ms();
            }
            pids[i] = 0;
            alive--;
        }
        int64_t now = mono_ms();
        if (stopped && now >= resume_at) {
            res->pause_end_ms = now_ms();
            kill(stopped, SIGCONT);
            stopped = 0;
        }
        if (alive == 0)
            break;
        if (now >= deadline) {
            report_fail(res, "timed out after %lld s; %d worker(s) killed",
                        (long long)budget_ms / 1000, alive);
            kill_workers(pids, n);
            if (stopped)
                res->pause_end_ms = now_ms();
            return;
        }
        int64_t until = stopped && resume_at < deadline ? resume_at : deadline;
        int64_t wait = until - now;
        struct timespec ts = {(time_t)(wait / 1000), (long)(wait % 1000) * 1000000L};
        sigtimedwait(&chld, NULL, &ts); /* a child changed state, or time is up */
    }
    if (failed)
        report_fail(res, "%d worker(s) exited with an error (see above)", failed);
}

static void mode_paths(const char *dir, int mode, char *events, char *seatmap, char *claim,
                       size_t len)
{
    snprintf(events, len, "%s/mode%d.events", dir, mode);
    snprintf(seatmap, len, "%s/mode%d.seatmap", dir, mode);
    snprintf(claim, len, "%s/mode%d.victim", dir, mode);
}

static void init_result(const options_t *o, int mode, mode_result_t *res)
{
    memset(res, 0, sizeof(*res));
    res->mode = mode;
    res->name = mode_names[mode];
    res->title = mode_titles[mode];
    res->seats = o->seats;
    res->workers = o->workers;
    res->fenced = mode == 2 || mode == 4;
    res->paused = mode >= 3;
}

static int save_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fputs(text, f);
    return fclose(f);
}

/* One mode, start to end. Whatever fails, res is complete enough to print
 * (and marked failed, with the reason). */
static void run_mode(const options_t *o, int mode, int pause_ms, const char *run_id,
                     demo_http_t *http, const sigset_t *child_mask, mode_result_t *res)
{
    init_result(o, mode, res);
    res->start_ms = now_ms();
    char key[160], lock[160], log[PATH_MAX], mapfile[PATH_MAX], claim[PATH_MAX];
    const char *bucket = res->fenced ? "demo-fenced" : "demo-open";
    snprintf(key, sizeof(key), "%s/mode%d/seatmap", run_id, mode);
    snprintf(lock, sizeof(lock), "/zkfence-demo/%s/mode%d", run_id, mode);
    mode_paths(o->out, mode, log, mapfile, claim, PATH_MAX);
    unlink(log);
    unlink(claim);

    seatmap_t *map = malloc(sizeof(*map));
    char *text = NULL;
    if (map) {
        seatmap_init(map, o->seats);
        text = seatmap_format(map);
    }
    free(map);
    if (text == NULL) {
        report_fail(res, "out of memory");
        res->end_ms = now_ms();
        return;
    }
    char *err = NULL;
    /* The initial map is written under token 0 (on a fresh lock name):
     * every real token is higher. */
    int st = demo_http_put(http, bucket, key, text, res->fenced ? lock : NULL, 0, &err);
    free(text);
    if (st < 0) {
        report_fail(res, "writing the initial seat map: %.150s", demo_http_error(http));
        res->end_ms = now_ms();
        return;
    }
    if (st < 200 || st > 299) {
        report_fail(res, "writing the initial seat map: HTTP %d %.120s", st, err ? err : "");
        free(err);
        res->end_ms = now_ms();
        return;
    }

    pid_t pids[MAX_WORKERS] = {0};
    int64_t budget_ms = o->mode_timeout_ms + (res->paused ? pause_ms : 0);
    int64_t deadline = mono_ms() + budget_ms;
    start_line_t sl;
    if (start_line_open(&sl) != 0)
        report_fail(res, "cannot make the start line: %s", strerror(errno));
    for (int i = 0; i < o->workers && !res->failed; i++) {
        pids[i] = spawn_worker(o, mode, i + 1, bucket, key, lock, log, res->paused ? claim : NULL,
                               budget_ms, &sl, child_mask);
        if (pids[i] < 0) {
            report_fail(res, "cannot start worker %d: %s", i + 1, strerror(errno));
            pids[i] = 0;
            kill_workers(pids, i); /* a mode with fewer workers is not the one asked for */
        }
    }
    if (!res->failed) {
        int ready = start_line_go(&sl, o->workers, deadline);
        if (ready < o->workers && mono_ms() >= deadline) {
            report_fail(res, "timed out after %lld s: %d of %d worker(s) ready; all killed",
                        (long long)budget_ms / 1000, ready, o->workers);
            kill_workers(pids, o->workers);
        }
    }
    start_line_close(&sl);
    if (!res->failed)
        supervise(pids, o->workers, pause_ms, deadline - mono_ms(), res);
    unlink(claim); /* the events name the victim */

    char *final = NULL;
    st = demo_http_get(http, bucket, key, &final);
    if (st < 0)
        report_fail(res, "reading the final seat map: %.150s", demo_http_error(http));
    else if (st != 200 || seatmap_parse(final, &res->final_map) != 0)
        report_fail(res, "reading the final seat map: HTTP %d", st);
    else if (save_text(mapfile, final) != 0)
        report_fail(res, "%s: %s", mapfile, strerror(errno));
    free(final);
    if (report_load_events(log, res) != 0)
        report_fail(res, "no events log %s", log);
    res->end_ms = now_ms();
    report_analyse(res);
}

/* --replay: the same analysis on what an earlier run left behind. */
static void replay_mode(const options_t *o, int mode, mode_result_t *res)
{
    init_result(o, mode, res);
    char log[PATH_MAX], mapfile[PATH_MAX], claim[PATH_MAX];
    mode_paths(o->replay, mode, log, mapfile, claim, PATH_MAX);
    FILE *f = fopen(mapfile, "r");
    char text[SEATMAP_MAX * 48 + 1];
    size_t len = f ? fread(text, 1, sizeof(text) - 1, f) : 0;
    text[len] = '\0';
    if (f == NULL || seatmap_parse(text, &res->final_map) != 0)
        report_fail(res, "no valid final seat map %s", mapfile);
    if (f)
        fclose(f);
    if (report_load_events(log, res) != 0)
        report_fail(res, "no events log %s", log);
    report_analyse(res);
}

static void on_sigchld(int sig)
{
    (void)sig; /* never runs: SIGCHLD stays blocked, taken by sigtimedwait */
}

int main(int argc, char **argv)
{
    /* Before any thread exists (libzookeeper's, libcurl's resolver), so
     * that every thread blocks SIGCHLD and supervise() sees each one. A
     * handler, not SIG_DFL, because POSIX leaves it open whether a blocked
     * signal whose action is to ignore it stays pending. The workers get
     * the original mask back, and exec resets the handler. */
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigchld;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, NULL);
    sigset_t chld, orig;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, &orig);

    options_t o = {0};
    char worker_buf[PATH_MAX];
    int rc = parse_options(argc, argv, &o);
    if (rc != 0)
        return rc;
    find_worker(&o, worker_buf, sizeof(worker_buf));
    if (mkdir(o.out, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "zkfence-demo: %s: %s\n", o.out, strerror(errno));
        return 1;
    }

    int session = o.session_ms, pause_ms = 0;
    mode_result_t results[4];
    int n = 0;
    if (o.replay) {
        printf("zkfence double-booking demo: replaying %s (%d workers, %d seats)\n", o.replay,
               o.workers, o.seats);
        for (int m = 1; m <= 4; m++)
            if (o.modes[m])
                replay_mode(&o, m, &results[n++]);
    } else {
        session = negotiated_session_ms(&o);
        if (session < 0)
            return EXIT_UNAVAILABLE;
        pause_ms = session * 5 / 2 + 1000; /* well past expiry, seen by the server */

        curl_global_init(CURL_GLOBAL_DEFAULT);
        demo_http_t *http = demo_http_new(o.proxy);
        if (http == NULL) {
            fprintf(stderr, "zkfence-demo: cannot set up HTTP for %s\n", o.proxy);
            curl_global_cleanup();
            return 1;
        }
        if (create_buckets(http, o.proxy) != 0) {
            demo_http_free(http);
            curl_global_cleanup();
            return EXIT_UNAVAILABLE;
        }
        char run_id[96];
        make_run_id(run_id, sizeof(run_id));
        printf("zkfence double-booking demo: %d workers, %d seats, session timeout %d ms "
               "(pause %d ms)\n\n",
               o.workers, o.seats, session, pause_ms);
        for (int m = 1; m <= 4; m++) {
            if (!o.modes[m])
                continue;
            printf("mode %d: %s ...\n", m, mode_titles[m]);
            fflush(stdout);
            run_mode(&o, m, pause_ms, run_id, http, &orig, &results[n]);
            if (results[n].failed)
                printf("mode %d FAILED: %s\n", m, results[n].error);
            n++;
        }
        demo_http_free(http);
        curl_global_cleanup();
    }

    int verdict = report_verdict(results, n);
    report_print(stdout, results, n);
    int written = report_write(o.out, results, n, session, pause_ms);
    if (written != 0)
        fprintf(stderr, "zkfence-demo: writing the report into %s: %s\n", o.out, strerror(errno));
    for (int i = 0; i < n; i++)
        free(results[i].events);
    printf("\nreport: %s/report.html, report.txt and report.tsv\n", o.out);
    int ok = verdict == 0 && written == 0;
    printf("verdict: %s\n",
           ok ? "as expected (fencing prevents double booking)" : "UNEXPECTED OUTCOME");
    return ok ? 0 : 1;
}
