/* Fencing around a mutation, a fenced read or a fence-advance (s3/gate.c):
 * the glue between an S3 request and the fencing core (fence/fence.h). The
 * gate decides and records (metrics, audit log) every answer to a fenced
 * request; on a refusal it also queues the error response, and the
 * operation returns at once. */
#ifndef ZKP_GATE_H
#define ZKP_GATE_H

#include <stdint.h>
#include <time.h>

#include "backend/cond.h"
#include "fence/fence.h"
#include "http/reqctx.h"

typedef struct zkp_gate {
    zkp_fence_txn_t *txn; /* non-NULL while inside the lock's section */
    zkp_verdict_t verdict;
    uint64_t mark;
    int had_mark;
} zkp_gate_t;

/* At request start: 428 if a write's fencing is required and missing, 400
 * if a read carries only one of the two headers (or a fence-advance not
 * both), 412 early if the token is already stale, 503 if the store cannot
 * answer (each one audited). Returns 0 to proceed, or -1 with the MHD
 * result of the queued error response in *res. */
int zkp_gate_precheck(zkp_req_t *r, enum MHD_Result *res);
/* Enters the lock's section and decides; on acceptance the mark is durably
 * raised before returning 0, and the caller, still inside the section,
 * commits its write or takes its read's snapshot, then calls
 * zkp_gate_leave(); and the acceptance is audited under `key`
 * (NULL: the request's key), except for DeleteObjects, whose caller audits
 * each key with zkp_gate_audit()/zkp_gate_audit_as(). On rejection or
 * failure the refusal is audited, the error response queued (412 or 503),
 * the section left, and -1 returned with *res set. A request without
 * fencing headers (optional bucket, ordinary read) passes with no
 * section. */
int zkp_gate_enter(zkp_req_t *r, zkp_gate_t *g, const char *key, enum MHD_Result *res);
/* Like zkp_gate_enter(), but an acceptance is neither counted nor audited:
 * the caller, still inside the section, records what became of it with
 * zkp_gate_record() once its commit has answered (a write that its own
 * precondition refused was not applied). Refusals are recorded here. */
int zkp_gate_enter_decide(zkp_req_t *r, zkp_gate_t *g, enum MHD_Result *res);
/* Counts and audits verdict v (the gate's, or what it became) for `key`
 * (NULL: the request's). No-op for a request without fencing headers. */
void zkp_gate_record(zkp_req_t *r, const zkp_gate_t *g, const char *key, zkp_verdict_t v);
/* Logs the gate's verdict for one key under the same decision. */
void zkp_gate_audit(zkp_req_t *r, const zkp_gate_t *g, const char *key);
/* Logs verdict v for one key (DeleteObjects: ZKP_VERDICT_REJECT_INVALID for a
 * key that was refused although the token was accepted). */
void zkp_gate_audit_as(zkp_req_t *r, const zkp_gate_t *g, const char *key, zkp_verdict_t v);
/* On an event loop, for a request whose end never waits otherwise (the
 * caller checked its backend): takes the fencing decision now if that
 * needs no wait either (fence/fence.h, zkp_fence_try_begin): a token equal
 * to the mark with the section open to it (entered, together with the
 * other requests of that token), or a stale one; with verification on, a
 * token the verifier's cache confirms; and an audit log that is a file
 * (zkp_audit_never_waits). Returns 1: the request may
 * end here, and its zkp_gate_enter*() uses that decision (nothing is
 * recorded before then); or 0, with nothing held: it ends on a worker,
 * where the gate decides as usual. A request without fencing headers
 * returns 1 (it has no section). */
int zkp_gate_early(zkp_req_t *r);
/* Leaves the section that zkp_gate_early() entered, when the request ended
 * without an enter to use it (a body that failed its checks). No-op
 * otherwise. */
void zkp_gate_early_drop(zkp_req_t *r);

/* Leaves the lock's section, if inside; a second call is a no-op. */
void zkp_gate_leave(zkp_gate_t *g);

/* The fenced commit of a staged write p (consumed whatever happens): the
 * backend's seal (before the section, so that writers of one lock sync in
 * parallel), then zkp_gate_enter_decide(), the backend's commit inside the
 * section with the write's own precondition `cond` (NULL: none; If-Match,
 * If-None-Match: checked by the backend in the same atomic step as the
 * publication), the verdict recorded (a write its precondition refused was
 * not applied), and leave. On success *mtime (may be NULL) gets the
 * commit's time. Returns 0, or -1 with the refusal or the backend's error
 * queued in *res (nothing committed). */
int zkp_gate_commit(zkp_req_t *r, zkp_put_t *p, const char *etag, const zkp_cond_t *cond,
                    time_t *mtime, enum MHD_Result *res);

#endif
