/* avin: argenc's input through FFmpeg's libraries (libavformat, libavcodec,
 * libswscale, libswresample). Built only when meson finds them (have_libav).
 *
 * One input file or pipe ("-" = standard input) is demuxed once; its video
 * stream is decoded and delivered as constant-rate pictures in argenc's
 * layout (planar float RGB in [-1, 1], see y4m.h), its audio stream decoded
 * and resampled to 48 kHz float, mono or stereo (more channels are
 * downmixed), or passed through packet by packet (Opus, -c:a copy).
 *
 * Time: t0, picture 0 of the output, is the first decoded picture at or
 * after the input's start time plus `start` (-ss, as ffmpeg's -ss keeps it).
 * Output picture k stands for input time t0 + k / rate and shows the last
 * decoded picture whose timestamp, rounded to the output rate, is at or
 * before k (ffmpeg's fps filter with round=near): pictures are dropped or
 * repeated to reach the rate. Audio samples before t0 are dropped, a gap
 * between t0 and the first sample is filled with silence.
 *
 * Colour: 8-bit planar Y'CbCr sources (4:2:0, 4:2:2, 4:4:4) keep their
 * matrix (BT.601 or BT.709; unspecified: BT.709 above 576 lines, else
 * BT.601), range and chroma siting, and are converted by y4m.c's
 * conversion, exactly as the same pictures in a Y4M file; other layouts and
 * depths go through libswscale first (to planar 8-bit of the same
 * subsampling, siting and range kept: sws_setColorspaceDetails,
 * src/dst_*_chr_pos), as does scaling. RGB and grey sources, and matrices
 * ARG cannot describe (BT.2020, SMPTE 240M), become RGB through libswscale
 * with the stream's coefficients.
 *
 * All functions return >= 0 on success and a negative errno on failure;
 * messages are kept in avin_error() (avin_open writes its own into err). */
#ifndef ARG_TOOLS_AVIN_H
#define ARG_TOOLS_AVIN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef struct AvinOptions {
    const char *path;           /* file, URL or "-" (standard input) */
    FILE *file;                 /* when set: read this stream instead (not
                                   seekable; e.g. avin_stdin_peek's); path
                                   only names it in messages */
    int video_stream;           /* N-th video stream (-map 0:v:N) */
    int audio_stream;           /* N-th audio stream (-map 0:a:N); -1: none (-an) */
    int need_video;             /* 0: an audio-only open (a second -i) */
    int audio_copy;             /* pass Opus packets through (-c:a copy) */
    int width, height;          /* output size; 0: the source's; -1/-2: keep the
                                   aspect ratio (-2: an even number) */
    int fps_num, fps_den;       /* output rate; 0/0: the stream's */
    double start;               /* seconds after the input's start (-ss) */
    int matrix;                 /* -1: the stream's; else enum Y4mMatrix forced */
} AvinOptions;

typedef struct AvinInfo {
    int width, height;          /* output pictures */
    int fps_num, fps_den;
    int matrix, full_range, chroma; /* enum Y4mMatrix, 0/1, enum Y4mChroma (= ArgChroma) */
    double start_time;          /* picture 0: seconds after the input's start (the first
                                   picture at or after AvinOptions.start) */
    double duration;            /* seconds from there to the input's end; < 0 unknown */
    int has_audio;
    int audio_channels;         /* of the output: 1 or 2 (copy: the stream's) */
    int audio_copy;             /* packets pass through */
    const uint8_t *opus_head;   /* copy: the stream's OpusHead */
    size_t opus_head_size;
    uint64_t opus_preskip;      /* copy: pre-skip in 48 kHz samples */
    char video_desc[256];       /* "h264 640x480 yuv420p, bt601 limited, chroma left, 29.97 fps" */
    char audio_desc[256];       /* "aac 44100 Hz 6 ch -> 48000 Hz 2 ch" */
    char format_desc[64];       /* the container ("mov,mp4,m4a,3gp,3g2,mj2") */
} AvinInfo;

typedef struct Avin Avin;

/* Open, pick the streams and decode the first picture. err receives why not:
 * not a media file, no video stream, a stream FFmpeg cannot decode, ... */
int avin_open(Avin **out, const AvinOptions *o, char *err, size_t errlen);
const AvinInfo *avin_info(const Avin *a);
/* The next output picture into rgb (planar float, width x height of the
 * info): 1, 0 at the end, or a negative errno. */
int avin_read_video(Avin *a, float *rgb, ptrdiff_t stride, ptrdiff_t plane_stride);
/* Up to n sample frames of interleaved 48 kHz float audio: the count, 0 at
 * the end, or a negative errno. */
long avin_read_audio(Avin *a, float *out, long n);
/* Copy mode: the next Opus packet (data valid until the next call), its
 * time in ns from t0 and its duration: 1, 0 at the end, or a negative errno. */
int avin_read_audio_packet(Avin *a, const uint8_t **data, size_t *size, int64_t *pts_ns, int64_t *dur_ns);
/* The video is finished (cut by -t): video packets read from now on are
 * dropped instead of queued for a later avin_read_video. */
void avin_video_done(Avin *a);
const char *avin_error(const Avin *a);
void avin_close(Avin *a);

/* A pipe (standard input: fd 0, or a FIFO) with its first bytes looked
 * at: head receives up to n bytes (*got of them); the returned stream reads
 * the pipe from its first byte (it replays them) and closes fd (unless it
 * is 0-2) when closed. NULL on failure. */
FILE *avin_peek_fd(int fd, uint8_t *head, size_t n, size_t *got);

/* Do the first bytes of a file look like a Y4M or a RIFF WAVE file? */
static inline int avin_is_y4m(const uint8_t *head, size_t n)
{
    return n >= 9 && !memcmp(head, "YUV4MPEG2", 9);
}
static inline int avin_is_wav(const uint8_t *head, size_t n)
{
    return n >= 12 && !memcmp(head, "RIFF", 4) && !memcmp(head + 8, "WAVE", 4);
}

#endif
