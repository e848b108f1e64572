/* The multipart uploads made through this proxy (uploads.h). A list under
 * one mutex: uploads are few (the unfinished ones) and every operation on
 * one is an upstream call that costs far more than the scan. */
#include "backend/s3/uploads.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "util/fsutil.h"
#include "util/textutil.h"

#define MAGIC "zkfence-s3-upload 1"
#define RECORD_MAX 16384 /* a record: names hex-encoded, well under this */

typedef struct entry {
    zkp_s3up_t u;
    int busy;
    struct entry *next;
} entry_t;

struct zkp_s3ups {
    pthread_mutex_t mu;
    char dir[4096];
    int dir_fd;
    entry_t *head;
};

void zkp_s3up_free(zkp_s3up_t *u)
{
    free(u->bucket);
    free(u->key);
    free(u->upstream_id);
    free(u->lock);
    memset(u, 0, sizeof(*u));
}

static int copy_up(const zkp_s3up_t *src, zkp_s3up_t *dst)
{
    memset(dst, 0, sizeof(*dst));
    memcpy(dst->id, src->id, sizeof(dst->id));
    dst->token = src->token;
    dst->initiated = src->initiated;
    dst->bucket = strdup(src->bucket);
    dst->key = strdup(src->key);
    dst->upstream_id = strdup(src->upstream_id);
    dst->lock = src->lock ? strdup(src->lock) : NULL;
    if (dst->bucket == NULL || dst->key == NULL || dst->upstream_id == NULL ||
        (src->lock != NULL && dst->lock == NULL)) {
        zkp_s3up_free(dst);
        return ZKP_BE_NOMEM;
    }
    return ZKP_BE_OK;
}

/* --- the record file ------------------------------------------------------------------ */

static char *hex_of(const char *s)
{
    size_t n = strlen(s);
    char *h = malloc(2 * n + 1);
    if (h != NULL)
        zkp_hex_encode((const unsigned char *)s, n, h);
    return h;
}

/* A hex field back to a string; NULL if malformed, empty, or holding a NUL. */
static char *unhex(const char *h)
{
    size_t n = strlen(h);
    if (n == 0 || n % 2 != 0)
        return NULL;
    char *s = malloc(n / 2 + 1);
    if (s == NULL)
        return NULL;
    long got = zkp_hex_decode(h, n, (unsigned char *)s, n / 2);
    if (got != (long)(n / 2) || memchr(s, '\0', (size_t)got) != NULL) {
        free(s);
        return NULL;
    }
    s[got] = '\0';
    return s;
}

static int parse_record(const char *id, char *line, zkp_s3up_t *u)
{
    memset(u, 0, sizeof(*u));
    char *f[8];
    size_t n = 0;
    for (char *save = NULL, *t = strtok_r(line, " \n", &save); t && n < 8;
         t = strtok_r(NULL, " \n", &save))
        f[n++] = t;
    /* "zkfence-s3-upload" "1" initiated token bucket key lock upstream */
    if (n != 8 || strcmp(f[0], "zkfence-s3-upload") != 0 || strcmp(f[1], "1") != 0)
        return -1;
    snprintf(u->id, sizeof(u->id), "%s", id);
    u->initiated = (time_t)strtoll(f[2], NULL, 10);
    u->token = strtoull(f[3], NULL, 10);
    u->bucket = unhex(f[4]);
    u->key = unhex(f[5]);
    u->lock = strcmp(f[6], "-") == 0 ? NULL : unhex(f[6]);
    u->upstream_id = unhex(f[7]);
    if (u->bucket == NULL || u->key == NULL || u->upstream_id == NULL ||
        (strcmp(f[6], "-") != 0 && u->lock == NULL)) {
        zkp_s3up_free(u);
        return -1;
    }
    return 0;
}

static int valid_id(const char *id)
{
    if (strlen(id) != ZKP_S3UP_ID_LEN)
        return 0;
    for (const char *c = id; *c; c++)
        if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f')))
            return 0;
    return 1;
}

