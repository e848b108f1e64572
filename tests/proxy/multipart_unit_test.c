/* Unit tests of multipart upload and of the versioning answers, below HTTP:
 * the classification of their requests (every parameter and refusal), the
 * CompleteMultipartUpload parser, <VersionId> in DeleteObjects, the
 * multipart_max_age key, and the local-files backend's multipart
 * operations called directly (the ETag, every refusal leaving everything
 * as it was, a retried completion, a precondition, paging of parts and of
 * uploads, copies of a range, the age sweep, and start-up recovery of the
 * states a crash can leave). */
#include <CUnit/Basic.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend/fs/backend_fs.h"
#include "harness.h"
#include "http/request.h"
#include "http/xml.h"
#include "util/buf.h"
#include "util/config.h"

/* --- classification ---------------------------------------------------------------- */

static int classify_in(const char *method, const char *target, const char *copy, const char *range,
                       zkp_op_t *op)
{
    zkp_request_in_t in = {.method = method,
                           .target = target,
                           .copy_source = copy,
                           .copy_source_range = range,
                           .fencing_lock = "/locks/m",
                           .fencing_token = "9"};
    return zkp_request_classify(&in, op);
}

static void expect_kind(const char *method, const char *target, zkp_op_kind_t kind, int mutating)
{
    zkp_op_t op;
    int rc = classify_in(method, target, NULL, NULL, &op);
    CU_ASSERT_EQUAL(rc, 0);
    if (rc != 0 || op.kind != kind)
        fprintf(stderr, "%s %s: kind %s, wanted %s (%s)\n", method, target, zkp_op_name(op.kind),
                zkp_op_name(kind), op.err_code ? op.err_code : "-");
    CU_ASSERT_EQUAL(op.kind, kind);
    CU_ASSERT_EQUAL(op.mutating, mutating);
    if (mutating)
        CU_ASSERT_EQUAL(op.fence, ZKP_FENCE_PRESENT);
    zkp_op_free(&op);
}

static void expect_refusal(const char *method, const char *target, const char *copy,
                           const char *range, int status, const char *code)
{
    zkp_op_t op;
    CU_ASSERT_EQUAL(classify_in(method, target, copy, range, &op), -1);
    if (op.status != status || op.err_code == NULL || strcmp(op.err_code, code) != 0) {
        fprintf(stderr, "%s %s: got %d %s, wanted %d %s\n", method, target, op.status,
                op.err_code ? op.err_code : "-", status, code);
        CU_FAIL("wrong refusal");
    }
    zkp_op_free(&op);
}

static void test_classify_ops(void)
{
    expect_kind("POST", "/bkt/k?uploads", ZKP_OP_CREATE_MULTIPART_UPLOAD, 1);
    expect_kind("POST", "/bkt/k?uploads=", ZKP_OP_CREATE_MULTIPART_UPLOAD, 1);
    expect_kind("PUT", "/bkt/k?partNumber=1&uploadId=abc", ZKP_OP_UPLOAD_PART, 1);
    expect_kind("PUT", "/bkt/k?uploadId=abc&partNumber=10000", ZKP_OP_UPLOAD_PART, 1);
    expect_kind("POST", "/bkt/k?uploadId=abc", ZKP_OP_COMPLETE_MULTIPART_UPLOAD, 1);
    expect_kind("DELETE", "/bkt/k?uploadId=abc", ZKP_OP_ABORT_MULTIPART_UPLOAD, 0);
    expect_kind("GET", "/bkt/k?uploadId=abc", ZKP_OP_LIST_PARTS, 0);
    expect_kind("GET", "/bkt?uploads", ZKP_OP_LIST_MULTIPART_UPLOADS, 0);
    expect_kind("GET", "/bkt?versioning", ZKP_OP_GET_BUCKET_VERSIONING, 0);
    expect_kind("PUT", "/bkt?versioning", ZKP_OP_PUT_BUCKET_VERSIONING, 0);
    expect_kind("GET", "/bkt?versions", ZKP_OP_LIST_OBJECT_VERSIONS, 0);
    /* versionId=null is the object itself. */
    expect_kind("GET", "/bkt/k?versionId=null", ZKP_OP_GET_OBJECT, 0);
    expect_kind("HEAD", "/bkt/k?versionId=null", ZKP_OP_HEAD_OBJECT, 0);
    expect_kind("DELETE", "/bkt/k?versionId=null", ZKP_OP_DELETE_OBJECT, 1);

    zkp_op_t op;
    CU_ASSERT_EQUAL_FATAL(classify_in("PUT", "/bkt/d/k?partNumber=7&uploadId=u%2B1",
                                      "/src/a%20b?versionId=null", "bytes=5-9", &op),
                          0);
    CU_ASSERT_EQUAL(op.kind, ZKP_OP_UPLOAD_PART_COPY);
    CU_ASSERT_EQUAL(op.part_number, 7);
    CU_ASSERT_STRING_EQUAL(op.upload_id, "u+1");
    CU_ASSERT_STRING_EQUAL(op.key, "d/k");
    CU_ASSERT_STRING_EQUAL(op.src_bucket, "src");
    CU_ASSERT_STRING_EQUAL(op.src_key, "a b");
    CU_ASSERT_TRUE(op.has_copy_range);
    CU_ASSERT(op.copy_first == 5 && op.copy_last == 9);
    CU_ASSERT_TRUE(op.mutating);
    zkp_op_free(&op);
    CU_ASSERT_EQUAL_FATAL(classify_in("PUT", "/bkt/k?partNumber=2&uploadId=x", "src/k", NULL, &op),
                          0);
    CU_ASSERT_EQUAL(op.kind, ZKP_OP_UPLOAD_PART_COPY);
    CU_ASSERT_FALSE(op.has_copy_range);
    zkp_op_free(&op);
    CU_ASSERT_EQUAL_FATAL(classify_in("PUT", "/bkt/k?partNumber=2&uploadId=x", "src/k",
                                      "bytes=0-18446744073709551615", &op),
                          0);
    CU_ASSERT(op.copy_first == 0 && op.copy_last == UINT64_MAX);
    zkp_op_free(&op);
}

