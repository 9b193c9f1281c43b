/* argbench: tokenizer speed, memory and arithmetic rate on synthetic video.
 *
 *   argbench -m MODEL [-s 640x360] [-n FRAMES] [--threads N] [--gemm MODE]
 *            [--backend cpu|vulkan|auto|both] [--device N] [--profile]
 *            [--peak-gflops G] [--list-devices] [--scan-threads] [--rss 100,1000]
 *            [--table] [--torch] [--quiet]
 *
 * Prints encode/decode frames per second (median over latent-frame chunks
 * and overall), MACs per pixel, achieved GMAC/s next to the sgemm rate of
 * this machine measured in the same run (CPU) or a given fp32 peak (GPU),
 * thread speed-up, and peak RSS of separate runs of different lengths
 * (forked children). The "gemm auto" line says which path auto took and
 * the calibration rates it chose by; "peaks" the fp32 and int8 microkernel
 * rates of this machine, measured in the same run. --table: decode
 * pictures/s of every CPU path at three sizes, side by side, and the float
 * and int8 encoders side by side. --backend both runs the CPU and Vulkan side by side;
 * --profile prints the Vulkan backend's per-op and per-layer GPU times
 * (ARG_VK_PROFILE=1). --torch then times the PyTorch twin on the same
 * weights, size, frames and threads (tools/train/bench_torch.py, run by
 * /usr/bin/python3 from the source tree) and prints the C / PyTorch ratios;
 * without python3, torch or the script it says so in one line. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "arg/arg.h"
#include "cli.h"
#include "kernels.h"
#ifdef ARG_HAVE_VULKAN
#include "vk.h"
#endif

#ifdef ARG_HAVE_BLAS
#include <cblas.h>
#endif

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    if (n <= 0)
        return NAN;
    qsort(v, (size_t)n, sizeof(double), cmp_d);
    return n & 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Synthetic moving content: gradients, a moving disc, and mild noise. */
static void make_frame(float *p, int w, int h, int f)
{
    uint32_t s = 12345u + (uint32_t)f * 7919u;
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                s = s * 1664525u + 1013904223u;
                float cx = (float)(x - (w / 3 + 3 * f % w)), cy = (float)(y - h / 2);
                float disc = cx * cx + cy * cy < (float)(h * h) / 25 ? 0.6f : 0.f;
                float v = 0.8f * x / w - 0.4f + 0.3f * (c - 1) * y / h + disc +
                          0.05f * ((float)(s >> 8) / 16777216.0f - 0.5f);
                p[((size_t)c * h + y) * w + x] = v > 1 ? 1 : v < -1 ? -1 : v;
            }
}

typedef struct Result {
    double enc_fps, dec_fps, enc_med_fps, dec_med_fps;
    int frames;
} Result;

static int g_backend = ARG_BACKEND_AUTO, g_device = 0;
static char g_backend_name[2][200];

