/* The local-files backend: its table of operations (backend.h), buckets,
 * objects, and opening and closing. Layout and locking: store.h; staged
 * writes: staging.h; multipart uploads: multipart.h.
 *
 * One process per data directory: open takes an exclusive flock(2) on
 * .lock before it touches anything else, and keeps it until destroy (the
 * kernel drops it if the process dies, so a kill -9 leaves no stale lock).
 * Without it, a second proxy started on the same directory would empty
 * tmp/ under the first one's in-flight uploads and rebuild an index that
 * the first one goes on changing.
 *
 * Key-to-path mapping: the file name is the hex SHA-256 of the key, and the
 * key itself is stored inside the file. So no key can produce "..", an
 * absolute path, a NUL, an overlong component or a file/directory clash
 * ("a" and "a/b" are two unrelated files): every key of up to 1024 bytes
 * maps to a fixed-length name inside its bucket directory, and nothing can
 * escape the data directory. A hash collision is detected on read (the
 * stored key differs) and reported as a missing key.
 *
 * Listing: hashed names have no useful order, so each bucket keeps an
 * in-memory index of its keys in binary order (keyindex.h: O(log keys) per
 * change), rebuilt at start-up by reading every object head, and updated
 * under the bucket mutex in the same critical section as the rename/unlink
 * that changes the directory. Memory is O(keys); start-up reads one small
 * head per object.
 *
 * Atomicity: a put stages into tmp/ (same file system), fsyncs the file,
 * renames it over the final name and fsyncs the bucket directory; without
 * object_fsync a new key's unnamed staging file is linked into place
 * instead (staging.c). Readers hold an open descriptor, so an overwrite
 * never tears a read. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend/fs/backend_fs.h"
#include "backend/fs/listing.h"
#include "backend/fs/multipart.h"
#include "backend/fs/objfile.h"
#include "backend/fs/reaper.h"
#include "backend/fs/staging.h"
#include "backend/fs/store.h"
#include "backend/fs/upload.h"
#include "util/fsutil.h"
#include "util/textutil.h"

struct zkp_reader {
    int fd;
    uint64_t body_off;
    uint64_t size;
    size_t have;         /* the body's first bytes, read with the head */
    unsigned char pre[]; /* [have] */
};

/* How much of a body the head's read brings along: a whole 4 KiB object
 * with its head (a GET's only read), not so much that a large object's
 * reader holds a big buffer while it streams. */
#define FS_PREFETCH 8192

/* --- buckets ---------------------------------------------------------------- */

static int fs_bucket_exists(zkp_backend_t *base, const char *name)
{
    return zkp_fs_bucket_get((zkp_fs_t *)base, name) != NULL;
}

