/* Tokenizer kernels. The convolution is an implicit GEMM: for each tile of
 * output pixels the needed input patches are gathered (im2col) into a
 * per-thread [K][NT] panel and multiplied by the packed weights with a
 * register-blocked 6 x NR microkernel (or OpenBLAS sgemm). */
#include "kernels.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __linux__
#include <sys/mman.h>
#endif

#ifdef ARG_HAVE_BLAS
#include <cblas.h>
#endif

#define MR ARG_MR
#define COL_BUDGET (128 * 1024)   /* floats per im2col panel */

/* ------------------------------------------------------------ microkernels */

typedef float v16 __attribute__((vector_size(64), aligned(4)));
typedef float v8 __attribute__((vector_size(32), aligned(4)));
typedef float v4 __attribute__((vector_size(16), aligned(4)));

/* c[MR][2*VL] = a[K][MR]^T * b[K][ldb] (first 2*VL columns). Explicit
 * accumulators keep GCC and clang from spilling. */
#define DEF_MICRO(NAME, VT, VL, ATTR)                                              \
    ATTR static void NAME(int K, const float *restrict a, const float *restrict b, \
                          ptrdiff_t ldb, float *restrict c)                        \
    {                                                                              \
        VT c00 = { 0 }, c01 = { 0 }, c10 = { 0 }, c11 = { 0 }, c20 = { 0 }, c21 = { 0 }; \
        VT c30 = { 0 }, c31 = { 0 }, c40 = { 0 }, c41 = { 0 }, c50 = { 0 }, c51 = { 0 }; \
        for (int k = 0; k < K; k++) {                                              \
            const float *bk = b + k * ldb;                                         \
            const float *ak = a + k * MR;                                          \
            VT b0, b1, x;                                                          \
            memcpy(&b0, bk, sizeof(VT));                                           \
            memcpy(&b1, bk + VL, sizeof(VT));                                      \
            x = (VT){ 0 } + ak[0]; c00 += x * b0; c01 += x * b1;                   \
            x = (VT){ 0 } + ak[1]; c10 += x * b0; c11 += x * b1;                   \
            x = (VT){ 0 } + ak[2]; c20 += x * b0; c21 += x * b1;                   \
            x = (VT){ 0 } + ak[3]; c30 += x * b0; c31 += x * b1;                   \
            x = (VT){ 0 } + ak[4]; c40 += x * b0; c41 += x * b1;                   \
            x = (VT){ 0 } + ak[5]; c50 += x * b0; c51 += x * b1;                   \
        }                                                                          \
        VT o[12] = { c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51 }; \
        memcpy(c, o, sizeof(o));                                                   \
    }

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define ARG_X86_DISPATCH 1
DEF_MICRO(micro_avx512, v16, 16, __attribute__((target("avx512f,fma"))))
DEF_MICRO(micro_avx2, v8, 8, __attribute__((target("avx2,fma"))))
#endif
DEF_MICRO(micro_generic, v4, 4, )

typedef void (*MicroFn)(int, const float *, const float *, ptrdiff_t, float *);
static MicroFn g_micro;
static int g_nr;
static const char *g_isa = "generic";

/* The widest microkernel the CPU runs, unless the environment variable
 * ARG_SIMD caps it: "generic" (4-wide vectors: SSE2 on x86-64), "avx2" or
 * "avx512" (a cap above what the CPU has changes nothing; other values are
 * ignored). Every variant sums each output in the same order without fused
 * multiply-adds, so all give the same bits (conformance/README.md); the cap
 * lets the conformance runner show it. */
static void pick_micro(void)
{
    if (g_micro)
        return;
    MicroFn fn = micro_generic;
    int nr = 8;
    const char *isa = "sse2/generic (6x8)";
#ifdef ARG_X86_DISPATCH
    const char *cap = getenv("ARG_SIMD");
    int level = 2; /* 0 generic, 1 avx2, 2 avx512 */
    if (cap && !strcmp(cap, "generic"))
        level = 0;
    else if (cap && !strcmp(cap, "avx2"))
        level = 1;
    __builtin_cpu_init();
    if (level >= 2 && __builtin_cpu_supports("avx512f")) {
        fn = micro_avx512;
        nr = 32;
        isa = "avx512 (6x32)";
    } else if (level >= 1 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        fn = micro_avx2;
        nr = 16;
        isa = "avx2+fma (6x16)";
    }
#endif
    g_nr = nr;
    g_isa = isa;
    g_micro = fn;
}

const char *kctx_isa(void)
{
    pick_micro();
    return g_isa;
}

int kctx_have_blas(void)
{
#ifdef ARG_HAVE_BLAS
    return 1;
#else
    return 0;
#endif
}

int kctx_init(KernelCtx *k, int n_threads, int gemm)
{
    memset(k, 0, sizeof(*k));
    pick_micro();
    if (gemm == GEMM_BLAS && !kctx_have_blas())
        return -ENOTSUP;
#ifdef ARG_HAVE_BLAS
    if (gemm == GEMM_BLAS)
        openblas_set_num_threads(1); /* we split the work ourselves */
#endif
    k->gemm = gemm;
    k->pool = tp_create(n_threads);
    k->n_threads = n_threads < 1 ? 1 : n_threads;
    k->col = calloc((size_t)k->n_threads, sizeof(float *));
    k->col_size = calloc((size_t)k->n_threads, sizeof(size_t));
    if (!k->pool || !k->col || !k->col_size) {
        kctx_free(k);
        return -ENOMEM;
    }
    return 0;
}

