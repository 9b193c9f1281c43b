/*
 * argtok: run a Y4M clip through the ARG tokenizer and back, and measure.
 *
 * Reads pictures, converts them to float RGB in [-1, 1], encodes them into
 * latent frames of tokens, decodes every latent frame back into pictures,
 * and reports the raw token rate, the encoder's and decoder's speed and the
 * PSNR of the reconstruction against the input. Optionally writes the
 * reconstruction (Y4M) and the tokens (raw little-endian uint32).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* clock_gettime */
#endif

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <arg/arg.h>

#include "cli.h"
#include "metrics.h"
#include "y4m.h"

/* ---------------------------------------------------------------- options */

typedef struct Options {
    const char *input;
    const char *model;
    const char *output;
    const char *tokens_out;
    const char *stats;
    int64_t max_frames;     /* 0: all */
    int threads;            /* 0: one per core */
    int gemm;               /* enum ArgGemm */
    int backend;            /* enum ArgBackend */
    int device;             /* ArgSettings.device */
    int matrix;             /* enum Y4mMatrix */
    int range;              /* -1: from the input (XCOLORRANGE), else limited */
    int upsample;           /* enum Y4mUpsample */
    int quiet;
} Options;

static Options g_opt = {
    .gemm = ARG_GEMM_AUTO,
    .backend = ARG_BACKEND_AUTO,
    .matrix = Y4M_MATRIX_BT601,
    .range = -1,
    .upsample = Y4M_UPSAMPLE_BILINEAR,
};

static const CliChoice matrix_choices[] = {
    { "bt601", Y4M_MATRIX_BT601 }, { "bt709", Y4M_MATRIX_BT709 }, { NULL, 0 },
};
static const CliChoice range_choices[] = {
    { "auto", -1 }, { "limited", 0 }, { "full", 1 }, { NULL, 0 },
};
static const CliChoice upsample_choices[] = {
    { "bilinear", Y4M_UPSAMPLE_BILINEAR }, { "nearest", Y4M_UPSAMPLE_NEAREST }, { NULL, 0 },
};

static const CliOpt opts[] = {
    { .names = "-i --input", .kind = CLI_STRING, .dest = &g_opt.input, .metavar = "FILE", .flags = CLI_REQUIRED,
      .help = "input Y4M, 8-bit 4:2:0, 4:2:2 or 4:4:4 (\"-\" = stdin)" },
    { .names = "-m --model", .kind = CLI_STRING, .dest = &g_opt.model, .metavar = "FILE", .flags = CLI_REQUIRED,
      .help = "model weights (.safetensors)" },
    CLI_OPT_STRING("-o --output", &g_opt.output, "FILE",
                   "write the reconstruction as Y4M (\"-\" = stdout, the report\n"
                   "then goes to stderr); 4:2:0 input gives 420jpeg output\n"
                   "(box-averaged chroma)"),
    CLI_OPT_INT64("--frames -frames:v", &g_opt.max_frames, 1, INT64_MAX, "N",
                  "process at most N pictures (default: all)"),
    CLI_OPT_INT("--threads", &g_opt.threads, 0, 1024, "N",
                "worker threads (default 0: one per online core)"),
    CLI_OPT_GEMM("--gemm", &g_opt.gemm),
    CLI_OPT_BACKEND(&g_opt.backend),
    CLI_OPT_DEVICE(&g_opt.device),
    CLI_OPT_STRING("--tokens-out", &g_opt.tokens_out, "FILE",
                   "write the tokens: for each latent frame, tokens_h x\n"
                   "tokens_w little-endian uint32 values, row-major"),
    CLI_OPT_STRING("--stats", &g_opt.stats, "FILE", "write the report as JSON (\"-\" = stdout)"),
    CLI_OPT_ENUM("--matrix", &g_opt.matrix, matrix_choices, "M", "YUV matrix: bt601 (default) or bt709"),
    CLI_OPT_ENUM("--range", &g_opt.range, range_choices, "R",
                 "auto (default: the input's XCOLORRANGE, else\nlimited), limited or full"),
    CLI_OPT_ENUM("--upsample", &g_opt.upsample, upsample_choices, "U",
                 "chroma upsampling: bilinear (default) or nearest"),
    CLI_OPT_OVERWRITE_YES,
    CLI_OPT_OVERWRITE_NO,
    CLI_OPT_FLAG("--quiet", &cli_quiet, "no progress line and no notes (results still printed)"),
    CLI_OPT_END,
};

