/* The fault-injecting VFS of fault_vfs.h. Each file opened through it is a
 * fv_file_t followed by the real VFS's own file object; every method calls
 * the real one, after checking the fault switches. */
#include "fault_vfs.h"

#include <sqlite3.h>
#include <stdatomic.h>
#include <string.h>

typedef struct fv_file {
    sqlite3_file base; /* pMethods = &fv_io */
    sqlite3_file *real;
} fv_file_t;

static sqlite3_vfs *real_vfs;
static sqlite3_vfs fv_vfs;
static atomic_int fail_writes;
static atomic_int fail_commits;
static atomic_ulong faults;

static int fault(int rc)
{
    atomic_fetch_add(&faults, 1);
    return rc;
}

static sqlite3_file *real_of(sqlite3_file *f)
{
    return ((fv_file_t *)f)->real;
}

static int fv_close(sqlite3_file *f)
{
    sqlite3_file *r = real_of(f);
    return r->pMethods ? r->pMethods->xClose(r) : SQLITE_OK;
}

static int fv_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off)
{
    sqlite3_file *r = real_of(f);
    return r->pMethods->xRead(r, buf, n, off);
}

static int fv_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
    if (atomic_load(&fail_writes))
        return fault(SQLITE_IOERR_WRITE);
    sqlite3_file *r = real_of(f);
    return r->pMethods->xWrite(r, buf, n, off);
}

static int fv_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    if (atomic_load(&fail_writes))
        return fault(SQLITE_IOERR_TRUNCATE);
    sqlite3_file *r = real_of(f);
    return r->pMethods->xTruncate(r, size);
}

static int fv_sync(sqlite3_file *f, int flags)
{
    if (atomic_load(&fail_writes))
        return fault(SQLITE_IOERR_FSYNC);
    sqlite3_file *r = real_of(f);
    return r->pMethods->xSync(r, flags);
}

static int fv_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
    sqlite3_file *r = real_of(f);
    return r->pMethods->xFileSize(r, size);
}

static int fv_lock(sqlite3_file *f, int level)
{
    sqlite3_file *r = real_of(f);
    return r->pMethods->xLock(r, level);
}

static int fv_unlock(sqlite3_file *f, int level)
{
    sqlite3_file *r = real_of(f);
    return r->pMethods->xUnlock(r, level);
}

static int fv_check_reserved(sqlite3_file *f, int *out)
{
    sqlite3_file *r = real_of(f);
    return r->pMethods->xCheckReservedLock(r, out);
}

/* Takes one of the pending "commit reported failure" faults, if any. */
static int take_commit_fault(void)
{
    int n = atomic_load(&fail_commits);
    while (n > 0)
        if (atomic_compare_exchange_weak(&fail_commits, &n, n - 1))
            return 1;
    return 0;
}

static int fv_file_control(sqlite3_file *f, int op, void *arg)
{
    sqlite3_file *r = real_of(f);
    int rc = r->pMethods->xFileControl(r, op, arg);
    /* Sent once the commit is durable: failing it makes COMMIT report an
     * error for a transaction that the disk (and SQLite) now hold. */
    if (op == SQLITE_FCNTL_COMMIT_PHASETWO && take_commit_fault())
        return fault(SQLITE_IOERR);
    return rc;
}

static int fv_sector_size(sqlite3_file *f)
{
    sqlite3_file *r = real_of(f);
    return r->pMethods->xSectorSize(r);
}

static int fv_device_characteristics(sqlite3_file *f)
{
    sqlite3_file *r = real_of(f);
    return r->pMethods->xDeviceCharacteristics(r);
}

static int fv_shm_map(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **pp)
{
    sqlite3_file *r = real_of(f);
    return r->pMethods->xShmMap(r, pg, pgsz, extend, pp);
}

static int fv_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
    sqlite3_file *r = real_of(f);
    return r->pMethods->xShmLock(r, offset, n, flags);
}

static void fv_shm_barrier(sqlite3_file *f)
{
    sqlite3_file *r = real_of(f);
    r->pMethods->xShmBarrier(r);
}

