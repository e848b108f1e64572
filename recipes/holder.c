/* A holder's asynchronous core (holder.h): its state, its events for the
 * application, what the client tells it of the session, and the calls
 * every holder recipe shares. The blocking acquire is holder_sync.c. */
#include <stdlib.h>
#include <string.h>

#include "holder.h"

/* An acquisition's outcome for its callback, or a state change. */
typedef struct holder_event {
    zkf__event_t ev; /* first: the client frees the block through it */
    int acquired;
    int status;
    uint64_t token;
    zkf_lock_state_t state;
    zkf__holder_cb cb;
    void *arg;
} holder_event_t;

static zkf__holder_t *obj_holder(zkf__recipe_obj_t *o)
{
    return ZKF__CONTAINER_OF(o, zkf__holder_t, obj);
}

/* Queues ev for the event thread; the holder waits for it before it goes. */
static void post(zkf__holder_t *h, holder_event_t *ev)
{
    ev->ev.obj = &h->obj;
    h->pending_events++;
    zkf__post(h->c, &ev->ev);
}

void zkf__holder_post_state(zkf__holder_t *h, zkf_lock_state_t st, uint64_t token)
{
    if (!h->events)
        return;
    holder_event_t *ev = zkf__calloc(1, sizeof(*ev));
    if (ev == NULL)
        return; /* the state stays pollable */
    ev->state = st;
    ev->token = token;
    post(h, ev);
}

/* Event thread, without c->mu (zkf__recipe_ops_t). */
static void holder_deliver(zkf__recipe_obj_t *o, zkf__event_t *e)
{
    zkf__holder_t *h = obj_holder(o);
    holder_event_t *ev = (holder_event_t *)e;
    if (ev->acquired)
        h->ops->acquired(h, ev->cb, ev->arg, ev->status, ev->token);
    else
        h->ops->event(h, ev->state, ev->token);
}

static void holder_delivered(zkf__recipe_obj_t *o)
{
    zkf__holder_t *h = obj_holder(o);
    h->pending_events--;
    pthread_cond_broadcast(&h->c->cv);
}

/* Ends a holding that can no longer be trusted. */
static void holding_lost(zkf__holder_t *h)
{
    if (h->state != ZKF_LOCK_HELD && h->state != ZKF_LOCK_SUSPENDED)
        return;
    h->state = ZKF_LOCK_LOST;
    zkf__holder_post_state(h, ZKF_LOCK_LOST, h->token);
    h->token = 0;
}

/* ---- outcomes ---- */

void zkf__holder_done(zkf__holder_t *h, zkf__attempt_t *att, int status, uint64_t token)
{
    int background = h->background;
    h->background = 0;
    if (status == 0) {
        h->state = ZKF_LOCK_HELD;
        h->token = token;
        h->att = att;
    } else {
        h->state = ZKF_LOCK_UNLOCKED;
        h->att = NULL;
    }
    pthread_cond_broadcast(&h->c->cv);
    if (h->sync) {
        h->sync->done = 1;
        h->sync->status = status;
        h->sync->token = token;
        h->sync = NULL;
        return;
    }
    if (background) {
        zkf__holder_post_state(h, h->state, token);
        return;
    }
    holder_event_t *ev = zkf__calloc(1, sizeof(*ev));
    if (ev != NULL) {
        ev->acquired = 1;
        ev->status = status;
        ev->token = token;
        ev->cb = h->cb;
        ev->arg = h->arg;
        post(h, ev);
    }
    /* Without memory for the event the callback cannot run; the state
     * stays pollable (the lock's one breach of exactly-once, too). */
}

void zkf__holder_attempt_done(void *owner, zkf__attempt_t *a, int status, uint64_t token)
{
    zkf__holder_done(owner, status == 0 ? a : NULL, status, token);
}

void zkf__holder_attempt_lost(void *owner, zkf__attempt_t *a)
{
    holding_lost(owner);
}

/* ---- acquisitions ---- */

int zkf__holder_can_start(const zkf__holder_t *h)
{
    if (h->c->stopping)
        return ZKF_ECLOSED;
    if (h->state == ZKF_LOCK_WAITING)
        return ZKF_EINPROGRESS;
    if (h->att != NULL || h->state != ZKF_LOCK_UNLOCKED)
        return ZKF_EBUSY;
    return 0;
}

