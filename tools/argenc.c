/* argenc: encode a Y4M video (and a WAV) into an ARG Matroska file.
 *
 *   argenc -i INPUT.y4m|- [-i AUDIO.wav] -o OUT.mkv|- [-m MODEL | -q N] [-g GOP]
 *          [--frames N] [-b:a RATE] [--stats FILE.json] [-y | -n] [--quiet] ...
 *
 * Pictures -> libarg's encoder (tokens, entropy coder, packets) -> one
 * Matroska block per latent frame (spec/bitstream.md), Opus audio beside.
 * The first SIGINT/SIGTERM finishes the current GOP and keeps a valid,
 * shorter file; a second one removes the temporary file and exits. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <xxhash.h>
#include <opus/opus.h>

#include "arg/arg.h"
#include "arg_mkv.h"
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

static struct {
    const char *inputs[2];
    int n_inputs;
    const char *out, *model, *stats;
    int q, gop, threads, matrix, gemm, backend, device;
    int64_t max_frames, abitrate;
    int progress;
} opt = { { NULL, NULL }, 0, NULL, NULL, NULL, -1, ARG_GOP_DEFAULT, 0, Y4M_MATRIX_BT601, ARG_GEMM_AUTO,
          ARG_BACKEND_AUTO, 0, -1, 64000, 0 };

static CliOpt opts[] = {
    CLI_OPT_LIST("-i --input", opt.inputs, 2, &opt.n_inputs, "FILE",
                 "Y4M video (8-bit 4:2:0, 4:2:2 or 4:4:4), '-' for stdin;\n"
                 "a second -i: PCM WAV audio, coded to Opus\n"
                 "(8/12/16/24/48 kHz, 1-2 channels)"),
    { .names = "-o --output", .kind = CLI_STRING, .dest = &opt.out, .metavar = "FILE",
      .help = "Matroska output, written atomically; '-' writes it to stdout\n"
              "(assembled in a temporary file first: Matroska needs to seek)",
      .flags = CLI_REQUIRED },
    CLI_OPT_STRING("-m --model", &opt.model, "MODEL", "model file or name (see ARG_MODEL_PATH)"),
    CLI_OPT_INT("-q", &opt.q, 0, MAX_MODELS - 1, "N",
                "operating point: the N-th shipped model by token rate\n"
                "(0 = lowest rate; default: the middle one)"),
    CLI_OPT_INT("-g --gop", &opt.gop, 1, 65535, "N",
                "GOP length in latent frames (default 8; fixed-clip models: one clip)"),
    CLI_OPT_INT64("-frames:v --frames", &opt.max_frames, 1, INT64_MAX, "N", "encode at most N pictures"),
    CLI_OPT_BITRATE("-b:a", &opt.abitrate, 6000, 510000, "RATE", "Opus bit rate, e.g. 64k (default 64k)"),
    CLI_OPT_INT("--threads", &opt.threads, 0, 256, "N", "worker threads (default 0: all cores)"),
    CLI_OPT_GEMM("--gemm", &opt.gemm),
    CLI_OPT_BACKEND(&opt.backend),
    CLI_OPT_DEVICE(&opt.device),
    CLI_OPT_ENUM("--matrix", &opt.matrix, matrix_choices, "M", "bt601 | bt709 colour matrix (default: bt601)"),
    CLI_OPT_STRING("--stats", &opt.stats, "FILE", "write final statistics as JSON ('-' for stdout)"),
    CLI_OPT_FLAG("--quiet", &cli_quiet, "no progress line"),
    CLI_OPT_FLAG("--progress", &opt.progress, "show the progress line even when stderr is not a terminal"),
    CLI_OPT_OVERWRITE_YES,
    CLI_OPT_OVERWRITE_NO,
    CLI_OPT_END,
};

static const CliHint hints[] = {
    { "-b:v -crf -qp", "ARG has no rate control yet: pick an operating point with -q N (see --help)" },
    { "-t -to", "cut the input instead: --frames N (pictures), or ffmpeg -t before the pipe" },
    { "-ss", "cut the input first, e.g. ffmpeg -ss T -i IN -f yuv4mpegpipe - | argenc -i - ..." },
    { "-s -vf", "scale the input first, e.g. ffmpeg -i IN -vf scale=W:H -f yuv4mpegpipe - | argenc -i - ..." },
    { "-r", "convert the frame rate first, e.g. ffmpeg -i IN -r 25 -f yuv4mpegpipe - | argenc -i - ..." },
    { "-c:v -c:a -f", "argenc writes ARG video and Opus audio in Matroska only" },
    CLI_HINT_END,
};

static const CliTool tool = {
    .name = "argenc",
    .synopsis = "-i INPUT.y4m [-i AUDIO.wav] -o OUT.mkv [options]",
    .about = "Encode a Y4M video (and PCM WAV audio) into an ARG Matroska file.",
    .opts = opts,
    .hints = hints,
    .epilog = "Other inputs: decode them with ffmpeg first, e.g.\n"
              "  ffmpeg -i in.mp4 -f yuv4mpegpipe -pix_fmt yuv420p - | argenc -i - -o out.mkv\n"
              "ARG has no rate control: the operating point (-q, -m) sets the rate.\n"
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
    OpusEncoder *opus;
    int arate, ach, aframe;      /* sample rate, channels, samples per Opus frame */
    uint64_t asamples;           /* input sample frames coded so far */
    uint64_t ain;                /* input sample frames read */
    uint64_t ain_max;            /* read no more than this (the video's span with --frames) */
    int aeof;
    float *apcm;
    uint8_t apkt[4000];
    uint64_t abytes;
    int alook;                   /* encoder lookahead, input samples */
    int ain_done;                /* the WAV is exhausted */
} Enc;

