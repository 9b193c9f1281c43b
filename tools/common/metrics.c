/*
 * PSNR on 8-bit planes (see metrics.h).
 */
#include "metrics.h"

#include <math.h>
#include <string.h>

#include "y4m.h"

uint64_t metrics_sse_u8(const uint8_t *a, ptrdiff_t a_stride,
                        const uint8_t *b, ptrdiff_t b_stride, int w, int h)
{
    uint64_t total = 0;
    for (int y = 0; y < h; y++) {
        const uint8_t *ra = a + (ptrdiff_t)y * a_stride;
        const uint8_t *rb = b + (ptrdiff_t)y * b_stride;
        uint32_t row = 0; /* w <= 16384: at most 16384 * 65025 < 2^32 */
        for (int x = 0; x < w; x++) {
            int d = (int)ra[x] - (int)rb[x];
            row += (uint32_t)(d * d);
        }
        total += row;
    }
    return total;
}

void metrics_sse_rgbf_u8(const float *a, ptrdiff_t a_stride, ptrdiff_t a_plane_stride,
                         const float *b, ptrdiff_t b_stride, ptrdiff_t b_plane_stride,
                         int w, int h, uint64_t sse[3])
{
    for (int c = 0; c < 3; c++) {
        uint64_t total = 0;
        for (int y = 0; y < h; y++) {
            const float *ra = a + c * a_plane_stride + (ptrdiff_t)y * a_stride;
            const float *rb = b + c * b_plane_stride + (ptrdiff_t)y * b_stride;
            uint64_t row = 0;
            for (int x = 0; x < w; x++) {
                int d = (int)y4m_float_to_u8(ra[x]) - (int)y4m_float_to_u8(rb[x]);
                row += (uint64_t)(d * d);
            }
            total += row;
        }
        sse[c] = total;
    }
}

double metrics_psnr(double mse)
{
    if (!(mse > 0.0))
        return PSNR_MAX_DB;
    double p = 10.0 * log10(255.0 * 255.0 / mse);
    return p > PSNR_MAX_DB ? PSNR_MAX_DB : p;
}

void psnr_acc_init(PsnrAcc *acc)
{
    memset(acc, 0, sizeof(*acc));
}

void psnr_acc_add(PsnrAcc *acc, int plane, uint64_t sse, uint64_t n)
{
    if (plane < 0 || plane >= PSNR_MAX_PLANES)
        return;
    acc->sse[plane] += sse;
    acc->samples[plane] += n;
}

double psnr_acc_plane(const PsnrAcc *acc, int plane)
{
    if (plane < 0 || plane >= PSNR_MAX_PLANES || acc->samples[plane] == 0)
        return PSNR_MAX_DB;
    return metrics_psnr((double)acc->sse[plane] / (double)acc->samples[plane]);
}

double psnr_acc_all(const PsnrAcc *acc)
{
    uint64_t sse = 0, n = 0;
    for (int p = 0; p < PSNR_MAX_PLANES; p++) {
        sse += acc->sse[p];
        n += acc->samples[p];
    }
    if (n == 0)
        return PSNR_MAX_DB;
    return metrics_psnr((double)sse / (double)n);
}
