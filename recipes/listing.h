/* Listing a recipe's nodes in queue order (contenders.c), for the public
 * listings of every recipe: who holds, who waits. Blocking (synchronous
 * ZooKeeper calls): for the application's threads, never the library's. */
#ifndef ZKFENCE_LISTING_H
#define ZKFENCE_LISTING_H

#include "common.h"

/* The children of `path` named as `prefixes` say (a recipe's), in queue
 * order, with their Stat; nodes gone meanwhile are left out. Returns as
 * zkf_lock_contenders(). */
int zkf__contenders_as(zkf_client_t *c, const char *path, const char *const *prefixes,
                       zkf_contender_t **out, size_t *count);
/* The same with each node's data (an election's participants). */
int zkf__participants_as(zkf_client_t *c, const char *path, const char *const *prefixes,
                         zkf_participant_t **out, size_t *count);

#endif /* ZKFENCE_LISTING_H */
