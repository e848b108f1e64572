#include "http/request.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "fence/fence.h"
#include "util/textutil.h"

#define S3_MAX_KEY 1024
#define S3_MAX_LIST 1000

static const char *const op_names[] = {
#define ZKP_OP_NAME_(name, str) str,
    ZKP_OP_KINDS(ZKP_OP_NAME_)
#undef ZKP_OP_NAME_
};

const char *zkp_op_name(zkp_op_kind_t k)
{
    if ((unsigned)k >= ZKP_OP_COUNT_)
        return "Unknown";
    return op_names[k];
}

int zkp_op_stores_metadata(zkp_op_kind_t k)
{
    return k == ZKP_OP_PUT_OBJECT || k == ZKP_OP_COPY_OBJECT;
}

/* Sub-resources of the S3 API that this proxy does not implement. A request
 * naming one gets 501 instead of being mistaken for a plain object or
 * bucket operation (a PUT ?acl must not overwrite the object). */
static const char *const unsupported_subresources[] = {
    "accelerate",
    "acl",
    "analytics",
    "attributes",
    "cors",
    "encryption",
    "intelligent-tiering",
    "inventory",
    "legal-hold",
    "lifecycle",
    "logging",
    "metrics",
    "notification",
    "object-lock",
    "ownershipControls",
    "policy",
    "policyStatus",
    "publicAccessBlock",
    "replication",
    "requestPayment",
    "restore",
    "retention",
    "select",
    "tagging",
    "torrent",
    "website",
};

static int fail(zkp_op_t *op, int status, const char *code, const char *msg)
{
    op->status = status;
    op->err_code = code;
    op->err_msg = msg;
    return -1;
}

/* Decodes s[0..len) into a fresh NUL-terminated string. NULL on malformed
 * escapes or allocation failure; *outlen gets the decoded length. */
static char *decode_dup(const char *s, size_t len, int plus_is_space, size_t *outlen)
{
    char *out = malloc(len + 1);
    if (out == NULL)
        return NULL;
    size_t n;
    if (zkp_pct_decode(s, len, plus_is_space, out, &n) != 0) {
        free(out);
        return NULL;
    }
    if (outlen != NULL)
        *outlen = n;
    return out;
}

/* The query parameters this classifier acts on. Unknown parameters (x-id,
 * ...) are ignored, as S3 does. */
typedef struct query {
    int list_type; /* 0 absent, else the value */
    int has_delete, has_location, has_unsupported;
    int has_uploads, has_versioning, has_versions;
    int has_upload_id, has_part_number, has_version_id; /* present, with or without a value */
    int bad;       /* 1: malformed escape; 2: a parameter twice, or a NUL */
    unsigned seen; /* bit i: params[i] of query_param() (then list-type, then the flagged ones) */
    const char *unsupported;
    char *prefix, *delimiter, *start_after, *marker, *cont, *encoding, *max_keys, *fetch_owner, *on;
    char *lock, *mark, *clear, *reason; /* marks/repair */
    int has_clear;
    char *upload_id, *part_number, *part_marker, *max_parts, *max_uploads;
    char *key_marker, *upload_id_marker, *version_id_marker, *version_id;
    char *response[ZKP_RESPONSE_OVERRIDE_COUNT]; /* response-*, as ZKP_RESPONSE_OVERRIDES */
    char *max_buckets, *bucket_region;           /* ListBuckets */
} query_t;

const struct zkp_response_override ZKP_RESPONSE_OVERRIDES[ZKP_RESPONSE_OVERRIDE_COUNT] = {
    {"response-cache-control", "Cache-Control"},
    {"response-content-disposition", "Content-Disposition"},
    {"response-content-encoding", "Content-Encoding"},
    {"response-content-language", "Content-Language"},
    {"response-content-type", "Content-Type"},
    {"response-expires", "Expires"},
};

static void query_free(query_t *q)
{
    char **all[] = {&q->prefix,
                    &q->delimiter,
                    &q->start_after,
                    &q->marker,
                    &q->cont,
                    &q->encoding,
                    &q->max_keys,
                    &q->fetch_owner,
                    &q->on,
                    &q->lock,
                    &q->mark,
                    &q->clear,
                    &q->reason,
                    &q->upload_id,
                    &q->part_number,
                    &q->part_marker,
                    &q->max_parts,
                    &q->max_uploads,
                    &q->key_marker,
                    &q->upload_id_marker,
                    &q->version_id_marker,
                    &q->version_id,
                    &q->max_buckets,
                    &q->bucket_region};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        free(*all[i]);
    for (size_t i = 0; i < ZKP_RESPONSE_OVERRIDE_COUNT; i++)
        free(q->response[i]);
}

/* Records one decoded parameter (value: owned, NULL without '='). A
 * parameter this classifier acts on may appear once: with two, which one
 * counts would be a guess (the signature covers both). Returns 0, or -1. */
