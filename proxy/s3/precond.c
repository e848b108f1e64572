/* Conditional requests: the headers and the answers (see precond.h); the
 * checks themselves are backend/cond.c, run by the operation on its
 * snapshot (reads) or by the backend in its commit (writes). */
#include "s3/precond.h"

#include <string.h>

#include "http/respond.h"

void zkp_precond_read(const zkp_req_t *r, zkp_cond_t *c)
{
    c->if_match = zkp_req_header(r, "If-Match");
    c->if_none_match = zkp_req_header(r, "If-None-Match");
    c->if_modified_since = zkp_req_header(r, "If-Modified-Since");
    c->if_unmodified_since = zkp_req_header(r, "If-Unmodified-Since");
}

void zkp_precond_write(const zkp_req_t *r, zkp_cond_t *c)
{
    memset(c, 0, sizeof(*c));
    c->if_match = zkp_req_header(r, "If-Match");
    c->if_none_match = zkp_req_header(r, "If-None-Match");
}

void zkp_precond_copy_source(const zkp_req_t *r, zkp_cond_t *c)
{
    c->if_match = zkp_req_header(r, "x-amz-copy-source-if-match");
    c->if_none_match = zkp_req_header(r, "x-amz-copy-source-if-none-match");
    c->if_modified_since = zkp_req_header(r, "x-amz-copy-source-if-modified-since");
    c->if_unmodified_since = zkp_req_header(r, "x-amz-copy-source-if-unmodified-since");
}

/* "*", spaces around it allowed. */
static int is_star(const char *v)
{
    v += strspn(v, " \t");
    if (*v++ != '*')
        return 0;
    return v[strspn(v, " \t")] == '\0';
}

int zkp_precond_write_start(zkp_req_t *r, enum MHD_Result *res)
{
    const char *inm = zkp_req_header(r, "If-None-Match");
    if (inm == NULL || is_star(inm))
        return 0;
    zkp_xml_extra_t extra[] = {{"Header", "If-None-Match"}};
    *res = zkp_respond_error_x(r, 501, "NotImplemented",
                               "A header you provided implies functionality that is not "
                               "implemented: a write's If-None-Match takes only '*'",
                               extra, 1);
    return -1;
}

enum MHD_Result zkp_precond_failed(zkp_req_t *r, const char *condition)
{
    zkp_xml_extra_t extra[] = {{"Condition", condition}};
    return zkp_respond_error_x(r, 412, "PreconditionFailed",
                               "At least one of the pre-conditions you specified did not hold",
                               extra, condition != NULL ? 1 : 0);
}
