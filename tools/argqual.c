/* argqual: objective quality of a decoded Y4M clip against its reference.
 *
 *   argqual -r REF.y4m -d DIST.y4m [--frames N] [--format text|json|csv]
 *           [--per-frame] [--psnr-only] [-o FILE [-y|-n]]
 *
 * Per plane: PSNR (from the MSE over all pictures), SSIM (Gaussian 11x11,
 * sigma 1.5; mean over pictures), FFmpeg-compatible SSIM (8x8 blocks); and
 * PSNR-YUV = (6 PSNR_Y + PSNR_U + PSNR_V) / 8 and MS-SSIM of Y (mean over
 * pictures). The definitions are in tools/common/metrics.h. */
#include <errno.h>
#include <math.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "metrics.h"
#include "y4m.h"

enum { FMT_TEXT, FMT_JSON, FMT_CSV };

static const CliChoice format_choices[] = {
    { "text", FMT_TEXT }, { "json", FMT_JSON }, { "csv", FMT_CSV }, { NULL, 0 },
};

static struct {
    const char *ref, *dist, *out;
    int fmt, per_frame, psnr_only;
    int64_t max_frames;   /* -1: all */
} opt = { NULL, NULL, NULL, FMT_TEXT, 0, 0, -1 };

static const CliOpt opts[] = {
    { .names = "-r --ref", .kind = CLI_STRING, .dest = &opt.ref, .metavar = "FILE",
      .help = "reference Y4M ('-' for stdin)", .flags = CLI_REQUIRED },
    { .names = "-d --dist", .kind = CLI_STRING, .dest = &opt.dist, .metavar = "FILE",
      .help = "distorted (decoded) Y4M, same size and chroma subsampling", .flags = CLI_REQUIRED },
    CLI_OPT_INT64("--frames -frames:v", &opt.max_frames, 1, 100000000, "N",
                  "compare only the first N pictures (both must have them);\n"
                  "without it both clips must have the same number of pictures"),
    CLI_OPT_ENUM("--format", &opt.fmt, format_choices, "F", "text (default), json or csv"),
    CLI_OPT_FLAG("--per-frame", &opt.per_frame, "also give every picture's values"),
    CLI_OPT_FLAG("--psnr-only", &opt.psnr_only, "skip SSIM and MS-SSIM (faster)"),
    CLI_OPT_STRING("-o --output", &opt.out, "FILE",
                   "write the result to FILE (atomically) instead of stdout"),
    CLI_OPT_OVERWRITE_YES,
    CLI_OPT_OVERWRITE_NO,
    CLI_OPT_END,
};

static const CliTool tool = {
    .name = "argqual",
    .synopsis = "-r REF.y4m -d DIST.y4m [options]",
    .opts = opts,
    .epilog =
        "Metrics (8-bit planes; see tools/common/metrics.h):\n"
        "  psnr_y/u/v   10 log10(255^2 / MSE), MSE over all pictures of the plane (cap 100 dB)\n"
        "  psnr_yuv     (6 psnr_y + psnr_u + psnr_v) / 8     psnr_all: MSE of all samples\n"
        "  ssim_y/u/v   SSIM, Gaussian window 11x11 sigma 1.5, C1=(0.01*255)^2, C2=(0.03*255)^2,\n"
        "               valid positions, mean per picture, then mean over pictures\n"
        "  msssim_y     MS-SSIM, 5 scales, weights 0.0448 0.2856 0.3001 0.2363 0.1333, 2x2 average\n"
        "  ssimff_y/u/v SSIM as ffmpeg's ssim filter defines it (8x8 blocks on a 4x4 grid)\n",
};

/* Values of one picture (or of the whole clip). NAN marks "not defined". */
typedef struct Quality {
    double psnr[3], psnr_yuv, psnr_all;
    double ssim[3], ssimff[3], msssim;
} Quality;

/* A number, or null / an empty CSV field / "n/a" when not defined. */
static void num(FILE *f, int fmt, const char *spec, double v)
{
    if (v != v)
        fputs(fmt == FMT_JSON ? "null" : fmt == FMT_CSV ? "" : "n/a", f);
    else
        fprintf(f, spec, v);
}

static void json_num(CliJson *j, const char *key, double v, const char *spec)
{
    cli_json_key(j, key);
    cli_json_double(j, v, spec);
}

