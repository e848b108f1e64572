/* Body intake: the bytes of a request body as the HTTP server hands them
 * over, streamed to the backend (PutObject, through the aws-chunked
 * decoder when framed) or buffered, bounded (DeleteObjects). A failure is
 * remembered (the answer is sent when the body ends) and what was staged is
 * discarded at once.
 *
 * The body is checked on its way: the raw bytes against the SHA-256 the
 * signature covers (x-amz-content-sha256), each aws-chunked chunk against
 * its signature (in the decoder), the decoded bytes against the
 * x-amz-checksum-* the client sent. The verdicts that need the whole body
 * are given by zkp_body_finish(), which the operations call before they
 * seal or commit anything. */
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
    if (r->has_cks)
        zkp_checksum_update(&r->cks, data, len);
    if (r->svc->be->ops->put_write(r->put, data, len) != 0) {
        fail_body(r, 500, "InternalError", "Storage error while writing the object");
        return 1;
    }
    return 0;
}

/* A trailer line of an aws-chunked body: the checksum x-amz-trailer
 * announced. Returns 0, or 1 with the failure recorded. */
static int trailer(void *arg, const char *name, size_t nlen, const char *value, size_t vlen)
{
    zkp_req_t *r = arg;
    zkp_cks_algo_t a = zkp_checksum_algo(name, nlen);
    if (a == ZKP_CKS_NONE)
        return 0; /* not a checksum: nothing to check */
    if (!r->has_cks || !r->cks_trailer || a != r->cks.algo) {
        fail_body(r, 400, "InvalidRequest",
                  "The body's trailer carries a checksum that x-amz-trailer did not announce");
        return 1;
    }
    if (zkp_checksum_expect(&r->cks, value, vlen) != 0) {
        fail_body(r, 400, "InvalidRequest", "The checksum trailer is not valid base64 of its size");
        return 1;
    }
    return 0;
}

static const zkp_chunked_cb_t chunk_cb = {sink, trailer};

void zkp_body_feed(zkp_req_t *r, const char *data, size_t len)
{
    if (r->failed.status != 0 || r->body_mode == ZKP_BODY_IGNORE) {
        r->dropped_bytes += len;
        return;
    }
    if (r->auth.body_sha && zkp_sigv4_body_update(&r->auth.sha, data, len) != 0) {
        fail_body(r, 500, "InternalError", "The cryptographic library failed");
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
    int rc = zkp_chunked_feed(r->ch, data, len, &chunk_cb, r);
    if (rc == ZKP_CHUNKED_ESIGNATURE)
        fail_body(r, 403, "SignatureDoesNotMatch",
                  "A chunk signature of the aws-chunked body does not match: the body is not "
                  "what was signed");
    else if (rc < 0)
        fail_body(r, 400, "IncompleteBody", "Malformed aws-chunked request body");
}

int zkp_body_finish(zkp_req_t *r)
{
    if (r->failed.status != 0)
        return -1;
    if (r->auth.chunk_sig && !r->chunked) {
        fail_body(r, 400, "InvalidRequest",
                  "A streaming (aws-chunked) payload is not accepted for this operation");
        return -1;
    }
    if (r->chunked) {
        int rc = zkp_chunked_finish(r->ch);
        if (rc == ZKP_CHUNKED_ESIGNATURE) {
            fail_body(r, 403, "SignatureDoesNotMatch",
                      "The aws-chunked body's final chunk or trailer signature is missing or does "
                      "not match");
            return -1;
        }
        if (rc != 0 ||
            (r->decoded_expected != UINT64_MAX && r->decoded_expected != r->body_bytes)) {
            fail_body(r, 400, "IncompleteBody",
                      "You did not provide the number of bytes specified by the "
                      "x-amz-decoded-content-length header.");
            return -1;
        }
    }
    if (r->auth.body_sha) {
        r->auth.body_sha = 0;
        int rc = zkp_sigv4_body_finish(&r->auth.sha);
        if (rc != 0) {
            zkp_sigv4_error_info_t e = zkp_sigv4_error(rc);
            fail_body(r, e.status, e.code, e.message);
            return -1;
        }
    }
    if (r->has_cks) {
        r->has_cks = 0;
        int rc = zkp_checksum_finish(&r->cks);
        if (rc == -2)
            fail_body(r, 400, "IncompleteBody",
                      "x-amz-trailer announced a checksum that the body did not carry");
        else if (rc != 0)
            fail_body(r, 400, "BadDigest",
                      "The x-amz-checksum-* value you specified did not match the calculated "
                      "checksum.");
        if (rc != 0)
            return -1;
    }
    return 0;
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
    zkp_checksum_clear(&r->cks);
    r->has_cks = 0;
    zkp_buf_free(&r->buffer);
    zkp_obj_meta_free(&r->meta);
}

enum MHD_Result zkp_body_respond_failed(zkp_req_t *r)
{
    return zkp_respond_error(r, r->failed.status, r->failed.code, r->failed.msg);
}
