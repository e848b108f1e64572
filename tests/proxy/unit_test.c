/* Unit tests of the proxy's pure parts: range parsing, XML output and the
 * DeleteObjects parser, request classification, aws-chunked decoding,
 * configuration, listing pages, and the local-files backend (key mapping,
 * leftover staging files, deleting what the index missed, the data
 * directory's lock). */
#include <CUnit/Basic.h>
#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend/fs/backend_fs.h"
#include "backend/fs/listing.h"
#include "harness.h"
#include "http/awschunked.h"
#include "http/range.h"
#include "http/request.h"
#include "http/xml.h"
#include "util/config.h"
#include "util/textutil.h"

/* --- range ---------------------------------------------------------------------- */

static void test_range(void)
{
    uint64_t a = 0, b = 0;
    CU_ASSERT_EQUAL(zkp_range_parse("bytes=0-4", 11, &a, &b), ZKP_RANGE_OK);
    CU_ASSERT(a == 0 && b == 4);
    CU_ASSERT_EQUAL(zkp_range_parse("bytes=3-", 11, &a, &b), ZKP_RANGE_OK);
    CU_ASSERT(a == 3 && b == 10);
    CU_ASSERT_EQUAL(zkp_range_parse("bytes=-4", 11, &a, &b), ZKP_RANGE_OK);
    CU_ASSERT(a == 7 && b == 10);
    CU_ASSERT_EQUAL(zkp_range_parse("bytes=-40", 11, &a, &b), ZKP_RANGE_OK);
    CU_ASSERT(a == 0 && b == 10);
    CU_ASSERT_EQUAL(zkp_range_parse("bytes=5-100", 11, &a, &b), ZKP_RANGE_OK);
    CU_ASSERT(a == 5 && b == 10);
    CU_ASSERT_EQUAL(zkp_range_parse("bytes=11-", 11, &a, &b), ZKP_RANGE_UNSATISFIABLE);
    CU_ASSERT_EQUAL(zkp_range_parse("bytes=0-0", 0, &a, &b), ZKP_RANGE_UNSATISFIABLE);
    CU_ASSERT_EQUAL(zkp_range_parse("bytes=-0", 11, &a, &b), ZKP_RANGE_UNSATISFIABLE);
    /* Ignored (whole object): bad syntax, several ranges, other units. */
    CU_ASSERT_EQUAL(zkp_range_parse(NULL, 11, &a, &b), ZKP_RANGE_NONE);
    CU_ASSERT_EQUAL(zkp_range_parse("bytes=4-2", 11, &a, &b), ZKP_RANGE_NONE);
    CU_ASSERT_EQUAL(zkp_range_parse("bytes=0-1,3-4", 11, &a, &b), ZKP_RANGE_NONE);
    CU_ASSERT_EQUAL(zkp_range_parse("items=0-1", 11, &a, &b), ZKP_RANGE_NONE);
    CU_ASSERT_EQUAL(zkp_range_parse("bytes=-", 11, &a, &b), ZKP_RANGE_NONE);
    CU_ASSERT_EQUAL(zkp_range_parse("bytes=99999999999999999999-", 11, &a, &b), ZKP_RANGE_NONE);
}

/* --- XML ---------------------------------------------------------------------------- */

