#include "util/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/textutil.h"

void zkp_config_defaults(zkp_config_t *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->listen_host, sizeof(c->listen_host), "127.0.0.1");
    c->listen_port = 9000;
    snprintf(c->backend, sizeof(c->backend), "%s", ZKP_BACKEND_DEFAULT);
    c->data_dir = strdup("./zkfence-data");
    c->max_body_bytes = 5ULL << 30; /* S3's single-PUT limit */
    c->max_key_bytes = 1024;
    c->max_header_bytes = 16384;
    c->connection_timeout_s = 30;
    c->threads = 64;
    c->io_threads = 0;
    c->max_connections = 1024;
    c->max_connections_per_ip = 256;
    c->request_head_timeout_s = 10;
    c->auth = 1;
    snprintf(c->region, sizeof(c->region), "%s", ZKP_REGION_DEFAULT);
    snprintf(c->domains[0], sizeof(c->domains[0]), "localhost");
    c->ndomains = 1;
    c->object_fsync = 1;
    c->fencing_required_default = 1;
    c->shutdown_grace_s = 30;
    c->verify = ZKP_VERIFY_UNSET;
    c->multipart_max_age_s = 7 * 86400; /* a week, as S3 lifecycle rules often say */
    snprintf(c->s3.region, sizeof(c->s3.region), "us-east-1");
    c->s3.timeout_s = 30;
    c->s3.connect_timeout_s = 5;
}

void zkp_config_free(zkp_config_t *c)
{
    free(c->data_dir);
    free(c->audit_log);
    free(c->marks_db);
    free(c->zk);
    free(c->zk_chroot);
    free(c->tls_cert);
    free(c->tls_key);
    free(c->credentials);
    free(c->buckets);
    for (size_t i = 0; i < c->nbinds; i++) {
        free(c->binds[i].spec);
        free(c->binds[i].value);
    }
    free(c->binds);
    free(c->s3.maps);
    memset(c, 0, sizeof(*c));
}

static char *dup_or_null(const char *s, int *oom)
{
    if (s == NULL)
        return NULL;
    char *d = strdup(s);
    if (d == NULL)
        *oom = 1;
    return d;
}

static void *dup_array(const void *src, size_t n, size_t size, int *oom)
{
    if (n == 0)
        return NULL;
    void *d = malloc(n * size);
    if (d == NULL)
        *oom = 1;
    else
        memcpy(d, src, n * size);
    return d;
}

int zkp_config_copy(zkp_config_t *dst, const zkp_config_t *src)
{
    int oom = 0;
    *dst = *src;
    dst->data_dir = dup_or_null(src->data_dir, &oom);
    dst->audit_log = dup_or_null(src->audit_log, &oom);
    dst->marks_db = dup_or_null(src->marks_db, &oom);
    dst->tls_cert = dup_or_null(src->tls_cert, &oom);
    dst->tls_key = dup_or_null(src->tls_key, &oom);
    dst->credentials = dup_or_null(src->credentials, &oom);
    dst->buckets = dup_array(src->buckets, src->nbuckets, sizeof(*src->buckets), &oom);
    dst->s3.maps = dup_array(src->s3.maps, src->s3.nmaps, sizeof(*src->s3.maps), &oom);
    dst->zk = dup_or_null(src->zk, &oom);
    dst->zk_chroot = dup_or_null(src->zk_chroot, &oom);
    /* The bind lines own their strings: copied one by one, and counted as
     * they are, so that zkp_config_free(dst) frees exactly what exists. */
    dst->binds = NULL;
    dst->nbinds = 0;
    if (src->nbinds > 0) {
        dst->binds = calloc(src->nbinds, sizeof(*dst->binds));
        oom |= dst->binds == NULL;
        for (size_t i = 0; dst->binds != NULL && i < src->nbinds; i++, dst->nbinds++) {
            dst->binds[i] = src->binds[i];
            dst->binds[i].spec = dup_or_null(src->binds[i].spec, &oom);
            dst->binds[i].value = dup_or_null(src->binds[i].value, &oom);
        }
    }
    return oom ? -1 : 0;
}

