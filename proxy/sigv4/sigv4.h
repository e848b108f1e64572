/* AWS Signature Version 4 for S3: verifying requests (the proxy's side) and
 * signing them (an upstream S3 backend, test clients).
 *
 * What it covers:
 *  - the Authorization header form (AWS4-HMAC-SHA256 Credential=...,
 *    SignedHeaders=..., Signature=...) and the presigned query form
 *    (X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires,
 *    X-Amz-SignedHeaders, X-Amz-Signature);
 *  - the canonical request exactly as S3 defines it (the path is not
 *    normalised and not double-encoded);
 *  - the clock: 15 minutes of skew for the header form, X-Amz-Expires
 *    (1..604800 s) for the presigned form;
 *  - payloads: a hex SHA-256 (an incremental hasher checks the body),
 *    UNSIGNED-PAYLOAD, and aws-chunked streaming with chained chunk
 *    signatures, with or without a signed trailer;
 *  - S3's error codes, one ZKP_SIGV4_E* value per cause.
 *
 * What it refuses: Signature Version 2 ("AWS AKID:signature" and the
 * AWSAccessKeyId/Signature query form), and every algorithm other than
 * AWS4-HMAC-SHA256 (SigV4a's AWS4-ECDSA-P256-SHA256 included): all answer
 * ZKP_SIGV4_EUNSUPPORTED (400 InvalidRequest).
 *
 * The module is pure: no I/O, no sockets, no global state, no knowledge of
 * the HTTP server. The caller hands over a request's parts (method, raw
 * request-target, headers, the current time) in a zkp_sigv4_request_t. The
 * cryptography is OpenSSL's (SHA-256 through EVP_Digest, HMAC-SHA256 through
 * HMAC()); signatures are compared with CRYPTO_memcmp().
 *
 * Return codes: 0 is success; every failure is one of the negative
 * ZKP_SIGV4_E* codes below, and zkp_sigv4_error() turns it into the S3
 * error code, HTTP status and message to answer with.
 */
#ifndef ZKP_SIGV4_H
#define ZKP_SIGV4_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- errors */

/* X(name, value, S3 code, HTTP status, message): the one list behind the
 * enum, zkp_sigv4_error() and zkp_sigv4_err_name(), so they never drift
 * apart. Each value is one cause; several causes share an S3 code where S3
 * itself uses one code for them (AccessDenied). */
#define ZKP_SIGV4_ERRNO_MAP(X)                                                                     \
    X(EANONYMOUS, -1, "AccessDenied", 403,                                                         \
      "Access Denied: the request is not signed, and anonymous requests are refused")              \
    X(EUNSUPPORTED, -2, "InvalidRequest", 400,                                                     \
      "Unsupported authorization type: only AWS Signature Version 4 (AWS4-HMAC-SHA256) is "        \
      "accepted; Signature Version 2 is refused")                                                  \
    X(EAMBIGUOUS, -3, "InvalidArgument", 400,                                                      \
      "Only one auth mechanism allowed: the Authorization header or the X-Amz-Algorithm query "    \
      "parameters, not both")                                                                      \
    X(EHEADER, -4, "AuthorizationHeaderMalformed", 400, "The authorization header is malformed")   \
    X(EQUERY, -5, "AuthorizationQueryParametersError", 400,                                        \
      "The query-string authentication parameters are malformed")                                  \
    X(EMISSINGHDR, -6, "MissingSecurityHeader", 400, "Your request is missing a required header")  \
    X(EDATE, -7, "AccessDenied", 403,                                                              \
      "AWS authentication requires a valid Date or x-amz-date header")                             \
    X(ECONTENTSHA, -8, "InvalidArgument", 400,                                                     \
      "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, "        \
      "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, STREAMING-UNSIGNED-PAYLOAD-TRAILER or a "       \
      "SHA-256 in hex")                                                                            \
    X(EURI, -9, "InvalidURI", 400, "Couldn't parse the specified URI.")                            \
    X(EKEY, -10, "InvalidAccessKeyId", 403,                                                        \
      "The AWS access key Id you provided does not exist in our records.")                         \
    X(ESKEW, -11, "RequestTimeTooSkewed", 403,                                                     \
      "The difference between the request time and the current time is too large.")                \
    X(EEXPIRED, -12, "AccessDenied", 403, "Request has expired")                                   \
    X(ENOTYET, -13, "AccessDenied", 403, "Request is not valid yet")                               \
    X(EUNSIGNED, -14, "AccessDenied", 403,                                                         \
      "There were headers present in the request which were not signed")                           \
    X(ESIGNATURE, -15, "SignatureDoesNotMatch", 403,                                               \
      "The request signature we calculated does not match the signature you provided. Check "      \
      "your key and signing method.")                                                              \
    X(EPAYLOAD, -16, "XAmzContentSHA256Mismatch", 400,                                             \
      "The provided 'x-amz-content-sha256' header does not match what was computed.")              \
    X(EINCOMPLETE, -17, "IncompleteBody", 400,                                                     \
      "The signed aws-chunked body ended before its final chunk (or its signed trailer)")          \
    X(EINVAL, -18, "InternalError", 500, "Invalid argument to the SigV4 module (a bug)")           \
    X(ENOMEM, -19, "InternalError", 500, "Out of memory while checking the signature")             \
    X(ECRYPTO, -20, "InternalError", 500, "The cryptographic library failed")

