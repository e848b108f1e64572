/* A stand-in for libFuzzer when the compiler is not clang: feeds the target a
 * deterministic stream of pseudo-random and mutated inputs for a bounded
 * time. It finds far less than libFuzzer, but it keeps every target compiled
 * and exercised (under ASan/UBSan and valgrind too) by every build. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
    /* xorshift64*: reproducible across runs. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    double budget = argc > 1 ? atof(argv[1]) : 5.0;
    static const char alphabet[] = "0123456789 \t\r\n:/?&=%-+xX.AZaz\"<>\\";
    uint8_t buf[4096];
    size_t len = 0;
    unsigned long runs = 0;
    double end = now_s() + budget;

    while (now_s() < end) {
        for (int i = 0; i < 256; i++, runs++) {
            uint64_t r = rng();
            switch (r % 4) {
            case 0: /* fresh random bytes */
                len = (size_t)(rng() % sizeof(buf));
                for (size_t j = 0; j < len; j++)
                    buf[j] = (uint8_t)rng();
                break;
            case 1: /* fresh text from a protocol-ish alphabet */
                len = (size_t)(rng() % 512);
                for (size_t j = 0; j < len; j++)
                    buf[j] = (uint8_t)alphabet[rng() % (sizeof(alphabet) - 1)];
                break;
            default: /* mutate the previous input in place */
                if (len == 0)
                    len = 1;
                buf[rng() % len] = (uint8_t)rng();
                if (r % 8 == 2 && len < sizeof(buf))
                    len++;
                break;
            }
            LLVMFuzzerTestOneInput(buf, len);
        }
    }
    printf("driver: %lu inputs in %.0f s, no crash\n", runs, budget);
    return 0;
}
