/* A response's head and its in-memory body in one send over TLS
 * (http/tlsjoin.c).
 *
 * libmicrohttpd 0.9.75 hands GnuTLS the head and the body of a response in
 * two gnutls_record_send calls, and GnuTLS pushes each record with its own
 * sendmsg: a 4 KiB GET over HTTPS cost two sends, and the client was woken
 * for the head alone, then again for the body (plain HTTP sends both in
 * one writev; nginx in one TLS write). This module takes over the push of
 * a TLS connection's session: armed for a response whose body is wholly in
 * memory, it keeps the first record pushed after that, if it is smaller
 * than the body (the head's), and sends it in front of the next record,
 * in one sendmsg.
 *
 * Why a kept record always goes out (the invariant): it is kept only when
 * it is smaller than the body of a response just queued, so that response
 * still has bytes that GnuTLS has not pushed; libmicrohttpd sends them
 * without waiting for the client (the body is in memory, and it was told
 * the head went out whole, so the socket is writable as far as it knows),
 * and the next push sends the kept bytes first. A push never blocks and
 * never reports more than went out: when the socket takes only part of
 * the kept bytes, the next record is reported not sent (EAGAIN, a real
 * one: the socket buffer is full, so its next EPOLLOUT wakes the event
 * loop, which sends again, kept bytes first). Nothing is kept at any other
 * time: the handshake, errors, HEAD, streamed and file bodies push as
 * GnuTLS would itself. If the connection closes in between, the kept
 * bytes go with it, like any unsent part of a response.
 *
 * Every call is made on the connection's event loop (libmicrohttpd's
 * thread that owns the connection); nothing here is shared. */
#ifndef ZKP_TLSJOIN_H
#define ZKP_TLSJOIN_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

typedef struct zkp_tlsjoin zkp_tlsjoin_t;

/* Takes over the pushes of session (libmicrohttpd's gnutls_session_t of a
 * connection whose GnuTLS transport is its socket, fd). Returns the state
 * to arm and detach, or NULL when out of memory: the session then keeps
 * GnuTLS's own push, and only the saving is lost. Call it before the
 * connection's first request (on_connection STARTED). */
zkp_tlsjoin_t *zkp_tlsjoin_attach(void *session, int fd);

/* A response whose body is body_len bytes already in memory has just been
 * queued on j's connection (0: nothing to join). NULL j: no-op. */
void zkp_tlsjoin_arm(zkp_tlsjoin_t *j, size_t body_len);

/* Gives the session a push of its own that needs no state (GnuTLS may
 * still send a closure alert), and frees j; kept bytes are dropped (the
 * connection is closing). NULL: no-op. */
void zkp_tlsjoin_detach(zkp_tlsjoin_t *j);

/* The push itself, as GnuTLS calls it (p: j), for the unit tests: sends
 * iov (and what j keeps) like sendmsg; returns the bytes of iov sent, or
 * -1 with errno. */
ssize_t zkp__tlsjoin_push(void *p, const struct iovec *iov, int iovcnt);

#endif
