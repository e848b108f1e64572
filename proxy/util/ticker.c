/* The ticker (ticker.h): a thread that waits on a condition variable bound
 * to CLOCK_MONOTONIC, so that stopping wakes it at once and a wall clock
 * step neither fires nor starves it. */
#include "util/ticker.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct zkp_ticker {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stopping;
    unsigned interval_ms;
    void (*fn)(void *arg);
    void *arg;
    pthread_t thread;
};

static void deadline_after(struct timespec *ts, unsigned ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void *ticker_main(void *arg)
{
    zkp_ticker_t *t = arg;
    pthread_mutex_lock(&t->mu);
    while (!t->stopping) {
        struct timespec due;
        deadline_after(&due, t->interval_ms);
        int rc = 0;
        while (!t->stopping && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&t->cv, &t->mu, &due);
        if (t->stopping)
            break;
        pthread_mutex_unlock(&t->mu);
        t->fn(t->arg);
        pthread_mutex_lock(&t->mu);
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

int zkp_ticker_start(unsigned interval_ms, void (*fn)(void *arg), void *arg, zkp_ticker_t **out)
{
    zkp_ticker_t *t = calloc(1, sizeof(*t));
    if (t == NULL || interval_ms == 0) {
        free(t);
        return -1;
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&t->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&t->mu, NULL);
    t->interval_ms = interval_ms;
    t->fn = fn;
    t->arg = arg;
    if (pthread_create(&t->thread, NULL, ticker_main, t) != 0) {
        pthread_cond_destroy(&t->cv);
        pthread_mutex_destroy(&t->mu);
        free(t);
        return -1;
    }
    *out = t;
    return 0;
}

void zkp_ticker_stop(zkp_ticker_t *t)
{
    if (t == NULL)
        return;
    pthread_mutex_lock(&t->mu);
    t->stopping = 1;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->thread, NULL);
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
    free(t);
}
