/* Fencing against a running proxy: lower/equal/higher tokens, a stale
 * writer on another connection, a token that goes stale while its body
 * streams, a second proxy on the same data directory, audit log rotation,
 * 16 concurrent writers, kill -9 mid-load and restart, and a failing mark
 * store. */
#include <CUnit/Basic.h>
#include <curl/curl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

/* A fenced PUT with one more header (extra, NULL: none). */
static long put_tok_h(const pt_proxy_t *p, const char *path, const char *lock, uint64_t token,
                      const char *body, size_t len, const char *extra, pt_resp_t *out)
{
    char l[256], t[64];
    snprintf(l, sizeof(l), "X-Fencing-Lock: %s", lock);
    snprintf(t, sizeof(t), "X-Fencing-Token: %" PRIu64, token);
    const char *h[] = {l, t, extra, NULL};
    pt_resp_t tmp;
    pt_resp_t *r = out ? out : &tmp;
    pt_http(p, "PUT", path, h, body, len, r);
    long st = r->status;
    if (out == NULL)
        pt_resp_free(&tmp);
    return st;
}

static long put_tok(const pt_proxy_t *p, const char *path, const char *lock, uint64_t token,
                    const char *body, size_t len, pt_resp_t *out)
{
    return put_tok_h(p, path, lock, token, body, len, NULL, out);
}

static char *get(const pt_proxy_t *p, const char *path, long *st, uint64_t *token)
{
    pt_resp_t r;
    pt_http(p, "GET", path, NULL, NULL, 0, &r);
    *st = r.status;
    char v[64];
    if (token != NULL)
        *token = pt_header(&r, "X-Fencing-Token", v, sizeof(v)) ? strtoull(v, NULL, 10) : 0;
    char *b = r.body;
    r.body = NULL;
    pt_resp_free(&r);
    return b;
}

static void mkbucket(const pt_proxy_t *p, const char *name)
{
    pt_resp_t r;
    char path[128];
    snprintf(path, sizeof(path), "/%s", name);
    pt_http(p, "PUT", path, NULL, NULL, 0, &r);
    CU_ASSERT_EQUAL(r.status, 200);
    pt_resp_free(&r);
}

static int count_lines(const pt_proxy_t *p, const char *needle)
{
    return pt_audit_count(p, needle);
}

/* Opens a raw connection and sends the headers of a fenced PUT announcing
 * `total` body bytes, then the first `first` of them ('A's): an upload that
 * is still streaming. Returns the socket, or -1. */
static int start_upload(const pt_proxy_t *p, const char *path, const char *lock, uint64_t token,
                        size_t total, size_t first)
{
    char l[300], t[64], cl[64];
    snprintf(l, sizeof(l), "X-Fencing-Lock: %s", lock);
    snprintf(t, sizeof(t), "X-Fencing-Token: %" PRIu64, token);
    snprintf(cl, sizeof(cl), "Content-Length: %zu", total);
    const char *h[] = {l, t, cl, NULL};
    char *body = malloc(total + 1);
    memset(body, 'A', total);
    char *head = pt_signed_head(p, NULL, "PUT", path, h, body, total); /* signs the whole body */
    int fd = pt_conn_open(p);
    if (fd >= 0 &&
        (pt_conn_send(fd, head, strlen(head)) != 0 || pt_conn_send(fd, body, first) != 0)) {
        pt_conn_close(fd);
        fd = -1;
    }
    free(head);
    free(body);
    return fd;
}

/* Sends the remaining `rest` bytes of an upload and reads its response. */
static int finish_upload(int fd, size_t rest, char *out, size_t cap)
{
    char *body = malloc(rest + 1);
    memset(body, 'A', rest);
    int rc = pt_conn_send(fd, body, rest);
    free(body);
    if (rc != 0 || pt_conn_read_response(fd, out, cap, pt_soon_ms()) < 0)
        return 0;
    return pt_raw_status(out);
}

/* --- lower, equal, higher --------------------------------------------------------- */

