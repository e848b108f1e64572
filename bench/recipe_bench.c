/* bench/recipes: the read/write lock, the semaphore and leader election of
 * libzkfence against Apache Curator's recipes (InterProcessReadWriteLock,
 * InterProcessSemaphoreV2, LeaderLatch), on the same ZooKeeper, round by
 * round (the side that goes first alternates), as bench/lock does.
 *
 *   --only rwlock      R reader threads and W writer threads (8 and 1), each
 *                      with a session of its own, cycling acquire/release on
 *                      one lock for S seconds: acquisitions per second
 *                      (reads and writes), writes per second apart (a
 *                      writer starved by readers shows there). Readers
 *                      overlapping a writer, or two writers, are violations.
 *   --only semaphore   C threads (16), each with a session of its own,
 *                      cycling a lease of one semaphore of N (4) leases:
 *                      leases per second; more than N holders at once is a
 *                      violation.
 *   --only failover    a leader process (its own session of --failover-ms,
 *                      2000) and a follower process in one election; once
 *                      the follower's node is listed, the leader is killed
 *                      (SIGKILL) and the time from the kill to the
 *                      follower's first "serving" line is the failover.
 *                      The old leader's node goes only when its session
 *                      expires: the session timeout is most of it, alike
 *                      for both sides. expiry_ms: from the kill to the
 *                      old node's deletion (a watch of ours), the part of
 *                      it that is ZooKeeper's.
 *
 * Every session of the rwlock and semaphore cases has libzkfence's default
 * timeout (10 s), the peer's too. Each side runs one unmeasured round of
 * each throughput case first (the JVM compiles hot code only after a
 * while; ZooKeeper too).
 *
 * --peer CMD: the peer (bench/curator), started as lock_bench starts it
 * (bench/benchlib.h); it gets one command per measurement:
 *
 *   rwlock PATH READERS WRITERS SECONDS  -> ok RATE WRITES_PER_S VIOLATIONS FAILURES
 *   semaphore PATH LEASES CLIENTS SECONDS -> ok RATE VIOLATIONS FAILURES
 *   failover PATH SESSION_MS              -> ok FAILOVER_MS EXPIRY_MS
 *
 * Output: one line per mode, "MODE VALUE UNIT key=value ...", medians over
 * the rounds; bench/run makes its rows of them. Exit 0, 1 if a recipe's
 * rule was violated or an operation failed, 64 on a usage error, 69 if
 * ZooKeeper is unreachable. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zkfence/zkfence.h>
#include <zookeeper/zookeeper.h>

#include "benchlib.h"

#define MAX_CLIENTS 64
#define SESSION_MS 10000 /* rwlock and semaphore: libzkfence's default, the peer's */

typedef struct opts {
    const char *zk;
    int rounds;
    double seconds;
    int readers, writers;
    int leases, clients;
    int failover_ms; /* the session timeout of the failover case */
    const char *only;
    const char *peer;
} opts_t;

/* ---- rwlock and semaphore: threads on one recipe ---- */

typedef struct shared {
    atomic_int ready, go, counting, stop;
    atomic_int readers_in, writers_in, holders; /* inside the critical section now */
    atomic_int violations, failures;
    atomic_long acquisitions, writes; /* inside the window */
} shared_t;

typedef struct worker {
    shared_t *sh;
    const opts_t *o;
    const char *path;
    int write; /* rwlock: a writer */
    int sem;   /* the semaphore, not the rwlock */
} worker_t;

static void count(shared_t *sh, int write)
{
    if (atomic_load(&sh->counting) && !atomic_load(&sh->stop)) {
        atomic_fetch_add(&sh->acquisitions, 1);
        if (write)
            atomic_fetch_add(&sh->writes, 1);
    }
}

/* The critical section of the rwlock: readers overlap, a writer is alone. */
static void rw_section(shared_t *sh, int write)
{
    atomic_int *mine = write ? &sh->writers_in : &sh->readers_in;
    int before = atomic_fetch_add(mine, 1);
    if (atomic_load(write ? &sh->readers_in : &sh->writers_in) != 0 || (write && before != 0))
        atomic_fetch_add(&sh->violations, 1);
    sched_yield();
    count(sh, write);
    atomic_fetch_sub(mine, 1);
}

/* The critical section of the semaphore: at most N holders. */
static void sem_section(shared_t *sh, int leases)
{
    if (atomic_fetch_add(&sh->holders, 1) >= leases)
        atomic_fetch_add(&sh->violations, 1);
    sched_yield();
    count(sh, 0);
    atomic_fetch_sub(&sh->holders, 1);
}

