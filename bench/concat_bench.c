/* concat_bench: concatenates files into one and fsyncs it, the way a
 * multipart completion assembles its object, and prints how long it took.
 * The baselines of bench/mpu_complete:
 *   --mode rw    through a 1 MiB buffer in user space (read, write)
 *   --mode cfr   in the kernel (copy_file_range), the proxy's primitive
 * The proxy's part files carry a head of some 80 bytes before their body;
 * copied whole here, that is 0.001% more bytes.
 *
 *   concat_bench --mode rw|cfr [--no-fsync] --out FILE PART...
 * prints: concat mode=rw bytes=N seconds=S mib_s=R
 * (--no-fsync: as the proxy with object_fsync off, the file is not synced) */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int copy_rw(int in, off_t off, int out, size_t len, char *buf, size_t cap)
{
    while (len > 0) {
        size_t want = len < cap ? len : cap;
        ssize_t n = pread(in, buf, want, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        for (ssize_t done = 0; done < n;) {
            ssize_t w = write(out, buf + done, (size_t)(n - done));
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                return -1;
            done += w;
        }
        off += n;
        len -= (size_t)n;
    }
    return 0;
}

static int copy_cfr(int in, off_t off, int out, size_t len)
{
    loff_t i = off;
    while (len > 0) {
        ssize_t n = copy_file_range(in, &i, out, NULL, len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        len -= (size_t)n;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = NULL, *outp = NULL;
    int sync = 1;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--mode") && i + 1 < argc)
            mode = argv[++i];
        else if (!strcmp(argv[i], "--out") && i + 1 < argc)
            outp = argv[++i];
        else if (!strcmp(argv[i], "--no-fsync"))
            sync = 0;
        else
            break;
    }
    if (mode == NULL || outp == NULL || i >= argc ||
        (strcmp(mode, "rw") != 0 && strcmp(mode, "cfr") != 0)) {
        fprintf(stderr, "usage: concat_bench --mode rw|cfr [--no-fsync] --out FILE PART...\n");
        return 64;
    }
    size_t cap = 1 << 20;
    char *buf = malloc(cap);
    int out = open(outp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (buf == NULL || out < 0) {
        perror(outp);
        return 1;
    }
    double t0 = now();
    unsigned long long total = 0;
    for (; i < argc; i++) {
        int in = open(argv[i], O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (in < 0 || fstat(in, &st) != 0) {
            perror(argv[i]);
            return 1;
        }
        size_t len = (size_t)st.st_size;
        int rc = mode[0] == 'r' ? copy_rw(in, 0, out, len, buf, cap) : copy_cfr(in, 0, out, len);
        close(in);
        if (rc != 0) {
            perror("copy");
            return 1;
        }
        total += len;
    }
    if (sync && fsync(out) != 0) {
        perror("fsync");
        return 1;
    }
    double s = now() - t0;
    close(out);
    free(buf);
    printf("concat mode=%s bytes=%llu seconds=%.3f mib_s=%.1f\n", mode, total, s,
           (double)total / 1048576.0 / s);
    return 0;
}