static void test_classify_params(void)
{
    zkp_op_t op;
    CU_ASSERT_EQUAL_FATAL(classify_in("GET",
                                      "/bkt/k?uploadId=u1&max-parts=5000&part-number-marker=12",
                                      NULL, NULL, &op),
                          0);
    CU_ASSERT_EQUAL(op.kind, ZKP_OP_LIST_PARTS);
    CU_ASSERT_EQUAL(op.max_keys, 1000); /* clamped */
    CU_ASSERT_EQUAL(op.part_marker, 12);
    zkp_op_free(&op);

    CU_ASSERT_EQUAL_FATAL(classify_in("GET",
                                      "/bkt?uploads&prefix=a%2F&delimiter=%2F&key-marker=a%2Fb&"
                                      "upload-id-marker=u9&max-uploads=3&encoding-type=url",
                                      NULL, NULL, &op),
                          0);
    CU_ASSERT_EQUAL(op.kind, ZKP_OP_LIST_MULTIPART_UPLOADS);
    CU_ASSERT_STRING_EQUAL(op.prefix, "a/");
    CU_ASSERT_STRING_EQUAL(op.delimiter, "/");
    CU_ASSERT_STRING_EQUAL(op.key_marker, "a/b");
    CU_ASSERT_STRING_EQUAL(op.upload_id_marker, "u9");
    CU_ASSERT_EQUAL(op.max_keys, 3);
    CU_ASSERT_TRUE(op.encoding_url);
    zkp_op_free(&op);
    /* Without a key-marker, S3 ignores the upload-id-marker. */
    CU_ASSERT_EQUAL_FATAL(classify_in("GET", "/bkt?uploads&upload-id-marker=u9", NULL, NULL, &op),
                          0);
    CU_ASSERT_PTR_NULL(op.upload_id_marker);
    zkp_op_free(&op);

    CU_ASSERT_EQUAL_FATAL(
        classify_in("GET", "/bkt?versions&key-marker=k1&version-id-marker=null&max-keys=2", NULL,
                    NULL, &op),
        0);
    CU_ASSERT_EQUAL(op.kind, ZKP_OP_LIST_OBJECT_VERSIONS);
    CU_ASSERT_STRING_EQUAL(op.key_marker, "k1");
    CU_ASSERT_STRING_EQUAL(op.resume_after, "k1");
    CU_ASSERT_STRING_EQUAL(op.version_id_marker, "null");
    CU_ASSERT_EQUAL(op.max_keys, 2);
    zkp_op_free(&op);
    CU_ASSERT_EQUAL_FATAL(
        classify_in("GET", "/bkt?versions&key-marker=&version-id-marker=", NULL, NULL, &op), 0);
    CU_ASSERT_PTR_NULL(op.key_marker);
    CU_ASSERT_PTR_NULL(op.resume_after);
    zkp_op_free(&op);
}

static void test_classify_refusals(void)
{
    const char *bad_parts[] = {"0", "10001", "-1", "1.5", "", "x", "99999999999999999999999"};
    for (size_t i = 0; i < sizeof(bad_parts) / sizeof(bad_parts[0]); i++) {
        char t[128];
        snprintf(t, sizeof(t), "/bkt/k?uploadId=u&partNumber=%s", bad_parts[i]);
        expect_refusal("PUT", t, NULL, NULL, 400, "InvalidArgument");
    }
    expect_refusal("PUT", "/bkt/k?uploadId=u", NULL, NULL, 400, "InvalidArgument");
    expect_refusal("PUT", "/bkt/k?partNumber=1", NULL, NULL, 400, "InvalidRequest");
    expect_refusal("GET", "/bkt/k?partNumber=1", NULL, NULL, 501, "NotImplemented");
    expect_refusal("HEAD", "/bkt/k?partNumber=1", NULL, NULL, 501, "NotImplemented");
    expect_refusal("POST", "/bkt/k?uploadId=", NULL, NULL, 404, "NoSuchUpload");
    expect_refusal("POST", "/bkt/k?uploadId", NULL, NULL, 404, "NoSuchUpload");
    expect_refusal("POST", "/bkt/k?uploadId=a%20b", NULL, NULL, 404, "NoSuchUpload");
    expect_refusal("POST", "/bkt/k?uploadId=a%0Ab", NULL, NULL, 404, "NoSuchUpload");
    char longid[1200] = "/bkt/k?uploadId=";
    memset(longid + strlen(longid), 'u', 1025);
    expect_refusal("DELETE", longid, NULL, NULL, 404, "NoSuchUpload");
    expect_refusal("HEAD", "/bkt/k?uploadId=u", NULL, NULL, 405, "MethodNotAllowed");
    expect_refusal("PUT", "/bkt/k?uploads", NULL, NULL, 405, "MethodNotAllowed");
    expect_refusal("GET", "/bkt/k?uploads", NULL, NULL, 405, "MethodNotAllowed");
    expect_refusal("GET", "/bkt/k?uploadId=u&max-parts=x", NULL, NULL, 400, "InvalidArgument");
    expect_refusal("GET", "/bkt/k?uploadId=u&part-number-marker=-1", NULL, NULL, 400,
                   "InvalidArgument");
    /* Never taken for a plain bucket operation. */
    expect_refusal("DELETE", "/bkt?uploadId=u", NULL, NULL, 400, "InvalidRequest");
    expect_refusal("PUT", "/bkt?partNumber=1", NULL, NULL, 400, "InvalidRequest");
    expect_refusal("DELETE", "/bkt?versioning", NULL, NULL, 405, "MethodNotAllowed");
    expect_refusal("PUT", "/bkt?uploads", NULL, NULL, 405, "MethodNotAllowed");
    expect_refusal("DELETE", "/bkt?versions", NULL, NULL, 405, "MethodNotAllowed");
    expect_refusal("GET", "/bkt?uploads&max-uploads=-2", NULL, NULL, 400, "InvalidArgument");
    expect_refusal("GET", "/bkt?uploads&encoding-type=xml", NULL, NULL, 400, "InvalidArgument");
    /* Copy sources and ranges. */
    const char *bad_ranges[] = {
        "bytes=9-5", "bytes=1-",      "bytes=-5",   "bytes=a-b",
        "5-9",       "bytes=1-2,4-5", "bytes= 1-2", "bytes=0-18446744073709551616"};
    for (size_t i = 0; i < sizeof(bad_ranges) / sizeof(bad_ranges[0]); i++)
        expect_refusal("PUT", "/bkt/k?uploadId=u&partNumber=1", "/src/k", bad_ranges[i], 400,
                       "InvalidArgument");
    expect_refusal("PUT", "/bkt/k?uploadId=u&partNumber=1", "/src", NULL, 400, "InvalidArgument");
    expect_refusal("PUT", "/bkt/k?uploadId=u&partNumber=1", "/src/k?versionId=3", NULL, 400,
                   "InvalidArgument");
    /* Versions: "null" is the object; a well-formed other id names no
     * version; the rest is not an id. */
    expect_refusal("GET", "/bkt/k?versionId=", NULL, NULL, 400, "InvalidArgument");
    expect_refusal("GET", "/bkt/k?versionId", NULL, NULL, 400, "InvalidArgument");
    expect_refusal("GET", "/bkt/k?versionId=abc", NULL, NULL, 400, "InvalidArgument");
    expect_refusal("HEAD", "/bkt/k?versionId=3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrH", NULL, NULL, 404,
                   "NoSuchVersion");
    expect_refusal("DELETE", "/bkt/k?versionId=3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrH", NULL, NULL, 404,
                   "NoSuchVersion");
    expect_refusal("PUT", "/dst/k", "/src/k?versionId=3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrH", NULL, 404,
                   "NoSuchVersion");
    expect_refusal("GET", "/bkt?versions&version-id-marker=null", NULL, NULL, 400,
                   "InvalidArgument");
    expect_refusal("GET", "/bkt?versions&key-marker=k&version-id-marker=v2", NULL, NULL, 400,
                   "InvalidArgument");

    int status;
    const char *code, *msg;
    CU_ASSERT_EQUAL(zkp_version_id_check("null", &status, &code, &msg), 0);
    CU_ASSERT_EQUAL(zkp_version_id_check("NULL", &status, &code, &msg), -1);
    CU_ASSERT_EQUAL(status, 400);
    CU_ASSERT_EQUAL(zkp_version_id_check("", &status, &code, &msg), -1);
    CU_ASSERT_STRING_EQUAL(msg, "Version id cannot be the empty string");
}

