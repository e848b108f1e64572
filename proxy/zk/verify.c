/* Tokens verified against ZooKeeper: the holder rule of zk/verify.h. */
#include "zk/verify.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zookeeper/zookeeper.h>

#include <zkfence/zkfence.h>

struct zkp_zk {
    zkf_client_t *client;
};

int zkp_zk_open(const char *hosts, const char *chroot, int session_timeout_ms,
                int connect_timeout_ms, zkp_zk_t **out, char *err, size_t errlen)
{
    zkp_zk_t *z = calloc(1, sizeof(*z));
    if (z == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
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
    free(z);
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

zkp_zk_result_t zkp_zk_check(zkp_zk_t *z, const char *lock, uint64_t token, zkp_zk_found_t *found)
{
    memset(found, 0, sizeof(*found));
    if (!zkp_zk_connected(z)) {
        snprintf(found->why, sizeof(found->why), "not connected to ZooKeeper (%s)",
                 zkp_zk_state(z));
        return ZKP_ZK_UNAVAILABLE;
    }
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
    zkf_contender_t *list = NULL;
    size_t n = 0;
    int rc = zkf_lock_contenders(z->client, lock, &list, &n);
    if (rc != 0) {
        snprintf(found->why, sizeof(found->why), "listing the holders of the lock: %s",
                 zkf_strerror(rc));
        return ZKP_ZK_UNAVAILABLE;
    }
    zkp_zk_result_t res = ZKP_ZK_REFUSED;
    if (n > 0) {
        found->has_holder = 1;
        found->holder = list[0].token;
        if (list[0].token == token)
            res = ZKP_ZK_CONFIRMED;
        for (size_t i = 1; i < n; i++)
            found->waiter |= list[i].token == token;
    }
    zkf_contenders_free(list, n);
    return res;
}
