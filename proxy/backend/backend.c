/* Helpers shared by every backend: ownership of object metadata and of
 * the results of listings. */
#include "backend/backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

void zkp_list_result_free(zkp_list_result_t *res)
{
    for (size_t i = 0; i < res->n; i++)
        free(res->items[i].name);
    free(res->items);
    free(res->next);
    memset(res, 0, sizeof(*res));
}

void zkp_part_list_free(zkp_part_list_t *l)
{
    free(l->parts);
    memset(l, 0, sizeof(*l));
}

void zkp_upload_list_result_free(zkp_upload_list_result_t *res)
{
    for (size_t i = 0; i < res->n; i++) {
        free(res->items[i].key);
        free(res->items[i].upload_id);
    }
    free(res->items);
    free(res->next_key);
    free(res->next_upload_id);
    memset(res, 0, sizeof(*res));
}

/* One per thread, as errno: the detail of the last refusal a remote
 * backend reported on this thread. */
static __thread zkp_be_detail_t detail;

const zkp_be_detail_t *zkp_be_detail(void)
{
    return &detail;
}

int zkp_be_fail(int rc, int status, const char *code, const char *msg)
{
    detail.status = status;
    snprintf(detail.code, sizeof(detail.code), "%s", code ? code : "");
    snprintf(detail.message, sizeof(detail.message), "%s", msg ? msg : "");
    return rc;
}
