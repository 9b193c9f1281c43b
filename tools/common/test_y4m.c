/*
 * Unit test of tools/common: Y4M reader and writer, colour conversion, PSNR.
 * Prints "N passed, M failed" and exits non-zero when anything failed.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* fmemopen, mkdtemp */
#endif

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "metrics.h"
#include "y4m.h"

static int n_pass, n_fail;

#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        if (cond) {                                                           \
            n_pass++;                                                         \
        } else {                                                              \
            n_fail++;                                                         \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);   \
            fprintf(stderr, __VA_ARGS__);                                     \
            fputc('\n', stderr);                                              \
        }                                                                     \
    } while (0)

static uint32_t rng_state = 12345u;
static uint32_t rnd(void)
{
    /* xorshift32: deterministic test data */
    uint32_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return rng_state = x;
}

static char tmpdir[256];

static int count_dir_entries(void)
{
    DIR *d = opendir(tmpdir);
    int n = 0;
    struct dirent *e;
    if (!d)
        return -1;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static void fill_random(Y4mImage *img)
{
    for (int p = 0; p < 3; p++)
        for (int y = 0; y < img->h[p]; y++)
            for (int x = 0; x < img->w[p]; x++)
                img->data[p][y * img->stride[p] + x] = (uint8_t)(rnd() >> 24);
}

static int images_equal(const Y4mImage *a, const Y4mImage *b)
{
    for (int p = 0; p < 3; p++) {
        if (a->w[p] != b->w[p] || a->h[p] != b->h[p])
            return 0;
        for (int y = 0; y < a->h[p]; y++)
            if (memcmp(a->data[p] + y * a->stride[p], b->data[p] + y * b->stride[p],
                       (size_t)a->w[p]))
                return 0;
    }
    return 1;
}

/* --------------------------------------------------------- round trip */

static void test_round_trip(int chroma, int w, int h, int nframes, int range)
{
    char path[512], err[512];
    snprintf(path, sizeof(path), "%s/rt.y4m", tmpdir);
    Y4mInfo info = { .width = w, .height = h, .fps_num = 30000, .fps_den = 1001,
                     .par_num = 1, .par_den = 1, .chroma = chroma, .range = range };
    Y4mImage src[4], dst;
    Y4mWriter *wr = NULL;
    int ret = y4m_writer_open(&wr, path, &info, err, sizeof(err));
    CHECK(ret == 0, "writer_open: %d %s", ret, err);
    if (ret)
        return;
    CHECK(access(path, F_OK) != 0, "final file exists before close");
    for (int i = 0; i < nframes; i++) {
        ret = y4m_image_alloc(&src[i], w, h, chroma);
        CHECK(ret == 0, "alloc %d", ret);
        fill_random(&src[i]);
        ret = y4m_writer_write(wr, &src[i]);
        CHECK(ret == 0, "write %d: %s", ret, y4m_writer_error(wr));
    }
    ret = y4m_writer_close(wr, err, sizeof(err));
    CHECK(ret == 0, "writer_close: %d %s", ret, err);
    CHECK(count_dir_entries() == 1, "expected only rt.y4m in %s, found %d entries", tmpdir,
          count_dir_entries());

    Y4mReader *rd = NULL;
    ret = y4m_reader_open(&rd, path, err, sizeof(err));
    CHECK(ret == 0, "reader_open: %d %s", ret, err);
    if (!ret) {
        const Y4mInfo *ri = y4m_reader_info(rd);
        CHECK(ri->width == w && ri->height == h && ri->fps_num == 30000 && ri->fps_den == 1001 &&
              ri->par_num == 1 && ri->par_den == 1 && ri->chroma == chroma && ri->range == range,
              "info mismatch: %dx%d F%d:%d A%d:%d C%d R%d", ri->width, ri->height, ri->fps_num,
              ri->fps_den, ri->par_num, ri->par_den, ri->chroma, ri->range);
        ret = y4m_image_alloc(&dst, w, h, chroma);
        CHECK(ret == 0, "alloc");
        for (int i = 0; i < nframes; i++) {
            ret = y4m_reader_read(rd, &dst);
            CHECK(ret == 1, "read frame %d: %d %s", i, ret, y4m_reader_error(rd));
            CHECK(ret == 1 && images_equal(&src[i], &dst), "frame %d differs (%s %dx%d)", i,
                  y4m_chroma_name(chroma), w, h);
        }
        ret = y4m_reader_read(rd, &dst);
        CHECK(ret == 0, "expected end of stream, got %d", ret);
        CHECK(y4m_reader_frames(rd) == nframes, "frame count");
        y4m_image_free(&dst);
        y4m_reader_close(rd);
    }
    for (int i = 0; i < nframes; i++)
        y4m_image_free(&src[i]);
    unlink(path);
}

static void test_writer_abort(void)
{
    char path[512], err[512];
    snprintf(path, sizeof(path), "%s/abort.y4m", tmpdir);
    Y4mInfo info = { .width = 8, .height = 8, .fps_num = 25, .fps_den = 1, .chroma = Y4M_C420JPEG };
    Y4mWriter *wr = NULL;
    Y4mImage img;
    int ret = y4m_writer_open(&wr, path, &info, err, sizeof(err));
    CHECK(ret == 0, "open %s", err);
    if (ret)
        return;
    y4m_image_alloc(&img, 8, 8, Y4M_C420JPEG);
    fill_random(&img);
    CHECK(y4m_writer_write(wr, &img) == 0, "write");
    CHECK(count_dir_entries() == 1, "temporary file not present while writing");
    y4m_writer_abort(wr);
    CHECK(count_dir_entries() == 0, "abort left %d files", count_dir_entries());

    /* Wrong image size is refused. */
    ret = y4m_writer_open(&wr, path, &info, err, sizeof(err));
    CHECK(ret == 0, "open");
    if (!ret) {
        Y4mImage big;
        y4m_image_alloc(&big, 10, 8, Y4M_C420JPEG);
        CHECK(y4m_writer_write(wr, &big) == -EINVAL, "size mismatch accepted");
        y4m_image_free(&big);
        y4m_writer_abort(wr);
    }
    /* Invalid parameters. */
    Y4mInfo bad = info;
    bad.width = 0;
    CHECK(y4m_writer_open(&wr, path, &bad, err, sizeof(err)) == -EINVAL, "W0 accepted");
    bad = info;
    bad.fps_den = 0;
    CHECK(y4m_writer_open(&wr, path, &bad, err, sizeof(err)) == -EINVAL, "F25:0 accepted");
    CHECK(count_dir_entries() == 0, "failed opens left files");
    /* Devices are written directly, never replaced or removed. */
    {
        struct stat st;
        ret = y4m_writer_open(&wr, "/dev/null", &info, err, sizeof(err));
        CHECK(ret == 0, "open /dev/null: %s", err);
        if (!ret) {
            CHECK(y4m_writer_write(wr, &img) == 0, "write /dev/null");
            CHECK(y4m_writer_close(wr, err, sizeof(err)) == 0, "close /dev/null: %s", err);
        }
        CHECK(stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode), "/dev/null is no longer a device");
        ret = y4m_writer_open(&wr, "/dev/null", &info, err, sizeof(err));
        if (!ret)
            y4m_writer_abort(wr);
        CHECK(stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode), "abort removed /dev/null");
        if (stat("/dev/full", &st) == 0 && S_ISCHR(st.st_mode)) {
            ret = y4m_writer_open(&wr, "/dev/full", &info, err, sizeof(err));
            if (!ret) {
                for (int i = 0; i < 100 && y4m_writer_write(wr, &img) == 0; i++)
                    ;
                ret = y4m_writer_close(wr, err, sizeof(err));
            }
            CHECK(ret == -ENOSPC, "write to /dev/full gave %d (%s)", ret, err);
            CHECK(stat("/dev/full", &st) == 0 && S_ISCHR(st.st_mode), "/dev/full removed");
        }
        ret = y4m_writer_open(&wr, tmpdir, &info, err, sizeof(err));
        CHECK(ret == -EISDIR, "directory as output gave %d", ret);
    }
    /* A directory that does not exist. */
    char nodir[600];
    snprintf(nodir, sizeof(nodir), "%s/no/such/dir.y4m", tmpdir);
    ret = y4m_writer_open(&wr, nodir, &info, err, sizeof(err));
    CHECK(ret == -ENOENT, "missing directory: %d", ret);
    y4m_image_free(&img);
}

