/* Fenced reads and fence-advance against a running proxy: the rules for
 * GetObject, HeadObject and both listings (lower, equal, higher), bad
 * input, the lost-write sequence with and without read tokens (and
 * with fence-advance instead), a fenced read racing a stale write, a mark
 * store that cannot persist a read's raise, and every answer of
 * fence-advance with its audit lines and metrics. */
#include <CUnit/Basic.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"

/* --- requests ----------------------------------------------------------------------- */

/* A request carrying lock and token (either may be NULL: not sent). */
static long fenced(const pt_proxy_t *p, const char *method, const char *path, const char *lock,
                   const char *token, const char *body, pt_resp_t *out)
{
    char l[256], t[64];
    const char *h[3] = {NULL, NULL, NULL};
    int n = 0;
    if (lock != NULL) {
        snprintf(l, sizeof(l), "X-Fencing-Lock: %s", lock);
        h[n++] = l;
    }
    if (token != NULL) {
        snprintf(t, sizeof(t), "X-Fencing-Token: %s", token);
        h[n++] = t;
    }
    pt_resp_t tmp;
    pt_resp_t *r = out ? out : &tmp;
    pt_http(p, method, path, h, body, body ? strlen(body) : 0, r);
    long st = r->status;
    if (out == NULL)
        pt_resp_free(&tmp);
    return st;
}

static long tok(const pt_proxy_t *p, const char *method, const char *path, const char *lock,
                uint64_t token, const char *body, pt_resp_t *out)
{
    char t[32];
    snprintf(t, sizeof(t), "%" PRIu64, token);
    return fenced(p, method, path, lock, t, body, out);
}

/* The body of a plain GET (malloc'ed, "" if none); *st gets the status. */
static char *plain_get(const pt_proxy_t *p, const char *path, long *st)
{
    pt_resp_t r;
    pt_http(p, "GET", path, NULL, NULL, 0, &r);
    *st = r.status;
    char *b = r.body ? r.body : strdup("");
    r.body = NULL;
    pt_resp_free(&r);
    return b;
}

/* The body of a fenced GET, or NULL unless it answered 200. */
static char *fenced_get(const pt_proxy_t *p, const char *path, const char *lock, uint64_t token,
                        long *st)
{
    pt_resp_t r;
    *st = tok(p, "GET", path, lock, token, NULL, &r);
    char *b = NULL;
    if (r.status == 200) {
        b = r.body ? r.body : strdup("");
        r.body = NULL;
    }
    pt_resp_free(&r);
    return b;
}

static void mkbucket(const pt_proxy_t *p, const char *name)
{
    char path[128];
    snprintf(path, sizeof(path), "/%s", name);
    CU_ASSERT_EQUAL(pt_status(p, "PUT", path), 200);
}

static int metrics_has(const pt_proxy_t *p, const char *line)
{
    pt_resp_t r;
    pt_http(p, "GET", "/_zkfence/metrics", NULL, NULL, 0, &r);
    int has = pt_body_has(&r, line);
    pt_resp_free(&r);
    return has;
}

static long post(const pt_proxy_t *p, const char *path)
{
    return pt_status(p, "POST", path);
}

static long health(const pt_proxy_t *p)
{
    return pt_status(p, "GET", "/_zkfence/health");
}

/* --- the rules on reads -------------------------------------------------------------- */

static void expect_stale(const pt_resp_t *r, const char *token, const char *mark)
{
    char t[64], m[64];
    snprintf(t, sizeof(t), "<Token>%s</Token>", token);
    snprintf(m, sizeof(m), "<HighWaterMark>%s</HighWaterMark>", mark);
    CU_ASSERT_EQUAL(r->status, 412);
    CU_ASSERT_TRUE(pt_body_has(r, "<Code>StaleFencingToken</Code>"));
    CU_ASSERT_TRUE(pt_body_has(r, t));
    CU_ASSERT_TRUE(pt_body_has(r, m));
}

