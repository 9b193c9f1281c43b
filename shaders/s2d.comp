#version 450
/* Space-to-depth by P: t frames of c x h x w -> (c*P*P) x (h/P) x (w/P);
 * output channel (i*P + j)*c + ch at (y, x) = input channel ch at
 * (P*y + i, P*x + j). One workgroup row per output plane. */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x = 256) in;
layout(constant_id = 0) const int P = 2;

layout(push_constant) uniform PC {
    RBuf x;
    WBuf y;
    int c, h, w;
    int rows;      /* t * c * P * P */
    int per_group;
} pc;

void main()
{
    const int row = int(gl_WorkGroupID.y + gl_NumWorkGroups.y * gl_WorkGroupID.z);
    if (row >= pc.rows)
        return;
    const int cpp = pc.c * P * P;
    const int f = row / cpp, oc = row - f * cpp;
    const int i = oc / (P * pc.c);
    const int rem = oc - i * P * pc.c;
    const int j = rem / pc.c, ch = rem - j * pc.c;
    const int ow = pc.w / P, ohw = (pc.h / P) * ow;
    const uint ibase = (uint(f) * uint(pc.c) + uint(ch)) * uint(pc.h) * uint(pc.w);
    const uint obase = uint(row) * uint(ohw);
    const int s = int(gl_WorkGroupID.x) * pc.per_group;
    const int e = min(s + pc.per_group, ohw);
    for (int p = s + int(gl_LocalInvocationID.x); p < e; p += 256) {
        int y = p / ow, x = p - y * ow;
        pc.y.d[obase + uint(p)] = pc.x.d[ibase + uint((P * y + i) * pc.w + P * x + j)];
    }
}