typedef enum {
    ZKP_SIGV4_OK = 0,
#define ZKP_SIGV4_ERR_ENUM_(name, value, code, status, text) ZKP_SIGV4_##name = (value),
    ZKP_SIGV4_ERRNO_MAP(ZKP_SIGV4_ERR_ENUM_)
#undef ZKP_SIGV4_ERR_ENUM_
} zkp_sigv4_err_t;

/* What to answer for a return code. */
typedef struct zkp_sigv4_error_info {
    const char *code;    /* S3 error code: "SignatureDoesNotMatch", ... */
    int status;          /* HTTP status: 400, 403 or 500 */
    const char *message; /* English sentence for the <Message> element */
} zkp_sigv4_error_info_t;

/* The S3 code, HTTP status and message of `rc`: {"OK", 200, "success"} for
 * 0, {"InternalError", 500, "unknown error"} for a value this module never
 * returns. Static strings. Pure, thread-safe. */
zkp_sigv4_error_info_t zkp_sigv4_error(int rc);

/* "ZKP_SIGV4_ESKEW", ... ("ZKP_SIGV4_OK" for 0, "unknown" otherwise), for
 * logs and test messages. Static strings, thread-safe. */
const char *zkp_sigv4_err_name(int rc);

/* ------------------------------------------------------------- limits */

#define ZKP_SIGV4_ACCESS_KEY_MAX 128 /* bytes of an access key id */
#define ZKP_SIGV4_REGION_MAX 63
#define ZKP_SIGV4_SERVICE_MAX 32
/* "YYYYMMDD/" region "/" service "/aws4_request" */
#define ZKP_SIGV4_SCOPE_MAX (9 + ZKP_SIGV4_REGION_MAX + 1 + ZKP_SIGV4_SERVICE_MAX + 13)
/* The SignedHeaders list (user metadata alone may take 2 KB of names). */
#define ZKP_SIGV4_SIGNED_HEADERS_MAX 4096
#define ZKP_SIGV4_MAX_SKEW_S 900       /* 15 minutes, as S3 */
#define ZKP_SIGV4_PRESIGN_MAX_S 604800 /* 7 days, as S3 */
#define ZKP_SIGV4_AMZ_DATE_LEN 16      /* "20130524T000000Z" */
#define ZKP_SIGV4_SIG_HEX_LEN 64       /* a signature in lowercase hex */

/* ------------------------------------------------------- request parts */

/* One header as received. Need not be NUL-terminated; names compare
 * case-insensitively. */
typedef struct zkp_sigv4_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} zkp_sigv4_header_t;

/* What the verifier needs of a request. Everything is borrowed for the
 * duration of the call. */
typedef struct zkp_sigv4_request {
    const char *method; /* NUL-terminated, as received: "GET", "PUT", ... */
    /* The request-target exactly as received (origin form): the path,
     * optionally '?' and the query; percent-escapes not decoded. */
    const char *target;
    size_t target_len;
    /* Every header of the request, in the order received; a header sent
     * twice appears twice. */
    const zkp_sigv4_header_t *headers;
    size_t n_headers;
    time_t now; /* the server's clock (seconds since the epoch) */
} zkp_sigv4_request_t;

/* ------------------------------------------------------------ payloads */

/* What x-amz-content-sha256 says about the body (for presigned requests:
 * always UNSIGNED). */
typedef enum {
    ZKP_SIGV4_PAYLOAD_UNSIGNED,          /* UNSIGNED-PAYLOAD: the body is not covered */
    ZKP_SIGV4_PAYLOAD_SHA256,            /* a hex SHA-256: check it with zkp_sigv4_body_*() */
    ZKP_SIGV4_PAYLOAD_STREAMING,         /* STREAMING-AWS4-HMAC-SHA256-PAYLOAD */
    ZKP_SIGV4_PAYLOAD_STREAMING_TRAILER, /* STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER */
    ZKP_SIGV4_PAYLOAD_UNSIGNED_TRAILER,  /* STREAMING-UNSIGNED-PAYLOAD-TRAILER: aws-chunked,
                                            unsigned chunks, a checksum trailer */
} zkp_sigv4_payload_t;

