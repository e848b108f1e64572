/* The client: one ZooKeeper session, its state machine, the event thread
 * that delivers callbacks and runs timers, and the background deletion of
 * nodes that could not be deleted when they were given up.
 *
 * Session states as the application sees them:
 *
 *   CONNECTING --connected--> CONNECTED --connection lost--> SUSPENDED
 *   SUSPENDED --reconnected, same session--> CONNECTED
 *   SUSPENDED --a session timeout since last heard (CLOCK_MONOTONIC)--> EXPIRED (local verdict)
 *   any --server says expired--> EXPIRED --event thread--> CONNECTING (new session)
 *
 * Local loss. In a partition the server's "expired" only arrives after
 * reconnecting: a holder must not go on believing it holds the lock until
 * then. The server expires a session one session timeout after it last
 * heard from it, so that is the latest moment at which we may declare the
 * loss ourselves. We cannot see when the server last heard from us, but we
 * know a lower bound: the send time of the latest request it answered
 * (c->last_heard_ns; at the start, the time the session was opened). The
 * verdict falls at last_heard + the negotiated timeout, never later than
 * the server's.
 *
 * libzookeeper's own pings are invisible to us, and it notices a silent
 * link only after 2/3 of the timeout without data; counting from then, as
 * we once did, put the verdict ~1.67 timeouts after the last contact. So
 * the event thread sends its own heartbeat (an exists on "/", answered by
 * any server without a write) a third of the timeout after the latest
 * contact while connected (the lock's own answered requests count as
 * contact too: zkf__heard): last_heard is then never more than a third of
 * the timeout (plus a round trip) old when the link goes quiet, and a
 * brief disconnection leaves about 2/3 of the timeout to reconnect before
 * the verdict. The heartbeat
 * also keeps libzookeeper from pinging (it pings only an idle link), so the
 * traffic is about what it was. Its send time rather than its answer's
 * arrival is what counts: a process paused between the answer's arrival
 * and its completion must not take the pause as contact. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"

#define DEFAULT_SESSION_TIMEOUT_MS 10000
#define DEFAULT_CONNECT_TIMEOUT_MS 15000
#define RENEW_RETRY_NS (1000LL * 1000 * 1000)

static void session_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx);
static void *event_thread(void *arg);

void zkf_client_options_init(zkf_client_options_t *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->size = sizeof(*opts);
    opts->session_timeout_ms = DEFAULT_SESSION_TIMEOUT_MS;
    opts->connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
    opts->zk_log_level = 1;
}

const char *zkf_client_state_name(zkf_client_state_t state)
{
    switch (state) {
    case ZKF_CLIENT_CONNECTING:
        return "connecting";
    case ZKF_CLIENT_CONNECTED:
        return "connected";
    case ZKF_CLIENT_SUSPENDED:
        return "suspended";
    case ZKF_CLIENT_EXPIRED:
        return "expired";
    case ZKF_CLIENT_AUTH_FAILED:
        return "auth_failed";
    }
    return "unknown";
}

zhandle_t *zkf__zh(zkf_client_t *c)
{
    return c->zh;
}

/* ---- the registry ---- */

static void list_add(zkf__recipe_obj_t **head, zkf__recipe_obj_t *o, const zkf__recipe_ops_t *ops)
{
    o->ops = ops;
    o->prev = NULL;
    o->next = *head;
    if (*head)
        (*head)->prev = o;
    *head = o;
}

static void list_remove(zkf__recipe_obj_t **head, zkf__recipe_obj_t *o)
{
    if (o->prev)
        o->prev->next = o->next;
    else
        *head = o->next;
    if (o->next)
        o->next->prev = o->prev;
    o->next = o->prev = NULL;
}

void zkf__recipe_register(zkf_client_t *c, zkf__recipe_obj_t *o, const zkf__recipe_ops_t *ops)
{
    list_add(&c->objects, o, ops);
}

void zkf__recipe_unregister(zkf_client_t *c, zkf__recipe_obj_t *o)
{
    list_remove(&c->objects, o);
    if (c->delivering == o)
        c->delivering = NULL; /* the event thread must not touch o after its callback */
}

void zkf__active_add(zkf_client_t *c, zkf__recipe_obj_t *o, const zkf__recipe_ops_t *ops)
{
    list_add(&c->active, o, ops);
}

