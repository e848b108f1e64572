#include "harness.h"

#include <CUnit/Basic.h>
#include <arpa/inet.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "sigv4/sigv4.h"

int64_t pt_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int pt_soon_ms(void)
{
    const char *v = getenv("ZKFENCE_UNDER_VALGRIND");
    return v != NULL && *v == '1' ? 120000 : 30000;
}

void pt_poll_interval(void)
{
    struct timespec ts = {0, 5 * 1000 * 1000};
    nanosleep(&ts, NULL);
}

/* A port nothing listens on now: bind to 0 and let the kernel choose. */
static unsigned free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    unsigned port = 0;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static const char *bin_dir(void)
{
    const char *d = getenv("ZKFENCE_BIN_DIR");
    return d && *d ? d : "build/bin";
}

void pt_proxy_dump_log(const pt_proxy_t *p)
{
    char path[400], line[1024];
    snprintf(path, sizeof(path), "%s/proxy.log", p->dir);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    fprintf(stderr, "---- %s\n", path);
    while (fgets(line, sizeof(line), f))
        fputs(line, stderr);
    fclose(f);
}

static int healthy(const pt_proxy_t *p)
{
    pt_resp_t r;
    int ok = pt_http(p, "GET", "/_zkfence/health", NULL, NULL, 0, &r) == 0 && r.status == 200;
    pt_resp_free(&r);
    return ok;
}

static int exited(pt_proxy_t *p)
{
    int st;
    if (p->pid > 0 && waitpid(p->pid, &st, WNOHANG) == p->pid) {
        p->pid = 0;
        return 1;
    }
    return 0;
}

static int spawn(pt_proxy_t *p)
{
    char bin[400], log[400];
    snprintf(bin, sizeof(bin), "%s/zkfence-proxy", bin_dir());
    snprintf(log, sizeof(log), "%s/proxy.log", p->dir);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(bin, bin, "--config", p->conf, "--debug-fault-endpoint", (char *)NULL);
        _exit(127);
    }
    p->pid = pid;
    int ok = PT_WAIT_UNTIL(healthy(p) || exited(p), pt_soon_ms()) && p->pid > 0 && healthy(p);
    if (!ok) {
        fprintf(stderr, "zkfence-proxy did not become healthy\n");
        pt_proxy_dump_log(p);
        return -1;
    }
    return 0;
}

/* 16 random bytes in hex. */
static void random_hex(char out[33])
{
    unsigned char b[16] = {0};
    FILE *f = fopen("/dev/urandom", "rb");
    if (f == NULL || fread(b, 1, sizeof(b), f) != sizeof(b))
        for (size_t i = 0; i < sizeof(b); i++) /* never: a fixed fallback still works */
            b[i] = (unsigned char)(i * 37 + 11);
    if (f != NULL)
        fclose(f);
    for (size_t i = 0; i < sizeof(b); i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}

int pt_make_cert(const char *cert, const char *key)
{
    char cmd[1600];
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout '%s' -out '%s' -days 2 -subj /CN=127.0.0.1 "
             "-addext 'subjectAltName=IP:127.0.0.1,DNS:localhost' >/dev/null 2>&1",
             key, cert);
    if (system(cmd) != 0)
        return -1;
    return chmod(key, 0600);
}

