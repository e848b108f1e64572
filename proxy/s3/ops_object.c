/* Object operations: PutObject (streamed), GetObject/HeadObject (ranges),
 * DeleteObject, DeleteObjects (<VersionId>null</VersionId> is the object)
 * and CopyObject. Mutations go through the fencing gate (s3/gate.c)
 * between staging and commit, fenced reads around the opening of the
 * object; body bytes arrive through s3/body.c. */
#include "s3/ops_object.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "http/checksum.h"
#include "http/range.h"
#include "http/respond.h"
#include "http/xml.h"
#include "s3/binding.h"
#include "s3/body.h"
#include "s3/errors.h"
#include "s3/gate.h"
#include "s3/objmeta.h"
#include "s3/precond.h"
#include "s3/service.h"
#include "util/buf.h"
#include "util/textutil.h"
#include "util/digest.h"

#define DELETE_MAX_KEYS 1000 /* S3's limit per DeleteObjects request */
/* Markup around one key: <Object><Key></Key></Object> is 28 bytes; the rest
 * leaves room for a <VersionId> ("null", or a 32-character id refused for
 * its key, even spelled as character references) and indentation. */
#define DELETE_OBJECT_MARKUP 512
/* The XML declaration, <Delete xmlns="..."> and <Quiet>, with room. */
#define DELETE_ENVELOPE 4096

/* --- PutObject ------------------------------------------------------------------- */

int zkp_put_start(zkp_req_t *r, enum MHD_Result *res)
{
    /* A part (UploadPart, which starts here too) has no precondition. */
    if (r->op.kind == ZKP_OP_PUT_OBJECT && zkp_precond_write_start(r, res) != 0)
        return -1;
    /* A part's ETag is its MD5 (the completion's ETag is made of them). */
    int by_sha256 = r->op.kind == ZKP_OP_PUT_OBJECT && r->svc->be->ops->put_sha256 != NULL;
    int started = zkp_body_stream_start(r, r->svc->cfg->max_body_bytes, by_sha256, res);
    if (started != 0)
        return started > 0 ? 0 : -1; /* > 0: refused, the body drained first */
    zkp_objmeta_collect(r);
    int rc = r->svc->be->ops->put_begin(r->svc->be, r->op.bucket, r->op.key, &r->meta, &r->put);
    if (rc != ZKP_BE_OK) {
        r->put = NULL;
        *res = zkp_respond_be_error(r, rc);
        return -1;
    }
    r->body_mode = ZKP_BODY_STREAM;
    return 0;
}

static enum MHD_Result respond_etag(zkp_req_t *r, int status, const char *etag)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (resp == NULL)
        return MHD_NO;
    char quoted[ZKP_ETAG_MAX + 3];
    snprintf(quoted, sizeof(quoted), "\"%s\"", etag);
    MHD_add_response_header(resp, "ETag", quoted);
    if (r->cks.algo != ZKP_CKS_NONE && r->cks.expect_len > 0 &&
        r->cks.expect_len <= sizeof(r->cks.expect)) {
        /* The flexible checksum the body was checked against (the body's
         * end verified it: a mismatch never gets here), echoed as S3 does
         * (the SDKs return it as ChecksumCRC32, ...). */
        char b64[48];
        EVP_EncodeBlock((unsigned char *)b64, r->cks.expect, (int)r->cks.expect_len);
        MHD_add_response_header(resp, zkp_checksum_header(r->cks.algo), b64);
    }
    return zkp_respond(r, status, resp);
}

enum MHD_Result zkp_op_put_object(zkp_req_t *r)
{
    if (r->failed.status != 0)
        return zkp_body_respond_failed(r);
    char etag[ZKP_ETAG_MAX + 1], sha256[65];
    enum MHD_Result res;
    if (zkp_body_stream_finish(r, etag, sha256, &res) != 0)
        return res;
    zkp_put_t *p = r->put;
    r->put = NULL;
    /* No MD5 (by_sha256 above): the backend sends the verified SHA-256 and
     * fills etag with the store's ETag at commit. */
    if (etag[0] == '\0' && r->svc->be->ops->put_sha256(p, sha256, etag) != ZKP_BE_OK) {
        r->svc->be->ops->put_abort(p);
        return zkp_respond_be_error(r, ZKP_BE_NOMEM);
    }
    zkp_cond_t cond;
    zkp_precond_write(r, &cond);
    if (zkp_gate_commit(r, p, etag, r->op.kind == ZKP_OP_PUT_OBJECT ? &cond : NULL, NULL, &res) !=
        0)
        return res;
    atomic_fetch_add(&r->svc->metrics.bytes_in, r->body_bytes);
    return respond_etag(r, 200, etag);
}

