/* ARG-Poet ops: LayerNorm, exact GELU, windowed attention with relative
 * bias (positions outside the grid left out), linear layers on the GEMM,
 * the masked bit head and token choice (spec/poet.md §3, §5). Each op has
 * a plain-C reference (double accumulators, one position at a time) and a
 * fast path (float, vectorisable loops over positions, split over threads
 * in a way that does not depend on the thread count). */
#include "poet.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 256   /* positions per task of the elementwise ops */

/* The elementwise and attention loops in AVX2 where the CPU has it (each
 * output is computed in the same order at any vector width: the results are
 * bit-identical to the SSE2 build's). */
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__) && !defined(__clang__) && \
    defined(__linux__)
#define POET_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define POET_CLONES
#endif

/* c ? a : b without a branch (GCC does not if-convert float selects under
 * -ftrapping-math, which would keep these loops scalar) */
static inline float fsel(int c, float a, float b)
{
    uint32_t ua, ub, m = (uint32_t) - (int32_t)(c != 0), r;
    memcpy(&ua, &a, 4);
    memcpy(&ub, &b, 4);
    r = (ua & m) | (ub & ~m);
    float f;
    memcpy(&f, &r, 4);
    return f;
}

/* exp(x) for float, relative error about 1e-7, inlined so that the loops
 * that call it vectorise (libm's expf and erff do not): 2^k * p(r) with
 * k = round(x / ln 2) by the 1.5 * 2^23 trick and Cephes' polynomial. */
static inline float vexpf(float x)
{
    x = fsel(x < -87.0f, -87.0f, x);
    x = fsel(x > 88.0f, 88.0f, x);
    const float magic = 12582912.0f;
    float t = x * 1.44269504088896341f + magic;
    uint32_t tb;
    memcpy(&tb, &t, 4);
    float kf = t - magic;
    int32_t k = (int32_t)(tb - 0x4B400000u);
    float r = x - kf * 0.693359375f;
    r = r + kf * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    uint32_t sb = (uint32_t)(k + 127) << 23;
    float sc;
    memcpy(&sc, &sb, 4);
    return p * sc;
}

/* exact-form GELU 0.5 x (1 + erf(x / sqrt 2)) with erf from Abramowitz and
 * Stegun 7.1.26 (absolute error below 1.5e-7); 1 + erf is formed without
 * cancellation on both sides. */
static inline float vgelu(float x)
{
    float z = x * 0.70710678118654752f, az = fabsf(z);
    float t = 1.0f / (1.0f + 0.3275911f * az);
    float q = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f))));
    q *= vexpf(-az * az); /* 1 - erf(|z|) */
    float two_minus = 2.0f - q;
    float one_plus_erf = fsel(z < 0, q, two_minus);
    return 0.5f * x * one_plus_erf;
}

/* ------------------------------------------------------------- LayerNorm */

void ref_poet_layernorm(const float *x, float *y, int c, int n, const float *w, const float *b,
                        float eps)
{
    for (int p = 0; p < n; p++) {
        double mean = 0, var = 0;
        for (int i = 0; i < c; i++)
            mean += x[(size_t)i * n + p];
        mean /= c;
        for (int i = 0; i < c; i++) {
            double v = x[(size_t)i * n + p] - mean;
            var += v * v;
        }
        var /= c;
        double inv = 1.0 / sqrt(var + (double)eps);
        for (int i = 0; i < c; i++)
            y[(size_t)i * n + p] = (float)((x[(size_t)i * n + p] - mean) * inv * w[i] + b[i]);
    }
}

typedef struct LnJob {
    const float *x;
    float *y;
    int c, n;
    const float *w, *b;
    float eps;
} LnJob;

POET_CLONES static void ln_task(void *arg, int task, int thread)
{
    (void)thread;
    const LnJob *j = arg;
    const int c = j->c, n = j->n;
    int p0 = task * CHUNK, len = n - p0 < CHUNK ? n - p0 : CHUNK;
    float mean[CHUNK], inv[CHUNK];
    for (int q = 0; q < len; q++)
        mean[q] = 0.f;
    for (int i = 0; i < c; i++) {
        const float *xr = j->x + (size_t)i * n + p0;
        for (int q = 0; q < len; q++)
            mean[q] += xr[q];
    }
    for (int q = 0; q < len; q++) {
        mean[q] /= (float)c;
        inv[q] = 0.f;
    }
    for (int i = 0; i < c; i++) {
        const float *xr = j->x + (size_t)i * n + p0;
        for (int q = 0; q < len; q++) {
            float v = xr[q] - mean[q];
            inv[q] += v * v;
        }
    }
    for (int q = 0; q < len; q++)
        inv[q] = 1.f / sqrtf(inv[q] / (float)c + j->eps);
    for (int i = 0; i < c; i++) {
        const float *xr = j->x + (size_t)i * n + p0;
        float *yr = j->y + (size_t)i * n + p0;
        const float wi = j->w[i], bi = j->b[i];
        for (int q = 0; q < len; q++)
            yr[q] = (xr[q] - mean[q]) * inv[q] * wi + bi;
    }
}

