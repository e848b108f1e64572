/* Body intake: the bytes of a request body as the HTTP server hands them
 * over, streamed to the backend (PutObject, through the aws-chunked
 * decoder when framed) or buffered, bounded (DeleteObjects). A failure is
 * remembered (the answer is sent when the body ends) and what was staged is
 * discarded at once. */
#include "s3/body.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "http/respond.h"
#include "s3/service.h"
#include "util/textutil.h"

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

/* --- streamed bodies: start and finish ------------------------------------------- */

static int parse_u64_header(const char *v, uint64_t *out)
{
    if (v == NULL || !isdigit((unsigned char)*v))
        return -1;
    char *end;
    unsigned long long n = strtoull(v, &end, 10);
    if (*end != '\0')
        return -1;
    *out = n;
    return 0;
}

int zkp_body_content_md5(zkp_req_t *r, enum MHD_Result *res)
{
    const char *v = zkp_req_header(r, "Content-MD5");
    if (v == NULL)
        return 0;
    if (zkp_base64_decode(v, strlen(v), r->content_md5, sizeof(r->content_md5)) != 16) {
        *res = zkp_respond_error(r, 400, "InvalidDigest",
                                 "The Content-MD5 you specified was invalid.");
        return -1;
    }
    r->has_content_md5 = 1;
    return 0;
}

static int body_is_aws_chunked(zkp_req_t *r)
{
    const char *sha = zkp_req_header(r, "x-amz-content-sha256");
    const char *enc = zkp_req_header(r, "Content-Encoding");
    return (sha != NULL && strncmp(sha, "STREAMING-", 10) == 0) ||
           (enc != NULL && strcasestr(enc, "aws-chunked") != NULL);
}

int zkp_body_stream_start(zkp_req_t *r, uint64_t limit, enum MHD_Result *res)
{
    uint64_t cl;
    if (zkp_body_content_md5(r, res) != 0)
        return -1;
    r->chunked = body_is_aws_chunked(r);
    r->decoded_expected = UINT64_MAX;
    if (r->chunked) {
        const char *d = zkp_req_header(r, "x-amz-decoded-content-length");
        if (d != NULL && parse_u64_header(d, &r->decoded_expected) != 0) {
            *res = zkp_respond_error(r, 400, "InvalidArgument",
                                     "x-amz-decoded-content-length is not a number");
            return -1;
        }
        if ((r->ch = malloc(sizeof(*r->ch))) == NULL) {
            *res = MHD_NO;
            return -1;
        }
        zkp_chunked_init(r->ch);
    }
    uint64_t announced = r->chunked ? r->decoded_expected : UINT64_MAX;
    if (!r->chunked && parse_u64_header(zkp_req_header(r, "Content-Length"), &cl) == 0)
        announced = cl;
    if (announced != UINT64_MAX && announced > limit) {
        *res = zkp_respond_error(r, 413, "EntityTooLarge",
                                 "Your proposed upload exceeds the maximum allowed object size.");
        return -1;
    }
    r->body_limit = limit;
    r->md5 = EVP_MD_CTX_new();
    if (r->md5 == NULL || EVP_DigestInit_ex(r->md5, EVP_md5(), NULL) != 1) {
        *res = MHD_NO;
        return -1;
    }
    return 0;
}

int zkp_body_stream_finish(zkp_req_t *r, char etag[33], enum MHD_Result *res)
{
    if (r->chunked && (zkp_chunked_finish(r->ch) != 0 || (r->decoded_expected != UINT64_MAX &&
                                                          r->decoded_expected != r->body_bytes))) {
        *res = zkp_respond_error(r, 400, "IncompleteBody",
                                 "You did not provide the number of bytes specified by the "
                                 "x-amz-decoded-content-length header.");
        return -1;
    }
    unsigned char md[16];
    unsigned int mdlen = 0;
    EVP_DigestFinal_ex(r->md5, md, &mdlen);
    zkp_hex_encode(md, 16, etag);
    if (r->has_content_md5 && memcmp(md, r->content_md5, 16) != 0) {
        *res = zkp_respond_error(r, 400, "BadDigest",
                                 "The Content-MD5 you specified did not match what we received.");
        return -1;
    }
    return 0;
}