/* --- CopyObject -------------------------------------------------------------------- */

enum MHD_Result zkp_op_copy_object(zkp_req_t *r)
{
    zkp_op_t *op = &r->op;
    const char *dir = zkp_req_header(r, "x-amz-metadata-directive");
    int replace = dir != NULL && strcasecmp(dir, "REPLACE") == 0;
    if (dir != NULL && !replace && strcasecmp(dir, "COPY") != 0)
        return zkp_respond_error(r, 400, "InvalidArgument",
                                 "Unknown metadata directive (COPY or REPLACE)");
    if (!replace && strcmp(op->bucket, op->src_bucket) == 0 && strcmp(op->key, op->src_key) == 0)
        return zkp_respond_error(r, 400, "InvalidRequest",
                                 "This copy request is illegal because it is trying to copy an "
                                 "object to itself without changing the object's metadata.");
    enum MHD_Result res;
    if (zkp_precond_write_start(r, &res) != 0)
        return res;
    zkp_objmeta_collect(r);
    char etag[ZKP_ETAG_MAX + 1];
    zkp_cond_t src_cond;
    zkp_precond_copy_source(r, &src_cond);
    int rc =
        r->svc->be->ops->copy_begin(r->svc->be, op->src_bucket, op->src_key, op->bucket, op->key,
                                    replace ? &r->meta : NULL, &r->meta, &src_cond, &r->put, etag);
    if (rc != ZKP_BE_OK) {
        r->put = NULL;
        return zkp_respond_be_error(r, rc);
    }
    zkp_put_t *p = r->put;
    r->put = NULL;
    zkp_cond_t cond;
    zkp_precond_write(r, &cond);
    return zkp_copy_finish(r, p, etag, &cond, "CopyObjectResult");
}

enum MHD_Result zkp_copy_finish(zkp_req_t *r, zkp_put_t *p, const char *etag,
                                const zkp_cond_t *cond, const char *root)
{
    time_t mtime = 0;
    enum MHD_Result res;
    if (zkp_gate_commit(r, p, etag, cond, &mtime, &res) != 0)
        return res;
    char when[32];
    zkp_iso8601(mtime, when, sizeof(when));
    zkp_buf_t b;
    zkp_buf_init(&b);
    zkp_buf_printf(&b,
                   ZKP_XML_DECL "<%s xmlns=\"" ZKP_S3_NS "\"><LastModified>%s</LastModified>"
                                "<ETag>&quot;%s&quot;</ETag></%s>\n",
                   root, when, etag, root);
    size_t len;
    char *body = zkp_buf_steal(&b, &len);
    return zkp_respond_body(r, 200, "application/xml", body, len);
}

/* --- GetObject / HeadObject ---------------------------------------------------------- */

typedef struct get_stream {
    zkp_service_t *svc;
    zkp_reader_t *rd;
    uint64_t first;
    struct MHD_Connection *conn;
} get_stream_t;

/* A remote reader has no bytes yet (called by its read(), inside our
 * content reader: where libmicrohttpd allows it): the connection sleeps
 * until get_ready, so the loop does not spin on it. */
static void get_wait(void *cls)
{
    MHD_suspend_connection(((get_stream_t *)cls)->conn);
}

/* From the backend's transfer thread: bytes arrived (or the end). */
static void get_ready(void *cls)
{
    MHD_resume_connection(((get_stream_t *)cls)->conn);
}

static ssize_t get_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    get_stream_t *g = cls;
    if (g->rd == NULL)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    ssize_t n = g->svc->be->ops->read(g->rd, g->first + pos, buf, max);
    if (n == ZKP_BE_READ_AGAIN)
        return 0; /* suspended by get_wait; called again after get_ready */
    if (n < 0)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    if (n == 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    atomic_fetch_add(&g->svc->metrics.bytes_out, (uint64_t)n);
    return n;
}

static void get_free(void *cls)
{
    get_stream_t *g = cls;
    if (g->rd != NULL)
        g->svc->be->ops->close(g->rd);
    free(g);
}

