/*
 * argentropy: measure ARG's token entropy coder on a clip.
 *
 * Encodes a Y4M clip into tokens with a model (as argtok does; only the
 * encoder runs), codes every latent frame with the context model and range
 * coder of codec/src/entropy.c in GOPs (a keyframe, i.e. a model reset and
 * a context reset, every N latent frames), decodes the streams again to
 * check that the tokens come back exactly, and reports:
 *   raw bits per token (the model's lfq_bits), coded bits per token, the
 *   saving against raw, the order-0 empirical entropy of the tokens over
 *   the clip, and the size of `zstd -19` on the tokens packed at lfq_bits
 *   bits each.
 * Instead of a model, --tokens reads a token file as argtok --tokens-out
 * writes it (little-endian uint32, latent frame after latent frame).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arg/arg.h>

#include "cli.h"
#include "y4m.h"

#define EXIT_USAGE 2

typedef struct Options {
    const char *input, *model, *tokens_in, *tokens_out;
    int64_t max_frames;
    int gop;            /* latent frames per GOP */
    int threads;
    int tw, th, bits;   /* for --tokens */
    unsigned rate_max;
    int per_bit;
    int quiet;
} Options;

static Options opt = { .gop = 8, .rate_max = ARG_CODER_RATE_MAX_DEFAULT, .max_frames = 0 };
static int opt_rate = ARG_CODER_RATE_MAX_DEFAULT;
static int64_t opt_frames = -1;

static int parse_grid(const char *arg, void *dest)
{
    (void)dest;
    int w, h, n = 0;
    if (sscanf(arg, "%dx%d%n", &w, &h, &n) != 2 || arg[n] || w < 1 || h < 1 || w > ARG_TOKEN_MAX_DIM ||
        h > ARG_TOKEN_MAX_DIM || (size_t)w * (size_t)h > ARG_TOKEN_MAX_COUNT)
        return -EINVAL;
    opt.tw = w;
    opt.th = h;
    return 0;
}

static CliOpt opts[] = {
    CLI_OPT_STRING("-i --input", &opt.input, "FILE", "input Y4M (8-bit 4:2:0, 4:2:2, 4:4:4; '-' = stdin)"),
    CLI_OPT_STRING("-m --model", &opt.model, "FILE", "model weights (.safetensors)"),
    CLI_OPT_INT64("-frames:v --frames", &opt_frames, 1, INT64_MAX, "N",
                  "at most N pictures (or latent frames with --tokens)"),
    CLI_OPT_INT("-g --gop", &opt.gop, 1, 1 << 20, "N", "latent frames per GOP (default 8)"),
    CLI_OPT_INT("--threads", &opt.threads, 0, 256, "N", "encoder threads (default 0: one per core)"),
    CLI_OPT_INT("--rate-max", &opt_rate, 1, ARG_CODER_RATE_MAX_LIMIT, "R",
                "adaptation limit of the contexts (default 5)"),
    CLI_OPT_STRING("--tokens", &opt.tokens_in, "FILE", "read tokens (argtok --tokens-out format) instead"),
    CLI_OPT_CUSTOM("--grid", &opt.tw, parse_grid, "WxH tokens, e.g. 40x23", "WxH", "token grid of --tokens"),
    CLI_OPT_INT("--bits", &opt.bits, 1, ARG_TOKEN_MAX_BITS, "B", "bits per token of --tokens"),
    CLI_OPT_STRING("--tokens-out", &opt.tokens_out, "FILE", "write the tokens (little-endian uint32)"),
    CLI_OPT_FLAG("--per-bit", &opt.per_bit, "also report coded bits per bit index"),
    CLI_OPT_FLAG("--quiet", &opt.quiet, "no notes"),
    CLI_OPT_END,
};

static const CliHint hints[] = {
    { "-f", "use --frames N" },
    { "-t", "use --threads N (-t is a duration in ffmpeg)" },
    { "-q", "use --quiet (-q picks an operating point in argenc)" },
    CLI_HINT_END,
};

static const CliTool tool = {
    .name = "argentropy",
    .synopsis = "-i INPUT.y4m -m MODEL.safetensors [options]\n"
                "       argentropy --tokens FILE --grid WxH --bits B [options]",
    .about = "Code a clip's tokens with ARG's entropy coder and report bits per token\n"
             "against raw, order-0 entropy and zstd -19 of the packed tokens.",
    .opts = opts,
    .hints = hints,
};

