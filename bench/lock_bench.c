/* bench/lock: libzkfence against its physical floor, in one run.
 *
 * Modes (each reports a median over rounds, plus p50/p99 latency, plus
 * ZooKeeper requests per cycle from the server's `mntr` packet counters):
 *
 *   floor-sync      zoo_create(ephemeral|sequential) + zoo_get_children +
 *                   zoo_delete, synchronous, one session: the synchronous floor
 *   floor-pipe      zoo_acreate/zoo_adelete pairs, many in flight, one
 *                   session: the server's capacity
 *   uncontended     zkf_lock_acquire + zkf_lock_release, one client
 *   contended       C clients (own sessions, threads or processes) on one lock
 *                   for D seconds; mutual exclusion checked; Jain's fairness
 *   contended-floor the same clients running a lock made of the synchronous
 *                   calls (create, get_children, wait for the predecessor with
 *                   wexists, delete): what a plain synchronous recipe achieves
 *   many-locks      one process cycling L distinct locks through the async API;
 *                   memory per held lock from the RSS delta
 *
 * Output: one line per case, "case value unit ..." key=value pairs; bench/run
 * turns them into the verdict table. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <netdb.h>
#include <sys/socket.h>
#include <zookeeper/zookeeper.h>
#include <zkfence/zkfence.h>

typedef struct opts {
    const char *zk;
    int rounds;
    int cycles;       /* per round, sequential modes */
    int clients;      /* contended */
    double seconds;   /* contended, per round */
    int locks;        /* many-locks */
    int procs;        /* contended: use processes instead of threads */
    const char *only; /* run one mode */
} opts_t;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double pct(double *v, int n, double p)
{
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    int i = (int)ceil(p / 100.0 * n) - 1;
    return v[i < 0 ? 0 : i >= n ? n - 1 : i];
}

/* ---- server counters ---- */

static long long mntr_packets(const char *hosts)
{
    char host[256];
    snprintf(host, sizeof(host), "%s", hosts);
    host[strcspn(host, ",/")] = '\0';
    char *colon = strrchr(host, ':');
    if (!colon)
        return -1;
    *colon = '\0';
    struct addrinfo hints = {0}, *ai;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, colon + 1, &hints, &ai) != 0)
        return -1;
    int fd = socket(ai->ai_family, SOCK_STREAM, 0);
    long long v = -1;
    if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 && write(fd, "mntr", 4) == 4) {
        char buf[16384];
        size_t len = 0;
        ssize_t n;
        while (len < sizeof(buf) - 1 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
            len += (size_t)n;
        buf[len] = '\0';
        char *p = strstr(buf, "zk_packets_received");
        if (p)
            v = atoll(p + strlen("zk_packets_received"));
    }
    if (fd >= 0)
        close(fd);
    freeaddrinfo(ai);
    return v;
}

/* ---- raw ZooKeeper handle for the floors ---- */

static pthread_mutex_t conn_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t conn_cv = PTHREAD_COND_INITIALIZER;

static void conn_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    if (type == ZOO_SESSION_EVENT && state == ZOO_CONNECTED_STATE) {
        pthread_mutex_lock(&conn_mu);
        *(int *)ctx = 1;
        pthread_cond_broadcast(&conn_cv);
        pthread_mutex_unlock(&conn_mu);
    }
}

static zhandle_t *raw_connect(const char *hosts, int *flag)
{
    *flag = 0;
    zhandle_t *zh = zookeeper_init(hosts, conn_watcher, 10000, NULL, flag, 0);
    if (!zh)
        return NULL;
    pthread_mutex_lock(&conn_mu);
    while (!*flag)
        pthread_cond_wait(&conn_cv, &conn_mu);
    pthread_mutex_unlock(&conn_mu);
    return zh;
}

