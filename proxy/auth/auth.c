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