/* Short spellings that mean something else in the other tools or in ffmpeg. */
static const CliHint hints[] = {
    { "-f", "use --frames N (-f is a format in ffmpeg)" },
    { "-t", "use --threads N (-t is a duration in argenc's and ffmpeg's sense)" },
    { "-g", "use --gemm KIND (-g is the GOP length in argenc)" },
    { "-q", "use --quiet (-q picks an operating point in argenc)" },
    CLI_HINT_END,
};

static const CliTool tool = {
    .name = "argtok",
    .synopsis = "-i INPUT.y4m -m MODEL.safetensors [options]",
    .about = "Encode a Y4M clip into ARG tokens, decode them again, and report the raw\n"
             "token rate, encode/decode speed and PSNR of the reconstruction.",
    .opts = opts,
    .hints = hints,
    .epilog =
        "PSNR-Y/U/V compare the input planes with the reconstruction converted back\n"
        "to the input's YUV layout; PSNR-RGB compares the input converted to RGB with\n"
        "the decoder's RGB, both quantised to 8 bits. Over the clip, PSNR is that of\n"
        "the total mean squared error (100 dB when identical).\n"
        "The token rate is the raw one, before entropy coding:\n"
        "  bpp = lfq_bits * latent frames * tokens per latent frame / (W * H * pictures)\n"
        "The first SIGINT/SIGTERM stops reading and finishes the pictures read (the\n"
        "outputs and the report cover them; exit status 130/143); a second one stops\n"
        "at once and removes the unfinished outputs.\n",
};

/* Parse argv into g_opt; exits after --help/--version (0) or on an error (2). */
static void parse_options(int argc, char **argv)
{
    cli_parse_or_exit(&tool, argc, argv);
    g_opt.quiet = cli_quiet;
    int on_stdout = 0;
    const char *outs[3] = { g_opt.output, g_opt.tokens_out, g_opt.stats };
    for (int i = 0; i < 3; i++)
        on_stdout += outs[i] && !strcmp(outs[i], "-");
    if (on_stdout > 1) {
        cli_error("only one of -o, --tokens-out and --stats can be \"-\" (standard output)");
        exit(CLI_EXIT_USAGE);
    }
    /* refuse existing outputs before the work */
    for (int i = 0; i < 3; i++)
        if (outs[i] && cli_check_overwrite(outs[i]) < 0)
            exit(CLI_EXIT_FAIL);
}

/* ---------------------------------------------------------------- context */

/* An input picture waiting for its reconstruction. */
typedef struct Pending {
    Y4mImage yuv;       /* as read */
    uint8_t *rgb8;      /* the input in RGB, 8-bit, 3 planes of W*H */
} Pending;

