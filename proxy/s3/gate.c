/* Fencing around a fenced request: the glue between an S3 request and the
 * fencing core (fence/fence.h). The order of a fenced write is
 *
 *   precheck (428/400 early, 412 early if already stale, before the body)
 *   -> body staged -> enter: zkp_fence_begin (alone in the lock's section)
 *   -> REJECT: 412, nothing visible | ACCEPT: zkp_fence_persist (durable)
 *   -> backend commit -> leave: zkp_fence_end
 *
 * so a write is visible only after its mark is durable, and two writers of
 * one lock commit in mark order. The early check is an optimisation only
 * (a token can become stale while the body streams): enter() decides.
 *
 * A fenced read (GetObject, HeadObject, ListObjects with both headers)
 * takes the same path with the backend's snapshot (the object opened, the
 * listing page built) in place of the commit: its token becomes the mark,
 * durably, before the snapshot is taken and before any byte is sent, so a
 * write with a lower token is either in the snapshot (it left the section
 * first) or refused (it enters after the mark moved). Fence-advance is the
 * same with nothing in between.
 *
 * Every answer to a fenced request (428, 412, 503, acceptance, and the 400
 * of a read or advance with half its headers) is counted in the metrics
 * and written to the audit log. zkp_gate_commit() is the order of a write
 * for a staged put (PutObject, CopyObject, a part, a completion). */
#include "s3/gate.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "http/respond.h"
#include "s3/errors.h"
#include "s3/precond.h"
#include "s3/service.h"

static enum MHD_Result stale(zkp_req_t *r, uint64_t mark)
{
    char tok[24], hw[24];
    snprintf(tok, sizeof(tok), "%" PRIu64, r->op.token);
    snprintf(hw, sizeof(hw), "%" PRIu64, mark);
    zkp_xml_extra_t extra[] = {{"Lock", r->op.lock}, {"Token", tok}, {"HighWaterMark", hw}};
    char msg[160];
    snprintf(msg, sizeof(msg),
             "The fencing token %s is lower than the lock's high-water mark %s: its holder no "
             "longer holds the lock",
             tok, hw);
    return zkp_respond_error_x(r, 412, "StaleFencingToken", msg, extra, 3);
}

/* The key of the audit line: NULL (null) for requests on no object
 * (listings, fence-advance). */
static const char *audit_key(zkp_req_t *r, const char *key)
{
    return key ? key : r->op.key;
}

/* The bucket of the audit line: null for fence-advance, which names none. */
static const char *audit_bucket(zkp_req_t *r)
{
    return r->op.bucket[0] != '\0' ? r->op.bucket : NULL;
}

/* Every answer to a fenced request is a decision: counted and audited
 * before the response is queued, refusals included. */
static void record(zkp_req_t *r, const char *key, int had_mark, uint64_t mark, zkp_verdict_t v)
{
    zkp_op_t *op = &r->op;
    zkp_metrics_verdict(&r->svc->metrics, op->kind, v);
    zkp_audit_log(r->svc->audit, op->lock, op->token, had_mark, mark, v, audit_bucket(r),
                  audit_key(r, key), zkp_op_name(op->kind));
}

static enum MHD_Result refuse_stale(zkp_req_t *r, const char *key, uint64_t mark)
{
    record(r, key, 1, mark, ZKP_VERDICT_REJECT_STALE);
    return stale(r, mark);
}

/* had_mark/mark: what the decision was made against, when it was made. */
static enum MHD_Result refuse_unavailable(zkp_req_t *r, const char *key, int had_mark,
                                          uint64_t mark)
{
    atomic_fetch_add(&r->svc->metrics.fence_unavailable, 1);
    record(r, key, had_mark, mark, ZKP_VERDICT_REJECT_UNAVAILABLE);
    return zkp_respond_error(r, 503, "ServiceUnavailable",
                             "The fencing mark store is unavailable; fenced requests are refused "
                             "until it recovers (reads without fencing headers still work)");
}

/* Counts and audits a refusal made before a token could be compared. */
static void record_missing(zkp_req_t *r)
{
    zkp_op_t *op = &r->op;
    zkp_metrics_verdict(&r->svc->metrics, op->kind, ZKP_VERDICT_REJECT_MISSING);
    /* The lock, if one was sent (request classification validated it). */
    zkp_audit_log_no_token(r->svc->audit, op->lock, ZKP_VERDICT_REJECT_MISSING, audit_bucket(r),
                           audit_key(r, NULL), zkp_op_name(op->kind));
}

static enum MHD_Result refuse_missing(zkp_req_t *r)
{
    record_missing(r);
    return zkp_respond_error(r, 428, "FencingTokenRequired",
                             "This write must carry X-Fencing-Lock and X-Fencing-Token (or "
                             "x-amz-meta-fencing-lock and x-amz-meta-fencing-token)");
}

