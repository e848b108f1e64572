/* Building and queueing responses: S3 XML errors and the headers every
 * response carries. */
#include "http/respond.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/xml.h"

enum MHD_Result zkp_respond(zkp_req_t *r, int status, struct MHD_Response *resp)
{
    if (resp == NULL)
        return MHD_NO; /* out of memory: MHD closes the connection */
    MHD_add_response_header(resp, "Server", "zkfence-proxy");
    MHD_add_response_header(resp, "x-amz-request-id", r->request_id);
    if (r->close_conn || (r->stopping != NULL && atomic_load(r->stopping)))
        MHD_add_response_header(resp, "Connection", "close"); /* framing in doubt, or stopping */
    r->status = status;
    size_t mem = r->mem_body; /* this response's, and no other's */
    r->mem_body = 0;
    if (r->deferring) {
        /* On a worker: libmicrohttpd queues only from its own thread, so
         * the response waits for the connection's resume (http/server.c). */
        if (r->kept != NULL)
            MHD_destroy_response(r->kept);
        r->kept = resp;
        r->kept_status = status;
        r->kept_mem_body = mem;
        return MHD_YES;
    }
    enum MHD_Result rc = MHD_queue_response(r->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    if (rc == MHD_YES)
        r->queued_mem_body = mem;
    return rc;
}

/* A response owning body (freed on every path), or NULL. */
static struct MHD_Response *body_response(const char *content_type, char *body, size_t len)
{
    if (body == NULL)
        return NULL;
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(body);
        return NULL;
    }
    MHD_add_response_header(resp, "Content-Type", content_type);
    return resp;
}

enum MHD_Result zkp_respond_body(zkp_req_t *r, int status, const char *content_type, char *body,
                                 size_t len)
{
    return zkp_respond(r, status, body_response(content_type, body, len));
}

enum MHD_Result zkp_respond_error_retry(zkp_req_t *r, int status, const char *code, const char *msg,
                                        unsigned retry_after_s)
{
    char secs[16];
    snprintf(secs, sizeof(secs), "%u", retry_after_s);
    return zkp_respond_error_hdr(r, status, code, msg, "Retry-After", secs);
}

enum MHD_Result zkp_respond_empty(zkp_req_t *r, int status)
{
    return zkp_respond(r, status,
                       MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT));
}

/* An S3 error document as a response, not yet queued; NULL on OOM. */
static struct MHD_Response *error_response(zkp_req_t *r, const char *code, const char *msg,
                                           const zkp_xml_extra_t *extra, size_t nextra)
{
    char *res = zkp_req_resource(r);
    size_t len;
    char *body = zkp_xml_error(code, msg, res ? res : "/", r->request_id, extra, nextra, &len);
    free(res);
    if (body == NULL)
        return NULL;
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(body);
        return NULL;
    }
    MHD_add_response_header(resp, "Content-Type", "application/xml");
    return resp;
}

enum MHD_Result zkp_respond_error_x(zkp_req_t *r, int status, const char *code, const char *msg,
                                    const zkp_xml_extra_t *extra, size_t nextra)
{
    /* A HEAD response has no body; the status carries the meaning. */
    return zkp_respond(r, status, error_response(r, code, msg, extra, nextra));
}

enum MHD_Result zkp_respond_error(zkp_req_t *r, int status, const char *code, const char *msg)
{
    return zkp_respond_error_x(r, status, code, msg, NULL, 0);
}

enum MHD_Result zkp_respond_error_hdr(zkp_req_t *r, int status, const char *code, const char *msg,
                                      const char *header, const char *value)
{
    struct MHD_Response *resp = error_response(r, code, msg, NULL, 0);
    if (resp != NULL)
        MHD_add_response_header(resp, header, value);
    return zkp_respond(r, status, resp);
}
