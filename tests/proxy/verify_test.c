/* Tokens verified against ZooKeeper (verify = holder) against a running
 * proxy and a ZooKeeper server this suite starts itself (scripts/zk, on a
 * free port, its own data directory; stopped by its PID through scripts/zk
 * stop). Real tokens come from libzkfence's lock. Each attack of issue 10
 * is sent and its refusal asserted with the mark and the object unchanged:
 * the forged far-future token, a token above the ensemble's last zxid, a
 * waiter's token, the token of a holder that released, the holder's token
 * of another lock, a lock the key is not bound to, a released holder's
 * token that is still the mark; the holder cache answering the holder's
 * later writes without a round trip; ZooKeeper down (503 with Retry-After,
 * nothing raised);
 * configuration errors; and a mark raised while verification was off,
 * repaired by an admin. The same attacks against verify = zxid (a token
 * not above the ensemble's last committed zxid), and its cached bound
 * honoured while ZooKeeper is down. */
#include <CUnit/Basic.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <zkfence/zkfence.h>

#include "harness.h"

static char scripts_zk[1024], zk_dir[256], zk_hosts[64];
static int zk_port;

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int zk_start(void)
{
    return sh("%s start --port %d --data-dir %s --tick-ms 200 >/dev/null", scripts_zk, zk_port,
              zk_dir);
}

static int zk_stop(void)
{
    return sh("%s stop --data-dir %s >/dev/null", scripts_zk, zk_dir);
}

/* ---------------------------------------------------------- locks */

static zkf_client_t *client(void)
{
    zkf_client_options_t o;
    zkf_client_options_init(&o);
    o.hosts = zk_hosts;
    o.session_timeout_ms = 4000;
    o.zk_log_level = 0;
    zkf_client_t *c = NULL;
    CU_ASSERT_EQUAL_FATAL(zkf_client_connect(&o, &c), 0);
    return c;
}

static zkf_lock_t *lock_of(zkf_client_t *c, const char *path)
{
    zkf_lock_t *l = NULL;
    CU_ASSERT_EQUAL_FATAL(zkf_lock_create(c, path, NULL, &l), 0);
    return l;
}

/* Acquires l and returns its token as text in buf. */
static const char *acquire(zkf_lock_t *l, char *buf, size_t cap)
{
    uint64_t t = 0;
    CU_ASSERT_EQUAL_FATAL(zkf_lock_acquire(l, 10000, &t), 0);
    snprintf(buf, cap, "%" PRIu64, t);
    return buf;
}

/* ---------------------------------------------------------- proxy */

static int start(pt_proxy_t *p, const char *extra)
{
    char conf[1024];
    snprintf(conf, sizeof(conf), "zk = %s\n%s", zk_hosts, extra ? extra : "");
    return pt_proxy_start(p, conf);
}

static long put(const pt_proxy_t *p, const char *path, const char *lock, const char *token,
                const char *body, pt_resp_t *out)
{
    return pt_fenced(p, "PUT", path, lock, token, body, out);
}

/* The object's body as stored (a plain GET), compared with want. */
static int body_is(const pt_proxy_t *p, const char *path, const char *want)
{
    long st;
    char *b = pt_get_body(p, path, &st);
    int ok = st == 200 && b != NULL && strcmp(b, want) == 0;
    free(b);
    return ok;
}

/* Sends a fenced PUT that must be refused with (status, code); then the
 * mark and the object must be what they were. */
static void refused(const pt_proxy_t *p, const char *path, const char *lock, const char *token,
                    long status, const char *code, const char *in_msg)
{
    long long mark = pt_mark(p, lock);
    long ost;
    char *before = pt_get_body(p, path, &ost);
    pt_resp_t r;
    long st = put(p, path, lock, token, "forged", &r);
    if (st != status || !pt_error_is(&r, code))
        fprintf(stderr, "PUT %s %s %s: %ld %.*s\n", path, lock, token, st, (int)r.len,
                r.body ? r.body : "");
    CU_ASSERT_EQUAL(st, status);
    CU_ASSERT(pt_error_is(&r, code));
    if (in_msg != NULL)
        CU_ASSERT(pt_body_has(&r, in_msg));
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(pt_mark(p, lock), mark);
    long nst;
    char *after = pt_get_body(p, path, &nst);
    CU_ASSERT_EQUAL(nst, ost);
    if (ost == 200) /* else both are errors: no object before, none after */
        CU_ASSERT(before != NULL && after != NULL && strcmp(before, after) == 0);
    free(before);
    free(after);
}

