/* The audit log: JSON lines that parse back to what was logged. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>

#include "fence_test.h"

/* ------------------------------------------------ a minimal JSON reader */

/* A flat object of string-or-null values, as the audit log writes. */
#define MAX_FIELDS 16
typedef struct fields {
    int n;
    char *name[MAX_FIELDS];
    char *value[MAX_FIELDS]; /* NULL for JSON null */
} fields_t;

static void fields_free(fields_t *f)
{
    for (int i = 0; i < f->n; i++) {
        free(f->name[i]);
        free(f->value[i]);
    }
    f->n = 0;
}

static void put_utf8(char **o, unsigned cp)
{
    unsigned char *p = (unsigned char *)*o;
    if (cp < 0x80) {
        *p++ = (unsigned char)cp;
    } else if (cp < 0x800) {
        *p++ = (unsigned char)(0xc0 | cp >> 6);
        *p++ = (unsigned char)(0x80 | (cp & 0x3f));
    } else {
        *p++ = (unsigned char)(0xe0 | cp >> 12);
        *p++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        *p++ = (unsigned char)(0x80 | (cp & 0x3f));
    }
    *o = (char *)p;
}

/* Parses a JSON string at *s (strict: control characters must be escaped);
 * returns a malloc'ed decoded copy, or NULL. */
static char *parse_string(const char **s)
{
    const char *p = *s;
    if (*p++ != '"')
        return NULL;
    char *out = malloc(strlen(p) * 3 + 1), *o = out;
    while (*p != '"') {
        unsigned char c = (unsigned char)*p++;
        if (c < 0x20) /* NUL included: an unterminated string */
            goto bad;
        if (c != '\\') {
            *o++ = (char)c;
            continue;
        }
        c = (unsigned char)*p++;
        switch (c) {
        case '"':
        case '\\':
        case '/':
            *o++ = (char)c;
            break;
        case 'n':
            *o++ = '\n';
            break;
        case 'r':
            *o++ = '\r';
            break;
        case 't':
            *o++ = '\t';
            break;
        case 'b':
            *o++ = '\b';
            break;
        case 'f':
            *o++ = '\f';
            break;
        case 'u': {
            char hex[5] = {0};
            if (strspn(p, "0123456789abcdefABCDEF") < 4)
                goto bad;
            memcpy(hex, p, 4);
            unsigned cp = (unsigned)strtoul(hex, NULL, 16);
            p += 4;
            put_utf8(&o, cp);
            break;
        }
        default:
            goto bad;
        }
    }
    *o = '\0';
    *s = p + 1;
    return out;
bad:
    free(out);
    return NULL;
}

/* One line: {"name":"value"|null,...}\n. Returns 0 if it parses. */
static int parse_line(const char *line, fields_t *f)
{
    const char *p = line;
    f->n = 0;
    if (*p++ != '{')
        return -1;
    for (;;) {
        if (f->n == MAX_FIELDS)
            return -1;
        char *name = parse_string(&p);
        if (name == NULL)
            return -1;
        f->name[f->n] = name;
        f->value[f->n] = NULL;
        f->n++;
        if (*p++ != ':')
            return -1;
        if (strncmp(p, "null", 4) == 0)
            p += 4;
        else if ((f->value[f->n - 1] = parse_string(&p)) == NULL)
            return -1;
        if (*p == ',') {
            p++;
            continue;
        }
        return strcmp(p, "}\n") == 0 || strcmp(p, "}") == 0 ? 0 : -1;
    }
}

static const char *field(const fields_t *f, const char *name, int *present)
{
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->name[i], name) == 0) {
            *present = 1;
            return f->value[i];
        }
    *present = 0;
    return NULL;
}

/* ---------------------------------------------------------------- io */

static char dir[256];
static char logpath[300];

static int setup(void)
{
    ft_mkdtemp(dir, sizeof(dir));
    ft_path(logpath, sizeof(logpath), dir, "audit.log");
    return 0;
}

