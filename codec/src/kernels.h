/* Tokenizer kernels: plain-C references (ref_*) and the fast paths. */
#ifndef ARG_KERNELS_H
#define ARG_KERNELS_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "threadpool.h"

#define ARG_MR 6   /* rows of the packed weight panels */
#define ARG_MR8 12 /* rows of the packed int8 weight panels */
#define ARG_NR8 32 /* columns (output pixels) of one int8 microkernel call */

typedef struct ConvW {
    int ci, co, kt, ks, st, ss;   /* kernel (kt, ks, ks), stride (st, ss, ss) */
    int K;                        /* ci * kt * ks * ks */
    const float *w;               /* [co][ci][kt][ks][ks] */
    const float *bias;            /* [co] or NULL */
    float *wpack;                 /* [ceil(co/MR)][K][MR], zero-padded, followed
                                     by the int8 arrays (conv_q8) */
} ConvW;

/* The int8 weights of a packed convolution, stored after wpack's floats:
 * qscale[co] per-output-channel scales, qsum[co] the sums over k of the
 * int8 weights, qpack [ceil(co/MR8)][K4][MR8][4], zero-padded, with
 * K4 = taps * ci4 (taps = kt*ks*ks, ci4 = ceil(ci/4)): row k4 = tap * ci4 + g
 * holds input channels 4g..4g+3 of one tap, matching activations stored as
 * [ci4][h][w][4] bytes. */
typedef struct ConvQ8 {
    int K4;
    const float *qscale;
    const int32_t *qsum;
    const int8_t *qpack;
} ConvQ8;

static inline ConvQ8 conv_q8(const ConvW *c)
{
    ConvQ8 q;
    q.K4 = c->kt * c->ks * c->ks * ((c->ci + 3) / 4);
    q.qscale = c->wpack + (size_t)((c->co + ARG_MR - 1) / ARG_MR) * c->K * ARG_MR;
    q.qsum = (const int32_t *)(const void *)(q.qscale + c->co);
    q.qpack = (const int8_t *)(const void *)(q.qsum + c->co);
    return q;
}

static inline int conv_out_dim(int n, int k, int s)
{
    return (n + 2 * (k / 2) - k) / s + 1;
}

/* Pack c->w into c->wpack (allocated here), followed by its symmetric
 * per-channel int8 quantisation (conv_q8; free(wpack) frees all). Returns 0
 * or -ENOMEM. */
int conv_pack(ConvW *c);

enum { GEMM_REF = 1, GEMM_BUILTIN = 2, GEMM_BLAS = 3, GEMM_INT8 = 4 };

/* The path ARG_GEMM_AUTO stands for, by a rule that gives the same pixels
 * on every run of a machine: the encoder takes the builtin float GEMM
 * (faster than OpenBLAS in argbench --table on the default model), the
 * decoder the int8 path when the CPU has AVX2 or AVX-512 VNNI (its pixels
 * are within spec/precision.md's tolerance of the float path), else the
 * builtin GEMM. With the environment variable ARG_GEMM_AUTO=measure, the
 * choice follows the calibration instead. rates (may be NULL) receive the
 * calibration's one-thread GMAC/s of builtin, BLAS and int8 (0 when not
 * built) on a decoder-shaped convolution, measured once per process. */
int kctx_auto_gemm(int is_dec, double rates[3]);
typedef struct KernelCtx {
    TpPool *pool;
    int gemm;                     /* GEMM_* */
    float **col;                  /* per-thread im2col buffers */
    size_t *col_size;             /* floats */
    int n_threads;
    uint8_t *q8;                  /* int8 path: quantised input frames */
    size_t q8_size;               /* bytes */
} KernelCtx;

/* malloc for activation-sized buffers: from 4 MiB up, aligned to 2 MiB and
 * marked for transparent huge pages (Linux), which cuts first-touch page
 * faults 512-fold and TLB misses; free() releases it. */
void *arg_alloc_big(size_t bytes);

int kctx_init(KernelCtx *k, int n_threads, int gemm);
void kctx_free(KernelCtx *k);
int kctx_have_blas(void);
/* The machine's peak GMAC/s over k's threads: the float microkernel of
 * kctx_isa() (int8 0) or the best int8 one (int8 1), each on panels that
 * stay in the L1/L2 cache (the pool runs one task per thread). */
