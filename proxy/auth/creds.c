/* The credentials file: parser and lookups (format in auth/creds.h).
 *
 * Invariants of a built set: keys sorted by id (strcmp order) without
 * repeats; every grant's bucket is '*' or a valid S3 bucket name, and its
 * right is READ, WRITE or ADMIN. Secrets never reach a message. */
#include "auth/creds.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sigv4/sigv4.h"
#include "util/fsutil.h"
#include "util/textutil.h"

#define ID_MAX ZKP_SIGV4_ACCESS_KEY_MAX /* as a SigV4 Credential carries */

typedef struct grant {
    char bucket[ZKP_BUCKET_MAX + 1]; /* or "*" */
    zkp_right_t right;
} grant_t;

struct zkp_cred_key {
    char id[ID_MAX + 1];
    char secret[ZKP_CREDS_SECRET_MAX + 1];
    size_t secret_len;
    grant_t *grants;
    size_t ngrants;
};

struct zkp_creds {
    zkp_cred_key_t *keys;
    size_t n;
};

const char *zkp_right_name(zkp_right_t r)
{
    static const char *const names[] = {"none", "read", "write", "admin"};
    return (unsigned)r < 4 ? names[r] : "none";
}

/* Frees n keys (their grants) and wipes them: the secrets go with them. */
static void free_keys(zkp_cred_key_t *keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(keys[i].grants);
    if (keys != NULL)
        explicit_bzero(keys, n * sizeof(*keys));
    free(keys);
}

void zkp_creds_free(zkp_creds_t *c)
{
    if (c == NULL)
        return;
    free_keys(c->keys, c->n);
    free(c);
}

__attribute__((format(printf, 5, 6))) static int perr(char *err, size_t errlen, const char *name,
                                                      int line, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(err, errlen, "%s:%d: %s", name, line, msg);
    return -1;
}

/* The fields of one line, split at spaces and tabs, a comment removed. */
#define FIELDS_MAX 5
typedef struct fields {
    const char *f[FIELDS_MAX];
    size_t len[FIELDS_MAX];
    int n; /* FIELDS_MAX means "at least that many" */
} fields_t;

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

static void split_line(const char *p, size_t len, fields_t *out)
{
    out->n = 0;
    size_t i = 0;
    while (i < len) {
        while (i < len && is_blank(p[i]))
            i++;
        if (i == len || p[i] == '#') /* '#' after a blank (or first): a comment */
            break;
        size_t start = i;
        while (i < len && !is_blank(p[i]))
            i++;
        if (out->n == FIELDS_MAX)
            return;
        out->f[out->n] = p + start;
        out->len[out->n++] = i - start;
    }
}

static int field_is(const fields_t *f, int i, const char *word)
{
    return f->len[i] == strlen(word) && memcmp(f->f[i], word, f->len[i]) == 0;
}

static int secret_ok(const char *s, size_t n)
{
    if (n < ZKP_CREDS_SECRET_MIN || n > ZKP_CREDS_SECRET_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
            return 0;
    return 1;
}

/* Keys are kept in file order while parsing (a grant refers to an earlier
 * key), sorted once at the end. */
typedef struct builder {
    zkp_cred_key_t *keys;
    size_t n, cap;
} builder_t;

static zkp_cred_key_t *builder_find(const builder_t *b, const char *id, size_t n)
{
    for (size_t i = 0; i < b->n; i++)
        if (strlen(b->keys[i].id) == n && memcmp(b->keys[i].id, id, n) == 0)
            return &b->keys[i];
    return NULL;
}

static int add_key(builder_t *b, const fields_t *f, const char *name, int line, char *err,
                   size_t errlen)
{
    if (f->n != 3)
        return perr(err, errlen, name, line, "expected 'key ACCESS_KEY_ID SECRET_ACCESS_KEY'");
    if (!zkp_sigv4_access_key_valid(f->f[1], f->len[1]))
        return perr(err, errlen, name, line,
                    "access key id: 1 to %d printable ASCII characters, no '/' or ','", ID_MAX);
    if (!secret_ok(f->f[2], f->len[2]))
        return perr(err, errlen, name, line,
                    "secret of key %.*s: %d to %d printable ASCII characters without spaces",
                    (int)f->len[1], f->f[1], ZKP_CREDS_SECRET_MIN, ZKP_CREDS_SECRET_MAX);
    if (builder_find(b, f->f[1], f->len[1]) != NULL)
        return perr(err, errlen, name, line, "key %.*s is defined twice", (int)f->len[1], f->f[1]);
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 8;
        zkp_cred_key_t *k = realloc(b->keys, cap * sizeof(*k));
        if (k == NULL)
            return perr(err, errlen, name, line, "out of memory");
        b->keys = k;
        b->cap = cap;
    }
    zkp_cred_key_t *k = &b->keys[b->n++];
    memset(k, 0, sizeof(*k));
    memcpy(k->id, f->f[1], f->len[1]);
    memcpy(k->secret, f->f[2], f->len[2]);
    k->secret_len = f->len[2];
    return 0;
}

