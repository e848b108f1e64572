/* The durable mark store and the per-lock section.
 *
 * Why SQLite: the marks are the one piece of state whose loss breaks the
 * fencing guarantee (a lowered mark lets a stale writer through), so they
 * live in a trusted, crash-safe and very well-tested embedded store rather
 * than in a file format of our own. WAL mode with synchronous=FULL makes
 * every COMMIT fsync the log before it returns, and a kill -9 at any point
 * leaves either the old or the new state. locking_mode=EXCLUSIVE keeps the
 * database locked from open to close, so two proxies can never serve the
 * same marks from two diverging in-memory copies.
 *
 * Shape:
 *  - memory: a hash map lock -> entry, split into STRIPES sub-tables, each
 *    with its own mutex and condvar. An entry carries the lock's durable
 *    mark and its section's state (busy, shared). Every read (begin, get,
 *    count, foreach) is answered from here: the disk is never read after
 *    open.
 *  - the section has two ways in. A request that may change the mark (a
 *    token above it, the lock's first token, a repair) is inside ALONE
 *    (busy). Requests whose token EQUALS the mark are inside TOGETHER
 *    (shared: a count): none of them changes the mark, so the order among
 *    them is no part of the fencing order, just as for one holder's
 *    parallel writes without fencing; what the backend must order among
 *    them (a key's If-None-Match) it orders itself (backend.h). The two
 *    never mix: ALONE waits until no one is inside, and while it waits no
 *    new request enters shared (xwaiters), so a raising token is never
 *    starved by a stream of equal ones. A stale token is decided whenever
 *    no one is inside ALONE (the mark is then stable), without waiting
 *    for the shared ones.
 *  - disk: written only by the committer thread, which drains the queue of
 *    mark updates and writes each batch in ONE transaction (one fsync):
 *    group commit. A persist waits for the commit of its batch.
 *
 * Invariants:
 *  - e->mark only goes up, and only after the transaction carrying it has
 *    committed; it is written only by the thread inside e's section (or by
 *    open, before any thread exists), always under the stripe mutex. The
 *    one exception is a repair (zkp_marks_repair), which lowers or clears
 *    it under the same rules: inside the section, after its commit.
 *  - an entry that has had a mark is never freed before close (`pinned`),
 *    so lock-name pointers handed out by foreach stay valid; other entries
 *    exist only while someone is in or waiting for their section.
 *  - no stripe mutex is held while waiting for the disk: a request in the
 *    section waits for the fsync with only its entry's busy flag set, so
 *    other locks of the same stripe go on.
 *  - marks are stored as 20-digit zero-padded decimal TEXT: SQLite integers
 *    are signed 64-bit and would misorder tokens >= 2^63, while equal-length
 *    digit strings compare (memcmp, BINARY collation) exactly like the
 *    numbers, so max() in SQL is the numeric max, and the file stays
 *    readable with the sqlite3 shell.
 */
#include "fence.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#if SQLITE_VERSION_NUMBER < 3035000
#error "SQLite >= 3.35 is needed (UPSERT with RETURNING)"
#endif

#define STRIPES 256 /* power of two */
#define DEFAULT_MAX_BATCH 1024
#define DEFAULT_PROBE_MS 200
#define MAX_WAIT_US_LIMIT 1000000
#define MARK_TEXT_LEN 20
#define SCHEMA_VERSION 1

typedef struct entry {
    struct entry *next; /* chain within the stripe bucket */
    uint64_t hash;
    uint64_t mark;     /* the durable mark, when has_mark */
    int has_mark;      /* 0 until a first mark commits (and after a repair clears it) */
    int pinned;        /* had a mark: kept until close (foreach hands out its name) */
    int busy;          /* a request is inside this lock's section ALONE */
    unsigned shared;   /* requests inside TOGETHER (token equal to the mark) */
    unsigned waiters;  /* requests blocked on the section (all kinds) */
    unsigned xwaiters; /* of which need it ALONE: no new shared entry meanwhile */
    size_t len;
    char name[]; /* NUL-terminated */
} entry_t;

typedef struct stripe {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* some entry of this stripe left its section */
    entry_t **buckets;
    size_t nbuckets; /* 0 or a power of two */
    size_t nentries;
} stripe_t;

/* What a commit request writes. */
enum commit_kind {
    C_RAISE, /* the mark becomes max(mark, token): a persist */
    C_SET,   /* the mark becomes token: a repair that lowers */
    C_CLEAR, /* the row goes: a repair that clears */
};

/* One mark update waiting for the committer; lives on the stack of the
 * zkp_fence_persist() (or repair) that waits for it. */
typedef struct commit_req {
    struct commit_req *next;
    enum commit_kind kind;
    const char *lock;
    uint64_t token;
    uint64_t durable; /* the mark on disk after the commit (>= token) */
    int rc;
    int done;
    pthread_cond_t cv;
} commit_req_t;

struct zkp_marks {
    stripe_t stripes[STRIPES];
    uint64_t seed; /* per-store hash seed: names are chosen by clients */
    atomic_size_t count;
    atomic_size_t inert; /* marks under names that are not canonical (loaded, never matched) */
    atomic_int healthy;
    atomic_int inject;
    zkp_marks_options_t opt;

    /* The committer thread owns these after open. */
    sqlite3 *db;
    sqlite3_stmt *upsert;
    sqlite3_stmt *set;
    sqlite3_stmt *clear;
    sqlite3_stmt *probe;
    uint64_t probe_seq;
    pthread_t committer;

    /* qmu protects everything below. */
    pthread_mutex_t qmu;
    pthread_cond_t qcv; /* committer: work queued, or stop; CLOCK_MONOTONIC */
    commit_req_t *head, *tail;
    size_t queued;
    int stopping;
    int probe_now; /* probe at once, not at the next interval */
    zkp_marks_stats_t stats;
    char errmsg[256];
};

