/* Authentication and rights against a real zkfence-proxy, in the curl
 * style: each probe an attacker or a buggy client would try, the request
 * sent, the status and S3 error code expected, and what must not have
 * reached storage. Then the rights of keys with narrower grants, the
 * credentials reload on SIGHUP, and the `auth = off` mode. */
#include <CUnit/Basic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static pt_proxy_t px;

/* Keys with narrower rights, in the suite's credentials file. */
static const pt_key_t writer = {"AKWRITER0001", "writer-secret-0123456789"};
static const pt_key_t reader = {"AKREADER0001", "reader-secret-0123456789"};
static const pt_key_t nobody = {"AKNOBODY0001", "nobody-secret-0123456789"};
#define CREDS                                                                                      \
    "key AKWRITER0001 writer-secret-0123456789\n"                                                  \
    "grant AKWRITER0001 auth-w write\n"                                                            \
    "grant AKWRITER0001 auth-r read\n"                                                             \
    "key AKREADER0001 reader-secret-0123456789\n"                                                  \
    "grant AKREADER0001 auth-r read\n"                                                             \
    "grant AKREADER0001 auth-w read\n"                                                             \
    "key AKNOBODY0001 nobody-secret-0123456789\n"

#define FENCE "X-Fencing-Lock: /locks/auth", "X-Fencing-Token: 7"

static long send_as(const pt_req_opts_t *o, const char *method, const char *path,
                    const char *const *h, const char *body, pt_resp_t *r)
{
    pt_http_opts(&px, o, method, path, h, body, body ? strlen(body) : 0, r);
    if (getenv("PT_VERBOSE") && r->status >= 400)
        fprintf(stderr, "%s %s -> %ld %s\n", method, path, r->status, r->body);
    return r->status;
}

/* The status, and whether the body names `code` (NULL: no check). */
static int expect(const pt_req_opts_t *o, const char *method, const char *path,
                  const char *const *h, const char *body, long status, const char *code)
{
    pt_resp_t r;
    long st = send_as(o, method, path, h, body, &r);
    char tag[96];
    snprintf(tag, sizeof(tag), "<Code>%s</Code>", code ? code : "");
    int ok = st == status && (code == NULL || pt_body_has(&r, tag));
    if (!ok)
        fprintf(stderr, "%s %s: expected %ld %s, got %ld %s\n", method, path, status,
                code ? code : "", st, r.body);
    pt_resp_free(&r);
    return ok;
}

static int exists(const char *path)
{
    pt_resp_t r;
    long st = send_as(NULL, "HEAD", path, NULL, NULL, &r);
    pt_resp_free(&r);
    return st == 200;
}

/* --- the probes ------------------------------------------------------------------ */

