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
#include "http/checksum.h"
#include "http/request.h"
#include "sigv4/sigv4.h"
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

/* What authentication (auth/) established about a request, for the layers
 * below it: the S3 operations filter an answer by the sender's rights
 * through `may_read` (ListBuckets), and the body intake checks the body as
 * the signature requires. Filled before the operation starts; ended by
 * zkp_req_auth_end() whatever happens. All zero with auth off. */
typedef struct zkp_req_auth {
    int on;          /* authentication is on */
    const void *who; /* the verified key; NULL: anonymous */
    void *ref;       /* what `who` lives in (a credentials set) */
    int (*may_read)(const void *who, const char *bucket); /* NULL: any bucket */
    void (*release)(void *ref);                           /* called once, at the end */
    char access_key[ZKP_SIGV4_ACCESS_KEY_MAX + 1];        /* "" when anonymous */
    int body_sha;              /* x-amz-content-sha256 is the body's hash: */
    zkp_sigv4_body_t sha;      /*   checked by s3/body.c */
    int chunk_sig;             /* a signed aws-chunked body: */
    zkp_sigv4_chunks_t chunks; /*   checked by http/awschunked.c */
} zkp_req_auth_t;

/* Frees what a zkp_req_auth_t holds (hash state, chunk key, the reference
 * to the credentials set) and zeroes it. Idempotent. */
void zkp_req_auth_end(zkp_req_auth_t *a);

/* The request's headers as received, in order (a header sent twice is
 * here twice), for the checks that must see every one (http/headcheck.h,
 * SigV4). `inline_` spares an allocation for ordinary requests. */
#define ZKP_REQ_INLINE_HEADERS 32
typedef struct zkp_req_headers {
    zkp_sigv4_header_t *v;
    size_t n, cap;
    zkp_sigv4_header_t inline_[ZKP_REQ_INLINE_HEADERS];
} zkp_req_headers_t;

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
    int peer_loopback; /* the client connected from 127.0.0.0/8 */
    int tls;           /* it arrived over TLS */
    /* The body as received (before aws-chunked decoding): bytes so far and
     * the largest piece libmicrohttpd handed over (http/server.c peer_gone:
     * a shorter piece is when the client may have left). */
    uint64_t raw_in;
    size_t raw_piece_max;
    zkp_req_headers_t hdrs;
    zkp_req_auth_t auth;
    zkp_op_t op;
    char request_id[24];
    uint64_t t0_us;
    int status;             /* the response status, for metrics */
    int close_conn;         /* the response closes the connection (framing in doubt) */
    size_t mem_body;        /* the response about to be passed to zkp_respond has
                             * this many body bytes in memory (a small GET): on
                             * HTTPS they go out with its head (http/tlsjoin.h);
                             * 0: streamed, a file, or none. zkp_respond takes it
                             * (and clears it), so that it never outlives the
                             * response it describes. */
    size_t queued_mem_body; /* that of the response queued during this call
                             * of on_access, which arms the join and clears it */

    /* --- body intake (s3/body.c, prepared by s3/ops_object.c) */
    zkp_body_mode_t body_mode;
    uint64_t body_limit;       /* bytes accepted in the decoded body */
    uint64_t body_bytes;       /* decoded body bytes so far */
    uint64_t dropped_bytes;    /* bytes read and dropped after a failure */
    uint64_t decoded_expected; /* x-amz-decoded-content-length or UINT64_MAX */
    int chunked;               /* aws-chunked framing to strip */
    zkp_chunked_t *ch;
    int has_cks;     /* an x-amz-checksum-* to check (cks) */
    int cks_trailer; /*   whose value comes as a trailer */
    zkp_checksum_t cks;
    EVP_MD_CTX *md5;
    unsigned char content_md5[16];
    int has_content_md5;
    zkp_put_t *put;
    zkp_buf_t buffer;
    zkp_obj_meta_t meta; /* headers to store with the object */
    zkp_deferred_t failed;

    /* --- the S3 operation's own (s3/ops_multipart.c) */
    int upload_gone; /* a completion whose upload was not there at request start */

    /* --- a fencing decision taken on the event loop (s3/gate.h,
     * zkp_gate_early): used by the gate's next enter, or its section left
     * by zkp_gate_early_drop() when execution ends without one */
    int early;                       /* the decision below was taken */
    struct zkp_fence_txn *early_txn; /* inside the section (NULL: stale) */
    int early_verdict;               /* zkp_verdict_t */
    uint64_t early_mark;
    int early_had_mark;

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
    size_t kept_mem_body; /* its mem_body */
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

/* Collects every header into r->hdrs (the strings are libmicrohttpd's and
 * live as long as the request). Returns 0, or -1 out of memory. */
int zkp_req_collect_headers(zkp_req_t *r);
/* Frees r->hdrs' heap part. */
void zkp_req_headers_free(zkp_req_t *r);

/* Whether the sender may read `bucket` (always with auth off). */
int zkp_req_may_read(const zkp_req_t *r, const char *bucket);

#endif
