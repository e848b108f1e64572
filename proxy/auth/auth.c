#include "auth/auth.h"

int zkp_auth_check(const zkp_req_t *r, zkp_auth_refusal_t *why)
{
    /* No verification yet: every request proceeds, as before this seam. */
    (void)r;
    (void)why;
    return 0;
}

int zkp_auth_may_fence_advance(const zkp_req_t *r, const char *lock, zkp_auth_refusal_t *why)
{
    /* No identities, so no rights to check yet: every sender may advance
     * any lock's fence, as every sender may write under any lock. */
    (void)r;
    (void)lock;
    (void)why;
    return 0;
}

int zkp_auth_may_delete_bound_bucket(const zkp_req_t *r, const char *bucket,
                                     zkp_auth_refusal_t *why)
{
    /* No identities: whoever may delete a bucket today may delete this one. */
    (void)r;
    (void)bucket;
    (void)why;
    return 0;
}

int zkp_auth_may_repair_marks(const zkp_req_t *r, const char *lock, zkp_auth_refusal_t *why)
{
    /* No identities: every sender is the admin, as for /_zkfence/marks. */
    (void)r;
    (void)lock;
    (void)why;
    return 0;
}

const char *zkp_auth_identity(const zkp_req_t *r)
{
    (void)r;
    return NULL; /* anonymous: no request is authenticated yet */
}
