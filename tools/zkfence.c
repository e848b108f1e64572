/* zkfence: run a command under a ZooKeeper lock, like flock(1), under a
 * read or write lock, with a semaphore's lease, or while this process is an
 * election's leader, and show who holds and who waits.
 *
 *   zkfence lock [-z HOSTS] [-w SECONDS] [-s SESSION_MS] [-g GRACE_S] [--fence-advance URL]
 *                LOCKPATH -- COMMAND [ARG...]
 *   zkfence rwlock --read|--write [lock's options] LOCKPATH -- COMMAND [ARG...]
 *   zkfence semaphore -n N [-z HOSTS] [-w SECONDS] [-s SESSION_MS] [-g GRACE_S]
 *                     SEMAPHOREPATH -- COMMAND [ARG...]
 *   zkfence elect [-z HOSTS] [-w SECONDS] [-s SESSION_MS] [-g GRACE_S] [--id ID]
 *                 ELECTIONPATH -- COMMAND [ARG...]
 *   zkfence holders [-z HOSTS] [-w SECONDS] [--json] LOCKPATH
 *
 * rwlock, semaphore and elect have the exit codes of `lock`, their holding
 * (a read or write lock, a lease, leadership) for the lock: 75 not acquired
 * in time, 76 lost while COMMAND ran; semaphore exits 64 when the
 * semaphore's stored N is not -n.
 * Exit codes follow sysexits(3) where one fits: 64 usage, 69 ZooKeeper
 * unreachable (or the chroot in HOSTS missing: EX_UNAVAILABLE covers a
 * resource that does not exist), 75 not acquired in time; 76 means the
 * lock was lost while COMMAND ran (COMMAND was terminated); 79 means
 * --fence-advance failed (the lock was released, COMMAND not run).
 * Otherwise `lock` exits with
 * COMMAND's status (128+N if it died of signal N). SIGTERM, SIGINT, SIGHUP
 * or SIGQUIT while `lock` still waits cancels the wait (our queued node is
 * removed at once, not left for a session timeout) and exits 128+N. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zkfence/zkfence.h>
#include <zookeeper/zookeeper.h>

#include "fence_advance.h"

#define EXIT_USAGE 64
#define EXIT_UNAVAILABLE 69
#define EXIT_SOFTWARE 70
#define EXIT_TEMPFAIL 75
#define EXIT_LOST 76
#define EXIT_FENCE 79 /* --fence-advance failed: not in sysexits(3), distinct from COMMAND's */
#define FENCE_ADVANCE_TIMEOUT_MS 30000

#define DEFAULT_HOSTS "127.0.0.1:2181"
#define DEFAULT_SESSION_MS 10000
#define DEFAULT_GRACE_S 5
#define DEFAULT_CONNECT_MS 15000