/* Classifies an x-amz-content-sha256 value: one of the four literal tokens
 * (case-sensitive), or 64 hex digits (either case), whose bytes go to
 * sha256 (may be NULL). Returns the kind, or ZKP_SIGV4_ECONTENTSHA. Pure. */
int zkp_sigv4_payload_parse(const char *s, size_t len, unsigned char sha256[32]);

/* ------------------------------------------------------------- clock */

/* Parses an ISO 8601 basic UTC timestamp, exactly "YYYYMMDDTHHMMSSZ"
 * (years 1970..9999, real calendar dates, seconds 00..59). Returns 0 and
 * sets *out, or -1 (*out untouched). Pure, thread-safe. */
int zkp_sigv4_parse_amz_date(const char *s, size_t len, time_t *out);

/* Formats t as "YYYYMMDDTHHMMSSZ" into out (17 bytes). Pure. */
void zkp_sigv4_format_amz_date(time_t t, char out[ZKP_SIGV4_AMZ_DATE_LEN + 1]);

/* Checks a request's time against the server's clock `now`.
 *  expires < 0 (Authorization header): the request time must be within
 *    max_skew_s of now, either way: else ZKP_SIGV4_ESKEW.
 *  expires >= 0 (presigned, X-Amz-Expires): ZKP_SIGV4_ENOTYET if the
 *    request time is more than max_skew_s in the future; ZKP_SIGV4_EEXPIRED
 *    if now > request_time + expires (the last valid second is
 *    request_time + expires).
 * The bounds are inclusive: exactly max_skew_s away is accepted. Returns 0
 * or the error. Pure, thread-safe. */
int zkp_sigv4_check_time(time_t request_time, time_t now, long expires, unsigned max_skew_s);

/* ----------------------------------------------------------- parsers */

/* The parts of an Authorization header or of presigned query parameters,
 * syntax-checked but not yet verified. */
typedef struct zkp_sigv4_parsed {
    /* Credential=AK/YYYYMMDD/region/service/aws4_request, split. The access
     * key is 1..128 printable ASCII bytes other than '/' and ','; region
     * and service are [a-z0-9-] (1..63 and 1..32 bytes). The terminator must
     * be "aws4_request" and the date a valid YYYYMMDD; whether region and
     * service are the expected ones is the verifier's check. */
    char access_key[ZKP_SIGV4_ACCESS_KEY_MAX + 1];
    char date[9];
    char region[ZKP_SIGV4_REGION_MAX + 1];
    char service[ZKP_SIGV4_SERVICE_MAX + 1];
    /* SignedHeaders: lowercase names, ';'-separated, strictly ascending (so
     * sorted and without repeats), at most 256 names. */
    char signed_headers[ZKP_SIGV4_SIGNED_HEADERS_MAX + 1];
    char signature[ZKP_SIGV4_SIG_HEX_LEN + 1]; /* 64 lowercase hex digits */
    /* Presigned only (empty / -1 for the header form): */
    char amz_date[ZKP_SIGV4_AMZ_DATE_LEN + 1]; /* X-Amz-Date, well-formed */
    long expires;                              /* X-Amz-Expires, 1..604800 */
} zkp_sigv4_parsed_t;

/* 1 if s[0..n) can be an access key id: 1..128 printable ASCII bytes
 * other than '/' and ',' (what a Credential can carry). Pure. */
int zkp_sigv4_access_key_valid(const char *s, size_t n);

/* Parses an Authorization header value strictly:
 *     AWS4-HMAC-SHA256 SP+ Credential=..., SignedHeaders=..., Signature=...
 * The three components appear once each, in any order, separated by ','
 * and optional spaces; nothing else may appear (leading and trailing
 * spaces and tabs around the whole value are ignored). `value` need not be
 * NUL-terminated.
 * Returns 0 and fills *out; or
 *   ZKP_SIGV4_EUNSUPPORTED  another scheme or algorithm ("AWS AK:sig" is
 *                           SigV2, "AWS4-ECDSA-P256-SHA256" is SigV4a, ...);
 *   ZKP_SIGV4_EHEADER       anything else malformed;
 *   ZKP_SIGV4_EINVAL        NULL argument.
 * On failure, if detail != NULL, a NUL-terminated sentence of at most
 * detail_len bytes names the cause (printable ASCII only: safe to put in
 * an XML or log line once escaped). *out is then unspecified. Pure,
 * thread-safe. */