typedef struct Ctx {
    const Options *opt;
    const ArgModelInfo *mi;
    ArgEncoder *enc;
    ArgDecoder *dec;
    Y4mInfo in_info;
    Y4mColor color;
    int width, height;

    /* FIFO of pictures sent to the encoder, not yet decoded */
    Pending **queue;
    size_t q_head, q_len, q_cap;

    float *rgb_in;          /* picture sent to the encoder */
    Y4mImage recon;         /* reconstruction in YUV */
    uint8_t *rgb8_out;      /* reconstruction in RGB, 8-bit */
    uint32_t *tokbuf;       /* copy of the latest latent frame */
    size_t tokbuf_len;
    int tok_w, tok_h;

    CliOut out;             /* -o */
    Y4mWriter *writer;      /* on out.f */
    CliOut tokens;          /* --tokens-out */

    int64_t pictures_in, pictures_out, latent_frames, pictures_covered;
    double t_enc, t_dec;    /* seconds inside encoder / decoder calls */
    double t_start;
    int64_t frames_expected;  /* for the progress line, 0 if unknown */
    CliProgress progress;

    PsnrAcc psnr_yuv, psnr_rgb;
} Ctx;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int fail(int ret, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(int ret, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cli_verror(fmt, ap);
    va_end(ap);
    return ret < 0 ? ret : -EINVAL;
}

static void progress_line(Ctx *c)
{
    cli_progress_update(&c->progress, c->pictures_in, "decoded %" PRId64 ", latent frames %" PRId64
                        ", enc %.2f fps, dec %.2f fps", c->pictures_out, c->latent_frames,
                        c->t_enc > 0 ? (double)c->pictures_in / c->t_enc : 0.0,
                        c->t_dec > 0 ? (double)c->pictures_out / c->t_dec : 0.0);
}

static void pending_free(Pending *p)
{
    if (!p)
        return;
    y4m_image_free(&p->yuv);
    free(p->rgb8);
    free(p);
}

static int queue_push(Ctx *c, Pending *p)
{
    if (c->q_len == c->q_cap) {
        size_t ncap = c->q_cap ? c->q_cap * 2 : 16;
        Pending **nq = malloc(ncap * sizeof(*nq));
        if (!nq)
            return -ENOMEM;
        for (size_t i = 0; i < c->q_len; i++)
            nq[i] = c->queue[(c->q_head + i) % c->q_cap];
        free(c->queue);
        c->queue = nq;
        c->q_cap = ncap;
        c->q_head = 0;
    }
    c->queue[(c->q_head + c->q_len) % c->q_cap] = p;
    c->q_len++;
    return 0;
}

static Pending *queue_pop(Ctx *c)
{
    if (!c->q_len)
        return NULL;
    Pending *p = c->queue[c->q_head];
    c->q_head = (c->q_head + 1) % c->q_cap;
    c->q_len--;
    return p;
}

static void rgb_to_u8(const float *rgb, ptrdiff_t stride, ptrdiff_t plane_stride,
                      int w, int h, uint8_t *out)
{
    for (int p = 0; p < 3; p++)
        for (int y = 0; y < h; y++) {
            const float *row = rgb + p * plane_stride + (ptrdiff_t)y * stride;
            uint8_t *o = out + ((size_t)p * (size_t)h + (size_t)y) * (size_t)w;
            for (int x = 0; x < w; x++)
                o[x] = y4m_float_to_u8(row[x]);
        }
}

/* ---------------------------------------------------------------- decoder */

static int handle_picture(Ctx *c, const ArgPicture *pic)
{
    if (pic->width != c->width || pic->height != c->height || !pic->data)
        return fail(-EPROTO, "decoder returned a %dx%d picture, expected %dx%d",
                    pic->width, pic->height, c->width, c->height);
    Pending *p = queue_pop(c);
    if (!p)
        return fail(-EPROTO, "decoder returned more pictures (%" PRId64 ") than were encoded",
                    c->pictures_out + 1);
    int ret = y4m_rgb_to_yuv(pic->data, pic->stride, pic->plane_stride, &c->color, &c->recon);
    if (ret < 0) {
        pending_free(p);
        return fail(ret, "colour conversion of picture %" PRId64 " failed", c->pictures_out);
    }
    for (int pl = 0; pl < 3; pl++)
        psnr_acc_add(&c->psnr_yuv, pl,
                     metrics_sse_u8(p->yuv.data[pl], p->yuv.stride[pl], c->recon.data[pl],
                                    c->recon.stride[pl], p->yuv.w[pl], p->yuv.h[pl]),
                     (uint64_t)p->yuv.w[pl] * (uint64_t)p->yuv.h[pl]);
    rgb_to_u8(pic->data, pic->stride, pic->plane_stride, c->width, c->height, c->rgb8_out);
    const size_t plane = (size_t)c->width * (size_t)c->height;
    for (int pl = 0; pl < 3; pl++)
        psnr_acc_add(&c->psnr_rgb, pl,
                     metrics_sse_u8(p->rgb8 + pl * plane, c->width, c->rgb8_out + pl * plane,
                                    c->width, c->width, c->height),
                     plane);
    pending_free(p);
    if (c->writer) {
        ret = y4m_writer_write(c->writer, &c->recon);
        if (ret < 0)
            return fail(ret, "%s", y4m_writer_error(c->writer));
    }
    c->pictures_out++;
    progress_line(c);
    return 0;
}

/* Fetch every decoded picture that is ready; returns how many. */
static int drain_decoder(Ctx *c)
{
    int n = 0;
    for (;;) {
        ArgPicture pic;
        memset(&pic, 0, sizeof(pic));
        double t0 = now();
        int ret = arg_decoder_get_picture(c->dec, &pic);
        c->t_dec += now() - t0;
        if (ret == -EAGAIN)
            return n;
        if (ret < 0)
            return fail(ret, "arg_decoder_get_picture: %s", strerror(-ret));
        ret = handle_picture(c, &pic);
        if (ret < 0)
            return ret;
        n++;
    }
}

static int send_to_decoder(Ctx *c, const ArgTokens *tok)
{
    for (;;) {
        double t0 = now();
        int ret = arg_decoder_send_tokens(c->dec, tok);
        c->t_dec += now() - t0;
        if (ret == -EAGAIN) {
            int n = drain_decoder(c);
            if (n < 0)
                return n;
            if (n == 0)
                return fail(-EPROTO, "decoder refused tokens (EAGAIN) with no picture to fetch");
            continue;
        }
        if (ret < 0)
            return fail(ret, "arg_decoder_send_tokens (latent frame %d): %s", tok->index,
                        strerror(-ret));
        break;
    }
    int n = drain_decoder(c);
    return n < 0 ? n : 0;
}

/* ---------------------------------------------------------------- encoder */

static int handle_tokens(Ctx *c, const ArgTokens *tok)
{
    const int ft = c->mi->temporal_factor > 0 ? c->mi->temporal_factor : 1;
    if (!tok->tokens || tok->tokens_w <= 0 || tok->tokens_h <= 0)
        return fail(-EPROTO, "encoder returned an empty token grid (%dx%d)", tok->tokens_w,
                    tok->tokens_h);
    if (tok->n_pictures < 1 || tok->n_pictures > ft)
        return fail(-EPROTO, "encoder returned a latent frame for %d pictures (temporal factor %d)",
                    tok->n_pictures, ft);
    size_t n = (size_t)tok->tokens_w * (size_t)tok->tokens_h;
    if (c->latent_frames == 0) {
        c->tok_w = tok->tokens_w;
        c->tok_h = tok->tokens_h;
        c->tokbuf = malloc(n * sizeof(uint32_t));
        if (!c->tokbuf)
            return fail(-ENOMEM, "out of memory");
        c->tokbuf_len = n;
    } else if (tok->tokens_w != c->tok_w || tok->tokens_h != c->tok_h) {
        return fail(-EPROTO, "token grid changed from %dx%d to %dx%d", c->tok_w, c->tok_h,
                    tok->tokens_w, tok->tokens_h);
    }
    /* The encoder's buffer changes on its next call: keep a copy. */
    memcpy(c->tokbuf, tok->tokens, n * sizeof(uint32_t));
    if (c->mi->lfq_bits > 0 && c->mi->lfq_bits < 32) {
        const uint32_t limit = (uint32_t)1 << c->mi->lfq_bits;
        for (size_t i = 0; i < n; i++)
            if (c->tokbuf[i] >= limit)
                return fail(-EPROTO, "latent frame %d: token %zu = %" PRIu32 " exceeds %d bits",
                            tok->index, i, c->tokbuf[i], c->mi->lfq_bits);
    }
    if (c->tokens.f) {
        uint8_t le[4096];
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            uint32_t v = c->tokbuf[i];
            le[k++] = (uint8_t)v;
            le[k++] = (uint8_t)(v >> 8);
            le[k++] = (uint8_t)(v >> 16);
            le[k++] = (uint8_t)(v >> 24);
            if (k == sizeof(le) || i + 1 == n) {
                if (fwrite(le, 1, k, c->tokens.f) != k)
                    return fail(-EIO, "cannot write '%s': %s", c->opt->tokens_out, strerror(errno));
                k = 0;
            }
        }
    }
    c->latent_frames++;
    c->pictures_covered += tok->n_pictures;

    ArgTokens dt;
    memset(&dt, 0, sizeof(dt));
    dt.tokens = c->tokbuf;
    dt.latent = NULL;
    dt.tokens_w = tok->tokens_w;
    dt.tokens_h = tok->tokens_h;
    dt.index = tok->index;
    dt.n_pictures = tok->n_pictures;
    return send_to_decoder(c, &dt);
}

