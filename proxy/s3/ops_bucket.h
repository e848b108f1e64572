/* Bucket operations and listings (s3/ops_bucket.c). Each queues its
 * response and returns the result of queueing it. */
#ifndef ZKP_OPS_BUCKET_H
#define ZKP_OPS_BUCKET_H

#include "http/reqctx.h"

enum MHD_Result zkp_op_list_buckets(zkp_req_t *r);
/* CreateBucket's start: its body (a CreateBucketConfiguration, or none) is
 * read into memory, at most 64 KiB. Returns 0. */
int zkp_create_bucket_start(zkp_req_t *r);
/* CreateBucket: a body that is neither empty nor a CreateBucketConfiguration
 * gets 400 MalformedXML, a LocationConstraint other than the proxy's
 * region 400 IllegalLocationConstraintException; nothing is made then. */
enum MHD_Result zkp_op_create_bucket(zkp_req_t *r);
enum MHD_Result zkp_op_head_bucket(zkp_req_t *r);
enum MHD_Result zkp_op_delete_bucket(zkp_req_t *r);
enum MHD_Result zkp_op_bucket_location(zkp_req_t *r);
/* ListObjects (v1), ListObjectsV2, and ListObjectVersions (no bucket here
 * is versioned: each object is its one version, "null", the latest). */
enum MHD_Result zkp_op_list_objects(zkp_req_t *r);
/* GetBucketVersioning: an empty VersioningConfiguration, S3's answer for a
 * bucket never versioned. */
enum MHD_Result zkp_op_get_bucket_versioning(zkp_req_t *r);
/* PutBucketVersioning: 501 NotImplemented (saying why). */
enum MHD_Result zkp_op_put_bucket_versioning(zkp_req_t *r);

#endif
