/*
 * libFuzzer target for the ARG-Poet model loader (codec/src/synth/poet.c
 * over safetensors.c and json.c) and, for a file that loads, one decoding
 * step of the engine on a tiny grid: a refusal must be a negative errno
 * with a message and no model; a model that loads must describe itself
 * within the spec's ranges (spec/poet.md §2), its ID must be the XXH3-64 of
 * the data section, and the tokens it makes must fit in token_bits. Leaks
 * show under ASan's leak checker. Seeds: tests/fuzz/corpus/poet (written by
 * test_synth --make-model PATH ID tiny, plus hand-broken copies).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arg/synth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ArgPoet *p = (ArgPoet *)(uintptr_t)1; /* must be cleared on failure */
    char err[256];
    memset(err, 0x55, sizeof(err));
    err[0] = 0;
    int rc = arg_poet_load_memory(&p, data, size, err, sizeof(err));
    if (rc < 0) {
        if (p != NULL || rc < -4095)
            abort();
        if (!err[0] || !memchr(err, 0, sizeof(err)))
            abort(); /* a refusal always says why, NUL-terminated */
        return 0;
    }
    if (rc != 0 || !p)
        abort();
    const ArgPoetInfo *in = arg_poet_info(p);
    if (!in || in->token_bits < 1 || in->token_bits > 24 || in->dim < 1 || in->heads < 1 ||
        in->dim % in->heads || in->context < 1 || in->context > 8 || in->window < 3 || in->window > 15 ||
        !(in->window & 1) || in->anchor_max < 1 || in->anchor_max > 16 || !(in->ln_eps > 0) ||
        !memchr(in->name, 0, sizeof(in->name)) || !memchr(in->config_json, 0, sizeof(in->config_json)))
        abort();
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | data[i];
    if (hlen > size - 8 || in->id != arg_hash64(data + 8 + hlen, size - 8 - (size_t)hlen))
        abort();
    /* one frame on a 3x2 grid when the model is small enough to be quick */
    if ((int64_t)in->params < 200000) {
        ArgSynthSettings s;
        arg_synth_default_settings(&s);
        s.n_threads = 1;
        s.temperature = 0.7;
        s.top_k = 5;
        s.top_p = 0.9;
        s.seed = 3;
        ArgSynth *e = NULL;
        if (arg_synth_open(&e, p, 3, 2, &s) != 0)
            abort();
        uint32_t t[6] = { 0 };
        uint8_t known[6] = { 1, 0, 0, 1, 0, 0 };
        ArgSynthFrame f = { ARG_POET_INPAINT, 1, 0, known, NULL, 0 };
        double bits = 0;
        if (arg_synth_generate(e, &f, t) != 0 || arg_synth_measure(e, &f, t, &bits) != 0 || !(bits >= 0))
            abort();
        for (int i = 0; i < 6; i++)
            if (in->token_bits < 32 && t[i] >> in->token_bits)
                abort();
        arg_synth_close(e);
    }
    arg_poet_free(p);
    if (arg_poet_load_memory(NULL, data, size, NULL, 0) != -EINVAL)
        abort();
    return 0;
}
