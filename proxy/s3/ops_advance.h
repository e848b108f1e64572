/* Fence-advance (s3/ops_advance.c): POST /_zkfence/fence-advance with
 * X-Fencing-Lock and X-Fencing-Token raises the lock's mark to the token
 * without touching data, so that a new holder fences every older one the
 * moment it acquires, before it reads anything (HDFS's newEpoch, Kafka's
 * InitProducerId). Rights: admin on '*', or write on a bucket
 * (auth/rights.h, ZKP_RULE_FENCE), checked with the signature. */
#ifndef ZKP_OPS_ADVANCE_H
#define ZKP_OPS_ADVANCE_H

#include "http/reqctx.h"

/* Raises the mark (s3/gate.h: section, durable raise, audit) and answers
 * 200 with {"lock","token","previous_mark","mark"} (tokens as decimal
 * strings, previous_mark null if the lock had none); 412, 503 from the
 * gate. Blocks for the lock's section and one group commit. */
enum MHD_Result zkp_op_fence_advance(zkp_req_t *r);

#endif