const zkp_s3_map_t *zkp_config_s3_map(const zkp_config_t *c, const char *bucket)
{
    for (size_t i = 0; i < c->s3.nmaps; i++)
        if (strcmp(c->s3.maps[i].bucket, bucket) == 0)
            return &c->s3.maps[i];
    return NULL;
}

__attribute__((format(printf, 3, 4))) static int errf(char *err, size_t errlen, const char *fmt,
                                                      ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static int parse_u64(const char *v, uint64_t max, uint64_t *out)
{
    if (!isdigit((unsigned char)v[0]))
        return -1;
    errno = 0;
    char *end;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno != 0)
        return -1;
    unsigned shift = 0;
    if (*end == 'K' || *end == 'k')
        shift = 10;
    else if (*end == 'M' || *end == 'm')
        shift = 20;
    else if (*end == 'G' || *end == 'g')
        shift = 30;
    if (shift > 0)
        end++;
    if (*end != '\0' || (shift > 0 && n > (UINT64_MAX >> shift)))
        return -1;
    n <<= shift;
    if (n > max)
        return -1;
    *out = n;
    return 0;
}

static int parse_bool(const char *v, int *out)
{
    if (!strcmp(v, "on") || !strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "1"))
        *out = 1;
    else if (!strcmp(v, "off") || !strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "0"))
        *out = 0;
    else
        return -1;
    return 0;
}

/* "ADDR:PORT" into host and port. */
static int parse_addr(const char *key, const char *v, char host_out[64], unsigned *port_out,
                      char *err, size_t errlen)
{
    const char *colon = strrchr(v, ':');
    if (colon == NULL || (size_t)(colon - v) >= 64)
        return errf(err, errlen, "%s: expected ADDR:PORT, got '%s'", key, v);
    char host[64];
    memcpy(host, v, (size_t)(colon - v));
    host[colon - v] = '\0';
    struct in_addr a;
    if (inet_pton(AF_INET, host, &a) != 1)
        return errf(err, errlen, "%s: '%s' is not an IPv4 address", key, host);
    uint64_t port;
    if (parse_u64(colon + 1, 65535, &port) != 0)
        return errf(err, errlen, "%s: bad port '%s'", key, colon + 1);
    memcpy(host_out, host, sizeof(host));
    *port_out = (unsigned)port;
    return 0;
}

static int parse_listen(zkp_config_t *c, const char *v, char *err, size_t errlen)
{
    if (strcmp(v, "off") == 0) { /* TLS only */
        c->listen_host[0] = '\0';
        c->listen_port = 0;
        return 0;
    }
    return parse_addr("listen", v, c->listen_host, &c->listen_port, err, errlen);
}

static int set_string(char **slot, const char *v)
{
    char *s = strdup(v);
    if (s == NULL)
        return -1;
    free(*slot);
    *slot = s;
    return 0;
}

static int parse_fencing(const char *v, int *required)
{
    if (strcmp(v, "required") == 0)
        *required = 1;
    else if (strcmp(v, "optional") == 0)
        *required = 0;
    else
        return -1;
    return 0;
}