double kctx_peak_gmacs(KernelCtx *k, int int8);
/* Name of the builtin GEMM microkernel picked for this CPU. */
const char *kctx_isa(void);
/* Name of the int8 microkernel picked for this CPU (ARG_SIMD caps it too). */
const char *kctx_isa8(void);

/* int8 microkernels: c[MR8][NR8] = sum over k4 < K4, r < 4 of
 * a[k4][m][r] * b_k4[x][r] in exact int32, where b_k4 = brow[k4] + off
 * holds NR8 pixels of 4 bytes (a: signed weights, b: unsigned activations).
 * Row pointers let the same kernel read an im2col panel or, for a stride-1
 * convolution, the padded input frames themselves. All variants give the
 * same result. */
typedef void (*Micro8Fn)(int K4, const int8_t *a, const uint8_t *const *brow, ptrdiff_t off, int32_t *c);
void micro8_c(int K4, const int8_t *a, const uint8_t *const *brow, ptrdiff_t off, int32_t *c);
/* The variant for level 0 (C), 1 (AVX2), 2 (AVX-512 VNNI); NULL when the
 * CPU or the build lacks it. */
Micro8Fn micro8_get(int level);
/* The variant the int8 convolutions use: kctx_isa8()'s. */
Micro8Fn micro8_active(void);

/* n_out output frames; output frame o reads src[o*st .. o*st+kt-1] (frames of
 * ci x h x w). dst: n_out frames of co x ho x wo. replicate: pad by edge
 * values instead of zeros (spatially; temporal padding is the caller's).
 * Returns 0 or -ENOMEM. */
int conv3d(KernelCtx *k, const ConvW *c, const float *const *src, int n_out, int h, int w,
           int replicate, float *dst);
/* The same on the int8 path: the input frames are quantised to u8 with one
 * scale and zero point over all frames the call reads, the weights are
 * conv_q8(c), accumulation is exact int32; then scaled back to float. */
int conv3d_int8(KernelCtx *k, const ConvW *c, const float *const *src, int n_out, int h, int w,
                int replicate, float *dst);
/* The same, given the range of every frame src[i] reads: lo[i] = min(0,
 * min src[i]), hi[i] = max(0, max src[i]), or bounds on them (lo below,
 * hi above: groupnorm_fast_params gives such), without conv3d_int8's pass
 * over the inputs for the range; exact values give its result. A NAN in lo
 * or hi falls back to that pass. */
int conv3d_int8_ranged(KernelCtx *k, const ConvW *c, const float *const *src, int n_out, int h, int w,
                       int replicate, float *dst, const float *lo, const float *hi);
/* The same with each input frame's GroupNorm (+ SiLU when silu) applied as
 * it is quantised: ab[i] (NULL: none) holds frame i's a[ci], b[ci] from
 * groupnorm_fast_params, which gives lo and hi too (they must be known
 * then: -EINVAL otherwise); the norm's float output is never written.
 * Frames repeat (same src and ab pointers) as in conv3d_int8. keep (may be
 * NULL) names, per input frame, a frame-sized buffer that receives its
 * values as quantised (after the norm), written by the same pass: the causal
 * cache's copy without a pass of its own. */
/* Depth-to-space by (a, 2, 2) written by the convolution (d2s, may be
 * NULL): c output channels; drop_first: the call's first output frame is
 * the stream's first, which gives one picture (depth_to_space's drop_first).
 * The convolution's channels must be in d2s_permute's order. */
typedef struct D2sOut {
    int a, c, drop_first;
} D2sOut;
int conv3d_int8_ex(KernelCtx *k, const ConvW *c, const float *const *src, const float *const *ab, int silu,
                   int n_out, int h, int w, int replicate, float *dst, const float *lo, const float *hi,
                   float *const *keep, const D2sOut *d2s);
/* out = c with its output channels reordered for conv3d_int8_ex's
 * depth-to-space: new channel 2 q + kx (q = (i * 2 + jy) * oc + ch) is old
 * channel ((i * 2 + jy) * 2 + kx) * oc + ch (depth_to_space's order), for
 * oc = co / (a * 4); then packed (conv_pack). out->w and out->bias are
 * allocated here; free them and out->wpack. Returns 0 or -ENOMEM. */
