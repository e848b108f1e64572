/* Multipart upload on the upstream S3 backend (multipart.h). */
#include "backend/s3/multipart.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/s3/s3core.h"
#include "backend/s3/s3mpu.h"
#include "backend/s3/uploads.h"
#include "util/buf.h"
#include "util/textutil.h"
#include "util/digest.h"

/* What a staged step carries to its commit. */
typedef struct step {
    zkp_s3up_t up;
    int number;     /* a part's */
    char range[64]; /* a part copy's x-amz-copy-source-range, or "" */
    char *etag_out; /* the caller's ETag buffer: the upstream's ETag lands here at commit */
    char *if_match; /* a completion's preconditions, copied */
    char *if_none_match;
    int claimed; /* a completion holds its upload (uploads.h) until the put ends */
    int ended;   /* ... and ended it */
} step_t;

static zkp_s3be_t *s3be(zkp_backend_t *base)
{
    return (zkp_s3be_t *)base;
}

static void release_step(zkp_put_t *p)
{
    step_t *s = p->ctx;
    if (s == NULL)
        return;
    if (s->claimed)
        zkp_s3ups_end(p->be->uploads, s->up.id, s->ended);
    zkp_s3up_free(&s->up);
    free(s->if_match);
    free(s->if_none_match);
    free(s);
    p->ctx = NULL;
}

/* "partNumber=N&uploadId=ID" (or without the number when number == 0) into q. */
static int upload_query(char *q, size_t cap, const char *upstream_id, int number)
{
    char num[16];
    snprintf(num, sizeof(num), "%d", number);
    q[0] = '\0';
    return (number > 0 && zkp_upstream_query_add(q, cap, "partNumber", num) != 0) ||
                   zkp_upstream_query_add(q, cap, "uploadId", upstream_id) != 0
               ? -1
               : 0;
}

/* A staged step of upload u (copied), its body held as spool says (s3core.h). */
static int stage_step(zkp_s3be_t *be, const char *bucket, const char *key, const zkp_s3up_t *u,
                      int spool, zkp_put_t **out)
{
    zkp_s3_where_t w;
    if (zkp_s3be_resolve(be, bucket, &w) != 0)
        return ZKP_BE_NO_BUCKET;
    step_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return ZKP_BE_NOMEM;
    s->up = *u; /* owned by the step from here */
    zkp_obj_meta_t none;
    memset(&none, 0, sizeof(none));
    int rc = zkp_s3be_stage(be, &w, key, &none, spool, out);
    if (rc != ZKP_BE_OK) {
        zkp_s3up_free(&s->up);
        free(s);
        return rc;
    }
    (*out)->ctx = s;
    (*out)->release = release_step;
    return ZKP_BE_OK;
}

/* A step's upload is gone (completed, aborted, swept since it was staged):
 * nothing is sent. */
static int still_open(zkp_put_t *p)
{
    step_t *s = p->ctx;
    zkp_s3up_t u;
    int rc = zkp_s3ups_get(p->be->uploads, s->up.id, s->up.bucket, s->up.key, 0, &u);
    if (rc == ZKP_BE_OK)
        zkp_s3up_free(&u);
    return rc;
}

/* --- create and stat ---------------------------------------------------------------------- */

