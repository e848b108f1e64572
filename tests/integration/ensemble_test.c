/* Tokens across a leader change, on a 3-node loopback ensemble that this
 * suite starts itself (scripts/zk ensemble) and stops by PID: the lock,
 * then the read/write lock, the semaphore and the election, each across a
 * leader change of its own (its holding survives; its successor's token is
 * higher). */
#include <sys/wait.h>
#include <pthread.h>

#include "zkf_test.h"

static char scripts_zk[1024], free_port[1024], datadir[256], hosts[128];
static int base_port;

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Member i's `srvr` answer (free it), or NULL if it does not answer;
 * its address in hp. */
static char *node_srvr(int i, char hp[32])
{
    snprintf(hp, 32, "127.0.0.1:%d", base_port + i - 1);
    return zt_four_letter(hp, "srvr");
}

static int leader_node(void)
{
    for (int i = 1; i <= 3; i++) {
        char hp[32];
        char *out = node_srvr(i, hp);
        int leader = out && strstr(out, "Mode: leader") != NULL;
        free(out);
        if (leader)
            return i;
    }
    return -1;
}

static int start_ensemble(void)
{
    char tmpl[] = "/tmp/zkfence-ensemble.XXXXXX";
    if (mkdtemp(tmpl) == NULL)
        return -1;
    snprintf(datadir, sizeof(datadir), "%s", tmpl);
    char cmd[2048], portfile[300];
    snprintf(portfile, sizeof(portfile), "%s/port", datadir);
    snprintf(cmd, sizeof(cmd), "%s 3 > %s", free_port, portfile);
    if (system(cmd) != 0)
        return -1;
    FILE *f = fopen(portfile, "r");
    if (!f || fscanf(f, "%d", &base_port) != 1) {
        if (f)
            fclose(f);
        return -1;
    }
    fclose(f);
    snprintf(hosts, sizeof(hosts), "127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d", base_port,
             base_port + 1, base_port + 2);
    return sh("%s ensemble start --base-port %d --data-dir %s/zk --tick-ms 200 >/dev/null",
              scripts_zk, base_port, datadir);
}

static void stop_ensemble(void)
{
    sh("%s ensemble stop --data-dir %s/zk >/dev/null 2>&1", scripts_zk, datadir);
    sh("rm -rf %s", datadir);
}

typedef struct waiter {
    zkf_lock_t *lock;
    int rc;
    uint64_t token;
} waiter_t;

static void *wait_main(void *arg)
{
    waiter_t *w = arg;
    /* No deadline of its own: the holder lets go only after the leader
     * change, however long a busy machine takes for it; the test cancels
     * the wait if the lock does not come soon after that. */
    w->rc = zkf_lock_acquire(w->lock, -1, &w->token);
    if (w->rc == 0)
        zkf_lock_release(w->lock);
    return NULL;
}

static void test_tokens_across_leader_change(void)
{
    /* Sessions that outlast an election on a busy machine: the point is
     * that they survive it. */
    zkf_client_t *a = zt_client_at(hosts, ZT_SESSION_MS), *b = zt_client_at(hosts, ZT_SESSION_MS);
    CU_ASSERT_FATAL(a && b);
    zkf_lock_t *la, *lb;
    zkf_lock_create(a, "/zkf-test/ensemble", NULL, &la);
    zkf_lock_create(b, "/zkf-test/ensemble", NULL, &lb);
    uint64_t t1;
    CU_ASSERT_FATAL(zkf_lock_acquire(la, zt_soon_ms(), &t1) == 0);
    waiter_t w = {lb, -1, 0};
    pthread_t th;
    pthread_create(&th, NULL, wait_main, &w);
    CU_ASSERT_FATAL(ZT_WAIT_UNTIL(zkf_lock_state(lb) == ZKF_LOCK_WAITING, zt_soon_ms()));

    int leader = leader_node();
    CU_ASSERT_FATAL(leader > 0);
    CU_ASSERT_EQUAL_FATAL(sh("%s node stop %d --data-dir %s/zk", scripts_zk, leader, datadir), 0);
    /* A new leader is elected (within the sessions' timeout, or they would
     * not survive); both sessions move to the survivors. */
    int session_ms = zkf_client_session_timeout(a);
    CU_ASSERT(
        ZT_WAIT_UNTIL(leader_node() > 0 && leader_node() != leader, zt_expiry_ms(session_ms)));
    CU_ASSERT(ZT_WAIT_UNTIL(zkf_client_state(a) == ZKF_CLIENT_CONNECTED &&
                                zkf_client_state(b) == ZKF_CLIENT_CONNECTED,
                            zt_expiry_ms(session_ms)));
    CU_ASSERT_EQUAL(zkf_lock_state(la), ZKF_LOCK_HELD); /* the session survived */
    CU_ASSERT_EQUAL(zkf_lock_release(la), 0);
    if (!ZT_WAIT_UNTIL(zkf_lock_state(lb) != ZKF_LOCK_WAITING, zt_soon_ms()))
        zkf_lock_cancel(lb); /* the handoff did not come: w.rc says so */
    pthread_join(th, NULL);
    if (w.rc != 0)
        fprintf(stderr, "  (waiter: %s)\n", zkf_strerror(w.rc));
    CU_ASSERT_EQUAL(w.rc, 0);
    CU_ASSERT(w.token > t1); /* zxids keep rising across the new leader's epoch */

    uint64_t t3;
    CU_ASSERT_EQUAL(zkf_lock_acquire(la, zt_soon_ms(), &t3), 0);
    CU_ASSERT(t3 > w.token);
    CU_ASSERT_EQUAL(zkf_lock_release(la), 0);
    CU_ASSERT_EQUAL(sh("%s node start %d --data-dir %s/zk", scripts_zk, leader, datadir), 0);
    zkf_lock_destroy(la);
    zkf_lock_destroy(lb);
    zkf_client_destroy(a);
    zkf_client_destroy(b);
}

