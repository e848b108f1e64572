/* Locks bound to keys: the table of bindings, the key escaping, lookups
 * both ways (bind.h says what each means). */
#include "bind.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fence.h"

enum part_kind { P_LIT, P_BUCKET, P_KEY };

/* One path component of a binding's value. */
typedef struct part {
    enum part_kind kind;
    const char *text; /* P_LIT: points into the binding's value */
    size_t len;
} part_t;

struct zkp_bind {
    char *spec;  /* "seats/rows/" */
    char *value; /* "/locks/{bucket}/{key}" */
    char bucket[ZKP_BIND_BUCKET_MAX + 1];
    const char *prefix; /* points into spec; "" for the whole bucket */
    size_t prefix_len;
    part_t *parts;
    size_t nparts;
    int key_at;     /* index of the {key} part, or -1 */
    int has_bucket; /* a {bucket} part */
};

struct zkp_binds {
    zkp_bind_t **v;
    size_t n, cap;
};

__attribute__((format(printf, 3, 4))) static int errf(char *err, size_t errlen, const char *fmt,
                                                      ...)
{
    if (err != NULL && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* ---------------------------------------------------------- output */

typedef struct out {
    char *p;
    size_t len, cap;
    int overflow;
} out_t;

static void put(out_t *o, const char *s, size_t n)
{
    if (o->overflow || n >= o->cap - o->len) {
        o->overflow = 1;
        return;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
    o->p[o->len] = '\0';
}

static void put_hex(out_t *o, unsigned char c)
{
    static const char hex[] = "0123456789ABCDEF";
    char e[3] = {'%', hex[c >> 4], hex[c & 15]};
    put(o, e, 3);
}

/* ---------------------------------------------------------- escaping */

static int unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

static void escape_component(out_t *o, const char *s, size_t n)
{
    if (n == 0) {
        put(o, "%", 1); /* the empty component: the only lone '%' */
        return;
    }
    int all_dots = (n == 1 || n == 2) && s[0] == '.' && s[n - 1] == '.';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved(c) && !all_dots)
            put(o, (const char *)&s[i], 1);
        else
            put_hex(o, c);
    }
}

static void escape_into(out_t *o, const char *key, size_t len)
{
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && key[i] != '/')
            continue;
        if (start > 0)
            put(o, "/", 1);
        escape_component(o, key + start, i - start);
        start = i + 1;
    }
}

int zkp_bind_escape(const char *key, size_t len, char *out, size_t cap)
{
    if (out == NULL || cap == 0)
        return -1;
    out_t o = {out, 0, cap, 0};
    out[0] = '\0';
    escape_into(&o, key, len);
    return o.overflow ? -1 : (int)o.len;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1; /* lowercase hex is not what escaping writes */
}

/* Whether escape_component(d[0..dn)) is exactly s[0..n). */
static int escapes_to(const char *d, size_t dn, const char *s, size_t n)
{
    if (dn == 0)
        return n == 1 && s[0] == '%';
    char e[8];
    size_t pos = 0;
    int all_dots = (dn == 1 || dn == 2) && d[0] == '.' && d[dn - 1] == '.';
    for (size_t i = 0; i < dn; i++) {
        out_t o = {e, 0, sizeof(e), 0}; /* one byte's escape at a time */
        unsigned char c = (unsigned char)d[i];
        if (unreserved(c) && !all_dots)
            put(&o, &d[i], 1);
        else
            put_hex(&o, c);
        if (pos + o.len > n || memcmp(s + pos, e, o.len) != 0)
            return 0;
        pos += o.len;
    }
    return pos == n;
}

/* Decodes one escaped component into o; -1 unless it is exactly what
 * escape_component gives for what it decodes to (one spelling each). */
static int unescape_component(out_t *o, const char *s, size_t n)
{
    if (n == 1 && s[0] == '%')
        return 0; /* the empty component */
    size_t start = o->len;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            put(o, &s[i], 1);
            continue;
        }
        int hi = i + 2 < n ? hex_value(s[i + 1]) : -1;
        int lo = hi >= 0 ? hex_value(s[i + 2]) : -1;
        if (lo < 0)
            return -1;
        char c = (char)(hi * 16 + lo);
        put(o, &c, 1);
        i += 2;
    }
    if (o->overflow)
        return -1;
    return escapes_to(o->p + start, o->len - start, s, n) ? 0 : -1;
}

