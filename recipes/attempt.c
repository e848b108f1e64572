/* The attempt core: how a contender gets its node into a recipe's queue
 * and learns that the node holds, for any recipe (attempt.h).
 *
 * An attempt creates <path>/<prefix>-<guid>-<seq> (ephemeral, sequential)
 * with zoo_acreate2, whose Stat carries the czxid: the fencing token. The
 * list of children is requested in the same breath: ZooKeeper answers a
 * session's requests in order, so the listing already contains our node
 * and an uncontended acquire costs one round trip. The recipe's rule
 * (attempt.h) reads the listing: either our node holds, or it names the
 * one lower node we wait for (for the exclusive lock: hold when first,
 * else wait for the node right before ours). We watch only that node, and
 * list again when it goes away: it may have been a waiter that gave up
 * rather than the holder.
 *
 * Two facts save that listing on a handoff, which then costs the
 * successor no round trip at all. They are the exclusive lock's; the rule
 * says for each wait whether they hold for its recipe (zkf__wait_t):
 *
 *   - The release mark. A holder releases with one multi: setData of
 *     ZKF__RELEASE_MARK on its node, then delete. The successor's
 *     data watch (getData) fires on the first change, so it sees "data changed",
 *     which only a releasing holder causes (a waiter that gives up, a
 *     crashed or expired contender, the local-loss cleanup: all plain
 *     deletes). The predecessor was the holder, so nothing below it is
 *     left: we hold, at the zxid of that multi.
 *   - The head. If the predecessor was the lowest node when we listed, its
 *     deletion, however it came, leaves nothing below us: ZooKeeper hands
 *     out sequence numbers in increasing order from the parent's counter,
 *     so no node created after our listing can sort below ours.
 *
 * Either shortcut would make a waiter whose own node was deleted by hand
 * believe it holds (relisting would have noticed). So a waiter also
 * watches its own node, armed in the same round trip as the predecessor's
 * watch: ZooKeeper delivers a session's watch events in zxid order, so the
 * deletion of our node reaches us before any later release, and the
 * attempt ends with ZKF_ELOCKLOST instead. The watch stays armed while we
 * hold, so a holder that waited also learns of such a deletion at once.
 * Our own release or cleanup fires it, which costs nothing more.
 *
 * Attempt phases:
 *
 *   CREATE   create2 + getChildren in flight
 *   PARENTS  creating the recipe path's ancestors, then CREATE again
 *   LIST     getChildren in flight
 *   STAT     exists on our own node (after recovering it by GUID)
 *   WATCH    data watch (getData) armed on the predecessor, or (a rule that waits for
 *            the children to change) a children watch on the recipe path
 *   RECOVER  an operation lost its connection: wait for the session to come
 *            back, then sync + list and find our node by GUID
 *   CLEANUP  given up (timeout, try-lock, cancel, error): deleting our node
 *   HELD     ours (the attempt stays attached to its owner)
 *   DONE     finished, not holding
 *
 * Invariants:
 *   - The owner keeps its reference from zkf__attempt_new until the outcome
 *     is reported, and until it releases or drops a holding.
 *   - An attempt is in the client's active list (a->reg) until it reports
 *     its outcome; a->reg also owns its watches, while it cares about them.
 *   - A create whose reply we never saw may have made a node: such a node
 *     is found by its GUID and deleted, never left to block others.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attempt.h"

enum phase {
    PH_CREATE,
    PH_PARENTS,
    PH_LIST,
    PH_STAT,
    PH_WATCH,
    PH_RECOVER,
    PH_CLEANUP,
    PH_HELD,
    PH_DONE
};

struct zkf__attempt {
    zkf__recipe_obj_t reg; /* in c->active while in progress; owner of its watches */
    zkf_client_t *c;
    const zkf__recipe_t *recipe;
    void *owner;
    const char *dir; /* the recipe's path (the owner's) */
    int *zk_err;     /* the owner's */
    int refs;        /* the owner's, plus one per ZooKeeper call in flight */
    uint64_t gen;
    enum phase phase;
    char guid[ZKF__GUID_LEN + 1];
    char *create_path; /* "<dir>/<prefix>-<guid>-", in this block */
    char *node;        /* our node's full path once known (in node_buf), or NULL */
    char *node_buf;    /* in this block, node_cap bytes */
    size_t node_cap;
    int spare; /* this block is its owner's spare (see attempt_get) */
    uint64_t czxid;
    int parent_rounds;
    int64_t deadline_ns;   /* kept by the core (event thread); 0: none */
    int64_t recover_at_ns; /* in RECOVER: when the event thread retries */
    int try_once;
    int status;           /* the outcome to report, in CLEANUP */
    int create_in_flight; /* a create has not been answered */
    int create_lost;      /* a create's answer was lost: a node may exist unseen */
    int gone_holds;       /* in WATCH: the rule's shortcuts for the watched node */
    int mark_holds;
    int children_wait; /* in WATCH: a->watch is on the recipe path's children */
    const char *data;  /* our node's data (the owner's), or NULL */
    int data_len;
    zkf__watch_t *watch;     /* on the predecessor, or on the children */
    zkf__watch_t *own_watch; /* on our own node, once we had to wait */
};

