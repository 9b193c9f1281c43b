#version 450
/* Causal conv3d as a tiled implicit GEMM.
 *
 * C[m][n] = bias[m] + sum_k W[m][k] * X[k][n] (+ res[m][n]), with m the
 * output channel, n an output pixel of one of the n_out output frames and
 * k = ((ci * KT + dt) * KS + dy) * KS + dx. Each workgroup computes a BM x BN
 * tile of C; each thread a TM x TN block of it in registers (rows
 * ty*TM + i, columns tx + j*BN/TN so that loads from shared memory and the
 * stores of C are contiguous across threads). K advances BK at a time
 * through shared memory; the next slice is fetched into registers while the
 * current one is multiplied.
 *
 * The weights are stored transposed and zero-padded, wt[KPAD][MPAD], so that
 * the A tile loads are contiguous and need no bounds checks. The B tile is
 * gathered from the input (im2col on the fly) with the layer's padding.
 *
 * Input frames: the causal sequence is [nhist frames | the chunk's frames];
 * virtual frame v < nhist comes from the layer's cache (hist) or, in the
 * first chunk after a reset (pad_first), is the causal padding: zeros, or a
 * copy of the chunk's first frame with replicate padding. Output frame o
 * reads virtual frames o*ST .. o*ST + KT - 1.
 *
 * With -DUBO_WEIGHTS (the variant for CPU implementations such as Mesa's
 * lavapipe, where every storage-buffer or shared-memory access is a loop over
 * the SIMD lanes and only uniform-buffer loads at uniform offsets are cheap):
 * no shared memory; each invocation computes NP consecutive output pixels of
 * a row for the MB output channels of one dispatch, reading the weights of a
 * slice of K from a uniform buffer (wt[k][MB] for k in [k0, k0 + kn), bound
 * at a dynamic offset), accumulating over the K slices in dst. */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const int BM = 64;
layout(constant_id = 2) const int BN = 64;
layout(constant_id = 3) const int BK = 16;
layout(constant_id = 4) const int TM = 4;
layout(constant_id = 5) const int TN = 4;
layout(constant_id = 6) const int KT = 3;
layout(constant_id = 7) const int KS = 3;
layout(constant_id = 8) const int ST = 1;
layout(constant_id = 9) const int SS = 1;
layout(constant_id = 10) const bool REPLICATE = false;
layout(constant_id = 11) const bool HAS_BIAS = false;
layout(constant_id = 12) const bool HAS_RES = false;

const int KS2 = KS * KS;
const int KK = KT * KS2;
const int PAD = KS / 2;

#ifdef UBO_WEIGHTS

const int MB = BM;                      /* output channels per dispatch, a multiple of 4 */
const int NP = TN;                      /* output pixels per invocation */

layout(set = 0, binding = 0, std140) uniform Weights {
    vec4 w4[4096];                      /* wt[k - k0][MB] of this dispatch's channels */
} W;

layout(push_constant) uniform PC {
    RBuf src, hist, wt_unused, bias, res;
    RWBuf dst;
    int H, W, HO, WO;
    int N;
    int nhist;
    int pad_first;
    int ntiles;
    int CI, CO;
    int m0;        /* first output channel of this dispatch */
    int k0, kn;    /* the K slice */
    int first_slice, last_slice;
} pc;

