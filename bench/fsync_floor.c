/* bench/fsync_floor: the durable-write floor of the disk under DIR.
 *
 * One thread, one file at a time, the way a naive durable store writes an
 * object: write SIZE bytes to a temporary file, fsync it, rename it into
 * place, fsync the directory. Every file gets a new name (the run's own
 * prefix), and nothing is deleted: on these machines deleting many files
 * makes later creates slow for about 30 s, which would distort whatever is
 * measured next.
 *
 * Output, one line:
 *   fsync-floor RATE files/s p50_ms=.. p99_ms=.. files=N size=SIZE
 *
 * Usage: fsync_floor DIR SECONDS [SIZE] */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *sorted, size_t n, double p)
{
    if (n == 0)
        return 0;
    size_t i = (size_t)ceil(p / 100.0 * (double)n);
    return sorted[i == 0 ? 0 : i > n ? n - 1 : i - 1];
}

static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* One durable file: temp, fsync, rename, fsync(dir). */
static int durable_file(int dirfd, const char *tmp, const char *name, const char *buf, size_t size)
{
    int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    if (write_all(fd, buf, size) != 0 || fsync(fd) != 0) {
        close(fd);
        return -1;
    }
    if (close(fd) != 0 || renameat(dirfd, tmp, dirfd, name) != 0 || fsync(dirfd) != 0)
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: fsync_floor DIR SECONDS [SIZE]\n");
        return 64;
    }
    const char *dir = argv[1];
    double seconds = atof(argv[2]);
    size_t size = argc == 4 ? (size_t)strtoul(argv[3], NULL, 10) : 4096;
    if (seconds <= 0 || size == 0 || size > (64u << 20)) {
        fprintf(stderr, "fsync_floor: SECONDS must be > 0 and SIZE in 1..64M\n");
        return 64;
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "fsync_floor: mkdir %s: %s\n", dir, strerror(errno));
        return 1;
    }
    int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    char *buf = malloc(size);
    size_t cap = 1 << 16, n = 0;
    double *lat = malloc(cap * sizeof(*lat));
    if (dirfd < 0 || buf == NULL || lat == NULL) {
        fprintf(stderr, "fsync_floor: %s: %s\n", dir, strerror(errno));
        return 1;
    }
    for (size_t i = 0; i < size; i++)
        buf[i] = (char)('a' + (i * 7 + 3) % 26);
    char tmp[64], name[64];
    snprintf(tmp, sizeof(tmp), ".tmp-%d", (int)getpid());
    double t0 = now_s(), t = t0;
    while (t - t0 < seconds) {
        snprintf(name, sizeof(name), "f-%d-%zu", (int)getpid(), n);
        if (durable_file(dirfd, tmp, name, buf, size) != 0) {
            fprintf(stderr, "fsync_floor: %s/%s: %s\n", dir, name, strerror(errno));
            return 1;
        }
        double t1 = now_s();
        if (n == cap) {
            cap *= 2;
            double *grown = realloc(lat, cap * sizeof(*lat));
            if (grown == NULL)
                return 1;
            lat = grown;
        }
        lat[n++] = (t1 - t) * 1000;
        t = t1;
    }
    qsort(lat, n, sizeof(*lat), cmp_double);
    printf("fsync-floor %.1f files/s p50_ms=%.3f p99_ms=%.3f files=%zu size=%zu\n",
           (double)n / (t - t0), pct(lat, n, 50), pct(lat, n, 99), n, size);
    free(lat);
    free(buf);
    close(dirfd);
    return 0;
}
