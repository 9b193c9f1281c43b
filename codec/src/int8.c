/* The int8 convolution path (ARG_GEMM_INT8, decoder only): weights are
 * quantised per output channel, symmetric, to int8 (conv_pack); the input
 * frames of one convolution call to u8 with one scale and zero point; the
 * products accumulate exactly in int32 (AVX-512 VNNI vpdpbusd, AVX2
 * vpmaddwd, or plain C: all give the same integers, so the path gives the
 * same pixels on every CPU); then out = (acc - zp * sum_k w) * sw * sa + bias.
 * Tolerance and measured PSNR against the float path: spec/precision.md. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define ARG_X86_DISPATCH 1
#include <immintrin.h>
#endif

#define MR8 ARG_MR8
#define NR8 ARG_NR8
#define COL8_BUDGET (192 * 1024) /* bytes per im2col panel */

/* ------------------------------------------------------------ microkernels */

void micro8_c(int K4, const int8_t *a, const uint8_t *const *brow, ptrdiff_t off, int32_t *c)
{
    int32_t acc[MR8][NR8];
    memset(acc, 0, sizeof(acc));
    for (int k = 0; k < K4; k++) {
        const int8_t *ak = a + (size_t)k * MR8 * 4;
        const uint8_t *bk = brow[k] + off;
        for (int m = 0; m < MR8; m++) {
            const int32_t w0 = ak[m * 4], w1 = ak[m * 4 + 1], w2 = ak[m * 4 + 2], w3 = ak[m * 4 + 3];
            for (int x = 0; x < NR8; x++)
                acc[m][x] += w0 * bk[x * 4] + w1 * bk[x * 4 + 1] + w2 * bk[x * 4 + 2] + w3 * bk[x * 4 + 3];
        }
    }
    memcpy(c, acc, sizeof(acc));
}

#ifdef ARG_X86_DISPATCH
/* 12 rows x 32 pixels: 24 zmm accumulators, two loads of 16 pixels x 4
 * bytes per k4, the weights broadcast from memory. */
__attribute__((target("avx512f,avx512bw,avx512vnni"))) static void
micro8_vnni(int K4, const int8_t *a, const uint8_t *const *brow, ptrdiff_t off, int32_t *c)
{
    __m512i c0[MR8], c1[MR8];
#pragma GCC unroll 12
    for (int m = 0; m < MR8; m++) {
        c0[m] = _mm512_setzero_si512();
        c1[m] = _mm512_setzero_si512();
    }
    for (int k = 0; k < K4; k++) {
        const uint8_t *bk = brow[k] + off;
        const int8_t *ak = a + (size_t)k * MR8 * 4;
        __m512i b0 = _mm512_loadu_si512((const void *)bk);
        __m512i b1 = _mm512_loadu_si512((const void *)(bk + 64));
#pragma GCC unroll 12
        for (int m = 0; m < MR8; m++) {
            int32_t wv;
            memcpy(&wv, ak + m * 4, 4);
            __m512i w = _mm512_set1_epi32(wv);
            c0[m] = _mm512_dpbusd_epi32(c0[m], b0, w);
            c1[m] = _mm512_dpbusd_epi32(c1[m], b1, w);
        }
    }
#pragma GCC unroll 12
    for (int m = 0; m < MR8; m++) {
        _mm512_storeu_si512((void *)(c + m * NR8), c0[m]);
        _mm512_storeu_si512((void *)(c + m * NR8 + 16), c1[m]);
    }
}

/* AVX2 has no exact u8 x s8 dot product (vpmaddubsw saturates at int16), so
 * widen to int16 and use vpmaddwd: per 4 rows x 8 pixels, accumulators hold
 * pair sums that one hadd folds at the end. */
__attribute__((target("avx2"))) static void micro8_avx2(int K4, const int8_t *a,
                                                        const uint8_t *const *brow, ptrdiff_t off, int32_t *c)
{
    for (int m0 = 0; m0 < MR8; m0 += 4)
        for (int x0 = 0; x0 < NR8; x0 += 8) {
            __m256i lo[4], hi[4];
            for (int r = 0; r < 4; r++)
                lo[r] = hi[r] = _mm256_setzero_si256();
            for (int k = 0; k < K4; k++) {
                __m256i bv = _mm256_loadu_si256((const __m256i *)(const void *)(brow[k] + off + x0 * 4));
                __m256i blo = _mm256_cvtepu8_epi16(_mm256_castsi256_si128(bv));
                __m256i bhi = _mm256_cvtepu8_epi16(_mm256_extracti128_si256(bv, 1));
                const int8_t *ak = a + ((size_t)k * MR8 + m0) * 4;
                for (int r = 0; r < 4; r++) {
                    int32_t wv;
                    memcpy(&wv, ak + r * 4, 4);
                    __m256i w = _mm256_broadcastq_epi64(_mm_cvtepi8_epi16(_mm_cvtsi32_si128(wv)));
                    lo[r] = _mm256_add_epi32(lo[r], _mm256_madd_epi16(blo, w));
                    hi[r] = _mm256_add_epi32(hi[r], _mm256_madd_epi16(bhi, w));
                }
            }
            for (int r = 0; r < 4; r++) {
                /* [p0 p1 p4 p5 | p2 p3 p6 p7] -> p0..p7 */
                __m256i s = _mm256_permute4x64_epi64(_mm256_hadd_epi32(lo[r], hi[r]), 0xD8);
                _mm256_storeu_si256((__m256i *)(c + (m0 + r) * NR8 + x0), s);
            }
        }
}
#endif

