/*
 * ARG — synthesis: ARG-Poet, the token transformer (spec/poet.md).
 *
 * A poet model reads and writes grids of LFQ tokens of one tokenizer. It
 * continues a video, fills a masked region (inpainting, outpainting) or
 * interpolates towards a later latent frame, one latent frame at a time:
 * each frame is decoded in four steps over interleaved position groups
 * (spec §4), each bit group of a token chosen greedily or sampled (§5).
 * An ArgSynth keeps the last K latent frames (the window cache), so the
 * cost of a latent frame does not grow with the length of the video.
 *
 * All functions return 0 or a positive count on success and a negative
 * errno value on failure.
 */
#ifndef ARG_SYNTH_H
#define ARG_SYNTH_H

#include <stddef.h>
#include <stdint.h>

#include "arg/arg.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ArgPoet ArgPoet;

typedef struct ArgPoetInfo {
    char name[64];             /* metadata "name" */
    uint64_t id;               /* XXH3-64 of the data section */
    uint64_t tokenizer_id;     /* the tokenizer's model ID (metadata "tokenizer_id") */
    char tokenizer_name[64];   /* metadata "tokenizer_name" */
    int token_bits;            /* B */
    int dim, layers, heads, mlp;
    int context;               /* K: past latent frames read */
    int window;                /* w: spatial attention window (odd) */
    int anchor_max;            /* D: largest anchor distance */
    float ln_eps;
    int64_t params;
    char config_json[1024];    /* as stored (truncated if longer) */
} ArgPoetInfo;

/* Load a poet file (F32 or F16 tensors). On failure returns a negative
 * errno and, when err is not NULL, a message naming the problem. */
ARG_API int arg_poet_load(ArgPoet **out, const char *path, char *err, size_t errlen);
ARG_API int arg_poet_load_memory(ArgPoet **out, const void *data, size_t size, char *err,
                                 size_t errlen);
ARG_API void arg_poet_free(ArgPoet *poet);
ARG_API const ArgPoetInfo *arg_poet_info(const ArgPoet *poet);

enum ArgPoetTask {
    ARG_POET_CONTINUE = 0,
    ARG_POET_INPAINT = 1,
    ARG_POET_OUTPAINT = 2,
    ARG_POET_INTERPOLATE = 3,
};

typedef struct ArgSynthSettings {
    int n_threads;             /* 0 = one per online core */
    int gemm;                  /* enum ArgGemm; ARG_GEMM_REFERENCE also makes every other op
                                  the plain-C reference */
    double temperature;        /* 0 = greedy */
    int top_k;                 /* 0 = no limit */
    double top_p;              /* 1 = no limit; (0, 1] */
    uint64_t seed;
    int reserved[16];          /* must be zero */
} ArgSynthSettings;

ARG_API void arg_synth_default_settings(ArgSynthSettings *s);

/* What is given about the latent frame to make. */
typedef struct ArgSynthFrame {
    int task;                  /* enum ArgPoetTask */
    int keyframe;              /* the frame is a GOP's first latent frame */
    uint64_t t;                /* frame index, for the random numbers (§5) */
    const uint8_t *known;      /* tokens_w * tokens_h flags: 1 where the token is given; NULL:
                                  nothing is */
    const uint32_t *anchor;    /* the anchor frame (interpolation), or NULL */
    int anchor_dist;           /* 1..anchor_max when anchor is set */
} ArgSynthFrame;

typedef struct ArgSynth ArgSynth;

/* An engine for grids of tokens_w x tokens_h (each 1..ARG_TOKEN_MAX_DIM). */
ARG_API int arg_synth_open(ArgSynth **out, const ArgPoet *poet, int tokens_w, int tokens_h,
                           const ArgSynthSettings *s);
ARG_API void arg_synth_close(ArgSynth *e);
/* Forget the past latent frames (the window cache). */
ARG_API void arg_synth_reset(ArgSynth *e);
/* Append a latent frame to the window cache (the newest past frame). */
ARG_API int arg_synth_push(ArgSynth *e, const uint32_t *tokens);
/* Past frames held (0..K). */
ARG_API int arg_synth_history(const ArgSynth *e);
/* Make one latent frame: tokens holds the given tokens where f->known is
 * set and receives the whole frame, which is then appended to the window
 * cache. -EINVAL for a token >= 2^B or a bad frame description. */
ARG_API int arg_synth_generate(ArgSynth *e, const ArgSynthFrame *f, uint32_t *tokens);
/* Code length (spec §4) of tokens given the past: *bits = sum over the
 * positions the task does not give of -log2 P(token). The frame is then
 * appended to the window cache. */
ARG_API int arg_synth_measure(ArgSynth *e, const ArgSynthFrame *f, const uint32_t *tokens,
                              double *bits);
/* One forward pass (§3) with the current state cur/known (known NULL:
 * nothing known) and the window cache as the past: logits receives, per
 * position (row-major), the B bit logits of §3.5 with the bits before each
 * taken from target (teacher forcing). Does not change the cache. */
ARG_API int arg_synth_logits(ArgSynth *e, const ArgSynthFrame *f, const uint32_t *cur,
                             const uint32_t *target, float *logits);
/* A short description, e.g. "cpu (avx512 (6x32), 2 threads)". */
ARG_API const char *arg_synth_backend(const ArgSynth *e);

#ifdef __cplusplus
}
#endif
#endif /* ARG_SYNTH_H */