/* A read or fence-advance with half of its fencing headers (or an advance
 * with none): 400 naming what is missing. A read with half of them must not
 * pass as an ordinary read: its sender believes it is fenced. */
static enum MHD_Result refuse_incomplete(zkp_req_t *r)
{
    record_missing(r);
    if (r->op.fence == ZKP_FENCE_ABSENT)
        return zkp_respond_error(r, 400, "FencingTokenRequired",
                                 "Fence-advance must carry X-Fencing-Lock and X-Fencing-Token");
    const char *rule = r->op.kind == ZKP_OP_ADMIN_FENCE_ADVANCE
                           ? "fence-advance carries both"
                           : "a fenced read carries both, an ordinary read neither";
    int has_lock = r->op.lock != NULL;
    char msg[160];
    snprintf(msg, sizeof(msg), "%s was sent without %s: %s",
             has_lock ? "X-Fencing-Lock" : "X-Fencing-Token",
             has_lock ? "X-Fencing-Token" : "X-Fencing-Lock", rule);
    return zkp_respond_error(r, 400, has_lock ? "InvalidFencingToken" : "InvalidFencingLock", msg);
}

int zkp_gate_precheck(zkp_req_t *r, enum MHD_Result *res)
{
    zkp_op_t *op = &r->op;
    int advance = op->kind == ZKP_OP_ADMIN_FENCE_ADVANCE;
    if (op->mutating) {
        int required = zkp_config_fencing_required(r->svc->cfg, op->bucket);
        if (op->fence == ZKP_FENCE_PARTIAL || (op->fence == ZKP_FENCE_ABSENT && required)) {
            *res = refuse_missing(r);
            return -1;
        }
    } else if (op->reading || advance) {
        /* The bucket policy (fencing required) is a rule for writes only:
         * a read without headers is an ordinary read. */
        if (op->fence == ZKP_FENCE_PARTIAL || (op->fence == ZKP_FENCE_ABSENT && advance)) {
            *res = refuse_incomplete(r);
            return -1;
        }
    }
    /* lock_pending: DeleteObjects bound by its keys, unknown before the
     * body; the early check is an optimisation only. */
    if (op->fence != ZKP_FENCE_PRESENT || op->lock_pending)
        return 0;
    uint64_t mark = 0;
    int rc = zkp_marks_get(r->svc->marks, op->lock, &mark);
    if (rc < 0) {
        *res = refuse_unavailable(r, NULL, 0, 0);
        return -1;
    }
    if (rc == 0 && r->op.token < mark) {
        *res = refuse_stale(r, NULL, mark);
        return -1;
    }
    /* Fail closed before reading a body that could not be accepted. */
    if (!zkp_marks_healthy(r->svc->marks)) {
        *res = refuse_unavailable(r, NULL, rc == 0, mark);
        return -1;
    }
    return 0;
}

/* verify = holder (zk/verify.h): a token the fence accepts (equal to the
 * mark or above it) must be the czxid of the lock's current holder's node;
 * the holder cache answers without a round trip while the holder holds.
 * verify = zxid: it must not be above the ensemble's last committed zxid
 * (403 FencingTokenNotIssued otherwise); the cached bound answers.
 * Asked inside the section, so the mark cannot move meanwhile: a raise is
 * alone there; requests of a token equal to the mark may be verified
 * together (fence/fence.h), none of them changes it. zkp_gate_early()
 * asks the cache the same way on an event loop, inside the section too.
 * Returns 0 if confirmed, or -1 with the section left and the refusal
 * counted, audited and queued: 403 when ZooKeeper says no, 503 with
 * Retry-After when it cannot answer. */
