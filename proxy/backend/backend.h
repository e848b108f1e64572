/* The storage interface. The S3 front and the fencing core call storage only
 * through this table of functions, so another backend (an upstream S3
 * endpoint) can be added without touching them.
 *
 * Writes are two-phase so that the fencing decision can sit between
 * "bytes are safely staged" and "bytes become visible":
 *
 *     put_begin -> put_write* -> put_seal -> [fence check, mark persisted]
 *                                            -> put_commit  \-> put_abort
 *
 * Invariants every backend keeps:
 *  - nothing written through put_write is visible to readers before
 *    put_commit returns 0, and a failed or aborted put leaves no trace;
 *  - put_commit is atomic: readers see the old object or the new one;
 *  - when put_commit returns 0 the object is durable (modulo object_fsync);
 *  - listing is in UTF-8 binary order of keys, as S3 lists;
 *  - a write's preconditions (cond.h: If-Match, If-None-Match) are checked
 *    atomically with its publication, under whatever serialises the
 *    commits of its key: of two writers racing with If-None-Match: *, at
 *    most one publishes. A failed check publishes nothing.
 *
 * Thread safety: every function may be called from many threads at once,
 * except that one zkp_put_t or zkp_reader_t is used by one thread at a time.
 *
 * Where calls run: a backend whose storage is local (`remote` = 0) is
 * called from the HTTP event loops for reads and listings. A remote one
 * (an upstream S3 endpoint: `remote` = 1) may wait for a network in any
 * call except put_begin, put_write, put_abort, read and close, which the
 * core still calls on its event loops: the core calls every other
 * function of a remote backend from a worker thread.
 *
 * Multipart uploads (the mpu_* operations, at the end of the table) use the
 * same two phases: a part, and the object a completion assembles, are
 * staged puts (zkp_put_t), committed by put_commit after the fencing
 * decision. */
#ifndef ZKP_BACKEND_H
#define ZKP_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "backend/cond.h"

/* One page of a listing, as S3 lists: keys (and, with a delimiter, common
 * prefixes) in UTF-8 binary order, after a resume point (start-after,
 * marker, or a decoded continuation token). */
typedef struct zkp_list_req {
    const char *prefix;    /* NULL or "" for all */
    const char *delimiter; /* NULL for none */
    const char *after;     /* list keys strictly after this; NULL for none */
    int max_keys;          /* 0..1000 */
} zkp_list_req_t;

/* An ETag as S3 shows it, without its quotes: the hex MD5 of the body, or
 * for an object made by a multipart upload the hex MD5 of its parts' binary
 * MD5s, '-' and the part count ("9b2c...e1-3"). Upstream stores may use
 * other forms: room for them. */
#define ZKP_ETAG_MAX 64

typedef struct zkp_list_item {
    char *name;    /* key, or common prefix when is_prefix; owned */
    int is_prefix; /* a CommonPrefixes entry */
    uint64_t size;
    time_t mtime;
    char etag[ZKP_ETAG_MAX + 1];
} zkp_list_item_t;

typedef struct zkp_list_result {
    zkp_list_item_t *items; /* keys and common prefixes, in order */
    size_t n;
    int truncated;
    char *next; /* when truncated: the last name returned (resume point) */
} zkp_list_result_t;

/* Frees the items and resets *res; the caller of list() owns the result. */
void zkp_list_result_free(zkp_list_result_t *res);

