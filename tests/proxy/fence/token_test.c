/* Tokens, lock names, the fencing rule and the error table. */
#include <inttypes.h>

#include "fence_test.h"

static int parse(const char *s, uint64_t *out)
{
    return zkp_token_parse(s, strlen(s), out);
}

static void test_token_valid(void)
{
    static const struct {
        const char *text;
        uint64_t value;
    } ok[] = {
        {"0", 0},
        {"1", 1},
        {"9", 9},
        {"10", 10},
        {"42", 42},
        {"4294967296", 4294967296ULL},
        {"9223372036854775807", 9223372036854775807ULL},   /* INT64_MAX */
        {"9223372036854775808", 9223372036854775808ULL},   /* one above: no signed slip */
        {"10000000000000000000", 10000000000000000000ULL}, /* 20 digits */
        {"18446744073709551614", UINT64_MAX - 1},
        {"18446744073709551615", UINT64_MAX},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        uint64_t v = 12345;
        CU_ASSERT_EQUAL_FATAL(parse(ok[i].text, &v), 0);
        CU_ASSERT_EQUAL(v, ok[i].value);
    }
    /* Only `len` bytes are read: a longer buffer is fine. */
    uint64_t v = 0;
    CU_ASSERT_EQUAL(zkp_token_parse("123abc", 3, &v), 0);
    CU_ASSERT_EQUAL(v, 123);
}

static void test_token_invalid(void)
{
    static const char *const bad[] = {
        "",
        "18446744073709551616", /* UINT64_MAX + 1 */
        "18446744073709551620",
        "19000000000000000000",
        "99999999999999999999",
        "100000000000000000000", /* 21 digits */
        "000000000000000000001", /* 21 digits, leading zeros */
        "00",
        "01",
        "007",
        "+1",
        "-1",
        "-0",
        " 1",
        "1 ",
        "1\n",
        "\t1",
        "0x10",
        "1e3",
        "1.0",
        "1,000",
        "\xd9\xa1", /* U+0661 ARABIC-INDIC DIGIT ONE: not ASCII */
        "abc",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t v = 777;
        if (parse(bad[i], &v) != -1)
            fprintf(stderr, "accepted: \"%s\"\n", bad[i]);
        CU_ASSERT_EQUAL(parse(bad[i], &v), -1);
        CU_ASSERT_EQUAL(v, 777); /* untouched on failure */
    }
    uint64_t v = 777;
    CU_ASSERT_EQUAL(zkp_token_parse("1\0"
                                    "2",
                                    3, &v),
                    -1); /* embedded NUL */
    CU_ASSERT_EQUAL(zkp_token_parse("\0", 1, &v), -1);
    CU_ASSERT_EQUAL(zkp_token_parse("12", 0, &v), -1);
    CU_ASSERT_EQUAL(zkp_token_parse(NULL, 0, &v), -1);
    CU_ASSERT_EQUAL(zkp_token_parse("1", 1, NULL), -1);
    CU_ASSERT_EQUAL(v, 777);
}

static void test_token_round_trip(void)
{
    /* Every value near the edges and powers of ten prints and parses back to
     * itself: one spelling per token. */
    uint64_t samples[200];
    size_t n = 0;
    uint64_t p = 1;
    for (int i = 0; i < 20; i++, p *= 10) {
        samples[n++] = p - 1;
        samples[n++] = p;
        samples[n++] = p + 1;
    }
    samples[n++] = UINT64_MAX;
    samples[n++] = UINT64_MAX - 1;
    samples[n++] = (uint64_t)1 << 63;
    samples[n++] = ((uint64_t)1 << 63) - 1;
    for (size_t i = 0; i < n; i++) {
        char text[32];
        uint64_t v;
        snprintf(text, sizeof(text), "%" PRIu64, samples[i]);
        CU_ASSERT_EQUAL_FATAL(parse(text, &v), 0);
        CU_ASSERT_EQUAL(v, samples[i]);
    }
}

static void test_lock_names(void)
{
    CU_ASSERT_EQUAL(zkp_lock_name_valid("/locks/seat-12", 14), 1);
    CU_ASSERT_EQUAL(zkp_lock_name_valid("a", 1), 1);
    CU_ASSERT_EQUAL(zkp_lock_name_valid("!~", 2), 1); /* 0x21 and 0x7e: the edges */
    CU_ASSERT_EQUAL(zkp_lock_name_valid("", 0), 0);
    CU_ASSERT_EQUAL(zkp_lock_name_valid(NULL, 0), 0);
    CU_ASSERT_EQUAL(zkp_lock_name_valid(NULL, 3), 0);
    CU_ASSERT_EQUAL(zkp_lock_name_valid("a b", 3), 0);
    CU_ASSERT_EQUAL(zkp_lock_name_valid("a\tb", 3), 0);
    CU_ASSERT_EQUAL(zkp_lock_name_valid("a\x7f", 2), 0);
    CU_ASSERT_EQUAL(zkp_lock_name_valid("a\0b", 3), 0);
    CU_ASSERT_EQUAL(zkp_lock_name_valid("s\xc3\xa9", 3), 0); /* UTF-8 is not ASCII */
    CU_ASSERT_EQUAL(zkp_lock_name_valid("a\n", 2), 0);

    char big[ZKP_LOCK_NAME_MAX + 2];
    memset(big, 'x', sizeof(big));
    CU_ASSERT_EQUAL(zkp_lock_name_valid(big, ZKP_LOCK_NAME_MAX), 1);
    CU_ASSERT_EQUAL(zkp_lock_name_valid(big, ZKP_LOCK_NAME_MAX + 1), 0);
    /* exactly len bytes are looked at */
    CU_ASSERT_EQUAL(zkp_lock_name_valid("ab cd", 2), 1);
}