/* ------------------------------------------------- header validation */

/* Open a stream from memory; returns the open result (reader closed). If
 * frames >= 0, also reads frames until the end and returns the first
 * negative result, or the number of frames read. */
static int parse_mem(const char *data, size_t len, int read_frames, char *err, size_t errlen)
{
    FILE *f = fmemopen((void *)data, len, "rb");
    if (!f)
        return -errno;
    Y4mReader *r = NULL;
    int ret = y4m_reader_open_file(&r, f, 1, "mem", err, errlen);
    if (ret < 0 || !read_frames) {
        y4m_reader_close(r);
        return ret;
    }
    const Y4mInfo *in = y4m_reader_info(r);
    Y4mImage img;
    ret = y4m_image_alloc(&img, in->width, in->height, in->chroma);
    if (ret == 0) {
        int n = 0;
        while ((ret = y4m_reader_read(r, &img)) == 1)
            n++;
        if (ret == 0)
            ret = n;
        else
            snprintf(err, errlen, "%s", y4m_reader_error(r));
    }
    y4m_image_free(&img);
    y4m_reader_close(r);
    return ret;
}

static int parse_str(const char *s, int read_frames)
{
    char err[512] = "";
    int ret = parse_mem(s, strlen(s), read_frames, err, sizeof(err));
    if (ret < 0 && err[0] == '\0')
        fprintf(stderr, "  (no error message for: %.40s)\n", s);
    return ret;
}