typedef struct zkf__op {
    zkf__attempt_t *a;
    uint64_t gen;
    int last;        /* for parent creation: the final component */
    zkf__watch_t *w; /* the watch this call arms, or NULL */
    int64_t sent_ns; /* when the call was queued: a lower bound on its send time */
} zkf__op_t;

static void relist(zkf__attempt_t *a, int with_sync);
static void send_create(zkf__attempt_t *a);
static void abort_attempt(zkf__attempt_t *a, int status);
static void own_watch_forget(zkf__attempt_t *a);
static void own_watch_arm(zkf__attempt_t *a);
static void watch_children(zkf__attempt_t *a);
static const zkf__recipe_ops_t attempt_ops;

/* ---- attempt lifetime ---- */

/* An attempt is one block: the struct, its create path and room for its
 * node's full path (the create path plus the sequence suffix, with room to
 * spare). Each owner (a lock object) allocates one such block when it is
 * created and reuses it for every acquisition whose predecessor is
 * finished: a held lock then costs no allocation of its own, and the
 * memory of many held locks lies together instead of between the transient buffers of their
 * requests (which had made RSS four times the heap in bench/lock's
 * many-locks case). An attempt still referenced by calls in flight when
 * the next acquisition starts gets a block of its own. */
/* The longest create path of any kind of the recipe's nodes under dir. */
static size_t attempt_create_len(const zkf__recipe_t *r, const char *dir)
{
    size_t prefix = 0;
    for (const char *const *p = r->prefixes; *p; p++) {
        size_t l = strlen(*p);
        if (l > prefix)
            prefix = l;
    }
    return strlen(dir) + 1 + prefix + sizeof("--") + ZKF__GUID_LEN;
}

/* The block of an attempt whose create path takes create_len bytes. */
static size_t attempt_block_size(size_t create_len)
{
    return sizeof(zkf__attempt_t) + 2 * create_len + 24;
}

zkf__attempt_t *zkf__attempt_spare(const zkf__recipe_t *r, const char *dir)
{
    return zkf__calloc(1, attempt_block_size(attempt_create_len(r, dir)));
}

void zkf__attempt_spare_free(zkf__attempt_t *spare)
{
    if (spare->refs == 0)
        free(spare);
    else
        spare->spare = 0; /* calls in flight hold it: the last reference frees it */
}

/* A zeroed attempt: the owner's spare block (made for the same recipe and
 * path, so for the same len) if free, else a new block. */
static zkf__attempt_t *attempt_get(size_t len, zkf__attempt_t *spare)
{
    zkf__attempt_t *a = spare;
    if (a != NULL && a->refs == 0)
        memset(a, 0, sizeof(*a));
    else if ((a = zkf__calloc(1, attempt_block_size(len))) == NULL)
        return NULL;
    a->spare = a == spare;
    a->create_path = (char *)(a + 1);
    a->node_buf = a->create_path + len;
    a->node_cap = len + 24;
    return a;
}

/* Our node's name before ZooKeeper appends the sequence (see
 * zkf__delete_later). */
static const char *stem(const zkf__attempt_t *a)
{
    return a->create_path + strlen(a->dir) + 1;
}

static void attempt_unref(zkf__attempt_t *a)
{
    if (--a->refs > 0)
        return;
    if (!a->spare)
        free(a); /* a spare stays with its owner, free for the next attempt */
}

/* Records our node's full path: dir "/" name, or the full path when name
 * is NULL. Returns 0, or -1 if it cannot be ours (too long). */
static int node_set(zkf__attempt_t *a, const char *dir, const char *name)
{
    int n = name ? snprintf(a->node_buf, a->node_cap, "%s/%s", dir, name)
                 : snprintf(a->node_buf, a->node_cap, "%s", dir);
    if (n < 0 || (size_t)n >= a->node_cap) {
        a->node = NULL;
        return -1;
    }
    a->node = a->node_buf;
    return 0;
}

static zkf__op_t *op_new(zkf__attempt_t *a)
{
    zkf__op_t *op = zkf__calloc(1, sizeof(*op));
    if (op == NULL)
        return NULL;
    op->a = a;
    op->gen = a->gen;
    op->sent_ns = zkf__now_ns();
    a->refs++;
    return op;
}

/* Takes c->mu and resolves a completion's op, whose ZooKeeper code is rc
 * (an answer from the server is contact: zkf__heard). *stale: the attempt
 * moved on since the call was issued. The caller unrefs the attempt and
 * unlocks. */
static zkf__attempt_t *op_take(const void *data, int rc, int *stale)
{
    zkf__op_t *op = (zkf__op_t *)data;
    zkf__attempt_t *a = op->a;
    pthread_mutex_lock(&a->c->mu);
    zkf__heard(a->c, rc, op->sent_ns);
    *stale = op->gen != a->gen;
    free(op);
    return a;
}

static void op_done(zkf__attempt_t *a)
{
    zkf_client_t *c = a->c;
    attempt_unref(a);
    pthread_mutex_unlock(&c->mu);
}

/* A call that could not even be issued never calls back. */
static int op_issued(zkf__attempt_t *a, zkf__op_t *op, int rc)
{
    if (rc != ZOK) {
        free(op);
        a->refs--;
    }
    return rc;
}