static void test_get_rules(void)
{
    pt_proxy_t p;
    CU_ASSERT_EQUAL_FATAL(pt_proxy_start(&p, NULL), 0);
    mkbucket(&p, "rds");
    const char *L = "/locks/rd";
    CU_ASSERT_EQUAL(tok(&p, "PUT", "/rds/k", L, 10, "secret-bytes", NULL), 200);
    /* Lower: 412 naming the mark, and not one byte of the object. */
    pt_resp_t r;
    tok(&p, "GET", "/rds/k", L, 9, NULL, &r);
    expect_stale(&r, "9", "10");
    CU_ASSERT_TRUE(pt_body_has(&r, "<Lock>/locks/rd</Lock>"));
    CU_ASSERT_FALSE(pt_body_has(&r, "secret-bytes"));
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(pt_mark(&p, L), 10);
    /* Equal: served, nothing to raise. */
    long st;
    char *b = fenced_get(&p, "/rds/k", L, 10, &st);
    CU_ASSERT_EQUAL(st, 200);
    CU_ASSERT_STRING_EQUAL(b ? b : "", "secret-bytes");
    free(b);
    CU_ASSERT_EQUAL(pt_mark(&p, L), 10);
    /* Higher: served, and the token is now the mark: a write with the old
     * token is refused. */
    b = fenced_get(&p, "/rds/k", L, 15, &st);
    CU_ASSERT_EQUAL(st, 200);
    CU_ASSERT_STRING_EQUAL(b ? b : "", "secret-bytes");
    free(b);
    CU_ASSERT_EQUAL(pt_mark(&p, L), 15);
    CU_ASSERT_EQUAL(tok(&p, "PUT", "/rds/k", L, 10, "late", NULL), 412);
    /* The user-metadata spelling works on reads too. */
    const char *meta[] = {"x-amz-meta-fencing-lock: /locks/rd", "x-amz-meta-fencing-token: 16",
                          NULL};
    pt_http(&p, "GET", "/rds/k", meta, NULL, 0, &r);
    CU_ASSERT_EQUAL(r.status, 200);
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(pt_mark(&p, L), 16);
    /* A fenced read of a key that does not exist still fences: 404, and the
     * mark is raised (the reader learnt that the key is absent). */
    CU_ASSERT_EQUAL(tok(&p, "GET", "/rds/nokey", L, 17, NULL, NULL), 404);
    CU_ASSERT_EQUAL(pt_mark(&p, L), 17);
    /* Every decision is audited under the read's operation name. */
    CU_ASSERT_EQUAL(pt_audit_count(&p, "\"lock\":\"/locks/rd\",\"token\":\"9\",\"mark\":\"10\","
                                       "\"verdict\":\"rejected_stale\",\"bucket\":\"rds\","
                                       "\"key\":\"k\",\"op\":\"GetObject\"}"),
                    1);
    CU_ASSERT_EQUAL(pt_audit_count(&p,
                                   "\"token\":\"10\",\"mark\":\"10\",\"verdict\":\"accepted_"
                                   "equal\",\"bucket\":\"rds\",\"key\":\"k\",\"op\":\"GetObject\""),
                    1);
    CU_ASSERT_EQUAL(
        pt_audit_count(&p, "\"token\":\"15\",\"mark\":\"10\",\"verdict\":\"accepted_"
                           "higher\",\"bucket\":\"rds\",\"key\":\"k\",\"op\":\"GetObject\""),
        1);
    CU_ASSERT_EQUAL(pt_audit_count(&p, "\"op\":\"GetObject\""), 5);
    CU_ASSERT_TRUE(metrics_has(&p, "zkfence_fence_decisions_total{op=\"GetObject\","
                                   "verdict=\"accepted_higher\"} 3\n"));
    CU_ASSERT_TRUE(metrics_has(&p, "zkfence_fence_decisions_total{op=\"GetObject\","
                                   "verdict=\"accepted_equal\"} 1\n"));
    CU_ASSERT_TRUE(metrics_has(&p, "zkfence_fence_decisions_total{op=\"GetObject\","
                                   "verdict=\"rejected_stale\"} 1\n"));
    /* Reads without the headers are ordinary reads: no decision, no line. */
    b = plain_get(&p, "/rds/k", &st);
    CU_ASSERT_EQUAL(st, 200);
    free(b);
    CU_ASSERT_EQUAL(pt_audit_count(&p, "\"op\":\"GetObject\""), 5);
    CU_ASSERT_EQUAL(pt_proxy_stop(&p), 0);
    pt_proxy_cleanup(&p);
}

