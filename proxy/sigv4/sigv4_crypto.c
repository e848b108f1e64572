/* The cryptography of SigV4: SHA-256 (EVP_Digest), HMAC-SHA256 (EVP_MAC,
 * and for a request's signature RFC 2104 over saved SHA-256 states), the
 * signing-key derivation and the string to sign, all hashing OpenSSL's.
 * Intermediate keys are wiped with OPENSSL_cleanse.
 *
 * Why a context: OpenSSL 3 looks an algorithm up by name on every implicit
 * use (HMAC(), EVP_sha256()), which made one HMAC cost 4 times a copy of a
 * ready HMAC context (measured: 7.4 vs 1.8 us on this machine, busy). The
 * verifier fetches SHA-256 once and keeps an HMAC-SHA256 context, without
 * a key, that each call duplicates. Sharing it between threads is safe:
 * EVP_MAC_CTX_dup() takes it const and only reads it (openssl-threads(7):
 * objects are thread-safe under APIs that do not modify them), and nothing
 * modifies it after zkp__crypto_init(). With no context (NULL), the
 * implicit path is used: fine for the signer and for chunks, whose cost is
 * the data hashed.
 *
 * Why saved hash states for a request's HMAC (zkp__hmac_key_t): with the
 * key cached, a copy of a keyed EVP_MAC context still made an HMAC context,
 * three digest contexts and their states, and EVP_MAC_final a fourth copy;
 * two SHA-256 states are all HMAC needs once the padded key blocks are
 * absorbed.
 *
 * Why per-thread digest contexts: a request's SHA-256 (of its canonical
 * request) and its HMAC's two state copies each made, then freed, an
 * EVP_MD_CTX and its provider state; reused contexts skip both (measured
 * with bench/sigv4_bench). Each thread that verifies gets three contexts on
 * first use, freed when it exits; they hold no key between requests (a
 * finished HMAC leaves final hashes; an abandoned one is emptied), so a
 * credentials reload needs nothing from them, and any verifier's SHA-256
 * can use them (EVP_DigestInit_ex and EVP_MD_CTX_copy_ex take the digest
 * along). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>

#include "sigv4_int.h"

int zkp__crypto_init(zkp__crypto_t *c)
{
    memset(c, 0, sizeof(*c));
    c->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (mac != NULL)
        c->hmac = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac); /* the context keeps its own reference */
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    if (c->sha256 == NULL || c->hmac == NULL || EVP_MAC_CTX_set_params(c->hmac, params) != 1) {
        zkp__crypto_free(c);
        return ZKP_SIGV4_ECRYPTO;
    }
    return 0;
}

void zkp__crypto_free(zkp__crypto_t *c)
{
    EVP_MD_free(c->sha256);
    EVP_MAC_CTX_free(c->hmac);
    memset(c, 0, sizeof(*c));
}

/* --- the calling thread's digest contexts ---------------------------------------------- */

typedef struct local_ctx {
    EVP_MD_CTX *md;    /* one-shot SHA-256 */
    EVP_MD_CTX *inner; /* a zkp__hmac_key_copy_local() */
    EVP_MD_CTX *outer;
} local_ctx_t;

static pthread_key_t local_key;
static int local_key_ok;
static pthread_once_t local_once = PTHREAD_ONCE_INIT;

static void local_free(void *p)
{
    local_ctx_t *l = p;
    EVP_MD_CTX_free(l->md);
    EVP_MD_CTX_free(l->inner);
    EVP_MD_CTX_free(l->outer);
    free(l);
}

static void local_key_make(void)
{
    local_key_ok = pthread_key_create(&local_key, local_free) == 0;
}

/* The calling thread's contexts, made on first use; NULL if they cannot
 * be (the callers then use contexts of their own). */
static local_ctx_t *local_get(void)
{
    pthread_once(&local_once, local_key_make);
    if (!local_key_ok)
        return NULL;
    local_ctx_t *l = pthread_getspecific(local_key);
    if (l != NULL)
        return l;
    l = calloc(1, sizeof(*l));
    if (l == NULL)
        return NULL;
    l->md = EVP_MD_CTX_new();
    l->inner = EVP_MD_CTX_new();
    l->outer = EVP_MD_CTX_new();
    if (l->md == NULL || l->inner == NULL || l->outer == NULL ||
        pthread_setspecific(local_key, l) != 0) {
        local_free(l);
        return NULL;
    }
    return l;
}