static int make_bucket_dir(zkp_fs_t *be, const char *name, time_t *created)
{
    char tmp[4096], marker[4200], dst[4096];
    snprintf(tmp, sizeof(tmp), "%s/bucket.XXXXXX", be->tmpdir);
    if (mkdtemp(tmp) == NULL)
        return ZKP_BE_IO;
    snprintf(marker, sizeof(marker), "%s/.bucket", tmp);
    int fd = open(marker, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    struct stat st;
    if (fd < 0 || (be->fsync && fsync(fd) != 0) || fstat(fd, &st) != 0) {
        if (fd >= 0)
            close(fd);
        zkp_fs_rmtree(tmp);
        return ZKP_BE_IO;
    }
    close(fd);
    *created = st.st_mtime;
    snprintf(dst, sizeof(dst), "%s/%s", be->objdir, name);
    if ((be->fsync && zkp_fs_fsync_dir(tmp) != 0) || rename(tmp, dst) != 0) {
        int exists = errno == EEXIST || errno == ENOTEMPTY;
        zkp_fs_rmtree(tmp);
        return exists ? ZKP_BE_EXISTS : ZKP_BE_IO;
    }
    if (be->fsync && zkp_fs_fsync_dir(be->objdir) != 0)
        return ZKP_BE_IO;
    return ZKP_BE_OK;
}

static int fs_bucket_create(zkp_backend_t *base, const char *name)
{
    zkp_fs_t *be = (zkp_fs_t *)base;
    pthread_mutex_lock(&be->mu);
    zkp_fs_bucket_t *b = zkp_fs_table_find(be, name);
    int rc = ZKP_BE_EXISTS;
    time_t created;
    if (b == NULL || b->deleted) {
        rc = make_bucket_dir(be, name, &created);
        if (rc == ZKP_BE_OK && zkp_fs_table_add(be, name, created) == NULL)
            rc = ZKP_BE_NOMEM;
    }
    pthread_mutex_unlock(&be->mu);
    return rc;
}

static int fs_bucket_delete(zkp_backend_t *base, const char *name)
{
    zkp_fs_t *be = (zkp_fs_t *)base;
    pthread_mutex_lock(&be->mu);
    zkp_fs_bucket_t *b = zkp_fs_table_find(be, name);
    int rc = ZKP_BE_OK;
    char src[4096], dst[4096];
    if (b == NULL || b->deleted) {
        pthread_mutex_unlock(&be->mu);
        return ZKP_BE_NO_BUCKET;
    }
    pthread_mutex_lock(&b->mu);
    if (b->index.count > 0) {
        rc = ZKP_BE_NOT_EMPTY;
    } else {
        /* Moving the directory out is the atomic step; removing its
         * (empty) contents afterwards can be interrupted harmlessly. */
        snprintf(src, sizeof(src), "%s/%s", be->objdir, name);
        zkp_fs_tmp_name(be, "deleted", dst, sizeof(dst));
        if (rename(src, dst) != 0)
            rc = ZKP_BE_IO;
        else
            b->deleted = 1;
    }
    pthread_mutex_unlock(&b->mu);
    pthread_mutex_unlock(&be->mu);
    if (rc == ZKP_BE_OK) {
        if (be->fsync)
            zkp_fs_fsync_dir(be->objdir);
        zkp_fs_reaper_add(be->reaper, dst); /* its unfinished uploads may be large */
    }
    return rc;
}

static int info_cmp(const void *a, const void *b)
{
    return strcmp(((const zkp_bucket_info_t *)a)->name, ((const zkp_bucket_info_t *)b)->name);
}

static int fs_bucket_list(zkp_backend_t *base, zkp_bucket_info_t **out, size_t *n)
{
    zkp_fs_t *be = (zkp_fs_t *)base;
    pthread_mutex_lock(&be->mu);
    zkp_bucket_info_t *list = calloc(be->nb + 1, sizeof(*list));
    size_t k = 0;
    for (size_t i = 0; list != NULL && i < be->nb; i++) {
        if (be->buckets[i]->deleted)
            continue;
        memcpy(list[k].name, be->buckets[i]->name, sizeof(list[k].name));
        list[k++].created = be->buckets[i]->created;
    }
    pthread_mutex_unlock(&be->mu);
    if (list == NULL)
        return ZKP_BE_NOMEM;
    qsort(list, k, sizeof(*list), info_cmp);
    *out = list;
    *n = k;
    return ZKP_BE_OK;
}

/* --- puts and reads ------------------------------------------------------------- */

static int fs_put_begin(zkp_backend_t *base, const char *bucket, const char *key,
                        const zkp_obj_meta_t *meta, zkp_put_t **out)
{
    zkp_fs_t *be = (zkp_fs_t *)base;
    zkp_fs_bucket_t *b = zkp_fs_bucket_get(be, bucket);
    if (b == NULL)
        return ZKP_BE_NO_BUCKET;
    return zkp_fs_stage(be, b, key, meta, NULL, out);
}

static int fs_open(zkp_backend_t *base, const char *bucket, const char *key, zkp_obj_meta_t *m,
                   zkp_reader_t **r)
{
    uint64_t off;
    unsigned char buf[FS_PREFETCH];
    size_t have = 0;
    int fd = zkp_fs_open_object_buf((zkp_fs_t *)base, bucket, key, m, &off, NULL, buf,
                                    r != NULL ? sizeof(buf) : 0, &have);
    if (fd < 0)
        return fd;
    if (r == NULL) {
        close(fd);
        return ZKP_BE_OK;
    }
    zkp_reader_t *rd = malloc(sizeof(*rd) + have);
    if (rd == NULL) {
        close(fd);
        zkp_obj_meta_free(m);
        return ZKP_BE_NOMEM;
    }
    rd->fd = fd;
    rd->body_off = off;
    rd->size = m->size;
    rd->have = have;
    memcpy(rd->pre, buf, have);
    *r = rd;
    return ZKP_BE_OK;
}

static ssize_t fs_read(zkp_reader_t *r, uint64_t offset, void *buf, size_t len)
{
    if (offset >= r->size)
        return 0;
    if (len > r->size - offset)
        len = (size_t)(r->size - offset);
    if (offset < r->have) { /* the bytes that came with the head */
        if (len > r->have - offset)
            len = (size_t)(r->have - offset);
        memcpy(buf, r->pre + offset, len);
        return (ssize_t)len;
    }
    ssize_t n;
    do
        n = pread(r->fd, buf, len, (off_t)(r->body_off + offset));
    while (n < 0 && errno == EINTR);
    return n;
}

static int fs_take_fd(zkp_reader_t *r, int *fd, uint64_t *body_off)
{
    if (r->fd < 0)
        return ZKP_BE_IO;
    *fd = r->fd;
    *body_off = r->body_off;
    r->fd = -1;
    return ZKP_BE_OK;
}

static void fs_close(zkp_reader_t *r)
{
    if (r == NULL)
        return;
    if (r->fd >= 0)
        close(r->fd);
    free(r);
}

static int fs_copy_begin(zkp_backend_t *base, const char *sb, const char *sk, const char *db,
                         const char *dk, const zkp_obj_meta_t *replace, const zkp_obj_meta_t *prov,
                         const zkp_cond_t *src_cond, zkp_put_t **out, char etag[ZKP_ETAG_MAX + 1])
{
    zkp_fs_t *be = (zkp_fs_t *)base;
    zkp_fs_bucket_t *dst = zkp_fs_bucket_get(be, db);
    if (dst == NULL)
        return ZKP_BE_NO_BUCKET;
    zkp_obj_meta_t src;
    uint64_t off;
    int fd = zkp_fs_open_object(be, sb, sk, &src, &off, NULL);
    if (fd < 0)
        return fd;
    /* The source's preconditions, against the version opened: the one
     * copied, whatever is written to the source meanwhile. */
    if (zkp_cond_check_read(src_cond, src.etag, src.mtime, NULL) != ZKP_COND_PASS) {
        zkp_obj_meta_free(&src);
        close(fd);
        return ZKP_BE_PRECONDITION;
    }
    zkp_obj_meta_t m;
    int rc = zkp_obj_meta_copy(&m, replace ? replace : &src) == 0 ? ZKP_BE_OK : ZKP_BE_NOMEM;
    if (rc == ZKP_BE_OK) {
        free(m.fence_lock);
        m.fence_lock = prov && prov->fence_lock ? strdup(prov->fence_lock) : NULL;
        m.fence_token = prov ? prov->fence_token : 0;
        memset(m.etag, 0, sizeof(m.etag));
        rc = zkp_fs_stage(be, dst, dk, &m, NULL, out);
        zkp_obj_meta_free(&m);
    }
    if (rc == ZKP_BE_OK && zkp_fs_copy_range(*out, fd, off, src.size, etag) != ZKP_BE_OK) {
        zkp_fs_put_abort(*out);
        rc = ZKP_BE_IO;
    }
    zkp_obj_meta_free(&src);
    close(fd);
    return rc;
}

/* --- remove and list -------------------------------------------------------- */

static int fs_remove(zkp_backend_t *base, const char *bucket, const char *key)
{
    zkp_fs_t *be = (zkp_fs_t *)base;
    zkp_fs_bucket_t *b = zkp_fs_bucket_get(be, bucket);
    if (b == NULL)
        return ZKP_BE_NO_BUCKET;
    char path[4096];
    if (zkp_fs_obj_path(be, bucket, key, path, sizeof(path)) != 0)
        return ZKP_BE_IO;
    /* The file, not the index, says whether the key exists: reads open the
     * file, so an object the index failed to record (publication reports
     * that as an error, the file stays) must still be deletable. */
    int rc = ZKP_BE_OK;
    pthread_mutex_lock(&b->mu);
    if (unlink(path) != 0)
        rc = errno == ENOENT ? ZKP_BE_NO_KEY : ZKP_BE_IO;
    if (rc != ZKP_BE_IO)
        zkp_kx_remove(&b->index, key); /* gone from disk: must not stay listed either */
    pthread_mutex_unlock(&b->mu);
    if (rc == ZKP_BE_OK && zkp_fs_dir_sync(be, b) != 0)
        rc = ZKP_BE_IO;
    return rc;
}

static int fs_list(zkp_backend_t *base, const char *bucket, const zkp_list_req_t *req,
                   zkp_list_result_t *res)
{
    zkp_fs_bucket_t *b = zkp_fs_bucket_get((zkp_fs_t *)base, bucket);
    if (b == NULL)
        return ZKP_BE_NO_BUCKET;
    pthread_mutex_lock(&b->mu);
    int rc = zkp_list_page(&b->index, req, res) == 0 ? ZKP_BE_OK : ZKP_BE_NOMEM;
    pthread_mutex_unlock(&b->mu);
    return rc;
}

/* --- start-up and shutdown --------------------------------------------------- */

static int is_hash_name(const char *s)
{
    if (strlen(s) != 64)
        return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return 0;
    return 1;
}

static void load_object(zkp_fs_bucket_t *b, const char *dir, const char *name)
{
    char path[4096 + 80]; /* dir (< 4096) + "/" + a 64-char hash name */
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    char *key = NULL;
    zkp_obj_meta_t m;
    uint64_t off;
    char h[65];
    if (zkp_objfile_read_head(fd, &key, &m, NULL, &off) != 0) {
        fprintf(stderr, "zkfence-proxy: ignoring malformed object file %s\n", path);
    } else {
        zkp_fs_key_hash(key, h);
        zkp_index_entry_t *e = strcmp(h, name) == 0 ? zkp_fs_entry_new(key, &m) : NULL;
        if (e != NULL)
            zkp_kx_upsert(&b->index, e); /* out of memory: unlisted, still readable */
        zkp_obj_meta_free(&m);
    }
    free(key);
    close(fd);
}

static int load_bucket(zkp_fs_t *be, const char *name)
{
    char dir[4096], marker[4200];
    snprintf(dir, sizeof(dir), "%s/%s", be->objdir, name);
    snprintf(marker, sizeof(marker), "%s/.bucket", dir);
    struct stat st;
    if (stat(marker, &st) != 0)
        return 0; /* not a bucket directory */
    zkp_fs_bucket_t *b = zkp_fs_table_add(be, name, st.st_mtime);
    DIR *d = opendir(dir);
    if (b == NULL || d == NULL) {
        if (d != NULL)
            closedir(d);
        return -1;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (is_hash_name(de->d_name))
            load_object(b, dir, de->d_name);
    closedir(d);
    return 0;
}

static int load_all(zkp_fs_t *be)
{
    DIR *d = opendir(be->objdir);
    if (d == NULL)
        return -1;
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(d)) != NULL)
        if (zkp_bucket_name_valid(de->d_name, strlen(de->d_name)))
            rc = load_bucket(be, de->d_name);
    closedir(d);
    return rc;
}