void zkf__active_remove(zkf_client_t *c, zkf__recipe_obj_t *o)
{
    list_remove(&c->active, o);
}

enum session_change { SUSPENDED, RECONNECTED, LOST };

/* Tells every registered object, then everything in progress. The next
 * entry is read after each call: a callback may take its own entry out. */
static void notify(zkf_client_t *c, enum session_change what, int status, int local)
{
    for (int pass = 0; pass < 2; pass++) {
        zkf__recipe_obj_t *o = pass == 0 ? c->objects : c->active;
        while (o) {
            zkf__recipe_obj_t *next = o->next;
            const zkf__recipe_ops_t *ops = o->ops;
            if (what == SUSPENDED && ops->suspended)
                ops->suspended(o);
            else if (what == RECONNECTED && ops->reconnected)
                ops->reconnected(o);
            else if (what == LOST && ops->lost)
                ops->lost(o, status, local);
            o = next;
        }
    }
}

static void run_timers(zkf_client_t *c, int64_t now, int64_t *next_due)
{
    zkf__recipe_obj_t *o = c->active;
    while (o) {
        zkf__recipe_obj_t *next = o->next;
        if (o->ops->timer)
            o->ops->timer(o, now, next_due);
        o = next;
    }
}

/* ---- events ---- */

void zkf__post(zkf_client_t *c, zkf__event_t *ev)
{
    ev->next = NULL;
    if (c->ev_tail)
        c->ev_tail->next = ev;
    else
        c->ev_head = ev;
    c->ev_tail = ev;
    pthread_cond_broadcast(&c->cv);
}

zkf__event_t *zkf__events_take(zkf_client_t *c, zkf__recipe_obj_t *o)
{
    zkf__event_t *mine = NULL, **tail = &mine, **pp = &c->ev_head;
    c->ev_tail = NULL;
    while (*pp) {
        zkf__event_t *ev = *pp;
        if (ev->obj == o) {
            *pp = ev->next;
            ev->next = NULL;
            *tail = ev;
            tail = &ev->next;
        } else {
            c->ev_tail = ev;
            pp = &ev->next;
        }
    }
    return mine;
}

/* The client's own event: a state change for state_cb. */
typedef struct client_event {
    zkf__event_t ev; /* obj NULL */
    zkf_client_state_t state;
} client_event_t;

static void set_state(zkf_client_t *c, zkf_client_state_t st)
{
    if (c->state == st)
        return;
    c->state = st;
    pthread_cond_broadcast(&c->cv);
    if (c->state_cb == NULL)
        return;
    client_event_t *ev = zkf__calloc(1, sizeof(*ev));
    if (ev == NULL)
        return; /* the state stays pollable with zkf_client_state() */
    ev->state = st;
    zkf__post(c, &ev->ev);
}

/* ---- background deletions ---- */

static void pending_free(zkf_client_t *c, zkf__pending_t *p)
{
    if (p->prev)
        p->prev->next = p->next;
    else
        c->pending = p->next;
    if (p->next)
        p->next->prev = p->prev;
    free(p->path);
    free(p);
}

typedef struct pending_op {
    zkf_client_t *c;
    zkf__pending_t *p;
} pending_op_t;

/* Outcome of one deletion attempt: keep the entry only if the connection
 * was lost (retry on reconnect); any other outcome ends it. A session that
 * ended removed the node itself. */
static void pending_settle(zkf_client_t *c, zkf__pending_t *p, int rc)
{
    p->in_flight = 0;
    if ((rc == ZCONNECTIONLOSS || rc == ZOPERATIONTIMEOUT) && p->session_gen == c->session_gen)
        return;
    pending_free(c, p);
}

static void pending_deleted(int rc, const void *data)
{
    zkf__pending_t *p = (zkf__pending_t *)data;
    zkf_client_t *c = *(zkf_client_t **)(p + 1);
    pthread_mutex_lock(&c->mu);
    pending_settle(c, p, rc);
    pthread_mutex_unlock(&c->mu);
}

