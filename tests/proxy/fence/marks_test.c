/* The durable mark store and the per-lock section: persistence across
 * close and kill -9, monotonic marks, mutual exclusion per lock and
 * independence across locks, group commit, and failing closed. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <sys/wait.h>

#include "fault_vfs.h"
#include "fence_test.h"

static char dir[256];
static char dbpath[300];

static int setup(void)
{
    ft_mkdtemp(dir, sizeof(dir));
    ft_path(dbpath, sizeof(dbpath), dir, "marks.db");
    return 0;
}

static int teardown(void)
{
    ft_rmtree(dir);
    return 0;
}

/* Removes the database and its WAL so a test starts from nothing. */
static void fresh_db(void)
{
    char p[400];
    unlink(dbpath);
    snprintf(p, sizeof(p), "%s-wal", dbpath);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", dbpath);
    unlink(p);
}

static zkp_marks_t *open_opts(const zkp_marks_options_t *o)
{
    zkp_marks_t *m = NULL;
    char err[256];
    int rc = zkp_marks_open(dbpath, o, &m, err, sizeof(err));
    if (rc != 0)
        fprintf(stderr, "zkp_marks_open: %s (%s)\n", err, zkp_fence_strerror(rc));
    return m;
}

static zkp_marks_t *open_store(void)
{
    return open_opts(NULL);
}

/* A whole fenced write: begin, persist, end. Returns begin's or persist's
 * error, else 0 with *verdict set. */
static int fenced_write(zkp_marks_t *m, const char *lock, uint64_t token, zkp_verdict_t *verdict)
{
    zkp_fence_txn_t *txn = NULL;
    zkp_verdict_t v;
    int rc = zkp_fence_begin(m, lock, token, &txn, &v, NULL, NULL);
    if (verdict != NULL)
        *verdict = v;
    if (rc != 0 || txn == NULL)
        return rc;
    rc = zkp_fence_persist(txn);
    zkp_fence_end(txn);
    return rc;
}

static uint64_t mark_of(zkp_marks_t *m, const char *lock)
{
    uint64_t v = 0;
    return zkp_marks_get(m, lock, &v) == 0 ? v : UINT64_C(0xbad0bad0bad0bad0);
}

/* ------------------------------------------------------------ options */

static void test_options_and_open_errors(void)
{
    zkp_marks_options_t o;
    zkp_marks_options_init(&o);
    CU_ASSERT_EQUAL(o.size, sizeof(o));
    CU_ASSERT(o.group_commit_max_batch > 0);
    CU_ASSERT(o.group_commit_max_wait_us >= 0);
    CU_ASSERT(o.health_probe_interval_ms > 0);

    fresh_db();
    zkp_marks_t *m = NULL;
    char err[256];
    CU_ASSERT_EQUAL(zkp_marks_open(NULL, NULL, &m, err, sizeof(err)), ZKP_FENCE_EINVAL);
    CU_ASSERT_EQUAL(zkp_marks_open(dbpath, NULL, NULL, err, sizeof(err)), ZKP_FENCE_EINVAL);
    o.size = 0;
    CU_ASSERT_EQUAL(zkp_marks_open(dbpath, &o, &m, err, sizeof(err)), ZKP_FENCE_EINVAL);
    o.size = sizeof(o) + 8;
    CU_ASSERT_EQUAL(zkp_marks_open(dbpath, &o, &m, err, sizeof(err)), ZKP_FENCE_EINVAL);
    zkp_marks_options_init(&o);
    o.group_commit_max_batch = -1;
    CU_ASSERT_EQUAL(zkp_marks_open(dbpath, &o, &m, err, sizeof(err)), ZKP_FENCE_EINVAL);
    zkp_marks_options_init(&o);
    o.group_commit_max_wait_us = -5;
    CU_ASSERT_EQUAL(zkp_marks_open(dbpath, &o, &m, err, sizeof(err)), ZKP_FENCE_EINVAL);
    CU_ASSERT_PTR_NULL(m);

    char bad[400];
    ft_path(bad, sizeof(bad), dir, "no/such/dir/marks.db");
    CU_ASSERT_EQUAL(zkp_marks_open(bad, NULL, &m, err, sizeof(err)), ZKP_FENCE_ESTORE);
    CU_ASSERT_PTR_NULL(m);
    CU_ASSERT(err[0] != '\0');

    /* 0 means default, as the proxy's configuration passes it. */
    zkp_marks_options_init(&o);
    o.group_commit_max_batch = 0;
    o.health_probe_interval_ms = 0;
    m = open_opts(&o);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_EQUAL(zkp_marks_healthy(m), 1);
    CU_ASSERT_EQUAL(zkp_marks_count(m), 0);

    /* One process (one handle) at a time. */
    zkp_marks_t *m2 = NULL;
    CU_ASSERT_EQUAL(zkp_marks_open(dbpath, NULL, &m2, err, sizeof(err)), ZKP_FENCE_EBUSY);
    CU_ASSERT_PTR_NULL(m2);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "another process"));
    zkp_marks_close(m);
    zkp_marks_close(NULL);
    m = open_store(); /* free again after close */
    CU_ASSERT_PTR_NOT_NULL(m);
    zkp_marks_close(m);
}

/* ------------------------------------------------- basic persistence */

static const struct {
    const char *lock;
    uint64_t token;
} BASIC[] = {
    {"/locks/zero", 0},
    {"/locks/seat-12", 42},
    {"/locks/int64max", UINT64_C(9223372036854775807)},
    {"/locks/above-int64", UINT64_C(9223372036854775813)},
    {"/locks/max", UINT64_MAX},
    {"/a", 7},
};
#define NBASIC (sizeof(BASIC) / sizeof(BASIC[0]))

static void test_persist_close_reopen(void)
{
    fresh_db();
    zkp_marks_t *m = open_store();
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    for (size_t i = 0; i < NBASIC; i++) {
        zkp_fence_txn_t *txn = NULL;
        zkp_verdict_t v;
        uint64_t before = 99;
        int had = 99;
        CU_ASSERT_EQUAL_FATAL(
            zkp_fence_begin(m, BASIC[i].lock, BASIC[i].token, &txn, &v, &before, &had), 0);
        CU_ASSERT_EQUAL(v, ZKP_VERDICT_ACCEPT_HIGHER);
        CU_ASSERT_EQUAL(had, 0);
        CU_ASSERT_EQUAL(before, 0);
        CU_ASSERT_PTR_NOT_NULL_FATAL(txn);
        uint64_t got;
        CU_ASSERT_EQUAL(zkp_marks_get(m, BASIC[i].lock, &got), 1); /* not yet */
        CU_ASSERT_EQUAL(zkp_fence_persist(txn), 0);
        CU_ASSERT_EQUAL(zkp_marks_get(m, BASIC[i].lock, &got), 0); /* durable now */
        CU_ASSERT_EQUAL(got, BASIC[i].token);
        zkp_fence_end(txn);
    }
    CU_ASSERT_EQUAL(zkp_marks_count(m), NBASIC);
    zkp_marks_close(m);

    m = open_store();
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_EQUAL(zkp_marks_count(m), NBASIC);
    for (size_t i = 0; i < NBASIC; i++)
        CU_ASSERT_EQUAL(mark_of(m, BASIC[i].lock), BASIC[i].token);
    uint64_t got = 5;
    CU_ASSERT_EQUAL(zkp_marks_get(m, "/locks/never", &got), 1);
    CU_ASSERT_EQUAL(got, 5);
    CU_ASSERT_EQUAL(zkp_marks_get(m, NULL, &got), ZKP_FENCE_EINVAL);
    CU_ASSERT_EQUAL(zkp_marks_get(NULL, "/a", &got), ZKP_FENCE_EINVAL);

    /* Ordering across 2^63 survives the disk (SQLite integers are signed). */
    zkp_verdict_t v;
    CU_ASSERT_EQUAL(fenced_write(m, "/locks/above-int64", UINT64_C(9223372036854775807), &v), 0);
    CU_ASSERT_EQUAL(v, ZKP_VERDICT_REJECT_STALE);
    CU_ASSERT_EQUAL(fenced_write(m, "/locks/int64max", UINT64_C(9223372036854775808), &v), 0);
    CU_ASSERT_EQUAL(v, ZKP_VERDICT_ACCEPT_HIGHER);
    CU_ASSERT_EQUAL(fenced_write(m, "/locks/max", UINT64_MAX - 1, &v), 0);
    CU_ASSERT_EQUAL(v, ZKP_VERDICT_REJECT_STALE);
    zkp_marks_close(m);
    m = open_store();
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_EQUAL(mark_of(m, "/locks/int64max"), UINT64_C(9223372036854775808));
    zkp_marks_close(m);
}

static void test_marks_never_go_down(void)
{
    fresh_db();
    zkp_marks_t *m = open_store();
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    zkp_verdict_t v;
    CU_ASSERT_EQUAL(fenced_write(m, "/L", 10, &v), 0);
    CU_ASSERT_EQUAL(v, ZKP_VERDICT_ACCEPT_HIGHER);
    uint64_t commits = zkp_marks_commits(m);

    /* Lower: rejected, the section already left, mark unchanged. */
    zkp_fence_txn_t *txn = (zkp_fence_txn_t *)&v; /* must be overwritten */
    uint64_t before = 0;
    int had = 0;
    CU_ASSERT_EQUAL(zkp_fence_begin(m, "/L", 5, &txn, &v, &before, &had), 0);
    CU_ASSERT_EQUAL(v, ZKP_VERDICT_REJECT_STALE);
    CU_ASSERT_PTR_NULL(txn);
    CU_ASSERT_EQUAL(before, 10);
    CU_ASSERT_EQUAL(had, 1);
    CU_ASSERT_EQUAL(mark_of(m, "/L"), 10);
    zkp_fence_end(txn); /* NULL: no-op */

    /* Equal: accepted, persist writes nothing. Twice, same section. */
    CU_ASSERT_EQUAL_FATAL(zkp_fence_begin(m, "/L", 10, &txn, &v, &before, &had), 0);
    CU_ASSERT_EQUAL(v, ZKP_VERDICT_ACCEPT_EQUAL);
    CU_ASSERT_EQUAL(zkp_fence_persist(txn), 0);
    CU_ASSERT_EQUAL(zkp_fence_persist(txn), 0);
    zkp_fence_end(txn);
    CU_ASSERT_EQUAL(zkp_marks_commits(m), commits);

    /* A persist repeated after a higher one is a no-op too. */
    CU_ASSERT_EQUAL_FATAL(zkp_fence_begin(m, "/L", 11, &txn, &v, NULL, NULL), 0);
    CU_ASSERT_EQUAL(zkp_fence_persist(txn), 0);
    CU_ASSERT_EQUAL(zkp_fence_persist(txn), 0);
    zkp_fence_end(txn);
    CU_ASSERT_EQUAL(zkp_marks_commits(m), commits + 1);
    CU_ASSERT_EQUAL(mark_of(m, "/L"), 11);

    /* An accepted section left without persisting changes nothing, and a
     * lock that never got a mark leaves no trace. */
    CU_ASSERT_EQUAL_FATAL(zkp_fence_begin(m, "/L", 50, &txn, &v, NULL, NULL), 0);
    zkp_fence_end(txn);
    CU_ASSERT_EQUAL_FATAL(zkp_fence_begin(m, "/ghost", 1, &txn, &v, NULL, NULL), 0);
    zkp_fence_end(txn);
    CU_ASSERT_EQUAL(mark_of(m, "/L"), 11);
    CU_ASSERT_EQUAL(zkp_marks_get(m, "/ghost", &before), 1);
    CU_ASSERT_EQUAL(zkp_marks_count(m), 1);
    zkp_marks_close(m);

    m = open_store();
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_EQUAL(mark_of(m, "/L"), 11);
    CU_ASSERT_EQUAL(fenced_write(m, "/L", 3, &v), 0);
    CU_ASSERT_EQUAL(v, ZKP_VERDICT_REJECT_STALE);
    CU_ASSERT_EQUAL(mark_of(m, "/L"), 11);
    zkp_marks_close(m);
}