static void test_probes(void)
{
    const char *f[] = {FENCE, NULL};
    CU_ASSERT_TRUE(expect(NULL, "PUT", "/auth-w", NULL, NULL, 200, NULL));
    CU_ASSERT_TRUE(expect(NULL, "PUT", "/auth-w/ok", f, "signed", 200, NULL));

    /* No Authorization: anonymous, refused, nothing stored. */
    pt_req_opts_t anon = {.mode = PT_SIGN_NONE};
    CU_ASSERT_TRUE(expect(&anon, "PUT", "/auth-w/anon", f, "x", 403, "AccessDenied"));
    CU_ASSERT_TRUE(expect(&anon, "GET", "/auth-w/ok", NULL, NULL, 403, "AccessDenied"));
    CU_ASSERT_TRUE(expect(&anon, "GET", "/", NULL, NULL, 403, "AccessDenied"));
    CU_ASSERT_FALSE(exists("/auth-w/anon"));

    /* A wrong secret: SignatureDoesNotMatch, with what the proxy signed. */
    pt_key_t wrong = writer;
    strcpy(wrong.secret, "not-the-secret-0123456789");
    pt_req_opts_t w = {.key = &wrong};
    pt_resp_t r;
    CU_ASSERT_EQUAL(send_as(&w, "PUT", "/auth-w/wrong", f, "x", &r), 403);
    CU_ASSERT_TRUE(pt_body_has(&r, "<Code>SignatureDoesNotMatch</Code>"));
    CU_ASSERT_TRUE(pt_body_has(&r, "<CanonicalRequest>PUT\n/auth-w/wrong\n"));
    CU_ASSERT_TRUE(pt_body_has(&r, "<AWSAccessKeyId>AKWRITER0001</AWSAccessKeyId>"));
    CU_ASSERT_FALSE(pt_body_has(&r, "writer-secret"));
    pt_resp_free(&r);
    CU_ASSERT_FALSE(exists("/auth-w/wrong"));

    /* An unknown key. */
    pt_key_t ghost = {"AKGHOST00001", "ghost-secret-0123456789"};
    pt_req_opts_t g = {.key = &ghost};
    CU_ASSERT_TRUE(expect(&g, "GET", "/auth-w/ok", NULL, NULL, 403, "InvalidAccessKeyId"));

    /* A signature tampered with: the request of one key, one byte changed. */
    const pt_req_opts_t wo = {.key = &writer};
    const char *given[] = {FENCE, NULL};
    char *head = pt_signed_head(&px, &wo, "PUT", "/auth-w/tampered", given, "x", 1);
    char *sig = strstr(head, "Signature=");
    CU_ASSERT_PTR_NOT_NULL_FATAL(sig);
    sig[10] = sig[10] == '0' ? '1' : '0';
    char req[4096], out[4096];
    snprintf(req, sizeof(req), "%.*sContent-Length: 1\r\n\r\nx", (int)(strlen(head) - 2), head);
    CU_ASSERT(pt_raw(&px, req, strlen(req), 1, out, sizeof(out), 5000) > 0);
    CU_ASSERT_EQUAL(pt_raw_status(out), 403);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "<Code>SignatureDoesNotMatch</Code>"));
    free(head);
    CU_ASSERT_FALSE(exists("/auth-w/tampered"));

    /* A signed request with its path changed: the signature covers it. */
    head = pt_signed_head(&px, &wo, "PUT", "/auth-w/aaaa", given, "x", 1);
    char *p = strstr(head, "/auth-w/aaaa");
    memcpy(p, "/auth-w/bbbb", 12);
    snprintf(req, sizeof(req), "%.*sContent-Length: 1\r\n\r\nx", (int)(strlen(head) - 2), head);
    pt_raw(&px, req, strlen(req), 1, out, sizeof(out), 5000);
    CU_ASSERT_EQUAL(pt_raw_status(out), 403);
    free(head);
    CU_ASSERT_FALSE(exists("/auth-w/bbbb"));

    /* The clock: 16 minutes off either way is refused, 14 is not. */
    pt_req_opts_t late = {.key = &writer, .skew_s = -16 * 60};
    pt_req_opts_t early = {.key = &writer, .skew_s = 16 * 60};
    pt_req_opts_t ok = {.key = &writer, .skew_s = -14 * 60};
    CU_ASSERT_TRUE(expect(&late, "PUT", "/auth-w/late", f, "x", 403, "RequestTimeTooSkewed"));
    CU_ASSERT_TRUE(expect(&early, "PUT", "/auth-w/early", f, "x", 403, "RequestTimeTooSkewed"));
    CU_ASSERT_TRUE(expect(&ok, "PUT", "/auth-w/skewed-ok", f, "x", 200, NULL));
    CU_ASSERT_FALSE(exists("/auth-w/late"));
    CU_ASSERT_FALSE(exists("/auth-w/early"));

    /* Presigned URLs: valid, then expired; a wrong region. */
    pt_req_opts_t pre = {.mode = PT_SIGN_PRESIGNED, .key = &reader, .expires_s = 60};
    CU_ASSERT_TRUE(expect(&pre, "GET", "/auth-w/ok", NULL, NULL, 200, NULL));
    pt_req_opts_t old = {
        .mode = PT_SIGN_PRESIGNED, .key = &reader, .expires_s = 60, .skew_s = -120};
    CU_ASSERT_EQUAL(send_as(&old, "GET", "/auth-w/ok", NULL, NULL, &r), 403);
    CU_ASSERT_TRUE(pt_body_has(&r, "<Code>AccessDenied</Code>"));
    CU_ASSERT_TRUE(pt_body_has(&r, "Request has expired"));
    pt_resp_free(&r);
    pt_req_opts_t region = {.key = &writer, .region = "eu-west-1"};
    CU_ASSERT_TRUE(
        expect(&region, "GET", "/auth-w/ok", NULL, NULL, 400, "AuthorizationHeaderMalformed"));
    pt_req_opts_t preput = {.mode = PT_SIGN_PRESIGNED, .key = &writer, .expires_s = 60};
    CU_ASSERT_TRUE(expect(&preput, "PUT", "/auth-w/presigned", f, "by url", 200, NULL));

    /* Malformed or foreign authorisation schemes. */
    const char *bad_auth[] = {"Authorization: AWS4-HMAC-SHA256 Credential=junk", NULL};
    CU_ASSERT_TRUE(
        expect(&anon, "GET", "/auth-w/ok", bad_auth, NULL, 400, "AuthorizationHeaderMalformed"));
    const char *v2[] = {"Authorization: AWS AKWRITER0001:c2lnbmF0dXJl", NULL};
    CU_ASSERT_TRUE(expect(&anon, "GET", "/auth-w/ok", v2, NULL, 400, "InvalidRequest"));

    /* The body must be what x-amz-content-sha256 says: checked as it
     * streams, refused at its end, nothing committed. */
    size_t n = 300000;
    char *big = malloc(n + 1);
    memset(big, 'b', n);
    big[n] = '\0';
    pt_req_opts_t lie = {.key = &writer,
                         .payload =
                             "0000000000000000000000000000000000000000000000000000000000000000"};
    CU_ASSERT_TRUE(expect(&lie, "PUT", "/auth-w/lie", f, big, 400, "XAmzContentSHA256Mismatch"));
    free(big);
    CU_ASSERT_FALSE(exists("/auth-w/lie"));
    CU_ASSERT_TRUE(PT_WAIT_UNTIL(pt_count_staged(&px) == 0, 5000));

    /* UNSIGNED-PAYLOAD: accepted, the body is not covered. */
    pt_req_opts_t unsigned_body = {.key = &writer, .payload = "UNSIGNED-PAYLOAD"};
    CU_ASSERT_TRUE(expect(&unsigned_body, "PUT", "/auth-w/unsigned", f, "u", 200, NULL));

    /* The fencing headers decide what is written: they must be signed. A
     * token added to a signed request by a middleman is refused. */
    head = pt_signed_head(&px, &wo, "PUT", "/auth-w/added-token", NULL, "x", 1);
    snprintf(req, sizeof(req),
             "%.*sX-Fencing-Lock: /locks/auth\r\nX-Fencing-Token: 99999\r\n"
             "Content-Length: 1\r\n\r\nx",
             (int)(strlen(head) - 2), head);
    pt_raw(&px, req, strlen(req), 1, out, sizeof(out), 5000);
    CU_ASSERT_EQUAL(pt_raw_status(out), 403);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "the x-fencing-lock header must be signed"));
    free(head);
    CU_ASSERT_FALSE(exists("/auth-w/added-token"));
    /* ... and no mark was raised by it. */
    CU_ASSERT_TRUE(expect(NULL, "PUT", "/auth-w/ok", f, "still token 7", 200, NULL));

    /* Every refusal above is counted. */
    CU_ASSERT_EQUAL(send_as(NULL, "GET", "/_zkfence/metrics", NULL, NULL, &r), 200);
    CU_ASSERT_TRUE(pt_body_has(&r, "zkfence_auth_refused_total "));
    CU_ASSERT_FALSE(pt_body_has(&r, "zkfence_auth_refused_total 0\n"));
    pt_resp_free(&r);
}

