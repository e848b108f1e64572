/* Request classification: from what arrived on the wire (method, raw
 * request-target, the few headers that change the meaning of a request) to
 * an S3 operation with its bucket, key and parameters, or to an S3 error.
 *
 * This is the one place that interprets client-controlled paths and query
 * strings, so it is a pure function (no I/O, no global state, no
 * configuration beyond what is passed in) with its own fuzz target
 * (tests/proxy/fuzz_request.c). Everything it returns is validated: bucket
 * names follow the S3 rules, keys are valid UTF-8 without NUL and within the
 * length limit, fencing tokens are canonical decimal u64 and lock names are
 * canonical ZooKeeper paths (fence/fence.h, zkp_lock_name_problem). */
#ifndef ZKP_REQUEST_H
#define ZKP_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "util/textutil.h" /* ZKP_BUCKET_MAX, zkp_bucket_name_valid */

#define ZKP_OP_KINDS(X)                                                                            \
    X(NONE, "None")                                                                                \
    X(LIST_BUCKETS, "ListBuckets")                                                                 \
    X(CREATE_BUCKET, "CreateBucket")                                                               \
    X(HEAD_BUCKET, "HeadBucket")                                                                   \
    X(DELETE_BUCKET, "DeleteBucket")                                                               \
    X(GET_BUCKET_LOCATION, "GetBucketLocation")                                                    \
    X(LIST_OBJECTS_V1, "ListObjects")                                                              \
    X(LIST_OBJECTS_V2, "ListObjectsV2")                                                            \
    X(PUT_OBJECT, "PutObject")                                                                     \
    X(COPY_OBJECT, "CopyObject")                                                                   \
    X(GET_OBJECT, "GetObject")                                                                     \
    X(HEAD_OBJECT, "HeadObject")                                                                   \
    X(DELETE_OBJECT, "DeleteObject")                                                               \
    X(DELETE_OBJECTS, "DeleteObjects")                                                             \
    X(CREATE_MULTIPART_UPLOAD, "CreateMultipartUpload")                                            \
    X(UPLOAD_PART, "UploadPart")                                                                   \
    X(UPLOAD_PART_COPY, "UploadPartCopy")                                                          \
    X(COMPLETE_MULTIPART_UPLOAD, "CompleteMultipartUpload")                                        \
    X(ABORT_MULTIPART_UPLOAD, "AbortMultipartUpload")                                              \
    X(LIST_PARTS, "ListParts")                                                                     \
    X(LIST_MULTIPART_UPLOADS, "ListMultipartUploads")                                              \
    X(GET_BUCKET_VERSIONING, "GetBucketVersioning")                                                \
    X(PUT_BUCKET_VERSIONING, "PutBucketVersioning")                                                \
    X(LIST_OBJECT_VERSIONS, "ListObjectVersions")                                                  \
    X(ADMIN_HEALTH, "AdminHealth")                                                                 \
    X(ADMIN_METRICS, "AdminMetrics")                                                               \
    X(ADMIN_MARKS, "AdminMarks")                                                                   \
    X(ADMIN_FAULT, "AdminFault")                                                                   \
    X(ADMIN_FENCE_ADVANCE, "FenceAdvance")                                                         \
    X(ADMIN_REPAIR, "MarkRepair")

typedef enum {
#define ZKP_OP_ENUM_(name, str) ZKP_OP_##name,
    ZKP_OP_KINDS(ZKP_OP_ENUM_)
#undef ZKP_OP_ENUM_
        ZKP_OP_COUNT_
} zkp_op_kind_t;

/* The S3 operation name ("PutObject"), also used as the metrics label. */
const char *zkp_op_name(zkp_op_kind_t k);

/* 1 if the operation stores the request's user metadata (x-amz-meta-*):
 * PutObject, CopyObject. Its size is then limited (http/headcheck.h). */
int zkp_op_stores_metadata(zkp_op_kind_t k);

