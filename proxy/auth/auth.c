/* Request authentication (see auth/auth.h).
 *
 * A credentials set and its SigV4 verifier travel together in a snapshot:
 * the verifier's secret lookup reads that snapshot's keys, and every cache
 * of derived signing keys dies with it, so a reload can never verify
 * against one set and grant rights from another.
 *
 * How a request holds a snapshot without writing a line another thread
 * writes (the event loops verify side by side, and a lock or a reference
 * count they share bounces its cache line between them on every request):
 *
 *   snapshot  refs: one while it is `cur`, one per holder. Counted under
 *             or beside `cur_mu`: once per thread and reload, not per
 *             request.
 *   holder    one thread's hold on one snapshot: the snapshot, that
 *             thread's cache of signing keys for it (lock-free: only that
 *             thread verifies with it), and refs: one while it is its
 *             thread's current holder, one per request decided with it.
 *             Its own cache lines; requests end on the thread that
 *             started them as a rule, so the count stays in one cache.
 *   record    one per thread and auth object (a pthread key): `cur`, the
 *             thread's current holder, under the record's own `mu`, which
 *             only that thread takes, except a reload.
 *
 * A request locks its thread's record, makes a holder of the current
 * snapshot if the record has none, counts itself in the holder, unlocks,
 * and uses the holder's snapshot for everything. A reload swaps `cur`,
 * then takes every record's holder away (under that record's lock) and
 * drops the record's reference. Hence:
 *   - a request is verified and granted its rights from one snapshot;
 *   - it keeps it (through its holder) until it ends, whatever reloads
 *     happen meanwhile;
 *   - once a reload returns, no record holds an old holder: an old
 *     snapshot is freed as soon as its last request ends (at once if none
 *     runs), by whichever thread ends it;
 *   - a request waits for no other thread, except that a reload holds
 *     each record's lock for a few instructions, and a thread's first
 *     request after a reload takes `cur_mu` to make its new holder.
 * A thread that exits drops its record (the key's destructor); close drops
 * the records of threads still alive. Lock order: a record's mu, then
 * cur_mu; reg_mu, then a record's mu. */
#include "auth/auth.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/creds.h"
#include "auth/rights.h"

#define LINE 64 /* holders and records each get cache lines of their own */

typedef struct snapshot {
    atomic_uint refs;
    atomic_uint *live; /* the auth object's count of snapshots */
    zkp_creds_t *creds;
    zkp_sigv4_verifier_t *verifier; /* looks secrets up in `creds` */
} snapshot_t;

typedef struct holder {
    atomic_long refs;
    snapshot_t *snap;
    zkp_sigv4_key_cache_t *keys; /* for snap's verifier; its thread's alone */
} holder_t;

typedef struct record {
    pthread_mutex_t mu;
    holder_t *cur; /* guarded by mu; NULL: make one at the next request */
    zkp_auth_t *auth;
    struct record *prev, *next; /* guarded by auth->reg_mu */
} record_t;

struct zkp_auth {
    int on;
    char region[ZKP_SIGV4_REGION_MAX + 1];
    char *path;             /* the credentials file */
    pthread_mutex_t cur_mu; /* guards cur */
    snapshot_t *cur;
    int tls_ok;             /* tls was created */
    pthread_key_t tls;      /* the calling thread's record_t */
    pthread_mutex_t reg_mu; /* guards records */
    record_t *records;
    atomic_uint live; /* snapshots not freed yet (zkp_auth_sets_live()) */
};

/* --- snapshots ---------------------------------------------------------------------- */

static int lookup(void *arg, const char *access_key, char *secret, size_t cap)
{
    const snapshot_t *s = arg;
    const zkp_cred_key_t *k = zkp_creds_find(s->creds, access_key);
    return k == NULL ? -1 : zkp_cred_key_secret(k, secret, cap);
}

static void snapshot_release(snapshot_t *s)
{
    if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    zkp_sigv4_verifier_free(s->verifier);
    zkp_creds_free(s->creds);
    atomic_fetch_sub(s->live, 1);
    free(s);
}

