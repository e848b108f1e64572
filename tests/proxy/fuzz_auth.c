/* Fuzz target for request authentication (auth/auth.c: zkp_auth_decide),
 * driven with fuzzed methods, targets and headers, against a credentials
 * set of two keys:
 *  - the request as given (nearly always refused: it must be refused
 *    cleanly, whatever its Authorization, query or headers hold);
 *  - the same request signed (by the signer of proxy/sigv4) with a key of
 *    the set: unless the classifier or the signer refuses it, the
 *    signature must verify, and the verdict must be the rights table's;
 *    then one byte of its signature changed, which must be refused.
 * Input layout: line 1 the method, line 2 the request-target, then
 * "name: value" header lines. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "auth/auth.h"
#include "auth/creds.h"
#include "auth/rights.h"
#include "fuzz_lines.h"

#define NOW ((time_t)1700000000)
static zkp_auth_t *auth;
static zkp_creds_t *creds;

static const char creds_text[] = "key AKADMIN fuzz-admin-secret-0123456789\n"
                                 "grant AKADMIN * admin\n"
                                 "key AKWRITER fuzz-writer-secret-012345\n"
                                 "grant AKWRITER bkt write\n";

static void setup(void)
{
    char path[] = "/tmp/zkp-fuzz-auth.XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0 || write(fd, creds_text, sizeof(creds_text) - 1) < 0)
        abort();
    close(fd);
    zkp_config_t cfg;
    zkp_config_defaults(&cfg);
    cfg.credentials = strdup(path);
    char err[512];
    if (zkp_auth_open(&cfg, &auth, err, sizeof(err)) != 0 ||
        zkp_creds_parse(creds_text, sizeof(creds_text) - 1, "fuzz", &creds, err, sizeof(err)) !=
            0) {
        fprintf(stderr, "fuzz_auth: %s\n", err);
        abort();
    }
    unlink(path);
    zkp_config_free(&cfg);
}

/* The query of a target ("" without one). */
static const char *query_of(const char *target)
{
    const char *q = strchr(target, '?');
    return q ? q + 1 : "";
}

static int decide(const char *method, const char *target, const zkp_sigv4_header_t *h, size_t n,
                  const zkp_op_t *op, zkp_auth_refusal_t *why)
{
    zkp_auth_input_t in = {method, target, strlen(target), h, n, NOW, n % 2, op};
    zkp_req_auth_t out;
    int rc = zkp_auth_decide(auth, &in, &out, why);
    zkp_req_auth_end(&out);
    if (rc != 0 && (why->status < 400 || why->code == NULL))
        abort(); /* a refusal always says what and why */
    return rc;
}

/* Signs (method, target, headers) with key k and decides. */
static void signed_case(const char *method, const char *target, const zkp_sigv4_header_t *h,
                        size_t n, const zkp_op_t *op, const char *ak, const char *sk)
{
    zkp_sigv4_header_t given[40];
    size_t ng = 0;
    given[ng++] = (zkp_sigv4_header_t){"host", 4, "proxy", 5};
    for (size_t i = 0; i < n && ng < 36; i++)
        given[ng++] = h[i];
    const char *qm = strchr(target, '?');
    char path[2048];
    if ((qm ? (size_t)(qm - target) : strlen(target)) >= sizeof(path))
        return;
    snprintf(path, sizeof(path), "%.*s", (int)(qm ? qm - target : (long)strlen(target)), target);
    zkp_sigv4_creds_t c = {ak, sk, "us-east-1", NULL};
    zkp_sigv4_sign_req_t r = {.method = method,
                              .path = path,
                              .query = qm ? qm + 1 : NULL,
                              .headers = given,
                              .n_headers = ng,
                              .when = NOW};
    zkp_sigv4_signed_t s;
    if (zkp_sigv4_sign(&c, &r, &s) != 0)
        return; /* a request the signer will not sign */
    zkp_sigv4_header_t all[44];
    memcpy(all, given, ng * sizeof(*given));
    size_t na = ng;
    all[na++] = (zkp_sigv4_header_t){"x-amz-date", 10, s.amz_date, strlen(s.amz_date)};
    all[na++] = (zkp_sigv4_header_t){"x-amz-content-sha256", 20, s.content_sha256,
                                     strlen(s.content_sha256)};
    all[na++] = (zkp_sigv4_header_t){"authorization", 13, s.authorization, strlen(s.authorization)};
    zkp_auth_refusal_t why;
    int rc = decide(method, target, all, na, op, &why);
    const char *needed;
    int allowed = zkp_rights_allow(zkp_creds_find(creds, ak), op, (int)(na % 2), &needed);
    /* Signed by the signer, verified by the verifier: only the rights, an
     * unsigned fencing header or a query carrying its own authentication
     * can refuse it. */
    if (rc != 0 && why.code != NULL && strcmp(why.code, "SignatureDoesNotMatch") == 0 &&
        zkp_sigv4_query_auth_kind(query_of(target), strlen(query_of(target))) == 0)
        abort();
    if (rc == 0 && !allowed)
        abort(); /* accepted against the rights table */
    zkp_auth_refusal_free(&why);
    /* The signature tampered with: refused. */
    char *sig = strstr(s.authorization, "Signature=");
    if (sig != NULL && strlen(sig) > 10) {
        sig[10] = sig[10] == '0' ? '1' : '0';
        all[na - 1].value = s.authorization;
        if (decide(method, target, all, na, op, &why) == 0)
            abort();
        zkp_auth_refusal_free(&why);
    }
    zkp_sigv4_signed_clear(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (auth == NULL)
        setup();
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char *p = text;
    char *m = pt_next_line(&p), *t = pt_next_line(&p), *line;
    const char *method = m ? m : "GET", *target = t && *t == '/' ? t : "/bkt/k";
    zkp_sigv4_header_t h[32];
    size_t n = 0;
    while ((line = pt_next_line(&p)) != NULL && n < 32) {
        char *colon = strchr(line, ':');
        if (colon == NULL)
            continue;
        *colon = '\0';
        const char *v = colon + 1 + (colon[1] == ' ');
        h[n++] = (zkp_sigv4_header_t){line, strlen(line), v, strlen(v)};
    }
    zkp_request_in_t in = {.method = method, .target = target};
    zkp_op_t op;
    zkp_request_classify(&in, &op);
    zkp_auth_refusal_t why;
    if (decide(method, target, h, n, &op, &why) == 0) {
        /* Let through as given: no signature needed (health, metrics from
         * loopback), or a valid one (the fuzzer found a real signature?!) */
        const char *needed;
        if (!zkp_rights_allow(NULL, &op, (int)(n % 2), &needed)) {
            int has_auth = 0;
            for (size_t i = 0; i < n; i++)
                has_auth |= h[i].name_len == 13 && strncasecmp(h[i].name, "authorization", 13) == 0;
            if (!has_auth &&
                zkp_sigv4_query_auth_kind(query_of(target), strlen(query_of(target))) == 0)
                abort();
        }
    }
    zkp_auth_refusal_free(&why);
    signed_case(method, target, h, n, &op, size % 2 ? "AKADMIN" : "AKWRITER",
                size % 2 ? "fuzz-admin-secret-0123456789" : "fuzz-writer-secret-012345");
    zkp_op_free(&op);
    free(text);
    return 0;
}