/* Where the admin endpoints live. S3 bucket names are [a-z0-9.-] and start
 * with a letter or digit, so no bucket can ever be named "_zkfence". */
#define ZKP_ADMIN_PREFIX "/_zkfence/"

typedef struct zkp_request_in {
    const char *method; /* "GET", ... */
    const char *target; /* raw request-target: "/bucket/k%20ey?list-type=2" */
    /* Header values or NULL when absent. */
    const char *copy_source;        /* x-amz-copy-source */
    const char *copy_source_range;  /* x-amz-copy-source-range (UploadPartCopy) */
    const char *fencing_lock;       /* X-Fencing-Lock */
    const char *fencing_token;      /* X-Fencing-Token */
    const char *meta_fencing_lock;  /* x-amz-meta-fencing-lock */
    const char *meta_fencing_token; /* x-amz-meta-fencing-token */
    size_t max_key_bytes;           /* 0 means the S3 limit, 1024 */
    /* Virtual-hosted style: the bucket the Host header names (a subdomain
     * of a configured `domain`), or NULL for path style. The target is
     * then the key ("/key?query"); admin endpoints are path style only. */
    const char *vhost_bucket;
} zkp_request_in_t;

/* The bucket a Host header value names in virtual-hosted style under
 * `domain`: host (its ":port" and a final '.' ignored) is "BUCKET.domain",
 * case insensitive as DNS. Returns 1 and copies BUCKET (lower case) into
 * out[ZKP_BUCKET_MAX + 1]; 2 when host is domain itself (path style); 0
 * when host is not under domain; -1 when the part before domain is not a
 * valid bucket name. Pure. */
int zkp_vhost_bucket(const char *host, const char *domain, char *out);

/* zkp_vhost_bucket() over the configured domains: path style (0) when host
 * is one of them; else the bucket under the longest one host is under
 * (with "localhost" and "s3.localhost", "b.s3.localhost" is bucket b): 1
 * with out set, or -1 for an invalid bucket name; 0 when under none. */
int zkp_vhost_choose(const char *host, const char *const *domains, size_t n, char *out);

typedef enum {
    ZKP_FENCE_ABSENT = 0, /* neither lock nor token sent */
    ZKP_FENCE_PARTIAL,    /* one of the two is missing */
    ZKP_FENCE_PRESENT,    /* both, validated: see lock and token */
} zkp_fence_presence_t;

/* ListBuckets' largest page (max-buckets), and the page without one. */
#define ZKP_MAX_BUCKETS 10000

/* S3's limit on an upload's part numbers (1..10000). */
#define ZKP_PART_NUMBER_MAX 10000
/* The longest upload id accepted (backend.h: ZKP_UPLOAD_ID_MAX). */
#define ZKP_UPLOAD_ID_LEN_MAX 1024

/* The response-* query parameters of GetObject and HeadObject and the
 * header each one sets in the answer, in zkp_op_t.response_override order. */
#define ZKP_RESPONSE_OVERRIDE_COUNT 6
extern const struct zkp_response_override {
    const char *param;
    const char *header;
} ZKP_RESPONSE_OVERRIDES[ZKP_RESPONSE_OVERRIDE_COUNT];

