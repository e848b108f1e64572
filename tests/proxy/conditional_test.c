/* Conditional requests against a running proxy, as S3 answers them:
 * GetObject/HeadObject with If-Match, If-None-Match, If-Modified-Since and
 * If-Unmodified-Since (304/412, precedence, Range, ignored dates);
 * PutObject and CopyObject with If-Match/If-None-Match on the destination
 * and x-amz-copy-source-if-* on the source (412 with nothing written, 404
 * for If-Match without an object, 501 for a write's If-None-Match other
 * than "*"); fenced writes whose precondition fails (audited
 * rejected_precondition, the mark raised); and If-None-Match: * PUTs of
 * one key racing, unfenced and fenced (on workers, and with object_fsync =
 * off on the event loops): exactly one wins each round. */
#include <CUnit/Basic.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* One request; headers: a NULL-terminated array; the response in *out
 * (NULL: dropped). Returns the status. */
static long req(const pt_proxy_t *p, const char *method, const char *path, const char *const *hdrs,
                const char *body, pt_resp_t *out)
{
    pt_resp_t tmp;
    pt_resp_t *r = out ? out : &tmp;
    pt_http(p, method, path, hdrs, body, body ? strlen(body) : 0, r);
    long st = r->status;
    if (out == NULL)
        pt_resp_free(&tmp);
    return st;
}

static char *body_of(const pt_proxy_t *p, const char *path)
{
    pt_resp_t r;
    pt_http(p, "GET", path, NULL, NULL, 0, &r);
    char *b = r.status == 200 && r.body ? r.body : strdup("(none)");
    if (b == r.body)
        r.body = NULL;
    pt_resp_free(&r);
    return b;
}

/* ETag (quoted, as sent) and Last-Modified of an object. */
static void validators(const pt_proxy_t *p, const char *path, char etag[64], char lm[64])
{
    pt_resp_t r;
    pt_http(p, "HEAD", path, NULL, NULL, 0, &r);
    CU_ASSERT_EQUAL(r.status, 200);
    if (pt_header(&r, "ETag", etag, 64) == NULL)
        etag[0] = '\0';
    if (pt_header(&r, "Last-Modified", lm, 64) == NULL)
        lm[0] = '\0';
    pt_resp_free(&r);
}

static void mkbucket(const pt_proxy_t *p, const char *name)
{
    char path[128];
    snprintf(path, sizeof(path), "/%s", name);
    CU_ASSERT_EQUAL(pt_status(p, "PUT", path), 200);
}

static void expect_412(const pt_resp_t *r, const char *condition)
{
    char c[80];
    CU_ASSERT_EQUAL(r->status, 412);
    CU_ASSERT_TRUE(pt_body_has(r, "<Code>PreconditionFailed</Code>"));
    if (condition != NULL) {
        snprintf(c, sizeof(c), "<Condition>%s</Condition>", condition);
        CU_ASSERT_TRUE(pt_body_has(r, c));
    }
}

#define OLD_DATE "Thu, 01 Jan 1998 00:00:00 GMT"
#define FUTURE_DATE "Fri, 31 Dec 2100 23:59:59 GMT"

/* --- reads --------------------------------------------------------------------------- */