static int teardown(void)
{
    ft_rmtree(dir);
    return 0;
}

/* The whole file, split in lines (each keeps its '\n'); returns the count. */
static size_t read_lines(const char *path, char ***lines)
{
    FILE *fp = fopen(path, "r");
    *lines = NULL;
    if (fp == NULL)
        return 0;
    size_t n = 0, cap = 0;
    char *line = NULL;
    size_t lcap = 0;
    while (getline(&line, &lcap, fp) > 0) {
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            *lines = realloc(*lines, cap * sizeof(**lines));
        }
        (*lines)[n++] = strdup(line);
    }
    free(line);
    fclose(fp);
    return n;
}

static void free_lines(char **lines, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
}

static zkp_audit_t *open_fresh(void)
{
    unlink(logpath);
    zkp_audit_t *a = NULL;
    char err[256];
    int rc = zkp_audit_open(logpath, &a, err, sizeof(err));
    if (rc != 0)
        fprintf(stderr, "zkp_audit_open: %s\n", err);
    return a;
}

/* ------------------------------------------------------------- tests */

static void test_line_fields(void)
{
    zkp_audit_t *a = open_fresh();
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    zkp_audit_log(a, "/locks/seat-12", 42, 1, 41, ZKP_VERDICT_ACCEPT_HIGHER, "shows", "seats/12",
                  "put");
    zkp_audit_log(a, "/locks/new", UINT64_MAX, 0, 0, ZKP_VERDICT_ACCEPT_HIGHER, "b", "k", "delete");
    zkp_audit_log(a, "/locks/seat-12", 7, 1, 42, ZKP_VERDICT_REJECT_STALE, NULL, NULL, NULL);
    zkp_audit_close(a);

    char **lines;
    size_t n = read_lines(logpath, &lines);
    CU_ASSERT_EQUAL_FATAL(n, 3);
    fields_t f;
    int present;

    CU_ASSERT_EQUAL_FATAL(parse_line(lines[0], &f), 0);
    CU_ASSERT_EQUAL(f.n, 8);
    static const char *const order[] = {"time",    "lock",   "token", "mark",
                                        "verdict", "bucket", "key",   "op"};
    for (int i = 0; i < 8 && i < f.n; i++)
        CU_ASSERT_STRING_EQUAL(f.name[i], order[i]);
    CU_ASSERT_STRING_EQUAL(field(&f, "lock", &present), "/locks/seat-12");
    CU_ASSERT_STRING_EQUAL(field(&f, "token", &present), "42");
    CU_ASSERT_STRING_EQUAL(field(&f, "mark", &present), "41");
    CU_ASSERT_STRING_EQUAL(field(&f, "verdict", &present), "accepted_higher");
    CU_ASSERT_STRING_EQUAL(field(&f, "bucket", &present), "shows");
    CU_ASSERT_STRING_EQUAL(field(&f, "key", &present), "seats/12");
    CU_ASSERT_STRING_EQUAL(field(&f, "op", &present), "put");
    fields_free(&f);

    CU_ASSERT_EQUAL_FATAL(parse_line(lines[1], &f), 0);
    CU_ASSERT_STRING_EQUAL(field(&f, "token", &present), "18446744073709551615");
    CU_ASSERT_PTR_NULL(field(&f, "mark", &present)); /* no mark: null, not "0" */
    CU_ASSERT_EQUAL(present, 1);
    CU_ASSERT_STRING_EQUAL(field(&f, "op", &present), "delete");
    fields_free(&f);

    CU_ASSERT_EQUAL_FATAL(parse_line(lines[2], &f), 0);
    CU_ASSERT_STRING_EQUAL(field(&f, "verdict", &present), "rejected_stale");
    CU_ASSERT_STRING_EQUAL(field(&f, "mark", &present), "42");
    CU_ASSERT_PTR_NULL(field(&f, "bucket", &present));
    CU_ASSERT_EQUAL(present, 1);
    CU_ASSERT_PTR_NULL(field(&f, "key", &present));
    CU_ASSERT_PTR_NULL(field(&f, "op", &present));
    fields_free(&f);
    free_lines(lines, n);
    CU_ASSERT_EQUAL(zkp_audit_errors(NULL), 0);
}

