/* Request-head checks (see http/headcheck.h). */
#include "http/headcheck.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static int name_is(const zkp_sigv4_header_t *h, const char *name)
{
    size_t n = strlen(name);
    return h->name_len == n && strncasecmp(h->name, name, n) == 0;
}

static int name_has_prefix(const zkp_sigv4_header_t *h, const char *prefix)
{
    size_t n = strlen(prefix);
    return h->name_len >= n && strncasecmp(h->name, prefix, n) == 0;
}

static size_t count(const zkp_sigv4_header_t *h, size_t n, const char *name)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += name_is(&h[i], name);
    return c;
}

__attribute__((format(printf, 5, 6))) static int
verdict(zkp_head_verdict_t *v, int status, const char *code, int close, const char *fmt, ...)
{
    v->status = status;
    v->code = code;
    v->close = close;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->msg, sizeof(v->msg), fmt, ap);
    va_end(ap);
    return -1;
}

/* "chunked", alone, any case, optional spaces around. */
static int te_is_chunked(const char *s, size_t n)
{
    while (n > 0 && (*s == ' ' || *s == '\t'))
        s++, n--;
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    return n == 7 && strncasecmp(s, "chunked", 7) == 0;
}

int zkp_head_check_framing(const zkp_sigv4_header_t *h, size_t n, size_t line_bytes,
                           size_t max_head_bytes, zkp_head_verdict_t *v)
{
    memset(v, 0, sizeof(*v));
    size_t total = line_bytes + 12; /* " HTTP/1.1\r\n" and the final CRLF, about */
    for (size_t i = 0; i < n; i++)
        total += h[i].name_len + h[i].value_len + 4; /* ": " and CRLF */
    if (total > max_head_bytes)
        return verdict(v, 431, "RequestHeaderSectionTooLarge", 0,
                       "Your request's headers exceed the maximum allowed size (%zu bytes)",
                       max_head_bytes);
    size_t cl = count(h, n, "content-length"), te = count(h, n, "transfer-encoding");
    if (cl > 1)
        return verdict(v, 400, "InvalidRequest", 1,
                       "The %s header appears %zu times: where the body ends cannot be told",
                       "Content-Length", cl);
    if (te > 1)
        return verdict(v, 400, "InvalidRequest", 1,
                       "The %s header appears %zu times: where the body ends cannot be told",
                       "Transfer-Encoding", te);
    if (cl == 1 && te == 1)
        return verdict(v, 400, "InvalidRequest", 1,
                       "Content-Length together with Transfer-Encoding: where the body ends "
                       "cannot be told");
    for (size_t i = 0; te == 1 && i < n; i++)
        if (name_is(&h[i], "transfer-encoding") && !te_is_chunked(h[i].value, h[i].value_len))
            return verdict(v, 501, "NotImplemented", 1,
                           "A Transfer-Encoding other than chunked is not implemented");
    return 0;
}

/* Headers whose value decides what a request does: one each. The fencing
 * ones get the fencing error codes. */
static const struct {
    const char *name;
    const char *code;
} single[] = {
    {"x-fencing-lock", "InvalidFencingLock"},
    {"x-fencing-token", "InvalidFencingToken"},
    {"x-amz-meta-fencing-lock", "InvalidFencingLock"},
    {"x-amz-meta-fencing-token", "InvalidFencingToken"},
    {"host", "InvalidArgument"},
    {"authorization", "InvalidArgument"},
    {"x-amz-date", "InvalidArgument"},
    {"x-amz-content-sha256", "InvalidArgument"},
    {"x-amz-decoded-content-length", "InvalidArgument"},
    {"x-amz-trailer", "InvalidArgument"},
    {"content-md5", "InvalidArgument"},
    {"range", "InvalidArgument"},
    {"x-amz-copy-source", "InvalidArgument"},
    {"x-amz-metadata-directive", "InvalidArgument"},
    /* judged by zkp_head_check_features: one value each */
    {"x-amz-server-side-encryption", "InvalidArgument"},
    {"x-amz-storage-class", "InvalidArgument"},
    {"x-amz-acl", "InvalidArgument"},
    {"x-amz-tagging", "InvalidArgument"},
    {"x-amz-tagging-directive", "InvalidArgument"},
    {"x-amz-object-lock-mode", "InvalidArgument"},
    {"x-amz-object-lock-retain-until-date", "InvalidArgument"},
    {"x-amz-object-lock-legal-hold", "InvalidArgument"},
    {"x-amz-bucket-object-lock-enabled", "InvalidArgument"},
    {"x-amz-expected-bucket-owner", "InvalidArgument"},
    {"x-amz-source-expected-bucket-owner", "InvalidArgument"},
};

