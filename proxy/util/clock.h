/* The monotonic clock, for request latencies and deadlines. */
#ifndef ZKP_CLOCK_H
#define ZKP_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Microseconds on CLOCK_MONOTONIC (never jumps with the wall clock). */
static inline uint64_t zkp_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

#endif