static void test_begin_arguments(void)
{
    fresh_db();
    zkp_marks_t *m = open_store();
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    zkp_fence_txn_t *txn = NULL;
    zkp_verdict_t v;
    CU_ASSERT_EQUAL(zkp_fence_begin(m, "a b", 1, &txn, &v, NULL, NULL), ZKP_FENCE_EINVAL);
    /* Names that are not canonical are not locks: no mark of their own. */
    CU_ASSERT_EQUAL(zkp_fence_begin(m, "/locks/a/", 1, &txn, &v, NULL, NULL), ZKP_FENCE_EINVAL);
    CU_ASSERT_EQUAL(zkp_fence_begin(m, "//locks/a", 1, &txn, &v, NULL, NULL), ZKP_FENCE_EINVAL);
    CU_ASSERT_EQUAL(zkp_fence_begin(m, "/locks/./a", 1, &txn, &v, NULL, NULL), ZKP_FENCE_EINVAL);
    CU_ASSERT_EQUAL(zkp_fence_begin(m, "a", 1, &txn, &v, NULL, NULL), ZKP_FENCE_EINVAL);
    CU_ASSERT_EQUAL(zkp_fence_begin(m, "", 1, &txn, &v, NULL, NULL), ZKP_FENCE_EINVAL);
    CU_ASSERT_EQUAL(zkp_fence_begin(m, NULL, 1, &txn, &v, NULL, NULL), ZKP_FENCE_EINVAL);
    CU_ASSERT_EQUAL(zkp_fence_begin(NULL, "/a", 1, &txn, &v, NULL, NULL), ZKP_FENCE_EINVAL);
    CU_ASSERT_EQUAL(zkp_fence_begin(m, "/a", 1, NULL, &v, NULL, NULL), ZKP_FENCE_EINVAL);
    CU_ASSERT_EQUAL(zkp_fence_begin(m, "/a", 1, &txn, NULL, NULL, NULL), ZKP_FENCE_EINVAL);
    char big[ZKP_LOCK_NAME_MAX + 2];
    memset(big, 'x', sizeof(big));
    big[0] = '/';
    big[ZKP_LOCK_NAME_MAX + 1] = '\0';
    CU_ASSERT_EQUAL(zkp_fence_begin(m, big, 1, &txn, &v, NULL, NULL), ZKP_FENCE_EINVAL);
    big[ZKP_LOCK_NAME_MAX] = '\0';
    CU_ASSERT_EQUAL(fenced_write(m, big, 1, &v), 0); /* 1024 bytes: fine */
    CU_ASSERT_EQUAL(mark_of(m, big), 1);
    CU_ASSERT_PTR_NULL(txn);
    CU_ASSERT_EQUAL(zkp_fence_persist(NULL), ZKP_FENCE_EINVAL);
    zkp_marks_close(m);
}

/* ------------------------------------------------------------ foreach */

typedef struct seen {
    zkp_marks_t *m;
    char names[64][32];
    uint64_t marks[64];
    int n;
    int stop_after;
} seen_t;

static int collect(const char *lock, uint64_t mark, void *arg)
{
    seen_t *s = arg;
    snprintf(s->names[s->n], sizeof(s->names[s->n]), "%s", lock);
    s->marks[s->n++] = mark;
    /* The callback runs without locks held: it may use the store. */
    if (s->m != NULL) {
        uint64_t v;
        if (zkp_marks_get(s->m, lock, &v) != 0 || v < mark)
            return -100;
        fenced_write(s->m, "/zz-written-during-foreach", 1, NULL);
    }
    return s->n == s->stop_after ? 7 : 0;
}

static void test_foreach_sorted_snapshot(void)
{
    fresh_db();
    zkp_marks_t *m = open_store();
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    static const char *const names[] = {"/m", "/b", "/x/y", "/a", "/z", "/a/b", "/B", "/mm"};
    for (size_t i = 0; i < 8; i++)
        CU_ASSERT_EQUAL(fenced_write(m, names[i], 100 + i, NULL), 0);

    seen_t *s = calloc(1, sizeof(*s));
    s->m = m;
    CU_ASSERT_EQUAL(zkp_marks_foreach(m, collect, s), 0);
    CU_ASSERT_EQUAL(s->n, 8); /* the lock written during the run is not in it */
    for (int i = 1; i < s->n; i++)
        CU_ASSERT(strcmp(s->names[i - 1], s->names[i]) < 0);
    CU_ASSERT_STRING_EQUAL(s->names[0], "/B"); /* strcmp order: 'B' < 'a' */
    CU_ASSERT_EQUAL(s->marks[0], 106);
    CU_ASSERT_EQUAL(zkp_marks_count(m), 9);

    memset(s, 0, sizeof(*s));
    s->stop_after = 3;
    CU_ASSERT_EQUAL(zkp_marks_foreach(m, collect, s), 7);
    CU_ASSERT_EQUAL(s->n, 3);
    CU_ASSERT_EQUAL(zkp_marks_foreach(m, NULL, s), ZKP_FENCE_EINVAL);
    CU_ASSERT_EQUAL(zkp_marks_foreach(NULL, collect, s), ZKP_FENCE_EINVAL);
    free(s);
    zkp_marks_close(m);
}

/* ---------------------------------------------- sections: independence */

typedef struct other_locks {
    zkp_marks_t *m;
    int n;
    int errors;
    int done;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} other_locks_t;

static void *write_other_locks(void *arg)
{
    other_locks_t *o = arg;
    char name[64];
    for (int i = 0; i < o->n; i++) {
        snprintf(name, sizeof(name), "/other/%d", i);
        zkp_verdict_t v;
        if (fenced_write(o->m, name, (uint64_t)i + 1, &v) != 0 || v != ZKP_VERDICT_ACCEPT_HIGHER)
            o->errors++;
    }
    pthread_mutex_lock(&o->mu);
    o->done = 1;
    pthread_cond_signal(&o->cv);
    pthread_mutex_unlock(&o->mu);
    return NULL;
}

static void test_other_locks_do_not_wait(void)
{
    /* While one request sits in the section of /held (the busy flag set,
     * as during its fsync), requests on thousands of other locks, which
     * certainly share /held's stripe, complete. If they waited for /held,
     * the deadline passes and the test fails instead of hanging. */
    fresh_db();
    zkp_marks_t *m = open_store();
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    zkp_fence_txn_t *held = NULL;
    zkp_verdict_t v;
    CU_ASSERT_EQUAL_FATAL(zkp_fence_begin(m, "/held", 1, &held, &v, NULL, NULL), 0);

    other_locks_t o = {.m = m, .n = ft_under_valgrind() ? 600 : 3000};
    pthread_mutex_init(&o.mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&o.cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_t t;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, write_other_locks, &o), 0);

    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += ft_under_valgrind() ? 240 : 60;
    pthread_mutex_lock(&o.mu);
    while (!o.done && pthread_cond_timedwait(&o.cv, &o.mu, &until) != ETIMEDOUT)
        ;
    int done = o.done;
    pthread_mutex_unlock(&o.mu);
    CU_ASSERT_EQUAL(done, 1);

    zkp_fence_end(held); /* lets a stuck writer go, either way */
    pthread_join(t, NULL);
    CU_ASSERT_EQUAL(o.errors, 0);
    CU_ASSERT_EQUAL(zkp_marks_count(m), (size_t)o.n);
    pthread_mutex_destroy(&o.mu);
    pthread_cond_destroy(&o.cv);
    zkp_marks_close(m);
}

/* ------------------------------------------------ sections: exclusion */

typedef struct waiter {
    zkp_marks_t *m;
    atomic_int tid;
    zkp_verdict_t verdict;
    int rc;
} waiter_t;

static void *begin_stale(void *arg)
{
    waiter_t *w = arg;
    atomic_store(&w->tid, (int)gettid());
    zkp_fence_txn_t *txn = NULL;
    w->rc = zkp_fence_begin(w->m, "/excl", 5, &txn, &w->verdict, NULL, NULL);
    zkp_fence_end(txn);
    return NULL;
}

/* The scheduler state of thread tid: 'S' while blocked. */
static char thread_state(int tid)
{
    char path[64], buf[256];
    snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return '?';
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    return p != NULL && p[1] == ' ' ? p[2] : '?';
}

static void test_same_lock_waits(void)
{
    /* A holds /excl with token 10 and no mark yet. B asks with token 5 and
     * must wait: deciding at once it would see no mark and accept. Once A
     * has persisted and left, B must be told its token is stale. */
    fresh_db();
    zkp_marks_t *m = open_store();
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    zkp_fence_txn_t *a = NULL;
    zkp_verdict_t v;
    CU_ASSERT_EQUAL_FATAL(zkp_fence_begin(m, "/excl", 10, &a, &v, NULL, NULL), 0);
    CU_ASSERT_EQUAL(v, ZKP_VERDICT_ACCEPT_HIGHER);

    waiter_t w = {.m = m};
    atomic_init(&w.tid, 0);
    pthread_t t;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, begin_stale, &w), 0);
    CU_ASSERT(FT_WAIT_UNTIL(atomic_load(&w.tid) != 0, 10000));
    CU_ASSERT(FT_WAIT_UNTIL(thread_state(atomic_load(&w.tid)) == 'S', 10000));

    CU_ASSERT_EQUAL(zkp_fence_persist(a), 0);
    zkp_fence_end(a);
    pthread_join(t, NULL);
    CU_ASSERT_EQUAL(w.rc, 0);
    CU_ASSERT_EQUAL(w.verdict, ZKP_VERDICT_REJECT_STALE);
    CU_ASSERT_EQUAL(mark_of(m, "/excl"), 10);
    zkp_marks_close(m);
}