static void test_read_conditions(void)
{
    pt_proxy_t p;
    CU_ASSERT_EQUAL_FATAL(pt_proxy_start(&p, "bucket.rdc.fencing = optional\n"), 0);
    mkbucket(&p, "rdc");
    CU_ASSERT_EQUAL(req(&p, "PUT", "/rdc/k", NULL, "object-data", NULL), 200);
    char etag[64], lm[64], h1[128], h2[128], h3[128], v[64];
    validators(&p, "/rdc/k", etag, lm);
    char bare[64]; /* the ETag without quotes */
    snprintf(bare, sizeof(bare), "%.*s", (int)strlen(etag) - 2, etag + 1);
    pt_resp_t r;
    static const char *const methods[] = {"GET", "HEAD"};
    for (int m = 0; m < 2; m++) {
        const char *M = methods[m];
        int get = m == 0;
        /* If-Match: quoted, bare, in a list, "*": served. */
        const char *matching[] = {etag, bare, "\"x\", ", "*"};
        for (size_t i = 0; i < 4; i++) {
            if (i == 2)
                snprintf(h1, sizeof(h1), "If-Match: \"x\", %s", etag);
            else
                snprintf(h1, sizeof(h1), "If-Match: %s", matching[i]);
            const char *h[] = {h1, NULL};
            CU_ASSERT_EQUAL(req(&p, M, "/rdc/k", h, NULL, &r), 200);
            if (get)
                CU_ASSERT_STRING_EQUAL(r.body ? r.body : "", "object-data");
            pt_resp_free(&r);
        }
        /* If-Match false, or weak (strong comparison): 412, no data. */
        snprintf(h1, sizeof(h1), "If-Match: W/%s", etag);
        const char *weak[] = {h1, NULL};
        const char *wrong[] = {"If-Match: \"0000\"", NULL};
        const char *const *fails[] = {weak, wrong};
        for (int i = 0; i < 2; i++) {
            req(&p, M, "/rdc/k", fails[i], NULL, &r);
            CU_ASSERT_EQUAL(r.status, 412);
            if (get)
                expect_412(&r, "If-Match");
            CU_ASSERT_FALSE(pt_body_has(&r, "object-data"));
            pt_resp_free(&r);
        }
        /* If-None-Match matching (quoted, weak, "*"): 304 with the
         * validators and no body; not matching: 200. */
        const char *inm[] = {etag, "W/x", "*"};
        for (int i = 0; i < 3; i++) {
            if (i == 1)
                snprintf(h1, sizeof(h1), "If-None-Match: W/%s", etag);
            else
                snprintf(h1, sizeof(h1), "If-None-Match: %s", inm[i]);
            const char *h[] = {h1, NULL};
            CU_ASSERT_EQUAL(req(&p, M, "/rdc/k", h, NULL, &r), 304);
            CU_ASSERT_EQUAL(r.len, 0);
            CU_ASSERT_STRING_EQUAL(pt_header(&r, "ETag", v, sizeof(v)) ? v : "", etag);
            CU_ASSERT_STRING_EQUAL(pt_header(&r, "Last-Modified", v, sizeof(v)) ? v : "", lm);
            pt_resp_free(&r);
        }
        const char *inm_no[] = {"If-None-Match: \"0000\"", NULL};
        CU_ASSERT_EQUAL(req(&p, M, "/rdc/k", inm_no, NULL, NULL), 200);
        /* If-Modified-Since: not modified since Last-Modified (304), modified
         * since an old date (200); a future or unparsable date is ignored. */
        snprintf(h1, sizeof(h1), "If-Modified-Since: %s", lm);
        const char *ims_lm[] = {h1, NULL};
        CU_ASSERT_EQUAL(req(&p, M, "/rdc/k", ims_lm, NULL, NULL), 304);
        const char *ims_old[] = {"If-Modified-Since: " OLD_DATE, NULL};
        CU_ASSERT_EQUAL(req(&p, M, "/rdc/k", ims_old, NULL, NULL), 200);
        const char *ims_future[] = {"If-Modified-Since: " FUTURE_DATE, NULL};
        CU_ASSERT_EQUAL(req(&p, M, "/rdc/k", ims_future, NULL, NULL), 200);
        const char *ims_junk[] = {"If-Modified-Since: yesterday", NULL};
        CU_ASSERT_EQUAL(req(&p, M, "/rdc/k", ims_junk, NULL, NULL), 200);
        /* If-Unmodified-Since: Last-Modified holds (200), an old date fails
         * (412), junk is ignored. */
        snprintf(h1, sizeof(h1), "If-Unmodified-Since: %s", lm);
        const char *ius_lm[] = {h1, NULL};
        CU_ASSERT_EQUAL(req(&p, M, "/rdc/k", ius_lm, NULL, NULL), 200);
        const char *ius_old[] = {"If-Unmodified-Since: " OLD_DATE, NULL};
        req(&p, M, "/rdc/k", ius_old, NULL, &r);
        CU_ASSERT_EQUAL(r.status, 412);
        if (get)
            expect_412(&r, "If-Unmodified-Since");
        pt_resp_free(&r);
        const char *ius_junk[] = {"If-Unmodified-Since: 1998-01-01", NULL};
        CU_ASSERT_EQUAL(req(&p, M, "/rdc/k", ius_junk, NULL, NULL), 200);
        /* Precedence, as S3 documents it. If-Match true and
         * If-Unmodified-Since false: 200. */
        snprintf(h1, sizeof(h1), "If-Match: %s", etag);
        const char *mt_ius[] = {h1, "If-Unmodified-Since: " OLD_DATE, NULL};
        CU_ASSERT_EQUAL(req(&p, M, "/rdc/k", mt_ius, NULL, NULL), 200);
        /* If-None-Match false and If-Modified-Since true: 304. */
        snprintf(h2, sizeof(h2), "If-None-Match: %s", etag);
        const char *inm_ims[] = {h2, "If-Modified-Since: " OLD_DATE, NULL};
        CU_ASSERT_EQUAL(req(&p, M, "/rdc/k", inm_ims, NULL, NULL), 304);
        /* If-None-Match true and If-Modified-Since false: 200 (the date is
         * not looked at). */
        snprintf(h3, sizeof(h3), "If-Modified-Since: %s", lm);
        const char *inm_t_ims_f[] = {"If-None-Match: \"0000\"", h3, NULL};
        CU_ASSERT_EQUAL(req(&p, M, "/rdc/k", inm_t_ims_f, NULL, NULL), 200);
        /* If-Match false wins over everything: 412. */
        const char *mf_inm[] = {"If-Match: \"0000\"", h2, NULL};
        CU_ASSERT_EQUAL(req(&p, M, "/rdc/k", mf_inm, NULL, NULL), 412);
    }
    /* Preconditions come before Range. */
    snprintf(h1, sizeof(h1), "If-Match: %s", etag);
    const char *range_ok[] = {h1, "Range: bytes=0-5", NULL};
    CU_ASSERT_EQUAL(req(&p, "GET", "/rdc/k", range_ok, NULL, &r), 206);
    CU_ASSERT_STRING_EQUAL(r.body ? r.body : "", "object");
    pt_resp_free(&r);
    const char *range_412[] = {"If-Match: \"0000\"", "Range: bytes=0-5", NULL};
    CU_ASSERT_EQUAL(req(&p, "GET", "/rdc/k", range_412, NULL, NULL), 412);
    const char *range_304[] = {"If-None-Match: *", "Range: bytes=0-5", NULL};
    CU_ASSERT_EQUAL(req(&p, "GET", "/rdc/k", range_304, NULL, NULL), 304);
    /* A missing key is 404 whatever the conditions. */
    const char *any[] = {"If-Match: *", NULL};
    CU_ASSERT_EQUAL(req(&p, "GET", "/rdc/none", any, NULL, NULL), 404);
    /* A fenced read with a precondition: the mark is raised (the read was
     * decided), then the precondition answers. */
    const char *fenced_inm[] = {"X-Fencing-Lock: /locks/rdc", "X-Fencing-Token: 7", h2, NULL};
    snprintf(h2, sizeof(h2), "If-None-Match: %s", etag);
    CU_ASSERT_EQUAL(req(&p, "GET", "/rdc/k", fenced_inm, NULL, NULL), 304);
    CU_ASSERT_EQUAL(pt_mark(&p, "/locks/rdc"), 7);
    CU_ASSERT_EQUAL(pt_proxy_stop(&p), 0);
    pt_proxy_cleanup(&p);
}

