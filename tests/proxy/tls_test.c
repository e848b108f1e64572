/* HTTPS against a real zkfence-proxy (libmicrohttpd's GnuTLS), with a
 * certificate made by the openssl command, verified by libcurl against it
 * as CA: writes and reads of every size class byte-exact (bodies above
 * 16 KiB are file responses, which under TLS cannot use sendfile and must
 * still stream), ranges, fenced writes handed to the worker pool and
 * resumed; and the two mistakes: https to the plain port, plain HTTP to
 * the TLS port. The server serves on after each. A client that sends many
 * GETs at once and reads late gets every response whole (the head and
 * in-memory body joined in one send, http/tlsjoin.h, held back by a full
 * socket). */
#include <CUnit/Basic.h>
#include <arpa/inet.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

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

/* Reads from session until buf holds `want` bytes or the deadline (the
 * session's timeout) passes; returns the bytes held. */
static size_t read_upto(gnutls_session_t ss, char *buf, size_t have, size_t want)
{
    while (have < want) {
        ssize_t n = gnutls_record_recv(ss, buf + have, want - have);
        if (n == GNUTLS_E_INTERRUPTED || n == GNUTLS_E_AGAIN)
            continue;
        if (n <= 0)
            break;
        have += (size_t)n;
    }
    return have;
}

/* GETs of a 4 KiB object (body in memory: its head is joined to it) and
 * of a 100-byte one (smaller than its head: sent as GnuTLS would), many at
 * once over one connection whose receive buffer is small, read only after
 * a pause (the fault: a client that does not read), so that the proxy's
 * socket fills while it has a head in hand. Every response arrives whole
 * and byte-exact: nothing kept back is left unsent. */
static void test_slow_reader(void)
{
    enum { N = 96, BIG = 4096, SMALL = 100 };
    static unsigned char big[BIG], small[SMALL];
    for (size_t j = 0; j < BIG; j++)
        big[j] = (unsigned char)(j * 13 + 5);
    memset(small, 'q', SMALL);
    const char *f[] = {FENCE, NULL};
    pt_resp_t r;
    CU_ASSERT_EQUAL(req(&tls, "PUT", "/tls-bkt/slow-big", f, big, BIG, &r), 200);
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(req(&tls, "PUT", "/tls-bkt/slow-small", f, small, SMALL, &r), 200);
    pt_resp_free(&r);

    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int rcv = 2048; /* the kernel doubles it: a few KiB in flight at most */
    CU_ASSERT_EQUAL(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv)), 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)px.tls_port)};
    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    CU_ASSERT_EQUAL_FATAL(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    gnutls_certificate_credentials_t cred;
    gnutls_session_t ss;
    CU_ASSERT_EQUAL_FATAL(gnutls_certificate_allocate_credentials(&cred), 0);
    CU_ASSERT_TRUE(gnutls_certificate_set_x509_trust_file(cred, px.cert, GNUTLS_X509_FMT_PEM) > 0);
    CU_ASSERT_EQUAL_FATAL(gnutls_init(&ss, GNUTLS_CLIENT), 0);
    gnutls_set_default_priority(ss);
    gnutls_credentials_set(ss, GNUTLS_CRD_CERTIFICATE, cred);
    gnutls_session_set_verify_cert(ss, "127.0.0.1", 0);
    gnutls_transport_set_int(ss, fd);
    gnutls_handshake_set_timeout(ss, 60000);
    gnutls_record_set_timeout(ss, 60000);
    int hs;
    do
        hs = gnutls_handshake(ss);
    while (hs < 0 && gnutls_error_is_fatal(hs) == 0);
    CU_ASSERT_EQUAL_FATAL(hs, 0);

    /* All the requests in one go (a few tens of KiB: the proxy's receive
     * buffer takes them while its answers pile up). */
    char *heads[2] = {pt_signed_head(&px, &tls, "GET", "/tls-bkt/slow-big", NULL, NULL, 0),
                      pt_signed_head(&px, &tls, "GET", "/tls-bkt/slow-small", NULL, NULL, 0)};
    CU_ASSERT_PTR_NOT_NULL_FATAL(heads[0]);
    CU_ASSERT_PTR_NOT_NULL_FATAL(heads[1]);
    for (int i = 0; i < N; i++) {
        const char *h = heads[i % 3 == 2];
        size_t len = strlen(h), off = 0;
        while (off < len) {
            ssize_t n = gnutls_record_send(ss, h + off, len - off);
            if (n == GNUTLS_E_INTERRUPTED || n == GNUTLS_E_AGAIN)
                continue;
            CU_ASSERT_FATAL(n > 0);
            off += (size_t)n;
        }
    }
    free(heads[0]);
    free(heads[1]);
    struct timespec pause = {0, 300 * 1000 * 1000};
    nanosleep(&pause, NULL);

    /* Read back: each response's head, then exactly its Content-Length. */
    size_t cap = 64 * 1024, have = 0;
    char *buf = malloc(cap);
    int whole = 0;
    for (int i = 0; i < N; i++) {
        int is_small = i % 3 == 2;
        char *end = NULL;
        while ((end = memmem(buf, have, "\r\n\r\n", 4)) == NULL && have < cap) {
            size_t got = read_upto(ss, buf, have, have + 1);
            if (got == have)
                break;
            have = got;
        }
        if (end == NULL)
            break;
        size_t hlen = (size_t)(end - buf) + 4, blen = is_small ? SMALL : BIG;
        char cl[48];
        snprintf(cl, sizeof(cl), "Content-Length: %zu\r\n", blen);
        if (strncmp(buf, "HTTP/1.1 200", 12) != 0 || memmem(buf, hlen, cl, strlen(cl)) == NULL)
            break;
        have = read_upto(ss, buf, have, hlen + blen);
        if (have < hlen + blen || memcmp(buf + hlen, is_small ? small : big, blen) != 0)
            break;
        memmove(buf, buf + hlen + blen, have - hlen - blen);
        have -= hlen + blen;
        whole++;
    }
    CU_ASSERT_EQUAL(whole, N);
    CU_ASSERT_EQUAL(have, 0);
    free(buf);
    gnutls_bye(ss, GNUTLS_SHUT_WR);
    gnutls_deinit(ss);
    gnutls_certificate_free_credentials(cred);
    close(fd);
    CU_ASSERT_TRUE(serving());
}

static void test_clean_shutdown(void)
{
    CU_ASSERT_EQUAL(pt_proxy_stop(&px), 0);
    CU_ASSERT_EQUAL(pt_count_staged(&px), 0);
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
    CU_add_test(suite, "slow_reader", test_slow_reader);
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
