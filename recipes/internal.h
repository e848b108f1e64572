/*
 * libzkfence internals shared between the recipe files.
 *
 * Concurrency model (the invariants every file relies on):
 *
 *  - One mutex per client, c->mu, protects the client, its lock objects,
 *    their attempts, armed watches and the background deletion list. It is
 *    held only for short, non-blocking work: bookkeeping and *issuing*
 *    asynchronous ZooKeeper calls (which never call back synchronously).
 *  - libzookeeper_mt's completion thread runs our completions and watchers.
 *    They take c->mu, update state, issue the next asynchronous call, and
 *    either signal a blocked caller (condition variable) or queue an event
 *    for the client's event thread. They never wait for anything else.
 *  - The client's event thread delivers application callbacks (without
 *    c->mu held), fires async acquire timeouts and the "suspended for a whole
 *    session timeout" verdict, and replaces an expired session.
 *  - Every asynchronous ZooKeeper call carries a zkf__op naming its attempt
 *    and the attempt's generation when issued. An attempt bumps its
 *    generation whenever it moves on, so a reply that arrives late is
 *    recognised as stale and only cleaned up after (e.g. a stale successful
 *    create deletes the node it made).
 */
#ifndef ZKFENCE_INTERNAL_H
#define ZKFENCE_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <zookeeper/zookeeper.h>

#include "zkfence/zkfence.h"

#define ZKF__GUID_LEN 32      /* hex characters of the per-attempt GUID */
#define ZKF__SEQ_LEN 10       /* ZooKeeper's sequence suffix, %010d */
#define ZKF__MAX_PATH 1024    /* bound on lock paths we accept */
#define ZKF__PREFIX_MAX 16    /* bound on a recipe's node name prefixes */
#define ZKF__PARENT_RETRIES 3 /* create-parents-then-retry rounds */

/* ---- allocation ----
 * The library's files allocate through these. The shipped library maps them
 * to libc; the white-box archive the tests link (zkfence_internal) is built
 * with ZKF_FAULT_INJECTION, where a test can make an allocation of its own
 * thread fail (SQLite-style fault injection): the other threads of the
 * library are unaffected, so the failure lands where the test aims it. */
#ifdef ZKF_FAULT_INJECTION
void *zkf__malloc(size_t size);
void *zkf__calloc(size_t n, size_t size);
char *zkf__strdup(const char *s);
/* On the calling thread, after `n` more allocations succeed, the next one
 * fails (once). n < 0 switches it off. */
void zkf__fail_alloc_after(int n);
#else
#define zkf__malloc malloc
#define zkf__calloc calloc
#define zkf__strdup strdup
#endif

/* ---- time ---- */
int64_t zkf__now_ns(void); /* CLOCK_MONOTONIC */
void zkf__abs_deadline(struct timespec *ts, int64_t deadline_ns);

/* ---- node names (nodes.c) ---- */
typedef struct zkf__node {
    const char *name; /* borrowed from the children vector */
    const char *guid; /* points into name; ZKF__GUID_LEN chars */
    uint32_t seq;
    int kind; /* index of its prefix in the recipe's list */
} zkf__node_t;

/* Parses "<prefix>-<32 lowercase hex>-<10 digits>" where prefix is one of
 * `prefixes` (NULL-terminated: the recipe's). Returns 0 and fills *out, or
 * -1 for a foreign child. */
int zkf__node_parse_as(const char *const *prefixes, const char *name, zkf__node_t *out);
/* Parses and sorts a recipe's children by sequence; foreign children are
 * dropped. *out is malloc'ed (free it), *n its length. Returns 0 or
 * ZKF_ENOMEM. */
int zkf__nodes_sorted_as(const char *const *prefixes, const struct String_vector *children,
                         zkf__node_t **out, size_t *n);
/* Parses ZooKeeper's sequence suffix: exactly ZKF__SEQ_LEN digits, then the
 * end of the string. 0 and *out, or -1. */
int zkf__seq_parse(const char *s, uint32_t *out);
/* Fills buf (ZKF__GUID_LEN + 1 bytes) with a fresh random GUID. 0 or ZKF_ESYS. */
int zkf__guid(char *buf);
/* 0 if path is an absolute, normalised ZooKeeper path other than "/". */
int zkf__path_valid(const char *path);
/* Maps a ZooKeeper return code to ours. */
int zkf__from_zk(int rc);

/* ---- client (client.c) ---- */
typedef struct zkf__attempt zkf__attempt_t;
typedef struct zkf__watch zkf__watch_t;
typedef struct zkf__event zkf__event_t;
typedef struct zkf__pending zkf__pending_t;

/* An armed exists-watch on a predecessor. Owned by the client's list until
 * libzookeeper tells us it is gone (it fired, or its removal succeeded), or
 * until the session's handle is closed. `a` is cleared when the attempt no
 * longer cares. */
struct zkf__watch {
    zkf__watch_t *next, *prev;
    zkf_client_t *c;
    zkf__attempt_t *a;
    char *path;
    uint64_t session_gen;
    int removing; /* a removal request is in flight: its completion frees */
    int fired;    /* the watcher ran while the removal was in flight */
    int own;      /* on the attempt's own node (a->own_watch), not its predecessor */
};

/* The name of an attempt's node before ZooKeeper appends the sequence:
 * "<prefix>-<guid>-". */
#define ZKF__STEM_MAX (ZKF__PREFIX_MAX + ZKF__GUID_LEN + 2)

/* A node the library must delete as soon as ZooKeeper is reachable: a
 * released node whose delete was cut off, or the nodes of an abandoned
 * attempt (by exact path, or by name stem under a parent when the create's
 * reply was lost). Dropped when the session ends: the server removed them. */
