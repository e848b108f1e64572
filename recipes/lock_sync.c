/* The exclusive lock's blocking API: zkf_lock_acquire, a thin wrapper
 * over the asynchronous core (lock.c). It waits locally while another
 * thread of ours, or an async holding, has the object; then starts an
 * acquisition with a waiter instead of a callback, which the outcome wakes
 * directly on the completion thread (no trip through the event thread);
 * and keeps the deadline itself. A thread that holds the object through
 * it may take it again (reentrancy, up to max_depth); zkf_lock_release
 * counts the levels off. */
#include "lock.h"

static int wait_until(zkf_client_t *c, int64_t deadline)
{
    if (deadline == 0)
        return pthread_cond_wait(&c->cv, &c->mu);
    struct timespec ts;
    zkf__abs_deadline(&ts, deadline);
    return pthread_cond_timedwait(&c->cv, &c->mu, &ts);
}

static int acquire_reentrant(zkf_lock_t *l, uint64_t *token)
{
    if (l->state == ZKF_LOCK_LOST)
        return ZKF_ELOCKLOST;
    if (l->state == ZKF_LOCK_SUSPENDED)
        return ZKF_ECONNLOSS;
    if (l->depth >= l->opts.max_depth)
        return ZKF_EDEPTH;
    l->depth++;
    if (token)
        *token = l->token;
    return 0;
}

int zkf_lock_acquire(zkf_lock_t *l, int timeout_ms, uint64_t *token)
{
    if (l == NULL)
        return ZKF_EINVAL;
    zkf_client_t *c = l->c;
    int64_t deadline = timeout_ms > 0 ? zkf__now_ns() + (int64_t)timeout_ms * 1000000LL : 0;
    int rc;
    pthread_mutex_lock(&c->mu);
    if (l->thread_owned && pthread_equal(l->owner, pthread_self())) {
        rc = acquire_reentrant(l, token);
        pthread_mutex_unlock(&c->mu);
        return rc;
    }
    /* Another thread of ours, or an async holding, has this object: queue
     * locally behind it. Counted in local_waiters, so that zkf_lock_cancel
     * knows it has someone to cancel. */
    uint64_t cancel_gen = l->cancel_gen;
    rc = 0;
    l->local_waiters++;
    while (l->att != NULL || l->state != ZKF_LOCK_UNLOCKED) {
        if (c->stopping) {
            rc = ZKF_ECLOSED;
            break;
        }
        if (timeout_ms == 0 || l->cancel_gen != cancel_gen ||
            (deadline && zkf__now_ns() >= deadline)) {
            rc = timeout_ms == 0               ? ZKF_EBUSY
                 : l->cancel_gen != cancel_gen ? ZKF_ECANCELED
                                               : ZKF_ETIMEDOUT;
            break;
        }
        wait_until(c, deadline);
    }
    l->local_waiters--;
    if (rc != 0) {
        pthread_mutex_unlock(&c->mu);
        return rc;
    }

    zkf__lock_waiter_t sw = {0};
    rc = zkf__lock_start(l, timeout_ms, NULL, NULL, &sw);
    if (rc != 0) {
        pthread_mutex_unlock(&c->mu);
        return rc;
    }
    while (!sw.done) {
        if (deadline && zkf__now_ns() >= deadline) {
            zkf__lock_deadline_passed(l); /* completes after cleanup */
            deadline = 0;
            continue;
        }
        wait_until(c, deadline);
    }
    if (sw.status == 0) {
        l->thread_owned = 1;
        l->owner = pthread_self();
        l->depth = 1;
        if (token)
            *token = sw.token;
    }
    pthread_mutex_unlock(&c->mu);
    return sw.status;
}