/* Bodies up to this size are read into the response itself: libmicrohttpd
 * then sends headers and body in one writev, where a sendfile response
 * costs a second system call, and on loopback a second wake-up of the
 * reader, per request (perf: a fifth of the proxy's samples on 4 KiB GETs
 * were the scheduler switching away on return from send and sendfile). */
#define GET_INLINE_MAX (16 * 1024)

/* The whole [first, first + len) of g's object in one response, or NULL
 * (allocation or read failure: the caller streams instead, and a read
 * failure surfaces there). */
static struct MHD_Response *get_inline(get_stream_t *g, uint64_t len)
{
    char *buf = malloc(len ? (size_t)len : 1);
    if (buf == NULL)
        return NULL;
    size_t got = 0;
    while (got < len) {
        ssize_t n = g->svc->be->ops->read(g->rd, g->first + got, buf + got, (size_t)len - got);
        if (n <= 0) {
            free(buf);
            return NULL;
        }
        got += (size_t)n;
    }
    struct MHD_Response *resp =
        MHD_create_response_from_buffer((size_t)len, buf, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL)
        free(buf);
    else
        atomic_fetch_add(&g->svc->metrics.bytes_out, len);
    return resp;
}

/* The response-* override of stored header `name`, or NULL. */
static const char *override_of(const zkp_op_t *op, const char *name)
{
    for (size_t i = 0; i < ZKP_RESPONSE_OVERRIDE_COUNT; i++)
        if (op->response_override[i] != NULL &&
            strcasecmp(ZKP_RESPONSE_OVERRIDES[i].header, name) == 0)
            return op->response_override[i];
    return NULL;
}

/* The object's headers; a response-* parameter of op replaces the stored
 * header of its name (or adds it), as S3 does for a signed GetObject. */
static void add_object_headers(struct MHD_Response *resp, const zkp_obj_meta_t *m,
                               const zkp_op_t *op)
{
    char v[ZKP_ETAG_MAX + 16];
    snprintf(v, sizeof(v), "\"%s\"", m->etag);
    MHD_add_response_header(resp, "ETag", v);
    zkp_http_date(m->mtime, v, sizeof(v));
    MHD_add_response_header(resp, "Last-Modified", v);
    MHD_add_response_header(resp, "Accept-Ranges", "bytes");
    int has_type = 0;
    for (size_t i = 0; i < m->nheaders; i++) {
        if (override_of(op, m->headers[i].name) != NULL)
            continue;
        /* libmicrohttpd refuses an empty value; one space is the same field
         * value in HTTP (whitespace around it is not part of it), and
         * clients read it as "": empty user metadata comes back empty. */
        const char *hv = m->headers[i].value[0] != '\0' ? m->headers[i].value : " ";
        MHD_add_response_header(resp, m->headers[i].name, hv);
        has_type |= strcmp(m->headers[i].name, "content-type") == 0;
    }
    for (size_t i = 0; i < ZKP_RESPONSE_OVERRIDE_COUNT; i++) {
        const char *ov = op->response_override[i];
        if (ov == NULL)
            continue;
        MHD_add_response_header(resp, ZKP_RESPONSE_OVERRIDES[i].header, ov[0] ? ov : " ");
        has_type |= strcasecmp(ZKP_RESPONSE_OVERRIDES[i].header, "Content-Type") == 0;
    }
    if (!has_type)
        MHD_add_response_header(resp, "Content-Type", "binary/octet-stream");
    if (m->fence_lock != NULL) {
        /* Which fenced write produced these bytes: lets a reader (and the
         * tests) check that the visible object came from an accepted token. */
        snprintf(v, sizeof(v), "%" PRIu64, m->fence_token);
        MHD_add_response_header(resp, "X-Fencing-Lock", m->fence_lock);
        MHD_add_response_header(resp, "X-Fencing-Token", v);
    }
}

static enum MHD_Result invalid_range(zkp_req_t *r, uint64_t size)
{
    char cr[48];
    snprintf(cr, sizeof(cr), "bytes */%" PRIu64, size);
    return zkp_respond_error_hdr(r, 416, "InvalidRange", "The requested range is not satisfiable",
                                 "Content-Range", cr);
}