/* Every pointer member is owned by the op and freed by zkp_op_free(). */
typedef struct zkp_op {
    zkp_op_kind_t kind;
    /* Needs fencing: PutObject, CopyObject, DeleteObject(s),
     * CreateMultipartUpload, UploadPart(Copy), CompleteMultipartUpload. */
    int mutating;
    /* May be fenced: GetObject, HeadObject, ListObjects(V2). With both
     * fencing headers it is a fenced read (raises the mark, in the lock's
     * section); with neither, an ordinary read. */
    int reading;
    char bucket[ZKP_BUCKET_MAX + 1];
    char *key; /* decoded object key, NUL-free, valid UTF-8; NULL at bucket level */
    size_t key_len;

    /* CopyObject and UploadPartCopy source, decoded and validated like
     * bucket and key (a ?versionId= other than null is refused). */
    char src_bucket[ZKP_BUCKET_MAX + 1];
    char *src_key;
    /* UploadPartCopy: x-amz-copy-source-range "bytes=first-last". */
    int has_copy_range;
    uint64_t copy_first, copy_last;

    /* Multipart: ?uploadId= (1..ZKP_UPLOAD_ID_LEN_MAX printable ASCII
     * bytes; whether it names an upload is the backend's answer),
     * ?partNumber= (1..10000), and ListParts' part-number-marker. */
    char *upload_id;
    int part_number;
    int part_marker;

    /* Listing parameters (NULL when absent). For V2 the continuation token
     * is decoded into `resume_after`; for V1 the marker is copied there. */
    char *prefix;
    char *delimiter;
    char *start_after;
    char *resume_after;
    char *marker;             /* v1 marker as sent, echoed in the response */
    char *continuation_token; /* as sent, echoed in the response */
    /* ListMultipartUploads and ListObjectVersions: key-marker (also copied
     * into resume_after), upload-id-marker, version-id-marker ("null" or
     * absent: the only version there is), as sent. */
    char *key_marker;
    char *upload_id_marker;
    char *version_id_marker;
    int max_keys; /* the page size: max-keys, max-uploads or max-parts; 0..1000, default 1000;
                   * ListBuckets' max-buckets, 1..ZKP_MAX_BUCKETS (the default) */
    char *bucket_region; /* ListBuckets' bucket-region, or NULL */
    int encoding_url;    /* encoding-type=url */
    int fetch_owner;

    /* Parsed for mutations, reads and fence-advance; ABSENT otherwise. lock
     * is the lock sent (PRESENT, or PARTIAL without a token), token the
     * token sent (PRESENT, or PARTIAL without a lock). */
    zkp_fence_presence_t fence;
    char *lock;
    uint64_t token;
    /* Set by the fencing gate (s3/gate.c) for a key bound to a lock by the
     * configuration: lock_bound, the lock was taken from the binding (the
     * request sent a token alone); lock_pending, DeleteObjects with a token
     * alone, whose lock comes from its keys once the body is read. */
    int lock_bound;
    int lock_pending;

    /* GetObject, HeadObject: S3's response-* parameters (response-content-
     * type, ...), decoded, free of control characters; NULL when absent.
     * The answer's header of that name takes the value instead of the
     * stored one (ZKP_RESPONSE_OVERRIDES names them). */
    char *response_override[ZKP_RESPONSE_OVERRIDE_COUNT];

    int fault_on; /* ADMIN_FAULT: ?on=1 or ?on=0 */

    /* ADMIN_REPAIR: ?lock=L (in `lock`), then ?mark=N or ?clear, and
     * ?reason=TEXT (1..512 bytes of UTF-8 without control characters). */
    int repair_clear;
    uint64_t repair_mark;
    char *reason;

    /* When classification fails: the HTTP status and S3 error code. */
    int status;
    const char *err_code;
    const char *err_msg;
} zkp_op_t;

/* What a versionId means here: no bucket is versioned, so "null" is the
 * one version every object has (the object itself, as S3 answers for an
 * unversioned bucket): 0. Anything else: -1, with the S3 error S3 gives in
 * *status, *code and *msg (static strings): 400 InvalidArgument for an
 * empty or malformed id, 404 NoSuchVersion for a well-formed one (32
 * characters of [A-Za-z0-9._-]: no such version can exist). Pure. */
int zkp_version_id_check(const char *v, int *status, const char **code, const char **msg);

/* Classifies a request. Returns 0 and fills *op, or -1 with op->status,
 * op->err_code and op->err_msg set (static strings). In both cases call
 * zkp_op_free(op) afterwards. The input strings are only read during the
 * call. */
int zkp_request_classify(const zkp_request_in_t *in, zkp_op_t *op);
void zkp_op_free(zkp_op_t *op);

#endif