/* ------------------------------------- sections: equal tokens together */

typedef struct begin_arg {
    zkp_marks_t *m;
    const char *lock;
    uint64_t token;
    int rc, persist_rc;
    zkp_verdict_t verdict;
    uint64_t before;
    atomic_int returned;
} begin_arg_t;

/* A whole fenced write on its own thread, with what it was told. */
static void *begin_thread(void *p)
{
    begin_arg_t *a = p;
    zkp_fence_txn_t *txn = NULL;
    a->rc = zkp_fence_begin(a->m, a->lock, a->token, &txn, &a->verdict, &a->before, NULL);
    if (a->rc == 0 && txn != NULL) {
        a->persist_rc = zkp_fence_persist(txn);
        zkp_fence_end(txn);
    }
    atomic_store(&a->returned, 1);
    return NULL;
}

static void begin_arg_init(begin_arg_t *a, zkp_marks_t *m, const char *lock, uint64_t token)
{
    *a = (begin_arg_t){.m = m, .lock = lock, .token = token, .rc = -100, .persist_rc = -100};
    atomic_init(&a->returned, 0);
}

/* Requests whose token equals the mark are inside together; one that
 * raises the mark waits until they have left, and holds back new equal
 * ones meanwhile, which are then stale. */
static void test_equal_tokens_together(void)
{
    fresh_db();
    zkp_marks_t *m = open_store();
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    zkp_verdict_t v;
    CU_ASSERT_EQUAL(fenced_write(m, "/T", 10, &v), 0);
    zkp_fence_txn_t *a = NULL, *b = NULL, *c = (zkp_fence_txn_t *)&v;
    uint64_t before = 0;
    CU_ASSERT_EQUAL_FATAL(zkp_fence_begin(m, "/T", 10, &a, &v, NULL, NULL), 0);
    CU_ASSERT_EQUAL(v, ZKP_VERDICT_ACCEPT_EQUAL);
    /* a second one enters while the first is inside */
    CU_ASSERT_EQUAL_FATAL(zkp_fence_try_begin(m, "/T", 10, &b, &v, &before, NULL), 0);
    CU_ASSERT_PTR_NOT_NULL(b);
    CU_ASSERT_EQUAL(v, ZKP_VERDICT_ACCEPT_EQUAL);
    CU_ASSERT_EQUAL(before, 10);
    CU_ASSERT_EQUAL(zkp_fence_persist(b), 0);
    /* a stale one is decided without waiting for them */
    CU_ASSERT_EQUAL(zkp_fence_try_begin(m, "/T", 9, &c, &v, &before, NULL), 0);
    CU_ASSERT_PTR_NULL(c);
    CU_ASSERT_EQUAL(v, ZKP_VERDICT_REJECT_STALE);
    CU_ASSERT_EQUAL(before, 10);

    /* a raise waits for both */
    begin_arg_t x;
    begin_arg_init(&x, m, "/T", 11);
    pthread_t tx, ty;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&tx, NULL, begin_thread, &x), 0);
    CU_ASSERT(FT_WAIT_UNTIL(zkp_marks_section_waiters(m, "/T") == 1, 10000));
    /* while it waits, no new equal request enters */
    c = (zkp_fence_txn_t *)&v;
    CU_ASSERT_EQUAL(zkp_fence_try_begin(m, "/T", 10, &c, &v, NULL, NULL), ZKP_FENCE_EAGAIN);
    CU_ASSERT_PTR_NULL(c);
    begin_arg_t y;
    begin_arg_init(&y, m, "/T", 10);
    CU_ASSERT_EQUAL_FATAL(pthread_create(&ty, NULL, begin_thread, &y), 0);
    CU_ASSERT(FT_WAIT_UNTIL(zkp_marks_section_waiters(m, "/T") == 2, 10000));
    zkp_fence_end(a);
    CU_ASSERT_EQUAL(atomic_load(&x.returned), 0); /* b is still inside */
    CU_ASSERT_EQUAL(mark_of(m, "/T"), 10);
    zkp_fence_end(b);
    pthread_join(tx, NULL);
    pthread_join(ty, NULL);
    CU_ASSERT_EQUAL(x.rc, 0);
    CU_ASSERT_EQUAL(x.verdict, ZKP_VERDICT_ACCEPT_HIGHER);
    CU_ASSERT_EQUAL(x.persist_rc, 0);
    CU_ASSERT_EQUAL(y.rc, 0);
    CU_ASSERT_EQUAL(y.verdict, ZKP_VERDICT_REJECT_STALE); /* decided after the raise */
    CU_ASSERT_EQUAL(y.before, 11);
    CU_ASSERT_EQUAL(mark_of(m, "/T"), 11);
    CU_ASSERT_EQUAL(zkp_marks_section_waiters(m, "/T"), 0);
    zkp_marks_close(m);
}

/* Requests of the token a waiting raise brings are inside together once
 * it has raised the mark: they waited to enter alone, and enter shared. */
static void test_waiting_raises_enter_together(void)
{
    fresh_db();
    zkp_marks_t *m = open_store();
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    zkp_verdict_t v;
    CU_ASSERT_EQUAL(fenced_write(m, "/W", 10, &v), 0);
    zkp_fence_txn_t *h = NULL;
    CU_ASSERT_EQUAL_FATAL(zkp_fence_begin(m, "/W", 10, &h, &v, NULL, NULL), 0);
    enum { N = 4 };
    begin_arg_t w[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        begin_arg_init(&w[i], m, "/W", 12);
        CU_ASSERT_EQUAL_FATAL(pthread_create(&t[i], NULL, begin_thread, &w[i]), 0);
    }
    CU_ASSERT(FT_WAIT_UNTIL(zkp_marks_section_waiters(m, "/W") == N, 10000));
    zkp_fence_end(h);
    int higher = 0, equal = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        CU_ASSERT_EQUAL(w[i].rc, 0);
        CU_ASSERT_EQUAL(w[i].persist_rc, 0);
        higher += w[i].verdict == ZKP_VERDICT_ACCEPT_HIGHER;
        equal += w[i].verdict == ZKP_VERDICT_ACCEPT_EQUAL;
    }
    CU_ASSERT_EQUAL(higher, 1);
    CU_ASSERT_EQUAL(equal, N - 1);
    CU_ASSERT_EQUAL(mark_of(m, "/W"), 12);
    CU_ASSERT_EQUAL(zkp_marks_section_waiters(m, "/W"), 0);
    zkp_marks_close(m);
}

/* try_begin never waits: not for the section, not for the disk. */
static void test_try_begin_never_waits(void)
{
    fresh_db();
    zkp_marks_t *m = open_store();
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    zkp_fence_txn_t *txn = NULL;
    zkp_verdict_t v;
    uint64_t commits = zkp_marks_commits(m);
    /* a first token would persist: not here, and nothing is left behind */
    CU_ASSERT_EQUAL(zkp_fence_try_begin(m, "/N", 5, &txn, &v, NULL, NULL), ZKP_FENCE_EAGAIN);
    CU_ASSERT_PTR_NULL(txn);
    CU_ASSERT_EQUAL(zkp_marks_count(m), 0);
    CU_ASSERT_EQUAL(zkp_marks_get(m, "/N", &commits), 1);
    CU_ASSERT_EQUAL(zkp_fence_try_begin(NULL, "/N", 5, &txn, &v, NULL, NULL), ZKP_FENCE_EINVAL);
    CU_ASSERT_EQUAL(zkp_fence_try_begin(m, "N", 5, &txn, &v, NULL, NULL), ZKP_FENCE_EINVAL);
    CU_ASSERT_EQUAL(fenced_write(m, "/N", 5, &v), 0);
    commits = zkp_marks_commits(m);
    /* a raise would persist */
    CU_ASSERT_EQUAL(zkp_fence_try_begin(m, "/N", 6, &txn, &v, NULL, NULL), ZKP_FENCE_EAGAIN);
    /* while a raise is inside, nothing is decided: the mark may be changing */
    zkp_fence_txn_t *h = NULL;
    CU_ASSERT_EQUAL_FATAL(zkp_fence_begin(m, "/N", 6, &h, &v, NULL, NULL), 0);
    CU_ASSERT_EQUAL(zkp_fence_try_begin(m, "/N", 5, &txn, &v, NULL, NULL), ZKP_FENCE_EAGAIN);
    CU_ASSERT_EQUAL(zkp_fence_try_begin(m, "/N", 6, &txn, &v, NULL, NULL), ZKP_FENCE_EAGAIN);
    CU_ASSERT_EQUAL(zkp_fence_try_begin(m, "/N", 4, &txn, &v, NULL, NULL), ZKP_FENCE_EAGAIN);
    CU_ASSERT_EQUAL(zkp_fence_persist(h), 0);
    zkp_fence_end(h);
    /* equal and stale now answer at once; equal persists nothing */
    CU_ASSERT_EQUAL_FATAL(zkp_fence_try_begin(m, "/N", 6, &txn, &v, NULL, NULL), 0);
    CU_ASSERT_EQUAL(v, ZKP_VERDICT_ACCEPT_EQUAL);
    CU_ASSERT_EQUAL(zkp_fence_persist(txn), 0);
    zkp_fence_end(txn);
    CU_ASSERT_EQUAL(zkp_fence_try_begin(m, "/N", 5, &txn, &v, NULL, NULL), 0);
    CU_ASSERT_EQUAL(v, ZKP_VERDICT_REJECT_STALE);
    CU_ASSERT_PTR_NULL(txn);
    CU_ASSERT_EQUAL(zkp_marks_commits(m), commits + 1);
    CU_ASSERT_EQUAL(mark_of(m, "/N"), 6);
    /* an unhealthy store refuses an acceptance (fail closed), not a rejection */
    zkp_marks_inject_failure(m, 1);
    CU_ASSERT_EQUAL(fenced_write(m, "/other", 1, &v), ZKP_FENCE_ESTORE);
    CU_ASSERT_EQUAL(zkp_fence_try_begin(m, "/N", 6, &txn, &v, NULL, NULL), ZKP_FENCE_ESTORE);
    CU_ASSERT_PTR_NULL(txn);
    CU_ASSERT_EQUAL(zkp_fence_try_begin(m, "/N", 5, &txn, &v, NULL, NULL), 0);
    CU_ASSERT_EQUAL(v, ZKP_VERDICT_REJECT_STALE);
    zkp_marks_inject_failure(m, 0);
    zkp_marks_close(m);
}

/* ------------------------------------------------ concurrency, 16 threads */

#define CC_THREADS 16
#define CC_LOCKS 4

typedef struct cc_lock {
    char name[32];
    pthread_mutex_t mu;    /* the test's own bookkeeping, not the section */
    int inside;            /* requests inside the section */
    uint64_t inside_token; /* their token (all equal, or it is an overlap) */
    uint64_t *accepted;    /* tokens in the order their writes happened */
    size_t n;
    uint64_t max_accepted;
} cc_lock_t;

