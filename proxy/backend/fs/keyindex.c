/* The key index (keyindex.h): a sorted directory of sorted leaves.
 *
 * Invariants, checked by the unit test after every operation:
 *   - no leaf is empty, and keys rise strictly across leaves in order;
 *   - any two adjacent leaves hold more than ZKP_KX_LEAF_MAX / 2 entries
 *     together (a removal merges a leaf into a neighbour otherwise), so
 *     leaves are at least a quarter full on average, whatever the history
 *     of inserts and removals. */
#include "backend/fs/keyindex.h"

#include <stdlib.h>
#include <string.h>

struct zkp_kx_leaf {
    size_t n;
    zkp_index_entry_t *e[ZKP_KX_LEAF_MAX];
};

void zkp_kx_init(zkp_kx_t *x)
{
    memset(x, 0, sizeof(*x));
}

void zkp_kx_clear(zkp_kx_t *x)
{
    for (size_t i = 0; i < x->nleaves; i++) {
        for (size_t j = 0; j < x->leaves[i]->n; j++)
            free(x->leaves[i]->e[j]);
        free(x->leaves[i]);
    }
    free(x->leaves);
    zkp_kx_init(x);
}

/* Lookups compare the first n bytes of keys with key (WHOLE: whole keys);
 * a shorter n ranks every key that starts with those bytes equal. */
#define WHOLE SIZE_MAX

static int cmp(const char *a, const char *key, size_t n)
{
    return n == WHOLE ? strcmp(a, key) : strncmp(a, key, n);
}