static int query_param(query_t *q, const char *name, char *value)
{
    struct {
        const char *name;
        char **slot;
    } params[] = {
        {"prefix", &q->prefix},
        {"delimiter", &q->delimiter},
        {"start-after", &q->start_after},
        {"marker", &q->marker},
        {"continuation-token", &q->cont},
        {"encoding-type", &q->encoding},
        {"max-keys", &q->max_keys},
        {"fetch-owner", &q->fetch_owner},
        {"on", &q->on},
        {"lock", &q->lock},
        {"mark", &q->mark},
        {"clear", &q->clear},
        {"reason", &q->reason},
        {"part-number-marker", &q->part_marker},
        {"max-parts", &q->max_parts},
        {"max-uploads", &q->max_uploads},
        {"key-marker", &q->key_marker},
        {"upload-id-marker", &q->upload_id_marker},
        {"version-id-marker", &q->version_id_marker},
        {"response-cache-control", &q->response[0]},
        {"response-content-disposition", &q->response[1]},
        {"response-content-encoding", &q->response[2]},
        {"response-content-language", &q->response[3]},
        {"response-content-type", &q->response[4]},
        {"response-expires", &q->response[5]},
        {"max-buckets", &q->max_buckets},
        {"bucket-region", &q->bucket_region},
    };
    _Static_assert(sizeof(params) / sizeof(params[0]) + 4 <= 32, "one bit each in seen");
    size_t np = sizeof(params) / sizeof(params[0]);
    for (size_t i = 0; i < np; i++) {
        if (strcmp(name, params[i].name) == 0) {
            if (q->seen & 1u << i) {
                free(value);
                return -1;
            }
            q->seen |= 1u << i;
            q->has_clear |= params[i].slot == &q->clear;
            *params[i].slot = value;
            return 0;
        }
    }
    if (strcmp(name, "list-type") == 0 && (q->seen & 1u << np)) {
        free(value);
        return -1;
    }
    /* Parameters whose presence matters even without a value; once each,
     * too. */
    struct {
        const char *name;
        int *present;
        char **slot;
    } flagged[] = {
        {"uploadId", &q->has_upload_id, &q->upload_id},
        {"partNumber", &q->has_part_number, &q->part_number},
        {"versionId", &q->has_version_id, &q->version_id},
    };
    for (size_t i = 0; i < sizeof(flagged) / sizeof(flagged[0]); i++) {
        if (strcmp(name, flagged[i].name) == 0) {
            unsigned bit = 1u << (np + 1 + i);
            if (q->seen & bit) {
                free(value);
                return -1;
            }
            q->seen |= bit;
            *flagged[i].present = 1;
            *flagged[i].slot = value;
            return 0;
        }
    }
    if (strcmp(name, "list-type") == 0)
        q->seen |= 1u << np, q->list_type = value != NULL && strcmp(value, "2") == 0 ? 2 : -1;
    else if (strcmp(name, "uploads") == 0)
        q->has_uploads = 1;
    else if (strcmp(name, "versioning") == 0)
        q->has_versioning = 1;
    else if (strcmp(name, "versions") == 0)
        q->has_versions = 1;
    else if (strcmp(name, "delete") == 0)
        q->has_delete = 1;
    else if (strcmp(name, "location") == 0)
        q->has_location = 1;
    else {
        for (size_t i = 0; i < sizeof(unsupported_subresources) / sizeof(char *); i++)
            if (strcmp(name, unsupported_subresources[i]) == 0) {
                q->has_unsupported = 1;
                q->unsupported = unsupported_subresources[i];
            }
    }
    free(value);
    return 0;
}

/* Splits "a=1&b&c=%20" into decoded parameters. A parameter without '='
 * has a NULL value, as with "?delete". */
static int parse_query(const char *qs, query_t *q)
{
    while (*qs != '\0') {
        const char *amp = strchr(qs, '&');
        size_t len = amp ? (size_t)(amp - qs) : strlen(qs);
        const char *eq = memchr(qs, '=', len);
        size_t nlen = eq ? (size_t)(eq - qs) : len;
        if (len > 0) {
            size_t dn = 0, dv = 0;
            char *name = decode_dup(qs, nlen, 1, &dn);
            char *value = eq ? decode_dup(eq + 1, len - nlen - 1, 1, &dv) : NULL;
            if (name == NULL || (eq != NULL && value == NULL)) {
                free(name);
                free(value);
                q->bad = 1;
                return -1;
            }
            /* A NUL would end the name or value early here, where the
             * signature covers the bytes after it. */
            int nul = memchr(name, '\0', dn) != NULL || (value && memchr(value, '\0', dv));
            if (nul)
                free(value);
            if (nul || query_param(q, name, value) != 0) {
                free(name);
                q->bad = 2;
                return -1;
            }
            free(name);
        }
        qs += len;
        if (*qs == '&')
            qs++;
    }
    return 0;
}

static int key_check(zkp_op_t *op, const char *key, size_t len, size_t max)
{
    if (len > max)
        return fail(op, 400, "KeyTooLongError", "Your key is too long");
    if (memchr(key, '\0', len) != NULL)
        return fail(op, 400, "InvalidArgument", "Object keys must not contain NUL");
    if (!zkp_utf8_valid(key, len))
        return fail(op, 400, "InvalidArgument", "Object keys must be valid UTF-8");
    return 0;
}

/* Splits a raw (still percent-encoded) "/bucket/key" (leading '/' optional,
 * as in x-amz-copy-source) at its first literal '/' into a validated bucket
 * and key, each decoded on its own. An escaped slash (%2F) is data, as in
 * the SigV4 canonical URI (sigv4/sigv4_canon.c): "/a%2Fb" names the bucket
 * "a/b" (invalid), never bucket "a" and key "b", so one signed spelling
 * names one resource. */
