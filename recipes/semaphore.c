/* The semaphore: a holder (holder.c) whose acquisition takes steps of its
 * own on two attempts, as Apache Curator's InterProcessSemaphoreV2 does:
 *
 *   GATE   an attempt on <path>/gate with the exclusive lock's rule. The
 *          limit stored in <path>'s data is read in the same round trip.
 *   LIMIT  (only when the limit is not known yet: the first acquisition of
 *          the semaphore writes it, with a version check; or the read was
 *          cut off) the gate is held; our own read or write is in flight.
 *   LEASE  the gate is held; an attempt on <path>/leases whose rule holds
 *          among the first N, and otherwise waits for the leases to change
 *          (rules.c). On its outcome, the gate is released, with the
 *          release mark: the next in line takes it over without listing.
 *
 * Why the gate: zkfence.h. Only the gate's holder ever waits for the
 * leases, so a lease's release wakes one client. The gate does not carry
 * the limit's safety: a holding lease is among the first N nodes whatever
 * happens at the gate (a lease node only ever moves forward, as earlier
 * ones go, and new ones queue behind it), so a gate node deleted by hand
 * costs at most a second waiter on the leases, not an N+1st holder.
 *
 * The limit: the first acquisition to find <path>'s data empty writes N
 * there, with setData at the version it read (ZooKeeper refuses a second
 * such write); every acquisition reads it and refuses a different N with
 * ZKF_ELIMIT before it takes anything (holding the gate or not: a
 * mismatch seen while waiting at the gate gives the wait up at once).
 *
 * Invariants (c->mu):
 *   - step is not IDLE exactly while the holder's state is WAITING.
 *   - s->gate is the gate's attempt from GATE to the end of the
 *     acquisition: in progress in GATE, held afterwards. s->lease is the
 *     lease's attempt while in progress (LEASE); held, it is the holder's.
 *   - s->work is in the client's active list exactly during LIMIT, the one
 *     step without an attempt in progress: the deadline of an async
 *     acquisition and the session's changes reach it there (in the other
 *     steps the attempts keep them).
 *   - ops_in_flight counts our own calls (the limit's read and write); the
 *     object is not freed before they are answered. Answers whose gen is
 *     not the acquisition's are stale. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "holder.h"
#include "listing.h"
#include "rules.h"

#define MAX_LEASES 1000000
#define LIMIT_ROUNDS 4 /* reads and writes of the limit per acquisition */

enum step { S_IDLE, S_GATE, S_LIMIT, S_LEASE };

/* What the acquisition knows of the stored limit. */
enum limit {
    L_UNKNOWN, /* not read yet (or the read was cut off) */
    L_UNSET,   /* <path> has no limit yet (its data is empty, at limit_version) */
    L_OK,      /* the stored limit is ours */
    L_OTHER    /* it is not */
};

struct zkf_semaphore {
    zkf__holder_t h;        /* first: the holder's callbacks find the object */
    zkf__recipe_obj_t work; /* in c->active during LIMIT */
    zkf_semaphore_options_t opts;
    int max_leases;
    char limit_text[16]; /* max_leases in decimal: the stored form */
    char *path, *gate_dir, *lease_dir;
    zkf__attempt_t *gate_spare, *lease_spare;

    /* the acquisition in progress */
    enum step step;
    zkf__attempt_t *gate, *lease;
    int try_once;
    int64_t deadline_ns; /* async: kept by the attempts, and by work in LIMIT */
    enum limit limit;
    int limit_version;
    int limit_rounds;
    int limit_in_flight; /* our read or write of the limit is unanswered */
    uint64_t gen;
    int ops_in_flight;
};

static const char *const gate_prefixes[] = {"gate", NULL};
static const char *const lease_prefixes[] = {"lease", NULL};

static void sem_advance(zkf_semaphore_t *s);
static void work_set(zkf_semaphore_t *s, int on);

/* ---- the end of an acquisition ---- */

/* Ends the acquisition with `status` (not 0): leaves the gate if held. */
static void sem_fail(zkf_semaphore_t *s, int status)
{
    work_set(s, 0);
    s->step = S_IDLE;
    s->gen++; /* answers of our own calls still in flight are history */
    if (s->gate) {
        zkf__attempt_release(s->gate); /* held: a release, the next takes over */
        s->gate = NULL;
    }
    zkf__holder_done(&s->h, NULL, status, 0);
}

