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
 * except that one zkp_put_t or zkp_reader_t is used by one thread at a time. */
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

typedef struct zkp_list_item {
    char *name;    /* key, or common prefix when is_prefix; owned */
    int is_prefix; /* a CommonPrefixes entry */
    uint64_t size;
    time_t mtime;
    char etag[33];
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
} zkp_be_err_t;

/* A stored header: Content-Type, Cache-Control, x-amz-meta-*, ... Names
 * are lowercase. */
typedef struct zkp_header {
    char *name;
    char *value;
} zkp_header_t;

typedef struct zkp_obj_meta {
    uint64_t size;
    time_t mtime;
    char etag[33]; /* hex MD5 of the body, unquoted */
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

typedef struct zkp_backend_ops {
    const char *name;
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
                      char etag[33]);

    /* Opens an object for reading: a consistent snapshot, unaffected by a
     * later overwrite. meta is filled (zkp_obj_meta_free()). With r == NULL
     * only the metadata is read (HeadObject). */
    int (*open)(zkp_backend_t *be, const char *bucket, const char *key, zkp_obj_meta_t *meta,
                zkp_reader_t **r);
    /* Reads up to len bytes at offset (relative to the body). Returns the
     * count, 0 at the end, -1 on error. */
    ssize_t (*read)(zkp_reader_t *r, uint64_t offset, void *buf, size_t len);
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