static int split_bucket_key(zkp_op_t *op, const char *raw, size_t len, char *bucket, char **key,
                            size_t *key_len, size_t max_key)
{
    if (len > 0 && raw[0] == '/') {
        raw++;
        len--;
    }
    const char *slash = memchr(raw, '/', len);
    size_t braw = slash ? (size_t)(slash - raw) : len;
    size_t blen;
    char *b = decode_dup(raw, braw, 0, &blen);
    if (b == NULL)
        return fail(op, 400, "InvalidURI", "Couldn't parse the specified URI");
    int valid = zkp_bucket_name_valid(b, blen);
    if (valid) {
        memcpy(bucket, b, blen);
        bucket[blen] = '\0';
    }
    free(b);
    if (!valid)
        return fail(op, 400, "InvalidBucketName", "The specified bucket is not valid");
    if (slash == NULL || braw + 1 == len)
        return 0; /* bucket level: "/b" or "/b/" */
    size_t klen;
    char *k = decode_dup(slash + 1, len - braw - 1, 0, &klen);
    if (k == NULL)
        return fail(op, 400, "InvalidURI", "Couldn't parse the specified URI");
    if (key_check(op, k, klen, max_key) != 0) {
        free(k);
        return -1;
    }
    *key = k;
    *key_len = klen;
    return 0;
}

static int parse_fencing(const zkp_request_in_t *in, zkp_op_t *op)
{
    const char *lock = in->fencing_lock;
    const char *token = in->fencing_token;
    /* The two spellings must agree when both are sent: otherwise it is not
     * clear which write this is. */
    if (lock != NULL && in->meta_fencing_lock != NULL && strcmp(lock, in->meta_fencing_lock) != 0)
        return fail(op, 400, "InvalidFencingLock",
                    "X-Fencing-Lock and x-amz-meta-fencing-lock disagree");
    if (token != NULL && in->meta_fencing_token != NULL &&
        strcmp(token, in->meta_fencing_token) != 0)
        return fail(op, 400, "InvalidFencingToken",
                    "X-Fencing-Token and x-amz-meta-fencing-token disagree");
    if (lock == NULL)
        lock = in->meta_fencing_lock;
    if (token == NULL)
        token = in->meta_fencing_token;
    if (lock == NULL && token == NULL) {
        op->fence = ZKP_FENCE_ABSENT;
        return 0;
    }
    if (token != NULL && zkp_token_parse(token, strlen(token), &op->token) != 0)
        return fail(op, 400, "InvalidFencingToken",
                    "The fencing token must be the decimal text of an unsigned 64-bit number");
    const char *problem = lock != NULL ? zkp_lock_name_problem(lock, strlen(lock)) : NULL;
    if (problem != NULL)
        return fail(op, 400, "InvalidFencingLock", problem);
    if (lock != NULL && (op->lock = strdup(lock)) == NULL)
        return fail(op, 500, "InternalError", "Out of memory");
    op->fence = lock == NULL || token == NULL ? ZKP_FENCE_PARTIAL : ZKP_FENCE_PRESENT;
    return 0;
}

#define REPAIR_REASON_MAX 512

/* POST /_zkfence/marks/repair?lock=L&mark=N|clear&reason=TEXT */
static int parse_repair(const query_t *q, zkp_op_t *op)
{
    op->kind = ZKP_OP_ADMIN_REPAIR;
    if (q->lock == NULL)
        return fail(op, 400, "InvalidArgument", "A mark repair names its lock: ?lock=/locks/...");
    if ((q->mark != NULL) == q->has_clear)
        return fail(op, 400, "InvalidArgument",
                    "A mark repair gives either mark=N (the mark becomes N, lower than it is) or "
                    "clear (the mark is removed), not both");
    if (q->has_clear && q->clear != NULL && strcmp(q->clear, "1") != 0 && q->clear[0] != '\0')
        return fail(op, 400, "InvalidArgument", "clear takes no value (or 1)");
    op->repair_clear = q->has_clear;
    /* Clearing takes the names of the older rule too: the inert marks. */
    size_t llen = strlen(q->lock);
    const char *problem = zkp_lock_name_problem(q->lock, llen);
    if (problem != NULL && !(op->repair_clear && zkp_lock_name_legacy(q->lock, llen)))
        return fail(op, 400, "InvalidFencingLock", problem);
    if (q->mark != NULL && zkp_token_parse(q->mark, strlen(q->mark), &op->repair_mark) != 0)
        return fail(op, 400, "InvalidArgument",
                    "mark must be the decimal text of an unsigned 64-bit number");
    size_t rlen = q->reason ? strlen(q->reason) : 0;
    int printable = rlen > 0 && rlen <= REPAIR_REASON_MAX && zkp_utf8_valid(q->reason, rlen);
    for (size_t i = 0; printable && i < rlen; i++)
        printable = (unsigned char)q->reason[i] >= 0x20 && q->reason[i] != 0x7f;
    if (!printable)
        return fail(op, 400, "InvalidArgument",
                    "A mark repair needs a reason (?reason=, 1 to 512 bytes of text without "
                    "control characters): it goes to the audit log");
    if ((op->lock = strdup(q->lock)) == NULL || (op->reason = strdup(q->reason)) == NULL)
        return fail(op, 500, "InternalError", "Out of memory");
    return 0;
}

