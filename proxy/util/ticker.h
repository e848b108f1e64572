/* A background thread that calls a function at a fixed interval until
 * stopped (util/ticker.c): the periodic sweeps of the service. The
 * function runs on the ticker's thread only, one call at a time; the
 * interval is measured on CLOCK_MONOTONIC, from the end of one call to the
 * start of the next. */
#ifndef ZKP_TICKER_H
#define ZKP_TICKER_H

typedef struct zkp_ticker zkp_ticker_t;

/* Starts the thread; the first call comes one interval from now.
 * interval_ms >= 1. Returns 0 with *out set, or -1 (nothing started). */
int zkp_ticker_start(unsigned interval_ms, void (*fn)(void *arg), void *arg, zkp_ticker_t **out);

/* Stops the thread, waiting for a call in progress to end, and frees the
 * ticker. NULL is a no-op. Not from fn itself. */
void zkp_ticker_stop(zkp_ticker_t *t);

#endif