/* Reports an attempt's outcome exactly once. */
static void complete(zkf__attempt_t *a, int status)
{
    zkf_client_t *c = a->c;
    if (a->phase == PH_DONE || a->phase == PH_HELD)
        return;
    a->gen++; /* whatever is still in flight is history */
    zkf__active_remove(c, &a->reg);

    uint64_t token = 0;
    if (status == 0) {
        a->phase = PH_HELD;
        token = a->czxid;
    } else {
        a->phase = PH_DONE;
        own_watch_forget(a);
    }
    a->recipe->done(a->owner, a, status, token);
    if (status != 0)
        attempt_unref(a); /* the owner's reference */
    pthread_cond_broadcast(&c->cv);
}

/* ---- watches ---- */

/* The attempt that cares about w, or NULL. */
static zkf__attempt_t *watch_attempt(const zkf__watch_t *w)
{
    return w->owner ? ZKF__CONTAINER_OF(w->owner, zkf__attempt_t, reg) : NULL;
}

/* Our own node changed while we still care: only a hand deletion (or a
 * foreign setData) does that, since our own release and cleanup forget the
 * watch first. Deleted: the attempt, or the holding, is lost. Changed:
 * still ours; watch again. */
static void own_node_changed(zkf__attempt_t *a, int type)
{
    if (type != ZOO_DELETED_EVENT) {
        own_watch_arm(a);
        return;
    }
    if (a->phase == PH_HELD) {
        a->recipe->holding_lost(a->owner, a);
    } else if (a->phase != PH_DONE && a->phase != PH_CLEANUP) {
        a->node = NULL; /* gone: nothing to clean up */
        abort_attempt(a, ZKF_ELOCKLOST);
    }
}

/* libzookeeper calls a watcher for every session event while it is armed,
 * and once more, with the node event, when it fires; that last call is
 * when the watch ends. */
static void watch_fn(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    if (type == ZOO_SESSION_EVENT)
        return;
    zkf__watch_t *w = ctx;
    zkf_client_t *c = w->c;
    pthread_mutex_lock(&c->mu);
    zkf__attempt_t *a = watch_attempt(w);
    int own = w->own;
    int ours = a != NULL && (own ? a->own_watch == w : a->watch == w);
    if (ours && own)
        a->own_watch = NULL;
    else if (ours)
        a->watch = NULL;
    zkf__watch_fired(c, w); /* w is not touched below */
    if (ours && own) {
        own_node_changed(a, type);
    } else if (ours) {
        /* A release mark, or the head gone, where the rule says that
         * means we hold (see the top); else look again (for a children
         * wait, with the listing that watches them again). */
        if (a->phase == PH_WATCH && a->children_wait)
            watch_children(a);
        else if (a->phase == PH_WATCH && ((type == ZOO_CHANGED_EVENT && a->mark_holds) ||
                                          (type == ZOO_DELETED_EVENT && a->gone_holds)))
            complete(a, 0);
        else if (a->phase == PH_WATCH)
            relist(a, 0);
    }
    pthread_mutex_unlock(&c->mu);
}

/* Nobody wants the armed watch w any more: remove it from ZooKeeper too,
 * so that no wake-up comes later and the server keeps no state for us. */
static void watch_remove(zkf_client_t *c, zkf__watch_t *w)
{
    zkf__watch_remove(c, w, watch_fn);
}

/* The attempt no longer wants its predecessor's watch. */
static void watch_disarm(zkf__attempt_t *a)
{
    zkf__watch_t *w = a->watch;
    if (w == NULL)
        return;
    a->watch = NULL;
    watch_remove(a->c, w);
}

/* The attempt no longer cares about its own node's watch. No removal is
 * sent: the deletion of our node, by our release or cleanup, fires it (or
 * the session's end drops it), and watch_fn then frees it. */
static void own_watch_forget(zkf__attempt_t *a)
{
    zkf__watch_t *w = a->own_watch;
    if (w == NULL)
        return;
    a->own_watch = NULL;
    w->owner = NULL;
}

static zkf__watch_t *watch_new(zkf__attempt_t *a, const char *path, int own)
{
    zkf__watch_t *w = zkf__watch_new(a->c, path, &a->reg);
    if (w)
        w->own = own;
    return w;
}

static void own_exists_done(int rc, const struct Stat *stat, const void *data)
{
    int stale;
    zkf__watch_t *w = ((const zkf__op_t *)data)->w;
    zkf__attempt_t *a = op_take(data, rc, &stale);
    /* Forgotten meanwhile by our release or cleanup (own_watch_forget),
     * and armed: the delete of our node, sent after this exists on the
     * same session, fires it, and watch_fn frees it then. A removal would
     * be one more request for nothing (at k = 2 a holder often releases
     * before this answer is back). */
    if (rc == ZOK && w->owner == NULL && !w->removing) {
        w->arming = 0;
        op_done(a);
        return;
    }
    /* Forgotten meanwhile: removed (or freed) here, nothing else to do. */
    if (zkf__watch_armed(a->c, w, rc == ZOK || rc == ZNONODE, watch_fn)) {
        op_done(a);
        return;
    }
    int cared = watch_attempt(w) == a && a->own_watch == w;
    if (rc == ZOK) {
        /* armed */
    } else if (rc == ZNONODE) {
        /* Our node is gone, and libzookeeper armed a creation watch on it:
         * remove that, then end what the node stood for. */
        if (cared)
            a->own_watch = NULL;
        watch_remove(a->c, w);
        if (cared)
            own_node_changed(a, ZOO_DELETED_EVENT);
    } else {
        /* Nothing was armed (the connection went: the attempt's other calls
         * fail too and it recovers, watching again when it waits again). */
        if (cared)
            a->own_watch = NULL;
        zkf__watch_free(a->c, w);
    }
    op_done(a);
}