static void test_head_and_list_rules(void)
{
    pt_proxy_t p;
    CU_ASSERT_EQUAL_FATAL(pt_proxy_start(&p, NULL), 0);
    mkbucket(&p, "hls");
    const char *L = "/locks/hl";
    CU_ASSERT_EQUAL(tok(&p, "PUT", "/hls/a", L, 20, "aaa", NULL), 200);
    CU_ASSERT_EQUAL(tok(&p, "PUT", "/hls/b", L, 20, "bbb", NULL), 200);
    pt_resp_t r;
    char v[64];
    /* HEAD: lower 412 (no body on a HEAD), equal and higher 200. */
    CU_ASSERT_EQUAL(tok(&p, "HEAD", "/hls/a", L, 19, NULL, NULL), 412);
    CU_ASSERT_EQUAL(tok(&p, "HEAD", "/hls/a", L, 20, NULL, &r), 200);
    CU_ASSERT_PTR_NOT_NULL(pt_header(&r, "ETag", v, sizeof(v)));
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(tok(&p, "HEAD", "/hls/a", L, 21, NULL, NULL), 200);
    CU_ASSERT_EQUAL(pt_mark(&p, L), 21);
    /* ListObjectsV2. */
    tok(&p, "GET", "/hls?list-type=2", L, 20, NULL, &r);
    expect_stale(&r, "20", "21");
    CU_ASSERT_FALSE(pt_body_has(&r, "<Key>"));
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(tok(&p, "GET", "/hls?list-type=2", L, 21, NULL, &r), 200);
    CU_ASSERT_TRUE(pt_body_has(&r, "<Key>a</Key>") && pt_body_has(&r, "<Key>b</Key>"));
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(tok(&p, "GET", "/hls?list-type=2&prefix=b", L, 22, NULL, &r), 200);
    CU_ASSERT_TRUE(pt_body_has(&r, "<Key>b</Key>") && !pt_body_has(&r, "<Key>a</Key>"));
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(pt_mark(&p, L), 22);
    /* ListObjects (v1). */
    tok(&p, "GET", "/hls", L, 21, NULL, &r);
    expect_stale(&r, "21", "22");
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(tok(&p, "GET", "/hls?marker=a", L, 23, NULL, &r), 200);
    CU_ASSERT_TRUE(pt_body_has(&r, "<Key>b</Key>") && !pt_body_has(&r, "<Key>a</Key>"));
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(pt_mark(&p, L), 23);
    /* Audited with the operation's name; a listing names no key. */
    CU_ASSERT_EQUAL(pt_audit_count(&p, "\"verdict\":\"rejected_stale\",\"bucket\":\"hls\","
                                       "\"key\":\"a\",\"op\":\"HeadObject\""),
                    1);
    CU_ASSERT_EQUAL(pt_audit_count(&p, "\"op\":\"HeadObject\""), 3);
    CU_ASSERT_EQUAL(pt_audit_count(&p, "\"token\":\"20\",\"mark\":\"21\",\"verdict\":\"rejected_"
                                       "stale\",\"bucket\":\"hls\",\"key\":null,\"op\":"
                                       "\"ListObjectsV2\""),
                    1);
    CU_ASSERT_EQUAL(pt_audit_count(&p, "\"op\":\"ListObjectsV2\""), 3);
    CU_ASSERT_EQUAL(pt_audit_count(&p, "\"token\":\"23\",\"mark\":\"22\",\"verdict\":\"accepted_"
                                       "higher\",\"bucket\":\"hls\",\"key\":null,\"op\":"
                                       "\"ListObjects\""),
                    1);
    CU_ASSERT_TRUE(metrics_has(&p, "zkfence_fence_decisions_total{op=\"ListObjects\","
                                   "verdict=\"rejected_stale\"} 1\n"));
    CU_ASSERT_TRUE(metrics_has(&p, "zkfence_fence_decisions_total{op=\"HeadObject\","
                                   "verdict=\"accepted_equal\"} 1\n"));
    CU_ASSERT_EQUAL(pt_proxy_stop(&p), 0);
    pt_proxy_cleanup(&p);
}

/* --- bad input ------------------------------------------------------------------------ */