static int parse_options(int argc, char **argv, Options *o)
{
    cli_parse_or_exit(&tool, argc, argv);
    opt.rate_max = (unsigned)opt_rate;
    opt.max_frames = opt_frames > 0 ? opt_frames : 0;
    if (opt.tokens_in) {
        if (!opt.tw || !opt.bits) {
            cli_error("--tokens needs --grid WxH and --bits B");
            return -1;
        }
    } else if (!opt.input || !opt.model) {
        cli_error("%s is required (try --help)", !opt.input ? "-i INPUT.y4m" : "-m MODEL.safetensors");
        return -1;
    }
    *o = opt;
    return 0;
}

/* ---------------------------------------------------------------- state */

typedef struct Stats {
    const Options *o;
    int tw, th, bits;
    size_t n;                   /* tokens per latent frame */
    ArgTokenCoder *enc, *dec;
    uint32_t *prev;             /* previous latent frame of the GOP */
    uint32_t *dtok;             /* decoded tokens */
    int gop;                    /* latent frames per GOP */
    int gop_pos;                /* latent frames coded in this GOP */
    int64_t frames, key_frames;
    uint64_t bytes, key_bytes;
    uint32_t *all;              /* every token of the clip */
    size_t all_len, all_cap;
    uint64_t *bit_cost;         /* per bit index, 1/8 bits (--per-bit) */
    FILE *tokens_out;
} Stats;

static int fail(int ret, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int ret, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "argentropy: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return ret < 0 ? ret : -EINVAL;
}

static int stats_setup(Stats *s, int tw, int th, int bits)
{
    s->tw = tw;
    s->th = th;
    s->bits = bits;
    s->n = (size_t)tw * (size_t)th;
    int r;
    if ((r = arg_token_coder_open(&s->enc, bits, tw, th, (int)s->o->rate_max)) < 0 ||
        (r = arg_token_coder_open(&s->dec, bits, tw, th, (int)s->o->rate_max)) < 0)
        return fail(r, "cannot set up the entropy coder (%d bits): %s", bits, strerror(-r));
    s->prev = malloc(s->n * sizeof(uint32_t));
    s->dtok = malloc(s->n * sizeof(uint32_t));
    s->bit_cost = calloc((size_t)bits, sizeof(uint64_t));
    if (!s->prev || !s->dtok || !s->bit_cost)
        return fail(-ENOMEM, "out of memory");
    return 0;
}

