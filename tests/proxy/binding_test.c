/* Locks bound to keys, against a running proxy: the lock switch
 * (refused), a token alone taking the bound lock, prefixes and templates,
 * fenced reads and listings, DeleteObjects over several locks, CopyObject,
 * a key whose lock would be too long, a bound lock named through another
 * bucket, the audit of refusals, and bad bindings refused at start. */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attacks.h"
#include "harness.h"

static const char *const CONF = "bind.attack = /locks/a\n"
                                "bind.seats = /locks/seats\n"
                                "bind.seats/rows/ = /locks/rows\n"
                                "bind.ledger = /locks/{bucket}/{key}\n"
                                "bind.logs/app/ = /locks/app\n"
                                "bucket.loose.fencing = optional\n"
                                "bind.loose = /locks/loose\n"
                                "bind.part/b/ = /locks/partb\n";

static pt_proxy_t P;
static int started;

static const pt_proxy_t *proxy(void)
{
    if (!started) {
        CU_ASSERT_EQUAL_FATAL(pt_proxy_start(&P, CONF), 0);
        started = 1;
        const char *buckets[] = {"/attack", "/seats", "/ledger", "/logs",
                                 "/loose",  "/free",  "/part"};
        for (size_t i = 0; i < sizeof(buckets) / sizeof(char *); i++)
            CU_ASSERT_EQUAL(pt_status(&P, "PUT", buckets[i]), 200);
    }
    return &P;
}

static void expect(long got, long want, const pt_resp_t *r, const char *code)
{
    if (got != want || (code && !pt_error_is(r, code)))
        fprintf(stderr, "got %ld (wanted %ld %s): %.*s\n", got, want, code ? code : "", (int)r->len,
                r->body ? r->body : "");
    CU_ASSERT_EQUAL(got, want);
    if (code != NULL)
        CU_ASSERT(pt_error_is(r, code));
}

/* A request; asserts the status (and the error code if not NULL). */
static void req(const char *method, const char *path, const char *lock, const char *token,
                const char *body, long want, const char *code)
{
    pt_resp_t r;
    long st = pt_fenced(proxy(), method, path, lock, token, body, &r);
    expect(st, want, &r, code);
    pt_resp_free(&r);
}

static void test_lock_switch(void)
{
    const pt_proxy_t *p = proxy();
    req("PUT", "/attack/k", "/locks/a", "5", "good", 200, NULL);
    CU_ASSERT_EQUAL(pt_mark(p, "/locks/a"), 5);
    pt_attack_lock_switch(p, "/attack/k", "/locks/a", 5, "good");
    /* and the rightful lock still works */
    req("PUT", "/attack/k", "/locks/a", "5", "good2", 200, NULL);
    long st;
    char *b = pt_get_body(p, "/attack/k", &st);
    CU_ASSERT_STRING_EQUAL(b, "good2");
    free(b);
    /* the refusals are audited, under the lock that was named */
    CU_ASSERT(pt_audit_count(p, "\"lock\":\"/locks/zzz-new\",\"token\":\"1\",\"mark\":null,"
                                "\"verdict\":\"rejected_lock_mismatch\"") >= 4);
}

