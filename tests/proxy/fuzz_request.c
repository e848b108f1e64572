/* Fuzz target for the bytes the proxy reads from the network before any
 * storage is touched: request classification (method, target, the headers
 * that change a request's meaning, fencing token and lock parsing; the
 * multipart and versioning parameters: uploads, uploadId, partNumber,
 * part-number-marker, max-parts, max-uploads, key-marker, upload-id-marker,
 * version-id-marker, versionId, x-amz-copy-source-range), the version id
 * check, the request-head checks (framing, repeated headers, metadata
 * size), the conditional headers (ETag lists, HTTP dates, the read and write
 * checks), the aws-chunked body decoder (unsigned, and with a
 * chunk-signature verifier: every signature is then checked, and fails),
 * the checksums, the Range parser, and the DeleteObjects and
 * CompleteMultipartUpload XML.
 *
 * Input layout: line 1 is the method, line 2 the request-target, then
 * "name: value" header lines; whatever follows an empty line is a body
 * fed to the decoders. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_lines.h"
#include "backend/cond.h"
#include "http/awschunked.h"
#include "http/checksum.h"
#include "http/headcheck.h"
#include "http/range.h"
#include "http/request.h"
#include "http/xml.h"
#include "util/textutil.h"

static int trailer(void *arg, const char *name, size_t nlen, const char *value, size_t vlen)
{
    zkp_checksum_t *c = arg;
    if (zkp_checksum_algo(name, nlen) != ZKP_CKS_NONE)
        zkp_checksum_expect(c, value, vlen);
    return 0;
}

static int sum(void *arg, const char *d, size_t n)
{
    zkp_checksum_update(arg, d, n);
    return 0;
}

/* The body through the decoder, in two pieces, with or without a
 * chunk-signature verifier (keyed with zeros: every signature fails, which
 * must be refused, never crash). */
static void decode(const char *body, size_t blen, int signed_body)
{
    zkp_sigv4_auth_t a;
    memset(&a, 0, sizeof(a));
    a.payload = ZKP_SIGV4_PAYLOAD_STREAMING_TRAILER;
    memcpy(a.amz_date, "20240101T000000Z", 17);
    strcpy(a.scope, "20240101/us-east-1/s3/aws4_request");
    memset(a.signature, 'a', 64);
    zkp_sigv4_chunks_t sig;
    memset(&sig, 0, sizeof(sig));
    if (signed_body && zkp_sigv4_chunks_init(&sig, &a) != 0)
        return;
    zkp_checksum_t c;
    if (zkp_checksum_init(&c, (zkp_cks_algo_t)(1 + blen % 5)) != 0)
        return;
    zkp_chunked_cb_t cb = {sum, trailer};
    zkp_chunked_t ch;
    zkp_chunked_init(&ch, signed_body ? &sig : NULL);
    size_t half = blen / 2;
    if (zkp_chunked_feed(&ch, body, half, &cb, &c) == 0)
        zkp_chunked_feed(&ch, body + half, blen - half, &cb, &c);
    zkp_chunked_finish(&ch);
    zkp_checksum_finish(&c);
    zkp_sigv4_chunks_clear(&sig);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    size_t tlen = strlen(text); /* headers stop at a NUL; the body may not */
    char *p = text;
    zkp_request_in_t in = {.method = "GET", .target = "/", .max_key_bytes = 0};
    char *m = pt_next_line(&p), *t = pt_next_line(&p), *line;
    if (m != NULL)
        in.method = m;
    if (t != NULL)
        in.target = t;
    const char *range = NULL;
    zkp_cond_t cond = {0};
    zkp_sigv4_header_t hdrs[64] = {{0}};
    size_t nh = 0;
    while ((line = pt_next_line(&p)) != NULL && *line != '\0') {
        char *colon = strchr(line, ':');
        if (colon == NULL)
            continue;
        *colon = '\0';
        const char *v = colon + 1 + (colon[1] == ' ');
        if (nh < 64)
            hdrs[nh++] = (zkp_sigv4_header_t){line, strlen(line), v, strlen(v)};
        if (!strcmp(line, "x-amz-copy-source"))
            in.copy_source = v;
        else if (!strcmp(line, "x-amz-copy-source-range"))
            in.copy_source_range = v;
        else if (!strcmp(line, "X-Fencing-Lock"))
            in.fencing_lock = v;
        else if (!strcmp(line, "X-Fencing-Token"))
            in.fencing_token = v;
        else if (!strcmp(line, "x-amz-meta-fencing-lock"))
            in.meta_fencing_lock = v;
        else if (!strcmp(line, "x-amz-meta-fencing-token"))
            in.meta_fencing_token = v;
        else if (!strcmp(line, "Range"))
            range = v;
        else if (!strcmp(line, "If-Match"))
            cond.if_match = v;
        else if (!strcmp(line, "If-None-Match"))
            cond.if_none_match = v;
        else if (!strcmp(line, "If-Modified-Since"))
            cond.if_modified_since = v;
        else if (!strcmp(line, "If-Unmodified-Since"))
            cond.if_unmodified_since = v;
    }
    zkp_head_verdict_t verdict;
    zkp_head_check_framing(hdrs, nh, strlen(in.method) + strlen(in.target), 16384, &verdict);
    zkp_op_t op;
    zkp_request_classify(&in, &op);
    zkp_head_check_headers(hdrs, nh, zkp_op_stores_metadata(op.kind), &verdict);
    zkp_op_free(&op);
    int status;
    const char *code, *msg;
    zkp_version_id_check(in.target, &status, &code, &msg);
    uint64_t a, b;
    zkp_range_parse(range, size, &a, &b);
    /* Conditional headers: every value through the parsers, the checks
     * against an object whose ETag is the If-Match value itself (so that
     * matching paths are reached too). */
    const char *vals[] = {cond.if_match, cond.if_none_match, cond.if_modified_since,
                          cond.if_unmodified_since};
    for (size_t i = 0; i < 4; i++) {
        time_t when;
        zkp_http_date_parse(vals[i], &when);
        zkp_etag_list_match(vals[i], "0123456789abcdef0123456789abcdef", (int)(i & 1));
    }
    const char *etag = cond.if_match ? cond.if_match : "";
    zkp_cond_check_read(&cond, etag, (time_t)size * 1000003, NULL);
    zkp_cond_check_write(&cond, (int)(size & 1), etag, NULL);
    /* The body: everything after the blank line, with its NULs. */
    size_t off = p ? (size_t)(p - text) : size;
    if (off > tlen)
        off = tlen;
    const char *body = (const char *)data + off;
    size_t blen = size - off;
    decode(body, blen, 0);
    decode(body, blen, 1);
    zkp_delete_req_t d;
    if (zkp_xml_parse_delete(body, blen, 1000, &d) == 0)
        zkp_delete_req_free(&d);
    char *loc;
    if (zkp_xml_parse_create_bucket(body, blen, &loc) == 0)
        free(loc);
    zkp_complete_req_t cr;
    if (zkp_xml_parse_complete(body, blen, 10000, &cr) == 0) {
        /* Every part the parser returns holds what it promises. */
        for (size_t i = 0; i < cr.nparts; i++)
            if (cr.parts[i].number < 0 || strlen(cr.parts[i].etag) == 0 ||
                strlen(cr.parts[i].etag) > ZKP_ETAG_MAX)
                abort();
        zkp_complete_req_free(&cr);
    }
    free(text);
    return 0;
}
