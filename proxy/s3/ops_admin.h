/* Admin endpoints under /_zkfence/ (s3/ops_admin.c): health, metrics, the
 * marks, and the test-only fault switch. */
#ifndef ZKP_OPS_ADMIN_H
#define ZKP_OPS_ADMIN_H

#include "http/reqctx.h"

/* Answers the admin operation r->op.kind names (404 for an unknown one). */
enum MHD_Result zkp_op_admin(zkp_req_t *r);

#endif