static const char usage_text[] =
    "usage: zkfence lock [-z HOSTS] [-w SECONDS] [-s SESSION_MS] [-g GRACE_S]\n"
    "                    [--fence-advance URL] LOCKPATH -- COMMAND [ARG...]\n"
    "       zkfence rwlock --read|--write [-z HOSTS] [-w SECONDS] [-s SESSION_MS] [-g GRACE_S]\n"
    "                      [--fence-advance URL] LOCKPATH -- COMMAND [ARG...]\n"
    "       zkfence semaphore -n N [-z HOSTS] [-w SECONDS] [-s SESSION_MS] [-g GRACE_S]\n"
    "                         SEMAPHOREPATH -- COMMAND [ARG...]\n"
    "       zkfence elect [-z HOSTS] [-w SECONDS] [-s SESSION_MS] [-g GRACE_S] [--id ID]\n"
    "                     ELECTIONPATH -- COMMAND [ARG...]\n"
    "       zkfence holders [-z HOSTS] [-w SECONDS] [--json] LOCKPATH\n"
    "       zkfence --help | --version\n"
    "\n"
    "lock     Acquire the ZooKeeper lock LOCKPATH, run COMMAND with ZKFENCE_LOCK and\n"
    "         ZKFENCE_TOKEN (the fencing token, decimal) in its environment, release the\n"
    "         lock when COMMAND exits, and exit with COMMAND's status. If the lock is lost\n"
    "         while COMMAND runs (session expired, or disconnected for a whole session\n"
    "         timeout), COMMAND gets SIGTERM, then SIGKILL after GRACE_S seconds, and\n"
    "         zkfence exits with 76.\n"
    "rwlock   As lock, under the read/write lock LOCKPATH: --read shares it with other\n"
    "         readers, --write excludes everyone (FIFO: a writer is not starved). Not the\n"
    "         same lock as `lock LOCKPATH`. --fence-advance only with --write.\n"
    "semaphore As lock, with one of the N leases of SEMAPHOREPATH (each its own token);\n"
    "         ZKFENCE_SEMAPHORE is SEMAPHOREPATH. N is stored with the semaphore: another\n"
    "         -n than the stored one is refused (exit 64).\n"
    "elect    Take part in the leader election ELECTIONPATH; once this process leads, run\n"
    "         COMMAND with ZKFENCE_ELECTION and ZKFENCE_LOCK (both ELECTIONPATH) and\n"
    "         ZKFENCE_TOKEN (the leader's fencing token) in its environment, step down when\n"
    "         it exits, and exit with its status. If leadership is lost while COMMAND runs,\n"
    "         COMMAND gets SIGTERM, then SIGKILL after GRACE_S seconds, and zkfence exits\n"
    "         with 76. --id ID names this participant in listings (default host:pid).\n"
    "holders  Print one line per contender for LOCKPATH in queue order (the holder first):\n"
    "         position, node name, owner session id, token, age. With --json, one JSON\n"
    "         object: {\"lock\": LOCKPATH, \"contenders\": [{\"position\", \"node\",\n"
    "         \"owner\" (session id, hex string), \"token\" (decimal string), \"created_ms\",\n"
    "         \"sequence\", \"holder\" (true for the first)}, ...]}.\n"
    "         LOCKPATH may also be a read/write lock, an election (participants, leader\n"
    "         first) or a semaphore (its leases); the node names say which.\n"
    "\n"
    "  -z HOSTS       ZooKeeper connection string, host:port[,host:port...][/chroot]\n"
    "                 (default: $ZKFENCE_ZOOKEEPER, else " DEFAULT_HOSTS "); a chroot must exist\n"
    "  -w, --wait SECONDS\n"
    "                 lock, rwlock, semaphore, elect: wait at most SECONDS for the lock\n"
    "                 (lease, leadership), connecting included (default: forever, after\n"
    "                 at most 15 s to connect; 0: try once);\n"
    "                 holders: wait at most SECONDS for ZooKeeper (default 15).\n"
    "                 At most 2147483 (about 24.8 days); fractions allowed\n"
    "  -s SESSION_MS  session timeout in milliseconds (default 10000)\n"
    "  -g GRACE_S     seconds between SIGTERM and SIGKILL on lock loss (default 5)\n"
    "  --fence-advance URL\n"
    "                 lock, rwlock --write: right after acquiring, before COMMAND starts,\n"
    "                 have the zkfence-proxy at URL (e.g. http://127.0.0.1:9000) raise\n"
    "                 the lock's mark to the new token (POST URL/_zkfence/fence-advance),\n"
    "                 fencing every older holder. The proxy authenticates: the request is\n"
    "                 signed (SigV4) with the key in AWS_ACCESS_KEY_ID and\n"
    "                 AWS_SECRET_ACCESS_KEY, which needs write rights on a bucket or\n"
    "                 admin rights (region: AWS_REGION, AWS_DEFAULT_REGION, else\n"
    "                 us-east-1; https: the CA in AWS_CA_BUNDLE, else the system's).\n"
    "                 If it fails, the lock is released and zkfence exits 79\n"
    "  --json         holders: print JSON instead of lines\n"
    "\n"
    "exit codes: COMMAND's status; 64 usage error; 69 ZooKeeper unreachable, or the\n"
    "chroot in HOSTS missing; 75 lock (lease, leadership) not acquired in time; 76 lock\n"
    "(lease, leadership) lost while COMMAND ran; 79 --fence-advance failed; 70 internal\n"
    "error; 128+N when signal N (TERM, INT, HUP, QUIT) stopped the wait.\n";

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "zkfence: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry 'zkfence --help'.\n");
    va_end(ap);
    return EXIT_USAGE;
}

static const char *default_hosts(void)
{
    const char *h = getenv("ZKFENCE_ZOOKEEPER");
    return h && *h ? h : DEFAULT_HOSTS;
}

/* The longest -w: the wait is handed to the library in int milliseconds,
 * so anything above INT_MAX / 1000 s (about 24.8 days) would overflow. */
#define MAX_WAIT_S (INT_MAX / 1000)

/* Parses a non-negative decimal number with an optional fraction
 * ("2.5"), at most MAX_WAIT_S; returns -1 on junk or a larger value. */
static double parse_seconds(const char *s)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= 0 && v <= MAX_WAIT_S))
        return -1;
    return v;
}

static int parse_int(const char *s, int lo, int hi)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    return (int)v;
}

/* Why a TCP connection to one "host:port" of the connection string fails
 * (or "accepts connections"), in at most timeout_ms: the cause a user can
 * act on, which the client library does not report. */
static void probe_host(const char *hostport, int timeout_ms, char *out, size_t len)
{
    char host[256];
    snprintf(host, sizeof(host), "%s", hostport);
    char *colon = strrchr(host, ':');
    if (colon == NULL) {
        snprintf(out, len, "no port");
        return;
    }
    *colon = '\0';
    const char *name = host;
    if (host[0] == '[' && colon > host + 1 && colon[-1] == ']') { /* [v6]:port */
        colon[-1] = '\0';
        name = host + 1;
    }
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_socktype = SOCK_STREAM;
    int gai = getaddrinfo(name, colon + 1, &hints, &ai);
    if (gai != 0) {
        snprintf(out, len, "%s", gai_strerror(gai));
        return;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int err = fd < 0 ? errno : 0;
    if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        err = errno;
        if (err == EINPROGRESS) {
            struct pollfd p = {fd, POLLOUT, 0};
            socklen_t sl = sizeof(err);
            if (poll(&p, 1, timeout_ms) == 1)
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl);
            else
                err = ETIMEDOUT;
        }
    }
    if (fd >= 0)
        close(fd);
    freeaddrinfo(ai);
    if (err == 0)
        snprintf(out, len, "accepts connections, but no session was set up");
    else
        snprintf(out, len, "%s", strerror(err));
}