static void pending_listed(int rc, const struct String_vector *sv, const void *data)
{
    zkf__pending_t *p = (zkf__pending_t *)data;
    zkf_client_t *c = *(zkf_client_t **)(p + 1);
    pthread_mutex_lock(&c->mu);
    if (rc == ZOK && p->session_gen == c->session_gen) {
        /* Every node named by the stem (it carries the attempt's GUID) is
         * ours: hand each to an exact deletion. */
        size_t plen = strlen(p->path), slen = strlen(p->stem);
        for (int i = 0; sv && i < sv->count; i++) {
            uint32_t seq;
            if (strncmp(sv->data[i], p->stem, slen) != 0 ||
                zkf__seq_parse(sv->data[i] + slen, &seq) != 0)
                continue;
            size_t len = plen + 1 + strlen(sv->data[i]) + 1;
            char *full = zkf__malloc(len);
            if (full == NULL)
                continue;
            snprintf(full, len, "%s/%s", p->path, sv->data[i]);
            zkf__delete_later(c, full, NULL);
            free(full);
        }
    }
    pending_settle(c, p, rc == ZNONODE ? ZOK : rc);
    pthread_mutex_unlock(&c->mu);
}

static int pending_issue(zkf_client_t *c, zkf__pending_t *p)
{
    zhandle_t *zh = zkf__zh(c);
    if (zh == NULL || p->in_flight || c->state != ZKF_CLIENT_CONNECTED)
        return 0;
    int rc;
    p->in_flight = 1;
    if (p->release) {
        /* One transaction: if the node is already gone the setData fails
         * and nothing happens, which is the outcome we want too. */
        zoo_set_op_init(&p->ops[0], p->path, ZKF__RELEASE_MARK, (int)strlen(ZKF__RELEASE_MARK), -1,
                        &p->mark_stat);
        zoo_delete_op_init(&p->ops[1], p->path, -1);
        rc = zoo_amulti(zh, 2, p->ops, p->results, pending_deleted, p);
    } else if (p->stem[0] == '\0')
        rc = zoo_adelete(zh, p->path, -1, pending_deleted, p);
    else
        rc = zoo_aget_children(zh, p->path, 0, pending_listed, p);
    if (rc != ZOK)
        p->in_flight = 0; /* retried at the next reconnect */
    return rc == ZOK;
}

static int schedule_deletion(zkf_client_t *c, const char *path, const char *stem, int release)
{
    /* The completion gets the entry alone; the client pointer rides right
     * behind it in the same allocation. Without memory nothing is queued:
     * say so, so that release does not claim a deletion is pending. The
     * session's end will remove the node. */
    zkf__pending_t *p = zkf__calloc(1, sizeof(*p) + sizeof(zkf_client_t *));
    if (p == NULL)
        return ZKF_ENOMEM;
    p->path = zkf__strdup(path);
    if (p->path == NULL) {
        free(p);
        return ZKF_ENOMEM;
    }
    if (stem)
        snprintf(p->stem, sizeof(p->stem), "%s", stem); /* fits: the core checks prefixes */
    p->release = release;
    *(zkf_client_t **)(p + 1) = c;
    p->session_gen = c->session_gen;
    p->next = c->pending;
    if (c->pending)
        c->pending->prev = p;
    c->pending = p;
    return pending_issue(c, p);
}

int zkf__delete_later(zkf_client_t *c, const char *path, const char *stem)
{
    return schedule_deletion(c, path, stem, 0);
}

int zkf__release_later(zkf_client_t *c, const char *path)
{
    return schedule_deletion(c, path, NULL, 1);
}

void zkf__pending_kick(zkf_client_t *c)
{
    for (zkf__pending_t *p = c->pending; p; p = p->next)
        pending_issue(c, p);
}

/* The session ended: the server removed every ephemeral node of it. */
static void pending_drop_all(zkf_client_t *c)
{
    zkf__pending_t *p = c->pending;
    while (p) {
        zkf__pending_t *next = p->next;
        if (!p->in_flight)
            pending_free(c, p);
        else
            p->session_gen = 0; /* its completion frees it */
        p = next;
    }
}

/* ---- session events (completion thread) ---- */

static void on_connected(zkf_client_t *c, zhandle_t *zh)
{
    const clientid_t *id = zoo_client_id(zh);
    c->session_id = id ? id->client_id : 0;
    c->negotiated_ms = zoo_recv_timeout(zh);
    c->ever_connected = 1;
    /* A reconnect proves the session alive but not since when (we do not
     * know when libzookeeper sent its handshake): last_heard stays, and a
     * heartbeat goes out at once (set_state wakes the event thread). */
    c->hb_sent_ns = 0;
    set_state(c, ZKF_CLIENT_CONNECTED);
    notify(c, RECONNECTED, 0, 0);
    zkf__pending_kick(c);
}

