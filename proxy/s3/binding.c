/* Locks bound to keys, applied to a request (see s3/binding.h). */
#include "s3/binding.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fence/bind.h"
#include "http/respond.h"
#include "s3/service.h"

#define MSG_MAX 1400

/* Whether the request carries a token (alone or with a lock). */
static int has_token(const zkp_op_t *op)
{
    return op->fence == ZKP_FENCE_PRESENT || (op->fence == ZKP_FENCE_PARTIAL && op->lock == NULL);
}

static const char *audit_bucket(const zkp_req_t *r)
{
    return r->op.bucket[0] != '\0' ? r->op.bucket : NULL;
}

/* Counts and audits a refusal of the binding (verdict v), under the lock
 * the request named (or the bound one, for a missing token). */
static void record(zkp_req_t *r, const char *lock, const char *key, zkp_verdict_t v)
{
    zkp_op_t *op = &r->op;
    zkp_metrics_verdict(&r->svc->metrics, op->kind, v);
    if (has_token(op) && v != ZKP_VERDICT_REJECT_MISSING)
        zkp_audit_log(r->svc->audit, lock, op->token, 0, 0, v, audit_bucket(r), key,
                      zkp_op_name(op->kind));
    else
        zkp_audit_log_no_token(r->svc->audit, lock, v, audit_bucket(r), key, zkp_op_name(op->kind));
}

/* 403 FencingLockMismatch: the request named `named`, the key is fenced by
 * `bound` (NULL: by no lock, and `named` fences other keys). */
static enum MHD_Result mismatch(zkp_req_t *r, const char *named, const char *bound, const char *msg,
                                const char *key)
{
    record(r, named, key, ZKP_VERDICT_REJECT_LOCK);
    zkp_xml_extra_t extra[] = {{"Lock", named}, {"BoundLock", bound}};
    return zkp_respond_error_x(r, 403, "FencingLockMismatch", msg, extra, bound ? 2 : 1);
}

static enum MHD_Result named_other(zkp_req_t *r, const char *named, const char *bound,
                                   const zkp_bind_t *bd, const char *key)
{
    char msg[MSG_MAX];
    snprintf(msg, sizeof(msg),
             "This key is fenced by the lock %s (bind.%s in the proxy's configuration), not by "
             "%s: send its lock, or the token alone",
             bound, zkp_bind_spec(bd), named);
    return mismatch(r, named, bound, msg, key);
}

static enum MHD_Result owned_elsewhere(zkp_req_t *r, const char *named, const zkp_bind_t *owner,
                                       const char *key)
{
    char msg[MSG_MAX];
    snprintf(msg, sizeof(msg),
             "The lock %s is bound to other keys (bind.%s = %s in the proxy's configuration): it "
             "cannot fence %s",
             named, zkp_bind_spec(owner), zkp_bind_value(owner),
             key != NULL ? "this key" : "this request");
    return mismatch(r, named, NULL, msg, key);
}

/* 428 for a write whose key is bound, without a token. */
static enum MHD_Result token_required(zkp_req_t *r, const char *bound, const zkp_bind_t *bd)
{
    record(r, bound, r->op.key, ZKP_VERDICT_REJECT_MISSING);
    char msg[MSG_MAX];
    snprintf(msg, sizeof(msg),
             "This write must carry X-Fencing-Token (or x-amz-meta-fencing-token): its key is "
             "fenced by the lock %s (bind.%s)",
             bound, zkp_bind_spec(bd));
    return zkp_respond_error(r, 428, "FencingTokenRequired", msg);
}

static enum MHD_Result lock_too_long(zkp_req_t *r, const zkp_bind_t *bd)
{
    char msg[MSG_MAX];
    snprintf(msg, sizeof(msg),
             "The lock bound to this key (bind.%s = %s) would be longer than 1024 bytes: use a "
             "shorter key",
             zkp_bind_spec(bd), zkp_bind_value(bd));
    return zkp_respond_error(r, 400, "KeyTooLongError", msg);
}

static int take_lock(zkp_op_t *op, const char *lock)
{
    char *copy = strdup(lock);
    if (copy == NULL)
        return -1;
    free(op->lock);
    op->lock = copy;
    op->fence = ZKP_FENCE_PRESENT;
    op->lock_bound = 1;
    op->lock_pending = 0;
    return 0;
}

/* The bucket's bindings leave no single lock for a request on the bucket
 * as a whole (a listing, DeleteObjects): a named lock must be one of them. */
