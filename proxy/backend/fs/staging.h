/* Staged writes of the local-files backend (staging.c): a file in tmp/ in
 * the object file format (objfile.h), written, sealed (finished and
 * fsync'ed) and then published, or discarded. One lifecycle for the three
 * things a write can make visible; each sets the publisher that puts the
 * sealed file in its place:
 *   - an object (zkp_fs_publish_object: put in place of its key's file and
 *     indexed);
 *   - a part of a multipart upload (multipart.c: put into the upload);
 *   - a completed upload (multipart.c: an object, then the upload ends).
 * Internal to backend/fs/. */
#ifndef ZKP_FS_STAGING_H
#define ZKP_FS_STAGING_H

#include <stdint.h>

#include "backend/backend.h"
#include "backend/cond.h"
#include "backend/fs/objfile.h"
#include "backend/fs/store.h"

struct zkp_put {
    zkp_fs_t *fs;
    zkp_fs_bucket_t *b;
    char *key;
    int fd;
    uint64_t body_off;
    uint64_t written;
    /* The file's head, until it is written: with the body's first bytes,
     * in one write (zkp_fs_put_write), or at the seal. One system call
     * fewer per small PUT, and the page that head and body share is not
     * zeroed by the kernel for each of two writes (memset under pwrite was
     * 7% of the proxy's CPU on 4 KiB PUTs, perf). len 0 once written. */
    zkp_buf_t head;
    int sealed;       /* finished and fsync'ed (zkp_fs_put_seal) */
    zkp_obj_meta_t m; /* size, mtime, etag once sealed */
    char tmp[4096];   /* the staging file's name; "" while it has none, and once placed */
    int anon;         /* an O_TMPFILE staging file, not yet placed */
    /* Makes the sealed file visible (zkp_fs_put_place, and the syncs that
     * make that durable). Returns a zkp_be_err_t; on failure the staging
     * file is removed afterwards (closed, and unlinked if tmp names it). */
    int (*publish)(zkp_put_t *p);
    /* Frees ctx when the put ends, however it ends; NULL: nothing to free. */
    void (*release)(zkp_put_t *p);
    void *ctx; /* the publisher's */
    /* The write's precondition while put_commit runs (NULL: none); the
     * object publisher checks it. Borrowed from the caller of put_commit. */
    const zkp_cond_t *cond;
};

/* Creates the staging file in tmp/ with the object file head for key, meta
 * and x (may be NULL), ready for body bytes, published as an object unless
 * the caller sets another publisher. ZKP_BE_OK with *out set, or
 * ZKP_BE_NOMEM / ZKP_BE_IO. */
int zkp_fs_stage(zkp_fs_t *fs, zkp_fs_bucket_t *b, const char *key, const zkp_obj_meta_t *meta,
                 const zkp_objfile_extra_t *x, zkp_put_t **out);

/* Whether tmpdir's file system can stage unnamed files: an O_TMPFILE opened
 * in it and linked through /proc/self/fd (1), or not (0: no O_TMPFILE
 * support, or no /proc). zkp_backend_fs_open asks once. */
int zkp_fs_tmpfile_works(const char *tmpdir);

/* The put operations of the backend table (backend.h). */
int zkp_fs_put_write(zkp_put_t *p, const void *data, size_t len);
int zkp_fs_put_seal(zkp_put_t *p, const char *etag);
int zkp_fs_put_commit(zkp_put_t *p, const char *etag, const zkp_cond_t *cond, time_t *mtime);
void zkp_fs_put_abort(zkp_put_t *p);

/* Appends len bytes of fd, from offset off, to p's body, and fills etag
 * with their hex MD5 (the ETag of a copy). The bytes pass through a buffer:
 * the MD5 needs them. ZKP_BE_OK or ZKP_BE_IO. */
int zkp_fs_copy_range(zkp_put_t *p, int fd, uint64_t off, uint64_t len,
                      char etag[ZKP_ETAG_MAX + 1]);

/* Puts p's sealed staging file at path dst, replacing the file there if any,
 * atomically: a reader of dst opens the old file or the new one. Where the
 * file system allows it (zkp_fs_t.tmpfile), the staging file is an
 * O_TMPFILE with no name and no entry in tmp/ (object_fsync off only; see
 * zkp_backend_fs_open): a new dst is one link, in
 * dst's directory only, and an existing one is replaced by a rename after
 * the file is given a name in tmp/. Otherwise the staging file is named in
 * tmp/ and renamed. The rename across directories takes the file system's
 * rename mutex and both directories' locks; creating a named file takes
 * tmp/'s lock: with many writers, 11 to 31% of the proxy's CPU on 4 KiB
 * PUTs was spent spinning on those locks (perf: rwsem_spin_on_owner under
 * lock_two_directories and path_openat). 0, or -1 with errno set (ENOENT:
 * dst's directory is gone). replacing: dst is known to exist (the caller
 * holds what keeps it there), so an unnamed file is named and renamed at
 * once, without a link bound to fail. Called once, by the publisher. */
int zkp_fs_put_place(zkp_put_t *p, const char *dst, int replacing);

/* The object publisher: puts the sealed file in place of its key's file and
 * indexes it, atomically with respect to other commits, deletes and
 * listings of the bucket, then syncs the bucket directory. With pre, the
 * condition is checked against the object being replaced, under the same
 * bucket mutex (cond.h, zkp_cond_check_write(); ZKP_BE_PRECONDITION, or
 * ZKP_BE_NO_KEY for If-Match without an object: nothing changed). */
int zkp_fs_publish_object(zkp_put_t *p, const zkp_cond_t *pre);

#endif