/* The connection string's host list, without its chroot. */
static void hosts_only(const char *hosts, char *out, size_t len)
{
    snprintf(out, len, "%s", hosts);
    out[strcspn(out, "/")] = '\0';
}

/* Says, for each server of `hosts`, why no session came. */
static void explain_unreachable(const char *hosts, int waited_ms)
{
    char list[1024];
    hosts_only(hosts, list, sizeof(list));
    fprintf(stderr, "zkfence: no ZooKeeper session with %s within %.1f s:", list,
            waited_ms / 1000.0);
    const char *sep = " ";
    for (char *save = NULL, *h = strtok_r(list, ",", &save); h; h = strtok_r(NULL, ",", &save)) {
        char why[160];
        probe_host(h, 1000, why, sizeof(why));
        fprintf(stderr, "%s%s: %s", sep, h, why);
        sep = "; ";
    }
    fprintf(stderr, "\n(-z HOSTS or $ZKFENCE_ZOOKEEPER names the servers, -w SECONDS how long to "
                    "wait)\n");
}

/* ZooKeeper applies a chroot on the client side and never checks that it
 * exists: without this, `lock` would fail with a bare ZooKeeper error and
 * `holders` list nothing. With a chroot, "/" is the chroot itself. */
static int check_chroot(zkf_client_t *c, const char *hosts)
{
    const char *chroot = strchr(hosts, '/');
    if (chroot == NULL || strcmp(chroot, "/") == 0)
        return 0;
    struct Stat st;
    int zrc = zoo_exists(zkf_client_zhandle(c), "/", 0, &st);
    if (zrc == ZOK)
        return 0;
    char list[1024];
    hosts_only(hosts, list, sizeof(list));
    if (zrc == ZNONODE)
        fprintf(stderr, "zkfence: chroot %s does not exist on %s (create it, or drop it from -z)\n",
                chroot, list);
    else
        fprintf(stderr, "zkfence: checking chroot %s on %s: %s\n", chroot, list, zerror(zrc));
    return EXIT_UNAVAILABLE;
}

static int connect_client(const char *hosts, int session_ms, int connect_ms, zkf_client_t **c)
{
    zkf_client_options_t o;
    zkf_client_options_init(&o);
    o.hosts = hosts;
    o.session_timeout_ms = session_ms;
    o.connect_timeout_ms = connect_ms;
    o.zk_log_level = 0;
    int rc = zkf_client_connect(&o, c);
    if (rc == ZKF_ECONNECT) {
        explain_unreachable(hosts, connect_ms);
        return EXIT_UNAVAILABLE;
    }
    if (rc != 0) {
        fprintf(stderr, "zkfence: ZooKeeper at %s: %s\n", hosts, zkf_strerror(rc));
        return rc == ZKF_EINVAL ? EXIT_USAGE : EXIT_UNAVAILABLE;
    }
    rc = check_chroot(*c, hosts);
    if (rc != 0)
        zkf_client_destroy(*c);
    return rc;
}

/* -w: seconds to milliseconds for the library, at least 1 (0 would mean
 * "the default"). */
static int wait_ms(double wait_s)
{
    int ms = (int)(wait_s * 1000.0 + 0.5);
    return ms < 1 ? 1 : ms;
}

/* ---- holders ---- */

/* The participants of an election, as contenders (their ids left out). */
static int participants(zkf_client_t *c, const char *path, zkf_contender_t **out, size_t *n)
{
    zkf_participant_t *p;
    int rc = zkf_election_participants(c, path, &p, n);
    if (rc != 0 || *n == 0)
        return rc;
    zkf_contender_t *list = calloc(*n, sizeof(*list));
    for (size_t i = 0; list && i < *n; i++) {
        list[i] =
            (zkf_contender_t){p[i].node, p[i].owner, p[i].token, p[i].created_ms, p[i].sequence};
        p[i].node = NULL; /* moved */
    }
    zkf_participants_free(p, *n);
    *out = list;
    if (list == NULL)
        *n = 0;
    return list ? 0 : ZKF_ENOMEM;
}

/* LOCKPATH holds no exclusive lock's nodes: it may be another recipe's
 * path. The first that has nodes there is listed. */
static int other_recipes(zkf_client_t *c, const char *path, zkf_contender_t **out, size_t *n)
{
    int (*const listings[])(zkf_client_t *, const char *, zkf_contender_t **,
                            size_t *) = {zkf_rwlock_contenders, participants, zkf_semaphore_leases};
    int rc = 0;
    for (size_t i = 0; rc == 0 && *n == 0 && i < sizeof(listings) / sizeof(listings[0]); i++)
        rc = listings[i](c, path, out, n);
    return rc;
}

/* A JSON string: quotes, backslashes and control bytes escaped; other
 * bytes as they are (lock paths and node names are ZooKeeper's UTF-8). */
static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

/* The --json schema (documented in the help, the README and the man page):
 * numbers that can exceed 2^53 (session ids, tokens) are strings. */
static void print_holders_json(const char *path, const zkf_contender_t *list, size_t n)
{
    printf("{\"lock\":");
    json_string(stdout, path);
    printf(",\"contenders\":[");
    for (size_t i = 0; i < n; i++) {
        printf("%s{\"position\":%zu,\"node\":", i ? "," : "", i + 1);
        json_string(stdout, list[i].node);
        printf(",\"owner\":\"0x%" PRIx64 "\",\"token\":\"%" ZKF_TOKEN_FMT "\","
               "\"created_ms\":%" PRId64 ",\"sequence\":%" PRIu32 ",\"holder\":%s}",
               (uint64_t)list[i].owner, list[i].token, list[i].created_ms, list[i].sequence,
               i == 0 ? "true" : "false");
    }
    printf("]}\n");
}