/* Watches our own node (see the top), in the same round trip as the
 * predecessor's watch. Best effort: without memory, we go without. */
static void own_watch_arm(zkf__attempt_t *a)
{
    zhandle_t *zh = zkf__zh(a->c);
    if (a->own_watch != NULL || a->node == NULL || zh == NULL)
        return;
    zkf__watch_t *w = watch_new(a, a->node, 1);
    zkf__op_t *op = w ? op_new(a) : NULL;
    if (op == NULL) {
        if (w)
            zkf__watch_free(a->c, w);
        return;
    }
    op->w = w;
    a->own_watch = w;
    if (op_issued(a, op, zoo_awexists(zh, a->node, watch_fn, w, own_exists_done, op)) != ZOK) {
        a->own_watch = NULL;
        zkf__watch_free(a->c, w);
        return;
    }
    w->arming = 1;
}

/* ---- failure routing ---- */

#define RECOVER_RETRY_NS (1000LL * 1000 * 1000)

static void enter_recover(zkf__attempt_t *a)
{
    a->phase = PH_RECOVER;
    a->recover_at_ns = zkf__now_ns() + RECOVER_RETRY_NS;
    pthread_cond_broadcast(&a->c->cv); /* the event thread owns the retry */
}

/* An operation of a live attempt failed with ZooKeeper code rc. */
static void op_failed(zkf__attempt_t *a, int rc)
{
    switch (rc) {
    case ZCONNECTIONLOSS:
    case ZOPERATIONTIMEOUT:
    case ZSESSIONMOVED:
        /* Our requests may or may not have been applied: recover by GUID
         * once the session is back. libzookeeper queues these completions
         * before the reconnect's CONNECTED event, so that event (see
         * attempt_reconnected) starts the recovery; the event thread
         * retries too, as a safety net, and no call recurses from here. */
        a->gen++;
        enter_recover(a);
        return;
    case ZSESSIONEXPIRED:
    case ZINVALIDSTATE:
    case ZCLOSING:
        /* The session is gone and took our node with it. The session event
         * that follows reports it too. */
        watch_disarm(a);
        complete(a, zkf__from_zk(rc));
        return;
    default:
        *a->zk_err = rc;
        abort_attempt(a, zkf__from_zk(rc));
        return;
    }
}

/* ---- cleanup of a given-up attempt ---- */

static void cleanup_deleted(int rc, const void *data)
{
    int stale;
    zkf__attempt_t *a = op_take(data, rc, &stale);
    if (rc != ZOK && rc != ZNONODE && rc != ZSESSIONEXPIRED && rc != ZCLOSING &&
        rc != ZINVALIDSTATE)
        zkf__delete_later(a->c, a->node, NULL);
    complete(a, a->status);
    op_done(a);
}

static void cleanup_delete(zkf__attempt_t *a)
{
    zkf_client_t *c = a->c;
    zhandle_t *zh = zkf__zh(c);
    if (zh != NULL && c->state == ZKF_CLIENT_CONNECTED) {
        zkf__op_t *op = op_new(a);
        if (op && op_issued(a, op, zoo_adelete(zh, a->node, -1, cleanup_deleted, op)) == ZOK)
            return;
    }
    zkf__delete_later(c, a->node, NULL);
    complete(a, a->status);
}

/* Gives up an attempt: removes our watch and our node, then reports
 * `status`. Idempotent. */
static void abort_attempt(zkf__attempt_t *a, int status)
{
    if (a->phase == PH_CLEANUP || a->phase == PH_HELD || a->phase == PH_DONE)
        return;
    a->gen++;
    a->status = status;
    watch_disarm(a);
    if (a->node) {
        a->phase = PH_CLEANUP;
        cleanup_delete(a);
    } else if (a->create_in_flight) {
        a->phase = PH_CLEANUP; /* create_done finishes the job */
    } else {
        if (a->create_lost)
            zkf__delete_later(a->c, a->dir, stem(a));
        complete(a, status);
    }
}

/* ---- the queue ---- */

/* The predecessor's watch is a getData watch, not an exists watch: on a
 * node that is already gone getData arms nothing, where exists would arm a
 * creation watch that then costs a removal request (at k = 2 the holder is
 * often gone by the time a waiter asks: half a request per handoff). On a
 * node that exists the two are the same data watch (changed, deleted). */
