#version 450
/* y = x * a + b per (frame, channel) row, then SiLU (x * sigmoid(x)) when
 * SILU. x and y may be the same buffer. */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x = 256) in;
layout(constant_id = 0) const bool SILU = false;

layout(push_constant) uniform PC {
    RBuf x;
    WBuf y;
    RBuf coef;
    int hw;
    int rows;      /* t * c */
    int per_group; /* elements of a row per workgroup */
} pc;

void main()
{
    const int row = int(gl_WorkGroupID.y + gl_NumWorkGroups.y * gl_WorkGroupID.z);
    if (row >= pc.rows)
        return;
    const float a = pc.coef.d[2 * row], b = pc.coef.d[2 * row + 1];
    const uint base = uint(row) * uint(pc.hw);
    const int s = int(gl_WorkGroupID.x) * pc.per_group;
    const int e = min(s + pc.per_group, pc.hw);
    for (int i = s + int(gl_LocalInvocationID.x); i < e; i += 256) {
        float v = pc.x.d[base + uint(i)] * a + b;
        if (SILU)
            v = v / (1.0 + exp(-v));
        pc.y.d[base + uint(i)] = v;
    }
}
