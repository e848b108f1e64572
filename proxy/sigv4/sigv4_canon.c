/* S3's canonical request (see zkp_sigv4_canonical_request() in sigv4.h).
 *
 * Invariant: the canonical form is built from what the proxy will act on.
 * The path and query are decoded exactly once (as the S3 layer decodes
 * them) and re-encoded in the one RFC 3986 spelling, so two spellings of
 * one request sign alike and no spelling can make the signed text differ
 * from the request that is served. */
#include <stdlib.h>
#include <string.h>

#include "sigv4_int.h"

#define SIGNED_HEADERS_COUNT_MAX 256

static int tchar_lower(unsigned char c)
{
    return (zkp__ctype[c] & ZKP__TCHAR_LOWER) != 0;
}

int zkp__signed_headers_ok(const char *s, size_t n, char *detail, size_t dlen)
{
    if (n == 0) {
        zkp__detail(detail, dlen, "SignedHeaders is empty");
        return 0;
    }
    size_t count = 0, prev = 0, prev_len = 0;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != ';') {
            if (s[i] == '\0' || !tchar_lower((unsigned char)s[i])) {
                zkp__detail(detail, dlen,
                            "SignedHeaders: byte 0x%02x is not allowed (names are lowercase)",
                            (unsigned char)s[i]);
                return 0;
            }
            continue;
        }
        size_t len = i - start;
        if (len == 0) {
            zkp__detail(detail, dlen, "SignedHeaders has an empty name");
            return 0;
        }
        if (++count > SIGNED_HEADERS_COUNT_MAX) {
            zkp__detail(detail, dlen, "SignedHeaders names more than %d headers",
                        SIGNED_HEADERS_COUNT_MAX);
            return 0;
        }
        if (count > 1) {
            size_t m = prev_len < len ? prev_len : len;
            int c = memcmp(s + prev, s + start, m);
            if (c > 0 || (c == 0 && prev_len >= len)) {
                zkp__detail(detail, dlen, "SignedHeaders is not sorted, or names a header twice");
                return 0;
            }
        }
        prev = start;
        prev_len = len;
        start = i + 1;
    }
    return 1;
}

/* Canonical URI: every escape decoded, every byte re-encoded; a literal
 * '/' separates segments and stays, an escaped one is data (%2F). */
