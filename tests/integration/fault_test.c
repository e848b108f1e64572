/* The lock under network faults, injected by a relay that sits between the
 * client and ZooKeeper (tests/support/zkrelay.h): a lost reply to create,
 * connection loss while holding, release during connection loss, a
 * partition longer than the session, and server-side session expiry. */
#include <pthread.h>
#include <zookeeper/zookeeper.h>

#include "internal.h"
#include "zkf_test.h"
#include "zkrelay.h"

#define SESSION_MS 4000

static zkrelay_t *relay_to_server(void)
{
    char host[256];
    snprintf(host, sizeof(host), "%s", zt_hosts());
    host[strcspn(host, ",/")] = '\0';
    char *colon = strrchr(host, ':');
    if (colon == NULL)
        return NULL;
    *colon = '\0';
    return zkrelay_start(host, atoi(colon + 1));
}

static zkf_client_t *client_via(zkrelay_t *r, int session_ms)
{
    char hosts[64];
    snprintf(hosts, sizeof(hosts), "127.0.0.1:%d", zkrelay_port(r));
    return zt_client_at(hosts, session_ms);
}

typedef struct events {
    pthread_mutex_t mu;
    int suspended, held, lost;
    uint64_t token;
} events_t;

static void on_event(zkf_lock_t *l, zkf_lock_state_t st, uint64_t token, void *arg)
{
    events_t *e = arg;
    pthread_mutex_lock(&e->mu);
    e->suspended += st == ZKF_LOCK_SUSPENDED;
    e->held += st == ZKF_LOCK_HELD;
    e->lost += st == ZKF_LOCK_LOST;
    e->token = token;
    pthread_mutex_unlock(&e->mu);
}

static int ev_get(events_t *e, const int *field)
{
    pthread_mutex_lock(&e->mu);
    int v = *field;
    pthread_mutex_unlock(&e->mu);
    return v;
}

static zkf_lock_options_t opts_with(events_t *e)
{
    zkf_lock_options_t o;
    zkf_lock_options_init(&o);
    o.event_cb = on_event;
    o.event_arg = e;
    return o;
}

/* Nodes under `path` whose name carries the GUID of `node`. */
static int nodes_with_guid_of(zkf_client_t *c, const char *path, const char *node)
{
    zkf_contender_t *list;
    size_t n;
    if (zkf_lock_contenders(c, path, &list, &n) != 0)
        return -1;
    int k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(list[i].node, node, 5 + ZKF__GUID_LEN) == 0)
            k++;
    zkf_contenders_free(list, n);
    return k;
}

/* 9. A lost reply to create: the relay forwards the create, then drops the
 * connection before the reply. Exactly one node per attempt, no deadlock. */
static void test_lost_create_reply(void)
{
    char path[128], node[128];
    zt_path(path, sizeof(path), "lostreply");
    zkrelay_t *r = relay_to_server();
    CU_ASSERT_FATAL(r != NULL);
    zkf_client_t *c = client_via(r, SESSION_MS), *direct = zt_client(SESSION_MS);
    CU_ASSERT_FATAL(c && direct);
    zkf_lock_t *l;
    zkf_lock_create(c, path, NULL, &l);

    /* Make sure the lock path exists, so the first create is ours. */
    zkf_lock_t *warm;
    zkf_lock_create(direct, path, NULL, &warm);
    CU_ASSERT_FATAL(zkf_lock_acquire(warm, 5000, NULL) == 0);
    CU_ASSERT_FATAL(zkf_lock_release(warm) == 0);

    int conns = zkrelay_connections(r);
    zkrelay_drop_after_create(r, 1);
    uint64_t token;
    CU_ASSERT_EQUAL_FATAL(zkf_lock_acquire(l, 20000, &token), 0);
    CU_ASSERT(zkrelay_connections(r) > conns); /* the fault did hit */
    CU_ASSERT(zkrelay_creates_seen(r) >= 1);
    CU_ASSERT_EQUAL(zt_contenders(direct, path), 1);
    CU_ASSERT_EQUAL_FATAL(zkf_lock_node(l, node, sizeof(node)), 0);
    CU_ASSERT_EQUAL(nodes_with_guid_of(direct, path, node), 1);
    CU_ASSERT(token > 0);
    CU_ASSERT_EQUAL(zkf_lock_release(l), 0);
    CU_ASSERT(ZT_WAIT_UNTIL(zt_contenders(direct, path) == 0, 5000)); /* release does not wait */

    zkf_lock_destroy(l);
    zkf_lock_destroy(warm);
    zkf_client_destroy(c);
    zkf_client_destroy(direct);
    zkrelay_stop(r);
}