/* Refusals before any token could be compared (428): token and mark are
 * null, the lock may be named or null, the verdict says why. */
static void test_no_token_lines(void)
{
    zkp_audit_t *a = open_fresh();
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    zkp_audit_log_no_token(a, "/locks/half", ZKP_VERDICT_REJECT_MISSING, "b", "k", "PutObject");
    zkp_audit_log_no_token(a, NULL, ZKP_VERDICT_REJECT_MISSING, "b", "k2", "DeleteObject");
    zkp_audit_log(a, "/locks/x", 9, 1, 8, ZKP_VERDICT_REJECT_UNAVAILABLE, "b", "k3", "PutObject");
    zkp_audit_close(a);
    char **lines;
    size_t n = read_lines(logpath, &lines);
    CU_ASSERT_EQUAL_FATAL(n, 3);
    fields_t f;
    int present = 0;
    CU_ASSERT_EQUAL_FATAL(parse_line(lines[0], &f), 0);
    CU_ASSERT_EQUAL(f.n, 8);
    CU_ASSERT_STRING_EQUAL(field(&f, "lock", &present), "/locks/half");
    CU_ASSERT_PTR_NULL(field(&f, "token", &present));
    CU_ASSERT_EQUAL(present, 1);
    CU_ASSERT_PTR_NULL(field(&f, "mark", &present));
    CU_ASSERT_EQUAL(present, 1);
    CU_ASSERT_STRING_EQUAL(field(&f, "verdict", &present), "rejected_missing");
    CU_ASSERT_STRING_EQUAL(field(&f, "key", &present), "k");
    fields_free(&f);
    CU_ASSERT_EQUAL_FATAL(parse_line(lines[1], &f), 0);
    CU_ASSERT_PTR_NULL(field(&f, "lock", &present));
    CU_ASSERT_EQUAL(present, 1);
    CU_ASSERT_STRING_EQUAL(field(&f, "op", &present), "DeleteObject");
    fields_free(&f);
    CU_ASSERT_EQUAL_FATAL(parse_line(lines[2], &f), 0);
    CU_ASSERT_STRING_EQUAL(field(&f, "verdict", &present), "rejected_unavailable");
    CU_ASSERT_STRING_EQUAL(field(&f, "token", &present), "9");
    CU_ASSERT_STRING_EQUAL(field(&f, "mark", &present), "8");
    fields_free(&f);
    free_lines(lines, n);
    zkp_audit_log_no_token(NULL, "/l", ZKP_VERDICT_REJECT_MISSING, "b", "k", "op"); /* no-op */
}

/* A mark repair's line: the common fields (token null, verdict
 * "repaired"), then the new mark (null when cleared), the reason and the
 * admin, escaped like every string. */
