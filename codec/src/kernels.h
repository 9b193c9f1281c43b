/* Tokenizer kernels: plain-C references (ref_*) and the fast paths. */
#ifndef ARG_KERNELS_H
#define ARG_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "threadpool.h"

#define ARG_MR 6   /* rows of the packed weight panels */

typedef struct ConvW {
    int ci, co, kt, ks, st, ss;   /* kernel (kt, ks, ks), stride (st, ss, ss) */
    int K;                        /* ci * kt * ks * ks */
    const float *w;               /* [co][ci][kt][ks][ks] */
    const float *bias;            /* [co] or NULL */
    float *wpack;                 /* [ceil(co/MR)][K][MR], zero-padded */
} ConvW;

static inline int conv_out_dim(int n, int k, int s)
{
    return (n + 2 * (k / 2) - k) / s + 1;
}

/* Pack c->w into c->wpack (allocated here). Returns 0 or -ENOMEM. */
int conv_pack(ConvW *c);

enum { GEMM_REF = 1, GEMM_BUILTIN = 2, GEMM_BLAS = 3 };

typedef struct KernelCtx {
    TpPool *pool;
    int gemm;                     /* GEMM_* */
    float **col;                  /* per-thread im2col buffers */
    size_t *col_size;             /* floats */
    int n_threads;
} KernelCtx;

int kctx_init(KernelCtx *k, int n_threads, int gemm);
void kctx_free(KernelCtx *k);
int kctx_have_blas(void);
/* Name of the builtin GEMM microkernel picked for this CPU. */
const char *kctx_isa(void);

/* n_out output frames; output frame o reads src[o*st .. o*st+kt-1] (frames of
 * ci x h x w). dst: n_out frames of co x ho x wo. replicate: pad by edge
 * values instead of zeros (spatially; temporal padding is the caller's).
 * Returns 0 or -ENOMEM. */
int conv3d(KernelCtx *k, const ConvW *c, const float *const *src, int n_out, int h, int w,
           int replicate, float *dst);
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
