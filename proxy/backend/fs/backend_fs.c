/* The local-files backend.
 *
 * Layout under DATA_DIR:
 *   objects/<bucket>/.bucket          marker; its mtime is the creation date
 *   objects/<bucket>/<sha256(key)>    one file per object: head + body (objfile.h)
 *   tmp/                              staging; emptied at start-up
 *   .lock                             flock'ed for the backend's lifetime
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
 * renames it over the final name and fsyncs the bucket directory. Readers
 * hold an open descriptor, so an overwrite never tears a read.
 *
 * Syncs: the staged file is finished and fsync'ed by put_seal, which the
 * core calls before it enters a lock's fencing section, so writers of one
 * lock sync their bodies in parallel. Directory syncs are group-committed
 * per bucket (dir_sync): a rename takes a ticket, and one fsync of the
 * directory covers every rename that took its ticket before that fsync
 * began, so concurrent writers share it instead of queueing one each. */
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
#include "backend/fs/objfile.h"
#include "util/fsutil.h"
#include "util/textutil.h"

typedef struct fs_bucket {
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
} fs_bucket_t;

typedef struct fs_backend {
    zkp_backend_t base;
    char *objdir;
    char *tmpdir;
    int fsync;
    int lock_fd;        /* DATA_DIR/.lock, flock'ed exclusively; -1 when not held */
    pthread_mutex_t mu; /* guards the bucket table and bucket create/delete */
    fs_bucket_t **buckets;
    size_t nb;
    unsigned long seq; /* under mu: unique names for deleted bucket directories */
} fs_backend_t;

struct zkp_put {
    fs_backend_t *be;
    fs_bucket_t *b;
    char *key;
    int fd;
    uint64_t body_off;
    uint64_t written;
    int sealed;       /* finished and fsync'ed (put_seal) */
    zkp_obj_meta_t m; /* size, mtime, etag once sealed */
    char tmp[4096];
};

struct zkp_reader {
    int fd;
    uint64_t body_off;
    uint64_t size;
};

/* --- helpers ------------------------------------------------------------ */

static void key_hash(const char *key, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(key, strlen(key), md, &mdlen, EVP_sha256(), NULL);
    zkp_hex_encode(md, 32, out);
}