int zkp_s3_mpu_create(zkp_backend_t *base, const char *bucket, const char *key,
                      const zkp_obj_meta_t *meta, char **upload_id)
{
    zkp_s3be_t *be = s3be(base);
    zkp_s3_where_t w;
    if (zkp_s3be_resolve(be, bucket, &w) != 0)
        return ZKP_BE_NO_BUCKET;
    /* The object's headers and provenance go with the create: the upstream
     * keeps them for the object the completion makes. */
    zkp_put_t *p;
    int rc = zkp_s3be_stage(be, &w, key, meta, ZKP_S3_STAGE_NONE, &p);
    if (rc != ZKP_BE_OK)
        return rc;
    const char **h = NULL;
    size_t nh = 0;
    char md5[32], token[24];
    char q[64] = "";
    zkp_xfer_t *x = NULL;
    rc = zkp_s3be_put_headers(p, NULL, NULL, &h, &nh, md5, token);
    if (rc == ZKP_BE_OK && zkp_upstream_query_add(q, sizeof(q), "uploads", "") != 0)
        rc = ZKP_BE_NOMEM;
    if (rc == ZKP_BE_OK)
        rc = zkp_s3be_call(be, "CreateMultipartUpload", "POST", p->bucket, p->key, q, h, nh, -1, 0,
                           1, &x);
    free(h);
    zkp_s3up_t u;
    memset(&u, 0, sizeof(u));
    if (rc == ZKP_BE_OK) {
        size_t len;
        const char *body = zkp_xfer_body(x, &len);
        rc = zkp_s3mpu_upload_id(body, len, &u.upstream_id);
        if (rc == ZKP_BE_BAD_GATEWAY)
            zkp_be_fail(rc, 200, NULL,
                        "The upstream store's CreateMultipartUpload answer is not S3");
        zkp_xfer_release(x);
    }
    if (rc == ZKP_BE_OK) {
        u.bucket = strdup(bucket);
        u.key = strdup(key);
        u.lock = meta->fence_lock ? strdup(meta->fence_lock) : NULL;
        u.token = meta->fence_token;
        u.initiated = time(NULL);
        if (u.bucket == NULL || u.key == NULL || (meta->fence_lock && u.lock == NULL))
            rc = ZKP_BE_NOMEM;
        else
            rc = zkp_s3ups_add(be->uploads, &u);
        if (rc != ZKP_BE_OK) {
            /* Unrecorded, it could never be finished through the proxy. */
            char aq[ZKP_UPLOAD_ID_MAX * 3 + 64];
            if (upload_query(aq, sizeof(aq), u.upstream_id, 0) == 0)
                zkp_s3be_call(be, "AbortMultipartUpload", "DELETE", p->bucket, p->key, aq, NULL, 0,
                              -1, 0, 1, NULL);
        }
    }
    if (rc == ZKP_BE_OK && (*upload_id = strdup(u.id)) == NULL)
        rc = ZKP_BE_NOMEM; /* recorded: the sweep ends it */
    zkp_s3up_free(&u);
    zkp_s3be_put_free(p);
    return rc;
}

int zkp_s3_mpu_stat(zkp_backend_t *base, const char *bucket, const char *key, const char *upload_id,
                    zkp_obj_meta_t *meta)
{
    zkp_s3be_t *be = s3be(base);
    zkp_s3_where_t w;
    if (zkp_s3be_resolve(be, bucket, &w) != 0)
        return ZKP_BE_NO_BUCKET;
    zkp_s3up_t u;
    int rc = zkp_s3ups_get(be->uploads, upload_id, bucket, key, 0, &u);
    if (rc != ZKP_BE_OK)
        return rc;
    memset(meta, 0, sizeof(*meta));
    meta->mtime = u.initiated;
    meta->fence_token = u.token;
    meta->fence_lock = u.lock; /* moved */
    u.lock = NULL;
    zkp_s3up_free(&u);
    return ZKP_BE_OK;
}

/* --- parts ----------------------------------------------------------------------------------- */

/* UploadPart: the staged body (memory or file), with its MD5 for the
 * upstream to check. */
static int commit_part(zkp_put_t *p, const char *etag, const zkp_cond_t *cond, time_t *mtime)
{
    (void)cond; /* a part has no precondition */
    step_t *s = p->ctx;
    int rc = still_open(p);
    char q[ZKP_UPLOAD_ID_MAX * 3 + 64];
    if (rc == ZKP_BE_OK && upload_query(q, sizeof(q), s->up.upstream_id, s->number) != 0)
        rc = ZKP_BE_NOMEM;
    unsigned char md5[16];
    char md5_b64[32];
    const char *h[2] = {"content-md5", md5_b64};
    if (rc == ZKP_BE_OK) {
        int with_md5 = etag != NULL && zkp_hex_decode(etag, strlen(etag), md5, 16) == 16;
        if (with_md5)
            EVP_EncodeBlock((unsigned char *)md5_b64, md5, 16);
        zkp_xfer_body_t body = zkp_s3be_put_body(p);
        rc = zkp_s3be_call_body(p->be, "UploadPart", "PUT", p->bucket, p->key, q, h,
                                with_md5 ? 1 : 0, &body, NULL, 1, NULL);
    }
    if (rc == ZKP_BE_OK && mtime != NULL)
        *mtime = time(NULL);
    zkp_s3be_put_free(p);
    return rc;
}

