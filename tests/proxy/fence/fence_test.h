/* Helpers shared by the fencing-core suites (header-only): scratch
 * directories, a monotonic clock and waiting on a condition with a
 * deadline. Kept apart from tests/support/zkf_test.h, which needs
 * libzkfence; these suites link only zkp_fence. */
#ifndef ZKP_FENCE_TEST_H
#define ZKP_FENCE_TEST_H

#include <CUnit/Basic.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fence.h"

static inline int64_t ft_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void ft_poll_interval(void)
{
    struct timespec ts = {0, 2000000L};
    nanosleep(&ts, NULL); /* the polling interval of FT_WAIT_UNTIL, not a wait */
}

/* Polls `cond` until it holds or `ms` pass; the value is the last value of
 * cond. For state that has no notification to wait on (the committer's
 * health probe). */
#define FT_WAIT_UNTIL(cond, ms)                                                                    \
    ({                                                                                             \
        int64_t ft_deadline_ = ft_now_ms() + (ms);                                                 \
        int ft_ok_;                                                                                \
        while (!(ft_ok_ = !!(cond)) && ft_now_ms() < ft_deadline_)                                 \
            ft_poll_interval();                                                                    \
        ft_ok_;                                                                                    \
    })

static inline int ft_under_valgrind(void)
{
    const char *v = getenv("ZKFENCE_UNDER_VALGRIND");
    return v != NULL && *v != '\0' && strcmp(v, "0") != 0;
}

/* A fresh scratch directory; the path is written to buf. */
static inline const char *ft_mkdtemp(char *buf, size_t len)
{
    const char *base = getenv("TMPDIR");
    snprintf(buf, len, "%s/zkp-fence-XXXXXX", base && *base ? base : "/tmp");
    if (mkdtemp(buf) == NULL) {
        perror("mkdtemp");
        exit(2);
    }
    return buf;
}

static inline int ft_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static inline void ft_rmtree(const char *dir)
{
    nftw(dir, ft_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* dir/name into buf. */
static inline const char *ft_path(char *buf, size_t len, const char *dir, const char *name)
{
    snprintf(buf, len, "%s/%s", dir, name);
    return buf;
}

static inline int ft_run_suite(void)
{
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}

#endif