static void test_xml_error(void)
{
    zkp_xml_extra_t extra[] = {{"Lock", "/l<1>"}, {"HighWaterMark", "7"}};
    size_t len;
    char *x = zkp_xml_error("StaleFencingToken", "a & b", "/b/k\"'", "RID", extra, 2, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(x);
    CU_ASSERT_EQUAL(len, strlen(x));
    CU_ASSERT_STRING_EQUAL(x, ZKP_XML_DECL
                           "<Error><Code>StaleFencingToken</Code>"
                           "<Message>a &amp; b</Message>"
                           "<Resource>/b/k&quot;&apos;</Resource><Lock>/l&lt;1&gt;</Lock>"
                           "<HighWaterMark>7</HighWaterMark><RequestId>RID</RequestId>"
                           "</Error>\n");
    free(x);
    zkp_buf_t b;
    zkp_buf_init(&b);
    zkp_xml_escape(&b, "a\x01z\tq", 5);
    CU_ASSERT_STRING_EQUAL(b.data, "a&#x1;z\tq");
    zkp_buf_free(&b);
}

static void test_xml_delete_parse(void)
{
    const char *doc = "<?xml version=\"1.0\"?><Delete xmlns=\"http://s3.amazonaws.com/doc/"
                      "2006-03-01/\"><Quiet>true</Quiet><Object><Key>a&amp;b</Key></Object>"
                      "<Object><Key>c&#x2F;d&#233;</Key><VersionId>x</VersionId></Object></Delete>";
    zkp_delete_req_t d;
    CU_ASSERT_EQUAL_FATAL(zkp_xml_parse_delete(doc, strlen(doc), 1000, &d), 0);
    CU_ASSERT_EQUAL(d.nkeys, 2);
    CU_ASSERT_TRUE(d.quiet);
    CU_ASSERT_STRING_EQUAL(d.keys[0], "a&b");
    CU_ASSERT_STRING_EQUAL(d.keys[1], "c/d\xc3\xa9");
    zkp_delete_req_free(&d);
    const char *bad[] = {
        "<Delete></Delete>",                                    /* no keys */
        "<Delete><Object><Key>a</Object></Delete>",             /* unclosed */
        "<Delete><Object><Key>&bogus;</Key></Object></Delete>", /* entity */
        "<Delete><Object><Key>&#0;</Key></Object></Delete>",    /* NUL */
        "<Object><Key>a</Key></Object>",                        /* no Delete */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CU_ASSERT_EQUAL(zkp_xml_parse_delete(bad[i], strlen(bad[i]), 1000, &d), -1);
    const char *two = "<Delete><Object><Key>a</Key></Object><Object><Key>b</Key></Object></Delete>";
    CU_ASSERT_EQUAL(zkp_xml_parse_delete(two, strlen(two), 1, &d), -1); /* over max_keys */
}

/* --- request classification ------------------------------------------------------------ */

static int classify(const char *method, const char *target, zkp_op_t *op)
{
    zkp_request_in_t in = {.method = method, .target = target};
    return zkp_request_classify(&in, op);
}

static void test_request_ops(void)
{
    struct {
        const char *m, *t;
        zkp_op_kind_t kind;
    } cases[] = {
        {"GET", "/", ZKP_OP_LIST_BUCKETS},
        {"PUT", "/bkt", ZKP_OP_CREATE_BUCKET},
        {"PUT", "/bkt/", ZKP_OP_CREATE_BUCKET},
        {"HEAD", "/bkt", ZKP_OP_HEAD_BUCKET},
        {"DELETE", "/bkt", ZKP_OP_DELETE_BUCKET},
        {"GET", "/bkt?location", ZKP_OP_GET_BUCKET_LOCATION},
        {"GET", "/bkt", ZKP_OP_LIST_OBJECTS_V1},
        {"GET", "/bkt?list-type=2&prefix=a%2F", ZKP_OP_LIST_OBJECTS_V2},
        {"PUT", "/bkt/k", ZKP_OP_PUT_OBJECT},
        {"PUT", "/bkt/k?x-id=PutObject", ZKP_OP_PUT_OBJECT},
        {"GET", "/bkt/a/b/c", ZKP_OP_GET_OBJECT},
        {"HEAD", "/bkt/k", ZKP_OP_HEAD_OBJECT},
        {"DELETE", "/bkt/k", ZKP_OP_DELETE_OBJECT},
        {"POST", "/bkt?delete", ZKP_OP_DELETE_OBJECTS},
        {"POST", "/bkt/?delete=", ZKP_OP_DELETE_OBJECTS},
        {"GET", "/_zkfence/health", ZKP_OP_ADMIN_HEALTH},
        {"GET", "/_zkfence/metrics", ZKP_OP_ADMIN_METRICS},
        {"GET", "/_zkfence/marks", ZKP_OP_ADMIN_MARKS},
        {"POST", "/_zkfence/debug/marks-fail?on=1", ZKP_OP_ADMIN_FAULT},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        zkp_op_t op;
        int rc = classify(cases[i].m, cases[i].t, &op);
        if (rc != 0 || op.kind != cases[i].kind)
            fprintf(stderr, "case %s %s: rc %d kind %d\n", cases[i].m, cases[i].t, rc, op.kind);
        CU_ASSERT_EQUAL(rc, 0);
        CU_ASSERT_EQUAL(op.kind, cases[i].kind);
        zkp_op_free(&op);
    }
}

static void test_request_params(void)
{
    zkp_op_t op;
    CU_ASSERT_EQUAL_FATAL(classify("GET", "/b-1.x/dir%2Fa%20b+c%25", &op), 0);
    CU_ASSERT_STRING_EQUAL(op.bucket, "b-1.x");
    CU_ASSERT_STRING_EQUAL(op.key, "dir/a b+c%"); /* '+' is literal in paths */
    zkp_op_free(&op);

    CU_ASSERT_EQUAL_FATAL(classify("GET",
                                   "/bkt?list-type=2&prefix=a+b&delimiter=%2F&max-keys=5000&"
                                   "continuation-token=612f&start-after=z&encoding-type=url",
                                   &op),
                          0);
    CU_ASSERT_STRING_EQUAL(op.prefix, "a b");
    CU_ASSERT_STRING_EQUAL(op.delimiter, "/");
    CU_ASSERT_EQUAL(op.max_keys, 1000); /* clamped */
    CU_ASSERT_STRING_EQUAL(op.resume_after, "a/");
    CU_ASSERT_STRING_EQUAL(op.start_after, "z");
    CU_ASSERT_TRUE(op.encoding_url);
    zkp_op_free(&op);

    CU_ASSERT_EQUAL_FATAL(classify("GET", "/bkt?marker=m1&max-keys=2", &op), 0);
    CU_ASSERT_EQUAL(op.kind, ZKP_OP_LIST_OBJECTS_V1);
    CU_ASSERT_STRING_EQUAL(op.resume_after, "m1");
    CU_ASSERT_EQUAL(op.max_keys, 2);
    zkp_op_free(&op);

    zkp_request_in_t in = {
        .method = "PUT", .target = "/dst/new", .copy_source = "/src/some%20key?versionId=null"};
    CU_ASSERT_EQUAL_FATAL(zkp_request_classify(&in, &op), 0);
    CU_ASSERT_EQUAL(op.kind, ZKP_OP_COPY_OBJECT);
    CU_ASSERT_STRING_EQUAL(op.src_bucket, "src");
    CU_ASSERT_STRING_EQUAL(op.src_key, "some key");
    CU_ASSERT_TRUE(op.mutating);
    zkp_op_free(&op);
}

static void expect_error(const char *m, const char *t, int status, const char *code)
{
    zkp_op_t op;
    int rc = classify(m, t, &op);
    CU_ASSERT_EQUAL(rc, -1);
    CU_ASSERT_EQUAL(op.status, status);
    if (op.err_code == NULL || strcmp(op.err_code, code) != 0) {
        fprintf(stderr, "%s %s: got %d %s\n", m, t, op.status, op.err_code ? op.err_code : "-");
        CU_FAIL("wrong error code");
    }
    zkp_op_free(&op);
}

static void test_request_errors(void)
{
    expect_error("GET", "/AB", 400, "InvalidBucketName");
    expect_error("GET", "/ab", 400, "InvalidBucketName");
    expect_error("GET", "/-abc", 400, "InvalidBucketName");
    expect_error("GET", "/a..b/k", 400, "InvalidBucketName");
    expect_error("GET", "/bkt/a%00b", 400, "InvalidArgument");
    expect_error("GET", "/bkt/%ff%fe", 400, "InvalidArgument");
    expect_error("GET", "/bkt/a%zz", 400, "InvalidURI");
    expect_error("GET", "bkt/a", 400, "InvalidURI");
    expect_error("PATCH", "/bkt/a", 405, "MethodNotAllowed");
    expect_error("PUT", "/", 405, "MethodNotAllowed");
    expect_error("PUT", "/bkt/k?acl", 501, "NotImplemented");
    expect_error("PUT", "/bkt/k?tagging", 501, "NotImplemented");
    expect_error("GET", "/bkt?list-type=3", 400, "InvalidArgument");
    expect_error("GET", "/bkt?max-keys=-1", 400, "InvalidArgument");
    expect_error("GET", "/bkt?list-type=2&continuation-token=zz", 400, "InvalidArgument");
    expect_error("GET", "/_zkfence/nope", 404, "NoSuchAdminEndpoint");
    expect_error("POST", "/_zkfence/debug/marks-fail?on=2", 400, "InvalidArgument");
    char big[1200] = "/bkt/";
    memset(big + 5, 'k', 1025);
    big[1030] = '\0';
    expect_error("GET", big, 400, "KeyTooLongError");
}

static void test_request_fencing(void)
{
    zkp_op_t op;
    zkp_request_in_t in = {.method = "PUT",
                           .target = "/b1b/k",
                           .fencing_lock = "/locks/a",
                           .fencing_token = "18446744073709551615"};
    CU_ASSERT_EQUAL_FATAL(zkp_request_classify(&in, &op), 0);
    CU_ASSERT_EQUAL(op.fence, ZKP_FENCE_PRESENT);
    CU_ASSERT_EQUAL(op.token, UINT64_MAX);
    CU_ASSERT_STRING_EQUAL(op.lock, "/locks/a");
    zkp_op_free(&op);

    zkp_request_in_t meta = {.method = "DELETE",
                             .target = "/b1b/k",
                             .meta_fencing_lock = "L",
                             .meta_fencing_token = "0"};
    CU_ASSERT_EQUAL_FATAL(zkp_request_classify(&meta, &op), 0);
    CU_ASSERT_EQUAL(op.fence, ZKP_FENCE_PRESENT);
    CU_ASSERT_EQUAL(op.token, 0);
    zkp_op_free(&op);

    const char *bad_tokens[] = {"", "-1", "01", "1.0", " 1", "18446744073709551616", "0x10"};
    for (size_t i = 0; i < sizeof(bad_tokens) / sizeof(char *); i++) {
        in.fencing_token = bad_tokens[i];
        CU_ASSERT_EQUAL(zkp_request_classify(&in, &op), -1);
        CU_ASSERT_EQUAL(op.status, 400);
        CU_ASSERT_STRING_EQUAL(op.err_code, "InvalidFencingToken");
        zkp_op_free(&op);
    }
    in.fencing_token = "5";
    in.fencing_lock = "has space";
    CU_ASSERT_EQUAL(zkp_request_classify(&in, &op), -1);
    CU_ASSERT_STRING_EQUAL(op.err_code, "InvalidFencingLock");
    zkp_op_free(&op);

    in.fencing_lock = NULL;
    CU_ASSERT_EQUAL(zkp_request_classify(&in, &op), 0);
    CU_ASSERT_EQUAL(op.fence, ZKP_FENCE_PARTIAL);
    zkp_op_free(&op);

    /* Both spellings must agree. */
    in.fencing_lock = "/a";
    in.meta_fencing_token = "6";
    CU_ASSERT_EQUAL(zkp_request_classify(&in, &op), -1);
    CU_ASSERT_STRING_EQUAL(op.err_code, "InvalidFencingToken");
    zkp_op_free(&op);

    /* Object reads and listings parse them too (a fenced read), with the
     * same rules; half of them is PARTIAL (the gate answers 400). */
    zkp_request_in_t get = {.method = "GET", .target = "/b1b/k", .fencing_token = "junk"};
    CU_ASSERT_EQUAL(zkp_request_classify(&get, &op), -1);
    CU_ASSERT_EQUAL(op.status, 400);
    CU_ASSERT_STRING_EQUAL(op.err_code, "InvalidFencingToken");
    zkp_op_free(&op);
    get.fencing_token = "7";
    get.fencing_lock = "/locks/r";
    const char *reads[][2] = {
        {"GET", "/b1b/k"}, {"HEAD", "/b1b/k"}, {"GET", "/b1b"}, {"GET", "/b1b?list-type=2"}};
    for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++) {
        get.method = reads[i][0];
        get.target = reads[i][1];
        CU_ASSERT_EQUAL_FATAL(zkp_request_classify(&get, &op), 0);
        CU_ASSERT_TRUE(op.reading);
        CU_ASSERT_FALSE(op.mutating);
        CU_ASSERT_EQUAL(op.fence, ZKP_FENCE_PRESENT);
        CU_ASSERT_EQUAL(op.token, 7);
        zkp_op_free(&op);
    }
    get.fencing_token = NULL;
    CU_ASSERT_EQUAL_FATAL(zkp_request_classify(&get, &op), 0);
    CU_ASSERT_EQUAL(op.fence, ZKP_FENCE_PARTIAL);
    zkp_op_free(&op);
    /* Fence-advance: POST only, headers parsed. */
    zkp_request_in_t adv = {.method = "POST",
                            .target = "/_zkfence/fence-advance",
                            .fencing_lock = "/locks/r",
                            .fencing_token = "9"};
    CU_ASSERT_EQUAL_FATAL(zkp_request_classify(&adv, &op), 0);
    CU_ASSERT_EQUAL(op.kind, ZKP_OP_ADMIN_FENCE_ADVANCE);
    CU_ASSERT_STRING_EQUAL(zkp_op_name(op.kind), "FenceAdvance");
    CU_ASSERT_EQUAL(op.fence, ZKP_FENCE_PRESENT);
    CU_ASSERT_EQUAL(op.token, 9);
    zkp_op_free(&op);
    adv.method = "GET";
    CU_ASSERT_EQUAL(zkp_request_classify(&adv, &op), -1);
    CU_ASSERT_EQUAL(op.status, 404);
    zkp_op_free(&op);
    /* Other requests ignore them entirely. */
    zkp_request_in_t mb = {.method = "PUT", .target = "/b1b", .fencing_token = "junk"};
    CU_ASSERT_EQUAL(zkp_request_classify(&mb, &op), 0);
    CU_ASSERT_FALSE(op.mutating || op.reading);
    CU_ASSERT_EQUAL(op.fence, ZKP_FENCE_ABSENT);
    zkp_op_free(&op);
}

/* --- aws-chunked ------------------------------------------------------------------------ */

static int collect(void *arg, const char *d, size_t n)
{
    zkp_buf_append(arg, d, n);
    return 0;
}

static void test_aws_chunked(void)
{
    const char *enc = "5;chunk-signature=abcdef\r\nhello\r\n"
                      "6;chunk-signature=0123\r\n world\r\n"
                      "0;chunk-signature=ffff\r\n"
                      "x-amz-checksum-crc32:AAAA\r\n\r\n";
    size_t len = strlen(enc);
    /* Every split point must give the same payload. */
    for (size_t cut = 0; cut <= len; cut++) {
        zkp_chunked_t c;
        zkp_chunked_init(&c);
        zkp_buf_t out;
        zkp_buf_init(&out);
        CU_ASSERT_EQUAL(zkp_chunked_feed(&c, enc, cut, collect, &out), 0);
        CU_ASSERT_EQUAL(zkp_chunked_feed(&c, enc + cut, len - cut, collect, &out), 0);
        CU_ASSERT_EQUAL(zkp_chunked_finish(&c), 0);
        CU_ASSERT_EQUAL(out.len, 11);
        CU_ASSERT(out.data != NULL && memcmp(out.data, "hello world", 11) == 0);
        zkp_buf_free(&out);
    }
    const char *bad[] = {"5\r\nhel",               /* truncated */
                         "5\r\nhelloXX0\r\n\r\n",  /* no CRLF after data */
                         "zz\r\n",                 /* not hex */
                         "5\nhello\r\n0\r\n\r\n",  /* bare LF */
                         "11111111111111111\r\n"}; /* > 16 hex digits */
    for (size_t i = 0; i < sizeof(bad) / sizeof(char *); i++) {
        zkp_chunked_t c;
        zkp_chunked_init(&c);
        zkp_buf_t out;
        zkp_buf_init(&out);
        int rc = zkp_chunked_feed(&c, bad[i], strlen(bad[i]), collect, &out);
        CU_ASSERT(rc != 0 || zkp_chunked_finish(&c) != 0);
        zkp_buf_free(&out);
    }
}

/* --- config ---------------------------------------------------------------------------------- */

static void test_config(void)
{
    zkp_config_t c;
    char err[256];
    zkp_config_defaults(&c);
    const char *text = "# comment\n\nlisten = 127.0.0.2:9100  # trailing\n"
                       "data_dir = /tmp/x#y\nmax_body_bytes = 2G\nobject_fsync = off\n"
                       "bucket.open-1.fencing = optional\nfencing = required\n";
    CU_ASSERT_EQUAL_FATAL(zkp_config_parse(&c, "t.conf", text, err, sizeof(err)), 0);
    CU_ASSERT_STRING_EQUAL(c.listen_host, "127.0.0.2");
    CU_ASSERT_EQUAL(c.listen_port, 9100);
    CU_ASSERT_STRING_EQUAL(c.data_dir, "/tmp/x#y");
    CU_ASSERT_EQUAL(c.max_body_bytes, 2ULL << 30);
    CU_ASSERT_EQUAL(c.object_fsync, 0);
    CU_ASSERT_EQUAL(zkp_config_fencing_required(&c, "open-1"), 0);
    CU_ASSERT_EQUAL(zkp_config_fencing_required(&c, "other"), 1);
    CU_ASSERT_EQUAL(zkp_config_parse(&c, "t.conf", "threads = 4\nbogus = 1\n", err, sizeof(err)),
                    -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "t.conf:2:"));
    CU_ASSERT_EQUAL(zkp_config_parse(&c, "t.conf", "listen 1\n", err, sizeof(err)), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "t.conf:1:"));
    CU_ASSERT_EQUAL(zkp_config_parse(&c, "t.conf", "max_key_bytes = 5000\n", err, sizeof(err)), -1);
    CU_ASSERT_EQUAL(
        zkp_config_parse(&c, "t.conf", "bucket.X.fencing = optional\n", err, sizeof(err)), -1);
    zkp_config_free(&c);
}

