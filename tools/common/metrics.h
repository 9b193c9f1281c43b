/*
 * Picture quality metrics for the ARG tools: PSNR, SSIM and MS-SSIM on 8-bit
 * planes (SSIM and MS-SSIM in ssim.c).
 *
 * PSNR over several frames is computed from the total squared error:
 *   PSNR = 10 log10(255^2 / MSE),  MSE = (sum of squared errors) / (samples)
 * summed over every frame (not an average of per-frame PSNRs). Identical
 * pictures (MSE = 0) give PSNR_MAX_DB, and larger values are capped to it.
 */
#ifndef ARG_TOOLS_METRICS_H
#define ARG_TOOLS_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define PSNR_MAX_DB 100.0
#define PSNR_MAX_PLANES 3

/* Sum of squared differences of two w x h 8-bit planes. */
uint64_t metrics_sse_u8(const uint8_t *a, ptrdiff_t a_stride,
                        const uint8_t *b, ptrdiff_t b_stride, int w, int h);

/* Squared errors of two planar float RGB pictures in [-1, 1] (ArgPicture
 * layout, strides in floats), each sample first quantised to 8 bits with
 * y4m_float_to_u8's rule: q = clamp(floor((v + 1) * 127.5 + 0.5), 0, 255).
 * sse[c] receives plane c's sum. */
void metrics_sse_rgbf_u8(const float *a, ptrdiff_t a_stride, ptrdiff_t a_plane_stride,
                         const float *b, ptrdiff_t b_stride, ptrdiff_t b_plane_stride,
                         int w, int h, uint64_t sse[3]);

/* PSNR in dB of a mean squared error (peak 255), capped at PSNR_MAX_DB. */
double metrics_psnr(double mse);

/* Accumulator over frames for up to three planes (Y, U, V or R, G, B). */
typedef struct PsnrAcc {
    uint64_t sse[PSNR_MAX_PLANES];
    uint64_t samples[PSNR_MAX_PLANES];
} PsnrAcc;

void psnr_acc_init(PsnrAcc *acc);
/* Add one plane's squared error over n samples. */
void psnr_acc_add(PsnrAcc *acc, int plane, uint64_t sse, uint64_t n);
/* PSNR of one plane; PSNR_MAX_DB when nothing was added. */
double psnr_acc_plane(const PsnrAcc *acc, int plane);
/* PSNR of the total squared error over all planes and all samples (the
 * usual "RGB PSNR"; for YUV 4:2:0 this weights Y:U:V as 4:1:1). */
double psnr_acc_all(const PsnrAcc *acc);

/* ------------------------------------------------------------------ SSIM
 *
 * Structural similarity (Wang, Bovik, Sheikh, Simoncelli 2004) of two 8-bit
 * planes a (reference) and b (distorted), w x h samples each:
 *
 *   SSIM(x) = (2 mu_a mu_b + C1) (2 s_ab + C2)
 *             / ((mu_a^2 + mu_b^2 + C1) (s_a^2 + s_b^2 + C2)),
 *   C1 = (0.01 * 255)^2, C2 = (0.03 * 255)^2,
 *
 * mu, s^2 and s_ab the weighted means, variances and covariance under an
 * 11 x 11 Gaussian window with sigma 1.5 (weights sum to 1, so the moments
 * are the biased, "population" ones). The window takes every position where
 * it lies wholly inside the plane ("valid" filtering, as in the authors'
 * MATLAB code), and the plane's SSIM is the plain mean of those values. A
 * plane narrower (or lower) than 11 samples uses a window of its width (or
 * height) in that direction: k = min(11, w) weights exp(-(i - (k-1)/2)^2 /
 * (2 * 1.5^2)), i = 0..k-1, normalised; 11 x 11 otherwise. The 2D window is
 * the outer product of the two 1D ones. Arithmetic is in double.
 *
 * Functions return 0 or a negative errno (-EINVAL for bad sizes, -ENOMEM).
 */
#define SSIM_WINDOW 11
#define SSIM_SIGMA 1.5
#define MSSSIM_SCALES 5

/* Gaussian SSIM of two planes (see above). */
int metrics_ssim_u8(const uint8_t *a, ptrdiff_t a_stride, const uint8_t *b, ptrdiff_t b_stride,
                    int w, int h, double *ssim);

/* Multi-scale SSIM (Wang, Simoncelli, Bovik 2003) of two planes:
 *
 *   MS-SSIM = SSIM_5^w5 * prod_{j=1..4} CS_j^wj,
 *   w = 0.0448, 0.2856, 0.3001, 0.2363, 0.1333,
 *
 * where CS_j is the mean over the valid window positions of the
 * contrast-structure term (2 s_ab + C2) / (s_a^2 + s_b^2 + C2) at scale j
 * and SSIM_5 the mean SSIM (above) at the coarsest scale (the authors'
 * MATLAB msssim.m and TensorFlow's ssim_multiscale do the same). Scale 1 is
 * the plane itself; scale j + 1 is the 2 x 2 box average of scale j, of
 * size floor(w / 2) x floor(h / 2) (an odd last row or column is dropped).
 * Means below 0 are taken as 0 before the powers. Needs w, h >= 16 (so that
 * scale 5 has at least one sample), else -EINVAL. */
int metrics_msssim_u8(const uint8_t *a, ptrdiff_t a_stride, const uint8_t *b, ptrdiff_t b_stride,
                      int w, int h, double *msssim);

/* FFmpeg-compatible SSIM (the definition of ffmpeg's "ssim" filter and
 * x264's --ssim): unweighted 8 x 8 windows at every position (4i, 4j),
 * 0 <= i <= floor(w/4) - 2, 0 <= j <= floor(h/4) - 2; with the window sums
 * Sa, Sb, Saa + Sbb and Sab (N = 64 samples),
 *
 *   SSIM = (2 Sa Sb + c1) (2 (N Sab - Sa Sb) + c2)
 *          / ((Sa^2 + Sb^2 + c1) (N (Saa + Sbb) - Sa^2 - Sb^2 + c2)),
 *   c1 = round(0.01^2 255^2 64) = 416, c2 = round(0.03^2 255^2 64 63) = 235963,
 *
 * averaged over the windows. (Its C1 term is 64 times smaller than the
 * Gaussian SSIM's, and the variances are unbiased: a slightly different
 * index.) Needs w, h >= 8, else -EINVAL. */
int metrics_ssim_blocks_u8(const uint8_t *a, ptrdiff_t a_stride, const uint8_t *b, ptrdiff_t b_stride,
                           int w, int h, double *ssim);

/* PSNR-YUV with the 6:1:1 weighting of the JVET / AOM common test
 * conditions: (6 PSNR_Y + PSNR_U + PSNR_V) / 8, each per-plane PSNR taken
 * from that plane's MSE (as metrics_psnr). */
double metrics_psnr_yuv611(double psnr_y, double psnr_u, double psnr_v);

#endif /* ARG_TOOLS_METRICS_H */
