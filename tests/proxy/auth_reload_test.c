/* Credentials reloads against requests in flight (proxy/auth/auth.c, its
 * top comment): threads decide signed requests while another thread
 * reloads the credentials file again and again.
 *
 * The two sets it alternates between give one access key a different
 * secret AND a different bucket: a request signed with set A's secret for
 * bucket "bkt-a" is accepted under A, refused as SignatureDoesNotMatch under
 * B, and would be refused as AccessDenied only if it were verified against
 * one set and granted its rights from the other. The suite asserts that
 * never happens, that a request keeps its set across reloads (its key
 * stays readable: ASan and the valgrind twin catch a set freed under it),
 * that requests may end on another thread than the one that started them,
 * and that an old set is freed once the last request holding it ends,
 * even though the threads that used it stay alive and idle. */
#include <CUnit/Basic.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth/auth.h"
#include "harness.h"
#include "zkf_test.h"
#include "http/request.h"
#include "util/config.h"

#define AK "AKRELOAD00000001"
#define HOST "127.0.0.1:9000"
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define WORKERS 4
#define INFLIGHT 4 /* requests each worker keeps open at once */

/* One generation of the credentials file. */
typedef struct gen {
    const char *secret;
    const char *bucket; /* the one bucket the key may read */
    const char *path;   /* an object in it */
} gen_t;

static const gen_t gens[2] = {
    {"reload-secret-A-0123456789abcdef", "bkt-a", "/bkt-a/obj"},
    {"reload-secret-B-fedcba9876543210", "bkt-b", "/bkt-b/obj"},
};

static char dir[64];
static char creds_path[96];

/* Writes generation g's file (and an extra key, so the sets differ in
 * size too), replacing the old one whole. */
static int write_gen(int g)
{
    char tmp[128], text[512];
    snprintf(tmp, sizeof(tmp), "%s/creds.tmp", dir);
    int n = snprintf(text, sizeof(text),
                     "key %s %s\ngrant %s %s read\nkey AKOTHER%d other-secret-0123456789\n", AK,
                     gens[g].secret, AK, gens[g].bucket, g);
    FILE *f = fopen(tmp, "w");
    if (f == NULL)
        return -1;
    int ok = fchmod(fileno(f), 0600) == 0 && fwrite(text, 1, (size_t)n, f) == (size_t)n;
    ok = fclose(f) == 0 && ok;
    return ok && rename(tmp, creds_path) == 0 ? 0 : -1;
}

/* A GET of generation g's object, signed with its secret, as a client
 * would send it. */
typedef struct signed_get {
    zkp_sigv4_signed_t s;
    zkp_sigv4_header_t h[4];
    zkp_op_t op;
    zkp_auth_input_t in;
} signed_get_t;

static int sign_get(int g, time_t when, signed_get_t *out)
{
    memset(out, 0, sizeof(*out));
    zkp_sigv4_header_t host = {"host", 4, HOST, strlen(HOST)};
    zkp_sigv4_creds_t creds = {AK, gens[g].secret, "us-east-1", NULL};
    zkp_sigv4_sign_req_t sr = {.method = "GET",
                               .path = gens[g].path,
                               .headers = &host,
                               .n_headers = 1,
                               .payload_hash = EMPTY_SHA256,
                               .when = when};
    if (zkp_sigv4_sign(&creds, &sr, &out->s) != 0)
        return -1;
    zkp_sigv4_header_t h[4] = {
        {"Host", 4, HOST, strlen(HOST)},
        {"x-amz-date", 10, out->s.amz_date, strlen(out->s.amz_date)},
        {"x-amz-content-sha256", 20, out->s.content_sha256, strlen(out->s.content_sha256)},
        {"Authorization", 13, out->s.authorization, strlen(out->s.authorization)},
    };
    memcpy(out->h, h, sizeof(h));
    zkp_request_in_t rin = {.method = "GET", .target = gens[g].path};
    zkp_request_classify(&rin, &out->op);
    out->in = (zkp_auth_input_t){.method = "GET",
                                 .target = gens[g].path,
                                 .target_len = strlen(gens[g].path),
                                 .headers = out->h,
                                 .n_headers = 4,
                                 .now = when,
                                 .peer_loopback = 1,
                                 .op = &out->op};
    return 0;
}

