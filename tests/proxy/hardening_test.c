/* HTTP hardening against a real zkfence-proxy: request smuggling through
 * repeated or conflicting Content-Length / Transfer-Encoding, clients that
 * trickle their headers to hold connections, too many connections from one
 * address, fencing headers sent twice, oversized user metadata. Each test
 * sends the request and asserts the status, the error code, that the
 * connection was closed where the framing was in doubt, and that nothing
 * reached storage. Every request is signed (auth on): a refusal here is
 * the check under test, not a missing signature. */
#include <CUnit/Basic.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

static pt_proxy_t px;

#define FENCE "X-Fencing-Lock: /locks/hard", "X-Fencing-Token: 3"

static long status_of(const char *method, const char *path, const char *const *h, const char *body)
{
    pt_resp_t r;
    pt_http(&px, method, path, h, body, body ? strlen(body) : 0, &r);
    long st = r.status;
    pt_resp_free(&r);
    return st;
}

static int exists(const char *path)
{
    return status_of("HEAD", path, NULL, NULL) == 200;
}

/* A signed request as raw bytes: head (with the extra header lines, which
 * are not signed: Content-Length and Transfer-Encoding never are) and
 * body. */
static char *raw_request(const char *method, const char *path, const char *const *signed_h,
                         const char *extra, const char *body, size_t blen, size_t *out_len)
{
    pt_req_opts_t o = {.payload = "UNSIGNED-PAYLOAD"};
    char *head = pt_signed_head(&px, &o, method, path, signed_h, NULL, 0);
    size_t hl = strlen(head) - 2; /* without the blank line */
    char *out = malloc(hl + strlen(extra) + 4 + blen + 1);
    memcpy(out, head, hl);
    size_t n = hl;
    memcpy(out + n, extra, strlen(extra));
    n += strlen(extra);
    memcpy(out + n, "\r\n\r\n", 4); /* the extra lines' end, and the head's */
    n += 4;
    memcpy(out + n, body, blen);
    n += blen;
    out[n] = '\0';
    free(head);
    *out_len = n;
    return out;
}

/* Sends req on a fresh connection (keeping our side open) and reads until
 * the server closes or 5 s pass. Returns the answer's status; *closed
 * tells whether the server closed; *answers counts status lines. */
static int send_raw(const char *req, size_t len, int *closed, int *answers)
{
    char out[16384];
    int eof = 0;
    long n = pt_raw_eof(&px, req, len, 0, out, sizeof(out), 5000, &eof);
    *closed = eof == 1 || eof == 2;
    *answers = 0;
    for (const char *p = out; n > 0 && (p = strstr(p, "HTTP/1.1 ")) != NULL; p++)
        (*answers)++;
    if (getenv("PT_VERBOSE"))
        fprintf(stderr, "raw answer (%ld bytes, eof %d): %s\n", n, eof, out);
    return n > 0 ? pt_raw_status(out) : 0;
}

/* --- smuggling ----------------------------------------------------------------------- */

