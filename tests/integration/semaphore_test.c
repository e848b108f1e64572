/* The semaphore against a real ZooKeeper: at most N leases under
 * contention from threads and processes; leases granted in order of
 * arrival; N stored with the semaphore and a different N refused; try,
 * timeout and cancel leave no node and no watch, at the gate and waiting
 * for a lease; and the lock's faults (lost replies to the creates,
 * connection loss, session expiry, a holder crashed or paused). */
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "recipes_support.h"

static void on_acquired(zkf_semaphore_t *s, int status, uint64_t token, void *arg)
{
    rt_result_set(arg, status, token);
}

static void on_event(zkf_semaphore_t *s, zkf_lock_state_t st, uint64_t token, void *arg)
{
    rt_event(arg, (int)st, token);
}

static zkf_semaphore_t *sem_new(zkf_client_t *c, const char *path, int n, rt_events_t *ev)
{
    zkf_semaphore_options_t o;
    zkf_semaphore_options_init(&o);
    o.event_cb = ev ? on_event : NULL;
    o.event_arg = ev;
    zkf_semaphore_t *s = NULL;
    if (zkf_semaphore_create(c, path, n, &o, &s) != 0)
        return NULL;
    return s;
}

static int gate_nodes(zkf_client_t *c, const char *path)
{
    char dir[300];
    snprintf(dir, sizeof(dir), "%s/gate", path);
    return rt_children(c, dir, NULL);
}

static int lease_nodes(zkf_client_t *c, const char *path)
{
    char dir[300];
    snprintf(dir, sizeof(dir), "%s/leases", path);
    return rt_children(c, dir, NULL);
}

/* ---------------------------------------------------------------- */
/* At most N: threads on two sessions, and processes                 */

typedef struct worker {
    rt_shared_t *sh;
    zkf_client_t *c;
    const char *path;
    int n, rounds;
} worker_t;

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    zkf_semaphore_t *s = sem_new(w->c, w->path, w->n, NULL);
    if (s == NULL) {
        atomic_fetch_add(&w->sh->errors, 1);
        return NULL;
    }
    for (int i = 0; i < w->rounds; i++) {
        uint64_t token;
        int rc = zkf_semaphore_acquire(s, 10 * rt_deadline(w->c), &token);
        if (rc != 0) {
            fprintf(stderr, "acquire: %s\n", zkf_strerror(rc));
            atomic_fetch_add(&w->sh->errors, 1);
            continue;
        }
        int now = atomic_fetch_add(&w->sh->readers, 1) + 1;
        rt_max(&w->sh->max_readers, now);
        if (now > w->n)
            atomic_fetch_add(&w->sh->violations, 1);
        /* Round trips of work while holding, long enough for leases to
         * overlap (a grant takes one round trip at the gate); the server
         * never has more than N lease nodes and the gate holder's. */
        for (int k = 0; k < 4; k++)
            if (lease_nodes(w->c, w->path) > w->n + 1)
                atomic_fetch_add(&w->sh->violations, 1);
        atomic_fetch_sub(&w->sh->readers, 1);
        atomic_fetch_add(&w->sh->acquisitions, 1);
        if (zkf_semaphore_release(s) != 0)
            atomic_fetch_add(&w->sh->errors, 1);
    }
    zkf_semaphore_destroy(s);
    return NULL;
}