static void pred_data_done(int rc, const char *value, int value_len, const struct Stat *stat,
                           const void *data)
{
    (void)value;
    (void)value_len;
    (void)stat;
    int stale;
    zkf__watch_t *w = ((const zkf__op_t *)data)->w;
    zkf__attempt_t *a = op_take(data, rc, &stale);
    /* Disarmed while the getData was in flight: removed (or freed) now. */
    int settled = zkf__watch_armed(a->c, w, rc == ZOK, watch_fn);
    if (!settled && !stale && a->phase == PH_WATCH) {
        if (rc == ZOK) {
            /* armed: wait for the predecessor to go */
        } else {
            /* Nothing was armed: forget our watch. */
            if (a->watch == w) {
                a->watch = NULL;
                zkf__watch_free(a->c, w);
            }
            if (rc != ZNONODE)
                op_failed(a, rc);
            else if (a->gone_holds) /* gone already: we hold, or look again */
                complete(a, 0);
            else
                relist(a, 0);
        }
    }
    op_done(a);
}

static void watch_predecessor(zkf__attempt_t *a, const char *name, const zkf__wait_t *wait)
{
    zkf_client_t *c = a->c;
    size_t len = strlen(a->dir) + 1 + strlen(name) + 1;
    char *path = zkf__malloc(len);
    zkf__watch_t *w = NULL;
    zkf__op_t *op = NULL;
    if (path != NULL) {
        snprintf(path, len, "%s/%s", a->dir, name);
        w = watch_new(a, path, 0);
        free(path);
    }
    if (w == NULL || (op = op_new(a)) == NULL) {
        if (w)
            zkf__watch_free(c, w);
        abort_attempt(a, ZKF_ENOMEM);
        return;
    }
    a->watch = w;
    a->phase = PH_WATCH;
    a->children_wait = 0;
    a->gone_holds = wait->gone_holds;
    a->mark_holds = wait->mark_holds;
    op->w = w;
    int rc = op_issued(a, op, zoo_awget(zkf__zh(c), w->path, watch_fn, w, pred_data_done, op));
    if (rc != ZOK) {
        a->watch = NULL;
        zkf__watch_free(c, w);
        op_failed(a, rc);
        return;
    }
    w->arming = 1;
    own_watch_arm(a); /* pipelined: no extra round trip */
}

static void children_done(int rc, const struct String_vector *sv, const void *data);

/* The rule waits for the recipe path's children to change: list them with
 * a watch, which the next change fires (then we list again the same way).
 * Each answer goes to the rule (children_done). Our own node's watch too,
 * in the same round trip, as for a predecessor. */
static void watch_children(zkf__attempt_t *a)
{
    zkf_client_t *c = a->c;
    zkf__watch_t *w = watch_new(a, a->dir, 0);
    zkf__op_t *op = w ? op_new(a) : NULL;
    if (op == NULL) {
        if (w)
            zkf__watch_free(c, w);
        abort_attempt(a, ZKF_ENOMEM);
        return;
    }
    w->children = 1;
    a->watch = w;
    a->phase = PH_WATCH;
    a->children_wait = 1;
    op->w = w;
    int rc =
        op_issued(a, op, zoo_awget_children(zkf__zh(c), a->dir, watch_fn, w, children_done, op));
    if (rc != ZOK) {
        a->watch = NULL;
        zkf__watch_free(c, w);
        op_failed(a, rc);
        return;
    }
    w->arming = 1;
    own_watch_arm(a);
}

static void stat_done(int rc, const struct Stat *stat, const void *data)
{
    int stale;
    zkf__attempt_t *a = op_take(data, rc, &stale);
    if (!stale && a->phase == PH_STAT) {
        if (rc == ZOK && stat->ephemeralOwner == a->c->session_id) {
            a->czxid = (uint64_t)stat->czxid;
            relist(a, 0);
        } else if (rc == ZOK) {
            /* A node with our GUID that another session owns (a GUID
             * collision, or someone copying names): not ours to delete.
             * Forget it before giving up, or the cleanup would delete it. */
            a->node = NULL;
            abort_attempt(a, ZKF_EZK);
        } else if (rc == ZNONODE) {
            send_create(a); /* vanished before we could read it: start over */
        } else {
            op_failed(a, rc);
        }
    }
    op_done(a);
}

/* A create's reply was lost; the listing shows whether it was applied. */
static void adopt_by_guid(zkf__attempt_t *a, const zkf__node_t *nodes, size_t n)
{
    const zkf__node_t *mine = NULL;
    for (size_t i = 0; i < n; i++) {
        if (memcmp(nodes[i].guid, a->guid, ZKF__GUID_LEN) != 0)
            continue;
        if (mine == NULL)
            mine = &nodes[i];
    }
    if (mine == NULL) {
        /* Not applied (the listing follows a sync, so it is current). */
        a->create_lost = 0;
        send_create(a);
        return;
    }
    if (node_set(a, a->dir, mine->name) != 0) {
        abort_attempt(a, ZKF_EZK); /* not a name our create could have made */
        return;
    }
    a->create_lost = 0;
    /* Read its Stat: the token, and proof that it belongs to our session. */
    a->gen++;
    a->phase = PH_STAT;
    zkf__op_t *op = op_new(a);
    if (op == NULL) {
        abort_attempt(a, ZKF_ENOMEM);
        return;
    }
    int rc = op_issued(a, op, zoo_aexists(zkf__zh(a->c), a->node, 0, stat_done, op));
    if (rc != ZOK)
        op_failed(a, rc);
}