int zkp_s3_mpu_part_begin(zkp_backend_t *base, const char *bucket, const char *key,
                          const char *upload_id, int number, zkp_put_t **out)
{
    zkp_s3be_t *be = s3be(base);
    zkp_s3up_t u;
    int rc = zkp_s3ups_get(be->uploads, upload_id, bucket, key, 0, &u);
    if (rc != ZKP_BE_OK)
        return rc;
    if ((rc = stage_step(be, bucket, key, &u, ZKP_S3_STAGE_MEM_PART, out)) != ZKP_BE_OK)
        return rc;
    ((step_t *)(*out)->ctx)->number = number;
    (*out)->commit = commit_part;
    return ZKP_BE_OK;
}

/* UploadPartCopy: the source's bytes, copied by the upstream, only from the
 * version checked at begin (x-amz-copy-source-if-match). */
static int commit_part_copy(zkp_put_t *p, const char *etag, const zkp_cond_t *cond, time_t *mtime)
{
    (void)etag;
    (void)cond;
    step_t *s = p->ctx;
    int rc = still_open(p);
    char q[ZKP_UPLOAD_ID_MAX * 3 + 64];
    if (rc == ZKP_BE_OK && upload_query(q, sizeof(q), s->up.upstream_id, s->number) != 0)
        rc = ZKP_BE_NOMEM;
    const char *h[6] = {"x-amz-copy-source",          p->copy_source,
                        "x-amz-copy-source-if-match", p->source_etag,
                        "x-amz-copy-source-range",    s->range};
    zkp_xfer_t *x = NULL;
    if (rc == ZKP_BE_OK)
        rc = zkp_s3be_call(p->be, "UploadPartCopy", "PUT", p->bucket, p->key, q, h,
                           s->range[0] ? 3 : 2, -1, 0, 1, &x);
    if (rc == ZKP_BE_OK) {
        size_t len;
        const char *body = zkp_xfer_body(x, &len);
        rc = zkp_s3mpu_etag(body, len, "CopyPartResult", s->etag_out);
        if (rc == ZKP_BE_BAD_GATEWAY)
            zkp_be_fail(rc, 200, NULL, "The upstream store's UploadPartCopy answer is not S3");
        zkp_xfer_release(x);
    }
    if (rc == ZKP_BE_OK && mtime != NULL)
        *mtime = time(NULL);
    zkp_s3be_put_free(p);
    return rc;
}

/* The source's size and ETag (HeadObject). */
static int head_source(zkp_s3be_t *be, const zkp_s3_where_t *w, const char *skey, uint64_t *size,
                       char etag[ZKP_ETAG_MAX + 3])
{
    zkp_xfer_t *x;
    int rc = zkp_s3be_call(be, "HeadObject", "HEAD", w->bucket, skey, NULL, NULL, 0, -1, 0, 1, &x);
    if (rc != ZKP_BE_OK)
        return rc;
    const char *cl = zkp_xfer_header(x, "content-length");
    const char *et = zkp_xfer_header(x, "etag");
    if (cl == NULL || et == NULL || strlen(et) > ZKP_ETAG_MAX + 2)
        rc = zkp_be_fail(ZKP_BE_BAD_GATEWAY, 200, NULL,
                         "The upstream store sent a copy source without its length or ETag");
    else {
        *size = strtoull(cl, NULL, 10);
        snprintf(etag, ZKP_ETAG_MAX + 3, "%s", et);
    }
    zkp_xfer_release(x);
    return rc;
}

