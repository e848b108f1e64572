/* The SigV4 verifier: decides whether a request is authentic, in the order
 * zkp_sigv4_verify() documents, and keeps a small cache of derived signing
 * keys (four HMACs saved per request; keyed by a hash of secret, date,
 * region and service, so a changed secret never meets a stale key). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "sigv4_int.h"

#define SECRET_MAX 1024
#define DEFAULT_CACHE_SLOTS 64

typedef struct key_slot {
    int used;
    unsigned char tag[32]; /* SHA-256(secret \0 date \0 region \0 service) */
    unsigned char key[32];
} key_slot_t;

struct zkp_sigv4_verifier {
    char region[ZKP_SIGV4_REGION_MAX + 1];
    char service[ZKP_SIGV4_SERVICE_MAX + 1];
    zkp_sigv4_lookup_fn lookup;
    void *lookup_arg;
    unsigned max_skew_s;
    zkp__crypto_t crypto; /* read-only after creation */
    pthread_mutex_t mu;   /* guards slots */
    size_t nslots;
    key_slot_t *slots;
};

void zkp_sigv4_config_init(zkp_sigv4_config_t *c)
{
    memset(c, 0, sizeof(*c));
    c->size = sizeof(*c);
    c->max_skew_s = ZKP_SIGV4_MAX_SKEW_S;
    c->key_cache_slots = DEFAULT_CACHE_SLOTS;
}

int zkp_sigv4_verifier_new(const zkp_sigv4_config_t *c, zkp_sigv4_verifier_t **out)
{
    if (out != NULL)
        *out = NULL;
    if (c == NULL || out == NULL || c->size != sizeof(*c) || c->lookup == NULL || c->region == NULL)
        return ZKP_SIGV4_EINVAL;
    const char *service = c->service ? c->service : "s3";
    if (!zkp__scope_token_ok(c->region, strlen(c->region), ZKP_SIGV4_REGION_MAX) ||
        !zkp__scope_token_ok(service, strlen(service), ZKP_SIGV4_SERVICE_MAX))
        return ZKP_SIGV4_EINVAL;
    zkp_sigv4_verifier_t *v = calloc(1, sizeof(*v));
    if (v == NULL)
        return ZKP_SIGV4_ENOMEM;
    strcpy(v->region, c->region);
    strcpy(v->service, service);
    v->lookup = c->lookup;
    v->lookup_arg = c->lookup_arg;
    v->max_skew_s = c->max_skew_s ? c->max_skew_s : ZKP_SIGV4_MAX_SKEW_S;
    v->nslots = c->key_cache_slots ? c->key_cache_slots : DEFAULT_CACHE_SLOTS;
    v->slots = calloc(v->nslots, sizeof(*v->slots));
    if (v->slots == NULL || pthread_mutex_init(&v->mu, NULL) != 0) {
        free(v->slots);
        free(v);
        return ZKP_SIGV4_ENOMEM;
    }
    int rc = zkp__crypto_init(&v->crypto);
    if (rc != 0) {
        zkp_sigv4_verifier_free(v);
        return rc;
    }
    *out = v;
    return 0;
}

void zkp_sigv4_verifier_free(zkp_sigv4_verifier_t *v)
{
    if (v == NULL)
        return;
    OPENSSL_cleanse(v->slots, v->nslots * sizeof(*v->slots));
    free(v->slots);
    zkp__crypto_free(&v->crypto);
    pthread_mutex_destroy(&v->mu);
    free(v);
}

/* The signing key for (secret, date, region, service), from the cache or
 * derived (and then cached). */
static int signing_key(zkp_sigv4_verifier_t *v, const char *secret, size_t slen, const char *date8,
                       unsigned char key[32])
{
    zkp__sb_t t = {0};
    zkp__sb_put(&t, secret, slen);
    zkp__sb_put(&t, "", 1);
    zkp__sb_put(&t, date8, 9); /* with its NUL */
    zkp__sb_put(&t, v->region, strlen(v->region) + 1);
    zkp__sb_puts(&t, v->service);
    if (t.oom) {
        zkp__sb_free(&t);
        return ZKP_SIGV4_ENOMEM;
    }
    unsigned char tag[32];
    int rc = zkp__sha256(&v->crypto, t.p, t.len, tag);
    OPENSSL_cleanse(t.p, t.len);
    zkp__sb_free(&t);
    if (rc != 0)
        return rc;
    size_t slot = ((size_t)tag[0] | (size_t)tag[1] << 8 | (size_t)tag[2] << 16) % v->nslots;
    pthread_mutex_lock(&v->mu);
    key_slot_t *s = &v->slots[slot];
    int hit = s->used && CRYPTO_memcmp(s->tag, tag, 32) == 0;
    if (hit)
        memcpy(key, s->key, 32);
    pthread_mutex_unlock(&v->mu);
    if (hit)
        return 0;
    rc = zkp__derive_key(&v->crypto, secret, slen, date8, v->region, v->service, key);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&v->mu);
    s->used = 1;
    memcpy(s->tag, tag, 32);
    memcpy(s->key, key, 32);
    pthread_mutex_unlock(&v->mu);
    return 0;
}

