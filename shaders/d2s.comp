#version 450
/* Depth-to-space: t frames of (c*A*B*B) x h x w -> frames of c x (h*B) x (w*B);
 * output channel ch at (A*f + i, B*y + jy, B*x + kx) = input channel
 * ((i*B + jy)*B + kx)*c + ch at (f, y, x). With drop (A = 2, the first chunk)
 * the second output frame of the first pair is dropped. One workgroup row
 * per output plane. */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x = 256) in;
layout(constant_id = 0) const int A = 1;
layout(constant_id = 1) const int B = 2;

layout(push_constant) uniform PC {
    RBuf x;
    WBuf y;
    int c, h, w;
    int drop;
    int rows;      /* output frames * c */
    int per_group;
} pc;

void main()
{
    const int row = int(gl_WorkGroupID.y + gl_NumWorkGroups.y * gl_WorkGroupID.z);
    if (row >= pc.rows)
        return;
    const int fo = row / pc.c, ch = row - fo * pc.c;
    int f, i;
    if (pc.drop != 0 && fo > 0) {
        f = (fo + 1) / A;
        i = (fo + 1) - f * A;
    } else {
        f = fo / A;
        i = fo - f * A;
    }
    const int OW = pc.w * B;
    const int OHW = pc.h * B * OW;
    const uint hw = uint(pc.h) * uint(pc.w);
    const uint fbase = uint(f) * uint(pc.c * A * B * B) * hw;
    const uint obase = uint(row) * uint(OHW);
    const int s = int(gl_WorkGroupID.x) * pc.per_group;
    const int e = min(s + pc.per_group, OHW);
    for (int p = s + int(gl_LocalInvocationID.x); p < e; p += 256) {
        int oy = p / OW, ox = p - oy * OW;
        int y = oy / B, jy = oy - y * B;
        int x = ox / B, kx = ox - x * B;
        int ic = ((i * B + jy) * B + kx) * pc.c + ch;
        pc.y.d[obase + uint(p)] = pc.x.d[fbase + uint(ic) * hw + uint(y * pc.w + x)];
    }
}
