/* Mark repair: POST /_zkfence/marks/repair?lock=L&mark=N|clear&reason=TEXT
 *
 * Marks never go down, except here: an operator undoes a mistake (a forged
 * token that got in while verification was off, a lock whose holders
 * restarted their numbering after ZooKeeper's data was lost). The store
 * performs it inside the lock's section, durably (fence.h,
 * zkp_marks_repair), so it is ordered with the lock's writes; the audit
 * line, with the old and new mark, the reason and the admin's access key,
 * is written in the section too, so the audit log's order is that order.
 * Who may: admin rights on every bucket ('*'), decided by the rights table
 * (auth/rights.c) before the operation starts, so a refused caller learns
 * nothing of the mark. */
#include "s3/ops_repair.h"

#include <inttypes.h>
#include <stdio.h>

#include "http/respond.h"
#include "s3/service.h"
#include "util/buf.h"

/* Inside the section, once the outcome is known: the audit line. */
static void audit_repair(void *arg, int rc, int had_mark, uint64_t old_mark)
{
    zkp_req_t *r = arg;
    if (rc != 0)
        return; /* nothing changed: the request's answer says why */
    zkp_audit_log_repair(r->svc->audit, r->op.lock, had_mark, old_mark, r->op.repair_clear,
                         r->op.repair_mark, r->op.reason,
                         r->auth.access_key[0] != '\0' ? r->auth.access_key : NULL);
}

enum MHD_Result zkp_op_repair(zkp_req_t *r)
{
    zkp_op_t *op = &r->op;
    int had = 0;
    uint64_t old = 0;
    int rc = zkp_marks_repair(r->svc->marks, op->lock, op->repair_clear, op->repair_mark,
                              audit_repair, r, &had, &old);
    if (rc == ZKP_FENCE_ERANGE) {
        char msg[1400];
        if (had)
            snprintf(msg, sizeof(msg),
                     "The mark of %s is %" PRIu64 ": a repair lowers or clears a mark, it never "
                     "raises one (fence-advance does)",
                     op->lock, old);
        else
            snprintf(msg, sizeof(msg), "%s has no mark to lower", op->lock);
        return zkp_respond_error(r, 400, "InvalidRequest", msg);
    }
    if (rc == ZKP_FENCE_ESTORE)
        return zkp_respond_error(r, 503, "ServiceUnavailable",
                                 "The fencing mark store is unavailable: the mark is unchanged "
                                 "(a commit that failed may still have reached the disk; repeat "
                                 "the repair)");
    if (rc != 0)
        return zkp_respond_error(r, 500, "InternalError", zkp_fence_strerror(rc));
    zkp_buf_t b;
    zkp_buf_init(&b);
    zkp_buf_puts(&b, "{\"lock\":");
    zkp_buf_json_string(&b, op->lock);
    zkp_buf_puts(&b, ",\"previous_mark\":");
    if (had)
        zkp_buf_printf(&b, "\"%" PRIu64 "\"", old);
    else
        zkp_buf_puts(&b, "null");
    zkp_buf_puts(&b, ",\"mark\":");
    if (op->repair_clear || !had)
        zkp_buf_puts(&b, "null");
    else
        zkp_buf_printf(&b, "\"%" PRIu64 "\"", op->repair_mark);
    zkp_buf_puts(&b, ",\"reason\":");
    zkp_buf_json_string(&b, op->reason);
    zkp_buf_puts(&b, "}\n");
    size_t len;
    char *body = zkp_buf_steal(&b, &len);
    return zkp_respond_body(r, 200, "application/json", body, len);
}
