/* File-system helpers shared by the server (the data directory, files of
 * secrets) and the local-files backend. */
#ifndef ZKP_FSUTIL_H
#define ZKP_FSUTIL_H

#include <stddef.h>

/* Creates `path` and any missing parent (mode 0755); an existing directory
 * is fine. Returns 0, or -1 with errno set. */
int zkp_mkdir_p(const char *path);

/* Reads a file that holds secrets (the credentials file, a TLS private
 * key) whole into *text (malloc'ed, NUL-terminated; *len bytes without the
 * NUL; the caller wipes and frees it). The file must be a regular file
 * (symbolic links are followed: the mode checked is the target's) that no
 * one but its owner may read, write or execute: any group or other bit in
 * its mode refuses it, before a byte is read. `what` names the file in
 * messages ("credentials file"). Returns 0, or -1 with a message in err
 * that names the file and, for a bad mode, the mode and the fix. Files
 * larger than max_len are refused. */
int zkp_read_private_file(const char *path, const char *what, size_t max_len, char **text,
                          size_t *len, char *err, size_t errlen);

#endif
