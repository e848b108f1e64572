/* Fuzz target for the SigV4 module's parsers and builders, which read bytes
 * from the network: the Authorization header parser, the presigned query
 * parser, the canonical-request builder, the verifier as a whole and the
 * chunk-signature verifier.
 *
 * The input is split at '\n' into: method, request-target, Authorization
 * value, a SignedHeaders list, then "name:value" header lines. Properties
 * checked on every input (abort() on a violation):
 *  - every call returns 0 or one of its documented codes, and no call
 *    crashes, reads outside its input (each field is copied into an
 *    exact-size heap buffer, so ASan and valgrind catch an over-read) or
 *    leaks (LeakSanitizer, valgrind);
 *  - the canonical request stays within its documented bound;
 *  - a parse that succeeds yields well-formed fields (NUL-terminated, a
 *    64-digit lowercase signature, an access key of 1..128 bytes);
 *  - detail sentences are printable ASCII;
 *  - round trip: the same fields signed with zkp_sigv4_sign() and sent with
 *    the headers it makes verify (unless the query carries authentication
 *    parameters of its own);
 *  - the chunk verifier refuses a chain it was not given the signatures of. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sigv4.h"

#define AK "AKIDFUZZ"
#define SECRET "fuzz-secret"
#define WHEN ((time_t)1700000000)
#define MAX_HEADERS 32

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static int lookup(void *arg, const char *ak, char *secret, size_t cap)
{
    (void)arg;
    if (strcmp(ak, AK) != 0 || cap <= strlen(SECRET))
        return -1;
    strcpy(secret, SECRET);
    return (int)strlen(SECRET);
}

static zkp_sigv4_verifier_t *verifier(void)
{
    /* One verifier for the process: built on first use, freed at exit. */
    static zkp_sigv4_verifier_t *v;
    if (v == NULL) {
        zkp_sigv4_config_t c;
        zkp_sigv4_config_init(&c);
        c.region = "us-east-1";
        c.lookup = lookup;
        c.key_cache_slots = 4;
        if (zkp_sigv4_verifier_new(&c, &v) != 0)
            abort();
    }
    return v;
}

static void check_detail(const char *d)
{
    for (; *d; d++)
        if ((unsigned char)*d < 0x20 || (unsigned char)*d > 0x7e) {
            fprintf(stderr, "detail has byte 0x%02x\n", (unsigned char)*d);
            abort();
        }
}

/* 0 or a documented refusal; never a crypto or memory failure, never a
 * value outside the table. */
static void check_rc(const char *what, int rc)
{
    if (rc > 0 || rc <= ZKP_SIGV4_ENOMEM) {
        fprintf(stderr, "%s: unexpected return %d (%s)\n", what, rc, zkp_sigv4_err_name(rc));
        abort();
    }
}

static void check_parsed(const zkp_sigv4_parsed_t *p)
{
    size_t ak = strnlen(p->access_key, sizeof(p->access_key));
    if (ak == 0 || ak > ZKP_SIGV4_ACCESS_KEY_MAX || strlen(p->signature) != 64 ||
        strnlen(p->date, sizeof(p->date)) != 8 ||
        strnlen(p->signed_headers, sizeof(p->signed_headers)) == 0)
        abort();
    for (int i = 0; i < 64; i++)
        if (!((p->signature[i] >= '0' && p->signature[i] <= '9') ||
              (p->signature[i] >= 'a' && p->signature[i] <= 'f')))
            abort();
}

/* A field of the input, as an exact-size heap copy (not NUL-terminated
 * beyond its length: one extra byte holds a NUL for the API's strings). */
typedef struct field {
    char *p;
    size_t len;
} field_t;

static field_t copy(const uint8_t *s, size_t len)
{
    field_t f = {malloc(len + 1), len};
    if (f.p == NULL)
        abort();
    memcpy(f.p, s, len);
    f.p[len] = '\0';
    return f;
}

