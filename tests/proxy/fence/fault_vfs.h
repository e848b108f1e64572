/* A fault-injecting SQLite VFS for the mark-store tests: a shim over the
 * default VFS that passes every call through, except that on demand it
 * makes real I/O fail the way a dying or full disk does (xWrite, xSync and
 * xTruncate return SQLITE_IOERR_*), or makes a COMMIT report failure after
 * its transaction has reached the disk. No LD_PRELOAD, no mounts: SQLite's
 * own VFS layer is the seam, so the store's code runs unchanged and meets
 * the errors SQLite itself reports.
 *
 * Install it (as the default VFS) before zkp_marks_open(), remove it after
 * zkp_marks_close(). One shim per process; the switches are atomics, safe
 * to flip while the store's committer thread runs. */
#ifndef ZKP_FAULT_VFS_H
#define ZKP_FAULT_VFS_H

/* Registers the shim as the default VFS. Returns 0, or -1. */
int fv_install(void);
/* Restores the previous default VFS. */
void fv_uninstall(void);

/* While on, every write, sync and truncate of every file opened through
 * the shim fails: SQLITE_IOERR_WRITE / _FSYNC / _TRUNCATE. */
void fv_fail_writes(int on);

/* The next `n` commits report SQLITE_IOERR although their transaction is
 * durable: the shim fails SQLITE_FCNTL_COMMIT_PHASETWO, which SQLite sends
 * once the commit is on disk (WAL written, synced, visible). This is "a
 * commit that reported failure but reached the disk". */
void fv_fail_commit_after_disk(int n);

/* How many faults the shim has injected so far (to prove a test reached
 * the failure path rather than passing around it). */
unsigned long fv_faults(void);

#endif
