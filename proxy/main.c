/* zkfence-proxy: an S3-compatible HTTP proxy that refuses writes carrying
 * stale fencing tokens. See proxy/README.md.
 *
 * Exit codes (sysexits(3)): 0 after SIGTERM/SIGINT; 64 a bad flag or
 * configuration value; 78 a configuration the proxy refuses to run with
 * (credentials or TLS files missing, malformed or readable by others,
 * plain HTTP on a non-loopback address, no listener); 1 anything else that
 * stops it from starting (the port in use, another proxy on the data
 * directory). */
#include <getopt.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fence/bind.h"
#include "http/server.h"
#include "s3/service.h"
#include "util/config.h"

/* The proxy's large buffers are short-lived and made again for every
 * request: an upstream transfer's stream buffer (512 KiB) and libcurl's
 * receive buffer (128 KiB), a PutObject staged in memory (up to 1 MiB), a
 * part (up to 8 MiB). glibc's defaults hand blocks of that size back to the
 * kernel when they are freed (mmap above a threshold that starts at 128
 * KiB, heap tops trimmed beyond twice it), so the next request's buffer
 * faults its pages in again: 20 to 55 page faults per 1 MiB GET or PUT
 * through the upstream backend, after warm-up (/proc/PID/stat minflt), and
 * hundreds before. Kept by the allocator instead: every block up to 16 MiB
 * comes from the heaps, and a heap keeps up to 32 MiB free at its top (the
 * budget of bodies staged in memory, ZKP_S3_MEM_BUDGET). Set before any
 * thread starts; a no-op under allocators that replace glibc's (ASan,
 * valgrind). */
static void tune_malloc(void)
{
#if defined(__GLIBC__)
    mallopt(M_MMAP_THRESHOLD, 16 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 32 * 1024 * 1024);
#endif
}

static void usage(FILE *f)
{
    fprintf(f, "Usage: zkfence-proxy [OPTIONS]\n"
               "S3-compatible proxy that refuses writes with stale fencing tokens.\n\n"
               "  --config FILE            read `key = value` settings (see "
               "conf/zkfence-proxy.conf)\n"
               "  --listen ADDR:PORT       listen address (default " ZKP_DEFAULT_LISTEN ")\n"
               "  --data-dir DIR           objects, marks.db and audit.log live here\n"
               "  --credentials FILE       the credentials file (keys and rights; mode 0600)\n"
               "  --debug-fault-endpoint   TEST ONLY: enable POST "
               "/_zkfence/debug/marks-fail?on=1\n"
               "  -h, --help               this help\n"
               "  --version                print the version\n\n"
               "Flags override the configuration file. SIGTERM/SIGINT stop the proxy after\n"
               "in-flight requests finish; SIGHUP reopens the audit log (log rotation) and\n"
               "reloads the credentials file (a bad one is refused: the old keys stay).\n"
               "Exit: 64 bad flag or value, 78 configuration refused, 1 cannot start.\n");
}

enum { OPT_CONFIG = 256, OPT_LISTEN, OPT_DATA_DIR, OPT_CREDENTIALS, OPT_FAULT, OPT_VERSION };

static const struct option options[] = {
    {"config", required_argument, NULL, OPT_CONFIG},
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"data-dir", required_argument, NULL, OPT_DATA_DIR},
    {"credentials", required_argument, NULL, OPT_CREDENTIALS},
    {"debug-fault-endpoint", no_argument, NULL, OPT_FAULT},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

/* Two passes: the file first (wherever --config appears), then the flags,
 * so that flags always win. Returns 0, 1 for "exit 0" (help/version), or
 * -1 on error. */