static int canon_path(zkp__sb_t *b, const char *p, size_t n)
{
    if (n == 0) {
        zkp__sb_putc(b, '/');
        return 0;
    }
    size_t i = 0;
    while (i < n) {
        /* A run of bytes spelt as themselves (unreserved, or '/'), at once. */
        size_t j = i;
        while (j < n && (p[j] == '/' || zkp__unreserved((unsigned char)p[j])))
            j++;
        zkp__sb_put(b, p + i, j - i);
        if (j == n)
            break;
        char c = p[j];
        i = j + 1;
        if (c == '%') {
            if (n - j < 3)
                return -1;
            int hi = zkp__hexval((unsigned char)p[j + 1]);
            int lo = zkp__hexval((unsigned char)p[j + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = (char)(hi << 4 | lo);
            i = j + 3;
        }
        zkp__sb_uri_encode(b, &c, 1, 0);
    }
    return 0;
}

/* One query parameter, encoded: name at [off, off + nlen), value right
 * after it, in the builder's buffer (offsets: the buffer may move). */
typedef struct qparam {
    size_t off;
    size_t nlen;
    size_t vlen;
} qparam_t;

/* Orders two parameters by encoded name, then encoded value, bytewise (a
 * shorter string first when it is a prefix of the other). */
static int qparam_cmp(const qparam_t *a, const qparam_t *b, const char *base)
{
    size_t m = a->nlen < b->nlen ? a->nlen : b->nlen;
    int c = memcmp(base + a->off, base + b->off, m);
    if (c != 0 || a->nlen != b->nlen)
        return c != 0 ? c : (a->nlen < b->nlen ? -1 : 1);
    m = a->vlen < b->vlen ? a->vlen : b->vlen;
    c = memcmp(base + a->off + a->nlen, base + b->off + b->nlen, m);
    if (c != 0 || a->vlen == b->vlen)
        return c;
    return a->vlen < b->vlen ? -1 : 1;
}

/* Merge sort of params (qsort's comparator could not see the buffer
 * without global state, and callers run on many threads). */
static void sort_params(qparam_t *v, qparam_t *tmp, size_t n, const char *base)
{
    if (n < 2)
        return;
    size_t h = n / 2;
    sort_params(v, tmp, h, base);
    sort_params(v + h, tmp, n - h, base);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n) {
        int c = qparam_cmp(&v[i], &v[j], base);
        tmp[k++] = c <= 0 ? v[i++] : v[j++];
    }
    while (i < h)
        tmp[k++] = v[i++];
    while (j < n)
        tmp[k++] = v[j++];
    memcpy(v, tmp, n * sizeof(*v));
}

static int canon_query(zkp__sb_t *out, const char *q, size_t n, int presigned)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        count += q[i] == '&';
    count++;
    qparam_t *params = calloc(count, sizeof(*params));
    qparam_t *tmp = calloc(count, sizeof(*tmp));
    char *scratch = malloc(n + 1);
    zkp__sb_t enc = {0};
    int rc = 0;
    if (params == NULL || tmp == NULL || scratch == NULL) {
        rc = ZKP_SIGV4_ENOMEM;
        goto out;
    }
    size_t np = 0, pos = 0;
    zkp__qparam_t qp;
    while (zkp__query_next(q, n, &pos, &qp)) {
        long dn = zkp__uri_decode(qp.name, qp.name_len, 1, scratch);
        if (dn < 0) {
            rc = ZKP_SIGV4_EURI;
            goto out;
        }
        if (presigned && (size_t)dn == 15 && memcmp(scratch, "X-Amz-Signature", 15) == 0)
            continue;
        qparam_t *p = &params[np++];
        p->off = enc.len;
        zkp__sb_uri_encode(&enc, scratch, (size_t)dn, 0);
        p->nlen = enc.len - p->off;
        long dv = zkp__uri_decode(qp.value, qp.value_len, 1, scratch);
        if (dv < 0) {
            rc = ZKP_SIGV4_EURI;
            goto out;
        }
        zkp__sb_uri_encode(&enc, scratch, (size_t)dv, 0);
        p->vlen = enc.len - p->off - p->nlen;
    }
    if (enc.oom) {
        rc = ZKP_SIGV4_ENOMEM;
        goto out;
    }
    sort_params(params, tmp, np, enc.p);
    for (size_t i = 0; i < np; i++) {
        if (i > 0)
            zkp__sb_putc(out, '&');
        zkp__sb_put(out, enc.p + params[i].off, params[i].nlen);
        zkp__sb_putc(out, '=');
        zkp__sb_put(out, enc.p + params[i].off + params[i].nlen, params[i].vlen);
    }
out:
    free(params);
    free(tmp);
    free(scratch);
    zkp__sb_free(&enc);
    return rc;
}

static int is_ws(char c)
{
    return c == ' ' || c == '\t';
}

/* Appends a header value trimmed, with inner runs of spaces and tabs made
 * one space. */
static void put_trimmed(zkp__sb_t *b, const char *v, size_t n)
{
    /* The common value has no space or tab at all: as is (memchr scans a
     * word at a time, where the loop below goes byte by byte). */
    if (memchr(v, ' ', n) == NULL && memchr(v, '\t', n) == NULL) {
        zkp__sb_put(b, v, n);
        return;
    }
    size_t i = 0;
    while (i < n && is_ws(v[i]))
        i++;
    while (n > i && is_ws(v[n - 1]))
        n--;
    while (i < n) {
        size_t j = i;
        while (j < n && !is_ws(v[j]))
            j++;
        zkp__sb_put(b, v + i, j - i);
        if (j == n)
            break;
        zkp__sb_putc(b, ' ');
        while (j < n && is_ws(v[j]))
            j++;
        i = j;
    }
}