/* 1 if the proxy's health says its ZooKeeper client is connected. */
static int zk_connected(const pt_proxy_t *p)
{
    pt_resp_t r;
    pt_http(p, "GET", "/_zkfence/health", NULL, NULL, 0, &r);
    int yes = pt_body_has(&r, "\"zookeeper\":\"connected\"");
    pt_resp_free(&r);
    return yes;
}

/* Releases both locks (held), destroys them and the client. */
static void release_both(zkf_client_t *c, zkf_lock_t *a, zkf_lock_t *b)
{
    CU_ASSERT_EQUAL(zkf_lock_release(a), 0);
    CU_ASSERT_EQUAL(zkf_lock_release(b), 0);
    zkf_lock_destroy(a);
    zkf_lock_destroy(b);
    zkf_client_destroy(c);
}

/* Starts the suite's ZooKeeper again after a test stopped it: once the
 * proxy is connected, a new holder of `lock` writes `path` (verified). */
static void zk_back_verified(const pt_proxy_t *p, const char *path, const char *lock)
{
    CU_ASSERT_EQUAL_FATAL(zk_start(), 0);
    CU_ASSERT(PT_WAIT_UNTIL(zk_connected(p), 30000));
    zkf_client_t *c = client();
    zkf_lock_t *l = lock_of(c, lock);
    char tok[24];
    acquire(l, tok, sizeof(tok));
    CU_ASSERT_EQUAL(put(p, path, lock, tok, "after", NULL), 200);
    CU_ASSERT_EQUAL(zkf_lock_release(l), 0);
    zkf_lock_destroy(l);
    zkf_client_destroy(c);
}

/* ---------------------------------------------------------- tests */

static void test_holder_accepted(void)
{
    pt_proxy_t p;
    CU_ASSERT_EQUAL_FATAL(start(&p, NULL), 0);
    CU_ASSERT_EQUAL(pt_status(&p, "PUT", "/vb1"), 200);
    zkf_client_t *c = client();
    zkf_lock_t *l = lock_of(c, "/locks/v1");
    char tok[24];
    acquire(l, tok, sizeof(tok));
    CU_ASSERT_EQUAL(put(&p, "/vb1/k", "/locks/v1", tok, "one", NULL), 200);
    CU_ASSERT_EQUAL(pt_mark(&p, "/locks/v1"), strtoll(tok, NULL, 10));
    CU_ASSERT_EQUAL(pt_metric(&p, "zkfence_token_checks_total"), 1);
    CU_ASSERT_EQUAL(pt_metric(&p, "zkfence_token_check_cache_hits_total"), 0);
    CU_ASSERT_EQUAL(pt_metric(&p, "zkfence_holder_cache_locks"), 1);
    /* equal to the mark: checked, by the holder cache (no round trip) */
    CU_ASSERT_EQUAL(put(&p, "/vb1/k", "/locks/v1", tok, "two", NULL), 200);
    CU_ASSERT(body_is(&p, "/vb1/k", "two"));
    for (int i = 0; i < 5; i++)
        CU_ASSERT_EQUAL(put(&p, "/vb1/k", "/locks/v1", tok, "two", NULL), 200);
    CU_ASSERT_EQUAL(pt_metric(&p, "zkfence_token_checks_total"), 7);
    CU_ASSERT_EQUAL(pt_metric(&p, "zkfence_token_check_cache_hits_total"), 6);
    CU_ASSERT_EQUAL(pt_audit_count(&p, "\"verdict\":\"accepted_higher\""), 1);
    CU_ASSERT_EQUAL(pt_audit_count(&p, "\"verdict\":\"accepted_equal\""), 6);
    pt_resp_t r;
    CU_ASSERT_EQUAL(pt_http(&p, "GET", "/_zkfence/health", NULL, NULL, 0, &r), 0);
    CU_ASSERT(pt_body_has(&r, "\"verify\":\"holder\",\"zookeeper\":\"connected\""));
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(zkf_lock_release(l), 0);
    zkf_lock_destroy(l);
    zkf_client_destroy(c);
    pt_proxy_cleanup(&p);
}

/* The attack of issue 10: one PUT with UINT64_MAX locked every real holder
 * out forever. Now refused, and so is any token above the ensemble's last
 * zxid, and a lock nobody holds. */