/* A waiter thread: acquires, notes how many contenders the server shows
 * while it holds, and releases (a blocking holding belongs to its thread). */
typedef struct acquirer {
    zkf_lock_t *lock;
    int timeout_ms;
    zkf_client_t *observer;
    const char *path;
    int rc;
    uint64_t token;
    size_t contenders_held;
    int release_rc;
} acquirer_t;

static void *acquire_main(void *arg)
{
    acquirer_t *a = arg;
    a->rc = zkf_lock_acquire(a->lock, a->timeout_ms, &a->token);
    if (a->rc == 0) {
        a->contenders_held = zt_contenders(a->observer, a->path);
        a->release_rc = zkf_lock_release(a->lock);
    }
    return NULL;
}

/* The same fault while another client holds the lock: the waiter keeps
 * exactly one node in the queue, and gets the lock when the holder goes. */
static void test_lost_create_reply_contended(void)
{
    char path[128];
    zt_path(path, sizeof(path), "lostreply-q");
    zkrelay_t *r = relay_to_server();
    CU_ASSERT_FATAL(r != NULL);
    zkf_client_t *c = client_via(r, SESSION_MS), *direct = zt_client(SESSION_MS);
    CU_ASSERT_FATAL(c && direct);
    zkf_lock_t *holder, *w;
    zkf_lock_create(direct, path, NULL, &holder);
    zkf_lock_create(c, path, NULL, &w);
    uint64_t t0;
    CU_ASSERT_FATAL(zkf_lock_acquire(holder, 5000, &t0) == 0);

    zkrelay_drop_after_create(r, 1);
    acquirer_t a = {w, 30000, direct, path, -1, 0, 0, -1};
    pthread_t th;
    pthread_create(&th, NULL, acquire_main, &a);
    CU_ASSERT(ZT_WAIT_UNTIL(zkrelay_creates_seen(r) >= 1 && zt_contenders(direct, path) == 2 &&
                                zkf_lock_state(w) == ZKF_LOCK_WAITING &&
                                zkf_client_state(c) == ZKF_CLIENT_CONNECTED,
                            15000));
    CU_ASSERT_EQUAL(zt_contenders(direct, path), 2); /* no ghost */
    CU_ASSERT_EQUAL(zkf_lock_release(holder), 0);
    pthread_join(th, NULL);
    CU_ASSERT_EQUAL(a.rc, 0);
    CU_ASSERT(a.token > t0);
    CU_ASSERT_EQUAL(a.contenders_held, 1);
    CU_ASSERT_EQUAL(a.release_rc, 0);
    CU_ASSERT(ZT_WAIT_UNTIL(zt_contenders(direct, path) == 0, 5000)); /* release does not wait */
    zkf_lock_destroy(holder);
    zkf_lock_destroy(w);
    zkf_client_destroy(c);
    zkf_client_destroy(direct);
    zkrelay_stop(r);
}

/* Connection loss while holding: suspended, then held again with the same
 * token once the same session reconnects. */
static void test_connection_loss_suspends(void)
{
    char path[128];
    zt_path(path, sizeof(path), "connloss");
    zkrelay_t *r = relay_to_server();
    CU_ASSERT_FATAL(r != NULL);
    zkf_client_t *c = client_via(r, SESSION_MS);
    CU_ASSERT_FATAL(c != NULL);
    events_t ev = {.mu = PTHREAD_MUTEX_INITIALIZER};
    zkf_lock_options_t o = opts_with(&ev);
    zkf_lock_t *l;
    zkf_lock_create(c, path, &o, &l);
    uint64_t t1, t2;
    CU_ASSERT_FATAL(zkf_lock_acquire(l, 5000, &t1) == 0);
    int64_t sid = zkf_client_session_id(c);

    zkrelay_set_blackhole(r, 1);
    CU_ASSERT(ZT_WAIT_UNTIL(ev_get(&ev, &ev.suspended) == 1, 10000));
    CU_ASSERT_EQUAL(zkf_lock_state(l), ZKF_LOCK_SUSPENDED);
    CU_ASSERT_EQUAL(zkf_lock_token(l, &t2), ZKF_ECONNLOSS); /* the app decides */
    zkrelay_set_blackhole(r, 0);
    CU_ASSERT(ZT_WAIT_UNTIL(ev_get(&ev, &ev.held) == 1, 10000));
    CU_ASSERT_EQUAL(zkf_lock_state(l), ZKF_LOCK_HELD);
    CU_ASSERT_EQUAL(zkf_lock_token(l, &t2), 0);
    CU_ASSERT_EQUAL(t1, t2);
    CU_ASSERT_EQUAL(zkf_client_session_id(c), sid);
    CU_ASSERT_EQUAL(ev_get(&ev, &ev.lost), 0);
    CU_ASSERT_EQUAL(zkf_lock_release(l), 0);
    zkf_lock_destroy(l);
    zkf_client_destroy(c);
    zkrelay_stop(r);
}