/* 304 Not Modified: the validators, no body. */
static enum MHD_Result not_modified(zkp_req_t *r, const zkp_obj_meta_t *m)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (resp == NULL)
        return MHD_NO;
    char v[ZKP_ETAG_MAX + 16];
    snprintf(v, sizeof(v), "\"%s\"", m->etag);
    MHD_add_response_header(resp, "ETag", v);
    zkp_http_date(m->mtime, v, sizeof(v));
    MHD_add_response_header(resp, "Last-Modified", v);
    return zkp_respond(r, 304, resp);
}

/* The read's preconditions, on the snapshot (m): 0 to serve it, or -1
 * with the 304 or 412 queued in *res. Evaluated before Range, as RFC 7232
 * orders them. */
static int read_preconditions(zkp_req_t *r, const zkp_obj_meta_t *m, enum MHD_Result *res)
{
    zkp_cond_t cond;
    zkp_precond_read(r, &cond);
    const char *failed = NULL;
    switch (zkp_cond_check_read(&cond, m->etag, m->mtime, &failed)) {
    case ZKP_COND_PASS:
        return 0;
    case ZKP_COND_NOT_MODIFIED:
        *res = not_modified(r, m);
        return -1;
    default:
        *res = zkp_precond_failed(r, failed);
        return -1;
    }
}

enum MHD_Result zkp_op_get_object(zkp_req_t *r, int head)
{
    zkp_obj_meta_t m;
    memset(&m, 0, sizeof(m));
    get_stream_t *g = calloc(1, sizeof(*g));
    if (g == NULL)
        return MHD_NO;
    g->svc = r->svc;
    g->conn = r->conn;
    /* A fenced read opens the object (its snapshot: later writes do not
     * change what an open descriptor reads, and an upstream's GET has begun
     * with its headers) inside the lock's section, once its token is the
     * durable mark. An ordinary read has no section. */
    zkp_gate_t fence;
    enum MHD_Result res;
    if (zkp_gate_enter(r, &fence, NULL, &res) != 0) {
        free(g);
        return res;
    }
    const zkp_backend_ops_t *ops = r->svc->be->ops;
    const char *range = zkp_req_header(r, "Range");
    uint64_t f, l;
    int rc;
    if (!head && range != NULL && ops->open_range != NULL &&
        zkp_range_parse(range, UINT64_MAX, &f, &l) != ZKP_RANGE_NONE && !strstr(range, "=-"))
        /* One byte range from a given offset: a remote backend fetches only
         * those bytes. Not a suffix range (bytes=-N): s3rver reads it as
         * 0-N, and the whole body then streams, skipped up to the range. */
        rc = ops->open_range(r->svc->be, r->op.bucket, r->op.key, range, &m, &g->rd);
    else
        rc = ops->open(r->svc->be, r->op.bucket, r->op.key, &m, head ? NULL : &g->rd);
    zkp_gate_leave(&fence);
    if (rc != ZKP_BE_OK) {
        free(g);
        return zkp_respond_be_error(r, rc);
    }
    if (read_preconditions(r, &m, &res) != 0) {
        get_free(g);
        zkp_obj_meta_free(&m);
        return res;
    }
    uint64_t first = 0, last = m.size ? m.size - 1 : 0;
    zkp_range_result_t rr = zkp_range_parse(zkp_req_header(r, "Range"), m.size, &first, &last);
    if (rr == ZKP_RANGE_UNSATISFIABLE) {
        uint64_t size = m.size;
        get_free(g);
        zkp_obj_meta_free(&m);
        return invalid_range(r, size);
    }
    uint64_t len = rr == ZKP_RANGE_OK ? last - first + 1 : m.size;
    g->first = rr == ZKP_RANGE_OK ? first : 0;
    struct MHD_Response *resp = NULL;
    int fd;
    uint64_t body_off;
    if (!head && len <= GET_INLINE_MAX && (resp = get_inline(g, len)) != NULL) {
        get_free(g);
        g = NULL;
        r->mem_body = (size_t)len;
    } else if (!head && r->svc->be->ops->take_fd != NULL &&
               r->svc->be->ops->take_fd(g->rd, &fd, &body_off) == ZKP_BE_OK) {
        /* Zero-copy: libmicrohttpd sends from the file (sendfile) and closes
         * the descriptor with the response. */
        uint64_t start = body_off + g->first;
        get_free(g);
        g = NULL;
        resp = MHD_create_response_from_fd_at_offset64(len, fd, start);
        if (resp == NULL)
            close(fd);
        else
            atomic_fetch_add(&r->svc->metrics.bytes_out, len);
    } else {
        if (ops->set_notify != NULL && g->rd != NULL)
            ops->set_notify(g->rd, get_wait, get_ready, g);
        resp = MHD_create_response_from_callback(len, 64 * 1024, get_read, g, get_free);
    }
    if (resp == NULL) {
        if (g != NULL)
            get_free(g);
        zkp_obj_meta_free(&m);
        return MHD_NO;
    }
    add_object_headers(resp, &m, &r->op);
    if (rr == ZKP_RANGE_OK) {
        char cr[80];
        snprintf(cr, sizeof(cr), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, first, last, m.size);
        MHD_add_response_header(resp, "Content-Range", cr);
    }
    zkp_obj_meta_free(&m);
    return zkp_respond(r, rr == ZKP_RANGE_OK ? 206 : 200, resp);
}

