#include "backend/fs/listing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int has_prefix(const char *s, const char *p, size_t plen)
{
    return strncmp(s, p, plen) == 0;
}

/* The first place at or after p whose key does not start with pfx. */
static zkp_kx_pos_t skip_prefixed(const zkp_kx_t *x, zkp_kx_pos_t p, const char *pfx)
{
    zkp_kx_pos_t q = zkp_kx_past_prefix(x, pfx);
    return q.leaf > p.leaf || (q.leaf == p.leaf && q.slot > p.slot) ? q : p;
}

static int push(zkp_list_result_t *res, size_t *cap, const zkp_index_entry_t *e, const char *name,
                size_t len, int is_prefix)
{
    if (res->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        zkp_list_item_t *it = realloc(res->items, nc * sizeof(*it));
        if (it == NULL)
            return -1;
        res->items = it;
        *cap = nc;
    }
    zkp_list_item_t *it = &res->items[res->n];
    memset(it, 0, sizeof(*it));
    if ((it->name = strndup(name, len)) == NULL)
        return -1;
    it->is_prefix = is_prefix;
    if (!is_prefix) {
        it->size = e->size;
        it->mtime = e->mtime;
        if (e->parts > 0)
            snprintf(it->etag, sizeof(it->etag), "%s-%u", e->etag, (unsigned)e->parts);
        else
            snprintf(it->etag, sizeof(it->etag), "%s", e->etag);
    }
    res->n++;
    return 0;
}

/* Where listing starts: the first key >= prefix and > after; if `after` is
 * itself a common prefix of this listing, past every key under it. */
static zkp_kx_pos_t start_pos(const zkp_kx_t *x, const zkp_list_req_t *req, const char *prefix,
                              size_t plen)
{
    if (req->after == NULL || strcmp(req->after, prefix) < 0)
        return zkp_kx_lower_bound(x, prefix, 0);
    zkp_kx_pos_t p = zkp_kx_lower_bound(x, req->after, 1);
    const char *d = req->delimiter;
    size_t alen = strlen(req->after);
    if (d != NULL && alen > plen && has_prefix(req->after, prefix, plen)) {
        const char *hit = strstr(req->after + plen, d);
        if (hit != NULL && (size_t)(hit - req->after) + strlen(d) == alen)
            p = skip_prefixed(x, p, req->after);
    }
    return p;
}

int zkp_list_page(const zkp_kx_t *x, const zkp_list_req_t *req, zkp_list_result_t *res)
{
    memset(res, 0, sizeof(*res));
    const char *prefix = req->prefix ? req->prefix : "";
    size_t plen = strlen(prefix);
    const char *d = req->delimiter && *req->delimiter ? req->delimiter : NULL;
    size_t cap = 0;
    zkp_kx_pos_t p = start_pos(x, req, prefix, plen);
    const zkp_index_entry_t *e;
    while ((e = zkp_kx_at(x, p)) != NULL && has_prefix(e->key, prefix, plen)) {
        if (res->n == (size_t)req->max_keys) {
            res->truncated = req->max_keys > 0;
            break;
        }
        const char *hit = d ? strstr(e->key + plen, d) : NULL;
        if (hit != NULL) {
            size_t len = (size_t)(hit - e->key) + strlen(d);
            if (push(res, &cap, e, e->key, len, 1) != 0)
                goto oom;
            p = skip_prefixed(x, p, res->items[res->n - 1].name);
            continue;
        }
        if (push(res, &cap, e, e->key, e->klen, 0) != 0)
            goto oom;
        zkp_kx_next(x, &p);
    }
    if (res->truncated && (res->next = strdup(res->items[res->n - 1].name)) == NULL)
        goto oom;
    return 0;
oom:
    zkp_list_result_free(res);
    return -1;
}