static zkp_auth_t *open_auth(void)
{
    zkp_config_t cfg;
    zkp_config_defaults(&cfg);
    cfg.credentials = strdup(creds_path);
    char err[512];
    zkp_auth_t *a = NULL;
    int rc = zkp_auth_open(&cfg, &a, err, sizeof(err));
    zkp_config_free(&cfg);
    if (rc != 0)
        fprintf(stderr, "auth_reload_test: %s\n", err);
    return a;
}

static int reload(zkp_auth_t *a, int g)
{
    char msg[512];
    if (write_gen(g) != 0 || zkp_auth_reload(a, msg, sizeof(msg)) != 0) {
        fprintf(stderr, "auth_reload_test: reload to %d: %s\n", g, msg);
        return -1;
    }
    return 0;
}

/* Generation 0 in force, and a GET of each generation signed now. */
static zkp_auth_t *start(signed_get_t gets[2])
{
    time_t now = time(NULL);
    if (write_gen(0) != 0 || sign_get(0, now, &gets[0]) != 0 || sign_get(1, now, &gets[1]) != 0)
        return NULL;
    return open_auth();
}

/* --- many threads deciding while one reloads ------------------------------------------------ */

typedef struct shared {
    zkp_auth_t *auth;
    const signed_get_t *gets; /* [2] */
    atomic_int stop;
    atomic_int reloads_done;
} shared_t;

typedef struct worker {
    shared_t *sh;
    pthread_t tid;
    long accepted, mismatched, mixed, other;
    /* Requests still open when the worker returns: the main thread ends
     * them, after the worker has exited. */
    zkp_req_auth_t open[INFLIGHT];
    const char *open_bucket[INFLIGHT];
    int nopen;
    int bad_hold; /* an open request's key lost its rights */
} worker_t;

/* A request that was accepted must still read its bucket (its key, in its
 * own set), however many reloads happened since. */
static int still_reads(const zkp_req_auth_t *out, const char *bucket)
{
    return out->who != NULL && out->may_read != NULL && out->may_read(out->who, bucket);
}

static void *work(void *arg)
{
    worker_t *w = arg;
    shared_t *sh = w->sh;
    size_t next = 0; /* the open slot to end and reuse next */
    /* Until the reloads are over, and for at least a few requests. */
    for (long i = 0; !atomic_load(&sh->stop) || i < 2000; i++) {
        int g = (int)(i & 1);
        zkp_req_auth_t out;
        zkp_auth_refusal_t why;
        int rc = zkp_auth_decide(sh->auth, &sh->gets[g].in, &out, &why);
        if (rc == 0) {
            w->accepted++;
            if (w->nopen == INFLIGHT) {
                /* The oldest open request ends now: check it first. */
                if (!still_reads(&w->open[next], w->open_bucket[next]))
                    w->bad_hold = 1;
                zkp_req_auth_end(&w->open[next]);
                w->nopen--;
            }
            w->open[next] = out;
            w->open_bucket[next] = gens[g].bucket;
            w->nopen++;
            next = (next + 1) % INFLIGHT;
        } else if (why.code != NULL && strcmp(why.code, "SignatureDoesNotMatch") == 0) {
            w->mismatched++; /* signed for the other set: expected */
        } else if (why.code != NULL && strcmp(why.code, "AccessDenied") == 0) {
            w->mixed++; /* verified by one set, refused by the other's rights */
        } else {
            w->other++;
        }
        zkp_auth_refusal_free(&why);
    }
    return NULL;
}

