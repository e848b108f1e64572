/* Which right each S3 operation needs (auth/rights.c): the one table that
 * maps an operation kind (http/request.h) to its rule. A new operation gets
 * its right here, in one line; an operation without a line is refused to
 * everyone (fail closed), and the unit suite checks that every kind has
 * one.
 *
 * The rules:
 *   ANYONE     no credentials needed (GET /_zkfence/health: liveness probes);
 *              a request that is signed anyway must still verify
 *   SIGNED     any known key; the answer is filtered by its rights
 *              (ListBuckets lists the buckets the key may read)
 *   BUCKET     `right` on the request's bucket, and `src_right` on the
 *              source bucket if the operation has one (CopyObject: write on
 *              the destination, read on the source)
 *   GLOBAL     `right` on '*' (the admin endpoints: admin on '*')
 *   LOCAL      anyone from a loopback peer (a local Prometheus scraper),
 *              else as GLOBAL (/_zkfence/metrics)
 *   FENCE      fence-advance of a lock: admin on '*', or write on a bucket
 *              bound to that lock. Until buckets are bound to locks, write
 *              on any bucket: such a key can raise any lock's mark with a
 *              write already (marks are per lock, not per bucket), so the
 *              endpoint adds no power. Binding narrows it to the buckets
 *              of the lock, here.
 *
 * Pure, thread-safe. */
#ifndef ZKP_RIGHTS_H
#define ZKP_RIGHTS_H

#include "auth/creds.h"
#include "http/request.h"

typedef enum {
    ZKP_RULE_UNSET = 0, /* no entry: refused */
    ZKP_RULE_ANYONE,
    ZKP_RULE_SIGNED,
    ZKP_RULE_BUCKET,
    ZKP_RULE_GLOBAL,
    ZKP_RULE_LOCAL,
    ZKP_RULE_FENCE,
} zkp_rule_kind_t;

typedef struct zkp_rule {
    zkp_rule_kind_t kind;
    zkp_right_t right;     /* BUCKET, GLOBAL, LOCAL */
    zkp_right_t src_right; /* BUCKET: on op->src_bucket, when the op names one */
} zkp_rule_t;

/* The rule of an operation kind; {ZKP_RULE_UNSET} for a kind without one
 * (or out of range). */
zkp_rule_t zkp_rule_of(zkp_op_kind_t kind);

/* Whether key k (NULL: an anonymous request) may run op. A fenced read (a
 * read carrying any fencing header: a token alone takes a bound key's lock)
 * needs write rights on its bucket: it may raise the lock's mark.
 * peer_loopback: the
 * client connected from a loopback address. Returns 1 if allowed; 0 if not,
 * with *needed set to a sentence naming the right that was missing (static
 * string). */
int zkp_rights_allow(const zkp_cred_key_t *k, const zkp_op_t *op, int peer_loopback,
                     const char **needed);

/* zkp_rights_allow() under a given rule (the table's, or another one a test
 * wants to check). */
int zkp_rights_allow_rule(zkp_rule_t rule, const zkp_cred_key_t *k, const zkp_op_t *op,
                          int peer_loopback, const char **needed);

#endif
