/* Mark repair (s3/ops_repair.c): POST /_zkfence/marks/repair, the one way
 * an operator lowers or clears a lock's mark. */
#ifndef ZKP_OPS_REPAIR_H
#define ZKP_OPS_REPAIR_H

#include "http/reqctx.h"

/* Runs the repair (on a worker: it waits for the lock's section and a
 * commit) and answers it. */
enum MHD_Result zkp_op_repair(zkp_req_t *r);

#endif