static void test_repair_lines(void)
{
    zkp_audit_t *a = open_fresh();
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    zkp_audit_log_repair(a, "/locks/a", 1, UINT64_MAX, 0, 5, "forged \"token\"\n", "AKID1");
    zkp_audit_log_repair(a, "/locks/a/", 1, 9, 1, 0, "inert", NULL);
    zkp_audit_log_repair(a, "/locks/b", 0, 0, 1, 0, "x", "k");
    zkp_audit_close(a);
    char **lines;
    size_t n = read_lines(logpath, &lines);
    CU_ASSERT_EQUAL_FATAL(n, 3);
    fields_t f;
    int present = 0;
    CU_ASSERT_EQUAL_FATAL(parse_line(lines[0], &f), 0);
    CU_ASSERT_EQUAL(f.n, 11);
    static const char *const order[] = {"time", "lock", "token",    "mark",   "verdict", "bucket",
                                        "key",  "op",   "new_mark", "reason", "admin"};
    for (int i = 0; i < 11 && i < f.n; i++)
        CU_ASSERT_STRING_EQUAL(f.name[i], order[i]);
    CU_ASSERT_PTR_NULL(field(&f, "token", &present));
    CU_ASSERT_STRING_EQUAL(field(&f, "mark", &present), "18446744073709551615");
    CU_ASSERT_STRING_EQUAL(field(&f, "verdict", &present), "repaired");
    CU_ASSERT_STRING_EQUAL(field(&f, "op", &present), "MarkRepair");
    CU_ASSERT_STRING_EQUAL(field(&f, "new_mark", &present), "5");
    CU_ASSERT_STRING_EQUAL(field(&f, "reason", &present), "forged \"token\"\n");
    CU_ASSERT_STRING_EQUAL(field(&f, "admin", &present), "AKID1");
    fields_free(&f);
    CU_ASSERT_EQUAL_FATAL(parse_line(lines[1], &f), 0);
    CU_ASSERT_STRING_EQUAL(field(&f, "lock", &present), "/locks/a/");
    CU_ASSERT_PTR_NULL(field(&f, "new_mark", &present));
    CU_ASSERT_EQUAL(present, 1);
    CU_ASSERT_PTR_NULL(field(&f, "admin", &present));
    CU_ASSERT_EQUAL(present, 1);
    fields_free(&f);
    CU_ASSERT_EQUAL_FATAL(parse_line(lines[2], &f), 0);
    CU_ASSERT_PTR_NULL(field(&f, "mark", &present));
    CU_ASSERT_EQUAL(present, 1);
    fields_free(&f);
    free_lines(lines, n);
}

static void test_time_format(void)
{
    zkp_audit_t *a = open_fresh();
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    /* The audit's own clock (CLOCK_REALTIME): time() reads the coarse one,
     * a tick behind, and could still say the previous second when the line
     * already has the next. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    time_t before = ts.tv_sec;
    zkp_audit_log(a, "l", 1, 0, 0, ZKP_VERDICT_ACCEPT_HIGHER, "b", "k", "put");
    clock_gettime(CLOCK_REALTIME, &ts);
    time_t after = ts.tv_sec;
    zkp_audit_close(a);

    char **lines;
    size_t n = read_lines(logpath, &lines);
    CU_ASSERT_EQUAL_FATAL(n, 1);
    fields_t f;
    int present;
    CU_ASSERT_EQUAL_FATAL(parse_line(lines[0], &f), 0);
    const char *t = field(&f, "time", &present);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    /* 2024-05-01T12:00:00.123Z */
    CU_ASSERT_EQUAL(strlen(t), 24);
    const char *shape = "dddd-dd-ddTdd:dd:dd.dddZ";
    for (size_t i = 0; i < 24 && t[i]; i++) {
        int ok = shape[i] == 'd' ? t[i] >= '0' && t[i] <= '9' : t[i] == shape[i];
        CU_ASSERT(ok);
    }
    struct tm tm = {0};
    CU_ASSERT_PTR_NOT_NULL(strptime(t, "%Y-%m-%dT%H:%M:%S", &tm));
    time_t when = timegm(&tm);
    CU_ASSERT(when >= before && when <= after); /* UTC, not local time */
    fields_free(&f);
    free_lines(lines, n);
}

