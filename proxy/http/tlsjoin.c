/* A response's head and its in-memory body in one send over TLS (see
 * http/tlsjoin.h for why and for the invariant that nothing kept is left
 * unsent). */
#include "http/tlsjoin.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

/* The largest record kept: a head (S3 allows 2 KiB of user metadata, and
 * the proxy's own headers are a few hundred bytes) with its TLS framing. A
 * larger one goes out at once. */
#define KEEP_MAX 4096
/* iovecs per sendmsg: the kept bytes and GnuTLS's queued records; more go
 * out in the next push (a partial send, which GnuTLS resumes). */
#define VEC_MAX 16

struct zkp_tlsjoin {
    gnutls_session_t session;
    int fd;
    size_t armed;     /* 0, or the in-memory body bytes of the response just queued */
    size_t off, kept; /* buf[off, kept): bytes reported sent, not yet sent */
    unsigned char buf[KEEP_MAX];
};

/* The push after detach: GnuTLS's own behaviour (one sendmsg, no signal),
 * with the socket as the transport pointer. */
static ssize_t push_plain(gnutls_transport_ptr_t p, const giovec_t *iov, int iovcnt)
{
    struct msghdr msg;
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = (struct iovec *)iov; /* giovec_t is struct iovec (gnutls.h) */
    msg.msg_iovlen = (size_t)(iovcnt < VEC_MAX ? iovcnt : VEC_MAX);
    return sendmsg((int)(intptr_t)p, &msg, MSG_NOSIGNAL);
}

static ssize_t fail(zkp_tlsjoin_t *j, int e)
{
    gnutls_transport_set_errno(j->session, e);
    errno = e;
    return -1;
}

ssize_t zkp__tlsjoin_push(void *p, const struct iovec *iov, int iovcnt)
{
    zkp_tlsjoin_t *j = p;
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++)
        total += iov[i].iov_len;
    size_t armed = j->armed;
    j->armed = 0; /* only the first push after arming may be kept */
    if (armed > 0 && j->kept == 0 && total < armed && total <= KEEP_MAX) {
        size_t at = 0;
        for (int i = 0; i < iovcnt; i++) {
            memcpy(j->buf + at, iov[i].iov_base, iov[i].iov_len);
            at += iov[i].iov_len;
        }
        j->off = 0;
        j->kept = total;
        return (ssize_t)total;
    }
    for (;;) {
        struct iovec v[VEC_MAX];
        size_t n = 0, pending = j->kept - j->off;
        if (pending > 0)
            v[n++] = (struct iovec){j->buf + j->off, pending};
        for (int i = 0; i < iovcnt && n < VEC_MAX; i++)
            v[n++] = (struct iovec){iov[i].iov_base, iov[i].iov_len};
        if (pending == 0 && total == 0)
            return 0;
        struct msghdr msg;
        memset(&msg, 0, sizeof(msg));
        msg.msg_iov = v;
        msg.msg_iovlen = n;
        ssize_t w = sendmsg(j->fd, &msg, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return fail(j, errno); /* EAGAIN: a full socket, EPOLLOUT follows */
        }
        if (w == 0) /* not for a non-empty stream send: an error, never a spin */
            return fail(j, EIO);
        if ((size_t)w > pending) {
            j->off = j->kept = 0;
            return w - (ssize_t)pending;
        }
        /* Only kept bytes went out: send again, so that what is reported
         * is either progress on the new bytes or the socket's own EAGAIN
         * (whose EPOLLOUT wakes the loop), never an EAGAIN of ours. */
        j->off += (size_t)w;
        if (j->off == j->kept)
            j->off = j->kept = 0;
    }
}

static ssize_t push(gnutls_transport_ptr_t p, const giovec_t *iov, int iovcnt)
{
    return zkp__tlsjoin_push(p, iov, iovcnt); /* gnutls.h: giovec_t is struct iovec */
}

zkp_tlsjoin_t *zkp_tlsjoin_attach(void *session, int fd)
{
    zkp_tlsjoin_t *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return NULL;
    j->session = session;
    j->fd = fd;
    gnutls_transport_ptr_t recv_ptr, send_ptr;
    gnutls_transport_get_ptr2(j->session, &recv_ptr, &send_ptr);
    gnutls_transport_set_ptr2(j->session, recv_ptr, j);
    gnutls_transport_set_vec_push_function(j->session, push);
    return j;
}

void zkp_tlsjoin_arm(zkp_tlsjoin_t *j, size_t body_len)
{
    if (j != NULL)
        j->armed = body_len;
}

void zkp_tlsjoin_detach(zkp_tlsjoin_t *j)
{
    if (j == NULL)
        return;
    gnutls_transport_ptr_t recv_ptr, send_ptr;
    gnutls_transport_get_ptr2(j->session, &recv_ptr, &send_ptr);
    gnutls_transport_set_ptr2(j->session, recv_ptr, (gnutls_transport_ptr_t)(intptr_t)j->fd);
    gnutls_transport_set_vec_push_function(j->session, push_plain);
    free(j);
}
