/*
 * libzkfence: ZooKeeper coordination recipes with fencing tokens.
 *
 * This header is the reference for the library. Conventions that hold for
 * every function unless its own block says otherwise:
 *
 *   - Return codes: 0 on success, a negative ZKF_E* code on failure.
 *     zkf_strerror() and zkf_err_name() describe any code.
 *   - Callback contract (as in libuv): if a call that takes a callback
 *     returns an error, the callback is never called; if it returns 0, the
 *     callback is called exactly once, cancellation included.
 *   - Callbacks run on the client's own event thread, never on
 *     libzookeeper_mt's completion thread, so a slow callback delays other
 *     callbacks of the same client but never ZooKeeper's I/O. A callback may
 *     call any zkf_ function except zkf_client_destroy() of its own client
 *     and the blocking calls (zkf_lock_acquire, zkf_lock_release,
 *     zkf_rwlock_acquire, zkf_semaphore_acquire, zkf_election_lead, the
 *     listings, zkf_client_connect) on that client, which would wait for
 *     the thread they are running on. The zkf_*_destroy() functions are
 *     allowed: they know not to wait for that thread (see there).
 *   - Strings passed in are copied unless stated otherwise; strings returned
 *     are owned by the library and live as long as stated in each block.
 *   - zkf_x_destroy(NULL) is a no-op.
 *   - Tokens are unsigned 64-bit numbers; wherever a token crosses a process
 *     boundary it is written as decimal text (ZKF_TOKEN_FMT).
 */
#ifndef ZKFENCE_ZKFENCE_H
#define ZKFENCE_ZKFENCE_H

#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(ZKF_BUILDING) && defined(__GNUC__)
#define ZKF_API __attribute__((visibility("default")))
#else
#define ZKF_API
#endif

#define ZKF_VERSION_MAJOR 0
#define ZKF_VERSION_MINOR 1
#define ZKF_VERSION_PATCH 0
#define ZKF_VERSION_STRING "0.1.0"

/** printf format of a token: printf("%" ZKF_TOKEN_FMT, token). */
#define ZKF_TOKEN_FMT PRIu64

/** The library's version string, e.g. "0.1.0". Static storage. Thread-safe. */
ZKF_API const char *zkf_version(void);

/* ------------------------------------------------------------------------
 * Errors
 *
 * One list generates the enum, zkf_strerror() and zkf_err_name().
 * ------------------------------------------------------------------------ */
#define ZKF_ERRNO_MAP(XX)                                                                          \
    XX(EINVAL, -1, "invalid argument")                                                             \
    XX(ENOMEM, -2, "out of memory")                                                                \
    XX(ETIMEDOUT, -3, "timed out")                                                                 \
    XX(ECANCELED, -4, "cancelled")                                                                 \
    XX(ECONNLOSS, -5, "connection to ZooKeeper lost")                                              \
    XX(ESESSIONEXPIRED, -6, "ZooKeeper session expired")                                           \
    XX(ELOCKLOST, -7, "lock lost")                                                                 \
    XX(EBUSY, -8, "lock is held by another contender")                                             \
    XX(ENOTHELD, -9, "lock is not held")                                                           \
    XX(ENOTOWNER, -10, "lock is held by another thread")                                           \
    XX(EDEPTH, -11, "reentrancy bound reached")                                                    \
    XX(EINPROGRESS, -12, "an acquire is already in progress on this lock object")                  \
    XX(ENOAUTH, -13, "not authorised by ZooKeeper")                                                \
    XX(ECONNECT, -14, "could not connect to ZooKeeper")                                            \
    XX(ECLOSED, -15, "client is closing")                                                          \
    XX(EZK, -16, "ZooKeeper error")                                                                \
    XX(ESYS, -17, "system error")                                                                  \
    XX(EPENDING, -18, "released locally; node deletion pending until ZooKeeper is reachable")      \
    XX(ELIMIT, -19, "the semaphore's stored limit differs from this object's")

typedef enum zkf_errno {
#define ZKF_ERRNO_ENUM(name, value, text) ZKF_##name = (value),
    ZKF_ERRNO_MAP(ZKF_ERRNO_ENUM)
#undef ZKF_ERRNO_ENUM
} zkf_errno_t;

/** Human-readable text for a return code (0 gives "success"; unknown codes
 * give "unknown error"). Static storage. Thread-safe. */
ZKF_API const char *zkf_strerror(int err);

/** Symbolic name of a return code, e.g. "ZKF_ETIMEDOUT" ("ZKF_OK" for 0,
 * "ZKF_UNKNOWN" otherwise). Static storage. Thread-safe. */
ZKF_API const char *zkf_err_name(int err);

/* ------------------------------------------------------------------------
 * Client: one ZooKeeper session
 * ------------------------------------------------------------------------ */
typedef struct zkf_client zkf_client_t;

typedef enum zkf_client_state {
    ZKF_CLIENT_CONNECTING = 0, /* no session yet, or a new one is being set up */
    ZKF_CLIENT_CONNECTED = 1,  /* session live and connected */
    ZKF_CLIENT_SUSPENDED = 2,  /* connection lost; the session may still be alive */
    ZKF_CLIENT_EXPIRED = 3,    /* session ended (by the server, or by a local verdict once
                                  suspended and a session timeout has passed since the
                                  server last heard from us: see
                                  zkf_client_session_timeout()); a new session is being
                                  set up automatically */
    ZKF_CLIENT_AUTH_FAILED = 4 /* the server refused our credentials; final */
} zkf_client_state_t;

/** State callback: called on the client's event thread, once per
 * transition, in order. `arg` is zkf_client_options_t.state_arg. */
typedef void (*zkf_client_state_cb)(zkf_client_t *client, zkf_client_state_t state, void *arg);