static int run(const ArgModel *m, int w, int h, int frames, int threads, int gemm, Result *res,
               int quiet)
{
    ArgSettings s;
    arg_default_settings(&s);
    s.n_threads = threads;
    s.gemm = gemm;
    s.backend = g_backend;
    s.device = g_device;
    ArgEncoder *enc;
    ArgDecoder *dec;
    int rc = arg_encoder_open(&enc, m, &s, w, h);
    if (rc < 0)
        return rc;
    if ((rc = arg_decoder_open(&dec, m, &s, w, h)) < 0) {
        arg_encoder_close(enc);
        return rc;
    }
    snprintf(g_backend_name[0], sizeof(g_backend_name[0]), "%s", arg_encoder_backend(enc));
    snprintf(g_backend_name[1], sizeof(g_backend_name[1]), "%s", arg_decoder_backend(dec));
    const ArgModelInfo *info = arg_model_info(m);
    float *pic = malloc((size_t)3 * w * h * sizeof(float));
    int nchunks = frames + 2;
    double *et = calloc((size_t)nchunks, sizeof(double)), *dt = calloc((size_t)nchunks, sizeof(double));
    int *ep = calloc((size_t)nchunks, sizeof(int)), *dp = calloc((size_t)nchunks, sizeof(int));
    uint32_t *tok = NULL;
    int ne = 0, nd = 0, out_frames = 0;
    double enc_total = 0, dec_total = 0, t_chunk = 0;
    int chunk_pics = 0;
    if (!pic || !et || !dt || !ep || !dp) {
        rc = -ENOMEM;
        goto out;
    }
    CliProgress prog;
    cli_progress_start(&prog, frames, 0);
    if (quiet)
        prog.enabled = 0;
    for (int f = 0; f <= frames && rc >= 0; f++) {
        double t0 = now();
        if (f < frames) {
            make_frame(pic, w, h, f);
            t0 = now();
            ArgPicture p = { pic, w, h, w, (ptrdiff_t)w * h, 0 };
            rc = arg_encoder_send_picture(enc, &p);
            chunk_pics++;
        } else {
            rc = arg_encoder_flush(enc);
        }
        double t1 = now();
        enc_total += t1 - t0;
        t_chunk += t1 - t0;
        ArgTokens t;
        while (rc >= 0 && arg_encoder_get_tokens(enc, &t) == 0) {
            if (ne < nchunks) {
                et[ne] = t_chunk;
                ep[ne] = chunk_pics;
                ne++;
            }
            t_chunk = 0;
            chunk_pics = 0;
            size_t n = (size_t)t.tokens_w * t.tokens_h;
            if (!tok)
                tok = malloc(n * sizeof(uint32_t));
            memcpy(tok, t.tokens, n * sizeof(uint32_t));
            ArgTokens in = t;
            in.tokens = tok;
            in.latent = NULL;
            double d0 = now();
            rc = arg_decoder_send_tokens(dec, &in);
            ArgPicture o;
            int got = 0;
            while (rc >= 0 && arg_decoder_get_picture(dec, &o) == 0)
                got++;
            double d1 = now() - d0;
            dec_total += d1;
            if (got && nd < nchunks) {
                dt[nd] = d1;
                dp[nd] = got;
                nd++;
            }
            out_frames += got;
        }
        cli_progress_update(&prog, f < frames ? f + 1 : frames, NULL);
    }
    cli_progress_end(&prog);
    if (rc < 0)
        goto out;
    /* median fps over the steady chunks (the first covers one picture) */
    double *ef = calloc((size_t)nchunks, sizeof(double)), *df = calloc((size_t)nchunks, sizeof(double));
    int ke = 0, kd = 0;
    for (int i = 0; i < ne; i++)
        if (ep[i] == info->temporal_factor || info->clip_frames)
            ef[ke++] = ep[i] / et[i];
    for (int i = 0; i < nd; i++)
        if (dp[i] == info->temporal_factor || info->clip_frames)
            df[kd++] = dp[i] / dt[i];
    res->enc_med_fps = median(ef, ke);
    res->dec_med_fps = median(df, kd);
    free(ef);
    free(df);
    res->enc_fps = frames / enc_total;
    res->dec_fps = out_frames / dec_total;
    res->frames = out_frames;
    if (out_frames != frames)
        rc = -EPROTO;
out:
    free(pic);
    free(et);
    free(dt);
    free(ep);
    free(dp);
    free(tok);
    arg_encoder_close(enc);
    arg_decoder_close(dec);
    return rc;
}

/* sgemm rate in GMAC/s: OpenBLAS when built with it, else the builtin
 * microkernel through a 1x1 convolution (a plain GEMM). */
static double sgemm_rate(int threads, const char **what)
{
    const int M = 512, N = 2048, K = 512;
    float *a = malloc((size_t)M * K * sizeof(float)), *b = malloc((size_t)K * N * sizeof(float)),
          *c = malloc((size_t)M * N * sizeof(float));
    for (size_t i = 0; i < (size_t)M * K; i++)
        a[i] = (float)((i * 37) % 101) / 101.f;
    for (size_t i = 0; i < (size_t)K * N; i++)
        b[i] = (float)((i * 53) % 103) / 103.f;
    double best = 1e9;
#ifdef ARG_HAVE_BLAS
    *what = "OpenBLAS sgemm 512x2048x512";
    openblas_set_num_threads(threads);
    for (int r = 0; r < 7; r++) {
        double t0 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.f, a, K, b, N, 0.f, c, N);
        double t = now() - t0;
        best = t < best ? t : best;
    }
    openblas_set_num_threads(1);
#else
    *what = "builtin GEMM 512x2048x512";
    KernelCtx k;
    kctx_init(&k, threads, GEMM_BUILTIN);
    ConvW cv = { K, M, 1, 1, 1, 1, K, a, NULL, NULL };
    conv_pack(&cv);
    const float *src[1] = { b };
    for (int r = 0; r < 7; r++) {
        double t0 = now();
        conv3d(&k, &cv, src, 1, 1, N, 0, c);
        double t = now() - t0;
        best = t < best ? t : best;
    }
    free(cv.wpack);
    kctx_free(&k);
#endif
    free(a);
    free(b);
    free(c);
    return (double)M * N * K / best / 1e9;
}

