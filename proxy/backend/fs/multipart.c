/* Multipart uploads of the local-files backend: the table's operations
 * (multipart.h), on the uploads of upload.h and the staged writes of
 * staging.h. */
#include "backend/fs/multipart.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend/fs/objfile.h"
#include "backend/fs/staging.h"
#include "backend/fs/store.h"
#include "backend/fs/upload.h"
#include "util/textutil.h"
#include "util/digest.h"

/* --- create and stat ---------------------------------------------------------------- */

/* Writes the upload's manifest into the new directory tmpdir. */
static int write_manifest(zkp_fs_t *fs, const char *tmpdir, const char *key,
                          const zkp_obj_meta_t *meta)
{
    zkp_obj_meta_t m;
    if (zkp_obj_meta_copy(&m, meta) != 0)
        return ZKP_BE_NOMEM;
    m.size = 0;
    m.mtime = time(NULL); /* the initiation time */
    memset(m.etag, 0, sizeof(m.etag));
    char path[4200];
    snprintf(path, sizeof(path), "%s/manifest", tmpdir);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    uint64_t off;
    int rc = fd >= 0 && zkp_objfile_write_head(fd, key, &m, NULL, &off) == 0 &&
                     (!fs->fsync || (fsync(fd) == 0 && zkp_fs_fsync_dir(tmpdir) == 0))
                 ? ZKP_BE_OK
                 : ZKP_BE_IO;
    if (fd >= 0)
        close(fd);
    zkp_obj_meta_free(&m);
    return rc;
}

/* Creates objects/<bucket>/.uploads if needed (and makes its entry in the
 * bucket directory durable). */
static int uploads_dir_make(zkp_fs_t *fs, zkp_fs_bucket_t *b, char *dir, size_t cap)
{
    zkp_fs_uploads_dir(fs, b->name, dir, cap);
    if (mkdir(dir, 0755) == 0)
        return zkp_fs_dir_sync(fs, b) == 0 ? ZKP_BE_OK : ZKP_BE_IO;
    if (errno == EEXIST)
        return ZKP_BE_OK;
    return errno == ENOENT ? ZKP_BE_NO_BUCKET : ZKP_BE_IO;
}

int zkp_fs_mpu_create(zkp_backend_t *base, const char *bucket, const char *key,
                      const zkp_obj_meta_t *meta, char **upload_id)
{
    zkp_fs_t *fs = (zkp_fs_t *)base;
    zkp_fs_bucket_t *b = zkp_fs_bucket_get(fs, bucket);
    if (b == NULL)
        return ZKP_BE_NO_BUCKET;
    char id[ZKP_FS_UPLOAD_ID_LEN + 1], uploads[4096], tmp[4096], dst[4200];
    if (zkp_fs_upload_id_new(id) != 0)
        return ZKP_BE_IO;
    int rc = uploads_dir_make(fs, b, uploads, sizeof(uploads));
    if (rc != ZKP_BE_OK)
        return rc;
    snprintf(tmp, sizeof(tmp), "%s/upload.XXXXXX", fs->tmpdir);
    if (mkdtemp(tmp) == NULL)
        return ZKP_BE_IO;
    rc = write_manifest(fs, tmp, key, meta);
    snprintf(dst, sizeof(dst), "%s/%s", uploads, id);
    /* The upload appears whole: directory and manifest in one rename. */
    if (rc == ZKP_BE_OK && rename(tmp, dst) != 0)
        rc = errno == ENOENT ? ZKP_BE_NO_BUCKET : ZKP_BE_IO;
    if (rc != ZKP_BE_OK) {
        zkp_fs_rmtree(tmp);
        return rc;
    }
    if (fs->fsync && zkp_fs_fsync_dir(uploads) != 0)
        return ZKP_BE_IO;
    if ((*upload_id = strdup(id)) == NULL)
        return ZKP_BE_NOMEM;
    return ZKP_BE_OK;
}

