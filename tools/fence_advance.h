/* `zkfence lock --fence-advance URL` (tools/fence_advance.c): right after
 * the lock is acquired, and before COMMAND starts, ask zkfence-proxy at URL
 * to raise the lock's mark to the new token (POST
 * URL/_zkfence/fence-advance), so that every older holder is fenced before
 * the new one reads anything. */
#ifndef ZKFENCE_FENCE_ADVANCE_H
#define ZKFENCE_FENCE_ADVANCE_H

#include <stddef.h>
#include <stdint.h>

/* libcurl's global set-up. Call once, before any other thread exists (the
 * ZooKeeper client's threads included). Returns 0, or -1 if libcurl could
 * not be initialised. */
int zkfence_fence_advance_init(void);

/* POSTs the fence-advance for `lock` and `token` to base_url (the proxy's
 * base URL, "http://127.0.0.1:9000"; a trailing '/' is fine), waiting at
 * most timeout_ms. When AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are
 * set, the request is signed with AWS Signature Version 4 (service s3,
 * region AWS_REGION, else AWS_DEFAULT_REGION, else us-east-1; with
 * AWS_SESSION_TOKEN sent as x-amz-security-token); zkfence-proxy
 * authenticates every request unless run with auth = off, and needs a key
 * with write rights on a bucket, or admin rights. An https URL's
 * certificate is checked against AWS_CA_BUNDLE when set, else the system's
 * CAs.
 * Returns 0 when the proxy answered 200 (the token is now the mark), or -1
 * with a NUL-terminated message naming the cause in msg: the proxy's 412
 * and the mark that refused the token, a 403 refusal (unsigned: which
 * variables to set; signed: the proxy's message), the URL that could not
 * be reached and why, a 503, any other status and its S3 error code. Thread-safe
 * after zkfence_fence_advance_init(). */
int zkfence_fence_advance(const char *base_url, const char *lock, uint64_t token, int timeout_ms,
                          char *msg, size_t msglen);

#endif
