/* The read/write lock against a real ZooKeeper: readers overlap, a writer
 * excludes everyone, under contention from threads and processes; FIFO
 * across both kinds (writers do not starve); the handoff shortcuts only
 * where they are sound; try, timeout and cancel leave no node and no
 * watch; and the faults the lock has (lost reply to a create, connection
 * loss, session expiry, a holder crashed or paused). */
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "recipes_support.h"

#define READ ZKF_RWLOCK_READ
#define WRITE ZKF_RWLOCK_WRITE

static void on_acquired(zkf_rwlock_t *rw, int status, uint64_t token, void *arg)
{
    rt_result_set(arg, status, token);
}

static void on_event(zkf_rwlock_t *rw, zkf_lock_state_t st, uint64_t token, void *arg)
{
    rt_event(arg, (int)st, token);
}

static zkf_rwlock_t *rw_new(zkf_client_t *c, const char *path, rt_events_t *ev)
{
    zkf_rwlock_options_t o;
    zkf_rwlock_options_init(&o);
    o.event_cb = ev ? on_event : NULL;
    o.event_arg = ev;
    zkf_rwlock_t *rw = NULL;
    if (zkf_rwlock_create(c, path, &o, &rw) != 0)
        return NULL;
    return rw;
}

/* Queues an async acquisition and waits until its node is on the server
 * (n nodes in all), so that queue order is known. */
static void queue(zkf_client_t *obs, const char *path, zkf_rwlock_t *rw, int mode, rt_result_t *r,
                  int n)
{
    CU_ASSERT_EQUAL_FATAL(zkf_rwlock_acquire_async(rw, mode, -1, on_acquired, r), 0);
    CU_ASSERT_FATAL(ZT_WAIT_UNTIL(rt_children(obs, path, NULL) == n, rt_deadline(obs)));
}

/* ---------------------------------------------------------------- */
/* Contention: threads on two sessions, and processes                */

typedef struct shared {
    rt_shared_t rt;
    atomic_ullong last_write;  /* token of the latest write holding */
    atomic_ullong max_granted; /* highest token of any holding so far */
} shared_t;

static void holding(shared_t *sh, int mode, uint64_t token)
{
    if (mode == WRITE) {
        if (atomic_fetch_add(&sh->rt.writers, 1) != 0 || atomic_load(&sh->rt.readers) != 0)
            atomic_fetch_add(&sh->rt.violations, 1);
        if (token <= atomic_load(&sh->max_granted)) /* above every holding before it */
            atomic_fetch_add(&sh->rt.token_regressions, 1);
        atomic_store(&sh->last_write, token);
    } else {
        rt_max(&sh->rt.max_readers, atomic_fetch_add(&sh->rt.readers, 1) + 1);
        if (atomic_load(&sh->rt.writers) != 0)
            atomic_fetch_add(&sh->rt.violations, 1);
        if (token <= atomic_load(&sh->last_write)) /* above every write before it */
            atomic_fetch_add(&sh->rt.token_regressions, 1);
    }
    unsigned long long cur = atomic_load(&sh->max_granted);
    while (token > cur && !atomic_compare_exchange_weak(&sh->max_granted, &cur, token))
        ;
    rt_linger();
    if (mode == WRITE)
        atomic_fetch_sub(&sh->rt.writers, 1);
    else
        atomic_fetch_sub(&sh->rt.readers, 1);
    atomic_fetch_add(&sh->rt.acquisitions, 1);
}

