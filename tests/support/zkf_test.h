/* Helpers shared by the libzkfence test suites (header-only).
 *
 * Integration suites talk to the ZooKeeper named by $ZKFENCE_TEST_ZK, which
 * scripts/test starts with a short tickTime so that session expiry takes
 * about a second. Waiting is always on a condition with a deadline. */
#ifndef ZKF_TEST_H
#define ZKF_TEST_H

#include <CUnit/Basic.h>
#include <errno.h>
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
    o.connect_timeout_ms = 20000;
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
