/* The canonical lock-name rule (fence.h), decided again independently of
 * fence/token.c: split at '/' and look at each component. For the fuzz
 * targets, which check token.c's answers against this one. */
#ifndef ZKP_LOCKNAME_ORACLE_H
#define ZKP_LOCKNAME_ORACLE_H

#include <stddef.h>

#include "fence.h"

static inline int oracle_canonical_lock(const char *s, size_t n)
{
    if (n < 2 || n > ZKP_LOCK_NAME_MAX || s[0] != '/')
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
            return 0;
    size_t start = 1;
    for (size_t i = 1; i <= n; i++) {
        if (i < n && s[i] != '/')
            continue;
        size_t len = i - start;
        if (len == 0 || (len == 1 && s[start] == '.') ||
            (len == 2 && s[start] == '.' && s[start + 1] == '.'))
            return 0;
        start = i + 1;
    }
    return 1;
}

#endif