/* The round trip: whatever the signer accepts, the verifier accepts. */
static void round_trip(const field_t *method, const field_t *target, zkp_sigv4_header_t *h,
                       size_t nh)
{
    if (method->len == 0 || memchr(method->p, '\0', method->len) != NULL ||
        memchr(target->p, '\0', target->len) != NULL)
        return;
    char *path = strdup(target->p);
    if (path == NULL)
        abort();
    char *q = strchr(path, '?');
    if (q != NULL)
        *q++ = '\0';
    if (q != NULL && zkp_sigv4_query_auth_kind(q, strlen(q)) != 0) {
        free(path);
        return;
    }
    zkp_sigv4_header_t hs[MAX_HEADERS + 4];
    memcpy(hs, h, nh * sizeof(*h));
    hs[nh++] = (zkp_sigv4_header_t){"host", 4, "fuzz.example", 12};
    zkp_sigv4_creds_t cr = {AK, SECRET, "us-east-1", NULL};
    zkp_sigv4_sign_req_t sr = {method->p, path, q, hs, nh, NULL, WHEN};
    zkp_sigv4_signed_t s;
    int rc = zkp_sigv4_sign(&cr, &sr, &s);
    check_rc("sign", rc);
    if (rc == 0) {
        hs[nh++] = (zkp_sigv4_header_t){"x-amz-date", 10, s.amz_date, strlen(s.amz_date)};
        hs[nh++] = (zkp_sigv4_header_t){"x-amz-content-sha256", 20, s.content_sha256,
                                        strlen(s.content_sha256)};
        hs[nh++] =
            (zkp_sigv4_header_t){"authorization", 13, s.authorization, strlen(s.authorization)};
        zkp_sigv4_request_t r = {method->p, target->p, target->len, hs, nh, WHEN};
        zkp_sigv4_auth_t a;
        int vr = zkp_sigv4_verify(verifier(), &r, &a);
        if (vr != 0) {
            fprintf(stderr, "round trip refused: %s (%s)\n", zkp_sigv4_err_name(vr), a.detail);
            abort();
        }
        zkp_sigv4_auth_clear(&a);
        zkp_sigv4_signed_clear(&s);
    }
    free(path);
}

/* Chunk verifier fed with input-derived signatures and data: it must never
 * accept a chain (no valid HMAC can be produced by chance). */