void *arg_alloc_big(size_t bytes)
{
    const size_t huge = (size_t)2 << 20;
    if (bytes < 2 * huge)
        return malloc(bytes ? bytes : 1);
    size_t n = (bytes + huge - 1) / huge * huge;
    void *p = NULL;
    if (posix_memalign(&p, huge, n) != 0)
        return NULL;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    madvise(p, n, MADV_HUGEPAGE); /* advice only: without THP it fails, harmlessly */
#endif
    return p;
}

void kctx_free(KernelCtx *k)
{
    if (k->col)
        for (int i = 0; i < k->n_threads; i++)
            free(k->col[i]);
    free(k->col);
    free(k->col_size);
    free(k->q8);
    tp_destroy(k->pool);
    memset(k, 0, sizeof(*k));
}

int conv_pack(ConvW *c)
{
    int mb = (c->co + MR - 1) / MR, mb8 = (c->co + ARG_MR8 - 1) / ARG_MR8;
    const int taps = c->kt * c->ks * c->ks, ci4 = (c->ci + 3) / 4, K4 = taps * ci4;
    size_t nf = (size_t)mb * c->K * MR, n8 = (size_t)mb8 * K4 * ARG_MR8 * 4;
    /* floats, then qscale[co], qsum[co], then the int8 panels */
    size_t bytes = (nf + 2 * (size_t)c->co) * sizeof(float) + n8;
    c->wpack = calloc(1, bytes);
    if (!c->wpack)
        return -ENOMEM;
    for (int m = 0; m < c->co; m++)
        for (int k = 0; k < c->K; k++)
            c->wpack[((size_t)(m / MR) * c->K + k) * MR + m % MR] = c->w[(size_t)m * c->K + k];
    float *qscale = c->wpack + nf;
    int32_t *qsum = (int32_t *)(qscale + c->co);
    int8_t *qpack = (int8_t *)(qsum + c->co);
    for (int m = 0; m < c->co; m++) {
        const float *wm = c->w + (size_t)m * c->K;
        float amax = 0.f;
        for (int k = 0; k < c->K; k++)
            amax = fabsf(wm[k]) > amax ? fabsf(wm[k]) : amax;
        float s = amax > 0.f ? amax / 127.f : 1.f, inv = 1.f / s;
        int32_t sum = 0;
        for (int k = 0; k < c->K; k++) {
            float q = rintf(wm[k] * inv);
            int v = q > 127.f ? 127 : q < -127.f ? -127 : (int)q;
            /* k = ci * taps + tap -> k4 = tap * ci4 + ci / 4, byte ci % 4 */
            int tap = k % taps, ci = k / taps, k4 = tap * ci4 + ci / 4;
            qpack[(((size_t)(m / ARG_MR8) * K4 + k4) * ARG_MR8 + m % ARG_MR8) * 4 + ci % 4] = (int8_t)v;
            sum += v;
        }
        qscale[m] = s;
        qsum[m] = sum;
    }
    return 0;
}

/* ------------------------------------------------- auto GEMM calibration */

static pthread_once_t g_auto_once = PTHREAD_ONCE_INIT;
static double g_auto_rates[3];

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* One thread each (the engine splits the work itself and calls the GEMM per
 * tile), a 3x3x3 convolution of 48 -> 48 channels over a 32 x 64 frame: the
 * shape of the default decoder's middle level, on the builtin float GEMM,
 * OpenBLAS (when built) and the int8 path. Runs alternate between the paths
 * so that load from other processes hits all alike; the best of four runs
 * counts. About 60 ms. */
static void auto_calibrate(void)
{
    const int ci = 48, co = 48, h = 32, w = 64, kt = 3;
    ConvW c = { ci, co, 3, 3, 1, 1, ci * 27, NULL, NULL, NULL };
    float *wt = malloc((size_t)co * c.K * sizeof(float));
    float *in = malloc((size_t)kt * ci * h * w * sizeof(float));
    float *out = malloc((size_t)co * h * w * sizeof(float));
    static const int paths[3] = { GEMM_BUILTIN, GEMM_BLAS, GEMM_INT8 };
    KernelCtx k[3];
    int ok = wt && in && out, have[3] = { 0, 0, 0 };
    for (size_t i = 0; ok && i < (size_t)co * c.K; i++)
        wt[i] = (float)((i * 37) % 101) / 101.f - 0.5f;
    for (size_t i = 0; ok && i < (size_t)kt * ci * h * w; i++)
        in[i] = (float)((i * 53) % 103) / 103.f - 0.5f;
    c.w = wt;
    ok = ok && conv_pack(&c) == 0;
    for (int p = 0; ok && p < 3; p++)
        have[p] = (p != 1 || kctx_have_blas()) && kctx_init(&k[p], 1, paths[p]) == 0;
    if (ok) {
        const float *src[3] = { in, in + (size_t)ci * h * w, in + (size_t)2 * ci * h * w };
        double best[3] = { 1e9, 1e9, 1e9 };
        for (int r = 0; r < 5; r++)
            for (int p = 0; p < 3; p++) {
                if (!have[p])
                    continue;
                double t0 = now_s();
                conv3d(&k[p], &c, src, 1, h, w, 0, out);
                double t = now_s() - t0;
                if (r > 0 && t < best[p]) /* the first run warms up */
                    best[p] = t;
            }
        for (int p = 0; p < 3; p++)
            g_auto_rates[p] = have[p] ? (double)co * c.K * h * w / best[p] / 1e9 : 0.0;
    }
    for (int p = 0; p < 3; p++)
        if (have[p])
            kctx_free(&k[p]);
    free(c.wpack);
    free(wt);
    free(in);
    free(out);
}

