/* The exclusive lock against a real ZooKeeper: mutual exclusion, order,
 * try-lock, timeouts, cancellation, crashes, expiry, foreign children. The
 * network faults (lost create reply, connection loss) are in fault_test.c. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <zookeeper/zookeeper.h>

#include "internal.h"
#include "zkf_test.h"

#define SESSION_MS ZT_SESSION_MS /* ordinary tests: no accidental expiry (zkf_test.h) */
#define SHORT_SESSION_MS 1000    /* tests of expiry */

/* ---------------------------------------------------------------- */
/* 1. Mutual exclusion: threads on two sessions, plus processes.     */

typedef struct shared {
    atomic_int in_cs;
    atomic_int overlaps;
    long counter; /* read-modify-written inside the critical section only */
    uint64_t last_token;
    atomic_int token_regressions;
    atomic_int errors;
    atomic_long acquisitions;
} shared_t;

typedef struct worker {
    shared_t *sh;
    zkf_client_t *client;
    const char *path;
    int rounds;
} worker_t;

static void critical_section(shared_t *sh, uint64_t token)
{
    if (atomic_exchange(&sh->in_cs, 1) != 0)
        atomic_fetch_add(&sh->overlaps, 1);
    if (token <= sh->last_token)
        atomic_fetch_add(&sh->token_regressions, 1);
    sh->last_token = token;
    long v = sh->counter;
    sched_yield(); /* widen the window a lost update would need */
    sh->counter = v + 1;
    atomic_fetch_add(&sh->acquisitions, 1);
    atomic_store(&sh->in_cs, 0);
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    zkf_lock_t *l;
    if (zkf_lock_create(w->client, w->path, NULL, &l) != 0) {
        atomic_fetch_add(&w->sh->errors, 1);
        return NULL;
    }
    for (int i = 0; i < w->rounds; i++) {
        uint64_t token = 0;
        /* FIFO: at most every other worker's turn comes first. */
        int rc = zkf_lock_acquire(l, zt_expiry_ms(SESSION_MS), &token);
        if (rc != 0) {
            fprintf(stderr, "acquire: %s\n", zkf_strerror(rc));
            atomic_fetch_add(&w->sh->errors, 1);
            continue;
        }
        critical_section(w->sh, token);
        if (zkf_lock_release(l) != 0)
            atomic_fetch_add(&w->sh->errors, 1);
    }
    zkf_lock_destroy(l);
    return NULL;
}

static void test_mutual_exclusion(void)
{
    enum { THREADS = 8, PROCS = 3, ROUNDS = 15 };
    char path[128];
    zt_path(path, sizeof(path), "mutex");
    shared_t *sh =
        mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CU_ASSERT_FATAL(sh != MAP_FAILED);
    memset(sh, 0, sizeof(*sh));

    /* Processes first, while this process has no threads of its own. */
    pid_t pids[PROCS];
    for (int p = 0; p < PROCS; p++) {
        pids[p] = fork();
        CU_ASSERT_FATAL(pids[p] >= 0);
        if (pids[p] == 0) {
            zkf_client_t *c = zt_client(SESSION_MS);
            if (c == NULL)
                _exit(3);
            worker_t w = {sh, c, path, ROUNDS};
            worker_main(&w);
            zkf_client_destroy(c);
            _exit(0);
        }
    }

    zkf_client_t *c1 = zt_client(SESSION_MS), *c2 = zt_client(SESSION_MS);
    CU_ASSERT_FATAL(c1 && c2);
    CU_ASSERT_NOT_EQUAL(zkf_client_session_id(c1), zkf_client_session_id(c2));
    pthread_t th[THREADS];
    worker_t w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker_t){sh, i % 2 ? c2 : c1, path, ROUNDS};
        pthread_create(&th[i], NULL, worker_main, &w[i]);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    for (int p = 0; p < PROCS; p++) {
        int st;
        CU_ASSERT_EQUAL(waitpid(pids[p], &st, 0), pids[p]);
        CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }

    long expected = (long)(THREADS + PROCS) * ROUNDS;
    CU_ASSERT_EQUAL(atomic_load(&sh->errors), 0);
    CU_ASSERT_EQUAL(atomic_load(&sh->overlaps), 0);
    CU_ASSERT_EQUAL(atomic_load(&sh->token_regressions), 0);
    CU_ASSERT_EQUAL(sh->counter, expected); /* no lost update */
    CU_ASSERT_EQUAL(atomic_load(&sh->acquisitions), expected);
    /* A release sends its delete without waiting for it: the last ones of
     * c2's threads may still be on their way when c1 lists (seen under
     * load). c1's own are not: a session's requests are applied in order. */
    CU_ASSERT(ZT_WAIT_UNTIL(zt_contenders(c1, path) == 0, zt_soon_ms()));
    zkf_client_destroy(c1);
    zkf_client_destroy(c2);
    munmap(sh, sizeof(*sh));
}

/* ---------------------------------------------------------------- */
/* 2. FIFO order, and 8. a waiter in the middle gives up.            */

typedef struct order {
    pthread_mutex_t mu;
    int seq[16];
    uint64_t tokens[16];
    int n;
    atomic_int in_cs;
    atomic_int overlaps;
} order_t;

typedef struct waiter {
    order_t *ord;
    zkf_lock_t *lock;
    int id;
    int timeout_ms;
    int rc;
} waiter_t;

static void *waiter_main(void *arg)
{
    waiter_t *w = arg;
    uint64_t token;
    w->rc = zkf_lock_acquire(w->lock, w->timeout_ms, &token);
    if (w->rc != 0)
        return NULL;
    if (atomic_exchange(&w->ord->in_cs, 1))
        atomic_fetch_add(&w->ord->overlaps, 1);
    pthread_mutex_lock(&w->ord->mu);
    w->ord->tokens[w->ord->n] = token;
    w->ord->seq[w->ord->n++] = w->id;
    pthread_mutex_unlock(&w->ord->mu);
    atomic_store(&w->ord->in_cs, 0);
    zkf_lock_release(w->lock);
    return NULL;
}

/* Starts waiters one by one, each only once the previous one's node is
 * visible, so that queue order is known. Waiter `quitter` (or -1) is
 * cancelled before the holder lets go. */
