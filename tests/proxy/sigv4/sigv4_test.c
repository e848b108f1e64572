/* SigV4 edge cases: canonical forms, strict parsing, every refusal and its
 * S3 error, the clock, presigned limits, the key cache, threads. The AWS
 * documentation's own examples are in vectors_test.c. */
#include <pthread.h>

#include "sigv4_int.h"
#include "sigv4_test_util.h"

#define AK "AKIDTEST0001"
#define SECRET "s3cr3t/with+odd=chars"
#define T0 ((time_t)1700000000) /* 20231114T221320Z */

static const st_cred_t creds[] = {{AK, SECRET}, {DOC_AK, DOC_SECRET}, {NULL, NULL}};

/* ------------------------------------------------------------ helpers */

/* The line `line` (0-based) of a canonical request, into out. */
static const char *canon_line(const char *method, const char *target, int presigned,
                              const zkp_sigv4_header_t *h, size_t nh, const char *sh, int line,
                              char *out, size_t cap)
{
    char *c = NULL;
    size_t len = 0;
    int rc = zkp_sigv4_canonical_request(method, target, strlen(target), presigned, h, nh, sh,
                                         strlen(sh), "UNSIGNED-PAYLOAD", 16, &c, &len, NULL, 0);
    if (rc != 0) {
        snprintf(out, cap, "<%s>", zkp_sigv4_err_name(rc));
        return out;
    }
    const char *p = c;
    for (int i = 0; i < line && p; i++) {
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    const char *e = p ? strchr(p, '\n') : NULL;
    snprintf(out, cap, "%.*s", p ? (int)(e ? e - p : (long)strlen(p)) : 0, p ? p : "");
    free(c);
    return out;
}

/* A request signed by zkp_sigv4_sign(), as the verifier would receive it. */
typedef struct sreq {
    zkp_sigv4_header_t h[40];
    size_t nh;
    char target[4096];
    char authz[2048];
    zkp_sigv4_signed_t s;
} sreq_t;

/* sign_into() with other credentials. */
static int sign_into_as(sreq_t *q, const zkp_sigv4_creds_t *cr, const char *method,
                        const char *path, const char *query, const zkp_sigv4_header_t *h, size_t nh,
                        const char *payload, time_t when)
{
    zkp_sigv4_sign_req_t sr = {method, path, query, h, nh, payload, when};
    memset(q, 0, sizeof(*q));
    int rc = zkp_sigv4_sign(cr, &sr, &q->s);
    if (rc != 0)
        return rc;
    memcpy(q->h, h, nh * sizeof(*h));
    q->nh = nh;
    q->h[q->nh++] = H("x-amz-date", q->s.amz_date);
    q->h[q->nh++] = H("x-amz-content-sha256", q->s.content_sha256);
    snprintf(q->authz, sizeof(q->authz), "%s", q->s.authorization);
    q->h[q->nh++] = H("Authorization", q->authz);
    snprintf(q->target, sizeof(q->target), "%s%s%s", path, query && *query ? "?" : "",
             query && *query ? query : "");
    return 0;
}

static int sign_into(sreq_t *q, const char *method, const char *path, const char *query,
                     const zkp_sigv4_header_t *h, size_t nh, const char *payload, time_t when)
{
    zkp_sigv4_creds_t cr = {AK, SECRET, "us-east-1", NULL};
    return sign_into_as(q, &cr, method, path, query, h, nh, payload, when);
}

/* Signs by hand (for forms the signer never makes): the canonical request
 * of the given signed-headers list, date and payload; the Authorization
 * value into authz. */
static void manual_sign(const char *method, const char *target, const zkp_sigv4_header_t *h,
                        size_t nh, const char *sh, const char *payload, const char *amz_date,
                        const char *scope_region, char *authz, size_t cap)
{
    char *canon = NULL, *sts = NULL;
    size_t len = 0;
    CU_ASSERT_EQUAL_FATAL(zkp_sigv4_canonical_request(method, target, strlen(target), 0, h, nh, sh,
                                                      strlen(sh), payload, strlen(payload), &canon,
                                                      &len, NULL, 0),
                          0);
    char date8[9], scope[ZKP_SIGV4_SCOPE_MAX + 1], sig[65];
    snprintf(date8, sizeof(date8), "%.8s", amz_date);
    zkp__scope(date8, scope_region, "s3", scope);
    CU_ASSERT_EQUAL_FATAL(zkp__string_to_sign(NULL, amz_date, scope, canon, len, &sts), 0);
    unsigned char key[32];
    zkp__derive_key(NULL, SECRET, strlen(SECRET), date8, scope_region, "s3", key);
    zkp__sign_hex(NULL, key, sts, strlen(sts), sig);
    snprintf(authz, cap, "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s", AK,
             scope, sh, sig);
    free(canon);
    free(sts);
}

static zkp_sigv4_verifier_t *V;

static int verify_q(const sreq_t *q, const char *method, time_t now, zkp_sigv4_auth_t *a)
{
    return st_verify(V, method, q->target, q->h, q->nh, now, a);
}

/* ------------------------------------------------------ canonical form */

static void test_canonical_uri(void)
{
    static const struct {
        const char *raw, *canon;
    } t[] = {
        {"", "/"},
        {"/", "/"},
        {"/bucket/key", "/bucket/key"},
        {"/bucket/my%20key", "/bucket/my%20key"},
        {"/bucket/my+key", "/bucket/my%2Bkey"}, /* '+' in a path is a plus */
        {"/bucket/my%2Bkey", "/bucket/my%2Bkey"},
        {"/bucket/a%2Fb/c", "/bucket/a%2Fb/c"}, /* an escaped '/' is data */
        {"/bucket/a%2fb", "/bucket/a%2Fb"},     /* hex case normalised */
        {"/bucket/~user", "/bucket/~user"},
        {"/bucket/%7Euser", "/bucket/~user"}, /* unreserved: never escaped */
        {"/bucket/%41%42c", "/bucket/ABc"},
        {"/bucket/caf%c3%a9", "/bucket/caf%C3%A9"},
        {"/bucket/\xe6\x97\xa5", "/bucket/%E6%97%A5"}, /* raw UTF-8 bytes */
        {"/bucket/a*b'(c)!", "/bucket/a%2Ab%27%28c%29%21"},
        {"/bucket/a=b&c;d:e@f$g,h", "/bucket/a%3Db%26c%3Bd%3Ae%40f%24g%2Ch"},
        {"//a/./b/../c/", "//a/./b/../c/"}, /* S3: not normalised */
        {"/bucket/%00", "/bucket/%00"},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        char out[512];
        zkp_sigv4_header_t h[] = {H("host", "h")};
        canon_line("GET", t[i].raw, 0, h, 1, "host", 1, out, sizeof(out));
        if (strcmp(out, t[i].canon) != 0)
            fprintf(stderr, "path '%s': got '%s', want '%s'\n", t[i].raw, out, t[i].canon);
        CU_ASSERT_STRING_EQUAL(out, t[i].canon);
    }
}

static void test_canonical_query(void)
{
    static const struct {
        const char *raw, *canon;
        int presigned;
    } t[] = {
        {"/?", "", 0},
        {"/?b=2&a=1", "a=1&b=2", 0},
        {"/?a=2&a=1&a=10", "a=1&a=10&a=2", 0}, /* repeated names: by value */
        {"/?acl", "acl=", 0},
        {"/?acl=", "acl=", 0},
        {"/?a=1&&b=2&", "a=1&b=2", 0}, /* empty segments skipped */
        {"/?a-=1&a=2", "a=2&a-=1", 0}, /* by name first: 'a' < 'a-' */
        {"/?q=a+b", "q=a%20b", 0},     /* '+' in a query is a space */
        {"/?a+b=1", "a%20b=1", 0},     /* in names too */
        {"/?q=a%20b", "q=a%20b", 0},
        {"/?q=a%2Bb", "q=a%2Bb", 0},
        {"/?q=%7e", "q=~", 0},
        {"/?q=a/b", "q=a%2Fb", 0}, /* '/' encoded in the query */
        {"/?prefix=%E2%82%AC&delimiter=/", "delimiter=%2F&prefix=%E2%82%AC", 0},
        {"/?x=a=b", "x=a%3Db", 0},
        {"/?X-Amz-Signature=abc&b=1", "X-Amz-Signature=abc&b=1", 0},
        {"/?X-Amz-Signature=abc&b=1", "b=1", 1}, /* presigned: signature left out */
        {"/?X-Amz-%53ignature=abc&b=1", "b=1", 1},
    };
    zkp_sigv4_header_t h[] = {H("host", "h")};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        char out[512];
        canon_line("GET", t[i].raw, t[i].presigned, h, 1, "host", 2, out, sizeof(out));
        if (strcmp(out, t[i].canon) != 0)
            fprintf(stderr, "query '%s': got '%s', want '%s'\n", t[i].raw, out, t[i].canon);
        CU_ASSERT_STRING_EQUAL(out, t[i].canon);
    }
}

static void test_canonical_headers(void)
{
    zkp_sigv4_header_t h[] = {
        H("Host", "  example.com  "), H("X-Amz-Meta-Note", "  a   b \t c  "),
        H("x-amz-meta-list", "1"),    H("X-AMZ-META-LIST", " 2  3 "),
        H("x-amz-meta-empty", ""),    H("x-amz-meta-tabs", "\ta\t\tb\t"),
    };
    char *c = NULL;
    size_t len = 0;
    const char *sh = "host;x-amz-meta-empty;x-amz-meta-list;x-amz-meta-note;x-amz-meta-tabs";
    CU_ASSERT_EQUAL_FATAL(zkp_sigv4_canonical_request("PUT", "/b/k", 4, 0, h, 6, sh, strlen(sh),
                                                      EMPTY_SHA, 64, &c, &len, NULL, 0),
                          0);
    const char *want = "PUT\n/b/k\n\n"
                       "host:example.com\n"
                       "x-amz-meta-empty:\n"
                       "x-amz-meta-list:1,2 3\n"
                       "x-amz-meta-note:a b c\n"
                       "x-amz-meta-tabs:a b\n"
                       "\n"
                       "host;x-amz-meta-empty;x-amz-meta-list;x-amz-meta-note;x-amz-meta-tabs"
                       "\n" EMPTY_SHA;
    CU_ASSERT_STRING_EQUAL(c, want);
    CU_ASSERT_EQUAL(len, strlen(want));
    free(c);
}

static void test_canonical_errors(void)
{
    zkp_sigv4_header_t h[] = {H("host", "h"), H("x-amz-date", "20130524T000000Z")};
    char d[256];
    char *c = (char *)1;
    size_t len;
    static const char *const bad_targets[] = {"/a%",   "/a%2",   "/a%zz",  "/a%g0",
                                              "/?q=%", "/?q=%4", "/?%zz=1"};
    for (size_t i = 0; i < sizeof(bad_targets) / sizeof(bad_targets[0]); i++) {
        const char *t = bad_targets[i];
        CU_ASSERT_EQUAL(zkp_sigv4_canonical_request("GET", t, strlen(t), 0, h, 2, "host", 4, "", 0,
                                                    &c, &len, d, sizeof(d)),
                        ZKP_SIGV4_EURI);
        CU_ASSERT_PTR_NULL(c);
    }
    CU_ASSERT_EQUAL(zkp_sigv4_canonical_request("GET", "/", 1, 0, h, 2, "host;range", 10, "", 0, &c,
                                                &len, d, sizeof(d)),
                    ZKP_SIGV4_EMISSINGHDR);
    CU_ASSERT_PTR_NOT_NULL(strstr(d, "'range'"));
    static const char *const bad_lists[] = {
        "",      "x-amz-date;host", "Host",  "host;host",      "host;;x-amz-date",
        ";host", "host;",           "ho st", "host,x-amz-date"};
    for (size_t i = 0; i < sizeof(bad_lists) / sizeof(bad_lists[0]); i++) {
        const char *l = bad_lists[i];
        CU_ASSERT_EQUAL(zkp_sigv4_canonical_request("GET", "/", 1, 0, h, 2, l, strlen(l), "", 0, &c,
                                                    &len, d, sizeof(d)),
                        ZKP_SIGV4_EHEADER);
    }
    /* NUL inside the list is refused, not treated as an end. */
    CU_ASSERT_EQUAL(zkp_sigv4_canonical_request("GET", "/", 1, 0, h, 2, "host\0x", 6, "", 0, &c,
                                                &len, d, sizeof(d)),
                    ZKP_SIGV4_EHEADER);
    CU_ASSERT_EQUAL(zkp_sigv4_canonical_request(NULL, "/", 1, 0, h, 2, "host", 4, "", 0, &c, &len,
                                                d, sizeof(d)),
                    ZKP_SIGV4_EINVAL);
}

