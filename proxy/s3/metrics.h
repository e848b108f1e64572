/* Prometheus metrics of one server instance (no globals: the server owns
 * its zkp_metrics_t). Counters are relaxed atomics, updated on request
 * completion; rendering reads them without stopping the world, so a scrape
 * is a consistent-enough snapshot, as Prometheus expects. */
#ifndef ZKP_METRICS_H
#define ZKP_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include "fence/fence.h"
#include "http/request.h"
#include "util/buf.h"

#define ZKP_LATENCY_BUCKETS 14
#define ZKP_STATUS_MAX 600

typedef struct zkp_metrics {
    atomic_uint_least64_t requests[ZKP_OP_COUNT_][ZKP_STATUS_MAX];     /* by op and HTTP status */
    atomic_uint_least64_t verdicts[ZKP_OP_COUNT_][ZKP_VERDICT_COUNT_]; /* by op and verdict */
    atomic_uint_least64_t fence_unavailable;                           /* 503: mark store failed */
    atomic_uint_least64_t latency[ZKP_LATENCY_BUCKETS + 1];            /* last: +Inf */
    atomic_uint_least64_t latency_sum_us;
    atomic_uint_least64_t bytes_in;      /* object bytes received (decoded) */
    atomic_uint_least64_t bytes_out;     /* object bytes sent */
    atomic_uint_least64_t uploads_swept; /* multipart uploads aborted for their age */
    atomic_int inflight;
    atomic_uint_least64_t head_timeouts;  /* connections shut down for a late request head */
    atomic_uint_least64_t auth_refused;   /* requests refused by authentication or rights */
    atomic_uint_least64_t writes_on_loop; /* PutObjects ended on an event loop (s3/dispatch.c) */
} zkp_metrics_t;

void zkp_metrics_init(zkp_metrics_t *m);
void zkp_metrics_request(zkp_metrics_t *m, zkp_op_kind_t op, int status, uint64_t micros);
void zkp_metrics_verdict(zkp_metrics_t *m, zkp_op_kind_t op, zkp_verdict_t v);
/* Appends the text exposition format. `marks` and `healthy` come from the
 * mark store at scrape time. */
void zkp_metrics_render(zkp_metrics_t *m, zkp_buf_t *b, uint64_t marks, int healthy);

#endif