static void json_quality(CliJson *j, const Quality *q, int psnr_only)
{
    static const char *const psnr_keys[3] = { "psnr_y", "psnr_u", "psnr_v" };
    static const char *const ssim_keys[3] = { "ssim_y", "ssim_u", "ssim_v" };
    static const char *const ssimff_keys[3] = { "ssimff_y", "ssimff_u", "ssimff_v" };
    for (int p = 0; p < 3; p++)
        json_num(j, psnr_keys[p], q->psnr[p], "%.6f");
    json_num(j, "psnr_yuv", q->psnr_yuv, "%.6f");
    json_num(j, "psnr_all", q->psnr_all, "%.6f");
    if (psnr_only)
        return;
    for (int p = 0; p < 3; p++)
        json_num(j, ssim_keys[p], q->ssim[p], "%.8f");
    json_num(j, "msssim_y", q->msssim, "%.8f");
    for (int p = 0; p < 3; p++)
        json_num(j, ssimff_keys[p], q->ssimff[p], "%.8f");
}

static void csv_header(FILE *f, int psnr_only)
{
    fputs("frame,psnr_y,psnr_u,psnr_v,psnr_yuv,psnr_all", f);
    if (!psnr_only)
        fputs(",ssim_y,ssim_u,ssim_v,msssim_y,ssimff_y,ssimff_u,ssimff_v", f);
    fputc('\n', f);
}

static void csv_row(FILE *f, const char *frame, const Quality *q, int psnr_only)
{
    fputs(frame, f);
    for (int p = 0; p < 3; p++) {
        fputc(',', f);
        num(f, FMT_CSV, "%.6f", q->psnr[p]);
    }
    fputc(',', f);
    num(f, FMT_CSV, "%.6f", q->psnr_yuv);
    fputc(',', f);
    num(f, FMT_CSV, "%.6f", q->psnr_all);
    if (!psnr_only) {
        for (int p = 0; p < 3; p++) {
            fputc(',', f);
            num(f, FMT_CSV, "%.8f", q->ssim[p]);
        }
        fputc(',', f);
        num(f, FMT_CSV, "%.8f", q->msssim);
        for (int p = 0; p < 3; p++) {
            fputc(',', f);
            num(f, FMT_CSV, "%.8f", q->ssimff[p]);
        }
    }
    fputc('\n', f);
}

static void text_quality(FILE *f, const Quality *q, int psnr_only)
{
    fputs("PSNR     Y ", f);
    num(f, FMT_TEXT, "%.4f", q->psnr[0]);
    fputs("  U ", f);
    num(f, FMT_TEXT, "%.4f", q->psnr[1]);
    fputs("  V ", f);
    num(f, FMT_TEXT, "%.4f", q->psnr[2]);
    fputs("  YUV(6:1:1) ", f);
    num(f, FMT_TEXT, "%.4f", q->psnr_yuv);
    fputs("  all ", f);
    num(f, FMT_TEXT, "%.4f", q->psnr_all);
    fputs(" dB\n", f);
    if (psnr_only)
        return;
    fputs("SSIM     Y ", f);
    num(f, FMT_TEXT, "%.6f", q->ssim[0]);
    fputs("  U ", f);
    num(f, FMT_TEXT, "%.6f", q->ssim[1]);
    fputs("  V ", f);
    num(f, FMT_TEXT, "%.6f", q->ssim[2]);
    fputs("  (Gaussian 11x11, sigma 1.5)\n", f);
    fputs("MS-SSIM  Y ", f);
    num(f, FMT_TEXT, "%.6f", q->msssim);
    fputs("  (5 scales)\n", f);
    fputs("SSIM-ff  Y ", f);
    num(f, FMT_TEXT, "%.6f", q->ssimff[0]);
    fputs("  U ", f);
    num(f, FMT_TEXT, "%.6f", q->ssimff[1]);
    fputs("  V ", f);
    num(f, FMT_TEXT, "%.6f", q->ssimff[2]);
    fputs("  (ffmpeg's ssim filter: 8x8 blocks, 4x4 grid)\n", f);
}