/* --- rights ------------------------------------------------------------------------ */

static void test_rights(void)
{
    const char *f[] = {FENCE, NULL};
    pt_req_opts_t w = {.key = &writer}, rd = {.key = &reader}, no = {.key = &nobody};
    pt_resp_t r0;
    CU_ASSERT_TRUE(expect(NULL, "PUT", "/auth-r", NULL, NULL, 200, NULL));
    CU_ASSERT_TRUE(expect(NULL, "PUT", "/auth-x", NULL, NULL, 200, NULL));
    CU_ASSERT_TRUE(expect(NULL, "PUT", "/auth-r/src", f, "source", 200, NULL));
    CU_ASSERT_TRUE(expect(NULL, "PUT", "/auth-x/secret", f, "secret", 200, NULL));

    /* Writer: writes its bucket, reads the other, nothing else. */
    CU_ASSERT_TRUE(expect(&w, "PUT", "/auth-w/by-writer", f, "w", 200, NULL));
    CU_ASSERT_TRUE(expect(&w, "GET", "/auth-r/src", NULL, NULL, 200, NULL));
    CU_ASSERT_TRUE(expect(&w, "PUT", "/auth-r/by-writer", f, "w", 403, "AccessDenied"));
    CU_ASSERT_TRUE(expect(&w, "GET", "/auth-x/secret", NULL, NULL, 403, "AccessDenied"));
    CU_ASSERT_TRUE(expect(&w, "DELETE", "/auth-x/secret", f, NULL, 403, "AccessDenied"));
    CU_ASSERT_TRUE(expect(&w, "GET", "/auth-x?list-type=2", NULL, NULL, 403, "AccessDenied"));
    /* Bucket creation and deletion are admin's, even on its own bucket. */
    CU_ASSERT_TRUE(expect(&w, "PUT", "/auth-new", NULL, NULL, 403, "AccessDenied"));
    CU_ASSERT_TRUE(expect(&w, "DELETE", "/auth-w", NULL, NULL, 403, "AccessDenied"));
    /* Copy: write on the destination and read on the source. */
    const char *copy_r[] = {FENCE, "x-amz-copy-source: /auth-r/src", NULL};
    const char *copy_x[] = {FENCE, "x-amz-copy-source: /auth-x/secret", NULL};
    CU_ASSERT_TRUE(expect(&w, "PUT", "/auth-w/copied", copy_r, NULL, 200, NULL));
    CU_ASSERT_TRUE(expect(&w, "PUT", "/auth-w/stolen", copy_x, NULL, 403, "AccessDenied"));
    CU_ASSERT_FALSE(exists("/auth-w/stolen"));
    CU_ASSERT_FALSE(exists("/auth-r/by-writer"));

    /* Reader: reads, never writes. */
    CU_ASSERT_TRUE(expect(&rd, "GET", "/auth-w/by-writer", NULL, NULL, 200, NULL));
    CU_ASSERT_TRUE(expect(&rd, "HEAD", "/auth-r", NULL, NULL, 200, NULL));
    CU_ASSERT_TRUE(expect(&rd, "PUT", "/auth-w/by-reader", f, "r", 403, "AccessDenied"));
    CU_ASSERT_TRUE(expect(&rd, "DELETE", "/auth-w/by-writer", f, NULL, 403, "AccessDenied"));
    const char *doc = "<Delete><Object><Key>by-writer</Key></Object></Delete>";
    CU_ASSERT_TRUE(expect(&rd, "POST", "/auth-w?delete", f, doc, 403, "AccessDenied"));
    CU_ASSERT_TRUE(exists("/auth-w/by-writer"));

    /* A fenced read may raise the lock's mark (and so refuse the holder's
     * writes): it needs write rights on the bucket. The reader's fenced
     * GET, HEAD and listing with a far higher token are refused before the
     * mark store is consulted; the mark stays; the writer's is served. */
    const char *rf[] = {"X-Fencing-Lock: /locks/auth-read", "X-Fencing-Token: 1000000", NULL};
    const char *wf[] = {"X-Fencing-Lock: /locks/auth-read", "X-Fencing-Token: 5", NULL};
    CU_ASSERT_TRUE(expect(&w, "GET", "/auth-w/by-writer", wf, NULL, 200, NULL));
    CU_ASSERT_EQUAL(pt_mark(&px, "/locks/auth-read"), 5);
    CU_ASSERT_EQUAL(send_as(&rd, "GET", "/auth-w/by-writer", rf, NULL, &r0), 403);
    CU_ASSERT_TRUE(pt_body_has(&r0, "<Code>AccessDenied</Code>"));
    CU_ASSERT_TRUE(pt_body_has(&r0, "fenced read"));
    pt_resp_free(&r0);
    CU_ASSERT_EQUAL(send_as(&rd, "HEAD", "/auth-w/by-writer", rf, NULL, &r0), 403);
    pt_resp_free(&r0);
    CU_ASSERT_TRUE(expect(&rd, "GET", "/auth-w?list-type=2", rf, NULL, 403, "AccessDenied"));
    CU_ASSERT_TRUE(expect(&rd, "HEAD", "/auth-w/missing", rf, NULL, 403, NULL));
    CU_ASSERT_EQUAL(pt_mark(&px, "/locks/auth-read"), 5);
    /* A token alone takes a bound key's lock (after the rights check): the
     * same rule, in either spelling. */
    const char *bw[] = {"X-Fencing-Token: 5", NULL};
    CU_ASSERT_TRUE(expect(&w, "PUT", "/auth-w/bound/k", bw, "w", 200, NULL));
    CU_ASSERT_EQUAL(pt_mark(&px, "/locks/auth-bound"), 5);
    const char *tok[] = {"X-Fencing-Token: 18446744073709551615", NULL};
    const char *mtok[] = {"x-amz-meta-fencing-token: 18446744073709551615", NULL};
    CU_ASSERT_TRUE(expect(&rd, "GET", "/auth-w/bound/k", tok, NULL, 403, "AccessDenied"));
    CU_ASSERT_TRUE(expect(&rd, "GET", "/auth-w/bound/k", mtok, NULL, 403, "AccessDenied"));
    CU_ASSERT_TRUE(expect(&rd, "GET", "/auth-w?list-type=2", tok, NULL, 403, "AccessDenied"));
    CU_ASSERT_EQUAL(pt_mark(&px, "/locks/auth-bound"), 5);
    CU_ASSERT_TRUE(expect(&rd, "GET", "/auth-w/bound/k", NULL, NULL, 200, NULL)); /* unfenced */
    CU_ASSERT_TRUE(expect(&w, "PUT", "/auth-w/after-read", wf, "w", 200, NULL));

    /* A key without grants authenticates and may do nothing. */
    CU_ASSERT_TRUE(expect(&no, "GET", "/auth-w/by-writer", NULL, NULL, 403, "AccessDenied"));

    /* ListBuckets: only what the key may read. */
    pt_resp_t r;
    CU_ASSERT_EQUAL(send_as(&rd, "GET", "/", NULL, NULL, &r), 200);
    CU_ASSERT_TRUE(pt_body_has(&r, "<Name>auth-r</Name>"));
    CU_ASSERT_TRUE(pt_body_has(&r, "<Name>auth-w</Name>"));
    CU_ASSERT_FALSE(pt_body_has(&r, "<Name>auth-x</Name>"));
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(send_as(&no, "GET", "/", NULL, NULL, &r), 200);
    CU_ASSERT_FALSE(pt_body_has(&r, "<Name>"));
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(send_as(NULL, "GET", "/", NULL, NULL, &r), 200);
    CU_ASSERT_TRUE(pt_body_has(&r, "<Name>auth-x</Name>"));
    pt_resp_free(&r);

    /* Admin endpoints: marks (every lock's name) only to admins; health to
     * anyone; metrics to anyone on loopback (this test is loopback). */
    pt_req_opts_t anon = {.mode = PT_SIGN_NONE};
    CU_ASSERT_TRUE(expect(&anon, "GET", "/_zkfence/marks", NULL, NULL, 403, "AccessDenied"));
    CU_ASSERT_TRUE(expect(&w, "GET", "/_zkfence/marks", NULL, NULL, 403, "AccessDenied"));
    CU_ASSERT_EQUAL(send_as(NULL, "GET", "/_zkfence/marks", NULL, NULL, &r), 200);
    CU_ASSERT_TRUE(pt_body_has(&r, "\"lock\":\"/locks/auth\""));
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(send_as(&anon, "GET", "/_zkfence/health", NULL, NULL, &r), 200);
    CU_ASSERT_TRUE(pt_body_has(&r, "\"auth\":\"on\""));
    pt_resp_free(&r);
    CU_ASSERT_TRUE(expect(&anon, "GET", "/_zkfence/metrics", NULL, NULL, 200, NULL));
    CU_ASSERT_TRUE(
        expect(&w, "POST", "/_zkfence/debug/marks-fail?on=1", NULL, NULL, 403, "AccessDenied"));

    /* Fence-advance: admin, or write rights on some bucket (the writer
     * could raise the lock's mark with a fenced write as well); the reader,
     * a key without grants and an unsigned request are refused before the
     * mark store is consulted: the mark stays as it was, and the refusal
     * does not name it. */
    const char *adv[] = {"X-Fencing-Lock: /locks/auth-adv", "X-Fencing-Token: 30", NULL};
    const char *adv_hi[] = {"X-Fencing-Lock: /locks/auth-adv", "X-Fencing-Token: 40", NULL};
    const char *adv_sent[] = {"X-Fencing-Lock: /locks/auth-adv", "X-Fencing-Token: 50", NULL};
    CU_ASSERT_TRUE(expect(&w, "POST", "/_zkfence/fence-advance", adv, NULL, 200, NULL));
    CU_ASSERT_EQUAL(pt_mark(&px, "/locks/auth-adv"), 30);
    CU_ASSERT_TRUE(expect(NULL, "POST", "/_zkfence/fence-advance", adv_hi, NULL, 200, NULL));
    CU_ASSERT_EQUAL(pt_mark(&px, "/locks/auth-adv"), 40);
    CU_ASSERT_EQUAL(send_as(&rd, "POST", "/_zkfence/fence-advance", adv_sent, NULL, &r), 403);
    CU_ASSERT_TRUE(pt_body_has(&r, "<Code>AccessDenied</Code>"));
    CU_ASSERT_TRUE(pt_body_has(&r, "write rights on a bucket"));
    CU_ASSERT_FALSE(pt_body_has(&r, "HighWaterMark")); /* nothing learnt of the mark */
    pt_resp_free(&r);
    CU_ASSERT_TRUE(
        expect(&no, "POST", "/_zkfence/fence-advance", adv_sent, NULL, 403, "AccessDenied"));
    CU_ASSERT_TRUE(
        expect(&anon, "POST", "/_zkfence/fence-advance", adv_sent, NULL, 403, "AccessDenied"));
    CU_ASSERT_EQUAL(pt_mark(&px, "/locks/auth-adv"), 40);

    /* DeleteBucket: admin's, and of a fenced (required) bucket too. */
    CU_ASSERT_TRUE(expect(NULL, "PUT", "/auth-empty", NULL, NULL, 200, NULL));
    CU_ASSERT_TRUE(expect(&w, "DELETE", "/auth-empty", NULL, NULL, 403, "AccessDenied"));
    CU_ASSERT_TRUE(expect(&anon, "DELETE", "/auth-empty", NULL, NULL, 403, "AccessDenied"));
    CU_ASSERT_TRUE(exists("/auth-empty"));
    CU_ASSERT_TRUE(expect(NULL, "DELETE", "/auth-empty", NULL, NULL, 204, NULL));
    CU_ASSERT_FALSE(exists("/auth-empty"));
}