static int write_record(zkp_s3ups_t *t, const zkp_s3up_t *u)
{
    char *b = hex_of(u->bucket), *k = hex_of(u->key), *up = hex_of(u->upstream_id);
    char *l = u->lock ? hex_of(u->lock) : strdup("-");
    char *line = NULL;
    int rc = ZKP_BE_NOMEM;
    if (b && k && up && l &&
        asprintf(&line, MAGIC " %lld %" PRIu64 " %s %s %s %s\n", (long long)u->initiated, u->token,
                 b, k, l, up) >= 0) {
        char tmp[4200], path[4200];
        snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", t->dir, u->id);
        snprintf(path, sizeof(path), "%s/%s", t->dir, u->id);
        rc = ZKP_BE_IO;
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd >= 0) {
            size_t len = strlen(line);
            int ok = write(fd, line, len) == (ssize_t)len && fsync(fd) == 0;
            ok &= close(fd) == 0;
            if (ok && rename(tmp, path) == 0 && fsync(t->dir_fd) == 0)
                rc = ZKP_BE_OK;
            else
                unlink(tmp);
        }
    } else
        line = NULL;
    free(line);
    free(b);
    free(k);
    free(up);
    free(l);
    return rc;
}

static int read_dir(zkp_s3ups_t *t, char *err, size_t errlen)
{
    DIR *d = opendir(t->dir);
    if (d == NULL) {
        snprintf(err, errlen, "%s: %s", t->dir, strerror(errno));
        return -1;
    }
    int rc = 0;
    for (struct dirent *de; rc == 0 && (de = readdir(d)) != NULL;) {
        if (de->d_name[0] == '.') {
            if (strstr(de->d_name, ".tmp") != NULL)
                unlinkat(t->dir_fd, de->d_name, 0); /* a record never finished */
            continue;
        }
        char path[4400], line[RECORD_MAX];
        snprintf(path, sizeof(path), "%s/%s", t->dir, de->d_name);
        FILE *f = fopen(path, "re");
        int ok = f != NULL && fgets(line, sizeof(line), f) != NULL;
        if (f != NULL)
            fclose(f);
        entry_t *e = calloc(1, sizeof(*e));
        if (e == NULL) {
            snprintf(err, errlen, "out of memory");
            rc = -1;
        } else if (!ok || !valid_id(de->d_name) || parse_record(de->d_name, line, &e->u) != 0) {
            free(e);
            snprintf(err, errlen,
                     "%s: not a multipart upload record of zkfence-proxy (remove it if nothing "
                     "should be there)",
                     path);
            rc = -1;
        } else {
            e->next = t->head;
            t->head = e;
        }
    }
    closedir(d);
    return rc;
}

/* --- the table ---------------------------------------------------------------------- */

