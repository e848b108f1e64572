/* The reaper (reaper.h): a FIFO of paths under one mutex, one thread. */
#include "backend/fs/reaper.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "backend/fs/store.h"

typedef struct reap {
    struct reap *next;
    char path[];
} reap_t;

struct zkp_fs_reaper {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    reap_t *head, *tail;
    int stopping; /* delete what is queued, then leave */
    pthread_t thread;
};

static void *reaper_main(void *arg)
{
    zkp_fs_reaper_t *r = arg;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        reap_t *job = r->head;
        if (job == NULL) {
            if (r->stopping)
                break;
            pthread_cond_wait(&r->cv, &r->mu);
            continue;
        }
        r->head = job->next;
        if (r->head == NULL)
            r->tail = NULL;
        pthread_mutex_unlock(&r->mu);
        zkp_fs_rmtree(job->path);
        free(job);
        pthread_mutex_lock(&r->mu);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

int zkp_fs_reaper_start(zkp_fs_reaper_t **out)
{
    zkp_fs_reaper_t *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return -1;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    if (pthread_create(&r->thread, NULL, reaper_main, r) != 0) {
        pthread_cond_destroy(&r->cv);
        pthread_mutex_destroy(&r->mu);
        free(r);
        return -1;
    }
    *out = r;
    return 0;
}

void zkp_fs_reaper_add(zkp_fs_reaper_t *r, const char *path)
{
    size_t n = strlen(path) + 1;
    reap_t *job = r != NULL ? malloc(sizeof(*job) + n) : NULL;
    if (job == NULL) {
        zkp_fs_rmtree(path);
        return;
    }
    job->next = NULL;
    memcpy(job->path, path, n);
    pthread_mutex_lock(&r->mu);
    if (r->tail != NULL)
        r->tail->next = job;
    else
        r->head = job;
    r->tail = job;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

void zkp_fs_reaper_stop(zkp_fs_reaper_t *r)
{
    if (r == NULL)
        return;
    pthread_mutex_lock(&r->mu);
    r->stopping = 1;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thread, NULL);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r);
}
