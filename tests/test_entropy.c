/* Entropy coder tests: the range coder round-trips random symbol streams
 * bit-exactly under random adaptation states and probabilities (extremes
 * included, carries exercised); token frames round-trip (random, constant,
 * correlated; 1x1 to 80x45; 1..24 bits; with and without a previous
 * frame); truncated, extended and corrupted streams give an error or
 * garbage but never a crash; rates of constant and uniform frames; a
 * golden hash pins the bitstream. Prints "N passed, M failed". */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arg/arg.h"
#include "check.h"
#include "entropy.h"
#include "rangecoder.h"


static uint32_t rnd_below(uint32_t n)
{
    return (uint32_t)(((uint64_t)rnd() * n) >> 32) % n;
}

/* ------------------------------------------------------------ range coder */

/* One coded symbol of a random stream. */
typedef struct Sym {
    uint8_t kind;    /* 0: fixed probability, 1: adaptive context, 2: raw bits */
    uint8_t n;       /* raw: bit count */
    uint16_t ctx;    /* adaptive: context number */
    uint32_t p;      /* fixed: P(0) */
    uint32_t v;      /* the bit or the raw value */
} Sym;

static uint32_t rand_prob(void)
{
    switch (rnd_below(6)) {
    case 0: return 1 + rnd_below(8);              /* extreme: almost surely 1 */
    case 1: return 65535 - rnd_below(8);          /* extreme: almost surely 0 */
    case 2: return 32768;
    case 3: return 1 + rnd_below(600);
    default: return 1 + rnd_below(65535);
    }
}

/* A bit drawn with probability p0 of a 0 (or, sometimes, against it). */
static uint32_t draw_bit(uint32_t p0)
{
    if (rnd_below(50) == 0)
        return rnd() & 1;
    return rnd_below(65536) >= p0;
}

