/* Leader election against a real ZooKeeper: exactly one leader at a time
 * under contention from threads and processes, leadership in order of
 * arrival, step-down with and without rejoin and its events, the
 * participants listed leader first; a leader paused past its session (a
 * new leader with a higher token, the old one told when it wakes), a
 * leader killed; try, timeout, cancel leave no node and no watch; lost
 * reply to a create, connection loss, session expiry. */
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "recipes_support.h"

static void on_lead(zkf_election_t *e, int status, uint64_t token, void *arg)
{
    rt_result_set(arg, status, token);
}

static void on_event(zkf_election_t *e, zkf_election_state_t st, uint64_t token, void *arg)
{
    rt_event(arg, (int)st, token);
}

static zkf_election_t *el_new(zkf_client_t *c, const char *path, const char *id, rt_events_t *ev)
{
    zkf_election_options_t o;
    zkf_election_options_init(&o);
    o.event_cb = ev ? on_event : NULL;
    o.event_arg = ev;
    o.id = id;
    zkf_election_t *e = NULL;
    if (zkf_election_create(c, path, &o, &e) != 0)
        return NULL;
    return e;
}

/* ---------------------------------------------------------------- */
/* Exactly one leader: threads on two sessions, and processes        */

typedef struct worker {
    rt_shared_t *sh;
    zkf_client_t *c;
    const char *path;
    int rounds;
} worker_t;

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    zkf_election_t *e = el_new(w->c, w->path, "worker", NULL);
    if (e == NULL) {
        atomic_fetch_add(&w->sh->errors, 1);
        return NULL;
    }
    for (int i = 0; i < w->rounds; i++) {
        uint64_t token;
        int rc = zkf_election_lead(e, 10 * rt_deadline(w->c), &token);
        if (rc != 0) {
            fprintf(stderr, "lead: %s (client %s)\n", zkf_strerror(rc),
                    zkf_client_state_name(zkf_client_state(w->c)));
            atomic_fetch_add(&w->sh->errors, 1);
            continue;
        }
        if (atomic_fetch_add(&w->sh->readers, 1) != 0)
            atomic_fetch_add(&w->sh->violations, 1); /* two leaders */
        rt_exclusive_token(w->sh, token);
        if (zkf_election_state(e) != ZKF_ELECTION_LEADER)
            atomic_fetch_add(&w->sh->errors, 1);
        rt_linger();
        atomic_fetch_sub(&w->sh->readers, 1);
        atomic_fetch_add(&w->sh->acquisitions, 1);
        if (zkf_election_step_down(e, 0) != 0)
            atomic_fetch_add(&w->sh->errors, 1);
    }
    zkf_election_destroy(e);
    return NULL;
}

static void test_one_leader(void)
{
    enum { THREADS = 8, PROCS = 3, ROUNDS = 12 };
    char path[128];
    zt_path(path, sizeof(path), "el-contention");
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
            worker_t w = {sh, c, path, ROUNDS};
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
    CU_ASSERT_EQUAL(atomic_load(&sh->errors), 0);
    CU_ASSERT_EQUAL(atomic_load(&sh->violations), 0);
    CU_ASSERT_EQUAL(atomic_load(&sh->token_regressions), 0);
    CU_ASSERT_EQUAL(atomic_load(&sh->acquisitions), (long)(THREADS + PROCS) * ROUNDS);
    CU_ASSERT(ZT_WAIT_UNTIL(rt_children(c1, path, NULL) == 0, rt_deadline(c1)));
    zkf_client_destroy(c1);
    zkf_client_destroy(c2);
    munmap(sh, sizeof(*sh));
}

/* Leadership in order of arrival; the participants listed leader first
 * with their ids; a step-down hands over to the next. */