static void test_forged_tokens(void)
{
    pt_proxy_t p;
    CU_ASSERT_EQUAL_FATAL(start(&p, NULL), 0);
    CU_ASSERT_EQUAL(pt_status(&p, "PUT", "/vb2"), 200);
    zkf_client_t *c = client();
    zkf_lock_t *l = lock_of(c, "/locks/v2");
    char tok[24], above[24];
    acquire(l, tok, sizeof(tok));
    CU_ASSERT_EQUAL(put(&p, "/vb2/k", "/locks/v2", tok, "real", NULL), 200);
    refused(&p, "/vb2/k", "/locks/v2", "18446744073709551615", 403, "FencingTokenNotHolder",
            "the holder of /locks/v2 has token");
    /* above the ensemble's last zxid (nothing has been created since) */
    snprintf(above, sizeof(above), "%" PRIu64, (uint64_t)strtoull(tok, NULL, 10) + 1000000);
    refused(&p, "/vb2/k", "/locks/v2", above, 403, "FencingTokenNotHolder", NULL);
    /* a lock nobody holds (no such path in ZooKeeper) */
    refused(&p, "/vb2/k2", "/locks/nobody", "5", 403, "FencingTokenNotHolder", "has no holder");
    CU_ASSERT_EQUAL(pt_mark(&p, "/locks/nobody"), -1);
    CU_ASSERT_EQUAL(pt_audit_count(&p, "\"verdict\":\"rejected_unverified\""), 3);
    /* the real holder was never locked out */
    CU_ASSERT_EQUAL(put(&p, "/vb2/k", "/locks/v2", tok, "still", NULL), 200);
    CU_ASSERT(body_is(&p, "/vb2/k", "still"));
    /* fence-advance and fenced reads go through the same check */
    pt_resp_t r;
    const char *hdr[] = {"X-Fencing-Lock: /locks/v2", "X-Fencing-Token: 18446744073709551615",
                         NULL};
    pt_http(&p, "POST", "/_zkfence/fence-advance", hdr, NULL, 0, &r);
    CU_ASSERT_EQUAL(r.status, 403);
    CU_ASSERT(pt_error_is(&r, "FencingTokenNotHolder"));
    pt_resp_free(&r);
    pt_http(&p, "GET", "/vb2/k", hdr, NULL, 0, &r);
    CU_ASSERT_EQUAL(r.status, 403);
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(pt_mark(&p, "/locks/v2"), strtoll(tok, NULL, 10));
    CU_ASSERT(pt_status(&p, "GET", "/_zkfence/metrics") == 200);
    CU_ASSERT_EQUAL(zkf_lock_release(l), 0);
    zkf_lock_destroy(l);
    zkf_client_destroy(c);
    pt_proxy_cleanup(&p);
}

static void acquired(zkf_lock_t *lock, int status, uint64_t token, void *arg)
{
    (void)lock;
    (void)status;
    (void)token;
    (void)arg; /* the test polls zkf_lock_state() */
}

/* Tokens of real nodes that do not hold: a waiter's, a holder's that
 * released before writing anything, the holder's of another lock. */
