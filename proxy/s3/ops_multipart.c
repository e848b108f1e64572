/* Multipart upload operations (s3/ops_multipart.h). Parts and completions
 * are staged writes of the backend (backend.h), committed through the
 * fencing gate (s3/gate.c) like a PutObject; part bodies stream through
 * s3/body.c. */
#include "s3/ops_multipart.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/headcheck.h"
#include "http/respond.h"
#include "http/xml.h"
#include "s3/body.h"
#include "s3/errors.h"
#include "s3/gate.h"
#include "s3/objmeta.h"
#include "s3/ops_object.h"
#include "s3/precond.h"
#include "s3/service.h"
#include "util/buf.h"
#include "util/textutil.h"
#include "util/digest.h"

/* The largest CompleteMultipartUpload body a valid request needs: per part,
 * its number, its quoted ETag and up to four checksums with room for
 * indentation; around them the envelope. */
#define COMPLETE_PART_MARKUP 1024
#define COMPLETE_ENVELOPE 4096

#define OWNER "<ID>" ZKP_S3_OWNER_ID "</ID><DisplayName>" ZKP_S3_OWNER_ID "</DisplayName>"

static int is_mpu(zkp_op_kind_t k)
{
    switch (k) {
    case ZKP_OP_CREATE_MULTIPART_UPLOAD:
    case ZKP_OP_UPLOAD_PART:
    case ZKP_OP_UPLOAD_PART_COPY:
    case ZKP_OP_COMPLETE_MULTIPART_UPLOAD:
    case ZKP_OP_ABORT_MULTIPART_UPLOAD:
    case ZKP_OP_LIST_PARTS:
    case ZKP_OP_LIST_MULTIPART_UPLOADS:
        return 1;
    default:
        return 0;
    }
}

/* The start of an answer about one upload: <root> with its bucket, key and
 * id. */
static void upload_doc(zkp_buf_t *b, const char *root, const zkp_op_t *op, const char *id)
{
    zkp_buf_printf(b, ZKP_XML_DECL "<%s xmlns=\"" ZKP_S3_NS "\">", root);
    zkp_xml_elem(b, "Bucket", op->bucket);
    zkp_xml_elem(b, "Key", op->key);
    zkp_xml_elem(b, "UploadId", id);
}

static enum MHD_Result respond_xml(zkp_req_t *r, zkp_buf_t *b)
{
    size_t len;
    char *body = zkp_buf_steal(b, &len);
    return zkp_respond_body(r, 200, "application/xml", body, len);
}

/* --- fencing from the upload ------------------------------------------------------------ */

/* A part or a completion is fenced with its own headers if it carries
 * them, else with the upload's record. Its own must name the upload's lock:
 * one upload, one lock. A higher token than the create's is accepted (the
 * fence decides): a later holder of the lock may finish an upload it took
 * over; a lower one is stale by construction (the create raised the mark
 * to its token). */
static int adopt_fencing(zkp_req_t *r, const zkp_obj_meta_t *up, enum MHD_Result *res)
{
    zkp_op_t *op = &r->op;
    if (up->fence_lock == NULL)
        return 0; /* an unfenced upload: the request's own fencing, if any */
    if (op->fence == ZKP_FENCE_PRESENT) {
        if (strcmp(op->lock, up->fence_lock) == 0)
            return 0;
        zkp_xml_extra_t extra[] = {{"Lock", op->lock}, {"UploadLock", up->fence_lock}};
        *res = zkp_respond_error_x(r, 400, "InvalidFencingLock",
                                   "This request names another fencing lock than the one the "
                                   "upload was created with: an upload is fenced by one lock",
                                   extra, 2);
        return -1;
    }
    if (op->fence == ZKP_FENCE_ABSENT) {
        if ((op->lock = strdup(up->fence_lock)) == NULL) {
            *res = MHD_NO;
            return -1;
        }
        op->token = up->fence_token;
        op->fence = ZKP_FENCE_PRESENT;
    }
    return 0; /* PARTIAL: the precheck answers 428 */
}

