/* bench/lock: libzkfence against its floors and a peer, in one run.
 *
 * Groups of modes, each interleaving floor, library and peer round by
 * round (the order rotates from round to round) so that drift in the
 * machine hits all alike:
 *
 *   --only sync        floor-sync: zoo_create(ephemeral|sequential) +
 *                      zoo_get_children + zoo_delete, synchronous, one
 *                      session; uncontended: zkf_lock_acquire +
 *                      zkf_lock_release, one client ("release returned":
 *                      the release's multi is sent, not awaited);
 *                      uncontended-acked: the same, and each cycle ends
 *                      only when ZooKeeper has applied the release (an
 *                      exists on the node, from the same session, answers
 *                      ZNONODE: a session's requests are applied in order);
 *                      peer-uncontended (with --peer)
 *   --only pipe        floor-pipe: zoo_acreate/zoo_adelete pairs on one
 *                      session, as many in flight as many-locks has locks
 *                      (each finished pair starts the next), and as many
 *                      pairs as many-locks runs lock cycles; many-locks:
 *                      one process cycling L distinct locks through
 *                      zkf_lock_acquire_async (all acquired, then all
 *                      released, MANY_CYCLES times), with the memory per
 *                      held lock from the RSS delta
 *   --only contended   contended-floor: C clients (own sessions) on one lock
 *                      made of the synchronous calls (create, get_children,
 *                      wexists on the predecessor, delete); contended: the
 *                      same clients on one zkfence lock; peer-contended
 *                      (with --peer). Threads, or processes with --procs.
 *                      Mutual exclusion and lost updates are checked in
 *                      the critical section; Jain's fairness index over
 *                      handoffs per client. The window opens after a ramp
 *                      (a quarter of it, 1 s at most) in which the queue
 *                      forms.
 *
 * Every raw ZooKeeper handle of the floors gets the settings libzkfence
 * gives its own (recipes/client.c): the same session timeout, and no
 * re-resolution of the hosts on every pass of libzookeeper's I/O loop
 * (zoo_set_servers_resolution_delay(zh, -1)).
 *
 * --peer CMD runs another lock implementation (bench/curator: Apache
 * Curator's InterProcessMutex) as a coprocess: `sh -c 'exec CMD "$@"'` with
 * --zk HOSTS --session-ms N appended; it says "ready" once warmed up, then
 * gets one command line per measurement on its stdin and answers one line
 * on its stdout (see bench/curator).
 *
 * Every mode also reports ZooKeeper requests per cycle (or handoff), from
 * the server's `mntr` packet counter (zk_packets_received: every request a
 * client sends, pings included) right before and after the window, the
 * fsyncs of its transaction log (zk_cnt_fsynctime), and, where the clients
 * run in this process (not --procs), its CPU time and voluntary context
 * switches (getrusage), all per cycle or handoff.
 * --windows prints each window's wall-clock bounds to stderr ("window MODE
 * T0 T1 UNITS"), for bench/op-breakdown to count requests by type.
 *
 * Output: one line per mode, "MODE RATE UNIT key=value ..."; bench/run
 * turns them into its verdict table. Exit 0, or 1 if mutual exclusion was
 * violated or an operation failed, 64 on a usage error, 69 if ZooKeeper is
 * unreachable. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <malloc.h>
#include <math.h>
#include <netdb.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zkfence/zkfence.h>
#include <zookeeper/zookeeper.h>

#include "benchlib.h"

#define MAX_ROUNDS BENCH_MAX_ROUNDS
#define MAX_CLIENTS 64
#define MAX_LAT 8192     /* latency samples kept per client and round */
#define SESSION_MS 10000 /* every session: libzkfence's default, the floors', the peer's */
#define MANY_CYCLES 3    /* many-locks: acquire-all/release-all cycles per round */

typedef struct opts {
    const char *zk;
    int rounds;
    int cycles;     /* per round, sequential modes */
    int clients;    /* contended */
    double seconds; /* contended, per round */
    int locks;      /* many-locks */
    int procs;      /* contended: processes instead of threads */
    const char *only;
    const char *peer; /* command of the peer implementation, or NULL */
    int windows;      /* print each window's bounds to stderr */
} opts_t;

/* snprintf that refuses to truncate a ZooKeeper path. */
#define PATHF(buf, ...)                                                                            \
    do {                                                                                           \
        int n_ = snprintf(buf, sizeof(buf), __VA_ARGS__);                                          \
        if (n_ < 0 || (size_t)n_ >= sizeof(buf))                                                   \
            die("path too long");                                                                  \
    } while (0)

/* ---- server counters ---- */

/* Counters of the server: every request a client sent (zk_packets_received,
 * pings included), and every fsync of its transaction log
 * (zk_cnt_fsynctime), -1 where unknown; and of this process (every thread):
 * CPU time and voluntary context switches (each a wait for a wake-up). */
typedef struct counters {
    long long packets, fsyncs;
    double cpu_s;
    long ctxsw;
} counters_t;

static long long mntr_value(const char *text, const char *key)
{
    const char *p = strstr(text, key);
    return p ? atoll(p + strlen(key)) : -1;
}

