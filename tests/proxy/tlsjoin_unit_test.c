/* http/tlsjoin.h on its own: the push libmicrohttpd's GnuTLS sessions get,
 * over a socket pair whose sending end is non-blocking, so that a full
 * socket is made at will. A record is kept only when armed and smaller
 * than the body; a kept record goes out in front of the next one, in one
 * send; a full socket keeps it (EAGAIN, reported for the new bytes only)
 * until there is room, and nothing is ever reported sent that is not sent
 * or kept. */
#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "http/tlsjoin.h"

static int sv[2];
static gnutls_session_t ss;

static void open_pair(void)
{
    CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    CU_ASSERT_EQUAL(fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK), 0);
    int small = 4096;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    CU_ASSERT_EQUAL_FATAL(gnutls_init(&ss, GNUTLS_SERVER), 0);
    gnutls_transport_set_int(ss, sv[0]);
}

static void close_pair(void)
{
    gnutls_deinit(ss);
    close(sv[0]);
    close(sv[1]);
}

static ssize_t push1(zkp_tlsjoin_t *j, const void *data, size_t len)
{
    struct iovec v = {(void *)data, len};
    return zkp__tlsjoin_push(j, &v, 1);
}

/* Bytes waiting on the reading end, read into buf (at most cap). */
static size_t drain(char *buf, size_t cap)
{
    size_t have = 0;
    for (;;) {
        ssize_t n = recv(sv[1], buf + have, cap - have, MSG_DONTWAIT);
        if (n <= 0)
            return have;
        have += (size_t)n;
    }
}

static void test_joins_head_and_body(void)
{
    open_pair();
    zkp_tlsjoin_t *j = zkp_tlsjoin_attach(ss, sv[0]);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    char head[300], body[1000], got[2048];
    memset(head, 'h', sizeof(head));
    memset(body, 'b', sizeof(body));

    /* Not armed: straight out. */
    CU_ASSERT_EQUAL(push1(j, head, sizeof(head)), (ssize_t)sizeof(head));
    CU_ASSERT_EQUAL(drain(got, sizeof(got)), sizeof(head));

    /* Armed: the head is kept (reported sent, nothing on the wire) ... */
    zkp_tlsjoin_arm(j, sizeof(body));
    CU_ASSERT_EQUAL(push1(j, head, sizeof(head)), (ssize_t)sizeof(head));
    CU_ASSERT_EQUAL(drain(got, sizeof(got)), 0);
    /* ... and goes out in front of the body, which is reported alone. */
    CU_ASSERT_EQUAL(push1(j, body, sizeof(body)), (ssize_t)sizeof(body));
    CU_ASSERT_EQUAL(drain(got, sizeof(got)), sizeof(head) + sizeof(body));
    CU_ASSERT_EQUAL(memcmp(got, head, sizeof(head)), 0);
    CU_ASSERT_EQUAL(memcmp(got + sizeof(head), body, sizeof(body)), 0);

    /* Only the first push after arming; never one as large as the body
     * (it may be the whole response), nor when nothing was armed. */
    zkp_tlsjoin_arm(j, sizeof(head));
    CU_ASSERT_EQUAL(push1(j, head, sizeof(head)), (ssize_t)sizeof(head));
    CU_ASSERT_EQUAL(drain(got, sizeof(got)), sizeof(head));
    zkp_tlsjoin_arm(j, sizeof(body));
    zkp_tlsjoin_arm(j, 0);
    CU_ASSERT_EQUAL(push1(j, head, sizeof(head)), (ssize_t)sizeof(head));
    CU_ASSERT_EQUAL(drain(got, sizeof(got)), sizeof(head));
    zkp_tlsjoin_arm(j, 1u << 20);
    static char big[8192];
    ssize_t n = push1(j, big, sizeof(big)); /* above what is kept: sent (maybe in part) */
    CU_ASSERT_TRUE(n > 0);
    char sink[16384];
    CU_ASSERT_EQUAL(drain(sink, sizeof(sink)), (size_t)n);
    CU_ASSERT_EQUAL(push1(j, head, sizeof(head)), (ssize_t)sizeof(head)); /* disarmed by it */
    CU_ASSERT_EQUAL(drain(got, sizeof(got)), sizeof(head));

    zkp_tlsjoin_detach(j);
    zkp_tlsjoin_detach(NULL);
    zkp_tlsjoin_arm(NULL, 10);
    close_pair();
}

static void test_full_socket(void)
{
    open_pair();
    zkp_tlsjoin_t *j = zkp_tlsjoin_attach(ss, sv[0]);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    char head[200], body[1000];
    memset(head, 'H', sizeof(head));
    memset(body, 'B', sizeof(body));
    zkp_tlsjoin_arm(j, sizeof(body));
    CU_ASSERT_EQUAL(push1(j, head, sizeof(head)), (ssize_t)sizeof(head));

    /* Fill the socket to EAGAIN behind the push's back. */
    static char fill[1 << 16];
    size_t filled = 0;
    for (;;) {
        ssize_t n = send(sv[0], fill, sizeof(fill), MSG_DONTWAIT);
        if (n <= 0)
            break;
        filled += (size_t)n;
    }
    CU_ASSERT_TRUE(filled > 0);
    /* The body cannot go: EAGAIN for it, the head still kept. */
    errno = 0;
    CU_ASSERT_EQUAL(push1(j, body, sizeof(body)), -1);
    CU_ASSERT_EQUAL(errno, EAGAIN);

    /* Room again: the head goes out first, then the body, in order, each
     * byte once (the retry is GnuTLS's: the same body). */
    static char got[1 << 18];
    size_t have = drain(got, sizeof(got));
    CU_ASSERT_EQUAL(have, filled);
    ssize_t n = push1(j, body, sizeof(body));
    CU_ASSERT_EQUAL(n, (ssize_t)sizeof(body));
    have = drain(got, sizeof(got));
    CU_ASSERT_EQUAL(have, sizeof(head) + sizeof(body));
    CU_ASSERT_EQUAL(memcmp(got, head, sizeof(head)), 0);
    CU_ASSERT_EQUAL(memcmp(got + sizeof(head), body, sizeof(body)), 0);

    /* A peer gone: the error, as sendmsg gives it. */
    zkp_tlsjoin_arm(j, sizeof(body));
    CU_ASSERT_EQUAL(push1(j, head, sizeof(head)), (ssize_t)sizeof(head));
    close(sv[1]);
    sv[1] = -1;
    errno = 0;
    CU_ASSERT_EQUAL(push1(j, body, sizeof(body)), -1);
    CU_ASSERT_EQUAL(errno, EPIPE);
    zkp_tlsjoin_detach(j);
    gnutls_deinit(ss);
    close(sv[0]);
}

static void add_tests(void *suite)
{
    CU_add_test(suite, "joins_head_and_body", test_joins_head_and_body);
    CU_add_test(suite, "full_socket", test_full_socket);
}

int main(void)
{
    return pt_run_suite("proxy_tlsjoin_unit", add_tests);
}
