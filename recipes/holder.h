/* A holder (holder.c): one contender of a recipe that holds at most one
 * node at a time, with its state, its application callbacks and its
 * asynchronous API. The exclusive lock's object is the holder itself
 * (zkf_lock_t, which adds reentrancy and local waiters for its blocking
 * API, lock_sync.c); the read/write lock, the semaphore and the election
 * embed one first. Each says, in a table, how its acquisition runs (one
 * attempt of its recipe, or its own steps: the semaphore's gate, then its
 * lease) and how its application callbacks are typed.
 *
 * States are the lock's (zkf_lock_state_t): UNLOCKED, WAITING (acquiring),
 * HELD, SUSPENDED, LOST; the election names them its own way.
 *
 * Invariants (all under c->mu):
 *   - state is WAITING exactly while an acquisition is in progress; it
 *     ends with zkf__holder_done, exactly once.
 *   - h->att is the holding's attempt from then until release or drop;
 *     for a one-attempt recipe also the attempt in progress.
 *   - sync, cb, arg and background describe the acquisition in progress. */
#ifndef ZKFENCE_HOLDER_H
#define ZKFENCE_HOLDER_H

#include "attempt.h"
#include "client.h"

typedef struct zkf_lock zkf__holder_t;

/* An application's completion callback, cast back by its recipe. */
typedef void (*zkf__holder_cb)(void);

typedef struct zkf__holder_ops {
    /* One-attempt recipes: the recipe table, whose done and holding_lost
     * are zkf__holder_attempt_done and zkf__holder_attempt_lost. */
    const zkf__recipe_t *recipe;
    /* Or a recipe of its own steps (recipe NULL): start acquiring `kind`
     * (c->mu held); the outcome comes through zkf__holder_done exactly
     * once, maybe before this returns. deadline_ns as for an attempt (0:
     * the caller keeps it). Returns 0, or an error and nothing started. */
    int (*start)(zkf__holder_t *h, int kind, int try_once, int64_t deadline_ns);
    /* ... give the acquisition in progress up with `status`: it completes
     * once its nodes and watches are removed. Idempotent. */
    void (*abort)(zkf__holder_t *h, int status);
    /* ... what it reports when a blocked caller's deadline passes. */
    int (*deadline_status)(const zkf__holder_t *h);
    /* Event thread, without c->mu: the application's completion `cb` of
     * an acquisition, and the event callback (NULL: none). */
    void (*acquired)(zkf__holder_t *h, zkf__holder_cb cb, void *arg, int status, uint64_t token);
    void (*event)(zkf__holder_t *h, zkf_lock_state_t state, uint64_t token);
} zkf__holder_ops_t;

struct zkf_lock {
    zkf__recipe_obj_t obj; /* its entry in the client's registry */
    zkf_client_t *c;
    const zkf__holder_ops_t *ops;
    const char *path; /* the recipe object's */
    zkf_lock_state_t state;
    zkf__attempt_t *att;   /* see the invariants */
    zkf__attempt_t *spare; /* a one-attempt recipe's reusable block (attempt.c), or NULL */
    int kind;              /* of the acquisition in progress, or of the holding */
    uint64_t token;        /* valid while HELD or SUSPENDED */
    zkf__waiter_t *sync;   /* a blocked caller, or NULL */
    zkf__holder_cb cb;     /* else the application's callback */
    void *arg;
    int background;     /* else started by the library (a rejoin): the outcome is an event */
    int pending_events; /* events queued that name this holder */
    int events;         /* the application has an event callback: post state changes */
    int zk_err;
    const char *data; /* node data of a one-attempt recipe's nodes (the object's), or NULL */
    int data_len;
    /* The exclusive lock's own (lock.c, lock_sync.c); zero in the others. */
    zkf_lock_options_t opts;
    int depth;        /* reentrant depth of a blocking holding */
    int thread_owned; /* held through zkf_lock_acquire by `owner` */
    pthread_t owner;
    uint64_t cancel_gen; /* bumped by zkf_lock_cancel and destroy: wakes local waiters */
    int local_waiters;   /* zkf_lock_acquire calls queued locally behind the holder */
};