typedef enum {
    ZKP_BE_OK = 0,
    ZKP_BE_NO_KEY = -1,    /* NoSuchKey */
    ZKP_BE_NO_BUCKET = -2, /* NoSuchBucket */
    ZKP_BE_EXISTS = -3,    /* bucket already exists */
    ZKP_BE_NOT_EMPTY = -4, /* BucketNotEmpty */
    ZKP_BE_IO = -5,        /* storage failure: 500 */
    ZKP_BE_NOMEM = -6,
    /* Multipart uploads: */
    ZKP_BE_NO_UPLOAD = -7,      /* NoSuchUpload: unknown id, another key, completed or aborted */
    ZKP_BE_INVALID_PART = -8,   /* InvalidPart: a listed part not uploaded, or another ETag */
    ZKP_BE_PART_TOO_SMALL = -9, /* EntityTooSmall: a part but the last under ZKP_MPU_MIN_PART */
    ZKP_BE_BAD_RANGE = -10,     /* a copy-source range outside the source object */
    ZKP_BE_TOO_LARGE = -11,     /* EntityTooLarge: a part copy over ZKP_MPU_MAX_PART */
    ZKP_BE_PRECONDITION = -12,  /* PreconditionFailed: If-Match / If-None-Match not met */
    /* Remote backends (numbered apart from the local codes above): */
    ZKP_BE_UNAVAILABLE = -20, /* the upstream cannot be reached, timed out or
                                 answered 5xx: 503, retry later */
    ZKP_BE_BAD_GATEWAY = -21, /* the upstream answered something that is not
                                 S3: 502 */
    ZKP_BE_UPSTREAM = -22,    /* the upstream refused (4xx): its status, code
                                 and message are in zkp_be_detail() */
} zkp_be_err_t;

/* What an upstream said when it refused a request (ZKP_BE_UPSTREAM), or
 * why it could not be used (ZKP_BE_UNAVAILABLE, ZKP_BE_BAD_GATEWAY: code
 * empty, message naming the endpoint and the failing call). */
typedef struct zkp_be_detail {
    int status;        /* HTTP status of the upstream's answer (0: none) */
    char code[64];     /* its S3 error code ("NoSuchKey", "AccessDenied") */
    char message[256]; /* its message, or ours */
} zkp_be_detail_t;

/* Like errno: a remote backend sets the detail on the calling thread right
 * before it returns ZKP_BE_UPSTREAM, ZKP_BE_UNAVAILABLE or
 * ZKP_BE_BAD_GATEWAY, and the caller reads it before its next backend call
 * on that thread. Never NULL; a thread's own storage. */
const zkp_be_detail_t *zkp_be_detail(void);
/* Sets the calling thread's detail and returns rc (for `return
 * zkp_be_fail(...)`). code and msg may be NULL. */
int zkp_be_fail(int rc, int status, const char *code, const char *msg);

/* A stored header: Content-Type, Cache-Control, x-amz-meta-*, ... Names
 * are lowercase. */
typedef struct zkp_header {
    char *name;
    char *value;
} zkp_header_t;

typedef struct zkp_obj_meta {
    uint64_t size;
    time_t mtime;
    char etag[ZKP_ETAG_MAX + 1]; /* unquoted (ZKP_ETAG_MAX) */
    zkp_header_t *headers;
    size_t nheaders;
    /* Which fenced write produced the object (provenance, not policy). */
    char *fence_lock; /* NULL if the write was not fenced */
    uint64_t fence_token;
} zkp_obj_meta_t;

void zkp_obj_meta_free(zkp_obj_meta_t *m);
/* Deep copy; 0 or -1 on OOM. */
int zkp_obj_meta_copy(zkp_obj_meta_t *dst, const zkp_obj_meta_t *src);
/* Appends a header (copies both strings); 0 or -1 on OOM. */
int zkp_obj_meta_add(zkp_obj_meta_t *m, const char *name, const char *value);

typedef struct zkp_bucket_info {
    char name[64];
    time_t created;
} zkp_bucket_info_t;

typedef struct zkp_backend zkp_backend_t; /* begins with its ops pointer */
typedef struct zkp_put zkp_put_t;
typedef struct zkp_reader zkp_reader_t;

/* --- multipart uploads: S3's limits and the operations' types ----------------- */

#define ZKP_MPU_MAX_PARTS 10000       /* part numbers are 1..10000 */
#define ZKP_MPU_MIN_PART (5ull << 20) /* every part but the last, checked at completion */
#define ZKP_MPU_MAX_PART (5ull << 30) /* one part, uploaded or copied */
#define ZKP_UPLOAD_ID_MAX 1024        /* printable ASCII, as a backend makes them */

/* One uploaded part (ListParts). */
typedef struct zkp_part_info {
    int number;
    uint64_t size;
    time_t mtime;
    char etag[ZKP_ETAG_MAX + 1];
} zkp_part_info_t;

