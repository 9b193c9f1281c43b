#version 450
/* The decoder's input from tokens: q[f][b][i] = bit b of tokens[f*n + i] ? 1 : -1. */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x = 256) in;

layout(push_constant) uniform PC {
    RUBuf tok;
    WBuf q;
    int bits, n, total;   /* total = t * bits * n */
} pc;

void main()
{
    const int id = int(group_index2() * 256u + gl_LocalInvocationID.x);
    if (id >= pc.total)
        return;
    const int plane = id / pc.n, i = id - plane * pc.n;
    const int f = plane / pc.bits, b = plane - f * pc.bits;
    pc.q.d[id] = ((pc.tok.d[f * pc.n + i] >> uint(b)) & 1u) != 0u ? 1.0 : -1.0;
}
