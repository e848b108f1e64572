/* The Jepsen-style suite's checker (history.c) on histories written here:
 * each rule must catch the violation it exists for, and a clean history
 * must pass. Times are in microseconds; tokens are small numbers. */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <string.h>

#include "history.h"

typedef struct run {
    jp_history_t h;
    jp_report_t r;
    int rc;
} run_t;

/* Parses one log per entry of logs[] (NULL-terminated) and the ledger,
 * then analyses. */
static void check(run_t *x, const char *const *logs, const char *ledger, int64_t end_us)
{
    jp_history_init(&x->h, 50);
    for (int i = 0; logs[i]; i++)
        CU_ASSERT_EQUAL_FATAL(jp_parse_log(&x->h, "w.log", logs[i], strlen(logs[i])), 0);
    CU_ASSERT_EQUAL_FATAL(jp_parse_ledger(&x->h, ledger, strlen(ledger)), 0);
    x->rc = jp_analyse(&x->h, end_us, &x->r);
    CU_ASSERT_EQUAL(x->rc, 0);
}

/* The first kept violation that starts with prefix, or NULL. */
static const char *violation(const run_t *x, const char *prefix)
{
    for (size_t i = 0; i < x->h.nviol_kept; i++)
        if (strncmp(x->h.viol[i], prefix, strlen(prefix)) == 0)
            return x->h.viol[i];
    return NULL;
}

static void done(run_t *x)
{
    jp_history_free(&x->h);
}

/* Two workers taking turns, every append acknowledged and in the ledger. */
static const char *clean_w1 = "100 1 start 0 0 0 pid=1\n"
                              "110 1 acquired 10 0 0 session=1\n"
                              "120 1 read 10 0 200 lines=0 fenced=1\n"
                              "130 1 invoke 10 1 0 bytes=7\n"
                              "140 1 ok 10 1 200\n"
                              "150 1 released 10 0 0\n"
                              "400 1 acquired 30 0 0\n"
                              "410 1 read 30 0 200\n"
                              "420 1 invoke 30 2 0\n"
                              "430 1 ok 30 2 200\n";
static const char *clean_w2 = "200 2 acquired 20 0 0\n"
                              "210 2 read 20 0 200\n"
                              "220 2 invoke 20 1 0\n"
                              "230 2 ok 20 1 200\n"
                              "240 2 released 20 0 0\n";

static void test_clean(void)
{
    run_t x;
    const char *logs[] = {clean_w1, clean_w2, NULL};
    check(&x, logs, "1 1 10\n2 1 20\n1 2 30\n", 0);
    CU_ASSERT_EQUAL(x.r.violations, 0);
    CU_ASSERT_EQUAL(x.r.workers, 2);
    CU_ASSERT_EQUAL(x.r.ops, 3);
    CU_ASSERT_EQUAL(x.r.ok, 3);
    CU_ASSERT_EQUAL(x.r.acquisitions, 3);
    CU_ASSERT_EQUAL(x.r.reads, 3);
    CU_ASSERT_EQUAL(x.r.stale, 0);
    CU_ASSERT_EQUAL(x.r.ledger_lines, 3);
    CU_ASSERT_EQUAL(x.r.max_gap_us, 200); /* 230 -> 430 */
    done(&x);
}

/* The sequence: A (20) reads, B (30) acquires and reads, A writes
 * (accepted: the mark was 10), B writes what it read: A's line is gone. */
static void test_lost_early_wake(void)
{
    run_t x;
    const char *a = "100 1 acquired 10 0 0\n"
                    "110 1 read 10 0 200\n"
                    "120 1 invoke 10 1 0\n"
                    "130 1 ok 10 1 200\n"
                    "140 1 released 10 0 0\n";
    const char *b = "200 2 acquired 20 0 0\n"
                    "210 2 read 20 0 200\n"
                    "220 2 pause 20 1 1 early\n"
                    "700 2 resume 20 1 1\n"
                    "710 2 invoke 20 1 0\n"
                    "720 2 ok 20 1 200\n";
    const char *c = "500 3 acquired 30 0 0\n"
                    "510 3 read 30 0 200\n"
                    "520 3 hold 30 1 0\n"
                    "730 3 invoke 30 1 0\n"
                    "740 3 ok 30 1 200\n";
    const char *logs[] = {a, b, c, NULL};
    check(&x, logs, "1 1 10\n3 1 30\n", 0);
    CU_ASSERT_EQUAL(x.r.lost, 1);
    CU_ASSERT_EQUAL(x.r.violations, 1);
    CU_ASSERT_EQUAL(x.r.stale, 1);
    CU_ASSERT_EQUAL(x.r.stale_ok, 1);
    CU_ASSERT_EQUAL(x.r.raced, 1);
    const char *v = violation(&x, "LOST worker 2 op 1 token 20");
    CU_ASSERT_PTR_NOT_NULL(v);
    if (v) {
        CU_ASSERT_PTR_NOT_NULL(strstr(v, "a stale write"));
        CU_ASSERT_PTR_NOT_NULL(strstr(v, "newer holder worker 3 token 30"));
    }
    done(&x);
}

