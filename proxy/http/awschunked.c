#include "http/awschunked.h"

#include <string.h>

enum { ST_SIZE_LINE, ST_DATA, ST_DATA_CR, ST_DATA_LF, ST_TRAILER, ST_DONE, ST_ERROR };

void zkp_chunked_init(zkp_chunked_t *c)
{
    memset(c, 0, sizeof(*c));
    c->state = ST_SIZE_LINE;
}

static int fail(zkp_chunked_t *c)
{
    c->state = ST_ERROR;
    return -1;
}

/* "1a2b;chunk-signature=..." -> size. At most 16 hex digits. */
static int parse_size_line(const char *line, size_t len, uint64_t *size)
{
    uint64_t v = 0;
    size_t i = 0;
    for (; i < len && i < 17; i++) {
        char ch = line[i];
        int d;
        if (ch >= '0' && ch <= '9')
            d = ch - '0';
        else if (ch >= 'a' && ch <= 'f')
            d = ch - 'a' + 10;
        else if (ch >= 'A' && ch <= 'F')
            d = ch - 'A' + 10;
        else
            break;
        v = v << 4 | (uint64_t)d;
    }
    if (i == 0 || i > 16)
        return -1;
    if (i < len && line[i] != ';')
        return -1;
    *size = v;
    return 0;
}

/* Accumulates one CRLF-terminated line. Returns 1 when a full line (without
 * CRLF) is in c->line, 0 when more input is needed, -1 if too long or a bare
 * CR/LF appears. Consumes from *data. */
static int take_line(zkp_chunked_t *c, const char **data, size_t *len)
{
    while (*len > 0) {
        char ch = **data;
        (*data)++;
        (*len)--;
        if (ch == '\n') {
            if (c->line_len == 0 || c->line[c->line_len - 1] != '\r')
                return -1;
            c->line_len--;
            return 1;
        }
        if (c->line_len + 1 >= sizeof(c->line))
            return -1;
        c->line[c->line_len++] = ch;
    }
    return 0;
}

static int on_size_line(zkp_chunked_t *c)
{
    uint64_t size;
    if (parse_size_line(c->line, c->line_len, &size) != 0)
        return fail(c);
    c->line_len = 0;
    c->remaining = size;
    c->state = size == 0 ? ST_TRAILER : ST_DATA;
    return 0;
}

static int on_trailer_line(zkp_chunked_t *c)
{
    /* An empty line ends the body; any other line is a trailer (checksum
     * or trailer signature), which is accepted and dropped. */
    if (c->line_len == 0)
        c->state = ST_DONE;
    else if (memchr(c->line, ':', c->line_len) == NULL)
        return fail(c);
    c->line_len = 0;
    return 0;
}

int zkp_chunked_feed(zkp_chunked_t *c, const char *data, size_t len, zkp_chunked_sink_fn sink,
                     void *arg)
{
    while (len > 0) {
        int r;
        switch (c->state) {
        case ST_SIZE_LINE:
        case ST_TRAILER:
            r = take_line(c, &data, &len);
            if (r < 0)
                return fail(c);
            if (r == 1 && (c->state == ST_SIZE_LINE ? on_size_line(c) : on_trailer_line(c)) != 0)
                return -1;
            break;
        case ST_DATA: {
            size_t n = len < c->remaining ? len : (size_t)c->remaining;
            if ((r = sink(arg, data, n)) != 0)
                return r;
            data += n;
            len -= n;
            c->remaining -= n;
            c->decoded += n;
            if (c->remaining == 0)
                c->state = ST_DATA_CR;
            break;
        }
        case ST_DATA_CR:
        case ST_DATA_LF:
            if (*data != (c->state == ST_DATA_CR ? '\r' : '\n'))
                return fail(c);
            data++;
            len--;
            c->state = c->state == ST_DATA_CR ? ST_DATA_LF : ST_SIZE_LINE;
            break;
        default: /* bytes after the end, or already failed */
            return fail(c);
        }
    }
    return 0;
}

int zkp_chunked_finish(const zkp_chunked_t *c)
{
    /* Some clients end the body right after the last trailer line, without
     * the empty line: accept that, but nothing shorter. */
    if (c->state == ST_DONE || (c->state == ST_TRAILER && c->line_len == 0))
        return 0;
    return -1;
}
