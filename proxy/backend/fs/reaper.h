/* Deleting directory trees off the request path (reaper.c), for the
 * local-files backend: an upload that ends (completed, aborted, swept) is
 * renamed into tmp/ at once, and that rename is what ends it; its parts,
 * up to gigabytes, are deleted here afterwards, on the reaper's own thread,
 * so that a completion is not answered a second later for freeing them.
 * What is still queued when the backend closes is deleted then; what a
 * crash leaves in tmp/ is deleted at start-up (backend_fs.c).
 * Internal to backend/fs/. Thread-safe. */
#ifndef ZKP_FS_REAPER_H
#define ZKP_FS_REAPER_H

typedef struct zkp_fs_reaper zkp_fs_reaper_t;

/* Starts the thread. 0 with *out set, or -1. */
int zkp_fs_reaper_start(zkp_fs_reaper_t **out);
/* Queues path (copied) for deletion with everything under it. If it cannot
 * be queued (out of memory, r NULL), deletes it now. */
void zkp_fs_reaper_add(zkp_fs_reaper_t *r, const char *path);
/* Deletes what is queued, stops the thread and frees r. NULL: no-op. */
void zkp_fs_reaper_stop(zkp_fs_reaper_t *r);

#endif
