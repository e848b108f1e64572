/* The upstream S3 backend: objects live in an S3-compatible store; each
 * proxy bucket is an upstream bucket, or a key prefix in one
 * (s3.bucket.NAME = UPSTREAM[/PREFIX]); with s3.unmapped = same, a bucket
 * without a mapping is the upstream bucket of the same name, else it does
 * not exist.
 *
 * Writes: the body is staged as it arrives (put_write, on the event loop:
 * up to 1 MiB in memory, else an unnamed local file, a page-cache write
 * like the local-files backend: s3core.h) and sent upstream by put_commit,
 * which the core calls inside the lock's fencing section after the mark is
 * durable. Why not stream the body
 * upstream as it arrives: an upstream PUT becomes visible when its last
 * byte arrives, and stores differ in what an unfinished one does: s3rver
 * truncates the object it replaces when the request starts. A write sent
 * before its fencing decision could therefore damage the object even when
 * the decision then refuses it. Staged first, no byte of a write reaches
 * the upstream before the write is accepted, and once a write with token T
 * has been sent, a write with a lower token never is (the mark is T from
 * then on, whatever the upstream answered, timeouts included). Measured
 * against the alternatives (bench/RESULTS.md): a temporary key plus a
 * server-side copy, and a multipart upload completed in the section, each
 * cost s3rver as much as the upload itself.
 *
 * Reads: GET and HEAD go upstream (on a worker: remote = 1); a body streams
 * through the transfer thread (transfer.h) to the client, held in a bounded
 * buffer; read() never waits: it answers ZKP_BE_READ_AGAIN and the caller
 * is notified when bytes arrive.
 *
 * Provenance (which fenced write produced an object) is kept upstream as
 * user metadata, x-amz-meta-zkfence-lock and x-amz-meta-zkfence-token: the
 * prefix x-amz-meta-zkfence- is reserved, and a client's own metadata of
 * that name is not stored. */
#include "backend/s3/backend_s3.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "backend/s3/multipart.h"
#include "backend/s3/s3core.h"
#include "backend/s3/s3list.h"
#include "backend/s3/uploads.h"
#include "backend/s3/upstream.h"
#include "util/fsutil.h"
#include "util/textutil.h"

/* A body up to this size is complete when open returns: read() never
 * answers ZKP_BE_READ_AGAIN for it (the core reads small bodies at once). */
#define INLINE_MAX (64 * 1024)

struct zkp_reader {
    zkp_xfer_t *x;
    uint64_t pos; /* body offset of the next byte */
};

/* --- buckets ------------------------------------------------------------------------- */

static int s3_bucket_exists(zkp_backend_t *base, const char *bucket)
{
    zkp_s3be_t *be = (zkp_s3be_t *)base;
    zkp_s3_where_t w;
    if (zkp_s3be_resolve(be, bucket, &w) != 0)
        return 0;
    if (w.mapped)
        return 1; /* checked at start; a zkp_s3be_call that needs it reports its loss */
    int rc = zkp_s3be_call(be, "HeadBucket", "HEAD", w.bucket, NULL, NULL, NULL, 0, -1, 0, 0, NULL);
    /* Unknown (the upstream is down): say yes, and let the zkp_s3be_call that
     * follows report the outage rather than a missing bucket. */
    return rc != ZKP_BE_NO_BUCKET;
}

static int not_through_proxy(const char *bucket, const char *why)
{
    char msg[200];
    snprintf(msg, sizeof(msg), "Bucket %s %s", bucket, why);
    return zkp_be_fail(ZKP_BE_UPSTREAM, 403, "AccessDenied", msg);
}

static int s3_bucket_create(zkp_backend_t *base, const char *bucket)
{
    zkp_s3be_t *be = (zkp_s3be_t *)base;
    zkp_s3_where_t w;
    if (zkp_s3be_resolve(be, bucket, &w) != 0)
        return not_through_proxy(bucket, "has no s3.bucket mapping and s3.unmapped is refuse");
    if (w.mapped)
        return ZKP_BE_EXISTS; /* it exists by configuration */
    return zkp_s3be_call(be, "CreateBucket", "PUT", w.bucket, NULL, NULL, NULL, 0, -1, 0, 0, NULL);
}