void poet_layernorm(KernelCtx *k, const float *x, float *y, int c, int n, const float *w,
                    const float *b, float eps)
{
    if (k->gemm == GEMM_REF) {
        ref_poet_layernorm(x, y, c, n, w, b, eps);
        return;
    }
    LnJob j = { x, y, c, n, w, b, eps };
    tp_run(k->pool, (n + CHUNK - 1) / CHUNK, ln_task, &j);
}

/* ------------------------------------------------------------------ GELU */

void ref_poet_gelu(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double v = x[i];
        x[i] = (float)(0.5 * v * (1.0 + erf(v / sqrt(2.0))));
    }
}

typedef struct GeluJob {
    float *x;
    size_t n;
} GeluJob;

#define GELU_CHUNK 16384

POET_CLONES static void gelu_task(void *arg, int task, int thread)
{
    (void)thread;
    const GeluJob *j = arg;
    size_t i0 = (size_t)task * GELU_CHUNK, i1 = i0 + GELU_CHUNK < j->n ? i0 + GELU_CHUNK : j->n;
    float *x = j->x;
    for (size_t i = i0; i < i1; i++)
        x[i] = vgelu(x[i]);
}

void poet_gelu(KernelCtx *k, float *x, size_t n)
{
    if (k->gemm == GEMM_REF) {
        ref_poet_gelu(x, n);
        return;
    }
    GeluJob j = { x, n };
    tp_run(k->pool, (int)((n + GELU_CHUNK - 1) / GELU_CHUNK), gelu_task, &j);
}

/* ---------------------------------------------------------------- linear */

int poet_linear(KernelCtx *k, const ConvW *c, const float *x, float *y, int n)
{
    const float *src[1] = { x };
    return conv3d(k, c, src, 1, 1, n, 0, y);
}

/* ------------------------------------------------------------- attention */

void ref_poet_attention(const float *qkv, float *o, int d, int heads, int w, const float *rel,
                        int H, int W)
{
    const int dh = d / heads, r = (w - 1) / 2, n = H * W;
    const double scale = 1.0 / sqrt((double)dh);
    double *a = malloc((size_t)w * w * sizeof(double));
    if (!a)
        return;
    for (int hd = 0; hd < heads; hd++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                int p = y * W + x;
                double mx = -INFINITY;
                for (int dy = -r; dy <= r; dy++)
                    for (int dx = -r; dx <= r; dx++) {
                        int o_ = (dy + r) * w + dx + r, yy = y + dy, xx = x + dx;
                        if (yy < 0 || yy >= H || xx < 0 || xx >= W) {
                            a[o_] = -INFINITY;
                            continue;
                        }
                        double s = 0;
                        for (int c = 0; c < dh; c++)
                            s += (double)qkv[(size_t)(hd * dh + c) * n + p] *
                                 qkv[(size_t)(d + hd * dh + c) * n + yy * W + xx];
                        a[o_] = s * scale + rel[((size_t)hd * w + dy + r) * w + dx + r];
                        if (a[o_] > mx)
                            mx = a[o_];
                    }
                double sum = 0;
                for (int i = 0; i < w * w; i++) {
                    a[i] = a[i] == -INFINITY ? 0.0 : exp(a[i] - mx);
                    sum += a[i];
                }
                for (int c = 0; c < dh; c++) {
                    double acc = 0;
                    for (int dy = -r; dy <= r; dy++)
                        for (int dx = -r; dx <= r; dx++) {
                            int yy = y + dy, xx = x + dx;
                            if (yy < 0 || yy >= H || xx < 0 || xx >= W)
                                continue;
                            acc += a[(dy + r) * w + dx + r] *
                                   qkv[(size_t)(2 * d + hd * dh + c) * n + yy * W + xx];
                        }
                    o[(size_t)(hd * dh + c) * n + p] = (float)(acc / sum);
                }
            }
    free(a);
}

size_t poet_attn_scratch(int w, int W)
{
    return (size_t)w * w * W + 2 * (size_t)W;
}

typedef struct AttnJob {
    const float *qkv;
    float *o;
    int d, heads, w, H, W;
    const float *rel;
    float *const *scratch;
} AttnJob;

/* One head, one row of queries: scores for every window offset as rows of W
 * (vectorisable over x), a softmax over the offsets, then the values. */
