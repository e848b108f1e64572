/* The zkfence command: exit codes, environment, holders, and killing the
 * child when the lock is lost. */
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "zkf_test.h"
#include "zkrelay.h"

static char zkfence_bin[1024];
static char tmpdir[256];

/* Runs zkfence with argv (NULL-terminated, without argv[0]); returns its
 * exit status (128+N for a signal) and, if out is given, its stdout. */
static int run_cli(const char *const *args, char *out, size_t outlen)
{
    int p[2];
    if (pipe(p) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        const char *argv[32] = {zkfence_bin};
        for (int i = 0; args[i] && i < 30; i++)
            argv[i + 1] = args[i];
        dup2(p[1], 1);
        close(p[0]);
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 2);
        execv(zkfence_bin, (char *const *)argv);
        _exit(127);
    }
    close(p[1]);
    size_t len = 0;
    ssize_t n;
    char sink[256];
    while ((n = read(p[0], out ? out + len : sink, out ? outlen - 1 - len : sizeof(sink))) > 0)
        if (out)
            len += (size_t)n;
    if (out)
        out[len] = '\0';
    close(p[0]);
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    static char buf[4096];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void test_usage_and_help(void)
{
    char out[8192];
    const char *help[] = {"--help", NULL};
    CU_ASSERT_EQUAL(run_cli(help, out, sizeof(out)), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "usage: zkfence lock"));
    const char *none[] = {NULL};
    CU_ASSERT_EQUAL(run_cli(none, NULL, 0), 64);
    const char *bogus[] = {"frobnicate", NULL};
    CU_ASSERT_EQUAL(run_cli(bogus, NULL, 0), 64);
    const char *nocmd[] = {"lock", "-z", zt_hosts(), "/zkf-test/cli", NULL};
    CU_ASSERT_EQUAL(run_cli(nocmd, NULL, 0), 64);
    const char *badw[] = {"lock", "-w", "soon", "/zkf-test/cli", "--", "true", NULL};
    CU_ASSERT_EQUAL(run_cli(badw, NULL, 0), 64);
    /* Beyond INT_MAX ms the wait would overflow: refused, not wrapped. */
    const char *hugew[] = {"lock", "-w", "2147484", "/zkf-test/cli", "--", "true", NULL};
    CU_ASSERT_EQUAL(run_cli(hugew, NULL, 0), 64);
    const char *relative[] = {"lock", "-z", zt_hosts(), "relative", "--", "true", NULL};
    CU_ASSERT_EQUAL(run_cli(relative, NULL, 0), 64);
    const char *lockhelp[] = {"lock", "--help", NULL};
    CU_ASSERT_EQUAL(run_cli(lockhelp, out, sizeof(out)), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "-w SECONDS"));
    const char *holdershelp[] = {"holders", "--help", NULL};
    CU_ASSERT_EQUAL(run_cli(holdershelp, out, sizeof(out)), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "zkfence holders"));
}

static void test_env_and_status(void)
{
    char path[128], file[512], script[4096];
    zt_path(path, sizeof(path), "cli-env");
    snprintf(file, sizeof(file), "%s/env", tmpdir);
    /* COMMAND also lists the holders while it runs: the token it was given
     * must be the one ZooKeeper shows for the holder's node. */
    snprintf(script, sizeof(script),
             "printf '%%s %%s ' \"$ZKFENCE_LOCK\" \"$ZKFENCE_TOKEN\" > %s; "
             "%s holders -z %s %s >> %s; exit 7",
             file, zkfence_bin, zt_hosts(), path, file);
    const char *args[] = {"lock", "-z", zt_hosts(), path, "--", "sh", "-c", script, NULL};
    CU_ASSERT_EQUAL(run_cli(args, NULL, 0), 7); /* COMMAND's status */
    char *env = slurp(file);
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    char lock[256], node[128], sid[64], age[32];
    unsigned long long token = 0, listed = 0;
    unsigned pos = 0;
    CU_ASSERT_EQUAL(sscanf(env, "%255s %llu %u %127s %63s %llu %31s", lock, &token, &pos, node, sid,
                           &listed, age),
                    7);
    CU_ASSERT_STRING_EQUAL(lock, path);
    CU_ASSERT(token > 0);
    CU_ASSERT_EQUAL(pos, 1);
    CU_ASSERT_EQUAL(listed, token);
    CU_ASSERT(age[strlen(age) - 1] == 's' && atof(age) >= 0 && atof(age) < 60);
    zkf_client_t *c = zt_client(ZT_SESSION_MS);
    CU_ASSERT_EQUAL(zt_contenders(c, path), 0); /* released after COMMAND */
    zkf_client_destroy(c);

    /* ZKFENCE_ZOOKEEPER is the default for -z. */
    setenv("ZKFENCE_ZOOKEEPER", zt_hosts(), 1);
    const char *noz[] = {"lock", path, "--", "true", NULL};
    CU_ASSERT_EQUAL(run_cli(noz, NULL, 0), 0);
    unsetenv("ZKFENCE_ZOOKEEPER");

    const char *sig[] = {"lock", "-z", zt_hosts(), path, "--", "sh", "-c", "kill -TERM $$", NULL};
    CU_ASSERT_EQUAL(run_cli(sig, NULL, 0), 128 + SIGTERM);
    const char *missing[] = {"lock", "-z", zt_hosts(), path, "--", "/nonexistent/cmd", NULL};
    CU_ASSERT_EQUAL(run_cli(missing, NULL, 0), 127);
}