struct zkp_fence_txn {
    zkp_marks_t *m;
    entry_t *e;
    uint64_t token;
    int shared; /* inside TOGETHER (ACCEPT_EQUAL), else ALONE */
};

/* ------------------------------------------------------------ helpers */

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static struct timespec abstime_us(int64_t t)
{
    struct timespec ts = {.tv_sec = t / 1000000, .tv_nsec = (t % 1000000) * 1000};
    return ts;
}

static void encode_mark(uint64_t v, char out[MARK_TEXT_LEN + 1])
{
    snprintf(out, MARK_TEXT_LEN + 1, "%020" PRIu64, v);
}

/* Exactly 20 digits (leading zeros required), value <= UINT64_MAX. */
static int decode_mark(const unsigned char *s, int len, uint64_t *out)
{
    if (s == NULL || len != MARK_TEXT_LEN)
        return -1;
    uint64_t v = 0;
    for (int i = 0; i < len; i++) {
        unsigned d = s[i] - (unsigned)'0';
        if (d > 9 || v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* FNV-1a from a secret seed, then a 64-bit finalizer (MurmurHash3 fmix64)
 * so that both the top bits (stripe) and low bits (bucket) are mixed. */
static uint64_t hash_name(uint64_t seed, const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ seed;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

static uint64_t random_seed(const void *salt)
{
    uint64_t seed;
    if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) == (ssize_t)sizeof(seed))
        return seed;
    return (uint64_t)now_us() ^ (uint64_t)(uintptr_t)salt; /* still varies per process */
}

/* ------------------------------------------------------ striped map */

static stripe_t *stripe_of(zkp_marks_t *m, uint64_t h)
{
    return &m->stripes[(h >> 56) & (STRIPES - 1)];
}

static entry_t **bucket_of(stripe_t *s, uint64_t h)
{
    return &s->buckets[h & (s->nbuckets - 1)];
}

static entry_t *map_find(stripe_t *s, uint64_t h, const char *name, size_t len)
{
    if (s->nbuckets == 0)
        return NULL;
    for (entry_t *e = *bucket_of(s, h); e != NULL; e = e->next)
        if (e->hash == h && e->len == len && memcmp(e->name, name, len) == 0)
            return e;
    return NULL;
}

/* Keeps the load factor <= 1. Returns -1 (table unchanged) if out of memory. */
static int map_grow(stripe_t *s)
{
    size_t n = s->nbuckets ? s->nbuckets * 2 : 8;
    entry_t **b = calloc(n, sizeof(entry_t *));
    if (b == NULL)
        return -1;
    for (size_t i = 0; i < s->nbuckets; i++) {
        entry_t *e = s->buckets[i];
        while (e != NULL) {
            entry_t *next = e->next;
            e->next = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
            e = next;
        }
    }
    free(s->buckets);
    s->buckets = b;
    s->nbuckets = n;
    return 0;
}

static entry_t *map_insert(stripe_t *s, uint64_t h, const char *name, size_t len)
{
    if (s->nentries >= s->nbuckets && map_grow(s) != 0 && s->nbuckets == 0)
        return NULL; /* a full table that cannot grow still works, just slower */
    entry_t *e = calloc(1, sizeof(*e) + len + 1);
    if (e == NULL)
        return NULL;
    e->hash = h;
    e->len = len;
    memcpy(e->name, name, len);
    entry_t **b = bucket_of(s, h);
    e->next = *b;
    *b = e;
    s->nentries++;
    return e;
}

static void map_remove(stripe_t *s, entry_t *e)
{
    for (entry_t **p = bucket_of(s, e->hash); *p != NULL; p = &(*p)->next) {
        if (*p == e) {
            *p = e->next;
            s->nentries--;
            free(e);
            return;
        }
    }
}

/* Frees an entry nobody needs: never had a mark, nobody inside or waiting. */
static void entry_release_locked(stripe_t *s, entry_t *e)
{
    if (!e->has_mark && !e->pinned && !e->busy && e->shared == 0 && e->waiters == 0)
        map_remove(s, e);
}

static void map_free(zkp_marks_t *m)
{
    for (size_t i = 0; i < STRIPES; i++) {
        stripe_t *s = &m->stripes[i];
        for (size_t j = 0; j < s->nbuckets; j++) {
            entry_t *e = s->buckets[j];
            while (e != NULL) {
                entry_t *next = e->next;
                free(e);
                e = next;
            }
        }
        free(s->buckets);
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
    }
}

/* ----------------------------------------------------------- SQLite */

static const char *const SCHEMA_SQL =
    "CREATE TABLE IF NOT EXISTS marks ("
    "  lock TEXT PRIMARY KEY NOT NULL,"
    "  mark TEXT NOT NULL CHECK (length(mark) = 20 AND mark NOT GLOB '*[^0-9]*')"
    ") WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY NOT NULL, v) WITHOUT ROWID;"
    "INSERT INTO meta (k, v) VALUES ('schema', 1) ON CONFLICT (k) DO NOTHING;";

/* Marks only go up, on disk too: max() of equal-length digit strings. */
static const char *const UPSERT_SQL =
    "INSERT INTO marks (lock, mark) VALUES (?1, ?2)"
    " ON CONFLICT (lock) DO UPDATE SET mark = max(mark, excluded.mark)"
    " RETURNING mark";

/* A repair: the one way down. */
static const char *const SET_SQL = "UPDATE marks SET mark = ?2 WHERE lock = ?1";
static const char *const CLEAR_SQL = "DELETE FROM marks WHERE lock = ?1";

static const char *const PROBE_SQL =
    "INSERT INTO meta (k, v) VALUES ('probe', ?1) ON CONFLICT (k) DO UPDATE SET v = excluded.v";

static int map_sqlite_rc(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return ZKP_FENCE_EBUSY;
    case SQLITE_NOMEM:
        return ZKP_FENCE_ENOMEM;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return ZKP_FENCE_ECORRUPT;
    }
    return ZKP_FENCE_ESTORE;
}

/* Runs a PRAGMA that answers with one text row and checks the answer. */
static int pragma_expect(sqlite3 *db, const char *sql, const char *want, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    const unsigned char *got = rc == SQLITE_ROW ? sqlite3_column_text(st, 0) : NULL;
    int ok = got != NULL && strcmp((const char *)got, want) == 0;
    if (!ok)
        set_err(err, errlen, "%s: %s", sql,
                got ? (const char *)got : sqlite3_errstr(rc == SQLITE_ROW ? SQLITE_ERROR : rc));
    sqlite3_finalize(st);
    if (ok)
        return 0;
    return rc == SQLITE_ROW ? ZKP_FENCE_ESTORE : map_sqlite_rc(rc);
}

static int exec_sql(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        return 0;
    set_err(err, errlen, "%s", sqlite3_errmsg(db));
    return map_sqlite_rc(rc);
}

/* WAL + synchronous=FULL: COMMIT returns after the WAL is fsync'd.
 * EXCLUSIVE: the write transaction below takes the file lock for good. */
static int db_configure(sqlite3 *db, char *err, size_t errlen)
{
    int rc = pragma_expect(db, "PRAGMA locking_mode = EXCLUSIVE", "exclusive", err, errlen);
    if (rc == 0)
        rc = pragma_expect(db, "PRAGMA journal_mode = WAL", "wal", err, errlen);
    if (rc == 0)
        rc = exec_sql(db, "PRAGMA synchronous = FULL", err, errlen);
    if (rc == 0)
        rc = exec_sql(db, "BEGIN IMMEDIATE", err, errlen);
    if (rc == 0) {
        rc = exec_sql(db, SCHEMA_SQL, err, errlen);
        rc = rc == 0 ? exec_sql(db, "COMMIT", err, errlen) : rc;
        if (!sqlite3_get_autocommit(db))
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    }
    if (rc == ZKP_FENCE_EBUSY)
        set_err(err, errlen, "the marks database is in use by another process");
    return rc;
}

static int db_check_schema(sqlite3 *db, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "SELECT v FROM meta WHERE k = 'schema'", -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    int version = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        set_err(err, errlen, "reading schema version: %s", sqlite3_errstr(rc));
        return map_sqlite_rc(rc);
    }
    if (version != SCHEMA_VERSION) {
        set_err(err, errlen, "unsupported marks schema version %d", version);
        return ZKP_FENCE_ECORRUPT;
    }
    return 0;
}