static void test_headers(void)
{
    char err[512];
    /* Valid headers. */
    CHECK(parse_str("YUV4MPEG2 W2 H2 F25:1\n", 0) == 0, "minimal header");
    CHECK(parse_str("YUV4MPEG2 W2 H2 F25:1 Ip A0:0 C420jpeg XYSCSS=420JPEG\n", 0) == 0, "ffmpeg header");
    CHECK(parse_str("YUV4MPEG2 W2 H2 F25:1 C420 Zfoo Qbar\n", 0) == 0, "unknown tags ignored");
    CHECK(parse_str("YUV4MPEG2 W16384 H1 F1:1 C444\n", 0) == 0, "W16384");
    /* Each of these must be refused with -EINVAL. */
    static const char *const bad[] = {
        "",                                         /* empty */
        "YUV4MPEG2 W2 H2 F25:1",                    /* no newline */
        "YUV4MPEG W2 H2 F25:1\n",                   /* wrong magic */
        "YUV4MPEG2W2 H2 F25:1\n",                   /* magic not followed by space */
        "YUV4MPEG2 W0 H2 F25:1\n",                  /* W = 0 */
        "YUV4MPEG2 W2 H0 F25:1\n",                  /* H = 0 */
        "YUV4MPEG2 W16385 H2 F25:1\n",              /* W too large */
        "YUV4MPEG2 W99999999999999999999 H2 F25:1\n", /* W overflows */
        "YUV4MPEG2 W-2 H2 F25:1\n",                 /* negative */
        "YUV4MPEG2 W2x H2 F25:1\n",                 /* junk after number */
        "YUV4MPEG2 W H2 F25:1\n",                   /* no value */
        "YUV4MPEG2 H2 F25:1\n",                     /* no W */
        "YUV4MPEG2 W2 F25:1\n",                     /* no H */
        "YUV4MPEG2 W2 H2\n",                        /* no F */
        "YUV4MPEG2 W2 H2 F25\n",                    /* F without den */
        "YUV4MPEG2 W2 H2 F0:1\n",                   /* F zero */
        "YUV4MPEG2 W2 H2 F25:0\n",                  /* F den zero */
        "YUV4MPEG2 W2 H2 F25:1 It\n",               /* interlaced */
        "YUV4MPEG2 W2 H2 F25:1 Im\n",               /* mixed */
        "YUV4MPEG2 W2 H2 F25:1 C420p10\n",          /* 10-bit */
        "YUV4MPEG2 W2 H2 F25:1 Cmono\n",            /* mono */
        "YUV4MPEG2 W2 H2 F25:1 C444alpha\n",        /* alpha */
        "YUV4MPEG2 W2 H2 F25:1 A1\n",               /* aspect not N:D */
        "YUV4MPEG2 W2 W2 H2 F25:1\n",               /* duplicate */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int r = parse_str(bad[i], 0);
        CHECK(r == -EINVAL, "header %zu '%.40s' gave %d", i, bad[i], r);
    }
    /* Over-long header. */
    size_t n = Y4M_MAX_HEADER + 100;
    char *longh = malloc(n + 1);
    memcpy(longh, "YUV4MPEG2 W2 H2 F25:1 X", 23);
    memset(longh + 23, 'a', n - 24);
    longh[n - 1] = '\n';
    longh[n] = '\0';
    CHECK(parse_str(longh, 0) == -EINVAL, "over-long header accepted");
    free(longh);
    /* NUL byte inside the header. */
    static const char nul[] = "YUV4MPEG2 W2 H2\0 F25:1\n";
    CHECK(parse_mem(nul, sizeof(nul) - 1, 0, err, sizeof(err)) == -EINVAL, "NUL in header");

    /* XCOLORRANGE */
    {
        static const char s[] = "YUV4MPEG2 W2 H2 F25:1 XCOLORRANGE=FULL\n";
        FILE *f = fmemopen((void *)s, sizeof(s) - 1, "rb");
        Y4mReader *r = NULL;
        CHECK(y4m_reader_open_file(&r, f, 1, "mem", err, sizeof(err)) == 0, "XCOLORRANGE");
        if (r)
            CHECK(y4m_reader_info(r)->range == Y4M_RANGE_FULL, "range not FULL");
        y4m_reader_close(r);
    }

    /* Frames: 2x2 4:2:0 = 4 + 1 + 1 bytes. */
    CHECK(parse_str("YUV4MPEG2 W2 H2 F25:1\nFRAME\nabcdefFRAME\nabcdef", 1) == 2, "two frames");
    CHECK(parse_str("YUV4MPEG2 W2 H2 F25:1\nFRAME Ixyz\nabcdef", 1) == 1, "FRAME parameters");
    CHECK(parse_str("YUV4MPEG2 W2 H2 F25:1\n", 1) == 0, "no frames");
    CHECK(parse_str("YUV4MPEG2 W2 H2 F25:1\nabcdef", 1) == -EINVAL, "missing FRAME");
    CHECK(parse_str("YUV4MPEG2 W2 H2 F25:1\nFRAMEX\nabcdef", 1) == -EINVAL, "FRAMEX");
    CHECK(parse_str("YUV4MPEG2 W2 H2 F25:1\nFRAME\nabcdefFRAME\nabc", 1) == -EINVAL, "truncated frame");
    CHECK(parse_str("YUV4MPEG2 W2 H2 F25:1\nFRAME\nabcdefFRA", 1) == -EINVAL, "truncated FRAME header");
    CHECK(parse_str("YUV4MPEG2 W2 H2 F25:1\nFRAME\n", 1) == -EINVAL, "frame without data");
    CHECK(parse_str("YUV4MPEG2 W3 H3 F25:1 C444\nFRAME\n0123456789abcdefghijklmnopq", 1) == 1, "444 3x3");
    CHECK(parse_str("YUV4MPEG2 W3 H3 F25:1 C422\nFRAME\n0123456789abcdef0123456789", 1) == -EINVAL,
          "422 3x3 needs 9+6+6");
    CHECK(parse_str("YUV4MPEG2 W3 H3 F25:1 C422\nFRAME\n0123456789abcdefghijk", 1) == 1, "422 3x3");

    /* Missing file. */
    Y4mReader *r = NULL;
    CHECK(y4m_reader_open(&r, "/nonexistent/file.y4m", err, sizeof(err)) == -ENOENT, "ENOENT");
    CHECK(r == NULL, "reader set on failure");
}

