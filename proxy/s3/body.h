/* Body intake of a request (s3/body.c): what happens to the bytes of a
 * request body, in the mode the operation chose at request start
 * (zkp_req_t.body_mode, set by s3/ops_object.c). The HTTP server calls
 * these from the event loop as bytes arrive, and cleanup when the request
 * ends, however it ends. */
#ifndef ZKP_BODY_H
#define ZKP_BODY_H

#include <stddef.h>
#include <stdint.h>

#include "http/reqctx.h"

/* Consumes body bytes (any body mode). A failure (too large, malformed
 * framing, storage error) is remembered in r->failed and discards what was
 * staged; later bytes are dropped. */
void zkp_body_feed(zkp_req_t *r, const char *data, size_t len);
/* At the end of the body, before anything is committed: the aws-chunked
 * framing complete (its signatures verified, when signed), the decoded
 * length as announced, the body's SHA-256 as x-amz-content-sha256 says
 * (when it is a hash), the x-amz-checksum-* value. Returns 0, or -1 with
 * the refusal in r->failed (what was staged is discarded). */
int zkp_body_finish(zkp_req_t *r);
/* Whether to hang up instead of draining a body that will be refused. */
int zkp_body_should_hang_up(const zkp_req_t *r);
/* Frees what a request holds on the body side (staged put, digests). A put
 * still staged is aborted: nothing of a body cut short is stored. */
void zkp_body_cleanup(zkp_req_t *r);
/* A refusal decided at request start, from the head alone (a body
 * announced too large), of a request whose body is still to come. If the
 * proxy answered and closed while the client is sending (without
 * 100-continue, or after waiting for it longer than its own timeout), the
 * client's next bytes would hit a closed socket, the kernel would reset the
 * connection, and the reset can destroy the answer before the client reads
 * it: curl reported "connection reset" instead of the 413 under valgrind.
 * So a body of at most a few MiB is read and dropped first (with
 * 100-continue, libmicrohttpd invites it): returns 0 with the refusal in
 * r->failed, answered when the body ends (the operation's
 * zkp_body_finish() fails). Returns -1 when the body is larger: the caller
 * answers at once, and the rest is cut off. msg: a static string. */
int zkp_body_refuse_unread(zkp_req_t *r, uint64_t announced, int status, const char *code,
                           const char *msg);
/* Queues the error remembered in r->failed. */
enum MHD_Result zkp_body_respond_failed(zkp_req_t *r);

/* Reads Content-MD5 (the base64 of 16 bytes) into r->content_md5. Returns
 * 0 (also when absent), or -1 with 400 InvalidDigest queued in *res. */
int zkp_body_content_md5(zkp_req_t *r, enum MHD_Result *res);

/* Prepares a body streamed to the backend (PutObject, UploadPart), before
 * the staged put is begun: Content-MD5, aws-chunked framing and its
 * announced decoded length, a length announced over `limit` refused at
 * once (413 EntityTooLarge), the body's MD5 started. by_sha256: the
 * backend takes the body by its SHA-256 (put_sha256, backend.h): then no
 * MD5 is computed when the body's integrity rests on the SHA-256 that the
 * client signed (x-amz-content-sha256 a hash, no aws-chunked framing) and
 * no Content-MD5 asks for the MD5. The caller then
 * begins the put (r->put) and sets r->body_mode = ZKP_BODY_STREAM. Returns
 * 0; 1 when the body is refused but read and dropped first (a small body
 * announced too large: zkp_body_refuse_unread): the caller begins nothing
 * and returns 0, and the operation answers r->failed when the body ends;
 * or -1 with the error queued in *res. */
int zkp_body_stream_start(zkp_req_t *r, uint64_t limit, int by_sha256, enum MHD_Result *res);

/* At the end of a streamed body: complete framing, the announced length,
 * the signed SHA-256, Content-MD5. etag gets the hex MD5 of the body, or
 * "" when none was computed (by_sha256): sha256 then gets the body's
 * SHA-256 (hex), verified. Returns 0, or -1 with the error (400
 * IncompleteBody, BadDigest) queued in *res. */
int zkp_body_stream_finish(zkp_req_t *r, char etag[33], char sha256[65], enum MHD_Result *res);

#endif
