#include "util/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void zkp_buf_init(zkp_buf_t *b)
{
    memset(b, 0, sizeof(*b));
}

void zkp_buf_free(zkp_buf_t *b)
{
    free(b->data);
    zkp_buf_init(b);
}

static int reserve(zkp_buf_t *b, size_t extra)
{
    if (b->oom)
        return -1;
    if (b->len + extra + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (p == NULL) {
        b->oom = 1;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

void zkp_buf_append(zkp_buf_t *b, const void *p, size_t n)
{
    if (reserve(b, n) != 0)
        return;
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void zkp_buf_puts(zkp_buf_t *b, const char *s)
{
    zkp_buf_append(b, s, strlen(s));
}

void zkp_buf_printf(zkp_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof(small)) {
        zkp_buf_append(b, small, (size_t)n);
        return;
    }
    if (reserve(b, (size_t)n) != 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

char *zkp_buf_steal(zkp_buf_t *b, size_t *len)
{
    if (b->oom) {
        zkp_buf_free(b);
        return NULL;
    }
    if (b->data == NULL)
        zkp_buf_append(b, "", 0);
    char *p = b->data;
    if (len != NULL)
        *len = b->len;
    zkp_buf_init(b);
    return p;
}

void zkp_buf_json_string(zkp_buf_t *b, const char *s)
{
    zkp_buf_puts(b, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            zkp_buf_printf(b, "\\%c", c);
        else if (c < 0x20)
            zkp_buf_printf(b, "\\u%04x", c);
        else
            zkp_buf_append(b, s, 1);
    }
    zkp_buf_puts(b, "\"");
}