/* ----------------------------------------------------------- colour */

/* Exact (double) YUV -> RGB in [0,1] for the in-gamut test. */
static void yuv_to_rgb_exact(int matrix, int full, double Y, double U, double V, double rgb[3])
{
    double kr = matrix == Y4M_MATRIX_BT709 ? 0.2126 : 0.299;
    double kb = matrix == Y4M_MATRIX_BT709 ? 0.0722 : 0.114;
    double kg = 1 - kr - kb;
    double yp = full ? Y / 255.0 : (Y - 16) / 219.0;
    double pb = (U - 128) / (full ? 255.0 : 224.0);
    double pr = (V - 128) / (full ? 255.0 : 224.0);
    double r = yp + 2 * (1 - kr) * pr, b = yp + 2 * (1 - kb) * pb;
    rgb[0] = r;
    rgb[1] = (yp - kr * r - kb * b) / kg;
    rgb[2] = b;
}

static void test_colour_444(int matrix, int full)
{
    /* All in-gamut YUV triples on a grid: YUV -> RGB -> YUV within 1. */
    const int ylo = full ? 0 : 16, yhi = full ? 255 : 235;
    const int clo = full ? 0 : 16, chi = full ? 255 : 240;
    int w = 0;
    const int W = 1024, H = (yhi - ylo + 1) * 64 * 64 / 1024 + 1, cap = W * H;
    Y4mImage img, back;
    y4m_image_alloc(&img, W, H, Y4M_C444);
    y4m_image_alloc(&back, W, H, Y4M_C444);
    for (int p = 0; p < 3; p++)
        memset(img.data[p], 128, (size_t)cap); /* unused tail: mid grey */
    for (int Y = ylo; Y <= yhi; Y++)
        for (int U = clo; U <= chi; U += 4)
            for (int V = clo; V <= chi; V += 4) {
                double rgb[3];
                yuv_to_rgb_exact(matrix, full, Y, U, V, rgb);
                int ok = 1;
                for (int c = 0; c < 3; c++)
                    if (rgb[c] < 0.0 || rgb[c] > 1.0)
                        ok = 0;
                if (!ok || w >= cap)
                    continue;
                img.data[0][w] = (uint8_t)Y;
                img.data[1][w] = (uint8_t)U;
                img.data[2][w] = (uint8_t)V;
                w++;
            }
    float *rgb = malloc(sizeof(float) * 3 * (size_t)cap);
    Y4mColor c = { .matrix = matrix, .full_range = full, .upsample = Y4M_UPSAMPLE_BILINEAR };
    CHECK(y4m_yuv_to_rgb(&img, &c, rgb, W, cap) == 0, "yuv_to_rgb");
    CHECK(y4m_rgb_to_yuv(rgb, W, cap, &c, &back) == 0, "rgb_to_yuv");
    int maxd = 0;
    for (int p = 0; p < 3; p++)
        for (int x = 0; x < cap; x++) {
            int d = abs((int)img.data[p][x] - (int)back.data[p][x]);
            if (d > maxd)
                maxd = d;
        }
    CHECK(maxd <= 1, "matrix %d full %d: max YUV round-trip error %d over %d colours", matrix,
          full, maxd, w);
    CHECK(w > 10000, "too few in-gamut colours: %d", w);
    /* Black, white and grey land on exact codes. */
    float px[3][3] = { { -1, -1, -1 }, { 1, 1, 1 }, { 0, 0, 0 } };
    Y4mImage one;
    y4m_image_alloc(&one, 1, 1, Y4M_C444);
    const int expect_y[3] = { full ? 0 : 16, full ? 255 : 235, full ? 128 : 126 };
    for (int i = 0; i < 3; i++) {
        float pl[3] = { px[i][0], px[i][1], px[i][2] };
        y4m_rgb_to_yuv(pl, 1, 1, &c, &one);
        CHECK(one.data[0][0] == expect_y[i] && one.data[1][0] == 128 && one.data[2][0] == 128,
              "grey level %d -> %d %d %d", i, one.data[0][0], one.data[1][0], one.data[2][0]);
    }
    y4m_image_free(&one);
    free(rgb);
    y4m_image_free(&img);
    y4m_image_free(&back);
}

