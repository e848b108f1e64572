/* Tokens verified against ZooKeeper (issue 10, item 5): the proxy's link to
 * the ensemble that hands out the tokens, through libzkfence's client (no
 * second ZooKeeper client in the proxy).
 *
 * What is checked (the `holder` rule, Chubby's CheckSequencer): a token is
 * confirmed when, after a sync of the lock's path (so the server that
 * answers has every write the leader committed before the sync), the
 * lock's current holder, the first contender of the lock path in queue
 * order (zkf_lock_contenders(): the recipe's own reading of the children),
 * has that token as the czxid of its node. Anything else is refused: a
 * token of no node at all (a forged one, above or below the ensemble's
 * last zxid alike: a live node's czxid is at most that zxid, so a token
 * above it can never be confirmed), a waiter's token, a token whose node is
 * gone (released or expired), a lock with no holder.
 *
 * When it is asked (s3/gate.c): for every fenced request whose token the
 * fence would accept (equal to the mark, or above it), inside the lock's
 * section, so that a holder whose node is gone is refused, even with a
 * token equal to the mark, before its successor writes anything (as soon
 * as the proxy's watch hears of the deletion: one notification after it
 * commits).
 *
 * The holder cache makes that free in the steady state: a confirmed
 * holder is remembered, with a ZooKeeper watch on its node, until the
 * watch fires (the node deleted or changed, or any session event: then
 * every entry goes). While the entry exists, its node exists, and no
 * other contender can hold the lock, so the cache answers "confirmed"
 * without a round trip; it never answers anything else (a refusal always
 * comes from ZooKeeper, after a sync). A holder pays one check (a sync, the
 * listing, one exists per contender, and the watch) for its first fenced
 * request, and none after while it holds. At most 65536 locks are cached.
 *
 * ZooKeeper unreachable (not connected): ZKP_ZK_UNAVAILABLE at once, cache
 * or not (a disconnect drops the cache anyway): fail closed.
 *
 * The `zxid` rule (ZKP_ZK_MODE_ZXID), cheaper and weaker: a token is
 * confirmed when it is not above the ensemble's last committed zxid. Every
 * token libzkfence hands out is the czxid of a committed node, so it is at
 * most that zxid; a forged far-future token is above it and refused, and can
 * never lock anyone out. It does not tell a holder from a waiter, nor one
 * lock's token from another's (bindings do that: s3/gate.c). The bound is
 * learnt from ZooKeeper (a sync, then a write to a proxy-owned scratch node
 * whose zxid is read back: see verify.c) and cached; a token above it makes
 * the proxy learn it again, once, and refuse if the token is still above.
 * ZooKeeper unreachable: tokens at or below the last bound learnt are still
 * confirmed (the bound only grows, and was true when learnt); tokens above
 * it get ZKP_ZK_UNAVAILABLE.
 *
 * This layer knows nothing of HTTP: it returns a value. */
#ifndef ZKP_ZK_VERIFY_H
#define ZKP_ZK_VERIFY_H

#include <stddef.h>
#include <stdint.h>

typedef struct zkp_zk zkp_zk_t;

/* Longest lock path the holder cache keys (longer: never cached). */
#define ZKP_ZK_LOCK_MAX 1024

/* Which rule zkp_zk_check applies (the `verify` setting). */
typedef enum {
    ZKP_ZK_MODE_HOLDER = 0, /* the token is the current holder's czxid */
    ZKP_ZK_MODE_ZXID = 1,   /* the token is not above the last committed zxid */
} zkp_zk_mode_t;

/* Name of the proxy's scratch node (under the chroot), written by the
 * zxid rule to learn the last committed zxid. */
#define ZKP_ZK_SCRATCH "/zkfence-proxy-zxid"

typedef enum {
    ZKP_ZK_CONFIRMED = 0,    /* the token is the current holder's */
    ZKP_ZK_REFUSED = 1,      /* ZooKeeper answered: the token is not the current holder's */
    ZKP_ZK_UNAVAILABLE = -1, /* no answer from ZooKeeper (not connected, connection lost
                                during the check, session expired, refused): fail closed */
} zkp_zk_result_t;

/* What the check found, for the refusal's message and the audit. */
typedef struct zkp_zk_found {
    int has_holder;  /* the lock has a holder */
    uint64_t holder; /* its token (czxid), when has_holder */
    int waiter;      /* the token is a waiter's (queued, not holding) */
    uint64_t bound;  /* zxid rule: the last committed zxid learnt (0: none yet) */
    char why[160];   /* for ZKP_ZK_UNAVAILABLE: what failed */
} zkp_zk_found_t;

/* Connects to `hosts`; checks then apply `mode` ("host:port,host:port"), under `chroot` (NULL:
 * none; lock names are then ZooKeeper paths under it), waiting up to connect_timeout_ms for the
 * first session. Returns 0 with *out set, or -1 with the reason in err (the proxy must not start:
 * fail closed rather than accept unverified tokens). Later outages are survived: the client
 * reconnects and sets up new sessions by itself. */
int zkp_zk_open(const char *hosts, const char *chroot, zkp_zk_mode_t mode, int session_timeout_ms,
                int connect_timeout_ms, zkp_zk_t **out, char *err, size_t errlen);

/* Closes the session. NULL is a no-op. No check may be running. */
void zkp_zk_close(zkp_zk_t *z);

/* The check of the mode (above) for `lock` (a canonical lock name = the ZooKeeper path
 * of the lock, under the chroot) and `token`. Fills *found. Blocking: a
 * sync and the listing (one round trip each while connected; while the
 * connection is lost, immediately ZKP_ZK_UNAVAILABLE; a connection lost in
 * the middle is noticed by libzookeeper within 2/3 of the session timeout).
 * Thread-safe; call from a worker or connection thread, never from a
 * libzkfence callback. */
zkp_zk_result_t zkp_zk_check(zkp_zk_t *z, const char *lock, uint64_t token, zkp_zk_found_t *found);

/* zkp_zk_check() answered without waiting: 1 when the cache confirms the
 * token (holder mode: connected and the cached holder is `token`; zxid
 * mode: token <= the cached bound), counted as a lookup and a hit as
 * zkp_zk_check() would; 0 when only a round trip could answer (nothing
 * counted: the caller asks zkp_zk_check() on a thread that may wait). For
 * the event loops. Thread-safe. */
int zkp_zk_check_cached(zkp_zk_t *z, const char *lock, uint64_t token);

/* Counters for /_zkfence/metrics: checks asked, checks answered by the
 * cache (no round trip: the holder cache, or the zxid bound), entries in
 * the holder cache. Thread-safe. */
void zkp_zk_stats(zkp_zk_t *z, uint64_t *lookups, uint64_t *hits, size_t *cached);

/* The client's state ("connected", "suspended", ... zkf_client_state_name):
 * for /_zkfence/health. Static storage. Thread-safe. */
const char *zkp_zk_state(const zkp_zk_t *z);

/* The mode's name ("holder", "zxid"): for /_zkfence/health. Static. */
const char *zkp_zk_mode_name(const zkp_zk_t *z);

/* 1 while connected (a check may be confirmed), else 0. Thread-safe. */
int zkp_zk_connected(const zkp_zk_t *z);

#endif
