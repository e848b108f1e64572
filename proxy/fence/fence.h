/* zkfence-proxy fencing core: tokens, the durable high-water marks, the
 * atomic per-lock section and the audit log.
 *
 * This library knows nothing of HTTP or of storage backends. The proxy
 * calls it like this for every fenced request (a write; a fenced read, whose
 * snapshot takes the place of the write; a fence-advance, with nothing in
 * its place):
 *
 *     zkp_token_parse()                     400 if it fails
 *     zkp_fence_begin()                     <0: 503, nothing held
 *       REJECT_STALE -> 412, nothing written (txn is NULL, section left)
 *     zkp_fence_persist()                   ESTALE: 412 (the disk held a higher mark)
 *                                           other <0: 503; either way the write must not
 *                                           become visible
 *     backend makes the object visible      (rename, upstream PUT, ...;
 *                                           a read: the object opened)
 *     zkp_fence_end()
 *     zkp_audit_log(), respond
 *
 * Guarantees (see DESIGN.md, "The fencing protocol"):
 *  - per lock, check + write + mark update are atomic: only one request at a
 *    time is between zkp_fence_begin() and zkp_fence_end() for a given lock;
 *    requests on different locks never wait for each other;
 *  - a mark is durable (committed and fsync'd) before zkp_fence_persist()
 *    returns 0, so before the object is visible and before the client hears
 *    of it; a kill -9 never lowers a mark;
 *  - marks never go down, in memory or on disk;
 *  - when the store cannot write, writes fail closed (ZKP_FENCE_ESTORE) while
 *    reads (get, count, foreach) keep answering from memory.
 *
 * Return codes: 0 is success; every failure is one of the negative
 * ZKP_FENCE_E* codes below. Functions that answer a question (1/0) say so.
 */
#ifndef ZKP_FENCE_H
#define ZKP_FENCE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- errors */

/* X(name, value, text): the one list behind the enum and
 * zkp_fence_strerror(), so the two never drift apart. */
#define ZKP_FENCE_ERRNO_MAP(X)                                                                     \
    X(EINVAL, -1, "invalid argument")                                                              \
    X(ENOMEM, -2, "out of memory")                                                                 \
    X(ESTORE, -3, "mark store unavailable (write failed or store unhealthy)")                      \
    X(EBUSY, -4, "mark store is in use by another process")                                        \
    X(ECORRUPT, -5, "mark store holds invalid data")                                               \
    X(EIO, -6, "I/O error")                                                                        \
    X(ESTALE, -7, "the token is lower than the durable mark found when persisting")

typedef enum {
    ZKP_FENCE_OK = 0,
#define ZKP_FENCE_ERR_ENUM_(name, value, text) ZKP_FENCE_##name = (value),
    ZKP_FENCE_ERRNO_MAP(ZKP_FENCE_ERR_ENUM_)
#undef ZKP_FENCE_ERR_ENUM_
} zkp_fence_err_t;

/* A static English text for any return code of this library ("success" for
 * 0, "unknown error" for codes it never returns). Thread-safe. */
const char *zkp_fence_strerror(int rc);

/* ------------------------------------------------- tokens and lock names */

/* Longest token text (UINT64_MAX has 20 digits) and longest lock name. */
#define ZKP_TOKEN_MAX_LEN 20
#define ZKP_LOCK_NAME_MAX 1024

/* Parses a fencing token: the decimal text of an unsigned 64-bit number.
 * Accepts exactly 1..20 ASCII digits whose value is <= UINT64_MAX, with no
 * sign, no whitespace and no leading zero except "0" itself, so every token
 * has exactly one spelling (the one snprintf("%" PRIu64) produces). `s` need
 * not be NUL-terminated; exactly `len` bytes are read, so an embedded NUL is
 * just an invalid byte. Pure function, thread-safe.
 * Returns 0 and sets *out; -1 if the text is not a token (*out untouched). */
int zkp_token_parse(const char *s, size_t len, uint64_t *out);

/* 1 if the `len` bytes at `s` are usable as a lock name: 1..1024 bytes, each
 * printable ASCII 0x21..0x7e (a ZooKeeper path like /locks/seat-12 is
 * typical); 0 otherwise (also for s == NULL). Pure function, thread-safe. */
int zkp_lock_name_valid(const char *s, size_t len);

/* ------------------------------------------------------------- the rule */

