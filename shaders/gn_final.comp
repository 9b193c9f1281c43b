#version 450
/* GroupNorm coefficients: for frame f and channel ch, y = x * a + b with
 * a = rstd * weight, b = bias - mean * a (affine), and with ADAPTIVE
 * b = b * scale + shift, a = a * scale, where scale = gamma(style std) and
 * shift = beta(style mean) (spec/model-format.md §4.6). coef[2*(f*c+ch)] = a,
 * coef[2*(f*c+ch)+1] = b.
 * prm: affine: weight[c], bias[c]; adaptive: gamma.weight[c][Z], gamma.bias[c],
 * beta.weight[c][Z], beta.bias[c]. style: std[Z], mean[Z]. */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x = 64) in;

layout(push_constant) uniform PC {
    RBuf part;     /* sums at 0, centred sums of squares at nsg * P */
    RBuf prm;
    RBuf style;
    WBuf coef;
    int t, c, groups;
    int nseg, nsplit;
    int clip;      /* statistics over all t frames together */
    int affine;
    int Z;
    float eps;
    float n_inv;
} pc;

void main()
{
    const int id = int(gl_GlobalInvocationID.x);
    if (id >= pc.t * pc.c)
        return;
    const int f = id / pc.c, ch = id - f * pc.c;
    const int cg = pc.c / pc.groups, g = ch / cg;
    const int sg = pc.clip != 0 ? g : f * pc.groups + g;
    const int nsg = pc.clip != 0 ? pc.groups : pc.t * pc.groups;
    const int P = pc.nseg * pc.nsplit;
    float s1 = 0.0, s2 = 0.0;
    for (int i = 0; i < P; i++) {
        s1 += pc.part.d[sg * P + i];
        s2 += pc.part.d[nsg * P + sg * P + i];
    }
    const float mean = s1 * pc.n_inv;
    const float rstd = 1.0 / sqrt(s2 * pc.n_inv + pc.eps);
    float a = rstd, b;
    if (pc.affine != 0) {
        a = rstd * pc.prm.d[ch];
        b = pc.prm.d[pc.c + ch] - mean * a;
    } else {
        b = -mean * a;
    }
#ifdef ADAPTIVE
    const int Z = pc.Z, C = pc.c;
    float scale = pc.prm.d[C * Z + ch];
    float shift = pc.prm.d[2 * C * Z + C + ch];
    for (int z = 0; z < Z; z++) {
        scale += pc.prm.d[ch * Z + z] * pc.style.d[z];
        shift += pc.prm.d[C * Z + C + ch * Z + z] * pc.style.d[Z + z];
    }
    b = b * scale + shift;
    a = a * scale;
#endif
    pc.coef.d[2 * id] = a;
    pc.coef.d[2 * id + 1] = b;
}
