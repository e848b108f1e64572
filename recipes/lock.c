/* The exclusive lock: a recipe on the attempt core (attempt.c), whose
 * rule is "I hold it when my node is first, else I wait for the node just
 * before mine", and its asynchronous API. The blocking API (lock_sync.c)
 * is a thin wrapper over it.
 *
 * A lock object has at most one attempt at a time (l->att): acquiring
 * (WAITING) or holding (HELD, SUSPENDED, LOST). The core reports the
 * attempt's outcome through the recipe table below; the object turns it
 * into its state, and into a callback for the application (through the
 * client's event thread) or a wake-up of the thread blocked in
 * zkf_lock_acquire.
 *
 * Invariants:
 *   - l->att is the attempt from start until completion, and until release
 *     if it succeeded; l->state is WAITING exactly while it is in progress.
 *   - l->sync, l->cb, l->arg describe the acquisition in progress.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lock.h"

#define DEFAULT_MAX_DEPTH 64

const char *zkf_lock_state_name(zkf_lock_state_t state)
{
    switch (state) {
    case ZKF_LOCK_UNLOCKED:
        return "unlocked";
    case ZKF_LOCK_WAITING:
        return "waiting";
    case ZKF_LOCK_HELD:
        return "held";
    case ZKF_LOCK_SUSPENDED:
        return "suspended";
    case ZKF_LOCK_LOST:
        return "lost";
    }
    return "unknown";
}

void zkf_lock_options_init(zkf_lock_options_t *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->size = sizeof(*opts);
    opts->max_depth = DEFAULT_MAX_DEPTH;
}

/* ---- events for the application ---- */

/* An acquire's outcome for its callback, or a state change for event_cb. */
typedef struct lock_event {
    zkf__event_t ev; /* first: the client frees the block through it */
    int acquired;
    int status;
    uint64_t token;
    zkf_lock_state_t state;
    zkf_acquire_cb cb;
    void *arg;
} lock_event_t;

static zkf_lock_t *obj_lock(zkf__recipe_obj_t *o)
{
    return ZKF__CONTAINER_OF(o, zkf_lock_t, obj);
}

/* Queues ev for the event thread; the lock waits for it before it goes. */
static void post(zkf_lock_t *l, lock_event_t *ev)
{
    ev->ev.obj = &l->obj;
    l->pending_events++;
    zkf__post(l->c, &ev->ev);
}

static void post_lock_state(zkf_lock_t *l, zkf_lock_state_t st, uint64_t token)
{
    if (l->opts.event_cb == NULL)
        return;
    lock_event_t *ev = zkf__calloc(1, sizeof(*ev));
    if (ev == NULL)
        return; /* the state stays pollable */
    ev->state = st;
    ev->token = token;
    post(l, ev);
}

/* Event thread, without c->mu (zkf__recipe_ops_t). */
static void lock_deliver(zkf__recipe_obj_t *o, zkf__event_t *e)
{
    zkf_lock_t *l = obj_lock(o);
    lock_event_t *ev = (lock_event_t *)e;
    if (ev->acquired)
        ev->cb(l, ev->status, ev->token, ev->arg);
    else
        l->opts.event_cb(l, ev->state, ev->token, l->opts.event_arg);
}

static void lock_delivered(zkf__recipe_obj_t *o)
{
    zkf_lock_t *l = obj_lock(o);
    l->pending_events--;
    pthread_cond_broadcast(&l->c->cv);
}

/* Ends a holding that can no longer be trusted (c->mu held). */
static void holding_lost(zkf_lock_t *l)
{
    if (l->state != ZKF_LOCK_HELD && l->state != ZKF_LOCK_SUSPENDED)
        return;
    l->state = ZKF_LOCK_LOST;
    post_lock_state(l, ZKF_LOCK_LOST, l->token);
    l->token = 0;
}

/* ---- the recipe ---- */

static const char *const lock_prefixes[] = {"lock", NULL};

/* First holds; every other node waits for the one just before it. Both
 * shortcuts are sound: the predecessor that was first leaves nothing
 * below us however it goes, and one that released was the holder. */
static int lock_rule(void *owner, const zkf__node_t *nodes, size_t n, size_t me, zkf__wait_t *w)
{
    if (me == 0)
        return 1;
    w->node = me - 1;
    w->gone_holds = me == 1;
    w->mark_holds = 1;
    return 0;
}