/* ---------------------------------------------------------- quantisation */

/* q = clamp(rint(x / sa) + zp, 0, 255), rounding to nearest even */
static inline uint32_t q8(float x, float inv, float zp)
{
    float v = rintf(x * inv) + zp;
    v = v > 0.f ? v : 0.f;
    v = v < 255.f ? v : 255.f;
    return (uint32_t)(int32_t)v;
}
#define Q8(x, inv, zp) q8((x), (inv), (zp))

/* four channels of n pixels -> n words of 4 bytes */
#define DEF_QUANT4(NAME, ATTR)                                                                        \
    ATTR static void NAME(const float *restrict x0, const float *restrict x1, const float *restrict x2, \
                          const float *restrict x3, uint32_t *restrict out, size_t n, float inv, float zp) \
    {                                                                                                 \
        for (size_t i = 0; i < n; i++)                                                                \
            out[i] = Q8(x0[i], inv, zp) | Q8(x1[i], inv, zp) << 8 | Q8(x2[i], inv, zp) << 16 |         \
                     Q8(x3[i], inv, zp) << 24;                                                        \
    }
#define DEF_MINMAX(NAME, ATTR)                                                                        \
    ATTR static void NAME(const float *restrict x, size_t n, float *mn_, float *mx_)                  \
    {                                                                                                 \
        float mn = *mn_, mx = *mx_;                                                                   \
        for (size_t i = 0; i < n; i++) {                                                              \
            mn = x[i] < mn ? x[i] : mn;                                                               \
            mx = x[i] > mx ? x[i] : mx;                                                               \
        }                                                                                             \
        *mn_ = mn;                                                                                    \
        *mx_ = mx;                                                                                    \
    }

/* the same after each channel's norm: x * a[r] + b[r], then SiLU when
 * silu (the values groupnorm_fast would have written) */
#define DEF_QUANT4N(NAME, ATTR)                                                                        \
    ATTR static void NAME(const float *restrict x0, const float *restrict x1, const float *restrict x2,  \
                          const float *restrict x3, uint32_t *restrict out, size_t n, float inv, float zp, \
                          const float *ab4, int silu)                                                  \
    {                                                                                                  \
        const float a0 = ab4[0], a1 = ab4[1], a2 = ab4[2], a3 = ab4[3];                                 \
        const float b0 = ab4[4], b1 = ab4[5], b2 = ab4[6], b3 = ab4[7];                                 \
        if (silu)                                                                                      \
            for (size_t i = 0; i < n; i++)                                                             \
                out[i] = Q8(silu_poly(x0[i] * a0 + b0), inv, zp) | Q8(silu_poly(x1[i] * a1 + b1), inv, zp) << 8 | \
                         Q8(silu_poly(x2[i] * a2 + b2), inv, zp) << 16 |                               \
                         Q8(silu_poly(x3[i] * a3 + b3), inv, zp) << 24;                                \
        else                                                                                           \
            for (size_t i = 0; i < n; i++)                                                             \
                out[i] = Q8(x0[i] * a0 + b0, inv, zp) | Q8(x1[i] * a1 + b1, inv, zp) << 8 |             \
                         Q8(x2[i] * a2 + b2, inv, zp) << 16 | Q8(x3[i] * a3 + b3, inv, zp) << 24;       \
    }

/* the same, also writing the normalised values (z[r][i]) */
#define DEF_QUANT4NZ(NAME, ATTR)                                                                       \
    ATTR static void NAME(const float *restrict x0, const float *restrict x1, const float *restrict x2,  \
                          const float *restrict x3, uint32_t *restrict out, size_t n, float inv, float zp, \
                          const float *ab4, int silu, float *restrict z0, float *restrict z1,            \
                          float *restrict z2, float *restrict z3)                                        \
    {                                                                                                  \
        const float a0 = ab4[0], a1 = ab4[1], a2 = ab4[2], a3 = ab4[3];                                 \
        const float b0 = ab4[4], b1 = ab4[5], b2 = ab4[6], b3 = ab4[7];                                 \
        for (size_t i = 0; i < n; i++) {                                                               \
            float v0 = x0[i] * a0 + b0, v1 = x1[i] * a1 + b1, v2 = x2[i] * a2 + b2, v3 = x3[i] * a3 + b3; \
            if (silu) {                                                                                \
                v0 = silu_poly(v0);                                                                    \
                v1 = silu_poly(v1);                                                                    \
                v2 = silu_poly(v2);                                                                    \
                v3 = silu_poly(v3);                                                                    \
            }                                                                                          \
            z0[i] = v0;                                                                                \
            z1[i] = v1;                                                                                \
            z2[i] = v2;                                                                                \
            z3[i] = v3;                                                                                \
            out[i] = Q8(v0, inv, zp) | Q8(v1, inv, zp) << 8 | Q8(v2, inv, zp) << 16 | Q8(v3, inv, zp) << 24; \
        }                                                                                              \
    }

