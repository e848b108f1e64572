/* A fault-injecting TCP relay between a ZooKeeper client and server, for
 * tests. It runs in its own thread inside the test process, listens on an
 * ephemeral loopback port and understands just enough of ZooKeeper's
 * framing (4-byte big-endian length + payload; the first client frame of a
 * connection is the ConnectRequest, later ones start with {xid, type}) to
 * act on particular requests. All functions are thread-safe. */
#ifndef ZKRELAY_H
#define ZKRELAY_H

#include <stddef.h>
#include <stdint.h>

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

/* While on: a silent partition, a cut cable. Every connection, current and
 * new, stays open, but nothing is forwarded either way: no RST, no FIN, so
 * the client learns nothing until its own timers run out. Off: the
 * connections silenced meanwhile are closed (their byte streams have
 * holes) and new ones are served normally. */
void zkrelay_set_silent(zkrelay_t *r, int on);
/* While on: server bytes are held back (latency, injected), in order;
 * requests still go through. Off: what was held goes out at once. Keep it
 * short: a client that hears nothing for 2/3 of its session timeout drops
 * the connection. */
void zkrelay_hold_replies(zkrelay_t *r, int on);
/* For the next n create-type requests: do not forward the request (nor
 * anything after it on that connection), close the connection, and turn
 * the blackhole on, so that the client's create is certainly not applied
 * and it cannot reconnect until the test calls zkrelay_set_blackhole(r, 0). */
void zkrelay_cut_before_create(zkrelay_t *r, int n);
/* Whether the blackhole is on (zkrelay_cut_before_create turns it on). */
int zkrelay_blackholed(zkrelay_t *r);

/* Counters for assertions. */
int zkrelay_creates_seen(zkrelay_t *r); /* create-type requests forwarded */
int zkrelay_connections(zkrelay_t *r);  /* connections accepted so far */
/* The path of the latest create-type request seen (forwarded or cut), into
 * buf. 0, or -1 if none or buf is too small. */
int zkrelay_last_create_path(zkrelay_t *r, char *buf, size_t len);
/* CLOCK_MONOTONIC ms when server bytes were last forwarded to a client
 * (0: never): the client's last contact with the server. */
int64_t zkrelay_last_reply_ms(zkrelay_t *r);

/* The frame trace: in the order the relay forwarded them, every request
 * frame after a connection's handshake (its xid and opcode) and every reply
 * or notification frame (its xid; type 0). Pings are xid -2, watch events
 * -1. Bounded (4096 frames); the rest is not recorded. */
enum { ZKRELAY_UP = 1, ZKRELAY_DOWN = 2 };
typedef struct zkrelay_frame {
    int dir; /* ZKRELAY_UP (client to server) or ZKRELAY_DOWN */
    int xid;
    int type;   /* request opcode (ZOO_CREATE2_OP = 15, ...); 0 for replies */
    int64_t ms; /* CLOCK_MONOTONIC ms when forwarded */
} zkrelay_frame_t;
/* Clears the trace and starts recording. */
void zkrelay_trace_start(zkrelay_t *r);
/* Copies up to max frames recorded since zkrelay_trace_start; returns the count. */
size_t zkrelay_trace(zkrelay_t *r, zkrelay_frame_t *out, size_t max);

#endif
