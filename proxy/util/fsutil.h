/* File-system helpers shared by the server (the data directory) and the
 * local-files backend. */
#ifndef ZKP_FSUTIL_H
#define ZKP_FSUTIL_H

/* Creates `path` and any missing parent (mode 0755); an existing directory
 * is fine. Returns 0, or -1 with errno set. */
int zkp_mkdir_p(const char *path);

#endif
