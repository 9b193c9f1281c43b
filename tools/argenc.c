/* argenc: encode a video (and its audio) into an ARG Matroska file.
 *
 *   argenc -i INPUT|- [-i AUDIO] -o OUT.mkv|- [-m MODEL | -q N | -b:v RATE] [-g GOP]
 *          [-ss T] [-t T | -to T] [-frames:v N] [-r RATE] [-s WxH | -vf scale=W:H]
 *          [-an] [-map 0:v:N] [-map 0:a:N] [-c:a copy] [-b:a RATE]
 *          [-metadata KEY=VALUE] [--gop-align] [--stats FILE.json] [-y | -n] ...
 *
 * Y4M video and WAV audio are read natively (the fast path, sniffed from the
 * first bytes); anything else goes through FFmpeg's libraries (avin.c) when
 * argenc was built with them. Pictures -> libarg's encoder (tokens, entropy
 * coder, packets) -> one Matroska block per latent frame (spec/bitstream.md),
 * Opus audio beside (resampled to 48 kHz, or copied when it is Opus).
 * The first SIGINT/SIGTERM finishes the current GOP and keeps a valid,
 * shorter file; a second one removes the temporary file and exits. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>
#include <xxhash.h>
#include <opus/opus.h>

#include "arg/arg.h"
#include "arg_mkv.h"
#include "avin.h"
#include "cli.h"
#include "modelpath.h"
#include "wav.h"
#include "y4m.h"

#define MAX_MODELS 32

static double now(void)
{
    return cli_now();
}

static const CliChoice matrix_choices[] = {
    { "bt601", Y4M_MATRIX_BT601 }, { "bt709", Y4M_MATRIX_BT709 }, { NULL, 0 },
};

enum { ACODEC_OPUS = 0, ACODEC_COPY };
static const CliChoice acodec_choices[] = {
    { "opus", ACODEC_OPUS }, { "libopus", ACODEC_OPUS }, { "copy", ACODEC_COPY }, { NULL, 0 },
};

#define MAX_META 16

static struct {
    const char *inputs[2];
    int n_inputs;
    const char *out, *model, *stats;
    int q, gop, threads, matrix, gemm, backend, device;
    int64_t max_frames, abitrate, vbitrate;
    int progress;
    double ss, t, to;
    int rate[2];                 /* -r num/den */
    int size[2], vfsize[2];      /* -s, -vf scale=W:H (-1/-2: keep the aspect) */
    int an, acodec, gop_align;
    const char *maps[3];
    int n_maps;
    const char *meta[MAX_META];
    int n_meta;
} opt = { .gop = ARG_GOP_DEFAULT, .q = -1, .matrix = -1, .gemm = ARG_GEMM_AUTO, .backend = ARG_BACKEND_AUTO,
          .max_frames = -1, .abitrate = 64000 };

/* -r: "25", "29.97", "30000/1001" */
static int parse_rate(const char *arg, void *dest)
{
    int *r = dest;
    const char *slash = strchr(arg, '/');
    if (slash) {
        char num[32];
        long long n, d;
        if ((size_t)(slash - arg) >= sizeof(num))
            return -EINVAL;
        memcpy(num, arg, (size_t)(slash - arg));
        num[slash - arg] = 0;
        if (cli_parse_int64(num, 1, 1000000000, &n) < 0 || cli_parse_int64(slash + 1, 1, 1000000000, &d) < 0)
            return -EINVAL;
        r[0] = (int)n;
        r[1] = (int)d;
        return 0;
    }
    double v;
    if (cli_parse_double(arg, 0.001, 1000000, &v) < 0)
        return -EINVAL;
    /* the usual NTSC rates exactly, others to 1/1000 */
    static const int ntsc[] = { 24, 30, 60, 120 };
    for (int i = 0; i < 4; i++)
        if (fabs(v - ntsc[i] * 1000.0 / 1001) < 0.005) {
            r[0] = ntsc[i] * 1000;
            r[1] = 1001;
            return 0;
        }
    if (v == floor(v)) {
        r[0] = (int)v;
        r[1] = 1;
    } else {
        r[0] = (int)llround(v * 1000);
        r[1] = 1000;
    }
    return 0;
}

static int parse_dim(const char *s, const char *end, int *out)
{
    char buf[16];
    long long v;
    if (end - s <= 0 || end - s >= (ptrdiff_t)sizeof(buf))
        return -EINVAL;
    memcpy(buf, s, (size_t)(end - s));
    buf[end - s] = 0;
    if (!strcmp(buf, "-1") || !strcmp(buf, "-2")) {
        *out = atoi(buf);
        return 0;
    }
    if (cli_parse_int64(buf, 1, Y4M_MAX_DIM, &v) < 0)
        return -EINVAL;
    *out = (int)v;
    return 0;
}

/* -s WxH */
static int parse_size(const char *arg, void *dest)
{
    int *sz = dest;
    const char *x = strchr(arg, 'x');
    if (!x || parse_dim(arg, x, &sz[0]) < 0 || parse_dim(x + 1, x + strlen(x), &sz[1]) < 0 ||
        sz[0] < 0 || sz[1] < 0)
        return -EINVAL;
    return 0;
}

/* -vf scale=W:H (also scale=w=W:h=H); no other filter */
static int parse_vf(const char *arg, void *dest)
{
    int *sz = dest;
    if (strncmp(arg, "scale=", 6))
        return -EINVAL;
    const char *w = arg + 6, *colon = strchr(w, ':');
    if (!colon || strchr(colon + 1, ',') || strchr(colon + 1, ':'))
        return -EINVAL;
    const char *h = colon + 1;
    if (!strncmp(w, "w=", 2))
        w += 2;
    if (!strncmp(h, "h=", 2))
        h += 2;
    if (parse_dim(w, colon, &sz[0]) < 0 || parse_dim(h, h + strlen(h), &sz[1]) < 0 || (sz[0] < 0 && sz[1] < 0))
        return -EINVAL;
    return 0;
}

