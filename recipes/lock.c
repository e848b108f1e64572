/* The exclusive lock: a recipe on the attempt core (attempt.c), whose
 * rule is "I hold it when my node is first, else I wait for the node just
 * before mine" (rules.c), and its asynchronous API. Its object is the
 * holder (holder.c), which keeps its state, turns its attempt's outcome
 * into a callback for the application (through the client's event thread)
 * or a wake-up of the thread blocked in zkf_lock_acquire, and hears from
 * the client about the session. What is the lock's own: its recipe table,
 * its reentrant release, and its blocking API (lock_sync.c, a thin wrapper
 * over this one that adds reentrancy and local waiters). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "listing.h"
#include "lock.h"
#include "rules.h"

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

/* ---- the recipe ---- */

static const char *const lock_prefixes[] = {"lock", NULL};

static const zkf__recipe_t lock_recipe = {
    .prefixes = lock_prefixes,
    .rule = zkf__rule_first, /* first holds; the others wait for the node before theirs */
    .done = zkf__holder_attempt_done,
    .holding_lost = zkf__holder_attempt_lost,
};

int zkf__node_parse(const char *name, zkf__node_t *out)
{
    return zkf__node_parse_as(lock_prefixes, name, out);
}

int zkf__nodes_sorted(const struct String_vector *children, zkf__node_t **out, size_t *n)
{
    return zkf__nodes_sorted_as(lock_prefixes, children, out, n);
}

int zkf_lock_contenders(zkf_client_t *c, const char *path, zkf_contender_t **out, size_t *count)
{
    return zkf__contenders_as(c, path, lock_prefixes, out, count);
}

/* Event thread, without c->mu: the application's callbacks. */
static void lock_acquired(zkf_lock_t *l, zkf__holder_cb cb, void *arg, int status, uint64_t token)
{
    ((zkf_acquire_cb)cb)(l, status, token, arg);
}

static void lock_event(zkf_lock_t *l, zkf_lock_state_t state, uint64_t token)
{
    l->opts.event_cb(l, state, token, l->opts.event_arg);
}

static const zkf__holder_ops_t lock_ops = {
    .recipe = &lock_recipe,
    .acquired = lock_acquired,
    .event = lock_event,
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
    char *copy = (char *)(l + 1);
    memcpy(copy, path, plen);
    if ((l->spare = zkf__attempt_spare(&lock_recipe, copy)) == NULL) {
        free(l);
        return ZKF_ENOMEM;
    }
    if (opts)
        l->opts = *opts;
    else
        zkf_lock_options_init(&l->opts);
    if (l->opts.max_depth == 0)
        l->opts.max_depth = DEFAULT_MAX_DEPTH;
    l->events = l->opts.event_cb != NULL;
    zkf__holder_init(l, c, copy, &lock_ops);
    *out = l;
    return 0;
}

int zkf_lock_acquire_async(zkf_lock_t *l, int timeout_ms, zkf_acquire_cb cb, void *arg)
{
    return zkf__holder_acquire_async(l, 0, timeout_ms, (zkf__holder_cb)cb, arg);
}

int zkf_lock_cancel(zkf_lock_t *l)
{
    if (l == NULL)
        return ZKF_EINVAL;
    zkf_client_t *c = l->c;
    pthread_mutex_lock(&c->mu);
    int rc = ZKF_ENOTHELD;
    if (l->state == ZKF_LOCK_WAITING && l->att) {
        zkf__holder_abort(l, ZKF_ECANCELED);
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
    } else if (l->depth > 1) {
        /* A lost holding says so at every level: an inner critical section
         * that ends must learn, like the outermost one, that it may not
         * have been alone. */
        l->depth--;
        rc = l->state == ZKF_LOCK_LOST ? ZKF_ELOCKLOST : 0;
    } else {
        /* One multi, the release mark and the delete, which lets the
         * successor take over without listing (see attempt.c); a lost
         * holding deletes nothing. */
        rc = zkf__holder_end(l);
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

void zkf_lock_destroy(zkf_lock_t *l)
{
    if (l == NULL)
        return;
    zkf__holder_destroy(l);
    free(l); /* and its path, in the same block */
}

int zkf_lock_token(const zkf_lock_t *l, uint64_t *token)
{
    return zkf__holder_token((zkf_lock_t *)l, token);
}

zkf_lock_state_t zkf_lock_state(const zkf_lock_t *l)
{
    return zkf__holder_state((zkf_lock_t *)l);
}

const char *zkf_lock_path(const zkf_lock_t *l)
{
    return l->path;
}

int zkf_lock_node(const zkf_lock_t *l, char *buf, size_t len)
{
    return zkf__holder_node((zkf_lock_t *)l, buf, len);
}

int zkf_lock_zk_error(const zkf_lock_t *l)
{
    return zkf__holder_zk_error((zkf_lock_t *)l);
}
