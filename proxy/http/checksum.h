/* The body checksums of S3's flexible-checksum headers (http/checksum.c):
 * x-amz-checksum-crc32, -crc32c, -crc64nvme, -sha1 and -sha256, each the
 * base64 of the big-endian checksum of the object's bytes (for aws-chunked
 * bodies: of the decoded payload). A client sends one as a header, or
 * names it in x-amz-trailer and sends it after the last chunk. The proxy
 * computes it while the body streams and refuses the upload (400
 * BadDigest, nothing stored) when it differs.
 *
 * CRC32 is zlib's; CRC32C (Castagnoli) and CRC64/NVME are table-driven
 * here (checksums, not cryptography); SHA-1 and SHA-256 are OpenSSL's.
 * One object per body, one thread at a time. */
#ifndef ZKP_CHECKSUM_H
#define ZKP_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    ZKP_CKS_NONE = 0,
    ZKP_CKS_CRC32,
    ZKP_CKS_CRC32C,
    ZKP_CKS_CRC64NVME,
    ZKP_CKS_SHA1,
    ZKP_CKS_SHA256,
} zkp_cks_algo_t;

typedef struct zkp_checksum {
    zkp_cks_algo_t algo;
    uint64_t crc;
    void *md; /* EVP_MD_CTX for SHA-1 / SHA-256, owned */
    unsigned char expect[32];
    size_t expect_len; /* 0: the expected value has not arrived (yet) */
} zkp_checksum_t;

/* The algorithm a header name stands for ("x-amz-checksum-crc32c", any
 * case), or ZKP_CKS_NONE. */
zkp_cks_algo_t zkp_checksum_algo(const char *name, size_t len);

/* "x-amz-checksum-crc32" ... for an algorithm (static string). */
const char *zkp_checksum_header(zkp_cks_algo_t a);

/* Starts computing `a`. Returns 0, or -1 out of memory. */
int zkp_checksum_init(zkp_checksum_t *c, zkp_cks_algo_t a);

/* Feeds body bytes. */
void zkp_checksum_update(zkp_checksum_t *c, const void *data, size_t len);

/* The expected value, as sent (base64). Returns 0, or -1 if it is not the
 * base64 of a checksum of this algorithm's size. */
int zkp_checksum_expect(zkp_checksum_t *c, const char *b64, size_t len);

/* At the end of the body: 0 if it matches, -1 if not, -2 if no expected
 * value arrived. Frees the hash state either way. */
int zkp_checksum_finish(zkp_checksum_t *c);

/* Frees the state without a verdict. Idempotent; safe on a zeroed struct. */
void zkp_checksum_clear(zkp_checksum_t *c);

/* The whole checksum of data (for tests and tools): out gets the raw
 * big-endian bytes; returns their length (4, 8, 20 or 32), or -1. */
int zkp_checksum_of(zkp_cks_algo_t a, const void *data, size_t len, unsigned char out[32]);

#endif
