/* Bucket operations and listings (fenced listings through s3/gate.c). */
#include "s3/ops_bucket.h"

#include <stdlib.h>
#include <string.h>

#include "http/headcheck.h"
#include "http/respond.h"
#include "http/xml.h"
#include "s3/body.h"
#include "s3/errors.h"
#include "s3/gate.h"
#include "s3/service.h"
#include "util/buf.h"
#include "util/textutil.h"

static enum MHD_Result respond_xml(zkp_req_t *r, zkp_buf_t *b)
{
    size_t len;
    char *body = zkp_buf_steal(b, &len);
    return zkp_respond_body(r, 200, "application/xml", body, len);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const zkp_bucket_info_t *)a)->name, ((const zkp_bucket_info_t *)b)->name);
}

enum MHD_Result zkp_op_list_buckets(zkp_req_t *r)
{
    const zkp_op_t *op = &r->op;
    zkp_bucket_info_t *list;
    size_t n;
    int rc = r->svc->be->ops->bucket_list(r->svc->be, &list, &n);
    if (rc != ZKP_BE_OK)
        return zkp_respond_be_error(r, rc);
    /* In name order, so that a page ends where the next one starts. */
    qsort(list, n, sizeof(*list), by_name);
    const char *region = r->svc->cfg->region;
    int here = op->bucket_region == NULL || strcmp(op->bucket_region, region) == 0;
    zkp_buf_t b;
    zkp_buf_init(&b);
    zkp_buf_puts(&b, ZKP_XML_DECL "<ListAllMyBucketsResult xmlns=\"" ZKP_S3_NS "\">"
                                  "<Owner><ID>" ZKP_S3_OWNER_ID "</ID><DisplayName>" ZKP_S3_OWNER_ID
                                  "</DisplayName>"
                                  "</Owner><Buckets>");
    const char *last = NULL;
    int listed = 0, more = 0;
    for (size_t i = 0; here && i < n; i++) {
        const char *name = list[i].name;
        if (!zkp_req_may_read(r, name))
            continue; /* a key sees the buckets it may read, and no others */
        if (op->prefix != NULL && strncmp(name, op->prefix, strlen(op->prefix)) != 0)
            continue;
        if (op->resume_after != NULL && strcmp(name, op->resume_after) <= 0)
            continue;
        if (listed == op->max_keys) {
            more = 1;
            break;
        }
        char when[32];
        zkp_iso8601(list[i].created, when, sizeof(when));
        zkp_buf_puts(&b, "<Bucket>");
        zkp_xml_elem(&b, "Name", name);
        zkp_xml_elem(&b, "CreationDate", when);
        zkp_xml_elem(&b, "BucketRegion", region);
        zkp_buf_puts(&b, "</Bucket>");
        last = name;
        listed++;
    }
    zkp_buf_puts(&b, "</Buckets>");
    if (more && last != NULL) {
        char token[2 * sizeof(list[0].name) + 1];
        zkp_hex_encode((const unsigned char *)last, strlen(last), token);
        zkp_xml_elem(&b, "ContinuationToken", token);
    }
    if (op->prefix != NULL)
        zkp_xml_elem(&b, "Prefix", op->prefix);
    zkp_buf_puts(&b, "</ListAllMyBucketsResult>\n");
    free(list);
    return respond_xml(r, &b);
}

/* CreateBucketConfiguration is a few hundred bytes; anything near this is
 * not one. */
#define CREATE_BUCKET_BODY_MAX (64 * 1024)

int zkp_create_bucket_start(zkp_req_t *r)
{
    r->body_limit = CREATE_BUCKET_BODY_MAX;
    r->body_mode = ZKP_BODY_BUFFER;
    return 0;
}

/* The region GetBucketLocation names: empty for us-east-1, as S3 answers. */
static const char *location_of(const zkp_req_t *r)
{
    return strcmp(r->svc->cfg->region, "us-east-1") == 0 ? "" : r->svc->cfg->region;
}

