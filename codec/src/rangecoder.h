/*
 * Adaptive binary range coder of ARG (integer only, bit-exact everywhere).
 *
 * Normative description (spec/bitstream.md quotes it):
 *
 * Probabilities. An adaptive probability ("context") is a pair (p, n):
 *   p  in [1, 65535], the probability that the next bit is 0, in units of
 *      2^-16 (initially 32768);
 *   n  in [0, n_max], the number of updates seen, saturating (initially 0).
 * After coding bit b with context (p, n) and adaptation limit R
 * (rc_rate_max, 1 <= R <= RC_RATE_MAX_LIMIT):
 *   rate = min(R, floor(log2(n + 2)))        (1, 1, 2, 2, 2, 2, 3, ...)
 *   b == 0:  p = p + ((65536 - p) >> rate)
 *   b == 1:  p = p - (p >> rate)
 *   n = min(n + 1, 2^R - 2)
 * so the first updates move p by 1/2, 1/2, 1/4, 1/4, ... (close to a
 * counting estimate) and a context that has seen 2^R - 2 bits adapts with
 * a fixed window of 2^R. p never leaves [1, 65535].
 *
 * Coding. The encoder keeps low (33 bits: 32 plus a carry) and range
 * (32 bits), initially low = 0, range = 2^32 - 1; the decoder keeps range
 * and code, with code = the first four bytes of the stream, big-endian (a
 * stream whose first four bytes are FF FF FF FF is invalid). To code bit b
 * with probability p (of a 0):
 *   split = floor(range * p / 65536)             (1 <= split < range)
 *   encoder: b == 0: range = split
 *            b == 1: low = low + split, range = range - split
 *   decoder: b = (code >= split)
 *            b == 0: range = split
 *            b == 1: code = code - split, range = range - split
 * then, while range < 2^24: range = range * 256 and
 *   encoder: output byte (low >> 24) & 255, low = (low * 256) mod 2^32;
 *   decoder: code = (code * 256 + next byte) mod 2^32.
 * A carry (low >= 2^32 after an addition) adds one to the bytes already
 * output (propagating through FF bytes); low = low - 2^32. It never reaches
 * past the first byte of the stream.
 * Finish: the encoder outputs one more byte, ((low + 2^24 - 1) >> 24) & 255
 * (with its carry), i.e. the value low rounded up to a multiple of 2^24,
 * which lies in [low, low + range). A stream that codes k renormalisation
 * steps is thus k + 1 bytes long, and its decoder reads exactly k + 4 bytes:
 * bytes past the end of the stream read as zero, and a decoder that ends
 * having read more or fewer than size + 3 bytes reports the stream as
 * corrupt (rc_dec_end).
 *
 * Rate estimate (tell): in 1/8 bits, 8 * (32 + 8 * k) - lg8(range), where
 * k is the number of renormalisation bytes so far and lg8(r) = 8 *
 * floor(log2 r) + three more binary digits of log2 r found by repeated
 * squaring of r scaled to 16 bits (see rc_lg8).
 */
#ifndef ARG_RANGECODER_H
#define ARG_RANGECODER_H

#include <stddef.h>
#include <stdint.h>

#define RC_PROB_BITS 16
#define RC_PROB_ONE (1u << RC_PROB_BITS)   /* 65536 */
#define RC_PROB_HALF (1u << (RC_PROB_BITS - 1))
#define RC_RATE_MAX_LIMIT 8                /* n fits in 8 bits */
#define RC_RATE_MAX_DEFAULT 5

/* Largest stream one encoder will produce (guards the buffer growth). */
#define RC_MAX_BYTES ((size_t)1 << 30)

/* An adaptive binary probability (see above). */
typedef struct RcProb {
    uint16_t p;    /* P(bit = 0) * 65536, in [1, 65535] */
    uint8_t n;     /* updates seen, saturating at 2^R - 2 */
    uint8_t pad;
} RcProb;