static void test_rules(void)
{
    pt_proxy_t p;
    CU_ASSERT_EQUAL_FATAL(pt_proxy_start(&p, NULL), 0);
    mkbucket(&p, "rules");
    const char *L = "/locks/rules";
    CU_ASSERT_EQUAL(put_tok(&p, "/rules/k", L, 10, "t10", 3, NULL), 200);
    CU_ASSERT_EQUAL(put_tok(&p, "/rules/k", L, 10, "t10b", 4, NULL), 200); /* equal */
    CU_ASSERT_EQUAL(put_tok(&p, "/rules/k", L, 11, "t11", 3, NULL), 200);  /* higher */
    pt_resp_t r;
    CU_ASSERT_EQUAL(put_tok(&p, "/rules/k", L, 9, "t9", 2, &r), 412); /* lower */
    CU_ASSERT_TRUE(pt_body_has(&r, "<Code>StaleFencingToken</Code>"));
    CU_ASSERT_TRUE(pt_body_has(&r, "<Lock>/locks/rules</Lock>"));
    CU_ASSERT_TRUE(pt_body_has(&r, "<Token>9</Token>"));
    CU_ASSERT_TRUE(pt_body_has(&r, "<HighWaterMark>11</HighWaterMark>"));
    pt_resp_free(&r);
    long st;
    uint64_t tok;
    char *b = get(&p, "/rules/k", &st, &tok);
    CU_ASSERT_STRING_EQUAL(b, "t11"); /* the rejected body never landed */
    CU_ASSERT_EQUAL(tok, 11);
    free(b);
    /* A stale delete does nothing either; meta-header spelling works. */
    const char *dh[] = {"x-amz-meta-fencing-lock: /locks/rules", "x-amz-meta-fencing-token: 10",
                        NULL};
    pt_http(&p, "DELETE", "/rules/k", dh, NULL, 0, &r);
    CU_ASSERT_EQUAL(r.status, 412);
    pt_resp_free(&r);
    b = get(&p, "/rules/k", &st, NULL);
    CU_ASSERT_EQUAL(st, 200);
    free(b);
    /* Locks are independent. */
    CU_ASSERT_EQUAL(put_tok(&p, "/rules/k2", "/locks/other", 1, "o1", 2, NULL), 200);
    /* Missing fencing: 428, nothing written. */
    pt_http(&p, "PUT", "/rules/nofence", NULL, "x", 1, &r);
    CU_ASSERT_EQUAL(r.status, 428);
    CU_ASSERT_TRUE(pt_body_has(&r, "<Code>FencingTokenRequired</Code>"));
    pt_resp_free(&r);
    const char *only_lock[] = {"X-Fencing-Lock: /locks/rules", NULL};
    pt_http(&p, "PUT", "/rules/halffence", only_lock, "x", 1, &r);
    CU_ASSERT_EQUAL(r.status, 428);
    pt_resp_free(&r);
    /* The audit log has every decision, refusals included. */
    CU_ASSERT_EQUAL(count_lines(&p, "\"verdict\":\"rejected_stale\""), 2);
    CU_ASSERT_EQUAL(count_lines(&p, "\"verdict\":\"accepted_higher\""), 3);
    CU_ASSERT_EQUAL(count_lines(&p, "\"verdict\":\"accepted_equal\""), 1);
    CU_ASSERT_EQUAL(count_lines(&p, "\"verdict\":\"rejected_missing\""), 2);
    CU_ASSERT_EQUAL(count_lines(&p, "\"lock\":null,\"token\":null,\"mark\":null,"
                                    "\"verdict\":\"rejected_missing\",\"bucket\":\"rules\","
                                    "\"key\":\"nofence\",\"op\":\"PutObject\"}"),
                    1);
    CU_ASSERT_EQUAL(count_lines(&p, "\"lock\":\"/locks/rules\",\"token\":null,\"mark\":null,"
                                    "\"verdict\":\"rejected_missing\",\"bucket\":\"rules\","
                                    "\"key\":\"halffence\""),
                    1);
    CU_ASSERT_EQUAL(pt_count_files(&p, "objects/rules"), 2); /* k and k2 only */
    CU_ASSERT_EQUAL(pt_proxy_stop(&p), 0);
    pt_proxy_cleanup(&p);
}

/* --- a stale writer on another connection ----------------------------------------- */

typedef struct late_arg {
    const pt_proxy_t *p;
    long status;
} late_arg_t;

static void *late_writer(void *arg)
{
    late_arg_t *a = arg;
    a->status = put_tok(a->p, "/late/k", "/locks/late", 19, "old holder", 10, NULL);
    return NULL;
}

static void test_lower_after_higher(void)
{
    pt_proxy_t p;
    CU_ASSERT_EQUAL_FATAL(pt_proxy_start(&p, NULL), 0);
    mkbucket(&p, "late");
    CU_ASSERT_EQUAL(put_tok(&p, "/late/k", "/locks/late", 20, "new holder", 10, NULL), 200);
    late_arg_t a = {&p, 0};
    pthread_t t;
    pthread_create(&t, NULL, late_writer, &a); /* another thread, another connection */
    pthread_join(t, NULL);
    CU_ASSERT_EQUAL(a.status, 412);
    long st;
    char *b = get(&p, "/late/k", &st, NULL);
    CU_ASSERT_STRING_EQUAL(b, "new holder");
    free(b);
    CU_ASSERT_EQUAL(pt_proxy_stop(&p), 0);
    pt_proxy_cleanup(&p);
}

/* --- a token that goes stale while its body streams -------------------------------- */

/* Writer A (token 5) passes the early check and streams half its body;
 * writer B (token 6) completes a write under the same lock on another
 * connection; then A's body ends. The decision at the end is what counts:
 * A gets 412 naming mark 6, and none of A's bytes is ever readable. With
 * object_fsync = off the decision on A is taken on the event loop
 * (zkfence_writes_on_loop_total counts it), B's raise on a worker. */
static void stale_during_upload_with(const char *conf_extra, long long on_loop)
{
    pt_proxy_t p;
    CU_ASSERT_EQUAL_FATAL(pt_proxy_start(&p, conf_extra), 0);
    mkbucket(&p, "upl");
    const char *L = "/locks/upload";
    int fd = start_upload(&p, "/upl/k", L, 5, 2000, 1000);
    CU_ASSERT_FATAL(fd >= 0);
    /* The body is being staged: A is past the early check. */
    CU_ASSERT_TRUE(PT_WAIT_UNTIL(pt_count_staged(&p) == 1, pt_soon_ms()));
    CU_ASSERT_EQUAL(put_tok(&p, "/upl/k", L, 6, "from B", 6, NULL), 200);
    char out[8192];
    CU_ASSERT_EQUAL(finish_upload(fd, 1000, out, sizeof(out)), 412);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "<Code>StaleFencingToken</Code>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "<Token>5</Token>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "<HighWaterMark>6</HighWaterMark>"));
    pt_conn_close(fd);
    long st;
    uint64_t tok;
    char *b = get(&p, "/upl/k", &st, &tok);
    CU_ASSERT_EQUAL(st, 200);
    CU_ASSERT_STRING_EQUAL(b, "from B");
    CU_ASSERT_EQUAL(tok, 6);
    free(b);
    CU_ASSERT_TRUE(PT_WAIT_UNTIL(pt_count_staged(&p) == 0, pt_soon_ms()));
    CU_ASSERT_EQUAL(pt_count_files(&p, "objects/upl"), 1);
    CU_ASSERT_EQUAL(
        count_lines(&p, "\"token\":\"5\",\"mark\":\"6\",\"verdict\":\"rejected_stale\""), 1);
    CU_ASSERT_EQUAL(pt_metric(&p, "zkfence_writes_on_loop_total"), on_loop);
    CU_ASSERT_EQUAL(pt_proxy_stop(&p), 0);
    pt_proxy_cleanup(&p);
}

