/* The SigV4 verifier: decides whether a request is authentic, in the order
 * zkp_sigv4_verify() documents, and keeps a small cache of derived signing
 * keys: each slot holds the secret and date it was derived from (compared
 * whole, so a changed secret never meets a stale key), the key, and the
 * key's HMAC set up (zkp__hmac_key_t). A hit saves the four HMACs of the
 * derivation and the key set-up of the request's own HMAC (a copy of two
 * hash states is all it takes). Region and service are the verifier's
 * own, so they need no comparing. Secrets longer than SLOT_SECRET_MAX are
 * not cached (derived every time).
 *
 * The slots are behind a read/write lock: hits, the common case, copy
 * from a slot side by side on every event-loop thread; only a miss
 * (a new key or a new day) writes one.
 *
 * A caller may bring a cache of its own instead (zkp_sigv4_key_cache_t,
 * zkp_sigv4_verify_cached()): used by one thread at a time, so it takes
 * no lock and writes no line another thread reads, and keyed by access
 * key id and date rather than by secret, because its owner promises that
 * an id's secret does not change while the cache lives (proxy/auth keeps
 * one per thread and credentials set). A hit calls no lookup: no secret
 * is copied, compared or wiped. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "sigv4_int.h"

#define SECRET_MAX 1024
#define SLOT_SECRET_MAX 128
#define DEFAULT_CACHE_SLOTS 64
#define CANON_STACK 2048 /* bytes of canonical request built without malloc */

typedef struct key_slot {
    int used;
    size_t secret_len;
    char secret[SLOT_SECRET_MAX]; /* what key was derived from, with date8 */
    char date8[9];
    unsigned char key[32];
    zkp__hmac_key_t hmac; /* key set up; copied, never used itself */
} key_slot_t;

struct zkp_sigv4_verifier {
    char region[ZKP_SIGV4_REGION_MAX + 1];
    char service[ZKP_SIGV4_SERVICE_MAX + 1];
    zkp_sigv4_lookup_fn lookup;
    void *lookup_arg;
    unsigned max_skew_s;
    zkp__crypto_t crypto; /* read-only after creation */
    pthread_rwlock_t mu;  /* guards slots */
    size_t nslots;
    key_slot_t *slots;
};

/* A read/write lock that prefers a waiting writer: glibc's default lets
 * readers that keep overlapping (every event-loop thread verifying) hold a
 * writer off indefinitely, and the writer is a request whose key is not
 * cached yet (a new key, or the first request of a UTC day). No thread
 * takes it twice, which that kind requires. */
static int rwlock_init(pthread_rwlock_t *l)
{
    pthread_rwlockattr_t a;
    if (pthread_rwlockattr_init(&a) != 0)
        return -1;
    int rc = pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    if (rc == 0)
        rc = pthread_rwlock_init(l, &a);
    pthread_rwlockattr_destroy(&a);
    return rc;
}

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
    if (v->slots == NULL || rwlock_init(&v->mu) != 0) {
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
    for (size_t i = 0; v->slots != NULL && i < v->nslots; i++)
        zkp__hmac_key_free(&v->slots[i].hmac);
    if (v->slots != NULL)
        OPENSSL_cleanse(v->slots, v->nslots * sizeof(*v->slots));
    free(v->slots);
    zkp__crypto_free(&v->crypto);
    pthread_rwlock_destroy(&v->mu);
    free(v);
}

/* --- a caller's own cache ------------------------------------------------------------ */

typedef struct id_slot {
    int used;
    size_t id_len;
    char id[ZKP_SIGV4_ACCESS_KEY_MAX + 1]; /* what key was derived for, with date8 */
    char date8[9];
    unsigned char key[32];
    zkp__hmac_key_t hmac; /* key set up; copied, never used itself */
} id_slot_t;

struct zkp_sigv4_key_cache {
    const zkp_sigv4_verifier_t *v; /* the one it serves: keys are derived for its scope */
    size_t nslots;
    id_slot_t slots[];
};

