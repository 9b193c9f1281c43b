/* ARG-Poet internals: the loaded model and the ops of its forward pass,
 * each with a plain-C reference (ref_*) and a fast path. Activations are
 * channel-major: a [c][n] array holds channel c of position p at c * n + p,
 * so that the linear layers are 1x1 convolutions on the tokenizer's GEMM. */
#ifndef ARG_SYNTH_POET_H
#define ARG_SYNTH_POET_H

#include <stddef.h>
#include <stdint.h>

#include "arg/synth.h"
#include "../kernels.h"

#define POET_MAX_CONTEXT 8
#define POET_MAX_ANCHOR 16
#define POET_GROUPS 4
#define POET_BIT_GROUP 6

typedef struct PoetLayer {
    const float *ln1_w, *ln1_b, *ln2_w, *ln2_b;
    ConvW qkv, out, fc1, fc2;     /* 1x1 "convolutions": weights [co][ci] */
    const float *rel;             /* [h][w][w] */
} PoetLayer;

struct ArgPoet {
    ArgPoetInfo info;
    int B, d, L, h, m, K, w, D;
    float eps;
    const float *cur, *cur_bias, *mask;       /* [d][B], [d], [d] */
    const float *past[POET_MAX_CONTEXT];      /* [d][B] each */
    const float *past_none;                   /* [K][d] */
    const float *anchor, *anchor_dist, *anchor_none; /* [d][B], [D][d], [d] */
    const float *task, *key;                  /* [4][d], [2][d] */
    PoetLayer *layers;
    const float *out_w, *out_b;               /* out.ln */
    const float *bits_w, *bits_b, *bits_ar;   /* [B][d], [B], [B][B] */
    float *arena;
};

/* group of position (y, x): spec §4 */
static inline int poet_group(int y, int x)
{
    static const int lut[4] = { 0, 3, 2, 1 };
    return lut[(y & 1) * 2 + (x & 1)];
}

/* ---- ops (x and y [c][n]; the fast ones split over k's threads) ---- */

/* LayerNorm over the c channels of each of n positions: y = LN(x). */
void poet_layernorm(KernelCtx *k, const float *x, float *y, int c, int n, const float *w,
                    const float *b, float eps);
void ref_poet_layernorm(const float *x, float *y, int c, int n, const float *w, const float *b,
                        float eps);
/* Exact GELU in place over n floats. */
void poet_gelu(KernelCtx *k, float *x, size_t n);
void ref_poet_gelu(float *x, size_t n);
/* Windowed attention (§3.3): qkv [3d][H*W] -> o [d][H*W]. scratch: per
 * thread poet_attn_scratch(w, W) floats (fast path only). */
size_t poet_attn_scratch(int w, int W);
void poet_attention(KernelCtx *k, const float *qkv, float *o, int d, int heads, int w,
                    const float *rel, int H, int W, float *const *scratch);
void ref_poet_attention(const float *qkv, float *o, int d, int heads, int w, const float *rel,
                        int H, int W);
/* Linear layer as a 1x1 convolution: x [ci][n] -> y [co][n]. */
int poet_linear(KernelCtx *k, const ConvW *c, const float *x, float *y, int n);

/* Bit logits (§3.5) of one position: base[i] = bits_w[i]·h + bits_b[i];
 * h is strided (channel c at h[c * stride]). */
void poet_bit_base(const ArgPoet *p, const float *h, ptrdiff_t stride, double *base);

/* u of §5 */
uint64_t poet_splitmix64(uint64_t z);
double poet_uniform(uint64_t seed, uint64_t t, uint64_t y, uint64_t x, uint64_t group);

/* §5: choose the token of one position from its base logits. */
uint32_t poet_choose(const ArgPoet *p, const double *base, double temperature, int top_k,
                     double top_p, uint64_t seed, uint64_t t, int y, int x);
/* -log2 P(token) given the base logits (§3.5 with the token's own bits). */
double poet_token_bits(const ArgPoet *p, const double *base, uint32_t token);

#endif