static void on_disconnected(zkf_client_t *c)
{
    if (c->state != ZKF_CLIENT_CONNECTED)
        return;
    set_state(c, ZKF_CLIENT_SUSPENDED);
    notify(c, SUSPENDED, 0, 0);
}

static void on_expired(zkf_client_t *c, zkf_client_state_t st, int status)
{
    set_state(c, st);
    notify(c, LOST, status, 0);
    pending_drop_all(c);
    if (st == ZKF_CLIENT_EXPIRED)
        c->renew = 1;
    pthread_cond_broadcast(&c->cv);
}

static void on_session_state(zkf_client_t *c, zhandle_t *zh, int state)
{
    if (state == ZOO_CONNECTED_STATE)
        on_connected(c, zh);
    else if (state == ZOO_CONNECTING_STATE || state == ZOO_ASSOCIATING_STATE)
        on_disconnected(c);
    else if (state == ZOO_EXPIRED_SESSION_STATE)
        on_expired(c, ZKF_CLIENT_EXPIRED, ZKF_ESESSIONEXPIRED);
    else if (state == ZOO_AUTH_FAILED_STATE)
        on_expired(c, ZKF_CLIENT_AUTH_FAILED, ZKF_ENOAUTH);
}

static void session_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    zkf_client_t *c = ctx;
    if (type != ZOO_SESSION_EVENT)
        return;
    pthread_mutex_lock(&c->mu);
    if (c->zh == NULL && c->opening) {
        /* The handle open_session is making, not installed yet: any older
         * handle was closed before it began. Keep the latest state; every
         * handler acts on the state as it is now, so the latest is all that
         * needs replaying. */
        c->early_pending = 1;
        c->early_state = state;
    } else if (zh == c->zh) { /* events of a handle being replaced are history */
        on_session_state(c, zh, state);
    }
    pthread_mutex_unlock(&c->mu);
}

/* ---- session set-up ---- */

/* Makes a new session handle (c->mu held on entry and on return, dropped
 * meanwhile). zookeeper_init resolves the host names, and a slow DNS must
 * not stall every API call, let alone libzookeeper's completion thread, on
 * c->mu. Meanwhile c->zh is NULL, so nothing is issued (attempts wait in
 * recovery, background deletions stay queued) and c->opening tells the
 * session watcher to keep the new handle's early events for us. The
 * generation claimed up front detects being superseded meanwhile; today
 * only the event thread renews, and destroy joins it before closing. */
static int open_session(zkf_client_t *c)
{
    uint64_t gen = ++c->session_gen;
    c->zh = NULL;
    c->opening = 1;
    c->early_pending = 0;
    c->last_heard_ns = zkf__now_ns(); /* the server cannot have heard from it before */
    c->hb_sent_ns = 0;
    c->hb_in_flight = 0;
    pthread_mutex_unlock(&c->mu);

    /* hosts and digest are immutable once the client is built */
    int err = 0;
    zhandle_t *zh = zookeeper_init(c->hosts, session_watcher, c->session_timeout_ms, NULL, c, 0);
    if (zh == NULL)
        err = errno == EINVAL ? ZKF_EINVAL : ZKF_ESYS;
    /* libzookeeper (3.5+, ZOOKEEPER-1355) resolves the connection string
     * again in every pass of its I/O loop: a DNS query per request with
     * host names, and even with addresses a getaddrinfo whose netlink dump
     * took 10% of the CPU in bench/lock's contended case (perf). Resolve
     * again only when the connection is lost, which is when a changed
     * address can matter. */
    else if (zoo_set_servers_resolution_delay(zh, -1) != ZOK)
        err = ZKF_ESYS;
    else if (c->digest &&
             zoo_add_auth(zh, "digest", c->digest, (int)strlen(c->digest), NULL, NULL) != ZOK)
        err = ZKF_ESYS;

    pthread_mutex_lock(&c->mu);
    c->opening = 0;
    if (err == 0 && (c->stopping || c->session_gen != gen))
        err = ZKF_ECLOSED; /* superseded: this handle is not ours to install */
    if (err != 0) {
        c->early_pending = 0;
        if (zh) {
            pthread_mutex_unlock(&c->mu);
            zookeeper_close(zh);
            pthread_mutex_lock(&c->mu);
        }
        return err;
    }
    c->zh = zh;
    if (c->early_pending) {
        c->early_pending = 0;
        on_session_state(c, zh, c->early_state);
    }
    return 0;
}