static int verify(zkp_req_t *r, zkp_gate_t *g, const char *key, enum MHD_Result *res)
{
    zkp_op_t *op = &r->op;
    zkp_zk_found_t f;
    zkp_zk_result_t zr = zkp_zk_check(r->svc->zk, op->lock, op->token, &f);
    if (zr == ZKP_ZK_CONFIRMED)
        return 0;
    int had_mark = g->had_mark;
    uint64_t mark = g->mark;
    zkp_gate_leave(g); /* nothing was persisted: the mark is untouched */
    char msg[512];
    if (zr == ZKP_ZK_UNAVAILABLE) {
        atomic_fetch_add(&r->svc->metrics.fence_unavailable, 1);
        record(r, key, had_mark, mark, ZKP_VERDICT_REJECT_UNAVAILABLE);
        snprintf(msg, sizeof(msg),
                 "The fencing token cannot be verified: %s. Tokens that would raise a mark are "
                 "refused until ZooKeeper answers",
                 f.why);
        *res = zkp_respond_error_retry(r, 503, "ServiceUnavailable", msg, 1);
        return -1;
    }
    record(r, key, had_mark, mark, ZKP_VERDICT_REJECT_UNVERIFIED);
    char tok[24], holder[24];
    snprintf(tok, sizeof(tok), "%" PRIu64, op->token);
    snprintf(holder, sizeof(holder), "%" PRIu64, f.holder);
    const char *code = "FencingTokenNotHolder";
    if (strcmp(zkp_zk_mode_name(r->svc->zk), "zxid") == 0) {
        code = "FencingTokenNotIssued";
        snprintf(msg, sizeof(msg),
                 "ZooKeeper has not issued the fencing token %s: it is above the ensemble's last "
                 "committed zxid (%" PRIu64 ", learnt just now)",
                 tok, f.bound);
    } else if (!f.has_holder)
        snprintf(msg, sizeof(msg),
                 "ZooKeeper does not confirm the fencing token %s: the lock %s has no holder", tok,
                 op->lock);
    else
        snprintf(msg, sizeof(msg),
                 "ZooKeeper does not confirm the fencing token %s: the holder of %s has token "
                 "%s%s",
                 tok, op->lock, holder,
                 f.waiter ? " (this token belongs to a waiter, which does not hold the lock yet)"
                          : "");
    zkp_xml_extra_t extra[] = {{"Lock", op->lock}, {"Token", tok}};
    *res = zkp_respond_error_x(r, 403, code, msg, extra, 2);
    return -1;
}

int zkp_gate_early(zkp_req_t *r)
{
    zkp_op_t *op = &r->op;
    if (op->fence != ZKP_FENCE_PRESENT)
        return 1;
    /* The decision's audit line is written on the loop too: only to a
     * file, never to a pipe or a journal's socket that may make it wait. */
    if (op->lock_pending || !zkp_audit_never_waits(r->svc->audit))
        return 0;
    zkp_fence_txn_t *txn = NULL;
    zkp_verdict_t v;
    uint64_t mark = 0;
    int had = 0;
    /* Any error (EAGAIN, or one the worker's enter will report) goes to
     * the worker, which decides again from the start. */
    if (zkp_fence_try_begin(r->svc->marks, op->lock, op->token, &txn, &v, &mark, &had) != 0)
        return 0;
    if (txn != NULL && r->svc->zk != NULL &&
        !zkp_zk_check_cached(r->svc->zk, op->lock, op->token)) {
        zkp_fence_end(txn); /* nothing decided yet: the worker asks ZooKeeper */
        return 0;
    }
    r->early = 1;
    r->early_txn = txn;
    r->early_verdict = (int)v;
    r->early_mark = mark;
    r->early_had_mark = had;
    return 1;
}

void zkp_gate_early_drop(zkp_req_t *r)
{
    if (r->early_txn != NULL)
        zkp_fence_end(r->early_txn);
    r->early_txn = NULL;
    r->early = 0;
}

/* The decision: the one zkp_gate_early() took (its verification included),
 * or a section entered now (waiting for it). *verified: 1 for the former. */
static int begin(zkp_req_t *r, zkp_gate_t *g, int *verified)
{
    zkp_op_t *op = &r->op;
    *verified = r->early;
    if (!r->early)
        return zkp_fence_begin(r->svc->marks, op->lock, op->token, &g->txn, &g->verdict, &g->mark,
                               &g->had_mark);
    g->txn = r->early_txn;
    g->verdict = (zkp_verdict_t)r->early_verdict;
    g->mark = r->early_mark;
    g->had_mark = r->early_had_mark;
    r->early = 0;
    r->early_txn = NULL;
    return 0;
}

/* record_accept: count and audit an acceptance here (zkp_gate_enter), or
 * leave it to the caller (zkp_gate_enter_decide). */
