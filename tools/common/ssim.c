/*
 * SSIM, MS-SSIM and the FFmpeg-compatible block SSIM on 8-bit planes (the
 * definitions are in metrics.h).
 */
#include "metrics.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#define SSIM_C1 ((0.01 * 255.0) * (0.01 * 255.0))
#define SSIM_C2 ((0.03 * 255.0) * (0.03 * 255.0))

static const double msssim_weights[MSSSIM_SCALES] = { 0.0448, 0.2856, 0.3001, 0.2363, 0.1333 };

/* Normalised 1D Gaussian of k <= SSIM_WINDOW taps centred on (k - 1) / 2. */
static void gauss_taps(int k, double *g)
{
    double c = (k - 1) / 2.0, sum = 0.0;
    for (int i = 0; i < k; i++) {
        double d = i - c;
        g[i] = exp(-d * d / (2.0 * SSIM_SIGMA * SSIM_SIGMA));
        sum += g[i];
    }
    for (int i = 0; i < k; i++)
        g[i] /= sum;
}

/* Mean SSIM and mean contrast-structure term of two w x h double planes
 * (stride w) over every valid window position. */
static int ssim_f64(const double *a, const double *b, int w, int h, double *ssim, double *cs)
{
    if (w < 1 || h < 1)
        return -EINVAL;
    int kx = w < SSIM_WINDOW ? w : SSIM_WINDOW;
    int ky = h < SSIM_WINDOW ? h : SSIM_WINDOW;
    double gx[SSIM_WINDOW], gy[SSIM_WINDOW];
    gauss_taps(kx, gx);
    gauss_taps(ky, gy);
    int ow = w - kx + 1, oh = h - ky + 1;

    /* Horizontal pass: five moment planes of ow x h. */
    size_t plane = (size_t)ow * (size_t)h;
    double *hb = malloc(5 * plane * sizeof(*hb));
    if (!hb)
        return -ENOMEM;
    double *ma = hb, *mb = hb + plane, *maa = hb + 2 * plane, *mbb = hb + 3 * plane, *mab = hb + 4 * plane;
    for (int y = 0; y < h; y++) {
        const double *ra = a + (size_t)y * (size_t)w, *rb = b + (size_t)y * (size_t)w;
        size_t o = (size_t)y * (size_t)ow;
        for (int x = 0; x < ow; x++) {
            double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
            for (int i = 0; i < kx; i++) {
                double va = ra[x + i], vb = rb[x + i], g = gx[i];
                sa += g * va;
                sb += g * vb;
                saa += g * va * va;
                sbb += g * vb * vb;
                sab += g * va * vb;
            }
            ma[o + x] = sa;
            mb[o + x] = sb;
            maa[o + x] = saa;
            mbb[o + x] = sbb;
            mab[o + x] = sab;
        }
    }

    /* Vertical pass and the SSIM map, summed as it goes. */
    double sum_ssim = 0.0, sum_cs = 0.0;
    for (int y = 0; y < oh; y++) {
        for (int x = 0; x < ow; x++) {
            double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
            for (int j = 0; j < ky; j++) {
                size_t o = (size_t)(y + j) * (size_t)ow + (size_t)x;
                double g = gy[j];
                sa += g * ma[o];
                sb += g * mb[o];
                saa += g * maa[o];
                sbb += g * mbb[o];
                sab += g * mab[o];
            }
            double va = saa - sa * sa, vb = sbb - sb * sb, cov = sab - sa * sb;
            double l = (2.0 * sa * sb + SSIM_C1) / (sa * sa + sb * sb + SSIM_C1);
            double c = (2.0 * cov + SSIM_C2) / (va + vb + SSIM_C2);
            sum_ssim += l * c;
            sum_cs += c;
        }
    }
    free(hb);
    double n = (double)ow * (double)oh;
    if (ssim)
        *ssim = sum_ssim / n;
    if (cs)
        *cs = sum_cs / n;
    return 0;
}

/* Copy an 8-bit plane into a packed double plane. */
static void plane_to_f64(const uint8_t *src, ptrdiff_t stride, int w, int h, double *dst)
{
    for (int y = 0; y < h; y++) {
        const uint8_t *r = src + (ptrdiff_t)y * stride;
        for (int x = 0; x < w; x++)
            dst[(size_t)y * (size_t)w + (size_t)x] = r[x];
    }
}

static int check_size(int w, int h, int min)
{
    if (w < min || h < min || w > 65536 || h > 65536)
        return -EINVAL;
    return 0;
}

int metrics_ssim_u8(const uint8_t *a, ptrdiff_t a_stride, const uint8_t *b, ptrdiff_t b_stride,
                    int w, int h, double *ssim)
{
    int rc = check_size(w, h, 1);
    if (rc < 0)
        return rc;
    size_t n = (size_t)w * (size_t)h;
    double *fa = malloc(2 * n * sizeof(*fa));
    if (!fa)
        return -ENOMEM;
    double *fb = fa + n;
    plane_to_f64(a, a_stride, w, h, fa);
    plane_to_f64(b, b_stride, w, h, fb);
    rc = ssim_f64(fa, fb, w, h, ssim, NULL);
    free(fa);
    return rc;
}