/* Takes ownership of creds (freed on failure). */
static snapshot_t *snapshot_new(zkp_auth_t *a, zkp_creds_t *creds)
{
    snapshot_t *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        zkp_creds_free(creds);
        return NULL;
    }
    atomic_init(&s->refs, 1);
    s->live = &a->live;
    atomic_fetch_add(s->live, 1);
    s->creds = creds;
    zkp_sigv4_config_t c;
    zkp_sigv4_config_init(&c);
    c.region = a->region;
    c.lookup = lookup;
    c.lookup_arg = s;
    if (zkp_sigv4_verifier_new(&c, &s->verifier) != 0) {
        snapshot_release(s);
        return NULL;
    }
    return s;
}

static int load(zkp_auth_t *a, snapshot_t **out, char *err, size_t errlen)
{
    zkp_creds_t *creds;
    if (zkp_creds_load(a->path, &creds, err, errlen) != 0)
        return -1;
    *out = snapshot_new(a, creds);
    if (*out == NULL) {
        snprintf(err, errlen, "out of memory loading %s", a->path);
        return -1;
    }
    return 0;
}

/* --- holders and records ------------------------------------------------------------------ */

/* Memory of whole cache lines: nothing else shares them. */
static void *lines_alloc(size_t size)
{
    void *p = aligned_alloc(LINE, (size + LINE - 1) / LINE * LINE);
    if (p != NULL)
        memset(p, 0, size);
    return p;
}

/* Drops a reference to a holder (zkp_req_auth_t's release). Any thread. */
static void holder_put(void *ref)
{
    holder_t *h = ref;
    if (h == NULL || atomic_fetch_sub_explicit(&h->refs, 1, memory_order_acq_rel) != 1)
        return;
    zkp_sigv4_key_cache_free(h->keys); /* before the verifier it was made for */
    snapshot_release(h->snap);
    free(h);
}

/* A holder of the current snapshot, its one reference the caller's; NULL
 * out of memory. */
static holder_t *holder_new(zkp_auth_t *a)
{
    holder_t *h = lines_alloc(sizeof(*h));
    if (h == NULL)
        return NULL;
    atomic_init(&h->refs, 1);
    pthread_mutex_lock(&a->cur_mu);
    h->snap = a->cur;
    atomic_fetch_add(&h->snap->refs, 1);
    pthread_mutex_unlock(&a->cur_mu);
    if (zkp_sigv4_key_cache_new(h->snap->verifier, 0, &h->keys) != 0) {
        holder_put(h);
        return NULL;
    }
    return h;
}

/* Takes a record's holder away (a reload, close, a thread's exit). */
static void record_clear(record_t *r)
{
    pthread_mutex_lock(&r->mu);
    holder_t *h = r->cur;
    r->cur = NULL;
    pthread_mutex_unlock(&r->mu);
    holder_put(h);
}

static void record_unlink(record_t *r)
{
    zkp_auth_t *a = r->auth;
    if (r->prev != NULL)
        r->prev->next = r->next;
    else
        a->records = r->next;
    if (r->next != NULL)
        r->next->prev = r->prev;
}

