/* The S3 front as the HTTP server sees it (s3/dispatch.c): what to do when
 * a classified request's headers have arrived, which operations block on
 * storage, and the operation itself once the body is in. Body bytes in
 * between go to s3/body.h. */
#ifndef ZKP_DISPATCH_H
#define ZKP_DISPATCH_H

#include "http/reqctx.h"

/* At request start, headers read and r->op classified: for a part or a
 * completion, its upload and the fencing it is checked with
 * (s3/ops_multipart.h); the fencing precheck (s3/gate.h); then the
 * operation's preparation (staging a PutObject or a part, bounding
 * DeleteObjects' or CompleteMultipartUpload's body). Returns 0 to read the
 * body (if any) and execute at its end, or -1 with an error response
 * queued and the result of queueing it in *res. */
int zkp_s3_start(zkp_req_t *r, enum MHD_Result *res);

/* Whether the request's execution blocks: on storage (fsyncs, the fencing
 * section, copies, a file read per item): writes, bucket changes, fenced
 * reads, fence-advance and the multipart listings; and, when the backend is
 * remote (backend.h: `remote`), every read and listing. The server runs
 * those on a worker, the rest (ordinary reads of a local backend) on its
 * event loop. Called once, when the body is complete: for a PutObject
 * whose end cannot wait (a local backend without object fsync, the fencing
 * decision taken without waiting: s3/gate.h, zkp_gate_early) it answers 0,
 * and zkp_s3_execute() on the event loop uses that decision. */
int zkp_s3_blocks(zkp_req_t *r);

/* Executes the operation (body complete) and queues its response; returns
 * the result of queueing it. */
enum MHD_Result zkp_s3_execute(zkp_req_t *r);

#endif