int zkp_sigv4_parse_authorization(const char *value, size_t len, zkp_sigv4_parsed_t *out,
                                  char *detail, size_t detail_len);

/* 1 if the raw query string (without '?') carries presigned-URL
 * parameters (an X-Amz-Algorithm, X-Amz-Credential or X-Amz-Signature
 * parameter, names case-sensitive as S3 has them), 2 if it carries the
 * SigV2 query form (AWSAccessKeyId and Signature), 0 otherwise. Pure. */
int zkp_sigv4_query_auth_kind(const char *query, size_t len);

/* Parses presigned query parameters from the raw query string (without
 * '?'; percent-escapes are decoded here). X-Amz-Algorithm, -Credential,
 * -Date, -Expires, -SignedHeaders and -Signature must each appear exactly
 * once; other parameters are ignored (they are signed as part of the
 * canonical query). Returns 0 and fills *out; or ZKP_SIGV4_EUNSUPPORTED
 * (algorithm other than AWS4-HMAC-SHA256), ZKP_SIGV4_EQUERY (anything
 * malformed, missing, repeated, or X-Amz-Expires outside 1..604800),
 * ZKP_SIGV4_EINVAL. `detail` as for zkp_sigv4_parse_authorization(). Pure,
 * thread-safe. */
int zkp_sigv4_parse_presigned(const char *query, size_t len, zkp_sigv4_parsed_t *out, char *detail,
                              size_t detail_len);

/* ---------------------------------------------- the canonical request */

/* Builds S3's canonical request:
 *     METHOD \n canonical URI \n canonical query \n canonical headers \n
 *     signed headers \n payload
 *  - canonical URI: the path part of `target` with every escape decoded
 *    and every byte re-encoded as RFC 3986 requires (unreserved
 *    A-Za-z0-9-._~ kept, everything else %XX in uppercase); a literal '/'
 *    stays '/', an escaped %2F stays %2F. Not normalised (no removal of
 *    "." or "//"), not double-encoded. An empty path is "/".
 *  - canonical query: the parameters of the query part, each name and
 *    value decoded ('+' is a space, as the proxy reads queries) and
 *    re-encoded as above ('/' included), "name=value" ("name=" when the
 *    value is empty or absent), sorted by encoded name then value (byte
 *    order), joined by '&'; empty segments ("a=1&&b=2") are skipped. With
 *    presigned != 0, X-Amz-Signature is left out.
 *  - canonical headers: for each name of `signed_headers` (the SignedHeaders
 *    list as sent: lowercase, ';'-separated, strictly ascending), every
 *    request header of that name (case-insensitive), in the order
 *    received, each value with leading and trailing spaces and tabs
 *    removed and every inner run of them made one space, joined by ',':
 *    "name:value\n".
 *  - payload: copied as given.
 * On success returns 0 and sets *out to a NUL-terminated malloc'd string
 * (the caller frees it with free()) and *out_len to its length, which is at
 * most 3 * (target_len + signed_headers_len) + 2 * (the bytes of all header
 * names and values) + payload_len + strlen(method) + 8: bounded by its
 * input. Otherwise *out is NULL and it returns:
 *   ZKP_SIGV4_EURI        a malformed %-escape in the path or query;
 *   ZKP_SIGV4_EHEADER     signed_headers is not a valid list;
 *   ZKP_SIGV4_EMISSINGHDR a signed header is absent from the request;
 *   ZKP_SIGV4_ENOMEM, ZKP_SIGV4_EINVAL (NULL argument).
 * `detail` as for zkp_sigv4_parse_authorization(). Pure, thread-safe. */
int zkp_sigv4_canonical_request(const char *method, const char *target, size_t target_len,
                                int presigned, const zkp_sigv4_header_t *headers, size_t n_headers,
                                const char *signed_headers, size_t signed_headers_len,
                                const char *payload, size_t payload_len, char **out,
                                size_t *out_len, char *detail, size_t detail_len);

/* --------------------------------------------------------- verifying */

/* Copies the secret key of `access_key` (NUL-terminated) into secret
 * (capacity cap) and returns its length (0 < length < cap), or returns -1
 * if the key is unknown. Called from any thread that calls
 * zkp_sigv4_verify(), with no lock of this module held: it must be
 * thread-safe (a credentials reload swaps the table under its own lock).
 * The module wipes its copy of the secret after use. */
typedef int (*zkp_sigv4_lookup_fn)(void *arg, const char *access_key, char *secret, size_t cap);

