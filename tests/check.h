/* The tests' shared assertion macro, counters, random numbers, relative error
 * and a clock.
 * CHECK(cond, fmt, ...) counts a pass or prints a failure; check_summary()
 * prints "N passed, M failed" and returns the exit status. */
#ifndef ARG_TESTS_CHECK_H
#define ARG_TESTS_CHECK_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

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

/* uniform in [-1, 1) */
static inline float frand(void)
{
    return (float)((rnd() & 0xFFFFFF) / 8388608.0 - 1.0);
}

/* uniform integer in [lo, hi] */
static inline int irand(int lo, int hi)
{
    return lo + (int)(rnd() % (uint32_t)(hi - lo + 1));
}

/* n random floats (free() them); exits on allocation failure */
static inline float *rand_buf(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof(float));
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    for (size_t i = 0; i < n; i++)
        p[i] = frand();
    return p;
}

/* max |a-b| / max |b| (infinite when a holds a NaN) */
static inline double rel_err(const float *a, const float *b, size_t n)
{
    double md = 0, mb = 1e-30;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (d > md || d != d)
            md = d != d ? INFINITY : d;
        if (fabs(b[i]) > mb)
            mb = fabs(b[i]);
    }
    return md / mb;
}

/* monotonic seconds */
static inline double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

#endif