static long child_rss_kb(const ArgModel *m, int w, int h, int frames, int threads, int gemm, double *fps)
{
    int fd[2];
    if (pipe(fd) < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        close(fd[0]);
        Result r;
        int rc = run(m, w, h, frames, threads, gemm, &r, 1);
        double v = rc < 0 ? -1 : r.enc_fps;
        if (write(fd[1], &v, sizeof(v)) != sizeof(v))
            _exit(3);
        _exit(rc < 0 ? 1 : 0);
    }
    close(fd[1]);
    if (read(fd[0], fps, sizeof(*fps)) != sizeof(*fps))
        *fps = -1;
    close(fd[0]);
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return -1;
    return ru.ru_maxrss;
}

#define BACKEND_BOTH 100 /* --backend both: cpu, then vulkan */

static const CliChoice bench_backend_choices[] = {
    { "cpu", ARG_BACKEND_CPU }, { "vulkan", ARG_BACKEND_VULKAN }, { "auto", ARG_BACKEND_AUTO },
    { "both", BACKEND_BOTH }, { NULL, 0 },
};

/* -s WxH */
static int parse_size(const char *arg, void *dest)
{
    int *wh = dest;
    long long w, h;
    const char *x = strchr(arg, 'x');
    char buf[32];
    if (!x || (size_t)(x - arg) >= sizeof(buf))
        return -EINVAL;
    memcpy(buf, arg, (size_t)(x - arg));
    buf[x - arg] = 0;
    if (cli_parse_int64(buf, 1, 16384, &w) < 0 || cli_parse_int64(x + 1, 1, 16384, &h) < 0)
        return -EINVAL;
    wh[0] = (int)w;
    wh[1] = (int)h;
    return 0;
}

/* --rss A,B */
static int parse_pair(const char *arg, void *dest)
{
    int *ab = dest;
    long long a, b;
    const char *comma = strchr(arg, ',');
    char buf[32];
    if (!comma || (size_t)(comma - arg) >= sizeof(buf))
        return -EINVAL;
    memcpy(buf, arg, (size_t)(comma - arg));
    buf[comma - arg] = 0;
    if (cli_parse_int64(buf, 1, 1000000, &a) < 0 || cli_parse_int64(comma + 1, 1, 1000000, &b) < 0)
        return -EINVAL;
    ab[0] = (int)a;
    ab[1] = (int)b;
    return 0;
}

static struct {
    const char *model;
    int size[2], frames, threads, gemm, backend, device, profile, list, scan, rss[2], table, torch;
    double peak;
} opt = { NULL, { 640, 360 }, 33, 0, ARG_GEMM_AUTO, ARG_BACKEND_AUTO, 0, 0, 0, 0, { 0, 0 }, 0, 0, 0 };

static const CliOpt opts[] = {
    { .names = "-m --model", .kind = CLI_STRING, .dest = &opt.model, .metavar = "MODEL",
      .help = "model weights (.safetensors)" },
    CLI_OPT_CUSTOM("-s --size", opt.size, parse_size, "WxH, each 1..16384 (such as 640x360)", "WxH",
                   "picture size (default 640x360)"),
    CLI_OPT_INT("--frames -frames:v", &opt.frames, 1, 1000000, "N", "frames (default 33)"),
    CLI_OPT_INT("--threads", &opt.threads, 0, 1024, "N", "worker threads (default 0: all cores)"),
    CLI_OPT_GEMM("--gemm", &opt.gemm),
    CLI_OPT_ENUM("--backend", &opt.backend, bench_backend_choices, "B",
                 "cpu | vulkan | auto | both (cpu and vulkan side by side;\ndefault auto)"),
    CLI_OPT_DEVICE(&opt.device),
    CLI_OPT_FLAG("--profile", &opt.profile, "print the Vulkan backend's GPU time per op and per layer"),
    CLI_OPT_DOUBLE("--peak-gflops", &opt.peak, 0, 1e9, "G", "the GPU's fp32 peak, to print the fraction reached"),
    CLI_OPT_FLAG("--list-devices", &opt.list, "list the Vulkan devices and exit"),
    CLI_OPT_FLAG("--scan-threads", &opt.scan, "also run with 1 thread and print the speed-up"),
    CLI_OPT_CUSTOM("--rss", opt.rss, parse_pair, "A,B: two frame counts 1..1000000 (such as 100,1000)", "A,B",
                   "peak RSS of separate runs of A and B frames (e.g. 100,1000)"),
    CLI_OPT_FLAG("--table", &opt.table, "decode speed of every CPU path (builtin, blas, int8, auto)\n"
                 "at 320x240, 640x360 and 1280x720, the paths taking turns\n"
                 "on the same chunks, and encode speed of builtin and int8\n"
                 "(taking turns on each picture); then exit"),
    CLI_OPT_FLAG("--torch", &opt.torch, "then time the PyTorch twin on the same weights, size, frames\n"
                 "and threads (/usr/bin/python3 tools/train/bench_torch.py)\n"
                 "and print C / PyTorch"),
    CLI_OPT_FLAG("--quiet", &cli_quiet, "no progress line"),
    CLI_OPT_END,
};