/* --- writes -------------------------------------------------------------------------- */

static void test_put_conditions(void)
{
    pt_proxy_t p;
    CU_ASSERT_EQUAL_FATAL(pt_proxy_start(&p, "bucket.wrc.fencing = optional\n"), 0);
    mkbucket(&p, "wrc");
    pt_resp_t r;
    char etag[64], lm[64], h1[128];
    /* If-None-Match: * creates once; the second is refused, nothing written. */
    const char *create[] = {"If-None-Match: *", NULL};
    CU_ASSERT_EQUAL(req(&p, "PUT", "/wrc/k", create, "first", NULL), 200);
    req(&p, "PUT", "/wrc/k", create, "second", &r);
    expect_412(&r, "If-None-Match");
    pt_resp_free(&r);
    char *b = body_of(&p, "/wrc/k");
    CU_ASSERT_STRING_EQUAL(b, "first");
    free(b);
    /* If-Match with the current ETag: the compare-and-swap succeeds once;
     * the same (now stale) ETag is refused. */
    validators(&p, "/wrc/k", etag, lm);
    snprintf(h1, sizeof(h1), "If-Match: %s", etag);
    const char *cas[] = {h1, NULL};
    CU_ASSERT_EQUAL(req(&p, "PUT", "/wrc/k", cas, "third", NULL), 200);
    req(&p, "PUT", "/wrc/k", cas, "fourth", &r);
    expect_412(&r, "If-Match");
    pt_resp_free(&r);
    b = body_of(&p, "/wrc/k");
    CU_ASSERT_STRING_EQUAL(b, "third");
    free(b);
    /* If-Match on a key without an object: 404 NoSuchKey, as S3. */
    const char *star[] = {"If-Match: *", NULL};
    req(&p, "PUT", "/wrc/none", star, "x", &r);
    CU_ASSERT_EQUAL(r.status, 404);
    CU_ASSERT_TRUE(pt_body_has(&r, "<Code>NoSuchKey</Code>"));
    pt_resp_free(&r);
    /* A write's If-None-Match takes only "*": 501, as S3. */
    snprintf(h1, sizeof(h1), "If-None-Match: %s", etag);
    const char *inm_tag[] = {h1, NULL};
    req(&p, "PUT", "/wrc/other", inm_tag, "x", &r);
    CU_ASSERT_EQUAL(r.status, 501);
    CU_ASSERT_TRUE(pt_body_has(&r, "<Code>NotImplemented</Code>"));
    CU_ASSERT_TRUE(pt_body_has(&r, "<Header>If-None-Match</Header>"));
    pt_resp_free(&r);
    /* Dates on a write are not preconditions (S3 ignores them). */
    const char *dated[] = {"If-Unmodified-Since: " OLD_DATE, NULL};
    CU_ASSERT_EQUAL(req(&p, "PUT", "/wrc/dated", dated, "ok", NULL), 200);
    /* A conditional delete cannot be honoured: 501, nothing deleted. */
    const char *del_if[] = {"If-Match: *", NULL};
    req(&p, "DELETE", "/wrc/k", del_if, NULL, &r);
    CU_ASSERT_EQUAL(r.status, 501);
    CU_ASSERT_TRUE(pt_body_has(&r, "<Header>If-Match</Header>"));
    pt_resp_free(&r);
    b = body_of(&p, "/wrc/k");
    CU_ASSERT_STRING_EQUAL(b, "third");
    free(b);
    /* Nothing of a refused write remains. */
    CU_ASSERT_EQUAL(pt_status(&p, "GET", "/wrc/none"), 404);
    CU_ASSERT_EQUAL(pt_status(&p, "GET", "/wrc/other"), 404);
    CU_ASSERT_TRUE(PT_WAIT_UNTIL(pt_count_staged(&p) == 0, 5000));
    CU_ASSERT_EQUAL(pt_count_files(&p, "objects/wrc"), 2); /* k, dated */
    CU_ASSERT_EQUAL(pt_proxy_stop(&p), 0);
    pt_proxy_cleanup(&p);
}