static int add_grant(builder_t *b, const fields_t *f, const char *name, int line, char *err,
                     size_t errlen)
{
    if (f->n != 4)
        return perr(err, errlen, name, line,
                    "expected 'grant ACCESS_KEY_ID BUCKET|* read|write|admin'");
    zkp_cred_key_t *k = builder_find(b, f->f[1], f->len[1]);
    if (k == NULL)
        return perr(err, errlen, name, line, "grant to %.*s: no such key on an earlier line",
                    (int)(f->len[1] > ID_MAX ? ID_MAX : f->len[1]), f->f[1]);
    int all = f->len[2] == 1 && f->f[2][0] == '*';
    if (!all && !zkp_bucket_name_valid(f->f[2], f->len[2]))
        return perr(err, errlen, name, line, "'%.*s' is not '*' or a valid S3 bucket name",
                    (int)(f->len[2] > 80 ? 80 : f->len[2]), f->f[2]);
    zkp_right_t right = field_is(f, 3, "read")    ? ZKP_RIGHT_READ
                        : field_is(f, 3, "write") ? ZKP_RIGHT_WRITE
                        : field_is(f, 3, "admin") ? ZKP_RIGHT_ADMIN
                                                  : ZKP_RIGHT_NONE;
    if (right == ZKP_RIGHT_NONE)
        return perr(err, errlen, name, line, "right '%.*s': expected read, write or admin",
                    (int)(f->len[3] > 16 ? 16 : f->len[3]), f->f[3]);
    grant_t *g = realloc(k->grants, (k->ngrants + 1) * sizeof(*g));
    if (g == NULL)
        return perr(err, errlen, name, line, "out of memory");
    k->grants = g;
    g += k->ngrants++;
    memset(g, 0, sizeof(*g));
    memcpy(g->bucket, f->f[2], f->len[2]);
    g->right = right;
    return 0;
}

static int parse_line(builder_t *b, const char *p, size_t len, const char *name, int line,
                      char *err, size_t errlen)
{
    fields_t f;
    split_line(p, len, &f);
    if (f.n == 0)
        return 0;
    if (memchr(p, '\0', len) != NULL)
        return perr(err, errlen, name, line, "NUL byte");
    if (field_is(&f, 0, "key"))
        return add_key(b, &f, name, line, err, errlen);
    if (field_is(&f, 0, "grant"))
        return add_grant(b, &f, name, line, err, errlen);
    return perr(err, errlen, name, line, "expected a 'key' or 'grant' line, got '%.*s'",
                (int)(f.len[0] > 32 ? 32 : f.len[0]), f.f[0]);
}

static int cmp_key(const void *a, const void *b)
{
    return strcmp(((const zkp_cred_key_t *)a)->id, ((const zkp_cred_key_t *)b)->id);
}

static void builder_free(builder_t *b)
{
    free_keys(b->keys, b->n);
    b->keys = NULL;
    b->n = b->cap = 0;
}

int zkp_creds_parse(const char *text, size_t len, const char *name, zkp_creds_t **out, char *err,
                    size_t errlen)
{
    *out = NULL;
    builder_t b = {0};
    int line = 0;
    size_t pos = 0;
    while (pos < len) {
        line++;
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
        if (parse_line(&b, text + pos, n, name, line, err, errlen) != 0) {
            builder_free(&b);
            return -1;
        }
        pos += n + (nl != NULL);
    }
    if (b.n == 0) {
        snprintf(err, errlen, "%s: no key defined: nobody could use the proxy", name);
        builder_free(&b);
        return -1;
    }
    zkp_creds_t *c = malloc(sizeof(*c));
    if (c == NULL) {
        snprintf(err, errlen, "%s: out of memory", name);
        builder_free(&b);
        return -1;
    }
    qsort(b.keys, b.n, sizeof(*b.keys), cmp_key);
    c->keys = b.keys;
    c->n = b.n;
    *out = c;
    return 0;
}

int zkp_creds_load(const char *path, zkp_creds_t **out, char *err, size_t errlen)
{
    char *text;
    size_t len;
    *out = NULL;
    if (zkp_read_private_file(path, "credentials file", ZKP_CREDS_FILE_MAX, &text, &len, err,
                              errlen) != 0)
        return -1;
    int rc = zkp_creds_parse(text, len, path, out, err, errlen);
    explicit_bzero(text, len);
    free(text);
    return rc;
}

size_t zkp_creds_count(const zkp_creds_t *c)
{
    return c ? c->n : 0;
}

const zkp_cred_key_t *zkp_creds_find(const zkp_creds_t *c, const char *access_key)
{
    if (c == NULL || access_key == NULL)
        return NULL;
    size_t lo = 0, hi = c->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int d = strcmp(access_key, c->keys[mid].id);
        if (d == 0)
            return &c->keys[mid];
        if (d < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

const char *zkp_cred_key_id(const zkp_cred_key_t *k)
{
    return k->id;
}

int zkp_cred_key_secret(const zkp_cred_key_t *k, char *out, size_t cap)
{
    if (k->secret_len + 1 > cap)
        return -1;
    memcpy(out, k->secret, k->secret_len + 1);
    return (int)k->secret_len;
}

zkp_right_t zkp_cred_key_right(const zkp_cred_key_t *k, const char *bucket)
{
    zkp_right_t best = ZKP_RIGHT_NONE;
    for (size_t i = 0; k != NULL && i < k->ngrants; i++) {
        const grant_t *g = &k->grants[i];
        int match =
            strcmp(g->bucket, "*") == 0 || (bucket != NULL && strcmp(g->bucket, bucket) == 0);
        if (match && g->right > best)
            best = g->right;
    }
    return best;
}

zkp_right_t zkp_cred_key_max_right(const zkp_cred_key_t *k)
{
    zkp_right_t best = ZKP_RIGHT_NONE;
    for (size_t i = 0; k != NULL && i < k->ngrants; i++)
        if (k->grants[i].right > best)
            best = k->grants[i].right;
    return best;
}