/* what: the decoded path after ZKP_ADMIN_PREFIX ("marks"). */
static int parse_admin(const char *what, const char *method, const query_t *q, zkp_op_t *op)
{
    int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    if (strcmp(what, "health") == 0 && get)
        op->kind = ZKP_OP_ADMIN_HEALTH;
    else if (strcmp(what, "metrics") == 0 && get)
        op->kind = ZKP_OP_ADMIN_METRICS;
    else if (strcmp(what, "marks") == 0 && get)
        op->kind = ZKP_OP_ADMIN_MARKS;
    else if (strcmp(what, "fence-advance") == 0 && strcmp(method, "POST") == 0)
        op->kind = ZKP_OP_ADMIN_FENCE_ADVANCE;
    else if (strcmp(what, "marks/repair") == 0 && strcmp(method, "POST") == 0)
        return parse_repair(q, op);
    else if (strcmp(what, "debug/marks-fail") == 0 && strcmp(method, "POST") == 0) {
        if (q->on == NULL || (strcmp(q->on, "0") != 0 && strcmp(q->on, "1") != 0))
            return fail(op, 400, "InvalidArgument", "Use ?on=1 or ?on=0");
        op->kind = ZKP_OP_ADMIN_FAULT;
        op->fault_on = q->on[0] == '1';
    } else
        return fail(op, 404, "NoSuchAdminEndpoint", "Unknown admin endpoint or method");
    return 0;
}

static int parse_max_keys(const char *s, int *out)
{
    if (s == NULL) {
        *out = S3_MAX_LIST;
        return 0;
    }
    if (*s == '\0' || strlen(s) > 9)
        return -1;
    long v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
    }
    *out = v > S3_MAX_LIST ? S3_MAX_LIST : (int)v;
    return 0;
}

static char *take(char **slot)
{
    char *v = *slot;
    *slot = NULL;
    return v;
}

/* The page size of a listing: max-keys, max-uploads or max-parts. */
static int parse_page_size(zkp_op_t *op, const char *value, const char *name)
{
    if (parse_max_keys(value, &op->max_keys) == 0)
        return 0;
    op->status = 400;
    op->err_code = "InvalidArgument";
    op->err_msg = strcmp(name, "max-keys") == 0    ? "max-keys must be a non-negative integer"
                  : strcmp(name, "max-parts") == 0 ? "max-parts must be a non-negative integer"
                                                   : "max-uploads must be a non-negative integer";
    return -1;
}

/* A continuation token (ListObjectsV2, ListBuckets) into resume_after: ours
 * are the hex of the last key or name returned; clients treat them as
 * opaque. Kept as sent in continuation_token. */
static int take_continuation(zkp_op_t *op, query_t *q)
{
    size_t len = strlen(q->cont);
    op->resume_after = malloc(len / 2 + 1);
    if (op->resume_after == NULL)
        return fail(op, 500, "InternalError", "Out of memory");
    long n = zkp_hex_decode(q->cont, len, (unsigned char *)op->resume_after, len / 2);
    if (n <= 0 || memchr(op->resume_after, '\0', (size_t)n) != NULL)
        return fail(op, 400, "InvalidArgument", "The continuation token provided is incorrect");
    op->resume_after[n] = '\0';
    op->continuation_token = take(&q->cont);
    return 0;
}

/* ListBuckets' parameters: prefix, continuation-token, max-buckets
 * (1..10000; absent: every bucket), bucket-region. */
static int parse_bucket_listing(zkp_op_t *op, query_t *q)
{
    op->prefix = take(&q->prefix);
    op->bucket_region = take(&q->bucket_region);
    op->max_keys = ZKP_MAX_BUCKETS;
    if (q->max_buckets != NULL) {
        int n = 0;
        const char *v = q->max_buckets;
        size_t len = strlen(v);
        int ok = len > 0 && len <= 5;
        for (size_t i = 0; ok && i < len; i++) {
            ok = v[i] >= '0' && v[i] <= '9';
            n = n * 10 + (v[i] - '0');
        }
        if (!ok || n < 1 || n > ZKP_MAX_BUCKETS)
            return fail(op, 400, "InvalidArgument", "max-buckets must be an integer in 1..10000");
        op->max_keys = n;
    }
    return q->cont != NULL ? take_continuation(op, q) : 0;
}

/* What every listing takes: prefix, delimiter, encoding-type. */
static int parse_listing_common(zkp_op_t *op, query_t *q)
{
    if (q->encoding != NULL && strcmp(q->encoding, "url") != 0)
        return fail(op, 400, "InvalidArgument", "Invalid Encoding Method specified in Request");
    op->encoding_url = q->encoding != NULL;
    op->prefix = take(&q->prefix);
    op->delimiter = take(&q->delimiter);
    if (op->delimiter != NULL && op->delimiter[0] == '\0') {
        free(op->delimiter); /* an empty delimiter groups nothing */
        op->delimiter = NULL;
    }
    return 0;
}

