#include "util/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int zkp_mkdir_p(const char *path)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(tmp, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

int zkp_read_private_file(const char *path, const char *what, size_t max_len, char **text,
                          size_t *len, char *err, size_t errlen)
{
    *text = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
        return -1;
    }
    /* The mode of what was opened, not of the name: no window between the
     * check and the read. */
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s %s: not a regular file", what, path);
        close(fd);
        return -1;
    }
    if ((st.st_mode & 077) != 0) {
        snprintf(err, errlen,
                 "%s %s has mode %04o: it holds secrets and must be accessible by its owner only "
                 "(chmod 600 %s)",
                 what, path, (unsigned)(st.st_mode & 07777), path);
        close(fd);
        return -1;
    }
    if ((uint64_t)st.st_size > max_len) {
        snprintf(err, errlen, "%s %s: larger than %zu bytes", what, path, max_len);
        close(fd);
        return -1;
    }
    size_t cap = (size_t)st.st_size + 1, n = 0;
    char *buf = malloc(cap);
    while (buf != NULL) {
        if (n + 1 >= cap) { /* the file grew while read: bounded all the same */
            if (cap > max_len) {
                snprintf(err, errlen, "%s %s: larger than %zu bytes", what, path, max_len);
                break;
            }
            char *nb = realloc(buf, cap * 2);
            if (nb == NULL)
                break;
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
            break;
        }
        if (r == 0) {
            buf[n] = '\0';
            close(fd);
            *text = buf;
            *len = n;
            return 0;
        }
        n += (size_t)r;
    }
    if (buf == NULL)
        snprintf(err, errlen, "%s %s: out of memory", what, path);
    if (buf != NULL) {
        explicit_bzero(buf, cap);
        free(buf);
    }
    close(fd);
    return -1;
}
