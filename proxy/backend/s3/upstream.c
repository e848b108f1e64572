/* The upstream endpoint (upstream.h): addressing, SigV4 signing, errors. */
#include "backend/s3/upstream.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backend/backend.h"
#include "backend/s3/s3xml.h"
#include "sigv4/sigv4.h"
#include "util/textutil.h"

/* SHA-256 of the empty string: the payload hash of a request without body. */
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct zkp_upstream {
    char endpoint[512];
    char scheme[8];     /* "http" or "https" */
    char hostport[512]; /* as the Host header: "host" or "host:port" */
    char region[64];
    int virtual_hosted;
    char access_key[ZKP_SIGV4_ACCESS_KEY_MAX + 1];
    char secret_key[256];
    zkp_engine_t *engine;
};

const char *zkp_upstream_endpoint(const zkp_upstream_t *u)
{
    return u->endpoint;
}

/* --- the credentials file --------------------------------------------------------- */

/* "access_key = ..." and "secret_key = ..." lines, '#' comments. The file
 * must be a regular file of ours that nobody else can read: it holds a
 * secret. */
static int read_credentials(zkp_upstream_t *u, const char *path, char *err, size_t errlen)
{
    if (path[0] == '\0') {
        snprintf(err, errlen,
                 "backend = s3: s3.credentials_file is not set (a file with access_key = ... "
                 "and secret_key = ... lines, mode 0600)");
        return -1;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, errlen, "s3.credentials_file %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
        snprintf(err, errlen,
                 "s3.credentials_file %s: must be a regular file owned by this user and "
                 "readable by no one else (mode %04o, owner %ld): chmod 600 it",
                 path, (unsigned)(st.st_mode & 07777), (long)st.st_uid);
        close(fd);
        return -1;
    }
    char text[4096];
    ssize_t n = read(fd, text, sizeof(text) - 1);
    close(fd);
    if (n < 0 || n == (ssize_t)sizeof(text) - 1) {
        snprintf(err, errlen, "s3.credentials_file %s: unreadable or longer than 4 KiB", path);
        OPENSSL_cleanse(text, sizeof(text));
        return -1;
    }
    text[n] = '\0';
    int line = 0;
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l != NULL;
         l = strtok_r(NULL, "\n", &save)) {
        line++;
        char key[32], value[300];
        if (l[strspn(l, " \t\r")] == '#' || l[strspn(l, " \t\r")] == '\0')
            continue;
        if (sscanf(l, " %31[a-z_] = %299s", key, value) != 2) {
            snprintf(err, errlen,
                     "s3.credentials_file %s: line %d: expected 'access_key = ...' "
                     "or 'secret_key = ...'",
                     path, line);
            OPENSSL_cleanse(text, sizeof(text));
            return -1;
        }
        /* Lengths checked: memcpy, which no compiler warns about truncating. */
        size_t vl = strlen(value);
        if (strcmp(key, "access_key") == 0 && vl <= ZKP_SIGV4_ACCESS_KEY_MAX &&
            vl < sizeof(u->access_key))
            memcpy(u->access_key, value, vl + 1);
        else if (strcmp(key, "secret_key") == 0 && vl < sizeof(u->secret_key))
            memcpy(u->secret_key, value, vl + 1);
        else {
            snprintf(err, errlen,
                     "s3.credentials_file %s: line %d: unknown key or value too "
                     "long",
                     path, line);
            OPENSSL_cleanse(text, sizeof(text));
            OPENSSL_cleanse(value, sizeof(value));
            return -1;
        }
        OPENSSL_cleanse(value, sizeof(value));
    }
    OPENSSL_cleanse(text, sizeof(text));
    if (u->access_key[0] == '\0' || u->secret_key[0] == '\0') {
        snprintf(err, errlen, "s3.credentials_file %s: needs both access_key and secret_key", path);
        return -1;
    }
    return 0;
}

zkp_upstream_t *zkp_upstream_new(const zkp_s3_config_t *c, char *err, size_t errlen, int *failure)
{
    *failure = ZKP_FAIL_CONFIG;
    if (c->endpoint[0] == '\0') {
        snprintf(err, errlen, "backend = s3: s3.endpoint is not set (e.g. https://s3.example.com)");
        return NULL;
    }
    zkp_upstream_t *u = calloc(1, sizeof(*u));
    if (u == NULL) {
        snprintf(err, errlen, "out of memory");
        *failure = ZKP_FAIL_START;
        return NULL;
    }
    snprintf(u->endpoint, sizeof(u->endpoint), "%s", c->endpoint);
    const char *sep = strstr(c->endpoint, "://");
    snprintf(u->scheme, sizeof(u->scheme), "%.*s", (int)(sep - c->endpoint), c->endpoint);
    const char *host = sep + 3;
    snprintf(u->hostport, sizeof(u->hostport), "%.*s", (int)strcspn(host, "/"), host);
    snprintf(u->region, sizeof(u->region), "%s", c->region);
    u->virtual_hosted = c->virtual_hosted;
    if (host[strcspn(host, "/")] != '\0') {
        snprintf(err, errlen, "s3.endpoint %s: a path after the host is not supported",
                 c->endpoint);
        free(u);
        return NULL;
    }
    if (read_credentials(u, c->credentials_file, err, errlen) != 0) {
        zkp_upstream_free(u);
        return NULL;
    }
    zkp_engine_options_t eo = {
        .ca_file = c->ca_file,
        .timeout_s = c->timeout_s,
        .connect_timeout_s = c->connect_timeout_s,
    };
    if (zkp_engine_start(&eo, &u->engine, err, errlen) != 0) {
        *failure = ZKP_FAIL_START;
        zkp_upstream_free(u);
        return NULL;
    }
    return u;
}