static void record_free(record_t *r)
{
    record_clear(r);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

/* The key's destructor: the thread exits. */
static void record_exit(void *p)
{
    record_t *r = p;
    zkp_auth_t *a = r->auth;
    pthread_mutex_lock(&a->reg_mu);
    record_unlink(r);
    pthread_mutex_unlock(&a->reg_mu);
    record_free(r);
}

/* The calling thread's record, made on its first request; NULL out of
 * memory. */
static record_t *record_get(zkp_auth_t *a)
{
    record_t *r = pthread_getspecific(a->tls);
    if (r != NULL)
        return r;
    if ((r = lines_alloc(sizeof(*r))) == NULL)
        return NULL;
    pthread_mutex_init(&r->mu, NULL);
    r->auth = a;
    pthread_mutex_lock(&a->reg_mu);
    r->next = a->records;
    if (r->next != NULL)
        r->next->prev = r;
    a->records = r;
    pthread_mutex_unlock(&a->reg_mu);
    if (pthread_setspecific(a->tls, r) != 0) {
        pthread_mutex_lock(&a->reg_mu);
        record_unlink(r);
        pthread_mutex_unlock(&a->reg_mu);
        record_free(r);
        return NULL;
    }
    return r;
}

/* A holder of the current snapshot (or of the one before, if a reload is
 * under way) with a reference for the caller's request; NULL out of
 * memory. */
static holder_t *acquire(zkp_auth_t *a)
{
    record_t *r = record_get(a);
    if (r == NULL)
        return NULL;
    pthread_mutex_lock(&r->mu);
    holder_t *h = r->cur;
    if (h == NULL)
        h = r->cur = holder_new(a);
    if (h != NULL)
        atomic_fetch_add_explicit(&h->refs, 1, memory_order_relaxed);
    pthread_mutex_unlock(&r->mu);
    return h;
}

/* --- open, reload, close -------------------------------------------------------------- */

int zkp_auth_open(const zkp_config_t *cfg, zkp_auth_t **out, char *err, size_t errlen)
{
    *out = NULL;
    zkp_auth_t *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    pthread_mutex_init(&a->cur_mu, NULL);
    pthread_mutex_init(&a->reg_mu, NULL);
    a->on = cfg->auth;
    snprintf(a->region, sizeof(a->region), "%s", cfg->region);
    if (!a->on) {
        *out = a;
        return 0;
    }
    if (cfg->credentials == NULL) {
        snprintf(err, errlen,
                 "auth is on but no credentials file is configured: set credentials = FILE "
                 "(proxy/README.md, \"Authentication\"), or auth = off for local experiments");
        zkp_auth_close(a);
        return -1;
    }
    a->tls_ok = pthread_key_create(&a->tls, record_exit) == 0;
    a->path = strdup(cfg->credentials);
    if (!a->tls_ok || a->path == NULL || load(a, &a->cur, err, errlen) != 0) {
        if (!a->tls_ok)
            snprintf(err, errlen, "cannot create a thread-specific key (pthread_key_create)");
        else if (a->path == NULL)
            snprintf(err, errlen, "out of memory");
        zkp_auth_close(a);
        return -1;
    }
    *out = a;
    return 0;
}

/* Takes every record's holder away; with `drop`, frees the records too. */
static void records_clear(zkp_auth_t *a, int drop)
{
    pthread_mutex_lock(&a->reg_mu);
    record_t *r = a->records;
    while (r != NULL) {
        record_t *next = r->next;
        if (drop)
            record_free(r);
        else
            record_clear(r);
        r = next;
    }
    if (drop)
        a->records = NULL;
    pthread_mutex_unlock(&a->reg_mu);
}

void zkp_auth_close(zkp_auth_t *a)
{
    if (a == NULL)
        return;
    if (a->tls_ok) {
        records_clear(a, 1);
        pthread_key_delete(a->tls); /* no destructor runs for the freed records */
    }
    snapshot_release(a->cur);
    pthread_mutex_destroy(&a->reg_mu);
    pthread_mutex_destroy(&a->cur_mu);
    free(a->path);
    free(a);
}

int zkp_auth_enabled(const zkp_auth_t *a)
{
    return a != NULL && a->on;
}

unsigned zkp_auth_sets_live(zkp_auth_t *a)
{
    return atomic_load(&a->live);
}

int zkp_auth_reload(zkp_auth_t *a, char *msg, size_t msglen)
{
    if (!a->on) {
        snprintf(msg, msglen, "auth is off");
        return 0;
    }
    snapshot_t *s;
    char why[512];
    if (load(a, &s, why, sizeof(why)) != 0) {
        snprintf(msg, msglen, "%s", why);
        return -1;
    }
    size_t n = zkp_creds_count(s->creds);
    pthread_mutex_lock(&a->cur_mu);
    snapshot_t *old = a->cur;
    a->cur = s;
    pthread_mutex_unlock(&a->cur_mu);
    /* From here every new holder is of s; the old ones go from the records,
     * and the old snapshot with the last request that holds it. */
    records_clear(a, 0);
    snapshot_release(old);
    snprintf(msg, msglen, "%zu key%s from %s", n, n == 1 ? "" : "s", a->path);
    return 0;
}

/* --- refusals ----------------------------------------------------------------------------- */

void zkp_auth_refusal_free(zkp_auth_refusal_t *why)
{
    for (size_t i = 0; i < ZKP_AUTH_EXTRA_MAX; i++) {
        free(why->owned[i]);
        why->owned[i] = NULL;
    }
    why->nextra = 0;
}

/* Empty. Field by field, not a memset of the whole: it is 632 bytes,
 * nearly all of them the message's room, and every request starts one. */
static void refusal_init(zkp_auth_refusal_t *why)
{
    why->status = 0;
    why->code = NULL;
    why->msg[0] = '\0';
    why->nextra = 0;
    for (size_t i = 0; i < ZKP_AUTH_EXTRA_MAX; i++)
        why->owned[i] = NULL;
}

static void add_extra(zkp_auth_refusal_t *why, const char *tag, const char *text)
{
    if (why->nextra == ZKP_AUTH_EXTRA_MAX || text == NULL)
        return;
    char *copy = strdup(text);
    if (copy == NULL)
        return;
    why->owned[why->nextra] = copy;
    why->extra[why->nextra].tag = tag;
    why->extra[why->nextra].text = copy;
    why->nextra++;
}

/* The S3 answer to a SigV4 failure, with the verifier's detail appended
 * (a client learns which part of its request was wrong; no secret is in
 * it). */
static int refuse_sigv4(zkp_auth_refusal_t *why, int rc, const zkp_sigv4_auth_t *v)
{
    zkp_sigv4_error_info_t e = zkp_sigv4_error(rc);
    why->status = e.status;
    why->code = e.code;
    if (v->detail[0] != '\0')
        snprintf(why->msg, sizeof(why->msg), "%s (%s)", e.message, v->detail);
    else
        snprintf(why->msg, sizeof(why->msg), "%s", e.message);
    if (rc == ZKP_SIGV4_ESIGNATURE) {
        /* As S3: what this side signed, so that a client can find its bug. */
        add_extra(why, "AWSAccessKeyId", v->access_key);
        add_extra(why, "StringToSign", v->string_to_sign);
        add_extra(why, "SignatureProvided", v->signature);
        add_extra(why, "CanonicalRequest", v->canonical_request);
    }
    return -1;
}

__attribute__((format(printf, 3, 4))) static int refuse(zkp_auth_refusal_t *why, int status,
                                                        const char *fmt, ...)
{
    why->status = status;
    why->code = "AccessDenied";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why->msg, sizeof(why->msg), fmt, ap);
    va_end(ap);
    return -1;
}

