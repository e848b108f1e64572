/* HTTPS against a real zkfence-proxy (libmicrohttpd's GnuTLS), with a
 * certificate made by the openssl command, verified by libcurl against it
 * as CA: writes and reads of every size class byte-exact (bodies above
 * 16 KiB are file responses, which under TLS cannot use sendfile and must
 * still stream), ranges, fenced writes handed to the worker pool and
 * resumed; and the two mistakes: https to the plain port, plain HTTP to
 * the TLS port. The server serves on after each. */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static pt_proxy_t px;
static const pt_req_opts_t tls = {.tls = 1};

#define FENCE "X-Fencing-Lock: /locks/tls", "X-Fencing-Token: 1"

static long req(const pt_req_opts_t *o, const char *method, const char *path, const char *const *h,
                const void *body, size_t len, pt_resp_t *r)
{
    pt_http_opts(&px, o, method, path, h, body, len, r);
    return r->status;
}

static int serving(void)
{
    pt_resp_t a, b;
    int ok = req(&tls, "GET", "/_zkfence/health", NULL, NULL, 0, &a) == 200 &&
             req(NULL, "GET", "/_zkfence/health", NULL, NULL, 0, &b) == 200;
    pt_resp_free(&a);
    pt_resp_free(&b);
    return ok;
}

static void test_round_trips(void)
{
    pt_resp_t r;
    CU_ASSERT_EQUAL(req(&tls, "GET", "/_zkfence/health", NULL, NULL, 0, &r), 200);
    CU_ASSERT_TRUE(pt_body_has(&r, "\"tls\":\"on\""));
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(req(&tls, "PUT", "/tls-bkt", NULL, NULL, 0, &r), 200);
    pt_resp_free(&r);
    const char *f[] = {FENCE, NULL};
    static const size_t sizes[] = {0, 4096, 16385, 3u << 20};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t n = sizes[i];
        unsigned char *b = malloc(n + 1);
        for (size_t j = 0; j < n; j++)
            b[j] = (unsigned char)(j * 7 + (j >> 9) + i);
        char path[64];
        snprintf(path, sizeof(path), "/tls-bkt/s%zu", n);
        CU_ASSERT_EQUAL(req(&tls, "PUT", path, f, b, n, &r), 200);
        pt_resp_free(&r);
        CU_ASSERT_EQUAL(req(&tls, "GET", path, NULL, NULL, 0, &r), 200);
        CU_ASSERT_EQUAL(r.len, n);
        CU_ASSERT_TRUE(r.len == n && (n == 0 || memcmp(r.body, b, n) == 0));
        pt_resp_free(&r);
        if (n > 100) {
            const char *range[] = {"Range: bytes=50-99", NULL};
            CU_ASSERT_EQUAL(req(&tls, "GET", path, range, NULL, 0, &r), 206);
            CU_ASSERT_TRUE(r.len == 50 && memcmp(r.body, b + 50, 50) == 0);
            pt_resp_free(&r);
        }
        /* The same object over plain HTTP (loopback): one store. */
        CU_ASSERT_EQUAL(req(NULL, "GET", path, NULL, NULL, 0, &r), 200);
        CU_ASSERT_TRUE(r.len == n && (n == 0 || memcmp(r.body, b, n) == 0));
        pt_resp_free(&r);
        free(b);
    }
    /* A stale token over TLS: the same 412. */
    const char *stale[] = {"X-Fencing-Lock: /locks/tls", "X-Fencing-Token: 0", NULL};
    CU_ASSERT_EQUAL(req(&tls, "PUT", "/tls-bkt/s0", stale, "x", 1, &r), 412);
    CU_ASSERT_TRUE(pt_body_has(&r, "<Code>StaleFencingToken</Code>"));
    pt_resp_free(&r);
}

static void test_wrong_scheme(void)
{
    /* https:// to the plain port: the TLS handshake meets an HTTP server;
     * the client gets no response, the server closes. */
    pt_proxy_t swapped = px;
    swapped.tls_port = px.port;
    pt_resp_t r;
    CU_ASSERT_EQUAL(pt_http_opts(&swapped, &tls, "GET", "/_zkfence/health", NULL, NULL, 0, &r), -1);
    CU_ASSERT_EQUAL(r.status, 0);
    pt_resp_free(&r);
    CU_ASSERT_TRUE(serving());
    /* Plain HTTP to the TLS port: no HTTP answer at all (the bytes are not
     * a TLS record), and the connection is closed, well before the idle
     * timeout. */
    swapped = px;
    swapped.port = px.tls_port;
    char *head = pt_signed_head(&swapped, NULL, "GET", "/_zkfence/health", NULL, NULL, 0);
    char out[4096];
    int eof = 0;
    int64_t t0 = pt_now_ms();
    long n = pt_raw_eof(&swapped, head, strlen(head), 0, out, sizeof(out), 10000, &eof);
    free(head);
    CU_ASSERT(n >= 0);
    CU_ASSERT_PTR_NULL(strstr(out, "HTTP/1.1 200"));
    CU_ASSERT(eof == 1 || eof == 2);
    CU_ASSERT(pt_now_ms() - t0 < 10000);
    CU_ASSERT_TRUE(serving());
}

static void test_clean_shutdown(void)
{
    CU_ASSERT_EQUAL(pt_proxy_stop(&px), 0);
    CU_ASSERT_EQUAL(pt_count_files(&px, "tmp"), 0);
}

static void add_tests(void *suite)
{
    /* Generous timeouts: under valgrind, this process's TLS handshakes are
     * slow, and the server must not take that for a stalled client. */
    if (pt_proxy_start_ex(&px, "connection_timeout_s = 60\nrequest_head_timeout_s = 120\n", NULL,
                          PT_TLS) != 0) {
        fprintf(stderr, "cannot start the proxy with TLS\n");
        exit(1);
    }
    CU_add_test(suite, "round_trips", test_round_trips);
    CU_add_test(suite, "wrong_scheme", test_wrong_scheme);
    CU_add_test(suite, "clean_shutdown", test_clean_shutdown);
}

int main(void)
{
    int rc = pt_run_suite("proxy_tls", add_tests);
    if (rc != 0)
        pt_proxy_dump_log(&px);
    pt_proxy_cleanup(&px);
    return rc;
}
