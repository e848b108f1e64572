/* Internal helpers shared by the files of the SigV4 module (not for its
 * callers, who use sigv4.h):
 *   sigv4_str.c     growable strings, hex, RFC 3986 encoding, detail texts
 *   sigv4_crypto.c  SHA-256, HMAC-SHA256, key derivation, string to sign
 * Every function is pure apart from the memory it is given. */
#ifndef ZKP_SIGV4_INT_H
#define ZKP_SIGV4_INT_H

#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <openssl/types.h>

#include "sigv4.h"

/* ------------------------------------------------------ growable text */

/* A NUL-terminated string that grows; an allocation failure sets `oom`
 * and turns every later append into a no-op, so a builder checks once at
 * the end. A zeroed struct is an empty string. */
typedef struct zkp__sb {
    char *p;
    size_t len;
    size_t cap;
    int oom;
    int borrowed; /* p is the caller's buffer (zkp__sb_init_buf), not malloc'd */
} zkp__sb_t;

/* An empty string in buf[0..cap) (cap >= 1; the caller's, on the stack
 * say), moved to the heap only if it outgrows it: a bounded common case
 * costs no allocation. */
void zkp__sb_init_buf(zkp__sb_t *b, char *buf, size_t cap);
/* The string as a malloc'd copy the caller owns (NULL out of memory or
 * after an allocation failure); b is freed. */
char *zkp__sb_take(zkp__sb_t *b);

/* Makes room for `extra` more bytes and the NUL: 0, or -1 with `oom` set
 * (now or earlier). */
int zkp__sb_grow(zkp__sb_t *b, size_t extra);

/* The appends are inline: a canonical request is built from many short
 * pieces, and a call per piece (or per byte) into another file cost more
 * than the copying (measured in bench/sigv4_bench). */
static inline void zkp__sb_put(zkp__sb_t *b, const void *s, size_t n)
{
    if (b->len + n + 1 > b->cap && zkp__sb_grow(b, n) != 0)
        return;
    if (b->oom)
        return;
    if (n > 0)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static inline void zkp__sb_putc(zkp__sb_t *b, char c)
{
    zkp__sb_put(b, &c, 1);
}

static inline void zkp__sb_puts(zkp__sb_t *b, const char *s)
{
    zkp__sb_put(b, s, strlen(s));
}
/* Appends s[0..n) with every byte outside the RFC 3986 unreserved set
 * (A-Za-z0-9-._~) as %XX in uppercase hex; '/' kept when keep_slash. */
void zkp__sb_uri_encode(zkp__sb_t *b, const char *s, size_t n, int keep_slash);
/* Frees the buffer (unless borrowed) and zeroes the struct. */
void zkp__sb_free(zkp__sb_t *b);

/* ------------------------------------------------------------- codecs */

/* Every byte's value as a hex digit (either case) plus one, 0 for the
 * others (sigv4_str.c). */
extern const signed char zkp__hexvals[256];
/* Classes of bytes (sigv4_str.c), a table lookup instead of a chain of
 * comparisons per byte: */
extern const unsigned char zkp__ctype[256];
#define ZKP__UNRESERVED 1  /* RFC 3986 unreserved: A-Za-z0-9-._~ */
#define ZKP__TCHAR_LOWER 2 /* a SignedHeaders byte: a-z0-9!#$%&'*+-.^_`|~ */
#define ZKP__HEX_LOWER 4   /* 0-9a-f */

/* 0..15 for a hex digit (either case), -1 otherwise. */
static inline int zkp__hexval(unsigned char c)
{
    return zkp__hexvals[c] - 1;
}
/* Lowercase hex of in[0..n) into out (2n + 1 bytes, NUL-terminated). */
void zkp__hex(const unsigned char *in, size_t n, char *out);
/* 1 if s[0..n) is exactly 64 lowercase hex digits. */
int zkp__is_sig_hex(const char *s, size_t n);
/* 1 for an RFC 3986 unreserved byte. */
static inline int zkp__unreserved(unsigned char c)
{
    return (zkp__ctype[c] & ZKP__UNRESERVED) != 0;
}
/* Case-insensitive ASCII equality of a[0..an) and b[0..bn). */
static inline int zkp__ieq(const char *a, size_t an, const char *b, size_t bn)
{
    if (an != bn)
        return 0;
    for (size_t i = 0; i < an; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x == y)
            continue;
        /* equal but for case: both letters, 0x20 apart */
        x |= 0x20;
        if (x != (y | 0x20) || x < 'a' || x > 'z')
            return 0;
    }
    return 1;
}
/* 1 if s[0..n) is a valid SignedHeaders list (see zkp_sigv4_parsed_t);
 * else 0 and a sentence in detail. */