/* 1 if an earlier header has h's name. */
static int seen_before(const zkp_sigv4_header_t *all, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (all[j].name_len == all[i].name_len &&
            strncasecmp(all[j].name, all[i].name, all[i].name_len) == 0)
            return 1;
    return 0;
}

static int is_fencing_meta(const zkp_sigv4_header_t *h)
{
    return name_is(h, "x-amz-meta-fencing-lock") || name_is(h, "x-amz-meta-fencing-token");
}

int zkp_head_check_headers(const zkp_sigv4_header_t *h, size_t n, int stores_metadata,
                           zkp_head_verdict_t *v)
{
    memset(v, 0, sizeof(*v));
    for (size_t k = 0; k < sizeof(single) / sizeof(single[0]); k++) {
        size_t c = count(h, n, single[k].name);
        if (c > 1)
            return verdict(v, 400, single[k].code, 0,
                           "The %s header appears %zu times: which one is meant cannot be told",
                           single[k].name, c);
    }
    size_t meta = 0;
    for (size_t i = 0; i < n; i++) {
        int is_meta = name_has_prefix(&h[i], "x-amz-meta-");
        if (!is_meta && !name_has_prefix(&h[i], "x-amz-checksum-"))
            continue;
        if (seen_before(h, i)) {
            char name[80];
            snprintf(name, sizeof(name), "%.*s", (int)(h[i].name_len > 64 ? 64 : h[i].name_len),
                     h[i].name);
            return verdict(v, 400, "InvalidArgument", 0,
                           "The %s header appears more than once: which one is meant cannot be "
                           "told",
                           name);
        }
        if (is_meta && !is_fencing_meta(&h[i]))
            meta += h[i].name_len - 11 + h[i].value_len;
    }
    if (stores_metadata && meta > ZKP_USER_METADATA_MAX)
        return verdict(v, 400, "MetadataTooLarge", 0,
                       "Your metadata headers exceed the maximum allowed metadata size (%zu bytes "
                       "of names and values, at most %d)",
                       meta, ZKP_USER_METADATA_MAX);
    return 0;
}

/* --- features this proxy does not have ------------------------------------------------ */

static const zkp_sigv4_header_t *find(const zkp_sigv4_header_t *h, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (name_is(&h[i], name))
            return &h[i];
    return NULL;
}

static int value_is(const zkp_sigv4_header_t *h, const char *v)
{
    size_t n = strlen(v);
    return h->value_len == n && strncmp(h->value, v, n) == 0;
}

static int value_in(const zkp_sigv4_header_t *h, const char *const *set)
{
    for (; *set != NULL; set++)
        if (value_is(h, *set))
            return 1;
    return 0;
}

static const char *const storage_classes[] = {"STANDARD",
                                              "REDUCED_REDUNDANCY",
                                              "STANDARD_IA",
                                              "ONEZONE_IA",
                                              "INTELLIGENT_TIERING",
                                              "GLACIER",
                                              "DEEP_ARCHIVE",
                                              "OUTPOSTS",
                                              "GLACIER_IR",
                                              "SNOW",
                                              "EXPRESS_ONEZONE",
                                              NULL};
static const char *const sse_values[] = {"AES256", "aws:kms", "aws:kms:dsse", NULL};
/* The canned ACLs that grant nothing beyond the owner, which is all there
 * is here (S3's own default, with ACLs disabled, accepts these two). */
static const char *const owner_acls[] = {"private", "bucket-owner-full-control", NULL};

/* A header naming a feature this proxy does not have: 400 bad_code when the
 * value is none of S3's (valid), else 501. */