static void test_at_most_n(void)
{
    enum { N = 3, THREADS = 8, PROCS = 3, ROUNDS = 10 };
    char path[128];
    zt_path(path, sizeof(path), "sem-contention");
    rt_shared_t *sh =
        mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CU_ASSERT_FATAL(sh != MAP_FAILED);
    memset(sh, 0, sizeof(*sh));
    pid_t pids[PROCS];
    for (int p = 0; p < PROCS; p++) {
        pids[p] = fork();
        CU_ASSERT_FATAL(pids[p] >= 0);
        if (pids[p] == 0) {
            zkf_client_t *c = zt_client(RT_SESSION_MS);
            if (c == NULL)
                _exit(3);
            worker_t w = {sh, c, path, N, ROUNDS};
            worker_main(&w);
            zkf_client_destroy(c);
            _exit(0);
        }
    }
    zkf_client_t *c1 = zt_client(RT_SESSION_MS), *c2 = zt_client(RT_SESSION_MS);
    CU_ASSERT_FATAL(c1 && c2);
    pthread_t th[THREADS];
    worker_t w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker_t){sh, i % 2 ? c2 : c1, path, N, ROUNDS};
        pthread_create(&th[i], NULL, worker_main, &w[i]);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    for (int p = 0; p < PROCS; p++) {
        int st;
        CU_ASSERT_EQUAL(waitpid(pids[p], &st, 0), pids[p]);
        CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    fprintf(stderr, "  (most leases at once: %d) ", atomic_load(&sh->max_readers));
    CU_ASSERT_EQUAL(atomic_load(&sh->errors), 0);
    CU_ASSERT_EQUAL(atomic_load(&sh->violations), 0);
    CU_ASSERT(atomic_load(&sh->max_readers) <= N);
    CU_ASSERT_EQUAL(atomic_load(&sh->acquisitions), (long)(THREADS + PROCS) * ROUNDS);
    CU_ASSERT(
        ZT_WAIT_UNTIL(lease_nodes(c1, path) == 0 && gate_nodes(c1, path) == 0, rt_deadline(c1)));
    zkf_client_destroy(c1);
    zkf_client_destroy(c2);
    munmap(sh, sizeof(*sh));
}

/* N leases at once, the N+1st waits (at the gate's head, alone with a
 * children watch), and gets the first lease released; those behind it
 * wait at the gate, and are served in order of arrival. */
static void test_n_then_fifo(void)
{
    enum { N = 2, WAITERS = 3 };
    char path[128];
    zt_path(path, sizeof(path), "sem-fifo");
    zkf_client_t *c = zt_client(RT_SESSION_MS), *d = zt_client(RT_SESSION_MS);
    CU_ASSERT_FATAL(c && d);
    zkf_semaphore_t *held[N], *w[WAITERS];
    uint64_t tok[N];
    for (int i = 0; i < N; i++) {
        held[i] = sem_new(c, path, N, NULL);
        CU_ASSERT_EQUAL_FATAL(zkf_semaphore_acquire(held[i], 0, &tok[i]), 0); /* at once */
        if (i > 0)
            CU_ASSERT(tok[i] > tok[i - 1]);
    }
    CU_ASSERT_EQUAL(lease_nodes(c, path), N);
    CU_ASSERT_EQUAL(gate_nodes(c, path), 0); /* each left the gate */
    int dl = rt_deadline(c);
    rt_result_t a[WAITERS];
    for (int i = 0; i < WAITERS; i++) {
        a[i] = (rt_result_t)RT_RESULT_INIT;
        w[i] = sem_new(d, path, N, NULL);
        CU_ASSERT_EQUAL_FATAL(zkf_semaphore_acquire_async(w[i], -1, on_acquired, &a[i]), 0);
        CU_ASSERT_FATAL(ZT_WAIT_UNTIL(gate_nodes(c, path) == i + 1, dl));
    }
    /* The first waiter holds the gate and has made its lease node: it
     * waits for the leases (a children watch), the others for the gate. */
    CU_ASSERT_FATAL(ZT_WAIT_UNTIL(lease_nodes(c, path) == N + 1, dl));
    CU_ASSERT_EQUAL(zkf_semaphore_state(w[0]), ZKF_LOCK_WAITING);
    for (int i = 0; i < WAITERS; i++) {
        CU_ASSERT_EQUAL(zkf_semaphore_release(held[i % N]), i < N ? 0 : ZKF_ENOTHELD);
        if (i >= N)
            CU_ASSERT_EQUAL(zkf_semaphore_release(w[0]), 0);
        CU_ASSERT_FATAL(rt_result_wait(&a[i], dl) == 1);
        CU_ASSERT_EQUAL(a[i].status, 0);
        for (int j = i + 1; j < WAITERS; j++)
            CU_ASSERT_EQUAL(rt_calls(&a[j]), 0); /* in order */
        CU_ASSERT(a[i].token > tok[N - 1]);
        if (i > 0)
            CU_ASSERT(a[i].token > a[i - 1].token);
    }
    for (int i = 0; i < N; i++)
        zkf_semaphore_destroy(held[i]);
    for (int i = 0; i < WAITERS; i++)
        zkf_semaphore_destroy(w[i]);
    CU_ASSERT(ZT_WAIT_UNTIL(lease_nodes(c, path) == 0 && gate_nodes(c, path) == 0, dl));
    CU_ASSERT(ZT_WAIT_UNTIL(rt_watches(c) == 0 && rt_watches(d) == 0, dl));
    zkf_client_destroy(c);
    zkf_client_destroy(d);
}