static void test_smuggling(void)
{
    CU_ASSERT_EQUAL(status_of("PUT", "/hard", NULL, NULL), 200);
    CU_ASSERT_EQUAL(status_of("PUT", "/hard/victim", (const char *[]){FENCE, NULL}, "keep me"),
                    200);
    /* The request to be smuggled: valid and signed on its own, so that only
     * the framing check can stop it. */
    size_t slen, dlen, len;
    const char *sh[] = {FENCE, NULL};
    char *smuggled =
        raw_request("PUT", "/hard/smuggled", sh, "Content-Length: 4", "evil", 4, &slen);
    char *del = raw_request("DELETE", "/hard/victim", sh, "Content-Length: 0", "", 0, &dlen);
    char cl[64];
    int closed, answers;

    /* Two Content-Lengths that disagree: libmicrohttpd takes the first (5),
     * the rest of the body would be the next request. */
    char *body = malloc(5 + slen + 1);
    memcpy(body, "hello", 5);
    memcpy(body + 5, smuggled, slen);
    size_t blen = 5 + slen;
    snprintf(cl, sizeof(cl), "Content-Length: 5\r\nContent-Length: %zu", blen);
    char *req = raw_request("PUT", "/hard/front", sh, cl, body, blen, &len);
    CU_ASSERT_EQUAL(send_raw(req, len, &closed, &answers), 400);
    CU_ASSERT_TRUE(closed);
    CU_ASSERT_EQUAL(answers, 1);
    free(req);
    /* The same value twice: as ambiguous to whoever is in front of us. */
    req = raw_request("PUT", "/hard/front2", sh, "Content-Length: 5\r\nContent-Length: 5", "hello",
                      5, &len);
    CU_ASSERT_EQUAL(send_raw(req, len, &closed, &answers), 400);
    CU_ASSERT_TRUE(closed);
    free(req);
    /* Content-Length with Transfer-Encoding. */
    snprintf(cl, sizeof(cl), "Content-Length: 5\r\nTransfer-Encoding: chunked");
    char chunked[64];
    int cn = snprintf(chunked, sizeof(chunked), "5\r\nhello\r\n0\r\n\r\n");
    char *both = malloc((size_t)cn + slen + 1);
    memcpy(both, chunked, (size_t)cn);
    memcpy(both + cn, smuggled, slen + 1);
    req = raw_request("PUT", "/hard/front3", sh, cl, both, strlen(both), &len);
    CU_ASSERT_EQUAL(send_raw(req, len, &closed, &answers), 400);
    CU_ASSERT_TRUE(closed);
    CU_ASSERT_EQUAL(answers, 1);
    free(req);
    free(both);
    /* A GET whose first Content-Length is 0: what follows is a DELETE of
     * another object, if anyone reads it. */
    snprintf(cl, sizeof(cl), "Content-Length: 0\r\nContent-Length: %zu", dlen);
    req = raw_request("GET", "/hard/victim", NULL, cl, del, dlen, &len);
    CU_ASSERT_EQUAL(send_raw(req, len, &closed, &answers), 400);
    CU_ASSERT_TRUE(closed);
    CU_ASSERT_EQUAL(answers, 1);
    free(req);
    /* A transfer coding other than chunked. */
    req = raw_request("PUT", "/hard/front4", sh, "Transfer-Encoding: gzip", "", 0, &len);
    CU_ASSERT_EQUAL(send_raw(req, len, &closed, &answers), 501);
    CU_ASSERT_TRUE(closed);
    free(req);
    /* None of it was executed. */
    const char *never[] = {"/hard/front", "/hard/front2", "/hard/front3", "/hard/front4",
                           "/hard/smuggled"};
    for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++)
        CU_ASSERT_FALSE(exists(never[i]));
    CU_ASSERT_TRUE(exists("/hard/victim"));
    CU_ASSERT_EQUAL(pt_audit_count(&px, "/hard/smuggled"), 0);
    CU_ASSERT_TRUE(PT_WAIT_UNTIL(pt_count_staged(&px) == 0, 5000));
    /* The smuggled request alone is fine: the refusals were the framing. */
    CU_ASSERT_EQUAL(send_raw(smuggled, slen, &closed, &answers), 200);
    CU_ASSERT_TRUE(exists("/hard/smuggled"));
    free(body);
    free(smuggled);
    free(del);
}

/* --- repeated fencing headers, metadata size ------------------------------------------- */

