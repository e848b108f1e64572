/* Body checks: the SHA-256 of a body against x-amz-content-sha256, and the
 * chained signatures of aws-chunked bodies (verifying and signing).
 *
 * Chain invariant: `prev` always holds the last signature accepted (or
 * produced), starting from the seed; a chunk's signature covers `prev`, so
 * chunks cannot be dropped, reordered, replayed or appended without the
 * chain breaking, and the empty last chunk (and then the trailer) closes
 * it, so a body cut short at a chunk boundary is caught too. */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "sigv4_int.h"

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define TRAILER_SIG_NAME "x-amz-trailer-signature:"

enum {
    ST_NONE = 0,  /* zeroed or cleared */
    ST_IDLE,      /* verifier: between chunks */
    ST_CHUNK,     /* verifier: inside a chunk */
    ST_LAST,      /* verifier: the last (empty) chunk verified; trailer lines may follow */
    ST_DONE,      /* verifier: the chain is complete */
    ST_FAILED,    /* verifier: a check failed; every later call fails */
    ST_SIGN,      /* signer: collecting a chunk */
    ST_SIGN_LAST, /* signer: the last chunk signed */
    ST_SIGN_DONE, /* signer: the trailer signed */
};

/* ------------------------------------------------------------- body */

static EVP_MD_CTX *md_new(void)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(md);
        md = NULL;
    }
    return md;
}

/* Finishes md into hex (65 bytes) and restarts it for the next piece. */
static int md_hex_restart(EVP_MD_CTX *md, char *hex)
{
    unsigned char h[32];
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(md, h, &len) != 1 || len != 32 ||
        EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
        return ZKP_SIGV4_ECRYPTO;
    zkp__hex(h, 32, hex);
    return 0;
}

int zkp_sigv4_body_init(zkp_sigv4_body_t *b, const unsigned char expect[32])
{
    if (b == NULL || expect == NULL)
        return ZKP_SIGV4_EINVAL;
    memset(b, 0, sizeof(*b));
    b->started = 1;
    memcpy(b->expect, expect, 32);
    return 0;
}

int zkp_sigv4_body_update(zkp_sigv4_body_t *b, const void *data, size_t len)
{
    if (b == NULL || !b->started || (data == NULL && len > 0))
        return ZKP_SIGV4_EINVAL;
    if (len == 0)
        return 0;
    if (b->md == NULL && (b->md = md_new()) == NULL)
        return ZKP_SIGV4_ENOMEM;
    return EVP_DigestUpdate(b->md, data, len) == 1 ? 0 : ZKP_SIGV4_ECRYPTO;
}

int zkp_sigv4_body_finish(zkp_sigv4_body_t *b)
{
    /* SHA-256 of no bytes: the hash of a body that never came */
    static const unsigned char empty[32] = {0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14,
                                            0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
                                            0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c,
                                            0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55};
    if (b == NULL || !b->started)
        return ZKP_SIGV4_EINVAL;
    unsigned char h[32];
    unsigned int len = 32;
    int ok = 1;
    if (b->md == NULL)
        memcpy(h, empty, 32);
    else
        ok = EVP_DigestFinal_ex(b->md, h, &len) == 1 && len == 32;
    zkp_sigv4_body_clear(b);
    if (!ok)
        return ZKP_SIGV4_ECRYPTO;
    return CRYPTO_memcmp(h, b->expect, 32) == 0 ? 0 : ZKP_SIGV4_EPAYLOAD;
}

void zkp_sigv4_body_clear(zkp_sigv4_body_t *b)
{
    if (b == NULL)
        return;
    EVP_MD_CTX_free(b->md);
    b->md = NULL;
    b->started = 0;
}

/* ------------------------------------------------------------ chain */

/* The signature of the piece whose hash md holds: a chunk
 * (AWS4-HMAC-SHA256-PAYLOAD) or the trailer (AWS4-HMAC-SHA256-TRAILER).
 * Restarts md. */
static int chain_sign(zkp_sigv4_chunks_t *c, int trailer, char out[ZKP_SIGV4_SIG_HEX_LEN + 1])
{
    char hash[65];
    int rc = md_hex_restart(c->md, hash);
    if (rc != 0)
        return rc;
    char sts[512];
    int n = trailer ? snprintf(sts, sizeof(sts), "AWS4-HMAC-SHA256-TRAILER\n%s\n%s\n%s\n%s",
                               c->amz_date, c->scope, c->prev, hash)
                    : snprintf(sts, sizeof(sts), "AWS4-HMAC-SHA256-PAYLOAD\n%s\n%s\n%s\n%s\n%s",
                               c->amz_date, c->scope, c->prev, EMPTY_SHA256, hash);
    if (n < 0 || (size_t)n >= sizeof(sts))
        return ZKP_SIGV4_EINVAL;
    return zkp__sign_hex(NULL, c->key, sts, (size_t)n, out);
}

