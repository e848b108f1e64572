/* Fuzz target for the credentials-file parser (auth/creds.c): any bytes
 * must be refused with a message or parsed into a set whose lookups hold
 * their invariants (a key found by its id; rights within the levels; a
 * secret that round-trips). The input is the file's text. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/creds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    zkp_creds_t *c = NULL;
    char err[256];
    if (zkp_creds_parse((const char *)data, size, "fuzz", &c, err, sizeof(err)) != 0) {
        if (c != NULL || strncmp(err, "fuzz", 4) != 0)
            abort(); /* a refusal names the file and leaves nothing */
        return 0;
    }
    if (zkp_creds_count(c) == 0)
        abort(); /* a set without keys is refused */
    /* Every "key" line's id is found, with a secret of the allowed size. */
    const char *p = (const char *)data, *end = p + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        char line[512], id[200];
        if (n < sizeof(line)) {
            memcpy(line, p, n);
            line[n] = '\0';
            if (sscanf(line, " key %199s", id) == 1 && strchr(id, '#') == NULL) {
                const zkp_cred_key_t *k = zkp_creds_find(c, id);
                char secret[ZKP_CREDS_SECRET_MAX + 1];
                int len = k ? zkp_cred_key_secret(k, secret, sizeof(secret)) : -1;
                if (k == NULL || strcmp(zkp_cred_key_id(k), id) != 0 ||
                    len < ZKP_CREDS_SECRET_MIN || len > ZKP_CREDS_SECRET_MAX)
                    abort();
                zkp_right_t r = zkp_cred_key_right(k, "some-bucket");
                if (r > ZKP_RIGHT_ADMIN || zkp_cred_key_right(k, NULL) > r ||
                    zkp_cred_key_max_right(k) < r)
                    abort();
            }
        }
        p += n + 1;
    }
    zkp_creds_free(c);
    return 0;
}