int kctx_auto_gemm(int is_dec, double rates[3])
{
    const char *env = getenv("ARG_GEMM_AUTO");
    int measure = env && !strcmp(env, "measure");
    if (rates || measure)
        pthread_once(&g_auto_once, auto_calibrate);
    if (rates)
        for (int p = 0; p < 3; p++)
            rates[p] = g_auto_rates[p];
    if (measure) {
        int fl = g_auto_rates[1] > g_auto_rates[0] ? GEMM_BLAS : GEMM_BUILTIN;
        return is_dec && g_auto_rates[2] > g_auto_rates[fl == GEMM_BLAS] ? GEMM_INT8 : fl;
    }
    /* the rule (argbench --table shows it, the paths side by side) */
    if (!is_dec)
        return GEMM_BUILTIN;
    return micro8_get(1) || micro8_get(2) ? GEMM_INT8 : GEMM_BUILTIN;
}

/* ------------------------------------------------------------ peak rates */

typedef struct PeakJob {
    int int8, reps;
} PeakJob;

static void peak_task(void *arg, int task, int thread)
{
    (void)task;
    (void)thread;
    const PeakJob *j = arg;
    enum { KP = 256 };
    if (j->int8) {
        Micro8Fn f = micro8_active(); /* the one convolutions use (ARG_SIMD caps it) */
        int8_t *a = calloc((size_t)KP * ARG_MR8 * 4, 1);
        uint8_t *b = calloc((size_t)KP * ARG_NR8 * 4, 1);
        const uint8_t **brow = malloc(KP * sizeof(*brow));
        int32_t c[ARG_MR8 * ARG_NR8];
        if (a && b && brow) {
            for (int k4 = 0; k4 < KP; k4++)
                brow[k4] = b + (size_t)k4 * ARG_NR8 * 4;
            for (int r = 0; r < j->reps; r++)
                f(KP, a, brow, 0, c);
        }
        free(brow);
        free(a);
        free(b);
    } else {
        float *a = calloc((size_t)KP * MR, sizeof(float)), *b = calloc((size_t)KP * 32, sizeof(float));
        float c[MR * 32];
        if (a && b)
            for (int r = 0; r < j->reps; r++)
                g_micro(KP, a, b, g_nr, c);
        free(a);
        free(b);
    }
}

double kctx_peak_gmacs(KernelCtx *k, int int8)
{
    pick_micro();
    PeakJob j = { int8, 1 };
    const double macs = int8 ? 256.0 * 4 * ARG_MR8 * ARG_NR8 : 256.0 * MR * g_nr;
    /* double the count until one run takes 20 ms, and at least 1024 (a run
     * stretched by another process must not stop the doubling at a count
     * whose time is the threads' start-up); then the best of 5 runs */
    double t = 0;
    while (j.reps < (1 << 24)) {
        double t0 = now_s();
        tp_run(k->pool, k->n_threads, peak_task, &j);
        t = now_s() - t0;
        if (t >= 0.02 && j.reps >= 1024)
            break;
        j.reps *= 2;
    }
    double best = t;
    for (int r = 0; r < 4; r++) {
        double t0 = now_s();
        tp_run(k->pool, k->n_threads, peak_task, &j);
        t = now_s() - t0;
        best = t < best ? t : best;
    }
    return macs * j.reps * k->n_threads / best / 1e9;
}

/* ------------------------------------------------------------- convolution */

typedef struct ConvJob {
    KernelCtx *k;
    const ConvW *c;
    const float *const *src;
    int h, w, ho, wo, replicate;
    int nt, ntiles;               /* tile width (multiple of 32), tiles per frame */
    float *dst;
} ConvJob;

static inline int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Gather rows k = ((ci*kt + dt)*ks + dy)*ks + dx for output pixels
 * [p0, p0+n) of frame o into col[k][0..n), zeroing columns n..NT. */
static void im2col_tile(const ConvJob *j, int o, int p0, int n, float *col)
{
    const ConvW *c = j->c;
    const int ks = c->ks, pad = ks / 2, ss = c->ss, h = j->h, w = j->w, wo = j->wo, NT = j->nt;
    size_t plane = (size_t)h * w;
    int k = 0;
    for (int ci = 0; ci < c->ci; ci++) {
        for (int dt = 0; dt < c->kt; dt++) {
            const float *srcp = j->src[o * c->st + dt] + ci * plane;
            for (int dy = 0; dy < ks; dy++) {
                for (int dx = 0; dx < ks; dx++, k++) {
                    float *row = col + (size_t)k * NT;
                    int p = p0, q = 0;
                    while (q < n) {
                        int oy = p / wo, ox = p % wo;
                        int len = wo - ox;
                        if (len > n - q)
                            len = n - q;
                        int iy = oy * ss + dy - pad;
                        float *out = row + q;
                        if (iy < 0 || iy >= h) {
                            if (!j->replicate) {
                                memset(out, 0, (size_t)len * sizeof(float));
                                p += len;
                                q += len;
                                continue;
                            }
                            iy = clampi(iy, 0, h - 1);
                        }
                        const float *in = srcp + (size_t)iy * w;
                        int ix0 = ox * ss + dx - pad;
                        /* interior: 0 <= ix0 + i*ss < w */
                        int i = 0;
                        while (i < len && ix0 + i * ss < 0) {
                            out[i] = j->replicate ? in[0] : 0.f;
                            i++;
                        }
                        int iend = len;
                        while (iend > i && ix0 + (iend - 1) * ss >= w)
                            iend--;
                        if (ss == 1) {
                            memcpy(out + i, in + ix0 + i, (size_t)(iend - i) * sizeof(float));
                        } else {
                            for (int x = i; x < iend; x++)
                                out[x] = in[ix0 + x * ss];
                        }
                        for (i = iend; i < len; i++)
                            out[i] = j->replicate ? in[w - 1] : 0.f;
                        p += len;
                        q += len;
                    }
                    if (n < NT)
                        memset(row + n, 0, (size_t)(NT - n) * sizeof(float));
                }
            }
        }
    }
}

