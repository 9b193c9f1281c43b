/*
 * Picture quality metrics for the ARG tools: PSNR on 8-bit planes.
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

#endif /* ARG_TOOLS_METRICS_H */