static void chunks(const uint8_t *d, size_t n)
{
    zkp_sigv4_auth_t a;
    memset(&a, 0, sizeof(a));
    a.payload = n % 2 ? ZKP_SIGV4_PAYLOAD_STREAMING : ZKP_SIGV4_PAYLOAD_STREAMING_TRAILER;
    memcpy(a.amz_date, "20231114T221320Z", 17);
    strcpy(a.scope, "20231114/us-east-1/s3/aws4_request");
    memset(a.signature, 'a', 64);
    zkp_sigv4_chunks_t c;
    if (zkp_sigv4_chunks_init(&c, &a) != 0)
        abort();
    size_t i = 0;
    while (i < n) {
        size_t len = d[i] % 96;
        i++;
        size_t take = len < n - i ? len : n - i;
        field_t f = copy(d + i, take);
        i += take;
        int rc;
        switch (take % 3) {
        case 0:
            rc = zkp_sigv4_chunk_begin(&c, f.p, f.len);
            break;
        case 1:
            rc = zkp_sigv4_chunk_data(&c, f.p, f.len);
            if (rc == 0)
                rc = zkp_sigv4_chunk_end(&c);
            break;
        default:
            rc = zkp_sigv4_chunks_trailer(&c, f.p, f.len);
            break;
        }
        free(f.p);
        check_rc("chunks", rc);
    }
    if (zkp_sigv4_chunks_finish(&c) == 0)
        abort();
    zkp_sigv4_chunks_clear(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    field_t f[4 + MAX_HEADERS];
    size_t nf = 0, start = 0;
    for (size_t i = 0; i <= n && nf < sizeof(f) / sizeof(f[0]); i++) {
        if (i < n && d[i] != '\n')
            continue;
        f[nf++] = copy(d + start, i - start);
        start = i + 1;
    }
    while (nf < 4)
        f[nf++] = copy((const uint8_t *)"", 0);
    const field_t *method = &f[0], *target = &f[1], *authz = &f[2], *sh = &f[3];

    zkp_sigv4_header_t h[MAX_HEADERS + 1];
    size_t nh = 0;
    size_t header_bytes = 0;
    for (size_t i = 4; i < nf; i++) {
        char *colon = memchr(f[i].p, ':', f[i].len);
        size_t nl = colon ? (size_t)(colon - f[i].p) : f[i].len;
        h[nh++] = (zkp_sigv4_header_t){f[i].p, nl, colon ? colon + 1 : f[i].p + f[i].len,
                                       colon ? f[i].len - nl - 1 : 0};
        header_bytes += f[i].len;
    }

    /* parsers */
    zkp_sigv4_parsed_t p;
    char detail[256] = "";
    int rc = zkp_sigv4_parse_authorization(authz->p, authz->len, &p, detail, sizeof(detail));
    check_rc("parse_authorization", rc);
    if (rc == 0)
        check_parsed(&p);
    check_detail(detail);
    const char *qm = memchr(target->p, '?', target->len);
    size_t qlen = qm ? target->len - (size_t)(qm + 1 - target->p) : 0;
    rc = zkp_sigv4_parse_presigned(qm ? qm + 1 : "", qlen, &p, detail, sizeof(detail));
    check_rc("parse_presigned", rc);
    if (rc == 0) {
        check_parsed(&p);
        if (p.expires < 1 || p.expires > ZKP_SIGV4_PRESIGN_MAX_S || strlen(p.amz_date) != 16)
            abort();
    }
    check_detail(detail);
    zkp_sigv4_query_auth_kind(qm ? qm + 1 : "", qlen);
    for (size_t i = 0; i < nh; i++) {
        time_t t;
        unsigned char sha[32];
        zkp_sigv4_parse_amz_date(h[i].value, h[i].value_len, &t);
        zkp_sigv4_payload_parse(h[i].value, h[i].value_len, sha);
    }

    /* canonical request and its bound */
    if (memchr(method->p, '\0', method->len) == NULL) {
        char *canon = NULL;
        size_t clen = 0;
        rc = zkp_sigv4_canonical_request(method->p, target->p, target->len, (int)(n & 1), h, nh,
                                         sh->p, sh->len, "UNSIGNED-PAYLOAD", 16, &canon, &clen,
                                         detail, sizeof(detail));
        check_rc("canonical_request", rc);
        check_detail(detail);
        size_t bound = 3 * (target->len + sh->len) + 2 * header_bytes + 16 + method->len + 8;
        if (rc == 0 && (canon == NULL || canon[clen] != '\0' || clen > bound)) {
            fprintf(stderr, "canonical request of %zu bytes, bound %zu\n", clen, bound);
            abort();
        }
        if (rc != 0 && canon != NULL)
            abort();
        free(canon);

        /* the whole verifier, with the input's own headers */
        zkp_sigv4_header_t hv[MAX_HEADERS + 2];
        memcpy(hv, h, nh * sizeof(*h));
        size_t nv = nh;
        if (authz->len > 0)
            hv[nv++] = (zkp_sigv4_header_t){"Authorization", 13, authz->p, authz->len};
        zkp_sigv4_request_t r = {method->p, target->p, target->len, hv, nv, WHEN};
        zkp_sigv4_auth_t a;
        rc = zkp_sigv4_verify(verifier(), &r, &a);
        check_rc("verify", rc);
        check_detail(a.detail);
        if (rc == 0 && !a.key_known)
            abort();
        zkp_sigv4_auth_clear(&a);

        round_trip(method, target, h, nh);
    }
    chunks(d, n);

    for (size_t i = 0; i < nf; i++)
        free(f[i].p);
    return 0;
}