/* --- the XML bodies ----------------------------------------------------------------------- */

static int parse_complete(const char *body, zkp_complete_req_t *c)
{
    return zkp_xml_parse_complete(body, strlen(body), 10000, c);
}

static void test_xml_complete(void)
{
    zkp_complete_req_t c;
    const char *body =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\n"
        "  <Part>\n    <ETag>\"0123456789abcdef0123456789abcdef\"</ETag>\n"
        "    <PartNumber> 1 </PartNumber>\n  </Part>\n"
        "  <Part><PartNumber>3</PartNumber><ChecksumCRC32>AAAAAA==</ChecksumCRC32>"
        "<ETag>&quot;ABCDEF0123456789abcdef0123456789&quot;</ETag></Part>\n"
        "  <Part><PartNumber>10001</PartNumber><ETag>plain</ETag></Part>\n"
        "</CompleteMultipartUpload>";
    CU_ASSERT_EQUAL_FATAL(parse_complete(body, &c), 0);
    CU_ASSERT_EQUAL_FATAL(c.nparts, 3);
    CU_ASSERT_EQUAL(c.parts[0].number, 1);
    CU_ASSERT_STRING_EQUAL(c.parts[0].etag, "0123456789abcdef0123456789abcdef");
    CU_ASSERT_EQUAL(c.parts[1].number, 3);
    CU_ASSERT_STRING_EQUAL(c.parts[1].etag, "ABCDEF0123456789abcdef0123456789");
    /* In range and uploaded is for the backend to say. */
    CU_ASSERT_EQUAL(c.parts[2].number, 10001);
    CU_ASSERT_STRING_EQUAL(c.parts[2].etag, "plain");
    zkp_complete_req_free(&c);

    const char *bad[] = {
        "",
        "<CompleteMultipartUpload></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part>"
        "</CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><ETag>e</ETag></Part></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>x</PartNumber><ETag>e</ETag></Part>"
        "</CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>-1</PartNumber><ETag>e</ETag></Part>"
        "</CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>1234567890</PartNumber><ETag>e</ETag>"
        "</Part></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"\"</ETag></Part>"
        "</CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&bogus;</ETag></Part>"
        "</CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>e</ETag>",
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>e</ETag></Part>",
        "<Delete><Object><Key>k</Key></Object></Delete>",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (parse_complete(bad[i], &c) != -1) {
            fprintf(stderr, "accepted: %s\n", bad[i]);
            CU_FAIL("malformed body accepted");
            zkp_complete_req_free(&c);
        }
    }
    /* An ETag longer than any there can be. */
    zkp_buf_t b;
    zkp_buf_init(&b);
    zkp_buf_puts(&b, "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>");
    for (int i = 0; i < 65; i++)
        zkp_buf_puts(&b, "e");
    zkp_buf_puts(&b, "</ETag></Part></CompleteMultipartUpload>");
    CU_ASSERT_EQUAL(parse_complete(b.data, &c), -1);
    zkp_buf_free(&b);
    /* At most max_parts. */
    zkp_buf_init(&b);
    zkp_buf_puts(&b, "<CompleteMultipartUpload>");
    for (int i = 1; i <= 3; i++)
        zkp_buf_printf(&b, "<Part><PartNumber>%d</PartNumber><ETag>e</ETag></Part>", i);
    zkp_buf_puts(&b, "</CompleteMultipartUpload>");
    CU_ASSERT_EQUAL(zkp_xml_parse_complete(b.data, b.len, 3, &c), 0);
    zkp_complete_req_free(&c);
    CU_ASSERT_EQUAL(zkp_xml_parse_complete(b.data, b.len, 2, &c), -1);
    zkp_buf_free(&b);
}

static void test_xml_delete_versions(void)
{
    zkp_delete_req_t d;
    const char *body = "<Delete><Object><Key>a</Key><VersionId>null</VersionId></Object>"
                       "<Object><Key>b</Key></Object>"
                       "<Object><VersionId>v&amp;2</VersionId><Key>c</Key></Object></Delete>";
    CU_ASSERT_EQUAL_FATAL(zkp_xml_parse_delete(body, strlen(body), 1000, &d), 0);
    CU_ASSERT_EQUAL_FATAL(d.nkeys, 3);
    CU_ASSERT_STRING_EQUAL(d.versions[0], "null");
    CU_ASSERT_PTR_NULL(d.versions[1]);
    CU_ASSERT_STRING_EQUAL(d.keys[2], "c");
    CU_ASSERT_STRING_EQUAL(d.versions[2], "v&2");
    zkp_delete_req_free(&d);
    const char *bad = "<Delete><Object><Key>a</Key><VersionId>&x;</VersionId></Object></Delete>";
    CU_ASSERT_EQUAL(zkp_xml_parse_delete(bad, strlen(bad), 1000, &d), -1);
}

/* --- configuration -------------------------------------------------------------------------- */

