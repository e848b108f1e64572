/* Fuzz target for the binding parser and the lock paths it makes
 * (fence/bind.c), and the canonical lock-name check (fence/token.c): a
 * binding comes from the configuration, but the keys it is applied to, and
 * the locks looked up in reverse, come from the network.
 *
 * The input is split at its first two NUL bytes into a spec, a value and a
 * key (missing parts are empty). Properties checked:
 *  - zkp_binds_add() accepts or refuses without crashing, and refuses any
 *    value without placeholders that is not a canonical lock name;
 *  - for an accepted binding, the key's lock (when it has one) is a
 *    canonical lock name (lockname_oracle.h decides), and its owner is that
 *    binding, from which the same lock comes back;
 *  - the value itself, taken as a lock name, gets the same answer from
 *    zkp_lock_name_valid() as from the oracle;
 *  - escaping the key round-trips (two keys never share a lock). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bind.h"
#include "fence.h"
#include "lockname_oracle.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

/* An exact-size, NUL-terminated heap copy: over-reads are caught. */
static char *part(const uint8_t *d, size_t n)
{
    char *s = malloc(n + 1);
    if (s != NULL) {
        memcpy(s, d, n);
        s[n] = '\0';
    }
    return s;
}

static void check_key(const zkp_binds_t *b, const char *bucket, const char *key, size_t klen)
{
    char lock[ZKP_LOCK_NAME_MAX + 1];
    const zkp_bind_t *bd = NULL;
    int rc = zkp_binds_lock_for(b, bucket, key, klen, lock, sizeof(lock), &bd);
    if (rc != 1)
        return;
    if (!oracle_canonical_lock(lock, strlen(lock))) {
        fprintf(stderr, "bind.%s = %s: key gives %s, not canonical\n", zkp_bind_spec(bd),
                zkp_bind_value(bd), lock);
        abort();
    }
    char owner_bucket[ZKP_BIND_BUCKET_MAX + 1];
    const zkp_bind_t *o = zkp_binds_owner(b, lock, bucket, owner_bucket);
    if (o != bd || strcmp(owner_bucket, bucket) != 0) {
        fprintf(stderr, "%s: owner is not the binding that gave it\n", lock);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    const uint8_t *z1 = memchr(d, 0, n);
    size_t l1 = z1 ? (size_t)(z1 - d) : n;
    const uint8_t *rest = z1 ? z1 + 1 : d + n;
    size_t rn = (size_t)(d + n - rest);
    const uint8_t *z2 = memchr(rest, 0, rn);
    size_t l2 = z2 ? (size_t)(z2 - rest) : rn;
    const uint8_t *kp = z2 ? z2 + 1 : rest + rn;
    size_t kn = (size_t)(d + n - kp);
    if (l1 > 200 || l2 > 2000 || kn > 1100)
        return 0;
    char *spec = part(d, l1), *value = part(rest, l2), *key = part(kp, kn);
    zkp_binds_t *b = zkp_binds_new();
    if (spec == NULL || value == NULL || key == NULL || b == NULL)
        goto out;

    int lock_ok = zkp_lock_name_valid(value, l2);
    if (lock_ok != oracle_canonical_lock(value, l2)) {
        fprintf(stderr, "zkp_lock_name_valid(%s): %d\n", value, lock_ok);
        abort();
    }
    char err[800];
    int added = zkp_binds_add(b, spec, value, err, sizeof(err)) == 0;
    if (added && !lock_ok && strchr(value, '{') == NULL) {
        fprintf(stderr, "bind.%s = %s accepted, not a canonical lock\n", spec, value);
        abort();
    }
    if (added) {
        const char *slash = strchr(spec, '/');
        char bucket[ZKP_BIND_BUCKET_MAX + 1];
        size_t blen = slash ? (size_t)(slash - spec) : strlen(spec);
        memcpy(bucket, spec, blen);
        bucket[blen] = '\0';
        check_key(b, bucket, key, kn);
        /* the key under the binding's prefix, so that the binding applies */
        size_t plen = slash ? strlen(slash + 1) : 0;
        char *full = malloc(plen + kn + 1);
        if (full != NULL) {
            memcpy(full, slash ? slash + 1 : "", plen);
            memcpy(full + plen, key, kn);
            full[plen + kn] = '\0';
            check_key(b, bucket, full, plen + kn);
            free(full);
        }
    }

    char esc[3 * 1100 + 8], back[1104];
    int e = zkp_bind_escape(key, kn, esc, sizeof(esc));
    if (e < 0 || zkp_bind_unescape(esc, (size_t)e, back, sizeof(back)) != (int)kn ||
        memcmp(back, key, kn) != 0) {
        fprintf(stderr, "escaping does not round-trip (%zu bytes)\n", kn);
        abort();
    }
out:
    zkp_binds_free(b);
    free(spec);
    free(value);
    free(key);
    return 0;
}