/* One page of an upload's parts, in ascending part number. */
typedef struct zkp_part_list {
    zkp_part_info_t *parts; /* malloc'ed: zkp_part_list_free() */
    size_t n;
    int truncated;
    int next_marker; /* when truncated: the last number returned (part-number-marker) */
} zkp_part_list_t;

void zkp_part_list_free(zkp_part_list_t *l);

/* One part named by a CompleteMultipartUpload request. */
typedef struct zkp_part_ref {
    int number;
    char etag[ZKP_ETAG_MAX + 1]; /* unquoted */
} zkp_part_ref_t;

/* One page of ListMultipartUploads: uploads sorted by key, then by upload
 * id (which backends make sort in initiation order), after the markers. */
typedef struct zkp_upload_list_req {
    const char *prefix;           /* NULL or "" for all */
    const char *delimiter;        /* NULL for none */
    const char *key_marker;       /* NULL for none */
    const char *upload_id_marker; /* with key_marker: uploads of that key after this id */
    int max_uploads;              /* 0..1000 */
} zkp_upload_list_req_t;

typedef struct zkp_upload_item {
    char *key;       /* the upload's key, or a common prefix when is_prefix; owned */
    char *upload_id; /* owned; NULL for a common prefix */
    int is_prefix;
    time_t initiated;
} zkp_upload_item_t;

typedef struct zkp_upload_list_result {
    zkp_upload_item_t *items;
    size_t n;
    int truncated;
    char *next_key;       /* when truncated: NextKeyMarker */
    char *next_upload_id; /* when truncated: NextUploadIdMarker (NULL after a prefix) */
} zkp_upload_list_result_t;

void zkp_upload_list_result_free(zkp_upload_list_result_t *res);

/* read() found no bytes buffered yet (remote backends): the caller waits
 * for the notification it registered with set_notify, then reads again. */
#define ZKP_BE_READ_AGAIN (-2)

/* Notifications of a reader whose read() may answer ZKP_BE_READ_AGAIN
 * (set_notify). Neither may call into the backend. */
typedef void (*zkp_read_notify_fn)(void *arg);