/* 11. Release during a connection loss: released locally at once, and the
 * node is gone once the connection is back. */
static void test_release_during_connection_loss(void)
{
    char path[128];
    zt_path(path, sizeof(path), "relloss");
    zkrelay_t *r = relay_to_server();
    CU_ASSERT_FATAL(r != NULL);
    zkf_client_t *c = client_via(r, SESSION_MS), *direct = zt_client(SESSION_MS);
    CU_ASSERT_FATAL(c && direct);
    zkf_lock_t *l;
    zkf_lock_create(c, path, NULL, &l);
    CU_ASSERT_FATAL(zkf_lock_acquire(l, 5000, NULL) == 0);

    zkrelay_set_blackhole(r, 1);
    CU_ASSERT_FATAL(ZT_WAIT_UNTIL(zkf_lock_state(l) == ZKF_LOCK_SUSPENDED, 10000));
    CU_ASSERT_EQUAL(zkf_lock_release(l), ZKF_EPENDING);
    CU_ASSERT_EQUAL(zkf_lock_state(l), ZKF_LOCK_UNLOCKED);
    CU_ASSERT_EQUAL(zt_contenders(direct, path), 1); /* still on the server */
    zkrelay_set_blackhole(r, 0);
    CU_ASSERT(ZT_WAIT_UNTIL(zt_contenders(direct, path) == 0, 10000));
    CU_ASSERT_EQUAL(zkf_client_state(c), ZKF_CLIENT_CONNECTED);
    zkf_lock_destroy(l);
    zkf_client_destroy(c);
    zkf_client_destroy(direct);
    zkrelay_stop(r);
}

/* A partition longer than the session: the client itself declares the lock
 * lost one session timeout after it noticed, before any server verdict can
 * reach it; afterwards a new session works. */
static void test_partition_past_session_timeout(void)
{
    char path[128];
    zt_path(path, sizeof(path), "partition");
    zkrelay_t *r = relay_to_server();
    CU_ASSERT_FATAL(r != NULL);
    zkf_client_t *c = client_via(r, 1500), *direct = zt_client(SESSION_MS);
    CU_ASSERT_FATAL(c && direct);
    events_t ev = {.mu = PTHREAD_MUTEX_INITIALIZER};
    zkf_lock_options_t o = opts_with(&ev);
    zkf_lock_t *l, *other;
    zkf_lock_create(c, path, &o, &l);
    zkf_lock_create(direct, path, NULL, &other);
    uint64_t t1, t2, tmp;
    CU_ASSERT_FATAL(zkf_lock_acquire(l, 5000, &t1) == 0);

    zkrelay_set_blackhole(r, 1);
    CU_ASSERT_FATAL(ZT_WAIT_UNTIL(zkf_lock_state(l) == ZKF_LOCK_SUSPENDED, 10000));
    int64_t suspended_at = zt_now_ms();
    CU_ASSERT(ZT_WAIT_UNTIL(zkf_lock_state(l) == ZKF_LOCK_LOST, 15000));
    int64_t waited = zt_now_ms() - suspended_at;
    CU_ASSERT(waited >= 1000); /* not before the session timeout (less polling slack) */
    CU_ASSERT_EQUAL(zkf_client_state(c), ZKF_CLIENT_EXPIRED); /* decided while cut off */
    CU_ASSERT_EQUAL(zkf_lock_token(l, &tmp), ZKF_ELOCKLOST);
    CU_ASSERT(ZT_WAIT_UNTIL(ev_get(&ev, &ev.lost) == 1, 5000));

    /* Meanwhile the server expired the session: the successor gets it. */
    CU_ASSERT_EQUAL(zkf_lock_acquire(other, 15000, &t2), 0);
    CU_ASSERT(t2 > t1);
    zkrelay_set_blackhole(r, 0);
    CU_ASSERT(ZT_WAIT_UNTIL(zkf_client_state(c) == ZKF_CLIENT_CONNECTED, 20000));
    CU_ASSERT_EQUAL(zkf_lock_state(l), ZKF_LOCK_LOST); /* stays lost until released */
    CU_ASSERT_EQUAL(zkf_lock_release(l), ZKF_ELOCKLOST);
    CU_ASSERT_EQUAL(zkf_lock_release(other), 0);
    CU_ASSERT_EQUAL(zkf_lock_acquire(l, 5000, &tmp), 0); /* usable again */
    CU_ASSERT(tmp > t2);
    CU_ASSERT_EQUAL(zkf_lock_release(l), 0);
    zkf_lock_destroy(l);
    zkf_lock_destroy(other);
    zkf_client_destroy(c);
    zkf_client_destroy(direct);
    zkrelay_stop(r);
}