int zkp__sha256(const zkp__crypto_t *c, const void *d, size_t n, unsigned char out[32])
{
    unsigned int len = 0;
    local_ctx_t *l = c != NULL ? local_get() : NULL;
    if (l != NULL) {
        if (EVP_DigestInit_ex(l->md, c->sha256, NULL) != 1 || EVP_DigestUpdate(l->md, d, n) != 1 ||
            EVP_DigestFinal_ex(l->md, out, &len) != 1 || len != 32)
            return ZKP_SIGV4_ECRYPTO;
        return 0;
    }
    const EVP_MD *md = c ? c->sha256 : EVP_sha256();
    if (EVP_Digest(d, n, out, &len, md, NULL) != 1 || len != 32)
        return ZKP_SIGV4_ECRYPTO;
    return 0;
}

int zkp__hmac(const zkp__crypto_t *c, const void *key, size_t klen, const void *d, size_t n,
              unsigned char out[32])
{
    if (klen > (size_t)INT32_MAX)
        return ZKP_SIGV4_ECRYPTO;
    if (c == NULL) {
        unsigned int len = 0;
        if (HMAC(EVP_sha256(), key, (int)klen, d, n, out, &len) == NULL || len != 32)
            return ZKP_SIGV4_ECRYPTO;
        return 0;
    }
    size_t len = 0;
    EVP_MAC_CTX *m = EVP_MAC_CTX_dup(c->hmac);
    int ok = m != NULL && EVP_MAC_init(m, key, klen, NULL) == 1 && EVP_MAC_update(m, d, n) == 1 &&
             EVP_MAC_final(m, out, &len, 32) == 1 && len == 32;
    EVP_MAC_CTX_free(m); /* frees (and clears) its copy of the key */
    return ok ? 0 : ZKP_SIGV4_ECRYPTO;
}

int zkp__derive_key(const zkp__crypto_t *c, const char *secret, size_t secret_len,
                    const char *date8, const char *region, const char *service,
                    unsigned char out[32])
{
    /* kSecret = "AWS4" + secret: the only copy of the secret made here. */
    size_t klen = 4 + secret_len;
    unsigned char *k = malloc(klen);
    if (k == NULL)
        return ZKP_SIGV4_ENOMEM;
    memcpy(k, "AWS4", 4);
    memcpy(k + 4, secret, secret_len);

    unsigned char a[32], b[32];
    int rc = zkp__hmac(c, k, klen, date8, strlen(date8), a);
    if (rc == 0)
        rc = zkp__hmac(c, a, 32, region, strlen(region), b);
    if (rc == 0)
        rc = zkp__hmac(c, b, 32, service, strlen(service), a);
    if (rc == 0)
        rc = zkp__hmac(c, a, 32, "aws4_request", 12, out);
    OPENSSL_cleanse(k, klen);
    OPENSSL_cleanse(a, sizeof(a));
    OPENSSL_cleanse(b, sizeof(b));
    free(k);
    return rc;
}

/* Each part copied once at its known length (a strcat per part measured
 * tens of ns per request: each one scans what is already there). */
int zkp__scope(const char *date8, const char *region, const char *service, char *out)
{
    static const char tail[] = "/aws4_request";
    size_t dl = strlen(date8), rl = strlen(region), sl = strlen(service);
    if (dl + rl + sl + 16 > ZKP_SIGV4_SCOPE_MAX + 1)
        return ZKP_SIGV4_EINVAL;
    char *o = out;
    memcpy(o, date8, dl);
    o += dl;
    *o++ = '/';
    memcpy(o, region, rl);
    o += rl;
    *o++ = '/';
    memcpy(o, service, sl);
    o += sl;
    memcpy(o, tail, sizeof(tail)); /* and the NUL */
    return 0;
}

int zkp__string_to_sign_into(const zkp__crypto_t *c, const char *amz_date, const char *scope,
                             const char *canonical, size_t canonical_len,
                             char out[ZKP__STS_MAX + 1], size_t *out_len)
{
    static const char algo[] = "AWS4-HMAC-SHA256\n";
    size_t dl = strlen(amz_date), sl = strlen(scope);
    size_t need = sizeof(algo) - 1 + dl + 1 + sl + 1 + 64;
    if (need > ZKP__STS_MAX)
        return ZKP_SIGV4_EINVAL;
    unsigned char h[32];
    int rc = zkp__sha256(c, canonical, canonical_len, h);
    if (rc != 0)
        return rc;
    char *o = out;
    memcpy(o, algo, sizeof(algo) - 1);
    o += sizeof(algo) - 1;
    memcpy(o, amz_date, dl);
    o += dl;
    *o++ = '\n';
    memcpy(o, scope, sl);
    o += sl;
    *o++ = '\n';
    zkp__hex(h, 32, o); /* and the NUL */
    *out_len = need;
    return 0;
}

int zkp__string_to_sign(const zkp__crypto_t *c, const char *amz_date, const char *scope,
                        const char *canonical, size_t canonical_len, char **out)
{
    char sts[ZKP__STS_MAX + 1];
    size_t len;
    *out = NULL;
    int rc = zkp__string_to_sign_into(c, amz_date, scope, canonical, canonical_len, sts, &len);
    if (rc != 0)
        return rc;
    *out = strdup(sts);
    return *out == NULL ? ZKP_SIGV4_ENOMEM : 0;
}