/* ----------------------------------------------------------- round trip */

static void test_round_trip_keys(void)
{
    /* The path as a client sends it (percent-encoded its way), signed by
     * our signer, accepted by the verifier; and a different spelling of
     * the same path is accepted too, since the canonical URI is the same. */
    static const struct {
        const char *sent, *alt;
    } t[] = {
        {"/bucket/my%20key", "/bucket/my%20key"},
        {"/bucket/%C3%BCn%C3%AFc%C3%B6d%C3%A9/%E6%97%A5%E6%9C%AC",
         "/bucket/%c3%bcn%c3%afc%c3%b6d%c3%a9/%e6%97%a5%e6%9c%ac"},
        {"/bucket/a%2Bb", "/bucket/a+b"},
        {"/bucket/a%2Fb", "/bucket/a%2fb"},
        {"/bucket/~tilde", "/bucket/%7Etilde"},
        {"/bucket/sp%20%20two", "/bucket/sp%20%20two"},
        {"/bucket/%21%24%26%27%28%29%2A", "/bucket/!$&'()*"},
    };
    zkp_sigv4_header_t h[] = {H("host", "127.0.0.1:9000")};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        sreq_t q;
        CU_ASSERT_EQUAL_FATAL(sign_into(&q, "GET", t[i].sent, NULL, h, 1, EMPTY_SHA, T0), 0);
        zkp_sigv4_auth_t a;
        ST_EXPECT(verify_q(&q, "GET", T0, &a), 0, &a);
        zkp_sigv4_auth_clear(&a);
        snprintf(q.target, sizeof(q.target), "%s", t[i].alt);
        ST_EXPECT(verify_q(&q, "GET", T0, &a), 0, &a);
        zkp_sigv4_auth_clear(&a);
        /* a/b and a%2Fb are different keys: different canonical URIs */
        if (strstr(t[i].sent, "%2F") != NULL) {
            snprintf(q.target, sizeof(q.target), "/bucket/a/b");
            ST_EXPECT(verify_q(&q, "GET", T0, &a), ZKP_SIGV4_ESIGNATURE, &a);
            zkp_sigv4_auth_clear(&a);
        }
        zkp_sigv4_signed_clear(&q.s);
    }

    /* Queries: empty values, repeated names, any order on the wire. */
    sreq_t q;
    CU_ASSERT_EQUAL_FATAL(sign_into(&q, "GET", "/bucket", "list-type=2&prefix=&a=2&a=1&versions", h,
                                    1, EMPTY_SHA, T0),
                          0);
    zkp_sigv4_auth_t a;
    ST_EXPECT(verify_q(&q, "GET", T0, &a), 0, &a);
    zkp_sigv4_auth_clear(&a);
    snprintf(q.target, sizeof(q.target), "/bucket?versions=&a=1&prefix&list-type=2&a=2");
    ST_EXPECT(verify_q(&q, "GET", T0, &a), 0, &a);
    zkp_sigv4_auth_clear(&a);
    snprintf(q.target, sizeof(q.target), "/bucket?versions=&a=1&prefix=x&list-type=2&a=2");
    ST_EXPECT(verify_q(&q, "GET", T0, &a), ZKP_SIGV4_ESIGNATURE, &a);
    zkp_sigv4_auth_clear(&a);
    snprintf(q.target, sizeof(q.target), "/bucket?versions=&a=1&list-type=2&a=2");
    ST_EXPECT(verify_q(&q, "GET", T0, &a), ZKP_SIGV4_ESIGNATURE, &a);
    zkp_sigv4_auth_clear(&a);
    zkp_sigv4_signed_clear(&q.s);
}

static void test_tampering(void)
{
    zkp_sigv4_header_t h[] = {H("host", "127.0.0.1:9000"), H("x-amz-meta-note", "a   b"),
                              H("Content-Type", "text/plain")};
    const char *sha = "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072";
    sreq_t q;
    CU_ASSERT_EQUAL_FATAL(sign_into(&q, "PUT", "/bucket/key", "tagging", h, 3, sha, T0), 0);
    zkp_sigv4_auth_t a;
    ST_EXPECT(verify_q(&q, "PUT", T0, &a), 0, &a);
    CU_ASSERT_EQUAL(a.payload, ZKP_SIGV4_PAYLOAD_SHA256);
    CU_ASSERT_EQUAL(a.payload_sha256[0], 0x44);
    CU_ASSERT_TRUE(zkp_sigv4_auth_signed(&a, "content-type"));
    CU_ASSERT_TRUE(zkp_sigv4_auth_signed(&a, "X-Amz-Meta-Note"));
    CU_ASSERT_FALSE(zkp_sigv4_auth_signed(&a, "x-amz-meta"));
    CU_ASSERT_FALSE(zkp_sigv4_auth_signed(&a, "x-fencing-token"));
    zkp_sigv4_auth_clear(&a);

    /* Spaces are canonicalised: another run of them is the same value. */
    q.h[1] = H("x-amz-meta-note", " a b ");
    ST_EXPECT(verify_q(&q, "PUT", T0, &a), 0, &a);
    zkp_sigv4_auth_clear(&a);
    /* Each of these changes what the client signed. */
    q.h[1] = H("x-amz-meta-note", "a c");
    ST_EXPECT(verify_q(&q, "PUT", T0, &a), ZKP_SIGV4_ESIGNATURE, &a);
    CU_ASSERT_PTR_NOT_NULL(strstr(a.canonical_request, "x-amz-meta-note:a c\n"));
    CU_ASSERT_EQUAL(strncmp(a.string_to_sign, "AWS4-HMAC-SHA256\n", 17), 0);
    zkp_sigv4_auth_clear(&a);
    q.h[1] = H("x-amz-meta-note", "a b");
    ST_EXPECT(verify_q(&q, "POST", T0, &a), ZKP_SIGV4_ESIGNATURE, &a);
    zkp_sigv4_auth_clear(&a);
    snprintf(q.target, sizeof(q.target), "/bucket/key2?tagging");
    ST_EXPECT(verify_q(&q, "PUT", T0, &a), ZKP_SIGV4_ESIGNATURE, &a);
    zkp_sigv4_auth_clear(&a);
    snprintf(q.target, sizeof(q.target), "/bucket/key?tagging&x=1");
    ST_EXPECT(verify_q(&q, "PUT", T0, &a), ZKP_SIGV4_ESIGNATURE, &a);
    zkp_sigv4_auth_clear(&a);
    snprintf(q.target, sizeof(q.target), "/bucket/key?tagging");
    q.h[4] = H("x-amz-content-sha256", EMPTY_SHA);
    ST_EXPECT(verify_q(&q, "PUT", T0, &a), ZKP_SIGV4_ESIGNATURE, &a);
    zkp_sigv4_auth_clear(&a);
    q.h[4] = H("x-amz-content-sha256", "UNSIGNED-PAYLOAD");
    ST_EXPECT(verify_q(&q, "PUT", T0, &a), ZKP_SIGV4_ESIGNATURE, &a);
    zkp_sigv4_auth_clear(&a);
    q.h[4] = H("x-amz-content-sha256", q.s.content_sha256);
    q.h[3] = H("x-amz-date", "20231114T221321Z"); /* one second later */
    ST_EXPECT(verify_q(&q, "PUT", T0, &a), ZKP_SIGV4_ESIGNATURE, &a);
    zkp_sigv4_auth_clear(&a);
    q.h[3] = H("x-amz-date", q.s.amz_date);
    /* A repeated signed header joins its values: a second Content-Type
     * is not the one signed. */
    q.h[q.nh] = H("content-type", "text/html");
    ST_EXPECT(st_verify(V, "PUT", q.target, q.h, q.nh + 1, T0, &a), ZKP_SIGV4_ESIGNATURE, &a);
    CU_ASSERT_PTR_NOT_NULL(strstr(a.canonical_request, "content-type:text/plain,text/html\n"));
    zkp_sigv4_auth_clear(&a);
    /* Unchanged again: accepted (the cases above failed for their change). */
    ST_EXPECT(verify_q(&q, "PUT", T0, &a), 0, &a);
    zkp_sigv4_auth_clear(&a);
    zkp_sigv4_signed_clear(&q.s);
}

/* A canonical request longer than the verifier's stack buffer (2 KiB)
 * verifies alike, and its refusal reports the whole of it. */
static void test_long_canonical(void)
{
    static char big[3001];
    for (size_t i = 0; i < sizeof(big) - 1; i++)
        big[i] = (char)('a' + i % 26);
    zkp_sigv4_header_t h[] = {H("host", "127.0.0.1:9000"), H("x-amz-meta-long", big)};
    sreq_t q;
    CU_ASSERT_EQUAL_FATAL(sign_into(&q, "PUT", "/bucket/key", "", h, 2, EMPTY_SHA, T0), 0);
    zkp_sigv4_auth_t a;
    ST_EXPECT(verify_q(&q, "PUT", T0, &a), 0, &a);
    zkp_sigv4_auth_clear(&a);
    big[1500] = '!'; /* the same length, another value */
    ST_EXPECT(verify_q(&q, "PUT", T0, &a), ZKP_SIGV4_ESIGNATURE, &a);
    char *canon = NULL;
    size_t len = 0;
    CU_ASSERT_EQUAL_FATAL(zkp_sigv4_canonical_request("PUT", "/bucket/key", 11, 0, q.h, q.nh,
                                                      a.signed_headers, strlen(a.signed_headers),
                                                      EMPTY_SHA, 64, &canon, &len, NULL, 0),
                          0);
    CU_ASSERT_TRUE(len > 3000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a.canonical_request);
    CU_ASSERT_STRING_EQUAL(a.canonical_request, canon);
    free(canon);
    zkp_sigv4_auth_clear(&a);
    zkp_sigv4_signed_clear(&q.s);
}

/* The table-driven hex digits and the case-folding comparison against
 * their definitions, over every byte (and pair of bytes). */
