/* HTTP Range for GetObject (RFC 9110 section 14), single byte ranges only,
 * as S3 supports. */
#ifndef ZKP_RANGE_H
#define ZKP_RANGE_H

#include <stdint.h>

typedef enum {
    ZKP_RANGE_NONE = 0,      /* no usable Range: serve the whole object (200) */
    ZKP_RANGE_OK = 1,        /* serve [first, last] (206) */
    ZKP_RANGE_UNSATISFIABLE, /* 416 InvalidRange, Content-Range: bytes * / size */
} zkp_range_result_t;

/* Parses a Range header value against an object of `size` bytes.
 * "bytes=a-b", "bytes=a-" and "bytes=-n" are understood; b is clamped to
 * size - 1. A header that does not parse, or asks for several ranges, is
 * ignored (ZKP_RANGE_NONE), as RFC 9110 allows and S3 does. */
zkp_range_result_t zkp_range_parse(const char *value, uint64_t size, uint64_t *first,
                                   uint64_t *last);

#endif