typedef struct cc {
    zkp_marks_t *m;
    cc_lock_t locks[CC_LOCKS];
    int iters;
    atomic_int overlaps; /* two requests of different tokens inside one section */
    atomic_int together; /* requests of one token inside together (allowed) */
    atomic_int errors;
    atomic_int bad_rejects; /* rejected although token >= mark_before */
    atomic_int higher;      /* ACCEPT_HIGHER verdicts persisted */
} cc_t;

typedef struct cc_arg {
    cc_t *cc;
    uint64_t rng;
} cc_arg_t;

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void *cc_worker(void *p)
{
    cc_arg_t *a = p;
    cc_t *cc = a->cc;
    for (int i = 0; i < cc->iters; i++) {
        cc_lock_t *l = &cc->locks[xorshift(&a->rng) % CC_LOCKS];
        /* Tokens drift upwards with a wide spread: a mix of higher, equal
         * and stale requests, as with holders coming and going. */
        uint64_t token = (uint64_t)i * 4 + xorshift(&a->rng) % 24;
        zkp_fence_txn_t *txn = NULL;
        zkp_verdict_t v;
        uint64_t before;
        int had;
        if (zkp_fence_begin(cc->m, l->name, token, &txn, &v, &before, &had) != 0) {
            atomic_fetch_add(&cc->errors, 1);
            continue;
        }
        if (v == ZKP_VERDICT_REJECT_STALE) {
            if (!had || token >= before)
                atomic_fetch_add(&cc->bad_rejects, 1);
            continue;
        }
        pthread_mutex_lock(&l->mu);
        if (l->inside > 0 && l->inside_token != token)
            atomic_fetch_add(&cc->overlaps, 1);
        if (l->inside > 0)
            atomic_fetch_add(&cc->together, 1);
        if (v == ZKP_VERDICT_ACCEPT_HIGHER && l->inside > 0)
            atomic_fetch_add(&cc->overlaps, 1); /* a raise is alone */
        l->inside++;
        l->inside_token = token;
        pthread_mutex_unlock(&l->mu);
        if (zkp_fence_persist(txn) != 0) {
            atomic_fetch_add(&cc->errors, 1);
        } else {
            /* "the write", inside the section: the section alone orders it
             * against writes of other tokens (the mutex only keeps the
             * bookkeeping of equal ones, inside together, consistent) */
            pthread_mutex_lock(&l->mu);
            l->accepted[l->n++] = token;
            if (token > l->max_accepted)
                l->max_accepted = token;
            pthread_mutex_unlock(&l->mu);
            if (v == ZKP_VERDICT_ACCEPT_HIGHER)
                atomic_fetch_add(&cc->higher, 1);
        }
        pthread_mutex_lock(&l->mu);
        l->inside--;
        pthread_mutex_unlock(&l->mu);
        zkp_fence_end(txn);
    }
    return NULL;
}

static void test_concurrent_writers(void)
{
    fresh_db();
    zkp_marks_t *m = open_store();
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    cc_t *cc = calloc(1, sizeof(*cc));
    cc->m = m;
    cc->iters = ft_under_valgrind() ? 60 : 400;
    for (int i = 0; i < CC_LOCKS; i++) {
        snprintf(cc->locks[i].name, sizeof(cc->locks[i].name), "/cc/lock-%d", i);
        pthread_mutex_init(&cc->locks[i].mu, NULL);
        cc->locks[i].accepted = calloc((size_t)CC_THREADS * cc->iters, sizeof(uint64_t));
    }
    pthread_t t[CC_THREADS];
    cc_arg_t args[CC_THREADS];
    for (int i = 0; i < CC_THREADS; i++) {
        args[i] = (cc_arg_t){cc, 0x9e3779b97f4a7c15ULL * (uint64_t)(i + 1)};
        CU_ASSERT_EQUAL_FATAL(pthread_create(&t[i], NULL, cc_worker, &args[i]), 0);
    }
    for (int i = 0; i < CC_THREADS; i++)
        pthread_join(t[i], NULL);

    CU_ASSERT_EQUAL(atomic_load(&cc->errors), 0);
    CU_ASSERT_EQUAL(atomic_load(&cc->overlaps), 0);
    CU_ASSERT_EQUAL(atomic_load(&cc->bad_rejects), 0);
    size_t total = 0;
    for (int i = 0; i < CC_LOCKS; i++) {
        cc_lock_t *l = &cc->locks[i];
        int ordered = 1;
        for (size_t j = 1; j < l->n; j++)
            ordered &= l->accepted[j - 1] <= l->accepted[j];
        CU_ASSERT(ordered);
        CU_ASSERT(l->n > 0);
        CU_ASSERT_EQUAL(mark_of(m, l->name), l->max_accepted);
        total += l->n;
    }
    zkp_marks_stats_t st;
    zkp_marks_stats(m, &st);
    CU_ASSERT_EQUAL(st.updates, (uint64_t)atomic_load(&cc->higher));
    CU_ASSERT_EQUAL(st.failed_commits, 0);
    /* Group commit: concurrent persists of different locks shared fsyncs. */
    CU_ASSERT(st.commits < st.updates);
    CU_ASSERT(st.largest_batch > 1);
    printf("\n    %zu accepted writes (%d inside together), %" PRIu64 " mark updates in %" PRIu64
           " commits (largest batch %" PRIu64 ") ",
           total, atomic_load(&cc->together), st.updates, st.commits, st.largest_batch);
    zkp_marks_close(m);

    /* And all of it is on disk. */
    m = open_store();
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    for (int i = 0; i < CC_LOCKS; i++) {
        CU_ASSERT_EQUAL(mark_of(m, cc->locks[i].name), cc->locks[i].max_accepted);
        free(cc->locks[i].accepted);
        pthread_mutex_destroy(&cc->locks[i].mu);
    }
    zkp_marks_close(m);
    free(cc);
}

/* ------------------------- sections: raises, equal, stale, try, repairs */

#define MX_THREADS 10

typedef struct mx {
    zkp_marks_t *m;
    int iters;
    atomic_uint_fast64_t base; /* tokens drift up from here */
    atomic_int finished, errors, overlaps, repairs;
    pthread_mutex_t mu; /* the test's bookkeeping, not the section */
    int alone, shared;
    uint64_t shared_token;
} mx_t;

typedef struct mx_arg {
    mx_t *mx;
    uint64_t rng;
    int repairer;
} mx_arg_t;

/* Inside the section: alone, or together only with the same token. */
static void mx_enter(mx_t *mx, int alone, uint64_t token)
{
    pthread_mutex_lock(&mx->mu);
    if (mx->alone || (mx->shared > 0 && (alone || mx->shared_token != token)))
        atomic_fetch_add(&mx->overlaps, 1);
    if (alone)
        mx->alone = 1;
    else
        mx->shared_token = token, mx->shared++;
    pthread_mutex_unlock(&mx->mu);
}

static void mx_leave(mx_t *mx, int alone)
{
    pthread_mutex_lock(&mx->mu);
    if (alone)
        mx->alone = 0;
    else
        mx->shared--;
    pthread_mutex_unlock(&mx->mu);
}

static void *mx_worker(void *p)
{
    mx_arg_t *a = p;
    mx_t *mx = a->mx;
    for (int i = 0; i < mx->iters; i++) {
        if (a->repairer) {
            /* now and then, lower the mark a little under everyone */
            if (i % 25 != 0)
                continue;
            uint64_t cur = mark_of(mx->m, "/mx");
            int rc =
                zkp_marks_repair(mx->m, "/mx", 0, cur > 3 ? cur - 3 : 1, NULL, NULL, NULL, NULL);
            if (rc == 0)
                atomic_fetch_add(&mx->repairs, 1);
            else if (rc != ZKP_FENCE_ERANGE)
                atomic_fetch_add(&mx->errors, 1);
            continue;
        }
        uint64_t token = atomic_load(&mx->base) + xorshift(&a->rng) % 4;
        if (xorshift(&a->rng) % 40 == 0)
            atomic_fetch_add(&mx->base, 1);
        zkp_fence_txn_t *txn = NULL;
        zkp_verdict_t v;
        int rc = xorshift(&a->rng) % 3 == 0
                     ? zkp_fence_try_begin(mx->m, "/mx", token, &txn, &v, NULL, NULL)
                     : zkp_fence_begin(mx->m, "/mx", token, &txn, &v, NULL, NULL);
        if (rc == ZKP_FENCE_EAGAIN && txn == NULL)
            continue;
        if (rc != 0) {
            atomic_fetch_add(&mx->errors, 1);
            continue;
        }
        if (txn == NULL)
            continue; /* stale */
        int alone = v == ZKP_VERDICT_ACCEPT_HIGHER;
        mx_enter(mx, alone, token);
        if (zkp_fence_persist(txn) != 0)
            atomic_fetch_add(&mx->errors, 1);
        mx_leave(mx, alone);
        zkp_fence_end(txn);
    }
    atomic_fetch_add(&mx->finished, 1);
    return NULL;
}

/* Many requests of one lock, raising, equal, stale, some through
 * try_begin, while repairs lower the mark under them: every one returns
 * (no lost wake-up on the shared condvar), a raise is alone and equal ones
 * only together, and nothing stays counted once all have left (an equal
 * request then enters at once). */
static void test_sections_under_repairs(void)
{
    fresh_db();
    mx_t *mx = calloc(1, sizeof(*mx)); /* left to leak if a thread hangs */
    CU_ASSERT_PTR_NOT_NULL_FATAL(mx);
    mx->m = open_store();
    CU_ASSERT_PTR_NOT_NULL_FATAL(mx->m);
    mx->iters = ft_under_valgrind() ? 150 : 3000;
    atomic_init(&mx->base, 10);
    pthread_mutex_init(&mx->mu, NULL);
    pthread_t t[MX_THREADS + 1];
    mx_arg_t *args = calloc(MX_THREADS + 1, sizeof(*args));
    for (int i = 0; i <= MX_THREADS; i++) {
        args[i] = (mx_arg_t){mx, 0x9e3779b97f4a7c15ULL * (uint64_t)(i + 1), i == MX_THREADS};
        CU_ASSERT_EQUAL_FATAL(pthread_create(&t[i], NULL, mx_worker, &args[i]), 0);
    }
    CU_ASSERT_FATAL(FT_WAIT_UNTIL(atomic_load(&mx->finished) == MX_THREADS + 1, 120000));
    for (int i = 0; i <= MX_THREADS; i++)
        pthread_join(t[i], NULL);
    CU_ASSERT_EQUAL(atomic_load(&mx->errors), 0);
    CU_ASSERT_EQUAL(atomic_load(&mx->overlaps), 0);
    CU_ASSERT(atomic_load(&mx->repairs) > 0);
    CU_ASSERT_EQUAL(zkp_marks_section_waiters(mx->m, "/mx"), 0);
    uint64_t mark = mark_of(mx->m, "/mx");
    zkp_fence_txn_t *txn = NULL;
    zkp_verdict_t v;
    CU_ASSERT_EQUAL(zkp_fence_try_begin(mx->m, "/mx", mark, &txn, &v, NULL, NULL), 0);
    CU_ASSERT_EQUAL(v, ZKP_VERDICT_ACCEPT_EQUAL);
    zkp_fence_end(txn);
    zkp_marks_close(mx->m);
    pthread_mutex_destroy(&mx->mu);
    free(args);
    free(mx);
}