static void test_stale_during_upload(void)
{
    stale_during_upload_with(NULL, 0);
}

static void test_stale_during_upload_on_loop(void)
{
    stale_during_upload_with("object_fsync = off\n", 1);
}

/* --- writes that end on the event loop --------------------------------------------- */

/* With object_fsync = off, a PutObject whose fencing decision needs no wait
 * (its token equal to the mark, the section open to it) ends on the event
 * loop; one that raises the mark, or sets the lock's first, ends on a
 * worker (its persist waits for the disk); with object_fsync = on, every
 * write ends on a worker. Same answers, same audit lines either way. */
static void test_writes_end_on_loop(void)
{
    pt_proxy_t p;
    CU_ASSERT_EQUAL_FATAL(pt_proxy_start(&p, "object_fsync = off\n"), 0);
    mkbucket(&p, "loop");
    const char *L = "/locks/loop";
    const char *M = "zkfence_writes_on_loop_total";
    CU_ASSERT_EQUAL(put_tok(&p, "/loop/k", L, 10, "first", 5, NULL), 200);
    CU_ASSERT_EQUAL(pt_metric(&p, M), 0); /* the lock's first mark: a worker */
    CU_ASSERT_EQUAL(put_tok(&p, "/loop/k", L, 10, "second", 6, NULL), 200);
    CU_ASSERT_EQUAL(pt_metric(&p, M), 1); /* equal: on the loop */
    CU_ASSERT_EQUAL(put_tok(&p, "/loop/j", L, 10, "other key", 9, NULL), 200);
    CU_ASSERT_EQUAL(pt_metric(&p, M), 2);
    CU_ASSERT_EQUAL(put_tok(&p, "/loop/k", L, 11, "third", 5, NULL), 200);
    CU_ASSERT_EQUAL(pt_metric(&p, M), 2);                                  /* a raise: a worker */
    CU_ASSERT_EQUAL(put_tok(&p, "/loop/k", L, 10, "stale", 5, NULL), 412); /* early check */
    /* An If-None-Match: * on an existing key, decided on the loop: 412,
     * nothing written (the bucket's mutex orders it with the publication). */
    pt_resp_t resp;
    CU_ASSERT_EQUAL(put_tok_h(&p, "/loop/k", L, 11, "not written", 11, "If-None-Match: *", &resp),
                    412);
    CU_ASSERT_TRUE(pt_error_is(&resp, "PreconditionFailed"));
    pt_resp_free(&resp);
    CU_ASSERT_EQUAL(pt_metric(&p, M), 3);
    /* A body over 1 MiB, and a small one replacing an object over 1 MiB:
     * the end's abort or rename would free a large file's blocks: a
     * worker. Once the object is small again: the loop. */
    size_t big = 2u << 20;
    char *bb = malloc(big);
    CU_ASSERT_PTR_NOT_NULL_FATAL(bb);
    memset(bb, 'x', big);
    CU_ASSERT_EQUAL(put_tok(&p, "/loop/big", L, 11, bb, big, NULL), 200);
    CU_ASSERT_EQUAL(pt_metric(&p, M), 3);
    free(bb);
    CU_ASSERT_EQUAL(put_tok(&p, "/loop/big", L, 11, "small", 5, NULL), 200);
    CU_ASSERT_EQUAL(pt_metric(&p, M), 3);
    CU_ASSERT_EQUAL(put_tok(&p, "/loop/big", L, 11, "small again", 11, NULL), 200);
    CU_ASSERT_EQUAL(pt_metric(&p, M), 4);
    long st;
    uint64_t tok;
    char *b = get(&p, "/loop/k", &st, &tok);
    CU_ASSERT_EQUAL(st, 200);
    CU_ASSERT_STRING_EQUAL(b, "third");
    CU_ASSERT_EQUAL(tok, 11);
    free(b);
    b = get(&p, "/loop/j", &st, &tok);
    CU_ASSERT_STRING_EQUAL(b, "other key");
    free(b);
    CU_ASSERT_EQUAL(
        count_lines(&p, "\"token\":\"10\",\"mark\":\"10\",\"verdict\":\"accepted_equal\""), 2);
    CU_ASSERT_EQUAL(pt_mark(&p, L), 11);
    /* After a kill -9 and a restart, marks and objects are what was
     * acknowledged. */
    pt_proxy_kill9(&p);
    CU_ASSERT_EQUAL_FATAL(pt_proxy_restart(&p), 0);
    CU_ASSERT_EQUAL(pt_mark(&p, L), 11);
    b = get(&p, "/loop/k", &st, &tok);
    CU_ASSERT_STRING_EQUAL(b, "third");
    free(b);
    CU_ASSERT_EQUAL(pt_proxy_stop(&p), 0);
    pt_proxy_cleanup(&p);

    /* object_fsync = on: an equal token still ends on a worker. */
    CU_ASSERT_EQUAL_FATAL(pt_proxy_start(&p, NULL), 0);
    mkbucket(&p, "loop");
    CU_ASSERT_EQUAL(put_tok(&p, "/loop/k", L, 10, "first", 5, NULL), 200);
    CU_ASSERT_EQUAL(put_tok(&p, "/loop/k", L, 10, "second", 6, NULL), 200);
    CU_ASSERT_EQUAL(pt_metric(&p, M), 0);
    CU_ASSERT_EQUAL(pt_proxy_stop(&p), 0);
    pt_proxy_cleanup(&p);
}

/* --- a second proxy on the same data directory -------------------------------------- */

/* Proxy B started on A's data directory must give up before it touches
 * anything (it used to empty tmp/ under A's running uploads): first with
 * the same configuration (the mark store is locked), then with marks of
 * its own (the data directory's lock). A's upload then completes. */