/* Fetch every latent frame that is ready; returns how many. */
static int drain_encoder(Ctx *c)
{
    int n = 0;
    for (;;) {
        ArgTokens tok;
        memset(&tok, 0, sizeof(tok));
        double t0 = now();
        int ret = arg_encoder_get_tokens(c->enc, &tok);
        c->t_enc += now() - t0;
        if (ret == -EAGAIN)
            return n;
        if (ret < 0)
            return fail(ret, "arg_encoder_get_tokens: %s", strerror(-ret));
        ret = handle_tokens(c, &tok);
        if (ret < 0)
            return ret;
        n++;
    }
}

static int send_to_encoder(Ctx *c, const ArgPicture *pic)
{
    for (;;) {
        double t0 = now();
        int ret = arg_encoder_send_picture(c->enc, pic);
        c->t_enc += now() - t0;
        if (ret == -EAGAIN) {
            int n = drain_encoder(c);
            if (n < 0)
                return n;
            if (n == 0)
                return fail(-EPROTO, "encoder refused a picture (EAGAIN) with no tokens to fetch");
            continue;
        }
        if (ret < 0)
            return fail(ret, "arg_encoder_send_picture (picture %" PRId64 "): %s",
                        c->pictures_in, strerror(-ret));
        break;
    }
    int n = drain_encoder(c);
    return n < 0 ? n : 0;
}