static int lower_ascii(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static void test_text_helpers(void)
{
    static const char digits[] = "0123456789abcdef";
    int bad_hex = 0, bad_ieq = 0;
    for (int c = 0; c < 256; c++) {
        const char *d = c != 0 ? strchr(digits, lower_ascii(c)) : NULL;
        bad_hex += zkp__hexval((unsigned char)c) != (d ? (int)(d - digits) : -1);
        for (int e = 0; e < 256; e++) {
            char x = (char)c, y = (char)e;
            bad_ieq += zkp__ieq(&x, 1, &y, 1) != (lower_ascii(c) == lower_ascii(e));
        }
    }
    CU_ASSERT_EQUAL(bad_hex, 0);
    CU_ASSERT_EQUAL(bad_ieq, 0);
    CU_ASSERT_TRUE(zkp__ieq("X-Amz-Date", 10, "x-amz-date", 10));
    CU_ASSERT_FALSE(zkp__ieq("x-amz-date", 10, "x-amz-dat", 9));
}

/* --------------------------------------------------- unsigned headers */

static void test_unsigned_headers(void)
{
    zkp_sigv4_auth_t a;
    char authz[1024];
    /* host not signed */
    zkp_sigv4_header_t h[6] = {H("host", "h"), H("x-amz-date", "20231114T221320Z"),
                               H("x-amz-content-sha256", EMPTY_SHA)};
    manual_sign("GET", "/b/k", h, 3, "x-amz-content-sha256;x-amz-date", EMPTY_SHA,
                "20231114T221320Z", "us-east-1", authz, sizeof(authz));
    h[3] = H("Authorization", authz);
    ST_EXPECT(st_verify(V, "GET", "/b/k", h, 4, T0, &a), ZKP_SIGV4_EUNSIGNED, &a);
    CU_ASSERT_PTR_NOT_NULL(strstr(a.detail, "host"));
    zkp_sigv4_auth_clear(&a);

    /* x-amz-date and x-amz-content-sha256 need not be listed: they are in
     * the string to sign and the canonical request anyway. */
    manual_sign("GET", "/b/k", h, 3, "host", EMPTY_SHA, "20231114T221320Z", "us-east-1", authz,
                sizeof(authz));
    h[3] = H("Authorization", authz);
    ST_EXPECT(st_verify(V, "GET", "/b/k", h, 4, T0, &a), 0, &a);
    zkp_sigv4_auth_clear(&a);
    /* but any other x-amz-* header must be */
    h[4] = H("X-Amz-Meta-Fencing-Token", "42");
    ST_EXPECT(st_verify(V, "GET", "/b/k", h, 5, T0, &a), ZKP_SIGV4_EUNSIGNED, &a);
    CU_ASSERT_PTR_NOT_NULL(strstr(a.detail, "X-Amz-Meta-Fencing-Token"));
    zkp_sigv4_auth_clear(&a);
    /* a header outside x-amz-* may go unsigned; the caller can tell */
    h[4] = H("X-Fencing-Token", "42");
    ST_EXPECT(st_verify(V, "GET", "/b/k", h, 5, T0, &a), 0, &a);
    CU_ASSERT_FALSE(zkp_sigv4_auth_signed(&a, "x-fencing-token"));
    CU_ASSERT_TRUE(zkp_sigv4_auth_signed(&a, "HOST"));
    zkp_sigv4_auth_clear(&a);

    /* a signed header missing from the request */
    manual_sign("GET", "/b/k", h, 5, "host;x-fencing-token", EMPTY_SHA, "20231114T221320Z",
                "us-east-1", authz, sizeof(authz));
    h[3] = H("Authorization", authz);
    ST_EXPECT(st_verify(V, "GET", "/b/k", h, 5, T0, &a), 0, &a);
    zkp_sigv4_auth_clear(&a);
    ST_EXPECT(st_verify(V, "GET", "/b/k", h, 4, T0, &a), ZKP_SIGV4_EMISSINGHDR, &a);
    zkp_sigv4_auth_clear(&a);
}

/* ------------------------------------------------------ header syntax */

#define CRED "Credential=AKID/20231114/us-east-1/s3/aws4_request"
#define SH "SignedHeaders=host;x-amz-date"
#define SIG "Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void test_authorization_syntax(void)
{
    static const struct {
        const char *v;
        int rc;
    } t[] = {
        {"AWS4-HMAC-SHA256 " CRED ", " SH ", " SIG, 0},
        {"AWS4-HMAC-SHA256 " CRED "," SH "," SIG, 0},
        {"AWS4-HMAC-SHA256   " CRED ",   " SH ",  " SIG "  ", 0},
        {"  AWS4-HMAC-SHA256 " SIG ", " CRED ", " SH, 0}, /* any order */
        {"AWS4-HMAC-SHA256", ZKP_SIGV4_EHEADER},
        {"AWS4-HMAC-SHA256 ", ZKP_SIGV4_EHEADER},
        {"AWS4-HMAC-SHA256\t" CRED ", " SH ", " SIG, ZKP_SIGV4_EUNSUPPORTED},
        {"AWS4-HMAC-SHA256" CRED ", " SH ", " SIG, ZKP_SIGV4_EUNSUPPORTED},
        {"AWS4-HMAC-SHA256 " CRED ", " SH, ZKP_SIGV4_EHEADER},
        {"AWS4-HMAC-SHA256 " CRED ", " SH ", " SIG ",", ZKP_SIGV4_EHEADER},
        {"AWS4-HMAC-SHA256 " CRED ", " SH ", " SIG ", " SIG, ZKP_SIGV4_EHEADER},
        {"AWS4-HMAC-SHA256 " CRED ", " SH ", " SIG ", Foo=bar", ZKP_SIGV4_EHEADER},
        {"AWS4-HMAC-SHA256 " CRED ", " SH ", signature=0123", ZKP_SIGV4_EHEADER},
        {"AWS4-HMAC-SHA256 " CRED " " SH " " SIG, ZKP_SIGV4_EHEADER},
        {"AWS4-HMAC-SHA256 " CRED ",, " SH ", " SIG, ZKP_SIGV4_EHEADER},
        {"AWS4-HMAC-SHA256 Credential=, " SH ", " SIG, ZKP_SIGV4_EHEADER},
        {"AWS4-HMAC-SHA256 Credential=AKID/20231114/us-east-1/s3/aws4_requests, " SH ", " SIG,
         ZKP_SIGV4_EHEADER},
        {"AWS4-HMAC-SHA256 Credential=AKID/20231114/us-east-1/s3, " SH ", " SIG, ZKP_SIGV4_EHEADER},
        {"AWS4-HMAC-SHA256 Credential=AKID/20231114/us-east-1/s3/aws4_request/x, " SH ", " SIG,
         ZKP_SIGV4_EHEADER},
        {"AWS4-HMAC-SHA256 Credential=AKID/20131324/us-east-1/s3/aws4_request, " SH ", " SIG,
         ZKP_SIGV4_EHEADER},
        {"AWS4-HMAC-SHA256 Credential=AKID/2023111/us-east-1/s3/aws4_request, " SH ", " SIG,
         ZKP_SIGV4_EHEADER},
        {"AWS4-HMAC-SHA256 Credential=AKID/20231114/US-EAST-1/s3/aws4_request, " SH ", " SIG,
         ZKP_SIGV4_EHEADER},
        {"AWS4-HMAC-SHA256 Credential=AK ID/20231114/us-east-1/s3/aws4_request, " SH ", " SIG,
         ZKP_SIGV4_EHEADER},
        {"AWS4-HMAC-SHA256 Credential=/20231114/us-east-1/s3/aws4_request, " SH ", " SIG,
         ZKP_SIGV4_EHEADER},
        {"AWS4-HMAC-SHA256 " CRED ", SignedHeaders=x-amz-date;host, " SIG, ZKP_SIGV4_EHEADER},
        {"AWS4-HMAC-SHA256 " CRED ", SignedHeaders=Host;x-amz-date, " SIG, ZKP_SIGV4_EHEADER},
        {"AWS4-HMAC-SHA256 " CRED ", SignedHeaders=, " SIG, ZKP_SIGV4_EHEADER},
        /* signatures of the wrong length or case */
        {"AWS4-HMAC-SHA256 " CRED ", " SH
         ", Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde",
         ZKP_SIGV4_EHEADER},
        {"AWS4-HMAC-SHA256 " CRED ", " SH
         ", Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0",
         ZKP_SIGV4_EHEADER},
        {"AWS4-HMAC-SHA256 " CRED ", " SH
         ", Signature=0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
         ZKP_SIGV4_EHEADER},
        {"AWS4-HMAC-SHA256 " CRED ", " SH
         ", Signature=0123456789abcdefg123456789abcdef0123456789abcdef0123456789abcdef",
         ZKP_SIGV4_EHEADER},
        /* other schemes and algorithms */
        {"AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=", ZKP_SIGV4_EUNSUPPORTED},
        {"AWS4-HMAC-SHA512 " CRED ", " SH ", " SIG, ZKP_SIGV4_EUNSUPPORTED},
        {"AWS4-ECDSA-P256-SHA256 " CRED ", " SH ", " SIG, ZKP_SIGV4_EUNSUPPORTED},
        {"aws4-hmac-sha256 " CRED ", " SH ", " SIG, ZKP_SIGV4_EUNSUPPORTED},
        {"Bearer abc", ZKP_SIGV4_EUNSUPPORTED},
        {"Basic dXNlcjpwYXNz", ZKP_SIGV4_EUNSUPPORTED},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        zkp_sigv4_parsed_t p;
        char d[256] = "";
        int rc = zkp_sigv4_parse_authorization(t[i].v, strlen(t[i].v), &p, d, sizeof(d));
        if (rc != t[i].rc)
            fprintf(stderr, "'%s': got %s (%s), want %s\n", t[i].v, zkp_sigv4_err_name(rc), d,
                    zkp_sigv4_err_name(t[i].rc));
        CU_ASSERT_EQUAL(rc, t[i].rc);
        if (rc == 0) {
            CU_ASSERT_STRING_EQUAL(p.access_key, "AKID");
            CU_ASSERT_STRING_EQUAL(p.date, "20231114");
            CU_ASSERT_STRING_EQUAL(p.region, "us-east-1");
            CU_ASSERT_STRING_EQUAL(p.service, "s3");
            CU_ASSERT_STRING_EQUAL(p.signed_headers, "host;x-amz-date");
            CU_ASSERT_EQUAL(p.expires, -1);
        } else {
            CU_ASSERT_NOT_EQUAL(d[0], '\0'); /* every refusal says why */
            for (char *c = d; *c; c++)
                CU_ASSERT_TRUE(*c >= 0x20 && *c <= 0x7e);
        }
    }
    /* Only len bytes are read; an embedded NUL is a byte like others. */
    const char *v = "AWS4-HMAC-SHA256 " CRED ", " SH ", " SIG;
    zkp_sigv4_parsed_t p;
    CU_ASSERT_EQUAL(zkp_sigv4_parse_authorization(v, strlen(v) - 1, &p, NULL, 0),
                    ZKP_SIGV4_EHEADER);
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", v);
    buf[40] = '\0';
    CU_ASSERT_EQUAL(zkp_sigv4_parse_authorization(buf, strlen(v), &p, NULL, 0), ZKP_SIGV4_EHEADER);
    CU_ASSERT_EQUAL(zkp_sigv4_parse_authorization(NULL, 3, &p, NULL, 0), ZKP_SIGV4_EINVAL);
}

/* ---------------------------------------------------- scope semantics */

static void test_scope(void)
{
    zkp_sigv4_auth_t a;
    char authz[1024];
    zkp_sigv4_header_t h[5] = {H("host", "h"), H("x-amz-date", "20231114T221320Z"),
                               H("x-amz-content-sha256", EMPTY_SHA)};
    /* region */
    manual_sign("GET", "/", h, 3, "host", EMPTY_SHA, "20231114T221320Z", "eu-west-1", authz,
                sizeof(authz));
    h[3] = H("Authorization", authz);
    ST_EXPECT(st_verify(V, "GET", "/", h, 4, T0, &a), ZKP_SIGV4_EHEADER, &a);
    CU_ASSERT_PTR_NOT_NULL(strstr(a.detail, "region 'eu-west-1' is wrong; expecting 'us-east-1'"));
    CU_ASSERT_STRING_EQUAL(a.access_key, AK); /* known for the log, though refused */
    zkp_sigv4_auth_clear(&a);
    /* the same request is fine for a verifier of that region */
    zkp_sigv4_verifier_t *eu = st_verifier(creds, "eu-west-1");
    ST_EXPECT(st_verify(eu, "GET", "/", h, 4, T0, &a), 0, &a);
    zkp_sigv4_auth_clear(&a);
    zkp_sigv4_verifier_free(eu);

    /* service */
    char alt[1024];
    snprintf(alt, sizeof(alt), "%s", authz);
    char *svc = strstr(alt, "/s3/");
    memcpy(svc, "/s4/", 4);
    memcpy(strstr(alt, "eu-west-1"), "us-east-1", 9);
    h[3] = H("Authorization", alt);
    ST_EXPECT(st_verify(V, "GET", "/", h, 4, T0, &a), ZKP_SIGV4_EHEADER, &a);
    CU_ASSERT_PTR_NOT_NULL(strstr(a.detail, "service 's4' is wrong; expecting 's3'"));
    zkp_sigv4_auth_clear(&a);

    /* scope date other than the request's date */
    manual_sign("GET", "/", h, 3, "host", EMPTY_SHA, "20231114T221320Z", "us-east-1", authz,
                sizeof(authz));
    memcpy(strstr(authz, "/20231114/"), "/20231113/", 10);
    h[3] = H("Authorization", authz);
    ST_EXPECT(st_verify(V, "GET", "/", h, 4, T0, &a), ZKP_SIGV4_EHEADER, &a);
    CU_ASSERT_PTR_NOT_NULL(strstr(a.detail, "date"));
    zkp_sigv4_auth_clear(&a);
}

/* ------------------------------------------------------------- clock */

static void test_clock(void)
{
    /* zkp_sigv4_check_time itself */
    CU_ASSERT_EQUAL(zkp_sigv4_check_time(T0, T0, -1, 900), 0);
    CU_ASSERT_EQUAL(zkp_sigv4_check_time(T0, T0 + 900, -1, 900), 0);
    CU_ASSERT_EQUAL(zkp_sigv4_check_time(T0, T0 + 901, -1, 900), ZKP_SIGV4_ESKEW);
    CU_ASSERT_EQUAL(zkp_sigv4_check_time(T0, T0 - 900, -1, 900), 0);
    CU_ASSERT_EQUAL(zkp_sigv4_check_time(T0, T0 - 901, -1, 900), ZKP_SIGV4_ESKEW);
    CU_ASSERT_EQUAL(zkp_sigv4_check_time(T0, T0 + 3600, 3600, 900), 0);
    CU_ASSERT_EQUAL(zkp_sigv4_check_time(T0, T0 + 3601, 3600, 900), ZKP_SIGV4_EEXPIRED);
    CU_ASSERT_EQUAL(zkp_sigv4_check_time(T0, T0 - 900, 3600, 900), 0);
    CU_ASSERT_EQUAL(zkp_sigv4_check_time(T0, T0 - 901, 3600, 900), ZKP_SIGV4_ENOTYET);
    CU_ASSERT_EQUAL(zkp_sigv4_check_time(0, (time_t)INT64_MAX, -1, 900), ZKP_SIGV4_ESKEW);

    /* through the verifier: just inside and just outside 15 minutes */
    zkp_sigv4_header_t h[] = {H("host", "h")};
    sreq_t q;
    CU_ASSERT_EQUAL_FATAL(sign_into(&q, "GET", "/b/k", NULL, h, 1, EMPTY_SHA, T0), 0);
    const struct {
        time_t now;
        int rc;
    } t[] = {{T0 + 899, 0},
             {T0 + 900, 0},
             {T0 + 901, ZKP_SIGV4_ESKEW},
             {T0 - 900, 0},
             {T0 - 901, ZKP_SIGV4_ESKEW},
             {T0 + 86400 * 365, ZKP_SIGV4_ESKEW}};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        zkp_sigv4_auth_t a;
        ST_EXPECT(verify_q(&q, "GET", t[i].now, &a), t[i].rc, &a);
        if (t[i].rc == ZKP_SIGV4_ESKEW)
            CU_ASSERT_PTR_NOT_NULL(strstr(a.detail, "20231114T221320Z"));
        zkp_sigv4_auth_clear(&a);
    }
    zkp_sigv4_signed_clear(&q.s);

    /* a verifier with its own window */
    zkp_sigv4_config_t c;
    zkp_sigv4_config_init(&c);
    c.region = "us-east-1";
    c.lookup = st_lookup;
    c.lookup_arg = (void *)creds;
    c.max_skew_s = 60;
    zkp_sigv4_verifier_t *v = NULL;
    CU_ASSERT_EQUAL_FATAL(zkp_sigv4_verifier_new(&c, &v), 0);
    CU_ASSERT_EQUAL_FATAL(sign_into(&q, "GET", "/b/k", NULL, h, 1, EMPTY_SHA, T0), 0);
    zkp_sigv4_auth_t a;
    ST_EXPECT(st_verify(v, "GET", q.target, q.h, q.nh, T0 + 60, &a), 0, &a);
    zkp_sigv4_auth_clear(&a);
    ST_EXPECT(st_verify(v, "GET", q.target, q.h, q.nh, T0 + 61, &a), ZKP_SIGV4_ESKEW, &a);
    zkp_sigv4_auth_clear(&a);
    zkp_sigv4_signed_clear(&q.s);
    zkp_sigv4_verifier_free(v);
}

