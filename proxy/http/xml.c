#include "http/xml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void zkp_xml_escape(zkp_buf_t *b, const char *s, size_t len)
{
    size_t run = 0; /* bytes copied verbatim are appended in runs */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *rep = NULL;
        char num[8];
        switch (c) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&apos;";
            break;
        default:
            if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
                snprintf(num, sizeof(num), "&#x%X;", c);
                rep = num;
            }
        }
        if (rep == NULL)
            continue;
        zkp_buf_append(b, s + run, i - run);
        zkp_buf_puts(b, rep);
        run = i + 1;
    }
    zkp_buf_append(b, s + run, len - run);
}

void zkp_xml_elem(zkp_buf_t *b, const char *tag, const char *text)
{
    zkp_buf_printf(b, "<%s>", tag);
    zkp_xml_escape(b, text, strlen(text));
    zkp_buf_printf(b, "</%s>", tag);
}

char *zkp_xml_error(const char *code, const char *message, const char *resource,
                    const char *request_id, const zkp_xml_extra_t *extra, size_t nextra,
                    size_t *len)
{
    zkp_buf_t b;
    zkp_buf_init(&b);
    zkp_buf_puts(&b, ZKP_XML_DECL "<Error>");
    zkp_xml_elem(&b, "Code", code);
    zkp_xml_elem(&b, "Message", message);
    if (resource != NULL)
        zkp_xml_elem(&b, "Resource", resource);
    for (size_t i = 0; i < nextra; i++)
        zkp_xml_elem(&b, extra[i].tag, extra[i].text);
    zkp_xml_elem(&b, "RequestId", request_id ? request_id : "");
    zkp_buf_puts(&b, "</Error>\n");
    return zkp_buf_steal(&b, len);
}

/* --- DeleteObjects body ------------------------------------------------ */

/* Decodes the five predefined entities and numeric references in
 * s[0..len) into a fresh string. NULL on an unknown entity or NUL. */
static char *xml_unescape(const char *s, size_t len)
{
    zkp_buf_t b;
    zkp_buf_init(&b);
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '&') {
            zkp_buf_append(&b, &s[i], 1);
            continue;
        }
        const char *semi = memchr(s + i, ';', len - i);
        if (semi == NULL)
            goto bad;
        size_t n = (size_t)(semi - (s + i)) + 1;
        static const struct {
            const char *ent;
            char c;
        } ents[] = {
            {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
        int done = 0;
        for (size_t e = 0; e < 5 && !done; e++)
            if (n == strlen(ents[e].ent) && memcmp(s + i, ents[e].ent, n) == 0) {
                zkp_buf_append(&b, &ents[e].c, 1);
                done = 1;
            }
        if (!done) {
            if (n < 4 || s[i + 1] != '#' || n > ZKP_XML_REF_MAX)
                goto bad;
            char tmp[16];
            memcpy(tmp, s + i + 2, n - 3);
            tmp[n - 3] = '\0';
            char *end;
            unsigned long cp = (tmp[0] == 'x' || tmp[0] == 'X') ? strtoul(tmp + 1, &end, 16)
                                                                : strtoul(tmp, &end, 10);
            if (*end != '\0' || cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                goto bad;
            unsigned char u[4];
            size_t ul;
            if (cp < 0x80) {
                u[0] = (unsigned char)cp;
                ul = 1;
            } else if (cp < 0x800) {
                u[0] = (unsigned char)(0xc0 | cp >> 6);
                u[1] = (unsigned char)(0x80 | (cp & 0x3f));
                ul = 2;
            } else if (cp < 0x10000) {
                u[0] = (unsigned char)(0xe0 | cp >> 12);
                u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
                u[2] = (unsigned char)(0x80 | (cp & 0x3f));
                ul = 3;
            } else {
                u[0] = (unsigned char)(0xf0 | cp >> 18);
                u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
                u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
                u[3] = (unsigned char)(0x80 | (cp & 0x3f));
                ul = 4;
            }
            zkp_buf_append(&b, u, ul);
        }
        i += n - 1;
    }
    if (memchr(b.data ? b.data : "", '\0', b.len) != NULL)
        goto bad;
    return zkp_buf_steal(&b, NULL);
bad:
    zkp_buf_free(&b);
    return NULL;
}

/* Finds the text of the next <tag>...</tag> at or after *pos. Returns 1 and
 * sets [*start, *end) to the content, 0 if there is none, -1 if an opening
 * tag has no closing one. A self-closing <tag/> is not a match. */
static int next_elem(const char *s, size_t len, size_t *pos, const char *tag, size_t *start,
                     size_t *end)
{
    char open[32], close[32];
    snprintf(open, sizeof(open), "<%s>", tag);
    snprintf(close, sizeof(close), "</%s>", tag);
    const char *o = memmem(s + *pos, len - *pos, open, strlen(open));
    if (o == NULL)
        return 0;
    size_t cs = (size_t)(o - s) + strlen(open);
    const char *c = memmem(s + cs, len - cs, close, strlen(close));
    if (c == NULL)
        return -1;
    *start = cs;
    *end = (size_t)(c - s);
    *pos = *end + strlen(close);
    return 1;
}

static int add_key(zkp_delete_req_t *d, char *key, size_t max_keys)
{
    if (d->nkeys >= max_keys)
        return -1;
    char **k = realloc(d->keys, (d->nkeys + 1) * sizeof(*k));
    if (k == NULL)
        return -1;
    d->keys = k;
    d->keys[d->nkeys++] = key;
    return 0;
}

int zkp_xml_parse_delete(const char *body, size_t len, size_t max_keys, zkp_delete_req_t *out)
{
    memset(out, 0, sizeof(*out));
    if (memmem(body, len, "<Delete", 7) == NULL || memmem(body, len, "</Delete>", 9) == NULL)
        return -1;
    size_t pos = 0, s, e;
    int rc = next_elem(body, len, &pos, "Quiet", &s, &e);
    if (rc < 0)
        return -1;
    if (rc == 1) {
        while (s < e && (body[s] == ' ' || body[s] == '\n' || body[s] == '\t' || body[s] == '\r'))
            s++;
        out->quiet = e - s >= 4 && memcmp(body + s, "true", 4) == 0;
    }
    pos = 0;
    size_t os, oe;
    while ((rc = next_elem(body, len, &pos, "Object", &os, &oe)) == 1) {
        size_t kpos = os;
        if (next_elem(body, oe, &kpos, "Key", &s, &e) != 1)
            goto bad;
        char *key = xml_unescape(body + s, e - s);
        if (key == NULL)
            goto bad;
        if (add_key(out, key, max_keys) != 0) {
            free(key);
            goto bad;
        }
    }
    if (rc < 0 || out->nkeys == 0)
        goto bad;
    return 0;
bad:
    zkp_delete_req_free(out);
    return -1;
}

void zkp_delete_req_free(zkp_delete_req_t *d)
{
    for (size_t i = 0; i < d->nkeys; i++)
        free(d->keys[i]);
    free(d->keys);
    memset(d, 0, sizeof(*d));
}