static int s3_bucket_delete(zkp_backend_t *base, const char *bucket)
{
    zkp_s3be_t *be = (zkp_s3be_t *)base;
    zkp_s3_where_t w;
    if (zkp_s3be_resolve(be, bucket, &w) != 0)
        return ZKP_BE_NO_BUCKET;
    if (w.mapped)
        return not_through_proxy(bucket, "is mapped by the configuration (s3.bucket): it cannot "
                                         "be deleted through the proxy");
    return zkp_s3be_call(be, "DeleteBucket", "DELETE", w.bucket, NULL, NULL, NULL, 0, -1, 0, 0,
                         NULL);
}

static int info_cmp(const void *a, const void *b)
{
    return strcmp(((const zkp_bucket_info_t *)a)->name, ((const zkp_bucket_info_t *)b)->name);
}

static int s3_bucket_list(zkp_backend_t *base, zkp_bucket_info_t **out, size_t *n)
{
    zkp_s3be_t *be = (zkp_s3be_t *)base;
    zkp_bucket_info_t *up = NULL;
    size_t nup = 0;
    if (be->unmapped_same) {
        zkp_xfer_t *x;
        int rc = zkp_s3be_call(be, "ListBuckets", "GET", NULL, NULL, NULL, NULL, 0, -1, 0, 0, &x);
        if (rc != ZKP_BE_OK)
            return rc;
        size_t len;
        const char *body = zkp_xfer_body(x, &len);
        rc = zkp_s3list_buckets(body, len, &up, &nup);
        zkp_xfer_release(x);
        if (rc != ZKP_BE_OK)
            return rc == ZKP_BE_BAD_GATEWAY
                       ? zkp_be_fail(rc, 0, NULL, "The upstream store's bucket list is not S3 XML")
                       : rc;
    }
    zkp_bucket_info_t *list = calloc(nup + be->nmaps + 1, sizeof(*list));
    if (list == NULL) {
        free(up);
        return ZKP_BE_NOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < be->nmaps; i++) {
        snprintf(list[k].name, sizeof(list[k].name), "%s", be->maps[i].bucket);
        list[k++].created = be->started;
    }
    for (size_t i = 0; i < nup; i++) {
        int dup = 0;
        for (size_t j = 0; j < be->nmaps; j++)
            dup |= strcmp(be->maps[j].bucket, up[i].name) == 0;
        if (!dup)
            list[k++] = up[i];
    }
    free(up);
    qsort(list, k, sizeof(*list), info_cmp);
    *out = list;
    *n = k;
    return ZKP_BE_OK;
}

/* --- writes ------------------------------------------------------------------------- */

static int s3_put_begin(zkp_backend_t *base, const char *bucket, const char *key,
                        const zkp_obj_meta_t *meta, zkp_put_t **out)
{
    zkp_s3be_t *be = (zkp_s3be_t *)base;
    zkp_s3_where_t w;
    if (zkp_s3be_resolve(be, bucket, &w) != 0)
        return ZKP_BE_NO_BUCKET;
    return zkp_s3be_stage(be, &w, key, meta, ZKP_S3_STAGE_MEM, out);
}

static int s3_put_write(zkp_put_t *p, const void *data, size_t len)
{
    return zkp_s3be_put_append(p, data, len);
}

static void s3_put_abort(zkp_put_t *p)
{
    zkp_s3be_put_free(p);
}

static int s3_put_sha256(zkp_put_t *p, const char *sha256, char etag[ZKP_ETAG_MAX + 1])
{
    snprintf(p->sha256, sizeof(p->sha256), "%s", sha256);
    p->etag_out = etag;
    return ZKP_BE_OK;
}

/* The MD5 (hex) of the staged body, read back: the ETag of a put sent by
 * its SHA-256 whose answer named none (or one that cannot be an ETag). */
