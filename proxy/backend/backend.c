/* Helpers shared by every backend: object metadata ownership, directory
 * creation. */
#include "backend/backend.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

void zkp_obj_meta_free(zkp_obj_meta_t *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->nheaders; i++) {
        free(m->headers[i].name);
        free(m->headers[i].value);
    }
    free(m->headers);
    free(m->fence_lock);
    memset(m, 0, sizeof(*m));
}

int zkp_obj_meta_add(zkp_obj_meta_t *m, const char *name, const char *value)
{
    zkp_header_t *h = realloc(m->headers, (m->nheaders + 1) * sizeof(*h));
    if (h == NULL)
        return -1;
    m->headers = h;
    char *n = strdup(name);
    char *v = strdup(value);
    if (n == NULL || v == NULL) {
        free(n);
        free(v);
        return -1;
    }
    h[m->nheaders].name = n;
    h[m->nheaders].value = v;
    m->nheaders++;
    return 0;
}

int zkp_obj_meta_copy(zkp_obj_meta_t *dst, const zkp_obj_meta_t *src)
{
    memset(dst, 0, sizeof(*dst));
    dst->size = src->size;
    dst->mtime = src->mtime;
    memcpy(dst->etag, src->etag, sizeof(dst->etag));
    dst->fence_token = src->fence_token;
    if (src->fence_lock != NULL && (dst->fence_lock = strdup(src->fence_lock)) == NULL)
        goto oom;
    for (size_t i = 0; i < src->nheaders; i++)
        if (zkp_obj_meta_add(dst, src->headers[i].name, src->headers[i].value) != 0)
            goto oom;
    return 0;
oom:
    zkp_obj_meta_free(dst);
    return -1;
}