/* ---- the gate ---- */

static void gate_done(void *owner, zkf__attempt_t *a, int status, uint64_t token)
{
    zkf_semaphore_t *s = owner;
    if (status != 0) {
        s->gate = NULL; /* finished: the core dropped it */
        sem_fail(s, status);
        return;
    }
    s->step = S_LIMIT;
    sem_advance(s);
}

/* Our gate node was deleted by hand while we held it: nothing to do (see
 * the top); its release later deletes nothing. */
static void gate_lost(void *owner, zkf__attempt_t *a) {}

static const zkf__recipe_t gate_recipe = {
    .prefixes = gate_prefixes,
    .rule = zkf__rule_first,
    .done = gate_done,
    .holding_lost = gate_lost,
};

/* ---- the lease ---- */

static int lease_rule(void *owner, const zkf__node_t *nodes, size_t n, size_t me, zkf__wait_t *w)
{
    zkf_semaphore_t *s = owner;
    return zkf__rule_among_first((size_t)s->max_leases, me, w);
}

static void lease_done(void *owner, zkf__attempt_t *a, int status, uint64_t token)
{
    zkf_semaphore_t *s = owner;
    s->lease = NULL;
    if (status != 0) {
        sem_fail(s, status);
        return;
    }
    s->step = S_IDLE;
    s->gen++;
    zkf__attempt_release(s->gate); /* the next in line may count now */
    s->gate = NULL;
    zkf__holder_done(&s->h, a, 0, token);
}

static void lease_lost(void *owner, zkf__attempt_t *a)
{
    zkf__holder_attempt_lost(&((zkf_semaphore_t *)owner)->h, a);
}

static const zkf__recipe_t lease_recipe = {
    .prefixes = lease_prefixes,
    .rule = lease_rule,
    .done = lease_done,
    .holding_lost = lease_lost,
};

/* Starts one of our attempts (the gate's or the lease's). */
static int attempt_start(zkf_semaphore_t *s, const zkf__recipe_t *r, const char *dir,
                         zkf__attempt_t *spare, zkf__attempt_t **out)
{
    zkf__attempt_args_t args = {
        .owner = s,
        .dir = dir,
        .try_once = s->try_once,
        .deadline_ns = s->deadline_ns,
        .zk_err = &s->h.zk_err,
    };
    return zkf__attempt_new(s->h.c, r, &args, spare, out);
}

static void lease_start(zkf_semaphore_t *s)
{
    work_set(s, 0);
    int rc = attempt_start(s, &lease_recipe, s->lease_dir, s->lease_spare, &s->lease);
    if (rc != 0) {
        s->lease = NULL;
        sem_fail(s, rc);
        return;
    }
    s->step = S_LEASE;
    zkf__attempt_run(s->lease); /* may report at once: nothing of it is read here */
}

/* ---- the limit ---- */

typedef struct sem_op {
    zkf_semaphore_t *s;
    uint64_t gen;
} sem_op_t;

/* Takes c->mu for an answer to one of our calls; NULL if it is stale
 * (the caller then only unlocks). */
static zkf_semaphore_t *op_take(const void *data, zkf_client_t **c)
{
    sem_op_t *op = (sem_op_t *)data;
    zkf_semaphore_t *s = op->s;
    *c = s->h.c;
    pthread_mutex_lock(&(*c)->mu);
    s->ops_in_flight--;
    pthread_cond_broadcast(&(*c)->cv); /* destroy may be waiting for it */
    int stale = op->gen != s->gen;
    free(op);
    if (stale)
        return NULL;
    s->limit_in_flight = 0;
    return s;
}

/* An answer that is not the limit's value: connection loss leaves it
 * unknown, to be read again once connected; anything else ends the
 * acquisition. */
static void limit_failed(zkf_semaphore_t *s, int rc)
{
    if (rc == ZCONNECTIONLOSS || rc == ZOPERATIONTIMEOUT) {
        s->limit = L_UNKNOWN;
        return;
    }
    s->h.zk_err = rc;
    if (s->step == S_GATE)
        zkf__attempt_abort(s->gate, zkf__from_zk(rc));
    else
        sem_fail(s, zkf__from_zk(rc));
}