int zkf__node_parse(const char *name, zkf__node_t *out)
{
    return zkf__node_parse_as(lock_prefixes, name, out);
}

int zkf__nodes_sorted(const struct String_vector *children, zkf__node_t **out, size_t *n)
{
    return zkf__nodes_sorted_as(lock_prefixes, children, out, n);
}

/* The attempt's outcome (see zkf__recipe_t). */
static void lock_done(void *owner, zkf__attempt_t *a, int status, uint64_t token)
{
    zkf_lock_t *l = owner;
    if (status == 0) {
        l->state = ZKF_LOCK_HELD;
        l->token = token;
    } else {
        l->state = ZKF_LOCK_UNLOCKED;
        l->att = NULL;
    }
    if (l->sync) {
        l->sync->done = 1;
        l->sync->status = status;
        l->sync->token = token;
        l->sync = NULL;
        return;
    }
    lock_event_t *ev = zkf__calloc(1, sizeof(*ev));
    if (ev != NULL) {
        ev->acquired = 1;
        ev->status = status;
        ev->token = token;
        ev->cb = l->cb;
        ev->arg = l->arg;
        post(l, ev);
    }
    /* Without memory for the event the callback cannot run; the state
     * stays pollable. This is the one breach of the exactly-once rule, and
     * only under allocation failure. */
}

static void lock_holding_lost(void *owner, zkf__attempt_t *a)
{
    holding_lost(owner);
}

static const zkf__recipe_t lock_recipe = {
    .prefixes = lock_prefixes,
    .rule = lock_rule,
    .done = lock_done,
    .holding_lost = lock_holding_lost,
};

int zkf__lock_start(zkf_lock_t *l, int timeout_ms, zkf_acquire_cb cb, void *arg,
                    zkf__lock_waiter_t *sync)
{
    zkf__attempt_args_t args = {
        .owner = l,
        .dir = l->path,
        .try_once = timeout_ms == 0,
        .zk_err = &l->zk_err,
    };
    if (sync == NULL && timeout_ms > 0)
        args.deadline_ns = zkf__now_ns() + (int64_t)timeout_ms * 1000000LL;
    zkf__attempt_t *a;
    int rc = zkf__attempt_new(l->c, &lock_recipe, &args, l->spare, &a);
    if (rc != 0)
        return rc;
    l->cb = cb;
    l->arg = arg;
    l->sync = sync;
    l->att = a;
    l->state = ZKF_LOCK_WAITING;
    l->zk_err = 0;
    zkf__attempt_run(a);
    return 0;
}

void zkf__lock_deadline_passed(zkf_lock_t *l)
{
    if (l->state == ZKF_LOCK_WAITING && l->att) /* idempotent; completes after cleanup */
        zkf__attempt_abort(l->att, zkf__attempt_deadline_status(l->att));
}

/* ---- what the client tells the lock (c->mu held) ----
 * Only the holding: an attempt in progress hears from the client itself,
 * after every object (attempt.c). */

static void lock_suspended(zkf__recipe_obj_t *o)
{
    zkf_lock_t *l = obj_lock(o);
    if (l->state != ZKF_LOCK_HELD)
        return;
    l->state = ZKF_LOCK_SUSPENDED;
    post_lock_state(l, ZKF_LOCK_SUSPENDED, l->token);
}

static void lock_reconnected(zkf__recipe_obj_t *o)
{
    zkf_lock_t *l = obj_lock(o);
    if (l->state != ZKF_LOCK_SUSPENDED)
        return;
    l->state = ZKF_LOCK_HELD;
    post_lock_state(l, ZKF_LOCK_HELD, l->token);
}

static void lock_lost(zkf__recipe_obj_t *o, int status, int local)
{
    zkf_lock_t *l = obj_lock(o);
    if (l->state != ZKF_LOCK_HELD && l->state != ZKF_LOCK_SUSPENDED)
        return;
    holding_lost(l);
    /* A local verdict: the server may still have our node. */
    if (local && l->att)
        zkf__attempt_lost_locally(l->att);
}

static const zkf__recipe_ops_t lock_ops = {
    .suspended = lock_suspended,
    .reconnected = lock_reconnected,
    .lost = lock_lost,
    .deliver = lock_deliver,
    .delivered = lock_delivered,
};

/* ---- public API ---- */