typedef struct zkf_client_options {
    /** sizeof(zkf_client_options_t), set by zkf_client_options_init(). */
    size_t size;
    /** "host:port,host:port". Required. */
    const char *hosts;
    /** Optional chroot, e.g. "/apps/billing": every path is relative to it
     * (lock paths, listings, zkf_client_zhandle() calls). It must exist:
     * the library creates the parents of lock paths inside it, never the
     * chroot itself. ZooKeeper applies a chroot on the client side, so a
     * missing one is not noticed by zkf_client_connect(); acquires then
     * fail with ZKF_EZK and zkf_lock_zk_error() gives ZNONODE, and
     * zkf_lock_contenders() finds no contenders. */
    const char *chroot;
    /** Requested session timeout in ms; the server may negotiate it into
     * [2, 20] x its tickTime. Default 10000. */
    int session_timeout_ms;
    /** How long zkf_client_connect() waits for the first session, in ms.
     * Default 15000. */
    int connect_timeout_ms;
    /** Optional digest credentials ("user", "password"). When set, the
     * session authenticates with them and nodes the library creates get the
     * ACL creator-all plus, if world_readable, world-read. When unset, nodes
     * are created open (world-all). */
    const char *digest_user;
    const char *digest_password;
    int world_readable;
    /** Optional state callback and its argument. */
    zkf_client_state_cb state_cb;
    void *state_arg;
    /** libzookeeper's own log level (0 = off ... 4 = debug); default 1
     * (errors). Process-wide: the last client created sets it. */
    int zk_log_level;
} zkf_client_options_t;

/** Fills `opts` with defaults. Thread-safe. */
ZKF_API void zkf_client_options_init(zkf_client_options_t *opts);

/**
 * Creates a client and waits up to connect_timeout_ms for its first session.
 *
 * Ownership: *out is owned by the caller and freed with zkf_client_destroy().
 * The options and the strings in them are copied.
 *
 * Returns 0; ZKF_EINVAL (bad options: no hosts, a chroot not starting with
 * '/', a password without user); ZKF_ECONNECT (no session within the
 * deadline: unreachable servers, or a refused session); ZKF_ENOAUTH
 * (credentials refused); ZKF_ENOMEM; ZKF_ESYS. On error *out is untouched.
 *
 * Thread-safe; blocking; not to be called from a zkf callback.
 */
ZKF_API int zkf_client_connect(const zkf_client_options_t *opts, zkf_client_t **out);

/**
 * Closes the session (the server removes its ephemeral nodes at once) and
 * frees the client. Every lock object of the client must have been
 * destroyed first (ZKF_EBUSY otherwise, and nothing happens). Pending
 * background deletions are abandoned: closing the session removes them.
 * When connected, one round trip (at most 2 s) precedes the close, so that
 * notifications caused by the client's last writes are in before it.
 *
 * Returns 0, ZKF_EBUSY. NULL is a no-op returning 0.
 * Blocking; not from a callback of this client.
 */
ZKF_API int zkf_client_destroy(zkf_client_t *client);

/** The client's current state. Thread-safe. */
ZKF_API zkf_client_state_t zkf_client_state(const zkf_client_t *client);

/** Name of a client state ("connected", ...). Static storage. */
ZKF_API const char *zkf_client_state_name(zkf_client_state_t state);

/** The current session id (0 when none). Thread-safe. */
ZKF_API int64_t zkf_client_session_id(const zkf_client_t *client);

/** The session timeout the server negotiated, in ms (0 when none).
 *
 * It also bounds how long a suspended client goes on reporting its locks as
 * SUSPENDED: the client declares them LOST (and itself EXPIRED) once this
 * long has passed since the server last heard from it, which is when the
 * server may expire the session, at the earliest. "Last heard" is the send
 * time of the latest request the server answered; while connected, the
 * client sends a small request (an exists) every third of the timeout for
 * this purpose, so the verdict comes between 2/3 of a timeout and one
 * timeout after the link went quiet, never later than the server's own.
 * Thread-safe. */
ZKF_API int zkf_client_session_timeout(const zkf_client_t *client);

/**
 * The underlying libzookeeper handle of the current session, for operations
 * the library does not wrap (reading your own nodes, for instance).
 *
 * Ownership: borrowed. Valid until the session is replaced after expiry or
 * the client is destroyed. Do not close it. Thread-safe as libzookeeper is.
 */
struct _zhandle;
ZKF_API struct _zhandle *zkf_client_zhandle(zkf_client_t *client);

/* ------------------------------------------------------------------------
 * Exclusive lock
 *
 * Recipe: each acquisition creates an ephemeral-sequential node
 * <path>/lock-<guid>-<seq> and waits until it is the lowest; each waiter
 * watches only its predecessor (no herd, FIFO), and its own node. A
 * release sets a release mark on the node and deletes it in one multi, so
 * the successor knows the holder went (not a waiter that gave up) and takes
 * over without listing again. The fencing token is the node's creation
 * zxid, which strictly increases from holder to holder.
 * ------------------------------------------------------------------------ */
typedef struct zkf_lock zkf_lock_t;

typedef enum zkf_lock_state {
    ZKF_LOCK_UNLOCKED = 0,  /* not held, no acquire in progress */
    ZKF_LOCK_WAITING = 1,   /* an acquire is in progress */
    ZKF_LOCK_HELD = 2,      /* held; the token is valid */
    ZKF_LOCK_SUSPENDED = 3, /* was held; connection lost; may or may not still be held */
    ZKF_LOCK_LOST = 4       /* was held; session expired or suspended for a whole session
                               timeout, or our node was deleted. The token of this holding
                               must not be used again. Release to reset. */
} zkf_lock_state_t;

/** Name of a lock state ("held", ...). Static storage. */
ZKF_API const char *zkf_lock_state_name(zkf_lock_state_t state);

/** Lock event callback: called on the client's event thread when a held lock
 * becomes SUSPENDED, HELD again (connection back, same session) or LOST.
 * `token` is the token of the holding concerned. */
typedef void (*zkf_lock_event_cb)(zkf_lock_t *lock, zkf_lock_state_t state, uint64_t token,
                                  void *arg);

/** Completion of zkf_lock_acquire_async(): status 0 with the token of the
 * new holding, or a negative code (ZKF_ETIMEDOUT, ZKF_EBUSY for a try-lock,
 * ZKF_ECANCELED, ZKF_ECONNLOSS if the timeout expired while ZooKeeper was
 * unreachable or the session was lost by the local verdict,
 * ZKF_ESESSIONEXPIRED, ZKF_ELOCKLOST if our node was deleted while we
 * waited, ZKF_ENOAUTH, ZKF_EZK, ZKF_ENOMEM) and token 0. */
