/* The audit log: one JSON line per fencing decision.
 *
 * A line is built in memory and handed to the kernel with one write(2) on
 * an O_APPEND descriptor, so a crash leaves at most one torn line at the
 * end and readers (tail -f, jq) never see two lines mixed. The mutex makes
 * that hold even for the rare short write, whose remainder must follow
 * before anyone else's line, and lets reopen() swap the descriptor safely.
 * Lines are not fsync'd: the durable record of what was accepted is the
 * mark store; the log explains it.
 */
#include "fence.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct zkp_audit {
    pthread_mutex_t mu; /* serializes writes and reopen */
    int fd;
    int owns_fd; /* 0 for standard error */
    char *path;  /* NULL for standard error */
    atomic_uint_fast64_t errors;
    atomic_int regular; /* fd is a regular file: a write never waits for a reader */
};

/* 1 if fd is a regular file (a pipe, a socket or a terminal may make a
 * write wait for whoever reads it). */
static int is_regular(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

/* ------------------------------------------------------- line builder */

typedef struct line {
    char *p;
    size_t len, cap;
} line_t;

/* The capacity is computed up front (line_budget), so appends never fail. */
static void put(line_t *l, const char *s, size_t n)
{
    memcpy(l->p + l->len, s, n);
    l->len += n;
}

static void puts_(line_t *l, const char *s)
{
    put(l, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if it is not one
 * (overlong forms, surrogates and values above U+10FFFF included). */
static size_t utf8_len(const unsigned char *p, size_t rem)
{
    unsigned char c = p[0];
    if (c < 0x80)
        return 1;
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        lo = c == 0xe0 ? 0xa0 : 0x80;
        hi = c == 0xed ? 0x9f : 0xbf;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        lo = c == 0xf0 ? 0x90 : 0x80;
        hi = c == 0xf4 ? 0x8f : 0xbf;
    } else {
        return 0;
    }
    if (rem < n || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return n;
}

/* Appends s as a JSON string (or null); at most 6 output bytes per input
 * byte (\u00XX, or \ufffd for a byte that is not UTF-8). */
static void put_json_string(line_t *l, const char *s)
{
    if (s == NULL) {
        puts_(l, "null");
        return;
    }
    const unsigned char *p = (const unsigned char *)s;
    size_t rem = strlen(s);
    put(l, "\"", 1);
    while (rem > 0) {
        unsigned char c = *p;
        size_t n = utf8_len(p, rem);
        char esc[8];
        if (n == 0) {
            puts_(l, "\\ufffd");
            n = 1;
        } else if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            put(l, esc, 2);
        } else if (c == '\n') {
            puts_(l, "\\n");
        } else if (c == '\r') {
            puts_(l, "\\r");
        } else if (c == '\t') {
            puts_(l, "\\t");
        } else if (c == '\b') {
            puts_(l, "\\b");
        } else if (c == '\f') {
            puts_(l, "\\f");
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(esc, sizeof(esc), "\\u%04x", c);
            put(l, esc, 6);
        } else {
            put(l, (const char *)p, n);
        }
        p += n;
        rem -= n;
    }
    put(l, "\"", 1);
}

static void put_field(line_t *l, const char *name, const char *value)
{
    put(l, ",\"", 2);
    puts_(l, name);
    put(l, "\":", 2);
    put_json_string(l, value);
}

static void put_time(line_t *l)
{
    struct timespec ts;
    struct tm tm;
    char buf[40];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n =
        snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
    put(l, buf, (size_t)n);
}

static size_t str_budget(const char *s)
{
    return s ? strlen(s) * 6 + 2 : 4;
}

/* A field after the common ones (a repair's new mark, reason, admin). */
typedef struct extra {
    const char *name;
    const char *value; /* NULL: null */
} extra_t;

static size_t line_budget(const char *lock, const char *bucket, const char *key, const char *op,
                          const extra_t *extra, size_t nextra)
{
    /* field names, punctuation, time (24), two numbers (20 each), verdict,
     * with room to spare */
    size_t n = 256 + str_budget(lock) + str_budget(bucket) + str_budget(key) + str_budget(op);
    for (size_t i = 0; i < nextra; i++)
        n += 16 + str_budget(extra[i].name) + str_budget(extra[i].value);
    return n;
}

/* ---------------------------------------------------------------- API */

static int open_fd(const char *path)
{
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

int zkp_audit_open(const char *path, zkp_audit_t **out, char *err, size_t errlen)
{
    if (path == NULL || out == NULL) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "path and out are required");
        return ZKP_FENCE_EINVAL;
    }
    zkp_audit_t *a = calloc(1, sizeof(*a));
    int to_stderr = strcmp(path, "-") == 0;
    if (a == NULL || (!to_stderr && (a->path = strdup(path)) == NULL)) {
        free(a);
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "out of memory");
        return ZKP_FENCE_ENOMEM;
    }
    a->fd = to_stderr ? STDERR_FILENO : open_fd(path);
    a->owns_fd = !to_stderr;
    if (a->fd < 0) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
        free(a->path);
        free(a);
        return ZKP_FENCE_EIO;
    }
    pthread_mutex_init(&a->mu, NULL);
    atomic_init(&a->errors, 0);
    atomic_init(&a->regular, is_regular(a->fd));
    *out = a;
    return 0;
}