static void conv_task(void *arg, int task, int thread)
{
    ConvJob *j = arg;
    const ConvW *c = j->c;
    int o = task / j->ntiles, tile = task % j->ntiles;
    int npix = j->ho * j->wo;
    int p0 = tile * j->nt;
    int n = npix - p0 < j->nt ? npix - p0 : j->nt;
    float *col = j->k->col[thread];
    float *dst = j->dst + (size_t)o * c->co * npix;
    im2col_tile(j, o, p0, n, col);
#ifdef ARG_HAVE_BLAS
    if (j->k->gemm == GEMM_BLAS) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c->co, n, c->K, 1.0f, c->w, c->K,
                    col, j->nt, 0.0f, dst + p0, npix);
        if (c->bias)
            for (int m = 0; m < c->co; m++) {
                float *d = dst + (size_t)m * npix + p0;
                for (int x = 0; x < n; x++)
                    d[x] += c->bias[m];
            }
        return;
    }
#endif
    const int nr = g_nr;
    float cbuf[MR * 32];
    int mblocks = (c->co + MR - 1) / MR;
    for (int nb = 0; nb < n; nb += nr) {
        int nn = n - nb < nr ? n - nb : nr;
        for (int mb = 0; mb < mblocks; mb++) {
            g_micro(c->K, c->wpack + (size_t)mb * c->K * MR, col + nb, j->nt, cbuf);
            int m1 = mb * MR + MR < c->co ? mb * MR + MR : c->co;
            for (int m = mb * MR; m < m1; m++) {
                float bias = c->bias ? c->bias[m] : 0.f;
                const float *cb = cbuf + (m - mb * MR) * nr;
                float *d = dst + (size_t)m * npix + p0 + nb;
                for (int x = 0; x < nn; x++)
                    d[x] = cb[x] + bias;
            }
        }
    }
}

int conv3d(KernelCtx *k, const ConvW *c, const float *const *src, int n_out, int h, int w,
           int replicate, float *dst)
{
    if (k->gemm == GEMM_REF) {
        ref_conv3d(c, src, n_out, h, w, replicate, dst);
        return 0;
    }
    if (k->gemm == GEMM_INT8)
        return conv3d_int8(k, c, src, n_out, h, w, replicate, dst);
    ConvJob j = { k, c, src, h, w, conv_out_dim(h, c->ks, c->ss), conv_out_dim(w, c->ks, c->ss),
                  replicate, 0, 0, dst };
    int npix = j.ho * j.wo;
    int nt = COL_BUDGET / c->K / 32 * 32;
    nt = clampi(nt, 32, 512);
    /* smaller tiles when there would be too few tasks to share; the rule does
     * not depend on the thread count, so every thread count (and every run)
     * computes bit-identical results, BLAS included */
    while (nt > 32 && (long)n_out * ((npix + nt - 1) / nt) < 16)
        nt -= 32;
    j.nt = nt;
    j.ntiles = (npix + nt - 1) / nt;
    size_t need = (size_t)c->K * nt;
    for (int i = 0; i < k->n_threads; i++) {
        if (k->col_size[i] < need) {
            float *p = realloc(k->col[i], need * sizeof(float));
            if (!p)
                return -ENOMEM;
            k->col[i] = p;
            k->col_size[i] = need;
        }
    }
    tp_run(k->pool, n_out * j.ntiles, conv_task, &j);
    return 0;
}

void ref_conv3d(const ConvW *c, const float *const *src, int n_out, int h, int w,
                int replicate, float *dst)
{
    const int ho = conv_out_dim(h, c->ks, c->ss), wo = conv_out_dim(w, c->ks, c->ss);
    const int pad = c->ks / 2;
    for (int o = 0; o < n_out; o++)
        for (int m = 0; m < c->co; m++)
            for (int y = 0; y < ho; y++)
                for (int x = 0; x < wo; x++) {
                    double acc = c->bias ? c->bias[m] : 0.0;
                    for (int ci = 0; ci < c->ci; ci++)
                        for (int dt = 0; dt < c->kt; dt++)
                            for (int dy = 0; dy < c->ks; dy++)
                                for (int dx = 0; dx < c->ks; dx++) {
                                    int iy = y * c->ss + dy - pad, ix = x * c->ss + dx - pad;
                                    float v;
                                    if (iy >= 0 && iy < h && ix >= 0 && ix < w)
                                        v = src[o * c->st + dt][((size_t)ci * h + iy) * w + ix];
                                    else if (replicate)
                                        v = src[o * c->st + dt][((size_t)ci * h + clampi(iy, 0, h - 1)) * w +
                                                                clampi(ix, 0, w - 1)];
                                    else
                                        v = 0.f;
                                    size_t wi = ((((size_t)m * c->ci + ci) * c->kt + dt) * c->ks + dy) * c->ks + dx;
                                    acc += (double)c->w[wi] * v;
                                }
                    dst[(((size_t)o * c->co + m) * ho + y) * wo + x] = (float)acc;
                }
}