static void limit_read(int rc, const char *value, int len, const struct Stat *stat,
                       const void *data)
{
    zkf_client_t *c;
    zkf_semaphore_t *s = op_take(data, &c);
    if (s != NULL) {
        if (rc == ZOK && len <= 0) {
            s->limit = L_UNSET;
            s->limit_version = stat->version;
        } else if (rc == ZOK) {
            int ours = (size_t)len == strlen(s->limit_text) &&
                       memcmp(value, s->limit_text, (size_t)len) == 0;
            s->limit = ours ? L_OK : L_OTHER;
        } else if (rc == ZNONODE) {
            /* Not made yet: the gate's attempt makes it, empty, at version 0. */
            s->limit = L_UNSET;
            s->limit_version = 0;
        } else {
            limit_failed(s, rc);
        }
        if (s->limit == L_OTHER && s->step == S_GATE)
            zkf__attempt_abort(s->gate, ZKF_ELIMIT); /* no need to wait for the gate */
        else
            sem_advance(s);
    }
    pthread_mutex_unlock(&c->mu);
}

static void limit_written(int rc, const struct Stat *stat, const void *data)
{
    zkf_client_t *c;
    zkf_semaphore_t *s = op_take(data, &c);
    if (s != NULL) {
        if (rc == ZOK)
            s->limit = L_OK;
        else if (rc == ZBADVERSION || rc == ZNONODE || rc == ZCONNECTIONLOSS ||
                 rc == ZOPERATIONTIMEOUT)
            s->limit = L_UNKNOWN; /* someone else wrote first, or we may have: read it */
        else
            limit_failed(s, rc);
        sem_advance(s);
    }
    pthread_mutex_unlock(&c->mu);
}

/* Sends the read or the write of the limit that the acquisition needs.
 * Returns 0 (sent), 1 (not now: not connected, work retries), or the
 * error that ends the acquisition (nothing sent). */
static int limit_send(zkf_semaphore_t *s)
{
    zkf_client_t *c = s->h.c;
    zhandle_t *zh = zkf__zh(c);
    if (zh == NULL || c->state != ZKF_CLIENT_CONNECTED)
        return 1;
    if (++s->limit_rounds > LIMIT_ROUNDS) {
        /* The limit keeps changing under us: someone else is writing it. */
        s->h.zk_err = ZBADVERSION;
        return ZKF_EZK;
    }
    sem_op_t *op = zkf__calloc(1, sizeof(*op));
    if (op == NULL)
        return ZKF_ENOMEM;
    op->s = s;
    op->gen = s->gen;
    int rc;
    if (s->limit == L_UNSET)
        rc = zoo_aset(zh, s->path, s->limit_text, (int)strlen(s->limit_text), s->limit_version,
                      limit_written, op);
    else
        rc = zoo_aget(zh, s->path, 0, limit_read, op);
    if (rc != ZOK) {
        free(op);
        return 1;
    }
    s->ops_in_flight++;
    s->limit_in_flight = 1;
    return 0;
}

/* Moves the acquisition on, once the gate is held, as far as the limit
 * allows: the lease when the limit is ours, ZKF_ELIMIT when not; else the
 * read or write it needs (or a wait for the connection, in work). */
static void sem_advance(zkf_semaphore_t *s)
{
    if (s->step != S_LIMIT)
        return;
    if (s->limit == L_OK) {
        lease_start(s);
    } else if (s->limit == L_OTHER) {
        sem_fail(s, ZKF_ELIMIT);
    } else {
        int rc = s->limit_in_flight ? 0 : limit_send(s);
        if (rc < 0)
            sem_fail(s, rc);
        else
            work_set(s, 1);
    }
}

/* ---- what the client tells the LIMIT step (c->mu held) ---- */

static zkf_semaphore_t *work_sem(zkf__recipe_obj_t *o)
{
    return ZKF__CONTAINER_OF(o, zkf_semaphore_t, work);
}

static int limit_deadline_status(const zkf_semaphore_t *s)
{
    return s->h.c->state == ZKF_CLIENT_CONNECTED ? ZKF_ETIMEDOUT : ZKF_ECONNLOSS;
}

static void work_reconnected(zkf__recipe_obj_t *o)
{
    sem_advance(work_sem(o)); /* sends what could not go */
}

static void work_lost(zkf__recipe_obj_t *o, int status, int local)
{
    /* The gate's node went with the session (or may have: a local
     * verdict, and its release is then queued for when we are back). */
    sem_fail(work_sem(o), status);
}

