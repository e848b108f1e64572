/* The context of one HTTP request, from its request line to its response,
 * and the accessors every layer uses to read the request (header lookup,
 * header iteration, the resource path).
 *
 * This sits below both the HTTP server (http/server.c, which allocates and
 * drives the context) and the S3 operations (s3/, which read the request
 * and fill the body-intake part), so that neither has to call the other to
 * read a header. One block per request: the parts of each layer live side
 * by side, so a request costs one allocation.
 *
 * Thread safety: a context is used by one thread at a time (its event loop,
 * or the worker a blocking request was handed to). */
#ifndef ZKP_REQCTX_H
#define ZKP_REQCTX_H

#include <microhttpd.h>
#include <openssl/evp.h>
#include <stdatomic.h>
#include <stdint.h>

#include "backend/backend.h"
#include "http/awschunked.h"
#include "http/request.h"
#include "util/buf.h"
#include "util/workers.h"

struct zkp_server;  /* http/server.c; opaque to everything else */
struct zkp_service; /* s3/service.h: what the S3 operations run against */

/* What happens to the request body. */
typedef enum {
    ZKP_BODY_IGNORE = 0, /* read and dropped (none expected, or already failed) */
    ZKP_BODY_STREAM,     /* PutObject, UploadPart: to the backend */
    ZKP_BODY_BUFFER,     /* DeleteObjects, CompleteMultipartUpload: into memory, bounded */
} zkp_body_mode_t;

/* A response chosen before the body was fully read, sent at the end. */
typedef struct zkp_deferred {
    int status;
    const char *code;
    const char *msg;
} zkp_deferred_t;

typedef struct zkp_req {
    /* --- set by the HTTP server when the request line arrives */
    struct zkp_server *srv;
    struct zkp_service *svc;
    const atomic_int *stopping; /* the server's: answers close their connection once set */
    struct MHD_Connection *conn;
    char *target; /* raw request-target, from the URI log callback */
    const char *method;
    int started;
    zkp_op_t op;
    char request_id[24];
    uint64_t t0_us;
    int status; /* the response status, for metrics */

    /* --- body intake (s3/body.c, prepared by s3/ops_object.c) */
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

    /* --- the S3 operation's own (s3/ops_multipart.c) */
    int upload_gone; /* a completion whose upload was not there at request start */

    /* --- handed to a worker (http/server.c): the connection is suspended
     * while the worker executes the request; responses it makes are kept
     * here (http/respond.c) and queued when libmicrohttpd calls us again
     * after the resume. */
    zkp_job_t job;
    enum { ZKP_JOB_NONE, ZKP_JOB_RUNNING, ZKP_JOB_DONE } job_state;
    int deferring; /* zkp_respond keeps the response instead of queueing it */
    enum MHD_Result job_rc;
    struct MHD_Response *kept;
    int kept_status;
} zkp_req_t;

/* The value of request header `name` (case-insensitive), or NULL. The
 * string lives as long as the request. */
const char *zkp_req_header(const zkp_req_t *r, const char *name);

/* Called once per request header, in arrival order; returns 0 to go on. */
typedef int (*zkp_header_fn)(void *arg, const char *name, const char *value);
/* Calls fn for each request header until it returns non-zero. */
void zkp_req_headers(const zkp_req_t *r, zkp_header_fn fn, void *arg);

/* The request path without its query, as the Resource of an S3 error
 * (malloc'ed, free()), or NULL on OOM. */
char *zkp_req_resource(const zkp_req_t *r);

#endif
