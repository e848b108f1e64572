/* The upstream's answers to the multipart calls (s3mpu.h). */
#include "backend/s3/s3mpu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/s3/s3list.h"
#include "backend/s3/s3xml.h"
#include "util/textutil.h"

static int printable(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
            return 0;
    return 1;
}

/* An ETag's text without its quotes into etag; 0, or -1 if too long. */
static int unquote(const char *t, size_t l, char etag[ZKP_ETAG_MAX + 1])
{
    if (l >= 2 && t[0] == '"' && t[l - 1] == '"') {
        t++;
        l -= 2;
    }
    if (l > ZKP_ETAG_MAX || !printable(t, l))
        return -1;
    memcpy(etag, t, l);
    etag[l] = '\0';
    return 0;
}

/* --- one element of a small document ---------------------------------------------------- */

typedef struct single {
    const char *root; /* expected root */
    const char *elem; /* the depth-2 element wanted */
    int root_ok, is_error, found, oom;
    char *text;
    char code[64], message[200];
} single_t;

static void single_open(void *arg, const char *name, int depth)
{
    single_t *s = arg;
    if (depth == 1) {
        s->root_ok = strcmp(name, s->root) == 0;
        s->is_error = strcmp(name, "Error") == 0;
    }
}

static void single_close(void *arg, const char *name, int depth, const char *text, size_t len)
{
    single_t *s = arg;
    if (depth != 2)
        return;
    if (s->is_error && strcmp(name, "Code") == 0 && len < sizeof(s->code) && printable(text, len))
        snprintf(s->code, sizeof(s->code), "%s", text);
    else if (s->is_error && strcmp(name, "Message") == 0)
        snprintf(s->message, sizeof(s->message), "%.*s", (int)len, text);
    else if (s->root_ok && !s->found && strcmp(name, s->elem) == 0) {
        s->found = 1;
        s->oom |= (s->text = strndup(text, len)) == NULL;
    }
}

static int single(const char *xml, size_t len, single_t *s)
{
    zkp_s3xml_handler_t h = {single_open, single_close};
    int bad = zkp_s3xml_parse(xml, len, &h, s) != 0;
    if (s->oom) {
        free(s->text);
        s->text = NULL;
        return ZKP_BE_NOMEM;
    }
    if (!bad && s->is_error && s->code[0] != '\0') {
        int transient = strcmp(s->code, "InternalError") == 0 || strcmp(s->code, "SlowDown") == 0 ||
                        strcmp(s->code, "ServiceUnavailable") == 0;
        char msg[256];
        snprintf(msg, sizeof(msg), "%s (the upstream store's answer)",
                 s->message[0] && printable(s->message, 1) ? s->message : s->code);
        return zkp_be_fail(transient ? ZKP_BE_UNAVAILABLE : ZKP_BE_UPSTREAM, transient ? 503 : 400,
                           s->code, msg);
    }
    if (bad || !s->root_ok || !s->found) {
        free(s->text);
        s->text = NULL;
        return ZKP_BE_BAD_GATEWAY;
    }
    return ZKP_BE_OK;
}

int zkp_s3mpu_upload_id(const char *xml, size_t len, char **id)
{
    single_t s;
    memset(&s, 0, sizeof(s));
    s.root = "InitiateMultipartUploadResult";
    s.elem = "UploadId";
    int rc = single(xml, len, &s);
    if (rc != ZKP_BE_OK)
        return rc;
    size_t l = strlen(s.text);
    if (l == 0 || l > ZKP_UPLOAD_ID_MAX || !printable(s.text, l)) {
        free(s.text);
        return ZKP_BE_BAD_GATEWAY;
    }
    *id = s.text;
    return ZKP_BE_OK;
}

int zkp_s3mpu_etag(const char *xml, size_t len, const char *root, char etag[ZKP_ETAG_MAX + 1])
{
    single_t s;
    memset(&s, 0, sizeof(s));
    s.root = root;
    s.elem = "ETag";
    int rc = single(xml, len, &s);
    if (rc != ZKP_BE_OK)
        return rc;
    rc = unquote(s.text, strlen(s.text), etag) == 0 ? ZKP_BE_OK : ZKP_BE_BAD_GATEWAY;
    free(s.text);
    return rc;
}