static void print_holders_lines(const zkf_contender_t *list, size_t n)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    for (size_t i = 0; i < n; i++) {
        double age = (double)(now_ms - list[i].created_ms) / 1000.0;
        printf("%zu %s 0x%" PRIx64 " %" ZKF_TOKEN_FMT " %.3fs\n", i + 1, list[i].node,
               (uint64_t)list[i].owner, list[i].token, age < 0 ? 0.0 : age);
    }
}

static int cmd_holders(int argc, char **argv)
{
    const char *hosts = default_hosts();
    double wait_s = DEFAULT_CONNECT_MS / 1000.0;
    int opt, json = 0;
    optind = 1;
    static const struct option longopts[] = {{"help", no_argument, NULL, 'h'},
                                             {"wait", required_argument, NULL, 'w'},
                                             {"json", no_argument, NULL, 'j'},
                                             {0, 0, 0, 0}};
    while ((opt = getopt_long(argc, argv, "+z:w:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'z':
            hosts = optarg;
            break;
        case 'w':
            if ((wait_s = parse_seconds(optarg)) < 0)
                return usage_error("bad -w value '%s' (seconds, at most %d)", optarg, MAX_WAIT_S);
            break;
        case 'j':
            json = 1;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return 0;
        default:
            return usage_error("%s", "bad option");
        }
    }
    if (argc - optind != 1)
        return usage_error("%s", "holders takes exactly one LOCKPATH");
    const char *path = argv[optind];
    if (path[0] != '/')
        return usage_error("LOCKPATH must be an absolute ZooKeeper path, not '%s'", path);

    zkf_client_t *c;
    int rc = connect_client(hosts, DEFAULT_SESSION_MS, wait_ms(wait_s), &c);
    if (rc != 0)
        return rc;
    zkf_contender_t *list;
    size_t n;
    rc = zkf_lock_contenders(c, path, &list, &n);
    if (rc == 0 && n == 0)
        rc = other_recipes(c, path, &list, &n);
    if (rc != 0) {
        fprintf(stderr, "zkfence: listing %s: %s\n", path, zkf_strerror(rc));
        zkf_client_destroy(c);
        return rc == ZKF_EINVAL ? EXIT_USAGE : EXIT_UNAVAILABLE;
    }
    if (json)
        print_holders_json(path, list, n);
    else
        print_holders_lines(list, n);
    zkf_contenders_free(list, n);
    zkf_client_destroy(c);
    return 0;
}

/* ---- lock ---- */

/* Self-pipe: SIGCHLD, forwarded signals and the lock's loss all wake the
 * main loop through it. Bytes: 'c' child, 'l' lost, or the signal number. */
static int wake_fd[2] = {-1, -1};

static void on_signal(int sig)
{
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    if (write(wake_fd[1], &b, 1) < 0) {
        /* the pipe is full: the main loop is awake already */
    }
    errno = saved;
}

static int setup_signals(void)
{
    if (pipe2(wake_fd, O_CLOEXEC | O_NONBLOCK) != 0)
        return -1;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    int sigs[] = {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT};
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        if (sigaction(sigs[i], &sa, NULL) != 0)
            return -1;
    return 0;
}

/* The acquisition runs asynchronously so that the main thread can watch
 * the wake pipe meanwhile: a terminating signal cancels the wait. */
typedef struct acquiring {
    atomic_int done;
    int status;
    uint64_t token;
} acquiring_t;

static void acquired(acquiring_t *a, int status, uint64_t token)
{
    a->status = status;
    a->token = token;
    atomic_store(&a->done, 1);
    unsigned char b = 'a';
    if (write(wake_fd[1], &b, 1) < 0) {
        /* the pipe is full: the main loop is awake already */
    }
}

static int is_stop_signal(unsigned char b)
{
    return b == SIGTERM || b == SIGINT || b == SIGHUP || b == SIGQUIT;
}

/* Waits for the acquisition `a` started, but a stop signal cancels it
 * (cancel(obj)): *stopped_by is then the signal (and the result
 * ZKF_ECANCELED, or 0 if it was granted in the same instant: the caller
 * gives it back). */
static int wait_or_stop(acquiring_t *a, int (*cancel)(void *), void *obj, uint64_t *token,
                        int *stopped_by)
{
    *stopped_by = 0;
    while (!atomic_load(&a->done)) {
        struct pollfd p = {wake_fd[0], POLLIN, 0};
        if (poll(&p, 1, -1) <= 0)
            continue;
        unsigned char buf[64];
        ssize_t n = read(wake_fd[0], buf, sizeof(buf));
        for (ssize_t i = 0; i < n; i++) {
            if (is_stop_signal(buf[i]) && *stopped_by == 0) {
                *stopped_by = buf[i];
                cancel(obj); /* the callback follows with ZKF_ECANCELED */
            }
        }
    }
    *token = a->token;
    return a->status;
}

static pid_t spawn(char **cmd, const char *path, uint64_t token)
{
    char tok[32];
    snprintf(tok, sizeof(tok), "%" ZKF_TOKEN_FMT, token);
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    int sigs[] = {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT};
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaction(sigs[i], &dfl, NULL);
    if (setenv("ZKFENCE_LOCK", path, 1) != 0 || setenv("ZKFENCE_TOKEN", tok, 1) != 0)
        _exit(EXIT_SOFTWARE);
    execvp(cmd[0], cmd);
    fprintf(stderr, "zkfence: cannot run %s: %s\n", cmd[0], strerror(errno));
    _exit(errno == ENOENT ? 127 : 126);
}

static int exit_status_of(int st)
{
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
    return EXIT_SOFTWARE;
}

/* Waits for `pid` for at most `ms` (negative: forever) while draining the
 * wake pipe. Returns 1 and sets *status once it exited. */
static int reap(pid_t pid, int ms, int *status, int *lost, pid_t fwd_to)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid)
            return 1;
        int left = -1;
        if (ms >= 0) {
            struct timespec t;
            clock_gettime(CLOCK_MONOTONIC, &t);
            int spent = (int)((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
            if (spent >= ms)
                return 0;
            left = ms - spent;
        }
        struct pollfd p = {wake_fd[0], POLLIN, 0};
        if (poll(&p, 1, left) > 0) {
            unsigned char buf[64];
            ssize_t n = read(wake_fd[0], buf, sizeof(buf));
            for (ssize_t i = 0; i < n; i++) {
                if (buf[i] == 'l')
                    *lost = 1;
                else if (buf[i] != SIGCHLD && fwd_to > 0)
                    kill(fwd_to, buf[i]); /* pass terminal and service signals on */
            }
            if (*lost && ms < 0)
                return 0; /* let the caller react to the loss */
        }
    }
}