/* Larger than this, a file's blocks take long enough to free (an aborted
 * staging file unlinked, an object replaced by the rename, under the
 * bucket's mutex) to stall an event loop. */
#define FS_LOOP_MAX (1u << 20)

/* Without object_fsync a put's seal and commit are page-cache writes and a
 * rename: they never wait for the disk, unless the rename replaces a large
 * object or an abort unlinks a large body (the last link of a file frees
 * its blocks). The replaced object's size is checked now, in the bucket's
 * index rather than on disk (a stat of its path was 7% of the proxy's CPU
 * on 4 KiB PUTs, perf). One replaced by a large one in between, or a file
 * the index misses (only after an allocation failure), costs a stall, not
 * a fault. */
static int fs_put_waits(zkp_put_t *p)
{
    if (p->fs->fsync || p->written > FS_LOOP_MAX)
        return 1;
    /* The mutex is the one the put's commit takes next on the same loop,
     * so waiting for it here adds no new stall (a link or rename under it
     * is brief; a worker's unlink of a large object is not, and the commit
     * would wait for that just the same). Sending a put to a worker
     * whenever the mutex is busy would, under load, send about a quarter
     * of them. */
    pthread_mutex_lock(&p->b->mu);
    const zkp_index_entry_t *e = zkp_kx_find(&p->b->index, p->key);
    int large = e != NULL && e->size > FS_LOOP_MAX;
    pthread_mutex_unlock(&p->b->mu);
    return large;
}