int zkp_sigv4_key_cache_new(const zkp_sigv4_verifier_t *v, unsigned slots,
                            zkp_sigv4_key_cache_t **out)
{
    if (out != NULL)
        *out = NULL;
    if (v == NULL || out == NULL)
        return ZKP_SIGV4_EINVAL;
    size_t n = slots ? slots : ZKP_SIGV4_KEY_CACHE_SLOTS;
    zkp_sigv4_key_cache_t *c = calloc(1, sizeof(*c) + n * sizeof(c->slots[0]));
    if (c == NULL)
        return ZKP_SIGV4_ENOMEM;
    c->v = v;
    c->nslots = n;
    *out = c;
    return 0;
}

void zkp_sigv4_key_cache_free(zkp_sigv4_key_cache_t *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->nslots; i++)
        zkp__hmac_key_free(&c->slots[i].hmac);
    OPENSSL_cleanse(c->slots, c->nslots * sizeof(c->slots[0]));
    free(c);
}

/* The slot of (secret, date): a multiplicative hash over 8 bytes at a
 * time, for spreading only (the slot compares them whole). */
static uint64_t mix(uint64_t h, uint64_t w)
{
    h = (h ^ w) * 0x9e3779b97f4a7c15ull;
    return h ^ (h >> 29);
}

static size_t slot_of(const char *s, size_t len, const char *date8, size_t nslots)
{
    uint64_t h = len, w;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        memcpy(&w, s + i, 8);
        h = mix(h, w);
    }
    w = 0;
    memcpy(&w, s + i, len - i);
    h = mix(h, w);
    memcpy(&w, date8, 8);
    h = mix(h, w);
    return (size_t)(h % nslots);
}

/* The signing key of (secret, date) and its HMAC set up, derived. Returns
 * 0 (*hmac then owns its contexts), ENOMEM or ECRYPTO (*hmac holds
 * nothing). */
static int derive(zkp_sigv4_verifier_t *v, const char *secret, size_t slen, const char *date8,
                  unsigned char key[32], zkp__hmac_key_t *hmac)
{
    memset(hmac, 0, sizeof(*hmac));
    int rc = zkp__derive_key(&v->crypto, secret, slen, date8, v->region, v->service, key);
    return rc != 0 ? rc : zkp__hmac_key_init(&v->crypto, key, hmac);
}

/* The signing key for (secret, date) in key, and in *hmac the key set up
 * for the request's HMAC, from the cache or derived (and then cached).
 * Returns 0 (*hmac then to be consumed or freed by the caller), ENOMEM or
 * ECRYPTO (*hmac then holds nothing). */