/* Runs COMMAND while we hold `what` (a lock, a leadership) with `token`:
 * COMMAND's exit status; EXIT_LOST if the holding was lost meanwhile
 * (COMMAND got SIGTERM, then SIGKILL after grace_s); -1 if it could not
 * be started. */
static int supervise(char **cmd, const char *path, uint64_t token, int grace_s, const char *what)
{
    pid_t pid = spawn(cmd, path, token);
    if (pid < 0) {
        perror("zkfence: fork");
        return -1;
    }
    int status = 0, lost = 0;
    if (reap(pid, -1, &status, &lost, pid))
        return exit_status_of(status);
    /* The holding is gone while COMMAND runs: stop it before it acts as
     * if it still held it. */
    fprintf(stderr, "zkfence: %s %s lost (token %" ZKF_TOKEN_FMT "); stopping %s\n", what, path,
            token, cmd[0]);
    kill(pid, SIGTERM);
    if (!reap(pid, grace_s * 1000, &status, &lost, 0)) {
        kill(pid, SIGKILL);
        reap(pid, -1, &status, &lost, 0);
    }
    return EXIT_LOST;
}

/* ---- running COMMAND while holding ----
 * lock, rwlock, semaphore and elect differ only in the recipe object they
 * hold; its calls sit behind one table, and acquiring (a stop signal
 * cancels the wait), the fence-advance, supervising COMMAND and giving
 * the holding back are written once. */

typedef struct held held_t;
struct held {
    const char *what; /* for messages: "lock", "read lock", "lease of semaphore", ... */
    const char *env;  /* also set to the path in COMMAND's environment, or NULL */
    const char *path;
    void *obj;
    int mode; /* rwlock: ZKF_RWLOCK_READ or ZKF_RWLOCK_WRITE */
    int (*acquire_async)(held_t *h, int timeout_ms, acquiring_t *a);
    int (*cancel)(held_t *h);
    int (*give_back)(held_t *h); /* release or step down: 0, ZKF_ELOCKLOST, ... */
    void (*destroy)(held_t *h);
};

/* Every recipe's event callback: a loss wakes the main loop ('l'), which
 * stops COMMAND; connection changes are said on stderr. */
static void holding_event(const held_t *h, int lost, int suspended, int back)
{
    if (lost) {
        unsigned char b = 'l';
        if (write(wake_fd[1], &b, 1) < 0) {
            /* the pipe is full: the main loop is awake already */
        }
    } else if (suspended) {
        fprintf(stderr, "zkfence: connection to ZooKeeper lost; %s %s may be lost\n", h->what,
                h->path);
    } else if (back) {
        fprintf(stderr, "zkfence: connection back; %s %s still held\n", h->what, h->path);
    }
}

static void state_event(const held_t *h, zkf_lock_state_t st)
{
    holding_event(h, st == ZKF_LOCK_LOST, st == ZKF_LOCK_SUSPENDED, st == ZKF_LOCK_HELD);
}

static int cancel_held(void *h)
{
    return ((held_t *)h)->cancel(h);
}

/* -- the exclusive lock -- */

static void on_lock_event(zkf_lock_t *l, zkf_lock_state_t st, uint64_t token, void *arg)
{
    state_event(arg, st);
}

static void on_lock_acquired(zkf_lock_t *l, int status, uint64_t token, void *arg)
{
    acquired(arg, status, token);
}

static int lock_acquire(held_t *h, int timeout_ms, acquiring_t *a)
{
    return zkf_lock_acquire_async(h->obj, timeout_ms, on_lock_acquired, a);
}

static int lock_cancel(held_t *h)
{
    return zkf_lock_cancel(h->obj);
}

static int lock_release(held_t *h)
{
    return zkf_lock_release(h->obj);
}