static void test_copy_conditions(void)
{
    pt_proxy_t p;
    CU_ASSERT_EQUAL_FATAL(pt_proxy_start(&p, "bucket.cpc.fencing = optional\n"), 0);
    mkbucket(&p, "cpc");
    CU_ASSERT_EQUAL(req(&p, "PUT", "/cpc/src", NULL, "source", NULL), 200);
    char etag[64], lm[64], h1[160], h2[160];
    validators(&p, "/cpc/src", etag, lm);
    const char *cs = "x-amz-copy-source: /cpc/src";
    pt_resp_t r;
    /* Destination If-None-Match: * copies once. */
    const char *once[] = {cs, "If-None-Match: *", NULL};
    CU_ASSERT_EQUAL(req(&p, "PUT", "/cpc/dst", once, NULL, NULL), 200);
    req(&p, "PUT", "/cpc/dst", once, NULL, &r);
    expect_412(&r, "If-None-Match");
    pt_resp_free(&r);
    /* Destination If-Match with a stale ETag: 412. */
    const char *dst_stale[] = {cs, "If-Match: \"0000\"", NULL};
    CU_ASSERT_EQUAL(req(&p, "PUT", "/cpc/dst", dst_stale, NULL, NULL), 412);
    /* Source conditions: each refusal is 412, nothing copied. */
    snprintf(h1, sizeof(h1), "x-amz-copy-source-if-match: %s", etag);
    snprintf(h2, sizeof(h2), "x-amz-copy-source-if-none-match: %s", etag);
    const char *src_match_no[] = {cs, "x-amz-copy-source-if-match: \"0000\"", NULL};
    const char *src_inm_yes[] = {cs, h2, NULL};
    const char *src_ius_old[] = {cs, "x-amz-copy-source-if-unmodified-since: " OLD_DATE, NULL};
    char h3[160];
    snprintf(h3, sizeof(h3), "x-amz-copy-source-if-modified-since: %s", lm);
    const char *src_ims_lm[] = {cs, h3, NULL};
    const char *const *refused[] = {src_match_no, src_inm_yes, src_ius_old, src_ims_lm};
    for (int i = 0; i < 4; i++) {
        req(&p, "PUT", "/cpc/refused", refused[i], NULL, &r);
        CU_ASSERT_EQUAL(r.status, 412);
        CU_ASSERT_TRUE(pt_body_has(&r, "<Code>PreconditionFailed</Code>"));
        pt_resp_free(&r);
    }
    CU_ASSERT_EQUAL(pt_status(&p, "GET", "/cpc/refused"), 404);
    /* Source conditions that hold, and S3's precedence: if-match true with
     * if-unmodified-since false copies; if-none-match false with
     * if-modified-since true is refused. */
    const char *src_match[] = {cs, h1, NULL};
    CU_ASSERT_EQUAL(req(&p, "PUT", "/cpc/c1", src_match, NULL, NULL), 200);
    const char *src_match_ius[] = {cs, h1, "x-amz-copy-source-if-unmodified-since: " OLD_DATE,
                                   NULL};
    CU_ASSERT_EQUAL(req(&p, "PUT", "/cpc/c2", src_match_ius, NULL, NULL), 200);
    const char *src_inm_ims[] = {cs, h2, "x-amz-copy-source-if-modified-since: " OLD_DATE, NULL};
    CU_ASSERT_EQUAL(req(&p, "PUT", "/cpc/c3", src_inm_ims, NULL, NULL), 412);
    const char *src_ims_old[] = {cs, "x-amz-copy-source-if-modified-since: " OLD_DATE, NULL};
    CU_ASSERT_EQUAL(req(&p, "PUT", "/cpc/c4", src_ims_old, NULL, NULL), 200);
    char *b = body_of(&p, "/cpc/c4");
    CU_ASSERT_STRING_EQUAL(b, "source");
    free(b);
    /* A copy's destination If-None-Match other than "*": 501. */
    const char *dst_tag[] = {cs, h2 + strlen("x-amz-copy-source-"), NULL};
    CU_ASSERT_EQUAL(req(&p, "PUT", "/cpc/c5", dst_tag, NULL, NULL), 501);
    CU_ASSERT_EQUAL(pt_status(&p, "GET", "/cpc/c5"), 404);
    CU_ASSERT_EQUAL(pt_proxy_stop(&p), 0);
    pt_proxy_cleanup(&p);
}