static int parse_listing(zkp_op_t *op, query_t *q)
{
    if (parse_page_size(op, q->max_keys, "max-keys") != 0 || parse_listing_common(op, q) != 0)
        return -1;
    if (op->kind == ZKP_OP_LIST_OBJECTS_V2) {
        op->start_after = take(&q->start_after);
        op->fetch_owner = q->fetch_owner != NULL && strcmp(q->fetch_owner, "true") == 0;
        if (q->cont != NULL && take_continuation(op, q) != 0)
            return -1;
    } else {
        op->marker = take(&q->marker);
        if (op->marker != NULL && (op->resume_after = strdup(op->marker)) == NULL)
            return fail(op, 500, "InternalError", "Out of memory");
    }
    return 0;
}

/* key-marker, kept as sent and as the resume point of the listing. An
 * empty one is no marker. */
static int take_key_marker(zkp_op_t *op, query_t *q)
{
    if (q->key_marker != NULL && q->key_marker[0] == '\0') {
        free(q->key_marker);
        q->key_marker = NULL;
    }
    op->key_marker = take(&q->key_marker);
    if (op->key_marker != NULL && (op->resume_after = strdup(op->key_marker)) == NULL)
        return fail(op, 500, "InternalError", "Out of memory");
    return 0;
}

/* ListObjectVersions: each object is its one version, "null" (no bucket
 * here is versioned), so the only version-id-marker there can be is
 * "null", and it needs a key-marker, as S3 says. */
static int parse_versions_listing(zkp_op_t *op, query_t *q)
{
    if (parse_page_size(op, q->max_keys, "max-keys") != 0 || parse_listing_common(op, q) != 0 ||
        take_key_marker(op, q) != 0)
        return -1;
    const char *vm = q->version_id_marker;
    if (vm == NULL || vm[0] == '\0')
        return 0;
    if (op->key_marker == NULL)
        return fail(op, 400, "InvalidArgument",
                    "A version-id marker cannot be specified without a key marker.");
    if (strcmp(vm, "null") != 0)
        return fail(op, 400, "InvalidArgument", "Invalid version id specified");
    op->version_id_marker = take(&q->version_id_marker);
    return 0;
}

static int parse_uploads_listing(zkp_op_t *op, query_t *q)
{
    if (parse_page_size(op, q->max_uploads, "max-uploads") != 0 ||
        parse_listing_common(op, q) != 0 || take_key_marker(op, q) != 0)
        return -1;
    /* Without a key-marker, S3 ignores the upload-id-marker. */
    if (op->key_marker != NULL && q->upload_id_marker != NULL && q->upload_id_marker[0] != '\0')
        op->upload_id_marker = take(&q->upload_id_marker);
    return 0;
}

/* The sub-resources of a bucket this proxy answers: uploads in progress,
 * and the versioning questions of tools that assume versioning. */
static int classify_bucket_sub(const zkp_request_in_t *in, zkp_op_t *op, query_t *q)
{
    const char *m = in->method;
    if (strcmp(m, "GET") == 0 && q->has_uploads) {
        op->kind = ZKP_OP_LIST_MULTIPART_UPLOADS;
        return parse_uploads_listing(op, q);
    }
    if (strcmp(m, "GET") == 0 && q->has_versions) {
        op->kind = ZKP_OP_LIST_OBJECT_VERSIONS;
        return parse_versions_listing(op, q);
    }
    if (q->has_versioning && (strcmp(m, "GET") == 0 || strcmp(m, "PUT") == 0)) {
        op->kind = m[0] == 'G' ? ZKP_OP_GET_BUCKET_VERSIONING : ZKP_OP_PUT_BUCKET_VERSIONING;
        return 0;
    }
    return fail(op, 405, "MethodNotAllowed",
                "The specified method is not allowed against this resource");
}

static int classify_bucket(const zkp_request_in_t *in, zkp_op_t *op, query_t *q)
{
    const char *m = in->method;
    /* Never a plain bucket operation: a DELETE ?uploadId= must not delete
     * the bucket, nor a PUT ?versioning create one. */
    if (q->has_upload_id || q->has_part_number)
        return fail(op, 400, "InvalidRequest", "uploadId and partNumber name an object's upload");
    if (q->has_uploads || q->has_versions || q->has_versioning)
        return classify_bucket_sub(in, op, q);
    if (strcmp(m, "PUT") == 0)
        op->kind = ZKP_OP_CREATE_BUCKET;
    else if (strcmp(m, "HEAD") == 0)
        op->kind = ZKP_OP_HEAD_BUCKET;
    else if (strcmp(m, "DELETE") == 0)
        op->kind = ZKP_OP_DELETE_BUCKET;
    else if (strcmp(m, "POST") == 0 && q->has_delete)
        op->kind = ZKP_OP_DELETE_OBJECTS;
    else if (strcmp(m, "GET") == 0 && q->has_location)
        op->kind = ZKP_OP_GET_BUCKET_LOCATION;
    else if (strcmp(m, "GET") == 0) {
        if (q->list_type < 0)
            return fail(op, 400, "InvalidArgument", "list-type must be 2 when present");
        op->kind = q->list_type == 2 ? ZKP_OP_LIST_OBJECTS_V2 : ZKP_OP_LIST_OBJECTS_V1;
        return parse_listing(op, q);
    } else if (strcmp(m, "POST") == 0)
        /* S3's POST Object (an HTML form upload, presigned POST policy). */
        return fail(op, 501, "NotImplemented",
                    "POST Object (browser-based form upload) is not implemented: use PutObject "
                    "or a presigned PUT URL");
    else
        return fail(op, 405, "MethodNotAllowed",
                    "The specified method is not allowed against this resource");
    return 0;
}