static void test_order_and_participants(void)
{
    enum { N = 4 };
    char path[128], id[32];
    zt_path(path, sizeof(path), "el-order");
    zkf_client_t *c = zt_client(RT_SESSION_MS), *d = zt_client(RT_SESSION_MS);
    CU_ASSERT_FATAL(c && d);
    zkf_election_t *e[N];
    rt_result_t a[N];
    int dl = rt_deadline(c);
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof(id), "p%d", i);
        a[i] = (rt_result_t)RT_RESULT_INIT;
        e[i] = el_new(i % 2 ? d : c, path, id, NULL);
        CU_ASSERT_FATAL(e[i] != NULL);
        CU_ASSERT_EQUAL_FATAL(zkf_election_lead_async(e[i], -1, on_lead, &a[i]), 0);
        CU_ASSERT_FATAL(ZT_WAIT_UNTIL(rt_children(c, path, NULL) == i + 1, dl));
    }
    CU_ASSERT_FATAL(rt_result_wait(&a[0], dl) == 1);
    CU_ASSERT_EQUAL(a[0].status, 0);
    CU_ASSERT_EQUAL(zkf_election_state(e[1]), ZKF_ELECTION_FOLLOWER);
    CU_ASSERT_STRING_EQUAL(zkf_election_state_name(ZKF_ELECTION_FOLLOWER), "follower");

    zkf_participant_t *list;
    size_t n;
    CU_ASSERT_EQUAL_FATAL(zkf_election_participants(d, path, &list, &n), 0);
    CU_ASSERT_EQUAL_FATAL(n, N);
    char node[128];
    CU_ASSERT_EQUAL(zkf_election_node(e[0], node, sizeof(node)), 0);
    CU_ASSERT_STRING_EQUAL(list[0].node, node); /* the leader first */
    CU_ASSERT_EQUAL(list[0].token, a[0].token);
    for (size_t i = 0; i < n; i++) {
        snprintf(id, sizeof(id), "p%zu", i);
        CU_ASSERT_STRING_EQUAL(list[i].id, id);
        CU_ASSERT_EQUAL(strncmp(list[i].node, "candidate-", 10), 0);
        CU_ASSERT_EQUAL(list[i].owner, zkf_client_session_id(i % 2 ? d : c));
        if (i > 0)
            CU_ASSERT(list[i].sequence > list[i - 1].sequence);
    }
    zkf_participants_free(list, n);

    for (int i = 0; i < N; i++) {
        CU_ASSERT_FATAL(rt_result_wait(&a[i], dl) == 1);
        CU_ASSERT_EQUAL(a[i].status, 0);
        for (int j = i + 1; j < N; j++)
            CU_ASSERT_EQUAL(rt_calls(&a[j]), 0);
        if (i > 0)
            CU_ASSERT(a[i].token > a[i - 1].token);
        uint64_t t;
        CU_ASSERT_EQUAL(zkf_election_token(e[i], &t), 0);
        CU_ASSERT_EQUAL(t, a[i].token);
        CU_ASSERT_EQUAL(zkf_election_step_down(e[i], 0), 0);
        CU_ASSERT_EQUAL(zkf_election_state(e[i]), ZKF_ELECTION_IDLE);
        CU_ASSERT_EQUAL(zkf_election_token(e[i], &t), ZKF_ENOTHELD);
    }
    CU_ASSERT_EQUAL(zkf_election_step_down(e[0], 0), ZKF_ENOTHELD);
    for (int i = 0; i < N; i++)
        zkf_election_destroy(e[i]);
    CU_ASSERT(ZT_WAIT_UNTIL(rt_children(c, path, NULL) == 0, dl));
    zkf_client_destroy(c);
    zkf_client_destroy(d);
}

/* Step down with rejoin: the next participant leads; this one is told
 * FOLLOWER at once, and LEADER with a higher token when the other steps
 * down; a rejoined follower can leave (IDLE). */