static void test_rc_roundtrip(void)
{
    int carries_seen = 0;
    for (int iter = 0; iter < 300; iter++) {
        const int nsym = iter < 10 ? iter : 1 + (int)rnd_below(iter < 250 ? 3000 : 60000);
        const int nctx = 1 + (int)rnd_below(64);
        const unsigned rate_max = 1 + rnd_below(RC_RATE_MAX_LIMIT);
        Sym *s = malloc((size_t)(nsym ? nsym : 1) * sizeof(Sym));
        RcProb *ce = malloc((size_t)nctx * sizeof(RcProb));
        RcProb *cd = malloc((size_t)nctx * sizeof(RcProb));
        /* random adaptation states */
        for (int i = 0; i < nctx; i++) {
            rc_prob_init(&ce[i]);
            if (rnd() & 1) {
                ce[i].p = (uint16_t)rand_prob();
                ce[i].n = (uint8_t)rnd_below((1u << rate_max) - 1);
            }
            cd[i] = ce[i];
        }
        const int skew = rnd() & 1;   /* mostly extreme probabilities */
        for (int i = 0; i < nsym; i++) {
            unsigned k = rnd_below(10);
            if (k < 4) {
                s[i].kind = 0;
                s[i].p = skew ? (rnd() & 1 ? 1 + rnd_below(4) : 65535 - rnd_below(4)) : rand_prob();
                s[i].v = draw_bit(s[i].p);
            } else if (k < 9) {
                s[i].kind = 1;
                s[i].ctx = (uint16_t)rnd_below((uint32_t)nctx);
                s[i].v = 0; /* drawn while encoding, from the context's state */
            } else {
                s[i].kind = 2;
                s[i].n = (uint8_t)rnd_below(33);
                s[i].v = s[i].n == 32 ? rnd() ^ (rnd() << 16) : s[i].n ? rnd() & ((1u << s[i].n) - 1) : 0;
            }
        }
        RcBuffer buf = { 0 };
        /* Sometimes start after existing bytes: the stream must not touch them. */
        const size_t lead = rnd_below(3) == 0 ? 1 + rnd_below(5) : 0;
        if (lead) {
            rc_buffer_reserve(&buf, lead);
            memset(buf.data, 0xFF, lead);
            buf.size = lead;
        }
        RcEncoder e;
        rc_enc_init(&e, &buf, rate_max);
        uint64_t tell_prev = rc_enc_tell_frac(&e);
        int tell_monotonic = 1;
        for (int i = 0; i < nsym; i++) {
            const size_t before = buf.size;
            const uint8_t last = before > lead ? buf.data[before - 1] : 0;
            if (s[i].kind == 0) {
                rc_enc_bit_p(&e, (int)s[i].v, s[i].p);
            } else if (s[i].kind == 1) {
                s[i].v = draw_bit(ce[s[i].ctx].p);
                rc_enc_bit(&e, &ce[s[i].ctx], (int)s[i].v);
            } else {
                rc_enc_bits(&e, s[i].v, s[i].n);
            }
            if (before > lead && buf.data[before - 1] != last)
                carries_seen++;
            uint64_t t = rc_enc_tell_frac(&e);
            if (t < tell_prev)
                tell_monotonic = 0;
            tell_prev = t;
        }
        const uint64_t tell = rc_enc_tell_frac(&e);
        int64_t size = rc_enc_finish(&e);
        CHECK(size >= 1 && (size_t)size == buf.size - lead, "iter %d: size %" PRId64, iter, size);
        for (size_t i = 0; i < lead; i++)
            CHECK(buf.data[i] == 0xFF, "iter %d: byte %zu before the stream changed", iter, i);
        /* tell (1/8 bits) against the real size: the flush adds < 8 bits */
        CHECK(tell_monotonic && 8 * 8 * (uint64_t)size >= tell && 8 * 8 * (uint64_t)size <= tell + 8 * 9,
              "iter %d: tell %" PRIu64 "/8 bits for %" PRId64 " bytes", iter, tell, size);

        RcDecoder d;
        rc_dec_init(&d, buf.data + lead, (size_t)size, rate_max);
        int bad = -1;
        for (int i = 0; i < nsym && bad < 0; i++) {
            uint32_t v;
            if (s[i].kind == 0)
                v = (uint32_t)rc_dec_bit_p(&d, s[i].p);
            else if (s[i].kind == 1)
                v = (uint32_t)rc_dec_bit(&d, &cd[s[i].ctx]);
            else
                v = rc_dec_bits(&d, s[i].n);
            if (v != s[i].v)
                bad = i;
        }
        CHECK(bad < 0, "iter %d (%d symbols, rate_max %u): symbol %d differs", iter, nsym, rate_max, bad);
        CHECK(rc_dec_end(&d) == 0 && rc_dec_overrun(&d) == 0,
              "iter %d: decoder end %d, read %zu of %" PRId64 " bytes", iter, rc_dec_end(&d), d.pos, size);
        CHECK(rc_dec_tell_frac(&d) == tell, "iter %d: decoder tell %" PRIu64 " != %" PRIu64, iter,
              rc_dec_tell_frac(&d), tell);
        CHECK(memcmp(ce, cd, (size_t)nctx * sizeof(RcProb)) == 0, "iter %d: context states differ", iter);
        for (int i = 0; i < nctx; i++)
            CHECK(ce[i].p >= 1 && ce[i].n <= (1u << rate_max) - 2, "iter %d: context %d out of range (%u, %u)",
                  iter, i, ce[i].p, ce[i].n);
        rc_buffer_free(&buf);
        free(s);
        free(ce);
        free(cd);
    }
    CHECK(carries_seen > 0, "no carry was propagated in the random streams");
    printf("range coder: 300 random streams, %d carries propagated\n", carries_seen);
}