void zkp_upstream_free(zkp_upstream_t *u)
{
    if (u == NULL)
        return;
    zkp_engine_stop(u->engine);
    OPENSSL_cleanse(u, sizeof(*u));
    free(u);
}

/* --- requests ------------------------------------------------------------------------ */

int zkp_upstream_query_add(char *q, size_t cap, const char *name, const char *value)
{
    size_t used = strlen(q);
    size_t nl = strlen(name), vl = strlen(value);
    if (used + 2 + 3 * (nl + vl) + 1 > cap)
        return -1;
    if (used > 0)
        q[used++] = '&';
    used += zkp_pct_encode(name, nl, 0, q + used);
    q[used++] = '=';
    zkp_pct_encode(value, vl, 0, q + used);
    return 0;
}

/* The path as sent: "/bucket/key" (path-style) or "/key" (virtual-hosted),
 * the key percent-encoded with its '/' kept. malloc'ed. */
static char *make_path(const zkp_upstream_t *u, const char *bucket, const char *key)
{
    size_t kl = key ? strlen(key) : 0;
    char *p = malloc(3 + (bucket ? strlen(bucket) : 0) + 3 * kl + 1);
    if (p == NULL)
        return NULL;
    size_t n = 0;
    if (bucket != NULL && !u->virtual_hosted)
        n += (size_t)sprintf(p, "/%s", bucket);
    if (key != NULL) {
        p[n++] = '/';
        n += zkp_pct_encode(key, kl, 1, p + n);
    }
    if (n == 0)
        p[n++] = '/';
    p[n] = '\0';
    return p;
}

zkp_xfer_t *zkp_upstream_send(zkp_upstream_t *u, const char *method, const char *bucket,
                              const char *key, const char *query, const char *const *headers,
                              size_t nheaders, const zkp_xfer_body_t *body, const char *sha256,
                              int stream)
{
    char host[600];
    if (bucket != NULL && u->virtual_hosted)
        snprintf(host, sizeof(host), "%s.%s", bucket, u->hostport);
    else
        snprintf(host, sizeof(host), "%s", u->hostport);
    char *path = make_path(u, bucket, key);
    if (path == NULL)
        return NULL;
    zkp_sigv4_header_t *sh = calloc(nheaders + 1, sizeof(*sh));
    char **lines = calloc(nheaders + 4, sizeof(*lines));
    char *url = NULL;
    zkp_xfer_t *x = NULL;
    zkp_sigv4_signed_t sig;
    memset(&sig, 0, sizeof(sig));
    if (sh == NULL || lines == NULL)
        goto out;
    sh[0] = (zkp_sigv4_header_t){"host", 4, host, strlen(host)};
    for (size_t i = 0; i < nheaders; i++)
        sh[i + 1] = (zkp_sigv4_header_t){headers[2 * i], strlen(headers[2 * i]), headers[2 * i + 1],
                                         strlen(headers[2 * i + 1])};
    zkp_sigv4_creds_t cr = {u->access_key, u->secret_key, u->region, "s3"};
    zkp_sigv4_sign_req_t rq = {
        .method = method,
        .path = path,
        .query = query,
        .headers = sh,
        .n_headers = nheaders + 1,
        /* A body is streamed from its staging file: signed with its
         * SHA-256 when the caller has it (the client's, verified), else
         * UNSIGNED-PAYLOAD, its integrity checked by the upstream through
         * Content-MD5 (and TLS). */
        .payload_hash = body == NULL     ? EMPTY_SHA256
                        : sha256 != NULL ? sha256
                                         : "UNSIGNED-PAYLOAD",
        .when = time(NULL),
    };
    if (zkp_sigv4_sign(&cr, &rq, &sig) != 0)
        goto out;
    size_t n = 0;
    int oom = asprintf(&lines[n++], "Host: %s", host) < 0;
    /* libcurl drops a header written "name:" with nothing after the colon
     * (that form removes one of its own); "name;" sends it empty, as it
     * was signed (user metadata may be empty). */
    for (size_t i = 0; i < nheaders && !oom; i++)
        oom = (headers[2 * i + 1][0] == '\0'
                   ? asprintf(&lines[n++], "%s;", headers[2 * i])
                   : asprintf(&lines[n++], "%s: %s", headers[2 * i], headers[2 * i + 1])) < 0;
    if (!oom)
        oom = asprintf(&lines[n++], "x-amz-date: %s", sig.amz_date) < 0 ||
              asprintf(&lines[n++], "x-amz-content-sha256: %s", sig.content_sha256) < 0 ||
              asprintf(&lines[n++], "Authorization: %s", sig.authorization) < 0;
    if (oom || asprintf(&url, "%s://%s%s%s%s", u->scheme, host, path, query && *query ? "?" : "",
                        query && *query ? query : "") < 0) {
        url = NULL;
        goto out;
    }
    x = zkp_xfer_new(u->engine, method, url, (const char *const *)lines, n, body, stream);
    if (x != NULL)
        zkp_xfer_submit(x); /* a stopped engine ends it at once, with an error */
out:
    zkp_sigv4_signed_clear(&sig);
    for (size_t i = 0; lines != NULL && i < nheaders + 4; i++)
        free(lines[i]);
    free(lines);
    free(sh);
    free(url);
    free(path);
    return x;
}