static void test_step_down_rejoin(void)
{
    char path[128];
    zt_path(path, sizeof(path), "el-rejoin");
    zkf_client_t *c = zt_client(RT_SESSION_MS);
    CU_ASSERT_FATAL(c != NULL);
    rt_events_t ev = RT_EVENTS_INIT;
    zkf_election_t *a = el_new(c, path, "a", &ev), *b = el_new(c, path, "b", NULL);
    uint64_t ta, tb;
    int dl = rt_deadline(c);
    CU_ASSERT_EQUAL_FATAL(zkf_election_lead(a, 0, &ta), 0);
    CU_ASSERT_EQUAL(zkf_election_lead(b, 0, &tb), ZKF_EBUSY); /* tried once: a leads */
    rt_result_t rb = RT_RESULT_INIT;
    CU_ASSERT_EQUAL_FATAL(zkf_election_lead_async(b, -1, on_lead, &rb), 0);
    CU_ASSERT_FATAL(ZT_WAIT_UNTIL(rt_children(c, path, NULL) == 2, dl));
    CU_ASSERT_EQUAL(zkf_election_lead(a, 0, &ta), ZKF_EBUSY); /* already leader */

    CU_ASSERT_EQUAL(zkf_election_step_down(a, 1), 0);
    CU_ASSERT(ZT_WAIT_UNTIL(rt_count(&ev, ZKF_ELECTION_FOLLOWER) == 1, dl));
    CU_ASSERT_FATAL(rt_result_wait(&rb, dl) == 1);
    CU_ASSERT_EQUAL(rb.status, 0);
    CU_ASSERT(rb.token > ta);
    CU_ASSERT_EQUAL(zkf_election_state(a), ZKF_ELECTION_FOLLOWER);
    CU_ASSERT_FATAL(ZT_WAIT_UNTIL(rt_children(c, path, NULL) == 2, dl)); /* a queued again */
    CU_ASSERT_EQUAL(zkf_election_step_down(b, 0), 0);
    CU_ASSERT(ZT_WAIT_UNTIL(rt_count(&ev, ZKF_ELECTION_LEADER) == 1, dl));
    uint64_t ta2;
    CU_ASSERT_EQUAL(zkf_election_token(a, &ta2), 0);
    CU_ASSERT(ta2 > rb.token);
    CU_ASSERT(rt_last_is(&ev, ZKF_ELECTION_LEADER, ta2));

    /* b rejoins behind a, then leaves while following: IDLE, no node. */
    CU_ASSERT_EQUAL_FATAL(zkf_election_lead_async(b, -1, on_lead, &rb), 0);
    CU_ASSERT_FATAL(ZT_WAIT_UNTIL(rt_children(c, path, NULL) == 2, dl));
    CU_ASSERT_EQUAL(zkf_election_step_down(a, 1), 0);
    CU_ASSERT(ZT_WAIT_UNTIL(rt_count(&ev, ZKF_ELECTION_FOLLOWER) == 2, dl));
    CU_ASSERT_EQUAL(zkf_election_step_down(a, 0), 0); /* leaves the queue */
    CU_ASSERT(ZT_WAIT_UNTIL(rt_count(&ev, ZKF_ELECTION_IDLE) == 1, dl));
    CU_ASSERT_EQUAL(zkf_election_state(a), ZKF_ELECTION_IDLE);
    CU_ASSERT(ZT_WAIT_UNTIL(rt_children(c, path, NULL) == 1, dl)); /* b's, leading */
    CU_ASSERT_EQUAL(zkf_election_state(b), ZKF_ELECTION_LEADER);
    zkf_election_destroy(a);
    zkf_election_destroy(b);
    CU_ASSERT(ZT_WAIT_UNTIL(rt_children(c, path, NULL) == 0 && rt_watches(c) == 0, dl));
    zkf_client_destroy(c);
}