/* The adaptation rule, checked against its description. */
static void test_rc_adaptation(void)
{
    static const unsigned rates[] = { 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 4 };
    for (unsigned n = 0; n < sizeof(rates) / sizeof(rates[0]); n++)
        CHECK(rc_rate(n, 8) == rates[n], "rate(%u) = %u, want %u", n, rc_rate(n, 8), rates[n]);
    CHECK(rc_rate(200, 5) == 5 && rc_rate(254, 8) == 8 && rc_rate(0, 1) == 1, "rate caps");
    RcProb c;
    rc_prob_init(&c);
    rc_prob_update(&c, 0, 5);
    CHECK(c.p == 32768 + 16384 && c.n == 1, "first update: p %u n %u", c.p, c.n);
    rc_prob_update(&c, 1, 5);
    CHECK(c.p == 49152 - 24576 && c.n == 2, "second update: p %u n %u", c.p, c.n);
    /* saturation and the bounds of p */
    for (int i = 0; i < 1000; i++)
        rc_prob_update(&c, 0, 5);
    CHECK(c.n == 30 && c.p <= 65535 && c.p > 65535 - 32, "after 1000 zeros: p %u n %u", c.p, c.n);
    for (int i = 0; i < 1000; i++)
        rc_prob_update(&c, 1, 5);
    CHECK(c.p >= 1 && c.p < 32, "after 1000 ones: p %u", c.p);
    for (unsigned r = 1; r <= RC_RATE_MAX_LIMIT; r++) {
        RcProb a;
        rc_prob_init(&a);
        for (int i = 0; i < 600; i++)
            rc_prob_update(&a, 0, r);
        CHECK(a.p >= 1 && a.p <= 65535 && a.n == (1u << r) - 2, "rate_max %u: p %u n %u", r, a.p, a.n);
    }
    /* lg8 */
    CHECK(rc_lg8(1) == 0 && rc_lg8(2) == 8 && rc_lg8(1u << 24) == 192 && rc_lg8(0xFFFFFFFFu) == 255,
          "lg8: %u %u %u %u", rc_lg8(1), rc_lg8(2), rc_lg8(1u << 24), rc_lg8(0xFFFFFFFFu));
    CHECK(rc_lg8(3) == 12, "lg8(3) = %u (8 log2 3 = 12.68)", rc_lg8(3));
}

/* Decoder robustness on raw bytes: empty, all-FF, random. */
static void test_rc_hostile(void)
{
    RcDecoder d;
    rc_dec_init(&d, NULL, 0, 5);
    RcProb c;
    rc_prob_init(&c);
    for (int i = 0; i < 100; i++)
        rc_dec_bit(&d, &c);
    CHECK(rc_dec_end(&d) < 0, "empty stream must be rejected");
    uint8_t ff[8];
    memset(ff, 0xFF, sizeof(ff));
    rc_dec_init(&d, ff, sizeof(ff), 5);
    CHECK(d.invalid && rc_dec_end(&d) < 0, "FF FF FF FF start must be invalid");
    for (int i = 0; i < 100; i++)
        rc_dec_bit(&d, &c);
    CHECK(d.code < d.range, "code stays below range");
}

/* ---------------------------------------------------------- token frames */

enum { PAT_RANDOM, PAT_CONST, PAT_CORR, PAT_SPARSE, NPAT };

/* A correlated frame: each bit plane is a thresholded smooth random field;
 * with prev, most tokens repeat the previous frame and a few bits flip. */
static void make_frame(uint32_t *t, const uint32_t *prev, int tw, int th, int bits, int pat)
{
    const size_t n = (size_t)tw * th;
    const uint32_t mask = bits == 32 ? 0xFFFFFFFFu : (1u << bits) - 1;
    if (pat == PAT_CONST) {
        uint32_t v = rnd() & mask;
        for (size_t i = 0; i < n; i++)
            t[i] = v;
        return;
    }
    if (pat == PAT_RANDOM) {
        for (size_t i = 0; i < n; i++)
            t[i] = (rnd() ^ (rnd() << 12)) & mask;
        return;
    }
    if (prev && pat == PAT_CORR) {
        for (size_t i = 0; i < n; i++) {
            t[i] = prev[i];
            if (rnd_below(10) == 0)
                t[i] ^= 1u << rnd_below((uint32_t)bits);
        }
        return;
    }
    /* smooth field per bit: sum of a few random "blobs" */
    memset(t, 0, n * sizeof(uint32_t));
    for (int b = 0; b < bits; b++) {
        int cx = (int)rnd_below((uint32_t)tw), cy = (int)rnd_below((uint32_t)th);
        int r2 = 1 + (int)rnd_below((uint32_t)(tw * tw + th * th) / 2 + 1);
        int invert = rnd() & 1;
        for (int y = 0; y < th; y++)
            for (int x = 0; x < tw; x++) {
                int d2 = (x - cx) * (x - cx) + (y - cy) * (y - cy);
                int bit = (d2 < r2) ^ invert;
                if (pat == PAT_SPARSE)
                    bit = rnd_below(20) == 0;
                else if (rnd_below(25) == 0)
                    bit ^= 1;
                t[(size_t)y * tw + x] |= (uint32_t)bit << b;
            }
    }
}

/* Code a GOP of nf frames and decode it back. Returns the stream bytes (in
 * *total) and checks the round trip. */