typedef struct async_result {
    pthread_mutex_t mu;
    int calls;
    int status;
} async_result_t;

static void on_acquired(zkf_lock_t *l, int status, uint64_t token, void *arg)
{
    async_result_t *ar = arg;
    pthread_mutex_lock(&ar->mu);
    ar->calls++;
    ar->status = status;
    pthread_mutex_unlock(&ar->mu);
}

static int ar_calls(async_result_t *ar)
{
    pthread_mutex_lock(&ar->mu);
    int n = ar->calls;
    pthread_mutex_unlock(&ar->mu);
    return n;
}

/* 7 (in-process). The server expires the session (closed through a second
 * handle while ours is cut off): every lock of the session is reported lost
 * at once, a waiting acquire fails, and the client starts a new session. */
static void test_server_expiry(void)
{
    char path[128], path2[160];
    zt_path(path, sizeof(path), "expiry");
    snprintf(path2, sizeof(path2), "%s-b", path);
    zkrelay_t *r = relay_to_server();
    CU_ASSERT_FATAL(r != NULL);
    zkf_client_t *c = client_via(r, SESSION_MS), *direct = zt_client(SESSION_MS);
    CU_ASSERT_FATAL(c && direct);
    int64_t sid = zkf_client_session_id(c);
    events_t ev = {.mu = PTHREAD_MUTEX_INITIALIZER};
    zkf_lock_options_t o = opts_with(&ev);
    zkf_lock_t *l1, *l2, *w, *blocker;
    zkf_lock_create(c, path, &o, &l1);
    zkf_lock_create(c, path2, &o, &l2);
    zkf_lock_create(direct, path2, NULL, &blocker);
    zkf_lock_create(c, path2, NULL, &w);
    uint64_t t1, t2, tmp;
    CU_ASSERT_FATAL(zkf_lock_acquire(l1, 5000, &t1) == 0);
    CU_ASSERT_FATAL(zkf_lock_acquire(l2, 5000, &t2) == 0);
    async_result_t ar = {PTHREAD_MUTEX_INITIALIZER, 0, 0};
    CU_ASSERT_FATAL(zkf_lock_acquire_async(w, -1, on_acquired, &ar) == 0);
    CU_ASSERT_FATAL(ZT_WAIT_UNTIL(zt_contenders(direct, path2) == 2, 10000));

    zkrelay_set_blackhole(r, 1);
    CU_ASSERT_FATAL(ZT_WAIT_UNTIL(zkf_client_state(c) == ZKF_CLIENT_SUSPENDED, 10000));
    CU_ASSERT_EQUAL_FATAL(zt_expire_session(c), 0);
    zkrelay_set_blackhole(r, 0); /* reconnect: the server answers "expired" */

    CU_ASSERT(ZT_WAIT_UNTIL(ev_get(&ev, &ev.lost) == 2, 20000)); /* both, at once */
    CU_ASSERT_EQUAL(zkf_lock_state(l1), ZKF_LOCK_LOST);
    CU_ASSERT_EQUAL(zkf_lock_state(l2), ZKF_LOCK_LOST);
    CU_ASSERT_EQUAL(zkf_lock_token(l1, &tmp), ZKF_ELOCKLOST);
    CU_ASSERT(ZT_WAIT_UNTIL(ar_calls(&ar) == 1, 10000));
    CU_ASSERT_EQUAL(ar.status, ZKF_ESESSIONEXPIRED);
    CU_ASSERT(ZT_WAIT_UNTIL(zkf_client_state(c) == ZKF_CLIENT_CONNECTED, 20000));
    CU_ASSERT_NOT_EQUAL(zkf_client_session_id(c), sid);
    CU_ASSERT(ZT_WAIT_UNTIL(zt_contenders(direct, path) == 0, 5000));
    /* release does not wait */ /* the server removed the nodes */

    CU_ASSERT_EQUAL(zkf_lock_release(l1), ZKF_ELOCKLOST);
    CU_ASSERT_EQUAL(zkf_lock_release(l2), ZKF_ELOCKLOST);
    CU_ASSERT_EQUAL(zkf_lock_acquire(l1, 5000, &tmp), 0); /* new session, new token */
    CU_ASSERT(tmp > t2);
    CU_ASSERT_EQUAL(zkf_lock_release(l1), 0);
    CU_ASSERT_EQUAL(ar_calls(&ar), 1);
    zkf_lock_destroy(l1);
    zkf_lock_destroy(l2);
    zkf_lock_destroy(w);
    zkf_lock_destroy(blocker);
    zkf_client_destroy(c);
    zkf_client_destroy(direct);
    zkrelay_stop(r);
}