static void test_not_the_holder(void)
{
    pt_proxy_t p;
    CU_ASSERT_EQUAL_FATAL(start(&p, NULL), 0);
    CU_ASSERT_EQUAL(pt_status(&p, "PUT", "/vb3"), 200);
    CU_ASSERT_EQUAL(put(&p, "/vb3/k", "/locks/v3", NULL, NULL, NULL), 428); /* sanity */
    zkf_client_t *a = client(), *b = client();
    zkf_lock_t *la = lock_of(a, "/locks/v3"), *lb = lock_of(b, "/locks/v3");
    zkf_lock_t *other = lock_of(b, "/locks/v3-other");
    char ta[24], tb[24], tother[24];
    acquire(la, ta, sizeof(ta));
    CU_ASSERT_EQUAL(put(&p, "/vb3/k", "/locks/v3", ta, "a", NULL), 200);
    acquire(other, tother, sizeof(tother));
    /* the holder of another lock: a higher token, but not this lock's */
    refused(&p, "/vb3/k", "/locks/v3", tother, 403, "FencingTokenNotHolder", NULL);

    /* b queues behind a: its node's token is a waiter's */
    CU_ASSERT_EQUAL(zkf_lock_acquire_async(lb, 20000, acquired, NULL), 0);
    zkf_contender_t *list = NULL;
    size_t n = 0;
    CU_ASSERT(PT_WAIT_UNTIL((zkf_contenders_free(list, n), list = NULL, n = 0,
                             zkf_lock_contenders(a, "/locks/v3", &list, &n) == 0 && n == 2),
                            10000));
    /* not _FATAL: the proxy and the sessions below must still be cleaned up */
    CU_ASSERT(n == 2);
    snprintf(tb, sizeof(tb), "%" PRIu64, n == 2 ? list[1].token : 0);
    zkf_contenders_free(list, n);
    refused(&p, "/vb3/k", "/locks/v3", tb, 403, "FencingTokenNotHolder", "belongs to a waiter");

    /* a releases; b holds. a's token is still the mark, but its node is
     * gone: refused at once, before b writes anything (the cache's watch
     * fired; the refusal comes from ZooKeeper) */
    CU_ASSERT_EQUAL(zkf_lock_release(la), 0);
    CU_ASSERT(PT_WAIT_UNTIL(zkf_lock_state(lb) == ZKF_LOCK_HELD, 10000));
    /* the proxy hears of the deletion through its watch, one notification
     * after the fact (the window of a watch-kept cache: see the README) */
    CU_ASSERT(PT_WAIT_UNTIL(pt_metric(&p, "zkfence_holder_cache_locks") == 0, 10000));
    refused(&p, "/vb3/k", "/locks/v3", ta, 403, "FencingTokenNotHolder", tb);
    CU_ASSERT_EQUAL(put(&p, "/vb3/k", "/locks/v3", tb, "b", NULL), 200);
    CU_ASSERT_EQUAL(put(&p, "/vb3/k", "/locks/v3", ta, "a-late", NULL), 412);
    CU_ASSERT(body_is(&p, "/vb3/k", "b"));

    /* a holder that released before its first write: its token is above
     * the mark (none here), its node is gone, and the new holder's is not
     * it */
    zkf_lock_t *g1 = lock_of(a, "/locks/v3g"), *g2 = lock_of(b, "/locks/v3g");
    char t1[24], t2[24];
    acquire(g1, t1, sizeof(t1));
    CU_ASSERT_EQUAL(zkf_lock_release(g1), 0);
    acquire(g2, t2, sizeof(t2));
    refused(&p, "/vb3/g", "/locks/v3g", t1, 403, "FencingTokenNotHolder", t2);
    CU_ASSERT_EQUAL(put(&p, "/vb3/g", "/locks/v3g", t2, "g2", NULL), 200);
    CU_ASSERT_EQUAL(zkf_lock_release(g2), 0);
    zkf_lock_destroy(g1);
    zkf_lock_destroy(g2);
    CU_ASSERT_EQUAL(zkf_lock_release(lb), 0);
    CU_ASSERT_EQUAL(zkf_lock_release(other), 0);
    zkf_lock_destroy(la);
    zkf_lock_destroy(lb);
    zkf_lock_destroy(other);
    zkf_client_destroy(a);
    zkf_client_destroy(b);
    pt_proxy_cleanup(&p);
}

/* The lock comes from the binding, not from the client: naming another
 * lock is refused before ZooKeeper is asked, and a token alone takes the
 * bound lock, which ZooKeeper then checks. */
static void test_bound_lock(void)
{
    pt_proxy_t p;
    CU_ASSERT_EQUAL_FATAL(start(&p, "bind.vb4 = /locks/v4\n"), 0);
    CU_ASSERT_EQUAL(pt_status(&p, "PUT", "/vb4"), 200);
    zkf_client_t *c = client();
    zkf_lock_t *l = lock_of(c, "/locks/v4"), *o = lock_of(c, "/locks/v4-free");
    char tok[24], tother[24];
    acquire(l, tok, sizeof(tok));
    acquire(o, tother, sizeof(tother));
    CU_ASSERT_EQUAL(put(&p, "/vb4/k", NULL, tok, "bound", NULL), 200);
    /* another lock, even one whose holder's token is real */
    refused(&p, "/vb4/k", "/locks/v4-free", tother, 403, "FencingLockMismatch", NULL);
    CU_ASSERT_EQUAL(pt_mark(&p, "/locks/v4-free"), -1);
    /* the other lock's token on the bound lock: not its holder's */
    refused(&p, "/vb4/k", "/locks/v4", tother, 403, "FencingTokenNotHolder", NULL);
    pt_resp_t r;
    const char *hdr[] = {"X-Fencing-Token: 18446744073709551615", NULL};
    pt_http(&p, "PUT", "/vb4/k", hdr, "x", 1, &r);
    CU_ASSERT_EQUAL(r.status, 403);
    CU_ASSERT(pt_error_is(&r, "FencingTokenNotHolder"));
    pt_resp_free(&r);
    CU_ASSERT(body_is(&p, "/vb4/k", "bound"));
    release_both(c, l, o);
    pt_proxy_cleanup(&p);
}

