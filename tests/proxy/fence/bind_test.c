/* Locks bound to keys (fence/bind.c): the configuration's bindings, the
 * escaping of keys into lock paths, and lookups both ways. */
#include <CUnit/Basic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bind.h"
#include "fence.h"

static zkp_binds_t *table(const char *const *lines)
{
    zkp_binds_t *b = zkp_binds_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    char err[512];
    for (size_t i = 0; lines[i] != NULL; i += 2) {
        int rc = zkp_binds_add(b, lines[i], lines[i + 1], err, sizeof(err));
        if (rc != 0)
            fprintf(stderr, "bind.%s = %s: %s\n", lines[i], lines[i + 1], err);
        CU_ASSERT_EQUAL(rc, 0);
    }
    return b;
}

/* The lock for (bucket, key), or "" when unbound, or "!" on an error. */
static const char *lock_of(const zkp_binds_t *b, const char *bucket, const char *key)
{
    static char out[ZKP_LOCK_NAME_MAX + 1];
    int rc = zkp_binds_lock_for(b, bucket, key, key ? strlen(key) : 0, out, sizeof(out), NULL);
    if (rc == 0)
        return "";
    return rc == 1 ? out : "!";
}

/* The error text of one bad binding, or NULL if it was accepted. */
static const char *refused(const char *spec, const char *value)
{
    static char err[512];
    zkp_binds_t *b = zkp_binds_new();
    int rc = zkp_binds_add(b, spec, value, err, sizeof(err));
    zkp_binds_free(b);
    return rc == 0 ? NULL : err;
}

static int refused_says(const char *spec, const char *value, const char *word)
{
    const char *e = refused(spec, value);
    if (e == NULL || strstr(e, word) == NULL)
        fprintf(stderr, "bind.%s = %s: got '%s', wanted '%s'\n", spec, value, e ? e : "accepted",
                word);
    return e != NULL && strstr(e, word) != NULL;
}