static void start_line(shared_t *sh)
{
    atomic_fetch_add(&sh->ready, 1);
    while (!atomic_load(&sh->go))
        pause_ms(1);
}

static void failed(shared_t *sh, const char *what, int rc)
{
    fprintf(stderr, "recipe_bench: %s: %s\n", what, zkf_strerror(rc));
    atomic_fetch_add(&sh->failures, 1);
}

static void rw_loop(worker_t *w, zkf_client_t *c)
{
    zkf_rwlock_t *rw;
    int rc = zkf_rwlock_create(c, w->path, NULL, &rw);
    if (rc != 0)
        die("zkf_rwlock_create failed");
    start_line(w->sh);
    zkf_rwlock_mode_t mode = w->write ? ZKF_RWLOCK_WRITE : ZKF_RWLOCK_READ;
    while (!atomic_load(&w->sh->stop)) {
        if ((rc = zkf_rwlock_acquire(rw, mode, 30000, NULL)) != 0) {
            failed(w->sh, "zkf_rwlock_acquire", rc);
            break;
        }
        rw_section(w->sh, w->write);
        if ((rc = zkf_rwlock_release(rw)) != 0) {
            failed(w->sh, "zkf_rwlock_release", rc);
            break;
        }
    }
    zkf_rwlock_destroy(rw);
}

static void sem_loop(worker_t *w, zkf_client_t *c)
{
    zkf_semaphore_t *s;
    if (zkf_semaphore_create(c, w->path, w->o->leases, NULL, &s) != 0)
        die("zkf_semaphore_create failed");
    start_line(w->sh);
    int rc;
    while (!atomic_load(&w->sh->stop)) {
        if ((rc = zkf_semaphore_acquire(s, 30000, NULL)) != 0) {
            failed(w->sh, "zkf_semaphore_acquire", rc);
            break;
        }
        sem_section(w->sh, w->o->leases);
        if ((rc = zkf_semaphore_release(s)) != 0) {
            failed(w->sh, "zkf_semaphore_release", rc);
            break;
        }
    }
    zkf_semaphore_destroy(s);
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    zkf_client_t *c = bench_client(w->o->zk, SESSION_MS);
    if (w->sem)
        sem_loop(w, c);
    else
        rw_loop(w, c);
    zkf_client_destroy(c);
    return NULL;
}

typedef struct rate {
    double rate, writes; /* per second */
    int bad;             /* violations or failures */
} rate_t;

/* One window of N threads on PATH: the rwlock's readers then writers, or
 * the semaphore's contenders. */
static rate_t threads_round(const opts_t *o, const char *path, int sem, double seconds)
{
    shared_t sh;
    memset(&sh, 0, sizeof(sh));
    worker_t w[MAX_CLIENTS];
    pthread_t th[MAX_CLIENTS];
    int n = sem ? o->clients : o->readers + o->writers;
    for (int i = 0; i < n; i++) {
        w[i] = (worker_t){&sh, o, path, !sem && i >= o->readers, sem};
        if (pthread_create(&th[i], NULL, worker_main, &w[i]) != 0)
            die("pthread_create failed");
    }
    double deadline = now_s() + 30;
    while (atomic_load(&sh.ready) < n && now_s() < deadline)
        pause_ms(1);
    if (atomic_load(&sh.ready) < n)
        die("workers did not connect within 30 s");
    atomic_store(&sh.go, 1);
    pause_ms(seconds >= 4 ? 1000 : (int)(seconds * 250)); /* the queue forms */
    double t0 = now_s();
    atomic_store(&sh.counting, 1);
    pause_ms((int)(seconds * 1000)); /* the measurement window */
    atomic_store(&sh.stop, 1);
    double t = now_s() - t0;
    rate_t r = {(double)atomic_load(&sh.acquisitions) / t, (double)atomic_load(&sh.writes) / t, 0};
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    if (atomic_load(&sh.violations) || atomic_load(&sh.failures)) {
        fprintf(stderr, "recipe_bench: %s: %d violations, %d failures\n",
                sem ? "semaphore" : "rwlock", atomic_load(&sh.violations),
                atomic_load(&sh.failures));
        r.bad = 1;
    }
    return r;
}

static rate_t peer_rw(const opts_t *o, peer_t *p, const char *path, double seconds)
{
    double v[4];
    peer_call(p, v, 4, "rwlock %s %d %d %g", path, o->readers, o->writers, seconds);
    return (rate_t){v[0], v[1], v[2] != 0 || v[3] != 0};
}

static rate_t peer_sem(const opts_t *o, peer_t *p, const char *path, double seconds)
{
    double v[3];
    peer_call(p, v, 3, "semaphore %s %d %d %g", path, o->leases, o->clients, seconds);
    return (rate_t){v[0], 0, v[1] != 0 || v[2] != 0};
}

