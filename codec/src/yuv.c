/* 8-bit Y'CbCr <-> float RGB conversion (public API, arg.h): the one copy
 * of the colour conventions, used by the encoder and decoder's YUV paths
 * and by the tools' Y4M code. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "arg/arg.h"


typedef struct Coefs {
    float kr, kg, kb;
    float ymul, yoff, cmul;   /* code = off + mul * value */
    float cr_r, cb_b;         /* 2 (1 - Kr), 2 (1 - Kb) */
} Coefs;

static int get_coefs(int matrix, int full_range, Coefs *k)
{
    switch (matrix) {
    case ARG_MATRIX_BT601: k->kr = 0.299f; k->kb = 0.114f; break;
    case ARG_MATRIX_BT709: k->kr = 0.2126f; k->kb = 0.0722f; break;
    default: return -EINVAL;
    }
    k->kg = 1.0f - k->kr - k->kb;
    if (full_range) {
        k->ymul = 255.0f;
        k->yoff = 0.0f;
        k->cmul = 255.0f;
    } else {
        k->ymul = 219.0f;
        k->yoff = 16.0f;
        k->cmul = 224.0f;
    }
    k->cr_r = 2.0f * (1.0f - k->kr);
    k->cb_b = 2.0f * (1.0f - k->kb);
    return 0;
}

static inline uint8_t round_u8(float v)
{
    float q = v + 0.5f;
    if (!(q > 0.0f))
        return 0;
    if (q >= 255.0f)
        return 255;
    return (uint8_t)q; /* truncation of a positive value: floor */
}

static inline float clamp1(float v)
{
    if (!(v > -1.0f))   /* also NaN */
        return -1.0f;
    return v < 1.0f ? v : 1.0f;
}

/* Chroma siting offset (luma units) of a plane: see enum ArgChroma. */
static void siting(int chroma, int plane, float *ox, float *oy)
{
    *ox = 0.0f;
    *oy = 0.0f;
    switch (chroma) {
    case ARG_CHROMA_420: *ox = 0.5f; *oy = 0.5f; break;
    case ARG_CHROMA_420_LEFT: *oy = 0.5f; break;
    case ARG_CHROMA_420_PALDV: *oy = plane == 1 ? 1.0f : 0.0f; break;
    default: break;
    }
}

/* Linear interpolation taps for luma position x over n chroma samples at
 * positions s*i + off: value = (1 - f) c[i0] + f c[i1]. */
static void lerp_tap(int x, int s, float off, int n, int *i0, int *i1, float *f)
{
    float u = ((float)x - off) / (float)s;
    float fl = floorf(u);
    int a = (int)fl;
    float fr = u - fl;
    int b = a + 1;
    if (a < 0) a = 0;
    if (a > n - 1) a = n - 1;
    if (b < 0) b = 0;
    if (b > n - 1) b = n - 1;
    *i0 = a;
    *i1 = b;
    *f = fr;
}

static int chroma_shifts(int chroma, int *sx, int *sy)
{
    switch (chroma) {
    case ARG_CHROMA_420: case ARG_CHROMA_420_LEFT: case ARG_CHROMA_420_PALDV: *sx = *sy = 1; return 0;
    case ARG_CHROMA_422: *sx = 1; *sy = 0; return 0;
    case ARG_CHROMA_444: *sx = *sy = 0; return 0;
    default: return -EINVAL;
    }
}

int arg_yuv_plane_sizes(int chroma, int width, int height, int w[3], int h[3])
{
    int sx, sy;
    if (!w || !h || width < 1 || height < 1 || chroma_shifts(chroma, &sx, &sy) < 0)
        return -EINVAL;
    w[0] = width;
    h[0] = height;
    w[1] = w[2] = (width + (1 << sx) - 1) >> sx;
    h[1] = h[2] = (height + (1 << sy) - 1) >> sy;
    return 0;
}

static int check_yuv(const ArgPictureYUV *p, int *sx, int *sy, int cw[1], int ch[1])
{
    int w[3], h[3];
    if (!p || arg_yuv_plane_sizes(p->chroma, p->width, p->height, w, h) < 0 ||
        chroma_shifts(p->chroma, sx, sy) < 0)
        return -EINVAL;
    for (int i = 0; i < 3; i++)
        if (!p->data[i] || p->stride[i] < w[i])
            return -EINVAL;
    *cw = w[1];
    *ch = h[1];
    return 0;
}

static int check_rgb(const ArgPicture *p, int width, int height)
{
    if (!p || !p->data || p->width != width || p->height != height || p->stride < width ||
        p->plane_stride < p->stride * height)
        return -EINVAL;
    return 0;
}