void main()
{
    const int segs_row = (pc.WO + NP - 1) / NP;
    const int seg = int(group_index2() * gl_WorkGroupSize.x + gl_LocalInvocationID.x);
    if (seg >= (pc.N / pc.WO) * segs_row)
        return;
    const int row = seg / segs_row;
    const int ox0 = (seg - row * segs_row) * NP;
    const int o = row / pc.HO, oy = row - o * pc.HO;
    const uint HW = uint(pc.H) * uint(pc.W);
    const uint CIHW = uint(pc.CI) * HW;
    float acc[MB * NP];
    [[unroll]] for (int i = 0; i < MB * NP; i++)
        acc[i] = 0.0;
    /* K in row taps (ci, dt, dy): the NX input pixels of a tap serve all KS
     * values of dx; the host makes k0 and kn multiples of KS */
    const int NX = (NP - 1) * SS + KS;
    const int KR = KT * KS;
    for (int rr = 0; rr < pc.kn / KS; rr++) {
        const int r = pc.k0 / KS + rr;
        const int ci = r / KR;
        const int rem = r - ci * KR;
        const int dt = rem / KS, dy = rem - (rem / KS) * KS;
        const int vf = o * ST + dt;
        const bool from_src = vf >= pc.nhist;
        const bool frame_ok = from_src || pc.pad_first == 0 || REPLICATE;
        RBuf b = from_src || pc.pad_first != 0 ? pc.src : pc.hist;
        const uint fbase = from_src ? uint(vf - pc.nhist) * CIHW : pc.pad_first != 0 ? 0u : uint(vf) * CIHW;
        int iy = oy * SS + dy - PAD;
        const bool row_ok = frame_ok && (REPLICATE || (iy >= 0 && iy < pc.H));
        iy = clamp(iy, 0, pc.H - 1);
        const uint rbase = fbase + uint(ci) * HW + uint(iy * pc.W);
        float xs[NX];
        [[unroll]] for (int j = 0; j < NX; j++) {
            int ix = ox0 * SS + j - PAD;
            bool ok = row_ok && (REPLICATE || (ix >= 0 && ix < pc.W));
            float v = b.d[rbase + uint(clamp(ix, 0, pc.W - 1))];
            xs[j] = ok ? v : 0.0;
        }
        [[unroll]] for (int dx = 0; dx < KS; dx++) {
            const int kk = rr * KS + dx;
            [[unroll]] for (int i = 0; i < MB; i += 4) {
                const vec4 w = W.w4[(kk * MB + i) >> 2];
                [[unroll]] for (int p = 0; p < NP; p++) {
                    const float x = xs[p * SS + dx];
                    acc[(i + 0) * NP + p] = fma(w.x, x, acc[(i + 0) * NP + p]);
                    acc[(i + 1) * NP + p] = fma(w.y, x, acc[(i + 1) * NP + p]);
                    acc[(i + 2) * NP + p] = fma(w.z, x, acc[(i + 2) * NP + p]);
                    acc[(i + 3) * NP + p] = fma(w.w, x, acc[(i + 3) * NP + p]);
                }
            }
        }
    }
    const int HOWO = pc.HO * pc.WO;
    [[unroll]] for (int p = 0; p < NP; p++) {
        if (ox0 + p >= pc.WO)
            continue;
        const uint base = uint(o) * uint(pc.CO) * uint(HOWO) + uint(oy * pc.WO + ox0 + p);
        [[unroll]] for (int i = 0; i < MB; i++) {
            const int m = pc.m0 + i;
            if (m < pc.CO) {
                const uint idx = base + uint(m) * uint(HOWO);
                float v = acc[i * NP + p];
                if (pc.first_slice == 0)
                    v = pc.dst.d[idx] + v;
                if (pc.last_slice != 0) {
                    if (HAS_BIAS)
                        v += pc.bias.d[m];
                    if (HAS_RES)
                        v += pc.res.d[idx];
                }
                pc.dst.d[idx] = v;
            }
        }
    }
}

#else /* the tiled implicit GEMM */

const int NT = (BM / TM) * (BN / TN);   /* threads; the host sets local_size_x to it */
const int LA = BK * BM / NT;            /* A elements each thread loads per slice */
const int LB = BK * BN / NT;            /* B elements each thread loads per slice */
const int CT = BN / TN;                 /* threads along n */

layout(push_constant) uniform PC {
    RBuf src;      /* the chunk: frames of CI x H x W */
    RBuf hist;     /* the layer's cache: nhist frames of CI x H x W */
    RBuf wt;       /* [KPAD][MPAD] */
    RBuf bias;     /* [CO] */
    RBuf res;      /* [n_out][CO][HO][WO], added to the output */
    WBuf dst;      /* [n_out][CO][HO][WO] */
    int H, W, HO, WO;
    int N;         /* n_out * HO * WO */
    int nhist;
    int pad_first;
    int ntiles;    /* tiles along n */
    int CI, CO;    /* input and output channels */
    int MPAD;      /* CO rounded up to BM: the row stride of wt */
} pc;

shared float As[BK * BM];
shared float Bs[BK * BN];

