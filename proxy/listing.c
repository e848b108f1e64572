#include "listing.h"

#include <stdlib.h>
#include <string.h>

size_t zkp_index_lower_bound(zkp_index_entry_t *const *entries, size_t n, const char *key,
                             int strict)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(entries[mid]->key, key);
        if (c < 0 || (strict && c == 0))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int has_prefix(const char *s, const char *p, size_t plen)
{
    return strncmp(s, p, plen) == 0;
}

/* First index at or after i whose key does not start with p. */
static size_t skip_prefixed(zkp_index_entry_t *const *e, size_t n, size_t i, const char *p)
{
    size_t plen = strlen(p);
    while (i < n && has_prefix(e[i]->key, p, plen))
        i++;
    return i;
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
        memcpy(it->etag, e->etag, sizeof(it->etag));
    }
    res->n++;
    return 0;
}

/* Where listing starts: the first key >= prefix and > after; if `after` is
 * itself a common prefix of this listing, past every key under it. */
static size_t start_index(zkp_index_entry_t *const *e, size_t n, const zkp_list_req_t *req,
                          const char *prefix, size_t plen)
{
    size_t i = zkp_index_lower_bound(e, n, prefix, 0);
    if (req->after == NULL)
        return i;
    size_t j = zkp_index_lower_bound(e, n, req->after, 1);
    if (j > i)
        i = j;
    const char *d = req->delimiter;
    size_t alen = strlen(req->after);
    if (d != NULL && alen > plen && has_prefix(req->after, prefix, plen)) {
        const char *hit = strstr(req->after + plen, d);
        if (hit != NULL && (size_t)(hit - req->after) + strlen(d) == alen)
            i = skip_prefixed(e, n, i, req->after);
    }
    return i;
}

int zkp_list_page(zkp_index_entry_t *const *e, size_t n, const zkp_list_req_t *req,
                  zkp_list_result_t *res)
{
    memset(res, 0, sizeof(*res));
    const char *prefix = req->prefix ? req->prefix : "";
    size_t plen = strlen(prefix);
    const char *d = req->delimiter && *req->delimiter ? req->delimiter : NULL;
    size_t cap = 0;
    size_t i = start_index(e, n, req, prefix, plen);
    while (i < n && has_prefix(e[i]->key, prefix, plen)) {
        if (res->n == (size_t)req->max_keys) {
            res->truncated = req->max_keys > 0;
            break;
        }
        const char *hit = d ? strstr(e[i]->key + plen, d) : NULL;
        if (hit != NULL) {
            size_t len = (size_t)(hit - e[i]->key) + strlen(d);
            if (push(res, &cap, e[i], e[i]->key, len, 1) != 0)
                goto oom;
            i = skip_prefixed(e, n, i, res->items[res->n - 1].name);
            continue;
        }
        if (push(res, &cap, e[i], e[i]->key, e[i]->klen, 0) != 0)
            goto oom;
        i++;
    }
    if (res->truncated && (res->next = strdup(res->items[res->n - 1].name)) == NULL)
        goto oom;
    return 0;
oom:
    zkp_list_result_free(res);
    return -1;
}

void zkp_list_result_free(zkp_list_result_t *res)
{
    for (size_t i = 0; i < res->n; i++)
        free(res->items[i].name);
    free(res->items);
    free(res->next);
    memset(res, 0, sizeof(*res));
}
