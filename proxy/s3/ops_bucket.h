/* Bucket operations and listings (s3/ops_bucket.c). Each queues its
 * response and returns the result of queueing it. */
#ifndef ZKP_OPS_BUCKET_H
#define ZKP_OPS_BUCKET_H

#include "http/reqctx.h"

enum MHD_Result zkp_op_list_buckets(zkp_req_t *r);
enum MHD_Result zkp_op_create_bucket(zkp_req_t *r);
enum MHD_Result zkp_op_head_bucket(zkp_req_t *r);
enum MHD_Result zkp_op_delete_bucket(zkp_req_t *r);
enum MHD_Result zkp_op_bucket_location(zkp_req_t *r);
/* ListObjects (v1) and ListObjectsV2. */
enum MHD_Result zkp_op_list_objects(zkp_req_t *r);

#endif