void main()
{
    const int tid = int(gl_LocalInvocationID.x);
    const int tile = int(group_index2());
    if (tile >= pc.ntiles)
        return;
    const int n0 = tile * BN;
    const int m0 = int(gl_WorkGroupID.z) * BM;
    const uint HW = uint(pc.H) * uint(pc.W);
    const int CI = pc.CI, CO = pc.CO, K = CI * KK;
    const int KPAD = (K + BK - 1) / BK * BK;
    const uint CIHW = uint(CI) * HW;
    const int HOWO = pc.HO * pc.WO;

    /* the B column this thread gathers, fixed for the whole K loop */
    const int bcol = tid % BN;
    const int nb = n0 + bcol;
    const bool bvalid = nb < pc.N;
    int vf0 = 0, iy0 = 0, ix0 = 0;
    if (bvalid) {
        int o = nb / HOWO;
        int pix = nb - o * HOWO;
        int oy = pix / pc.WO;
        int ox = pix - oy * pc.WO;
        vf0 = o * ST;
        iy0 = oy * SS - PAD;
        ix0 = ox * SS - PAD;
    }
    const int brow0 = tid / BN;

    float ra[LA];
    float rb[LB];

    /* fetch slice k0 into registers */
#define FETCH(k0)                                                                  \
    [[unroll]] for (int i = 0; i < LA; i++) {                                      \
        int e = tid + i * NT;                                                      \
        int kr = e / BM;                                                           \
        ra[i] = pc.wt.d[uint((k0) + kr) * uint(pc.MPAD) + uint(m0 + e - kr * BM)];    \
    }                                                                              \
    [[unroll]] for (int i = 0; i < LB; i++) {                                      \
        int k = (k0) + brow0 + i * (NT / BN);                                      \
        float v = 0.0;                                                             \
        if (bvalid && k < K) {                                                     \
            int ci = k / KK;                                                       \
            int r = k - ci * KK;                                                   \
            int dt = r / KS2;                                                      \
            r -= dt * KS2;                                                         \
            int dy = r / KS;                                                       \
            int dx = r - dy * KS;                                                  \
            int iy = iy0 + dy, ix = ix0 + dx;                                      \
            bool inside = true;                                                    \
            if (REPLICATE) {                                                       \
                iy = clamp(iy, 0, pc.H - 1);                                       \
                ix = clamp(ix, 0, pc.W - 1);                                       \
            } else {                                                               \
                inside = iy >= 0 && iy < pc.H && ix >= 0 && ix < pc.W;             \
            }                                                                      \
            if (inside) {                                                          \
                uint off = uint(ci) * HW + uint(iy * pc.W + ix);                   \
                int vf = vf0 + dt;                                                 \
                if (vf >= pc.nhist)                                                \
                    v = pc.src.d[uint(vf - pc.nhist) * CIHW + off];                \
                else if (pc.pad_first == 0)                                        \
                    v = pc.hist.d[uint(vf) * CIHW + off];                          \
                else if (REPLICATE)                                                \
                    v = pc.src.d[off];                                             \
            }                                                                      \
        }                                                                          \
        rb[i] = v;                                                                 \
    }

#define STORE()                                     \
    [[unroll]] for (int i = 0; i < LA; i++)         \
        As[tid + i * NT] = ra[i];                   \
    [[unroll]] for (int i = 0; i < LB; i++)         \
        Bs[tid + i * NT] = rb[i];

    const int tx = tid % CT, ty = tid / CT;
    float acc[TM * TN];
    [[unroll]] for (int i = 0; i < TM * TN; i++)
        acc[i] = 0.0;

    FETCH(0)
    STORE()
    barrier();
    for (int k0 = 0; k0 < KPAD; k0 += BK) {
        const bool more = k0 + BK < KPAD;
        if (more) {
            FETCH(k0 + BK)
        }
        [[unroll]] for (int kk = 0; kk < BK; kk++) {
            float a[TM], b[TN];
            [[unroll]] for (int i = 0; i < TM; i++)
                a[i] = As[kk * BM + ty * TM + i];
            [[unroll]] for (int j = 0; j < TN; j++)
                b[j] = Bs[kk * BN + tx + j * CT];
            [[unroll]] for (int i = 0; i < TM; i++)
                [[unroll]] for (int j = 0; j < TN; j++)
                    acc[i * TN + j] = fma(a[i], b[j], acc[i * TN + j]);
        }
        barrier();
        if (more) {
            STORE()
            barrier();
        }
    }

    [[unroll]] for (int j = 0; j < TN; j++) {
        int n = n0 + tx + j * CT;
        if (n >= pc.N)
            continue;
        int o = n / HOWO;
        int pix = n - o * HOWO;
        uint base = uint(o) * uint(CO) * uint(HOWO) + uint(pix);
        [[unroll]] for (int i = 0; i < TM; i++) {
            int m = m0 + ty * TM + i;
            if (m < CO) {
                uint idx = base + uint(m) * uint(HOWO);
                float v = acc[i * TN + j];
                if (HAS_BIAS)
                    v += pc.bias.d[m];
                if (HAS_RES)
                    v += pc.res.d[idx];
                pc.dst.d[idx] = v;
            }
        }
    }
}

#endif
