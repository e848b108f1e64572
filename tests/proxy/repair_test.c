/* Mark repair against a running proxy: a forged mark undone (lowered, then
 * cleared), every bad request refused with nothing moved, an inert mark of
 * an older store named at start and cleared, and repairs racing writes of
 * the same lock: the audit log, replayed in order, shows every acceptance
 * decided against the mark the repairs and writes before it left. */
#include <CUnit/Basic.h>
#include <inttypes.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static long repair(const pt_proxy_t *p, const char *query, pt_resp_t *out)
{
    char path[2048];
    snprintf(path, sizeof(path), "/_zkfence/marks/repair?%s", query);
    pt_resp_t tmp;
    pt_resp_t *r = out ? out : &tmp;
    pt_http(p, "POST", path, NULL, NULL, 0, r);
    long st = r->status;
    if (out == NULL)
        pt_resp_free(&tmp);
    return st;
}

static void put(const pt_proxy_t *p, const char *path, const char *lock, const char *token,
                long want)
{
    long st = pt_fenced(p, "PUT", path, lock, token, "x", NULL);
    if (st != want)
        fprintf(stderr, "PUT %s %s %s: %ld, wanted %ld\n", path, lock, token, st, want);
    CU_ASSERT_EQUAL(st, want);
}

static void test_forged_mark_undone(void)
{
    pt_proxy_t p;
    CU_ASSERT_EQUAL_FATAL(pt_proxy_start(&p, NULL), 0);
    CU_ASSERT_EQUAL(pt_status(&p, "PUT", "/b1b"), 200);
    /* verification off: a forged token gets in and locks the holder out */
    put(&p, "/b1b/k", "/locks/r", "18446744073709551615", 200);
    put(&p, "/b1b/k", "/locks/r", "4294967301", 412);
    pt_resp_t r;
    CU_ASSERT_EQUAL(
        repair(&p, "lock=/locks/r&mark=4294967300&reason=forged%20token%20%22max%22", &r), 200);
    CU_ASSERT(pt_body_has(&r, "\"previous_mark\":\"18446744073709551615\""));
    CU_ASSERT(pt_body_has(&r, "\"mark\":\"4294967300\""));
    CU_ASSERT(pt_body_has(&r, "\"reason\":\"forged token \\\"max\\\"\""));
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(pt_mark(&p, "/locks/r"), 4294967300LL);
    put(&p, "/b1b/k", "/locks/r", "4294967301", 200); /* the holder writes again */
    put(&p, "/b1b/k", "/locks/r", "4294967299", 412); /* below the repaired mark: stale */
    char line[512];
    snprintf(line, sizeof(line),
             "\"lock\":\"/locks/r\",\"token\":null,\"mark\":\"18446744073709551615\","
             "\"verdict\":\"repaired\",\"bucket\":null,\"key\":null,\"op\":\"MarkRepair\","
             "\"new_mark\":\"4294967300\",\"reason\":\"forged token \\\"max\\\"\","
             "\"admin\":\"%s\"}",
             p.admin.id);
    CU_ASSERT_EQUAL(pt_audit_count(&p, line), 1);
    /* clear */
    CU_ASSERT_EQUAL(repair(&p, "lock=/locks/r&clear&reason=start%20over", &r), 200);
    CU_ASSERT(pt_body_has(&r, "\"previous_mark\":\"4294967301\",\"mark\":null"));
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(pt_mark(&p, "/locks/r"), -1);
    put(&p, "/b1b/k", "/locks/r", "1", 200);
    CU_ASSERT_EQUAL(pt_audit_count(&p, "\"new_mark\":null,\"reason\":\"start over\""), 1);
    /* durable: the repaired state survives a kill -9 */
    CU_ASSERT_EQUAL(repair(&p, "lock=/locks/r&mark=0&reason=zero", NULL), 200);
    pt_proxy_kill9(&p);
    CU_ASSERT_EQUAL_FATAL(pt_proxy_restart(&p), 0);
    CU_ASSERT_EQUAL(pt_mark(&p, "/locks/r"), 0);
    CU_ASSERT(pt_status(&p, "GET", "/_zkfence/metrics") == 200);
    pt_proxy_cleanup(&p);
}