/* The headers of the request named `name`: how many, and the first. */
static int find_header(const zkp_sigv4_request_t *r, const char *name,
                       const zkp_sigv4_header_t **first)
{
    int count = 0;
    size_t nlen = strlen(name);
    *first = NULL;
    for (size_t i = 0; i < r->n_headers; i++) {
        const zkp_sigv4_header_t *h = &r->headers[i];
        if (h->name == NULL || !zkp__ieq(h->name, h->name_len, name, nlen))
            continue;
        if (count++ == 0)
            *first = h;
    }
    return count;
}

static int in_list(const char *list, const char *name, size_t nlen)
{
    const char *p = list;
    while (*p) {
        const char *e = strchr(p, ';');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (zkp__ieq(p, len, name, nlen))
            return 1;
        if (e == NULL)
            break;
        p = e + 1;
    }
    return 0;
}

int zkp_sigv4_auth_signed(const zkp_sigv4_auth_t *auth, const char *name)
{
    if (auth == NULL || name == NULL)
        return 0;
    return in_list(auth->signed_headers, name, strlen(name));
}

void zkp_sigv4_auth_clear(zkp_sigv4_auth_t *auth)
{
    if (auth == NULL)
        return;
    free(auth->canonical_request);
    free(auth->string_to_sign);
    auth->canonical_request = NULL;
    auth->string_to_sign = NULL;
    OPENSSL_cleanse(auth->signing_key, sizeof(auth->signing_key));
}

/* The request time of the header form: x-amz-date, else Date, each in the
 * ISO 8601 basic form and sent at most once. */
static int header_time(const zkp_sigv4_request_t *r, zkp_sigv4_auth_t *a)
{
    const zkp_sigv4_header_t *h;
    const char *which = "x-amz-date";
    int n = find_header(r, which, &h);
    if (n == 0) {
        which = "date";
        n = find_header(r, which, &h);
    }
    if (n > 1) {
        zkp__detail(a->detail, sizeof(a->detail), "the %s header appears %d times", which, n);
        return ZKP_SIGV4_EHEADER;
    }
    if (n == 0 || h->value == NULL ||
        zkp_sigv4_parse_amz_date(h->value, h->value_len, &a->request_time) != 0) {
        zkp__detail(a->detail, sizeof(a->detail),
                    n == 0 ? "neither x-amz-date nor Date is present"
                           : "the %s header is not of the form YYYYMMDDTHHMMSSZ",
                    which);
        return ZKP_SIGV4_EDATE;
    }
    memcpy(a->amz_date, h->value, ZKP_SIGV4_AMZ_DATE_LEN);
    a->amz_date[ZKP_SIGV4_AMZ_DATE_LEN] = '\0';
    return 0;
}

/* x-amz-content-sha256 of the header form: required, once, valid. */
static int header_payload(const zkp_sigv4_request_t *r, zkp_sigv4_auth_t *a,
                          const zkp_sigv4_header_t **out)
{
    const zkp_sigv4_header_t *h;
    int n = find_header(r, "x-amz-content-sha256", &h);
    if (n == 0) {
        zkp__detail(a->detail, sizeof(a->detail),
                    "x-amz-content-sha256 is required with AWS4-HMAC-SHA256");
        return ZKP_SIGV4_EMISSINGHDR;
    }
    if (n > 1) {
        zkp__detail(a->detail, sizeof(a->detail), "x-amz-content-sha256 appears %d times", n);
        return ZKP_SIGV4_EHEADER;
    }
    int kind = zkp_sigv4_payload_parse(h->value, h->value_len, a->payload_sha256);
    if (kind < 0)
        return kind;
    a->payload = (zkp_sigv4_payload_t)kind;
    *out = h;
    return 0;
}

/* host must be signed, and every x-amz-* header present (for the header
 * form, x-amz-date and x-amz-content-sha256 are bound by the signature
 * without being listed). */