static int staged_md5(zkp_put_t *p, char *etag)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md != NULL && EVP_DigestInit_ex(md, EVP_md5(), NULL) == 1;
    if (ok && p->mem != NULL)
        ok = EVP_DigestUpdate(md, p->mem, (size_t)p->written) == 1;
    char buf[64 * 1024];
    for (uint64_t off = 0; ok && p->mem == NULL && off < p->written;) {
        ssize_t n = pread(p->fd, buf, sizeof(buf), (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        ok = n > 0 && EVP_DigestUpdate(md, buf, (size_t)n) == 1;
        off += ok ? (uint64_t)n : 0;
    }
    unsigned char d[16];
    unsigned int dl = 0;
    ok = ok && EVP_DigestFinal_ex(md, d, &dl) == 1 && dl == 16;
    EVP_MD_CTX_free(md);
    if (ok)
        zkp_hex_encode(d, 16, etag);
    return ok ? ZKP_BE_OK : ZKP_BE_IO;
}

/* The ETag of an upstream answer to a put sent by its SHA-256, unquoted,
 * into p->etag_out: the store computed it from the bytes it stored, and
 * the reads of the object answer the same. */
static int answered_etag(zkp_put_t *p, zkp_xfer_t *x)
{
    const char *v = zkp_xfer_header(x, "etag");
    size_t l = v != NULL ? strlen(v) : 0;
    if (l >= 2 && v[0] == '"' && v[l - 1] == '"') {
        v++;
        l -= 2;
    }
    int usable = l > 0 && l <= ZKP_ETAG_MAX;
    for (size_t i = 0; usable && i < l; i++)
        usable = v[i] > 0x20 && v[i] < 0x7f && v[i] != '"';
    if (!usable)
        return staged_md5(p, p->etag_out);
    memcpy(p->etag_out, v, l);
    p->etag_out[l] = '\0';
    return ZKP_BE_OK;
}

static int s3_put_commit(zkp_put_t *p, const char *etag, const zkp_cond_t *cond, time_t *mtime)
{
    if (p->commit != NULL)
        return p->commit(p, etag, cond, mtime); /* a multipart step (multipart.c) */
    const char **h;
    size_t n;
    char md5_b64[32], token[24];
    /* By its SHA-256 (put_sha256): no Content-MD5 (etag is ""), the
     * upstream checks the signed payload hash instead. */
    int hashed = p->sha256[0] != '\0' && p->copy_source == NULL;
    zkp_xfer_t *x = NULL;
    zkp_xfer_body_t body = zkp_s3be_put_body(p);
    int rc = zkp_s3be_put_headers(p, etag, cond, &h, &n, md5_b64, token);
    if (rc == ZKP_BE_OK) {
        const char *what = p->copy_source ? "CopyObject" : "PutObject";
        rc = zkp_s3be_call_body(p->be, what, "PUT", p->bucket, p->key, NULL, h, n,
                                p->copy_source ? NULL : &body, hashed ? p->sha256 : NULL, 1,
                                hashed ? &x : NULL);
        free(h);
    }
    if (rc == ZKP_BE_OK && hashed) {
        rc = answered_etag(p, x);
        zkp_xfer_release(x);
    }
    if (rc == ZKP_BE_UNAVAILABLE && zkp_be_detail()->status == 0) {
        /* No answer: the upstream may or may not have stored it. The mark
         * raised for this write stays raised (marks never go down). */
        char msg[256];
        snprintf(msg, sizeof(msg),
                 "%.150s (the write's outcome is unknown; the lock's "
                 "high-water mark keeps its token)",
                 zkp_be_detail()->message);
        zkp_be_fail(rc, 0, NULL, msg);
    }
    if (rc == ZKP_BE_OK && mtime != NULL)
        *mtime = time(NULL);
    zkp_s3be_put_free(p);
    return rc;
}

/* --- reads --------------------------------------------------------------------------- */

static const char *const kept_headers[] = {
    "content-type",     "cache-control", "content-disposition",
    "content-language", "expires",       "content-encoding"};

typedef struct meta_fill {
    zkp_obj_meta_t *m;
    int oom;
} meta_fill_t;

static void fill_header(void *arg, const char *name, const char *value)
{
    meta_fill_t *f = arg;
    char lower[256];
    size_t n = strlen(name);
    if (n >= sizeof(lower))
        return;
    for (size_t i = 0; i <= n; i++)
        lower[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
    if (strcmp(lower, ZKP_S3_META_LOCK) == 0) {
        free(f->m->fence_lock);
        f->oom |= (f->m->fence_lock = strdup(value)) == NULL;
        return;
    }
    if (strcmp(lower, ZKP_S3_META_TOKEN) == 0) {
        f->m->fence_token = strtoull(value, NULL, 10);
        return;
    }
    int keep = strncmp(lower, "x-amz-meta-", 11) == 0 &&
               strncmp(lower, ZKP_S3_META_RESERVED, strlen(ZKP_S3_META_RESERVED)) != 0;
    for (size_t i = 0; i < sizeof(kept_headers) / sizeof(kept_headers[0]); i++)
        keep |= strcmp(lower, kept_headers[i]) == 0;
    if (keep)
        f->oom |= zkp_obj_meta_add(f->m, lower, value) != 0;
}

/* The object's metadata from a 200/206 answer. 0, or an error. */
static int read_meta(zkp_xfer_t *x, long status, zkp_obj_meta_t *m)
{
    memset(m, 0, sizeof(*m));
    const char *cl = zkp_xfer_header(x, "content-length");
    const char *cr = zkp_xfer_header(x, "content-range");
    const char *etag = zkp_xfer_header(x, "etag");
    const char *lm = zkp_xfer_header(x, "last-modified");
    const char *total = cr ? strchr(cr, '/') : NULL;
    if (status == 206 && total != NULL)
        m->size = strtoull(total + 1, NULL, 10);
    else if (cl != NULL)
        m->size = strtoull(cl, NULL, 10);
    else
        return zkp_be_fail(ZKP_BE_BAD_GATEWAY, (int)status, NULL,
                           "The upstream store sent an object without its length");
    if (etag != NULL) {
        size_t l = strlen(etag);
        if (l >= 2 && etag[0] == '"' && etag[l - 1] == '"') {
            etag++;
            l -= 2;
        }
        if (l <= ZKP_ETAG_MAX)
            snprintf(m->etag, sizeof(m->etag), "%.*s", (int)l, etag);
    }
    if (lm != NULL) {
        time_t t = curl_getdate(lm, NULL);
        m->mtime = t < 0 ? 0 : t;
    }
    meta_fill_t f = {m, 0};
    zkp_xfer_headers(x, fill_header, &f);
    if (f.oom) {
        zkp_obj_meta_free(m);
        return ZKP_BE_NOMEM;
    }
    return ZKP_BE_OK;
}

static int get(zkp_s3be_t *be, const char *bucket, const char *key, const char *range,
               zkp_obj_meta_t *meta, zkp_reader_t **r)
{
    zkp_s3_where_t w;
    char *k;
    int rc = zkp_s3be_locate(be, bucket, key, &w, &k);
    if (rc != ZKP_BE_OK)
        return rc;
    const char *h[2] = {"range", range};
    const char *what = r == NULL ? "HeadObject" : "GetObject";
    zkp_xfer_t *x = zkp_upstream_send(be->up, r == NULL ? "HEAD" : "GET", w.bucket, k, NULL, h,
                                      range != NULL && r != NULL ? 1 : 0, NULL, NULL, r != NULL);
    free(k);
    if (x == NULL)
        return ZKP_BE_NOMEM;
    zkp_xfer_wait_headers(x);
    long status;
    rc = zkp_upstream_answered(be->up, x, what, &status);
    if (rc == ZKP_BE_OK && status != 200 && status != 206)
        rc = zkp_upstream_error(be->up, x, status, what, 1);
    if (rc == ZKP_BE_OK)
        rc = read_meta(x, status, meta);
    if (rc != ZKP_BE_OK || r == NULL) {
        zkp_xfer_release(x);
        return rc;
    }
    zkp_reader_t *rd = calloc(1, sizeof(*rd));
    if (rd == NULL) {
        zkp_xfer_release(x);
        zkp_obj_meta_free(meta);
        return ZKP_BE_NOMEM;
    }
    rd->x = x;
    /* A 206 starts at its Content-Range's first byte; a 200 (the range
     * ignored) at 0, and read() skips up to where the caller starts. */
    const char *cr = status == 206 ? zkp_xfer_header(x, "content-range") : NULL;
    rd->pos = cr != NULL && strncmp(cr, "bytes ", 6) == 0 ? strtoull(cr + 6, NULL, 10) : 0;
    const char *cl = zkp_xfer_header(x, "content-length");
    if (cl != NULL && strtoull(cl, NULL, 10) <= INLINE_MAX)
        zkp_xfer_wait(x); /* small: whole before the core reads it (no AGAIN) */
    *r = rd;
    return ZKP_BE_OK;
}

static int s3_open(zkp_backend_t *base, const char *bucket, const char *key, zkp_obj_meta_t *meta,
                   zkp_reader_t **r)
{
    return get((zkp_s3be_t *)base, bucket, key, NULL, meta, r);
}

static int s3_open_range(zkp_backend_t *base, const char *bucket, const char *key,
                         const char *range, zkp_obj_meta_t *meta, zkp_reader_t **r)
{
    return get((zkp_s3be_t *)base, bucket, key, range, meta, r);
}

static ssize_t s3_read(zkp_reader_t *r, uint64_t offset, void *buf, size_t len)
{
    while (r->pos < offset) { /* bytes before the range the caller wants */
        size_t skip = offset - r->pos < len ? (size_t)(offset - r->pos) : len;
        ssize_t n = zkp_xfer_read(r->x, buf, skip);
        if (n <= 0)
            return n == ZKP_XFER_AGAIN ? ZKP_BE_READ_AGAIN : -1;
        r->pos += (uint64_t)n;
    }
    if (offset != r->pos)
        return -1; /* reads come in order */
    ssize_t n = zkp_xfer_read(r->x, buf, len);
    if (n == ZKP_XFER_AGAIN)
        return ZKP_BE_READ_AGAIN;
    if (n > 0)
        r->pos += (uint64_t)n;
    return n;
}

static void s3_set_notify(zkp_reader_t *r, zkp_read_notify_fn on_wait, zkp_read_notify_fn on_ready,
                          void *arg)
{
    zkp_xfer_set_notify(r->x, on_wait, on_ready, arg);
}

static void s3_close(zkp_reader_t *r)
{
    if (r == NULL)
        return;
    zkp_xfer_release(r->x);
    free(r);
}

static int s3_copy_begin(zkp_backend_t *base, const char *sb, const char *sk, const char *db,
                         const char *dk, const zkp_obj_meta_t *replace, const zkp_obj_meta_t *prov,
                         const zkp_cond_t *src_cond, zkp_put_t **out, char etag[ZKP_ETAG_MAX + 1])
{
    zkp_s3be_t *be = (zkp_s3be_t *)base;
    zkp_s3_where_t src, dst;
    if (zkp_s3be_resolve(be, sb, &src) != 0 || zkp_s3be_resolve(be, db, &dst) != 0)
        return ZKP_BE_NO_BUCKET;
    zkp_obj_meta_t sm;
    int rc = get(be, sb, sk, NULL, &sm, NULL); /* HEAD: the source's ETag and headers */
    if (rc != ZKP_BE_OK)
        return rc;
    if (zkp_cond_check_read(src_cond, sm.etag, sm.mtime, NULL) != ZKP_COND_PASS) {
        zkp_obj_meta_free(&sm);
        return ZKP_BE_PRECONDITION; /* a "not modified" too: 412 for a copy's source */
    }
    zkp_obj_meta_t m;
    if (zkp_obj_meta_copy(&m, replace ? replace : &sm) != 0) {
        zkp_obj_meta_free(&sm);
        return ZKP_BE_NOMEM;
    }
    free(m.fence_lock);
    m.fence_lock = prov && prov->fence_lock ? strdup(prov->fence_lock) : NULL;
    m.fence_token = prov ? prov->fence_token : 0;
    rc = zkp_s3be_stage(be, &dst, dk, &m, ZKP_S3_STAGE_NONE, out);
    zkp_obj_meta_free(&m);
    char *skey = zkp_s3be_key(&src, sk);
    char *enc = skey ? malloc(3 * strlen(skey) + strlen(src.bucket) + 3) : NULL;
    if (rc == ZKP_BE_OK && enc != NULL) {
        size_t n = (size_t)sprintf(enc, "/%s/", src.bucket);
        zkp_pct_encode(skey, strlen(skey), 1, enc + n);
        (*out)->copy_source = enc;
        snprintf((*out)->source_etag, sizeof((*out)->source_etag), "\"%s\"", sm.etag);
        enc = NULL;
    } else if (rc == ZKP_BE_OK) {
        zkp_s3be_put_free(*out);
        rc = ZKP_BE_NOMEM;
    }
    free(enc);
    free(skey);
    memcpy(etag, sm.etag, sizeof(sm.etag));
    zkp_obj_meta_free(&sm);
    return rc;
}

/* --- remove and list ------------------------------------------------------------------- */

static int s3_remove(zkp_backend_t *base, const char *bucket, const char *key)
{
    zkp_s3be_t *be = (zkp_s3be_t *)base;
    zkp_s3_where_t w;
    char *k;
    int rc = zkp_s3be_locate(be, bucket, key, &w, &k);
    if (rc != ZKP_BE_OK)
        return rc;
    rc = zkp_s3be_call(be, "DeleteObject", "DELETE", w.bucket, k, NULL, NULL, 0, -1, 0, 1, NULL);
    free(k);
    return rc;
}

static int s3_list(zkp_backend_t *base, const char *bucket, const zkp_list_req_t *req,
                   zkp_list_result_t *res)
{
    zkp_s3be_t *be = (zkp_s3be_t *)base;
    memset(res, 0, sizeof(*res));
    zkp_s3_where_t w;
    if (zkp_s3be_resolve(be, bucket, &w) != 0)
        return ZKP_BE_NO_BUCKET;
    char q[8192] = "", num[16], *prefix = NULL, *after = NULL;
    const char *skip = NULL;
    snprintf(num, sizeof(num), "%d", req->max_keys);
    int rc = ZKP_BE_NOMEM;
    if (asprintf(&prefix, "%s%s", w.prefix, req->prefix ? req->prefix : "") < 0)
        prefix = NULL;
    if (req->after != NULL) {
        /* After a common prefix ("a/"), resume past every key under it: the
         * greatest code point after it; a key equal to it is dropped. */
        size_t al = strlen(req->after), dl = req->delimiter ? strlen(req->delimiter) : 0;
        int past = dl > 0 && al >= dl && strcmp(req->after + al - dl, req->delimiter) == 0;
        if (asprintf(&after, "%s%s%s", w.prefix, req->after, past ? "\xf4\x8f\xbf\xbf" : "") < 0)
            after = NULL;
        skip = req->after;
    }
    if (prefix == NULL || (req->after != NULL && after == NULL))
        goto out;
    rc = ZKP_BE_IO;
    if (zkp_upstream_query_add(q, sizeof(q), "list-type", "2") != 0 ||
        zkp_upstream_query_add(q, sizeof(q), "max-keys", num) != 0 ||
        zkp_upstream_query_add(q, sizeof(q), "encoding-type", "url") != 0 ||
        (prefix[0] && zkp_upstream_query_add(q, sizeof(q), "prefix", prefix) != 0) ||
        (req->delimiter &&
         zkp_upstream_query_add(q, sizeof(q), "delimiter", req->delimiter) != 0) ||
        (after && zkp_upstream_query_add(q, sizeof(q), "start-after", after) != 0))
        goto out;
    zkp_xfer_t *x;
    rc = zkp_s3be_call(be, "ListObjectsV2", "GET", w.bucket, NULL, q, NULL, 0, -1, 0, 0, &x);
    if (rc == ZKP_BE_OK) {
        size_t len;
        const char *body = zkp_xfer_body(x, &len);
        rc = zkp_s3list_objects(body, len, w.prefix, skip, res);
        if (rc == ZKP_BE_BAD_GATEWAY)
            zkp_be_fail(rc, 200, NULL, "The upstream store's listing is not S3 XML");
        zkp_xfer_release(x);
    }
out:
    free(prefix);
    free(after);
    return rc;
}

/* --- start and stop ---------------------------------------------------------------------- */

static void s3_destroy(zkp_backend_t *base)
{
    zkp_s3be_t *be = (zkp_s3be_t *)base;
    if (be == NULL)
        return;
    zkp_upstream_free(be->up);
    zkp_s3ups_close(be->uploads);
    free(be->maps);
    free(be);
}

static const zkp_backend_ops_t s3_ops = {
    .name = "s3",
    .remote = 1,
    .destroy = s3_destroy,
    .bucket_create = s3_bucket_create,
    .bucket_delete = s3_bucket_delete,
    .bucket_exists = s3_bucket_exists,
    .bucket_list = s3_bucket_list,
    .put_begin = s3_put_begin,
    .put_write = s3_put_write,
    .put_commit = s3_put_commit,
    .put_abort = s3_put_abort,
    .put_sha256 = s3_put_sha256,
    .copy_begin = s3_copy_begin,
    .open = s3_open,
    .open_range = s3_open_range,
    .read = s3_read,
    .set_notify = s3_set_notify,
    .close = s3_close,
    .remove = s3_remove,
    .list = s3_list,
    .mpu_create = zkp_s3_mpu_create,
    .mpu_stat = zkp_s3_mpu_stat,
    .mpu_part_begin = zkp_s3_mpu_part_begin,
    .mpu_part_copy_begin = zkp_s3_mpu_part_copy_begin,
    .mpu_list_parts = zkp_s3_mpu_list_parts,
    .mpu_complete_begin = zkp_s3_mpu_complete_begin,
    .mpu_abort = zkp_s3_mpu_abort,
    .mpu_list = zkp_s3_mpu_list,
    .mpu_sweep = zkp_s3_mpu_sweep,
};

/* At start: every mapped bucket must exist upstream and let us in (or, with
 * no mapping, the bucket list must), so that a wrong endpoint, credentials
 * or bucket stops the proxy with a message instead of failing every
 * request. */
static int check_upstream(zkp_s3be_t *be, char *err, size_t errlen, int *failure)
{
    const char *ep = zkp_upstream_endpoint(be->up);
    for (size_t i = 0; i <= be->nmaps; i++) {
        if (i == be->nmaps && be->nmaps > 0)
            break;
        const char *ub = i < be->nmaps ? be->maps[i].upstream : NULL;
        char what[200];
        if (ub != NULL)
            snprintf(what, sizeof(what), "HeadBucket %s (s3.bucket.%s)", ub, be->maps[i].bucket);
        else
            snprintf(what, sizeof(what), "ListBuckets");
        int rc =
            zkp_s3be_call(be, what, ub ? "HEAD" : "GET", ub, NULL, NULL, NULL, 0, -1, 0, 0, NULL);
        if (rc == ZKP_BE_OK)
            continue;
        const zkp_be_detail_t *d = zkp_be_detail();
        *failure = rc == ZKP_BE_UNAVAILABLE ? ZKP_FAIL_UNAVAILABLE : ZKP_FAIL_CONFIG;
        if (rc == ZKP_BE_NO_BUCKET)
            snprintf(err, errlen, "upstream %s: %s: no such bucket", ep, what);
        else if (rc == ZKP_BE_UPSTREAM)
            snprintf(err, errlen, "upstream %s: %s: refused, %d %s%s", ep, what, d->status, d->code,
                     d->status == 403 ? ": check s3.credentials_file and s3.region" : "");
        else
            snprintf(err, errlen, "upstream %s: %s", ep, d->message[0] ? d->message : "refused");
        return -1;
    }
    return 0;
}

zkp_backend_t *zkp_backend_s3_open(const zkp_config_t *cfg, char *err, size_t errlen, int *failure)
{
    const zkp_s3_config_t *c = &cfg->s3;
    *failure = ZKP_FAIL_CONFIG;
    if (c->nmaps == 0 && !c->unmapped_same) {
        snprintf(err, errlen,
                 "backend = s3: no bucket to serve: add s3.bucket.NAME = "
                 "UPSTREAM-BUCKET[/PREFIX] lines, or s3.unmapped = same");
        return NULL;
    }
    zkp_s3be_t *be = calloc(1, sizeof(*be));
    if (be == NULL || (c->nmaps > 0 && (be->maps = malloc(c->nmaps * sizeof(*be->maps))) == NULL)) {
        free(be);
        snprintf(err, errlen, "out of memory");
        *failure = ZKP_FAIL_START;
        return NULL;
    }
    be->base.ops = &s3_ops;
    if (c->nmaps > 0)
        memcpy(be->maps, c->maps, c->nmaps * sizeof(*be->maps));
    be->nmaps = c->nmaps;
    be->unmapped_same = c->unmapped_same;
    be->started = time(NULL);
    snprintf(be->spool_dir, sizeof(be->spool_dir), "%s/tmp", cfg->data_dir);
    if (zkp_mkdir_p(be->spool_dir) != 0) {
        snprintf(err, errlen, "%s: cannot create: %s", be->spool_dir, strerror(errno));
        *failure = ZKP_FAIL_START;
        s3_destroy(&be->base);
        return NULL;
    }
    char dir[4200];
    snprintf(dir, sizeof(dir), "%s/s3-uploads", cfg->data_dir);
    if (zkp_s3ups_open(dir, &be->uploads, err, errlen) != 0) {
        *failure = ZKP_FAIL_START;
        s3_destroy(&be->base);
        return NULL;
    }
    be->up = zkp_upstream_new(c, err, errlen, failure);
    if (be->up == NULL || check_upstream(be, err, errlen, failure) != 0) {
        s3_destroy(&be->base);
        return NULL;
    }
    return &be->base;
}