/* A stored mark: column text, then its length (in that order). */
static int column_mark(sqlite3_stmt *st, int col, uint64_t *out)
{
    const unsigned char *text = sqlite3_column_text(st, col);
    return decode_mark(text, sqlite3_column_bytes(st, col), out);
}

static int load_row(zkp_marks_t *m, sqlite3_stmt *st, char *err, size_t errlen)
{
    /* Types first: sqlite3_column_type() is undefined after a conversion,
     * and column_text() before column_bytes() gives the text's length. */
    if (sqlite3_column_type(st, 0) != SQLITE_TEXT || sqlite3_column_type(st, 1) != SQLITE_TEXT) {
        set_err(err, errlen, "a row of the marks table is not text");
        return ZKP_FENCE_ECORRUPT;
    }
    const char *name = (const char *)sqlite3_column_text(st, 0);
    size_t len = (size_t)sqlite3_column_bytes(st, 0);
    /* A name of the older, looser rule is kept, inert: no request can name
     * it any more (see zkp_lock_name_legacy), and it is counted. */
    if (!zkp_lock_name_legacy(name, len)) {
        set_err(err, errlen, "invalid lock name in the marks table");
        return ZKP_FENCE_ECORRUPT;
    }
    if (!zkp_lock_name_valid(name, len))
        atomic_fetch_add(&m->inert, 1);
    uint64_t mark;
    if (column_mark(st, 1, &mark) != 0) {
        set_err(err, errlen, "invalid mark for lock %.200s", name);
        return ZKP_FENCE_ECORRUPT;
    }
    uint64_t h = hash_name(m->seed, name, len);
    entry_t *e = map_insert(stripe_of(m, h), h, name, len);
    if (e == NULL) {
        set_err(err, errlen, "out of memory loading marks");
        return ZKP_FENCE_ENOMEM;
    }
    e->mark = mark;
    e->has_mark = 1;
    e->pinned = 1;
    atomic_fetch_add(&m->count, 1);
    return 0;
}

/* Fills the map; runs before the committer exists, so no locking. */
static int db_load(zkp_marks_t *m, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(m->db, "SELECT lock, mark FROM marks", -1, &st, NULL);
    int ret = 0;
    while (ret == 0 && rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        ret = load_row(m, st, err, errlen);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (ret == 0 && rc != SQLITE_DONE) {
        set_err(err, errlen, "loading marks: %s", sqlite3_errstr(rc));
        ret = map_sqlite_rc(rc);
    }
    return ret;
}

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
    return sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
}

static int db_open(zkp_marks_t *m, const char *path, char *err, size_t errlen)
{
    int flags =
        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
    int rc = sqlite3_open_v2(path, &m->db, flags, NULL);
    if (rc != SQLITE_OK) {
        set_err(err, errlen, "%s: %s", path, m->db ? sqlite3_errmsg(m->db) : sqlite3_errstr(rc));
        return map_sqlite_rc(rc);
    }
    int ret = db_configure(m->db, err, errlen);
    if (ret == 0)
        ret = db_check_schema(m->db, err, errlen);
    if (ret == 0)
        ret = db_load(m, err, errlen);
    if (ret == 0 && (prepare(m->db, UPSERT_SQL, &m->upsert) != SQLITE_OK ||
                     prepare(m->db, SET_SQL, &m->set) != SQLITE_OK ||
                     prepare(m->db, CLEAR_SQL, &m->clear) != SQLITE_OK ||
                     prepare(m->db, PROBE_SQL, &m->probe) != SQLITE_OK)) {
        set_err(err, errlen, "preparing statements: %s", sqlite3_errmsg(m->db));
        ret = ZKP_FENCE_ESTORE;
    }
    return ret;
}

