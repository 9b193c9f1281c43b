/*
 * Token coding: the context model of entropy.h over the binary range coder
 * of rangecoder.h. Integers only. The encoder and the decoder share
 * nbhd_get, ctx_pair and pair_p, so that they cannot drift apart.
 */
#include "entropy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int ent_ctx_init(EntCtx *c, int bits, unsigned rate_max)
{
    memset(c, 0, sizeof(*c));
    if (bits < 1 || bits > ENT_MAX_BITS)
        return -EINVAL;
    if (rate_max == 0)
        rate_max = ENT_RATE_MAX_DEFAULT;
    if (rate_max > RC_RATE_MAX_LIMIT)
        return -EINVAL;
    c->nprobs = (size_t)bits * ENT_CTX_PER_BIT + ENT_CTX_SHARED;
    c->probs = malloc(c->nprobs * sizeof(*c->probs));
    if (!c->probs)
        return -ENOMEM;
    c->bits = bits;
    c->rate_max = rate_max;
    ent_ctx_reset(c);
    return 0;
}

void ent_ctx_reset(EntCtx *c)
{
    if (!c->probs)
        return;
    for (size_t i = 0; i < c->nprobs; i++)
        rc_prob_init(&c->probs[i]);
}

void ent_ctx_free(EntCtx *c)
{
    if (!c)
        return;
    free(c->probs);
    memset(c, 0, sizeof(*c));
}

/* The neighbourhood of one token: the causal neighbours in this frame, the
 * co-located token and its four neighbours in the previous frame, and for
 * each a flag (bit of `avail`) telling whether it exists. */
typedef struct Nbhd {
    uint32_t l, a, al, ar;      /* left, above, above-left, above-right */
    uint32_t q;                 /* co-located, previous frame */
    uint32_t qu, qd, ql, qr;    /* its neighbours up, down, left, right */
    unsigned avail;
} Nbhd;

enum {
    AV_L = 1, AV_A = 2, AV_AL = 4, AV_AR = 8,
    AV_Q = 16, AV_QU = 32, AV_QD = 64, AV_QL = 128, AV_QR = 256,
};

static inline void nbhd_get(Nbhd *n, const uint32_t *t, const uint32_t *prev, int x, int y,
                            int tw, int th)
{
    const size_t w = (size_t)tw;
    const size_t i = (size_t)y * w + (size_t)x;
    unsigned av = 0;
    memset(n, 0, sizeof(*n));
    if (x > 0) {
        n->l = t[i - 1];
        av |= AV_L;
    }
    if (y > 0) {
        n->a = t[i - w];
        av |= AV_A;
        if (x > 0) {
            n->al = t[i - w - 1];
            av |= AV_AL;
        }
        if (x < tw - 1) {
            n->ar = t[i - w + 1];
            av |= AV_AR;
        }
    }
    if (prev) {
        n->q = prev[i];
        av |= AV_Q;
        if (y > 0) {
            n->qu = prev[i - w];
            av |= AV_QU;
        }
        if (y < th - 1) {
            n->qd = prev[i + w];
            av |= AV_QD;
        }
        if (x > 0) {
            n->ql = prev[i - 1];
            av |= AV_QL;
        }
        if (x < tw - 1) {
            n->qr = prev[i + 1];
            av |= AV_QR;
        }
    }
    n->avail = av;
}

/* Bit b of a neighbour, or 2 when the neighbour does not exist. */
static inline unsigned digit(uint32_t v, unsigned avail, unsigned flag, int b)
{
    return (avail & flag) ? (v >> b) & 1u : 2u;
}

/* The temporal class tq (0..6) of bit b: see entropy.h. */
static inline unsigned temporal_class(const Nbhd *n, int b)
{
    const unsigned av = n->avail;
    if (!(av & AV_Q))
        return 0;
    const unsigned qb = (n->q >> b) & 1u;
    unsigned m = qb, k = 1;
    if (av & AV_QU) {
        m += (n->qu >> b) & 1u;
        k++;
    }
    if (av & AV_QD) {
        m += (n->qd >> b) & 1u;
        k++;
    }
    if (av & AV_QL) {
        m += (n->ql >> b) & 1u;
        k++;
    }
    if (av & AV_QR) {
        m += (n->qr >> b) & 1u;
        k++;
    }
    if (qb == 0)
        return m == 0 ? 1u : 2 * m < k ? 2u : 3u;
    return m == k ? 6u : 2 * m < k ? 4u : 5u;
}

/* The two contexts of bit b, given the bits of the token coded so far
 * (cur, bits 0..b-1 valid): ctx[0] in the per-bit set, ctx[1] in the
 * shared set (which starts at bits * ENT_CTX_PER_BIT). */
