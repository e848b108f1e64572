#include "s3/service.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend/registry.h"
#include "util/fsutil.h"

int zkp_service_binds(const zkp_config_t *cfg, zkp_binds_t **out, char *err, size_t errlen)
{
    zkp_binds_t *b = zkp_binds_new();
    if (b == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < cfg->nbinds; i++) {
        char why[700];
        if (zkp_binds_add(b, cfg->binds[i].spec, cfg->binds[i].value, why, sizeof(why)) != 0) {
            snprintf(err, errlen, "%s: %s", cfg->binds[i].origin, why);
            zkp_binds_free(b);
            return -1;
        }
    }
    *out = b;
    return 0;
}

static int name_inert(const char *lock, uint64_t mark, void *arg)
{
    if (!zkp_lock_name_valid(lock, strlen(lock)))
        fprintf(stderr,
                "zkfence-proxy: inert mark %" PRIu64 " under '%s', not a canonical lock name: no "
                "request can use it (clear it with POST /_zkfence/marks/repair?clear)\n",
                mark, lock);
    return 0;
}

/* verify = holder or zxid: the ZooKeeper session, opened last but the audit log,
 * after the locks on the storage (a second proxy gives up before it
 * connects). Without it, every token is believed: said at start. */
static int open_zk(zkp_service_t *svc, const zkp_config_t *cfg, char *err, size_t errlen)
{
    int mode = zkp_config_verify(cfg, err, errlen);
    if (mode < 0)
        return -1;
    if (mode == ZKP_VERIFY_OFF) {
        fprintf(stderr, "zkfence-proxy: WARNING: verify = off: fencing tokens are not checked "
                        "against ZooKeeper, so a forged token can raise a mark (set zk = "
                        "host:port,... to verify them)\n");
        return 0;
    }
    zkp_zk_mode_t zm = mode == ZKP_VERIFY_ZXID ? ZKP_ZK_MODE_ZXID : ZKP_ZK_MODE_HOLDER;
    return zkp_zk_open(cfg->zk, cfg->zk_chroot, zm, (int)cfg->zk_session_timeout_ms, 0, &svc->zk,
                       err, errlen);
}

/* Unfinished multipart uploads past their age are aborted: their parts
 * would otherwise hold space for ever. */
static void sweep_uploads(void *arg)
{
    zkp_service_t *svc = arg;
    time_t before = time(NULL) - (time_t)svc->cfg->multipart_max_age_s;
    int n = svc->be->ops->mpu_sweep(svc->be, before);
    if (n <= 0)
        return;
    atomic_fetch_add(&svc->metrics.uploads_swept, (uint64_t)n);
    fprintf(stderr,
            "zkfence-proxy: aborted %d unfinished multipart upload(s) older than %llu s "
            "(multipart_max_age)\n",
            n, (unsigned long long)svc->cfg->multipart_max_age_s);
}

static int start_sweeps(zkp_service_t *svc, char *err, size_t errlen)
{
    uint64_t age = svc->cfg->multipart_max_age_s;
    if (age == 0 || svc->be->ops->mpu_sweep == NULL)
        return 0;
    sweep_uploads(svc); /* at start-up, before the first request */
    uint64_t ms = age * 1000 / 4;
    ms = ms < 1000 ? 1000 : ms > 3600000 ? 3600000 : ms;
    if (zkp_ticker_start((unsigned)ms, sweep_uploads, svc, &svc->sweeper) != 0) {
        snprintf(err, errlen, "cannot start the multipart upload sweeper thread");
        return -1;
    }
    return 0;
}

int zkp_service_open(zkp_service_t *svc, const zkp_config_t *cfg, char *err, size_t errlen)
{
    memset(svc, 0, sizeof(*svc));
    svc->cfg = cfg;
    zkp_metrics_init(&svc->metrics);
    if (zkp_service_binds(cfg, &svc->binds, err, errlen) != 0)
        return -1;
    if (zkp_mkdir_p(cfg->data_dir) != 0) {
        snprintf(err, errlen, "data directory %s: cannot create it: %s", cfg->data_dir,
                 strerror(errno));
        return -1;
    }
    /* Said before SQLite's "unable to open database file" could. */
    if (access(cfg->data_dir, W_OK | X_OK) != 0) {
        snprintf(err, errlen,
                 "data directory %s: not writable by this process (uid %u): %s; give it to the "
                 "proxy's user (chown) or choose another with --data-dir",
                 cfg->data_dir, (unsigned)geteuid(), strerror(errno));
        return -1;
    }
    zkp_marks_options_t mo;
    zkp_marks_options_init(&mo);
    if (cfg->group_commit_max_batch > 0)
        mo.group_commit_max_batch = cfg->group_commit_max_batch;
    if (cfg->group_commit_max_wait_us > 0)
        mo.group_commit_max_wait_us = cfg->group_commit_max_wait_us;
    char why[400];
    if (zkp_marks_open(cfg->marks_db, &mo, &svc->marks, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "mark store %s: %s", cfg->marks_db, why);
        return -1;
    }
    if (zkp_marks_inert(svc->marks) > 0)
        zkp_marks_foreach(svc->marks, name_inert, NULL);
    int failure = ZKP_FAIL_START;
    svc->be = zkp_backend_open(cfg, err, errlen, &failure);
    if (svc->be == NULL)
        return failure;
    if (open_zk(svc, cfg, err, errlen) != 0)
        return ZKP_FAIL_START;
    if (zkp_audit_open(cfg->audit_log, &svc->audit, err, errlen) != 0)
        return ZKP_FAIL_START;
    return start_sweeps(svc, err, errlen) == 0 ? 0 : ZKP_FAIL_START;
}

int zkp_service_reopen_logs(zkp_service_t *svc)
{
    return zkp_audit_reopen(svc->audit) != 0 ? -1 : 0;
}

void zkp_service_close(zkp_service_t *svc)
{
    zkp_ticker_stop(svc->sweeper); /* it uses the backend: first */
    svc->sweeper = NULL;
    zkp_audit_close(svc->audit);
    zkp_marks_close(svc->marks);
    if (svc->be != NULL)
        svc->be->ops->destroy(svc->be);
    zkp_binds_free(svc->binds);
    zkp_zk_close(svc->zk);
    svc->zk = NULL;
    svc->binds = NULL;
    svc->audit = NULL;
    svc->marks = NULL;
    svc->be = NULL;
}