/* --- listing -----------------------------------------------------------------------------------
 */

static zkp_index_entry_t *entry(const char *k)
{
    size_t n = strlen(k);
    zkp_index_entry_t *e = calloc(1, sizeof(*e) + n + 1);
    memcpy(e->key, k, n + 1);
    e->klen = n;
    e->size = n;
    return e;
}

static char *page_str(const zkp_kx_t *x, const char *prefix, const char *delim, const char *after,
                      int max, char **next)
{
    zkp_list_req_t req = {prefix, delim, after, max};
    zkp_list_result_t res;
    zkp_buf_t b;
    zkp_buf_init(&b);
    if (zkp_list_page(x, &req, &res) != 0)
        return NULL;
    for (size_t i = 0; i < res.n; i++)
        zkp_buf_printf(&b, "%s%s%s", i ? " " : "", res.items[i].is_prefix ? "P:" : "",
                       res.items[i].name);
    *next = res.truncated ? strdup(res.next) : NULL;
    zkp_list_result_free(&res);
    return zkp_buf_steal(&b, NULL);
}

static void index_of(zkp_kx_t *x, const char *const *keys, size_t n)
{
    zkp_kx_init(x);
    for (size_t i = 0; i < n; i++)
        CU_ASSERT_EQUAL(zkp_kx_upsert(x, entry(keys[i])), 0);
}

