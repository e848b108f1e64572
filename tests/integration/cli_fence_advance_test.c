/* `zkfence lock --fence-advance URL` end to end: a real ZooKeeper
 * ($ZKFENCE_TEST_ZK) and a real zkfence-proxy (the proxy harness). The mark
 * is raised to the new token before COMMAND starts; a refused, unreachable
 * or failing advance releases the lock, runs nothing and exits 79 with a
 * message naming the cause; with AWS credentials in the environment the
 * request is signed with SigV4 (checked against a listener that records
 * it). The proxy authenticates, as by default: zkfence signs with a key
 * of its credentials file, and an unsigned advance or one by a key
 * without write rights is refused (exit 79, the cause named). */
#include <arpa/inet.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "harness.h"
#include "zkf_test.h"

static char zkfence_bin[1024];
static char tmpdir[256];
/* The key zkfence signs with (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY in
 * its environment); NULL: none, an unsigned request. */
static const pt_key_t *cli_key;

/* Runs zkfence with args (NULL-terminated, without argv[0]); returns its
 * exit status and puts its stdout and stderr, together, in out. */
static int run_cli(const char *const *args, char *out, size_t outlen)
{
    int p[2];
    if (pipe(p) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        const char *argv[32] = {zkfence_bin};
        for (int i = 0; args[i] && i < 30; i++)
            argv[i + 1] = args[i];
        if (cli_key != NULL) {
            setenv("AWS_ACCESS_KEY_ID", cli_key->id, 1);
            setenv("AWS_SECRET_ACCESS_KEY", cli_key->secret, 1);
        }
        dup2(p[1], 1);
        dup2(p[1], 2);
        close(p[0]);
        execv(zkfence_bin, (char *const *)argv);
        _exit(127);
    }
    close(p[1]);
    size_t len = 0;
    ssize_t n;
    while (len + 1 < outlen && (n = read(p[0], out + len, outlen - 1 - len)) > 0)
        len += (size_t)n;
    out[len] = '\0';
    close(p[0]);
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static void proxy_url(const pt_proxy_t *p, char *out, size_t len)
{
    snprintf(out, len, "http://127.0.0.1:%u", p->port);
}

static long advance(const pt_proxy_t *p, const char *lock, const char *token)
{
    char l[256], t[64];
    snprintf(l, sizeof(l), "X-Fencing-Lock: %s", lock);
    snprintf(t, sizeof(t), "X-Fencing-Token: %s", token);
    const char *h[] = {l, t, NULL};
    pt_resp_t r;
    pt_http(p, "POST", "/_zkfence/fence-advance", h, NULL, 0, &r);
    long st = r.status;
    pt_resp_free(&r);
    return st;
}

/* The advance happens before COMMAND: COMMAND finds its own token as the
 * mark, and the audit log has the advance. */
static void test_advance_before_command(void)
{
    pt_proxy_t p;
    CU_ASSERT_EQUAL_FATAL(pt_proxy_start(&p, NULL), 0);
    char url[64], path[128], seen[512], script[2048], out[4096];
    proxy_url(&p, url, sizeof(url));
    zt_path(path, sizeof(path), "cli-advance");
    snprintf(seen, sizeof(seen), "%s/seen", tmpdir);
    /* COMMAND reads the marks with the same key (admin: the harness's). */
    snprintf(script, sizeof(script),
             "{ echo \"$ZKFENCE_TOKEN\"; curl -s --aws-sigv4 aws:amz:us-east-1:s3 "
             "--user \"$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY\" "
             "-H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' %s/_zkfence/marks; } > %s",
             url, seen);
    cli_key = &p.admin;
    const char *args[] = {"lock", "-z",   zt_hosts(), "--fence-advance", url, path, "--", "sh",
                          "-c",   script, NULL};
    CU_ASSERT_EQUAL(run_cli(args, out, sizeof(out)), 0);
    FILE *f = fopen(seen, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    char text[4096];
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    text[n] = '\0';
    fclose(f);
    unsigned long long token = strtoull(text, NULL, 10);
    CU_ASSERT(token > 0);
    char expect[400];
    snprintf(expect, sizeof(expect), "{\"lock\":\"%s\",\"mark\":\"%llu\"}", path, token);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, expect)); /* raised before COMMAND ran */
    snprintf(expect, sizeof(expect),
             "\"lock\":\"%s\",\"token\":\"%llu\",\"mark\":null,\"verdict\":\"accepted_higher\","
             "\"bucket\":null,\"key\":null,\"op\":\"FenceAdvance\"",
             path, token);
    CU_ASSERT_EQUAL(pt_audit_count(&p, expect), 1);
    /* A second holder advances past the first: its token is higher. */
    CU_ASSERT_EQUAL(run_cli(args, out, sizeof(out)), 0);
    CU_ASSERT(pt_mark(&p, path) > (long long)token);
    cli_key = NULL;
    zkf_client_t *c = zt_client(4000);
    CU_ASSERT_EQUAL(zt_contenders(c, path), 0);
    zkf_client_destroy(c);
    CU_ASSERT_EQUAL(pt_proxy_stop(&p), 0);
    pt_proxy_cleanup(&p);
}

