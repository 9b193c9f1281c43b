/* argdec: decode an ARG Matroska file to Y4M (and its Opus audio to WAV),
 * or, built with FFmpeg's libraries, to a playable mp4/mkv/webm/mov with
 * its audio (tools/common/avout.c).
 *
 *   argdec -i IN.mkv|- [-o OUT.y4m|OUT.mp4|OUT.mkv|OUT.webm|OUT.mov|OUT.wav|-]
 *          [-f FORMAT] [-c:v ENC] [-crf N] [-preset P] [-pix_fmt F] [-c:a copy|ENC]
 *          [-b:a RATE] [-an] [--audio OUT.wav|-] [-m MODEL] [--force]
 *          [-ss TIME] [--frames N] [--psnr REF.y4m] [--verify] [--info]
 *          [--stats FILE] [--allow-truncated] [-y | -n] [--quiet] ...
 *
 * The output's kind comes from -f or the extension: .y4m (and '-' without
 * -f) is Y4M, .wav the audio alone as WAV, anything else a container
 * written through libavformat (video encoded with libavcodec, the Opus
 * audio copied or encoded), pictures and audio timed from the stream.
 * --info prints the sequence header, the model, the GOPs and every packet's
 * size and bits per token (no decoding). --verify prints XXH3-64 of the
 * decoded tokens (little-endian uint32, latent frame after latent frame)
 * and of the decoded pictures (8-bit Y4M planes, picture after picture).
 * A stream that ends before the picture count of its header is an error
 * (exit 3) unless --allow-truncated. SIGINT/SIGTERM remove partial outputs.
 * The pictures go out (--verify's hash, --psnr, Y4M or the container's
 * encoder and muxer) from a writer thread while the next latent frame
 * decodes; --no-pipeline does it all in one thread, with the same output. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <xxhash.h>
#include <opus/opus.h>

#include "arg/arg.h"
#include "arg_mkv.h"
#ifdef ARG_HAVE_LIBAV
#include "avout.h"
#endif
#include "cli.h"
#include "metrics.h"
#include "modelpath.h"
#include "analyze_opt.h"
#include "wav.h"
#include "y4m.h"

#define EXIT_TRUNCATED 3

static struct {
    const char *in, *out, *model, *audio, *ref, *stats;
    int force, verify, info, threads, gemm, backend, device, allow_truncated;
    double ss;
    int64_t max_frames;
    int progress;
    /* containers through FFmpeg's libraries */
    const char *format, *vcodec, *acodec, *preset;
    int crf, pix_fmt, no_audio;
    int64_t abitrate;
} opt = { NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, 0, 0, ARG_GEMM_AUTO, ARG_BACKEND_AUTO, 0, 0, 0, -1, 0,
          NULL, NULL, NULL, NULL, -1, -1, 0, 0 };

static const CliChoice pix_fmt_choices[] = {
    { "yuv420p", Y4M_C420JPEG }, { "yuv422p", Y4M_C422 }, { "yuv444p", Y4M_C444 }, { NULL, 0 },
};

static const char *analyze_path; /* --analyze */
static int no_pipeline;         /* --no-pipeline */

static const CliOpt opts[] = {
    { .names = "-i --input", .kind = CLI_STRING, .dest = &opt.in, .metavar = "FILE",
      .help = "ARG Matroska input ('-' for stdin)", .flags = CLI_REQUIRED },
    CLI_OPT_STRING("-o --output", &opt.out, "FILE",
                   "output, written atomically ('-' for stdout): .y4m Y4M pictures,\n"
                   ".wav the audio alone, .mp4 .mkv .webm .mov ... video and audio\n"
                   "(FFmpeg's libraries); '-' and names without an extension are\n"
                   "Y4M unless -f says otherwise"),
    CLI_OPT_STRING("-f", &opt.format, "FORMAT",
                   "container (a libavformat muxer: mp4, matroska, webm, mov, ...;\n"
                   "yuv4mpegpipe for Y4M, wav for WAV); default: from the extension"),
    CLI_OPT_STRING("-c:v -vcodec", &opt.vcodec, "ENC",
                   "video encoder (default libx264; libvpx-vp9 for webm)"),
    CLI_OPT_INT("-crf", &opt.crf, 0, 63, "N", "constant quality (default 18 for libx264, 32 for libvpx-vp9)"),
    CLI_OPT_STRING("-preset", &opt.preset, "P", "encoder preset (libx264: ultrafast .. veryslow)"),
    CLI_OPT_ENUM("-pix_fmt", &opt.pix_fmt, pix_fmt_choices, "F",
                 "yuv420p | yuv422p | yuv444p (default: yuv420p in containers,\n"
                 "the stream's chroma in Y4M)"),
    CLI_OPT_STRING("-c:a -acodec", &opt.acodec, "ENC",
                   "copy (the Opus packets as they are) or an audio encoder (aac,\n"
                   "libopus, flac, ...); default copy where the container takes\n"
                   "Opus (mkv, webm, mp4), else aac"),
    CLI_OPT_BITRATE("-b:a", &opt.abitrate, 6000, 1000000, "RATE", "audio encoder bit rate (default 128k aac, 96k opus)"),
    CLI_OPT_FLAG("-an", &opt.no_audio, "no audio in the output container"),
    CLI_OPT_STRING("--audio", &opt.audio, "FILE",
                   "decode the Opus track to a 16-bit 48 kHz WAV ('-' for stdout)"),
    CLI_OPT_STRING("--psnr", &opt.ref, "REF",
                   "compare the pictures with this Y4M (same size and chroma) and print PSNR"),
    CLI_OPT_STRING("-m --model", &opt.model, "MODEL", "model file or name (default: the stream's model)"),
    CLI_OPT_FLAG("--force", &opt.force, "decode even if the model ID differs from the stream's"),
    CLI_OPT_TIME("-ss", &opt.ss, 0, 1e9, "TIME", "start at this time (decoding from the GOP that holds it)"),
    CLI_OPT_INT64("-frames:v --frames", &opt.max_frames, 1, INT64_MAX, "N", "output at most N pictures"),
    CLI_OPT_INT("--threads", &opt.threads, 0, 256, "N", "worker threads (default 0: all cores)"),
    CLI_OPT_FLAG("--no-pipeline", &no_pipeline,
                 "convert and write the pictures in the decoding thread (by default\n"
                 "a thread of their own writes them while the next ones decode)"),
    CLI_OPT_GEMM("--gemm", &opt.gemm),
    CLI_OPT_BACKEND(&opt.backend),
    CLI_OPT_DEVICE(&opt.device),
    CLI_OPT_FLAG("--verify", &opt.verify, "print XXH3-64 of the decoded tokens and pictures"),
    CLI_OPT_FLAG("--info", &opt.info, "describe the stream (header, GOPs, packets) and exit"),
    CLI_OPT_FLAG("--allow-truncated", &opt.allow_truncated,
                 "a stream shorter than its header says is a warning, not an error"),
    CLI_OPT_STRING("--stats", &opt.stats, "FILE", "write final statistics as JSON ('-' for stdout)"),
    CLI_OPT_STRING("--analyze", &analyze_path, "FILE.json", ANALYZE_OPT_HELP),
    CLI_OPT_FLAG("--quiet", &cli_quiet, "no progress line"),
    CLI_OPT_FLAG("--progress", &opt.progress, "show the progress line even when stderr is not a terminal"),
    CLI_OPT_OVERWRITE_YES,
    CLI_OPT_OVERWRITE_NO,
    CLI_OPT_END,
};