static int canon_headers(zkp__sb_t *b, const zkp_sigv4_header_t *h, size_t nh, const char *sh,
                         size_t shn, char *detail, size_t dlen)
{
    size_t start = 0;
    for (size_t i = 0; i <= shn; i++) {
        if (i < shn && sh[i] != ';')
            continue;
        const char *name = sh + start;
        size_t len = i - start;
        start = i + 1;
        zkp__sb_put(b, name, len);
        zkp__sb_putc(b, ':');
        int found = 0;
        for (size_t k = 0; k < nh; k++) {
            if (h[k].name_len != len || h[k].name == NULL)
                continue;
            if (!zkp__ieq(h[k].name, h[k].name_len, name, len))
                continue;
            if (found++)
                zkp__sb_putc(b, ',');
            put_trimmed(b, h[k].value ? h[k].value : "", h[k].value ? h[k].value_len : 0);
        }
        if (!found) {
            zkp__detail(detail, dlen, "the signed header '%.*s' is not in the request",
                        (int)(len > 64 ? 64 : len), name);
            return ZKP_SIGV4_EMISSINGHDR;
        }
        zkp__sb_putc(b, '\n');
    }
    return 0;
}

int zkp__canonical_request(zkp__sb_t *b, const char *method, const char *target, size_t target_len,
                           int presigned, const zkp_sigv4_header_t *headers, size_t n_headers,
                           const char *signed_headers, size_t signed_headers_len,
                           const char *payload, size_t payload_len, char *detail, size_t detail_len)
{
    const char *qmark = target_len ? memchr(target, '?', target_len) : NULL;
    size_t path_len = qmark ? (size_t)(qmark - target) : target_len;

    zkp__sb_puts(b, method);
    zkp__sb_putc(b, '\n');
    if (canon_path(b, target, path_len) != 0) {
        zkp__detail(detail, detail_len, "the path has a malformed %%-escape");
        return ZKP_SIGV4_EURI;
    }
    zkp__sb_putc(b, '\n');
    if (qmark != NULL) {
        int rc = canon_query(b, qmark + 1, target_len - path_len - 1, presigned);
        if (rc != 0) {
            if (rc == ZKP_SIGV4_EURI)
                zkp__detail(detail, detail_len, "the query has a malformed %%-escape");
            return rc;
        }
    }
    zkp__sb_putc(b, '\n');
    int rc = canon_headers(b, headers, n_headers, signed_headers, signed_headers_len, detail,
                           detail_len);
    if (rc != 0)
        return rc;
    zkp__sb_putc(b, '\n');
    zkp__sb_put(b, signed_headers, signed_headers_len);
    zkp__sb_putc(b, '\n');
    zkp__sb_put(b, payload, payload_len);
    return b->oom ? ZKP_SIGV4_ENOMEM : 0;
}

int zkp_sigv4_canonical_request(const char *method, const char *target, size_t target_len,
                                int presigned, const zkp_sigv4_header_t *headers, size_t n_headers,
                                const char *signed_headers, size_t signed_headers_len,
                                const char *payload, size_t payload_len, char **out,
                                size_t *out_len, char *detail, size_t detail_len)
{
    if (out != NULL)
        *out = NULL;
    if (method == NULL || (target == NULL && target_len > 0) ||
        (headers == NULL && n_headers > 0) || signed_headers == NULL ||
        (payload == NULL && payload_len > 0) || out == NULL || out_len == NULL)
        return ZKP_SIGV4_EINVAL;
    if (!zkp__signed_headers_ok(signed_headers, signed_headers_len, detail, detail_len))
        return ZKP_SIGV4_EHEADER;
    zkp__sb_t b = {0};
    int rc = zkp__canonical_request(&b, method, target, target_len, presigned, headers, n_headers,
                                    signed_headers, signed_headers_len, payload, payload_len,
                                    detail, detail_len);
    if (rc == 0 && b.p == NULL) /* cannot happen: the method line was written */
        rc = ZKP_SIGV4_ENOMEM;
    if (rc != 0) {
        zkp__sb_free(&b);
        return rc;
    }
    *out_len = b.len;
    *out = b.p;
    return 0;
}
