/* The checks of a request head that libmicrohttpd 0.9.75 does not make
 * (http/headcheck.c). Pure functions over the headers as received (a
 * header sent twice appears twice), run by the server before anything of
 * the request is acted on.
 *
 *  - Framing (before classification): Content-Length at most once,
 *    Transfer-Encoding at most once and only "chunked", never both, and
 *    the head within max_header_bytes. libmicrohttpd uses the first
 *    Content-Length and reads what follows it as the next request: with two
 *    that disagree, the body of one is a second, smuggled request. These
 *    answers close the connection: after them, where the next request
 *    starts cannot be known.
 *  - Headers (after classification): the headers whose value decides what
 *    the request does may appear once (the fencing headers in both forms,
 *    Host, Authorization, x-amz-date, x-amz-content-sha256, Content-MD5,
 *    Range, x-amz-copy-source, the feature headers below, ...; every
 *    x-amz-meta-* and x-amz-checksum-* name): with two, which one counts
 *    would be a guess. And user metadata
 *    (x-amz-meta-*, names without the prefix plus values; the fencing
 *    entries are not stored and do not count) is at most 2 KB, as in S3. */
#ifndef ZKP_HEADCHECK_H
#define ZKP_HEADCHECK_H

#include <stddef.h>

#include "sigv4/sigv4.h" /* zkp_sigv4_header_t: one header as received */

#define ZKP_USER_METADATA_MAX 2048 /* bytes, as S3 */
#define ZKP_S3_OWNER_ID "zkfence"  /* every bucket's owner, as listings name it */

typedef struct zkp_head_verdict {
    int status;       /* 0: fine; else the HTTP status to answer */
    const char *code; /* S3 error code (static) */
    char msg[192];
    int close; /* close the connection after the answer */
} zkp_head_verdict_t;

/* Framing and size. head_bytes: the request line's method and target
 * lengths (the headers are counted here). Returns 0, or -1 with *v set. */
int zkp_head_check_framing(const zkp_sigv4_header_t *h, size_t n, size_t line_bytes,
                           size_t max_head_bytes, zkp_head_verdict_t *v);

/* Repeated single-valued headers; user metadata size when stores_metadata.
 * Returns 0, or -1 with *v set. */
int zkp_head_check_headers(const zkp_sigv4_header_t *h, size_t n, int stores_metadata,
                           zkp_head_verdict_t *v);

/* Headers that ask for a feature this proxy does not have, refused rather
 * than ignored (ignored, the client would believe it had the feature):
 * SSE-C on any request (501); an expected bucket owner other than
 * ZKP_S3_OWNER_ID on any request (403 AccessDenied, as S3); on a request that creates an object
 * (creates_object: PutObject, CopyObject, CreateMultipartUpload):
 * server-side encryption (501; an unknown value 400 InvalidArgument), a
 * storage class other than STANDARD (501; unknown: 400
 * InvalidStorageClass), Object Lock retention or legal hold (400
 * InvalidRequest, as S3 answers for a bucket without Object Lock), tags
 * (501), ACLs beyond the owner's (400 AccessControlListNotSupported, as S3
 * with ACLs disabled); on CreateBucket (creates_bucket), Object Lock (501).
 * Returns 0, or -1 with *v set. */
int zkp_head_check_features(const zkp_sigv4_header_t *h, size_t n, int creates_object,
                            int creates_bucket, zkp_head_verdict_t *v);

#endif