/* N is stored with the semaphore by its first acquisition; an object with
 * another N is refused (ZKF_ELIMIT), also while the gate is taken, and
 * takes nothing. */
static void test_limit_stored_and_checked(void)
{
    char path[128], buf[32];
    zt_path(path, sizeof(path), "sem-limit");
    zkf_client_t *c = zt_client(RT_SESSION_MS);
    CU_ASSERT_FATAL(c != NULL);
    zkf_semaphore_t *two = sem_new(c, path, 2, NULL), *three = sem_new(c, path, 3, NULL),
                    *gate = sem_new(c, path, 2, NULL);
    CU_ASSERT_EQUAL(zkf_semaphore_max_leases(three), 3);
    uint64_t t;
    CU_ASSERT_EQUAL_FATAL(zkf_semaphore_acquire(two, 5000, &t), 0);
    int len = sizeof(buf) - 1;
    CU_ASSERT_EQUAL(zoo_get(zkf_client_zhandle(c), path, 0, buf, &len, NULL), ZOK);
    buf[len > 0 ? len : 0] = '\0';
    CU_ASSERT_STRING_EQUAL(buf, "2");
    CU_ASSERT_EQUAL(zkf_semaphore_acquire(three, 5000, &t), ZKF_ELIMIT);
    CU_ASSERT_EQUAL(zkf_semaphore_state(three), ZKF_LOCK_UNLOCKED);
    CU_ASSERT_EQUAL(lease_nodes(c, path), 1);
    CU_ASSERT(ZT_WAIT_UNTIL(gate_nodes(c, path) == 0, rt_deadline(c)));

    /* The gate held by another (a contender waiting for a lease): the
     * mismatch is found while waiting there, not after. */
    zkf_semaphore_t *other = sem_new(c, path, 2, NULL);
    CU_ASSERT_EQUAL_FATAL(zkf_semaphore_acquire(other, 5000, NULL), 0); /* both leases out */
    rt_result_t ag = RT_RESULT_INIT, a3 = RT_RESULT_INIT;
    CU_ASSERT_EQUAL_FATAL(zkf_semaphore_acquire_async(gate, -1, on_acquired, &ag), 0);
    CU_ASSERT_FATAL(ZT_WAIT_UNTIL(lease_nodes(c, path) == 3, rt_deadline(c)));
    CU_ASSERT_EQUAL_FATAL(zkf_semaphore_acquire_async(three, -1, on_acquired, &a3), 0);
    CU_ASSERT_FATAL(rt_result_wait(&a3, rt_deadline(c)) == 1);
    CU_ASSERT_EQUAL(a3.status, ZKF_ELIMIT);
    CU_ASSERT_EQUAL(rt_calls(&ag), 0);
    CU_ASSERT(ZT_WAIT_UNTIL(gate_nodes(c, path) == 1, rt_deadline(c))); /* the waiter's only */
    CU_ASSERT_EQUAL(zkf_semaphore_release(two), 0);
    CU_ASSERT_FATAL(rt_result_wait(&ag, rt_deadline(c)) == 1);
    CU_ASSERT_EQUAL(ag.status, 0);
    CU_ASSERT_EQUAL(zkf_semaphore_create(c, path, 0, NULL, &other), ZKF_EINVAL);
    zkf_semaphore_destroy(two);
    zkf_semaphore_destroy(three);
    zkf_semaphore_destroy(gate);
    zkf_semaphore_destroy(other);
    CU_ASSERT(ZT_WAIT_UNTIL(lease_nodes(c, path) == 0, rt_deadline(c)));
    zkf_client_destroy(c);
}

