/* The request-head deadline (see http/headwatch.h).
 *
 * Invariant: while a connection is in the list, its descriptor is open
 * (libmicrohttpd closes it only after the close notification, which removes
 * it from the list under `mu`); the scanner holds `mu` while it looks at
 * and shuts down descriptors. */
#include "http/headwatch.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "util/clock.h"

#define SCAN_MS 200 /* how late a deadline may be acted on, at most */

struct zkp_headwatch_conn {
    int fd;
    atomic_uint_least64_t deadline_us; /* 0: disarmed */
    int shut;                          /* shut down already (under mu) */
    zkp_headwatch_conn_t *prev, *next;
};

struct zkp_headwatch {
    uint64_t timeout_us;
    pthread_mutex_t mu; /* guards the list and every fd in it */
    pthread_cond_t cv;  /* stop */
    int stopping;
    zkp_headwatch_conn_t *head;
    pthread_t thread;
    atomic_uint_least64_t *expired; /* the caller's counter */
};

static void scan(zkp_headwatch_t *w, uint64_t now)
{
    for (zkp_headwatch_conn_t *c = w->head; c != NULL; c = c->next) {
        uint64_t d = atomic_load(&c->deadline_us);
        if (d == 0 || d > now || c->shut)
            continue;
        c->shut = 1;
        shutdown(c->fd, SHUT_RDWR);
        atomic_fetch_add(w->expired, 1);
    }
}

static void *run(void *arg)
{
    zkp_headwatch_t *w = arg;
    pthread_mutex_lock(&w->mu);
    while (!w->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += SCAN_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
        if (!w->stopping)
            scan(w, zkp_now_us());
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int zkp_headwatch_start(unsigned timeout_s, atomic_uint_least64_t *expired, zkp_headwatch_t **out)
{
    zkp_headwatch_t *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return -1;
    w->expired = expired;
    w->timeout_us = (uint64_t)timeout_s * 1000000u;
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* the wall clock may jump */
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&w->thread, NULL, run, w) != 0) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        free(w);
        return -1;
    }
    *out = w;
    return 0;
}

void zkp_headwatch_stop(zkp_headwatch_t *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->mu);
    w->stopping = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    while (w->head != NULL) {
        zkp_headwatch_conn_t *c = w->head;
        w->head = c->next;
        free(c);
    }
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

zkp_headwatch_conn_t *zkp_headwatch_add(zkp_headwatch_t *w, int fd)
{
    zkp_headwatch_conn_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->fd = fd;
    atomic_init(&c->deadline_us, zkp_now_us() + w->timeout_us);
    pthread_mutex_lock(&w->mu);
    c->next = w->head;
    if (w->head != NULL)
        w->head->prev = c;
    w->head = c;
    pthread_mutex_unlock(&w->mu);
    return c;
}

void zkp_headwatch_remove(zkp_headwatch_t *w, zkp_headwatch_conn_t *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&w->mu);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        w->head = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    pthread_mutex_unlock(&w->mu);
    free(c);
}

void zkp_headwatch_arm(zkp_headwatch_t *w, zkp_headwatch_conn_t *c)
{
    if (c != NULL)
        atomic_store(&c->deadline_us, zkp_now_us() + w->timeout_us);
}

void zkp_headwatch_disarm(zkp_headwatch_conn_t *c)
{
    if (c != NULL)
        atomic_store(&c->deadline_us, 0);
}