static void test_reload_under_load(void)
{
    static signed_get_t gets[2];
    zkp_auth_t *a = start(gets);
    CU_ASSERT_FATAL(a != NULL);

    shared_t sh = {.auth = a, .gets = gets};
    static worker_t w[WORKERS];
    memset(w, 0, sizeof(w));
    for (int i = 0; i < WORKERS; i++) {
        w[i].sh = &sh;
        CU_ASSERT_FATAL(pthread_create(&w[i].tid, NULL, work, &w[i]) == 0);
    }
    int reloads = zt_under_valgrind() ? 40 : 400, failed = 0;
    for (int i = 1; i <= reloads && !failed; i++)
        failed = reload(a, i & 1) != 0;
    atomic_store(&sh.stop, 1);
    for (int i = 0; i < WORKERS; i++)
        pthread_join(w[i].tid, NULL);
    CU_ASSERT_FALSE(failed);

    long accepted = 0, mismatched = 0, mixed = 0, other = 0;
    for (int i = 0; i < WORKERS; i++) {
        accepted += w[i].accepted;
        mismatched += w[i].mismatched;
        mixed += w[i].mixed;
        other += w[i].other;
        CU_ASSERT_FALSE(w[i].bad_hold);
    }
    CU_ASSERT_EQUAL(mixed, 0);
    CU_ASSERT_EQUAL(other, 0);
    CU_ASSERT(accepted > 0);
    CU_ASSERT(mismatched > 0);
    /* The workers have exited; the requests they left open still hold
     * their sets, which they still read, and end here, on another thread. */
    for (int i = 0; i < WORKERS; i++)
        for (int j = 0; j < w[i].nopen; j++) {
            CU_ASSERT_TRUE(still_reads(&w[i].open[j], w[i].open_bucket[j]));
            zkp_req_auth_end(&w[i].open[j]);
        }
    CU_ASSERT_EQUAL(zkp_auth_sets_live(a), 1);
    /* The last generation is the one in force. */
    int last = reloads & 1;
    zkp_req_auth_t out;
    zkp_auth_refusal_t why;
    CU_ASSERT_EQUAL(zkp_auth_decide(a, &gets[last].in, &out, &why), 0);
    zkp_req_auth_end(&out);
    CU_ASSERT_NOT_EQUAL(zkp_auth_decide(a, &gets[!last].in, &out, &why), 0);
    CU_ASSERT_STRING_EQUAL(why.code, "SignatureDoesNotMatch");
    zkp_auth_refusal_free(&why);
    zkp_auth_close(a);
}

/* --- a request keeps its set; the set goes with its last request ------------------------------ */

typedef struct idle_thread {
    zkp_auth_t *auth;
    const zkp_auth_input_t *in;
    int rc;
} idle_thread_t;

/* Decides one request and ends it, then the thread exits. */
static void *decide_once(void *arg)
{
    idle_thread_t *t = arg;
    zkp_req_auth_t out;
    zkp_auth_refusal_t why;
    t->rc = zkp_auth_decide(t->auth, t->in, &out, &why);
    zkp_req_auth_end(&out);
    zkp_auth_refusal_free(&why);
    return NULL;
}

/* Decides one request, signals, and waits (alive, idle) until told to go. */
typedef struct parked {
    idle_thread_t t;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int decided, go;
} parked_t;