typedef enum {
    ZKP_VERDICT_ACCEPT_HIGHER, /* no mark yet, or token > mark: accept, token becomes the mark */
    ZKP_VERDICT_ACCEPT_EQUAL,  /* token == mark: accept (one holder writes many times) */
    ZKP_VERDICT_REJECT_STALE,  /* token < mark: reject, write nothing */
    /* Refusals that zkp_fence_decide() never returns, so that the audit log
     * and the metrics can name every answer to a fenced request: */
    ZKP_VERDICT_REJECT_MISSING,     /* lock or token missing where fencing is required (428) */
    ZKP_VERDICT_REJECT_UNAVAILABLE, /* the mark store cannot write: fail closed (503) */
    ZKP_VERDICT_REJECT_INVALID,     /* accepted token, but the key named is invalid: not applied */
    /* accepted token (the mark was raised), but the request's own
     * precondition (If-Match, If-None-Match) failed: not applied (412) */
    ZKP_VERDICT_REJECT_PRECONDITION,
    ZKP_VERDICT_COUNT_ /* number of verdicts, for tables indexed by verdict */
} zkp_verdict_t;

/* The pure fencing rule. has_mark == 0 means the lock has no mark yet, and
 * then any token (0 included) is ACCEPT_HIGHER; `mark` is ignored. Returns
 * one of the first three verdicts only. */
zkp_verdict_t zkp_fence_decide(int has_mark, uint64_t mark, uint64_t token);

/* "accepted_higher", "accepted_equal", "rejected_stale", "rejected_missing",
 * "rejected_unavailable", "rejected_invalid", "rejected_precondition";
 * "unknown" for any other value.
 * Static strings, thread-safe. */
const char *zkp_verdict_name(zkp_verdict_t v);

/* ------------------------------------------------------- the mark store */

/* The durable store of the highest token accepted per lock: an SQLite
 * database (WAL, synchronous=FULL) plus an in-memory map loaded at open,
 * which answers every read. The disk is written only by the store's own
 * group-commit thread. One process at a time: the database is held with an
 * exclusive lock from open to close. */
typedef struct zkp_marks zkp_marks_t;

typedef struct zkp_marks_options {
    size_t size; /* sizeof(zkp_marks_options_t), set by zkp_marks_options_init() */
    /* Most mark updates written in one transaction (one fsync). 0: default
     * (1024). */
    int group_commit_max_batch;
    /* How long the committer, holding a non-full batch, waits for more
     * updates before committing. 0: default, which is no extra wait: updates
     * that arrive while a commit's fsync is running form the next batch
     * anyway, so batching grows with load without adding latency at low
     * load. */
    int group_commit_max_wait_us;
    /* While the store is unhealthy, how often the committer tries a probe
     * transaction to find out whether the disk is back. 0: default (200). */
    int health_probe_interval_ms;
} zkp_marks_options_t;

/* Fills *o with the defaults, size included. Always call it before setting
 * fields, so fields added later keep their defaults. */
void zkp_marks_options_init(zkp_marks_options_t *o);

/* Opens (creating if needed) the mark database at db_path, loads every mark
 * into memory and starts the committer thread. `o` may be NULL (defaults);
 * it is copied, not kept. On failure, if err != NULL, a NUL-terminated
 * message of at most errlen bytes says why.
 * Returns 0 and sets *out (free with zkp_marks_close()); or
 *   ZKP_FENCE_EINVAL   bad argument or option (negative values, bad size),
 *   ZKP_FENCE_EBUSY    another process holds the database,
 *   ZKP_FENCE_ECORRUPT a stored row is not a valid lock name and token,
 *   ZKP_FENCE_ESTORE   SQLite could not open, configure or read the file,
 *   ZKP_FENCE_ENOMEM.
 * *out is untouched on failure. */
int zkp_marks_open(const char *db_path, const zkp_marks_options_t *o, zkp_marks_t **out, char *err,
                   size_t errlen);

/* Writes out every mark update still queued, stops the committer, closes the
 * database and frees everything. NULL is a no-op. The caller guarantees that
 * no other call on `m` is running or will run: every txn has been ended. */
void zkp_marks_close(zkp_marks_t *m);

/* The durable mark of `lock` (a NUL-terminated string), from memory.
 * Thread-safe, never touches the disk, works while the store is unhealthy.
 * Returns 0 and sets *mark; 1 if the lock has no mark (*mark untouched);
 * ZKP_FENCE_EINVAL if an argument is NULL. */