int zkp__sign_hex(const zkp__crypto_t *c, const unsigned char key[32], const char *sts, size_t len,
                  char *out)
{
    unsigned char mac[32];
    int rc = zkp__hmac(c, key, 32, sts, len, mac);
    if (rc == 0)
        zkp__hex(mac, 32, out);
    return rc;
}

/* RFC 2104 over SHA-256 with a 32-byte key (shorter than the 64-byte block,
 * so used as is, zero-padded): HMAC(K, m) = H((K ^ opad) || H((K ^ ipad) ||
 * m)). The two hash states after the padded key blocks are all a key
 * needs; a copy of them replaces setting the key up again. */
static int absorb_pad(EVP_MD_CTX *md, const EVP_MD *sha256, const unsigned char key[32],
                      unsigned char x)
{
    unsigned char block[64];
    for (size_t i = 0; i < sizeof(block); i++)
        block[i] = (unsigned char)((i < 32 ? key[i] : 0) ^ x);
    int ok = EVP_DigestInit_ex(md, sha256, NULL) == 1 && EVP_DigestUpdate(md, block, 64) == 1;
    OPENSSL_cleanse(block, sizeof(block));
    return ok;
}

int zkp__hmac_key_init(const zkp__crypto_t *c, const unsigned char key[32], zkp__hmac_key_t *k)
{
    k->local = 0;
    k->inner = EVP_MD_CTX_new();
    k->outer = EVP_MD_CTX_new();
    if (k->inner == NULL || k->outer == NULL || !absorb_pad(k->inner, c->sha256, key, 0x36) ||
        !absorb_pad(k->outer, c->sha256, key, 0x5c)) {
        zkp__hmac_key_free(k);
        return ZKP_SIGV4_ECRYPTO;
    }
    return 0;
}

/* Copies src's states into dst's contexts (made or borrowed by the
 * caller). On failure dst is freed (emptied when local). */
static int copy_states(zkp__hmac_key_t *dst, const zkp__hmac_key_t *src)
{
    if (dst->inner == NULL || dst->outer == NULL || src->inner == NULL || src->outer == NULL ||
        EVP_MD_CTX_copy_ex(dst->inner, src->inner) != 1 ||
        EVP_MD_CTX_copy_ex(dst->outer, src->outer) != 1) {
        zkp__hmac_key_free(dst);
        return ZKP_SIGV4_ECRYPTO;
    }
    return 0;
}

int zkp__hmac_key_copy(zkp__hmac_key_t *dst, const zkp__hmac_key_t *src)
{
    dst->local = 0;
    dst->inner = EVP_MD_CTX_new();
    dst->outer = EVP_MD_CTX_new();
    return copy_states(dst, src);
}

int zkp__hmac_key_copy_local(zkp__hmac_key_t *dst, const zkp__hmac_key_t *src)
{
    local_ctx_t *l = local_get();
    if (l == NULL)
        return zkp__hmac_key_copy(dst, src);
    dst->local = 1;
    dst->inner = l->inner;
    dst->outer = l->outer;
    return copy_states(dst, src);
}

void zkp__hmac_key_free(zkp__hmac_key_t *k)
{
    if (k->local) {
        /* Emptied, not freed: the provider clears its hash state, and the
         * next copy makes a new one. */
        EVP_MD_CTX_reset(k->inner);
        EVP_MD_CTX_reset(k->outer);
    } else {
        EVP_MD_CTX_free(k->inner); /* the provider clears its hash state */
        EVP_MD_CTX_free(k->outer);
    }
    k->inner = k->outer = NULL;
    k->local = 0;
}

int zkp__hmac_key_sign_hex(zkp__hmac_key_t *k, const char *sts, size_t len, char *out)
{
    unsigned char h[32];
    unsigned int n = 0, m = 0;
    int ok = k->inner != NULL && EVP_DigestUpdate(k->inner, sts, len) == 1 &&
             EVP_DigestFinal_ex(k->inner, h, &n) == 1 && n == 32 &&
             EVP_DigestUpdate(k->outer, h, 32) == 1 && EVP_DigestFinal_ex(k->outer, h, &m) == 1 &&
             m == 32;
    if (ok && k->local) {
        /* Finalised: only the two final hashes remain (no key state), and
         * the contexts stay set up for the thread's next request. */
        k->inner = k->outer = NULL;
        k->local = 0;
    } else {
        zkp__hmac_key_free(k);
    }
    if (ok)
        zkp__hex(h, 32, out);
    OPENSSL_cleanse(h, sizeof(h));
    return ok ? 0 : ZKP_SIGV4_ECRYPTO;
}