static void test_dates(void)
{
    time_t t;
    CU_ASSERT_EQUAL(zkp_sigv4_parse_amz_date("20130524T000000Z", 16, &t), 0);
    CU_ASSERT_EQUAL(t, DOC_TIME);
    CU_ASSERT_EQUAL(zkp_sigv4_parse_amz_date("19700101T000000Z", 16, &t), 0);
    CU_ASSERT_EQUAL(t, 0);
    CU_ASSERT_EQUAL(zkp_sigv4_parse_amz_date("20240229T235959Z", 16, &t), 0);
    CU_ASSERT_EQUAL(t, 1709251199);
    CU_ASSERT_EQUAL(zkp_sigv4_parse_amz_date("20000229T120000Z", 16, &t), 0);
    CU_ASSERT_EQUAL(zkp_sigv4_parse_amz_date("99991231T235959Z", 16, &t), 0);
    CU_ASSERT_EQUAL(t, (time_t)253402300799LL);
    static const char *const bad[] = {
        "20230229T000000Z",
        "21000229T000000Z",
        "19691231T235959Z",
        "20231314T000000Z",
        "20231100T000000Z",
        "20231131T000000Z",
        "20231114T240000Z",
        "20231114T236000Z",
        "20231114T235960Z",
        "20231114T000000",
        "20231114t000000Z",
        "20231114T000000z",
        "2023-11-14T00:00",
        "2023111 T000000Z",
        "+0231114T000000Z",
        "20231114T00000-Z",
        "Tue, 14 Nov 2023 22:13:20 GMT",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        t = 7;
        CU_ASSERT_EQUAL(zkp_sigv4_parse_amz_date(bad[i], strlen(bad[i]), &t), -1);
        CU_ASSERT_EQUAL(t, 7);
    }
    CU_ASSERT_EQUAL(zkp_sigv4_parse_amz_date("20130524T000000Z0", 16, &t), 0); /* len bytes */
    char out[17];
    time_t samples[] = {0, DOC_TIME, T0, 951782400 /* 2000-02-29 */, 253402300799LL};
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        zkp_sigv4_format_amz_date(samples[i], out);
        CU_ASSERT_EQUAL(zkp_sigv4_parse_amz_date(out, strlen(out), &t), 0);
        CU_ASSERT_EQUAL(t, samples[i]);
    }
    zkp_sigv4_format_amz_date(T0, out);
    CU_ASSERT_STRING_EQUAL(out, "20231114T221320Z");
}

/* --------------------------------------------------------- presigned */

static void presign(const char *query, unsigned expires, zkp_sigv4_signed_t *out, char *target,
                    size_t cap)
{
    zkp_sigv4_header_t h[] = {H("host", "h")};
    zkp_sigv4_creds_t cr = {AK, SECRET, "us-east-1", NULL};
    zkp_sigv4_sign_req_t sr = {"GET", "/b/k%20x", query, h, 1, NULL, T0};
    CU_ASSERT_EQUAL_FATAL(zkp_sigv4_presign(&cr, &sr, expires, out), 0);
    snprintf(target, cap, "/b/k%%20x?%s", out->query);
}