/* --- SIGHUP reloads the credentials -------------------------------------------------- */

static void write_creds(const char *text, mode_t mode)
{
    char tmp[400];
    snprintf(tmp, sizeof(tmp), "%s.new", px.creds);
    FILE *f = fopen(tmp, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fprintf(f, "key %s %s\ngrant %s * admin\n%s", px.admin.id, px.admin.secret, px.admin.id, text);
    fclose(f);
    chmod(tmp, mode);
    CU_ASSERT_EQUAL(rename(tmp, px.creds), 0);
}

static int hup_and_wait(const char *line)
{
    int before = pt_log_count(&px, line);
    kill(px.pid, SIGHUP);
    return PT_WAIT_UNTIL(pt_log_count(&px, line) > before, 10000);
}

static void test_reload(void)
{
    const pt_key_t fresh = {"AKFRESH00001", "fresh-secret-0123456789"};
    pt_req_opts_t fr = {.key = &fresh}, w = {.key = &writer};
    CU_ASSERT_TRUE(expect(&fr, "GET", "/auth-w/ok", NULL, NULL, 403, "InvalidAccessKeyId"));
    /* A new key, the writer gone. */
    write_creds("key AKFRESH00001 fresh-secret-0123456789\ngrant AKFRESH00001 auth-w read\n", 0600);
    CU_ASSERT_TRUE(hup_and_wait("credentials reloaded: 2 keys"));
    CU_ASSERT_TRUE(expect(&fr, "GET", "/auth-w/ok", NULL, NULL, 200, NULL));
    CU_ASSERT_TRUE(expect(&w, "GET", "/auth-w/ok", NULL, NULL, 403, "InvalidAccessKeyId"));
    /* A file others may read: refused, the keys in use kept. */
    write_creds("key AKWRITER0001 writer-secret-0123456789\n", 0644);
    CU_ASSERT_TRUE(hup_and_wait("credentials NOT reloaded"));
    CU_ASSERT_EQUAL(pt_log_count(&px, "has mode 0644"), 1);
    CU_ASSERT_TRUE(expect(&fr, "GET", "/auth-w/ok", NULL, NULL, 200, NULL));
    CU_ASSERT_TRUE(expect(&w, "GET", "/auth-w/ok", NULL, NULL, 403, "InvalidAccessKeyId"));
    /* A malformed one: the same. */
    write_creds("grant AKNOSUCH * admin\n", 0600);
    CU_ASSERT_TRUE(hup_and_wait("credentials NOT reloaded"));
    CU_ASSERT_EQUAL(pt_log_count(&px, "no such key on an earlier line"), 1);
    CU_ASSERT_TRUE(expect(&fr, "GET", "/auth-w/ok", NULL, NULL, 200, NULL));
    /* Back to the suite's own. */
    write_creds(CREDS, 0600);
    CU_ASSERT_TRUE(hup_and_wait("credentials reloaded: 4 keys"));
    CU_ASSERT_TRUE(expect(&w, "GET", "/auth-w/ok", NULL, NULL, 200, NULL));
}

/* --- auth = off ------------------------------------------------------------------- */

static void test_auth_off(void)
{
    pt_proxy_t off;
    CU_ASSERT_EQUAL_FATAL(pt_proxy_start(&off, "auth = off\nbucket.open.fencing = optional\n"), 0);
    CU_ASSERT_EQUAL(pt_log_count(&off, "WARNING: auth = off"), 1);
    pt_req_opts_t anon = {.mode = PT_SIGN_NONE};
    pt_resp_t r;
    CU_ASSERT_EQUAL(pt_http_opts(&off, &anon, "GET", "/_zkfence/health", NULL, NULL, 0, &r), 0);
    CU_ASSERT_TRUE(pt_body_has(&r, "\"auth\":\"off\""));
    pt_resp_free(&r);
    pt_http_opts(&off, &anon, "PUT", "/open", NULL, NULL, 0, &r);
    CU_ASSERT_EQUAL(r.status, 200);
    pt_resp_free(&r);
    pt_http_opts(&off, &anon, "PUT", "/open/k", NULL, "plain", 5, &r);
    CU_ASSERT_EQUAL(r.status, 200);
    pt_resp_free(&r);
    pt_http_opts(&off, &anon, "GET", "/_zkfence/marks", NULL, NULL, 0, &r);
    CU_ASSERT_EQUAL(r.status, 200);
    pt_resp_free(&r);
    /* A wrong signature is not even looked at. */
    pt_key_t wrong = {"AKWHOEVER001", "whatever-secret-0123456789"};
    pt_req_opts_t w = {.key = &wrong};
    pt_http_opts(&off, &w, "GET", "/open/k", NULL, NULL, 0, &r);
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT(r.len == 5 && memcmp(r.body, "plain", 5) == 0);
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(pt_proxy_stop(&off), 0);
    pt_proxy_cleanup(&off);
}

static void test_clean_shutdown(void)
{
    CU_ASSERT_EQUAL(pt_proxy_stop(&px), 0);
}

static void add_tests(void *suite)
{
    if (pt_proxy_start_ex(&px, "bind.auth-w/bound/ = /locks/auth-bound\n", CREDS, 0) != 0) {
        fprintf(stderr, "cannot start the proxy\n");
        exit(1);
    }
    CU_add_test(suite, "probes", test_probes);
    CU_add_test(suite, "rights", test_rights);
    CU_add_test(suite, "reload", test_reload);
    CU_add_test(suite, "auth_off", test_auth_off);
    CU_add_test(suite, "clean_shutdown", test_clean_shutdown);
}

int main(void)
{
    int rc = pt_run_suite("proxy_auth", add_tests);
    if (rc != 0)
        pt_proxy_dump_log(&px);
    pt_proxy_cleanup(&px);
    return rc;
}
