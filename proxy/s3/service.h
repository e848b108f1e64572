/* What the S3 operations run against: the configuration, the backend, the
 * mark store, the audit log and the metrics of one server instance. The
 * HTTP server owns one (no global state: tests may run several servers in
 * one process) and hands every request a pointer to it (zkp_req_t.svc).
 *
 * The core knows the backend only as a table (backend/backend.h): which
 * backend it is comes from the configuration, through backend/registry.h. */
#ifndef ZKP_SERVICE_H
#define ZKP_SERVICE_H

#include <stddef.h>

#include "backend/backend.h"
#include "fence/bind.h"
#include "fence/fence.h"
#include "zk/verify.h"
#include "s3/metrics.h"
#include "util/config.h"
#include "util/ticker.h"

typedef struct zkp_service {
    const zkp_config_t *cfg; /* borrowed from the server, outlives the service */
    zkp_backend_t *be;
    zkp_marks_t *marks;
    zkp_audit_t *audit;
    zkp_binds_t *binds; /* locks bound to keys (fence/bind.h); empty without `bind.*` */
    zkp_zk_t *zk;       /* tokens verified against ZooKeeper (zk/verify.h); NULL: verify = off */
    zkp_metrics_t metrics;
    zkp_ticker_t *sweeper; /* aborts unfinished multipart uploads past multipart_max_age */
} zkp_service_t;

/* Builds the table of locks bound to keys from the configuration's
 * `bind.*` lines. Returns 0 with *out set (zkp_binds_free), or -1 with
 * "FILE:LINE: bind.SPEC: why" in err. main() calls it first, to refuse a
 * bad binding with the configuration's other errors (exit 64). */
int zkp_service_binds(const zkp_config_t *cfg, zkp_binds_t **out, char *err, size_t errlen);

/* Opens, in this order, the mark store, the backend and the audit log,
 * then (with multipart_max_age > 0 and a backend with multipart uploads)
 * sweeps the uploads past that age once and starts sweeping them
 * periodically (every quarter of the age, between 1 s and 1 h).
 * The mark store first: its exclusive lock is what makes a second proxy on
 * the same marks give up before it touches anything. The backend then
 * takes its own lock on its storage (marks_db may live elsewhere, so that
 * lock is needed too). Only the data directory itself is created before
 * either lock: marks.db lives in it by default. `cfg` (resolved: marks_db
 * and audit_log set) must outlive the service.
 * Returns 0, or a negative ZKP_FAIL_* (util/config.h: ZKP_FAIL_UNAVAILABLE
 * or ZKP_FAIL_CONFIG when the backend says so, else ZKP_FAIL_START) with a
 * message in err; then call zkp_service_close(), which releases what was
 * opened. */
int zkp_service_open(zkp_service_t *svc, const zkp_config_t *cfg, char *err, size_t errlen);

/* Reopens the audit log under its configured path (log rotation). Returns
 * 0, or -1 if the new file cannot be opened: lines keep going to the old
 * one. Safe while requests run. */
int zkp_service_reopen_logs(zkp_service_t *svc);

/* Stops the sweeps, closes the audit log, the mark store and the backend.
 * No request may be running. Safe on a service whose open failed
 * part-way. */
void zkp_service_close(zkp_service_t *svc);

#endif