static void run_queue(int n, int quitter)
{
    char path[128];
    zt_path(path, sizeof(path), quitter < 0 ? "fifo" : "quitter");
    zkf_client_t *c = zt_client(SESSION_MS);
    CU_ASSERT_FATAL(c != NULL);
    zkf_lock_t *holder;
    CU_ASSERT_FATAL(zkf_lock_create(c, path, NULL, &holder) == 0);
    uint64_t t0;
    CU_ASSERT_FATAL(zkf_lock_acquire(holder, zt_soon_ms(), &t0) == 0);

    order_t ord = {.mu = PTHREAD_MUTEX_INITIALIZER};
    waiter_t w[8];
    pthread_t th[8];
    for (int i = 0; i < n; i++) {
        w[i] = (waiter_t){&ord, NULL, i, zt_expiry_ms(SESSION_MS), -1};
        CU_ASSERT_FATAL(zkf_lock_create(c, path, NULL, &w[i].lock) == 0);
        pthread_create(&th[i], NULL, waiter_main, &w[i]);
        CU_ASSERT_FATAL(ZT_WAIT_UNTIL(zt_contenders(c, path) == (size_t)i + 2, zt_soon_ms()));
    }
    if (quitter >= 0) {
        CU_ASSERT_EQUAL(zkf_lock_cancel(w[quitter].lock), 0);
        pthread_join(th[quitter], NULL);
        CU_ASSERT_EQUAL(w[quitter].rc, ZKF_ECANCELED);
        CU_ASSERT_EQUAL(zt_contenders(c, path), (size_t)n); /* its node is gone */
    }
    CU_ASSERT_EQUAL(zkf_lock_release(holder), 0);
    for (int i = 0; i < n; i++)
        if (i != quitter)
            pthread_join(th[i], NULL);

    int expect = 0;
    CU_ASSERT_EQUAL(ord.n, quitter >= 0 ? n - 1 : n);
    for (int k = 0; k < ord.n; k++, expect++) {
        if (expect == quitter)
            expect++;
        CU_ASSERT_EQUAL(ord.seq[k], expect);
        CU_ASSERT(ord.tokens[k] > (k ? ord.tokens[k - 1] : t0));
    }
    CU_ASSERT_EQUAL(atomic_load(&ord.overlaps), 0);
    for (int i = 0; i < n; i++) {
        if (i != quitter)
            CU_ASSERT_EQUAL(w[i].rc, 0);
        zkf_lock_destroy(w[i].lock);
    }
    zkf_lock_destroy(holder);
    CU_ASSERT_EQUAL(zt_contenders(c, path), 0);
    zkf_client_destroy(c);
}

static void test_fifo(void)
{
    run_queue(5, -1);
}

static void test_waiter_gives_up(void)
{
    run_queue(4, 1);
}

/* ---------------------------------------------------------------- */
/* 3. try-lock, 4. timeout, 5. cancel                                */

/* Watches armed in the client's own table (white-box: the suite links the
 * library's internal archive). libzookeeper-mt 3.8.0's zoo_aremove_watches
 * sends checkWatches (opcode 17) instead of removeWatches (18), so the
 * server keeps a one-shot entry until the watched node changes; what must
 * hold is that our table is empty, so that no wake-up can come. */
static int client_watches(zkf_client_t *c)
{
    int n = 0;
    pthread_mutex_lock(&c->mu);
    for (zkf__watch_t *w = c->watches; w; w = w->next)
        n++;
    pthread_mutex_unlock(&c->mu);
    return n;
}

typedef struct events {
    pthread_mutex_t mu;
    int count;
    zkf_lock_state_t last;
    uint64_t last_token;
} events_t;

static void on_lock_event(zkf_lock_t *l, zkf_lock_state_t st, uint64_t token, void *arg)
{
    events_t *e = arg;
    pthread_mutex_lock(&e->mu);
    e->count++;
    e->last = st;
    e->last_token = token;
    pthread_mutex_unlock(&e->mu);
}

static int events_count(events_t *e)
{
    pthread_mutex_lock(&e->mu);
    int n = e->count;
    pthread_mutex_unlock(&e->mu);
    return n;
}

static int last_event_is(events_t *e, zkf_lock_state_t st, uint64_t token)
{
    pthread_mutex_lock(&e->mu);
    int is = e->count > 0 && e->last == st && e->last_token == token;
    pthread_mutex_unlock(&e->mu);
    return is;
}

static void test_try_lock(void)
{
    char path[128];
    zt_path(path, sizeof(path), "try");
    zkf_client_t *c1 = zt_client(SESSION_MS), *c2 = zt_client(SESSION_MS);
    CU_ASSERT_FATAL(c1 && c2);
    zkf_lock_t *a, *b;
    zkf_lock_create(c1, path, NULL, &a);
    zkf_lock_create(c2, path, NULL, &b);
    uint64_t ta, tb;
    CU_ASSERT_EQUAL_FATAL(zkf_lock_acquire(a, 0, &ta), 0); /* free: try succeeds */
    zt_lateness_t *late = zt_lateness_start();

    int64_t t0 = zt_now_ms();
    CU_ASSERT_EQUAL(zkf_lock_acquire(b, 0, &tb), ZKF_EBUSY);
    int64_t took = zt_now_ms() - t0;
    CU_ASSERT(took < 2000 + 2 * zt_lateness_stop(late)); /* one round trip, not a wait */
    CU_ASSERT_EQUAL(zkf_lock_state(b), ZKF_LOCK_UNLOCKED);
    CU_ASSERT_EQUAL(zkf_lock_token(b, &tb), ZKF_ENOTHELD);
    CU_ASSERT_EQUAL(zt_contenders(c1, path), 1); /* b left no node */
    CU_ASSERT_EQUAL(zkf_lock_release(a), 0);
    /* Release sends the delete without waiting; b's session sees it soon. */
    CU_ASSERT(ZT_WAIT_UNTIL(zt_contenders(c2, path) == 0, zt_soon_ms()));
    CU_ASSERT_EQUAL(zkf_lock_acquire(b, 0, &tb), 0);
    CU_ASSERT(tb > ta);
    CU_ASSERT_EQUAL(zkf_lock_release(b), 0);
    zkf_lock_destroy(a);
    zkf_lock_destroy(b);
    zkf_client_destroy(c1);
    zkf_client_destroy(c2);
}

typedef struct async_result {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int calls;
    int status;
    uint64_t token;
} async_result_t;

static void on_acquired(zkf_lock_t *l, int status, uint64_t token, void *arg)
{
    async_result_t *r = arg;
    pthread_mutex_lock(&r->mu);
    r->calls++;
    r->status = status;
    r->token = token;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static int async_wait(async_result_t *r, int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&r->mu);
    while (r->calls == 0 && pthread_cond_timedwait(&r->cv, &r->mu, &ts) == 0)
        ;
    int calls = r->calls;
    pthread_mutex_unlock(&r->mu);
    return calls;
}

/* A test watch of our own: set on a node through a session's handle, it
 * tells when that session has seen the node's deletion. */
typedef struct seen {
    pthread_mutex_t mu;
    int deleted;
} seen_t;

/* Any change of the node: a release arrives as "data changed" (the release
 * mark, set and deleted in one multi), other deletions as "deleted". */
static void seen_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    seen_t *s = ctx;
    if (type != ZOO_DELETED_EVENT && type != ZOO_CHANGED_EVENT)
        return;
    pthread_mutex_lock(&s->mu);
    s->deleted = 1;
    pthread_mutex_unlock(&s->mu);
}

static int seen_gone(seen_t *s)
{
    pthread_mutex_lock(&s->mu);
    int d = s->deleted;
    pthread_mutex_unlock(&s->mu);
    return d;
}