static CliOpt opts[] = {
    CLI_OPT_LIST("-i --input", opt.inputs, 2, &opt.n_inputs, "FILE",
                 "the input, '-' for stdin: Y4M (read natively) or anything\n"
                 "FFmpeg's libraries read (mp4, mkv, avi, mov, webm, ogv, ...);\n"
                 "a second -i: the audio (WAV natively, or any media file)"),
    { .names = "-o --output", .kind = CLI_STRING, .dest = &opt.out, .metavar = "FILE",
      .help = "Matroska output, written atomically; '-' writes it to stdout\n"
              "(assembled in a temporary file first: Matroska needs to seek)",
      .flags = CLI_REQUIRED },
    CLI_OPT_STRING("-m --model", &opt.model, "MODEL", "model file or name (see ARG_MODEL_PATH)"),
    CLI_OPT_INT("-q", &opt.q, 0, MAX_MODELS - 1, "N",
                "operating point: the N-th shipped model by token rate\n"
                "(0 = lowest rate; default: the middle one)"),
    CLI_OPT_BITRATE("-b:v", &opt.vbitrate, 1000, INT64_C(100000000000), "RATE",
                    "pick the operating point whose rate, measured on the\n"
                    "first GOP, comes closest to RATE without exceeding it\n"
                    "(ARG has no finer rate control yet)"),
    CLI_OPT_INT("-g --gop", &opt.gop, 1, 65535, "N",
                "GOP length in latent frames (default 8; fixed-clip models: one clip)"),
    CLI_OPT_TIME("-ss", &opt.ss, 0, 1e9, "T", "start at the first picture at or after input time T"),
    CLI_OPT_TIME("-t", &opt.t, 0, 1e9, "T", "stop before input time -ss + T"),
    CLI_OPT_TIME("-to", &opt.to, 0, 1e9, "T", "stop before input time T"),
    CLI_OPT_INT64("-frames:v --frames", &opt.max_frames, 1, INT64_MAX, "N", "encode at most N pictures"),
    CLI_OPT_FLAG("--gop-align", &opt.gop_align,
                 "snap -ss and the end of -t/-to down to GOP starts (a GOP\n"
                 "is 1 + (g - 1) x the model's temporal factor pictures),\n"
                 "so that chunks joined with mkvmerge a.mkv + b.mkv equal\n"
                 "one --gop-align encode (scripts/arg-chunks.sh)"),
    CLI_OPT_CUSTOM("-r", opt.rate, parse_rate, "a rate such as 25, 29.97 or 30000/1001", "RATE",
                   "output picture rate: pictures are repeated or dropped"),
    CLI_OPT_CUSTOM("-s", opt.size, parse_size, "WxH, e.g. 640x360", "WxH", "scale the pictures to W x H"),
    CLI_OPT_CUSTOM("-vf", opt.vfsize, parse_vf, "scale=W:H (the only filter; -1 or -2 keeps the aspect)",
                   "scale=W:H", "scale the pictures (W or H -1: keep the aspect,\n-2: and make it even)"),
    CLI_OPT_LIST("-map", opt.maps, 3, &opt.n_maps, "I:v:N|I:a:N",
                 "streams to use: 0:v:N (video of the first input),\n"
                 "0:a:N or 1:a:N (audio); with -map, unmapped audio is left out"),
    CLI_OPT_FLAG("-an", &opt.an, "no audio"),
    CLI_OPT_ENUM("-c:a -acodec", &opt.acodec, acodec_choices, "C",
                 "opus (default: decode and code to Opus) | copy\n(pass Opus packets through unchanged)"),
    CLI_OPT_BITRATE("-b:a", &opt.abitrate, 6000, 510000, "RATE", "Opus bit rate, e.g. 64k (default 64k)"),
    CLI_OPT_LIST("-metadata", opt.meta, MAX_META, &opt.n_meta, "KEY=VALUE",
                 "a Matroska tag (KEY upper-cased, as ffmpeg does)"),
    CLI_OPT_INT("--threads", &opt.threads, 0, 256, "N", "worker threads (default 0: all cores)"),
    CLI_OPT_GEMM("--gemm", &opt.gemm),
    CLI_OPT_BACKEND(&opt.backend),
    CLI_OPT_DEVICE(&opt.device),
    CLI_OPT_ENUM("--matrix", &opt.matrix, matrix_choices, "M",
                 "bt601 | bt709: the source's colour matrix (default:\n"
                 "the stream's; Y4M, which cannot say: bt601)"),
    CLI_OPT_STRING("--stats", &opt.stats, "FILE", "write final statistics as JSON ('-' for stdout)"),
    CLI_OPT_FLAG("--quiet", &cli_quiet, "no progress line"),
    CLI_OPT_FLAG("--progress", &opt.progress, "show the progress line even when stderr is not a terminal"),
    CLI_OPT_OVERWRITE_YES,
    CLI_OPT_OVERWRITE_NO,
    CLI_OPT_END,
};

static const CliHint hints[] = {
    { "-crf -qp -maxrate -bufsize", "ARG has no rate control yet: pick an operating point with -q N, "
                                    "or -b:v RATE to pick it by measured rate (see --help)" },
    { "-c:v -vcodec -f", "argenc writes ARG video and Opus audio in Matroska only" },
    CLI_HINT_END,
};

static const CliTool tool = {
    .name = "argenc",
    .synopsis = "-i INPUT [-i AUDIO] -o OUT.mkv [options]",
    .about = "Encode a video and its audio into an ARG Matroska file. Y4M and WAV are\n"
             "read natively; other inputs through FFmpeg's libraries (when built with them).",
    .opts = opts,
    .hints = hints,
    .epilog = "Examples:\n"
              "  argenc -i holiday.mp4 -o holiday.mkv\n"
              "  argenc -i in.mov -ss 60 -t 30 -vf scale=640:-2 -r 25 -o part.mkv\n"
              "  ffmpeg -i in.mp4 -f yuv4mpegpipe - | argenc -i - -o out.mkv   (Y4M on a pipe)\n"
              "Rate: ARG has no rate control yet. The operating point (-q, -m) sets the\n"
              "rate; -b:v only picks the operating point whose measured rate on the first\n"
              "GOP is closest to the target without exceeding it, and reports the rate.\n"
              "Long inputs: scripts/arg-chunks.sh encodes GOP-aligned chunks in parallel\n"
              "(--gop-align) and joins them with mkvmerge.\n"
              "Ctrl-C once: finish the current GOP and keep a valid, shorter file;\n"
              "twice: stop at once and remove the temporary file.\n",
};

typedef struct Enc {
    ArgModel *model;
    const ArgModelInfo *mi;
    ArgEncoder *enc;
    MkvWriter *mkv;
    ArgSequenceHeader seq;
    uint64_t picture;            /* first picture of the next latent frame */
    uint64_t bytes, latents, bits_raw;
    double t_model, t_entropy;
    XXH3_state_t *hash;          /* of the tokens, as argdec --verify computes it */
    CliProgress progress;
    int64_t frames, total;       /* pictures sent; pictures expected (0: unknown) */
    /* audio */
    WavReader *wav;
    Avin *aav;                   /* audio through FFmpeg's libraries (may be the video's Avin) */
    int acopy;                   /* Opus packets pass through */
    int apend;                   /* copy: a packet is waiting in apkt_* */
    const uint8_t *apkt_data;
    size_t apkt_size;
    int64_t apkt_pts, apkt_dur;
    OpusEncoder *opus;
    int arate, ach, aframe;      /* sample rate, channels, samples per Opus frame */
    uint64_t asamples;           /* input sample frames coded so far */
    uint64_t ain;                /* input sample frames read */
    uint64_t ain_max;            /* read no more than this (the video's span when cut) */
    uint64_t aend_ns;            /* copy: no packet from here on (the video's span when cut) */
    int aeof;
    float *apcm;
    uint8_t apkt[4000];
    uint64_t abytes;
    int alook;                   /* encoder lookahead, input samples */
    int ain_done;                /* the input is exhausted */
    int exact_end;               /* --gop-align: the audio ends where the video ends (shorter
                                    last Opus frames, no lookahead flush): chunks join exactly */
    /* --gop-align: the last video packet is held back and written with its
     * duration (a BlockGroup), so that mkvmerge's append knows where it ends */
    int hold_last, have_held, held_key;
    uint8_t *held;
    size_t held_size, held_cap;
    uint64_t held_pts, held_end;
} Enc;

static long audio_read(Enc *e, float *buf, long n)
{
    if (e->wav)
        return wav_reader_read(e->wav, buf, n);
#ifdef ARG_HAVE_LIBAV
    if (e->aav) {
        long r = avin_read_audio(e->aav, buf, n);
        if (r < 0)
            cli_error("%s", avin_error(e->aav));
        return r;
    }
#endif
    return 0;
}

/* -c:a copy: mux the input's Opus packets that start before limit_ns. */
static int audio_copy_until(Enc *e, uint64_t limit_ns)
{
#ifdef ARG_HAVE_LIBAV
    while (!e->aeof) {
        if (!e->apend) {
            int r = avin_read_audio_packet(e->aav, &e->apkt_data, &e->apkt_size, &e->apkt_pts, &e->apkt_dur);
            if (r < 0) {
                cli_error("%s", avin_error(e->aav));
                return r;
            }
            if (r == 0 || (uint64_t)e->apkt_pts >= e->aend_ns) {
                e->aeof = 1;
                break;
            }
            e->apend = 1;
        }
        if ((uint64_t)e->apkt_pts >= limit_ns)
            return 0;
        int rc = mkv_write_block(e->mkv, MKV_TRACK_AUDIO, (uint64_t)e->apkt_pts, 0, 1, e->apkt_data, e->apkt_size);
        if (rc < 0)
            return rc;
        e->apend = 0;
        e->abytes += e->apkt_size;
        e->ain = (uint64_t)(e->apkt_pts + e->apkt_dur) * 48 / 1000000;
    }
#else
    (void)e;
    (void)limit_ns;
#endif
    return 0;
}