/* --- DeleteObject / DeleteObjects ---------------------------------------------------- */

enum MHD_Result zkp_op_delete_object(zkp_req_t *r)
{
    zkp_backend_t *be = r->svc->be;
    /* A conditional delete cannot be honoured here: refused, rather than
     * done unconditionally behind the client's back. */
    const char *cond = zkp_req_header(r, "If-Match")        ? "If-Match"
                       : zkp_req_header(r, "If-None-Match") ? "If-None-Match"
                                                            : NULL;
    if (cond != NULL) {
        zkp_xml_extra_t extra[] = {{"Header", cond}};
        return zkp_respond_error_x(r, 501, "NotImplemented",
                                   "A header you provided implies functionality that is not "
                                   "implemented: conditional DeleteObject",
                                   extra, 1);
    }
    if (!be->ops->bucket_exists(be, r->op.bucket))
        return zkp_respond_be_error(r, ZKP_BE_NO_BUCKET);
    zkp_gate_t g;
    enum MHD_Result res;
    if (zkp_gate_enter(r, &g, NULL, &res) != 0)
        return res;
    int rc = be->ops->remove(be, r->op.bucket, r->op.key);
    zkp_gate_leave(&g);
    if (rc != ZKP_BE_OK && rc != ZKP_BE_NO_KEY) /* deleting nothing succeeds, as in S3 */
        return zkp_respond_be_error(r, rc);
    return zkp_respond_empty(r, 204);
}

static const char *key_problem(const char *key, size_t max)
{
    size_t len = strlen(key);
    if (len == 0)
        return "The key is empty";
    if (len > max)
        return "Your key is too long";
    if (!zkp_utf8_valid(key, len))
        return "Object keys must be valid UTF-8";
    return NULL;
}

/* Why one key of DeleteObjects is refused, or NULL: an invalid key, or a
 * version other than "null" (the only one there is). *code is its S3
 * error code. */
static const char *delete_problem(const zkp_req_t *r, const zkp_delete_req_t *d, size_t i,
                                  const char **code)
{
    const char *problem = key_problem(d->keys[i], r->svc->cfg->max_key_bytes);
    int status;
    *code = "InvalidArgument";
    if (problem == NULL && d->versions[i] != NULL)
        zkp_version_id_check(d->versions[i], &status, code, &problem);
    return problem;
}

/* One audit line per key, with what the decision meant for that key: the
 * gate's acceptance, or a refusal of a key that is not valid. */
static void delete_each(zkp_req_t *r, const zkp_delete_req_t *d, const zkp_gate_t *g, zkp_buf_t *b)
{
    zkp_backend_t *be = r->svc->be;
    for (size_t i = 0; i < d->nkeys; i++) {
        const char *k = d->keys[i], *code;
        const char *problem = delete_problem(r, d, i, &code);
        int rc = problem ? ZKP_BE_OK : be->ops->remove(be, r->op.bucket, k);
        zkp_gate_audit_as(r, g, k, problem ? ZKP_VERDICT_REJECT_INVALID : g->verdict);
        if (problem == NULL && (rc == ZKP_BE_OK || rc == ZKP_BE_NO_KEY)) {
            if (!d->quiet) {
                zkp_buf_puts(b, "<Deleted>");
                zkp_xml_elem(b, "Key", k);
                if (d->versions[i] != NULL) /* "null", echoed as S3 does */
                    zkp_xml_elem(b, "VersionId", d->versions[i]);
                zkp_buf_puts(b, "</Deleted>");
            }
            continue;
        }
        zkp_buf_puts(b, "<Error>");
        zkp_xml_elem(b, "Key", k);
        if (d->versions[i] != NULL)
            zkp_xml_elem(b, "VersionId", d->versions[i]);
        zkp_xml_elem(b, "Code", problem ? code : "InternalError");
        zkp_xml_elem(b, "Message", problem ? problem : "Storage error");
        zkp_buf_puts(b, "</Error>");
    }
}

