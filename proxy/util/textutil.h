/* Small text codecs the S3 front needs: percent-decoding of paths and query
 * values, percent-encoding for encoding-type=url listings, hex, base64 (for
 * Content-MD5), HTTP and ISO 8601 dates, and S3's bucket naming rules (the
 * classifier, the configuration and the local-files backend all apply
 * them). Pure functions, no allocation unless stated. */
#ifndef ZKP_TEXTUTIL_H
#define ZKP_TEXTUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Decodes %XX escapes of s[0..len) into out (capacity >= len + 1, result is
 * NUL-terminated; it may contain NUL bytes, so use *outlen). With
 * plus_is_space, '+' becomes ' ' (query strings). Returns -1 on a malformed
 * escape, 0 otherwise. */
int zkp_pct_decode(const char *s, size_t len, int plus_is_space, char *out, size_t *outlen);

/* Percent-encodes every byte outside RFC 3986 unreserved characters, except
 * '/' when keep_slash. out needs 3 * len + 1 bytes. Returns the length. */
size_t zkp_pct_encode(const char *s, size_t len, int keep_slash, char *out);

void zkp_hex_encode(const unsigned char *in, size_t len, char *out); /* out: 2*len+1 */
/* Returns the decoded length, or -1 if s is not even-length lowercase or
 * uppercase hex fitting in cap bytes. */
long zkp_hex_decode(const char *s, size_t len, unsigned char *out, size_t cap);

/* Strict base64 (RFC 4648, padding required). Returns the decoded length or
 * -1 if malformed or longer than cap. */
long zkp_base64_decode(const char *s, size_t len, unsigned char *out, size_t cap);

/* "Sun, 06 Nov 1994 08:49:37 GMT"; out needs 30 bytes. */
void zkp_http_date(time_t t, char *out, size_t cap);
/* Parses an HTTP-date (RFC 7231 7.1.1.1) in any of its three forms:
 * IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", the obsolete RFC 850
 * "Sunday, 06-Nov-94 08:49:37 GMT" (two-digit years 70..99 are 19xx, 00..69
 * 20xx) and asctime "Sun Nov  6 08:49:37 1994"; leading and trailing
 * spaces and tabs are allowed, nothing else. Names are matched exactly
 * (not by locale); fields are range-checked (a day beyond its month, hour
 * 24 or second 61 are refused; second 60 is taken as a leap second).
 * Returns 0 and sets *out (seconds since the epoch, UTC), or -1. */
int zkp_http_date_parse(const char *s, time_t *out);
/* "2024-01-31T12:00:00.000Z"; out needs 25 bytes. */
void zkp_iso8601(time_t t, char *out, size_t cap);

/* 1 if s[0..len) is well-formed UTF-8 (no overlongs, no surrogates). */
int zkp_utf8_valid(const char *s, size_t len);

/* Case-insensitive ASCII prefix test. */
int zkp_has_prefix_ci(const char *s, const char *prefix);

#define ZKP_BUCKET_MAX 63

/* S3 bucket naming rules: 3..63 of [a-z0-9.-], starting and ending with a
 * letter or digit, no "..". Returns 1 if valid. */
int zkp_bucket_name_valid(const char *s, size_t len);

/* The rules a new bucket's name must also meet (S3's, for CreateBucket):
 * valid as above, no '-' next to a '.', not an IPv4 address, none of the
 * prefixes (xn--, sthree-, amzn-s3-demo-) and suffixes (-s3alias, --ol-s3,
 * .mrap, --x-s3, --table-s3) S3 reserves; clients treat some of these
 * specially (botocore takes a name ending in --x-s3 for an S3 Express
 * bucket), so a bucket so named could not be used. Checked only when a
 * bucket is made: one made before these rules stays reachable. Returns 1
 * if the name may be given to a new bucket. */
int zkp_bucket_name_creatable(const char *s, size_t len);

#endif