static int obj_path(fs_backend_t *be, const char *bucket, const char *key, char *out, size_t cap)
{
    char h[65];
    key_hash(key, h);
    int n = snprintf(out, cap, "%s/%s/%s", be->objdir, bucket, h);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

static int fsync_path(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* Makes the bucket directory's entries as of now durable (see the top).
 * Call after the change (rename, unlink) that must be made durable. */
static int dir_sync(fs_backend_t *be, fs_bucket_t *b)
{
    if (!be->fsync)
        return 0;
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", be->objdir, b->name);
    pthread_mutex_lock(&b->sync_mu);
    uint64_t mine = ++b->tickets;
    while (b->synced < mine && b->failed < mine) {
        if (b->syncing) {
            pthread_cond_wait(&b->sync_cv, &b->sync_mu);
            continue;
        }
        /* Lead a sync: it covers every ticket handed out so far, since their
         * changes were made before they took their tickets. */
        uint64_t upto = b->tickets;
        b->syncing = 1;
        pthread_mutex_unlock(&b->sync_mu);
        int rc = fsync_path(path);
        pthread_mutex_lock(&b->sync_mu);
        b->syncing = 0;
        if (rc == 0 && upto > b->synced)
            b->synced = upto;
        else if (rc != 0 && upto > b->failed)
            b->failed = upto;
        pthread_cond_broadcast(&b->sync_cv);
    }
    int ok = b->synced >= mine;
    pthread_mutex_unlock(&b->sync_mu);
    return ok ? 0 : -1;
}

static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void rmtree(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Removes everything inside dir, keeping dir. */
static void empty_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *de;
    char path[4096];
    while ((de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        rmtree(path);
    }
    closedir(d);
}

/* --- the per-bucket index ------------------------------------------------ */

static zkp_index_entry_t *entry_new(const char *key, const zkp_obj_meta_t *m)
{
    size_t klen = strlen(key);
    zkp_index_entry_t *e = malloc(sizeof(*e) + klen + 1);
    if (e == NULL)
        return NULL;
    e->size = m->size;
    e->mtime = m->mtime;
    memcpy(e->etag, m->etag, sizeof(e->etag));
    e->klen = klen;
    memcpy(e->key, key, klen + 1);
    return e;
}

/* --- the bucket table ----------------------------------------------------- */

/* Caller holds be->mu. Includes deleted buckets. */
static fs_bucket_t *table_find(fs_backend_t *be, const char *name)
{
    for (size_t i = 0; i < be->nb; i++)
        if (strcmp(be->buckets[i]->name, name) == 0)
            return be->buckets[i];
    return NULL;
}

/* Caller holds be->mu. */
static fs_bucket_t *table_add(fs_backend_t *be, const char *name, time_t created)
{
    fs_bucket_t *b = table_find(be, name);
    if (b == NULL) {
        fs_bucket_t **t = realloc(be->buckets, (be->nb + 1) * sizeof(*t));
        if (t == NULL)
            return NULL;
        be->buckets = t;
        if ((b = calloc(1, sizeof(*b))) == NULL)
            return NULL;
        snprintf(b->name, sizeof(b->name), "%s", name);
        zkp_kx_init(&b->index);
        pthread_mutex_init(&b->mu, NULL);
        pthread_mutex_init(&b->sync_mu, NULL);
        pthread_cond_init(&b->sync_cv, NULL);
        be->buckets[be->nb++] = b;
    }
    b->created = created;
    b->deleted = 0;
    return b;
}

/* A live bucket, or NULL. Bucket structs are never freed before destroy,
 * so the pointer stays valid; `deleted` is re-checked under b->mu. */
static fs_bucket_t *bucket_get(fs_backend_t *be, const char *name)
{
    pthread_mutex_lock(&be->mu);
    fs_bucket_t *b = table_find(be, name);
    if (b != NULL && b->deleted)
        b = NULL;
    pthread_mutex_unlock(&be->mu);
    return b;
}

/* --- buckets ---------------------------------------------------------------- */

static int fs_bucket_exists(zkp_backend_t *base, const char *name)
{
    return bucket_get((fs_backend_t *)base, name) != NULL;
}

static int make_bucket_dir(fs_backend_t *be, const char *name, time_t *created)
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
        rmtree(tmp);
        return ZKP_BE_IO;
    }
    close(fd);
    *created = st.st_mtime;
    snprintf(dst, sizeof(dst), "%s/%s", be->objdir, name);
    if ((be->fsync && fsync_path(tmp) != 0) || rename(tmp, dst) != 0) {
        int exists = errno == EEXIST || errno == ENOTEMPTY;
        rmtree(tmp);
        return exists ? ZKP_BE_EXISTS : ZKP_BE_IO;
    }
    if (be->fsync && fsync_path(be->objdir) != 0)
        return ZKP_BE_IO;
    return ZKP_BE_OK;
}

static int fs_bucket_create(zkp_backend_t *base, const char *name)
{
    fs_backend_t *be = (fs_backend_t *)base;
    pthread_mutex_lock(&be->mu);
    fs_bucket_t *b = table_find(be, name);
    int rc = ZKP_BE_EXISTS;
    time_t created;
    if (b == NULL || b->deleted) {
        rc = make_bucket_dir(be, name, &created);
        if (rc == ZKP_BE_OK && table_add(be, name, created) == NULL)
            rc = ZKP_BE_NOMEM;
    }
    pthread_mutex_unlock(&be->mu);
    return rc;
}

static int fs_bucket_delete(zkp_backend_t *base, const char *name)
{
    fs_backend_t *be = (fs_backend_t *)base;
    pthread_mutex_lock(&be->mu);
    fs_bucket_t *b = table_find(be, name);
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
        snprintf(dst, sizeof(dst), "%s/deleted.%s.%lu", be->tmpdir, name, ++be->seq);
        if (rename(src, dst) != 0)
            rc = ZKP_BE_IO;
        else
            b->deleted = 1;
    }
    pthread_mutex_unlock(&b->mu);
    pthread_mutex_unlock(&be->mu);
    if (rc == ZKP_BE_OK) {
        if (be->fsync)
            fsync_path(be->objdir);
        rmtree(dst);
    }
    return rc;
}

static int info_cmp(const void *a, const void *b)
{
    return strcmp(((const zkp_bucket_info_t *)a)->name, ((const zkp_bucket_info_t *)b)->name);
}