/* ---- the other recipes ---- */

/* A bound for waits that span an election among the servers and the
 * clients' moving to the survivors: eight session timeouts, at least 20 s. */
static int deadline_ms(zkf_client_t *c)
{
    int ms = 8 * zkf_client_session_timeout(c);
    return ms < 20000 ? 20000 : ms;
}

/* What a failed wait leaves for the reader of the log: each member's
 * `srvr` answer and the end of its server log, without the lines this
 * test's own polling writes there (`srvr` answered, or refused with a stack
 * trace while the member is between roles). */
static void dump_ensemble(const char *why)
{
    fprintf(stderr, "\n  ensemble: %s\n", why);
    for (int i = 1; i <= 3; i++) {
        char hp[32];
        char *out = node_srvr(i, hp);
        fprintf(stderr, "  -- node %d (%s) srvr:\n%s\n", i, hp, out ? out : "(no answer)\n");
        free(out);
        sh("grep -Ev '^[[:space:]]+at |Processing srvr command|Close of session 0x0|"
           "ZooKeeperServer not running' %s/zk/node%d/zookeeper.log | tail -n 40 >&2",
           datadir, i);
    }
}

/* Stops the ensemble's leader and waits for a new one and for both
 * clients to be connected again; returns the stopped node (restart it
 * with restart_node), or -1, the ensemble then whole again and what went
 * wrong on stderr. */
static int change_leader(zkf_client_t *a, zkf_client_t *b)
{
    int leader = leader_node();
    if (leader <= 0) {
        dump_ensemble("no leader before the change");
        return -1;
    }
    if (sh("%s node stop %d --data-dir %s/zk", scripts_zk, leader, datadir) != 0)
        return -1;
    int dl = deadline_ms(a);
    const char *failed = NULL;
    if (!ZT_WAIT_UNTIL(leader_node() > 0 && leader_node() != leader, dl))
        failed = "no new leader among the survivors";
    else if (!ZT_WAIT_UNTIL(zkf_client_state(a) == ZKF_CLIENT_CONNECTED &&
                                zkf_client_state(b) == ZKF_CLIENT_CONNECTED,
                            dl))
        failed = "the clients did not reconnect";
    if (failed == NULL)
        return leader;
    fprintf(stderr, "  node %d stopped, waited up to %d ms; clients' states %d and %d\n", leader,
            dl, (int)zkf_client_state(a), (int)zkf_client_state(b));
    dump_ensemble(failed);
    sh("%s node start %d --data-dir %s/zk", scripts_zk, leader, datadir);
    return -1;
}

static void restart_node(int node)
{
    if (node > 0)
        CU_ASSERT_EQUAL(sh("%s node start %d --data-dir %s/zk", scripts_zk, node, datadir), 0);
}

typedef struct result {
    pthread_mutex_t mu;
    int calls, status;
    uint64_t token;
} result_t;