static int chain_start(zkp_sigv4_chunks_t *c, const unsigned char key[32], const char *amz_date,
                       const char *scope, const char *seed)
{
    memset(c, 0, sizeof(*c));
    if (strlen(amz_date) != ZKP_SIGV4_AMZ_DATE_LEN || strlen(scope) > ZKP_SIGV4_SCOPE_MAX ||
        !zkp__is_sig_hex(seed, strlen(seed)))
        return ZKP_SIGV4_EINVAL;
    c->md = md_new();
    if (c->md == NULL)
        return ZKP_SIGV4_ENOMEM;
    memcpy(c->key, key, 32);
    strcpy(c->amz_date, amz_date);
    strcpy(c->scope, scope);
    strcpy(c->prev, seed);
    return 0;
}

static int fail(zkp_sigv4_chunks_t *c)
{
    c->state = ST_FAILED;
    return ZKP_SIGV4_ESIGNATURE;
}

int zkp_sigv4_chunks_init(zkp_sigv4_chunks_t *c, const zkp_sigv4_auth_t *auth)
{
    if (c == NULL)
        return ZKP_SIGV4_EINVAL;
    memset(c, 0, sizeof(*c));
    if (auth == NULL || (auth->payload != ZKP_SIGV4_PAYLOAD_STREAMING &&
                         auth->payload != ZKP_SIGV4_PAYLOAD_STREAMING_TRAILER))
        return ZKP_SIGV4_EINVAL;
    int rc = chain_start(c, auth->signing_key, auth->amz_date, auth->scope, auth->signature);
    if (rc != 0)
        return rc;
    c->trailer = auth->payload == ZKP_SIGV4_PAYLOAD_STREAMING_TRAILER;
    c->state = ST_IDLE;
    return 0;
}

int zkp_sigv4_chunk_begin(zkp_sigv4_chunks_t *c, const char *sig, size_t sig_len)
{
    if (c == NULL || c->state == ST_NONE)
        return ZKP_SIGV4_EINVAL;
    if (c->state != ST_IDLE || sig == NULL || !zkp__is_sig_hex(sig, sig_len))
        return fail(c);
    memcpy(c->expect, sig, ZKP_SIGV4_SIG_HEX_LEN);
    c->expect[ZKP_SIGV4_SIG_HEX_LEN] = '\0';
    c->chunk_len = 0;
    c->state = ST_CHUNK;
    return 0;
}

int zkp_sigv4_chunk_data(zkp_sigv4_chunks_t *c, const void *data, size_t len)
{
    if (c == NULL || (c->state != ST_CHUNK && c->state != ST_SIGN) || (data == NULL && len > 0))
        return ZKP_SIGV4_EINVAL;
    if (EVP_DigestUpdate(c->md, data, len) != 1)
        return ZKP_SIGV4_ECRYPTO;
    c->chunk_len += len;
    return 0;
}

int zkp_sigv4_chunk_end(zkp_sigv4_chunks_t *c)
{
    if (c == NULL || c->state == ST_NONE)
        return ZKP_SIGV4_EINVAL;
    if (c->state != ST_CHUNK)
        return c->state == ST_FAILED ? ZKP_SIGV4_ESIGNATURE : ZKP_SIGV4_EINVAL;
    char mine[ZKP_SIGV4_SIG_HEX_LEN + 1];
    int rc = chain_sign(c, 0, mine);
    if (rc != 0) {
        c->state = ST_FAILED;
        return rc;
    }
    if (CRYPTO_memcmp(mine, c->expect, ZKP_SIGV4_SIG_HEX_LEN) != 0)
        return fail(c);
    memcpy(c->prev, mine, sizeof(c->prev));
    if (c->chunk_len > 0)
        c->state = ST_IDLE;
    else
        c->state = c->trailer ? ST_LAST : ST_DONE;
    return 0;
}