int zkp_audit_reopen(zkp_audit_t *a)
{
    if (a == NULL || !a->owns_fd)
        return 0;
    int fd = open_fd(a->path);
    if (fd < 0)
        return ZKP_FENCE_EIO;
    pthread_mutex_lock(&a->mu);
    int old = a->fd;
    a->fd = fd;
    atomic_store(&a->regular, is_regular(fd));
    pthread_mutex_unlock(&a->mu);
    close(old);
    return 0;
}

int zkp_audit_never_waits(zkp_audit_t *a)
{
    return a == NULL || atomic_load(&a->regular);
}

void zkp_audit_close(zkp_audit_t *a)
{
    if (a == NULL)
        return;
    if (a->owns_fd)
        close(a->fd);
    pthread_mutex_destroy(&a->mu);
    free(a->path);
    free(a);
}

/* One write(2) in the normal case; a short write is finished before the
 * mutex is released, so lines stay whole. */
static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* One line; token and mark are decimal text, or NULL for JSON null. */
static void emit(zkp_audit_t *a, const char *lock, const char *token, const char *mark,
                 const char *verdict, const char *bucket, const char *key, const char *op,
                 const extra_t *extra, size_t nextra)
{
    if (a == NULL)
        return;
    char stack[2048];
    line_t l = {.p = stack, .cap = line_budget(lock, bucket, key, op, extra, nextra)};
    if (l.cap > sizeof(stack) && (l.p = malloc(l.cap)) == NULL) {
        atomic_fetch_add(&a->errors, 1);
        return;
    }
    puts_(&l, "{\"time\":\"");
    put_time(&l);
    put(&l, "\"", 1);
    put_field(&l, "lock", lock);
    put_field(&l, "token", token);
    put_field(&l, "mark", mark);
    put_field(&l, "verdict", verdict);
    put_field(&l, "bucket", bucket);
    put_field(&l, "key", key);
    put_field(&l, "op", op);
    for (size_t i = 0; i < nextra; i++)
        put_field(&l, extra[i].name, extra[i].value);
    put(&l, "}\n", 2);

    pthread_mutex_lock(&a->mu);
    int rc = write_all(a->fd, l.p, l.len);
    pthread_mutex_unlock(&a->mu);
    if (rc != 0)
        atomic_fetch_add(&a->errors, 1);
    if (l.p != stack)
        free(l.p);
}

void zkp_audit_log(zkp_audit_t *a, const char *lock, uint64_t token, int had_mark, uint64_t mark,
                   zkp_verdict_t v, const char *bucket, const char *key, const char *op)
{
    char tok[24], hw[24];
    snprintf(tok, sizeof(tok), "%" PRIu64, token);
    snprintf(hw, sizeof(hw), "%" PRIu64, mark);
    emit(a, lock, tok, had_mark ? hw : NULL, zkp_verdict_name(v), bucket, key, op, NULL, 0);
}

void zkp_audit_log_no_token(zkp_audit_t *a, const char *lock, zkp_verdict_t v, const char *bucket,
                            const char *key, const char *op)
{
    emit(a, lock, NULL, NULL, zkp_verdict_name(v), bucket, key, op, NULL, 0);
}

void zkp_audit_log_repair(zkp_audit_t *a, const char *lock, int had_mark, uint64_t old_mark,
                          int cleared, uint64_t new_mark, const char *reason, const char *admin)
{
    char old_text[24], new_text[24];
    snprintf(old_text, sizeof(old_text), "%" PRIu64, old_mark);
    snprintf(new_text, sizeof(new_text), "%" PRIu64, new_mark);
    extra_t extra[] = {
        {"new_mark", cleared ? NULL : new_text}, {"reason", reason}, {"admin", admin}};
    emit(a, lock, NULL, had_mark ? old_text : NULL, "repaired", NULL, NULL, "MarkRepair", extra, 3);
}

uint64_t zkp_audit_errors(zkp_audit_t *a)
{
    return a ? (uint64_t)atomic_load(&a->errors) : 0;
}