static int check_bucket_lock(zkp_req_t *r, const char *named, enum MHD_Result *res)
{
    const zkp_binds_t *b = r->svc->binds;
    const char *bucket = r->op.bucket;
    if (zkp_binds_owner(b, named, bucket, NULL) != NULL)
        return 0;
    const zkp_bind_t *owner = zkp_binds_owner(b, named, NULL, NULL);
    if (owner != NULL) {
        *res = owned_elsewhere(r, named, owner, NULL);
        return -1;
    }
    char msg[MSG_MAX];
    snprintf(msg, sizeof(msg),
             "The lock %s fences no key of bucket %s: the proxy's configuration binds this "
             "bucket's keys to their locks (bind.%s...)",
             named, bucket, bucket);
    *res = mismatch(r, named, NULL, msg, NULL);
    return -1;
}

/* A request on the bucket as a whole. */
static int bind_bucket(zkp_req_t *r, const char *named, enum MHD_Result *res)
{
    zkp_op_t *op = &r->op;
    const zkp_binds_t *b = r->svc->binds;
    char bound[ZKP_LOCK_NAME_MAX + 1];
    const zkp_bind_t *bd;
    int rc = zkp_binds_lock_for(b, op->bucket, NULL, 0, bound, sizeof(bound), &bd);
    if (rc == 1 && op->kind != ZKP_OP_DELETE_OBJECTS) {
        if (named != NULL && strcmp(named, bound) != 0) {
            *res = named_other(r, named, bound, bd, NULL);
            return -1;
        }
        if (named == NULL && has_token(op) && take_lock(op, bound) != 0) {
            *res = zkp_respond_error(r, 503, "SlowDown", "Out of memory, please retry");
            return -1;
        }
        return 0;
    }
    /* A DeleteObjects' keys decide which lock may fence it (bound keys their
     * binding's, unbound keys any lock no binding owns): checked once the
     * body is in (zkp_binding_keys). A lock that only another bucket's
     * bindings give fences none of its keys either way: refused now, before
     * the gate looks at that lock's mark. */
    if (named != NULL && op->kind == ZKP_OP_DELETE_OBJECTS) {
        const zkp_bind_t *owner = zkp_binds_owner(b, named, NULL, NULL);
        if (owner != NULL && zkp_binds_owner(b, named, op->bucket, NULL) == NULL) {
            *res = owned_elsewhere(r, named, owner, NULL);
            return -1;
        }
        return 0;
    }
    if (named != NULL)
        return check_bucket_lock(r, named, res);
    if (!has_token(op))
        return 0;
    if (op->kind == ZKP_OP_DELETE_OBJECTS) {
        /* The keys decide, once the body is in (zkp_binding_keys). */
        op->fence = ZKP_FENCE_PRESENT;
        op->lock_pending = 1;
        return 0;
    }
    *res = zkp_respond_error(r, 400, "InvalidFencingLock",
                             "The keys of this bucket are bound to several locks: a fenced "
                             "listing names one of them in X-Fencing-Lock");
    return -1;
}

int zkp_binding_request(zkp_req_t *r, enum MHD_Result *res)
{
    zkp_op_t *op = &r->op;
    const zkp_binds_t *b = r->svc->binds;
    if (zkp_binds_count(b) == 0 || !(op->mutating || op->reading))
        return 0;
    const char *named = op->lock;
    if (op->key == NULL || op->kind == ZKP_OP_DELETE_OBJECTS) {
        if (zkp_binds_has_bucket(b, op->bucket))
            return bind_bucket(r, named, res);
    } else {
        char bound[ZKP_LOCK_NAME_MAX + 1];
        const zkp_bind_t *bd;
        int rc = zkp_binds_lock_for(b, op->bucket, op->key, op->key_len, bound, sizeof(bound), &bd);
        if (rc < 0) {
            *res = lock_too_long(r, bd);
            return -1;
        }
        if (rc == 1) {
            if (named != NULL && strcmp(named, bound) != 0) {
                *res = named_other(r, named, bound, bd, op->key);
                return -1;
            }
            if (named == NULL && has_token(op)) {
                if (take_lock(op, bound) != 0) {
                    *res = zkp_respond_error(r, 503, "SlowDown", "Out of memory, please retry");
                    return -1;
                }
            } else if (op->fence == ZKP_FENCE_ABSENT && op->mutating &&
                       zkp_config_fencing_required(r->svc->cfg, op->bucket)) {
                *res = token_required(r, bound, bd);
                return -1;
            }
            return 0;
        }
    }
    /* No binding governs the key: the lock may be any other than a bound one. */
    const zkp_bind_t *owner = named ? zkp_binds_owner(b, named, NULL, NULL) : NULL;
    if (owner != NULL) {
        *res = owned_elsewhere(r, named, owner, op->key);
        return -1;
    }
    return 0;
}