static void test_bad_repairs(void)
{
    pt_proxy_t p;
    CU_ASSERT_EQUAL_FATAL(pt_proxy_start(&p, NULL), 0);
    CU_ASSERT_EQUAL(pt_status(&p, "PUT", "/b1b"), 200);
    put(&p, "/b1b/k", "/locks/r", "10", 200);
    static const struct {
        const char *query;
        long status;
        const char *code, *says;
    } bad[] = {
        {"mark=5&reason=x", 400, "InvalidArgument", "names its lock"},
        {"lock=/locks/r&reason=x", 400, "InvalidArgument", "either mark=N"},
        {"lock=/locks/r&mark=5&clear&reason=x", 400, "InvalidArgument", "either mark=N"},
        {"lock=/locks/r&mark=5", 400, "InvalidArgument", "needs a reason"},
        {"lock=/locks/r&mark=5&reason=", 400, "InvalidArgument", "needs a reason"},
        {"lock=/locks/r&mark=5&reason=a%0Ab", 400, "InvalidArgument", "control characters"},
        {"lock=/locks/r&mark=05&reason=x", 400, "InvalidArgument", "unsigned 64-bit"},
        {"lock=/locks/r&mark=-1&reason=x", 400, "InvalidArgument", "unsigned 64-bit"},
        {"lock=/locks/r&mark=11&reason=x", 400, "InvalidRequest", "never raises"},
        {"lock=/locks/none&mark=0&reason=x", 400, "InvalidRequest", "no mark to lower"},
        {"lock=/locks/r/&mark=5&reason=x", 400, "InvalidFencingLock", "end with"},
        {"lock=locks&mark=5&reason=x", 400, "InvalidFencingLock", "absolute"},
        {"lock=a%20b&clear&reason=x", 400, "InvalidFencingLock", "printable"},
        {"lock=/locks/r&clear=2&reason=x", 400, "InvalidArgument", "no value"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        pt_resp_t r;
        long st = repair(&p, bad[i].query, &r);
        if (st != bad[i].status || !pt_error_is(&r, bad[i].code) || !pt_body_has(&r, bad[i].says))
            fprintf(stderr, "%s: %ld %.*s\n", bad[i].query, st, (int)r.len, r.body);
        CU_ASSERT_EQUAL(st, bad[i].status);
        CU_ASSERT(pt_error_is(&r, bad[i].code));
        CU_ASSERT(pt_body_has(&r, bad[i].says));
        pt_resp_free(&r);
        CU_ASSERT_EQUAL(pt_mark(&p, "/locks/r"), 10);
    }
    char big[700] = "lock=/locks/r&mark=5&reason=";
    memset(big + strlen(big), 'a', 513);
    CU_ASSERT_EQUAL(repair(&p, big, NULL), 400);
    CU_ASSERT_EQUAL(pt_status(&p, "GET", "/_zkfence/marks/repair?lock=/locks/r&clear&reason=x"),
                    404);
    CU_ASSERT_EQUAL(pt_mark(&p, "/locks/r"), 10);
    CU_ASSERT_EQUAL(pt_audit_count(&p, "MarkRepair"), 0);
    /* clearing nothing is fine, and changes nothing */
    pt_resp_t r;
    CU_ASSERT_EQUAL(repair(&p, "lock=/locks/none&clear&reason=x", &r), 200);
    CU_ASSERT(pt_body_has(&r, "\"previous_mark\":null,\"mark\":null"));
    pt_resp_free(&r);
    /* the mark store cannot write: 503, nothing changed */
    CU_ASSERT_EQUAL(pt_status(&p, "POST", "/_zkfence/debug/marks-fail?on=1"), 204);
    put(&p, "/b1b/k", "/locks/r", "11", 503);
    CU_ASSERT_EQUAL(repair(&p, "lock=/locks/r&mark=1&reason=x", &r), 503);
    CU_ASSERT(pt_error_is(&r, "ServiceUnavailable"));
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(pt_status(&p, "POST", "/_zkfence/debug/marks-fail?on=0"), 204);
    CU_ASSERT(PT_WAIT_UNTIL(pt_status(&p, "GET", "/_zkfence/health") == 200, 10000));
    CU_ASSERT_EQUAL(pt_mark(&p, "/locks/r"), 10);
    pt_proxy_cleanup(&p);
}

static void test_inert_mark(void)
{
    pt_proxy_t p;
    CU_ASSERT_EQUAL_FATAL(pt_proxy_start(&p, NULL), 0);
    CU_ASSERT_EQUAL(pt_proxy_stop(&p), 0);
    /* What an older version let a client leave behind. */
    char db_path[400];
    snprintf(db_path, sizeof(db_path), "%s/marks.db", p.data_dir);
    sqlite3 *db = NULL;
    CU_ASSERT_EQUAL_FATAL(sqlite3_open(db_path, &db), SQLITE_OK);
    CU_ASSERT_EQUAL(sqlite3_exec(db,
                                 "INSERT INTO marks VALUES ('/locks/a/', '18446744073709551615'),"
                                 " ('/locks/a', '00000000000000000005')",
                                 NULL, NULL, NULL),
                    SQLITE_OK);
    sqlite3_close(db);
    CU_ASSERT_EQUAL_FATAL(pt_proxy_restart(&p), 0);
    CU_ASSERT_EQUAL(pt_log_count(&p, "inert mark 18446744073709551615 under '/locks/a/'"), 1);
    pt_resp_t r;
    pt_http(&p, "GET", "/_zkfence/health", NULL, NULL, 0, &r);
    CU_ASSERT(pt_body_has(&r, "\"inert_marks\":1"));
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(pt_status(&p, "PUT", "/b1b"), 200);
    put(&p, "/b1b/k", "/locks/a/", "1", 400);
    put(&p, "/b1b/k", "/locks/a", "5", 200); /* the canonical lock's own mark counts */
    CU_ASSERT_EQUAL(repair(&p, "lock=/locks/a/&mark=1&reason=x", NULL), 400); /* not canonical */
    CU_ASSERT_EQUAL(repair(&p, "lock=/locks/a/&clear&reason=inert", NULL), 200);
    pt_http(&p, "GET", "/_zkfence/health", NULL, NULL, 0, &r);
    CU_ASSERT(pt_body_has(&r, "\"inert_marks\":0"));
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(pt_mark(&p, "/locks/a/"), -1);
    CU_ASSERT_EQUAL(pt_mark(&p, "/locks/a"), 5);
    pt_proxy_cleanup(&p);
}

/* --- repairs racing writes ------------------------------------------------------- */

typedef struct race {
    pt_proxy_t *p;
    atomic_ullong next_token;
    atomic_int stop;
    atomic_int unexpected; /* answers other than 200 and 412 */
    int repairs;
} race_t;

static void *writer(void *arg)
{
    race_t *rc = arg;
    while (!atomic_load(&rc->stop)) {
        char t[32];
        snprintf(t, sizeof(t), "%llu", (unsigned long long)atomic_fetch_add(&rc->next_token, 1));
        long st = pt_fenced(rc->p, "PUT", "/b1b/race", "/locks/race", t, "x", NULL);
        if (st != 200 && st != 412)
            atomic_fetch_add(&rc->unexpected, 1); /* CUnit asserts from one thread only */
    }
    return NULL;
}

/* The decimal value of "name":"N" in line, or -1 for null / absent. */
static long long num_field(const char *line, const char *name)
{
    char needle[64];
    snprintf(needle, sizeof(needle), "\"%s\":\"", name);
    const char *at = strstr(line, needle);
    return at ? strtoll(at + strlen(needle), NULL, 10) : -1;
}

static void test_repair_races_writes(void)
{
    pt_proxy_t p;
    CU_ASSERT_EQUAL_FATAL(pt_proxy_start(&p, NULL), 0);
    CU_ASSERT_EQUAL(pt_status(&p, "PUT", "/b1b"), 200);
    race_t rc = {.p = &p};
    atomic_init(&rc.next_token, 100);
    atomic_init(&rc.stop, 0);
    atomic_init(&rc.unexpected, 0);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, writer, &rc);
    int rounds = getenv("ZKFENCE_UNDER_VALGRIND") ? 10 : 60;
    for (int i = 0; i < rounds; i++) {
        /* wait for a write to land, then pull the mark down under the writers */
        long long base = pt_mark(&p, "/locks/race");
        PT_WAIT_UNTIL(pt_mark(&p, "/locks/race") > base, 10000);
        long st = repair(&p,
                         i % 5 == 4 ? "lock=/locks/race&clear&reason=race"
                                    : "lock=/locks/race&mark=1&reason=race",
                         NULL);
        CU_ASSERT(st == 200);
        rc.repairs += st == 200;
    }
    atomic_store(&rc.stop, 1);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    CU_ASSERT_EQUAL(atomic_load(&rc.unexpected), 0);

    /* Replay the log in order: acceptances and repairs are written inside
     * the lock's section, so each must have met the mark that the lines
     * before it left. A repair between a write's decision and its commit
     * would show as an acceptance logged against a mark that is no longer
     * there. */
    char path[400];
    snprintf(path, sizeof(path), "%s/audit.log", p.data_dir);
    FILE *f = fopen(path, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    char line[4096];
    long long sim = -1; /* no mark */
    int accepted = 0, repaired = 0, bad = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strstr(line, "\"lock\":\"/locks/race\"") == NULL)
            continue;
        long long logged = num_field(line, "mark"), token = num_field(line, "token");
        int was = bad;
        if (strstr(line, "\"verdict\":\"repaired\"")) {
            bad += logged != sim;
            sim = num_field(line, "new_mark");
            repaired++;
        } else if (strstr(line, "\"verdict\":\"accepted_higher\"")) {
            bad += logged != sim || token <= sim;
            sim = token;
            accepted++;
        } else if (strstr(line, "\"verdict\":\"accepted_equal\"")) {
            bad += logged != sim || token != sim;
            accepted++;
        }
        if (was == 0 && bad > 0)
            fprintf(stderr, "out of order (replayed mark %lld): %s", sim, line);
    }
    fclose(f);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(repaired, rc.repairs);
    CU_ASSERT(accepted > rounds);
    CU_ASSERT_EQUAL(pt_mark(&p, "/locks/race"), sim);
    pt_proxy_cleanup(&p);
}