int zkp_s3_mpu_part_copy_begin(zkp_backend_t *base, const char *bucket, const char *key,
                               const char *upload_id, int number, const char *src_bucket,
                               const char *src_key, int has_range, uint64_t first, uint64_t last,
                               zkp_put_t **out, char etag[ZKP_ETAG_MAX + 1])
{
    zkp_s3be_t *be = s3be(base);
    zkp_s3_where_t src;
    if (zkp_s3be_resolve(be, src_bucket, &src) != 0)
        return ZKP_BE_NO_BUCKET;
    zkp_s3up_t u;
    int rc = zkp_s3ups_get(be->uploads, upload_id, bucket, key, 0, &u);
    if (rc != ZKP_BE_OK)
        return rc;
    char *skey = zkp_s3be_key(&src, src_key);
    uint64_t size = 0;
    char src_etag[ZKP_ETAG_MAX + 3] = "";
    rc = skey == NULL ? ZKP_BE_NOMEM : head_source(be, &src, skey, &size, src_etag);
    uint64_t len = has_range ? last - first + 1 : size;
    if (rc == ZKP_BE_OK && has_range && (first > last || last >= size))
        rc = ZKP_BE_BAD_RANGE;
    else if (rc == ZKP_BE_OK && len > ZKP_MPU_MAX_PART)
        rc = ZKP_BE_TOO_LARGE;
    char *enc = NULL;
    if (rc == ZKP_BE_OK && (enc = malloc(3 * strlen(skey) + strlen(src.bucket) + 3)) == NULL)
        rc = ZKP_BE_NOMEM;
    if (rc != ZKP_BE_OK) {
        zkp_s3up_free(&u);
        free(skey);
        return rc;
    }
    size_t n = (size_t)sprintf(enc, "/%s/", src.bucket);
    zkp_pct_encode(skey, strlen(skey), 1, enc + n);
    free(skey);
    if ((rc = stage_step(be, bucket, key, &u, ZKP_S3_STAGE_NONE, out)) != ZKP_BE_OK) {
        free(enc);
        return rc;
    }
    step_t *s = (*out)->ctx;
    s->number = number;
    s->etag_out = etag;
    if (has_range)
        snprintf(s->range, sizeof(s->range), "bytes=%" PRIu64 "-%" PRIu64, first, last);
    (*out)->copy_source = enc;
    snprintf((*out)->source_etag, sizeof((*out)->source_etag), "%s", src_etag);
    (*out)->commit = commit_part_copy;
    /* Until the upstream answers (commit): the source's, for a whole copy. */
    size_t el = strlen(src_etag);
    snprintf(etag, ZKP_ETAG_MAX + 1, "%.*s", el >= 2 ? (int)el - 2 : 0, src_etag + (el >= 2));
    return ZKP_BE_OK;
}

int zkp_s3_mpu_list_parts(zkp_backend_t *base, const char *bucket, const char *key,
                          const char *upload_id, int after, int max, zkp_part_list_t *out)
{
    zkp_s3be_t *be = s3be(base);
    memset(out, 0, sizeof(*out));
    zkp_s3_where_t w;
    char *k;
    int rc = zkp_s3be_locate(be, bucket, key, &w, &k);
    if (rc != ZKP_BE_OK)
        return rc;
    zkp_s3up_t u;
    if ((rc = zkp_s3ups_get(be->uploads, upload_id, bucket, key, 0, &u)) != ZKP_BE_OK) {
        free(k);
        return rc;
    }
    char q[ZKP_UPLOAD_ID_MAX * 3 + 128], num[16];
    rc = upload_query(q, sizeof(q), u.upstream_id, 0) == 0 ? ZKP_BE_OK : ZKP_BE_NOMEM;
    snprintf(num, sizeof(num), "%d", max);
    if (rc == ZKP_BE_OK && zkp_upstream_query_add(q, sizeof(q), "max-parts", num) != 0)
        rc = ZKP_BE_NOMEM;
    snprintf(num, sizeof(num), "%d", after);
    if (rc == ZKP_BE_OK && after > 0 &&
        zkp_upstream_query_add(q, sizeof(q), "part-number-marker", num) != 0)
        rc = ZKP_BE_NOMEM;
    zkp_xfer_t *x = NULL;
    if (rc == ZKP_BE_OK)
        rc = zkp_s3be_call(be, "ListParts", "GET", w.bucket, k, q, NULL, 0, -1, 0, 1, &x);
    if (rc == ZKP_BE_OK) {
        size_t len;
        const char *body = zkp_xfer_body(x, &len);
        rc = zkp_s3mpu_parts(body, len, out);
        if (rc == ZKP_BE_BAD_GATEWAY)
            zkp_be_fail(rc, 200, NULL, "The upstream store's ListParts answer is not S3");
        zkp_xfer_release(x);
    }
    zkp_s3up_free(&u);
    free(k);
    return rc;
}

/* --- completion ---------------------------------------------------------------------------- */

/* CompleteMultipartUpload with the part list staged at begin. The upload
 * ends (its record removed) once the upstream says it is complete. */