/* Code and mux audio frames that start before limit_ns (all when ~0). */
static int audio_until(Enc *e, uint64_t limit_ns)
{
    if (e->acopy)
        return audio_copy_until(e, limit_ns);
    while (e->opus && !e->aeof) {
        uint64_t pts = e->asamples * 1000000000ull / (uint64_t)e->arate;
        if (pts >= limit_ns)
            return 0;
        long want = e->aframe;
        int fs = e->aframe; /* samples in this Opus frame */
        if (e->ain >= e->ain_max)
            want = 0;
        else if (e->ain_max - e->ain < (uint64_t)want)
            want = (long)(e->ain_max - e->ain);
        if (e->exact_end && want < e->aframe) {
            /* the tail in 10, 5, 2.5 ms frames; less than 2.5 ms is dropped */
            fs = e->aframe / 2;
            while (fs >= e->arate / 400 && fs > want)
                fs /= 2;
            if (fs < e->arate / 400 || want == 0) {
                e->aeof = 1;
                break;
            }
            want = fs;
        }
        long got = 0;
        while (!e->ain_done && got < want) { /* a pipe or decoder may give less than asked */
            long r = audio_read(e, e->apcm + (size_t)got * e->ach, want - got);
            if (r < 0)
                return (int)r;
            if (r == 0)
                e->ain_done = 1;
            got += r;
        }
        e->ain += (uint64_t)got;
        /* after the input, code silence until the lookahead is flushed out */
        if (got == 0 && e->asamples >= e->ain + (uint64_t)e->alook) {
            e->aeof = 1;
            break;
        }
        if (got < fs) /* pad with silence */
            memset(e->apcm + (size_t)got * e->ach, 0, (size_t)(fs - got) * e->ach * sizeof(float));
        int n = opus_encode_float(e->opus, e->apcm, fs, e->apkt, sizeof(e->apkt));
        if (n < 0)
            return -EIO;
        int rc = mkv_write_block(e->mkv, MKV_TRACK_AUDIO, pts, 0, 1, e->apkt, (size_t)n);
        if (rc < 0)
            return rc;
        e->abytes += (uint64_t)n;
        e->asamples += (uint64_t)fs;
    }
    return 0;
}

static uint64_t pts_of(const Enc *e, uint64_t picture)
{
    return picture * 1000000000ull * e->seq.fps_den / e->seq.fps_num;
}

/* Write the held-back video packet; the last one states its duration. */
static int write_held(Enc *e, int last)
{
    if (!e->have_held)
        return 0;
    int rc = audio_until(e, e->held_pts);
    if (rc < 0)
        return rc;
    e->have_held = 0;
    if (!last)
        return mkv_write_block(e->mkv, MKV_TRACK_VIDEO, e->held_pts, e->held_end - e->held_pts, e->held_key,
                               e->held, e->held_size);
    /* whole milliseconds (the file's timestamp unit) from the block's to the end */
    uint64_t ms = 1000000;
    uint64_t dur = e->held_end / ms * ms - e->held_pts / ms * ms;
    return mkv_write_block_duration(e->mkv, MKV_TRACK_VIDEO, e->held_pts, dur ? dur : ms, e->held_key, e->held,
                                    e->held_size);
}

/* Mux every packet the encoder has ready. */
static int drain(Enc *e)
{
    ArgPacket p;
    int rc;
    for (;;) {
        double t0 = now();
        if ((rc = arg_encoder_get_packet(e->enc, &p)) < 0)
            break;
        e->t_entropy += now() - t0;
        const ArgTokens *t = &p.tokens;
        size_t n = (size_t)t->tokens_w * t->tokens_h;
        uint64_t pts = pts_of(e, (uint64_t)p.pts);
        uint64_t dur = pts_of(e, (uint64_t)(p.pts + p.duration)) - pts;
        if (e->hold_last) {
            if ((rc = write_held(e, 0)) < 0)
                return rc;
            if (p.size > e->held_cap) {
                uint8_t *nb = realloc(e->held, p.size);
                if (!nb)
                    return -ENOMEM;
                e->held = nb;
                e->held_cap = p.size;
            }
            memcpy(e->held, p.data, p.size);
            e->held_size = p.size;
            e->held_pts = pts;
            e->held_end = pts + dur;
            e->held_key = p.keyframe;
            e->have_held = 1;
        } else {
            if ((rc = audio_until(e, pts)) < 0)
                return rc;
            if ((rc = mkv_write_block(e->mkv, MKV_TRACK_VIDEO, pts, dur, p.keyframe, p.data, p.size)) < 0)
                return rc;
        }
        XXH3_64bits_update(e->hash, t->tokens, n * sizeof(uint32_t));
        e->picture = (uint64_t)(p.pts + p.duration);
        e->bytes += p.size;
        e->latents++;
        e->bits_raw += (uint64_t)n * (uint64_t)e->mi->lfq_bits;
    }
    return rc == -EAGAIN ? 0 : rc;
}

/* The shipped models ordered by raw token rate: their count (0: none). */
static int sorted_models(char (*list)[1024])
{
    int n = model_list(list, MAX_MODELS);
    double rate[MAX_MODELS];
    for (int i = 0; i < n; i++) {
        ArgModel *m;
        rate[i] = 1e30;
        if (arg_model_load(&m, list[i], NULL, 0) == 0) {
            const ArgModelInfo *mi = arg_model_info(m);
            rate[i] = (double)mi->lfq_bits / ((double)mi->temporal_factor * mi->spatial_factor * mi->spatial_factor);
            arg_model_free(m);
        }
    }
    for (int i = 0; i < n; i++) /* order the operating points by raw token rate */
        for (int k = i + 1; k < n; k++)
            if (rate[k] < rate[i]) {
                double r = rate[i];
                rate[i] = rate[k];
                rate[k] = r;
                char tmp[1024];
                memcpy(tmp, list[i], 1024);
                memcpy(list[i], list[k], 1024);
                memcpy(list[k], tmp, 1024);
            }
    return n;
}

/* The model: -m, or the -q-th shipped model by token rate (default: the middle). */
static int pick_model(char *path, size_t len)
{
    if (opt.model) {
        if (model_find(opt.model, path, len) < 0) {
            cli_error("model '%s' not found (searched ARG_MODEL_PATH, the data folder, models/)", opt.model);
            return -ENOENT;
        }
        if (cli_given(&opt.q))
            cli_warn("-q is ignored when -m names the model");
        return 0;
    }
    static char list[MAX_MODELS][1024];
    int n = sorted_models(list);
    if (n == 0) {
        cli_error("no shipped model found; give one with -m MODEL.safetensors");
        return -ENOENT;
    }
    int pick = opt.q < 0 ? (n - 1) / 2 : opt.q;
    if (pick >= n) {
        cli_error("-q wants an integer 0..%d (%d operating points), got '%d'", n - 1, n, opt.q);
        return -EINVAL;
    }
    snprintf(path, len, "%s", list[pick]);
    return 0;
}

static int open_wav(Enc *e, const char *path)
{
    char err[512];
    if (wav_reader_open(&e->wav, path, err, sizeof(err)) < 0) {
        cli_error("%s", err);
        return -EINVAL;
    }
    const WavInfo *wi = wav_reader_info(e->wav);
    e->arate = wi->sample_rate;
    e->ach = wi->channels;
    if ((e->arate != 48000 && e->arate != 24000 && e->arate != 16000 && e->arate != 12000 && e->arate != 8000) ||
        e->ach > 2) {
#ifdef ARG_HAVE_LIBAV
        /* FFmpeg's libraries resample and downmix it */
        wav_reader_close(e->wav);
        e->wav = NULL;
        return 1;
#else
        cli_error("%s: Opus takes 8, 12, 16, 24 or 48 kHz and 1-2 channels (got %d Hz, %d ch); "
                  "resample first, e.g. ffmpeg -i IN -ar 48000 -ac 2 OUT.wav", path, e->arate, e->ach);
        return -EINVAL;
#endif
    }
    return 0;
}