int zkp_sigv4_chunks_trailer(zkp_sigv4_chunks_t *c, const char *line, size_t len)
{
    if (c == NULL || c->state == ST_NONE || (line == NULL && len > 0))
        return ZKP_SIGV4_EINVAL;
    if (c->state != ST_LAST)
        return fail(c); /* a trailer nobody signed, or after the signature */
    const size_t nlen = sizeof(TRAILER_SIG_NAME) - 1;
    if (len < nlen || memcmp(line, TRAILER_SIG_NAME, nlen) != 0) {
        if (EVP_DigestUpdate(c->md, line, len) != 1 || EVP_DigestUpdate(c->md, "\n", 1) != 1) {
            c->state = ST_FAILED;
            return ZKP_SIGV4_ECRYPTO;
        }
        return 0;
    }
    const char *sig = line + nlen;
    size_t slen = len - nlen;
    if (!zkp__is_sig_hex(sig, slen))
        return fail(c);
    char mine[ZKP_SIGV4_SIG_HEX_LEN + 1];
    int rc = chain_sign(c, 1, mine);
    if (rc != 0) {
        c->state = ST_FAILED;
        return rc;
    }
    if (CRYPTO_memcmp(mine, sig, ZKP_SIGV4_SIG_HEX_LEN) != 0)
        return fail(c);
    memcpy(c->prev, mine, sizeof(c->prev));
    c->state = ST_DONE;
    return 0;
}

int zkp_sigv4_chunks_finish(const zkp_sigv4_chunks_t *c)
{
    if (c == NULL || c->state == ST_NONE)
        return ZKP_SIGV4_EINVAL;
    if (c->state == ST_DONE)
        return 0;
    return c->state == ST_FAILED ? ZKP_SIGV4_ESIGNATURE : ZKP_SIGV4_EINCOMPLETE;
}

void zkp_sigv4_chunks_clear(zkp_sigv4_chunks_t *c)
{
    if (c == NULL)
        return;
    EVP_MD_CTX_free(c->md);
    c->md = NULL;
    OPENSSL_cleanse(c->key, sizeof(c->key));
    c->state = ST_NONE;
}

/* ----------------------------------------------------------- signer */

int zkp_sigv4_chunk_signer_init(zkp_sigv4_chunks_t *c, const zkp_sigv4_creds_t *cr, time_t when,
                                const char *seed)
{
    if (c == NULL)
        return ZKP_SIGV4_EINVAL;
    memset(c, 0, sizeof(*c));
    if (cr == NULL || cr->secret_key == NULL || cr->region == NULL || seed == NULL)
        return ZKP_SIGV4_EINVAL;
    const char *service = cr->service ? cr->service : "s3";
    char amz_date[ZKP_SIGV4_AMZ_DATE_LEN + 1], date8[9], scope[ZKP_SIGV4_SCOPE_MAX + 1];
    zkp_sigv4_format_amz_date(when, amz_date);
    memcpy(date8, amz_date, 8);
    date8[8] = '\0';
    if (!zkp__scope_token_ok(cr->region, strlen(cr->region), ZKP_SIGV4_REGION_MAX) ||
        !zkp__scope_token_ok(service, strlen(service), ZKP_SIGV4_SERVICE_MAX) ||
        zkp__scope(date8, cr->region, service, scope) != 0)
        return ZKP_SIGV4_EINVAL;
    unsigned char key[32];
    int rc = zkp__derive_key(NULL, cr->secret_key, strlen(cr->secret_key), date8, cr->region,
                             service, key);
    if (rc == 0)
        rc = chain_start(c, key, amz_date, scope, seed);
    OPENSSL_cleanse(key, sizeof(key));
    if (rc == 0)
        c->state = ST_SIGN;
    return rc;
}

int zkp_sigv4_chunk_sign(zkp_sigv4_chunks_t *c, char out[ZKP_SIGV4_SIG_HEX_LEN + 1])
{
    if (c == NULL || c->state != ST_SIGN || out == NULL)
        return ZKP_SIGV4_EINVAL;
    int rc = chain_sign(c, 0, out);
    if (rc != 0)
        return rc;
    memcpy(c->prev, out, sizeof(c->prev));
    if (c->chunk_len == 0)
        c->state = ST_SIGN_LAST;
    c->chunk_len = 0;
    return 0;
}

int zkp_sigv4_trailer_sign(zkp_sigv4_chunks_t *c, const char *lines, size_t len,
                           char out[ZKP_SIGV4_SIG_HEX_LEN + 1])
{
    if (c == NULL || c->state != ST_SIGN_LAST || (lines == NULL && len > 0) || out == NULL)
        return ZKP_SIGV4_EINVAL;
    if (EVP_DigestUpdate(c->md, lines, len) != 1)
        return ZKP_SIGV4_ECRYPTO;
    int rc = chain_sign(c, 1, out);
    if (rc != 0)
        return rc;
    memcpy(c->prev, out, sizeof(c->prev));
    c->state = ST_SIGN_DONE;
    return 0;
}