typedef struct zkp_sigv4_config {
    size_t size;         /* sizeof(zkp_sigv4_config_t), set by zkp_sigv4_config_init() */
    const char *region;  /* the credential scope's region clients must use ("us-east-1") */
    const char *service; /* the scope's service; NULL: "s3" */
    zkp_sigv4_lookup_fn lookup;
    void *lookup_arg;
    unsigned max_skew_s;      /* 0: ZKP_SIGV4_MAX_SKEW_S (15 minutes) */
    unsigned key_cache_slots; /* derived signing keys kept; 0: 64 */
} zkp_sigv4_config_t;

/* Fills *c with the defaults, size included. Call it before setting fields,
 * so fields added later keep their defaults. */
void zkp_sigv4_config_init(zkp_sigv4_config_t *c);

typedef struct zkp_sigv4_verifier zkp_sigv4_verifier_t;

/* Creates a verifier. region and service are copied (region: 1..63 of
 * [a-z0-9-]); lookup is required. Returns 0 and sets *out (free with
 * zkp_sigv4_verifier_free()), ZKP_SIGV4_EINVAL (missing or invalid field,
 * bad size) or ZKP_SIGV4_ENOMEM. */
int zkp_sigv4_verifier_new(const zkp_sigv4_config_t *c, zkp_sigv4_verifier_t **out);

/* Frees the verifier and wipes its cached keys. NULL is a no-op. No other
 * call on it may be running or follow. */
void zkp_sigv4_verifier_free(zkp_sigv4_verifier_t *v);

/* The outcome of zkp_sigv4_verify(). Filled as far as verification got, so
 * that even a failure can be logged with the access key it named. */
typedef struct zkp_sigv4_auth {
    int presigned;                                 /* 1: query form, 0: Authorization header */
    char access_key[ZKP_SIGV4_ACCESS_KEY_MAX + 1]; /* "" if the request named none */
    int key_known;                                 /* 1 once the lookup found the key */
    time_t request_time;                           /* X-Amz-Date (or Date) */
    long expires;                                  /* X-Amz-Expires; -1 for the header form */
    zkp_sigv4_payload_t payload;                   /* what the body must be checked with */
    unsigned char payload_sha256[32];              /* for ZKP_SIGV4_PAYLOAD_SHA256 */
    char amz_date[ZKP_SIGV4_AMZ_DATE_LEN + 1];     /* the date string signed */
    char scope[ZKP_SIGV4_SCOPE_MAX + 1];           /* the credential scope */
    char signature[ZKP_SIGV4_SIG_HEX_LEN + 1];     /* the request's (seed) signature */
    char signed_headers[ZKP_SIGV4_SIGNED_HEADERS_MAX + 1]; /* as sent */
    /* The signing key, so that chunk signatures can be checked
     * (zkp_sigv4_chunks_init()). Secret: zkp_sigv4_auth_clear() wipes it. */
    unsigned char signing_key[32];
    /* Only after ZKP_SIGV4_ESIGNATURE for a known access key: what this
     * side signed, which S3 returns in its error (<CanonicalRequest>,
     * <StringToSign>); the caller decides whether to send them. malloc'd,
     * freed by zkp_sigv4_auth_clear(); NULL otherwise. */
    char *canonical_request;
    char *string_to_sign;
    /* On failure, a sentence naming the cause more precisely than the
     * error's message ("the region 'eu-west-1' is wrong; expecting
     * 'us-east-1'"): printable ASCII, may be empty. */
    char detail[256];
} zkp_sigv4_auth_t;

/* Authenticates one request. Steps, in order, each with its error:
 *  1. the auth form: an Authorization header (exactly one), or presigned
 *     query parameters, not both (EAMBIGUOUS) and not neither
 *     (EANONYMOUS; also for an empty Authorization header); SigV2 and
 *     other algorithms: EUNSUPPORTED;
 *  2. syntax (EHEADER / EQUERY); the scope's region and service must be
 *     the configured ones and its date that of the request time (EHEADER /
 *     EQUERY); the request time is x-amz-date, else a Date header in the
 *     same ISO 8601 basic form (EDATE if neither is valid; a header sent
 *     twice: EHEADER); x-amz-content-sha256 is required for the header
 *     form (EMISSINGHDR) and must be valid (ECONTENTSHA);
 *  3. `host` must be signed, and so must every x-amz-* header present
 *     (EUNSIGNED), except, for the header form, x-amz-date and
 *     x-amz-content-sha256, which the signature covers anyway;
 *  4. the access key must be known (EKEY);
 *  5. the clock (zkp_sigv4_check_time(): ESKEW, ENOTYET, EEXPIRED);
 *  6. the canonical request (EURI, EMISSINGHDR), and the signature,
 *     compared in constant time (ESIGNATURE).
 * Returns 0 when the request is authentic; the body still has to be
 * checked as auth->payload says (zkp_sigv4_body_*() or zkp_sigv4_chunks_*()).
 * Also ZKP_SIGV4_EINVAL, ENOMEM, ECRYPTO. *auth is always initialised: the
 * caller must call zkp_sigv4_auth_clear(auth) after any result.
 * Thread-safe: any number of threads may verify with one verifier. */