/* Whether the server lists a watch of `session` on a path starting with
 * `prefix` (four-letter word wchc: per session, the watched paths). -1 if
 * the server does not answer it. */
static int server_watches(int64_t session, const char *prefix)
{
    char *out = zt_four_letter(zt_hosts(), "wchc");
    if (out == NULL || strstr(out, "0x") == NULL) {
        free(out);
        return -1;
    }
    char hdr[32];
    snprintf(hdr, sizeof(hdr), "0x%" PRIx64, (uint64_t)session);
    int found = 0;
    char *sec = strstr(out, hdr);
    if (sec) {
        /* The session's block: tab-indented paths until the next "0x". */
        char *endp = strstr(sec + strlen(hdr), "\n0x");
        if (endp)
            *endp = '\0';
        for (char *q = strstr(sec, prefix); q; q = strstr(q + 1, prefix))
            if (q > sec && (q[-1] == '\t' || q[-1] == ' ')) {
                found = 1;
                break;
            }
    }
    free(out);
    return found;
}

/* 4. A timeout leaves no node and no watch: after the holder goes, nothing
 * reaches the timed-out object. */
static void test_timeout_leaves_nothing(void)
{
    char path[128], hnode[128], hpath[300];
    zt_path(path, sizeof(path), "timeout");
    zkf_client_t *c1 = zt_client(SESSION_MS), *c2 = zt_client(SESSION_MS);
    CU_ASSERT_FATAL(c1 && c2);
    zkf_lock_t *a, *b;
    events_t ev = {.mu = PTHREAD_MUTEX_INITIALIZER};
    zkf_lock_options_t o;
    zkf_lock_options_init(&o);
    o.event_cb = on_lock_event;
    o.event_arg = &ev;
    zkf_lock_create(c1, path, NULL, &a);
    zkf_lock_create(c2, path, &o, &b);
    CU_ASSERT_EQUAL_FATAL(zkf_lock_acquire(a, zt_soon_ms(), NULL), 0);
    CU_ASSERT_EQUAL_FATAL(zkf_lock_node(a, hnode, sizeof(hnode)), 0);
    snprintf(hpath, sizeof(hpath), "%s/%s", path, hnode);

    int64_t t0 = zt_now_ms();
    CU_ASSERT_EQUAL(zkf_lock_acquire(b, 300, NULL), ZKF_ETIMEDOUT);
    CU_ASSERT(zt_now_ms() - t0 >= 300);
    CU_ASSERT_EQUAL(zkf_lock_state(b), ZKF_LOCK_UNLOCKED);
    CU_ASSERT_EQUAL(zt_contenders(c1, path), 1);                     /* no node of b's */
    CU_ASSERT(ZT_WAIT_UNTIL(client_watches(c2) == 0, zt_soon_ms())); /* and no watch */

    /* A second timeout, asynchronous this time: a late completion would
     * show up as a second call. */
    async_result_t rt = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0};
    CU_ASSERT_EQUAL_FATAL(zkf_lock_acquire_async(b, 200, on_acquired, &rt), 0);
    CU_ASSERT_EQUAL(async_wait(&rt, zt_soon_ms()), 1);
    CU_ASSERT_EQUAL(rt.status, ZKF_ETIMEDOUT);
    CU_ASSERT(ZT_WAIT_UNTIL(client_watches(c2) == 0, zt_soon_ms()));
    CU_ASSERT_EQUAL(zt_contenders(c1, path), 1);

    /* The server side. libzookeeper-mt 3.8.0 sends checkWatches instead of
     * removeWatches, so the server may keep c2's one-shot watch on the
     * holder's node until it fires: not asserted, reported. */
    int64_t sid2 = zkf_client_session_id(c2);
    int before = server_watches(sid2, hpath);
    fprintf(stderr, "  (server watch of the timed-out session on the holder's node: %s)\n",
            before < 0 ? "wchc unavailable"
            : before   ? "kept (3.8.0 checkWatches)"
                       : "removed");

    /* Now the predecessor goes. Our own watch on c2's handle tells when c2
     * has seen the deletion; libzookeeper delivers one event to all the
     * watchers of the path in one go, so a stale library watch would have
     * run by then, and a synchronous call on c2 afterwards waits for the
     * completion thread to be past it. */
    seen_t seen = {PTHREAD_MUTEX_INITIALIZER, 0};
    struct Stat st;
    CU_ASSERT_EQUAL_FATAL(zoo_wexists(zkf_client_zhandle(c2), hpath, seen_watcher, &seen, &st),
                          ZOK);
    CU_ASSERT_EQUAL(zkf_lock_release(a), 0);
    CU_ASSERT_FATAL(ZT_WAIT_UNTIL(seen_gone(&seen), zt_soon_ms()));
    CU_ASSERT_EQUAL(zoo_exists(zkf_client_zhandle(c2), hpath, 0, &st), ZNONODE); /* barrier */
    CU_ASSERT_EQUAL(zkf_lock_state(b), ZKF_LOCK_UNLOCKED);
    CU_ASSERT_EQUAL(client_watches(c2), 0);
    CU_ASSERT_EQUAL(events_count(&ev), 0); /* no lock event */
    CU_ASSERT_EQUAL(rt.calls, 1);          /* no second completion */
    CU_ASSERT_EQUAL(zt_contenders(c2, path), 0);
    /* Nothing of ours is re-armed on the server after the deletion. */
    if (before >= 0)
        CU_ASSERT_EQUAL(server_watches(sid2, path), 0);
    zkf_lock_destroy(a);
    zkf_lock_destroy(b);
    zkf_client_destroy(c1);
    zkf_client_destroy(c2);
}

static void test_async_acquire(void)
{
    char path[128];
    zt_path(path, sizeof(path), "async");
    zkf_client_t *c = zt_client(SESSION_MS);
    CU_ASSERT_FATAL(c != NULL);
    zkf_lock_t *a, *b;
    zkf_lock_create(c, path, NULL, &a);
    zkf_lock_create(c, path, NULL, &b); /* same session, independent nodes */
    async_result_t ra = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0};
    async_result_t rb = ra, rt = ra;
    CU_ASSERT_EQUAL_FATAL(zkf_lock_acquire_async(a, -1, on_acquired, &ra), 0);
    CU_ASSERT_EQUAL(async_wait(&ra, zt_soon_ms()), 1);
    CU_ASSERT_EQUAL(ra.status, 0);
    CU_ASSERT_EQUAL(zkf_lock_acquire_async(a, -1, on_acquired, &ra), ZKF_EBUSY);
    CU_ASSERT_EQUAL(zkf_lock_acquire_async(b, -1, on_acquired, &rb), 0);
    CU_ASSERT_EQUAL(zkf_lock_acquire_async(b, -1, on_acquired, &rb), ZKF_EINPROGRESS);
    CU_ASSERT(ZT_WAIT_UNTIL(zt_contenders(c, path) == 2, zt_soon_ms()));
    CU_ASSERT_EQUAL(zkf_lock_state(b), ZKF_LOCK_WAITING);
    CU_ASSERT_EQUAL(zkf_lock_release(a), 0); /* any thread may release an async holding */
    CU_ASSERT_EQUAL(async_wait(&rb, zt_soon_ms()), 1);
    CU_ASSERT_EQUAL(rb.status, 0);
    CU_ASSERT(rb.token > ra.token);

    /* An async timeout is reported once, with its node gone. */
    CU_ASSERT_EQUAL(zkf_lock_acquire_async(a, 200, on_acquired, &rt), 0);
    CU_ASSERT_EQUAL(async_wait(&rt, zt_soon_ms()), 1);
    CU_ASSERT_EQUAL(rt.status, ZKF_ETIMEDOUT);
    CU_ASSERT_EQUAL(zt_contenders(c, path), 1);
    CU_ASSERT_EQUAL(zkf_lock_release(b), 0);
    CU_ASSERT_EQUAL(rt.calls, 1);
    CU_ASSERT_EQUAL(ra.calls, 1);
    CU_ASSERT_EQUAL(rb.calls, 1);
    zkf_lock_destroy(a);
    zkf_lock_destroy(b);
    zkf_client_destroy(c);
}

