/* Leader election: a holder (holder.c) whose acquisition is one attempt
 * with the exclusive lock's rule (the first node leads; each other waits
 * for the node before its own), its node's data the participant's id.
 * Leading is holding; the election adds its names for the states, the
 * step-down with its rejoin, and the listing of participants. */
#include <stdlib.h>
#include <string.h>

#include "holder.h"
#include "listing.h"
#include "rules.h"

#define ID_MAX 1024

struct zkf_election {
    zkf__holder_t h; /* first: the holder's callbacks find the object */
    zkf_election_options_t opts;
    char *path;
    char *id; /* opts.id copied, or NULL */
};

static const char *const election_prefixes[] = {"candidate", NULL};

static const zkf__recipe_t election_recipe = {
    .prefixes = election_prefixes,
    .rule = zkf__rule_first,
    .done = zkf__holder_attempt_done,
    .holding_lost = zkf__holder_attempt_lost,
};

/* The holder's states are the lock's; the election's have the same values. */
_Static_assert(ZKF_ELECTION_IDLE == (int)ZKF_LOCK_UNLOCKED &&
                   ZKF_ELECTION_FOLLOWER == (int)ZKF_LOCK_WAITING &&
                   ZKF_ELECTION_LEADER == (int)ZKF_LOCK_HELD &&
                   ZKF_ELECTION_SUSPENDED == (int)ZKF_LOCK_SUSPENDED &&
                   ZKF_ELECTION_LOST == (int)ZKF_LOCK_LOST,
               "election states are the lock's");

const char *zkf_election_state_name(zkf_election_state_t state)
{
    switch (state) {
    case ZKF_ELECTION_IDLE:
        return "idle";
    case ZKF_ELECTION_FOLLOWER:
        return "follower";
    case ZKF_ELECTION_LEADER:
        return "leader";
    case ZKF_ELECTION_SUSPENDED:
        return "suspended";
    case ZKF_ELECTION_LOST:
        return "lost";
    }
    return "unknown";
}

/* Event thread, without c->mu: the application's callbacks. */
static void election_acquired(zkf__holder_t *h, zkf__holder_cb cb, void *arg, int status,
                              uint64_t token)
{
    ((zkf_election_lead_cb)cb)((zkf_election_t *)h, status, token, arg);
}

static void election_event(zkf__holder_t *h, zkf_lock_state_t state, uint64_t token)
{
    zkf_election_t *e = (zkf_election_t *)h;
    e->opts.event_cb(e, (zkf_election_state_t)state, token, e->opts.event_arg);
}

static const zkf__holder_ops_t election_ops = {
    .recipe = &election_recipe,
    .acquired = election_acquired,
    .event = election_event,
};

void zkf_election_options_init(zkf_election_options_t *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->size = sizeof(*opts);
}

int zkf_election_create(zkf_client_t *c, const char *path, const zkf_election_options_t *opts,
                        zkf_election_t **out)
{
    if (c == NULL || out == NULL || zkf__path_valid(path) != 0)
        return ZKF_EINVAL;
    if (opts && (opts->size < sizeof(*opts) || (opts->id && strlen(opts->id) > ID_MAX)))
        return ZKF_EINVAL;
    /* One block: the object, its path, its id. */
    size_t plen = strlen(path) + 1, ilen = opts && opts->id ? strlen(opts->id) + 1 : 0;
    zkf_election_t *e = zkf__calloc(1, sizeof(*e) + plen + ilen);
    if (e == NULL)
        return ZKF_ENOMEM;
    e->path = (char *)(e + 1);
    memcpy(e->path, path, plen);
    if ((e->h.spare = zkf__attempt_spare(&election_recipe, e->path)) == NULL) {
        free(e);
        return ZKF_ENOMEM;
    }
    if (opts)
        e->opts = *opts;
    else
        zkf_election_options_init(&e->opts);
    if (ilen) {
        e->id = e->path + plen;
        memcpy(e->id, opts->id, ilen);
        e->h.data = e->id;
        e->h.data_len = (int)ilen - 1;
    }
    e->opts.id = e->id;
    e->h.events = e->opts.event_cb != NULL;
    zkf__holder_init(&e->h, c, e->path, &election_ops);
    *out = e;
    return 0;
}

void zkf_election_destroy(zkf_election_t *e)
{
    if (e == NULL)
        return;
    zkf__holder_destroy(&e->h);
    free(e);
}

int zkf_election_lead(zkf_election_t *e, int timeout_ms, uint64_t *token)
{
    return zkf__holder_acquire(e ? &e->h : NULL, 0, timeout_ms, token);
}

int zkf_election_lead_async(zkf_election_t *e, int timeout_ms, zkf_election_lead_cb cb, void *arg)
{
    return zkf__holder_acquire_async(e ? &e->h : NULL, 0, timeout_ms, (zkf__holder_cb)cb, arg);
}

int zkf_election_cancel(zkf_election_t *e)
{
    return zkf__holder_cancel(e ? &e->h : NULL);
}

/* Takes part again at the back of the queue; the outcome is an event. */
static int rejoin(zkf__holder_t *h)
{
    int rc = zkf__holder_start_background(h, 0);
    if (rc == 0 && h->state == ZKF_LOCK_WAITING)
        zkf__holder_post_state(h, ZKF_LOCK_WAITING, 0);
    return rc;
}

int zkf_election_step_down(zkf_election_t *e, int again)
{
    if (e == NULL)
        return ZKF_EINVAL;
    zkf__holder_t *h = &e->h;
    pthread_mutex_lock(&h->c->mu);
    int rc = ZKF_ENOTHELD, ended = 0;
    if (h->att != NULL && h->state != ZKF_LOCK_WAITING && h->state != ZKF_LOCK_UNLOCKED) {
        rc = zkf__holder_end(h); /* leader, suspended or lost: our node goes */
        ended = 1;
    } else if (h->state == ZKF_LOCK_WAITING && h->background) {
        /* Queued by a rejoin: stay in place, or leave (its end is an IDLE
         * event, once our node is gone). */
        if (!again)
            zkf__attempt_abort(h->att, ZKF_ECANCELED);
        rc = 0;
    }
    if (ended && again) {
        int rj = rejoin(h);
        if (rc == 0 || rc == ZKF_EPENDING)
            rc = rj != 0 ? rj : rc;
    }
    pthread_mutex_unlock(&h->c->mu);
    return rc;
}

int zkf_election_token(const zkf_election_t *e, uint64_t *token)
{
    return zkf__holder_token(e ? (zkf__holder_t *)&e->h : NULL, token);
}

zkf_election_state_t zkf_election_state(const zkf_election_t *e)
{
    return (zkf_election_state_t)zkf__holder_state((zkf__holder_t *)&e->h);
}

const char *zkf_election_path(const zkf_election_t *e)
{
    return e->path;
}

int zkf_election_node(const zkf_election_t *e, char *buf, size_t len)
{
    return zkf__holder_node(e ? (zkf__holder_t *)&e->h : NULL, buf, len);
}

int zkf_election_zk_error(const zkf_election_t *e)
{
    return zkf__holder_zk_error((zkf__holder_t *)&e->h);
}

int zkf_election_participants(zkf_client_t *c, const char *path, zkf_participant_t **out,
                              size_t *count)
{
    return zkf__participants_as(c, path, election_prefixes, out, count);
}