/* Admin rights on every bucket: another key (write everywhere, or admin of
 * one bucket) and an unsigned request are refused before the mark is
 * looked at, with nothing changed and nothing audited; so is the marks
 * listing. Metrics stay open to loopback (the rights table's LOCAL rule). */
static const pt_key_t rep_writer = {"AKREPWRITER1", "repair-writer-secret-0123"};
static const pt_key_t bucket_admin = {"AKREPBADMIN1", "repair-badmin-secret-0123"};

static long as(const pt_proxy_t *p, const pt_req_opts_t *o, const char *method, const char *path,
               const char *code)
{
    pt_resp_t r;
    pt_http_opts(p, o, method, path, NULL, NULL, 0, &r);
    long st = r.status;
    if (code != NULL)
        CU_ASSERT(pt_error_is(&r, code));
    pt_resp_free(&r);
    return st;
}

static void test_repair_needs_admin(void)
{
    pt_proxy_t p;
    CU_ASSERT_EQUAL_FATAL(pt_proxy_start_ex(&p, NULL,
                                            "key AKREPWRITER1 repair-writer-secret-0123\n"
                                            "grant AKREPWRITER1 * write\n"
                                            "key AKREPBADMIN1 repair-badmin-secret-0123\n"
                                            "grant AKREPBADMIN1 b1d admin\n",
                                            0),
                          0);
    CU_ASSERT_EQUAL(pt_status(&p, "PUT", "/b1d"), 200);
    put(&p, "/b1d/k", "/locks/d", "18446744073709551615", 200);
    const char *q = "/_zkfence/marks/repair?lock=/locks/d&clear&reason=mine";
    pt_req_opts_t w = {.key = &rep_writer}, ba = {.key = &bucket_admin},
                  anon = {.mode = PT_SIGN_NONE};
    CU_ASSERT_EQUAL(as(&p, &w, "POST", q, "AccessDenied"), 403);
    CU_ASSERT_EQUAL(as(&p, &ba, "POST", q, "AccessDenied"), 403);
    CU_ASSERT_EQUAL(as(&p, &anon, "POST", q, "AccessDenied"), 403);
    CU_ASSERT_EQUAL(as(&p, &w, "GET", "/_zkfence/marks", "AccessDenied"), 403);
    CU_ASSERT_EQUAL(as(&p, &anon, "GET", "/_zkfence/marks", "AccessDenied"), 403);
    CU_ASSERT_EQUAL(as(&p, &anon, "GET", "/_zkfence/metrics", NULL), 200);
    pt_resp_t r;
    CU_ASSERT_EQUAL(pt_http(&p, "GET", "/_zkfence/marks", NULL, NULL, 0, &r), 0);
    CU_ASSERT(pt_body_has(&r, "{\"lock\":\"/locks/d\",\"mark\":\"18446744073709551615\"}"));
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(pt_audit_count(&p, "MarkRepair"), 0);
    CU_ASSERT_EQUAL(as(&p, NULL, "POST", q, NULL), 200);
    CU_ASSERT_EQUAL(pt_mark(&p, "/locks/d"), -1);
    char who[96];
    snprintf(who, sizeof(who), "\"reason\":\"mine\",\"admin\":\"%s\"}", p.admin.id);
    CU_ASSERT_EQUAL(pt_audit_count(&p, who), 1);
    pt_proxy_cleanup(&p);
}

static void add_tests(void *suite)
{
    CU_pSuite s = suite;
    CU_add_test(s, "a forged mark undone: lowered, cleared, durable", test_forged_mark_undone);
    CU_add_test(s, "bad repairs refused, nothing moved", test_bad_repairs);
    CU_add_test(s, "an inert mark named at start and cleared", test_inert_mark);
    CU_add_test(s, "repairs racing writes keep the section's order", test_repair_races_writes);
    CU_add_test(s, "repair and the marks listing need admin rights", test_repair_needs_admin);
}

int main(void)
{
    return pt_run_suite("proxy_repair", add_tests);
}