static void test_presigned(void)
{
    zkp_sigv4_header_t h[] = {H("host", "h"), H("x-amz-meta-a", "1")};
    zkp_sigv4_signed_t s;
    zkp_sigv4_auth_t a;
    char target[2048], alt[2100];

    presign("response-content-type=text%2Fplain&x=", 3600, &s, target, sizeof(target));
    ST_EXPECT(st_verify(V, "GET", target, h, 1, T0, &a), 0, &a);
    CU_ASSERT_EQUAL(a.presigned, 1);
    CU_ASSERT_EQUAL(a.expires, 3600);
    zkp_sigv4_auth_clear(&a);
    ST_EXPECT(st_verify(V, "GET", target, h, 1, T0 + 3600, &a), 0, &a);
    zkp_sigv4_auth_clear(&a);
    ST_EXPECT(st_verify(V, "GET", target, h, 1, T0 + 3601, &a), ZKP_SIGV4_EEXPIRED, &a);
    CU_ASSERT_STRING_EQUAL(zkp_sigv4_error(ZKP_SIGV4_EEXPIRED).message, "Request has expired");
    zkp_sigv4_auth_clear(&a);
    ST_EXPECT(st_verify(V, "GET", target, h, 1, T0 - 900, &a), 0, &a);
    zkp_sigv4_auth_clear(&a);
    ST_EXPECT(st_verify(V, "GET", target, h, 1, T0 - 901, &a), ZKP_SIGV4_ENOTYET, &a);
    zkp_sigv4_auth_clear(&a);
    /* an unsigned x-amz-* header next to a presigned URL */
    ST_EXPECT(st_verify(V, "GET", target, h, 2, T0, &a), ZKP_SIGV4_EUNSIGNED, &a);
    zkp_sigv4_auth_clear(&a);
    /* another method, a changed or added parameter */
    ST_EXPECT(st_verify(V, "PUT", target, h, 1, T0, &a), ZKP_SIGV4_ESIGNATURE, &a);
    zkp_sigv4_auth_clear(&a);
    snprintf(alt, sizeof(alt), "%s&y=1", target);
    ST_EXPECT(st_verify(V, "GET", alt, h, 1, T0, &a), ZKP_SIGV4_ESIGNATURE, &a);
    zkp_sigv4_auth_clear(&a);
    snprintf(alt, sizeof(alt), "%s", target);
    memcpy(strstr(alt, "X-Amz-Expires=3600"), "X-Amz-Expires=3601", 18);
    ST_EXPECT(st_verify(V, "GET", alt, h, 1, T0, &a), ZKP_SIGV4_ESIGNATURE, &a);
    zkp_sigv4_auth_clear(&a);
    /* together with an Authorization header: ambiguous */
    zkp_sigv4_header_t h2[] = {H("host", "h"), H("Authorization", "AWS4-HMAC-SHA256 x")};
    ST_EXPECT(st_verify(V, "GET", target, h2, 2, T0, &a), ZKP_SIGV4_EAMBIGUOUS, &a);
    zkp_sigv4_auth_clear(&a);
    zkp_sigv4_signed_clear(&s);

    /* the limits of X-Amz-Expires */
    presign(NULL, 604800, &s, target, sizeof(target));
    ST_EXPECT(st_verify(V, "GET", target, h, 1, T0 + 604800, &a), 0, &a);
    zkp_sigv4_auth_clear(&a);
    static const char *const bad_expires[] = {"0", "604801", "-1",       "abc",
                                              "",  "1e3",    "99999999", "+5"};
    for (size_t i = 0; i < sizeof(bad_expires) / sizeof(bad_expires[0]); i++) {
        snprintf(alt, sizeof(alt), "%s", target);
        char *e = strstr(alt, "X-Amz-Expires=604800");
        char rest[2048];
        snprintf(rest, sizeof(rest), "%s", e + 20);
        snprintf(e, sizeof(alt) - (size_t)(e - alt), "X-Amz-Expires=%s%s", bad_expires[i], rest);
        ST_EXPECT(st_verify(V, "GET", alt, h, 1, T0, &a), ZKP_SIGV4_EQUERY, &a);
        CU_ASSERT_PTR_NOT_NULL(strstr(a.detail, "X-Amz-Expires"));
        zkp_sigv4_auth_clear(&a);
    }
    zkp_sigv4_signed_clear(&s);
    zkp_sigv4_creds_t cr = {AK, SECRET, "us-east-1", NULL};
    zkp_sigv4_sign_req_t sr = {"GET", "/b/k", NULL, h, 1, NULL, T0};
    CU_ASSERT_EQUAL(zkp_sigv4_presign(&cr, &sr, 0, &s), ZKP_SIGV4_EINVAL);
    CU_ASSERT_EQUAL(zkp_sigv4_presign(&cr, &sr, 604801, &s), ZKP_SIGV4_EINVAL);
    sr.query = "X-Amz-Signature=1";
    CU_ASSERT_EQUAL(zkp_sigv4_presign(&cr, &sr, 60, &s), ZKP_SIGV4_EINVAL);

    /* the parameters themselves */
    static const struct {
        const char *q;
        int rc;
        const char *detail;
    } t[] = {
        {"X-Amz-Algorithm=AWS4-HMAC-SHA256", ZKP_SIGV4_EQUERY, "X-Amz-Credential is missing"},
        {"X-Amz-Signature=0", ZKP_SIGV4_EQUERY, "X-Amz-Algorithm is missing"},
        {"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Algorithm=AWS4-HMAC-SHA256", ZKP_SIGV4_EQUERY,
         "X-Amz-Algorithm appears twice"},
        {"X-Amz-Algorithm=AWS4-HMAC-SHA512&X-Amz-Credential=A%2F20231114%2Fus-east-1%2Fs3%2Faws4_"
         "request&X-Amz-Date=20231114T221320Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-"
         "Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
         ZKP_SIGV4_EUNSUPPORTED, "AWS4-HMAC-SHA512"},
        {"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=A%2F20231114%2Fus-east-1%2Fs3%2Faws4_"
         "request&X-Amz-Date=2023-11-14&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-"
         "Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
         ZKP_SIGV4_EQUERY, "X-Amz-Date"},
        {"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=A%2F20231114%2Fus-east-1%2Fs3%2Faws4_"
         "request&X-Amz-Date=20231114T221320Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-"
         "Signature=0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
         ZKP_SIGV4_EQUERY, "Signature"},
        {"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=A%2F20231114%2Fus-east-1%2Fs3%2Faws4_"
         "request&X-Amz-Date=20231114T221320Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host%3Bhost&X-"
         "Amz-Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
         ZKP_SIGV4_EQUERY, "SignedHeaders"},
        {"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=A%2F20231114%2Fus-east-1%2Fs3%2Faws4_"
         "reques&X-Amz-Date=20231114T221320Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-"
         "Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
         ZKP_SIGV4_EQUERY, "aws4_request"},
        {"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=A%2F20231114%2Fus-east-1%2Fs3%2Faws4_"
         "request&X-Amz-Date=20231114T221320Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-"
         "Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef%zz",
         ZKP_SIGV4_EQUERY, "escape"},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        zkp_sigv4_parsed_t p;
        char d[256] = "";
        int rc = zkp_sigv4_parse_presigned(t[i].q, strlen(t[i].q), &p, d, sizeof(d));
        if (rc != t[i].rc || strstr(d, t[i].detail) == NULL)
            fprintf(stderr, "'%s': got %s (%s)\n", t[i].q, zkp_sigv4_err_name(rc), d);
        CU_ASSERT_EQUAL(rc, t[i].rc);
        CU_ASSERT_PTR_NOT_NULL(strstr(d, t[i].detail));
    }

    /* scope semantics in the query form answer EQUERY */
    presign(NULL, 60, &s, target, sizeof(target));
    snprintf(alt, sizeof(alt), "%s", target);
    memcpy(strstr(alt, "us-east-1"), "us-west-2", 9);
    ST_EXPECT(st_verify(V, "GET", alt, h, 1, T0, &a), ZKP_SIGV4_EQUERY, &a);
    zkp_sigv4_auth_clear(&a);
    snprintf(alt, sizeof(alt), "%s", target);
    memcpy(strstr(alt, "X-Amz-Date=20231114"), "X-Amz-Date=20231115", 19);
    ST_EXPECT(st_verify(V, "GET", alt, h, 1, T0, &a), ZKP_SIGV4_EQUERY, &a);
    zkp_sigv4_auth_clear(&a);
    zkp_sigv4_signed_clear(&s);

    /* SigV2's query form */
    const char *v2 = "/b/k?AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1141889120&Signature="
                     "vjbyPxybdZaNmGa%2ByT272YEAiv4%3D";
    ST_EXPECT(st_verify(V, "GET", v2, h, 1, T0, &a), ZKP_SIGV4_EUNSUPPORTED, &a);
    zkp_sigv4_auth_clear(&a);
    CU_ASSERT_EQUAL(zkp_sigv4_query_auth_kind("Signature=x", 11), 0);
    CU_ASSERT_EQUAL(zkp_sigv4_query_auth_kind("X-Amz-Credential=x", 18), 1);
    CU_ASSERT_EQUAL(zkp_sigv4_query_auth_kind("x-amz-credential=x", 18), 0);
}

/* ----------------------------------------------------- form selection */

static void test_form_and_headers(void)
{
    zkp_sigv4_auth_t a;
    zkp_sigv4_header_t h[8] = {H("host", "h")};
    ST_EXPECT(st_verify(V, "GET", "/b/k", h, 1, T0, &a), ZKP_SIGV4_EANONYMOUS, &a);
    CU_ASSERT_STRING_EQUAL(a.access_key, "");
    zkp_sigv4_auth_clear(&a);
    h[1] = H("Authorization", " \t ");
    ST_EXPECT(st_verify(V, "GET", "/b/k", h, 2, T0, &a), ZKP_SIGV4_EANONYMOUS, &a);
    zkp_sigv4_auth_clear(&a);
    h[1] = H("Authorization", "AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=");
    ST_EXPECT(st_verify(V, "GET", "/b/k", h, 2, T0, &a), ZKP_SIGV4_EUNSUPPORTED, &a);
    CU_ASSERT_PTR_NOT_NULL(strstr(a.detail, "Version 2"));
    zkp_sigv4_auth_clear(&a);

    sreq_t q;
    CU_ASSERT_EQUAL_FATAL(sign_into(&q, "GET", "/b/k", NULL, h, 1, EMPTY_SHA, T0), 0);
    ST_EXPECT(verify_q(&q, "GET", T0, &a), 0, &a);
    zkp_sigv4_auth_clear(&a);
    /* two Authorization headers, even identical ones */
    q.h[q.nh] = q.h[q.nh - 1];
    ST_EXPECT(st_verify(V, "GET", q.target, q.h, q.nh + 1, T0, &a), ZKP_SIGV4_EHEADER, &a);
    zkp_sigv4_auth_clear(&a);
    /* x-amz-content-sha256: missing, twice, not a hash */
    zkp_sigv4_header_t saved = q.h[2];
    q.h[2] = H("x-other", "1");
    ST_EXPECT(verify_q(&q, "GET", T0, &a), ZKP_SIGV4_EMISSINGHDR, &a);
    CU_ASSERT_PTR_NOT_NULL(strstr(a.detail, "x-amz-content-sha256"));
    zkp_sigv4_auth_clear(&a);
    q.h[2] = saved;
    q.h[q.nh] = saved;
    ST_EXPECT(st_verify(V, "GET", q.target, q.h, q.nh + 1, T0, &a), ZKP_SIGV4_EHEADER, &a);
    zkp_sigv4_auth_clear(&a);
    static const char *const bad_sha[] = {
        "",
        "unsigned-payload",
        "STREAMING-AWS4-HMAC-SHA256",
        (EMPTY_SHA "0"),
        ("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85g"),
        "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD",
    };
    for (size_t i = 0; i < sizeof(bad_sha) / sizeof(bad_sha[0]); i++) {
        q.h[2] = H("x-amz-content-sha256", bad_sha[i]);
        ST_EXPECT(verify_q(&q, "GET", T0, &a), ZKP_SIGV4_ECONTENTSHA, &a);
        zkp_sigv4_auth_clear(&a);
    }
    q.h[2] = saved;
    /* dates: missing, twice, not ISO 8601 basic */
    saved = q.h[1];
    q.h[1] = H("x-other", "1");
    ST_EXPECT(verify_q(&q, "GET", T0, &a), ZKP_SIGV4_EDATE, &a);
    zkp_sigv4_auth_clear(&a);
    q.h[1] = H("Date", "Tue, 14 Nov 2023 22:13:20 GMT");
    ST_EXPECT(verify_q(&q, "GET", T0, &a), ZKP_SIGV4_EDATE, &a);
    zkp_sigv4_auth_clear(&a);
    q.h[1] = H("x-amz-date", "20231114T221320");
    ST_EXPECT(verify_q(&q, "GET", T0, &a), ZKP_SIGV4_EDATE, &a);
    zkp_sigv4_auth_clear(&a);
    q.h[1] = saved;
    q.h[q.nh] = saved;
    ST_EXPECT(st_verify(V, "GET", q.target, q.h, q.nh + 1, T0, &a), ZKP_SIGV4_EHEADER, &a);
    zkp_sigv4_auth_clear(&a);
    /* x-amz-date wins over Date when both are present */
    q.h[q.nh] = H("Date", "Tue, 14 Nov 2023 22:13:20 GMT");
    ST_EXPECT(st_verify(V, "GET", q.target, q.h, q.nh + 1, T0, &a), 0, &a);
    zkp_sigv4_auth_clear(&a);
    zkp_sigv4_signed_clear(&q.s);

    /* a Date header in ISO 8601 basic form is the request time when
     * x-amz-date is absent */
    char authz[1024];
    zkp_sigv4_header_t d[4] = {H("host", "h"), H("date", "20231114T221320Z"),
                               H("x-amz-content-sha256", "UNSIGNED-PAYLOAD")};
    manual_sign("GET", "/b/k", d, 3, "date;host", "UNSIGNED-PAYLOAD", "20231114T221320Z",
                "us-east-1", authz, sizeof(authz));
    d[3] = H("Authorization", authz);
    ST_EXPECT(st_verify(V, "GET", "/b/k", d, 4, T0, &a), 0, &a);
    CU_ASSERT_EQUAL(a.request_time, T0);
    CU_ASSERT_EQUAL(a.payload, ZKP_SIGV4_PAYLOAD_UNSIGNED);
    zkp_sigv4_auth_clear(&a);

    CU_ASSERT_EQUAL(zkp_sigv4_verify(V, NULL, &a), ZKP_SIGV4_EINVAL);
    zkp_sigv4_auth_clear(&a);
    CU_ASSERT_EQUAL(zkp_sigv4_verify(V, NULL, NULL), ZKP_SIGV4_EINVAL);
}