int zkp_sigv4_verify(zkp_sigv4_verifier_t *v, const zkp_sigv4_request_t *req,
                     zkp_sigv4_auth_t *auth);

/* A cache of derived signing keys that belongs to its caller rather than
 * to the verifier: for a caller that can give each of its threads one
 * (proxy/auth: one per thread and credentials set), so that verification
 * takes no lock and writes nothing another thread reads.
 *
 * It is keyed by access key id and date, not by secret: a hit calls no
 * lookup. So it may only be used while the verifier's lookup answers the
 * same secret for every access key id it knows (a set of credentials that
 * is never changed in place); free it before that changes. One thread at a
 * time: not thread-safe. Made for one verifier, used with it only, and
 * freed before it. */
typedef struct zkp_sigv4_key_cache zkp_sigv4_key_cache_t;

#define ZKP_SIGV4_KEY_CACHE_SLOTS 16 /* the default: keys (and dates) kept */

/* Makes an empty cache of `slots` keys (0: ZKP_SIGV4_KEY_CACHE_SLOTS) for
 * v. Returns 0 and sets *out (free with zkp_sigv4_key_cache_free()),
 * ZKP_SIGV4_EINVAL (v or out NULL) or ZKP_SIGV4_ENOMEM. */
int zkp_sigv4_key_cache_new(const zkp_sigv4_verifier_t *v, unsigned slots,
                            zkp_sigv4_key_cache_t **out);

/* Frees the cache and wipes its keys. NULL is a no-op. Any thread, once no
 * call uses it. */
void zkp_sigv4_key_cache_free(zkp_sigv4_key_cache_t *c);

/* zkp_sigv4_verify() with the signing key taken from kc (and derived into
 * it on a miss) instead of from the verifier's own cache; kc NULL: exactly
 * zkp_sigv4_verify(). Same steps, results and errors; EINVAL also if kc was
 * made for another verifier. Thread-safe as to v; kc is the caller's
 * thread's alone for the call. */
int zkp_sigv4_verify_cached(zkp_sigv4_verifier_t *v, zkp_sigv4_key_cache_t *kc,
                            const zkp_sigv4_request_t *req, zkp_sigv4_auth_t *auth);

/* 1 if `name` (NUL-terminated, any case) is in auth->signed_headers, else
 * 0. For the caller's own rules, e.g. that a fencing header was signed.
 * Pure. */
int zkp_sigv4_auth_signed(const zkp_sigv4_auth_t *auth, const char *name);

/* Frees canonical_request and string_to_sign and wipes the signing key.
 * Safe on a zeroed struct and on one already cleared; NULL is a no-op. */
void zkp_sigv4_auth_clear(zkp_sigv4_auth_t *auth);

/* ------------------------------------------------------- body checks */

/* Incremental SHA-256 of a body whose x-amz-content-sha256 is a hash.
 * Owned by the caller; one thread at a time. The hash state is made at the
 * first body byte: a request without a body (a GET) costs none. */
typedef struct zkp_sigv4_body {
    int started; /* zkp_sigv4_body_init() done, not yet finished or cleared */
    void *md;    /* EVP_MD_CTX, owned; NULL until the first byte */
    unsigned char expect[32];
} zkp_sigv4_body_t;

/* Starts hashing; expect is auth->payload_sha256. Returns 0, or EINVAL for
 * a NULL argument (then nothing to clear). Allocates nothing. */
int zkp_sigv4_body_init(zkp_sigv4_body_t *b, const unsigned char expect[32]);
/* Feeds body bytes. Returns 0, ENOMEM (the hash state, at the first
 * byte), ECRYPTO, or EINVAL if not initialised. */
int zkp_sigv4_body_update(zkp_sigv4_body_t *b, const void *data, size_t len);
/* At the end of the body: 0 if the hash matches, ZKP_SIGV4_EPAYLOAD if not,
 * ECRYPTO; EINVAL if not initialised (or already finished). Frees the hash
 * state either way (clear is then a no-op). */
int zkp_sigv4_body_finish(zkp_sigv4_body_t *b);
/* Frees the state without a verdict (body abandoned). Idempotent; safe on a
 * zeroed struct. */