/* ------------------------------------------ group commit: throughput */

typedef struct gc_arg {
    zkp_marks_t *m;
    int idx, n;
    int errors;
} gc_arg_t;

static void *gc_worker(void *p)
{
    gc_arg_t *a = p;
    char lock[32];
    snprintf(lock, sizeof(lock), "/gc/%d", a->idx);
    for (int i = 1; i <= a->n; i++) {
        zkp_verdict_t v;
        if (fenced_write(a->m, lock, (uint64_t)i, &v) != 0 || v != ZKP_VERDICT_ACCEPT_HIGHER)
            a->errors++;
    }
    return NULL;
}

/* nthreads writers, each on its own lock, each persist raising its mark. */
static void run_gc(const zkp_marks_options_t *o, int nthreads, int per_thread, double *secs,
                   zkp_marks_stats_t *st)
{
    fresh_db();
    zkp_marks_t *m = open_opts(o);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    pthread_t t[64];
    gc_arg_t args[64];
    int64_t t0 = ft_now_ms();
    for (int i = 0; i < nthreads; i++) {
        args[i] = (gc_arg_t){m, i, per_thread, 0};
        CU_ASSERT_EQUAL_FATAL(pthread_create(&t[i], NULL, gc_worker, &args[i]), 0);
    }
    int errors = 0;
    for (int i = 0; i < nthreads; i++) {
        pthread_join(t[i], NULL);
        errors += args[i].errors;
    }
    *secs = (double)(ft_now_ms() - t0) / 1000.0;
    CU_ASSERT_EQUAL(errors, 0);
    zkp_marks_stats(m, st);
    CU_ASSERT_EQUAL(st->updates, (uint64_t)nthreads * per_thread);
    CU_ASSERT_EQUAL(zkp_marks_count(m), (size_t)nthreads);
    zkp_marks_close(m);
}

static void report_gc(const char *what, int nthreads, double secs, const zkp_marks_stats_t *st)
{
    double s = secs > 0 ? secs : 0.001;
    printf("\n    %-24s %2d threads: %6" PRIu64 " persists in %.2fs = %7.0f persists/s, %5" PRIu64
           " commits = %6.0f commits/s, batching %.1fx (largest %" PRIu64 ")",
           what, nthreads, st->updates, secs, (double)st->updates / s, st->commits,
           (double)st->commits / s, st->commits ? (double)st->updates / (double)st->commits : 0,
           st->largest_batch);
}

static void test_group_commit_batches(void)
{
    int per = ft_under_valgrind() ? 30 : 300;
    zkp_marks_stats_t st;
    double secs;

    /* One writer: nothing to batch with; every persist is its own fsync. */
    run_gc(NULL, 1, per, &secs, &st);
    CU_ASSERT_EQUAL(st.commits, st.updates);
    report_gc("serial", 1, secs, &st);

    /* Sixteen writers on sixteen locks: persists share commits. */
    run_gc(NULL, 16, per, &secs, &st);
    CU_ASSERT(st.commits < st.updates);
    CU_ASSERT(st.largest_batch > 1);
    CU_ASSERT(st.largest_batch <= 16);
    report_gc("group commit", 16, secs, &st);

    /* The batch limit holds: max_batch = 1 is one fsync per persist. */
    zkp_marks_options_t o;
    zkp_marks_options_init(&o);
    o.group_commit_max_batch = 1;
    run_gc(&o, 16, per / 3, &secs, &st);
    CU_ASSERT_EQUAL(st.commits, st.updates);
    CU_ASSERT_EQUAL(st.largest_batch, 1);
    report_gc("max_batch=1", 16, secs, &st);

    /* Lingering gathers more per commit. */
    zkp_marks_options_init(&o);
    o.group_commit_max_wait_us = 2000;
    run_gc(&o, 16, per / 3, &secs, &st);
    CU_ASSERT(st.commits < st.updates);
    report_gc("max_wait_us=2000", 16, secs, &st);
    printf("\n    ");
}

/* ------------------------------------------------------ inject failure */

static void test_inject_failure(void)
{
    fresh_db();
    zkp_marks_options_t o;
    zkp_marks_options_init(&o);
    o.health_probe_interval_ms = 20;
    zkp_marks_t *m = open_opts(&o);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    zkp_verdict_t v;
    CU_ASSERT_EQUAL(fenced_write(m, "/L", 10, &v), 0);
    CU_ASSERT_EQUAL(fenced_write(m, "/other", 3, &v), 0);
    char msg[256];
    zkp_marks_last_error(m, msg, sizeof(msg));
    CU_ASSERT_STRING_EQUAL(msg, "");

    zkp_marks_inject_failure(m, 1);
    zkp_fence_txn_t *txn = NULL;
    CU_ASSERT_EQUAL_FATAL(zkp_fence_begin(m, "/L", 20, &txn, &v, NULL, NULL), 0);
    CU_ASSERT_EQUAL(v, ZKP_VERDICT_ACCEPT_HIGHER);
    CU_ASSERT_EQUAL(zkp_fence_persist(txn), ZKP_FENCE_ESTORE);
    CU_ASSERT_EQUAL(mark_of(m, "/L"), 10); /* not raised */
    zkp_fence_end(txn);
    CU_ASSERT_EQUAL(zkp_marks_healthy(m), 0);
    zkp_marks_last_error(m, msg, sizeof(msg));
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "injected"));
    zkp_marks_stats_t st;
    zkp_marks_stats(m, &st);
    CU_ASSERT_EQUAL(st.failed_commits, 1);

    /* Fail closed for anything that would accept; stale is still stale;
     * reads keep working. */
    uint64_t before = 0;
    int had = 0;
    CU_ASSERT_EQUAL(zkp_fence_begin(m, "/L", 30, &txn, &v, &before, &had), ZKP_FENCE_ESTORE);
    CU_ASSERT_PTR_NULL(txn);
    CU_ASSERT_EQUAL(v, ZKP_VERDICT_ACCEPT_HIGHER);
    CU_ASSERT_EQUAL(before, 10);
    CU_ASSERT_EQUAL(zkp_fence_begin(m, "/L", 10, &txn, &v, NULL, NULL), ZKP_FENCE_ESTORE);
    CU_ASSERT_EQUAL(zkp_fence_begin(m, "/new-lock", 1, &txn, &v, NULL, NULL), ZKP_FENCE_ESTORE);
    CU_ASSERT_EQUAL(zkp_fence_begin(m, "/L", 5, &txn, &v, NULL, NULL), 0);
    CU_ASSERT_EQUAL(v, ZKP_VERDICT_REJECT_STALE);
    CU_ASSERT_PTR_NULL(txn);
    CU_ASSERT_EQUAL(mark_of(m, "/L"), 10);
    CU_ASSERT_EQUAL(mark_of(m, "/other"), 3);
    CU_ASSERT_EQUAL(zkp_marks_count(m), 2);
    seen_t *s = calloc(1, sizeof(*s));
    CU_ASSERT_EQUAL(zkp_marks_foreach(m, collect, s), 0);
    CU_ASSERT_EQUAL(s->n, 2);
    free(s);

    /* Health probes keep failing while the disk is "dead"... */
    CU_ASSERT(FT_WAIT_UNTIL(({
                                zkp_marks_stats(m, &st);
                                st.probes >= 2;
                            }),
                            30000));
    CU_ASSERT_EQUAL(zkp_marks_healthy(m), 0);

    /* ...and the store recovers by itself once it is back. */
    zkp_marks_inject_failure(m, 0);
    CU_ASSERT(FT_WAIT_UNTIL(zkp_marks_healthy(m), 30000));
    CU_ASSERT_EQUAL(fenced_write(m, "/L", 20, &v), 0);
    CU_ASSERT_EQUAL(v, ZKP_VERDICT_ACCEPT_HIGHER);
    CU_ASSERT_EQUAL(mark_of(m, "/L"), 20);
    CU_ASSERT_EQUAL(fenced_write(m, "/new-lock", 1, &v), 0);
    zkp_marks_close(m);

    m = open_store();
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_EQUAL(mark_of(m, "/L"), 20);
    CU_ASSERT_EQUAL(mark_of(m, "/new-lock"), 1);
    CU_ASSERT_EQUAL(zkp_marks_count(m), 3);
    zkp_marks_close(m);
}

static void test_recovery_is_prompt(void)
{
    /* Probes every minute, yet turning the hook off brings the store back
     * at once: the committer is woken to probe. */
    fresh_db();
    zkp_marks_options_t o;
    zkp_marks_options_init(&o);
    o.health_probe_interval_ms = 60000;
    zkp_marks_t *m = open_opts(&o);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    zkp_marks_inject_failure(m, 1);
    CU_ASSERT_EQUAL(fenced_write(m, "/P", 1, NULL), ZKP_FENCE_ESTORE);
    CU_ASSERT_EQUAL(zkp_marks_healthy(m), 0);
    /* The committer probes once right after the failure; the next periodic
     * probe is a minute away once that one has failed. */
    zkp_marks_stats_t st;
    CU_ASSERT(FT_WAIT_UNTIL(({
                                zkp_marks_stats(m, &st);
                                st.probes >= 1;
                            }),
                            20000));
    CU_ASSERT_EQUAL(zkp_marks_healthy(m), 0);
    zkp_marks_inject_failure(m, 0);
    CU_ASSERT(FT_WAIT_UNTIL(zkp_marks_healthy(m), 20000));
    CU_ASSERT_EQUAL(fenced_write(m, "/P", 1, NULL), 0);
    CU_ASSERT_EQUAL(mark_of(m, "/P"), 1);
    zkp_marks_close(m);
}

/* A failed commit fails every persist of its batch, and none is raised. */
typedef struct fail_arg {
    zkp_marks_t *m;
    int idx;
    int rc;
} fail_arg_t;

static void *persist_one(void *p)
{
    fail_arg_t *a = p;
    char lock[32];
    snprintf(lock, sizeof(lock), "/batch/%d", a->idx);
    a->rc = fenced_write(a->m, lock, 100, NULL);
    return NULL;
}