int zkp_s3ups_open(const char *dir, zkp_s3ups_t **out, char *err, size_t errlen)
{
    zkp_s3ups_t *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    pthread_mutex_init(&t->mu, NULL);
    snprintf(t->dir, sizeof(t->dir), "%s", dir);
    t->dir_fd = -1;
    if (zkp_mkdir_p(dir) != 0 || (t->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        snprintf(err, errlen, "%s: cannot create: %s", dir, strerror(errno));
        zkp_s3ups_close(t);
        return -1;
    }
    if (read_dir(t, err, errlen) != 0) {
        zkp_s3ups_close(t);
        return -1;
    }
    *out = t;
    return 0;
}

void zkp_s3ups_close(zkp_s3ups_t *t)
{
    if (t == NULL)
        return;
    for (entry_t *e = t->head, *next; e != NULL; e = next) {
        next = e->next;
        zkp_s3up_free(&e->u);
        free(e);
    }
    if (t->dir_fd >= 0)
        close(t->dir_fd);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

int zkp_s3ups_add(zkp_s3ups_t *t, zkp_s3up_t *u)
{
    unsigned char rnd[ZKP_S3UP_ID_LEN / 2];
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        return ZKP_BE_IO;
    zkp_hex_encode(rnd, sizeof(rnd), u->id);
    entry_t *e = calloc(1, sizeof(*e));
    if (e == NULL || copy_up(u, &e->u) != ZKP_BE_OK) {
        free(e);
        return ZKP_BE_NOMEM;
    }
    int rc = write_record(t, u);
    if (rc != ZKP_BE_OK) {
        zkp_s3up_free(&e->u);
        free(e);
        return rc;
    }
    pthread_mutex_lock(&t->mu);
    e->next = t->head;
    t->head = e;
    pthread_mutex_unlock(&t->mu);
    return ZKP_BE_OK;
}

static entry_t *find(zkp_s3ups_t *t, const char *id)
{
    for (entry_t *e = t->head; e != NULL; e = e->next)
        if (strcmp(e->u.id, id) == 0)
            return e;
    return NULL;
}

int zkp_s3ups_get(zkp_s3ups_t *t, const char *id, const char *bucket, const char *key, int claim,
                  zkp_s3up_t *out)
{
    pthread_mutex_lock(&t->mu);
    entry_t *e = find(t, id);
    int rc = ZKP_BE_NO_UPLOAD;
    /* Another bucket's or key's id is unknown here: never its upload. */
    if (e != NULL && !e->busy && strcmp(e->u.bucket, bucket) == 0 && strcmp(e->u.key, key) == 0) {
        rc = copy_up(&e->u, out);
        if (rc == ZKP_BE_OK && claim)
            e->busy = 1;
    }
    pthread_mutex_unlock(&t->mu);
    return rc;
}

void zkp_s3ups_end(zkp_s3ups_t *t, const char *id, int remove)
{
    pthread_mutex_lock(&t->mu);
    entry_t **pp = &t->head;
    while (*pp != NULL && strcmp((*pp)->u.id, id) != 0)
        pp = &(*pp)->next;
    entry_t *e = *pp;
    if (e != NULL && remove) {
        unlinkat(t->dir_fd, id, 0);
        fsync(t->dir_fd);
        *pp = e->next;
        zkp_s3up_free(&e->u);
        free(e);
    } else if (e != NULL)
        e->busy = 0;
    pthread_mutex_unlock(&t->mu);
}

int zkp_s3ups_find_upstream(zkp_s3ups_t *t, const char *bucket, const char *upstream_id,
                            char id[ZKP_S3UP_ID_LEN + 1])
{
    int rc = -1;
    pthread_mutex_lock(&t->mu);
    for (entry_t *e = t->head; e != NULL && rc != 0; e = e->next)
        if (strcmp(e->u.bucket, bucket) == 0 && strcmp(e->u.upstream_id, upstream_id) == 0) {
            memcpy(id, e->u.id, ZKP_S3UP_ID_LEN + 1);
            rc = 0;
        }
    pthread_mutex_unlock(&t->mu);
    return rc;
}

int zkp_s3ups_claim_older(zkp_s3ups_t *t, time_t before, zkp_s3up_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    int rc = ZKP_BE_OK;
    pthread_mutex_lock(&t->mu);
    size_t cap = 0;
    for (entry_t *e = t->head; e != NULL; e = e->next)
        cap += !e->busy && e->u.initiated < before;
    if (cap > 0 && (*out = calloc(cap, sizeof(**out))) == NULL)
        rc = ZKP_BE_NOMEM;
    for (entry_t *e = t->head; rc == ZKP_BE_OK && e != NULL; e = e->next) {
        if (e->busy || e->u.initiated >= before)
            continue;
        if ((rc = copy_up(&e->u, &(*out)[*n])) == ZKP_BE_OK) {
            e->busy = 1;
            (*n)++;
        }
    }
    pthread_mutex_unlock(&t->mu);
    return rc;
}