/* --------------------------------------------------------------- GroupNorm */

typedef struct GnJob {
    const float *x;
    float *y;
    int t, c, hw;
    const GnParams *p;
} GnJob;

static inline float silu(float v)
{
    return v / (1.0f + expf(-v));
}

/* Normalise group g over frames [t0, t1). */
static void gn_group(const GnJob *j, int t0, int t1, int g)
{
    const GnParams *p = j->p;
    int cg = j->c / p->groups;
    size_t frame = (size_t)j->c * j->hw;
    double n = (double)(t1 - t0) * cg * j->hw;
    double sum = 0.0;
    for (int t = t0; t < t1; t++)
        for (int ch = g * cg; ch < (g + 1) * cg; ch++) {
            const float *v = j->x + t * frame + (size_t)ch * j->hw;
            float s = 0.f;
            for (int i = 0; i < j->hw; i++)
                s += v[i];
            sum += s;
        }
    float mean = (float)(sum / n);
    double sq = 0.0;
    for (int t = t0; t < t1; t++)
        for (int ch = g * cg; ch < (g + 1) * cg; ch++) {
            const float *v = j->x + t * frame + (size_t)ch * j->hw;
            float s = 0.f;
            for (int i = 0; i < j->hw; i++) {
                float d = v[i] - mean;
                s += d * d;
            }
            sq += s;
        }
    float rstd = (float)(1.0 / sqrt(sq / n + p->eps));
    for (int ch = g * cg; ch < (g + 1) * cg; ch++) {
        float a = rstd * (p->weight ? p->weight[ch] : 1.f);
        float b = (p->bias ? p->bias[ch] : 0.f) - mean * a;
        if (p->scale) {
            b = b * p->scale[ch] + p->shift[ch];
            a = a * p->scale[ch];
        }
        for (int t = t0; t < t1; t++) {
            const float *v = j->x + t * frame + (size_t)ch * j->hw;
            float *o = j->y + t * frame + (size_t)ch * j->hw;
            if (p->silu)
                for (int i = 0; i < j->hw; i++)
                    o[i] = silu(v[i] * a + b);
            else
                for (int i = 0; i < j->hw; i++)
                    o[i] = v[i] * a + b;
        }
    }
}

static void gn_task(void *arg, int task, int thread)
{
    (void)thread;
    GnJob *j = arg;
    if (j->p->clip_scope) {
        gn_group(j, 0, j->t, task);
    } else {
        int t = task / j->p->groups;
        gn_group(j, t, t + 1, task % j->p->groups);
    }
}

void groupnorm(KernelCtx *k, const float *src, float *dst, int t, int c, int hw, const GnParams *p)
{
    GnJob j = { src, dst, t, c, hw, p };
    tp_run(k->pool, p->clip_scope ? p->groups : t * p->groups, gn_task, &j);
}

/* The int8 path's GroupNorm (groupnorm_fast): sums in 16 float lanes, a
 * polynomial exp in SiLU (Cephes' expf coefficients, about 2 ulp), so that
 * GCC vectorises it; compiled for AVX-512 and AVX2 as well. */
#define DEF_GN_STATS(NAME, ATTR)                                                          \
    ATTR static void NAME(const float *restrict v, int n, double *sum, double *sq, float mean) \
    {                                                                                     \
        float a[16] = { 0 }, b[16] = { 0 };                                               \
        int i = 0;                                                                        \
        for (; i + 16 <= n; i += 16)                                                      \
            for (int l = 0; l < 16; l++) {                                                \
                float d = v[i + l] - mean;                                                \
                a[l] += d;                                                                \
                b[l] += d * d;                                                            \
            }                                                                             \
        double s = 0, q = 0;                                                              \
        for (int l = 0; l < 16; l++) {                                                    \
            s += a[l];                                                                    \
            q += b[l];                                                                    \
        }                                                                                 \
        for (; i < n; i++) {                                                              \
            float d = v[i] - mean;                                                        \
            s += d;                                                                       \
            q += (double)d * d;                                                           \
        }                                                                                 \
        *sum += s;                                                                        \
        *sq += q;                                                                         \
    }
/* the same sums (the same bits), and the channel's minimum and maximum */
#define DEF_GN_STATS_MM(NAME, ATTR)                                                       \
    ATTR static void NAME(const float *restrict v, int n, double *sum, double *sq, float mean, \
                          float *mn_, float *mx_)                                         \
    {                                                                                     \
        float a[16] = { 0 }, b[16] = { 0 }, mn[16], mx[16];                               \
        for (int l = 0; l < 16; l++)                                                      \
            mn[l] = mx[l] = v[0];                                                         \
        int i = 0;                                                                        \
        for (; i + 16 <= n; i += 16)                                                      \
            for (int l = 0; l < 16; l++) {                                                \
                float x = v[i + l], d = x - mean;                                         \
                a[l] += d;                                                                \
                b[l] += d * d;                                                            \
                mn[l] = x < mn[l] ? x : mn[l];                                            \
                mx[l] = x > mx[l] ? x : mx[l];                                            \
            }                                                                             \
        double s = 0, q = 0;                                                              \
        float lo = mn[0], hi = mx[0];                                                     \
        for (int l = 0; l < 16; l++) {                                                    \
            s += a[l];                                                                    \
            q += b[l];                                                                    \
            lo = mn[l] < lo ? mn[l] : lo;                                                 \
            hi = mx[l] > hi ? mx[l] : hi;                                                 \
        }                                                                                 \
        for (; i < n; i++) {                                                              \
            float d = v[i] - mean;                                                        \
            s += d;                                                                       \
            q += (double)d * d;                                                           \
            lo = v[i] < lo ? v[i] : lo;                                                   \
            hi = v[i] > hi ? v[i] : hi;                                                   \
        }                                                                                 \
        *sum += s;                                                                        \
        *sq += q;                                                                         \
        *mn_ = lo;                                                                        \
        *mx_ = hi;                                                                        \
    }
