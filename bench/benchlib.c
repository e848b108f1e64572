/* bench/benchlib: see benchlib.h. */
#include "benchlib.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void die(const char *what)
{
    fprintf(stderr, "%s: %s\n", program_invocation_short_name, what);
    exit(1);
}

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double now_s(void)
{
    return clock_s(CLOCK_MONOTONIC);
}

/* Wall-clock time, for --windows (packet captures carry wall-clock stamps). */
double wall_s(void)
{
    return clock_s(CLOCK_REALTIME);
}

void pause_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double median(const double *v, int n)
{
    double s[BENCH_MAX_ROUNDS];
    memcpy(s, v, sizeof(double) * (size_t)n);
    qsort(s, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

double pct(double *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof(double), cmp_double);
    size_t i = (size_t)ceil(p / 100.0 * (double)n);
    return v[i == 0 ? 0 : i > n ? n - 1 : i - 1];
}

zkf_client_t *bench_client(const char *hosts, int session_ms)
{
    zkf_client_options_t co;
    zkf_client_options_init(&co);
    co.hosts = hosts;
    co.session_timeout_ms = session_ms;
    co.zk_log_level = 0;
    zkf_client_t *c = NULL;
    if (zkf_client_connect(&co, &c) != 0) {
        fprintf(stderr, "%s: cannot connect to %s\n", program_invocation_short_name, hosts);
        exit(69);
    }
    return c;
}

peer_t *peer_start(const char *peer_cmd, const char *hosts, int session_ms)
{
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0)
        die("pipe failed");
    size_t len = strlen(peer_cmd) + sizeof("exec  \"$@\"");
    char *cmd = malloc(len), ms[16];
    if (cmd == NULL)
        die("out of memory");
    snprintf(cmd, len, "exec %s \"$@\"", peer_cmd);
    snprintf(ms, sizeof(ms), "%d", session_ms);
    pid_t pid = fork();
    if (pid == 0) {
        if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0)
            _exit(127);
        execl("/bin/sh", "sh", "-c", cmd, "sh", "--zk", hosts, "--session-ms", ms, (char *)NULL);
        _exit(127);
    }
    if (pid < 0)
        die("fork failed");
    free(cmd);
    close(in[0]);
    close(out[1]);
    peer_t *p = calloc(1, sizeof(*p));
    if (p == NULL || (p->to = fdopen(in[1], "w")) == NULL ||
        (p->from = fdopen(out[0], "r")) == NULL)
        die("cannot talk to the peer");
    p->pid = pid;
    char line[256];
    if (fgets(line, sizeof(line), p->from) == NULL || strcmp(line, "ready\n") != 0)
        die("peer: did not start (no \"ready\")");
    return p;
}

void peer_call(peer_t *p, double *v, int n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int bad = vfprintf(p->to, fmt, ap) < 0;
    va_end(ap);
    if (bad || fputc('\n', p->to) == EOF || fflush(p->to) != 0)
        die("peer: cannot send it a command (did it exit?)");
    char line[1024];
    if (fgets(line, sizeof(line), p->from) == NULL)
        die("peer: no answer (did it exit?)");
    if (strncmp(line, "ok ", 3) != 0) {
        fprintf(stderr, "%s: peer: %s", program_invocation_short_name, line);
        exit(1);
    }
    char *s = line + 3, *end;
    for (int k = 0; k < n; k++, s = end) {
        v[k] = strtod(s, &end);
        if (end == s)
            die("peer: short answer");
    }
}

void peer_stop(peer_t *p)
{
    int st;
    fclose(p->to); /* the end of its input: it exits */
    if (waitpid(p->pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        die("peer: failed at exit");
    fclose(p->from);
    free(p);
}
