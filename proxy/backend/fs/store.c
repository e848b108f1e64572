/* The local-files backend's shared state (store.h): the bucket table, the
 * paths of objects, and the group-committed syncs of bucket directories.
 *
 * Directory syncs: a rename takes a ticket, and one fsync of the directory
 * covers every rename that took its ticket before that fsync began, so
 * concurrent writers share it instead of queueing one each. */
#include "backend/fs/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/fs/objfile.h"
#include "util/textutil.h"
#include "util/digest.h"

/* --- the bucket table ----------------------------------------------------- */

zkp_fs_bucket_t *zkp_fs_table_find(zkp_fs_t *fs, const char *name)
{
    for (size_t i = 0; i < fs->nb; i++)
        if (strcmp(fs->buckets[i]->name, name) == 0)
            return fs->buckets[i];
    return NULL;
}

zkp_fs_bucket_t *zkp_fs_table_add(zkp_fs_t *fs, const char *name, time_t created)
{
    zkp_fs_bucket_t *b = zkp_fs_table_find(fs, name);
    if (b == NULL) {
        zkp_fs_bucket_t **t = realloc(fs->buckets, (fs->nb + 1) * sizeof(*t));
        if (t == NULL)
            return NULL;
        fs->buckets = t;
        if ((b = calloc(1, sizeof(*b))) == NULL)
            return NULL;
        snprintf(b->name, sizeof(b->name), "%s", name);
        zkp_kx_init(&b->index);
        pthread_mutex_init(&b->mu, NULL);
        pthread_mutex_init(&b->sync_mu, NULL);
        pthread_cond_init(&b->sync_cv, NULL);
        fs->buckets[fs->nb++] = b;
    }
    b->created = created;
    b->deleted = 0;
    return b;
}

void zkp_fs_table_free(zkp_fs_t *fs)
{
    for (size_t i = 0; i < fs->nb; i++) {
        zkp_kx_clear(&fs->buckets[i]->index);
        pthread_mutex_destroy(&fs->buckets[i]->mu);
        pthread_mutex_destroy(&fs->buckets[i]->sync_mu);
        pthread_cond_destroy(&fs->buckets[i]->sync_cv);
        free(fs->buckets[i]);
    }
    free(fs->buckets);
    fs->buckets = NULL;
    fs->nb = 0;
}

zkp_fs_bucket_t *zkp_fs_bucket_get(zkp_fs_t *fs, const char *name)
{
    pthread_mutex_lock(&fs->mu);
    zkp_fs_bucket_t *b = zkp_fs_table_find(fs, name);
    if (b != NULL && b->deleted)
        b = NULL;
    pthread_mutex_unlock(&fs->mu);
    return b;
}

int zkp_fs_bucket_names(zkp_fs_t *fs, char (**names)[64], size_t *n)
{
    pthread_mutex_lock(&fs->mu);
    char(*list)[64] = calloc(fs->nb + 1, sizeof(*list));
    size_t k = 0;
    for (size_t i = 0; list != NULL && i < fs->nb; i++)
        if (!fs->buckets[i]->deleted)
            memcpy(list[k++], fs->buckets[i]->name, sizeof(list[0]));
    pthread_mutex_unlock(&fs->mu);
    if (list == NULL)
        return -1;
    *names = list;
    *n = k;
    return 0;
}

/* --- keys, entries and paths ------------------------------------------------ */

zkp_index_entry_t *zkp_fs_entry_new(const char *key, const zkp_obj_meta_t *m)
{
    size_t klen = strlen(key);
    zkp_index_entry_t *e = malloc(sizeof(*e) + klen + 1);
    if (e == NULL)
        return NULL;
    e->size = m->size;
    e->mtime = m->mtime;
    /* "hex" or "hex-N": the index keeps the hex digits and N apart. */
    memcpy(e->etag, m->etag, 32);
    e->etag[32] = '\0';
    e->parts = m->etag[32] == '-' ? (uint16_t)strtoul(m->etag + 33, NULL, 10) : 0;
    e->klen = klen;
    memcpy(e->key, key, klen + 1);
    return e;
}

void zkp_fs_key_hash(const char *key, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(key, strlen(key), md, &mdlen, zkp_md_sha256(), NULL);
    zkp_hex_encode(md, 32, out);
}

int zkp_fs_obj_path(zkp_fs_t *fs, const char *bucket, const char *key, char *out, size_t cap)
{
    char h[65];
    zkp_fs_key_hash(key, h);
    int n = snprintf(out, cap, "%s/%s/%s", fs->objdir, bucket, h);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

void zkp_fs_tmp_name(zkp_fs_t *fs, const char *what, char *out, size_t cap)
{
    unsigned long n = atomic_fetch_add(&fs->seq, 1) + 1;
    snprintf(out, cap, "%s/%s.%lu", fs->tmpdir, what, n);
}

int zkp_fs_open_object(zkp_fs_t *fs, const char *bucket, const char *key, zkp_obj_meta_t *m,
                       uint64_t *body_off, char **upload_id)
{
    return zkp_fs_open_object_buf(fs, bucket, key, m, body_off, upload_id, NULL, 0, NULL);
}

int zkp_fs_open_object_buf(zkp_fs_t *fs, const char *bucket, const char *key, zkp_obj_meta_t *m,
                           uint64_t *body_off, char **upload_id, void *buf, size_t cap,
                           size_t *body_have)
{
    if (zkp_fs_bucket_get(fs, bucket) == NULL)
        return ZKP_BE_NO_BUCKET;
    char path[4096];
    if (zkp_fs_obj_path(fs, bucket, key, path, sizeof(path)) != 0)
        return ZKP_BE_IO;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? ZKP_BE_NO_KEY : ZKP_BE_IO;
    char *stored = NULL;
    if (zkp_objfile_read_head_buf(fd, &stored, m, upload_id, body_off, buf, cap, body_have) != 0) {
        close(fd);
        return ZKP_BE_IO;
    }
    int same = strcmp(stored, key) == 0; /* a SHA-256 collision, in theory */
    free(stored);
    if (!same) {
        zkp_obj_meta_free(m);
        if (upload_id != NULL) {
            free(*upload_id);
            *upload_id = NULL;
        }
        close(fd);
        return ZKP_BE_NO_KEY;
    }
    return fd;
}

/* --- syncs ---------------------------------------------------------------------- */

int zkp_fs_fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int zkp_fs_dir_sync(zkp_fs_t *fs, zkp_fs_bucket_t *b)
{
    if (!fs->fsync)
        return 0;
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", fs->objdir, b->name);
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
        int rc = zkp_fs_fsync_dir(path);
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

/* --- files ---------------------------------------------------------------------- */

int zkp_fs_pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
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

void zkp_fs_rmtree(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void zkp_fs_empty_dir(const char *dir)
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
        zkp_fs_rmtree(path);
    }
    closedir(d);
}