static int gop_roundtrip(int tw, int th, int bits, int nf, int pat, int first_has_prev, unsigned rate_max,
                         int64_t *total, uint32_t **frames_out, RcBuffer *streams, size_t *offsets)
{
    const size_t n = (size_t)tw * th;
    uint32_t *frames = malloc((size_t)(nf + 1) * n * sizeof(uint32_t));
    uint32_t *dec = malloc(n * sizeof(uint32_t));
    /* frames[0] is the previous frame of the first coded one (if used) */
    make_frame(frames, NULL, tw, th, bits, pat == PAT_CONST ? PAT_CONST : PAT_CORR);
    for (int f = 1; f <= nf; f++)
        make_frame(frames + (size_t)f * n, frames + (size_t)(f - 1) * n, tw, th, bits, pat);
    EntCtx ce, cd;
    int ok = ent_ctx_init(&ce, bits, rate_max) == 0 && ent_ctx_init(&cd, bits, rate_max) == 0;
    RcBuffer buf = { 0 };
    RcBuffer *b = streams ? streams : &buf;
    b->size = 0;
    *total = 0;
    for (int f = 1; f <= nf && ok; f++) {
        const uint32_t *prev = f > 1 || first_has_prev ? frames + (size_t)(f - 1) * n : NULL;
        const size_t start = b->size;
        int64_t sz = ent_encode_frame(&ce, frames + (size_t)f * n, tw, th, prev, b);
        if (sz < 1 || (size_t)sz != b->size - start) {
            CHECK(0, "encode %dx%d bits %d frame %d: %" PRId64, tw, th, bits, f, sz);
            ok = 0;
            break;
        }
        if (offsets)
            offsets[f - 1] = start;
        *total += sz;
        memset(dec, 0xAB, n * sizeof(uint32_t));
        int r = ent_decode_frame(&cd, b->data + start, (size_t)sz, tw, th, prev, dec);
        if (r != 0 || memcmp(dec, frames + (size_t)f * n, n * sizeof(uint32_t)) != 0) {
            CHECK(0, "round trip %dx%d bits %d pattern %d frame %d: rc %d", tw, th, bits, pat, f, r);
            ok = 0;
        }
    }
    if (ok)
        CHECK(memcmp(ce.probs, cd.probs, ce.nprobs * sizeof(RcProb)) == 0, "context states differ");
    if (offsets)
        offsets[nf] = b->size;
    ent_ctx_free(&ce);
    ent_ctx_free(&cd);
    rc_buffer_free(&buf);
    free(dec);
    if (frames_out)
        *frames_out = frames;
    else
        free(frames);
    return ok;
}

static void test_frames(void)
{
    static const int sizes[][2] = { { 1, 1 }, { 3, 7 }, { 7, 3 }, { 1, 9 }, { 9, 1 }, { 80, 45 }, { 16, 16 } };
    int cases = 0, good = 0;
    for (int bits = 1; bits <= ENT_MAX_BITS; bits++) {
        for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
            const int tw = sizes[si][0], th = sizes[si][1];
            if (tw * th > 1000 && bits % 5 != 0 && bits != 18 && bits != 1 && bits != 24)
                continue; /* keep the big frames to a few bit counts */
            for (int pat = 0; pat < NPAT; pat++) {
                int64_t total;
                const int nf = tw * th > 1000 ? 3 : 4;
                const unsigned rate_max = (pat + bits) % 3 == 0 ? 1 + rnd_below(RC_RATE_MAX_LIMIT) : 0;
                good += gop_roundtrip(tw, th, bits, nf, pat, (pat + (int)si) & 1, rate_max, &total, NULL,
                                      NULL, NULL);
                cases++;
            }
        }
    }
    CHECK(good == cases, "%d of %d GOPs round-tripped", good, cases);
    printf("frames: %d GOPs round-tripped (1..24 bits, 1x1 to 80x45)\n", good);
}