/* Giving up leaves nothing: a try (EBUSY) with the leases out; a timeout
 * and a cancel while waiting for a lease (gate held, lease node made, a
 * children watch armed); a timeout waiting at the gate. */
static void test_give_up_leaves_nothing(void)
{
    char path[128];
    zt_path(path, sizeof(path), "sem-giveup");
    zkf_client_t *c = zt_client(RT_SESSION_MS), *d = zt_client(RT_SESSION_MS);
    CU_ASSERT_FATAL(c && d);
    zkf_semaphore_t *h = sem_new(c, path, 1, NULL), *w = sem_new(d, path, 1, NULL),
                    *x = sem_new(d, path, 1, NULL);
    uint64_t th;
    CU_ASSERT_EQUAL_FATAL(zkf_semaphore_acquire(h, 5000, &th), 0);
    int dl = rt_deadline(c);
    CU_ASSERT_EQUAL(zkf_semaphore_acquire(w, 0, NULL), ZKF_EBUSY);
    CU_ASSERT(ZT_WAIT_UNTIL(gate_nodes(c, path) == 0 && lease_nodes(c, path) == 1, dl));

    int64_t t0 = zt_now_ms();
    CU_ASSERT_EQUAL(zkf_semaphore_acquire(w, 400, NULL), ZKF_ETIMEDOUT);
    CU_ASSERT(zt_now_ms() - t0 >= 400);
    CU_ASSERT_EQUAL(zkf_semaphore_state(w), ZKF_LOCK_UNLOCKED);
    CU_ASSERT(ZT_WAIT_UNTIL(gate_nodes(c, path) == 0 && lease_nodes(c, path) == 1, dl));
    CU_ASSERT(ZT_WAIT_UNTIL(rt_watches(d) == 0, dl));

    rt_result_t aw = RT_RESULT_INIT, ax = RT_RESULT_INIT;
    CU_ASSERT_EQUAL_FATAL(zkf_semaphore_acquire_async(w, -1, on_acquired, &aw), 0);
    CU_ASSERT_FATAL(ZT_WAIT_UNTIL(lease_nodes(c, path) == 2 && rt_watches(d) >= 1, dl));
    /* Behind it at the gate, x times out (async). */
    CU_ASSERT_EQUAL_FATAL(zkf_semaphore_acquire_async(x, 300, on_acquired, &ax), 0);
    CU_ASSERT_FATAL(rt_result_wait(&ax, dl) == 1);
    CU_ASSERT_EQUAL(ax.status, ZKF_ETIMEDOUT);
    CU_ASSERT(ZT_WAIT_UNTIL(gate_nodes(c, path) == 1, dl)); /* w's alone */
    CU_ASSERT_EQUAL(zkf_semaphore_cancel(w), 0);
    CU_ASSERT_FATAL(rt_result_wait(&aw, dl) == 1);
    CU_ASSERT_EQUAL(aw.status, ZKF_ECANCELED);
    CU_ASSERT(ZT_WAIT_UNTIL(gate_nodes(c, path) == 0 && lease_nodes(c, path) == 1, dl));
    CU_ASSERT(ZT_WAIT_UNTIL(rt_watches(d) == 0, dl));
    CU_ASSERT_EQUAL(zkf_semaphore_cancel(w), ZKF_ENOTHELD);
    /* The lease's release reaches nobody: each callback ran once. */
    CU_ASSERT_EQUAL(zkf_semaphore_release(h), 0);
    CU_ASSERT(ZT_WAIT_UNTIL(lease_nodes(c, path) == 0, dl));
    CU_ASSERT_EQUAL(rt_calls(&aw) + rt_calls(&ax), 2);
    zkf_semaphore_destroy(h);
    zkf_semaphore_destroy(w);
    zkf_semaphore_destroy(x);
    zkf_client_destroy(c);
    zkf_client_destroy(d);
}

/* ---------------------------------------------------------------- */
/* Faults                                                            */

/* Lost replies to both creates, the gate's and the lease's: each node
 * found again by its GUID, none made twice, none left behind. */
