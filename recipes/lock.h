/* The exclusive lock (lock.c), shared with its blocking API (lock_sync.c).
 * Its object is the holder (holder.h: struct zkf_lock) with the lock's
 * recipe; lock_sync.c calls lock.c and holder.c, never the other way
 * round. */
#ifndef ZKFENCE_LOCK_H
#define ZKFENCE_LOCK_H

#include "holder.h"

/* A thread blocked in zkf_lock_acquire, woken directly by the outcome. */
typedef zkf__waiter_t zkf__lock_waiter_t;

/* The exclusive lock's node names ("lock-<guid>-<seq>"): what
 * zkf_lock_contenders lists. As zkf__node_parse_as and zkf__nodes_sorted_as. */
int zkf__node_parse(const char *name, zkf__node_t *out);
int zkf__nodes_sorted(const struct String_vector *children, zkf__node_t **out, size_t *n);

#endif /* ZKFENCE_LOCK_H */