#define DEF_GN_APPLY(NAME, ATTR)                                                                  \
    ATTR static void NAME(const float *restrict v, float *o, int n, float a, float b, int act)    \
    {                                                                                             \
        if (act)                                                                                  \
            for (int i = 0; i < n; i++) {                                                         \
                float y = v[i] * a + b;                                                           \
                o[i] = silu_poly(y);                                                              \
            }                                                                                     \
        else                                                                                      \
            for (int i = 0; i < n; i++)                                                           \
                o[i] = v[i] * a + b;                                                              \
    }

DEF_GN_STATS(gn_stats_c, )
DEF_GN_STATS_MM(gn_stats_mm_c, )
DEF_GN_APPLY(gn_apply_c, )
#ifdef ARG_X86_DISPATCH
DEF_GN_STATS(gn_stats_avx2, __attribute__((target("avx2,fma"))))
DEF_GN_STATS_MM(gn_stats_mm_avx2, __attribute__((target("avx2,fma"))))
DEF_GN_APPLY(gn_apply_avx2, __attribute__((target("avx2,fma"))))
DEF_GN_STATS(gn_stats_avx512, __attribute__((target("avx512f"))))
DEF_GN_STATS_MM(gn_stats_mm_avx512, __attribute__((target("avx512f"))))
DEF_GN_APPLY(gn_apply_avx512, __attribute__((target("avx512f"))))
#endif

typedef void (*GnStatsFn)(const float *, int, double *, double *, float);
typedef void (*GnStatsMmFn)(const float *, int, double *, double *, float, float *, float *);
typedef void (*GnApplyFn)(const float *, float *, int, float, float, int);

typedef struct GnFastJob {
    GnJob g;
    GnStatsFn stats;
    GnApplyFn apply;
    float *lo, *hi;               /* per (frame, group): output range, or NULL */
    /* groupnorm_fast_params: no output; per frame the channels' a, b
     * (ab), per (frame, channel) the input's min and max (cmn, cmx) */
    GnStatsMmFn stats_mm;
    float *ab, *cmn, *cmx;
} GnFastJob;

/* The range of v * a + b (then SiLU) over v in [mn, mx], computed with
 * the apply loop's float operations: exact at the ends; where the interval
 * holds SiLU's minimum (near -1.2785) the bound is that minimum, less 1e-6. */
static void gn_out_range(float mn, float mx, float a, float b, int silu, float *lo, float *hi)
{
    float u1 = mn * a + b, u2 = mx * a + b;
    float ul = u1 < u2 ? u1 : u2, uh = u1 < u2 ? u2 : u1;
    if (!silu) {
        *lo = ul;
        *hi = uh;
        return;
    }
    const float xs = -1.27846454f;
    float z1 = silu_poly(ul), z2 = silu_poly(uh);
    *lo = z1 < z2 ? z1 : z2;
    *hi = z1 < z2 ? z2 : z1;
    if (ul < xs && uh > xs) {
        float zm = silu_poly(xs) - 1e-6f;
        *lo = zm < *lo ? zm : *lo;
    }
}

/* as gn_group, in one pass over the group for the statistics: sums of
 * x - x0 and (x - x0)^2 around one of the group's values x0 (so that a
 * mean far from 0 costs no precision), then the output */
static void gn_group_fast(const GnFastJob *fj, int t0, int t1, int g)
{
    const GnJob *j = &fj->g;
    const GnParams *p = j->p;
    int cg = j->c / p->groups;
    size_t frame = (size_t)j->c * j->hw;
    double n = (double)(t1 - t0) * cg * j->hw, sum = 0, sq = 0;
    const float x0 = j->x[t0 * frame + (size_t)g * cg * j->hw];
    for (int t = t0; t < t1; t++)
        for (int ch = g * cg; ch < (g + 1) * cg; ch++) {
            const float *v = j->x + t * frame + (size_t)ch * j->hw;
            if (fj->ab)
                fj->stats_mm(v, j->hw, &sum, &sq, x0, fj->cmn + (size_t)t * j->c + ch,
                             fj->cmx + (size_t)t * j->c + ch);
            else
                fj->stats(v, j->hw, &sum, &sq, x0);
        }
    double dm = sum / n;
    float mean = (float)(x0 + dm);
    double var = sq / n - dm * dm;
    float rstd = (float)(1.0 / sqrt((var > 0 ? var : 0) + p->eps));
    for (int ch = g * cg; ch < (g + 1) * cg; ch++) {
        float a = rstd * (p->weight ? p->weight[ch] : 1.f);
        float b = (p->bias ? p->bias[ch] : 0.f) - mean * a;
        if (p->scale) {
            b = b * p->scale[ch] + p->shift[ch];
            a = a * p->scale[ch];
        }
        if (fj->ab) {
            for (int t = t0; t < t1; t++) {
                fj->ab[(size_t)t * 2 * j->c + ch] = a;
                fj->ab[(size_t)t * 2 * j->c + j->c + ch] = b;
                float l, h;
                gn_out_range(fj->cmn[(size_t)t * j->c + ch], fj->cmx[(size_t)t * j->c + ch], a, b, p->silu, &l, &h);
                float *lo = fj->lo + (size_t)t * p->groups + g, *hi = fj->hi + (size_t)t * p->groups + g;
                if (ch == g * cg)
                    *lo = *hi = 0.f;
                *lo = l < *lo ? l : *lo;
                *hi = h > *hi ? h : *hi;
            }
            continue;
        }
        for (int t = t0; t < t1; t++) {
            const float *v = j->x + t * frame + (size_t)ch * j->hw;
            float *o = j->y + t * frame + (size_t)ch * j->hw;
            fj->apply(v, o, j->hw, a, b, p->silu);
        }
    }
}