static int commit_complete(zkp_put_t *p, const char *etag, const zkp_cond_t *cond, time_t *mtime)
{
    (void)etag;
    (void)cond; /* the completion's own preconditions came with begin */
    step_t *s = p->ctx;
    char q[ZKP_UPLOAD_ID_MAX * 3 + 64];
    int rc = upload_query(q, sizeof(q), s->up.upstream_id, 0) == 0 ? ZKP_BE_OK : ZKP_BE_NOMEM;
    const char *h[6];
    size_t nh = 0;
    h[2 * nh] = "content-type";
    h[2 * nh++ + 1] = "application/xml";
    if (s->if_match != NULL) {
        h[2 * nh] = "if-match";
        h[2 * nh++ + 1] = s->if_match;
    }
    if (s->if_none_match != NULL) {
        h[2 * nh] = "if-none-match";
        h[2 * nh++ + 1] = s->if_none_match;
    }
    zkp_xfer_t *x = NULL;
    if (rc == ZKP_BE_OK)
        rc = zkp_s3be_call(p->be, "CompleteMultipartUpload", "POST", p->bucket, p->key, q, h, nh,
                           p->fd, p->written, 1, &x);
    if (rc == ZKP_BE_OK) {
        /* S3 may answer 200 and an <Error> once it has started: no object. */
        size_t len;
        const char *body = zkp_xfer_body(x, &len);
        rc = zkp_s3mpu_etag(body, len, "CompleteMultipartUploadResult", s->etag_out);
        if (rc == ZKP_BE_BAD_GATEWAY)
            zkp_be_fail(rc, 200, NULL,
                        "The upstream store's CompleteMultipartUpload answer is not S3 (the "
                        "object may exist: HEAD it)");
        zkp_xfer_release(x);
    }
    if (rc == ZKP_BE_UPSTREAM && zkp_be_detail()->status == 404 &&
        strcmp(zkp_be_detail()->code, "NoSuchUpload") == 0)
        s->ended = 1; /* gone upstream: forget it here too */
    if (rc == ZKP_BE_OK) {
        s->ended = 1;
        if (mtime != NULL)
            *mtime = time(NULL);
    }
    zkp_s3be_put_free(p);
    return rc;
}

/* The ETag S3 gives a multipart object: the MD5 of the parts' binary MD5s,
 * '-' and the count. 0, or -1 if a part's ETag is not a hex MD5. */
static int multipart_etag(const zkp_part_ref_t *parts, size_t n, char etag[ZKP_ETAG_MAX + 1])
{
    EVP_MD_CTX *md5 = EVP_MD_CTX_new();
    int rc = md5 != NULL && EVP_DigestInit_ex(md5, zkp_md_md5(), NULL) == 1 ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        unsigned char d[16];
        if (strlen(parts[i].etag) != 32 || zkp_hex_decode(parts[i].etag, 32, d, 16) != 16)
            rc = -1;
        else
            EVP_DigestUpdate(md5, d, 16);
    }
    unsigned char out[16];
    unsigned int ol = 0;
    if (rc == 0 && EVP_DigestFinal_ex(md5, out, &ol) == 1) {
        zkp_hex_encode(out, 16, etag);
        snprintf(etag + 32, ZKP_ETAG_MAX + 1 - 32, "-%zu", n);
    }
    EVP_MD_CTX_free(md5);
    return rc;
}

/* The CompleteMultipartUpload body, into the step's spool file. */
static int write_part_list(zkp_put_t *p, const zkp_part_ref_t *parts, size_t n)
{
    zkp_buf_t b;
    zkp_buf_init(&b);
    zkp_buf_puts(&b, "<CompleteMultipartUpload>");
    for (size_t i = 0; i < n; i++)
        zkp_buf_printf(&b, "<Part><PartNumber>%d</PartNumber><ETag>\"%s\"</ETag></Part>",
                       parts[i].number, parts[i].etag);
    zkp_buf_puts(&b, "</CompleteMultipartUpload>");
    size_t len;
    char *xml = zkp_buf_steal(&b, &len);
    if (xml == NULL)
        return ZKP_BE_NOMEM;
    int rc = ZKP_BE_OK; /* ETags needing XML escapes were refused at begin */
    if (rc == ZKP_BE_OK)
        rc = p->be->base.ops->put_write(p, xml, len);
    free(xml);
    return rc;
}