static int unimplemented_value(const zkp_sigv4_header_t *x, const char *const *valid,
                               const char *bad_code, const char *bad_msg, const char *msg,
                               zkp_head_verdict_t *v)
{
    if (!value_in(x, valid))
        return verdict(v, 400, bad_code, 0, "%s", bad_msg);
    return verdict(v, 501, "NotImplemented", 0, "%s", msg);
}

int zkp_head_check_features(const zkp_sigv4_header_t *h, size_t n, int creates_object,
                            int creates_bucket, zkp_head_verdict_t *v)
{
    memset(v, 0, sizeof(*v));
    for (size_t i = 0; i < n; i++)
        if (name_has_prefix(&h[i], "x-amz-server-side-encryption-customer-") ||
            name_has_prefix(&h[i], "x-amz-copy-source-server-side-encryption-customer-"))
            return verdict(v, 501, "NotImplemented", 0,
                           "Server-side encryption with customer-provided keys (SSE-C) is not "
                           "implemented: objects are stored as sent");
    const zkp_sigv4_header_t *x;
    static const char *const owner_headers[] = {"x-amz-expected-bucket-owner",
                                                "x-amz-source-expected-bucket-owner"};
    for (size_t k = 0; k < 2; k++)
        if ((x = find(h, n, owner_headers[k])) != NULL && !value_is(x, ZKP_S3_OWNER_ID))
            return verdict(v, 403, "AccessDenied", 0,
                           "The bucket's owner is %s, not the one %s names", ZKP_S3_OWNER_ID,
                           owner_headers[k]);
    if (creates_bucket && (x = find(h, n, "x-amz-bucket-object-lock-enabled")) != NULL &&
        x->value_len == 4 && strncasecmp(x->value, "true", 4) == 0)
        return verdict(v, 501, "NotImplemented", 0,
                       "Object Lock is not implemented: a bucket cannot be made with it");
    if (!creates_object)
        return 0;
    if ((x = find(h, n, "x-amz-server-side-encryption")) != NULL)
        return unimplemented_value(x, sse_values, "InvalidArgument",
                                   "The x-amz-server-side-encryption header must be AES256, "
                                   "aws:kms or aws:kms:dsse",
                                   "Server-side encryption is not implemented: objects are "
                                   "stored as sent (encrypt the disk, or the upstream bucket)",
                                   v);
    for (size_t i = 0; i < n; i++)
        if (name_has_prefix(&h[i], "x-amz-server-side-encryption-"))
            return verdict(v, 501, "NotImplemented", 0,
                           "Server-side encryption is not implemented: objects are stored as sent");
    if ((x = find(h, n, "x-amz-storage-class")) != NULL && !value_is(x, "STANDARD"))
        return unimplemented_value(x, storage_classes, "InvalidStorageClass",
                                   "The storage class you specified is not valid",
                                   "Only the STANDARD storage class is implemented: every object "
                                   "is stored alike",
                                   v);
    if (find(h, n, "x-amz-object-lock-mode") != NULL ||
        find(h, n, "x-amz-object-lock-retain-until-date") != NULL ||
        find(h, n, "x-amz-object-lock-legal-hold") != NULL)
        return verdict(v, 400, "InvalidRequest", 0,
                       "Bucket is missing Object Lock Configuration (Object Lock is not "
                       "implemented)");
    if (find(h, n, "x-amz-tagging") != NULL ||
        ((x = find(h, n, "x-amz-tagging-directive")) != NULL && !value_is(x, "COPY")))
        return verdict(v, 501, "NotImplemented", 0,
                       "Object tagging is not implemented: the tags would be lost");
    if ((x = find(h, n, "x-amz-acl")) != NULL && !value_in(x, owner_acls))
        return verdict(v, 400, "AccessControlListNotSupported", 0,
                       "The bucket does not allow ACLs: only private and "
                       "bucket-owner-full-control are accepted");
    for (size_t i = 0; i < n; i++)
        if (name_has_prefix(&h[i], "x-amz-grant-"))
            return verdict(v, 400, "AccessControlListNotSupported", 0,
                           "The bucket does not allow ACLs: grants are not accepted");
    return 0;
}