static void report_rates(const char *mode, const char *unit, const rate_t *r, int rounds,
                         const char *extra)
{
    double a[BENCH_MAX_ROUNDS], wr[BENCH_MAX_ROUNDS];
    int bad = 0;
    for (int i = 0; i < rounds; i++) {
        a[i] = r[i].rate;
        wr[i] = r[i].writes;
        bad |= r[i].bad;
    }
    printf("%s %.1f %s writes_per_s=%.1f %s violations=%d rounds=%d\n", mode, median(a, rounds),
           unit, median(wr, rounds), extra, bad, rounds);
    fflush(stdout);
}

/* rwlock or semaphore: zkfence and the peer, interleaved; returns whether
 * a round broke. */
static int run_threads(const opts_t *o, peer_t *peer, const char *base, int sem)
{
    rate_t z[BENCH_MAX_ROUNDS], p[BENCH_MAX_ROUNDS];
    char path[256], extra[96];
    const char *tag = sem ? "sem" : "rw";
    /* One unmeasured round each: JITs (the peer's, ZooKeeper's) warm up. */
    double warm = o->seconds < 1 ? o->seconds : 1;
    snprintf(path, sizeof(path), "%s/%s-warm", base, tag);
    threads_round(o, path, sem, warm);
    if (peer) {
        snprintf(path, sizeof(path), "%s/p%s-warm", base, tag);
        (sem ? peer_sem : peer_rw)(o, peer, path, warm);
    }
    int bad = 0;
    for (int i = 0; i < o->rounds; i++) {
        for (int j = 0; j < (peer ? 2 : 1); j++) { /* who goes first alternates */
            int ours = (i + j) % 2 == 0 || !peer;
            snprintf(path, sizeof(path), "%s/%s%s%d", base, ours ? "" : "p", tag, i);
            if (ours)
                z[i] = threads_round(o, path, sem, o->seconds);
            else
                p[i] = (sem ? peer_sem : peer_rw)(o, peer, path, o->seconds);
            bad |= ours ? z[i].bad : p[i].bad;
        }
    }
    if (sem)
        snprintf(extra, sizeof(extra), "leases=%d clients=%d threads", o->leases, o->clients);
    else
        snprintf(extra, sizeof(extra), "readers=%d writers=%d threads", o->readers, o->writers);
    const char *unit = sem ? "leases/s" : "acquisitions/s";
    report_rates(sem ? "semaphore" : "rwlock", unit, z, o->rounds, extra);
    if (peer)
        report_rates(sem ? "peer-semaphore" : "peer-rwlock", unit, p, o->rounds, extra);
    return bad;
}

/* ---- failover ---- */

/* --leader-child PATH: one participant, its own session of --failover-ms;
 * prints "serving TOKEN" once leader, and leaves at the end of its input. */
static int leader_child(const opts_t *o, const char *path)
{
    zkf_client_t *c = bench_client(o->zk, o->failover_ms);
    zkf_election_t *e;
    uint64_t token;
    if (zkf_election_create(c, path, NULL, &e) != 0 || zkf_election_lead(e, -1, &token) != 0)
        return 1;
    printf("serving %" PRIu64 "\n", token);
    fflush(stdout);
    char buf[64];
    while (fgets(buf, sizeof(buf), stdin) != NULL)
        ;
    zkf_election_destroy(e);
    zkf_client_destroy(c);
    return 0;
}

typedef struct child {
    pid_t pid;
    int to, from; /* its stdin and stdout */
} child_t;

static child_t child_start(const opts_t *o, const char *path)
{
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0)
        die("pipe failed");
    char ms[16];
    snprintf(ms, sizeof(ms), "%d", o->failover_ms);
    pid_t pid = fork();
    if (pid == 0) {
        if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0)
            _exit(127);
        execl("/proc/self/exe", "recipe_bench", "--zk", o->zk, "--failover-ms", ms,
              "--leader-child", path, (char *)NULL);
        _exit(127);
    }
    if (pid < 0)
        die("fork failed");
    close(in[0]);
    close(out[1]);
    return (child_t){pid, in[1], out[0]};
}