static void test_add_refuses(void)
{
    CU_ASSERT_PTR_NULL(refused("seats", "/locks/seats"));
    CU_ASSERT_PTR_NULL(refused("seats/rows/", "/locks/rows"));
    CU_ASSERT_PTR_NULL(refused("seats", "/locks/{bucket}/{key}"));
    CU_ASSERT_PTR_NULL(refused("seats", "/locks/{key}/lock"));
    CU_ASSERT_PTR_NULL(refused("seats", "/{bucket}"));
    CU_ASSERT_PTR_NULL(refused("seats", "/{key}"));
    /* the lock rules, each named */
    CU_ASSERT(refused_says("seats", "/locks/a/", "end with '/'"));
    CU_ASSERT(refused_says("seats", "//locks/a", "empty path component"));
    CU_ASSERT(refused_says("seats", "/locks/./a", "'.' or '..'"));
    CU_ASSERT(refused_says("seats", "locks/a", "absolute"));
    CU_ASSERT(refused_says("seats", "/", "root"));
    CU_ASSERT(refused_says("seats", "/locks/{key}/", "end with '/'"));
    CU_ASSERT(refused_says("seats", "/locks//{key}", "empty path component"));
    /* only slashes: more parts than half the length (fuzz_bind found the
     * part array overflowing; ASan and valgrind catch it here too) */
    CU_ASSERT(refused_says("seats", "///", "end with"));
    CU_ASSERT(refused_says("seats", "//////////", "end with"));
    /* placeholders: whole components, known, once */
    CU_ASSERT(refused_says("seats", "/locks/{k}", "not a placeholder"));
    CU_ASSERT(refused_says("seats", "/locks/x{key}", "not a placeholder"));
    CU_ASSERT(refused_says("seats", "/locks/{key}x", "not a placeholder"));
    CU_ASSERT(refused_says("seats", "/locks/a}", "not a placeholder"));
    CU_ASSERT(refused_says("seats", "/locks/{key}/{key}", "{key} appears twice"));
    CU_ASSERT(refused_says("seats", "/{bucket}/{bucket}", "{bucket} appears twice"));
    /* the spec */
    CU_ASSERT(refused_says("seats/", "/locks/a", "prefix after '/' is empty"));
    CU_ASSERT(refused_says("/rows", "/locks/a", "expected bind.BUCKET"));
    char big[ZKP_LOCK_NAME_MAX + 16];
    memset(big, 'x', sizeof(big));
    big[0] = '/';
    big[ZKP_LOCK_NAME_MAX + 1] = '\0';
    CU_ASSERT(refused_says("seats", big, "1024"));
    big[ZKP_LOCK_NAME_MAX] = '\0';
    CU_ASSERT_PTR_NULL(refused("seats", big));
    /* one lock per key: a spec bound twice is a mistake */
    zkp_binds_t *b = zkp_binds_new();
    char err[256];
    CU_ASSERT_EQUAL(zkp_binds_add(b, "seats", "/locks/a", err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(zkp_binds_add(b, "seats", "/locks/b", err, sizeof(err)), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "bound twice"));
    CU_ASSERT_EQUAL(zkp_binds_count(b), 1);
    zkp_binds_free(b);
    zkp_binds_free(NULL);
    CU_ASSERT_EQUAL(zkp_binds_count(NULL), 0);
}

static void test_longest_prefix(void)
{
    static const char *const lines[] = {"seats",       "/locks/seats",          "seats/rows/",
                                        "/locks/rows", "seats/rows/1/",         "/locks/row-1",
                                        "ledger",      "/locks/{bucket}/{key}", NULL};
    zkp_binds_t *b = table(lines);
    CU_ASSERT_STRING_EQUAL(lock_of(b, "seats", "a"), "/locks/seats");
    CU_ASSERT_STRING_EQUAL(lock_of(b, "seats", "rows"), "/locks/seats"); /* not "rows/" */
    CU_ASSERT_STRING_EQUAL(lock_of(b, "seats", "rows/2"), "/locks/rows");
    CU_ASSERT_STRING_EQUAL(lock_of(b, "seats", "rows/1/x"), "/locks/row-1");
    CU_ASSERT_STRING_EQUAL(lock_of(b, "seats", "rows/1"), "/locks/rows");
    CU_ASSERT_STRING_EQUAL(lock_of(b, "other", "a"), "");
    CU_ASSERT_STRING_EQUAL(lock_of(b, "seats", NULL), "/locks/seats"); /* the whole bucket */
    CU_ASSERT_STRING_EQUAL(lock_of(b, "ledger", NULL), "!");           /* needs a key */
    CU_ASSERT_STRING_EQUAL(lock_of(b, "ledger", "2024/jan"), "/locks/ledger/2024/jan");
    CU_ASSERT(zkp_binds_has_bucket(b, "seats"));
    CU_ASSERT(!zkp_binds_has_bucket(b, "seat"));
    const zkp_bind_t *bd = zkp_binds_lookup(b, "seats", "rows/1/x", 8);
    CU_ASSERT_PTR_NOT_NULL_FATAL(bd);
    CU_ASSERT_STRING_EQUAL(zkp_bind_spec(bd), "seats/rows/1/");
    CU_ASSERT_STRING_EQUAL(zkp_bind_value(bd), "/locks/row-1");
    CU_ASSERT(!zkp_bind_per_key(bd));
    CU_ASSERT(zkp_bind_per_key(zkp_binds_lookup(b, "ledger", "k", 1)));
    /* prefix-only buckets have no lock for the bucket as a whole */
    static const char *const only[] = {"logs/app/", "/locks/app", NULL};
    zkp_binds_t *o = table(only);
    CU_ASSERT_STRING_EQUAL(lock_of(o, "logs", NULL), "");
    CU_ASSERT_STRING_EQUAL(lock_of(o, "logs", "web/1"), "");
    CU_ASSERT_STRING_EQUAL(lock_of(o, "logs", "app/1"), "/locks/app");
    zkp_binds_free(o);
    zkp_binds_free(b);
}

static void test_escaping(void)
{
    static const char *const lines[] = {"b1", "/locks/{bucket}/{key}", NULL};
    zkp_binds_t *b = table(lines);
    static const struct {
        const char *key, *lock;
    } rows[] = {
        {"plain", "/locks/b1/plain"},
        {"a/b", "/locks/b1/a/b"},
        {"file.txt", "/locks/b1/file.txt"},
        {"a b", "/locks/b1/a%20b"},
        {".", "/locks/b1/%2E"},
        {"..", "/locks/b1/%2E%2E"},
        {"a/../b", "/locks/b1/a/%2E%2E/b"},
        {"./x", "/locks/b1/%2E/x"},
        {"...", "/locks/b1/..."},
        {"a//b", "/locks/b1/a/%/b"},
        {"/a", "/locks/b1/%/a"},
        {"a/", "/locks/b1/a/%"},
        {"/", "/locks/b1/%/%"},
        {"%2E", "/locks/b1/%252E"},
        {"%", "/locks/b1/%25"},
        {"{key}", "/locks/b1/%7Bkey%7D"},
        {"caf\xc3\xa9", "/locks/b1/caf%C3%A9"},
        {"~_-", "/locks/b1/~_-"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const char *got = lock_of(b, "b1", rows[i].key);
        if (strcmp(got, rows[i].lock) != 0)
            fprintf(stderr, "key '%s': %s, wanted %s\n", rows[i].key, got, rows[i].lock);
        CU_ASSERT_STRING_EQUAL(got, rows[i].lock);
        CU_ASSERT(zkp_lock_name_valid(got, strlen(got)));
        /* and back: the lock's owner, with the key recovered */
        char bucket[ZKP_BIND_BUCKET_MAX + 1] = "";
        CU_ASSERT_PTR_EQUAL(zkp_binds_owner(b, got, NULL, bucket),
                            zkp_binds_lookup(b, "b1", "x", 1));
        CU_ASSERT_STRING_EQUAL(bucket, "b1");
    }
    /* escaped text that escaping never writes is no key's */
    static const char *const foreign[] = {
        "/locks/b1/%2e",   /* lowercase hex */
        "/locks/b1/a%2Eb", /* a dot that needs no escape */
        "/locks/b1/%41",   /* nor does a letter */
        "/locks/b1/%4",    /* short */
        "/locks/b1/%%",    /* a lone '%' is the empty component only */
        "/locks/b1/a%",    /* ... alone */
        "/locks/b2/x",     /* another bucket */
        "/locks/b1",       /* no key at all */
        "/lock/b1/x",      /* another literal */
    };
    for (size_t i = 0; i < sizeof(foreign) / sizeof(foreign[0]); i++) {
        if (zkp_binds_owner(b, foreign[i], NULL, NULL) != NULL)
            fprintf(stderr, "%s has an owner\n", foreign[i]);
        CU_ASSERT_PTR_NULL(zkp_binds_owner(b, foreign[i], NULL, NULL));
    }
    /* a key whose lock would be too long */
    char key[1025];
    memset(key, ' ', 1024);
    key[1024] = '\0';
    char out[ZKP_LOCK_NAME_MAX + 1];
    CU_ASSERT_EQUAL(zkp_binds_lock_for(b, "b1", key, 1024, out, sizeof(out), NULL), -2);
    memset(key, 'k', 1024);
    CU_ASSERT_EQUAL(zkp_binds_lock_for(b, "b1", key, 1000, out, sizeof(out), NULL), 1);
    zkp_binds_free(b);
}

/* Random keys (any bytes, NUL included): escaping round-trips, so two keys
 * never share a lock, and every component is one ZooKeeper accepts. */
static void test_escape_round_trip(void)
{
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    static const char alphabet[] = "/.%a~ \x01\xff{}Z9";
    char key[64], esc[3 * 64 + 8], back[80];
    for (int round = 0; round < 200000; round++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        size_t n = 1 + x % 20;
        for (size_t i = 0; i < n; i++)
            key[i] = alphabet[(x >> (3 * i % 60)) % (sizeof(alphabet) - 1)];
        int e = zkp_bind_escape(key, n, esc, sizeof(esc));
        CU_ASSERT_FATAL(e > 0);
        char lock[sizeof(esc) + 8];
        snprintf(lock, sizeof(lock), "/l/%s", esc);
        if (!zkp_lock_name_valid(lock, strlen(lock))) {
            fprintf(stderr, "round %d: %s is not canonical\n", round, lock);
            CU_FAIL_FATAL("escaped key not canonical");
        }
        int u = zkp_bind_unescape(esc, (size_t)e, back, sizeof(back));
        if (u != (int)n || memcmp(back, key, n) != 0)
            CU_FAIL_FATAL("escaping does not round-trip");
    }
    CU_ASSERT_EQUAL(zkp_bind_escape("abc", 3, back, 3), -1); /* does not fit */
    CU_ASSERT_EQUAL(zkp_bind_unescape("", 0, back, sizeof(back)), -1);
}

static void test_owner(void)
{
    static const char *const lines[] = {"seats",        "/locks/seats", "seats/rows/",
                                        "/locks/{key}", "seats/vip",    "/locks/{key}",
                                        "archive",      "/{bucket}",    NULL};
    zkp_binds_t *b = table(lines);
    char bucket[ZKP_BIND_BUCKET_MAX + 1];
    const zkp_bind_t *o = zkp_binds_owner(b, "/locks/seats", NULL, bucket);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    CU_ASSERT_STRING_EQUAL(zkp_bind_spec(o), "seats");
    CU_ASSERT_STRING_EQUAL(bucket, "seats");
    o = zkp_binds_owner(b, "/locks/rows/7", NULL, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    CU_ASSERT_STRING_EQUAL(zkp_bind_spec(o), "seats/rows/");
    /* "vip1" is governed by seats/vip, "vipx/1"... also: no other binding
     * takes "rows/..." keys, but "vip" keys are seats/vip's, not rows/'s */
    o = zkp_binds_owner(b, "/locks/vip1", NULL, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    CU_ASSERT_STRING_EQUAL(zkp_bind_spec(o), "seats/vip");
    /* "/locks/other": the key "other" is governed by the bucket's fixed
     * binding, which gives /locks/seats: no binding gives this lock */
    CU_ASSERT_PTR_NULL(zkp_binds_owner(b, "/locks/other", NULL, NULL));
    CU_ASSERT_PTR_NOT_NULL(zkp_binds_owner(b, "/archive", NULL, NULL));
    CU_ASSERT_PTR_NULL(zkp_binds_owner(b, "/archive", "seats", NULL)); /* bucket filter */
    CU_ASSERT_PTR_NULL(zkp_binds_owner(b, "/no/such", NULL, NULL));
    CU_ASSERT_PTR_NULL(zkp_binds_owner(b, "/locks/seats/", NULL, NULL)); /* not canonical */
    CU_ASSERT_PTR_NULL(zkp_binds_owner(NULL, "/locks/seats", NULL, NULL));
    CU_ASSERT_PTR_NULL(zkp_binds_owner(b, NULL, NULL, NULL));
    zkp_binds_free(b);

    /* Both ways agree where escaping shows (fuzz_bind found these): a
     * bucket that escapes ("..": %2E%2E) under {bucket}, and the empty key
     * ("%") under {key} */
    static const char *const odd[] = {"..", "/{bucket}", "b", "/k/{key}", NULL};
    b = table(odd);
    char lock[64];
    const zkp_bind_t *bd = NULL;
    CU_ASSERT_EQUAL(zkp_binds_lock_for(b, "..", "x", 1, lock, sizeof(lock), &bd), 1);
    CU_ASSERT_STRING_EQUAL(lock, "/%2E%2E");
    CU_ASSERT(zkp_binds_owner(b, lock, NULL, bucket) == bd && strcmp(bucket, "..") == 0);
    CU_ASSERT_PTR_NULL(zkp_binds_owner(b, "/..", NULL, NULL));
    CU_ASSERT_EQUAL(zkp_binds_lock_for(b, "b", "", 0, lock, sizeof(lock), &bd), 1);
    CU_ASSERT_STRING_EQUAL(lock, "/k/%");
    CU_ASSERT(zkp_binds_owner(b, lock, NULL, NULL) == bd);
    zkp_binds_free(b);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("fence_bind", NULL, NULL);
    CU_add_test(s, "bad bindings are refused, naming why", test_add_refuses);
    CU_add_test(s, "the longest prefix wins", test_longest_prefix);
    CU_add_test(s, "keys escaped into lock paths", test_escaping);
    CU_add_test(s, "escaping round-trips (random keys)", test_escape_round_trip);
    CU_add_test(s, "the owner of a lock", test_owner);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