/* The Opus encoder for e->arate, e->ach and the track's description. */
static int setup_opus(Enc *e, MkvAudioInfo *ai, uint8_t opushead[19])
{
    int oerr;
    e->opus = opus_encoder_create(e->arate, e->ach, OPUS_APPLICATION_AUDIO, &oerr);
    e->aframe = e->arate / 50;
    e->apcm = malloc((size_t)e->aframe * e->ach * sizeof(float));
    if (!e->opus || !e->apcm) {
        cli_error("cannot set up the Opus encoder");
        return -ENOMEM;
    }
    opus_encoder_ctl(e->opus, OPUS_SET_BITRATE((opus_int32)opt.abitrate));
    opus_int32 lookahead = 0;
    opus_encoder_ctl(e->opus, OPUS_GET_LOOKAHEAD(&lookahead));
    e->alook = (int)lookahead;
    /* pre-skip is counted at 48 kHz */
    int preskip = (int)((int64_t)lookahead * 48000 / e->arate);
    memcpy(opushead, "OpusHead", 8);
    opushead[8] = 1;
    opushead[9] = (uint8_t)e->ach;
    opushead[10] = (uint8_t)(preskip & 0xFF);
    opushead[11] = (uint8_t)(preskip >> 8);
    for (int i = 0; i < 4; i++)
        opushead[12 + i] = (uint8_t)((uint32_t)e->arate >> (8 * i));
    opushead[16] = opushead[17] = 0; /* output gain */
    opushead[18] = 0;                /* mapping family 0 */
    ai->sample_rate = 48000;
    ai->channels = e->ach;
    ai->codec_delay_ns = (uint64_t)preskip * 1000000000ull / 48000;
    ai->seek_preroll_ns = 80000000ull;
    ai->codec_private = opushead;
    ai->codec_private_size = 19;
    return 0;
}

/* Copy a finished file to stdout (-o -). */
static int copy_to_stdout(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -errno;
    char buf[1 << 16];
    size_t n;
    int rc = 0;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        if (fwrite(buf, 1, n, stdout) != n) {
            rc = -EIO;
            break;
        }
    if (ferror(f))
        rc = -EIO;
    fclose(f);
    if (fflush(stdout) != 0)
        rc = -EIO;
    return rc;
}

static void write_stats(const Enc *e, const char *in, const char *out, double el, uint64_t file_bytes, int interrupted)
{
    CliOut o;
    if (cli_out_open(&o, opt.stats) < 0)
        return;
    const ArgSequenceHeader *h = &e->seq;
    double secs = (double)e->frames * h->fps_den / h->fps_num;
    CliJson j;
    cli_json_init(&j, o.f, 1);
    cli_json_object_begin(&j);
    cli_json_key(&j, "input"); cli_json_string(&j, in);
    cli_json_key(&j, "output"); cli_json_string(&j, out);
    cli_json_key(&j, "model"); cli_json_string(&j, e->mi->name);
    char id[17];
    snprintf(id, sizeof(id), "%016" PRIx64, e->mi->id);
    cli_json_key(&j, "model_id"); cli_json_string(&j, id);
    cli_json_key(&j, "width"); cli_json_int(&j, h->width);
    cli_json_key(&j, "height"); cli_json_int(&j, h->height);
    cli_json_key(&j, "fps"); cli_json_double(&j, (double)h->fps_num / h->fps_den, "%.6f");
    cli_json_key(&j, "pictures"); cli_json_int(&j, e->frames);
    cli_json_key(&j, "latent_frames"); cli_json_uint(&j, e->latents);
    cli_json_key(&j, "gop_latents"); cli_json_int(&j, h->gop_latents);
    cli_json_key(&j, "duration_s"); cli_json_double(&j, secs, "%.6f");
    cli_json_key(&j, "elapsed_s"); cli_json_double(&j, el, "%.3f");
    cli_json_key(&j, "encode_fps"); cli_json_double(&j, el > 0 ? e->frames / el : 0, "%.3f");
    cli_json_key(&j, "file_bytes"); cli_json_uint(&j, file_bytes);
    cli_json_key(&j, "video_bytes"); cli_json_uint(&j, e->bytes);
    cli_json_key(&j, "video_kbps"); cli_json_double(&j, secs > 0 ? e->bytes * 8 / 1000.0 / secs : 0, "%.3f");
    cli_json_key(&j, "audio_bytes"); cli_json_uint(&j, e->abytes);
    cli_json_key(&j, "audio_kbps");
    cli_json_double(&j, e->opus && e->ain ? e->abytes * 8 / 1000.0 / ((double)e->ain / e->arate) : 0, "%.3f");
    cli_json_key(&j, "bpp");
    cli_json_double(&j, e->frames ? e->bytes * 8.0 / ((double)e->frames * h->width * h->height) : 0, "%.6f");
    cli_json_key(&j, "bits_per_token");
    cli_json_double(&j, e->bits_raw ? e->bytes * 8.0 / ((double)e->bits_raw / e->mi->lfq_bits) : 0, "%.4f");
    cli_json_key(&j, "raw_bits_per_token"); cli_json_int(&j, e->mi->lfq_bits);
    cli_json_key(&j, "interrupted"); cli_json_bool(&j, interrupted);
    cli_json_object_end(&j);
    if (cli_json_finish(&j) < 0) {
        cli_out_abort(&o);
        return;
    }
    cli_out_commit(&o);
}

/* The video source: a Y4M reader (the fast path) or FFmpeg's libraries. */
typedef struct Src {
    Y4mReader *yr;
    Y4mImage img;
    Y4mColor col;
    Avin *av;
    FILE *pipe;                  /* standard input after a look at its first bytes */
    int W, H, fps_num, fps_den, matrix, full, chroma;
    double duration;             /* of the input from the start point, < 0 unknown */
    float **ahead;               /* pictures read for -b:v's trial, replayed first */
    int n_ahead, i_ahead;
} Src;

/* The next picture: 1, 0 at the end, or a negative errno (said). */
static int src_read(Src *s, float *rgb)
{
    size_t plane = (size_t)s->W * s->H;
    if (s->i_ahead < s->n_ahead) {
        memcpy(rgb, s->ahead[s->i_ahead++], 3 * plane * sizeof(float));
        return 1;
    }
    if (s->yr) {
        int r = y4m_reader_read(s->yr, &s->img);
        if (r < 0)
            cli_error("%s", y4m_reader_error(s->yr));
        if (r <= 0)
            return r;
        y4m_yuv_to_rgb(&s->img, &s->col, rgb, s->W, (ptrdiff_t)plane);
        return 1;
    }
#ifdef ARG_HAVE_LIBAV
    int r = avin_read_video(s->av, rgb, s->W, (ptrdiff_t)plane);
    if (r < 0)
        cli_error("%s", avin_error(s->av));
    return r;
#else
    return 0;
#endif
}

static void src_close(Src *s)
{
    y4m_reader_close(s->yr);
    y4m_image_free(&s->img);
#ifdef ARG_HAVE_LIBAV
    avin_close(s->av);
#endif
    if (s->pipe) /* after the Avin that reads it */
        fclose(s->pipe);
    for (int i = 0; i < s->n_ahead; i++)
        free(s->ahead[i]);
    free(s->ahead);
    memset(s, 0, sizeof(*s));
}

#ifdef ARG_HAVE_LIBAV
static int open_av(Src *s, const char *in, double start, int video_stream, int audio_stream, int audio_copy)
{
    AvinOptions ao = { .path = in, .file = s->pipe, .video_stream = video_stream, .audio_stream = audio_stream,
                       .need_video = 1, .audio_copy = audio_copy, .fps_num = opt.rate[0], .fps_den = opt.rate[1],
                       .start = start, .matrix = opt.matrix };
    int *sz = cli_given(opt.size) ? opt.size : opt.vfsize;
    ao.width = sz[0];
    ao.height = sz[1];
    char err[512];
    if (avin_open(&s->av, &ao, err, sizeof(err)) < 0) {
        cli_error("%s", err);
        return -EINVAL;
    }
    const AvinInfo *ai = avin_info(s->av);
    s->W = ai->width;
    s->H = ai->height;
    s->fps_num = ai->fps_num;
    s->fps_den = ai->fps_den;
    s->matrix = ai->matrix;
    s->full = ai->full_range;
    s->chroma = ai->chroma;
    s->duration = ai->duration;
    return 0;
}
#endif

/* -b:v: encode the first GOP with every shipped model, pick the one whose
 * rate comes closest to the target without exceeding it (else the lowest).
 * The pictures read stay in s->ahead for the real encode. */
