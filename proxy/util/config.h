/* zkfence-proxy configuration: defaults, the `key = value` file format and
 * command-line overrides. Both the file and the flags go through
 * zkp_config_set(), so a key means the same thing wherever it is given.
 *
 * File format: one `key = value` per line; '#' starts a comment (whole line
 * or after whitespace); blank lines are ignored; values may not be quoted.
 * Errors name the file and line. Sizes take an optional K/M/G suffix
 * (powers of 1024), durations an optional s/m/h/d one (seconds without). */
#ifndef ZKP_CONFIG_H
#define ZKP_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define ZKP_DEFAULT_LISTEN "127.0.0.1:9000"

/* Why a start failed (the backend registry, zkp_service_open,
 * zkp_server_start return these), so that the exit status can follow
 * sysexits(3). */
#define ZKP_FAIL_START (-1)       /* exit 1: anything else */
#define ZKP_FAIL_UNAVAILABLE (-2) /* exit 69: a service we need cannot be reached */
#define ZKP_FAIL_CONFIG (-3)      /* exit 78: the configuration is wrong */

typedef struct zkp_bucket_policy {
    char name[64];
    int fencing_required;
} zkp_bucket_policy_t;

/* A `bind.SPEC = VALUE` line, as written (fence/bind.h gives it meaning:
 * the proxy builds its table of bindings from these at start, and main()
 * refuses a bad one with exit 64 naming `origin`). */
typedef struct zkp_bind_line {
    char *spec;       /* owned; "seats" or "seats/rows/" (the bucket checked) */
    char *value;      /* owned */
    char origin[320]; /* "FILE:LINE" */
} zkp_bind_line_t;

/* backend = s3: one proxy bucket stored in an upstream bucket, under an
 * optional key prefix (s3.bucket.NAME = UPSTREAM[/PREFIX]). */
typedef struct zkp_s3_map {
    char bucket[64];   /* the proxy's bucket name */
    char upstream[64]; /* the upstream bucket */
    char prefix[1024]; /* prepended to every key upstream; "" for none */
} zkp_s3_map_t;

/* The settings of backend = s3 (backend/s3/). Strings are "" when unset. */
typedef struct zkp_s3_config {
    char endpoint[512];          /* http[s]://host[:port], no trailing '/' */
    char region[64];             /* default "us-east-1" */
    char credentials_file[4096]; /* access_key / secret_key; mode 0600 or 0400 */
    char ca_file[4096];          /* CA bundle for https; "" = the system's */
    int virtual_hosted;          /* 1: bucket.host/key; 0 (default): host/bucket/key */
    int unmapped_same;           /* unmapped buckets: 1 same name upstream, 0 refused */
    unsigned timeout_s;          /* a call, or a transfer stalled this long, fails (503) */
    unsigned connect_timeout_s;
    zkp_s3_map_t *maps; /* owned */
    size_t nmaps;
} zkp_s3_config_t;

/* The storage backend when the configuration names none (`backend = fs`:
 * local files in data_dir). backend/registry.c opens a backend by name. */
#define ZKP_BACKEND_DEFAULT "fs"

/* `domain`: at most this many names, each at most this long (DNS). */
#define ZKP_DOMAINS_MAX 8
#define ZKP_DOMAIN_MAX 253

/* The credential scope's region when the configuration names none. */
#define ZKP_REGION_DEFAULT "us-east-1"