int zkp__signed_headers_ok(const char *s, size_t n, char *detail, size_t dlen);

/* Writes a printf-style sentence into detail (if not NULL), then replaces
 * every byte outside printable ASCII with '?', so that text echoed from a
 * request cannot inject control characters into a log or a response. */
void zkp__detail(char *detail, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Decodes the %XX escapes of s[0..n) (and '+' as a space when plus_space)
 * into out (capacity >= n + 1; NUL-terminated; may contain NUL bytes).
 * Returns the decoded length, or -1 on a malformed escape. */
long zkp__uri_decode(const char *s, size_t n, int plus_space, char *out);

/* One parameter of a raw query string, name and value still encoded. */
typedef struct zkp__qparam {
    const char *name;
    size_t name_len;
    const char *value; /* "" (at the segment's end) when there is no '=' */
    size_t value_len;
} zkp__qparam_t;

/* The next non-empty '&'-separated segment of q[0..n) at or after *pos,
 * split at its first '='. Returns 1 and moves *pos past it, or 0 at the
 * end. Empty segments ("a=1&&b=2", a trailing '&') are skipped. */
int zkp__query_next(const char *q, size_t n, size_t *pos, zkp__qparam_t *out);

/* The canonical request (zkp_sigv4_canonical_request(), same arguments
 * and errors) appended to b, which the caller initialised and frees.
 * signed_headers must already be a valid list (zkp__signed_headers_ok():
 * the parsers check it, and the verifier does not pay for it twice). */
int zkp__canonical_request(zkp__sb_t *b, const char *method, const char *target, size_t target_len,
                           int presigned, const zkp_sigv4_header_t *headers, size_t n_headers,
                           const char *signed_headers, size_t signed_headers_len,
                           const char *payload, size_t payload_len, char *detail,
                           size_t detail_len);

/* ------------------------------------------------------------- crypto */

/* Algorithms fetched once (see sigv4_crypto.c): owned by a verifier,
 * shared read-only by its threads. Every function below takes one, or
 * NULL for OpenSSL's implicit lookups. */
typedef struct zkp__crypto {
    struct evp_md_st *sha256;    /* EVP_MD */
    struct evp_mac_ctx_st *hmac; /* EVP_MAC_CTX: HMAC-SHA256, no key: a template */
} zkp__crypto_t;

/* Returns 0 or ZKP_SIGV4_ECRYPTO (then *c holds nothing). */
int zkp__crypto_init(zkp__crypto_t *c);
/* Frees and zeroes; safe on a zeroed struct. */
void zkp__crypto_free(zkp__crypto_t *c);

/* SHA-256 of d[0..n). Returns 0 or ZKP_SIGV4_ECRYPTO. */
int zkp__sha256(const zkp__crypto_t *c, const void *d, size_t n, unsigned char out[32]);
/* HMAC-SHA256. Returns 0 or ZKP_SIGV4_ECRYPTO. */
int zkp__hmac(const zkp__crypto_t *c, const void *key, size_t klen, const void *d, size_t n,
              unsigned char out[32]);
/* The SigV4 signing key: HMAC chain "AWS4"+secret -> date -> region ->
 * service -> "aws4_request". Returns 0, ENOMEM or ECRYPTO; wipes its
 * intermediate values. */
int zkp__derive_key(const zkp__crypto_t *c, const char *secret, size_t secret_len,
                    const char *date8, const char *region, const char *service,
                    unsigned char out[32]);
/* "YYYYMMDD/region/service/aws4_request" into out (ZKP_SIGV4_SCOPE_MAX + 1).
 * Returns 0, or EINVAL if it does not fit. */
int zkp__scope(const char *date8, const char *region, const char *service, char *out);
/* The longest string to sign of a request: the algorithm line, the date
 * line, the scope line and the hash. */
#define ZKP__STS_MAX (17 + ZKP_SIGV4_AMZ_DATE_LEN + 1 + ZKP_SIGV4_SCOPE_MAX + 1 + 64)
/* The string to sign of a request:
 *   "AWS4-HMAC-SHA256\n" amz_date "\n" scope "\n" hex(SHA-256(canonical))
 * into out (NUL-terminated), its length in *out_len. Returns 0, EINVAL
 * (date and scope too long) or ECRYPTO. */
int zkp__string_to_sign_into(const zkp__crypto_t *c, const char *amz_date, const char *scope,
                             const char *canonical, size_t canonical_len,
                             char out[ZKP__STS_MAX + 1], size_t *out_len);
/* The same as a malloc'd string in *out. Returns 0, EINVAL, ENOMEM or
 * ECRYPTO. */
int zkp__string_to_sign(const zkp__crypto_t *c, const char *amz_date, const char *scope,
                        const char *canonical, size_t canonical_len, char **out);
/* HMAC-SHA256 with a key set up once: the SHA-256 states after its inner
 * and outer padded blocks (RFC 2104). A ready key is copied for each use
 * (zkp__hmac_key_copy: two hash-state copies, where an EVP_MAC context
 * copy makes three and an HMAC context, and the EVP_MAC_final a fourth);
 * concurrent copies of one key are safe (EVP_MD_CTX_copy_ex reads its
 * source only). A zeroed struct holds nothing. */
typedef struct zkp__hmac_key {
    struct evp_md_ctx_st *inner;
    struct evp_md_ctx_st *outer;
    int local; /* the calling thread's contexts (zkp__hmac_key_copy_local), not owned */
} zkp__hmac_key_t;
/* Sets k up for key with c's SHA-256 (c not NULL). Returns 0 or ECRYPTO
 * (then k holds nothing). */
int zkp__hmac_key_init(const zkp__crypto_t *c, const unsigned char key[32], zkp__hmac_key_t *k);
/* dst = a copy of src, in contexts of its own. Returns 0 or ECRYPTO (then
 * dst holds nothing). */
int zkp__hmac_key_copy(zkp__hmac_key_t *dst, const zkp__hmac_key_t *src);
/* dst = a copy of src for one use on the calling thread, in that thread's
 * two contexts, which every call reuses (no allocation once they are
 * made; a new copy overwrites the previous one, so a thread holds one at a
 * time). Falls back to contexts of its own if the thread's cannot be made.
 * Returns 0 or ECRYPTO (then dst holds nothing). */
int zkp__hmac_key_copy_local(zkp__hmac_key_t *dst, const zkp__hmac_key_t *src);
/* Frees k's states (wiped by OpenSSL) and zeroes it; a thread's contexts
 * are emptied (the same wipe), not freed. Safe on a zeroed struct. */
void zkp__hmac_key_free(zkp__hmac_key_t *k);
/* hex(HMAC(key, sts)) into out (65 bytes) with k, which this consumes
 * (frees; a thread's contexts are left holding only final hashes, no key
 * state). Returns 0 or ECRYPTO. */
int zkp__hmac_key_sign_hex(zkp__hmac_key_t *k, const char *sts, size_t len, char *out);
/* hex(HMAC(key, sts)) into out (65 bytes). Returns 0 or ECRYPTO. */
int zkp__sign_hex(const zkp__crypto_t *c, const unsigned char key[32], const char *sts, size_t len,
                  char *out);

/* Checks region/service syntax: 1..max bytes of [a-z0-9-]. */
int zkp__scope_token_ok(const char *s, size_t n, size_t max);

#endif
