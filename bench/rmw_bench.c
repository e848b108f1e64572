/* bench/rmw: the locked read-modify-write cycle through zkfence-proxy, with
 * a fenced read against the same cycle with an ordinary read.
 *
 * K workers (threads, each with its own ZooKeeper session and HTTP
 * connection) contend for one lock; each cycle is
 *
 *     acquire -> GET the object -> PUT it back (4 KiB, fenced) -> release
 *
 * where the GET carries the lock and token (fenced: the read raises the
 * mark, the write then finds it equal) or not (plain: the write raises
 * it). Either way one mark is made durable per holding; the fenced cycle
 * also waits for the lock's section on its read. The object's first line
 * is a counter each cycle increments, so a lost update shows: after each
 * run the counter must equal the number of cycles.
 *
 * Rounds interleave the two modes, alternating which goes first, so that
 * drift in the machine hits both alike. Output, one line per mode:
 *
 *   rmw-fenced-kK RATE cycles/s p50_ms=.. p99_ms=.. rounds=R errors=E lost=L
 *   rmw-plain-kK  RATE cycles/s ...
 *
 * RATE is the median over rounds of cycles completed per second of the
 * window. Requests are signed with the key in AWS_ACCESS_KEY_ID /
 * AWS_SECRET_ACCESS_KEY (the proxy authenticates every request). Exit 0; 1
 * if a request failed (a 412 among them: no holder here
 * is ever stale) or an update was lost; 64 on a usage error. */
#include <curl/curl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zkfence/zkfence.h>

#define MAX_ROUNDS 64
#define MAX_WORKERS 64
#define MAX_LAT 65536 /* cycle latencies kept per worker and run */
#define BODY 4096

typedef struct opts {
    const char *zk;
    const char *proxy; /* base URL */
    const char *bucket;
    int rounds;
    int workers;
    double seconds;
} opts_t;

/* One run: K workers, one mode, one window. */
typedef struct run {
    const opts_t *o;
    int fenced;
    char url[512];  /* the object */
    char lock[128]; /* the lock path */
    atomic_int ready, stop;
    pthread_mutex_t mu; /* with cv: the start of the window */
    pthread_cond_t cv;
    int go;
    atomic_long cycles;   /* completed inside the window */
    atomic_long finished; /* completed in all (the counter's expected value) */
    atomic_long errors;
} run_t;

typedef struct worker {
    run_t *run;
    int id;
    double lat_ms[MAX_LAT];
    size_t nlat;
} worker_t;

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

static double pct(double *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof(double), cmp_double);
    size_t i = (size_t)ceil(p / 100.0 * (double)n);
    return v[i == 0 ? 0 : i > n ? n - 1 : i - 1];
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- HTTP ---- */

typedef struct got {
    char data[BODY + 1];
    size_t len;
} got_t;

static size_t keep(char *p, size_t size, size_t n, void *arg)
{
    got_t *g = arg;
    size_t bytes = size * n, take = bytes < BODY - g->len ? bytes : BODY - g->len;
    memcpy(g->data + g->len, p, take);
    g->len += take;
    g->data[g->len] = '\0';
    return bytes;
}

/* "AK:SECRET" from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, set in main()
 * before any worker starts and only read after; empty: unsigned (a proxy
 * with auth = off). */
static char userpwd[512];

/* One request on the worker's connection; lock/token NULL/0: none.
 * Returns the status, or -1. */
static long request(CURL *h, const char *method, const char *url, const char *lock, uint64_t token,
                    const char *body, got_t *got)
{
    char hl[200], ht[64];
    /* Signed (SigV4 by libcurl) with the key of the environment, as the
     * proxy requires. libcurl 7.88 does not send x-amz-content-sha256:
     * UNSIGNED-PAYLOAD, as SDKs do. No "Expect:" to remove the header: that
     * libcurl signs a removed header as if sent (the proxy then refuses);
     * instead it does not wait for a 100 Continue (below). */
    struct curl_slist *hdrs = curl_slist_append(NULL, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
    if (lock != NULL) {
        snprintf(hl, sizeof(hl), "X-Fencing-Lock: %s", lock);
        snprintf(ht, sizeof(ht), "X-Fencing-Token: %" PRIu64, token);
        hdrs = curl_slist_append(curl_slist_append(hdrs, hl), ht);
    }
    got->len = 0;
    got->data[0] = '\0';
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_EXPECT_100_TIMEOUT_MS, 0L);
    if (userpwd[0] != '\0') {
        curl_easy_setopt(h, CURLOPT_AWS_SIGV4, "aws:amz:us-east-1:s3");
        curl_easy_setopt(h, CURLOPT_USERPWD, userpwd);
    }
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, keep);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, got);
    if (body != NULL) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)BODY);
    } else {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, NULL);
    }
    long status = -1;
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdrs);
    return status;
}