/* A waiter whose connection drops keeps its place in the queue. */
static void test_waiter_connection_loss(void)
{
    char path[128];
    zt_path(path, sizeof(path), "waitloss");
    zkrelay_t *r = relay_to_server();
    CU_ASSERT_FATAL(r != NULL);
    zkf_client_t *c = client_via(r, SESSION_MS), *direct = zt_client(SESSION_MS);
    CU_ASSERT_FATAL(c && direct);
    zkf_lock_t *holder, *w;
    zkf_lock_create(direct, path, NULL, &holder);
    zkf_lock_create(c, path, NULL, &w);
    CU_ASSERT_FATAL(zkf_lock_acquire(holder, 5000, NULL) == 0);
    acquirer_t a = {w, 30000, direct, path, -1, 0, 0, -1};
    pthread_t th;
    pthread_create(&th, NULL, acquire_main, &a);
    CU_ASSERT_FATAL(ZT_WAIT_UNTIL(zt_contenders(direct, path) == 2, 10000));
    zkrelay_disconnect_all(r);
    CU_ASSERT(ZT_WAIT_UNTIL(
        zkf_client_state(c) == ZKF_CLIENT_CONNECTED && zkrelay_connections(r) >= 2, 10000));
    CU_ASSERT_EQUAL(zkf_lock_release(holder), 0); /* the watch survived the reconnect */
    pthread_join(th, NULL);
    CU_ASSERT_EQUAL(a.rc, 0);
    CU_ASSERT_EQUAL(a.contenders_held, 1);
    CU_ASSERT_EQUAL(a.release_rc, 0);
    zkf_lock_destroy(holder);
    zkf_lock_destroy(w);
    zkf_client_destroy(c);
    zkf_client_destroy(direct);
    zkrelay_stop(r);
}

/* A create lost, then the waiter times out: its ghost, found by GUID, is
 * deleted too. */
static void test_lost_create_then_timeout(void)
{
    char path[128];
    zt_path(path, sizeof(path), "lostreply-to");
    zkrelay_t *r = relay_to_server();
    CU_ASSERT_FATAL(r != NULL);
    zkf_client_t *c = client_via(r, SESSION_MS), *direct = zt_client(SESSION_MS);
    CU_ASSERT_FATAL(c && direct);
    zkf_lock_t *holder, *w;
    zkf_lock_create(direct, path, NULL, &holder);
    zkf_lock_create(c, path, NULL, &w);
    CU_ASSERT_FATAL(zkf_lock_acquire(holder, 5000, NULL) == 0);
    zkrelay_drop_after_create(r, 1);
    CU_ASSERT_EQUAL(zkf_lock_acquire(w, 1500, NULL), ZKF_ETIMEDOUT);
    CU_ASSERT(ZT_WAIT_UNTIL(zt_contenders(direct, path) == 1, 10000));
    CU_ASSERT_EQUAL(zkf_lock_release(holder), 0);
    CU_ASSERT(ZT_WAIT_UNTIL(zt_contenders(direct, path) == 0, 5000)); /* release does not wait */
    zkf_lock_destroy(holder);
    zkf_lock_destroy(w);
    zkf_client_destroy(c);
    zkf_client_destroy(direct);
    zkrelay_stop(r);
}

int main(void)
{
    zt_hosts();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("faults", NULL, NULL);
    CU_add_test(s, "lost reply to create", test_lost_create_reply);
    CU_add_test(s, "lost reply to create, contended", test_lost_create_reply_contended);
    CU_add_test(s, "lost reply to create, then timeout", test_lost_create_then_timeout);
    CU_add_test(s, "connection loss suspends, reconnect resumes", test_connection_loss_suspends);
    CU_add_test(s, "waiter keeps its place across reconnect", test_waiter_connection_loss);
    CU_add_test(s, "release during connection loss", test_release_during_connection_loss);
    CU_add_test(s, "partition past the session timeout", test_partition_past_session_timeout);
    CU_add_test(s, "server-side session expiry", test_server_expiry);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
