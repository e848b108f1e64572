/* The attempt core: one contender's try at a recipe, from the create of its
 * node to its holding or its end. attempt.c explains the protocol.
 *
 * A recipe object (a lock) owns its attempts: it starts one, and the core
 * tells it the outcome through the recipe's table, exactly once. A holding
 * attempt stays attached to its owner until the owner releases or drops it.
 * Every function here runs with c->mu held, and none of them blocks. */
#ifndef ZKFENCE_ATTEMPT_H
#define ZKFENCE_ATTEMPT_H

#include "client.h"

typedef struct zkf__attempt zkf__attempt_t;

/* Where a node that does not hold waits, as its recipe's rule says: the
 * node it watches, and which of the two handoff shortcuts (attempt.c) are
 * sound for it. A shortcut that does not apply costs a listing when the
 * watched node goes; one that applies wrongly breaks the recipe. */
typedef struct zkf__wait {
    size_t node; /* index, in the sorted nodes, of the node to watch: below ours */
    /* Its deletion, however it comes (a holder's release, a waiter giving
     * up, a crash), means that ours holds. True when nothing that could
     * keep us waiting lies below it; no node can ever appear below it. */
    int gone_holds;
    /* Its release mark, which only a holder that releases writes, means
     * that ours holds: true when its having held implies that nothing
     * below it can keep us waiting once it is gone. */
    int mark_holds;
} zkf__wait_t;

/* A recipe is a table: its node names, its rule, and how its objects hear
 * from their attempts. The core knows nothing else of it. */
typedef struct zkf__recipe {
    /* Its node name prefixes, NULL-terminated, each at most
     * ZKF__PREFIX_MAX characters; an attempt's kind (zkf__attempt_args_t)
     * indexes them. Children of the path with other names are ignored. */
    const char *const *prefixes;
    /* The rule. `nodes` are the recipe's children sorted by sequence (each
     * with its kind), nodes[me] is ours. Returns 1 if ours holds; else
     * returns 0 and fills *w, with w->node < me. c->mu held; must not block
     * nor call the core. Examples:
     *   exclusive lock, election: hold when me == 0; else wait for me - 1,
     *     gone_holds = (me == 1), mark_holds = 1.
     *   write lock (kinds read, write): the same, but mark_holds only when
     *     nodes[me - 1] is a write node: a reader's release may leave other
     *     readers holding below it.
     *   read lock: hold when no write node lies below me; else wait for the
     *     nearest write node below, gone_holds when no write node lies below
     *     it, mark_holds = 1 (it held, so only readers lie below us).
     *   a gate among other kinds (a queue of "gate" nodes beside others):
     *     hold when no gate node lies below me; else wait for the nearest
     *     gate node below, gone_holds when no gate node lies below it,
     *     mark_holds = 1.
     *   always (a node that holds once made, e.g. a semaphore's lease
     *     created by the gate's holder): return 1.
     * A semaphore of N is not one rule "hold when me < N": holders leave
     * in any order, and no single watched node tells the first waiter that
     * one of the N below it left (watching the node N places before ours
     * can wait forever beside a free place). Curator's semaphore, and this
     * table, do it with a gate: its holder counts the leases (a children
     * watch of its own) until fewer than N remain, then creates its lease. */
    int (*rule)(void *owner, const zkf__node_t *nodes, size_t n, size_t me, zkf__wait_t *w);
    /* The outcome of an attempt of `owner`: status 0 and the token (the
     * node's czxid) when it holds, else why it ended. Called exactly once,
     * from any thread, c->mu held. When status != 0 the attempt is finished
     * and the owner's reference is gone: the owner must forget `a`. */
    void (*done)(void *owner, zkf__attempt_t *a, int status, uint64_t token);
    /* The node of a holding attempt was deleted under our live session
     * (by hand): the holding can no longer be trusted (c->mu held). */
    void (*holding_lost)(void *owner, zkf__attempt_t *a);
} zkf__recipe_t;

/* How an attempt is to run. */
typedef struct zkf__attempt_args {
    void *owner;         /* handed back to the recipe's rule and callbacks */
    const char *dir;     /* the recipe's path; borrowed: it outlives the attempt's progress */
    int kind;            /* our node's prefix: recipe->prefixes[kind] */
    int try_once;        /* give up with ZKF_EBUSY rather than wait */
    int64_t deadline_ns; /* CLOCK_MONOTONIC; 0: none kept by the core (the caller may
                          * keep one and call zkf__attempt_abort) */
    int *zk_err;         /* the owner's: where a failing ZooKeeper code is written */
} zkf__attempt_args_t;

/* A block for the attempts of one owner at `dir` (of any kind), allocated once and
 * reused by every attempt that finds it free (attempt.c explains why).
 * NULL without memory. */
zkf__attempt_t *zkf__attempt_spare(const zkf__recipe_t *r, const char *dir);
/* The owner goes away: frees its spare, or leaves it to the last call in
 * flight that still references it. */
void zkf__attempt_spare_free(zkf__attempt_t *spare);

/* Prepares an attempt (in the spare block when free) without sending
 * anything: the owner records *out before zkf__attempt_run, whose outcome
 * may be reported at once. Returns 0, ZKF_ENOAUTH (the client's
 * authentication failed: no session will ever come), ZKF_ENOMEM, ZKF_ESYS
 * (no random GUID), ZKF_EINVAL (no such kind, or its prefix is too long). */
int zkf__attempt_new(zkf_client_t *c, const zkf__recipe_t *r, const zkf__attempt_args_t *args,
                     zkf__attempt_t *spare, zkf__attempt_t **out);
/* Sends the create (or waits for the session to be up). */
void zkf__attempt_run(zkf__attempt_t *a);
/* Gives up an attempt in progress: removes its watch and its node, then
 * reports `status`. Idempotent; a no-op once the outcome is known. */
void zkf__attempt_abort(zkf__attempt_t *a, int status);
/* What an attempt in progress reports when its caller's deadline passes:
 * ZKF_ETIMEDOUT if ZooKeeper was there to answer, ZKF_ECONNLOSS if not. */
int zkf__attempt_deadline_status(const zkf__attempt_t *a);

/* Ends a holding and deletes its node with the release mark (one multi,
 * sent now when connected, without waiting for the answer), dropping the
 * owner's reference. Returns 0 (sent), ZKF_EPENDING (sent once ZooKeeper is
 * reachable again), ZKF_ENOMEM (nothing scheduled: the node stays until the
 * session ends). */
int zkf__attempt_release(zkf__attempt_t *a);
/* Ends a holding that was lost, deleting nothing, and drops the owner's
 * reference. */
void zkf__attempt_drop(zkf__attempt_t *a);
/* The session of a holding was declared lost locally: the server may still
 * have its node, so it is deleted once ZooKeeper is reachable. */
void zkf__attempt_lost_locally(zkf__attempt_t *a);
/* Our node's full path, or NULL while it is not known. */
const char *zkf__attempt_node(const zkf__attempt_t *a);

#endif /* ZKFENCE_ATTEMPT_H */