struct zkf__pending {
    zkf__pending_t *next, *prev;
    char *path; /* exact node, or the recipe's path when stem is set */
    char stem[ZKF__STEM_MAX + 1];
    int in_flight;
    uint64_t session_gen;
    /* A holder's release: the release mark and the delete in one multi
     * (attempt.c explains why); the multi's ops and results live here. */
    int release;
    zoo_op_t ops[2];
    zoo_op_result_t results[2];
    struct Stat mark_stat;
};

/* What a holder's release writes on its node, in the same transaction
 * that deletes it: the successor's exists-watch then fires with "data
 * changed", which only a releasing holder causes. */
#define ZKF__RELEASE_MARK "released"

enum zkf__event_kind { ZKF__EV_ACQUIRED, ZKF__EV_LOCK_STATE, ZKF__EV_CLIENT_STATE };

struct zkf__event {
    zkf__event_t *next;
    enum zkf__event_kind kind;
    zkf_lock_t *lock;
    int status;
    uint64_t token;
    zkf_lock_state_t lock_state;
    zkf_client_state_t client_state;
    zkf_acquire_cb acquire_cb;
    void *arg;
};

struct zkf_client {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* state changes: connect waiters, event thread, destroy */

    /* configuration (immutable after connect) */
    char *hosts; /* with the chroot appended */
    int session_timeout_ms;
    char *digest; /* "user:password" or NULL */
    struct ACL_vector acl;
    struct ACL acl_entries[2];
    zkf_client_state_cb state_cb;
    void *state_arg;

    /* session */
    zhandle_t *zh;        /* NULL while being replaced */
    uint64_t session_gen; /* bumped for each new zhandle */
    zkf_client_state_t state;
    int64_t session_id;
    int negotiated_ms;
    int renew; /* event thread must replace the session */
    int ever_connected;
    /* session set-up runs without c->mu (see open_session in client.c) */
    int opening;       /* zookeeper_init of generation session_gen is running */
    int early_pending; /* that handle reported a state before it was installed */
    int early_state;   /* ... and this was the latest */

    /* Liveness (see "Local loss" in client.c). last_heard_ns is a lower
     * bound on the last time the server heard from this session: the send
     * time of the latest request it answered. */
    int64_t last_heard_ns;
    int64_t hb_sent_ns; /* send time of the heartbeat in flight, or of the last one */
    int hb_in_flight;

    /* everything hanging off the client */
    zkf_lock_t *locks;
    zkf__attempt_t *active; /* attempts not yet completed */
    zkf__watch_t *watches;
    zkf__pending_t *pending;

    /* event thread */
    pthread_t thread;
    int stopping;
    zkf__event_t *ev_head, *ev_tail;
    /* Lock whose callback runs right now, if any. zkf_lock_destroy() called
     * from that callback clears it: the event thread then knows the lock is
     * gone and does not touch it after the callback returns. */
    zkf_lock_t *delivering;
};

/* A thread blocked in zkf_lock_acquire, woken directly by the outcome. */
typedef struct zkf__lock_waiter {
    int done;
    int status;
    uint64_t token;
} zkf__lock_waiter_t;

/* A lock object. All fields under c->mu. */
struct zkf_lock {
    zkf_lock_t *next, *prev; /* c->locks */
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

/* Queue an application callback (c->mu held). */
void zkf__post(zkf_client_t *c, zkf__event_t *ev);
/* The zhandle to issue calls on, or NULL (c->mu held). */
zhandle_t *zkf__zh(zkf_client_t *c);
/* Schedule deletion of a node, or of every child of `path` named `stem`
 * followed by a sequence suffix (the nodes a create with that stem may
 * have made; stem NULL for an exact node), retried until gone or the
 * session ends (c->mu held). Returns 1 if the request went out now, 0 if it waits for
 * the session to be connected, ZKF_ENOMEM if nothing could be scheduled
 * (the node then stays until the session ends). */
int zkf__delete_later(zkf_client_t *c, const char *path, const char *stem);
/* The same for a node whose holding is being released: deleted together
 * with the release mark (ZKF__RELEASE_MARK). Same returns. */
int zkf__release_later(zkf_client_t *c, const char *path);
/* Issue the pending deletions now (c->mu held, connected). */
void zkf__pending_kick(zkf_client_t *c);

/* ---- lock (lock.c), called by client.c with c->mu held ---- */
void zkf__locks_on_suspended(zkf_client_t *c);
void zkf__locks_on_connected(zkf_client_t *c);
void zkf__locks_on_lost(zkf_client_t *c, int status, int local);
void zkf__lock_delivered(zkf_lock_t *lock); /* an event for lock was delivered */
/* The exclusive lock's node names ("lock-<guid>-<seq>"): what
 * zkf_lock_contenders lists. As zkf__node_parse_as and zkf__nodes_sorted_as. */
int zkf__node_parse(const char *name, zkf__node_t *out);
int zkf__nodes_sorted(const struct String_vector *children, zkf__node_t **out, size_t *n);

/* ---- attempts (attempt.c), called by client.c with c->mu held ---- */
void zkf__attempts_on_connected(zkf_client_t *c);
void zkf__attempts_on_lost(zkf_client_t *c, int status, int local);
void zkf__attempts_on_timer(zkf_client_t *c, int64_t now, int64_t *next_due);
/* The session's handle closed with w armed: w is about to be freed, and
 * its attempt must forget it (c->mu held). */
void zkf__watch_orphaned(zkf__watch_t *w);

#endif /* ZKFENCE_INTERNAL_H */