static enum MHD_Result different_locks(zkp_req_t *r, const char *k1, const char *l1, const char *k2,
                                       const char *l2)
{
    char msg[MSG_MAX];
    snprintf(msg, sizeof(msg),
             "The keys of this DeleteObjects are fenced by different locks ('%.200s' by %.300s, "
             "'%.200s' by %.300s): send one request per lock",
             k1, l1 ? l1 : "no lock", k2, l2 ? l2 : "no lock");
    return zkp_respond_error(r, 400, "InvalidRequest", msg);
}

int zkp_binding_keys(zkp_req_t *r, char *const *keys, const int *skip, size_t nkeys,
                     enum MHD_Result *res)
{
    zkp_op_t *op = &r->op;
    const zkp_binds_t *b = r->svc->binds;
    if (!zkp_binds_has_bucket(b, op->bucket))
        return 0;
    char first[ZKP_LOCK_NAME_MAX + 1], lock[ZKP_LOCK_NAME_MAX + 1];
    const char *first_key = NULL;
    int first_bound = 0;
    for (size_t i = 0; i < nkeys; i++) {
        if (skip[i])
            continue;
        const zkp_bind_t *bd;
        int rc =
            zkp_binds_lock_for(b, op->bucket, keys[i], strlen(keys[i]), lock, sizeof(lock), &bd);
        if (rc < 0) {
            *res = lock_too_long(r, bd);
            return -1;
        }
        if (first_key == NULL) {
            first_key = keys[i];
            first_bound = rc == 1;
            if (first_bound)
                memcpy(first, lock, strlen(lock) + 1);
            continue;
        }
        if ((rc == 1) != first_bound || (rc == 1 && strcmp(lock, first) != 0)) {
            *res = different_locks(r, first_key, first_bound ? first : NULL, keys[i],
                                   rc == 1 ? lock : NULL);
            return -1;
        }
    }
    if (first_key != NULL && first_bound) {
        if (op->lock != NULL && strcmp(op->lock, first) != 0) {
            char msg[MSG_MAX];
            snprintf(msg, sizeof(msg),
                     "The keys of this DeleteObjects are fenced by the lock %s (bound in the "
                     "proxy's configuration), not by %s",
                     first, op->lock);
            *res = mismatch(r, op->lock, first, msg, first_key);
            return -1;
        }
        if (op->lock == NULL && !has_token(op)) {
            /* No fencing sent: unfenced where the bucket's policy allows it
             * (as a DeleteObject of one of these keys would be), else 428.
             * Never the bound lock with a token nobody sent. */
            if (!zkp_config_fencing_required(r->svc->cfg, op->bucket))
                return 0;
            record(r, first, first_key, ZKP_VERDICT_REJECT_MISSING);
            char msg[MSG_MAX];
            snprintf(msg, sizeof(msg),
                     "This DeleteObjects must carry X-Fencing-Token: its keys are fenced by "
                     "the lock %s",
                     first);
            *res = zkp_respond_error(r, 428, "FencingTokenRequired", msg);
            return -1;
        }
        if (op->lock == NULL && take_lock(op, first) != 0) {
            *res = zkp_respond_error(r, 503, "SlowDown", "Out of memory, please retry");
            return -1;
        }
        return 0;
    }
    /* No key is bound (or none is left to delete): the named lock fences
     * them if no binding owns it, of this bucket or another. */
    if (op->lock != NULL) {
        const zkp_bind_t *owner = zkp_binds_owner(b, op->lock, NULL, NULL);
        if (owner != NULL) {
            *res = owned_elsewhere(r, op->lock, owner, first_key);
            return -1;
        }
        return 0;
    }
    if (op->lock_pending) {
        record(r, NULL, first_key, ZKP_VERDICT_REJECT_MISSING);
        *res = zkp_respond_error(r, 428, "FencingTokenRequired",
                                 "The keys of this DeleteObjects are bound to no lock: it must "
                                 "carry X-Fencing-Lock with its token");
        return -1;
    }
    return 0;
}