static void test_second_proxy_refused(void)
{
    pt_proxy_t p;
    CU_ASSERT_EQUAL_FATAL(pt_proxy_start(&p, NULL), 0);
    mkbucket(&p, "two");
    int fd = start_upload(&p, "/two/k", "/locks/two", 1, 4000, 2000);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_TRUE_FATAL(PT_WAIT_UNTIL(pt_count_staged(&p) == 1, pt_soon_ms()));

    char out_b[400], conf_b[400], marks_b[400], audit_b[400], pid[32];
    snprintf(out_b, sizeof(out_b), "%s/proxy-b.log", p.dir);
    snprintf(pid, sizeof(pid), "pid %ld", (long)p.pid);
    const char *same[] = {"--config", p.conf, "--listen", "127.0.0.1:0", NULL};
    CU_ASSERT_EQUAL(pt_proxy_run(same, out_b, pt_soon_ms()), 1);
    CU_ASSERT_EQUAL(pt_file_count(out_b, "marks.db: the marks database is in use by another "
                                         "process"),
                    1);
    CU_ASSERT_EQUAL(pt_count_staged(&p), 1);

    snprintf(conf_b, sizeof(conf_b), "%s/proxy-b.conf", p.dir);
    snprintf(marks_b, sizeof(marks_b), "%s/marks-b.db", p.dir);
    snprintf(audit_b, sizeof(audit_b), "%s/audit-b.log", p.dir);
    FILE *f = fopen(conf_b, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fprintf(f, "data_dir = %s\nmarks_db = %s\naudit_log = %s\ncredentials = %s\n", p.data_dir,
            marks_b, audit_b, p.creds);
    fclose(f);
    const char *own_marks[] = {"--config", conf_b, "--listen", "127.0.0.1:0", NULL};
    CU_ASSERT_EQUAL(pt_proxy_run(own_marks, out_b, pt_soon_ms()), 1);
    CU_ASSERT_EQUAL(pt_file_count(out_b, "is in use by another zkfence-proxy"), 1);
    CU_ASSERT_EQUAL(pt_file_count(out_b, pid), 1); /* names the holder */
    CU_ASSERT_EQUAL(pt_count_staged(&p), 1);

    char out[8192];
    CU_ASSERT_EQUAL(finish_upload(fd, 2000, out, sizeof(out)), 200);
    pt_conn_close(fd);
    long st;
    char *b = get(&p, "/two/k", &st, NULL);
    CU_ASSERT_EQUAL(st, 200);
    CU_ASSERT(b != NULL && strlen(b) == 4000 && strspn(b, "A") == 4000);
    free(b);
    CU_ASSERT_EQUAL(pt_proxy_stop(&p), 0);
    pt_proxy_cleanup(&p);
}

/* --- SIGHUP: audit log rotation ------------------------------------------------------ */

static void test_sighup_reopens_audit_log(void)
{
    pt_proxy_t p;
    CU_ASSERT_EQUAL_FATAL(pt_proxy_start(&p, NULL), 0);
    mkbucket(&p, "rot");
    CU_ASSERT_EQUAL(put_tok(&p, "/rot/before", "/locks/rot", 1, "b", 1, NULL), 200);
    char log[400], rotated[400];
    snprintf(log, sizeof(log), "%s/audit.log", p.data_dir);
    snprintf(rotated, sizeof(rotated), "%s/audit.log.1", p.data_dir);
    CU_ASSERT_EQUAL(pt_file_count(log, "\"key\":\"before\""), 1);
    CU_ASSERT_EQUAL_FATAL(rename(log, rotated), 0);
    CU_ASSERT_EQUAL(kill(p.pid, SIGHUP), 0);
    /* The reopen creates the new file: wait for it, not for a while. */
    CU_ASSERT_TRUE(PT_WAIT_UNTIL(access(log, F_OK) == 0, pt_soon_ms()));
    CU_ASSERT_EQUAL(put_tok(&p, "/rot/after", "/locks/rot", 2, "a", 1, NULL), 200);
    CU_ASSERT_EQUAL(pt_file_count(log, "\"key\":\"after\""), 1);
    CU_ASSERT_EQUAL(pt_file_count(log, "\"key\":\"before\""), 0);
    CU_ASSERT_EQUAL(pt_file_count(rotated, "\"key\":\"after\""), 0);
    CU_ASSERT_EQUAL(pt_file_count(rotated, "\"key\":\"before\""), 1);
    /* The file is reopened before the line is written: wait for the line. */
    CU_ASSERT_TRUE(
        PT_WAIT_UNTIL(pt_log_count(&p, "SIGHUP: audit log reopened") == 1, pt_soon_ms()));
    /* Still the same process, still serving. */
    CU_ASSERT_EQUAL(kill(p.pid, 0), 0);
    long st;
    char *b = get(&p, "/rot/after", &st, NULL);
    CU_ASSERT_EQUAL(st, 200);
    CU_ASSERT_STRING_EQUAL(b, "a");
    free(b);
    CU_ASSERT_EQUAL(pt_proxy_stop(&p), 0);
    pt_proxy_cleanup(&p);
}

/* --- 16 concurrent writers ---------------------------------------------------------- */

#define WRITERS 16
#define WRITES_EACH 12
#define BODY_LEN 8192

typedef struct attempt {
    uint64_t token;
    int writer, seq;
    long status;
} attempt_t;

typedef struct race {
    const pt_proxy_t *p;
    attempt_t attempts[WRITERS][WRITES_EACH];
    int done;
    pthread_mutex_t mu;
    /* What the reader saw, in order. */
    char seen[4096][48];
    int nseen;
    int torn;
} race_t;

typedef struct writer_arg {
    race_t *race;
    int id;
} writer_arg_t;

/* A body that names its write and can be checked for tearing: the tag,
 * then the tag repeated to BODY_LEN. */
static void make_body(char *body, uint64_t token, int writer, int seq)
{
    char tag[48];
    int n = snprintf(tag, sizeof(tag), "t=%" PRIu64 ",w=%d,s=%d;", token, writer, seq);
    for (int i = 0; i < BODY_LEN; i++)
        body[i] = tag[i % n];
}

static int body_intact(const char *b, size_t len, char *tag, size_t cap)
{
    if (len != BODY_LEN)
        return 0;
    const char *semi = memchr(b, ';', 48);
    if (semi == NULL)
        return 0;
    size_t n = (size_t)(semi - b) + 1;
    for (size_t i = 0; i < len; i++)
        if (b[i] != b[i % n])
            return 0;
    snprintf(tag, cap, "%.*s", (int)n, b);
    return 1;
}

static void *writer(void *arg)
{
    writer_arg_t *w = arg;
    unsigned seed = (unsigned)(w->id * 7919 + 17);
    char *body = malloc(BODY_LEN);
    for (int i = 0; i < WRITES_EACH; i++) {
        /* Mostly rising, overlapping between writers: both verdicts occur. */
        uint64_t token = 1000 + (uint64_t)i * 20 + (uint64_t)(rand_r(&seed) % 40);
        attempt_t *a = &w->race->attempts[w->id][i];
        a->token = token;
        a->writer = w->id;
        a->seq = i;
        make_body(body, token, w->id, i);
        a->status = put_tok(w->race->p, "/race/obj", "/locks/race", token, body, BODY_LEN, NULL);
    }
    free(body);
    return NULL;
}

static void *reader(void *arg)
{
    race_t *r = arg;
    while (!__atomic_load_n(&r->done, __ATOMIC_ACQUIRE)) {
        pt_resp_t resp;
        pt_http(r->p, "GET", "/race/obj", NULL, NULL, 0, &resp);
        char tag[48];
        if (resp.status == 200) {
            if (!body_intact(resp.body, resp.len, tag, sizeof(tag)))
                r->torn++;
            else if (r->nseen < 4096)
                snprintf(r->seen[r->nseen++], sizeof(r->seen[0]), "%s", tag);
        }
        pt_resp_free(&resp);
    }
    return NULL;
}

static const attempt_t *find_attempt(const race_t *r, const char *tag)
{
    for (int w = 0; w < WRITERS; w++)
        for (int i = 0; i < WRITES_EACH; i++) {
            char t[48];
            const attempt_t *a = &r->attempts[w][i];
            snprintf(t, sizeof(t), "t=%" PRIu64 ",w=%d,s=%d;", a->token, a->writer, a->seq);
            if (strcmp(t, tag) == 0)
                return a;
        }
    return NULL;
}

static void concurrent_writers_with(const char *conf_extra)
{
    pt_proxy_t p;
    CU_ASSERT_EQUAL_FATAL(pt_proxy_start(&p, conf_extra), 0);
    mkbucket(&p, "race");
    race_t *r = calloc(1, sizeof(*r));
    r->p = &p;
    pthread_t wt[WRITERS], rt;
    writer_arg_t args[WRITERS];
    pthread_create(&rt, NULL, reader, r);
    for (int i = 0; i < WRITERS; i++) {
        args[i] = (writer_arg_t){r, i};
        pthread_create(&wt[i], NULL, writer, &args[i]);
    }
    for (int i = 0; i < WRITERS; i++)
        pthread_join(wt[i], NULL);
    __atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
    pthread_join(rt, NULL);

    uint64_t max_ok = 0;
    int ok = 0, stale = 0, other = 0;
    for (int w = 0; w < WRITERS; w++)
        for (int i = 0; i < WRITES_EACH; i++) {
            attempt_t *a = &r->attempts[w][i];
            if (a->status == 200) {
                ok++;
                if (a->token > max_ok)
                    max_ok = a->token;
            } else if (a->status == 412)
                stale++;
            else
                other++;
        }
    CU_ASSERT_EQUAL(other, 0);
    CU_ASSERT(ok > 0 && stale > 0);
    /* The final object comes from the highest accepted token. */
    long st;
    uint64_t tok;
    char *b = get(&p, "/race/obj", &st, &tok);
    char tag[48];
    CU_ASSERT_EQUAL(st, 200);
    CU_ASSERT_TRUE(body_intact(b, BODY_LEN, tag, sizeof(tag)));
    const attempt_t *final = find_attempt(r, tag);
    CU_ASSERT_PTR_NOT_NULL(final);
    CU_ASSERT(final != NULL && final->status == 200 && final->token == max_ok);
    CU_ASSERT_EQUAL(tok, max_ok);
    free(b);
    /* No rejected body was ever readable, nothing torn, and what readers
     * saw never went back in token order. */
    CU_ASSERT_EQUAL(r->torn, 0);
    uint64_t prev = 0;
    int bad = 0, regress = 0;
    for (int i = 0; i < r->nseen; i++) {
        const attempt_t *a = find_attempt(r, r->seen[i]);
        if (a == NULL || a->status != 200)
            bad++;
        else {
            regress += a->token < prev;
            prev = a->token;
        }
    }
    CU_ASSERT(r->nseen > 0); /* else "nothing rejected was seen" proves nothing */
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(regress, 0);
    /* The mark is the highest accepted token. */
    pt_resp_t m;
    pt_http(&p, "GET", "/_zkfence/marks", NULL, NULL, 0, &m);
    char want[128];
    snprintf(want, sizeof(want), "{\"lock\":\"/locks/race\",\"mark\":\"%" PRIu64 "\"}", max_ok);
    CU_ASSERT_TRUE(pt_body_has(&m, want));
    pt_resp_free(&m);
    printf("\n    %d accepted, %d stale, reader saw %d versions\n", ok, stale, r->nseen);
    free(r);
    CU_ASSERT_EQUAL(pt_proxy_stop(&p), 0);
    pt_proxy_cleanup(&p);
}

static void test_concurrent_writers(void)
{
    concurrent_writers_with(NULL);
}

/* One event loop and one worker: every write's final step queues behind
 * the others' on the worker while the loop goes on reading bodies and
 * serving the reader; the outcome must be the same. */
static void test_concurrent_writers_one_worker(void)
{
    concurrent_writers_with("threads = 1\nio_threads = 1\n");
}

/* object_fsync = off: writes of a token equal to the mark end on the event
 * loops, the others on the workers, side by side. */
static void test_concurrent_writers_fsync_off(void)
{
    concurrent_writers_with("object_fsync = off\n");
}

/* --- kill -9 mid-load, then restart --------------------------------------------------- */

#define K_WRITERS 4

typedef struct kload {
    const pt_proxy_t *p;
    int id;
    uint64_t acked; /* highest token acknowledged with 200 */
    int acks;
    int round;   /* sigterm_keepalive_load: which shutdown */
    int refused; /* sigterm_keepalive_load: ended on a 503 */
} kload_t;

static void *kill_writer(void *arg)
{
    kload_t *k = arg;
    char path[64], lock[64];
    snprintf(path, sizeof(path), "/crash/k%d", k->id);
    snprintf(lock, sizeof(lock), "/locks/crash-%d", k->id);
    char *body = malloc(BODY_LEN);
    for (uint64_t token = 1;; token++) {
        make_body(body, token, k->id, 0);
        long st = put_tok(k->p, path, lock, token, body, BODY_LEN, NULL);
        if (st != 200)
            break; /* the proxy is gone */
        __atomic_store_n(&k->acked, token, __ATOMIC_RELEASE);
        __atomic_add_fetch(&k->acks, 1, __ATOMIC_ACQ_REL);
    }
    free(body);
    return NULL;
}

static int total_acks(kload_t *k, int writers)
{
    int n = 0;
    for (int i = 0; i < writers; i++)
        n += __atomic_load_n(&k[i].acks, __ATOMIC_ACQUIRE);
    return n;
}

static void test_kill9_restart(void)
{
    pt_proxy_t p;
    CU_ASSERT_EQUAL_FATAL(pt_proxy_start(&p, NULL), 0);
    mkbucket(&p, "crash");
    kload_t k[K_WRITERS];
    pthread_t t[K_WRITERS];
    for (int i = 0; i < K_WRITERS; i++) {
        k[i] = (kload_t){.p = &p, .id = i};
        pthread_create(&t[i], NULL, kill_writer, &k[i]);
    }
    CU_ASSERT_TRUE(PT_WAIT_UNTIL(total_acks(k, K_WRITERS) >= 200, 60000));
    pt_proxy_kill9(&p); /* mid-load: writes are in flight */
    for (int i = 0; i < K_WRITERS; i++)
        pthread_join(t[i], NULL);
    CU_ASSERT_EQUAL_FATAL(pt_proxy_restart(&p), 0);
    /* No staging file survives the restart, and every object file is whole
     * (start-up reads each head and says so when one is not). */
    CU_ASSERT_EQUAL(pt_count_staged(&p), 0);
    CU_ASSERT_EQUAL(pt_log_count(&p, "ignoring malformed object file"), 0);
    pt_resp_t m;
    pt_http(&p, "GET", "/_zkfence/marks", NULL, NULL, 0, &m);
    for (int i = 0; i < K_WRITERS; i++) {
        char path[64], lock[64], tag[48];
        snprintf(path, sizeof(path), "/crash/k%d", i);
        snprintf(lock, sizeof(lock), "/locks/crash-%d", i);
        /* The mark is at least the last acknowledged token. */
        char want[128];
        snprintf(want, sizeof(want), "{\"lock\":\"%s\",\"mark\":\"", lock);
        const char *at = strstr(m.body, want);
        CU_ASSERT_PTR_NOT_NULL(at);
        uint64_t mark = at ? strtoull(at + strlen(want), NULL, 10) : 0;
        CU_ASSERT(mark >= k[i].acked);
        /* The object is whole, and from a token no lower than the last
         * acknowledged one and no higher than the mark. */
        long st;
        uint64_t tok;
        char *b = get(&p, path, &st, &tok);
        CU_ASSERT_EQUAL(st, 200);
        CU_ASSERT_TRUE(body_intact(b, BODY_LEN, tag, sizeof(tag)));
        CU_ASSERT(tok >= k[i].acked && tok <= mark);
        free(b);
        /* And a writer below the mark is still refused. */
        if (mark > 0)
            CU_ASSERT_EQUAL(put_tok(&p, path, lock, mark - 1, "x", 1, NULL), 412);
    }
    pt_resp_free(&m);
    printf("\n    killed after %d acknowledged writes\n", total_acks(k, K_WRITERS));
    CU_ASSERT_EQUAL(pt_proxy_stop(&p), 0);
    pt_proxy_cleanup(&p);
}

/* --- SIGTERM under keep-alive write load ---------------------------------------------- */

/* Writers on kept-alive connections (one libcurl handle each, reused), so
 * that requests keep arriving on open connections after the SIGTERM. The
 * proxy must exit cleanly (it once crashed submitting to its stopped
 * worker pool), answer them 503 or close, and keep every acknowledged
 * write. */
#define S_WRITERS 6

static size_t sink(char *d, size_t size, size_t n, void *arg)
{
    (void)d;
    (void)arg;
    return size * n;
}

static void *keepalive_writer(void *arg)
{
    kload_t *k = arg;
    CURL *c = curl_easy_init();
    char url[128], path[64], lock[96], tok[64];
    snprintf(path, sizeof(path), "/shut/r%d-w%d", k->round, k->id);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", k->p->port, path);
    snprintf(lock, sizeof(lock), "X-Fencing-Lock: /locks/shut-%d-%d", k->round, k->id);
    char *body = malloc(BODY_LEN);
    for (uint64_t token = 1; c != NULL && body != NULL; token++) {
        make_body(body, token, k->id, k->round);
        snprintf(tok, sizeof(tok), "X-Fencing-Token: %" PRIu64, token);
        const char *given[] = {lock, tok, NULL};
        struct curl_slist *h =
            pt_signed_headers(k->p, NULL, "PUT", path, given, body, BODY_LEN, NULL);
        h = curl_slist_append(h, "Expect:");
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)BODY_LEN);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
        long st = 0;
        CURLcode rc = curl_easy_perform(c);
        if (rc == CURLE_OK)
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
        curl_slist_free_all(h);
        if (st != 200) {
            k->refused = st == 503;
            break; /* shutting down, or gone */
        }
        __atomic_store_n(&k->acked, token, __ATOMIC_RELEASE);
        __atomic_add_fetch(&k->acks, 1, __ATOMIC_ACQ_REL);
    }
    free(body);
    curl_easy_cleanup(c);
    return NULL;
}