/* Giving up leaves nothing: timeout (blocking and async) and cancel. */
static void test_give_up_leaves_nothing(void)
{
    char path[128];
    zt_path(path, sizeof(path), "el-giveup");
    zkf_client_t *c = zt_client(RT_SESSION_MS), *d = zt_client(RT_SESSION_MS);
    CU_ASSERT_FATAL(c && d);
    zkf_election_t *leader = el_new(c, path, NULL, NULL), *f = el_new(d, path, NULL, NULL);
    CU_ASSERT_EQUAL_FATAL(zkf_election_lead(leader, 5000, NULL), 0);
    int dl = rt_deadline(c);
    int64_t t0 = zt_now_ms();
    CU_ASSERT_EQUAL(zkf_election_lead(f, 300, NULL), ZKF_ETIMEDOUT);
    CU_ASSERT(zt_now_ms() - t0 >= 300);
    CU_ASSERT_EQUAL(zkf_election_state(f), ZKF_ELECTION_IDLE);
    CU_ASSERT_EQUAL(rt_children(c, path, NULL), 1);
    CU_ASSERT(ZT_WAIT_UNTIL(rt_watches(d) == 0, dl));
    rt_result_t r = RT_RESULT_INIT;
    CU_ASSERT_EQUAL_FATAL(zkf_election_lead_async(f, 200, on_lead, &r), 0);
    CU_ASSERT_FATAL(rt_result_wait(&r, dl) == 1);
    CU_ASSERT_EQUAL(r.status, ZKF_ETIMEDOUT);
    CU_ASSERT(ZT_WAIT_UNTIL(rt_watches(d) == 0, dl));
    rt_result_t r2 = RT_RESULT_INIT;
    CU_ASSERT_EQUAL_FATAL(zkf_election_lead_async(f, -1, on_lead, &r2), 0);
    CU_ASSERT_FATAL(ZT_WAIT_UNTIL(rt_watches(d) == 2, dl));
    CU_ASSERT_EQUAL(zkf_election_cancel(f), 0);
    CU_ASSERT_FATAL(rt_result_wait(&r2, dl) == 1);
    CU_ASSERT_EQUAL(r2.status, ZKF_ECANCELED);
    CU_ASSERT(ZT_WAIT_UNTIL(rt_watches(d) == 0, dl));
    CU_ASSERT_EQUAL(rt_children(c, path, NULL), 1);
    CU_ASSERT_EQUAL(zkf_election_step_down(leader, 0), 0);
    CU_ASSERT(ZT_WAIT_UNTIL(rt_children(c, path, NULL) == 0, dl));
    CU_ASSERT_EQUAL(rt_calls(&r) + rt_calls(&r2), 2);
    zkf_election_destroy(leader);
    zkf_election_destroy(f);
    zkf_client_destroy(c);
    zkf_client_destroy(d);
}

/* A cancel that comes while the watches are being armed (their entries
 * are in the client's table as soon as the calls go, before ZooKeeper
 * answers): every watch is still removed. libzookeeper knows a watcher
 * only once the arming call is answered, so a removal sent earlier would
 * be refused and leave the watch on the server. Many rounds, since the
 * window is one round trip wide. */
static void test_cancel_while_arming(void)
{
    enum { ROUNDS = 100 };
    char path[128];
    zt_path(path, sizeof(path), "el-cancel-arming");
    zkf_client_t *c = zt_client(RT_SESSION_MS), *d = zt_client(RT_SESSION_MS);
    CU_ASSERT_FATAL(c && d);
    zkf_election_t *leader = el_new(c, path, NULL, NULL), *f = el_new(d, path, NULL, NULL);
    CU_ASSERT_FATAL(leader && f);
    CU_ASSERT_EQUAL_FATAL(zkf_election_lead(leader, rt_deadline(c), NULL), 0);
    int dl = rt_deadline(d), left = 0;
    for (int i = 0; i < ROUNDS; i++) {
        rt_result_t r = RT_RESULT_INIT;
        CU_ASSERT_EQUAL_FATAL(zkf_election_lead_async(f, -1, on_lead, &r), 0);
        CU_ASSERT_FATAL(ZT_WAIT_UNTIL(rt_watches(d) == 2, dl));
        CU_ASSERT_EQUAL(zkf_election_cancel(f), 0);
        CU_ASSERT_FATAL(rt_result_wait(&r, dl) == 1);
        CU_ASSERT_EQUAL(r.status, ZKF_ECANCELED);
        if (!ZT_WAIT_UNTIL(rt_watches(d) == 0, dl))
            left++;
    }
    CU_ASSERT_EQUAL(left, 0);
    CU_ASSERT_EQUAL(rt_children(c, path, NULL), 1);
    zkf_election_destroy(leader);
    zkf_election_destroy(f);
    zkf_client_destroy(c);
    zkf_client_destroy(d);
}