#define RESULT_INIT                                                                                \
    {                                                                                              \
        PTHREAD_MUTEX_INITIALIZER, 0, 1, 0                                                         \
    }

static void result_set(result_t *r, int status, uint64_t token)
{
    pthread_mutex_lock(&r->mu);
    r->calls++;
    r->status = status;
    r->token = token;
    pthread_mutex_unlock(&r->mu);
}

static int result_calls(result_t *r)
{
    pthread_mutex_lock(&r->mu);
    int n = r->calls;
    pthread_mutex_unlock(&r->mu);
    return n;
}

static void on_rw(zkf_rwlock_t *rw, int status, uint64_t token, void *arg)
{
    result_set(arg, status, token);
}

static void on_sem(zkf_semaphore_t *s, int status, uint64_t token, void *arg)
{
    result_set(arg, status, token);
}

static void on_lead(zkf_election_t *e, int status, uint64_t token, void *arg)
{
    result_set(arg, status, token);
}

/* A writer holds, a reader of another session waits for it. */
static void test_rwlock_across_leader_change(void)
{
    zkf_client_t *a = zt_client_at(hosts, 4000), *b = zt_client_at(hosts, 4000);
    CU_ASSERT_FATAL(a && b);
    zkf_rwlock_t *w, *r;
    zkf_rwlock_create(a, "/zkf-test/ensemble-rw", NULL, &w);
    zkf_rwlock_create(b, "/zkf-test/ensemble-rw", NULL, &r);
    uint64_t t1, t3;
    CU_ASSERT_FATAL(zkf_rwlock_acquire(w, ZKF_RWLOCK_WRITE, deadline_ms(a), &t1) == 0);
    result_t rr = RESULT_INIT;
    CU_ASSERT_FATAL(zkf_rwlock_acquire_async(r, ZKF_RWLOCK_READ, -1, on_rw, &rr) == 0);
    CU_ASSERT_FATAL(ZT_WAIT_UNTIL(zkf_rwlock_node(r, (char[128]){0}, 128) == 0, deadline_ms(b)));
    int stopped = change_leader(a, b);
    CU_ASSERT_FATAL(stopped > 0);
    CU_ASSERT_EQUAL(zkf_rwlock_state(w), ZKF_LOCK_HELD); /* the session survived */
    CU_ASSERT_EQUAL(result_calls(&rr), 0);
    CU_ASSERT_EQUAL(zkf_rwlock_release(w), 0);
    CU_ASSERT(ZT_WAIT_UNTIL(result_calls(&rr) == 1, deadline_ms(b)));
    CU_ASSERT_EQUAL(rr.status, 0);
    CU_ASSERT(rr.token > t1);
    CU_ASSERT_EQUAL(zkf_rwlock_release(r), 0);
    CU_ASSERT_EQUAL(zkf_rwlock_acquire(w, ZKF_RWLOCK_WRITE, deadline_ms(a), &t3), 0);
    CU_ASSERT(t3 > rr.token);
    CU_ASSERT_EQUAL(zkf_rwlock_release(w), 0);
    restart_node(stopped);
    zkf_rwlock_destroy(w);
    zkf_rwlock_destroy(r);
    zkf_client_destroy(a);
    zkf_client_destroy(b);
}

/* Lease nodes of the semaphore at path: held, and the gate holder's. */
static size_t lease_nodes(zkf_client_t *c, const char *path)
{
    zkf_contender_t *list;
    size_t n;
    if (zkf_semaphore_leases(c, path, &list, &n) != 0)
        return (size_t)-1;
    zkf_contenders_free(list, n);
    return n;
}

/* The only lease is held; a contender of another session waits for it
 * (holding the gate, its lease node made, a children watch armed). */
