/* The exclusive lock (lock.c), shared with its blocking API (lock_sync.c).
 * lock.c is the lock object and its asynchronous core on the attempt core;
 * lock_sync.c calls it, never the other way round. */
#ifndef ZKFENCE_LOCK_H
#define ZKFENCE_LOCK_H

#include "attempt.h"
#include "client.h"

/* A thread blocked in zkf_lock_acquire, woken directly by the outcome. */
typedef struct zkf__lock_waiter {
    int done;
    int status;
    uint64_t token;
} zkf__lock_waiter_t;

/* A lock object. All fields under c->mu. */
struct zkf_lock {
    zkf__recipe_obj_t obj; /* its entry in the client's registry */
    zkf_client_t *c;
    char *path;
    zkf_lock_options_t opts;
    zkf_lock_state_t state;
    zkf__attempt_t *att;   /* the attempt acquiring, or holding */
    zkf__attempt_t *spare; /* this lock's reusable attempt block (attempt.c) */
    uint64_t token;        /* valid while HELD or SUSPENDED */
    /* The acquisition in progress reports to a blocked thread, or else to
     * the application's callback. */
    zkf__lock_waiter_t *sync;
    zkf_acquire_cb cb;
    void *arg;
    int depth;        /* reentrant depth of a blocking holding */
    int thread_owned; /* held through zkf_lock_acquire by `owner` */
    pthread_t owner;
    uint64_t cancel_gen; /* bumped by zkf_lock_cancel: wakes local waiters */
    int local_waiters;   /* zkf_lock_acquire calls queued locally behind the holder */
    int pending_events;  /* events queued for delivery that name this lock */
    int zk_err;
};

/* Starts acquiring l (UNLOCKED, no attempt) for the async API (cb, arg)
 * or a blocked thread (sync), c->mu held. timeout_ms as for the public
 * calls; the core keeps the deadline only for the async API. Returns 0 or
 * what zkf__attempt_new returns; the outcome may be in before it returns. */
int zkf__lock_start(zkf_lock_t *l, int timeout_ms, zkf_acquire_cb cb, void *arg,
                    zkf__lock_waiter_t *sync);
/* A blocked caller's deadline passed: give up the acquisition in progress
 * (ZKF_ETIMEDOUT, or ZKF_ECONNLOSS if ZooKeeper was unreachable), which
 * completes once its node and watch are removed. Idempotent (c->mu held). */
void zkf__lock_deadline_passed(zkf_lock_t *l);

/* The exclusive lock's node names ("lock-<guid>-<seq>"): what
 * zkf_lock_contenders lists. As zkf__node_parse_as and zkf__nodes_sorted_as. */
int zkf__node_parse(const char *name, zkf__node_t *out);
int zkf__nodes_sorted(const struct String_vector *children, zkf__node_t **out, size_t *n);

#endif /* ZKFENCE_LOCK_H */