/* The counters, from `mntr` on the first server of HOSTS. */
static counters_t mntr_read(const char *hosts)
{
    counters_t v = {.packets = -1, .fsyncs = -1, .ctxsw = -1};
    char host[256];
    snprintf(host, sizeof(host), "%s", hosts);
    host[strcspn(host, ",/")] = '\0';
    char *colon = strrchr(host, ':');
    if (!colon)
        return v;
    *colon = '\0';
    struct addrinfo hints = {0}, *ai;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, colon + 1, &hints, &ai) != 0)
        return v;
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 && write(fd, "mntr", 4) == 4) {
        char buf[32768];
        size_t len = 0;
        ssize_t n;
        while (len < sizeof(buf) - 1 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
            len += (size_t)n;
        buf[len] = '\0';
        v.packets = mntr_value(buf, "zk_packets_received");
        v.fsyncs = mntr_value(buf, "zk_cnt_fsynctime");
    }
    if (fd >= 0)
        close(fd);
    freeaddrinfo(ai);
    return v;
}

/* The server's counters and this process's, at one moment. */
static counters_t counters_read(const char *hosts)
{
    counters_t v = mntr_read(hosts);
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        v.cpu_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                  (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
        v.ctxsw = ru.ru_nvcsw;
    } else {
        v.ctxsw = -1;
    }
    return v;
}

static int show_windows; /* --windows */

/* With --windows: the wall-clock bounds of a measurement window and the
 * units of work done in it, for bench/op-breakdown. */
static void window_note(const char *mode, double w0, double w1, double units)
{
    if (show_windows)
        fprintf(stderr, "window %s %.6f %.6f %.0f\n", mode, w0, w1, units);
}

/* ---- raw ZooKeeper handles for the floors ---- */

typedef struct flag {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int set;
} flag_t;

#define FLAG_INIT                                                                                  \
    {                                                                                              \
        PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0                                     \
    }

static void flag_raise(flag_t *f)
{
    pthread_mutex_lock(&f->mu);
    f->set = 1;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

/* Waits for the flag and lowers it; -1 if it was not raised by `deadline`
 * (on the now_s() clock). */
static int flag_wait_until(flag_t *f, double deadline)
{
    struct timespec ts = {(time_t)deadline, (long)((deadline - (double)(time_t)deadline) * 1e9)};
    int rc = 0;
    pthread_mutex_lock(&f->mu);
    while (!f->set && rc == 0)
        rc = pthread_cond_clockwait(&f->cv, &f->mu, CLOCK_MONOTONIC, &ts);
    int raised = f->set;
    f->set = 0;
    pthread_mutex_unlock(&f->mu);
    return raised ? 0 : -1;
}

static void session_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    if (type == ZOO_SESSION_EVENT && state == ZOO_CONNECTED_STATE)
        flag_raise(ctx);
}

/* Any event on a watched node: it changed or went away. */
static void node_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    if (type != ZOO_SESSION_EVENT)
        flag_raise(ctx);
}

/* A raw handle with libzkfence's settings (recipes/client.c): the same
 * session timeout, and the hosts resolved again only after a lost
 * connection, not in every pass of libzookeeper's I/O loop. */
static zhandle_t *raw_connect(const char *hosts)
{
    static flag_t connected = FLAG_INIT;
    static pthread_mutex_t one = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&one); /* one flag, one connect at a time */
    zhandle_t *zh = zookeeper_init(hosts, session_watcher, SESSION_MS, NULL, &connected, 0);
    if (zh && zoo_set_servers_resolution_delay(zh, -1) != ZOK)
        die("zoo_set_servers_resolution_delay failed");
    if (!zh)
        die("zookeeper_init failed");
    if (flag_wait_until(&connected, now_s() + 30) != 0) {
        fprintf(stderr, "lock_bench: no session with %s within 30 s\n", hosts);
        exit(69);
    }
    pthread_mutex_unlock(&one);
    return zh;
}

