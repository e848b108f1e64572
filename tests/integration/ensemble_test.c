/* Tokens across a leader change, on a 3-node loopback ensemble that this
 * suite starts itself (scripts/zk ensemble) and stops by PID. */
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

static int leader_node(void)
{
    for (int i = 1; i <= 3; i++) {
        char hp[32];
        snprintf(hp, sizeof(hp), "127.0.0.1:%d", base_port + i - 1);
        char *out = zt_four_letter(hp, "srvr");
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
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    stop_ensemble();
    return failed ? 1 : 0;
}