/* The locks of the keys (s3/binding.h); invalid keys are refused one by
 * one later, and bind nothing. */
static int bind_keys(zkp_req_t *r, const zkp_delete_req_t *d, enum MHD_Result *res)
{
    int *skip = calloc(d->nkeys ? d->nkeys : 1, sizeof(int));
    if (skip == NULL) {
        *res = zkp_respond_error(r, 503, "SlowDown", "Out of memory, please retry");
        return -1;
    }
    for (size_t i = 0; i < d->nkeys; i++)
        skip[i] = key_problem(d->keys[i], r->svc->cfg->max_key_bytes) != NULL;
    int rc = zkp_binding_keys(r, d->keys, skip, d->nkeys, res);
    free(skip);
    return rc;
}

enum MHD_Result zkp_op_delete_objects(zkp_req_t *r)
{
    if (zkp_body_finish(r) != 0)
        return zkp_body_respond_failed(r);
    const char *body = r->buffer.data ? r->buffer.data : "";
    if (r->has_content_md5) {
        unsigned char md[16];
        unsigned int mdlen = 0;
        EVP_Digest(body, r->buffer.len, md, &mdlen, zkp_md_md5(), NULL);
        if (memcmp(md, r->content_md5, 16) != 0)
            return zkp_respond_error(r, 400, "BadDigest",
                                     "The Content-MD5 you specified did not match what we "
                                     "received.");
    }
    zkp_delete_req_t d;
    if (zkp_xml_parse_delete(body, r->buffer.len, DELETE_MAX_KEYS, &d) != 0)
        return zkp_respond_error(r, 400, "MalformedXML",
                                 "The XML you provided was not well-formed or did not validate "
                                 "against our published schema");
    zkp_backend_t *be = r->svc->be;
    if (!be->ops->bucket_exists(be, r->op.bucket)) {
        zkp_delete_req_free(&d);
        return zkp_respond_be_error(r, ZKP_BE_NO_BUCKET);
    }
    /* Keys bound to locks must share one; a token alone takes it. */
    enum MHD_Result res;
    if (bind_keys(r, &d, &res) != 0) {
        zkp_delete_req_free(&d);
        return res;
    }
    /* One token covers every key of the request: one decision, one section.
     * A refusal is audited under the first key; an acceptance key by key. */
    zkp_gate_t g;
    if (zkp_gate_enter(r, &g, d.keys[0], &res) != 0) {
        zkp_delete_req_free(&d);
        return res;
    }
    zkp_buf_t b;
    zkp_buf_init(&b);
    zkp_buf_puts(&b, ZKP_XML_DECL "<DeleteResult xmlns=\"" ZKP_S3_NS "\">");
    delete_each(r, &d, &g, &b);
    zkp_gate_leave(&g);
    zkp_buf_puts(&b, "</DeleteResult>\n");
    zkp_delete_req_free(&d);
    size_t len;
    char *out = zkp_buf_steal(&b, &len);
    return zkp_respond_body(r, 200, "application/xml", out, len);
}

int zkp_delete_objects_start(zkp_req_t *r, enum MHD_Result *res)
{
    if (zkp_body_content_md5(r, res) != 0)
        return -1;
    /* The largest body a valid request can need: 1000 keys of the longest
     * allowed length, every byte in the longest spelling the parser accepts
     * (a character reference), plus markup. */
    r->body_limit =
        DELETE_MAX_KEYS * (r->svc->cfg->max_key_bytes * ZKP_XML_REF_MAX + DELETE_OBJECT_MARKUP) +
        DELETE_ENVELOPE;
    r->body_mode = ZKP_BODY_BUFFER;
    return 0;
}