static void test_sigterm_keepalive_load(void)
{
    pt_proxy_t p;
    /* Few workers and a short grace: writes queue, and the grace ends with
     * requests still arriving. */
    CU_ASSERT_EQUAL_FATAL(pt_proxy_start(&p, "io_threads = 2\nthreads = 2\nshutdown_grace_s = 1\n"),
                          0);
    mkbucket(&p, "shut");
    enum { ROUNDS = 5 };
    kload_t k[ROUNDS][S_WRITERS];
    int refused = 0;
    for (int round = 0; round < ROUNDS; round++) {
        pthread_t t[S_WRITERS];
        for (int i = 0; i < S_WRITERS; i++) {
            k[round][i] = (kload_t){.p = &p, .id = i, .round = round};
            pthread_create(&t[i], NULL, keepalive_writer, &k[round][i]);
        }
        CU_ASSERT_TRUE(PT_WAIT_UNTIL(total_acks(k[round], S_WRITERS) >= 60, 60000));
        CU_ASSERT_EQUAL(pt_proxy_stop(&p), 0); /* exit 0: no crash, no hang */
        for (int i = 0; i < S_WRITERS; i++) {
            pthread_join(t[i], NULL);
            refused += k[round][i].refused;
        }
        CU_ASSERT_EQUAL_FATAL(pt_proxy_restart(&p), 0);
        CU_ASSERT_EQUAL(pt_count_staged(&p), 0);
        /* Every acknowledged write is there, whole, at its token or later. */
        for (int i = 0; i < S_WRITERS; i++) {
            char path[64], tag[48];
            snprintf(path, sizeof(path), "/shut/r%d-w%d", round, i);
            long st;
            uint64_t tok = 0;
            char *b = get(&p, path, &st, &tok);
            CU_ASSERT_EQUAL(st, 200);
            CU_ASSERT_TRUE(b != NULL && body_intact(b, BODY_LEN, tag, sizeof(tag)));
            CU_ASSERT(tok >= k[round][i].acked);
            free(b);
        }
    }
    printf("\n    %d writers refused with 503 during %d shutdowns\n", refused, ROUNDS);
    CU_ASSERT_EQUAL(pt_proxy_stop(&p), 0);
    pt_proxy_cleanup(&p);
}

