/* Tokens verified against ZooKeeper: the holder rule of zk/verify.h and
 * the holder cache, and the zxid rule with its cached bound.
 *
 * The cache maps a lock to its holder's token. An entry is made after a
 * check, with a watch set (zoo_wexists) on the holder's node, and removed
 * when that watch fires: the node was deleted (released, expired) or
 * changed, or the session changed state (the C client hands session
 * events to every watcher). While an entry exists the node exists, and
 * since a contender's sequence number is higher than every node before
 * it, nobody can hold that lock but the node's owner: the entry IS the
 * holder. Invariant against the race of a watch firing between the
 * zoo_wexists that set it and the insert: every event bumps `gen`, and an
 * entry is inserted only if gen did not move since before the zoo_wexists
 * (a spurious skip costs a round trip later, never a wrong answer). */
#include "zk/verify.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zookeeper/zookeeper.h>

#include <zkfence/zkfence.h>

#define CACHE_BUCKETS 1024
#define CACHE_MAX 65536 /* entries; beyond, checks go to ZooKeeper each time */

typedef struct entry {
    struct entry *next;
    uint64_t holder;
    char name[]; /* the lock path */
} entry_t;

struct zkp_zk {
    zkf_client_t *client;
    zkp_zk_mode_t mode;
    /* zxid rule: the last committed zxid learnt (0: none yet). It only
     * grows; learning is serialised by learn_mu, so that a burst of tokens
     * above it costs one write, not one each. */
    atomic_uint_fast64_t bound;
    pthread_mutex_t learn_mu;
    pthread_mutex_t mu; /* guards the cache */
    entry_t *buckets[CACHE_BUCKETS];
    size_t entries;
    uint64_t gen; /* bumped by every watch event (under mu) */
    atomic_uint_fast64_t hits, lookups;
};

static size_t bucket_of(const char *name)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return (size_t)(h % CACHE_BUCKETS);
}

/* The entry of `name`, or NULL; *prev gets the link that points to it. */
static entry_t *find_locked(zkp_zk_t *z, const char *name, entry_t ***prev)
{
    entry_t **pp = &z->buckets[bucket_of(name)];
    for (; *pp != NULL; pp = &(*pp)->next)
        if (strcmp((*pp)->name, name) == 0)
            break;
    if (prev != NULL)
        *prev = pp;
    return *pp;
}

static void clear_locked(zkp_zk_t *z)
{
    for (size_t i = 0; i < CACHE_BUCKETS; i++)
        while (z->buckets[i] != NULL) {
            entry_t *e = z->buckets[i];
            z->buckets[i] = e->next;
            free(e);
        }
    z->entries = 0;
}

/* The watch on a holder's node: path is "<lock>/<node>" (under the
 * chroot), or "" for a session event, which drops every entry. */
static void holder_watch(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh;
    (void)state;
    zkp_zk_t *z = ctx;
    pthread_mutex_lock(&z->mu);
    z->gen++;
    const char *slash = path != NULL ? strrchr(path, '/') : NULL;
    if (type == ZOO_SESSION_EVENT || slash == NULL || slash == path) {
        clear_locked(z);
    } else {
        char lock[ZKP_ZK_LOCK_MAX + 1];
        size_t len = (size_t)(slash - path);
        if (len <= ZKP_ZK_LOCK_MAX) {
            memcpy(lock, path, len);
            lock[len] = '\0';
            entry_t **pp;
            entry_t *e = find_locked(z, lock, &pp);
            if (e != NULL) {
                *pp = e->next;
                free(e);
                z->entries--;
            }
        } else {
            clear_locked(z);
        }
    }
    pthread_mutex_unlock(&z->mu);
}

/* 1 and *holder if the cache knows the lock's holder. */
static int cache_get(zkp_zk_t *z, const char *lock, uint64_t *holder)
{
    pthread_mutex_lock(&z->mu);
    entry_t *e = find_locked(z, lock, NULL);
    if (e != NULL)
        *holder = e->holder;
    pthread_mutex_unlock(&z->mu);
    return e != NULL;
}