static void test_semaphore_across_leader_change(void)
{
    zkf_client_t *a = zt_client_at(hosts, 4000), *b = zt_client_at(hosts, 4000);
    CU_ASSERT_FATAL(a && b);
    zkf_semaphore_t *h, *w;
    zkf_semaphore_create(a, "/zkf-test/ensemble-sem", 1, NULL, &h);
    zkf_semaphore_create(b, "/zkf-test/ensemble-sem", 1, NULL, &w);
    uint64_t t1, t3;
    CU_ASSERT_FATAL(zkf_semaphore_acquire(h, deadline_ms(a), &t1) == 0);
    result_t rw = RESULT_INIT;
    CU_ASSERT_FATAL(zkf_semaphore_acquire_async(w, -1, on_sem, &rw) == 0);
    CU_ASSERT_FATAL(ZT_WAIT_UNTIL(lease_nodes(a, "/zkf-test/ensemble-sem") == 2, deadline_ms(b)));
    int stopped = change_leader(a, b);
    CU_ASSERT_FATAL(stopped > 0);
    CU_ASSERT_EQUAL(zkf_semaphore_state(h), ZKF_LOCK_HELD);
    CU_ASSERT_EQUAL(result_calls(&rw), 0);
    CU_ASSERT_EQUAL(zkf_semaphore_release(h), 0);
    CU_ASSERT(ZT_WAIT_UNTIL(result_calls(&rw) == 1, deadline_ms(b)));
    CU_ASSERT_EQUAL(rw.status, 0);
    CU_ASSERT(rw.token > t1);
    CU_ASSERT_EQUAL(zkf_semaphore_release(w), 0);
    CU_ASSERT_EQUAL(zkf_semaphore_acquire(h, deadline_ms(a), &t3), 0);
    CU_ASSERT(t3 > rw.token);
    CU_ASSERT_EQUAL(zkf_semaphore_release(h), 0);
    restart_node(stopped);
    zkf_semaphore_destroy(h);
    zkf_semaphore_destroy(w);
    zkf_client_destroy(a);
    zkf_client_destroy(b);
}

/* A leader leads on across the change; its follower leads after it. */
static void test_election_across_leader_change(void)
{
    zkf_client_t *a = zt_client_at(hosts, 4000), *b = zt_client_at(hosts, 4000);
    CU_ASSERT_FATAL(a && b);
    zkf_election_t *l, *f;
    zkf_election_create(a, "/zkf-test/ensemble-el", NULL, &l);
    zkf_election_create(b, "/zkf-test/ensemble-el", NULL, &f);
    uint64_t t1, t3;
    CU_ASSERT_FATAL(zkf_election_lead(l, deadline_ms(a), &t1) == 0);
    result_t rf = RESULT_INIT;
    CU_ASSERT_FATAL(zkf_election_lead_async(f, -1, on_lead, &rf) == 0);
    CU_ASSERT_FATAL(ZT_WAIT_UNTIL(zkf_election_node(f, (char[128]){0}, 128) == 0, deadline_ms(b)));
    int stopped = change_leader(a, b);
    CU_ASSERT_FATAL(stopped > 0);
    CU_ASSERT_EQUAL(zkf_election_state(l), ZKF_ELECTION_LEADER);
    CU_ASSERT_EQUAL(zkf_election_state(f), ZKF_ELECTION_FOLLOWER);
    CU_ASSERT_EQUAL(zkf_election_step_down(l, 0), 0);
    CU_ASSERT(ZT_WAIT_UNTIL(result_calls(&rf) == 1, deadline_ms(b)));
    CU_ASSERT_EQUAL(rf.status, 0);
    CU_ASSERT(rf.token > t1);
    CU_ASSERT_EQUAL(zkf_election_step_down(f, 0), 0);
    CU_ASSERT_EQUAL(zkf_election_lead(l, deadline_ms(a), &t3), 0);
    CU_ASSERT(t3 > rf.token);
    CU_ASSERT_EQUAL(zkf_election_step_down(l, 0), 0);
    restart_node(stopped);
    zkf_election_destroy(l);
    zkf_election_destroy(f);
    zkf_client_destroy(a);
    zkf_client_destroy(b);
}

int main(void)
{
    const char *src = getenv("ZKFENCE_SOURCE_DIR");
    snprintf(scripts_zk, sizeof(scripts_zk), "%s/scripts/zk", src ? src : ".");
    snprintf(free_port, sizeof(free_port), "%s/scripts/free-port", src ? src : ".");
    if (start_ensemble() != 0) {
        fprintf(stderr, "could not start a 3-node ensemble\n");
        stop_ensemble();
        return 1;
    }
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("ensemble", NULL, NULL);
    CU_add_test(s, "tokens rise across a leader change", test_tokens_across_leader_change);
    CU_add_test(s, "read/write lock across a leader change", test_rwlock_across_leader_change);
    CU_add_test(s, "semaphore across a leader change", test_semaphore_across_leader_change);
    CU_add_test(s, "election across a leader change", test_election_across_leader_change);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    stop_ensemble();
    return failed ? 1 : 0;
}