/* A mark raised by a forged token while verification was off: with
 * verification on, the real holder is still refused (412), until an admin
 * repairs the mark; the repair is audited. */
static void test_repair_after_verify_off(void)
{
    pt_proxy_t p;
    CU_ASSERT_EQUAL_FATAL(pt_proxy_start(&p, "verify = off\n"), 0);
    CU_ASSERT_EQUAL(pt_log_count(&p, "WARNING: verify = off"), 1);
    CU_ASSERT_EQUAL(pt_status(&p, "PUT", "/vb5"), 200);
    CU_ASSERT_EQUAL(put(&p, "/vb5/k", "/locks/v5", "18446744073709551615", "forged", NULL), 200);
    CU_ASSERT_EQUAL(pt_proxy_stop(&p), 0);
    FILE *f = fopen(p.conf, "a");
    CU_ASSERT_FATAL(f != NULL);
    fprintf(f, "verify = holder\nzk = %s\n", zk_hosts);
    fclose(f);
    CU_ASSERT_EQUAL_FATAL(pt_proxy_restart(&p), 0);
    zkf_client_t *c = client();
    zkf_lock_t *l = lock_of(c, "/locks/v5");
    char tok[24], lower[24];
    acquire(l, tok, sizeof(tok));
    CU_ASSERT_EQUAL(put(&p, "/vb5/k", "/locks/v5", tok, "real", NULL), 412);
    snprintf(lower, sizeof(lower), "%" PRIu64, (uint64_t)strtoull(tok, NULL, 10) - 1);
    char q[256];
    snprintf(q, sizeof(q), "/_zkfence/marks/repair?lock=/locks/v5&mark=%s&reason=forged", lower);
    pt_resp_t r;
    pt_http(&p, "POST", q, NULL, NULL, 0, &r);
    CU_ASSERT_EQUAL(r.status, 200);
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(pt_mark(&p, "/locks/v5"), strtoll(lower, NULL, 10));
    CU_ASSERT_EQUAL(pt_audit_count(&p, "\"verdict\":\"repaired\""), 1);
    /* the holder's token is verified and raises the mark again */
    CU_ASSERT_EQUAL(put(&p, "/vb5/k", "/locks/v5", tok, "real", NULL), 200);
    CU_ASSERT(body_is(&p, "/vb5/k", "real"));
    CU_ASSERT_EQUAL(zkf_lock_release(l), 0);
    zkf_lock_destroy(l);
    zkf_client_destroy(c);
    pt_proxy_cleanup(&p);
}

static void test_config_errors(void)
{
    char dir[] = "/tmp/zkfence-verify-conf.XXXXXX";
    CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
    char conf[300], out[300];
    snprintf(conf, sizeof(conf), "%s/proxy.conf", dir);
    snprintf(out, sizeof(out), "%s/out", dir);
    struct {
        const char *text, *says;
        int status;
    } cases[] = {
        {"verify = holder\n", "verify = holder needs zk", 64},
        {"verify = zxid\n", "verify = zxid needs zk", 64},
        {"verify = maybe\n", "verify: expected holder, zxid or off", 64},
        {"zk = 127.0.0.1:1/apps\n", "the chroot goes in zk_chroot", 64},
        {"zk = 127.0.0.1:1\nzk_chroot = apps\n", "zk_chroot: expected an absolute", 64},
        {"zk_chroot = /apps\n", "zk_chroot is set but zk is not", 64},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        FILE *f = fopen(conf, "w");
        CU_ASSERT_FATAL(f != NULL);
        fprintf(f, "listen = 127.0.0.1:0\ndata_dir = %s/data\n%s", dir, cases[i].text);
        fclose(f);
        const char *args[] = {"--config", conf, NULL};
        int st = pt_proxy_run(args, out, 20000);
        if (st != cases[i].status || pt_file_count(out, cases[i].says) != 1)
            fprintf(stderr, "case %zu: exit %d\n", i, st);
        CU_ASSERT_EQUAL(st, cases[i].status);
        CU_ASSERT_EQUAL(pt_file_count(out, cases[i].says), 1);
    }
    sh("rm -rf %s", dir);
}

