/* A holder's blocking acquire: a thin wrapper over its asynchronous core
 * (holder.c). It starts an acquisition with a waiter instead of a
 * callback, which the outcome wakes directly on the completion thread, and
 * keeps the deadline itself. Unlike the exclusive lock's, it is not
 * reentrant and does not queue behind another thread of ours: a holder
 * acquiring or holding answers ZKF_EINPROGRESS or ZKF_EBUSY at once. */
#include "holder.h"

static void deadline_passed(void *h)
{
    zkf__holder_deadline_passed(h); /* completes after cleanup */
}

int zkf__holder_acquire(zkf__holder_t *h, int kind, int timeout_ms, uint64_t *token)
{
    if (h == NULL)
        return ZKF_EINVAL;
    zkf_client_t *c = h->c;
    int64_t deadline = timeout_ms > 0 ? zkf__now_ns() + (int64_t)timeout_ms * 1000000LL : 0;
    pthread_mutex_lock(&c->mu);
    int rc = zkf__holder_can_start(h);
    zkf__waiter_t sw = {0};
    if (rc == 0)
        rc = zkf__holder_start(h, kind, timeout_ms, NULL, NULL, &sw);
    if (rc == 0) {
        zkf__waiter_wait(c, &sw, deadline, deadline_passed, h);
        rc = sw.status;
        if (rc == 0 && token)
            *token = sw.token;
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}
