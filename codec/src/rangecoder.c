/*
 * Adaptive binary range coder: see rangecoder.h for the normative
 * description. Integers only.
 */
#include "rangecoder.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define RC_TOP (1u << 24)

/* ------------------------------------------------------------- buffer */

void rc_buffer_free(RcBuffer *b)
{
    if (!b)
        return;
    free(b->data);
    b->data = NULL;
    b->size = b->cap = 0;
}

int rc_buffer_reserve(RcBuffer *b, size_t extra)
{
    if (extra > RC_MAX_BYTES || b->size > RC_MAX_BYTES - extra)
        return -E2BIG;
    size_t need = b->size + extra;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    uint8_t *p = realloc(b->data, cap);
    if (!p)
        return -ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

/* ------------------------------------------------------------- encoder */

void rc_enc_init(RcEncoder *e, RcBuffer *out, unsigned rate_max)
{
    e->out = out;
    e->start = out->size;
    e->low = 0;
    e->range = 0xFFFFFFFFu;
    e->rate_max = rate_max < 1 ? 1 : rate_max > RC_RATE_MAX_LIMIT ? RC_RATE_MAX_LIMIT : rate_max;
    e->error = 0;
}

static void enc_put_byte(RcEncoder *e, unsigned byte)
{
    if (e->error)
        return;
    RcBuffer *b = e->out;
    if (b->size == b->cap) {
        int r = rc_buffer_reserve(b, 1);
        if (r < 0) {
            e->error = r;
            return;
        }
    }
    b->data[b->size++] = (uint8_t)byte;
}

/* low went past 2^32: add one to the bytes already written. */
static void enc_carry(RcEncoder *e)
{
    e->low -= (uint64_t)1 << 32;
    if (e->error)
        return;
    RcBuffer *b = e->out;
    size_t i = b->size;
    while (i > e->start) {
        i--;
        if (++b->data[i] != 0)   /* FF + 1 wraps to 00 and carries on */
            return;
    }
    /* Unreachable for a valid coder state (the coded value stays below 1). */
    e->error = -EOVERFLOW;
}

static void enc_normalize(RcEncoder *e)
{
    while (e->range < RC_TOP) {
        enc_put_byte(e, (unsigned)(e->low >> 24) & 0xFF);
        e->low = (e->low << 8) & 0xFFFFFFFFu;
        e->range <<= 8;
    }
}

void rc_enc_bit_p(RcEncoder *e, int bit, unsigned p0)
{
    const uint32_t split = (uint32_t)(((uint64_t)e->range * p0) >> RC_PROB_BITS);
    if (bit) {
        e->low += split;
        e->range -= split;
        if (e->low >> 32)
            enc_carry(e);
    } else {
        e->range = split;
    }
    enc_normalize(e);
}

void rc_enc_bit(RcEncoder *e, RcProb *c, int bit)
{
    bit = bit != 0;
    rc_enc_bit_p(e, bit, c->p);
    rc_prob_update(c, bit, e->rate_max);
}

void rc_enc_bits(RcEncoder *e, uint32_t v, int n)
{
    for (int i = n - 1; i >= 0; i--)
        rc_enc_bit_p(e, (int)((v >> i) & 1), RC_PROB_HALF);
}

int64_t rc_enc_finish(RcEncoder *e)
{
    /* The smallest multiple of 2^24 that is >= low lies below low + range
     * because range >= 2^24: one byte identifies it. */
    e->low += RC_TOP - 1;
    if (e->low >> 32)
        enc_carry(e);
    enc_put_byte(e, (unsigned)(e->low >> 24) & 0xFF);
    e->low = 0;
    e->range = 0xFFFFFFFFu;
    if (e->error)
        return e->error;
    return (int64_t)(e->out->size - e->start);
}

unsigned rc_lg8(uint32_t r)
{
    if (!r)
        return 0;
    unsigned l = 0;
    for (uint32_t v = r; v >>= 1;)
        l++;
    /* x = r / 2^l in [1, 2), as a 16-bit fixed-point number with 15
     * fractional bits. */
    uint32_t x = l >= 15 ? r >> (l - 15) : r << (15 - l);
    unsigned frac = 0;
    for (int i = 0; i < 3; i++) {
        x = (x * x) >> 15;              /* x^2 in [1, 4) */
        unsigned b = x >> 16;           /* 1 when x^2 >= 2 */
        frac = 2 * frac + b;
        x >>= b;
    }
    return 8 * l + frac;
}

uint64_t rc_enc_tell_frac(const RcEncoder *e)
{
    const uint64_t k = e->out->size - e->start;
    return 8 * (32 + 8 * k) - rc_lg8(e->range);
}

/* ------------------------------------------------------------- decoder */

static inline unsigned dec_next_byte(RcDecoder *d)
{
    unsigned v = d->pos < d->size ? d->buf[d->pos] : 0;
    d->pos++;
    return v;
}

void rc_dec_init(RcDecoder *d, const uint8_t *buf, size_t size, unsigned rate_max)
{
    d->buf = buf;
    d->size = buf ? size : 0;
    d->pos = 0;
    d->range = 0xFFFFFFFFu;
    d->rate_max = rate_max < 1 ? 1 : rate_max > RC_RATE_MAX_LIMIT ? RC_RATE_MAX_LIMIT : rate_max;
    uint32_t code = 0;
    for (int i = 0; i < 4; i++)
        code = (code << 8) | dec_next_byte(d);
    d->invalid = code >= d->range;
    /* Keep code < range, which every later step preserves, so that a bad
     * stream decodes to garbage rather than to undefined states. */
    d->code = d->invalid ? 0 : code;
}

int rc_dec_bit_p(RcDecoder *d, unsigned p0)
{
    const uint32_t split = (uint32_t)(((uint64_t)d->range * p0) >> RC_PROB_BITS);
    int bit;
    if (d->code >= split) {
        d->code -= split;
        d->range -= split;
        bit = 1;
    } else {
        d->range = split;
        bit = 0;
    }
    while (d->range < RC_TOP) {
        d->code = (d->code << 8) | dec_next_byte(d);
        d->range <<= 8;
    }
    return bit;
}

int rc_dec_bit(RcDecoder *d, RcProb *c)
{
    int bit = rc_dec_bit_p(d, c->p);
    rc_prob_update(c, bit, d->rate_max);
    return bit;
}

uint32_t rc_dec_bits(RcDecoder *d, int n)
{
    uint32_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 1) | (uint32_t)rc_dec_bit_p(d, RC_PROB_HALF);
    return v;
}

size_t rc_dec_overrun(const RcDecoder *d)
{
    return d->pos > d->size + 3 ? d->pos - d->size - 3 : 0;
}

int rc_dec_end(const RcDecoder *d)
{
    if (d->invalid || d->size == 0 || d->pos != d->size + 3)
        return -EBADMSG;
    return 0;
}

uint64_t rc_dec_tell_frac(const RcDecoder *d)
{
    const uint64_t k = d->pos - 4;
    return 8 * (32 + 8 * k) - rc_lg8(d->range);
}