/* Each failure: exit 79, the cause named, COMMAND not run, lock released. */
static void expect_failure(const char *url, const char *path, const char *cause1,
                           const char *cause2)
{
    char ran[512], script[1024], out[4096];
    snprintf(ran, sizeof(ran), "%s/ran", tmpdir);
    unlink(ran);
    snprintf(script, sizeof(script), "touch %s", ran);
    const char *args[] = {"lock", "-z",   zt_hosts(), "--fence-advance", url, path, "--", "sh",
                          "-c",   script, NULL};
    CU_ASSERT_EQUAL(run_cli(args, out, sizeof(out)), 79);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "fence-advance of lock"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "lock released, sh not run"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, cause1));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, cause2));
    if (strstr(out, cause1) == NULL || strstr(out, cause2) == NULL)
        fprintf(stderr, "zkfence said: %s\n", out);
    CU_ASSERT_FALSE(file_exists(ran));
    zkf_client_t *c = zt_client(4000);
    CU_ASSERT_EQUAL(zt_contenders(c, path), 0);
    zkf_client_destroy(c);
}

static void test_advance_failures(void)
{
    pt_proxy_t p;
    CU_ASSERT_EQUAL_FATAL(pt_proxy_start(&p, NULL), 0);
    char url[64], path[128];
    proxy_url(&p, url, sizeof(url));
    cli_key = &p.admin;
    /* Refused: someone raised the mark far above any token of ours. */
    zt_path(path, sizeof(path), "cli-refused");
    CU_ASSERT_EQUAL(advance(&p, path, "18446744073709551615"), 200);
    expect_failure(url, path, "412 StaleFencingToken",
                   "below the lock's mark 18446744073709551615");
    /* The mark store is down: 503. */
    zt_path(path, sizeof(path), "cli-503");
    CU_ASSERT_EQUAL(pt_status(&p, "POST", "/_zkfence/debug/marks-fail?on=1"), 204);
    expect_failure(url, path, "503", "mark store");
    CU_ASSERT_EQUAL(pt_status(&p, "POST", "/_zkfence/debug/marks-fail?on=0"), 204);
    CU_ASSERT_EQUAL(pt_proxy_stop(&p), 0);
    /* Nobody listens there any more: connection refused, with the URL. */
    char expect[200];
    snprintf(expect, sizeof(expect), "cannot reach the proxy at %s/_zkfence/fence-advance", url);
    zt_path(path, sizeof(path), "cli-unreachable");
    expect_failure(url, path, expect, "Connection refused");
    pt_proxy_cleanup(&p);
    cli_key = NULL;
    /* Not an http(s) URL: a usage error, before anything is acquired. */
    char out[4096];
    const char *bad[] = {"lock", "-z",   zt_hosts(), "--fence-advance", "ftp://x", path,
                         "--",   "true", NULL};
    CU_ASSERT_EQUAL(run_cli(bad, out, sizeof(out)), 64);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "http:// or https://"));
}

/* Who may advance, with authentication on: a key with write rights on a
 * bucket (a holder's own key), not a read-only key, not an unsigned
 * request; a refusal changes no mark. */