static void test_config_max_age(void)
{
    zkp_config_t c;
    char err[256];
    zkp_config_defaults(&c);
    CU_ASSERT_EQUAL(c.multipart_max_age_s, 7 * 86400);
    struct {
        const char *text;
        uint64_t s;
    } ok[] = {{"0", 0}, {"90", 90}, {"90s", 90}, {"15m", 900}, {"2h", 7200}, {"3d", 259200}};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        CU_ASSERT_EQUAL(zkp_config_set(&c, "multipart_max_age", ok[i].text, err, sizeof(err)), 0);
        CU_ASSERT_EQUAL(c.multipart_max_age_s, ok[i].s);
    }
    const char *bad[] = {"", "x", "-1", "1w", "1dd", "d", "3651d", "1.5h", " 1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CU_ASSERT_EQUAL(zkp_config_set(&c, "multipart_max_age", bad[i], err, sizeof(err)), -1);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "multipart_max_age: expected a duration"));
    }
    CU_ASSERT_EQUAL(c.multipart_max_age_s, 259200); /* unchanged by refusals */
    CU_ASSERT_EQUAL(
        zkp_config_parse(&c, "t.conf", "threads = 2\nmultipart_max_age = 7 d\n", err, sizeof(err)),
        -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "t.conf:2:"));
    zkp_config_free(&c);
}

/* --- the local-files backend ------------------------------------------------------------------ */

#define MIB (1024 * 1024)

typedef struct fixture {
    char dir[64];
    char data[128];
    zkp_backend_t *be;
} fixture_t;

static int rm_cb(const char *p, const struct stat *s, int f, struct FTW *w)
{
    (void)s;
    (void)f;
    (void)w;
    return remove(p);
}

static void fx_open(fixture_t *fx)
{
    char err[512];
    fx->be = zkp_backend_fs_open(fx->data, 0, err, sizeof(err));
    if (fx->be == NULL)
        fprintf(stderr, "open: %s\n", err);
}

static int fx_start(fixture_t *fx)
{
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/zkp-mpu.XXXXXX");
    if (mkdtemp(fx->dir) == NULL)
        return -1;
    snprintf(fx->data, sizeof(fx->data), "%s/data", fx->dir);
    fx_open(fx);
    return fx->be != NULL && fx->be->ops->bucket_create(fx->be, "bkt") == 0 ? 0 : -1;
}