static inline void ctx_pair(const Nbhd *n, int b, uint32_t cur, const EntCtx *c, size_t ctx[2])
{
    const unsigned av = n->avail;
    const unsigned l = digit(n->l, av, AV_L, b);
    const unsigned a = digit(n->a, av, AV_A, b);
    const unsigned al = digit(n->al, av, AV_AL, b);
    const unsigned ar = digit(n->ar, av, AV_AR, b);
    const unsigned q = digit(n->q, av, AV_Q, b);
    const uint32_t low = (1u << b) - 1u;
    const unsigned mq = (av & AV_Q) && ((cur ^ n->q) & low) == 0;
    const unsigned sa = ((l * 3 + a) * 7 + temporal_class(n, b)) * 2 + mq;
    const unsigned sb = ((((l * 3 + a) * 3 + al) * 3 + ar) * 3 + q) * 2 + mq;
    ctx[0] = (size_t)b * ENT_CTX_PER_BIT + sa;
    ctx[1] = (size_t)c->bits * ENT_CTX_PER_BIT + sb;
}

/* Probability (of a 0) of a bit coded with contexts A[b][sa] and S[ss]. */
static inline unsigned pair_p(const RcProb *pa, const RcProb *pb)
{
    return ((unsigned)pa->p + (unsigned)pb->p + 1u) >> 1;
}

static int check_args(const EntCtx *c, int tw, int th)
{
    if (!c || !c->probs || tw < 1 || th < 1 || tw > ENT_MAX_DIM || th > ENT_MAX_DIM ||
        (size_t)tw * (size_t)th > ENT_MAX_TOKENS)
        return -EINVAL;
    return 0;
}

int64_t ent_encode_frame(EntCtx *c, const uint32_t *tokens, int tw, int th,
                         const uint32_t *prev_tokens, RcBuffer *buf)
{
    return ent_encode_frame_cost(c, tokens, tw, th, prev_tokens, buf, NULL);
}

int64_t ent_encode_frame_cost(EntCtx *c, const uint32_t *tokens, int tw, int th,
                              const uint32_t *prev_tokens, RcBuffer *buf, uint64_t *bit_cost)
{
    int r = check_args(c, tw, th);
    if (r < 0)
        return r;
    if (!tokens || !buf)
        return -EINVAL;
    const int bits = c->bits;
    const size_t n = (size_t)tw * (size_t)th;
    const uint32_t limit = (1u << bits) - 1;
    for (size_t i = 0; i < n; i++)
        if (tokens[i] > limit)
            return -EINVAL;

    const unsigned rate_max = c->rate_max;
    RcEncoder e;
    rc_enc_init(&e, buf, rate_max);
    RcProb *probs = c->probs;
    Nbhd nb;
    for (int y = 0; y < th; y++) {
        for (int x = 0; x < tw; x++) {
            nbhd_get(&nb, tokens, prev_tokens, x, y, tw, th);
            const uint32_t t = tokens[(size_t)y * (size_t)tw + (size_t)x];
            for (int b = 0; b < bits; b++) {
                const uint64_t t0 = bit_cost ? rc_enc_tell_frac(&e) : 0;
                size_t ctx[2];
                ctx_pair(&nb, b, t, c, ctx);
                RcProb *pa = &probs[ctx[0]], *pb = &probs[ctx[1]];
                const int bit = (int)((t >> b) & 1u);
                rc_enc_bit_p(&e, bit, pair_p(pa, pb));
                rc_prob_update(pa, bit, rate_max);
                rc_prob_update(pb, bit, rate_max);
                if (bit_cost)
                    bit_cost[b] += rc_enc_tell_frac(&e) - t0;
            }
        }
        if (e.error)
            break;
    }
    return rc_enc_finish(&e);
}

int ent_decode_frame(EntCtx *c, const uint8_t *data, size_t size, int tw, int th,
                     const uint32_t *prev_tokens, uint32_t *tokens)
{
    int r = check_args(c, tw, th);
    if (r < 0)
        return r;
    if (!tokens || (!data && size))
        return -EINVAL;
    const int bits = c->bits;
    const unsigned rate_max = c->rate_max;
    RcDecoder d;
    rc_dec_init(&d, data, size, rate_max);
    RcProb *probs = c->probs;
    Nbhd nb;
    for (int y = 0; y < th; y++) {
        for (int x = 0; x < tw; x++) {
            nbhd_get(&nb, tokens, prev_tokens, x, y, tw, th);
            uint32_t t = 0;
            for (int b = 0; b < bits; b++) {
                size_t ctx[2];
                ctx_pair(&nb, b, t, c, ctx);
                RcProb *pa = &probs[ctx[0]], *pb = &probs[ctx[1]];
                const int bit = rc_dec_bit_p(&d, pair_p(pa, pb));
                rc_prob_update(pa, bit, rate_max);
                rc_prob_update(pb, bit, rate_max);
                t |= (uint32_t)bit << b;
            }
            tokens[(size_t)y * (size_t)tw + (size_t)x] = t;
        }
        if (rc_dec_overrun(&d)) {
            /* Read past the end: the stream cannot be valid any more (the
             * read position only grows). Stop, with defined tokens. */
            const size_t done = (size_t)(y + 1) * (size_t)tw;
            memset(tokens + done, 0, ((size_t)tw * (size_t)th - done) * sizeof(uint32_t));
            return -EBADMSG;
        }
    }
    return rc_dec_end(&d);
}