/* The same pause, fenced: the stale write is refused and absent. */
static void test_stale_refused(void)
{
    run_t x;
    const char *b = "200 2 acquired 20 0 0\n"
                    "210 2 read 20 0 200\n"
                    "710 2 invoke 20 1 0\n"
                    "720 2 refused 20 1 412 mark=30\n";
    const char *c = "500 3 acquired 30 0 0\n"
                    "510 3 read 30 0 200\n"
                    "730 3 invoke 30 1 0\n"
                    "740 3 ok 30 1 200\n";
    const char *logs[] = {b, c, NULL};
    check(&x, logs, "3 1 30\n", 1000);
    CU_ASSERT_EQUAL(x.r.violations, 0);
    CU_ASSERT_EQUAL(x.r.refused, 1);
    CU_ASSERT_EQUAL(x.r.stale, 1);
    CU_ASSERT_EQUAL(x.r.stale_refused, 1);
    CU_ASSERT_EQUAL(x.r.raced, 1);
    CU_ASSERT_EQUAL(x.r.max_gap_us, 260); /* the last ok at 740, the end at 1000 */
    done(&x);
}

/* A stale write sent after its successor's write: stale, not raced. */
static void test_stale_late_not_raced(void)
{
    run_t x;
    const char *b = "200 2 acquired 20 0 0\n"
                    "210 2 read 20 0 200\n"
                    "900 2 invoke 20 1 0\n"
                    "910 2 refused 20 1 412\n";
    const char *c = "500 3 acquired 30 0 0\n"
                    "510 3 read 30 0 200\n"
                    "530 3 invoke 30 1 0\n"
                    "540 3 ok 30 1 200\n";
    const char *logs[] = {b, c, NULL};
    check(&x, logs, "3 1 30\n", 0);
    CU_ASSERT_EQUAL(x.r.violations, 0);
    CU_ASSERT_EQUAL(x.r.stale, 1);
    CU_ASSERT_EQUAL(x.r.raced, 0);
    done(&x);
}

static void test_duplicated_refused_present_phantom_order(void)
{
    run_t x;
    const char *logs[] = {clean_w1, clean_w2, NULL};
    /* w2's op 1 twice; a line nobody invoked; w1 op 2 with a wrong token;
     * tokens going down (30 then 20). */
    check(&x, logs, "1 1 10\n2 1 20\n2 1 20\n7 7 70\n1 2 31\n", 0);
    CU_ASSERT_EQUAL(x.r.duplicated, 1);
    CU_ASSERT_PTR_NOT_NULL(violation(&x, "DUPLICATED worker 2 op 1 token 20"));
    CU_ASSERT_EQUAL(x.r.phantom, 2);
    CU_ASSERT_PTR_NOT_NULL(
        violation(&x, "PHANTOM ledger line 4: worker 7 op 7 token 70 was never"));
    CU_ASSERT_PTR_NOT_NULL(
        violation(&x, "PHANTOM ledger line 5: worker 1 op 2 token 31 was invoked"));
    CU_ASSERT_EQUAL(x.r.order, 1);
    CU_ASSERT_PTR_NOT_NULL(violation(&x, "ORDER ledger line 5"));
    /* w1 op 2 (token 30) is acknowledged and its line has another token:
     * lost as well. */
    CU_ASSERT_EQUAL(x.r.lost, 1);
    CU_ASSERT_EQUAL(x.r.violations, 5);
    done(&x);

    const char *r = "100 1 acquired 10 0 0\n"
                    "110 1 read 10 0 200\n"
                    "120 1 invoke 10 1 0\n"
                    "130 1 refused 10 1 412\n";
    const char *logs2[] = {r, NULL};
    check(&x, logs2, "1 1 10\n", 0);
    CU_ASSERT_EQUAL(x.r.refused_present, 1);
    CU_ASSERT_PTR_NOT_NULL(violation(&x, "REFUSED-PRESENT worker 1 op 1 token 10"));
    done(&x);
}

/* Unknown outcomes, and an invoke whose worker was killed: either way. */
static void test_unknown_either_way(void)
{
    run_t x;
    const char *w = "100 1 acquired 10 0 0\n"
                    "110 1 invoke 10 1 0\n"
                    "120 1 unknown 10 1 -1 Timeout was reached\n"
                    "200 1 acquired 20 0 0\n"
                    "210 1 invoke 20 2 0\n"
                    "220 1 unknown 20 2 503 server error\n"
                    "300 1 acquired 30 0 0\n"
                    "310 1 invoke 30 3 0\n"; /* killed here */
    const char *logs[] = {w, NULL};
    check(&x, logs, "1 1 10\n1 3 30\n", 0);
    CU_ASSERT_EQUAL(x.r.violations, 0);
    CU_ASSERT_EQUAL(x.r.unknown, 3);
    CU_ASSERT_EQUAL(x.r.unknown_present, 2);
    CU_ASSERT_EQUAL(x.r.unknown_absent, 1);
    CU_ASSERT_EQUAL(x.r.max_gap_us, 0); /* no acknowledged append at all */
    done(&x);
}