POET_CLONES static void attn_task(void *arg, int task, int thread)
{
    const AttnJob *j = arg;
    const int d = j->d, w = j->w, H = j->H, W = j->W, r = (w - 1) / 2, n = H * W;
    const int dh = d / j->heads, hd = task / H, y = task % H, ww = w * w;
    const float scale = 1.f / sqrtf((float)dh);
    float *s = j->scratch[thread], *mx = s + (size_t)ww * W, *sum = mx + W;
    const float *q = j->qkv + (size_t)hd * dh * n + (size_t)y * W;
    for (int x = 0; x < W; x++)
        mx[x] = -INFINITY;
    for (int dy = -r; dy <= r; dy++)
        for (int dx = -r; dx <= r; dx++) {
            int oi = (dy + r) * w + dx + r, yy = y + dy;
            float *so = s + (size_t)oi * W;
            int x0 = dx < 0 ? -dx : 0, x1 = dx > 0 ? W - dx : W;
            if (yy < 0 || yy >= H || x1 <= x0) {
                for (int x = 0; x < W; x++)
                    so[x] = -INFINITY;
                continue;
            }
            for (int x = 0; x < x0; x++)
                so[x] = -INFINITY;
            for (int x = x1; x < W; x++)
                so[x] = -INFINITY;
            for (int x = x0; x < x1; x++)
                so[x] = 0.f;
            const float *kk = j->qkv + (size_t)(d + hd * dh) * n + (size_t)yy * W + dx;
            for (int c = 0; c < dh; c++) {
                const float *qc = q + (size_t)c * n, *kc = kk + (size_t)c * n;
                for (int x = x0; x < x1; x++)
                    so[x] += qc[x] * kc[x];
            }
            const float bias = j->rel[((size_t)hd * w + dy + r) * w + dx + r];
            for (int x = x0; x < x1; x++) {
                float v = so[x] * scale + bias;
                so[x] = v;
                mx[x] = fsel(v > mx[x], v, mx[x]);
            }
        }
    for (int x = 0; x < W; x++)
        sum[x] = 0.f;
    for (int oi = 0; oi < ww; oi++) {
        float *so = s + (size_t)oi * W;
        for (int x = 0; x < W; x++) {
            float e = vexpf(so[x] - mx[x]);
            e = fsel(so[x] == -INFINITY, 0.f, e);
            so[x] = e;
            sum[x] += e;
        }
    }
    for (int x = 0; x < W; x++)
        sum[x] = 1.f / sum[x];
    for (int c = 0; c < dh; c++) {
        float *oc = j->o + (size_t)(hd * dh + c) * n + (size_t)y * W;
        for (int x = 0; x < W; x++)
            oc[x] = 0.f;
        const float *vbase = j->qkv + (size_t)(2 * d + hd * dh + c) * n;
        for (int dy = -r; dy <= r; dy++) {
            int yy = y + dy;
            if (yy < 0 || yy >= H)
                continue;
            for (int dx = -r; dx <= r; dx++) {
                int x0 = dx < 0 ? -dx : 0, x1 = dx > 0 ? W - dx : W;
                const float *so = s + (size_t)((dy + r) * w + dx + r) * W;
                const float *vc = vbase + (size_t)yy * W + dx;
                for (int x = x0; x < x1; x++)
                    oc[x] += so[x] * vc[x];
            }
        }
        for (int x = 0; x < W; x++)
            oc[x] *= sum[x];
    }
}

void poet_attention(KernelCtx *k, const float *qkv, float *o, int d, int heads, int w,
                    const float *rel, int H, int W, float *const *scratch)
{
    if (k->gemm == GEMM_REF || !scratch) {
        ref_poet_attention(qkv, o, d, heads, w, rel, H, W);
        return;
    }
    AttnJob j = { qkv, o, d, heads, w, H, W, rel, scratch };
    tp_run(k->pool, heads * H, attn_task, &j);
}

/* -------------------------------------------------------------- bit head */

void poet_bit_base(const ArgPoet *p, const float *h, ptrdiff_t stride, double *base)
{
    for (int i = 0; i < p->B; i++) {
        const float *wr = p->bits_w + (size_t)i * p->d;
        double acc = p->bits_b[i];
        for (int c = 0; c < p->d; c++)
            acc += (double)wr[c] * h[c * stride];
        base[i] = acc;
    }
}

static double log_sigmoid(double x)
{
    return x < 0 ? x - log1p(exp(x)) : -log1p(exp(-x));
}

double poet_token_bits(const ArgPoet *p, const double *base, uint32_t token)
{
    const int B = p->B;
    double nats = 0;
    for (int i = 0; i < B; i++) {
        double lg = base[i];
        const float *ar = p->bits_ar + (size_t)i * B;
        for (int j = 0; j < i; j++)
            lg += ar[j] * (double)((token >> j & 1) ? 1 : -1);
        double s = (token >> i & 1) ? 1.0 : -1.0;
        nats -= log_sigmoid(s * lg);
    }
    return nats / log(2.0);
}