/* A fenced write whose precondition fails: the token was good, so the
 * mark is raised, but nothing is written; audited rejected_precondition.
 * A stale token is refused by the fence first. */
static void test_fenced_conditions(void)
{
    pt_proxy_t p;
    CU_ASSERT_EQUAL_FATAL(pt_proxy_start(&p, NULL), 0);
    mkbucket(&p, "fnc");
    const char *t10[] = {"X-Fencing-Lock: /locks/fnc", "X-Fencing-Token: 10", "If-None-Match: *",
                         NULL};
    CU_ASSERT_EQUAL(req(&p, "PUT", "/fnc/k", t10, "v10", NULL), 200);
    const char *t11[] = {"X-Fencing-Lock: /locks/fnc", "X-Fencing-Token: 11", "If-None-Match: *",
                         NULL};
    pt_resp_t r;
    req(&p, "PUT", "/fnc/k", t11, "v11", &r);
    expect_412(&r, "If-None-Match");
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(pt_mark(&p, "/locks/fnc"), 11);
    char *b = body_of(&p, "/fnc/k");
    CU_ASSERT_STRING_EQUAL(b, "v10");
    free(b);
    const char *t12[] = {"X-Fencing-Lock: /locks/fnc", "X-Fencing-Token: 12", "If-Match: \"0000\"",
                         NULL};
    CU_ASSERT_EQUAL(req(&p, "PUT", "/fnc/k", t12, "v12", NULL), 412);
    const char *t13[] = {"X-Fencing-Lock: /locks/fnc", "X-Fencing-Token: 13", "If-Match: *", NULL};
    CU_ASSERT_EQUAL(req(&p, "PUT", "/fnc/absent", t13, "v13", NULL), 404);
    /* Stale token with a precondition that would hold: the fence answers. */
    const char *t9[] = {"X-Fencing-Lock: /locks/fnc", "X-Fencing-Token: 9", "If-Match: *", NULL};
    req(&p, "PUT", "/fnc/k", t9, "v9", &r);
    CU_ASSERT_EQUAL(r.status, 412);
    CU_ASSERT_TRUE(pt_body_has(&r, "<Code>StaleFencingToken</Code>"));
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(pt_audit_count(&p, "\"token\":\"11\",\"mark\":\"10\",\"verdict\":\"rejected_"
                                       "precondition\",\"bucket\":\"fnc\",\"key\":\"k\",\"op\":"
                                       "\"PutObject\""),
                    1);
    CU_ASSERT_EQUAL(pt_audit_count(&p, "\"verdict\":\"rejected_precondition\""), 3);
    CU_ASSERT_EQUAL(pt_audit_count(&p, "\"verdict\":\"accepted_higher\""), 1);
    pt_resp_t mt;
    pt_http(&p, "GET", "/_zkfence/metrics", NULL, NULL, 0, &mt);
    CU_ASSERT_TRUE(pt_body_has(&mt, "zkfence_fence_decisions_total{op=\"PutObject\","
                                    "verdict=\"rejected_precondition\"} 3\n"));
    pt_resp_free(&mt);
    CU_ASSERT_EQUAL(pt_mark(&p, "/locks/fnc"), 13);
    CU_ASSERT_TRUE(PT_WAIT_UNTIL(pt_count_staged(&p) == 0, 5000));
    CU_ASSERT_EQUAL(pt_proxy_stop(&p), 0);
    pt_proxy_cleanup(&p);
}

