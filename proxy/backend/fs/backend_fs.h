/* The local-files backend (backend_fs.c): one of the tables of backend.h. */
#ifndef ZKP_BACKEND_FS_H
#define ZKP_BACKEND_FS_H

#include <stddef.h>

#include "backend/backend.h"

/* The local-files backend: objects under DATA_DIR/objects, staging in
 * DATA_DIR/tmp (same file system, so link and rename are atomic). One process per
 * data directory: DATA_DIR/.lock is flock'ed exclusively from open to
 * destroy, and open fails (a message in err naming the holder's pid) if
 * another process holds it. Only then are leftover staging files from a
 * crash removed. With object_fsync off, object data and directory entries
 * are not fsync'ed (faster, not crash-safe). */
zkp_backend_t *zkp_backend_fs_open(const char *data_dir, int object_fsync, char *err,
                                   size_t errlen);

/* Whether be stages writes in unnamed (O_TMPFILE) files (1) or in files
 * named in DATA_DIR/tmp (0); see backend/fs/staging.h. Only tests set it,
 * to exercise the named path where unnamed files work: 0 always takes,
 * 1 only if be could already. Not thread-safe: before any write. */
int zkp_backend_fs_unnamed_staging(zkp_backend_t *be);
void zkp_backend_fs_set_unnamed_staging(zkp_backend_t *be, int on);

#endif
