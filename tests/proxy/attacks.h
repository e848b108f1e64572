/* Probes an attacker or a buggy client would send, shared by the suites
 * that run them under different proxy configurations (no verification in
 * proxy_binding; verify = zxid and holder in proxy_verify). Each asserts
 * the status, the S3 error code, that nothing changed on disk and that no
 * mark moved. */
#ifndef PT_ATTACKS_H
#define PT_ATTACKS_H

#include "harness.h"

/* The lock switch: `path` (/bucket/key) holds `body`, written under
 * `lock` (the key's bound lock), whose mark is `mark`. PUTs and DELETEs of
 * that key with token 1 naming /locks/zzz-new (another lock: 403
 * FencingLockMismatch), lock + "/" (trailing slash) and "/" + lock (an
 * empty component: 400 InvalidFencingLock), in both header spellings: each
 * refused, the object and every mark as they were. */
void pt_attack_lock_switch(const pt_proxy_t *p, const char *path, const char *lock, long long mark,
                           const char *body);

/* A forged far-future token (18446744073709551615) on `path` under its
 * bound lock: refused with `status` and `code`, the object unchanged
 * (`body`, NULL: no object), the lock's mark still `mark` (-1: none). */
void pt_attack_forged_token(const pt_proxy_t *p, const char *path, const char *lock, long long mark,
                            const char *body, long status, const char *code);

#endif