/* Code and mux audio frames that start before limit_ns (all when ~0). */
static int audio_until(Enc *e, uint64_t limit_ns)
{
    while (e->opus && !e->aeof) {
        uint64_t pts = e->asamples * 1000000000ull / (uint64_t)e->arate;
        if (pts >= limit_ns)
            return 0;
        long want = e->aframe;
        if (e->ain >= e->ain_max)
            want = 0;
        else if (e->ain_max - e->ain < (uint64_t)want)
            want = (long)(e->ain_max - e->ain);
        long got = e->ain_done || want == 0 ? 0 : wav_reader_read(e->wav, e->apcm, want);
        if (got < 0)
            return (int)got;
        if (got < e->aframe)
            e->ain_done = 1;
        e->ain += (uint64_t)got;
        /* after the input, code silence until the lookahead is flushed out */
        if (got == 0 && e->asamples >= e->ain + (uint64_t)e->alook) {
            e->aeof = 1;
            break;
        }
        if (got < e->aframe) /* pad with silence */
            memset(e->apcm + (size_t)got * e->ach, 0, (size_t)(e->aframe - got) * e->ach * sizeof(float));
        int n = opus_encode_float(e->opus, e->apcm, e->aframe, e->apkt, sizeof(e->apkt));
        if (n < 0)
            return -EIO;
        int rc = mkv_write_block(e->mkv, MKV_TRACK_AUDIO, pts, 0, 1, e->apkt, (size_t)n);
        if (rc < 0)
            return rc;
        e->abytes += (uint64_t)n;
        e->asamples += (uint64_t)e->aframe;
    }
    return 0;
}

static uint64_t pts_of(const Enc *e, uint64_t picture)
{
    return picture * 1000000000ull * e->seq.fps_den / e->seq.fps_num;
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
        if ((rc = audio_until(e, pts)) < 0)
            return rc;
        if ((rc = mkv_write_block(e->mkv, MKV_TRACK_VIDEO, pts, dur, p.keyframe, p.data, p.size)) < 0)
            return rc;
        XXH3_64bits_update(e->hash, t->tokens, n * sizeof(uint32_t));
        e->picture = (uint64_t)(p.pts + p.duration);
        e->bytes += p.size;
        e->latents++;
        e->bits_raw += (uint64_t)n * (uint64_t)e->mi->lfq_bits;
    }
    return rc == -EAGAIN ? 0 : rc;
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
    int n = model_list(list, MAX_MODELS);
    if (n == 0) {
        cli_error("no shipped model found; give one with -m MODEL.safetensors");
        return -ENOENT;
    }
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
    int pick = opt.q < 0 ? (n - 1) / 2 : opt.q;
    if (pick >= n) {
        cli_error("-q wants an integer 0..%d (%d operating points), got '%d'", n - 1, n, opt.q);
        return -EINVAL;
    }
    snprintf(path, len, "%s", list[pick]);
    return 0;
}