/* ---------------------------------------------------------------- */
/* A leader paused past its session, and a leader killed             */

/* A child that leads, reports its token, and is then stopped or killed.
 * Woken, it reports what it learnt: LOST, by state and by event, and
 * its old token refused. */
static void child_leader(const char *path, int fd)
{
    zkf_client_t *c = zt_client(1000);
    if (c == NULL)
        _exit(3);
    rt_events_t ev = RT_EVENTS_INIT;
    zkf_election_t *e = el_new(c, path, "child", &ev);
    uint64_t token;
    if (e == NULL || zkf_election_lead(e, 10000, &token) != 0)
        _exit(4);
    if (write(fd, &token, sizeof(token)) != sizeof(token))
        _exit(5);
    ZT_WAIT_UNTIL(zkf_election_state(e) == ZKF_ELECTION_LOST &&
                      rt_last_is(&ev, ZKF_ELECTION_LOST, token),
                  rt_deadline(c));
    uint64_t t2;
    int32_t report[3] = {zkf_election_state(e) == ZKF_ELECTION_LOST,
                         rt_last_is(&ev, ZKF_ELECTION_LOST, token), zkf_election_token(e, &t2)};
    if (write(fd, report, sizeof(report)) != sizeof(report))
        _exit(6);
    /* A step-down resets it. */
    if (zkf_election_step_down(e, 0) != ZKF_ELOCKLOST || zkf_election_state(e) != ZKF_ELECTION_IDLE)
        _exit(7);
    zkf_election_destroy(e);
    zkf_client_destroy(c);
    _exit(0);
}

static void run_leader_fault(int pause)
{
    char path[128];
    zt_path(path, sizeof(path), pause ? "el-paused" : "el-killed");
    int p[2];
    CU_ASSERT_FATAL(pipe(p) == 0);
    pid_t pid = fork(); /* first: the child must not inherit a client */
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        child_leader(path, p[1]);
    }
    close(p[1]);
    uint64_t t1 = 0;
    CU_ASSERT_FATAL(read(p[0], &t1, sizeof(t1)) == sizeof(t1));
    zkf_client_t *c = zt_client(RT_SESSION_MS);
    CU_ASSERT_FATAL(c != NULL);
    zkf_election_t *e = el_new(c, path, "parent", NULL);
    rt_result_t r = RT_RESULT_INIT;
    CU_ASSERT_EQUAL_FATAL(zkf_election_lead_async(e, -1, on_lead, &r), 0);
    CU_ASSERT_FATAL(ZT_WAIT_UNTIL(rt_children(c, path, NULL) == 2, rt_deadline(c)));
    kill(pid, pause ? SIGSTOP : SIGKILL); /* the fault: a pause longer than the session */
    /* The child's session expires after its timeout: we lead. */
    CU_ASSERT_FATAL(rt_result_wait(&r, rt_deadline(c)) == 1);
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT(r.token > t1); /* the new leader's token is higher */
    zkf_participant_t *list;
    size_t n;
    CU_ASSERT_EQUAL_FATAL(zkf_election_participants(c, path, &list, &n), 0);
    CU_ASSERT_EQUAL_FATAL(n, 1);
    CU_ASSERT_STRING_EQUAL(list[0].id, "parent");
    zkf_participants_free(list, n);
    if (pause) {
        kill(pid, SIGCONT);
        int32_t report[3] = {0, 0, 0};
        CU_ASSERT_EQUAL(read(p[0], report, sizeof(report)), (ssize_t)sizeof(report));
        CU_ASSERT_EQUAL(report[0], 1);             /* state says lost */
        CU_ASSERT_EQUAL(report[1], 1);             /* the event said lost, with its token */
        CU_ASSERT_EQUAL(report[2], ZKF_ELOCKLOST); /* the old token is not reported */
    }
    int st;
    CU_ASSERT_EQUAL(waitpid(pid, &st, 0), pid);
    if (pause)
        CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CU_ASSERT_EQUAL(zkf_election_state(e), ZKF_ELECTION_LEADER); /* unaffected */
    CU_ASSERT_EQUAL(zkf_election_step_down(e, 0), 0);
    zkf_election_destroy(e);
    zkf_client_destroy(c);
    close(p[0]);
}