typedef void (*zkf_acquire_cb)(zkf_lock_t *lock, int status, uint64_t token, void *arg);

typedef struct zkf_lock_options {
    /** sizeof(zkf_lock_options_t), set by zkf_lock_options_init(). */
    size_t size;
    /** Event callback for lost/suspended holdings, and its argument. */
    zkf_lock_event_cb event_cb;
    void *event_arg;
    /** Bound on per-thread reentrant acquisitions. Default 64. */
    int max_depth;
} zkf_lock_options_t;

/** Fills `opts` with defaults. Thread-safe. */
ZKF_API void zkf_lock_options_init(zkf_lock_options_t *opts);

/**
 * Creates a lock object for `path` (an absolute ZooKeeper path, e.g.
 * "/locks/seat-12"; parents are created on first use). Several lock objects,
 * on the same path or not, on one client work independently: each has its
 * own node. No ZooKeeper call is made here.
 *
 * Ownership: *out is owned by the caller, freed with zkf_lock_destroy(),
 * and must not outlive its client. `opts` may be NULL (defaults).
 *
 * Returns 0, ZKF_EINVAL (bad path: not absolute, empty component, trailing
 * '/', "/", or longer than 1024 bytes), ZKF_ENOMEM. Thread-safe.
 */
ZKF_API int zkf_lock_create(zkf_client_t *client, const char *path, const zkf_lock_options_t *opts,
                            zkf_lock_t **out);

/**
 * Frees a lock object. If an acquire is in progress it is cancelled (its
 * callback, if async, runs with ZKF_ECANCELED before this returns). If the
 * lock is held, it is released (its node deletion continues in the
 * background if ZooKeeper is unreachable). No-op on NULL.
 *
 * Callbacks of this lock still queued: called from another thread, destroy
 * waits until they have been delivered. Called from a callback of this
 * client (this lock's or another's), it cannot wait for the thread it runs
 * on, so it takes them out of the queue: a queued acquire completion runs
 * inline, before destroy returns, with ZKF_ECANCELED and token 0 (even if
 * the acquire had succeeded: that holding is released here), keeping the
 * exactly-once contract; queued lock events (SUSPENDED, HELD, LOST) are
 * dropped. Such an inline callback must not use the lock object except to
 * read its address.
 *
 * The caller owns the end of the object's life: no other thread may be
 * inside, or later enter, a zkf_lock_ function on this lock. A thread
 * blocked in zkf_lock_acquire() on it must have returned first (wake it
 * with zkf_lock_cancel() and join it); destroying the lock under it is
 * undefined behaviour.
 *
 * Blocking (it waits for the cleanup of an attempt in progress, and off the
 * event thread for queued callbacks); thread-safe with respect to other
 * lock objects and the client.
 */
ZKF_API void zkf_lock_destroy(zkf_lock_t *lock);

/**
 * Acquires the lock, blocking.
 *
 * timeout_ms: > 0 waits at most that long; 0 tries once (returns ZKF_EBUSY
 * at once if another contender holds it or is ahead in the queue); < 0 waits
 * forever. On success *token (may be NULL) is the fencing token.
 *
 * Reentrancy: if the calling thread already holds this lock object, the
 * depth count goes up and the same token is returned; up to max_depth
 * (ZKF_EDEPTH beyond). If another thread of this process holds or is
 * acquiring this lock object, the call waits for it (within the timeout)
 * before queueing in ZooKeeper. For independent contenders in one process,
 * use one lock object per thread.
 *
 * On timeout, try-lock failure or cancellation, our node and our watch are
 * removed before the call returns (when ZooKeeper is unreachable, the node
 * deletion continues in the background).
 *
 * Returns 0, ZKF_EBUSY, ZKF_ETIMEDOUT (ZooKeeper answered, the lock stayed
 * taken), ZKF_ECANCELED, ZKF_EDEPTH, ZKF_ECONNLOSS (when the timeout
 * expired ZooKeeper was unreachable: the session was not connected, or the
 * attempt was still recovering from a lost connection), ZKF_ESESSIONEXPIRED,
 * ZKF_ELOCKLOST (our node was deleted while we waited), ZKF_ENOAUTH,
 * ZKF_EZK (see zkf_lock_zk_error()), ZKF_ENOMEM, ZKF_ECLOSED.
 * Thread-safe; blocking; not from a callback of this client.
 */
ZKF_API int zkf_lock_acquire(zkf_lock_t *lock, int timeout_ms, uint64_t *token);

/**
 * Starts acquiring the lock without blocking; `cb` reports the outcome on
 * the client's event thread. Create and list are pipelined in one round
 * trip. The holding is owned by no particular thread: any thread may release
 * it. Not reentrant.
 *
 * Returns 0 (cb will be called exactly once), ZKF_EINPROGRESS (this object
 * is already acquiring), ZKF_EBUSY (this object is already held: release
 * first), ZKF_EINVAL (cb NULL), ZKF_ECLOSED, ZKF_ENOMEM. Thread-safe.
 */
ZKF_API int zkf_lock_acquire_async(zkf_lock_t *lock, int timeout_ms, zkf_acquire_cb cb, void *arg);

/**
 * Cancels an acquire in progress on this lock object, from any thread. The
 * waiting zkf_lock_acquire() returns ZKF_ECANCELED, or the async callback
 * runs with it, after our node and watch are removed. zkf_lock_acquire()
 * calls of other threads that wait locally for this object (held or being
 * acquired by another thread of ours) return ZKF_ECANCELED too.
 *
 * Returns 0 (something was cancelled: the object's acquire in progress, or
 * local waiters, or both), ZKF_ENOTHELD (nothing in progress).
 * Thread-safe; non-blocking.
 */
ZKF_API int zkf_lock_cancel(zkf_lock_t *lock);