typedef struct zkp_config {
    char listen_host[64]; /* dotted IPv4; "" with `listen = off` (no plain HTTP) */
    unsigned listen_port;
    char tls_listen_host[64]; /* "" without `tls_listen` */
    unsigned tls_listen_port;
    char *tls_cert;          /* owned; PEM certificate (chain) file, NULL: no TLS */
    char *tls_key;           /* owned; PEM private key file, owner-only */
    int allow_insecure_http; /* plain HTTP on a non-loopback address is allowed */
    int auth;                /* verify SigV4 and rights (default on) */
    char *credentials;       /* owned; the credentials file (auth/creds.h) */
    char region[64];         /* the region clients sign for */
    /* Host names whose subdomains name a bucket (virtual-hosted style:
     * "bucket.DOMAIN"); default "localhost". */
    char domains[ZKP_DOMAINS_MAX][ZKP_DOMAIN_MAX + 1];
    size_t ndomains;
    char backend[16]; /* which storage backend: "fs" (local files, in data_dir) or "s3" */
    char *data_dir;   /* owned */
    char *audit_log;  /* owned; NULL: DATA_DIR/audit.log */
    char *marks_db;   /* owned; NULL: DATA_DIR/marks.db */
    uint64_t max_body_bytes;
    size_t max_key_bytes;
    size_t max_header_bytes;
    unsigned connection_timeout_s;
    unsigned threads;                /* workers for the blocking part of writes (syncs, commits) */
    unsigned io_threads;             /* HTTP event loops; 0: one per CPU */
    unsigned max_connections;        /* concurrent connections */
    unsigned max_connections_per_ip; /* per client address; 0: no cap */
    unsigned request_head_timeout_s; /* a whole request head within this */
    int object_fsync; /* fsync object data and directories (marks are always durable) */
    int fencing_required_default;
    int group_commit_max_batch;   /* 0: the fence store's default */
    int group_commit_max_wait_us; /* 0: the fence store's default */
    int debug_fault_endpoint;     /* test-only: POST /_zkfence/debug/marks-fail */
    int shutdown_grace_s;         /* how long SIGTERM waits for in-flight requests */
    /* Unfinished multipart uploads older than this are aborted (seconds;
     * 0: never). The file takes a unit: s, m, h or d. */
    uint64_t multipart_max_age_s;
    zkp_bucket_policy_t *buckets; /* owned */
    size_t nbuckets;
    zkp_bind_line_t *binds; /* owned: `bind.*` lines, in file order */
    size_t nbinds;
    /* Tokens verified against ZooKeeper (zk/verify.h). */
    char *zk;                       /* owned; `zk = host:port,...`; NULL: none */
    char *zk_chroot;                /* owned; `zk_chroot = /path`; NULL: none */
    int verify;                     /* ZKP_VERIFY_*; `verify = holder | zxid | off` */
    unsigned zk_session_timeout_ms; /* 0: libzkfence's default */
    zkp_s3_config_t s3;             /* backend = s3 */
} zkp_config_t;

/* `verify`: unset means holder when `zk` is set, off otherwise
 * (zkp_config_verify() resolves it; holder without zk is an error). */
#define ZKP_VERIFY_UNSET (-1)
#define ZKP_VERIFY_OFF 0
#define ZKP_VERIFY_HOLDER 1
#define ZKP_VERIFY_ZXID 2

/* The verification mode in force: ZKP_VERIFY_HOLDER, ZKP_VERIFY_ZXID or
 * ZKP_VERIFY_OFF. Returns -1 with err set when the settings contradict each
 * other (`verify = holder` or `zxid` without `zk`, `zk_chroot` without
 * `zk`). */
int zkp_config_verify(const zkp_config_t *c, char *err, size_t errlen);

void zkp_config_defaults(zkp_config_t *c);
void zkp_config_free(zkp_config_t *c);
/* Deep copy of src into dst (dst's old contents are not freed). Returns 0,
 * or -1 on OOM (dst then holds nothing to free beyond zkp_config_free). */
int zkp_config_copy(zkp_config_t *dst, const zkp_config_t *src);

/* The mapping of a proxy bucket, or NULL if it has none. */
const zkp_s3_map_t *zkp_config_s3_map(const zkp_config_t *c, const char *bucket);

/* Sets one key. Returns 0, or -1 with a message in err. */
int zkp_config_set(zkp_config_t *c, const char *key, const char *value, char *err, size_t errlen);

/* Reads a configuration file. Returns 0, or -1 with "FILE:LINE: message"
 * in err. */
int zkp_config_load(zkp_config_t *c, const char *path, char *err, size_t errlen);

/* Parses text as if it were a file named `name` (for tests). */
int zkp_config_parse(zkp_config_t *c, const char *name, const char *text, char *err, size_t errlen);

/* Checks what no single key can: TLS keys given together with a TLS
 * listener, at least one listener. Returns 0, or -1 with a message. */
int zkp_config_check(const zkp_config_t *c, char *err, size_t errlen);

/* 1 if the dotted IPv4 address is in 127.0.0.0/8. */
int zkp_addr_is_loopback(const char *ipv4);

/* Whether a mutating request on this bucket must carry a lock and token. */
int zkp_config_fencing_required(const zkp_config_t *c, const char *bucket);

#endif
