/* The recipes' rules (zkf__recipe_t.rule, attempt.h), side by side so
 * that the argument for each handoff shortcut can be checked against the
 * others. Each is a pure function of the sorted listing: no state, no
 * calls, c->mu held by the caller. */
#ifndef ZKFENCE_RULES_H
#define ZKFENCE_RULES_H

#include "attempt.h"

/* Node kinds of the read/write lock: indexes of its prefixes. */
enum { ZKF__KIND_READ = 0, ZKF__KIND_WRITE = 1 };

/* Exclusive lock, election, a semaphore's gate: the first node holds;
 * every other waits for the one just before it. */
int zkf__rule_first(void *owner, const zkf__node_t *nodes, size_t n, size_t me, zkf__wait_t *w);

/* Read/write lock (kinds ZKF__KIND_READ, ZKF__KIND_WRITE): a write node
 * holds when first and waits for the node just before it, of either
 * kind; a read node holds when no write node lies below it and waits for
 * the nearest write node below. */
int zkf__rule_rw(void *owner, const zkf__node_t *nodes, size_t n, size_t me, zkf__wait_t *w);

/* A semaphore's leases: a node holds when it is among the first `limit`
 * (its owner's), else it waits for any change among them. */
int zkf__rule_among_first(size_t limit, size_t me, zkf__wait_t *w);

#endif /* ZKFENCE_RULES_H */