/**
 * Releases one level of the calling thread's holding (blocking acquire), or
 * the async holding. At depth zero, the holding ends at once (its token is
 * invalid from here on) and the deletion of exactly our node is sent to
 * ZooKeeper (one multi: the release mark, then the delete, which lets the
 * successor take over without listing); the call does not wait for the answer, so that ZooKeeper
 * can commit this delete together with the next create. Nobody else can get the lock before the
 * delete is applied. If the connection drops before the answer, the deletion is retried after
 * reconnecting until the node is gone or the session has ended (which removes it too).
 *
 * Returns 0 (deletion sent); ZKF_EPENDING (released locally, but ZooKeeper
 * is unreachable right now: the deletion goes out as soon as it is
 * reachable again); ZKF_ELOCKLOST (the holding had been lost: every level
 * of a reentrant holding reports it, and each still counts one level off;
 * at depth zero the object is reset and can be acquired again);
 * ZKF_ENOMEM (the holding ended locally, as for 0, but there was no memory
 * to schedule the deletion: the node stays until the session ends, e.g. by
 * zkf_client_destroy(), and blocks other contenders until then);
 * ZKF_ENOTHELD; ZKF_ENOTOWNER (held by another thread). After 0,
 * ZKF_EPENDING, ZKF_ENOMEM and a final ZKF_ELOCKLOST the token of the
 * holding is invalid. Thread-safe; non-blocking.
 */
ZKF_API int zkf_lock_release(zkf_lock_t *lock);

/**
 * The token of the current holding. Returns 0 and sets *token only while
 * the state is HELD; ZKF_ELOCKLOST if the holding was lost (the old token
 * is never reported again); ZKF_ECONNLOSS while SUSPENDED; ZKF_ENOTHELD
 * otherwise. Thread-safe; non-blocking.
 */
ZKF_API int zkf_lock_token(const zkf_lock_t *lock, uint64_t *token);

/** The lock object's state. Thread-safe; non-blocking. */
ZKF_API zkf_lock_state_t zkf_lock_state(const zkf_lock_t *lock);

/** The lock object's path. Owned by the lock; lives as long as it. */
ZKF_API const char *zkf_lock_path(const zkf_lock_t *lock);

/**
 * Copies the name of our current node (e.g. "lock-<guid>-0000000007")
 * into buf. Returns 0, ZKF_ENOTHELD (no node: not acquiring nor held, or
 * the create has not been confirmed yet), ZKF_EINVAL (buf too small).
 */
ZKF_API int zkf_lock_node(const zkf_lock_t *lock, char *buf, size_t len);

/* ------------------------------------------------------------------------
 * Contenders: who holds and who waits, in queue order.
 * ------------------------------------------------------------------------ */
typedef struct zkf_contender {
    char *node;         /* node name, e.g. "lock-<guid>-0000000007" */
    int64_t owner;      /* ephemeralOwner: the session id of the contender */
    uint64_t token;     /* czxid of the node: the token it holds or will hold */
    int64_t created_ms; /* ctime: creation time, ms since the epoch (server clock) */
    uint32_t sequence;  /* the sequence suffix */
} zkf_contender_t;

/**
 * Lists the contenders for `path` in queue order (the holder first),
 * ignoring children that do not follow the recipe's naming. Contenders that
 * vanish during the listing are left out.
 *
 * Ownership: on success *out (NULL when *count is 0) is owned by the caller
 * and freed with zkf_contenders_free().
 *
 * Returns 0 (also when the path does not exist: no contenders), ZKF_EINVAL,
 * ZKF_ECONNLOSS, ZKF_ESESSIONEXPIRED, ZKF_ENOAUTH, ZKF_EZK, ZKF_ENOMEM.
 * Thread-safe; blocking; not from a callback of this client.
 */
ZKF_API int zkf_lock_contenders(zkf_client_t *client, const char *path, zkf_contender_t **out,
                                size_t *count);

/** Frees a listing from zkf_lock_contenders(). NULL is a no-op. */
ZKF_API void zkf_contenders_free(zkf_contender_t *list, size_t count);

/** The last ZooKeeper return code (ZOK, ZCONNECTIONLOSS, ...) seen by this
 * lock object's most recent failed operation, for diagnostics when a call
 * returned ZKF_EZK or another ZooKeeper-caused code; 0 if none. */
ZKF_API int zkf_lock_zk_error(const zkf_lock_t *lock);

/* ------------------------------------------------------------------------
 * Read/write lock
 *
 * Recipe: each acquisition creates an ephemeral-sequential node,
 * <path>/read-<guid>-<seq> or <path>/write-<guid>-<seq>, in one queue. A
 * write node holds when it is the lowest, and waits for the node just
 * before it, of either kind; a read node holds when no write node lies
 * below it, and waits for the nearest write node below. So readers
 * overlap, a writer excludes readers and writers alike, and the queue is
 * FIFO across both kinds: a reader arriving behind a waiting writer queues
 * behind it, and writers do not starve. Each waiter watches one node (and
 * its own). The readers queued behind one writer all wake when it goes,
 * which is when all of them may read. Releases, GUIDs, ownership, lost and
 * suspended holdings, cancel and timeout: as for the exclusive lock.
 *
 * Tokens: every holding's token is its node's czxid. A write holding's
 * token is greater than that of every holding, read or write, granted
 * before it; a read holding's is greater than every earlier write
 * holding's. Fence a writer's writes with its token exactly as with the
 * exclusive lock. Readers that overlap hold different tokens: do not send
 * them where a read raises a mark (zkfence-proxy's fenced reads), or the
 * older reader would be refused.
 *
 * No upgrade: a read holding never becomes a write holding. Two readers
 * that both asked to upgrade would each wait for the other's read to end,
 * forever (a deadlock that no timeout can tell from contention). Release
 * the read holding, acquire a write holding (a writer may come between:
 * read again what the read saw), or take the write holding from the start.
 *
 * A zkf_rwlock_t has at most one holding at a time, read or write: use one
 * object per concurrent holding (per thread). Not reentrant.
 * ------------------------------------------------------------------------ */
typedef struct zkf_rwlock zkf_rwlock_t;

