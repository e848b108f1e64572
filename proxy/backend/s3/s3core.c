/* What the files of the upstream S3 backend share (s3core.h). */
#include "backend/s3/s3core.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/textutil.h"

int zkp_s3be_resolve(const zkp_s3be_t *be, const char *bucket, zkp_s3_where_t *w)
{
    for (size_t i = 0; i < be->nmaps; i++)
        if (strcmp(be->maps[i].bucket, bucket) == 0) {
            *w = (zkp_s3_where_t){be->maps[i].upstream, be->maps[i].prefix, 1};
            return 0;
        }
    if (!be->unmapped_same)
        return -1;
    *w = (zkp_s3_where_t){bucket, "", 0};
    return 0;
}

char *zkp_s3be_key(const zkp_s3_where_t *w, const char *key)
{
    char *k;
    return asprintf(&k, "%s%s", w->prefix, key) < 0 ? NULL : k;
}

/* The upstream bucket and key (malloc'ed, *k) of a proxy bucket's key. */
int zkp_s3be_locate(const zkp_s3be_t *be, const char *bucket, const char *key, zkp_s3_where_t *w,
                    char **k)
{
    if (zkp_s3be_resolve(be, bucket, w) != 0)
        return ZKP_BE_NO_BUCKET;
    *k = zkp_s3be_key(w, key);
    return *k == NULL ? ZKP_BE_NOMEM : ZKP_BE_OK;
}

/* Sends, waits for the whole answer, and checks it is 2xx. 0 with the
 * transfer in *out (release it), or an error (nothing to release). */
int zkp_s3be_call(zkp_s3be_t *be, const char *what, const char *method, const char *bucket,
                  const char *key, const char *query, const char *const *headers, size_t nh, int fd,
                  uint64_t len, int object, zkp_xfer_t **out)
{
    zkp_xfer_body_t body = {fd, NULL, len};
    return zkp_s3be_call_body(be, what, method, bucket, key, query, headers, nh,
                              fd >= 0 ? &body : NULL, NULL, object, out);
}

int zkp_s3be_call_body(zkp_s3be_t *be, const char *what, const char *method, const char *bucket,
                       const char *key, const char *query, const char *const *headers, size_t nh,
                       const zkp_xfer_body_t *body, const char *sha256, int object,
                       zkp_xfer_t **out)
{
    zkp_xfer_t *x =
        zkp_upstream_send(be->up, method, bucket, key, query, headers, nh, body, sha256, 0);
    if (x == NULL)
        return ZKP_BE_NOMEM;
    zkp_xfer_wait(x);
    long status;
    int rc = zkp_upstream_answered(be->up, x, what, &status);
    if (rc == ZKP_BE_OK && (status < 200 || status >= 300))
        rc = zkp_upstream_error(be->up, x, status, what, object);
    if (rc != ZKP_BE_OK || out == NULL)
        zkp_xfer_release(x);
    else
        *out = x;
    return rc;
}

int zkp_s3be_spool_open(const zkp_s3be_t *be)
{
    /* Unnamed: nothing to clean up after a crash, the kernel frees it. */
    int fd = open(be->spool_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != ENOENT))
        return fd;
    char path[4200];
    snprintf(path, sizeof(path), "%s/put.XXXXXX", be->spool_dir);
    fd = mkostemp(path, O_CLOEXEC);
    if (fd >= 0)
        unlink(path);
    return fd;
}

/* Gives back the memory of a put staged in memory. */
static void mem_drop(zkp_put_t *p)
{
    free(p->mem);
    p->mem = NULL;
    p->mem_cap = 0;
    if (p->mem_limit > 0)
        atomic_fetch_sub(&p->be->mem_staged, p->mem_limit);
    p->mem_limit = 0;
}

void zkp_s3be_put_free(zkp_put_t *p)
{
    if (p->release != NULL)
        p->release(p);
    mem_drop(p);
    if (p->fd >= 0)
        close(p->fd);
    free(p->bucket);
    free(p->key);
    free(p->copy_source);
    zkp_obj_meta_free(&p->meta);
    free(p);
}

/* A staged put of key in bucket (upstream names), meta deep-copied. */
int zkp_s3be_stage(zkp_s3be_t *be, const zkp_s3_where_t *w, const char *key,
                   const zkp_obj_meta_t *meta, int spool, zkp_put_t **out)
{
    zkp_put_t *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return ZKP_BE_NOMEM;
    p->be = be;
    p->fd = -1;
    p->bucket = strdup(w->bucket);
    p->key = zkp_s3be_key(w, key);
    if (p->bucket == NULL || p->key == NULL || zkp_obj_meta_copy(&p->meta, meta) != 0) {
        zkp_s3be_put_free(p);
        return ZKP_BE_NOMEM;
    }
    if (spool == ZKP_S3_STAGE_MEM || spool == ZKP_S3_STAGE_MEM_PART) {
        /* Reserved whole at begin: a put never fails for lack of budget
         * halfway, it is staged in a file from the start instead. */
        p->mem_limit = spool == ZKP_S3_STAGE_MEM ? ZKP_S3_MEM_PUT : ZKP_S3_MEM_PART;
        size_t was = atomic_fetch_add(&be->mem_staged, p->mem_limit);
        if (was + p->mem_limit > ZKP_S3_MEM_BUDGET || (p->mem = malloc(64 * 1024)) == NULL)
            mem_drop(p);
        else
            p->mem_cap = 64 * 1024;
    }
    if (spool != ZKP_S3_STAGE_NONE && p->mem == NULL && (p->fd = zkp_s3be_spool_open(be)) < 0) {
        zkp_s3be_put_free(p);
        return ZKP_BE_IO;
    }
    *out = p;
    return ZKP_BE_OK;
}

