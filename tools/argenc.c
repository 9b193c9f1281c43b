/* argenc: encode a Y4M video into an ARG Matroska file.
 *
 *   argenc -i INPUT.y4m|- -o OUT.mkv [-m MODEL | -q N] [-g GOP] [--threads N] [--gemm KIND]
 *          [--backend cpu|vulkan|auto] [--device N]
 *          [--frames N] [--matrix bt601|bt709] [--stats FILE.json] [--quiet]
 *
 * Pictures -> tokens (libarg) -> entropy coder -> one Matroska block per
 * latent frame (spec/bitstream.md). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <xxhash.h>
#include <opus/opus.h>

#include "arg/arg.h"
#include "arg_mkv.h"
#include "backendopt.h"
#include "modelpath.h"
#include "wav.h"
#include "y4m.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: argenc -i INPUT.y4m -o OUT.mkv [options]\n"
            "  -i FILE          Y4M input (8-bit 4:2:0, 4:2:2 or 4:4:4), '-' for stdin\n"
            "  -i AUDIO.wav     a second -i: PCM WAV audio, coded to Opus (8/12/16/24/48 kHz, 1-2 channels)\n"
            "  -b:a RATE        Opus bit rate, e.g. 64k (default 64k)\n"
            "  -o FILE          Matroska output (written atomically)\n"
            "  -m MODEL         model file or name (see ARG_MODEL_PATH)\n"
            "  -q N             operating point: the N-th shipped model by token rate (0 = lowest)\n"
            "  -g N             GOP length in latent frames (default 8; fixed-clip models: one clip)\n"
            "  --frames N       encode at most N pictures\n"
            "  --threads N      worker threads (default: all cores)\n"
            "  --gemm KIND      auto (default: OpenBLAS when built with it), builtin, blas or reference\n"
            BACKEND_HELP
            "  --matrix M       bt601 | bt709 colour matrix (default: bt601)\n"
            "  --stats FILE     write final statistics as JSON\n"
            "  --quiet          no progress line\n");
}

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

int main(int argc, char **argv)
{
    const char *in = NULL, *audio_in = NULL, *out = NULL, *model_arg = NULL, *stats = NULL;
    int abitrate = 64000;
    int q = -1, gop = 8, threads = 0, quiet = 0, matrix = Y4M_MATRIX_BT601, gemm = ARG_GEMM_AUTO;
    int backend = ARG_BACKEND_AUTO, device = 0;
    long max_frames = -1;
    static const struct option lo[] = {
        { "frames", required_argument, 0, 'F' }, { "threads", required_argument, 0, 'T' },
        { "matrix", required_argument, 0, 'M' }, { "stats", required_argument, 0, 'S' },
        { "quiet", no_argument, 0, 'Q' },        { "help", no_argument, 0, 'h' },
        { "gemm", required_argument, 0, 'G' },
        { "backend", required_argument, 0, 'B' }, { "device", required_argument, 0, 'D' },
        { 0, 0, 0, 0 },
    };
    int c;
    for (int i = 1; i < argc; i++) /* ffmpeg spelling */
        if (!strcmp(argv[i], "-b:a"))
            argv[i] = "-b";
    while ((c = getopt_long(argc, argv, "i:o:m:q:g:b:h", lo, NULL)) != -1) {
        switch (c) {
        case 'i':
            if (!in) in = optarg;
            else if (!audio_in) audio_in = optarg;
            else { fprintf(stderr, "argenc: at most two inputs (video, then audio)\n"); return 2; }
            break;
        case 'b': {
            char *end;
            double v = strtod(optarg, &end);
            if (*end == 'k' || *end == 'K') v *= 1000, end++;
            if (*end || v < 6000 || v > 510000) { fprintf(stderr, "argenc: -b:a wants 6k..510k\n"); return 2; }
            abitrate = (int)v;
            break;
        }
        case 'o': out = optarg; break;
        case 'm': model_arg = optarg; break;
        case 'q': q = atoi(optarg); break;
        case 'g': gop = atoi(optarg); break;
        case 'F': max_frames = atol(optarg); break;
        case 'T': threads = atoi(optarg); break;
        case 'S': stats = optarg; break;
        case 'Q': quiet = 1; break;
        case 'B':
        case 'D':
            if (backend_opt(c, optarg, "argenc", &backend, &device) < 0)
                return 2;
            break;
        case 'M':
            if (!strcmp(optarg, "bt601")) matrix = Y4M_MATRIX_BT601;
            else if (!strcmp(optarg, "bt709")) matrix = Y4M_MATRIX_BT709;
            else { fprintf(stderr, "argenc: unknown --matrix '%s'\n", optarg); return 2; }
            break;
        case 'G':
            if (!strcmp(optarg, "auto")) gemm = ARG_GEMM_AUTO;
            else if (!strcmp(optarg, "builtin")) gemm = ARG_GEMM_BUILTIN;
            else if (!strcmp(optarg, "blas")) gemm = ARG_GEMM_BLAS;
            else if (!strcmp(optarg, "reference")) gemm = ARG_GEMM_REFERENCE;
            else { fprintf(stderr, "argenc: --gemm wants auto, builtin, blas or reference, got '%s'\n", optarg); return 2; }
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!in || !out || optind != argc || gop < 1 || gop > 65535 || threads < 0) {
        usage(stderr);
        return 2;
    }
    char err[512], path[1024];
    /* model: -m, -q, or the default */
    if (model_arg) {
        if (model_find(model_arg, path, sizeof(path)) < 0) {
            fprintf(stderr, "argenc: model '%s' not found (searched ARG_MODEL_PATH, the data folder, models/)\n", model_arg);
            return 1;
        }
    } else {
        static char list[32][1024];
        int n = model_list(list, 32);
        if (n == 0) {
            fprintf(stderr, "argenc: no shipped model found; give one with -m MODEL.safetensors\n");
            return 1;
        }
        /* order the operating points by raw token rate */
        double rate[32];
        for (int i = 0; i < n; i++) {
            ArgModel *m;
            rate[i] = 1e30;
            if (arg_model_load(&m, list[i], NULL, 0) == 0) {
                const ArgModelInfo *mi = arg_model_info(m);
                rate[i] = (double)mi->lfq_bits / ((double)mi->temporal_factor * mi->spatial_factor * mi->spatial_factor);
                arg_model_free(m);
            }
        }
        for (int i = 0; i < n; i++)
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
        int pick = q < 0 ? (n - 1) / 2 : q;
        if (pick >= n) {
            fprintf(stderr, "argenc: -q %d: only %d operating points (0..%d)\n", q, n, n - 1);
            return 1;
        }
        snprintf(path, sizeof(path), "%s", list[pick]);
    }
    Enc e;
    memset(&e, 0, sizeof(e));
    e.ain_max = ~0ull;
    int rc = arg_model_load(&e.model, path, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "argenc: %s\n", err);
        return 1;
    }
    e.mi = arg_model_info(e.model);
    e.hash = XXH3_createState();
    if (!e.hash || XXH3_64bits_reset(e.hash) != XXH_OK) {
        fprintf(stderr, "argenc: out of memory\n");
        arg_model_free(e.model);
        return 1;
    }
    Y4mReader *yr;
    if (y4m_reader_open(&yr, in, err, sizeof(err)) < 0) {
        fprintf(stderr, "argenc: %s\n", err);
        arg_model_free(e.model);
        return 1;
    }
    const Y4mInfo *yi = y4m_reader_info(yr);
    int W = yi->width, H = yi->height;
    ArgSettings s;
    arg_default_settings(&s);
    s.n_threads = threads;
    s.gemm = gemm;
    s.backend = backend;
    s.device = device;
    int ret = 1;
    Y4mImage img = { 0 };
    float *rgb = NULL;
    s.gop_latents = gop;
    if ((rc = arg_encoder_open(&e.enc, e.model, &s, W, H)) < 0) {
        fprintf(stderr, "argenc: cannot open the encoder for %dx%d: %s\n", W, H, strerror(-rc));
        goto out;
    }
    int full = yi->range == Y4M_RANGE_FULL;
    ArgStreamInfo si = { (uint32_t)yi->fps_num, (uint32_t)yi->fps_den, 0,
                         matrix == Y4M_MATRIX_BT709 ? ARG_MATRIX_BT709 : ARG_MATRIX_BT601, full,
                         yi->chroma, { 0 } };
    ArgSequenceHeader *h = &e.seq;
    uint8_t seqbuf[ARG_SEQUENCE_HEADER_SIZE];
    if (arg_encoder_set_stream_info(e.enc, &si) < 0 || arg_encoder_get_header(e.enc, h) < 0 ||
        arg_encoder_sequence_header(e.enc, seqbuf, sizeof(seqbuf)) < 0) {
        fprintf(stderr, "argenc: cannot describe this stream in a sequence header (size %dx%d?)\n", W, H);
        goto out;
    }
    rgb = malloc((size_t)3 * W * H * sizeof(float));
    if (!rgb || y4m_image_alloc(&img, W, H, yi->chroma) < 0) {
        fprintf(stderr, "argenc: out of memory\n");
        goto out;
    }
    uint8_t opushead[19];
    MkvAudioInfo ai;
    if (audio_in) {
        if (wav_reader_open(&e.wav, audio_in, err, sizeof(err)) < 0) {
            fprintf(stderr, "argenc: %s\n", err);
            goto out;
        }
        const WavInfo *wi = wav_reader_info(e.wav);
        e.arate = wi->sample_rate;
        e.ach = wi->channels;
        if ((e.arate != 48000 && e.arate != 24000 && e.arate != 16000 && e.arate != 12000 && e.arate != 8000) ||
            e.ach > 2) {
            fprintf(stderr, "argenc: %s: Opus takes 8, 12, 16, 24 or 48 kHz and 1-2 channels (got %d Hz, %d ch); "
                    "resample first, e.g. ffmpeg -i IN -ar 48000 -ac 2 OUT.wav\n", audio_in, e.arate, e.ach);
            goto out;
        }
        int oerr;
        e.opus = opus_encoder_create(e.arate, e.ach, OPUS_APPLICATION_AUDIO, &oerr);
        e.aframe = e.arate / 50;
        e.apcm = malloc((size_t)e.aframe * e.ach * sizeof(float));
        if (!e.opus || !e.apcm) {
            fprintf(stderr, "argenc: cannot set up the Opus encoder\n");
            goto out;
        }
        opus_encoder_ctl(e.opus, OPUS_SET_BITRATE(abitrate));
        opus_int32 lookahead = 0;
        opus_encoder_ctl(e.opus, OPUS_GET_LOOKAHEAD(&lookahead));
        e.alook = (int)lookahead;
        /* pre-skip is counted at 48 kHz */
        int preskip = (int)((int64_t)lookahead * 48000 / e.arate);
        memcpy(opushead, "OpusHead", 8);
        opushead[8] = 1;
        opushead[9] = (uint8_t)e.ach;
        opushead[10] = (uint8_t)(preskip & 0xFF);
        opushead[11] = (uint8_t)(preskip >> 8);
        for (int i = 0; i < 4; i++)
            opushead[12 + i] = (uint8_t)((uint32_t)e.arate >> (8 * i));
        opushead[16] = opushead[17] = 0; /* output gain */
        opushead[18] = 0;                /* mapping family 0 */
        ai.sample_rate = 48000;
        ai.channels = e.ach;
        ai.codec_delay_ns = (uint64_t)preskip * 1000000000ull / 48000;
        ai.seek_preroll_ns = 80000000ull;
        ai.codec_private = opushead;
        ai.codec_private_size = sizeof(opushead);
    }
    MkvVideoInfo vi = { h->coded_width, h->coded_height, W, H, 0, h->matrix, h->range, h->primaries,
                        h->transfer, seqbuf, sizeof(seqbuf) };
    /* one picture: what ffprobe and mediainfo report as the frame rate (a block
     * carries a latent frame of up to ft pictures; its timestamps say so) */
    vi.default_duration_ns = (1000000000ull * h->fps_den + h->fps_num / 2) / h->fps_num;
    char settings[256];
    snprintf(settings, sizeof(settings), "gop=%d threads=%d model=%.64s", h->gop_latents, threads,
             e.mi->name[0] ? e.mi->name : "(unnamed)");
    char idhex[17];
    snprintf(idhex, sizeof(idhex), "%016" PRIx64, e.mi->id);
    MkvTag tags[4] = { { "ENCODER", "argenc " }, { "ENCODER_SETTINGS", settings },
                       { "ARG_MODEL", e.mi->name[0] ? e.mi->name : "(unnamed)" }, { "ARG_MODEL_ID", idhex } };
    char encname[64];
    snprintf(encname, sizeof(encname), "argenc %s", arg_version());
    tags[0].value = encname;
    if (mkv_writer_open(&e.mkv, out, &vi, audio_in ? &ai : NULL, tags, 4, err, sizeof(err)) < 0) {
        fprintf(stderr, "argenc: %s\n", err);
        goto out;
    }
    Y4mColor col = { matrix, full, Y4M_UPSAMPLE_BILINEAR };
    double t_start = now();
    long frames = 0, total = -1;
    struct stat st;
    if (strcmp(in, "-") && stat(in, &st) == 0 && S_ISREG(st.st_mode) && y4m_frame_size(yi))
        total = (long)(st.st_size / (off_t)(y4m_frame_size(yi) + 6)); /* "FRAME\n" + planes */
    if (max_frames >= 0 && (total < 0 || max_frames < total))
        total = max_frames;
    int tty = !quiet && isatty(2);
    for (;;) {
        if (max_frames >= 0 && frames >= max_frames)
            break;
        int r = y4m_reader_read(yr, &img);
        if (r == 0)
            break;
        if (r < 0) {
            fprintf(stderr, "argenc: %s\n", y4m_reader_error(yr));
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
        frames++;
        e.t_model += now() - t0;
        if ((rc = drain(&e)) < 0)
            goto fail_rc;
        if (tty && frames % 4 == 0) {
            double el = now() - t_start, fps = frames / el;
            fprintf(stderr, "\rframe %ld%s%.0ld  %.2f fps  %.1f kbps", frames, total > 0 ? "/" : "",
                    total > 0 ? total : 0L, fps,
                    e.bytes * 8.0 / 1000.0 / ((double)e.picture * h->fps_den / h->fps_num + 1e-9));
            if (total > frames)
                fprintf(stderr, "  ETA %.0f s ", (total - frames) / fps);
        }
    }
    double t0 = now();
    if ((rc = arg_encoder_flush(e.enc)) < 0)
        goto fail_rc;
    e.t_model += now() - t0;
    if ((rc = drain(&e)) < 0)
        goto fail_rc;
    if (tty)
        fprintf(stderr, "\r%60s\r", "");
    if (frames == 0) {
        fprintf(stderr, "argenc: the input has no pictures\n");
        goto fail;
    }
    if (max_frames >= 0) /* the audio ends with the video */
        e.ain_max = ((uint64_t)frames * (uint64_t)e.arate * h->fps_den + h->fps_num / 2) / h->fps_num;
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
    mkv_writer_set_video_private(e.mkv, seqbuf, sizeof(seqbuf));
    rc = mkv_writer_close(e.mkv, 1);
    e.mkv = NULL;
    if (rc < 0) {
        fprintf(stderr, "argenc: %s\n", err);
        goto out;
    }
    double secs = (double)frames * h->fps_den / h->fps_num, el = now() - t_start;
    double bpt = e.bytes * 8.0 / ((double)e.bits_raw / e.mi->lfq_bits);
    printf("argenc: %s -> %s\n", in, out);
    printf("  model %s (%016" PRIx64 "), %dx%d, %ld pictures, %" PRIu64 " latent frames, GOP %d\n",
           e.mi->name, e.mi->id, W, H, frames, e.latents, h->gop_latents);
    printf("  %" PRIu64 " bytes of video: %.2f kbit/s, %.4f bpp, %.3f bits/token (raw %d, %.1f%% saved)\n",
           e.bytes, e.bytes * 8 / 1000.0 / secs, e.bytes * 8.0 / ((double)frames * W * H), bpt,
           e.mi->lfq_bits, 100.0 * (1 - bpt / e.mi->lfq_bits));
    printf("  %.2f fps (%.1f s; tokenizer %.1f s, entropy coder %.2f s)\n", frames / el, el, e.t_model,
           e.t_entropy);
    printf("  backend %s\n", arg_encoder_backend(e.enc));
    if (e.opus)
        printf("  audio: %" PRIu64 " samples at %d Hz, %d ch -> Opus %.1f kbit/s\n", e.ain, e.arate, e.ach,
               e.abytes * 8 / 1000.0 / ((double)e.ain / e.arate + 1e-9));
    printf("tokens %016" PRIx64 "\n", (uint64_t)XXH3_64bits_digest(e.hash));
    if (stats) {
        char tmp[1100];
        snprintf(tmp, sizeof(tmp), "%.1000s.tmp.XXXXXX", stats);
        int fd = mkstemp(tmp);
        if (fd >= 0) { /* mkstemp makes the file 0600: give it the usual 0666 & ~umask */
            mode_t mask = umask(0);
            umask(mask);
            (void)fchmod(fd, 0666 & ~mask);
        }
        FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
        if (!f)
            fprintf(stderr, "argenc: cannot write %s\n", stats);
        if (f) {
            fprintf(f,
                    "{\"input\": \"%s\", \"output\": \"%s\", \"model\": \"%s\", \"model_id\": \"%016" PRIx64 "\",\n"
                    " \"width\": %d, \"height\": %d, \"pictures\": %ld, \"latent_frames\": %" PRIu64 ",\n"
                    " \"gop_latents\": %d, \"video_bytes\": %" PRIu64 ", \"kbps\": %.3f, \"bpp\": %.6f,\n"
                    " \"bits_per_token\": %.4f, \"raw_bits_per_token\": %d, \"fps\": %.3f}\n",
                    in, out, e.mi->name, e.mi->id, W, H, frames, e.latents, h->gop_latents, e.bytes,
                    e.bytes * 8 / 1000.0 / secs, e.bytes * 8.0 / ((double)frames * W * H), bpt,
                    e.mi->lfq_bits, frames / el);
            if (fclose(f) != 0 || rename(tmp, stats) != 0) {
                fprintf(stderr, "argenc: cannot write %s\n", stats);
                unlink(tmp);
            }
        }
    }
    ret = 0;
    goto out;
fail_rc:
    fprintf(stderr, "argenc: encoding failed: %s\n", strerror(rc < 0 ? -rc : rc));
fail:
    if (e.mkv)
        mkv_writer_close(e.mkv, 0);
    e.mkv = NULL;
out:
    if (e.mkv)
        mkv_writer_close(e.mkv, 0);
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