int zkp_bind_unescape(const char *s, size_t len, char *out, size_t cap)
{
    if (out == NULL || cap == 0)
        return -1;
    out_t o = {out, 0, cap, 0};
    out[0] = '\0';
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != '/')
            continue;
        if (i == start)
            return -1; /* an escaped component is never empty */
        if (start > 0)
            put(&o, "/", 1);
        if (unescape_component(&o, s + start, i - start) != 0)
            return -1;
        start = i + 1;
    }
    return o.overflow ? -1 : (int)o.len;
}

/* ---------------------------------------------------------- the table */

zkp_binds_t *zkp_binds_new(void)
{
    return calloc(1, sizeof(zkp_binds_t));
}

static void bind_free(zkp_bind_t *bd)
{
    if (bd == NULL)
        return;
    free(bd->spec);
    free(bd->value);
    free(bd->parts);
    free(bd);
}

void zkp_binds_free(zkp_binds_t *b)
{
    if (b == NULL)
        return;
    for (size_t i = 0; i < b->n; i++)
        bind_free(b->v[i]);
    free(b->v);
    free(b);
}

size_t zkp_binds_count(const zkp_binds_t *b)
{
    return b ? b->n : 0;
}

/* Splits the value into its components; placeholders must be whole. */
static int parse_value(zkp_bind_t *bd, char *err, size_t errlen)
{
    const char *v = bd->value;
    size_t len = strlen(v);
    if (len == 0 || v[0] != '/')
        return errf(err, errlen,
                    "'%.200s': a lock is an absolute ZooKeeper path (starting with '/')", v);
    /* One part per '/' after the first, plus the last: at most len (empty
     * parts are counted here and refused below, "//" included). */
    size_t max = len;
    bd->parts = calloc(max, sizeof(part_t));
    if (bd->parts == NULL)
        return errf(err, errlen, "out of memory");
    bd->key_at = -1;
    size_t start = 1;
    for (size_t i = 1; i <= len; i++) {
        if (i < len && v[i] != '/')
            continue;
        part_t *p = &bd->parts[bd->nparts];
        p->text = v + start;
        p->len = i - start;
        int brace = memchr(p->text, '{', p->len) || memchr(p->text, '}', p->len);
        if (brace && p->len == 8 && memcmp(p->text, "{bucket}", 8) == 0) {
            if (bd->has_bucket)
                return errf(err, errlen, "'%.200s': {bucket} appears twice", v);
            p->kind = P_BUCKET;
            bd->has_bucket = 1;
        } else if (brace && p->len == 5 && memcmp(p->text, "{key}", 5) == 0) {
            if (bd->key_at >= 0)
                return errf(err, errlen, "'%.200s': {key} appears twice", v);
            p->kind = P_KEY;
            bd->key_at = (int)bd->nparts;
        } else if (brace) {
            return errf(
                err, errlen,
                "'%.200s': '%.*s' is not a placeholder: {bucket} and {key} are the only ones, "
                "each a whole path component; '{' and '}' appear nowhere else",
                v, (int)p->len, p->text);
        }
        bd->nparts++;
        start = i + 1;
    }
    /* The literal parts follow the lock-name rules: check the shape with
     * each placeholder standing for one plain component (without any,
     * this is the value itself). */
    char probe[ZKP_LOCK_NAME_MAX + 2];
    out_t o = {probe, 0, sizeof(probe), 0};
    probe[0] = '\0';
    for (size_t i = 0; i < bd->nparts; i++) {
        put(&o, "/", 1);
        if (bd->parts[i].kind == P_LIT)
            put(&o, bd->parts[i].text, bd->parts[i].len);
        else
            put(&o, "x", 1);
    }
    const char *problem = o.overflow ? "The fencing lock must be at most 1024 bytes long"
                                     : zkp_lock_name_problem(probe, o.len);
    if (problem != NULL)
        return errf(err, errlen, "'%.200s': %s", v, problem);
    return 0;
}

