/*
 * libFuzzer target for the token entropy decoder (codec/src/entropy.c).
 *
 * Input layout:
 *   byte 0: tw = 1 + b0 % 64          byte 1: th = 1 + b1 % 48
 *   byte 2: bits = 1 + (b2 & 31) % 24, bit 7: the first frame has a
 *           previous frame (synthesised from byte 3)
 *   byte 3: rate_max = 1 + (b3 & 7); bits 3..7 seed the synthetic frame
 *   then up to 4 frames, each a 2-byte little-endian length followed by
 *   that many bytes (clamped to what is left), decoded as one GOP: every
 *   frame after the first has the previous decoded frame as its previous.
 * For every frame that decodes without error, the tokens are coded again
 * and decoded once more with a copy of the context state: the same tokens
 * must come back (encoder and decoder agree on everything decodable).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "entropy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    const int tw = 1 + data[0] % 64, th = 1 + data[1] % 48;
    const int bits = 1 + (data[2] & 31) % 24;
    const int first_prev = data[2] >> 7;
    const unsigned rate_max = 1 + (data[3] & 7);
    uint32_t seed = 0x9E3779B9u * (1u + (data[3] >> 3));
    data += 4;
    size -= 4;

    const size_t n = (size_t)tw * (size_t)th;
    uint32_t *prev = malloc(n * sizeof(uint32_t));
    uint32_t *cur = malloc(n * sizeof(uint32_t));
    uint32_t *again = malloc(n * sizeof(uint32_t));
    EntCtx dec, enc, chk;
    memset(&enc, 0, sizeof(enc));
    memset(&chk, 0, sizeof(chk));
    RcBuffer buf = { 0 };
    if (!prev || !cur || !again || ent_ctx_init(&dec, bits, rate_max) < 0)
        abort();
    if (ent_ctx_init(&enc, bits, rate_max) < 0 || ent_ctx_init(&chk, bits, rate_max) < 0)
        abort();
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        prev[i] = (seed >> 8) & ((1u << bits) - 1);
    }
    int have_prev = first_prev;
    for (int f = 0; f < 4 && size >= 2; f++) {
        size_t len = (size_t)data[0] | (size_t)data[1] << 8;
        data += 2;
        size -= 2;
        if (len > size)
            len = size;
        /* enc mirrors dec's state before the frame */
        memcpy(enc.probs, dec.probs, dec.nprobs * sizeof(RcProb));
        int r = ent_decode_frame(&dec, len ? data : NULL, len, tw, th, have_prev ? prev : NULL, cur);
        if (r != 0 && r != -EBADMSG)
            abort();
        for (size_t i = 0; i < n; i++)
            if (cur[i] >> bits)
                abort();
        if (r < 0)
            break;
        /* re-code: same tokens back */
        memcpy(chk.probs, enc.probs, enc.nprobs * sizeof(RcProb));
        buf.size = 0;
        int64_t sz = ent_encode_frame(&enc, cur, tw, th, have_prev ? prev : NULL, &buf);
        if (sz < 1)
            abort();
        if (ent_decode_frame(&chk, buf.data, buf.size, tw, th, have_prev ? prev : NULL, again) != 0 ||
            memcmp(again, cur, n * sizeof(uint32_t)) != 0)
            abort();
        /* encoder and decoder contexts agree */
        if (memcmp(enc.probs, dec.probs, dec.nprobs * sizeof(RcProb)) != 0)
            abort();
        data += len;
        size -= len;
        memcpy(prev, cur, n * sizeof(uint32_t));
        have_prev = 1;
    }
    ent_ctx_free(&dec);
    ent_ctx_free(&enc);
    ent_ctx_free(&chk);
    rc_buffer_free(&buf);
    free(prev);
    free(cur);
    free(again);
    return 0;
}