/* ---- the cycle ---- */

/* acquire, GET, PUT the counter + 1, release. Returns 0 or -1. */
static int cycle(run_t *rn, zkf_lock_t *l, CURL *h, char *body)
{
    uint64_t token;
    if (zkf_lock_acquire(l, 60000, &token) != 0)
        return -1;
    got_t got;
    long st = request(h, "GET", rn->url, rn->fenced ? rn->lock : NULL, token, NULL, &got);
    long counter = st == 200 ? strtol(got.data, NULL, 10) : 0;
    int ok = st == 200 || st == 404; /* 404: the first cycle of the run */
    if (ok) {
        memset(body, '.', BODY);
        int n = snprintf(body, BODY, "%ld\n", counter + 1);
        body[n] = '.';
        st = request(h, "PUT", rn->url, rn->lock, token, body, &got);
        ok = st == 200;
    }
    if (!ok)
        fprintf(stderr, "rmw_bench: %s %s with token %" PRIu64 ": HTTP %ld %.200s\n",
                rn->fenced ? "fenced" : "plain", rn->url, token, st, got.data);
    return zkf_lock_release(l) == 0 && ok ? 0 : -1;
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    run_t *rn = w->run;
    zkf_client_options_t co;
    zkf_client_options_init(&co);
    co.hosts = rn->o->zk;
    co.zk_log_level = 0;
    zkf_client_t *c = NULL;
    zkf_lock_t *l = NULL;
    CURL *h = curl_easy_init();
    char *body = malloc(BODY + 1);
    if (zkf_client_connect(&co, &c) != 0 || zkf_lock_create(c, rn->lock, NULL, &l) != 0 ||
        h == NULL || body == NULL) {
        atomic_fetch_add(&rn->errors, 1);
        atomic_fetch_add(&rn->ready, 1);
        goto out;
    }
    atomic_fetch_add(&rn->ready, 1);
    pthread_mutex_lock(&rn->mu);
    while (!rn->go)
        pthread_cond_wait(&rn->cv, &rn->mu);
    pthread_mutex_unlock(&rn->mu);
    while (!atomic_load(&rn->stop)) {
        double t0 = now_s();
        if (cycle(rn, l, h, body) != 0) {
            atomic_fetch_add(&rn->errors, 1);
            break;
        }
        atomic_fetch_add(&rn->finished, 1);
        if (atomic_load(&rn->stop))
            break; /* ended after the window: not counted in the rate */
        atomic_fetch_add(&rn->cycles, 1);
        if (w->nlat < MAX_LAT)
            w->lat_ms[w->nlat++] = (now_s() - t0) * 1000;
    }
out:
    free(body);
    if (h != NULL)
        curl_easy_cleanup(h);
    zkf_lock_destroy(l);
    zkf_client_destroy(c);
    return NULL;
}

typedef struct result {
    double rate, p50, p99;
    long errors, lost;
} result_t;

static void pause_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* One window of `seconds` for one mode; round < 0 names the warm-up. */
static result_t one_run(const opts_t *o, int fenced, int round, double seconds)
{
    run_t *rn = calloc(1, sizeof(*rn));
    worker_t *w = calloc((size_t)o->workers, sizeof(*w));
    pthread_t th[MAX_WORKERS];
    result_t r = {0};
    if (rn == NULL || w == NULL) {
        fprintf(stderr, "rmw_bench: out of memory\n");
        exit(1);
    }
    rn->o = o;
    rn->fenced = fenced;
    pthread_mutex_init(&rn->mu, NULL);
    pthread_cond_init(&rn->cv, NULL);
    snprintf(rn->url, sizeof(rn->url), "%s/%s/rmw-k%d-%s%d-%s", o->proxy, o->bucket, o->workers,
             round < 0 ? "warm" : "r", round < 0 ? 0 : round, fenced ? "fenced" : "plain");
    snprintf(rn->lock, sizeof(rn->lock), "/zkfence-bench/rmw-k%d", o->workers);
    for (int i = 0; i < o->workers; i++) {
        w[i] = (worker_t){.run = rn, .id = i};
        pthread_create(&th[i], NULL, worker_main, &w[i]);
    }
    double deadline = now_s() + 30;
    while (atomic_load(&rn->ready) < o->workers && now_s() < deadline)
        pause_s(0.001); /* polling the workers' connection, with a deadline */
    double t0 = now_s();
    pthread_mutex_lock(&rn->mu);
    rn->go = 1;
    pthread_cond_broadcast(&rn->cv);
    pthread_mutex_unlock(&rn->mu);
    pause_s(seconds); /* the measurement window */
    atomic_store(&rn->stop, 1);
    double t = now_s() - t0;
    size_t n = 0;
    for (int i = 0; i < o->workers; i++) {
        pthread_join(th[i], NULL);
        n += w[i].nlat;
    }
    double *all = malloc(sizeof(double) * (n ? n : 1));
    size_t k = 0;
    for (int i = 0; i < o->workers; i++)
        for (size_t j = 0; j < w[i].nlat; j++)
            all[k++] = w[i].lat_ms[j];
    r.rate = (double)atomic_load(&rn->cycles) / t;
    r.p50 = pct(all, n, 50);
    r.p99 = pct(all, n, 99);
    r.errors = atomic_load(&rn->errors);
    /* The counter must have gone up once per finished cycle. */
    CURL *h = curl_easy_init();
    got_t got;
    long st = h ? request(h, "GET", rn->url, NULL, 0, NULL, &got) : -1;
    long counter = st == 200 ? strtol(got.data, NULL, 10) : 0;
    r.lost = atomic_load(&rn->finished) - counter;
    if (h != NULL)
        curl_easy_cleanup(h);
    free(all);
    free(w);
    pthread_cond_destroy(&rn->cv);
    pthread_mutex_destroy(&rn->mu);
    free(rn);
    return r;
}

