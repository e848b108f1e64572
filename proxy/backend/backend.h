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
 * function of a remote backend from a worker thread. */
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
    ZKP_BE_PRECONDITION = -7, /* a precondition (cond.h) failed: 412 PreconditionFailed */
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

    /* Stages a copy of src as dst. With replace != NULL its headers replace
     * the source's (x-amz-metadata-directive: REPLACE). The result is
     * committed or aborted like a put; *etag gets the source's ETag.
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
} zkp_backend_ops_t;

struct zkp_backend {
    const zkp_backend_ops_t *ops;
};

#endif