static void db_close(zkp_marks_t *m)
{
    sqlite3_finalize(m->upsert);
    sqlite3_finalize(m->set);
    sqlite3_finalize(m->clear);
    sqlite3_finalize(m->probe);
    sqlite3_close(m->db); /* checkpoints the WAL into the database file */
    m->upsert = m->set = m->clear = m->probe = NULL;
    m->db = NULL;
}

static void db_rollback(zkp_marks_t *m)
{
    if (!sqlite3_get_autocommit(m->db))
        sqlite3_exec(m->db, "ROLLBACK", NULL, NULL, NULL);
}

/* One request's statement: a raise (upsert, which returns the mark now
 * on disk), or a repair's update or delete (the disk then holds exactly
 * what was asked: durable = token). */
static int db_upsert(zkp_marks_t *m, commit_req_t *r)
{
    char text[MARK_TEXT_LEN + 1];
    encode_mark(r->token, text);
    sqlite3_stmt *st = r->kind == C_RAISE ? m->upsert : r->kind == C_SET ? m->set : m->clear;
    int rc = sqlite3_bind_text(st, 1, r->lock, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK && r->kind != C_CLEAR)
        rc = sqlite3_bind_text(st, 2, text, MARK_TEXT_LEN, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        rc = column_mark(st, 0, &r->durable) != 0 ? SQLITE_CORRUPT : sqlite3_step(st);
    } else if (rc == SQLITE_DONE) {
        r->durable = r->token;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? 0 : rc;
}

/* Ends a write transaction: COMMIT (fsync'd), or a rollback when a step
 * failed or a failure is injected. Returns 0 or an SQLite code. */
static int db_finish(zkp_marks_t *m, int rc, const char **why)
{
    if (rc == SQLITE_OK && atomic_load(&m->inject)) {
        *why = "injected failure (simulated dead disk)";
        rc = SQLITE_IOERR;
    } else if (rc == SQLITE_OK) {
        rc = sqlite3_exec(m->db, "COMMIT", NULL, NULL, NULL);
    }
    if (rc != SQLITE_OK)
        db_rollback(m);
    return rc;
}

/* One transaction for the whole batch. Returns 0 or an SQLite code, with
 * *why set to a static text; nothing is applied to memory here. */
static int db_write_batch(zkp_marks_t *m, commit_req_t *batch, const char **why)
{
    int rc = sqlite3_exec(m->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    for (commit_req_t *r = batch; rc == SQLITE_OK && r != NULL; r = r->next)
        rc = db_upsert(m, r);
    if (rc != SQLITE_OK)
        *why = sqlite3_errstr(rc);
    rc = db_finish(m, rc, why);
    if (rc != SQLITE_OK && *why == NULL)
        *why = sqlite3_errstr(rc);
    return rc;
}

/* A write transaction that touches no mark: tells whether the disk is back. */
static int db_probe(zkp_marks_t *m, const char **why)
{
    int rc = sqlite3_exec(m->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(m->probe, 1, (sqlite3_int64)++m->probe_seq);
        rc = sqlite3_step(m->probe);
        rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
        sqlite3_reset(m->probe);
    }
    if (rc != SQLITE_OK)
        *why = sqlite3_errstr(rc);
    rc = db_finish(m, rc, why);
    if (rc != SQLITE_OK && *why == NULL)
        *why = sqlite3_errstr(rc);
    return rc;
}

/* ---------------------------------------------------------- committer */

/* Called with qmu held. */
static void note_result_locked(zkp_marks_t *m, int rc, const char *what, const char *why)
{
    atomic_store(&m->healthy, rc == SQLITE_OK);
    if (rc != SQLITE_OK)
        snprintf(m->errmsg, sizeof(m->errmsg), "%s: %s", what, why ? why : "unknown error");
}

/* Takes up to max_batch (>= 1) requests off the queue (qmu held); NULL
 * and *n = 0 when the queue is empty. */
static commit_req_t *take_batch_locked(zkp_marks_t *m, size_t *n)
{
    commit_req_t *batch = m->head;
    *n = 0;
    if (batch == NULL)
        return NULL;
    commit_req_t *last = batch;
    size_t k = 1;
    while (k < (size_t)m->opt.group_commit_max_batch && last->next != NULL) {
        last = last->next;
        k++;
    }
    m->head = last->next;
    if (m->head == NULL)
        m->tail = NULL;
    last->next = NULL;
    m->queued -= k;
    *n = k;
    return batch;
}

/* Optionally lingers for more updates before committing a non-full batch. */
static void gather_locked(zkp_marks_t *m)
{
    if (m->opt.group_commit_max_wait_us <= 0)
        return;
    struct timespec until = abstime_us(now_us() + m->opt.group_commit_max_wait_us);
    while (m->queued < (size_t)m->opt.group_commit_max_batch && !m->stopping)
        if (pthread_cond_timedwait(&m->qcv, &m->qmu, &until) == ETIMEDOUT)
            return;
}

static void commit_one_batch_locked(zkp_marks_t *m)
{
    gather_locked(m);
    size_t n;
    commit_req_t *batch = take_batch_locked(m, &n);
    pthread_mutex_unlock(&m->qmu);
    const char *why = NULL;
    int rc = db_write_batch(m, batch, &why);
    pthread_mutex_lock(&m->qmu);

    note_result_locked(m, rc, "committing marks", why);
    if (rc == SQLITE_OK) {
        m->stats.commits++;
        if (n > m->stats.largest_batch)
            m->stats.largest_batch = n;
    } else {
        m->stats.failed_commits++;
    }
    /* Wake the whole batch: each waiter applies its own mark to memory. */
    for (commit_req_t *r = batch, *next; r != NULL; r = next) {
        next = r->next; /* r is gone once its owner sees done */
        r->rc = rc == SQLITE_OK ? 0 : ZKP_FENCE_ESTORE;
        r->done = 1;
        pthread_cond_signal(&r->cv);
    }
}

static void probe_locked(zkp_marks_t *m)
{
    pthread_mutex_unlock(&m->qmu);
    const char *why = NULL;
    int rc = db_probe(m, &why);
    pthread_mutex_lock(&m->qmu);
    m->stats.probes++;
    note_result_locked(m, rc, "health probe", why);
}

static void *committer_main(void *arg)
{
    zkp_marks_t *m = arg;
    int64_t next_probe = 0;
    pthread_mutex_lock(&m->qmu);
    for (;;) {
        if (m->head != NULL) {
            commit_one_batch_locked(m);
            continue;
        }
        if (m->stopping) /* only once the queue is drained */
            break;
        if (atomic_load(&m->healthy)) {
            pthread_cond_wait(&m->qcv, &m->qmu);
            continue;
        }
        /* Unhealthy and idle: probe the disk now and then, so the store
         * recovers without needing traffic that begin() refuses anyway. */
        if (m->probe_now || now_us() >= next_probe) {
            m->probe_now = 0;
            probe_locked(m);
            next_probe = now_us() + (int64_t)m->opt.health_probe_interval_ms * 1000;
            continue;
        }
        struct timespec until = abstime_us(next_probe);
        pthread_cond_timedwait(&m->qcv, &m->qmu, &until);
    }
    pthread_mutex_unlock(&m->qmu);
    return NULL;
}

/* The committer takes no signals: the proxy decides which thread does. */
static int start_committer(zkp_marks_t *m)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&m->committer, NULL, committer_main, m);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

/* ------------------------------------------------------ open / close */

void zkp_marks_options_init(zkp_marks_options_t *o)
{
    if (o == NULL)
        return;
    memset(o, 0, sizeof(*o));
    o->size = sizeof(*o);
    o->group_commit_max_batch = DEFAULT_MAX_BATCH;
    o->group_commit_max_wait_us = 0;
    o->health_probe_interval_ms = DEFAULT_PROBE_MS;
}

/* Copies the caller's options over the defaults; 0 means default. */
static int options_resolve(const zkp_marks_options_t *in, zkp_marks_options_t *out, char *err,
                           size_t errlen)
{
    zkp_marks_options_init(out);
    if (in == NULL)
        return 0;
    if (in->size < sizeof(size_t) || in->size > sizeof(*out)) {
        set_err(err, errlen, "options: bad size (call zkp_marks_options_init)");
        return ZKP_FENCE_EINVAL;
    }
    memcpy(out, in, in->size);
    if (out->group_commit_max_batch < 0 || out->group_commit_max_wait_us < 0 ||
        out->group_commit_max_wait_us > MAX_WAIT_US_LIMIT || out->health_probe_interval_ms < 0) {
        set_err(err, errlen, "options: negative or out-of-range value");
        return ZKP_FENCE_EINVAL;
    }
    if (out->group_commit_max_batch == 0)
        out->group_commit_max_batch = DEFAULT_MAX_BATCH;
    if (out->health_probe_interval_ms == 0)
        out->health_probe_interval_ms = DEFAULT_PROBE_MS;
    out->size = sizeof(*out);
    return 0;
}

static void marks_init_sync(zkp_marks_t *m)
{
    for (size_t i = 0; i < STRIPES; i++) {
        pthread_mutex_init(&m->stripes[i].mu, NULL);
        pthread_cond_init(&m->stripes[i].cv, NULL);
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&m->qcv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&m->qmu, NULL);
}

static void marks_free(zkp_marks_t *m)
{
    db_close(m);
    map_free(m);
    pthread_mutex_destroy(&m->qmu);
    pthread_cond_destroy(&m->qcv);
    free(m);
}

int zkp_marks_open(const char *db_path, const zkp_marks_options_t *o, zkp_marks_t **out, char *err,
                   size_t errlen)
{
    set_err(err, errlen, "%s", "");
    if (db_path == NULL || out == NULL) {
        set_err(err, errlen, "db_path and out are required");
        return ZKP_FENCE_EINVAL;
    }
    zkp_marks_options_t opt;
    int rc = options_resolve(o, &opt, err, errlen);
    if (rc != 0)
        return rc;
    zkp_marks_t *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        set_err(err, errlen, "out of memory");
        return ZKP_FENCE_ENOMEM;
    }
    m->opt = opt;
    m->seed = random_seed(m);
    atomic_init(&m->count, 0);
    atomic_init(&m->inert, 0);
    atomic_init(&m->healthy, 1);
    atomic_init(&m->inject, 0);
    marks_init_sync(m);
    rc = db_open(m, db_path, err, errlen);
    if (rc == 0 && start_committer(m) != 0) {
        set_err(err, errlen, "cannot start the committer thread");
        rc = ZKP_FENCE_ENOMEM;
    }
    if (rc != 0) {
        marks_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

void zkp_marks_close(zkp_marks_t *m)
{
    if (m == NULL)
        return;
    pthread_mutex_lock(&m->qmu);
    m->stopping = 1;
    pthread_cond_signal(&m->qcv);
    pthread_mutex_unlock(&m->qmu);
    pthread_join(m->committer, NULL);
    marks_free(m);
}

/* -------------------------------------------------------------- reads */

int zkp_marks_get(zkp_marks_t *m, const char *lock, uint64_t *mark)
{
    if (m == NULL || lock == NULL || mark == NULL)
        return ZKP_FENCE_EINVAL;
    size_t len = strlen(lock);
    uint64_t h = hash_name(m->seed, lock, len);
    stripe_t *s = stripe_of(m, h);
    pthread_mutex_lock(&s->mu);
    entry_t *e = map_find(s, h, lock, len);
    int rc = 1;
    if (e != NULL && e->has_mark) {
        *mark = e->mark;
        rc = 0;
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

size_t zkp_marks_count(zkp_marks_t *m)
{
    return m ? atomic_load(&m->count) : 0;
}

size_t zkp_marks_inert(zkp_marks_t *m)
{
    return m ? atomic_load(&m->inert) : 0;
}

typedef struct snap_item {
    const char *lock; /* an entry with a mark: lives until close */
    uint64_t mark;
} snap_item_t;

typedef struct snapshot {
    snap_item_t *items;
    size_t n, cap;
} snapshot_t;

static int snap_push(snapshot_t *sn, const char *lock, uint64_t mark)
{
    if (sn->n == sn->cap) {
        size_t cap = sn->cap ? sn->cap * 2 : 64;
        snap_item_t *p = realloc(sn->items, cap * sizeof(*p));
        if (p == NULL)
            return -1;
        sn->items = p;
        sn->cap = cap;
    }
    sn->items[sn->n++] = (snap_item_t){lock, mark};
    return 0;
}

static int snap_stripe(stripe_t *s, snapshot_t *sn)
{
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    for (size_t j = 0; rc == 0 && j < s->nbuckets; j++)
        for (entry_t *e = s->buckets[j]; rc == 0 && e != NULL; e = e->next)
            if (e->has_mark)
                rc = snap_push(sn, e->name, e->mark);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static int snap_cmp(const void *a, const void *b)
{
    return strcmp(((const snap_item_t *)a)->lock, ((const snap_item_t *)b)->lock);
}

int zkp_marks_foreach(zkp_marks_t *m, int (*cb)(const char *lock, uint64_t mark, void *arg),
                      void *arg)
{
    if (m == NULL || cb == NULL)
        return ZKP_FENCE_EINVAL;
    snapshot_t sn = {0};
    for (size_t i = 0; i < STRIPES; i++) {
        if (snap_stripe(&m->stripes[i], &sn) != 0) {
            free(sn.items);
            return ZKP_FENCE_ENOMEM;
        }
    }
    if (sn.n > 1)
        qsort(sn.items, sn.n, sizeof(*sn.items), snap_cmp);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sn.n; i++)
        rc = cb(sn.items[i].lock, sn.items[i].mark, arg);
    free(sn.items);
    return rc;
}

int zkp_marks_healthy(zkp_marks_t *m)
{
    return m != NULL && atomic_load(&m->healthy);
}

void zkp_marks_last_error(zkp_marks_t *m, char *buf, size_t len)
{
    if (buf == NULL || len == 0)
        return;
    buf[0] = '\0';
    if (m == NULL)
        return;
    pthread_mutex_lock(&m->qmu);
    snprintf(buf, len, "%s", m->errmsg);
    pthread_mutex_unlock(&m->qmu);
}

void zkp_marks_stats(zkp_marks_t *m, zkp_marks_stats_t *out)
{
    if (out == NULL)
        return;
    memset(out, 0, sizeof(*out));
    if (m == NULL)
        return;
    pthread_mutex_lock(&m->qmu);
    *out = m->stats;
    pthread_mutex_unlock(&m->qmu);
}

uint64_t zkp_marks_commits(zkp_marks_t *m)
{
    zkp_marks_stats_t st;
    zkp_marks_stats(m, &st);
    return st.commits;
}

void zkp_marks_inject_failure(zkp_marks_t *m, int on)
{
    if (m == NULL)
        return;
    atomic_store(&m->inject, on != 0);
    if (on)
        return;
    /* The "disk" is back: have the committer find out now. */
    pthread_mutex_lock(&m->qmu);
    m->probe_now = 1;
    pthread_cond_signal(&m->qcv);
    pthread_mutex_unlock(&m->qmu);
}

/* -------------------------------------------------- per-lock section */

/* How a request with `token` may enter e's section now. */
typedef enum {
    ADMIT_ALONE,  /* may change the mark: inside alone */
    ADMIT_SHARED, /* token equal to the mark: inside with the other such */
    ADMIT_STALE,  /* below the mark: decided, nothing entered */
    ADMIT_WAIT,   /* not now */
} admit_t;

/* counted: the caller itself is among e->xwaiters. */
static admit_t admit_now(const entry_t *e, uint64_t token, int counted)
{
    if (e->busy)
        return ADMIT_WAIT; /* the mark may be changing */
    if (e->has_mark && token < e->mark)
        return ADMIT_STALE;
    if (e->has_mark && token == e->mark)
        return e->xwaiters > (unsigned)counted ? ADMIT_WAIT : ADMIT_SHARED;
    return e->shared > 0 ? ADMIT_WAIT : ADMIT_ALONE;
}

/* Decides how a request with `token` enters e's section and enters it
 * (busy or shared set), waiting (stripe mutex released meanwhile) if
 * `wait`. Without `wait`, whatever would wait (for the section, or for the
 * disk: entering alone means raising the mark) is ADMIT_WAIT, with nothing
 * changed. While it waits for the section alone it counts in xwaiters,
 * so that no new request enters shared before it. The stripe condvar is shared by all entries of
 * the stripe, so every wake-up is a broadcast (a single signal could go to
 * a waiter of another lock and be lost). */
static admit_t section_admit_locked(stripe_t *s, entry_t *e, uint64_t token, int wait)
{
    int counted = 0;
    admit_t a;
    for (;;) {
        a = admit_now(e, token, counted);
        if (!wait && a == ADMIT_ALONE)
            a = ADMIT_WAIT;
        if (a != ADMIT_WAIT || !wait)
            break;
        /* The mark moves while we wait (a raise, or a repair that lowers
         * it): what we wait for is decided again each time, alone (our
         * token above the mark) or shared (another request raised it to
         * our token). */
        int alone = !(e->has_mark && token <= e->mark);
        if (alone != counted) {
            e->xwaiters = alone ? e->xwaiters + 1 : e->xwaiters - 1;
            counted = alone;
        }
        e->waiters++;
        pthread_cond_wait(&s->cv, &s->mu);
        e->waiters--;
    }
    if (counted) {
        e->xwaiters--;
        /* Requests of equal token may have been waiting for us only. */
        if (e->waiters > 0)
            pthread_cond_broadcast(&s->cv);
    }
    if (a == ADMIT_ALONE)
        e->busy = 1;
    else if (a == ADMIT_SHARED)
        e->shared++;
    return a;
}

/* Leaves e's section, whichever way it was entered. */
static void section_leave_locked(stripe_t *s, entry_t *e, int shared)
{
    if (shared)
        e->shared--;
    else
        e->busy = 0;
    if (e->waiters > 0 && (!shared || e->shared == 0))
        pthread_cond_broadcast(&s->cv);
    entry_release_locked(s, e);
}

/* Finds (or makes) the entry of lock[0..len). Returns it with its stripe's
 * mutex held (*sp), or NULL without memory (nothing held). */
static entry_t *entry_get(zkp_marks_t *m, const char *lock, size_t len, stripe_t **sp)
{
    uint64_t h = hash_name(m->seed, lock, len);
    stripe_t *s = stripe_of(m, h);
    pthread_mutex_lock(&s->mu);
    entry_t *e = map_find(s, h, lock, len);
    if (e == NULL && (e = map_insert(s, h, lock, len)) == NULL) {
        pthread_mutex_unlock(&s->mu);
        return NULL;
    }
    *sp = s;
    return e;
}

/* For a repair: the entry of lock[0..len), once nobody is inside its
 * section (counted in xwaiters meanwhile: shared requests drain, new ones
 * wait), returned with its stripe's mutex held (*sp), or NULL without
 * memory (nothing held). The caller sets busy, or releases. */
static entry_t *section_enter_alone(zkp_marks_t *m, const char *lock, size_t len, stripe_t **sp)
{
    entry_t *e = entry_get(m, lock, len, sp);
    if (e == NULL)
        return NULL;
    stripe_t *s = *sp;
    e->xwaiters++;
    e->waiters++;
    while (e->busy || e->shared > 0)
        pthread_cond_wait(&s->cv, &s->mu);
    e->waiters--;
    e->xwaiters--;
    if (e->waiters > 0)
        pthread_cond_broadcast(&s->cv);
    return e;
}

static int fence_begin(zkp_marks_t *m, const char *lock, uint64_t token, int wait,
                       zkp_fence_txn_t **txn, zkp_verdict_t *verdict, uint64_t *mark_before,
                       int *had_mark)
{
    if (txn != NULL)
        *txn = NULL;
    if (m == NULL || lock == NULL || txn == NULL || verdict == NULL)
        return ZKP_FENCE_EINVAL;
    size_t len = strnlen(lock, ZKP_LOCK_NAME_MAX + 1);
    if (!zkp_lock_name_valid(lock, len))
        return ZKP_FENCE_EINVAL;
    /* Allocated up front, so that no failure can happen inside the section. */
    zkp_fence_txn_t *t = malloc(sizeof(*t));
    if (t == NULL)
        return ZKP_FENCE_ENOMEM;

    stripe_t *s;
    entry_t *e = entry_get(m, lock, len, &s);
    if (e == NULL) {
        free(t);
        return ZKP_FENCE_ENOMEM;
    }
    admit_t a = section_admit_locked(s, e, token, wait);
    if (a == ADMIT_WAIT) {
        entry_release_locked(s, e);
        pthread_mutex_unlock(&s->mu);
        free(t);
        return ZKP_FENCE_EAGAIN;
    }
    zkp_verdict_t v = zkp_fence_decide(e->has_mark, e->mark, token);
    *verdict = v;
    if (mark_before != NULL)
        *mark_before = e->has_mark ? e->mark : 0;
    if (had_mark != NULL)
        *had_mark = e->has_mark;
    /* A rejection needs no write, so it is answered even when unhealthy;
     * an acceptance is refused then (fail closed). */
    int rc = v != ZKP_VERDICT_REJECT_STALE && !atomic_load(&m->healthy) ? ZKP_FENCE_ESTORE : 0;
    if (v == ZKP_VERDICT_REJECT_STALE || rc != 0) {
        if (a == ADMIT_STALE)
            entry_release_locked(s, e);
        else
            section_leave_locked(s, e, a == ADMIT_SHARED);
        pthread_mutex_unlock(&s->mu);
        free(t);
        return rc;
    }
    pthread_mutex_unlock(&s->mu);
    *t = (zkp_fence_txn_t){.m = m, .e = e, .token = token, .shared = a == ADMIT_SHARED};
    *txn = t;
    return 0;
}

int zkp_fence_begin(zkp_marks_t *m, const char *lock, uint64_t token, zkp_fence_txn_t **txn,
                    zkp_verdict_t *verdict, uint64_t *mark_before, int *had_mark)
{
    return fence_begin(m, lock, token, 1, txn, verdict, mark_before, had_mark);
}

int zkp_fence_try_begin(zkp_marks_t *m, const char *lock, uint64_t token, zkp_fence_txn_t **txn,
                        zkp_verdict_t *verdict, uint64_t *mark_before, int *had_mark)
{
    return fence_begin(m, lock, token, 0, txn, verdict, mark_before, had_mark);
}

/* Hands the update to the committer and waits for its batch to commit. */
static int persist_wait(zkp_marks_t *m, commit_req_t *r)
{
    pthread_cond_init(&r->cv, NULL);
    pthread_mutex_lock(&m->qmu);
    if (m->tail != NULL)
        m->tail->next = r;
    else
        m->head = r;
    m->tail = r;
    m->queued++;
    m->stats.updates++;
    pthread_cond_signal(&m->qcv);
    while (!r->done)
        pthread_cond_wait(&r->cv, &m->qmu);
    pthread_mutex_unlock(&m->qmu);
    pthread_cond_destroy(&r->cv);
    return r->rc;
}

int zkp_fence_persist(zkp_fence_txn_t *txn)
{
    if (txn == NULL)
        return ZKP_FENCE_EINVAL;
    zkp_marks_t *m = txn->m;
    entry_t *e = txn->e;
    /* Reading e without the stripe mutex is safe: only a thread inside the
     * section alone (this one, or none while this txn is shared) ever
     * writes e->mark / e->has_mark. Below the mark can only mean that an
     * earlier call of this txn found a higher durable mark: it stays
     * stale. A shared txn's token is the mark: the next test returns. */
    if (e->has_mark && txn->token < e->mark)
        return ZKP_FENCE_ESTALE;
    if (e->has_mark && txn->token == e->mark)
        return 0;
    if (!atomic_load(&m->healthy))
        return ZKP_FENCE_ESTORE;
    commit_req_t r = {.lock = e->name, .token = txn->token};
    int rc = persist_wait(m, &r);
    if (rc != 0)
        return rc;
    /* The disk may hold more than our token (a commit that reported failure
     * but reached the disk): memory follows the disk, never below it, and
     * the token is then stale: accepting it would make a write visible
     * under a mark that has already moved past it. */
    stripe_t *s = stripe_of(m, e->hash);
    pthread_mutex_lock(&s->mu);
    if (!e->has_mark)
        atomic_fetch_add(&m->count, 1);
    if (!e->has_mark || r.durable > e->mark)
        e->mark = r.durable;
    e->has_mark = 1;
    e->pinned = 1;
    pthread_mutex_unlock(&s->mu);
    return r.durable > txn->token ? ZKP_FENCE_ESTALE : 0;
}

uint64_t zkp_fence_txn_mark(const zkp_fence_txn_t *txn)
{
    /* No stripe mutex needed: only a holder of the section alone writes
     * the mark, and none is inside while this txn is. */
    return txn != NULL && txn->e->has_mark ? txn->e->mark : 0;
}

void zkp_fence_end(zkp_fence_txn_t *txn)
{
    if (txn == NULL)
        return;
    entry_t *e = txn->e;
    stripe_t *s = stripe_of(txn->m, e->hash);
    pthread_mutex_lock(&s->mu);
    section_leave_locked(s, e, txn->shared);
    pthread_mutex_unlock(&s->mu);
    free(txn);
}

/* ------------------------------------------------------------- repair */

int zkp_marks_repair(zkp_marks_t *m, const char *lock, int clear, uint64_t new_mark,
                     zkp_repair_done_fn done, void *arg, int *had_mark, uint64_t *old_mark)
{
    if (m == NULL || lock == NULL)
        return ZKP_FENCE_EINVAL;
    size_t len = strnlen(lock, ZKP_LOCK_NAME_MAX + 1);
    if (!zkp_lock_name_legacy(lock, len))
        return ZKP_FENCE_EINVAL;
    stripe_t *s;
    entry_t *e = section_enter_alone(m, lock, len, &s);
    if (e == NULL)
        return ZKP_FENCE_ENOMEM;
    /* Alone in the section: decide, then write with only busy set, as a
     * persist does (other locks of the stripe go on meanwhile). */
    int had = e->has_mark;
    uint64_t old = e->has_mark ? e->mark : 0;
    if (had_mark != NULL)
        *had_mark = had;
    if (old_mark != NULL)
        *old_mark = old;
    int rc = 0;
    if (!e->has_mark && clear)
        rc = 1; /* nothing to clear */
    else if (!e->has_mark || (!clear && new_mark > e->mark))
        rc = ZKP_FENCE_ERANGE;
    else if (!atomic_load(&m->healthy))
        rc = ZKP_FENCE_ESTORE;
    if (rc != 0) {
        /* Still alone in the section (nobody else can enter while the
         * stripe mutex is held): the outcome is reported in order too. */
        rc = rc > 0 ? 0 : rc;
        if (done != NULL) {
            e->busy = 1;
            pthread_mutex_unlock(&s->mu);
            done(arg, rc, had, old);
            pthread_mutex_lock(&s->mu);
            section_leave_locked(s, e, 0);
        } else {
            entry_release_locked(s, e);
        }
        pthread_mutex_unlock(&s->mu);
        return rc;
    }
    e->busy = 1;
    pthread_mutex_unlock(&s->mu);

    commit_req_t r = {.kind = clear ? C_CLEAR : C_SET, .lock = e->name, .token = new_mark};
    rc = persist_wait(m, &r);

    pthread_mutex_lock(&s->mu);
    if (rc == 0 && clear) {
        e->has_mark = 0; /* pinned: the entry stays, foreach may hold its name */
        e->mark = 0;
        atomic_fetch_sub(&m->count, 1);
        if (!zkp_lock_name_valid(e->name, e->len))
            atomic_fetch_sub(&m->inert, 1);
    } else if (rc == 0) {
        e->mark = new_mark;
    }
    pthread_mutex_unlock(&s->mu);
    if (done != NULL)
        done(arg, rc, had, old);
    pthread_mutex_lock(&s->mu);
    section_leave_locked(s, e, 0);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

unsigned zkp_marks_section_waiters(zkp_marks_t *m, const char *lock)
{
    if (m == NULL || lock == NULL)
        return 0;
    size_t len = strlen(lock);
    uint64_t h = hash_name(m->seed, lock, len);
    stripe_t *s = stripe_of(m, h);
    pthread_mutex_lock(&s->mu);
    entry_t *e = map_find(s, h, lock, len);
    unsigned n = e != NULL ? e->waiters : 0;
    pthread_mutex_unlock(&s->mu);
    return n;
}
