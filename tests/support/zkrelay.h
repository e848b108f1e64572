/* A fault-injecting TCP relay between a ZooKeeper client and server, for
 * tests. It runs in its own thread inside the test process, listens on an
 * ephemeral loopback port and understands just enough of ZooKeeper's
 * framing (4-byte big-endian length + payload; the first client frame of a
 * connection is the ConnectRequest, later ones start with {xid, type}) to
 * act on particular requests. All functions are thread-safe. */
#ifndef ZKRELAY_H
#define ZKRELAY_H

typedef struct zkrelay zkrelay_t;

/* Starts relaying 127.0.0.1:<ephemeral> to upstream_host:upstream_port.
 * Returns NULL on error. */
zkrelay_t *zkrelay_start(const char *upstream_host, int upstream_port);
/* The port clients connect to. */
int zkrelay_port(zkrelay_t *r);
/* Closes every connection, stops the thread, frees. */
void zkrelay_stop(zkrelay_t *r);

/* For the next n create-type requests (create, create2, createContainer,
 * createTTL) from any client: forward the request, then close both sides
 * of that connection at once, so the server applies it but its reply never
 * reaches the client (the "lost reply to create" fault). */
void zkrelay_drop_after_create(zkrelay_t *r, int n);
/* Closes every current connection (connection loss); new ones are served. */
void zkrelay_disconnect_all(zkrelay_t *r);
/* While on: current connections are closed; new ones are accepted but
 * nothing is forwarded either way (a partition: the client sees silence,
 * not refusal). Off: new connections are served normally again. */
void zkrelay_set_blackhole(zkrelay_t *r, int on);

/* Counters for assertions. */
int zkrelay_creates_seen(zkrelay_t *r); /* create-type requests forwarded */
int zkrelay_connections(zkrelay_t *r);  /* connections accepted so far */

#endif