int zkp_mpu_resolve(zkp_req_t *r, enum MHD_Result *res)
{
    zkp_op_t *op = &r->op;
    if (!is_mpu(op->kind))
        return 0;
    const zkp_backend_ops_t *ops = r->svc->be->ops;
    if (ops->mpu_create == NULL) {
        *res = zkp_respond_error(r, 501, "NotImplemented",
                                 "Multipart upload is not implemented by this storage backend");
        return -1;
    }
    if (op->kind != ZKP_OP_UPLOAD_PART && op->kind != ZKP_OP_UPLOAD_PART_COPY &&
        op->kind != ZKP_OP_COMPLETE_MULTIPART_UPLOAD)
        return 0;
    zkp_obj_meta_t up;
    int rc = ops->mpu_stat(r->svc->be, op->bucket, op->key, op->upload_id, &up);
    if (rc == ZKP_BE_NO_UPLOAD && op->kind == ZKP_OP_COMPLETE_MULTIPART_UPLOAD) {
        r->upload_gone = 1; /* a retried completion, maybe: execute says */
        return 1;
    }
    if (rc != ZKP_BE_OK) {
        *res = zkp_respond_be_error(r, rc);
        return -1;
    }
    rc = adopt_fencing(r, &up, res);
    zkp_obj_meta_free(&up);
    return rc;
}

/* --- CreateMultipartUpload ---------------------------------------------------------------- */

enum MHD_Result zkp_op_create_mpu(zkp_req_t *r)
{
    zkp_backend_t *be = r->svc->be;
    zkp_op_t *op = &r->op;
    if (!be->ops->bucket_exists(be, op->bucket))
        return zkp_respond_be_error(r, ZKP_BE_NO_BUCKET);
    zkp_objmeta_collect(r); /* the object's headers, and the upload's fencing record */
    zkp_gate_t g;
    enum MHD_Result res;
    if (zkp_gate_enter(r, &g, NULL, &res) != 0)
        return res;
    char *id = NULL;
    int rc = be->ops->mpu_create(be, op->bucket, op->key, &r->meta, &id);
    zkp_gate_leave(&g);
    if (rc != ZKP_BE_OK)
        return zkp_respond_be_error(r, rc);
    zkp_buf_t b;
    zkp_buf_init(&b);
    upload_doc(&b, "InitiateMultipartUploadResult", op, id);
    zkp_buf_puts(&b, "</InitiateMultipartUploadResult>\n");
    free(id);
    return respond_xml(r, &b);
}

/* --- UploadPart, UploadPartCopy --------------------------------------------------------------- */

int zkp_mpu_part_start(zkp_req_t *r, enum MHD_Result *res)
{
    uint64_t limit = r->svc->cfg->max_body_bytes;
    if (limit > ZKP_MPU_MAX_PART)
        limit = ZKP_MPU_MAX_PART;
    int started = zkp_body_stream_start(r, limit, 0, res);
    if (started != 0)
        return started > 0 ? 0 : -1; /* > 0: refused, the body drained first */
    zkp_backend_t *be = r->svc->be;
    zkp_op_t *op = &r->op;
    int rc =
        be->ops->mpu_part_begin(be, op->bucket, op->key, op->upload_id, op->part_number, &r->put);
    if (rc != ZKP_BE_OK) {
        r->put = NULL;
        *res = zkp_respond_be_error(r, rc);
        return -1;
    }
    r->body_mode = ZKP_BODY_STREAM;
    return 0;
}

enum MHD_Result zkp_op_upload_part_copy(zkp_req_t *r)
{
    zkp_backend_t *be = r->svc->be;
    zkp_op_t *op = &r->op;
    zkp_put_t *p = NULL;
    char etag[ZKP_ETAG_MAX + 1];
    int rc = be->ops->mpu_part_copy_begin(be, op->bucket, op->key, op->upload_id, op->part_number,
                                          op->src_bucket, op->src_key, op->has_copy_range,
                                          op->copy_first, op->copy_last, &p, etag);
    if (rc != ZKP_BE_OK)
        return zkp_respond_be_error(r, rc);
    return zkp_copy_finish(r, p, etag, NULL, "CopyPartResult");
}

/* --- CompleteMultipartUpload ------------------------------------------------------------------ */