static int pick_by_rate(Src *s, const ArgSettings *set, const ArgStreamInfo *si, char *path, size_t len)
{
    static char list[MAX_MODELS][1024];
    int n = sorted_models(list);
    if (n == 0) {
        cli_error("no shipped model found; give one with -m MODEL.safetensors");
        return -ENOENT;
    }
    double rate[MAX_MODELS];
    int used[MAX_MODELS];
    size_t plane = (size_t)s->W * s->H;
    /* at most 1 GiB of pictures */
    int cap = (int)((1ll << 30) / (3 * plane * sizeof(float)));
    if (cap < 1)
        cap = 1;
    int want = 0;
    for (int i = 0; i < n; i++) {
        ArgModel *m;
        if (arg_model_load(&m, list[i], NULL, 0) < 0)
            continue;
        const ArgModelInfo *mi = arg_model_info(m);
        int gop = opt.gop > 0 ? opt.gop : ARG_GOP_DEFAULT;
        int gp = mi->clip_frames ? mi->clip_frames : 1 + (gop - 1) * mi->temporal_factor;
        if (gp > want)
            want = gp;
        arg_model_free(m);
    }
    if (want > cap)
        want = cap;
    if (opt.max_frames > 0 && want > opt.max_frames)
        want = (int)opt.max_frames;
    s->ahead = calloc((size_t)want, sizeof(float *));
    if (!s->ahead)
        return -ENOMEM;
    while (s->n_ahead < want) {
        float *p = malloc(3 * plane * sizeof(float));
        if (!p)
            return -ENOMEM;
        int r = src_read(s, p); /* from the input: i_ahead == n_ahead */
        if (r <= 0) {
            free(p);
            if (r < 0)
                return r;
            break;
        }
        s->ahead[s->n_ahead++] = p;
        s->i_ahead = s->n_ahead;
    }
    s->i_ahead = 0; /* the real encode replays them first */
    if (s->n_ahead == 0) {
        cli_error("the input has no pictures");
        return -EINVAL;
    }
    double fps = (double)s->fps_num / s->fps_den;
    for (int i = 0; i < n; i++) {
        ArgModel *m = NULL;
        ArgEncoder *enc = NULL;
        rate[i] = -1;
        used[i] = 0;
        if (arg_model_load(&m, list[i], NULL, 0) < 0)
            continue;
        const ArgModelInfo *mi = arg_model_info(m);
        int gop = opt.gop > 0 ? opt.gop : ARG_GOP_DEFAULT;
        int gp = mi->clip_frames ? mi->clip_frames : 1 + (gop - 1) * mi->temporal_factor;
        int np = gp < s->n_ahead ? gp : s->n_ahead;
        uint64_t bytes = 0;
        int rc = arg_encoder_open(&enc, m, set, s->W, s->H);
        if (rc == 0)
            rc = arg_encoder_set_stream_info(enc, si);
        if (rc == 0) { /* as the real encode does (the header fixes the coder) */
            ArgSequenceHeader hh;
            uint8_t hb[ARG_SEQUENCE_HEADER_SIZE];
            rc = arg_encoder_get_header(enc, &hh);
            if (rc >= 0)
                rc = arg_encoder_sequence_header(enc, hb, sizeof(hb));
        }
        ArgPacket p;
        for (int k = 0; rc >= 0 && k <= np; k++) {
            if (k < np) {
                ArgPicture pic = { s->ahead[k], s->W, s->H, s->W, (ptrdiff_t)plane, 0 };
                rc = arg_encoder_send_picture(enc, &pic);
                if (rc == -EAGAIN) {
                    while (arg_encoder_get_packet(enc, &p) == 0)
                        bytes += p.size;
                    rc = arg_encoder_send_picture(enc, &pic);
                }
            } else {
                rc = arg_encoder_flush(enc);
            }
            while (rc >= 0 && arg_encoder_get_packet(enc, &p) == 0)
                bytes += p.size;
        }
        if (rc >= 0) {
            rate[i] = bytes * 8.0 * fps / np;
            used[i] = np;
        }
        arg_encoder_close(enc);
        arg_model_free(m);
    }
    int best = -1, low = -1;
    for (int i = 0; i < n; i++) {
        if (rate[i] < 0)
            continue;
        if (rate[i] <= (double)opt.vbitrate && (best < 0 || rate[i] > rate[best]))
            best = i;
        if (low < 0 || rate[i] < rate[low])
            low = i;
    }
    if (low < 0) {
        cli_error("-b:v: no model could encode the first pictures");
        return -EINVAL;
    }
    char summary[1024] = "";
    size_t off = 0;
    for (int i = 0; i < n && off < sizeof(summary); i++)
        if (rate[i] >= 0) {
            const char *base = strrchr(list[i], '/');
            off += (size_t)snprintf(summary + off, sizeof(summary) - off, "%s%s %.1f", off ? ", " : "",
                                    base ? base + 1 : list[i], rate[i] / 1000);
        }
    if (best < 0) {
        best = low;
        cli_warn("-b:v %.1f kbit/s: every operating point is above it on the first %d pictures (%s kbit/s); "
                 "taking the lowest", opt.vbitrate / 1000.0, used[low], summary);
    } else {
        cli_info("-b:v %.1f kbit/s: measured on the first %d pictures: %s kbit/s", opt.vbitrate / 1000.0,
                 used[best], summary);
    }
    snprintf(path, len, "%s", list[best]);
    return 0;
}

/* -map SPEC: "I", "I:v", "I:v:N", "I:a", "I:a:N" */
static int parse_map(const char *m, int *input, char *type, int *index)
{
    long long v;
    char buf[64];
    snprintf(buf, sizeof(buf), "%s", m);
    char *c1 = strchr(buf, ':');
    if (c1)
        *c1 = 0;
    if (cli_parse_int64(buf, 0, 1, &v) < 0)
        return -EINVAL;
    *input = (int)v;
    *type = 0;
    *index = -1;
    if (!c1)
        return 0;
    char *t = c1 + 1, *c2 = strchr(t, ':');
    if (c2)
        *c2 = 0;
    if (strcmp(t, "v") && strcmp(t, "a"))
        return -EINVAL;
    *type = t[0];
    if (c2) {
        if (cli_parse_int64(c2 + 1, 0, 1000, &v) < 0)
            return -EINVAL;
        *index = (int)v;
    }
    return 0;
}