void zkp_sigv4_body_clear(zkp_sigv4_body_t *b);

/* Chained chunk signatures of an aws-chunked body, for both sides: the
 * verifier checks each chunk's signature, the signer produces them. Each
 * chunk's signature is
 *     HMAC(signing key, "AWS4-HMAC-SHA256-PAYLOAD\n" date "\n" scope "\n"
 *          previous signature "\n" SHA-256("") "\n" SHA-256(chunk data))
 * in hex, chained from the request's (seed) signature; the last chunk has
 * no data. A signed trailer follows it in the -TRAILER form:
 *     HMAC(key, "AWS4-HMAC-SHA256-TRAILER\n" date "\n" scope "\n"
 *          previous signature "\n" SHA-256(trailer lines, each "name:value\n"))
 * Owned by the caller; one thread at a time; zkp_sigv4_chunks_clear() after
 * use. */
typedef struct zkp_sigv4_chunks {
    unsigned char key[32];
    char amz_date[ZKP_SIGV4_AMZ_DATE_LEN + 1];
    char scope[ZKP_SIGV4_SCOPE_MAX + 1];
    char prev[ZKP_SIGV4_SIG_HEX_LEN + 1];   /* the signature the next one chains from */
    char expect[ZKP_SIGV4_SIG_HEX_LEN + 1]; /* verifier: the current chunk's claimed signature */
    void *md;                               /* EVP_MD_CTX of the current chunk or trailer */
    uint64_t chunk_len;                     /* data bytes of the current chunk so far */
    int state;                              /* internal */
    int trailer;                            /* 1: a signed trailer must follow the last chunk */
} zkp_sigv4_chunks_t;

/* Verifier: starts checking the body of a request that zkp_sigv4_verify()
 * accepted with payload STREAMING or STREAMING_TRAILER (else EINVAL).
 * Copies what it needs from auth. Returns 0, EINVAL, ENOMEM, ECRYPTO. */
int zkp_sigv4_chunks_init(zkp_sigv4_chunks_t *c, const zkp_sigv4_auth_t *auth);

/* Verifier: a chunk begins; sig is the text after ";chunk-signature=" of
 * its size line. Returns 0, ESIGNATURE if the chunk may not come now
 * (inside another, after the last one, after a failure) or sig is not 64
 * lowercase hex digits, EINVAL if c was not initialised. */
int zkp_sigv4_chunk_begin(zkp_sigv4_chunks_t *c, const char *sig, size_t sig_len);

/* Verifier and signer: feeds data of the current chunk, in any number of
 * pieces. Returns 0, EINVAL (no chunk begun) or ECRYPTO. */
int zkp_sigv4_chunk_data(zkp_sigv4_chunks_t *c, const void *data, size_t len);

/* Verifier: the current chunk's data is complete. Returns 0 if its
 * signature matches (compared in constant time), ESIGNATURE if not,
 * ECRYPTO, EINVAL if no chunk was begun. A chunk without data is the last one. After any
 * ESIGNATURE the object stays failed: every later call fails too. */
int zkp_sigv4_chunk_end(zkp_sigv4_chunks_t *c);

/* Verifier: one trailer line after the last chunk, without its CRLF
 * ("x-amz-checksum-crc32c:sOO8/Q=="). The line "x-amz-trailer-signature:
 * <hex>" closes the trailer and is checked against the lines before it
 * (0 or ESIGNATURE). Any trailer line of a body without a signed trailer,
 * before the last chunk, or after the signature: ESIGNATURE (it would be
 * data nobody signed). */
int zkp_sigv4_chunks_trailer(zkp_sigv4_chunks_t *c, const char *line, size_t len);

/* Verifier: the body ended. 0 if the last chunk (and, for the trailer form,
 * the trailer signature) was verified; EINCOMPLETE if the body stopped
 * short; ESIGNATURE if a check failed before; EINVAL if c was not
 * initialised. */
int zkp_sigv4_chunks_finish(const zkp_sigv4_chunks_t *c);

/* Wipes the key and frees the hash state. Idempotent; safe on a zeroed
 * struct. */
void zkp_sigv4_chunks_clear(zkp_sigv4_chunks_t *c);

/* ------------------------------------------------------------ signing */

/* Credentials and scope of a signer. Borrowed for the call. */
typedef struct zkp_sigv4_creds {
    const char *access_key;
    const char *secret_key;
    const char *region;
    const char *service; /* NULL: "s3" */
} zkp_sigv4_creds_t;