/* --- If-None-Match: * racing ---------------------------------------------------------- */

#define RACERS 6

typedef struct racer {
    const pt_proxy_t *p;
    pthread_barrier_t *go;
    char path[64];
    char body[32];
    int fenced;
    long status;
} racer_t;

static void *race_put(void *arg)
{
    racer_t *a = arg;
    const char *plain[] = {"If-None-Match: *", NULL};
    const char *fenced[] = {"If-None-Match: *", "X-Fencing-Lock: /locks/race", "X-Fencing-Token: 1",
                            NULL};
    pthread_barrier_wait(a->go);
    a->status = req(a->p, "PUT", a->path, a->fenced ? fenced : plain, a->body, NULL);
    return NULL;
}

/* Each round, RACERS writers create one fresh key with If-None-Match: *:
 * exactly one gets 200 and its body is the object; the others get 412. */
static void race_rounds(const pt_proxy_t *p, const char *bucket, int fenced, int rounds)
{
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, RACERS);
    int bad = 0;
    for (int i = 0; i < rounds; i++) {
        racer_t a[RACERS];
        pthread_t t[RACERS];
        for (int j = 0; j < RACERS; j++) {
            a[j] = (racer_t){.p = p, .go = &go, .fenced = fenced};
            snprintf(a[j].path, sizeof(a[j].path), "/%s/key-%d", bucket, i);
            snprintf(a[j].body, sizeof(a[j].body), "writer %d", j);
            pthread_create(&t[j], NULL, race_put, &a[j]);
        }
        int won = 0, lost = 0, winner = -1;
        for (int j = 0; j < RACERS; j++) {
            pthread_join(t[j], NULL);
            if (a[j].status == 200) {
                won++;
                winner = j;
            }
            lost += a[j].status == 412;
        }
        char *b = body_of(p, a[0].path);
        if (won != 1 || lost != RACERS - 1 || strcmp(b, a[winner < 0 ? 0 : winner].body) != 0) {
            bad++;
            fprintf(stderr, "round %d: %d won, %d refused, object '%s'\n", i, won, lost, b);
        }
        free(b);
    }
    pthread_barrier_destroy(&go);
    CU_ASSERT_EQUAL(bad, 0);
}

