/* Vulkan execution of ARG's ops and networks (internal). The runner
 * (runner_open_vulkan, backend.h) records each chunk kind once and resubmits
 * it; the vkop_* functions run one op on host data for the op tests and
 * their benchmark. */
#ifndef ARG_VK_NET_H
#define ARG_VK_NET_H

#include "exec.h"
#include "kernels.h"
#include "vk.h"

/* Causal conv3d of one chunk on the device. The virtual input sequence is
 * nhist frames (from hist, or the causal padding when pad_first: zeros, or
 * chunk frame 0 with replicate) followed by t chunk frames; n_out output
 * frames are computed, output o reading virtual frames o*st .. o*st+kt-1.
 * res (or NULL) is added to the output. gpu_ms (or NULL) receives the
 * shader's time from timestamps (0 when the device has none). */
int vkop_conv3d(VkCtx *c, const ConvW *w, const float *hist, int nhist, int pad_first, const float *chunk,
                int t, int h, int wd, int replicate, const float *res, float *dst, int *n_out, double *gpu_ms);
/* GroupNorm (+ affine, adaptive scale/shift from style = std[Z], mean[Z]
 * through gamma/beta of n, SiLU) of t frames of c x hw, as ref_groupnorm. */
int vkop_groupnorm(VkCtx *c, const float *x, float *y, int t, int c_, int hw, const Norm *n, float eps,
                   int clip, int silu, const float *style, int Z, double *gpu_ms);
int vkop_depth_to_space(VkCtx *c, const float *x, int t, int c_, int h, int w, int a, int b, int drop,
                        float *y, int *t_out, double *gpu_ms);
int vkop_space_to_depth(VkCtx *c, const float *x, int t, int c_, int h, int w, int p, float *y, double *gpu_ms);
int vkop_lfq_tokens(VkCtx *c, const float *z, int t, int bits, int n, uint32_t *tok, double *gpu_ms);
int vkop_dequant(VkCtx *c, const uint32_t *tok, int t, int bits, int n, float *q, double *gpu_ms);
/* style[0..Z) = std, style[Z..2Z) = mean of the +-1 inputs (spec §4.6) */
int vkop_style(VkCtx *c, const uint32_t *tok, int t, int bits, int n, int unbiased, float eps, float *style,
               double *gpu_ms);

#endif