static int open_audio(Enc *e, const char *path, MkvAudioInfo *ai, uint8_t opushead[19])
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
        cli_error("%s: Opus takes 8, 12, 16, 24 or 48 kHz and 1-2 channels (got %d Hz, %d ch); "
                  "resample first, e.g. ffmpeg -i IN -ar 48000 -ac 2 OUT.wav", path, e->arate, e->ach);
        return -EINVAL;
    }
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
        cli_error("no input: give -i INPUT.y4m (try --help)");
        return CLI_EXIT_USAGE;
    }
    int to_stdout = !strcmp(out, "-");
    if (audio_in && !strcmp(audio_in, "-") && !strcmp(in, "-")) {
        cli_error("only one input can be stdin");
        return CLI_EXIT_USAGE;
    }
    if (to_stdout ? cli_stdout_claim("the Matroska output") < 0 : cli_check_overwrite(out) < 0)
        return CLI_EXIT_FAIL;
    if (opt.stats && strcmp(opt.stats, "-") && cli_check_overwrite(opt.stats) < 0)
        return CLI_EXIT_FAIL;
    if (to_stdout && opt.stats && !strcmp(opt.stats, "-")) {
        cli_error("-o and --stats cannot both be '-' (standard output)");
        return CLI_EXIT_USAGE;
    }
    char err[512], path[1024];
    if (pick_model(path, sizeof(path)) < 0)
        return CLI_EXIT_FAIL;
    Enc e;
    memset(&e, 0, sizeof(e));
    e.ain_max = ~0ull;
    int rc = arg_model_load(&e.model, path, err, sizeof(err));
    if (rc < 0) {
        cli_error("%s", err);
        return CLI_EXIT_FAIL;
    }
    e.mi = arg_model_info(e.model);
    e.hash = XXH3_createState();
    if (!e.hash || XXH3_64bits_reset(e.hash) != XXH_OK) {
        cli_error("out of memory");
        arg_model_free(e.model);
        return CLI_EXIT_FAIL;
    }
    Y4mReader *yr;
    if (y4m_reader_open(&yr, in, err, sizeof(err)) < 0) {
        cli_error("%s", err);
        arg_model_free(e.model);
        XXH3_freeState(e.hash);
        return CLI_EXIT_FAIL;
    }
    cli_signals_install(1);
    const Y4mInfo *yi = y4m_reader_info(yr);
    int W = yi->width, H = yi->height;
    ArgSettings s;
    arg_default_settings(&s);
    s.n_threads = opt.threads;
    s.gemm = opt.gemm;
    s.backend = opt.backend;
    s.device = opt.device;
    s.gop_latents = opt.gop;
    int ret = CLI_EXIT_FAIL;
    Y4mImage img = { 0 };
    float *rgb = NULL;
    char stdout_path[64] = "";
    if ((rc = arg_encoder_open(&e.enc, e.model, &s, W, H)) < 0) {
        cli_error("cannot open the encoder for %dx%d: %s", W, H, strerror(-rc));
        goto out;
    }
    int full = yi->range == Y4M_RANGE_FULL;
    ArgStreamInfo si = { (uint32_t)yi->fps_num, (uint32_t)yi->fps_den, 0,
                         opt.matrix == Y4M_MATRIX_BT709 ? ARG_MATRIX_BT709 : ARG_MATRIX_BT601, full,
                         yi->chroma, { 0 } };
    ArgSequenceHeader *h = &e.seq;
    uint8_t seqbuf[ARG_SEQUENCE_HEADER_SIZE];
    if (arg_encoder_set_stream_info(e.enc, &si) < 0 || arg_encoder_get_header(e.enc, h) < 0 ||
        arg_encoder_sequence_header(e.enc, seqbuf, sizeof(seqbuf)) < 0) {
        cli_error("cannot describe this stream in a sequence header (size %dx%d?)", W, H);
        goto out;
    }
    rgb = malloc((size_t)3 * W * H * sizeof(float));
    if (!rgb || y4m_image_alloc(&img, W, H, yi->chroma) < 0) {
        cli_error("out of memory");
        goto out;
    }
    uint8_t opushead[19];
    MkvAudioInfo ai;
    if (audio_in && open_audio(&e, audio_in, &ai, opushead) < 0)
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
    MkvTag tags[4] = { { "ENCODER", encname }, { "ENCODER_SETTINGS", settings },
                       { "ARG_MODEL", e.mi->name[0] ? e.mi->name : "(unnamed)" }, { "ARG_MODEL_ID", idhex } };
    const char *mkv_path = out;
    if (to_stdout) { /* Matroska seeks back (Cues, Duration): assemble it in a temporary file */
        const char *tmpdir = getenv("TMPDIR");
        snprintf(stdout_path, sizeof(stdout_path), "%.40s/argenc-%ld.mkv", tmpdir && *tmpdir ? tmpdir : "/tmp",
                 (long)getpid());
        mkv_path = stdout_path;
    }
    if (mkv_writer_open(&e.mkv, mkv_path, &vi, audio_in ? &ai : NULL, tags, 4, err, sizeof(err)) < 0) {
        cli_error("%s", err);
        goto out;
    }
    cli_tmp_register(mkv_writer_tmp_path(e.mkv));
    int gop_pictures = e.mi->clip_frames ? e.mi->clip_frames : 1 + (h->gop_latents - 1) * e.mi->temporal_factor;
    Y4mColor col = { opt.matrix, full, Y4M_UPSAMPLE_BILINEAR };
    double t_start = now();
    e.total = 0;
    struct stat st;
    if (strcmp(in, "-") && stat(in, &st) == 0 && S_ISREG(st.st_mode) && y4m_frame_size(yi))
        e.total = (int64_t)(st.st_size / (off_t)(y4m_frame_size(yi) + 6)); /* "FRAME\n" + planes */
    if (opt.max_frames > 0 && (e.total == 0 || opt.max_frames < e.total))
        e.total = opt.max_frames;
    cli_progress_start(&e.progress, e.total, opt.progress);
    int stopping = 0;
    for (;;) {
        if (opt.max_frames > 0 && e.frames >= opt.max_frames)
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
        int r = y4m_reader_read(yr, &img);
        if (r == 0)
            break;
        if (r < 0) {
            cli_error("%s", y4m_reader_error(yr));
            goto fail;
        }
        y4m_yuv_to_rgb(&img, &col, rgb, W, (ptrdiff_t)W * H);
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
        double secs = (double)e.picture * h->fps_den / h->fps_num;
        cli_progress_update(&e.progress, e.frames, "%.1f kbit/s", secs > 0 ? e.bytes * 8.0 / 1000.0 / secs : 0.0);
    }
    double t0 = now();
    if ((rc = arg_encoder_flush(e.enc)) < 0)
        goto fail_rc;
    e.t_model += now() - t0;
    if ((rc = drain(&e)) < 0)
        goto fail_rc;
    cli_progress_end(&e.progress);
    if (e.frames == 0) {
        cli_error("%s: the input has no pictures", in);
        goto fail;
    }
    if (opt.max_frames > 0 || stopping) /* the audio ends with the video */
        e.ain_max = ((uint64_t)e.frames * (uint64_t)e.arate * h->fps_den + h->fps_num / 2) / h->fps_num;
    if ((rc = audio_until(&e, ~0ull)) < 0)
        goto fail_rc;
    if (e.opus) {
        char ns[32];
        snprintf(ns, sizeof(ns), "%" PRIu64, e.ain);
        mkv_writer_add_tag(e.mkv, "ARG_AUDIO_SAMPLES", ns);
        snprintf(ns, sizeof(ns), "%d", e.arate);
        mkv_writer_add_tag(e.mkv, "ARG_AUDIO_RATE", ns);
    }
    arg_encoder_sequence_header(e.enc, seqbuf, sizeof(seqbuf)); /* now with the frame count */
    arg_encoder_get_header(e.enc, h);
    mkv_writer_set_video_private(e.mkv, seqbuf, sizeof(seqbuf));
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
    fprintf(rep, "  model %s (%016" PRIx64 "), %dx%d, %" PRId64 " pictures, %" PRIu64 " latent frames, GOP %d\n",
            e.mi->name, e.mi->id, W, H, e.frames, e.latents, h->gop_latents);
    fprintf(rep, "  %" PRIu64 " bytes of video: %.2f kbit/s, %.4f bpp, %.3f bits/token (raw %d, %.1f%% saved)\n",
            e.bytes, e.bytes * 8 / 1000.0 / secs, e.bytes * 8.0 / ((double)e.frames * W * H), bpt,
            e.mi->lfq_bits, 100.0 * (1 - bpt / e.mi->lfq_bits));
    fprintf(rep, "  %.2f fps (%.1f s; tokenizer %.1f s, entropy coder %.2f s)\n", e.frames / el, el, e.t_model,
            e.t_entropy);
    fprintf(rep, "  backend %s\n", arg_encoder_backend(e.enc));
    if (e.opus)
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
    y4m_image_free(&img);
    free(rgb);
    arg_encoder_close(e.enc);
    y4m_reader_close(yr);
    arg_model_free(e.model);
    XXH3_freeState(e.hash);
    if (e.opus)
        opus_encoder_destroy(e.opus);
    wav_reader_close(e.wav);
    free(e.apcm);
    return ret;
}
