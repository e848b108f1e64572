/* Responses: every answer of the proxy goes through zkp_respond(), which
 * adds the headers every response carries (Server, x-amz-request-id, and
 * Connection: close while the server shuts down or when r->close_conn is
 * set: libmicrohttpd then closes the connection after the answer, and
 * reads nothing more from it) and queues it, or, on a
 * worker, keeps it for the event loop to queue (http/server.c). S3 errors
 * are XML documents (http/xml.h). Each function returns the result of
 * queueing (MHD_NO: out of memory or a dead connection; libmicrohttpd then
 * closes the connection). */
#ifndef ZKP_RESPOND_H
#define ZKP_RESPOND_H

#include <stddef.h>

#include "http/reqctx.h"
#include "http/xml.h"

enum MHD_Result zkp_respond_error(zkp_req_t *r, int status, const char *code, const char *msg);
/* An S3 error with extra elements (the fencing details of a 412). */
enum MHD_Result zkp_respond_error_x(zkp_req_t *r, int status, const char *code, const char *msg,
                                    const zkp_xml_extra_t *extra, size_t nextra);
/* An S3 error with a Retry-After header (seconds): a 503 whose cause
 * passes by itself (ZooKeeper unreachable). */
enum MHD_Result zkp_respond_error_retry(zkp_req_t *r, int status, const char *code, const char *msg,
                                        unsigned retry_after_s);
/* An S3 error with one more response header (Retry-After on a 503,
 * Content-Range on a 416). */
enum MHD_Result zkp_respond_error_hdr(zkp_req_t *r, int status, const char *code, const char *msg,
                                      const char *header, const char *value);
/* Takes ownership of body (malloc'ed). */
enum MHD_Result zkp_respond_body(zkp_req_t *r, int status, const char *content_type, char *body,
                                 size_t len);
enum MHD_Result zkp_respond_empty(zkp_req_t *r, int status);
/* Queues resp after adding the common headers; destroys it. NULL resp
 * (an allocation failed) returns MHD_NO. */
enum MHD_Result zkp_respond(zkp_req_t *r, int status, struct MHD_Response *resp);

#endif