static void ensure_path(zhandle_t *zh, const char *path)
{
    char buf[512];
    for (const char *p = strchr(path + 1, '/');; p = strchr(p + 1, '/')) {
        size_t len = p ? (size_t)(p - path) : strlen(path);
        if (len >= sizeof(buf))
            die("path too long");
        memcpy(buf, path, len);
        buf[len] = '\0';
        int rc = zoo_create(zh, buf, "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
        if (rc != ZOK && rc != ZNODEEXISTS)
            die("cannot create the benchmark's paths");
        if (!p)
            break;
    }
}

typedef struct result {
    double rate;     /* per second */
    double p50, p99; /* ms */
    double ops;      /* ZooKeeper requests per cycle or handoff */
    double fsyncs;   /* fsyncs of ZooKeeper's log per cycle or handoff */
    double cpu_us;   /* CPU of the clients' process per cycle or handoff, -1: not ours */
    double ctxsw;    /* its voluntary context switches per cycle or handoff */
} result_t;

/* Counter differences per unit of work, minus `own` requests the benchmark
 * sent itself (reads: no fsync). `ours`: the clients ran in this process. */
static void per_unit(result_t *r, counters_t a, counters_t b, double units, long long own, int ours)
{
    int ok = units > 0;
    r->ops =
        ok && a.packets >= 0 && b.packets >= 0 ? (double)(b.packets - a.packets - own) / units : -1;
    r->fsyncs = ok && a.fsyncs >= 0 && b.fsyncs >= 0 ? (double)(b.fsyncs - a.fsyncs) / units : -1;
    ok = ok && ours && a.ctxsw >= 0 && b.ctxsw >= 0;
    r->cpu_us = ok ? (b.cpu_s - a.cpu_s) * 1e6 / units : -1;
    r->ctxsw = ok ? (double)(b.ctxsw - a.ctxsw) / units : -1;
}

static void report(const char *name, const char *unit, const result_t *r, int rounds,
                   const char *extra)
{
    double rates[MAX_ROUNDS], p50[MAX_ROUNDS], p99[MAX_ROUNDS], ops[MAX_ROUNDS], fsyncs[MAX_ROUNDS],
        cpu[MAX_ROUNDS], cs[MAX_ROUNDS];
    for (int i = 0; i < rounds; i++) {
        rates[i] = r[i].rate;
        p50[i] = r[i].p50;
        p99[i] = r[i].p99;
        ops[i] = r[i].ops;
        fsyncs[i] = r[i].fsyncs;
        cpu[i] = r[i].cpu_us;
        cs[i] = r[i].ctxsw;
    }
    printf("%s %.1f %s p50_ms=%.3f p99_ms=%.3f zk_ops=%.2f zk_fsyncs=%.2f client_cpu_us=%.0f "
           "client_ctxsw=%.2f rounds=%d%s%s\n",
           name, median(rates, rounds), unit, median(p50, rounds), median(p99, rounds),
           median(ops, rounds), median(fsyncs, rounds), median(cpu, rounds), median(cs, rounds),
           rounds, extra ? " " : "", extra ? extra : "");
    fflush(stdout);
}

/* ---- the peer (--peer): another implementation, as a coprocess ---- */

/* "uncontended PATH CYCLES" -> RATE P50 P99 OPS FSYNCS CPU_US CTXSW UNITS W0 W1 */
static result_t peer_uncontended(const opts_t *o, peer_t *p, const char *path)
{
    double v[10];
    peer_call(p, v, 10, "uncontended %s %d", path, o->cycles);
    window_note("peer-uncontended", v[8], v[9], v[7]);
    result_t r = {v[0], v[1], v[2], v[3], v[4], v[5], v[6]};
    return r;
}

/* ---- floor-sync and uncontended ---- */

static result_t floor_sync_round(const opts_t *o, zhandle_t *zh, const char *dir)
{
    double *lat = malloc(sizeof(double) * (size_t)o->cycles);
    char prefix[512], made[512];
    PATHF(prefix, "%s/n-", dir);
    struct String_vector sv;
    counters_t k0 = counters_read(o->zk);
    double w0 = wall_s(), t0 = now_s();
    for (int i = 0; i < o->cycles; i++) {
        double a = now_s();
        if (zoo_create(zh, prefix, "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL_SEQUENTIAL, made,
                       sizeof(made)) != ZOK ||
            zoo_get_children(zh, dir, 0, &sv) != ZOK)
            die("floor-sync: create or get_children failed");
        deallocate_String_vector(&sv);
        if (zoo_delete(zh, made, -1) != ZOK)
            die("floor-sync: delete failed");
        lat[i] = (now_s() - a) * 1000;
    }
    double t = now_s() - t0;
    window_note("floor-sync", w0, wall_s(), o->cycles);
    counters_t k1 = counters_read(o->zk);
    result_t r = {.rate = o->cycles / t,
                  .p50 = pct(lat, (size_t)o->cycles, 50),
                  .p99 = pct(lat, (size_t)o->cycles, 99)};
    per_unit(&r, k0, k1, o->cycles, 0, 1);
    free(lat);
    return r;
}

/* One client cycling one lock. Release returned (acked = 0): a cycle ends
 * when zkf_lock_release returns, its multi sent but not answered. Release
 * acknowledged (acked = 1): a cycle ends when ZooKeeper has applied that
 * multi, seen by an exists on the released node from the lock's own session
 * answering ZNONODE (requests of a session are applied in the order sent,
 * so the answer comes after the multi's; on a standalone server no sync is
 * needed). That exists is not counted among the lock's requests. */
static result_t uncontended_round(const opts_t *o, zkf_client_t *c, const char *path, int acked)
{
    double *lat = malloc(sizeof(double) * (size_t)o->cycles);
    zhandle_t *zh = zkf_client_zhandle(c);
    zkf_lock_t *l;
    char name[256], node[768];
    if (zkf_lock_create(c, path, NULL, &l) != 0)
        die("zkf_lock_create failed");
    /* The first acquire creates the lock's path: not part of the cycle. */
    if (zkf_lock_acquire(l, -1, NULL) != 0 || zkf_lock_release(l) != 0)
        die("uncontended: warm-up cycle failed");
    counters_t k0 = counters_read(o->zk);
    double w0 = wall_s(), t0 = now_s();
    for (int i = 0; i < o->cycles; i++) {
        double a = now_s();
        if (zkf_lock_acquire(l, -1, NULL) != 0 ||
            (acked && zkf_lock_node(l, name, sizeof(name)) != 0) || zkf_lock_release(l) != 0)
            die("uncontended: cycle failed");
        if (acked) {
            PATHF(node, "%s/%s", path, name);
            if (zoo_exists(zh, node, 0, NULL) != ZNONODE)
                die("uncontended-acked: the released node is still there");
        }
        lat[i] = (now_s() - a) * 1000;
    }
    /* The last release's multi was sent, not awaited: a synchronous call
     * on the same session returns after the server has applied it. */
    if (zoo_exists(zh, path, 0, NULL) != ZOK)
        die("uncontended: exists failed");
    double t = now_s() - t0;
    window_note(acked ? "uncontended-acked" : "uncontended", w0, wall_s(), o->cycles);
    counters_t k1 = counters_read(o->zk);
    zkf_lock_destroy(l);
    /* minus the closing exists, and the acknowledging ones */
    result_t r = {.rate = o->cycles / t,
                  .p50 = pct(lat, (size_t)o->cycles, 50),
                  .p99 = pct(lat, (size_t)o->cycles, 99)};
    per_unit(&r, k0, k1, o->cycles, 1 + (acked ? o->cycles : 0), 1);
    free(lat);
    return r;
}

/* ---- floor-pipe ---- */

typedef struct pipe_state {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    zhandle_t *zh;
    const char *prefix;
    int done, target, issued, failed;
} pipe_state_t;

static void pipe_created(int rc, const char *value, const void *data);

/* Keeps the pipeline full: each finished pair starts the next. */
static void pipe_issue_locked(pipe_state_t *s)
{
    if (s->issued >= s->target)
        return;
    s->issued++;
    if (zoo_acreate(s->zh, s->prefix, "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL_SEQUENTIAL,
                    pipe_created, s) != ZOK) {
        s->failed++;
        s->done++;
    }
}

static void pipe_deleted(int rc, const void *data)
{
    pipe_state_t *s = (pipe_state_t *)data;
    pthread_mutex_lock(&s->mu);
    s->failed += rc != ZOK;
    s->done++;
    pipe_issue_locked(s);
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void pipe_created(int rc, const char *value, const void *data)
{
    pipe_state_t *s = (pipe_state_t *)data;
    if (rc != ZOK || zoo_adelete(s->zh, value, -1, pipe_deleted, s) != ZOK)
        pipe_deleted(rc == ZOK ? ZSYSTEMERROR : rc, data);
}

/* As many pairs in flight as many-locks has locks in flight (o->locks), and
 * as many pairs as it runs lock cycles (o->locks * MANY_CYCLES). */
static result_t floor_pipe_round(const opts_t *o, zhandle_t *zh, const char *dir)
{
    char prefix[512];
    PATHF(prefix, "%s/p-", dir);
    pipe_state_t s = {.mu = PTHREAD_MUTEX_INITIALIZER,
                      .cv = PTHREAD_COND_INITIALIZER,
                      .zh = zh,
                      .prefix = prefix,
                      .target = o->locks * MANY_CYCLES};
    counters_t k0 = counters_read(o->zk);
    double w0 = wall_s(), t0 = now_s();
    pthread_mutex_lock(&s.mu);
    for (int i = 0; i < o->locks; i++)
        pipe_issue_locked(&s);
    while (s.done < s.target)
        pthread_cond_wait(&s.cv, &s.mu);
    pthread_mutex_unlock(&s.mu);
    double t = now_s() - t0;
    window_note("floor-pipe", w0, wall_s(), s.target);
    counters_t k1 = counters_read(o->zk);
    if (s.failed)
        die("floor-pipe: operations failed");
    result_t r = {.rate = s.target / t};
    per_unit(&r, k0, k1, s.target, 0, 1);
    return r;
}

/* ---- many locks through the async API ---- */

typedef struct many {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int acquired, failed;
} many_t;

static void many_acquired(zkf_lock_t *l, int status, uint64_t token, void *arg)
{
    many_t *m = arg;
    pthread_mutex_lock(&m->mu);
    if (status == 0)
        m->acquired++;
    else
        m->failed++;
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
}

/* Resident memory, after handing free heap pages back to the kernel:
 * what is kept, not the high-water mark of a burst's transient buffers. */
static long rss_bytes(void)
{
    malloc_trim(0);
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, rss = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return rss * sysconf(_SC_PAGESIZE);
}

/* Heap bytes in use, all arenas: exact where RSS moves in pages and
 * reuses memory freed earlier. */
static long heap_bytes(void)
{
    struct mallinfo2 mi = mallinfo2();
    return (long)(mi.uordblks + mi.hblkhd);
}

/* Acquires every lock asynchronously, waits for all, releases all, and
 * waits until the server has processed the releases. */
static void many_cycle(const opts_t *o, zkf_client_t *c, zkf_lock_t **locks, const char *base,
                       long *rss_held, long *heap_held)
{
    many_t m = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    for (int i = 0; i < o->locks; i++)
        if (zkf_lock_acquire_async(locks[i], -1, many_acquired, &m) != 0)
            die("many-locks: acquire_async refused");
    pthread_mutex_lock(&m.mu);
    while (m.acquired + m.failed < o->locks)
        pthread_cond_wait(&m.cv, &m.mu);
    pthread_mutex_unlock(&m.mu);
    if (m.failed)
        die("many-locks: acquisitions failed");
    if (rss_held) {
        *rss_held = rss_bytes();
        *heap_held = heap_bytes();
    }
    for (int i = 0; i < o->locks; i++)
        if (zkf_lock_release(locks[i]) != 0)
            die("many-locks: release failed");
    if (zoo_exists(zkf_client_zhandle(c), base, 0, NULL) != ZOK) /* after every delete */
        die("many-locks: exists failed");
}

typedef struct made {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int n, failed;
} made_t;

static void path_made(int rc, const char *value, const void *data)
{
    made_t *m = (made_t *)data;
    pthread_mutex_lock(&m->mu);
    m->n++;
    m->failed += rc != ZOK && rc != ZNODEEXISTS;
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
}

/* Creates base/l0 .. l(L-1), pipelined on the raw handle. */
static void make_lock_paths(const opts_t *o, zhandle_t *zh, const char *base)
{
    made_t m = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    char path[512];
    for (int i = 0; i < o->locks; i++) {
        PATHF(path, "%s/l%d", base, i);
        if (zoo_acreate(zh, path, "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, path_made, &m) != ZOK)
            die("many-locks: cannot create the lock paths");
    }
    pthread_mutex_lock(&m.mu);
    while (m.n < o->locks)
        pthread_cond_wait(&m.cv, &m.mu);
    pthread_mutex_unlock(&m.mu);
    if (m.failed)
        die("many-locks: cannot create the lock paths");
}

static result_t many_round(const opts_t *o, zhandle_t *zh, zkf_client_t *c, const char *base,
                           double *rss_per, double *heap_per)
{
    zkf_lock_t **locks = calloc((size_t)o->locks, sizeof(*locks));
    char path[512];
    /* The lock paths exist beforehand, as they do for a service's locks
     * after its first use: what is measured is the cost of holding. */
    make_lock_paths(o, zh, base);
    /* One cycle first, on a lock of its own: the first acquisition of a
     * process pages in code (OpenSSL's random generator alone, for the
     * GUIDs, brought 1.6 MiB of libcrypto's text in: smaps), which is no
     * lock's memory. */
    zkf_lock_t *warm;
    PATHF(path, "%s/warm", base);
    if (zkf_lock_create(c, path, NULL, &warm) != 0 || zkf_lock_acquire(warm, -1, NULL) != 0 ||
        zkf_lock_release(warm) != 0)
        die("many-locks: warm-up cycle failed");
    zkf_lock_destroy(warm);
    /* Memory: from before the lock objects exist to all of them held. */
    long rss0 = rss_bytes(), rss1 = 0, heap0 = heap_bytes(), heap1 = 0;
    for (int i = 0; i < o->locks; i++) {
        PATHF(path, "%s/l%d", base, i);
        if (zkf_lock_create(c, path, NULL, &locks[i]) != 0)
            die("zkf_lock_create failed");
    }
    many_cycle(o, c, locks, base, &rss1, &heap1); /* not timed */
    *rss_per = (double)(rss1 - rss0) / o->locks;
    *heap_per = (double)(heap1 - heap0) / o->locks;
    const int cycles = MANY_CYCLES;
    counters_t k0 = counters_read(o->zk);
    double w0 = wall_s(), t0 = now_s();
    for (int k = 0; k < cycles; k++)
        many_cycle(o, c, locks, base, NULL, NULL);
    double t = now_s() - t0;
    window_note("many-locks", w0, wall_s(), (double)o->locks * cycles);
    counters_t k1 = counters_read(o->zk);
    for (int i = 0; i < o->locks; i++)
        zkf_lock_destroy(locks[i]);
    free(locks);
    double n = (double)o->locks * cycles;
    result_t r = {.rate = n / t};
    per_unit(&r, k0, k1, n, cycles, 1); /* minus the exists that closes each cycle */
    return r;
}

/* ---- contended: zkfence, and the synchronous recipe ---- */

/* Shared between the contenders, which may be processes: anonymous shared
 * memory (threads) or a memfd inherited across exec (processes). */
typedef struct shared {
    atomic_int ready;
    atomic_int go;
    atomic_int counting; /* the window is open (after the ramp) */
    atomic_int stop;
    atomic_int in_cs;
    atomic_int violations;
    atomic_int failures;
    long counter;         /* read-modify-written under the lock only */
    atomic_long entries;  /* every critical section: counter must equal it */
    atomic_long handoffs; /* those inside the measurement window */
    atomic_long per_client[MAX_CLIENTS];
    int nlat[MAX_CLIENTS];
    double lat_ms[MAX_CLIENTS][MAX_LAT];
} shared_t;

typedef struct contender {
    shared_t *sh;
    const char *zk;
    const char *path;
    int id;
    int sync_recipe;
} contender_t;

/* The critical section: an exclusion check and a non-atomic update that a
 * second holder would lose. */
static void critical_section(contender_t *ct, double waited_ms)
{
    shared_t *sh = ct->sh;
    if (atomic_exchange(&sh->in_cs, 1) != 0)
        atomic_fetch_add(&sh->violations, 1);
    long v = sh->counter;
    sched_yield();
    sh->counter = v + 1;
    atomic_fetch_add(&sh->entries, 1);
    if (atomic_load(&sh->counting) && !atomic_load(&sh->stop)) { /* inside the window only */
        if (sh->nlat[ct->id] < MAX_LAT)
            sh->lat_ms[ct->id][sh->nlat[ct->id]++] = waited_ms;
        atomic_fetch_add(&sh->per_client[ct->id], 1);
        atomic_fetch_add(&sh->handoffs, 1);
    }
    atomic_store(&sh->in_cs, 0);
}

/* The ramp before a contended window: a quarter of it, 1 s at most. */
static int ramp_ms(double seconds)
{
    return seconds >= 4 ? 1000 : (int)(seconds * 250);
}

static void start_line(shared_t *sh)
{
    atomic_fetch_add(&sh->ready, 1);
    while (!atomic_load(&sh->go))
        pause_ms(1);
}

/* A lock from the synchronous calls alone: what a recipe without
 * pipelining or asynchronous release does per handoff. */
static void sync_recipe_loop(contender_t *ct)
{
    zhandle_t *zh = raw_connect(ct->zk);
    char prefix[512], made[512], pp[1024];
    PATHF(prefix, "%s/lock-", ct->path);
    flag_t fired = FLAG_INIT;
    start_line(ct->sh);
    while (!atomic_load(&ct->sh->stop)) {
        double a = now_s();
        if (zoo_create(zh, prefix, "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL_SEQUENTIAL, made,
                       sizeof(made)) != ZOK) {
            atomic_fetch_add(&ct->sh->failures, 1);
            break;
        }
        const char *me = strrchr(made, '/') + 1;
        int held = 0;
        for (;;) {
            struct String_vector sv;
            if (zoo_get_children(zh, ct->path, 0, &sv) != ZOK)
                break;
            const char *pred = NULL; /* the highest name below ours */
            for (int i = 0; i < sv.count; i++)
                if (strcmp(sv.data[i], me) < 0 && (!pred || strcmp(sv.data[i], pred) > 0))
                    pred = sv.data[i];
            if (pred == NULL) {
                deallocate_String_vector(&sv);
                held = 1;
                break;
            }
            PATHF(pp, "%s/%s", ct->path, pred);
            deallocate_String_vector(&sv);
            /* As long as a zkfence contender waits (zkf_loop): 30 s. */
            int rc = zoo_wexists(zh, pp, node_watcher, &fired, NULL);
            if (rc == ZOK && flag_wait_until(&fired, now_s() + 30) != 0)
                break;
            if (rc != ZOK && rc != ZNONODE)
                break;
        }
        if (!held) {
            atomic_fetch_add(&ct->sh->failures, 1);
            break;
        }
        critical_section(ct, (now_s() - a) * 1000);
        if (zoo_delete(zh, made, -1) != ZOK) {
            atomic_fetch_add(&ct->sh->failures, 1);
            break;
        }
    }
    zookeeper_close(zh);
}

static void zkf_loop(contender_t *ct)
{
    zkf_client_t *c = bench_client(ct->zk, SESSION_MS);
    zkf_lock_t *l;
    if (zkf_lock_create(c, ct->path, NULL, &l) != 0)
        die("zkf_lock_create failed");
    start_line(ct->sh);
    while (!atomic_load(&ct->sh->stop)) {
        double a = now_s();
        int rc = zkf_lock_acquire(l, 30000, NULL);
        if (rc != 0) {
            fprintf(stderr, "lock_bench: contender %d: %s\n", ct->id, zkf_strerror(rc));
            atomic_fetch_add(&ct->sh->failures, 1);
            break;
        }
        critical_section(ct, (now_s() - a) * 1000);
        if (zkf_lock_release(l) != 0) {
            atomic_fetch_add(&ct->sh->failures, 1);
            break;
        }
    }
    zkf_lock_destroy(l);
    zkf_client_destroy(c);
}

static void *contender_main(void *arg)
{
    contender_t *ct = arg;
    if (ct->sync_recipe)
        sync_recipe_loop(ct);
    else
        zkf_loop(ct);
    return NULL;
}

/* --child FD ID SYNC PATH: one contender process of --procs. */
static int child_main(const char *zk, char **argv)
{
    int fd = atoi(argv[0]);
    shared_t *sh = mmap(NULL, sizeof(shared_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (sh == MAP_FAILED)
        return 1;
    contender_t ct = {sh, zk, argv[3], atoi(argv[1]), atoi(argv[2])};
    contender_main(&ct);
    return 0;
}

static result_t contended_round(const opts_t *o, const char *name, const char *path,
                                int sync_recipe, double *fairness, shared_t **out)
{
    int fd = -1;
    shared_t *sh;
    if (o->procs) {
        fd = memfd_create("lock_bench", 0); /* inherited by the children */
        if (fd < 0 || ftruncate(fd, sizeof(shared_t)) != 0)
            die("memfd failed");
        sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    } else {
        sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    }
    if (sh == MAP_FAILED)
        die("mmap failed");
    memset(sh, 0, sizeof(*sh));
    contender_t ct[MAX_CLIENTS];
    pthread_t th[MAX_CLIENTS];
    pid_t pids[MAX_CLIENTS];
    for (int i = 0; i < o->clients; i++) {
        ct[i] = (contender_t){sh, o->zk, path, i, sync_recipe};
        if (o->procs) {
            char sfd[16], sid[16], ssync[4];
            snprintf(sfd, sizeof(sfd), "%d", fd);
            snprintf(sid, sizeof(sid), "%d", i);
            snprintf(ssync, sizeof(ssync), "%d", sync_recipe);
            pids[i] = fork();
            if (pids[i] == 0) {
                execl("/proc/self/exe", "lock_bench", "--zk", o->zk, "--child", sfd, sid, ssync,
                      path, (char *)NULL);
                _exit(127);
            }
            if (pids[i] < 0)
                die("fork failed");
        } else if (pthread_create(&th[i], NULL, contender_main, &ct[i]) != 0) {
            die("pthread_create failed");
        }
    }
    /* Everyone connected: start together, and open the window once the
     * queue has formed (every contender's first create, listing and watch
     * are start-up, not handoffs). */
    double deadline = now_s() + 30;
    while (atomic_load(&sh->ready) < o->clients && now_s() < deadline)
        pause_ms(1);
    if (atomic_load(&sh->ready) < o->clients)
        die("contenders did not connect within 30 s");
    atomic_store(&sh->go, 1);
    pause_ms(ramp_ms(o->seconds));
    counters_t k0 = counters_read(o->zk);
    double w0 = wall_s(), t0 = now_s();
    atomic_store(&sh->counting, 1);
    pause_ms((int)(o->seconds * 1000)); /* the measurement window */
    atomic_store(&sh->stop, 1);
    double t = now_s() - t0;
    long total = atomic_load(&sh->handoffs);
    window_note(name, w0, wall_s(), (double)total);
    counters_t k1 = counters_read(o->zk);
    for (int i = 0; i < o->clients; i++) {
        if (o->procs) {
            int st;
            if (waitpid(pids[i], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
                atomic_fetch_add(&sh->failures, 1);
        } else {
            pthread_join(th[i], NULL);
        }
    }
    if (fd >= 0)
        close(fd);
    double sum = 0, sq = 0;
    static double all[MAX_CLIENTS * MAX_LAT];
    size_t nall = 0;
    for (int i = 0; i < o->clients; i++) {
        double n = (double)atomic_load(&sh->per_client[i]);
        sum += n;
        sq += n * n;
        for (int k = 0; k < sh->nlat[i]; k++)
            all[nall++] = sh->lat_ms[i][k];
    }
    *fairness = sq > 0 ? sum * sum / (o->clients * sq) : 0;
    *out = sh;
    result_t r = {.rate = total / t, .p50 = pct(all, nall, 50), .p99 = pct(all, nall, 99)};
    per_unit(&r, k0, k1, (double)total, 0, !o->procs);
    return r;
}

/* ---- main ---- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: lock_bench --zk HOSTS [--rounds R] [--cycles N] [--clients C]\n"
            "                  [--seconds S] [--locks L] [--procs] [--only sync|pipe|contended]\n"
            "                  [--peer CMD] [--windows]\n");
}

static void run_sync(const opts_t *o, zhandle_t *zh, zkf_client_t *c, peer_t *peer,
                     const char *base)
{
    result_t f[MAX_ROUNDS] = {0}, r[MAX_ROUNDS] = {0}, ra[MAX_ROUNDS] = {0}, pr[MAX_ROUNDS] = {0};
    char dir[512], path[512];
    PATHF(dir, "%s/sync", base);
    ensure_path(zh, dir);
    const int n = peer ? 4 : 3;
    for (int i = 0; i < o->rounds; i++) {
        for (int j = 0; j < n; j++) { /* the order rotates from round to round */
            switch ((i + j) % n) {
            case 0:
                f[i] = floor_sync_round(o, zh, dir);
                break;
            case 1:
                PATHF(path, "%s/u%d", base, i);
                r[i] = uncontended_round(o, c, path, 0);
                break;
            case 2:
                PATHF(path, "%s/ua%d", base, i);
                ra[i] = uncontended_round(o, c, path, 1);
                break;
            default:
                PATHF(path, "%s/pu%d", base, i);
                pr[i] = peer_uncontended(o, peer, path);
                break;
            }
        }
    }
    report("floor-sync", "cycles/s", f, o->rounds, NULL);
    report("uncontended", "cycles/s", r, o->rounds, "release=returned");
    report("uncontended-acked", "cycles/s", ra, o->rounds, "release=acknowledged");
    if (peer)
        report("peer-uncontended", "cycles/s", pr, o->rounds, "release=acknowledged");
}

static void run_pipe(const opts_t *o, zhandle_t *zh, zkf_client_t *c, const char *base)
{
    result_t f[MAX_ROUNDS], r[MAX_ROUNDS];
    double rss[MAX_ROUNDS], heap[MAX_ROUNDS];
    char dir[512], path[512], extra[160];
    PATHF(dir, "%s/pipe", base);
    ensure_path(zh, dir);
    for (int i = 0; i < o->rounds; i++) {
        for (int j = 0; j < 2; j++) { /* the order alternates from round to round */
            if ((i + j) % 2 == 0) {
                f[i] = floor_pipe_round(o, zh, dir);
                continue;
            }
            PATHF(path, "%s/many%d", base, i);
            ensure_path(zh, path);
            r[i] = many_round(o, zh, c, path, &rss[i], &heap[i]);
        }
    }
    snprintf(extra, sizeof(extra), "window=%d pairs=%d", o->locks, o->locks * MANY_CYCLES);
    report("floor-pipe", "pairs/s", f, o->rounds, extra);
    /* The first round's RSS is the honest one: later rounds reuse the
     * memory that earlier rounds' lock objects freed. */
    snprintf(extra, sizeof(extra),
             "locks=%d rss_bytes_per_held_lock=%.0f heap_bytes_per_held_lock=%.0f", o->locks,
             rss[0], median(heap, o->rounds));
    report("many-locks", "cycles/s", r, o->rounds, extra);
}

/* "contended PATH CLIENTS SECONDS threads|procs" -> RATE P50 P99 OPS FSYNCS
 * CPU_US CTXSW FAIRNESS VIOLATIONS LOST FAILURES UNITS W0 W1. Returns whether
 * it broke. */
static int peer_contended(const opts_t *o, peer_t *p, const char *path, result_t *r,
                          double *fairness)
{
    double v[14];
    const char *name = o->procs ? "peer-contended-procs" : "peer-contended";
    peer_call(p, v, 14, "contended %s %d %g %s", path, o->clients, o->seconds,
              o->procs ? "procs" : "threads");
    window_note(name, v[12], v[13], v[11]);
    *r = (result_t){v[0], v[1], v[2], v[3], v[4], v[5], v[6]};
    *fairness = v[7];
    if (v[8] != 0 || v[9] != 0 || v[10] != 0) {
        fprintf(stderr,
                "lock_bench: %s: %.0f exclusion violations, %.0f lost updates, %.0f failures\n",
                name, v[8], v[9], v[10]);
        return 1;
    }
    return 0;
}

/* One round of the floor or of zkfence; returns whether it broke. */
static int contended_one(const opts_t *o, const char *name, const char *path, int sync_recipe,
                         result_t *r, double *fairness)
{
    shared_t *sh;
    *r = contended_round(o, name, path, sync_recipe, fairness, &sh);
    long lost = atomic_load(&sh->entries) - sh->counter;
    int bad = atomic_load(&sh->violations) || atomic_load(&sh->failures) || lost;
    if (bad)
        fprintf(stderr, "lock_bench: %s: %d exclusion violations, %ld lost updates, %d failures\n",
                name, atomic_load(&sh->violations), lost, atomic_load(&sh->failures));
    munmap(sh, sizeof(*sh));
    return bad;
}

static int run_contended(const opts_t *o, zhandle_t *zh, peer_t *peer, const char *base)
{
    result_t f[MAX_ROUNDS] = {0}, r[MAX_ROUNDS] = {0}, pr[MAX_ROUNDS] = {0};
    double fair[MAX_ROUNDS] = {0}, ffair[MAX_ROUNDS] = {0}, pfair[MAX_ROUNDS] = {0};
    int bad[3] = {0, 0, 0}; /* floor, zkfence, peer */
    char path[512], extra[160], name[3][32];
    const char *sfx = o->procs ? "-procs" : "";
    snprintf(name[0], sizeof(name[0]), "contended-floor%s", sfx);
    snprintf(name[1], sizeof(name[1]), "contended%s", sfx);
    snprintf(name[2], sizeof(name[2]), "peer-contended%s", sfx);
    const int n = peer ? 3 : 2;
    for (int i = 0; i < o->rounds; i++) {
        for (int j = 0; j < n; j++) { /* the order rotates from round to round */
            int which = (i + j) % n;
            PATHF(path, "%s/%s%d", base, which == 0 ? "cf" : which == 1 ? "c" : "pc", i);
            ensure_path(zh, path);
            if (which == 0)
                bad[0] |= contended_one(o, name[0], path, 1, &f[i], &ffair[i]);
            else if (which == 1)
                bad[1] |= contended_one(o, name[1], path, 0, &r[i], &fair[i]);
            else
                bad[2] |= peer_contended(o, peer, path, &pr[i], &pfair[i]);
        }
    }
    const char *how = o->procs ? "processes" : "threads";
    const result_t *res[3] = {f, r, pr};
    const double *fairs[3] = {ffair, fair, pfair};
    for (int k = 0; k < n; k++) {
        snprintf(extra, sizeof(extra), "clients=%d %s fairness=%.3f violations=%d", o->clients, how,
                 median(fairs[k], o->rounds), bad[k]);
        report(name[k], "handoffs/s", res[k], o->rounds, extra);
    }
    return bad[0] || bad[1] || bad[2];
}

int main(int argc, char **argv)
{
    opts_t o = {NULL, 5, 500, 8, 20, 1000, 0, NULL, NULL, 0};
    static const struct option lo[] = {{"zk", required_argument, NULL, 'z'},
                                       {"rounds", required_argument, NULL, 'r'},
                                       {"cycles", required_argument, NULL, 'n'},
                                       {"clients", required_argument, NULL, 'c'},
                                       {"seconds", required_argument, NULL, 's'},
                                       {"locks", required_argument, NULL, 'l'},
                                       {"procs", no_argument, NULL, 'p'},
                                       {"only", required_argument, NULL, 'o'},
                                       {"child", no_argument, NULL, 'C'},
                                       {"peer", required_argument, NULL, 'P'},
                                       {"windows", no_argument, NULL, 'w'},
                                       {"help", no_argument, NULL, 'h'},
                                       {0, 0, 0, 0}};
    int ch, child = 0;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 'z':
            o.zk = optarg;
            break;
        case 'r':
            o.rounds = atoi(optarg);
            break;
        case 'n':
            o.cycles = atoi(optarg);
            break;
        case 'c':
            o.clients = atoi(optarg);
            break;
        case 's':
            o.seconds = atof(optarg);
            break;
        case 'l':
            o.locks = atoi(optarg);
            break;
        case 'p':
            o.procs = 1;
            break;
        case 'o':
            o.only = optarg;
            break;
        case 'C':
            child = 1;
            break;
        case 'P':
            o.peer = optarg;
            break;
        case 'w':
            o.windows = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 64;
        }
    }
    zoo_set_debug_level(0);
    signal(SIGPIPE, SIG_IGN); /* a peer gone away is an error from write */
    show_windows = o.windows;
    if (child && o.zk && argc - optind == 4)
        return child_main(o.zk, argv + optind);
    if (!o.zk || child || optind != argc || o.rounds < 1 || o.rounds > MAX_ROUNDS ||
        o.clients < 1 || o.clients > MAX_CLIENTS || o.cycles < 1 || o.locks < 1 || o.seconds <= 0 ||
        (o.only && strcmp(o.only, "sync") && strcmp(o.only, "pipe") &&
         strcmp(o.only, "contended"))) {
        usage(stderr);
        return 64;
    }
    zhandle_t *zh = raw_connect(o.zk);
    char base[128];
    snprintf(base, sizeof(base), "/zkfence-bench/%d-%ld", (int)getpid(), (long)time(NULL));
    ensure_path(zh, base);
    int bad = 0;
#define WANT(m) (o.only == NULL || strcmp(o.only, m) == 0)
    peer_t *peer =
        o.peer && (WANT("sync") || WANT("contended")) ? peer_start(o.peer, o.zk, SESSION_MS) : NULL;
    if (WANT("sync") || WANT("pipe")) {
        zkf_client_t *c = bench_client(o.zk, SESSION_MS);
        if (WANT("sync"))
            run_sync(&o, zh, c, peer, base);
        if (WANT("pipe"))
            run_pipe(&o, zh, c, base);
        zkf_client_destroy(c);
    }
    if (WANT("contended"))
        bad = run_contended(&o, zh, peer, base);
    if (peer)
        peer_stop(peer);
    zookeeper_close(zh);
    return bad;
}
