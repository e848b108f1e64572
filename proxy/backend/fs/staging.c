/* Staged writes (staging.h). Atomicity: the staging file lives in tmp/,
 * on the file system of objects/, so the link or rename that publishes it
 * is atomic; readers hold an open descriptor, so an overwrite never tears
 * a read. The file is finished and fsync'ed by the seal, which the core
 * calls before it enters a lock's fencing section, so that writers of one
 * lock sync their bodies in parallel; the commit then only publishes. */
#include "backend/fs/staging.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/uio.h>
#include <unistd.h>

#include "util/textutil.h"
#include "util/digest.h"

static int publish_default(zkp_put_t *p)
{
    return zkp_fs_publish_object(p, p->cond);
}

int zkp_fs_stage(zkp_fs_t *fs, zkp_fs_bucket_t *b, const char *key, const zkp_obj_meta_t *meta,
                 const zkp_objfile_extra_t *x, zkp_put_t **out)
{
    zkp_put_t *p = calloc(1, sizeof(*p));
    if (p == NULL || (p->key = strdup(key)) == NULL) {
        free(p);
        return ZKP_BE_NOMEM;
    }
    p->fs = fs;
    p->b = b;
    p->publish = publish_default;
    p->fd = fs->tmpfile ? open(fs->tmpdir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600) : -1;
    if (p->fd >= 0)
        p->anon = 1;
    else {
        snprintf(p->tmp, sizeof(p->tmp), "%s/put.XXXXXX", fs->tmpdir);
        p->fd = mkostemp(p->tmp, O_CLOEXEC);
    }
    /* Head and body are written at their offsets (pwrite): no seek. The
     * head goes out with the body's first bytes. */
    int fmt = zkp_objfile_format_head(key, meta, x, &p->head);
    p->body_off = p->head.len;
    if (p->fd < 0 || fmt != 0) {
        if (p->fd >= 0) {
            close(p->fd);
            if (!p->anon)
                unlink(p->tmp);
        }
        zkp_buf_free(&p->head);
        free(p->key);
        free(p);
        return ZKP_BE_IO;
    }
    *out = p;
    return ZKP_BE_OK;
}

/* Writes p's pending head and, right after it, the body's first len bytes
 * (data; len may be 0), in one write if the kernel takes it whole; what a
 * short or failed write left is written again, piece by piece. 0 or -1. */
static int put_head_out(zkp_put_t *p, const void *data, size_t len)
{
    struct iovec iov[2] = {{p->head.data, p->head.len}, {(void *)data, len}};
    ssize_t n = pwritev(p->fd, iov, len > 0 ? 2 : 1, 0);
    if (n != (ssize_t)(p->head.len + len) &&
        (zkp_fs_pwrite_all(p->fd, p->head.data, p->head.len, 0) != 0 ||
         zkp_fs_pwrite_all(p->fd, data, len, p->body_off) != 0))
        return -1;
    zkp_buf_free(&p->head);
    zkp_buf_init(&p->head);
    return 0;
}

int zkp_fs_put_write(zkp_put_t *p, const void *data, size_t len)
{
    int rc;
    if (p->head.len > 0 && p->written == 0)
        rc = put_head_out(p, data, len);
    else
        rc = zkp_fs_pwrite_all(p->fd, data, len, p->body_off + p->written);
    if (rc != 0)
        return ZKP_BE_IO;
    p->written += len;
    return ZKP_BE_OK;
}

/* Links the open file fd at path (an O_TMPFILE, or any open file) through
 * its /proc/self/fd entry: linkat(AT_EMPTY_PATH) would need
 * CAP_DAC_READ_SEARCH before Linux 6.10. 0, or -1 with errno set. */
static int link_fd(int fd, const char *path)
{
    char self[32];
    snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
    return linkat(AT_FDCWD, self, AT_FDCWD, path, AT_SYMLINK_FOLLOW);
}

int zkp_fs_tmpfile_works(const char *tmpdir)
{
    int fd = open(tmpdir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0)
        return 0;
    char probe[4200];
    snprintf(probe, sizeof(probe), "%s/tmpfile.probe", tmpdir);
    unlink(probe);
    int ok = link_fd(fd, probe) == 0;
    if (ok)
        unlink(probe);
    close(fd);
    return ok;
}

int zkp_fs_put_place(zkp_put_t *p, const char *dst, int replacing)
{
    if (p->anon) {
        if (!replacing && link_fd(p->fd, dst) == 0) {
            p->anon = 0;
            return 0;
        }
        if (!replacing && errno != EEXIST)
            return -1;
        /* Replacing needs a rename, and a rename a name. */
        zkp_fs_tmp_name(p->fs, "replace", p->tmp, sizeof(p->tmp));
        if (link_fd(p->fd, p->tmp) != 0) {
            p->tmp[0] = '\0';
            return -1;
        }
        p->anon = 0;
    }
    if (rename(p->tmp, dst) != 0)
        return -1;
    p->tmp[0] = '\0';
    return 0;
}

static void put_free(zkp_put_t *p, int unlink_tmp)
{
    if (p->fd >= 0)
        close(p->fd);
    if (unlink_tmp && p->tmp[0] != '\0')
        unlink(p->tmp);
    if (p->release != NULL)
        p->release(p);
    zkp_buf_free(&p->head);
    zkp_obj_meta_free(&p->m);
    free(p->key);
    free(p);
}

