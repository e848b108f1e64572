/* One page of an S3 listing over a bucket's key index (keyindex.h):
 * prefix, delimiter (CommonPrefixes), max-keys and a resume point
 * (start-after, marker, or a decoded continuation token). Pure: the caller
 * owns the index and its locking. A page costs O(log keys) per returned
 * item: a common prefix is skipped by a lookup, not a walk. */
#ifndef ZKP_LISTING_H
#define ZKP_LISTING_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "backend/fs/keyindex.h"

typedef struct zkp_list_req {
    const char *prefix;    /* NULL or "" for all */
    const char *delimiter; /* NULL for none */
    const char *after;     /* list keys strictly after this; NULL for none */
    int max_keys;          /* 0..1000 */
} zkp_list_req_t;

typedef struct zkp_list_item {
    char *name;    /* key, or common prefix when is_prefix; owned */
    int is_prefix; /* a CommonPrefixes entry */
    uint64_t size;
    time_t mtime;
    char etag[33];
} zkp_list_item_t;

typedef struct zkp_list_result {
    zkp_list_item_t *items; /* keys and common prefixes, in order */
    size_t n;
    int truncated;
    char *next; /* when truncated: the last name returned (resume point) */
} zkp_list_result_t;

/* Returns 0 or -1 on OOM. Resuming after a common prefix skips every key
 * under it, so a page boundary never repeats a CommonPrefixes entry. */
int zkp_list_page(const zkp_kx_t *index, const zkp_list_req_t *req, zkp_list_result_t *res);
void zkp_list_result_free(zkp_list_result_t *res);

#endif
