/* Fuzz target for zkp_token_parse(), the parser of the X-Fencing-Token
 * header (and x-amz-meta-fencing-token), which comes from the network.
 *
 * Properties checked on every input:
 *  - parse succeeds iff the input is canonical decimal: 1..20 ASCII
 *    digits, no leading zero unless the input is "0", value <= UINT64_MAX
 *    (decided here independently, with a digit-string comparison);
 *  - on success, printing the value with "%" PRIu64 gives back exactly the
 *    input bytes (one spelling per token);
 *  - on failure, the output is left untouched;
 *  - the parser reads only the given bytes (the input is copied into an
 *    exact-size heap buffer, so ASan/valgrind catch an over-read);
 *  - lock names arrive beside tokens: the canonical-name check agrees with
 *    an independent decision (lockname_oracle.h), on the raw input and on
 *    the input mapped onto '/', '.', 'a' and a space. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fence.h"
#include "lockname_oracle.h"

static int is_canonical(const uint8_t *d, size_t n)
{
    static const char max[] = "18446744073709551615";
    if (n == 0 || n > 20)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (d[i] < '0' || d[i] > '9')
            return 0;
    if (d[0] == '0' && n > 1)
        return 0;
    /* same length: digit strings compare like the numbers */
    return n < 20 || memcmp(d, max, 20) <= 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static void check_lock_name(const char *s, size_t n)
{
    int valid = zkp_lock_name_valid(s, n);
    const char *problem = zkp_lock_name_problem(s, n);
    int expect = oracle_canonical_lock(s, n);
    if (valid != expect || (problem == NULL) != expect) {
        fprintf(stderr, "zkp_lock_name_valid: %d (%s), expected %d\n", valid,
                problem ? problem : "no problem", expect);
        abort();
    }
    int legacy = n >= 1 && n <= ZKP_LOCK_NAME_MAX;
    for (size_t i = 0; legacy && i < n; i++)
        legacy = (unsigned char)s[i] >= 0x21 && (unsigned char)s[i] <= 0x7e;
    if (zkp_lock_name_legacy(s, n) != legacy || (valid && !legacy)) {
        fprintf(stderr, "zkp_lock_name_legacy: expected %d\n", legacy);
        abort();
    }
}

/* Checks every property on the n bytes at d. */
static void check_one(const uint8_t *d, size_t n)
{
    char *copy = calloc(1, n ? n : 1); /* exact size: an over-read is caught */
    if (copy == NULL)
        return;
    if (n > 0)
        memcpy(copy, d, n);
    const uint64_t sentinel = 0xdeadbeefcafef00dULL;
    uint64_t v = sentinel;
    int rc = zkp_token_parse(copy, n, &v);
    int want = is_canonical(d, n);
    if ((rc == 0) != want || (rc != 0 && rc != -1)) {
        fprintf(stderr, "zkp_token_parse: rc %d, canonical %d, len %zu\n", rc, want, n);
        abort();
    }
    if (rc == 0) {
        char text[32];
        int len = snprintf(text, sizeof(text), "%" PRIu64, v);
        if (len < 0 || (size_t)len != n || memcmp(text, d, n) != 0) {
            fprintf(stderr, "round trip: %.*s -> %s\n", (int)n, (const char *)d, text);
            abort();
        }
    } else if (v != sentinel) {
        fprintf(stderr, "output written on failure\n");
        abort();
    }
    /* Lock names arrive next to tokens: exercise the validator too. */
    check_lock_name(copy, n);
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    check_one(d, n);
    /* Random bytes are rarely all digits, so the accepting side would be
     * reached mostly by luck (always, with the gcc stand-in driver): also
     * check the input mapped onto digits, which lands near 20 digits and
     * UINT64_MAX's edge often. */
    if (n >= 1 && n <= 22) {
        uint8_t digits[22];
        for (size_t i = 0; i < n; i++)
            digits[i] = (uint8_t)('0' + d[i] % 10);
        if (n == 20 && d[0] % 3 == 0)
            memcpy(digits, "1844674407370955161", 19); /* near the limit: last digit varies */
        check_one(digits, n);
    }
    /* Random bytes are rarely lock-shaped: also check them mapped onto
     * '/', '.', 'a' and a space, which makes every rule's edge common. */
    if (n >= 1 && n <= 64) {
        static const char alphabet[] = "/./a/.a /";
        char shaped[64];
        for (size_t i = 0; i < n; i++)
            shaped[i] = alphabet[d[i] % (sizeof(alphabet) - 1)];
        shaped[0] = d[0] % 7 ? '/' : shaped[0];
        char *exact = malloc(n); /* exact size: an over-read is caught */
        if (exact != NULL) {
            memcpy(exact, shaped, n);
            check_lock_name(exact, n);
            free(exact);
        }
    }
    return 0;
}
