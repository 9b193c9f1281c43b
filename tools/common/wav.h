/* WAV (RIFF/WAVE) PCM reader and writer for the CLIs' audio track. */
#ifndef ARG_TOOLS_WAV_H
#define ARG_TOOLS_WAV_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct WavInfo {
    int sample_rate;       /* 1..384000 */
    int channels;          /* 1..8 */
    int bits;              /* 8, 16, 24, 32 (int) or 32 (float) */
    int is_float;
    uint64_t frames;       /* sample frames in the data chunk (all channels) */
} WavInfo;

typedef struct WavReader WavReader;

/* Open and validate a WAV file ("-" = stdin). */
int wav_reader_open(WavReader **out, const char *path, char *err, size_t errlen);
const WavInfo *wav_reader_info(const WavReader *r);
/* Read up to n frames as interleaved float in [-1, 1]; returns frames read
 * (0 at the end) or a negative errno. */
long wav_reader_read(WavReader *r, float *out, long n);
void wav_reader_close(WavReader *r);

typedef struct WavWriter WavWriter;
/* 16-bit PCM; a file path is written atomically (PATH.tmp.XXXXXX + rename). */
int wav_writer_open(WavWriter **out, const char *path, int sample_rate, int channels,
                    char *err, size_t errlen);
/* The same into a stream the caller owns (stdout, a CliOut): the header
 * announces expected_frames (0: unknown, the largest size), and is
 * rewritten with the true count at close when the stream can seek. Close
 * flushes the stream but does not close it. */
int wav_writer_open_stream(WavWriter **out, FILE *f, int sample_rate, int channels,
                           uint64_t expected_frames);
int wav_writer_write(WavWriter *w, const float *in, long frames);
int wav_writer_close(WavWriter *w, int commit);

#endif