static int signing_key(zkp_sigv4_verifier_t *v, const char *secret, size_t slen, const char *date8,
                       unsigned char key[32], zkp__hmac_key_t *hmac)
{
    memset(hmac, 0, sizeof(*hmac));
    int cacheable = slen <= SLOT_SECRET_MAX;
    key_slot_t *s = &v->slots[cacheable ? slot_of(secret, slen, date8, v->nslots) : 0];
    if (cacheable) {
        pthread_rwlock_rdlock(&v->mu);
        int hit = s->used && s->secret_len == slen && memcmp(s->date8, date8, 9) == 0 &&
                  CRYPTO_memcmp(s->secret, secret, slen) == 0;
        int rc = 0;
        if (hit) {
            memcpy(key, s->key, 32);
            rc = zkp__hmac_key_copy_local(hmac, &s->hmac);
        }
        pthread_rwlock_unlock(&v->mu);
        if (hit)
            return rc;
    }
    int rc = derive(v, secret, slen, date8, key, hmac);
    if (rc != 0 || !cacheable)
        return rc;
    /* The key set up goes to the slot; the request uses a copy, like a
     * hit. */
    zkp__hmac_key_t keep = *hmac;
    if (zkp__hmac_key_copy_local(hmac, &keep) != 0) {
        *hmac = keep; /* not cached: derived again next time */
        return 0;
    }
    pthread_rwlock_wrlock(&v->mu);
    zkp__hmac_key_t old = s->hmac;
    s->used = 1;
    s->secret_len = slen;
    memcpy(s->secret, secret, slen);
    memcpy(s->date8, date8, 9);
    memcpy(s->key, key, 32);
    s->hmac = keep;
    pthread_rwlock_unlock(&v->mu);
    zkp__hmac_key_free(&old);
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

/* Where the key of (id, date) is kept in c. */
static id_slot_t *id_slot(zkp_sigv4_key_cache_t *c, const char *id, size_t id_len,
                          const char *date8)
{
    return &c->slots[slot_of(id, id_len, date8, c->nslots)];
}

/* Step 4: the request's signing key in a->signing_key and its HMAC set up
 * in *hmac (to be consumed or freed by the caller), from kc (if not NULL),
 * else from the verifier's cache, else derived from the looked-up secret.
 * Returns 0, EKEY, ENOMEM or ECRYPTO (*hmac then holds nothing). */
static int request_key(zkp_sigv4_verifier_t *v, zkp_sigv4_key_cache_t *kc,
                       const zkp_sigv4_parsed_t *p, zkp_sigv4_auth_t *a, zkp__hmac_key_t *hmac)
{
    size_t id_len = strlen(p->access_key);
    id_slot_t *s = kc ? id_slot(kc, p->access_key, id_len, p->date) : NULL;
    memset(hmac, 0, sizeof(*hmac));
    if (s != NULL && s->used && s->id_len == id_len && memcmp(s->date8, p->date, 9) == 0 &&
        memcmp(s->id, p->access_key, id_len) == 0) {
        a->key_known = 1;
        memcpy(a->signing_key, s->key, 32);
        return zkp__hmac_key_copy_local(hmac, &s->hmac);
    }
    char secret[SECRET_MAX];
    int slen = v->lookup(v->lookup_arg, p->access_key, secret, sizeof(secret));
    if (slen <= 0 || slen >= (int)sizeof(secret)) {
        OPENSSL_cleanse(secret, sizeof(secret));
        zkp__detail(a->detail, sizeof(a->detail), "the access key id '%s' is unknown",
                    p->access_key);
        return ZKP_SIGV4_EKEY;
    }
    a->key_known = 1;
    int rc;
    if (s == NULL) {
        rc = signing_key(v, secret, (size_t)slen, p->date, a->signing_key, hmac);
    } else {
        /* Derived into the slot (what it held before is freed); the
         * request uses a copy, like a hit. */
        zkp__hmac_key_free(&s->hmac);
        s->used = 0;
        rc = derive(v, secret, (size_t)slen, p->date, s->key, &s->hmac);
        if (rc == 0) {
            s->used = 1;
            s->id_len = id_len;
            memcpy(s->id, p->access_key, id_len + 1);
            memcpy(s->date8, p->date, 9);
            memcpy(a->signing_key, s->key, 32);
            rc = zkp__hmac_key_copy_local(hmac, &s->hmac);
        }
    }
    OPENSSL_cleanse(secret, (size_t)slen + 1); /* what the lookup wrote */
    return rc;
}

/* Steps 4 to 6: key, clock, signature. */
static int check_signature(zkp_sigv4_verifier_t *v, zkp_sigv4_key_cache_t *kc,
                           const zkp_sigv4_request_t *r, const zkp_sigv4_parsed_t *p,
                           const zkp_sigv4_header_t *payload_hdr, zkp_sigv4_auth_t *a)
{
    zkp__hmac_key_t hmac;
    int rc = request_key(v, kc, p, a, &hmac);
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
        zkp__hmac_key_free(&hmac);
        return rc;
    }

    const char *target = r->target ? r->target : "";
    const char *payload = a->presigned ? "UNSIGNED-PAYLOAD" : payload_hdr->value;
    size_t payload_len = a->presigned ? 16 : payload_hdr->value_len;
    /* An ordinary canonical request fits on the stack; a longer one moves
     * to the heap. */
    char buf[CANON_STACK];
    zkp__sb_t canon;
    zkp__sb_init_buf(&canon, buf, sizeof(buf));
    rc = zkp__canonical_request(&canon, r->method, target, r->target_len, a->presigned, r->headers,
                                r->n_headers, p->signed_headers, strlen(p->signed_headers), payload,
                                payload_len, a->detail, sizeof(a->detail));
    char sts[ZKP__STS_MAX + 1];
    size_t sts_len = 0;
    if (rc == 0)
        rc = zkp__string_to_sign_into(&v->crypto, a->amz_date, a->scope, canon.p, canon.len, sts,
                                      &sts_len);
    char mine[ZKP_SIGV4_SIG_HEX_LEN + 1];
    if (rc == 0)
        rc = zkp__hmac_key_sign_hex(&hmac, sts, sts_len, mine); /* consumes hmac */
    else
        zkp__hmac_key_free(&hmac);
    if (rc == 0 && CRYPTO_memcmp(mine, p->signature, ZKP_SIGV4_SIG_HEX_LEN) != 0) {
        /* S3 tells a client with a known key what it should have signed. */
        a->canonical_request = zkp__sb_take(&canon);
        a->string_to_sign = strdup(sts);
        rc = ZKP_SIGV4_ESIGNATURE;
    }
    zkp__sb_free(&canon);
    return rc;
}

