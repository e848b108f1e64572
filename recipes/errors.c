/* Error codes: the X-macro list in zkfence.h generates the enum and both
 * tables here, so names, values and texts never drift apart. */
#include <zookeeper/zookeeper.h>

#include "common.h"

const char *zkf_version(void)
{
    return ZKF_VERSION_STRING;
}

const char *zkf_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
#define ZKF_STRERROR_CASE(name, value, text)                                                       \
    case ZKF_##name:                                                                               \
        return text;
        ZKF_ERRNO_MAP(ZKF_STRERROR_CASE)
#undef ZKF_STRERROR_CASE
    default:
        return "unknown error";
    }
}

const char *zkf_err_name(int err)
{
    switch (err) {
    case 0:
        return "ZKF_OK";
#define ZKF_ERRNAME_CASE(name, value, text)                                                        \
    case ZKF_##name:                                                                               \
        return "ZKF_" #name;
        ZKF_ERRNO_MAP(ZKF_ERRNAME_CASE)
#undef ZKF_ERRNAME_CASE
    default:
        return "ZKF_UNKNOWN";
    }
}

int zkf__from_zk(int rc)
{
    switch (rc) {
    case ZOK:
        return 0;
    case ZCONNECTIONLOSS:
    case ZOPERATIONTIMEOUT:
        return ZKF_ECONNLOSS;
    case ZSESSIONEXPIRED:
    case ZINVALIDSTATE:
    case ZSESSIONMOVED:
        return ZKF_ESESSIONEXPIRED;
    case ZNOAUTH:
    case ZAUTHFAILED:
        return ZKF_ENOAUTH;
    case ZCLOSING:
        return ZKF_ECLOSED;
    case ZBADARGUMENTS:
        return ZKF_EINVAL;
    case ZSYSTEMERROR:
        return ZKF_ESYS;
    default:
        return ZKF_EZK;
    }
}