static void gn_fast_task(void *arg, int task, int thread)
{
    (void)thread;
    GnFastJob *fj = arg;
    if (fj->g.p->clip_scope) {
        gn_group_fast(fj, 0, fj->g.t, task);
    } else {
        int t = task / fj->g.p->groups;
        gn_group_fast(fj, t, t + 1, task % fj->g.p->groups);
    }
}


static void gn_pick(GnFastJob *fj)
{
#ifdef ARG_X86_DISPATCH
    const char *cap = getenv("ARG_SIMD");
    int level = cap && !strcmp(cap, "generic") ? 0 : cap && !strcmp(cap, "avx2") ? 1 : 2;
    if (level >= 2 && __builtin_cpu_supports("avx512f")) {
        fj->stats = gn_stats_avx512;
        fj->stats_mm = gn_stats_mm_avx512;
        fj->apply = gn_apply_avx512;
    } else if (level >= 1 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        fj->stats = gn_stats_avx2;
        fj->stats_mm = gn_stats_mm_avx2;
        fj->apply = gn_apply_avx2;
    }
#else
    (void)fj;
#endif
}

void groupnorm_fast(KernelCtx *k, const float *src, float *dst, int t, int c, int hw, const GnParams *p)
{
    GnFastJob fj = { { src, dst, t, c, hw, p }, gn_stats_c, gn_apply_c, NULL, NULL, gn_stats_mm_c, NULL, NULL, NULL };
    gn_pick(&fj);
    tp_run(k->pool, p->clip_scope ? p->groups : t * p->groups, gn_fast_task, &fj);
}

int groupnorm_fast_params(KernelCtx *k, const float *src, int t, int c, int hw, const GnParams *p, float *ab,
                          float *lo, float *hi)
{
    GnFastJob fj = { { src, NULL, t, c, hw, p }, gn_stats_c, gn_apply_c, NULL, NULL, gn_stats_mm_c, ab, NULL, NULL };
    gn_pick(&fj);
    size_t nr = (size_t)t * p->groups, nc = (size_t)t * c;
    fj.lo = malloc((2 * nr + 2 * nc) * sizeof(float));
    if (!fj.lo)
        return -ENOMEM;
    fj.hi = fj.lo + nr;
    fj.cmn = fj.hi + nr;
    fj.cmx = fj.cmn + nc;
    tp_run(k->pool, p->clip_scope ? p->groups : t * p->groups, gn_fast_task, &fj);
    for (int f = 0; f < t; f++) {
        float a = 0.f, b = 0.f;
        for (int g = 0; g < p->groups; g++) {
            float l = fj.lo[(size_t)f * p->groups + g], h = fj.hi[(size_t)f * p->groups + g];
            a = l < a ? l : a;
            b = h > b ? h : b;
        }
        lo[f] = a;
        hi[f] = b;
    }
    free(fj.lo);
    return 0;
}


void ref_groupnorm(float *x, int t, int c, int hw, const GnParams *p)
{
    int cg = c / p->groups;
    int nf = p->clip_scope ? t : 1;
    for (int f0 = 0; f0 < t; f0 += nf) {
        for (int g = 0; g < p->groups; g++) {
            double sum = 0, sq = 0, n = (double)nf * cg * hw;
            for (int f = f0; f < f0 + nf; f++)
                for (int ch = g * cg; ch < (g + 1) * cg; ch++)
                    for (int i = 0; i < hw; i++)
                        sum += x[((size_t)f * c + ch) * hw + i];
            double mean = sum / n;
            for (int f = f0; f < f0 + nf; f++)
                for (int ch = g * cg; ch < (g + 1) * cg; ch++)
                    for (int i = 0; i < hw; i++) {
                        double d = x[((size_t)f * c + ch) * hw + i] - mean;
                        sq += d * d;
                    }
            double rstd = 1.0 / sqrt(sq / n + p->eps);
            for (int f = f0; f < f0 + nf; f++)
                for (int ch = g * cg; ch < (g + 1) * cg; ch++)
                    for (int i = 0; i < hw; i++) {
                        float *v = &x[((size_t)f * c + ch) * hw + i];
                        double y = (*v - mean) * rstd;
                        if (p->weight)
                            y = y * p->weight[ch] + p->bias[ch];
                        if (p->scale)
                            y = y * p->scale[ch] + p->shift[ch];
                        if (p->silu)
                            y = y / (1.0 + exp(-y));
                        *v = (float)y;
                    }
        }
    }
}