int pt_proxy_start_ex(pt_proxy_t *p, const char *conf_extra, const char *creds_extra, int flags)
{
    memset(p, 0, sizeof(*p));
    snprintf(p->dir, sizeof(p->dir), "/tmp/zkfence-proxy-test.XXXXXX");
    if (mkdtemp(p->dir) == NULL)
        return -1;
    snprintf(p->data_dir, sizeof(p->data_dir), "%s/data", p->dir);
    snprintf(p->conf, sizeof(p->conf), "%s/proxy.conf", p->dir);
    snprintf(p->creds, sizeof(p->creds), "%s/credentials", p->dir);
    p->port = free_port();
    char hex[33];
    random_hex(hex);
    snprintf(p->admin.id, sizeof(p->admin.id), "PTADMIN%.8s", hex);
    random_hex(hex);
    snprintf(p->admin.secret, sizeof(p->admin.secret), "pt-secret-%s", hex);
    int fd = open(p->creds, O_WRONLY | O_CREAT | O_EXCL, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (f == NULL)
        return -1;
    fprintf(f, "# written by the test harness\nkey %s %s\ngrant %s * admin\n%s\n", p->admin.id,
            p->admin.secret, p->admin.id, creds_extra ? creds_extra : "");
    fclose(f);
    char tls[1200] = "";
    if (flags & PT_TLS) {
        snprintf(p->cert, sizeof(p->cert), "%s/cert.pem", p->dir);
        snprintf(p->key, sizeof(p->key), "%s/key.pem", p->dir);
        if (pt_make_cert(p->cert, p->key) != 0) {
            fprintf(stderr, "cannot make a certificate with the openssl command\n");
            return -1;
        }
        p->tls_port = free_port();
        snprintf(tls, sizeof(tls), "tls_listen = 127.0.0.1:%u\ntls_cert = %s\ntls_key = %s\n",
                 p->tls_port, p->cert, p->key);
    }
    f = fopen(p->conf, "w");
    if (f == NULL)
        return -1;
    /* Idle connections are closed after a minute: tests that stall an
     * upload on purpose, and do other things meanwhile, must not lose it
     * to a busy machine. A suite that tests the idle timeout sets its own
     * (a later line wins). */
    fprintf(f,
            "listen = 127.0.0.1:%u\ndata_dir = %s\nconnection_timeout_s = 60\ncredentials = %s\n%s"
            "%s\n",
            p->port, p->data_dir, p->creds, tls, conf_extra ? conf_extra : "");
    fclose(f);
    return spawn(p);
}

int pt_proxy_start(pt_proxy_t *p, const char *conf_extra)
{
    return pt_proxy_start_ex(p, conf_extra, NULL, 0);
}

int pt_proxy_restart(pt_proxy_t *p)
{
    return spawn(p);
}

int pt_proxy_stop(pt_proxy_t *p)
{
    if (p->pid <= 0)
        return -1;
    kill(p->pid, SIGTERM);
    int st = 0;
    pid_t pid = p->pid;
    int done = PT_WAIT_UNTIL(waitpid(pid, &st, WNOHANG) == pid, pt_soon_ms());
    p->pid = 0;
    if (!done) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        return -1;
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "zkfence-proxy exit status %d\n", st);
        pt_proxy_dump_log(p);
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    }
    return 0;
}

