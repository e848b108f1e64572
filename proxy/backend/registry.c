#include "backend/registry.h"

#include <stdio.h>
#include <string.h>

#include "backend/fs/backend_fs.h"

static zkp_backend_t *open_fs(const zkp_config_t *cfg, char *err, size_t errlen)
{
    return zkp_backend_fs_open(cfg->data_dir, cfg->object_fsync, err, errlen);
}

static const struct {
    const char *name;
    zkp_backend_t *(*open)(const zkp_config_t *cfg, char *err, size_t errlen);
} backends[] = {
    {"fs", open_fs},
};

zkp_backend_t *zkp_backend_open(const zkp_config_t *cfg, char *err, size_t errlen)
{
    for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
        if (strcmp(cfg->backend, backends[i].name) == 0)
            return backends[i].open(cfg, err, errlen);
    snprintf(err, errlen, "backend '%s': unknown (this build has: fs)", cfg->backend);
    return NULL;
}
