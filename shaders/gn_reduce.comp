#version 450
/* GroupNorm statistics, one pass of a two-pass reduction. A statistic group
 * is one GroupNorm group of one frame ("frame" scope) or of every frame of
 * the clip ("clip" scope); its values in one frame are contiguous (cg
 * channels of hw). Workgroup (split, seg, sg) reduces elements
 * [split*chunk, split*chunk + chunk) of segment (frame) seg of group sg and
 * writes one partial sum to part[out_off + (sg * nseg + seg) * nsplit + split].
 * Without CENTERED: sums of x. With CENTERED: sums of (x - mean)^2, the mean
 * taken from the first pass's partials (part[0 ..]). */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x = 256) in;

layout(push_constant) uniform PC {
    RBuf x;
    RWBuf part;
    int c, hw, groups;
    int nseg;      /* frames per statistic group: t ("clip" scope) or 1 */
    int nsplit;    /* workgroups per segment */
    int chunk;     /* elements per workgroup */
    int out_off;
    float n_inv;   /* 1 / elements per statistic group */
} pc;

shared float red[256];

float reduce_sum(float v)
{
    const uint tid = gl_LocalInvocationID.x;
    barrier();
    red[tid] = v;
    barrier();
    [[unroll]] for (uint s = 128; s > 0; s >>= 1) {
        if (tid < s)
            red[tid] += red[tid + s];
        barrier();
    }
    return red[0];
}

void main()
{
    const int tid = int(gl_LocalInvocationID.x);
    const int split = int(gl_WorkGroupID.x), seg = int(gl_WorkGroupID.y), sg = int(gl_WorkGroupID.z);
    const int cg = pc.c / pc.groups;
    const int g = sg % pc.groups;
    const int f = pc.nseg > 1 ? seg : sg / pc.groups;
    const int P = pc.nseg * pc.nsplit;
#ifdef CENTERED
    float s = 0.0;
    for (int i = tid; i < P; i += 256)
        s += pc.part.d[sg * P + i];
    const float mean = reduce_sum(s) * pc.n_inv;
#endif
    const uint base = uint(f * pc.c + g * cg) * uint(pc.hw);
    const int L = cg * pc.hw;
    const int b = split * pc.chunk, e = min(b + pc.chunk, L);
    float acc = 0.0;
    for (int i = b + tid; i < e; i += 256) {
        float v = pc.x.d[base + uint(i)];
#ifdef CENTERED
        v -= mean;
        acc = fma(v, v, acc);
#else
        acc += v;
#endif
    }
    float tot = reduce_sum(acc);
    if (tid == 0)
        pc.part.d[pc.out_off + (sg * pc.nseg + seg) * pc.nsplit + split] = tot;
}