/* ZooKeeper unreachable: every token the fence would accept gets 503 with
 * Retry-After, nothing raised, nothing written (a stale one is still 412);
 * once ZooKeeper is back, verification resumes. A proxy cannot start without it. Runs
 * last: it stops the suite's ZooKeeper (and starts it again). */
static void test_zookeeper_down(void)
{
    pt_proxy_t p;
    CU_ASSERT_EQUAL_FATAL(start(&p, "zk_session_timeout_ms = 4000\n"), 0);
    CU_ASSERT_EQUAL(pt_status(&p, "PUT", "/vb6"), 200);
    zkf_client_t *c = client();
    zkf_lock_t *l = lock_of(c, "/locks/v6"), *n = lock_of(c, "/locks/v6-next");
    char tok[24], tnext[24];
    acquire(l, tok, sizeof(tok));
    acquire(n, tnext, sizeof(tnext));
    CU_ASSERT_EQUAL(put(&p, "/vb6/k", "/locks/v6", tok, "before", NULL), 200);
    release_both(c, l, n);

    CU_ASSERT_EQUAL_FATAL(zk_stop(), 0);
    pt_resp_t r;
    CU_ASSERT(PT_WAIT_UNTIL(!zk_connected(&p), 20000));
    refused(&p, "/vb6/k", "/locks/v6", tnext, 503, "ServiceUnavailable", "cannot be verified");
    refused(&p, "/vb6/k2", "/locks/v6-next", tnext, 503, "ServiceUnavailable", NULL);
    CU_ASSERT_EQUAL(put(&p, "/vb6/k", "/locks/v6", "18446744073709551615", "x", &r), 503);
    char ra[16];
    CU_ASSERT(pt_header(&r, "Retry-After", ra, sizeof(ra)) != NULL && strcmp(ra, "1") == 0);
    pt_resp_free(&r);
    /* fail closed: even the mark's own token (its holder is gone anyway) */
    refused(&p, "/vb6/k", "/locks/v6", tok, 503, "ServiceUnavailable", NULL);
    CU_ASSERT_EQUAL(pt_mark(&p, "/locks/v6"), strtoll(tok, NULL, 10));
    CU_ASSERT_EQUAL(pt_audit_count(&p, "\"verdict\":\"rejected_unavailable\""), 4);
    CU_ASSERT(body_is(&p, "/vb6/k", "before"));
    /* a stale token needs no ZooKeeper: still 412 */
    CU_ASSERT_EQUAL(put(&p, "/vb6/k", "/locks/v6", "1", "stale", NULL), 412);

    /* no ZooKeeper at start: the proxy refuses to start (exit 1) */
    char out[300];
    snprintf(out, sizeof(out), "%s/nozk.out", p.dir);
    char conf2[300];
    snprintf(conf2, sizeof(conf2), "%s/nozk.conf", p.dir);
    FILE *f = fopen(conf2, "w");
    CU_ASSERT_FATAL(f != NULL);
    fprintf(f, "listen = 127.0.0.1:0\ndata_dir = %s/nozk\nzk = %s\nauth = off\n", p.dir, zk_hosts);
    fclose(f);
    const char *args[] = {"--config", conf2, NULL};
    CU_ASSERT_EQUAL(pt_proxy_run(args, out, 60000), 1);
    CU_ASSERT_EQUAL(pt_file_count(out, "tokens cannot be verified"), 1);

    zk_back_verified(&p, "/vb6/k", "/locks/v6");
    pt_proxy_cleanup(&p);
}

/* verify = zxid: a real holder's token accepted (one learning of the
 * ensemble's last zxid, then the cached bound), the forged far-future
 * token and a token above the last zxid refused (403 FencingTokenNotIssued,
 * nothing raised, audited) without locking the holder out, another lock
 * named on a bound key refused; a later holder, whose token is above the
 * cached bound, makes the proxy learn it again and is accepted. */