DEF_QUANT4(quant4_c, )
DEF_QUANT4N(quant4n_c, )
DEF_QUANT4NZ(quant4nz_c, )
DEF_MINMAX(minmax_c, )
#ifdef ARG_X86_DISPATCH
DEF_QUANT4(quant4_avx2, __attribute__((target("avx2"))))
DEF_QUANT4N(quant4n_avx2, __attribute__((target("avx2"))))
DEF_QUANT4NZ(quant4nz_avx2, __attribute__((target("avx2"))))
DEF_MINMAX(minmax_avx2, __attribute__((target("avx2"))))
DEF_QUANT4(quant4_avx512, __attribute__((target("avx512f"))))
DEF_QUANT4N(quant4n_avx512, __attribute__((target("avx512f"))))
DEF_QUANT4NZ(quant4nz_avx512, __attribute__((target("avx512f"))))
/* vminps(x, mn) is x < mn ? x : mn, as the C loop */
__attribute__((target("avx512f"))) static void minmax_avx512(const float *restrict x, size_t n, float *mn_,
                                                             float *mx_)
{
    __m512 mn = _mm512_set1_ps(*mn_), mx = _mm512_set1_ps(*mx_);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_loadu_ps(x + i);
        mn = _mm512_min_ps(v, mn);
        mx = _mm512_max_ps(v, mx);
    }
    float a = _mm512_reduce_min_ps(mn), b = _mm512_reduce_max_ps(mx);
    for (; i < n; i++) {
        a = x[i] < a ? x[i] : a;
        b = x[i] > b ? x[i] : b;
    }
    *mn_ = a;
    *mx_ = b;
}
#endif

/* ---------------------------------------------------------------- epilogue */

/* rows of NR8 sums -> d[r * dstride + x] = (float)(cb - corr[r]) * s[r] + bias[r]
 * for x < nn: one multiply and one add, never fused, on every path */
static void epi8_c(const int32_t *cb, int rows, const int32_t *corr, const float *s, const float *bias, float *d,
                   size_t dstride, int nn)
{
    for (int r = 0; r < rows; r++)
        for (int x = 0; x < nn; x++)
            d[r * dstride + x] = (float)(cb[r * NR8 + x] - corr[r]) * s[r] + bias[r];
}

typedef void (*Epi8Fn)(const int32_t *, int, const int32_t *, const float *, const float *, float *, size_t, int);
static Epi8Fn g_epi8 = epi8_c;

/* the same for depth-to-space by 2 across: rows 2q and 2q + 1 interleaved
 * into the 2 nn floats at d[q] (skipped when NULL) */
static void epi8x2_c(const int32_t *cb, int rows, const int32_t *corr, const float *s, const float *bias,
                     float *const *d, int nn)
{
    for (int r = 0; r + 1 < rows; r += 2) {
        float *o = d[r / 2];
        if (!o)
            continue;
        for (int x = 0; x < nn; x++) {
            o[2 * x] = (float)(cb[r * NR8 + x] - corr[r]) * s[r] + bias[r];
            o[2 * x + 1] = (float)(cb[(r + 1) * NR8 + x] - corr[r + 1]) * s[r + 1] + bias[r + 1];
        }
    }
}

typedef void (*Epi8x2Fn)(const int32_t *, int, const int32_t *, const float *, const float *, float *const *, int);
static Epi8x2Fn g_epi8x2 = epi8x2_c;

#ifdef ARG_X86_DISPATCH
__attribute__((target("avx512f"))) static void epi8_avx512(const int32_t *cb, int rows, const int32_t *corr,
                                                           const float *s, const float *bias, float *d,
                                                           size_t dstride, int nn)
{
    const __mmask16 m0 = nn >= 16 ? 0xFFFF : (__mmask16)((1u << nn) - 1);
    const __mmask16 m1 = nn >= 32 ? 0xFFFF : nn <= 16 ? 0 : (__mmask16)((1u << (nn - 16)) - 1);
    for (int r = 0; r < rows; r++) {
        __m512i c = _mm512_set1_epi32(corr[r]);
        __m512 sv = _mm512_set1_ps(s[r]), bv = _mm512_set1_ps(bias[r]);
        for (int h = 0; h < 2; h++) {
            __m512i a = _mm512_loadu_si512((const void *)(cb + r * NR8 + h * 16));
            __m512 v = _mm512_cvtepi32_ps(_mm512_sub_epi32(a, c));
            v = _mm512_add_ps(_mm512_mul_ps(v, sv), bv);
            _mm512_mask_storeu_ps(d + r * dstride + h * 16, h ? m1 : m0, v);
        }
    }
}

__attribute__((target("avx512f"))) static void epi8x2_avx512(const int32_t *cb, int rows, const int32_t *corr,
                                                             const float *s, const float *bias, float *const *d,
                                                             int nn)
{
    const __m512i lo = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    const __m512i hi = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
    __mmask16 m[4];
    for (int k = 0; k < 4; k++) {
        int n = 2 * nn - 16 * k;
        m[k] = n >= 16 ? 0xFFFF : n <= 0 ? 0 : (__mmask16)((1u << n) - 1);
    }
    for (int r = 0; r + 1 < rows; r += 2) {
        float *o = d[r / 2];
        if (!o)
            continue;
        __m512 v[2][2];
        for (int e = 0; e < 2; e++) {
            __m512i c = _mm512_set1_epi32(corr[r + e]);
            __m512 sv = _mm512_set1_ps(s[r + e]), bv = _mm512_set1_ps(bias[r + e]);
            for (int h = 0; h < 2; h++) {
                __m512i a = _mm512_loadu_si512((const void *)(cb + (r + e) * NR8 + h * 16));
                v[e][h] = _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(a, c)), sv), bv);
            }
        }
        for (int h = 0; h < 2; h++) {
            _mm512_mask_storeu_ps(o + 32 * h, m[2 * h], _mm512_permutex2var_ps(v[0][h], lo, v[1][h]));
            _mm512_mask_storeu_ps(o + 32 * h + 16, m[2 * h + 1], _mm512_permutex2var_ps(v[0][h], hi, v[1][h]));
        }
    }
}
#endif

