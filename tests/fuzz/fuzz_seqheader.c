/*
 * libFuzzer target for the sequence header (codec/src/bitstream.c): the
 * input is parsed by arg_seq_parse; when it parses, arg_seq_write must give
 * back exactly the input bytes (the syntax has one encoding per header),
 * and parsing that again must give the same header.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bitstream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ArgSeqHeader h, h2;
    char err[256];
    err[0] = 0;
    if (arg_seq_parse(&h, data, size, err, sizeof(err)) != 0) {
        if (!err[0] || !memchr(err, 0, sizeof(err)))
            abort(); /* a refusal always says why */
        return 0;
    }
    if (size != ARG_SEQ_SIZE)
        abort();
    uint8_t out[ARG_SEQ_SIZE + 16];
    memset(out, 0xA5, sizeof(out));
    if (arg_seq_write(&h, out) != ARG_SEQ_SIZE)
        abort();
    if (memcmp(out, data, ARG_SEQ_SIZE) != 0)
        abort();
    for (size_t i = ARG_SEQ_SIZE; i < sizeof(out); i++)
        if (out[i] != 0xA5)
            abort(); /* wrote past the header */
    if (arg_seq_parse(&h2, out, ARG_SEQ_SIZE, NULL, 0) != 0 || memcmp(&h, &h2, sizeof(h)) != 0)
        abort();
    return 0;
}