int zkp_s3_mpu_complete_begin(zkp_backend_t *base, const char *bucket, const char *key,
                              const char *upload_id, const zkp_part_ref_t *parts, size_t n,
                              const zkp_obj_meta_t *prov, const zkp_cond_t *pre, zkp_put_t **out,
                              char etag[ZKP_ETAG_MAX + 1], size_t *bad)
{
    (void)prov; /* the provenance upstream is the create's (sent with it) */
    zkp_s3be_t *be = s3be(base);
    *out = NULL;
    *bad = 0;
    if (n == 0 || n > ZKP_MPU_MAX_PARTS)
        return ZKP_BE_INVALID_PART;
    for (size_t i = 0; i < n; i++)
        if (strpbrk(parts[i].etag, "<>&\"") != NULL) {
            *bad = i;
            return ZKP_BE_INVALID_PART;
        }
    zkp_s3up_t u;
    int rc = zkp_s3ups_get(be->uploads, upload_id, bucket, key, 1, &u);
    if (rc != ZKP_BE_OK)
        return rc;
    char id[ZKP_S3UP_ID_LEN + 1];
    memcpy(id, u.id, sizeof(id));
    if ((rc = stage_step(be, bucket, key, &u, ZKP_S3_STAGE_FILE, out)) != ZKP_BE_OK) {
        zkp_s3ups_end(be->uploads, id, 0);
        return rc;
    }
    step_t *s = (*out)->ctx;
    s->claimed = 1; /* released with the put, however it ends */
    s->etag_out = etag;
    (*out)->commit = commit_complete;
    if (pre != NULL &&
        ((pre->if_match && (s->if_match = strdup(pre->if_match)) == NULL) ||
         (pre->if_none_match && (s->if_none_match = strdup(pre->if_none_match)) == NULL)))
        rc = ZKP_BE_NOMEM;
    if (rc == ZKP_BE_OK)
        rc = write_part_list(*out, parts, n);
    if (rc != ZKP_BE_OK) {
        zkp_s3be_put_free(*out);
        *out = NULL;
        return rc;
    }
    /* S3's form until the upstream answers with its own (commit). */
    if (multipart_etag(parts, n, etag) != 0)
        etag[0] = '\0';
    return ZKP_BE_OK;
}

/* --- abort, listing, sweep -------------------------------------------------------------- */

/* AbortMultipartUpload of a claimed upload; ends the claim. The record goes
 * when the upstream aborted it or does not know it (404); for the sweep
 * also on any other refusal (a store without the call, s3rver: 405), since
 * the upload is past its age and must not be finished through the proxy any
 * more; the store's own lifecycle rules free its parts then. It stays when
 * the upstream could not answer (5xx, unreachable): the next sweep retries. */
static int abort_claimed(zkp_s3be_t *be, zkp_s3up_t *u, int sweeping)
{
    zkp_s3_where_t w;
    char *k = NULL;
    int rc = zkp_s3be_locate(be, u->bucket, u->key, &w, &k);
    char q[ZKP_UPLOAD_ID_MAX * 3 + 64];
    if (rc == ZKP_BE_OK && upload_query(q, sizeof(q), u->upstream_id, 0) != 0)
        rc = ZKP_BE_NOMEM;
    if (rc == ZKP_BE_OK)
        rc = zkp_s3be_call(be, "AbortMultipartUpload", "DELETE", w.bucket, k, q, NULL, 0, -1, 0, 1,
                           NULL);
    free(k);
    int gone =
        rc == ZKP_BE_OK || (rc == ZKP_BE_UPSTREAM && (zkp_be_detail()->status == 404 || sweeping));
    zkp_s3ups_end(be->uploads, u->id, gone || rc == ZKP_BE_NO_BUCKET);
    return rc;
}

int zkp_s3_mpu_abort(zkp_backend_t *base, const char *bucket, const char *key,
                     const char *upload_id)
{
    zkp_s3be_t *be = s3be(base);
    zkp_s3_where_t w;
    if (zkp_s3be_resolve(be, bucket, &w) != 0)
        return ZKP_BE_NO_BUCKET;
    zkp_s3up_t u;
    int rc = zkp_s3ups_get(be->uploads, upload_id, bucket, key, 1, &u);
    if (rc != ZKP_BE_OK)
        return rc;
    rc = abort_claimed(be, &u, 0);
    zkp_s3up_free(&u);
    return rc;
}

