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
