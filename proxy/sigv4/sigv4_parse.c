/* Strict parsers of what a client sends to authenticate: the Authorization
 * header, the presigned query parameters, x-amz-content-sha256. They check
 * syntax only; whether the values are the right ones is the verifier's
 * business (sigv4.c). Anything not exactly of the documented form is
 * refused with a sentence naming the cause, never guessed at. */
#include <stdlib.h>
#include <string.h>

#include "sigv4_int.h"

#define ALGORITHM "AWS4-HMAC-SHA256"

int zkp_sigv4_access_key_valid(const char *s, size_t n)
{
    if (n == 0 || n > ZKP_SIGV4_ACCESS_KEY_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x21 || c > 0x7e || c == '/' || c == ',')
            return 0;
    }
    return 1;
}

/* "AK/YYYYMMDD/region/service/aws4_request" -> out. 0, or -1 with detail. */
static int parse_credential(const char *s, size_t n, zkp_sigv4_parsed_t *out, char *detail,
                            size_t dlen)
{
    const char *part[5];
    size_t len[5];
    size_t k = 0, start = 0;
    for (;;) {
        const char *slash = memchr(s + start, '/', n - start);
        size_t end = slash ? (size_t)(slash - s) : n;
        if (k == 5) {
            zkp__detail(detail, dlen, "Credential has more than 5 '/'-separated parts");
            return -1;
        }
        part[k] = s + start;
        len[k++] = end - start;
        if (slash == NULL)
            break;
        start = end + 1;
    }
    if (k != 5) {
        zkp__detail(detail, dlen,
                    "Credential must be access-key/YYYYMMDD/region/service/aws4_request");
        return -1;
    }
    if (!zkp_sigv4_access_key_valid(part[0], len[0])) {
        zkp__detail(detail, dlen,
                    "Credential: the access key id is empty, longer than %d "
                    "bytes or not printable ASCII",
                    ZKP_SIGV4_ACCESS_KEY_MAX);
        return -1;
    }
    char date[ZKP_SIGV4_AMZ_DATE_LEN + 1];
    time_t t;
    if (len[1] != 8 || (memcpy(date, part[1], 8), memcpy(date + 8, "T000000Z", 9),
                        zkp_sigv4_parse_amz_date(date, 16, &t) != 0)) {
        zkp__detail(detail, dlen, "Credential: '%.*s' is not a date of the form YYYYMMDD",
                    (int)(len[1] > 16 ? 16 : len[1]), part[1]);
        return -1;
    }
    if (!zkp__scope_token_ok(part[2], len[2], ZKP_SIGV4_REGION_MAX)) {
        zkp__detail(detail, dlen, "Credential: '%.*s' is not a region name",
                    (int)(len[2] > 64 ? 64 : len[2]), part[2]);
        return -1;
    }
    if (!zkp__scope_token_ok(part[3], len[3], ZKP_SIGV4_SERVICE_MAX)) {
        zkp__detail(detail, dlen, "Credential: '%.*s' is not a service name",
                    (int)(len[3] > 64 ? 64 : len[3]), part[3]);
        return -1;
    }
    if (len[4] != 12 || memcmp(part[4], "aws4_request", 12) != 0) {
        zkp__detail(detail, dlen, "Credential: the terminator '%.*s' must be 'aws4_request'",
                    (int)(len[4] > 32 ? 32 : len[4]), part[4]);
        return -1;
    }
    memcpy(out->access_key, part[0], len[0]);
    out->access_key[len[0]] = '\0';
    memcpy(out->date, part[1], 8);
    out->date[8] = '\0';
    memcpy(out->region, part[2], len[2]);
    out->region[len[2]] = '\0';
    memcpy(out->service, part[3], len[3]);
    out->service[len[3]] = '\0';
    return 0;
}

static int parse_signed_headers(const char *s, size_t n, zkp_sigv4_parsed_t *out, char *detail,
                                size_t dlen)
{
    if (n > ZKP_SIGV4_SIGNED_HEADERS_MAX) {
        zkp__detail(detail, dlen, "SignedHeaders is longer than %d bytes",
                    ZKP_SIGV4_SIGNED_HEADERS_MAX);
        return -1;
    }
    if (!zkp__signed_headers_ok(s, n, detail, dlen))
        return -1;
    memcpy(out->signed_headers, s, n);
    out->signed_headers[n] = '\0';
    return 0;
}

