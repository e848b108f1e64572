/* What every file of libzkfence shares: allocation (with fault injection
 * for the white-box tests), time, node names, paths, error mapping. Leaf
 * helpers: nothing here calls into the client or the recipes. */
#ifndef ZKFENCE_COMMON_H
#define ZKFENCE_COMMON_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <zookeeper/zookeeper.h>

#include "zkfence/zkfence.h"

#define ZKF__GUID_LEN 32      /* hex characters of the per-attempt GUID */
#define ZKF__SEQ_LEN 10       /* ZooKeeper's sequence suffix, %010d */
#define ZKF__MAX_PATH 1024    /* bound on recipe paths we accept */
#define ZKF__PREFIX_MAX 16    /* bound on a recipe's node name prefixes */
#define ZKF__PARENT_RETRIES 3 /* create-parents-then-retry rounds */

/* ---- allocation ----
 * The library's files allocate through these. The shipped library maps them
 * to libc; the white-box archive the tests link (zkfence_internal) is built
 * with ZKF_FAULT_INJECTION, where a test can make an allocation of its own
 * thread fail (SQLite-style fault injection): the other threads of the
 * library are unaffected, so the failure lands where the test aims it. */
#ifdef ZKF_FAULT_INJECTION
void *zkf__malloc(size_t size);
void *zkf__calloc(size_t n, size_t size);
char *zkf__strdup(const char *s);
/* On the calling thread, after `n` more allocations succeed, the next one
 * fails (once). n < 0 switches it off. */
void zkf__fail_alloc_after(int n);
#else
#define zkf__malloc malloc
#define zkf__calloc calloc
#define zkf__strdup strdup
#endif

/* ---- time ---- */
int64_t zkf__now_ns(void); /* CLOCK_MONOTONIC */
void zkf__abs_deadline(struct timespec *ts, int64_t deadline_ns);

/* ---- node names (nodes.c) ---- */
typedef struct zkf__node {
    const char *name; /* borrowed from the children vector */
    const char *guid; /* points into name; ZKF__GUID_LEN chars */
    uint32_t seq;
    int kind; /* index of its prefix in the recipe's list */
} zkf__node_t;

/* Parses "<prefix>-<32 lowercase hex>-<10 digits>" where prefix is one of
 * `prefixes` (NULL-terminated: the recipe's). Returns 0 and fills *out, or
 * -1 for a foreign child. */
int zkf__node_parse_as(const char *const *prefixes, const char *name, zkf__node_t *out);
/* Parses and sorts a recipe's children by sequence; foreign children are
 * dropped. *out is malloc'ed (free it), *n its length. Returns 0 or
 * ZKF_ENOMEM. */
int zkf__nodes_sorted_as(const char *const *prefixes, const struct String_vector *children,
                         zkf__node_t **out, size_t *n);
/* Parses ZooKeeper's sequence suffix: exactly ZKF__SEQ_LEN digits, then the
 * end of the string. 0 and *out, or -1. */
int zkf__seq_parse(const char *s, uint32_t *out);
/* Fills buf (ZKF__GUID_LEN + 1 bytes) with a fresh random GUID. 0 or ZKF_ESYS. */
int zkf__guid(char *buf);
/* 0 if path is an absolute, normalised ZooKeeper path other than "/". */
int zkf__path_valid(const char *path);
/* Maps a ZooKeeper return code to ours. */
int zkf__from_zk(int rc);

/* The struct of type `type` whose member `member` is at `ptr`. */
#define ZKF__CONTAINER_OF(ptr, type, member)                                                       \
    ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

#endif /* ZKFENCE_COMMON_H */