/* Waits for the child's "serving" line until `deadline`; 0 or -1. */
static int child_serving(child_t *ch, double deadline)
{
    char buf[128];
    size_t len = 0;
    while (len < sizeof(buf) - 1) {
        int left = (int)((deadline - now_s()) * 1000);
        struct pollfd pfd = {ch->from, POLLIN, 0};
        if (left <= 0 || poll(&pfd, 1, left) <= 0)
            return -1;
        ssize_t n = read(ch->from, buf + len, sizeof(buf) - 1 - len);
        if (n <= 0)
            return -1;
        len += (size_t)n;
        buf[len] = '\0';
        if (strchr(buf, '\n'))
            return strncmp(buf, "serving ", 8) == 0 ? 0 : -1;
    }
    return -1;
}

static void child_end(child_t *ch)
{
    close(ch->to); /* the end of its input: it leaves and exits */
    close(ch->from);
    int st;
    waitpid(ch->pid, &st, 0);
}

/* When the old leader's node went away (its session expired), on the
 * now_s() clock: set by a watch on it. */
static _Atomic double gone_at;

static void gone_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    if (type == ZOO_DELETED_EVENT)
        atomic_store(&gone_at, now_s());
}

/* How long round i of n waits, once the follower is queued, before it
 * kills the leader: a whole session timeout, so that the leader's session
 * is in its idle rhythm (a contact every third of the timeout: pings, or
 * zkfence's heartbeat), then a phase that steps through that third over
 * the rounds, in a scattered order. A failover is the session timeout
 * minus the age of the dead leader's last contact: killing both sides at
 * the same spread of phases (Curator gets the same delays, round by
 * round) compares recipes, not when each side's last packet happened to
 * go. Without it, zkfence's leader was killed ~50 ms after its election
 * traffic (its follower, a C process, queues at once), Curator's after
 * the follower JVM's start, at a random phase: zkfence "lost" ~200 ms. */
static int kill_delay_ms(int session_ms, int i, int n)
{
    int step = (i * 7) % n; /* 7 is prime to every round count but 7's multiples */
    if (n % 7 == 0)
        step = i;
    return session_ms + (int)((step + 0.5) * (session_ms / 3.0) / n);
}

/* One failover of zkfence, in ms (and in *expiry_ms, from the kill to the
 * old leader's node gone), the leader killed delay_ms after the follower
 * is queued; -1 if it broke. */
static double failover_round(const opts_t *o, zkf_client_t *c, const char *path, int delay_ms,
                             double *expiry_ms)
{
    double limit = 30 + 10.0 * o->failover_ms / 1000; /* generous: the machine is busy */
    child_t a = child_start(o, path);
    if (child_serving(&a, now_s() + limit) != 0) {
        child_end(&a);
        fprintf(stderr, "recipe_bench: the first leader did not serve\n");
        return -1;
    }
    child_t b = child_start(o, path);
    /* The follower is in the queue once its node is listed. */
    double deadline = now_s() + limit;
    size_t n = 0;
    char leader[512] = "";
    while (n < 2 && now_s() < deadline) {
        zkf_participant_t *list = NULL;
        if (zkf_election_participants(c, path, &list, &n) != 0)
            n = 0;
        if (n >= 2)
            snprintf(leader, sizeof(leader), "%s/%s", path, list[0].node);
        zkf_participants_free(list, n);
        if (n < 2)
            pause_ms(5); /* polling, with a deadline */
    }
    double ms = -1;
    atomic_store(&gone_at, 0);
    if (n >= 2)
        pause_ms(delay_ms); /* the benchmark's method: see kill_delay_ms */
    if (n >= 2 && zoo_wexists(zkf_client_zhandle(c), leader, gone_watcher, NULL, NULL) == ZOK) {
        double t0 = now_s();
        kill(a.pid, SIGKILL); /* our own child, by its pid */
        if (child_serving(&b, t0 + limit) == 0)
            ms = (now_s() - t0) * 1000;
        /* The watch's event may come a moment after the follower served. */
        while (atomic_load(&gone_at) == 0 && now_s() < t0 + limit)
            pause_ms(1);
        *expiry_ms = (atomic_load(&gone_at) - t0) * 1000;
    }
    if (ms < 0)
        fprintf(stderr, "recipe_bench: no failover\n");
    child_end(&a);
    child_end(&b);
    return ms;
}