static void test_escaping(void)
{
    /* Every byte 0x01..0x7f, plus the awkward ones, must come back intact. */
    char all[128];
    for (int i = 1; i < 128; i++)
        all[i - 1] = (char)i;
    all[127] = '\0';
    const char *const keys[] = {
        "plain/key.txt",
        "quote\"in\"key",
        "back\\slash\\",
        "\\\"",
        "new\nline\rcr\ttab\bbs\fff",
        "\x01\x02\x1f\x7f",
        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x92", /* UTF-8 passes through */
        "}\n{\"verdict\":\"accepted_higher\"}",      /* no line injection */
        "",
        all,
    };
    zkp_audit_t *a = open_fresh();
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    size_t nkeys = sizeof(keys) / sizeof(keys[0]);
    for (size_t i = 0; i < nkeys; i++)
        zkp_audit_log(a, "/l\"\\", 1, 0, 0, ZKP_VERDICT_ACCEPT_HIGHER, "b\n", keys[i], "put");
    zkp_audit_close(a);

    char **lines;
    size_t n = read_lines(logpath, &lines);
    CU_ASSERT_EQUAL_FATAL(n, nkeys);
    for (size_t i = 0; i < n; i++) {
        fields_t f;
        int present;
        CU_ASSERT_EQUAL_FATAL(parse_line(lines[i], &f), 0);
        const char *k = field(&f, "key", &present);
        CU_ASSERT_PTR_NOT_NULL_FATAL(k);
        CU_ASSERT_STRING_EQUAL(k, keys[i]);
        CU_ASSERT_STRING_EQUAL(field(&f, "lock", &present), "/l\"\\");
        CU_ASSERT_STRING_EQUAL(field(&f, "bucket", &present), "b\n");
        /* No raw control character may appear in the line itself. */
        for (const char *p = lines[i]; *p && *p != '\n'; p++)
            CU_ASSERT((unsigned char)*p >= 0x20 && *p != 0x7f);
        fields_free(&f);
    }
    free_lines(lines, n);
}

static void test_invalid_utf8(void)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"a\xff"
         "b",
         "a\xef\xbf\xbd"
         "b"},                                                    /* stray byte */
        {"\xc3", "\xef\xbf\xbd"},                                 /* truncated sequence */
        {"\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"},                 /* overlong '/' */
        {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* surrogate */
        {"\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* > U+10FFFF */
        {"\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf"}, /* U+10FFFF itself is fine */
    };
    zkp_audit_t *a = open_fresh();
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    size_t nc = sizeof(cases) / sizeof(cases[0]);
    for (size_t i = 0; i < nc; i++)
        zkp_audit_log(a, "l", 1, 0, 0, ZKP_VERDICT_ACCEPT_EQUAL, "b", cases[i].in, "put");
    zkp_audit_close(a);
    char **lines;
    size_t n = read_lines(logpath, &lines);
    CU_ASSERT_EQUAL_FATAL(n, nc);
    for (size_t i = 0; i < n; i++) {
        fields_t f;
        int present;
        CU_ASSERT_EQUAL_FATAL(parse_line(lines[i], &f), 0);
        CU_ASSERT_STRING_EQUAL(field(&f, "key", &present), cases[i].out);
        fields_free(&f);
    }
    free_lines(lines, n);
}

static void test_long_key(void)
{
    /* Larger than the on-stack line buffer, and escaped 6x. */
    size_t len = (size_t)64 * 1024;
    char *key = malloc(len + 1);
    for (size_t i = 0; i < len; i++)
        key[i] = i % 2 ? '\x01' : '"';
    key[len] = '\0';
    zkp_audit_t *a = open_fresh();
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    zkp_audit_log(a, "l", 1, 1, 1, ZKP_VERDICT_ACCEPT_EQUAL, "b", key, "put");
    zkp_audit_close(a);
    char **lines;
    size_t n = read_lines(logpath, &lines);
    CU_ASSERT_EQUAL_FATAL(n, 1);
    fields_t f;
    int present;
    CU_ASSERT_EQUAL_FATAL(parse_line(lines[0], &f), 0);
    CU_ASSERT_STRING_EQUAL(field(&f, "key", &present), key);
    fields_free(&f);
    free_lines(lines, n);
    free(key);
}