/* A history that cannot be trusted is a violation, not a pass. */
static void test_broken_history(void)
{
    run_t x;
    const char *w = "100 1 invoke 10 1 0\n"
                    "110 1 ok 10 1 200\n"
                    "120 1 ok 10 1 200\n"   /* two outcomes */
                    "130 1 invoke 10 1 0\n" /* invoked twice */
                    "140 1 ok 10 9 200\n"   /* outcome without invoke */
                    "150 1 invoke 10 2 0\n"
                    "160 1 ok 11 2 200\n" /* another token */
                    "garbage\n"
                    "170 1 ok -1 2 200\n"
                    "180 1 ok 18446744073709551616 2 200\n" /* 2^64 */
                    "190 1 ok 10 2 200junk\n"
                    "200 1 OK 10 2 200\n";
    const char *logs[] = {w, NULL};
    check(&x, logs, "1 1 10\n1 2 10\nx 1 10\n1 1\n1 1 10 extra\n", 0);
    CU_ASSERT_PTR_NOT_NULL(violation(&x, "HISTORY worker 1 op 1: two outcomes"));
    CU_ASSERT_PTR_NOT_NULL(violation(&x, "HISTORY worker 1 op 1 invoked twice"));
    CU_ASSERT_PTR_NOT_NULL(violation(&x, "HISTORY worker 1 op 9: ok without an invoke"));
    CU_ASSERT_PTR_NOT_NULL(violation(&x, "HISTORY worker 1 op 2: invoked with token 10"));
    CU_ASSERT_PTR_NOT_NULL(violation(&x, "MALFORMED w.log line 8"));
    CU_ASSERT_PTR_NOT_NULL(violation(&x, "MALFORMED w.log line 9"));
    CU_ASSERT_PTR_NOT_NULL(violation(&x, "MALFORMED w.log line 10"));
    CU_ASSERT_PTR_NOT_NULL(violation(&x, "MALFORMED w.log line 11"));
    CU_ASSERT_PTR_NOT_NULL(violation(&x, "MALFORMED w.log line 12"));
    CU_ASSERT_PTR_NOT_NULL(violation(&x, "MALFORMED ledger line 3"));
    CU_ASSERT_PTR_NOT_NULL(violation(&x, "MALFORMED ledger line 4"));
    CU_ASSERT_PTR_NOT_NULL(violation(&x, "MALFORMED ledger line 5"));
    CU_ASSERT(x.r.violations >= 12);
    done(&x);
}

/* Only the first max_kept violations are kept; all are counted. */
static void test_violations_capped(void)
{
    jp_history_t h;
    jp_history_init(&h, 2);
    const char *led = "x\nx\nx\nx\nx\n";
    CU_ASSERT_EQUAL(jp_parse_ledger(&h, led, strlen(led)), 0);
    jp_report_t r;
    CU_ASSERT_EQUAL(jp_analyse(&h, 0, &r), 0);
    CU_ASSERT_EQUAL(r.violations, 5);
    CU_ASSERT_EQUAL(h.nviol_kept, 2);
    jp_history_free(&h);
}

/* A last line without its newline still counts; an empty ledger is fine;
 * a NUL inside a line is malformed. */
static void test_line_edges(void)
{
    run_t x;
    const char *w = "100 1 invoke 10 1 0\n110 1 ok 10 1 200";
    const char *logs[] = {w, NULL};
    check(&x, logs, "1 1 10", 0);
    CU_ASSERT_EQUAL(x.r.violations, 0);
    CU_ASSERT_EQUAL(x.r.ok, 1);
    done(&x);

    jp_history_t h;
    jp_history_init(&h, 10);
    const char nul[] = "100 1 invoke 10 1 0\n110 1 ok\0 10 1 200\n";
    CU_ASSERT_EQUAL(jp_parse_log(&h, "n.log", nul, sizeof(nul) - 1), 0);
    CU_ASSERT_EQUAL(h.nviol, 1);
    jp_report_t r;
    CU_ASSERT_EQUAL(jp_analyse(&h, 0, &r), 0);
    CU_ASSERT_EQUAL(r.unknown, 1); /* the ok line did not count */
    jp_history_free(&h);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("jepsen_history", NULL, NULL);
    CU_add_test(s, "clean history", test_clean);
    CU_add_test(s, "lost write, early wake", test_lost_early_wake);
    CU_add_test(s, "stale write refused", test_stale_refused);
    CU_add_test(s, "stale write after the successor's write", test_stale_late_not_raced);
    CU_add_test(s, "duplicated, refused present, phantom, order",
                test_duplicated_refused_present_phantom_order);
    CU_add_test(s, "unknown either way", test_unknown_either_way);
    CU_add_test(s, "broken history", test_broken_history);
    CU_add_test(s, "violations capped", test_violations_capped);
    CU_add_test(s, "line edges", test_line_edges);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