/* S3's version ids are 32 characters of this set; anything else is not
 * one. */
static int version_id_shaped(const char *v)
{
    size_t n = strlen(v);
    return n == 32 && strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                "0123456789._-") == n;
}

int zkp_version_id_check(const char *v, int *status, const char **code, const char **msg)
{
    *status = 400;
    *code = "InvalidArgument";
    if (v == NULL || v[0] == '\0') {
        *msg = "Version id cannot be the empty string";
        return -1;
    }
    if (strcmp(v, "null") == 0)
        return 0;
    if (version_id_shaped(v)) {
        *status = 404;
        *code = "NoSuchVersion";
        *msg = "The specified version does not exist.";
    } else
        *msg = "Invalid version id specified";
    return -1;
}

/* A versionId on an object request (zkp_version_id_check). */
static int check_version_id(zkp_op_t *op, int present, const char *v)
{
    if (!present || zkp_version_id_check(v, &op->status, &op->err_code, &op->err_msg) == 0)
        return 0;
    return -1;
}

/* x-amz-copy-source: "/bucket/key" or "bucket/key", percent-encoded, with
 * an optional ?versionId= (null, or refused as above). */
static int parse_copy_source(const zkp_request_in_t *in, zkp_op_t *op, size_t max_key)
{
    const char *cs = in->copy_source;
    const char *qm = strchr(cs, '?');
    if (qm != NULL) {
        query_t cq;
        memset(&cq, 0, sizeof(cq));
        int rc = parse_query(qm + 1, &cq) != 0
                     ? fail(op, 400, "InvalidArgument", "Malformed x-amz-copy-source")
                     : check_version_id(op, cq.has_version_id, cq.version_id);
        query_free(&cq);
        if (rc != 0)
            return rc;
    }
    size_t len = qm ? (size_t)(qm - cs) : strlen(cs);
    size_t klen = 0;
    if (split_bucket_key(op, cs, len, op->src_bucket, &op->src_key, &klen, max_key) != 0) {
        if (op->status == 400 && strcmp(op->err_code, "InvalidURI") == 0)
            op->err_code = "InvalidArgument", op->err_msg = "Malformed x-amz-copy-source";
        return -1;
    }
    if (op->src_key == NULL)
        return fail(op, 400, "InvalidArgument", "x-amz-copy-source must name an object");
    return 0;
}

/* Decimal digits only, no sign, at most 20 of them, within uint64_t. */
static const char *parse_u64_text(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return NULL;
        v = v * 10 + d;
    }
    if (p == s)
        return NULL;
    *out = v;
    return p;
}

/* x-amz-copy-source-range: "bytes=first-last", both given, first <= last.
 * Whether the range lies inside the source is the backend's to say. */
static int parse_copy_range(const char *v, zkp_op_t *op)
{
    const char *p = strncmp(v, "bytes=", 6) == 0 ? v + 6 : NULL;
    if (p != NULL && (p = parse_u64_text(p, &op->copy_first)) != NULL && *p == '-')
        p = parse_u64_text(p + 1, &op->copy_last);
    else
        p = NULL;
    if (p == NULL || *p != '\0' || op->copy_first > op->copy_last)
        return fail(op, 400, "InvalidArgument",
                    "The x-amz-copy-source-range value must be of the form bytes=first-last "
                    "where first and last are the zero-based offsets of the first and last "
                    "bytes to copy");
    op->has_copy_range = 1;
    return 0;
}

/* A number 1..max (max <= 10000), decimal; -1 if not. */
static int parse_small(const char *s, int min, int max)
{
    uint64_t v;
    const char *end = s ? parse_u64_text(s, &v) : NULL;
    if (end == NULL || *end != '\0' || v < (uint64_t)min || v > (uint64_t)max)
        return -1;
    return (int)v;
}

/* A well-formed upload id: whether it names an upload is the backend's
 * answer. Anything else is an upload that cannot exist. */
static int upload_id_shaped(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > ZKP_UPLOAD_ID_LEN_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (id[i] < 0x21 || id[i] > 0x7e)
            return 0;
    return 1;
}

/* Requests on an object's multipart uploads: ?uploads, ?uploadId=,
 * ?partNumber=. */