static void test_leader_paused(void)
{
    run_leader_fault(1);
}

static void test_leader_killed(void)
{
    run_leader_fault(0);
}

/* ---------------------------------------------------------------- */
/* Network faults                                                    */

static void test_lost_create_reply(void)
{
    char path[128];
    zt_path(path, sizeof(path), "el-lostreply");
    zkrelay_t *r = rt_relay();
    CU_ASSERT_FATAL(r != NULL);
    zkf_client_t *c = rt_client_via(r, RT_SESSION_MS), *d = zt_client(RT_SESSION_MS);
    CU_ASSERT_FATAL(c && d);
    zkf_election_t *leader = el_new(d, path, "d", NULL), *e = el_new(c, path, "c", NULL);
    CU_ASSERT_FATAL(zkf_election_lead(leader, 5000, NULL) == 0);
    int conns = zkrelay_connections(r);
    zkrelay_drop_after_create(r, 1);
    rt_result_t a = RT_RESULT_INIT;
    CU_ASSERT_EQUAL_FATAL(zkf_election_lead_async(e, -1, on_lead, &a), 0);
    CU_ASSERT_FATAL(
        ZT_WAIT_UNTIL(zkrelay_connections(r) > conns && rt_watches(c) == 2, rt_deadline(c)));
    CU_ASSERT_EQUAL(zkrelay_creates_seen(r), 1); /* found by GUID */
    CU_ASSERT_EQUAL(rt_children(d, path, NULL), 2);
    CU_ASSERT_EQUAL(zkf_election_step_down(leader, 0), 0);
    CU_ASSERT_FATAL(rt_result_wait(&a, rt_deadline(c)) == 1);
    CU_ASSERT_EQUAL(a.status, 0);
    CU_ASSERT_EQUAL(rt_children(d, path, NULL), 1);
    zkf_election_destroy(leader);
    zkf_election_destroy(e);
    zkf_client_destroy(c);
    zkf_client_destroy(d);
    zkrelay_stop(r);
}

/* Connection loss: SUSPENDED, then LEADER again with the same token;
 * then a partition past the session: LOST, decided locally, and a
 * follower of another session leads with a higher token. */