/* Every field of a empty or zero. Not a memset of the whole: it is 4.8
 * KiB, nearly all of it SignedHeaders' and the detail's room, and it is
 * initialised on every request (a string is empty once its first byte is
 * NUL; each is written whole, terminator included, when it is set). */
static void auth_init(zkp_sigv4_auth_t *a)
{
    a->presigned = 0;
    a->access_key[0] = '\0';
    a->key_known = 0;
    a->request_time = 0;
    a->expires = -1;
    a->payload = ZKP_SIGV4_PAYLOAD_UNSIGNED;
    memset(a->payload_sha256, 0, sizeof(a->payload_sha256));
    memset(a->amz_date, 0, sizeof(a->amz_date));
    a->scope[0] = '\0';
    memset(a->signature, 0, sizeof(a->signature));
    a->signed_headers[0] = '\0';
    memset(a->signing_key, 0, sizeof(a->signing_key));
    a->canonical_request = NULL;
    a->string_to_sign = NULL;
    a->detail[0] = '\0';
}

int zkp_sigv4_verify(zkp_sigv4_verifier_t *v, const zkp_sigv4_request_t *req,
                     zkp_sigv4_auth_t *auth)
{
    return zkp_sigv4_verify_cached(v, NULL, req, auth);
}

int zkp_sigv4_verify_cached(zkp_sigv4_verifier_t *v, zkp_sigv4_key_cache_t *kc,
                            const zkp_sigv4_request_t *req, zkp_sigv4_auth_t *auth)
{
    if (auth == NULL)
        return ZKP_SIGV4_EINVAL;
    auth_init(auth);
    if (v == NULL || req == NULL || req->method == NULL || (kc != NULL && kc->v != v) ||
        (req->target == NULL && req->target_len > 0) ||
        (req->headers == NULL && req->n_headers > 0))
        return ZKP_SIGV4_EINVAL;

    const char *target = req->target ? req->target : "";
    const char *qmark = memchr(target, '?', req->target_len);
    const char *query = qmark ? qmark + 1 : "";
    size_t qlen = qmark ? req->target_len - (size_t)(qmark + 1 - target) : 0;

    zkp_sigv4_parsed_t parsed, *p = &parsed;
    const zkp_sigv4_header_t *payload_hdr = NULL;
    int rc = parse_form(req, query, qlen, p, auth);
    if (rc == 0) {
        strcpy(auth->access_key, p->access_key);
        memcpy(auth->signature, p->signature, sizeof(auth->signature));
        memcpy(auth->signed_headers, p->signed_headers, strlen(p->signed_headers) + 1);
        rc = check_scope(v, req, p, auth, &payload_hdr);
    }
    if (rc == 0)
        rc = check_signed(req, p, auth->presigned, auth);
    if (rc == 0)
        rc = check_signature(v, kc, req, p, payload_hdr, auth);
    if (rc != 0)
        OPENSSL_cleanse(auth->signing_key, sizeof(auth->signing_key));
    else
        auth->detail[0] = '\0';
    return rc;
}