static int run_failover(const opts_t *o, peer_t *peer, const char *base)
{
    double z[BENCH_MAX_ROUNDS], p[BENCH_MAX_ROUNDS], ze[BENCH_MAX_ROUNDS], pe[BENCH_MAX_ROUNDS];
    char path[256];
    zkf_client_t *c = bench_client(o->zk, SESSION_MS);
    int bad = 0;
    for (int i = 0; i < o->rounds; i++) {
        for (int j = 0; j < (peer ? 2 : 1); j++) {
            int ours = (i + j) % 2 == 0 || !peer;
            snprintf(path, sizeof(path), "%s/%sfo%d", base, ours ? "" : "p", i);
            int delay = kill_delay_ms(o->failover_ms, i, o->rounds);
            if (ours) {
                z[i] = failover_round(o, c, path, delay, &ze[i]);
                bad |= z[i] < 0;
            } else {
                double v[2];
                peer_call(peer, v, 2, "failover %s %d %d", path, o->failover_ms, delay);
                p[i] = v[0];
                pe[i] = v[1];
            }
        }
    }
    zkf_client_destroy(c);
    for (int k = 0; k < (peer ? 2 : 1); k++) {
        const double *v = k ? p : z, *e = k ? pe : ze;
        double lo = v[0], hi = v[0];
        for (int i = 1; i < o->rounds; i++) {
            lo = v[i] < lo ? v[i] : lo;
            hi = v[i] > hi ? v[i] : hi;
        }
        printf("%s %.0f ms session_ms=%d min_ms=%.0f max_ms=%.0f expiry_ms=%.0f rounds=%d\n",
               k ? "peer-failover" : "failover", median(v, o->rounds), o->failover_ms, lo, hi,
               median(e, o->rounds), o->rounds);
    }
    fflush(stdout);
    return bad;
}

/* ---- main ---- */

static void usage(FILE *f)
{
    fprintf(f, "usage: recipe_bench --zk HOSTS [--rounds R] [--seconds S] [--readers R]\n"
               "                    [--writers W] [--leases N] [--clients C] [--failover-ms MS]\n"
               "                    [--only rwlock|semaphore|failover] [--peer CMD]\n");
}

int main(int argc, char **argv)
{
    opts_t o = {NULL, 5, 10, 8, 1, 4, 16, 2000, NULL, NULL};
    const char *leader_path = NULL;
    static const struct option lo[] = {{"zk", required_argument, NULL, 'z'},
                                       {"rounds", required_argument, NULL, 'r'},
                                       {"seconds", required_argument, NULL, 's'},
                                       {"readers", required_argument, NULL, 'R'},
                                       {"writers", required_argument, NULL, 'W'},
                                       {"leases", required_argument, NULL, 'N'},
                                       {"clients", required_argument, NULL, 'c'},
                                       {"failover-ms", required_argument, NULL, 'f'},
                                       {"only", required_argument, NULL, 'o'},
                                       {"peer", required_argument, NULL, 'P'},
                                       {"leader-child", required_argument, NULL, 'L'},
                                       {"help", no_argument, NULL, 'h'},
                                       {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 'z':
            o.zk = optarg;
            break;
        case 'r':
            o.rounds = atoi(optarg);
            break;
        case 's':
            o.seconds = atof(optarg);
            break;
        case 'R':
            o.readers = atoi(optarg);
            break;
        case 'W':
            o.writers = atoi(optarg);
            break;
        case 'N':
            o.leases = atoi(optarg);
            break;
        case 'c':
            o.clients = atoi(optarg);
            break;
        case 'f':
            o.failover_ms = atoi(optarg);
            break;
        case 'o':
            o.only = optarg;
            break;
        case 'P':
            o.peer = optarg;
            break;
        case 'L':
            leader_path = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 64;
        }
    }
    signal(SIGPIPE, SIG_IGN); /* a peer or child gone away is an error from write */
    if (leader_path && o.zk)
        return leader_child(&o, leader_path);
    if (!o.zk || optind != argc || o.rounds < 1 || o.rounds > BENCH_MAX_ROUNDS || o.seconds <= 0 ||
        o.readers < 0 || o.writers < 0 || o.readers + o.writers < 1 ||
        o.readers + o.writers > MAX_CLIENTS || o.leases < 1 || o.clients < 1 ||
        o.clients > MAX_CLIENTS || o.failover_ms < 1 ||
        (o.only && strcmp(o.only, "rwlock") && strcmp(o.only, "semaphore") &&
         strcmp(o.only, "failover"))) {
        usage(stderr);
        return 64;
    }
    char base[128];
    snprintf(base, sizeof(base), "/zkfence-bench/recipes-%d-%ld", (int)getpid(), (long)time(NULL));
    peer_t *peer = o.peer ? peer_start(o.peer, o.zk, SESSION_MS) : NULL;
    int bad = 0;
#define WANT(m) (o.only == NULL || strcmp(o.only, m) == 0)
    if (WANT("rwlock"))
        bad |= run_threads(&o, peer, base, 0);
    if (WANT("semaphore"))
        bad |= run_threads(&o, peer, base, 1);
    if (WANT("failover"))
        bad |= run_failover(&o, peer, base);
    if (peer)
        peer_stop(peer);
    return bad;
}