static int fs_bucket_list(zkp_backend_t *base, zkp_bucket_info_t **out, size_t *n)
{
    fs_backend_t *be = (fs_backend_t *)base;
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

/* --- puts --------------------------------------------------------------------- */

static int put_stage(fs_backend_t *be, fs_bucket_t *b, const char *key, const zkp_obj_meta_t *m,
                     zkp_put_t **out)
{
    zkp_put_t *p = calloc(1, sizeof(*p));
    if (p == NULL || (p->key = strdup(key)) == NULL) {
        free(p);
        return ZKP_BE_NOMEM;
    }
    p->be = be;
    p->b = b;
    snprintf(p->tmp, sizeof(p->tmp), "%s/put.XXXXXX", be->tmpdir);
    p->fd = mkostemp(p->tmp, O_CLOEXEC);
    /* The head is written with pwrite; the body follows with write(2) from
     * the current offset, hence the seek. */
    if (p->fd < 0 || zkp_objfile_write_head(p->fd, key, m, &p->body_off) != 0 ||
        lseek(p->fd, (off_t)p->body_off, SEEK_SET) < 0) {
        if (p->fd >= 0) {
            close(p->fd);
            unlink(p->tmp);
        }
        free(p->key);
        free(p);
        return ZKP_BE_IO;
    }
    *out = p;
    return ZKP_BE_OK;
}

static int fs_put_begin(zkp_backend_t *base, const char *bucket, const char *key,
                        const zkp_obj_meta_t *meta, zkp_put_t **out)
{
    fs_backend_t *be = (fs_backend_t *)base;
    fs_bucket_t *b = bucket_get(be, bucket);
    if (b == NULL)
        return ZKP_BE_NO_BUCKET;
    return put_stage(be, b, key, meta, out);
}

static int fs_put_write(zkp_put_t *p, const void *data, size_t len)
{
    if (write_all(p->fd, data, len) != 0)
        return ZKP_BE_IO;
    p->written += len;
    return ZKP_BE_OK;
}

static void put_free(zkp_put_t *p, int unlink_tmp)
{
    if (p->fd >= 0)
        close(p->fd);
    if (unlink_tmp)
        unlink(p->tmp);
    free(p->key);
    free(p);
}

static void fs_put_abort(zkp_put_t *p)
{
    put_free(p, 1);
}

/* The key's current object, for a write's precondition: 1 and its ETag,
 * 0 if there is none, ZKP_BE_IO. The caller holds b->mu, so no commit or
 * delete of the bucket can change the answer before it acts on it. */
static int current_object(const char *path, const char *key, char etag[33])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : ZKP_BE_IO;
    char *stored = NULL;
    zkp_obj_meta_t m;
    uint64_t off;
    int rc = zkp_objfile_read_head(fd, &stored, &m, &off);
    close(fd);
    if (rc != 0)
        return ZKP_BE_IO;
    int same = strcmp(stored, key) == 0; /* else a SHA-256 collision: not this key */
    memcpy(etag, m.etag, 33);
    free(stored);
    zkp_obj_meta_free(&m);
    return same;
}

/* ZKP_BE_OK if the write's precondition holds over the object at path. */
static int precondition(const char *path, const char *key, const zkp_cond_t *cond)
{
    if (zkp_cond_none(cond))
        return ZKP_BE_OK;
    char etag[33] = "";
    int exists = current_object(path, key, etag);
    if (exists < 0)
        return exists;
    switch (zkp_cond_check_write(cond, exists, etag, NULL)) {
    case ZKP_COND_PASS:
        return ZKP_BE_OK;
    case ZKP_COND_NO_OBJECT:
        return ZKP_BE_NO_KEY;
    default:
        return ZKP_BE_PRECONDITION;
    }
}

/* Renames the staged file into place and indexes it, atomically with
 * respect to other commits, deletes and listings of the bucket; the
 * precondition is checked in the same critical section. */
static int publish(zkp_put_t *p, const zkp_obj_meta_t *m, const zkp_cond_t *cond)
{
    fs_bucket_t *b = p->b;
    char dst[4096];
    if (obj_path(p->be, b->name, p->key, dst, sizeof(dst)) != 0)
        return ZKP_BE_IO;
    zkp_index_entry_t *e = entry_new(p->key, m);
    if (e == NULL)
        return ZKP_BE_NOMEM;
    int rc = ZKP_BE_OK;
    pthread_mutex_lock(&b->mu);
    if (b->deleted)
        rc = ZKP_BE_NO_BUCKET;
    else if ((rc = precondition(dst, p->key, cond)) != ZKP_BE_OK)
        ; /* nothing published */
    else if (rename(p->tmp, dst) != 0)
        rc = ZKP_BE_IO;
    else if (zkp_kx_upsert(&b->index, e) != 0) {
        /* The file is in place but unlisted until the next start-up;
         * GET works. Report the failure rather than hide it. */
        e = NULL;
        rc = ZKP_BE_NOMEM;
    } else
        e = NULL;
    pthread_mutex_unlock(&b->mu);
    free(e);
    return rc;
}

