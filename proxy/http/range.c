#include "http/range.h"

#include <string.h>

/* Parses decimal digits at *p; advances *p. -1 if none or overflow. */
static int parse_u64(const char **p, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    if (*s < '0' || *s > '9')
        return -1;
    for (; *s >= '0' && *s <= '9'; s++) {
        uint64_t d = (uint64_t)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *p = s;
    *out = v;
    return 0;
}

static void skip_ws(const char **p)
{
    while (**p == ' ' || **p == '\t')
        (*p)++;
}

zkp_range_result_t zkp_range_parse(const char *value, uint64_t size, uint64_t *first,
                                   uint64_t *last)
{
    if (value == NULL)
        return ZKP_RANGE_NONE;
    const char *p = value;
    skip_ws(&p);
    if (strncmp(p, "bytes=", 6) != 0)
        return ZKP_RANGE_NONE;
    p += 6;
    skip_ws(&p);
    uint64_t a = 0, b = 0;
    int has_a = 0, has_b = 0;
    if (parse_u64(&p, &a) == 0)
        has_a = 1;
    if (*p != '-')
        return ZKP_RANGE_NONE;
    p++;
    if (parse_u64(&p, &b) == 0)
        has_b = 1;
    skip_ws(&p);
    if (*p != '\0') /* trailing garbage or a second range */
        return ZKP_RANGE_NONE;
    if (!has_a && !has_b)
        return ZKP_RANGE_NONE;
    if (has_a && has_b && b < a)
        return ZKP_RANGE_NONE; /* syntactically invalid: ignored */
    if (!has_a) {
        /* suffix range: the last b bytes */
        if (b == 0 || size == 0)
            return ZKP_RANGE_UNSATISFIABLE;
        *first = b >= size ? 0 : size - b;
        *last = size - 1;
        return ZKP_RANGE_OK;
    }
    if (a >= size)
        return ZKP_RANGE_UNSATISFIABLE;
    *first = a;
    *last = (!has_b || b >= size) ? size - 1 : b;
    return ZKP_RANGE_OK;
}