typedef enum zkf_rwlock_mode {
    ZKF_RWLOCK_READ = 0, /* shared with other readers */
    ZKF_RWLOCK_WRITE = 1 /* exclusive */
} zkf_rwlock_mode_t;

/** Event callback: on the client's event thread when a holding becomes
 * SUSPENDED, HELD again or LOST, as zkf_lock_event_cb. */
typedef void (*zkf_rwlock_event_cb)(zkf_rwlock_t *rw, zkf_lock_state_t state, uint64_t token,
                                    void *arg);

/** Completion of zkf_rwlock_acquire_async(): as zkf_acquire_cb. */
typedef void (*zkf_rwlock_acquire_cb)(zkf_rwlock_t *rw, int status, uint64_t token, void *arg);

typedef struct zkf_rwlock_options {
    /** sizeof(zkf_rwlock_options_t), set by zkf_rwlock_options_init(). */
    size_t size;
    /** Event callback for lost/suspended holdings, and its argument. */
    zkf_rwlock_event_cb event_cb;
    void *event_arg;
} zkf_rwlock_options_t;

/** Fills `opts` with defaults. Thread-safe. */
ZKF_API void zkf_rwlock_options_init(zkf_rwlock_options_t *opts);

/**
 * Creates a read/write lock object for `path` (absolute; parents are
 * created on first use). No ZooKeeper call is made here.
 *
 * Ownership: *out is owned by the caller, freed with zkf_rwlock_destroy(),
 * and must not outlive its client. `opts` may be NULL (defaults).
 *
 * Returns 0, ZKF_EINVAL (bad path, as zkf_lock_create(); bad options),
 * ZKF_ENOMEM. Thread-safe.
 */
ZKF_API int zkf_rwlock_create(zkf_client_t *client, const char *path,
                              const zkf_rwlock_options_t *opts, zkf_rwlock_t **out);

/**
 * Frees the object: cancels an acquisition in progress (its async
 * callback runs with ZKF_ECANCELED), releases a holding, and handles queued
 * callbacks exactly as zkf_lock_destroy() does, from any thread or from a
 * callback of this client. No thread may be inside, or later enter, a
 * zkf_rwlock_ function on it. NULL is a no-op. Blocking (cleanup of an
 * acquisition in progress).
 */
ZKF_API void zkf_rwlock_destroy(zkf_rwlock_t *rw);

/**
 * Acquires a read or write holding, blocking. timeout_ms: > 0 waits at
 * most that long; 0 tries once (ZKF_EBUSY at once if the mode cannot hold
 * now); < 0 waits forever. On success *token (may be NULL) is the token.
 * On timeout, try failure or cancellation our node and our watches are
 * removed before the call returns (in the background while ZooKeeper is
 * unreachable).
 *
 * Returns 0, ZKF_EINVAL (rw NULL, mode not READ or WRITE), ZKF_EBUSY (try
 * failed; or this object already holds: release first), ZKF_EINPROGRESS
 * (this object is already acquiring), ZKF_ETIMEDOUT, ZKF_ECANCELED,
 * ZKF_ECONNLOSS (the deadline passed while ZooKeeper was unreachable, or
 * the session was lost by the local verdict), ZKF_ESESSIONEXPIRED,
 * ZKF_ELOCKLOST (our node was deleted while we waited), ZKF_ENOAUTH,
 * ZKF_EZK (see zkf_rwlock_zk_error()), ZKF_ENOMEM, ZKF_ESYS, ZKF_ECLOSED.
 * Thread-safe; blocking; not from a callback of this client.
 */
ZKF_API int zkf_rwlock_acquire(zkf_rwlock_t *rw, zkf_rwlock_mode_t mode, int timeout_ms,
                               uint64_t *token);

/**
 * Starts acquiring without blocking; `cb` reports the outcome on the
 * client's event thread (create and listing in one round trip). The
 * holding belongs to no thread: any thread may release it.
 *
 * Returns 0 (cb will be called exactly once), ZKF_EINVAL (cb NULL, bad
 * mode), ZKF_EINPROGRESS, ZKF_EBUSY (already held), ZKF_ECLOSED,
 * ZKF_ENOMEM, ZKF_ESYS, ZKF_ENOAUTH (the client's credentials were
 * refused). Thread-safe.
 */
ZKF_API int zkf_rwlock_acquire_async(zkf_rwlock_t *rw, zkf_rwlock_mode_t mode, int timeout_ms,
                                     zkf_rwlock_acquire_cb cb, void *arg);

/**
 * Cancels an acquisition in progress, from any thread: the blocked
 * zkf_rwlock_acquire() returns, or the callback runs, with ZKF_ECANCELED
 * once our node and watches are removed. Returns 0, ZKF_ENOTHELD (nothing
 * in progress), ZKF_EINVAL. Thread-safe; non-blocking.
 */
ZKF_API int zkf_rwlock_cancel(zkf_rwlock_t *rw);

/**
 * Ends the holding, from any thread: its token is invalid at once, and the
 * deletion of exactly our node is sent (one multi with the release mark),
 * retried in the background until it is gone or the session has ended.
 * Returns 0, ZKF_EPENDING (ZooKeeper unreachable: sent once it is back),
 * ZKF_ELOCKLOST (the holding had been lost; the object is reset),
 * ZKF_ENOMEM (ended locally; the node stays until the session ends),
 * ZKF_ENOTHELD, ZKF_EINVAL. Thread-safe; non-blocking.
 */
ZKF_API int zkf_rwlock_release(zkf_rwlock_t *rw);

/** The token of the current holding: 0 and *token only while HELD;
 * ZKF_ECONNLOSS while SUSPENDED, ZKF_ELOCKLOST once LOST, ZKF_ENOTHELD
 * otherwise, ZKF_EINVAL. Thread-safe; non-blocking. */
ZKF_API int zkf_rwlock_token(const zkf_rwlock_t *rw, uint64_t *token);

/** The object's state (the lock's states). Thread-safe; non-blocking. */
ZKF_API zkf_lock_state_t zkf_rwlock_state(const zkf_rwlock_t *rw);

