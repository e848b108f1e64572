/* SigV4 for wrk (bench/run): a small shared library that bench/proxy/s3.lua
 * loads with LuaJIT's FFI, so that every request of a benchmark is signed
 * as an S3 client signs it, by the proxy's own SigV4 code (proxy/sigv4),
 * not by a second implementation in Lua. GETs are signed once per key when
 * wrk starts; PUTs (a new key each) as they are made.
 *
 * nginx, the baseline, receives the very same requests (it ignores the
 * headers), so both sides of a comparison carry the same bytes and cost
 * wrk the same. */
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "sigv4.h"

#define EXPORT __attribute__((visibility("default")))

/* Writes the hex SHA-256 of data into out (65 bytes). Returns 0. */
EXPORT int zkb_sha256_hex(const void *data, size_t len, char *out);
/* Signs one request (header form, region us-east-1) at the current time:
 * host and, when not NULL, the fencing lock and token are signed headers;
 * payload_hash is x-amz-content-sha256. Writes "x-amz-date\nVALUE\n
 * x-amz-content-sha256\nVALUE\nAuthorization\nVALUE" into out. Returns
 * 0, or -1 (out too small, or a signing error). */
EXPORT int zkb_sign(const char *ak, const char *sk, const char *method, const char *path,
                    const char *host, const char *payload_hash, const char *lock, const char *token,
                    char *out, size_t cap);

int zkb_sha256_hex(const void *data, size_t len, char *out)
{
    unsigned char md[32];
    unsigned int n = 0;
    EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    return 0;
}

int zkb_sign(const char *ak, const char *sk, const char *method, const char *path, const char *host,
             const char *payload_hash, const char *lock, const char *token, char *out, size_t cap)
{
    zkp_sigv4_header_t h[3] = {{"host", 4, host, strlen(host)}};
    size_t n = 1;
    if (lock != NULL && token != NULL) {
        h[n++] = (zkp_sigv4_header_t){"x-fencing-lock", 14, lock, strlen(lock)};
        h[n++] = (zkp_sigv4_header_t){"x-fencing-token", 15, token, strlen(token)};
    }
    zkp_sigv4_creds_t c = {ak, sk, "us-east-1", NULL};
    zkp_sigv4_sign_req_t r = {.method = method,
                              .path = path,
                              .headers = h,
                              .n_headers = n,
                              .payload_hash = payload_hash,
                              .when = time(NULL)};
    zkp_sigv4_signed_t s;
    if (zkp_sigv4_sign(&c, &r, &s) != 0)
        return -1;
    int w = snprintf(out, cap, "x-amz-date\n%s\nx-amz-content-sha256\n%s\nAuthorization\n%s",
                     s.amz_date, s.content_sha256, s.authorization);
    zkp_sigv4_signed_clear(&s);
    return w > 0 && (size_t)w < cap ? 0 : -1;
}