static void test_token_alone_takes_bound_lock(void)
{
    const pt_proxy_t *p = proxy();
    req("PUT", "/seats/s1", NULL, "7", "x", 200, NULL);
    CU_ASSERT_EQUAL(pt_mark(p, "/locks/seats"), 7);
    pt_resp_t r;
    pt_http(p, "GET", "/seats/s1", NULL, NULL, 0, &r);
    char v[128];
    CU_ASSERT_STRING_EQUAL(pt_header(&r, "X-Fencing-Lock", v, sizeof(v)), "/locks/seats");
    pt_resp_free(&r);
    /* the metadata spelling too */
    const char *meta[] = {"x-amz-meta-fencing-token: 8", NULL};
    pt_http(p, "PUT", "/seats/s1", meta, "y", 1, &r);
    CU_ASSERT_EQUAL(r.status, 200);
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(pt_mark(p, "/locks/seats"), 8);
    /* naming the bound lock is fine; a stale token is still stale */
    req("PUT", "/seats/s1", "/locks/seats", "8", "z", 200, NULL);
    req("PUT", "/seats/s1", NULL, "6", "w", 412, "StaleFencingToken");
    /* no token at all: 428, naming the bound lock */
    pt_resp_t m;
    pt_http(p, "PUT", "/seats/s2", NULL, "x", 1, &m);
    expect(m.status, 428, &m, "FencingTokenRequired");
    CU_ASSERT(pt_body_has(&m, "/locks/seats"));
    pt_resp_free(&m);
    CU_ASSERT_EQUAL(pt_status(p, "GET", "/seats/s2"), 404);
    /* a lock sent without its token is half the headers, as before */
    req("PUT", "/seats/s2", "/locks/seats", NULL, "x", 428, "FencingTokenRequired");
    /* an optional bucket's bound key may be written without fencing; with a
     * token, it takes the bound lock */
    req("PUT", "/loose/k", NULL, NULL, "x", 200, NULL);
    CU_ASSERT_EQUAL(pt_mark(p, "/locks/loose"), -1);
    req("PUT", "/loose/k", NULL, "3", "x", 200, NULL);
    CU_ASSERT_EQUAL(pt_mark(p, "/locks/loose"), 3);
    req("PUT", "/loose/k", "/locks/other", "3", "x", 403, "FencingLockMismatch");
}

static void test_prefix_and_template(void)
{
    const pt_proxy_t *p = proxy();
    req("PUT", "/seats/rows/1", NULL, "11", "r", 200, NULL);
    CU_ASSERT_EQUAL(pt_mark(p, "/locks/rows"), 11);
    req("PUT", "/seats/rows/1", "/locks/seats", "99", "r", 403, "FencingLockMismatch");
    CU_ASSERT_EQUAL(pt_mark(p, "/locks/seats") < 99, 1);
    /* one lock per key, escaped: "a b/." is /locks/ledger/a%20b/%2E */
    req("PUT", "/ledger/a%20b/.", NULL, "21", "l", 200, NULL);
    CU_ASSERT_EQUAL(pt_mark(p, "/locks/ledger/a%20b/%2E"), 21);
    req("PUT", "/ledger/a%20b/.", "/locks/ledger/a%20b/%2E", "21", "l", 200, NULL);
    req("PUT", "/ledger/a%20b/.", "/locks/ledger/a b/.", "21", "l", 400, "InvalidFencingLock");
    req("PUT", "/ledger/other", "/locks/ledger/a%20b/%2E", "30", "l", 403, "FencingLockMismatch");
    CU_ASSERT_EQUAL(pt_status(p, "GET", "/ledger/other"), 404);
    /* a key whose lock would be longer than 1024 bytes: refused */
    char path[1200] = "/ledger/";
    for (int i = 0; i < 340; i++)
        strcat(path, "%20");
    req("PUT", path, NULL, "40", "l", 400, "KeyTooLongError");
    /* a prefix-only bucket: other keys are free */
    req("PUT", "/logs/web/1", "/locks/web", "1", "l", 200, NULL);
    req("PUT", "/logs/app/1", NULL, "2", "l", 200, NULL);
    CU_ASSERT_EQUAL(pt_mark(p, "/locks/app"), 2);
}

static void test_bound_lock_through_unbound_key(void)
{
    const pt_proxy_t *p = proxy();
    long long before = pt_mark(p, "/locks/seats");
    /* A bound lock named on a key no binding governs would raise that
     * lock's mark for the keys it fences. */
    req("PUT", "/free/k", "/locks/seats", "1000", "x", 403, "FencingLockMismatch");
    req("PUT", "/free/k", "/locks/ledger/a%20b/%2E", "1000", "x", 403, "FencingLockMismatch");
    req("PUT", "/logs/web/2", "/locks/app", "1000", "x", 403, "FencingLockMismatch");
    req("GET", "/free/k", "/locks/seats", "1000", NULL, 403, "FencingLockMismatch");
    CU_ASSERT_EQUAL(pt_status(p, "GET", "/free/k"), 404);
    CU_ASSERT_EQUAL(pt_mark(p, "/locks/seats"), before);
    CU_ASSERT_EQUAL(pt_mark(p, "/locks/app"), 2);
    /* unbound locks are as free as before */
    req("PUT", "/free/k", "/locks/free", "1", "x", 200, NULL);
}