static void test_busy_and_unreachable(void)
{
    char path[128];
    zt_path(path, sizeof(path), "cli-busy");
    zkf_client_t *c = zt_client(ZT_SESSION_MS);
    CU_ASSERT_FATAL(c != NULL);
    zkf_lock_t *l;
    zkf_lock_create(c, path, NULL, &l);
    CU_ASSERT_FATAL(zkf_lock_acquire(l, zt_soon_ms(), NULL) == 0);
    const char *try_once[] = {"lock", "-z", zt_hosts(), "-w", "0", path, "--", "true", NULL};
    CU_ASSERT_EQUAL(run_cli(try_once, NULL, 0), 75);
    const char *short_wait[] = {"lock", "-z", zt_hosts(), "-w", "0.5", path, "--", "true", NULL};
    CU_ASSERT_EQUAL(run_cli(short_wait, NULL, 0), 75);

    char out[4096];
    const char *holders[] = {"holders", "-z", zt_hosts(), path, NULL};
    CU_ASSERT_EQUAL(run_cli(holders, out, sizeof(out)), 0);
    char node[128], sid[64];
    unsigned pos = 0;
    unsigned long long token = 0;
    CU_ASSERT_EQUAL(sscanf(out, "%u %127s %63s %llu", &pos, node, sid, &token), 4);
    CU_ASSERT_EQUAL(pos, 1);
    CU_ASSERT_EQUAL(strncmp(node, "lock-", 5), 0);
    char expect_sid[64];
    snprintf(expect_sid, sizeof(expect_sid), "0x%llx",
             (unsigned long long)zkf_client_session_id(c));
    CU_ASSERT_STRING_EQUAL(sid, expect_sid);
    uint64_t held;
    zkf_lock_token(l, &held);
    CU_ASSERT_EQUAL(token, held);
    CU_ASSERT_PTR_NULL(strchr(strchr(out, '\n') + 1, '\n')); /* exactly one line */
    CU_ASSERT_EQUAL(zkf_lock_release(l), 0);
    zkf_lock_destroy(l);
    zkf_client_destroy(c);

    const char *down[] = {"lock", "-z", "127.0.0.1:1", "-w", "1", path, "--", "true", NULL};
    CU_ASSERT_EQUAL(run_cli(down, NULL, 0), 69);
}

/* The lock is lost while COMMAND runs (a partition longer than the
 * session): COMMAND is stopped and zkfence exits 76. */
static void test_child_killed_on_loss(void)
{
    char path[128], pidfile[512], script[2048], hosts[64];
    zt_path(path, sizeof(path), "cli-loss");
    snprintf(pidfile, sizeof(pidfile), "%s/child.pid", tmpdir);
    unlink(pidfile);
    snprintf(script, sizeof(script), "echo $$ > %s.tmp && mv %s.tmp %s && exec sleep 60", pidfile,
             pidfile, pidfile);
    char host[256];
    snprintf(host, sizeof(host), "%s", zt_hosts());
    host[strcspn(host, ",/")] = '\0';
    char *colon = strrchr(host, ':');
    *colon = '\0';
    zkrelay_t *r = zkrelay_start(host, atoi(colon + 1));
    CU_ASSERT_FATAL(r != NULL);
    snprintf(hosts, sizeof(hosts), "127.0.0.1:%d", zkrelay_port(r));

    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 2);
        execl(zkfence_bin, zkfence_bin, "lock", "-z", hosts, "-s", "1500", "-g", "1", path, "--",
              "sh", "-c", script, (char *)NULL);
        _exit(127);
    }
    CU_ASSERT_FATAL(ZT_WAIT_UNTIL(access(pidfile, F_OK) == 0, zt_soon_ms()));
    pid_t child = (pid_t)atoi(slurp(pidfile));
    CU_ASSERT_FATAL(child > 0);
    CU_ASSERT_EQUAL(kill(child, 0), 0);

    zkrelay_set_blackhole(r, 1); /* partition */
    int st = 0;
    /* Lost within the 1.5 s session, then up to the 1 s grace. */
    CU_ASSERT(ZT_WAIT_UNTIL(waitpid(pid, &st, WNOHANG) == pid, zt_expiry_ms(1500) + 1000));
    CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 76);
    /* COMMAND is gone (reaped by zkfence, so kill(0) fails). */
    CU_ASSERT_EQUAL(kill(child, 0), -1);
    zkrelay_stop(r);
}

