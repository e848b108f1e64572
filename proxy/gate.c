/* Fencing around a mutation: the glue between an S3 request and the
 * fencing core (fence/fence.h). The order of a fenced write is
 *
 *   precheck (428/400 early, 412 early if already stale, before the body)
 *   -> body staged -> enter: zkp_fence_begin (alone in the lock's section)
 *   -> REJECT: 412, nothing visible | ACCEPT: zkp_fence_persist (durable)
 *   -> backend commit -> leave: zkp_fence_end
 *
 * so a write is visible only after its mark is durable, and two writers of
 * one lock commit in mark order. The early check is an optimisation only
 * (a token can become stale while the body streams): enter() decides. */
#include <inttypes.h>
#include <stdio.h>

#include "s3.h"

static enum MHD_Result stale(zkp_req_t *r, uint64_t mark)
{
    char tok[24], hw[24];
    snprintf(tok, sizeof(tok), "%" PRIu64, r->op.token);
    snprintf(hw, sizeof(hw), "%" PRIu64, mark);
    zkp_xml_extra_t extra[] = {{"Lock", r->op.lock}, {"Token", tok}, {"HighWaterMark", hw}};
    char msg[160];
    snprintf(msg, sizeof(msg),
             "The fencing token %s is lower than the lock's high-water mark %s: the writer no "
             "longer holds the lock",
             tok, hw);
    return zkp_respond_error_x(r, 412, "StaleFencingToken", msg, extra, 3);
}

static enum MHD_Result unavailable(zkp_req_t *r)
{
    atomic_fetch_add(&r->srv->metrics.fence_unavailable, 1);
    return zkp_respond_error(r, 503, "ServiceUnavailable",
                             "The fencing mark store is unavailable; writes are refused until it "
                             "recovers (reads still work)");
}

static const char *audit_key(zkp_req_t *r, const char *key)
{
    return key ? key : (r->op.key ? r->op.key : "-");
}

int zkp_gate_precheck(zkp_req_t *r, enum MHD_Result *res)
{
    zkp_op_t *op = &r->op;
    if (!op->mutating)
        return 0;
    int required = zkp_config_fencing_required(&r->srv->cfg, op->bucket);
    if (op->fence == ZKP_FENCE_PARTIAL || (op->fence == ZKP_FENCE_ABSENT && required)) {
        *res = zkp_respond_error(r, 428, "FencingTokenRequired",
                                 "This write must carry X-Fencing-Lock and X-Fencing-Token (or "
                                 "x-amz-meta-fencing-lock and x-amz-meta-fencing-token)");
        return -1;
    }
    if (op->fence != ZKP_FENCE_PRESENT)
        return 0;
    uint64_t mark;
    int rc = zkp_marks_get(r->srv->marks, op->lock, &mark);
    if (rc < 0) {
        *res = unavailable(r);
        return -1;
    }
    if (rc == 0 && r->op.token < mark) {
        zkp_audit_log(r->srv->audit, op->lock, op->token, 1, mark, ZKP_VERDICT_REJECT_STALE,
                      op->bucket, audit_key(r, NULL), zkp_op_name(op->kind));
        zkp_metrics_verdict(&r->srv->metrics, op->kind, ZKP_VERDICT_REJECT_STALE);
        *res = stale(r, mark);
        return -1;
    }
    /* Fail closed before reading a body that could not be accepted. */
    if (!zkp_marks_healthy(r->srv->marks)) {
        *res = unavailable(r);
        return -1;
    }
    return 0;
}

int zkp_gate_enter(zkp_req_t *r, zkp_gate_t *g, const char *key, enum MHD_Result *res)
{
    zkp_op_t *op = &r->op;
    g->txn = NULL;
    if (op->fence != ZKP_FENCE_PRESENT)
        return 0; /* an optional bucket, no headers: precheck allowed it */
    int rc = zkp_fence_begin(r->srv->marks, op->lock, op->token, &g->txn, &g->verdict, &g->mark,
                             &g->had_mark);
    if (rc < 0) {
        g->txn = NULL;
        *res = unavailable(r);
        return -1;
    }
    zkp_metrics_verdict(&r->srv->metrics, op->kind, g->verdict);
    if (g->verdict == ZKP_VERDICT_REJECT_STALE) {
        /* fence_begin already left the section and set txn = NULL. */
        zkp_audit_log(r->srv->audit, op->lock, op->token, g->had_mark, g->mark, g->verdict,
                      op->bucket, audit_key(r, key), zkp_op_name(op->kind));
        *res = stale(r, g->mark);
        return -1;
    }
    if (zkp_fence_persist(g->txn) < 0) {
        zkp_gate_leave(g);
        *res = unavailable(r);
        return -1;
    }
    /* Logged once the decision is durable: a 503 is not an acceptance. */
    zkp_gate_audit(r, g, key);
    return 0;
}

void zkp_gate_audit(zkp_req_t *r, const zkp_gate_t *g, const char *key)
{
    zkp_op_t *op = &r->op;
    if (op->fence != ZKP_FENCE_PRESENT)
        return;
    zkp_audit_log(r->srv->audit, op->lock, op->token, g->had_mark, g->mark, g->verdict, op->bucket,
                  audit_key(r, key), zkp_op_name(op->kind));
}

void zkp_gate_leave(zkp_gate_t *g)
{
    if (g->txn != NULL)
        zkp_fence_end(g->txn);
    g->txn = NULL;
}