/* 1 if a new connection is refused, or closed (FIN or reset) without a
 * byte of answer: what a proxy that is stopping does with it. */
static int new_conn_turned_away(const pt_proxy_t *p)
{
    static const char req[] = "GET /_zkfence/health HTTP/1.1\r\nHost: x\r\n\r\n";
    char out[512];
    int eof = 0;
    long n = pt_raw_eof(p, req, sizeof(req) - 1, 0, out, sizeof(out), 2000, &eof);
    return n < 0 || (n == 0 && eof != 0);
}

static void test_sigterm_turns_new_connections_away(void)
{
    pt_proxy_t p;
    CU_ASSERT_EQUAL_FATAL(pt_proxy_start(&p, "shutdown_grace_s = 120\n"), 0);
    mkbucket(&p, "drain");
    /* An upload in flight (half its body sent) keeps the proxy in its
     * grace period; /metrics counts itself too. */
    int fd = start_upload(&p, "/drain/k", "/locks/drain", 5, 10, 5);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_FATAL(PT_WAIT_UNTIL(pt_metric(&p, "zkfence_inflight_requests") >= 2, pt_soon_ms()));
    CU_ASSERT_FALSE(new_conn_turned_away(&p));
    kill(p.pid, SIGTERM);
    CU_ASSERT(PT_WAIT_UNTIL(pt_log_count(&p, "finishing in-flight requests") == 1, pt_soon_ms()));
    /* A connection that arrives now gets no answer (not a hang until the
     * grace period ends), and the proxy does not die of it ... */
    CU_ASSERT(PT_WAIT_UNTIL(new_conn_turned_away(&p), pt_soon_ms()));
    CU_ASSERT(new_conn_turned_away(&p));
    /* ... while the upload in flight finishes and is acknowledged. */
    char out[4096];
    CU_ASSERT_EQUAL(finish_upload(fd, 5, out, sizeof(out)), 200);
    CU_ASSERT_PTR_NOT_NULL(strcasestr(out, "Connection: close"));
    pt_conn_close(fd);
    CU_ASSERT_EQUAL(pt_proxy_stop(&p), 0);
    CU_ASSERT_EQUAL_FATAL(pt_proxy_restart(&p), 0);
    long st = 0;
    char *b = pt_get_body(&p, "/drain/k", &st);
    CU_ASSERT_EQUAL(st, 200);
    CU_ASSERT(strcmp(b, "AAAAAAAAAA") == 0);
    free(b);
    CU_ASSERT_EQUAL(pt_proxy_stop(&p), 0);
    pt_proxy_cleanup(&p);
}