/* bucket.<name>.fencing = required|optional */
static int set_bucket(zkp_config_t *c, const char *key, const char *v, char *err, size_t errlen)
{
    const char *name = key + strlen("bucket.");
    const char *dot = strrchr(name, '.');
    if (dot == NULL || strcmp(dot, ".fencing") != 0)
        return errf(err, errlen, "unknown key '%s' (expected bucket.<name>.fencing)", key);
    size_t len = (size_t)(dot - name);
    if (!zkp_bucket_name_valid(name, len))
        return errf(err, errlen, "'%s': not a valid S3 bucket name", key);
    int required;
    if (parse_fencing(v, &required) != 0)
        return errf(err, errlen, "%s: expected required or optional", key);
    for (size_t i = 0; i < c->nbuckets; i++)
        if (strlen(c->buckets[i].name) == len && !memcmp(c->buckets[i].name, name, len)) {
            c->buckets[i].fencing_required = required;
            return 0;
        }
    zkp_bucket_policy_t *b = realloc(c->buckets, (c->nbuckets + 1) * sizeof(*b));
    if (b == NULL)
        return errf(err, errlen, "%s: out of memory", key);
    c->buckets = b;
    memcpy(b[c->nbuckets].name, name, len);
    b[c->nbuckets].name[len] = '\0';
    b[c->nbuckets].fencing_required = required;
    c->nbuckets++;
    return 0;
}

/* bind.<bucket>[/<key prefix>] = <lock or template>: kept as written, with
 * where it was written; the bucket is checked here so that a typo in it is
 * reported with the line (fence/bind.c checks the rest when the proxy
 * builds its table). */
static int set_bind(zkp_config_t *c, const char *key, const char *v, const char *origin, char *err,
                    size_t errlen)
{
    const char *spec = key + strlen("bind.");
    size_t blen = strcspn(spec, "/");
    if (!zkp_bucket_name_valid(spec, blen))
        return errf(err, errlen, "'%s': '%.*s' is not a valid S3 bucket name", key, (int)blen,
                    spec);
    if (*v == '\0')
        return errf(err, errlen, "%s: empty lock", key);
    zkp_bind_line_t *b = realloc(c->binds, (c->nbinds + 1) * sizeof(*b));
    if (b == NULL)
        return errf(err, errlen, "%s: out of memory", key);
    c->binds = b;
    b = &c->binds[c->nbinds];
    memset(b, 0, sizeof(*b));
    b->spec = strdup(spec);
    b->value = strdup(v);
    snprintf(b->origin, sizeof(b->origin), "%s", origin ? origin : key);
    if (b->spec == NULL || b->value == NULL) {
        free(b->spec);
        free(b->value);
        return errf(err, errlen, "%s: out of memory", key);
    }
    c->nbinds++;
    return 0;
}

/* A duration: decimal seconds, or with a unit s, m, h or d; at most ten
 * years. */
static int parse_duration(const char *v, uint64_t *out)
{
    if (!isdigit((unsigned char)v[0]))
        return -1;
    errno = 0;
    char *end;
    unsigned long long n = strtoull(v, &end, 10);
    uint64_t unit = 1;
    if (*end == 'm')
        unit = 60;
    else if (*end == 'h')
        unit = 3600;
    else if (*end == 'd')
        unit = 86400;
    if (*end == 's' || unit > 1)
        end++;
    if (errno != 0 || *end != '\0' || n > 3650ull * 86400 / unit)
        return -1;
    *out = n * unit;
    return 0;
}

/* `domain = NAME[, NAME...]` (or `off`: none): lower-case host names of
 * [a-z0-9.-], labels not empty. */