static void evaluate(zkf__attempt_t *a, const struct String_vector *sv)
{
    zkf__node_t *nodes;
    size_t n;
    if (zkf__nodes_sorted_as(a->recipe->prefixes, sv, &nodes, &n) != 0) {
        abort_attempt(a, ZKF_ENOMEM);
        return;
    }
    if (a->node == NULL) {
        adopt_by_guid(a, nodes, n);
        free(nodes);
        return;
    }

    const char *me = strrchr(a->node, '/') + 1;
    size_t idx = n;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(nodes[i].name, me) == 0) {
            idx = i;
        } else if (memcmp(nodes[i].guid, a->guid, ZKF__GUID_LEN) == 0) {
            /* A duplicate from a create retried after a lost reply. */
            size_t len = strlen(a->dir) + 1 + strlen(nodes[i].name) + 1;
            char *dup = zkf__malloc(len);
            if (dup) {
                snprintf(dup, len, "%s/%s", a->dir, nodes[i].name);
                zkf__delete_later(a->c, dup, NULL);
                free(dup);
            }
        }
    }
    zkf__wait_t wait = {0};
    if (idx == n) {
        /* Our node is gone although our session lives: someone deleted it. */
        a->node = NULL;
        abort_attempt(a, ZKF_ELOCKLOST);
    } else if (a->recipe->rule(a->owner, nodes, n, idx, &wait)) {
        watch_disarm(a); /* a children watch this listing armed; else none */
        complete(a, 0);
    } else if (a->try_once) {
        abort_attempt(a, ZKF_EBUSY);
    } else if (wait.children) {
        if (a->watch == NULL) /* else this very listing armed it: wait */
            watch_children(a);
    } else {
        watch_disarm(a);
        watch_predecessor(a, nodes[wait.node].name, &wait);
    }
    free(nodes);
}

/* The listing found no recipe path. Before our node is known (an acquire
 * that started while disconnected, or a create whose reply was lost), that
 * means our create was never applied: our node, had it been made, would
 * keep the path alive while our session lives. So create it, parents
 * first. Once our node is known, it is gone along with the path: someone
 * deleted them under our live session. */
static void path_missing(zkf__attempt_t *a)
{
    if (a->node == NULL) {
        a->create_lost = 0;
        send_create(a);
        return;
    }
    a->node = NULL;
    abort_attempt(a, ZKF_ELOCKLOST);
}

static void children_done(int rc, const struct String_vector *sv, const void *data)
{
    int stale;
    zkf__watch_t *w = ((const zkf__op_t *)data)->w; /* NULL: a listing without a watch */
    zkf__attempt_t *a = op_take(data, rc, &stale);
    /* Disarmed while the listing was in flight: removed (or freed) now. */
    if (w && zkf__watch_armed(a->c, w, rc == ZOK, watch_fn))
        w = NULL;
    int waiting = a->phase == PH_WATCH && a->children_wait;
    if (!stale && waiting && rc != ZOK && w && a->watch == w) {
        /* A failed listing armed no watch: forget ours. */
        zkf__watch_free(a->c, w);
        a->watch = NULL;
    }
    if (!stale && (a->phase == PH_LIST || a->phase == PH_CREATE || waiting)) {
        if (rc == ZOK)
            evaluate(a, sv);
        else if (rc == ZNONODE)
            path_missing(a);
        else
            op_failed(a, rc);
    }
    op_done(a);
}

static void sync_done(int rc, const char *value, const void *data)
{
    int stale;
    zkf__attempt_t *a = op_take(data, rc, &stale);
    op_done(a); /* the listing that follows carries the outcome */
}

static void relist(zkf__attempt_t *a, int with_sync)
{
    zhandle_t *zh = zkf__zh(a->c);
    a->gen++;
    a->phase = PH_LIST;
    if (zh == NULL) {
        enter_recover(a);
        return;
    }
    if (with_sync) {
        /* After a reconnect the server we now talk to may lag behind the
         * one that took our create: catch it up before we look. */
        zkf__op_t *sop = op_new(a);
        if (sop)
            op_issued(a, sop, zoo_async(zh, a->dir, sync_done, sop));
    }
    zkf__op_t *op = op_new(a);
    if (op == NULL) {
        abort_attempt(a, ZKF_ENOMEM);
        return;
    }
    int rc = op_issued(a, op, zoo_aget_children(zh, a->dir, 0, children_done, op));
    if (rc != ZOK)
        op_failed(a, rc);
}

static void parent_done(int rc, const char *value, const void *data)
{
    int stale;
    zkf__op_t *op = (zkf__op_t *)data;
    int last = op->last;
    zkf__attempt_t *a = op_take(data, rc, &stale);
    if (last && !stale && a->phase == PH_PARENTS) {
        if (rc == ZOK || rc == ZNODEEXISTS)
            send_create(a);
        else
            op_failed(a, rc);
    }
    op_done(a);
}

/* Creates every missing ancestor of the recipe path, in one pipelined
 * burst: ZooKeeper applies them in order, so only the last reply matters.
 * The recipe path itself is a container node, which the server removes once its
 * last contender is gone. */
