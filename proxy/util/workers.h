/* A pool of threads for the blocking part of requests: the syncs and
 * commits of writes. The HTTP event loops hand a request over (suspending
 * its connection) and go on serving the others; a worker runs it and
 * resumes the connection. */
#ifndef ZKP_WORKERS_H
#define ZKP_WORKERS_H

#include <pthread.h>

typedef struct zkp_job zkp_job_t;
typedef void (*zkp_job_fn)(zkp_job_t *job);

/* A unit of work; the submitter owns the storage until fn has run. */
struct zkp_job {
    zkp_job_t *next; /* the pool's queue */
    zkp_job_fn fn;
};

typedef struct zkp_workers zkp_workers_t;

/* Starts n threads (n >= 1). Returns 0, or -1 (nothing started). */
int zkp_workers_start(unsigned n, zkp_workers_t **out);

/* Queues job: a worker runs job->fn(job) soon, in submission order as far
 * as workers are free. Returns 0, or -1 once the pool is closed (the job
 * is not taken: the caller runs it). Thread-safe. */
int zkp_workers_submit(zkp_workers_t *w, zkp_job_t *job);

/* Closes the pool to new jobs, runs every job queued so far to its end and
 * joins the threads. The pool stays allocated, so a late submit is refused
 * rather than a use after free. Idempotent; one thread at a time; NULL is a
 * no-op. */
void zkp_workers_close(zkp_workers_t *w);

/* Closes (if not yet) and frees the pool. No call on it may follow. NULL is
 * a no-op. */
void zkp_workers_free(zkp_workers_t *w);

#endif
