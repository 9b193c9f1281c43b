/* argqual: objective quality of a decoded Y4M clip against its reference.
 *
 *   argqual -r REF.y4m -d DIST.y4m [--frames N] [--format text|json|csv]
 *           [--per-frame] [--psnr-only] [-o FILE]
 *
 * Per plane: PSNR (from the MSE over all pictures), SSIM (Gaussian 11x11,
 * sigma 1.5; mean over pictures), FFmpeg-compatible SSIM (8x8 blocks); and
 * PSNR-YUV = (6 PSNR_Y + PSNR_U + PSNR_V) / 8 and MS-SSIM of Y (mean over
 * pictures). The definitions are in tools/common/metrics.h. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "metrics.h"
#include "y4m.h"

enum { FMT_TEXT, FMT_JSON, FMT_CSV };

static void usage(FILE *f)
{
    fprintf(f,
            "usage: argqual -r REF.y4m -d DIST.y4m [options]\n"
            "  -r, --ref FILE    reference Y4M ('-' for stdin)\n"
            "  -d, --dist FILE   distorted (decoded) Y4M, same size and chroma subsampling\n"
            "  --frames N        compare only the first N pictures (both must have them);\n"
            "                    without it both clips must have the same number of pictures\n"
            "  --format F        text (default), json or csv\n"
            "  --per-frame       also give every picture's values\n"
            "  --psnr-only       skip SSIM and MS-SSIM (faster)\n"
            "  -o FILE           write the result to FILE (atomically) instead of stdout\n"
            "Metrics (8-bit planes; see tools/common/metrics.h):\n"
            "  psnr_y/u/v   10 log10(255^2 / MSE), MSE over all pictures of the plane (cap 100 dB)\n"
            "  psnr_yuv     (6 psnr_y + psnr_u + psnr_v) / 8     psnr_all: MSE of all samples\n"
            "  ssim_y/u/v   SSIM, Gaussian window 11x11 sigma 1.5, C1=(0.01*255)^2, C2=(0.03*255)^2,\n"
            "               valid positions, mean per picture, then mean over pictures\n"
            "  msssim_y     MS-SSIM, 5 scales, weights 0.0448 0.2856 0.3001 0.2363 0.1333, 2x2 average\n"
            "  ssimff_y/u/v SSIM as ffmpeg's ssim filter defines it (8x8 blocks on a 4x4 grid)\n");
}

/* Values of one picture (or of the whole clip). NAN marks "not defined". */
typedef struct Quality {
    double psnr[3], psnr_yuv, psnr_all;
    double ssim[3], ssimff[3], msssim;
} Quality;

typedef struct Output {
    FILE *f;
    char tmp[4200];
    const char *path;
} Output;

static int output_open(Output *o, const char *path)
{
    memset(o, 0, sizeof(*o));
    if (!path || !strcmp(path, "-")) {
        o->f = stdout;
        return 0;
    }
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        /* A device or FIFO: write to it directly, never replace it. */
        o->f = fopen(path, "w");
        return o->f ? 0 : -errno;
    }
    if (strlen(path) > 4000)
        return -ENAMETOOLONG;
    snprintf(o->tmp, sizeof(o->tmp), "%s.tmp.XXXXXX", path);
    int fd = mkstemp(o->tmp);
    if (fd < 0)
        return -errno;
    fchmod(fd, 0644);
    o->f = fdopen(fd, "w");
    if (!o->f) {
        int e = -errno;
        close(fd);
        unlink(o->tmp);
        return e;
    }
    o->path = path;
    return 0;
}

static int output_close(Output *o, int ok)
{
    if (o->f == stdout)
        return fflush(stdout) == 0 && ok ? 0 : -EIO;
    int rc = fclose(o->f) == 0 && ok ? 0 : -EIO;
    if (o->path) {
        if (rc == 0 && rename(o->tmp, o->path) != 0)
            rc = -errno;
        if (rc != 0)
            unlink(o->tmp);
    }
    return rc;
}

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* A number, or null / an empty CSV field / "n/a" when not defined. */
static void num(FILE *f, int fmt, const char *spec, double v)
{
    if (v != v)
        fputs(fmt == FMT_JSON ? "null" : fmt == FMT_CSV ? "" : "n/a", f);
    else
        fprintf(f, spec, v);
}