static void fs_destroy(zkp_backend_t *base)
{
    zkp_fs_t *be = (zkp_fs_t *)base;
    if (be == NULL)
        return;
    zkp_fs_reaper_stop(be->reaper); /* deletes what it still has queued */
    zkp_fs_table_free(be);
    pthread_mutex_destroy(&be->mu);
    free(be->objdir);
    free(be->tmpdir);
    if (be->lock_fd >= 0)
        close(be->lock_fd); /* releases the flock */
    free(be);
}

static const zkp_backend_ops_t fs_ops = {
    .name = "local-files",
    .put_waits = fs_put_waits,
    .destroy = fs_destroy,
    .bucket_create = fs_bucket_create,
    .bucket_delete = fs_bucket_delete,
    .bucket_exists = fs_bucket_exists,
    .bucket_list = fs_bucket_list,
    .put_begin = fs_put_begin,
    .put_write = zkp_fs_put_write,
    .put_seal = zkp_fs_put_seal,
    .put_commit = zkp_fs_put_commit,
    .put_abort = zkp_fs_put_abort,
    .copy_begin = fs_copy_begin,
    .open = fs_open,
    .read = fs_read,
    .take_fd = fs_take_fd,
    .close = fs_close,
    .remove = fs_remove,
    .list = fs_list,
    .mpu_create = zkp_fs_mpu_create,
    .mpu_stat = zkp_fs_mpu_stat,
    .mpu_part_begin = zkp_fs_mpu_part_begin,
    .mpu_part_copy_begin = zkp_fs_mpu_part_copy_begin,
    .mpu_list_parts = zkp_fs_mpu_list_parts,
    .mpu_complete_begin = zkp_fs_mpu_complete_begin,
    .mpu_abort = zkp_fs_mpu_abort,
    .mpu_list = zkp_fs_mpu_list,
    .mpu_sweep = zkp_fs_mpu_sweep,
};

