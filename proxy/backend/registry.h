/* The backend registry: opens the storage backend the configuration names
 * (`backend = fs`), so that the core (http/, s3/) never names one. Each
 * backend reads its own settings from the configuration. */
#ifndef ZKP_REGISTRY_H
#define ZKP_REGISTRY_H

#include <stddef.h>

#include "backend/backend.h"
#include "util/config.h"

/* Opens the backend named cfg->backend. Returns it (the caller owns it:
 * be->ops->destroy), or NULL with a message in err: an unknown name
 * ("backend 'x': unknown ..."), or the backend's own reason for failing to
 * open (its storage is locked by another proxy, cannot be created, an
 * upstream that cannot be reached or refuses our credentials, ...); then,
 * if failure != NULL, *failure says which kind (ZKP_FAIL_START,
 * ZKP_FAIL_UNAVAILABLE, ZKP_FAIL_CONFIG: util/config.h). */
zkp_backend_t *zkp_backend_open(const zkp_config_t *cfg, char *err, size_t errlen, int *failure);

#endif
