/* Body intake: the bytes of a request body as the HTTP server hands them
 * over, streamed to the backend (PutObject, through the aws-chunked
 * decoder when framed) or buffered, bounded (DeleteObjects). A failure is
 * remembered (the answer is sent when the body ends) and what was staged is
 * discarded at once. */
#include "s3/body.h"

#include <stdlib.h>

#include "http/respond.h"
#include "s3/service.h"

#define DROP_MAX (1u << 20) /* after a failure, read at most this much before hanging up */

static void fail_body(zkp_req_t *r, int status, const char *code, const char *msg)
{
    if (r->failed.status == 0) {
        r->failed.status = status;
        r->failed.code = code;
        r->failed.msg = msg;
    }
    if (r->put != NULL) {
        r->svc->be->ops->put_abort(r->put); /* nothing of this body will be stored */
        r->put = NULL;
    }
}

static int sink(void *arg, const char *data, size_t len)
{
    zkp_req_t *r = arg;
    if (len > r->body_limit - r->body_bytes) {
        fail_body(r, 413, "EntityTooLarge",
                  "Your proposed upload exceeds the maximum allowed object size.");
        return 1;
    }
    r->body_bytes += len;
    EVP_DigestUpdate(r->md5, data, len);
    if (r->svc->be->ops->put_write(r->put, data, len) != 0) {
        fail_body(r, 500, "InternalError", "Storage error while writing the object");
        return 1;
    }
    return 0;
}

void zkp_body_feed(zkp_req_t *r, const char *data, size_t len)
{
    if (r->failed.status != 0 || r->body_mode == ZKP_BODY_IGNORE) {
        r->dropped_bytes += len;
        return;
    }
    if (r->body_mode == ZKP_BODY_BUFFER) {
        if (len > r->body_limit - r->buffer.len) {
            fail_body(r, 400, "MaxMessageLengthExceeded", "Your request was too big.");
            return;
        }
        zkp_buf_append(&r->buffer, data, len);
        return;
    }
    if (!r->chunked) {
        sink(r, data, len);
        return;
    }
    int rc = zkp_chunked_feed(r->ch, data, len, sink, r);
    if (rc < 0)
        fail_body(r, 400, "IncompleteBody", "Malformed aws-chunked request body");
}

/* Whether to keep reading a body that will be refused: small leftovers are
 * drained so the connection can be reused, big ones are cut off. */
int zkp_body_should_hang_up(const zkp_req_t *r)
{
    return r->failed.status != 0 && r->dropped_bytes > DROP_MAX;
}

void zkp_body_cleanup(zkp_req_t *r)
{
    if (r->put != NULL)
        r->svc->be->ops->put_abort(r->put);
    r->put = NULL;
    if (r->md5 != NULL)
        EVP_MD_CTX_free(r->md5);
    r->md5 = NULL;
    free(r->ch);
    r->ch = NULL;
    zkp_buf_free(&r->buffer);
    zkp_obj_meta_free(&r->meta);
}

enum MHD_Result zkp_body_respond_failed(zkp_req_t *r)
{
    return zkp_respond_error(r, r->failed.status, r->failed.code, r->failed.msg);
}
