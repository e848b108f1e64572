/* Text helpers of the SigV4 module: a growable string, hex, RFC 3986
 * encoding and decoding, and the sanitised detail sentences. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sigv4_int.h"

int zkp__sb_grow(zkp__sb_t *b, size_t extra)
{
    if (b->oom)
        return -1;
    if (b->len + extra + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) {
        if (cap > ((size_t)-1) / 2) {
            b->oom = 1;
            return -1;
        }
        cap *= 2;
    }
    char *p = b->borrowed ? malloc(cap) : realloc(b->p, cap);
    if (p == NULL) {
        b->oom = 1;
        return -1;
    }
    if (b->borrowed)
        memcpy(p, b->p, b->len + 1);
    b->borrowed = 0;
    b->p = p;
    b->cap = cap;
    return 0;
}

void zkp__sb_init_buf(zkp__sb_t *b, char *buf, size_t cap)
{
    memset(b, 0, sizeof(*b));
    b->p = buf;
    b->cap = cap;
    b->borrowed = 1;
    buf[0] = '\0';
}

char *zkp__sb_take(zkp__sb_t *b)
{
    char *p = NULL;
    if (!b->oom && b->p != NULL) {
        p = b->borrowed ? strdup(b->p) : b->p;
        if (!b->borrowed)
            b->p = NULL;
    }
    zkp__sb_free(b);
    return p;
}

void zkp__sb_uri_encode(zkp__sb_t *b, const char *s, size_t n, int keep_slash)
{
    static const char digits[] = "0123456789ABCDEF";
    /* Worst case three bytes per input byte: reserve once. */
    if (n > ((size_t)-1) / 3 || zkp__sb_grow(b, 3 * n) != 0) {
        b->oom = 1;
        return;
    }
    char *o = b->p + b->len;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (zkp__unreserved(c) || (keep_slash && c == '/')) {
            *o++ = (char)c;
        } else {
            *o++ = '%';
            *o++ = digits[c >> 4];
            *o++ = digits[c & 15];
        }
    }
    b->len = (size_t)(o - b->p);
    b->p[b->len] = '\0';
}

void zkp__sb_free(zkp__sb_t *b)
{
    if (!b->borrowed)
        free(b->p);
    memset(b, 0, sizeof(*b));
}

/* The classes of zkp__ctype (sigv4_int.h); bytes 0x80 and above are in
 * none: left zero. */
const unsigned char zkp__ctype[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x00 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
    0, 2, 0, 2, 2, 2, 2, 2, 0, 0, 2, 2, 0, 3, 3, 0, /* 0x20 */
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 0, 0, 0, 0, 0, 0, /* 0x30 */
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x40 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 2, 3, /* 0x50 */
    2, 7, 7, 7, 7, 7, 7, 3, 3, 3, 3, 3, 3, 3, 3, 3, /* 0x60 */
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 0, 2, 0, 3, 0, /* 0x70 */
};

/* Every byte's value as a hex digit (either case), -1 for the others: the
 * hot loops (hashes and signatures) look one byte up rather than branch. */
const signed char zkp__hexvals[256] = {
    ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,  ['6'] = 7,  ['7'] = 8,
    ['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
    ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16, /* value + 1: 0 means
                                                                               "not a digit", so the
                                                                               rest needs no
                                                                               initialiser */
};

void zkp__hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

int zkp__is_sig_hex(const char *s, size_t n)
{
    if (n != ZKP_SIGV4_SIG_HEX_LEN)
        return 0;
    unsigned char all = ZKP__HEX_LOWER;
    for (size_t i = 0; i < n; i++) /* no early exit: a branch per byte cost more */
        all &= zkp__ctype[(unsigned char)s[i]];
    return all != 0;
}

void zkp__detail(char *detail, size_t len, const char *fmt, ...)
{
    if (detail == NULL || len == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, len, fmt, ap);
    va_end(ap);
    for (char *p = detail; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
            *p = '?';
}

long zkp__uri_decode(const char *s, size_t n, int plus_space, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            if (n - i < 3) /* "%" or "%X" at the end */
                return -1;
            int hi = zkp__hexval((unsigned char)s[i + 1]);
            int lo = zkp__hexval((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+' && plus_space) {
            out[o++] = ' ';
        } else {
            out[o++] = c;
        }
    }
    out[o] = '\0';
    return (long)o;
}

int zkp__query_next(const char *q, size_t n, size_t *pos, zkp__qparam_t *out)
{
    while (*pos < n) {
        const char *seg = q + *pos;
        const char *amp = memchr(seg, '&', n - *pos);
        size_t len = amp ? (size_t)(amp - seg) : n - *pos;
        *pos += len + (amp != NULL);
        if (len == 0)
            continue;
        const char *eq = memchr(seg, '=', len);
        out->name = seg;
        out->name_len = eq ? (size_t)(eq - seg) : len;
        out->value = eq ? eq + 1 : seg + len;
        out->value_len = eq ? len - out->name_len - 1 : 0;
        return 1;
    }
    return 0;
}

int zkp__scope_token_ok(const char *s, size_t n, size_t max)
{
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return 0;
    }
    return 1;
}
