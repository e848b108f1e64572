/* What the files of the upstream S3 backend share (s3core.c; internal to
 * backend/s3/): the backend's state, where a proxy bucket lives upstream,
 * a staged write, and the calls every operation makes. backend_s3.c holds
 * the table and the object operations, multipart.c the multipart ones;
 * both build on these. */
#ifndef ZKP_S3CORE_H
#define ZKP_S3CORE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "backend/backend.h"
#include "backend/s3/upstream.h"
#include "util/config.h"

#define ZKP_S3_META_LOCK "x-amz-meta-zkfence-lock"
#define ZKP_S3_META_TOKEN "x-amz-meta-zkfence-token"
#define ZKP_S3_META_RESERVED "x-amz-meta-zkfence-"

/* A PutObject body up to ZKP_S3_MEM_PUT bytes is staged in memory, not in a
 * spool file, and so is an UploadPart body up to ZKP_S3_MEM_PART, while the
 * puts and parts so staged hold at most ZKP_S3_MEM_BUDGET (each reserves its
 * limit at begin; beyond the budget, a file). Why: the spool file's write,
 * read back and truncation cost 22% of the proxy's CPU per 1 MiB PUT
 * (perf), and a spool file is no more durable than memory: it is unnamed,
 * never synced, and gone after a crash either way (nothing is acknowledged
 * before the upstream stored it). A larger body moves to a file when it
 * outgrows its limit. ZKP_S3_MEM_PART is the aws cli's default part size
 * (8 MiB): four such parts in flight (its default concurrency is ten, the
 * benchmark's four) fill the budget. Both limits are 64 KiB times a power
 * of two. */
#define ZKP_S3_MEM_PUT (1024u * 1024)
#define ZKP_S3_MEM_PART (8u * 1024 * 1024)
#define ZKP_S3_MEM_BUDGET (32u * 1024 * 1024)

typedef struct zkp_s3ups zkp_s3ups_t; /* uploads.h */

typedef struct zkp_s3be {
    zkp_backend_t base;
    zkp_upstream_t *up;
    zkp_s3_map_t *maps;
    size_t nmaps;
    int unmapped_same;
    char spool_dir[4096];
    time_t started;
    zkp_s3ups_t *uploads;     /* the multipart uploads made through this proxy */
    atomic_size_t mem_staged; /* bytes reserved by puts staged in memory */
} zkp_s3be_t;

/* Where a proxy bucket lives upstream. */
typedef struct zkp_s3_where {
    const char *bucket; /* upstream bucket */
    const char *prefix; /* key prefix, "" for none */
    int mapped;
} zkp_s3_where_t;

/* A staged write: a PutObject or CopyObject (commit NULL: backend_s3.c
 * sends it), or a multipart step (multipart.c sets commit, release and
 * ctx). */
struct zkp_put {
    zkp_s3be_t *be;
    char *bucket;
    char *key;                          /* upstream key: prefix + key */
    char *copy_source;                  /* CopyObject: "/bucket/key" percent-encoded, or NULL */
    char source_etag[ZKP_ETAG_MAX + 3]; /* CopyObject: the source's, quoted */
    zkp_obj_meta_t meta;
    int fd;    /* the spool file, or -1 (in memory, or no body) */
    char *mem; /* the body in memory (mem_cap bytes allocated), or NULL */
    size_t mem_cap;
    size_t mem_limit; /* bytes held in memory at most (reserved from the budget), or 0 */
    uint64_t written;
    /* A PutObject's verified SHA-256 (hex; put_sha256, backend.h), or "":
     * sent as the signed payload hash instead of Content-MD5, and the
     * upstream's ETag written to etag_out on success. */
    char sha256[65];
    char *etag_out;
    /* Sends the step upstream (put_commit's contract, backend.h) and frees
     * p with zkp_s3be_put_free(). NULL for a PutObject or CopyObject. */
    int (*commit)(zkp_put_t *p, const char *etag, const zkp_cond_t *cond, time_t *mtime);
    /* Frees ctx when the put ends, however it ends; NULL: nothing to. */
    void (*release)(zkp_put_t *p);
    void *ctx;
};

