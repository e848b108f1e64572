#include "auth/auth.h"

int zkp_auth_check(const zkp_req_t *r, zkp_auth_refusal_t *why)
{
    /* No verification yet: every request proceeds, as before this seam. */
    (void)r;
    (void)why;
    return 0;
}