static void test_bad_input(void)
{
    pt_proxy_t p;
    CU_ASSERT_EQUAL_FATAL(pt_proxy_start(&p, NULL), 0);
    mkbucket(&p, "bad");
    const char *L = "/locks/bad";
    CU_ASSERT_EQUAL(tok(&p, "PUT", "/bad/k", L, 5, "object-data", NULL), 200);
    static const char *const paths[] = {"/bad/k", "/bad?list-type=2", "/bad"};
    for (size_t i = 0; i < 3; i++) {
        pt_resp_t r;
        /* Malformed tokens: 400, nothing raised, no data, not audited
         * (there is no token to log). */
        static const char *const junk[] = {"x7", "-7", "07", "7 8", "18446744073709551616"};
        for (size_t j = 0; j < sizeof(junk) / sizeof(junk[0]); j++) {
            fenced(&p, "GET", paths[i], L, junk[j], NULL, &r);
            CU_ASSERT_EQUAL(r.status, 400);
            CU_ASSERT_TRUE(pt_body_has(&r, "<Code>InvalidFencingToken</Code>"));
            CU_ASSERT_FALSE(pt_body_has(&r, "object-data") || pt_body_has(&r, "<Key>"));
            pt_resp_free(&r);
        }
        /* An invalid lock name. */
        fenced(&p, "GET", paths[i], "bad lock", "9", NULL, &r);
        CU_ASSERT_EQUAL(r.status, 400);
        CU_ASSERT_TRUE(pt_body_has(&r, "<Code>InvalidFencingLock</Code>"));
        pt_resp_free(&r);
        /* Half the headers: 400 naming the missing one, audited. */
        fenced(&p, "GET", paths[i], L, NULL, NULL, &r);
        CU_ASSERT_EQUAL(r.status, 400);
        CU_ASSERT_TRUE(pt_body_has(&r, "<Code>InvalidFencingToken</Code>"));
        CU_ASSERT_TRUE(pt_body_has(&r, "without X-Fencing-Token"));
        CU_ASSERT_FALSE(pt_body_has(&r, "object-data") || pt_body_has(&r, "<Key>"));
        pt_resp_free(&r);
        fenced(&p, "GET", paths[i], NULL, "9", NULL, &r);
        CU_ASSERT_EQUAL(r.status, 400);
        CU_ASSERT_TRUE(pt_body_has(&r, "<Code>InvalidFencingLock</Code>"));
        CU_ASSERT_TRUE(pt_body_has(&r, "without X-Fencing-Lock"));
        pt_resp_free(&r);
        CU_ASSERT_EQUAL(fenced(&p, "HEAD", "/bad/k", L, NULL, NULL, NULL), 400);
        /* The two spellings disagree. */
        const char *two[] = {"X-Fencing-Lock: /locks/bad", "X-Fencing-Token: 9",
                             "x-amz-meta-fencing-token: 8", NULL};
        pt_http(&p, "GET", paths[i], two, NULL, 0, &r);
        CU_ASSERT_EQUAL(r.status, 400);
        pt_resp_free(&r);
    }
    /* Nothing was raised by any of them. */
    CU_ASSERT_EQUAL(pt_mark(&p, L), 5);
    CU_ASSERT_EQUAL(pt_audit_count(&p, "\"verdict\":\"accepted"), 1); /* the PUT */
    CU_ASSERT_EQUAL(pt_audit_count(&p, "\"lock\":\"/locks/bad\",\"token\":null,\"mark\":null,"
                                       "\"verdict\":\"rejected_missing\",\"bucket\":\"bad\","
                                       "\"key\":\"k\",\"op\":\"GetObject\"}"),
                    1);
    CU_ASSERT_EQUAL(pt_audit_count(&p, "\"lock\":null,\"token\":null,\"mark\":null,"
                                       "\"verdict\":\"rejected_missing\",\"bucket\":\"bad\","
                                       "\"key\":null,\"op\":\"ListObjectsV2\"}"),
                    1);
    CU_ASSERT_EQUAL(pt_audit_count(&p, "\"verdict\":\"rejected_missing\""), 9);
    /* The bucket requires fencing (the default), and still an ordinary read
     * needs no token: the policy is a rule for writes. */
    long st;
    char *b = plain_get(&p, "/bad/k", &st);
    CU_ASSERT_EQUAL(st, 200);
    CU_ASSERT_STRING_EQUAL(b, "object-data");
    free(b);
    CU_ASSERT_EQUAL(pt_proxy_stop(&p), 0);
    pt_proxy_cleanup(&p);
}

/* --- the lost write, step by step --------------------------------------------------- */

/* The sequence with tokens chosen by hand: the ledger holds "L0";
 * A (token 20) reads it, B (token 30) reads it, A appends and writes back,
 * B appends to what it read and writes back. `how` says how the readers
 * fence: 0 not at all (plain GETs, the old protocol), 1 with fenced GETs,
 * 2 with fence-advance at acquisition and plain GETs. Returns A's status;
 * *ledger gets the final ledger. */
static long lost_write_sequence(const pt_proxy_t *p, const char *key, const char *lock, int how,
                                long *b_status, char **ledger)
{
    char path[128];
    snprintf(path, sizeof(path), "/ledger/%s", key);
    CU_ASSERT_EQUAL(tok(p, "PUT", path, lock, 10, "L0\n", NULL), 200);
    long st;
    char *read_a, *read_b;
    if (how == 2)
        CU_ASSERT_EQUAL(tok(p, "POST", "/_zkfence/fence-advance", lock, 20, NULL, NULL), 200);
    read_a = how == 1 ? fenced_get(p, path, lock, 20, &st) : plain_get(p, path, &st);
    CU_ASSERT_EQUAL(st, 200);
    if (how == 2)
        CU_ASSERT_EQUAL(tok(p, "POST", "/_zkfence/fence-advance", lock, 30, NULL, NULL), 200);
    read_b = how == 1 ? fenced_get(p, path, lock, 30, &st) : plain_get(p, path, &st);
    CU_ASSERT_EQUAL(st, 200);
    CU_ASSERT_STRING_EQUAL(read_a ? read_a : "", "L0\n");
    CU_ASSERT_STRING_EQUAL(read_b ? read_b : "", "L0\n");
    char wa[64], wb[64];
    snprintf(wa, sizeof(wa), "%sA\n", read_a ? read_a : "");
    snprintf(wb, sizeof(wb), "%sB\n", read_b ? read_b : "");
    long a = tok(p, "PUT", path, lock, 20, wa, NULL); /* A wakes: step 3 */
    *b_status = tok(p, "PUT", path, lock, 30, wb, NULL);
    *ledger = plain_get(p, path, &st);
    free(read_a);
    free(read_b);
    return a;
}