static int set_domains(zkp_config_t *c, const char *v, char *err, size_t errlen)
{
    c->ndomains = 0;
    if (strcmp(v, "off") == 0)
        return 0;
    const char *p = v;
    while (*p != '\0') {
        while (*p == ' ' || *p == ',')
            p++;
        size_t n = strcspn(p, " ,");
        if (n == 0)
            break;
        int ok = n <= ZKP_DOMAIN_MAX && p[0] != '.' && p[n - 1] != '.';
        for (size_t i = 0; ok && i < n; i++)
            ok = (p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9') || p[i] == '-' ||
                 (p[i] == '.' && p[i + 1] != '.');
        if (!ok)
            return errf(err, errlen,
                        "domain: expected host names of [a-z0-9.-] (lower case), or off, got "
                        "'%.*s'",
                        (int)(n > 300 ? 300 : n), p);
        if (c->ndomains == ZKP_DOMAINS_MAX)
            return errf(err, errlen, "domain: at most %d names", ZKP_DOMAINS_MAX);
        memcpy(c->domains[c->ndomains], p, n);
        c->domains[c->ndomains++][n] = '\0';
        p += n;
    }
    return 0;
}

typedef enum { T_SIZE, T_UINT, T_BOOL } kind_t;

/* The numeric and boolean keys, with their bounds. */
static int set_simple(zkp_config_t *c, const char *key, const char *v, char *err, size_t errlen)
{
    uint64_t n = 0;
    int b = 0;
    struct {
        const char *key;
        kind_t kind;
        uint64_t min, max;
    } keys[] = {
        {"max_body_bytes", T_SIZE, 0, UINT64_MAX >> 1},
        {"max_key_bytes", T_SIZE, 1, 1024},
        {"max_header_bytes", T_SIZE, 1024, 1 << 20},
        {"connection_timeout_s", T_UINT, 1, 86400},
        {"threads", T_UINT, 1, 4096},
        {"group_commit_max_batch", T_UINT, 0, 100000},
        {"group_commit_max_wait_us", T_UINT, 0, 1000000},
        {"shutdown_grace_s", T_UINT, 0, 3600},
        {"object_fsync", T_BOOL, 0, 1},
        {"debug_fault_endpoint", T_BOOL, 0, 1},
        {"io_threads", T_UINT, 0, 256},
        {"max_connections", T_UINT, 1, 65536},
        {"max_connections_per_ip", T_UINT, 0, 65536},
        {"request_head_timeout_s", T_UINT, 1, 3600},
        {"auth", T_BOOL, 0, 1},
        {"allow_insecure_http", T_BOOL, 0, 1},
        {"zk_session_timeout_ms", T_UINT, 1000, 600000},
    };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (strcmp(key, keys[i].key) != 0)
            continue;
        if (keys[i].kind == T_BOOL) {
            if (parse_bool(v, &b) != 0)
                return errf(err, errlen, "%s: expected on or off", key);
            n = (uint64_t)b;
        } else if (parse_u64(v, keys[i].max, &n) != 0 || n < keys[i].min) {
            snprintf(err, errlen, "%s: expected a number in %llu..%llu, got '%s'", key,
                     (unsigned long long)keys[i].min, (unsigned long long)keys[i].max, v);
            return -1;
        }
        switch (i) {
        case 0:
            c->max_body_bytes = n;
            break;
        case 1:
            c->max_key_bytes = (size_t)n;
            break;
        case 2:
            c->max_header_bytes = (size_t)n;
            break;
        case 3:
            c->connection_timeout_s = (unsigned)n;
            break;
        case 4:
            c->threads = (unsigned)n;
            break;
        case 5:
            c->group_commit_max_batch = (int)n;
            break;
        case 6:
            c->group_commit_max_wait_us = (int)n;
            break;
        case 7:
            c->shutdown_grace_s = (int)n;
            break;
        case 8:
            c->object_fsync = (int)n;
            break;
        case 9:
            c->debug_fault_endpoint = (int)n;
            break;
        case 10:
            c->io_threads = (unsigned)n;
            break;
        case 11:
            c->max_connections = (unsigned)n;
            break;
        case 12:
            c->max_connections_per_ip = (unsigned)n;
            break;
        case 13:
            c->request_head_timeout_s = (unsigned)n;
            break;
        case 14:
            c->auth = (int)n;
            break;
        case 15:
            c->allow_insecure_http = (int)n;
            break;
        default:
            c->zk_session_timeout_ms = (unsigned)n;
            break;
        }
        return 0;
    }
    return 1; /* not a simple key */
}

/* The names backend/registry.c can open. Checked here, so that a wrong one
 * is reported with the file and line, before anything starts. */