int zkp_fs_mpu_stat(zkp_backend_t *base, const char *bucket, const char *key, const char *upload_id,
                    zkp_obj_meta_t *meta)
{
    zkp_fs_upload_t u;
    int rc = zkp_fs_upload_open((zkp_fs_t *)base, bucket, key, upload_id, 0, &u);
    if (rc != ZKP_BE_OK)
        return rc;
    *meta = u.meta; /* handed over */
    return ZKP_BE_OK;
}

/* --- parts ---------------------------------------------------------------------------- */

static void part_path(const char *dir, int number, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%05d", dir, number);
}

/* The part number a file name in an upload's directory stands for, or 0. */
static int part_number(const char *name)
{
    if (strlen(name) != 5)
        return 0;
    int n = 0;
    for (const char *p = name; *p; p++) {
        if (*p < '0' || *p > '9')
            return 0;
        n = n * 10 + (*p - '0');
    }
    return n >= 1 && n <= ZKP_MPU_MAX_PARTS ? n : 0;
}

static void release_path(zkp_put_t *p)
{
    free(p->ctx);
    p->ctx = NULL;
}

/* A part's publisher: into the upload, over a part of the same number. */
static int publish_part(zkp_put_t *p)
{
    const char *path = p->ctx;
    if (zkp_fs_put_place(p, path, 0) != 0)
        return errno == ENOENT ? ZKP_BE_NO_UPLOAD : ZKP_BE_IO; /* completed or aborted since */
    if (!p->fs->fsync)
        return ZKP_BE_OK;
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", path);
    *strrchr(dir, '/') = '\0';
    if (zkp_fs_fsync_dir(dir) != 0)
        return errno == ENOENT ? ZKP_BE_NO_UPLOAD : ZKP_BE_IO;
    return ZKP_BE_OK;
}

/* Stages part `number` of an upload that exists: published by publish_part. */
static int part_stage(zkp_fs_t *fs, const char *bucket, const char *key, const char *upload_id,
                      int number, zkp_put_t **out)
{
    if (number < 1 || number > ZKP_MPU_MAX_PARTS)
        return ZKP_BE_INVALID_PART;
    zkp_fs_upload_t u;
    int rc = zkp_fs_upload_open(fs, bucket, key, upload_id, 0, &u);
    if (rc != ZKP_BE_OK)
        return rc;
    char path[4200];
    part_path(u.dir, number, path, sizeof(path));
    zkp_obj_meta_t none;
    memset(&none, 0, sizeof(none));
    rc = zkp_fs_stage(fs, u.b, key, &none, NULL, out);
    zkp_fs_upload_close(&u);
    if (rc != ZKP_BE_OK)
        return rc;
    if (((*out)->ctx = strdup(path)) == NULL) {
        zkp_fs_put_abort(*out);
        return ZKP_BE_NOMEM;
    }
    (*out)->publish = publish_part;
    (*out)->release = release_path;
    return ZKP_BE_OK;
}

int zkp_fs_mpu_part_begin(zkp_backend_t *base, const char *bucket, const char *key,
                          const char *upload_id, int number, zkp_put_t **out)
{
    return part_stage((zkp_fs_t *)base, bucket, key, upload_id, number, out);
}

int zkp_fs_mpu_part_copy_begin(zkp_backend_t *base, const char *bucket, const char *key,
                               const char *upload_id, int number, const char *src_bucket,
                               const char *src_key, int has_range, uint64_t first, uint64_t last,
                               zkp_put_t **out, char etag[ZKP_ETAG_MAX + 1])
{
    zkp_fs_t *fs = (zkp_fs_t *)base;
    zkp_obj_meta_t src;
    uint64_t off;
    int fd = zkp_fs_open_object(fs, src_bucket, src_key, &src, &off, NULL);
    if (fd < 0)
        return fd;
    uint64_t start = 0, len = src.size;
    int rc = ZKP_BE_OK;
    if (has_range && (first > last || last >= src.size))
        rc = ZKP_BE_BAD_RANGE;
    else if (has_range) {
        start = first;
        len = last - first + 1;
    }
    if (rc == ZKP_BE_OK && len > ZKP_MPU_MAX_PART)
        rc = ZKP_BE_TOO_LARGE;
    if (rc == ZKP_BE_OK)
        rc = part_stage(fs, bucket, key, upload_id, number, out);
    if (rc == ZKP_BE_OK && zkp_fs_copy_range(*out, fd, off + start, len, etag) != ZKP_BE_OK) {
        zkp_fs_put_abort(*out);
        rc = ZKP_BE_IO;
    }
    zkp_obj_meta_free(&src);
    close(fd);
    return rc;
}