#define AUDIT_THREADS 8
#define AUDIT_LINES 400

static void *log_many(void *arg)
{
    zkp_audit_t *a = arg;
    char key[64];
    for (int i = 0; i < AUDIT_LINES; i++) {
        snprintf(key, sizeof(key), "thread-%d/%d", (int)gettid(), i);
        zkp_audit_log(a, "/locks/x", (uint64_t)i, 1, (uint64_t)i, ZKP_VERDICT_ACCEPT_EQUAL, "b",
                      key, "put");
    }
    return NULL;
}

static void test_concurrent_lines_whole(void)
{
    zkp_audit_t *a = open_fresh();
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    pthread_t t[AUDIT_THREADS];
    for (int i = 0; i < AUDIT_THREADS; i++)
        CU_ASSERT_EQUAL_FATAL(pthread_create(&t[i], NULL, log_many, a), 0);
    for (int i = 0; i < AUDIT_THREADS; i++)
        pthread_join(t[i], NULL);
    CU_ASSERT_EQUAL(zkp_audit_errors(a), 0);
    zkp_audit_close(a);
    char **lines;
    size_t n = read_lines(logpath, &lines);
    CU_ASSERT_EQUAL(n, (size_t)AUDIT_THREADS * AUDIT_LINES);
    size_t parsed = 0;
    for (size_t i = 0; i < n; i++) {
        fields_t f;
        parsed += parse_line(lines[i], &f) == 0;
        fields_free(&f);
    }
    CU_ASSERT_EQUAL(parsed, n);
    free_lines(lines, n);
}

static void test_open_errors_and_append(void)
{
    zkp_audit_t *a = NULL;
    char err[256] = "";
    CU_ASSERT_EQUAL(zkp_audit_open(NULL, &a, err, sizeof(err)), ZKP_FENCE_EINVAL);
    char path[400];
    ft_path(path, sizeof(path), dir, "no/such/dir/audit.log");
    CU_ASSERT_EQUAL(zkp_audit_open(path, &a, err, sizeof(err)), ZKP_FENCE_EIO);
    CU_ASSERT_PTR_NULL(a);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "no/such/dir"));
    zkp_audit_close(NULL);
    zkp_audit_log(NULL, "l", 1, 0, 0, ZKP_VERDICT_ACCEPT_HIGHER, "b", "k", "put");

    /* Appends across opens, and the file is not world-readable. */
    a = open_fresh();
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    zkp_audit_log(a, "l", 1, 0, 0, ZKP_VERDICT_ACCEPT_HIGHER, "b", "k", "put");
    zkp_audit_close(a);
    CU_ASSERT_EQUAL_FATAL(zkp_audit_open(logpath, &a, err, sizeof(err)), 0);
    zkp_audit_log(a, "l", 2, 1, 1, ZKP_VERDICT_ACCEPT_HIGHER, "b", "k", "put");

    /* Rotation: move the file away, reopen, the next line goes to a new file. */
    char rotated[400];
    ft_path(rotated, sizeof(rotated), dir, "audit.log.1");
    CU_ASSERT_EQUAL(rename(logpath, rotated), 0);
    CU_ASSERT_EQUAL(zkp_audit_reopen(a), 0);
    zkp_audit_log(a, "l", 3, 1, 2, ZKP_VERDICT_ACCEPT_HIGHER, "b", "k", "put");
    zkp_audit_close(a);
    char **lines;
    size_t n = read_lines(rotated, &lines);
    CU_ASSERT_EQUAL(n, 2);
    free_lines(lines, n);
    n = read_lines(logpath, &lines);
    CU_ASSERT_EQUAL(n, 1);
    free_lines(lines, n);
    struct stat st;
    CU_ASSERT_EQUAL(stat(logpath, &st), 0);
    CU_ASSERT_EQUAL(st.st_mode & 0007, 0);
}