static void test_reads_and_listings(void)
{
    const pt_proxy_t *p = proxy();
    req("PUT", "/seats/r1", NULL, "50", "x", 200, NULL);
    req("GET", "/seats/r1", "/locks/zzz", "60", NULL, 403, "FencingLockMismatch");
    CU_ASSERT_EQUAL(pt_mark(p, "/locks/seats"), 50);
    req("GET", "/seats/r1", NULL, "55", NULL, 200, NULL); /* a fenced read, bound lock */
    CU_ASSERT_EQUAL(pt_mark(p, "/locks/seats"), 55);
    req("HEAD", "/seats/r1", NULL, "56", NULL, 200, NULL);
    CU_ASSERT_EQUAL(pt_mark(p, "/locks/seats"), 56);
    req("GET", "/seats/r1", NULL, NULL, NULL, 200, NULL); /* ordinary */
    /* listings: the bucket's own lock when one binding fixes it */
    req("GET", "/seats?list-type=2", NULL, "57", NULL, 200, NULL);
    CU_ASSERT_EQUAL(pt_mark(p, "/locks/seats"), 57);
    req("GET", "/seats?list-type=2", "/locks/rows", "12", NULL, 403, "FencingLockMismatch");
    /* per-key bucket: a token alone is not enough; one of its locks is */
    req("GET", "/ledger?list-type=2", NULL, "22", NULL, 400, "InvalidFencingLock");
    req("GET", "/ledger?list-type=2", "/locks/ledger/a%20b/%2E", "22", NULL, 200, NULL);
    CU_ASSERT_EQUAL(pt_mark(p, "/locks/ledger/a%20b/%2E"), 22);
    req("GET", "/ledger?list-type=2", "/locks/seats", "99", NULL, 403, "FencingLockMismatch");
    req("GET", "/ledger?list-type=2", "/locks/nowhere", "99", NULL, 403, "FencingLockMismatch");
    CU_ASSERT_EQUAL(pt_mark(p, "/locks/nowhere"), -1);
}

static long delete_objects(const char *bucket, const char *lock, const char *token, const char *k1,
                           const char *k2, pt_resp_t *out)
{
    char body[512], path[64];
    snprintf(body, sizeof(body),
             "<Delete><Object><Key>%s</Key></Object><Object><Key>%s</Key></Object></Delete>", k1,
             k2);
    snprintf(path, sizeof(path), "/%s?delete", bucket);
    return pt_fenced(proxy(), "POST", path, lock, token, body, out);
}

