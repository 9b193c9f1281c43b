#version 450
/* LFQ sign and bit packing: z is t frames of bits planes of n values;
 * tokens[f*n + i] = sum_b [z_b > 0] << b (spec/model-format.md §4.5). */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x = 256) in;

layout(push_constant) uniform PC {
    RBuf z;
    WUBuf tok;
    int bits, n, total;   /* total = t * n */
} pc;

void main()
{
    const int id = int(group_index2() * 256u + gl_LocalInvocationID.x);
    if (id >= pc.total)
        return;
    const int f = id / pc.n, i = id - f * pc.n;
    const uint base = uint(f) * uint(pc.bits) * uint(pc.n) + uint(i);
    uint t = 0u;
    for (int b = 0; b < pc.bits; b++)
        if (pc.z.d[base + uint(b) * uint(pc.n)] > 0.0)
            t |= 1u << b;
    pc.tok.d[id] = t;
}