/* First slot of l whose key is >= key (> key when strict). */
static size_t leaf_lower_bound(const zkp_kx_leaf_t *l, const char *key, size_t n, int strict)
{
    size_t lo = 0, hi = l->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp(l->e[mid]->key, key, n);
        if (c < 0 || (strict && c == 0))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* First leaf whose last key is >= key (> key when strict): the leaf of the
 * lower bound; nleaves when every key is below. */
static size_t leaf_for(const zkp_kx_t *x, const char *key, size_t n, int strict)
{
    size_t lo = 0, hi = x->nleaves;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const zkp_kx_leaf_t *l = x->leaves[mid];
        int c = cmp(l->e[l->n - 1]->key, key, n);
        if (c < 0 || (strict && c == 0))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static zkp_kx_pos_t lower_bound_n(const zkp_kx_t *x, const char *key, size_t n, int strict)
{
    zkp_kx_pos_t p = {leaf_for(x, key, n, strict), 0};
    if (p.leaf < x->nleaves)
        p.slot = leaf_lower_bound(x->leaves[p.leaf], key, n,
                                  strict); /* < its count: its last key is >= */
    return p;
}

zkp_kx_pos_t zkp_kx_lower_bound(const zkp_kx_t *x, const char *key, int strict)
{
    return lower_bound_n(x, key, WHOLE, strict);
}

zkp_kx_pos_t zkp_kx_past_prefix(const zkp_kx_t *x, const char *prefix)
{
    return lower_bound_n(x, prefix, strlen(prefix), 1);
}

const zkp_index_entry_t *zkp_kx_at(const zkp_kx_t *x, zkp_kx_pos_t p)
{
    return p.leaf < x->nleaves ? x->leaves[p.leaf]->e[p.slot] : NULL;
}

void zkp_kx_next(const zkp_kx_t *x, zkp_kx_pos_t *p)
{
    if (++p->slot == x->leaves[p->leaf]->n) {
        p->leaf++;
        p->slot = 0;
    }
}

const zkp_index_entry_t *zkp_kx_find(const zkp_kx_t *x, const char *key)
{
    const zkp_index_entry_t *e = zkp_kx_at(x, zkp_kx_lower_bound(x, key, 0));
    return e != NULL && strcmp(e->key, key) == 0 ? e : NULL;
}

/* Room for one more leaf in the directory. */
static int dir_reserve(zkp_kx_t *x)
{
    if (x->nleaves < x->cap)
        return 0;
    size_t cap = x->cap ? x->cap * 2 : 8;
    zkp_kx_leaf_t **l = realloc(x->leaves, cap * sizeof(*l));
    if (l == NULL)
        return -1;
    x->leaves = l;
    x->cap = cap;
    return 0;
}

/* Puts leaf l at directory position i (room reserved). */
static void dir_insert(zkp_kx_t *x, size_t i, zkp_kx_leaf_t *l)
{
    memmove(x->leaves + i + 1, x->leaves + i, (x->nleaves - i) * sizeof(*x->leaves));
    x->leaves[i] = l;
    x->nleaves++;
}

/* Frees the leaf at directory position i (its entries are gone or moved). */
static void dir_drop(zkp_kx_t *x, size_t i)
{
    free(x->leaves[i]);
    memmove(x->leaves + i, x->leaves + i + 1, (x->nleaves - i - 1) * sizeof(*x->leaves));
    x->nleaves--;
}

int zkp_kx_upsert(zkp_kx_t *x, zkp_index_entry_t *e)
{
    size_t li = leaf_for(x, e->key, WHOLE, 0);
    if (li == x->nleaves && li > 0)
        li--;               /* above every key: the end of the last leaf */
    if (li == x->nleaves) { /* the first entry */
        zkp_kx_leaf_t *l = malloc(sizeof(*l));
        if (l == NULL || dir_reserve(x) != 0) {
            free(l);
            free(e);
            return -1;
        }
        l->n = 0;
        dir_insert(x, 0, l);
    }
    zkp_kx_leaf_t *l = x->leaves[li];
    size_t s = leaf_lower_bound(l, e->key, WHOLE, 0);
    if (s < l->n && strcmp(l->e[s]->key, e->key) == 0) {
        free(l->e[s]);
        l->e[s] = e;
        return 0;
    }
    if (l->n == ZKP_KX_LEAF_MAX) {
        /* Split: the upper half moves to a new leaf right after l. */
        zkp_kx_leaf_t *r = malloc(sizeof(*r));
        if (r == NULL || dir_reserve(x) != 0) {
            free(r);
            free(e);
            return -1;
        }
        size_t half = l->n / 2;
        r->n = l->n - half;
        memcpy(r->e, l->e + half, r->n * sizeof(*r->e));
        l->n = half;
        dir_insert(x, li + 1, r);
        if (s > half) {
            l = r;
            s -= half;
        }
    }
    memmove(l->e + s + 1, l->e + s, (l->n - s) * sizeof(*l->e));
    l->e[s] = e;
    l->n++;
    x->count++;
    return 0;
}

/* Leaf i + 1 moves into leaf i when both fit in half a leaf. */
static int merge_pair(zkp_kx_t *x, size_t i)
{
    zkp_kx_leaf_t *l = x->leaves[i], *r = x->leaves[i + 1];
    if (l->n + r->n > ZKP_KX_LEAF_MAX / 2)
        return 0;
    memcpy(l->e + l->n, r->e, r->n * sizeof(*l->e));
    l->n += r->n;
    dir_drop(x, i + 1);
    return 1;
}

int zkp_kx_remove(zkp_kx_t *x, const char *key)
{
    zkp_kx_pos_t p = zkp_kx_lower_bound(x, key, 0);
    if (p.leaf == x->nleaves)
        return 0;
    zkp_kx_leaf_t *l = x->leaves[p.leaf];
    if (strcmp(l->e[p.slot]->key, key) != 0)
        return 0;
    free(l->e[p.slot]);
    memmove(l->e + p.slot, l->e + p.slot + 1, (l->n - p.slot - 1) * sizeof(*l->e));
    l->n--;
    x->count--;
    if (l->n == 0)
        dir_drop(x, p.leaf);
    else if (!(p.leaf + 1 < x->nleaves && merge_pair(x, p.leaf)) && p.leaf > 0)
        merge_pair(x, p.leaf - 1);
    return 1;
}

int zkp_kx_check(const zkp_kx_t *x)
{
    size_t count = 0;
    const char *prev = NULL;
    for (size_t i = 0; i < x->nleaves; i++) {
        const zkp_kx_leaf_t *l = x->leaves[i];
        if (l->n == 0 || l->n > ZKP_KX_LEAF_MAX)
            return -1;
        if (i > 0 && x->leaves[i - 1]->n + l->n <= ZKP_KX_LEAF_MAX / 2)
            return -1;
        for (size_t j = 0; j < l->n; j++) {
            if (prev != NULL && strcmp(prev, l->e[j]->key) >= 0)
                return -1;
            prev = l->e[j]->key;
        }
        count += l->n;
    }
    return count == x->count && x->nleaves <= x->cap ? 0 : -1;
}