/* Reads the head of part file `path`: its size, time and ETag (32 hex
 * digits), and where its body starts. Returns the open descriptor, or -1. */
static int part_open(const char *path, zkp_obj_meta_t *m, uint64_t *body_off)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char *key = NULL;
    int rc = zkp_objfile_read_head(fd, &key, m, NULL, body_off);
    free(key);
    if (rc != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int int_cmp(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* The part numbers present in an upload's directory, above `after`,
 * sorted. *nums is malloc'ed. */
static int part_numbers(const char *dir, int after, int **nums, size_t *n)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return errno == ENOENT ? ZKP_BE_NO_UPLOAD : ZKP_BE_IO;
    size_t cap = 0;
    *nums = NULL;
    *n = 0;
    struct dirent *de;
    int rc = ZKP_BE_OK;
    while (rc == ZKP_BE_OK && (de = readdir(d)) != NULL) {
        int num = part_number(de->d_name);
        if (num <= after)
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            int *t = realloc(*nums, cap * sizeof(*t));
            if (t == NULL) {
                rc = ZKP_BE_NOMEM;
                break;
            }
            *nums = t;
        }
        (*nums)[(*n)++] = num;
    }
    closedir(d);
    if (rc != ZKP_BE_OK) {
        free(*nums);
        *nums = NULL;
        return rc;
    }
    if (*n > 0) /* qsort's base must not be NULL, even for nothing */
        qsort(*nums, *n, sizeof(int), int_cmp);
    return ZKP_BE_OK;
}

int zkp_fs_mpu_list_parts(zkp_backend_t *base, const char *bucket, const char *key,
                          const char *upload_id, int after, int max, zkp_part_list_t *out)
{
    memset(out, 0, sizeof(*out));
    zkp_fs_upload_t u;
    int rc = zkp_fs_upload_open((zkp_fs_t *)base, bucket, key, upload_id, 0, &u);
    if (rc != ZKP_BE_OK)
        return rc;
    zkp_fs_upload_close(&u);
    int *nums;
    size_t n;
    if ((rc = part_numbers(u.dir, after, &nums, &n)) != ZKP_BE_OK)
        return rc;
    size_t want = n < (size_t)max ? n : (size_t)max;
    out->parts = calloc(want + 1, sizeof(*out->parts));
    if (out->parts == NULL) {
        free(nums);
        return ZKP_BE_NOMEM;
    }
    for (size_t i = 0; i < want; i++) {
        char path[4200];
        part_path(u.dir, nums[i], path, sizeof(path));
        zkp_obj_meta_t m;
        uint64_t off;
        int fd = part_open(path, &m, &off);
        if (fd < 0)
            continue; /* the upload ended meanwhile */
        zkp_part_info_t *pi = &out->parts[out->n++];
        pi->number = nums[i];
        pi->size = m.size;
        pi->mtime = m.mtime;
        snprintf(pi->etag, sizeof(pi->etag), "%s", m.etag);
        zkp_obj_meta_free(&m);
        close(fd);
    }
    out->truncated = max > 0 && n > want;
    out->next_marker = out->n > 0 ? out->parts[out->n - 1].number : after;
    free(nums);
    return ZKP_BE_OK;
}

/* --- completion ------------------------------------------------------------------------- */

/* What a completion's publisher needs: the upload (locked until the put
 * ends) and the condition on the object it replaces. */