/* --- the decision -------------------------------------------------------------------------- */

static int key_may_read(const void *who, const char *bucket)
{
    return zkp_cred_key_right(who, bucket) >= ZKP_RIGHT_READ;
}

static int has_header(const zkp_auth_input_t *in, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < in->n_headers; i++)
        if (in->headers[i].name_len == n && strncasecmp(in->headers[i].name, name, n) == 0)
            return 1;
    return 0;
}

/* Neither an Authorization header nor presigned query parameters. */
static int anonymous(const zkp_auth_input_t *in)
{
    const char *q = memchr(in->target, '?', in->target_len);
    size_t qlen = q ? in->target_len - (size_t)(q + 1 - in->target) : 0;
    return !has_header(in, "authorization") && zkp_sigv4_query_auth_kind(q ? q + 1 : "", qlen) == 0;
}

/* The fencing headers decide what is written: a signature must cover them.
 * (Their x-amz-meta- forms are x-amz-* headers, which the verifier already
 * requires signed.) */
static const char *unsigned_fencing_header(const zkp_auth_input_t *in, const zkp_sigv4_auth_t *v)
{
    static const char *const names[] = {"x-fencing-lock", "x-fencing-token"};
    for (size_t i = 0; i < 2; i++)
        if (has_header(in, names[i]) && !zkp_sigv4_auth_signed(v, names[i]))
            return names[i];
    return NULL;
}

