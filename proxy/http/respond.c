/* Building and queueing responses: S3 XML errors and the headers every
 * response carries. */
#include <stdlib.h>
#include <string.h>

#include "s3/s3.h"

enum MHD_Result zkp_respond(zkp_req_t *r, int status, struct MHD_Response *resp)
{
    if (resp == NULL)
        return MHD_NO; /* out of memory: MHD closes the connection */
    MHD_add_response_header(resp, "Server", "zkfence-proxy");
    MHD_add_response_header(resp, "x-amz-request-id", r->request_id);
    if (atomic_load(&r->srv->stopping))
        MHD_add_response_header(resp, "Connection", "close"); /* shutting down */
    r->status = status;
    if (r->deferring) {
        /* On a worker: libmicrohttpd queues only from its own thread, so
         * the response waits for the connection's resume (server.c). */
        if (r->kept != NULL)
            MHD_destroy_response(r->kept);
        r->kept = resp;
        r->kept_status = status;
        return MHD_YES;
    }
    enum MHD_Result rc = MHD_queue_response(r->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return rc;
}

enum MHD_Result zkp_respond_body(zkp_req_t *r, int status, const char *content_type, char *body,
                                 size_t len)
{
    if (body == NULL)
        return MHD_NO;
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", content_type);
    return zkp_respond(r, status, resp);
}

enum MHD_Result zkp_respond_empty(zkp_req_t *r, int status)
{
    return zkp_respond(r, status,
                       MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT));
}

/* The Resource element: the request path without the query. */
static char *resource_of(const zkp_req_t *r)
{
    const char *t = r->target ? r->target : "/";
    return strndup(t, strcspn(t, "?"));
}

enum MHD_Result zkp_respond_error_x(zkp_req_t *r, int status, const char *code, const char *msg,
                                    const zkp_xml_extra_t *extra, size_t nextra)
{
    char *res = resource_of(r);
    size_t len;
    char *body = zkp_xml_error(code, msg, res ? res : "/", r->request_id, extra, nextra, &len);
    free(res);
    if (body == NULL)
        return MHD_NO;
    /* A HEAD response has no body; the status carries the meaning. */
    return zkp_respond_body(r, status, "application/xml", body, len);
}

enum MHD_Result zkp_respond_error(zkp_req_t *r, int status, const char *code, const char *msg)
{
    return zkp_respond_error_x(r, status, code, msg, NULL, 0);
}

enum MHD_Result zkp_respond_be_error(zkp_req_t *r, int be_rc)
{
    switch (be_rc) {
    case ZKP_BE_NO_KEY:
        return zkp_respond_error(r, 404, "NoSuchKey", "The specified key does not exist.");
    case ZKP_BE_NO_BUCKET:
        return zkp_respond_error(r, 404, "NoSuchBucket", "The specified bucket does not exist");
    case ZKP_BE_EXISTS:
        return zkp_respond_error(r, 409, "BucketAlreadyOwnedByYou",
                                 "Your previous request to create the named bucket succeeded "
                                 "and you already own it.");
    case ZKP_BE_NOT_EMPTY:
        return zkp_respond_error(r, 409, "BucketNotEmpty",
                                 "The bucket you tried to delete is not empty");
    case ZKP_BE_NOMEM:
        return zkp_respond_error(r, 503, "SlowDown", "Out of memory, please retry");
    default:
        return zkp_respond_error(r, 500, "InternalError", "Storage error");
    }
}