static void test_listing(void)
{
    /* Sorted in binary order: '-' (0x2d) < '/' (0x2f) < 'a'. */
    const char *keys[] = {"a", "a-c", "a/b", "a/c/d", "a/c/e", "b", "b/x", "\xc3\xa9"};
    zkp_kx_t x;
    index_of(&x, keys, sizeof(keys) / sizeof(keys[0]));
    char *next = NULL;
    char *s = page_str(&x, NULL, NULL, NULL, 1000, &next);
    CU_ASSERT_STRING_EQUAL(s, "a a-c a/b a/c/d a/c/e b b/x \xc3\xa9");
    CU_ASSERT_PTR_NULL(next);
    free(s);
    s = page_str(&x, NULL, "/", NULL, 1000, &next);
    CU_ASSERT_STRING_EQUAL(s, "a a-c P:a/ b P:b/ \xc3\xa9");
    free(s);
    s = page_str(&x, "a/", "/", NULL, 1000, &next);
    CU_ASSERT_STRING_EQUAL(s, "a/b P:a/c/");
    free(s);
    /* Pagination with a delimiter: resuming after a common prefix must
     * not return it again. */
    s = page_str(&x, NULL, "/", NULL, 3, &next);
    CU_ASSERT_STRING_EQUAL(s, "a a-c P:a/");
    CU_ASSERT_STRING_EQUAL(next, "a/");
    free(s);
    char *next2 = NULL;
    s = page_str(&x, NULL, "/", next, 3, &next2);
    CU_ASSERT_STRING_EQUAL(s, "b P:b/ \xc3\xa9");
    CU_ASSERT_PTR_NULL(next2);
    free(s);
    free(next);
    s = page_str(&x, NULL, NULL, "a/c/d", 2, &next);
    CU_ASSERT_STRING_EQUAL(s, "a/c/e b");
    CU_ASSERT_STRING_EQUAL(next, "b");
    free(s);
    free(next);
    s = page_str(&x, NULL, NULL, NULL, 0, &next);
    CU_ASSERT_STRING_EQUAL(s, "");
    CU_ASSERT_PTR_NULL(next);
    free(s);
    /* An `after` below the prefix starts at the prefix. */
    s = page_str(&x, "b", NULL, "a/c", 1000, &next);
    CU_ASSERT_STRING_EQUAL(s, "b b/x");
    free(s);
    zkp_kx_clear(&x);

    /* Common prefixes that end in 0xff bytes, or are nothing but: the key
     * after them is found by the prefix's successor. */
    const char *ff[] = {"x\xff"
                        "1",
                        "x\xff"
                        "2",
                        "y",
                        "\xff\xff"
                        "a",
                        "\xff\xff"
                        "b"};
    index_of(&x, ff, sizeof(ff) / sizeof(ff[0]));
    s = page_str(&x, NULL, "\xff", NULL, 1000, &next);
    CU_ASSERT_STRING_EQUAL(s, "P:x\xff y P:\xff");
    free(s);
    s = page_str(&x, NULL, "\xff", "x\xff", 1000, &next);
    CU_ASSERT_STRING_EQUAL(s, "y P:\xff");
    free(s);
    zkp_kx_clear(&x);

    /* A common prefix over thousands of keys (many leaves) is one item,
     * and the page goes on after it. */
    zkp_kx_init(&x);
    char k[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(k, sizeof(k), "d/%05d", (i * 7919) % 5000);
        CU_ASSERT_EQUAL(zkp_kx_upsert(&x, entry(k)), 0);
    }
    CU_ASSERT_EQUAL(zkp_kx_upsert(&x, entry("c")), 0);
    CU_ASSERT_EQUAL(zkp_kx_upsert(&x, entry("e")), 0);
    CU_ASSERT_EQUAL(x.count, 5002);
    s = page_str(&x, NULL, "/", NULL, 1000, &next);
    CU_ASSERT_STRING_EQUAL(s, "c P:d/ e");
    free(s);
    s = page_str(&x, "d/", NULL, "d/04997", 1000, &next);
    CU_ASSERT_STRING_EQUAL(s, "d/04998 d/04999");
    free(s);
    zkp_kx_clear(&x);
}