/* 2 x 2 box average of a w x h plane into floor(w/2) x floor(h/2). */
static void downsample2(const double *src, int w, int h, double *dst)
{
    int dw = w / 2, dh = h / 2;
    for (int y = 0; y < dh; y++) {
        const double *r0 = src + (size_t)(2 * y) * (size_t)w, *r1 = r0 + w;
        for (int x = 0; x < dw; x++)
            dst[(size_t)y * (size_t)dw + (size_t)x] = 0.25 * (r0[2 * x] + r0[2 * x + 1] + r1[2 * x] + r1[2 * x + 1]);
    }
}

int metrics_msssim_u8(const uint8_t *a, ptrdiff_t a_stride, const uint8_t *b, ptrdiff_t b_stride,
                      int w, int h, double *msssim)
{
    int rc = check_size(w, h, 1 << (MSSSIM_SCALES - 1));
    if (rc < 0)
        return rc;
    size_t n = (size_t)w * (size_t)h;
    /* Two buffers per picture: scale j and scale j + 1 (a quarter of it). */
    double *buf = malloc((2 * n + 2 * (n / 4 + 1)) * sizeof(*buf));
    if (!buf)
        return -ENOMEM;
    double *ca = buf, *cb = buf + n, *na = buf + 2 * n, *nb = na + n / 4 + 1;
    plane_to_f64(a, a_stride, w, h, ca);
    plane_to_f64(b, b_stride, w, h, cb);
    double result = 1.0;
    int cw = w, ch = h;
    for (int s = 0; s < MSSSIM_SCALES; s++) {
        double ss, cs;
        rc = ssim_f64(ca, cb, cw, ch, &ss, &cs);
        if (rc < 0)
            break;
        double v = s == MSSSIM_SCALES - 1 ? ss : cs;
        if (!(v > 0.0))
            v = 0.0;
        result *= pow(v, msssim_weights[s]);
        if (s == MSSSIM_SCALES - 1)
            break;
        downsample2(ca, cw, ch, na);
        downsample2(cb, cw, ch, nb);
        cw /= 2;
        ch /= 2;
        /* The next scale becomes current; the old current buffers (at least
         * four times larger) take the scale after it. */
        double *ta = ca, *tb = cb;
        ca = na;
        cb = nb;
        na = ta;
        nb = tb;
    }
    free(buf);
    if (rc == 0 && msssim)
        *msssim = result;
    return rc;
}

int metrics_ssim_blocks_u8(const uint8_t *a, ptrdiff_t a_stride, const uint8_t *b, ptrdiff_t b_stride,
                           int w, int h, double *ssim)
{
    int rc = check_size(w, h, 8);
    if (rc < 0)
        return rc;
    int bw = w / 4, bh = h / 4;
    /* Sums of every 4 x 4 block: Sa, Sb, Saa + Sbb, Sab (at most 16 * 2 *
     * 255^2 < 2^21). */
    int64_t (*sums)[4] = malloc((size_t)bw * (size_t)bh * sizeof(*sums));
    if (!sums)
        return -ENOMEM;
    for (int by = 0; by < bh; by++) {
        for (int bx = 0; bx < bw; bx++) {
            int64_t s1 = 0, s2 = 0, ss = 0, s12 = 0;
            for (int y = 4 * by; y < 4 * by + 4; y++) {
                const uint8_t *ra = a + (ptrdiff_t)y * a_stride, *rb = b + (ptrdiff_t)y * b_stride;
                for (int x = 4 * bx; x < 4 * bx + 4; x++) {
                    int va = ra[x], vb = rb[x];
                    s1 += va;
                    s2 += vb;
                    ss += va * va + vb * vb;
                    s12 += va * vb;
                }
            }
            int64_t *d = sums[(size_t)by * (size_t)bw + (size_t)bx];
            d[0] = s1;
            d[1] = s2;
            d[2] = ss;
            d[3] = s12;
        }
    }
    const double c1 = 416.0, c2 = 235963.0;
    double total = 0.0;
    for (int by = 0; by + 1 < bh; by++) {
        for (int bx = 0; bx + 1 < bw; bx++) {
            int64_t s[4] = { 0, 0, 0, 0 };
            for (int dy = 0; dy < 2; dy++)
                for (int dx = 0; dx < 2; dx++)
                    for (int k = 0; k < 4; k++)
                        s[k] += sums[(size_t)(by + dy) * (size_t)bw + (size_t)(bx + dx)][k];
            double s1 = (double)s[0], s2 = (double)s[1], sss = (double)s[2], s12 = (double)s[3];
            double vars = 64.0 * sss - s1 * s1 - s2 * s2;
            double covar = 64.0 * s12 - s1 * s2;
            total += (2.0 * s1 * s2 + c1) * (2.0 * covar + c2) / ((s1 * s1 + s2 * s2 + c1) * (vars + c2));
        }
    }
    free(sums);
    *ssim = total / ((double)(bw - 1) * (double)(bh - 1));
    return 0;
}

double metrics_psnr_yuv611(double psnr_y, double psnr_u, double psnr_v)
{
    return (6.0 * psnr_y + psnr_u + psnr_v) / 8.0;
}
