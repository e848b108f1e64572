/* A multipart upload on disk (upload.h). */
#include "backend/fs/upload.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend/fs/objfile.h"
#include "backend/fs/reaper.h"
#include "util/textutil.h"

int zkp_fs_upload_id_valid(const char *id)
{
    size_t n = 0;
    for (; id[n] != '\0'; n++)
        if (!((id[n] >= '0' && id[n] <= '9') || (id[n] >= 'a' && id[n] <= 'f')))
            return 0;
    return n == ZKP_FS_UPLOAD_ID_LEN;
}

int zkp_fs_upload_id_new(char out[ZKP_FS_UPLOAD_ID_LEN + 1])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    unsigned long long ns = (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned)ts.tv_nsec;
    unsigned char rnd[12];
    if (RAND_bytes(rnd, sizeof(rnd)) != 1)
        return -1;
    snprintf(out, 17, "%016llx", ns);
    zkp_hex_encode(rnd, sizeof(rnd), out + 16);
    return 0;
}

void zkp_fs_uploads_dir(zkp_fs_t *fs, const char *bucket, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s/.uploads", fs->objdir, bucket);
}

void zkp_fs_upload_dir(zkp_fs_t *fs, const char *bucket, const char *id, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s/.uploads/%s", fs->objdir, bucket, id);
}

/* Reads the manifest open on fd: *key (malloc'ed) and *meta. */
static int read_manifest(int fd, char **key, zkp_obj_meta_t *meta)
{
    uint64_t off;
    return zkp_objfile_read_head(fd, key, meta, NULL, &off) == 0 ? ZKP_BE_OK : ZKP_BE_IO;
}

int zkp_fs_upload_open(zkp_fs_t *fs, const char *bucket, const char *key, const char *id,
                       int keep_fd, zkp_fs_upload_t *u)
{
    memset(u, 0, sizeof(*u));
    u->fd = -1;
    if ((u->b = zkp_fs_bucket_get(fs, bucket)) == NULL)
        return ZKP_BE_NO_BUCKET;
    if (!zkp_fs_upload_id_valid(id))
        return ZKP_BE_NO_UPLOAD;
    zkp_fs_upload_dir(fs, bucket, id, u->dir, sizeof(u->dir));
    char path[4200];
    snprintf(path, sizeof(path), "%s/manifest", u->dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT || errno == ENOTDIR ? ZKP_BE_NO_UPLOAD : ZKP_BE_IO;
    char *stored = NULL;
    int rc = read_manifest(fd, &stored, &u->meta);
    if (rc == ZKP_BE_OK && strcmp(stored, key) != 0) {
        zkp_obj_meta_free(&u->meta);
        rc = ZKP_BE_NO_UPLOAD; /* the id of another key's upload */
    }
    free(stored);
    if (rc != ZKP_BE_OK || !keep_fd)
        close(fd);
    else
        u->fd = fd;
    return rc;
}

/* Whether the manifest open on fd is still the one at dir/manifest: a
 * removal moves the directory away first. */
static int still_there(int fd, const char *dir)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/manifest", dir);
    struct stat a, b;
    return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino &&
           a.st_dev == b.st_dev;
}

static int lock_fd(int fd, int wait)
{
    int rc;
    do
        rc = flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB));
    while (rc != 0 && errno == EINTR);
    return rc;
}

int zkp_fs_upload_lock(zkp_fs_t *fs, const char *bucket, const char *key, const char *id,
                       zkp_fs_upload_t *u)
{
    int rc = zkp_fs_upload_open(fs, bucket, key, id, 1, u);
    if (rc != ZKP_BE_OK)
        return rc;
    if (lock_fd(u->fd, 1) != 0)
        rc = ZKP_BE_IO;
    else if (!still_there(u->fd, u->dir))
        rc = ZKP_BE_NO_UPLOAD; /* completed or aborted while we waited */
    if (rc != ZKP_BE_OK)
        zkp_fs_upload_close(u);
    return rc;
}

void zkp_fs_upload_close(zkp_fs_upload_t *u)
{
    if (u->fd >= 0)
        close(u->fd);
    u->fd = -1;
    zkp_obj_meta_free(&u->meta);
}