/* "seats" or "seats/rows/" -> bucket and prefix. */
static int parse_spec(zkp_bind_t *bd, char *err, size_t errlen)
{
    const char *slash = strchr(bd->spec, '/');
    size_t blen = slash ? (size_t)(slash - bd->spec) : strlen(bd->spec);
    if (blen == 0 || blen > ZKP_BIND_BUCKET_MAX)
        return errf(err, errlen, "bind.%s: expected bind.BUCKET or bind.BUCKET/KEY-PREFIX",
                    bd->spec);
    memcpy(bd->bucket, bd->spec, blen);
    bd->bucket[blen] = '\0';
    bd->prefix = slash ? slash + 1 : "";
    bd->prefix_len = strlen(bd->prefix);
    if (slash != NULL && bd->prefix_len == 0)
        return errf(err, errlen,
                    "bind.%s: the key prefix after '/' is empty (bind.%s binds the whole bucket)",
                    bd->spec, bd->bucket);
    return 0;
}

int zkp_binds_add(zkp_binds_t *b, const char *spec, const char *value, char *err, size_t errlen)
{
    if (b == NULL || spec == NULL || value == NULL)
        return errf(err, errlen, "bind: missing argument");
    for (size_t i = 0; i < b->n; i++)
        if (strcmp(b->v[i]->spec, spec) == 0)
            return errf(err, errlen, "bind.%s: bound twice (a key has one lock)", spec);
    zkp_bind_t *bd = calloc(1, sizeof(*bd));
    if (bd == NULL || (bd->spec = strdup(spec)) == NULL || (bd->value = strdup(value)) == NULL) {
        bind_free(bd);
        return errf(err, errlen, "out of memory");
    }
    char why[600];
    if (parse_spec(bd, err, errlen) != 0) {
        bind_free(bd);
        return -1;
    }
    if (parse_value(bd, why, sizeof(why)) != 0) {
        errf(err, errlen, "bind.%s: %s", spec, why);
        bind_free(bd);
        return -1;
    }
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 8;
        zkp_bind_t **v = realloc(b->v, cap * sizeof(*v));
        if (v == NULL) {
            bind_free(bd);
            return errf(err, errlen, "out of memory");
        }
        b->v = v;
        b->cap = cap;
    }
    b->v[b->n++] = bd;
    return 0;
}

int zkp_binds_has_bucket(const zkp_binds_t *b, const char *bucket)
{
    for (size_t i = 0; b != NULL && i < b->n; i++)
        if (strcmp(b->v[i]->bucket, bucket) == 0)
            return 1;
    return 0;
}

const zkp_bind_t *zkp_binds_lookup(const zkp_binds_t *b, const char *bucket, const char *key,
                                   size_t key_len)
{
    const zkp_bind_t *best = NULL;
    for (size_t i = 0; b != NULL && i < b->n; i++) {
        const zkp_bind_t *bd = b->v[i];
        if (strcmp(bd->bucket, bucket) != 0)
            continue;
        if (key == NULL ? bd->prefix_len != 0
                        : bd->prefix_len > key_len || memcmp(bd->prefix, key, bd->prefix_len) != 0)
            continue;
        if (best == NULL || bd->prefix_len > best->prefix_len)
            best = bd;
    }
    return best;
}

int zkp_bind_lock(const zkp_bind_t *bd, const char *bucket, const char *key, size_t key_len,
                  char *out, size_t cap)
{
    if (bd->key_at >= 0 && key == NULL)
        return -1;
    size_t limit = cap < ZKP_LOCK_NAME_MAX + 1 ? cap : ZKP_LOCK_NAME_MAX + 1;
    out_t o = {out, 0, limit, 0};
    out[0] = '\0';
    for (size_t i = 0; i < bd->nparts; i++) {
        const part_t *p = &bd->parts[i];
        put(&o, "/", 1);
        if (p->kind == P_LIT)
            put(&o, p->text, p->len);
        else if (p->kind == P_BUCKET)
            escape_component(&o, bucket, strlen(bucket));
        else
            escape_into(&o, key, key_len);
    }
    return o.overflow ? -2 : (int)o.len;
}

