/* Tokens, lock names, the fencing rule and the error table: the pure parts
 * of the fencing core, with no state at all. */
#include "fence.h"

const char *zkp_fence_strerror(int rc)
{
    switch (rc) {
    case 0:
        return "success";
#define ZKP_FENCE_ERR_CASE_(name, value, text)                                                     \
    case value:                                                                                    \
        return text;
        ZKP_FENCE_ERRNO_MAP(ZKP_FENCE_ERR_CASE_)
#undef ZKP_FENCE_ERR_CASE_
    }
    return "unknown error";
}

int zkp_token_parse(const char *s, size_t len, uint64_t *out)
{
    /* One spelling per value: a leading zero is only allowed as "0" itself,
     * so two texts never name the same token (logs, caches and signatures
     * can compare tokens as strings). */
    if (s == NULL || out == NULL || len == 0 || len > ZKP_TOKEN_MAX_LEN)
        return -1;
    if (s[0] == '0' && len > 1)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned d = (unsigned char)s[i] - (unsigned)'0';
        if (d > 9)
            return -1;
        /* v * 10 + d <= UINT64_MAX, checked without overflowing. */
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int zkp_lock_name_valid(const char *s, size_t len)
{
    if (s == NULL || len == 0 || len > ZKP_LOCK_NAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x21 || c > 0x7e)
            return 0;
    }
    return 1;
}

zkp_verdict_t zkp_fence_decide(int has_mark, uint64_t mark, uint64_t token)
{
    if (!has_mark || token > mark)
        return ZKP_VERDICT_ACCEPT_HIGHER;
    if (token == mark)
        return ZKP_VERDICT_ACCEPT_EQUAL;
    return ZKP_VERDICT_REJECT_STALE;
}

const char *zkp_verdict_name(zkp_verdict_t v)
{
    switch (v) {
    case ZKP_VERDICT_ACCEPT_HIGHER:
        return "accepted_higher";
    case ZKP_VERDICT_ACCEPT_EQUAL:
        return "accepted_equal";
    case ZKP_VERDICT_REJECT_STALE:
        return "rejected_stale";
    case ZKP_VERDICT_REJECT_MISSING:
        return "rejected_missing";
    case ZKP_VERDICT_REJECT_UNAVAILABLE:
        return "rejected_unavailable";
    case ZKP_VERDICT_REJECT_INVALID:
        return "rejected_invalid";
    case ZKP_VERDICT_REJECT_PRECONDITION:
        return "rejected_precondition";
    case ZKP_VERDICT_COUNT_:
        break;
    }
    return "unknown";
}