int zkp_mpu_complete_start(zkp_req_t *r, enum MHD_Result *res)
{
    if (zkp_body_content_md5(r, res) != 0)
        return -1;
    r->body_limit = (uint64_t)ZKP_MPU_MAX_PARTS * COMPLETE_PART_MARKUP + COMPLETE_ENVELOPE;
    r->body_mode = ZKP_BODY_BUFFER;
    return 0;
}

/* The parsed part list, checked for what needs no storage: the order. */
static int read_parts(zkp_req_t *r, zkp_complete_req_t *c, enum MHD_Result *res)
{
    const char *body = r->buffer.data ? r->buffer.data : "";
    if (r->has_content_md5) {
        unsigned char md[16];
        unsigned int mdlen = 0;
        EVP_Digest(body, r->buffer.len, md, &mdlen, zkp_md_md5(), NULL);
        if (memcmp(md, r->content_md5, 16) != 0) {
            *res = zkp_respond_error(r, 400, "BadDigest",
                                     "The Content-MD5 you specified did not match what we "
                                     "received.");
            return -1;
        }
    }
    if (zkp_xml_parse_complete(body, r->buffer.len, ZKP_MPU_MAX_PARTS, c) != 0) {
        *res = zkp_respond_error(r, 400, "MalformedXML",
                                 "The XML you provided was not well-formed or did not validate "
                                 "against our published schema");
        return -1;
    }
    for (size_t i = 1; i < c->nparts; i++)
        if (c->parts[i].number <= c->parts[i - 1].number) {
            zkp_complete_req_free(c);
            *res = zkp_respond_error(r, 400, "InvalidPartOrder",
                                     "The list of parts was not in ascending order. Parts list "
                                     "must be specified in order by part number.");
            return -1;
        }
    return 0;
}

/* InvalidPart and EntityTooSmall name the part, as S3 does. */
static enum MHD_Result refuse_part(zkp_req_t *r, int rc, const zkp_part_ref_t *part)
{
    char num[16], min[24];
    snprintf(num, sizeof(num), "%d", part->number);
    snprintf(min, sizeof(min), "%llu", (unsigned long long)ZKP_MPU_MIN_PART);
    zkp_xml_extra_t extra[] = {{"UploadId", r->op.upload_id},
                               {"PartNumber", num},
                               {"ETag", part->etag},
                               {"MinSizeAllowed", min}};
    if (rc == ZKP_BE_INVALID_PART)
        return zkp_respond_error_x(r, 400, "InvalidPart",
                                   "One or more of the specified parts could not be found. The "
                                   "part may not have been uploaded, or the specified entity tag "
                                   "may not match the part's entity tag.",
                                   extra, 3);
    return zkp_respond_error_x(r, 400, "EntityTooSmall",
                               "Your proposed upload is smaller than the minimum allowed object "
                               "size: every part but the last must be at least 5 MiB.",
                               extra, 4);
}

static enum MHD_Result respond_completed(zkp_req_t *r, const char *etag)
{
    zkp_op_t *op = &r->op;
    const char *host = zkp_req_header(r, "Host");
    size_t klen = strlen(op->key);
    char *enc = malloc(3 * klen + 1);
    if (enc == NULL)
        return MHD_NO;
    zkp_pct_encode(op->key, klen, 1, enc);
    zkp_buf_t b;
    zkp_buf_init(&b);
    zkp_buf_puts(&b, ZKP_XML_DECL "<CompleteMultipartUploadResult xmlns=\"" ZKP_S3_NS "\">");
    zkp_buf_puts(&b, "<Location>");
    if (host != NULL) {
        zkp_buf_puts(&b, "http://");
        zkp_xml_escape(&b, host, strlen(host));
    }
    zkp_buf_printf(&b, "/%s/%s</Location>", op->bucket, enc);
    free(enc);
    zkp_xml_elem(&b, "Bucket", op->bucket);
    zkp_xml_elem(&b, "Key", op->key);
    zkp_buf_puts(&b, "<ETag>&quot;");
    zkp_xml_escape(&b, etag, strlen(etag));
    zkp_buf_puts(&b, "&quot;</ETag></CompleteMultipartUploadResult>\n");
    return respond_xml(r, &b);
}