/* A file never makes a write wait; a pipe (standard error redirected to
 * one, as under a supervisor) may: the proxy then writes no audit line
 * from its event loops. */
static void test_never_waits(void)
{
    CU_ASSERT_EQUAL(zkp_audit_never_waits(NULL), 1);
    zkp_audit_t *a = open_fresh();
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_EQUAL(zkp_audit_never_waits(a), 1);
    CU_ASSERT_EQUAL(zkp_audit_reopen(a), 0);
    CU_ASSERT_EQUAL(zkp_audit_never_waits(a), 1);
    zkp_audit_close(a);
    fflush(stderr);
    int saved = dup(2), p[2];
    CU_ASSERT_FATAL(saved >= 0);
    CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
    CU_ASSERT_EQUAL_FATAL(dup2(p[1], 2), 2);
    char err[256];
    CU_ASSERT_EQUAL(zkp_audit_open("-", &a, err, sizeof(err)), 0);
    int waits = zkp_audit_never_waits(a);
    zkp_audit_close(a);
    dup2(saved, 2);
    close(saved);
    close(p[0]);
    close(p[1]);
    CU_ASSERT_EQUAL(waits, 0);
    /* standard error redirected to a file: a file */
    int fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    CU_ASSERT_FATAL(fd >= 0);
    saved = dup(2);
    dup2(fd, 2);
    CU_ASSERT_EQUAL(zkp_audit_open("-", &a, err, sizeof(err)), 0);
    waits = zkp_audit_never_waits(a);
    zkp_audit_close(a);
    dup2(saved, 2);
    close(saved);
    close(fd);
    CU_ASSERT_EQUAL(waits, 1);
}

static void test_stderr(void)
{
    /* "-" writes to fd 2 and close() leaves fd 2 open. Redirect fd 2 to a
     * file for the duration, to look at what was written. */
    fflush(stderr);
    int saved = dup(2);
    CU_ASSERT_FATAL(saved >= 0);
    unlink(logpath);
    int fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CU_ASSERT_FATAL(fd >= 0);
    dup2(fd, 2);
    close(fd);
    zkp_audit_t *a = NULL;
    int rc = zkp_audit_open("-", &a, NULL, 0);
    zkp_audit_log(a, "l", 5, 0, 0, ZKP_VERDICT_ACCEPT_HIGHER, "b", "k", "put");
    CU_ASSERT_EQUAL(zkp_audit_reopen(a), 0);
    zkp_audit_close(a);
    int still_open = write(2, "", 0) == 0;
    dup2(saved, 2);
    close(saved);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT(still_open);
    char **lines;
    size_t n = read_lines(logpath, &lines);
    CU_ASSERT_EQUAL_FATAL(n, 1);
    fields_t f;
    int present;
    CU_ASSERT_EQUAL(parse_line(lines[0], &f), 0);
    CU_ASSERT_STRING_EQUAL(field(&f, "token", &present), "5");
    fields_free(&f);
    free_lines(lines, n);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("fence_audit", setup, teardown);
    CU_add_test(s, "fields of a line", test_line_fields);
    CU_add_test(s, "refusals without a token", test_no_token_lines);
    CU_add_test(s, "mark repairs", test_repair_lines);
    CU_add_test(s, "RFC 3339 UTC time with ms", test_time_format);
    CU_add_test(s, "JSON escaping round trip", test_escaping);
    CU_add_test(s, "invalid UTF-8 becomes U+FFFD", test_invalid_utf8);
    CU_add_test(s, "long key", test_long_key);
    CU_add_test(s, "concurrent lines stay whole", test_concurrent_lines_whole);
    CU_add_test(s, "open errors, append, reopen after rotation", test_open_errors_and_append);
    CU_add_test(s, "standard error", test_stderr);
    CU_add_test(s, "never waits: a file, not a pipe", test_never_waits);
    return ft_run_suite();
}