int zkf__holder_start(zkf__holder_t *h, int kind, int timeout_ms, zkf__holder_cb cb, void *arg,
                      zkf__waiter_t *sync)
{
    int try_once = timeout_ms == 0;
    int64_t deadline = 0;
    if (sync == NULL && timeout_ms > 0)
        deadline = zkf__now_ns() + (int64_t)timeout_ms * 1000000LL;
    if (h->ops->recipe != NULL) {
        zkf__attempt_args_t args = {
            .owner = h,
            .dir = h->path,
            .kind = kind,
            .try_once = try_once,
            .deadline_ns = deadline,
            .zk_err = &h->zk_err,
            .data = h->data,
            .data_len = h->data_len,
        };
        zkf__attempt_t *a;
        int rc = zkf__attempt_new(h->c, h->ops->recipe, &args, h->spare, &a);
        if (rc != 0) {
            h->background = 0;
            return rc;
        }
        /* Recorded before the run: the outcome may be in before it returns. */
        h->cb = cb;
        h->arg = arg;
        h->sync = sync;
        h->kind = kind;
        h->att = a;
        h->state = ZKF_LOCK_WAITING;
        h->zk_err = 0;
        zkf__attempt_run(a);
        return 0;
    }
    h->cb = cb;
    h->arg = arg;
    h->sync = sync;
    h->kind = kind;
    h->state = ZKF_LOCK_WAITING;
    h->zk_err = 0;
    int rc = h->ops->start(h, kind, try_once, deadline);
    if (rc != 0) {
        h->state = ZKF_LOCK_UNLOCKED;
        h->sync = NULL;
        h->cb = NULL;
        h->background = 0;
    }
    return rc;
}

int zkf__holder_start_background(zkf__holder_t *h, int kind)
{
    h->background = 1;
    return zkf__holder_start(h, kind, -1, NULL, NULL, NULL);
}

void zkf__holder_abort(zkf__holder_t *h, int status)
{
    if (h->state != ZKF_LOCK_WAITING)
        return;
    if (h->ops->recipe == NULL)
        h->ops->abort(h, status);
    else if (h->att)
        zkf__attempt_abort(h->att, status);
}

void zkf__holder_deadline_passed(zkf__holder_t *h)
{
    if (h->state != ZKF_LOCK_WAITING)
        return;
    zkf__holder_abort(h, h->ops->recipe ? zkf__attempt_deadline_status(h->att)
                                        : h->ops->deadline_status(h));
}

int zkf__holder_acquire_async(zkf__holder_t *h, int kind, int timeout_ms, zkf__holder_cb cb,
                              void *arg)
{
    if (h == NULL || cb == NULL)
        return ZKF_EINVAL;
    pthread_mutex_lock(&h->c->mu);
    int rc = zkf__holder_can_start(h);
    if (rc == 0)
        rc = zkf__holder_start(h, kind, timeout_ms, cb, arg, NULL);
    pthread_mutex_unlock(&h->c->mu);
    return rc;
}

int zkf__holder_cancel(zkf__holder_t *h)
{
    if (h == NULL)
        return ZKF_EINVAL;
    pthread_mutex_lock(&h->c->mu);
    int rc = ZKF_ENOTHELD;
    if (h->state == ZKF_LOCK_WAITING) {
        zkf__holder_abort(h, ZKF_ECANCELED);
        rc = 0;
    }
    pthread_mutex_unlock(&h->c->mu);
    return rc;
}

/* ---- the holding ---- */

/* Detaches the holding: its token is invalid from here on and the object
 * can acquire again. Returns its attempt, whose reference the caller owns. */
static zkf__attempt_t *detach(zkf__holder_t *h)
{
    zkf__attempt_t *a = h->att;
    h->att = NULL;
    h->state = ZKF_LOCK_UNLOCKED;
    h->token = 0;
    h->depth = 0;
    h->thread_owned = 0;
    pthread_cond_broadcast(&h->c->cv);
    return a;
}

int zkf__holder_end(zkf__holder_t *h)
{
    if (h->state == ZKF_LOCK_LOST) {
        zkf__attempt_drop(detach(h));
        return ZKF_ELOCKLOST;
    }
    /* One multi, the release mark and the delete: a successor that waits
     * for our node takes over without listing, where its rule allows. */
    return zkf__attempt_release(detach(h));
}

int zkf__holder_release(zkf__holder_t *h)
{
    if (h == NULL)
        return ZKF_EINVAL;
    pthread_mutex_lock(&h->c->mu);
    int rc = ZKF_ENOTHELD;
    if (h->att != NULL && h->state != ZKF_LOCK_WAITING && h->state != ZKF_LOCK_UNLOCKED)
        rc = zkf__holder_end(h);
    pthread_mutex_unlock(&h->c->mu);
    return rc;
}

