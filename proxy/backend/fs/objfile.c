#include "backend/fs/objfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/buf.h"

static const char magic[8] = "ZKPOBJ1";

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static int pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
        off += n;
    }
    return 0;
}

static int pread_all(int fd, void *buf, size_t len, off_t off)
{
    char *p = buf;
    while (len > 0) {
        ssize_t n = pread(fd, p, len, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
        off += n;
    }
    return 0;
}

static void record(zkp_buf_t *b, const char *name, const char *value)
{
    unsigned char lens[8];
    put_u32(lens, (uint32_t)strlen(name));
    put_u32(lens + 4, (uint32_t)strlen(value));
    zkp_buf_append(b, lens, 8);
    zkp_buf_puts(b, name);
    zkp_buf_puts(b, value);
}

static void preamble(unsigned char *p, uint32_t hlen, uint64_t size, int64_t mtime,
                     const char *etag)
{
    memset(p, 0, ZKP_OBJ_PREAMBLE);
    memcpy(p, magic, 8);
    put_u32(p + 8, hlen);
    put_u64(p + 16, size);
    put_u64(p + 24, (uint64_t)mtime);
    memcpy(p + 32, etag, 32);
}

int zkp_objfile_format_head(const char *key, const zkp_obj_meta_t *meta,
                            const zkp_objfile_extra_t *x, zkp_buf_t *out)
{
    zkp_buf_t b;
    zkp_buf_init(&b);
    unsigned char pre[ZKP_OBJ_PREAMBLE];
    zkp_buf_append(&b, pre, sizeof(pre)); /* placeholder, filled below */
    record(&b, ":key", key);
    if (meta->fence_lock != NULL) {
        char tok[24];
        snprintf(tok, sizeof(tok), "%llu", (unsigned long long)meta->fence_token);
        record(&b, ":fence-lock", meta->fence_lock);
        record(&b, ":fence-token", tok);
    }
    if (x != NULL && x->parts > 0) {
        char n[16];
        snprintf(n, sizeof(n), "%u", x->parts);
        record(&b, ":parts", n);
    }
    if (x != NULL && x->upload_id != NULL)
        record(&b, ":upload-id", x->upload_id);
    for (size_t i = 0; i < meta->nheaders; i++)
        record(&b, meta->headers[i].name, meta->headers[i].value);
    *out = b;
    if (b.oom || b.len - ZKP_OBJ_PREAMBLE > ZKP_OBJ_MAX_HEADER)
        return -1;
    char etag[33] = "00000000000000000000000000000000";
    if (meta->etag[0] != '\0')
        memcpy(etag, meta->etag, 32);
    preamble((unsigned char *)b.data, (uint32_t)(b.len - ZKP_OBJ_PREAMBLE), meta->size, meta->mtime,
             etag);
    return 0;
}

int zkp_objfile_write_head(int fd, const char *key, const zkp_obj_meta_t *meta,
                           const zkp_objfile_extra_t *x, uint64_t *body_off)
{
    zkp_buf_t b;
    int rc = zkp_objfile_format_head(key, meta, x, &b) == 0 ? pwrite_all(fd, b.data, b.len, 0) : -1;
    *body_off = b.len;
    zkp_buf_free(&b);
    return rc;
}

int zkp_objfile_finish(int fd, uint64_t body_off, uint64_t size, int64_t mtime, const char *etag)
{
    if (body_off < ZKP_OBJ_PREAMBLE || body_off - ZKP_OBJ_PREAMBLE > ZKP_OBJ_MAX_HEADER)
        return -1;
    unsigned char pre[ZKP_OBJ_PREAMBLE];
    preamble(pre, (uint32_t)(body_off - ZKP_OBJ_PREAMBLE), size, mtime, etag);
    return pwrite_all(fd, pre, sizeof(pre), 0);
}

/* What the records say besides the key and the metadata. */
typedef struct extra_out {
    unsigned parts;
    char *upload_id; /* malloc'ed or NULL */
} extra_out_t;

static int parse_records(const unsigned char *h, size_t len, char **key, zkp_obj_meta_t *meta,
                         extra_out_t *x)
{
    size_t pos = 0;
    while (pos < len) {
        if (len - pos < 8)
            return -1;
        uint32_t nl = get_u32(h + pos), vl = get_u32(h + pos + 4);
        pos += 8;
        if (nl > len - pos || vl > len - pos - nl)
            return -1;
        char *name = strndup((const char *)h + pos, nl);
        char *value = strndup((const char *)h + pos + nl, vl);
        pos += (size_t)nl + vl;
        int rc = 0;
        if (name == NULL || value == NULL)
            rc = -1;
        else if (strcmp(name, ":key") == 0 && *key == NULL) {
            *key = value;
            value = NULL;
        } else if (meta == NULL || name[0] != ':') {
            if (meta != NULL)
                rc = zkp_obj_meta_add(meta, name, value);
        } else if (strcmp(name, ":fence-lock") == 0 && meta->fence_lock == NULL) {
            meta->fence_lock = value;
            value = NULL;
        } else if (strcmp(name, ":fence-token") == 0) {
            meta->fence_token = strtoull(value, NULL, 10);
        } else if (strcmp(name, ":parts") == 0) {
            unsigned long n = strtoul(value, NULL, 10);
            x->parts = n <= 100000 ? (unsigned)n : 0;
        } else if (strcmp(name, ":upload-id") == 0 && x->upload_id == NULL) {
            x->upload_id = value;
            value = NULL;
        }
        free(name);
        free(value);
        if (rc != 0)
            return -1;
    }
    return *key != NULL ? 0 : -1;
}

/* One pread of up to cap bytes from offset 0 (again only on EINTR): the
 * bytes read, or -1. A regular file reads short only at its end, so fewer
 * than cap means the file ends there; the caller checks that against the
 * length the preamble gives, and asks fstat when they disagree. */
static ssize_t pread_first(int fd, unsigned char *buf, size_t cap)
{
    ssize_t n;
    do
        n = pread(fd, buf, cap, 0);
    while (n < 0 && errno == EINTR);
    return n;
}

int zkp_objfile_read_head_buf(int fd, char **key, zkp_obj_meta_t *meta, char **upload_id,
                              uint64_t *body_off, void *buf, size_t cap, size_t *body_have)
{
    *key = NULL;
    if (upload_id != NULL)
        *upload_id = NULL;
    if (body_have != NULL)
        *body_have = 0;
    /* The preamble, the header records and, for a small object, the whole
     * body in one system call: a 4 KiB GET costs one read, not three. */
    unsigned char local[4096];
    unsigned char *first = buf != NULL && cap >= sizeof(local) ? buf : local;
    size_t fcap = first == local ? sizeof(local) : cap;
    ssize_t got = pread_first(fd, first, fcap);
    if (got < ZKP_OBJ_PREAMBLE || memcmp(first, magic, 8) != 0)
        return -1;
    unsigned char pre[ZKP_OBJ_PREAMBLE];
    memcpy(pre, first, sizeof(pre));
    uint32_t hlen = get_u32(pre + 8);
    uint64_t size = get_u64(pre + 16);
    if (hlen > ZKP_OBJ_MAX_HEADER)
        return -1;
    uint64_t total = ZKP_OBJ_PREAMBLE + (uint64_t)hlen + size;
    /* The length must be exactly head + body (a torn file is shorter). A
     * read that stopped short of the buffer found the end: its count is the
     * length, if it agrees. Otherwise ask the file system. */
    if ((size_t)got == fcap || (uint64_t)got != total) {
        struct stat st;
        if (fstat(fd, &st) != 0 || (uint64_t)st.st_size != total)
            return -1;
    }
    size_t in_first = (size_t)got > ZKP_OBJ_PREAMBLE ? (size_t)got - ZKP_OBJ_PREAMBLE : 0;
    unsigned char *h;
    unsigned char *owned = NULL;
    if (in_first >= hlen) {
        h = first + ZKP_OBJ_PREAMBLE;
    } else {
        owned = malloc(hlen ? hlen : 1);
        if (owned == NULL)
            return -1;
        if (pread_all(fd, owned, hlen, ZKP_OBJ_PREAMBLE) != 0) {
            free(owned);
            return -1;
        }
        h = owned;
    }
    zkp_obj_meta_t tmp;
    memset(&tmp, 0, sizeof(tmp));
    extra_out_t x = {0, NULL};
    int rc = parse_records(h, hlen, key, &tmp, &x);
    free(owned);
    if (rc != 0) {
        free(*key);
        *key = NULL;
        free(x.upload_id);
        zkp_obj_meta_free(&tmp);
        return -1;
    }
    tmp.size = size;
    tmp.mtime = (time_t)(int64_t)get_u64(pre + 24);
    memcpy(tmp.etag, pre + 32, 32);
    tmp.etag[32] = '\0';
    if (x.parts > 0)
        snprintf(tmp.etag + 32, sizeof(tmp.etag) - 32, "-%u", x.parts);
    if (upload_id != NULL)
        *upload_id = x.upload_id;
    else
        free(x.upload_id);
    *meta = tmp;
    *body_off = ZKP_OBJ_PREAMBLE + (uint64_t)hlen;
    if (first == buf && body_have != NULL && in_first > hlen) {
        /* The body's first bytes came with the head: moved to buf's start. */
        size_t have = in_first - hlen;
        memmove(buf, first + *body_off, have);
        *body_have = have;
    }
    return 0;
}

int zkp_objfile_read_head(int fd, char **key, zkp_obj_meta_t *meta, char **upload_id,
                          uint64_t *body_off)
{
    return zkp_objfile_read_head_buf(fd, key, meta, upload_id, body_off, NULL, 0, NULL);
}