int main(int argc, char **argv)
{
    { /* -q's range: the shipped operating points */
        static char list[MAX_MODELS][1024];
        int n = model_list(list, MAX_MODELS);
        for (CliOpt *o = opts; o->names; o++)
            if (!strcmp(o->names, "-q") && n > 0)
                o->imax = n - 1;
    }
    cli_parse_or_exit(&tool, argc, argv);
    const char *in = opt.inputs[0], *audio_in = opt.n_inputs > 1 ? opt.inputs[1] : NULL, *out = opt.out;
    if (!in) {
        cli_error("no input: give -i INPUT (try --help)");
        return CLI_EXIT_USAGE;
    }
    int to_stdout = !strcmp(out, "-");
    if (audio_in && !strcmp(audio_in, "-") && !strcmp(in, "-")) {
        cli_error("only one input can be stdin");
        return CLI_EXIT_USAGE;
    }
    int cut_t = cli_given(&opt.t), cut_to = cli_given(&opt.to);
    if (cut_t && cut_to) {
        cli_error("-t and -to cannot both be given");
        return CLI_EXIT_USAGE;
    }
    if (cut_to && opt.to <= opt.ss) {
        cli_error("-to %.3f is not after -ss %.3f", opt.to, opt.ss);
        return CLI_EXIT_USAGE;
    }
    if (cli_given(opt.size) && cli_given(opt.vfsize)) {
        cli_error("-s and -vf scale both set the size: give one");
        return CLI_EXIT_USAGE;
    }
    if (cli_given(&opt.vbitrate) && (opt.model || cli_given(&opt.q))) {
        cli_error("-b:v picks the operating point: leave out -m and -q");
        return CLI_EXIT_USAGE;
    }
    if (cli_given(&opt.vbitrate) && opt.gop_align) {
        cli_error("-b:v picks a model per run, which chunks cannot share: with --gop-align pick it with -m or -q");
        return CLI_EXIT_USAGE;
    }
    /* -map */
    int vstream = 0, astream = 0, ainput = audio_in ? 1 : 0, mapped_audio = 0;
    for (int i = 0; i < opt.n_maps; i++) {
        int inp, idx;
        char type;
        if (parse_map(opt.maps[i], &inp, &type, &idx) < 0 || inp >= opt.n_inputs || (type == 'v' && inp != 0) ||
            type == 0) {
            cli_error("-map wants 0:v[:N], 0:a[:N] or 1:a[:N] (the video comes from the first input), got '%s'",
                      opt.maps[i]);
            return CLI_EXIT_USAGE;
        }
        if (type == 'v')
            vstream = idx < 0 ? 0 : idx;
        else {
            mapped_audio = 1;
            ainput = inp;
            astream = idx < 0 ? 0 : idx;
        }
    }
    int want_audio = !opt.an && (opt.n_maps == 0 || mapped_audio);
    int acopy = want_audio && opt.acodec == ACODEC_COPY;
    int needs_av = opt.ss > 0 || cut_t || cut_to || cli_given(opt.rate) || cli_given(opt.size) ||
                   cli_given(opt.vfsize) || vstream > 0 || acopy || (mapped_audio && ainput == 0);
    if (to_stdout ? cli_stdout_claim("the Matroska output") < 0 : cli_check_overwrite(out) < 0)
        return CLI_EXIT_FAIL;
    if (opt.stats && strcmp(opt.stats, "-") && cli_check_overwrite(opt.stats) < 0)
        return CLI_EXIT_FAIL;
    if (to_stdout && opt.stats && !strcmp(opt.stats, "-")) {
        cli_error("-o and --stats cannot both be '-' (standard output)");
        return CLI_EXIT_USAGE;
    }
    /* what the input is: Y4M is read natively unless an option needs FFmpeg */
    Src src;
    memset(&src, 0, sizeof(src));
    uint8_t head[16];
    size_t nh = 0;
    int is_stdin = !strcmp(in, "-");
    struct stat ist;
    if (!is_stdin && stat(in, &ist) == 0 && S_ISDIR(ist.st_mode)) {
        cli_error("'%s' is a directory", in);
        return CLI_EXIT_FAIL;
    }
    int is_pipe = is_stdin || (stat(in, &ist) == 0 && !S_ISREG(ist.st_mode));
    if (is_pipe) { /* look at the first bytes without losing them */
#ifdef ARG_HAVE_LIBAV
        int fd = is_stdin ? 0 : open(in, O_RDONLY);
        if (fd < 0) {
            cli_error("cannot open '%s': %s", in, strerror(errno));
            return CLI_EXIT_FAIL;
        }
        if (!(src.pipe = avin_peek_fd(fd, head, sizeof(head), &nh))) {
            cli_error("cannot read '%s'", in);
            if (fd > 2)
                close(fd);
            return CLI_EXIT_FAIL;
        }
#else
        memcpy(head, "YUV4MPEG2", 9); /* the Y4M reader says what it is not */
        nh = 9;
#endif
    } else {
        FILE *f = fopen(in, "rb");
        if (!f) {
            cli_error("cannot open '%s': %s", in, strerror(errno));
            return CLI_EXIT_FAIL;
        }
        nh = fread(head, 1, sizeof(head), f);
        fclose(f);
    }
    int native = avin_is_y4m(head, nh) && !needs_av;
    int audio_to_stream = want_audio && ainput == 0; /* from the video's input */
#ifndef ARG_HAVE_LIBAV
    if (!avin_is_y4m(head, nh)) {
        cli_error("%s is not a Y4M file; this argenc was built without FFmpeg's libraries and reads Y4M video "
                  "and WAV audio only (convert first: ffmpeg -i IN -f yuv4mpegpipe - | argenc -i - ...)", in);
        return CLI_EXIT_FAIL;
    }
    if (needs_av) {
        cli_error("-ss, -t, -to, -r, -s, -vf, -map and -c:a copy need FFmpeg's libraries, which this argenc "
                  "was built without (it reads Y4M video and WAV audio only)");
        return CLI_EXIT_FAIL;
    }
#endif
    if (native && audio_to_stream)
        audio_to_stream = 0; /* a Y4M has no audio */
#ifndef ARG_HAVE_LIBAV
    (void)astream; /* for FFmpeg's inputs only */
#endif
    char err[512], path[1024];
    int by_rate = cli_given(&opt.vbitrate);
    if (!by_rate && pick_model(path, sizeof(path)) < 0) {
        if (src.pipe)
            fclose(src.pipe);
        return CLI_EXIT_FAIL;
    }
    Enc e;
    memset(&e, 0, sizeof(e));
    e.ain_max = ~0ull;
    e.aend_ns = ~0ull;
    int ret = CLI_EXIT_FAIL, rc;
    float *rgb = NULL;
    char stdout_path[64] = "";
    int64_t max_pics = opt.max_frames > 0 ? opt.max_frames : -1;
    double start = opt.ss;
    int gp_model = 0; /* pictures per GOP of the model (known before the trial only with -m/-q) */
    if (!by_rate) {
        if ((rc = arg_model_load(&e.model, path, err, sizeof(err))) < 0) {
            cli_error("%s", err);
            goto out;
        }
        e.mi = arg_model_info(e.model);
        int gop = opt.gop > 0 ? opt.gop : ARG_GOP_DEFAULT;
        gp_model = e.mi->clip_frames ? e.mi->clip_frames : 1 + (gop - 1) * e.mi->temporal_factor;
    }
    /* ---- open the input */
    if (native) {
        if (src.pipe)
            rc = y4m_reader_open_file(&src.yr, src.pipe, 1, in, err, sizeof(err));
        else
            rc = y4m_reader_open(&src.yr, in, err, sizeof(err));
        src.pipe = NULL;
        if (rc < 0) {
            cli_error("%s", err);
            goto out;
        }
        const Y4mInfo *yi = y4m_reader_info(src.yr);
        src.W = yi->width;
        src.H = yi->height;
        src.fps_num = yi->fps_num;
        src.fps_den = yi->fps_den;
        src.matrix = opt.matrix >= 0 ? opt.matrix : Y4M_MATRIX_BT601;
        src.full = yi->range == Y4M_RANGE_FULL;
        src.chroma = yi->chroma;
        src.duration = -1;
        struct stat st;
        if (!is_pipe && stat(in, &st) == 0 && S_ISREG(st.st_mode) && y4m_frame_size(yi))
            src.duration = (double)(st.st_size / (off_t)(y4m_frame_size(yi) + 6)) * yi->fps_den / yi->fps_num;
        src.col = (Y4mColor){ src.matrix, src.full, Y4M_UPSAMPLE_BILINEAR };
        if (y4m_image_alloc(&src.img, src.W, src.H, yi->chroma) < 0) {
            cli_error("out of memory");
            goto out;
        }
    } else {
#ifdef ARG_HAVE_LIBAV
        int astream_here = audio_to_stream ? astream : -1;
        if (opt.gop_align && (opt.ss > 0 || cut_t || cut_to)) {
            /* snap to GOP starts: the rate first (the stream's unless -r) */
            int fn = opt.rate[0], fd = opt.rate[1];
            if (!cli_given(opt.rate)) {
                if (src.pipe && opt.ss > 0) {
                    cli_error("--gop-align with -ss needs a file, not a pipe");
                    goto out;
                }
                if (!src.pipe) {
                    if (open_av(&src, in, 0, vstream, -1, 0) < 0)
                        goto out;
                    fn = src.fps_num;
                    fd = src.fps_den;
                    src_close(&src);
                }
            }
            if (fn > 0) {
                double fps = (double)fn / fd;
                int64_t p0 = (int64_t)floor(opt.ss * fps + 1e-6);
                p0 -= p0 % gp_model;
                start = (double)p0 * fd / fn;
                if (cut_t || cut_to) {
                    double end = cut_to ? opt.to : opt.ss + opt.t;
                    int64_t p1 = (int64_t)floor(end * fps + 1e-6);
                    p1 -= p1 % gp_model;
                    if (p1 <= p0) {
                        cli_error("--gop-align: %.3f..%.3f s holds no GOP start after picture %" PRId64
                                  " (GOPs of %d pictures)", opt.ss, end, p0, gp_model);
                        goto out;
                    }
                    max_pics = max_pics > 0 && max_pics < p1 - p0 ? max_pics : p1 - p0;
                    cli_info("--gop-align: pictures %" PRId64 "..%" PRId64 " (%.3f..%.3f s; GOPs of %d pictures)",
                             p0, p1 - 1, start, (double)p1 * fd / fn, gp_model);
                } else {
                    cli_info("--gop-align: from picture %" PRId64 " (%.3f s; GOPs of %d pictures)", p0, start,
                             gp_model);
                }
            }
        }
        if (open_av(&src, in, start, vstream, astream_here, acopy && astream_here >= 0) < 0)
            goto out;
        const AvinInfo *ai = avin_info(src.av);
        cli_info("%s: %s; %s%s%s", in, ai->format_desc, ai->video_desc, ai->has_audio ? "; audio " : "",
                 ai->has_audio ? ai->audio_desc : "");
        if (audio_to_stream && !ai->has_audio) {
            if (mapped_audio) {
                cli_error("%s: no audio stream 0:a:%d", in, astream);
                goto out;
            }
            audio_to_stream = 0;
        }
        double fps = (double)src.fps_num / src.fps_den;
        if (!opt.gop_align && (cut_t || cut_to)) {
            /* the pictures before the end time (-to, or -ss + -t), as ffmpeg counts them */
            double d = (cut_to ? opt.to : opt.ss + opt.t) - ai->start_time;
            int64_t n = (int64_t)ceil(d * fps - 1e-6);
            if (n < 1) {
                cli_error("-t/-to: %.6f s holds no picture at %.3f fps", d, fps);
                goto out;
            }
            max_pics = max_pics > 0 && max_pics < n ? max_pics : n;
        }
#endif
    }
#ifndef ARG_HAVE_LIBAV
    (void)start;
    (void)gp_model;
#endif
    cli_signals_install(1);
    int W = src.W, H = src.H;
    ArgSettings s;
    arg_default_settings(&s);
    s.n_threads = opt.threads;
    s.gemm = opt.gemm;
    s.backend = opt.backend;
    s.device = opt.device;
    s.gop_latents = opt.gop;
    ArgStreamInfo si = { (uint32_t)src.fps_num, (uint32_t)src.fps_den, 0,
                         src.matrix == Y4M_MATRIX_BT709 ? ARG_MATRIX_BT709 : ARG_MATRIX_BT601, src.full,
                         src.chroma, { 0 } };
    if (by_rate) {
        if (pick_by_rate(&src, &s, &si, path, sizeof(path)) < 0)
            goto out;
        if ((rc = arg_model_load(&e.model, path, err, sizeof(err))) < 0) {
            cli_error("%s", err);
            goto out;
        }
        e.mi = arg_model_info(e.model);
    }
    e.hash = XXH3_createState();
    if (!e.hash || XXH3_64bits_reset(e.hash) != XXH_OK) {
        cli_error("out of memory");
        goto out;
    }
    if ((rc = arg_encoder_open(&e.enc, e.model, &s, W, H)) < 0) {
        cli_error("cannot open the encoder for %dx%d: %s", W, H, strerror(-rc));
        goto out;
    }
    ArgSequenceHeader *h = &e.seq;
    uint8_t seqbuf[ARG_SEQUENCE_HEADER_SIZE];
    if (arg_encoder_set_stream_info(e.enc, &si) < 0 || arg_encoder_get_header(e.enc, h) < 0 ||
        arg_encoder_sequence_header(e.enc, seqbuf, sizeof(seqbuf)) < 0) {
        cli_error("cannot describe this stream in a sequence header (size %dx%d?)", W, H);
        goto out;
    }
    rgb = malloc((size_t)3 * W * H * sizeof(float));
    if (!rgb) {
        cli_error("out of memory");
        goto out;
    }
    /* ---- audio */
    uint8_t opushead[19];
    MkvAudioInfo ai;
    int have_audio = 0;
    if (want_audio && ainput == 1) {
        uint8_t ah[16];
        size_t nah = 0;
        struct stat ast;
        int wav = !strcmp(audio_in, "-") || (stat(audio_in, &ast) == 0 && !S_ISREG(ast.st_mode));
        if (!wav) {
            FILE *f = fopen(audio_in, "rb");
            if (!f) {
                cli_error("cannot open '%s': %s", audio_in, strerror(errno));
                goto out;
            }
            nah = fread(ah, 1, sizeof(ah), f);
            fclose(f);
            wav = avin_is_wav(ah, nah) && !acopy;
        }
        rc = wav ? open_wav(&e, audio_in) : 1;
        if (rc < 0)
            goto out;
        if (rc == 1) {
#ifdef ARG_HAVE_LIBAV
            AvinOptions ao = { .path = audio_in, .audio_stream = astream, .audio_copy = acopy };
            if (avin_open(&e.aav, &ao, err, sizeof(err)) < 0) {
                cli_error("%s", err);
                goto out;
            }
            cli_info("%s: audio %s", audio_in, avin_info(e.aav)->audio_desc);
#else
            cli_error("%s is not a WAV file; this argenc was built without FFmpeg's libraries and reads WAV "
                      "audio only", audio_in);
            goto out;
#endif
        }
        have_audio = 1;
    } else if (audio_to_stream) {
        e.aav = src.av;
        have_audio = 1;
    }
#ifdef ARG_HAVE_LIBAV
    if (have_audio && e.aav) {
        const AvinInfo *aai = avin_info(e.aav);
        if (aai->audio_copy) {
            e.acopy = 1;
            ai = (MkvAudioInfo){ 48000, aai->audio_channels, aai->opus_preskip * 1000000000ull / 48000,
                                 80000000ull, aai->opus_head, aai->opus_head_size };
            e.arate = 48000;
            e.ach = aai->audio_channels;
        } else {
            e.arate = 48000;
            e.ach = aai->audio_channels;
        }
    }
#endif
    if (have_audio && !e.acopy && setup_opus(&e, &ai, opushead) < 0)
        goto out;
    MkvVideoInfo vi = { h->coded_width, h->coded_height, W, H, 0, h->matrix, h->range, h->primaries,
                        h->transfer, seqbuf, sizeof(seqbuf) };
    /* one picture: what ffprobe and mediainfo report as the frame rate (a block
     * carries a latent frame of up to ft pictures; its timestamps say so) */
    vi.default_duration_ns = (1000000000ull * h->fps_den + h->fps_num / 2) / h->fps_num;
    char settings[256];
    snprintf(settings, sizeof(settings), "gop=%d threads=%d model=%.64s", h->gop_latents, opt.threads,
             e.mi->name[0] ? e.mi->name : "(unnamed)");
    char idhex[17], encname[64];
    snprintf(idhex, sizeof(idhex), "%016" PRIx64, e.mi->id);
    snprintf(encname, sizeof(encname), "argenc %s", arg_version());
    MkvTag tags[4 + MAX_META] = { { "ENCODER", encname }, { "ENCODER_SETTINGS", settings },
                                  { "ARG_MODEL", e.mi->name[0] ? e.mi->name : "(unnamed)" },
                                  { "ARG_MODEL_ID", idhex } };
    static char meta_keys[MAX_META][128];
    int n_tags = 4;
    for (int i = 0; i < opt.n_meta; i++) {
        const char *eq = strchr(opt.meta[i], '=');
        if (!eq || eq == opt.meta[i] || (size_t)(eq - opt.meta[i]) >= sizeof(meta_keys[0])) {
            cli_error("-metadata wants KEY=VALUE, got '%s'", opt.meta[i]);
            goto out;
        }
        size_t k = (size_t)(eq - opt.meta[i]);
        for (size_t c = 0; c < k; c++) {
            char ch = opt.meta[i][c];
            meta_keys[i][c] = ch >= 'a' && ch <= 'z' ? (char)(ch - 'a' + 'A') : ch;
        }
        meta_keys[i][k] = 0;
        tags[n_tags].name = meta_keys[i];
        tags[n_tags].value = eq + 1;
        n_tags++;
    }
    const char *mkv_path = out;
    if (to_stdout) { /* Matroska seeks back (Cues, Duration): assemble it in a temporary file */
        const char *tmpdir = getenv("TMPDIR");
        snprintf(stdout_path, sizeof(stdout_path), "%.40s/argenc-%ld.mkv", tmpdir && *tmpdir ? tmpdir : "/tmp",
                 (long)getpid());
        mkv_path = stdout_path;
    }
    if (mkv_writer_open(&e.mkv, mkv_path, &vi, have_audio ? &ai : NULL, tags, n_tags, err, sizeof(err)) < 0) {
        cli_error("%s", err);
        goto out;
    }
    cli_tmp_register(mkv_writer_tmp_path(e.mkv));
    int gop_pictures = e.mi->clip_frames ? e.mi->clip_frames : 1 + (h->gop_latents - 1) * e.mi->temporal_factor;
    double fps = (double)h->fps_num / h->fps_den;
    double t_start = now();
    e.total = src.duration > 0 ? (int64_t)ceil(src.duration * fps - 1e-6) : 0;
    if (max_pics > 0 && (e.total == 0 || max_pics < e.total))
        e.total = max_pics;
    double in_secs = e.total > 0 ? e.total / fps : 0;
    e.hold_last = e.exact_end = opt.gop_align;
    cli_progress_start(&e.progress, e.total, opt.progress);
    int stopping = 0;
    for (;;) {
        if (max_pics > 0 && e.frames >= max_pics)
            break;
        if (cli_interrupted()) {
            if (!stopping) {
                cli_progress_end(&e.progress);
                cli_info("stopping at the end of this GOP (again to abort)");
            }
            stopping = 1;
            if (e.frames % gop_pictures == 0)
                break;
        }
        int r = src_read(&src, rgb);
        if (r == 0)
            break;
        if (r < 0)
            goto fail;
        ArgPicture pic = { rgb, W, H, W, (ptrdiff_t)W * H, 0 };
        double t0 = now();
        rc = arg_encoder_send_picture(e.enc, &pic);
        if (rc == -EAGAIN) {
            if ((rc = drain(&e)) < 0)
                goto fail_rc;
            rc = arg_encoder_send_picture(e.enc, &pic);
        }
        if (rc < 0)
            goto fail_rc;
        e.frames++;
        e.t_model += now() - t0;
        if ((rc = drain(&e)) < 0)
            goto fail_rc;
        double secs = (double)e.picture / fps;
        if (in_secs > 0)
            cli_progress_update(&e.progress, e.frames, "%.1f/%.1f s  %.1f kbit/s", e.frames / fps, in_secs,
                                secs > 0 ? e.bytes * 8.0 / 1000.0 / secs : 0.0);
        else
            cli_progress_update(&e.progress, e.frames, "%.1f s  %.1f kbit/s", e.frames / fps,
                                secs > 0 ? e.bytes * 8.0 / 1000.0 / secs : 0.0);
    }
#ifdef ARG_HAVE_LIBAV
    if (src.av)
        avin_video_done(src.av); /* the rest of the video is not wanted: drop it while reading audio */
#endif
    double t0 = now();
    if ((rc = arg_encoder_flush(e.enc)) < 0)
        goto fail_rc;
    e.t_model += now() - t0;
    if ((rc = drain(&e)) < 0)
        goto fail_rc;
    cli_progress_end(&e.progress);
    if (e.frames == 0) {
        cli_error("%s: the input has no pictures%s", in, opt.ss > 0 ? " after -ss" : "");
        goto fail;
    }
    if ((rc = write_held(&e, 1)) < 0)
        goto fail_rc;
    if (max_pics > 0 || stopping || opt.gop_align) { /* the audio ends with the video */
        e.ain_max = ((uint64_t)e.frames * (uint64_t)e.arate * h->fps_den + h->fps_num / 2) / h->fps_num;
        e.aend_ns = pts_of(&e, (uint64_t)e.frames);
    }
    if ((rc = audio_until(&e, ~0ull)) < 0)
        goto fail_rc;
    if (have_audio && !e.acopy) {
        char ns[32];
        snprintf(ns, sizeof(ns), "%" PRIu64, e.ain);
        mkv_writer_add_tag(e.mkv, "ARG_AUDIO_SAMPLES", ns);
        snprintf(ns, sizeof(ns), "%d", e.arate);
        mkv_writer_add_tag(e.mkv, "ARG_AUDIO_RATE", ns);
    }
    if (!opt.gop_align) { /* chunks keep the header of the first one: leave the count unknown (0) */
        arg_encoder_sequence_header(e.enc, seqbuf, sizeof(seqbuf)); /* now with the frame count */
        arg_encoder_get_header(e.enc, h);
        mkv_writer_set_video_private(e.mkv, seqbuf, sizeof(seqbuf));
    }
    char tmp_name[CLI_TMP_PATH_MAX];
    snprintf(tmp_name, sizeof(tmp_name), "%s", mkv_writer_tmp_path(e.mkv));
    rc = mkv_writer_close(e.mkv, 1);
    e.mkv = NULL;
    cli_tmp_unregister(tmp_name);
    if (rc < 0) {
        cli_error("cannot finish %s: %s", out, strerror(-rc));
        goto out;
    }
    uint64_t file_bytes = 0;
    struct stat st;
    if (stat(mkv_path, &st) == 0)
        file_bytes = (uint64_t)st.st_size;
    if (to_stdout) {
        cli_tmp_register(stdout_path);
        rc = copy_to_stdout(stdout_path);
        unlink(stdout_path);
        cli_tmp_unregister(stdout_path);
        if (rc < 0) {
            cli_error("cannot write to stdout: %s", strerror(-rc));
            goto out;
        }
    }
    double secs = (double)e.frames * h->fps_den / h->fps_num, el = now() - t_start;
    double bpt = e.bytes * 8.0 / ((double)e.bits_raw / e.mi->lfq_bits);
    /* data on stdout: the report moves to stderr when an output takes stdout */
    FILE *rep = opt.stats && !strcmp(opt.stats, "-") ? stderr : cli_report_stream();
    fprintf(rep, "argenc: %s -> %s\n", in, out);
    fprintf(rep, "  model %s (%016" PRIx64 "), %dx%d, %" PRId64 " pictures (%.3f s at %.3f fps), %" PRIu64
            " latent frames, GOP %d\n", e.mi->name, e.mi->id, W, H, e.frames, secs, fps, e.latents, h->gop_latents);
    fprintf(rep, "  %" PRIu64 " bytes of video: %.2f kbit/s, %.4f bpp, %.3f bits/token (raw %d, %.1f%% saved)\n",
            e.bytes, e.bytes * 8 / 1000.0 / secs, e.bytes * 8.0 / ((double)e.frames * W * H), bpt,
            e.mi->lfq_bits, 100.0 * (1 - bpt / e.mi->lfq_bits));
    if (by_rate)
        fprintf(rep, "  -b:v %.1f kbit/s: achieved %.2f kbit/s (ARG has no finer rate control)\n",
                opt.vbitrate / 1000.0, e.bytes * 8 / 1000.0 / secs);
    fprintf(rep, "  %.2f fps (%.1f s; tokenizer %.1f s, entropy coder %.2f s)\n", e.frames / el, el, e.t_model,
            e.t_entropy);
    fprintf(rep, "  backend %s\n", arg_encoder_backend(e.enc));
    if (e.acopy)
        fprintf(rep, "  audio: Opus copied, %" PRIu64 " bytes\n", e.abytes);
    else if (e.opus)
        fprintf(rep, "  audio: %" PRIu64 " samples at %d Hz, %d ch -> Opus %.1f kbit/s\n", e.ain, e.arate, e.ach,
                e.abytes * 8 / 1000.0 / ((double)e.ain / e.arate + 1e-9));
    fprintf(rep, "tokens %016" PRIx64 "\n", (uint64_t)XXH3_64bits_digest(e.hash));
    if (opt.stats)
        write_stats(&e, in, out, el, file_bytes, stopping);
    if (stopping) {
        cli_error("interrupted after %" PRId64 " pictures; output kept", e.frames);
        ret = cli_interrupt_status();
    } else {
        ret = CLI_EXIT_OK;
    }
    goto out;
fail_rc:
    cli_error("encoding failed: %s", strerror(rc < 0 ? -rc : rc));
fail:
    if (e.mkv) {
        cli_tmp_unregister(mkv_writer_tmp_path(e.mkv));
        mkv_writer_close(e.mkv, 0);
    }
    e.mkv = NULL;
out:
    cli_progress_end(&e.progress);
    if (e.mkv) {
        cli_tmp_unregister(mkv_writer_tmp_path(e.mkv));
        mkv_writer_close(e.mkv, 0);
    }
    free(rgb);
    arg_encoder_close(e.enc);
#ifdef ARG_HAVE_LIBAV
    if (e.aav && e.aav != src.av)
        avin_close(e.aav);
#endif
    src_close(&src);
    arg_model_free(e.model);
    XXH3_freeState(e.hash);
    if (e.opus)
        opus_encoder_destroy(e.opus);
    wav_reader_close(e.wav);
    free(e.apcm);
    free(e.held);
    return ret;
}