static void test_failed_batch(void)
{
    fresh_db();
    zkp_marks_options_t o;
    zkp_marks_options_init(&o);
    o.group_commit_max_wait_us = 20000; /* gather them into few batches */
    zkp_marks_t *m = open_opts(&o);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    zkp_marks_inject_failure(m, 1);
    pthread_t t[8];
    fail_arg_t args[8];
    for (int i = 0; i < 8; i++) {
        args[i] = (fail_arg_t){m, i, 0};
        CU_ASSERT_EQUAL_FATAL(pthread_create(&t[i], NULL, persist_one, &args[i]), 0);
    }
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 8; i++)
        CU_ASSERT_EQUAL(args[i].rc, ZKP_FENCE_ESTORE);
    CU_ASSERT_EQUAL(zkp_marks_count(m), 0);
    zkp_marks_stats_t st;
    zkp_marks_stats(m, &st);
    CU_ASSERT_EQUAL(st.commits, 0);
    zkp_marks_close(m);
    m = open_store();
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_EQUAL(zkp_marks_count(m), 0);
    zkp_marks_close(m);
}

/* ------------------------------------------------- real I/O failures */

/* The disk itself fails (through the fault VFS, SQLite's own writes return
 * SQLITE_IOERR): not the store's software switch. The store fails closed,
 * keeps answering reads and stale verdicts, probes, and recovers when the
 * disk does; the failed mark never reaches the disk. */
static void test_real_io_failure(void)
{
    CU_ASSERT_EQUAL_FATAL(fv_install(), 0);
    fresh_db();
    zkp_marks_options_t o;
    zkp_marks_options_init(&o);
    o.health_probe_interval_ms = 20;
    zkp_marks_t *m = open_opts(&o);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    zkp_verdict_t v;
    CU_ASSERT_EQUAL(fenced_write(m, "/L", 10, &v), 0);

    unsigned long faults = fv_faults();
    fv_fail_writes(1);
    zkp_fence_txn_t *txn = NULL;
    CU_ASSERT_EQUAL_FATAL(zkp_fence_begin(m, "/L", 15, &txn, &v, NULL, NULL), 0);
    CU_ASSERT_EQUAL(v, ZKP_VERDICT_ACCEPT_HIGHER);
    CU_ASSERT_EQUAL(zkp_fence_persist(txn), ZKP_FENCE_ESTORE);
    zkp_fence_end(txn);
    CU_ASSERT(fv_faults() > faults); /* the disk really refused */
    CU_ASSERT_EQUAL(mark_of(m, "/L"), 10);
    CU_ASSERT_EQUAL(zkp_marks_healthy(m), 0);
    char msg[256];
    zkp_marks_last_error(m, msg, sizeof(msg));
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "I/O"));
    CU_ASSERT_PTR_NULL(strstr(msg, "injected"));
    zkp_marks_stats_t st;
    zkp_marks_stats(m, &st);
    CU_ASSERT_EQUAL(st.failed_commits, 1);

    /* Fail closed; stale is still stale; reads work. */
    CU_ASSERT_EQUAL(zkp_fence_begin(m, "/L", 30, &txn, &v, NULL, NULL), ZKP_FENCE_ESTORE);
    CU_ASSERT_EQUAL(zkp_fence_begin(m, "/L", 5, &txn, &v, NULL, NULL), 0);
    CU_ASSERT_EQUAL(v, ZKP_VERDICT_REJECT_STALE);
    CU_ASSERT_EQUAL(mark_of(m, "/L"), 10);
    /* Probes meet the dead disk too... */
    CU_ASSERT(FT_WAIT_UNTIL(({
                                zkp_marks_stats(m, &st);
                                st.probes >= 2;
                            }),
                            30000));
    CU_ASSERT_EQUAL(zkp_marks_healthy(m), 0);
    /* ...and the store comes back with the disk, by itself. */
    fv_fail_writes(0);
    CU_ASSERT(FT_WAIT_UNTIL(zkp_marks_healthy(m), 30000));
    /* 12 < 15 is accepted: the failed 15 never became the mark. */
    CU_ASSERT_EQUAL(fenced_write(m, "/L", 12, &v), 0);
    CU_ASSERT_EQUAL(v, ZKP_VERDICT_ACCEPT_HIGHER);
    zkp_marks_close(m);
    m = open_store();
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_EQUAL(mark_of(m, "/L"), 12);
    zkp_marks_close(m);
    fv_uninstall();
}

/* A COMMIT that reports failure although its transaction reached the disk
 * leaves the disk's mark above memory's. A later token between the two is
 * accepted by memory, but persisting it finds the higher durable mark: it
 * must come back stale (412), never accepted, and memory follows the disk. */
static void test_commit_failed_but_durable(void)
{
    CU_ASSERT_EQUAL_FATAL(fv_install(), 0);
    fresh_db();
    zkp_marks_options_t o;
    zkp_marks_options_init(&o);
    o.health_probe_interval_ms = 20;
    zkp_marks_t *m = open_opts(&o);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    zkp_verdict_t v;
    CU_ASSERT_EQUAL(fenced_write(m, "/L", 5, &v), 0);

    unsigned long faults = fv_faults();
    fv_fail_commit_after_disk(1);
    CU_ASSERT_EQUAL(fenced_write(m, "/L", 10, &v), ZKP_FENCE_ESTORE);
    CU_ASSERT_EQUAL(fv_faults(), faults + 1);
    CU_ASSERT_EQUAL(mark_of(m, "/L"), 5); /* memory was not raised... */
    CU_ASSERT(FT_WAIT_UNTIL(zkp_marks_healthy(m), 30000));

    /* ...but the disk holds 10: token 7 passes begin, and persist says no. */
    zkp_fence_txn_t *txn = NULL;
    uint64_t before = 0;
    CU_ASSERT_EQUAL_FATAL(zkp_fence_begin(m, "/L", 7, &txn, &v, &before, NULL), 0);
    CU_ASSERT_EQUAL(v, ZKP_VERDICT_ACCEPT_HIGHER);
    CU_ASSERT_EQUAL(before, 5);
    CU_ASSERT_EQUAL(zkp_fence_persist(txn), ZKP_FENCE_ESTALE);
    CU_ASSERT_EQUAL(zkp_fence_txn_mark(txn), 10);
    CU_ASSERT_EQUAL(zkp_fence_persist(txn), ZKP_FENCE_ESTALE); /* and stays stale */
    zkp_fence_end(txn);
    CU_ASSERT_EQUAL(mark_of(m, "/L"), 10);
    CU_ASSERT_EQUAL(zkp_fence_begin(m, "/L", 8, &txn, &v, &before, NULL), 0);
    CU_ASSERT_EQUAL(v, ZKP_VERDICT_REJECT_STALE);
    CU_ASSERT_EQUAL(before, 10);
    CU_ASSERT_EQUAL(fenced_write(m, "/L", 10, &v), 0);
    CU_ASSERT_EQUAL(v, ZKP_VERDICT_ACCEPT_EQUAL);
    CU_ASSERT_EQUAL(zkp_fence_txn_mark(NULL), 0);
    zkp_marks_close(m);
    m = open_store();
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_EQUAL(mark_of(m, "/L"), 10);
    zkp_marks_close(m);
    fv_uninstall();
}

/* ------------------------------------------------ kill -9 mid-load */

#define CRASH_LOCKS 4

typedef struct ack {
    uint32_t lock;
    uint32_t pad;
    uint64_t token;
} ack_t;

typedef struct crash_arg {
    zkp_marks_t *m;
    int idx;
    int fd;
} crash_arg_t;

static void crash_lock_name(char *buf, size_t len, int i)
{
    snprintf(buf, len, "/crash/%d", i);
}

/* In the child: persist ever higher tokens, and report each one only once
 * zkp_fence_persist() has returned 0 (what the proxy would acknowledge). */
static void *crash_writer(void *p)
{
    crash_arg_t *a = p;
    char lock[32];
    crash_lock_name(lock, sizeof(lock), a->idx);
    uint64_t token = 0;
    zkp_marks_get(a->m, lock, &token);
    for (;;) {
        token++;
        zkp_verdict_t v;
        if (fenced_write(a->m, lock, token, &v) != 0 || v != ZKP_VERDICT_ACCEPT_HIGHER)
            _exit(4);
        ack_t ack = {(uint32_t)a->idx, 0, token};
        if (write(a->fd, &ack, sizeof(ack)) != (ssize_t)sizeof(ack))
            _exit(5);
    }
    return NULL;
}

static void crash_child(int fd)
{
    zkp_marks_t *m = NULL;
    if (zkp_marks_open(dbpath, NULL, &m, NULL, 0) != 0)
        _exit(3);
    pthread_t t[CRASH_LOCKS];
    crash_arg_t args[CRASH_LOCKS];
    for (int i = 0; i < CRASH_LOCKS; i++) {
        args[i] = (crash_arg_t){m, i, fd};
        pthread_create(&t[i], NULL, crash_writer, &args[i]);
    }
    for (int i = 0; i < CRASH_LOCKS; i++)
        pthread_join(t[i], NULL); /* never: killed first */
    _exit(6);
}

/* Reads acks until `want` arrived (then kills the child) and until EOF.
 * Returns the number read, or -1 on timeout. */
static int collect_acks(pid_t pid, int fd, int want, uint64_t last[CRASH_LOCKS])
{
    int got = 0, killed = 0;
    int64_t deadline = ft_now_ms() + (ft_under_valgrind() ? 240000 : 60000);
    for (;;) {
        if (!killed && got >= want) {
            kill(pid, SIGKILL);
            killed = 1;
        }
        struct pollfd pfd = {fd, POLLIN, 0};
        int64_t left = deadline - ft_now_ms();
        if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
            break;
        ack_t ack;
        ssize_t n = read(fd, &ack, sizeof(ack));
        if (n == 0)
            return got; /* EOF: the child is gone and everything is read */
        if (n != (ssize_t)sizeof(ack) || ack.lock >= CRASH_LOCKS)
            break;
        if (ack.token > last[ack.lock])
            last[ack.lock] = ack.token;
        got++;
    }
    kill(pid, SIGKILL);
    return -1;
}

static void test_kill9_keeps_acknowledged_marks(void)
{
    fresh_db();
    uint64_t last[CRASH_LOCKS] = {0};
    int rounds = 3;
    int want = ft_under_valgrind() ? 40 : 300;
    for (int r = 0; r < rounds; r++) {
        int p[2];
        CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork();
        CU_ASSERT_FATAL(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            crash_child(p[1]);
        }
        close(p[1]);
        int got = collect_acks(pid, p[0], want, last);
        close(p[0]);
        int status = 0;
        CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
        CU_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        CU_ASSERT_FATAL(got >= want);

        /* Every acknowledged mark survived; nothing beyond the one
         * in-flight persist per lock appeared out of nowhere. */
        zkp_marks_t *m = open_store();
        CU_ASSERT_PTR_NOT_NULL_FATAL(m);
        for (int i = 0; i < CRASH_LOCKS; i++) {
            char lock[32];
            crash_lock_name(lock, sizeof(lock), i);
            uint64_t mark = 0;
            CU_ASSERT_EQUAL(zkp_marks_get(m, lock, &mark), 0);
            CU_ASSERT(mark >= last[i]);
            CU_ASSERT(mark <= last[i] + 1);
            last[i] = mark; /* the next round starts from the store */
        }
        zkp_marks_close(m);
    }
}

