/* zkfence: run a command under a ZooKeeper lock, like flock(1), and show
 * who holds and who waits.
 *
 *   zkfence lock [-z HOSTS] [-w SECONDS] [-s SESSION_MS] [-g GRACE_S] [--fence-advance URL]
 *                LOCKPATH -- COMMAND [ARG...]
 *   zkfence holders [-z HOSTS] [-w SECONDS] [--json] LOCKPATH
 *
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
    "       zkfence holders [-z HOSTS] [-w SECONDS] [--json] LOCKPATH\n"
    "       zkfence --help | --version\n"
    "\n"
    "lock     Acquire the ZooKeeper lock LOCKPATH, run COMMAND with ZKFENCE_LOCK and\n"
    "         ZKFENCE_TOKEN (the fencing token, decimal) in its environment, release the\n"
    "         lock when COMMAND exits, and exit with COMMAND's status. If the lock is lost\n"
    "         while COMMAND runs (session expired, or disconnected for a whole session\n"
    "         timeout), COMMAND gets SIGTERM, then SIGKILL after GRACE_S seconds, and\n"
    "         zkfence exits with 76.\n"
    "holders  Print one line per contender for LOCKPATH in queue order (the holder first):\n"
    "         position, node name, owner session id, token, age. With --json, one JSON\n"
    "         object: {\"lock\": LOCKPATH, \"contenders\": [{\"position\", \"node\",\n"
    "         \"owner\" (session id, hex string), \"token\" (decimal string), \"created_ms\",\n"
    "         \"sequence\", \"holder\" (true for the first)}, ...]}.\n"
    "\n"
    "  -z HOSTS       ZooKeeper connection string, host:port[,host:port...][/chroot]\n"
    "                 (default: $ZKFENCE_ZOOKEEPER, else " DEFAULT_HOSTS "); a chroot must exist\n"
    "  -w, --wait SECONDS\n"
    "                 lock: wait at most SECONDS for the lock, connecting included\n"
    "                 (default: forever, after at most 15 s to connect; 0: try once);\n"
    "                 holders: wait at most SECONDS for ZooKeeper (default 15).\n"
    "                 At most 2147483 (about 24.8 days); fractions allowed\n"
    "  -s SESSION_MS  session timeout in milliseconds (default 10000)\n"
    "  -g GRACE_S     seconds between SIGTERM and SIGKILL on lock loss (default 5)\n"
    "  --fence-advance URL\n"
    "                 lock: right after acquiring, before COMMAND starts, have the\n"
    "                 zkfence-proxy at URL (e.g. http://127.0.0.1:9000) raise the lock's\n"
    "                 mark to the new token (POST URL/_zkfence/fence-advance), fencing\n"
    "                 every older holder. The proxy authenticates: the request is\n"
    "                 signed (SigV4) with the key in AWS_ACCESS_KEY_ID and\n"
    "                 AWS_SECRET_ACCESS_KEY, which needs write rights on a bucket or\n"
    "                 admin rights (region: AWS_REGION, AWS_DEFAULT_REGION, else\n"
    "                 us-east-1; https: the CA in AWS_CA_BUNDLE, else the system's).\n"
    "                 If it fails, the lock is released and zkfence exits 79\n"
    "  --json         holders: print JSON instead of lines\n"
    "\n"
    "exit codes: COMMAND's status; 64 usage error; 69 ZooKeeper unreachable, or the\n"
    "chroot in HOSTS missing; 75 lock not acquired in time; 76 lock lost while COMMAND\n"
    "ran; 79 --fence-advance failed; 70 internal error; 128+N when signal N (TERM, INT,\n"
    "HUP, QUIT) stopped the wait for the lock.\n";

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

static void on_lock_event(zkf_lock_t *l, zkf_lock_state_t st, uint64_t token, void *arg)
{
    if (st == ZKF_LOCK_LOST) {
        unsigned char b = 'l';
        if (write(wake_fd[1], &b, 1) < 0) {
            /* as above */
        }
    } else if (st == ZKF_LOCK_SUSPENDED) {
        fprintf(stderr, "zkfence: connection to ZooKeeper lost; lock %s may be lost\n",
                zkf_lock_path(l));
    } else if (st == ZKF_LOCK_HELD) {
        fprintf(stderr, "zkfence: connection back; lock %s still held\n", zkf_lock_path(l));
    }
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