typedef struct worker {
    shared_t *sh;
    zkf_client_t *c;
    const char *path;
    int rounds;
    int id;
} worker_t;

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    zkf_rwlock_t *rw = rw_new(w->c, w->path, NULL);
    if (rw == NULL) {
        atomic_fetch_add(&w->sh->rt.errors, 1);
        return NULL;
    }
    for (int i = 0; i < w->rounds; i++) {
        /* One writer in four, varying per worker and round. */
        int mode = (i + w->id) % 4 == 0 ? WRITE : READ;
        uint64_t token;
        int rc = zkf_rwlock_acquire(rw, mode, 10 * rt_deadline(w->c), &token);
        if (rc != 0) {
            fprintf(stderr, "acquire: %s\n", zkf_strerror(rc));
            atomic_fetch_add(&w->sh->rt.errors, 1);
            continue;
        }
        if (zkf_rwlock_mode(rw) != mode)
            atomic_fetch_add(&w->sh->rt.errors, 1);
        holding(w->sh, mode, token);
        if (zkf_rwlock_release(rw) != 0)
            atomic_fetch_add(&w->sh->rt.errors, 1);
    }
    zkf_rwlock_destroy(rw);
    return NULL;
}

static void test_contention(void)
{
    enum { THREADS = 8, PROCS = 3, ROUNDS = 12 };
    char path[128];
    zt_path(path, sizeof(path), "rw-contention");
    shared_t *sh =
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
            worker_t w = {sh, c, path, ROUNDS, 100 + p};
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
        w[i] = (worker_t){sh, i % 2 ? c2 : c1, path, ROUNDS, i};
        pthread_create(&th[i], NULL, worker_main, &w[i]);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    for (int p = 0; p < PROCS; p++) {
        int st;
        CU_ASSERT_EQUAL(waitpid(pids[p], &st, 0), pids[p]);
        CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    fprintf(stderr, "  (most readers at once: %d) ", atomic_load(&sh->rt.max_readers));
    CU_ASSERT_EQUAL(atomic_load(&sh->rt.errors), 0);
    CU_ASSERT_EQUAL(atomic_load(&sh->rt.violations), 0);
    CU_ASSERT_EQUAL(atomic_load(&sh->rt.token_regressions), 0);
    CU_ASSERT_EQUAL(atomic_load(&sh->rt.acquisitions), (long)(THREADS + PROCS) * ROUNDS);
    CU_ASSERT(ZT_WAIT_UNTIL(rt_children(c1, path, NULL) == 0, rt_deadline(c1)));
    zkf_client_destroy(c1);
    zkf_client_destroy(c2);
    munmap(sh, sizeof(*sh));
}

/* Readers overlap; a writer waits for them and excludes them; try-lock. */
static void test_readers_share_writer_excludes(void)
{
    char path[128];
    zt_path(path, sizeof(path), "rw-share");
    zkf_client_t *c = zt_client(RT_SESSION_MS), *d = zt_client(RT_SESSION_MS);
    CU_ASSERT_FATAL(c && d);
    zkf_rwlock_t *r1 = rw_new(c, path, NULL), *r2 = rw_new(d, path, NULL),
                 *w = rw_new(d, path, NULL);
    uint64_t t1, t2, tw;
    CU_ASSERT_EQUAL_FATAL(zkf_rwlock_acquire(r1, READ, 0, &t1), 0);
    CU_ASSERT_EQUAL_FATAL(zkf_rwlock_acquire(r2, READ, 0, &t2), 0); /* at once: shared */
    CU_ASSERT(t2 > t1);
    CU_ASSERT_EQUAL(zkf_rwlock_mode(r2), READ);
    CU_ASSERT_EQUAL(zkf_rwlock_acquire(w, WRITE, 0, &tw), ZKF_EBUSY);
    CU_ASSERT_EQUAL(zkf_rwlock_state(w), ZKF_LOCK_UNLOCKED);
    CU_ASSERT_EQUAL(zkf_rwlock_mode(w), -1);
    CU_ASSERT_EQUAL(rt_children(c, path, NULL), 2);                   /* the try left nothing */
    CU_ASSERT_EQUAL(zkf_rwlock_acquire(r1, READ, 0, &t1), ZKF_EBUSY); /* one holding per object */
    CU_ASSERT_EQUAL(zkf_rwlock_release(r1), 0);
    CU_ASSERT_EQUAL(zkf_rwlock_release(r2), 0);
    CU_ASSERT_FATAL(ZT_WAIT_UNTIL(rt_children(d, path, NULL) == 0, rt_deadline(d)));
    CU_ASSERT_EQUAL_FATAL(zkf_rwlock_acquire(w, WRITE, 0, &tw), 0);
    CU_ASSERT(tw > t2);
    CU_ASSERT_EQUAL(zkf_rwlock_acquire(r1, READ, 0, &t1), ZKF_EBUSY);
    CU_ASSERT_EQUAL(zkf_rwlock_release(w), 0);
    CU_ASSERT_EQUAL(zkf_rwlock_release(w), ZKF_ENOTHELD);
    CU_ASSERT_EQUAL(zkf_rwlock_acquire(w, 7, 0, &tw), ZKF_EINVAL);
    zkf_rwlock_destroy(r1);
    zkf_rwlock_destroy(r2);
    zkf_rwlock_destroy(w);
    zkf_client_destroy(c);
    zkf_client_destroy(d);
}

/* FIFO across kinds. A writer holds; then queue R1, W2, R3, R4. On the
 * writer's release R1 reads, R3 and R4 do not (W2 is before them); W2
 * writes after R1; then R3 and R4 read together. A reader coming while
 * readers hold and a writer waits queues behind the writer. */
static void test_fifo_no_starvation(void)
{
    char path[128];
    zt_path(path, sizeof(path), "rw-fifo");
    zkf_client_t *c = zt_client(RT_SESSION_MS);
    CU_ASSERT_FATAL(c != NULL);
    zkf_rwlock_t *w0 = rw_new(c, path, NULL), *r1 = rw_new(c, path, NULL),
                 *w2 = rw_new(c, path, NULL), *r3 = rw_new(c, path, NULL),
                 *r4 = rw_new(c, path, NULL), *late = rw_new(c, path, NULL);
    uint64_t t0;
    CU_ASSERT_EQUAL_FATAL(zkf_rwlock_acquire(w0, WRITE, 5000, &t0), 0);
    rt_result_t a1 = RT_RESULT_INIT, a2 = RT_RESULT_INIT, a3 = RT_RESULT_INIT, a4 = RT_RESULT_INIT;
    queue(c, path, r1, READ, &a1, 2);
    queue(c, path, w2, WRITE, &a2, 3);
    queue(c, path, r3, READ, &a3, 4);
    queue(c, path, r4, READ, &a4, 5);
    int dl = rt_deadline(c);
    CU_ASSERT_EQUAL(zkf_rwlock_release(w0), 0);
    CU_ASSERT_FATAL(rt_result_wait(&a1, dl) == 1);
    CU_ASSERT_EQUAL(a1.status, 0);
    CU_ASSERT(a1.token > t0);
    /* The writer queued before R3 and R4 keeps them out. */
    CU_ASSERT_EQUAL(zkf_rwlock_acquire(late, READ, 0, NULL), ZKF_EBUSY);
    CU_ASSERT_EQUAL(rt_calls(&a2) + rt_calls(&a3) + rt_calls(&a4), 0);
    CU_ASSERT_EQUAL(zkf_rwlock_release(r1), 0);
    CU_ASSERT_FATAL(rt_result_wait(&a2, dl) == 1);
    CU_ASSERT_EQUAL(a2.status, 0);
    CU_ASSERT(a2.token > a1.token);
    CU_ASSERT_EQUAL(rt_calls(&a3) + rt_calls(&a4), 0);
    CU_ASSERT_EQUAL(zkf_rwlock_release(w2), 0);
    CU_ASSERT_FATAL(rt_result_wait(&a3, dl) == 1 && rt_result_wait(&a4, dl) == 1);
    CU_ASSERT(a3.status == 0 && a4.status == 0);
    CU_ASSERT(a3.token > a2.token && a4.token > a3.token);
    CU_ASSERT_EQUAL(zkf_rwlock_state(r3), ZKF_LOCK_HELD);
    CU_ASSERT_EQUAL(zkf_rwlock_state(r4), ZKF_LOCK_HELD); /* together */
    CU_ASSERT_EQUAL(zkf_rwlock_release(r3), 0);
    CU_ASSERT_EQUAL(zkf_rwlock_release(r4), 0);
    zkf_rwlock_t *objs[] = {w0, r1, w2, r3, r4, late};
    for (size_t i = 0; i < 6; i++)
        zkf_rwlock_destroy(objs[i]);
    CU_ASSERT(ZT_WAIT_UNTIL(rt_children(c, path, NULL) == 0, dl));
    zkf_client_destroy(c);
}

/* The release mark of a reader does not let a writer in while another
 * reader still holds: R1 and R2 read, W3 waits for R2. R2 releases (a
 * marked deletion): W3 must list again and keep waiting for R1. */
static void test_reader_release_is_not_a_handoff(void)
{
    char path[128];
    zt_path(path, sizeof(path), "rw-mark");
    zkf_client_t *c = zt_client(RT_SESSION_MS);
    CU_ASSERT_FATAL(c != NULL);
    zkf_rwlock_t *r1 = rw_new(c, path, NULL), *r2 = rw_new(c, path, NULL),
                 *w3 = rw_new(c, path, NULL);
    CU_ASSERT_EQUAL_FATAL(zkf_rwlock_acquire(r1, READ, 5000, NULL), 0);
    CU_ASSERT_EQUAL_FATAL(zkf_rwlock_acquire(r2, READ, 5000, NULL), 0);
    rt_result_t a3 = RT_RESULT_INIT;
    queue(c, path, w3, WRITE, &a3, 3);
    CU_ASSERT_FATAL(ZT_WAIT_UNTIL(rt_watches(c) == 2, RT_QUICK_MS)); /* R2's node and its own */
    CU_ASSERT_EQUAL(zkf_rwlock_release(r2), 0);
    /* W3 lists again and now waits for R1 (two watches again). */
    CU_ASSERT_FATAL(
        ZT_WAIT_UNTIL(rt_children(c, path, NULL) == 2 && rt_watches(c) == 2, rt_deadline(c)));
    CU_ASSERT_EQUAL(zkf_rwlock_state(w3), ZKF_LOCK_WAITING);
    CU_ASSERT_EQUAL(rt_calls(&a3), 0);
    CU_ASSERT_EQUAL(zkf_rwlock_release(r1), 0);
    CU_ASSERT_FATAL(rt_result_wait(&a3, rt_deadline(c)) == 1);
    CU_ASSERT_EQUAL(a3.status, 0);
    CU_ASSERT_EQUAL(zkf_rwlock_release(w3), 0);
    zkf_rwlock_destroy(r1);
    zkf_rwlock_destroy(r2);
    zkf_rwlock_destroy(w3);
    zkf_client_destroy(c);
}

/* A waiting writer gives up (cancel) between readers: the reader behind it,
 * which watched it, lists again and reads at once beside the holder. Then
 * a timeout, blocking and async: no node and no watch are left. */
static void test_waiter_gives_up(void)
{
    char path[128];
    zt_path(path, sizeof(path), "rw-quit");
    zkf_client_t *c = zt_client(RT_SESSION_MS), *d = zt_client(RT_SESSION_MS);
    CU_ASSERT_FATAL(c && d);
    zkf_rwlock_t *r1 = rw_new(c, path, NULL), *w2 = rw_new(d, path, NULL),
                 *r3 = rw_new(c, path, NULL);
    CU_ASSERT_EQUAL_FATAL(zkf_rwlock_acquire(r1, READ, 5000, NULL), 0);
    rt_result_t a2 = RT_RESULT_INIT, a3 = RT_RESULT_INIT;
    queue(c, path, w2, WRITE, &a2, 2);
    queue(c, path, r3, READ, &a3, 3);
    int dl = rt_deadline(c);
    CU_ASSERT_FATAL(ZT_WAIT_UNTIL(rt_watches(c) == 2 && rt_watches(d) == 2, dl));
    CU_ASSERT_EQUAL(zkf_rwlock_cancel(w2), 0);
    CU_ASSERT_FATAL(rt_result_wait(&a2, dl) == 1);
    CU_ASSERT_EQUAL(a2.status, ZKF_ECANCELED);
    CU_ASSERT_EQUAL(zkf_rwlock_state(w2), ZKF_LOCK_UNLOCKED);
    CU_ASSERT(ZT_WAIT_UNTIL(rt_watches(d) == 0, dl));
    CU_ASSERT_FATAL(rt_result_wait(&a3, dl) == 1);
    CU_ASSERT_EQUAL(a3.status, 0);
    CU_ASSERT_EQUAL(zkf_rwlock_cancel(w2), ZKF_ENOTHELD);

    /* A writer times out behind the two readers: blocking, then async. */
    int64_t t0 = zt_now_ms();
    CU_ASSERT_EQUAL(zkf_rwlock_acquire(w2, WRITE, 300, NULL), ZKF_ETIMEDOUT);
    CU_ASSERT(zt_now_ms() - t0 >= 300);
    CU_ASSERT_EQUAL(rt_children(d, path, NULL), 2);
    CU_ASSERT(ZT_WAIT_UNTIL(rt_watches(d) == 0, dl));
    rt_result_t at = RT_RESULT_INIT;
    CU_ASSERT_EQUAL_FATAL(zkf_rwlock_acquire_async(w2, WRITE, 200, on_acquired, &at), 0);
    CU_ASSERT_FATAL(rt_result_wait(&at, dl) == 1);
    CU_ASSERT_EQUAL(at.status, ZKF_ETIMEDOUT);
    CU_ASSERT(ZT_WAIT_UNTIL(rt_watches(d) == 0, dl));
    CU_ASSERT_EQUAL(rt_children(d, path, NULL), 2);
    /* A release then reaches nobody on d: its callback was called once. */
    CU_ASSERT_EQUAL(zkf_rwlock_release(r1), 0);
    CU_ASSERT_EQUAL(zkf_rwlock_release(r3), 0);
    CU_ASSERT(ZT_WAIT_UNTIL(rt_children(d, path, NULL) == 0, dl));
    CU_ASSERT_EQUAL(rt_calls(&at), 1);
    zkf_rwlock_destroy(r1);
    zkf_rwlock_destroy(w2);
    zkf_rwlock_destroy(r3);
    zkf_client_destroy(c);
    zkf_client_destroy(d);
}

/* ---------------------------------------------------------------- */
/* Faults                                                            */

/* A lost reply to the create: the node is found again by its GUID, one
 * node only; and while readers hold, a writer's lost reply too. */
static void test_lost_create_reply(void)
{
    char path[128];
    zt_path(path, sizeof(path), "rw-lostreply");
    zkrelay_t *r = rt_relay();
    CU_ASSERT_FATAL(r != NULL);
    zkf_client_t *c = rt_client_via(r, RT_SESSION_MS), *d = zt_client(RT_SESSION_MS);
    CU_ASSERT_FATAL(c && d);
    zkf_rwlock_t *holder = rw_new(d, path, NULL), *rw = rw_new(c, path, NULL);
    CU_ASSERT_FATAL(zkf_rwlock_acquire(holder, READ, 5000, NULL) == 0); /* makes the path */
    int conns = zkrelay_connections(r);
    zkrelay_drop_after_create(r, 1);
    uint64_t token;
    CU_ASSERT_EQUAL_FATAL(zkf_rwlock_acquire(rw, READ, rt_deadline(c), &token), 0);
    CU_ASSERT(zkrelay_connections(r) > conns);   /* the fault did hit */
    CU_ASSERT_EQUAL(zkrelay_creates_seen(r), 1); /* found by GUID, not made again */
    CU_ASSERT_EQUAL(rt_children(d, path, "read-"), 2);
    CU_ASSERT_EQUAL(zkf_rwlock_release(rw), 0);

    /* A writer behind the reader, its reply lost: one node, and it gets
     * the lock when the reader goes. */
    zkrelay_drop_after_create(r, 1);
    rt_result_t a = RT_RESULT_INIT;
    CU_ASSERT_EQUAL_FATAL(zkf_rwlock_acquire_async(rw, WRITE, -1, on_acquired, &a), 0);
    CU_ASSERT_FATAL(
        ZT_WAIT_UNTIL(zkrelay_creates_seen(r) == 2 && rt_watches(c) == 2, rt_deadline(c)));
    CU_ASSERT_EQUAL(rt_children(d, path, NULL), 2);
    CU_ASSERT_EQUAL(zkf_rwlock_release(holder), 0);
    CU_ASSERT_FATAL(rt_result_wait(&a, rt_deadline(c)) == 1);
    CU_ASSERT_EQUAL(a.status, 0);
    CU_ASSERT_EQUAL(rt_children(d, path, NULL), 1);
    CU_ASSERT_EQUAL(zkf_rwlock_release(rw), 0);
    zkf_rwlock_destroy(holder);
    zkf_rwlock_destroy(rw);
    zkf_client_destroy(c);
    zkf_client_destroy(d);
    zkrelay_stop(r);
}

/* Connection loss while holding a write: SUSPENDED, then HELD with the
 * same token on the same session; a waiting reader keeps its place. */
static void test_connection_loss(void)
{
    char path[128];
    zt_path(path, sizeof(path), "rw-connloss");
    zkrelay_t *r = rt_relay();
    CU_ASSERT_FATAL(r != NULL);
    zkf_client_t *c = rt_client_via(r, RT_SESSION_MS), *d = zt_client(RT_SESSION_MS);
    CU_ASSERT_FATAL(c && d);
    rt_events_t ev = RT_EVENTS_INIT;
    zkf_rwlock_t *w = rw_new(c, path, &ev), *rd = rw_new(d, path, NULL);
    uint64_t t1, t2;
    CU_ASSERT_FATAL(zkf_rwlock_acquire(w, WRITE, 5000, &t1) == 0);
    rt_result_t a = RT_RESULT_INIT;
    queue(d, path, rd, READ, &a, 2);
    int64_t sid = zkf_client_session_id(c);
    int dl = rt_deadline(c);
    zkrelay_set_blackhole(r, 1);
    CU_ASSERT(ZT_WAIT_UNTIL(rt_count(&ev, ZKF_LOCK_SUSPENDED) == 1, dl));
    CU_ASSERT_EQUAL(zkf_rwlock_state(w), ZKF_LOCK_SUSPENDED);
    CU_ASSERT_EQUAL(zkf_rwlock_token(w, &t2), ZKF_ECONNLOSS);
    zkrelay_set_blackhole(r, 0);
    CU_ASSERT(ZT_WAIT_UNTIL(rt_last_is(&ev, ZKF_LOCK_HELD, t1), dl));
    CU_ASSERT_EQUAL(zkf_rwlock_token(w, &t2), 0);
    CU_ASSERT_EQUAL(t1, t2);
    CU_ASSERT_EQUAL(zkf_client_session_id(c), sid);
    CU_ASSERT_EQUAL(rt_calls(&a), 0);
    CU_ASSERT_EQUAL(zkf_rwlock_release(w), 0);
    CU_ASSERT_FATAL(rt_result_wait(&a, dl) == 1);
    CU_ASSERT_EQUAL(a.status, 0);
    CU_ASSERT(a.token > t1);
    CU_ASSERT_EQUAL(zkf_rwlock_release(rd), 0);
    zkf_rwlock_destroy(w);
    zkf_rwlock_destroy(rd);
    zkf_client_destroy(c);
    zkf_client_destroy(d);
    zkrelay_stop(r);
}

/* The server expires the session (closed through a second handle while
 * ours is cut off): the read holding is LOST at once, a waiting writer of
 * the same session fails, the writer of another session gets in. */
static void test_session_expiry(void)
{
    char path[128];
    zt_path(path, sizeof(path), "rw-expiry");
    zkrelay_t *r = rt_relay();
    CU_ASSERT_FATAL(r != NULL);
    zkf_client_t *c = rt_client_via(r, RT_SESSION_MS), *d = zt_client(RT_SESSION_MS);
    CU_ASSERT_FATAL(c && d);
    rt_events_t ev = RT_EVENTS_INIT;
    zkf_rwlock_t *rd = rw_new(c, path, &ev), *blocker = rw_new(d, path, NULL),
                 *cw = rw_new(c, path, NULL), *dw = rw_new(d, path, NULL);
    uint64_t t1, tmp;
    CU_ASSERT_FATAL(zkf_rwlock_acquire(rd, READ, 5000, &t1) == 0);
    CU_ASSERT_FATAL(zkf_rwlock_acquire(blocker, READ, 5000, NULL) == 0);
    rt_result_t ac = RT_RESULT_INIT, ad = RT_RESULT_INIT;
    queue(d, path, cw, WRITE, &ac, 3);
    queue(d, path, dw, WRITE, &ad, 4);
    int dl = rt_deadline(c);
    zkrelay_set_blackhole(r, 1);
    CU_ASSERT_FATAL(ZT_WAIT_UNTIL(zkf_client_state(c) == ZKF_CLIENT_SUSPENDED, dl));
    CU_ASSERT_EQUAL_FATAL(zt_expire_session(c), 0);
    zkrelay_set_blackhole(r, 0);
    CU_ASSERT(ZT_WAIT_UNTIL(rt_last_is(&ev, ZKF_LOCK_LOST, t1), dl));
    CU_ASSERT_EQUAL(zkf_rwlock_state(rd), ZKF_LOCK_LOST);
    CU_ASSERT_EQUAL(zkf_rwlock_token(rd, &tmp), ZKF_ELOCKLOST);
    CU_ASSERT_FATAL(rt_result_wait(&ac, dl) == 1);
    CU_ASSERT_EQUAL(ac.status, ZKF_ESESSIONEXPIRED);
    /* The server removed c's nodes: once the other reader goes, d writes. */
    CU_ASSERT_EQUAL(zkf_rwlock_release(blocker), 0);
    CU_ASSERT_FATAL(rt_result_wait(&ad, dl) == 1);
    CU_ASSERT_EQUAL(ad.status, 0);
    CU_ASSERT(ad.token > t1);
    CU_ASSERT_EQUAL(zkf_rwlock_release(rd), ZKF_ELOCKLOST);
    CU_ASSERT_EQUAL(zkf_rwlock_release(dw), 0);
    CU_ASSERT(ZT_WAIT_UNTIL(zkf_client_state(c) == ZKF_CLIENT_CONNECTED, dl));
    CU_ASSERT_EQUAL(zkf_rwlock_acquire(rd, WRITE, dl, &tmp), 0); /* usable again */
    CU_ASSERT(tmp > ad.token);
    CU_ASSERT_EQUAL(zkf_rwlock_release(rd), 0);
    zkf_rwlock_t *objs[] = {rd, blocker, cw, dw};
    for (size_t i = 0; i < 4; i++)
        zkf_rwlock_destroy(objs[i]);
    zkf_client_destroy(c);
    zkf_client_destroy(d);
    zkrelay_stop(r);
}

/* A holder crashed or paused: the child holds for writing, its successor
 * reads (rt_holder_fault). */
static void *rt_create(zkf_client_t *c, const char *path, rt_events_t *ev)
{
    return rw_new(c, path, ev);
}

static int rt_acquire(void *rw, int first, int timeout_ms, uint64_t *token)
{
    return zkf_rwlock_acquire(rw, first ? WRITE : READ, timeout_ms, token);
}

static int rt_release(void *rw)
{
    return zkf_rwlock_release(rw);
}

static zkf_lock_state_t rt_state(const void *rw)
{
    return zkf_rwlock_state(rw);
}

static int rt_token(const void *rw, uint64_t *token)
{
    return zkf_rwlock_token(rw, token);
}

static void rt_destroy(void *rw)
{
    zkf_rwlock_destroy(rw);
}

static const rt_recipe_t rw_recipe = {rt_create, rt_acquire, rt_release,
                                      rt_state,  rt_token,   rt_destroy};

static void run_holder_fault(int pause)
{
    rt_holder_fault(&rw_recipe, pause ? "rw-paused" : "rw-killed", pause);
}

static void test_holder_killed(void)
{
    run_holder_fault(0);
}

static void test_holder_paused(void)
{
    run_holder_fault(1);
}

/* The listing, and the node names. */
static void test_contenders(void)
{
    char path[128], name[128];
    zt_path(path, sizeof(path), "rw-list");
    zkf_client_t *c = zt_client(RT_SESSION_MS);
    CU_ASSERT_FATAL(c != NULL);
    zkf_rwlock_t *a = rw_new(c, path, NULL), *b = rw_new(c, path, NULL);
    CU_ASSERT_FATAL(zkf_rwlock_acquire(a, READ, 5000, NULL) == 0);
    rt_result_t rb = RT_RESULT_INIT;
    queue(c, path, b, WRITE, &rb, 2);
    CU_ASSERT_EQUAL(zkf_rwlock_node(a, name, sizeof(name)), 0);
    CU_ASSERT_EQUAL(strncmp(name, "read-", 5), 0);
    CU_ASSERT_EQUAL(zkf_rwlock_node(a, name, 4), ZKF_EINVAL);
    zkf_contender_t *list;
    size_t n;
    CU_ASSERT_EQUAL_FATAL(zkf_rwlock_contenders(c, path, &list, &n), 0);
    CU_ASSERT_EQUAL_FATAL(n, 2);
    CU_ASSERT_STRING_EQUAL(list[0].node, name);
    CU_ASSERT_EQUAL(strncmp(list[1].node, "write-", 6), 0);
    CU_ASSERT(list[1].token > list[0].token);
    zkf_contenders_free(list, n);
    CU_ASSERT_EQUAL(zt_contenders(c, path), 0); /* not a lock's nodes */
    CU_ASSERT_STRING_EQUAL(zkf_rwlock_path(a), path);
    zkf_rwlock_destroy(a); /* releases: b writes */
    CU_ASSERT_FATAL(rt_result_wait(&rb, rt_deadline(c)) == 1);
    CU_ASSERT_EQUAL(rb.status, 0);
    zkf_rwlock_destroy(b);
    CU_ASSERT(ZT_WAIT_UNTIL(rt_children(c, path, NULL) == 0, rt_deadline(c)));
    CU_ASSERT_EQUAL(zkf_client_destroy(c), 0);
}

int main(void)
{
    zt_hosts();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("rwlock", NULL, NULL);
    CU_add_test(s, "contention: threads on 2 sessions + processes", test_contention);
    CU_add_test(s, "readers share, a writer excludes, try", test_readers_share_writer_excludes);
    CU_add_test(s, "FIFO across kinds: writers do not starve", test_fifo_no_starvation);
    CU_add_test(s, "a reader's release is not a writer's handoff",
                test_reader_release_is_not_a_handoff);
    CU_add_test(s, "waiter gives up: cancel, timeout", test_waiter_gives_up);
    CU_add_test(s, "lost reply to create", test_lost_create_reply);
    CU_add_test(s, "connection loss suspends, reconnect resumes", test_connection_loss);
    CU_add_test(s, "session expiry", test_session_expiry);
    CU_add_test(s, "holder process killed", test_holder_killed);
    CU_add_test(s, "holder paused past its session", test_holder_paused);
    CU_add_test(s, "contenders and node names", test_contenders);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