static void work_timer(zkf__recipe_obj_t *o, int64_t now, int64_t *next_due)
{
    zkf_semaphore_t *s = work_sem(o);
    if (s->deadline_ns && now >= s->deadline_ns) {
        sem_fail(s, limit_deadline_status(s));
        return;
    }
    if (s->deadline_ns && s->deadline_ns < *next_due)
        *next_due = s->deadline_ns;
    if (!s->limit_in_flight && s->h.c->state == ZKF_CLIENT_CONNECTED)
        sem_advance(s); /* a safety net, as the attempts' recovery has */
}

static const zkf__recipe_ops_t work_ops = {
    .reconnected = work_reconnected,
    .lost = work_lost,
    .timer = work_timer,
};

static void work_set(zkf_semaphore_t *s, int on)
{
    int in = s->work.ops != NULL;
    if (on && !in) {
        zkf__active_add(s->h.c, &s->work, &work_ops);
        if (s->deadline_ns)
            pthread_cond_broadcast(&s->h.c->cv); /* the event thread owns the deadline */
    } else if (!on && in) {
        zkf__active_remove(s->h.c, &s->work);
        s->work.ops = NULL;
    }
}

/* ---- the holder's table ---- */

static zkf_semaphore_t *holder_sem(zkf__holder_t *h)
{
    return (zkf_semaphore_t *)h;
}

static int sem_start(zkf__holder_t *h, int kind, int try_once, int64_t deadline_ns)
{
    zkf_semaphore_t *s = holder_sem(h);
    s->try_once = try_once;
    s->deadline_ns = deadline_ns;
    s->limit = L_UNKNOWN;
    s->limit_rounds = 0;
    s->limit_in_flight = 0;
    s->gen++;
    int rc = attempt_start(s, &gate_recipe, s->gate_dir, s->gate_spare, &s->gate);
    if (rc != 0) {
        s->gate = NULL;
        return rc;
    }
    s->step = S_GATE;
    /* The limit's read goes first, so that its answer comes before the
     * gate's: ZooKeeper answers a session's requests in order. Not sent
     * now (not connected, no memory), it is sent once the gate is held. */
    limit_send(s);
    zkf__attempt_run(s->gate);
    return 0;
}

static void sem_abort(zkf__holder_t *h, int status)
{
    zkf_semaphore_t *s = holder_sem(h);
    if (s->step == S_GATE)
        zkf__attempt_abort(s->gate, status); /* reports after its cleanup */
    else if (s->step == S_LEASE)
        zkf__attempt_abort(s->lease, status); /* then lease_done leaves the gate */
    else if (s->step == S_LIMIT)
        sem_fail(s, status);
}

static int sem_deadline_status(const zkf__holder_t *h)
{
    const zkf_semaphore_t *s = (const zkf_semaphore_t *)h;
    if (s->step == S_GATE)
        return zkf__attempt_deadline_status(s->gate);
    if (s->step == S_LEASE)
        return zkf__attempt_deadline_status(s->lease);
    return limit_deadline_status(s);
}

/* Event thread, without c->mu: the application's callbacks. */
static void sem_acquired(zkf__holder_t *h, zkf__holder_cb cb, void *arg, int status, uint64_t token)
{
    ((zkf_semaphore_acquire_cb)cb)(holder_sem(h), status, token, arg);
}

static void sem_event(zkf__holder_t *h, zkf_lock_state_t state, uint64_t token)
{
    zkf_semaphore_t *s = holder_sem(h);
    s->opts.event_cb(s, state, token, s->opts.event_arg);
}

static const zkf__holder_ops_t sem_ops = {
    .start = sem_start,
    .abort = sem_abort,
    .deadline_status = sem_deadline_status,
    .acquired = sem_acquired,
    .event = sem_event,
};

/* ---- public API ---- */

void zkf_semaphore_options_init(zkf_semaphore_options_t *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->size = sizeof(*opts);
}