static void lock_destroy(held_t *h)
{
    zkf_lock_destroy(h->obj);
}

/* -- the read/write lock -- */

static void on_rw_event(zkf_rwlock_t *rw, zkf_lock_state_t st, uint64_t token, void *arg)
{
    state_event(arg, st);
}

static void on_rw_acquired(zkf_rwlock_t *rw, int status, uint64_t token, void *arg)
{
    acquired(arg, status, token);
}

static int rw_acquire(held_t *h, int timeout_ms, acquiring_t *a)
{
    return zkf_rwlock_acquire_async(h->obj, (zkf_rwlock_mode_t)h->mode, timeout_ms, on_rw_acquired,
                                    a);
}

static int rw_cancel(held_t *h)
{
    return zkf_rwlock_cancel(h->obj);
}

static int rw_release(held_t *h)
{
    return zkf_rwlock_release(h->obj);
}

static void rw_destroy(held_t *h)
{
    zkf_rwlock_destroy(h->obj);
}

/* -- the semaphore -- */

static void on_sem_event(zkf_semaphore_t *s, zkf_lock_state_t st, uint64_t token, void *arg)
{
    state_event(arg, st);
}

static void on_sem_acquired(zkf_semaphore_t *s, int status, uint64_t token, void *arg)
{
    acquired(arg, status, token);
}

static int sem_acquire(held_t *h, int timeout_ms, acquiring_t *a)
{
    return zkf_semaphore_acquire_async(h->obj, timeout_ms, on_sem_acquired, a);
}

static int sem_cancel(held_t *h)
{
    return zkf_semaphore_cancel(h->obj);
}

static int sem_release(held_t *h)
{
    return zkf_semaphore_release(h->obj);
}

static void sem_destroy(held_t *h)
{
    zkf_semaphore_destroy(h->obj);
}

/* -- the election -- */

static void on_election_event(zkf_election_t *e, zkf_election_state_t st, uint64_t token, void *arg)
{
    holding_event(arg, st == ZKF_ELECTION_LOST, st == ZKF_ELECTION_SUSPENDED,
                  st == ZKF_ELECTION_LEADER);
}

static void on_led(zkf_election_t *e, int status, uint64_t token, void *arg)
{
    acquired(arg, status, token);
}

static int election_lead(held_t *h, int timeout_ms, acquiring_t *a)
{
    return zkf_election_lead_async(h->obj, timeout_ms, on_led, a);
}

static int election_cancel(held_t *h)
{
    return zkf_election_cancel(h->obj);
}

static int election_step_down(held_t *h)
{
    return zkf_election_step_down(h->obj, 0);
}

static void election_destroy(held_t *h)
{
    zkf_election_destroy(h->obj); /* steps down if it led in the same instant */
}

/* -- options -- */

/* What a running subcommand was told. */
typedef struct run_opts {
    const char *hosts, *path, *advance_url, *id;
    char **cmd;
    double wait_s;
    int session_ms, grace_s;
    int mode;   /* rwlock: ZKF_RWLOCK_READ, ZKF_RWLOCK_WRITE; -1 unset */
    int leases; /* semaphore: -n; 0 unset */
} run_opts_t;

/* The options a subcommand takes beyond -z -w -s -g -h. */
enum { X_ADVANCE = 1, X_ID = 2, X_MODE = 4, X_LEASES = 8 };

static int option_extra(int opt)
{
    switch (opt) {
    case 'F':
        return X_ADVANCE;
    case 'I':
        return X_ID;
    case 'R':
    case 'W':
        return X_MODE;
    case 'n':
        return X_LEASES;
    }
    return 0;
}

/* Parses the options (those of every running subcommand, and `extras`),
 * then PATH [--] COMMAND [ARG...]; `noun` names PATH in messages. Returns
 * -1 to go on, else the exit code (0 after --help). */
static int parse_run(int argc, char **argv, const char *noun, int extras, run_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->hosts = default_hosts();
    o->wait_s = -1;
    o->session_ms = DEFAULT_SESSION_MS;
    o->grace_s = DEFAULT_GRACE_S;
    o->mode = -1;
    static const struct option longopts[] = {{"help", no_argument, NULL, 'h'},
                                             {"wait", required_argument, NULL, 'w'},
                                             {"fence-advance", required_argument, NULL, 'F'},
                                             {"id", required_argument, NULL, 'I'},
                                             {"read", no_argument, NULL, 'R'},
                                             {"write", no_argument, NULL, 'W'},
                                             {0, 0, 0, 0}};
    optind = 1;
    int opt;
    while ((opt = getopt_long(argc, argv, "+z:w:s:g:n:h", longopts, NULL)) != -1) {
        if (option_extra(opt) & ~extras)
            return usage_error("%s", "bad option");
        switch (opt) {
        case 'F':
            if (strncmp(optarg, "http://", 7) != 0 && strncmp(optarg, "https://", 8) != 0)
                return usage_error("--fence-advance takes the proxy's http:// or https:// URL, "
                                   "not '%s'",
                                   optarg);
            o->advance_url = optarg;
            break;
        case 'I':
            if (strlen(optarg) > 1024)
                return usage_error("%s", "--id takes at most 1024 bytes");
            o->id = optarg;
            break;
        case 'R':
        case 'W':
            if (o->mode >= 0)
                return usage_error("%s", "give one of --read and --write");
            o->mode = opt == 'R' ? ZKF_RWLOCK_READ : ZKF_RWLOCK_WRITE;
            break;
        case 'n':
            if ((o->leases = parse_int(optarg, 1, 1000000)) < 0)
                return usage_error("bad -n value '%s'", optarg);
            break;
        case 'z':
            o->hosts = optarg;
            break;
        case 'w':
            if ((o->wait_s = parse_seconds(optarg)) < 0)
                return usage_error("bad -w value '%s' (seconds, at most %d)", optarg, MAX_WAIT_S);
            break;
        case 's':
            if ((o->session_ms = parse_int(optarg, 1, 3600 * 1000)) < 0)
                return usage_error("bad -s value '%s'", optarg);
            break;
        case 'g':
            if ((o->grace_s = parse_int(optarg, 0, 3600)) < 0)
                return usage_error("bad -g value '%s'", optarg);
            break;
        case 'h':
            fputs(usage_text, stdout);
            return 0;
        default:
            return usage_error("%s", "bad option");
        }
    }
    if (optind >= argc)
        return usage_error("missing %s", noun);
    o->path = argv[optind++];
    if (optind < argc && strcmp(argv[optind], "--") == 0)
        optind++;
    if (optind >= argc)
        return usage_error("%s", "missing COMMAND");
    o->cmd = &argv[optind];
    if (o->path[0] != '/')
        return usage_error("%s must be an absolute ZooKeeper path, not '%s'", noun, o->path);
    return -1;
}

