/* Internal hooks of the stream layer (stream.c) for the packet encoder and
 * decoder in api.c. */
#ifndef ARG_STREAM_H
#define ARG_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "arg/arg.h"

/* Encode one latent frame; prefix >= 0 is written as a first byte (the
 * packet byte). *data, *size: the whole buffer, prefix included. */
int tc_encode(ArgTokenCoder *c, const uint32_t *tokens, int keyframe, int prefix, uint64_t *bit_cost,
              const uint8_t **data, size_t *size);

#endif