/* ------------------------------------------------------- corrupt store */

static void write_raw_db(const char *sql)
{
    fresh_db();
    sqlite3 *db = NULL;
    CU_ASSERT_EQUAL_FATAL(sqlite3_open(dbpath, &db), SQLITE_OK);
    CU_ASSERT_EQUAL(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static int open_rc(char *err, size_t errlen)
{
    zkp_marks_t *m = NULL;
    int rc = zkp_marks_open(dbpath, NULL, &m, err, errlen);
    zkp_marks_close(m);
    return rc;
}

static void test_corrupt_store_refused(void)
{
    char err[256];
    static const char *const TABLES =
        "CREATE TABLE marks (lock TEXT PRIMARY KEY NOT NULL, mark TEXT NOT NULL) WITHOUT ROWID;"
        "CREATE TABLE meta (k TEXT PRIMARY KEY NOT NULL, v) WITHOUT ROWID;"
        "INSERT INTO meta VALUES ('schema', 1);";
    char sql[1024];

    snprintf(sql, sizeof(sql), "%s INSERT INTO marks VALUES ('/ok', '00000000000000000005');",
             TABLES);
    write_raw_db(sql);
    CU_ASSERT_EQUAL(open_rc(err, sizeof(err)), 0); /* the control */

    snprintf(sql, sizeof(sql), "%s INSERT INTO marks VALUES ('/short', '5');", TABLES);
    write_raw_db(sql);
    CU_ASSERT_EQUAL(open_rc(err, sizeof(err)), ZKP_FENCE_ECORRUPT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "/short"));

    snprintf(sql, sizeof(sql), "%s INSERT INTO marks VALUES ('/big', '18446744073709551616');",
             TABLES);
    write_raw_db(sql);
    CU_ASSERT_EQUAL(open_rc(err, sizeof(err)), ZKP_FENCE_ECORRUPT);

    snprintf(sql, sizeof(sql), "%s INSERT INTO marks VALUES ('/int', 5);", TABLES);
    write_raw_db(sql);
    CU_ASSERT_EQUAL(open_rc(err, sizeof(err)), ZKP_FENCE_ECORRUPT);

    snprintf(sql, sizeof(sql), "%s INSERT INTO marks VALUES ('bad name', '00000000000000000005');",
             TABLES);
    write_raw_db(sql);
    CU_ASSERT_EQUAL(open_rc(err, sizeof(err)), ZKP_FENCE_ECORRUPT);

    /* Names of the older rule load, inert: counted, listed, never decided
     * against (no request can name them). */
    snprintf(sql, sizeof(sql),
             "%s INSERT INTO marks VALUES ('/locks/a/', '00000000000000000009'),"
             " ('//locks/a', '00000000000000000008'), ('/locks/a', '00000000000000000005');",
             TABLES);
    write_raw_db(sql);
    zkp_marks_t *m = NULL;
    CU_ASSERT_EQUAL_FATAL(zkp_marks_open(dbpath, NULL, &m, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(zkp_marks_count(m), 3);
    CU_ASSERT_EQUAL(zkp_marks_inert(m), 2);
    CU_ASSERT_EQUAL(mark_of(m, "/locks/a/"), 9);
    CU_ASSERT_EQUAL(mark_of(m, "/locks/a"), 5);
    zkp_fence_txn_t *txn = NULL;
    zkp_verdict_t v;
    CU_ASSERT_EQUAL(zkp_fence_begin(m, "/locks/a/", 10, &txn, &v, NULL, NULL), ZKP_FENCE_EINVAL);
    CU_ASSERT_EQUAL(fenced_write(m, "/locks/a", 6, &v), 0); /* its own mark, 5, counts */
    CU_ASSERT_EQUAL(v, ZKP_VERDICT_ACCEPT_HIGHER);
    zkp_marks_close(m);
    CU_ASSERT_EQUAL(zkp_marks_inert(NULL), 0);

    snprintf(sql, sizeof(sql), "%s UPDATE meta SET v = 2 WHERE k = 'schema';", TABLES);
    write_raw_db(sql);
    CU_ASSERT_EQUAL(open_rc(err, sizeof(err)), ZKP_FENCE_ECORRUPT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "schema"));

    /* Not a database at all. */
    fresh_db();
    FILE *f = fopen(dbpath, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    for (int i = 0; i < 512; i++)
        fputs("this is not an SQLite database. ", f);
    fclose(f);
    CU_ASSERT_EQUAL(open_rc(err, sizeof(err)), ZKP_FENCE_ECORRUPT);
    fresh_db();
}

/* ------------------------------------------------------ many locks */

static int count_sorted(const char *lock, uint64_t mark, void *arg)
{
    const char **prev = arg;
    if (*prev != NULL && strcmp(*prev, lock) >= 0)
        return -1;
    *prev = lock;
    return mark == 0 ? -2 : 0;
}

typedef struct many_arg {
    zkp_marks_t *m;
    int from, to;
    int errors;
} many_arg_t;

static void *many_worker(void *p)
{
    many_arg_t *a = p;
    char lock[48];
    for (int i = a->from; i < a->to; i++) {
        snprintf(lock, sizeof(lock), "/many/%07d", i);
        if (fenced_write(a->m, lock, (uint64_t)i + 1, NULL) != 0)
            a->errors++;
    }
    return NULL;
}

static void test_many_locks(void)
{
    /* Enough locks to grow every stripe's table several times, written by
     * 16 threads, then reloaded. */
    int n = ft_under_valgrind() ? 1500 : 20000;
    fresh_db();
    zkp_marks_t *m = open_store();
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    pthread_t t[16];
    many_arg_t args[16];
    for (int i = 0; i < 16; i++) {
        args[i] = (many_arg_t){m, n * i / 16, n * (i + 1) / 16, 0};
        CU_ASSERT_EQUAL_FATAL(pthread_create(&t[i], NULL, many_worker, &args[i]), 0);
    }
    int errors = 0;
    for (int i = 0; i < 16; i++) {
        pthread_join(t[i], NULL);
        errors += args[i].errors;
    }
    CU_ASSERT_EQUAL(errors, 0);
    CU_ASSERT_EQUAL(zkp_marks_count(m), (size_t)n);
    zkp_marks_close(m);

    m = open_store();
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_EQUAL(zkp_marks_count(m), (size_t)n);
    const char *prev = NULL;
    CU_ASSERT_EQUAL(zkp_marks_foreach(m, count_sorted, &prev), 0);
    char lock[48];
    snprintf(lock, sizeof(lock), "/many/%07d", n - 1);
    CU_ASSERT_STRING_EQUAL(prev, lock); /* the last, in order */
    int wrong = 0;
    for (int i = 0; i < n; i++) {
        snprintf(lock, sizeof(lock), "/many/%07d", i);
        wrong += mark_of(m, lock) != (uint64_t)i + 1;
    }
    CU_ASSERT_EQUAL(wrong, 0);
    zkp_marks_close(m);
}

/* ------------------------------------------------------------ repair */

typedef struct repair_seen {
    int calls, rc, had;
    uint64_t old;
    zkp_marks_t *m;
} repair_seen_t;

static void repair_done(void *arg, int rc, int had, uint64_t old)
{
    repair_seen_t *s = arg;
    s->calls++;
    s->rc = rc;
    s->had = had;
    s->old = old;
}

static void test_repair(void)
{
    fresh_db();
    zkp_marks_t *m = open_store();
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    zkp_verdict_t v;
    CU_ASSERT_EQUAL(fenced_write(m, "/R", 10, &v), 0);
    CU_ASSERT_EQUAL(fenced_write(m, "/other", 7, &v), 0);
    int had = -1;
    uint64_t old = 0;
    repair_seen_t seen = {.m = m};
    /* lower */
    CU_ASSERT_EQUAL(zkp_marks_repair(m, "/R", 0, 3, repair_done, &seen, &had, &old), 0);
    CU_ASSERT_EQUAL(had, 1);
    CU_ASSERT_EQUAL(old, 10);
    CU_ASSERT_EQUAL(seen.calls, 1);
    CU_ASSERT_EQUAL(seen.rc, 0);
    CU_ASSERT_EQUAL(seen.old, 10);
    CU_ASSERT_EQUAL(mark_of(m, "/R"), 3);
    CU_ASSERT_EQUAL(fenced_write(m, "/R", 4, &v), 0); /* accepted again */
    CU_ASSERT_EQUAL(v, ZKP_VERDICT_ACCEPT_HIGHER);
    /* a raise is not a repair; nor is lowering a mark that is not there */
    CU_ASSERT_EQUAL(zkp_marks_repair(m, "/R", 0, 5, NULL, NULL, &had, &old), ZKP_FENCE_ERANGE);
    CU_ASSERT_EQUAL(old, 4);
    CU_ASSERT_EQUAL(mark_of(m, "/R"), 4);
    CU_ASSERT_EQUAL(zkp_marks_repair(m, "/none", 0, 0, NULL, NULL, &had, NULL), ZKP_FENCE_ERANGE);
    CU_ASSERT_EQUAL(had, 0);
    CU_ASSERT_EQUAL(zkp_marks_repair(m, "/none", 1, 0, repair_done, &seen, &had, NULL), 0);
    CU_ASSERT_EQUAL(had, 0);
    CU_ASSERT_EQUAL(seen.calls, 2); /* reported too, in the section */
    CU_ASSERT_EQUAL(zkp_marks_repair(m, "/R", 0, 4, NULL, NULL, NULL, NULL), 0); /* equal: fine */
    /* clear */
    CU_ASSERT_EQUAL(zkp_marks_count(m), 2);
    CU_ASSERT_EQUAL(zkp_marks_repair(m, "/R", 1, 0, NULL, NULL, &had, &old), 0);
    CU_ASSERT_EQUAL(old, 4);
    CU_ASSERT_EQUAL(zkp_marks_count(m), 1);
    uint64_t got;
    CU_ASSERT_EQUAL(zkp_marks_get(m, "/R", &got), 1);
    CU_ASSERT_EQUAL(fenced_write(m, "/R", 1, &v), 0);
    CU_ASSERT_EQUAL(v, ZKP_VERDICT_ACCEPT_HIGHER);
    CU_ASSERT_EQUAL(zkp_marks_repair(m, "/R", 0, 0, NULL, NULL, NULL, NULL), 0);
    /* bad arguments */
    CU_ASSERT_EQUAL(zkp_marks_repair(m, "a b", 1, 0, NULL, NULL, NULL, NULL), ZKP_FENCE_EINVAL);
    CU_ASSERT_EQUAL(zkp_marks_repair(NULL, "/R", 1, 0, NULL, NULL, NULL, NULL), ZKP_FENCE_EINVAL);
    CU_ASSERT_EQUAL(zkp_marks_repair(m, NULL, 1, 0, NULL, NULL, NULL, NULL), ZKP_FENCE_EINVAL);
    /* durable: after a reopen */
    zkp_marks_close(m);
    m = open_store();
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_EQUAL(mark_of(m, "/R"), 0);
    CU_ASSERT_EQUAL(mark_of(m, "/other"), 7);
    CU_ASSERT_EQUAL(zkp_marks_repair(m, "/other", 1, 0, NULL, NULL, NULL, NULL), 0);
    zkp_marks_close(m);
    m = open_store();
    CU_ASSERT_EQUAL(zkp_marks_get(m, "/other", &got), 1);
    CU_ASSERT_EQUAL(zkp_marks_count(m), 1);
    /* the store cannot write: nothing changes */
    zkp_marks_inject_failure(m, 1);
    CU_ASSERT_EQUAL(fenced_write(m, "/R", 9, &v), ZKP_FENCE_ESTORE); /* makes it unhealthy */
    CU_ASSERT_EQUAL(zkp_marks_repair(m, "/R", 1, 0, NULL, NULL, NULL, NULL), ZKP_FENCE_ESTORE);
    CU_ASSERT_EQUAL(mark_of(m, "/R"), 0);
    zkp_marks_inject_failure(m, 0);
    zkp_marks_close(m);
}

static void test_repair_inert(void)
{
    fresh_db();
    sqlite3 *db = NULL;
    CU_ASSERT_EQUAL_FATAL(sqlite3_open(dbpath, &db), SQLITE_OK);
    CU_ASSERT_EQUAL(sqlite3_exec(db,
                                 "CREATE TABLE marks (lock TEXT PRIMARY KEY NOT NULL, mark TEXT "
                                 "NOT NULL) WITHOUT ROWID; CREATE TABLE meta (k TEXT PRIMARY KEY "
                                 "NOT NULL, v) WITHOUT ROWID; INSERT INTO meta VALUES ('schema', "
                                 "1); INSERT INTO marks VALUES ('/locks/a/', "
                                 "'18446744073709551615');",
                                 NULL, NULL, NULL),
                    SQLITE_OK);
    sqlite3_close(db);
    zkp_marks_t *m = open_store();
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_EQUAL(zkp_marks_inert(m), 1);
    CU_ASSERT_EQUAL(zkp_marks_repair(m, "/locks/a/", 1, 0, NULL, NULL, NULL, NULL), 0);
    CU_ASSERT_EQUAL(zkp_marks_inert(m), 0);
    CU_ASSERT_EQUAL(zkp_marks_count(m), 0);
    zkp_marks_close(m);
    m = open_store();
    CU_ASSERT_EQUAL(zkp_marks_count(m), 0);
    zkp_marks_close(m);
}

typedef struct repair_arg {
    zkp_marks_t *m;
    repair_seen_t seen;
    int rc;
    atomic_int returned;
} repair_arg_t;

static void *repair_thread(void *p)
{
    repair_arg_t *a = p;
    a->rc = zkp_marks_repair(a->m, "/R", 0, 2, repair_done, &a->seen, NULL, NULL);
    atomic_store(&a->returned, 1);
    return NULL;
}

/* A repair cannot land between a write's decision and its commit: it waits
 * for the section, and then sees the write's mark. */
static void test_repair_waits_for_section(void)
{
    fresh_db();
    zkp_marks_t *m = open_store();
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    zkp_verdict_t v;
    CU_ASSERT_EQUAL(fenced_write(m, "/R", 10, &v), 0);
    zkp_fence_txn_t *txn = NULL;
    CU_ASSERT_EQUAL_FATAL(zkp_fence_begin(m, "/R", 20, &txn, &v, NULL, NULL), 0);
    CU_ASSERT_EQUAL(v, ZKP_VERDICT_ACCEPT_HIGHER);
    repair_arg_t a = {.m = m};
    a.seen.m = m;
    atomic_init(&a.returned, 0);
    pthread_t t;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, repair_thread, &a), 0);
    CU_ASSERT(FT_WAIT_UNTIL(zkp_marks_section_waiters(m, "/R") == 1, 10000));
    CU_ASSERT_EQUAL(atomic_load(&a.returned), 0); /* waiting, not repairing */
    CU_ASSERT_EQUAL(a.seen.calls, 0);
    CU_ASSERT_EQUAL(zkp_fence_persist(txn), 0); /* the write's decision stands */
    CU_ASSERT_EQUAL(mark_of(m, "/R"), 20);
    /* a second write queues behind the repair */
    zkp_fence_end(txn);
    pthread_join(t, NULL);
    CU_ASSERT_EQUAL(a.rc, 0);
    CU_ASSERT_EQUAL(a.seen.old, 20); /* it saw the write's mark */
    CU_ASSERT_EQUAL(mark_of(m, "/R"), 2);
    CU_ASSERT_EQUAL(fenced_write(m, "/R", 15, &v), 0);
    CU_ASSERT_EQUAL(v, ZKP_VERDICT_ACCEPT_HIGHER);
    zkp_marks_close(m);
}

/* A repair waiting for the equal requests inside holds back new equal ones,
 * as a raise does; once it has lowered the mark below their token, those
 * held back are decided again: above the mark now, one raises it back
 * alone, and the others, of the token it raised to, enter together. */
static void test_repair_lowers_under_waiters(void)
{
    fresh_db();
    zkp_marks_t *m = open_store();
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    zkp_verdict_t v;
    CU_ASSERT_EQUAL(fenced_write(m, "/R", 10, &v), 0);
    zkp_fence_txn_t *h = NULL, *t = NULL;
    CU_ASSERT_EQUAL_FATAL(zkp_fence_begin(m, "/R", 10, &h, &v, NULL, NULL), 0);
    CU_ASSERT_EQUAL(v, ZKP_VERDICT_ACCEPT_EQUAL);
    repair_arg_t r = {.m = m};
    atomic_init(&r.returned, 0);
    pthread_t tr;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&tr, NULL, repair_thread, &r), 0);
    CU_ASSERT(FT_WAIT_UNTIL(zkp_marks_section_waiters(m, "/R") == 1, 10000));
    /* no new equal request enters before the repair */
    CU_ASSERT_EQUAL(zkp_fence_try_begin(m, "/R", 10, &t, &v, NULL, NULL), ZKP_FENCE_EAGAIN);
    CU_ASSERT_PTR_NULL(t);
    enum { N = 3 };
    begin_arg_t w[N];
    pthread_t tw[N];
    for (int i = 0; i < N; i++) {
        begin_arg_init(&w[i], m, "/R", 10);
        CU_ASSERT_EQUAL_FATAL(pthread_create(&tw[i], NULL, begin_thread, &w[i]), 0);
    }
    CU_ASSERT(FT_WAIT_UNTIL(zkp_marks_section_waiters(m, "/R") == 1 + N, 10000));
    CU_ASSERT_EQUAL(atomic_load(&r.returned), 0);
    zkp_fence_end(h);
    pthread_join(tr, NULL);
    CU_ASSERT_EQUAL(r.rc, 0);
    CU_ASSERT_EQUAL(r.seen.old, 10);
    int higher = 0, equal = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(tw[i], NULL);
        CU_ASSERT_EQUAL(w[i].rc, 0);
        CU_ASSERT_EQUAL(w[i].persist_rc, 0);
        higher += w[i].verdict == ZKP_VERDICT_ACCEPT_HIGHER && w[i].before == 2;
        equal += w[i].verdict == ZKP_VERDICT_ACCEPT_EQUAL && w[i].before == 10;
    }
    CU_ASSERT_EQUAL(higher, 1);
    CU_ASSERT_EQUAL(equal, N - 1);
    CU_ASSERT_EQUAL(mark_of(m, "/R"), 10);
    CU_ASSERT_EQUAL(zkp_marks_section_waiters(m, "/R"), 0);
    /* nothing is left counted: an equal request enters at once */
    CU_ASSERT_EQUAL_FATAL(zkp_fence_try_begin(m, "/R", 10, &t, &v, NULL, NULL), 0);
    CU_ASSERT_EQUAL(v, ZKP_VERDICT_ACCEPT_EQUAL);
    zkp_fence_end(t);
    zkp_marks_close(m);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("fence_marks", setup, teardown);
    CU_add_test(s, "options and open errors", test_options_and_open_errors);
    CU_add_test(s, "persist, close, reopen", test_persist_close_reopen);
    CU_add_test(s, "marks never go down", test_marks_never_go_down);
    CU_add_test(s, "begin arguments", test_begin_arguments);
    CU_add_test(s, "foreach: sorted snapshot", test_foreach_sorted_snapshot);
    CU_add_test(s, "other locks do not wait for a held section", test_other_locks_do_not_wait);
    CU_add_test(s, "the same lock waits, then decides", test_same_lock_waits);
    CU_add_test(s, "equal tokens are inside together; a raise waits", test_equal_tokens_together);
    CU_add_test(s, "waiting raises of one token enter together",
                test_waiting_raises_enter_together);
    CU_add_test(s, "try_begin never waits", test_try_begin_never_waits);
    CU_add_test(s, "16 concurrent writers on 4 locks", test_concurrent_writers);
    CU_add_test(s, "sections under repairs, with try_begin", test_sections_under_repairs);
    CU_add_test(s, "group commit batches persists", test_group_commit_batches);
    CU_add_test(s, "injected failure: fail closed, then recover", test_inject_failure);
    CU_add_test(s, "recovery is prompt once the disk is back", test_recovery_is_prompt);
    CU_add_test(s, "a failed batch fails all its persists", test_failed_batch);
    CU_add_test(s, "real I/O failure: fail closed, then recover", test_real_io_failure);
    CU_add_test(s, "a failed commit that reached the disk: stale, not accepted",
                test_commit_failed_but_durable);
    CU_add_test(s, "kill -9 mid-load keeps acknowledged marks",
                test_kill9_keeps_acknowledged_marks);
    CU_add_test(s, "corrupt store refused", test_corrupt_store_refused);
    CU_add_test(s, "many locks", test_many_locks);
    CU_add_test(s, "repair: lower, clear, never raise, durable", test_repair);
    CU_add_test(s, "repair clears an inert mark", test_repair_inert);
    CU_add_test(s, "repair waits for the section", test_repair_waits_for_section);
    CU_add_test(s, "a repair lowers the mark under waiting requests",
                test_repair_lowers_under_waiters);
    return ft_run_suite();
}
