/* The tests' shared assertion macro, counters and random numbers.
 * CHECK(cond, fmt, ...) counts a pass or prints a failure; check_summary()
 * prints "N passed, M failed" and returns the exit status. */
#ifndef ARG_TESTS_CHECK_H
#define ARG_TESTS_CHECK_H

#include <stdint.h>
#include <stdio.h>

static int n_pass, n_fail;

#define CHECK(cond, ...)                                \
    do {                                                \
        if (cond) {                                     \
            n_pass++;                                   \
        } else {                                        \
            n_fail++;                                   \
            printf("FAIL %s:%d: ", __FILE__, __LINE__); \
            printf(__VA_ARGS__);                        \
            printf("\n");                               \
        }                                               \
    } while (0)

static inline int check_summary(void)
{
    printf("%d passed, %d failed\n", n_pass, n_fail);
    return n_fail != 0;
}

/* xorshift64: reproducible test data */
static uint64_t check_rng = 0x9E3779B97F4A7C15ull;
static inline uint32_t rnd(void)
{
    check_rng ^= check_rng << 13;
    check_rng ^= check_rng >> 7;
    check_rng ^= check_rng << 17;
    return (uint32_t)(check_rng >> 11);
}

#endif