typedef struct completion {
    zkp_fs_upload_t u;
    zkp_cond_t pre; /* If-Match, If-None-Match; borrowed until the put ends */
    int has_pre;
} completion_t;

static void release_completion(zkp_put_t *p)
{
    completion_t *c = p->ctx;
    zkp_fs_upload_close(&c->u); /* releases the upload's lock */
    free(c);
    p->ctx = NULL;
}

/* The object, then the upload's end. A crash in between leaves an object
 * that names its upload: start-up removes that upload (upload.h). */
static int publish_completion(zkp_put_t *p)
{
    completion_t *c = p->ctx;
    int rc = zkp_fs_publish_object(p, c->has_pre ? &c->pre : p->cond);
    if (rc == ZKP_BE_OK)
        zkp_fs_upload_remove(p->fs, c->u.dir);
    return rc;
}

/* Copies len bytes from in (at in_off) to out (at out_off) in the kernel,
 * or through a buffer where the file system cannot. 0 or -1. */
static int copy_bytes(int in, uint64_t in_off, int out, uint64_t out_off, uint64_t len)
{
    loff_t i = (loff_t)in_off, o = (loff_t)out_off;
    while (len > 0) {
        size_t chunk = len > (1u << 30) ? (1u << 30) : (size_t)len;
        ssize_t n = copy_file_range(in, &i, out, &o, chunk, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP || errno == EINVAL))
            break; /* the buffered copy below takes the rest */
        if (n <= 0)
            return -1;
        len -= (uint64_t)n;
    }
    char buf[65536];
    while (len > 0) {
        size_t want = len < sizeof(buf) ? (size_t)len : sizeof(buf);
        ssize_t n = pread(in, buf, want, i);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        for (ssize_t done = 0; done < n;) {
            ssize_t w = pwrite(out, buf + done, (size_t)(n - done), o);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                return -1;
            done += w;
            o += w;
        }
        i += n;
        len -= (uint64_t)n;
    }
    return 0;
}

/* Checks the listed parts against the upload's (existence, ETag, minimum
 * size), and computes the object's ETag. *bad: the offending index. */
static int check_parts(const char *dir, const zkp_part_ref_t *parts, size_t n, size_t *bad,
                       char etag[ZKP_ETAG_MAX + 1])
{
    EVP_MD_CTX *md5 = EVP_MD_CTX_new();
    if (md5 == NULL || EVP_DigestInit_ex(md5, zkp_md_md5(), NULL) != 1) {
        EVP_MD_CTX_free(md5);
        return ZKP_BE_NOMEM;
    }
    int rc = ZKP_BE_OK;
    for (size_t i = 0; i < n && rc == ZKP_BE_OK; i++) {
        char path[4200];
        zkp_obj_meta_t m;
        uint64_t off;
        *bad = i;
        int num = parts[i].number;
        int fd = num >= 1 && num <= ZKP_MPU_MAX_PARTS
                     ? (part_path(dir, num, path, sizeof(path)), part_open(path, &m, &off))
                     : -1;
        if (fd < 0) {
            rc = ZKP_BE_INVALID_PART;
            break;
        }
        unsigned char bin[16];
        if (strcasecmp(m.etag, parts[i].etag) != 0 || zkp_hex_decode(m.etag, 32, bin, 16) != 16)
            rc = ZKP_BE_INVALID_PART;
        else if (i + 1 < n && m.size < ZKP_MPU_MIN_PART)
            rc = ZKP_BE_PART_TOO_SMALL;
        else
            EVP_DigestUpdate(md5, bin, 16);
        zkp_obj_meta_free(&m);
        close(fd);
    }
    unsigned char md[16];
    unsigned int mdlen = 0;
    EVP_DigestFinal_ex(md5, md, &mdlen);
    EVP_MD_CTX_free(md5);
    zkp_hex_encode(md, 16, etag);
    snprintf(etag + 32, ZKP_ETAG_MAX + 1 - 32, "-%zu", n);
    return rc;
}