static const CliHint hints[] = {
    { "-b:v -vf -s -r",
      "argdec keeps the stream's size and rate; filter with ffmpeg, e.g.\n"
      "  argdec -i IN.mkv -o - -f matroska | ffmpeg -i - -vf scale=320:-2 OUT.mp4" },
    { "-t -to", "use --frames N (pictures)" },
    CLI_HINT_END,
};

static const CliTool tool = {
    .name = "argdec",
    .synopsis = "-i IN.mkv [-o OUT.y4m|OUT.mp4|OUT.mkv|OUT.webm|OUT.mov|OUT.wav] [options]",
#ifdef ARG_HAVE_LIBAV
    .about = "Decode an ARG Matroska file to Y4M pictures (and its Opus audio to WAV), or to a\n"
             "playable video file with its audio (mp4, mkv, webm, mov: FFmpeg's libraries).",
#else
    .about = "Decode an ARG Matroska file to Y4M pictures (and its Opus audio to WAV). This build\n"
             "has no FFmpeg libraries: it writes only Y4M and WAV (other containers, -c:v, -crf,\n"
             "-preset, -c:a, -b:a and -an are refused).",
#endif
    .opts = opts,
    .hints = hints,
    .epilog = "Exit status: 0 done; 1 error; 2 bad usage; 3 the stream ends before the pictures its\n"
              "header announces (truncated; --allow-truncated makes it 0); 130/143 stopped by a signal\n"
              "(partial outputs removed).\n"
              "Watch a result: argdec -i x.mkv -o x.mp4, or with the sound straight away:\n"
              "  argdec -i x.mkv -o - -f matroska | ffplay -\n",
};

static int info_mode(MkvReader *r, const ArgSequenceHeader *h)
{
    printf("sequence header: model \"%s\" id %016" PRIx64 "\n", h->model_name,
           h->model_id);
    printf("  picture %dx%d (coded %dx%d), %u/%u fps, %u pictures, chroma %d\n", h->width, h->height,
           h->coded_width, h->coded_height, h->fps_num, h->fps_den, h->frame_count, h->chroma);
    printf("  tokens: %d bits, %dx%dx%d pictures x pixels per token; GOP %d latent frames; coder %d (R=%d)\n",
           h->lfq_bits, h->temporal_factor, h->spatial_factor, h->spatial_factor, h->gop_latents, h->coder,
           h->rate_max);
    printf("  colour: matrix %d, range %d, primaries %d, transfer %d\n", h->matrix, h->range, h->primaries,
           h->transfer);
    const char *enc = mkv_reader_tag(r, "ENCODER");
    if (enc)
        printf("  encoder: %s; settings: %s\n", enc, mkv_reader_tag(r, "ENCODER_SETTINGS") ? mkv_reader_tag(r, "ENCODER_SETTINGS") : "");
    const uint64_t *cues;
    int ncue;
    mkv_reader_cues(r, &cues, &ncue);
    printf("  %d cue points (GOP starts)\n", ncue);
    size_t tokens = (size_t)(h->coded_width / h->spatial_factor) * (h->coded_height / h->spatial_factor);
    MkvPacket p;
    int n = 0, gops = 0, rc;
    uint64_t total = 0;
    printf("  packet  time(s)    key  pictures  bytes  bits/token\n");
    while ((rc = mkv_read_packet(r, &p)) == 0) {
        if (p.track_type != MKV_TRACK_VIDEO || p.size < 1)
            continue;
        int key = p.keyframe;
        gops += key;
        printf("  %6d  %8.3f  %s  %8d  %5zu  %10.3f\n", n++, p.pts_ns / 1e9, key ? "key" : "   ", p.data[0] & 0x1F,
               p.size, (p.size - 1) * 8.0 / (double)tokens);
        total += p.size;
    }
    printf("  %d packets, %d GOPs, %" PRIu64 " bytes, %.3f bits/token (raw %d)\n", n, gops, total,
           n ? (total - (uint64_t)n) * 8.0 / ((double)n * tokens) : 0.0, h->lfq_bits);
    return rc < 0 ? 1 : 0;
}