int arg_yuv_to_rgb(const ArgPictureYUV *img, ArgPicture *out)
{
    Coefs k;
    int sx, sy, cw, ch;
    if (check_yuv(img, &sx, &sy, &cw, &ch) < 0 || check_rgb(out, img->width, img->height) < 0 ||
        get_coefs(img->matrix, img->full_range, &k) < 0)
        return -EINVAL;
    float *rgb = out->data;
    const ptrdiff_t stride = out->stride, plane_stride = out->plane_stride;
    const int w = img->width, h = img->height;
    out->pts = img->pts;
    const int bilinear = !img->nearest_chroma && (sx || sy);

    /* Per-column horizontal taps (shared by both chroma planes), per-row
     * upsampled chroma. */
    int *hx0 = malloc(sizeof(int) * (size_t)w);
    int *hx1 = malloc(sizeof(int) * (size_t)w);
    float *hf = malloc(sizeof(float) * (size_t)w);
    float *vrow = malloc(sizeof(float) * (size_t)cw);
    float *crow[2] = { malloc(sizeof(float) * (size_t)w), malloc(sizeof(float) * (size_t)w) };
    int ret = 0;
    if (!hx0 || !hx1 || !hf || !vrow || !crow[0] || !crow[1]) {
        ret = -ENOMEM;
        goto done;
    }
    {
        float ox, oy;
        siting(img->chroma, 1, &ox, &oy);
        for (int x = 0; x < w; x++) {
            if (bilinear) {
                lerp_tap(x, 1 << sx, sx ? ox : 0.0f, cw, &hx0[x], &hx1[x], &hf[x]);
            } else {
                hx0[x] = hx1[x] = x >> sx;
                hf[x] = 0.0f;
            }
        }
    }

    for (int y = 0; y < h; y++) {
        for (int p = 0; p < 2; p++) {
            const uint8_t *plane = img->data[1 + p];
            const ptrdiff_t cs = img->stride[1 + p];
            int j0, j1;
            float fy;
            if (bilinear && sy) {
                float ox, oy;
                siting(img->chroma, 1 + p, &ox, &oy);
                lerp_tap(y, 1 << sy, oy, ch, &j0, &j1, &fy);
            } else {
                j0 = j1 = y >> sy;
                fy = 0.0f;
            }
            const uint8_t *r0 = plane + (ptrdiff_t)j0 * cs, *r1 = plane + (ptrdiff_t)j1 * cs;
            for (int i = 0; i < cw; i++)
                vrow[i] = (float)r0[i] + fy * ((float)r1[i] - (float)r0[i]);
            for (int x = 0; x < w; x++) {
                float a = vrow[hx0[x]], b = vrow[hx1[x]];
                crow[p][x] = a + hf[x] * (b - a);
            }
        }
        const uint8_t *yrow = img->data[0] + (ptrdiff_t)y * img->stride[0];
        float *R = rgb + (ptrdiff_t)y * stride;
        float *G = R + plane_stride;
        float *B = G + plane_stride;
        const float iy = 1.0f / k.ymul, ic = 1.0f / k.cmul, ikg = 1.0f / k.kg;
        for (int x = 0; x < w; x++) {
            float yp = ((float)yrow[x] - k.yoff) * iy;
            float pb = (crow[0][x] - 128.0f) * ic;
            float pr = (crow[1][x] - 128.0f) * ic;
            float r = yp + k.cr_r * pr;
            float b = yp + k.cb_b * pb;
            /* = (Y' - Kr r - Kb b) / Kg, written so that greys stay exact */
            float g = yp - (k.kr * k.cr_r * pr + k.kb * k.cb_b * pb) * ikg;
            R[x] = clamp1(2.0f * r - 1.0f);
            G[x] = clamp1(2.0f * g - 1.0f);
            B[x] = clamp1(2.0f * b - 1.0f);
        }
    }
done:
    free(hx0);
    free(hx1);
    free(hf);
    free(vrow);
    free(crow[0]);
    free(crow[1]);
    return ret;
}

int arg_rgb_to_yuv(const ArgPicture *in, ArgPictureYUV *img)
{
    Coefs k;
    int sx, sy, cw, ch;
    if (check_yuv(img, &sx, &sy, &cw, &ch) < 0 || check_rgb(in, img->width, img->height) < 0 ||
        get_coefs(img->matrix, img->full_range, &k) < 0)
        return -EINVAL;
    const float *rgb = in->data;
    const ptrdiff_t stride = in->stride, plane_stride = in->plane_stride;
    const int w = img->width, h = img->height;
    img->pts = in->pts;
    float *acc_b = calloc((size_t)cw, sizeof(float));
    float *acc_r = calloc((size_t)cw, sizeof(float));
    if (!acc_b || !acc_r) {
        free(acc_b);
        free(acc_r);
        return -ENOMEM;
    }
    const float ib = 1.0f / k.cb_b, ir = 1.0f / k.cr_r;
    for (int j = 0; j < ch; j++) {
        memset(acc_b, 0, sizeof(float) * (size_t)cw);
        memset(acc_r, 0, sizeof(float) * (size_t)cw);
        const int y_beg = j << sy;
        const int y_end = (y_beg + (1 << sy)) < h ? y_beg + (1 << sy) : h;
        for (int y = y_beg; y < y_end; y++) {
            const float *R = rgb + (ptrdiff_t)y * stride;
            const float *G = R + plane_stride;
            const float *B = G + plane_stride;
            uint8_t *Y = img->data[0] + (ptrdiff_t)y * img->stride[0];
            for (int x = 0; x < w; x++) {
                float r = (clamp1(R[x]) + 1.0f) * 0.5f;
                float g = (clamp1(G[x]) + 1.0f) * 0.5f;
                float b = (clamp1(B[x]) + 1.0f) * 0.5f;
                /* = Kr r + Kg g + Kb b, written so that greys stay exact */
                float yp = g + k.kr * (r - g) + k.kb * (b - g);
                Y[x] = round_u8(k.yoff + k.ymul * yp);
                acc_b[x >> sx] += (b - yp) * ib;
                acc_r[x >> sx] += (r - yp) * ir;
            }
        }
        uint8_t *U = img->data[1] + (ptrdiff_t)j * img->stride[1];
        uint8_t *V = img->data[2] + (ptrdiff_t)j * img->stride[2];
        const int ny = y_end - y_beg;
        for (int i = 0; i < cw; i++) {
            const int x_beg = i << sx;
            const int x_end = (x_beg + (1 << sx)) < w ? x_beg + (1 << sx) : w;
            const float inv = 1.0f / (float)(ny * (x_end - x_beg));
            U[i] = round_u8(128.0f + k.cmul * acc_b[i] * inv);
            V[i] = round_u8(128.0f + k.cmul * acc_r[i] * inv);
        }
    }
    free(acc_b);
    free(acc_r);
    return 0;
}