void pt_proxy_kill9(pt_proxy_t *p)
{
    if (p->pid <= 0)
        return;
    kill(p->pid, SIGKILL);
    waitpid(p->pid, NULL, 0);
    p->pid = 0;
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void pt_proxy_cleanup(pt_proxy_t *p)
{
    if (p->pid > 0)
        pt_proxy_kill9(p);
    if (p->dir[0] != '\0')
        nftw(p->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    p->dir[0] = '\0';
}

/* --- HTTP ------------------------------------------------------------------------ */

typedef struct growbuf {
    char *p;
    size_t len, cap;
} growbuf_t;

/* Grows by doubling: a response of tens of MiB arrives in 16 KiB pieces,
 * and growing by each piece copied it quadratically (under ASan every
 * realloc copies), so slowly that the proxy's idle timeout closed the
 * connection of a client that had stopped reading. */
static size_t on_data(char *ptr, size_t size, size_t n, void *arg)
{
    growbuf_t *g = arg;
    size_t add = size * n;
    if (g->len + add + 1 > g->cap) {
        size_t cap = g->cap ? g->cap : 4096;
        while (cap < g->len + add + 1)
            cap *= 2;
        char *q = realloc(g->p, cap);
        if (q == NULL)
            return 0;
        g->p = q;
        g->cap = cap;
    }
    memcpy(g->p + g->len, ptr, add);
    g->len += add;
    g->p[g->len] = '\0';
    return add;
}

/* --- signing ---------------------------------------------------------------------- */

static void sha256_hex(const void *d, size_t n, char out[65])
{
    unsigned char md[32];
    unsigned int len = 0;
    EVP_Digest(d ? d : "", n, md, &len, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* A request's headers split for signing. Owned copies. */
typedef struct split {
    zkp_sigv4_header_t h[64];
    char *names[64];
    size_t n;
    const char *payload;   /* an x-amz-content-sha256 given by the test */
    int own_authorization; /* the test signs (or forges) by itself */
} split_t;

static void split_free(split_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->names[i]);
}

/* "Name: value" lines with a value, without the ones the signer makes. */
static void split_headers(const char *const *headers, const char *host, split_t *s)
{
    memset(s, 0, sizeof(*s));
    s->names[0] = strdup("host");
    s->h[0] = (zkp_sigv4_header_t){"host", 4, host, strlen(host)};
    s->n = 1;
    for (size_t i = 0; headers && headers[i] && s->n < 64; i++) {
        const char *colon = strchr(headers[i], ':');
        if (colon == NULL)
            continue;
        const char *v = colon + 1;
        while (*v == ' ')
            v++;
        size_t nlen = (size_t)(colon - headers[i]);
        if (*v == '\0')
            continue; /* "Name:" removes a header: nothing sent, nothing signed */
        if (nlen == 20 && strncasecmp(headers[i], "x-amz-content-sha256", 20) == 0) {
            s->payload = v;
            continue;
        }
        if ((nlen == 13 && strncasecmp(headers[i], "authorization", 13) == 0) ||
            (nlen == 10 && strncasecmp(headers[i], "x-amz-date", 10) == 0)) {
            s->own_authorization = 1;
            continue;
        }
        s->names[s->n] = strndup(headers[i], nlen);
        s->h[s->n] = (zkp_sigv4_header_t){s->names[s->n], nlen, v, strlen(v)};
        s->n++;
    }
}

/* Signs: fills *out (zkp_sigv4_signed_clear() after). Returns 0, or -1 if
 * the request is not to be signed (anonymous, or the test's own). */
static int sign(const pt_proxy_t *p, const pt_req_opts_t *o, const char *method, const char *path,
                const split_t *s, const void *body, size_t len, zkp_sigv4_signed_t *out)
{
    if (o->mode == PT_SIGN_NONE || s->own_authorization)
        return -1;
    const pt_key_t *k = o->key ? o->key : &p->admin;
    zkp_sigv4_creds_t c = {k->id, k->secret, o->region ? o->region : "us-east-1", NULL};
    char hash[65];
    const char *payload = o->payload ? o->payload : s->payload;
    if (payload == NULL) {
        sha256_hex(body, len, hash);
        payload = hash;
    }
    const char *qm = strchr(path, '?');
    char *bare = strndup(path, qm ? (size_t)(qm - path) : strlen(path));
    zkp_sigv4_sign_req_t r = {
        .method = method,
        .path = bare,
        .query = qm ? qm + 1 : NULL,
        .headers = s->h,
        .n_headers = s->n,
        .payload_hash = payload,
        .when = o->when ? o->when : time(NULL) + o->skew_s,
    };
    int rc = o->mode == PT_SIGN_PRESIGNED
                 ? zkp_sigv4_presign(&c, &r, o->expires_s ? o->expires_s : 300, out)
                 : zkp_sigv4_sign(&c, &r, out);
    free(bare);
    if (rc != 0) {
        fprintf(stderr, "harness: cannot sign %s %s: %s\n", method, path, zkp_sigv4_err_name(rc));
        return -1;
    }
    if (o->signature_out != NULL)
        memcpy(o->signature_out, out->signature, ZKP_SIGV4_SIG_HEX_LEN + 1);
    return 0;
}

static const pt_req_opts_t default_opts;

static void host_of(const pt_proxy_t *p, const pt_req_opts_t *o, char host[64])
{
    snprintf(host, 64, "127.0.0.1:%u", o->tls ? p->tls_port : p->port);
}

struct curl_slist *pt_signed_headers(const pt_proxy_t *p, const pt_req_opts_t *o,
                                     const char *method, const char *path,
                                     const char *const *headers, const void *body, size_t len,
                                     char **path_out)
{
    if (o == NULL)
        o = &default_opts;
    char host[64], line[512];
    host_of(p, o, host);
    split_t s;
    split_headers(headers, host, &s);
    struct curl_slist *hl = NULL;
    snprintf(line, sizeof(line), "Host: %s", host);
    hl = curl_slist_append(hl, line);
    for (size_t i = 0; headers && headers[i]; i++)
        hl = curl_slist_append(hl, headers[i]);
    zkp_sigv4_signed_t sig;
    if (path_out != NULL)
        *path_out = strdup(path);
    if (sign(p, o, method, path, &s, body, len, &sig) == 0) {
        if (o->mode == PT_SIGN_PRESIGNED) {
            if (path_out != NULL) {
                free(*path_out);
                const char *qm = strchr(path, '?');
                if (asprintf(path_out, "%.*s?%s", (int)(qm ? qm - path : (long)strlen(path)), path,
                             sig.query) < 0)
                    *path_out = NULL;
            }
        } else {
            if (s.payload == NULL) {
                snprintf(line, sizeof(line), "x-amz-content-sha256: %s", sig.content_sha256);
                hl = curl_slist_append(hl, line);
            }
            snprintf(line, sizeof(line), "x-amz-date: %s", sig.amz_date);
            hl = curl_slist_append(hl, line);
            char *auth = NULL;
            if (asprintf(&auth, "Authorization: %s", sig.authorization) >= 0)
                hl = curl_slist_append(hl, auth);
            free(auth);
        }
        zkp_sigv4_signed_clear(&sig);
    }
    split_free(&s);
    return hl;
}

char *pt_signed_head(const pt_proxy_t *p, const pt_req_opts_t *o, const char *method,
                     const char *path, const char *const *headers, const void *body, size_t len)
{
    char *path2 = NULL;
    struct curl_slist *hl = pt_signed_headers(p, o, method, path, headers, body, len, &path2);
    char *out = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&out, &n);
    if (f != NULL) {
        fprintf(f, "%s %s HTTP/1.1\r\n", method, path2 ? path2 : path);
        for (struct curl_slist *e = hl; e != NULL; e = e->next)
            if (strchr(e->data, ':') != NULL && strchr(e->data, ':')[1] != '\0')
                fprintf(f, "%s\r\n", e->data);
        fputs("\r\n", f);
        fclose(f);
    }
    curl_slist_free_all(hl);
    free(path2);
    return out;
}

void pt_base64(const void *data, size_t len, char *out)
{
    EVP_EncodeBlock((unsigned char *)out, data, (int)len);
}

char *pt_aws_chunked(const pt_key_t *k, time_t when, const char *seed, const void *body, size_t len,
                     size_t chunk, const char *trailer, size_t *out_len)
{
    zkp_sigv4_creds_t c = {k->id, k->secret, "us-east-1", NULL};
    zkp_sigv4_chunks_t sc;
    memset(&sc, 0, sizeof(sc));
    if (seed != NULL && zkp_sigv4_chunk_signer_init(&sc, &c, when, seed) != 0)
        return NULL;
    char *out = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&out, &n);
    if (f == NULL)
        return NULL;
    const char *b = body;
    char sig[ZKP_SIGV4_SIG_HEX_LEN + 1];
    for (size_t off = 0;; off += chunk) {
        size_t this = off < len ? (len - off < chunk ? len - off : chunk) : 0;
        if (seed != NULL) {
            zkp_sigv4_chunk_data(&sc, b + off, this);
            zkp_sigv4_chunk_sign(&sc, sig);
            fprintf(f, "%zx;chunk-signature=%s\r\n", this, sig);
        } else {
            fprintf(f, "%zx\r\n", this);
        }
        if (this == 0)
            break;
        fwrite(b + off, 1, this, f);
        fputs("\r\n", f);
    }
    if (trailer != NULL) {
        fprintf(f, "%s\r\n", trailer);
        if (seed != NULL) {
            char *lines = NULL;
            if (asprintf(&lines, "%s\n", trailer) >= 0 &&
                zkp_sigv4_trailer_sign(&sc, lines, strlen(lines), sig) == 0)
                fprintf(f, "x-amz-trailer-signature:%s\r\n", sig);
            free(lines);
        }
    }
    fputs("\r\n", f);
    fclose(f);
    zkp_sigv4_chunks_clear(&sc);
    *out_len = n;
    return out;
}

/* --- HTTP ------------------------------------------------------------------------------ */

int pt_http(const pt_proxy_t *p, const char *method, const char *path, const char *const *headers,
            const void *body, size_t len, pt_resp_t *out)
{
    return pt_http_opts(p, NULL, method, path, headers, body, len, out);
}

int pt_http_opts(const pt_proxy_t *p, const pt_req_opts_t *o, const char *method, const char *path,
                 const char *const *headers, const void *body, size_t len, pt_resp_t *out)
{
    memset(out, 0, sizeof(*out));
    if (o == NULL)
        o = &default_opts;
    CURL *c = curl_easy_init();
    if (c == NULL)
        return -1;
    char *signed_path = NULL;
    struct curl_slist *hl = pt_signed_headers(p, o, method, path, headers, body, len, &signed_path);
    hl = curl_slist_append(hl, "Expect:"); /* no 100-continue unless a test asks */
    char url[8192];
    snprintf(url, sizeof(url), "%s://127.0.0.1:%u%s", o->tls ? "https" : "http",
             o->tls ? p->tls_port : p->port, signed_path ? signed_path : path);
    free(signed_path);
    growbuf_t b = {0}, h = {0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    if (o->tls)
        curl_easy_setopt(c, CURLOPT_CAINFO, p->cert);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L); /* send "..", "//" as they are */
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    out->body = b.p ? b.p : strdup("");
    out->len = b.len;
    out->headers = h.p ? h.p : strdup("");
    out->hlen = h.len;
    return rc == CURLE_OK ? 0 : -1;
}

long pt_status(const pt_proxy_t *p, const char *method, const char *path)
{
    pt_resp_t r;
    pt_http(p, method, path, NULL, NULL, 0, &r);
    long st = r.status;
    pt_resp_free(&r);
    return st;
}

/* The number that follows needle in the body of GET path, or -1. */
static long long number_after(const pt_proxy_t *p, const char *path, const char *needle)
{
    pt_resp_t r;
    pt_http(p, "GET", path, NULL, NULL, 0, &r);
    const char *at = r.body ? strstr(r.body, needle) : NULL;
    long long v = at ? strtoll(at + strlen(needle), NULL, 10) : -1;
    pt_resp_free(&r);
    return v;
}

long long pt_mark(const pt_proxy_t *p, const char *lock)
{
    char needle[1100];
    snprintf(needle, sizeof(needle), "{\"lock\":\"%s\",\"mark\":\"", lock);
    return number_after(p, "/_zkfence/marks", needle);
}

long long pt_metric(const pt_proxy_t *p, const char *name)
{
    char needle[128];
    snprintf(needle, sizeof(needle), "\n%s ", name);
    return number_after(p, "/_zkfence/metrics", needle);
}

void pt_resp_free(pt_resp_t *r)
{
    free(r->body);
    free(r->headers);
    memset(r, 0, sizeof(*r));
}

const char *pt_header(const pt_resp_t *r, const char *name, char *buf, size_t cap)
{
    size_t n = strlen(name);
    for (const char *line = r->headers; line && *line;) {
        const char *eol = strstr(line, "\r\n");
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        if (len > n && strncasecmp(line, name, n) == 0 && line[n] == ':') {
            const char *v = line + n + 1;
            while (*v == ' ')
                v++;
            size_t vl = len - (size_t)(v - line);
            if (vl >= cap)
                vl = cap - 1;
            memcpy(buf, v, vl);
            buf[vl] = '\0';
            return buf;
        }
        line = eol ? eol + 2 : line + len;
    }
    return NULL;
}

int pt_body_has(const pt_resp_t *r, const char *s)
{
    return r->body != NULL && memmem(r->body, r->len, s, strlen(s)) != NULL;
}

long pt_fenced(const pt_proxy_t *p, const char *method, const char *path, const char *lock,
               const char *token, const char *body, pt_resp_t *out)
{
    char l[1100], t[64];
    const char *h[3] = {NULL, NULL, NULL};
    int n = 0;
    if (lock != NULL) {
        snprintf(l, sizeof(l), "X-Fencing-Lock: %s", lock);
        h[n++] = l;
    }
    if (token != NULL) {
        snprintf(t, sizeof(t), "X-Fencing-Token: %s", token);
        h[n++] = t;
    }
    pt_resp_t tmp;
    pt_resp_t *r = out ? out : &tmp;
    pt_http(p, method, path, h, body, body ? strlen(body) : 0, r);
    long st = r->status;
    if (out == NULL)
        pt_resp_free(&tmp);
    return st;
}

char *pt_get_body(const pt_proxy_t *p, const char *path, long *status)
{
    pt_resp_t r;
    pt_http(p, "GET", path, NULL, NULL, 0, &r);
    *status = r.status;
    char *b = r.body ? r.body : strdup("");
    r.body = NULL;
    pt_resp_free(&r);
    return b;
}

int pt_error_is(const pt_resp_t *r, const char *code)
{
    char needle[128];
    snprintf(needle, sizeof(needle), "<Code>%s</Code>", code);
    return pt_body_has(r, needle);
}

int pt_conn_open(const pt_proxy_t *p)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

int pt_conn_send(int fd, const void *data, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n = send(fd, (const char *)data + off, len - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        off += (size_t)n;
    }
    return 0;
}

void pt_conn_close(int fd)
{
    if (fd >= 0)
        close(fd);
}

/* Appends what arrives to out[*got..] until done(out, *got) says so, the
 * peer closes (*eof = 1) or resets (*eof = 2), out is full or the deadline
 * passes. Returns 1 if done() was satisfied. */
static int read_until(int fd, char *out, size_t cap, size_t *got, int64_t deadline,
                      int (*done)(const char *, size_t), int *eof)
{
    *eof = 0;
    while (*got + 1 < cap) {
        out[*got] = '\0';
        if (done != NULL && done(out, *got))
            return 1;
        int left = (int)(deadline - pt_now_ms());
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&pfd, 1, left) <= 0)
            break;
        ssize_t n = recv(fd, out + *got, cap - 1 - *got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            *eof = n == 0 ? 1 : 2;
            break;
        }
        *got += (size_t)n;
    }
    out[*got] = '\0';
    return done != NULL && done(out, *got);
}