static void test_advance_rights(void)
{
    static const pt_key_t writer = {"AKWRITER0001", "writer-secret-0123456789"};
    static const pt_key_t reader = {"AKREADER0001", "reader-secret-0123456789"};
    char creds[512];
    snprintf(creds, sizeof(creds), "key %s %s\ngrant %s seats write\nkey %s %s\ngrant %s * read\n",
             writer.id, writer.secret, writer.id, reader.id, reader.secret, reader.id);
    pt_proxy_t p;
    CU_ASSERT_EQUAL_FATAL(pt_proxy_start_ex(&p, NULL, creds, 0), 0);
    char url[64], path[128], out[4096];
    proxy_url(&p, url, sizeof(url));
    zt_path(path, sizeof(path), "cli-rights");
    cli_key = NULL;
    expect_failure(url, path, "403 AccessDenied", "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
    cli_key = &reader;
    expect_failure(url, path, "403 AccessDenied", "write rights on a bucket");
    CU_ASSERT_EQUAL(pt_mark(&p, path), -1); /* nothing raised */
    cli_key = &writer;
    const char *args[] = {"lock", "-z",   zt_hosts(), "--fence-advance", url, path,
                          "--",   "true", NULL};
    CU_ASSERT_EQUAL(run_cli(args, out, sizeof(out)), 0);
    CU_ASSERT(pt_mark(&p, path) > 0);
    cli_key = NULL;
    CU_ASSERT_EQUAL(pt_proxy_stop(&p), 0);
    pt_proxy_cleanup(&p);
}

/* --- SigV4: a listener that records one request and answers 200 ------------------- */

typedef struct recorder {
    int fd;
    unsigned port;
    char request[8192];
} recorder_t;

static void *record_one(void *arg)
{
    recorder_t *rec = arg;
    int c = accept(rec->fd, NULL, NULL);
    if (c < 0)
        return NULL;
    size_t len = 0;
    ssize_t n;
    while (len + 1 < sizeof(rec->request) &&
           (n = read(c, rec->request + len, sizeof(rec->request) - 1 - len)) > 0) {
        len += (size_t)n;
        rec->request[len] = '\0';
        if (strstr(rec->request, "\r\n\r\n") != NULL)
            break;
    }
    static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             "Content-Length: 2\r\nConnection: close\r\n\r\n{}";
    if (write(c, ok, sizeof(ok) - 1) < 0) {
        /* the client went away: the assertions below will say so */
    }
    close(c);
    return NULL;
}

static int recorder_open(recorder_t *rec)
{
    memset(rec, 0, sizeof(*rec));
    rec->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof(a);
    if (rec->fd < 0 || bind(rec->fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        listen(rec->fd, 4) != 0 || getsockname(rec->fd, (struct sockaddr *)&a, &alen) != 0)
        return -1;
    rec->port = ntohs(a.sin_port);
    return 0;
}

static void test_sigv4_signed(void)
{
    recorder_t rec;
    CU_ASSERT_EQUAL_FATAL(recorder_open(&rec), 0);
    pthread_t t;
    pthread_create(&t, NULL, record_one, &rec);
    char url[64], path[128], out[4096];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/", rec.port);
    zt_path(path, sizeof(path), "cli-sigv4");
    setenv("AWS_ACCESS_KEY_ID", "AKIDZKFENCETEST", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "not-a-real-secret", 1);
    setenv("AWS_REGION", "eu-west-3", 1);
    setenv("AWS_SESSION_TOKEN", "session-token-xyz", 1);
    const char *args[] = {"lock", "-z",   zt_hosts(), "--fence-advance", url, path,
                          "--",   "true", NULL};
    CU_ASSERT_EQUAL(run_cli(args, out, sizeof(out)), 0);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_REGION");
    unsetenv("AWS_SESSION_TOKEN");
    pthread_join(t, NULL);
    close(rec.fd);
    const char *q = rec.request;
    CU_ASSERT_PTR_NOT_NULL(strstr(q, "POST /_zkfence/fence-advance HTTP/1.1\r\n"));
    char lock_line[200];
    snprintf(lock_line, sizeof(lock_line), "X-Fencing-Lock: %s\r\n", path);
    CU_ASSERT_PTR_NOT_NULL(strstr(q, lock_line));
    CU_ASSERT_PTR_NOT_NULL(strstr(q, "X-Fencing-Token: "));
    CU_ASSERT_PTR_NOT_NULL(
        strstr(q, "Authorization: AWS4-HMAC-SHA256 Credential=AKIDZKFENCETEST/"));
    CU_ASSERT_PTR_NOT_NULL(strstr(q, "/eu-west-3/s3/aws4_request"));
    CU_ASSERT_PTR_NOT_NULL(strstr(q, "SignedHeaders="));
    CU_ASSERT_PTR_NOT_NULL(strstr(q, "x-fencing-lock;x-fencing-token"));
    CU_ASSERT_PTR_NOT_NULL(strcasestr(q, "\r\nx-amz-date: "));
    CU_ASSERT_PTR_NOT_NULL(strstr(q, "x-amz-security-token: session-token-xyz\r\n"));
    /* The empty body's SHA-256, sent (libcurl 7.88 signs it but does not
     * send it; the proxy, as S3, requires it). */
    CU_ASSERT_PTR_NOT_NULL(strstr(q, "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb924"));
    /* Without credentials: no signature. */
    CU_ASSERT_EQUAL_FATAL(recorder_open(&rec), 0);
    pthread_create(&t, NULL, record_one, &rec);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", rec.port);
    const char *plain[] = {"lock", "-z",   zt_hosts(), "--fence-advance", url, path,
                           "--",   "true", NULL};
    CU_ASSERT_EQUAL(run_cli(plain, out, sizeof(out)), 0);
    pthread_join(t, NULL);
    close(rec.fd);
    CU_ASSERT_PTR_NOT_NULL(strstr(rec.request, "POST /_zkfence/fence-advance HTTP/1.1\r\n"));
    CU_ASSERT_PTR_NULL(strstr(rec.request, "Authorization:"));
}

static void add_tests(void *suite)
{
    CU_add_test(suite, "advance before COMMAND", test_advance_before_command);
    CU_add_test(suite, "failures: 412, 503, unreachable, bad URL", test_advance_failures);
    CU_add_test(suite, "rights: writer yes, reader and unsigned no", test_advance_rights);
    CU_add_test(suite, "SigV4 with AWS credentials", test_sigv4_signed);
}

int main(void)
{
    zt_hosts();
    const char *bin = getenv("ZKFENCE_BIN_DIR");
    snprintf(zkfence_bin, sizeof(zkfence_bin), "%s/zkfence", bin ? bin : "build/bin");
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/zkfence-cli-advance.XXXXXX");
    if (mkdtemp(tmpdir) == NULL)
        return 1;
    int rc = pt_run_suite("zkfence lock --fence-advance", add_tests);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        rc = 1;
    return rc;
}