/* stdin is copied to a temporary file: the Matroska reader seeks. */
static int stdin_to_file(char *path, size_t len)
{
    const char *tmpdir = getenv("TMPDIR");
    snprintf(path, len, "%s/argdec-stdin-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0)
        return -errno;
    cli_tmp_register(path);
    char buf[1 << 16];
    size_t n;
    int rc = 0;
    while ((n = fread(buf, 1, sizeof(buf), stdin)) > 0)
        if (write(fd, buf, n) != (ssize_t)n) {
            rc = -EIO;
            break;
        }
    if (ferror(stdin))
        rc = -EIO;
    if (close(fd) != 0)
        rc = -EIO;
    return rc;
}

static int has_ext(const char *path, const char *ext)
{
    size_t n = strlen(path), e = strlen(ext);
    return n > e && !strcasecmp(path + n - e, ext);
}

/* -o's kind: Y4M (.y4m, '-', a name without extension such as /dev/null,
 * or -f yuv4mpegpipe), WAV (.wav or -f wav: the audio alone) or a container
 * written through FFmpeg's libraries (any other extension, or -f). */
enum { OUT_Y4M, OUT_WAV, OUT_AV };
static int output_kind(const char *path, const char *format)
{
    if (format)
        return !strcmp(format, "yuv4mpegpipe") ? OUT_Y4M : !strcmp(format, "wav") ? OUT_WAV : OUT_AV;
    const char *base = strrchr(path, '/'), *dot = strrchr(base ? base + 1 : path, '.');
    if (!strcmp(path, "-") || !dot || dot == (base ? base + 1 : path) || has_ext(path, ".y4m"))
        return OUT_Y4M;
    return has_ext(path, ".wav") ? OUT_WAV : OUT_AV;
}

/* The Opus track as argenc writes it (1-2 channels, an OpusHead), or NULL. */
static const MkvTrack *opus_track(MkvReader *r)
{
    const MkvTrack *at = mkv_reader_find_track(r, MKV_TRACK_AUDIO);
    if (!at || strcmp(at->codec_id, "A_OPUS") || at->codec_private_size < 19 ||
        memcmp(at->codec_private, "OpusHead", 8) || at->codec_private[9] < 1 || at->codec_private[9] > 2)
        return NULL;
    return at;
}

/* ------------------------------------------------------------ the writer
 *
 * The pictures go out in a thread of their own: the decoding thread
 * (packets, entropy decoding, the network) converts each picture to 8-bit
 * YUV into a free slot of a small ring and moves on to the next latent
 * frame, while the writer hashes it (--verify), compares it (--psnr),
 * writes it (Y4M, or through avout, whose video encoder may be heavy) and
 * shows the progress, in picture order. The container's audio (Opus
 * packets or decoded PCM) goes through the same queue: avout is not
 * thread-safe (one AVFormatContext, one AVPacket) and the muxer then sees
 * the very same sequence of calls as a single-threaded decode: the same
 * packets, interleaved the same way. A writer that fails prints why, as before, and stops;
 * the decoding thread sees it at its next picture or packet and stops too.
 * --no-pipeline does the same work in the decoding thread. */
#define PIPE_PICTURES 4   /* picture slots */
#define PIPE_ITEMS 64     /* queued items: pictures and audio packets */

enum { ITEM_PICTURE, ITEM_OPUS, ITEM_PCM };

typedef struct PipeItem {
    int kind;
    int64_t pts;          /* picture: number in the output; Opus: first sample (avout_write_opus) */
    int n;                /* Opus: samples; PCM: samples per channel */
    Y4mImage *img, *avimg; /* picture: its slot's images (avimg in -pix_fmt, or NULL) */
    void *buf;            /* Opus bytes or PCM floats, owned and reused */
    size_t size, cap;
} PipeItem;

typedef struct Pipe {
    /* the outputs (the writer's while it runs) */
    Y4mWriter *yw;
#ifdef ARG_HAVE_LIBAV
    AvOut *av;
#endif
    Y4mReader *ref;
    Y4mImage *rimg;
    PsnrAcc *acc;
    XXH3_state_t *hp;
    CliProgress *prog;
    double t0, fps;
    int64_t written;      /* pictures out */
    /* the queue */
    Y4mImage img[PIPE_PICTURES], avimg[PIPE_PICTURES];
    PipeItem items[PIPE_ITEMS];
    int ihead, icount;    /* items: oldest, how many queued */
    int phead, pcount;    /* picture slots: oldest, how many queued */
    int failed, done, abort;
    int threaded, running;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t put, got;
} Pipe;

/* Slots for width x height pictures in chroma (and avchroma >= 0 for the
 * container when it differs): one without a pipeline. */
static int pipe_init(Pipe *q, int threaded, int width, int height, int chroma, int avchroma)
{
    for (int i = 0; i < (threaded ? PIPE_PICTURES : 1); i++)
        if (y4m_image_alloc(&q->img[i], width, height, chroma) < 0 ||
            (avchroma >= 0 && y4m_image_alloc(&q->avimg[i], width, height, avchroma) < 0))
            return -ENOMEM;
    return 0;
}

/* One item, in the writer (or the decoding thread without a pipeline):
 * 0, or -1 after saying why. */
static int pipe_write(Pipe *q, PipeItem *it)
{
#ifdef ARG_HAVE_LIBAV
    if (it->kind == ITEM_OPUS)
        return avout_write_opus(q->av, it->buf, it->size, it->pts, it->n) < 0 ? -1 : 0;
    if (it->kind == ITEM_PCM)
        return avout_write_pcm(q->av, it->buf, it->n) < 0 ? -1 : 0;
#endif
    const Y4mImage *img = it->img;
    for (int pl = 0; pl < 3; pl++)
        for (int y = 0; y < img->h[pl]; y++)
            XXH3_64bits_update(q->hp, img->data[pl] + y * img->stride[pl], (size_t)img->w[pl]);
    if (q->ref) {
        if (y4m_reader_read(q->ref, q->rimg) != 1) {
            cli_error("%s has fewer pictures than the stream", opt.ref);
            return -1;
        }
        for (int pl = 0; pl < 3; pl++)
            psnr_acc_add(q->acc, pl, metrics_sse_u8(img->data[pl], img->stride[pl], q->rimg->data[pl],
                                                    q->rimg->stride[pl], img->w[pl], img->h[pl]),
                         (uint64_t)img->w[pl] * img->h[pl]);
    }
    if (q->yw && y4m_writer_write(q->yw, img) < 0) {
        cli_error("%s", y4m_writer_error(q->yw));
        return -1;
    }
#ifdef ARG_HAVE_LIBAV
    if (q->av && avout_write_video(q->av, it->avimg ? it->avimg : img, it->pts) < 0)
        return -1;
#endif
    q->written++;
    double el = cli_now() - q->t0;
    cli_progress_update(q->prog, q->written, "%.1fx real time", el > 0 ? q->written / q->fps / el : 0.0);
    return 0;
}

static void *pipe_main(void *arg)
{
    Pipe *q = arg;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (!q->icount && !q->done && !q->abort)
            pthread_cond_wait(&q->put, &q->mu);
        if (q->abort || !q->icount)
            break;
        PipeItem *it = &q->items[q->ihead];
        pthread_mutex_unlock(&q->mu);
        int rc = pipe_write(q, it);
        pthread_mutex_lock(&q->mu);
        q->ihead = (q->ihead + 1) % PIPE_ITEMS;
        q->icount--;
        if (it->kind == ITEM_PICTURE) {
            q->phead = (q->phead + 1) % PIPE_PICTURES;
            q->pcount--;
        }
        pthread_cond_signal(&q->got);
        if (rc < 0) {
            q->failed = 1;
            break;
        }
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

static int pipe_start(Pipe *q)
{
    if (pthread_mutex_init(&q->mu, NULL) != 0)
        return -ENOMEM;
    if (pthread_cond_init(&q->put, NULL) != 0) {
        pthread_mutex_destroy(&q->mu);
        return -ENOMEM;
    }
    if (pthread_cond_init(&q->got, NULL) != 0) {
        pthread_cond_destroy(&q->put);
        pthread_mutex_destroy(&q->mu);
        return -ENOMEM;
    }
    int e = pthread_create(&q->thread, NULL, pipe_main, q);
    if (e != 0) {
        pthread_cond_destroy(&q->got);
        pthread_cond_destroy(&q->put);
        pthread_mutex_destroy(&q->mu);
        return -e;
    }
    q->threaded = q->running = 1;
    return 0;
}

/* A free item (a picture: with a free slot) for the decoding thread to
 * fill, or NULL when the writer failed. */
static PipeItem *pipe_reserve(Pipe *q, int kind)
{
    if (!q->threaded) {
        if (q->failed)
            return NULL;
        PipeItem *it = &q->items[0];
        it->kind = kind;
        it->img = &q->img[0];
        it->avimg = q->avimg[0].alloc ? &q->avimg[0] : NULL;
        return it;
    }
    pthread_mutex_lock(&q->mu);
    while (!q->failed && (q->icount == PIPE_ITEMS || (kind == ITEM_PICTURE && q->pcount == PIPE_PICTURES)))
        pthread_cond_wait(&q->got, &q->mu);
    /* the item and slot after the queued ones are the decoding thread's */
    int failed = q->failed, item = (q->ihead + q->icount) % PIPE_ITEMS, slot = (q->phead + q->pcount) % PIPE_PICTURES;
    pthread_mutex_unlock(&q->mu);
    if (failed)
        return NULL;
    PipeItem *it = &q->items[item];
    it->kind = kind;
    it->img = &q->img[slot];
    it->avimg = q->avimg[slot].alloc ? &q->avimg[slot] : NULL;
    return it;
}

/* Room for size bytes of audio in the item. */
static int pipe_item_buf(PipeItem *it, size_t size)
{
    if (size > it->cap) {
        void *b = realloc(it->buf, size);
        if (!b)
            return -ENOMEM;
        it->buf = b;
        it->cap = size;
    }
    it->size = size;
    return 0;
}

/* Queue the item pipe_reserve gave (without a pipeline: write it now).
 * 0, or -1 when the writer failed (it said why). */
static int pipe_commit(Pipe *q, PipeItem *it)
{
    if (!q->threaded) {
        if (pipe_write(q, it) < 0)
            q->failed = 1;
        return q->failed ? -1 : 0;
    }
    pthread_mutex_lock(&q->mu);
    q->icount++;
    if (it->kind == ITEM_PICTURE)
        q->pcount++;
    pthread_cond_signal(&q->put);
    int failed = q->failed;
    pthread_mutex_unlock(&q->mu);
    return failed ? -1 : 0;
}

/* Whether the writer failed (the decoding thread then stops). */
static int pipe_failed(Pipe *q)
{
    if (!q->threaded)
        return q->failed;
    pthread_mutex_lock(&q->mu);
    int failed = q->failed;
    pthread_mutex_unlock(&q->mu);
    return failed;
}

/* Wait for the writer: drain the queue, or (abort) stop after the item in
 * hand. 0, or -1 when the writer failed. Then the outputs are the caller's
 * again. */
static int pipe_finish(Pipe *q, int abort)
{
    if (q->running) {
        pthread_mutex_lock(&q->mu);
        q->done = 1;
        q->abort |= abort;
        pthread_cond_signal(&q->put);
        pthread_mutex_unlock(&q->mu);
        pthread_join(q->thread, NULL);
        q->running = 0;
    }
    return q->failed ? -1 : 0;
}

static void pipe_free(Pipe *q)
{
    pipe_finish(q, 1);
    if (q->threaded) {
        pthread_cond_destroy(&q->got);
        pthread_cond_destroy(&q->put);
        pthread_mutex_destroy(&q->mu);
        q->threaded = 0;
    }
    for (int i = 0; i < PIPE_PICTURES; i++) {
        y4m_image_free(&q->img[i]);
        y4m_image_free(&q->avimg[i]);
    }
    for (int i = 0; i < PIPE_ITEMS; i++)
        free(q->items[i].buf);
}

int main(int argc, char **argv)
{
    cli_parse_or_exit(&tool, argc, argv);
    int kind = opt.out ? output_kind(opt.out, opt.format) : OUT_Y4M;
    if (opt.format && !opt.out) {
        cli_error("-f names the container of -o: give -o");
        return CLI_EXIT_USAGE;
    }
    if (kind == OUT_WAV) { /* -o x.wav: the audio alone */
        if (opt.audio) {
            cli_error("-o %s already takes the audio: drop --audio", opt.out);
            return CLI_EXIT_USAGE;
        }
        opt.audio = opt.out;
        opt.out = NULL;
    }
    const void *av_only[] = { &opt.vcodec, &opt.acodec, &opt.crf, &opt.preset, &opt.abitrate, &opt.no_audio };
    for (size_t i = 0; i < sizeof(av_only) / sizeof(av_only[0]); i++)
        if (kind != OUT_AV && cli_given(av_only[i])) {
            cli_error("-c:v, -crf, -preset, -c:a, -b:a and -an apply to video containers (mp4, mkv, webm, mov), "
                      "not to Y4M or WAV output");
            return CLI_EXIT_USAGE;
        }
#ifdef ARG_HAVE_LIBAV
    if (kind == OUT_AV) { /* refuse what cannot be written before any work */
        AvOutConfig ac = { .path = opt.out, .format = opt.format, .vcodec = opt.vcodec, .acodec = opt.acodec,
                           .crf = opt.crf, .preset = opt.preset,
                           .chroma = opt.pix_fmt >= 0 ? opt.pix_fmt : Y4M_C420JPEG };
        if (avout_check(&ac) < 0)
            return CLI_EXIT_USAGE;
    }
#else
    if (kind == OUT_AV) {
        cli_error("%s: this argdec was built without FFmpeg's libraries (meson -Dlibav=enabled): it writes only "
                  "Y4M (.y4m, -f yuv4mpegpipe) and WAV (.wav); convert with ffmpeg, e.g. "
                  "argdec -i IN.mkv -o - | ffmpeg -i - OUT.mp4", opt.out);
        return CLI_EXIT_FAIL;
    }
#endif
    if (!opt.out && !opt.verify && !opt.info && !opt.audio && !opt.ref && !analyze_path) {
        cli_error("nothing to do: give -o, --audio, --psnr, --verify, --analyze or --info (try --help)");
        return CLI_EXIT_USAGE;
    }
    if (opt.ref && opt.ss > 0) {
        cli_error("--psnr compares from the first picture: it cannot be combined with -ss");
        return CLI_EXIT_USAGE;
    }
    const char *outs[3] = { opt.out, opt.audio, opt.stats };
    int on_stdout = 0; /* each output opens through cli_out_open, which claims stdout */
    for (int i = 0; i < 3; i++)
        on_stdout += outs[i] && !strcmp(outs[i], "-");
    if (on_stdout > 1) {
        cli_error("only one of -o, --audio and --stats can be '-' (standard output)");
        return CLI_EXIT_USAGE;
    }
    for (int i = 0; i < 3; i++)
        if (outs[i] && strcmp(outs[i], "-") && cli_check_overwrite(outs[i]) < 0)
            return CLI_EXIT_FAIL;
    cli_signals_install(0); /* a signal removes the partial outputs */
    const char *in = opt.in;
    char err[512], path[1024], stdin_path[1100] = "";
    if (!strcmp(in, "-")) {
        int rc = stdin_to_file(stdin_path, sizeof(stdin_path));
        if (rc < 0) {
            cli_error("cannot read stdin: %s", strerror(-rc));
            if (stdin_path[0])
                unlink(stdin_path);
            return CLI_EXIT_FAIL;
        }
        in = stdin_path;
    }
    MkvReader *r;
    int orc = mkv_reader_open(&r, in, err, sizeof(err));
    if (stdin_path[0]) { /* the reader keeps it open */
        unlink(stdin_path);
        cli_tmp_unregister(stdin_path);
    }
    if (orc < 0) {
        cli_error("%s: %s", opt.in, err);
        return CLI_EXIT_FAIL;
    }
    const MkvTrack *vt = mkv_reader_find_track(r, MKV_TRACK_VIDEO);
    ArgSequenceHeader h;
    if (!vt || strcmp(vt->codec_id, "V_ARG") != 0) {
        cli_error("%s: no ARG video track (CodecID V_ARG)", opt.in);
        mkv_reader_close(r);
        return CLI_EXIT_FAIL;
    }
    if (arg_parse_sequence_header(&h, vt->codec_private, vt->codec_private_size, err, sizeof(err)) < 0) {
        cli_error("%s: %s", opt.in, err);
        mkv_reader_close(r);
        return CLI_EXIT_FAIL;
    }
    if (opt.info) {
        int rc = info_mode(r, &h);
        mkv_reader_close(r);
        return rc;
    }
    /* --analyze alone reads tokens only: no model, no picture network */
    int pixels = opt.out || opt.verify || opt.ref;
    const char *want = opt.model ? opt.model : h.model_name;
    if (pixels && (!want[0] || model_find(want, path, sizeof(path)) < 0)) {
        cli_error("model '%s' not found (give it with -m)", want);
        mkv_reader_close(r);
        return CLI_EXIT_FAIL;
    }
    ArgModel *model = NULL;
    if (pixels && arg_model_load(&model, path, err, sizeof(err)) < 0) {
        cli_error("%s", err);
        mkv_reader_close(r);
        return CLI_EXIT_FAIL;
    }
    int ret = CLI_EXIT_FAIL, rc;
    ArgDecoder *dec = NULL;
    AnalyzeOpt *analysis = NULL;
    Y4mWriter *yw = NULL;
#ifdef ARG_HAVE_LIBAV
    AvOut *av = NULL;
#endif
    int avchroma = -1;           /* the pictures in -pix_fmt when it differs */
    int acopy = 0, apcm = 0;     /* the container takes the Opus packets / decoded audio */
    XXH3_state_t *ht = XXH3_createState(), *hp = XXH3_createState();
    OpusDecoder *od = NULL;
    WavWriter *ww = NULL;
    CliOut yout = { 0 }, aout = { 0 };
    float *pcm = NULL;
    int ach = 0, preskip = 0;
    int64_t anext = -1;          /* 48 kHz number of the next audio packet's first sample */
    int64_t aoff = 0, aend = -1; /* container audio: first sample kept (after pre-skip), samples kept */
    int audio_done = 0;          /* the container's audio is complete */
    int64_t askip = 0;           /* 48 kHz samples still to drop (pre-skip) */
    int64_t aleft = -1;          /* 48 kHz samples still to write (-1: all) */
    Y4mReader *ref = NULL;
    Y4mImage rimg = { 0 };
    PsnrAcc acc;
    psnr_acc_init(&acc);
    CliProgress prog;
    memset(&prog, 0, sizeof(prog));
    Pipe q;
    memset(&q, 0, sizeof(q));
    int threaded = pixels && !no_pipeline;
    uint64_t vbytes = 0, abytes = 0;
    ArgSettings s;
    arg_default_settings(&s);
    s.n_threads = opt.threads;
    s.gemm = opt.gemm;
    s.backend = opt.backend;
    s.device = opt.device;
    if ((rc = arg_decoder_open_stream(&dec, model, &s, vt->codec_private, vt->codec_private_size,
                                      opt.force ? ARG_DECODER_IGNORE_MODEL_ID : 0, err, sizeof(err))) < 0) {
        cli_error("%s%s", err, rc == -EINVAL && strstr(err, "but this model") ? "; use the right model or --force" : "");
        goto out;
    }
    if (analyze_opt_open(&analysis, analyze_path, opt.in, &h) < 0)
        goto out;
    int ychroma = h.chroma == 444 ? Y4M_C444 : h.chroma == 422 ? Y4M_C422 : Y4M_C420JPEG;
    if (opt.pix_fmt >= 0 && kind != OUT_AV)
        ychroma = opt.pix_fmt;
    if (!ht || !hp) {
        cli_error("out of memory");
        goto out;
    }
    XXH3_64bits_reset(ht);
    XXH3_64bits_reset(hp);
    /* the first picture written (-ss), the output's time zero */
    uint64_t picture_ns = 1000000000ull * h.fps_den / h.fps_num;
    uint64_t start_ns = (uint64_t)(opt.ss * 1e9);
    int64_t p0 = start_ns <= 500000 ? 0 : (int64_t)((start_ns - 500000 + picture_ns - 1) / picture_ns);
    const MkvTrack *at = opus_track(r);
    if (at) {
        ach = at->codec_private[9];
        preskip = at->codec_private[10] | at->codec_private[11] << 8;
        const char *ns = mkv_reader_tag(r, "ARG_AUDIO_SAMPLES"), *nr = mkv_reader_tag(r, "ARG_AUDIO_RATE");
        long long vs, vr;
        if (ns && nr && cli_parse_int64(ns, 0, INT64_MAX / 48000, &vs) == 0 &&
            cli_parse_int64(nr, 1, 1000000, &vr) == 0)
            aleft = (int64_t)((uint64_t)vs * 48000ull / (uint64_t)vr);
    }
    if (opt.out && kind == OUT_AV) {
#ifdef ARG_HAVE_LIBAV
        const MkvTrack *any = mkv_reader_find_track(r, MKV_TRACK_AUDIO);
        if (any && !at && !opt.no_audio)
            cli_warn("%s: the audio track (%s) is not Opus in 1-2 channels: left out", opt.in, any->codec_id);
        else if (!any && (opt.acodec || opt.abitrate))
            cli_warn("%s has no audio: -c:a and -b:a have nothing to do", opt.in);
        int with_audio = at && !opt.no_audio;
        /* the audio starts with the first picture and ends with the last */
        aoff = (int64_t)(((uint64_t)p0 * 48000ull * h.fps_den + h.fps_num / 2) / h.fps_num);
        aend = aleft >= 0 ? (aleft > aoff ? aleft - aoff : 0) : -1;
        if (opt.max_frames > 0) {
            int64_t vend = (int64_t)(((uint64_t)opt.max_frames * 48000ull * h.fps_den + h.fps_num / 2) / h.fps_num);
            if (aend < 0 || vend < aend)
                aend = vend;
        }
        avchroma = opt.pix_fmt >= 0 ? opt.pix_fmt : Y4M_C420JPEG;
        AvOutConfig ac = {
            .path = opt.out, .format = opt.format, .vcodec = opt.vcodec, .acodec = opt.acodec,
            .crf = opt.crf, .preset = opt.preset, .abitrate = opt.abitrate, .threads = opt.threads,
            .width = h.width, .height = h.height, .fps_num = (int)h.fps_num, .fps_den = (int)h.fps_den,
            .chroma = avchroma, .matrix = h.matrix, .range = h.range, .primaries = h.primaries,
            .transfer = h.transfer, .channels = with_audio ? ach : 0,
            .opus_head = with_audio ? at->codec_private : NULL,
            .opus_head_size = with_audio ? at->codec_private_size : 0,
            .audio_samples = aend, .no_copy = aoff > 0,
        };
        if ((rc = avout_open(&av, &ac)) < 0) {
            ret = rc == -EINVAL ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
            goto out;
        }
        acopy = avout_audio_mode(av) == AVOUT_AUDIO_COPY;
        apcm = avout_audio_mode(av) == AVOUT_AUDIO_PCM;
        if (avchroma == ychroma)
            avchroma = -1;
#endif
    } else if (opt.out) {
        Y4mInfo yi = { h.width, h.height, (int)h.fps_num, (int)h.fps_den, 0, 0, ychroma,
                       h.range == 2 ? Y4M_RANGE_FULL : Y4M_RANGE_LIMITED };
        if (cli_out_open(&yout, opt.out) < 0)
            goto out;
        if (y4m_writer_open_stream(&yw, yout.f, opt.out, &yi, err, sizeof(err)) < 0) {
            cli_error("%s", err);
            goto out;
        }
    }
    if (opt.audio && !at) {
        cli_error("%s has no usable Opus audio track", opt.in);
        goto out;
    }
    askip = preskip;
    if (opt.audio || apcm) {
        int oerr;
        od = opus_decoder_create(48000, ach, &oerr);
        pcm = malloc((size_t)5760 * ach * sizeof(float));
        if (!od || !pcm) {
            cli_error("cannot set up the Opus decoder");
            goto out;
        }
    }
    if (opt.audio) {
        if (cli_out_open(&aout, opt.audio) < 0)
            goto out;
        if (wav_writer_open_stream(&ww, aout.f, 48000, ach, aleft > 0 ? (uint64_t)aleft : 0) < 0) {
            cli_error("cannot write %s", opt.audio);
            goto out;
        }
        if (opt.ss > 0)
            cli_warn("with -ss the audio is still decoded from the start");
    }
    if (opt.ref) {
        if (y4m_reader_open(&ref, opt.ref, err, sizeof(err)) < 0) {
            cli_error("%s", err);
            goto out;
        }
        const Y4mInfo *ri = y4m_reader_info(ref);
        int rch = ri->chroma == Y4M_C420MPEG2 || ri->chroma == Y4M_C420PALDV ? Y4M_C420JPEG : ri->chroma;
        if (ri->width != h.width || ri->height != h.height || rch != ychroma ||
            y4m_image_alloc(&rimg, ri->width, ri->height, ri->chroma) < 0) {
            cli_error("%s: size or chroma differs from the stream", opt.ref);
            goto out;
        }
    }
    Y4mColor col = { h.matrix == 1 ? Y4M_MATRIX_BT709 : Y4M_MATRIX_BT601, h.range == 2, Y4M_UPSAMPLE_BILINEAR };
    if (opt.ss > 0 && (rc = mkv_seek(r, start_ns)) < 0) {
        cli_error("cannot seek to %.3f s: %s", opt.ss, strerror(-rc));
        goto out;
    }
    if (pipe_init(&q, threaded, h.width, h.height, ychroma, avchroma) < 0) {
        cli_error("out of memory");
        goto out;
    }
    double t0 = cli_now();
    MkvPacket p;
    int64_t queued = 0, decoded = 0, first_pts = -1; /* queued: pictures handed to the writer */
    int64_t total = h.frame_count;
    if (opt.ss > 0 && total > 0)
        total -= (int64_t)(opt.ss * h.fps_num / h.fps_den);
    if (opt.max_frames > 0 && (total <= 0 || opt.max_frames < total))
        total = opt.max_frames;
    cli_progress_start(&prog, total > 0 ? total : 0, opt.progress);
    q.yw = yw;
#ifdef ARG_HAVE_LIBAV
    q.av = av;
#endif
    q.ref = ref;
    q.rimg = &rimg;
    q.acc = &acc;
    q.hp = hp;
    q.prog = &prog;
    q.t0 = t0;
    q.fps = (double)h.fps_num / h.fps_den;
    if (threaded && (rc = pipe_start(&q)) < 0) {
        cli_error("cannot start the writer thread: %s", strerror(-rc));
        goto out;
    }
    int want_video = opt.out || opt.verify || opt.ref || analyze_path;
    int video_done = 0;
    while ((rc = mkv_read_packet(r, &p)) == 0) {
        if (pipe_failed(&q))
            goto out; /* the writer said why */
        if (p.track_type == MKV_TRACK_AUDIO && (od || acopy)) {
            abytes += p.size;
            int ns = opus_packet_get_nb_samples(p.data, (opus_int32)p.size, 48000);
            if (ns < 0) {
                pipe_finish(&q, 1); /* one thread prints at a time */
                cli_error("corrupt Opus packet at %.3f s", p.pts_ns / 1e9);
                goto out;
            }
            /* the packet's first sample: counted on, unless the (1 ms)
             * timestamp says otherwise (the first packet, a seek) */
            int64_t at_pts = (int64_t)((p.pts_ns * 48 + 500000) / 1000000);
            if (anext < 0 || at_pts > anext + 48 || at_pts < anext - 48)
                anext = at_pts;
            int64_t first = anext - preskip - aoff; /* in the container's audio */
            anext += ns;
            if (aend >= 0 && first >= aend)
                audio_done = 1;
            if (acopy) { /* to the container, in order with the pictures */
                PipeItem *it = pipe_reserve(&q, ITEM_OPUS);
                if (!it)
                    goto out;
                if (pipe_item_buf(it, p.size) < 0) {
                    pipe_finish(&q, 1);
                    cli_error("out of memory");
                    goto out;
                }
                memcpy(it->buf, p.data, p.size);
                it->pts = first + preskip;
                it->n = ns;
                if (pipe_commit(&q, it) < 0)
                    goto out;
            }
            if (!od)
                continue;
            int an = opus_decode_float(od, p.data, (opus_int32)p.size, pcm, 5760, 0);
            if (an < 0) {
                pipe_finish(&q, 1);
                cli_error("corrupt Opus packet at %.3f s", p.pts_ns / 1e9);
                goto out;
            }
            if (apcm) { /* the part in [0, aend) of the container's audio */
                int64_t from = first < 0 ? -first : 0, to = an;
                if (aend >= 0 && first + to > aend)
                    to = aend - first;
                if (to > from) {
                    PipeItem *it = pipe_reserve(&q, ITEM_PCM);
                    if (!it)
                        goto out;
                    size_t bytes = (size_t)(to - from) * ach * sizeof(float);
                    if (pipe_item_buf(it, bytes) < 0) {
                        pipe_finish(&q, 1);
                        cli_error("out of memory");
                        goto out;
                    }
                    memcpy(it->buf, pcm + (size_t)from * ach, bytes);
                    it->n = (int)(to - from);
                    if (pipe_commit(&q, it) < 0)
                        goto out;
                }
            }
            if (!ww)
                continue;
            int from = 0;
            if (askip > 0) {
                from = askip < an ? (int)askip : an;
                askip -= from;
            }
            int64_t k = an - from;
            if (aleft >= 0 && k > aleft)
                k = aleft;
            if (k > 0 && wav_writer_write(ww, pcm + (size_t)from * ach, (long)k) < 0) {
                pipe_finish(&q, 1);
                cli_error("cannot write %s", opt.audio);
                goto out;
            }
            if (aleft >= 0)
                aleft -= k;
            continue;
        }
        if (p.track_type != MKV_TRACK_VIDEO)
            continue;
        vbytes += p.size;
        if (!want_video)
            continue;
#ifdef ARG_HAVE_LIBAV
        if (av && video_done) { /* -frames:v reached; the audio goes on to its end */
            if (!ww && (!(acopy || apcm) || audio_done))
                break;
            continue;
        }
#endif
        /* Matroska times are rounded to 1 ms: the nearest picture */
        int64_t first = (int64_t)(((double)p.pts_ns * h.fps_num / h.fps_den + 5e8) / 1e9);
        ArgPacket ap = { p.data, p.size, first, 0, 0, { 0 } };
        rc = arg_decoder_send_packet(dec, &ap);
        if (rc == 1)
            continue; /* before the first keyframe */
        if (rc < 0) {
            pipe_finish(&q, 1);
            cli_error("%s packet at %.3f s (%s)", rc == -EBADMSG ? "corrupt" : "cannot decode the", p.pts_ns / 1e9,
                      strerror(-rc));
            goto out;
        }
        ArgTokens t;
        if (arg_decoder_get_tokens(dec, &t) == 0) { /* little-endian hosts */
            XXH3_64bits_update(ht, t.tokens, (size_t)t.tokens_w * t.tokens_h * sizeof(uint32_t));
            analyze_opt_tokens(analysis, &t, first);
        }
        ArgPicture pic;
        while (arg_decoder_get_picture(dec, &pic) == 0) {
            if (first_pts < 0)
                first_pts = pic.pts;
            decoded++;
            if (pic.pts < p0)
                continue; /* before -ss */
            if (opt.max_frames > 0 && queued >= opt.max_frames)
                continue;
            /* the picture is valid until the next decoder call: into a slot */
            PipeItem *it = pipe_reserve(&q, ITEM_PICTURE);
            if (!it)
                goto out;
            y4m_rgb_to_yuv(pic.data, pic.stride, pic.plane_stride, &col, it->img);
            if (it->avimg)
                y4m_rgb_to_yuv(pic.data, pic.stride, pic.plane_stride, &col, it->avimg);
            it->pts = pic.pts - p0;
            if (pipe_commit(&q, it) < 0)
                goto out;
            queued++;
        }
        video_done = opt.max_frames > 0 && queued >= opt.max_frames;
        if (video_done && !ww && (!(acopy || apcm) || audio_done))
            break;
    }
    int wrc = pipe_finish(&q, rc < 0); /* the rest of the pictures out */
    cli_progress_end(&prog);
    if (wrc < 0)
        goto out;
    if (rc < 0) {
        cli_error("%s: %s", opt.in, err);
        goto out;
    }
    int64_t written = q.written;
    int truncated = 0;
    if (pixels && h.frame_count > 0 && !(opt.max_frames > 0 && written >= opt.max_frames)) {
        int64_t end = first_pts < 0 ? 0 : first_pts + decoded; /* pictures up to the last decoded one */
        if (end < (int64_t)h.frame_count) {
            truncated = 1;
            if (opt.allow_truncated)
                cli_warn("%s ends after %" PRId64 " of the %u pictures its header announces (truncated?)", opt.in,
                         end, h.frame_count);
            else
                cli_error("%s ends after %" PRId64 " of the %u pictures its header announces (truncated?); "
                          "--allow-truncated keeps what was decoded", opt.in, end, h.frame_count);
        }
    }
    if (truncated && !opt.allow_truncated) {
        ret = EXIT_TRUNCATED;
        goto out;
    }
    if (yw) {
        rc = y4m_writer_close(yw, err, sizeof(err));
        yw = NULL;
        if (rc < 0) {
            cli_error("%s", err);
            goto out;
        }
        if (cli_out_commit(&yout) < 0)
            goto out;
    }
#ifdef ARG_HAVE_LIBAV
    if (av) {
        cli_info("%s", avout_describe(av));
        rc = avout_close(av, 1);
        av = NULL;
        if (rc < 0)
            goto out;
    }
#endif
    if (ww) {
        rc = wav_writer_close(ww, 1);
        ww = NULL;
        if (rc < 0 || cli_out_commit(&aout) < 0) {
            cli_error("cannot finish %s", opt.audio);
            goto out;
        }
    }
    /* data on stdout: the report moves to stderr when an output takes stdout */
    FILE *rep = opt.stats && !strcmp(opt.stats, "-") ? stderr : cli_report_stream();
    if (ref) {
        double py = psnr_acc_plane(&acc, 0), pu = psnr_acc_plane(&acc, 1), pv = psnr_acc_plane(&acc, 2);
        fprintf(rep, "PSNR Y %.3f  U %.3f  V %.3f  YUV(6:1:1) %.3f dB over %" PRId64 " pictures\n", py, pu, pv,
                (6 * py + pu + pv) / 8, written);
    }
    if (opt.verify)
        fprintf(rep, "tokens %016" PRIx64 "\nframes %016" PRIx64 "\npictures %" PRId64 "\n",
                (uint64_t)XXH3_64bits_digest(ht), (uint64_t)XXH3_64bits_digest(hp), written);
    double el = cli_now() - t0;
    cli_info("%" PRId64 " pictures %dx%d in %.2f s (%.2f fps) on %s", written, h.width, h.height, el,
             el > 0 ? written / el : 0.0, arg_decoder_backend(dec));
    if (opt.stats) {
        CliOut so;
        if (cli_out_open(&so, opt.stats) == 0) {
            struct stat st;
            double secs = (double)h.frame_count * h.fps_den / h.fps_num;
            CliJson j;
            cli_json_init(&j, so.f, 1);
            cli_json_object_begin(&j);
            cli_json_key(&j, "input"); cli_json_string(&j, opt.in);
            cli_json_key(&j, "model"); cli_json_string(&j, h.model_name);
            cli_json_key(&j, "width"); cli_json_int(&j, h.width);
            cli_json_key(&j, "height"); cli_json_int(&j, h.height);
            cli_json_key(&j, "fps"); cli_json_double(&j, (double)h.fps_num / h.fps_den, "%.6f");
            cli_json_key(&j, "pictures"); cli_json_int(&j, written);
            cli_json_key(&j, "header_pictures"); cli_json_int(&j, h.frame_count);
            cli_json_key(&j, "truncated"); cli_json_bool(&j, truncated);
            cli_json_key(&j, "elapsed_s"); cli_json_double(&j, el, "%.3f");
            cli_json_key(&j, "decode_fps"); cli_json_double(&j, el > 0 ? written / el : 0, "%.3f");
            cli_json_key(&j, "file_bytes");
            cli_json_uint(&j, stat(in, &st) == 0 && !stdin_path[0] ? (uint64_t)st.st_size : 0);
            cli_json_key(&j, "video_bytes"); cli_json_uint(&j, vbytes);
            cli_json_key(&j, "video_kbps"); cli_json_double(&j, secs > 0 ? vbytes * 8 / 1000.0 / secs : 0, "%.3f");
            cli_json_key(&j, "audio_bytes"); cli_json_uint(&j, abytes);
            cli_json_key(&j, "audio_kbps"); cli_json_double(&j, secs > 0 && od ? abytes * 8 / 1000.0 / secs : 0, "%.3f");
            cli_json_key(&j, "backend"); cli_json_string(&j, arg_decoder_backend(dec));
            cli_json_object_end(&j);
            if (cli_json_finish(&j) == 0)
                cli_out_commit(&so);
            else
                cli_out_abort(&so);
        }
    }
    if (analyze_opt_finish(analysis, NULL) < 0)
        goto out;
    ret = CLI_EXIT_OK;
out:
    pipe_free(&q); /* the writer first: it may hold the outputs */
    analyze_opt_close(analysis);
    cli_progress_end(&prog);
    y4m_image_free(&rimg);
    y4m_reader_close(ref);
    if (ww)
        wav_writer_close(ww, 0);
    cli_out_abort(&aout);
    if (od)
        opus_decoder_destroy(od);
    free(pcm);
#ifdef ARG_HAVE_LIBAV
    avout_close(av, 0);
#endif
    y4m_writer_abort(yw);
    cli_out_abort(&yout);
    XXH3_freeState(ht);
    XXH3_freeState(hp);
    arg_decoder_close(dec);
    arg_model_free(model);
    mkv_reader_close(r);
    return ret;
}
