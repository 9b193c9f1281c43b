/* avout: write decoded ARG pictures and audio into a playable file through
 * FFmpeg's libraries (libavformat's muxers, libavcodec's encoders,
 * libswresample). Built only with the libav feature (meson.build's
 * have_libav); argdec without it writes Y4M and WAV alone.
 *
 * The container comes from -f (a libavformat muxer name: mp4, matroska,
 * webm, mov, ...) or from the file's extension. Video is encoded (default
 * libx264 -crf 18 -preset medium, libvpx-vp9 -crf 32 for webm) in 8-bit
 * 4:2:0, 4:2:2 or 4:4:4 with the stream's colour description (matrix,
 * range, primaries, transfer; chroma sited at the centre, as the pictures
 * are box-averaged). Audio is the ARG file's Opus track: "copy" puts its
 * packets into the container unchanged (pre-skip kept as Matroska's codec
 * delay or mp4's edit list; the end trimmed to the real sample count by
 * Matroska's DiscardPadding, in mp4 only by the last packet's duration,
 * which FFmpeg's own decoder ignores: up to 20 ms more there); any other -c:a encodes the decoded
 * 48 kHz PCM. The default is copy where the container takes Opus (mkv,
 * webm, mp4), else aac.
 *
 * Timestamps: video pts are picture numbers (time base fps_den/fps_num),
 * audio pts 48 kHz sample numbers, both counted from the output's start.
 *
 * The file is written through the CLI toolkit (cli.h): atomically via a
 * temporary file, or to standard output for "-" (mp4/mov then become
 * fragmented, since a pipe cannot seek). Functions print why they fail
 * with cli_error and return a negative errno: -EINVAL for a request that
 * cannot be met (unknown container or encoder, a codec the container does
 * not take), -EIO and others for failures. */
#ifndef ARG_TOOLS_AVOUT_H
#define ARG_TOOLS_AVOUT_H

#include <stddef.h>
#include <stdint.h>

#include "y4m.h"

enum AvOutAudioMode {
    AVOUT_AUDIO_NONE = 0,  /* no audio stream */
    AVOUT_AUDIO_COPY,      /* give Opus packets: avout_write_opus */
    AVOUT_AUDIO_PCM,       /* give decoded samples: avout_write_pcm */
};

typedef struct AvOutConfig {
    const char *path;       /* output file, or "-" for standard output */
    const char *format;     /* muxer name (-f); NULL: from the extension */
    const char *vcodec;     /* video encoder (-c:v); NULL: the container's default */
    const char *acodec;     /* "copy" or an audio encoder (-c:a); NULL: copy when
                             * allowed, else aac (libopus for webm/mkv) */
    int crf;                /* -crf; < 0: the default of the encoder here */
    const char *preset;     /* -preset (libx264 and others that have it); NULL: default */
    int64_t abitrate;       /* -b:a for an audio encoder; 0: default */
    int threads;            /* encoder threads; 0: automatic */
    /* video */
    int width, height, fps_num, fps_den;
    int chroma;             /* enum Y4mChroma of the pictures given (4:2:0 any siting, 4:2:2, 4:4:4) */
    int matrix, range, primaries, transfer; /* ISO/IEC 23091-4 code points (ArgSequenceHeader) */
    /* audio: the ARG file's Opus track; channels 0 = none (or -an) */
    int channels;           /* 1 or 2 */
    const uint8_t *opus_head; /* CodecPrivate "OpusHead" (>= 19 bytes) */
    size_t opus_head_size;
    int64_t audio_samples;  /* 48 kHz samples in the output (copy: trims the end); < 0 unknown */
    int no_copy;            /* copy is impossible (audio does not start with the
                             * stream, -ss): the default becomes an encoder and an
                             * explicit "copy" is refused */
} AvOutConfig;

typedef struct AvOut AvOut;

/* Check the container and the encoders that cfg names (path, format,
 * vcodec, acodec, chroma, crf, preset; the rest may be unset) before any
 * work: 0, or -EINVAL after saying why. */
int avout_check(const AvOutConfig *cfg);
/* Check the request, open the output, set up the encoders and write the
 * container's header. */
int avout_open(AvOut **out, const AvOutConfig *cfg);
/* How the audio is to be given (enum AvOutAudioMode). */
int avout_audio_mode(const AvOut *o);
/* A line for the report: "out.mp4: mp4, h264 (libx264 crf 18), opus (copy)". */
const char *avout_describe(const AvOut *o);
/* One picture (size and chroma of the config) with its picture number. */
int avout_write_video(AvOut *o, const Y4mImage *img, int64_t pts);
/* One Opus packet (copy mode): pts is the 48 kHz number of its first coded
 * sample counted from the stream's first (pre-skip included), nsamples its
 * length. Packets after the end are dropped; the last one is trimmed. */
int avout_write_opus(AvOut *o, const uint8_t *data, size_t size, int64_t pts, int nsamples);
/* Decoded audio (PCM mode): n interleaved float samples per channel at
 * 48 kHz, continuing from the output's start. */
int avout_write_pcm(AvOut *o, const float *pcm, int n);
/* Flush the encoders and finish the file (commit: rename it into place) or
 * give up and remove it (commit 0). Frees o whatever the outcome. */
int avout_close(AvOut *o, int commit);

#endif