enum MHD_Result zkp_op_complete_mpu(zkp_req_t *r)
{
    if (zkp_body_finish(r) != 0) /* framing, signatures, SHA-256, checksum */
        return zkp_body_respond_failed(r);
    zkp_op_t *op = &r->op;
    zkp_complete_req_t c;
    enum MHD_Result res;
    /* If-Match / If-None-Match ('*' only) on the object the completion
     * replaces: checked by the backend atomically with its publication. */
    if (zkp_precond_write_start(r, &res) != 0)
        return res;
    zkp_cond_t pre;
    zkp_precond_write(r, &pre);
    if (read_parts(r, &c, &res) != 0)
        return res;
    /* The object's provenance is the completion's fencing. */
    zkp_obj_meta_t prov;
    memset(&prov, 0, sizeof(prov));
    if (op->fence == ZKP_FENCE_PRESENT) {
        prov.fence_lock = op->lock;
        prov.fence_token = op->token;
    }
    zkp_backend_t *be = r->svc->be;
    zkp_put_t *p = NULL;
    char etag[ZKP_ETAG_MAX + 1];
    size_t bad = 0;
    int rc = be->ops->mpu_complete_begin(be, op->bucket, op->key, op->upload_id, c.parts, c.nparts,
                                         &prov, zkp_cond_none(&pre) ? NULL : &pre, &p, etag, &bad);
    if (rc == ZKP_BE_OK && p != NULL && r->upload_gone) {
        /* Unfenced, since no upload was found at the start: cannot be. */
        be->ops->put_abort(p);
        rc = ZKP_BE_NO_UPLOAD;
    }
    if (rc == ZKP_BE_INVALID_PART || rc == ZKP_BE_PART_TOO_SMALL)
        res = refuse_part(r, rc, &c.parts[bad < c.nparts ? bad : 0]);
    zkp_complete_req_free(&c);
    if (rc == ZKP_BE_INVALID_PART || rc == ZKP_BE_PART_TOO_SMALL)
        return res;
    if (rc != ZKP_BE_OK)
        return zkp_respond_be_error(r, rc);
    /* p == NULL: completed before (a retry whose first answer was lost). */
    if (p != NULL && zkp_gate_commit(r, p, etag, NULL, NULL, &res) != 0)
        return res;
    return respond_completed(r, etag);
}

/* --- AbortMultipartUpload, ListParts, ListMultipartUploads ----------------------------------- */

enum MHD_Result zkp_op_abort_mpu(zkp_req_t *r)
{
    zkp_backend_t *be = r->svc->be;
    zkp_op_t *op = &r->op;
    int rc = be->ops->mpu_abort(be, op->bucket, op->key, op->upload_id);
    if (rc != ZKP_BE_OK)
        return zkp_respond_be_error(r, rc);
    return zkp_respond_empty(r, 204);
}

enum MHD_Result zkp_op_list_parts(zkp_req_t *r)
{
    zkp_backend_t *be = r->svc->be;
    zkp_op_t *op = &r->op;
    zkp_part_list_t l;
    int rc = be->ops->mpu_list_parts(be, op->bucket, op->key, op->upload_id, op->part_marker,
                                     op->max_keys, &l);
    if (rc != ZKP_BE_OK)
        return zkp_respond_be_error(r, rc);
    zkp_buf_t b;
    zkp_buf_init(&b);
    upload_doc(&b, "ListPartsResult", op, op->upload_id);
    zkp_buf_printf(&b,
                   "<Initiator>" OWNER "</Initiator><Owner>" OWNER "</Owner>"
                   "<StorageClass>STANDARD</StorageClass><PartNumberMarker>%d</PartNumberMarker>"
                   "<NextPartNumberMarker>%d</NextPartNumberMarker><MaxParts>%d</MaxParts>"
                   "<IsTruncated>%s</IsTruncated>",
                   op->part_marker, l.next_marker, op->max_keys, l.truncated ? "true" : "false");
    for (size_t i = 0; i < l.n; i++) {
        char when[32];
        zkp_iso8601(l.parts[i].mtime, when, sizeof(when));
        zkp_buf_printf(&b, "<Part><PartNumber>%d</PartNumber><LastModified>%s</LastModified>",
                       l.parts[i].number, when);
        zkp_buf_puts(&b, "<ETag>&quot;");
        zkp_xml_escape(&b, l.parts[i].etag, strlen(l.parts[i].etag));
        zkp_buf_printf(&b, "&quot;</ETag><Size>%" PRIu64 "</Size></Part>", l.parts[i].size);
    }
    zkp_buf_puts(&b, "</ListPartsResult>\n");
    zkp_part_list_free(&l);
    return respond_xml(r, &b);
}