/* Appends the listed parts' bodies to the staged object, each checked
 * again: a part replaced since check_parts with other bytes is refused. */
static int assemble(zkp_put_t *p, const char *dir, const zkp_part_ref_t *parts, size_t n,
                    size_t *bad)
{
    for (size_t i = 0; i < n; i++) {
        char path[4200];
        zkp_obj_meta_t m;
        uint64_t off;
        *bad = i;
        part_path(dir, parts[i].number, path, sizeof(path));
        int fd = part_open(path, &m, &off);
        if (fd < 0)
            return ZKP_BE_INVALID_PART;
        int rc = strcasecmp(m.etag, parts[i].etag) != 0 ? ZKP_BE_INVALID_PART : ZKP_BE_OK;
        if (rc == ZKP_BE_OK && copy_bytes(fd, off, p->fd, p->body_off + p->written, m.size) != 0)
            rc = ZKP_BE_IO;
        if (rc == ZKP_BE_OK)
            p->written += m.size;
        zkp_obj_meta_free(&m);
        close(fd);
        if (rc != ZKP_BE_OK)
            return rc;
    }
    return ZKP_BE_OK;
}

/* A completion whose upload is gone: answered again if its object is the
 * one under the key (the first answer was lost), else NoSuchUpload. */
static int replay(zkp_fs_t *fs, const char *bucket, const char *key, const char *upload_id,
                  char etag[ZKP_ETAG_MAX + 1])
{
    zkp_obj_meta_t m;
    uint64_t off;
    char *made_by = NULL;
    int fd = zkp_fs_open_object(fs, bucket, key, &m, &off, &made_by);
    if (fd < 0)
        return ZKP_BE_NO_UPLOAD;
    int same = made_by != NULL && strcmp(made_by, upload_id) == 0;
    if (same)
        snprintf(etag, ZKP_ETAG_MAX + 1, "%s", m.etag);
    free(made_by);
    zkp_obj_meta_free(&m);
    close(fd);
    return same ? ZKP_BE_OK : ZKP_BE_NO_UPLOAD;
}

/* The object's head: the upload's headers, the completion's fencing. */
static int object_meta(const zkp_obj_meta_t *upload, const zkp_obj_meta_t *prov, zkp_obj_meta_t *m)
{
    if (zkp_obj_meta_copy(m, upload) != 0)
        return ZKP_BE_NOMEM;
    free(m->fence_lock);
    m->fence_lock = NULL;
    m->fence_token = 0;
    memset(m->etag, 0, sizeof(m->etag));
    if (prov != NULL && prov->fence_lock != NULL) {
        if ((m->fence_lock = strdup(prov->fence_lock)) == NULL) {
            zkp_obj_meta_free(m);
            return ZKP_BE_NOMEM;
        }
        m->fence_token = prov->fence_token;
    }
    return ZKP_BE_OK;
}

int zkp_fs_mpu_complete_begin(zkp_backend_t *base, const char *bucket, const char *key,
                              const char *upload_id, const zkp_part_ref_t *parts, size_t n,
                              const zkp_obj_meta_t *prov, const zkp_cond_t *pre, zkp_put_t **out,
                              char etag[ZKP_ETAG_MAX + 1], size_t *bad)
{
    zkp_fs_t *fs = (zkp_fs_t *)base;
    *out = NULL;
    *bad = 0;
    if (n == 0 || n > ZKP_MPU_MAX_PARTS)
        return ZKP_BE_INVALID_PART;
    completion_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return ZKP_BE_NOMEM;
    /* Held until the put ends: no other completion, abort or sweep of this
     * upload meanwhile. */
    int rc = zkp_fs_upload_lock(fs, bucket, key, upload_id, &c->u);
    if (rc != ZKP_BE_OK) {
        free(c);
        return rc == ZKP_BE_NO_UPLOAD ? replay(fs, bucket, key, upload_id, etag) : rc;
    }
    if (pre != NULL) {
        c->pre = *pre;
        c->has_pre = 1;
    }
    rc = check_parts(c->u.dir, parts, n, bad, etag);
    zkp_obj_meta_t m;
    if (rc == ZKP_BE_OK)
        rc = object_meta(&c->u.meta, prov, &m);
    if (rc != ZKP_BE_OK) {
        zkp_fs_upload_close(&c->u);
        free(c);
        return rc;
    }
    zkp_objfile_extra_t x = {.parts = (unsigned)n, .upload_id = upload_id};
    zkp_put_t *p;
    rc = zkp_fs_stage(fs, c->u.b, key, &m, &x, &p);
    zkp_obj_meta_free(&m);
    if (rc != ZKP_BE_OK) {
        zkp_fs_upload_close(&c->u);
        free(c);
        return rc;
    }
    p->ctx = c;
    p->publish = publish_completion;
    p->release = release_completion;
    if ((rc = assemble(p, c->u.dir, parts, n, bad)) != ZKP_BE_OK) {
        zkp_fs_put_abort(p); /* the upload stays as it was */
        return rc;
    }
    *out = p;
    return ZKP_BE_OK;
}

