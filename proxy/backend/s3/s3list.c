/* The upstream's listings (s3list.h). */
#include "backend/s3/s3list.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend/s3/s3xml.h"
#include "util/textutil.h"

time_t zkp_s3list_time(const char *iso)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    if (sscanf(iso, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec) != 6)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    return t < 0 ? 0 : t;
}

/* --- ListBucketResult -------------------------------------------------------------- */

typedef struct objects {
    int root_ok;
    int url;
    int truncated;
    int oom;
    zkp_list_item_t cur; /* the Contents or CommonPrefixes being read */
    int in_item;
    zkp_list_item_t *items;
    size_t n, cap;
} objects_t;

static void objects_open(void *arg, const char *name, int depth)
{
    objects_t *o = arg;
    if (depth == 1)
        o->root_ok = strcmp(name, "ListBucketResult") == 0;
    if (depth == 2 && (strcmp(name, "Contents") == 0 || strcmp(name, "CommonPrefixes") == 0)) {
        free(o->cur.name);
        memset(&o->cur, 0, sizeof(o->cur));
        o->cur.is_prefix = strcmp(name, "CommonPrefixes") == 0;
        o->in_item = 1;
    }
}

static void objects_close(void *arg, const char *name, int depth, const char *text, size_t len)
{
    objects_t *o = arg;
    if (depth == 2 && strcmp(name, "IsTruncated") == 0)
        o->truncated = strcmp(text, "true") == 0;
    else if (depth == 2 && strcmp(name, "EncodingType") == 0)
        o->url = strcmp(text, "url") == 0;
    else if (depth == 3 && o->in_item) {
        if (strcmp(name, "Key") == 0 || strcmp(name, "Prefix") == 0) {
            free(o->cur.name);
            o->cur.name = strndup(text, len);
            o->oom |= o->cur.name == NULL;
        } else if (strcmp(name, "Size") == 0) {
            o->cur.size = strtoull(text, NULL, 10);
        } else if (strcmp(name, "LastModified") == 0) {
            o->cur.mtime = zkp_s3list_time(text);
        } else if (strcmp(name, "ETag") == 0) {
            const char *t = text;
            size_t l = len;
            if (l >= 2 && t[0] == '"' && t[l - 1] == '"') {
                t++;
                l -= 2;
            }
            if (l <= ZKP_ETAG_MAX)
                snprintf(o->cur.etag, sizeof(o->cur.etag), "%.*s", (int)l, t);
        }
    } else if (depth == 2 && o->in_item) {
        o->in_item = 0;
        if (o->cur.name == NULL)
            return;
        if (o->n == o->cap) {
            size_t cap = o->cap ? 2 * o->cap : 64;
            zkp_list_item_t *t = realloc(o->items, cap * sizeof(*t));
            if (t == NULL) {
                o->oom = 1;
                return;
            }
            o->items = t;
            o->cap = cap;
        }
        o->items[o->n++] = o->cur;
        memset(&o->cur, 0, sizeof(o->cur));
    }
}

static int item_cmp(const void *a, const void *b)
{
    return strcmp(((const zkp_list_item_t *)a)->name, ((const zkp_list_item_t *)b)->name);
}

/* Decodes (when url), strips the prefix and drops what does not belong.
 * Returns 0 or -1 on OOM. */
static int rename_items(objects_t *o, const char *strip, const char *skip)
{
    size_t sl = strlen(strip), k = 0;
    for (size_t i = 0; i < o->n; i++) {
        char *name = o->items[i].name;
        if (o->url) {
            size_t l = strlen(name), outl;
            char *dec = malloc(l + 1);
            if (dec == NULL)
                return -1;
            if (zkp_pct_decode(name, l, 1, dec, &outl) != 0 || strlen(dec) != outl) {
                free(dec);
                dec = NULL;
            }
            free(name);
            name = dec;
        }
        if (name == NULL || strncmp(name, strip, sl) != 0 || name[sl] == '\0' ||
            (skip != NULL && strcmp(name + sl, skip) == 0)) {
            free(name);
            continue;
        }
        memmove(name, name + sl, strlen(name + sl) + 1);
        o->items[i].name = name;
        o->items[k++] = o->items[i];
    }
    o->n = k;
    return 0;
}

int zkp_s3list_objects(const char *xml, size_t len, const char *strip, const char *skip,
                       zkp_list_result_t *res)
{
    memset(res, 0, sizeof(*res));
    objects_t o;
    memset(&o, 0, sizeof(o));
    zkp_s3xml_handler_t h = {objects_open, objects_close};
    int bad = zkp_s3xml_parse(xml, len, &h, &o) != 0 || !o.root_ok;
    free(o.cur.name);
    int rc = bad ? ZKP_BE_BAD_GATEWAY : o.oom ? ZKP_BE_NOMEM : ZKP_BE_OK;
    if (rc == ZKP_BE_OK && rename_items(&o, strip, skip) != 0)
        rc = ZKP_BE_NOMEM;
    res->items = o.items;
    res->n = o.n;
    if (rc != ZKP_BE_OK) {
        zkp_list_result_free(res);
        return rc;
    }
    if (res->n > 1) /* an empty page has no items array: qsort's is nonnull */
        qsort(res->items, res->n, sizeof(*res->items), item_cmp);
    res->truncated = o.truncated && res->n > 0;
    if (res->truncated && (res->next = strdup(res->items[res->n - 1].name)) == NULL) {
        zkp_list_result_free(res);
        return ZKP_BE_NOMEM;
    }
    return ZKP_BE_OK;
}

/* --- ListAllMyBucketsResult --------------------------------------------------------- */

typedef struct buckets {
    int root_ok;
    int oom;
    zkp_bucket_info_t cur;
    zkp_bucket_info_t *list;
    size_t n;
} buckets_t;

static void buckets_open(void *arg, const char *name, int depth)
{
    buckets_t *b = arg;
    if (depth == 1)
        b->root_ok = strcmp(name, "ListAllMyBucketsResult") == 0;
    if (depth == 3 && strcmp(name, "Bucket") == 0)
        memset(&b->cur, 0, sizeof(b->cur));
}

static void buckets_close(void *arg, const char *name, int depth, const char *text, size_t len)
{
    buckets_t *b = arg;
    if (depth == 4 && strcmp(name, "Name") == 0 && zkp_bucket_name_valid(text, len))
        snprintf(b->cur.name, sizeof(b->cur.name), "%s", text);
    else if (depth == 4 && strcmp(name, "CreationDate") == 0)
        b->cur.created = zkp_s3list_time(text);
    else if (depth == 3 && strcmp(name, "Bucket") == 0 && b->cur.name[0] != '\0') {
        zkp_bucket_info_t *t = realloc(b->list, (b->n + 1) * sizeof(*t));
        if (t == NULL) {
            b->oom = 1;
            return;
        }
        b->list = t;
        t[b->n++] = b->cur;
    }
}

int zkp_s3list_buckets(const char *xml, size_t len, zkp_bucket_info_t **out, size_t *n)
{
    buckets_t b;
    memset(&b, 0, sizeof(b));
    zkp_s3xml_handler_t h = {buckets_open, buckets_close};
    int bad = zkp_s3xml_parse(xml, len, &h, &b) != 0 || !b.root_ok;
    if (bad || b.oom) {
        free(b.list);
        return bad ? ZKP_BE_BAD_GATEWAY : ZKP_BE_NOMEM;
    }
    *out = b.list;
    *n = b.n;
    return ZKP_BE_OK;
}