static void test_colour_420(void)
{
    /* Random RGB (odd size) -> 4:2:0 -> RGB (nearest) -> 4:2:0: exact
     * within 1 code, since nearest upsampling puts back the block's chroma. */
    const int w = 33, h = 17;
    float *rgb = malloc(sizeof(float) * 3 * w * h);
    float *rgb2 = malloc(sizeof(float) * 3 * w * h);
    for (int i = 0; i < 3 * w * h; i++)
        rgb[i] = (float)(rnd() >> 8) / (float)(1 << 24) * 1.6f - 0.8f;
    Y4mImage a, b;
    y4m_image_alloc(&a, w, h, Y4M_C420JPEG);
    y4m_image_alloc(&b, w, h, Y4M_C420JPEG);
    Y4mColor c = { .matrix = Y4M_MATRIX_BT601, .full_range = 0, .upsample = Y4M_UPSAMPLE_NEAREST };
    CHECK(y4m_rgb_to_yuv(rgb, w, (ptrdiff_t)w * h, &c, &a) == 0, "rgb_to_yuv 420");
    CHECK(y4m_yuv_to_rgb(&a, &c, rgb2, w, (ptrdiff_t)w * h) == 0, "yuv_to_rgb 420");
    CHECK(y4m_rgb_to_yuv(rgb2, w, (ptrdiff_t)w * h, &c, &b) == 0, "rgb_to_yuv 420 (2)");
    int maxd = 0;
    for (int p = 0; p < 3; p++)
        for (int i = 0; i < a.w[p] * a.h[p]; i++) {
            int d = abs((int)a.data[p][i] - (int)b.data[p][i]);
            if (d > maxd)
                maxd = d;
        }
    /* Clipping of out-of-gamut RGB from a shared chroma may move Y a bit. */
    CHECK(maxd <= 2, "4:2:0 nearest round trip error %d", maxd);

    /* Box average: a 2x2 block with Cb contributions averages exactly. */
    {
        /* Two blue and two black pixels: Pb = (b - Y')/(2(1-Kb)). */
        float px[12] = { 1, -1, 1, -1, /* R */ -1, -1, -1, -1, /* G */ 1, -1, 1, -1 /* B */ };
        (void)px;
        float pl[12];
        /* plane layout: R plane 2x2, G plane, B plane */
        const float R[4] = { -1, -1, -1, -1 }, G[4] = { -1, -1, -1, -1 }, B[4] = { 1, -1, 1, -1 };
        memcpy(pl, R, sizeof(R));
        memcpy(pl + 4, G, sizeof(G));
        memcpy(pl + 8, B, sizeof(B));
        Y4mImage q;
        y4m_image_alloc(&q, 2, 2, Y4M_C420JPEG);
        y4m_rgb_to_yuv(pl, 2, 4, &c, &q);
        /* Blue: Y' = 0.114, Pb = 0.5, Pr = -0.114/1.402; black: 0, 0, 0.
         * Mean Pb = 0.25 -> 128 + 56 = 184; mean Pr = -0.0406562 -> 118.89 -> 119. */
        CHECK(q.data[1][0] == 184 && q.data[2][0] == 119, "box average Cb %d Cr %d",
              q.data[1][0], q.data[2][0]);
        CHECK(q.data[0][0] == 41 && q.data[0][1] == 16, "Y of blue/black %d %d", q.data[0][0],
              q.data[0][1]);
        y4m_image_free(&q);
    }

    /* Bilinear upsampling: a chroma ramp at centred (420jpeg) and co-sited
     * (420mpeg2) positions; Y fixed, so G - B tracks Cb linearly. */
    {
        const int W = 8, H = 2;
        Y4mImage q;
        float out[3 * 8 * 2];
        for (int layout = 0; layout < 2; layout++) {
            y4m_image_alloc(&q, W, H, layout ? Y4M_C420MPEG2 : Y4M_C420JPEG);
            memset(q.data[0], 126, (size_t)W * H);
            const uint8_t cb[4] = { 100, 140, 120, 160 };
            memcpy(q.data[1], cb, 4);
            memset(q.data[2], 128, 4);
            Y4mColor cl = { .matrix = Y4M_MATRIX_BT601, .upsample = Y4M_UPSAMPLE_BILINEAR };
            y4m_yuv_to_rgb(&q, &cl, out, W, W * H);
            /* B = 2*(Y' + 2(1-Kb) Pb) - 1; recover the interpolated Cb. */
            double expect_jpeg[8] = { 100, 110, 130, 135, 125, 130, 150, 160 };
            double expect_mpeg2[8] = { 100, 120, 140, 130, 120, 140, 160, 160 };
            int bad = 0;
            for (int x = 0; x < W; x++) {
                double yp = (126 - 16) / 219.0;
                double bb = (out[2 * W * H + x] + 1) / 2;
                double cbv = 128 + 224 * (bb - yp) / (2 * (1 - 0.114));
                double e = layout ? expect_mpeg2[x] : expect_jpeg[x];
                if (fabs(cbv - e) > 1e-3) {
                    fprintf(stderr, "  layout %d x %d: Cb %.4f, expected %.1f\n", layout, x, cbv, e);
                    bad = 1;
                }
            }
            CHECK(!bad, "bilinear siting, layout %d", layout);
            y4m_image_free(&q);
        }
    }
    /* Clamping: out-of-range YUV gives RGB within [-1, 1]. */
    {
        Y4mImage q;
        float out[3];
        y4m_image_alloc(&q, 1, 1, Y4M_C444);
        q.data[0][0] = 255;
        q.data[1][0] = 255;
        q.data[2][0] = 0;
        y4m_yuv_to_rgb(&q, &c, out, 1, 1);
        CHECK(out[0] >= -1 && out[0] <= 1 && out[1] >= -1 && out[1] <= 1 && out[2] == 1.0f,
              "clamping %f %f %f", out[0], out[1], out[2]);
        y4m_image_free(&q);
    }
    free(rgb);
    free(rgb2);
    y4m_image_free(&a);
    y4m_image_free(&b);
}