/** The mode (ZKF_RWLOCK_READ or ZKF_RWLOCK_WRITE) of the acquisition in
 * progress or of the holding; -1 when UNLOCKED. Thread-safe. */
ZKF_API int zkf_rwlock_mode(const zkf_rwlock_t *rw);

/** The object's path. Owned by the object; lives as long as it. */
ZKF_API const char *zkf_rwlock_path(const zkf_rwlock_t *rw);

/** Copies our node's name ("read-<guid>-<seq>" or "write-...") into buf.
 * Returns 0, ZKF_ENOTHELD (no node known), ZKF_EINVAL (buf too small). */
ZKF_API int zkf_rwlock_node(const zkf_rwlock_t *rw, char *buf, size_t len);

/** The last ZooKeeper code of the object's most recent failed operation
 * (see zkf_lock_zk_error()); 0 if none. Thread-safe. */
ZKF_API int zkf_rwlock_zk_error(const zkf_rwlock_t *rw);

/**
 * Lists the read and write nodes of `path` in queue order: the mode is the
 * node name's prefix ("read-" or "write-"); the holders are the first
 * write node if it is first, else the read nodes before the first write
 * node. Ownership and returns as zkf_lock_contenders(). Thread-safe;
 * blocking; not from a callback of this client.
 */
ZKF_API int zkf_rwlock_contenders(zkf_client_t *client, const char *path, zkf_contender_t **out,
                                  size_t *count);

/* ------------------------------------------------------------------------
 * Semaphore: at most N leases at a time
 *
 * Recipe (Apache Curator's InterProcessSemaphoreV2): <path>/leases has one
 * ephemeral-sequential node per lease, lease-<guid>-<seq>; a lease holds
 * while its node is among the first N there. In front of it, <path>/gate
 * is an exclusive lock's queue (gate-<guid>-<seq>): only its holder makes
 * a lease node; if N leases are out, it alone waits (a children watch on
 * <path>/leases) until one is released; then it leaves the gate to the
 * next in line. Why a gate: leases are released in any order, so no one
 * node tells a waiter that a place before it came free; every waiter would
 * have to watch all the leases, and each release would wake them all (a
 * herd). Behind the gate one client waits for the leases, a release wakes
 * only it, and leases are granted in the order of arrival (FIFO).
 *
 * N is stored with the semaphore, as the decimal data of <path>, written
 * by the first acquisition that finds it empty (a versioned write: two
 * first comers cannot both write it). An object created with another N
 * fails its acquisitions with ZKF_ELIMIT instead of silently counting to
 * its own. To change N, delete <path> and its children while nobody uses
 * the semaphore.
 *
 * Tokens: each lease's token is its lease node's czxid: leases held at the
 * same time have different tokens, and each is greater than those of all
 * leases granted before it. Releases, GUIDs, ownership, lost and suspended
 * holdings, cancel and timeout: as for the exclusive lock; a lease given
 * up while the object held the gate leaves the gate with a release, like a
 * holder.
 *
 * A zkf_semaphore_t holds at most one lease at a time: use one object per
 * concurrent lease. Not reentrant.
 * ------------------------------------------------------------------------ */
typedef struct zkf_semaphore zkf_semaphore_t;

/** Event callback: as zkf_lock_event_cb, for a lease. */
typedef void (*zkf_semaphore_event_cb)(zkf_semaphore_t *sem, zkf_lock_state_t state, uint64_t token,
                                       void *arg);

/** Completion of zkf_semaphore_acquire_async(): as zkf_acquire_cb, plus
 * ZKF_ELIMIT. */
typedef void (*zkf_semaphore_acquire_cb)(zkf_semaphore_t *sem, int status, uint64_t token,
                                         void *arg);

typedef struct zkf_semaphore_options {
    /** sizeof(zkf_semaphore_options_t), set by zkf_semaphore_options_init(). */
    size_t size;
    /** Event callback for lost/suspended leases, and its argument. */
    zkf_semaphore_event_cb event_cb;
    void *event_arg;
} zkf_semaphore_options_t;

/** Fills `opts` with defaults. Thread-safe. */
ZKF_API void zkf_semaphore_options_init(zkf_semaphore_options_t *opts);

/**
 * Creates a semaphore object for `path` with at most `max_leases` leases
 * (1 to 1000000). No ZooKeeper call is made here: the stored limit is
 * checked by each acquisition.
 *
 * Ownership: *out is owned by the caller, freed with
 * zkf_semaphore_destroy(), and must not outlive its client. `opts` may be
 * NULL (defaults).
 *
 * Returns 0, ZKF_EINVAL (bad path, as zkf_lock_create(), or too long for
 * its two children; max_leases out of range; bad options), ZKF_ENOMEM.
 * Thread-safe.
 */
ZKF_API int zkf_semaphore_create(zkf_client_t *client, const char *path, int max_leases,
                                 const zkf_semaphore_options_t *opts, zkf_semaphore_t **out);

/** Frees the object: as zkf_rwlock_destroy(). NULL is a no-op. Blocking. */
ZKF_API void zkf_semaphore_destroy(zkf_semaphore_t *sem);

/**
 * Acquires a lease, blocking. timeout_ms as zkf_rwlock_acquire(); with 0
 * it fails with ZKF_EBUSY when another contender is at the gate or all N
 * leases are out. On success *token (may be NULL) is the lease's token.
 * Given up (timeout, try, cancel), it leaves no node and no watch: its
 * gate node is released and its lease node, if made, deleted.
 *
 * Returns 0, ZKF_ELIMIT (the semaphore's stored N is not this object's:
 * nothing was taken), and the codes of zkf_rwlock_acquire() (ZKF_EINVAL
 * for sem NULL). Thread-safe; blocking; not from a callback of this client.
 */
ZKF_API int zkf_semaphore_acquire(zkf_semaphore_t *sem, int timeout_ms, uint64_t *token);

/**
 * Starts acquiring a lease without blocking; `cb` reports the outcome on
 * the client's event thread. Returns as zkf_rwlock_acquire_async()
 * (ZKF_EINVAL for cb NULL). Thread-safe.
 */