static void test_repeated_headers(void)
{
    struct {
        const char *h[4];
        const char *code;
    } cases[] = {
        {{"X-Fencing-Lock: /locks/hard", "X-Fencing-Token: 3", "X-Fencing-Token: 9"},
         "InvalidFencingToken"},
        {{"X-Fencing-Lock: /locks/hard", "X-Fencing-Token: 3", "X-Fencing-Token: 3"},
         "InvalidFencingToken"},
        {{"X-Fencing-Lock: /locks/hard", "X-Fencing-Lock: /locks/other", "X-Fencing-Token: 3"},
         "InvalidFencingLock"},
        {{"x-amz-meta-fencing-lock: /locks/hard", "x-amz-meta-fencing-token: 3",
          "x-amz-meta-fencing-token: 12"},
         "InvalidFencingToken"},
        {{"x-amz-meta-fencing-lock: /locks/hard", "x-amz-meta-fencing-lock: /locks/x",
          "x-amz-meta-fencing-token: 3"},
         "InvalidFencingLock"},
        {{FENCE, "x-amz-meta-color: red", "x-amz-meta-color: blue"}, "InvalidArgument"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *h[5] = {cases[i].h[0], cases[i].h[1], cases[i].h[2], cases[i].h[3], NULL};
        char path[64], tag[64];
        snprintf(path, sizeof(path), "/hard/twice-%zu", i);
        snprintf(tag, sizeof(tag), "<Code>%s</Code>", cases[i].code);
        pt_resp_t r;
        pt_http(&px, "PUT", path, h, "x", 1, &r);
        CU_ASSERT_EQUAL(r.status, 400);
        CU_ASSERT_TRUE(pt_body_has(&r, tag));
        if (r.status != 400 || !pt_body_has(&r, tag))
            fprintf(stderr, "twice %zu: %ld %s\n", i, r.status, r.body);
        pt_resp_free(&r);
        CU_ASSERT_FALSE(exists(path));
    }
    /* No mark rose to 9 or 12 on the way. */
    CU_ASSERT_EQUAL(status_of("PUT", "/hard/after", (const char *[]){FENCE, NULL}, "3 still"), 200);

    /* User metadata: 2 KB of names and values at most, as S3. */
    char *v = malloc(3000);
    memset(v, 'm', 3000);
    memcpy(v, "x-amz-meta-big: ", 16);
    v[16 + 2048 - 3] = '\0'; /* "big" + 2045 bytes = 2048 */
    const char *ok[] = {FENCE, v, NULL};
    CU_ASSERT_EQUAL(status_of("PUT", "/hard/meta-ok", ok, "x"), 200);
    v[16 + 2048 - 3] = 'm';
    v[16 + 2048 - 2] = '\0'; /* one byte more */
    pt_resp_t r;
    pt_http(&px, "PUT", "/hard/meta-big", ok, "x", 1, &r);
    if (r.status != 400)
        fprintf(stderr, "metadata: %ld %s\n", r.status, r.body);
    CU_ASSERT_EQUAL(r.status, 400);
    CU_ASSERT_TRUE(pt_body_has(&r, "<Code>MetadataTooLarge</Code>"));
    pt_resp_free(&r);
    CU_ASSERT_FALSE(exists("/hard/meta-big"));
    free(v);
}

/* --- per-address connection cap ------------------------------------------------------- */

/* 1 if the server closes fd within ms without answering. */
static int closed_by_server(int fd, int ms)
{
    char buf[64];
    int64_t deadline = pt_now_ms() + ms;
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
            return 1;
        if (n > 0 || pt_now_ms() >= deadline)
            return 0;
        pt_poll_interval();
    }
}

static int healthy(const pt_proxy_t *p)
{
    pt_resp_t r;
    pt_http(p, "GET", "/_zkfence/health", NULL, NULL, 0, &r);
    int ok = r.status == 200;
    pt_resp_free(&r);
    return ok;
}

/* A connection that was served once (one health request), kept open; or
 * -1 if the server closed it instead. */
static int served_conn(const pt_proxy_t *p)
{
    int fd = pt_conn_open(p);
    char *head = pt_signed_head(p, NULL, "GET", "/_zkfence/health", NULL, NULL, 0);
    char out[4096];
    int ok = fd >= 0 && pt_conn_send(fd, head, strlen(head)) == 0 &&
             pt_conn_read_response(fd, out, sizeof(out), 3000) > 0 && pt_raw_status(out) == 200;
    free(head);
    if (!ok) {
        pt_conn_close(fd);
        return -1;
    }
    return fd;
}

