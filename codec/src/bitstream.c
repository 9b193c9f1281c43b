/* Sequence header, version 1: 80 bytes, big-endian (spec/bitstream.md §2).
 *
 *  off size field                 off size field
 *    0  4  "ARGS"                  62  4  frame count (0 = unknown)
 *    4  1  version (1)             66  1  temporal factor ft
 *    5  1  header size (80)        67  1  spatial factor fs
 *    6  8  model ID (XXH3-64)      68  1  bits per token
 *   14 32  model name, NUL-padded  69  1  matrix coefficients
 *   46  2  coded width             70  1  range (1 limited, 2 full)
 *   48  2  coded height            71  1  colour primaries
 *   50  2  picture width           72  1  transfer characteristics
 *   52  2  picture height          73  1  source chroma (0 4:2:0, 1 4:2:2, 2 4:4:4)
 *   54  4  frame rate numerator    74  2  GOP length in latent frames
 *   58  4  frame rate denominator  76  1  entropy coder (1)
 *                                  77  1  adaptation limit R (1..8)
 *                                  78  2  reserved, zero
 */
#include "bitstream.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static void put32(uint8_t *p, uint32_t v)
{
    put16(p, v >> 16);
    put16(p + 2, v & 0xFFFF);
}
static unsigned get16(const uint8_t *p)
{
    return (unsigned)p[0] << 8 | p[1];
}
static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)get16(p) << 16 | get16(p + 2);
}

int arg_name_valid(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '_' || s[i] == '-'))
            return 0;
    return 1;
}

static int valid(const ArgSeqHeader *h, char *err, size_t errlen)
{
    const char *why = NULL;
    if (h->temporal_factor < 1 || h->temporal_factor > 16 ||
        (h->temporal_factor & (h->temporal_factor - 1)))
        why = "temporal factor must be a power of two in 1..16";
    else if (h->spatial_factor < 1 || h->spatial_factor > 64)
        why = "spatial factor must be in 1..64";
    else if (h->lfq_bits < 1 || h->lfq_bits > 24)
        why = "bits per token must be in 1..24";
    else if (h->width < 1 || h->height < 1 || h->width > 16384 || h->height > 16384)
        why = "picture size must be in 1..16384";
    else if (h->coded_width % h->spatial_factor || h->coded_height % h->spatial_factor ||
             h->coded_width < h->width || h->coded_height < h->height ||
             h->coded_width - h->width >= h->spatial_factor ||
             h->coded_height - h->height >= h->spatial_factor)
        why = "coded size must be the picture size rounded up to the spatial factor";
    else if (h->fps_num == 0 || h->fps_den == 0)
        why = "frame rate must be non-zero";
    else if (h->gop_latents < 1 || h->gop_latents > 65535)
        why = "GOP length must be 1..65535 latent frames";
    else if (h->coder != ARG_CODER_RANGE_V1)
        why = "unknown entropy coder";
    else if (h->rate_max < 1 || h->rate_max > 8)
        why = "entropy-coder adaptation limit must be 1..8";
    else if (h->chroma != 420 && h->chroma != 422 && h->chroma != 444)
        why = "chroma format must be 4:2:0, 4:2:2 or 4:4:4";
    else if (h->matrix < 0 || h->matrix > 255 || h->range < 0 || h->range > 2 || h->primaries < 0 ||
             h->primaries > 255 || h->transfer < 0 || h->transfer > 255)
        why = "colour description out of range";
    else if (!arg_name_valid(h->model_name, 32))
        why = "model name must be up to 32 characters of [A-Za-z0-9._-]";
    if (why && err && errlen)
        snprintf(err, errlen, "sequence header: %s", why);
    return why ? -EINVAL : 0;
}

int arg_seq_write(const ArgSeqHeader *h, uint8_t *o)
{
    if (valid(h, NULL, 0) < 0)
        return -EINVAL;
    memset(o, 0, ARG_SEQ_SIZE);
    memcpy(o, ARG_SEQ_MAGIC, 4);
    o[4] = ARG_SEQ_VERSION;
    o[5] = ARG_SEQ_SIZE;
    for (int i = 0; i < 8; i++)
        o[6 + i] = (uint8_t)(h->model_id >> (56 - 8 * i));
    memcpy(o + 14, h->model_name, strlen(h->model_name));
    put16(o + 46, (unsigned)h->coded_width);
    put16(o + 48, (unsigned)h->coded_height);
    put16(o + 50, (unsigned)h->width);
    put16(o + 52, (unsigned)h->height);
    put32(o + 54, h->fps_num);
    put32(o + 58, h->fps_den);
    put32(o + 62, h->frame_count);
    o[66] = (uint8_t)h->temporal_factor;
    o[67] = (uint8_t)h->spatial_factor;
    o[68] = (uint8_t)h->lfq_bits;
    o[69] = (uint8_t)h->matrix;
    o[70] = (uint8_t)h->range;
    o[71] = (uint8_t)h->primaries;
    o[72] = (uint8_t)h->transfer;
    o[73] = (uint8_t)(h->chroma == 420 ? 0 : h->chroma == 422 ? 1 : 2);
    put16(o + 74, (unsigned)h->gop_latents);
    o[76] = (uint8_t)h->coder;
    o[77] = (uint8_t)h->rate_max;
    return ARG_SEQ_SIZE;
}

int arg_seq_parse(ArgSeqHeader *h, const uint8_t *d, size_t size, char *err, size_t errlen)
{
    memset(h, 0, sizeof(*h));
    if (size < ARG_SEQ_SIZE || memcmp(d, ARG_SEQ_MAGIC, 4) != 0) {
        if (err && errlen)
            snprintf(err, errlen, "sequence header: missing or too short (%zu bytes)", size);
        return -EINVAL;
    }
    if (d[4] != ARG_SEQ_VERSION || d[5] != ARG_SEQ_SIZE || size != ARG_SEQ_SIZE) {
        if (err && errlen)
            snprintf(err, errlen, "sequence header: version %u, size %u (this decoder reads version 1, 80 bytes)",
                     d[4], d[5]);
        return -EINVAL;
    }
    for (int i = 0; i < 8; i++)
        h->model_id = h->model_id << 8 | d[6 + i];
    memcpy(h->model_name, d + 14, 32);
    h->model_name[32] = 0;
    /* the padding after the name must be zero */
    for (size_t i = strlen(h->model_name); i < 32; i++)
        if (d[14 + i]) {
            if (err && errlen)
                snprintf(err, errlen, "sequence header: model name not NUL-padded");
            return -EINVAL;
        }
    h->coded_width = (int)get16(d + 46);
    h->coded_height = (int)get16(d + 48);
    h->width = (int)get16(d + 50);
    h->height = (int)get16(d + 52);
    h->fps_num = get32(d + 54);
    h->fps_den = get32(d + 58);
    h->frame_count = get32(d + 62);
    h->temporal_factor = d[66];
    h->spatial_factor = d[67];
    h->lfq_bits = d[68];
    h->matrix = d[69];
    h->range = d[70];
    h->primaries = d[71];
    h->transfer = d[72];
    h->chroma = d[73] == 0 ? 420 : d[73] == 1 ? 422 : d[73] == 2 ? 444 : -1;
    h->gop_latents = (int)get16(d + 74);
    h->coder = d[76];
    h->rate_max = d[77];
    if (d[78] || d[79]) {
        if (err && errlen)
            snprintf(err, errlen, "sequence header: reserved bytes are not zero");
        return -EINVAL;
    }
    return valid(h, err, errlen);
}
