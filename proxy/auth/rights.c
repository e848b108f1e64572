/* The table of rights (see auth/rights.h). */
#include "auth/rights.h"

#include <stddef.h>

#define B(r)                                                                                       \
    {                                                                                              \
        ZKP_RULE_BUCKET, ZKP_RIGHT_##r, ZKP_RIGHT_NONE                                             \
    }

static const zkp_rule_t rules[ZKP_OP_COUNT_] = {
    [ZKP_OP_LIST_BUCKETS] = {ZKP_RULE_SIGNED, ZKP_RIGHT_NONE, ZKP_RIGHT_NONE},
    [ZKP_OP_CREATE_BUCKET] = B(ADMIN),
    [ZKP_OP_HEAD_BUCKET] = B(READ),
    [ZKP_OP_DELETE_BUCKET] = B(ADMIN),
    [ZKP_OP_GET_BUCKET_LOCATION] = B(READ),
    [ZKP_OP_LIST_OBJECTS_V1] = B(READ),
    [ZKP_OP_LIST_OBJECTS_V2] = B(READ),
    [ZKP_OP_PUT_OBJECT] = B(WRITE),
    [ZKP_OP_COPY_OBJECT] = {ZKP_RULE_BUCKET, ZKP_RIGHT_WRITE, ZKP_RIGHT_READ},
    [ZKP_OP_GET_OBJECT] = B(READ),
    [ZKP_OP_HEAD_OBJECT] = B(READ),
    [ZKP_OP_DELETE_OBJECT] = B(WRITE),
    [ZKP_OP_DELETE_OBJECTS] = B(WRITE),
    [ZKP_OP_CREATE_MULTIPART_UPLOAD] = B(WRITE),
    [ZKP_OP_UPLOAD_PART] = B(WRITE),
    [ZKP_OP_UPLOAD_PART_COPY] = {ZKP_RULE_BUCKET, ZKP_RIGHT_WRITE, ZKP_RIGHT_READ},
    [ZKP_OP_COMPLETE_MULTIPART_UPLOAD] = B(WRITE),
    [ZKP_OP_ABORT_MULTIPART_UPLOAD] = B(WRITE),
    [ZKP_OP_LIST_PARTS] = B(READ),
    [ZKP_OP_LIST_MULTIPART_UPLOADS] = B(READ),
    [ZKP_OP_GET_BUCKET_VERSIONING] = B(READ),
    [ZKP_OP_PUT_BUCKET_VERSIONING] = B(ADMIN),
    [ZKP_OP_LIST_OBJECT_VERSIONS] = B(READ),
    [ZKP_OP_ADMIN_HEALTH] = {ZKP_RULE_ANYONE, ZKP_RIGHT_NONE, ZKP_RIGHT_NONE},
    [ZKP_OP_ADMIN_METRICS] = {ZKP_RULE_LOCAL, ZKP_RIGHT_ADMIN, ZKP_RIGHT_NONE},
    [ZKP_OP_ADMIN_MARKS] = {ZKP_RULE_GLOBAL, ZKP_RIGHT_ADMIN, ZKP_RIGHT_NONE},
    [ZKP_OP_ADMIN_FAULT] = {ZKP_RULE_GLOBAL, ZKP_RIGHT_ADMIN, ZKP_RIGHT_NONE},
    [ZKP_OP_ADMIN_FENCE_ADVANCE] = {ZKP_RULE_FENCE, ZKP_RIGHT_WRITE, ZKP_RIGHT_NONE},
    [ZKP_OP_ADMIN_REPAIR] = {ZKP_RULE_GLOBAL, ZKP_RIGHT_ADMIN, ZKP_RIGHT_NONE},
};

zkp_rule_t zkp_rule_of(zkp_op_kind_t kind)
{
    zkp_rule_t none = {ZKP_RULE_UNSET, ZKP_RIGHT_NONE, ZKP_RIGHT_NONE};
    return (unsigned)kind < ZKP_OP_COUNT_ ? rules[kind] : none;
}

static const char *need_sentence(zkp_rule_kind_t kind, zkp_right_t r, int source)
{
    static const char *const bucket[] = {"", "read rights on the bucket",
                                         "write rights on the bucket",
                                         "admin rights on the bucket"};
    static const char *const global[] = {"", "read rights on every bucket ('*')",
                                         "write rights on every bucket ('*')",
                                         "admin rights on every bucket ('*')"};
    if (source)
        return "read rights on the copy source's bucket";
    if (kind == ZKP_RULE_FENCE)
        return "admin rights on every bucket ('*'), or write rights on a bucket";
    if (kind == ZKP_RULE_UNSET)
        return "an operation nobody may run (no rule for it)";
    return (unsigned)r < 4 ? (kind == ZKP_RULE_BUCKET ? bucket[r] : global[r]) : "";
}

int zkp_rights_allow(const zkp_cred_key_t *k, const zkp_op_t *op, int peer_loopback,
                     const char **needed)
{
    zkp_rule_t rule = zkp_rule_of(op->kind);
    /* A fenced read raises the lock's mark when its token is above it, and a
     * raised mark refuses the holder's writes: as much power over the lock
     * as a write has. It needs a write's rights on the bucket; a key that
     * may only read reads unfenced (or the raise would be a way for it to
     * lock every holder out). Any fencing header counts: a token alone
     * takes a bound key's lock later (s3/binding.c), after this check. */
    int fenced_read = op->reading && op->fence != ZKP_FENCE_ABSENT &&
                      rule.kind == ZKP_RULE_BUCKET && rule.right < ZKP_RIGHT_WRITE;
    if (fenced_read)
        rule.right = ZKP_RIGHT_WRITE;
    int ok = zkp_rights_allow_rule(rule, k, op, peer_loopback, needed);
    if (!ok && fenced_read)
        *needed = "write rights on the bucket (a fenced read may raise the lock's mark)";
    return ok;
}

int zkp_rights_allow_rule(zkp_rule_t rule, const zkp_cred_key_t *k, const zkp_op_t *op,
                          int peer_loopback, const char **needed)
{
    *needed = need_sentence(rule.kind, rule.right, 0);
    switch (rule.kind) {
    case ZKP_RULE_ANYONE:
        return 1;
    case ZKP_RULE_SIGNED:
        *needed = "a known access key";
        return k != NULL;
    case ZKP_RULE_BUCKET:
        if (zkp_cred_key_right(k, op->bucket) < rule.right)
            return 0;
        if (rule.src_right != ZKP_RIGHT_NONE && op->src_bucket[0] != '\0' &&
            zkp_cred_key_right(k, op->src_bucket) < rule.src_right) {
            *needed = need_sentence(rule.kind, rule.src_right, 1);
            return 0;
        }
        return 1;
    case ZKP_RULE_LOCAL:
        if (peer_loopback)
            return 1;
        return zkp_cred_key_right(k, NULL) >= rule.right;
    case ZKP_RULE_GLOBAL:
        return zkp_cred_key_right(k, NULL) >= rule.right;
    case ZKP_RULE_FENCE:
        return zkp_cred_key_right(k, NULL) >= ZKP_RIGHT_ADMIN ||
               zkp_cred_key_max_right(k) >= ZKP_RIGHT_WRITE;
    default:
        return 0;
    }
}