static void on_acquired(zkf_lock_t *l, int status, uint64_t token, void *arg)
{
    acquiring_t *a = arg;
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

/* Acquires like zkf_lock_acquire, but a stop signal cancels the wait:
 * *stopped_by is then the signal (and the result ZKF_ECANCELED, or 0 if the
 * lock was granted in the same instant: the caller releases it). */
static int acquire_or_stop(zkf_lock_t *l, int timeout_ms, uint64_t *token, int *stopped_by)
{
    acquiring_t a = {0};
    *stopped_by = 0;
    int rc = zkf_lock_acquire_async(l, timeout_ms, on_acquired, &a);
    if (rc != 0)
        return rc;
    while (!atomic_load(&a.done)) {
        struct pollfd p = {wake_fd[0], POLLIN, 0};
        if (poll(&p, 1, -1) <= 0)
            continue;
        unsigned char buf[64];
        ssize_t n = read(wake_fd[0], buf, sizeof(buf));
        for (ssize_t i = 0; i < n; i++) {
            if (is_stop_signal(buf[i]) && *stopped_by == 0) {
                *stopped_by = buf[i];
                zkf_lock_cancel(l); /* the callback follows with ZKF_ECANCELED */
            }
        }
    }
    *token = a.token;
    return a.status;
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

static int cmd_lock(int argc, char **argv)
{
    const char *hosts = default_hosts();
    double wait_s = -1;
    int session_ms = DEFAULT_SESSION_MS, grace_s = DEFAULT_GRACE_S;
    const char *advance_url = NULL;
    int opt;
    optind = 1;
    static const struct option longopts[] = {{"help", no_argument, NULL, 'h'},
                                             {"wait", required_argument, NULL, 'w'},
                                             {"fence-advance", required_argument, NULL, 'F'},
                                             {0, 0, 0, 0}};
    while ((opt = getopt_long(argc, argv, "+z:w:s:g:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'F':
            if (strncmp(optarg, "http://", 7) != 0 && strncmp(optarg, "https://", 8) != 0)
                return usage_error("--fence-advance takes the proxy's http:// or https:// URL, "
                                   "not '%s'",
                                   optarg);
            advance_url = optarg;
            break;
        case 'z':
            hosts = optarg;
            break;
        case 'w':
            if ((wait_s = parse_seconds(optarg)) < 0)
                return usage_error("bad -w value '%s' (seconds, at most %d)", optarg, MAX_WAIT_S);
            break;
        case 's':
            if ((session_ms = parse_int(optarg, 1, 3600 * 1000)) < 0)
                return usage_error("bad -s value '%s'", optarg);
            break;
        case 'g':
            if ((grace_s = parse_int(optarg, 0, 3600)) < 0)
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
        return usage_error("%s", "missing LOCKPATH");
    const char *path = argv[optind++];
    if (optind < argc && strcmp(argv[optind], "--") == 0)
        optind++;
    if (optind >= argc)
        return usage_error("%s", "missing COMMAND");
    char **cmd = &argv[optind];
    if (path[0] != '/')
        return usage_error("LOCKPATH must be an absolute ZooKeeper path, not '%s'", path);

    if (setup_signals() != 0) {
        perror("zkfence: signals");
        return EXIT_SOFTWARE;
    }
    if (advance_url != NULL && zkfence_fence_advance_init() != 0) {
        fprintf(stderr, "zkfence: cannot initialise libcurl for --fence-advance\n");
        return EXIT_SOFTWARE;
    }
    /* -w bounds connecting and acquiring together. */
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int connect_ms = wait_s > 0 ? wait_ms(wait_s) : DEFAULT_CONNECT_MS;
    zkf_client_t *c;
    int rc = connect_client(hosts, session_ms, connect_ms, &c);
    if (rc != 0)
        return rc;
    zkf_lock_options_t lo;
    zkf_lock_options_init(&lo);
    lo.event_cb = on_lock_event;
    zkf_lock_t *l;
    if (zkf_lock_create(c, path, &lo, &l) != 0) {
        zkf_client_destroy(c);
        return usage_error("bad LOCKPATH '%s'", path);
    }

    uint64_t token = 0;
    int timeout_ms = wait_s < 0 ? -1 : (int)(wait_s * 1000.0 + 0.5);
    if (timeout_ms > 0) {
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        int spent = (int)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
        timeout_ms = timeout_ms > spent ? timeout_ms - spent : 0;
    }
    int stopped_by;
    rc = acquire_or_stop(l, timeout_ms, &token, &stopped_by);
    if (stopped_by != 0) {
        fprintf(stderr, "zkfence: %s while waiting for lock %s; not running %s\n",
                strsignal(stopped_by), path, cmd[0]);
        if (rc == 0)
            zkf_lock_release(l);
        zkf_lock_destroy(l);
        zkf_client_destroy(c);
        return 128 + stopped_by;
    }
    if (rc != 0) {
        int code = rc == ZKF_ETIMEDOUT || rc == ZKF_EBUSY ? EXIT_TEMPFAIL : EXIT_UNAVAILABLE;
        fprintf(stderr, "zkfence: lock %s not acquired: %s\n", path, zkf_strerror(rc));
        zkf_lock_destroy(l);
        zkf_client_destroy(c);
        return code;
    }

    char why[512];
    if (advance_url != NULL && zkfence_fence_advance(advance_url, path, token,
                                                     FENCE_ADVANCE_TIMEOUT_MS, why, sizeof(why))) {
        fprintf(stderr,
                "zkfence: fence-advance of lock %s to token %" ZKF_TOKEN_FMT
                " failed: %s; lock released, %s not run\n",
                path, token, why, cmd[0]);
        zkf_lock_release(l);
        zkf_lock_destroy(l);
        zkf_client_destroy(c);
        return EXIT_FENCE;
    }

    pid_t pid = spawn(cmd, path, token);
    if (pid < 0) {
        perror("zkfence: fork");
        zkf_lock_release(l);
        zkf_lock_destroy(l);
        zkf_client_destroy(c);
        return EXIT_SOFTWARE;
    }
    int status = 0, lost = 0, code;
    if (reap(pid, -1, &status, &lost, pid)) {
        code = exit_status_of(status);
    } else {
        /* The lock is gone while COMMAND runs: stop it before it acts
         * as if it still held the lock. */
        fprintf(stderr, "zkfence: lock %s lost (token %" ZKF_TOKEN_FMT "); stopping %s\n", path,
                token, cmd[0]);
        kill(pid, SIGTERM);
        if (!reap(pid, grace_s * 1000, &status, &lost, 0)) {
            kill(pid, SIGKILL);
            reap(pid, -1, &status, &lost, 0);
        }
        code = EXIT_LOST;
    }
    rc = zkf_lock_release(l);
    if (rc == ZKF_ELOCKLOST && code != EXIT_LOST) {
        /* Lost right as COMMAND finished: its work may have overlapped
         * another holder's. Say so. */
        fprintf(stderr, "zkfence: lock %s was lost before release\n", path);
        code = EXIT_LOST;
    }
    zkf_lock_destroy(l);
    zkf_client_destroy(c);
    return code;
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
    return usage_error("unknown subcommand '%s'", sub);
}