static int fs_put_seal(zkp_put_t *p, const char *etag)
{
    if (p->sealed)
        return ZKP_BE_OK;
    p->m.size = p->written;
    p->m.mtime = time(NULL);
    memcpy(p->m.etag, etag, 32);
    p->m.etag[32] = '\0';
    if (zkp_objfile_finish(p->fd, p->m.size, p->m.mtime, p->m.etag) != 0 ||
        (p->be->fsync && fsync(p->fd) != 0))
        return ZKP_BE_IO;
    p->sealed = 1;
    return ZKP_BE_OK;
}

static int fs_put_commit(zkp_put_t *p, const char *etag, const zkp_cond_t *cond, time_t *mtime)
{
    int rc = fs_put_seal(p, etag);
    if (rc == ZKP_BE_OK)
        rc = publish(p, &p->m, cond);
    if (rc == ZKP_BE_OK && dir_sync(p->be, p->b) != 0)
        rc = ZKP_BE_IO;
    if (rc == ZKP_BE_OK && mtime != NULL)
        *mtime = p->m.mtime;
    put_free(p, rc != ZKP_BE_OK);
    return rc;
}

/* --- reads ------------------------------------------------------------------- */

/* Opens and validates an object; returns the fd or a zkp_be_err_t. */
static int open_object(fs_backend_t *be, const char *bucket, const char *key, zkp_obj_meta_t *m,
                       uint64_t *body_off)
{
    if (bucket_get(be, bucket) == NULL)
        return ZKP_BE_NO_BUCKET;
    char path[4096];
    if (obj_path(be, bucket, key, path, sizeof(path)) != 0)
        return ZKP_BE_IO;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? ZKP_BE_NO_KEY : ZKP_BE_IO;
    char *stored = NULL;
    if (zkp_objfile_read_head(fd, &stored, m, body_off) != 0) {
        close(fd);
        return ZKP_BE_IO;
    }
    int same = strcmp(stored, key) == 0; /* a SHA-256 collision, in theory */
    free(stored);
    if (!same) {
        zkp_obj_meta_free(m);
        close(fd);
        return ZKP_BE_NO_KEY;
    }
    return fd;
}

static int fs_open(zkp_backend_t *base, const char *bucket, const char *key, zkp_obj_meta_t *m,
                   zkp_reader_t **r)
{
    uint64_t off;
    int fd = open_object((fs_backend_t *)base, bucket, key, m, &off);
    if (fd < 0)
        return fd;
    if (r == NULL) {
        close(fd);
        return ZKP_BE_OK;
    }
    zkp_reader_t *rd = calloc(1, sizeof(*rd));
    if (rd == NULL) {
        close(fd);
        zkp_obj_meta_free(m);
        return ZKP_BE_NOMEM;
    }
    rd->fd = fd;
    rd->body_off = off;
    rd->size = m->size;
    *r = rd;
    return ZKP_BE_OK;
}

static ssize_t fs_read(zkp_reader_t *r, uint64_t offset, void *buf, size_t len)
{
    if (offset >= r->size)
        return 0;
    if (len > r->size - offset)
        len = (size_t)(r->size - offset);
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
    fs_backend_t *be = (fs_backend_t *)base;
    fs_bucket_t *dst = bucket_get(be, db);
    if (dst == NULL)
        return ZKP_BE_NO_BUCKET;
    zkp_obj_meta_t src;
    uint64_t off;
    int fd = open_object(be, sb, sk, &src, &off);
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
        rc = put_stage(be, dst, dk, &m, out);
        zkp_obj_meta_free(&m);
    }
    char buf[65536];
    for (uint64_t pos = 0; rc == ZKP_BE_OK && pos < src.size;) {
        size_t want = src.size - pos < sizeof(buf) ? (size_t)(src.size - pos) : sizeof(buf);
        ssize_t n = pread(fd, buf, want, (off_t)(off + pos));
        if (n <= 0 || fs_put_write(*out, buf, (size_t)n) != 0) {
            fs_put_abort(*out);
            rc = ZKP_BE_IO;
        }
        pos += n > 0 ? (uint64_t)n : 0;
    }
    memcpy(etag, src.etag, sizeof(src.etag));
    zkp_obj_meta_free(&src);
    close(fd);
    return rc;
}

/* --- remove and list -------------------------------------------------------- */