static void test_zxid_mode(void)
{
    pt_proxy_t p;
    CU_ASSERT_EQUAL_FATAL(start(&p, "verify = zxid\nbind.vz1 = /locks/z1\n"), 0);
    CU_ASSERT_EQUAL(pt_status(&p, "PUT", "/vz1"), 200);
    pt_resp_t r;
    CU_ASSERT_EQUAL(pt_http(&p, "GET", "/_zkfence/health", NULL, NULL, 0, &r), 0);
    CU_ASSERT(pt_body_has(&r, "\"verify\":\"zxid\",\"zookeeper\":\"connected\""));
    pt_resp_free(&r);
    zkf_client_t *c = client();
    zkf_lock_t *l = lock_of(c, "/locks/z1"), *o = lock_of(c, "/locks/z1-other");
    char tok[24], tother[24], above[24];
    acquire(l, tok, sizeof(tok));
    acquire(o, tother, sizeof(tother));
    CU_ASSERT_EQUAL(put(&p, "/vz1/k", "/locks/z1", tok, "real", NULL), 200);
    CU_ASSERT_EQUAL(pt_metric(&p, "zkfence_token_checks_total"), 1);
    CU_ASSERT_EQUAL(pt_metric(&p, "zkfence_token_check_cache_hits_total"), 0);
    for (int i = 0; i < 3; i++)
        CU_ASSERT_EQUAL(put(&p, "/vz1/k", "/locks/z1", tok, "real", NULL), 200);
    CU_ASSERT_EQUAL(pt_metric(&p, "zkfence_token_check_cache_hits_total"), 3);
    refused(&p, "/vz1/k", "/locks/z1", "18446744073709551615", 403, "FencingTokenNotIssued",
            "last committed zxid");
    snprintf(above, sizeof(above), "%" PRIu64, (uint64_t)strtoull(tok, NULL, 10) + 1000000);
    refused(&p, "/vz1/k", "/locks/z1", above, 403, "FencingTokenNotIssued", NULL);
    CU_ASSERT_EQUAL(pt_audit_count(&p, "\"verdict\":\"rejected_unverified\""), 2);
    /* lock switching: another lock named on the bound key, a real token */
    refused(&p, "/vz1/k", "/locks/z1-other", tother, 403, "FencingLockMismatch", NULL);
    CU_ASSERT_EQUAL(pt_mark(&p, "/locks/z1-other"), -1);
    const char *hdr[] = {"X-Fencing-Token: 18446744073709551615", NULL};
    pt_http(&p, "PUT", "/vz1/k", hdr, "x", 1, &r);
    CU_ASSERT_EQUAL(r.status, 403);
    CU_ASSERT(pt_error_is(&r, "FencingTokenNotIssued"));
    pt_resp_free(&r);
    /* the real holder was never locked out */
    CU_ASSERT_EQUAL(put(&p, "/vz1/k", NULL, tok, "still", NULL), 200);
    CU_ASSERT(body_is(&p, "/vz1/k", "still"));
    CU_ASSERT_EQUAL(pt_mark(&p, "/locks/z1"), strtoll(tok, NULL, 10));
    /* the next holder: its token is above the bound learnt so far */
    CU_ASSERT_EQUAL(zkf_lock_release(l), 0);
    acquire(l, tok, sizeof(tok));
    long long hits = pt_metric(&p, "zkfence_token_check_cache_hits_total");
    CU_ASSERT_EQUAL(put(&p, "/vz1/k", NULL, tok, "next", NULL), 200);
    CU_ASSERT_EQUAL(pt_metric(&p, "zkfence_token_check_cache_hits_total"), hits);
    CU_ASSERT_EQUAL(pt_mark(&p, "/locks/z1"), strtoll(tok, NULL, 10));
    release_both(c, l, o);
    pt_proxy_cleanup(&p);
}

/* verify = zxid with ZooKeeper down: tokens at or below the last zxid
 * learnt are still accepted (the bound was true when learnt and only
 * grows), tokens above it get 503 with Retry-After, nothing raised. Stops
 * the suite's ZooKeeper and starts it again. */
