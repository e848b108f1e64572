#include "s3/dispatch.h"

#include "s3/binding.h"
#include "s3/gate.h"
#include "s3/ops_admin.h"
#include "s3/ops_advance.h"
#include "s3/ops_bucket.h"
#include "s3/ops_multipart.h"
#include "s3/ops_object.h"
#include "s3/ops_repair.h"
#include "s3/service.h"

int zkp_s3_start(zkp_req_t *r, enum MHD_Result *res)
{
    /* A part or a completion is fenced with its upload's record: found
     * first, so that the binding and the precheck see its lock and token. */
    int rc = zkp_mpu_resolve(r, res);
    if (rc < 0 || (rc == 0 && (zkp_binding_request(r, res) != 0 || zkp_gate_precheck(r, res) != 0)))
        return -1;
    switch (r->op.kind) {
    case ZKP_OP_PUT_OBJECT:
        return zkp_put_start(r, res);
    case ZKP_OP_DELETE_OBJECTS:
        return zkp_delete_objects_start(r, res);
    case ZKP_OP_UPLOAD_PART:
        return zkp_mpu_part_start(r, res);
    case ZKP_OP_COMPLETE_MULTIPART_UPLOAD:
        return zkp_mpu_complete_start(r, res);
    case ZKP_OP_CREATE_BUCKET:
        return zkp_create_bucket_start(r);
    default:
        return 0;
    }
}

/* A PutObject ends on the event loop when nothing in its end can wait: the
 * backend's seal and commit (no fsync: page-cache writes and a rename;
 * nothing large to free), and the fencing decision (s3/gate.h). That saves
 * the hand-off to a worker and back (a futex wake, a suspend and resume of
 * the connection, three context switches: most of what a small PUT cost
 * beyond nginx's). A body that failed (r->put gone) is only answered. */
static int put_ends_here(zkp_req_t *r)
{
    const zkp_backend_ops_t *ops = r->svc->be->ops;
    return !ops->remote && ops->put_waits != NULL && (r->put == NULL || !ops->put_waits(r->put)) &&
           zkp_gate_early(r);
}

int zkp_s3_blocks(zkp_req_t *r)
{
    const zkp_op_t *op = &r->op;
    /* A fenced read waits for the lock's section and the mark's group
     * commit, like a write; an ordinary read waits only for a backend that
     * says its reads may (an upstream over the network). */
    if (op->reading && op->fence == ZKP_FENCE_PRESENT)
        return 1;
    switch (op->kind) {
    case ZKP_OP_PUT_OBJECT:
        if (!put_ends_here(r))
            return 1;
        atomic_fetch_add(&r->svc->metrics.writes_on_loop, 1);
        return 0;
    case ZKP_OP_COPY_OBJECT:
    case ZKP_OP_DELETE_OBJECT:
    case ZKP_OP_DELETE_OBJECTS:
    case ZKP_OP_CREATE_BUCKET:
    case ZKP_OP_DELETE_BUCKET:
    case ZKP_OP_CREATE_MULTIPART_UPLOAD:
    case ZKP_OP_UPLOAD_PART:
    case ZKP_OP_UPLOAD_PART_COPY:
    case ZKP_OP_COMPLETE_MULTIPART_UPLOAD:
    case ZKP_OP_ABORT_MULTIPART_UPLOAD:
    case ZKP_OP_LIST_PARTS:             /* reads a head per part */
    case ZKP_OP_LIST_MULTIPART_UPLOADS: /* reads a manifest per upload */
    case ZKP_OP_ADMIN_FENCE_ADVANCE:
    case ZKP_OP_ADMIN_REPAIR:
        return 1;
    case ZKP_OP_LIST_BUCKETS:
    case ZKP_OP_HEAD_BUCKET:
    case ZKP_OP_GET_BUCKET_LOCATION:
    case ZKP_OP_LIST_OBJECTS_V1:
    case ZKP_OP_LIST_OBJECTS_V2:
    case ZKP_OP_GET_OBJECT:
    case ZKP_OP_HEAD_OBJECT:
    case ZKP_OP_GET_BUCKET_VERSIONING:
    case ZKP_OP_PUT_BUCKET_VERSIONING:
    case ZKP_OP_LIST_OBJECT_VERSIONS:
        /* Reads wait only for a backend that says they may (an upstream
         * over the network); local ones are served from the loops. */
        return r->svc->be->ops->remote;
    default:
        return 0;
    }
}

static enum MHD_Result execute(zkp_req_t *r)
{
    switch (r->op.kind) {
    case ZKP_OP_LIST_BUCKETS:
        return zkp_op_list_buckets(r);
    case ZKP_OP_CREATE_BUCKET:
        return zkp_op_create_bucket(r);
    case ZKP_OP_HEAD_BUCKET:
        return zkp_op_head_bucket(r);
    case ZKP_OP_DELETE_BUCKET:
        return zkp_op_delete_bucket(r);
    case ZKP_OP_GET_BUCKET_LOCATION:
        return zkp_op_bucket_location(r);
    case ZKP_OP_LIST_OBJECTS_V1:
    case ZKP_OP_LIST_OBJECTS_V2:
        return zkp_op_list_objects(r);
    case ZKP_OP_PUT_OBJECT:
        return zkp_op_put_object(r);
    case ZKP_OP_COPY_OBJECT:
        return zkp_op_copy_object(r);
    case ZKP_OP_GET_OBJECT:
        return zkp_op_get_object(r, 0);
    case ZKP_OP_HEAD_OBJECT:
        return zkp_op_get_object(r, 1);
    case ZKP_OP_DELETE_OBJECT:
        return zkp_op_delete_object(r);
    case ZKP_OP_DELETE_OBJECTS:
        return zkp_op_delete_objects(r);
    case ZKP_OP_CREATE_MULTIPART_UPLOAD:
        return zkp_op_create_mpu(r);
    case ZKP_OP_UPLOAD_PART: /* ends as a PutObject: body checks, fenced commit, ETag */
        return zkp_op_put_object(r);
    case ZKP_OP_UPLOAD_PART_COPY:
        return zkp_op_upload_part_copy(r);
    case ZKP_OP_COMPLETE_MULTIPART_UPLOAD:
        return zkp_op_complete_mpu(r);
    case ZKP_OP_ABORT_MULTIPART_UPLOAD:
        return zkp_op_abort_mpu(r);
    case ZKP_OP_LIST_PARTS:
        return zkp_op_list_parts(r);
    case ZKP_OP_LIST_MULTIPART_UPLOADS:
        return zkp_op_list_mpu(r);
    case ZKP_OP_GET_BUCKET_VERSIONING:
        return zkp_op_get_bucket_versioning(r);
    case ZKP_OP_PUT_BUCKET_VERSIONING:
        return zkp_op_put_bucket_versioning(r);
    case ZKP_OP_LIST_OBJECT_VERSIONS:
        return zkp_op_list_objects(r);
    case ZKP_OP_ADMIN_FENCE_ADVANCE:
        return zkp_op_fence_advance(r);
    case ZKP_OP_ADMIN_REPAIR:
        return zkp_op_repair(r);
    default:
        return zkp_op_admin(r);
    }
}

enum MHD_Result zkp_s3_execute(zkp_req_t *r)
{
    enum MHD_Result res = execute(r);
    /* An early decision (zkp_s3_blocks) that no enter used: its section is
     * left here, whatever ended the request. */
    zkp_gate_early_drop(r);
    return res;
}
