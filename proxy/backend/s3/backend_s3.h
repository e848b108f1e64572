/* The upstream S3 backend (backend_s3.c): one of the tables of backend.h,
 * storing objects in an S3-compatible endpoint (backend = s3). */
#ifndef ZKP_BACKEND_S3_H
#define ZKP_BACKEND_S3_H

#include <stddef.h>

#include "backend/backend.h"
#include "util/config.h"

/* Opens the backend from cfg->s3 (util/config.h): reads the credentials
 * file, starts the transfer thread and checks the upstream (HeadBucket of
 * every mapped bucket, or ListBuckets when none is mapped). Staging files
 * go to DATA_DIR/tmp, unnamed. Returns it, or NULL with a message naming
 * the endpoint and the failing call in err, and *failure:
 * ZKP_FAIL_UNAVAILABLE (unreachable, timed out, 5xx), ZKP_FAIL_CONFIG
 * (settings, credentials, a refused or missing bucket) or ZKP_FAIL_START. */
zkp_backend_t *zkp_backend_s3_open(const zkp_config_t *cfg, char *err, size_t errlen, int *failure);

#endif