int zkp_binds_lock_for(const zkp_binds_t *b, const char *bucket, const char *key, size_t key_len,
                       char *out, size_t cap, const zkp_bind_t **which)
{
    const zkp_bind_t *bd = zkp_binds_lookup(b, bucket, key, key_len);
    if (which != NULL)
        *which = bd;
    if (bd == NULL)
        return 0;
    int n = zkp_bind_lock(bd, bucket, key, key_len, out, cap);
    return n < 0 ? n : 1;
}

/* A lock's path components (after the leading '/'). */
typedef struct comps {
    const char *p[ZKP_LOCK_NAME_MAX / 2 + 1];
    size_t len[ZKP_LOCK_NAME_MAX / 2 + 1];
    size_t n;
} comps_t;

/* Splits a canonical lock name; -1 for anything else. */
static int split(const char *lock, comps_t *c)
{
    size_t llen = strlen(lock);
    if (!zkp_lock_name_valid(lock, llen))
        return -1;
    c->n = 0;
    size_t start = 1;
    for (size_t i = 1; i <= llen; i++) {
        if (i < llen && lock[i] != '/')
            continue;
        c->p[c->n] = lock + start;
        c->len[c->n] = i - start;
        c->n++;
        start = i + 1;
    }
    return 0;
}

static int part_matches(const zkp_bind_t *bd, const part_t *p, const char *s, size_t n)
{
    /* {bucket} stands in the lock escaped, as the forward direction writes
     * it (a bucket of dots, or of bytes outside the unreserved set). */
    if (p->kind != P_LIT)
        return escapes_to(bd->bucket, strlen(bd->bucket), s, n);
    return n == p->len && memcmp(s, p->text, n) == 0;
}

/* Whether bd gives the lock split in c to a key it governs: literal parts
 * and {bucket} take one component each, {key} the components between. */
static int gives(const zkp_binds_t *b, const zkp_bind_t *bd, const char *lock, const comps_t *c)
{
    if (bd->key_at < 0 && !bd->has_bucket)
        return strcmp(lock, bd->value) == 0;
    size_t head = bd->key_at < 0 ? bd->nparts : (size_t)bd->key_at;
    size_t tail = bd->key_at < 0 ? 0 : bd->nparts - head - 1;
    if (bd->key_at < 0 ? c->n != bd->nparts : c->n < bd->nparts)
        return 0;
    for (size_t i = 0; i < head; i++)
        if (!part_matches(bd, &bd->parts[i], c->p[i], c->len[i]))
            return 0;
    for (size_t i = 0; i < tail; i++) {
        size_t ci = c->n - tail + i;
        if (!part_matches(bd, &bd->parts[head + 1 + i], c->p[ci], c->len[ci]))
            return 0;
    }
    if (bd->key_at < 0)
        return 1;
    /* The key's escaped components lie together in the lock. */
    const char *from = c->p[head];
    size_t last = c->n - tail - 1;
    size_t span = (size_t)(c->p[last] + c->len[last] - from);
    char key[ZKP_LOCK_NAME_MAX + 1];
    int klen = zkp_bind_unescape(from, span, key, sizeof(key));
    if (klen < 0) /* 0 is the empty key ("%"), which the forward way gives */
        return 0;
    return zkp_binds_lookup(b, bd->bucket, key, (size_t)klen) == bd;
}

const zkp_bind_t *zkp_binds_owner(const zkp_binds_t *b, const char *lock, const char *bucket,
                                  char *bucket_out)
{
    comps_t *c = b != NULL && lock != NULL && b->n > 0 ? malloc(sizeof(*c)) : NULL;
    if (c == NULL || split(lock, c) != 0) {
        free(c);
        return NULL;
    }
    for (size_t i = 0; i < b->n; i++) {
        const zkp_bind_t *bd = b->v[i];
        if (bucket != NULL && strcmp(bd->bucket, bucket) != 0)
            continue;
        if (!gives(b, bd, lock, c))
            continue;
        free(c);
        if (bucket_out != NULL)
            memcpy(bucket_out, bd->bucket, strlen(bd->bucket) + 1);
        return bd;
    }
    free(c);
    return NULL;
}

const char *zkp_bind_spec(const zkp_bind_t *bd)
{
    return bd->spec;
}

const char *zkp_bind_value(const zkp_bind_t *bd)
{
    return bd->value;
}

int zkp_bind_per_key(const zkp_bind_t *bd)
{
    return bd->key_at >= 0;
}