static void test_per_ip_cap(void)
{
    pt_proxy_t p;
    CU_ASSERT_EQUAL_FATAL(
        pt_proxy_start(&p, "max_connections_per_ip = 4\nconnection_timeout_s = 60\n"), 0);
    /* Four connections, each served (the harness's own requests may still
     * be counted for a moment: retried until they are not). */
    int fds[4];
    for (int i = 0; i < 4; i++)
        CU_ASSERT_TRUE(PT_WAIT_UNTIL((fds[i] = served_conn(&p)) >= 0, 5000));
    /* The fifth from this address is closed at once, unanswered. */
    CU_ASSERT_EQUAL(served_conn(&p), -1);
    int fifth = pt_conn_open(&p);
    CU_ASSERT_TRUE(closed_by_server(fifth, 3000));
    pt_conn_close(fifth);
    /* The four are still open. */
    for (int i = 0; i < 4; i++)
        CU_ASSERT_FALSE(closed_by_server(fds[i], 100));
    /* One goes: a new one is served. */
    pt_conn_close(fds[0]);
    CU_ASSERT_TRUE(PT_WAIT_UNTIL(healthy(&p), 5000));
    for (int i = 1; i < 4; i++)
        pt_conn_close(fds[i]);
    CU_ASSERT_EQUAL(pt_proxy_stop(&p), 0);
    pt_proxy_cleanup(&p);
}

/* --- the request-head deadline ------------------------------------------------------------ */

/* Clients that send one header line per second forever: libmicrohttpd's
 * idle timeout (3 s here) restarts with every byte, so only the head
 * deadline (2 s) ends them. There are more of them than connection slots:
 * without the deadline nobody else would get in. */
#define TRICKLERS 48
typedef struct trickle {
    pt_proxy_t *p;
    atomic_int stop;
    atomic_int cut; /* connections the server closed on them */
} trickle_t;

static void *trickler(void *arg)
{
    trickle_t *t = arg;
    int fds[TRICKLERS];
    for (int i = 0; i < TRICKLERS; i++)
        fds[i] = -1;
    while (!atomic_load(&t->stop)) {
        for (int i = 0; i < TRICKLERS && !atomic_load(&t->stop); i++) {
            if (fds[i] >= 0 && closed_by_server(fds[i], 0)) {
                pt_conn_close(fds[i]);
                fds[i] = -1;
                atomic_fetch_add(&t->cut, 1);
            }
            if (fds[i] < 0) {
                fds[i] = pt_conn_open(t->p);
                if (fds[i] >= 0 && pt_conn_send(fds[i], "GET /hard HTTP/1.1\r\n", 20) != 0) {
                    pt_conn_close(fds[i]);
                    fds[i] = -1;
                }
            } else if (pt_conn_send(fds[i], "X-Slow: a\r\n", 11) != 0) {
                pt_conn_close(fds[i]);
                fds[i] = -1;
            }
        }
        /* A pause between header lines is the attack itself (fault
         * injected on purpose), not a wait for a condition. */
        struct timespec ts = {1, 0};
        nanosleep(&ts, NULL);
    }
    for (int i = 0; i < TRICKLERS; i++)
        pt_conn_close(fds[i]);
    return NULL;
}