/* ---- watches ---- */

zkf__watch_t *zkf__watch_new(zkf_client_t *c, const char *path, zkf__recipe_obj_t *owner)
{
    zkf__watch_t *w = zkf__calloc(1, sizeof(*w));
    if (w == NULL || (w->path = zkf__strdup(path)) == NULL) {
        free(w);
        return NULL;
    }
    w->c = c;
    w->owner = owner;
    w->session_gen = c->session_gen;
    w->next = c->watches;
    if (c->watches)
        c->watches->prev = w;
    c->watches = w;
    return w;
}

void zkf__watch_free(zkf_client_t *c, zkf__watch_t *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        c->watches = w->next;
    if (w->next)
        w->next->prev = w->prev;
    free(w->path);
    free(w);
}

static void watch_removed(int rc, const void *data)
{
    zkf__watch_t *w = (zkf__watch_t *)data;
    zkf_client_t *c = w->c;
    pthread_mutex_lock(&c->mu);
    /* ZOK: the watch is gone and its watcher will not be called again. If
     * it fired meanwhile, the watcher left the freeing to us. Otherwise the
     * removal failed (connection loss): the watch stays armed until it fires
     * or the session's handle closes, and the watcher frees it then. */
    w->removing = 0;
    if (rc == ZOK || w->fired)
        zkf__watch_free(c, w);
    pthread_mutex_unlock(&c->mu);
}

void zkf__watch_remove(zkf_client_t *c, zkf__watch_t *w, watcher_fn fn)
{
    w->owner = NULL;
    if (w->arming)
        return; /* zkf__watch_armed sends it */
    zhandle_t *zh = zkf__zh(c);
    /* The header declares the completion as a pointer to a function
     * pointer; the library calls it as a plain function pointer. local=1
     * crashes libzookeeper 3.8.0 (seen here), and local=0 is what we want
     * anyway: the server must forget the watch too. */
    int type = w->children ? ZWATCHTYPE_CHILD : ZWATCHTYPE_DATA;
    if (zh && zoo_aremove_watches(zh, w->path, type, fn, w, 0, (void_completion_t *)watch_removed,
                                  w) == ZOK)
        w->removing = 1;
}

int zkf__watch_armed(zkf_client_t *c, zkf__watch_t *w, int armed, watcher_fn fn)
{
    w->arming = 0;
    if (w->owner != NULL || w->removing)
        return 0;
    if (armed)
        zkf__watch_remove(c, w, fn);
    else
        zkf__watch_free(c, w); /* libzookeeper never calls a watcher it did not register */
    return 1;
}

void zkf__watch_fired(zkf_client_t *c, zkf__watch_t *w)
{
    if (w->removing)
        w->fired = 1;
    else
        zkf__watch_free(c, w);
}

static void free_watches(zkf_client_t *c, int all, uint64_t gen)
{
    zkf__watch_t *w = c->watches;
    while (w) {
        zkf__watch_t *next = w->next;
        if (all || w->session_gen == gen) {
            if (w->owner && w->owner->ops->watch_orphaned)
                w->owner->ops->watch_orphaned(w->owner, w);
            zkf__watch_free(c, w);
        }
        w = next;
    }
}

/* Replaces an expired session (event thread, c->mu held; dropped inside). */
static void renew_session(zkf_client_t *c)
{
    zhandle_t *old = c->zh;
    uint64_t old_gen = c->session_gen;
    c->zh = NULL;
    c->renew = 0;
    pthread_mutex_unlock(&c->mu);
    if (old)
        zookeeper_close(old); /* its last completions run here, without c->mu */
    pthread_mutex_lock(&c->mu);
    free_watches(c, 0, old_gen); /* the closed handle will never call them */
    if (c->stopping || c->state == ZKF_CLIENT_AUTH_FAILED)
        return;
    c->session_id = 0;
    c->negotiated_ms = 0;
    set_state(c, ZKF_CLIENT_CONNECTING);
    if (open_session(c) != 0 && !c->stopping)
        c->renew = 1; /* retried by the event thread */
}

/* ---- heartbeat (see "Local loss" at the top) ---- */

/* Only one heartbeat is in flight at a time, and a handle's completions
 * all run before zookeeper_close() returns, i.e. before the next handle
 * exists: so this completion is always that of the heartbeat recorded. */