static inline void rc_prob_init(RcProb *c)
{
    c->p = RC_PROB_HALF;
    c->n = 0;
    c->pad = 0;
}

/* floor(log2(n + 2)), capped to rate_max. */
static inline unsigned rc_rate(unsigned n, unsigned rate_max)
{
    unsigned v = n + 2, r = 0;
    while (v >>= 1)
        r++;
    return r < rate_max ? r : rate_max;
}

static inline void rc_prob_update(RcProb *c, int bit, unsigned rate_max)
{
    const unsigned rate = rc_rate(c->n, rate_max);
    unsigned p = c->p;
    if (bit)
        p -= p >> rate;
    else
        p += (RC_PROB_ONE - p) >> rate;
    c->p = (uint16_t)p;
    if (c->n < (1u << rate_max) - 2)
        c->n++;
}

/* A growable byte buffer. */
typedef struct RcBuffer {
    uint8_t *data;
    size_t size;   /* bytes in use */
    size_t cap;    /* bytes allocated */
} RcBuffer;

void rc_buffer_free(RcBuffer *b);
/* Make room for at least `extra` more bytes; 0 or -ENOMEM/-E2BIG. */
int rc_buffer_reserve(RcBuffer *b, size_t extra);

/* ------------------------------------------------------------- encoder */

typedef struct RcEncoder {
    RcBuffer *out;      /* bytes are appended at out->size */
    size_t start;       /* where this stream starts in out */
    uint64_t low;
    uint32_t range;
    unsigned rate_max;
    int error;          /* sticky: 0 or a negative errno */
} RcEncoder;

/* Start a stream appended to out (which may hold earlier data). */
void rc_enc_init(RcEncoder *e, RcBuffer *out, unsigned rate_max);
/* Code a bit with probability p0 (of a 0) in [1, 65535]; no adaptation. */
void rc_enc_bit_p(RcEncoder *e, int bit, unsigned p0);
/* Code a bit with an adaptive context and update it. */
void rc_enc_bit(RcEncoder *e, RcProb *c, int bit);
/* n (0..32) equiprobable bits of v, most significant first. */
void rc_enc_bits(RcEncoder *e, uint32_t v, int n);
/* Output the final byte. Returns the stream size in bytes or a negative
 * errno (-ENOMEM, -E2BIG) if the buffer could not grow at some point. */
int64_t rc_enc_finish(RcEncoder *e);
/* Information coded so far, in 1/8 bits (see above). */
uint64_t rc_enc_tell_frac(const RcEncoder *e);

/* ------------------------------------------------------------- decoder */

typedef struct RcDecoder {
    const uint8_t *buf;
    size_t size;
    size_t pos;         /* bytes read, counting the zeros past the end */
    uint32_t code, range;
    unsigned rate_max;
    int invalid;        /* the first four bytes were FF FF FF FF */
} RcDecoder;

/* Start decoding size bytes at buf (buf may be NULL when size is 0). */
void rc_dec_init(RcDecoder *d, const uint8_t *buf, size_t size, unsigned rate_max);
int rc_dec_bit_p(RcDecoder *d, unsigned p0);
int rc_dec_bit(RcDecoder *d, RcProb *c);
uint32_t rc_dec_bits(RcDecoder *d, int n);
/* Bytes read past the end of the buffer so far (beyond the 3 that every
 * valid stream reads). */
size_t rc_dec_overrun(const RcDecoder *d);
/* After the last symbol: 0 if exactly the stream was consumed (size + 3
 * bytes read), else -EBADMSG (truncated, padded or corrupt). */
int rc_dec_end(const RcDecoder *d);
uint64_t rc_dec_tell_frac(const RcDecoder *d);

/* 8 * log2(r) to three fractional binary digits (r >= 1), as used by tell. */
unsigned rc_lg8(uint32_t r);

#endif /* ARG_RANGECODER_H */
