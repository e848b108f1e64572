/* Admin endpoints under /_zkfence/ (a path no bucket can take):
 *   GET  health   200 {"status":"ok",...} or 503 when the mark store is down
 *   GET  metrics  Prometheus text
 *   GET  marks    read-only JSON list of lock -> high-water mark
 *   POST debug/marks-fail?on=1|0  test-only, when debug_fault_endpoint is on
 * (POST fence-advance raises a mark: s3/ops_advance.c; POST marks/repair
 * lowers or clears one: s3/ops_repair.c.) */
#include "s3/ops_admin.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "http/respond.h"
#include "s3/service.h"
#include "util/buf.h"

static enum MHD_Result respond_buf(zkp_req_t *r, int status, const char *type, zkp_buf_t *b)
{
    size_t len;
    char *body = zkp_buf_steal(b, &len);
    return zkp_respond_body(r, status, type, body, len);
}

static enum MHD_Result health(zkp_req_t *r)
{
    int ok = zkp_marks_healthy(r->svc->marks);
    const zkp_zk_t *zk = r->svc->zk;
    zkp_buf_t b;
    zkp_buf_init(&b);
    /* "auth":"off" tells anyone who looks that this proxy checks no
     * signature (a local experiment, never a deployment). */
    const zkp_config_t *c = r->svc->cfg;
    zkp_buf_printf(&b,
                   "{\"status\":\"%s\",\"mark_store\":\"%s\",\"marks\":%zu,"
                   "\"inert_marks\":%zu,\"verify\":\"%s\",\"zookeeper\":\"%s\","
                   "\"backend\":\"%s\",\"auth\":\"%s\",\"tls\":\"%s\",\"version\":\"%s\"}\n",
                   ok ? "ok" : "degraded", ok ? "ok" : "failed", zkp_marks_count(r->svc->marks),
                   zkp_marks_inert(r->svc->marks), zk ? zkp_zk_mode_name(zk) : "off",
                   zk ? zkp_zk_state(zk) : "none", r->svc->be->ops->name, c->auth ? "on" : "off",
                   c->tls_listen_host[0] ? "on" : "off", ZKP_VERSION);
    return respond_buf(r, ok ? 200 : 503, "application/json", &b);
}

static enum MHD_Result metrics(zkp_req_t *r)
{
    zkp_buf_t b;
    zkp_buf_init(&b);
    zkp_metrics_render(&r->svc->metrics, &b, zkp_marks_count(r->svc->marks),
                       zkp_marks_healthy(r->svc->marks));
    /* Group commit at work: updates grow faster than commits under load. */
    zkp_marks_stats_t st;
    zkp_marks_stats(r->svc->marks, &st);
    zkp_buf_printf(&b,
                   "# HELP zkfence_mark_updates_total Mark raises made durable or attempted.\n"
                   "# TYPE zkfence_mark_updates_total counter\nzkfence_mark_updates_total %" PRIu64
                   "\n# HELP zkfence_mark_commits_total Mark store transactions (fsyncs).\n"
                   "# TYPE zkfence_mark_commits_total counter\nzkfence_mark_commits_total %" PRIu64
                   "\n# HELP zkfence_mark_largest_batch Most updates in one transaction.\n"
                   "# TYPE zkfence_mark_largest_batch gauge\nzkfence_mark_largest_batch %" PRIu64
                   "\n# HELP zkfence_marks_inert Marks under names that are not canonical "
                   "(loaded from an older store, never matched).\n"
                   "# TYPE zkfence_marks_inert gauge\nzkfence_marks_inert %zu\n",
                   st.updates, st.commits, st.largest_batch, zkp_marks_inert(r->svc->marks));
    if (r->svc->zk != NULL) {
        /* The holder cache at work: checks minus hits are round trips. */
        uint64_t lookups, hits;
        size_t cached;
        zkp_zk_stats(r->svc->zk, &lookups, &hits, &cached);
        zkp_buf_printf(&b,
                       "# HELP zkfence_token_checks_total Tokens checked against ZooKeeper's "
                       "holder.\n# TYPE zkfence_token_checks_total counter\n"
                       "zkfence_token_checks_total %" PRIu64 "\n"
                       "# HELP zkfence_token_check_cache_hits_total Checks answered by the "
                       "holder cache, without a round trip.\n"
                       "# TYPE zkfence_token_check_cache_hits_total counter\n"
                       "zkfence_token_check_cache_hits_total %" PRIu64 "\n"
                       "# HELP zkfence_holder_cache_locks Locks whose holder is cached (watched).\n"
                       "# TYPE zkfence_holder_cache_locks gauge\nzkfence_holder_cache_locks %zu\n",
                       lookups, hits, cached);
    }
    return respond_buf(r, 200, "text/plain; version=0.0.4", &b);
}

typedef struct marks_acc {
    zkp_buf_t *b;
    int n;
} marks_acc_t;

static int mark_cb(const char *lock, uint64_t mark, void *arg)
{
    marks_acc_t *a = arg;
    zkp_buf_puts(a->b, a->n++ ? ",\n  {\"lock\":" : "\n  {\"lock\":");
    zkp_buf_json_string(a->b, lock);
    /* Tokens are u64: as strings, so that JSON readers using doubles do not
     * round them. */
    zkp_buf_printf(a->b, ",\"mark\":\"%" PRIu64 "\"}", mark);
    return 0;
}

static enum MHD_Result marks(zkp_req_t *r)
{
    zkp_buf_t b;
    zkp_buf_init(&b);
    marks_acc_t a = {&b, 0};
    zkp_buf_puts(&b, "{\"marks\":[");
    if (zkp_marks_foreach(r->svc->marks, mark_cb, &a) < 0) {
        zkp_buf_free(&b);
        return zkp_respond_error(r, 503, "ServiceUnavailable", "The mark store is unavailable");
    }
    zkp_buf_puts(&b, a.n ? "\n]}\n" : "]}\n");
    return respond_buf(r, 200, "application/json", &b);
}

enum MHD_Result zkp_op_admin(zkp_req_t *r)
{
    switch (r->op.kind) {
    case ZKP_OP_ADMIN_HEALTH:
        return health(r);
    case ZKP_OP_ADMIN_METRICS:
        return metrics(r);
    case ZKP_OP_ADMIN_MARKS:
        return marks(r);
    case ZKP_OP_ADMIN_FAULT:
        if (!r->svc->cfg->debug_fault_endpoint)
            return zkp_respond_error(r, 404, "NoSuchAdminEndpoint",
                                     "The fault endpoint is off (--debug-fault-endpoint)");
        zkp_marks_inject_failure(r->svc->marks, r->op.fault_on);
        return zkp_respond_empty(r, 204);
    default:
        return zkp_respond_error(r, 404, "NoSuchAdminEndpoint", "Unknown admin endpoint");
    }
}
