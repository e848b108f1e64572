/* The signing side of SigV4 (an upstream S3 backend, test clients): the
 * Authorization header form and presigned URLs. The canonical request is
 * built by the same code the verifier uses (sigv4_canon.c), so what this
 * side signs is by construction what the other side checks; the AWS test
 * vectors and independent signers (botocore, curl) check that code. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "sigv4_int.h"

/* Everything a signature needs besides the canonical request. */
typedef struct sign_ctx {
    const char *service;
    char amz_date[ZKP_SIGV4_AMZ_DATE_LEN + 1];
    char date8[9];
    char scope[ZKP_SIGV4_SCOPE_MAX + 1];
    zkp__sb_t signed_headers; /* sorted lowercase names, ';'-joined */
} sign_ctx_t;

static int creds_ok(const zkp_sigv4_creds_t *c)
{
    if (c == NULL || c->access_key == NULL || c->secret_key == NULL || c->region == NULL)
        return 0;
    if (!zkp_sigv4_access_key_valid(c->access_key, strlen(c->access_key)) ||
        c->secret_key[0] == '\0')
        return 0;
    const char *service = c->service ? c->service : "s3";
    return zkp__scope_token_ok(c->region, strlen(c->region), ZKP_SIGV4_REGION_MAX) &&
           zkp__scope_token_ok(service, strlen(service), ZKP_SIGV4_SERVICE_MAX);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* 1 if name is an HTTP token (RFC 9110 tchar) without ';'. */
static int header_name_ok(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("!#$%&'*+-.^_`|~", c) != NULL) ||
            c == '\0')
            return 0;
    }
    return 1;
}

/* The sorted, de-duplicated, lowercase names of the given headers plus
 * `extra` (NULL-terminated), ';'-joined into x->signed_headers. Refuses a
 * request without host or with a header the signer makes itself. */
static int build_signed_list(const zkp_sigv4_sign_req_t *r, const char *const *extra, sign_ctx_t *x)
{
    size_t nextra = 0;
    while (extra[nextra] != NULL)
        nextra++;
    size_t total = r->n_headers + nextra;
    char **names = calloc(total ? total : 1, sizeof(*names));
    if (names == NULL)
        return ZKP_SIGV4_ENOMEM;
    int rc = 0, host = 0;
    size_t k = 0;
    for (size_t i = 0; i < r->n_headers && rc == 0; i++) {
        const zkp_sigv4_header_t *h = &r->headers[i];
        if (h->name == NULL || !header_name_ok(h->name, h->name_len) ||
            (h->value == NULL && h->value_len > 0) ||
            zkp__ieq(h->name, h->name_len, "x-amz-date", 10) ||
            zkp__ieq(h->name, h->name_len, "x-amz-content-sha256", 20) ||
            zkp__ieq(h->name, h->name_len, "authorization", 13)) {
            rc = ZKP_SIGV4_EINVAL;
            break;
        }
        host |= zkp__ieq(h->name, h->name_len, "host", 4);
        names[k] = malloc(h->name_len + 1);
        if (names[k] == NULL) {
            rc = ZKP_SIGV4_ENOMEM;
            break;
        }
        for (size_t j = 0; j < h->name_len; j++) {
            char c = h->name[j];
            names[k][j] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        }
        names[k++][h->name_len] = '\0';
    }
    for (size_t i = 0; i < nextra && rc == 0; i++) {
        names[k] = strdup(extra[i]);
        if (names[k++] == NULL)
            rc = ZKP_SIGV4_ENOMEM;
    }
    if (rc == 0 && !host)
        rc = ZKP_SIGV4_EINVAL;
    if (rc == 0) {
        qsort(names, k, sizeof(*names), cmp_str);
        for (size_t i = 0; i < k; i++) {
            if (i > 0 && strcmp(names[i], names[i - 1]) == 0)
                continue; /* a repeated header: one name, its values joined */
            if (x->signed_headers.len > 0)
                zkp__sb_putc(&x->signed_headers, ';');
            zkp__sb_puts(&x->signed_headers, names[i]);
        }
        if (x->signed_headers.oom)
            rc = ZKP_SIGV4_ENOMEM;
    }
    for (size_t i = 0; i < total; i++)
        free(names[i]);
    free(names);
    return rc;
}