typedef struct zkp_backend_ops {
    const char *name;
    /* 1: calls may wait for a network (see the top): the core calls the
     * backend from worker threads, never from its event loops, except
     * put_begin, put_write, put_abort, read and close. */
    int remote;
    /* Optional. 0: put_seal, put_commit and put_abort of this staged
     * PutObject (its body complete) never wait (no fsync: a local disk's
     * page cache; nothing large to free), so the core may call them from
     * an event loop; 1, or NULL: they may wait (an fsync, a network, the
     * blocks of a large file freed), and the core calls them from a
     * worker. */
    int (*put_waits)(zkp_put_t *p);
    void (*destroy)(zkp_backend_t *be);

    int (*bucket_create)(zkp_backend_t *be, const char *bucket);
    int (*bucket_delete)(zkp_backend_t *be, const char *bucket); /* empty buckets only */
    int (*bucket_exists)(zkp_backend_t *be, const char *bucket); /* 1, 0 */
    /* *out is malloc'ed (free()), sorted by name. */
    int (*bucket_list)(zkp_backend_t *be, zkp_bucket_info_t **out, size_t *n);

    /* Stages a new object. meta supplies headers and provenance (size, etag
     * and mtime are ignored: they are known at commit). */
    int (*put_begin)(zkp_backend_t *be, const char *bucket, const char *key,
                     const zkp_obj_meta_t *meta, zkp_put_t **out);
    int (*put_write)(zkp_put_t *p, const void *data, size_t len);
    /* Optional (NULL: put_commit does it all). Completes the staged object
     * (etag is the hex MD5 of what was written) and makes it durable, still
     * invisible. The core calls it before entering the lock's fencing
     * section, so that the slow part of a write (the object's fsync) runs
     * in parallel for writers of one lock; put_commit then only publishes.
     * Consumes nothing: after an error, put_abort. */
    int (*put_seal)(zkp_put_t *p, const char *etag);
    /* Makes the staged object visible under its key; etag is the hex MD5 of
     * what was written. Consumes p whatever the result. On success fills
     * *mtime with the object's Last-Modified.
     * cond (NULL: none) is the write's own precondition, If-Match and
     * If-None-Match (cond.h, zkp_cond_check_write() against the key's
     * current object), checked in the same atomic step as the publication;
     * an upstream backend forwards the two headers with its commit. On a
     * failed check nothing is published and the result is
     * ZKP_BE_PRECONDITION (412), or ZKP_BE_NO_KEY for If-Match without an
     * object (404, as S3 answers). */
    int (*put_commit)(zkp_put_t *p, const char *etag, const zkp_cond_t *cond, time_t *mtime);
    /* Discards a staged object. Consumes p. */
    void (*put_abort)(zkp_put_t *p);
    /* Optional (NULL: every PutObject body gets its MD5). For a store that
     * checks the bytes it receives against their SHA-256 before storing
     * them and names the object's ETag itself (backend = s3): when a
     * PutObject's client sent no Content-MD5 and signed the body's SHA-256,
     * which the core verified, the core computes no MD5 and calls this
     * after the body instead (before put_seal and put_commit): sha256 is
     * that hash (64 lowercase hex digits); etag is the caller's buffer, ""
     * now, kept until put_commit returns and passed to it as its etag;
     * put_commit sends the store the hash (it refuses other bytes) and, on
     * success, writes the object's ETag into the buffer. ZKP_BE_OK; the put
     * stays the caller's (put_commit or put_abort) whatever the result. */
    int (*put_sha256)(zkp_put_t *p, const char *sha256, char etag[ZKP_ETAG_MAX + 1]);

    /* Stages a copy of src as dst. With replace != NULL its headers replace
     * the source's (x-amz-metadata-directive: REPLACE). The result is
     * committed or aborted like a put; *etag gets the copy's ETag (the MD5
     * of its bytes: a copy is one object, whatever its source was).
     * src_cond (NULL: none) holds the x-amz-copy-source-if-* values, checked
     * with zkp_cond_check_read() against the very version that is copied:
     * ZKP_BE_PRECONDITION (nothing staged) if one fails, a "not modified"
     * included, as S3 answers 412 for both. */
    int (*copy_begin)(zkp_backend_t *be, const char *src_bucket, const char *src_key,
                      const char *dst_bucket, const char *dst_key, const zkp_obj_meta_t *replace,
                      const zkp_obj_meta_t *provenance, const zkp_cond_t *src_cond, zkp_put_t **out,
                      char etag[ZKP_ETAG_MAX + 1]);

    /* Opens an object for reading: a consistent snapshot, unaffected by a
     * later overwrite. meta is filled (zkp_obj_meta_free()). With r == NULL
     * only the metadata is read (HeadObject). */
    int (*open)(zkp_backend_t *be, const char *bucket, const char *key, zkp_obj_meta_t *meta,
                zkp_reader_t **r);
    /* Optional (NULL: open). Like open, for a reader of one byte range:
     * `range` is the request's Range header value, holding a single byte
     * range (the caller checked its syntax), which a remote backend
     * forwards so that only those bytes travel. meta->size is still the
     * whole object's; reads keep offsets relative to the whole body and
     * begin at the range's first byte. A range outside the object may be
     * answered ZKP_BE_UPSTREAM (416 InvalidRange). */
    int (*open_range)(zkp_backend_t *be, const char *bucket, const char *key, const char *range,
                      zkp_obj_meta_t *meta, zkp_reader_t **r);
    /* Reads up to len bytes at offset (relative to the body). Returns the
     * count, 0 at the end, -1 on error; a remote backend never waits here:
     * it answers ZKP_BE_READ_AGAIN when no byte has arrived yet, and reads
     * come in order (offset is where the last one ended). */
    ssize_t (*read)(zkp_reader_t *r, uint64_t offset, void *buf, size_t len);
    /* Optional (NULL for backends whose read never answers
     * ZKP_BE_READ_AGAIN). Registers two callbacks: on_wait is called by
     * read(), on the reading thread, right before it answers
     * ZKP_BE_READ_AGAIN, with the reader's lock held (so the caller can
     * arrange to wait, e.g. suspend its connection, before on_ready can
     * run); on_ready is then called once, from any thread, when the reader
     * can make progress (bytes arrived, or the body ended or failed). */
    void (*set_notify)(zkp_reader_t *r, zkp_read_notify_fn on_wait, zkp_read_notify_fn on_ready,
                       void *arg);
    /* Optional (NULL: use read). Moves the reader's file descriptor to the
     * caller, who then owns (and closes) it, for zero-copy sending: the body
     * starts at *body_off in that file. The reader must still be closed. */
    int (*take_fd)(zkp_reader_t *r, int *fd, uint64_t *body_off);
    void (*close)(zkp_reader_t *r);

    /* Removes a key. ZKP_BE_NO_KEY if there was none. */
    int (*remove)(zkp_backend_t *be, const char *bucket, const char *key);

    /* One page of a listing (zkp_list_req_t above). */
    int (*list)(zkp_backend_t *be, const char *bucket, const zkp_list_req_t *req,
                zkp_list_result_t *res);

    /* --- multipart uploads ----------------------------------------------------
     * Each operation is one S3 call, so that an upstream backend forwards it
     * as such: mpu_create -> CreateMultipartUpload, mpu_part_begin and the
     * put_write's and put_commit of that put -> one UploadPart, streamed,
     * mpu_part_copy_begin -> UploadPartCopy, mpu_complete_begin and its
     * put_commit -> CompleteMultipartUpload, mpu_abort, mpu_list_parts,
     * mpu_list. A backend without multipart upload leaves every mpu_ NULL
     * (the S3 front answers 501 NotImplemented); one that has them sets all.
     *
     * The upload remembers the fencing record it was created with (meta's
     * fence_lock and fence_token): parts and completions of unmodified
     * clients carry no fencing headers, and are fenced with that record.
     * Upload ids are the backend's: 1..ZKP_UPLOAD_ID_MAX printable ASCII
     * bytes; a malformed or unknown id is ZKP_BE_NO_UPLOAD, never an error
     * of another kind. Uploads are per key: an id used with another key is
     * ZKP_BE_NO_UPLOAD too.
     *
     * Errors, besides those of the object operations: ZKP_BE_NO_UPLOAD,
     * ZKP_BE_INVALID_PART, ZKP_BE_PART_TOO_SMALL, ZKP_BE_BAD_RANGE,
     * ZKP_BE_TOO_LARGE, ZKP_BE_PRECONDITION (each where named below). */

    /* Starts an upload of key. meta as for put_begin: its headers become the
     * object's, and its provenance (fence_lock, fence_token) is the upload's
     * fencing record. *upload_id is malloc'ed (the caller frees it). The
     * upload is durable when this returns 0. ZKP_BE_NO_BUCKET. */
    int (*mpu_create)(zkp_backend_t *be, const char *bucket, const char *key,
                      const zkp_obj_meta_t *meta, char **upload_id);
    /* The upload's record: headers and fencing record as given at create,
     * mtime = its initiation time (size and etag are 0 and ""). meta is
     * filled (zkp_obj_meta_free()). The core calls it on its event loops,
     * before a part's body is read: it must answer from local state, never
     * wait for a network. ZKP_BE_NO_UPLOAD, ZKP_BE_NO_BUCKET. */
    int (*mpu_stat)(zkp_backend_t *be, const char *bucket, const char *key, const char *upload_id,
                    zkp_obj_meta_t *meta);
    /* Stages part `number` (1..ZKP_MPU_MAX_PARTS) of an upload: written,
     * sealed, committed or aborted like an object's put. put_commit makes it
     * the upload's part `number` (replacing a part uploaded before under that
     * number), durably, and is ZKP_BE_NO_UPLOAD if the upload was completed
     * or aborted since begin; until then the part is invisible, and an
     * aborted part leaves no trace. Called on the event loops, like
     * put_begin. ZKP_BE_NO_UPLOAD, ZKP_BE_NO_BUCKET. */
    int (*mpu_part_begin)(zkp_backend_t *be, const char *bucket, const char *key,
                          const char *upload_id, int number, zkp_put_t **out);
    /* Stages part `number` as a copy of bytes first..last (inclusive) of the
     * object src_bucket/src_key, or of the whole object when !has_range;
     * committed or aborted as a part. *etag gets the part's ETag (a remote
     * backend may rewrite it during put_commit with the upstream's answer:
     * the caller keeps the buffer until then, and answers with it after).
     * ZKP_BE_BAD_RANGE (the range is not inside the source),
     * ZKP_BE_TOO_LARGE (over ZKP_MPU_MAX_PART), ZKP_BE_NO_KEY (no source),
     * ZKP_BE_NO_UPLOAD, ZKP_BE_NO_BUCKET. */
    int (*mpu_part_copy_begin)(zkp_backend_t *be, const char *bucket, const char *key,
                               const char *upload_id, int number, const char *src_bucket,
                               const char *src_key, int has_range, uint64_t first, uint64_t last,
                               zkp_put_t **out, char etag[ZKP_ETAG_MAX + 1]);
    /* One page of the upload's parts: numbers above `after`, at most `max`
     * (0..1000), ascending. *out is the caller's (zkp_part_list_free()).
     * ZKP_BE_NO_UPLOAD, ZKP_BE_NO_BUCKET. */
    int (*mpu_list_parts)(zkp_backend_t *be, const char *bucket, const char *key,
                          const char *upload_id, int after, int max, zkp_part_list_t *out);
    /* Stages the completion of an upload: the parts listed (n >= 1, numbers
     * strictly ascending: the caller checks), concatenated, with the
     * upload's headers and the provenance of `prov` (the completion's own
     * fencing: fence_lock, fence_token; its other fields are ignored).
     * *etag gets the object's ETag (rewritten by a remote backend during
     * put_commit, as for a part copy). Refusals, with nothing changed and *bad
     * set to the index of the offending part: ZKP_BE_INVALID_PART (not
     * uploaded, or with another ETag), ZKP_BE_PART_TOO_SMALL (a part but
     * the last under ZKP_MPU_MIN_PART). Also ZKP_BE_NO_UPLOAD,
     * ZKP_BE_NO_BUCKET.
     * The staged object is committed or aborted like a put: put_commit
     * checks `pre` (NULL: none; as put_commit's cond: ZKP_BE_PRECONDITION, or
     * ZKP_BE_NO_KEY for If-Match without an object; nothing changed), then
     * makes the object visible whole and ends the upload, atomically as far
     * as readers and a crash can tell (the object appears whole or not at
     * all; a crash leaves the upload completable, or completed); put_abort
     * leaves the upload as it was, completable again.
     * A completion retried after it succeeded (its answer was lost) gets
     * 0 with *out = NULL and *etag set, when the backend can tell that the
     * object under the key is that upload's; nothing is staged then. */
    int (*mpu_complete_begin)(zkp_backend_t *be, const char *bucket, const char *key,
                              const char *upload_id, const zkp_part_ref_t *parts, size_t n,
                              const zkp_obj_meta_t *prov, const zkp_cond_t *pre, zkp_put_t **out,
                              char etag[ZKP_ETAG_MAX + 1], size_t *bad);
    /* Discards an upload and its parts (its space freed). Waits for a
     * completion of it in progress; then ZKP_BE_NO_UPLOAD if that one
     * succeeded. ZKP_BE_NO_UPLOAD, ZKP_BE_NO_BUCKET. */
    int (*mpu_abort)(zkp_backend_t *be, const char *bucket, const char *key, const char *upload_id);
    /* One page of a bucket's unfinished uploads (zkp_upload_list_req_t).
     * *res is the caller's (zkp_upload_list_result_free()). */
    int (*mpu_list)(zkp_backend_t *be, const char *bucket, const zkp_upload_list_req_t *req,
                    zkp_upload_list_result_t *res);
    /* Aborts every upload, in every bucket, initiated before `before`,
     * except those a completion or abort is working on. Returns how many it
     * aborted (>= 0), or a negative zkp_be_err_t. Called from a background
     * thread, periodically. */
    int (*mpu_sweep)(zkp_backend_t *be, time_t before);
} zkp_backend_ops_t;

struct zkp_backend {
    const zkp_backend_ops_t *ops;
};

#endif