static void test_lost_write_sequence(void)
{
    pt_proxy_t p;
    CU_ASSERT_EQUAL_FATAL(pt_proxy_start(&p, NULL), 0);
    mkbucket(&p, "ledger");
    long b;
    char *ledger;
    /* Fenced reads: B's read raised the mark to 30, so A's write is refused,
     * and the ledger is what B read plus B's line. */
    long a = lost_write_sequence(&p, "fenced", "/locks/fenced", 1, &b, &ledger);
    CU_ASSERT_EQUAL(a, 412);
    CU_ASSERT_EQUAL(b, 200);
    CU_ASSERT_STRING_EQUAL(ledger, "L0\nB\n");
    free(ledger);
    CU_ASSERT_EQUAL(pt_audit_count(&p,
                                   "\"lock\":\"/locks/fenced\",\"token\":\"20\",\"mark\":"
                                   "\"30\",\"verdict\":\"rejected_stale\",\"bucket\":\"ledger\","
                                   "\"key\":\"fenced\",\"op\":\"PutObject\""),
                    1);
    /* Fence-advance at acquisition, plain reads: the same outcome. */
    a = lost_write_sequence(&p, "advanced", "/locks/advanced", 2, &b, &ledger);
    CU_ASSERT_EQUAL(a, 412);
    CU_ASSERT_EQUAL(b, 200);
    CU_ASSERT_STRING_EQUAL(ledger, "L0\nB\n");
    free(ledger);
    /* Plain reads, no advance (the protocol before fenced reads): A's write
     * lands between B's read and B's write, is acknowledged, and B's write
     * then overwrites it. This is why the read must carry the token. */
    a = lost_write_sequence(&p, "unfenced", "/locks/unfenced", 0, &b, &ledger);
    CU_ASSERT_EQUAL(a, 200);
    CU_ASSERT_EQUAL(b, 200);
    CU_ASSERT_STRING_EQUAL(ledger, "L0\nB\n");
    CU_ASSERT_PTR_NULL(strstr(ledger, "A\n")); /* acknowledged, and lost */
    free(ledger);
    CU_ASSERT_EQUAL(pt_proxy_stop(&p), 0);
    pt_proxy_cleanup(&p);
}

/* --- a fenced read racing a stale write ----------------------------------------------- */

typedef struct racer {
    const pt_proxy_t *p;
    pthread_barrier_t *go;
    uint64_t token;
    int delay_us; /* GET only: a deliberate jitter, so that both orders occur */
    char body[64];
    long status;
    char *read;
} racer_t;

static void *race_put(void *arg)
{
    racer_t *a = arg;
    pthread_barrier_wait(a->go);
    a->status = tok(a->p, "PUT", "/race/k", "/locks/race", a->token, a->body, NULL);
    return NULL;
}

static void *race_get(void *arg)
{
    racer_t *a = arg;
    pthread_barrier_wait(a->go);
    struct timespec ts = {0, (long)a->delay_us * 1000};
    nanosleep(&ts, NULL);
    a->read = fenced_get(a->p, "/race/k", "/locks/race", a->token, &a->status);
    return NULL;
}

/* Round i: a PUT by A (token 2i+2) and a fenced GET by B (token 2i+3)
 * start together. The GET's snapshot is taken in the lock's section after
 * its raise, so either A's write is in what B read (A went first) or A got
 * 412 (B went first); never A acknowledged and B's read without it. With
 * the snapshot taken before the raise this fails within a few rounds. */