/* COMMAND ignores SIGTERM: after the grace period it gets SIGKILL. */
static void test_sigkill_after_grace(void)
{
    char path[128], pidfile[512], script[2048], hosts[64], host[256];
    zt_path(path, sizeof(path), "cli-grace");
    snprintf(pidfile, sizeof(pidfile), "%s/stubborn.pid", tmpdir);
    unlink(pidfile);
    /* An ignored signal stays ignored across exec. */
    snprintf(script, sizeof(script),
             "trap '' TERM; echo $$ > %s.tmp && mv %s.tmp %s && exec sleep 60", pidfile, pidfile,
             pidfile);
    snprintf(host, sizeof(host), "%s", zt_hosts());
    host[strcspn(host, ",/")] = '\0';
    char *colon = strrchr(host, ':');
    *colon = '\0';
    zkrelay_t *r = zkrelay_start(host, atoi(colon + 1));
    CU_ASSERT_FATAL(r != NULL);
    snprintf(hosts, sizeof(hosts), "127.0.0.1:%d", zkrelay_port(r));
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 2);
        execl(zkfence_bin, zkfence_bin, "lock", "-z", hosts, "-s", "1500", "-g", "2", path, "--",
              "sh", "-c", script, (char *)NULL);
        _exit(127);
    }
    CU_ASSERT_FATAL(ZT_WAIT_UNTIL(access(pidfile, F_OK) == 0, zt_soon_ms()));
    pid_t child = (pid_t)atoi(slurp(pidfile));
    CU_ASSERT_FATAL(child > 0);
    zkrelay_set_blackhole(r, 1); /* partition: the lock is lost */
    /* Once COMMAND has had SIGTERM it is still there (it ignores it)... */
    int st = 0;
    int64_t t0 = zt_now_ms();
    CU_ASSERT(ZT_WAIT_UNTIL(waitpid(pid, &st, WNOHANG) == pid, zt_expiry_ms(1500) + 2000));
    int64_t waited = zt_now_ms() - t0;
    CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 76);
    /* ...so zkfence could only end after the 2 s grace, with SIGKILL. */
    CU_ASSERT(waited >= 2000);
    CU_ASSERT_EQUAL(kill(child, 0), -1);
    zkrelay_stop(r);
}

/* SIGTERM while waiting: the wait is cancelled, our queued node removed at
 * once (not after a session timeout), COMMAND never runs, exit 128+15. */
static void test_signal_while_waiting(void)
{
    char path[128], marker[512], script[1024];
    zt_path(path, sizeof(path), "cli-wait-signal");
    snprintf(marker, sizeof(marker), "%s/ran", tmpdir);
    unlink(marker);
    snprintf(script, sizeof(script), "touch %s", marker);
    zkf_client_t *c = zt_client(ZT_SESSION_MS);
    CU_ASSERT_FATAL(c != NULL);
    zkf_lock_t *l;
    zkf_lock_create(c, path, NULL, &l);
    CU_ASSERT_FATAL(zkf_lock_acquire(l, zt_soon_ms(), NULL) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 2);
        /* A session far longer than the test: only the cancel can remove
         * its node in time. */
        execl(zkfence_bin, zkfence_bin, "lock", "-z", zt_hosts(), "-s", "30000", path, "--", "sh",
              "-c", script, (char *)NULL);
        _exit(127);
    }
    CU_ASSERT_FATAL(ZT_WAIT_UNTIL(zt_contenders(c, path) == 2, zt_soon_ms()));
    CU_ASSERT_EQUAL(kill(pid, SIGTERM), 0);
    int st = 0;
    CU_ASSERT(ZT_WAIT_UNTIL(waitpid(pid, &st, WNOHANG) == pid, zt_soon_ms()));
    CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 128 + SIGTERM);
    CU_ASSERT_EQUAL(zt_contenders(c, path), 1); /* only our holding is left */
    CU_ASSERT_EQUAL(access(marker, F_OK), -1);  /* COMMAND never ran */
    CU_ASSERT_EQUAL(zkf_lock_release(l), 0);
    zkf_lock_destroy(l);
    zkf_client_destroy(c);
}

int main(void)
{
    zt_hosts();
    const char *bin = getenv("ZKFENCE_BIN_DIR");
    snprintf(zkfence_bin, sizeof(zkfence_bin), "%s/zkfence", bin ? bin : "build/bin");
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/zkfence-cli-test.XXXXXX");
    if (mkdtemp(tmpdir) == NULL)
        return 1;
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("zkfence command", NULL, NULL);
    CU_add_test(s, "usage errors and --help", test_usage_and_help);
    CU_add_test(s, "environment and exit status", test_env_and_status);
    CU_add_test(s, "busy, holders, unreachable", test_busy_and_unreachable);
    CU_add_test(s, "child killed when the lock is lost", test_child_killed_on_loss);
    CU_add_test(s, "SIGKILL after the grace period", test_sigkill_after_grace);
    CU_add_test(s, "a signal while waiting cancels the wait", test_signal_while_waiting);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        failed++;
    return failed ? 1 : 0;
}