static int headers_done(const char *out, size_t len)
{
    return memmem(out, len, "\r\n\r\n", 4) != NULL;
}

/* Headers complete, and as much body as Content-Length announces. */
static int response_done(const char *out, size_t len)
{
    const char *end = memmem(out, len, "\r\n\r\n", 4);
    if (end == NULL)
        return 0;
    size_t hlen = (size_t)(end - out) + 4;
    unsigned long long cl = 0;
    for (const char *line = out; line < end;) {
        const char *eol = memmem(line, (size_t)(end - line) + 2, "\r\n", 2);
        if (strncasecmp(line, "Content-Length:", 15) == 0)
            cl = strtoull(line + 15, NULL, 10);
        line = eol + 2;
    }
    return len >= hlen + cl;
}

long pt_conn_read_headers(int fd, char *out, size_t cap, int timeout_ms)
{
    size_t got = 0;
    int eof;
    read_until(fd, out, cap, &got, pt_now_ms() + timeout_ms, headers_done, &eof);
    return (long)got;
}

long pt_conn_read_response(int fd, char *out, size_t cap, int timeout_ms)
{
    size_t got = 0;
    int eof;
    if (!read_until(fd, out, cap, &got, pt_now_ms() + timeout_ms, response_done, &eof))
        return -1;
    return (long)got;
}