static void test_read_write_race(void)
{
    pt_proxy_t p;
    CU_ASSERT_EQUAL_FATAL(pt_proxy_start(&p, NULL), 0);
    mkbucket(&p, "race");
    CU_ASSERT_EQUAL(tok(&p, "PUT", "/race/k", "/locks/race", 1, "start", NULL), 200);
    int rounds = getenv("ZKFENCE_UNDER_VALGRIND") ? 20 : 150;
    int a_first = 0, b_first = 0, violations = 0;
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, 2);
    for (int i = 0; i < rounds; i++) {
        racer_t a = {&p, &go, (uint64_t)(2 * i + 2), 0, "", 0, NULL};
        racer_t b = {&p, &go, (uint64_t)(2 * i + 3), (i % 16) * 500, "", 0, NULL};
        snprintf(a.body, sizeof(a.body), "round %d by A", i);
        pthread_t ta, tb;
        pthread_create(&ta, NULL, race_put, &a);
        pthread_create(&tb, NULL, race_get, &b);
        pthread_join(ta, NULL);
        pthread_join(tb, NULL);
        CU_ASSERT_EQUAL(b.status, 200);
        CU_ASSERT(a.status == 200 || a.status == 412);
        if (a.status == 200 && (b.read == NULL || strcmp(b.read, a.body) != 0)) {
            violations++;
            fprintf(stderr, "round %d: A's PUT acknowledged, B read '%s'\n", i,
                    b.read ? b.read : "(nothing)");
        }
        a_first += a.status == 200;
        b_first += a.status == 412;
        free(b.read);
    }
    pthread_barrier_destroy(&go);
    fprintf(stderr, "race: %d rounds, A first %d, B first %d, violations %d\n", rounds, a_first,
            b_first, violations);
    CU_ASSERT_EQUAL(violations, 0);
    CU_ASSERT_EQUAL(a_first + b_first, rounds);
    /* Both orders happened, or the test proved nothing. */
    CU_ASSERT_TRUE(a_first > 0 && b_first > 0);
    CU_ASSERT_EQUAL(pt_proxy_stop(&p), 0);
    pt_proxy_cleanup(&p);
}

/* --- a mark store that cannot persist the raise ---------------------------------------- */

static void test_store_down(void)
{
    pt_proxy_t p;
    CU_ASSERT_EQUAL_FATAL(pt_proxy_start(&p, NULL), 0);
    mkbucket(&p, "down");
    const char *L = "/locks/down";
    CU_ASSERT_EQUAL(tok(&p, "PUT", "/down/k", L, 5, "object-data", NULL), 200);
    CU_ASSERT_EQUAL(post(&p, "/_zkfence/debug/marks-fail?on=1"), 204);
    /* The raise cannot be made durable: 503, no data. */
    pt_resp_t r;
    tok(&p, "GET", "/down/k", L, 6, NULL, &r);
    CU_ASSERT_EQUAL(r.status, 503);
    CU_ASSERT_TRUE(pt_body_has(&r, "<Code>ServiceUnavailable</Code>"));
    CU_ASSERT_FALSE(pt_body_has(&r, "object-data"));
    pt_resp_free(&r);
    CU_ASSERT_TRUE(PT_WAIT_UNTIL(health(&p) == 503, 5000));
    CU_ASSERT_EQUAL(pt_mark(&p, L), 5);
    /* While unhealthy every fenced read is refused, like a write (its write
     * would be refused anyway); a stale one is still 412; listings too. */
    CU_ASSERT_EQUAL(tok(&p, "GET", "/down/k", L, 5, NULL, NULL), 503);
    CU_ASSERT_EQUAL(tok(&p, "HEAD", "/down/k", L, 7, NULL, NULL), 503);
    CU_ASSERT_EQUAL(tok(&p, "GET", "/down?list-type=2", L, 7, NULL, NULL), 503);
    CU_ASSERT_EQUAL(tok(&p, "GET", "/down/k", L, 4, NULL, NULL), 412);
    CU_ASSERT_EQUAL(tok(&p, "POST", "/_zkfence/fence-advance", L, 8, NULL, NULL), 503);
    /* Ordinary reads keep working. */
    long st;
    char *b = plain_get(&p, "/down/k", &st);
    CU_ASSERT_EQUAL(st, 200);
    CU_ASSERT_STRING_EQUAL(b, "object-data");
    free(b);
    CU_ASSERT_EQUAL(pt_audit_count(&p, "\"token\":\"6\",\"mark\":\"5\",\"verdict\":\"rejected_"
                                       "unavailable\",\"bucket\":\"down\",\"key\":\"k\",\"op\":"
                                       "\"GetObject\""),
                    1);
    CU_ASSERT_EQUAL(pt_audit_count(&p, "\"verdict\":\"rejected_unavailable\""), 5);
    CU_ASSERT_TRUE(metrics_has(&p, "zkfence_fence_decisions_total{op=\"GetObject\","
                                   "verdict=\"rejected_unavailable\"} 2\n"));
    /* Recovery: the raise goes through. */
    CU_ASSERT_EQUAL(post(&p, "/_zkfence/debug/marks-fail?on=0"), 204);
    CU_ASSERT_TRUE(PT_WAIT_UNTIL(health(&p) == 200, 10000));
    b = fenced_get(&p, "/down/k", L, 6, &st);
    CU_ASSERT_EQUAL(st, 200);
    free(b);
    CU_ASSERT_EQUAL(pt_mark(&p, L), 6);
    CU_ASSERT_EQUAL(pt_proxy_stop(&p), 0);
    pt_proxy_cleanup(&p);
}