static void test_cancel_from_other_thread(void)
{
    char path[128];
    zt_path(path, sizeof(path), "cancel");
    zkf_client_t *c = zt_client(SESSION_MS);
    CU_ASSERT_FATAL(c != NULL);
    zkf_lock_t *a;
    zkf_lock_create(c, path, NULL, &a);
    CU_ASSERT_EQUAL_FATAL(zkf_lock_acquire(a, zt_soon_ms(), NULL), 0);

    order_t ord = {.mu = PTHREAD_MUTEX_INITIALIZER};
    waiter_t w = {&ord, NULL, 0, -1, 1};
    zkf_lock_create(c, path, NULL, &w.lock);
    pthread_t th;
    pthread_create(&th, NULL, waiter_main, &w);
    CU_ASSERT_FATAL(ZT_WAIT_UNTIL(zt_contenders(c, path) == 2, zt_soon_ms()));
    /* A waiter watches its predecessor and its own node. */
    CU_ASSERT_FATAL(ZT_WAIT_UNTIL(client_watches(c) == 2, zt_soon_ms()));
    CU_ASSERT_EQUAL(zkf_lock_cancel(w.lock), 0);
    pthread_join(th, NULL);
    CU_ASSERT_EQUAL(w.rc, ZKF_ECANCELED);
    CU_ASSERT_EQUAL(zt_contenders(c, path), 1);
    CU_ASSERT(ZT_WAIT_UNTIL(client_watches(c) == 0, zt_soon_ms()));
    CU_ASSERT_EQUAL(zkf_lock_cancel(w.lock), ZKF_ENOTHELD); /* nothing left to cancel */
    CU_ASSERT_EQUAL(zkf_lock_release(a), 0);
    zkf_lock_destroy(w.lock);
    zkf_lock_destroy(a);
    zkf_client_destroy(c);
}

/* ---------------------------------------------------------------- */
/* Reentrancy and ownership                                          */

static void *try_release(void *arg)
{
    return (void *)(intptr_t)zkf_lock_release(arg);
}

static void test_reentrancy(void)
{
    char path[128];
    zt_path(path, sizeof(path), "reentrant");
    zkf_client_t *c = zt_client(SESSION_MS);
    CU_ASSERT_FATAL(c != NULL);
    zkf_lock_options_t o;
    zkf_lock_options_init(&o);
    o.max_depth = 3;
    zkf_lock_t *l;
    CU_ASSERT_FATAL(zkf_lock_create(c, path, &o, &l) == 0);
    uint64_t t1, t2, t3;
    CU_ASSERT_EQUAL(zkf_lock_acquire(l, zt_soon_ms(), &t1), 0);
    CU_ASSERT_EQUAL(zkf_lock_acquire(l, zt_soon_ms(), &t2), 0);
    CU_ASSERT_EQUAL(zkf_lock_acquire(l, 0, &t3), 0);
    CU_ASSERT_EQUAL(t1, t2);
    CU_ASSERT_EQUAL(t1, t3);
    CU_ASSERT_EQUAL(zkf_lock_acquire(l, zt_soon_ms(), NULL), ZKF_EDEPTH);
    CU_ASSERT_EQUAL(zt_contenders(c, path), 1); /* one node for all levels */

    pthread_t th;
    void *res;
    pthread_create(&th, NULL, try_release, l);
    pthread_join(th, &res);
    CU_ASSERT_EQUAL((intptr_t)res, ZKF_ENOTOWNER);

    CU_ASSERT_EQUAL(zkf_lock_release(l), 0);
    CU_ASSERT_EQUAL(zkf_lock_release(l), 0);
    CU_ASSERT_EQUAL(zkf_lock_state(l), ZKF_LOCK_HELD);
    CU_ASSERT_EQUAL(zkf_lock_release(l), 0);
    CU_ASSERT_EQUAL(zkf_lock_state(l), ZKF_LOCK_UNLOCKED);
    CU_ASSERT_EQUAL(zt_contenders(c, path), 0);
    CU_ASSERT_EQUAL(zkf_lock_release(l), ZKF_ENOTHELD);
    zkf_lock_destroy(l);
    zkf_client_destroy(c);
}

/* ---------------------------------------------------------------- */
/* 6. holder crash, 7. holder session expiry                         */

/* A child that takes the lock, reports its token on `fd`, and then
 * either waits to be killed or, after SIGCONT, reports what it sees. */
static void child_holder(const char *path, int fd, int session_ms)
{
    zkf_client_t *c = zt_client(session_ms);
    if (c == NULL)
        _exit(3);
    events_t ev = {.mu = PTHREAD_MUTEX_INITIALIZER};
    zkf_lock_options_t o;
    zkf_lock_options_init(&o);
    o.event_cb = on_lock_event;
    o.event_arg = &ev;
    zkf_lock_t *l;
    uint64_t token;
    if (zkf_lock_create(c, path, &o, &l) != 0 || zkf_lock_acquire(l, zt_soon_ms(), &token) != 0)
        _exit(4);
    if (write(fd, &token, sizeof(token)) != sizeof(token))
        _exit(5);
    /* Stopped here by the parent (SIGSTOP) or killed (SIGKILL). After a
     * SIGCONT, the lock must be reported lost within a session timeout or
     * so, by state and by callback, and its token never again. */
    /* The state changes on the completion thread, the callback comes later
     * on the event thread: wait for both. */
    ZT_WAIT_UNTIL(zkf_lock_state(l) == ZKF_LOCK_LOST && last_event_is(&ev, ZKF_LOCK_LOST, token),
                  zt_expiry_ms(session_ms));
    int lost = zkf_lock_state(l) == ZKF_LOCK_LOST;
    int cb_lost = last_event_is(&ev, ZKF_LOCK_LOST, token);
    uint64_t t2 = 0;
    int token_rc = zkf_lock_token(l, &t2);
    int32_t report[3] = {lost, cb_lost, token_rc};
    if (write(fd, report, sizeof(report)) != sizeof(report))
        _exit(6);
    zkf_lock_release(l);
    zkf_lock_destroy(l);
    zkf_client_destroy(c);
    _exit(0);
}