/* The AWS documentation's signed GET /?lifecycle (SigV4 examples). */
#define DOC_LIFECYCLE_HEADERS                                                                      \
    H("Host", "examplebucket.s3.amazonaws.com"), H("x-amz-date", "20130524T000000Z"),              \
        H("x-amz-content-sha256", EMPTY_SHA),                                                      \
        H("Authorization",                                                                         \
          "AWS4-HMAC-SHA256 Credential=" DOC_AK "/20130524/us-east-1/s3/"                          \
          "aws4_request,SignedHeaders=host;x-amz-content-sha256;x-amz-date,"                       \
          "Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543")

/* -------------------------------------------------------------- keys */

static st_cred_t rotating[] = {{AK, SECRET}, {NULL, NULL}};

static void test_keys(void)
{
    zkp_sigv4_verifier_t *v = st_verifier(rotating, NULL);
    zkp_sigv4_header_t h[] = {H("host", "h")};
    sreq_t q;
    CU_ASSERT_EQUAL_FATAL(sign_into(&q, "GET", "/b/k", NULL, h, 1, EMPTY_SHA, T0), 0);
    zkp_sigv4_auth_t a;
    for (int i = 0; i < 3; i++) { /* the second and third come from the cache */
        ST_EXPECT(st_verify(v, "GET", q.target, q.h, q.nh, T0, &a), 0, &a);
        CU_ASSERT_EQUAL(a.key_known, 1);
        zkp_sigv4_auth_clear(&a);
    }
    /* the secret changes (a credentials reload): the cached key is not
     * used for the new secret */
    rotating[0].secret = "another-secret";
    ST_EXPECT(st_verify(v, "GET", q.target, q.h, q.nh, T0, &a), ZKP_SIGV4_ESIGNATURE, &a);
    zkp_sigv4_auth_clear(&a);
    rotating[0].secret = SECRET;
    ST_EXPECT(st_verify(v, "GET", q.target, q.h, q.nh, T0, &a), 0, &a);
    zkp_sigv4_auth_clear(&a);
    /* an unknown key: no canonical request or string to sign is given out */
    rotating[0].ak = "AKIDOTHER";
    ST_EXPECT(st_verify(v, "GET", q.target, q.h, q.nh, T0, &a), ZKP_SIGV4_EKEY, &a);
    CU_ASSERT_EQUAL(a.key_known, 0);
    CU_ASSERT_PTR_NULL(a.canonical_request);
    CU_ASSERT_PTR_NULL(a.string_to_sign);
    CU_ASSERT_STRING_EQUAL(a.access_key, AK);
    zkp_sigv4_auth_clear(&a);
    rotating[0].ak = AK;
    zkp_sigv4_signed_clear(&q.s);
    zkp_sigv4_verifier_free(v);
    zkp_sigv4_verifier_free(NULL);

    /* a one-slot cache shared by two keys, alternating */
    zkp_sigv4_config_t c;
    zkp_sigv4_config_init(&c);
    c.region = "us-east-1";
    c.lookup = st_lookup;
    c.lookup_arg = (void *)creds;
    c.key_cache_slots = 1;
    CU_ASSERT_EQUAL_FATAL(zkp_sigv4_verifier_new(&c, &v), 0);
    zkp_sigv4_header_t doc[] = {DOC_LIFECYCLE_HEADERS};
    CU_ASSERT_EQUAL_FATAL(sign_into(&q, "GET", "/b/k", NULL, h, 1, EMPTY_SHA, T0), 0);
    for (int i = 0; i < 4; i++) {
        ST_EXPECT(st_verify(v, "GET", "/?lifecycle", doc, 4, DOC_TIME, &a), 0, &a);
        zkp_sigv4_auth_clear(&a);
        ST_EXPECT(st_verify(v, "GET", q.target, q.h, q.nh, T0, &a), 0, &a);
        zkp_sigv4_auth_clear(&a);
    }
    zkp_sigv4_signed_clear(&q.s);
    zkp_sigv4_verifier_free(v);

    /* configuration errors */
    zkp_sigv4_config_init(&c);
    CU_ASSERT_EQUAL(zkp_sigv4_verifier_new(&c, &v), ZKP_SIGV4_EINVAL); /* no region, lookup */
    CU_ASSERT_PTR_NULL(v);
    c.region = "US-EAST-1";
    c.lookup = st_lookup;
    CU_ASSERT_EQUAL(zkp_sigv4_verifier_new(&c, &v), ZKP_SIGV4_EINVAL);
    c.region = "us-east-1";
    c.size = 1;
    CU_ASSERT_EQUAL(zkp_sigv4_verifier_new(&c, &v), ZKP_SIGV4_EINVAL);
}

/* A caller's own cache (zkp_sigv4_verify_cached()): keyed by access key
 * id and date, so a hit calls no lookup; what it verifies is what the
 * verifier alone verifies. */
static int lookups;
static int counting_lookup(void *arg, const char *ak, char *secret, size_t cap)
{
    lookups++;
    return st_lookup(arg, ak, secret, cap);
}

static int verify_with(zkp_sigv4_verifier_t *v, zkp_sigv4_key_cache_t *kc, const sreq_t *q,
                       time_t now, zkp_sigv4_auth_t *a)
{
    zkp_sigv4_request_t r = {"GET", q->target, strlen(q->target), q->h, q->nh, now};
    return zkp_sigv4_verify_cached(v, kc, &r, a);
}

static void test_key_cache(void)
{
    static const st_cred_t two[] = {
        {AK, SECRET}, {"AKIDSECOND", "second-secret-0123"}, {NULL, NULL}};
    zkp_sigv4_config_t c;
    zkp_sigv4_config_init(&c);
    c.region = "us-east-1";
    c.lookup = counting_lookup;
    c.lookup_arg = (void *)two;
    zkp_sigv4_verifier_t *v, *other = st_verifier(two, NULL);
    CU_ASSERT_EQUAL_FATAL(zkp_sigv4_verifier_new(&c, &v), 0);
    zkp_sigv4_key_cache_t *kc, *one;
    CU_ASSERT_EQUAL(zkp_sigv4_key_cache_new(NULL, 0, &kc), ZKP_SIGV4_EINVAL);
    CU_ASSERT_EQUAL_FATAL(zkp_sigv4_key_cache_new(v, 0, &kc), 0);
    CU_ASSERT_EQUAL_FATAL(zkp_sigv4_key_cache_new(v, 1, &one), 0);

    zkp_sigv4_header_t h[] = {H("host", "h")};
    sreq_t q, q2, day2;
    zkp_sigv4_creds_t second = {"AKIDSECOND", "second-secret-0123", "us-east-1", NULL};
    CU_ASSERT_EQUAL_FATAL(sign_into(&q, "GET", "/b/k", NULL, h, 1, EMPTY_SHA, T0), 0);
    CU_ASSERT_EQUAL_FATAL(sign_into_as(&q2, &second, "GET", "/b/k", NULL, h, 1, EMPTY_SHA, T0), 0);
    CU_ASSERT_EQUAL_FATAL(sign_into(&day2, "GET", "/b/k", NULL, h, 1, EMPTY_SHA, T0 + 86400), 0);
    zkp_sigv4_auth_t a, plain;

    /* The first verification looks the secret up, the next ones do not,
     * and each gives what the verifier's own cache gives. */
    lookups = 0;
    for (int i = 0; i < 3; i++) {
        ST_EXPECT(verify_with(v, kc, &q, T0, &a), 0, &a);
        ST_EXPECT(st_verify(other, "GET", q.target, q.h, q.nh, T0, &plain), 0, &plain);
        CU_ASSERT_EQUAL(a.key_known, 1);
        CU_ASSERT_EQUAL(memcmp(a.signing_key, plain.signing_key, 32), 0);
        zkp_sigv4_auth_clear(&a);
        zkp_sigv4_auth_clear(&plain);
    }
    CU_ASSERT_EQUAL(lookups, 1);
    /* Another key, another date: looked up (and derived) once, then not
     * (a slot holds one key: each check right after its first use). */
    const sreq_t *more[] = {&q2, &day2};
    const time_t when[] = {T0, T0 + 86400};
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < 2; i++) {
            ST_EXPECT(verify_with(v, kc, more[k], when[k], &a), 0, &a);
            zkp_sigv4_auth_clear(&a);
            CU_ASSERT_EQUAL(lookups, 2 + k);
        }
    /* A hit still checks the signature, and the clock. */
    ST_EXPECT(verify_with(v, kc, &q, T0, &a), 0, &a);
    zkp_sigv4_auth_clear(&a);
    int before = lookups;
    char *last = &q.authz[strlen(q.authz) - 1], saved = *last;
    *last = saved == '0' ? '1' : '0';
    ST_EXPECT(verify_with(v, kc, &q, T0, &a), ZKP_SIGV4_ESIGNATURE, &a);
    zkp_sigv4_auth_clear(&a);
    *last = saved;
    ST_EXPECT(verify_with(v, kc, &q, T0 + 3600, &a), ZKP_SIGV4_ESKEW, &a);
    zkp_sigv4_auth_clear(&a);
    CU_ASSERT_EQUAL(lookups, before);
    /* One slot, two keys alternating: each replaces the other. */
    before = lookups;
    for (int i = 0; i < 4; i++) {
        ST_EXPECT(verify_with(v, one, i % 2 ? &q2 : &q, T0, &a), 0, &a);
        zkp_sigv4_auth_clear(&a);
    }
    CU_ASSERT_EQUAL(lookups, before + 4);
    /* A cache made for another verifier, or no cache. */
    ST_EXPECT(verify_with(other, kc, &q, T0, &a), ZKP_SIGV4_EINVAL, &a);
    zkp_sigv4_auth_clear(&a);
    ST_EXPECT(verify_with(v, NULL, &q, T0, &a), 0, &a);
    zkp_sigv4_auth_clear(&a);

    zkp_sigv4_signed_clear(&q.s);
    zkp_sigv4_signed_clear(&q2.s);
    zkp_sigv4_signed_clear(&day2.s);
    zkp_sigv4_key_cache_free(kc);
    zkp_sigv4_key_cache_free(one);
    zkp_sigv4_key_cache_free(NULL);
    zkp_sigv4_verifier_free(v);
    zkp_sigv4_verifier_free(other);
}

/* ----------------------------------------------------------- threads */

typedef struct thread_arg {
    const sreq_t *q;
    int failures;
    int n; /* verifications */
} thread_arg_t;

static void *verify_many(void *p)
{
    thread_arg_t *t = p;
    for (int i = 0; i < t->n; i++) {
        zkp_sigv4_auth_t a;
        if (st_verify(V, "PUT", t->q->target, t->q->h, t->q->nh, T0, &a) != 0)
            t->failures++;
        zkp_sigv4_auth_clear(&a);
    }
    return NULL;
}

static void test_threads(void)
{
    enum { N = 4 };
    sreq_t q[N];
    thread_arg_t arg[N];
    pthread_t th[N];
    zkp_sigv4_header_t h[] = {H("host", "h")};
    for (int i = 0; i < N; i++) {
        char path[32];
        snprintf(path, sizeof(path), "/b/key-%d", i);
        /* different days: different cache entries, competing for slots */
        CU_ASSERT_EQUAL_FATAL(sign_into(&q[i], "PUT", path, NULL, h, 1, EMPTY_SHA, T0 + i), 0);
        arg[i] = (thread_arg_t){&q[i], 0, 300};
    }
    for (int i = 0; i < N; i++)
        CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, verify_many, &arg[i]), 0);
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        CU_ASSERT_EQUAL(arg[i].failures, 0);
        zkp_sigv4_signed_clear(&q[i].s);
    }
}