static void test_head_deadline(void)
{
    pt_proxy_t p;
    CU_ASSERT_EQUAL_FATAL(pt_proxy_start(&p, "request_head_timeout_s = 2\nmax_connections = 32\n"
                                             "max_connections_per_ip = 0\n"),
                          0);
    /* A head sent in two parts, well within the deadline: served. */
    char *head = pt_signed_head(&p, NULL, "GET", "/_zkfence/health", NULL, NULL, 0);
    int fd = pt_conn_open(&p);
    size_t half = strlen(head) / 2;
    CU_ASSERT_EQUAL(pt_conn_send(fd, head, half), 0);
    struct timespec ts = {0, 300 * 1000 * 1000}; /* a slow, honest client (deliberate) */
    nanosleep(&ts, NULL);
    CU_ASSERT_EQUAL(pt_conn_send(fd, head + half, strlen(head) - half), 0);
    char out[4096];
    CU_ASSERT(pt_conn_read_response(fd, out, sizeof(out), 5000) > 0);
    CU_ASSERT_EQUAL(pt_raw_status(out), 200);
    pt_conn_close(fd);
    free(head);

    trickle_t t = {.p = &p};
    pthread_t th;
    pthread_create(&th, NULL, trickler, &t);
    /* The tricklers fill every slot; a request must still get through,
     * each within the deadline plus a margin (the busy machine). */
    CU_ASSERT_TRUE(PT_WAIT_UNTIL(atomic_load(&t.cut) >= 8, 20000));
    for (int i = 0; i < 5; i++) {
        int64_t t0 = pt_now_ms();
        pt_resp_t r;
        pt_http(&p, "GET", "/_zkfence/health", NULL, NULL, 0, &r);
        CU_ASSERT_EQUAL(r.status, 200);
        CU_ASSERT(pt_now_ms() - t0 < 15000);
        pt_resp_free(&r);
    }
    atomic_store(&t.stop, 1);
    pthread_join(th, NULL);
    /* They were cut though they kept sending (faster than the idle
     * timeout): by the deadline, and counted. */
    CU_ASSERT(atomic_load(&t.cut) >= 8);
    pt_resp_t r;
    pt_http(&p, "GET", "/_zkfence/metrics", NULL, NULL, 0, &r);
    CU_ASSERT_TRUE(pt_body_has(&r, "zkfence_head_timeouts_total "));
    CU_ASSERT_FALSE(pt_body_has(&r, "zkfence_head_timeouts_total 0\n"));
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(pt_proxy_stop(&p), 0);
    pt_proxy_cleanup(&p);
}

/* --- asked-for features that do not exist: refused, not ignored ---------------------- */

/* method path with headers h and body: the status, and that the error code
 * is code (NULL: any 2xx body). */
static int answered(const char *method, const char *path, const char *const *h, const char *body,
                    long status, const char *code)
{
    pt_resp_t r;
    pt_http(&px, method, path, h, body, body ? strlen(body) : 0, &r);
    int ok = r.status == status && (code == NULL || pt_error_is(&r, code));
    if (!ok)
        fprintf(stderr, "%s %s: %ld %s (wanted %ld %s)\n", method, path, r.status,
                r.body ? r.body : "", status, code ? code : "");
    pt_resp_free(&r);
    return ok;
}