static uint64_t cache_gen(zkp_zk_t *z)
{
    pthread_mutex_lock(&z->mu);
    uint64_t g = z->gen;
    pthread_mutex_unlock(&z->mu);
    return g;
}

/* Remembers the holder, unless a watch event came since gen was read. */
static void cache_put(zkp_zk_t *z, const char *lock, uint64_t holder, uint64_t gen)
{
    size_t len = strlen(lock);
    pthread_mutex_lock(&z->mu);
    entry_t *e = find_locked(z, lock, NULL);
    if (z->gen == gen && e == NULL && z->entries < CACHE_MAX &&
        (e = malloc(sizeof(*e) + len + 1)) != NULL) {
        memcpy(e->name, lock, len + 1);
        e->holder = holder;
        size_t b = bucket_of(lock);
        e->next = z->buckets[b];
        z->buckets[b] = e;
        z->entries++;
    } else if (z->gen == gen && e != NULL) {
        e->holder = holder;
    }
    pthread_mutex_unlock(&z->mu);
}

int zkp_zk_open(const char *hosts, const char *chroot, zkp_zk_mode_t mode, int session_timeout_ms,
                int connect_timeout_ms, zkp_zk_t **out, char *err, size_t errlen)
{
    zkp_zk_t *z = calloc(1, sizeof(*z));
    if (z == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    z->mode = mode;
    pthread_mutex_init(&z->mu, NULL);
    pthread_mutex_init(&z->learn_mu, NULL);
    zkf_client_options_t o;
    zkf_client_options_init(&o);
    o.hosts = hosts;
    o.chroot = chroot;
    if (session_timeout_ms > 0)
        o.session_timeout_ms = session_timeout_ms;
    if (connect_timeout_ms > 0)
        o.connect_timeout_ms = connect_timeout_ms;
    o.zk_log_level = 0; /* the proxy reports what matters itself */
    int rc = zkf_client_connect(&o, &z->client);
    if (rc != 0) {
        snprintf(err, errlen, "ZooKeeper %s%s: %s (tokens cannot be verified)", hosts,
                 chroot ? chroot : "", zkf_strerror(rc));
        pthread_mutex_destroy(&z->learn_mu);
        pthread_mutex_destroy(&z->mu);
        free(z);
        return -1;
    }
    *out = z;
    return 0;
}

void zkp_zk_close(zkp_zk_t *z)
{
    if (z == NULL)
        return;
    zkf_client_destroy(z->client);
    clear_locked(z);
    pthread_mutex_destroy(&z->learn_mu);
    pthread_mutex_destroy(&z->mu);
    free(z);
}

const char *zkp_zk_mode_name(const zkp_zk_t *z)
{
    return z->mode == ZKP_ZK_MODE_ZXID ? "zxid" : "holder";
}

const char *zkp_zk_state(const zkp_zk_t *z)
{
    return zkf_client_state_name(zkf_client_state(z->client));
}

int zkp_zk_connected(const zkp_zk_t *z)
{
    return zkf_client_state(z->client) == ZKF_CLIENT_CONNECTED;
}

/* A sync, waited for. libzookeeper calls every completion exactly once (a
 * lost connection completes it with ZCONNECTIONLOSS, a close with
 * ZCLOSING), so the wait needs no deadline of its own, and the waiter can
 * live on the stack. */
typedef struct sync_wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, rc;
} sync_wait_t;