static void heartbeat_done(int rc, const struct Stat *stat, const void *data)
{
    zkf_client_t *c = (zkf_client_t *)data;
    pthread_mutex_lock(&c->mu);
    c->hb_in_flight = 0;
    /* Any answer from the server counts (with a chroot, "/" may not exist). */
    if ((rc == ZOK || rc == ZNONODE) && c->hb_sent_ns > c->last_heard_ns)
        c->last_heard_ns = c->hb_sent_ns;
    pthread_mutex_unlock(&c->mu);
}

void zkf__heard(zkf_client_t *c, int rc, int64_t sent_ns)
{
    /* Only codes the server itself answers with; never a client-side
     * verdict (connection loss, timeout, closing, session expired). */
    int answered =
        rc == ZOK || rc == ZNONODE || rc == ZNODEEXISTS || rc == ZBADVERSION || rc == ZNOTEMPTY;
    if (answered && sent_ns > c->last_heard_ns)
        c->last_heard_ns = sent_ns;
}

/* A heartbeat is due a third of the timeout after the latest contact: a
 * client whose own requests are answered that often sends none (32
 * contenders on one lock each sent one every 3.3 s: 0.01 requests per
 * handoff). */
static void heartbeat_tick(zkf_client_t *c, int64_t now, int64_t *next_due)
{
    zhandle_t *zh = zkf__zh(c);
    if (zh == NULL || c->hb_in_flight || c->negotiated_ms <= 0)
        return;
    int64_t last = c->hb_sent_ns > c->last_heard_ns ? c->hb_sent_ns : c->last_heard_ns;
    int64_t due = last + (int64_t)c->negotiated_ms * 1000000LL / 3;
    if (now < due) {
        if (due < *next_due)
            *next_due = due;
        return;
    }
    c->hb_sent_ns = now;
    if (zoo_aexists(zh, "/", 0, heartbeat_done, c) == ZOK)
        c->hb_in_flight = 1;
    due = now + (int64_t)c->negotiated_ms * 1000000LL / 3;
    if (due < *next_due)
        *next_due = due; /* when not in flight: try again then */
}

/* ---- event thread ---- */

static void deliver(zkf_client_t *c, zkf__event_t *ev)
{
    if (ev->obj)
        ev->obj->ops->deliver(ev->obj, ev);
    else if (c->state_cb)
        c->state_cb(c, ((client_event_t *)ev)->state, c->state_arg);
}

static void local_expiry(zkf_client_t *c)
{
    /* A session timeout since the server last heard from us, at the latest:
     * it has expired the session or may at any moment. Our nodes may still
     * exist (partition): the recipes queue their deletion for when we
     * can reach it. */
    set_state(c, ZKF_CLIENT_EXPIRED);
    notify(c, LOST, ZKF_ECONNLOSS, 1);
}