static int classify_multipart(const zkp_request_in_t *in, zkp_op_t *op, query_t *q, size_t max_key)
{
    const char *m = in->method;
    if (q->has_uploads)
        return strcmp(m, "POST") == 0 ? (op->kind = ZKP_OP_CREATE_MULTIPART_UPLOAD, 0)
                                      : fail(op, 405, "MethodNotAllowed",
                                             "The specified method is not allowed against this "
                                             "resource");
    if (!q->has_upload_id) {
        if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0)
            return fail(op, 501, "NotImplemented",
                        "GetObject and HeadObject by part number are not implemented by "
                        "zkfence-proxy");
        return fail(op, 400, "InvalidRequest", "partNumber needs an uploadId");
    }
    if (!upload_id_shaped(q->upload_id))
        return fail(op, 404, "NoSuchUpload",
                    "The specified upload does not exist. The upload ID may be invalid, or the "
                    "upload may have been aborted or completed.");
    op->upload_id = take(&q->upload_id);
    if (strcmp(m, "PUT") == 0) {
        if ((op->part_number = parse_small(q->part_number, 1, ZKP_PART_NUMBER_MAX)) < 0)
            return fail(op, 400, "InvalidArgument",
                        "Part number must be an integer between 1 and 10000, inclusive");
        if (in->copy_source == NULL) {
            op->kind = ZKP_OP_UPLOAD_PART;
            return 0;
        }
        op->kind = ZKP_OP_UPLOAD_PART_COPY;
        if (parse_copy_source(in, op, max_key) != 0)
            return -1;
        return in->copy_source_range ? parse_copy_range(in->copy_source_range, op) : 0;
    }
    if (strcmp(m, "POST") == 0)
        op->kind = ZKP_OP_COMPLETE_MULTIPART_UPLOAD;
    else if (strcmp(m, "DELETE") == 0)
        op->kind = ZKP_OP_ABORT_MULTIPART_UPLOAD;
    else if (strcmp(m, "GET") == 0) {
        op->kind = ZKP_OP_LIST_PARTS;
        if (q->part_marker != NULL &&
            (op->part_marker = parse_small(q->part_marker, 0, ZKP_PART_NUMBER_MAX)) < 0)
            return fail(op, 400, "InvalidArgument",
                        "part-number-marker must be an integer between 0 and 10000");
        return parse_page_size(op, q->max_parts, "max-parts");
    } else
        return fail(op, 405, "MethodNotAllowed",
                    "The specified method is not allowed against this resource");
    return 0;
}

/* GetObject and HeadObject's response-* parameters, into the op. A value
 * becomes a header line: control characters (a CR LF would start a header
 * of the requester's choosing) are refused. */
static int take_response_overrides(zkp_op_t *op, query_t *q)
{
    for (size_t i = 0; i < ZKP_RESPONSE_OVERRIDE_COUNT; i++) {
        const char *v = q->response[i];
        if (v == NULL)
            continue;
        for (const unsigned char *c = (const unsigned char *)v; *c; c++)
            if (*c < 0x20 || *c == 0x7f)
                return fail(op, 400, "InvalidArgument",
                            "A response-* parameter's value must not contain control "
                            "characters");
        op->response_override[i] = q->response[i];
        q->response[i] = NULL;
    }
    return 0;
}

static int classify_object(const zkp_request_in_t *in, zkp_op_t *op, query_t *q, size_t max_key)
{
    const char *m = in->method;
    if (q->has_uploads || q->has_upload_id || q->has_part_number)
        return classify_multipart(in, op, q, max_key);
    if (strcmp(m, "PUT") == 0 && in->copy_source != NULL) {
        op->kind = ZKP_OP_COPY_OBJECT;
        return parse_copy_source(in, op, max_key);
    }
    if (strcmp(m, "PUT") == 0)
        op->kind = ZKP_OP_PUT_OBJECT;
    else if (strcmp(m, "GET") == 0)
        op->kind = ZKP_OP_GET_OBJECT;
    else if (strcmp(m, "HEAD") == 0)
        op->kind = ZKP_OP_HEAD_OBJECT;
    else if (strcmp(m, "DELETE") == 0)
        op->kind = ZKP_OP_DELETE_OBJECT;
    else
        return fail(op, 405, "MethodNotAllowed",
                    "The specified method is not allowed against this resource");
    if (op->kind == ZKP_OP_PUT_OBJECT)
        return 0;
    if (op->kind != ZKP_OP_DELETE_OBJECT && take_response_overrides(op, q) != 0)
        return -1;
    return check_version_id(op, q->has_version_id, q->version_id);
}

static int known_method(const char *m)
{
    static const char *const ms[] = {"GET", "HEAD", "PUT", "POST", "DELETE"};
    for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++)
        if (strcmp(m, ms[i]) == 0)
            return 1;
    return 0;
}

/* path: the raw path (percent-encoded, without the query), plen bytes. */
static int classify_path(const zkp_request_in_t *in, zkp_op_t *op, const char *path, size_t plen,
                         query_t *q)
{
    size_t max_key = in->max_key_bytes ? in->max_key_bytes : S3_MAX_KEY;
    if (plen == 1) {
        if (strcmp(in->method, "GET") != 0)
            return fail(op, 405, "MethodNotAllowed",
                        "The specified method is not allowed against this resource");
        op->kind = ZKP_OP_LIST_BUCKETS;
        return parse_bucket_listing(op, q);
    }
    size_t alen = strlen(ZKP_ADMIN_PREFIX);
    if (plen >= alen && memcmp(path, ZKP_ADMIN_PREFIX, alen) == 0) {
        size_t wlen;
        char *what = decode_dup(path + alen, plen - alen, 0, &wlen);
        if (what == NULL)
            return fail(op, 400, "InvalidURI", "Couldn't parse the specified URI");
        int rc = memchr(what, '\0', wlen) ? fail(op, 404, "NoSuchAdminEndpoint", "Unknown")
                                          : parse_admin(what, in->method, q, op);
        free(what);
        return rc;
    }
    if (q->has_unsupported)
        return fail(op, 501, "NotImplemented",
                    "This sub-resource is not implemented by zkfence-proxy");
    if (split_bucket_key(op, path, plen, op->bucket, &op->key, &op->key_len, max_key) != 0)
        return -1;
    return op->key == NULL ? classify_bucket(in, op, q) : classify_object(in, op, q, max_key);
}