static void report(const opts_t *o, const char *mode, result_t *r)
{
    double rate[MAX_ROUNDS], p50[MAX_ROUNDS], p99[MAX_ROUNDS];
    long errors = 0, lost = 0;
    for (int i = 0; i < o->rounds; i++) {
        rate[i] = r[i].rate;
        p50[i] = r[i].p50;
        p99[i] = r[i].p99;
        errors += r[i].errors;
        lost += r[i].lost;
    }
    printf("rmw-%s-k%d %.1f cycles/s p50_ms=%.3f p99_ms=%.3f rounds=%d errors=%ld lost=%ld\n", mode,
           o->workers, median(rate, o->rounds), median(p50, o->rounds), median(p99, o->rounds),
           o->rounds, errors, lost);
    fflush(stdout);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: rmw_bench --zk HOSTS --proxy URL [--bucket B] [--workers K]\n"
               "                 [--rounds R] [--seconds S]\n"
               "Requests are signed with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.\n");
}

int main(int argc, char **argv)
{
    opts_t o = {NULL, NULL, "rmw", 3, 1, 10};
    static const struct option lo[] = {
        {"zk", required_argument, NULL, 'z'},     {"proxy", required_argument, NULL, 'p'},
        {"bucket", required_argument, NULL, 'b'}, {"workers", required_argument, NULL, 'k'},
        {"rounds", required_argument, NULL, 'r'}, {"seconds", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},         {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'z':
            o.zk = optarg;
            break;
        case 'p':
            o.proxy = optarg;
            break;
        case 'b':
            o.bucket = optarg;
            break;
        case 'k':
            o.workers = atoi(optarg);
            break;
        case 'r':
            o.rounds = atoi(optarg);
            break;
        case 's':
            o.seconds = atof(optarg);
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 64;
        }
    }
    if (o.zk == NULL || o.proxy == NULL || o.workers < 1 || o.workers > MAX_WORKERS ||
        o.rounds < 1 || o.rounds > MAX_ROUNDS || !(o.seconds > 0)) {
        usage(stderr);
        return 64;
    }
    const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
    if (ak != NULL && sk != NULL && *ak != '\0' && *sk != '\0')
        snprintf(userpwd, sizeof(userpwd), "%s:%s", ak, sk);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    result_t fenced[MAX_ROUNDS], plain[MAX_ROUNDS];
    /* A warm-up of both modes, not counted: the first window of a run was
     * the slowest whichever mode it measured (the proxy's and ZooKeeper's
     * first transactions, cold caches). Errors still count. */
    double warm = o.seconds < 2 ? o.seconds : 2;
    result_t w1 = one_run(&o, 1, -1, warm), w0 = one_run(&o, 0, -1, warm);
    for (int i = 0; i < o.rounds; i++) {
        /* Alternate which mode goes first. */
        if (i % 2 == 0) {
            fenced[i] = one_run(&o, 1, i, o.seconds);
            plain[i] = one_run(&o, 0, i, o.seconds);
        } else {
            plain[i] = one_run(&o, 0, i, o.seconds);
            fenced[i] = one_run(&o, 1, i, o.seconds);
        }
        fprintf(stderr, "# rmw k=%d round %d: fenced %.1f/s, plain %.1f/s\n", o.workers, i + 1,
                fenced[i].rate, plain[i].rate);
    }
    report(&o, "fenced", fenced);
    report(&o, "plain", plain);
    curl_global_cleanup();
    long bad = w1.errors + w0.errors + w1.lost + w0.lost;
    for (int i = 0; i < o.rounds; i++)
        bad += fenced[i].errors + plain[i].errors + fenced[i].lost + plain[i].lost;
    return bad ? 1 : 0;
}
