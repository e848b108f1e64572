/* The pure parts of conditional requests: HTTP-date parsing
 * (util/textutil.h), entity-tag lists and the read and write checks
 * (backend/cond.h), every rule and precedence on its own. */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "backend/cond.h"
#include "harness.h"
#include "util/textutil.h"

/* 1994-11-06 08:49:37 UTC */
#define T1994 784111777

static void test_http_dates(void)
{
    time_t t = 0;
    CU_ASSERT_EQUAL(zkp_http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT", &t), 0);
    CU_ASSERT_EQUAL(t, T1994);
    t = 0;
    CU_ASSERT_EQUAL(zkp_http_date_parse("Sunday, 06-Nov-94 08:49:37 GMT", &t), 0);
    CU_ASSERT_EQUAL(t, T1994);
    t = 0;
    CU_ASSERT_EQUAL(zkp_http_date_parse("Sun Nov  6 08:49:37 1994", &t), 0);
    CU_ASSERT_EQUAL(t, T1994);
    CU_ASSERT_EQUAL(zkp_http_date_parse("  Sun, 06 Nov 1994 08:49:37 GMT\t", &t), 0);
    CU_ASSERT_EQUAL(t, T1994);
    /* Round trip with the formatter, over years and a leap day. */
    time_t samples[] = {0, 951782400 /* 2000-02-29 */, 1700000000, 4102444799 /* 2099-12-31 */};
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        char s[40];
        zkp_http_date(samples[i], s, sizeof(s));
        CU_ASSERT_EQUAL(zkp_http_date_parse(s, &t), 0);
        CU_ASSERT_EQUAL(t, samples[i]);
    }
    /* The formatters (arithmetic, no gmtime_r) agree with the C library's
     * over every day of 1970-2099 at a varying time of day, and around the
     * leap days and century years. */
    for (time_t day = 0; day < 4102444800; day += 86400) {
        time_t when = day + (day / 86400 * 7919) % 86400;
        struct tm tm;
        gmtime_r(&when, &tm);
        char want[40], got[40];
        strftime(want, sizeof(want), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        zkp_http_date(when, got, sizeof(got));
        if (strcmp(want, got) != 0) {
            CU_FAIL("zkp_http_date differs from strftime");
            fprintf(stderr, "%lld: %s != %s\n", (long long)when, got, want);
            break;
        }
        strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%S.000Z", &tm);
        zkp_iso8601(when, got, sizeof(got));
        if (strcmp(want, got) != 0) {
            CU_FAIL("zkp_iso8601 differs from strftime");
            fprintf(stderr, "%lld: %s != %s\n", (long long)when, got, want);
            break;
        }
    }
    char small[8];
    zkp_http_date(T1994, small, sizeof(small));
    CU_ASSERT_STRING_EQUAL(small, "Sun, 06"); /* cut to fit */
    /* Two-digit years: 70..99 are 19xx, 00..69 20xx. */
    CU_ASSERT_EQUAL(zkp_http_date_parse("Friday, 01-Jan-27 00:00:00 GMT", &t), 0);
    CU_ASSERT_EQUAL(t, 1798761600);
    const char *bad[] = {
        NULL,
        "",
        "yesterday",
        "Sun, 06 Nov 1994 08:49:37",           /* no GMT */
        "Sun, 06 Nov 1994 08:49:37 UTC",       /* not GMT */
        "Sun, 6 Nov 1994 08:49:37 GMT",        /* one-digit day */
        "Sun, 06 nov 1994 08:49:37 GMT",       /* case */
        "Sun, 31 Nov 1994 08:49:37 GMT",       /* no such day */
        "Sun, 29 Feb 1995 08:49:37 GMT",       /* not a leap year */
        "Sun, 06 Nov 1994 24:00:00 GMT",       /* hour 24 */
        "Sun, 06 Nov 1994 08:60:00 GMT",       /* minute 60 */
        "Sun, 06 Nov 1994 08:49:61 GMT",       /* second 61 */
        "Sun, 06 Nov 1994 08:49:37 GMT x",     /* trailing junk */
        "Sunday, 06 Nov 1994 08:49:37 GMT",    /* long name, fixdate */
        "Sun, 06-Nov-94 08:49:37 GMT",         /* short name, RFC 850 */
        "Sun Nov 6 08:49:37 1994",             /* asctime, unpadded day */
        "Sun, 06 Nov 1969 08:49:37 GMT",       /* before the epoch */
        "Xyz, 06 Nov 1994 08:49:37 GMT",       /* day name */
        "2024-01-31T12:00:00.000Z",            /* ISO 8601 is no HTTP-date */
        "Sun, 06 Nov 1994 08:49:37 GMT\nX: y", /* a line break */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        t = 12345;
        CU_ASSERT_EQUAL(zkp_http_date_parse(bad[i], &t), -1);
        CU_ASSERT_EQUAL(t, 12345); /* untouched */
    }
}

static void test_etag_lists(void)
{
    const char *e = "0123abcd";
    CU_ASSERT_TRUE(zkp_etag_list_match("\"0123abcd\"", e, 0));
    CU_ASSERT_TRUE(zkp_etag_list_match("0123abcd", e, 0)); /* unquoted, as S3 takes it */
    CU_ASSERT_TRUE(zkp_etag_list_match(" \"0123abcd\" ", e, 0));
    CU_ASSERT_TRUE(zkp_etag_list_match("*", e, 0));
    CU_ASSERT_TRUE(zkp_etag_list_match(" * ", e, 1));
    CU_ASSERT_TRUE(zkp_etag_list_match("\"x\", \"0123abcd\"", e, 0));
    CU_ASSERT_TRUE(zkp_etag_list_match("\"x\",\"y\",*", e, 0));
    CU_ASSERT_FALSE(zkp_etag_list_match("\"0123abce\"", e, 0));
    CU_ASSERT_FALSE(zkp_etag_list_match("\"0123ABCD\"", e, 0)); /* opaque: exact bytes */
    CU_ASSERT_FALSE(zkp_etag_list_match("\"0123abcd", e, 0));
    CU_ASSERT_FALSE(zkp_etag_list_match("\"\"", "", 0));
    CU_ASSERT_FALSE(zkp_etag_list_match("", e, 0));
    CU_ASSERT_FALSE(zkp_etag_list_match(",,,", e, 0));
    CU_ASSERT_FALSE(zkp_etag_list_match(NULL, e, 0));
    /* A comma inside quotes is part of the tag. */
    CU_ASSERT_TRUE(zkp_etag_list_match("\"a,b\"", "a,b", 0));
    CU_ASSERT_FALSE(zkp_etag_list_match("\"a,b\"", "a", 0));
    /* Weak tags: never for If-Match (strong), the opaque part for If-None-Match. */
    CU_ASSERT_FALSE(zkp_etag_list_match("W/\"0123abcd\"", e, 0));
    CU_ASSERT_TRUE(zkp_etag_list_match("W/\"0123abcd\"", e, 1));
    CU_ASSERT_TRUE(zkp_etag_list_match("\"zz\", W/\"0123abcd\"", e, 1));
}

static void test_read_checks(void)
{
    const char *e = "abc";
    time_t m = T1994;
    const char *at = "Sun, 06 Nov 1994 08:49:37 GMT";     /* == mtime */
    const char *before = "Sun, 06 Nov 1994 08:49:36 GMT"; /* mtime - 1 */
    const char *future = "Fri, 31 Dec 2100 23:59:59 GMT";
    const char *f = NULL;
    zkp_cond_t c = {0};
    CU_ASSERT_EQUAL(zkp_cond_check_read(NULL, e, m, &f), ZKP_COND_PASS);
    CU_ASSERT_EQUAL(zkp_cond_check_read(&c, e, m, &f), ZKP_COND_PASS);
    CU_ASSERT_TRUE(zkp_cond_none(&c));
    /* Each header alone. */
    c = (zkp_cond_t){.if_match = "\"abc\""};
    CU_ASSERT_EQUAL(zkp_cond_check_read(&c, e, m, &f), ZKP_COND_PASS);
    c = (zkp_cond_t){.if_match = "\"abd\""};
    CU_ASSERT_EQUAL(zkp_cond_check_read(&c, e, m, &f), ZKP_COND_FAILED);
    CU_ASSERT_STRING_EQUAL(f, "If-Match");
    c = (zkp_cond_t){.if_none_match = "\"abc\""};
    CU_ASSERT_EQUAL(zkp_cond_check_read(&c, e, m, &f), ZKP_COND_NOT_MODIFIED);
    CU_ASSERT_STRING_EQUAL(f, "If-None-Match");
    c = (zkp_cond_t){.if_none_match = "\"abd\""};
    CU_ASSERT_EQUAL(zkp_cond_check_read(&c, e, m, &f), ZKP_COND_PASS);
    c = (zkp_cond_t){.if_modified_since = at};
    CU_ASSERT_EQUAL(zkp_cond_check_read(&c, e, m, &f), ZKP_COND_NOT_MODIFIED);
    CU_ASSERT_STRING_EQUAL(f, "If-Modified-Since");
    c = (zkp_cond_t){.if_modified_since = before};
    CU_ASSERT_EQUAL(zkp_cond_check_read(&c, e, m, &f), ZKP_COND_PASS);
    c = (zkp_cond_t){.if_modified_since = future}; /* later than now: invalid, ignored */
    CU_ASSERT_EQUAL(zkp_cond_check_read(&c, e, m, &f), ZKP_COND_PASS);
    c = (zkp_cond_t){.if_modified_since = "junk"}; /* ignored */
    CU_ASSERT_EQUAL(zkp_cond_check_read(&c, e, m, &f), ZKP_COND_PASS);
    c = (zkp_cond_t){.if_unmodified_since = at};
    CU_ASSERT_EQUAL(zkp_cond_check_read(&c, e, m, &f), ZKP_COND_PASS);
    c = (zkp_cond_t){.if_unmodified_since = before};
    CU_ASSERT_EQUAL(zkp_cond_check_read(&c, e, m, &f), ZKP_COND_FAILED);
    CU_ASSERT_STRING_EQUAL(f, "If-Unmodified-Since");
    c = (zkp_cond_t){.if_unmodified_since = "junk"};
    CU_ASSERT_EQUAL(zkp_cond_check_read(&c, e, m, &f), ZKP_COND_PASS);
    /* S3's precedence: If-Match true wins over If-Unmodified-Since false... */
    c = (zkp_cond_t){.if_match = "\"abc\"", .if_unmodified_since = before};
    CU_ASSERT_EQUAL(zkp_cond_check_read(&c, e, m, &f), ZKP_COND_PASS);
    /* ...If-None-Match false over If-Modified-Since true: 304... */
    c = (zkp_cond_t){.if_none_match = "\"abc\"", .if_modified_since = before};
    CU_ASSERT_EQUAL(zkp_cond_check_read(&c, e, m, &f), ZKP_COND_NOT_MODIFIED);
    /* ...and If-None-Match true makes If-Modified-Since irrelevant. */
    c = (zkp_cond_t){.if_none_match = "\"abd\"", .if_modified_since = at};
    CU_ASSERT_EQUAL(zkp_cond_check_read(&c, e, m, &f), ZKP_COND_PASS);
    /* The 412 family comes before the 304 family. */
    c = (zkp_cond_t){.if_match = "\"abd\"", .if_none_match = "\"abc\""};
    CU_ASSERT_EQUAL(zkp_cond_check_read(&c, e, m, &f), ZKP_COND_FAILED);
    c = (zkp_cond_t){.if_unmodified_since = before, .if_modified_since = at};
    CU_ASSERT_EQUAL(zkp_cond_check_read(&c, e, m, &f), ZKP_COND_FAILED);
    c = (zkp_cond_t){.if_match = "\"abc\"", .if_none_match = "\"abc\""};
    CU_ASSERT_EQUAL(zkp_cond_check_read(&c, e, m, &f), ZKP_COND_NOT_MODIFIED);
}

static void test_write_checks(void)
{
    const char *f = NULL;
    zkp_cond_t c = {.if_none_match = "*"};
    CU_ASSERT_EQUAL(zkp_cond_check_write(&c, 0, "", &f), ZKP_COND_PASS);
    CU_ASSERT_EQUAL(zkp_cond_check_write(&c, 1, "abc", &f), ZKP_COND_FAILED);
    CU_ASSERT_STRING_EQUAL(f, "If-None-Match");
    c = (zkp_cond_t){.if_match = "\"abc\""};
    CU_ASSERT_EQUAL(zkp_cond_check_write(&c, 1, "abc", &f), ZKP_COND_PASS);
    CU_ASSERT_EQUAL(zkp_cond_check_write(&c, 1, "abd", &f), ZKP_COND_FAILED);
    CU_ASSERT_STRING_EQUAL(f, "If-Match");
    CU_ASSERT_EQUAL(zkp_cond_check_write(&c, 0, "", &f), ZKP_COND_NO_OBJECT);
    c = (zkp_cond_t){.if_match = "*"};
    CU_ASSERT_EQUAL(zkp_cond_check_write(&c, 1, "abc", &f), ZKP_COND_PASS);
    CU_ASSERT_EQUAL(zkp_cond_check_write(&c, 0, "", &f), ZKP_COND_NO_OBJECT);
    /* Dates play no part in a write. */
    c = (zkp_cond_t){.if_unmodified_since = "Thu, 01 Jan 1970 00:00:00 GMT"};
    CU_ASSERT_EQUAL(zkp_cond_check_write(&c, 1, "abc", &f), ZKP_COND_PASS);
    CU_ASSERT_EQUAL(zkp_cond_check_write(NULL, 1, "abc", &f), ZKP_COND_PASS);
}

static void add_tests(void *suite)
{
    CU_add_test(suite, "http_dates", test_http_dates);
    CU_add_test(suite, "etag_lists", test_etag_lists);
    CU_add_test(suite, "read_checks", test_read_checks);
    CU_add_test(suite, "write_checks", test_write_checks);
}

int main(void)
{
    return pt_run_suite("proxy_cond_unit", add_tests);
}
