/* The error table of the SigV4 module, generated from ZKP_SIGV4_ERRNO_MAP so
 * that codes, statuses and messages cannot drift from the enum. */
#include "sigv4.h"

zkp_sigv4_error_info_t zkp_sigv4_error(int rc)
{
    zkp_sigv4_error_info_t e = {"InternalError", 500, "unknown error"};
    switch (rc) {
    case 0:
        e.code = "OK";
        e.status = 200;
        e.message = "success";
        break;
#define ZKP_SIGV4_ERR_CASE_(name, value, c, st, text)                                              \
    case ZKP_SIGV4_##name:                                                                         \
        e.code = c;                                                                                \
        e.status = st;                                                                             \
        e.message = text;                                                                          \
        break;
        ZKP_SIGV4_ERRNO_MAP(ZKP_SIGV4_ERR_CASE_)
#undef ZKP_SIGV4_ERR_CASE_
    default:
        break;
    }
    return e;
}

const char *zkp_sigv4_err_name(int rc)
{
    switch (rc) {
    case 0:
        return "ZKP_SIGV4_OK";
#define ZKP_SIGV4_ERR_NAME_(name, value, c, st, text)                                              \
    case ZKP_SIGV4_##name:                                                                         \
        return "ZKP_SIGV4_" #name;
        ZKP_SIGV4_ERRNO_MAP(ZKP_SIGV4_ERR_NAME_)
#undef ZKP_SIGV4_ERR_NAME_
    default:
        return "unknown";
    }
}