static void test_connection_loss_then_partition(void)
{
    char path[128];
    zt_path(path, sizeof(path), "el-connloss");
    zkrelay_t *r = rt_relay();
    CU_ASSERT_FATAL(r != NULL);
    zkf_client_t *c = rt_client_via(r, 1500), *d = zt_client(RT_SESSION_MS);
    CU_ASSERT_FATAL(c && d);
    rt_events_t ev = RT_EVENTS_INIT;
    zkf_election_t *e = el_new(c, path, "c", &ev), *f = el_new(d, path, "d", NULL);
    uint64_t t1, t2;
    CU_ASSERT_FATAL(zkf_election_lead(e, 5000, &t1) == 0);
    rt_result_t a = RT_RESULT_INIT;
    CU_ASSERT_EQUAL_FATAL(zkf_election_lead_async(f, -1, on_lead, &a), 0);
    int dl = rt_deadline(d);
    CU_ASSERT_FATAL(ZT_WAIT_UNTIL(rt_children(d, path, NULL) == 2, dl));
    zkrelay_disconnect_all(r);
    CU_ASSERT(ZT_WAIT_UNTIL(rt_count(&ev, ZKF_ELECTION_SUSPENDED) == 1 &&
                                rt_last_is(&ev, ZKF_ELECTION_LEADER, t1),
                            dl));
    CU_ASSERT_EQUAL(zkf_election_token(e, &t2), 0);
    CU_ASSERT_EQUAL(t1, t2);
    CU_ASSERT_EQUAL(rt_calls(&a), 0);

    zkrelay_set_blackhole(r, 1);
    CU_ASSERT(ZT_WAIT_UNTIL(rt_last_is(&ev, ZKF_ELECTION_LOST, t1), dl));
    CU_ASSERT_EQUAL(zkf_election_token(e, &t2), ZKF_ELOCKLOST);
    CU_ASSERT_FATAL(rt_result_wait(&a, dl) == 1);
    CU_ASSERT_EQUAL(a.status, 0);
    CU_ASSERT(a.token > t1);
    zkrelay_set_blackhole(r, 0);
    CU_ASSERT(ZT_WAIT_UNTIL(zkf_client_state(c) == ZKF_CLIENT_CONNECTED, dl));
    /* Reset and rejoin from LOST: FOLLOWER behind d. */
    CU_ASSERT_EQUAL(zkf_election_step_down(e, 1), ZKF_ELOCKLOST);
    CU_ASSERT(ZT_WAIT_UNTIL(rt_last_is(&ev, ZKF_ELECTION_FOLLOWER, 0), dl));
    CU_ASSERT_EQUAL(zkf_election_step_down(f, 0), 0);
    CU_ASSERT(ZT_WAIT_UNTIL(rt_count(&ev, ZKF_ELECTION_LEADER) == 2, dl));
    CU_ASSERT_EQUAL(zkf_election_token(e, &t2), 0);
    CU_ASSERT(t2 > a.token);
    CU_ASSERT_EQUAL(zkf_election_step_down(e, 0), 0);
    zkf_election_destroy(e);
    zkf_election_destroy(f);
    zkf_client_destroy(c);
    zkf_client_destroy(d);
    zkrelay_stop(r);
}

/* The server expires the session: the leader is told LOST at once; a
 * follower of the same session ends its wait. */