static int write_all(int fd, const char *b, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, b, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return ZKP_BE_IO;
        b += n;
        len -= (size_t)n;
    }
    return ZKP_BE_OK;
}

int zkp_s3be_put_append(zkp_put_t *p, const void *data, size_t len)
{
    if (p->mem != NULL && len <= p->mem_limit - p->written) {
        size_t need = (size_t)p->written + len;
        if (need > p->mem_cap) {
            size_t cap = p->mem_cap;
            while (cap < need)
                cap *= 2; /* the limit is 64 KiB times a power of two */
            char *m = realloc(p->mem, cap);
            if (m == NULL)
                return ZKP_BE_IO;
            p->mem = m;
            p->mem_cap = cap;
        }
        memcpy(p->mem + p->written, data, len);
        p->written += len;
        return ZKP_BE_OK;
    }
    if (p->mem != NULL) {
        /* Outgrown: what arrived so far moves to a spool file. */
        if ((p->fd = zkp_s3be_spool_open(p->be)) < 0)
            return ZKP_BE_IO;
        if (write_all(p->fd, p->mem, (size_t)p->written) != ZKP_BE_OK)
            return ZKP_BE_IO;
        mem_drop(p);
    }
    if (write_all(p->fd, data, len) != ZKP_BE_OK)
        return ZKP_BE_IO;
    p->written += len;
    return ZKP_BE_OK;
}

zkp_xfer_body_t zkp_s3be_put_body(const zkp_put_t *p)
{
    return (zkp_xfer_body_t){p->fd, p->mem, p->written};
}

/* The request headers of a put: stored headers, provenance, the body's
 * MD5 (the upstream checks what it received against what we did), and the
 * write's own preconditions, which the upstream checks atomically with its
 * publication (cond.h). */
int zkp_s3be_put_headers(const zkp_put_t *p, const char *etag, const zkp_cond_t *cond,
                         const char ***out, size_t *n, char *md5_b64, char *token)
{
    const zkp_obj_meta_t *m = &p->meta;
    const char **h = calloc(2 * (m->nheaders + 8), sizeof(*h));
    if (h == NULL)
        return ZKP_BE_NOMEM;
    size_t k = 0;
    for (size_t i = 0; i < m->nheaders; i++) {
        if (strncmp(m->headers[i].name, ZKP_S3_META_RESERVED, strlen(ZKP_S3_META_RESERVED)) == 0)
            continue; /* reserved for provenance: never a client's */
        h[2 * k] = m->headers[i].name;
        h[2 * k++ + 1] = m->headers[i].value;
    }
    if (m->fence_lock != NULL) {
        snprintf(token, 24, "%" PRIu64, m->fence_token);
        h[2 * k] = ZKP_S3_META_LOCK;
        h[2 * k++ + 1] = m->fence_lock;
        h[2 * k] = ZKP_S3_META_TOKEN;
        h[2 * k++ + 1] = token;
    }
    unsigned char md5[16];
    if (p->copy_source == NULL && etag != NULL &&
        zkp_hex_decode(etag, strlen(etag), md5, 16) == 16) {
        EVP_EncodeBlock((unsigned char *)md5_b64, md5, 16);
        h[2 * k] = "content-md5";
        h[2 * k++ + 1] = md5_b64;
    }
    if (p->copy_source != NULL) {
        h[2 * k] = "x-amz-copy-source";
        h[2 * k++ + 1] = p->copy_source;
        h[2 * k] = "x-amz-metadata-directive";
        h[2 * k++ + 1] = "REPLACE";
        /* The version copy_begin checked is the one copied. */
        h[2 * k] = "x-amz-copy-source-if-match";
        h[2 * k++ + 1] = p->source_etag;
    }
    if (cond != NULL && cond->if_match != NULL) {
        h[2 * k] = "if-match";
        h[2 * k++ + 1] = cond->if_match;
    }
    if (cond != NULL && cond->if_none_match != NULL) {
        h[2 * k] = "if-none-match";
        h[2 * k++ + 1] = cond->if_none_match;
    }
    *out = h;
    *n = k;
    return ZKP_BE_OK;
}
