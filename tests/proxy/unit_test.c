/* Unit tests of the proxy's pure parts: range parsing, XML output and the
 * DeleteObjects parser, request classification, aws-chunked decoding,
 * configuration, listing pages, and the local-files backend (key mapping,
 * leftover staging files, unnamed and named staging, deleting what the
 * index missed, which puts may finish on an event loop, the data
 * directory's lock). */
#include <CUnit/Basic.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend/fs/backend_fs.h"
#include "backend/fs/listing.h"
#include "backend/fs/store.h"
#include "auth/creds.h"
#include "auth/rights.h"
#include "harness.h"
#include "http/awschunked.h"
#include "http/checksum.h"
#include "http/headcheck.h"
#include "http/range.h"
#include "http/request.h"
#include "http/xml.h"
#include "sigv4/sigv4.h"
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

static void test_xml_create_bucket_parse(void)
{
    struct {
        const char *body;
        int rc;
        const char *loc; /* NULL: none */
    } cases[] = {
        {"", 0, NULL},
        {" \r\n\t", 0, NULL},
        {"<CreateBucketConfiguration/>", 0, NULL},
        {"<?xml version=\"1.0\"?>\n<CreateBucketConfiguration xmlns=\"x\" />\n", 0, NULL},
        {"<CreateBucketConfiguration xmlns=\"x\"><LocationConstraint> eu-west-1\n"
         "</LocationConstraint></CreateBucketConfiguration>",
         0, "eu-west-1"},
        {"<CreateBucketConfiguration><LocationConstraint/></CreateBucketConfiguration>", 0, NULL},
        {"<CreateBucketConfiguration></CreateBucketConfiguration>", 0, NULL},
        {"the bytes of an object", -1, NULL},
        {"<Foo/>", -1, NULL},
        {"<CreateBucketConfigurationX/>", -1, NULL},
        {"<CreateBucketConfiguration>", -1, NULL},
        {"<CreateBucketConfiguration/> trailing", -1, NULL},
        {"<?xml version=\"1.0\"", -1, NULL},
        {"<CreateBucketConfiguration><LocationConstraint>eu</CreateBucketConfiguration>", -1, NULL},
        {"<CreateBucketConfiguration><LocationConstraint>&bogus;</LocationConstraint>"
         "</CreateBucketConfiguration>",
         -1, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *loc = (char *)"unset";
        int rc = zkp_xml_parse_create_bucket(cases[i].body, strlen(cases[i].body), &loc);
        CU_ASSERT_EQUAL(rc, cases[i].rc);
        if (rc == 0 && cases[i].loc == NULL)
            CU_ASSERT_PTR_NULL(loc);
        if (rc == 0 && cases[i].loc != NULL)
            CU_ASSERT_STRING_EQUAL(loc ? loc : "(null)", cases[i].loc);
        if (rc != 0)
            CU_ASSERT_PTR_NULL(loc);
        if (rc == 0)
            free(loc);
    }
}

static void test_bucket_name_creatable(void)
{
    const char *ok[] = {"abc", "my-bucket.data", "a1.b2.c3", "192.168.5", "1.2.3.4.5", "x-s3"};
    const char *no[] = {
        "1.2.3.4",     "192.168.005.123", "xn--abc",  "sthree-abc", "amzn-s3-demo-x",
        "abc-s3alias", "abc--ol-s3",      "abc.mrap", "abc--x-s3",  "abc--table-s3",
        "foo-.bar",    "foo.-bar",        "ab",       "Abc",        "a..b",
        "-abc"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        CU_ASSERT_TRUE(zkp_bucket_name_creatable(ok[i], strlen(ok[i])));
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        CU_ASSERT_FALSE(zkp_bucket_name_creatable(no[i], strlen(no[i])));
    /* Made before the rules: still valid to reach. */
    CU_ASSERT_TRUE(zkp_bucket_name_valid("1.2.3.4", 7));
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

    /* GetObject's response-* overrides: decoded into the op; a control
     * character (a header line of the requester's choosing) refused; twice
     * refused; on other operations not kept. */
    CU_ASSERT_EQUAL_FATAL(
        classify("GET",
                 "/bkt/k?response-content-type=text%2Fx&"
                 "response-content-disposition=attachment%3B%20filename%3D%22a%22",
                 &op),
        0);
    CU_ASSERT_STRING_EQUAL(op.response_override[4] ? op.response_override[4] : "", "text/x");
    CU_ASSERT_STRING_EQUAL(ZKP_RESPONSE_OVERRIDES[4].header, "Content-Type");
    CU_ASSERT_STRING_EQUAL(op.response_override[1] ? op.response_override[1] : "",
                           "attachment; filename=\"a\"");
    CU_ASSERT_PTR_NULL(op.response_override[0]);
    zkp_op_free(&op);
    CU_ASSERT_EQUAL(classify("GET", "/bkt/k?response-expires=x%0D%0ASet-Cookie%3A%20a", &op), -1);
    CU_ASSERT_EQUAL(op.status, 400);
    zkp_op_free(&op);
    CU_ASSERT_EQUAL(
        classify("HEAD", "/bkt/k?response-cache-control=a&response-cache-control=b", &op), -1);
    zkp_op_free(&op);
    CU_ASSERT_EQUAL_FATAL(classify("PUT", "/bkt/k?response-content-type=text%2Fx", &op), 0);
    CU_ASSERT_PTR_NULL(op.response_override[4]);
    zkp_op_free(&op);

    /* Virtual-hosted style: the Host's bucket, the target its key. */
    char vb[ZKP_BUCKET_MAX + 1];
    CU_ASSERT_EQUAL(zkp_vhost_bucket("my-bkt.localhost:9000", "localhost", vb), 1);
    CU_ASSERT_STRING_EQUAL(vb, "my-bkt");
    CU_ASSERT_EQUAL(zkp_vhost_bucket("A.B.s3.Example.com", "s3.example.com", vb), 1);
    CU_ASSERT_STRING_EQUAL(vb, "a.b");
    CU_ASSERT_EQUAL(zkp_vhost_bucket("localhost:9000", "localhost", vb), 2);
    CU_ASSERT_EQUAL(zkp_vhost_bucket("bk1.localhost.:9000", "localhost", vb), 1);
    CU_ASSERT_STRING_EQUAL(vb, "bk1");
    const char *doms[] = {"localhost", "s3.localhost"};
    CU_ASSERT_EQUAL(zkp_vhost_choose("rbk.s3.localhost", doms, 2, vb), 1);
    CU_ASSERT_STRING_EQUAL(vb, "rbk");
    CU_ASSERT_EQUAL(zkp_vhost_choose("s3.localhost:80", doms, 2, vb), 0);
    CU_ASSERT_EQUAL(zkp_vhost_choose("rbk.localhost", doms, 2, vb), 1);
    CU_ASSERT_STRING_EQUAL(vb, "rbk");
    CU_ASSERT_EQUAL(zkp_vhost_choose("example.com", doms, 2, vb), 0);
    CU_ASSERT_EQUAL(zkp_vhost_choose("a_b.localhost", doms, 2, vb), -1);
    CU_ASSERT_EQUAL(zkp_vhost_bucket("127.0.0.1:9000", "localhost", vb), 0);
    CU_ASSERT_EQUAL(zkp_vhost_bucket("xlocalhost", "localhost", vb), 0);
    CU_ASSERT_EQUAL(zkp_vhost_bucket("[::1]:9000", "localhost", vb), 0);
    CU_ASSERT_EQUAL(zkp_vhost_bucket(NULL, "localhost", vb), 0);
    CU_ASSERT_EQUAL(zkp_vhost_bucket("a_b.localhost", "localhost", vb), -1);
    CU_ASSERT_EQUAL(zkp_vhost_bucket(".localhost", "localhost", vb), 0);
    zkp_request_in_t vin = {
        .method = "GET", .target = "/dir/k%20y?list-type=2", .vhost_bucket = "vb1"};
    CU_ASSERT_EQUAL_FATAL(zkp_request_classify(&vin, &op), 0);
    CU_ASSERT_EQUAL(op.kind, ZKP_OP_GET_OBJECT);
    CU_ASSERT_STRING_EQUAL(op.bucket, "vb1");
    CU_ASSERT_STRING_EQUAL(op.key, "dir/k y");
    zkp_op_free(&op);
    vin.target = "/?list-type=2&prefix=d";
    CU_ASSERT_EQUAL_FATAL(zkp_request_classify(&vin, &op), 0);
    CU_ASSERT_EQUAL(op.kind, ZKP_OP_LIST_OBJECTS_V2);
    CU_ASSERT_STRING_EQUAL(op.bucket, "vb1");
    zkp_op_free(&op);
    vin.method = "PUT";
    vin.target = "/";
    CU_ASSERT_EQUAL_FATAL(zkp_request_classify(&vin, &op), 0);
    CU_ASSERT_EQUAL(op.kind, ZKP_OP_CREATE_BUCKET);
    zkp_op_free(&op);
    vin.target = "/_zkfence/marks"; /* admin endpoints are path style only: a key here */
    CU_ASSERT_EQUAL_FATAL(zkp_request_classify(&vin, &op), 0);
    CU_ASSERT_EQUAL(op.kind, ZKP_OP_PUT_OBJECT);
    CU_ASSERT_STRING_EQUAL(op.key, "_zkfence/marks");
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
                             .meta_fencing_lock = "/L",
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

    /* Lock names are canonical ZooKeeper paths: other spellings of
     * /locks/a are refused, naming the rule, in either header. */
    const char *bad_locks[][2] = {{"/locks/a/", "end with '/'"},
                                  {"//locks/a", "empty path component"},
                                  {"/locks//a", "empty path component"},
                                  {"/locks/./a", "'.' or '..'"},
                                  {"/locks/../a", "'.' or '..'"},
                                  {"locks/a", "absolute"},
                                  {"/", "root"}};
    for (size_t i = 0; i < sizeof(bad_locks) / sizeof(bad_locks[0]); i++) {
        for (int meta_form = 0; meta_form < 2; meta_form++) {
            zkp_request_in_t b = {.method = "PUT", .target = "/b1b/k", .fencing_token = "5"};
            *(meta_form ? &b.meta_fencing_lock : &b.fencing_lock) = bad_locks[i][0];
            CU_ASSERT_EQUAL(zkp_request_classify(&b, &op), -1);
            CU_ASSERT_EQUAL(op.status, 400);
            CU_ASSERT_STRING_EQUAL(op.err_code, "InvalidFencingLock");
            CU_ASSERT_PTR_NOT_NULL(op.err_msg ? strstr(op.err_msg, bad_locks[i][1]) : NULL);
            zkp_op_free(&op);
        }
    }

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

/* The canonical request of SigV4 (proxy/sigv4) must read a target exactly as
 * the classifier does, or a signature would cover one request and the
 * proxy serve another: '+' is a space in queries and literal in paths, a
 * malformed escape is refused by both, an escaped slash is data. */
static int canon_of(const char *target, char *path, size_t pcap, char *query, size_t qcap)
{
    zkp_sigv4_header_t h = {"host", 4, "x", 1};
    char *out = NULL;
    size_t len = 0;
    int rc = zkp_sigv4_canonical_request("GET", target, strlen(target), 0, &h, 1, "host", 4, "p", 1,
                                         &out, &len, NULL, 0);
    if (rc != 0)
        return rc;
    /* "GET\n<path>\n<query>\n..." */
    char *p = strchr(out, '\n') + 1, *pe = strchr(p, '\n'), *q = pe + 1, *qe = strchr(q, '\n');
    snprintf(path, pcap, "%.*s", (int)(pe - p), p);
    snprintf(query, qcap, "%.*s", (int)(qe - q), q);
    free(out);
    return 0;
}

static void test_request_matches_sigv4(void)
{
    struct {
        const char *target, *key, *prefix, *canon_path, *canon_query;
    } ok[] = {
        {"/bkt/a+b?prefix=a+b&delimiter=%2F", "a+b", NULL, "/bkt/a%2Bb",
         "delimiter=%2F&prefix=a%20b"},
        {"/bkt/a%20b", "a b", NULL, "/bkt/a%20b", ""},
        {"/bkt/a%2Fb", "a/b", NULL, "/bkt/a%2Fb", ""},
        {"/bkt/~a.b_c-d", "~a.b_c-d", NULL, "/bkt/~a.b_c-d", ""},
        {"/bkt/%e2%82%ac", "\xe2\x82\xac", NULL, "/bkt/%E2%82%AC", ""},
        {"/bkt?prefix=x%2By+z", NULL, "x+y z", "/bkt", "prefix=x%2By%20z"},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        zkp_op_t op;
        char path[256], query[256];
        CU_ASSERT_EQUAL_FATAL(classify("GET", ok[i].target, &op), 0);
        CU_ASSERT_EQUAL_FATAL(canon_of(ok[i].target, path, sizeof(path), query, sizeof(query)), 0);
        if (ok[i].key)
            CU_ASSERT_STRING_EQUAL(op.key ? op.key : "(none)", ok[i].key);
        if (ok[i].prefix)
            CU_ASSERT_STRING_EQUAL(op.prefix ? op.prefix : "(none)", ok[i].prefix);
        CU_ASSERT_STRING_EQUAL(path, ok[i].canon_path);
        CU_ASSERT_STRING_EQUAL(query, ok[i].canon_query);
        zkp_op_free(&op);
    }
    /* Refused by both. */
    const char *bad[] = {"/bkt/%zz",         "/bkt/k%",         "/bkt/k%4",
                         "/bkt/k?prefix=%4", "/bkt?prefix=%G0", "/bkt?%=1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        zkp_op_t op;
        char path[256], query[256];
        CU_ASSERT_EQUAL(classify("GET", bad[i], &op), -1);
        CU_ASSERT_EQUAL(op.status, 400);
        zkp_op_free(&op);
        CU_ASSERT_EQUAL(canon_of(bad[i], path, sizeof(path), query, sizeof(query)), ZKP_SIGV4_EURI);
    }
    /* An escaped slash never ends the bucket; a parameter the classifier
     * reads may not come twice; no NUL in a parameter. */
    expect_error("GET", "/bkt%2Fk/x", 400, "InvalidBucketName");
    expect_error("GET", "/bkt?prefix=a&prefix=b", 400, "InvalidArgument");
    expect_error("GET", "/bkt?list-type=2&list-type=2", 400, "InvalidArgument");
    expect_error("GET", "/bkt?prefix=a%00b", 400, "InvalidArgument");
    expect_error("GET", "/%5Fzkfence/marks", 400, "InvalidBucketName");

    /* Every key the classifier accepts is what the canonical URI's key part
     * decodes to (a '/' may be spelled %2F there: both name that byte of
     * the key), over many generated targets of the tricky bytes. */
    const char alphabet[] = "ab+/% 2F0Gz~.";
    unsigned x = 12345;
    for (int n = 0; n < 20000; n++) {
        char target[40] = "/bkt/";
        x = x * 1103515245u + 12345u;
        size_t len = 6 + (x >> 16) % 12;
        for (size_t i = 5; i < len; i++) {
            x = x * 1103515245u + 12345u;
            target[i] = alphabet[(x >> 16) % (sizeof(alphabet) - 1)];
        }
        target[len] = '\0';
        zkp_op_t op;
        char path[256], query[256], dec[256];
        int crc = classify("GET", target, &op);
        int src = canon_of(target, path, sizeof(path), query, sizeof(query));
        if (crc == 0 && op.key != NULL) {
            CU_ASSERT_EQUAL(src, 0);
            size_t dlen = 0;
            if (src == 0 && (zkp_pct_decode(path + 5, strlen(path + 5), 0, dec, &dlen) != 0 ||
                             dlen != op.key_len || memcmp(dec, op.key, dlen) != 0)) {
                fprintf(stderr, "target %s: canonical %s\n", target, path);
                CU_FAIL("classifier and canonical request disagree");
            }
        } else if (crc != 0 && op.status == 400 && strcmp(op.err_code, "InvalidURI") == 0) {
            CU_ASSERT_EQUAL(src, ZKP_SIGV4_EURI);
        }
        zkp_op_free(&op);
    }
}

/* --- aws-chunked ------------------------------------------------------------------------ */

static int collect(void *arg, const char *d, size_t n)
{
    zkp_buf_append(arg, d, n);
    return 0;
}

static const zkp_chunked_cb_t collect_cb = {collect, NULL};

static void test_aws_chunked(void)
{
    const char *enc = "5;chunk-signature=abcdef\r\nhello\r\n"
                      "6;chunk-signature=0123\r\n world\r\n"
                      "0;chunk-signature=ffff\r\n"
                      "x-amz-checksum-crc32:AAAA\r\n\r\n";
    size_t len = strlen(enc);
    /* Every split point must give the same payload (unsigned: extensions
     * ignored). */
    for (size_t cut = 0; cut <= len; cut++) {
        zkp_chunked_t c;
        zkp_chunked_init(&c, NULL);
        zkp_buf_t out;
        zkp_buf_init(&out);
        CU_ASSERT_EQUAL(zkp_chunked_feed(&c, enc, cut, &collect_cb, &out), 0);
        CU_ASSERT_EQUAL(zkp_chunked_feed(&c, enc + cut, len - cut, &collect_cb, &out), 0);
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
        zkp_chunked_init(&c, NULL);
        zkp_buf_t out;
        zkp_buf_init(&out);
        int rc = zkp_chunked_feed(&c, bad[i], strlen(bad[i]), &collect_cb, &out);
        CU_ASSERT(rc != 0 || zkp_chunked_finish(&c) != 0);
        zkp_buf_free(&out);
    }
}

/* The verifier side of a signed stream: a request signed for a streaming
 * payload at `when`, verified, and its chunk verifier started. */
static const pt_key_t unit_key = {"AKUNITTEST", "unit-test-secret-0123456789"};

static int unit_lookup(void *arg, const char *ak, char *secret, size_t cap)
{
    (void)arg;
    if (strcmp(ak, unit_key.id) != 0 || cap <= strlen(unit_key.secret))
        return -1;
    strcpy(secret, unit_key.secret);
    return (int)strlen(unit_key.secret);
}

static void start_stream(const char *payload, time_t when, zkp_sigv4_chunks_t *v, char seed[65])
{
    zkp_sigv4_creds_t c = {unit_key.id, unit_key.secret, "us-east-1", NULL};
    zkp_sigv4_header_t host = {"host", 4, "x", 1};
    zkp_sigv4_sign_req_t r = {.method = "PUT",
                              .path = "/b/k",
                              .headers = &host,
                              .n_headers = 1,
                              .payload_hash = payload,
                              .when = when};
    zkp_sigv4_signed_t sig;
    CU_ASSERT_EQUAL_FATAL(zkp_sigv4_sign(&c, &r, &sig), 0);
    zkp_sigv4_header_t h[] = {host,
                              {"x-amz-date", 10, sig.amz_date, strlen(sig.amz_date)},
                              {"x-amz-content-sha256", 20, payload, strlen(payload)},
                              {"authorization", 13, sig.authorization, strlen(sig.authorization)}};
    zkp_sigv4_config_t vc;
    zkp_sigv4_config_init(&vc);
    vc.region = "us-east-1";
    vc.lookup = unit_lookup;
    zkp_sigv4_verifier_t *ver;
    CU_ASSERT_EQUAL_FATAL(zkp_sigv4_verifier_new(&vc, &ver), 0);
    zkp_sigv4_request_t req = {"PUT", "/b/k", 4, h, 4, when};
    zkp_sigv4_auth_t a;
    CU_ASSERT_EQUAL_FATAL(zkp_sigv4_verify(ver, &req, &a), 0);
    CU_ASSERT_EQUAL_FATAL(zkp_sigv4_chunks_init(v, &a), 0);
    memcpy(seed, sig.signature, 65);
    zkp_sigv4_auth_clear(&a);
    zkp_sigv4_verifier_free(ver);
    zkp_sigv4_signed_clear(&sig);
}

/* Decodes body[0..len) in two pieces cut at `cut`: the feed's or the
 * finish's verdict, the payload in out. */
static int decode_signed(zkp_sigv4_chunks_t *v, const char *body, size_t len, size_t cut,
                         zkp_buf_t *out)
{
    zkp_chunked_t c;
    zkp_chunked_init(&c, v);
    int rc = zkp_chunked_feed(&c, body, cut, &collect_cb, out);
    if (rc == 0)
        rc = zkp_chunked_feed(&c, body + cut, len - cut, &collect_cb, out);
    return rc != 0 ? rc : zkp_chunked_finish(&c);
}

static void test_aws_chunked_signed(void)
{
    const char *data = "the quick brown fox jumps over the lazy dog, twice over";
    size_t dlen = strlen(data);
    time_t when = 1700000000;
    for (int form = 0; form < 2; form++) {
        const char *payload = form ? "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
                                   : "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
        const char *trailer = form ? "x-amz-checksum-crc32:AAAAAA==" : NULL;
        char seed[65];
        zkp_sigv4_chunks_t v;
        start_stream(payload, when, &v, seed);
        size_t blen;
        char *body = pt_aws_chunked(&unit_key, when, seed, data, dlen, 16, trailer, &blen);
        CU_ASSERT_PTR_NOT_NULL_FATAL(body);
        zkp_sigv4_chunks_clear(&v);
        /* Whole, at every split point. */
        for (size_t cut = 0; cut <= blen; cut += 7) {
            start_stream(payload, when, &v, seed);
            zkp_buf_t out;
            zkp_buf_init(&out);
            CU_ASSERT_EQUAL(decode_signed(&v, body, blen, cut, &out), 0);
            CU_ASSERT(out.len == dlen && memcmp(out.data, data, dlen) == 0);
            zkp_buf_free(&out);
            zkp_sigv4_chunks_clear(&v);
        }
        /* Any byte changed: refused (a chunk's bytes reach the sink before
         * its signature is checked at its end; the caller discards them). */
        for (size_t i = 0; i < blen; i++) {
            char *t = malloc(blen);
            memcpy(t, body, blen);
            t[i] ^= 0x01;
            start_stream(payload, when, &v, seed);
            zkp_buf_t out;
            zkp_buf_init(&out);
            int rc = decode_signed(&v, t, blen, blen / 2, &out);
            CU_ASSERT(rc == ZKP_CHUNKED_ESIGNATURE || rc == ZKP_CHUNKED_EMALFORMED);
            zkp_buf_free(&out);
            zkp_sigv4_chunks_clear(&v);
            free(t);
        }
        /* Cut short anywhere: never accepted. */
        for (size_t n = 0; n + 2 < blen; n += 5) {
            start_stream(payload, when, &v, seed);
            zkp_buf_t out;
            zkp_buf_init(&out);
            CU_ASSERT(decode_signed(&v, body, n, n / 2, &out) != 0);
            zkp_buf_free(&out);
            zkp_sigv4_chunks_clear(&v);
        }
        free(body);
    }
    /* Unsigned chunks where signatures are required. */
    char seed[65];
    zkp_sigv4_chunks_t v;
    start_stream("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", when, &v, seed);
    size_t blen;
    char *plain = pt_aws_chunked(&unit_key, when, NULL, data, dlen, 16, NULL, &blen);
    zkp_buf_t out;
    zkp_buf_init(&out);
    CU_ASSERT_EQUAL(decode_signed(&v, plain, blen, 0, &out), ZKP_CHUNKED_ESIGNATURE);
    CU_ASSERT_EQUAL(out.len, 0);
    zkp_buf_free(&out);
    zkp_sigv4_chunks_clear(&v);
    free(plain);
}

static void test_checksums(void)
{
    /* The standard check values of "123456789". */
    const char *nine = "123456789";
    unsigned char v[32];
    CU_ASSERT_EQUAL(zkp_checksum_of(ZKP_CKS_CRC32, nine, 9, v), 4);
    CU_ASSERT(v[0] == 0xCB && v[1] == 0xF4 && v[2] == 0x39 && v[3] == 0x26);
    CU_ASSERT_EQUAL(zkp_checksum_of(ZKP_CKS_CRC32C, nine, 9, v), 4);
    CU_ASSERT(v[0] == 0xE3 && v[1] == 0x06 && v[2] == 0x92 && v[3] == 0x83);
    CU_ASSERT_EQUAL(zkp_checksum_of(ZKP_CKS_CRC64NVME, nine, 9, v), 8);
    static const unsigned char c64[8] = {0xAE, 0x8B, 0x14, 0x86, 0x0A, 0x79, 0x98, 0x88};
    CU_ASSERT(memcmp(v, c64, 8) == 0);
    CU_ASSERT_EQUAL(zkp_checksum_of(ZKP_CKS_SHA1, nine, 9, v), 20);
    CU_ASSERT_EQUAL(zkp_checksum_of(ZKP_CKS_SHA256, nine, 9, v), 32);
    /* Incremental = whole, and the expected value as S3 clients send it. */
    const zkp_cks_algo_t all[] = {ZKP_CKS_CRC32, ZKP_CKS_CRC32C, ZKP_CKS_CRC64NVME, ZKP_CKS_SHA1,
                                  ZKP_CKS_SHA256};
    for (size_t i = 0; i < 5; i++) {
        int n = zkp_checksum_of(all[i], nine, 9, v);
        char b64[64];
        pt_base64(v, (size_t)n, b64);
        zkp_checksum_t c;
        CU_ASSERT_EQUAL_FATAL(zkp_checksum_init(&c, all[i]), 0);
        zkp_checksum_update(&c, nine, 4);
        zkp_checksum_update(&c, nine + 4, 5);
        CU_ASSERT_EQUAL(zkp_checksum_expect(&c, b64, strlen(b64)), 0);
        CU_ASSERT_EQUAL(zkp_checksum_finish(&c), 0);
        CU_ASSERT_EQUAL_FATAL(zkp_checksum_init(&c, all[i]), 0);
        zkp_checksum_update(&c, "123456780", 9);
        CU_ASSERT_EQUAL(zkp_checksum_expect(&c, b64, strlen(b64)), 0);
        CU_ASSERT_EQUAL(zkp_checksum_finish(&c), -1);
        CU_ASSERT_EQUAL_FATAL(zkp_checksum_init(&c, all[i]), 0);
        CU_ASSERT_EQUAL(zkp_checksum_expect(&c, "AAAA", 4), all[i] == ZKP_CKS_NONE ? 0 : -1);
        CU_ASSERT_EQUAL(zkp_checksum_finish(&c), -2); /* nothing valid expected */
        CU_ASSERT_EQUAL(
            zkp_checksum_algo(zkp_checksum_header(all[i]), strlen(zkp_checksum_header(all[i]))),
            all[i]);
    }
    CU_ASSERT_EQUAL(zkp_checksum_algo("x-amz-checksum-md5", 18), ZKP_CKS_NONE);
}

#define HDR(n, v) ((zkp_sigv4_header_t){(n), strlen(n), (v), strlen(v)})

static void test_head_checks(void)
{
    zkp_head_verdict_t v;
    zkp_sigv4_header_t ok[] = {HDR("Host", "x"), HDR("Content-Length", "5"),
                               HDR("X-Fencing-Token", "5"), HDR("x-amz-meta-a", "1")};
    CU_ASSERT_EQUAL(zkp_head_check_framing(ok, 4, 10, 16384, &v), 0);
    CU_ASSERT_EQUAL(zkp_head_check_headers(ok, 4, 1, &v), 0);
    struct {
        zkp_sigv4_header_t h[2];
        int status;
        const char *code;
        int close;
    } framing[] = {
        {{HDR("Content-Length", "5"), HDR("content-length", "60")}, 400, "InvalidRequest", 1},
        {{HDR("Content-Length", "5"), HDR("Content-Length", "5")}, 400, "InvalidRequest", 1},
        {{HDR("Content-Length", "5"), HDR("Transfer-Encoding", "chunked")},
         400,
         "InvalidRequest",
         1},
        {{HDR("Transfer-Encoding", "chunked"), HDR("Transfer-Encoding", "chunked")},
         400,
         "InvalidRequest",
         1},
        {{HDR("Transfer-Encoding", "gzip, chunked"), HDR("Host", "x")}, 501, "NotImplemented", 1},
    };
    for (size_t i = 0; i < sizeof(framing) / sizeof(framing[0]); i++) {
        CU_ASSERT_EQUAL(zkp_head_check_framing(framing[i].h, 2, 10, 16384, &v), -1);
        CU_ASSERT_EQUAL(v.status, framing[i].status);
        CU_ASSERT_STRING_EQUAL(v.code, framing[i].code);
        CU_ASSERT_EQUAL(v.close, framing[i].close);
    }
    zkp_sigv4_header_t te[] = {HDR("Transfer-Encoding", " Chunked ")};
    CU_ASSERT_EQUAL(zkp_head_check_framing(te, 1, 10, 16384, &v), 0);
    CU_ASSERT_EQUAL(zkp_head_check_framing(ok, 4, 16384, 16384, &v), -1);
    CU_ASSERT_EQUAL(v.status, 431);
    struct {
        zkp_sigv4_header_t h[2];
        const char *code;
    } dup[] = {
        {{HDR("X-Fencing-Token", "5"), HDR("x-fencing-token", "5")}, "InvalidFencingToken"},
        {{HDR("X-Fencing-Lock", "/a"), HDR("X-Fencing-Lock", "/b")}, "InvalidFencingLock"},
        {{HDR("x-amz-meta-fencing-token", "1"), HDR("x-amz-meta-fencing-token", "2")},
         "InvalidFencingToken"},
        {{HDR("x-amz-meta-fencing-lock", "/a"), HDR("X-Amz-Meta-Fencing-Lock", "/a")},
         "InvalidFencingLock"},
        {{HDR("Content-MD5", "a"), HDR("Content-MD5", "a")}, "InvalidArgument"},
        {{HDR("x-amz-copy-source", "/a/b"), HDR("x-amz-copy-source", "/a/c")}, "InvalidArgument"},
        {{HDR("x-amz-meta-color", "red"), HDR("x-amz-meta-color", "blue")}, "InvalidArgument"},
        {{HDR("x-amz-checksum-crc32", "AAAAAA=="), HDR("X-Amz-Checksum-Crc32", "AAAAAA==")},
         "InvalidArgument"},
    };
    for (size_t i = 0; i < sizeof(dup) / sizeof(dup[0]); i++) {
        CU_ASSERT_EQUAL(zkp_head_check_headers(dup[i].h, 2, 0, &v), -1);
        CU_ASSERT_EQUAL(v.status, 400);
        CU_ASSERT_STRING_EQUAL(v.code, dup[i].code);
    }
    /* User metadata: 2048 bytes of names (without the prefix) and values
     * pass, one more does not; the fencing entries do not count. */
    char big[2100];
    memset(big, 'v', sizeof(big));
    big[2048 - 4] = '\0'; /* "name" is 4 bytes */
    zkp_sigv4_header_t meta[] = {HDR("x-amz-meta-name", big),
                                 HDR("x-amz-meta-fencing-lock", "/locks/not-counted")};
    CU_ASSERT_EQUAL(zkp_head_check_headers(meta, 2, 1, &v), 0);
    big[2048 - 4] = 'v';
    big[2048 - 3] = '\0';
    meta[0] = HDR("x-amz-meta-name", big);
    CU_ASSERT_EQUAL(zkp_head_check_headers(meta, 2, 1, &v), -1);
    CU_ASSERT_EQUAL(v.status, 400);
    CU_ASSERT_STRING_EQUAL(v.code, "MetadataTooLarge");
    CU_ASSERT_EQUAL(zkp_head_check_headers(meta, 2, 0, &v), 0); /* a GET stores nothing */
}

/* --- credentials and rights ------------------------------------------------------------ */

static void test_credentials(void)
{
    const char *text = "# comment\n"
                       "key   AKWRITER0001  writer-secret-0123456789  # trailing comment\n"
                       "\tkey AKREADER0001\treader-secret-0123456789\n"
                       "key AKOPS000001 ops-secret-0123456789#notacomment\n"
                       "key AKNOTHING01 nothing-secret-0123456789\n"
                       "grant AKWRITER0001 seats write\n"
                       "grant AKWRITER0001 reports read\n"
                       "grant AKREADER0001 * read\n"
                       "grant AKREADER0001 seats write\n"
                       "grant AKOPS000001 * admin\n";
    zkp_creds_t *c;
    char err[256];
    CU_ASSERT_EQUAL_FATAL(zkp_creds_parse(text, strlen(text), "creds", &c, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(zkp_creds_count(c), 4);
    const zkp_cred_key_t *w = zkp_creds_find(c, "AKWRITER0001");
    const zkp_cred_key_t *r = zkp_creds_find(c, "AKREADER0001");
    const zkp_cred_key_t *o = zkp_creds_find(c, "AKOPS000001");
    const zkp_cred_key_t *n = zkp_creds_find(c, "AKNOTHING01");
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    CU_ASSERT_PTR_NOT_NULL_FATAL(n);
    CU_ASSERT_PTR_NULL(zkp_creds_find(c, "AKWRITER000"));
    char secret[300];
    CU_ASSERT_EQUAL(zkp_cred_key_secret(o, secret, sizeof(secret)), 33);
    CU_ASSERT_STRING_EQUAL(secret, "ops-secret-0123456789#notacomment");
    CU_ASSERT_EQUAL(zkp_cred_key_secret(o, secret, 10), -1);
    CU_ASSERT_EQUAL(zkp_cred_key_right(w, "seats"), ZKP_RIGHT_WRITE);
    CU_ASSERT_EQUAL(zkp_cred_key_right(w, "reports"), ZKP_RIGHT_READ);
    CU_ASSERT_EQUAL(zkp_cred_key_right(w, "other"), ZKP_RIGHT_NONE);
    CU_ASSERT_EQUAL(zkp_cred_key_right(w, NULL), ZKP_RIGHT_NONE);
    CU_ASSERT_EQUAL(zkp_cred_key_right(r, "anything"), ZKP_RIGHT_READ);
    CU_ASSERT_EQUAL(zkp_cred_key_right(r, "seats"), ZKP_RIGHT_WRITE); /* grants add up */
    CU_ASSERT_EQUAL(zkp_cred_key_right(o, NULL), ZKP_RIGHT_ADMIN);
    CU_ASSERT_EQUAL(zkp_cred_key_max_right(w), ZKP_RIGHT_WRITE);
    CU_ASSERT_EQUAL(zkp_cred_key_max_right(n), ZKP_RIGHT_NONE);

    /* The rights table: every operation kind has a rule. */
    for (int k = 1; k < ZKP_OP_COUNT_; k++) {
        if (zkp_rule_of((zkp_op_kind_t)k).kind == ZKP_RULE_UNSET)
            fprintf(stderr, "operation %s has no rule in auth/rights.c\n",
                    zkp_op_name((zkp_op_kind_t)k));
        CU_ASSERT_NOT_EQUAL(zkp_rule_of((zkp_op_kind_t)k).kind, ZKP_RULE_UNSET);
    }
    struct {
        const zkp_cred_key_t *k;
        const char *m, *t, *copy;
        int loopback, allowed;
    } cases[] = {
        {w, "PUT", "/seats/k", NULL, 0, 1},
        {w, "GET", "/seats/k", NULL, 0, 1},
        {w, "PUT", "/reports/k", NULL, 0, 0},
        {w, "GET", "/reports/k", NULL, 0, 1},
        {w, "DELETE", "/seats", NULL, 0, 0},
        {w, "PUT", "/seats", NULL, 0, 0},
        {o, "PUT", "/newbucket", NULL, 0, 1},
        {o, "DELETE", "/seats", NULL, 0, 1},
        {w, "PUT", "/seats/copy", "/reports/src", 0, 1},
        {w, "PUT", "/seats/copy", "/other/src", 0, 0},
        {r, "PUT", "/seats/copy", "/other/src", 0, 1},
        {w, "GET", "/", NULL, 0, 1},
        {NULL, "GET", "/", NULL, 1, 0},
        {NULL, "GET", "/_zkfence/health", NULL, 0, 1},
        {NULL, "GET", "/_zkfence/metrics", NULL, 1, 1},
        {NULL, "GET", "/_zkfence/metrics", NULL, 0, 0},
        {w, "GET", "/_zkfence/metrics", NULL, 0, 0},
        {o, "GET", "/_zkfence/metrics", NULL, 0, 1},
        {w, "GET", "/_zkfence/marks", NULL, 1, 0},
        {r, "GET", "/_zkfence/marks", NULL, 0, 0},
        {o, "GET", "/_zkfence/marks", NULL, 0, 1},
        {w, "POST", "/_zkfence/debug/marks-fail?on=1", NULL, 1, 0},
        {n, "GET", "/seats/k", NULL, 0, 0},
        {NULL, "GET", "/seats/k", NULL, 1, 0},
        {o, "POST", "/_zkfence/fence-advance", NULL, 0, 1},
        {w, "POST", "/_zkfence/fence-advance", NULL, 0, 1},
        {r, "POST", "/_zkfence/fence-advance", NULL, 0, 1}, /* write on seats */
        {n, "POST", "/_zkfence/fence-advance", NULL, 1, 0},
        {NULL, "POST", "/_zkfence/fence-advance", NULL, 1, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        zkp_request_in_t in = {
            .method = cases[i].m, .target = cases[i].t, .copy_source = cases[i].copy};
        zkp_op_t op;
        CU_ASSERT_EQUAL_FATAL(zkp_request_classify(&in, &op), 0);
        const char *needed = NULL;
        int got = zkp_rights_allow(cases[i].k, &op, cases[i].loopback, &needed);
        if (got != cases[i].allowed)
            fprintf(stderr, "rights case %zu: %s %s -> %d\n", i, cases[i].m, cases[i].t, got);
        CU_ASSERT_EQUAL(got, cases[i].allowed);
        CU_ASSERT(got || (needed != NULL && *needed != '\0'));
        zkp_op_free(&op);
    }
    /* fence-advance's rule: admin on '*', or write on some bucket (until
     * buckets are bound to locks); the refusal names both. */
    zkp_op_t none;
    memset(&none, 0, sizeof(none));
    const char *needed;
    zkp_rule_t fence = zkp_rule_of(ZKP_OP_ADMIN_FENCE_ADVANCE);
    CU_ASSERT_EQUAL(fence.kind, ZKP_RULE_FENCE);
    CU_ASSERT_EQUAL(zkp_rights_allow_rule(fence, n, &none, 1, &needed), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(needed, "admin rights on every bucket"));
    zkp_creds_free(c);

    /* Refused files, each with the line named and no secret quoted. */
    struct {
        const char *text, *msg;
    } bad[] = {
        {"", "no key defined"},
        {"# only a comment\n", "no key defined"},
        {"key AK1 short\n", "creds:1: secret of key AK1"},
        {"key AK1 0123456789abcdef extra\n", "creds:1: expected 'key"},
        {"key AK/1 0123456789abcdef\n", "creds:1: access key id"},
        {"key AK1 0123456789abcdef\nkey AK1 0123456789abcdef\n", "creds:2: key AK1 is defined"},
        {"grant AK1 * read\nkey AK1 0123456789abcdef\n", "creds:1: grant to AK1: no such key"},
        {"key AK1 0123456789abcdef\ngrant AK1 Bad_Bucket read\n", "creds:2: 'Bad_Bucket'"},
        {"key AK1 0123456789abcdef\ngrant AK1 * owner\n", "creds:2: right 'owner'"},
        {"key AK1 0123456789abcdef\ngrant AK1 *\n", "creds:2: expected 'grant"},
        {"user AK1 0123456789abcdef\n", "creds:1: expected a 'key' or 'grant' line"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        CU_ASSERT_EQUAL(
            zkp_creds_parse(bad[i].text, strlen(bad[i].text), "creds", &c, err, sizeof(err)), -1);
        CU_ASSERT_PTR_NULL(c);
        if (strstr(err, bad[i].msg) == NULL)
            fprintf(stderr, "bad credentials %zu: %s\n", i, err);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, bad[i].msg));
        CU_ASSERT_PTR_NULL(strstr(err, "0123456789abcdef"));
    }

    /* The file's mode: refused when group or others have any access. */
    char dir[] = "/tmp/zkp-creds-test.XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof(path), "%s/creds", dir);
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("key AK1 0123456789abcdef\ngrant AK1 * admin\n", f);
    fclose(f);
    CU_ASSERT_EQUAL(chmod(path, 0640), 0);
    CU_ASSERT_EQUAL(zkp_creds_load(path, &c, err, sizeof(err)), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "has mode 0640"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, path));
    CU_ASSERT_EQUAL(chmod(path, 0602), 0);
    CU_ASSERT_EQUAL(zkp_creds_load(path, &c, err, sizeof(err)), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "has mode 0602"));
    CU_ASSERT_EQUAL(chmod(path, 0600), 0);
    CU_ASSERT_EQUAL_FATAL(zkp_creds_load(path, &c, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(zkp_creds_count(c), 1);
    zkp_creds_free(c);
    snprintf(path, sizeof(path), "%s/none", dir);
    CU_ASSERT_EQUAL(zkp_creds_load(path, &c, err, sizeof(err)), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "No such file"));
    snprintf(path, sizeof(path), "%s/creds", dir);
    unlink(path);
    rmdir(dir);
}

/* The samples in conf/ say what the code does: the configuration parses,
 * and the credentials example refuses to load until its secrets are
 * replaced, then grants what its comments say. */
static char *read_sample(const char *name)
{
    const char *src = getenv("ZKFENCE_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof(path), "%s/conf/%s", src && *src ? src : ".", name);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    char *text = calloc(1, 65536);
    if (text != NULL)
        text[fread(text, 1, 65535, f)] = '\0';
    fclose(f);
    return text;
}

static void test_samples(void)
{
    char err[512];
    char *conf = read_sample("zkfence-proxy.conf");
    CU_ASSERT_PTR_NOT_NULL_FATAL(conf);
    zkp_config_t c;
    zkp_config_defaults(&c);
    CU_ASSERT_EQUAL(zkp_config_parse(&c, "zkfence-proxy.conf", conf, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(c.auth, 1);
    CU_ASSERT_PTR_NOT_NULL(c.credentials);
    CU_ASSERT_EQUAL(zkp_config_check(&c, err, sizeof(err)), 0);
    zkp_config_free(&c);
    free(conf);

    char *text = read_sample("credentials.example");
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    zkp_creds_t *creds;
    CU_ASSERT_EQUAL(zkp_creds_parse(text, strlen(text), "example", &creds, err, sizeof(err)), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "secret of key AKIAWORKERS0001"));
    char *p;
    while ((p = strstr(text, "REPLACE-ME")) != NULL) {
        /* "REPLACE-ME" (10) -> a 40-character secret */
        memmove(p + 40, p + 10, strlen(p + 10) + 1);
        memcpy(p, "0123456789abcdef0123456789abcdef01234567", 40);
    }
    CU_ASSERT_EQUAL_FATAL(zkp_creds_parse(text, strlen(text), "example", &creds, err, sizeof(err)),
                          0);
    CU_ASSERT_EQUAL(zkp_creds_count(creds), 3);
    CU_ASSERT_EQUAL(zkp_cred_key_right(zkp_creds_find(creds, "AKIAWORKERS0001"), "seats"),
                    ZKP_RIGHT_WRITE);
    CU_ASSERT_EQUAL(zkp_cred_key_right(zkp_creds_find(creds, "AKIAREPORTS0001"), "seats"),
                    ZKP_RIGHT_READ);
    CU_ASSERT_EQUAL(zkp_cred_key_right(zkp_creds_find(creds, "AKIAOPS00000001"), NULL),
                    ZKP_RIGHT_ADMIN);
    zkp_creds_free(creds);
    free(text);
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

    /* domain: the names whose subdomains are buckets (virtual-hosted). */
    zkp_config_defaults(&c);
    CU_ASSERT_EQUAL(c.ndomains, 1);
    CU_ASSERT_STRING_EQUAL(c.domains[0], "localhost");
    CU_ASSERT_EQUAL_FATAL(
        zkp_config_parse(&c, "t.conf", "domain = s3.example.com, localhost\n", err, sizeof(err)),
        0);
    CU_ASSERT_EQUAL(c.ndomains, 2);
    CU_ASSERT_STRING_EQUAL(c.domains[0], "s3.example.com");
    CU_ASSERT_STRING_EQUAL(c.domains[1], "localhost");
    CU_ASSERT_EQUAL_FATAL(zkp_config_parse(&c, "t.conf", "domain = off\n", err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(c.ndomains, 0);
    const char *bad_domains[] = {"domain = S3.example.com\n", "domain = a..b\n", "domain = .a\n",
                                 "domain = a_b\n"};
    for (size_t i = 0; i < sizeof(bad_domains) / sizeof(bad_domains[0]); i++) {
        CU_ASSERT_EQUAL(zkp_config_parse(&c, "t.conf", bad_domains[i], err, sizeof(err)), -1);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "domain:"));
    }
    zkp_config_free(&c);

    /* Authentication, TLS and the connection limits. */
    zkp_config_defaults(&c);
    CU_ASSERT_EQUAL(c.auth, 1);
    CU_ASSERT_STRING_EQUAL(c.region, "us-east-1");
    CU_ASSERT_EQUAL(c.request_head_timeout_s, 10);
    CU_ASSERT_EQUAL(c.max_connections_per_ip, 256);
    CU_ASSERT_EQUAL(zkp_config_check(&c, err, sizeof(err)), 0); /* loopback plain HTTP */
    const char *tls = "listen = off\ntls_listen = 0.0.0.0:9443\ntls_cert = c.pem\n"
                      "tls_key = k.pem\ncredentials = /etc/creds\nregion = eu-west-1\nauth = off\n"
                      "max_connections_per_ip = 0\nrequest_head_timeout_s = 4\n";
    CU_ASSERT_EQUAL_FATAL(zkp_config_parse(&c, "t.conf", tls, err, sizeof(err)), 0);
    CU_ASSERT_STRING_EQUAL(c.listen_host, "");
    CU_ASSERT_STRING_EQUAL(c.tls_listen_host, "0.0.0.0");
    CU_ASSERT_EQUAL(c.tls_listen_port, 9443);
    CU_ASSERT_STRING_EQUAL(c.tls_cert, "c.pem");
    CU_ASSERT_STRING_EQUAL(c.credentials, "/etc/creds");
    CU_ASSERT_STRING_EQUAL(c.region, "eu-west-1");
    CU_ASSERT_EQUAL(c.auth, 0);
    CU_ASSERT_EQUAL(c.max_connections_per_ip, 0);
    CU_ASSERT_EQUAL(c.request_head_timeout_s, 4);
    CU_ASSERT_EQUAL(zkp_config_check(&c, err, sizeof(err)), 0);
    zkp_config_free(&c);
    struct {
        const char *text, *msg;
    } refused[] = {
        {"listen = 0.0.0.0:9000\n", "plain HTTP on a non-loopback address"},
        {"tls_listen = 127.0.0.1:9443\n", "needs both tls_cert and tls_key"},
        {"tls_cert = c.pem\ntls_key = k.pem\n", "need tls_listen"},
        {"listen = off\n", "nothing to listen on"},
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        zkp_config_defaults(&c);
        CU_ASSERT_EQUAL(zkp_config_parse(&c, "t.conf", refused[i].text, err, sizeof(err)), 0);
        CU_ASSERT_EQUAL(zkp_config_check(&c, err, sizeof(err)), -1);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, refused[i].msg));
        zkp_config_free(&c);
    }
    zkp_config_defaults(&c);
    CU_ASSERT_EQUAL(zkp_config_parse(&c, "t.conf",
                                     "listen = 10.0.0.1:9000\nallow_insecure_http = on\n", err,
                                     sizeof(err)),
                    0);
    CU_ASSERT_EQUAL(zkp_config_check(&c, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(zkp_config_parse(&c, "t.conf", "region = EU_West\n", err, sizeof(err)), -1);
    CU_ASSERT_EQUAL(zkp_config_parse(&c, "t.conf", "credentials =\n", err, sizeof(err)), -1);
    CU_ASSERT_EQUAL(zkp_addr_is_loopback("127.1.2.3"), 1);
    CU_ASSERT_EQUAL(zkp_addr_is_loopback("128.0.0.1"), 0);
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

/* Entries in dir other than "." and "..", or -1. */
static int dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
    closedir(d);
    return n;
}

/* Staging, unnamed (O_TMPFILE, without object_fsync where the file system
 * can) and named in tmp/: a new key, a replaced key (the unnamed file is
 * then named and renamed; also one the index missed), an empty body and
 * one in pieces, an aborted
 * put, each leaving tmp/ empty and the objects readable after a restart. A staged put shows in tmp/
 * only when named; with object_fsync it always is. */
static void test_staging_modes(void)
{
    char dir[] = "/tmp/zkp-stagemodes.XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    char data[300], tmpdir[320], err[256], got[64];
    snprintf(data, sizeof(data), "%s/data", dir);
    snprintf(tmpdir, sizeof(tmpdir), "%s/tmp", data);
    for (int named = 0; named <= 2; named++) { /* 2: object_fsync on */
        zkp_backend_t *be = zkp_backend_fs_open(data, named == 2, err, sizeof(err));
        CU_ASSERT_PTR_NOT_NULL_FATAL(be);
        if (named == 1)
            zkp_backend_fs_set_unnamed_staging(be, 0);
        int unnamed = zkp_backend_fs_unnamed_staging(be);
        if (named) {
            CU_ASSERT_EQUAL(unnamed, 0);
        } else {
            /* The oracle: this file system takes O_TMPFILE, and /proc is there. */
            int fd = open(tmpdir, O_TMPFILE | O_RDWR, 0600);
            CU_ASSERT_EQUAL(unnamed, fd >= 0 && access("/proc/self/fd", F_OK) == 0);
            if (fd >= 0)
                close(fd);
            else
                fprintf(stderr, "staging_modes: %s has no O_TMPFILE: named only\n", tmpdir);
        }
        int rc = be->ops->bucket_create(be, "bkt");
        CU_ASSERT(rc == 0 || rc == ZKP_BE_EXISTS);
        char one[16], two[16];
        snprintf(one, sizeof(one), "one-%d", named);
        snprintf(two, sizeof(two), "two-%d", named);
        CU_ASSERT_EQUAL(put(be, "bkt", "new", one), 0);
        CU_ASSERT_EQUAL(put(be, "bkt", "new", two), 0); /* replaces */
        CU_ASSERT_EQUAL(get(be, "bkt", "new", got, sizeof(got)), 0);
        CU_ASSERT_STRING_EQUAL(got, two);
        CU_ASSERT_EQUAL(dir_entries(tmpdir), 0);
        /* A file the index missed (only after an allocation failure) is
         * replaced too: the link into place fails, the rename does not. */
        char hash[65], src[700], ghost[700];
        zkp_fs_key_hash("new", hash);
        snprintf(src, sizeof(src), "%s/objects/bkt/%s", data, hash);
        zkp_fs_key_hash("ghost", hash);
        snprintf(ghost, sizeof(ghost), "%s/objects/bkt/%s", data, hash);
        CU_ASSERT_EQUAL_FATAL(copy_file(src, ghost), 0);
        CU_ASSERT_EQUAL(put(be, "bkt", "ghost", one), 0);
        CU_ASSERT_EQUAL(get(be, "bkt", "ghost", got, sizeof(got)), 0);
        CU_ASSERT_STRING_EQUAL(got, one);
        CU_ASSERT_EQUAL(be->ops->remove(be, "bkt", "ghost"), 0);
        CU_ASSERT_EQUAL(dir_entries(tmpdir), 0);
        zkp_obj_meta_t m;
        memset(&m, 0, sizeof(m));
        zkp_put_t *p;
        /* The head goes out with the first piece of a body, or at the seal
         * of an empty one; later pieces follow at their offsets. */
        CU_ASSERT_EQUAL_FATAL(be->ops->put_begin(be, "bkt", "empty", &m, &p), 0);
        CU_ASSERT_EQUAL(be->ops->put_commit(p, "0123456789abcdef0123456789abcdef", NULL, NULL), 0);
        CU_ASSERT_EQUAL(get(be, "bkt", "empty", got, sizeof(got)), 0);
        CU_ASSERT_STRING_EQUAL(got, "");
        CU_ASSERT_EQUAL_FATAL(be->ops->put_begin(be, "bkt", "pieces", &m, &p), 0);
        CU_ASSERT_EQUAL(be->ops->put_write(p, "ab", 2), 0);
        CU_ASSERT_EQUAL(be->ops->put_write(p, "", 0), 0);
        CU_ASSERT_EQUAL(be->ops->put_write(p, "cde", 3), 0);
        CU_ASSERT_EQUAL(be->ops->put_commit(p, "0123456789abcdef0123456789abcdef", NULL, NULL), 0);
        CU_ASSERT_EQUAL(get(be, "bkt", "pieces", got, sizeof(got)), 0);
        CU_ASSERT_STRING_EQUAL(got, "abcde");
        CU_ASSERT_EQUAL_FATAL(be->ops->put_begin(be, "bkt", "new", &m, &p), 0);
        CU_ASSERT_EQUAL(be->ops->put_write(p, "aborted", 7), 0);
        CU_ASSERT_EQUAL(dir_entries(tmpdir), unnamed ? 0 : 1);
        be->ops->put_abort(p);
        CU_ASSERT_EQUAL(dir_entries(tmpdir), 0);
        CU_ASSERT_EQUAL(get(be, "bkt", "new", got, sizeof(got)), 0);
        CU_ASSERT_STRING_EQUAL(got, two);
        be->ops->destroy(be);
        be = zkp_backend_fs_open(data, 1, err, sizeof(err));
        CU_ASSERT_PTR_NOT_NULL_FATAL(be);
        CU_ASSERT_EQUAL(get(be, "bkt", "new", got, sizeof(got)), 0);
        CU_ASSERT_STRING_EQUAL(got, two);
        zkp_list_req_t req = {NULL, NULL, NULL, 1000};
        zkp_list_result_t res;
        CU_ASSERT_EQUAL_FATAL(be->ops->list(be, "bkt", &req, &res), 0);
        CU_ASSERT_EQUAL(res.n, 3);
        zkp_list_result_free(&res);
        CU_ASSERT_EQUAL(get(be, "bkt", "pieces", got, sizeof(got)), 0);
        CU_ASSERT_STRING_EQUAL(got, "abcde");
        be->ops->destroy(be);
    }
    nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* Whether a put may finish on an event loop (put_waits): without
 * object_fsync yes, unless its body or the object it replaces is larger
 * than 1 MiB (freeing those blocks can stall); with object_fsync never. */
static void test_put_waits(void)
{
    char dir[] = "/tmp/zkp-putwaits.XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    char data[300], err[256];
    snprintf(data, sizeof(data), "%s/data", dir);
    zkp_backend_t *be = zkp_backend_fs_open(data, 0, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(be);
    CU_ASSERT_EQUAL(be->ops->bucket_create(be, "bkt"), 0);
    size_t big = (1u << 20) + 1;
    char *body = malloc(big + 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(body);
    memset(body, 'b', big);
    body[big] = '\0';
    CU_ASSERT_EQUAL(put(be, "bkt", "large", body), 0);
    CU_ASSERT_EQUAL(put(be, "bkt", "small", "s"), 0);
    zkp_obj_meta_t m;
    memset(&m, 0, sizeof(m));
    const struct {
        const char *key;
        size_t len;
        int waits;
    } cases[] = {{"new", 1, 0}, {"small", 1, 0}, {"large", 1, 1}, {"new", big, 1}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        zkp_put_t *p;
        CU_ASSERT_EQUAL_FATAL(be->ops->put_begin(be, "bkt", cases[i].key, &m, &p), 0);
        CU_ASSERT_EQUAL(be->ops->put_write(p, body, cases[i].len), 0);
        CU_ASSERT_EQUAL(be->ops->put_waits(p), cases[i].waits);
        be->ops->put_abort(p);
    }
    /* Replaced by a small one, "large" no longer makes a put wait. */
    CU_ASSERT_EQUAL(put(be, "bkt", "large", "l"), 0);
    zkp_put_t *p;
    CU_ASSERT_EQUAL_FATAL(be->ops->put_begin(be, "bkt", "large", &m, &p), 0);
    CU_ASSERT_EQUAL(be->ops->put_waits(p), 0);
    be->ops->put_abort(p);
    be->ops->destroy(be);
    /* With object_fsync every put waits (its fsync). */
    be = zkp_backend_fs_open(data, 1, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(be);
    CU_ASSERT_EQUAL_FATAL(be->ops->put_begin(be, "bkt", "new", &m, &p), 0);
    CU_ASSERT_EQUAL(be->ops->put_waits(p), 1);
    be->ops->put_abort(p);
    be->ops->destroy(be);
    free(body);
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
    CU_add_test(suite, "xml_create_bucket_parse", test_xml_create_bucket_parse);
    CU_add_test(suite, "bucket_name_creatable", test_bucket_name_creatable);
    CU_add_test(suite, "request_ops", test_request_ops);
    CU_add_test(suite, "request_params", test_request_params);
    CU_add_test(suite, "request_errors", test_request_errors);
    CU_add_test(suite, "request_fencing", test_request_fencing);
    CU_add_test(suite, "request_matches_sigv4", test_request_matches_sigv4);
    CU_add_test(suite, "aws_chunked", test_aws_chunked);
    CU_add_test(suite, "aws_chunked_signed", test_aws_chunked_signed);
    CU_add_test(suite, "checksums", test_checksums);
    CU_add_test(suite, "head_checks", test_head_checks);
    CU_add_test(suite, "credentials", test_credentials);
    CU_add_test(suite, "samples", test_samples);
    CU_add_test(suite, "config", test_config);
    CU_add_test(suite, "listing", test_listing);
    CU_add_test(suite, "key_mapping", test_key_mapping);
    CU_add_test(suite, "leftover_staging", test_leftover_staging);
    CU_add_test(suite, "remove_unindexed", test_remove_unindexed);
    CU_add_test(suite, "staging_modes", test_staging_modes);
    CU_add_test(suite, "put_waits", test_put_waits);
    CU_add_test(suite, "data_dir_lock", test_data_dir_lock);
}

int main(void)
{
    return pt_run_suite("proxy_unit", add_tests);
}