/* --- ListPartsResult ---------------------------------------------------------------------- */

typedef struct parts {
    int root_ok, oom, in_part;
    zkp_part_info_t cur;
    zkp_part_list_t *l;
    size_t cap;
} parts_t;

static void parts_open(void *arg, const char *name, int depth)
{
    parts_t *p = arg;
    if (depth == 1)
        p->root_ok = strcmp(name, "ListPartsResult") == 0;
    if (depth == 2 && strcmp(name, "Part") == 0) {
        memset(&p->cur, 0, sizeof(p->cur));
        p->in_part = 1;
    }
}

static void parts_close(void *arg, const char *name, int depth, const char *text, size_t len)
{
    parts_t *p = arg;
    if (depth == 2 && strcmp(name, "IsTruncated") == 0)
        p->l->truncated = strcmp(text, "true") == 0;
    else if (depth == 2 && strcmp(name, "NextPartNumberMarker") == 0)
        p->l->next_marker = atoi(text);
    else if (depth == 3 && p->in_part) {
        if (strcmp(name, "PartNumber") == 0)
            p->cur.number = atoi(text);
        else if (strcmp(name, "Size") == 0)
            p->cur.size = strtoull(text, NULL, 10);
        else if (strcmp(name, "LastModified") == 0)
            p->cur.mtime = zkp_s3list_time(text);
        else if (strcmp(name, "ETag") == 0 && unquote(text, len, p->cur.etag) != 0)
            p->cur.etag[0] = '\0';
    } else if (depth == 2 && p->in_part) {
        p->in_part = 0;
        if (p->cur.number < 1 || p->cur.number > ZKP_MPU_MAX_PARTS)
            return;
        if (p->l->n == p->cap) {
            size_t cap = p->cap ? 2 * p->cap : 64;
            zkp_part_info_t *t = realloc(p->l->parts, cap * sizeof(*t));
            if (t == NULL) {
                p->oom = 1;
                return;
            }
            p->l->parts = t;
            p->cap = cap;
        }
        p->l->parts[p->l->n++] = p->cur;
    }
}

int zkp_s3mpu_parts(const char *xml, size_t len, zkp_part_list_t *out)
{
    memset(out, 0, sizeof(*out));
    parts_t p;
    memset(&p, 0, sizeof(p));
    p.l = out;
    zkp_s3xml_handler_t h = {parts_open, parts_close};
    int bad = zkp_s3xml_parse(xml, len, &h, &p) != 0 || !p.root_ok;
    if (bad || p.oom) {
        zkp_part_list_free(out);
        return bad ? ZKP_BE_BAD_GATEWAY : ZKP_BE_NOMEM;
    }
    if (out->truncated && out->n > 0 && out->next_marker < out->parts[out->n - 1].number)
        out->next_marker = out->parts[out->n - 1].number;
    return ZKP_BE_OK;
}

/* --- ListMultipartUploadsResult ------------------------------------------------------------ */

typedef struct uploads {
    int root_ok, oom, url, in_item;
    zkp_upload_item_t cur;
    zkp_upload_list_result_t *res;
    size_t cap;
} uploads_t;

static void uploads_open(void *arg, const char *name, int depth)
{
    uploads_t *u = arg;
    if (depth == 1)
        u->root_ok = strcmp(name, "ListMultipartUploadsResult") == 0;
    if (depth == 2 && (strcmp(name, "Upload") == 0 || strcmp(name, "CommonPrefixes") == 0)) {
        free(u->cur.key);
        free(u->cur.upload_id);
        memset(&u->cur, 0, sizeof(u->cur));
        u->cur.is_prefix = strcmp(name, "CommonPrefixes") == 0;
        u->in_item = 1;
    }
}

static void set_str(uploads_t *u, char **dst, const char *text, size_t len)
{
    free(*dst);
    u->oom |= (*dst = strndup(text, len)) == NULL;
}