static int code_frame(Stats *s, const uint32_t *tok, int tw, int th)
{
    int r;
    if (!s->prev && (r = stats_setup(s, tw, th, s->bits)) < 0)
        return r;
    if (tw != s->tw || th != s->th)
        return fail(-EPROTO, "token grid changed from %dx%d to %dx%d", s->tw, s->th, tw, th);
    const int key = s->gop_pos == 0;
    const uint8_t *data;
    size_t size;
    r = arg_token_coder_encode(s->enc, tok, key, &data, &size, s->o->per_bit ? s->bit_cost : NULL);
    if (r < 0)
        return fail(r, "latent frame %" PRId64 ": entropy coding failed: %s", s->frames, strerror(-r));
    const uint64_t bytes = size;
    r = arg_token_coder_decode(s->dec, data, size, key, s->dtok);
    if (r < 0)
        return fail(r, "latent frame %" PRId64 ": decoding the coded frame failed: %s", s->frames,
                    strerror(-r));
    if (memcmp(s->dtok, tok, s->n * sizeof(uint32_t)) != 0)
        return fail(-EPROTO, "latent frame %" PRId64 ": decoded tokens differ", s->frames);
    memcpy(s->prev, tok, s->n * sizeof(uint32_t));
    s->bytes += (uint64_t)bytes;
    if (key) {
        s->key_frames++;
        s->key_bytes += (uint64_t)bytes;
    }
    s->frames++;
    if (++s->gop_pos == s->gop)
        s->gop_pos = 0;

    if (s->all_len + s->n > s->all_cap) {
        size_t cap = s->all_cap ? s->all_cap * 2 : s->n * 16;
        while (cap < s->all_len + s->n)
            cap *= 2;
        uint32_t *p = realloc(s->all, cap * sizeof(uint32_t));
        if (!p)
            return fail(-ENOMEM, "out of memory");
        s->all = p;
        s->all_cap = cap;
    }
    memcpy(s->all + s->all_len, tok, s->n * sizeof(uint32_t));
    s->all_len += s->n;

    if (s->tokens_out) {
        for (size_t i = 0; i < s->n; i++) {
            uint8_t le[4] = { (uint8_t)tok[i], (uint8_t)(tok[i] >> 8), (uint8_t)(tok[i] >> 16),
                              (uint8_t)(tok[i] >> 24) };
            if (fwrite(le, 1, 4, s->tokens_out) != 4)
                return fail(-EIO, "cannot write %s", s->o->tokens_out);
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- model */

static int drain_encoder(Stats *s, ArgEncoder *enc, int *got)
{
    for (;;) {
        ArgTokens tok;
        memset(&tok, 0, sizeof(tok));
        int r = arg_encoder_get_tokens(enc, &tok);
        if (r == -EAGAIN)
            return 0;
        if (r < 0)
            return fail(r, "arg_encoder_get_tokens: %s", strerror(-r));
        if (!tok.tokens || tok.tokens_w < 1 || tok.tokens_h < 1)
            return fail(-EPROTO, "encoder returned an empty token grid");
        if ((r = code_frame(s, tok.tokens, tok.tokens_w, tok.tokens_h)) < 0)
            return r;
        (*got)++;
    }
}

static int run_model(Stats *s, const Options *o)
{
    Y4mReader *reader = NULL;
    ArgModel *model = NULL;
    ArgEncoder *enc = NULL;
    Y4mImage img;
    float *rgb = NULL;
    char err[512] = "";
    int ret;
    memset(&img, 0, sizeof(img));

    if ((ret = y4m_reader_open(&reader, o->input, err, sizeof(err))) < 0) {
        fail(ret, "%s", err);
        goto done;
    }
    const Y4mInfo *info = y4m_reader_info(reader);
    Y4mColor color = { Y4M_MATRIX_BT601, info->range == Y4M_RANGE_FULL, Y4M_UPSAMPLE_BILINEAR };
    if ((ret = arg_model_load(&model, o->model, err, sizeof(err))) < 0) {
        fail(ret, "cannot load model %s: %s", o->model, err[0] ? err : strerror(-ret));
        goto done;
    }
    const ArgModelInfo *mi = arg_model_info(model);
    if (mi->lfq_bits < 1 || mi->lfq_bits > ARG_TOKEN_MAX_BITS) {
        ret = fail(-ENOTSUP, "model has %d bits per token (1..%d supported)", mi->lfq_bits,
                   ARG_TOKEN_MAX_BITS);
        goto done;
    }
    s->bits = mi->lfq_bits;
    ArgSettings set;
    arg_default_settings(&set);
    set.n_threads = o->threads;
    set.gop_latents = o->gop; /* the encoder starts a keyframe every GOP */
    if ((ret = arg_encoder_open(&enc, model, &set, info->width, info->height)) < 0) {
        fail(ret, "cannot open the encoder: %s", strerror(-ret));
        goto done;
    }
    if ((ret = y4m_image_alloc(&img, info->width, info->height, info->chroma)) < 0) {
        fail(ret, "out of memory");
        goto done;
    }
    const size_t plane = (size_t)info->width * (size_t)info->height;
    rgb = malloc(3 * plane * sizeof(float));
    if (!rgb) {
        ret = fail(-ENOMEM, "out of memory");
        goto done;
    }
    ArgPicture pic = { rgb, info->width, info->height, info->width, (ptrdiff_t)plane, 0 };
    if (mi->clip_frames > 0) {
        /* Fixed clips: the model restarts every clip, so a GOP is a clip. */
        const int ft = mi->temporal_factor > 0 ? mi->temporal_factor : 1;
        s->gop = 1 + (mi->clip_frames - 1) / ft;
        if (!o->quiet)
            fprintf(stderr, "argentropy: note: fixed-clip model (%d pictures): GOP = %d latent "
                    "frames\n", mi->clip_frames, s->gop);
    }
    int64_t pictures = 0;
    int gop_latent = 0;   /* latent frames produced in the encoder's current GOP */
    while (!o->max_frames || pictures < o->max_frames) {
        ret = y4m_reader_read(reader, &img);
        if (ret == 0)
            break;
        if (ret < 0) {
            fail(ret, "%s", y4m_reader_error(reader));
            goto done;
        }
        if ((ret = y4m_yuv_to_rgb(&img, &color, rgb, pic.stride, pic.plane_stride)) < 0) {
            fail(ret, "colour conversion failed");
            goto done;
        }
        ret = arg_encoder_send_picture(enc, &pic);
        if (ret < 0) {
            fail(ret, "arg_encoder_send_picture: %s", strerror(-ret));
            goto done;
        }
        pictures++;
        if ((ret = drain_encoder(s, enc, &gop_latent)) < 0)
            goto done;
    }
    if (pictures == 0) {
        ret = fail(-EINVAL, "%s: no frames", o->input);
        goto done;
    }
    if ((ret = arg_encoder_flush(enc)) < 0) {
        fail(ret, "arg_encoder_flush: %s", strerror(-ret));
        goto done;
    }
    if ((ret = drain_encoder(s, enc, &gop_latent)) < 0)
        goto done;
    if (!o->quiet)
        fprintf(stderr, "argentropy: %" PRId64 " pictures -> %" PRId64 " latent frames\n",
                pictures, s->frames);
    ret = 0;
done:
    arg_encoder_close(enc);
    arg_model_free(model);
    y4m_reader_close(reader);
    y4m_image_free(&img);
    free(rgb);
    return ret;
}

static int run_tokens(Stats *s, const Options *o)
{
    FILE *f = fopen(o->tokens_in, "rb");
    if (!f)
        return fail(-errno, "cannot open %s: %s", o->tokens_in, strerror(errno));
    s->bits = o->bits;
    const size_t n = (size_t)o->tw * (size_t)o->th;
    uint32_t *tok = malloc(n * sizeof(uint32_t));
    uint8_t *raw = malloc(n * 4);
    int ret = 0;
    if (!tok || !raw) {
        ret = fail(-ENOMEM, "out of memory");
        goto done;
    }
    for (;;) {
        if (o->max_frames && s->frames >= o->max_frames)
            break;
        size_t got = fread(raw, 1, n * 4, f);
        if (got == 0)
            break;
        if (got != n * 4) {
            ret = fail(-EINVAL, "%s: truncated latent frame", o->tokens_in);
            goto done;
        }
        for (size_t i = 0; i < n; i++) {
            tok[i] = (uint32_t)raw[4 * i] | (uint32_t)raw[4 * i + 1] << 8 |
                     (uint32_t)raw[4 * i + 2] << 16 | (uint32_t)raw[4 * i + 3] << 24;
            if (tok[i] >> o->bits) {
                ret = fail(-EINVAL, "%s: token %" PRIu32 " exceeds %d bits", o->tokens_in, tok[i],
                           o->bits);
                goto done;
            }
        }
        if ((ret = code_frame(s, tok, o->tw, o->th)) < 0)
            goto done;
    }
    if (s->frames == 0)
        ret = fail(-EINVAL, "%s: no tokens", o->tokens_in);
done:
    fclose(f);
    free(tok);
    free(raw);
    return ret;
}

/* ---------------------------------------------------------------- report */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Order-0 empirical entropy of the tokens, in bits per token. */
static double order0_entropy(const uint32_t *t, size_t n)
{
    uint32_t *c = malloc(n * sizeof(uint32_t));
    if (!c)
        return NAN;
    memcpy(c, t, n * sizeof(uint32_t));
    qsort(c, n, sizeof(uint32_t), cmp_u32);
    double h = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && c[j] == c[i])
            j++;
        double p = (double)(j - i) / (double)n;
        h -= p * log2(p);
        i = j;
    }
    free(c);
    return h;
}

/* Size of `zstd -19` on the tokens packed at `bits` bits each (LSB first),
 * or -1 when zstd cannot be run. */
static int64_t zstd_size(const uint32_t *t, size_t n, int bits, size_t *packed_size)
{
    const char *tmpdir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof(path), "%s/argentropy.XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        close(fd);
        unlink(path);
        return -1;
    }
    uint64_t acc = 0;
    int nacc = 0;
    size_t bytes = 0;
    int ok = 1;
    for (size_t i = 0; i < n; i++) {
        acc |= (uint64_t)t[i] << nacc;
        nacc += bits;
        while (nacc >= 8) {
            ok &= fputc((int)(acc & 0xFF), f) != EOF;
            acc >>= 8;
            nacc -= 8;
            bytes++;
        }
    }
    if (nacc > 0) {
        ok &= fputc((int)(acc & 0xFF), f) != EOF;
        bytes++;
    }
    ok &= fclose(f) == 0;
    *packed_size = bytes;
    int64_t out = -1;
    if (ok) {
        char cmd[4200];
        snprintf(cmd, sizeof(cmd), "zstd -19 -q -c -- '%s' 2>/dev/null", path);
        FILE *p = popen(cmd, "r");
        if (p) {
            char chunk[65536];
            size_t got;
            int64_t total = 0;
            while ((got = fread(chunk, 1, sizeof(chunk), p)) > 0)
                total += (int64_t)got;
            int st = pclose(p);
            if (st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0 && total > 0)
                out = total;
        }
    }
    unlink(path);
    return out;
}

