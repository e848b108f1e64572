/* Helpers of the suites of the read/write lock, the semaphore and the
 * election (header-only): the fault relay in front of the server, the
 * client's own watch table (white-box), counting nodes on the server,
 * recorders for completions and events, and deadlines.
 *
 * Deadlines: every wait for a condition is bounded by rt_deadline(), a
 * multiple of the negotiated session timeout with room for a busy machine
 * (and valgrind), never a bare number. */
#ifndef RECIPES_SUPPORT_H
#define RECIPES_SUPPORT_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zookeeper/zookeeper.h>

#include "internal.h"
#include "zkf_test.h"
#include "zkrelay.h"

#define RT_SESSION_MS 4000 /* ordinary clients */

/* How long a condition that needs the server (and maybe a session
 * timeout) may take: eight session timeouts of `c`, at least 20 s. */
static inline int rt_deadline(zkf_client_t *c)
{
    int t = c ? zkf_client_session_timeout(c) : 0;
    if (t <= 0)
        t = RT_SESSION_MS;
    int ms = 8 * t;
    return ms < 20000 ? 20000 : ms;
}

/* As rt_deadline, for waits on events that involve no session timeout:
 * still generous (the machine is shared and valgrind is slow). */
#define RT_QUICK_MS 20000

static inline zkrelay_t *rt_relay(void)
{
    char host[256];
    snprintf(host, sizeof(host), "%s", zt_hosts());
    host[strcspn(host, ",/")] = '\0';
    char *colon = strrchr(host, ':');
    if (colon == NULL)
        return NULL;
    *colon = '\0';
    return zkrelay_start(host, atoi(colon + 1));
}

static inline zkf_client_t *rt_client_via(zkrelay_t *r, int session_ms)
{
    char hosts[64];
    snprintf(hosts, sizeof(hosts), "127.0.0.1:%d", zkrelay_port(r));
    return zt_client_at(hosts, session_ms);
}

/* Watches armed in the client's own table. */
static inline int rt_watches(zkf_client_t *c)
{
    int n = 0;
    pthread_mutex_lock(&c->mu);
    for (zkf__watch_t *w = c->watches; w; w = w->next)
        n++;
    pthread_mutex_unlock(&c->mu);
    return n;
}

/* Children of `dir` on the server whose name starts with `prefix` (NULL:
 * all); -1 on error, 0 if dir does not exist. */
static inline int rt_children(zkf_client_t *c, const char *dir, const char *prefix)
{
    struct String_vector sv = {0, NULL};
    int rc = zoo_get_children(zkf_client_zhandle(c), dir, 0, &sv);
    if (rc == ZNONODE)
        return 0;
    if (rc != ZOK)
        return -1;
    int n = 0;
    for (int i = 0; i < sv.count; i++)
        n += prefix == NULL || strncmp(sv.data[i], prefix, strlen(prefix)) == 0;
    deallocate_String_vector(&sv);
    return n;
}

/* ---- completions: one callback, recorded, waited for ---- */

typedef struct rt_result {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int calls;
    int status;
    uint64_t token;
} rt_result_t;

#define RT_RESULT_INIT                                                                             \
    {                                                                                              \
        PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 1, 0                               \
    }

