/*
 * Token coding of ARG: the context model that codes one latent frame of
 * tokens with the adaptive binary range coder of rangecoder.h.
 *
 * Normative description (spec/bitstream.md quotes it)
 * ---------------------------------------------------
 * Known to both sides (sequence header, GOP position): B = bits per token
 * (1..24), the grid W x H (tokens_w x tokens_h), the adaptation limit R
 * (entropy-coder parameter, 1..8, default ENT_RATE_MAX_DEFAULT = 5), and
 * whether the frame has a previous latent frame P in its GOP (every latent
 * frame of a GOP but the first).
 *
 * State: B * 126 + 486 adaptive probabilities (rangecoder.h): the per-bit
 * set A (126 for each bit index b, numbers b * 126 + sa) followed by one
 * shared set S (486, numbers B * 126 + ss). All are set to (p = 32768,
 * n = 0) at the start of every GOP (ent_ctx_reset) and carried from one
 * latent frame to the next within a GOP.
 *
 * One latent frame is one range-coded stream (rangecoder.h: fresh coder
 * state, finish byte at the end, and its decoder must end having read
 * exactly size + 3 bytes, counting the zeros read past the end). It holds
 * the tokens T[y][x] in raster order (y = 0..H-1, then x = 0..W-1) and,
 * within a token, its bits from bit 0 (least significant) to bit B-1.
 * For bit b of T[y][x], with v.b meaning bit b of token v:
 *
 *   neighbour digits, each v.b if the token exists, else 2:
 *     l  = T[y][x-1].b     (exists when x > 0)
 *     a  = T[y-1][x].b     (exists when y > 0)
 *     al = T[y-1][x-1].b   (exists when x > 0 and y > 0)
 *     ar = T[y-1][x+1].b   (exists when y > 0 and x < W-1)
 *     q  = P[y][x].b       (exists when the frame has a previous frame)
 *   temporal class tq (0..6):
 *     no previous frame: tq = 0; otherwise let k be the number of tokens
 *     that exist among P[y][x], P[y-1][x], P[y+1][x], P[y][x-1], P[y][x+1]
 *     (1..5; P[y][x] always does) and m how many of them have bit b set;
 *     if q = 0: tq = 1 if m = 0, else 2 if 2m < k, else 3;
 *     if q = 1: tq = 6 if m = k, else 4 if 2m < k, else 5.
 *   match flag mq = 1 if the frame has a previous frame and bits 0..b-1 of
 *     T[y][x] equal bits 0..b-1 of P[y][x] (always so for b = 0), else 0.
 *
 *   sa = ((l * 3 + a) * 7 + tq) * 2 + mq                         (0..125)
 *   ss = ((((l * 3 + a) * 3 + al) * 3 + ar) * 3 + q) * 2 + mq    (0..485)
 *
 * The bit is coded with probability (of a 0)  p = (pA + pS + 1) >> 1,
 * where pA, pS are the p of contexts A[b][sa] and S[ss]; then both contexts
 * are updated with the bit (rangecoder.h, limit R), A first (the order does
 * not matter: they are distinct).
 *
 * Nothing else is in the stream: no header, no escape, no padding.
 */
#ifndef ARG_ENTROPY_H
#define ARG_ENTROPY_H

#include <stddef.h>
#include <stdint.h>

#include "rangecoder.h"

#define ENT_MAX_BITS 24
#define ENT_MAX_DIM 8192                        /* tokens per side */
#define ENT_MAX_TOKENS ((size_t)1 << 22)        /* tokens per latent frame */
#define ENT_CTX_PER_BIT 126                     /* 3 * 3 * 7 * 2 */
#define ENT_CTX_SHARED 486                      /* 3^5 * 2 */
#define ENT_RATE_MAX_DEFAULT RC_RATE_MAX_DEFAULT

typedef struct EntCtx {
    int bits;              /* B */
    unsigned rate_max;     /* R */
    RcProb *probs;         /* bits * ENT_CTX_PER_BIT + ENT_CTX_SHARED */
    size_t nprobs;
} EntCtx;

/* Allocate the state for B = bits (1..ENT_MAX_BITS) and adaptation limit
 * rate_max (1..RC_RATE_MAX_LIMIT; 0 = ENT_RATE_MAX_DEFAULT), reset it.
 * Returns 0, -EINVAL or -ENOMEM. */
int ent_ctx_init(EntCtx *c, int bits, unsigned rate_max);
/* Start a GOP (a keyframe): every context back to its initial state. */
void ent_ctx_reset(EntCtx *c);
void ent_ctx_free(EntCtx *c);

/* Code one latent frame: tokens (tw * th, row-major, each < 2^bits),
 * prev_tokens the previous latent frame of the GOP (tw * th, not aliasing
 * tokens) or NULL (only its low `bits` bits are used). The stream is appended to buf. Returns its size
 * in bytes (>= 1) or a negative errno (-EINVAL for bad arguments or a
 * token out of range, -ENOMEM, -E2BIG). On failure the context state is
 * undefined until the next ent_ctx_reset. */
int64_t ent_encode_frame(EntCtx *c, const uint32_t *tokens, int tw, int th,
                         const uint32_t *prev_tokens, RcBuffer *buf);

/* The same, adding to bit_cost[b] (bits entries, when not NULL) the rate
 * estimate (rc_enc_tell_frac differences, 1/8 bits) of every bit b coded.
 * For analysis only; the stream is the same. */
int64_t ent_encode_frame_cost(EntCtx *c, const uint32_t *tokens, int tw, int th,
                              const uint32_t *prev_tokens, RcBuffer *buf, uint64_t *bit_cost);

/* Decode one latent frame of `size` bytes into tokens (tw * th entries).
 * Returns 0 or a negative errno: -EINVAL for bad arguments, -EBADMSG when
 * the stream is not exactly one coded frame (truncated, trailing bytes,
 * corrupt). On -EBADMSG the tokens hold whatever was decoded (each still
 * < 2^bits) and the context state is undefined until the next
 * ent_ctx_reset. Work is bounded by tw * th * bits whatever the input. */
int ent_decode_frame(EntCtx *c, const uint8_t *data, size_t size, int tw, int th,
                     const uint32_t *prev_tokens, uint32_t *tokens);

#endif /* ARG_ENTROPY_H */