static const char *const plane_names[3] = { "y", "u", "v" };

static void json_quality(FILE *f, const Quality *q, int psnr_only)
{
    for (int p = 0; p < 3; p++) {
        fprintf(f, "\"psnr_%s\": ", plane_names[p]);
        num(f, FMT_JSON, "%.6f", q->psnr[p]);
        fputs(", ", f);
    }
    fputs("\"psnr_yuv\": ", f);
    num(f, FMT_JSON, "%.6f", q->psnr_yuv);
    fputs(", \"psnr_all\": ", f);
    num(f, FMT_JSON, "%.6f", q->psnr_all);
    if (psnr_only)
        return;
    for (int p = 0; p < 3; p++) {
        fprintf(f, ", \"ssim_%s\": ", plane_names[p]);
        num(f, FMT_JSON, "%.8f", q->ssim[p]);
    }
    fputs(", \"msssim_y\": ", f);
    num(f, FMT_JSON, "%.8f", q->msssim);
    for (int p = 0; p < 3; p++) {
        fprintf(f, ", \"ssimff_%s\": ", plane_names[p]);
        num(f, FMT_JSON, "%.8f", q->ssimff[p]);
    }
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

static int parse_count(const char *s, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 1 || v > 100000000)
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    const char *ref_path = NULL, *dist_path = NULL, *out_path = NULL;
    int fmt = FMT_TEXT, per_frame = 0, psnr_only = 0;
    long max_frames = -1;
    static const struct option lo[] = {
        { "ref", required_argument, 0, 'r' },       { "dist", required_argument, 0, 'd' },
        { "frames", required_argument, 0, 'F' },    { "format", required_argument, 0, 'f' },
        { "per-frame", no_argument, 0, 'p' },       { "psnr-only", no_argument, 0, 'P' },
        { "help", no_argument, 0, 'h' },            { 0, 0, 0, 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, "r:d:o:h", lo, NULL)) != -1) {
        switch (c) {
        case 'r': ref_path = optarg; break;
        case 'd': dist_path = optarg; break;
        case 'o': out_path = optarg; break;
        case 'F':
            if (parse_count(optarg, &max_frames) < 0) {
                fprintf(stderr, "argqual: --frames needs a positive count, not '%s'\n", optarg);
                return 2;
            }
            break;
        case 'f':
            if (!strcmp(optarg, "text"))
                fmt = FMT_TEXT;
            else if (!strcmp(optarg, "json"))
                fmt = FMT_JSON;
            else if (!strcmp(optarg, "csv"))
                fmt = FMT_CSV;
            else {
                fprintf(stderr, "argqual: unknown format '%s' (text, json or csv)\n", optarg);
                return 2;
            }
            break;
        case 'p': per_frame = 1; break;
        case 'P': psnr_only = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc || !ref_path || !dist_path) {
        if (optind != argc)
            fprintf(stderr, "argqual: unexpected argument '%s'\n", argv[optind]);
        else
            fprintf(stderr, "argqual: need both -r REF.y4m and -d DIST.y4m\n");
        usage(stderr);
        return 2;
    }
    if (!strcmp(ref_path, "-") && !strcmp(dist_path, "-")) {
        fprintf(stderr, "argqual: only one input can be standard input\n");
        return 2;
    }

    char err[512];
    Y4mReader *rr = NULL, *rd = NULL;
    Y4mImage ri = { 0 }, di = { 0 };
    Quality *frames_q = NULL;
    size_t frames_cap = 0;
    int ret = 1, rc;
    if ((rc = y4m_reader_open(&rr, ref_path, err, sizeof(err))) < 0) {
        fprintf(stderr, "argqual: %s: %s\n", ref_path, err);
        return 1;
    }
    if ((rc = y4m_reader_open(&rd, dist_path, err, sizeof(err))) < 0) {
        fprintf(stderr, "argqual: %s: %s\n", dist_path, err);
        y4m_reader_close(rr);
        return 1;
    }
    const Y4mInfo *a = y4m_reader_info(rr), *b = y4m_reader_info(rd);
    if (a->width != b->width || a->height != b->height) {
        fprintf(stderr, "argqual: sizes differ: %s is %dx%d, %s is %dx%d\n", ref_path, a->width, a->height,
                dist_path, b->width, b->height);
        goto done;
    }
    int ax, ay, bx, by;
    if (y4m_chroma_shifts(a->chroma, &ax, &ay) < 0 || y4m_chroma_shifts(b->chroma, &bx, &by) < 0 || ax != bx ||
        ay != by) {
        fprintf(stderr, "argqual: chroma layouts differ: %s is %s, %s is %s\n", ref_path,
                y4m_chroma_name(a->chroma), dist_path, y4m_chroma_name(b->chroma));
        goto done;
    }
    if (a->chroma != b->chroma)
        fprintf(stderr, "argqual: note: chroma siting differs (%s is %s, %s is %s); the planes are compared "
                "sample by sample\n", ref_path, y4m_chroma_name(a->chroma), dist_path, y4m_chroma_name(b->chroma));
    if (y4m_image_alloc(&ri, a->width, a->height, a->chroma) < 0 ||
        y4m_image_alloc(&di, b->width, b->height, b->chroma) < 0) {
        fprintf(stderr, "argqual: out of memory\n");
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
            fprintf(stderr, "argqual: %s: picture %ld: %s\n", ref_path, n, y4m_reader_error(rr));
            goto done;
        }
        int gb = y4m_reader_read(rd, &di);
        if (gb < 0) {
            fprintf(stderr, "argqual: %s: picture %ld: %s\n", dist_path, n, y4m_reader_error(rd));
            goto done;
        }
        if (ga == 0 && gb == 0 && max_frames < 0)
            break;
        if (ga == 0 || gb == 0) {
            const char *shorter = ga == 0 ? ref_path : dist_path;
            if (max_frames >= 0)
                fprintf(stderr, "argqual: %s has only %ld pictures, fewer than --frames %ld\n", shorter, n,
                        max_frames);
            else
                fprintf(stderr, "argqual: %s ends after %ld pictures but the other clip goes on "
                        "(compare a common prefix with --frames N)\n", shorter, n);
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
                    fprintf(stderr, "argqual: out of memory\n");
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
        fprintf(stderr, "argqual: no picture to compare\n");
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

    Output o;
    if ((rc = output_open(&o, out_path)) < 0) {
        fprintf(stderr, "argqual: cannot write %s: %s\n", out_path, strerror(-rc));
        goto done;
    }
    FILE *f = o.f;
    if (fmt == FMT_JSON) {
        fputs("{\"ref\": ", f);
        json_string(f, ref_path);
        fputs(", \"dist\": ", f);
        json_string(f, dist_path);
        fprintf(f, ", \"width\": %d, \"height\": %d, \"chroma\": \"%s\", \"frames\": %ld,\n ", a->width, a->height,
                y4m_chroma_name(a->chroma), n);
        json_quality(f, &all, psnr_only);
        if (per_frame) {
            fputs(",\n \"per_frame\": [", f);
            for (long i = 0; i < n; i++) {
                fprintf(f, "%s\n  {\"frame\": %ld, ", i ? "," : "", i);
                json_quality(f, &frames_q[i], psnr_only);
                fputc('}', f);
            }
            fputs("]", f);
        }
        fputs("}\n", f);
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
    int werr = ferror(f);
    if ((rc = output_close(&o, !werr)) < 0) {
        fprintf(stderr, "argqual: cannot write %s: %s\n", out_path ? out_path : "standard output", strerror(-rc));
        goto done;
    }
    ret = 0;
    goto done;
fail_rc:
    fprintf(stderr, "argqual: %s\n", rc == -ENOMEM ? "out of memory" : "cannot compute SSIM on these planes");
done:
    free(frames_q);
    y4m_image_free(&ri);
    y4m_image_free(&di);
    y4m_reader_close(rr);
    y4m_reader_close(rd);
    return ret;
}