static void test_rates(void)
{
    /* constant 80x45 18-bit frames: tiny */
    int64_t total;
    const double raw = 80.0 * 45 * 18 / 8;   /* bytes per frame */
    gop_roundtrip(80, 45, 18, 1, PAT_CONST, 0, 0, &total, NULL, NULL, NULL);
    CHECK(total < 80, "constant 80x45x18 keyframe: %" PRId64 " bytes (raw %.0f)", total, raw);
    printf("rate: constant 80x45x18 keyframe %" PRId64 " bytes (raw %.0f)\n", total, raw);
    gop_roundtrip(80, 45, 18, 8, PAT_CONST, 0, 0, &total, NULL, NULL, NULL);
    CHECK(total < 8 * 80, "constant GOP: %" PRId64 " bytes", total);
    /* uniform random tokens: close to raw */
    for (int bits = 1; bits <= ENT_MAX_BITS; bits += 23) {
        gop_roundtrip(80, 45, bits, 8, PAT_RANDOM, 0, 0, &total, NULL, NULL, NULL);
        double ratio = (double)total / (8 * 80.0 * 45 * bits / 8);
        CHECK(ratio < 1.015 && ratio > 0.98, "uniform %d-bit tokens: %.4f of raw", bits, ratio);
        printf("rate: uniform random 80x45, %d bits, GOP of 8: %.4f of raw\n", bits, ratio);
    }
    gop_roundtrip(80, 45, 18, 8, PAT_RANDOM, 0, 0, &total, NULL, NULL, NULL);
    double ratio = (double)total / (8 * 80.0 * 45 * 18 / 8);
    CHECK(ratio < 1.015 && ratio > 0.98, "uniform 18-bit tokens: %.4f of raw", ratio);
    printf("rate: uniform random 80x45, 18 bits, GOP of 8: %.4f of raw\n", ratio);
    gop_roundtrip(80, 45, 18, 8, PAT_CORR, 0, 0, &total, NULL, NULL, NULL);
    ratio = (double)total / (8 * 80.0 * 45 * 18 / 8);
    CHECK(ratio < 0.5, "correlated 18-bit tokens: %.4f of raw", ratio);
    printf("rate: correlated 80x45, 18 bits, GOP of 8: %.4f of raw\n", ratio);
}

/* Truncated, extended and corrupted streams: no crash, tokens in range. */
static void test_corrupt(void)
{
    int trunc_cases = 0, trunc_detected = 0, ext_cases = 0, ext_detected = 0, corrupt_cases = 0;
    int corrupt_detected = 0, in_range = 1;
    for (int iter = 0; iter < 60; iter++) {
        const int tw = 1 + (int)rnd_below(40), th = 1 + (int)rnd_below(30);
        const int bits = 1 + (int)rnd_below(ENT_MAX_BITS);
        const int nf = 2;
        const size_t n = (size_t)tw * th;
        RcBuffer s = { 0 };
        size_t off[3];
        uint32_t *frames;
        int64_t total;
        if (!gop_roundtrip(tw, th, bits, nf, (int)rnd_below(NPAT), 1, 0, &total, &frames, &s, off))
            continue;
        uint32_t *dec = malloc(n * sizeof(uint32_t));
        uint8_t *tmp = malloc(s.size + 64);
        EntCtx c;
        ent_ctx_init(&c, bits, 0);
        for (int trial = 0; trial < 30; trial++) {
            /* decode frame 1 (its state after frame 0) from a modified copy */
            const int f = trial & 1;
            const size_t len = off[f + 1] - off[f];
            size_t mlen = len;
            memcpy(tmp, s.data + off[f], len);
            int kind = trial % 3;
            if (kind == 0) {
                mlen = rnd_below((uint32_t)len); /* truncate */
                trunc_cases++;
            } else if (kind == 1) {
                size_t extra = 1 + rnd_below(40);
                for (size_t i = 0; i < extra; i++)
                    tmp[len + i] = (uint8_t)rnd();
                mlen = len + extra;
                ext_cases++;
            } else {
                size_t flips = 1 + rnd_below(4);
                for (size_t i = 0; i < flips; i++)
                    tmp[rnd_below((uint32_t)len)] ^= (uint8_t)(1 + rnd_below(255));
                corrupt_cases++;
            }
            ent_ctx_reset(&c);
            const uint32_t *prev = frames;
            if (f == 1) {
                int r0 = ent_decode_frame(&c, s.data + off[0], off[1] - off[0], tw, th, frames, dec);
                CHECK(r0 == 0, "frame 0 decodes");
                prev = frames + n;
            }
            int r = ent_decode_frame(&c, tmp, mlen, tw, th, prev, dec);
            CHECK(r == 0 || r == -EBADMSG, "corrupt stream: unexpected return %d", r);
            for (size_t i = 0; i < n; i++)
                if (bits < 32 && dec[i] >> bits)
                    in_range = 0;
            if (r < 0) {
                if (kind == 0)
                    trunc_detected++;
                else if (kind == 1)
                    ext_detected++;
                else
                    corrupt_detected++;
            }
        }
        /* pure garbage of random length, random prev */
        for (int trial = 0; trial < 10; trial++) {
            size_t glen = rnd_below(64);
            for (size_t i = 0; i < glen; i++)
                tmp[i] = (uint8_t)rnd();
            ent_ctx_reset(&c);
            int r = ent_decode_frame(&c, glen ? tmp : NULL, glen, tw, th, trial & 1 ? frames : NULL, dec);
            CHECK(r == 0 || r == -EBADMSG, "garbage: unexpected return %d", r);
        }
        ent_ctx_free(&c);
        free(dec);
        free(tmp);
        free(frames);
        rc_buffer_free(&s);
    }
    CHECK(in_range, "decoded tokens must stay below 2^bits");
    CHECK(ext_detected == ext_cases, "extended streams: %d of %d detected", ext_detected, ext_cases);
    CHECK(trunc_detected * 10 >= trunc_cases * 9, "truncated streams: %d of %d detected", trunc_detected,
          trunc_cases);
    printf("corrupt: truncated %d/%d, extended %d/%d, bytes changed %d/%d detected\n", trunc_detected,
           trunc_cases, ext_detected, ext_cases, corrupt_detected, corrupt_cases);
}