static void *event_thread(void *arg)
{
    zkf_client_t *c = arg;
    int64_t renew_at = 0;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        zkf__event_t *ev = c->ev_head;
        if (ev) {
            c->ev_head = ev->next;
            if (c->ev_head == NULL)
                c->ev_tail = NULL;
            c->delivering = ev->obj;
            pthread_mutex_unlock(&c->mu);
            deliver(c, ev);
            pthread_mutex_lock(&c->mu);
            /* Cleared by zkf__recipe_unregister() if the callback destroyed
             * its object, which is then freed memory. */
            if (ev->obj && c->delivering == ev->obj && ev->obj->ops->delivered)
                ev->obj->ops->delivered(ev->obj);
            c->delivering = NULL;
            free(ev);
            continue;
        }
        if (c->stopping)
            break;

        int64_t now = zkf__now_ns();
        int64_t next = INT64_MAX;
        if (c->renew && now >= renew_at) {
            renew_session(c);
            if (c->renew)
                renew_at = zkf__now_ns() + RENEW_RETRY_NS;
            continue;
        }
        if (c->renew)
            next = renew_at;
        if (c->state == ZKF_CLIENT_CONNECTED)
            heartbeat_tick(c, now, &next);
        if (c->state == ZKF_CLIENT_SUSPENDED) {
            int64_t due = c->last_heard_ns + (int64_t)c->negotiated_ms * 1000000LL;
            if (now >= due) {
                local_expiry(c);
                continue;
            }
            if (due < next)
                next = due;
        }
        run_timers(c, now, &next);
        if (c->ev_head)
            continue;
        if (next == INT64_MAX) {
            pthread_cond_wait(&c->cv, &c->mu);
        } else {
            struct timespec ts;
            zkf__abs_deadline(&ts, next);
            pthread_cond_timedwait(&c->cv, &c->mu, &ts);
        }
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

/* ---- public API ---- */

static int build_hosts(zkf_client_t *c, const zkf_client_options_t *o)
{
    size_t len = strlen(o->hosts) + (o->chroot ? strlen(o->chroot) : 0) + 1;
    c->hosts = zkf__malloc(len);
    if (c->hosts == NULL)
        return ZKF_ENOMEM;
    snprintf(c->hosts, len, "%s%s", o->hosts, o->chroot ? o->chroot : "");
    return 0;
}

static int build_acl(zkf_client_t *c, const zkf_client_options_t *o)
{
    if (o->digest_user == NULL) {
        c->acl = ZOO_OPEN_ACL_UNSAFE;
        return 0;
    }
    size_t len = strlen(o->digest_user) + strlen(o->digest_password) + 2;
    c->digest = zkf__malloc(len);
    if (c->digest == NULL)
        return ZKF_ENOMEM;
    snprintf(c->digest, len, "%s:%s", o->digest_user, o->digest_password);
    /* "auth" with an empty id means: every identity this session authenticated as. */
    c->acl_entries[0].perms = ZOO_PERM_ALL;
    c->acl_entries[0].id.scheme = "auth";
    c->acl_entries[0].id.id = "";
    c->acl_entries[1].perms = ZOO_PERM_READ;
    c->acl_entries[1].id.scheme = "world";
    c->acl_entries[1].id.id = "anyone";
    c->acl.count = o->world_readable ? 2 : 1;
    c->acl.data = c->acl_entries;
    return 0;
}

static int check_options(const zkf_client_options_t *o)
{
    if (o == NULL || o->size < sizeof(zkf_client_options_t) || o->hosts == NULL ||
        o->hosts[0] == '\0')
        return ZKF_EINVAL;
    if (o->chroot && zkf__path_valid(o->chroot) != 0)
        return ZKF_EINVAL;
    if ((o->digest_user == NULL) != (o->digest_password == NULL))
        return ZKF_EINVAL;
    if (o->digest_user && strchr(o->digest_user, ':'))
        return ZKF_EINVAL;
    if (o->session_timeout_ms < 0 || o->connect_timeout_ms < 0)
        return ZKF_EINVAL;
    return 0;
}

static void client_free(zkf_client_t *c)
{
    zkf__pending_t *p;
    while ((p = c->pending) != NULL)
        pending_free(c, p);
    free_watches(c, 1, 0);
    zkf__event_t *ev;
    while ((ev = c->ev_head) != NULL) {
        c->ev_head = ev->next;
        free(ev);
    }
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c->hosts);
    free(c->digest);
    free(c);
}

static int client_init_sync(zkf_client_t *c)
{
    pthread_condattr_t ca;
    if (pthread_mutex_init(&c->mu, NULL) != 0)
        return ZKF_ESYS;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&c->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (rc != 0) {
        pthread_mutex_destroy(&c->mu);
        return ZKF_ESYS;
    }
    return 0;
}