static void uploads_close(void *arg, const char *name, int depth, const char *text, size_t len)
{
    uploads_t *u = arg;
    if (depth == 2 && strcmp(name, "IsTruncated") == 0)
        u->res->truncated = strcmp(text, "true") == 0;
    else if (depth == 2 && strcmp(name, "EncodingType") == 0)
        u->url = strcmp(text, "url") == 0;
    else if (depth == 2 && strcmp(name, "NextKeyMarker") == 0 && len > 0)
        set_str(u, &u->res->next_key, text, len);
    else if (depth == 2 && strcmp(name, "NextUploadIdMarker") == 0 && len > 0)
        set_str(u, &u->res->next_upload_id, text, len);
    else if (depth == 3 && u->in_item) {
        if (strcmp(name, "Key") == 0 || strcmp(name, "Prefix") == 0)
            set_str(u, &u->cur.key, text, len);
        else if (strcmp(name, "UploadId") == 0 && printable(text, len))
            set_str(u, &u->cur.upload_id, text, len);
        else if (strcmp(name, "Initiated") == 0)
            u->cur.initiated = zkp_s3list_time(text);
    } else if (depth == 2 && u->in_item) {
        u->in_item = 0;
        if (u->cur.key == NULL || (!u->cur.is_prefix && u->cur.upload_id == NULL))
            return;
        if (u->res->n == u->cap) {
            size_t cap = u->cap ? 2 * u->cap : 64;
            zkp_upload_item_t *t = realloc(u->res->items, cap * sizeof(*t));
            if (t == NULL) {
                u->oom = 1;
                return;
            }
            u->res->items = t;
            u->cap = cap;
        }
        u->res->items[u->res->n++] = u->cur;
        memset(&u->cur, 0, sizeof(u->cur));
    }
}

/* A name decoded (when url) and without strip, in place; -1 if it does not
 * belong (or does not decode), -2 on OOM. */
static int rename_one(char **name, int url, const char *strip)
{
    char *s = *name;
    if (url) {
        size_t l = strlen(s), outl;
        char *dec = malloc(l + 1);
        if (dec == NULL)
            return -2;
        if (zkp_pct_decode(s, l, 1, dec, &outl) != 0 || strlen(dec) != outl) {
            free(dec);
            return -1;
        }
        free(s);
        *name = s = dec;
    }
    size_t sl = strlen(strip);
    if (strncmp(s, strip, sl) != 0 || s[sl] == '\0')
        return -1;
    memmove(s, s + sl, strlen(s + sl) + 1);
    return 0;
}

int zkp_s3mpu_uploads(const char *xml, size_t len, const char *strip, zkp_upload_list_result_t *res)
{
    memset(res, 0, sizeof(*res));
    uploads_t u;
    memset(&u, 0, sizeof(u));
    u.res = res;
    zkp_s3xml_handler_t h = {uploads_open, uploads_close};
    int bad = zkp_s3xml_parse(xml, len, &h, &u) != 0 || !u.root_ok;
    free(u.cur.key);
    free(u.cur.upload_id);
    int rc = bad ? ZKP_BE_BAD_GATEWAY : u.oom ? ZKP_BE_NOMEM : ZKP_BE_OK;
    size_t k = 0;
    for (size_t i = 0; i < res->n; i++) {
        int r = rc == ZKP_BE_OK ? rename_one(&res->items[i].key, u.url, strip) : -1;
        if (r == -2)
            rc = ZKP_BE_NOMEM;
        if (r != 0) {
            free(res->items[i].key);
            free(res->items[i].upload_id);
            continue;
        }
        res->items[k++] = res->items[i];
    }
    res->n = k;
    if (rc == ZKP_BE_OK && res->next_key != NULL && rename_one(&res->next_key, u.url, strip) != 0) {
        free(res->next_key); /* outside this bucket: no marker of ours */
        res->next_key = NULL;
    }
    if (rc != ZKP_BE_OK)
        zkp_upload_list_result_free(res);
    return rc;
}