/* Checks the arguments, zeroes *out and fills *x (its signed_headers still
 * empty). */
static int ctx_init(const zkp_sigv4_creds_t *c, const zkp_sigv4_sign_req_t *r,
                    zkp_sigv4_signed_t *out, sign_ctx_t *x)
{
    memset(x, 0, sizeof(*x));
    if (out == NULL)
        return ZKP_SIGV4_EINVAL;
    memset(out, 0, sizeof(*out));
    /* The path is origin-form: it starts with '/', and a '?' in it would
     * move the query's start on the wire. */
    if (!creds_ok(c) || r == NULL || r->method == NULL || r->path == NULL || r->path[0] != '/' ||
        strchr(r->path, '?') != NULL || (r->headers == NULL && r->n_headers > 0))
        return ZKP_SIGV4_EINVAL;
    x->service = c->service ? c->service : "s3";
    zkp_sigv4_format_amz_date(r->when, x->amz_date);
    memcpy(x->date8, x->amz_date, 8);
    x->date8[8] = '\0';
    return zkp__scope(x->date8, c->region, x->service, x->scope);
}

/* Canonical request -> string to sign -> signature (hex, into sig). */
static int sign_target(const zkp_sigv4_creds_t *c, const zkp_sigv4_sign_req_t *r,
                       const sign_ctx_t *x, const char *target, size_t target_len, int presigned,
                       const zkp_sigv4_header_t *headers, size_t nh, const char *payload, char *sig)
{
    char *canon = NULL, *sts = NULL;
    size_t canon_len = 0;
    unsigned char key[32];
    int rc = zkp_sigv4_canonical_request(r->method, target, target_len, presigned, headers, nh,
                                         x->signed_headers.p, x->signed_headers.len, payload,
                                         strlen(payload), &canon, &canon_len, NULL, 0);
    if (rc == 0)
        rc = zkp__string_to_sign(NULL, x->amz_date, x->scope, canon, canon_len, &sts);
    if (rc == 0)
        rc = zkp__derive_key(NULL, c->secret_key, strlen(c->secret_key), x->date8, c->region,
                             x->service, key);
    if (rc == 0)
        rc = zkp__sign_hex(NULL, key, sts, strlen(sts), sig);
    OPENSSL_cleanse(key, sizeof(key));
    free(canon);
    free(sts);
    return rc;
}

static void put_target(zkp__sb_t *t, const char *path, const char *query)
{
    zkp__sb_puts(t, path);
    if (query != NULL && query[0] != '\0') {
        zkp__sb_putc(t, '?');
        zkp__sb_puts(t, query);
    }
}

/* Hands the result text over to *slot and fills the rest of out, or, on
 * failure, frees it and zeroes out. Frees the context either way. */
static int finish(int rc, sign_ctx_t *x, zkp__sb_t *text, const char *payload,
                  zkp_sigv4_signed_t *out, char **slot)
{
    zkp__sb_free(&x->signed_headers);
    if (rc != 0) {
        zkp__sb_free(text);
        memset(out, 0, sizeof(*out));
        return rc;
    }
    *slot = text->p;
    memcpy(out->amz_date, x->amz_date, sizeof(out->amz_date));
    strcpy(out->content_sha256, payload);
    return 0;
}

void zkp_sigv4_signed_clear(zkp_sigv4_signed_t *s)
{
    if (s == NULL)
        return;
    free(s->authorization);
    free(s->query);
    s->authorization = NULL;
    s->query = NULL;
}