static int ms_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (int)((t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000);
}

/* Connects, bounded by -w together with the acquisition that follows:
 * *timeout_ms is what is left of it for acquiring (-1: forever). Returns
 * 0 or the exit code. */
static int run_connect(const run_opts_t *o, struct timespec *t0, zkf_client_t **c)
{
    if (setup_signals() != 0) {
        perror("zkfence: signals");
        return EXIT_SOFTWARE;
    }
    if (o->advance_url != NULL && zkfence_fence_advance_init() != 0) {
        fprintf(stderr, "zkfence: cannot initialise libcurl for --fence-advance\n");
        return EXIT_SOFTWARE;
    }
    clock_gettime(CLOCK_MONOTONIC, t0);
    int connect_ms = o->wait_s > 0 ? wait_ms(o->wait_s) : DEFAULT_CONNECT_MS;
    return connect_client(o->hosts, o->session_ms, connect_ms, c);
}

/* Acquires h, runs COMMAND while it is held and gives it back; destroys h
 * and the client. Returns the exit code. */
static int run_held(zkf_client_t *c, held_t *h, const run_opts_t *o, const struct timespec *t0)
{
    const char *path = o->path;
    char **cmd = o->cmd;
    int timeout_ms = o->wait_s < 0 ? -1 : (int)(o->wait_s * 1000.0 + 0.5);
    if (timeout_ms > 0)
        timeout_ms = timeout_ms > ms_since(t0) ? timeout_ms - ms_since(t0) : 0;
    acquiring_t a = {0};
    uint64_t token = 0;
    int stopped_by = 0;
    int rc = h->acquire_async(h, timeout_ms, &a);
    if (rc == 0)
        rc = wait_or_stop(&a, cancel_held, h, &token, &stopped_by);
    int code;
    char why[512];
    if (stopped_by != 0) {
        fprintf(stderr, "zkfence: %s while waiting for %s %s; not running %s\n",
                strsignal(stopped_by), h->what, path, cmd[0]);
        if (rc == 0)
            h->give_back(h); /* granted in the same instant */
        code = 128 + stopped_by;
    } else if (rc != 0) {
        fprintf(stderr, "zkfence: %s %s not acquired: %s\n", h->what, path, zkf_strerror(rc));
        code = rc == ZKF_ETIMEDOUT || rc == ZKF_EBUSY ? EXIT_TEMPFAIL
               : rc == ZKF_ELIMIT                     ? EXIT_USAGE
                                                      : EXIT_UNAVAILABLE;
    } else if (o->advance_url != NULL &&
               zkfence_fence_advance(o->advance_url, path, token, FENCE_ADVANCE_TIMEOUT_MS, why,
                                     sizeof(why))) {
        fprintf(stderr,
                "zkfence: fence-advance of %s %s to token %" ZKF_TOKEN_FMT
                " failed: %s; %s released, %s not run\n",
                h->what, path, token, why, h->what, cmd[0]);
        h->give_back(h);
        code = EXIT_FENCE;
    } else {
        code = EXIT_SOFTWARE;
        if (h->env == NULL || setenv(h->env, path, 1) == 0)
            code = supervise(cmd, path, token, o->grace_s, h->what);
        rc = h->give_back(h);
        if (code < 0) {
            code = EXIT_SOFTWARE;
        } else if (rc == ZKF_ELOCKLOST && code != EXIT_LOST) {
            /* Lost right as COMMAND finished: its work may have overlapped
             * another holder's. Say so. */
            fprintf(stderr, "zkfence: %s %s was lost before release\n", h->what, path);
            code = EXIT_LOST;
        }
    }
    h->destroy(h);
    zkf_client_destroy(c);
    return code;
}