typedef struct zkp_sigv4_sign_req {
    const char *method;
    /* The path as it will be sent, percent-encoded (e.g. "/bucket/a%20b"):
     * starts with '/', no '?'. It is canonicalised exactly as the verifier
     * does. */
    const char *path;
    const char *query; /* as it will be sent, without '?'; NULL or "" for none */
    /* The headers to sign and send, host included (required). Not
     * x-amz-date, x-amz-content-sha256 or authorization: the signer makes
     * those. */
    const zkp_sigv4_header_t *headers;
    size_t n_headers;
    /* The body's hex SHA-256, or one of the literal payload tokens; NULL:
     * "UNSIGNED-PAYLOAD". Ignored by zkp_sigv4_presign() (always
     * UNSIGNED-PAYLOAD). */
    const char *payload_hash;
    time_t when; /* the signing time */
} zkp_sigv4_sign_req_t;

/* A signer's output. Owned by the caller; zkp_sigv4_signed_clear() frees
 * the heap strings. */
typedef struct zkp_sigv4_signed {
    char amz_date[ZKP_SIGV4_AMZ_DATE_LEN + 1]; /* send as x-amz-date (header form) */
    char content_sha256[65];                   /* send as x-amz-content-sha256 (header form) */
    char signature[ZKP_SIGV4_SIG_HEX_LEN + 1];
    char *authorization; /* header form: the Authorization value; else NULL */
    char *query;         /* presigned: the whole query to send (without '?'); else NULL */
} zkp_sigv4_signed_t;

/* Signs a request for the Authorization header form. The signed headers
 * are the given ones plus x-amz-content-sha256 and x-amz-date, whose values
 * the caller must send as out->content_sha256 and out->amz_date. Returns 0
 * (out filled), ZKP_SIGV4_EINVAL (missing field, path not starting with
 * '/' or holding a '?', no host header, a reserved header given, a header
 * name that is not an HTTP token, bad payload token, credentials out of
 * their limits), EURI (bad escape in path or query), ENOMEM, ECRYPTO;
 * *out is zeroed on failure. Pure, thread-safe.
 * Invariant (checked by the fuzz target): a request sent as signed here,
 * with the three headers added, passes zkp_sigv4_verify() at time `when`
 * with the same credentials, unless its query carries authentication
 * parameters of its own. */
int zkp_sigv4_sign(const zkp_sigv4_creds_t *c, const zkp_sigv4_sign_req_t *r,
                   zkp_sigv4_signed_t *out);

/* Presigns a request: out->query is r->query (if any) followed by the
 * X-Amz-Algorithm, -Credential, -Date, -Expires, -SignedHeaders and
 * -Signature parameters; the URL to use is path "?" out->query. Signed
 * headers: the given ones (host at least). expires_s: 1..604800 (else
 * EINVAL, as is a query that already carries X-Amz-Algorithm, -Credential
 * or -Signature). Returns as zkp_sigv4_sign(). */
int zkp_sigv4_presign(const zkp_sigv4_creds_t *c, const zkp_sigv4_sign_req_t *r, unsigned expires_s,
                      zkp_sigv4_signed_t *out);

/* Frees out->authorization and out->query. Idempotent; NULL is a no-op. */
void zkp_sigv4_signed_clear(zkp_sigv4_signed_t *s);

/* Signer of an aws-chunked body (as SDKs send it): seed is the request's
 * signature (zkp_sigv4_sign() with payload_hash
 * "STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]"), when its signing time.
 * Then, per chunk: zkp_sigv4_chunk_data() (any number of pieces) and
 * zkp_sigv4_chunk_sign(); the last chunk has no data; then, for the
 * trailer form, zkp_sigv4_trailer_sign(). Returns 0, EINVAL, ENOMEM,
 * ECRYPTO. */
int zkp_sigv4_chunk_signer_init(zkp_sigv4_chunks_t *c, const zkp_sigv4_creds_t *cr, time_t when,
                                const char *seed);
/* Signs the chunk fed so far into out (64 hex digits and NUL) and starts
 * the next one. Returns 0, EINVAL (signer not initialised or finished),
 * ECRYPTO. */
int zkp_sigv4_chunk_sign(zkp_sigv4_chunks_t *c, char out[ZKP_SIGV4_SIG_HEX_LEN + 1]);
/* Signs the trailer lines (each "name:value\n", concatenated) after the
 * last chunk. Returns 0, EINVAL (no last chunk yet), ECRYPTO. */
int zkp_sigv4_trailer_sign(zkp_sigv4_chunks_t *c, const char *lines, size_t len,
                           char out[ZKP_SIGV4_SIG_HEX_LEN + 1]);

#ifdef __cplusplus
}
#endif

#endif