/* The upstream bucket and prefix of a proxy bucket: 0, or -1 if it has
 * none (a bucket that does not exist). */
int zkp_s3be_resolve(const zkp_s3be_t *be, const char *bucket, zkp_s3_where_t *w);
/* prefix + key, malloc'ed; NULL on OOM. */
char *zkp_s3be_key(const zkp_s3_where_t *w, const char *key);
/* The upstream bucket and key (malloc'ed, *k) of a proxy bucket's key:
 * ZKP_BE_OK, ZKP_BE_NO_BUCKET or ZKP_BE_NOMEM. */
int zkp_s3be_locate(const zkp_s3be_t *be, const char *bucket, const char *key, zkp_s3_where_t *w,
                    char **k);
/* Sends, waits for the whole answer, and checks it is 2xx. 0 with the
 * transfer in *out (release it; out may be NULL), or an error (nothing to
 * release) with the detail set (zkp_upstream_error; object: a 404 means
 * NoSuchKey). Called from workers only. */
int zkp_s3be_call(zkp_s3be_t *be, const char *what, const char *method, const char *bucket,
                  const char *key, const char *query, const char *const *headers, size_t nh, int fd,
                  uint64_t len, int object, zkp_xfer_t **out);
/* zkp_s3be_call with the body described by body (NULL: none; a staged
 * put's: zkp_s3be_put_body) and its SHA-256 (hex) signed as its payload
 * hash (zkp_upstream_send; NULL: UNSIGNED-PAYLOAD). */
int zkp_s3be_call_body(zkp_s3be_t *be, const char *what, const char *method, const char *bucket,
                       const char *key, const char *query, const char *const *headers, size_t nh,
                       const zkp_xfer_body_t *body, const char *sha256, int object,
                       zkp_xfer_t **out);
/* An unnamed file in the spool directory (DATA_DIR/tmp), or -1. */
int zkp_s3be_spool_open(const zkp_s3be_t *be);
/* How a staged put holds its body: none (a copy, a completion), a spool
 * file, or memory first (a PutObject: ZKP_S3_MEM_PUT; a part:
 * ZKP_S3_MEM_PART). */
enum { ZKP_S3_STAGE_NONE, ZKP_S3_STAGE_FILE, ZKP_S3_STAGE_MEM, ZKP_S3_STAGE_MEM_PART };
/* A staged put of key in w (upstream names), meta deep-copied, its body
 * held as `spool` says. ZKP_BE_OK with *out, ZKP_BE_NOMEM or ZKP_BE_IO. */
int zkp_s3be_stage(zkp_s3be_t *be, const zkp_s3_where_t *w, const char *key,
                   const zkp_obj_meta_t *meta, int spool, zkp_put_t **out);
/* Appends body bytes to a staged put (memory, moved to a spool file when
 * it outgrows its limit, or the file). ZKP_BE_OK or ZKP_BE_IO. */
int zkp_s3be_put_append(zkp_put_t *p, const void *data, size_t len);
/* The staged body, for zkp_s3be_call_body (valid while p is). */
zkp_xfer_body_t zkp_s3be_put_body(const zkp_put_t *p);
/* Frees p (release first, then the spool file and strings). */
void zkp_s3be_put_free(zkp_put_t *p);
/* The request headers of a put (name/value pairs in *out, malloc'ed, *n
 * pairs; the strings are p's, md5_b64's (32 bytes) and token's (24)):
 * stored headers, provenance, Content-MD5 of etag (when not a copy and
 * etag != NULL), the copy's source, cond's If-Match and If-None-Match. */
int zkp_s3be_put_headers(const zkp_put_t *p, const char *etag, const zkp_cond_t *cond,
                         const char ***out, size_t *n, char *md5_b64, char *token);

#endif
