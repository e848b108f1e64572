/* The local-files backend's shared state (store.c): the backend itself, its
 * table of buckets, the group-committed syncs of bucket directories, and
 * the paths of objects. Internal to backend/fs/: backend_fs.c (the table
 * of operations, buckets and objects), staging.c (staged writes) and
 * multipart.c (uploads) build on it.
 *
 * Layout under DATA_DIR:
 *   objects/<bucket>/.bucket           marker; its mtime is the creation date
 *   objects/<bucket>/<sha256(key)>     one file per object: head + body (objfile.h)
 *   objects/<bucket>/.uploads/<id>/    an unfinished multipart upload (multipart.c)
 *   tmp/                               staging (unnamed files where the file
 *                                      system can, staging.h); emptied at
 *                                      start-up
 *   .lock                              flock'ed for the backend's lifetime
 *
 * Thread safety: the bucket table is guarded by zkp_fs_t.mu, each bucket's
 * index and the renames and unlinks in its directory by the bucket's mu. */
#ifndef ZKP_FS_STORE_H
#define ZKP_FS_STORE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "backend/backend.h"
#include "backend/fs/keyindex.h"

typedef struct zkp_fs_bucket {
    char name[64];
    time_t created;
    int deleted;        /* kept in the table after deletion; revived on re-create */
    pthread_mutex_t mu; /* guards the index and renames/unlinks in the directory */
    zkp_kx_t index;     /* its keys (keyindex.h) */
    /* Group commit of directory syncs, under sync_mu. Tickets are handed
     * out after a directory change; every ticket <= synced is durable,
     * tickets in (synced, failed] got an error. */
    pthread_mutex_t sync_mu;
    pthread_cond_t sync_cv;
    uint64_t tickets, synced, failed;
    int syncing;
} zkp_fs_bucket_t;

typedef struct zkp_fs {
    zkp_backend_t base;
    char *objdir;
    char *tmpdir;
    int fsync;
    int tmpfile;        /* staging files are O_TMPFILE (without fsync, if the file system can) */
    int lock_fd;        /* DATA_DIR/.lock, flock'ed exclusively; -1 when not held */
    pthread_mutex_t mu; /* guards the bucket table and bucket create/delete */
    zkp_fs_bucket_t **buckets;
    size_t nb;
    atomic_ulong seq;             /* unique names in tmp/ (zkp_fs_tmp_name) */
    struct zkp_fs_reaper *reaper; /* deletes ended uploads' parts (reaper.h) */
} zkp_fs_t;

/* The table entry of a bucket, deleted ones included, or NULL. The caller
 * holds fs->mu. */
zkp_fs_bucket_t *zkp_fs_table_find(zkp_fs_t *fs, const char *name);
/* Adds (or revives) a bucket in the table; NULL when out of memory. The
 * caller holds fs->mu. */
zkp_fs_bucket_t *zkp_fs_table_add(zkp_fs_t *fs, const char *name, time_t created);
/* Frees the table (destroy). */
void zkp_fs_table_free(zkp_fs_t *fs);
/* A live bucket, or NULL. Bucket structs are never freed before destroy, so
 * the pointer stays valid; `deleted` is re-checked under b->mu by whoever
 * changes the bucket's directory. */
zkp_fs_bucket_t *zkp_fs_bucket_get(zkp_fs_t *fs, const char *name);
/* The names of the live buckets (malloc'ed array of 64-byte names: free()),
 * *n of them. 0, or -1 when out of memory. */
int zkp_fs_bucket_names(zkp_fs_t *fs, char (**names)[64], size_t *n);

/* A key index entry for key with m's size, mtime and ETag; NULL when out
 * of memory. */
zkp_index_entry_t *zkp_fs_entry_new(const char *key, const zkp_obj_meta_t *m);

/* The hex SHA-256 of a key: its file name. */
void zkp_fs_key_hash(const char *key, char out[65]);
/* DATA_DIR/objects/<bucket>/<hash of key>. 0, or -1 if it does not fit. */
int zkp_fs_obj_path(zkp_fs_t *fs, const char *bucket, const char *key, char *out, size_t cap);
/* A fresh path in tmp/ for `what` (tmp/what.N), to move a directory out of
 * the way before removing it. */
void zkp_fs_tmp_name(zkp_fs_t *fs, const char *what, char *out, size_t cap);

/* Opens and validates an object file: returns its descriptor, or a
 * zkp_be_err_t (ZKP_BE_NO_BUCKET, ZKP_BE_NO_KEY, ZKP_BE_IO). *m gets its
 * metadata (zkp_obj_meta_free()), *body_off where its body starts, and
 * *upload_id, if not NULL, the upload that made it (malloc'ed or NULL). */
int zkp_fs_open_object(zkp_fs_t *fs, const char *bucket, const char *key, zkp_obj_meta_t *m,
                       uint64_t *body_off, char **upload_id);
/* zkp_fs_open_object(), with the head read into buf (cap bytes, at least
 * 4096; see zkp_objfile_read_head_buf): buf[0 .. *body_have) then holds
 * the body's first bytes, which came in the same read. */
int zkp_fs_open_object_buf(zkp_fs_t *fs, const char *bucket, const char *key, zkp_obj_meta_t *m,
                           uint64_t *body_off, char **upload_id, void *buf, size_t cap,
                           size_t *body_have);

/* fsync of a directory by path. 0 or -1. */
int zkp_fs_fsync_dir(const char *path);
/* Makes the bucket directory's entries as of now durable: call after the
 * change (rename, unlink) that must be made durable. Group-committed: one
 * fsync covers every change made before it began. A no-op without
 * object_fsync. 0 or -1. */
int zkp_fs_dir_sync(zkp_fs_t *fs, zkp_fs_bucket_t *b);

/* pwrite(2) at off until done; 0 or -1. */
int zkp_fs_pwrite_all(int fd, const void *buf, size_t len, uint64_t off);
/* Removes path and everything under it; errors are ignored. */
void zkp_fs_rmtree(const char *path);
/* Removes everything inside dir, keeping dir. */
void zkp_fs_empty_dir(const char *dir);

#endif
