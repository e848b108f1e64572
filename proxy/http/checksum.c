/* Flexible checksums (see http/checksum.h). */
#include "http/checksum.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "util/textutil.h"
#include "util/digest.h"

/* Reflected table-driven CRCs. CRC32C: polynomial 0x1EDC6F41, reflected
 * 0x82F63B78 (RFC 3720). CRC64/NVME: polynomial 0xAD93D23594C93659,
 * reflected 0x9A6C9329AC4BC9B5 (NVM Express); both start and end inverted. */
static uint32_t crc32c_table[256];
static uint64_t crc64_table[256];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void make_tables(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        uint64_t d = i;
        for (int k = 0; k < 8; k++) {
            c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
            d = d & 1 ? (d >> 1) ^ 0x9A6C9329AC4BC9B5ull : d >> 1;
        }
        crc32c_table[i] = c;
        crc64_table[i] = d;
    }
}

static const struct {
    const char *name;
    zkp_cks_algo_t algo;
    size_t size;
} algos[] = {
    {"x-amz-checksum-crc32", ZKP_CKS_CRC32, 4},
    {"x-amz-checksum-crc32c", ZKP_CKS_CRC32C, 4},
    {"x-amz-checksum-crc64nvme", ZKP_CKS_CRC64NVME, 8},
    {"x-amz-checksum-sha1", ZKP_CKS_SHA1, 20},
    {"x-amz-checksum-sha256", ZKP_CKS_SHA256, 32},
};
#define NALGOS (sizeof(algos) / sizeof(algos[0]))

zkp_cks_algo_t zkp_checksum_algo(const char *name, size_t len)
{
    for (size_t i = 0; i < NALGOS; i++)
        if (strlen(algos[i].name) == len && strncasecmp(algos[i].name, name, len) == 0)
            return algos[i].algo;
    return ZKP_CKS_NONE;
}

const char *zkp_checksum_header(zkp_cks_algo_t a)
{
    for (size_t i = 0; i < NALGOS; i++)
        if (algos[i].algo == a)
            return algos[i].name;
    return "x-amz-checksum-none";
}

static size_t size_of(zkp_cks_algo_t a)
{
    for (size_t i = 0; i < NALGOS; i++)
        if (algos[i].algo == a)
            return algos[i].size;
    return 0;
}

int zkp_checksum_init(zkp_checksum_t *c, zkp_cks_algo_t a)
{
    memset(c, 0, sizeof(*c));
    c->algo = a;
    pthread_once(&tables_once, make_tables);
    if (a == ZKP_CKS_CRC32C)
        c->crc = 0xFFFFFFFFu;
    else if (a == ZKP_CKS_CRC64NVME)
        c->crc = ~0ull;
    else if (a == ZKP_CKS_SHA1 || a == ZKP_CKS_SHA256) {
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        if (md == NULL ||
            EVP_DigestInit_ex(md, a == ZKP_CKS_SHA1 ? zkp_md_sha1() : zkp_md_sha256(), NULL) != 1) {
            EVP_MD_CTX_free(md);
            return -1;
        }
        c->md = md;
    } else if (a != ZKP_CKS_CRC32)
        return -1;
    return 0;
}

void zkp_checksum_update(zkp_checksum_t *c, const void *data, size_t len)
{
    const unsigned char *p = data;
    switch (c->algo) {
    case ZKP_CKS_CRC32:
        /* zlib takes uInt lengths: feed in slices. */
        while (len > 0) {
            uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;
            c->crc = crc32((uLong)c->crc, p, n);
            p += n;
            len -= n;
        }
        break;
    case ZKP_CKS_CRC32C: {
        uint32_t crc = (uint32_t)c->crc;
        for (size_t i = 0; i < len; i++)
            crc = crc32c_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
        c->crc = crc;
        break;
    }
    case ZKP_CKS_CRC64NVME: {
        uint64_t crc = c->crc;
        for (size_t i = 0; i < len; i++)
            crc = crc64_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
        c->crc = crc;
        break;
    }
    case ZKP_CKS_SHA1:
    case ZKP_CKS_SHA256:
        if (c->md != NULL)
            EVP_DigestUpdate(c->md, data, len);
        break;
    default:
        break;
    }
}

int zkp_checksum_expect(zkp_checksum_t *c, const char *b64, size_t len)
{
    size_t want = size_of(c->algo);
    unsigned char buf[32];
    long n = zkp_base64_decode(b64, len, buf, sizeof(buf));
    if (want == 0 || n != (long)want)
        return -1;
    memcpy(c->expect, buf, want);
    c->expect_len = want;
    return 0;
}

/* The final value, big-endian, into out; returns its size. */
static size_t final_value(zkp_checksum_t *c, unsigned char out[32])
{
    size_t size = size_of(c->algo);
    uint64_t v = c->crc;
    if (c->algo == ZKP_CKS_CRC32C)
        v = ~v & 0xFFFFFFFFu;
    else if (c->algo == ZKP_CKS_CRC64NVME)
        v = ~v;
    if (c->md != NULL) {
        unsigned int n = 0;
        EVP_DigestFinal_ex(c->md, out, &n);
        return n == size ? size : 0;
    }
    for (size_t i = 0; i < size; i++)
        out[i] = (unsigned char)(v >> (8 * (size - 1 - i)));
    return size;
}

int zkp_checksum_finish(zkp_checksum_t *c)
{
    unsigned char got[32];
    size_t n = final_value(c, got);
    int rc = c->expect_len == 0                                     ? -2
             : n == c->expect_len && memcmp(got, c->expect, n) == 0 ? 0
                                                                    : -1;
    zkp_checksum_clear(c);
    return rc;
}

void zkp_checksum_clear(zkp_checksum_t *c)
{
    if (c->md != NULL)
        EVP_MD_CTX_free(c->md);
    c->md = NULL;
}

int zkp_checksum_of(zkp_cks_algo_t a, const void *data, size_t len, unsigned char out[32])
{
    zkp_checksum_t c;
    if (zkp_checksum_init(&c, a) != 0)
        return -1;
    zkp_checksum_update(&c, data, len);
    size_t n = final_value(&c, out);
    zkp_checksum_clear(&c);
    return n > 0 ? (int)n : -1;
}