static const CliHint hints[] = {
    { "-n", "use --frames N (-n means never overwrite in the other tools)" },
    CLI_HINT_END,
};

static const CliTool tool = {
    .name = "argbench",
    .synopsis = "-m MODEL.safetensors [options]",
    .about = "Speed, arithmetic rate and memory of a model on synthetic video.",
    .opts = opts,
    .hints = hints,
};

/* the CPU backend's name when it runs the int8 path (runner_cpu.c) */
static int is_int8_backend(const char *name)
{
    char want[96];
    snprintf(want, sizeof(want), "cpu (%s", kctx_isa8());
    return strncmp(name, want, strlen(want)) == 0;
}

/* --table: the decoders of every CPU path open side by side; each chunk of
 * tokens (encoded once) goes to every path in turn, so that load from other
 * processes hits all paths alike. The float and int8 encoders take turns on
 * each picture the same way. */
typedef struct Path {
    const char *name;
    int gemm;
} Path;

static int table_size(const ArgModel *m, int w, int h, int frames, int threads, const Path *paths, int np,
                      const double *peak)
{
    const ArgModelInfo *info = arg_model_info(m);
    ArgSettings s;
    arg_default_settings(&s);
    s.n_threads = threads;
    s.backend = ARG_BACKEND_CPU;
    s.gemm = ARG_GEMM_BUILTIN;
    /* the encoders side by side too: the float one (whose tokens every
     * decoder gets) and the int8 one (by name only; spec/precision.md) */
    ArgEncoder *encs[2] = { 0 };
    static const char *const enc_name[2] = { "builtin", "int8" };
    ArgDecoder *dec[8] = { 0 };
    int rc = arg_encoder_open(&encs[0], m, &s, w, h);
    if (rc < 0)
        return rc;
    ArgEncoder *enc = encs[0];
    s.gemm = ARG_GEMM_INT8;
    if ((rc = arg_encoder_open(&encs[1], m, &s, w, h)) < 0) {
        arg_encoder_close(enc);
        return rc;
    }
    for (int p = 0; p < np && rc >= 0; p++) {
        s.gemm = paths[p].gemm;
        rc = arg_decoder_open(&dec[p], m, &s, w, h);
    }
    int nchunks = frames + 2;
    float *pic = malloc((size_t)3 * w * h * sizeof(float));
    double *fps = calloc((size_t)np * nchunks, sizeof(double));
    double *efps = calloc((size_t)2 * nchunks, sizeof(double)), et[2] = { 0 };
    uint32_t *tok = NULL;
    int nf[8] = { 0 }, out[8] = { 0 }, nef[2] = { 0 }, ep[2] = { 0 };
    if (!pic || !fps || !efps)
        rc = -ENOMEM;
    for (int f = 0; f <= frames && rc >= 0; f++) {
        if (f < frames)
            make_frame(pic, w, h, f);
        ArgPicture pp = { pic, w, h, w, (ptrdiff_t)w * h, 0 };
        /* the int8 encoder first, its tokens dropped; then the float one */
        for (int e = 1; e >= 0 && rc >= 0; e--) {
            double e0 = now();
            rc = f < frames ? arg_encoder_send_picture(encs[e], &pp) : arg_encoder_flush(encs[e]);
            ep[e] += f < frames;
            ArgTokens t1;
            int got = 0;
            if (e == 1)
                while (rc >= 0 && arg_encoder_get_tokens(encs[1], &t1) == 0)
                    got++;
            et[e] += now() - e0;
            if (e == 0)
                break; /* its tokens are fetched below, untimed beyond the send */
            if (got) {
                if ((ep[1] == info->temporal_factor || info->clip_frames) && nef[1] < nchunks)
                    efps[nchunks + nef[1]++] = ep[1] / et[1];
                ep[1] = 0;
                et[1] = 0;
            }
        }
        ArgTokens t;
        int got0 = 0;
        while (rc >= 0 && arg_encoder_get_tokens(enc, &t) == 0) {
            if (!got0++) {
                if ((ep[0] == info->temporal_factor || info->clip_frames) && nef[0] < nchunks)
                    efps[nef[0]++] = ep[0] / et[0];
                ep[0] = 0;
                et[0] = 0;
            }
            size_t n = (size_t)t.tokens_w * t.tokens_h;
            if (!tok && !(tok = malloc(n * sizeof(uint32_t)))) {
                rc = -ENOMEM;
                break;
            }
            memcpy(tok, t.tokens, n * sizeof(uint32_t));
            ArgTokens in = t;
            in.tokens = tok;
            in.latent = NULL;
            for (int p = 0; p < np && rc >= 0; p++) {
                double d0 = now();
                rc = arg_decoder_send_tokens(dec[p], &in);
                ArgPicture o;
                int got = 0;
                while (rc >= 0 && arg_decoder_get_picture(dec[p], &o) == 0)
                    got++;
                double d1 = now() - d0;
                out[p] += got;
                if ((got == info->temporal_factor || info->clip_frames) && nf[p] < nchunks)
                    fps[p * nchunks + nf[p]++] = got / d1;
            }
        }
    }
    if (rc >= 0) {
        double px = (double)w * h, base = 0;
        for (int p = 0; p < np; p++) {
            double med = median(fps + p * nchunks, nf[p]);
            int is8 = is_int8_backend(arg_decoder_backend(dec[p]));
            double gmacs = info->dec_macs_per_pixel * px * med / 1e9;
            if (p == 0)
                base = med;
            printf("  %4dx%-4d %-8s %7.2f pictures/s  x%5.2f  %6.1f GMAC/s = %3.0f%% of the %s peak   %s\n", w, h,
                   paths[p].name, med, med / base, gmacs, 100 * gmacs / peak[is8], is8 ? "int8" : "fp32",
                   arg_decoder_backend(dec[p]));
            if (out[p] != frames)
                rc = -EPROTO;
        }
        double e0 = median(efps, nef[0]), e1 = median(efps + nchunks, nef[1]);
        printf("  %4dx%-4d encode   %s %.2f pictures/s, %s %.2f pictures/s  x%5.2f   %s\n", w, h, enc_name[0], e0,
               enc_name[1], e1, e1 / e0, arg_encoder_backend(encs[1]));
    }
    free(pic);
    free(fps);
    free(efps);
    free(tok);
    arg_encoder_close(enc);
    arg_encoder_close(encs[1]);
    for (int p = 0; p < np; p++)
        arg_decoder_close(dec[p]);
    return rc;
}