long pt_raw_eof(const pt_proxy_t *p, const void *req, size_t len, int shut_wr, char *out,
                size_t cap, int timeout_ms, int *eof)
{
    int fd = pt_conn_open(p);
    if (fd < 0)
        return -1;
    pt_conn_send(fd, req, len); /* the server may close before taking it all */
    if (shut_wr)
        shutdown(fd, SHUT_WR);
    size_t got = 0;
    read_until(fd, out, cap, &got, pt_now_ms() + timeout_ms, NULL, eof);
    close(fd);
    return (long)got;
}

long pt_raw(const pt_proxy_t *p, const void *req, size_t len, int shut_wr, char *out, size_t cap,
            int timeout_ms)
{
    int eof;
    return pt_raw_eof(p, req, len, shut_wr, out, cap, timeout_ms, &eof);
}

int pt_raw_status(const char *resp)
{
    int st = 0;
    if (sscanf(resp, "HTTP/1.%*d %d", &st) != 1)
        return 0;
    return st;
}

static int count_in(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    int n = 0;
    struct dirent *de;
    char path[1024];
    while ((de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || !strcmp(de->d_name, ".bucket"))
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        struct stat st;
        if (lstat(path, &st) != 0)
            continue;
        n += S_ISDIR(st.st_mode) ? count_in(path) : 1;
    }
    closedir(d);
    return n;
}