/* --- answers -------------------------------------------------------------------------- */

int zkp_upstream_answered(zkp_upstream_t *u, zkp_xfer_t *x, const char *what, long *status)
{
    char why[256];
    if (zkp_xfer_result(x, status, why, sizeof(why)) == 0)
        return 0;
    char msg[256];
    (void)u;
    snprintf(msg, sizeof(msg), "The upstream store did not answer %.60s: %.140s; retry later", what,
             why);
    return zkp_be_fail(ZKP_BE_UNAVAILABLE, 0, NULL, msg);
}

typedef struct s3_error {
    int in_error;
    char code[64];
    char message[200];
} s3_error_t;

static void err_close(void *arg, const char *name, int depth, const char *text, size_t len)
{
    s3_error_t *e = arg;
    (void)len;
    if (depth == 1)
        e->in_error = strcmp(name, "Error") == 0;
    else if (depth == 2 && strcmp(name, "Code") == 0)
        snprintf(e->code, sizeof(e->code), "%s", text);
    else if (depth == 2 && strcmp(name, "Message") == 0)
        snprintf(e->message, sizeof(e->message), "%s", text);
}

/* A code for an answer without an S3 error document (HEAD has no body). */
static const char *code_of_status(long status, int object)
{
    switch (status) {
    case 400:
        return "BadRequest";
    case 403:
        return "AccessDenied";
    case 404:
        return object ? "NoSuchKey" : "NoSuchBucket";
    case 405:
        return "MethodNotAllowed";
    case 409:
        return "Conflict";
    case 412:
        return "PreconditionFailed";
    case 416:
        return "InvalidRange";
    default:
        return NULL;
    }
}

static int printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            return 0;
    return 1;
}

int zkp_upstream_error(zkp_upstream_t *u, zkp_xfer_t *x, long status, const char *what, int object)
{
    (void)u;
    size_t len;
    const char *body = zkp_xfer_body(x, &len);
    s3_error_t e;
    memset(&e, 0, sizeof(e));
    zkp_s3xml_handler_t h = {NULL, err_close};
    int parsed = len > 0 && zkp_s3xml_parse(body, len, &h, &e) == 0 && e.code[0] != '\0' &&
                 printable(e.code) && printable(e.message);
    char msg[256];
    /* 501 NotImplemented is no outage: retrying cannot help (s3rver lacks
     * several multipart calls), so it passes through like a 4xx. */
    if (status >= 500 && !(status == 501 && parsed)) {
        snprintf(msg, sizeof(msg), "The upstream store answered %s with %ld%s%s; retry later", what,
                 status, parsed ? " " : "", parsed ? e.code : "");
        return zkp_be_fail(ZKP_BE_UNAVAILABLE, (int)status, parsed ? e.code : NULL, msg);
    }
    if (status < 400 || (!parsed && len > 0 && code_of_status(status, object) == NULL)) {
        snprintf(msg, sizeof(msg),
                 "The upstream store answered %s with %ld, which is not an S3 "
                 "answer (a redirect: wrong region or addressing?)",
                 what, status);
        return zkp_be_fail(ZKP_BE_BAD_GATEWAY, (int)status, NULL, msg);
    }
    const char *code = parsed ? e.code : code_of_status(status, object);
    if (code == NULL)
        code = "InvalidRequest";
    if (strcmp(code, "NoSuchKey") == 0)
        return ZKP_BE_NO_KEY;
    if (strcmp(code, "NoSuchBucket") == 0)
        return ZKP_BE_NO_BUCKET;
    if (strcmp(code, "BucketNotEmpty") == 0)
        return ZKP_BE_NOT_EMPTY;
    if (strcmp(code, "BucketAlreadyOwnedByYou") == 0)
        return ZKP_BE_EXISTS;
    if (strcmp(code, "PreconditionFailed") == 0)
        return ZKP_BE_PRECONDITION;
    snprintf(msg, sizeof(msg), "%s (the upstream store refused %s)",
             parsed && e.message[0] ? e.message : code, what);
    return zkp_be_fail(ZKP_BE_UPSTREAM, (int)status, code, msg);
}