static void sync_done(int rc, const char *value, const void *data)
{
    (void)value;
    sync_wait_t *w = (sync_wait_t *)data;
    pthread_mutex_lock(&w->mu);
    w->rc = rc;
    w->done = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static int sync_path(zhandle_t *zh, const char *path)
{
    sync_wait_t w = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    int rc = zoo_async(zh, path, sync_done, &w);
    if (rc != ZOK)
        return rc;
    pthread_mutex_lock(&w.mu);
    while (!w.done)
        pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
    pthread_mutex_destroy(&w.mu);
    pthread_cond_destroy(&w.cv);
    return w.rc;
}

/* A round trip: sync, list, and a watch on the holder's node; the cache
 * entry is made when the watch is set and did not fire meanwhile. */
static zkp_zk_result_t ask(zkp_zk_t *z, const char *lock, uint64_t token, zkp_zk_found_t *found)
{
    zhandle_t *zh = zkf_client_zhandle(z->client);
    if (zh == NULL) {
        snprintf(found->why, sizeof(found->why), "no ZooKeeper session");
        return ZKP_ZK_UNAVAILABLE;
    }
    /* The sync first: the server we read from may lag behind the leader,
     * and must not miss the node of a holder that just acquired (nor show
     * the node of one that just released). ZNONODE: no such lock path,
     * hence no holder, which the listing then says. */
    int zrc = sync_path(zh, lock);
    if (zrc != ZOK && zrc != ZNONODE) {
        snprintf(found->why, sizeof(found->why), "ZooKeeper sync: %s", zerror(zrc));
        return ZKP_ZK_UNAVAILABLE;
    }
    uint64_t gen = cache_gen(z);
    zkf_contender_t *list = NULL;
    size_t n = 0;
    int rc = zkf_lock_contenders(z->client, lock, &list, &n);
    if (rc != 0) {
        snprintf(found->why, sizeof(found->why), "listing the holders of the lock: %s",
                 zkf_strerror(rc));
        return ZKP_ZK_UNAVAILABLE;
    }
    if (n > 0) {
        found->has_holder = 1;
        found->holder = list[0].token;
        for (size_t i = 1; i < n; i++)
            found->waiter |= list[i].token == token;
        char path[ZKP_ZK_LOCK_MAX + 256];
        struct Stat st;
        if (snprintf(path, sizeof(path), "%s/%s", lock, list[0].node) < (int)sizeof(path) &&
            zoo_wexists(zh, path, holder_watch, z, &st) == ZOK &&
            (uint64_t)st.czxid == list[0].token)
            cache_put(z, lock, list[0].token, gen);
    }
    zkf_contenders_free(list, n);
    return found->has_holder && found->holder == token ? ZKP_ZK_CONFIRMED : ZKP_ZK_REFUSED;
}

/* Learns the ensemble's last committed zxid into z->bound: a sync, then a
 * write (setData, or create the first time) of the proxy's scratch node,
 * whose Stat gives the write's own zxid (mzxid).
 *
 * Why a write: the leader gives zxids in commit order, and a write is
 * acknowledged only once committed, so its zxid is above every transaction
 * committed before it, among them the creation of the node of every token
 * a client could have shown us (a client has its token only once its
 * node's creation committed). That zxid IS the last committed zxid when
 * it commits. A read cannot give this: a Stat carries the zxids of one
 * node (a sync'd exists of "/" gives the root's mzxid/pzxid, far below),
 * and the zxid of the reply header is not in the C client's public API.
 * The sync is not needed for the write's ordering; it is kept because it
 * is cheap next to the write and makes the server we talk to current
 * before we ask (the "learnt after a sync").
 *
 * Returns 0, or -1 with found->why set. */
static int learn_zxid(zkp_zk_t *z, zkp_zk_found_t *found)
{
    zhandle_t *zh = zkf_client_zhandle(z->client);
    if (zh == NULL) {
        snprintf(found->why, sizeof(found->why), "no ZooKeeper session");
        return -1;
    }
    int zrc = sync_path(zh, "/");
    struct Stat st;
    const char *what = "sync";
    for (int tries = 0; zrc == ZOK && tries < 2; tries++) {
        what = "writing " ZKP_ZK_SCRATCH;
        zrc = zoo_set2(zh, ZKP_ZK_SCRATCH, "", 0, -1, &st);
        if (zrc != ZNONODE)
            break;
        /* The first time: a persistent node holding nothing (open ACL:
         * nothing to protect; any writer only advances the zxid). */
        zrc = zoo_create2(zh, ZKP_ZK_SCRATCH, "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0,
                          &st);
        if (zrc != ZNODEEXISTS)
            break;
        zrc = ZOK; /* created meanwhile by another proxy: set it */
    }
    if (zrc != ZOK) {
        snprintf(found->why, sizeof(found->why), "learning the last zxid (%s): %s", what,
                 zerror(zrc));
        return -1;
    }
    uint64_t learnt = (uint64_t)st.mzxid;
    uint_fast64_t cur = atomic_load(&z->bound);
    while (cur < learnt && !atomic_compare_exchange_weak(&z->bound, &cur, learnt))
        ;
    return 0;
}

/* The zxid rule: the cached bound confirms without a round trip (even
 * disconnected: it was true when learnt, and only grows); above it, learn
 * again, then decide. */
static zkp_zk_result_t check_zxid(zkp_zk_t *z, uint64_t token, zkp_zk_found_t *found)
{
    found->bound = atomic_load(&z->bound);
    if (found->bound != 0 && token <= found->bound) {
        atomic_fetch_add(&z->hits, 1);
        return ZKP_ZK_CONFIRMED;
    }
    if (!zkp_zk_connected(z)) {
        snprintf(found->why, sizeof(found->why),
                 "not connected to ZooKeeper (%s), and the token is above the last zxid learnt "
                 "(%" PRIu64 ")",
                 zkp_zk_state(z), found->bound);
        return ZKP_ZK_UNAVAILABLE;
    }
    pthread_mutex_lock(&z->learn_mu);
    int rc = atomic_load(&z->bound) < token ? learn_zxid(z, found) : 0;
    pthread_mutex_unlock(&z->learn_mu);
    found->bound = atomic_load(&z->bound);
    if (rc != 0)
        return ZKP_ZK_UNAVAILABLE;
    return token <= found->bound ? ZKP_ZK_CONFIRMED : ZKP_ZK_REFUSED;
}

zkp_zk_result_t zkp_zk_check(zkp_zk_t *z, const char *lock, uint64_t token, zkp_zk_found_t *found)
{
    memset(found, 0, sizeof(*found));
    atomic_fetch_add(&z->lookups, 1);
    if (z->mode == ZKP_ZK_MODE_ZXID)
        return check_zxid(z, token, found);
    if (!zkp_zk_connected(z)) {
        snprintf(found->why, sizeof(found->why), "not connected to ZooKeeper (%s)",
                 zkp_zk_state(z));
        return ZKP_ZK_UNAVAILABLE;
    }
    /* The cache only ever confirms: any other answer comes from ZooKeeper
     * itself (a refusal is rare, and its message names the holder). */
    uint64_t holder;
    if (cache_get(z, lock, &holder) && holder == token) {
        atomic_fetch_add(&z->hits, 1);
        found->has_holder = 1;
        found->holder = holder;
        return ZKP_ZK_CONFIRMED;
    }
    return ask(z, lock, token, found);
}

int zkp_zk_check_cached(zkp_zk_t *z, const char *lock, uint64_t token)
{
    int hit;
    if (z->mode == ZKP_ZK_MODE_ZXID) {
        uint64_t bound = atomic_load(&z->bound);
        hit = bound != 0 && token <= bound;
    } else {
        uint64_t holder;
        hit = zkp_zk_connected(z) && cache_get(z, lock, &holder) && holder == token;
    }
    if (hit) {
        atomic_fetch_add(&z->lookups, 1);
        atomic_fetch_add(&z->hits, 1);
    }
    return hit;
}

void zkp_zk_stats(zkp_zk_t *z, uint64_t *lookups, uint64_t *hits, size_t *cached)
{
    *lookups = atomic_load(&z->lookups);
    *hits = atomic_load(&z->hits);
    pthread_mutex_lock(&z->mu);
    *cached = z->entries;
    pthread_mutex_unlock(&z->mu);
}