static void *decide_and_park(void *arg)
{
    parked_t *p = arg;
    decide_once(&p->t);
    pthread_mutex_lock(&p->mu);
    p->decided = 1;
    pthread_cond_broadcast(&p->cv);
    while (!p->go)
        pthread_cond_wait(&p->cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static void test_sets_freed(void)
{
    static signed_get_t gets[2];
    zkp_auth_t *a = start(gets);
    CU_ASSERT_FATAL(a != NULL);
    CU_ASSERT_EQUAL(zkp_auth_sets_live(a), 1);

    /* A thread that decided and stays alive, idle, does not pin the set it
     * used: after the reload, only the new set is left. */
    parked_t p = {
        .t = {a, &gets[0].in, -1}, .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    pthread_t tid;
    CU_ASSERT_FATAL(pthread_create(&tid, NULL, decide_and_park, &p) == 0);
    pthread_mutex_lock(&p.mu);
    while (!p.decided)
        pthread_cond_wait(&p.cv, &p.mu);
    pthread_mutex_unlock(&p.mu);
    CU_ASSERT_EQUAL(p.t.rc, 0);
    CU_ASSERT_FATAL(reload(a, 1) == 0);
    CU_ASSERT_EQUAL(zkp_auth_sets_live(a), 1);

    /* A request open across two reloads keeps its set (and its rights in
     * it) until it ends; the set in between, which no request held, is
     * freed at once. */
    zkp_req_auth_t held;
    zkp_auth_refusal_t why;
    CU_ASSERT_FATAL(zkp_auth_decide(a, &gets[1].in, &held, &why) == 0);
    CU_ASSERT_FATAL(reload(a, 0) == 0);
    CU_ASSERT_EQUAL(zkp_auth_sets_live(a), 2);
    CU_ASSERT_FATAL(reload(a, 1) == 0);
    CU_ASSERT_EQUAL(zkp_auth_sets_live(a), 2);
    CU_ASSERT_TRUE(still_reads(&held, "bkt-b"));
    CU_ASSERT_FALSE(still_reads(&held, "bkt-a"));
    CU_ASSERT_STRING_EQUAL(held.access_key, AK);

    /* Its end frees it, whatever other threads did meanwhile. */
    idle_thread_t t = {a, &gets[1].in, -1};
    pthread_t other;
    CU_ASSERT_FATAL(pthread_create(&other, NULL, decide_once, &t) == 0);
    pthread_join(other, NULL);
    CU_ASSERT_EQUAL(t.rc, 0); /* a thread that exited right after deciding */
    zkp_req_auth_end(&held);
    CU_ASSERT_EQUAL(zkp_auth_sets_live(a), 1);

    pthread_mutex_lock(&p.mu);
    p.go = 1;
    pthread_cond_broadcast(&p.cv);
    pthread_mutex_unlock(&p.mu);
    pthread_join(tid, NULL);
    CU_ASSERT_EQUAL(zkp_auth_sets_live(a), 1);
    zkp_auth_close(a);
}

/* A failed reload keeps the set in force, and the threads' hold on it. */
static void test_failed_reload(void)
{
    static signed_get_t gets[2];
    zkp_auth_t *a = start(gets);
    CU_ASSERT_FATAL(a != NULL);
    const signed_get_t *get = &gets[0];
    zkp_req_auth_t out;
    zkp_auth_refusal_t why;
    CU_ASSERT_EQUAL(zkp_auth_decide(a, &get->in, &out, &why), 0);
    zkp_req_auth_end(&out);
    CU_ASSERT_FATAL(chmod(creds_path, 0644) == 0); /* readable by others: refused */
    char msg[512];
    CU_ASSERT_EQUAL(zkp_auth_reload(a, msg, sizeof(msg)), -1);
    CU_ASSERT_EQUAL(zkp_auth_sets_live(a), 1);
    CU_ASSERT_EQUAL(zkp_auth_decide(a, &get->in, &out, &why), 0);
    zkp_req_auth_end(&out);
    zkp_auth_close(a);
}

static void add_tests(void *suite)
{
    CU_add_test(suite, "reload under load", test_reload_under_load);
    CU_add_test(suite, "sets freed", test_sets_freed);
    CU_add_test(suite, "failed reload", test_failed_reload);
}

int main(void)
{
    snprintf(dir, sizeof(dir), "/tmp/zkp-auth-reload.XXXXXX");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(creds_path, sizeof(creds_path), "%s/credentials", dir);
    int rc = pt_run_suite("proxy_auth_reload", add_tests);
    unlink(creds_path);
    rmdir(dir);
    return rc;
}