static int fs_remove(zkp_backend_t *base, const char *bucket, const char *key)
{
    fs_backend_t *be = (fs_backend_t *)base;
    fs_bucket_t *b = bucket_get(be, bucket);
    if (b == NULL)
        return ZKP_BE_NO_BUCKET;
    char path[4096];
    if (obj_path(be, bucket, key, path, sizeof(path)) != 0)
        return ZKP_BE_IO;
    /* The file, not the index, says whether the key exists: reads open the
     * file, so an object the index failed to record (publish() reports
     * that as an error, the file stays) must still be deletable. */
    int rc = ZKP_BE_OK;
    pthread_mutex_lock(&b->mu);
    if (unlink(path) != 0)
        rc = errno == ENOENT ? ZKP_BE_NO_KEY : ZKP_BE_IO;
    if (rc != ZKP_BE_IO)
        zkp_kx_remove(&b->index, key); /* gone from disk: must not stay listed either */
    pthread_mutex_unlock(&b->mu);
    if (rc == ZKP_BE_OK && dir_sync(be, b) != 0)
        rc = ZKP_BE_IO;
    return rc;
}

static int fs_list(zkp_backend_t *base, const char *bucket, const zkp_list_req_t *req,
                   zkp_list_result_t *res)
{
    fs_bucket_t *b = bucket_get((fs_backend_t *)base, bucket);
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

static void load_object(fs_bucket_t *b, const char *dir, const char *name)
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
    if (zkp_objfile_read_head(fd, &key, &m, &off) != 0) {
        fprintf(stderr, "zkfence-proxy: ignoring malformed object file %s\n", path);
    } else {
        key_hash(key, h);
        zkp_index_entry_t *e = strcmp(h, name) == 0 ? entry_new(key, &m) : NULL;
        if (e != NULL)
            zkp_kx_upsert(&b->index, e); /* out of memory: unlisted, still readable */
        zkp_obj_meta_free(&m);
    }
    free(key);
    close(fd);
}

static int load_bucket(fs_backend_t *be, const char *name)
{
    char dir[4096], marker[4200];
    snprintf(dir, sizeof(dir), "%s/%s", be->objdir, name);
    snprintf(marker, sizeof(marker), "%s/.bucket", dir);
    struct stat st;
    if (stat(marker, &st) != 0)
        return 0; /* not a bucket directory */
    fs_bucket_t *b = table_add(be, name, st.st_mtime);
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

static int load_all(fs_backend_t *be)
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

static void fs_destroy(zkp_backend_t *base)
{
    fs_backend_t *be = (fs_backend_t *)base;
    if (be == NULL)
        return;
    for (size_t i = 0; i < be->nb; i++) {
        zkp_kx_clear(&be->buckets[i]->index);
        pthread_mutex_destroy(&be->buckets[i]->mu);
        pthread_mutex_destroy(&be->buckets[i]->sync_mu);
        pthread_cond_destroy(&be->buckets[i]->sync_cv);
        free(be->buckets[i]);
    }
    free(be->buckets);
    pthread_mutex_destroy(&be->mu);
    free(be->objdir);
    free(be->tmpdir);
    if (be->lock_fd >= 0)
        close(be->lock_fd); /* releases the flock */
    free(be);
}

static const zkp_backend_ops_t fs_ops = {
    .name = "local-files",
    .destroy = fs_destroy,
    .bucket_create = fs_bucket_create,
    .bucket_delete = fs_bucket_delete,
    .bucket_exists = fs_bucket_exists,
    .bucket_list = fs_bucket_list,
    .put_begin = fs_put_begin,
    .put_write = fs_put_write,
    .put_seal = fs_put_seal,
    .put_commit = fs_put_commit,
    .put_abort = fs_put_abort,
    .copy_begin = fs_copy_begin,
    .open = fs_open,
    .read = fs_read,
    .take_fd = fs_take_fd,
    .close = fs_close,
    .remove = fs_remove,
    .list = fs_list,
};

/* Takes DATA_DIR/.lock for good, and writes our pid into it for the
 * message a second process gets. Returns 0, or -1 with err set. */
static int lock_data_dir(fs_backend_t *be, const char *data_dir, char *err, size_t errlen)
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

zkp_backend_t *zkp_backend_fs_open(const char *data_dir, int object_fsync, char *err, size_t errlen)
{
    fs_backend_t *be = calloc(1, sizeof(*be));
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
    empty_dir(be->tmpdir);
    if (load_all(be) != 0) {
        snprintf(err, errlen, "%s: cannot read objects: %s", be->objdir, strerror(errno));
        fs_destroy(&be->base);
        return NULL;
    }
    return &be->base;
}
