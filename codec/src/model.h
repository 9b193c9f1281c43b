/* Internal model representation: validated config and the op lists. */
#ifndef ARG_MODEL_H
#define ARG_MODEL_H

#include "arg/arg.h"
#include "kernels.h"

#define ARG_MAX_LEVELS 6
#define ARG_MAX_BITS 24
#define ARG_MAX_CLIP 129

typedef struct ArgConfig {
    int in_channels, patch, base, levels;
    int mult[ARG_MAX_LEVELS], enc_blocks[ARG_MAX_LEVELS], dec_blocks[ARG_MAX_LEVELS];
    int mid_blocks;
    int down_t[ARG_MAX_LEVELS], down_s[ARG_MAX_LEVELS]; /* levels-1 entries */
    int groups;
    float eps;
    int clip_scope, clip_frames, replicate, adaptive, agn_unbiased, bits;
    int ft, fs;                                          /* derived */
} ArgConfig;

typedef struct Norm {
    int c, groups;
    const float *w, *b;               /* affine, or NULL */
    const float *gw, *gb, *bw, *bb;   /* adaptive: gamma/beta Linear(bits -> c) */
} Norm;

enum OpKind { OP_S2D, OP_CONV, OP_RES, OP_NORM_SILU, OP_LEVEL_NORM, OP_D2S };

typedef struct Op {
    int kind;
    ConvW conv;      /* OP_CONV; the upsample conv of OP_D2S is a separate OP_CONV */
    int slot;        /* cache slot of conv */
    Norm n1, n2;     /* OP_RES norms; OP_NORM_SILU / OP_LEVEL_NORM use n1 */
    ConvW c1, c2, sc;
    int slot1, slot2, has_sc;
    int a, b;        /* OP_D2S temporal and spatial block; OP_S2D: b = patch */
} Op;

typedef struct Net {
    Op *ops;
    int n_ops, cap;
    int n_slots;
} Net;

struct ArgModel {
    ArgConfig cfg;
    ArgModelInfo info;
    Net enc, dec;
    float *arena;        /* all weights as f32 */
};

int config_parse(ArgConfig *cfg, const char *json, char *err, size_t errlen);

#endif