static void test_delete_objects(void)
{
    const pt_proxy_t *p = proxy();
    req("PUT", "/seats/d1", NULL, "60", "x", 200, NULL);
    req("PUT", "/seats/rows/d2", NULL, "70", "x", 200, NULL);
    pt_resp_t r;
    /* two keys, two locks: refused whole */
    long st = delete_objects("seats", NULL, "80", "d1", "rows/d2", &r);
    expect(st, 400, &r, "InvalidRequest");
    CU_ASSERT(pt_body_has(&r, "/locks/seats") && pt_body_has(&r, "/locks/rows"));
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(pt_status(p, "GET", "/seats/d1"), 200);
    CU_ASSERT_EQUAL(pt_status(p, "GET", "/seats/rows/d2"), 200);
    CU_ASSERT_EQUAL(pt_mark(p, "/locks/seats"), 60);
    /* per-key locks: two keys are two locks */
    st = delete_objects("ledger", NULL, "80", "x1", "x2", &r);
    expect(st, 400, &r, "InvalidRequest");
    pt_resp_free(&r);
    /* one lock: the token alone takes it */
    req("PUT", "/seats/d3", NULL, "61", "x", 200, NULL);
    st = delete_objects("seats", NULL, "61", "d1", "d3", &r);
    expect(st, 200, &r, NULL);
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(pt_status(p, "GET", "/seats/d1"), 404);
    /* naming another lock */
    st = delete_objects("seats", "/locks/rows", "70", "rows/d2", "d3", &r);
    expect(st, 400, &r, "InvalidRequest");
    pt_resp_free(&r);
    st = delete_objects("seats", "/locks/seats", "70", "rows/d2", "rows/d4", &r);
    expect(st, 403, &r, "FencingLockMismatch");
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(pt_status(p, "GET", "/seats/rows/d2"), 200);
    st = delete_objects("seats", "/locks/zzz", "70", "rows/d2", "rows/d4", &r);
    expect(st, 403, &r, "FencingLockMismatch"); /* not a lock of this bucket: before the body */
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(pt_mark(p, "/locks/rows"), 70);
    CU_ASSERT_EQUAL(pt_mark(p, "/locks/zzz"), -1);
    st = delete_objects("seats", NULL, "70", "rows/d2", "rows/d4", &r);
    expect(st, 200, &r, NULL);
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(pt_status(p, "GET", "/seats/rows/d2"), 404);

    /* A bucket whose fencing is optional: a DeleteObjects of bound keys
     * without fencing headers is unfenced, as a DeleteObject of one of them
     * (it used to take the bound lock with a token of 0 nobody sent). */
    req("PUT", "/loose/o1", NULL, NULL, "x", 200, NULL);
    req("PUT", "/loose/o2", NULL, NULL, "x", 200, NULL);
    long long loose = pt_mark(p, "/locks/loose");
    st = delete_objects("loose", NULL, NULL, "o1", "o2", &r);
    expect(st, 200, &r, NULL);
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(pt_status(p, "GET", "/loose/o1"), 404);
    CU_ASSERT_EQUAL(pt_mark(p, "/locks/loose"), loose);
    /* A fenced one (required bucket) without a token: 428, nothing gone. */
    req("PUT", "/seats/d5", NULL, "70", "x", 200, NULL);
    st = delete_objects("seats", NULL, NULL, "d5", "d6", &r);
    expect(st, 428, &r, "FencingTokenRequired");
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(pt_status(p, "GET", "/seats/d5"), 200);

    /* A bucket bound in part: its unbound keys may be fenced by any lock no
     * binding owns, in a DeleteObjects as in a DeleteObject; the bound
     * lock may not fence them. */
    req("PUT", "/part/u1", "/locks/s1", "10", "x", 200, NULL);
    req("PUT", "/part/u2", "/locks/s1", "10", "x", 200, NULL);
    st = delete_objects("part", "/locks/partb", "10", "u1", "u2", &r);
    expect(st, 403, &r, NULL);
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(pt_status(p, "GET", "/part/u1"), 200);
    CU_ASSERT_EQUAL(pt_mark(p, "/locks/partb"), -1);
    st = delete_objects("part", "/locks/s1", "11", "u1", "u2", &r);
    expect(st, 200, &r, NULL);
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(pt_status(p, "GET", "/part/u1"), 404);
    CU_ASSERT_EQUAL(pt_mark(p, "/locks/s1"), 11);
    /* A lock another bucket's binding owns: refused, its mark unchanged,
     * and not even compared (a low token gets 403, not a 412 naming the
     * mark). */
    req("PUT", "/part/u3", "/locks/s1", "11", "x", 200, NULL);
    long long rows = pt_mark(p, "/locks/rows");
    st = delete_objects("part", "/locks/rows", "99", "u3", "u4", &r);
    expect(st, 403, &r, NULL);
    pt_resp_free(&r);
    st = delete_objects("part", "/locks/rows", "1", "u3", "u4", &r);
    expect(st, 403, &r, "FencingLockMismatch");
    CU_ASSERT_FALSE(pt_body_has(&r, "HighWaterMark"));
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(pt_mark(p, "/locks/rows"), rows);
    CU_ASSERT_EQUAL(pt_status(p, "GET", "/part/u3"), 200);
}