int zkp_marks_get(zkp_marks_t *m, const char *lock, uint64_t *mark);

/* Number of locks that have a mark. Thread-safe; 0 for NULL. */
size_t zkp_marks_count(zkp_marks_t *m);

/* Calls cb(lock, mark, arg) for each lock with a mark, sorted by lock name
 * (strcmp order), over a snapshot taken at the call: marks raised during the
 * iteration are not seen, and cb may call any other function of this library
 * (it runs with no lock held). Each mark in the snapshot was durable when
 * read; marks of different locks are read one lock at a time, not at one
 * instant. `lock` is borrowed and valid until zkp_marks_close(). Stops early
 * when cb returns non-zero. Thread-safe.
 * Returns 0 after a full run, the non-zero value cb returned to stop, or
 * ZKP_FENCE_EINVAL / ZKP_FENCE_ENOMEM (cb never called then). */
int zkp_marks_foreach(zkp_marks_t *m, int (*cb)(const char *lock, uint64_t mark, void *arg),
                      void *arg);

/* 1 if the last durable write (mark batch or health probe) succeeded, 0
 * otherwise. While 0, zkp_fence_begin() refuses accepting verdicts; the
 * committer probes the disk every health_probe_interval_ms and the store
 * becomes healthy again after a probe or batch succeeds. Thread-safe. */
int zkp_marks_healthy(zkp_marks_t *m);

/* Copies the text of the last store failure (or "" if none) into buf.
 * Thread-safe. */
void zkp_marks_last_error(zkp_marks_t *m, char *buf, size_t len);

/* Counters since open, for tests, metrics and benchmarks. */
typedef struct zkp_marks_stats {
    uint64_t updates;        /* mark updates handed to the committer by zkp_fence_persist() */
    uint64_t commits;        /* transactions carrying mark updates that committed (fsync'd) */
    uint64_t failed_commits; /* transactions carrying mark updates that failed */
    uint64_t probes;         /* health-probe transactions tried */
    uint64_t largest_batch;  /* most updates carried by one transaction */
} zkp_marks_stats_t;

/* A consistent copy of the counters. Thread-safe. */
void zkp_marks_stats(zkp_marks_t *m, zkp_marks_stats_t *out);

/* Shorthand for the `commits` counter: with concurrent persists from
 * different locks, it grows slower than `updates` (group commit). */
uint64_t zkp_marks_commits(zkp_marks_t *m);

/* Test hook: while on != 0, every durable write (mark batches and health
 * probes) fails as if the disk were dead: the transaction is rolled back,
 * its waiters get ZKP_FENCE_ESTORE and the store turns unhealthy. Turning it
 * off wakes the committer to probe at once: zkp_marks_healthy() returns 1
 * again shortly after (asynchronously; poll it). Thread-safe. */
void zkp_marks_inject_failure(zkp_marks_t *m, int on);

/* ------------------------------------------------ the per-lock section */

/* One request's stay in the section of one lock. Owned by the caller from a
 * successful zkp_fence_begin() until zkp_fence_end(); used by one thread at
 * a time (it may move between threads). */
typedef struct zkp_fence_txn zkp_fence_txn_t;

/* Enters the section of `lock` (NUL-terminated, zkp_lock_name_valid()),
 * blocking until no other request is inside it (requests on other locks
 * never wait), then decides with zkp_fence_decide() against the current
 * durable mark. Sets *verdict, *had_mark and *mark_before (the mark the
 * decision was made against; 0 when there was none). mark_before and
 * had_mark may be NULL.
 *  - ACCEPT_*: returns 0 with *txn set; the caller is inside the section
 *    and must call zkp_fence_end(*txn) exactly once.
 *  - REJECT_STALE: returns 0 with *txn = NULL; the section has already been
 *    left. A stale token is rejected even while the store is unhealthy:
 *    that answer needs no write.
 * Errors (nothing held, *txn = NULL; the outputs other than *txn are set
 * only when the decision was made, i.e. for ZKP_FENCE_ESTORE):
 *   ZKP_FENCE_ESTORE   the store is unhealthy and the verdict would accept:
 *                      answer 503 (fail closed);
 *   ZKP_FENCE_EINVAL   NULL argument or invalid lock name;
 *   ZKP_FENCE_ENOMEM.
 * Thread-safe. A thread must not call it for a lock whose section it is
 * already in (it would wait for itself forever). */
