/* The read/write lock: a holder (holder.c) whose acquisition is one
 * attempt, of kind read or write, in one queue under the lock's path; the
 * rule is zkf__rule_rw (rules.c). zkfence.h says why there is no upgrade. */
#include <stdlib.h>
#include <string.h>

#include "holder.h"
#include "listing.h"
#include "rules.h"

struct zkf_rwlock {
    zkf__holder_t h; /* first: the holder's callbacks find the object */
    zkf_rwlock_options_t opts;
    char path[]; /* the lock's path */
};

/* Indexed by ZKF__KIND_READ and ZKF__KIND_WRITE, which are the modes. */
static const char *const rw_prefixes[] = {"read", "write", NULL};

static const zkf__recipe_t rw_recipe = {
    .prefixes = rw_prefixes,
    .rule = zkf__rule_rw,
    .done = zkf__holder_attempt_done,
    .holding_lost = zkf__holder_attempt_lost,
};

/* Event thread, without c->mu: the application's callbacks. */
static void rw_acquired(zkf__holder_t *h, zkf__holder_cb cb, void *arg, int status, uint64_t token)
{
    ((zkf_rwlock_acquire_cb)cb)((zkf_rwlock_t *)h, status, token, arg);
}

static void rw_event(zkf__holder_t *h, zkf_lock_state_t state, uint64_t token)
{
    zkf_rwlock_t *rw = (zkf_rwlock_t *)h;
    rw->opts.event_cb(rw, state, token, rw->opts.event_arg);
}

static const zkf__holder_ops_t rw_ops = {
    .recipe = &rw_recipe,
    .acquired = rw_acquired,
    .event = rw_event,
};

void zkf_rwlock_options_init(zkf_rwlock_options_t *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->size = sizeof(*opts);
}

int zkf_rwlock_create(zkf_client_t *c, const char *path, const zkf_rwlock_options_t *opts,
                      zkf_rwlock_t **out)
{
    if (c == NULL || out == NULL || zkf__path_valid(path) != 0)
        return ZKF_EINVAL;
    if (opts && opts->size < sizeof(*opts))
        return ZKF_EINVAL;
    size_t plen = strlen(path) + 1;
    zkf_rwlock_t *rw = zkf__calloc(1, sizeof(*rw) + plen);
    if (rw == NULL)
        return ZKF_ENOMEM;
    memcpy(rw->path, path, plen);
    if ((rw->h.spare = zkf__attempt_spare(&rw_recipe, rw->path)) == NULL) {
        free(rw);
        return ZKF_ENOMEM;
    }
    if (opts)
        rw->opts = *opts;
    else
        zkf_rwlock_options_init(&rw->opts);
    rw->h.events = rw->opts.event_cb != NULL;
    zkf__holder_init(&rw->h, c, rw->path, &rw_ops);
    *out = rw;
    return 0;
}

void zkf_rwlock_destroy(zkf_rwlock_t *rw)
{
    if (rw == NULL)
        return;
    zkf__holder_destroy(&rw->h);
    free(rw);
}

static int mode_valid(zkf_rwlock_mode_t mode)
{
    return mode == ZKF_RWLOCK_READ || mode == ZKF_RWLOCK_WRITE;
}

int zkf_rwlock_acquire(zkf_rwlock_t *rw, zkf_rwlock_mode_t mode, int timeout_ms, uint64_t *token)
{
    if (rw == NULL || !mode_valid(mode))
        return ZKF_EINVAL;
    return zkf__holder_acquire(&rw->h, (int)mode, timeout_ms, token);
}

int zkf_rwlock_acquire_async(zkf_rwlock_t *rw, zkf_rwlock_mode_t mode, int timeout_ms,
                             zkf_rwlock_acquire_cb cb, void *arg)
{
    if (rw == NULL || !mode_valid(mode))
        return ZKF_EINVAL;
    return zkf__holder_acquire_async(&rw->h, (int)mode, timeout_ms, (zkf__holder_cb)cb, arg);
}

int zkf_rwlock_cancel(zkf_rwlock_t *rw)
{
    return zkf__holder_cancel(rw ? &rw->h : NULL);
}

int zkf_rwlock_release(zkf_rwlock_t *rw)
{
    return zkf__holder_release(rw ? &rw->h : NULL);
}

int zkf_rwlock_token(const zkf_rwlock_t *rw, uint64_t *token)
{
    return zkf__holder_token(rw ? (zkf__holder_t *)&rw->h : NULL, token);
}

zkf_lock_state_t zkf_rwlock_state(const zkf_rwlock_t *rw)
{
    return zkf__holder_state((zkf__holder_t *)&rw->h);
}

int zkf_rwlock_mode(const zkf_rwlock_t *rw)
{
    return zkf__holder_kind((zkf__holder_t *)&rw->h);
}

const char *zkf_rwlock_path(const zkf_rwlock_t *rw)
{
    return rw->path;
}

int zkf_rwlock_node(const zkf_rwlock_t *rw, char *buf, size_t len)
{
    return zkf__holder_node(rw ? (zkf__holder_t *)&rw->h : NULL, buf, len);
}

int zkf_rwlock_zk_error(const zkf_rwlock_t *rw)
{
    return zkf__holder_zk_error((zkf__holder_t *)&rw->h);
}

int zkf_rwlock_contenders(zkf_client_t *c, const char *path, zkf_contender_t **out, size_t *count)
{
    return zkf__contenders_as(c, path, rw_prefixes, out, count);
}