int zkp_fs_mpu_abort(zkp_backend_t *base, const char *bucket, const char *key,
                     const char *upload_id)
{
    zkp_fs_t *fs = (zkp_fs_t *)base;
    zkp_fs_upload_t u;
    int rc = zkp_fs_upload_lock(fs, bucket, key, upload_id, &u);
    if (rc != ZKP_BE_OK)
        return rc;
    zkp_fs_upload_remove(fs, u.dir);
    zkp_fs_upload_close(&u);
    return ZKP_BE_OK;
}

/* --- listing uploads -------------------------------------------------------------------- */

typedef struct upload_ent {
    char *key;
    char id[ZKP_FS_UPLOAD_ID_LEN + 1];
    time_t initiated;
} upload_ent_t;

static int ent_cmp(const void *a, const void *b)
{
    const upload_ent_t *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c != 0 ? c : strcmp(x->id, y->id);
}

/* Every upload of the bucket, sorted by key then id. */
static int load_uploads(zkp_fs_t *fs, const char *bucket, upload_ent_t **out, size_t *n)
{
    char dir[4096];
    zkp_fs_uploads_dir(fs, bucket, dir, sizeof(dir));
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (d == NULL)
        return errno == ENOENT ? ZKP_BE_OK : ZKP_BE_IO;
    size_t cap = 0;
    int rc = ZKP_BE_OK;
    struct dirent *de;
    while (rc == ZKP_BE_OK && (de = readdir(d)) != NULL) {
        if (!zkp_fs_upload_id_valid(de->d_name))
            continue;
        char path[4200 + ZKP_FS_UPLOAD_ID_LEN];
        snprintf(path, sizeof(path), "%s/%.40s/manifest", dir, de->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue; /* ended meanwhile */
        char *key = NULL;
        zkp_obj_meta_t m;
        uint64_t off;
        int ok = zkp_objfile_read_head(fd, &key, &m, NULL, &off) == 0;
        close(fd);
        if (!ok)
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            upload_ent_t *t = realloc(*out, cap * sizeof(*t));
            if (t == NULL) {
                free(key);
                zkp_obj_meta_free(&m);
                rc = ZKP_BE_NOMEM;
                break;
            }
            *out = t;
        }
        upload_ent_t *e = &(*out)[(*n)++];
        e->key = key;
        memcpy(e->id, de->d_name, sizeof(e->id)); /* a valid id: 40 characters and NUL */
        e->initiated = m.mtime;
        zkp_obj_meta_free(&m);
    }
    closedir(d);
    if (*n > 0)
        qsort(*out, *n, sizeof(**out), ent_cmp);
    return rc;
}