static int flush_all(Ctx *c)
{
    for (;;) {
        double t0 = now();
        int ret = arg_encoder_flush(c->enc);
        c->t_enc += now() - t0;
        if (ret == -EAGAIN) {
            int n = drain_encoder(c);
            if (n < 0)
                return n;
            if (n == 0)
                return fail(-EPROTO, "arg_encoder_flush: EAGAIN with no tokens to fetch");
            continue;
        }
        if (ret < 0)
            return fail(ret, "arg_encoder_flush: %s", strerror(-ret));
        break;
    }
    int n = drain_encoder(c);
    if (n < 0)
        return n;
    for (;;) {
        double t0 = now();
        int ret = arg_decoder_flush(c->dec);
        c->t_dec += now() - t0;
        if (ret == -EAGAIN) {
            n = drain_decoder(c);
            if (n < 0)
                return n;
            if (n == 0)
                return fail(-EPROTO, "arg_decoder_flush: EAGAIN with no picture to fetch");
            continue;
        }
        if (ret < 0)
            return fail(ret, "arg_decoder_flush: %s", strerror(-ret));
        break;
    }
    n = drain_decoder(c);
    return n < 0 ? n : 0;
}

/* ---------------------------------------------------------------- main */

static const char *gemm_name(int g)
{
    switch (g) {
    case ARG_GEMM_AUTO: return "auto";
    case ARG_GEMM_REFERENCE: return "reference";
    case ARG_GEMM_BUILTIN: return "builtin";
    case ARG_GEMM_BLAS: return "blas";
    case ARG_GEMM_INT8: return "int8";
    default: return "?";
    }
}

static void print_count(FILE *f, const char *label, int64_t v)
{
    if (v >= 1000000)
        fprintf(f, "%s %.2fM", label, (double)v / 1e6);
    else if (v >= 1000)
        fprintf(f, "%s %.1fk", label, (double)v / 1e3);
    else
        fprintf(f, "%s %" PRId64, label, v);
}