/* --- mark store failure --------------------------------------------------------------- */

static long post(const pt_proxy_t *p, const char *path)
{
    return pt_status(p, "POST", path);
}

static long health(const pt_proxy_t *p)
{
    return pt_status(p, "GET", "/_zkfence/health");
}

static void test_store_failure(void)
{
    pt_proxy_t p;
    CU_ASSERT_EQUAL_FATAL(pt_proxy_start(&p, NULL), 0);
    mkbucket(&p, "outage");
    CU_ASSERT_EQUAL(put_tok(&p, "/outage/k", "/locks/o", 5, "before", 6, NULL), 200);
    CU_ASSERT_EQUAL(post(&p, "/_zkfence/debug/marks-fail?on=1"), 204);
    /* A write that needs a new mark fails closed. */
    pt_resp_t r;
    long st = put_tok(&p, "/outage/k", "/locks/o", 6, "during", 6, &r);
    CU_ASSERT_EQUAL(st, 503);
    CU_ASSERT_TRUE(pt_body_has(&r, "ServiceUnavailable"));
    pt_resp_free(&r);
    CU_ASSERT_TRUE(PT_WAIT_UNTIL(health(&p) == 503, pt_soon_ms()));
    /* While unhealthy, every accepting write is refused, stale ones still 412. */
    CU_ASSERT_EQUAL(put_tok(&p, "/outage/k2", "/locks/o2", 1, "x", 1, NULL), 503);
    CU_ASSERT_EQUAL(put_tok(&p, "/outage/k", "/locks/o", 4, "x", 1, NULL), 412);
    /* Both refusals are audited as such, with the mark they met. */
    CU_ASSERT_EQUAL(count_lines(&p, "\"verdict\":\"rejected_unavailable\""), 2);
    CU_ASSERT_EQUAL(count_lines(&p, "\"lock\":\"/locks/o\",\"token\":\"6\",\"mark\":\"5\","
                                    "\"verdict\":\"rejected_unavailable\""),
                    1);
    CU_ASSERT_EQUAL(count_lines(&p, "\"lock\":\"/locks/o2\",\"token\":\"1\",\"mark\":null,"
                                    "\"verdict\":\"rejected_unavailable\""),
                    1);
    CU_ASSERT_EQUAL(count_lines(&p, "\"token\":\"6\",\"mark\":\"5\",\"verdict\":\"accepted"), 0);
    pt_resp_t mt;
    pt_http(&p, "GET", "/_zkfence/metrics", NULL, NULL, 0, &mt);
    CU_ASSERT_TRUE(pt_body_has(&mt, "zkfence_fence_decisions_total{op=\"PutObject\","
                                    "verdict=\"rejected_unavailable\"} 2\n"));
    pt_resp_free(&mt);
    /* Reads keep working and see the old object. */
    char *b = get(&p, "/outage/k", &st, NULL);
    CU_ASSERT_EQUAL(st, 200);
    CU_ASSERT_STRING_EQUAL(b, "before");
    free(b);
    b = get(&p, "/outage/k2", &st, NULL);
    CU_ASSERT_EQUAL(st, 404);
    free(b);
    CU_ASSERT_EQUAL(pt_count_staged(&p), 0);
    /* Recovery. */
    CU_ASSERT_EQUAL(post(&p, "/_zkfence/debug/marks-fail?on=0"), 204);
    CU_ASSERT_TRUE(PT_WAIT_UNTIL(health(&p) == 200, pt_soon_ms()));
    CU_ASSERT_EQUAL(put_tok(&p, "/outage/k", "/locks/o", 6, "after", 5, NULL), 200);
    b = get(&p, "/outage/k", &st, NULL);
    CU_ASSERT_STRING_EQUAL(b, "after");
    free(b);
    CU_ASSERT_EQUAL(pt_proxy_stop(&p), 0);
    pt_proxy_cleanup(&p);
}