/* ------------------------------------------------------------ --torch */

#ifndef ARG_SOURCE_DIR
#define ARG_SOURCE_DIR "." /* meson defines the source tree (tools/meson.build) */
#endif
#define TORCH_PYTHON "/usr/bin/python3"
#define TORCH_SCRIPT "tools/train/bench_torch.py"
#define TORCH_EXIT_NO_TORCH 3 /* bench_torch.py: torch or numpy missing */

/* A space and s in single quotes for sh (' as '\''), appended to buf; -1
 * when it does not fit. */
static int sh_quote(char *buf, size_t size, const char *s)
{
    size_t n = strlen(buf);
    if (n + 2 >= size)
        return -1;
    buf[n++] = ' ';
    buf[n++] = '\'';
    for (; *s; s++) {
        const char *piece = *s == '\'' ? "'\\''" : NULL;
        size_t len = piece ? 4 : 1;
        if (n + len + 2 >= size)
            return -1;
        if (piece)
            memcpy(buf + n, piece, len);
        else
            buf[n] = *s;
        n += len;
    }
    buf[n++] = '\'';
    buf[n] = 0;
    return 0;
}

/* The value of "key" in a one-line flat JSON object (json.dumps): a pointer
 * after the colon, or NULL. The key must stand where keys stand (after '{'
 * or ','), not inside another key or a string. */
static const char *json_value(const char *line, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\":", key);
    for (const char *p = strstr(line, pat); p; p = strstr(p + 1, pat)) {
        const char *b = p;
        while (b > line && b[-1] == ' ')
            b--;
        if (b > line && (b[-1] == '{' || b[-1] == ',')) {
            p += strlen(pat);
            while (*p == ' ')
                p++;
            return p;
        }
    }
    return NULL;
}

/* A finite number; -1 when missing or not one. */
static int json_number(const char *line, const char *key, double *v)
{
    const char *p = json_value(line, key);
    char *end;
    if (!p || !(*p == '-' || isdigit((unsigned char)*p)))
        return -1;
    errno = 0;
    *v = strtod(p, &end);
    if (end == p || errno || !isfinite(*v) || (*end != ',' && *end != '}' && *end != ' '))
        return -1;
    return 0;
}

/* A string of at most size - 1 bytes; -1 otherwise. Escapes: \" \\ \/ as
 * themselves, \uXXXX as '?', the others as a space. */
