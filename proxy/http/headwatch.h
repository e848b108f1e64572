/* The request-head deadline (http/headwatch.c): a connection must deliver a
 * whole request head (request line and headers; on TLS, the handshake too)
 * within `timeout_s` of being accepted, or of the end of its previous
 * response, or it is shut down.
 *
 * Why: libmicrohttpd 0.9.75 restarts its connection timeout on every byte
 * received, so clients that trickle a header line now and then hold their
 * connections (and, beyond max_connections, everyone else's) for as long as
 * they like. This deadline is not moved by bytes.
 *
 * How: the server registers each connection as libmicrohttpd announces it
 * (MHD_OPTION_NOTIFY_CONNECTION), arms the deadline while a head is awaited
 * and disarms it once the head is in; a thread looks at the armed
 * deadlines a few times per second and shuts an expired connection's
 * socket down (shutdown(2)), which libmicrohttpd then sees as a hung-up
 * client and closes as usual. A descriptor is only touched under the
 * watch's mutex, and a connection leaves the watch (under that mutex)
 * before libmicrohttpd closes its descriptor, so a descriptor number
 * reused by a new connection is never shut down by mistake.
 *
 * Arming and disarming are one atomic store each (no lock on the request
 * path); adding and removing a connection take the mutex. */
#ifndef ZKP_HEADWATCH_H
#define ZKP_HEADWATCH_H

#include <stdatomic.h>
#include <stdint.h>

typedef struct zkp_headwatch zkp_headwatch_t;
typedef struct zkp_headwatch_conn zkp_headwatch_conn_t;

/* Starts the watch and its thread; each connection shut down for a late
 * head adds one to *expired (a metric; it must outlive the watch). Returns
 * 0, or -1. */
int zkp_headwatch_start(unsigned timeout_s, atomic_uint_least64_t *expired, zkp_headwatch_t **out);
/* Stops the thread and frees the watch. Connections still registered are
 * forgotten (not shut down). NULL is a no-op. */
void zkp_headwatch_stop(zkp_headwatch_t *w);

/* A connection was accepted (socket fd): registered, deadline armed.
 * Returns its handle, or NULL out of memory (the connection then has no
 * deadline). */
zkp_headwatch_conn_t *zkp_headwatch_add(zkp_headwatch_t *w, int fd);
/* The connection closes: unregistered and freed, before its descriptor is
 * closed. NULL is a no-op. */
void zkp_headwatch_remove(zkp_headwatch_t *w, zkp_headwatch_conn_t *c);
/* A head is awaited from now on (accepted, or the previous response sent). */
void zkp_headwatch_arm(zkp_headwatch_t *w, zkp_headwatch_conn_t *c);
/* The head is in: no deadline until the next arm. */
void zkp_headwatch_disarm(zkp_headwatch_conn_t *c);

#endif