int zkp_fence_begin(zkp_marks_t *m, const char *lock, uint64_t token, zkp_fence_txn_t **txn,
                    zkp_verdict_t *verdict, uint64_t *mark_before, int *had_mark);

/* ACCEPT_HIGHER: makes the token the lock's new mark, durably (committed and
 * fsync'd, together with concurrent persists of other locks in one group
 * commit) before returning. ACCEPT_EQUAL, or a repeated call: no-op.
 * Returns 0, or
 *   ZKP_FENCE_ESTALE  the disk already held a mark higher than the token (a
 *                     commit that reported failure had reached the disk):
 *                     the verdict is REJECT_STALE after all. Memory now
 *                     holds that mark (zkp_fence_txn_mark() tells it); the
 *                     caller answers 412 and must not make its write
 *                     visible. Repeated calls return ZKP_FENCE_ESTALE again;
 *   ZKP_FENCE_ESTORE  the store could not write (or is unhealthy): the mark
 *                     was not raised, the caller answers 503 and must not
 *                     make its write visible;
 *   ZKP_FENCE_EINVAL  txn is NULL.
 * After any result the caller still calls zkp_fence_end(). Blocks for one
 * group commit at most. */
int zkp_fence_persist(zkp_fence_txn_t *txn);

/* The lock's durable mark as seen from inside the section (0 if it has
 * none): after zkp_fence_persist() returned ZKP_FENCE_ESTALE, the mark that
 * makes the token stale. Only the thread holding txn may call it; 0 for
 * NULL. */
uint64_t zkp_fence_txn_mark(const zkp_fence_txn_t *txn);

/* Leaves the section (waking the next request for the lock) and frees txn.
 * NULL is a no-op. */
void zkp_fence_end(zkp_fence_txn_t *txn);

/* ----------------------------------------------------------- audit log */

/* The audit log: one JSON line per fencing decision. */
typedef struct zkp_audit zkp_audit_t;

/* Opens `path` for appending (created 0640 if missing), or standard error
 * for "-" (which close() then leaves open). On failure, writes a message to
 * err (if non-NULL) and returns ZKP_FENCE_EINVAL (NULL argument), ZKP_FENCE_EIO
 * (open failed) or ZKP_FENCE_ENOMEM; else 0 with *out set (free with
 * zkp_audit_close()). */
int zkp_audit_open(const char *path, zkp_audit_t **out, char *err, size_t errlen);

/* Reopens the same path (after log rotation, e.g. on SIGHUP). The old file
 * stays in use if the new one cannot be opened. Returns 0 or ZKP_FENCE_EIO.
 * Thread-safe with zkp_audit_log(). */
int zkp_audit_reopen(zkp_audit_t *a);

/* Closes the file (not standard error) and frees `a`. NULL is a no-op. No
 * zkp_audit_log() may be running or follow. */
void zkp_audit_close(zkp_audit_t *a);

/* Appends one line:
 *   {"time":"2024-05-01T12:00:00.123Z","lock":"/locks/a","token":"42",
 *    "mark":"41"|null,"verdict":"accepted_higher","bucket":"b","key":"k","op":"put"}
 * time is RFC 3339 UTC with milliseconds; token and mark are decimal strings
 * (JSON numbers lose precision above 2^53); mark is null when had_mark is 0.
 * lock, bucket, key, op are borrowed for the call; NULL gives null. Strings
 * are JSON-escaped (quote, backslash, control characters as \uXXXX or the
 * short escapes); bytes that are not valid UTF-8 become U+FFFD. Each line is
 * written with a single write(2) and is not fsync'd (the marks, not the log,
 * are the durable record). Thread-safe: lines never interleave. A failed
 * write is counted (zkp_audit_errors()), never fatal. a == NULL: no-op. */
void zkp_audit_log(zkp_audit_t *a, const char *lock, uint64_t token, int had_mark, uint64_t mark,
                   zkp_verdict_t v, const char *bucket, const char *key, const char *op);

/* The line of a refusal made before any token could be compared: the lock
 * or the token is missing (v = ZKP_VERDICT_REJECT_MISSING, answered 428).
 * Like zkp_audit_log(), with "token" and "mark" null; lock may be NULL. */
void zkp_audit_log_no_token(zkp_audit_t *a, const char *lock, zkp_verdict_t v, const char *bucket,
                            const char *key, const char *op);

/* Number of lines that could not be written in full. Thread-safe. */
uint64_t zkp_audit_errors(zkp_audit_t *a);

#ifdef __cplusplus
}
#endif

#endif