static int json_str(const char *line, const char *key, char *out, size_t size)
{
    const char *p = json_value(line, key);
    size_t n = 0;
    if (!p || *p++ != '"')
        return -1;
    for (; *p != '"'; p++) {
        char ch = *p;
        if (!ch || (unsigned char)ch < 0x20 || n + 1 >= size)
            return -1;
        if (ch == '\\') {
            ch = *++p;
            if (ch == 'u') {
                for (int i = 0; i < 4; i++)
                    if (!isxdigit((unsigned char)*++p))
                        return -1;
                ch = '?';
            } else if (!ch) {
                return -1;
            } else if (ch != '"' && ch != '\\' && ch != '/') {
                ch = ' ';
            }
        }
        out[n++] = ch;
    }
    out[n] = 0;
    return 0;
}

/* Runs bench_torch.py on the same model, size, frames and threads and
 * prints its figures next to the C ones (c: overall fps of the run above,
 * label "C" or the backend). Says in one line why when it cannot; never
 * changes argbench's exit status. */
static void torch_compare(const char *model, int w, int h, int frames, int threads, const Result *c,
                          const char *label)
{
    char script[4096], cmd[8192] = "", want_size[32];
    snprintf(script, sizeof(script), "%s/%s", ARG_SOURCE_DIR, TORCH_SCRIPT);
    if (access(TORCH_PYTHON, X_OK) != 0) {
        printf("torch      not measured: no %s\n", TORCH_PYTHON);
        return;
    }
    if (access(script, R_OK) != 0) {
        printf("torch      not measured: no %s (the source tree this argbench was built from)\n", script);
        return;
    }
    snprintf(want_size, sizeof(want_size), "%dx%d", w, h);
    snprintf(cmd, sizeof(cmd), "%s", TORCH_PYTHON);
    size_t len = 0;
    int fit = sh_quote(cmd, sizeof(cmd), script) == 0 && sh_quote(cmd, sizeof(cmd), model) == 0;
    if (fit) {
        len = strlen(cmd);
        int k = snprintf(cmd + len, sizeof(cmd) - len, " --size %s --frames %d --threads %d 2>&1", want_size,
                         frames, threads);
        fit = k > 0 && (size_t)k < sizeof(cmd) - len;
    }
    if (!fit) {
        printf("torch      not measured: the model's path is too long\n");
        return;
    }
    cli_info("timing the PyTorch twin (%s, %d frames, %d threads)", want_size, frames, threads);
    fflush(stdout);
    fflush(stderr);
    FILE *p = popen(cmd, "r");
    if (!p) {
        printf("torch      not measured: cannot run %s (%s)\n", TORCH_PYTHON, strerror(errno));
        return;
    }
    /* the last line that looks like a JSON object is the answer; the last
     * other line explains a failure */
    char *line = NULL, *json = NULL, other[512] = "";
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, p)) > 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = 0;
        if (line[0] == '{' && n > 1 && line[n - 1] == '}') {
            free(json);
            json = strdup(line);
        } else if (n > 0) {
            snprintf(other, sizeof(other), "%s", line);
        }
    }
    free(line);
    int status = pclose(p);
    int code = status == -1 ? -1 : WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    char version[64], err[400], got_size[32], mode[1024];
    double dec, enc, thr, frm;
    if (json && json_str(json, "error", err, sizeof(err)) == 0) {
        if (code == TORCH_EXIT_NO_TORCH)
            printf("torch      not measured: %s\n", err);
        else
            printf("torch      not measured: bench_torch.py failed: %s\n", err);
    } else if (!json || code != 0) {
        printf("torch      not measured: bench_torch.py exited with status %d%s%s\n", code, other[0] ? ": " : "",
               other);
    } else if (json_str(json, "torch", version, sizeof(version)) < 0 || !version[0] ||
               json_number(json, "decode_fps", &dec) < 0 || !(dec > 0) ||
               json_number(json, "encode_fps", &enc) < 0 || !(enc > 0) ||
               json_number(json, "threads", &thr) < 0 || thr != threads ||
               json_number(json, "frames", &frm) < 0 || frm != frames ||
               json_str(json, "size", got_size, sizeof(got_size)) < 0 || strcmp(got_size, want_size)) {
        printf("torch      not measured: bench_torch.py answered something else than %s, %d frames, %d threads, "
               "positive decode_fps and encode_fps and a torch version\n", want_size, frames, threads);
    } else {
        printf("torch      decode %.3f fps, encode %.3f fps (PyTorch %s, %d threads); %s / PyTorch: decode %.2fx, "
               "encode %.2fx\n", dec, enc, version, threads, label, c->dec_fps / dec, c->enc_fps / enc);
        /* the overall figures above count the C engine's first, cold chunk;
         * PyTorch's passes come after a warm-up pass */
        printf("           %s median chunk / PyTorch: decode %.2fx, encode %.2fx (%s overall counts its first, "
               "cold chunk; PyTorch warmed up)\n", label, c->dec_med_fps / dec, c->enc_med_fps / enc, label);
        if (json_str(json, "mode", mode, sizeof(mode)) == 0)
            printf("           PyTorch: %s\n", mode);
    }
    free(json);
}