int zkf_semaphore_create(zkf_client_t *c, const char *path, int max_leases,
                         const zkf_semaphore_options_t *opts, zkf_semaphore_t **out)
{
    if (c == NULL || out == NULL || zkf__path_valid(path) != 0)
        return ZKF_EINVAL;
    if (max_leases < 1 || max_leases > MAX_LEASES || (opts && opts->size < sizeof(*opts)))
        return ZKF_EINVAL;
    size_t plen = strlen(path);
    if (plen + sizeof("/leases") - 1 > ZKF__MAX_PATH)
        return ZKF_EINVAL; /* its children's paths would be too long */
    /* One block: the object, then its three paths. */
    size_t glen = plen + sizeof("/gate"), llen = plen + sizeof("/leases");
    zkf_semaphore_t *s = zkf__calloc(1, sizeof(*s) + plen + 1 + glen + llen);
    if (s == NULL)
        return ZKF_ENOMEM;
    s->path = (char *)(s + 1);
    s->gate_dir = s->path + plen + 1;
    s->lease_dir = s->gate_dir + glen;
    memcpy(s->path, path, plen + 1);
    snprintf(s->gate_dir, glen, "%s/gate", path);
    snprintf(s->lease_dir, llen, "%s/leases", path);
    snprintf(s->limit_text, sizeof(s->limit_text), "%d", max_leases);
    s->max_leases = max_leases;
    s->gate_spare = zkf__attempt_spare(&gate_recipe, s->gate_dir);
    s->lease_spare = s->gate_spare ? zkf__attempt_spare(&lease_recipe, s->lease_dir) : NULL;
    if (s->lease_spare == NULL) {
        free(s->gate_spare);
        free(s);
        return ZKF_ENOMEM;
    }
    if (opts)
        s->opts = *opts;
    else
        zkf_semaphore_options_init(&s->opts);
    s->h.events = s->opts.event_cb != NULL;
    zkf__holder_init(&s->h, c, s->path, &sem_ops);
    *out = s;
    return 0;
}

void zkf_semaphore_destroy(zkf_semaphore_t *s)
{
    if (s == NULL)
        return;
    zkf_client_t *c = s->h.c;
    zkf__holder_destroy(&s->h); /* the acquisition in progress ends, the lease goes */
    pthread_mutex_lock(&c->mu);
    while (s->ops_in_flight > 0) /* their answers find s */
        pthread_cond_wait(&c->cv, &c->mu);
    zkf__attempt_spare_free(s->gate_spare);
    zkf__attempt_spare_free(s->lease_spare);
    pthread_mutex_unlock(&c->mu);
    free(s);
}

int zkf_semaphore_acquire(zkf_semaphore_t *s, int timeout_ms, uint64_t *token)
{
    return zkf__holder_acquire(s ? &s->h : NULL, 0, timeout_ms, token);
}

int zkf_semaphore_acquire_async(zkf_semaphore_t *s, int timeout_ms, zkf_semaphore_acquire_cb cb,
                                void *arg)
{
    return zkf__holder_acquire_async(s ? &s->h : NULL, 0, timeout_ms, (zkf__holder_cb)cb, arg);
}

int zkf_semaphore_cancel(zkf_semaphore_t *s)
{
    return zkf__holder_cancel(s ? &s->h : NULL);
}

int zkf_semaphore_release(zkf_semaphore_t *s)
{
    return zkf__holder_release(s ? &s->h : NULL);
}

int zkf_semaphore_token(const zkf_semaphore_t *s, uint64_t *token)
{
    return zkf__holder_token(s ? (zkf__holder_t *)&s->h : NULL, token);
}

zkf_lock_state_t zkf_semaphore_state(const zkf_semaphore_t *s)
{
    return zkf__holder_state((zkf__holder_t *)&s->h);
}

const char *zkf_semaphore_path(const zkf_semaphore_t *s)
{
    return s->path;
}

int zkf_semaphore_max_leases(const zkf_semaphore_t *s)
{
    return s->max_leases;
}

int zkf_semaphore_node(const zkf_semaphore_t *s, char *buf, size_t len)
{
    return zkf__holder_node(s ? (zkf__holder_t *)&s->h : NULL, buf, len);
}

int zkf_semaphore_zk_error(const zkf_semaphore_t *s)
{
    return zkf__holder_zk_error((zkf__holder_t *)&s->h);
}

int zkf_semaphore_leases(zkf_client_t *c, const char *path, zkf_contender_t **out, size_t *count)
{
    char dir[ZKF__MAX_PATH + 1];
    if (zkf__path_valid(path) != 0 ||
        (size_t)snprintf(dir, sizeof(dir), "%s/leases", path) >= sizeof(dir))
        return ZKF_EINVAL;
    return zkf__contenders_as(c, dir, lease_prefixes, out, count);
}