/* --- key mapping (local-files backend) ------------------------------------------------------- */

static int put(zkp_backend_t *be, const char *bucket, const char *key, const char *body)
{
    zkp_obj_meta_t m;
    memset(&m, 0, sizeof(m));
    zkp_put_t *p;
    int rc = be->ops->put_begin(be, bucket, key, &m, &p);
    if (rc != 0)
        return rc;
    if (be->ops->put_write(p, body, strlen(body)) != 0) {
        be->ops->put_abort(p);
        return -1;
    }
    return be->ops->put_commit(p, "0123456789abcdef0123456789abcdef", NULL, NULL);
}

static int get(zkp_backend_t *be, const char *bucket, const char *key, char *out, size_t cap)
{
    zkp_obj_meta_t m;
    zkp_reader_t *r;
    int rc = be->ops->open(be, bucket, key, &m, &r);
    if (rc != 0)
        return rc;
    ssize_t n = be->ops->read(r, 0, out, cap - 1);
    out[n > 0 ? n : 0] = '\0';
    be->ops->close(r);
    zkp_obj_meta_free(&m);
    return 0;
}

/* Every entry under objects/ must be a bucket dir holding only hex names:
 * no key text ever becomes a path. */
static int only_hashed_names(const char *objdir)
{
    DIR *d = opendir(objdir);
    struct dirent *de;
    int ok = d != NULL;
    while (ok && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char sub[1024];
        snprintf(sub, sizeof(sub), "%s/%s", objdir, de->d_name);
        DIR *s = opendir(sub);
        struct dirent *f;
        while (s != NULL && (f = readdir(s)) != NULL)
            if (f->d_name[0] != '.' && strspn(f->d_name, "0123456789abcdef") != 64)
                ok = 0;
        if (s != NULL)
            closedir(s);
    }
    if (d != NULL)
        closedir(d);
    return ok;
}