static int run(const Options *o)
{
    Ctx ctx;
    Ctx *c = &ctx;
    memset(c, 0, sizeof(*c));
    c->opt = o;
    psnr_acc_init(&c->psnr_yuv);
    psnr_acc_init(&c->psnr_rgb);

    ArgModel *model = NULL;
    Y4mReader *reader = NULL;
    Pending *cur = NULL;
    char err[512] = "";
    int ret;

    ret = y4m_reader_open(&reader, o->input, err, sizeof(err));
    if (ret < 0) {
        fail(ret, "%s", err);
        goto done;
    }
    c->in_info = *y4m_reader_info(reader);
    c->width = c->in_info.width;
    c->height = c->in_info.height;
    c->color.matrix = o->matrix;
    c->color.upsample = o->upsample;
    c->color.full_range = o->range >= 0 ? o->range : c->in_info.range == Y4M_RANGE_FULL;

    ret = arg_model_load(&model, o->model, err, sizeof(err));
    if (ret < 0) {
        fail(ret, "cannot load model %s: %s", o->model, err[0] ? err : strerror(-ret));
        goto done;
    }
    c->mi = arg_model_info(model);
    if (!c->mi) {
        ret = fail(-EINVAL, "model %s: no model information", o->model);
        goto done;
    }

    ArgSettings s;
    arg_default_settings(&s);
    s.n_threads = o->threads;
    s.backend = o->backend;
    s.device = o->device;
    s.gemm = o->gemm;
    ret = arg_encoder_open(&c->enc, model, &s, c->width, c->height);
    if (ret < 0) {
        fail(ret, "cannot open the encoder (%dx%d, %d threads, gemm %s): %s", c->width, c->height,
             o->threads, gemm_name(o->gemm), strerror(-ret));
        goto done;
    }
    ret = arg_decoder_open(&c->dec, model, &s, c->width, c->height);
    if (ret < 0) {
        fail(ret, "cannot open the decoder (%dx%d, %d threads, gemm %s): %s", c->width, c->height,
             o->threads, gemm_name(o->gemm), strerror(-ret));
        goto done;
    }

    /* Output chroma: box-averaged 4:2:0 is centred (420jpeg). */
    int out_chroma = c->in_info.chroma;
    if (out_chroma == Y4M_C420MPEG2 || out_chroma == Y4M_C420PALDV)
        out_chroma = Y4M_C420JPEG;
    ret = y4m_image_alloc(&c->recon, c->width, c->height, out_chroma);
    if (ret < 0) {
        fail(ret, "out of memory");
        goto done;
    }
    const size_t plane = (size_t)c->width * (size_t)c->height;
    c->rgb_in = malloc(3 * plane * sizeof(float));
    c->rgb8_out = malloc(3 * plane);
    if (!c->rgb_in || !c->rgb8_out) {
        ret = fail(-ENOMEM, "out of memory");
        goto done;
    }
    if (o->output) {
        Y4mInfo oi = c->in_info;
        oi.chroma = out_chroma;
        oi.range = c->color.full_range ? Y4M_RANGE_FULL : Y4M_RANGE_LIMITED;
        if ((ret = cli_out_open(&c->out, o->output)) < 0)
            goto done;
        ret = y4m_writer_open_stream(&c->writer, c->out.f, o->output, &oi, err, sizeof(err));
        if (ret < 0) {
            fail(ret, "%s", err);
            goto done;
        }
    }
    if (o->tokens_out && (ret = cli_out_open(&c->tokens, o->tokens_out)) < 0)
        goto done;

    if (!o->quiet && isatty(STDERR_FILENO) && strcmp(o->input, "-") != 0) {
        struct stat st;
        size_t fs = y4m_frame_size(&c->in_info) + 6;
        if (stat(o->input, &st) == 0 && S_ISREG(st.st_mode) && fs > 6)
            c->frames_expected = (int64_t)((size_t)st.st_size / fs);
        if (o->max_frames && (c->frames_expected == 0 || o->max_frames < c->frames_expected))
            c->frames_expected = o->max_frames;
    }
    cli_progress_start(&c->progress, c->frames_expected, 0);
    c->t_start = now();

    ArgPicture pic;
    memset(&pic, 0, sizeof(pic));
    pic.data = c->rgb_in;
    pic.width = c->width;
    pic.height = c->height;
    pic.stride = c->width;
    pic.plane_stride = (ptrdiff_t)plane;

    while (!o->max_frames || c->pictures_in < o->max_frames) {
        if (cli_interrupted())
            break; /* finish the pictures read */
        cur = calloc(1, sizeof(*cur));
        if (!cur || (ret = y4m_image_alloc(&cur->yuv, c->width, c->height, c->in_info.chroma)) < 0 ||
            !(cur->rgb8 = malloc(3 * plane))) {
            ret = fail(-ENOMEM, "out of memory");
            goto done;
        }
        ret = y4m_reader_read(reader, &cur->yuv);
        if (ret == 0)
            break;
        if (ret < 0) {
            fail(ret, "%s", y4m_reader_error(reader));
            goto done;
        }
        ret = y4m_yuv_to_rgb(&cur->yuv, &c->color, pic.data, pic.stride, pic.plane_stride);
        if (ret < 0) {
            fail(ret, "colour conversion failed");
            goto done;
        }
        rgb_to_u8(pic.data, pic.stride, pic.plane_stride, c->width, c->height, cur->rgb8);
        ret = queue_push(c, cur);
        if (ret < 0) {
            fail(ret, "out of memory");
            goto done;
        }
        cur = NULL;
        c->pictures_in++;
        ret = send_to_encoder(c, &pic);
        if (ret < 0)
            goto done;
        progress_line(c);
    }
    pending_free(cur);
    cur = NULL;
    if (c->pictures_in == 0) {
        ret = fail(-EINVAL, "%s: no frames", o->input);
        goto done;
    }
    ret = flush_all(c);
    if (ret < 0)
        goto done;
    cli_progress_end(&c->progress);
    double t_total = now() - c->t_start;

    if (c->pictures_out != c->pictures_in || c->q_len) {
        ret = fail(-EPROTO, "decoder returned %" PRId64 " pictures for %" PRId64 " encoded",
                   c->pictures_out, c->pictures_in);
        goto done;
    }
    if (c->pictures_covered != c->pictures_in)
        cli_info("note: latent frames cover %" PRId64 " pictures, %" PRId64 " sent",
                 c->pictures_covered, c->pictures_in);
    if (cli_interrupted())
        cli_info("interrupted: the outputs and the report cover the first %" PRId64 " pictures",
                 c->pictures_in);

    if (c->tokens.f && (ret = cli_out_commit(&c->tokens)) < 0)
        goto done;
    if (c->writer) {
        Y4mWriter *w = c->writer;
        c->writer = NULL;
        ret = y4m_writer_close(w, err, sizeof(err));
        if (ret < 0) {
            fail(ret, "%s", err);
            goto done;
        }
        if ((ret = cli_out_commit(&c->out)) < 0)
            goto done;
    }

    /* ---- report */
    const ArgModelInfo *mi = c->mi;
    const double fps = (double)c->in_info.fps_num / (double)c->in_info.fps_den;
    const double tokens_per_frame = (double)c->tok_w * (double)c->tok_h;
    const double bits = (double)mi->lfq_bits * (double)c->latent_frames * tokens_per_frame;
    const double bpp = bits / ((double)c->width * (double)c->height * (double)c->pictures_in);
    const double seconds = (double)c->pictures_in / fps;
    const double enc_fps = c->t_enc > 0 ? (double)c->pictures_in / c->t_enc : 0.0;
    const double dec_fps = c->t_dec > 0 ? (double)c->pictures_out / c->t_dec : 0.0;
    if (o->stats) {
        CliOut so;
        if ((ret = cli_out_open(&so, o->stats)) < 0)
            goto done;
        CliJson j;
        cli_json_init(&j, so.f, 1);
        cli_json_object_begin(&j);
        cli_json_key(&j, "tool");
        cli_json_string(&j, "argtok");
        cli_json_key(&j, "libarg");
        cli_json_string(&j, arg_version());
        cli_json_key(&j, "model");
        cli_json_string(&j, o->model);
        cli_json_key(&j, "model_name");
        cli_json_string(&j, mi->name);
        char id[32];
        snprintf(id, sizeof(id), "%016" PRIx64, mi->id);
        cli_json_key(&j, "model_id");
        cli_json_string(&j, id);
        cli_json_key(&j, "input");
        cli_json_string(&j, o->input);
        cli_json_key(&j, "width");
        cli_json_int(&j, c->width);
        cli_json_key(&j, "height");
        cli_json_int(&j, c->height);
        cli_json_key(&j, "fps");
        cli_json_double(&j, fps, "%.6f");
        cli_json_key(&j, "pictures");
        cli_json_int(&j, c->pictures_in);
        cli_json_key(&j, "latent_frames");
        cli_json_int(&j, c->latent_frames);
        cli_json_key(&j, "tokens_w");
        cli_json_int(&j, c->tok_w);
        cli_json_key(&j, "tokens_h");
        cli_json_int(&j, c->tok_h);
        cli_json_key(&j, "lfq_bits");
        cli_json_int(&j, mi->lfq_bits);
        cli_json_key(&j, "bpp_raw");
        cli_json_double(&j, bpp, "%.6f");
        cli_json_key(&j, "kbps_raw");
        cli_json_double(&j, bits / seconds / 1000.0, "%.3f");
        cli_json_key(&j, "encode_fps");
        cli_json_double(&j, enc_fps, "%.3f");
        cli_json_key(&j, "decode_fps");
        cli_json_double(&j, dec_fps, "%.3f");
        cli_json_key(&j, "seconds");
        cli_json_double(&j, t_total, "%.3f");
        cli_json_key(&j, "threads");
        cli_json_int(&j, o->threads);
        cli_json_key(&j, "gemm");
        cli_json_string(&j, gemm_name(o->gemm));
        cli_json_key(&j, "encoder_backend");
        cli_json_string(&j, arg_encoder_backend(c->enc));
        cli_json_key(&j, "decoder_backend");
        cli_json_string(&j, arg_decoder_backend(c->dec));
        static const char *const psnr_keys[3] = { "psnr_y", "psnr_u", "psnr_v" };
        for (int p = 0; p < 3; p++) {
            cli_json_key(&j, psnr_keys[p]);
            cli_json_double(&j, psnr_acc_plane(&c->psnr_yuv, p), "%.6f");
        }
        cli_json_key(&j, "psnr_rgb");
        cli_json_double(&j, psnr_acc_all(&c->psnr_rgb), "%.6f");
        cli_json_key(&j, "interrupted");
        cli_json_bool(&j, cli_interrupted() != 0);
        cli_json_object_end(&j);
        cli_json_finish(&j);
        if ((ret = cli_out_commit(&so)) < 0)
            goto done;
    }
    /* The report goes to stdout, unless an output took it. */
    FILE *rep = cli_report_stream();
    static const char *const csn[] = { "4:2:0 (420jpeg)", "4:2:0 (420mpeg2)", "4:2:0 (420paldv)",
                                       "4:2:2", "4:4:4" };

    fprintf(rep, "libarg:       %s\n", arg_version());
    fprintf(rep, "model:        %s  id %016" PRIx64 "\n", mi->name[0] ? mi->name : "(unnamed)", mi->id);
    fprintf(rep, "              lfq_bits %d, temporal factor %d, spatial factor %d%s,", mi->lfq_bits,
           mi->temporal_factor, mi->spatial_factor, mi->clip_frames > 0 ? ", fixed clips" : "");
    print_count(rep, " encoder", mi->enc_params);
    print_count(rep, " + decoder", mi->dec_params);
    fprintf(rep, " parameters\n");
    fprintf(rep, "              %.0f + %.0f multiply-adds per pixel (encoder + decoder)\n",
           mi->enc_macs_per_pixel, mi->dec_macs_per_pixel);
    fprintf(rep, "input:        %s  %dx%d  %s  %.3f fps  %s %s range, %s chroma upsampling\n",
           o->input, c->width, c->height, csn[c->in_info.chroma], fps,
           c->color.matrix == Y4M_MATRIX_BT709 ? "BT.709" : "BT.601",
           c->color.full_range ? "full" : "limited",
           c->color.upsample == Y4M_UPSAMPLE_BILINEAR ? "bilinear" : "nearest");
    fprintf(rep, "frames:       %" PRId64 " pictures -> %" PRId64 " latent frames\n", c->pictures_in,
           c->latent_frames);
    fprintf(rep, "token grid:   %dx%d = %.0f tokens per latent frame, %d bits each\n", c->tok_w, c->tok_h,
           tokens_per_frame, mi->lfq_bits);
    fprintf(rep, "token rate:   %.4f bpp raw, %.1f kbit/s at %.3f fps (before entropy coding)\n", bpp,
           bits / seconds / 1000.0, fps);
    fprintf(rep, "encode:       %.2f fps (%.3f s in the encoder)\n", enc_fps, c->t_enc);
    fprintf(rep, "decode:       %.2f fps (%.3f s in the decoder)\n", dec_fps, c->t_dec);
    fprintf(rep, "settings:     %d threads%s, gemm %s; %.3f s in all\n", o->threads,
           o->threads == 0 ? " (one per core)" : "", gemm_name(o->gemm), t_total);
    fprintf(rep, "backend:      encoder %s; decoder %s\n", arg_encoder_backend(c->enc), arg_decoder_backend(c->dec));
    fprintf(rep, "PSNR:         Y %.3f  U %.3f  V %.3f  RGB %.3f dB\n", psnr_acc_plane(&c->psnr_yuv, 0),
           psnr_acc_plane(&c->psnr_yuv, 1), psnr_acc_plane(&c->psnr_yuv, 2),
           psnr_acc_all(&c->psnr_rgb));
    if (fflush(rep) != 0 || ferror(rep)) {
        ret = fail(-EIO, "cannot write the report: %s", strerror(errno));
        goto done;
    }
    if (o->output && strcmp(o->output, "-") != 0)
        cli_info("wrote %s", o->output);
    ret = 0;

done:
    cli_progress_end(&c->progress);
    pending_free(cur);
    while (c->q_len)
        pending_free(queue_pop(c));
    free(c->queue);
    if (c->writer)
        y4m_writer_abort(c->writer);
    cli_out_abort(&c->out);
    cli_out_abort(&c->tokens);
    if (c->dec)
        arg_decoder_close(c->dec);
    if (c->enc)
        arg_encoder_close(c->enc);
    if (model)
        arg_model_free(model);
    y4m_reader_close(reader);
    y4m_image_free(&c->recon);
    free(c->rgb_in);
    free(c->rgb8_out);
    free(c->tokbuf);
    return ret;
}

int main(int argc, char **argv)
{
    parse_options(argc, argv);
    /* the first SIGINT/SIGTERM finishes the pictures read, a second stops */
    cli_signals_install(1);
    int ret = run(&g_opt);
    if (cli_interrupted())
        return cli_interrupt_status();
    return ret < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