/* A raise made by a read survives a kill -9: it was durable before the
 * read was answered. */
static void test_read_raise_durable(void)
{
    pt_proxy_t p;
    CU_ASSERT_EQUAL_FATAL(pt_proxy_start(&p, NULL), 0);
    mkbucket(&p, "dur");
    CU_ASSERT_EQUAL(tok(&p, "PUT", "/dur/k", "/locks/dur", 3, "x", NULL), 200);
    CU_ASSERT_EQUAL(tok(&p, "GET", "/dur/k", "/locks/dur", 40, NULL, NULL), 200);
    CU_ASSERT_EQUAL(tok(&p, "GET", "/dur?list-type=2", "/locks/dur2", 41, NULL, NULL), 200);
    pt_proxy_kill9(&p);
    CU_ASSERT_EQUAL_FATAL(pt_proxy_restart(&p), 0);
    CU_ASSERT_EQUAL(pt_mark(&p, "/locks/dur"), 40);
    CU_ASSERT_EQUAL(pt_mark(&p, "/locks/dur2"), 41);
    CU_ASSERT_EQUAL(tok(&p, "PUT", "/dur/k", "/locks/dur", 39, "stale", NULL), 412);
    CU_ASSERT_EQUAL(pt_proxy_stop(&p), 0);
    pt_proxy_cleanup(&p);
}

/* --- fence-advance ------------------------------------------------------------------ */