int zkp_s3_mpu_list(zkp_backend_t *base, const char *bucket, const zkp_upload_list_req_t *req,
                    zkp_upload_list_result_t *res)
{
    zkp_s3be_t *be = s3be(base);
    memset(res, 0, sizeof(*res));
    zkp_s3_where_t w;
    if (zkp_s3be_resolve(be, bucket, &w) != 0)
        return ZKP_BE_NO_BUCKET;
    char *prefix = NULL, *marker = NULL, q[8192] = "", num[16];
    snprintf(num, sizeof(num), "%d", req->max_uploads);
    int rc = ZKP_BE_NOMEM;
    if (asprintf(&prefix, "%s%s", w.prefix, req->prefix ? req->prefix : "") < 0)
        prefix = NULL;
    if (req->key_marker != NULL && asprintf(&marker, "%s%s", w.prefix, req->key_marker) < 0)
        marker = NULL;
    if (prefix == NULL || (req->key_marker != NULL && marker == NULL))
        goto out;
    /* The id marker is ours: the upstream's id of that upload. */
    zkp_s3up_t um;
    memset(&um, 0, sizeof(um));
    if (req->key_marker != NULL && req->upload_id_marker != NULL &&
        zkp_s3ups_get(be->uploads, req->upload_id_marker, bucket, req->key_marker, 0, &um) !=
            ZKP_BE_OK)
        memset(&um, 0, sizeof(um));
    rc = ZKP_BE_IO;
    int bad = zkp_upstream_query_add(q, sizeof(q), "uploads", "") != 0 ||
              zkp_upstream_query_add(q, sizeof(q), "max-uploads", num) != 0 ||
              zkp_upstream_query_add(q, sizeof(q), "encoding-type", "url") != 0 ||
              (prefix[0] && zkp_upstream_query_add(q, sizeof(q), "prefix", prefix) != 0) ||
              (req->delimiter &&
               zkp_upstream_query_add(q, sizeof(q), "delimiter", req->delimiter) != 0) ||
              (marker && zkp_upstream_query_add(q, sizeof(q), "key-marker", marker) != 0) ||
              (um.upstream_id &&
               zkp_upstream_query_add(q, sizeof(q), "upload-id-marker", um.upstream_id) != 0);
    zkp_s3up_free(&um);
    if (bad)
        goto out;
    zkp_xfer_t *x;
    rc = zkp_s3be_call(be, "ListMultipartUploads", "GET", w.bucket, NULL, q, NULL, 0, -1, 0, 0, &x);
    if (rc != ZKP_BE_OK)
        goto out;
    size_t len;
    const char *body = zkp_xfer_body(x, &len);
    rc = zkp_s3mpu_uploads(body, len, w.prefix, res);
    zkp_xfer_release(x);
    if (rc == ZKP_BE_BAD_GATEWAY)
        zkp_be_fail(rc, 200, NULL, "The upstream store's ListMultipartUploads answer is not S3");
    if (rc != ZKP_BE_OK)
        goto out;
    /* Upstream ids become ours; an upload not made through this proxy (no
     * fencing record) is not listed. */
    size_t k = 0;
    for (size_t i = 0; i < res->n; i++) {
        zkp_upload_item_t *it = &res->items[i];
        char id[ZKP_S3UP_ID_LEN + 1];
        if (!it->is_prefix &&
            zkp_s3ups_find_upstream(be->uploads, bucket, it->upload_id, id) != 0) {
            free(it->key);
            free(it->upload_id);
            continue;
        }
        if (!it->is_prefix) {
            free(it->upload_id);
            if ((it->upload_id = strdup(id)) == NULL)
                rc = ZKP_BE_NOMEM;
        }
        res->items[k++] = *it;
    }
    res->n = k;
    if (res->next_upload_id != NULL) {
        char id[ZKP_S3UP_ID_LEN + 1];
        int mine = zkp_s3ups_find_upstream(be->uploads, bucket, res->next_upload_id, id) == 0;
        free(res->next_upload_id);
        res->next_upload_id = mine ? strdup(id) : NULL;
    }
    if (rc != ZKP_BE_OK)
        zkp_upload_list_result_free(res);
out:
    free(prefix);
    free(marker);
    return rc;
}

int zkp_s3_mpu_sweep(zkp_backend_t *base, time_t before)
{
    zkp_s3be_t *be = s3be(base);
    zkp_s3up_t *old;
    size_t n;
    int rc = zkp_s3ups_claim_older(be->uploads, before, &old, &n);
    int swept = 0;
    for (size_t i = 0; i < n; i++) {
        int rc1 = abort_claimed(be, &old[i], 1);
        swept += rc1 == ZKP_BE_OK || rc1 == ZKP_BE_UPSTREAM;
        zkp_s3up_free(&old[i]);
    }
    free(old);
    return rc != ZKP_BE_OK && swept == 0 ? rc : swept;
}
