/* Preconditions of a request on one object, as S3 applies them (RFC 7232):
 * If-Match, If-None-Match, If-Modified-Since and If-Unmodified-Since, or
 * the same four as x-amz-copy-source-if-* on a CopyObject's source.
 *
 * A backend receives them with the operation they guard (backend.h:
 * put_commit for a write's own, copy_begin for a copy's source) and checks
 * them where it serialises that operation, so that the check and the
 * write are one atomic step: the local-files backend under the bucket
 * mutex, around the rename; an upstream S3 backend forwards the raw
 * values with its commit and lets the upstream check them. The functions
 * here are the check itself: pure (no I/O, no allocation), so that any
 * backend (multipart complete included) can call them under its own lock.
 *
 * Parsing is lenient where S3 is: an entity tag may come quoted ("abc"),
 * unquoted (abc) or weak (W/"abc"), alone or in a comma-separated list, or
 * be "*"; a value that is no entity tag simply matches nothing. A date that
 * does not parse as an HTTP-date (util/textutil.h) is ignored, as is an
 * If-Modified-Since later than now (RFC 7232 3.3). */
#ifndef ZKP_COND_H
#define ZKP_COND_H

#include <time.h>

/* The raw header values, NULL when absent. Borrowed: the strings live as
 * long as the request (a backend that defers its commit copies them). */
typedef struct zkp_cond {
    const char *if_match;
    const char *if_none_match;
    const char *if_modified_since;
    const char *if_unmodified_since;
} zkp_cond_t;

typedef enum {
    ZKP_COND_PASS = 0,     /* go on */
    ZKP_COND_NOT_MODIFIED, /* a read: 304 Not Modified (a copy source: 412) */
    ZKP_COND_FAILED,       /* 412 PreconditionFailed */
    ZKP_COND_NO_OBJECT,    /* a write's If-Match and no object: 404 NoSuchKey, as S3 */
} zkp_cond_result_t;

/* 1 if c is NULL or has no header at all. */
int zkp_cond_none(const zkp_cond_t *c);

/* 1 if `etag` (the object's, unquoted) is one of the entity tags of
 * `list` (a header value), or list is "*" (or holds "*"). With weak == 0
 * (If-Match: strong comparison) a weak tag W/"..." never matches; with
 * weak != 0 (If-None-Match) it matches its opaque part. 0 for NULL. */
int zkp_etag_list_match(const char *list, const char *etag, int weak);

/* A read of an existing object (GetObject, HeadObject, a copy's source),
 * in RFC 7232's order (section 6), which is S3's: If-Match, else
 * If-Unmodified-Since (FAILED); then If-None-Match, else If-Modified-Since
 * (NOT_MODIFIED). So If-Match true with If-Unmodified-Since false passes,
 * and If-None-Match false with If-Modified-Since true is NOT_MODIFIED.
 * *failed (may be NULL) names the header that decided a refusal. */
zkp_cond_result_t zkp_cond_check_read(const zkp_cond_t *c, const char *etag, time_t mtime,
                                      const char **failed);

/* A write (PutObject, CopyObject's destination, multipart complete) over
 * the key's current object, if `exists` (then `etag` is its ETag):
 * If-Match needs the object and a matching tag (NO_OBJECT / FAILED),
 * If-None-Match needs no matching object ("*": no object at all). The dates
 * play no part in a write, as in S3. *failed as above. */
zkp_cond_result_t zkp_cond_check_write(const zkp_cond_t *c, int exists, const char *etag,
                                       const char **failed);

#endif