static void test_unsupported_features(void)
{
    struct {
        const char *h[4];
        long status;
        const char *code;
    } cases[] = {
        /* SSE-C: stored in the clear, served to anyone with read rights. */
        {{FENCE, "x-amz-server-side-encryption-customer-algorithm: AES256"}, 501, "NotImplemented"},
        {{FENCE, "x-amz-server-side-encryption: AES256"}, 501, "NotImplemented"},
        {{FENCE, "x-amz-server-side-encryption: aws:kms"}, 501, "NotImplemented"},
        {{FENCE, "x-amz-server-side-encryption: bogus"}, 400, "InvalidArgument"},
        {{FENCE, "x-amz-storage-class: GLACIER"}, 501, "NotImplemented"},
        {{FENCE, "x-amz-storage-class: FOO"}, 400, "InvalidStorageClass"},
        {{FENCE, "x-amz-object-lock-mode: COMPLIANCE"}, 400, "InvalidRequest"},
        {{FENCE, "x-amz-object-lock-legal-hold: ON"}, 400, "InvalidRequest"},
        {{FENCE, "x-amz-tagging: k=v"}, 501, "NotImplemented"},
        {{FENCE, "x-amz-acl: public-read"}, 400, "AccessControlListNotSupported"},
        {{FENCE, "x-amz-grant-read: id=someone"}, 400, "AccessControlListNotSupported"},
        {{FENCE, "x-amz-expected-bucket-owner: 111122223333"}, 403, "AccessDenied"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *h[5] = {cases[i].h[0], cases[i].h[1], cases[i].h[2], cases[i].h[3], NULL};
        char path[64];
        snprintf(path, sizeof(path), "/hard/feature-%zu", i);
        CU_ASSERT_TRUE(answered("PUT", path, h, "secret", cases[i].status, cases[i].code));
        CU_ASSERT_FALSE(exists(path));
    }
    /* What is accepted stays accepted: the owner's own ACLs, STANDARD, the
     * owner's ID. */
    const char *fine[] = {FENCE, "x-amz-acl: private", "x-amz-storage-class: STANDARD",
                          "x-amz-expected-bucket-owner: zkfence", NULL};
    CU_ASSERT_TRUE(answered("PUT", "/hard/feature-fine", fine, "x", 200, NULL));
    CU_ASSERT_TRUE(exists("/hard/feature-fine"));
    /* SSE-C on a read: refused too (no object here was written with a key). */
    const char *ssec[] = {"x-amz-server-side-encryption-customer-algorithm: AES256", NULL};
    CU_ASSERT_TRUE(answered("GET", "/hard/feature-fine", ssec, NULL, 501, "NotImplemented"));
    /* A multipart upload asks the same at its start. */
    const char *mpu[] = {FENCE, "x-amz-server-side-encryption: AES256", NULL};
    CU_ASSERT_TRUE(answered("POST", "/hard/feature-mpu?uploads", mpu, NULL, 501, "NotImplemented"));
    /* A bucket with Object Lock cannot be made. */
    const char *lock[] = {"x-amz-bucket-object-lock-enabled: true", NULL};
    CU_ASSERT_TRUE(answered("PUT", "/hardlock", lock, NULL, 501, "NotImplemented"));
    CU_ASSERT_FALSE(exists("/hardlock"));
    /* Each of those headers once: with two, which one counts is a guess. */
    const char *twice[] = {FENCE, "x-amz-acl: private", "x-amz-acl: public-read", NULL};
    CU_ASSERT_TRUE(answered("PUT", "/hard/feature-twice", twice, "x", 400, "InvalidArgument"));
    const char *twice2[] = {FENCE, "x-amz-expected-bucket-owner: zkfence",
                            "x-amz-expected-bucket-owner: 111122223333", NULL};
    CU_ASSERT_TRUE(answered("PUT", "/hard/feature-twice", twice2, "x", 400, "InvalidArgument"));
    CU_ASSERT_FALSE(exists("/hard/feature-twice"));
    /* POST Object (form upload): 501, not a bucket operation. */
    CU_ASSERT_TRUE(answered("POST", "/hard", NULL, "key=x", 501, "NotImplemented"));
}

static void test_create_bucket_body(void)
{
    /* A PutObject sent virtual-hosted style arrives here as "PUT /key" with
     * the object as body: refused, no bucket made, the data not lost
     * behind a 200. */
    CU_ASSERT_TRUE(
        answered("PUT", "/hard-vhost-key", NULL, "the object's bytes", 400, "MalformedXML"));
    CU_ASSERT_FALSE(exists("/hard-vhost-key"));
    CU_ASSERT_TRUE(answered("PUT", "/hard-foo", NULL, "<Foo/>", 400, "MalformedXML"));
    CU_ASSERT_FALSE(exists("/hard-foo"));
    const char *eu = "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                     "<LocationConstraint>eu-west-1</LocationConstraint>"
                     "</CreateBucketConfiguration>";
    CU_ASSERT_TRUE(
        answered("PUT", "/hard-eu", NULL, eu, 400, "IllegalLocationConstraintException"));
    CU_ASSERT_FALSE(exists("/hard-eu"));
    /* The forms clients send: none, an empty configuration, the endpoint's
     * own region. */
    CU_ASSERT_TRUE(answered("PUT", "/hard-none", NULL, NULL, 200, NULL));
    CU_ASSERT_TRUE(answered("PUT", "/hard-empty", NULL,
                            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                            "<CreateBucketConfiguration "
                            "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"/>\n",
                            200, NULL));
    CU_ASSERT_TRUE(answered("PUT", "/hard-us", NULL,
                            "<CreateBucketConfiguration><LocationConstraint> us-east-1 "
                            "</LocationConstraint></CreateBucketConfiguration>",
                            200, NULL));
    CU_ASSERT_TRUE(exists("/hard-none") && exists("/hard-empty") && exists("/hard-us"));
    /* The body is checked like any other: signed SHA-256, size. */
    pt_req_opts_t wrong = {.payload =
                               "0000000000000000000000000000000000000000000000000000000000000000"};
    pt_resp_t r;
    pt_http_opts(&px, &wrong, "PUT", "/hard-sha", NULL, "", 0, &r);
    CU_ASSERT_EQUAL(r.status, 400);
    pt_resp_free(&r);
    CU_ASSERT_FALSE(exists("/hard-sha"));
    char *big = malloc(70001);
    memset(big, ' ', 70000);
    big[70000] = '\0';
    CU_ASSERT_TRUE(answered("PUT", "/hard-big", NULL, big, 400, "MaxMessageLengthExceeded"));
    free(big);
    CU_ASSERT_FALSE(exists("/hard-big"));
    /* Names S3 reserves or refuses. */
    const char *names[] = {"/192.168.5.123", "/xn--hard",   "/sthree-hard", "/hard-s3alias",
                           "/hard--ol-s3",   "/hard--x-s3", "/hard-.x",     "/hard.-x"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        CU_ASSERT_TRUE(answered("PUT", names[i], NULL, NULL, 400, "InvalidBucketName"));
        CU_ASSERT_FALSE(exists(names[i]));
    }
}

/* --- a client that leaves halfway through its body ---------------------------------- */

/* The head and part of a PUT's body, and the client's FIN right behind them
 * (one send, then close): the proxy must notice at once, not when the
 * connection times out (libmicrohttpd alone waited for a readiness edge
 * that had already come). Nothing may stay: no staging file, no object. */
static void test_client_leaves_mid_body(void)
{
    enum { CLIENTS = 8, SENT = 300000 };
    char *body = malloc(SENT);
    memset(body, 'x', SENT);
    const char *h[] = {FENCE, NULL};
    /* Requests that ended without an answer: counted when they end. */
    const char *cut = "zkfence_requests_total{op=\"PutObject\",status=\"0\"}";
    long long ended = pt_metric(&px, cut);
    ended = ended < 0 ? 0 : ended;
    for (int i = 0; i < CLIENTS; i++) {
        char path[64];
        snprintf(path, sizeof(path), "/hard/left-%d", i);
        size_t len;
        char *req = raw_request("PUT", path, h, "Content-Length: 1000000", body, SENT, &len);
        int fd = pt_conn_open(&px);
        CU_ASSERT_TRUE(fd >= 0 && pt_conn_send(fd, req, len) == 0);
        pt_conn_close(fd);
        free(req);
    }
    free(body);
    /* Each ended well inside the test proxy's connection_timeout_s (60 s):
     * within a quarter of it; and took its staging file with it. */
    CU_ASSERT_TRUE(PT_WAIT_UNTIL(pt_metric(&px, cut) >= ended + CLIENTS, 15000));
    CU_ASSERT_EQUAL(pt_count_staged(&px), 0);
    CU_ASSERT_FALSE(exists("/hard/left-0"));
    CU_ASSERT_TRUE(healthy(&px));
}

static void test_clean_shutdown(void)
{
    CU_ASSERT_EQUAL(pt_proxy_stop(&px), 0);
    CU_ASSERT_EQUAL(pt_count_staged(&px), 0);
}

static void add_tests(void *suite)
{
    if (pt_proxy_start(&px, NULL) != 0) {
        fprintf(stderr, "cannot start the proxy\n");
        exit(1);
    }
    CU_add_test(suite, "smuggling", test_smuggling);
    CU_add_test(suite, "repeated_headers", test_repeated_headers);
    CU_add_test(suite, "unsupported_features", test_unsupported_features);
    CU_add_test(suite, "create_bucket_body", test_create_bucket_body);
    CU_add_test(suite, "client_leaves_mid_body", test_client_leaves_mid_body);
    CU_add_test(suite, "per_ip_cap", test_per_ip_cap);
    CU_add_test(suite, "head_deadline", test_head_deadline);
    CU_add_test(suite, "clean_shutdown", test_clean_shutdown);
}

int main(void)
{
    int rc = pt_run_suite("proxy_hardening", add_tests);
    if (rc != 0)
        pt_proxy_dump_log(&px);
    pt_proxy_cleanup(&px);
    return rc;
}
