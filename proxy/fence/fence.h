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
 *  - per lock, check + write + mark update are atomic: a request that
 *    raises the mark (or sets the lock's first one) is alone between
 *    zkp_fence_begin() and zkp_fence_end(); requests whose token equals the
 *    mark may be inside together (none of them changes the mark), never
 *    with a request of another token; so writes become visible in mark
 *    order. A request waiting to raise the mark holds back new equal ones
 *    (a raise is never starved). Requests on different locks never wait
 *    for each other;
 *  - a mark is durable (committed and fsync'd) before zkp_fence_persist()
 *    returns 0, so before the object is visible and before the client hears
 *    of it; a kill -9 never lowers a mark;
 *  - marks never go down, in memory or on disk, with ONE exception: a mark
 *    repair (zkp_marks_repair), an operator's explicit, audited act that
 *    lowers or clears one lock's mark to undo a mistake (a forged token
 *    accepted while verification was off). It runs inside that lock's
 *    section, so it is ordered with the lock's writes: each one is decided
 *    wholly before it or wholly after it;
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
    X(ESTALE, -7, "the token is lower than the durable mark found when persisting")                \
    X(ERANGE, -8, "a repair lowers or clears a mark; it never raises one")                         \
    X(EAGAIN, -9, "the section or the disk would make this request wait")

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

/* Lock names are canonical ZooKeeper paths, so that two spellings can never
 * name one lock (each spelling would have a mark of its own, and a writer
 * could step around a lock's mark by naming it differently):
 *   - 2..1024 bytes, each printable ASCII 0x21..0x7e (ZooKeeper forbids
 *     NUL, control characters and DEL in paths; spaces, and every byte
 *     outside ASCII, are refused too: header values cannot carry them
 *     unambiguously);
 *   - absolute: starts with '/', and is not "/" itself (ZooKeeper's root);
 *   - no empty component ("//"), no trailing '/';
 *   - no "." or ".." component (ZooKeeper reserves both).
 * zkp_lock_name_problem() says which rule the `len` bytes at `s` break, as
 * a sentence for an error message ("The fencing lock must not end with
 * '/'", static storage), or returns NULL for a canonical name (also the
 * answer for nothing: s == NULL breaks the first rule). `s` need not be
 * NUL-terminated. Pure functions, thread-safe. */
const char *zkp_lock_name_problem(const char *s, size_t len);

/* 1 if the `len` bytes at `s` are a canonical lock name (above), else 0. */
int zkp_lock_name_valid(const char *s, size_t len);

/* 1 if the bytes are a lock name as versions before canonical names took
 * them (1..1024 printable ASCII, any shape): what marks.db may hold from
 * then. Such marks load, but stay inert (zkp_marks_open() counts them,
 * zkp_fence_begin() refuses their names), until a repair clears them. */
int zkp_lock_name_legacy(const char *s, size_t len);

/* ------------------------------------------------------------- the rule */

typedef enum {
    ZKP_VERDICT_ACCEPT_HIGHER, /* no mark yet, or token > mark: accept, token becomes the mark */
    ZKP_VERDICT_ACCEPT_EQUAL,  /* token == mark: accept (one holder writes many times) */
    ZKP_VERDICT_REJECT_STALE,  /* token < mark: reject, write nothing */
    /* Refusals that zkp_fence_decide() never returns, so that the audit log
     * and the metrics can name every answer to a fenced request: */
    ZKP_VERDICT_REJECT_MISSING,     /* lock or token missing where fencing is required (428) */
    ZKP_VERDICT_REJECT_UNAVAILABLE, /* the mark store cannot write, or ZooKeeper cannot
                                       verify a token: fail closed (503) */
    ZKP_VERDICT_REJECT_INVALID,     /* accepted token, but the key named is invalid: not applied */
    /* accepted token (the mark was raised), but the request's own
     * precondition (If-Match, If-None-Match) failed: not applied (412) */
    ZKP_VERDICT_REJECT_PRECONDITION,
    /* the request named another lock than the one its key is bound to, or
     * a lock bound to other keys (403); no mark was looked at */
    ZKP_VERDICT_REJECT_LOCK,
    /* a token that would raise the mark, which ZooKeeper does not confirm
     * as the lock's current holder's (zk/verify.h): 403, nothing raised */
    ZKP_VERDICT_REJECT_UNVERIFIED,
    ZKP_VERDICT_COUNT_ /* number of verdicts, for tables indexed by verdict */
} zkp_verdict_t;

/* The pure fencing rule. has_mark == 0 means the lock has no mark yet, and
 * then any token (0 included) is ACCEPT_HIGHER; `mark` is ignored. Returns
 * one of the first three verdicts only. */
zkp_verdict_t zkp_fence_decide(int has_mark, uint64_t mark, uint64_t token);

/* "accepted_higher", "accepted_equal", "rejected_stale", "rejected_missing",
 * "rejected_unavailable", "rejected_invalid", "rejected_precondition",
 * "rejected_lock_mismatch", "rejected_unverified";
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
 *   ZKP_FENCE_ECORRUPT a stored row is not a lock name (zkp_lock_name_legacy)
 *                      and a mark,
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

/* How many of them are inert: loaded from a store written before lock names
 * were canonical, under a name no request can use any more ("/locks/a/",
 * "//locks/a": see zkp_lock_name_legacy). They are listed by foreach and
 * counted here, never decided against, and a repair can clear them. Why
 * keep them rather than refuse to start: the store is the record of what
 * was accepted, and starting must not depend on what a client once sent;
 * the canonical spelling's own mark is what fences from now on. 0 for
 * NULL. Thread-safe. */
size_t zkp_marks_inert(zkp_marks_t *m);

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

/* Mark repair: the one way a mark goes down. Enters the section of `lock`
 * (a canonical name, or a legacy one: zkp_lock_name_legacy, so that inert
 * marks can be cleared), waiting for whoever is inside as a request would,
 * then makes the new state durable (its own update in the committer's
 * group commit: the row set to new_mark, or deleted when clear != 0), then
 * applies it to memory and leaves. Requests of that lock waiting for the
 * section decide against the repaired mark; none is between its decision
 * and its commit meanwhile. *had_mark and *old_mark (either may be NULL)
 * get the mark the repair found (had 0: none; clearing nothing is a
 * success that changes nothing). `done`, if not NULL, is called once the
 * outcome is known and before the section is left, with the return code
 * and what the repair found: whatever it writes (the audit line) is then
 * ordered with the lock's requests as the repair is. It must not call
 * into the store for this lock.
 * Returns 0, or
 *   ZKP_FENCE_ERANGE  new_mark is above the mark, or the lock has no mark to
 *                     lower (a raise is fence-advance's job, not a repair's);
 *                     nothing changed;
 *   ZKP_FENCE_ESTORE  the store cannot write: nothing changed in memory (a
 *                     commit that reported failure may still have reached
 *                     the disk: the repair then takes effect at the next
 *                     open; repeat it to be sure);
 *   ZKP_FENCE_EINVAL  NULL argument or an invalid name; ZKP_FENCE_ENOMEM.
 * Thread-safe; blocks for the section and one group commit. The caller
 * audits it (zkp_audit_log_repair). */
typedef void (*zkp_repair_done_fn)(void *arg, int rc, int had_mark, uint64_t old_mark);
int zkp_marks_repair(zkp_marks_t *m, const char *lock, int clear, uint64_t new_mark,
                     zkp_repair_done_fn done, void *arg, int *had_mark, uint64_t *old_mark);

/* Test hook: how many requests wait for the section of `lock` (0 if it has
 * no entry). Thread-safe. */
unsigned zkp_marks_section_waiters(zkp_marks_t *m, const char *lock);

/* ------------------------------------------------ the per-lock section */

/* One request's stay in the section of one lock. Owned by the caller from a
 * successful zkp_fence_begin() until zkp_fence_end(); used by one thread at
 * a time (it may move between threads). */
typedef struct zkp_fence_txn zkp_fence_txn_t;

/* Enters the section of `lock` (NUL-terminated, zkp_lock_name_valid()),
 * blocking until it may (requests on other locks never wait): a token above
 * the mark, or the lock's first, waits until no one is inside and enters
 * alone; a token equal to the mark enters together with the other requests
 * of that token unless one that raises the mark is inside or waiting; a
 * token below the mark is decided as soon as no request that may change
 * the mark is inside. Then decides with zkp_fence_decide() against the
 * current durable mark. Sets *verdict, *had_mark and *mark_before (the mark the
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

/* zkp_fence_begin() for a caller that must never wait (an event loop): the
 * same decision and results when it needs no wait at all, i.e. for a token
 * below the mark (REJECT_STALE) or equal to it (ACCEPT_EQUAL, inside
 * together, zkp_fence_persist() then returns at once); otherwise
 * ZKP_FENCE_EAGAIN with nothing held and nothing changed (*txn = NULL), and
 * the caller goes to zkp_fence_begin() on a thread that may wait: a token
 * that raises the mark or sets the first one (its persist waits for the
 * disk), or a section that one of those is in or waits for. Thread-safe. */
int zkp_fence_try_begin(zkp_marks_t *m, const char *lock, uint64_t token, zkp_fence_txn_t **txn,
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

/* 1 if a line's write(2) never waits for a reader: the log is a regular
 * file (as opened or last reopened; standard error too when it is
 * redirected to one), or a is NULL; 0 for a pipe, a socket (a journal's
 * stream) or a terminal, whose reader may make a write wait. The proxy
 * writes lines from its event loops only when 1. Thread-safe. */
int zkp_audit_never_waits(zkp_audit_t *a);

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

/* The line of a mark repair (zkp_marks_repair, POST /_zkfence/marks/repair):
 *   {"time":..,"lock":"/locks/a","token":null,"mark":"9","verdict":"repaired",
 *    "bucket":null,"key":null,"op":"MarkRepair","new_mark":"3","reason":"...",
 *    "admin":"AKID..."}
 * mark is the mark before (null when had_mark is 0), new_mark the mark
 * after (null when cleared); reason and admin (the access key of the
 * repairer; NULL gives null) are escaped like every string. */
void zkp_audit_log_repair(zkp_audit_t *a, const char *lock, int had_mark, uint64_t old_mark,
                          int cleared, uint64_t new_mark, const char *reason, const char *admin);

/* Number of lines that could not be written in full. Thread-safe. */
uint64_t zkp_audit_errors(zkp_audit_t *a);

#ifdef __cplusplus
}
#endif

#endif