static void test_copy(void)
{
    const pt_proxy_t *p = proxy();
    req("PUT", "/free/src", "/locks/free", "1", "copied", 200, NULL);
    pt_resp_t r;
    const char *bad[] = {"x-amz-copy-source: /free/src", "X-Fencing-Lock: /locks/free",
                         "X-Fencing-Token: 90", NULL};
    pt_http(p, "PUT", "/seats/c1", bad, NULL, 0, &r);
    expect(r.status, 403, &r, "FencingLockMismatch");
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(pt_status(p, "GET", "/seats/c1"), 404);
    const char *good[] = {"x-amz-copy-source: /free/src", "X-Fencing-Token: 90", NULL};
    pt_http(p, "PUT", "/seats/c1", good, NULL, 0, &r);
    expect(r.status, 200, &r, NULL);
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(pt_mark(p, "/locks/seats"), 90);
    /* the source is an ordinary read: a bound source copies out freely */
    const char *out[] = {"x-amz-copy-source: /seats/c1", "X-Fencing-Lock: /locks/free",
                         "X-Fencing-Token: 1", NULL};
    pt_http(p, "PUT", "/free/c2", out, NULL, 0, &r);
    expect(r.status, 200, &r, NULL);
    pt_resp_free(&r);
}

static void test_bad_bindings_refused_at_start(void)
{
    static const struct {
        const char *line, *says;
    } bad[] = {
        {"bind.seats = /locks/a/", "end with '/'"},
        {"bind.seats = //locks/a", "empty path component"},
        {"bind.seats = /locks/{k}", "not a placeholder"},
        {"bind.Seats = /locks/a", "not a valid S3 bucket name"},
        {"bind.seats/ = /locks/a", "prefix after '/' is empty"},
        {"bind.seats = /locks/a\nbind.seats = /locks/b", "bound twice"},
    };
    char dir[] = "/tmp/zkp-bind-XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char conf[300], out[300], data[300];
        snprintf(conf, sizeof(conf), "%s/p.conf", dir);
        snprintf(out, sizeof(out), "%s/out", dir);
        snprintf(data, sizeof(data), "%s/data", dir);
        FILE *f = fopen(conf, "w");
        CU_ASSERT_PTR_NOT_NULL_FATAL(f);
        fprintf(f, "data_dir = %s\n%s\n", data, bad[i].line);
        fclose(f);
        const char *args[] = {"--config", conf, NULL};
        CU_ASSERT_EQUAL(pt_proxy_run(args, out, 20000), 64);
        CU_ASSERT_EQUAL(pt_file_count(out, bad[i].says), 1);
        CU_ASSERT(pt_file_count(out, "p.conf:2") + pt_file_count(out, "p.conf:3") >= 1);
        struct stat st;
        CU_ASSERT_NOT_EQUAL(stat(data, &st), 0); /* nothing created */
        unlink(conf);
        unlink(out);
    }
    rmdir(dir);
}

/* The server keeps its own copy of the configuration: the bindings were
 * shared with main's, and freed twice at exit (a crash on SIGTERM). */
static void test_clean_stop(void)
{
    if (!started)
        return;
    CU_ASSERT_EQUAL(pt_proxy_stop(&P), 0);
    CU_ASSERT_EQUAL(pt_log_count(&P, "stopped"), 1);
}

static void add_tests(void *suite)
{
    CU_pSuite s = suite;
    CU_add_test(s, "the lock switch is refused, nothing moves", test_lock_switch);
    CU_add_test(s, "a token alone takes the bound lock", test_token_alone_takes_bound_lock);
    CU_add_test(s, "prefixes, templates, escaping", test_prefix_and_template);
    CU_add_test(s, "a bound lock through an unbound key", test_bound_lock_through_unbound_key);
    CU_add_test(s, "fenced reads and listings", test_reads_and_listings);
    CU_add_test(s, "DeleteObjects over several locks", test_delete_objects);
    CU_add_test(s, "CopyObject: destination bound, source free", test_copy);
    CU_add_test(s, "bad bindings refused at start (exit 64)", test_bad_bindings_refused_at_start);
    CU_add_test(s, "a proxy with bindings stops cleanly", test_clean_stop);
}

int main(void)
{
    int rc = pt_run_suite("proxy_binding", add_tests);
    if (started)
        pt_proxy_cleanup(&P);
    return rc;
}