static int push_item(zkp_upload_list_result_t *res, size_t *cap, const upload_ent_t *e,
                     size_t prefix_len)
{
    if (res->n == *cap) {
        size_t nc = *cap ? 2 * *cap : 16;
        zkp_upload_item_t *t = realloc(res->items, nc * sizeof(*t));
        if (t == NULL)
            return -1;
        res->items = t;
        *cap = nc;
    }
    zkp_upload_item_t *it = &res->items[res->n];
    memset(it, 0, sizeof(*it));
    it->is_prefix = prefix_len > 0;
    it->key = prefix_len > 0 ? strndup(e->key, prefix_len) : strdup(e->key);
    it->upload_id = prefix_len > 0 ? NULL : strdup(e->id);
    it->initiated = e->initiated;
    res->n++;
    if (it->key == NULL || (prefix_len == 0 && it->upload_id == NULL))
        return -1;
    return 0;
}

/* Whether upload e comes after the markers: keys after key_marker, and
 * with upload_id_marker, that key's uploads after that id too. */
static int after_markers(const upload_ent_t *e, const zkp_upload_list_req_t *req)
{
    const char *km = req->key_marker;
    if (km == NULL || *km == '\0')
        return 1;
    int c = strcmp(e->key, km);
    if (c != 0)
        return c > 0;
    const char *uim = req->upload_id_marker;
    return uim != NULL && *uim != '\0' && strcmp(e->id, uim) > 0;
}

/* One page over the sorted uploads, as listings page over keys: with a
 * delimiter, the keys that share a prefix up to it are one CommonPrefixes
 * entry, and resuming after that prefix skips all of them. */
static int page_uploads(const upload_ent_t *e, size_t n, const zkp_upload_list_req_t *req,
                        zkp_upload_list_result_t *res)
{
    const char *prefix = req->prefix ? req->prefix : "";
    size_t plen = strlen(prefix);
    const char *d = req->delimiter && *req->delimiter ? req->delimiter : NULL;
    const char *km = req->key_marker;
    size_t cap = 0, last_group = 0; /* the length of the last prefix pushed */
    for (size_t i = 0; i < n; i++) {
        const char *k = e[i].key;
        if (strncmp(k, prefix, plen) != 0 || !after_markers(&e[i], req))
            continue;
        const char *hit = d ? strstr(k + plen, d) : NULL;
        size_t group = hit ? (size_t)(hit - k) + strlen(d) : 0;
        if (group > 0) {
            if (km != NULL && strlen(km) == group && strncmp(km, k, group) == 0)
                continue; /* this prefix ended the previous page */
            if (res->n > 0 && last_group == group &&
                strncmp(res->items[res->n - 1].key, k, group) == 0)
                continue; /* already this page's */
        }
        if (res->n == (size_t)req->max_uploads) {
            res->truncated = req->max_uploads > 0;
            break;
        }
        if (push_item(res, &cap, &e[i], group) != 0)
            return -1;
        last_group = group;
    }
    if (res->truncated) {
        const zkp_upload_item_t *last = &res->items[res->n - 1];
        if ((res->next_key = strdup(last->key)) == NULL)
            return -1;
        if (!last->is_prefix && (res->next_upload_id = strdup(last->upload_id)) == NULL)
            return -1;
    }
    return 0;
}

int zkp_fs_mpu_list(zkp_backend_t *base, const char *bucket, const zkp_upload_list_req_t *req,
                    zkp_upload_list_result_t *res)
{
    zkp_fs_t *fs = (zkp_fs_t *)base;
    memset(res, 0, sizeof(*res));
    if (zkp_fs_bucket_get(fs, bucket) == NULL)
        return ZKP_BE_NO_BUCKET;
    upload_ent_t *e;
    size_t n;
    int rc = load_uploads(fs, bucket, &e, &n);
    if (rc == ZKP_BE_OK && page_uploads(e, n, req, res) != 0) {
        zkp_upload_list_result_free(res);
        rc = ZKP_BE_NOMEM;
    }
    for (size_t i = 0; i < n; i++)
        free(e[i].key);
    free(e);
    return rc;
}

int zkp_fs_mpu_sweep(zkp_backend_t *base, time_t before)
{
    return zkp_fs_uploads_sweep((zkp_fs_t *)base, before);
}
