/* The upstream's XML (s3xml.h): a single pass over the bytes with a stack
 * of open element names. */
#include "backend/s3/s3xml.h"

#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

typedef struct parser {
    const char *p, *end;
    char *names[ZKP_S3XML_DEPTH];
    int depth;
    int had_root;
    int had_child; /* the innermost open element has a child element */
    zkp_buf_t text;
} parser_t;

static int name_char(char c)
{
    return c != '\0' && strchr(" \t\r\n/>=<\"'", c) == NULL;
}

/* Appends the UTF-8 form of code point cp; 0 or -1 if not a valid XML
 * character. */
static int put_utf8(zkp_buf_t *b, unsigned long cp)
{
    unsigned char u[4];
    size_t n;
    if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
        return -1;
    if (cp < 0x80) {
        u[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (unsigned char)(0xC0 | (cp >> 6));
        u[1] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (unsigned char)(0xE0 | (cp >> 12));
        u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (unsigned char)(0xF0 | (cp >> 18));
        u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    zkp_buf_append(b, u, n);
    return 0;
}

/* A reference at ps->p ('&'): decoded into the text. */
static int reference(parser_t *ps)
{
    const char *semi = memchr(ps->p, ';', (size_t)(ps->end - ps->p));
    if (semi == NULL || semi - ps->p > 12)
        return -1;
    const char *r = ps->p + 1;
    size_t n = (size_t)(semi - r);
    static const struct {
        const char *name;
        char c;
    } named[] = {{"lt", '<'}, {"gt", '>'}, {"amp", '&'}, {"quot", '"'}, {"apos", '\''}};
    int ok = -1;
    for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++)
        if (strlen(named[i].name) == n && memcmp(r, named[i].name, n) == 0) {
            zkp_buf_append(&ps->text, &named[i].c, 1);
            ok = 0;
        }
    if (ok != 0 && n >= 2 && r[0] == '#') {
        int hex = r[1] == 'x';
        const char *d = r + 1 + hex;
        if (d == semi)
            return -1;
        unsigned long cp = 0;
        for (; d < semi; d++) {
            int v = *d >= '0' && *d <= '9'          ? *d - '0'
                    : hex && *d >= 'a' && *d <= 'f' ? *d - 'a' + 10
                    : hex && *d >= 'A' && *d <= 'F' ? *d - 'A' + 10
                                                    : -1;
            if (v < 0 || cp > 0x10FFFF)
                return -1;
            cp = cp * (hex ? 16 : 10) + (unsigned long)v;
        }
        ok = put_utf8(&ps->text, cp);
    }
    ps->p = semi + 1;
    return ok;
}

static const char *find(parser_t *ps, const char *needle)
{
    size_t nl = strlen(needle);
    for (const char *q = ps->p; q + nl <= ps->end; q++)
        if (memcmp(q, needle, nl) == 0)
            return q;
    return NULL;
}

/* "<!--...-->", "<?...?>" or "<![CDATA[...]]>" at ps->p. */
static int special(parser_t *ps)
{
    const char *q;
    size_t left = (size_t)(ps->end - ps->p);
    if (left >= 4 && memcmp(ps->p, "<!--", 4) == 0) {
        ps->p += 4;
        if ((q = find(ps, "-->")) == NULL)
            return -1;
        ps->p = q + 3;
    } else if (left >= 2 && memcmp(ps->p, "<?", 2) == 0) {
        ps->p += 2;
        if ((q = find(ps, "?>")) == NULL)
            return -1;
        ps->p = q + 2;
    } else if (left >= 9 && memcmp(ps->p, "<![CDATA[", 9) == 0) {
        ps->p += 9;
        if ((q = find(ps, "]]>")) == NULL || ps->depth == 0)
            return -1;
        zkp_buf_append(&ps->text, ps->p, (size_t)(q - ps->p));
        ps->p = q + 3;
    } else {
        return -1; /* <!DOCTYPE and the like */
    }
    return 0;
}

static int close_tag(parser_t *ps, const zkp_s3xml_handler_t *h, void *arg)
{
    const char *s = ps->p + 2, *q = s;
    while (q < ps->end && name_char(*q))
        q++;
    size_t n = (size_t)(q - s);
    while (q < ps->end && strchr(" \t\r\n", *q) != NULL)
        q++;
    if (q >= ps->end || *q != '>' || ps->depth == 0)
        return -1;
    char *top = ps->names[ps->depth - 1];
    if (strlen(top) != n || memcmp(top, s, n) != 0)
        return -1;
    const char *text = ps->had_child || ps->text.data == NULL ? "" : ps->text.data;
    size_t tlen = ps->had_child ? 0 : ps->text.len;
    if (ps->text.oom)
        return -1;
    if (h->close != NULL)
        h->close(arg, top, ps->depth, text, tlen);
    free(top);
    ps->depth--;
    ps->had_child = 1; /* the parent has (had) this child */
    zkp_buf_free(&ps->text);
    ps->p = q + 1;
    return 0;
}

static int open_tag(parser_t *ps, const zkp_s3xml_handler_t *h, void *arg)
{
    const char *s = ps->p + 1, *q = s;
    while (q < ps->end && name_char(*q))
        q++;
    size_t n = (size_t)(q - s);
    if (n == 0 || ps->depth == ZKP_S3XML_DEPTH || (ps->depth == 0 && ps->had_root))
        return -1;
    /* Attributes: skipped, quotes respected. */
    char quote = 0;
    while (q < ps->end && (quote || (*q != '>' && *q != '<'))) {
        if (quote && *q == quote)
            quote = 0;
        else if (!quote && (*q == '"' || *q == '\''))
            quote = *q;
        q++;
    }
    if (q >= ps->end || *q != '>')
        return -1;
    int empty = q[-1] == '/' && q - 1 >= s + n;
    char *name = strndup(s, n);
    if (name == NULL)
        return -1;
    ps->names[ps->depth++] = name;
    ps->had_root = 1;
    ps->had_child = 0;
    zkp_buf_free(&ps->text);
    if (h->open != NULL)
        h->open(arg, name, ps->depth);
    ps->p = q + 1;
    if (empty) {
        if (h->close != NULL)
            h->close(arg, name, ps->depth, "", 0);
        free(name);
        ps->depth--;
        ps->had_child = 1;
    }
    return 0;
}

int zkp_s3xml_parse(const char *xml, size_t len, const zkp_s3xml_handler_t *h, void *arg)
{
    parser_t ps;
    memset(&ps, 0, sizeof(ps));
    ps.p = xml;
    ps.end = xml + len;
    zkp_buf_init(&ps.text);
    int rc = 0;
    while (rc == 0 && ps.p < ps.end) {
        char c = *ps.p;
        if (c == '<') {
            char d = ps.p + 1 < ps.end ? ps.p[1] : '\0';
            rc = d == '/'               ? close_tag(&ps, h, arg)
                 : d == '!' || d == '?' ? special(&ps)
                                        : open_tag(&ps, h, arg);
        } else if (c == '&') {
            rc = ps.depth > 0 ? reference(&ps) : -1;
        } else {
            if (ps.depth > 0)
                zkp_buf_append(&ps.text, &c, 1);
            else if (strchr(" \t\r\n", c) == NULL)
                rc = -1; /* text outside the root */
            ps.p++;
        }
    }
    if (ps.depth != 0 || !ps.had_root)
        rc = -1;
    while (ps.depth > 0)
        free(ps.names[--ps.depth]);
    zkp_buf_free(&ps.text);
    return rc;
}
