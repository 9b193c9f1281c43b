/* Stream layer, part 1: the public sequence-header functions and the token
 * coder (the entropy coder of one GOP, spec/bitstream.md). The packet
 * layer of the encoder and decoder is in api.c, on top of these. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arg/arg.h"
#include "bitstream.h"
#include "entropy.h"
#include "stream.h"

_Static_assert(ARG_SEQUENCE_HEADER_SIZE == ARG_SEQ_SIZE, "one sequence header size");
_Static_assert(ARG_TOKEN_MAX_BITS == ENT_MAX_BITS && ARG_TOKEN_MAX_DIM == ENT_MAX_DIM &&
               ARG_TOKEN_MAX_COUNT == ENT_MAX_TOKENS && ARG_CODER_RATE_MAX_DEFAULT == ENT_RATE_MAX_DEFAULT &&
               ARG_CODER_RATE_MAX_LIMIT == RC_RATE_MAX_LIMIT, "public limits match the coder's");

int arg_parse_sequence_header(ArgSequenceHeader *h, const uint8_t *data, size_t size, char *err,
                              size_t errlen)
{
    if (!h || (!data && size)) {
        if (err && errlen)
            snprintf(err, errlen, "no sequence header");
        return -EINVAL;
    }
    return arg_seq_parse(h, data, size, err, errlen);
}

int arg_write_sequence_header(const ArgSequenceHeader *h, uint8_t *out, size_t size)
{
    if (!h || !out)
        return -EINVAL;
    if (size < ARG_SEQ_SIZE)
        return -ENOSPC;
    return arg_seq_write(h, out);
}

/* ---------------------------------------------------------- token coder */

struct ArgTokenCoder {
    EntCtx ent;
    int tw, th;
    int have_prev, broken;
    uint32_t *prev;
    RcBuffer buf;
};

int arg_token_coder_open(ArgTokenCoder **out, int bits, int tokens_w, int tokens_h, int rate_max)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (tokens_w < 1 || tokens_h < 1 || tokens_w > ENT_MAX_DIM || tokens_h > ENT_MAX_DIM ||
        (size_t)tokens_w * (size_t)tokens_h > ENT_MAX_TOKENS || rate_max < 0)
        return -EINVAL;
    ArgTokenCoder *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    int rc = ent_ctx_init(&c->ent, bits, (unsigned)rate_max);
    if (rc < 0) {
        free(c);
        return rc;
    }
    c->tw = tokens_w;
    c->th = tokens_h;
    c->prev = malloc((size_t)tokens_w * tokens_h * sizeof(uint32_t));
    if (!c->prev) {
        arg_token_coder_close(c);
        return -ENOMEM;
    }
    *out = c;
    return 0;
}

void arg_token_coder_close(ArgTokenCoder *c)
{
    if (!c)
        return;
    ent_ctx_free(&c->ent);
    rc_buffer_free(&c->buf);
    free(c->prev);
    free(c);
}

int tc_encode(ArgTokenCoder *c, const uint32_t *tokens, int keyframe, int prefix, uint64_t *bit_cost,
              const uint8_t **data, size_t *size)
{
    if (keyframe) {
        ent_ctx_reset(&c->ent);
        c->have_prev = 0;
        c->broken = 0;
    }
    if (c->broken)
        return -EINVAL;
    c->buf.size = 0;
    if (prefix >= 0) {
        if (rc_buffer_reserve(&c->buf, 1) < 0)
            return -ENOMEM;
        c->buf.data[c->buf.size++] = (uint8_t)prefix;
    }
    int64_t sz = ent_encode_frame_cost(&c->ent, tokens, c->tw, c->th, c->have_prev ? c->prev : NULL,
                                       &c->buf, bit_cost);
    if (sz < 0) {
        c->broken = 1; /* the context state is undefined until the next keyframe */
        return (int)sz;
    }
    memcpy(c->prev, tokens, (size_t)c->tw * c->th * sizeof(uint32_t));
    c->have_prev = 1;
    *data = c->buf.data;
    *size = c->buf.size;
    return 0;
}

int arg_token_coder_encode(ArgTokenCoder *c, const uint32_t *tokens, int keyframe,
                           const uint8_t **data, size_t *size, uint64_t *bit_cost)
{
    if (!c || !tokens || !data || !size)
        return -EINVAL;
    return tc_encode(c, tokens, keyframe, -1, bit_cost, data, size);
}

int arg_token_coder_decode(ArgTokenCoder *c, const uint8_t *data, size_t size, int keyframe,
                           uint32_t *tokens)
{
    if (!c || !tokens || (!data && size))
        return -EINVAL;
    if (keyframe) {
        ent_ctx_reset(&c->ent);
        c->have_prev = 0;
        c->broken = 0;
    }
    if (c->broken)
        return -EBADMSG;
    int rc = ent_decode_frame(&c->ent, data, size, c->tw, c->th, c->have_prev ? c->prev : NULL, tokens);
    if (rc < 0) {
        c->broken = 1; /* until the next keyframe */
        return rc;
    }
    memcpy(c->prev, tokens, (size_t)c->tw * c->th * sizeof(uint32_t));
    c->have_prev = 1;
    return 0;
}