int zkp_sigv4_sign(const zkp_sigv4_creds_t *c, const zkp_sigv4_sign_req_t *r,
                   zkp_sigv4_signed_t *out)
{
    sign_ctx_t x;
    int rc = ctx_init(c, r, out, &x);
    if (out == NULL)
        return rc;
    const char *payload = r && r->payload_hash ? r->payload_hash : "UNSIGNED-PAYLOAD";
    if (rc == 0 && (strlen(payload) >= sizeof(out->content_sha256) ||
                    zkp_sigv4_payload_parse(payload, strlen(payload), NULL) < 0))
        rc = ZKP_SIGV4_EINVAL;
    static const char *const extra[] = {"x-amz-content-sha256", "x-amz-date", NULL};
    if (rc == 0)
        rc = build_signed_list(r, extra, &x);

    zkp_sigv4_header_t *hs = NULL;
    zkp__sb_t target = {0}, auth = {0};
    if (rc == 0 && (hs = calloc(r->n_headers + 2, sizeof(*hs))) == NULL)
        rc = ZKP_SIGV4_ENOMEM;
    if (rc == 0) {
        if (r->n_headers > 0)
            memcpy(hs, r->headers, r->n_headers * sizeof(*hs));
        hs[r->n_headers] =
            (zkp_sigv4_header_t){"x-amz-content-sha256", 20, payload, strlen(payload)};
        hs[r->n_headers + 1] =
            (zkp_sigv4_header_t){"x-amz-date", 10, x.amz_date, ZKP_SIGV4_AMZ_DATE_LEN};
        put_target(&target, r->path, r->query);
        rc = target.oom ? ZKP_SIGV4_ENOMEM
                        : sign_target(c, r, &x, target.p, target.len, 0, hs, r->n_headers + 2,
                                      payload, out->signature);
    }
    if (rc == 0) {
        zkp__sb_puts(&auth, "AWS4-HMAC-SHA256 Credential=");
        zkp__sb_puts(&auth, c->access_key);
        zkp__sb_putc(&auth, '/');
        zkp__sb_puts(&auth, x.scope);
        zkp__sb_puts(&auth, ", SignedHeaders=");
        zkp__sb_puts(&auth, x.signed_headers.p);
        zkp__sb_puts(&auth, ", Signature=");
        zkp__sb_puts(&auth, out->signature);
        if (auth.oom)
            rc = ZKP_SIGV4_ENOMEM;
    }
    free(hs);
    zkp__sb_free(&target);
    return finish(rc, &x, &auth, payload, out, &out->authorization);
}

int zkp_sigv4_presign(const zkp_sigv4_creds_t *c, const zkp_sigv4_sign_req_t *r, unsigned expires_s,
                      zkp_sigv4_signed_t *out)
{
    sign_ctx_t x;
    int rc = ctx_init(c, r, out, &x);
    if (out == NULL)
        return rc;
    if (rc == 0 && (expires_s < 1 || expires_s > ZKP_SIGV4_PRESIGN_MAX_S))
        rc = ZKP_SIGV4_EINVAL;
    if (rc == 0 && r->query != NULL && zkp_sigv4_query_auth_kind(r->query, strlen(r->query)))
        rc = ZKP_SIGV4_EINVAL; /* already carries authentication parameters */
    static const char *const extra[] = {NULL};
    if (rc == 0)
        rc = build_signed_list(r, extra, &x);

    zkp__sb_t q = {0}, target = {0};
    if (rc == 0) {
        char num[16];
        snprintf(num, sizeof(num), "%u", expires_s);
        if (r->query != NULL && r->query[0] != '\0') {
            zkp__sb_puts(&q, r->query);
            zkp__sb_putc(&q, '&');
        }
        zkp__sb_puts(&q, "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=");
        zkp__sb_uri_encode(&q, c->access_key, strlen(c->access_key), 0);
        zkp__sb_uri_encode(&q, "/", 1, 0);
        zkp__sb_uri_encode(&q, x.scope, strlen(x.scope), 0);
        zkp__sb_puts(&q, "&X-Amz-Date=");
        zkp__sb_puts(&q, x.amz_date);
        zkp__sb_puts(&q, "&X-Amz-Expires=");
        zkp__sb_puts(&q, num);
        zkp__sb_puts(&q, "&X-Amz-SignedHeaders=");
        zkp__sb_uri_encode(&q, x.signed_headers.p, x.signed_headers.len, 0);
        put_target(&target, r->path, q.p);
        rc = q.oom || target.oom ? ZKP_SIGV4_ENOMEM
                                 : sign_target(c, r, &x, target.p, target.len, 1, r->headers,
                                               r->n_headers, "UNSIGNED-PAYLOAD", out->signature);
    }
    if (rc == 0) {
        zkp__sb_puts(&q, "&X-Amz-Signature=");
        zkp__sb_puts(&q, out->signature);
        if (q.oom)
            rc = ZKP_SIGV4_ENOMEM;
    }
    zkp__sb_free(&target);
    return finish(rc, &x, &q, "UNSIGNED-PAYLOAD", out, &out->query);
}