static void test_if_none_match_race(void)
{
    pt_proxy_t p;
    CU_ASSERT_EQUAL_FATAL(pt_proxy_start(&p, "bucket.free.fencing = optional\n"), 0);
    mkbucket(&p, "free");
    mkbucket(&p, "locked");
    int rounds = getenv("ZKFENCE_UNDER_VALGRIND") ? 5 : 40;
    race_rounds(&p, "free", 0, rounds);   /* unfenced: the backend's commit decides */
    race_rounds(&p, "locked", 1, rounds); /* fenced: the same, inside the lock's section */
    CU_ASSERT_EQUAL(pt_count_files(&p, "objects/free"), rounds);
    CU_ASSERT_TRUE(PT_WAIT_UNTIL(pt_count_staged(&p) == 0, 5000));
    CU_ASSERT_EQUAL(pt_proxy_stop(&p), 0);
    pt_proxy_cleanup(&p);

    /* object_fsync = off, several event loops: the racers' token equals the
     * mark after the first round, so they are inside the lock's section
     * together and end on their loops (zkp_gate_early): the bucket's
     * mutex alone must still let exactly one of them publish. */
    CU_ASSERT_EQUAL_FATAL(pt_proxy_start(&p, "object_fsync = off\nio_threads = 4\n"), 0);
    mkbucket(&p, "locked");
    race_rounds(&p, "locked", 1, rounds);
    CU_ASSERT(pt_metric(&p, "zkfence_writes_on_loop_total") >= (long long)(rounds - 1));
    CU_ASSERT_EQUAL(pt_count_files(&p, "objects/locked"), rounds);
    CU_ASSERT_TRUE(PT_WAIT_UNTIL(pt_count_staged(&p) == 0, 5000));
    CU_ASSERT_EQUAL(pt_proxy_stop(&p), 0);
    pt_proxy_cleanup(&p);
}

static void add_tests(void *suite)
{
    CU_add_test(suite, "read_conditions", test_read_conditions);
    CU_add_test(suite, "put_conditions", test_put_conditions);
    CU_add_test(suite, "copy_conditions", test_copy_conditions);
    CU_add_test(suite, "fenced_conditions", test_fenced_conditions);
    CU_add_test(suite, "if_none_match_race", test_if_none_match_race);
}

int main(void)
{
    return pt_run_suite("proxy_conditional", add_tests);
}