static void test_holder_killed(void)
{
    char path[128];
    zt_path(path, sizeof(path), "killed");
    int p[2];
    CU_ASSERT_FATAL(pipe(p) == 0);
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        child_holder(path, p[1], SHORT_SESSION_MS);
    }
    close(p[1]);
    uint64_t t1 = 0;
    CU_ASSERT_FATAL(read(p[0], &t1, sizeof(t1)) == sizeof(t1));

    zkf_client_t *c = zt_client(SESSION_MS);
    CU_ASSERT_FATAL(c != NULL);
    zkf_lock_t *l;
    zkf_lock_create(c, path, NULL, &l);
    CU_ASSERT_EQUAL(zkf_lock_acquire(l, 0, NULL), ZKF_EBUSY);
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    uint64_t t2 = 0;
    /* The dead holder's session expires after its timeout; we get the lock. */
    CU_ASSERT_EQUAL(zkf_lock_acquire(l, zt_expiry_ms(SHORT_SESSION_MS), &t2), 0);
    CU_ASSERT(t2 > t1);
    CU_ASSERT_EQUAL(zkf_lock_release(l), 0);
    zkf_lock_destroy(l);
    zkf_client_destroy(c);
    close(p[0]);
}

static void test_holder_paused_past_expiry(void)
{
    char path[128];
    zt_path(path, sizeof(path), "paused");
    int p[2];
    CU_ASSERT_FATAL(pipe(p) == 0);
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        child_holder(path, p[1], SHORT_SESSION_MS);
    }
    close(p[1]);
    uint64_t t1 = 0;
    CU_ASSERT_FATAL(read(p[0], &t1, sizeof(t1)) == sizeof(t1));
    kill(pid, SIGSTOP); /* the fault: a GC pause longer than the session */

    zkf_client_t *c = zt_client(SESSION_MS);
    CU_ASSERT_FATAL(c != NULL);
    zkf_lock_t *l;
    zkf_lock_create(c, path, NULL, &l);
    uint64_t t2 = 0;
    CU_ASSERT_EQUAL(zkf_lock_acquire(l, zt_expiry_ms(SHORT_SESSION_MS), &t2), 0);
    CU_ASSERT(t2 > t1); /* the successor's token is greater */

    kill(pid, SIGCONT);
    int32_t report[3] = {0, 0, 0};
    CU_ASSERT_EQUAL(read(p[0], report, sizeof(report)), (ssize_t)sizeof(report));
    CU_ASSERT_EQUAL(report[0], 1);             /* state says lost */
    CU_ASSERT_EQUAL(report[1], 1);             /* callback said lost, with its token */
    CU_ASSERT_EQUAL(report[2], ZKF_ELOCKLOST); /* the old token is not reported */
    int st;
    CU_ASSERT_EQUAL(waitpid(pid, &st, 0), pid);
    CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CU_ASSERT_EQUAL(zkf_lock_state(l), ZKF_LOCK_HELD); /* the successor is unaffected */
    CU_ASSERT_EQUAL(zkf_lock_release(l), 0);
    zkf_lock_destroy(l);
    zkf_client_destroy(c);
    close(p[0]);
}

/* ---------------------------------------------------------------- */
/* 10. foreign children, and paths                                   */

