/* A growable byte buffer that is always NUL-terminated, for building XML,
 * JSON and Prometheus text. Allocation failure is sticky: once `oom` is set
 * further appends are no-ops, and the caller checks once at the end instead
 * of after every append. */
#ifndef ZKP_BUF_H
#define ZKP_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct zkp_buf {
    char *data; /* owned; NULL until the first append */
    size_t len;
    size_t cap;
    int oom;
} zkp_buf_t;

void zkp_buf_init(zkp_buf_t *b);
void zkp_buf_free(zkp_buf_t *b);
void zkp_buf_append(zkp_buf_t *b, const void *p, size_t n);
void zkp_buf_puts(zkp_buf_t *b, const char *s);
void zkp_buf_printf(zkp_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string, quotes included: '"' and '\\' escaped, control
 * characters as \\u00XX, other bytes as they are (the caller's strings are
 * ASCII or UTF-8). */
void zkp_buf_json_string(zkp_buf_t *b, const char *s);
/* Hands the bytes to the caller (free with free()); the buffer is reset.
 * Returns NULL if an allocation failed at any point. */
char *zkp_buf_steal(zkp_buf_t *b, size_t *len);

#endif