int main(int argc, char **argv)
{
    cli_parse_or_exit(&tool, argc, argv);
    if (opt.list) {
#ifdef ARG_HAVE_VULKAN
        char list[4096];
        int n = vk_list_devices(list, sizeof(list));
        if (n <= 0)
            printf("no Vulkan device\n");
        else
            fputs(list, stdout);
#else
        printf("this build has no Vulkan backend\n");
#endif
        return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
    }
    if (!opt.model) {
        cli_error("-m MODEL is required (try --help)");
        return CLI_EXIT_USAGE;
    }
    if (opt.torch && opt.table) {
        cli_error("--torch compares one run; it does not go with --table");
        return CLI_EXIT_USAGE;
    }
    if (opt.profile)
        setenv("ARG_VK_PROFILE", "1", 1);
    const char *model_path = opt.model;
    const int w = opt.size[0], h = opt.size[1], frames = opt.frames, threads = opt.threads, gemm = opt.gemm;
    const int both = opt.backend == BACKEND_BOTH, scan = opt.scan;
    const double peak = opt.peak;
    g_backend = both ? ARG_BACKEND_CPU : opt.backend;
    g_device = opt.device;
    char err[512];
    ArgModel *m;
    if (arg_model_load(&m, model_path, err, sizeof(err)) < 0) {
        cli_error("%s", err);
        return CLI_EXIT_FAIL;
    }
    const ArgModelInfo *info = arg_model_info(m);
    int nthreads = threads ? threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    printf("model      %s  id %016llx\n", info->name[0] ? info->name : "(unnamed)",
           (unsigned long long)info->id);
    printf("structure  %d bits/token, %dx%dx%d (t x h x w) per token%s\n", info->lfq_bits,
           info->temporal_factor, info->spatial_factor, info->spatial_factor,
           info->clip_frames ? ", fixed clips" : ", streaming");
    printf("params     encoder %.2fM, decoder %.2fM\n", info->enc_params / 1e6, info->dec_params / 1e6);
    printf("MACs/pixel encoder %.0f, decoder %.0f\n", info->enc_macs_per_pixel, info->dec_macs_per_pixel);
    double cal[3];
    int auto_enc = kctx_auto_gemm(0, cal), auto_dec = kctx_auto_gemm(1, NULL);
    static const char *const gname[] = { "?", "reference", "builtin", "blas", "int8" };
    printf("kernels    float %s, int8 %s, %d threads\n", kctx_isa(), kctx_isa8(), nthreads);
    char blas_rate[32] = "not built";
    if (cal[1] > 0)
        snprintf(blas_rate, sizeof(blas_rate), "%.1f", cal[1]);
    printf("gemm auto  encoder %s, decoder %s (the rule; calibration, one thread: builtin %.1f, blas %s, int8 %.1f GMAC/s)\n",
           gname[auto_enc], gname[auto_dec], cal[0], blas_rate, cal[2]);
    const char *what;
    double sg = sgemm_rate(nthreads, &what);
    printf("sgemm      %.1f GMAC/s (%s, %d threads)\n", sg, what, nthreads);
    double peak8[2] = { 0, 0 };
    {
        KernelCtx pk;
        if (kctx_init(&pk, nthreads, GEMM_BUILTIN) == 0) {
            peak8[0] = kctx_peak_gmacs(&pk, 0);
            peak8[1] = kctx_peak_gmacs(&pk, 1);
            kctx_free(&pk);
        }
        printf("peaks      fp32 %.1f GMAC/s, int8 %.1f GMAC/s (microkernels in cache, %d threads)\n", peak8[0],
               peak8[1], nthreads);
    }
    if (opt.table) {
        Path paths[5];
        int np = 0;
        paths[np++] = (Path){ "builtin", ARG_GEMM_BUILTIN };
        if (kctx_have_blas())
            paths[np++] = (Path){ "blas", ARG_GEMM_BLAS };
        paths[np++] = (Path){ "int8", ARG_GEMM_INT8 };
        paths[np++] = (Path){ "auto", ARG_GEMM_AUTO };
        static const int sizes[3][2] = { { 320, 240 }, { 640, 360 }, { 1280, 720 } };
        printf("decode, %d frames, median chunk, ratios to builtin; paths take turns on each chunk:\n", frames);
        for (int i = 0; i < 3; i++) {
            /* the peaks again before each size, the best so far counting:
             * a peak measured while another process ran is too low */
            KernelCtx pk;
            if (kctx_init(&pk, nthreads, GEMM_BUILTIN) == 0) {
                double p0 = kctx_peak_gmacs(&pk, 0), p1 = kctx_peak_gmacs(&pk, 1);
                kctx_free(&pk);
                peak8[0] = p0 > peak8[0] ? p0 : peak8[0];
                peak8[1] = p1 > peak8[1] ? p1 : peak8[1];
                printf("  peaks now fp32 %.1f, int8 %.1f GMAC/s; the best in this run: fp32 %.1f, int8 %.1f\n", p0, p1,
                       peak8[0], peak8[1]);
            }
            int trc = table_size(m, sizes[i][0], sizes[i][1], frames, nthreads, paths, np, peak8);
            if (trc < 0) {
                cli_error("table run failed: %s", strerror(-trc));
                arg_model_free(m);
                return 1;
            }
        }
        arg_model_free(m);
        return 0;
    }
    Result r, res[2];
    char label[2][16];
    int nb = both ? 2 : 1, rc = 0;
    double px = (double)w * h;
    printf("%dx%d, %d frames:\n", w, h, frames);
    for (int b = 0; b < nb; b++) {
        if (both)
            g_backend = b == 0 ? ARG_BACKEND_CPU : ARG_BACKEND_VULKAN;
        rc = run(m, w, h, frames, threads, gemm, &res[b], 0);
        if (rc < 0) {
            cli_error("run failed: %s", strerror(-rc));
            arg_model_free(m);
            return 1;
        }
        r = res[b];
        int on_cpu = strncmp(g_backend_name[0], "cpu", 3) == 0;
        int dec8 = is_int8_backend(g_backend_name[1]), enc8 = is_int8_backend(g_backend_name[0]);
        snprintf(label[b], sizeof(label[b]), "%s", on_cpu ? "C" : "Vulkan");
        printf("  backend  %s\n", g_backend_name[0]);
        if (strcmp(g_backend_name[0], g_backend_name[1]))
            printf("  decoder  %s\n", g_backend_name[1]);
        for (int d = 0; d < 2; d++) {
            double fps = d ? r.dec_fps : r.enc_fps, med = d ? r.dec_med_fps : r.enc_med_fps;
            double gmacs = (d ? info->dec_macs_per_pixel : info->enc_macs_per_pixel) * px * med / 1e9;
            printf("  %s   %7.3f fps (median chunk %7.3f)  %7.2f GMAC/s", d ? "decode" : "encode", fps, med, gmacs);
            if (on_cpu && (d ? dec8 : enc8))
                printf(" = %3.0f%% of the int8 peak\n", 100 * gmacs / peak8[1]);
            else if (on_cpu)
                printf(" = %3.0f%% of sgemm, %3.0f%% of the fp32 peak\n", 100 * gmacs / sg, 100 * gmacs / peak8[0]);
            else if (peak > 0)
                printf(" = %5.2f%% of the %.0f GFLOP/s fp32 peak\n", 100 * 2 * gmacs / peak, peak);
            else
                printf("\n");
        }
    }
    if (both)
        printf("  vulkan / cpu: encode %.3fx, decode %.3fx (median chunks)\n", res[1].enc_med_fps / res[0].enc_med_fps,
               res[1].dec_med_fps / res[0].dec_med_fps);
    if (scan && nthreads > 1) {
        Result r1;
        if (run(m, w, h, frames, 1, gemm, &r1, 0) == 0) {
            printf("  1 thread encode %6.2f fps, decode %6.2f fps (median chunk)\n", r1.enc_med_fps,
                   r1.dec_med_fps);
            printf("  speed-up %d threads vs 1: encode %.2fx, decode %.2fx\n", nthreads,
                   r.enc_med_fps / r1.enc_med_fps, r.dec_med_fps / r1.dec_med_fps);
        }
    }
    if (opt.rss[0]) {
        const int a = opt.rss[0], b = opt.rss[1];
        {
            double fa, fb;
            long ra = child_rss_kb(m, w, h, a, threads, gemm, &fa);
            long rb = child_rss_kb(m, w, h, b, threads, gemm, &fb);
            printf("  peak RSS %5d frames: %.1f MiB (encode %.2f fps)\n", a, ra / 1024.0, fa);
            printf("  peak RSS %5d frames: %.1f MiB (encode %.2f fps)\n", b, rb / 1024.0, fb);
            if (ra > 0 && rb > 0)
                printf("  RSS ratio %d/%d frames: %.3f\n", b, a, (double)rb / ra);
        }
    }
    arg_model_free(m);
    /* --backend both: PyTorch against the CPU run */
    if (opt.torch)
        torch_compare(model_path, w, h, frames, nthreads, &res[0], label[0]);
    return 0;
}
