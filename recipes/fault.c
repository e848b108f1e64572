/* Allocation fault injection for white-box tests (see internal.h). Only the
 * zkfence_internal archive is built with it; the shipped library allocates
 * through libc directly. The countdown is per thread, so a test that makes
 * its own call fail does not hit the event or completion threads. */
#include <stdlib.h>
#include <string.h>

#include "common.h"

static _Thread_local int fail_after = -1;

static int should_fail(void)
{
    if (fail_after < 0)
        return 0;
    if (fail_after-- > 0)
        return 0;
    return 1; /* fail_after is -1 again: the fault fires once */
}

void zkf__fail_alloc_after(int n)
{
    fail_after = n < 0 ? -1 : n;
}

void *zkf__malloc(size_t size)
{
    return should_fail() ? NULL : malloc(size);
}

void *zkf__calloc(size_t n, size_t size)
{
    return should_fail() ? NULL : calloc(n, size);
}

char *zkf__strdup(const char *s)
{
    return should_fail() ? NULL : strdup(s);
}
