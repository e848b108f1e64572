/* Fence-advance: the mark raised by itself, through the same gate as a
 * fenced write (s3/gate.c), with nothing committed inside the section.
 * Who may call it is decided before this file runs, by the rights table
 * (auth/rights.h, ZKP_RULE_FENCE), so that a refused caller learns nothing
 * of the mark. */
#include "s3/ops_advance.h"

#include <inttypes.h>

#include "http/respond.h"
#include "s3/gate.h"
#include "util/buf.h"

enum MHD_Result zkp_op_fence_advance(zkp_req_t *r)
{
    zkp_gate_t g;
    enum MHD_Result res;
    if (zkp_gate_enter(r, &g, NULL, &res) != 0)
        return res;
    zkp_gate_leave(&g);
    /* Accepted: the token is now the durable mark (it was equal or higher). */
    zkp_buf_t b;
    zkp_buf_init(&b);
    zkp_buf_puts(&b, "{\"lock\":");
    zkp_buf_json_string(&b, r->op.lock);
    zkp_buf_printf(&b, ",\"token\":\"%" PRIu64 "\",\"previous_mark\":", r->op.token);
    if (g.had_mark)
        zkp_buf_printf(&b, "\"%" PRIu64 "\"", g.mark);
    else
        zkp_buf_puts(&b, "null");
    zkp_buf_printf(&b, ",\"mark\":\"%" PRIu64 "\"}\n", r->op.token);
    size_t len;
    char *body = zkp_buf_steal(&b, &len);
    return zkp_respond_body(r, 200, "application/json", body, len);
}
