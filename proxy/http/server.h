/* zkfence-proxy's server: one instance owns its configuration copy, the
 * service the S3 operations run against (s3/service.h: the backend, the
 * mark store, the audit log, the metrics) and the HTTP daemon. No global
 * state: tests may run several in one process. */
#ifndef ZKP_SERVER_H
#define ZKP_SERVER_H

#include <stddef.h>

#include "util/config.h"

typedef struct zkp_server zkp_server_t;

/* Checks the configuration's files (credentials, TLS certificate and key)
 * and listeners, then opens the mark store, the backend (for local files:
 * the data directory, locked: one proxy per data directory) and the audit
 * log, and starts listening. Returns 0, or a negative ZKP_FAIL_*
 * (util/config.h) with a message in err: ZKP_FAIL_CONFIG when the
 * configuration is wrong (the credentials file, the TLS files, the
 * listeners: then nothing of the data directory was touched; an upstream
 * refusing its credentials, a missing upstream bucket),
 * ZKP_FAIL_UNAVAILABLE when an upstream cannot be reached, ZKP_FAIL_START
 * for the rest (another proxy holding the marks or the data directory,
 * ...). `cfg` is copied. */
int zkp_server_start(const zkp_config_t *cfg, zkp_server_t **out, char *err, size_t errlen);

/* The ports actually bound (useful with port 0); 0 for a listener that is
 * off. */
unsigned zkp_server_port(const zkp_server_t *s);
unsigned zkp_server_tls_port(const zkp_server_t *s);

/* Reloads the credentials file (SIGHUP). Returns 0 with a summary in msg,
 * or -1 with the reason in msg: the credentials in use are kept. */
int zkp_server_reload(zkp_server_t *s, char *msg, size_t msglen);

/* Reopens the audit log under its configured path (log rotation: the old
 * file was renamed, lines go to a new one from now on). Returns 0, or -1 if
 * the new file cannot be opened: lines keep going to the old one. Safe while
 * requests run. */
int zkp_server_reopen_logs(zkp_server_t *s);

/* Stops accepting, lets in-flight requests finish (up to the configured
 * grace period), stops the daemon, closes the mark store. NULL is a no-op. */
void zkp_server_stop(zkp_server_t *s);

#endif
