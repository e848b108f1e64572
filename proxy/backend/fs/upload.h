/* A multipart upload on disk, for the local-files backend (upload.c): its
 * id, its directory, its manifest, the lock that serialises its completion
 * and abort, its removal, and what start-up and the age sweep do with
 * uploads. The backend table's operations on uploads are in multipart.c.
 *
 *   objects/<bucket>/.uploads/<id>/manifest   the upload's record: an object
 *              file (objfile.h) with no body: the key, the headers the
 *              object will have, the fencing record given at create
 *              (:fence-lock, :fence-token), the initiation time as mtime
 *   objects/<bucket>/.uploads/<id>/00001 ...  the parts, as object files
 *              (their ETag, size and time in the preamble)
 *
 * Under the bucket's directory: an upload lives and dies with its bucket
 * (DeleteBucket of a bucket without objects discards its uploads).
 *
 * Ids: 16 hex digits of the initiation time in nanoseconds, then 24 random
 * hex digits, so the ids of one key sort in initiation order (as
 * ListMultipartUploads lists them) and cannot be guessed. Any other string
 * is an unknown upload and never reaches a path.
 *
 * The lock: a completion, an abort and the sweep take an exclusive flock(2)
 * on the manifest for their whole work (released by the kernel if the
 * process dies), and then check that the upload is still there: the one
 * that waited finds it gone. Parts never take it. Lock order: the manifest,
 * then the caller's fencing section, then the bucket's mutex.
 *
 * Internal to backend/fs/. */
#ifndef ZKP_FS_UPLOAD_H
#define ZKP_FS_UPLOAD_H

#include <stddef.h>
#include <time.h>

#include "backend/backend.h"
#include "backend/fs/store.h"

#define ZKP_FS_UPLOAD_ID_LEN 40

/* 1 if id has the form of our ids (40 lowercase hex digits). */
int zkp_fs_upload_id_valid(const char *id);
/* A new id (ZKP_FS_UPLOAD_ID_LEN + 1 bytes). 0, or -1 if no randomness. */
int zkp_fs_upload_id_new(char out[ZKP_FS_UPLOAD_ID_LEN + 1]);

/* objects/<bucket>/.uploads, and an upload's directory in it. */
void zkp_fs_uploads_dir(zkp_fs_t *fs, const char *bucket, char *out, size_t cap);
void zkp_fs_upload_dir(zkp_fs_t *fs, const char *bucket, const char *id, char *out, size_t cap);

/* An upload, found and checked: its directory and its manifest's record. */
typedef struct zkp_fs_upload {
    zkp_fs_bucket_t *b;
    char dir[4096];
    zkp_obj_meta_t meta; /* headers, fencing record, mtime = initiated */
    int fd;              /* the manifest, open (and flock'ed by zkp_fs_upload_lock); -1 */
} zkp_fs_upload_t;

/* Finds the upload `id` of bucket/key and reads its manifest; with
 * keep_fd the manifest stays open in u->fd. ZKP_BE_OK, or ZKP_BE_NO_BUCKET,
 * ZKP_BE_NO_UPLOAD (malformed id, none, another key), ZKP_BE_IO (an
 * unreadable manifest). On success release u with zkp_fs_upload_close(). */
int zkp_fs_upload_open(zkp_fs_t *fs, const char *bucket, const char *key, const char *id,
                       int keep_fd, zkp_fs_upload_t *u);
/* zkp_fs_upload_open, then the upload's exclusive lock (waiting for a
 * completion or abort in progress), then the check that it is still there
 * (ZKP_BE_NO_UPLOAD if that one ended it). */
int zkp_fs_upload_lock(zkp_fs_t *fs, const char *bucket, const char *key, const char *id,
                       zkp_fs_upload_t *u);
/* Closes the manifest (releasing the lock) and frees the record. */
void zkp_fs_upload_close(zkp_fs_upload_t *u);

/* Ends an upload: its directory is moved into tmp/ at once (no part can
 * land in it afterwards: the upload is gone), and deleted with its parts
 * by the reaper (reaper.h). The caller holds its lock. */
void zkp_fs_upload_remove(zkp_fs_t *fs, const char *dir);

/* Start-up, before serving: removes, in every bucket, the uploads whose
 * object is already there (a crash between a completion's publication and
 * the upload's removal: the object records its upload's id), and those
 * whose manifest cannot be read. Says what it removed on stderr. */
void zkp_fs_uploads_recover(zkp_fs_t *fs);

/* The age sweep (mpu_sweep): removes every upload initiated before
 * `before`, skipping those whose lock is taken. Returns how many. */
int zkp_fs_uploads_sweep(zkp_fs_t *fs, time_t before);

#endif