static void test_rules_table(void)
{
    static const struct {
        int has_mark;
        uint64_t mark, token;
        zkp_verdict_t want;
    } rows[] = {
        /* no mark: any token is accepted and becomes the mark */
        {0, 0, 0, ZKP_VERDICT_ACCEPT_HIGHER},
        {0, 0, 1, ZKP_VERDICT_ACCEPT_HIGHER},
        {0, 999, 5, ZKP_VERDICT_ACCEPT_HIGHER}, /* mark ignored without has_mark */
        {0, 0, UINT64_MAX, ZKP_VERDICT_ACCEPT_HIGHER},
        /* lower: stale */
        {1, 10, 9, ZKP_VERDICT_REJECT_STALE},
        {1, 10, 0, ZKP_VERDICT_REJECT_STALE},
        {1, UINT64_MAX, UINT64_MAX - 1, ZKP_VERDICT_REJECT_STALE},
        {1, (uint64_t)1 << 63, ((uint64_t)1 << 63) - 1, ZKP_VERDICT_REJECT_STALE},
        /* equal: the same holder writing again */
        {1, 0, 0, ZKP_VERDICT_ACCEPT_EQUAL},
        {1, 10, 10, ZKP_VERDICT_ACCEPT_EQUAL},
        {1, UINT64_MAX, UINT64_MAX, ZKP_VERDICT_ACCEPT_EQUAL},
        /* higher: a new holder */
        {1, 10, 11, ZKP_VERDICT_ACCEPT_HIGHER},
        {1, 0, 1, ZKP_VERDICT_ACCEPT_HIGHER},
        {1, ((uint64_t)1 << 63) - 1, (uint64_t)1 << 63, ZKP_VERDICT_ACCEPT_HIGHER},
        {1, UINT64_MAX - 1, UINT64_MAX, ZKP_VERDICT_ACCEPT_HIGHER},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        CU_ASSERT_EQUAL(zkp_fence_decide(rows[i].has_mark, rows[i].mark, rows[i].token),
                        rows[i].want);
}

static void test_names_and_errors(void)
{
    CU_ASSERT_STRING_EQUAL(zkp_verdict_name(ZKP_VERDICT_ACCEPT_HIGHER), "accepted_higher");
    CU_ASSERT_STRING_EQUAL(zkp_verdict_name(ZKP_VERDICT_ACCEPT_EQUAL), "accepted_equal");
    CU_ASSERT_STRING_EQUAL(zkp_verdict_name(ZKP_VERDICT_REJECT_STALE), "rejected_stale");
    CU_ASSERT_STRING_EQUAL(zkp_verdict_name(ZKP_VERDICT_REJECT_MISSING), "rejected_missing");
    CU_ASSERT_STRING_EQUAL(zkp_verdict_name(ZKP_VERDICT_REJECT_UNAVAILABLE),
                           "rejected_unavailable");
    CU_ASSERT_STRING_EQUAL(zkp_verdict_name(ZKP_VERDICT_REJECT_INVALID), "rejected_invalid");
    CU_ASSERT_STRING_EQUAL(zkp_verdict_name(ZKP_VERDICT_REJECT_PRECONDITION),
                           "rejected_precondition");
    CU_ASSERT_STRING_EQUAL(zkp_verdict_name(ZKP_VERDICT_COUNT_), "unknown");
    CU_ASSERT_STRING_EQUAL(zkp_verdict_name((zkp_verdict_t)42), "unknown");
    /* Every verdict has its own name (they are metric labels). */
    for (int i = 0; i < ZKP_VERDICT_COUNT_; i++)
        for (int j = i + 1; j < ZKP_VERDICT_COUNT_; j++)
            CU_ASSERT_STRING_NOT_EQUAL(zkp_verdict_name((zkp_verdict_t)i),
                                       zkp_verdict_name((zkp_verdict_t)j));

    CU_ASSERT_STRING_EQUAL(zkp_fence_strerror(0), "success");
    CU_ASSERT_STRING_EQUAL(zkp_fence_strerror(-9999), "unknown error");
    /* Every code is negative, distinct, and has its own text. */
    int codes[] = {
#define CODE_(name, value, text) ZKP_FENCE_##name,
        ZKP_FENCE_ERRNO_MAP(CODE_)
#undef CODE_
    };
    size_t n = sizeof(codes) / sizeof(codes[0]);
    for (size_t i = 0; i < n; i++) {
        CU_ASSERT(codes[i] < 0);
        CU_ASSERT_STRING_NOT_EQUAL(zkp_fence_strerror(codes[i]), "unknown error");
        for (size_t j = i + 1; j < n; j++) {
            CU_ASSERT_NOT_EQUAL(codes[i], codes[j]);
            CU_ASSERT_STRING_NOT_EQUAL(zkp_fence_strerror(codes[i]), zkp_fence_strerror(codes[j]));
        }
    }
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("fence_token", NULL, NULL);
    CU_add_test(s, "valid tokens", test_token_valid);
    CU_add_test(s, "invalid tokens", test_token_invalid);
    CU_add_test(s, "print/parse round trip", test_token_round_trip);
    CU_add_test(s, "lock names", test_lock_names);
    CU_add_test(s, "fencing rule table", test_rules_table);
    CU_add_test(s, "verdict names and error table", test_names_and_errors);
    return ft_run_suite();
}