static int parse_args(int argc, char **argv, zkp_config_t *cfg)
{
    char err[512];
    int c;
    opterr = 1;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return 1;
        }
        if (c == OPT_VERSION) {
            printf("zkfence-proxy %s\n", ZKP_VERSION);
            return 1;
        }
        if (c == '?')
            return -1;
        if (c == OPT_CONFIG && zkp_config_load(cfg, optarg, err, sizeof(err)) != 0) {
            fprintf(stderr, "zkfence-proxy: %s\n", err);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "zkfence-proxy: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        /* A flag that sets a key of the file: its key, and its own name. */
        const char *key = c == OPT_LISTEN        ? "listen"
                          : c == OPT_DATA_DIR    ? "data_dir"
                          : c == OPT_CREDENTIALS ? "credentials"
                                                 : NULL;
        if (c == OPT_FAULT)
            cfg->debug_fault_endpoint = 1;
        if (key != NULL && zkp_config_set(cfg, key, optarg, err, sizeof(err)) != 0) {
            fprintf(stderr, "zkfence-proxy: --%s: %s\n",
                    c == OPT_LISTEN     ? "listen"
                    : c == OPT_DATA_DIR ? "data-dir"
                                        : "credentials",
                    err);
            return -1;
        }
    }
    /* The bindings are checked now, with the rest of the configuration. */
    zkp_binds_t *binds;
    if (zkp_service_binds(cfg, &binds, err, sizeof(err)) != 0) {
        fprintf(stderr, "zkfence-proxy: %s\n", err);
        return -1;
    }
    zkp_binds_free(binds);
    if (zkp_config_verify(cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "zkfence-proxy: %s\n", err);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    tune_malloc();
    zkp_config_t cfg;
    zkp_config_defaults(&cfg);
    int rc = parse_args(argc, argv, &cfg);
    if (rc != 0) {
        /* The message above names the cause (file:line for a setting); one
         * hint, not the whole usage, so that the cause stays visible. */
        if (rc < 0)
            fprintf(stderr, "zkfence-proxy: the settings are described in zkfence-proxy(1) and "
                            "conf/zkfence-proxy.conf; flags: zkfence-proxy --help\n");
        zkp_config_free(&cfg);
        return rc < 0 ? 64 : 0;
    }
    /* Block the signals we act on in every thread (the HTTP threads inherit
     * the mask) and take them synchronously below: no signal handler, no
     * global flag. SIGHUP is among them because its default action kills
     * the process, and log rotation sends it. SIGPIPE is ignored: a client
     * that hangs up is an error return, not a reason to die. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* The warnings go out before the server answers its first request:
     * whoever sees it serving (a health check, a supervisor) also finds
     * them in the log. */
    if (!cfg.auth)
        fprintf(stderr, "zkfence-proxy: WARNING: auth = off: no signature is checked, anyone who "
                        "can reach the port may read, write and raise any mark. For local "
                        "experiments only.\n");
    if (cfg.listen_host[0] != '\0' && !zkp_addr_is_loopback(cfg.listen_host))
        fprintf(stderr,
                "zkfence-proxy: WARNING: plain HTTP on %s (allow_insecure_http = on): "
                "use it only on a network you trust\n",
                cfg.listen_host);
    zkp_server_t *srv;
    char err[512];
    rc = zkp_server_start(&cfg, &srv, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "zkfence-proxy: %s\n", err);
        zkp_config_free(&cfg);
        /* sysexits(3), as the zkfence CLI: 69 unavailable, 78 config. */
        return rc == ZKP_FAIL_UNAVAILABLE ? 69 : rc == ZKP_FAIL_CONFIG ? 78 : 1;
    }
    char where[160] = "", tls_where[96] = "";
    if (zkp_server_port(srv) != 0)
        snprintf(where, sizeof(where), "http://%s:%u", cfg.listen_host, zkp_server_port(srv));
    if (zkp_server_tls_port(srv) != 0)
        snprintf(tls_where, sizeof(tls_where), "%shttps://%s:%u", where[0] ? " and " : "",
                 cfg.tls_listen_host, zkp_server_tls_port(srv));
    fprintf(stderr, "zkfence-proxy %s: listening on %s%s, data in %s, auth %s%s\n", ZKP_VERSION,
            where, tls_where, cfg.data_dir, cfg.auth ? "on" : "OFF",
            cfg.debug_fault_endpoint ? " (debug fault endpoint ON: test use only)" : "");
    int sig = 0;
    while (sigwait(&sigs, &sig) == 0 && sig == SIGHUP) {
        /* Log rotation: the audit log was renamed; continue in a new file.
         * And the credentials file may have changed. */
        if (zkp_server_reopen_logs(srv) == 0)
            fprintf(stderr, "zkfence-proxy: SIGHUP: audit log reopened\n");
        else
            fprintf(stderr, "zkfence-proxy: SIGHUP: cannot reopen the audit log, keeping the "
                            "old file\n");
        char msg[600];
        if (zkp_server_reload(srv, msg, sizeof(msg)) == 0)
            fprintf(stderr, "zkfence-proxy: SIGHUP: credentials reloaded: %s\n", msg);
        else
            fprintf(stderr,
                    "zkfence-proxy: SIGHUP: credentials NOT reloaded, keeping the keys "
                    "in use: %s\n",
                    msg);
    }
    fprintf(stderr, "zkfence-proxy: %s, finishing in-flight requests\n", strsignal(sig));
    zkp_server_stop(srv);
    zkp_config_free(&cfg);
    fprintf(stderr, "zkfence-proxy: stopped\n");
    return 0;
}
