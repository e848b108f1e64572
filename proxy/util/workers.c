/* The worker pool (workers.h): a FIFO queue under one mutex. Jobs are the
 * slow part of a write (fsync, a group commit's wait), so the queue's own
 * cost is noise next to them. */
#include "util/workers.h"

#include <stdlib.h>

struct zkp_workers {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    zkp_job_t *head, *tail;
    int stopping; /* closed to new jobs; threads leave once the queue is empty */
    unsigned n;
    pthread_t threads[];
};

static void *worker_main(void *arg)
{
    zkp_workers_t *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        zkp_job_t *job = w->head;
        if (job == NULL) {
            if (w->stopping)
                break; /* queue drained */
            pthread_cond_wait(&w->cv, &w->mu);
            continue;
        }
        w->head = job->next;
        if (w->head == NULL)
            w->tail = NULL;
        pthread_mutex_unlock(&w->mu);
        job->fn(job); /* may free job's storage */
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int zkp_workers_start(unsigned n, zkp_workers_t **out)
{
    if (n == 0)
        return -1;
    zkp_workers_t *w = calloc(1, sizeof(*w) + n * sizeof(pthread_t));
    if (w == NULL)
        return -1;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    for (; w->n < n; w->n++) {
        if (pthread_create(&w->threads[w->n], NULL, worker_main, w) != 0) {
            zkp_workers_free(w);
            return -1;
        }
    }
    *out = w;
    return 0;
}

int zkp_workers_submit(zkp_workers_t *w, zkp_job_t *job)
{
    job->next = NULL;
    pthread_mutex_lock(&w->mu);
    if (w->stopping) {
        pthread_mutex_unlock(&w->mu);
        return -1;
    }
    if (w->tail)
        w->tail->next = job;
    else
        w->head = job;
    w->tail = job;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return 0;
}

void zkp_workers_close(zkp_workers_t *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->mu);
    int joined = w->stopping; /* only close sets it, and joins */
    w->stopping = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    if (!joined)
        for (unsigned i = 0; i < w->n; i++)
            pthread_join(w->threads[i], NULL);
}

void zkp_workers_free(zkp_workers_t *w)
{
    if (w == NULL)
        return;
    zkp_workers_close(w);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}