/* The verifier's per-thread digest contexts (sigv4_crypto.c): reused from
 * request to request across keys, verifiers (a credentials reload makes a
 * new one) and failures that abandon an HMAC half-way, and freed with
 * their thread (valgrind's leak check sees them otherwise). */
static void test_thread_contexts(void)
{
    zkp_sigv4_header_t h[] = {H("host", "h")};
    zkp_sigv4_header_t doc[] = {DOC_LIFECYCLE_HEADERS};
    sreq_t q, bad;
    CU_ASSERT_EQUAL_FATAL(sign_into(&q, "PUT", "/b/k", NULL, h, 1, EMPTY_SHA, T0), 0);
    CU_ASSERT_EQUAL_FATAL(sign_into(&bad, "PUT", "/b/k", NULL, h, 1, EMPTY_SHA, T0), 0);
    char *last = &bad.authz[strlen(bad.authz) - 1];
    *last = *last == '0' ? '1' : '0'; /* still hex: a wrong signature */
    zkp_sigv4_auth_t a;
    zkp_sigv4_verifier_t *v = st_verifier(creds, NULL);
    for (int i = 0; i < 3; i++) {
        /* two keys, alternating (the first round derives, the others hit) */
        ST_EXPECT(st_verify(v, "PUT", q.target, q.h, q.nh, T0, &a), 0, &a);
        zkp_sigv4_auth_clear(&a);
        ST_EXPECT(st_verify(v, "GET", "/?lifecycle", doc, 4, DOC_TIME, &a), 0, &a);
        zkp_sigv4_auth_clear(&a);
        /* the key copied, then the clock refuses: the HMAC is abandoned */
        ST_EXPECT(st_verify(v, "PUT", q.target, q.h, q.nh, T0 + 3600, &a), ZKP_SIGV4_ESKEW, &a);
        zkp_sigv4_auth_clear(&a);
        ST_EXPECT(st_verify(v, "PUT", bad.target, bad.h, bad.nh, T0, &a), ZKP_SIGV4_ESIGNATURE, &a);
        zkp_sigv4_auth_clear(&a);
    }
    zkp_sigv4_verifier_free(v);

    /* a reload: a new verifier, the key's secret changed, then changed back */
    static const st_cred_t changed[] = {{AK, "a-different-secret"}, {NULL, NULL}};
    v = st_verifier(changed, NULL);
    ST_EXPECT(st_verify(v, "PUT", q.target, q.h, q.nh, T0, &a), ZKP_SIGV4_ESIGNATURE, &a);
    zkp_sigv4_auth_clear(&a);
    zkp_sigv4_verifier_free(v);
    v = st_verifier(creds, NULL);
    ST_EXPECT(st_verify(v, "PUT", q.target, q.h, q.nh, T0, &a), 0, &a);
    zkp_sigv4_auth_clear(&a);
    zkp_sigv4_verifier_free(v);

    /* threads that verify once and exit, one after the other */
    thread_arg_t arg = {&q, 0, 1};
    for (int i = 0; i < 3; i++) {
        pthread_t th;
        CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, verify_many, &arg), 0);
        pthread_join(th, NULL);
    }
    CU_ASSERT_EQUAL(arg.failures, 0);

    /* the building blocks: the thread's SHA-256 is SHA-256, and a local
     * copy of a key signs as the key (a second copy replaces the first) */
    zkp__crypto_t c;
    CU_ASSERT_EQUAL_FATAL(zkp__crypto_init(&c), 0);
    char want[65], got[65];
    unsigned char d[32], k1[32], k2[32];
    st_sha256_hex("abc", 3, want);
    CU_ASSERT_EQUAL(zkp__sha256(&c, "abc", 3, d), 0);
    zkp__hex(d, 32, got);
    CU_ASSERT_STRING_EQUAL(got, want);
    memset(k1, 1, sizeof(k1));
    memset(k2, 2, sizeof(k2));
    zkp__hmac_key_t s1, s2, l;
    CU_ASSERT_EQUAL_FATAL(zkp__hmac_key_init(&c, k1, &s1), 0);
    CU_ASSERT_EQUAL_FATAL(zkp__hmac_key_init(&c, k2, &s2), 0);
    for (int i = 0; i < 2; i++) {
        const unsigned char *key = i ? k2 : k1;
        CU_ASSERT_EQUAL_FATAL(zkp__hmac_key_copy_local(&l, &s1), 0);
        if (i)
            CU_ASSERT_EQUAL_FATAL(zkp__hmac_key_copy_local(&l, &s2), 0);
        CU_ASSERT_EQUAL(l.local, 1);
        CU_ASSERT_EQUAL(zkp__hmac_key_sign_hex(&l, "msg", 3, got), 0);
        CU_ASSERT_PTR_NULL(l.inner);
        CU_ASSERT_EQUAL(zkp__sign_hex(NULL, key, "msg", 3, want), 0);
        CU_ASSERT_STRING_EQUAL(got, want);
    }
    zkp__hmac_key_free(&s1);
    zkp__hmac_key_free(&s2);
    zkp__crypto_free(&c);
    zkp_sigv4_signed_clear(&q.s);
    zkp_sigv4_signed_clear(&bad.s);
}

/* -------------------------------------------------------- body checks */

static void test_body_hash(void)
{
    unsigned char sha[32];
    const char *hex = "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072";
    CU_ASSERT_EQUAL(zkp_sigv4_payload_parse(hex, 64, sha), ZKP_SIGV4_PAYLOAD_SHA256);
    const char *body = "Welcome to Amazon S3.";
    for (size_t split = 0; split <= strlen(body); split++) {
        zkp_sigv4_body_t b;
        CU_ASSERT_EQUAL_FATAL(zkp_sigv4_body_init(&b, sha), 0);
        CU_ASSERT_EQUAL(zkp_sigv4_body_update(&b, body, split), 0);
        CU_ASSERT_EQUAL(zkp_sigv4_body_update(&b, body + split, strlen(body) - split), 0);
        CU_ASSERT_EQUAL(zkp_sigv4_body_finish(&b), 0);
        zkp_sigv4_body_clear(&b); /* no-op after finish */
    }
    zkp_sigv4_body_t b;
    CU_ASSERT_EQUAL_FATAL(zkp_sigv4_body_init(&b, sha), 0);
    CU_ASSERT_EQUAL(zkp_sigv4_body_update(&b, "Welcome to Amazon S3!", 21), 0);
    CU_ASSERT_EQUAL(zkp_sigv4_body_finish(&b), ZKP_SIGV4_EPAYLOAD);
    CU_ASSERT_EQUAL(zkp_sigv4_body_finish(&b), ZKP_SIGV4_EINVAL);
    CU_ASSERT_EQUAL_FATAL(zkp_sigv4_body_init(&b, sha), 0);
    zkp_sigv4_body_clear(&b); /* abandoned */
    zkp_sigv4_body_clear(&b);
    /* No body byte at all (no hash state is made): the hash of nothing. */
    CU_ASSERT_EQUAL_FATAL(zkp_sigv4_body_init(&b, sha), 0);
    CU_ASSERT_EQUAL(zkp_sigv4_body_update(&b, "", 0), 0);
    CU_ASSERT_EQUAL(zkp_sigv4_body_finish(&b), ZKP_SIGV4_EPAYLOAD);
    CU_ASSERT_EQUAL(zkp_sigv4_body_update(&b, "x", 1), ZKP_SIGV4_EINVAL);
    unsigned char empty[32];
    CU_ASSERT_EQUAL(zkp_sigv4_payload_parse(EMPTY_SHA, 64, empty), ZKP_SIGV4_PAYLOAD_SHA256);
    CU_ASSERT_EQUAL_FATAL(zkp_sigv4_body_init(&b, empty), 0);
    CU_ASSERT_EQUAL(zkp_sigv4_body_finish(&b), 0);
    CU_ASSERT_EQUAL_FATAL(zkp_sigv4_body_init(&b, empty), 0);
    CU_ASSERT_EQUAL(zkp_sigv4_body_update(&b, "x", 1), 0);
    CU_ASSERT_EQUAL(zkp_sigv4_body_finish(&b), ZKP_SIGV4_EPAYLOAD);
    /* uppercase hex is the same hash */
    unsigned char up[32];
    CU_ASSERT_EQUAL(zkp_sigv4_payload_parse("44CE7DD67C959E0D3524FFAC1771DFBBA87D2B6B4B4E99E42034A8"
                                            "B803F8B072",
                                            64, up),
                    ZKP_SIGV4_PAYLOAD_SHA256);
    CU_ASSERT_EQUAL(memcmp(up, sha, 32), 0);
    CU_ASSERT_EQUAL(zkp_sigv4_payload_parse("UNSIGNED-PAYLOAD", 16, NULL),
                    ZKP_SIGV4_PAYLOAD_UNSIGNED);
    CU_ASSERT_EQUAL(zkp_sigv4_payload_parse("STREAMING-UNSIGNED-PAYLOAD-TRAILER", 34, NULL),
                    ZKP_SIGV4_PAYLOAD_UNSIGNED_TRAILER);
    CU_ASSERT_EQUAL(zkp_sigv4_payload_parse("UNSIGNED-PAYLOAD", 15, NULL), ZKP_SIGV4_ECONTENTSHA);
}

static void test_chunks_misuse(void)
{
    zkp_sigv4_auth_t a;
    memset(&a, 0, sizeof(a));
    zkp_sigv4_chunks_t c;
    a.payload = ZKP_SIGV4_PAYLOAD_SHA256;
    CU_ASSERT_EQUAL(zkp_sigv4_chunks_init(&c, &a), ZKP_SIGV4_EINVAL);
    a.payload = ZKP_SIGV4_PAYLOAD_STREAMING; /* but no date, scope or seed */
    CU_ASSERT_EQUAL(zkp_sigv4_chunks_init(&c, &a), ZKP_SIGV4_EINVAL);
    zkp_sigv4_chunks_clear(&c);
    memset(&c, 0, sizeof(c));
    CU_ASSERT_EQUAL(zkp_sigv4_chunk_begin(&c, EMPTY_SHA, 64), ZKP_SIGV4_EINVAL);
    CU_ASSERT_EQUAL(zkp_sigv4_chunk_data(&c, "x", 1), ZKP_SIGV4_EINVAL);
    CU_ASSERT_EQUAL(zkp_sigv4_chunk_end(&c), ZKP_SIGV4_EINVAL);
    CU_ASSERT_EQUAL(zkp_sigv4_chunks_finish(&c), ZKP_SIGV4_EINVAL);
    zkp_sigv4_creds_t cr = {AK, SECRET, "us-east-1", NULL};
    CU_ASSERT_EQUAL(zkp_sigv4_chunk_signer_init(&c, &cr, T0, "not-a-signature"), ZKP_SIGV4_EINVAL);
    zkp_sigv4_chunks_clear(&c);
    CU_ASSERT_EQUAL_FATAL(zkp_sigv4_chunk_signer_init(&c, &cr, T0, EMPTY_SHA), 0);
    char out[65];
    CU_ASSERT_EQUAL(zkp_sigv4_trailer_sign(&c, "", 0, out), ZKP_SIGV4_EINVAL); /* too early */
    zkp_sigv4_chunks_clear(&c);
}

/* A signer and a verifier agree on an upload of arbitrary chunk sizes, with
 * and without trailer. */
