/* The client (client.c): one ZooKeeper session, the event thread, the
 * background deletions, and the registry through which it tells recipes
 * about the session. It knows no recipe: recipe objects (a lock) and the
 * attempt core's attempts register here with a table of callbacks, and the
 * client calls them only through it. Recipes call the functions below
 * freely; the client never calls a recipe by name.
 *
 * Concurrency model (the invariants every file relies on):
 *
 *  - One mutex per client, c->mu, protects the client, its recipe objects,
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
#ifndef ZKFENCE_CLIENT_H
#define ZKFENCE_CLIENT_H

#include "common.h"

typedef struct zkf__recipe_obj zkf__recipe_obj_t;
typedef struct zkf__watch zkf__watch_t;
typedef struct zkf__event zkf__event_t;
typedef struct zkf__pending zkf__pending_t;

/* ---- the registry ----
 * What the client tells whoever registered. Every callback may be NULL,
 * runs with c->mu held (deliver excepted) and must not block. A callback
 * may take its own entry out of the registry and add new entries, but not
 * take out others. */
typedef struct zkf__recipe_ops {
    /* The connection was lost; the session may live on. */
    void (*suspended)(zkf__recipe_obj_t *o);
    /* The same session is connected again. */
    void (*reconnected)(zkf__recipe_obj_t *o);
    /* The session ended: status says why (ZKF_ESESSIONEXPIRED, ZKF_ENOAUTH);
     * local: the verdict is ours (suspended for a whole session timeout,
     * status ZKF_ECONNLOSS) and the server may still have our nodes. */
    void (*lost)(zkf__recipe_obj_t *o, int status, int local);
    /* Event thread, entries of the active list only: run what is due at
     * `now` (CLOCK_MONOTONIC) and lower *next_due to the next deadline. */
    void (*timer)(zkf__recipe_obj_t *o, int64_t now, int64_t *next_due);
    /* The session's handle closed with w armed and owned by o: w is freed
     * when this returns, and o must forget it. */
    void (*watch_orphaned)(zkf__recipe_obj_t *o, zkf__watch_t *w);
    /* Event thread, without c->mu: run the application callback of ev, an
     * event o posted. o is alive: a recipe object waits for or takes back
     * its events before it goes (zkf__events_take). */
    void (*deliver)(zkf__recipe_obj_t *o, zkf__event_t *ev);
    /* ... and once deliver has returned, with c->mu, unless o unregistered
     * meanwhile (from its own callback). */
    void (*delivered)(zkf__recipe_obj_t *o);
} zkf__recipe_ops_t;

/* An entry of the registry, embedded in what registers. */
struct zkf__recipe_obj {
    zkf__recipe_obj_t *next, *prev;
    const zkf__recipe_ops_t *ops;
};

/* Recipe objects (a lock) register for their whole life: the client is
 * busy while any is registered (zkf_client_destroy). Unregistering from
 * one's own callback is allowed: the event thread then forgets the entry.
 * c->mu held. */
void zkf__recipe_register(zkf_client_t *c, zkf__recipe_obj_t *o, const zkf__recipe_ops_t *ops);
void zkf__recipe_unregister(zkf_client_t *c, zkf__recipe_obj_t *o);
/* Work in progress (the attempt core's attempts) registers in the active
 * list while in progress: only it gets timer calls, so that the event
 * thread's pass costs what is in progress, not every object; and the
 * session's changes reach it after every recipe object (a holding changes
 * state before any attempt reports its outcome). c->mu held. */
void zkf__active_add(zkf_client_t *c, zkf__recipe_obj_t *o, const zkf__recipe_ops_t *ops);
void zkf__active_remove(zkf_client_t *c, zkf__recipe_obj_t *o);

/* ---- events for the application ----
 * A recipe's event embeds this first, allocated with zkf__malloc/calloc:
 * the client frees it with free() once delivered. */
struct zkf__event {
    zkf__event_t *next;
    zkf__recipe_obj_t *obj; /* the object it is for; NULL: the client's own */
};

/* Queue an application callback for the event thread (c->mu held). */
void zkf__post(zkf_client_t *c, zkf__event_t *ev);
/* Unlinks every queued event of `o` and returns them as a list (next), in
 * queue order: for a recipe object going away on the event thread, where
 * nobody else could deliver them (c->mu held). */
zkf__event_t *zkf__events_take(zkf_client_t *c, zkf__recipe_obj_t *o);

/* ---- watches ----
 * An armed data watch (exists or getData), or children watch. Owned by the client's list until
 * libzookeeper tells us it is gone (it fired, or its removal succeeded), or until the session's
 * handle is closed. `owner` is cleared when nobody cares any more. */