static void test_foreign_children(void)
{
    char path[128], buf[300];
    zt_path(path, sizeof(path), "foreign");
    zkf_client_t *c = zt_client(SESSION_MS);
    CU_ASSERT_FATAL(c != NULL);
    zhandle_t *zh = zkf_client_zhandle(c);
    zoo_create(zh, "/zkf-test", "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
    CU_ASSERT_EQUAL_FATAL(zoo_create(zh, path, "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0), ZOK);
    /* Siblings that must not count as contenders, some sorting first. */
    const char *foreign[] = {"aaa", "lock-0000000000", "lock-nothex-0000000000",
                             "lock-0123456789abcdef0123456789abcdef-1", "config"};
    for (size_t i = 0; i < sizeof(foreign) / sizeof(foreign[0]); i++) {
        snprintf(buf, sizeof(buf), "%s/%s", path, foreign[i]);
        CU_ASSERT_EQUAL(zoo_create(zh, buf, "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0), ZOK);
    }
    snprintf(buf, sizeof(buf), "%s/seq-", path);
    CU_ASSERT_EQUAL(zoo_create(zh, buf, "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_SEQUENCE, NULL, 0), ZOK);

    zkf_lock_t *l;
    zkf_lock_create(c, path, NULL, &l);
    CU_ASSERT_EQUAL(zkf_lock_acquire(l, 0, NULL), 0); /* try-lock: nobody real ahead */
    CU_ASSERT_EQUAL(zt_contenders(c, path), 1);
    CU_ASSERT_EQUAL(zkf_lock_release(l), 0);
    CU_ASSERT_EQUAL(zt_contenders(c, path), 0);
    zkf_lock_destroy(l);
    zkf_client_destroy(c);
}

static void test_bad_arguments(void)
{
    zkf_client_t *c = zt_client(SESSION_MS);
    CU_ASSERT_FATAL(c != NULL);
    zkf_lock_t *l = NULL;
    CU_ASSERT_EQUAL(zkf_lock_create(c, "relative", NULL, &l), ZKF_EINVAL);
    CU_ASSERT_EQUAL(zkf_lock_create(c, "/", NULL, &l), ZKF_EINVAL);
    CU_ASSERT_EQUAL(zkf_lock_create(c, "/a/", NULL, &l), ZKF_EINVAL);
    CU_ASSERT_PTR_NULL(l);
    CU_ASSERT_EQUAL(zkf_lock_create(c, "/zkf-test/deep/er/path", NULL, &l), 0);
    CU_ASSERT_EQUAL(zkf_lock_acquire_async(l, 0, NULL, NULL), ZKF_EINVAL);
    CU_ASSERT_EQUAL(zkf_lock_acquire(l, zt_soon_ms(), NULL), 0); /* parents made on demand */
    CU_ASSERT_EQUAL(zkf_client_destroy(c), ZKF_EBUSY);           /* a lock object is alive */
    zkf_lock_destroy(l);                                         /* releases */
    CU_ASSERT_EQUAL(zt_contenders(c, "/zkf-test/deep/er/path"), 0);
    CU_ASSERT_EQUAL(zkf_client_destroy(c), 0);

    /* Unreachable server: a clear error within the deadline. */
    zkf_client_options_t o;
    zkf_client_options_init(&o);
    o.hosts = "127.0.0.1:1";
    o.connect_timeout_ms = 500;
    o.zk_log_level = 0;
    CU_ASSERT_EQUAL(zkf_client_connect(&o, &c), ZKF_ECONNECT);
}

static void test_digest_acl(void)
{
    char path[128];
    zt_path(path, sizeof(path), "acl");
    zkf_client_options_t o;
    zkf_client_options_init(&o);
    o.hosts = zt_hosts();
    o.zk_log_level = 0;
    o.digest_user = "worker";
    o.digest_password = "s3cret";
    zkf_client_t *c, *anon = zt_client(SESSION_MS);
    CU_ASSERT_FATAL(zkf_client_connect(&o, &c) == 0 && anon != NULL);
    zkf_lock_t *l;
    zkf_lock_create(c, path, NULL, &l);
    CU_ASSERT_EQUAL_FATAL(zkf_lock_acquire(l, zt_soon_ms(), NULL), 0);
    char node[128], full[300];
    zkf_lock_node(l, node, sizeof(node));
    snprintf(full, sizeof(full), "%s/%s", path, node);
    /* Nodes are creator-only: an anonymous session may not delete them. */
    CU_ASSERT_EQUAL(zoo_delete(zkf_client_zhandle(anon), full, -1), ZNOAUTH);
    CU_ASSERT_EQUAL(zkf_lock_release(l), 0);
    zkf_lock_destroy(l);
    zkf_client_destroy(c);
    zkf_client_destroy(anon);
}

/* ---------------------------------------------------------------- */
/* Cancel, release and destroy corner cases                          */

static int local_waiters(zkf_lock_t *l)
{
    pthread_mutex_lock(&l->c->mu);
    int n = l->local_waiters;
    pthread_mutex_unlock(&l->c->mu);
    return n;
}

static int pending_events(zkf_lock_t *l)
{
    pthread_mutex_lock(&l->c->mu);
    int n = l->pending_events;
    pthread_mutex_unlock(&l->c->mu);
    return n;
}

static int pending_deletions(zkf_client_t *c)
{
    int n = 0;
    pthread_mutex_lock(&c->mu);
    for (zkf__pending_t *p = c->pending; p; p = p->next)
        n++;
    pthread_mutex_unlock(&c->mu);
    return n;
}

/* Cancel reaches threads queued locally on the object, and says so. */
static void test_cancel_local_waiter(void)
{
    char path[128];
    zt_path(path, sizeof(path), "cancel-local");
    zkf_client_t *c = zt_client(SESSION_MS);
    CU_ASSERT_FATAL(c != NULL);
    zkf_lock_t *l;
    CU_ASSERT_FATAL(zkf_lock_create(c, path, NULL, &l) == 0);
    CU_ASSERT_EQUAL_FATAL(zkf_lock_acquire(l, zt_soon_ms(), NULL), 0); /* this thread holds it */

    order_t ord = {.mu = PTHREAD_MUTEX_INITIALIZER};
    waiter_t w = {&ord, l, 0, -1, 1}; /* same object, another thread: waits locally */
    pthread_t th;
    pthread_create(&th, NULL, waiter_main, &w);
    CU_ASSERT_FATAL(ZT_WAIT_UNTIL(local_waiters(l) == 1, zt_soon_ms()));
    CU_ASSERT_EQUAL(zkf_lock_cancel(l), 0); /* it cancelled someone */
    pthread_join(th, NULL);
    CU_ASSERT_EQUAL(w.rc, ZKF_ECANCELED);
    CU_ASSERT_EQUAL(local_waiters(l), 0);
    CU_ASSERT_EQUAL(zkf_lock_cancel(l), ZKF_ENOTHELD); /* nobody left to cancel */
    CU_ASSERT_EQUAL(zkf_lock_state(l), ZKF_LOCK_HELD); /* the holding is untouched */
    CU_ASSERT_EQUAL(zkf_lock_release(l), 0);
    zkf_lock_destroy(l);
    zkf_client_destroy(c);
}

/* Out of memory in release: reported, not passed off as a pending
 * deletion; the holding ends locally; the node goes with the session. */
static void test_release_out_of_memory(void)
{
    char path[128];
    zt_path(path, sizeof(path), "release-oom");
    zkf_client_t *c = zt_client(SESSION_MS), *other = zt_client(SESSION_MS);
    CU_ASSERT_FATAL(c && other);
    zkf_lock_t *l;
    CU_ASSERT_FATAL(zkf_lock_create(c, path, NULL, &l) == 0);
    uint64_t token;
    CU_ASSERT_EQUAL_FATAL(zkf_lock_acquire(l, zt_soon_ms(), &token), 0);
    CU_ASSERT_EQUAL(pending_deletions(c), 0);

    zkf__fail_alloc_after(0); /* this thread's next allocation fails */
    int rc = zkf_lock_release(l);
    zkf__fail_alloc_after(-1);
    CU_ASSERT_EQUAL(rc, ZKF_ENOMEM);
    CU_ASSERT_EQUAL(zkf_lock_state(l), ZKF_LOCK_UNLOCKED); /* ended locally */
    CU_ASSERT_EQUAL(zkf_lock_token(l, &token), ZKF_ENOTHELD);
    CU_ASSERT_EQUAL(pending_deletions(c), 0);       /* nothing claimed to be queued */
    CU_ASSERT_EQUAL(zt_contenders(other, path), 1); /* the node is still there */
    zkf_lock_destroy(l);
    zkf_client_destroy(c);                          /* ends the session ... */
    CU_ASSERT_EQUAL(zt_contenders(other, path), 0); /* ... which removes it */
    zkf_client_destroy(other);
}

/* Destroy from a lock's own callback while another callback of the same
 * lock is queued: it returns, and the queued acquire completion runs once,
 * inline, with ZKF_ECANCELED. */
typedef struct reacquire {
    async_result_t second;
    int first_status, release_rc, reacquire_rc, queued;
    int second_calls_at_return, second_status_at_return;
    pthread_mutex_t mu;
    int destroyed;
} reacquire_t;

static void on_first_acquired(zkf_lock_t *l, int status, uint64_t token, void *arg)
{
    reacquire_t *r = arg;
    r->first_status = status;
    if (status == 0) {
        r->release_rc = zkf_lock_release(l);
        r->reacquire_rc = zkf_lock_acquire_async(l, -1, on_acquired, &r->second);
        /* Uncontended: the second acquire completes at once, and its
         * callback is queued behind the one running now (which counts
         * until it returns: two). */
        r->queued = ZT_WAIT_UNTIL(zkf_lock_state(l) == ZKF_LOCK_HELD && pending_events(l) == 2,
                                  zt_soon_ms());
    }
    zkf_lock_destroy(l);
    pthread_mutex_lock(&r->second.mu);
    r->second_calls_at_return = r->second.calls;
    r->second_status_at_return = r->second.status;
    pthread_mutex_unlock(&r->second.mu);
    pthread_mutex_lock(&r->mu);
    r->destroyed = 1;
    pthread_mutex_unlock(&r->mu);
}

static int reacquire_destroyed(reacquire_t *r)
{
    pthread_mutex_lock(&r->mu);
    int d = r->destroyed;
    pthread_mutex_unlock(&r->mu);
    return d;
}

static void test_destroy_in_own_callback(void)
{
    char path[128];
    zt_path(path, sizeof(path), "destroy-cb");
    zkf_client_t *c = zt_client(SESSION_MS);
    CU_ASSERT_FATAL(c != NULL);
    zkf_lock_t *l;
    CU_ASSERT_FATAL(zkf_lock_create(c, path, NULL, &l) == 0);
    reacquire_t r = {.second = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0},
                     .mu = PTHREAD_MUTEX_INITIALIZER};
    r.second.status = 1;
    CU_ASSERT_EQUAL_FATAL(zkf_lock_acquire_async(l, zt_soon_ms(), on_first_acquired, &r), 0);
    if (!ZT_WAIT_UNTIL(reacquire_destroyed(&r), zt_soon_ms())) {
        /* The event thread is stuck inside destroy: nothing can be cleaned up. */
        fprintf(stderr, "FATAL: zkf_lock_destroy from its own callback did not return\n");
        _exit(1);
    }
    CU_ASSERT_EQUAL(r.first_status, 0);
    CU_ASSERT_EQUAL(r.release_rc, 0);
    CU_ASSERT_EQUAL(r.reacquire_rc, 0);
    CU_ASSERT_EQUAL(r.queued, 1);                 /* the case at hand did arise */
    CU_ASSERT_EQUAL(r.second_calls_at_return, 1); /* ran inline, before destroy returned */
    CU_ASSERT_EQUAL(r.second_status_at_return, ZKF_ECANCELED);
    CU_ASSERT(
        ZT_WAIT_UNTIL(zt_contenders(c, path) == 0, zt_soon_ms())); /* its holding was released */
    pthread_mutex_lock(&r.second.mu);
    CU_ASSERT_EQUAL(r.second.calls, 1); /* exactly once */
    CU_ASSERT_EQUAL(r.second.token, 0);
    pthread_mutex_unlock(&r.second.mu);
    CU_ASSERT_EQUAL(zkf_client_destroy(c), 0); /* the lock is gone from the client */
}

/* The lock path vanishes under a waiter (its node, its predecessor, the
 * holder and the path itself, deleted by hand in one transaction): the
 * waiter reports the lock lost, not a ZooKeeper error. */
static void test_lock_path_deleted_under_waiter(void)
{
    char path[128], name[128], buf[300], hnode[300], xnode[300], wnode[300];
    zt_path(path, sizeof(path), "path-gone");
    zkf_client_t *c = zt_client(SESSION_MS), *direct = zt_client(SESSION_MS);
    CU_ASSERT_FATAL(c && direct);
    zhandle_t *zh = zkf_client_zhandle(direct);
    zoo_create(zh, "/zkf-test", "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
    CU_ASSERT_EQUAL_FATAL(zoo_create(zh, path, "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0), ZOK);
    /* Two contenders in the recipe's naming, ahead of ours: the waiter
     * watches the second, which is not the head. */
    snprintf(buf, sizeof(buf), "%s/lock-%032d-", path, 1);
    CU_ASSERT_EQUAL_FATAL(zoo_create(zh, buf, "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL_SEQUENTIAL,
                                     hnode, sizeof(hnode)),
                          ZOK);
    snprintf(buf, sizeof(buf), "%s/lock-%032d-", path, 2);
    CU_ASSERT_EQUAL_FATAL(zoo_create(zh, buf, "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL_SEQUENTIAL,
                                     xnode, sizeof(xnode)),
                          ZOK);
    zkf_lock_t *w;
    zkf_lock_create(c, path, NULL, &w);
    async_result_t ar = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0};
    CU_ASSERT_EQUAL_FATAL(zkf_lock_acquire_async(w, -1, on_acquired, &ar), 0);
    CU_ASSERT_FATAL(
        ZT_WAIT_UNTIL(client_watches(c) == 2, zt_soon_ms())); /* predecessor, own node */
    CU_ASSERT_EQUAL_FATAL(zkf_lock_node(w, name, sizeof(name)), 0);
    snprintf(wnode, sizeof(wnode), "%s/%s", path, name);

    zoo_op_t ops[4];
    zoo_op_result_t res[4];
    zoo_delete_op_init(&ops[0], wnode, -1);
    zoo_delete_op_init(&ops[1], xnode, -1);
    zoo_delete_op_init(&ops[2], hnode, -1);
    zoo_delete_op_init(&ops[3], path, -1);
    CU_ASSERT_EQUAL_FATAL(zoo_multi(zh, 4, ops, res), ZOK);
    CU_ASSERT_EQUAL(async_wait(&ar, zt_soon_ms()), 1);
    CU_ASSERT_EQUAL(ar.status, ZKF_ELOCKLOST);
    CU_ASSERT_EQUAL(zkf_lock_state(w), ZKF_LOCK_UNLOCKED);
    CU_ASSERT(ZT_WAIT_UNTIL(client_watches(c) == 0, zt_soon_ms()));
    zkf_lock_destroy(w);
    zkf_client_destroy(c);
    zkf_client_destroy(direct);
}

/* ---------------------------------------------------------------- */
/* Contenders, chroot                                                */

/* zkf_lock_contenders with four contenders on two sessions: the holder
 * first, then the waiters in queue order, tokens and sequences rising. */
static void test_contenders_order(void)
{
    enum { N = 4 };
    char path[128], buf[300];
    zt_path(path, sizeof(path), "contenders");
    zkf_client_t *c[2] = {zt_client(SESSION_MS), zt_client(SESSION_MS)};
    CU_ASSERT_FATAL(c[0] && c[1]);
    zkf_lock_t *l[N];
    async_result_t ar[N];
    char names[N][128];
    for (int i = 0; i < N; i++) {
        ar[i] = (async_result_t){PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0};
        CU_ASSERT_FATAL(zkf_lock_create(c[i % 2], path, NULL, &l[i]) == 0);
        CU_ASSERT_EQUAL_FATAL(zkf_lock_acquire_async(l[i], -1, on_acquired, &ar[i]), 0);
        CU_ASSERT_FATAL(ZT_WAIT_UNTIL(zt_contenders(c[0], path) == (size_t)i + 1, zt_soon_ms()));
        /* The server has the node; its client learns the name when the
         * create's reply has been processed, a moment later. */
        CU_ASSERT_FATAL(
            ZT_WAIT_UNTIL(zkf_lock_node(l[i], names[i], sizeof(names[i])) == 0, zt_soon_ms()));
        if (i == 0)
            CU_ASSERT_EQUAL(async_wait(&ar[0], zt_soon_ms()), 1);
    }
    /* a foreign child, which must not show */
    snprintf(buf, sizeof(buf), "%s/not-a-contender", path);
    CU_ASSERT_EQUAL(zoo_create(zkf_client_zhandle(c[0]), buf, "", 0, &ZOO_OPEN_ACL_UNSAFE,
                               ZOO_EPHEMERAL, NULL, 0),
                    ZOK);

    zkf_contender_t *list;
    size_t n;
    CU_ASSERT_EQUAL_FATAL(zkf_lock_contenders(c[1], path, &list, &n), 0);
    CU_ASSERT_EQUAL_FATAL(n, N);
    for (size_t i = 0; i < n; i++) {
        CU_ASSERT_STRING_EQUAL(list[i].node, names[i]);
        CU_ASSERT_EQUAL(list[i].owner, zkf_client_session_id(c[i % 2]));
        CU_ASSERT(list[i].created_ms > 0);
        if (i > 0) {
            CU_ASSERT(list[i].token > list[i - 1].token);
            CU_ASSERT(list[i].sequence > list[i - 1].sequence);
        }
    }
    uint64_t t0;
    CU_ASSERT_EQUAL(zkf_lock_token(l[0], &t0), 0);
    CU_ASSERT_EQUAL(list[0].token, t0); /* the holder's token is its czxid */
    zkf_contenders_free(list, n);
    CU_ASSERT_EQUAL(zkf_lock_contenders(c[0], "/zkf-test/no-such-lock", &list, &n), 0);
    CU_ASSERT_EQUAL(n, 0);
    CU_ASSERT_PTR_NULL(list);

    for (int i = 0; i < N; i++)
        zkf_lock_destroy(l[i]); /* the holder releases, the waiters are cancelled */
    for (int i = 1; i < N; i++) {
        CU_ASSERT_EQUAL(ar[i].calls, 1);
        CU_ASSERT(ar[i].status == ZKF_ECANCELED || ar[i].status == 0);
    }
    zkf_client_destroy(c[0]);
    zkf_client_destroy(c[1]);
}

/* A chroot: every path is relative to it. A chroot that does not exist:
 * connect works (ZooKeeper applies chroots on the client side), acquires
 * fail with ZKF_EZK / ZNONODE, and nothing is created. */
static void test_chroot(void)
{
    char root[128], full[300], node[128];
    snprintf(root, sizeof(root), "/zkf-test/chroot-%d", (int)getpid());
    zkf_client_t *direct = zt_client(SESSION_MS);
    CU_ASSERT_FATAL(direct != NULL);
    zhandle_t *zh = zkf_client_zhandle(direct);
    zoo_create(zh, "/zkf-test", "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
    CU_ASSERT_EQUAL_FATAL(zoo_create(zh, root, "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0), ZOK);

    zkf_client_options_t o;
    zkf_client_options_init(&o);
    o.hosts = zt_hosts();
    o.chroot = root;
    o.session_timeout_ms = SESSION_MS;
    o.zk_log_level = 0;
    zkf_client_t *c;
    CU_ASSERT_EQUAL_FATAL(zkf_client_connect(&o, &c), 0);
    zkf_lock_t *l;
    CU_ASSERT_FATAL(zkf_lock_create(c, "/locks/a", NULL, &l) == 0);
    uint64_t token;
    CU_ASSERT_EQUAL(zkf_lock_acquire(l, zt_soon_ms(), &token), 0);
    CU_ASSERT_EQUAL_FATAL(zkf_lock_node(l, node, sizeof(node)), 0);
    snprintf(full, sizeof(full), "%s/locks/a", root);
    CU_ASSERT_EQUAL(zt_contenders(c, "/locks/a"), 1); /* seen inside the chroot */
    zkf_contender_t *list;
    size_t n;
    CU_ASSERT_EQUAL_FATAL(zkf_lock_contenders(direct, full, &list, &n), 0); /* and from outside */
    CU_ASSERT_EQUAL_FATAL(n, 1);
    CU_ASSERT_STRING_EQUAL(list[0].node, node);
    CU_ASSERT_EQUAL(list[0].token, token);
    zkf_contenders_free(list, n);
    CU_ASSERT_EQUAL(zt_contenders(direct, "/locks/a"), 0); /* nothing outside the chroot */
    CU_ASSERT_EQUAL(zkf_lock_release(l), 0);
    zkf_lock_destroy(l);
    zkf_client_destroy(c);

    snprintf(full, sizeof(full), "%s-missing", root);
    o.chroot = full;
    CU_ASSERT_EQUAL_FATAL(zkf_client_connect(&o, &c), 0);
    CU_ASSERT_FATAL(zkf_lock_create(c, "/locks/a", NULL, &l) == 0);
    CU_ASSERT_EQUAL(zkf_lock_acquire(l, zt_soon_ms(), &token), ZKF_EZK);
    CU_ASSERT_EQUAL(zkf_lock_zk_error(l), ZNONODE);
    CU_ASSERT_EQUAL(zkf_lock_state(l), ZKF_LOCK_UNLOCKED);
    CU_ASSERT_EQUAL(zt_contenders(c, "/locks/a"), 0);
    struct Stat st;
    CU_ASSERT_EQUAL(zoo_exists(zh, full, 0, &st), ZNONODE); /* the chroot was not made */
    zkf_lock_destroy(l);
    zkf_client_destroy(c);
    zkf_client_destroy(direct);
}

int main(void)
{
    zt_hosts();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("lock", NULL, NULL);
    CU_add_test(s, "mutual exclusion: threads on 2 sessions + processes", test_mutual_exclusion);
    CU_add_test(s, "FIFO order of waiters", test_fifo);
    CU_add_test(s, "try-lock fails fast while held", test_try_lock);
    CU_add_test(s, "timeout leaves no node and no watch", test_timeout_leaves_nothing);
    CU_add_test(s, "async acquire, two objects on one session", test_async_acquire);
    CU_add_test(s, "cancel from another thread", test_cancel_from_other_thread);
    CU_add_test(s, "reentrancy is per thread and bounded", test_reentrancy);
    CU_add_test(s, "holder process killed: next waiter gets it", test_holder_killed);
    CU_add_test(s, "holder paused past session expiry", test_holder_paused_past_expiry);
    CU_add_test(s, "a waiter in the middle gives up", test_waiter_gives_up);
    CU_add_test(s, "foreign children are ignored", test_foreign_children);
    CU_add_test(s, "bad arguments and unreachable server", test_bad_arguments);
    CU_add_test(s, "digest credentials and creator-only ACL", test_digest_acl);
    CU_add_test(s, "cancel reaches local waiters and says so", test_cancel_local_waiter);
    CU_add_test(s, "release out of memory: ENOMEM, ended locally", test_release_out_of_memory);
    CU_add_test(s, "destroy in own callback with a callback queued", test_destroy_in_own_callback);
    CU_add_test(s, "lock path deleted under a waiter", test_lock_path_deleted_under_waiter);
    CU_add_test(s, "contenders in queue order", test_contenders_order);
    CU_add_test(s, "chroot, and a missing chroot", test_chroot);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