int zkf_lock_create(zkf_client_t *c, const char *path, const zkf_lock_options_t *opts,
                    zkf_lock_t **out)
{
    if (c == NULL || out == NULL || zkf__path_valid(path) != 0)
        return ZKF_EINVAL;
    if (opts && (opts->size < sizeof(*opts) || opts->max_depth < 0))
        return ZKF_EINVAL;
    /* One block for the object and its path; then its spare attempt. */
    size_t plen = strlen(path) + 1;
    zkf_lock_t *l = zkf__calloc(1, sizeof(*l) + plen);
    if (l == NULL)
        return ZKF_ENOMEM;
    l->path = (char *)(l + 1);
    memcpy(l->path, path, plen);
    if ((l->spare = zkf__attempt_spare(&lock_recipe, l->path)) == NULL) {
        free(l);
        return ZKF_ENOMEM;
    }
    if (opts)
        l->opts = *opts;
    else
        zkf_lock_options_init(&l->opts);
    if (l->opts.max_depth == 0)
        l->opts.max_depth = DEFAULT_MAX_DEPTH;
    l->c = c;
    pthread_mutex_lock(&c->mu);
    zkf__recipe_register(c, &l->obj, &lock_ops);
    pthread_mutex_unlock(&c->mu);
    *out = l;
    return 0;
}

