#include "s3/metrics.h"

#include <string.h>

/* Upper bounds in seconds; chosen around an fsync (0.1 to 10 ms) and a
 * large transfer (seconds). */
static const double bounds[ZKP_LATENCY_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                   0.1,    0.25,  0.5,    1,     2.5,  5,     10};

void zkp_metrics_init(zkp_metrics_t *m)
{
    memset(m, 0, sizeof(*m)); /* all-zero is a valid state for these atomics */
}

void zkp_metrics_request(zkp_metrics_t *m, zkp_op_kind_t op, int status, uint64_t micros)
{
    if ((unsigned)op >= ZKP_OP_COUNT_)
        op = ZKP_OP_NONE;
    if (status < 0 || status >= ZKP_STATUS_MAX)
        status = 0;
    atomic_fetch_add_explicit(&m->requests[op][status], 1, memory_order_relaxed);
    size_t i = 0;
    while (i < ZKP_LATENCY_BUCKETS && (double)micros / 1e6 > bounds[i])
        i++;
    atomic_fetch_add_explicit(&m->latency[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->latency_sum_us, micros, memory_order_relaxed);
}

void zkp_metrics_verdict(zkp_metrics_t *m, zkp_op_kind_t op, zkp_verdict_t v)
{
    if ((unsigned)op < ZKP_OP_COUNT_ && (unsigned)v < ZKP_VERDICT_COUNT_)
        atomic_fetch_add_explicit(&m->verdicts[op][v], 1, memory_order_relaxed);
}

static unsigned long long load(atomic_uint_least64_t *a)
{
    return (unsigned long long)atomic_load_explicit(a, memory_order_relaxed);
}

static void render_requests(zkp_metrics_t *m, zkp_buf_t *b)
{
    zkp_buf_puts(b, "# HELP zkfence_requests_total Requests by S3 operation and HTTP status.\n"
                    "# TYPE zkfence_requests_total counter\n");
    for (int op = 0; op < ZKP_OP_COUNT_; op++)
        for (int st = 0; st < ZKP_STATUS_MAX; st++) {
            unsigned long long v = load(&m->requests[op][st]);
            if (v > 0)
                zkp_buf_printf(b, "zkfence_requests_total{op=\"%s\",status=\"%d\"} %llu\n",
                               zkp_op_name((zkp_op_kind_t)op), st, v);
        }
    zkp_buf_puts(b, "# HELP zkfence_fence_decisions_total Fencing verdicts by operation.\n"
                    "# TYPE zkfence_fence_decisions_total counter\n");
    for (int op = 0; op < ZKP_OP_COUNT_; op++)
        for (int v = 0; v < ZKP_VERDICT_COUNT_; v++) {
            unsigned long long n = load(&m->verdicts[op][v]);
            if (n > 0)
                zkp_buf_printf(b, "zkfence_fence_decisions_total{op=\"%s\",verdict=\"%s\"} %llu\n",
                               zkp_op_name((zkp_op_kind_t)op), zkp_verdict_name((zkp_verdict_t)v),
                               n);
        }
    zkp_buf_printf(b,
                   "# HELP zkfence_fence_unavailable_total Writes refused because the mark "
                   "store failed.\n# TYPE zkfence_fence_unavailable_total counter\n"
                   "zkfence_fence_unavailable_total %llu\n",
                   load(&m->fence_unavailable));
}

static void render_latency(zkp_metrics_t *m, zkp_buf_t *b)
{
    zkp_buf_puts(b, "# HELP zkfence_request_duration_seconds Time from request line to "
                    "response completion.\n# TYPE zkfence_request_duration_seconds histogram\n");
    unsigned long long cum = 0;
    for (int i = 0; i < ZKP_LATENCY_BUCKETS; i++) {
        cum += load(&m->latency[i]);
        zkp_buf_printf(b, "zkfence_request_duration_seconds_bucket{le=\"%g\"} %llu\n", bounds[i],
                       cum);
    }
    cum += load(&m->latency[ZKP_LATENCY_BUCKETS]);
    zkp_buf_printf(b, "zkfence_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n", cum);
    zkp_buf_printf(b, "zkfence_request_duration_seconds_sum %.6f\n",
                   (double)load(&m->latency_sum_us) / 1e6);
    zkp_buf_printf(b, "zkfence_request_duration_seconds_count %llu\n", cum);
}

void zkp_metrics_render(zkp_metrics_t *m, zkp_buf_t *b, uint64_t marks, int healthy)
{
    render_requests(m, b);
    render_latency(m, b);
    zkp_buf_printf(b,
                   "# HELP zkfence_marks Locks with a high-water mark.\n"
                   "# TYPE zkfence_marks gauge\nzkfence_marks %llu\n"
                   "# HELP zkfence_mark_store_healthy 1 if the mark store accepts writes.\n"
                   "# TYPE zkfence_mark_store_healthy gauge\nzkfence_mark_store_healthy %d\n"
                   "# HELP zkfence_bytes_received_total Object bytes received.\n"
                   "# TYPE zkfence_bytes_received_total counter\nzkfence_bytes_received_total "
                   "%llu\n"
                   "# HELP zkfence_bytes_sent_total Object bytes sent.\n"
                   "# TYPE zkfence_bytes_sent_total counter\nzkfence_bytes_sent_total %llu\n"
                   "# HELP zkfence_inflight_requests Requests in progress.\n"
                   "# TYPE zkfence_inflight_requests gauge\nzkfence_inflight_requests %d\n"
                   "# HELP zkfence_multipart_uploads_swept_total Unfinished multipart uploads "
                   "aborted for their age (multipart_max_age).\n"
                   "# TYPE zkfence_multipart_uploads_swept_total counter\n"
                   "zkfence_multipart_uploads_swept_total %llu\n"
                   "# HELP zkfence_head_timeouts_total Connections closed for not sending a "
                   "whole request head in time.\n"
                   "# TYPE zkfence_head_timeouts_total counter\nzkfence_head_timeouts_total %llu\n"
                   "# HELP zkfence_auth_refused_total Requests refused by authentication or "
                   "rights.\n"
                   "# TYPE zkfence_auth_refused_total counter\nzkfence_auth_refused_total %llu\n"
                   "# HELP zkfence_writes_on_loop_total PutObjects that ended on an event loop "
                   "(nothing in their end could wait), not on a worker.\n"
                   "# TYPE zkfence_writes_on_loop_total counter\nzkfence_writes_on_loop_total "
                   "%llu\n",
                   (unsigned long long)marks, healthy, load(&m->bytes_in), load(&m->bytes_out),
                   atomic_load(&m->inflight), load(&m->uploads_swept), load(&m->head_timeouts),
                   load(&m->auth_refused), load(&m->writes_on_loop));
}