static int parse_signature(const char *s, size_t n, zkp_sigv4_parsed_t *out, char *detail,
                           size_t dlen)
{
    if (!zkp__is_sig_hex(s, n)) {
        zkp__detail(detail, dlen, "Signature must be 64 lowercase hex digits (got %zu bytes)", n);
        return -1;
    }
    memcpy(out->signature, s, n);
    out->signature[n] = '\0';
    return 0;
}

/* Every field empty. Not a memset of the whole: the struct is 4.5 KiB,
 * nearly all of it SignedHeaders' room, and it is initialised on every
 * request (a string is empty once its first byte is NUL; each is written
 * whole, terminator included, when parsed). */
static void parsed_init(zkp_sigv4_parsed_t *out)
{
    out->access_key[0] = '\0';
    memset(out->date, 0, sizeof(out->date));
    out->region[0] = '\0';
    out->service[0] = '\0';
    out->signed_headers[0] = '\0';
    memset(out->signature, 0, sizeof(out->signature));
    memset(out->amz_date, 0, sizeof(out->amz_date));
    out->expires = -1;
}

/* The scheme word of an Authorization value we do not accept, as an
 * error: SigV2 and other algorithms are unsupported, said by name. */
static int unsupported_scheme(const char *s, size_t n, char *detail, size_t dlen)
{
    size_t w = 0;
    while (w < n && s[w] != ' ' && s[w] != '\t')
        w++;
    if (w == 3 && memcmp(s, "AWS", 3) == 0)
        zkp__detail(detail, dlen, "AWS Signature Version 2 is refused: sign with AWS4-HMAC-SHA256");
    else
        zkp__detail(detail, dlen,
                    "the authorization scheme '%.*s' is not supported: sign with "
                    "AWS4-HMAC-SHA256",
                    (int)(w > 40 ? 40 : w), s);
    return ZKP_SIGV4_EUNSUPPORTED;
}

int zkp_sigv4_parse_authorization(const char *value, size_t len, zkp_sigv4_parsed_t *out,
                                  char *detail, size_t detail_len)
{
    if ((value == NULL && len > 0) || out == NULL)
        return ZKP_SIGV4_EINVAL;
    parsed_init(out);
    const char *s = value;
    size_t n = len;
    while (n > 0 && (*s == ' ' || *s == '\t'))
        s++, n--;
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;

    const size_t alen = sizeof(ALGORITHM) - 1;
    if (n < alen || memcmp(s, ALGORITHM, alen) != 0 || (n > alen && s[alen] != ' '))
        return unsupported_scheme(s, n, detail, detail_len);
    size_t i = alen;
    while (i < n && s[i] == ' ')
        i++;
    if (i == alen || i == n) {
        zkp__detail(detail, detail_len, "no Credential, SignedHeaders and Signature after %s",
                    ALGORITHM);
        return ZKP_SIGV4_EHEADER;
    }

    static const char *const names[3] = {"Credential", "SignedHeaders", "Signature"};
    int seen[3] = {0, 0, 0};
    for (;;) {
        const char *eq = memchr(s + i, '=', n - i);
        const char *comma = memchr(s + i, ',', n - i);
        if (eq == NULL || (comma != NULL && comma < eq)) {
            zkp__detail(detail, detail_len,
                        "a component has no '=': expected Credential=..., "
                        "SignedHeaders=..., Signature=...");
            return ZKP_SIGV4_EHEADER;
        }
        size_t klen = (size_t)(eq - (s + i));
        int which = -1;
        for (int k = 0; k < 3; k++)
            if (klen == strlen(names[k]) && memcmp(s + i, names[k], klen) == 0)
                which = k;
        if (which < 0) {
            zkp__detail(detail, detail_len, "unknown component '%.*s'",
                        (int)(klen > 32 ? 32 : klen), s + i);
            return ZKP_SIGV4_EHEADER;
        }
        if (seen[which]++) {
            zkp__detail(detail, detail_len, "%s appears twice", names[which]);
            return ZKP_SIGV4_EHEADER;
        }
        const char *v = eq + 1;
        size_t vlen = comma ? (size_t)(comma - v) : (size_t)(s + n - v);
        int bad = which == 0   ? parse_credential(v, vlen, out, detail, detail_len)
                  : which == 1 ? parse_signed_headers(v, vlen, out, detail, detail_len)
                               : parse_signature(v, vlen, out, detail, detail_len);
        if (bad)
            return ZKP_SIGV4_EHEADER;
        if (comma == NULL)
            break;
        i = (size_t)(comma - s) + 1;
        while (i < n && s[i] == ' ')
            i++;
        if (i == n) {
            zkp__detail(detail, detail_len, "a ',' ends the header");
            return ZKP_SIGV4_EHEADER;
        }
    }
    for (int k = 0; k < 3; k++)
        if (!seen[k]) {
            zkp__detail(detail, detail_len, "%s is missing", names[k]);
            return ZKP_SIGV4_EHEADER;
        }
    return 0;
}