enum MHD_Result zkp_op_create_bucket(zkp_req_t *r)
{
    if (zkp_body_finish(r) != 0) /* size, framing, the signed SHA-256 */
        return zkp_body_respond_failed(r);
    /* The body is a CreateBucketConfiguration or nothing. Anything else is
     * refused before a bucket is made: it is what a PutObject addressed
     * virtual-hosted style under a host name not in `domain` (so read as
     * path style) looks like here, and its data must not vanish behind a
     * 200. */
    if (!zkp_bucket_name_creatable(r->op.bucket, strlen(r->op.bucket)))
        return zkp_respond_error(r, 400, "InvalidBucketName",
                                 "The specified bucket is not valid: S3 does not allow this name "
                                 "(an IP address, a reserved prefix or suffix, or '-' next to "
                                 "'.')");
    char *constraint = NULL;
    if (zkp_xml_parse_create_bucket(r->buffer.data ? r->buffer.data : "", r->buffer.len,
                                    &constraint) != 0)
        return zkp_respond_error(r, 400, "MalformedXML",
                                 "The body of CreateBucket must be a CreateBucketConfiguration "
                                 "document or empty (a virtual-hosted request needs its host "
                                 "name in the proxy's domain setting)");
    if (constraint != NULL && constraint[0] != '\0' &&
        strcmp(constraint, r->svc->cfg->region) != 0) {
        char msg[200];
        snprintf(msg, sizeof(msg),
                 "The %.64s location constraint is incompatible with this endpoint's region, "
                 "%s",
                 constraint, r->svc->cfg->region);
        free(constraint);
        return zkp_respond_error(r, 400, "IllegalLocationConstraintException", msg);
    }
    free(constraint);
    int rc = r->svc->be->ops->bucket_create(r->svc->be, r->op.bucket);
    if (rc != ZKP_BE_OK)
        return zkp_respond_be_error(r, rc);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (resp == NULL)
        return MHD_NO;
    char loc[80];
    snprintf(loc, sizeof(loc), "/%s", r->op.bucket);
    MHD_add_response_header(resp, "Location", loc);
    return zkp_respond(r, 200, resp);
}

enum MHD_Result zkp_op_head_bucket(zkp_req_t *r)
{
    if (!r->svc->be->ops->bucket_exists(r->svc->be, r->op.bucket))
        return zkp_respond_be_error(r, ZKP_BE_NO_BUCKET);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (resp == NULL)
        return MHD_NO;
    /* Where the bucket is, as S3 says it (SDKs read it to pick a region). */
    MHD_add_response_header(resp, "x-amz-bucket-region", r->svc->cfg->region);
    return zkp_respond(r, 200, resp);
}

enum MHD_Result zkp_op_delete_bucket(zkp_req_t *r)
{
    /* Admin rights on the bucket, bound or not: the rights table
     * (auth/rights.c) checked them before this runs. */
    int rc = r->svc->be->ops->bucket_delete(r->svc->be, r->op.bucket);
    if (rc != ZKP_BE_OK)
        return zkp_respond_be_error(r, rc);
    return zkp_respond_empty(r, 204);
}

/* A bucket's configuration that is always the same: the empty element
 * <name/>, or NoSuchBucket. */
static enum MHD_Result empty_config(zkp_req_t *r, const char *name)
{
    if (!r->svc->be->ops->bucket_exists(r->svc->be, r->op.bucket))
        return zkp_respond_be_error(r, ZKP_BE_NO_BUCKET);
    zkp_buf_t b;
    zkp_buf_init(&b);
    zkp_buf_printf(&b, ZKP_XML_DECL "<%s xmlns=\"" ZKP_S3_NS "\"/>\n", name);
    return respond_xml(r, &b);
}