/* ------------------------------------------------------------------ misc */

typedef struct AddJob {
    float *x;
    const float *y;
    size_t n, chunk;
} AddJob;

static void add_task(void *arg, int task, int thread)
{
    (void)thread;
    AddJob *j = arg;
    size_t b = (size_t)task * j->chunk, e = b + j->chunk < j->n ? b + j->chunk : j->n;
    for (size_t i = b; i < e; i++)
        j->x[i] += j->y[i];
}

void add_inplace(KernelCtx *k, float *x, const float *y, size_t n)
{
    AddJob j = { x, y, n, 1 << 16 };
    tp_run(k->pool, (int)((n + j.chunk - 1) / j.chunk), add_task, &j);
}

static void copy_task(void *arg, int task, int thread)
{
    (void)thread;
    AddJob *j = arg;
    size_t b = (size_t)task * j->chunk, e = b + j->chunk < j->n ? b + j->chunk : j->n;
    memmove(j->x + b, j->y + b, (e - b) * sizeof(float));
}

void copy_par(KernelCtx *k, float *dst, const float *src, size_t n)
{
    AddJob j = { dst, src, n, 1 << 16 };
    if (dst + n <= src || src + n <= dst)
        tp_run(k->pool, (int)((n + j.chunk - 1) / j.chunk), copy_task, &j);
    else
        memmove(dst, src, n * sizeof(float)); /* overlapping: keep it serial */
}

typedef struct D2sJob {
    const float *src;
    float *dst;
    int t, c, h, w, a, b, drop;
} D2sJob;

/* one task per input frame and channel */
static void d2s_task(void *arg, int task, int thread)
{
    (void)thread;
    const D2sJob *j = arg;
    int f = task / j->c, ch = task % j->c, a = j->a, b = j->b, h = j->h, w = j->w;
    size_t oplane = (size_t)h * b * w * b;
    for (int i = 0; i < a; i++) {
        if (j->drop && f == 0 && i == 1)
            continue;
        int out = f * a + i - (j->drop && f > 0 ? 1 : 0);
        float *o = j->dst + ((size_t)out * j->c + ch) * oplane;
        for (int jy = 0; jy < b; jy++)
            for (int kx = 0; kx < b; kx++) {
                const float *s = j->src + (((size_t)f * j->c * a * b * b) +
                                           (size_t)(((i * b + jy) * b + kx) * j->c + ch)) * h * w;
                for (int y = 0; y < h; y++) {
                    float *orow = o + (size_t)(y * b + jy) * w * b + kx;
                    const float *srow = s + (size_t)y * w;
                    for (int x = 0; x < w; x++)
                        orow[x * b] = srow[x];
                }
            }
    }
}

int depth_to_space_par(KernelCtx *k, const float *src, int t, int c, int h, int w, int a, int b,
                       int drop_first, float *dst)
{
    D2sJob j = { src, dst, t, c, h, w, a, b, drop_first && a == 2 };
    tp_run(k->pool, t * c, d2s_task, &j);
    return t * a - j.drop;
}

int depth_to_space(const float *src, int t, int c, int h, int w, int a, int b, int drop_first,
                   float *dst)
{
    int oh = h * b, ow = w * b, out = 0;
    size_t oplane = (size_t)oh * ow;
    for (int f = 0; f < t; f++) {
        for (int i = 0; i < a; i++) {
            if (drop_first && f == 0 && i == 1)
                continue;
            float *o = dst + (size_t)out * c * oplane;
            for (int ch = 0; ch < c; ch++)
                for (int jy = 0; jy < b; jy++)
                    for (int kx = 0; kx < b; kx++) {
                        const float *s = src + (((size_t)f * c * a * b * b) +
                                                (size_t)(((i * b + jy) * b + kx) * c + ch)) * h * w;
                        for (int y = 0; y < h; y++) {
                            float *orow = o + (size_t)ch * oplane + (size_t)(y * b + jy) * ow + kx;
                            const float *srow = s + (size_t)y * w;
                            for (int x = 0; x < w; x++)
                                orow[x * b] = srow[x];
                        }
                    }
            out++;
        }
    }
    return out;
}

void space_to_depth(const float *src, int t, int c, int h, int w, int p, float *dst)
{
    int oh = h / p, ow = w / p;
    for (int f = 0; f < t; f++)
        for (int i = 0; i < p; i++)
            for (int jx = 0; jx < p; jx++)
                for (int ch = 0; ch < c; ch++) {
                    float *o = dst + ((size_t)f * c * p * p + (size_t)((i * p + jx) * c + ch)) * oh * ow;
                    const float *s = src + ((size_t)f * c + ch) * h * w;
                    for (int y = 0; y < oh; y++)
                        for (int x = 0; x < ow; x++)
                            o[(size_t)y * ow + x] = s[(size_t)(y * p + i) * w + x * p + jx];
                }
}

void lfq_tokens(const float *z, int bits, int n, uint32_t *tokens)
{
    for (int i = 0; i < n; i++)
        tokens[i] = 0;
    for (int b = 0; b < bits; b++)
        for (int i = 0; i < n; i++)
            tokens[i] |= (uint32_t)(z[(size_t)b * n + i] > 0.f) << b;
}

void lfq_dequant(const uint32_t *tokens, int bits, int n, float *q)
{
    for (int b = 0; b < bits; b++)
        for (int i = 0; i < n; i++)
            q[(size_t)b * n + i] = (tokens[i] >> b & 1) ? 1.f : -1.f;
}
