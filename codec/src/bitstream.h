/* ARG bitstream syntax: the sequence header (Matroska CodecPrivate) and the
 * packet header (spec/bitstream.md). */
#ifndef ARG_BITSTREAM_H
#define ARG_BITSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "arg/arg.h"

#define ARG_SEQ_MAGIC "ARGS"
#define ARG_SEQ_VERSION 1
#define ARG_SEQ_SIZE 80            /* fixed size of version 1 */
#define ARG_CODER_RANGE_V1 1       /* rangecoder.h + entropy.h */

/* The public ArgSequenceHeader (arg.h) under its internal name. */
typedef ArgSequenceHeader ArgSeqHeader;

/* A model name: at most max characters of [A-Za-z0-9._-] (empty allowed). */
int arg_name_valid(const char *s, size_t max);

/* Write exactly ARG_SEQ_SIZE bytes. Returns ARG_SEQ_SIZE or -EINVAL. */
int arg_seq_write(const ArgSeqHeader *h, uint8_t *out);
/* Parse and validate; returns 0 or -EINVAL with a message in err. */
int arg_seq_parse(ArgSeqHeader *h, const uint8_t *data, size_t size, char *err, size_t errlen);

/* Packet: one byte (keyframe flag in bit 7, pictures in bits 0..4), then
 * the coded tokens of one latent frame. */
#define ARG_PKT_KEY 0x80
static inline uint8_t arg_pkt_byte(int keyframe, int n_pictures)
{
    return (uint8_t)((keyframe ? ARG_PKT_KEY : 0) | (n_pictures & 0x1F));
}

#endif