typedef void (*Quant4Fn)(const float *, const float *, const float *, const float *, uint32_t *, size_t, float,
                         float);
typedef void (*Quant4nFn)(const float *, const float *, const float *, const float *, uint32_t *, size_t, float,
                          float, const float *, int);
typedef void (*MinmaxFn)(const float *, size_t, float *, float *);
static Quant4Fn g_quant4 = quant4_c;
static Quant4nFn g_quant4n = quant4n_c;
typedef void (*Quant4nzFn)(const float *, const float *, const float *, const float *, uint32_t *, size_t, float,
                           float, const float *, int, float *, float *, float *, float *);
static Quant4nzFn g_quant4nz = quant4nz_c;
static MinmaxFn g_minmax = minmax_c;

Micro8Fn micro8_get(int level)
{
    if (level == 0)
        return micro8_c;
#ifdef ARG_X86_DISPATCH
    __builtin_cpu_init();
    if (level == 1 && __builtin_cpu_supports("avx2"))
        return micro8_avx2;
    if (level == 2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vnni"))
        return micro8_vnni;
#endif
    return NULL;
}

static Micro8Fn g_micro8;
static const char *g_isa8 = "c";

/* The widest variant the CPU runs, capped by ARG_SIMD as the float kernels. */
static void pick_micro8(void)
{
    if (g_micro8)
        return;
    const char *cap = getenv("ARG_SIMD");
    int level = 2;
    if (cap && !strcmp(cap, "generic"))
        level = 0;
    else if (cap && !strcmp(cap, "avx2"))
        level = 1;
    static const char *names[3] = { "c (12x32)", "avx2 vpmaddwd (12x32)", "avx512-vnni vpdpbusd (12x32)" };
    for (; level >= 0; level--) {
        Micro8Fn f = micro8_get(level);
        if (f) {
            g_isa8 = names[level];
#ifdef ARG_X86_DISPATCH
            if (level == 2) {
                g_quant4 = quant4_avx512;
                g_quant4n = quant4n_avx512;
                g_quant4nz = quant4nz_avx512;
                g_minmax = minmax_avx512;
                g_epi8 = epi8_avx512;
                g_epi8x2 = epi8x2_avx512;
            } else if (level == 1) {
                g_quant4 = quant4_avx2;
                g_quant4n = quant4n_avx2;
                g_quant4nz = quant4nz_avx2;
                g_minmax = minmax_avx2;
            }
#endif
            g_micro8 = f;
            return;
        }
    }
}

const char *kctx_isa8(void)
{
    pick_micro8();
    return g_isa8;
}

Micro8Fn micro8_active(void)
{
    pick_micro8();
    return g_micro8;
}


/* Quantised frames are padded: per group of 4 channels a plane of
 * hp x wp words (hp = h + 2 pad, wp = w + 2 pad, pad = ks / 2) whose border
 * holds the padding (the byte zp, or the edge words when replicating), so
 * the convolution reads every tap without bounds checks; QSLACK words after
 * the last plane absorb the over-read of a tile past the end of a row. */
#define QSLACK NR8

typedef struct QGeom {
    int h, w, pad, hp, wp;
    size_t plane;              /* words per group plane */
    size_t frame;              /* words per frame, slack included */
} QGeom;

static QGeom qgeom(int ci, int h, int w, int ks)
{
    QGeom g;
    g.h = h;
    g.w = w;
    g.pad = ks / 2;
    g.hp = h + 2 * g.pad;
    g.wp = w + 2 * g.pad;
    g.plane = (size_t)g.hp * g.wp;
    g.frame = (size_t)((ci + 3) / 4) * g.plane + QSLACK;
    return g;
}

typedef struct Q8Job {
    const float *const *src;   /* distinct input frames, ci x h x w floats */
    const float *const *ab;    /* per frame: its channels' norm (a[ci], b[ci]) or NULL */
    int silu;
    float *const *keep;        /* per frame, two: where to write its float values (normalised), or NULL */
    uint32_t *const *dst;      /* their padded quantised copies (QGeom) */
    QGeom g;
    int ci, ci4, replicate;
    int rows, nchunk;          /* rows per task, chunks per group plane */
    float *mn, *mx;            /* per task */
    float inv, zp;
} Q8Job;

/* task = (frame, channel group, chunk of rows) */
static void q8_span(const Q8Job *j, int task, int *f, int *g, int *y0, int *y1)
{
    int per_frame = j->ci4 * j->nchunk;
    *f = task / per_frame;
    *g = task % per_frame / j->nchunk;
    *y0 = task % j->nchunk * j->rows;
    *y1 = *y0 + j->rows < j->g.h ? *y0 + j->rows : j->g.h;
}

static void minmax_task(void *arg, int task, int thread)
{
    (void)thread;
    Q8Job *j = arg;
    int f, g, y0, y1;
    q8_span(j, task, &f, &g, &y0, &y1);
    float mn = 0.f, mx = 0.f; /* the range always holds 0 (the padding) */
    size_t hw = (size_t)j->g.h * j->g.w, b = (size_t)y0 * j->g.w, e = (size_t)y1 * j->g.w;
    for (int r = 0; r < 4 && g * 4 + r < j->ci; r++)
        g_minmax(j->src[f] + (size_t)(g * 4 + r) * hw + b, e - b, &mn, &mx);
    j->mn[task] = mn;
    j->mx[task] = mx;
}

static void quant_task(void *arg, int task, int thread)
{
    (void)thread;
    Q8Job *j = arg;
    int f, g, y0, y1;
    q8_span(j, task, &f, &g, &y0, &y1);
    static const float zeros[256];
    const QGeom *q = &j->g;
    const int w = q->w, pad = q->pad, wp = q->wp;
    const size_t hw = (size_t)q->h * w;
    const uint32_t zpw = (uint32_t)j->zp * 0x01010101u;
    const float *x[4];
    for (int r = 0; r < 4; r++)
        x[r] = g * 4 + r < j->ci ? j->src[f] + (size_t)(g * 4 + r) * hw : NULL;
    uint32_t *plane = j->dst[f] + (size_t)g * q->plane;
    float *k0 = j->keep ? j->keep[2 * f] : NULL, *k1 = j->keep ? j->keep[2 * f + 1] : NULL;
    if (!k0) {
        k0 = k1;
        k1 = NULL;
    }
    for (int y = y0; y < y1; y++) {
        uint32_t *out = plane + (size_t)(y + pad) * wp + pad;
        size_t row = (size_t)y * w;
        int kept = 0;
        if (k0 && x[3] && j->ab[f]) {
            float ab4[8], *z[4];
            for (int r = 0; r < 4; r++) {
                ab4[r] = j->ab[f][g * 4 + r];
                ab4[4 + r] = j->ab[f][j->ci + g * 4 + r];
                z[r] = k0 + (size_t)(g * 4 + r) * hw + row;
            }
            g_quant4nz(x[0] + row, x[1] + row, x[2] + row, x[3] + row, out, (size_t)w, j->inv, j->zp, ab4, j->silu,
                       z[0], z[1], z[2], z[3]);
            kept = 1;
        } else if (x[3] && j->ab[f]) {
            float ab4[8];
            for (int r = 0; r < 4; r++) {
                ab4[r] = j->ab[f][g * 4 + r];
                ab4[4 + r] = j->ab[f][j->ci + g * 4 + r];
            }
            g_quant4n(x[0] + row, x[1] + row, x[2] + row, x[3] + row, out, (size_t)w, j->inv, j->zp, ab4, j->silu);
        } else if (x[3]) {
            g_quant4(x[0] + row, x[1] + row, x[2] + row, x[3] + row, out, (size_t)w, j->inv, j->zp);
        } else if (j->ab[f]) {
            /* a partial group after a norm: the channels one by one, zeros after */
            float ab4[8] = { 0 };
            for (int r = 0; r < 4 && x[r]; r++) {
                ab4[r] = j->ab[f][g * 4 + r];
                ab4[4 + r] = j->ab[f][j->ci + g * 4 + r];
            }
            for (int i = 0; i < w; i += 256) {
                size_t n = w - i < 256 ? (size_t)(w - i) : 256;
                const float *y4[4];
                for (int r = 0; r < 4; r++)
                    y4[r] = x[r] ? x[r] + row + i : zeros;
                g_quant4n(y4[0], y4[1], y4[2], y4[3], out + i, n, j->inv, j->zp, ab4, j->silu);
            }
        } else {
            /* a partial group: missing channels quantise zeros (their weights are 0) */
            for (int i = 0; i < w; i += 256) {
                size_t n = w - i < 256 ? (size_t)(w - i) : 256;
                const float *y4[4];
                for (int r = 0; r < 4; r++)
                    y4[r] = x[r] ? x[r] + row + i : zeros;
                g_quant4(y4[0], y4[1], y4[2], y4[3], out + i, n, j->inv, j->zp);
            }
        }
        for (int i = 0; i < pad; i++) {
            out[-1 - i] = j->replicate ? out[0] : zpw;
            out[w + i] = j->replicate ? out[w - 1] : zpw;
        }
        /* the frames the causal cache keeps: their values as the
         * convolution saw them (after the norm) */
        for (int r = 0; r < 4 && k0 && x[r]; r++) {
            float *z0 = k0 + (size_t)(g * 4 + r) * hw + row;
            if (!kept && j->ab[f]) {
                const float a = j->ab[f][g * 4 + r], b = j->ab[f][j->ci + g * 4 + r];
                for (int i = 0; i < w; i++)
                    z0[i] = j->silu ? silu_poly(x[r][row + i] * a + b) : x[r][row + i] * a + b;
            } else if (!kept) {
                memcpy(z0, x[r] + row, (size_t)w * sizeof(float));
            }
            if (k1)
                memcpy(k1 + (size_t)(g * 4 + r) * hw + row, z0, (size_t)w * sizeof(float));
        }
    }
    /* the border rows, after the edge rows they may copy */
    for (int i = 0; i < pad; i++) {
        if (y0 == 0) {
            uint32_t *r = plane + (size_t)(pad - 1 - i) * wp;
            for (int x0 = 0; x0 < wp; x0++)
                r[x0] = j->replicate ? r[(size_t)(i + 1) * wp + x0] : zpw;
        }
        if (y1 == q->h) {
            uint32_t *r = plane + (size_t)(q->h + pad + i) * wp;
            for (int x0 = 0; x0 < wp; x0++)
                r[x0] = j->replicate ? r[x0 - (ptrdiff_t)(i + 1) * wp] : zpw;
        }
    }
}

/* ------------------------------------------------------------- convolution */

typedef struct Conv8Job {
    const ConvW *c;
    ConvQ8 q;
    QGeom g;
    const uint8_t *const *src;  /* per seq frame, padded (QGeom) */
    int ho, wo;
    int direct;                 /* stride 1: the kernel reads the frames */
    const uint8_t **brow;       /* direct: n_out x K4 row pointers; else per thread */
    int nt, ntiles;             /* im2col: pixels per panel, panels per frame */
    int rows, rtasks;           /* direct: output rows per task, tasks per frame */
    const D2sOut *d2s;          /* direct: the output goes through depth-to-space, or NULL */
    int oh, ow, ofirst;         /* ... its output size, whether frame 0 is the stream's first */
    const int32_t *corr;        /* per output channel: zp * qsum */
    const float *scale, *bias;  /* per output channel: qscale * sa, bias or 0 */
    float **col;                /* im2col: per-thread panels, used as bytes */
    Micro8Fn micro;
    float *dst;
} Conv8Job;

static inline int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* one block of NR8 output pixels (nn valid) through every output channel */
static void conv8_block(const Conv8Job *j, const uint8_t *const *brow, ptrdiff_t off, float *d, size_t npix,
                        int nn)
{
    const ConvW *c = j->c;
    int32_t cbuf[MR8 * NR8];
    for (int m0 = 0; m0 < c->co; m0 += MR8) {
        j->micro(j->q.K4, j->q.qpack + (size_t)(m0 / MR8) * j->q.K4 * MR8 * 4, brow, off, cbuf);
        int rows = c->co - m0 < MR8 ? c->co - m0 : MR8;
        g_epi8(cbuf, rows, j->corr + m0, j->scale + m0, j->bias + m0, d + (size_t)m0 * npix, npix, nn);
    }
}

/* the same into depth-to-space order (d2s_permute's channels: output
 * channel m = 2 q + kx, q = (i * 2 + jy) * c + ch): output pixel (oy, ox) of
 * frame o lands at (2 oy + jy, 2 ox + kx) of channel ch of picture o * a + i */
static void conv8_block_d2s(const Conv8Job *j, const uint8_t *const *brow, ptrdiff_t off, int o, int oy, int ox,
                            int nn)
{
    const ConvW *c = j->c;
    const D2sOut *t = j->d2s;
    int32_t cbuf[MR8 * NR8];
    float *d[MR8 / 2];
    for (int m0 = 0; m0 < c->co; m0 += MR8) {
        j->micro(j->q.K4, j->q.qpack + (size_t)(m0 / MR8) * j->q.K4 * MR8 * 4, brow, off, cbuf);
        int rows = c->co - m0 < MR8 ? c->co - m0 : MR8;
        for (int r = 0; r < rows; r += 2) {
            int q = (m0 + r) / 2, ch = q % t->c, jy = q / t->c % 2, i = q / (2 * t->c);
            int f = o * t->a + i;
            if (t->drop_first && j->ofirst) { /* the stream's first frame gives one picture */
                if (o == 0 && i == 1) {
                    d[r / 2] = NULL;
                    continue;
                }
                f -= f > 0;
            }
            d[r / 2] = j->dst + (((size_t)f * t->c + ch) * j->oh + 2 * oy + jy) * j->ow + 2 * ox;
        }
        g_epi8x2(cbuf, rows, j->corr + m0, j->scale + m0, j->bias + m0, d, nn);
    }
}

/* stride 1: row k4 = tap * ci4 + g of output pixel (oy, ox) is the padded
 * frame's word (oy + dy, ox + dx) of plane g */
static void direct8_task(void *arg, int task, int thread)
{
    (void)thread;
    const Conv8Job *j = arg;
    int o = task / j->rtasks, y0 = task % j->rtasks * j->rows;
    int y1 = y0 + j->rows < j->ho ? y0 + j->rows : j->ho;
    size_t npix = (size_t)j->ho * j->wo;
    const uint8_t *const *brow = j->brow + (size_t)o * j->q.K4;
    float *dst = j->dst + (size_t)o * j->c->co * npix;
    for (int oy = y0; oy < y1; oy++)
        for (int ox = 0; ox < j->wo; ox += NR8) {
            int nn = j->wo - ox < NR8 ? j->wo - ox : NR8;
            if (j->d2s)
                conv8_block_d2s(j, brow, ((ptrdiff_t)oy * j->g.wp + ox) * 4, o, oy, ox, nn);
            else
                conv8_block(j, brow, ((ptrdiff_t)oy * j->g.wp + ox) * 4, dst + (size_t)oy * j->wo + ox, npix, nn);
        }
}

/* other strides: gather row k4 for output pixels [p0, p0+n) of frame o,
 * then zero words up to nt */
static void gather32(const Conv8Job *j, int o, int k4, int p0, int n, uint32_t *row)
{
    const ConvW *c = j->c;
    const int ks = c->ks, ss = c->ss, wo = j->wo, wp = j->g.wp;
    const int ci4 = (c->ci + 3) / 4, tap = k4 / ci4, g = k4 % ci4;
    int dx = tap % ks, dy = tap / ks % ks, dt = tap / (ks * ks);
    const uint32_t *plane = (const uint32_t *)(const void *)j->src[o * c->st + dt] + (size_t)g * j->g.plane;
    for (int q = 0; q < n; q++) {
        int oy = (p0 + q) / wo, ox = (p0 + q) % wo;
        row[q] = plane[(size_t)(oy * ss + dy) * wp + ox * ss + dx];
    }
    if (n < j->nt)
        memset(row + n, 0, (size_t)(j->nt - n) * 4);
}

static void im2col8_task(void *arg, int task, int thread)
{
    const Conv8Job *j = arg;
    int o = task / j->ntiles, tile = task % j->ntiles;
    size_t npix = (size_t)j->ho * j->wo;
    int p0 = tile * j->nt;
    int n = (int)npix - p0 < j->nt ? (int)npix - p0 : j->nt;
    uint8_t *col = (uint8_t *)j->col[thread];
    const uint8_t **brow = j->brow + (size_t)thread * j->q.K4;
    for (int k4 = 0; k4 < j->q.K4; k4++) {
        gather32(j, o, k4, p0, n, (uint32_t *)(void *)(col + (size_t)k4 * j->nt * 4));
        brow[k4] = col + (size_t)k4 * j->nt * 4;
    }
    float *dst = j->dst + (size_t)o * j->c->co * npix + p0;
    for (int nb = 0; nb < n; nb += NR8)
        conv8_block(j, brow, (ptrdiff_t)nb * 4, dst + nb, npix, n - nb < NR8 ? n - nb : NR8);
}

int conv3d_int8(KernelCtx *k, const ConvW *c, const float *const *src, int n_out, int h, int w,
                int replicate, float *dst)
{
    return conv3d_int8_ex(k, c, src, NULL, 0, n_out, h, w, replicate, dst, NULL, NULL, NULL, NULL);
}

int conv3d_int8_ranged(KernelCtx *k, const ConvW *c, const float *const *src, int n_out, int h, int w,
                       int replicate, float *dst, const float *lo, const float *hi)
{
    return conv3d_int8_ex(k, c, src, NULL, 0, n_out, h, w, replicate, dst, lo, hi, NULL, NULL);
}

int conv3d_int8_ex(KernelCtx *k, const ConvW *c, const float *const *src, const float *const *ab, int silu,
                   int n_out, int h, int w, int replicate, float *dst, const float *lo, const float *hi,
                   float *const *keep, const D2sOut *d2s)
{
    pick_micro8();
    if (n_out <= 0)
        return 0;
    int n_in = (n_out - 1) * c->st + c->kt;
    const int ci4 = (c->ci + 3) / 4;
    const QGeom geo = qgeom(c->ci, h, w, c->ks);
    const size_t qbytes = geo.frame * 4;
    const ConvQ8 cq = conv_q8(c);
    const int direct = c->ss == 1;
    if (d2s && (!direct || c->co != d2s->c * d2s->a * 4))
        return -EINVAL;
    const size_t nrow = (size_t)(direct ? n_out : k->n_threads) * cq.K4;
    /* distinct frames (the zero frame and replicated frames repeat) */
    const float **uniq = malloc((size_t)n_in * 2 * sizeof(*uniq));
    const float **uab = uniq ? uniq + n_in : NULL;
    float **ukeep = keep ? calloc((size_t)n_in * 2, sizeof(*ukeep)) : NULL;
    int *map = malloc((size_t)n_in * sizeof(int));
    const uint8_t **qseq = malloc((size_t)n_in * sizeof(*qseq));
    uint32_t **qdst = malloc((size_t)n_in * sizeof(*qdst));
    const uint8_t **brow = malloc(nrow * sizeof(*brow));
    int32_t *corr = malloc((size_t)c->co * sizeof(int32_t));
    float *scale = malloc((size_t)c->co * 2 * sizeof(float));
    Q8Job q = { 0 };
    q.g = geo;
    q.ci = c->ci;
    q.ci4 = ci4;
    q.replicate = replicate;
    q.rows = w < 16384 ? 16384 / w : 1;
    q.rows = q.rows < h ? q.rows : h;
    q.nchunk = (h + q.rows - 1) / q.rows;
    q.mn = malloc((size_t)n_in * ci4 * q.nchunk * sizeof(float));
    q.mx = malloc((size_t)n_in * ci4 * q.nchunk * sizeof(float));
    int rc = -ENOMEM;
    if (!uniq || !map || !qseq || !qdst || !brow || !corr || !scale || !q.mn || !q.mx || (keep && !ukeep))
        goto out;
    int nu = 0;
    for (int i = 0; i < n_in; i++) {
        const float *abi = ab ? ab[i] : NULL;
        int u = 0;
        while (u < nu && (uniq[u] != src[i] || uab[u] != abi))
            u++;
        if (u == nu) {
            uniq[nu] = src[i];
            uab[nu++] = abi;
        }
        map[i] = u;
        if (keep && keep[i]) { /* at most two copies of one frame are kept (kt <= 3) */
            if (ukeep[2 * u] && ukeep[2 * u + 1]) {
                rc = -EINVAL;
                goto out;
            }
            ukeep[2 * u + (ukeep[2 * u] != NULL)] = keep[i];
        }
    }
    if (k->q8_size < (size_t)nu * qbytes) {
        free(k->q8);
        k->q8 = arg_alloc_big((size_t)nu * qbytes);
        k->q8_size = k->q8 ? (size_t)nu * qbytes : 0;
        if (!k->q8)
            goto out;
        memset(k->q8, 0, k->q8_size); /* the slack is read, never used */
    }
    for (int u = 0; u < nu; u++)
        qdst[u] = (uint32_t *)(void *)(k->q8 + (size_t)u * qbytes);
    for (int i = 0; i < n_in; i++)
        qseq[i] = (const uint8_t *)qdst[map[i]];
    q.src = uniq;
    q.ab = uab;
    q.silu = silu;
    q.keep = ukeep;
    q.dst = qdst;
    int ntask = nu * ci4 * q.nchunk;
    int known = lo && hi;
    for (int i = 0; known && i < n_in; i++)
        known = !isnan(lo[i]) && !isnan(hi[i]);
    for (int u = 0; u < nu && !known; u++)
        if (uab[u]) { /* a norm's output is not in memory: its range must be given */
            rc = -EINVAL;
            goto out;
        }
    float mn = 0.f, mx = 0.f;
    if (known) {
        for (int i = 0; i < n_in; i++) {
            mn = lo[i] < mn ? lo[i] : mn;
            mx = hi[i] > mx ? hi[i] : mx;
        }
    } else {
        tp_run(k->pool, ntask, minmax_task, &q);
        for (int i = 0; i < ntask; i++) {
            mn = q.mn[i] < mn ? q.mn[i] : mn;
            mx = q.mx[i] > mx ? q.mx[i] : mx;
        }
    }
    float sa = (mx - mn) / 255.f;
    if (!(sa > 0.f) || !isfinite(sa))
        sa = 1.f;
    int zp = clampi((int)rintf(-mn / sa), 0, 255);
    q.zp = (float)zp;
    q.inv = 1.f / sa;
    tp_run(k->pool, ntask, quant_task, &q);

    float *bias = scale + c->co;
    for (int m = 0; m < c->co; m++) {
        scale[m] = cq.qscale[m] * sa;
        bias[m] = c->bias ? c->bias[m] : 0.f;
        corr[m] = (int32_t)zp * cq.qsum[m];
    }
    Conv8Job j = { 0 };
    j.c = c;
    j.q = cq;
    j.g = geo;
    j.src = qseq;
    j.ho = conv_out_dim(h, c->ks, c->ss);
    j.wo = conv_out_dim(w, c->ks, c->ss);
    j.direct = direct;
    j.brow = brow;
    j.corr = corr;
    j.scale = scale;
    j.bias = bias;
    j.col = k->col;
    j.micro = g_micro8;
    j.dst = dst;
    j.d2s = d2s;
    if (d2s) {
        j.oh = 2 * j.ho;
        j.ow = 2 * j.wo;
        j.ofirst = d2s->drop_first;
    }
    if (direct) {
        for (int o = 0; o < n_out; o++)
            for (int k4 = 0; k4 < cq.K4; k4++) {
                int tap = k4 / ci4, g = k4 % ci4;
                int dx = tap % c->ks, dy = tap / c->ks % c->ks, dt = tap / (c->ks * c->ks);
                brow[(size_t)o * cq.K4 + k4] =
                    qseq[o * c->st + dt] + ((size_t)g * geo.plane + (size_t)dy * geo.wp + dx) * 4;
            }
        /* about 8 tasks per thread over the call */
        int want = 8 * k->n_threads;
        j.rows = clampi(n_out * j.ho / want, 1, j.ho);
        j.rtasks = (j.ho + j.rows - 1) / j.rows;
        tp_run(k->pool, n_out * j.rtasks, direct8_task, &j);
    } else {
        int npix = j.ho * j.wo;
        int nt = COL8_BUDGET / (cq.K4 * 4) / NR8 * NR8;
        nt = clampi(nt, NR8, 512);
        while (nt > NR8 && (long)n_out * ((npix + nt - 1) / nt) < 16)
            nt -= NR8;
        j.nt = nt;
        j.ntiles = (npix + nt - 1) / nt;
        size_t need = ((size_t)cq.K4 * 4 * nt + sizeof(float) - 1) / sizeof(float);
        for (int i = 0; i < k->n_threads; i++) {
            if (k->col_size[i] < need) {
                float *p = realloc(k->col[i], need * sizeof(float));
                if (!p)
                    goto out;
                k->col[i] = p;
                k->col_size[i] = need;
            }
        }
        tp_run(k->pool, n_out * j.ntiles, im2col8_task, &j);
    }
    rc = 0;
out:
    free(uniq);
    free(ukeep);
    free(map);
    free(qseq);
    free(qdst);
    free(brow);
    free(corr);
    free(scale);
    free(q.mn);
    free(q.mx);
    return rc;
}

int d2s_permute(const ConvW *c, int a, ConvW *out)
{
    *out = *c;
    out->wpack = NULL;
    const int oc = c->co / (a * 4);
    float *w = malloc((size_t)c->co * c->K * sizeof(float));
    float *b = c->bias ? malloc((size_t)c->co * sizeof(float)) : NULL;
    if (!w || (c->bias && !b)) {
        free(w);
        free(b);
        return -ENOMEM;
    }
    for (int m = 0; m < c->co; m++) {
        int q = m / 2, kx = m % 2, ch = q % oc, ij = q / oc;
        int old = (ij * 2 + kx) * oc + ch;
        memcpy(w + (size_t)m * c->K, c->w + (size_t)old * c->K, (size_t)c->K * sizeof(float));
        if (b)
            b[m] = c->bias[old];
    }
    out->w = w;
    out->bias = b;
    if (conv_pack(out) < 0) {
        free(w);
        free(b);
        out->w = out->bias = NULL;
        return -ENOMEM;
    }
    return 0;
}