int zkp_vhost_bucket(const char *host, const char *domain, char *out)
{
    if (host == NULL || host[0] == '[')
        return 0; /* an IPv6 literal names no bucket */
    size_t n = strcspn(host, ":"), d = strlen(domain);
    if (n > 0 && host[n - 1] == '.')
        n--; /* "b.example.com." is the same name, absolute */
    if (n == d && strncasecmp(host, domain, d) == 0)
        return 2;
    if (n <= d + 1 || host[n - d - 1] != '.' || strncasecmp(host + n - d, domain, d) != 0)
        return 0;
    size_t b = n - d - 1;
    if (b > ZKP_BUCKET_MAX)
        return -1;
    for (size_t i = 0; i < b; i++)
        out[i] = (char)tolower((unsigned char)host[i]);
    out[b] = '\0';
    return zkp_bucket_name_valid(out, b) ? 1 : -1;
}

int zkp_vhost_choose(const char *host, const char *const *domains, size_t n, char *out)
{
    char cand[ZKP_BUCKET_MAX + 1];
    int vh = 0;
    size_t best = 0;
    for (size_t i = 0; i < n; i++) {
        int rc = zkp_vhost_bucket(host, domains[i], cand);
        if (rc == 2)
            return 0; /* the host is a domain: path style */
        if (rc != 0 && strlen(domains[i]) > best) {
            best = strlen(domains[i]);
            vh = rc;
            if (rc == 1)
                memcpy(out, cand, sizeof(cand));
        }
    }
    return vh;
}

int zkp_request_classify(const zkp_request_in_t *in, zkp_op_t *op)
{
    memset(op, 0, sizeof(*op));
    op->max_keys = S3_MAX_LIST;
    if (!known_method(in->method))
        return fail(op, 405, "MethodNotAllowed", "The specified method is not allowed");
    const char *t = in->target;
    if (t[0] != '/')
        return fail(op, 400, "InvalidURI", "Couldn't parse the specified URI");
    const char *qm = strchr(t, '?');
    size_t raw_len = qm ? (size_t)(qm - t) : strlen(t);
    query_t q;
    memset(&q, 0, sizeof(q));
    int rc;
    if (qm != NULL && parse_query(qm + 1, &q) != 0)
        rc = fail(op, 400, q.bad == 2 ? "InvalidArgument" : "InvalidURI",
                  q.bad == 2 ? "A query parameter appears twice, or holds a NUL byte"
                             : "Couldn't parse the query string");
    else if (in->vhost_bucket != NULL) {
        /* Virtual-hosted: "/key" of the Host's bucket is "/bucket/key". The
         * name is a valid bucket name ([a-z0-9.-]): nothing to escape. */
        size_t bl = strlen(in->vhost_bucket);
        char *path = malloc(bl + 1 + raw_len + 1);
        if (path == NULL)
            rc = fail(op, 503, "SlowDown", "Out of memory, please retry");
        else {
            path[0] = '/';
            memcpy(path + 1, in->vhost_bucket, bl);
            memcpy(path + 1 + bl, t, raw_len);
            path[1 + bl + raw_len] = '\0';
            rc = classify_path(in, op, path, 1 + bl + raw_len, &q);
            free(path);
        }
    } else
        rc = classify_path(in, op, t, raw_len, &q);
    query_free(&q);
    if (rc != 0)
        return rc;
    switch (op->kind) {
    case ZKP_OP_PUT_OBJECT:
    case ZKP_OP_COPY_OBJECT:
    case ZKP_OP_DELETE_OBJECT:
    case ZKP_OP_DELETE_OBJECTS:
    case ZKP_OP_CREATE_MULTIPART_UPLOAD:
    case ZKP_OP_UPLOAD_PART:
    case ZKP_OP_UPLOAD_PART_COPY:
    case ZKP_OP_COMPLETE_MULTIPART_UPLOAD:
        op->mutating = 1;
        break;
    default:
        op->mutating = 0;
    }
    op->reading = op->kind == ZKP_OP_GET_OBJECT || op->kind == ZKP_OP_HEAD_OBJECT ||
                  op->kind == ZKP_OP_LIST_OBJECTS_V1 || op->kind == ZKP_OP_LIST_OBJECTS_V2;
    int fenceable = op->mutating || op->reading || op->kind == ZKP_OP_ADMIN_FENCE_ADVANCE;
    return fenceable ? parse_fencing(in, op) : 0;
}

void zkp_op_free(zkp_op_t *op)
{
    free(op->key);
    free(op->src_key);
    free(op->prefix);
    free(op->delimiter);
    free(op->start_after);
    free(op->resume_after);
    free(op->marker);
    free(op->continuation_token);
    free(op->upload_id);
    free(op->key_marker);
    free(op->upload_id_marker);
    free(op->version_id_marker);
    free(op->lock);
    free(op->reason);
    free(op->bucket_region);
    for (size_t i = 0; i < ZKP_RESPONSE_OVERRIDE_COUNT; i++)
        free(op->response_override[i]);
    memset(op, 0, sizeof(*op));
}