static void create_parents(zkf__attempt_t *a)
{
    zkf_client_t *c = a->c;
    zhandle_t *zh = zkf__zh(c);
    const char *path = a->dir;
    if (++a->parent_rounds > ZKF__PARENT_RETRIES) {
        *a->zk_err = ZNONODE;
        abort_attempt(a, ZKF_EZK);
        return;
    }
    a->gen++;
    a->phase = PH_PARENTS;
    char buf[ZKF__MAX_PATH + 1];
    for (const char *p = strchr(path + 1, '/');; p = strchr(p + 1, '/')) {
        int last = p == NULL;
        size_t len = last ? strlen(path) : (size_t)(p - path);
        memcpy(buf, path, len);
        buf[len] = '\0';
        zkf__op_t *op = op_new(a);
        if (op == NULL) {
            abort_attempt(a, ZKF_ENOMEM);
            return;
        }
        op->last = last;
        int rc = op_issued(
            a, op, zoo_acreate(zh, buf, "", 0, &c->acl, last ? ZOO_CONTAINER : 0, parent_done, op));
        if (rc != ZOK) {
            op_failed(a, rc);
            return;
        }
        if (last)
            break;
    }
}

static void create_done(int rc, const char *value, const struct Stat *stat, const void *data)
{
    int stale;
    zkf__attempt_t *a = op_take(data, rc, &stale);
    a->create_in_flight = 0;
    if (rc == ZOK) {
        if (!stale && a->phase == PH_CREATE) {
            a->czxid = (uint64_t)stat->czxid;
            if (node_set(a, value, NULL) != 0) {
                zkf__delete_later(a->c, value, NULL);
                abort_attempt(a, ZKF_EZK);
            } else if (stat->ephemeralOwner != a->c->session_id)
                abort_attempt(a, ZKF_EZK);
            /* else: the pipelined listing comes next */
        } else if (a->phase == PH_CLEANUP && a->node == NULL) {
            if (node_set(a, value, NULL) == 0) {
                cleanup_delete(a);
            } else {
                zkf__delete_later(a->c, value, NULL);
                complete(a, a->status);
            }
        } else {
            zkf__delete_later(a->c, value, NULL); /* an orphan nobody waits for */
        }
    } else if (a->phase == PH_CLEANUP && a->node == NULL) {
        if (rc == ZCONNECTIONLOSS || rc == ZOPERATIONTIMEOUT)
            zkf__delete_later(a->c, a->dir, stem(a));
        complete(a, a->status);
    } else if (rc == ZCONNECTIONLOSS || rc == ZOPERATIONTIMEOUT) {
        if (a->node == NULL)
            a->create_lost = 1;
        if (!stale)
            op_failed(a, rc);
    } else if (!stale) {
        if (rc == ZNONODE)
            create_parents(a);
        else
            op_failed(a, rc);
    }
    op_done(a);
}

static void send_create(zkf__attempt_t *a)
{
    zkf_client_t *c = a->c;
    zhandle_t *zh = zkf__zh(c);
    a->gen++;
    if (zh == NULL || c->state != ZKF_CLIENT_CONNECTED) {
        enter_recover(a); /* resumes when the session is up */
        return;
    }
    a->phase = PH_CREATE;
    zkf__op_t *cop = op_new(a), *lop = cop ? op_new(a) : NULL;
    if (lop == NULL) {
        if (cop) {
            free(cop);
            a->refs--;
        }
        abort_attempt(a, ZKF_ENOMEM);
        return;
    }
    a->create_in_flight = 1;
    int rc = op_issued(a, cop,
                       zoo_acreate2(zh, a->create_path, a->data ? a->data : "",
                                    a->data ? a->data_len : 0, &c->acl, ZOO_EPHEMERAL_SEQUENTIAL,
                                    create_done, cop));
    if (rc != ZOK) {
        a->create_in_flight = 0;
        free(lop);
        a->refs--;
        op_failed(a, rc);
        return;
    }
    rc = op_issued(a, lop, zoo_aget_children(zh, a->dir, 0, children_done, lop));
    if (rc != ZOK)
        op_failed(a, rc);
}

/* ---- the owner's calls ---- */

static const char *kind_prefix(const zkf__recipe_t *r, int kind)
{
    for (int k = 0; r->prefixes[k] != NULL; k++)
        if (k == kind)
            return r->prefixes[k];
    return NULL;
}

int zkf__attempt_new(zkf_client_t *c, const zkf__recipe_t *r, const zkf__attempt_args_t *args,
                     zkf__attempt_t *spare, zkf__attempt_t **out)
{
    if (c->state == ZKF_CLIENT_AUTH_FAILED)
        return ZKF_ENOAUTH; /* final: no session will ever come */
    const char *prefix = kind_prefix(r, args->kind);
    if (prefix == NULL || strlen(prefix) > ZKF__PREFIX_MAX)
        return ZKF_EINVAL;
    size_t len = attempt_create_len(r, args->dir);
    zkf__attempt_t *a = attempt_get(len, spare);
    if (a == NULL)
        return ZKF_ENOMEM;
    if (zkf__guid(a->guid) != 0) {
        if (!a->spare)
            free(a);
        return ZKF_ESYS;
    }
    snprintf(a->create_path, len, "%s/%s-%s-", args->dir, prefix, a->guid);
    a->c = c;
    a->recipe = r;
    a->owner = args->owner;
    a->dir = args->dir;
    a->zk_err = args->zk_err;
    a->refs = 1;
    a->try_once = args->try_once;
    a->deadline_ns = args->deadline_ns;
    a->data = args->data;
    a->data_len = args->data_len;
    zkf__active_add(c, &a->reg, &attempt_ops);
    *out = a;
    return 0;
}