/* Sets up what the body intake must check, as the signature says. */
static int body_checks(const zkp_sigv4_auth_t *v, zkp_req_auth_t *out)
{
    switch (v->payload) {
    case ZKP_SIGV4_PAYLOAD_SHA256:
        if (zkp_sigv4_body_init(&out->sha, v->payload_sha256) != 0)
            return -1;
        out->body_sha = 1;
        return 0;
    case ZKP_SIGV4_PAYLOAD_STREAMING:
    case ZKP_SIGV4_PAYLOAD_STREAMING_TRAILER:
        if (zkp_sigv4_chunks_init(&out->chunks, v) != 0)
            return -1;
        out->chunk_sig = 1;
        return 0;
    default: /* UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER: not covered */
        return 0;
    }
}

static int decide_signed(holder_t *h, const zkp_auth_input_t *in, zkp_req_auth_t *out,
                         zkp_auth_refusal_t *why)
{
    const snapshot_t *s = h->snap;
    zkp_sigv4_request_t req = {
        .method = in->method,
        .target = in->target,
        .target_len = in->target_len,
        .headers = in->headers,
        .n_headers = in->n_headers,
        .now = in->now,
    };
    zkp_sigv4_auth_t v;
    int rc = zkp_sigv4_verify_cached(s->verifier, h->keys, &req, &v);
    if (rc != 0) {
        refuse_sigv4(why, rc, &v);
        zkp_sigv4_auth_clear(&v);
        return -1;
    }
    const zkp_cred_key_t *k = zkp_creds_find(s->creds, v.access_key);
    const char *needed = NULL, *naked = unsigned_fencing_header(in, &v);
    if (k == NULL) /* verified against this very set: cannot happen */
        rc = refuse(why, 403, "Access Denied: the access key is unknown");
    else if (naked != NULL)
        rc = refuse(why, 403,
                    "Access Denied: the %s header must be signed (list it in SignedHeaders): "
                    "the fencing credentials decide what is written",
                    naked);
    else if (!zkp_rights_allow(k, in->op, in->peer_loopback, &needed))
        rc = refuse(why, 403, "Access Denied: %s needs %s; key %s lacks them",
                    zkp_op_name(in->op->kind), needed, v.access_key);
    else if (body_checks(&v, out) != 0)
        rc = refuse(why, 500, "Out of memory while setting up the body's checks");
    if (rc != 0) {
        if (why->status == 500)
            why->code = "InternalError";
        zkp_sigv4_auth_clear(&v);
        return -1;
    }
    out->who = k;
    _Static_assert(sizeof(out->access_key) == sizeof(v.access_key), "one bound");
    memcpy(out->access_key, v.access_key, strlen(v.access_key) + 1);
    zkp_sigv4_auth_clear(&v);
    return 0;
}

int zkp_auth_decide(zkp_auth_t *a, const zkp_auth_input_t *in, zkp_req_auth_t *out,
                    zkp_auth_refusal_t *why)
{
    memset(out, 0, sizeof(*out));
    refusal_init(why);
    if (!a->on)
        return 0;
    out->on = 1;
    if (anonymous(in)) {
        const char *needed;
        if (zkp_rights_allow(NULL, in->op, in->peer_loopback, &needed))
            return 0;
        zkp_sigv4_error_info_t e = zkp_sigv4_error(ZKP_SIGV4_EANONYMOUS);
        why->status = e.status;
        why->code = e.code;
        snprintf(why->msg, sizeof(why->msg), "%s", e.message);
        memset(out, 0, sizeof(*out));
        return -1;
    }
    holder_t *h = acquire(a);
    if (h == NULL) {
        memset(out, 0, sizeof(*out));
        refuse(why, 500, "Out of memory while authenticating the request");
        why->code = "InternalError";
        return -1;
    }
    if (decide_signed(h, in, out, why) != 0) {
        zkp_req_auth_end(out);
        holder_put(h);
        return -1;
    }
    out->ref = h;
    out->release = holder_put;
    out->may_read = key_may_read;
    return 0;
}

int zkp_auth_check(zkp_auth_t *a, zkp_req_t *r, zkp_auth_refusal_t *why)
{
    zkp_auth_input_t in = {
        .method = r->method,
        .target = r->target,
        .target_len = strlen(r->target),
        .headers = r->hdrs.v,
        .n_headers = r->hdrs.n,
        .now = time(NULL),
        .peer_loopback = r->peer_loopback,
        .op = &r->op,
    };
    return zkp_auth_decide(a, &in, &r->auth, why);
}