static void test_lost_create_replies(void)
{
    char path[128];
    zt_path(path, sizeof(path), "sem-lostreply");
    zkrelay_t *r = rt_relay();
    CU_ASSERT_FATAL(r != NULL);
    zkf_client_t *c = rt_client_via(r, RT_SESSION_MS), *d = zt_client(RT_SESSION_MS);
    CU_ASSERT_FATAL(c && d);
    zkf_semaphore_t *warm = sem_new(d, path, 2, NULL), *s = sem_new(c, path, 2, NULL);
    CU_ASSERT_FATAL(zkf_semaphore_acquire(warm, 5000, NULL) == 0); /* paths and N exist */
    int conns = zkrelay_connections(r);
    zkrelay_drop_after_create(r, 2);
    uint64_t token;
    CU_ASSERT_EQUAL_FATAL(zkf_semaphore_acquire(s, rt_deadline(c), &token), 0);
    CU_ASSERT(zkrelay_connections(r) >= conns + 2); /* both faults hit */
    CU_ASSERT_EQUAL(zkrelay_creates_seen(r), 2);    /* found by GUID, not made again */
    CU_ASSERT_EQUAL(lease_nodes(d, path), 2);
    CU_ASSERT(ZT_WAIT_UNTIL(gate_nodes(d, path) == 0, rt_deadline(d)));
    CU_ASSERT_EQUAL(zkf_semaphore_release(s), 0);
    CU_ASSERT_EQUAL(zkf_semaphore_release(warm), 0);
    CU_ASSERT(ZT_WAIT_UNTIL(lease_nodes(d, path) == 0, rt_deadline(d)));
    zkf_semaphore_destroy(warm);
    zkf_semaphore_destroy(s);
    zkf_client_destroy(c);
    zkf_client_destroy(d);
    zkrelay_stop(r);
}

/* Connection loss: a lease is SUSPENDED and HELD again with its token;
 * a contender waiting for a lease across the cut keeps its place and
 * gets the next one. */
static void test_connection_loss(void)
{
    char path[128];
    zt_path(path, sizeof(path), "sem-connloss");
    zkrelay_t *r = rt_relay();
    CU_ASSERT_FATAL(r != NULL);
    zkf_client_t *c = rt_client_via(r, RT_SESSION_MS), *d = zt_client(RT_SESSION_MS);
    CU_ASSERT_FATAL(c && d);
    rt_events_t ev = RT_EVENTS_INIT;
    zkf_semaphore_t *h = sem_new(c, path, 1, &ev), *holder2 = sem_new(d, path, 1, NULL),
                    *w = sem_new(c, path, 1, NULL);
    uint64_t t1, t2;
    CU_ASSERT_FATAL(zkf_semaphore_acquire(h, 5000, &t1) == 0);
    int dl = rt_deadline(c);
    zkrelay_set_blackhole(r, 1);
    CU_ASSERT(ZT_WAIT_UNTIL(rt_count(&ev, ZKF_LOCK_SUSPENDED) == 1, dl));
    CU_ASSERT_EQUAL(zkf_semaphore_token(h, &t2), ZKF_ECONNLOSS);
    zkrelay_set_blackhole(r, 0);
    CU_ASSERT(ZT_WAIT_UNTIL(rt_last_is(&ev, ZKF_LOCK_HELD, t1), dl));
    CU_ASSERT_EQUAL(zkf_semaphore_token(h, &t2), 0);
    CU_ASSERT_EQUAL(t1, t2);
    CU_ASSERT_EQUAL(zkf_semaphore_release(h), 0);

    /* d holds; w (through the relay) waits for the lease, across a cut. */
    CU_ASSERT_FATAL(zkf_semaphore_acquire(holder2, dl, &t1) == 0);
    rt_result_t aw = RT_RESULT_INIT;
    CU_ASSERT_EQUAL_FATAL(zkf_semaphore_acquire_async(w, -1, on_acquired, &aw), 0);
    CU_ASSERT_FATAL(ZT_WAIT_UNTIL(lease_nodes(d, path) == 2, dl));
    zkrelay_disconnect_all(r);
    CU_ASSERT(ZT_WAIT_UNTIL(
        zkf_client_state(c) == ZKF_CLIENT_CONNECTED && zkrelay_connections(r) >= 3, dl));
    CU_ASSERT_EQUAL(zkf_semaphore_release(holder2), 0);
    CU_ASSERT_FATAL(rt_result_wait(&aw, dl) == 1);
    CU_ASSERT_EQUAL(aw.status, 0);
    CU_ASSERT(aw.token > t1);
    CU_ASSERT_EQUAL(zkf_semaphore_release(w), 0);
    zkf_semaphore_destroy(h);
    zkf_semaphore_destroy(holder2);
    zkf_semaphore_destroy(w);
    zkf_client_destroy(c);
    zkf_client_destroy(d);
    zkrelay_stop(r);
}

