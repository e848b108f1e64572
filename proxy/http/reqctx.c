#include "http/reqctx.h"

#include <stdlib.h>
#include <string.h>

const char *zkp_req_header(const zkp_req_t *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

typedef struct header_walk {
    zkp_header_fn fn;
    void *arg;
} header_walk_t;

static enum MHD_Result each_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    header_walk_t *w = cls;
    (void)kind;
    return w->fn(w->arg, key, value) == 0 ? MHD_YES : MHD_NO;
}

void zkp_req_headers(const zkp_req_t *r, zkp_header_fn fn, void *arg)
{
    header_walk_t w = {fn, arg};
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, each_header, &w);
}

char *zkp_req_resource(const zkp_req_t *r)
{
    const char *t = r->target ? r->target : "/";
    return strndup(t, strcspn(t, "?"));
}

static int add_header(void *arg, const char *name, const char *value)
{
    zkp_req_headers_t *h = arg;
    if (h->n == h->cap) {
        size_t cap = h->cap * 2;
        zkp_sigv4_header_t *v = malloc(cap * sizeof(*v));
        if (v == NULL)
            return -1;
        memcpy(v, h->v, h->n * sizeof(*v));
        if (h->v != h->inline_)
            free(h->v);
        h->v = v;
        h->cap = cap;
    }
    zkp_sigv4_header_t *e = &h->v[h->n++];
    e->name = name;
    e->name_len = strlen(name);
    e->value = value ? value : "";
    e->value_len = value ? strlen(value) : 0;
    return 0;
}

int zkp_req_collect_headers(zkp_req_t *r)
{
    zkp_req_headers_t *h = &r->hdrs;
    h->v = h->inline_;
    h->n = 0;
    h->cap = ZKP_REQ_INLINE_HEADERS;
    zkp_req_headers(r, add_header, h);
    /* add_header stops the walk at its first failure: compare with the
     * count libmicrohttpd has (an iterator of NULL only counts). */
    int all = MHD_get_connection_values(r->conn, MHD_HEADER_KIND, NULL, NULL);
    return all >= 0 && (size_t)all == h->n ? 0 : -1;
}

void zkp_req_headers_free(zkp_req_t *r)
{
    if (r->hdrs.v != NULL && r->hdrs.v != r->hdrs.inline_)
        free(r->hdrs.v);
    r->hdrs.v = NULL;
    r->hdrs.n = r->hdrs.cap = 0;
}

int zkp_req_may_read(const zkp_req_t *r, const char *bucket)
{
    return r->auth.may_read == NULL || r->auth.may_read(r->auth.who, bucket);
}

void zkp_req_auth_end(zkp_req_auth_t *a)
{
    zkp_sigv4_body_clear(&a->sha);
    zkp_sigv4_chunks_clear(&a->chunks);
    if (a->release != NULL)
        a->release(a->ref);
    memset(a, 0, sizeof(*a));
}
