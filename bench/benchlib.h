/* bench/benchlib: what the C benchmarks that talk to ZooKeeper share:
 * clocks, percentiles, a client, and the peer (another implementation, such as
 * bench/curator, run as a coprocess and driven over a pipe so that its runs
 * interleave with ours on the same ZooKeeper). */
#ifndef ZKFENCE_BENCH_BENCHLIB_H
#define ZKFENCE_BENCH_BENCHLIB_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include <zkfence/zkfence.h>

#define BENCH_MAX_ROUNDS 64

/* Prints "PROGRAM: what" to stderr and exits 1. */
__attribute__((noreturn)) void die(const char *what);

/* CLOCK_MONOTONIC and CLOCK_REALTIME, in seconds. */
double now_s(void);
double wall_s(void);

/* A deliberate pause (a ramp, a poll with a deadline), in milliseconds. */
void pause_ms(int ms);

/* The median of n <= BENCH_MAX_ROUNDS values (v is left as it was). */
double median(const double *v, int n);

/* The p-th percentile by rank; sorts v in place; 0 when n is 0. */
double pct(double *v, size_t n, double p);

/* A libzkfence client of HOSTS with this session timeout, libzookeeper's
 * logging off; exits 69 if ZooKeeper is unreachable. */
zkf_client_t *bench_client(const char *hosts, int session_ms);

typedef struct peer {
    pid_t pid;
    FILE *to, *from;
} peer_t;

/* Starts `sh -c 'exec CMD "$@"' sh --zk HOSTS --session-ms N`, talking to
 * it through its stdin and stdout (its stderr is ours), and waits for its
 * "ready" line (its warm-up must not overlap anything measured). Dies on
 * failure. The peer is freed by peer_stop(). */
peer_t *peer_start(const char *cmd, const char *hosts, int session_ms);

/* Sends one command line and reads the answer, "ok V1 V2 ...": stores
 * exactly n values in v. An "error" answer, a short one or a peer gone
 * away ends the benchmark. */
__attribute__((format(printf, 4, 5))) void peer_call(peer_t *p, double *v, int n, const char *fmt,
                                                     ...);

/* Closes its input (it exits) and waits for it; dies if it failed. */
void peer_stop(peer_t *p);

#endif