/* The server expires the session: its lease is LOST at once, its waiting
 * acquisition fails, their nodes are gone, and another session's waiter
 * gets the lease. */
static void test_session_expiry(void)
{
    char path[128];
    zt_path(path, sizeof(path), "sem-expiry");
    zkrelay_t *r = rt_relay();
    CU_ASSERT_FATAL(r != NULL);
    zkf_client_t *c = rt_client_via(r, RT_SESSION_MS), *d = zt_client(RT_SESSION_MS);
    CU_ASSERT_FATAL(c && d);
    rt_events_t ev = RT_EVENTS_INIT;
    zkf_semaphore_t *h = sem_new(c, path, 1, &ev), *cw = sem_new(c, path, 1, NULL),
                    *dw = sem_new(d, path, 1, NULL);
    uint64_t t1, tmp;
    CU_ASSERT_FATAL(zkf_semaphore_acquire(h, 5000, &t1) == 0);
    rt_result_t ac = RT_RESULT_INIT, ad = RT_RESULT_INIT;
    int dl = rt_deadline(c);
    CU_ASSERT_EQUAL_FATAL(zkf_semaphore_acquire_async(cw, -1, on_acquired, &ac), 0);
    CU_ASSERT_FATAL(ZT_WAIT_UNTIL(lease_nodes(d, path) == 2, dl)); /* cw waits for a lease */
    CU_ASSERT_EQUAL_FATAL(zkf_semaphore_acquire_async(dw, -1, on_acquired, &ad), 0);
    CU_ASSERT_FATAL(ZT_WAIT_UNTIL(gate_nodes(d, path) == 2, dl)); /* dw at the gate */
    zkrelay_set_blackhole(r, 1);
    CU_ASSERT_FATAL(ZT_WAIT_UNTIL(zkf_client_state(c) == ZKF_CLIENT_SUSPENDED, dl));
    CU_ASSERT_EQUAL_FATAL(zt_expire_session(c), 0);
    /* The server removed c's nodes: dw gets through the gate and the lease. */
    CU_ASSERT_FATAL(rt_result_wait(&ad, dl) == 1);
    CU_ASSERT_EQUAL(ad.status, 0);
    CU_ASSERT(ad.token > t1);
    zkrelay_set_blackhole(r, 0);
    CU_ASSERT(ZT_WAIT_UNTIL(rt_last_is(&ev, ZKF_LOCK_LOST, t1), dl));
    CU_ASSERT_EQUAL(zkf_semaphore_token(h, &tmp), ZKF_ELOCKLOST);
    CU_ASSERT_FATAL(rt_result_wait(&ac, dl) == 1);
    CU_ASSERT_EQUAL(ac.status, ZKF_ESESSIONEXPIRED);
    CU_ASSERT_EQUAL(zkf_semaphore_release(h), ZKF_ELOCKLOST);
    CU_ASSERT_EQUAL(zkf_semaphore_release(dw), 0);
    CU_ASSERT(ZT_WAIT_UNTIL(zkf_client_state(c) == ZKF_CLIENT_CONNECTED, dl));
    CU_ASSERT_EQUAL(zkf_semaphore_acquire(h, dl, &tmp), 0); /* usable again */
    CU_ASSERT(tmp > ad.token);
    CU_ASSERT_EQUAL(zkf_semaphore_release(h), 0);
    zkf_semaphore_destroy(h);
    zkf_semaphore_destroy(cw);
    zkf_semaphore_destroy(dw);
    CU_ASSERT(ZT_WAIT_UNTIL(lease_nodes(d, path) == 0 && gate_nodes(d, path) == 0, dl));
    zkf_client_destroy(c);
    zkf_client_destroy(d);
    zkrelay_stop(r);
}