void zkp_fs_upload_remove(zkp_fs_t *fs, const char *dir)
{
    char gone[4096];
    zkp_fs_tmp_name(fs, "upload-gone", gone, sizeof(gone));
    if (rename(dir, gone) != 0) {
        fprintf(stderr, "zkfence-proxy: cannot remove upload %s: %s\n", dir, strerror(errno));
        return;
    }
    zkp_fs_reaper_add(fs->reaper, gone); /* its parts: off the request path */
}

/* --- start-up and the sweep ------------------------------------------------------------ */

/* Calls fn for each entry of a bucket's .uploads/ directory. */
static int each_upload(zkp_fs_t *fs, const char *bucket,
                       int (*fn)(zkp_fs_t *fs, const char *bucket, const char *id, void *arg),
                       void *arg)
{
    char dir[4096];
    zkp_fs_uploads_dir(fs, bucket, dir, sizeof(dir));
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            n += fn(fs, bucket, de->d_name, arg);
    closedir(d);
    return n;
}

static int each_bucket(zkp_fs_t *fs,
                       int (*fn)(zkp_fs_t *fs, const char *bucket, const char *id, void *arg),
                       void *arg)
{
    char(*names)[64];
    size_t nb;
    if (zkp_fs_bucket_names(fs, &names, &nb) != 0)
        return ZKP_BE_NOMEM;
    int n = 0;
    for (size_t i = 0; i < nb; i++)
        n += each_upload(fs, names[i], fn, arg);
    free(names);
    return n;
}

/* Whether the object under key was made by upload id (its completion was
 * published). */
static int completed(zkp_fs_t *fs, const char *bucket, const char *key, const char *id)
{
    zkp_obj_meta_t m;
    uint64_t off;
    char *made_by = NULL;
    int fd = zkp_fs_open_object(fs, bucket, key, &m, &off, &made_by);
    if (fd < 0)
        return 0;
    int yes = made_by != NULL && strcmp(made_by, id) == 0;
    free(made_by);
    zkp_obj_meta_free(&m);
    close(fd);
    return yes;
}

static int recover_one(zkp_fs_t *fs, const char *bucket, const char *id, void *arg)
{
    (void)arg;
    char dir[4096], path[4200];
    zkp_fs_upload_dir(fs, bucket, id, dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/manifest", dir);
    int fd = zkp_fs_upload_id_valid(id) ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    char *key = NULL;
    zkp_obj_meta_t m;
    const char *why = NULL;
    if (fd < 0 || read_manifest(fd, &key, &m) != ZKP_BE_OK)
        why = "no readable manifest";
    else {
        if (completed(fs, bucket, key, id))
            why = "completed: its object is in place";
        zkp_obj_meta_free(&m);
    }
    free(key);
    if (fd >= 0)
        close(fd);
    if (why == NULL)
        return 0;
    fprintf(stderr, "zkfence-proxy: removing upload %s of bucket %s (%s)\n", id, bucket, why);
    zkp_fs_upload_remove(fs, dir);
    return 1;
}

void zkp_fs_uploads_recover(zkp_fs_t *fs)
{
    each_bucket(fs, recover_one, NULL);
}

static int sweep_one(zkp_fs_t *fs, const char *bucket, const char *id, void *arg)
{
    time_t before = *(const time_t *)arg;
    char dir[4096], path[4200];
    zkp_fs_upload_dir(fs, bucket, id, dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/manifest", dir);
    if (!zkp_fs_upload_id_valid(id))
        return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    int swept = 0;
    char *key = NULL;
    zkp_obj_meta_t m;
    /* Busy (a completion or an abort holds it): not now. */
    if (lock_fd(fd, 0) == 0 && still_there(fd, dir) && read_manifest(fd, &key, &m) == ZKP_BE_OK) {
        if (m.mtime < before) {
            zkp_fs_upload_remove(fs, dir);
            swept = 1;
        }
        zkp_obj_meta_free(&m);
    }
    free(key);
    close(fd);
    return swept;
}

int zkp_fs_uploads_sweep(zkp_fs_t *fs, time_t before)
{
    return each_bucket(fs, sweep_one, &before);
}
