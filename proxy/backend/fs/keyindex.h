/* A bucket's key index: the set of its objects' entries in binary key
 * order (strcmp), for lookups, ordered listings and their resume points.
 *
 * Why not one sorted array: inserting a new key moves every entry after it,
 * under the bucket's mutex, so a PUT of a new key cost O(keys) (with 1.2
 * million keys, memmove was 28% of the proxy's CPU and every write of the
 * bucket waited behind it). Here the entries live in leaves of at most
 * ZKP_KX_LEAF_MAX pointers, found through a sorted directory of leaves: an
 * insert or removal moves at most one leaf's pointers, and one directory's
 * when a leaf splits (once per ZKP_KX_LEAF_MAX / 2 inserts at worst) or
 * merges.
 *
 * Not thread-safe: the caller locks (the bucket's mutex). */
#ifndef ZKP_KEYINDEX_H
#define ZKP_KEYINDEX_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#ifndef ZKP_KX_LEAF_MAX /* tests build with small leaves */
#define ZKP_KX_LEAF_MAX 512
#endif

typedef struct zkp_index_entry {
    uint64_t size;
    time_t mtime;
    char etag[33];  /* hex MD5, or of a multipart object the hex part of its ETag */
    uint16_t parts; /* multipart: its part count (the ETag's "-N"); 0 otherwise */
    size_t klen;
    char key[]; /* NUL-terminated, no interior NUL */
} zkp_index_entry_t;

typedef struct zkp_kx_leaf zkp_kx_leaf_t;

typedef struct zkp_kx {
    zkp_kx_leaf_t **leaves; /* sorted; none empty */
    size_t nleaves, cap;
    size_t count; /* entries */
} zkp_kx_t;

/* A place in the index: an entry, or the end (leaf == nleaves). Valid until
 * the index changes. */
typedef struct zkp_kx_pos {
    size_t leaf, slot;
} zkp_kx_pos_t;

/* An empty index (no allocation). */
void zkp_kx_init(zkp_kx_t *x);

/* Frees every entry and the index's memory; x is empty afterwards. */
void zkp_kx_clear(zkp_kx_t *x);

/* Inserts e, or replaces (and frees) the entry with the same key. Takes
 * ownership of e in every case. Returns 0, or -1 when out of memory (e is
 * freed, the index is unchanged). */
int zkp_kx_upsert(zkp_kx_t *x, zkp_index_entry_t *e);

/* Removes and frees the entry of key. Returns 1 if there was one, else 0. */
int zkp_kx_remove(zkp_kx_t *x, const char *key);

/* The entry of key, or NULL; owned by the index. */
const zkp_index_entry_t *zkp_kx_find(const zkp_kx_t *x, const char *key);

/* The first entry whose key is >= key (> key when strict), or the end. */
zkp_kx_pos_t zkp_kx_lower_bound(const zkp_kx_t *x, const char *key, int strict);

/* The first entry whose key does not start with prefix and sorts after it
 * (past every key that starts with it), or the end. */
zkp_kx_pos_t zkp_kx_past_prefix(const zkp_kx_t *x, const char *prefix);

/* The entry at p, or NULL at the end; owned by the index. */
const zkp_index_entry_t *zkp_kx_at(const zkp_kx_t *x, zkp_kx_pos_t p);

/* Moves p to the next entry (or the end). p must not be the end. */
void zkp_kx_next(const zkp_kx_t *x, zkp_kx_pos_t *p);

/* For tests: 0 if the structure's invariants hold (keyindex.c), else -1. */
int zkp_kx_check(const zkp_kx_t *x);

#endif