/* Takes DATA_DIR/.lock for good, and writes our pid into it for the
 * message a second process gets. Returns 0, or -1 with err set. */
static int lock_data_dir(zkp_fs_t *be, const char *data_dir, char *err, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/.lock", data_dir);
    be->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (be->lock_fd < 0) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    if (flock(be->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        char holder[32] = "";
        ssize_t n = pread(be->lock_fd, holder, sizeof(holder) - 1, 0);
        holder[n > 0 ? n : 0] = '\0';
        holder[strcspn(holder, "\n")] = '\0';
        if (e == EWOULDBLOCK)
            snprintf(err, errlen,
                     "data directory %s is in use by another zkfence-proxy (%s is locked%s%s)",
                     data_dir, path, holder[0] ? " by pid " : "", holder);
        else
            snprintf(err, errlen, "%s: cannot lock: %s", path, strerror(e));
        close(be->lock_fd);
        be->lock_fd = -1;
        return -1;
    }
    char pid[32];
    int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(be->lock_fd, 0) != 0 || pwrite(be->lock_fd, pid, (size_t)n, 0) != n)
        fprintf(stderr, "zkfence-proxy: %s: cannot record our pid (the lock is held)\n", path);
    return 0;
}

int zkp_backend_fs_unnamed_staging(zkp_backend_t *be)
{
    return ((zkp_fs_t *)be)->tmpfile;
}