int pt_count_files(const pt_proxy_t *p, const char *sub)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/%s", p->data_dir, sub);
    return count_in(path);
}

int pt_count_staged(const pt_proxy_t *p)
{
    char tmp[400], real[PATH_MAX], fds[64], path[600], target[PATH_MAX + 64];
    snprintf(tmp, sizeof(tmp), "%s/tmp", p->data_dir);
    int n = count_in(tmp);
    if (p->pid <= 0)
        return n; /* stopped: no descriptors open */
    if (realpath(tmp, real) == NULL)
        return -1; /* no answer rather than one that would pass */
    size_t len = strlen(real);
    snprintf(fds, sizeof(fds), "/proc/%ld/fd", (long)p->pid);
    DIR *d = opendir(fds);
    if (d == NULL)
        return -1;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        snprintf(path, sizeof(path), "%s/%s", fds, de->d_name);
        ssize_t t = readlink(path, target, sizeof(target) - 1);
        if (t <= 0)
            continue;
        target[t] = '\0';
        n += strncmp(target, real, len) == 0 && target[len] == '/' && target[len + 1] == '#' &&
             strstr(target, " (deleted)") != NULL;
    }
    closedir(d);
    return n;
}

int pt_file_count(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    char line[8192];
    int n = 0;
    while (fgets(line, sizeof(line), f))
        n += strstr(line, needle) != NULL;
    fclose(f);
    return n;
}

int pt_log_count(const pt_proxy_t *p, const char *needle)
{
    char path[400];
    snprintf(path, sizeof(path), "%s/proxy.log", p->dir);
    return pt_file_count(path, needle);
}

int pt_audit_count(const pt_proxy_t *p, const char *needle)
{
    char path[400];
    snprintf(path, sizeof(path), "%s/audit.log", p->data_dir);
    return pt_file_count(path, needle);
}

int pt_proxy_run(const char *const *args, const char *out_path, int timeout_ms)
{
    char bin[400];
    snprintf(bin, sizeof(bin), "%s/zkfence-proxy", bin_dir());
    const char *argv[32] = {bin};
    size_t n = 1;
    for (; args[n - 1] != NULL && n < 31; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    int st = 0;
    if (!PT_WAIT_UNTIL(waitpid(pid, &st, WNOHANG) == pid, timeout_ms)) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -1;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int pt_run_suite(const char *name, void (*add_tests)(void *suite))
{
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite(name, NULL, NULL);
    add_tests(s);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    curl_global_cleanup();
    return failed ? 1 : 0;
}