enum MHD_Result zkp_op_bucket_location(zkp_req_t *r)
{
    if (location_of(r)[0] == '\0')
        return empty_config(r, "LocationConstraint");
    if (!r->svc->be->ops->bucket_exists(r->svc->be, r->op.bucket))
        return zkp_respond_be_error(r, ZKP_BE_NO_BUCKET);
    zkp_buf_t b;
    zkp_buf_init(&b);
    zkp_buf_puts(&b, ZKP_XML_DECL "<LocationConstraint xmlns=\"" ZKP_S3_NS "\">");
    zkp_xml_escape(&b, location_of(r), strlen(location_of(r)));
    zkp_buf_puts(&b, "</LocationConstraint>\n");
    return respond_xml(r, &b);
}

/* --- versioning: none, and saying so ------------------------------------------ */

enum MHD_Result zkp_op_get_bucket_versioning(zkp_req_t *r)
{
    return empty_config(r, "VersioningConfiguration"); /* never versioned */
}

enum MHD_Result zkp_op_put_bucket_versioning(zkp_req_t *r)
{
    if (!r->svc->be->ops->bucket_exists(r->svc->be, r->op.bucket))
        return zkp_respond_be_error(r, ZKP_BE_NO_BUCKET);
    return zkp_respond_error(r, 501, "NotImplemented",
                             "Bucket versioning is not implemented by zkfence-proxy: every bucket "
                             "keeps one version of each object (its version id is null), and "
                             "fencing protects that one");
}

/* --- listings --------------------------------------------------------------- */

static void elem_enc(zkp_buf_t *b, const zkp_op_t *op, const char *tag, const char *value)
{
    zkp_xml_elem_enc(b, tag, value, op->encoding_url);
}

/* ListObjectVersions' head: the markers as sent, the next ones when
 * truncated (every version is "null"). */
static void versions_head(zkp_buf_t *b, const zkp_op_t *op, const zkp_list_result_t *res)
{
    zkp_buf_puts(b, ZKP_XML_DECL "<ListVersionsResult xmlns=\"" ZKP_S3_NS "\">");
    zkp_xml_elem(b, "Name", op->bucket);
    elem_enc(b, op, "Prefix", op->prefix ? op->prefix : "");
    elem_enc(b, op, "KeyMarker", op->key_marker ? op->key_marker : "");
    zkp_xml_elem(b, "VersionIdMarker", op->version_id_marker ? op->version_id_marker : "");
    if (res->truncated && res->next != NULL) {
        elem_enc(b, op, "NextKeyMarker", res->next);
        if (!res->items[res->n - 1].is_prefix)
            zkp_xml_elem(b, "NextVersionIdMarker", "null");
    }
    zkp_buf_printf(b, "<MaxKeys>%d</MaxKeys>", op->max_keys);
    if (op->delimiter != NULL)
        elem_enc(b, op, "Delimiter", op->delimiter);
    zkp_buf_printf(b, "<IsTruncated>%s</IsTruncated>", res->truncated ? "true" : "false");
    if (op->encoding_url)
        zkp_buf_puts(b, "<EncodingType>url</EncodingType>");
}

static void list_head(zkp_buf_t *b, const zkp_op_t *op, const zkp_list_result_t *res)
{
    if (op->kind == ZKP_OP_LIST_OBJECT_VERSIONS) {
        versions_head(b, op, res);
        return;
    }
    zkp_buf_puts(b, ZKP_XML_DECL "<ListBucketResult xmlns=\"" ZKP_S3_NS "\">");
    zkp_xml_elem(b, "Name", op->bucket);
    elem_enc(b, op, "Prefix", op->prefix ? op->prefix : "");
    if (op->delimiter != NULL)
        elem_enc(b, op, "Delimiter", op->delimiter);
    zkp_buf_printf(b, "<MaxKeys>%d</MaxKeys>", op->max_keys);
    if (op->encoding_url)
        zkp_buf_puts(b, "<EncodingType>url</EncodingType>");
    zkp_buf_printf(b, "<IsTruncated>%s</IsTruncated>", res->truncated ? "true" : "false");
    if (op->kind == ZKP_OP_LIST_OBJECTS_V2) {
        size_t keys = res->n;
        zkp_buf_printf(b, "<KeyCount>%zu</KeyCount>", keys);
        if (op->continuation_token != NULL)
            zkp_xml_elem(b, "ContinuationToken", op->continuation_token);
        if (op->start_after != NULL)
            elem_enc(b, op, "StartAfter", op->start_after);
        if (res->truncated && res->next != NULL) {
            size_t len = strlen(res->next);
            char *hex = malloc(2 * len + 1);
            if (hex == NULL) {
                b->oom = 1;
                return;
            }
            zkp_hex_encode((const unsigned char *)res->next, len, hex);
            zkp_xml_elem(b, "NextContinuationToken", hex);
            free(hex);
        }
    } else {
        elem_enc(b, op, "Marker", op->marker ? op->marker : "");
        /* S3 returns NextMarker only with a delimiter; clients otherwise
         * resume from the last key. We always send it: it is harmless. */
        if (res->truncated && res->next != NULL)
            elem_enc(b, op, "NextMarker", res->next);
    }
}

