/* Listing a recipe's nodes, in queue order (listing.h): for `zkfence
 * holders` and for applications that want to see who holds and who waits. */
#include <stdlib.h>
#include <string.h>

#include "listing.h"

#define DATA_MAX 1024 /* the most of a node's data a listing reports */

/* One listed node: its name and Stat, and its data when asked for. */
typedef struct listed {
    const char *name; /* borrowed from the children vector */
    uint32_t seq;
    struct Stat st;
    char *data; /* NUL-terminated, malloc'ed; NULL unless asked for */
} listed_t;

static void listed_free(listed_t *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i].data);
    free(v);
}

/* Lists the recipe's children of `path`, reading each one's Stat (with an
 * exists, or a get when with_data). *sv holds the names: the caller
 * deallocates it, and frees *out with listed_free. */
static int list_nodes(zkf_client_t *c, const char *path, const char *const *prefixes, int with_data,
                      struct String_vector *sv, listed_t **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    zhandle_t *zh = zkf_client_zhandle(c);
    if (zh == NULL)
        return ZKF_ECONNLOSS;
    int rc = zoo_get_children(zh, path, 0, sv);
    if (rc == ZNONODE)
        return 0;
    if (rc != ZOK)
        return zkf__from_zk(rc);

    zkf__node_t *nodes;
    size_t n, k = 0;
    if ((rc = zkf__nodes_sorted_as(prefixes, sv, &nodes, &n)) != 0)
        return rc;
    listed_t *list = n ? calloc(n, sizeof(*list)) : NULL;
    if (n && list == NULL) {
        free(nodes);
        return ZKF_ENOMEM;
    }
    char buf[ZKF__MAX_PATH + 64];
    for (size_t i = 0; i < n; i++) {
        listed_t *l = &list[k];
        snprintf(buf, sizeof(buf), "%s/%s", path, nodes[i].name);
        int zrc;
        if (with_data) {
            char data[DATA_MAX + 1];
            int len = DATA_MAX;
            zrc = zoo_get(zh, buf, 0, data, &len, &l->st);
            if (zrc == ZOK) {
                data[len > 0 ? len : 0] = '\0';
                if ((l->data = strdup(data)) == NULL) {
                    rc = ZKF_ENOMEM;
                    break;
                }
            }
        } else {
            zrc = zoo_exists(zh, buf, 0, &l->st);
        }
        if (zrc == ZNONODE)
            continue; /* left while we looked */
        if (zrc != ZOK) {
            rc = zkf__from_zk(zrc);
            break;
        }
        l->name = nodes[i].name;
        l->seq = nodes[i].seq;
        k++;
    }
    free(nodes);
    if (rc != 0) {
        listed_free(list, n);
        return rc;
    }
    *out = list;
    *count = k;
    return 0;
}

void zkf_contenders_free(zkf_contender_t *list, size_t count)
{
    if (list == NULL)
        return;
    for (size_t i = 0; i < count; i++)
        free(list[i].node);
    free(list);
}

void zkf_participants_free(zkf_participant_t *list, size_t count)
{
    if (list == NULL)
        return;
    for (size_t i = 0; i < count; i++) {
        free(list[i].node);
        free(list[i].id);
    }
    free(list);
}

/* Runs list_nodes and hands each node to fill(out, i, node), which
 * returns 0 or ZKF_ENOMEM; free_fn(out, filled) undoes a partial list. */
static int listing(zkf_client_t *c, const char *path, const char *const *prefixes, int with_data,
                   size_t elem, void **out, size_t *count,
                   int (*fill)(void *list, size_t i, const listed_t *l),
                   void (*free_fn)(void *list, size_t n))
{
    if (c == NULL || out == NULL || count == NULL || zkf__path_valid(path) != 0)
        return ZKF_EINVAL;
    *out = NULL;
    *count = 0;
    struct String_vector sv = {0, NULL};
    listed_t *nodes;
    size_t n;
    int rc = list_nodes(c, path, prefixes, with_data, &sv, &nodes, &n);
    void *list = NULL;
    size_t k = 0;
    if (rc == 0 && n > 0 && (list = calloc(n, elem)) == NULL)
        rc = ZKF_ENOMEM;
    for (; rc == 0 && k < n; k++)
        rc = fill(list, k, &nodes[k]); /* a failed one counts: it may be half filled */
    listed_free(nodes, n);
    deallocate_String_vector(&sv);
    if (rc != 0) {
        free_fn(list, k);
        return rc;
    }
    *out = list;
    *count = n;
    return 0;
}

static int fill_contender(void *list, size_t i, const listed_t *l)
{
    zkf_contender_t *e = &((zkf_contender_t *)list)[i];
    if ((e->node = strdup(l->name)) == NULL)
        return ZKF_ENOMEM;
    e->owner = l->st.ephemeralOwner;
    e->token = (uint64_t)l->st.czxid;
    e->created_ms = l->st.ctime;
    e->sequence = l->seq;
    return 0;
}

static void free_contenders(void *list, size_t n)
{
    zkf_contenders_free(list, n);
}

int zkf__contenders_as(zkf_client_t *c, const char *path, const char *const *prefixes,
                       zkf_contender_t **out, size_t *count)
{
    return listing(c, path, prefixes, 0, sizeof(zkf_contender_t), (void **)out, count,
                   fill_contender, free_contenders);
}

static int fill_participant(void *list, size_t i, const listed_t *l)
{
    zkf_participant_t *e = &((zkf_participant_t *)list)[i];
    if ((e->node = strdup(l->name)) == NULL || (e->id = strdup(l->data ? l->data : "")) == NULL)
        return ZKF_ENOMEM;
    e->owner = l->st.ephemeralOwner;
    e->token = (uint64_t)l->st.czxid;
    e->created_ms = l->st.ctime;
    e->sequence = l->seq;
    return 0;
}

static void free_participants(void *list, size_t n)
{
    zkf_participants_free(list, n);
}

int zkf__participants_as(zkf_client_t *c, const char *path, const char *const *prefixes,
                         zkf_participant_t **out, size_t *count)
{
    return listing(c, path, prefixes, 1, sizeof(zkf_participant_t), (void **)out, count,
                   fill_participant, free_participants);
}