int d2s_permute(const ConvW *c, int a, ConvW *out);
void ref_conv3d(const ConvW *c, const float *const *src, int n_out, int h, int w,
                int replicate, float *dst);

typedef struct GnParams {
    int groups;                   /* divides c */
    float eps;
    const float *weight, *bias;   /* affine per channel, or NULL */
    const float *scale, *shift;   /* adaptive per channel, or NULL (after affine) */
    int silu;                     /* apply x*sigmoid(x) after */
    int clip_scope;               /* statistics over all t frames together */
} GnParams;

/* t frames of c x hw from src into dst (dst may be src). */
void groupnorm(KernelCtx *k, const float *src, float *dst, int t, int c, int hw, const GnParams *p);
void ref_groupnorm(float *x, int t, int c, int hw, const GnParams *p);
/* e^x by a polynomial (Cephes' expf coefficients, about 2 ulp) that GCC
 * vectorises; the same bits on every SIMD level (no fused multiply-adds:
 * the build contracts none). groupnorm_fast's SiLU is y / (1 + exp_poly(-y)). */
static inline float exp_poly(float x)
{
    x = x < -87.f ? -87.f : x > 88.f ? 88.f : x;
    float n = rintf(x * 1.44269504088896341f);
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float q = 1.9875691500E-4f;
    q = q * r + 1.3981999507E-3f;
    q = q * r + 8.3334519073E-3f;
    q = q * r + 4.1665795894E-2f;
    q = q * r + 1.6666665459E-1f;
    q = q * r + 5.0000001201E-1f;
    q = q * r * r + r + 1.f;
    union {
        int32_t i;
        float f;
    } e;
    e.i = ((int32_t)n + 127) << 23;
    return q * e.f;
}


static inline float silu_poly(float y)
{
    return y / (1.f + exp_poly(-y));
}

/* The same function vectorised (other float rounding, a polynomial exp in
 * SiLU): within 1e-5 of ref_groupnorm; the int8 path's norm (the float
 * paths keep groupnorm, whose bits the conformance vectors fix). */
void groupnorm_fast(KernelCtx *k, const float *src, float *dst, int t, int c, int hw, const GnParams *p);
/* groupnorm_fast without writing its output: per frame f the channels'
 * y = x * a + b (then SiLU when p->silu) as ab[f*2c + ch] = a,
 * ab[f*2c + c + ch] = b (the same values groupnorm_fast applies), and a
 * bound on each output frame's range: lo[f] <= min(0, min y), hi[f] =
 * max(0, max y) (exact but where a channel's interval holds SiLU's minimum).
 * Returns 0 or -ENOMEM. */
int groupnorm_fast_params(KernelCtx *k, const float *src, int t, int c, int hw, const GnParams *p, float *ab,
                          float *lo, float *hi);

/* x += y over n floats (threaded) */
void add_inplace(KernelCtx *k, float *x, const float *y, size_t n);
/* memcpy over the threads */
void copy_par(KernelCtx *k, float *dst, const float *src, size_t n);

/* Depth-to-space: t frames of (c*a*b*b) x h x w -> frames of c x (h*b) x (w*b).
 * With a = 2, input frame i gives output frames 2i, 2i+1; drop_first drops
 * output frame 1 (the second of the first pair). Returns output frames. */
int depth_to_space(const float *src, int t, int c, int h, int w, int a, int b, int drop_first,
                   float *dst);
/* The same, split over the threads. */
int depth_to_space_par(KernelCtx *k, const float *src, int t, int c, int h, int w, int a, int b,
                       int drop_first, float *dst);
/* Space-to-depth by p: t frames of c x h x w -> (c*p*p) x (h/p) x (w/p). */
void space_to_depth(const float *src, int t, int c, int h, int w, int p, float *dst);

/* LFQ: z is bits planes of n; tokens[i] = sum_c [z_c > 0] << c. */
void lfq_tokens(const float *z, int bits, int n, uint32_t *tokens);
/* Inverse: q_c = 2 * bit_c - 1. */
void lfq_dequant(const uint32_t *tokens, int bits, int n, float *q);

#endif