static void test_fence_advance(void)
{
    pt_proxy_t p;
    CU_ASSERT_EQUAL_FATAL(pt_proxy_start(&p, NULL), 0);
    mkbucket(&p, "adv");
    const char *A = "/_zkfence/fence-advance";
    const char *L = "/locks/adv";
    pt_resp_t r;
    char v[64];
    /* A lock without a mark: previous_mark null. */
    CU_ASSERT_EQUAL(tok(&p, "POST", A, L, 100, NULL, &r), 200);
    CU_ASSERT_STRING_EQUAL(r.body ? r.body : "", "{\"lock\":\"/locks/adv\",\"token\":\"100\","
                                                 "\"previous_mark\":null,\"mark\":\"100\"}\n");
    CU_ASSERT_STRING_EQUAL(pt_header(&r, "Content-Type", v, sizeof(v)) ? v : "",
                           "application/json");
    pt_resp_free(&r);
    /* Higher, then equal. */
    CU_ASSERT_EQUAL(tok(&p, "POST", A, L, 120, NULL, &r), 200);
    CU_ASSERT_TRUE(pt_body_has(&r, "\"token\":\"120\",\"previous_mark\":\"100\",\"mark\":\"120\""));
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(tok(&p, "POST", A, L, 120, NULL, &r), 200);
    CU_ASSERT_TRUE(pt_body_has(&r, "\"previous_mark\":\"120\",\"mark\":\"120\""));
    pt_resp_free(&r);
    /* Lower: 412, the same error as a stale write. */
    tok(&p, "POST", A, L, 110, NULL, &r);
    expect_stale(&r, "110", "120");
    CU_ASSERT_TRUE(pt_body_has(&r, "<Lock>/locks/adv</Lock>"));
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(pt_mark(&p, L), 120);
    /* The advance fenced every older holder without touching data. */
    CU_ASSERT_EQUAL(pt_count_files(&p, "objects/adv"), 0);
    CU_ASSERT_EQUAL(tok(&p, "PUT", "/adv/k", L, 119, "old holder", NULL), 412);
    CU_ASSERT_EQUAL(tok(&p, "PUT", "/adv/k", L, 120, "new holder", NULL), 200);
    /* Bad input: 400 naming the cause, nothing raised. */
    fenced(&p, "POST", A, NULL, NULL, NULL, &r);
    CU_ASSERT_EQUAL(r.status, 400);
    CU_ASSERT_TRUE(pt_body_has(&r, "<Code>FencingTokenRequired</Code>"));
    pt_resp_free(&r);
    fenced(&p, "POST", A, L, NULL, NULL, &r);
    CU_ASSERT_EQUAL(r.status, 400);
    CU_ASSERT_TRUE(pt_body_has(&r, "<Code>InvalidFencingToken</Code>"));
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(fenced(&p, "POST", A, NULL, "130", NULL, NULL), 400);
    CU_ASSERT_EQUAL(fenced(&p, "POST", A, L, "13x", NULL, NULL), 400);
    CU_ASSERT_EQUAL(fenced(&p, "POST", A, "no spaces", "130", NULL, NULL), 400);
    /* Only POST. */
    fenced(&p, "GET", A, L, "130", NULL, &r);
    CU_ASSERT_EQUAL(r.status, 404);
    CU_ASSERT_TRUE(pt_body_has(&r, "<Code>NoSuchAdminEndpoint</Code>"));
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(pt_mark(&p, L), 120);
    /* Mark store down: 503, nothing raised; recovery. */
    CU_ASSERT_EQUAL(post(&p, "/_zkfence/debug/marks-fail?on=1"), 204);
    tok(&p, "POST", A, L, 140, NULL, &r);
    CU_ASSERT_EQUAL(r.status, 503);
    CU_ASSERT_TRUE(pt_body_has(&r, "<Code>ServiceUnavailable</Code>"));
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(pt_mark(&p, L), 120);
    CU_ASSERT_EQUAL(post(&p, "/_zkfence/debug/marks-fail?on=0"), 204);
    CU_ASSERT_TRUE(PT_WAIT_UNTIL(health(&p) == 200, 10000));
    CU_ASSERT_EQUAL(tok(&p, "POST", A, L, 140, NULL, NULL), 200);
    CU_ASSERT_EQUAL(pt_mark(&p, L), 140);
    /* Audit lines: op FenceAdvance, no bucket, no key. */
    CU_ASSERT_EQUAL(pt_audit_count(&p, "\"lock\":\"/locks/adv\",\"token\":\"100\",\"mark\":null,"
                                       "\"verdict\":\"accepted_higher\",\"bucket\":null,\"key\":"
                                       "null,\"op\":\"FenceAdvance\"}"),
                    1);
    CU_ASSERT_EQUAL(pt_audit_count(&p, "\"token\":\"120\",\"mark\":\"120\",\"verdict\":\"accepted_"
                                       "equal\",\"bucket\":null,\"key\":null,\"op\":"
                                       "\"FenceAdvance\""),
                    1);
    CU_ASSERT_EQUAL(pt_audit_count(&p, "\"token\":\"110\",\"mark\":\"120\",\"verdict\":\"rejected_"
                                       "stale\",\"bucket\":null,\"key\":null,\"op\":"
                                       "\"FenceAdvance\""),
                    1);
    CU_ASSERT_EQUAL(pt_audit_count(&p, "\"token\":\"140\",\"mark\":\"120\",\"verdict\":\"rejected_"
                                       "unavailable\",\"bucket\":null,\"key\":null,\"op\":"
                                       "\"FenceAdvance\""),
                    1);
    CU_ASSERT_EQUAL(pt_audit_count(&p, "\"verdict\":\"rejected_missing\",\"bucket\":null,"
                                       "\"key\":null,\"op\":\"FenceAdvance\""),
                    3);
    CU_ASSERT_EQUAL(pt_audit_count(&p, "\"op\":\"FenceAdvance\""), 9);
    CU_ASSERT_TRUE(metrics_has(&p, "zkfence_fence_decisions_total{op=\"FenceAdvance\","
                                   "verdict=\"accepted_higher\"} 3\n"));
    CU_ASSERT_TRUE(metrics_has(&p, "zkfence_fence_decisions_total{op=\"FenceAdvance\","
                                   "verdict=\"rejected_stale\"} 1\n"));
    /* Requests are counted once their response is complete: wait for it. */
    CU_ASSERT_TRUE(PT_WAIT_UNTIL(
        metrics_has(&p, "zkfence_requests_total{op=\"FenceAdvance\",status=\"200\"} 4\n"), 5000));
    CU_ASSERT_EQUAL(pt_proxy_stop(&p), 0);
    pt_proxy_cleanup(&p);
}

static void add_tests(void *suite)
{
    CU_add_test(suite, "get_rules", test_get_rules);
    CU_add_test(suite, "head_and_list_rules", test_head_and_list_rules);
    CU_add_test(suite, "bad_input", test_bad_input);
    CU_add_test(suite, "lost_write_sequence", test_lost_write_sequence);
    CU_add_test(suite, "read_write_race", test_read_write_race);
    CU_add_test(suite, "store_down", test_store_down);
    CU_add_test(suite, "read_raise_durable", test_read_raise_durable);
    CU_add_test(suite, "fence_advance", test_fence_advance);
}

int main(void)
{
    return pt_run_suite("proxy_fenced_read", add_tests);
}