static const char *const backends[] = {"fs", "s3"};

static int set_backend(zkp_config_t *c, const char *v, char *err, size_t errlen)
{
    for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
        if (strcmp(v, backends[i]) == 0) {
            snprintf(c->backend, sizeof(c->backend), "%s", v);
            return 0;
        }
    return errf(err, errlen,
                "backend: unknown backend '%s' (expected fs: local files, or s3: an upstream "
                "S3-compatible endpoint)",
                v);
}

/* s3.bucket.NAME = UPSTREAM[/PREFIX] */
static int set_s3_map(zkp_s3_config_t *s3, const char *key, const char *v, char *err, size_t errlen)
{
    const char *name = key + strlen("s3.bucket.");
    if (!zkp_bucket_name_valid(name, strlen(name)))
        return errf(err, errlen, "'%s': '%s' is not a valid S3 bucket name", key, name);
    size_t ulen = strcspn(v, "/");
    if (!zkp_bucket_name_valid(v, ulen))
        return errf(err, errlen, "%s: expected UPSTREAM-BUCKET[/PREFIX], got '%s'", key, v);
    const char *prefix = v[ulen] == '/' ? v + ulen + 1 : "";
    if (strlen(prefix) >= sizeof(s3->maps[0].prefix) || !zkp_utf8_valid(prefix, strlen(prefix)))
        return errf(err, errlen, "%s: the prefix must be UTF-8 of at most 1023 bytes", key);
    zkp_s3_map_t *m = NULL;
    for (size_t i = 0; i < s3->nmaps; i++)
        if (strcmp(s3->maps[i].bucket, name) == 0)
            m = &s3->maps[i];
    if (m == NULL) {
        zkp_s3_map_t *t = realloc(s3->maps, (s3->nmaps + 1) * sizeof(*t));
        if (t == NULL)
            return errf(err, errlen, "%s: out of memory", key);
        s3->maps = t;
        m = &t[s3->nmaps++];
    }
    snprintf(m->bucket, sizeof(m->bucket), "%s", name);
    snprintf(m->upstream, sizeof(m->upstream), "%.*s", (int)ulen, v);
    snprintf(m->prefix, sizeof(m->prefix), "%s", prefix);
    return 0;
}

static int set_s3_string(char *slot, size_t cap, const char *key, const char *v, char *err,
                         size_t errlen)
{
    if (strlen(v) >= cap)
        return errf(err, errlen, "%s: longer than %zu bytes", key, cap - 1);
    snprintf(slot, cap, "%s", v);
    return 0;
}