uint64_t poet_splitmix64(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double poet_uniform(uint64_t seed, uint64_t t, uint64_t y, uint64_t x, uint64_t group)
{
    uint64_t idx = ((t * 65536u + y) * 65536u + x) * 8u + group;
    return (double)(poet_splitmix64(seed ^ poet_splitmix64(idx)) >> 11) * 0x1.0p-53;
}

/* Draw from V values with scaled log-probabilities (§5). */
static int sample_group(const double *scaled, int V, int top_k, double top_p, double u)
{
    double prob[64], ps[64], pv[64];
    int order[64];
    double mx = -INFINITY;
    for (int v = 0; v < V; v++)
        if (scaled[v] > mx)
            mx = scaled[v];
    double sum = 0;
    for (int v = 0; v < V; v++) {
        prob[v] = exp(scaled[v] - mx);
        sum += prob[v];
    }
    for (int v = 0; v < V; v++)
        prob[v] /= sum;
    /* descending probability, ties towards the smaller value (stable insertion) */
    for (int v = 0; v < V; v++) {
        int i = v;
        while (i > 0 && prob[order[i - 1]] < prob[v]) {
            order[i] = order[i - 1];
            i--;
        }
        order[i] = v;
    }
    int kept = top_k > 0 && top_k < V ? top_k : V;
    sum = 0;
    for (int i = 0; i < V; i++) {
        ps[i] = i < kept ? prob[order[i]] : 0.0;
        sum += ps[i];
    }
    for (int i = 0; i < V; i++)
        ps[i] /= sum;
    if (top_p < 1.0) {
        double before = 0;
        int i = 0;
        for (; i < kept; i++) {
            if (!(before < top_p))
                break;
            before += ps[i];
        }
        kept = i;
        sum = 0;
        for (i = 0; i < V; i++) {
            if (i >= kept)
                ps[i] = 0.0;
            sum += ps[i];
        }
        for (i = 0; i < V; i++)
            ps[i] /= sum;
    }
    for (int i = 0; i < V; i++)
        pv[order[i]] = ps[i];
    double cum = 0;
    int last = 0;
    for (int v = 0; v < V; v++)
        if (pv[v] > 0)
            last = v;
    for (int v = 0; v < V; v++) {
        cum += pv[v];
        if (cum > u)
            return v < last ? v : last;
    }
    return last;
}

uint32_t poet_choose(const ArgPoet *p, const double *base, double temperature, int top_k,
                     double top_p, uint64_t seed, uint64_t t, int y, int x)
{
    const int B = p->B;
    double s[ARG_TOKEN_MAX_BITS], pre[POET_BIT_GROUP], logp[1 << POET_BIT_GROUP];
    uint32_t tok = 0;
    for (int gi = 0, a = 0; a < B; gi++, a += POET_BIT_GROUP) {
        int nb = B - a < POET_BIT_GROUP ? B - a : POET_BIT_GROUP, V = 1 << nb;
        for (int i = 0; i < nb; i++) {
            const float *ar = p->bits_ar + (size_t)(a + i) * B;
            double acc = base[a + i];
            for (int j = 0; j < a; j++)
                acc += ar[j] * s[j];
            pre[i] = acc;
        }
        /* log-probabilities of the 2^nb values over the tree of their bits:
         * node u at depth i (bits 0..i-1 chosen) has one logit for bit i */
        logp[0] = 0;
        for (int i = 0; i < nb; i++) {
            const float *ar = p->bits_ar + (size_t)(a + i) * B + a;
            for (int u = 0; u < 1 << i; u++) {
                double lg = pre[i];
                for (int j = 0; j < i; j++)
                    lg += ar[j] * ((u >> j & 1) ? 1.0 : -1.0);
                double ls = log_sigmoid(lg);
                logp[u | 1 << i] = logp[u] + ls;
                logp[u] = logp[u] + (ls - lg); /* log sigmoid(-lg) */
            }
        }
        int best = 0;
        for (int v = 1; v < V; v++)
            if (logp[v] > logp[best])
                best = v;
        int choice;
        if (temperature <= 0) {
            choice = best;
        } else {
            for (int v = 0; v < V; v++)
                logp[v] /= temperature;
            choice = sample_group(logp, V, top_k, top_p, poet_uniform(seed, t, (uint64_t)y, (uint64_t)x, (uint64_t)gi));
        }
        tok |= (uint32_t)choice << a;
        for (int i = 0; i < nb; i++)
            s[a + i] = (choice >> i & 1) ? 1.0 : -1.0;
    }
    return tok;
}