static int check_signed(const zkp_sigv4_request_t *r, const zkp_sigv4_parsed_t *p, int presigned,
                        zkp_sigv4_auth_t *a)
{
    if (!in_list(p->signed_headers, "host", 4)) {
        zkp__detail(a->detail, sizeof(a->detail), "the host header must be signed");
        return ZKP_SIGV4_EUNSIGNED;
    }
    for (size_t i = 0; i < r->n_headers; i++) {
        const zkp_sigv4_header_t *h = &r->headers[i];
        if (h->name == NULL || h->name_len < 6 || !zkp__ieq(h->name, 6, "x-amz-", 6))
            continue;
        if (!presigned && (zkp__ieq(h->name, h->name_len, "x-amz-date", 10) ||
                           zkp__ieq(h->name, h->name_len, "x-amz-content-sha256", 20)))
            continue;
        if (!in_list(p->signed_headers, h->name, h->name_len)) {
            zkp__detail(a->detail, sizeof(a->detail), "the header '%.*s' is not signed",
                        (int)(h->name_len > 64 ? 64 : h->name_len), h->name);
            return ZKP_SIGV4_EUNSIGNED;
        }
    }
    return 0;
}

/* Steps 1 and 2 of zkp_sigv4_verify(): which form, and its syntax. */
static int parse_form(const zkp_sigv4_request_t *r, const char *query, size_t qlen,
                      zkp_sigv4_parsed_t *p, zkp_sigv4_auth_t *a)
{
    const zkp_sigv4_header_t *h;
    int n = find_header(r, "authorization", &h);
    int qkind = zkp_sigv4_query_auth_kind(query, qlen);
    char *d = a->detail;
    size_t dl = sizeof(a->detail);
    if (n > 1) {
        zkp__detail(d, dl, "the Authorization header appears %d times", n);
        return ZKP_SIGV4_EHEADER;
    }
    if (n == 1 && qkind != 0) {
        zkp__detail(d, dl, "both an Authorization header and query authentication parameters");
        return ZKP_SIGV4_EAMBIGUOUS;
    }
    if (n == 0 && qkind == 2) {
        zkp__detail(d, dl, "AWS Signature Version 2 (AWSAccessKeyId, Signature) is refused");
        return ZKP_SIGV4_EUNSUPPORTED;
    }
    if (n == 0 && qkind == 0) {
        zkp__detail(d, dl, "no Authorization header and no X-Amz-Signature");
        return ZKP_SIGV4_EANONYMOUS;
    }
    if (n == 1) {
        size_t i = 0;
        while (h->value != NULL && i < h->value_len && (h->value[i] == ' ' || h->value[i] == '\t'))
            i++;
        if (h->value == NULL || i == h->value_len) {
            zkp__detail(d, dl, "the Authorization header is empty");
            return ZKP_SIGV4_EANONYMOUS;
        }
        return zkp_sigv4_parse_authorization(h->value, h->value_len, p, d, dl);
    }
    a->presigned = 1;
    return zkp_sigv4_parse_presigned(query, qlen, p, d, dl);
}

/* Step 2's semantic part: scope, date, payload. */
static int check_scope(const zkp_sigv4_verifier_t *v, const zkp_sigv4_request_t *r,
                       const zkp_sigv4_parsed_t *p, zkp_sigv4_auth_t *a,
                       const zkp_sigv4_header_t **payload_hdr)
{
    int bad = a->presigned ? ZKP_SIGV4_EQUERY : ZKP_SIGV4_EHEADER;
    char *d = a->detail;
    size_t dl = sizeof(a->detail);
    if (strcmp(p->service, v->service) != 0) {
        zkp__detail(d, dl, "Credential: the service '%s' is wrong; expecting '%s'", p->service,
                    v->service);
        return bad;
    }
    if (strcmp(p->region, v->region) != 0) {
        zkp__detail(d, dl, "Credential: the region '%s' is wrong; expecting '%s'", p->region,
                    v->region);
        return bad;
    }
    int rc;
    if (a->presigned) {
        memcpy(a->amz_date, p->amz_date, sizeof(a->amz_date));
        if (zkp_sigv4_parse_amz_date(a->amz_date, ZKP_SIGV4_AMZ_DATE_LEN, &a->request_time) != 0)
            return bad; /* the parser checked it: unreachable */
        a->expires = p->expires;
        a->payload = ZKP_SIGV4_PAYLOAD_UNSIGNED;
    } else if ((rc = header_time(r, a)) != 0 || (rc = header_payload(r, a, payload_hdr)) != 0) {
        return rc;
    }
    if (memcmp(a->amz_date, p->date, 8) != 0) {
        zkp__detail(d, dl,
                    "Invalid credential date: the scope's date %s is not the request's date %.8s",
                    p->date, a->amz_date);
        return bad;
    }
    return zkp__scope(p->date, p->region, p->service, a->scope);
}