int zkf_client_connect(const zkf_client_options_t *o, zkf_client_t **out)
{
    int rc = check_options(o);
    if (rc != 0 || out == NULL)
        return ZKF_EINVAL;
    zkf_client_t *c = zkf__calloc(1, sizeof(*c));
    if (c == NULL)
        return ZKF_ENOMEM;
    if ((rc = client_init_sync(c)) != 0) {
        free(c);
        return rc;
    }
    c->session_timeout_ms =
        o->session_timeout_ms ? o->session_timeout_ms : DEFAULT_SESSION_TIMEOUT_MS;
    c->state_cb = o->state_cb;
    c->state_arg = o->state_arg;
    c->state = ZKF_CLIENT_CONNECTING;
    if ((rc = build_hosts(c, o)) != 0 || (rc = build_acl(c, o)) != 0) {
        client_free(c);
        return rc;
    }
    zoo_set_debug_level((ZooLogLevel)o->zk_log_level);

    pthread_mutex_lock(&c->mu);
    rc = open_session(c);
    pthread_mutex_unlock(&c->mu);
    if (rc != 0) {
        client_free(c);
        return rc;
    }
    if (pthread_create(&c->thread, NULL, event_thread, c) != 0) {
        zookeeper_close(c->zh);
        client_free(c);
        return ZKF_ESYS;
    }

    int64_t deadline =
        zkf__now_ns() +
        (int64_t)(o->connect_timeout_ms ? o->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS) *
            1000000LL;
    struct timespec ts;
    zkf__abs_deadline(&ts, deadline);
    pthread_mutex_lock(&c->mu);
    while (c->state != ZKF_CLIENT_CONNECTED && c->state != ZKF_CLIENT_AUTH_FAILED &&
           zkf__now_ns() < deadline)
        pthread_cond_timedwait(&c->cv, &c->mu, &ts);
    zkf_client_state_t st = c->state;
    pthread_mutex_unlock(&c->mu);
    if (st != ZKF_CLIENT_CONNECTED) {
        zkf_client_destroy(c);
        return st == ZKF_CLIENT_AUTH_FAILED ? ZKF_ENOAUTH : ZKF_ECONNECT;
    }
    *out = c;
    return 0;
}

/* A round trip before closing: see zkf_client_destroy. */
typedef struct drain {
    zkf_client_t *c;
    int done;
} drain_t;

static void drain_done(int rc, const struct Stat *stat, const void *data)
{
    drain_t *d = (drain_t *)data;
    pthread_mutex_lock(&d->c->mu);
    d->done = 1;
    pthread_cond_broadcast(&d->c->cv);
    pthread_mutex_unlock(&d->c->mu);
}

int zkf_client_destroy(zkf_client_t *c)
{
    if (c == NULL)
        return 0;
    pthread_mutex_lock(&c->mu);
    if (c->objects) {
        pthread_mutex_unlock(&c->mu);
        return ZKF_EBUSY;
    }
    c->stopping = 1;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL);

    /* libzookeeper 3.8.0 leaks a watch notification that arrives while
     * zookeeper_close runs (its completion thread is gone by then). Our own
     * last writes cause such notifications on this very session: a release
     * just before destroy fires the watch the server still keeps for an
     * earlier timed-out or cancelled wait (3.8.0 sends checkWatches where
     * removeWatches is meant; see watch_disarm in attempt.c). One round trip
     * first, bounded, lets them arrive and be delivered before the close;
     * `d` outlives zookeeper_close, which runs the completion if we stop
     * waiting. */
    drain_t d = {c, 0};
    pthread_mutex_lock(&c->mu);
    zhandle_t *zh = c->zh;
    if (zh && c->state == ZKF_CLIENT_CONNECTED && zoo_aexists(zh, "/", 0, drain_done, &d) == ZOK) {
        int64_t deadline = zkf__now_ns() + 2000LL * 1000000LL;
        struct timespec ts;
        zkf__abs_deadline(&ts, deadline);
        while (!d.done && zkf__now_ns() < deadline)
            pthread_cond_timedwait(&c->cv, &c->mu, &ts);
    }
    c->zh = NULL;
    pthread_mutex_unlock(&c->mu);
    if (zh)
        zookeeper_close(zh); /* ends the session: the server drops its nodes */
    client_free(c);
    return 0;
}

zkf_client_state_t zkf_client_state(const zkf_client_t *cc)
{
    zkf_client_t *c = (zkf_client_t *)cc;
    pthread_mutex_lock(&c->mu);
    zkf_client_state_t st = c->state;
    pthread_mutex_unlock(&c->mu);
    return st;
}

int64_t zkf_client_session_id(const zkf_client_t *cc)
{
    zkf_client_t *c = (zkf_client_t *)cc;
    pthread_mutex_lock(&c->mu);
    int64_t id = c->session_id;
    pthread_mutex_unlock(&c->mu);
    return id;
}

int zkf_client_session_timeout(const zkf_client_t *cc)
{
    zkf_client_t *c = (zkf_client_t *)cc;
    pthread_mutex_lock(&c->mu);
    int ms = c->negotiated_ms;
    pthread_mutex_unlock(&c->mu);
    return ms;
}

struct _zhandle *zkf_client_zhandle(zkf_client_t *c)
{
    pthread_mutex_lock(&c->mu);
    zhandle_t *zh = c->zh;
    pthread_mutex_unlock(&c->mu);
    return zh;
}
