/* Unit tests of libzkfence's pure parts: error tables, node names, paths;
 * and, white-box, the allocation fault injection and the background
 * deletion queue's answer when memory runs out (no server needed). */
#include <CUnit/Basic.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static void test_error_tables(void)
{
    /* Every code has a distinct name and a text; unknown codes are named so. */
#define CHECK_CODE(name, value, text)                                                              \
    CU_ASSERT_STRING_EQUAL(zkf_err_name(ZKF_##name), "ZKF_" #name);                                \
    CU_ASSERT_STRING_EQUAL(zkf_strerror(ZKF_##name), text);
    ZKF_ERRNO_MAP(CHECK_CODE)
#undef CHECK_CODE
    CU_ASSERT_STRING_EQUAL(zkf_err_name(0), "ZKF_OK");
    CU_ASSERT_STRING_EQUAL(zkf_strerror(0), "success");
    CU_ASSERT_STRING_EQUAL(zkf_err_name(-9999), "ZKF_UNKNOWN");
    CU_ASSERT_STRING_EQUAL(zkf_strerror(12345), "unknown error");
    /* The codes the design requires to be distinct. */
    int codes[] = {ZKF_ETIMEDOUT, ZKF_ECANCELED, ZKF_ECONNLOSS, ZKF_ESESSIONEXPIRED, ZKF_ELOCKLOST};
    for (size_t i = 0; i < 5; i++)
        for (size_t j = i + 1; j < 5; j++)
            CU_ASSERT_NOT_EQUAL(codes[i], codes[j]);
    CU_ASSERT_STRING_EQUAL(zkf_version(), ZKF_VERSION_STRING);
}

static void test_zk_code_mapping(void)
{
    CU_ASSERT_EQUAL(zkf__from_zk(ZOK), 0);
    CU_ASSERT_EQUAL(zkf__from_zk(ZCONNECTIONLOSS), ZKF_ECONNLOSS);
    CU_ASSERT_EQUAL(zkf__from_zk(ZOPERATIONTIMEOUT), ZKF_ECONNLOSS);
    CU_ASSERT_EQUAL(zkf__from_zk(ZSESSIONEXPIRED), ZKF_ESESSIONEXPIRED);
    CU_ASSERT_EQUAL(zkf__from_zk(ZNOAUTH), ZKF_ENOAUTH);
    CU_ASSERT_EQUAL(zkf__from_zk(ZCLOSING), ZKF_ECLOSED);
    CU_ASSERT_EQUAL(zkf__from_zk(ZNODEEXISTS), ZKF_EZK);
}

static const char *GUID = "0123456789abcdef0123456789abcdef";

static void test_node_parse(void)
{
    zkf__node_t n;
    char name[128];
    snprintf(name, sizeof(name), "lock-%s-0000000042", GUID);
    CU_ASSERT_EQUAL(zkf__node_parse(name, &n), 0);
    CU_ASSERT_EQUAL(n.seq, 42);
    CU_ASSERT_EQUAL(memcmp(n.guid, GUID, 32), 0);
    snprintf(name, sizeof(name), "lock-%s-2147483647", GUID);
    CU_ASSERT_EQUAL(zkf__node_parse(name, &n), 0);
    CU_ASSERT_EQUAL(n.seq, 2147483647u);

    /* Foreign children: every deviation from the pattern. */
    const char *bad[] = {
        "",
        "lock",
        "foo",
        "lock-0000000001",
        "lock-0123456789ABCDEF0123456789abcdef-0000000001",  /* uppercase hex */
        "lock-0123456789abcdef0123456789abcde-0000000001",   /* 31 hex */
        "lock-0123456789abcdef0123456789abcdef0-0000000001", /* 33 hex */
        "lock-0123456789abcdef0123456789abcdef-000000001",   /* 9 digits */
        "lock-0123456789abcdef0123456789abcdef-00000000012", /* 11 digits */
        "lock-0123456789abcdef0123456789abcdef-00000000x1",
        "lock-0123456789abcdef0123456789abcdeg-0000000001",
        "lockx-0123456789abcdef0123456789abcdef-0000000001",
        "read-0123456789abcdef0123456789abcdef-0000000001",
        "xlock-0123456789abcdef0123456789abcdef-0000000001",
        "lock_0123456789abcdef0123456789abcdef-0000000001",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CU_ASSERT_EQUAL_FATAL(zkf__node_parse(bad[i], &n), -1);
}

static void test_nodes_sorted(void)
{
    char a[80], b[80], c[80];
    snprintf(a, sizeof(a), "lock-%s-0000000010", GUID);
    snprintf(b, sizeof(b), "lock-%s-0000000002", GUID);
    snprintf(c, sizeof(c), "lock-%s-0000000007", GUID);
    char *data[] = {a, "foreign", b, "lock-zz-0000000001", c};
    struct String_vector sv = {5, data};
    zkf__node_t *nodes;
    size_t n;
    CU_ASSERT_EQUAL_FATAL(zkf__nodes_sorted(&sv, &nodes, &n), 0);
    CU_ASSERT_EQUAL_FATAL(n, 3);
    CU_ASSERT_EQUAL(nodes[0].seq, 2);
    CU_ASSERT_EQUAL(nodes[1].seq, 7);
    CU_ASSERT_EQUAL(nodes[2].seq, 10);
    free(nodes);

    struct String_vector empty = {0, NULL};
    CU_ASSERT_EQUAL(zkf__nodes_sorted(&empty, &nodes, &n), 0);
    CU_ASSERT_EQUAL(n, 0);
    CU_ASSERT_PTR_NULL(nodes);
}

static void test_guid(void)
{
    char g1[ZKF__GUID_LEN + 1], g2[ZKF__GUID_LEN + 1];
    CU_ASSERT_EQUAL_FATAL(zkf__guid(g1), 0);
    CU_ASSERT_EQUAL_FATAL(zkf__guid(g2), 0);
    CU_ASSERT_EQUAL(strlen(g1), ZKF__GUID_LEN);
    CU_ASSERT_NOT_EQUAL(strcmp(g1, g2), 0);
    char name[80];
    snprintf(name, sizeof(name), "lock-%s-0000000001", g1);
    zkf__node_t n;
    CU_ASSERT_EQUAL(zkf__node_parse(name, &n), 0); /* our own names parse */
}

static void test_path_valid(void)
{
    CU_ASSERT_EQUAL(zkf__path_valid("/a"), 0);
    CU_ASSERT_EQUAL(zkf__path_valid("/locks/seat-12"), 0);
    CU_ASSERT_EQUAL(zkf__path_valid("/a.b/..c"), 0);
    const char *bad[] = {NULL,    "",       "/",       "a",    "a/b",   "/a/",  "//a",
                         "/a//b", "/a/./b", "/a/../b", "/a/.", "/a/..", "/a\nb"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CU_ASSERT_EQUAL(zkf__path_valid(bad[i]), -1);
    char longp[ZKF__MAX_PATH + 2];
    memset(longp, 'x', sizeof(longp) - 1);
    longp[0] = '/';
    longp[sizeof(longp) - 1] = '\0';
    CU_ASSERT_EQUAL(zkf__path_valid(longp), -1);
}

static void test_option_defaults(void)
{
    zkf_client_options_t co;
    zkf_client_options_init(&co);
    CU_ASSERT_EQUAL(co.size, sizeof(co));
    CU_ASSERT(co.session_timeout_ms > 0);
    zkf_lock_options_t lo;
    zkf_lock_options_init(&lo);
    CU_ASSERT_EQUAL(lo.size, sizeof(lo));
    CU_ASSERT(lo.max_depth > 0);
    /* bad options are refused before any network traffic */
    zkf_client_t *c = NULL;
    CU_ASSERT_EQUAL(zkf_client_connect(&co, &c), ZKF_EINVAL); /* no hosts */
    co.hosts = "127.0.0.1:1";
    co.chroot = "nope";
    CU_ASSERT_EQUAL(zkf_client_connect(&co, &c), ZKF_EINVAL);
    co.chroot = NULL;
    co.digest_user = "u";
    CU_ASSERT_EQUAL(zkf_client_connect(&co, &c), ZKF_EINVAL); /* user without password */
    CU_ASSERT_PTR_NULL(c);
    CU_ASSERT_EQUAL(zkf_client_destroy(NULL), 0);
    zkf_lock_destroy(NULL);
}

static void test_fault_injection(void)
{
    zkf__fail_alloc_after(1); /* one more succeeds, then one fails, then all succeed */
    void *a = zkf__malloc(8), *b = zkf__calloc(1, 8);
    char *s = zkf__strdup("x");
    CU_ASSERT_PTR_NOT_NULL(a);
    CU_ASSERT_PTR_NULL(b);
    CU_ASSERT_PTR_NOT_NULL(s);
    free(a);
    free(s);
    zkf__fail_alloc_after(0);
    zkf__fail_alloc_after(-1); /* switched off before it fired */
    a = zkf__malloc(8);
    CU_ASSERT_PTR_NOT_NULL(a);
    free(a);
}

static int queued(const zkf_client_t *c)
{
    int n = 0;
    for (const zkf__pending_t *p = c->pending; p; p = p->next)
        n++;
    return n;
}

/* zkf__delete_later on a client that is not connected: 0 (queued for the
 * reconnect), or ZKF_ENOMEM with nothing queued when either of its two
 * allocations fails, so that release can report it instead of EPENDING. */
static void test_delete_later_out_of_memory(void)
{
    zkf_client_t *c = calloc(1, sizeof(*c)); /* no session: zh NULL, CONNECTING */
    CU_ASSERT_FATAL(c != NULL);
    pthread_mutex_init(&c->mu, NULL);
    pthread_mutex_lock(&c->mu);
    CU_ASSERT_EQUAL(zkf__delete_later(c, "/locks/a/lock-x", NULL), 0);
    CU_ASSERT_EQUAL(queued(c), 1);
    zkf__fail_alloc_after(0); /* the entry */
    CU_ASSERT_EQUAL(zkf__delete_later(c, "/locks/a/lock-y", NULL), ZKF_ENOMEM);
    zkf__fail_alloc_after(1); /* its path */
    CU_ASSERT_EQUAL(zkf__delete_later(c, "/locks/a/lock-z", NULL), ZKF_ENOMEM);
    zkf__fail_alloc_after(-1);
    CU_ASSERT_EQUAL(queued(c), 1);
    CU_ASSERT_STRING_EQUAL(c->pending->path, "/locks/a/lock-x");
    pthread_mutex_unlock(&c->mu);
    free(c->pending->path);
    free(c->pending);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("lib", NULL, NULL);
    CU_add_test(s, "error tables", test_error_tables);
    CU_add_test(s, "ZooKeeper code mapping", test_zk_code_mapping);
    CU_add_test(s, "node name parsing", test_node_parse);
    CU_add_test(s, "children sorted, foreign dropped", test_nodes_sorted);
    CU_add_test(s, "guid", test_guid);
    CU_add_test(s, "path validation", test_path_valid);
    CU_add_test(s, "option defaults and validation", test_option_defaults);
    CU_add_test(s, "allocation fault injection", test_fault_injection);
    CU_add_test(s, "delete_later out of memory", test_delete_later_out_of_memory);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