int zkf_lock_acquire_async(zkf_lock_t *l, int timeout_ms, zkf_acquire_cb cb, void *arg)
{
    if (l == NULL || cb == NULL)
        return ZKF_EINVAL;
    zkf_client_t *c = l->c;
    pthread_mutex_lock(&c->mu);
    int rc;
    if (c->stopping)
        rc = ZKF_ECLOSED;
    else if (l->state == ZKF_LOCK_WAITING)
        rc = ZKF_EINPROGRESS;
    else if (l->att != NULL || l->state != ZKF_LOCK_UNLOCKED)
        rc = ZKF_EBUSY;
    else
        rc = zkf__lock_start(l, timeout_ms, cb, arg, NULL);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int zkf_lock_cancel(zkf_lock_t *l)
{
    if (l == NULL)
        return ZKF_EINVAL;
    zkf_client_t *c = l->c;
    pthread_mutex_lock(&c->mu);
    int rc = ZKF_ENOTHELD;
    if (l->state == ZKF_LOCK_WAITING && l->att) {
        zkf__attempt_abort(l->att, ZKF_ECANCELED);
        rc = 0;
    }
    /* Every local waiter took its cancel_gen before this bump: all of them
     * return ZKF_ECANCELED. */
    if (l->local_waiters > 0)
        rc = 0;
    l->cancel_gen++;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

/* Detaches the holding from the lock object: from here on its token is
 * invalid and the object can be acquired again. Returns the attempt, whose
 * lock reference the caller now owns. */
static zkf__attempt_t *detach_holding(zkf_lock_t *l)
{
    zkf__attempt_t *a = l->att;
    l->att = NULL;
    l->state = ZKF_LOCK_UNLOCKED;
    l->token = 0;
    l->depth = 0;
    l->thread_owned = 0;
    pthread_cond_broadcast(&l->c->cv);
    return a;
}

int zkf_lock_release(zkf_lock_t *l)
{
    if (l == NULL)
        return ZKF_EINVAL;
    zkf_client_t *c = l->c;
    pthread_mutex_lock(&c->mu);
    int rc;
    if (l->state == ZKF_LOCK_UNLOCKED || l->state == ZKF_LOCK_WAITING || l->att == NULL) {
        rc = ZKF_ENOTHELD;
    } else if (l->thread_owned && !pthread_equal(l->owner, pthread_self())) {
        rc = ZKF_ENOTOWNER;
    } else if (l->state == ZKF_LOCK_LOST) {
        /* Every level says so: an inner critical section that ends must
         * learn, like the outermost one, that it may not have been alone. */
        if (l->depth > 1)
            l->depth--;
        else
            zkf__attempt_drop(detach_holding(l));
        rc = ZKF_ELOCKLOST;
    } else if (l->depth > 1) {
        l->depth--;
        rc = 0;
    } else {
        /* One multi, the release mark and the delete, which lets the
         * successor take over without listing (see attempt.c). */
        rc = zkf__attempt_release(detach_holding(l));
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

void zkf_lock_destroy(zkf_lock_t *l)
{
    if (l == NULL)
        return;
    zkf_client_t *c = l->c;
    pthread_mutex_lock(&c->mu);
    if (l->state == ZKF_LOCK_WAITING && l->att)
        zkf__attempt_abort(l->att, ZKF_ECANCELED);
    l->cancel_gen++;
    pthread_cond_broadcast(&c->cv);
    /* Wait for the attempt's cleanup: the completion thread finishes it.
     * Off the event thread, wait too for every queued callback naming this
     * lock to be delivered. On the event thread (inside some callback of
     * this client) nobody else could deliver them: take them out of the
     * queue instead, below. */
    int on_event_thread = pthread_equal(pthread_self(), c->thread);
    while (l->state == ZKF_LOCK_WAITING || (!on_event_thread && l->pending_events > 0))
        pthread_cond_wait(&c->cv, &c->mu);
    if (l->att) {
        int lost = l->state == ZKF_LOCK_LOST;
        zkf__attempt_t *a = detach_holding(l);
        if (lost)
            zkf__attempt_drop(a);
        else
            zkf__attempt_release(a); /* issued at once when connected */
    }
    /* Unregistered and detached: no event can name this lock from here
     * on, and the event thread will not touch it after this callback. */
    zkf__recipe_unregister(c, &l->obj);
    zkf__event_t *queued = NULL;
    if (on_event_thread) {
        queued = zkf__events_take(c, &l->obj);
        for (zkf__event_t *ev = queued; ev; ev = ev->next)
            l->pending_events--;
    }
    /* The spare block goes with the lock, unless calls still in flight
     * hold it (a finished attempt): its last reference frees it then. */
    zkf__attempt_spare_free(l->spare);
    pthread_mutex_unlock(&c->mu);

    /* Exactly once: a completion still queued runs now, reporting what the
     * destroy did to its acquire (a holding it won is released above).
     * Lock state events are moot once the object is gone: dropped. */
    while (queued) {
        lock_event_t *ev = (lock_event_t *)queued;
        queued = queued->next;
        if (ev->acquired)
            ev->cb(l, ZKF_ECANCELED, 0, ev->arg);
        free(ev);
    }
    free(l); /* and its path, in the same block */
}

int zkf_lock_token(const zkf_lock_t *cl, uint64_t *token)
{
    zkf_lock_t *l = (zkf_lock_t *)cl;
    if (l == NULL || token == NULL)
        return ZKF_EINVAL;
    pthread_mutex_lock(&l->c->mu);
    int rc;
    switch (l->state) {
    case ZKF_LOCK_HELD:
        *token = l->token;
        rc = 0;
        break;
    case ZKF_LOCK_SUSPENDED:
        rc = ZKF_ECONNLOSS;
        break;
    case ZKF_LOCK_LOST:
        rc = ZKF_ELOCKLOST;
        break;
    default:
        rc = ZKF_ENOTHELD;
        break;
    }
    pthread_mutex_unlock(&l->c->mu);
    return rc;
}

zkf_lock_state_t zkf_lock_state(const zkf_lock_t *cl)
{
    zkf_lock_t *l = (zkf_lock_t *)cl;
    pthread_mutex_lock(&l->c->mu);
    zkf_lock_state_t st = l->state;
    pthread_mutex_unlock(&l->c->mu);
    return st;
}

const char *zkf_lock_path(const zkf_lock_t *l)
{
    return l->path;
}

int zkf_lock_node(const zkf_lock_t *cl, char *buf, size_t len)
{
    zkf_lock_t *l = (zkf_lock_t *)cl;
    if (l == NULL || buf == NULL)
        return ZKF_EINVAL;
    pthread_mutex_lock(&l->c->mu);
    int rc = ZKF_ENOTHELD;
    const char *node = l->att ? zkf__attempt_node(l->att) : NULL;
    if (node) {
        const char *name = strrchr(node, '/') + 1;
        rc = strlen(name) < len ? 0 : ZKF_EINVAL;
        if (rc == 0)
            memcpy(buf, name, strlen(name) + 1);
    }
    pthread_mutex_unlock(&l->c->mu);
    return rc;
}

int zkf_lock_zk_error(const zkf_lock_t *cl)
{
    zkf_lock_t *l = (zkf_lock_t *)cl;
    pthread_mutex_lock(&l->c->mu);
    int rc = l->zk_err;
    pthread_mutex_unlock(&l->c->mu);
    return rc;
}
