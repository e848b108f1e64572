/* Node names of the recipes, and paths.
 *
 * A contender's node is "<prefix>-<guid>-<seq>": the prefix is one of the
 * recipe's (a recipe may have several kinds of node), the GUID (128 random bits, lowercase hex) is
 * fresh for every attempt so that a client whose create reply was lost can find its node again, and
 * ZooKeeper appends the 10-digit sequence that orders the queue. Anything else under a recipe's
 * path is a foreign child and is ignored. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "common.h"

static int is_lower_hex(char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f');
}

int zkf__seq_parse(const char *seq, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < ZKF__SEQ_LEN; i++) {
        if (seq[i] < '0' || seq[i] > '9')
            return -1;
        v = v * 10 + (uint32_t)(seq[i] - '0');
    }
    if (seq[ZKF__SEQ_LEN] != '\0')
        return -1;
    *out = v;
    return 0;
}

int zkf__node_parse_as(const char *const *prefixes, const char *name, zkf__node_t *out)
{
    /* Compared in place, without strlen and strncmp: every child of every
     * listing passes here. */
    size_t plen = 0;
    int kind = 0;
    for (; prefixes[kind] != NULL; kind++) {
        const char *p = prefixes[kind];
        size_t l = 0;
        while (p[l] != '\0' && name[l] == p[l])
            l++;
        if (p[l] == '\0' && l > 0 && name[l] == '-') {
            plen = l;
            break;
        }
    }
    if (plen == 0)
        return -1;

    const char *guid = name + plen + 1;
    for (int i = 0; i < ZKF__GUID_LEN; i++)
        if (!is_lower_hex(guid[i]))
            return -1;
    if (guid[ZKF__GUID_LEN] != '-')
        return -1;

    uint32_t v;
    if (zkf__seq_parse(guid + ZKF__GUID_LEN + 1, &v) != 0)
        return -1;

    out->name = name;
    out->guid = guid;
    out->seq = v;
    out->kind = kind;
    return 0;
}

static int by_seq(const void *a, const void *b)
{
    const zkf__node_t *x = a, *y = b;
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    return strcmp(x->name, y->name); /* same sequence cannot happen; keep it total */
}

int zkf__nodes_sorted_as(const char *const *prefixes, const struct String_vector *children,
                         zkf__node_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (children == NULL || children->count <= 0)
        return 0;
    zkf__node_t *v = malloc(sizeof(*v) * (size_t)children->count);
    if (v == NULL)
        return ZKF_ENOMEM;
    size_t k = 0;
    for (int i = 0; i < children->count; i++)
        if (zkf__node_parse_as(prefixes, children->data[i], &v[k]) == 0)
            k++;
    qsort(v, k, sizeof(*v), by_seq);
    *out = v;
    *n = k;
    return 0;
}

int zkf__guid(char *buf)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[ZKF__GUID_LEN / 2];
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return ZKF_ESYS;
    for (size_t i = 0; i < sizeof(raw); i++) {
        buf[2 * i] = hex[raw[i] >> 4];
        buf[2 * i + 1] = hex[raw[i] & 0xf];
    }
    buf[ZKF__GUID_LEN] = '\0';
    return 0;
}

int zkf__path_valid(const char *path)
{
    if (path == NULL || path[0] != '/' || path[1] == '\0')
        return -1;
    size_t len = strlen(path);
    if (len > ZKF__MAX_PATH || path[len - 1] == '/')
        return -1;
    for (const char *p = path; *p; p++) {
        if (p[0] == '/' && p[1] == '/')
            return -1;
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return -1;
        /* "." and ".." components are reserved by ZooKeeper */
        if (p[0] == '/' && p[1] == '.' &&
            (p[2] == '/' || p[2] == '\0' || (p[2] == '.' && (p[3] == '/' || p[3] == '\0'))))
            return -1;
    }
    return 0;
}

int64_t zkf__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void zkf__abs_deadline(struct timespec *ts, int64_t deadline_ns)
{
    ts->tv_sec = (time_t)(deadline_ns / 1000000000LL);
    ts->tv_nsec = (long)(deadline_ns % 1000000000LL);
}