static inline void rt_result_set(rt_result_t *r, int status, uint64_t token)
{
    pthread_mutex_lock(&r->mu);
    r->calls++;
    r->status = status;
    r->token = token;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static inline int rt_calls(rt_result_t *r)
{
    pthread_mutex_lock(&r->mu);
    int n = r->calls;
    pthread_mutex_unlock(&r->mu);
    return n;
}

/* Waits for the first call, at most ms; returns the number of calls. */
static inline int rt_result_wait(rt_result_t *r, int ms)
{
    return ZT_WAIT_UNTIL(rt_calls(r) > 0, ms) ? rt_calls(r) : 0;
}

/* ---- events: every state change, in order ---- */

typedef struct rt_events {
    pthread_mutex_t mu;
    int n;
    int state[64];
    uint64_t token[64];
} rt_events_t;

#define RT_EVENTS_INIT                                                                             \
    {                                                                                              \
        PTHREAD_MUTEX_INITIALIZER, 0, {0},                                                         \
        {                                                                                          \
            0                                                                                      \
        }                                                                                          \
    }

static inline void rt_event(rt_events_t *e, int state, uint64_t token)
{
    pthread_mutex_lock(&e->mu);
    if (e->n < 64) {
        e->state[e->n] = state;
        e->token[e->n] = token;
        e->n++;
    }
    pthread_mutex_unlock(&e->mu);
}

/* How many events of `state` were recorded. */
static inline int rt_count(rt_events_t *e, int state)
{
    pthread_mutex_lock(&e->mu);
    int k = 0;
    for (int i = 0; i < e->n; i++)
        k += e->state[i] == state;
    pthread_mutex_unlock(&e->mu);
    return k;
}

/* Whether the last event is `state` with `token`. */
static inline int rt_last_is(rt_events_t *e, int state, uint64_t token)
{
    pthread_mutex_lock(&e->mu);
    int is = e->n > 0 && e->state[e->n - 1] == state && e->token[e->n - 1] == token;
    pthread_mutex_unlock(&e->mu);
    return is;
}

/* ---- shared memory for contention across processes ---- */

typedef struct rt_shared {
    atomic_int readers; /* holding a read (or a lease, or leading) right now */
    atomic_int writers; /* holding a write right now */
    atomic_int max_readers;
    atomic_int violations; /* the recipe's rule broken */
    atomic_int errors;
    atomic_long acquisitions;
    atomic_ullong last_token; /* the highest exclusive token seen */
    atomic_int token_regressions;
} rt_shared_t;

static inline void rt_max(atomic_int *m, int v)
{
    int cur = atomic_load(m);
    while (v > cur && !atomic_compare_exchange_weak(m, &cur, v))
        ;
}

/* An exclusive token must exceed every exclusive token before it. */
static inline void rt_exclusive_token(rt_shared_t *sh, uint64_t token)
{
    unsigned long long prev = atomic_exchange(&sh->last_token, token);
    if (token <= prev)
        atomic_fetch_add(&sh->token_regressions, 1);
}

/* Widens the window in which an overlap would show. */
static inline void rt_linger(void)
{
    for (int i = 0; i < 3; i++)
        sched_yield();
}

/* ---- a holder crashed or paused past its session ----
 * The same check for every recipe whose holdings are the lock's states
 * (the read/write lock, the semaphore), through a table of its calls. */

typedef struct rt_recipe {
    /* A new object at `path`; ev (may be NULL) records its events. */
    void *(*create)(zkf_client_t *c, const char *path, rt_events_t *ev);
    /* The holding of the child (first) or of its successor. */
    int (*acquire)(void *obj, int first, int timeout_ms, uint64_t *token);
    int (*release)(void *obj);
    zkf_lock_state_t (*state)(const void *obj);
    int (*token)(const void *obj, uint64_t *token);
    void (*destroy)(void *obj);
} rt_recipe_t;

/* The child: holds, reports its token on fd; then it is killed, or stopped
 * past its 1 s session and woken, and reports what it saw: LOST by state
 * and by event (with its token), and its old token refused. */
static inline void rt_child_holder(const rt_recipe_t *r, const char *path, int fd)
{
    zkf_client_t *c = zt_client(1000);
    if (c == NULL)
        _exit(3);
    rt_events_t ev = RT_EVENTS_INIT;
    void *obj = r->create(c, path, &ev);
    uint64_t token;
    if (obj == NULL || r->acquire(obj, 1, 10000, &token) != 0)
        _exit(4);
    if (write(fd, &token, sizeof(token)) != sizeof(token))
        _exit(5);
    /* Stopped here, or killed. After SIGCONT: lost, by state and event. */
    ZT_WAIT_UNTIL(r->state(obj) == ZKF_LOCK_LOST && rt_last_is(&ev, ZKF_LOCK_LOST, token),
                  rt_deadline(c));
    uint64_t t2;
    int32_t report[3] = {r->state(obj) == ZKF_LOCK_LOST, rt_last_is(&ev, ZKF_LOCK_LOST, token),
                         r->token(obj, &t2)};
    if (write(fd, report, sizeof(report)) != sizeof(report))
        _exit(6);
    r->destroy(obj);
    zkf_client_destroy(c);
    _exit(0);
}

/* A holder process killed (pause 0) or stopped past its session (pause
 * 1): the successor holds once that session expires, with a higher
 * token; a paused holder, woken, learns that it lost. */
static inline void rt_holder_fault(const rt_recipe_t *r, const char *name, int pause)
{
    char path[128];
    zt_path(path, sizeof(path), name);
    int p[2];
    CU_ASSERT_FATAL(pipe(p) == 0);
    pid_t pid = fork(); /* first: the child must not inherit a client */
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        rt_child_holder(r, path, p[1]);
    }
    close(p[1]);
    uint64_t t1 = 0;
    CU_ASSERT_FATAL(read(p[0], &t1, sizeof(t1)) == sizeof(t1));
    kill(pid, pause ? SIGSTOP : SIGKILL); /* the fault */
    zkf_client_t *c = zt_client(RT_SESSION_MS);
    CU_ASSERT_FATAL(c != NULL);
    void *obj = r->create(c, path, NULL);
    CU_ASSERT_FATAL(obj != NULL);
    uint64_t t2 = 0;
    /* The child's session expires after its timeout: we hold. */
    CU_ASSERT_EQUAL(r->acquire(obj, 0, rt_deadline(c), &t2), 0);
    CU_ASSERT(t2 > t1);
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
    CU_ASSERT_EQUAL(r->state(obj), ZKF_LOCK_HELD);
    CU_ASSERT_EQUAL(r->release(obj), 0);
    r->destroy(obj);
    zkf_client_destroy(c);
    close(p[0]);
}

#endif /* RECIPES_SUPPORT_H */
