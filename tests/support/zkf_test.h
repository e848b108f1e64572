/* Helpers shared by the libzkfence test suites (header-only).
 *
 * Integration suites talk to the ZooKeeper named by $ZKFENCE_TEST_ZK, which
 * scripts/test starts with a short tickTime so that session expiry takes
 * about a second where a test asks for a short session. Waiting is always
 * on a condition with a deadline.
 *
 * Time on a busy machine. Other builds, CPU hogs and valgrind stretch every
 * step, so the suites' timings follow four rules:
 *  - Ordinary tests use sessions of ZT_SESSION_MS, far longer than the
 *    stalls such a machine causes: no session is lost by accident. Tests
 *    about expiry ask for short ones on purpose.
 *  - Something that comes within a round trip or a notification is waited
 *    for, on its condition, for up to zt_soon_ms(): generous, since only a
 *    failing test waits that long.
 *  - Something a session timeout governs (expiry, the local verdict) gets
 *    zt_expiry_ms(T), derived from the timeout T the server negotiated.
 *  - An upper bound on how fast something happens ("lost within a session
 *    timeout") allows, on top, the scheduling delay measured while the test
 *    waited for it (zt_lateness_*): what the load cost, not a guess. On an
 *    idle machine that is a few ms, and the bound is as tight as before. */
#ifndef ZKF_TEST_H
#define ZKF_TEST_H

#include <CUnit/Basic.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zkfence/zkfence.h>

static inline int64_t zt_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Polls `cond` every few ms until it holds or `ms` pass. Used only for
 * state outside this process (the server's view) or across threads where
 * no callback exists to wait on. Returns the last value of cond. */
#define ZT_WAIT_UNTIL(cond, ms)                                                                    \
    ({                                                                                             \
        int64_t zt_deadline_ = zt_now_ms() + (ms);                                                 \
        int zt_ok_;                                                                                \
        while (!(zt_ok_ = !!(cond)) && zt_now_ms() < zt_deadline_)                                 \
            zt_poll_interval();                                                                    \
        zt_ok_;                                                                                    \
    })

static inline void zt_poll_interval(void)
{
    struct timespec ts = {0, 5 * 1000 * 1000};
    nanosleep(&ts, NULL); /* the polling interval of ZT_WAIT_UNTIL, not a wait */
}

/* The session timeout of ordinary tests (scripts/zk allows up to 60 s). */
#define ZT_SESSION_MS 20000

static inline int zt_under_valgrind(void)
{
    const char *v = getenv("ZKFENCE_UNDER_VALGRIND");
    return v != NULL && *v == '1';
}

/* Deadline for what comes within a round trip or a notification. */
static inline int zt_soon_ms(void)
{
    return zt_under_valgrind() ? 120000 : 30000;
}

/* Deadline for what a session timeout of session_ms governs: the server's
 * expiry, or the client's own verdict, comes within one timeout (plus a
 * tick); three, and a round trip's patience, leave room for a busy server. */
static inline int zt_expiry_ms(int session_ms)
{
    return 3 * session_ms + zt_soon_ms();
}

/* Scheduling lateness: a thread that asks for 5 ms naps and records how
 * much later than asked it woke up, the worst case kept. Started before a
 * timed phase and stopped after it, it tells how late any thread of this
 * process (the library's timers, the test's polling) could have run then.
 * On the heap, not the caller's stack: a fatal assertion leaves the
 * function with the probe still running (it is then never stopped). */
typedef struct zt_lateness {
    pthread_t th;
    atomic_int stop;
    atomic_llong worst_ms;
} zt_lateness_t;

static inline void *zt_lateness_main(void *arg)
{
    zt_lateness_t *l = arg;
    while (!atomic_load(&l->stop)) {
        int64_t t0 = zt_now_ms();
        zt_poll_interval();
        long long late = (long long)(zt_now_ms() - t0 - 5);
        if (late > atomic_load(&l->worst_ms))
            atomic_store(&l->worst_ms, late);
    }
    return NULL;
}

/* NULL if out of memory or threads: then no allowance is made. */
static inline zt_lateness_t *zt_lateness_start(void)
{
    zt_lateness_t *l = calloc(1, sizeof(*l));
    if (l != NULL && pthread_create(&l->th, NULL, zt_lateness_main, l) != 0) {
        free(l);
        l = NULL;
    }
    return l;
}

/* Stops the probe and frees it; returns the worst lateness seen, in ms. */
static inline int64_t zt_lateness_stop(zt_lateness_t *l)
{
    if (l == NULL)
        return 0;
    atomic_store(&l->stop, 1);
    pthread_join(l->th, NULL);
    int64_t worst = (int64_t)atomic_load(&l->worst_ms);
    free(l);
    return worst;
}

static inline const char *zt_hosts(void)
{
    const char *h = getenv("ZKFENCE_TEST_ZK");
    if (h == NULL || *h == '\0') {
        fprintf(stderr, "ZKFENCE_TEST_ZK is not set: run the suite through scripts/test\n");
        exit(2);
    }
    return h;
}

static inline zkf_client_t *zt_client_at(const char *hosts, int session_ms)
{
    zkf_client_options_t o;
    zkf_client_options_init(&o);
    o.hosts = hosts;
    o.session_timeout_ms = session_ms;
    o.connect_timeout_ms = zt_soon_ms();
    o.zk_log_level = 0;
    zkf_client_t *c = NULL;
    int rc = zkf_client_connect(&o, &c);
    if (rc != 0)
        fprintf(stderr, "connect %s: %s\n", hosts, zkf_strerror(rc));
    return c;
}

static inline zkf_client_t *zt_client(int session_ms)
{
    return zt_client_at(zt_hosts(), session_ms);
}

/* A lock path unique to this process and call. */
static inline const char *zt_path(char *buf, size_t len, const char *name)
{
    static int seq;
    snprintf(buf, len, "/zkf-test/%s-%d-%d", name, (int)getpid(), ++seq);
    return buf;
}

static inline size_t zt_contenders(zkf_client_t *c, const char *path)
{
    zkf_contender_t *list;
    size_t n;
    if (zkf_lock_contenders(c, path, &list, &n) != 0)
        return (size_t)-1;
    zkf_contenders_free(list, n);
    return n;
}

/* Runs a ZooKeeper four-letter word against the first host of hosts and
 * returns its answer (malloc'ed, NUL-terminated) or NULL. */
char *zt_four_letter(const char *hosts, const char *word);

/* Forces expiry of the session behind `c`: a second handle joins the same
 * session (id + password) and closes it, as ZooKeeper's own tests do. `c`
 * must be cut off meanwhile (relay blackhole), or it takes its session
 * back and the two handles play ping-pong. */
int zt_expire_session(zkf_client_t *c);

#endif
