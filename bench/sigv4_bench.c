/* The CPU cost of authenticating one request as zkfence-proxy does it:
 * zkp_auth_decide() (proxy/auth) on the GET of bench/run's row
 * proxy.auth.get4k (bench/proxy/s3.lua: Host, x-amz-date and
 * x-amz-content-sha256 signed in the Authorization header form, no body),
 * then zkp_req_auth_end(), as the HTTP server calls them. The request is
 * signed once, like wrk's; its verification (signature, clock, scope), the
 * rights check and the body-check set-up run every time.
 *
 *   sigv4_bench [-n REQUESTS] [-r ROUNDS] [-t THREADS]
 *
 * Prints the median over ROUNDS of the CPU ns per request (per thread: with
 * THREADS > 1 the threads verify at once, as the proxy's event loops do,
 * and contend for whatever the verifier shares). A benchmark, not a test:
 * it checks only that every request is accepted. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth/auth.h"
#include "http/request.h"
#include "util/config.h"

#define AK "AKBENCH0000000000001"
#define SK "bench-secret-0123456789abcdefghijklmnopqrstu"
#define HOST "127.0.0.1:9000"
#define PATH "/bget/get4k/k123"
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

typedef struct job {
    zkp_auth_t *auth;
    const zkp_auth_input_t *in;
    long n;
    double ns; /* per request, out */
    int failed;
} job_t;

/* The thread's CPU time: on a busy machine, wall time would count the
 * time other processes ran. */
static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void *run(void *arg)
{
    job_t *j = arg;
    double t0 = now_ns();
    for (long i = 0; i < j->n; i++) {
        zkp_req_auth_t out;
        zkp_auth_refusal_t why;
        if (zkp_auth_decide(j->auth, j->in, &out, &why) != 0) {
            fprintf(stderr, "sigv4_bench: refused: %d %s %s\n", why.status, why.code, why.msg);
            zkp_auth_refusal_free(&why);
            j->failed = 1;
            return NULL;
        }
        zkp_req_auth_end(&out);
    }
    j->ns = (now_ns() - t0) / (double)j->n;
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* A credentials file like bench/run's, mode 0600; its path in path. */
static int write_creds(char *path)
{
    static const char text[] = "key " AK " " SK "\n"
                               "grant " AK " * admin\n"
                               "key AKOTHER000000000001 other-secret-0123456789abcdef\n"
                               "grant AKOTHER000000000001 bget read\n";
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    int ok = write(fd, text, sizeof(text) - 1) == (ssize_t)(sizeof(text) - 1);
    close(fd);
    return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
    long n = 200000;
    int rounds = 5, threads = 1, c;
    while ((c = getopt(argc, argv, "n:r:t:")) != -1) {
        if (c == 'n')
            n = atol(optarg);
        else if (c == 'r')
            rounds = atoi(optarg);
        else if (c == 't')
            threads = atoi(optarg);
        else
            return 2;
    }
    if (n < 1 || rounds < 1 || rounds > 99 || threads < 1 || threads > 64) {
        fprintf(stderr, "usage: sigv4_bench [-n REQUESTS] [-r ROUNDS 1..99] [-t THREADS 1..64]\n");
        return 2;
    }

    char path[] = "/tmp/zkf-sigv4-bench.XXXXXX";
    if (write_creds(path) != 0) {
        perror("sigv4_bench: credentials file");
        return 1;
    }
    zkp_config_t cfg;
    zkp_config_defaults(&cfg);
    cfg.credentials = strdup(path);
    char err[512];
    zkp_auth_t *auth;
    int rc = zkp_auth_open(&cfg, &auth, err, sizeof(err));
    unlink(path);
    zkp_config_free(&cfg);
    if (rc != 0) {
        fprintf(stderr, "sigv4_bench: %s\n", err);
        return 1;
    }

    /* Signed once, as s3.lua signs its GETs when wrk starts. */
    time_t when = time(NULL);
    zkp_sigv4_header_t host = {"host", 4, HOST, strlen(HOST)};
    zkp_sigv4_creds_t creds = {AK, SK, "us-east-1", NULL};
    zkp_sigv4_sign_req_t sr = {.method = "GET",
                               .path = PATH,
                               .headers = &host,
                               .n_headers = 1,
                               .payload_hash = EMPTY_SHA256,
                               .when = when};
    zkp_sigv4_signed_t s;
    if (zkp_sigv4_sign(&creds, &sr, &s) != 0) {
        fprintf(stderr, "sigv4_bench: cannot sign\n");
        return 1;
    }
    /* The headers as libmicrohttpd hands them over, in wrk's order. */
    zkp_sigv4_header_t h[] = {
        {"Host", 4, HOST, strlen(HOST)},
        {"x-amz-date", 10, s.amz_date, strlen(s.amz_date)},
        {"x-amz-content-sha256", 20, s.content_sha256, strlen(s.content_sha256)},
        {"Authorization", 13, s.authorization, strlen(s.authorization)},
    };
    zkp_request_in_t rin = {.method = "GET", .target = PATH};
    zkp_op_t op;
    zkp_request_classify(&rin, &op);
    zkp_auth_input_t in = {
        .method = "GET",
        .target = PATH,
        .target_len = strlen(PATH),
        .headers = h,
        .n_headers = sizeof(h) / sizeof(h[0]),
        .now = when,
        .peer_loopback = 1,
        .op = &op,
    };

    double per[99];
    int failed = 0;
    for (int r = 0; r < rounds && !failed; r++) {
        job_t jobs[64];
        pthread_t tid[64];
        for (int t = 0; t < threads; t++) {
            jobs[t] = (job_t){.auth = auth, .in = &in, .n = n};
            pthread_create(&tid[t], NULL, run, &jobs[t]);
        }
        double sum = 0;
        for (int t = 0; t < threads; t++) {
            pthread_join(tid[t], NULL);
            failed |= jobs[t].failed;
            sum += jobs[t].ns;
        }
        per[r] = sum / threads;
    }
    zkp_op_free(&op);
    zkp_sigv4_signed_clear(&s);
    zkp_auth_close(auth);
    if (failed)
        return 1;
    qsort(per, (size_t)rounds, sizeof(per[0]), cmp_double);
    printf("auth.decide.get: %.0f CPU ns/request (median of %d rounds of %ld, %d thread%s; "
           "min %.0f, max %.0f)\n",
           per[rounds / 2], rounds, n, threads, threads == 1 ? "" : "s", per[0], per[rounds - 1]);
    return 0;
}
