#include "backend/registry.h"

#include <stdio.h>
#include <string.h>

#include "backend/fs/backend_fs.h"
#include "backend/s3/backend_s3.h"

static zkp_backend_t *open_fs(const zkp_config_t *cfg, char *err, size_t errlen, int *failure)
{
    *failure = ZKP_FAIL_START;
    return zkp_backend_fs_open(cfg->data_dir, cfg->object_fsync, err, errlen);
}

static const struct {
    const char *name;
    zkp_backend_t *(*open)(const zkp_config_t *cfg, char *err, size_t errlen, int *failure);
} backends[] = {
    {"fs", open_fs},
    {"s3", zkp_backend_s3_open},
};

zkp_backend_t *zkp_backend_open(const zkp_config_t *cfg, char *err, size_t errlen, int *failure)
{
    int why = ZKP_FAIL_START;
    zkp_backend_t *be = NULL;
    size_t i;
    for (i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
        if (strcmp(cfg->backend, backends[i].name) == 0) {
            be = backends[i].open(cfg, err, errlen, &why);
            break;
        }
    if (i == sizeof(backends) / sizeof(backends[0])) {
        snprintf(err, errlen, "backend '%s': unknown (this build has: fs, s3)", cfg->backend);
        why = ZKP_FAIL_CONFIG;
    }
    if (be == NULL && failure != NULL)
        *failure = why;
    return be;
}