void zkp_backend_fs_set_unnamed_staging(zkp_backend_t *be, int on)
{
    zkp_fs_t *fs = (zkp_fs_t *)be;
    fs->tmpfile = fs->tmpfile && on;
}

zkp_backend_t *zkp_backend_fs_open(const char *data_dir, int object_fsync, char *err, size_t errlen)
{
    zkp_fs_t *be = calloc(1, sizeof(*be));
    if (be == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    be->base.ops = &fs_ops;
    be->fsync = object_fsync;
    be->lock_fd = -1;
    pthread_mutex_init(&be->mu, NULL);
    if (asprintf(&be->objdir, "%s/objects", data_dir) < 0 ||
        asprintf(&be->tmpdir, "%s/tmp", data_dir) < 0) {
        be->objdir = be->tmpdir = NULL;
        snprintf(err, errlen, "out of memory");
        fs_destroy(&be->base);
        return NULL;
    }
    if (zkp_mkdir_p(data_dir) != 0) {
        snprintf(err, errlen, "%s: cannot create: %s", data_dir, strerror(errno));
        fs_destroy(&be->base);
        return NULL;
    }
    /* Before anything under the directory is touched: tmp/ below may hold
     * the running uploads of the process that has the lock. */
    if (lock_data_dir(be, data_dir, err, errlen) != 0) {
        fs_destroy(&be->base);
        return NULL;
    }
    if (zkp_mkdir_p(be->objdir) != 0 || zkp_mkdir_p(be->tmpdir) != 0) {
        snprintf(err, errlen, "%s: cannot create: %s", data_dir, strerror(errno));
        fs_destroy(&be->base);
        return NULL;
    }
    /* Staging files of writes that never committed (a crash, a kill -9)
     * are garbage by definition: they were never visible. We hold the
     * directory's lock, so no other process is writing them. */
    zkp_fs_empty_dir(be->tmpdir);
    /* Unnamed staging files only without object_fsync: after a crash, the
     * link that names a synced O_TMPFILE is durable only once its inode is
     * written again, which a directory's fsync does not do on every file
     * system (ext4 without a journal); a durable write keeps the rename. */
    be->tmpfile = !be->fsync && zkp_fs_tmpfile_works(be->tmpdir);
    if (load_all(be) != 0) {
        snprintf(err, errlen, "%s: cannot read objects: %s", be->objdir, strerror(errno));
        fs_destroy(&be->base);
        return NULL;
    }
    if (zkp_fs_reaper_start(&be->reaper) != 0) {
        snprintf(err, errlen, "cannot start the upload reaper thread");
        fs_destroy(&be->base);
        return NULL;
    }
    /* Uploads a crash left completed (their object in place) or unreadable.
     * Unfinished ones stay: they can still be completed or aborted. */
    zkp_fs_uploads_recover(be);
    return &be->base;
}
