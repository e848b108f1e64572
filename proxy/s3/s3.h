/* Internals shared by the S3 front's files: the server instance, the
 * per-request context, and the operations. Not used outside proxy/. */
#ifndef ZKP_S3_H
#define ZKP_S3_H

#include <microhttpd.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "backend/backend.h"
#include "fence/fence.h"
#include "http/awschunked.h"
#include "http/request.h"
#include "http/server.h"
#include "http/xml.h"
#include "s3/metrics.h"
#include "util/buf.h"
#include "util/config.h"
#include "util/workers.h"

struct zkp_server {
    zkp_config_t cfg;
    zkp_backend_t *be;
    zkp_marks_t *marks;
    zkp_audit_t *audit;
    zkp_metrics_t metrics;
    struct MHD_Daemon *daemon;
    zkp_workers_t *workers; /* the blocking part of writes (server.c) */
    atomic_int stopping;    /* zkp_server_stop has begun: refuse new requests */
    unsigned port;
    atomic_uint_least64_t next_request_id;
    pthread_mutex_t idle_mu; /* with idle_cv: shutdown waits for metrics.inflight == 0 */
    pthread_cond_t idle_cv;
};

/* What happens to the request body. */
typedef enum {
    ZKP_BODY_IGNORE = 0, /* read and dropped (none expected, or already failed) */
    ZKP_BODY_STREAM,     /* PutObject: to the backend */
    ZKP_BODY_BUFFER,     /* DeleteObjects: into memory, bounded */
} zkp_body_mode_t;

/* A response chosen before the body was fully read, sent at the end. */
typedef struct zkp_deferred {
    int status;
    const char *code;
    const char *msg;
} zkp_deferred_t;

typedef struct zkp_req {
    zkp_server_t *srv;
    struct MHD_Connection *conn;
    char *target; /* raw request-target, from the URI log callback */
    const char *method;
    int started;
    zkp_op_t op;
    char request_id[24];
    uint64_t t0_us;
    int status; /* the response status, for metrics */

    zkp_body_mode_t body_mode;
    uint64_t body_limit;       /* bytes accepted in the decoded body */
    uint64_t body_bytes;       /* decoded body bytes so far */
    uint64_t dropped_bytes;    /* bytes read and dropped after a failure */
    uint64_t decoded_expected; /* x-amz-decoded-content-length or UINT64_MAX */
    int chunked;               /* aws-chunked framing to strip */
    zkp_chunked_t *ch;
    EVP_MD_CTX *md5;
    unsigned char content_md5[16];
    int has_content_md5;
    zkp_put_t *put;
    zkp_buf_t buffer;
    zkp_obj_meta_t meta; /* headers to store with the object */
    zkp_deferred_t failed;

    /* Handed to a worker (server.c): the connection is suspended while
     * the worker executes the request; responses it makes are kept here
     * and queued when libmicrohttpd calls us again after the resume. */
    zkp_job_t job;
    enum { ZKP_JOB_NONE, ZKP_JOB_RUNNING, ZKP_JOB_DONE } job_state;
    int deferring; /* zkp_respond keeps the response instead of queueing it */
    enum MHD_Result job_rc;
    struct MHD_Response *kept;
    int kept_status;
} zkp_req_t;

/* --- respond.c --- */
enum MHD_Result zkp_respond_error(zkp_req_t *r, int status, const char *code, const char *msg);
enum MHD_Result zkp_respond_error_x(zkp_req_t *r, int status, const char *code, const char *msg,
                                    const zkp_xml_extra_t *extra, size_t nextra);
/* Takes ownership of body (malloc'ed). */
enum MHD_Result zkp_respond_body(zkp_req_t *r, int status, const char *content_type, char *body,
                                 size_t len);
enum MHD_Result zkp_respond_empty(zkp_req_t *r, int status);
/* Queues resp after adding the common headers; destroys it. */
enum MHD_Result zkp_respond(zkp_req_t *r, int status, struct MHD_Response *resp);
/* S3 error for a backend error code. */
enum MHD_Result zkp_respond_be_error(zkp_req_t *r, int be_rc);

/* --- gate.c: fencing around a mutation --- */
typedef struct zkp_gate {
    zkp_fence_txn_t *txn; /* non-NULL while inside the lock's section */
    zkp_verdict_t verdict;
    uint64_t mark;
    int had_mark;
} zkp_gate_t;

/* At request start: 428 if fencing is required and missing, 412 early if
 * the token is already stale, 503 if the store cannot answer (each one
 * audited). Returns 0 to proceed, or -1 with the MHD result of the queued
 * error response in *res. */
int zkp_gate_precheck(zkp_req_t *r, enum MHD_Result *res);
/* Enters the lock's section and decides; on acceptance the mark is durably
 * raised before returning 0, and the acceptance is audited under `key`
 * (NULL: the request's key), except for DeleteObjects, whose caller audits
 * each key with zkp_gate_audit()/zkp_gate_audit_as(). On rejection or
 * failure the refusal is audited, the error response queued (412 or 503),
 * the section left, and -1 returned with *res set. A request without
 * fencing headers (optional bucket) passes with no section. */
int zkp_gate_enter(zkp_req_t *r, zkp_gate_t *g, const char *key, enum MHD_Result *res);
/* Logs the gate's verdict for one key under the same decision. */
void zkp_gate_audit(zkp_req_t *r, const zkp_gate_t *g, const char *key);
/* Logs verdict v for one key (DeleteObjects: ZKP_VERDICT_REJECT_INVALID for a
 * key that was refused although the token was accepted). */
void zkp_gate_audit_as(zkp_req_t *r, const zkp_gate_t *g, const char *key, zkp_verdict_t v);
void zkp_gate_leave(zkp_gate_t *g);

/* --- ops_bucket.c --- */
enum MHD_Result zkp_op_list_buckets(zkp_req_t *r);
enum MHD_Result zkp_op_create_bucket(zkp_req_t *r);
enum MHD_Result zkp_op_head_bucket(zkp_req_t *r);
enum MHD_Result zkp_op_delete_bucket(zkp_req_t *r);
enum MHD_Result zkp_op_bucket_location(zkp_req_t *r);
enum MHD_Result zkp_op_list_objects(zkp_req_t *r);

/* --- ops_object.c --- */
/* Prepares a PutObject at request start (staging, digests). Returns 0 to
 * read the body, or -1 with an error response queued in *res. */
int zkp_put_start(zkp_req_t *r, enum MHD_Result *res);
/* Prepares DeleteObjects' buffered body at request start; like put_start. */
int zkp_delete_objects_start(zkp_req_t *r, enum MHD_Result *res);
/* Whether to hang up instead of draining a body that will be refused. */
int zkp_body_should_hang_up(const zkp_req_t *r);
/* Consumes body bytes (any body mode). */
void zkp_body_feed(zkp_req_t *r, const char *data, size_t len);
enum MHD_Result zkp_op_put_object(zkp_req_t *r);
enum MHD_Result zkp_op_copy_object(zkp_req_t *r);
enum MHD_Result zkp_op_get_object(zkp_req_t *r, int head);
enum MHD_Result zkp_op_delete_object(zkp_req_t *r);
enum MHD_Result zkp_op_delete_objects(zkp_req_t *r);
/* Frees what a request holds on the body side (staged put, digests). */
void zkp_body_cleanup(zkp_req_t *r);

/* --- ops_admin.c --- */
enum MHD_Result zkp_op_admin(zkp_req_t *r);

/* --- server.c --- */
const char *zkp_req_header(zkp_req_t *r, const char *name);
uint64_t zkp_now_us(void);

#endif