int main(int argc, char **argv)
{
    cli_parse_or_exit(&tool, argc, argv);
    const char *ref_path = opt.ref, *dist_path = opt.dist, *out_path = opt.out;
    const int fmt = opt.fmt, per_frame = opt.per_frame, psnr_only = opt.psnr_only;
    const long max_frames = (long)opt.max_frames;
    if (!strcmp(ref_path, "-") && !strcmp(dist_path, "-")) {
        cli_error("only one input can be standard input");
        return CLI_EXIT_USAGE;
    }
    /* refuse an existing output before the work */
    if (out_path && cli_check_overwrite(out_path) < 0)
        return CLI_EXIT_FAIL;
    cli_signals_install(0);

    char err[512];
    Y4mReader *rr = NULL, *rd = NULL;
    Y4mImage ri = { 0 }, di = { 0 };
    Quality *frames_q = NULL;
    size_t frames_cap = 0;
    int ret = 1, rc;
    if ((rc = y4m_reader_open(&rr, ref_path, err, sizeof(err))) < 0) {
        cli_error("%s: %s", ref_path, err);
        return 1;
    }
    if ((rc = y4m_reader_open(&rd, dist_path, err, sizeof(err))) < 0) {
        cli_error("%s: %s", dist_path, err);
        y4m_reader_close(rr);
        return 1;
    }
    const Y4mInfo *a = y4m_reader_info(rr), *b = y4m_reader_info(rd);
    if (a->width != b->width || a->height != b->height) {
        cli_error("sizes differ: %s is %dx%d, %s is %dx%d", ref_path, a->width, a->height,
                dist_path, b->width, b->height);
        goto done;
    }
    int ax, ay, bx, by;
    if (y4m_chroma_shifts(a->chroma, &ax, &ay) < 0 || y4m_chroma_shifts(b->chroma, &bx, &by) < 0 || ax != bx ||
        ay != by) {
        cli_error("chroma layouts differ: %s is %s, %s is %s", ref_path,
                y4m_chroma_name(a->chroma), dist_path, y4m_chroma_name(b->chroma));
        goto done;
    }
    if (a->chroma != b->chroma)
        cli_info("note: chroma siting differs (%s is %s, %s is %s); the planes are compared "
                "sample by sample", ref_path, y4m_chroma_name(a->chroma), dist_path, y4m_chroma_name(b->chroma));
    if (y4m_image_alloc(&ri, a->width, a->height, a->chroma) < 0 ||
        y4m_image_alloc(&di, b->width, b->height, b->chroma) < 0) {
        cli_error("out of memory");
        goto done;
    }

    PsnrAcc acc;
    psnr_acc_init(&acc);
    double sum_ssim[3] = { 0, 0, 0 }, sum_ssimff[3] = { 0, 0, 0 }, sum_msssim = 0;
    int have_ssimff[3], have_msssim = 0;
    for (int p = 0; p < 3; p++)
        have_ssimff[p] = ri.w[p] >= 8 && ri.h[p] >= 8;
    have_msssim = ri.w[0] >= (1 << (MSSSIM_SCALES - 1)) && ri.h[0] >= (1 << (MSSSIM_SCALES - 1));
    long n = 0;
    for (;;) {
        if (max_frames >= 0 && n >= max_frames)
            break;
        int ga = y4m_reader_read(rr, &ri);
        if (ga < 0) {
            cli_error("%s: picture %ld: %s", ref_path, n, y4m_reader_error(rr));
            goto done;
        }
        int gb = y4m_reader_read(rd, &di);
        if (gb < 0) {
            cli_error("%s: picture %ld: %s", dist_path, n, y4m_reader_error(rd));
            goto done;
        }
        if (ga == 0 && gb == 0 && max_frames < 0)
            break;
        if (ga == 0 || gb == 0) {
            const char *shorter = ga == 0 ? ref_path : dist_path;
            if (max_frames >= 0)
                cli_error("%s has only %ld pictures, fewer than --frames %ld", shorter, n,
                        max_frames);
            else
                cli_error("%s ends after %ld pictures but the other clip goes on "
                        "(compare a common prefix with --frames N)", shorter, n);
            goto done;
        }
        Quality q;
        uint64_t sse_all = 0, cnt_all = 0;
        for (int p = 0; p < 3; p++) {
            uint64_t sse = metrics_sse_u8(ri.data[p], ri.stride[p], di.data[p], di.stride[p], ri.w[p], ri.h[p]);
            uint64_t cnt = (uint64_t)ri.w[p] * (uint64_t)ri.h[p];
            psnr_acc_add(&acc, p, sse, cnt);
            q.psnr[p] = metrics_psnr((double)sse / (double)cnt);
            q.ssim[p] = q.ssimff[p] = NAN;
            sse_all += sse;
            cnt_all += cnt;
        }
        q.psnr_yuv = metrics_psnr_yuv611(q.psnr[0], q.psnr[1], q.psnr[2]);
        q.psnr_all = metrics_psnr((double)sse_all / (double)cnt_all);
        q.msssim = NAN;
        if (!psnr_only) {
            for (int p = 0; p < 3; p++) {
                rc = metrics_ssim_u8(ri.data[p], ri.stride[p], di.data[p], di.stride[p], ri.w[p], ri.h[p],
                                     &q.ssim[p]);
                if (rc == 0 && have_ssimff[p])
                    rc = metrics_ssim_blocks_u8(ri.data[p], ri.stride[p], di.data[p], di.stride[p], ri.w[p],
                                                ri.h[p], &q.ssimff[p]);
                if (rc < 0)
                    goto fail_rc;
                sum_ssim[p] += q.ssim[p];
                if (have_ssimff[p])
                    sum_ssimff[p] += q.ssimff[p];
            }
            if (have_msssim) {
                rc = metrics_msssim_u8(ri.data[0], ri.stride[0], di.data[0], di.stride[0], ri.w[0], ri.h[0],
                                       &q.msssim);
                if (rc < 0)
                    goto fail_rc;
                sum_msssim += q.msssim;
            }
        }
        if (per_frame) {
            if ((size_t)n >= frames_cap) {
                size_t cap = frames_cap ? 2 * frames_cap : 64;
                Quality *nq = realloc(frames_q, cap * sizeof(*nq));
                if (!nq) {
                    cli_error("out of memory");
                    goto done;
                }
                frames_q = nq;
                frames_cap = cap;
            }
            frames_q[n] = q;
        }
        n++;
    }
    if (n == 0) {
        cli_error("no picture to compare");
        goto done;
    }

    Quality all;
    for (int p = 0; p < 3; p++) {
        all.psnr[p] = psnr_acc_plane(&acc, p);
        all.ssim[p] = psnr_only ? NAN : sum_ssim[p] / (double)n;
        all.ssimff[p] = psnr_only || !have_ssimff[p] ? NAN : sum_ssimff[p] / (double)n;
    }
    all.psnr_yuv = metrics_psnr_yuv611(all.psnr[0], all.psnr[1], all.psnr[2]);
    all.psnr_all = psnr_acc_all(&acc);
    all.msssim = psnr_only || !have_msssim ? NAN : sum_msssim / (double)n;

    CliOut o;
    if (cli_out_open(&o, out_path ? out_path : "-") < 0)
        goto done;
    FILE *f = o.f;
    if (fmt == FMT_JSON) {
        CliJson j;
        cli_json_init(&j, f, per_frame ? 2 : 1); /* a member or picture a line */
        cli_json_object_begin(&j);
        cli_json_key(&j, "ref");
        cli_json_string(&j, ref_path);
        cli_json_key(&j, "dist");
        cli_json_string(&j, dist_path);
        cli_json_key(&j, "width");
        cli_json_int(&j, a->width);
        cli_json_key(&j, "height");
        cli_json_int(&j, a->height);
        cli_json_key(&j, "chroma");
        cli_json_string(&j, y4m_chroma_name(a->chroma));
        cli_json_key(&j, "frames");
        cli_json_int(&j, n);
        json_quality(&j, &all, psnr_only);
        if (per_frame) {
            cli_json_key(&j, "per_frame");
            cli_json_array_begin(&j);
            for (long i = 0; i < n; i++) {
                cli_json_object_begin(&j);
                cli_json_key(&j, "frame");
                cli_json_int(&j, i);
                json_quality(&j, &frames_q[i], psnr_only);
                cli_json_object_end(&j);
            }
            cli_json_array_end(&j);
        }
        cli_json_object_end(&j);
        cli_json_finish(&j);
    } else if (fmt == FMT_CSV) {
        csv_header(f, psnr_only);
        if (per_frame) {
            for (long i = 0; i < n; i++) {
                char idx[32];
                snprintf(idx, sizeof(idx), "%ld", i);
                csv_row(f, idx, &frames_q[i], psnr_only);
            }
        }
        csv_row(f, "all", &all, psnr_only);
    } else {
        fprintf(f, "argqual: %s vs %s: %ld pictures %dx%d %s\n", ref_path, dist_path, n, a->width, a->height,
                y4m_chroma_name(a->chroma));
        if (per_frame) {
            for (long i = 0; i < n; i++) {
                fprintf(f, "picture %ld\n", i);
                text_quality(f, &frames_q[i], psnr_only);
            }
            fputs("all pictures\n", f);
        }
        text_quality(f, &all, psnr_only);
    }
    if (cli_out_commit(&o) < 0)
        goto done;
    ret = 0;
    goto done;
fail_rc:
    cli_error("%s", rc == -ENOMEM ? "out of memory" : "cannot compute SSIM on these planes");
done:
    free(frames_q);
    y4m_image_free(&ri);
    y4m_image_free(&di);
    y4m_reader_close(rr);
    y4m_reader_close(rd);
    return ret;
}