static void test_args(void)
{
    EntCtx c;
    CHECK(ent_ctx_init(&c, 0, 0) == -EINVAL && ent_ctx_init(&c, 25, 0) == -EINVAL, "bits 0 / 25 refused");
    CHECK(ent_ctx_init(&c, 8, RC_RATE_MAX_LIMIT + 1) == -EINVAL, "rate_max too large refused");
    CHECK(ent_ctx_init(&c, 8, 0) == 0 && c.rate_max == ENT_RATE_MAX_DEFAULT, "defaults");
    uint32_t t[4] = { 1, 2, 3, 256 };
    RcBuffer b = { 0 };
    CHECK(ent_encode_frame(&c, t, 2, 2, NULL, &b) == -EINVAL, "token >= 2^bits refused");
    t[3] = 255;
    CHECK(ent_encode_frame(&c, t, 0, 2, NULL, &b) == -EINVAL, "width 0 refused");
    CHECK(ent_encode_frame(&c, t, ENT_MAX_DIM + 1, 1, NULL, &b) == -EINVAL, "width too large refused");
    CHECK(ent_encode_frame(&c, t, 4096, 4096, NULL, &b) == -EINVAL, "too many tokens refused");
    CHECK(ent_decode_frame(&c, NULL, 0, 2, 2, NULL, t) == -EBADMSG, "empty stream refused");
    CHECK(ent_decode_frame(&c, b.data, 5, 2, 2, NULL, NULL) == -EINVAL, "NULL tokens refused");
    ent_ctx_free(&c);
    ent_ctx_free(&c); /* twice is harmless */
    rc_buffer_free(&b);
}

/* A fixed GOP whose stream hash pins the bitstream: a change of this value
 * is a change of the format (update spec/bitstream.md and the conformance
 * vectors with it). */
static void test_golden(void)
{
    uint64_t saved = check_rng;
    check_rng = 12345;
    RcBuffer s = { 0 };
    size_t off[9];
    int64_t total;
    gop_roundtrip(24, 18, 18, 8, PAT_CORR, 0, 0, &total, NULL, &s, off);
    uint64_t h = arg_hash64(s.data, s.size);
    printf("golden: GOP of 8 24x18 18-bit frames: %" PRId64 " bytes, XXH3-64 %016" PRIx64 "\n", total, h);
    CHECK(h == UINT64_C(0x3d046aafa0fa5920), "golden stream hash %016" PRIx64 " changed", h);
    rc_buffer_free(&s);
    check_rng = saved;
}

int main(void)
{
    test_rc_adaptation();
    test_rc_roundtrip();
    test_rc_hostile();
    test_args();
    test_frames();
    test_rates();
    test_corrupt();
    test_golden();
    return check_summary();
}