static int rm_cb(const char *p, const struct stat *st, int f, struct FTW *w)
{
    (void)st;
    (void)f;
    (void)w;
    return remove(p);
}

static void test_key_mapping(void)
{
    char dir[] = "/tmp/zkp-keymap.XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    char data[300], err[256];
    snprintf(data, sizeof(data), "%s/data", dir);
    zkp_backend_t *be = zkp_backend_fs_open(data, 1, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(be);
    CU_ASSERT_EQUAL(be->ops->bucket_create(be, "bkt"), 0);
    CU_ASSERT_EQUAL(be->ops->bucket_create(be, "bkt"), ZKP_BE_EXISTS);
    char longc[1025];
    memset(longc, 'x', 1024); /* one 1024-byte component */
    longc[1024] = '\0';
    const char *keys[] = {"a",    "a/b",    "a/b/c", "..", "../../etc/passwd",
                          "/abs", "./.",    "a//b",  "a/", "\xe2\x82\xac/\xf0\x9f\x94\x92",
                          longc,  "%2e%2e", " "};
    size_t n = sizeof(keys) / sizeof(keys[0]);
    for (size_t i = 0; i < n; i++) {
        char body[32];
        snprintf(body, sizeof(body), "body-%zu", i);
        CU_ASSERT_EQUAL(put(be, "bkt", keys[i], body), 0);
    }
    for (size_t i = 0; i < n; i++) {
        char body[32], got[64];
        snprintf(body, sizeof(body), "body-%zu", i);
        CU_ASSERT_EQUAL(get(be, "bkt", keys[i], got, sizeof(got)), 0);
        CU_ASSERT_STRING_EQUAL(got, body);
    }
    char objdir[400];
    snprintf(objdir, sizeof(objdir), "%s/objects", data);
    CU_ASSERT_TRUE(only_hashed_names(objdir));
    /* Nothing escaped: the data dir's parent holds only data/. */
    DIR *d = opendir(dir);
    struct dirent *de;
    int extra = 0;
    while ((de = readdir(d)) != NULL)
        extra += strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strcmp(de->d_name, "data");
    closedir(d);
    CU_ASSERT_EQUAL(extra, 0);
    CU_ASSERT_EQUAL(be->ops->bucket_delete(be, "bkt"), ZKP_BE_NOT_EMPTY);
    /* Listing is in binary order and survives a restart (index rebuilt). */
    be->ops->destroy(be);
    be = zkp_backend_fs_open(data, 1, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(be);
    zkp_list_req_t req = {NULL, NULL, NULL, 1000};
    zkp_list_result_t res;
    CU_ASSERT_EQUAL_FATAL(be->ops->list(be, "bkt", &req, &res), 0);
    CU_ASSERT_EQUAL(res.n, n);
    for (size_t i = 1; i < res.n; i++)
        CU_ASSERT(strcmp(res.items[i - 1].name, res.items[i].name) < 0);
    zkp_list_result_free(&res);
    for (size_t i = 0; i < n; i++)
        CU_ASSERT_EQUAL(be->ops->remove(be, "bkt", keys[i]), 0);
    CU_ASSERT_EQUAL(be->ops->remove(be, "bkt", "a"), ZKP_BE_NO_KEY);
    CU_ASSERT_EQUAL(be->ops->bucket_delete(be, "bkt"), 0);
    CU_ASSERT_FALSE(be->ops->bucket_exists(be, "bkt"));
    be->ops->destroy(be);
    nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* A staging file left by a crash is removed at start-up, never listed. */
static void test_leftover_staging(void)
{
    char dir[] = "/tmp/zkp-staging.XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    char data[300], err[256], tmpf[400];
    snprintf(data, sizeof(data), "%s/data", dir);
    zkp_backend_t *be = zkp_backend_fs_open(data, 1, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(be);
    CU_ASSERT_EQUAL(be->ops->bucket_create(be, "bkt"), 0);
    zkp_obj_meta_t m;
    memset(&m, 0, sizeof(m));
    zkp_put_t *p;
    CU_ASSERT_EQUAL_FATAL(be->ops->put_begin(be, "bkt", "half", &m, &p), 0);
    CU_ASSERT_EQUAL(be->ops->put_write(p, "partial", 7), 0);
    /* Simulate a crash: the staged file stays, the handle is dropped. */
    snprintf(tmpf, sizeof(tmpf), "%s/tmp/put.crash", data);
    FILE *f = fopen(tmpf, "w");
    fputs("garbage", f);
    fclose(f);
    be->ops->put_abort(p);
    be->ops->destroy(be);
    be = zkp_backend_fs_open(data, 1, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(be);
    CU_ASSERT_EQUAL(access(tmpf, F_OK), -1);
    CU_ASSERT_EQUAL(be->ops->open(be, "bkt", "half", &m, NULL), ZKP_BE_NO_KEY);
    be->ops->destroy(be);
    nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* The one regular file in dir other than ".bucket", into out. */
static int only_object_file(const char *dir, char *out, size_t cap)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;
    while (d != NULL && (de = readdir(d)) != NULL)
        if (de->d_name[0] != '.' && n++ == 0)
            snprintf(out, cap, "%s/%s", dir, de->d_name);
    if (d != NULL)
        closedir(d);
    return n == 1 ? 0 : -1;
}

static int copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    char buf[4096];
    size_t n;
    int rc = in && out ? 0 : -1;
    while (rc == 0 && (n = fread(buf, 1, sizeof(buf), in)) > 0)
        rc = fwrite(buf, 1, n, out) == n ? 0 : -1;
    if (in)
        fclose(in);
    if (out && fclose(out) != 0)
        rc = -1;
    return rc;
}

/* An object the index failed to record (publish() reports the failure but
 * the file is in place) is readable, so DELETE must remove it: the file,
 * not the index, says whether the key exists. */
static void test_remove_unindexed(void)
{
    char dir[] = "/tmp/zkp-unindexed.XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    char data[300], other[300], err[256], src[700], dst[700], bdir[400];
    snprintf(data, sizeof(data), "%s/data", dir);
    snprintf(other, sizeof(other), "%s/other", dir);
    /* The object file, made by a backend on another directory... */
    zkp_backend_t *be = zkp_backend_fs_open(other, 1, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(be);
    CU_ASSERT_EQUAL(be->ops->bucket_create(be, "bkt"), 0);
    CU_ASSERT_EQUAL(put(be, "bkt", "ghost", "boo"), 0);
    be->ops->destroy(be);
    snprintf(bdir, sizeof(bdir), "%s/objects/bkt", other);
    CU_ASSERT_EQUAL_FATAL(only_object_file(bdir, src, sizeof(src)), 0);
    /* ...appears behind the back of a running one: on disk, not indexed. */
    be = zkp_backend_fs_open(data, 1, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(be);
    CU_ASSERT_EQUAL(be->ops->bucket_create(be, "bkt"), 0);
    snprintf(dst, sizeof(dst), "%s/objects/bkt/%s", data, strrchr(src, '/') + 1);
    CU_ASSERT_EQUAL_FATAL(copy_file(src, dst), 0);
    char got[64];
    CU_ASSERT_EQUAL(get(be, "bkt", "ghost", got, sizeof(got)), 0);
    CU_ASSERT_STRING_EQUAL(got, "boo");
    zkp_list_req_t req = {NULL, NULL, NULL, 1000};
    zkp_list_result_t res;
    CU_ASSERT_EQUAL_FATAL(be->ops->list(be, "bkt", &req, &res), 0);
    CU_ASSERT_EQUAL(res.n, 0);
    zkp_list_result_free(&res);
    CU_ASSERT_EQUAL(be->ops->remove(be, "bkt", "ghost"), 0);
    CU_ASSERT_EQUAL(get(be, "bkt", "ghost", got, sizeof(got)), ZKP_BE_NO_KEY);
    CU_ASSERT_EQUAL(access(dst, F_OK), -1);
    CU_ASSERT_EQUAL(be->ops->remove(be, "bkt", "ghost"), ZKP_BE_NO_KEY);
    /* An indexed object goes from the listing as well. */
    CU_ASSERT_EQUAL(put(be, "bkt", "real", "r"), 0);
    CU_ASSERT_EQUAL(be->ops->remove(be, "bkt", "real"), 0);
    CU_ASSERT_EQUAL_FATAL(be->ops->list(be, "bkt", &req, &res), 0);
    CU_ASSERT_EQUAL(res.n, 0);
    zkp_list_result_free(&res);
    CU_ASSERT_EQUAL(be->ops->bucket_delete(be, "bkt"), 0);
    be->ops->destroy(be);
    nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* One backend per data directory: a second open fails with a message
 * naming the holder, and leaves the holder's staged upload alone. */
static void test_data_dir_lock(void)
{
    char dir[] = "/tmp/zkp-dirlock.XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    char data[300], err[512] = "", tmpdir[400], staged[700], pid[32];
    snprintf(data, sizeof(data), "%s/data", dir);
    snprintf(tmpdir, sizeof(tmpdir), "%s/tmp", data);
    zkp_backend_t *be = zkp_backend_fs_open(data, 1, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(be);
    CU_ASSERT_EQUAL(be->ops->bucket_create(be, "bkt"), 0);
    zkp_obj_meta_t m;
    memset(&m, 0, sizeof(m));
    zkp_put_t *p;
    CU_ASSERT_EQUAL_FATAL(be->ops->put_begin(be, "bkt", "k", &m, &p), 0);
    CU_ASSERT_EQUAL(be->ops->put_write(p, "in flight", 9), 0);
    CU_ASSERT_EQUAL_FATAL(only_object_file(tmpdir, staged, sizeof(staged)), 0);

    zkp_backend_t *second = zkp_backend_fs_open(data, 1, err, sizeof(err));
    CU_ASSERT_PTR_NULL(second);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "is in use by another zkfence-proxy"));
    snprintf(pid, sizeof(pid), "pid %ld)", (long)getpid());
    CU_ASSERT_PTR_NOT_NULL(strstr(err, pid));
    CU_ASSERT_EQUAL(access(staged, F_OK), 0); /* tmp/ was not emptied */

    CU_ASSERT_EQUAL(be->ops->put_commit(p, "0123456789abcdef0123456789abcdef", NULL, NULL), 0);
    be->ops->destroy(be); /* releases the lock */
    be = zkp_backend_fs_open(data, 1, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(be);
    char got[64];
    CU_ASSERT_EQUAL(get(be, "bkt", "k", got, sizeof(got)), 0);
    CU_ASSERT_STRING_EQUAL(got, "in flight");
    be->ops->destroy(be);
    nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void add_tests(void *suite)
{
    CU_add_test(suite, "range", test_range);
    CU_add_test(suite, "xml_error", test_xml_error);
    CU_add_test(suite, "xml_delete_parse", test_xml_delete_parse);
    CU_add_test(suite, "request_ops", test_request_ops);
    CU_add_test(suite, "request_params", test_request_params);
    CU_add_test(suite, "request_errors", test_request_errors);
    CU_add_test(suite, "request_fencing", test_request_fencing);
    CU_add_test(suite, "aws_chunked", test_aws_chunked);
    CU_add_test(suite, "config", test_config);
    CU_add_test(suite, "listing", test_listing);
    CU_add_test(suite, "key_mapping", test_key_mapping);
    CU_add_test(suite, "leftover_staging", test_leftover_staging);
    CU_add_test(suite, "remove_unindexed", test_remove_unindexed);
    CU_add_test(suite, "data_dir_lock", test_data_dir_lock);
}

int main(void)
{
    return pt_run_suite("proxy_unit", add_tests);
}