ZKF_API int zkf_semaphore_acquire_async(zkf_semaphore_t *sem, int timeout_ms,
                                        zkf_semaphore_acquire_cb cb, void *arg);

/** Cancels an acquisition in progress, as zkf_rwlock_cancel(). Returns 0,
 * ZKF_ENOTHELD, ZKF_EINVAL. Thread-safe; non-blocking. */
ZKF_API int zkf_semaphore_cancel(zkf_semaphore_t *sem);

/** Returns the lease, as zkf_rwlock_release(): 0, ZKF_EPENDING,
 * ZKF_ELOCKLOST, ZKF_ENOMEM, ZKF_ENOTHELD, ZKF_EINVAL. Thread-safe;
 * non-blocking. */
ZKF_API int zkf_semaphore_release(zkf_semaphore_t *sem);

/** The lease's token, as zkf_rwlock_token(). Thread-safe; non-blocking. */
ZKF_API int zkf_semaphore_token(const zkf_semaphore_t *sem, uint64_t *token);

/** The object's state (the lock's states). Thread-safe; non-blocking. */
ZKF_API zkf_lock_state_t zkf_semaphore_state(const zkf_semaphore_t *sem);

/** The object's path. Owned by the object; lives as long as it. */
ZKF_API const char *zkf_semaphore_path(const zkf_semaphore_t *sem);

/** The object's N, as created. */
ZKF_API int zkf_semaphore_max_leases(const zkf_semaphore_t *sem);

/** Copies the lease node's name ("lease-<guid>-<seq>", under <path>/leases)
 * into buf. Returns 0, ZKF_ENOTHELD (no lease), ZKF_EINVAL (buf too
 * small). Thread-safe. */
ZKF_API int zkf_semaphore_node(const zkf_semaphore_t *sem, char *buf, size_t len);

/** The last ZooKeeper code of the object's most recent failed operation;
 * 0 if none. Thread-safe. */
ZKF_API int zkf_semaphore_zk_error(const zkf_semaphore_t *sem);

/**
 * Lists the lease nodes of the semaphore at `path` (children of
 * <path>/leases) in order of creation: the first N hold, a node after them
 * is the gate holder's, waiting. Ownership and returns as
 * zkf_lock_contenders(). Thread-safe; blocking; not from a callback of
 * this client.
 */
ZKF_API int zkf_semaphore_leases(zkf_client_t *client, const char *path, zkf_contender_t **out,
                                 size_t *count);

/* ------------------------------------------------------------------------
 * Leader election
 *
 * Recipe: each participant creates <path>/candidate-<guid>-<seq>, whose data
 * is its id; the participant of the lowest node is the leader, and every
 * other one watches the node just before its own (no herd, FIFO), as with
 * the exclusive lock: being leader is holding that lock. The leader's token
 * is its node's czxid, and every later leader's is greater, across
 * sessions and ZooKeeper's own leader changes: a leader sends it with
 * every write it makes as leader, so that a leader paused past its session
 * is refused once its successor has written (or fenced). Releases, GUIDs,
 * ownership, lost and suspended leadership, cancel and timeout: as for the
 * exclusive lock.
 *
 * The participant learns its state through the calls below and an event
 * callback of the lock's shape: becoming leader (the completion of
 * zkf_election_lead_async(), the return of zkf_election_lead()), then
 * SUSPENDED, LEADER again, LOST, as events; after a step-down with
 * rejoin, FOLLOWER at once and LEADER when elected again, as events.
 * ------------------------------------------------------------------------ */
typedef struct zkf_election zkf_election_t;

/* The values are the lock's states (zkf_lock_state_t) under their names
 * for an election. */
typedef enum zkf_election_state {
    ZKF_ELECTION_IDLE = 0,      /* not taking part */
    ZKF_ELECTION_FOLLOWER = 1,  /* taking part, not leader */
    ZKF_ELECTION_LEADER = 2,    /* leader; the token is valid */
    ZKF_ELECTION_SUSPENDED = 3, /* was leader; connection lost: may or may not still be */
    ZKF_ELECTION_LOST = 4       /* was leader; session expired or suspended for a whole
                                   session timeout, or our node was deleted: another may
                                   lead now. The token must not be used again.
                                   zkf_election_step_down() resets it. */
} zkf_election_state_t;

/** Name of an election state ("leader", ...). Static storage. */
ZKF_API const char *zkf_election_state_name(zkf_election_state_t state);

/** Event callback, on the client's event thread: SUSPENDED, LEADER (again,
 * or after a rejoin), LOST, FOLLOWER (a rejoin has queued), IDLE (a
 * rejoin's wait ended without leadership: the session ended). `token` is
 * the leadership's concerned, 0 for FOLLOWER and IDLE. */
typedef void (*zkf_election_event_cb)(zkf_election_t *e, zkf_election_state_t state, uint64_t token,
                                      void *arg);

/** Completion of zkf_election_lead_async(): status 0 with the token when
 * this participant became leader, else as zkf_acquire_cb (ZKF_ETIMEDOUT,
 * ZKF_ECANCELED, ...), and it no longer takes part. */
typedef void (*zkf_election_lead_cb)(zkf_election_t *e, int status, uint64_t token, void *arg);

typedef struct zkf_election_options {
    /** sizeof(zkf_election_options_t), set by zkf_election_options_init(). */
    size_t size;
    /** Event callback and its argument. */
    zkf_election_event_cb event_cb;
    void *event_arg;
    /** Optional id of this participant (host name, address...), stored as
     * its node's data and shown by zkf_election_participants(): at most
     * 1024 bytes; copied. NULL: empty. */
    const char *id;
} zkf_election_options_t;

/** Fills `opts` with defaults. Thread-safe. */
ZKF_API void zkf_election_options_init(zkf_election_options_t *opts);

/**
 * Creates a participant of the election at `path` (absolute; parents are
 * created on first use). It takes part once zkf_election_lead() or
 * zkf_election_lead_async() is called. No ZooKeeper call is made here.
 *
 * Ownership: *out is owned by the caller, freed with
 * zkf_election_destroy(), and must not outlive its client. `opts` may be
 * NULL (defaults); its id is copied.
 *
 * Returns 0, ZKF_EINVAL (bad path, as zkf_lock_create(); id longer than
 * 1024 bytes; bad options), ZKF_ENOMEM. Thread-safe.
 */
