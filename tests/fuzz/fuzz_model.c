/*
 * libFuzzer target for the model loader (codec/src/model.c over
 * safetensors.c and json.c): the input is a model file for
 * arg_model_load_memory (8-byte header length, JSON header with the
 * __metadata__ config, tensor data). A refusal must be a negative errno
 * with a message and no model; a model that loads must describe itself
 * consistently (its ID is the XXH3-64 of the data section, its factors
 * follow from a valid config). Leaks show under ASan's leak checker.
 * Seeds: tests/fuzz/corpus/model (tests/fuzz/make_model_seeds.c writes the
 * valid ones).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arg/arg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ArgModel *m = (ArgModel *)(uintptr_t)1; /* must be cleared on failure */
    char err[256];
    memset(err, 0x55, sizeof(err));
    err[0] = 0;
    int rc = arg_model_load_memory(&m, data, size, err, sizeof(err));
    if (rc < 0) {
        if (m != NULL || rc < -4095)
            abort();
        if (!err[0] || !memchr(err, 0, sizeof(err)))
            abort(); /* a refusal always says why, NUL-terminated */
        return 0;
    }
    if (rc != 0 || !m)
        abort();
    const ArgModelInfo *mi = arg_model_info(m);
    if (!mi || mi->in_channels < 1 || mi->in_channels > 4 || mi->lfq_bits < 1 || mi->lfq_bits > 24 ||
        mi->temporal_factor < 1 || mi->temporal_factor > 16 || mi->spatial_factor < 1 ||
        mi->enc_params < 1 || mi->dec_params < 1 || !memchr(mi->name, 0, sizeof(mi->name)) ||
        !memchr(mi->config_json, 0, sizeof(mi->config_json)))
        abort();
    /* the ID hashes the data section: everything after the header */
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | data[i];
    if (hlen > size - 8 || mi->id != arg_hash64(data + 8 + hlen, size - 8 - (size_t)hlen))
        abort();
    arg_model_free(m);
    /* a null out pointer is refused, not dereferenced */
    if (arg_model_load_memory(NULL, data, size, NULL, 0) != -EINVAL)
        abort();
    return 0;
}