void zkf__attempt_run(zkf__attempt_t *a)
{
    /* send_create may report the outcome at once, and a failed attempt
     * may be freed then: nothing of `a` is read after it. */
    zkf_client_t *c = a->c;
    int timed = a->deadline_ns != 0;
    send_create(a);
    if (timed)
        pthread_cond_broadcast(&c->cv); /* the event thread owns the deadline */
}

void zkf__attempt_abort(zkf__attempt_t *a, int status)
{
    abort_attempt(a, status);
}

int zkf__attempt_deadline_status(const zkf__attempt_t *a)
{
    /* "Busy" or "unreachable": the attempt is recovering from a lost
     * connection, or the session is not connected right now. */
    if (a->phase == PH_RECOVER || a->c->state != ZKF_CLIENT_CONNECTED)
        return ZKF_ECONNLOSS;
    return ZKF_ETIMEDOUT;
}

/* The holding ends: from here on nothing of it is reported. */
static void holding_end(zkf__attempt_t *a)
{
    a->phase = PH_DONE;
    own_watch_forget(a); /* our own delete fires it next */
}

int zkf__attempt_release(zkf__attempt_t *a)
{
    holding_end(a);
    /* Not waiting for the answer lets ZooKeeper commit this delete and our
     * next create in one sync; the successor cannot get it before the
     * delete is applied anyway. A lost connection has the deletion retried
     * after reconnecting until the node is gone or the session has ended. */
    int rc = zkf__release_later(a->c, a->node);
    attempt_unref(a);
    if (rc < 0)
        return rc; /* ZKF_ENOMEM: nothing queued; the session's end removes the node */
    return rc ? 0 : ZKF_EPENDING;
}

void zkf__attempt_drop(zkf__attempt_t *a)
{
    holding_end(a);
    attempt_unref(a);
}

void zkf__attempt_lost_locally(zkf__attempt_t *a)
{
    if (a->node)
        zkf__delete_later(a->c, a->node, NULL);
}

const char *zkf__attempt_node(const zkf__attempt_t *a)
{
    return a->node;
}

void zkf__waiter_wait(zkf_client_t *c, zkf__waiter_t *w, int64_t deadline, void (*expire)(void *),
                      void *obj)
{
    while (!w->done) {
        if (deadline && zkf__now_ns() >= deadline) {
            expire(obj); /* completes after cleanup */
            deadline = 0;
            continue;
        }
        if (deadline == 0) {
            pthread_cond_wait(&c->cv, &c->mu);
        } else {
            struct timespec ts;
            zkf__abs_deadline(&ts, deadline);
            pthread_cond_timedwait(&c->cv, &c->mu, &ts);
        }
    }
}

/* ---- what the client tells an attempt in progress (c->mu held) ---- */

static zkf__attempt_t *reg_attempt(zkf__recipe_obj_t *o)
{
    return ZKF__CONTAINER_OF(o, zkf__attempt_t, reg);
}

static void attempt_reconnected(zkf__recipe_obj_t *o)
{
    zkf__attempt_t *a = reg_attempt(o);
    if (a->phase == PH_RECOVER)
        relist(a, 1);
}

static void attempt_lost(zkf__recipe_obj_t *o, int status, int local)
{
    zkf__attempt_t *a = reg_attempt(o);
    if (a->phase == PH_RECOVER && a->node == NULL && !a->create_in_flight && !a->create_lost) {
        /* Nothing of this attempt is on the server yet: it simply waits
         * for the next session and queues then. */
    } else if (local) {
        abort_attempt(a, status);
    } else {
        /* The server removed our nodes. An attempt already giving up
         * reports why it gave up; the others report the expiry. */
        watch_disarm(a);
        complete(a, a->phase == PH_CLEANUP ? a->status : status);
    }
}

static void attempt_timer(zkf__recipe_obj_t *o, int64_t now, int64_t *next_due)
{
    zkf__attempt_t *a = reg_attempt(o);
    if (a->deadline_ns && a->phase != PH_CLEANUP) {
        if (now >= a->deadline_ns) {
            abort_attempt(a, zkf__attempt_deadline_status(a));
            return;
        }
        if (a->deadline_ns < *next_due)
            *next_due = a->deadline_ns;
    }
    if (a->phase == PH_RECOVER && a->c->state == ZKF_CLIENT_CONNECTED) {
        if (now >= a->recover_at_ns)
            relist(a, 1);
        else if (a->recover_at_ns < *next_due)
            *next_due = a->recover_at_ns;
    }
}

/* Also for attempts that hold (their own node's watch stays armed). */
static void attempt_watch_orphaned(zkf__recipe_obj_t *o, zkf__watch_t *w)
{
    zkf__attempt_t *a = reg_attempt(o);
    if (a->watch == w)
        a->watch = NULL;
    if (a->own_watch == w)
        a->own_watch = NULL;
    w->owner = NULL;
}

static const zkf__recipe_ops_t attempt_ops = {
    .reconnected = attempt_reconnected,
    .lost = attempt_lost,
    .timer = attempt_timer,
    .watch_orphaned = attempt_watch_orphaned,
};