/* Calls fn(name, nlen, raw value, vlen, arg) for each non-empty '&'
 * segment, with the name decoded into a buffer of its own (names longer
 * than 64 decoded bytes, or malformed, are passed as NULL: none of the
 * names looked for is that long). Stops when fn returns non-zero. */
typedef int (*param_fn)(const char *name, size_t nlen, const char *raw, size_t rlen, void *arg);

static int each_param(const char *q, size_t n, param_fn fn, void *arg)
{
    size_t pos = 0;
    zkp__qparam_t qp;
    while (zkp__query_next(q, n, &pos, &qp)) {
        char name[3 * 64 + 1];
        long dn = qp.name_len < sizeof(name) ? zkp__uri_decode(qp.name, qp.name_len, 1, name) : -1;
        int rc = fn(dn < 0 || dn > 64 ? NULL : name, dn < 0 ? 0 : (size_t)dn, qp.value,
                    qp.value_len, arg);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int name_is(const char *name, size_t nlen, const char *want)
{
    return name != NULL && nlen == strlen(want) && memcmp(name, want, nlen) == 0;
}

typedef struct kind_state {
    int v4, v2_key, v2_sig;
} kind_state_t;

static int kind_fn(const char *name, size_t nlen, const char *raw, size_t rlen, void *arg)
{
    kind_state_t *k = arg;
    (void)raw;
    (void)rlen;
    k->v4 |= name_is(name, nlen, "X-Amz-Algorithm") || name_is(name, nlen, "X-Amz-Credential") ||
             name_is(name, nlen, "X-Amz-Signature");
    k->v2_key |= name_is(name, nlen, "AWSAccessKeyId");
    k->v2_sig |= name_is(name, nlen, "Signature");
    return 0;
}

int zkp_sigv4_query_auth_kind(const char *query, size_t len)
{
    if (query == NULL)
        return 0;
    kind_state_t k = {0, 0, 0};
    each_param(query, len, kind_fn, &k);
    if (k.v4)
        return 1;
    return k.v2_key && k.v2_sig ? 2 : 0;
}

enum { P_ALG, P_CRED, P_DATE, P_EXPIRES, P_SH, P_SIG, P_COUNT };
static const char *const presigned_names[P_COUNT] = {
    "X-Amz-Algorithm", "X-Amz-Credential",    "X-Amz-Date",
    "X-Amz-Expires",   "X-Amz-SignedHeaders", "X-Amz-Signature",
};

typedef struct presign_state {
    const char *raw[P_COUNT];
    size_t rlen[P_COUNT];
    int seen[P_COUNT];
    int dup;
} presign_state_t;

static int presign_fn(const char *name, size_t nlen, const char *raw, size_t rlen, void *arg)
{
    presign_state_t *st = arg;
    for (int k = 0; k < P_COUNT; k++) {
        if (!name_is(name, nlen, presigned_names[k]))
            continue;
        if (st->seen[k]++) {
            st->dup = k + 1;
            return 1;
        }
        st->raw[k] = raw;
        st->rlen[k] = rlen;
    }
    return 0;
}

static int parse_expires(const char *s, size_t n, long *out)
{
    if (n == 0 || n > 7)
        return -1;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v < 1 || v > ZKP_SIGV4_PRESIGN_MAX_S)
        return -1;
    *out = v;
    return 0;
}

int zkp_sigv4_parse_presigned(const char *query, size_t len, zkp_sigv4_parsed_t *out, char *detail,
                              size_t detail_len)
{
    if ((query == NULL && len > 0) || out == NULL)
        return ZKP_SIGV4_EINVAL;
    parsed_init(out);
    presign_state_t st;
    memset(&st, 0, sizeof(st));
    each_param(query ? query : "", len, presign_fn, &st);
    if (st.dup) {
        zkp__detail(detail, detail_len, "%s appears twice", presigned_names[st.dup - 1]);
        return ZKP_SIGV4_EQUERY;
    }
    for (int k = 0; k < P_COUNT; k++)
        if (!st.seen[k]) {
            zkp__detail(detail, detail_len, "the query parameter %s is missing",
                        presigned_names[k]);
            return ZKP_SIGV4_EQUERY;
        }
    size_t cap = 0;
    for (int k = 0; k < P_COUNT; k++)
        cap = st.rlen[k] > cap ? st.rlen[k] : cap;
    char *v = malloc(cap + 1);
    if (v == NULL)
        return ZKP_SIGV4_ENOMEM;
    int rc = 0;
    for (int k = 0; k < P_COUNT && rc == 0; k++) {
        long vn = zkp__uri_decode(st.raw[k], st.rlen[k], 1, v);
        if (vn < 0) {
            zkp__detail(detail, detail_len, "%s has a malformed %%-escape", presigned_names[k]);
            rc = ZKP_SIGV4_EQUERY;
            break;
        }
        size_t n = (size_t)vn;
        switch (k) {
        case P_ALG:
            if (n != sizeof(ALGORITHM) - 1 || memcmp(v, ALGORITHM, n) != 0) {
                zkp__detail(detail, detail_len,
                            "X-Amz-Algorithm '%.*s' is not supported: only " ALGORITHM,
                            (int)(n > 40 ? 40 : n), v);
                rc = ZKP_SIGV4_EUNSUPPORTED;
            }
            break;
        case P_CRED:
            if (parse_credential(v, n, out, detail, detail_len) != 0)
                rc = ZKP_SIGV4_EQUERY;
            break;
        case P_DATE: {
            time_t t;
            if (zkp_sigv4_parse_amz_date(v, n, &t) != 0) {
                zkp__detail(detail, detail_len, "X-Amz-Date must be of the form YYYYMMDDTHHMMSSZ");
                rc = ZKP_SIGV4_EQUERY;
            } else {
                memcpy(out->amz_date, v, n);
                out->amz_date[n] = '\0';
            }
            break;
        }
        case P_EXPIRES:
            if (parse_expires(v, n, &out->expires) != 0) {
                zkp__detail(detail, detail_len,
                            "X-Amz-Expires must be a whole number of seconds from 1 to %d",
                            ZKP_SIGV4_PRESIGN_MAX_S);
                rc = ZKP_SIGV4_EQUERY;
            }
            break;
        case P_SH:
            if (parse_signed_headers(v, n, out, detail, detail_len) != 0)
                rc = ZKP_SIGV4_EQUERY;
            break;
        default:
            if (parse_signature(v, n, out, detail, detail_len) != 0)
                rc = ZKP_SIGV4_EQUERY;
            break;
        }
    }
    free(v);
    return rc;
}

int zkp_sigv4_payload_parse(const char *s, size_t len, unsigned char sha256[32])
{
#define TOKEN(text, kind)                                                                          \
    {                                                                                              \
        text, sizeof(text) - 1, kind                                                               \
    }
    static const struct {
        const char *text;
        size_t len;
        zkp_sigv4_payload_t kind;
    } tokens[] = {
        TOKEN("UNSIGNED-PAYLOAD", ZKP_SIGV4_PAYLOAD_UNSIGNED),
        TOKEN("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", ZKP_SIGV4_PAYLOAD_STREAMING),
        TOKEN("STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", ZKP_SIGV4_PAYLOAD_STREAMING_TRAILER),
        TOKEN("STREAMING-UNSIGNED-PAYLOAD-TRAILER", ZKP_SIGV4_PAYLOAD_UNSIGNED_TRAILER),
    };
#undef TOKEN
    if (s == NULL)
        return ZKP_SIGV4_ECONTENTSHA;
    for (size_t k = 0; k < sizeof(tokens) / sizeof(tokens[0]); k++)
        if (len == tokens[k].len && memcmp(s, tokens[k].text, len) == 0)
            return (int)tokens[k].kind;
    if (len != 64)
        return ZKP_SIGV4_ECONTENTSHA;
    unsigned char h[32];
    for (size_t i = 0; i < 32; i++) {
        int hi = zkp__hexval((unsigned char)s[2 * i]);
        int lo = zkp__hexval((unsigned char)s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return ZKP_SIGV4_ECONTENTSHA;
        h[i] = (unsigned char)(hi << 4 | lo);
    }
    if (sha256 != NULL)
        memcpy(sha256, h, 32);
    return ZKP_SIGV4_PAYLOAD_SHA256;
}
