/* The message digests the proxy computes on every request (SHA-256 of a
 * key for its file name, MD5 of a body for its ETag), fetched from
 * OpenSSL's default provider once per process. Passing EVP_sha256() or
 * EVP_md5() instead makes OpenSSL 3 look the implementation up again at
 * every EVP_DigestInit_ex / EVP_Digest: about 5% of a 4 KiB GET's CPU in
 * the proxy (perf, 2026-12-07), for one short hash.
 *
 * Thread-safe; the objects live until the process exits (never freed:
 * they are shared by every thread to the end). On a fetch failure (no
 * default provider) they fall back to the legacy objects, which work
 * wherever the fetch would have. */
#ifndef ZKP_DIGEST_H
#define ZKP_DIGEST_H

#include <openssl/evp.h>

const EVP_MD *zkp_md_sha256(void);
const EVP_MD *zkp_md_md5(void);
const EVP_MD *zkp_md_sha1(void);

#endif