ZKF_API int zkf_election_create(zkf_client_t *client, const char *path,
                                const zkf_election_options_t *opts, zkf_election_t **out);

/** Leaves the election (steps down if leader) and frees the participant:
 * as zkf_rwlock_destroy(). NULL is a no-op. Blocking. */
ZKF_API void zkf_election_destroy(zkf_election_t *e);

/**
 * Takes part and waits to become leader, blocking. timeout_ms as
 * zkf_rwlock_acquire() (0: leader at once or ZKF_EBUSY). On success
 * *token (may be NULL) is the leadership's token. When the wait ends
 * otherwise, the participant has left: no node, no watch.
 *
 * Returns 0 and the codes of zkf_rwlock_acquire() (ZKF_EINVAL for e NULL;
 * ZKF_EBUSY: tried once and another leads, or already leader;
 * ZKF_EINPROGRESS: already taking part). Thread-safe; blocking; not from a
 * callback of this client.
 */
ZKF_API int zkf_election_lead(zkf_election_t *e, int timeout_ms, uint64_t *token);

/**
 * Takes part without blocking; `cb` reports, on the client's event thread,
 * when this participant becomes leader, or why it stopped waiting.
 * Returns as zkf_rwlock_acquire_async() (ZKF_EINVAL for cb NULL).
 * Thread-safe.
 */
ZKF_API int zkf_election_lead_async(zkf_election_t *e, int timeout_ms, zkf_election_lead_cb cb,
                                    void *arg);

/** Stops waiting to lead, from any thread: as zkf_rwlock_cancel() (the
 * wait ends with ZKF_ECANCELED, and the participant has left). Returns 0,
 * ZKF_ENOTHELD (not waiting), ZKF_EINVAL. Thread-safe; non-blocking. */
ZKF_API int zkf_election_cancel(zkf_election_t *e);

/**
 * Steps down: deletes our node (as zkf_rwlock_release(): at once, retried
 * in the background), so that the next participant leads; the token is
 * invalid from here on. With `rejoin`, takes part again at once at the
 * back of the queue (a new node): the event callback says FOLLOWER, then
 * LEADER with a new token when elected again. From LOST it resets the
 * participant (and rejoins if asked). From FOLLOWER after a rejoin, it
 * leaves (the event callback says IDLE once our node is gone); with
 * `rejoin` it keeps its place in the queue instead.
 *
 * Returns 0 (our node's deletion sent, or nothing to delete); ZKF_EPENDING
 * (ZooKeeper unreachable: sent once back); ZKF_ELOCKLOST (leadership had
 * been lost; the participant is reset); ZKF_ENOMEM; ZKF_ENOTHELD (not
 * leader nor lost nor rejoined: to stop a wait of zkf_election_lead, use
 * zkf_election_cancel); ZKF_EINVAL. With `rejoin` the rejoin's own failure
 * to start (ZKF_ECLOSED, ZKF_ENOMEM, ZKF_ESYS, ZKF_ENOAUTH) is returned
 * if the step-down itself succeeded. Thread-safe; non-blocking.
 */
ZKF_API int zkf_election_step_down(zkf_election_t *e, int rejoin);

/** The token of the current leadership: 0 and *token only while LEADER;
 * ZKF_ECONNLOSS while SUSPENDED, ZKF_ELOCKLOST once LOST, ZKF_ENOTHELD
 * otherwise, ZKF_EINVAL. Thread-safe; non-blocking. */
ZKF_API int zkf_election_token(const zkf_election_t *e, uint64_t *token);

/** The participant's state. Thread-safe; non-blocking. */
ZKF_API zkf_election_state_t zkf_election_state(const zkf_election_t *e);

/** The election's path. Owned by the participant; lives as long as it. */
ZKF_API const char *zkf_election_path(const zkf_election_t *e);

/** Copies our node's name ("candidate-<guid>-<seq>") into buf. Returns 0,
 * ZKF_ENOTHELD (no node known), ZKF_EINVAL (buf too small). */
ZKF_API int zkf_election_node(const zkf_election_t *e, char *buf, size_t len);

/** The last ZooKeeper code of the participant's most recent failed
 * operation; 0 if none. Thread-safe. */
ZKF_API int zkf_election_zk_error(const zkf_election_t *e);

/** A participant, as zkf_election_participants() lists it. */
typedef struct zkf_participant {
    char *node;         /* node name, "candidate-<guid>-<seq>" */
    char *id;           /* its id (the node's data, NUL-terminated; "" if none) */
    int64_t owner;      /* ephemeralOwner: its session id */
    uint64_t token;     /* czxid of its node: its token while it leads */
    int64_t created_ms; /* ctime, ms since the epoch (server clock) */
    uint32_t sequence;  /* the sequence suffix */
} zkf_participant_t;

/**
 * Lists the participants of the election at `path`, the leader first, then
 * the others in the order in which they would lead. Children not named as
 * the recipe names them are ignored; participants that leave during the
 * listing are left out (so the first listed may have left already).
 *
 * Ownership: on success *out (NULL when *count is 0) is owned by the caller
 * and freed with zkf_participants_free().
 *
 * Returns 0 (also when the path does not exist), ZKF_EINVAL, ZKF_ECONNLOSS,
 * ZKF_ESESSIONEXPIRED, ZKF_ENOAUTH, ZKF_EZK, ZKF_ENOMEM. Thread-safe;
 * blocking; not from a callback of this client.
 */
ZKF_API int zkf_election_participants(zkf_client_t *client, const char *path,
                                      zkf_participant_t **out, size_t *count);

/** Frees a listing from zkf_election_participants(). NULL is a no-op. */
ZKF_API void zkf_participants_free(zkf_participant_t *list, size_t count);

#ifdef __cplusplus
}
#endif

#endif /* ZKFENCE_ZKFENCE_H */