/* The s3.* keys (backend = s3). Returns 1 if key is not one of them. */
static int set_s3(zkp_s3_config_t *s3, const char *key, const char *v, char *err, size_t errlen)
{
    uint64_t n;
    if (strncmp(key, "s3.bucket.", 10) == 0)
        return set_s3_map(s3, key, v, err, errlen);
    if (strcmp(key, "s3.endpoint") == 0) {
        const char *host = !strncmp(v, "http://", 7)    ? v + 7
                           : !strncmp(v, "https://", 8) ? v + 8
                                                        : NULL;
        size_t len = strlen(v);
        while (len > 0 && v[len - 1] == '/')
            len--;
        if (host == NULL || *host == '\0' || *host == '/' || strpbrk(v, "?# \t") != NULL ||
            strchr(host, '@') != NULL)
            return errf(err, errlen,
                        "s3.endpoint: expected http://HOST[:PORT] or https://..., got '%s'", v);
        if (len >= sizeof(s3->endpoint))
            return errf(err, errlen, "s3.endpoint: longer than %zu bytes",
                        sizeof(s3->endpoint) - 1);
        snprintf(s3->endpoint, sizeof(s3->endpoint), "%.*s", (int)len, v);
        return 0;
    }
    if (strcmp(key, "s3.region") == 0) {
        size_t len = strlen(v);
        if (len == 0 || len > 63 || strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789-") != len)
            return errf(err, errlen, "s3.region: expected 1..63 of [a-z0-9-], got '%s'", v);
        return set_s3_string(s3->region, sizeof(s3->region), key, v, err, errlen);
    }
    if (strcmp(key, "s3.credentials_file") == 0)
        return set_s3_string(s3->credentials_file, sizeof(s3->credentials_file), key, v, err,
                             errlen);
    if (strcmp(key, "s3.ca_file") == 0)
        return set_s3_string(s3->ca_file, sizeof(s3->ca_file), key, v, err, errlen);
    if (strcmp(key, "s3.addressing") == 0) {
        if (strcmp(v, "path") != 0 && strcmp(v, "virtual") != 0)
            return errf(err, errlen, "s3.addressing: expected path or virtual, got '%s'", v);
        s3->virtual_hosted = v[0] == 'v';
        return 0;
    }
    if (strcmp(key, "s3.unmapped") == 0) {
        if (strcmp(v, "refuse") != 0 && strcmp(v, "same") != 0)
            return errf(err, errlen, "s3.unmapped: expected refuse or same, got '%s'", v);
        s3->unmapped_same = v[0] == 's';
        return 0;
    }
    if (strcmp(key, "s3.timeout_s") == 0 || strcmp(key, "s3.connect_timeout_s") == 0) {
        if (parse_u64(v, 3600, &n) != 0 || n < 1)
            return errf(err, errlen, "%s: expected a number in 1..3600, got '%s'", key, v);
        *(key[3] == 't' ? &s3->timeout_s : &s3->connect_timeout_s) = (unsigned)n;
        return 0;
    }
    if (strncmp(key, "s3.", 3) == 0)
        return errf(err, errlen,
                    "unknown key '%s' (s3.endpoint, s3.region, s3.credentials_file, s3.ca_file, "
                    "s3.addressing, s3.unmapped, s3.timeout_s, s3.connect_timeout_s, "
                    "s3.bucket.NAME)",
                    key);
    return 1;
}

/* zk = host:port,host:port (no chroot in it: zk_chroot says it apart, so
 * that the two cannot be confused), zk_chroot = /path, verify = holder|zxid|off. */
static int set_zk(zkp_config_t *c, const char *key, const char *v, char *err, size_t errlen)
{
    if (strcmp(key, "verify") == 0) {
        if (strcmp(v, "holder") == 0)
            c->verify = ZKP_VERIFY_HOLDER;
        else if (strcmp(v, "zxid") == 0)
            c->verify = ZKP_VERIFY_ZXID;
        else if (strcmp(v, "off") == 0)
            c->verify = ZKP_VERIFY_OFF;
        else
            return errf(err, errlen, "verify: expected holder, zxid or off, got '%s'", v);
        return 0;
    }
    int chroot = strcmp(key, "zk_chroot") == 0;
    if (*v == '\0')
        return errf(err, errlen, "%s: empty", key);
    if (chroot && (v[0] != '/' || v[1] == '\0' || v[strlen(v) - 1] == '/'))
        return errf(err, errlen,
                    "zk_chroot: expected an absolute ZooKeeper path such as /apps/x, "
                    "got '%s'",
                    v);
    if (!chroot && strchr(v, '/') != NULL)
        return errf(err, errlen,
                    "zk: expected host:port,host:port (the chroot goes in zk_chroot), "
                    "got '%s'",
                    v);
    return set_string(chroot ? &c->zk_chroot : &c->zk, v) == 0
               ? 0
               : errf(err, errlen, "%s: out of memory", key);
}

int zkp_config_verify(const zkp_config_t *c, char *err, size_t errlen)
{
    if (c->zk_chroot != NULL && c->zk == NULL) {
        snprintf(err, errlen, "zk_chroot is set but zk is not");
        return -1;
    }
    if ((c->verify == ZKP_VERIFY_HOLDER || c->verify == ZKP_VERIFY_ZXID) && c->zk == NULL) {
        snprintf(err, errlen,
                 "verify = %s needs zk = host:port,... (the ZooKeeper ensemble "
                 "that hands out the tokens)",
                 c->verify == ZKP_VERIFY_ZXID ? "zxid" : "holder");
        return -1;
    }
    if (c->verify == ZKP_VERIFY_UNSET)
        return c->zk != NULL ? ZKP_VERIFY_HOLDER : ZKP_VERIFY_OFF;
    return c->verify;
}

static int config_set_at(zkp_config_t *c, const char *key, const char *v, const char *origin,
                         char *err, size_t errlen)
{
    if (strncmp(key, "bind.", 5) == 0)
        return set_bind(c, key, v, origin, err, errlen);
    return zkp_config_set(c, key, v, err, errlen);
}

int zkp_config_set(zkp_config_t *c, const char *key, const char *v, char *err, size_t errlen)
{
    if (strncmp(key, "bind.", 5) == 0)
        return set_bind(c, key, v, NULL, err, errlen);
    int s3rc = set_s3(&c->s3, key, v, err, errlen);
    if (s3rc <= 0)
        return s3rc;
    if (strcmp(key, "listen") == 0)
        return parse_listen(c, v, err, errlen);
    if (strcmp(key, "tls_listen") == 0)
        return parse_addr(key, v, c->tls_listen_host, &c->tls_listen_port, err, errlen);
    struct {
        const char *key;
        char **slot;
    } paths[] = {{"data_dir", &c->data_dir}, {"audit_log", &c->audit_log},
                 {"marks_db", &c->marks_db}, {"credentials", &c->credentials},
                 {"tls_cert", &c->tls_cert}, {"tls_key", &c->tls_key}};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        if (strcmp(key, paths[i].key) != 0)
            continue;
        if (*v == '\0')
            return errf(err, errlen, "%s: empty path", key);
        return set_string(paths[i].slot, v) == 0 ? 0 : errf(err, errlen, "%s: out of memory", key);
    }
    if (strcmp(key, "region") == 0) {
        size_t n = strlen(v);
        int ok = n > 0 && n < sizeof(c->region);
        for (size_t i = 0; ok && i < n; i++)
            ok = (v[i] >= 'a' && v[i] <= 'z') || (v[i] >= '0' && v[i] <= '9') || v[i] == '-';
        if (!ok)
            return errf(err, errlen, "region: expected 1 to 63 of [a-z0-9-], got '%s'", v);
        memcpy(c->region, v, n + 1);
        return 0;
    }
    if (strcmp(key, "domain") == 0)
        return set_domains(c, v, err, errlen);
    if (strcmp(key, "backend") == 0)
        return set_backend(c, v, err, errlen);
    if (strcmp(key, "zk") == 0 || strcmp(key, "zk_chroot") == 0 || strcmp(key, "verify") == 0)
        return set_zk(c, key, v, err, errlen);
    if (strcmp(key, "multipart_max_age") == 0)
        return parse_duration(v, &c->multipart_max_age_s) == 0
                   ? 0
                   : errf(err, errlen,
                          "%s: expected a duration (a number of seconds, or with s, m, h or d: "
                          "7d), 0 for never, got '%s'",
                          key, v);
    if (strcmp(key, "fencing") == 0)
        return parse_fencing(v, &c->fencing_required_default) == 0
                   ? 0
                   : errf(err, errlen, "%s: expected required or optional", key);
    if (strncmp(key, "bucket.", 7) == 0)
        return set_bucket(c, key, v, err, errlen);
    int rc = set_simple(c, key, v, err, errlen);
    if (rc <= 0)
        return rc;
    return errf(err, errlen, "unknown key '%s'", key);
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

static int parse_line(zkp_config_t *c, char *line, const char *origin, char *err, size_t errlen)
{
    /* '#' at the start or after whitespace begins a comment; a '#' inside a
     * value (a path "a#b") is kept. */
    for (char *p = line; *p; p++)
        if (*p == '#' && (p == line || isspace((unsigned char)p[-1]))) {
            *p = '\0';
            break;
        }
    char *s = trim(line);
    if (*s == '\0')
        return 0;
    char *eq = strchr(s, '=');
    if (eq == NULL)
        return errf(err, errlen, "expected 'key = value', got '%s'", s);
    *eq = '\0';
    char *key = trim(s);
    char *value = trim(eq + 1);
    if (*key == '\0')
        return errf(err, errlen, "%s", "missing key before '='");
    return config_set_at(c, key, value, origin, err, errlen);
}

int zkp_config_parse(zkp_config_t *c, const char *name, const char *text, char *err, size_t errlen)
{
    int lineno = 0;
    const char *p = text;
    while (*p) {
        lineno++;
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char line[4096];
        char msg[512];
        char origin[320];
        snprintf(origin, sizeof(origin), "%s:%d", name, lineno);
        if (len >= sizeof(line)) {
            snprintf(err, errlen, "%s:%d: line too long", name, lineno);
            return -1;
        }
        memcpy(line, p, len);
        line[len] = '\0';
        if (parse_line(c, line, origin, msg, sizeof(msg)) != 0) {
            snprintf(err, errlen, "%s:%d: %s", name, lineno, msg);
            return -1;
        }
        p += len;
        if (*p == '\n')
            p++;
    }
    return 0;
}

int zkp_config_load(zkp_config_t *c, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char *text = NULL;
    size_t n = 0;
    FILE *mem = open_memstream(&text, &n);
    char chunk[4096];
    size_t r;
    while (mem != NULL && (r = fread(chunk, 1, sizeof(chunk), f)) > 0)
        fwrite(chunk, 1, r, mem);
    int rd_err = ferror(f);
    fclose(f);
    if (mem == NULL || fclose(mem) != 0 || rd_err) {
        free(text);
        snprintf(err, errlen, "%s: read error", path);
        return -1;
    }
    int rc = zkp_config_parse(c, path, text, err, errlen);
    free(text);
    return rc;
}

int zkp_addr_is_loopback(const char *ipv4)
{
    struct in_addr a;
    return inet_pton(AF_INET, ipv4, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

int zkp_config_check(const zkp_config_t *c, char *err, size_t errlen)
{
    if (c->listen_host[0] == '\0' && c->tls_listen_host[0] == '\0')
        return errf(err, errlen, "listen = off and no tls_listen: nothing to listen on");
    if (c->tls_listen_host[0] != '\0' && (c->tls_cert == NULL || c->tls_key == NULL))
        return errf(err, errlen, "tls_listen needs both tls_cert and tls_key");
    if ((c->tls_cert != NULL || c->tls_key != NULL) && c->tls_listen_host[0] == '\0')
        return errf(err, errlen, "tls_cert and tls_key need tls_listen = ADDR:PORT");
    if (c->listen_host[0] != '\0' && !zkp_addr_is_loopback(c->listen_host) &&
        !c->allow_insecure_http)
        return errf(err, errlen,
                    "listen = %s:%u is plain HTTP on a non-loopback address: requests, "
                    "signatures' scopes and bodies would cross the network in clear. Use "
                    "tls_listen (with tls_cert, tls_key) for it and keep listen on 127.0.0.1, "
                    "or set allow_insecure_http = on for a network you trust",
                    c->listen_host, c->listen_port);
    return 0;
}

int zkp_config_fencing_required(const zkp_config_t *c, const char *bucket)
{
    for (size_t i = 0; i < c->nbuckets; i++)
        if (strcmp(c->buckets[i].name, bucket) == 0)
            return c->buckets[i].fencing_required;
    return c->fencing_required_default;
}