static void test_chunks_round_trip(void)
{
    zkp_sigv4_header_t h[] = {H("host", "h"), H("content-encoding", "aws-chunked"),
                              H("x-amz-decoded-content-length", "100000")};
    for (int trailer = 0; trailer <= 1; trailer++) {
        sreq_t q;
        const char *mode = trailer ? "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
                                   : "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
        CU_ASSERT_EQUAL_FATAL(sign_into(&q, "PUT", "/b/k", NULL, h, 3, mode, T0), 0);
        zkp_sigv4_auth_t a;
        ST_EXPECT(verify_q(&q, "PUT", T0 + 5, &a), 0, &a);
        zkp_sigv4_creds_t cr = {AK, SECRET, "us-east-1", NULL};
        zkp_sigv4_chunks_t s, v;
        CU_ASSERT_EQUAL_FATAL(zkp_sigv4_chunk_signer_init(&s, &cr, T0, q.s.signature), 0);
        CU_ASSERT_EQUAL_FATAL(zkp_sigv4_chunks_init(&v, &a), 0);
        static const size_t sizes[] = {8192, 1, 40000, 51807, 0};
        unsigned char data[60000];
        for (size_t i = 0; i < sizeof(data); i++)
            data[i] = (unsigned char)(i * 131 + 7);
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
            char sig[65];
            zkp_sigv4_chunk_data(&s, data, sizes[i]);
            CU_ASSERT_EQUAL(zkp_sigv4_chunk_sign(&s, sig), 0);
            CU_ASSERT_EQUAL(zkp_sigv4_chunk_begin(&v, sig, 64), 0);
            CU_ASSERT_EQUAL(zkp_sigv4_chunk_data(&v, data, sizes[i]), 0);
            CU_ASSERT_EQUAL(zkp_sigv4_chunk_end(&v), 0);
        }
        if (trailer) {
            const char *lines = "x-amz-checksum-sha256:abc=\nx-amz-meta-extra:1\n";
            char sig[65], line[128];
            CU_ASSERT_EQUAL(zkp_sigv4_trailer_sign(&s, lines, strlen(lines), sig), 0);
            CU_ASSERT_EQUAL(zkp_sigv4_chunks_trailer(&v, "x-amz-checksum-sha256:abc=", 26), 0);
            CU_ASSERT_EQUAL(zkp_sigv4_chunks_trailer(&v, "x-amz-meta-extra:1", 18), 0);
            snprintf(line, sizeof(line), "x-amz-trailer-signature:%s", sig);
            CU_ASSERT_EQUAL(zkp_sigv4_chunks_trailer(&v, line, strlen(line)), 0);
            /* nothing may follow the trailer signature */
            CU_ASSERT_EQUAL(zkp_sigv4_chunks_finish(&v), 0);
        }
        CU_ASSERT_EQUAL(zkp_sigv4_chunks_finish(&v), 0);
        zkp_sigv4_chunks_clear(&s);
        zkp_sigv4_chunks_clear(&v);
        zkp_sigv4_auth_clear(&a);
        zkp_sigv4_signed_clear(&q.s);
    }
}

/* ------------------------------------------------------ errors, signer */

static void test_error_table(void)
{
    static const struct {
        int rc;
        const char *code;
        int status;
    } t[] = {
        {ZKP_SIGV4_ESIGNATURE, "SignatureDoesNotMatch", 403},
        {ZKP_SIGV4_EKEY, "InvalidAccessKeyId", 403},
        {ZKP_SIGV4_EANONYMOUS, "AccessDenied", 403},
        {ZKP_SIGV4_EEXPIRED, "AccessDenied", 403},
        {ZKP_SIGV4_ENOTYET, "AccessDenied", 403},
        {ZKP_SIGV4_EUNSIGNED, "AccessDenied", 403},
        {ZKP_SIGV4_EDATE, "AccessDenied", 403},
        {ZKP_SIGV4_EHEADER, "AuthorizationHeaderMalformed", 400},
        {ZKP_SIGV4_EQUERY, "AuthorizationQueryParametersError", 400},
        {ZKP_SIGV4_ESKEW, "RequestTimeTooSkewed", 403},
        {ZKP_SIGV4_EPAYLOAD, "XAmzContentSHA256Mismatch", 400},
        {ZKP_SIGV4_EMISSINGHDR, "MissingSecurityHeader", 400},
        {ZKP_SIGV4_EUNSUPPORTED, "InvalidRequest", 400},
        {ZKP_SIGV4_EAMBIGUOUS, "InvalidArgument", 400},
        {ZKP_SIGV4_ECONTENTSHA, "InvalidArgument", 400},
        {ZKP_SIGV4_EURI, "InvalidURI", 400},
        {ZKP_SIGV4_EINCOMPLETE, "IncompleteBody", 400},
        {ZKP_SIGV4_ENOMEM, "InternalError", 500},
        {0, "OK", 200},
        {-999, "InternalError", 500},
        {7, "InternalError", 500},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        zkp_sigv4_error_info_t e = zkp_sigv4_error(t[i].rc);
        CU_ASSERT_STRING_EQUAL(e.code, t[i].code);
        CU_ASSERT_EQUAL(e.status, t[i].status);
        CU_ASSERT_TRUE(e.message != NULL && strlen(e.message) > 5);
    }
    /* every value of the map has a distinct name */
    for (int rc = -1; rc >= ZKP_SIGV4_ECRYPTO; rc--) {
        CU_ASSERT_STRING_NOT_EQUAL(zkp_sigv4_err_name(rc), "unknown");
        CU_ASSERT_STRING_NOT_EQUAL(zkp_sigv4_error(rc).message, "unknown error");
        for (int other = rc + 1; other <= -1; other++)
            CU_ASSERT_STRING_NOT_EQUAL(zkp_sigv4_err_name(rc), zkp_sigv4_err_name(other));
    }
    CU_ASSERT_STRING_EQUAL(zkp_sigv4_err_name(ZKP_SIGV4_ESKEW), "ZKP_SIGV4_ESKEW");
    CU_ASSERT_STRING_EQUAL(zkp_sigv4_err_name(1), "unknown");
}

static void test_signer_errors(void)
{
    zkp_sigv4_creds_t cr = {AK, SECRET, "us-east-1", NULL};
    zkp_sigv4_header_t h[] = {H("host", "h"), H("x-amz-date", "20231114T221320Z")};
    zkp_sigv4_sign_req_t sr = {"GET", "/", NULL, h, 1, NULL, T0};
    zkp_sigv4_signed_t s;
    CU_ASSERT_EQUAL(zkp_sigv4_sign(&cr, &sr, &s), 0);
    CU_ASSERT_STRING_EQUAL(s.content_sha256, "UNSIGNED-PAYLOAD");
    CU_ASSERT_PTR_NOT_NULL(
        strstr(s.authorization, "SignedHeaders=host;x-amz-content-sha256;x-amz-date, "));
    zkp_sigv4_signed_clear(&s);
    zkp_sigv4_signed_clear(&s);
    zkp_sigv4_signed_clear(NULL);
    sr.n_headers = 2; /* x-amz-date is the signer's */
    CU_ASSERT_EQUAL(zkp_sigv4_sign(&cr, &sr, &s), ZKP_SIGV4_EINVAL);
    CU_ASSERT_PTR_NULL(s.authorization);
    sr.headers = h + 1;
    sr.n_headers = 0; /* no host */
    CU_ASSERT_EQUAL(zkp_sigv4_sign(&cr, &sr, &s), ZKP_SIGV4_EINVAL);
    sr.headers = h;
    sr.n_headers = 1;
    sr.payload_hash = "not-a-hash";
    CU_ASSERT_EQUAL(zkp_sigv4_sign(&cr, &sr, &s), ZKP_SIGV4_EINVAL);
    sr.payload_hash = NULL;
    sr.path = "/a%zz";
    CU_ASSERT_EQUAL(zkp_sigv4_sign(&cr, &sr, &s), ZKP_SIGV4_EURI);
    sr.path = "/";
    zkp_sigv4_header_t bad[] = {H("host", "h"), H("bad;name", "x")};
    sr.headers = bad;
    sr.n_headers = 2;
    CU_ASSERT_EQUAL(zkp_sigv4_sign(&cr, &sr, &s), ZKP_SIGV4_EINVAL);
    sr.headers = h;
    sr.n_headers = 1;
    zkp_sigv4_creds_t badc[] = {
        {"", SECRET, "us-east-1", NULL}, {"AK/ID", SECRET, "us-east-1", NULL},
        {AK, "", "us-east-1", NULL},     {AK, SECRET, "Us-East-1", NULL},
        {AK, SECRET, "us-east-1", "S3"}, {NULL, SECRET, "us-east-1", NULL}};
    for (size_t i = 0; i < sizeof(badc) / sizeof(badc[0]); i++)
        CU_ASSERT_EQUAL(zkp_sigv4_sign(&badc[i], &sr, &s), ZKP_SIGV4_EINVAL);
    CU_ASSERT_EQUAL(zkp_sigv4_sign(&cr, &sr, NULL), ZKP_SIGV4_EINVAL);
    /* Repeated headers are signed once by name, values joined, and the
     * verifier agrees. */
    zkp_sigv4_header_t rep[] = {H("host", "h"), H("X-Amz-Meta-A", "1"), H("x-amz-meta-a", "2")};
    sreq_t q;
    CU_ASSERT_EQUAL_FATAL(sign_into(&q, "GET", "/", NULL, rep, 3, NULL, T0), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(q.authz, "SignedHeaders=host;x-amz-content-sha256;x-amz-date;"
                                           "x-amz-meta-a,"));
    zkp_sigv4_auth_t a;
    ST_EXPECT(verify_q(&q, "GET", T0, &a), 0, &a);
    zkp_sigv4_auth_clear(&a);
    zkp_sigv4_signed_clear(&q.s);
}

int main(void)
{
    V = st_verifier(creds, NULL);
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("sigv4", NULL, NULL);
    CU_add_test(s, "canonical URI", test_canonical_uri);
    CU_add_test(s, "canonical query", test_canonical_query);
    CU_add_test(s, "canonical headers", test_canonical_headers);
    CU_add_test(s, "canonical request errors", test_canonical_errors);
    CU_add_test(s, "round trip: keys and queries", test_round_trip_keys);
    CU_add_test(s, "tampering", test_tampering);
    CU_add_test(s, "a canonical request longer than the stack buffer", test_long_canonical);
    CU_add_test(s, "hex digits and case folding", test_text_helpers);
    CU_add_test(s, "unsigned headers", test_unsigned_headers);
    CU_add_test(s, "Authorization syntax", test_authorization_syntax);
    CU_add_test(s, "credential scope", test_scope);
    CU_add_test(s, "clock skew", test_clock);
    CU_add_test(s, "dates", test_dates);
    CU_add_test(s, "presigned", test_presigned);
    CU_add_test(s, "auth form and required headers", test_form_and_headers);
    CU_add_test(s, "keys: lookup, cache, rotation", test_keys);
    CU_add_test(s, "keys: a caller's own cache", test_key_cache);
    CU_add_test(s, "threads", test_threads);
    CU_add_test(s, "per-thread digest contexts", test_thread_contexts);
    CU_add_test(s, "body hash", test_body_hash);
    CU_add_test(s, "chunks: misuse", test_chunks_misuse);
    CU_add_test(s, "chunks: signer and verifier agree", test_chunks_round_trip);
    CU_add_test(s, "error table", test_error_table);
    CU_add_test(s, "signer errors", test_signer_errors);
    int rc = st_run_suite();
    zkp_sigv4_verifier_free(V);
    return rc;
}