/* Steps 4 to 6: key, clock, signature. */
static int check_signature(zkp_sigv4_verifier_t *v, const zkp_sigv4_request_t *r,
                           const zkp_sigv4_parsed_t *p, const zkp_sigv4_header_t *payload_hdr,
                           zkp_sigv4_auth_t *a)
{
    char secret[SECRET_MAX];
    int slen = v->lookup(v->lookup_arg, p->access_key, secret, sizeof(secret));
    if (slen <= 0 || slen >= (int)sizeof(secret)) {
        OPENSSL_cleanse(secret, sizeof(secret));
        zkp__detail(a->detail, sizeof(a->detail), "the access key id '%s' is unknown",
                    p->access_key);
        return ZKP_SIGV4_EKEY;
    }
    a->key_known = 1;
    int rc = signing_key(v, secret, (size_t)slen, p->date, a->signing_key);
    OPENSSL_cleanse(secret, sizeof(secret));
    if (rc != 0)
        return rc;

    rc = zkp_sigv4_check_time(a->request_time, r->now, a->expires, v->max_skew_s);
    if (rc != 0) {
        char now[ZKP_SIGV4_AMZ_DATE_LEN + 1];
        zkp_sigv4_format_amz_date(r->now, now);
        if (rc == ZKP_SIGV4_EEXPIRED)
            zkp__detail(a->detail, sizeof(a->detail), "signed at %s for %ld s; now is %s",
                        a->amz_date, a->expires, now);
        else
            zkp__detail(a->detail, sizeof(a->detail),
                        "the request time %s is more than %u s from the server's time %s",
                        a->amz_date, v->max_skew_s, now);
        return rc;
    }

    const char *target = r->target ? r->target : "";
    const char *payload = a->presigned ? "UNSIGNED-PAYLOAD" : payload_hdr->value;
    size_t payload_len = a->presigned ? 16 : payload_hdr->value_len;
    char *canon = NULL, *sts = NULL;
    size_t canon_len = 0;
    rc = zkp_sigv4_canonical_request(r->method, target, r->target_len, a->presigned, r->headers,
                                     r->n_headers, p->signed_headers, strlen(p->signed_headers),
                                     payload, payload_len, &canon, &canon_len, a->detail,
                                     sizeof(a->detail));
    if (rc == 0)
        rc = zkp__string_to_sign(&v->crypto, a->amz_date, a->scope, canon, canon_len, &sts);
    char mine[ZKP_SIGV4_SIG_HEX_LEN + 1];
    if (rc == 0)
        rc = zkp__sign_hex(&v->crypto, a->signing_key, sts, strlen(sts), mine);
    if (rc == 0 && CRYPTO_memcmp(mine, p->signature, ZKP_SIGV4_SIG_HEX_LEN) != 0) {
        /* S3 tells a client with a known key what it should have signed. */
        a->canonical_request = canon;
        a->string_to_sign = sts;
        canon = sts = NULL;
        rc = ZKP_SIGV4_ESIGNATURE;
    }
    free(canon);
    free(sts);
    return rc;
}

int zkp_sigv4_verify(zkp_sigv4_verifier_t *v, const zkp_sigv4_request_t *req,
                     zkp_sigv4_auth_t *auth)
{
    if (auth == NULL)
        return ZKP_SIGV4_EINVAL;
    memset(auth, 0, sizeof(*auth));
    auth->expires = -1;
    if (v == NULL || req == NULL || req->method == NULL ||
        (req->target == NULL && req->target_len > 0) ||
        (req->headers == NULL && req->n_headers > 0))
        return ZKP_SIGV4_EINVAL;

    const char *target = req->target ? req->target : "";
    const char *qmark = memchr(target, '?', req->target_len);
    const char *query = qmark ? qmark + 1 : "";
    size_t qlen = qmark ? req->target_len - (size_t)(qmark + 1 - target) : 0;

    zkp_sigv4_parsed_t *p = malloc(sizeof(*p));
    if (p == NULL)
        return ZKP_SIGV4_ENOMEM;
    const zkp_sigv4_header_t *payload_hdr = NULL;
    int rc = parse_form(req, query, qlen, p, auth);
    if (rc == 0) {
        strcpy(auth->access_key, p->access_key);
        memcpy(auth->signature, p->signature, sizeof(auth->signature));
        memcpy(auth->signed_headers, p->signed_headers, sizeof(auth->signed_headers));
        rc = check_scope(v, req, p, auth, &payload_hdr);
    }
    if (rc == 0)
        rc = check_signed(req, p, auth->presigned, auth);
    if (rc == 0)
        rc = check_signature(v, req, p, payload_hdr, auth);
    free(p);
    if (rc != 0)
        OPENSSL_cleanse(auth->signing_key, sizeof(auth->signing_key));
    else
        auth->detail[0] = '\0';
    return rc;
}
