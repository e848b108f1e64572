/* Listing the contenders of a lock, in queue order: for `zkfence holders`
 * and for applications that want to see who holds and who waits. */
#include <stdlib.h>
#include <string.h>

#include "lock.h"

void zkf_contenders_free(zkf_contender_t *list, size_t count)
{
    if (list == NULL)
        return;
    for (size_t i = 0; i < count; i++)
        free(list[i].node);
    free(list);
}

int zkf_lock_contenders(zkf_client_t *c, const char *path, zkf_contender_t **out, size_t *count)
{
    if (c == NULL || out == NULL || count == NULL || zkf__path_valid(path) != 0)
        return ZKF_EINVAL;
    *out = NULL;
    *count = 0;
    zhandle_t *zh = zkf_client_zhandle(c);
    if (zh == NULL)
        return ZKF_ECONNLOSS;

    struct String_vector sv = {0, NULL};
    int rc = zoo_get_children(zh, path, 0, &sv);
    if (rc == ZNONODE)
        return 0;
    if (rc != ZOK)
        return zkf__from_zk(rc);

    zkf__node_t *nodes;
    size_t n;
    zkf_contender_t *list = NULL;
    size_t k = 0;
    if ((rc = zkf__nodes_sorted(&sv, &nodes, &n)) != 0)
        goto out;
    list = n ? calloc(n, sizeof(*list)) : NULL;
    if (n && list == NULL) {
        rc = ZKF_ENOMEM;
        goto out_nodes;
    }
    char buf[ZKF__MAX_PATH + 64];
    for (size_t i = 0; i < n; i++) {
        struct Stat st;
        snprintf(buf, sizeof(buf), "%s/%s", path, nodes[i].name);
        int zrc = zoo_exists(zh, buf, 0, &st);
        if (zrc == ZNONODE)
            continue; /* left while we looked */
        if (zrc != ZOK) {
            rc = zkf__from_zk(zrc);
            goto out_nodes;
        }
        list[k].node = strdup(nodes[i].name);
        if (list[k].node == NULL) {
            rc = ZKF_ENOMEM;
            goto out_nodes;
        }
        list[k].owner = st.ephemeralOwner;
        list[k].token = (uint64_t)st.czxid;
        list[k].created_ms = st.ctime;
        list[k].sequence = nodes[i].seq;
        k++;
    }
out_nodes:
    free(nodes);
out:
    deallocate_String_vector(&sv);
    if (rc != 0) {
        zkf_contenders_free(list, k);
        return rc;
    }
    if (k == 0) {
        free(list);
        list = NULL;
    }
    *out = list;
    *count = k;
    return 0;
}