static void ensure_path(zhandle_t *zh, const char *path)
{
    char buf[256];
    for (const char *p = strchr(path + 1, '/');; p = strchr(p + 1, '/')) {
        size_t len = p ? (size_t)(p - path) : strlen(path);
        memcpy(buf, path, len);
        buf[len] = '\0';
        zoo_create(zh, buf, "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
        if (!p)
            break;
    }
}

typedef struct result {
    double rate;     /* per second */
    double p50, p99; /* ms */
    double ops;      /* ZooKeeper requests per cycle */
} result_t;

static void report(const char *name, const char *unit, result_t *r, int rounds, const char *extra)
{
    double rates[64], p50[64], p99[64], ops[64];
    for (int i = 0; i < rounds; i++) {
        rates[i] = r[i].rate;
        p50[i] = r[i].p50;
        p99[i] = r[i].p99;
        ops[i] = r[i].ops;
    }
    printf("%s %.1f %s p50_ms=%.3f p99_ms=%.3f zk_ops_per_cycle=%.2f rounds=%d%s%s\n", name,
           median(rates, rounds), unit, median(p50, rounds), median(p99, rounds),
           median(ops, rounds), rounds, extra ? " " : "", extra ? extra : "");
    fflush(stdout);
}

/* ---- floor-sync ---- */

static result_t floor_sync_round(const opts_t *o, zhandle_t *zh, const char *dir)
{
    double *lat = malloc(sizeof(double) * (size_t)o->cycles);
    char prefix[256], made[256];
    snprintf(prefix, sizeof(prefix), "%s/n-", dir);
    struct String_vector sv;
    long long p0 = mntr_packets(o->zk);
    double t0 = now_s();
    for (int i = 0; i < o->cycles; i++) {
        double a = now_s();
        zoo_create(zh, prefix, "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL_SEQUENTIAL, made,
                   sizeof(made));
        zoo_get_children(zh, dir, 0, &sv);
        deallocate_String_vector(&sv);
        zoo_delete(zh, made, -1);
        lat[i] = (now_s() - a) * 1000;
    }
    double t = now_s() - t0;
    long long p1 = mntr_packets(o->zk);
    result_t r = {o->cycles / t, pct(lat, o->cycles, 50), pct(lat, o->cycles, 99),
                  (double)(p1 - p0 - 2) / o->cycles};
    free(lat);
    return r;
}

/* ---- floor-pipe ---- */

typedef struct pipe_state {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    zhandle_t *zh;
    const char *prefix;
    int in_flight, done, target, issued;
} pipe_state_t;

static void pipe_created(int rc, const char *value, const void *data);

static void pipe_deleted(int rc, const void *data)
{
    pipe_state_t *s = (pipe_state_t *)data;
    pthread_mutex_lock(&s->mu);
    s->done++;
    s->in_flight--;
    if (s->issued < s->target) {
        s->issued++;
        s->in_flight++;
        zoo_acreate(s->zh, s->prefix, "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL_SEQUENTIAL,
                    pipe_created, s);
    }
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void pipe_created(int rc, const char *value, const void *data)
{
    pipe_state_t *s = (pipe_state_t *)data;
    if (rc == ZOK)
        zoo_adelete(s->zh, value, -1, pipe_deleted, s);
    else
        pipe_deleted(rc, data);
}

static result_t floor_pipe_round(const opts_t *o, zhandle_t *zh, const char *dir)
{
    char prefix[256];
    snprintf(prefix, sizeof(prefix), "%s/p-", dir);
    pipe_state_t s = {
        PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, zh, prefix, 0, 0, o->cycles * 4, 0};
    long long p0 = mntr_packets(o->zk);
    double t0 = now_s();
    pthread_mutex_lock(&s.mu);
    for (int i = 0; i < 64 && s.issued < s.target; i++) {
        s.issued++;
        s.in_flight++;
        zoo_acreate(zh, prefix, "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL_SEQUENTIAL, pipe_created,
                    &s);
    }
    while (s.done < s.target)
        pthread_cond_wait(&s.cv, &s.mu);
    pthread_mutex_unlock(&s.mu);
    double t = now_s() - t0;
    long long p1 = mntr_packets(o->zk);
    result_t r = {s.target / t, 0, 0, (double)(p1 - p0 - 2) / s.target};
    return r;
}

/* ---- uncontended ---- */

static zkf_client_t *client(const char *hosts)
{
    zkf_client_options_t co;
    zkf_client_options_init(&co);
    co.hosts = hosts;
    co.zk_log_level = 0;
    zkf_client_t *c = NULL;
    if (zkf_client_connect(&co, &c) != 0) {
        fprintf(stderr, "lock_bench: cannot connect to %s\n", hosts);
        exit(69);
    }
    return c;
}

static result_t uncontended_round(const opts_t *o, zkf_client_t *c, const char *path)
{
    double *lat = malloc(sizeof(double) * (size_t)o->cycles);
    zkf_lock_t *l;
    zkf_lock_create(c, path, NULL, &l);
    zkf_lock_acquire(l, -1, NULL); /* path exists before we count */
    zkf_lock_release(l);
    long long p0 = mntr_packets(o->zk);
    double t0 = now_s();
    for (int i = 0; i < o->cycles; i++) {
        double a = now_s();
        if (zkf_lock_acquire(l, -1, NULL) != 0 || zkf_lock_release(l) != 0) {
            fprintf(stderr, "lock_bench: uncontended cycle failed\n");
            exit(1);
        }
        lat[i] = (now_s() - a) * 1000;
    }
    double t = now_s() - t0;
    long long p1 = mntr_packets(o->zk);
    zkf_lock_destroy(l);
    result_t r = {o->cycles / t, pct(lat, o->cycles, 50), pct(lat, o->cycles, 99),
                  (double)(p1 - p0 - 2) / o->cycles};
    free(lat);
    return r;
}

/* ---- contended (zkfence, and the synchronous recipe) ---- */

typedef struct shared {
    atomic_int in_cs;
    atomic_int violations;
    atomic_int stop;
    atomic_long handoffs;
    long per_client[64];
    double lat_ms[64][4096];
    int nlat[64];
} shared_t;

typedef struct contender {
    shared_t *sh;
    const opts_t *o;
    const char *path;
    int id;
    int sync_recipe;
} contender_t;

static void in_critical_section(shared_t *sh, int id, double waited_ms)
{
    if (atomic_exchange(&sh->in_cs, 1) != 0)
        atomic_fetch_add(&sh->violations, 1);
    sh->per_client[id]++;
    if (sh->nlat[id] < 4096)
        sh->lat_ms[id][sh->nlat[id]++] = waited_ms;
    atomic_fetch_add(&sh->handoffs, 1);
    atomic_store(&sh->in_cs, 0);
}

/* A lock from the synchronous calls alone: what a recipe without
 * pipelining or async release does per handoff. */
static void sync_recipe_loop(contender_t *ct)
{
    int flag;
    zhandle_t *zh = raw_connect(ct->o->zk, &flag);
    char prefix[256], made[256];
    snprintf(prefix, sizeof(prefix), "%s/lock-", ct->path);
    while (!atomic_load(&ct->sh->stop)) {
        double a = now_s();
        zoo_create(zh, prefix, "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL_SEQUENTIAL, made,
                   sizeof(made));
        const char *me = strrchr(made, '/') + 1;
        for (;;) {
            struct String_vector sv;
            if (zoo_get_children(zh, ct->path, 0, &sv) != ZOK)
                break;
            const char *pred = NULL;
            for (int i = 0; i < sv.count; i++) /* highest name below ours */
                if (strcmp(sv.data[i], me) < 0 && (!pred || strcmp(sv.data[i], pred) > 0))
                    pred = sv.data[i];
            if (pred == NULL) {
                deallocate_String_vector(&sv);
                break;
            }
            char pp[512];
            snprintf(pp, sizeof(pp), "%s/%s", ct->path, pred);
            deallocate_String_vector(&sv);
            int fired = 0;
            if (zoo_wexists(zh, pp, conn_watcher, &fired, NULL) == ZOK) {
                pthread_mutex_lock(&conn_mu);
                while (!fired)
                    pthread_cond_wait(&conn_cv, &conn_mu);
                pthread_mutex_unlock(&conn_mu);
            }
        }
        in_critical_section(ct->sh, ct->id, (now_s() - a) * 1000);
        zoo_delete(zh, made, -1);
    }
    zookeeper_close(zh);
}

static void zkf_loop(contender_t *ct)
{
    zkf_client_t *c = client(ct->o->zk);
    zkf_lock_t *l;
    zkf_lock_create(c, ct->path, NULL, &l);
    while (!atomic_load(&ct->sh->stop)) {
        double a = now_s();
        if (zkf_lock_acquire(l, 10000, NULL) != 0)
            continue;
        in_critical_section(ct->sh, ct->id, (now_s() - a) * 1000);
        zkf_lock_release(l);
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

static result_t contended_round(const opts_t *o, const char *path, int sync_recipe,
                                double *fairness, int *violations)
{
    shared_t *sh =
        mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    memset(sh, 0, sizeof(*sh));
    contender_t ct[64];
    pthread_t th[64];
    pid_t pids[64];
    long long p0 = mntr_packets(o->zk);
    double t0 = now_s();
    for (int i = 0; i < o->clients; i++) {
        ct[i] = (contender_t){sh, o, path, i, sync_recipe};
        if (o->procs) {
            pids[i] = fork();
            if (pids[i] == 0) {
                contender_main(&ct[i]);
                _exit(0);
            }
        } else {
            pthread_create(&th[i], NULL, contender_main, &ct[i]);
        }
    }
    struct timespec run = {(time_t)o->seconds,
                           (long)((o->seconds - (double)(time_t)o->seconds) * 1e9)};
    nanosleep(&run, NULL); /* the measurement window */
    atomic_store(&sh->stop, 1);
    for (int i = 0; i < o->clients; i++) {
        if (o->procs)
            waitpid(pids[i], NULL, 0);
        else
            pthread_join(th[i], NULL);
    }
    double t = now_s() - t0;
    long long p1 = mntr_packets(o->zk);
    long total = atomic_load(&sh->handoffs);
    double sum = 0, sq = 0;
    static double all[64 * 4096];
    int nall = 0;
    for (int i = 0; i < o->clients; i++) {
        sum += (double)sh->per_client[i];
        sq += (double)sh->per_client[i] * (double)sh->per_client[i];
        for (int k = 0; k < sh->nlat[i]; k++)
            all[nall++] = sh->lat_ms[i][k];
    }
    *fairness = sq > 0 ? sum * sum / (o->clients * sq) : 0;
    *violations = atomic_load(&sh->violations);
    result_t r = {total / t, nall ? pct(all, nall, 50) : 0, nall ? pct(all, nall, 99) : 0,
                  total ? (double)(p1 - p0 - 2) / total : 0};
    munmap(sh, sizeof(*sh));
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

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, rss = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static result_t many_round(const opts_t *o, zkf_client_t *c, const char *base, double *bytes_per)
{
    zkf_lock_t **locks = calloc((size_t)o->locks, sizeof(*locks));
    char path[256];
    for (int i = 0; i < o->locks; i++) {
        snprintf(path, sizeof(path), "%s/l%d", base, i);
        zkf_lock_create(c, path, NULL, &locks[i]);
    }
    /* warm: parents exist */
    many_t m = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    long rss0 = rss_kb();
    long long p0 = mntr_packets(o->zk);
    double t0 = now_s();
    for (int i = 0; i < o->locks; i++)
        zkf_lock_acquire_async(locks[i], -1, many_acquired, &m);
    pthread_mutex_lock(&m.mu);
    while (m.acquired + m.failed < o->locks)
        pthread_cond_wait(&m.cv, &m.mu);
    pthread_mutex_unlock(&m.mu);
    long rss1 = rss_kb();
    for (int i = 0; i < o->locks; i++)
        zkf_lock_release(locks[i]);
    double t = now_s() - t0;
    long long p1 = mntr_packets(o->zk);
    *bytes_per = (double)(rss1 - rss0) * 1024.0 / o->locks;
    for (int i = 0; i < o->locks; i++)
        zkf_lock_destroy(locks[i]);
    free(locks);
    result_t r = {o->locks / t, 0, 0, (double)(p1 - p0 - 2) / o->locks};
    return r;
}

int main(int argc, char **argv)
{
    opts_t o = {NULL, 5, 300, 8, 20, 1000, 0, NULL};
    static const struct option lo[] = {{"zk", required_argument, NULL, 'z'},
                                       {"rounds", required_argument, NULL, 'r'},
                                       {"cycles", required_argument, NULL, 'n'},
                                       {"clients", required_argument, NULL, 'c'},
                                       {"seconds", required_argument, NULL, 's'},
                                       {"locks", required_argument, NULL, 'l'},
                                       {"procs", no_argument, NULL, 'p'},
                                       {"only", required_argument, NULL, 'o'},
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
        default:
            fprintf(stderr, "usage: lock_bench --zk HOSTS [--rounds R] [--cycles N] [--clients C] "
                            "[--seconds S] [--locks L] [--procs] [--only MODE]\n");
            return 64;
        }
    }
    if (!o.zk || o.rounds < 1 || o.rounds > 64 || o.clients < 1 || o.clients > 64)
        return 64;
    zoo_set_debug_level(0);
    int flag;
    zhandle_t *zh = raw_connect(o.zk, &flag);
    char base[128];
    snprintf(base, sizeof(base), "/zkfence-bench/%d", (int)getpid());
    ensure_path(zh, base);
    zkf_client_t *c = client(o.zk);
    result_t r[64];
    char path[256], extra[128];
#define WANT(m) (o.only == NULL || strcmp(o.only, m) == 0)
    /* Interleave the floor and the library round by round, so that drift
     * in the machine hits both alike. */
    if (WANT("uncontended") || WANT("floor-sync")) {
        result_t f[64];
        snprintf(path, sizeof(path), "%s/sync", base);
        ensure_path(zh, path);
        for (int i = 0; i < o.rounds; i++) {
            f[i] = floor_sync_round(&o, zh, path);
            snprintf(path, sizeof(path), "%s/u%d", base, i);
            r[i] = uncontended_round(&o, c, path);
            snprintf(path, sizeof(path), "%s/sync", base);
        }
        report("floor-sync", "cycles/s", f, o.rounds, NULL);
        report("uncontended", "cycles/s", r, o.rounds, NULL);
    }
    if (WANT("floor-pipe") || WANT("many-locks")) {
        result_t f[64];
        double bytes[64];
        snprintf(path, sizeof(path), "%s/pipe", base);
        ensure_path(zh, path);
        for (int i = 0; i < o.rounds; i++) {
            f[i] = floor_pipe_round(&o, zh, path);
            snprintf(path, sizeof(path), "%s/many%d", base, i);
            ensure_path(zh, path);
            r[i] = many_round(&o, c, path, &bytes[i]);
            snprintf(path, sizeof(path), "%s/pipe", base);
        }
        report("floor-pipe", "pairs/s", f, o.rounds, NULL);
        snprintf(extra, sizeof(extra), "bytes_per_held_lock=%.0f", median(bytes, o.rounds));
        report("many-locks", "cycles/s", r, o.rounds, extra);
    }
    if (WANT("contended")) {
        result_t f[64];
        double fair[64], ffair[64];
        int viol = 0, v;
        int rounds = o.rounds < 3 ? o.rounds : 3; /* each round lasts --seconds */
        for (int i = 0; i < rounds; i++) {
            snprintf(path, sizeof(path), "%s/cf%d", base, i);
            ensure_path(zh, path);
            f[i] = contended_round(&o, path, 1, &ffair[i], &v);
            viol += v;
            snprintf(path, sizeof(path), "%s/c%d", base, i);
            r[i] = contended_round(&o, path, 0, &fair[i], &v);
            viol += v;
        }
        snprintf(extra, sizeof(extra), "clients=%d %s fairness=%.3f violations=%d", o.clients,
                 o.procs ? "processes" : "threads", median(ffair, rounds), 0);
        report("contended-floor", "handoffs/s", f, rounds, extra);
        snprintf(extra, sizeof(extra), "clients=%d %s fairness=%.3f violations=%d", o.clients,
                 o.procs ? "processes" : "threads", median(fair, rounds), viol);
        report(o.procs ? "contended-procs" : "contended", "handoffs/s", r, rounds, extra);
        if (viol)
            return 1;
    }
    zkf_client_destroy(c);
    zookeeper_close(zh);
    return 0;
}
