/* Runs a Net over chunks of frames, keeping per-convolution causal caches. */
#ifndef ARG_EXEC_H
#define ARG_EXEC_H

#include "model.h"

typedef struct ConvState {
    float *hist;       /* up to kt-1 frames kept from earlier chunks; the
                          int8 path has two sets (hset: the current one): a
                          call writes the frames it keeps into the other */
    int hset;
    int nhist;
    int started;
    size_t frame;      /* floats per frame */
    float hlo[4], hhi[4]; /* int8 path: the range of each kept frame (NAN: unknown) */
} ConvState;

/* int8 path: a norm not yet applied (groupnorm_fast_params): frame t's
 * channels are x * ab[t*2c + ch] + ab[t*2c + c + ch], then SiLU when silu;
 * the ranges are in Exec.rlo / rhi. The convolution reading x applies it
 * while quantising (conv3d_int8_ex). */
typedef struct Pend {
    const float *ab;
    int c, silu;
} Pend;

typedef struct Shape {
    int t, c, h, w;
} Shape;

typedef struct Exec {
    const ArgModel *m;
    const Net *net;
    KernelCtx *k;
    ConvState *cs;
    float *buf[3];
    size_t bufcap;     /* floats per buffer */
    float *zero;       /* a zero frame (largest conv input frame) */
    const float **seq;
    int seqcap;
    /* int8 path: the range bounds of a pending norm's frames (rlo, rhi) and
     * of a convolution's input sequence (seqlo, seqhi; NAN: unknown) */
    float *rlo, *rhi, *seqlo, *seqhi;
    int no_fuse;       /* ARG_INT8_FUSE=0 */
    float *pab;        /* a pending norm's a, b: seqcap frames x 2 x maxc */
    const float **seqab; /* per frame of a convolution's input sequence: its norm's a, b or NULL */
    float **seqkeep;   /* ... and where the int8 pass writes it for the cache, or NULL */
    Pend pend;         /* OP_NORM_SILU's, for the OP_CONV after it (pend.ab NULL: none) */
    ConvW *d2sw;       /* int8 path, per op: a convolution that writes the depth-to-space
                          after it itself, its channels reordered (d2s_permute); w NULL: none */
    int first;         /* next chunk is the first since reset */
    float *scale, *shift;               /* adaptive norm, per channel */
    float style_std[ARG_MAX_BITS], style_mean[ARG_MAX_BITS];
    double prof[8];    /* ARG_PROFILE: seconds per kind of op */
} Exec;

/* Plan for chunks of up to max_t input frames of shape in (c,h,w). */
int exec_init(Exec *e, const ArgModel *m, const Net *net, KernelCtx *k, Shape in, int max_t);
void exec_free(Exec *e);
void exec_reset(Exec *e);
/* Input in e->buf[0] with shape *s; on return *s is the output shape and the
 * result is in e->buf[return value] (>= 0), or a negative errno. */
int exec_run(Exec *e, Shape *s);
/* Decoder: set the adaptive-norm style from the chunk's input q (t frames of
 * bits x n), per spec §4.6. */
void exec_set_style(Exec *e, const float *q, int t, int n);

#endif