/* A holder crashed or paused: the only lease of a semaphore of 1, then
 * its successor's (rt_holder_fault). */
static void *rt_create(zkf_client_t *c, const char *path, rt_events_t *ev)
{
    return sem_new(c, path, 1, ev);
}

static int rt_acquire(void *s, int first, int timeout_ms, uint64_t *token)
{
    return zkf_semaphore_acquire(s, timeout_ms, token);
}

static int rt_release(void *s)
{
    return zkf_semaphore_release(s);
}

static zkf_lock_state_t rt_state(const void *s)
{
    return zkf_semaphore_state(s);
}

static int rt_token(const void *s, uint64_t *token)
{
    return zkf_semaphore_token(s, token);
}

static void rt_destroy(void *s)
{
    zkf_semaphore_destroy(s);
}

static const rt_recipe_t sem_recipe = {rt_create, rt_acquire, rt_release,
                                       rt_state,  rt_token,   rt_destroy};

static void run_holder_fault(int pause)
{
    rt_holder_fault(&sem_recipe, pause ? "sem-paused" : "sem-killed", pause);
}

static void test_holder_killed(void)
{
    run_holder_fault(0);
}

static void test_holder_paused(void)
{
    run_holder_fault(1);
}

/* The listing of leases, and node names. */
static void test_leases_listing(void)
{
    char path[128], name[128];
    zt_path(path, sizeof(path), "sem-list");
    zkf_client_t *c = zt_client(RT_SESSION_MS);
    CU_ASSERT_FATAL(c != NULL);
    zkf_semaphore_t *a = sem_new(c, path, 2, NULL), *b = sem_new(c, path, 2, NULL);
    uint64_t ta, tb;
    CU_ASSERT_EQUAL(zkf_semaphore_node(a, name, sizeof(name)), ZKF_ENOTHELD);
    CU_ASSERT_FATAL(zkf_semaphore_acquire(a, 5000, &ta) == 0);
    CU_ASSERT_FATAL(zkf_semaphore_acquire(b, 5000, &tb) == 0);
    CU_ASSERT_EQUAL(zkf_semaphore_node(a, name, sizeof(name)), 0);
    CU_ASSERT_EQUAL(strncmp(name, "lease-", 6), 0);
    zkf_contender_t *list;
    size_t n;
    CU_ASSERT_EQUAL_FATAL(zkf_semaphore_leases(c, path, &list, &n), 0);
    CU_ASSERT_EQUAL_FATAL(n, 2);
    CU_ASSERT_STRING_EQUAL(list[0].node, name);
    CU_ASSERT_EQUAL(list[0].token, ta);
    CU_ASSERT_EQUAL(list[1].token, tb);
    CU_ASSERT_EQUAL(list[0].owner, zkf_client_session_id(c));
    zkf_contenders_free(list, n);
    CU_ASSERT_STRING_EQUAL(zkf_semaphore_path(a), path);
    zkf_semaphore_destroy(a);
    zkf_semaphore_destroy(b);
    CU_ASSERT(ZT_WAIT_UNTIL(lease_nodes(c, path) == 0, rt_deadline(c)));
    CU_ASSERT_EQUAL(zkf_client_destroy(c), 0);
}

int main(void)
{
    zt_hosts();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("semaphore", NULL, NULL);
    CU_add_test(s, "at most N: threads on 2 sessions + processes", test_at_most_n);
    CU_add_test(s, "N at once, then FIFO", test_n_then_fifo);
    CU_add_test(s, "N stored with the semaphore, another N refused", test_limit_stored_and_checked);
    CU_add_test(s, "try, timeout, cancel leave no node, no watch", test_give_up_leaves_nothing);
    CU_add_test(s, "lost replies to both creates", test_lost_create_replies);
    CU_add_test(s, "connection loss suspends, reconnect resumes", test_connection_loss);
    CU_add_test(s, "session expiry", test_session_expiry);
    CU_add_test(s, "holder process killed", test_holder_killed);
    CU_add_test(s, "holder paused past its session", test_holder_paused);
    CU_add_test(s, "leases listing and node names", test_leases_listing);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