/* ------------------------------------------------------------ metrics */

static void test_metrics(void)
{
    uint8_t a[6] = { 10, 20, 30, 40, 50, 60 }, b[6] = { 10, 20, 30, 40, 50, 60 };
    CHECK(metrics_sse_u8(a, 3, b, 3, 3, 2) == 0, "sse identical");
    CHECK(metrics_psnr(0.0) == PSNR_MAX_DB, "identical -> 100 dB");
    b[0] = 13;   /* d = 3 */
    b[5] = 56;   /* d = 4 */
    CHECK(metrics_sse_u8(a, 3, b, 3, 3, 2) == 25, "sse %llu",
          (unsigned long long)metrics_sse_u8(a, 3, b, 3, 3, 2));
    /* Only the first 2 columns: d = 3 only. */
    CHECK(metrics_sse_u8(a, 3, b, 3, 2, 2) == 9, "sse with stride");
    CHECK(fabs(metrics_psnr(1.0) - 48.130803608679) < 1e-9, "psnr(1) = %.12f", metrics_psnr(1.0));
    CHECK(fabs(metrics_psnr(65025.0) - 0.0) < 1e-12, "psnr(255^2) = 0");
    CHECK(metrics_psnr(1e-12) == PSNR_MAX_DB, "cap");

    PsnrAcc acc;
    psnr_acc_init(&acc);
    CHECK(psnr_acc_plane(&acc, 0) == PSNR_MAX_DB && psnr_acc_all(&acc) == PSNR_MAX_DB, "empty");
    /* Frame 1: SSE 100 over 100 samples; frame 2: 0 over 100: MSE 0.5. */
    psnr_acc_add(&acc, 0, 100, 100);
    psnr_acc_add(&acc, 0, 0, 100);
    psnr_acc_add(&acc, 1, 0, 50);
    CHECK(fabs(psnr_acc_plane(&acc, 0) - metrics_psnr(0.5)) < 1e-12, "accumulated MSE");
    CHECK(psnr_acc_plane(&acc, 1) == PSNR_MAX_DB, "plane 1 identical");
    CHECK(fabs(psnr_acc_all(&acc) - metrics_psnr(100.0 / 250.0)) < 1e-12, "all planes");

    /* Float RGB quantisation. */
    CHECK(y4m_float_to_u8(-1.0f) == 0 && y4m_float_to_u8(1.0f) == 255 &&
          y4m_float_to_u8(0.0f) == 128 && y4m_float_to_u8(-2.0f) == 0 &&
          y4m_float_to_u8(7.0f) == 255 && y4m_float_to_u8(NAN) == 0,
          "float_to_u8");
    float fa[6] = { -1, 0, 1, -1, 0, 1 }, fb[6] = { -1, 0, 1, -1, 0, 1 };
    uint64_t sse[3];
    metrics_sse_rgbf_u8(fa, 2, 2, fb, 2, 2, 2, 1, sse);
    CHECK(sse[0] == 0 && sse[1] == 0 && sse[2] == 0, "rgbf identical");
    fb[1] = 2.0f / 255.0f * 2.0f; /* 0 -> 128 vs ~130 */
    metrics_sse_rgbf_u8(fa, 2, 2, fb, 2, 2, 2, 1, sse);
    CHECK(sse[0] == 4 && sse[1] == 0 && sse[2] == 0, "rgbf sse %llu %llu %llu",
          (unsigned long long)sse[0], (unsigned long long)sse[1], (unsigned long long)sse[2]);
}

int main(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof(tmpdir), "%s/test_y4m.XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_round_trip(Y4M_C420JPEG, 37, 23, 3, Y4M_RANGE_UNSPECIFIED);
    test_round_trip(Y4M_C420MPEG2, 2, 2, 1, Y4M_RANGE_LIMITED);
    test_round_trip(Y4M_C422, 17, 5, 2, Y4M_RANGE_FULL);
    test_round_trip(Y4M_C444, 1, 1, 4, Y4M_RANGE_UNSPECIFIED);
    test_writer_abort();
    test_headers();
    for (int m = 0; m < 2; m++)
        for (int full = 0; full < 2; full++)
            test_colour_444(m, full);
    test_colour_420();
    test_metrics();
    rmdir(tmpdir);
    printf("%d passed, %d failed\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
}