struct zkf__watch {
    zkf__watch_t *next, *prev;
    zkf_client_t *c;
    zkf__recipe_obj_t *owner; /* told through owner->ops->watch_orphaned, or NULL */
    char *path;
    uint64_t session_gen;
    int removing; /* a removal request is in flight: its completion frees */
    int fired;    /* the watcher ran while the removal was in flight */
    int arming;   /* the call that arms it is unanswered (see zkf__watch_armed) */
    int own;      /* on the owner's own node, not another's */
    int children; /* a children watch (getChildren), not a data watch */
};

/* A watch on `path` for `owner` in the current session, linked into the
 * client's list (c->mu held). NULL without memory. */
zkf__watch_t *zkf__watch_new(zkf_client_t *c, const char *path, zkf__recipe_obj_t *owner);
/* Unlinks and frees w (c->mu held). */
void zkf__watch_free(zkf_client_t *c, zkf__watch_t *w);
/* Nobody wants the armed watch w (armed with watcher fn and context w) any
 * more: clears its owner and asks ZooKeeper to remove it too, so that no
 * wake-up comes later and the server keeps no state for us. w is freed by
 * the removal's completion, or by the watcher through zkf__watch_fired
 * (c->mu held). While the call that arms w is unanswered, the removal
 * waits for its answer (zkf__watch_armed). */
void zkf__watch_remove(zkf_client_t *c, zkf__watch_t *w, watcher_fn fn);
/* The call that arms w (issued with w->arming set) is answered: `armed`
 * says whether libzookeeper now holds the watcher (an exists answered ZOK
 * or ZNONODE, a listing ZOK). If nobody wants w any more (its owner
 * cleared meanwhile), removes it from ZooKeeper when armed, else frees
 * it, and returns 1: the caller must not touch w again. Else returns 0.
 * Why the wait: libzookeeper registers a watcher only when the arming
 * call's answer arrives, and refuses to remove one it does not know
 * (ZNOWATCHER, locally): a removal sent before that answer leaves the
 * watch armed on the server for as long as the node lives. c->mu held. */
int zkf__watch_armed(zkf_client_t *c, zkf__watch_t *w, int armed, watcher_fn fn);

/* A request sent (queued) at sent_ns got ZooKeeper code rc: if the server
 * answered it, the server heard from the session at sent_ns or later, so
 * last_heard_ns moves up to it (see "Local loss" in client.c). c->mu held. */
void zkf__heard(zkf_client_t *c, int rc, int64_t sent_ns);
/* A watcher's last call for w: frees it, unless a removal is in flight
 * (whose completion then frees it). c->mu held. */
void zkf__watch_fired(zkf_client_t *c, zkf__watch_t *w);

/* ---- background deletions ---- */

/* The name of an attempt's node before ZooKeeper appends the sequence:
 * "<prefix>-<guid>-". */
#define ZKF__STEM_MAX (ZKF__PREFIX_MAX + ZKF__GUID_LEN + 2)

/* What a holder's release writes on its node, in the same transaction
 * that deletes it: the successor's data watch then fires with "data
 * changed", which only a releasing holder causes (attempt.c). */
#define ZKF__RELEASE_MARK "released"

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
    /* A holder's release: the release mark and the delete in one multi;
     * the multi's ops and results live here. */
    int release;
    zoo_op_t ops[2];
    zoo_op_result_t results[2];
    struct Stat mark_stat;
};

/* Schedule deletion of a node, or of every child of `path` named `stem`
 * followed by a sequence suffix (the nodes a create with that stem may
 * have made; stem NULL for an exact node), retried until gone or the
 * session ends (c->mu held). Returns 1 if the request went out now, 0 if
 * it waits for the session to be connected, ZKF_ENOMEM if nothing could be
 * scheduled (the node then stays until the session ends). */
int zkf__delete_later(zkf_client_t *c, const char *path, const char *stem);
/* The same for a node whose holding is being released: deleted together
 * with the release mark (ZKF__RELEASE_MARK). Same returns. */
int zkf__release_later(zkf_client_t *c, const char *path);
/* Issue the pending deletions now (c->mu held, connected). */
void zkf__pending_kick(zkf_client_t *c);

/* The zhandle to issue calls on, or NULL (c->mu held). */
zhandle_t *zkf__zh(zkf_client_t *c);

/* ---- the client ---- */
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
    zkf__recipe_obj_t *objects; /* registered recipe objects */
    zkf__recipe_obj_t *active;  /* work in progress (attempts) */
    zkf__watch_t *watches;
    zkf__pending_t *pending;

    /* event thread */
    pthread_t thread;
    int stopping;
    zkf__event_t *ev_head, *ev_tail;
    /* Object whose callback runs right now, if any. Unregistering it from
     * that callback clears this: the event thread then knows the object is
     * gone and does not touch it after the callback returns. */
    zkf__recipe_obj_t *delivering;
};

#endif /* ZKFENCE_CLIENT_H */
