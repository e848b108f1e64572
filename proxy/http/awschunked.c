#include "http/awschunked.h"

#include <string.h>
#include <strings.h>

enum { ST_SIZE_LINE, ST_DATA, ST_DATA_CR, ST_DATA_LF, ST_TRAILER, ST_DONE, ST_ERROR };

void zkp_chunked_init(zkp_chunked_t *c, zkp_sigv4_chunks_t *sig)
{
    memset(c, 0, sizeof(*c));
    c->state = ST_SIZE_LINE;
    c->sig = sig;
}

static int fail_as(zkp_chunked_t *c, int rc)
{
    c->state = ST_ERROR;
    return rc;
}

static int fail(zkp_chunked_t *c)
{
    return fail_as(c, ZKP_CHUNKED_EMALFORMED);
}

#define SIG_EXT ";chunk-signature="

/* "1a2b;chunk-signature=..." -> size (at most 16 hex digits) and the
 * extensions after it (";..." or empty) in *ext. */
static int parse_size_line(const char *line, size_t len, uint64_t *size, const char **ext)
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
    *ext = line + i;
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

/* With a verifier: the chunk's signature begins (and, for the final chunk,
 * which has no data, ends) here. */
static int begin_chunk(zkp_chunked_t *c, const char *ext, size_t ext_len, uint64_t size)
{
    size_t pre = strlen(SIG_EXT);
    if (ext_len != pre + ZKP_SIGV4_SIG_HEX_LEN || memcmp(ext, SIG_EXT, pre) != 0)
        return fail_as(c, ZKP_CHUNKED_ESIGNATURE);
    if (zkp_sigv4_chunk_begin(c->sig, ext + pre, ZKP_SIGV4_SIG_HEX_LEN) != 0 ||
        (size == 0 && zkp_sigv4_chunk_end(c->sig) != 0))
        return fail_as(c, ZKP_CHUNKED_ESIGNATURE);
    return 0;
}

static int on_size_line(zkp_chunked_t *c)
{
    uint64_t size;
    const char *ext;
    if (parse_size_line(c->line, c->line_len, &size, &ext) != 0)
        return fail(c);
    if (c->sig != NULL) {
        int rc = begin_chunk(c, ext, c->line_len - (size_t)(ext - c->line), size);
        if (rc != 0)
            return rc;
    }
    c->line_len = 0;
    c->remaining = size;
    c->state = size == 0 ? ST_TRAILER : ST_DATA;
    return 0;
}

static int on_trailer_line(zkp_chunked_t *c, const zkp_chunked_cb_t *cb, void *arg)
{
    /* An empty line ends the body. Any other is a trailer: a checksum (to
     * the callback) or the trailer's signature (checked with the lines
     * before it). */
    size_t len = c->line_len;
    c->line_len = 0;
    if (len == 0) {
        c->state = ST_DONE;
        return 0;
    }
    const char *colon = memchr(c->line, ':', len);
    if (colon == NULL)
        return fail(c);
    if (c->sig != NULL && zkp_sigv4_chunks_trailer(c->sig, c->line, len) != 0)
        return fail_as(c, ZKP_CHUNKED_ESIGNATURE);
    size_t nlen = (size_t)(colon - c->line);
    static const char sig_name[] = "x-amz-trailer-signature";
    if (nlen == sizeof(sig_name) - 1 && strncasecmp(c->line, sig_name, nlen) == 0)
        return 0;
    if (cb->trailer != NULL) {
        const char *v = colon + 1;
        size_t vlen = len - nlen - 1;
        while (vlen > 0 && (*v == ' ' || *v == '\t'))
            v++, vlen--;
        int rc = cb->trailer(arg, c->line, nlen, v, vlen);
        if (rc != 0)
            return fail_as(c, rc);
    }
    return 0;
}

/* The current chunk's data is complete. */
static int end_data(zkp_chunked_t *c)
{
    if (c->sig != NULL && zkp_sigv4_chunk_end(c->sig) != 0)
        return fail_as(c, ZKP_CHUNKED_ESIGNATURE);
    c->state = ST_DATA_CR;
    return 0;
}

int zkp_chunked_feed(zkp_chunked_t *c, const char *data, size_t len, const zkp_chunked_cb_t *cb,
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
            if (r == 1 &&
                (r = c->state == ST_SIZE_LINE ? on_size_line(c) : on_trailer_line(c, cb, arg)) != 0)
                return r;
            break;
        case ST_DATA: {
            size_t n = len < c->remaining ? len : (size_t)c->remaining;
            if (c->sig != NULL && zkp_sigv4_chunk_data(c->sig, data, n) != 0)
                return fail_as(c, ZKP_CHUNKED_ESIGNATURE);
            if ((r = cb->data(arg, data, n)) != 0)
                return fail_as(c, r);
            data += n;
            len -= n;
            c->remaining -= n;
            c->decoded += n;
            if (c->remaining == 0 && (r = end_data(c)) != 0)
                return r;
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
        case ST_ERROR: /* already failed: the same answer */
            return ZKP_CHUNKED_EMALFORMED;
        default: /* bytes after the end */
            return fail(c);
        }
    }
    return 0;
}

int zkp_chunked_finish(const zkp_chunked_t *c)
{
    /* Some clients end the body right after the last trailer line, without
     * the empty line: accept that, but nothing shorter. */
    if (c->state != ST_DONE && !(c->state == ST_TRAILER && c->line_len == 0))
        return ZKP_CHUNKED_EMALFORMED;
    if (c->sig != NULL && zkp_sigv4_chunks_finish(c->sig) != 0)
        return ZKP_CHUNKED_ESIGNATURE;
    return 0;
}