static void list_items(zkp_buf_t *b, const zkp_op_t *op, const zkp_list_result_t *res)
{
    for (size_t i = 0; i < res->n; i++) {
        const zkp_list_item_t *it = &res->items[i];
        if (it->is_prefix)
            continue;
        char when[32];
        zkp_iso8601(it->mtime, when, sizeof(when));
        int versions = op->kind == ZKP_OP_LIST_OBJECT_VERSIONS;
        zkp_buf_puts(b, versions ? "<Version>" : "<Contents>");
        elem_enc(b, op, "Key", it->name);
        if (versions)
            zkp_buf_puts(b, "<VersionId>null</VersionId><IsLatest>true</IsLatest>");
        zkp_xml_elem(b, "LastModified", when);
        zkp_buf_printf(b, "<ETag>&quot;%s&quot;</ETag><Size>%llu</Size>", it->etag,
                       (unsigned long long)it->size);
        if (op->kind != ZKP_OP_LIST_OBJECTS_V2 || op->fetch_owner)
            zkp_buf_puts(b, "<Owner><ID>" ZKP_S3_OWNER_ID "</ID><DisplayName>" ZKP_S3_OWNER_ID
                            "</DisplayName></Owner>");
        zkp_buf_puts(b, versions ? "<StorageClass>STANDARD</StorageClass></Version>"
                                 : "<StorageClass>STANDARD</StorageClass></Contents>");
    }
    for (size_t i = 0; i < res->n; i++) {
        if (!res->items[i].is_prefix)
            continue;
        zkp_buf_puts(b, "<CommonPrefixes>");
        elem_enc(b, op, "Prefix", res->items[i].name);
        zkp_buf_puts(b, "</CommonPrefixes>");
    }
}

enum MHD_Result zkp_op_list_objects(zkp_req_t *r)
{
    zkp_op_t *op = &r->op;
    zkp_list_req_t req = {
        .prefix = op->prefix,
        .delimiter = op->delimiter,
        .after = op->resume_after,
        .max_keys = op->max_keys,
    };
    /* V2: a continuation token supersedes start-after. */
    if (req.after == NULL && op->kind == ZKP_OP_LIST_OBJECTS_V2)
        req.after = op->start_after;
    /* A fenced listing builds its page (its snapshot) inside the lock's
     * section, once its token is the durable mark. */
    zkp_gate_t fence;
    enum MHD_Result refused;
    if (zkp_gate_enter(r, &fence, NULL, &refused) != 0)
        return refused;
    zkp_list_result_t res;
    int rc = r->svc->be->ops->list(r->svc->be, op->bucket, &req, &res);
    zkp_gate_leave(&fence);
    if (rc != ZKP_BE_OK)
        return zkp_respond_be_error(r, rc);
    zkp_buf_t b;
    zkp_buf_init(&b);
    list_head(&b, op, &res);
    list_items(&b, op, &res);
    zkp_buf_puts(&b, op->kind == ZKP_OP_LIST_OBJECT_VERSIONS ? "</ListVersionsResult>\n"
                                                             : "</ListBucketResult>\n");
    zkp_list_result_free(&res);
    return respond_xml(r, &b);
}
