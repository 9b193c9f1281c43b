/*
 * libFuzzer target for the WAV reader (tools/common/wav.c): the input is
 * written to a per-process anonymous file (the reader takes a path), opened
 * and read to the end in blocks of varying size; every sample must be a
 * number in [-1, 1] and no read may return more frames than asked for.
 */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_tmpfile.h"
#include "wav.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_tmpfile(data, size);
    if (!path)
        abort();
    WavReader *r = NULL;
    char err[512];
    err[0] = 0;
    if (wav_reader_open(&r, path, err, sizeof(err)) < 0) {
        if (r || !err[0])
            abort();
        return 0;
    }
    const WavInfo *info = wav_reader_info(r);
    if (info->channels < 1 || info->channels > 8 || info->sample_rate < 1 || info->sample_rate > 384000)
        abort();
    static const long blocks[] = { 1, 7, 1024, 3 };
    float *buf = malloc(sizeof(float) * 1024 * (size_t)info->channels);
    if (!buf)
        abort();
    uint64_t total = 0;
    for (int i = 0; total <= size; i++) {
        long want = blocks[i & 3];
        long got = wav_reader_read(r, buf, want);
        if (got < 0 || got > want)
            abort();
        if (got == 0)
            break;
        for (long k = 0; k < got * info->channels; k++)
            if (!(buf[k] >= -1.0f && buf[k] <= 1.0f))
                abort();
        total += (uint64_t)got;
    }
    if (total > size || total > info->frames)
        abort(); /* more frames than bytes, or than the data chunk holds */
    free(buf);
    wav_reader_close(r);
    return 0;
}