static void test_fault_endpoint_post_only(void)
{
    /* The test hook only answers POST (and only with --debug-fault-endpoint,
     * which the harness passes): a GET cannot flip the store. */
    pt_proxy_t p;
    CU_ASSERT_EQUAL_FATAL(pt_proxy_start(&p, NULL), 0);
    pt_resp_t r;
    pt_http(&p, "GET", "/_zkfence/debug/marks-fail?on=1", NULL, NULL, 0, &r);
    CU_ASSERT_EQUAL(r.status, 404);
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(health(&p), 200);
    CU_ASSERT_EQUAL(pt_proxy_stop(&p), 0);
    pt_proxy_cleanup(&p);
}

static void add_tests(void *suite)
{
    CU_add_test(suite, "rules", test_rules);
    CU_add_test(suite, "lower_after_higher", test_lower_after_higher);
    CU_add_test(suite, "stale_during_upload", test_stale_during_upload);
    CU_add_test(suite, "stale_during_upload_on_loop", test_stale_during_upload_on_loop);
    CU_add_test(suite, "writes_end_on_loop", test_writes_end_on_loop);
    CU_add_test(suite, "second_proxy_refused", test_second_proxy_refused);
    CU_add_test(suite, "sighup_reopens_audit_log", test_sighup_reopens_audit_log);
    CU_add_test(suite, "concurrent_writers", test_concurrent_writers);
    CU_add_test(suite, "concurrent_writers_one_worker", test_concurrent_writers_one_worker);
    CU_add_test(suite, "concurrent_writers_fsync_off", test_concurrent_writers_fsync_off);
    CU_add_test(suite, "kill9_restart", test_kill9_restart);
    CU_add_test(suite, "sigterm_keepalive_load", test_sigterm_keepalive_load);
    CU_add_test(suite, "sigterm_turns_new_connections_away",
                test_sigterm_turns_new_connections_away);
    CU_add_test(suite, "store_failure", test_store_failure);
    CU_add_test(suite, "fault_endpoint_get", test_fault_endpoint_post_only);
}

int main(void)
{
    return pt_run_suite("proxy_fencing", add_tests);
}