static int cmd_lock(int argc, char **argv)
{
    run_opts_t o;
    int code = parse_run(argc, argv, "LOCKPATH", X_ADVANCE, &o);
    if (code >= 0)
        return code;
    struct timespec t0;
    zkf_client_t *c;
    if ((code = run_connect(&o, &t0, &c)) != 0)
        return code;
    held_t h = {"lock",       NULL,        o.path,       NULL,        0,
                lock_acquire, lock_cancel, lock_release, lock_destroy};
    zkf_lock_options_t lo;
    zkf_lock_options_init(&lo);
    lo.event_cb = on_lock_event;
    lo.event_arg = &h;
    zkf_lock_t *l;
    if (zkf_lock_create(c, o.path, &lo, &l) != 0) {
        zkf_client_destroy(c);
        return usage_error("bad LOCKPATH '%s'", o.path);
    }
    h.obj = l;
    return run_held(c, &h, &o, &t0);
}

static int cmd_rwlock(int argc, char **argv)
{
    run_opts_t o;
    int code = parse_run(argc, argv, "LOCKPATH", X_ADVANCE | X_MODE, &o);
    if (code >= 0)
        return code;
    if (o.mode < 0)
        return usage_error("%s", "rwlock takes --read or --write");
    if (o.advance_url != NULL && o.mode == ZKF_RWLOCK_READ)
        return usage_error("%s", "--fence-advance is for a write lock: readers that overlap "
                                 "hold different tokens, and the newest would fence the others");
    struct timespec t0;
    zkf_client_t *c;
    if ((code = run_connect(&o, &t0, &c)) != 0)
        return code;
    held_t h = {o.mode == ZKF_RWLOCK_READ ? "read lock" : "write lock",
                NULL,
                o.path,
                NULL,
                o.mode,
                rw_acquire,
                rw_cancel,
                rw_release,
                rw_destroy};
    zkf_rwlock_options_t ro;
    zkf_rwlock_options_init(&ro);
    ro.event_cb = on_rw_event;
    ro.event_arg = &h;
    zkf_rwlock_t *rw;
    if (zkf_rwlock_create(c, o.path, &ro, &rw) != 0) {
        zkf_client_destroy(c);
        return usage_error("bad LOCKPATH '%s'", o.path);
    }
    h.obj = rw;
    return run_held(c, &h, &o, &t0);
}

static int cmd_semaphore(int argc, char **argv)
{
    run_opts_t o;
    int code = parse_run(argc, argv, "SEMAPHOREPATH", X_LEASES, &o);
    if (code >= 0)
        return code;
    if (o.leases == 0)
        return usage_error("%s", "semaphore takes -n N, the number of leases");
    struct timespec t0;
    zkf_client_t *c;
    if ((code = run_connect(&o, &t0, &c)) != 0)
        return code;
    held_t h = {"lease of semaphore", "ZKFENCE_SEMAPHORE", o.path,      NULL,       0,
                sem_acquire,          sem_cancel,          sem_release, sem_destroy};
    zkf_semaphore_options_t so;
    zkf_semaphore_options_init(&so);
    so.event_cb = on_sem_event;
    so.event_arg = &h;
    zkf_semaphore_t *s;
    if (zkf_semaphore_create(c, o.path, o.leases, &so, &s) != 0) {
        zkf_client_destroy(c);
        return usage_error("bad SEMAPHOREPATH '%s'", o.path);
    }
    h.obj = s;
    return run_held(c, &h, &o, &t0);
}

/* Runs COMMAND while this process leads the election at PATH: `lock` with
 * leadership for the lock (the top has the exit codes). */
static int cmd_elect(int argc, char **argv)
{
    run_opts_t o;
    int code = parse_run(argc, argv, "ELECTIONPATH", X_ID, &o);
    if (code >= 0)
        return code;
    char host_pid[300];
    if (o.id == NULL) {
        char host[256] = "unknown";
        gethostname(host, sizeof(host) - 1);
        snprintf(host_pid, sizeof(host_pid), "%s:%d", host, (int)getpid());
        o.id = host_pid;
    }
    struct timespec t0;
    zkf_client_t *c;
    if ((code = run_connect(&o, &t0, &c)) != 0)
        return code;
    held_t h = {"leadership of", "ZKFENCE_ELECTION", o.path,          NULL, 0, election_lead,
                election_cancel, election_step_down, election_destroy};
    zkf_election_options_t eo;
    zkf_election_options_init(&eo);
    eo.event_cb = on_election_event;
    eo.event_arg = &h;
    eo.id = o.id;
    zkf_election_t *e;
    if (zkf_election_create(c, o.path, &eo, &e) != 0) {
        zkf_client_destroy(c);
        return usage_error("bad ELECTIONPATH '%s'", o.path);
    }
    h.obj = e;
    return run_held(c, &h, &o, &t0);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage_error("%s", "missing subcommand");
    const char *sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (strcmp(sub, "--version") == 0) {
        printf("zkfence %s\n", zkf_version());
        return 0;
    }
    if (strcmp(sub, "lock") == 0)
        return cmd_lock(argc - 1, argv + 1);
    if (strcmp(sub, "holders") == 0)
        return cmd_holders(argc - 1, argv + 1);
    if (strcmp(sub, "elect") == 0)
        return cmd_elect(argc - 1, argv + 1);
    if (strcmp(sub, "rwlock") == 0)
        return cmd_rwlock(argc - 1, argv + 1);
    if (strcmp(sub, "semaphore") == 0)
        return cmd_semaphore(argc - 1, argv + 1);
    return usage_error("unknown subcommand '%s'", sub);
}