static int fv_shm_unmap(sqlite3_file *f, int del)
{
    sqlite3_file *r = real_of(f);
    return r->pMethods->xShmUnmap(r, del);
}

/* Version 2 methods only: without xFetch/xUnfetch SQLite does not use
 * memory-mapped I/O on these files, so every read goes through xRead. */
static const sqlite3_io_methods fv_io = {
    .iVersion = 2,
    .xClose = fv_close,
    .xRead = fv_read,
    .xWrite = fv_write,
    .xTruncate = fv_truncate,
    .xSync = fv_sync,
    .xFileSize = fv_file_size,
    .xLock = fv_lock,
    .xUnlock = fv_unlock,
    .xCheckReservedLock = fv_check_reserved,
    .xFileControl = fv_file_control,
    .xSectorSize = fv_sector_size,
    .xDeviceCharacteristics = fv_device_characteristics,
    .xShmMap = fv_shm_map,
    .xShmLock = fv_shm_lock,
    .xShmBarrier = fv_shm_barrier,
    .xShmUnmap = fv_shm_unmap,
};

static int fv_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out_flags)
{
    (void)vfs;
    fv_file_t *ff = (fv_file_t *)f;
    ff->real = (sqlite3_file *)(ff + 1);
    memset(ff->real, 0, (size_t)real_vfs->szOsFile);
    int rc = real_vfs->xOpen(real_vfs, name, ff->real, flags, out_flags);
    /* SQLite calls xClose whenever pMethods is set, even after a failed
     * open: ours is set exactly when the real file needs closing. */
    ff->base.pMethods = ff->real->pMethods != NULL ? &fv_io : NULL;
    return rc;
}

static int fv_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
    (void)vfs;
    return real_vfs->xDelete(real_vfs, name, sync_dir);
}

static int fv_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
    (void)vfs;
    return real_vfs->xAccess(real_vfs, name, flags, out);
}

static int fv_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
    (void)vfs;
    return real_vfs->xFullPathname(real_vfs, name, n, out);
}

static int fv_randomness(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    return real_vfs->xRandomness(real_vfs, n, out);
}

static int fv_sleep(sqlite3_vfs *vfs, int us)
{
    (void)vfs;
    return real_vfs->xSleep(real_vfs, us);
}

static int fv_current_time(sqlite3_vfs *vfs, double *out)
{
    (void)vfs;
    return real_vfs->xCurrentTime(real_vfs, out);
}

static int fv_last_error(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    return real_vfs->xGetLastError ? real_vfs->xGetLastError(real_vfs, n, out) : 0;
}

int fv_install(void)
{
    if (real_vfs != NULL)
        return 0;
    real_vfs = sqlite3_vfs_find(NULL);
    if (real_vfs == NULL)
        return -1;
    fv_vfs = (sqlite3_vfs){
        .iVersion = 1,
        .szOsFile = (int)sizeof(fv_file_t) + real_vfs->szOsFile,
        .mxPathname = real_vfs->mxPathname,
        .zName = "zkp-fault",
        .xOpen = fv_open,
        .xDelete = fv_delete,
        .xAccess = fv_access,
        .xFullPathname = fv_full_pathname,
        .xDlOpen = NULL,
        .xRandomness = fv_randomness,
        .xSleep = fv_sleep,
        .xCurrentTime = fv_current_time,
        .xGetLastError = fv_last_error,
    };
    atomic_store(&fail_writes, 0);
    atomic_store(&fail_commits, 0);
    return sqlite3_vfs_register(&fv_vfs, 1) == SQLITE_OK ? 0 : -1;
}

void fv_uninstall(void)
{
    if (real_vfs == NULL)
        return;
    sqlite3_vfs_unregister(&fv_vfs); /* the previous default is the default again */
    real_vfs = NULL;
}

void fv_fail_writes(int on)
{
    atomic_store(&fail_writes, on != 0);
}

void fv_fail_commit_after_disk(int n)
{
    atomic_store(&fail_commits, n);
}

unsigned long fv_faults(void)
{
    return atomic_load(&faults);
}