void zkp_fs_put_abort(zkp_put_t *p)
{
    put_free(p, 1);
}

int zkp_fs_put_seal(zkp_put_t *p, const char *etag)
{
    if (p->sealed)
        return ZKP_BE_OK;
    p->m.size = p->written;
    p->m.mtime = time(NULL);
    snprintf(p->m.etag, sizeof(p->m.etag), "%s", etag);
    /* An empty body, or one written past put_write (a completion's parts):
     * the head is still to be written. */
    if (strlen(p->m.etag) < 32 || (p->head.len > 0 && put_head_out(p, NULL, 0) != 0) ||
        zkp_objfile_finish(p->fd, p->body_off, p->m.size, p->m.mtime, etag) != 0 ||
        (p->fs->fsync && fsync(p->fd) != 0))
        return ZKP_BE_IO;
    p->sealed = 1;
    return ZKP_BE_OK;
}

int zkp_fs_put_commit(zkp_put_t *p, const char *etag, const zkp_cond_t *cond, time_t *mtime)
{
    p->cond = cond;
    int rc = zkp_fs_put_seal(p, etag);
    if (rc == ZKP_BE_OK)
        rc = p->publish(p);
    if (rc == ZKP_BE_OK && mtime != NULL)
        *mtime = p->m.mtime;
    put_free(p, rc != ZKP_BE_OK);
    return rc;
}

int zkp_fs_copy_range(zkp_put_t *p, int fd, uint64_t off, uint64_t len, char etag[ZKP_ETAG_MAX + 1])
{
    EVP_MD_CTX *md5 = EVP_MD_CTX_new();
    if (md5 == NULL || EVP_DigestInit_ex(md5, zkp_md_md5(), NULL) != 1) {
        EVP_MD_CTX_free(md5);
        return ZKP_BE_IO;
    }
    char buf[65536];
    int rc = ZKP_BE_OK;
    for (uint64_t pos = 0; rc == ZKP_BE_OK && pos < len;) {
        size_t want = len - pos < sizeof(buf) ? (size_t)(len - pos) : sizeof(buf);
        ssize_t n = pread(fd, buf, want, (off_t)(off + pos));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || zkp_fs_put_write(p, buf, (size_t)n) != ZKP_BE_OK)
            rc = ZKP_BE_IO;
        else {
            EVP_DigestUpdate(md5, buf, (size_t)n);
            pos += (uint64_t)n;
        }
    }
    unsigned char md[16];
    unsigned int mdlen = 0;
    EVP_DigestFinal_ex(md5, md, &mdlen);
    EVP_MD_CTX_free(md5);
    zkp_hex_encode(md, 16, etag);
    return rc;
}

/* Whether the object now under p's key meets the write's precondition
 * (cond.h). Called under the bucket's mutex, so that nothing replaces that
 * object in between. */
static int precond_met(zkp_put_t *p, const zkp_cond_t *cond)
{
    zkp_obj_meta_t cur;
    uint64_t off;
    int fd = zkp_fs_open_object(p->fs, p->b->name, p->key, &cur, &off, NULL);
    if (fd < 0 && fd != ZKP_BE_NO_KEY)
        return fd;
    int exists = fd >= 0;
    zkp_cond_result_t v = zkp_cond_check_write(cond, exists, exists ? cur.etag : "", NULL);
    if (exists) {
        zkp_obj_meta_free(&cur);
        close(fd);
    }
    switch (v) {
    case ZKP_COND_PASS:
        return ZKP_BE_OK;
    case ZKP_COND_NO_OBJECT:
        return ZKP_BE_NO_KEY; /* If-Match without an object: 404, as S3 */
    default:
        return ZKP_BE_PRECONDITION;
    }
}

int zkp_fs_publish_object(zkp_put_t *p, const zkp_cond_t *pre)
{
    zkp_fs_bucket_t *b = p->b;
    char dst[4096];
    if (zkp_fs_obj_path(p->fs, b->name, p->key, dst, sizeof(dst)) != 0)
        return ZKP_BE_IO;
    zkp_index_entry_t *e = zkp_fs_entry_new(p->key, &p->m);
    if (e == NULL)
        return ZKP_BE_NOMEM;
    int rc = ZKP_BE_OK;
    pthread_mutex_lock(&b->mu);
    if (b->deleted)
        rc = ZKP_BE_NO_BUCKET;
    else if (!zkp_cond_none(pre))
        rc = precond_met(p, pre);
    /* A key the index has is a file to replace (one the index missed, only
     * after an allocation failure, costs a link that fails first). */
    if (rc == ZKP_BE_OK && zkp_fs_put_place(p, dst, zkp_kx_find(&b->index, p->key) != NULL) != 0)
        rc = ZKP_BE_IO;
    if (rc == ZKP_BE_OK) {
        /* The index takes e whatever happens. Out of memory, the file is
         * in place but unlisted until the next start-up (GET works): report
         * the failure rather than hide it. */
        if (zkp_kx_upsert(&b->index, e) != 0)
            rc = ZKP_BE_NOMEM;
        e = NULL;
    }
    pthread_mutex_unlock(&b->mu);
    free(e);
    if (rc == ZKP_BE_OK && zkp_fs_dir_sync(p->fs, b) != 0)
        rc = ZKP_BE_IO;
    return rc;
}
