/* One page of an S3 listing over a bucket's key index (keyindex.h), for the
 * local-files backend's list(): prefix, delimiter (CommonPrefixes), max-keys
 * and a resume point (start-after, marker, or a decoded continuation
 * token); the page's types are the backend table's. Pure: the caller
 * owns the index and its locking. A page costs O(log keys) per returned
 * item: a common prefix is skipped by a lookup, not a walk. */
#ifndef ZKP_LISTING_H
#define ZKP_LISTING_H

#include "backend/backend.h" /* zkp_list_req_t, zkp_list_result_t */
#include "backend/fs/keyindex.h"

/* Returns 0 or -1 on OOM. Resuming after a common prefix skips every key
 * under it, so a page boundary never repeats a CommonPrefixes entry. */
int zkp_list_page(const zkp_kx_t *index, const zkp_list_req_t *req, zkp_list_result_t *res);

#endif