int zkf__holder_token(zkf__holder_t *h, uint64_t *token)
{
    if (h == NULL || token == NULL)
        return ZKF_EINVAL;
    pthread_mutex_lock(&h->c->mu);
    int rc;
    switch (h->state) {
    case ZKF_LOCK_HELD:
        *token = h->token;
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
    pthread_mutex_unlock(&h->c->mu);
    return rc;
}

zkf_lock_state_t zkf__holder_state(zkf__holder_t *h)
{
    pthread_mutex_lock(&h->c->mu);
    zkf_lock_state_t st = h->state;
    pthread_mutex_unlock(&h->c->mu);
    return st;
}

int zkf__holder_kind(zkf__holder_t *h)
{
    pthread_mutex_lock(&h->c->mu);
    int kind = h->state == ZKF_LOCK_UNLOCKED ? -1 : h->kind;
    pthread_mutex_unlock(&h->c->mu);
    return kind;
}

int zkf__holder_node(zkf__holder_t *h, char *buf, size_t len)
{
    if (h == NULL || buf == NULL)
        return ZKF_EINVAL;
    pthread_mutex_lock(&h->c->mu);
    int rc = ZKF_ENOTHELD;
    const char *node = h->att ? zkf__attempt_node(h->att) : NULL;
    if (node) {
        const char *name = strrchr(node, '/') + 1;
        rc = strlen(name) < len ? 0 : ZKF_EINVAL;
        if (rc == 0)
            memcpy(buf, name, strlen(name) + 1);
    }
    pthread_mutex_unlock(&h->c->mu);
    return rc;
}

int zkf__holder_zk_error(zkf__holder_t *h)
{
    pthread_mutex_lock(&h->c->mu);
    int rc = h->zk_err;
    pthread_mutex_unlock(&h->c->mu);
    return rc;
}

/* ---- what the client tells a holder (c->mu held) ----
 * Only the holding: an acquisition in progress hears from the client
 * through its attempts, or its recipe's own registration. */

static void holder_suspended(zkf__recipe_obj_t *o)
{
    zkf__holder_t *h = obj_holder(o);
    if (h->state != ZKF_LOCK_HELD)
        return;
    h->state = ZKF_LOCK_SUSPENDED;
    zkf__holder_post_state(h, ZKF_LOCK_SUSPENDED, h->token);
}

static void holder_reconnected(zkf__recipe_obj_t *o)
{
    zkf__holder_t *h = obj_holder(o);
    if (h->state != ZKF_LOCK_SUSPENDED)
        return;
    h->state = ZKF_LOCK_HELD;
    zkf__holder_post_state(h, ZKF_LOCK_HELD, h->token);
}

static void holder_lost(zkf__recipe_obj_t *o, int status, int local)
{
    zkf__holder_t *h = obj_holder(o);
    if (h->state != ZKF_LOCK_HELD && h->state != ZKF_LOCK_SUSPENDED)
        return;
    holding_lost(h);
    /* A local verdict: the server may still have our node. */
    if (local && h->att)
        zkf__attempt_lost_locally(h->att);
}

static const zkf__recipe_ops_t holder_ops = {
    .suspended = holder_suspended,
    .reconnected = holder_reconnected,
    .lost = holder_lost,
    .deliver = holder_deliver,
    .delivered = holder_delivered,
};

void zkf__holder_init(zkf__holder_t *h, zkf_client_t *c, const char *path,
                      const zkf__holder_ops_t *ops)
{
    h->c = c;
    h->path = path;
    h->ops = ops;
    h->state = ZKF_LOCK_UNLOCKED;
    pthread_mutex_lock(&c->mu);
    zkf__recipe_register(c, &h->obj, &holder_ops);
    pthread_mutex_unlock(&c->mu);
}

void zkf__holder_destroy(zkf__holder_t *h)
{
    zkf_client_t *c = h->c;
    pthread_mutex_lock(&c->mu);
    zkf__holder_abort(h, ZKF_ECANCELED);
    h->cancel_gen++; /* the lock's local waiters, if any, give up */
    pthread_cond_broadcast(&c->cv);
    /* Wait for the acquisition's cleanup (the completion thread finishes
     * it) and, off the event thread, for every queued callback naming h.
     * On the event thread (inside some callback of this client) nobody
     * else could deliver them: take them out of the queue instead. */
    int on_event_thread = pthread_equal(pthread_self(), c->thread);
    while (h->state == ZKF_LOCK_WAITING || (!on_event_thread && h->pending_events > 0))
        pthread_cond_wait(&c->cv, &c->mu);
    if (h->att)
        zkf__holder_end(h); /* issued at once when connected */
    zkf__recipe_unregister(c, &h->obj);
    zkf__event_t *queued = NULL;
    if (on_event_thread) {
        queued = zkf__events_take(c, &h->obj);
        for (zkf__event_t *ev = queued; ev; ev = ev->next)
            h->pending_events--;
    }
    if (h->spare)
        zkf__attempt_spare_free(h->spare);
    h->spare = NULL;
    pthread_mutex_unlock(&c->mu);

    /* Exactly once: a completion still queued runs now, reporting what the
     * destroy did to its acquisition (a holding it won is released above).
     * State events are moot once the object is gone: dropped. */
    while (queued) {
        holder_event_t *ev = (holder_event_t *)queued;
        queued = queued->next;
        if (ev->acquired)
            h->ops->acquired(h, ev->cb, ev->arg, ZKF_ECANCELED, 0);
        free(ev);
    }
}