static void report(const Stats *s, const Options *o)
{
    const double ntok = (double)s->frames * (double)s->n;
    const double coded = 8.0 * (double)s->bytes / ntok;
    const double raw = s->bits;
    size_t packed = 0;
    int64_t z = zstd_size(s->all, s->all_len, s->bits, &packed);
    const double h0 = order0_entropy(s->all, s->all_len);
    const int64_t inter_frames = s->frames - s->key_frames;

    printf("source:        %s\n", o->tokens_in ? o->tokens_in : o->input);
    printf("tokens:        %" PRId64 " latent frames of %dx%d, %d bits, GOP %d latent frames "
           "(%" PRId64 " keyframes), rate_max %u\n",
           s->frames, s->tw, s->th, s->bits, s->gop, s->key_frames, o->rate_max);
    printf("raw:           %.4f bits/token (%zu bytes packed)\n", raw, packed);
    printf("coded:         %.4f bits/token (%" PRIu64 " bytes), %.2f%% below raw\n", coded,
           s->bytes, 100.0 * (1.0 - coded / raw));
    printf("  keyframes:   %.4f bits/token\n",
           s->key_frames ? 8.0 * (double)s->key_bytes / ((double)s->key_frames * (double)s->n) : 0.0);
    printf("  inter:       %.4f bits/token\n",
           inter_frames ? 8.0 * (double)(s->bytes - s->key_bytes) /
                              ((double)inter_frames * (double)s->n) : 0.0);
    printf("order-0:       %.4f bits/token (empirical entropy of the tokens over the clip)\n", h0);
    if (z >= 0)
        printf("zstd -19:      %.4f bits/token (%" PRId64 " bytes), %.2f%% below raw\n",
               8.0 * (double)z / ntok, z, 100.0 * (1.0 - 8.0 * (double)z / ntok / raw));
    else
        printf("zstd -19:      n/a (cannot run zstd)\n");
    if (o->per_bit) {
        printf("per bit:      ");
        for (int b = 0; b < s->bits; b++)
            printf(" %.3f", (double)s->bit_cost[b] / 8.0 / ntok);
        printf("\n");
    }
}

int main(int argc, char **argv)
{
    Options o;
    if (parse_options(argc, argv, &o) < 0)
        return EXIT_USAGE;
    Stats s;
    memset(&s, 0, sizeof(s));
    s.o = &o;
    s.gop = o.gop;
    int ret = 0;
    if (o.tokens_out && !(s.tokens_out = fopen(o.tokens_out, "wb"))) {
        fail(-errno, "cannot create %s: %s", o.tokens_out, strerror(errno));
        return 1;
    }
    ret = o.tokens_in ? run_tokens(&s, &o) : run_model(&s, &o);
    if (s.tokens_out && fclose(s.tokens_out) != 0 && ret >= 0)
        ret = fail(-EIO, "cannot write %s", o.tokens_out);
    if (ret >= 0)
        report(&s, &o);
    arg_token_coder_close(s.enc);
    arg_token_coder_close(s.dec);
    free(s.prev);
    free(s.dtok);
    free(s.all);
    free(s.bit_cost);
    return ret < 0 ? 1 : 0;
}
