#include "http/xml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/textutil.h"

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

void zkp_xml_elem_enc(zkp_buf_t *b, const char *tag, const char *text, int url_encode)
{
    if (!url_encode) {
        zkp_xml_elem(b, tag, text);
        return;
    }
    size_t len = strlen(text);
    char *enc = malloc(3 * len + 1);
    if (enc == NULL) {
        b->oom = 1;
        return;
    }
    zkp_pct_encode(text, len, 1, enc);
    zkp_xml_elem(b, tag, enc);
    free(enc);
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

/* Takes key and version (may be NULL) in every case. */
static int add_key(zkp_delete_req_t *d, char *key, char *version, size_t max_keys)
{
    char **k = d->nkeys < max_keys ? realloc(d->keys, (d->nkeys + 1) * sizeof(*k)) : NULL;
    if (k != NULL)
        d->keys = k;
    char **v = k != NULL ? realloc(d->versions, (d->nkeys + 1) * sizeof(*v)) : NULL;
    if (v == NULL) {
        free(key);
        free(version);
        return -1;
    }
    d->versions = v;
    d->keys[d->nkeys] = key;
    d->versions[d->nkeys++] = version;
    return 0;
}

/* The decoded text of the optional <tag> inside [from, to): 0 with *out
 * NULL when absent, -1 when malformed. */
static int optional_text(const char *body, size_t from, size_t to, const char *tag, char **out)
{
    size_t pos = from, s, e;
    *out = NULL;
    int rc = next_elem(body, to, &pos, tag, &s, &e);
    if (rc <= 0)
        return rc;
    return (*out = xml_unescape(body + s, e - s)) != NULL ? 0 : -1;
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
        char *key = xml_unescape(body + s, e - s), *version = NULL;
        if (key == NULL || optional_text(body, os, oe, "VersionId", &version) != 0) {
            free(key);
            goto bad;
        }
        if (add_key(out, key, version, max_keys) != 0)
            goto bad;
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
    for (size_t i = 0; i < d->nkeys; i++) {
        free(d->keys[i]);
        free(d->versions[i]);
    }
    free(d->keys);
    free(d->versions);
    memset(d, 0, sizeof(*d));
}

/* --- CreateBucket body ------------------------------------------------------------------ */

static int is_space(char c)
{
    return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

static int has_prefix_at(const char *s, size_t len, size_t at, const char *p)
{
    size_t n = strlen(p);
    return len - at >= n && memcmp(s + at, p, n) == 0;
}

int zkp_xml_parse_create_bucket(const char *body, size_t len, char **location)
{
    *location = NULL;
    size_t a = 0, e = len;
    while (a < e && is_space(body[a]))
        a++;
    while (e > a && is_space(body[e - 1]))
        e--;
    if (a == e)
        return 0; /* no configuration: the endpoint's region */
    if (has_prefix_at(body, e, a, "<?xml")) {
        const char *q = memmem(body + a, e - a, "?>", 2);
        if (q == NULL)
            return -1;
        a = (size_t)(q - body) + 2;
        while (a < e && is_space(body[a]))
            a++;
    }
    static const char root[] = "<CreateBucketConfiguration";
    if (!has_prefix_at(body, e, a, root) || e - a <= sizeof(root) - 1)
        return -1;
    char after = body[a + sizeof(root) - 1];
    if (after != '>' && after != '/' && !is_space(after))
        return -1;
    const char *gt = memchr(body + a, '>', e - a);
    if (gt == NULL)
        return -1;
    if (gt[-1] == '/') /* <CreateBucketConfiguration .../>: nothing in it */
        return (size_t)(gt - body) + 1 == e ? 0 : -1;
    static const char end[] = "</CreateBucketConfiguration>";
    if (e - a < sizeof(end) - 1 || memcmp(body + e - (sizeof(end) - 1), end, sizeof(end) - 1) != 0)
        return -1;
    char *loc;
    if (optional_text(body, (size_t)(gt - body) + 1, e, "LocationConstraint", &loc) != 0)
        return -1;
    if (loc != NULL) {
        size_t s = 0, n = strlen(loc);
        while (s < n && is_space(loc[s]))
            s++;
        while (n > s && is_space(loc[n - 1]))
            n--;
        memmove(loc, loc + s, n - s);
        loc[n - s] = '\0';
    }
    *location = loc;
    return 0;
}

/* --- CompleteMultipartUpload body ----------------------------------------------------- */

/* <PartNumber>: decimal digits, whitespace around them allowed. */
static int part_number(const char *s, size_t len, int *out)
{
    while (len > 0 && is_space(*s)) {
        s++;
        len--;
    }
    while (len > 0 && is_space(s[len - 1]))
        len--;
    if (len == 0 || len > 9)
        return -1;
    int n = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        n = n * 10 + (s[i] - '0');
    }
    *out = n;
    return 0;
}

/* <ETag>: decoded, without the whitespace and double quotes around it. */
static int part_etag(const char *s, size_t len, char out[ZKP_ETAG_MAX + 1])
{
    char *t = xml_unescape(s, len);
    if (t == NULL)
        return -1;
    char *a = t, *z = t + strlen(t);
    while (a < z && (is_space(*a) || *a == '"'))
        a++;
    while (z > a && (is_space(z[-1]) || z[-1] == '"'))
        z--;
    size_t n = (size_t)(z - a);
    int rc = n > 0 && n <= ZKP_ETAG_MAX ? 0 : -1;
    if (rc == 0) {
        memcpy(out, a, n);
        out[n] = '\0';
    }
    free(t);
    return rc;
}

int zkp_xml_parse_complete(const char *body, size_t len, size_t max_parts, zkp_complete_req_t *out)
{
    memset(out, 0, sizeof(*out));
    if (memmem(body, len, "<CompleteMultipartUpload", 24) == NULL ||
        memmem(body, len, "</CompleteMultipartUpload>", 26) == NULL)
        return -1;
    size_t pos = 0, ps, pe, cap = 0;
    int rc;
    while ((rc = next_elem(body, len, &pos, "Part", &ps, &pe)) == 1) {
        if (out->nparts == max_parts)
            goto bad;
        if (out->nparts == cap) {
            cap = cap ? 2 * cap : 16;
            zkp_part_ref_t *p = realloc(out->parts, cap * sizeof(*p));
            if (p == NULL)
                goto bad;
            out->parts = p;
        }
        zkp_part_ref_t *p = &out->parts[out->nparts];
        size_t q = ps, s, e;
        if (next_elem(body, pe, &q, "PartNumber", &s, &e) != 1 ||
            part_number(body + s, e - s, &p->number) != 0)
            goto bad;
        q = ps;
        if (next_elem(body, pe, &q, "ETag", &s, &e) != 1 ||
            part_etag(body + s, e - s, p->etag) != 0)
            goto bad;
        out->nparts++;
    }
    if (rc < 0 || out->nparts == 0)
        goto bad;
    return 0;
bad:
    zkp_complete_req_free(out);
    return -1;
}

void zkp_complete_req_free(zkp_complete_req_t *c)
{
    free(c->parts);
    memset(c, 0, sizeof(*c));
}