static void fx_end(fixture_t *fx)
{
    if (fx->be != NULL)
        fx->be->ops->destroy(fx->be);
    nftw(fx->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void md5_hex(const void *d, size_t n, char out[33])
{
    unsigned char md[16];
    unsigned int len;
    EVP_Digest(d, n, md, &len, EVP_md5(), NULL);
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* A part of n bytes, all `fill`; ref gets its number and ETag. */
static int upload_part(zkp_backend_t *be, const char *key, const char *id, int number, size_t n,
                       char fill, zkp_part_ref_t *ref)
{
    char *buf = malloc(n ? n : 1);
    memset(buf, fill, n);
    zkp_put_t *p;
    int rc = be->ops->mpu_part_begin(be, "bkt", key, id, number, &p);
    if (rc == 0) {
        char etag[33];
        md5_hex(buf, n, etag);
        if (ref != NULL) {
            ref->number = number;
            snprintf(ref->etag, sizeof(ref->etag), "%s", etag);
        }
        rc = be->ops->put_write(p, buf, n);
        rc = rc == 0 ? be->ops->put_commit(p, etag, NULL, NULL) : (be->ops->put_abort(p), rc);
    }
    free(buf);
    return rc;
}

static char *create(zkp_backend_t *be, const char *key, const char *lock, uint64_t token)
{
    zkp_obj_meta_t m;
    memset(&m, 0, sizeof(m));
    zkp_obj_meta_add(&m, "content-type", "text/x-mpu");
    zkp_obj_meta_add(&m, "x-amz-meta-color", "teal");
    m.fence_lock = lock ? strdup(lock) : NULL;
    m.fence_token = token;
    char *id = NULL;
    int rc = be->ops->mpu_create(be, "bkt", key, &m, &id);
    zkp_obj_meta_free(&m);
    return rc == 0 ? id : NULL;
}

static int complete(zkp_backend_t *be, const char *key, const char *id, const zkp_part_ref_t *parts,
                    size_t n, const zkp_cond_t *pre, char etag[ZKP_ETAG_MAX + 1], size_t *bad)
{
    zkp_obj_meta_t prov;
    memset(&prov, 0, sizeof(prov));
    prov.fence_lock = "/locks/done";
    prov.fence_token = 77;
    zkp_put_t *p = NULL;
    size_t b = 0;
    int rc = be->ops->mpu_complete_begin(be, "bkt", key, id, parts, n, &prov, pre, &p, etag, &b);
    if (bad != NULL)
        *bad = b;
    if (rc != 0 || p == NULL)
        return rc;
    return be->ops->put_commit(p, etag, NULL, NULL);
}

static int uploads_of(zkp_backend_t *be, const char *prefix)
{
    zkp_upload_list_req_t req = {.prefix = prefix, .max_uploads = 1000};
    zkp_upload_list_result_t res;
    if (be->ops->mpu_list(be, "bkt", &req, &res) != 0)
        return -1;
    int n = (int)res.n;
    zkp_upload_list_result_free(&res);
    return n;
}

static void test_fs_complete(void)
{
    fixture_t fx;
    CU_ASSERT_EQUAL_FATAL(fx_start(&fx), 0);
    zkp_backend_t *be = fx.be;
    char *id = create(be, "big", "/locks/l", 41);
    CU_ASSERT_PTR_NOT_NULL_FATAL(id);
    CU_ASSERT_EQUAL(strlen(id), 40);
    zkp_obj_meta_t m;
    CU_ASSERT_EQUAL_FATAL(be->ops->mpu_stat(be, "bkt", "big", id, &m), 0);
    CU_ASSERT_STRING_EQUAL(m.fence_lock, "/locks/l");
    CU_ASSERT_EQUAL(m.fence_token, 41);
    CU_ASSERT_EQUAL(m.nheaders, 2);
    CU_ASSERT(m.mtime > 0);
    zkp_obj_meta_free(&m);
    CU_ASSERT_EQUAL(be->ops->mpu_stat(be, "bkt", "other", id, &m), ZKP_BE_NO_UPLOAD);
    CU_ASSERT_EQUAL(be->ops->mpu_stat(be, "bkt", "big", "nope", &m), ZKP_BE_NO_UPLOAD);
    CU_ASSERT_EQUAL(be->ops->mpu_stat(be, "none", "big", id, &m), ZKP_BE_NO_BUCKET);

    zkp_part_ref_t parts[3];
    CU_ASSERT_EQUAL(upload_part(be, "big", id, 1, 5 * MIB, 'a', &parts[0]), 0);
    CU_ASSERT_EQUAL(upload_part(be, "big", id, 2, 5 * MIB, 'x', &parts[1]), 0);
    /* Re-uploading a number replaces the part. */
    CU_ASSERT_EQUAL(upload_part(be, "big", id, 2, 5 * MIB, 'b', &parts[1]), 0);
    CU_ASSERT_EQUAL(upload_part(be, "big", id, 4, 3, 'c', &parts[2]), 0);
    CU_ASSERT_EQUAL(upload_part(be, "big", id, 0, 3, 'c', NULL), ZKP_BE_INVALID_PART);
    CU_ASSERT_EQUAL(upload_part(be, "big", id, 10001, 3, 'c', NULL), ZKP_BE_INVALID_PART);
    CU_ASSERT_EQUAL(upload_part(be, "big", "nope", 1, 3, 'c', NULL), ZKP_BE_NO_UPLOAD);

    /* ListParts, in pages. */
    zkp_part_list_t l;
    CU_ASSERT_EQUAL_FATAL(be->ops->mpu_list_parts(be, "bkt", "big", id, 0, 2, &l), 0);
    CU_ASSERT_EQUAL(l.n, 2);
    CU_ASSERT_TRUE(l.truncated);
    CU_ASSERT_EQUAL(l.next_marker, 2);
    CU_ASSERT_EQUAL(l.parts[1].number, 2);
    CU_ASSERT_STRING_EQUAL(l.parts[1].etag, parts[1].etag);
    CU_ASSERT_EQUAL(l.parts[1].size, 5 * MIB);
    zkp_part_list_free(&l);
    CU_ASSERT_EQUAL_FATAL(be->ops->mpu_list_parts(be, "bkt", "big", id, 2, 2, &l), 0);
    CU_ASSERT_EQUAL(l.n, 1);
    CU_ASSERT_FALSE(l.truncated);
    CU_ASSERT_EQUAL(l.parts[0].number, 4);
    CU_ASSERT_EQUAL(l.parts[0].size, 3);
    zkp_part_list_free(&l);

    char etag[ZKP_ETAG_MAX + 1], again[ZKP_ETAG_MAX + 1];
    CU_ASSERT_EQUAL_FATAL(complete(be, "big", id, parts, 3, NULL, etag, NULL), 0);
    /* md5 of the binary md5s, "-3". */
    unsigned char bins[48];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 16; j++)
            sscanf(parts[i].etag + 2 * j, "%2hhx", &bins[16 * i + j]);
    char want[40];
    md5_hex(bins, sizeof(bins), want);
    strcat(want, "-3");
    CU_ASSERT_STRING_EQUAL(etag, want);

    zkp_reader_t *rd;
    CU_ASSERT_EQUAL_FATAL(be->ops->open(be, "bkt", "big", &m, &rd), 0);
    CU_ASSERT_EQUAL(m.size, 10 * MIB + 3);
    CU_ASSERT_STRING_EQUAL(m.etag, want);
    CU_ASSERT_STRING_EQUAL(m.fence_lock, "/locks/done"); /* the completion's fencing */
    CU_ASSERT_EQUAL(m.fence_token, 77);
    CU_ASSERT_EQUAL(m.nheaders, 2); /* the create's headers */
    char buf[4];
    CU_ASSERT(be->ops->read(rd, 0, buf, 1) == 1 && buf[0] == 'a');
    CU_ASSERT(be->ops->read(rd, 5 * MIB, buf, 1) == 1 && buf[0] == 'b');
    CU_ASSERT(be->ops->read(rd, 10 * MIB, buf, 4) == 3 && memcmp(buf, "ccc", 3) == 0);
    be->ops->close(rd);
    zkp_obj_meta_free(&m);

    /* Listed with its multipart ETag. */
    zkp_list_req_t lr = {.max_keys = 10};
    zkp_list_result_t res;
    CU_ASSERT_EQUAL_FATAL(be->ops->list(be, "bkt", &lr, &res), 0);
    CU_ASSERT_EQUAL_FATAL(res.n, 1);
    CU_ASSERT_STRING_EQUAL(res.items[0].etag, want);
    zkp_list_result_free(&res);

    /* The upload is gone; a retried completion gets the same answer, and
     * nothing is staged. */
    CU_ASSERT_EQUAL(uploads_of(be, NULL), 0);
    CU_ASSERT_EQUAL(be->ops->mpu_stat(be, "bkt", "big", id, &m), ZKP_BE_NO_UPLOAD);
    zkp_put_t *p = (zkp_put_t *)1;
    size_t bad;
    CU_ASSERT_EQUAL(
        be->ops->mpu_complete_begin(be, "bkt", "big", id, parts, 3, NULL, NULL, &p, again, &bad),
        0);
    CU_ASSERT_PTR_NULL(p);
    CU_ASSERT_STRING_EQUAL(again, want);
    CU_ASSERT_EQUAL(be->ops->mpu_abort(be, "bkt", "big", id), ZKP_BE_NO_UPLOAD);
    CU_ASSERT_EQUAL(upload_part(be, "big", id, 1, 3, 'c', NULL), ZKP_BE_NO_UPLOAD);
    /* Not once the key holds another object. */
    zkp_obj_meta_t none;
    memset(&none, 0, sizeof(none));
    CU_ASSERT_EQUAL_FATAL(be->ops->put_begin(be, "bkt", "big", &none, &p), 0);
    CU_ASSERT_EQUAL(be->ops->put_commit(p, "0123456789abcdef0123456789abcdef", NULL, NULL), 0);
    CU_ASSERT_EQUAL(
        be->ops->mpu_complete_begin(be, "bkt", "big", id, parts, 3, NULL, NULL, &p, again, &bad),
        ZKP_BE_NO_UPLOAD);
    free(id);
    fx_end(&fx);
}

/* Every refusal leaves the object and the upload as they were. */
static void test_fs_refusals(void)
{
    fixture_t fx;
    CU_ASSERT_EQUAL_FATAL(fx_start(&fx), 0);
    zkp_backend_t *be = fx.be;
    char *id = create(be, "k", NULL, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(id);
    zkp_part_ref_t parts[3];
    CU_ASSERT_EQUAL(upload_part(be, "k", id, 1, 5 * MIB - 1, 'a', &parts[0]), 0);
    CU_ASSERT_EQUAL(upload_part(be, "k", id, 2, 5 * MIB, 'b', &parts[1]), 0);
    CU_ASSERT_EQUAL(upload_part(be, "k", id, 3, 1, 'c', &parts[2]), 0);
    char etag[ZKP_ETAG_MAX + 1];
    size_t bad = 99;
    /* Part 1 is 1 byte short of 5 MiB, and not the last. */
    CU_ASSERT_EQUAL(complete(be, "k", id, parts, 3, NULL, etag, &bad), ZKP_BE_PART_TOO_SMALL);
    CU_ASSERT_EQUAL(bad, 0);
    /* Last, it may be small. */
    CU_ASSERT_EQUAL(complete(be, "k", id, parts + 1, 2, NULL, etag, &bad), ZKP_BE_OK);
    zkp_obj_meta_t m;
    CU_ASSERT_EQUAL(be->ops->open(be, "bkt", "k", &m, NULL), 0);
    CU_ASSERT_EQUAL(m.size, 5 * MIB + 1);
    zkp_obj_meta_free(&m);
    free(id);

    id = create(be, "k2", NULL, 0);
    CU_ASSERT_EQUAL(upload_part(be, "k2", id, 1, 5 * MIB, 'a', &parts[0]), 0);
    CU_ASSERT_EQUAL(upload_part(be, "k2", id, 2, 10, 'b', &parts[1]), 0);
    zkp_part_ref_t wrong[2] = {parts[0], parts[1]};
    wrong[1].etag[0] = wrong[1].etag[0] == 'f' ? '0' : 'f';
    CU_ASSERT_EQUAL(complete(be, "k2", id, wrong, 2, NULL, etag, &bad), ZKP_BE_INVALID_PART);
    CU_ASSERT_EQUAL(bad, 1);
    wrong[1] = parts[1];
    wrong[1].number = 3; /* never uploaded */
    CU_ASSERT_EQUAL(complete(be, "k2", id, wrong, 2, NULL, etag, &bad), ZKP_BE_INVALID_PART);
    CU_ASSERT_EQUAL(bad, 1);
    wrong[0].number = 10001;
    CU_ASSERT_EQUAL(complete(be, "k2", id, wrong, 1, NULL, etag, &bad), ZKP_BE_INVALID_PART);
    CU_ASSERT_EQUAL(be->ops->open(be, "bkt", "k2", &m, NULL), ZKP_BE_NO_KEY);
    CU_ASSERT_EQUAL(uploads_of(be, "k2"), 1);

    /* A staged completion that is aborted (a 412 in the section) leaves the
     * upload completable. */
    zkp_put_t *p;
    CU_ASSERT_EQUAL_FATAL(
        be->ops->mpu_complete_begin(be, "bkt", "k2", id, parts, 2, NULL, NULL, &p, etag, &bad), 0);
    be->ops->put_abort(p);
    CU_ASSERT_EQUAL(be->ops->open(be, "bkt", "k2", &m, NULL), ZKP_BE_NO_KEY);
    CU_ASSERT_EQUAL(uploads_of(be, "k2"), 1);

    /* Preconditions, checked at the publication. */
    zkp_cond_t none_match = {.if_none_match = "*"};
    char *id3 = create(be, "k", NULL, 0);
    CU_ASSERT_EQUAL(upload_part(be, "k", id3, 1, 7, 'z', &parts[2]), 0);
    CU_ASSERT_EQUAL(complete(be, "k", id3, &parts[2], 1, &none_match, etag, NULL),
                    ZKP_BE_PRECONDITION);
    zkp_cond_t match_other = {.if_match = "0123456789abcdef0123456789abcdef"};
    CU_ASSERT_EQUAL(complete(be, "k", id3, &parts[2], 1, &match_other, etag, NULL),
                    ZKP_BE_PRECONDITION);
    CU_ASSERT_EQUAL(be->ops->open(be, "bkt", "k", &m, NULL), 0);
    CU_ASSERT_EQUAL(m.size, 5 * MIB + 1); /* untouched */
    char current[ZKP_ETAG_MAX + 1];
    snprintf(current, sizeof(current), "%s", m.etag);
    zkp_obj_meta_free(&m);
    zkp_cond_t match = {.if_match = current};
    CU_ASSERT_EQUAL(complete(be, "k", id3, &parts[2], 1, &match, etag, NULL), ZKP_BE_OK);
    CU_ASSERT_EQUAL(be->ops->open(be, "bkt", "k", &m, NULL), 0);
    CU_ASSERT_EQUAL(m.size, 7);
    zkp_obj_meta_free(&m);
    /* Nothing may be there, and nothing is: k3 is new. */
    char *id4 = create(be, "k3", NULL, 0);
    CU_ASSERT_EQUAL(upload_part(be, "k3", id4, 1, 7, 'z', &parts[2]), 0);
    CU_ASSERT_EQUAL(complete(be, "k3", id4, &parts[2], 1, &none_match, etag, NULL), ZKP_BE_OK);

    /* Abort. */
    CU_ASSERT_EQUAL(be->ops->mpu_abort(be, "bkt", "other", id), ZKP_BE_NO_UPLOAD);
    CU_ASSERT_EQUAL(be->ops->mpu_abort(be, "bkt", "k2", id), 0);
    CU_ASSERT_EQUAL(be->ops->mpu_abort(be, "bkt", "k2", id), ZKP_BE_NO_UPLOAD);
    CU_ASSERT_EQUAL(upload_part(be, "k2", id, 3, 3, 'c', NULL), ZKP_BE_NO_UPLOAD);
    CU_ASSERT_EQUAL(uploads_of(be, NULL), 0);
    free(id);
    free(id3);
    free(id4);
    fx_end(&fx);
}

/* A part committed after its upload ended, and the copy of a range. */
static void test_fs_parts(void)
{
    fixture_t fx;
    CU_ASSERT_EQUAL_FATAL(fx_start(&fx), 0);
    zkp_backend_t *be = fx.be;
    char *id = create(be, "k", NULL, 0);
    zkp_put_t *p;
    CU_ASSERT_EQUAL_FATAL(be->ops->mpu_part_begin(be, "bkt", "k", id, 1, &p), 0);
    CU_ASSERT_EQUAL(be->ops->put_write(p, "late", 4), 0);
    CU_ASSERT_EQUAL(be->ops->mpu_abort(be, "bkt", "k", id), 0);
    CU_ASSERT_EQUAL(be->ops->put_commit(p, "0123456789abcdef0123456789abcdef", NULL, NULL),
                    ZKP_BE_NO_UPLOAD);
    free(id);

    /* UploadPartCopy: the range's bytes and their MD5. */
    zkp_obj_meta_t none;
    memset(&none, 0, sizeof(none));
    CU_ASSERT_EQUAL_FATAL(be->ops->put_begin(be, "bkt", "src", &none, &p), 0);
    CU_ASSERT_EQUAL(be->ops->put_write(p, "0123456789", 10), 0);
    CU_ASSERT_EQUAL(be->ops->put_commit(p, "781e5e245d69b566979b86e28d23f2c7", NULL, NULL), 0);
    id = create(be, "dst", NULL, 0);
    char etag[ZKP_ETAG_MAX + 1], want[33];
    CU_ASSERT_EQUAL_FATAL(
        be->ops->mpu_part_copy_begin(be, "bkt", "dst", id, 1, "bkt", "src", 1, 2, 5, &p, etag), 0);
    md5_hex("2345", 4, want);
    CU_ASSERT_STRING_EQUAL(etag, want);
    CU_ASSERT_EQUAL(be->ops->put_commit(p, etag, NULL, NULL), 0);
    CU_ASSERT_EQUAL_FATAL(
        be->ops->mpu_part_copy_begin(be, "bkt", "dst", id, 2, "bkt", "src", 0, 0, 0, &p, etag), 0);
    md5_hex("0123456789", 10, want);
    CU_ASSERT_STRING_EQUAL(etag, want);
    CU_ASSERT_EQUAL(be->ops->put_commit(p, etag, NULL, NULL), 0);
    CU_ASSERT_EQUAL(
        be->ops->mpu_part_copy_begin(be, "bkt", "dst", id, 3, "bkt", "src", 1, 5, 10, &p, etag),
        ZKP_BE_BAD_RANGE);
    CU_ASSERT_EQUAL(
        be->ops->mpu_part_copy_begin(be, "bkt", "dst", id, 3, "bkt", "nope", 0, 0, 0, &p, etag),
        ZKP_BE_NO_KEY);
    CU_ASSERT_EQUAL(
        be->ops->mpu_part_copy_begin(be, "bkt", "dst", "x", 3, "bkt", "src", 0, 0, 0, &p, etag),
        ZKP_BE_NO_UPLOAD);
    zkp_part_list_t l;
    CU_ASSERT_EQUAL_FATAL(be->ops->mpu_list_parts(be, "bkt", "dst", id, 0, 1000, &l), 0);
    CU_ASSERT_EQUAL(l.n, 2);
    CU_ASSERT_EQUAL(l.parts[0].size, 4);
    CU_ASSERT_EQUAL(l.parts[1].size, 10);
    zkp_part_list_free(&l);
    free(id);
    fx_end(&fx);
}

/* ListMultipartUploads: sorted by key then initiation, prefixes, markers,
 * pages. */
static char *uploads_page(zkp_backend_t *be, const char *prefix, const char *delim, const char *km,
                          const char *uim, int max, char **nk, char **nu)
{
    zkp_upload_list_req_t req = {prefix, delim, km, uim, max};
    zkp_upload_list_result_t res;
    if (be->ops->mpu_list(be, "bkt", &req, &res) != 0)
        return NULL;
    zkp_buf_t b;
    zkp_buf_init(&b);
    for (size_t i = 0; i < res.n; i++)
        zkp_buf_printf(&b, "%s%s%s", i ? " " : "", res.items[i].is_prefix ? "P:" : "",
                       res.items[i].key);
    *nk = res.truncated ? strdup(res.next_key) : NULL;
    *nu = res.truncated && res.next_upload_id ? strdup(res.next_upload_id) : NULL;
    zkp_upload_list_result_free(&res);
    return zkp_buf_steal(&b, NULL);
}

#define PAGE_IS(got, want)                                                                         \
    do {                                                                                           \
        char *g_ = (got);                                                                          \
        CU_ASSERT_PTR_NOT_NULL(g_);                                                                \
        if (g_ != NULL && strcmp(g_, want) != 0) {                                                 \
            fprintf(stderr, "page '%s', wanted '%s'\n", g_, want);                                 \
            CU_FAIL("page");                                                                       \
        }                                                                                          \
        free(g_);                                                                                  \
    } while (0)

static void test_fs_list_uploads(void)
{
    fixture_t fx;
    CU_ASSERT_EQUAL_FATAL(fx_start(&fx), 0);
    zkp_backend_t *be = fx.be;
    const char *keys[] = {"b", "a/2", "a/1", "b", "c/x/y", "d"};
    char *ids[6];
    for (int i = 0; i < 6; i++)
        CU_ASSERT_PTR_NOT_NULL_FATAL(ids[i] = create(be, keys[i], NULL, 0));
    /* The two uploads of "b" in initiation order: ids[0] first. */
    CU_ASSERT(strcmp(ids[0], ids[3]) < 0);
    char *nk, *nu;
    PAGE_IS(uploads_page(be, NULL, NULL, NULL, NULL, 1000, &nk, &nu), "a/1 a/2 b b c/x/y d");
    CU_ASSERT_PTR_NULL(nk);
    PAGE_IS(uploads_page(be, NULL, "/", NULL, NULL, 1000, &nk, &nu), "P:a/ b b P:c/ d");
    PAGE_IS(uploads_page(be, "c/", "/", NULL, NULL, 1000, &nk, &nu), "P:c/x/");
    PAGE_IS(uploads_page(be, "a/", NULL, NULL, NULL, 1000, &nk, &nu), "a/1 a/2");
    /* Pages of 3: the second upload of b starts the next one. */
    PAGE_IS(uploads_page(be, NULL, NULL, NULL, NULL, 3, &nk, &nu), "a/1 a/2 b");
    CU_ASSERT_STRING_EQUAL(nk, "b");
    CU_ASSERT_STRING_EQUAL(nu, ids[0]);
    char *nk2, *nu2;
    PAGE_IS(uploads_page(be, NULL, NULL, nk, nu, 3, &nk2, &nu2), "b c/x/y d");
    CU_ASSERT_PTR_NULL(nk2);
    free(nk);
    free(nu);
    /* key-marker alone: keys after it. */
    PAGE_IS(uploads_page(be, NULL, NULL, "b", NULL, 1000, &nk, &nu), "c/x/y d");
    /* With a delimiter, a page ends on a prefix, and the next skips it. */
    PAGE_IS(uploads_page(be, NULL, "/", NULL, NULL, 1, &nk, &nu), "P:a/");
    CU_ASSERT_STRING_EQUAL(nk, "a/");
    CU_ASSERT_PTR_NULL(nu);
    PAGE_IS(uploads_page(be, NULL, "/", nk, NULL, 2, &nk2, &nu2), "b b");
    free(nk);
    free(nu);
    free(nk2);
    free(nu2);
    PAGE_IS(uploads_page(be, NULL, NULL, NULL, NULL, 0, &nk, &nu), "");
    for (int i = 0; i < 6; i++)
        free(ids[i]);
    zkp_upload_list_result_t res;
    zkp_upload_list_req_t req = {.max_uploads = 10};
    CU_ASSERT_EQUAL(be->ops->mpu_list(be, "none", &req, &res), ZKP_BE_NO_BUCKET);
    /* A bucket with uploads but no object can be deleted; its uploads go. */
    CU_ASSERT_EQUAL(be->ops->bucket_delete(be, "bkt"), 0);
    CU_ASSERT_EQUAL(be->ops->bucket_create(be, "bkt"), 0);
    CU_ASSERT_EQUAL(uploads_of(be, NULL), 0);
    fx_end(&fx);
}

static void upload_dir(const fixture_t *fx, const char *id, char *out, size_t cap)
{
    snprintf(out, cap, "%s/objects/bkt/.uploads/%s", fx->data, id);
}

/* The age sweep: uploads initiated before the cutoff go, with their
 * parts; the rest stay. */
static void test_fs_sweep(void)
{
    fixture_t fx;
    CU_ASSERT_EQUAL_FATAL(fx_start(&fx), 0);
    zkp_backend_t *be = fx.be;
    char *a = create(be, "a", NULL, 0), *b = create(be, "b", NULL, 0);
    CU_ASSERT_EQUAL(upload_part(be, "a", a, 1, 100, 'a', NULL), 0);
    CU_ASSERT_EQUAL(be->ops->mpu_sweep(be, time(NULL) - 3600), 0);
    CU_ASSERT_EQUAL(uploads_of(be, NULL), 2);
    CU_ASSERT_EQUAL(be->ops->mpu_sweep(be, time(NULL) + 2), 2);
    CU_ASSERT_EQUAL(uploads_of(be, NULL), 0);
    char dir[512];
    upload_dir(&fx, a, dir, sizeof(dir));
    CU_ASSERT_EQUAL(access(dir, F_OK), -1); /* and its space freed */
    CU_ASSERT_EQUAL(upload_part(be, "b", b, 1, 100, 'a', NULL), ZKP_BE_NO_UPLOAD);
    free(a);
    free(b);
    fx_end(&fx);
}

/* Start-up recovery of what a crash leaves: the upload of a completion
 * whose object was published (removed: completed), an upload without a
 * readable manifest (removed), an unfinished upload (kept, completable). */
static void test_fs_recovery(void)
{
    fixture_t fx;
    CU_ASSERT_EQUAL_FATAL(fx_start(&fx), 0);
    zkp_backend_t *be = fx.be;
    char *done = create(be, "done", "/locks/r", 5), *live = create(be, "live", "/locks/r", 5);
    zkp_part_ref_t pd, pl;
    CU_ASSERT_EQUAL(upload_part(be, "done", done, 1, 1000, 'd', &pd), 0);
    CU_ASSERT_EQUAL(upload_part(be, "live", live, 1, 1000, 'l', &pl), 0);
    char ddir[512], copy[600], cmd[1400];
    upload_dir(&fx, done, ddir, sizeof(ddir));
    snprintf(copy, sizeof(copy), "%s/saved", fx.dir);
    snprintf(cmd, sizeof(cmd), "cp -a %s %s", ddir, copy);
    CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
    char etag[ZKP_ETAG_MAX + 1];
    CU_ASSERT_EQUAL_FATAL(complete(be, "done", done, &pd, 1, NULL, etag, NULL), 0);
    be->ops->destroy(be);
    fx.be = NULL;
    /* The crash: the object is in place, the upload not yet removed. */
    CU_ASSERT_EQUAL_FATAL(rename(copy, ddir), 0);
    char junk[600], jm[700];
    snprintf(junk, sizeof(junk), "%s/objects/bkt/.uploads/%040d", fx.data, 7);
    CU_ASSERT_EQUAL_FATAL(mkdir(junk, 0755), 0);
    snprintf(jm, sizeof(jm), "%s/manifest", junk);
    FILE *f = fopen(jm, "w");
    fputs("not a manifest", f);
    fclose(f);
    fx_open(&fx);
    be = fx.be;
    CU_ASSERT_PTR_NOT_NULL_FATAL(be);
    CU_ASSERT_EQUAL(access(ddir, F_OK), -1);
    CU_ASSERT_EQUAL(access(junk, F_OK), -1);
    CU_ASSERT_EQUAL(uploads_of(be, NULL), 1);
    /* Its retry is answered again. */
    zkp_put_t *p;
    size_t bad;
    char again[ZKP_ETAG_MAX + 1];
    CU_ASSERT_EQUAL(
        be->ops->mpu_complete_begin(be, "bkt", "done", done, &pd, 1, NULL, NULL, &p, again, &bad),
        0);
    CU_ASSERT_PTR_NULL(p);
    CU_ASSERT_STRING_EQUAL(again, etag);
    /* The unfinished one completes. */
    CU_ASSERT_EQUAL(complete(be, "live", live, &pl, 1, NULL, etag, NULL), 0);
    zkp_obj_meta_t m;
    CU_ASSERT_EQUAL(be->ops->open(be, "bkt", "live", &m, NULL), 0);
    CU_ASSERT_EQUAL(m.size, 1000);
    zkp_obj_meta_free(&m);
    free(done);
    free(live);
    fx_end(&fx);
}

static void add_tests(void *suite)
{
    CU_add_test(suite, "classify_ops", test_classify_ops);
    CU_add_test(suite, "classify_params", test_classify_params);
    CU_add_test(suite, "classify_refusals", test_classify_refusals);
    CU_add_test(suite, "xml_complete", test_xml_complete);
    CU_add_test(suite, "xml_delete_versions", test_xml_delete_versions);
    CU_add_test(suite, "config_max_age", test_config_max_age);
    CU_add_test(suite, "fs_complete", test_fs_complete);
    CU_add_test(suite, "fs_refusals", test_fs_refusals);
    CU_add_test(suite, "fs_parts", test_fs_parts);
    CU_add_test(suite, "fs_list_uploads", test_fs_list_uploads);
    CU_add_test(suite, "fs_sweep", test_fs_sweep);
    CU_add_test(suite, "fs_recovery", test_fs_recovery);
}

int main(void)
{
    return pt_run_suite("proxy_multipart_unit", add_tests);
}
