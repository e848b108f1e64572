/* Multipart upload and the versioning answers against a running proxy, in
 * the curl style: the request sent, the answer expected, and what must (or
 * must not) reach storage. Every S3 rule and refusal of the seven multipart
 * operations; the fencing rules on every step (stale create, stale part,
 * stale completion, a part after a successor wrote, a token overtaken while
 * a part streams, another lock, a later holder taking an upload over);
 * kill -9 between parts, and during a completion, then restart; the age
 * sweep, periodic and at start-up; and the versioning answers, with a
 * bucket emptied through ListObjectVersions and DeleteObjects. */
#include <CUnit/Basic.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define MIB (1024 * 1024)
#define L1 "X-Fencing-Lock: /locks/mp"

static pt_proxy_t px; /* the suite's proxy: fencing required, except mp-open */

/* --- helpers ------------------------------------------------------------------------- */

static void fill(char *buf, size_t n, unsigned seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[i] = (char)x;
    }
}

static void md5_hex(const void *d, size_t n, char out[33])
{
    unsigned char md[16];
    unsigned int len;
    EVP_Digest(d, n, md, &len, EVP_md5(), NULL);
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* The multipart ETag of parts with these hex MD5s. */
static void mp_etag(char (*etags)[33], int n, char out[48])
{
    unsigned char bins[16 * 16];
    for (int i = 0; i < n; i++)
        for (int j = 0; j < 16; j++)
            sscanf(etags[i] + 2 * j, "%2hhx", &bins[16 * i + j]);
    md5_hex(bins, (size_t)(16 * n), out);
    snprintf(out + 32, 16, "-%d", n);
}

/* The text of the first <tag>...</tag> of body, malloc'ed, or NULL. */
static char *xml_value(const char *body, const char *tag)
{
    char open[64], close[64];
    snprintf(open, sizeof(open), "<%s>", tag);
    snprintf(close, sizeof(close), "</%s>", tag);
    const char *a = body ? strstr(body, open) : NULL;
    const char *z = a ? strstr(a, close) : NULL;
    return z ? strndup(a + strlen(open), (size_t)(z - a - strlen(open))) : NULL;
}

static int count_of(const char *body, const char *needle)
{
    int n = 0;
    for (const char *p = body; p && (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

static long req(const pt_proxy_t *p, const char *method, const char *path, const char *const *hdrs,
                const void *body, size_t len, pt_resp_t *out)
{
    pt_http(p, method, path, hdrs, body, len, out);
    if (out->status >= 400 && getenv("PT_VERBOSE"))
        fprintf(stderr, "%s %s -> %ld %s\n", method, path, out->status, out->body);
    return out->status;
}

static long status_of(const pt_proxy_t *p, const char *method, const char *path,
                      const char *const *hdrs, const void *body, size_t len)
{
    pt_resp_t r;
    long st = req(p, method, path, hdrs, body, len, &r);
    pt_resp_free(&r);
    return st;
}

static void mkbucket(const pt_proxy_t *p, const char *name)
{
    char path[128];
    snprintf(path, sizeof(path), "/%s", name);
    CU_ASSERT_EQUAL(status_of(p, "PUT", path, NULL, NULL, 0), 200);
}

/* CreateMultipartUpload: the upload id (malloc'ed), or NULL with *st set. */
static char *create(const pt_proxy_t *p, const char *path, const char *const *hdrs, long *st)
{
    char url[512];
    snprintf(url, sizeof(url), "%s?uploads", path);
    pt_resp_t r;
    long s = req(p, "POST", url, hdrs, NULL, 0, &r);
    if (st != NULL)
        *st = s;
    char *id = s == 200 ? xml_value(r.body, "UploadId") : NULL;
    pt_resp_free(&r);
    return id;
}

/* UploadPart: the status; etag (33 bytes, may be NULL) gets the part's
 * unquoted ETag. */
static long part(const pt_proxy_t *p, const char *path, const char *id, int n, const void *data,
                 size_t len, const char *const *hdrs, char *etag)
{
    char url[512];
    snprintf(url, sizeof(url), "%s?partNumber=%d&uploadId=%s", path, n, id);
    pt_resp_t r;
    long st = req(p, "PUT", url, hdrs, data, len, &r);
    char v[64] = "";
    if (etag != NULL) {
        /* "hex": the 32 digits between the quotes. */
        memset(etag, 0, 33);
        if (pt_header(&r, "ETag", v, sizeof(v)) != NULL && strlen(v) == 34)
            memcpy(etag, v + 1, 32);
    }
    pt_resp_free(&r);
    return st;
}

/* CompleteMultipartUpload of parts 1..n (or the numbers given). */
static long complete(const pt_proxy_t *p, const char *path, const char *id, const int *nums,
                     char (*etags)[33], int n, const char *const *hdrs, pt_resp_t *out)
{
    size_t cap = 256 + (size_t)n * 128;
    char *body = malloc(cap);
    size_t len = (size_t)snprintf(body, cap, "<CompleteMultipartUpload>");
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(body + len, cap - len,
                                "<Part><PartNumber>%d</PartNumber><ETag>\"%s\"</ETag></Part>",
                                nums ? nums[i] : i + 1, etags[i]);
    len += (size_t)snprintf(body + len, cap - len, "</CompleteMultipartUpload>");
    char url[512];
    snprintf(url, sizeof(url), "%s?uploadId=%s", path, id);
    long st = req(p, "POST", url, hdrs, body, len, out);
    free(body);
    return st;
}

static long complete_status(const pt_proxy_t *p, const char *path, const char *id,
                            char (*etags)[33], int n, const char *const *hdrs)
{
    pt_resp_t r;
    long st = complete(p, path, id, NULL, etags, n, hdrs, &r);
    pt_resp_free(&r);
    return st;
}

static int parts_listed(const pt_proxy_t *p, const char *path, const char *id)
{
    char url[512];
    snprintf(url, sizeof(url), "%s?uploadId=%s", path, id);
    pt_resp_t r;
    int n = req(p, "GET", url, NULL, NULL, 0, &r) == 200 ? count_of(r.body, "<Part>") : -1;
    pt_resp_free(&r);
    return n;
}

static int uploads_listed(const pt_proxy_t *p, const char *bucket)
{
    char url[512];
    snprintf(url, sizeof(url), "/%s?uploads", bucket);
    pt_resp_t r;
    int n = req(p, "GET", url, NULL, NULL, 0, &r) == 200 ? count_of(r.body, "<Upload>") : -1;
    pt_resp_free(&r);
    return n;
}

/* The whole object, compared with want; its ETag header into etag. */
static int object_is(const pt_proxy_t *p, const char *path, const void *want, size_t len,
                     char *etag, size_t cap)
{
    pt_resp_t r;
    long st = req(p, "GET", path, NULL, NULL, 0, &r);
    int same = st == 200 && r.len == len && memcmp(r.body, want, len) == 0;
    if (!same) {
        size_t at = 0;
        while (st == 200 && at < len && at < r.len && r.body[at] == ((const char *)want)[at])
            at++;
        fprintf(stderr, "GET %s: status %ld, %zu bytes (want %zu), first difference at %zu\n", path,
                st, r.len, len, at);
    }
    char v[96];
    if (etag != NULL)
        snprintf(etag, cap, "%s", pt_header(&r, "ETag", v, sizeof(v)) ? v : "");
    pt_resp_free(&r);
    return same;
}

/* --- the rules ----------------------------------------------------------------------- */

static void test_upload_complete(void)
{
    mkbucket(&px, "mp-basic");
    const char *h[] = {L1, "X-Fencing-Token: 10", "Content-Type: text/x-mp",
                       "x-amz-meta-color: green", NULL};
    pt_resp_t r;
    CU_ASSERT_EQUAL_FATAL(req(&px, "POST", "/mp-basic/dir/obj?uploads", h, NULL, 0, &r), 200);
    CU_ASSERT_TRUE(pt_body_has(&r, "<InitiateMultipartUploadResult"));
    CU_ASSERT_TRUE(pt_body_has(&r, "<Bucket>mp-basic</Bucket><Key>dir/obj</Key>"));
    char *id = xml_value(r.body, "UploadId");
    pt_resp_free(&r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(id);

    size_t sizes[3] = {6 * MIB, 5 * MIB, 1234};
    size_t total = sizes[0] + sizes[1] + sizes[2];
    char *data = malloc(total);
    fill(data, total, 1);
    char etags[3][33];
    /* Out of order, as parallel clients send them; no fencing headers: the
     * upload's record fences them. */
    int order[3] = {2, 0, 1};
    size_t offs[3] = {0, sizes[0], sizes[0] + sizes[1]};
    for (int i = 0; i < 3; i++) {
        int k = order[i];
        CU_ASSERT_EQUAL(
            part(&px, "/mp-basic/dir/obj", id, k + 1, data + offs[k], sizes[k], NULL, etags[k]),
            200);
        char want[33];
        md5_hex(data + offs[k], sizes[k], want);
        CU_ASSERT_STRING_EQUAL(etags[k], want);
    }
    /* ListParts and ListMultipartUploads show it. */
    char url[256];
    snprintf(url, sizeof(url), "/mp-basic/dir/obj?uploadId=%s", id);
    CU_ASSERT_EQUAL(req(&px, "GET", url, NULL, NULL, 0, &r), 200);
    CU_ASSERT_EQUAL(count_of(r.body, "<Part>"), 3);
    CU_ASSERT_TRUE(pt_body_has(&r, "<Size>6291456</Size>"));
    CU_ASSERT_TRUE(pt_body_has(&r, "<PartNumber>3</PartNumber>"));
    CU_ASSERT_TRUE(pt_body_has(&r, "<IsTruncated>false</IsTruncated>"));
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(req(&px, "GET", "/mp-basic?uploads", NULL, NULL, 0, &r), 200);
    CU_ASSERT_TRUE(pt_body_has(&r, "<Key>dir/obj</Key>"));
    CU_ASSERT_TRUE(pt_body_has(&r, id));
    pt_resp_free(&r);
    /* Not visible before the completion. */
    CU_ASSERT_EQUAL(status_of(&px, "GET", "/mp-basic/dir/obj", NULL, NULL, 0), 404);

    CU_ASSERT_EQUAL_FATAL(complete(&px, "/mp-basic/dir/obj", id, NULL, etags, 3, NULL, &r), 200);
    char want[48], quoted[96];
    mp_etag(etags, 3, want);
    snprintf(quoted, sizeof(quoted), "<ETag>&quot;%s&quot;</ETag>", want);
    CU_ASSERT_TRUE(pt_body_has(&r, quoted));
    CU_ASSERT_TRUE(pt_body_has(&r, "<Key>dir/obj</Key>"));
    CU_ASSERT_TRUE(pt_body_has(&r, "/mp-basic/dir/obj</Location>"));
    pt_resp_free(&r);

    char got[96];
    CU_ASSERT_TRUE(object_is(&px, "/mp-basic/dir/obj", data, total, got, sizeof(got)));
    snprintf(quoted, sizeof(quoted), "\"%s\"", want);
    CU_ASSERT_STRING_EQUAL(got, quoted);
    char v[128];
    CU_ASSERT_EQUAL(req(&px, "HEAD", "/mp-basic/dir/obj", NULL, NULL, 0, &r), 200);
    CU_ASSERT_STRING_EQUAL(pt_header(&r, "Content-Type", v, sizeof(v)) ? v : "", "text/x-mp");
    CU_ASSERT_STRING_EQUAL(pt_header(&r, "x-amz-meta-color", v, sizeof(v)) ? v : "", "green");
    CU_ASSERT_STRING_EQUAL(pt_header(&r, "X-Fencing-Token", v, sizeof(v)) ? v : "", "10");
    CU_ASSERT_PTR_NULL(pt_header(&r, "x-amz-meta-fencing-lock", v, sizeof(v)));
    pt_resp_free(&r);
    /* A range across a part boundary. */
    const char *rh[] = {"Range: bytes=6291450-6291469", NULL};
    CU_ASSERT_EQUAL(req(&px, "GET", "/mp-basic/dir/obj", rh, NULL, 0, &r), 206);
    CU_ASSERT(r.len == 20 && memcmp(r.body, data + 6291450, 20) == 0);
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(req(&px, "GET", "/mp-basic?list-type=2", NULL, NULL, 0, &r), 200);
    snprintf(quoted, sizeof(quoted), "<ETag>&quot;%s&quot;</ETag>", want);
    CU_ASSERT_TRUE(pt_body_has(&r, quoted));
    pt_resp_free(&r);

    /* The upload is over: not listed, its parts gone; a retried completion
     * (its answer lost) gets the same answer. */
    CU_ASSERT_EQUAL(uploads_listed(&px, "mp-basic"), 0);
    CU_ASSERT_EQUAL(pt_count_files(&px, "objects/mp-basic"), 1); /* the object alone */
    CU_ASSERT_EQUAL(complete(&px, "/mp-basic/dir/obj", id, NULL, etags, 3, NULL, &r), 200);
    CU_ASSERT_TRUE(pt_body_has(&r, quoted));
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(part(&px, "/mp-basic/dir/obj", id, 1, "x", 1, NULL, NULL), 404);
    CU_ASSERT_EQUAL(status_of(&px, "GET", url, NULL, NULL, 0), 404);
    /* A copy is one object: its ETag is the MD5 of its bytes. */
    const char *ch[] = {L1, "X-Fencing-Token: 10", "x-amz-copy-source: /mp-basic/dir/obj", NULL};
    CU_ASSERT_EQUAL(req(&px, "PUT", "/mp-basic/copy", ch, NULL, 0, &r), 200);
    char plain[33];
    md5_hex(data, total, plain);
    CU_ASSERT_TRUE(pt_body_has(&r, plain));
    CU_ASSERT_FALSE(pt_body_has(&r, want));
    pt_resp_free(&r);
    CU_ASSERT_TRUE(object_is(&px, "/mp-basic/copy", data, total, got, sizeof(got)));
    CU_ASSERT_PTR_NOT_NULL(strstr(got, plain));
    CU_ASSERT_EQUAL(pt_audit_count(&px, "\"op\":\"UploadPart\""), 3);
    CU_ASSERT_EQUAL(pt_audit_count(&px, "\"verdict\":\"accepted_equal\",\"bucket\":\"mp-basic\","
                                        "\"key\":\"dir/obj\",\"op\":\"CompleteMultipartUpload\""),
                    1);
    free(data);
    free(id);
}

/* Every refusal of the completion, each leaving nothing written. */
static void test_complete_refusals(void)
{
    mkbucket(&px, "mp-rules");
    const char *h[] = {L1, "X-Fencing-Token: 10", NULL};
    const char *path = "/mp-rules/k";
    char *id = create(&px, path, h, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(id);
    char *small = malloc(5 * MIB);
    fill(small, 5 * MIB, 2);
    char etags[3][33];
    CU_ASSERT_EQUAL(part(&px, path, id, 1, small, 5 * MIB - 1, NULL, etags[0]), 200);
    CU_ASSERT_EQUAL(part(&px, path, id, 2, small, 5 * MIB, NULL, etags[1]), 200);
    CU_ASSERT_EQUAL(part(&px, path, id, 3, "tail", 4, NULL, etags[2]), 200);
    pt_resp_t r;

    /* EntityTooSmall: part 1 is one byte short of 5 MiB. */
    CU_ASSERT_EQUAL(complete(&px, path, id, NULL, etags, 3, NULL, &r), 400);
    CU_ASSERT_TRUE(pt_body_has(&r, "<Code>EntityTooSmall</Code>"));
    CU_ASSERT_TRUE(pt_body_has(&r, "<PartNumber>1</PartNumber>"));
    pt_resp_free(&r);
    /* InvalidPartOrder. */
    int rev[2] = {3, 2};
    char revtags[2][33];
    memcpy(revtags[0], etags[2], 33);
    memcpy(revtags[1], etags[1], 33);
    CU_ASSERT_EQUAL(complete(&px, path, id, rev, revtags, 2, NULL, &r), 400);
    CU_ASSERT_TRUE(pt_body_has(&r, "<Code>InvalidPartOrder</Code>"));
    pt_resp_free(&r);
    int dup[2] = {2, 2};
    CU_ASSERT_EQUAL(complete(&px, path, id, dup, etags + 1, 2, NULL, &r), 400);
    CU_ASSERT_TRUE(pt_body_has(&r, "<Code>InvalidPartOrder</Code>"));
    pt_resp_free(&r);
    /* InvalidPart: never uploaded, and another ETag. */
    int missing[2] = {2, 4};
    CU_ASSERT_EQUAL(complete(&px, path, id, missing, etags + 1, 2, NULL, &r), 400);
    CU_ASSERT_TRUE(pt_body_has(&r, "<Code>InvalidPart</Code>"));
    CU_ASSERT_TRUE(pt_body_has(&r, "<PartNumber>4</PartNumber>"));
    pt_resp_free(&r);
    char other[2][33];
    memcpy(other[0], etags[1], 33);
    memcpy(other[1], etags[1], 33); /* part 3 listed with part 2's ETag */
    int nums[2] = {2, 3};
    CU_ASSERT_EQUAL(complete(&px, path, id, nums, other, 2, NULL, &r), 400);
    CU_ASSERT_TRUE(pt_body_has(&r, "<Code>InvalidPart</Code>"));
    CU_ASSERT_TRUE(pt_body_has(&r, "<PartNumber>3</PartNumber>"));
    pt_resp_free(&r);
    /* MalformedXML. */
    char url[256];
    snprintf(url, sizeof(url), "%s?uploadId=%s", path, id);
    const char *bodies[] = {
        "", "<CompleteMultipartUpload/>",
        ("<CompleteMultipartUpload><Part><PartNumber>x</PartNumber><ETag>e</ETag></Part>"
         "</CompleteMultipartUpload>"),
        "not xml at all"};
    for (size_t i = 0; i < 4; i++) {
        CU_ASSERT_EQUAL(req(&px, "POST", url, NULL, bodies[i], strlen(bodies[i]), &r), 400);
        CU_ASSERT_TRUE(pt_body_has(&r, "<Code>MalformedXML</Code>"));
        pt_resp_free(&r);
    }
    /* Content-MD5 of the part list. */
    const char *badmd5[] = {"Content-MD5: AAAAAAAAAAAAAAAAAAAAAA==", NULL};
    CU_ASSERT_EQUAL(req(&px, "POST", url, badmd5, bodies[2], strlen(bodies[2]), &r), 400);
    CU_ASSERT_TRUE(pt_body_has(&r, "<Code>BadDigest</Code>"));
    pt_resp_free(&r);
    /* A body no valid part list needs. */
    size_t huge = 10000 * 1024 + 4096 + 100; /* just over the limit: answered, not cut */
    char *big = malloc(huge);
    memset(big, ' ', huge);
    CU_ASSERT_EQUAL(req(&px, "POST", url, NULL, big, huge, &r), 400);
    CU_ASSERT_TRUE(pt_body_has(&r, "<Code>MaxMessageLengthExceeded</Code>"));
    pt_resp_free(&r);
    free(big);
    /* Unknown upload. */
    CU_ASSERT_EQUAL(complete(&px, "/mp-rules/k", "0000", NULL, etags + 1, 2, NULL, &r), 404);
    CU_ASSERT_TRUE(pt_body_has(&r, "<Code>NoSuchUpload</Code>"));
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(complete(&px, "/mp-rules/other", id, NULL, etags + 1, 2, NULL, &r), 404);
    pt_resp_free(&r);

    /* Nothing was written, and the upload still completes. */
    CU_ASSERT_EQUAL(status_of(&px, "HEAD", path, NULL, NULL, 0), 404);
    CU_ASSERT_EQUAL(parts_listed(&px, path, id), 3);
    CU_ASSERT_EQUAL(complete(&px, path, id, nums, etags + 1, 2, NULL, &r), 200);
    pt_resp_free(&r);
    char *both = malloc(5 * MIB + 4);
    memcpy(both, small, 5 * MIB);
    memcpy(both + 5 * MIB, "tail", 4);
    CU_ASSERT_TRUE(object_is(&px, path, both, 5 * MIB + 4, NULL, 0));
    free(both);
    free(small);
    free(id);
}

static void test_part_refusals(void)
{
    mkbucket(&px, "mp-parts");
    const char *h[] = {L1, "X-Fencing-Token: 10", NULL};
    const char *path = "/mp-parts/k";
    char *id = create(&px, path, h, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(id);
    pt_resp_t r;
    char url[256];
    const char *bad[] = {"0", "10001", "x", ""};
    for (size_t i = 0; i < 4; i++) {
        snprintf(url, sizeof(url), "%s?partNumber=%s&uploadId=%s", path, bad[i], id);
        CU_ASSERT_EQUAL(req(&px, "PUT", url, NULL, "x", 1, &r), 400);
        CU_ASSERT_TRUE(pt_body_has(&r, "between 1 and 10000"));
        pt_resp_free(&r);
    }
    CU_ASSERT_EQUAL(part(&px, path, id, 10000, "last", 4, NULL, NULL), 200);
    CU_ASSERT_EQUAL(part(&px, path, "0123", 1, "x", 1, NULL, NULL), 404);
    CU_ASSERT_EQUAL(part(&px, "/mp-parts/other", id, 1, "x", 1, NULL, NULL), 404);
    CU_ASSERT_EQUAL(part(&px, "/mp-none/k", id, 1, "x", 1, NULL, NULL), 404);
    /* Content-MD5 checked; a bad one stores nothing. */
    const char *md5h[] = {"Content-MD5: AAAAAAAAAAAAAAAAAAAAAA==", NULL};
    CU_ASSERT_EQUAL(part(&px, path, id, 2, "body", 4, md5h, NULL), 400);
    /* Larger than a part (max_body_bytes = 8M here) is refused before its
     * body: the answer comes with none of it sent. */
    char target[256], clen[64], out[4096];
    snprintf(target, sizeof(target), "%s?partNumber=3&uploadId=%s", path, id);
    snprintf(clen, sizeof(clen), "Content-Length: %d", 8 * MIB + 1);
    const char *big[] = {clen, NULL};
    pt_req_opts_t unsigned_body = {.payload = "UNSIGNED-PAYLOAD"};
    char *head = pt_signed_head(&px, &unsigned_body, "PUT", target, big, NULL, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(head);
    int fd = pt_conn_open(&px);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(pt_conn_send(fd, head, strlen(head)), 0);
    free(head);
    CU_ASSERT(pt_conn_read_response(fd, out, sizeof(out), 20000) > 0);
    CU_ASSERT_EQUAL(pt_raw_status(out), 413);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "<Code>EntityTooLarge</Code>"));
    pt_conn_close(fd);
    CU_ASSERT_EQUAL(parts_listed(&px, path, id), 1);
    /* ListParts in pages. */
    for (int n = 1; n <= 3; n++)
        CU_ASSERT_EQUAL(part(&px, path, id, n, "abc", 3, NULL, NULL), 200);
    snprintf(url, sizeof(url), "%s?uploadId=%s&max-parts=2", path, id);
    CU_ASSERT_EQUAL(req(&px, "GET", url, NULL, NULL, 0, &r), 200);
    CU_ASSERT_EQUAL(count_of(r.body, "<Part>"), 2);
    CU_ASSERT_TRUE(pt_body_has(&r, "<IsTruncated>true</IsTruncated>"));
    CU_ASSERT_TRUE(pt_body_has(&r, "<NextPartNumberMarker>2</NextPartNumberMarker>"));
    pt_resp_free(&r);
    snprintf(url, sizeof(url), "%s?uploadId=%s&max-parts=2&part-number-marker=2", path, id);
    CU_ASSERT_EQUAL(req(&px, "GET", url, NULL, NULL, 0, &r), 200);
    CU_ASSERT_TRUE(pt_body_has(&r, "<PartNumber>3</PartNumber>"));
    CU_ASSERT_TRUE(pt_body_has(&r, "<PartNumber>10000</PartNumber>"));
    CU_ASSERT_TRUE(pt_body_has(&r, "<IsTruncated>false</IsTruncated>"));
    pt_resp_free(&r);
    /* Abort: the upload and its parts go; then it is unknown. */
    snprintf(url, sizeof(url), "%s?uploadId=%s", path, id);
    CU_ASSERT_EQUAL(status_of(&px, "DELETE", url, NULL, NULL, 0), 204);
    CU_ASSERT_EQUAL(pt_count_files(&px, "objects/mp-parts"), 0);
    CU_ASSERT_EQUAL(req(&px, "DELETE", url, NULL, NULL, 0, &r), 404);
    CU_ASSERT_TRUE(pt_body_has(&r, "<Code>NoSuchUpload</Code>"));
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(status_of(&px, "GET", url, NULL, NULL, 0), 404);
    CU_ASSERT_EQUAL(part(&px, path, id, 1, "x", 1, NULL, NULL), 404);
    free(id);
}

static void test_part_copy(void)
{
    mkbucket(&px, "mp-copy");
    const char *h[] = {L1, "X-Fencing-Token: 10", NULL};
    char *src = malloc(6 * MIB);
    fill(src, 6 * MIB, 3);
    pt_resp_t r;
    CU_ASSERT_EQUAL(req(&px, "PUT", "/mp-copy/src", h, src, 6 * MIB, &r), 200);
    pt_resp_free(&r);
    const char *path = "/mp-copy/dst";
    char *id = create(&px, path, h, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(id);
    char url[256], etags[2][33];
    /* Part 1: the whole source; part 2: bytes 100..199 of it. */
    snprintf(url, sizeof(url), "%s?partNumber=1&uploadId=%s", path, id);
    const char *c1[] = {"x-amz-copy-source: /mp-copy/src", NULL};
    CU_ASSERT_EQUAL(req(&px, "PUT", url, c1, NULL, 0, &r), 200);
    CU_ASSERT_TRUE(pt_body_has(&r, "<CopyPartResult"));
    char *e = xml_value(r.body, "ETag");
    md5_hex(src, 6 * MIB, etags[0]);
    CU_ASSERT_PTR_NOT_NULL(e);
    CU_ASSERT_PTR_NOT_NULL(e ? strstr(e, etags[0]) : NULL);
    free(e);
    pt_resp_free(&r);
    snprintf(url, sizeof(url), "%s?partNumber=2&uploadId=%s", path, id);
    const char *c2[] = {"x-amz-copy-source: mp-copy/src?versionId=null",
                        "x-amz-copy-source-range: bytes=100-199", NULL};
    CU_ASSERT_EQUAL(req(&px, "PUT", url, c2, NULL, 0, &r), 200);
    pt_resp_free(&r);
    md5_hex(src + 100, 100, etags[1]);
    /* A range beyond the source, and a source that is not there. */
    const char *c3[] = {"x-amz-copy-source: /mp-copy/src",
                        "x-amz-copy-source-range: bytes=0-6291456", NULL};
    CU_ASSERT_EQUAL(req(&px, "PUT", url, c3, NULL, 0, &r), 400);
    CU_ASSERT_TRUE(pt_body_has(&r, "<Code>InvalidArgument</Code>"));
    pt_resp_free(&r);
    const char *c4[] = {"x-amz-copy-source: /mp-copy/nope", NULL};
    CU_ASSERT_EQUAL(status_of(&px, "PUT", url, c4, NULL, 0), 404);
    const char *c5[] = {"x-amz-copy-source: /mp-copy/src", "x-amz-copy-source-range: bytes=9-5",
                        NULL};
    CU_ASSERT_EQUAL(status_of(&px, "PUT", url, c5, NULL, 0), 400);
    CU_ASSERT_EQUAL(complete(&px, path, id, NULL, etags, 2, NULL, &r), 200);
    pt_resp_free(&r);
    char *want = malloc(6 * MIB + 100);
    memcpy(want, src, 6 * MIB);
    memcpy(want + 6 * MIB, src + 100, 100);
    CU_ASSERT_TRUE(object_is(&px, path, want, 6 * MIB + 100, NULL, 0));
    free(want);
    free(src);
    free(id);
}

/* ListMultipartUploads: prefix, delimiter, markers, pages, url encoding. */
static void test_list_uploads(void)
{
    mkbucket(&px, "mp-list");
    const char *h[] = {L1, "X-Fencing-Token: 10", NULL};
    const char *keys[] = {"/mp-list/a/1", "/mp-list/a/2", "/mp-list/b", "/mp-list/b",
                          "/mp-list/c%20d"};
    char *ids[5];
    for (int i = 0; i < 5; i++)
        CU_ASSERT_PTR_NOT_NULL_FATAL(ids[i] = create(&px, keys[i], h, NULL));
    pt_resp_t r;
    CU_ASSERT_EQUAL(req(&px, "GET", "/mp-list?uploads&delimiter=/", NULL, NULL, 0, &r), 200);
    CU_ASSERT_EQUAL(count_of(r.body, "<Upload>"), 3);
    CU_ASSERT_TRUE(pt_body_has(&r, "<CommonPrefixes><Prefix>a/</Prefix></CommonPrefixes>"));
    CU_ASSERT_TRUE(pt_body_has(&r, "<Key>c d</Key>"));
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(req(&px, "GET", "/mp-list?uploads&max-uploads=3", NULL, NULL, 0, &r), 200);
    CU_ASSERT_EQUAL(count_of(r.body, "<Upload>"), 3);
    CU_ASSERT_TRUE(pt_body_has(&r, "<IsTruncated>true</IsTruncated>"));
    CU_ASSERT_TRUE(pt_body_has(&r, "<NextKeyMarker>b</NextKeyMarker>"));
    char *nu = xml_value(r.body, "NextUploadIdMarker");
    CU_ASSERT_PTR_NOT_NULL_FATAL(nu);
    CU_ASSERT_STRING_EQUAL(nu, ids[2]); /* the first upload of b */
    pt_resp_free(&r);
    char url[256];
    snprintf(url, sizeof(url), "/mp-list?uploads&max-uploads=3&key-marker=b&upload-id-marker=%s",
             nu);
    CU_ASSERT_EQUAL(req(&px, "GET", url, NULL, NULL, 0, &r), 200);
    CU_ASSERT_EQUAL(count_of(r.body, "<Upload>"), 2);
    CU_ASSERT_TRUE(pt_body_has(&r, ids[3]));
    CU_ASSERT_TRUE(pt_body_has(&r, "<IsTruncated>false</IsTruncated>"));
    pt_resp_free(&r);
    free(nu);
    CU_ASSERT_EQUAL(
        req(&px, "GET", "/mp-list?uploads&prefix=c&encoding-type=url", NULL, NULL, 0, &r), 200);
    CU_ASSERT_TRUE(pt_body_has(&r, "<Key>c%20d</Key>"));
    CU_ASSERT_TRUE(pt_body_has(&r, "<EncodingType>url</EncodingType>"));
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(status_of(&px, "GET", "/mp-nolist?uploads", NULL, NULL, 0), 404);
    for (int i = 0; i < 5; i++) {
        snprintf(url, sizeof(url), "%s?uploadId=%s", keys[i], ids[i]);
        CU_ASSERT_EQUAL(status_of(&px, "DELETE", url, NULL, NULL, 0), 204);
        free(ids[i]);
    }
    CU_ASSERT_EQUAL(uploads_listed(&px, "mp-list"), 0);
}

/* If-None-Match / If-Match on the completion, checked as it publishes. */
static void test_complete_conditions(void)
{
    mkbucket(&px, "mp-cond");
    const char *h[] = {L1, "X-Fencing-Token: 10", NULL};
    const char *path = "/mp-cond/k";
    char *id = create(&px, path, h, NULL);
    char etags[1][33];
    CU_ASSERT_EQUAL(part(&px, path, id, 1, "first", 5, NULL, etags[0]), 200);
    const char *inm[] = {"If-None-Match: *", NULL};
    CU_ASSERT_EQUAL(complete_status(&px, path, id, etags, 1, inm), 200);
    free(id);
    id = create(&px, path, h, NULL);
    CU_ASSERT_EQUAL(part(&px, path, id, 1, "second", 6, NULL, etags[0]), 200);
    pt_resp_t r;
    CU_ASSERT_EQUAL(complete(&px, path, id, NULL, etags, 1, inm, &r), 412);
    CU_ASSERT_TRUE(pt_body_has(&r, "<Code>PreconditionFailed</Code>"));
    pt_resp_free(&r);
    const char *im[] = {"If-Match: \"0123456789abcdef0123456789abcdef\"", NULL};
    CU_ASSERT_EQUAL(complete_status(&px, path, id, etags, 1, im), 412);
    CU_ASSERT_TRUE(object_is(&px, path, "first", 5, NULL, 0));
    const char *inm2[] = {"If-None-Match: \"abc\"", NULL};
    CU_ASSERT_EQUAL(complete_status(&px, path, id, etags, 1, inm2), 501);
    char cur[96], hdr[128];
    object_is(&px, path, "first", 5, cur, sizeof(cur));
    snprintf(hdr, sizeof(hdr), "If-Match: %s", cur);
    const char *im2[] = {hdr, NULL};
    CU_ASSERT_EQUAL(complete_status(&px, path, id, etags, 1, im2), 200);
    CU_ASSERT_TRUE(object_is(&px, path, "second", 6, NULL, 0));
    free(id);
}

/* --- fencing on every step --------------------------------------------------------- */

static void test_fencing_steps(void)
{
    mkbucket(&px, "mp-fence");
    const char *path = "/mp-fence/k";
    long st;
    pt_resp_t r;
    /* Create: 428 without fencing, audited; nothing created. */
    CU_ASSERT_PTR_NULL(create(&px, path, NULL, &st));
    CU_ASSERT_EQUAL(st, 428);
    CU_ASSERT_EQUAL(pt_audit_count(&px, "\"verdict\":\"rejected_missing\",\"bucket\":\"mp-fence\","
                                        "\"key\":\"k\",\"op\":\"CreateMultipartUpload\""),
                    1);
    /* The token in the metadata, as aws s3 cp --metadata sends it. */
    const char *meta[] = {"x-amz-meta-fencing-lock: /locks/f", "x-amz-meta-fencing-token: 20",
                          NULL};
    char *id = create(&px, path, meta, &st);
    CU_ASSERT_PTR_NOT_NULL_FATAL(id);
    CU_ASSERT_EQUAL(pt_audit_count(&px, "\"lock\":\"/locks/f\",\"token\":\"20\",\"mark\":null,"
                                        "\"verdict\":\"accepted_higher\""),
                    1);
    char *data = malloc(5 * MIB);
    fill(data, 5 * MIB, 4);
    char etags[3][33];
    CU_ASSERT_EQUAL(part(&px, path, id, 1, data, 5 * MIB, NULL, etags[0]), 200);
    /* A part naming another lock. */
    const char *other[] = {"X-Fencing-Lock: /locks/other", "X-Fencing-Token: 99", NULL};
    char url[256];
    snprintf(url, sizeof(url), "%s?partNumber=2&uploadId=%s", path, id);
    CU_ASSERT_EQUAL(req(&px, "PUT", url, other, "x", 1, &r), 400);
    CU_ASSERT_TRUE(pt_body_has(&r, "<Code>InvalidFencingLock</Code>"));
    CU_ASSERT_TRUE(pt_body_has(&r, "<UploadLock>/locks/f</UploadLock>"));
    pt_resp_free(&r);
    /* Only half of the fencing headers. */
    const char *half[] = {"X-Fencing-Token: 20", NULL};
    CU_ASSERT_EQUAL(status_of(&px, "PUT", url, half, "x", 1), 428);

    /* A successor (token 21) writes: the holder of 20 is stale. Its next
     * part is refused and not stored; so is its completion. */
    const char *succ[] = {"X-Fencing-Lock: /locks/f", "X-Fencing-Token: 21", NULL};
    CU_ASSERT_EQUAL(status_of(&px, "PUT", "/mp-fence/elsewhere", succ, "s", 1), 200);
    CU_ASSERT_EQUAL(req(&px, "PUT", url, NULL, "late", 4, &r), 412);
    CU_ASSERT_TRUE(pt_body_has(&r, "<Code>StaleFencingToken</Code>"));
    CU_ASSERT_TRUE(pt_body_has(&r, "<Token>20</Token>"));
    CU_ASSERT_TRUE(pt_body_has(&r, "<HighWaterMark>21</HighWaterMark>"));
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(parts_listed(&px, path, id), 1);
    snprintf(url, sizeof(url), "%s?partNumber=2&uploadId=%s", path, id);
    const char *copy[] = {"x-amz-copy-source: /mp-fence/elsewhere", NULL};
    CU_ASSERT_EQUAL(status_of(&px, "PUT", url, copy, NULL, 0), 412);
    CU_ASSERT_EQUAL(parts_listed(&px, path, id), 1);
    CU_ASSERT_EQUAL(complete(&px, path, id, NULL, etags, 1, NULL, &r), 412);
    CU_ASSERT_TRUE(pt_body_has(&r, "<HighWaterMark>21</HighWaterMark>"));
    pt_resp_free(&r);
    const char *stale_own[] = {"X-Fencing-Lock: /locks/f", "X-Fencing-Token: 19", NULL};
    CU_ASSERT_EQUAL(complete_status(&px, path, id, etags, 1, stale_own), 412);
    CU_ASSERT_EQUAL(status_of(&px, "HEAD", path, NULL, NULL, 0), 404);
    CU_ASSERT_EQUAL(pt_audit_count(&px, "\"token\":\"20\",\"mark\":\"21\",\"verdict\":"
                                        "\"rejected_stale\",\"bucket\":\"mp-fence\",\"key\":\"k\","
                                        "\"op\":\"UploadPart\""),
                    1);
    CU_ASSERT_EQUAL(pt_audit_count(&px, "\"verdict\":\"rejected_stale\",\"bucket\":\"mp-fence\","
                                        "\"key\":\"k\",\"op\":\"UploadPartCopy\""),
                    1);
    CU_ASSERT_EQUAL(pt_audit_count(&px, "\"verdict\":\"rejected_stale\",\"bucket\":\"mp-fence\","
                                        "\"key\":\"k\",\"op\":\"CompleteMultipartUpload\""),
                    2);
    /* A create by the stale holder is refused too, and creates nothing. */
    CU_ASSERT_PTR_NULL(create(&px, "/mp-fence/k2", meta, &st));
    CU_ASSERT_EQUAL(st, 412);
    CU_ASSERT_EQUAL(uploads_listed(&px, "mp-fence"), 1);

    /* The successor takes the upload over with its own headers: its parts
     * and completion are accepted, and the object names its token. */
    CU_ASSERT_EQUAL(part(&px, path, id, 2, "end", 3, succ, etags[1]), 200);
    CU_ASSERT_EQUAL(complete_status(&px, path, id, etags, 2, succ), 200);
    pt_http(&px, "HEAD", path, NULL, NULL, 0, &r);
    char v[64];
    CU_ASSERT_STRING_EQUAL(pt_header(&r, "X-Fencing-Token", v, sizeof(v)) ? v : "", "21");
    pt_resp_free(&r);
    /* Counted as decisions of their operation. */
    CU_ASSERT_EQUAL(req(&px, "GET", "/_zkfence/metrics", NULL, NULL, 0, &r), 200);
    CU_ASSERT_TRUE(pt_body_has(&r, "zkfence_fence_decisions_total{op=\"UploadPart\","
                                   "verdict=\"rejected_stale\"} 1"));
    CU_ASSERT_TRUE(pt_body_has(&r, "zkfence_fence_decisions_total{op=\"CreateMultipartUpload\","
                                   "verdict=\"rejected_missing\"} 1"));
    pt_resp_free(&r);
    free(data);
    free(id);
}

/* An unfenced upload in an optional bucket needs no headers at all. */
static void test_optional_bucket(void)
{
    mkbucket(&px, "mp-open");
    const char *path = "/mp-open/k";
    char *id = create(&px, path, NULL, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(id);
    char etags[1][33];
    CU_ASSERT_EQUAL(part(&px, path, id, 1, "plain", 5, NULL, etags[0]), 200);
    CU_ASSERT_EQUAL(complete_status(&px, path, id, etags, 1, NULL), 200);
    CU_ASSERT_TRUE(object_is(&px, path, "plain", 5, NULL, 0));
    CU_ASSERT_EQUAL(pt_audit_count(&px, "\"bucket\":\"mp-open\""), 0);
    free(id);
}

/* A part whose token is overtaken while its body streams: refused in the
 * section, where it would have been stored. */
static void test_stale_while_streaming(void)
{
    mkbucket(&px, "mp-stream");
    const char *path = "/mp-stream/k";
    const char *h[] = {"X-Fencing-Lock: /locks/s", "X-Fencing-Token: 30", NULL};
    char *id = create(&px, path, h, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(id);
    char target[256];
    snprintf(target, sizeof(target), "%s?partNumber=1&uploadId=%s", path, id);
    char body[2000];
    memset(body, 'P', sizeof(body));
    const char *cl[] = {"Content-Length: 2000", NULL};
    char *head = pt_signed_head(&px, NULL, "PUT", target, cl, body, sizeof(body));
    CU_ASSERT_PTR_NOT_NULL_FATAL(head);
    int fd = pt_conn_open(&px);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(pt_conn_send(fd, head, strlen(head)), 0);
    free(head);
    CU_ASSERT_EQUAL(pt_conn_send(fd, body, 1000), 0);
    /* Past the early check: its part is being staged. */
    CU_ASSERT_TRUE(PT_WAIT_UNTIL(pt_count_staged(&px) == 1, 10000));
    const char *succ[] = {"X-Fencing-Lock: /locks/s", "X-Fencing-Token: 31", NULL};
    CU_ASSERT_EQUAL(status_of(&px, "PUT", "/mp-stream/other", succ, "s", 1), 200);
    CU_ASSERT_EQUAL(pt_conn_send(fd, body + 1000, 1000), 0);
    char out[8192];
    CU_ASSERT(pt_conn_read_response(fd, out, sizeof(out), 20000) > 0);
    CU_ASSERT_EQUAL(pt_raw_status(out), 412);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "<HighWaterMark>31</HighWaterMark>"));
    pt_conn_close(fd);
    CU_ASSERT_EQUAL(parts_listed(&px, path, id), 0);
    CU_ASSERT_TRUE(PT_WAIT_UNTIL(pt_count_staged(&px) == 0, 10000));
    free(id);
}

/* Parts of one upload from many connections at once. */
typedef struct par {
    const char *path, *id;
    int number;
    char *data;
    size_t len;
    char etag[33];
    long status;
} par_t;

static void *par_part(void *arg)
{
    par_t *p = arg;
    p->status = part(&px, p->path, p->id, p->number, p->data, p->len, NULL, p->etag);
    return NULL;
}

static void test_parallel_parts(void)
{
    mkbucket(&px, "mp-par");
    const char *path = "/mp-par/k";
    const char *h[] = {L1, "X-Fencing-Token: 10", NULL};
    char *id = create(&px, path, h, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(id);
    enum { N = 8 };
    size_t len = 5 * MIB;
    char *data = malloc(N * len);
    fill(data, N * len, 5);
    par_t ps[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        ps[i] =
            (par_t){.path = path, .id = id, .number = i + 1, .data = data + i * len, .len = len};
        pthread_create(&th[i], NULL, par_part, &ps[i]);
    }
    char etags[N][33];
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        CU_ASSERT_EQUAL(ps[i].status, 200);
        memcpy(etags[i], ps[i].etag, 33);
    }
    CU_ASSERT_EQUAL(complete_status(&px, path, id, etags, N, NULL), 200);
    CU_ASSERT_TRUE(object_is(&px, path, data, N * len, NULL, 0));
    free(data);
    free(id);
}

/* --- versioning answers ------------------------------------------------------------ */

static void test_versioning(void)
{
    mkbucket(&px, "mp-ver");
    const char *h[] = {L1, "X-Fencing-Token: 10", NULL};
    const char *keys[] = {"/mp-ver/a", "/mp-ver/b/1", "/mp-ver/b/2", "/mp-ver/c"};
    for (int i = 0; i < 4; i++)
        CU_ASSERT_EQUAL(status_of(&px, "PUT", keys[i], h, "v", 1), 200);
    pt_resp_t r;
    CU_ASSERT_EQUAL(req(&px, "GET", "/mp-ver?versioning", NULL, NULL, 0, &r), 200);
    CU_ASSERT_TRUE(pt_body_has(&r, "<VersioningConfiguration"));
    CU_ASSERT_FALSE(pt_body_has(&r, "<Status>"));
    pt_resp_free(&r);
    const char *vc = "<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>";
    CU_ASSERT_EQUAL(req(&px, "PUT", "/mp-ver?versioning", NULL, vc, strlen(vc), &r), 501);
    CU_ASSERT_TRUE(pt_body_has(&r, "<Code>NotImplemented</Code>"));
    CU_ASSERT_TRUE(pt_body_has(&r, "versioning"));
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(status_of(&px, "GET", "/mp-none?versioning", NULL, NULL, 0), 404);
    CU_ASSERT_EQUAL(status_of(&px, "PUT", "/mp-none?versioning", NULL, vc, strlen(vc)), 404);

    /* ListObjectVersions: every object once, version null, latest. */
    CU_ASSERT_EQUAL(req(&px, "GET", "/mp-ver?versions", NULL, NULL, 0, &r), 200);
    CU_ASSERT_TRUE(pt_body_has(&r, "<ListVersionsResult"));
    CU_ASSERT_EQUAL(count_of(r.body, "<Version>"), 4);
    CU_ASSERT_EQUAL(count_of(r.body, "<VersionId>null</VersionId><IsLatest>true</IsLatest>"), 4);
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(req(&px, "GET", "/mp-ver?versions&delimiter=/&max-keys=2", NULL, NULL, 0, &r),
                    200);
    CU_ASSERT_TRUE(pt_body_has(&r, "<Key>a</Key>"));
    CU_ASSERT_TRUE(pt_body_has(&r, "<CommonPrefixes><Prefix>b/</Prefix></CommonPrefixes>"));
    CU_ASSERT_TRUE(pt_body_has(&r, "<IsTruncated>true</IsTruncated>"));
    CU_ASSERT_TRUE(pt_body_has(&r, "<NextKeyMarker>b/</NextKeyMarker>"));
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(req(&px, "GET", "/mp-ver?versions&max-keys=1", NULL, NULL, 0, &r), 200);
    CU_ASSERT_TRUE(pt_body_has(&r, "<NextKeyMarker>a</NextKeyMarker>"));
    CU_ASSERT_TRUE(pt_body_has(&r, "<NextVersionIdMarker>null</NextVersionIdMarker>"));
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(
        req(&px, "GET", "/mp-ver?versions&key-marker=a&version-id-marker=null", NULL, NULL, 0, &r),
        200);
    CU_ASSERT_EQUAL(count_of(r.body, "<Version>"), 3);
    CU_ASSERT_FALSE(pt_body_has(&r, "<Key>a</Key>"));
    CU_ASSERT_TRUE(pt_body_has(&r, "<KeyMarker>a</KeyMarker>"));
    CU_ASSERT_TRUE(pt_body_has(&r, "<VersionIdMarker>null</VersionIdMarker>"));
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(status_of(&px, "GET", "/mp-ver?versions&version-id-marker=null", NULL, NULL, 0),
                    400);
    CU_ASSERT_EQUAL(status_of(&px, "GET", "/mp-none?versions", NULL, NULL, 0), 404);

    /* versionId=null is the object; other ids are not versions here. */
    CU_ASSERT_EQUAL(status_of(&px, "GET", "/mp-ver/a?versionId=null", NULL, NULL, 0), 200);
    CU_ASSERT_EQUAL(status_of(&px, "HEAD", "/mp-ver/a?versionId=null", NULL, NULL, 0), 200);
    CU_ASSERT_EQUAL(
        req(&px, "GET", "/mp-ver/a?versionId=3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrH", NULL, NULL, 0, &r),
        404);
    CU_ASSERT_TRUE(pt_body_has(&r, "<Code>NoSuchVersion</Code>"));
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(status_of(&px, "DELETE", "/mp-ver/a?versionId=bogus", h, NULL, 0), 400);
    CU_ASSERT_EQUAL(status_of(&px, "GET", "/mp-ver/a", NULL, NULL, 0), 200);
    CU_ASSERT_EQUAL(status_of(&px, "DELETE", "/mp-ver/a?versionId=null", NULL, NULL, 0), 428);
    CU_ASSERT_EQUAL(status_of(&px, "DELETE", "/mp-ver/a?versionId=null", h, NULL, 0), 204);
    CU_ASSERT_EQUAL(status_of(&px, "GET", "/mp-ver/a", NULL, NULL, 0), 404);

    /* Emptying a bucket the way tools do: its versions, then DeleteObjects
     * with VersionId null. A version that cannot exist is refused for its
     * key alone. */
    const char *del = "<Delete><Object><Key>b/1</Key><VersionId>null</VersionId></Object>"
                      "<Object><Key>b/2</Key><VersionId>null</VersionId></Object>"
                      "<Object><Key>c</Key><VersionId>3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrH</VersionId>"
                      "</Object></Delete>";
    CU_ASSERT_EQUAL(req(&px, "POST", "/mp-ver?delete", h, del, strlen(del), &r), 200);
    CU_ASSERT_EQUAL(count_of(r.body, "<Deleted>"), 2);
    CU_ASSERT_TRUE(pt_body_has(&r, "<Deleted><Key>b/1</Key><VersionId>null</VersionId>"));
    CU_ASSERT_TRUE(pt_body_has(&r, "<Code>NoSuchVersion</Code>"));
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(status_of(&px, "GET", "/mp-ver/c", NULL, NULL, 0), 200);
    CU_ASSERT_EQUAL(pt_audit_count(&px, "\"verdict\":\"rejected_invalid\",\"bucket\":\"mp-ver\","
                                        "\"key\":\"c\""),
                    1);
    const char *del2 = "<Delete><Object><Key>c</Key><VersionId>null</VersionId></Object></Delete>";
    CU_ASSERT_EQUAL(status_of(&px, "POST", "/mp-ver?delete", h, del2, strlen(del2)), 200);
    CU_ASSERT_EQUAL(req(&px, "GET", "/mp-ver?versions", NULL, NULL, 0, &r), 200);
    CU_ASSERT_EQUAL(count_of(r.body, "<Version>"), 0);
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(status_of(&px, "DELETE", "/mp-ver", NULL, NULL, 0), 204);
}

/* --- crashes and the sweep (their own proxies) --------------------------------------- */

/* kill -9 between two parts: the acknowledged part survives, the upload
 * completes after the restart. */
static void test_kill9_between_parts(void)
{
    pt_proxy_t p;
    CU_ASSERT_EQUAL_FATAL(pt_proxy_start(&p, NULL), 0);
    mkbucket(&p, "crash");
    const char *h[] = {"X-Fencing-Lock: /locks/c", "X-Fencing-Token: 3", NULL};
    char *id = create(&p, "/crash/k", h, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(id);
    char *data = malloc(5 * MIB + 10);
    fill(data, 5 * MIB + 10, 6);
    char etags[2][33];
    CU_ASSERT_EQUAL(part(&p, "/crash/k", id, 1, data, 5 * MIB, NULL, etags[0]), 200);
    pt_proxy_kill9(&p);
    CU_ASSERT_EQUAL_FATAL(pt_proxy_restart(&p), 0);
    CU_ASSERT_EQUAL(parts_listed(&p, "/crash/k", id), 1);
    CU_ASSERT_EQUAL(uploads_listed(&p, "crash"), 1);
    CU_ASSERT_EQUAL(part(&p, "/crash/k", id, 2, data + 5 * MIB, 10, NULL, etags[1]), 200);
    CU_ASSERT_EQUAL(complete_status(&p, "/crash/k", id, etags, 2, NULL), 200);
    CU_ASSERT_TRUE(object_is(&p, "/crash/k", data, 5 * MIB + 10, NULL, 0));
    CU_ASSERT_EQUAL(pt_proxy_stop(&p), 0);
    pt_proxy_cleanup(&p);
    free(data);
    free(id);
}

/* kill -9 while a completion assembles its object: after the restart the
 * object is whole or absent (then the upload completes), never torn. */
static void test_kill9_during_complete(void)
{
    pt_proxy_t p;
    CU_ASSERT_EQUAL_FATAL(pt_proxy_start(&p, NULL), 0);
    mkbucket(&p, "crash");
    const char *h[] = {"X-Fencing-Lock: /locks/c", "X-Fencing-Token: 3", NULL};
    char *id = create(&p, "/crash/big", h, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(id);
    enum { N = 6 };
    size_t len = 8 * MIB;
    char *data = malloc(N * len);
    fill(data, N * len, 7);
    char etags[N][33];
    for (int i = 0; i < N; i++)
        CU_ASSERT_EQUAL(part(&p, "/crash/big", id, i + 1, data + i * len, len, NULL, etags[i]),
                        200);
    char body[4096];
    size_t blen = (size_t)snprintf(body, sizeof(body), "<CompleteMultipartUpload>");
    for (int i = 0; i < N; i++)
        blen += (size_t)snprintf(body + blen, sizeof(body) - blen,
                                 "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>", i + 1,
                                 etags[i]);
    blen += (size_t)snprintf(body + blen, sizeof(body) - blen, "</CompleteMultipartUpload>");
    char target[256], clen[64];
    snprintf(target, sizeof(target), "/crash/big?uploadId=%s", id);
    snprintf(clen, sizeof(clen), "Content-Length: %zu", blen);
    const char *ch[] = {clen, NULL};
    char *head = pt_signed_head(&p, NULL, "POST", target, ch, body, blen);
    CU_ASSERT_PTR_NOT_NULL_FATAL(head);
    int fd = pt_conn_open(&p);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(pt_conn_send(fd, head, strlen(head)), 0);
    free(head);
    CU_ASSERT_EQUAL(pt_conn_send(fd, body, blen), 0);
    /* The object is being assembled in tmp/ (or already published). */
    CU_ASSERT_TRUE(
        PT_WAIT_UNTIL(pt_count_staged(&p) > 0 || pt_count_files(&p, "objects/crash") == 1, 20000));
    pt_proxy_kill9(&p);
    pt_conn_close(fd);
    CU_ASSERT_EQUAL_FATAL(pt_proxy_restart(&p), 0);
    /* The staged object is gone at start-up; the parts of an upload found
     * completed are deleted in the background. */
    CU_ASSERT_TRUE(PT_WAIT_UNTIL(pt_count_staged(&p) == 0, 20000));
    long st = status_of(&p, "HEAD", "/crash/big", NULL, NULL, 0);
    CU_ASSERT(st == 200 || st == 404);
    if (st == 404) {
        /* Not completed: still completable. */
        CU_ASSERT_EQUAL(parts_listed(&p, "/crash/big", id), N);
        CU_ASSERT_EQUAL(complete_status(&p, "/crash/big", id, etags, N, NULL), 200);
    } else {
        CU_ASSERT_EQUAL(uploads_listed(&p, "crash"), 0);
    }
    CU_ASSERT_TRUE(object_is(&p, "/crash/big", data, N * len, NULL, 0));
    fprintf(stderr, "(kill -9 found the completion %s) ", st == 200 ? "done" : "not done");
    CU_ASSERT_EQUAL(pt_proxy_stop(&p), 0);
    pt_proxy_cleanup(&p);
    free(data);
    free(id);
}

static int swept_total(const pt_proxy_t *p)
{
    pt_resp_t r;
    int n = -1;
    if (req(p, "GET", "/_zkfence/metrics", NULL, NULL, 0, &r) == 200) {
        const char *m = strstr(r.body, "\nzkfence_multipart_uploads_swept_total ");
        n = m ? atoi(m + strlen("\nzkfence_multipart_uploads_swept_total ")) : -1;
    }
    pt_resp_free(&r);
    return n;
}

/* Unfinished uploads past multipart_max_age are aborted, their space
 * freed: by the periodic sweep, and at start-up. */
static void test_age_sweep(void)
{
    pt_proxy_t p;
    CU_ASSERT_EQUAL_FATAL(pt_proxy_start(&p, "multipart_max_age = 1s\n"
                                             "bucket.sweep.fencing = optional\n"),
                          0);
    mkbucket(&p, "sweep");
    char *id = create(&p, "/sweep/k", NULL, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(id);
    CU_ASSERT_EQUAL(part(&p, "/sweep/k", id, 1, "parted", 6, NULL, NULL), 200);
    CU_ASSERT_TRUE(PT_WAIT_UNTIL(uploads_listed(&p, "sweep") == 0, 20000));
    /* The upload leaves the listing first; its files and the count follow. */
    CU_ASSERT_TRUE(PT_WAIT_UNTIL(swept_total(&p) == 1, 10000));
    CU_ASSERT_EQUAL(pt_count_files(&p, "objects/sweep"), 0);
    CU_ASSERT_EQUAL(part(&p, "/sweep/k", id, 2, "late", 4, NULL, NULL), 404);
    CU_ASSERT_TRUE(PT_WAIT_UNTIL(pt_log_count(&p, "aborted 1 unfinished multipart upload(s)") >= 1,
                                 pt_soon_ms()));
    CU_ASSERT_EQUAL(pt_proxy_stop(&p), 0);
    free(id);

    /* At start-up: an upload made while the sweep was off, older than the
     * age when the proxy starts with it on, is gone before the first
     * request. */
    FILE *f = fopen(p.conf, "a");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("multipart_max_age = 0\n", f);
    fclose(f);
    CU_ASSERT_EQUAL_FATAL(pt_proxy_restart(&p), 0);
    id = create(&p, "/sweep/old", NULL, NULL);
    time_t made = time(NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(id);
    CU_ASSERT_EQUAL(pt_proxy_stop(&p), 0);
    f = fopen(p.conf, "a");
    fputs("multipart_max_age = 1\n", f);
    fclose(f);
    /* Its age must pass 1 s: a condition on the clock, not a sleep. */
    CU_ASSERT_TRUE(PT_WAIT_UNTIL(time(NULL) >= made + 2, 5000));
    CU_ASSERT_EQUAL_FATAL(pt_proxy_restart(&p), 0);
    CU_ASSERT_EQUAL(uploads_listed(&p, "sweep"), 0);
    CU_ASSERT_EQUAL(swept_total(&p), 1);
    CU_ASSERT_EQUAL(pt_proxy_stop(&p), 0);
    pt_proxy_cleanup(&p);
    free(id);
}

/* Last: the suite's proxy stops cleanly, nothing left in tmp/. */
static void test_clean_shutdown(void)
{
    CU_ASSERT_EQUAL(pt_proxy_stop(&px), 0);
    CU_ASSERT_EQUAL(pt_count_staged(&px), 0);
}

static void add_tests(void *suite)
{
    if (pt_proxy_start(&px, "max_body_bytes = 8M\nbucket.mp-open.fencing = optional\n") != 0) {
        fprintf(stderr, "cannot start the proxy\n");
        exit(1);
    }
    CU_add_test(suite, "upload_complete", test_upload_complete);
    CU_add_test(suite, "complete_refusals", test_complete_refusals);
    CU_add_test(suite, "part_refusals", test_part_refusals);
    CU_add_test(suite, "part_copy", test_part_copy);
    CU_add_test(suite, "list_uploads", test_list_uploads);
    CU_add_test(suite, "complete_conditions", test_complete_conditions);
    CU_add_test(suite, "fencing_steps", test_fencing_steps);
    CU_add_test(suite, "optional_bucket", test_optional_bucket);
    CU_add_test(suite, "stale_while_streaming", test_stale_while_streaming);
    CU_add_test(suite, "parallel_parts", test_parallel_parts);
    CU_add_test(suite, "versioning", test_versioning);
    CU_add_test(suite, "clean_shutdown", test_clean_shutdown);
    CU_add_test(suite, "kill9_between_parts", test_kill9_between_parts);
    CU_add_test(suite, "kill9_during_complete", test_kill9_during_complete);
    CU_add_test(suite, "age_sweep", test_age_sweep);
}

int main(void)
{
    int rc = pt_run_suite("proxy_multipart", add_tests);
    if (rc != 0)
        pt_proxy_dump_log(&px);
    pt_proxy_cleanup(&px);
    return rc;
}