static void upload_items(zkp_buf_t *b, const zkp_op_t *op, const zkp_upload_list_result_t *res)
{
    for (size_t i = 0; i < res->n; i++) {
        const zkp_upload_item_t *it = &res->items[i];
        if (it->is_prefix)
            continue;
        char when[32];
        zkp_iso8601(it->initiated, when, sizeof(when));
        zkp_buf_puts(b, "<Upload>");
        zkp_xml_elem_enc(b, "Key", it->key, op->encoding_url);
        zkp_xml_elem(b, "UploadId", it->upload_id);
        zkp_buf_puts(b, "<Initiator>" OWNER "</Initiator><Owner>" OWNER "</Owner>"
                        "<StorageClass>STANDARD</StorageClass>");
        zkp_xml_elem(b, "Initiated", when);
        zkp_buf_puts(b, "</Upload>");
    }
    for (size_t i = 0; i < res->n; i++) {
        if (!res->items[i].is_prefix)
            continue;
        zkp_buf_puts(b, "<CommonPrefixes>");
        zkp_xml_elem_enc(b, "Prefix", res->items[i].key, op->encoding_url);
        zkp_buf_puts(b, "</CommonPrefixes>");
    }
}

enum MHD_Result zkp_op_list_mpu(zkp_req_t *r)
{
    zkp_backend_t *be = r->svc->be;
    zkp_op_t *op = &r->op;
    zkp_upload_list_req_t req = {
        .prefix = op->prefix,
        .delimiter = op->delimiter,
        .key_marker = op->key_marker,
        .upload_id_marker = op->upload_id_marker,
        .max_uploads = op->max_keys,
    };
    zkp_upload_list_result_t res;
    int rc = be->ops->mpu_list(be, op->bucket, &req, &res);
    if (rc != ZKP_BE_OK)
        return zkp_respond_be_error(r, rc);
    int enc = op->encoding_url;
    zkp_buf_t b;
    zkp_buf_init(&b);
    zkp_buf_puts(&b, ZKP_XML_DECL "<ListMultipartUploadsResult xmlns=\"" ZKP_S3_NS "\">");
    zkp_xml_elem(&b, "Bucket", op->bucket);
    zkp_xml_elem_enc(&b, "KeyMarker", op->key_marker ? op->key_marker : "", enc);
    zkp_xml_elem(&b, "UploadIdMarker", op->upload_id_marker ? op->upload_id_marker : "");
    if (res.truncated) {
        zkp_xml_elem_enc(&b, "NextKeyMarker", res.next_key ? res.next_key : "", enc);
        zkp_xml_elem(&b, "NextUploadIdMarker", res.next_upload_id ? res.next_upload_id : "");
    }
    if (op->delimiter != NULL)
        zkp_xml_elem_enc(&b, "Delimiter", op->delimiter, enc);
    zkp_xml_elem_enc(&b, "Prefix", op->prefix ? op->prefix : "", enc);
    zkp_buf_printf(&b, "<MaxUploads>%d</MaxUploads><IsTruncated>%s</IsTruncated>", op->max_keys,
                   res.truncated ? "true" : "false");
    if (enc)
        zkp_buf_puts(&b, "<EncodingType>url</EncodingType>");
    upload_items(&b, op, &res);
    zkp_buf_puts(&b, "</ListMultipartUploadsResult>\n");
    zkp_upload_list_result_free(&res);
    return respond_xml(r, &b);
}
