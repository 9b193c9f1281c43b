#version 450
/* Adaptive-norm style of a chunk: for each bit b, the mean and the standard
 * deviation sqrt(var + eps) of q_b = 2 * bit_b - 1 over all t*n positions
 * (var biased or unbiased). One workgroup per bit; style[b] = std,
 * style[bits + b] = mean. q is +-1, so both follow from the count of ones. */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x = 256) in;

layout(push_constant) uniform PC {
    RUBuf tok;
    WBuf style;
    int bits, total;      /* total = t * n */
    int unbiased;
    float eps;
} pc;

shared uint red[256];

void main()
{
    const uint tid = gl_LocalInvocationID.x;
    const uint b = gl_WorkGroupID.x;
    uint cnt = 0u;
    for (int k = int(tid); k < pc.total; k += 256)
        cnt += (pc.tok.d[k] >> b) & 1u;
    red[tid] = cnt;
    barrier();
    [[unroll]] for (uint s = 128; s > 0; s >>= 1) {
        if (tid < s)
            red[tid] += red[tid + s];
        barrier();
    }
    if (tid == 0) {
        float n = float(pc.total), ones = float(red[0]);
        float mean = (2.0 * ones - n) / n;
        float sq = ones * (1.0 - mean) * (1.0 - mean) + (n - ones) * (1.0 + mean) * (1.0 + mean);
        float var = pc.unbiased != 0 ? (pc.total > 1 ? sq / (n - 1.0) : 0.0) : sq / n;
        pc.style.d[b] = sqrt(var + pc.eps);
        pc.style.d[uint(pc.bits) + b] = mean;
    }
}