/* Fills h (zeroed by its owner) and registers it with the client: the
 * client is busy until zkf__holder_destroy. Takes c->mu. */
void zkf__holder_init(zkf__holder_t *h, zkf_client_t *c, const char *path,
                      const zkf__holder_ops_t *ops);

/* For a one-attempt recipe's table (zkf__recipe_t.done, .holding_lost):
 * owner is the holder. */
void zkf__holder_attempt_done(void *owner, zkf__attempt_t *a, int status, uint64_t token);
void zkf__holder_attempt_lost(void *owner, zkf__attempt_t *a);
/* A recipe of its own steps reports its outcome: status 0 with the
 * holding's attempt and token, or why it ended (att NULL). c->mu held. */
void zkf__holder_done(zkf__holder_t *h, zkf__attempt_t *att, int status, uint64_t token);

/* Starts an acquisition of `kind` whose outcome is posted as an event
 * (HELD, or UNLOCKED if it ends otherwise), for a rejoin. c->mu held. */
int zkf__holder_start_background(zkf__holder_t *h, int kind);
/* Posts a state change for the event callback (c->mu held). */
void zkf__holder_post_state(zkf__holder_t *h, zkf_lock_state_t state, uint64_t token);
/* Ends the holding (HELD, SUSPENDED or LOST; c->mu held): its node is
 * deleted with the release mark unless it was lost. Returns as
 * zkf_lock_release: 0, ZKF_EPENDING, ZKF_ENOMEM, ZKF_ELOCKLOST. */
int zkf__holder_end(zkf__holder_t *h);

/* The public calls of every holder: as the lock's, see zkfence.h. Each
 * takes c->mu. */
int zkf__holder_acquire_async(zkf__holder_t *h, int kind, int timeout_ms, zkf__holder_cb cb,
                              void *arg);
int zkf__holder_acquire(zkf__holder_t *h, int kind, int timeout_ms, uint64_t *token);
int zkf__holder_cancel(zkf__holder_t *h);
int zkf__holder_release(zkf__holder_t *h);
int zkf__holder_token(zkf__holder_t *h, uint64_t *token);
zkf_lock_state_t zkf__holder_state(zkf__holder_t *h);
int zkf__holder_node(zkf__holder_t *h, char *buf, size_t len);
int zkf__holder_zk_error(zkf__holder_t *h);
/* The kind of the acquisition in progress or of the holding, or -1. */
int zkf__holder_kind(zkf__holder_t *h);
/* Cancels an acquisition in progress, releases a holding, waits for the
 * callbacks queued for h (off the event thread) or runs a queued
 * completion inline with ZKF_ECANCELED (on it), and unregisters h. The
 * owner frees h afterwards. */
void zkf__holder_destroy(zkf__holder_t *h);

/* For the blocking APIs (holder_sync.c, lock_sync.c), c->mu held: can an
 * acquisition start now (0 or the error)? Starts one, for the async API
 * (cb, arg) or a blocked thread (sync); timeout_ms as for the public
 * calls (the core keeps the deadline only for the async API). Returns 0
 * or what zkf__attempt_new (or the recipe's start) returns; the outcome
 * may be in before it returns. */
int zkf__holder_can_start(const zkf__holder_t *h);
int zkf__holder_start(zkf__holder_t *h, int kind, int timeout_ms, zkf__holder_cb cb, void *arg,
                      zkf__waiter_t *sync);
/* Gives up the acquisition in progress with `status`; it completes after
 * its cleanup. Idempotent; a no-op when none is in progress. */
void zkf__holder_abort(zkf__holder_t *h, int status);
/* A blocked caller's deadline passed: the abort, with ZKF_ETIMEDOUT, or
 * ZKF_ECONNLOSS if ZooKeeper was unreachable (c->mu held). */
void zkf__holder_deadline_passed(zkf__holder_t *h);

#endif /* ZKFENCE_HOLDER_H */