static void test_session_expiry(void)
{
    char path[128];
    zt_path(path, sizeof(path), "el-expiry");
    zkrelay_t *r = rt_relay();
    CU_ASSERT_FATAL(r != NULL);
    zkf_client_t *c = rt_client_via(r, RT_SESSION_MS), *d = zt_client(RT_SESSION_MS);
    CU_ASSERT_FATAL(c && d);
    rt_events_t ev = RT_EVENTS_INIT;
    zkf_election_t *e = el_new(c, path, "c", &ev), *cf = el_new(c, path, "cf", NULL),
                   *df = el_new(d, path, "df", NULL);
    uint64_t t1;
    CU_ASSERT_FATAL(zkf_election_lead(e, 5000, &t1) == 0);
    rt_result_t ac = RT_RESULT_INIT, ad = RT_RESULT_INIT;
    int dl = rt_deadline(c);
    CU_ASSERT_EQUAL_FATAL(zkf_election_lead_async(cf, -1, on_lead, &ac), 0);
    CU_ASSERT_FATAL(ZT_WAIT_UNTIL(rt_children(d, path, NULL) == 2, dl));
    CU_ASSERT_EQUAL_FATAL(zkf_election_lead_async(df, -1, on_lead, &ad), 0);
    CU_ASSERT_FATAL(ZT_WAIT_UNTIL(rt_children(d, path, NULL) == 3, dl));
    zkrelay_set_blackhole(r, 1);
    CU_ASSERT_FATAL(ZT_WAIT_UNTIL(zkf_client_state(c) == ZKF_CLIENT_SUSPENDED, dl));
    CU_ASSERT_EQUAL_FATAL(zt_expire_session(c), 0);
    CU_ASSERT_FATAL(rt_result_wait(&ad, dl) == 1); /* df leads at once */
    CU_ASSERT_EQUAL(ad.status, 0);
    CU_ASSERT(ad.token > t1);
    zkrelay_set_blackhole(r, 0);
    CU_ASSERT(ZT_WAIT_UNTIL(rt_last_is(&ev, ZKF_ELECTION_LOST, t1), dl));
    CU_ASSERT_FATAL(rt_result_wait(&ac, dl) == 1);
    CU_ASSERT_EQUAL(ac.status, ZKF_ESESSIONEXPIRED);
    CU_ASSERT_EQUAL(zkf_election_state(cf), ZKF_ELECTION_IDLE);
    CU_ASSERT_EQUAL(zkf_election_step_down(e, 0), ZKF_ELOCKLOST);
    CU_ASSERT_EQUAL(zkf_election_step_down(df, 0), 0);
    zkf_election_destroy(e);
    zkf_election_destroy(cf);
    zkf_election_destroy(df);
    zkf_client_destroy(c);
    zkf_client_destroy(d);
    zkrelay_stop(r);
}

static void test_bad_arguments(void)
{
    zkf_client_t *c = zt_client(RT_SESSION_MS);
    CU_ASSERT_FATAL(c != NULL);
    zkf_election_t *e;
    char big[1100];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    zkf_election_options_t o;
    zkf_election_options_init(&o);
    o.id = big;
    CU_ASSERT_EQUAL(zkf_election_create(c, "/zkf-test/el-bad", &o, &e), ZKF_EINVAL);
    CU_ASSERT_EQUAL(zkf_election_create(c, "relative", NULL, &e), ZKF_EINVAL);
    CU_ASSERT_EQUAL(zkf_election_lead(NULL, 0, NULL), ZKF_EINVAL);
    CU_ASSERT_EQUAL(zkf_election_step_down(NULL, 0), ZKF_EINVAL);
    CU_ASSERT_EQUAL_FATAL(zkf_election_create(c, "/zkf-test/el-bad", NULL, &e), 0);
    CU_ASSERT_EQUAL(zkf_election_lead_async(e, -1, NULL, NULL), ZKF_EINVAL);
    CU_ASSERT_EQUAL(zkf_election_cancel(e), ZKF_ENOTHELD);
    CU_ASSERT_EQUAL(zkf_client_destroy(c), ZKF_EBUSY); /* a participant remains */
    zkf_election_destroy(e);
    zkf_election_destroy(NULL);
    CU_ASSERT_EQUAL(zkf_client_destroy(c), 0);
}

int main(void)
{
    zt_hosts();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("election", NULL, NULL);
    CU_add_test(s, "one leader at a time: threads on 2 sessions + processes", test_one_leader);
    CU_add_test(s, "order of arrival, participants leader first", test_order_and_participants);
    CU_add_test(s, "step down and rejoin: events", test_step_down_rejoin);
    CU_add_test(s, "timeout and cancel leave no node, no watch", test_give_up_leaves_nothing);
    CU_add_test(s, "cancel while the watches are being armed", test_cancel_while_arming);
    CU_add_test(s, "leader paused past its session", test_leader_paused);
    CU_add_test(s, "leader killed", test_leader_killed);
    CU_add_test(s, "lost reply to create", test_lost_create_reply);
    CU_add_test(s, "connection loss, then a partition", test_connection_loss_then_partition);
    CU_add_test(s, "session expiry", test_session_expiry);
    CU_add_test(s, "bad arguments", test_bad_arguments);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