static int enter(zkp_req_t *r, zkp_gate_t *g, const char *key, int record_accept,
                 enum MHD_Result *res)
{
    zkp_op_t *op = &r->op;
    g->txn = NULL;
    if (op->fence != ZKP_FENCE_PRESENT)
        return 0; /* an optional bucket or an ordinary read: precheck allowed it */
    int verified;
    int rc = begin(r, g, &verified);
    if (rc < 0) {
        /* ESTORE comes with the decision's outputs set; other errors without. */
        int decided = rc == ZKP_FENCE_ESTORE;
        g->txn = NULL;
        *res = refuse_unavailable(r, key, decided && g->had_mark, decided ? g->mark : 0);
        return -1;
    }
    if (g->verdict == ZKP_VERDICT_REJECT_STALE) {
        /* fence_begin already left the section and set txn = NULL. */
        *res = refuse_stale(r, key, g->mark);
        return -1;
    }
    if (r->svc->zk != NULL && !verified && verify(r, g, key, res) != 0)
        return -1;
    rc = zkp_fence_persist(g->txn);
    if (rc == ZKP_FENCE_ESTALE) {
        /* The disk held a higher mark than memory did: stale after all. */
        g->verdict = ZKP_VERDICT_REJECT_STALE;
        g->mark = zkp_fence_txn_mark(g->txn);
        g->had_mark = 1;
        zkp_gate_leave(g);
        *res = refuse_stale(r, key, g->mark);
        return -1;
    }
    if (rc < 0) {
        zkp_gate_leave(g);
        *res = refuse_unavailable(r, key, g->had_mark, g->mark);
        return -1;
    }
    /* Counted and logged once the decision is durable: a 503 is not an
     * acceptance. DeleteObjects logs one line per key instead, each with
     * what happened to that key (zkp_gate_audit_as). */
    if (!record_accept)
        return 0;
    zkp_metrics_verdict(&r->svc->metrics, op->kind, g->verdict);
    if (op->kind != ZKP_OP_DELETE_OBJECTS)
        zkp_gate_audit(r, g, key);
    return 0;
}

int zkp_gate_enter(zkp_req_t *r, zkp_gate_t *g, const char *key, enum MHD_Result *res)
{
    return enter(r, g, key, 1, res);
}

int zkp_gate_enter_decide(zkp_req_t *r, zkp_gate_t *g, enum MHD_Result *res)
{
    return enter(r, g, NULL, 0, res);
}

void zkp_gate_record(zkp_req_t *r, const zkp_gate_t *g, const char *key, zkp_verdict_t v)
{
    if (r->op.fence != ZKP_FENCE_PRESENT)
        return;
    zkp_metrics_verdict(&r->svc->metrics, r->op.kind, v);
    zkp_gate_audit_as(r, g, key, v);
}

void zkp_gate_audit_as(zkp_req_t *r, const zkp_gate_t *g, const char *key, zkp_verdict_t v)
{
    zkp_op_t *op = &r->op;
    if (op->fence != ZKP_FENCE_PRESENT)
        return;
    zkp_audit_log(r->svc->audit, op->lock, op->token, g->had_mark, g->mark, v, audit_bucket(r),
                  audit_key(r, key), zkp_op_name(op->kind));
}

void zkp_gate_audit(zkp_req_t *r, const zkp_gate_t *g, const char *key)
{
    zkp_gate_audit_as(r, g, key, g->verdict);
}

void zkp_gate_leave(zkp_gate_t *g)
{
    if (g->txn != NULL)
        zkp_fence_end(g->txn);
    g->txn = NULL;
}

/* The header a write's refused precondition names, when only one was sent. */
static const char *write_condition(const zkp_cond_t *c)
{
    if (c == NULL || (c->if_match != NULL && c->if_none_match != NULL))
        return NULL;
    return c->if_match != NULL ? "If-Match" : "If-None-Match";
}

int zkp_gate_commit(zkp_req_t *r, zkp_put_t *p, const char *etag, const zkp_cond_t *cond,
                    time_t *mtime, enum MHD_Result *res)
{
    /* The object's own fsync happens here, before the lock's section: many
     * writers of one lock sync in parallel, and the section holds only the
     * mark's commit and the publication. */
    const zkp_backend_ops_t *ops = r->svc->be->ops;
    int rc = ops->put_seal ? ops->put_seal(p, etag) : ZKP_BE_OK;
    if (rc != ZKP_BE_OK) {
        ops->put_abort(p);
        *res = zkp_respond_be_error(r, rc);
        return -1;
    }
    zkp_gate_t g;
    if (zkp_gate_enter_decide(r, &g, res) != 0) {
        ops->put_abort(p);
        return -1;
    }
    rc = ops->put_commit(p, etag, cond, mtime);
    /* The decision's outcome, audited in the section: a write refused by
     * its precondition was not applied (the mark stays raised: the token
     * was good). A failed commit is audited as the decision it was. */
    int refused = rc == ZKP_BE_PRECONDITION ||
                  (rc == ZKP_BE_NO_KEY && cond != NULL && cond->if_match != NULL);
    zkp_gate_record(r, &g, NULL, refused ? ZKP_VERDICT_REJECT_PRECONDITION : g.verdict);
    zkp_gate_leave(&g);
    if (rc == ZKP_BE_PRECONDITION) {
        *res = zkp_precond_failed(r, write_condition(cond));
        return -1;
    }
    if (rc != ZKP_BE_OK) {
        *res = zkp_respond_be_error(r, rc);
        return -1;
    }
    return 0;
}