static void test_zxid_zookeeper_down(void)
{
    pt_proxy_t p;
    CU_ASSERT_EQUAL_FATAL(start(&p, "verify = zxid\nzk_session_timeout_ms = 4000\n"), 0);
    CU_ASSERT_EQUAL(pt_status(&p, "PUT", "/vz2"), 200);
    zkf_client_t *c = client();
    zkf_lock_t *l = lock_of(c, "/locks/z2"), *n = lock_of(c, "/locks/z2-next");
    char tok[24], tnext[24], above[24];
    acquire(l, tok, sizeof(tok));
    acquire(n, tnext, sizeof(tnext));
    /* learns a bound at or above tnext (n's node was created before) */
    CU_ASSERT_EQUAL(put(&p, "/vz2/k", "/locks/z2", tok, "before", NULL), 200);
    release_both(c, l, n);

    CU_ASSERT_EQUAL_FATAL(zk_stop(), 0);
    CU_ASSERT(PT_WAIT_UNTIL(!zk_connected(&p), 20000));
    long long checks = pt_metric(&p, "zkfence_token_checks_total");
    CU_ASSERT_EQUAL(put(&p, "/vz2/k2", "/locks/z2-next", tnext, "cached", NULL), 200);
    CU_ASSERT_EQUAL(put(&p, "/vz2/k", "/locks/z2", tnext, "raised", NULL), 200);
    CU_ASSERT_EQUAL(pt_mark(&p, "/locks/z2"), strtoll(tnext, NULL, 10));
    CU_ASSERT_EQUAL(pt_metric(&p, "zkfence_token_checks_total"), checks + 2);
    snprintf(above, sizeof(above), "%" PRIu64, (uint64_t)strtoull(tnext, NULL, 10) + 1000000);
    refused(&p, "/vz2/k", "/locks/z2", above, 503, "ServiceUnavailable", "last zxid learnt");
    pt_resp_t r;
    CU_ASSERT_EQUAL(put(&p, "/vz2/k", "/locks/z2", "18446744073709551615", "x", &r), 503);
    char ra[16];
    CU_ASSERT(pt_header(&r, "Retry-After", ra, sizeof(ra)) != NULL && strcmp(ra, "1") == 0);
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(pt_audit_count(&p, "\"verdict\":\"rejected_unavailable\""), 2);
    CU_ASSERT(body_is(&p, "/vz2/k", "raised"));
    CU_ASSERT_EQUAL(put(&p, "/vz2/k", "/locks/z2", tok, "stale", NULL), 412);

    zk_back_verified(&p, "/vz2/k", "/locks/z2");
    pt_proxy_cleanup(&p);
}

static void add_tests(void *suite)
{
    CU_pSuite s = suite;
    CU_add_test(s, "the holder's token accepted, then from the mark", test_holder_accepted);
    CU_add_test(s, "forged tokens refused, the holder never locked out", test_forged_tokens);
    CU_add_test(s, "a waiter's, a released holder's, another lock's token", test_not_the_holder);
    CU_add_test(s, "the bound lock: another lock named, a token alone", test_bound_lock);
    CU_add_test(s, "a mark forged while verify was off, repaired", test_repair_after_verify_off);
    CU_add_test(s, "configuration errors", test_config_errors);
    CU_add_test(s, "zxid: a holder accepted, forged and switched refused", test_zxid_mode);
    CU_add_test(s, "zxid: ZooKeeper down, the cached bound honoured", test_zxid_zookeeper_down);
    CU_add_test(s, "ZooKeeper down: 503 Retry-After, back: verified", test_zookeeper_down);
}

int main(void)
{
    const char *src = getenv("ZKFENCE_SOURCE_DIR");
    snprintf(scripts_zk, sizeof(scripts_zk), "%s/scripts/zk", src ? src : ".");
    char tmpl[] = "/tmp/zkfence-verify-zk.XXXXXX";
    if (mkdtemp(tmpl) == NULL)
        return 1;
    snprintf(zk_dir, sizeof(zk_dir), "%s", tmpl);
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "%s/scripts/free-port", src ? src : ".");
    FILE *f = popen(cmd, "r");
    if (f == NULL || fscanf(f, "%d", &zk_port) != 1) {
        if (f)
            pclose(f);
        return 1;
    }
    pclose(f);
    snprintf(zk_hosts, sizeof(zk_hosts), "127.0.0.1:%d", zk_port);
    if (zk_start() != 0) {
        fprintf(stderr, "could not start ZooKeeper on %s\n", zk_hosts);
        zk_stop();
        return 1;
    }
    int rc = pt_run_suite("proxy_verify", add_tests);
    zk_stop();
    sh("rm -rf %s", zk_dir);
    return rc;
}
