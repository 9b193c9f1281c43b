/* Vulkan execution of the tokenizer: ops as lists of steps (dispatches,
 * copies, fills), whole networks planned once per chunk kind (the first
 * chunk after a reset, and the steady state), recorded into one command
 * buffer each and resubmitted for every chunk: one submission per latent
 * frame (per clip for fixed-clip models). Activations, causal caches and
 * weights stay on the device; only the chunk's input and output cross. */
#include "vk_net.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"

enum { ST_DISPATCH, ST_COPY, ST_FILL };
enum { PK_CONV, PK_NORM, PK_D2S, PK_S2D, PK_LFQ, PK_DEQUANT, PK_STYLE, PK_COPY, PK_COUNT };
static const char *const pk_names[PK_COUNT] = { "conv", "groupnorm", "depth-to-space", "space-to-depth",
                                                "lfq", "dequant", "style", "copy/fill" };

typedef struct Step {
    int type, pk, layer;
    VkPipeline pipe;
    uint32_t groups[3];
    uint32_t pc_size;
    uint8_t pc[128];
    VkBuffer src, dst;
    VkDeviceSize src_off, dst_off, size;
    VkDescriptorSet set;           /* the weights as a dynamic uniform buffer, or none */
    uint32_t dynoff;
    double macs;
} Step;

typedef struct StepList {
    Step *s;
    int n, cap;
    int err;
    int layer;        /* layer of the steps pushed next */
} StepList;

static Step *push_step(StepList *L, int type, int pk)
{
    if (L->err)
        return NULL;
    if (L->n == L->cap) {
        int ncap = L->cap ? 2 * L->cap : 64;
        Step *n = realloc(L->s, (size_t)ncap * sizeof(Step));
        if (!n) {
            L->err = -ENOMEM;
            return NULL;
        }
        L->s = n;
        L->cap = ncap;
    }
    Step *s = &L->s[L->n++];
    memset(s, 0, sizeof(*s));
    s->type = type;
    s->pk = pk;
    s->layer = L->layer;
    return s;
}

static void steps_free(StepList *L)
{
    free(L->s);
    memset(L, 0, sizeof(*L));
}

static Step *emit_dispatch(StepList *L, int pk, VkPipeline p, const void *pc, size_t pcsize, uint32_t gx,
                           uint32_t gy, uint32_t gz, double macs)
{
    if (!p) {
        if (!L->err)
            L->err = -ENODEV;
        return NULL;
    }
    if (gx == 0 || gy == 0 || gz == 0)
        return NULL;
    Step *s = push_step(L, ST_DISPATCH, pk);
    if (!s)
        return NULL;
    s->pipe = p;
    s->groups[0] = gx;
    s->groups[1] = gy;
    s->groups[2] = gz;
    s->pc_size = (uint32_t)pcsize;
    memcpy(s->pc, pc, pcsize);
    s->macs = macs;
    return s;
}

static void emit_copy(StepList *L, const VkBuf *src, size_t soff, const VkBuf *dst, size_t doff, size_t size)
{
    if (size == 0)
        return;
    Step *s = push_step(L, ST_COPY, PK_COPY);
    if (!s)
        return;
    s->src = src->buf;
    s->dst = dst->buf;
    s->src_off = soff;
    s->dst_off = doff;
    s->size = size;
}

static void emit_fill(StepList *L, const VkBuf *dst, size_t off, size_t size)
{
    if (size == 0)
        return;
    Step *s = push_step(L, ST_FILL, PK_COPY);
    if (!s)
        return;
    s->dst = dst->buf;
    s->dst_off = off;
    s->size = size;
}

/* n workgroups over x and y within the device's limits */
static int fold2(const VkCtx *c, size_t n, uint32_t *gx, uint32_t *gy)
{
    size_t mx = c->max_groups[0] < 65535u ? c->max_groups[0] : 65535u;
    *gx = (uint32_t)(n < mx ? n : mx);
    size_t y = *gx ? (n + *gx - 1) / *gx : 0;
    if (y > c->max_groups[1])
        return -E2BIG;
    *gy = (uint32_t)y;
    return 0;
}

/* rows over y and z */
static int fold_rows(const VkCtx *c, size_t rows, uint32_t *gy, uint32_t *gz)
{
    size_t my = c->max_groups[1] < 65535u ? c->max_groups[1] : 65535u;
    *gy = (uint32_t)(rows < my ? rows : my);
    size_t z = *gy ? (rows + *gy - 1) / *gy : 0;
    if (z > c->max_groups[2])
        return -E2BIG;
    *gz = (uint32_t)z;
    return 0;
}

#define PER_GROUP 2048   /* elements of a row per workgroup in element-wise shaders */

/* ---------------------------------------------------------------- conv */

typedef struct VkConvInfo {
    const ConvW *w;
    int bm, bn, bk, tm, tn, mpad, kpad;
    int ubo;                       /* the uniform-buffer variant: bm channels per dispatch, */
    int mtiles, kslice;            /* mtiles dispatches of K slices of kslice */
    size_t off;                    /* floats into the weights buffer (a multiple of 64) */
    VkDeviceAddress wt, bias;
    VkDescriptorSet set;           /* ubo: the weights buffer's set */
} VkConvInfo;

/* Tile shape for a layer: BM covers the output channels with little waste
 * (8 rows of threads, TM = BM / 8 each, BM <= 64), BN = 128 pixels with 8 per
 * thread on GPUs (16 columns of threads: 128 threads, TM x 8 accumulators,
 * TM + 8 shared-memory loads per TM x 8 FMAs), 64 pixels with 4 per thread
 * elsewhere. ARG_VK_TILE="BM,BN,TM,TN" overrides (tuning; BM/TM must be 8 or
 * 16, BN/TN 16, BN 64 or 128). */
static void conv_tiles(const VkCtx *c, VkConvInfo *ci)
{
    int co = ci->w->co;
    if (c->conv_ubo) {
        /* up to 24 channels per dispatch (a multiple of 4), 4 pixels per
         * invocation: on lavapipe (2 cores) within 20% of the fastest
         * choices measured, at a quarter of their shader compile time */
        ci->ubo = 1;
        ci->mtiles = (co + 23) / 24;
        ci->bm = ((co + ci->mtiles - 1) / ci->mtiles + 3) / 4 * 4;
        ci->tn = 4;
        ci->bn = ci->bk = ci->tm = 1;
        ci->kslice = VK_UBO_RANGE / 4 / ci->bm / ci->w->ks * ci->w->ks; /* whole row taps */
        ci->mpad = ci->mtiles * ci->bm;
        ci->kpad = ci->w->K;
        return;
    }
    int bm, tm, bn = 64, tn = 4;
    if (co <= 8)
        bm = 8, tm = 1;
    else if (co <= 16)
        bm = 16, tm = 2;
    else if (co <= 24)
        bm = 24, tm = 3;
    else if (co <= 32)
        bm = 32, tm = 4;
    else if (co <= 48)
        bm = 48, tm = 6;
    else
        bm = 64, tm = 8;
    if (c->wide_tiles)
        bn = 128, tn = 8;
    const char *env = getenv("ARG_VK_TILE");
    int a, b, d, e;
    if (env && sscanf(env, "%d,%d,%d,%d", &a, &b, &d, &e) == 4 && a > 0 && b > 0 && d > 0 && e > 0 &&
        a % d == 0 && b % e == 0 && (a / d == 8 || a / d == 16) && b / e == 16 && (b == 64 || b == 128))
        bm = a, bn = b, tm = d, tn = e;
    ci->bm = bm;
    ci->tm = tm;
    ci->bn = bn;
    ci->tn = tn;
    ci->bk = 16;
    ci->mpad = (co + bm - 1) / bm * bm;
    ci->kpad = (ci->w->K + ci->bk - 1) / ci->bk * ci->bk;
}

static size_t conv_floats(const VkConvInfo *ci)
{
    return ((size_t)ci->kpad * ci->mpad + (size_t)ci->w->co + 63) & ~(size_t)63;
}

/* Tiled: wt[k][m] (zero-padded to kpad x mpad). Uniform-buffer variant:
 * for each group of bm channels, wt[k][bm]. Then the bias. */
static void conv_pack_dev(const VkConvInfo *ci, float *dst)
{
    const ConvW *w = ci->w;
    memset(dst, 0, conv_floats(ci) * sizeof(float));
    for (int m = 0; m < w->co; m++)
        for (int k = 0; k < w->K; k++) {
            size_t at = ci->ubo ? ((size_t)(m / ci->bm) * w->K + k) * ci->bm + m % ci->bm
                                : (size_t)k * ci->mpad + m;
            dst[at] = w->w[(size_t)m * w->K + k];
        }
    for (int m = 0; m < w->co; m++)
        dst[(size_t)ci->kpad * ci->mpad + m] = w->bias ? w->bias[m] : 0.f;
}

static void conv_bind(VkConvInfo *ci, VkDeviceAddress base, VkDescriptorSet set)
{
    ci->wt = base + ci->off * sizeof(float);
    ci->bias = ci->wt + (size_t)ci->kpad * ci->mpad * sizeof(float);
    ci->set = set;
}

typedef struct PcConv {
    uint64_t src, hist, wt, bias, res, dst;
    int32_t H, W, HO, WO, N, nhist, pad_first, ntiles;
    int32_t CI, CO, MPAD, pad_;
} PcConv;

typedef struct PcConvUbo {
    uint64_t src, hist, wt, bias, res, dst;
    int32_t H, W, HO, WO, N, nhist, pad_first, ntiles;
    int32_t CI, CO, m0, k0, kn, first_slice, last_slice, pad_;
} PcConvUbo;

/* the uniform-buffer variant: a dispatch per group of channels and K slice */
static void emit_conv_ubo(VkCtx *c, StepList *L, const VkConvInfo *ci, int replicate, VkDeviceAddress src,
                          VkDeviceAddress hist, VkDeviceAddress res, VkDeviceAddress dst, int h, int w, int n_out,
                          int nhist, int pad_first)
{
    const ConvW *cw = ci->w;
    const int nt = 64;
    int ho = conv_out_dim(h, cw->ks, cw->ss), wo = conv_out_dim(w, cw->ks, cw->ss);
    long long N = (long long)n_out * ho * wo;
    long long segs = (long long)n_out * ho * ((wo + ci->tn - 1) / ci->tn);
    uint32_t gx, gy;
    if (!ci->set || fold2(c, (size_t)((segs + nt - 1) / nt), &gx, &gy) < 0) {
        L->err = ci->set ? -E2BIG : -EINVAL;
        return;
    }
    int32_t spec[13] = { nt, ci->bm, 1, 1, 1, ci->tn, cw->kt, cw->ks, cw->st, cw->ss, replicate != 0,
                         cw->bias != NULL, res != 0 };
    VkPipeline p = vkctx_pipeline(c, SH_CONV_UBO, spec, 13);
    for (int t = 0; t < ci->mtiles; t++)
        for (int k0 = 0; k0 < cw->K; k0 += ci->kslice) {
            int kn = cw->K - k0 < ci->kslice ? cw->K - k0 : ci->kslice;
            PcConvUbo pc = { src, hist ? hist : src, ci->wt, ci->bias, res ? res : src, dst,
                             h, w, ho, wo, (int)N, nhist, pad_first, 0,
                             cw->ci, cw->co, t * ci->bm, k0, kn, k0 == 0, k0 + kn == cw->K, 0 };
            Step *s = emit_dispatch(L, PK_CONV, p, &pc, sizeof(pc), gx, gy, 1, (double)N * ci->bm * kn);
            if (s) {
                s->set = ci->set;
                s->dynoff = (uint32_t)((ci->off + ((size_t)t * cw->K + k0) * ci->bm) * sizeof(float));
            }
        }
}

static void emit_conv(VkCtx *c, StepList *L, const VkConvInfo *ci, int replicate, VkDeviceAddress src,
                      VkDeviceAddress hist, VkDeviceAddress res, VkDeviceAddress dst, int h, int w, int n_out,
                      int nhist, int pad_first)
{
    const ConvW *cw = ci->w;
    int ho = conv_out_dim(h, cw->ks, cw->ss), wo = conv_out_dim(w, cw->ks, cw->ss);
    long long N = (long long)n_out * ho * wo;
    if (N <= 0)
        return;
    if (N > 0x7fffffffLL || (long long)cw->ci * h * w * (nhist + n_out * cw->st + cw->kt) > 0xffffffffLL) {
        L->err = -E2BIG;
        return;
    }
    if (ci->ubo) {
        emit_conv_ubo(c, L, ci, replicate, src, hist, res, dst, h, w, n_out, nhist, pad_first);
        return;
    }
    int nt = (ci->bm / ci->tm) * (ci->bn / ci->tn);
    int32_t spec[13] = { nt,     ci->bm, ci->bn, ci->bk, ci->tm,        ci->tn,           cw->kt,
                         cw->ks, cw->st, cw->ss, replicate != 0, cw->bias != NULL, res != 0 };
    VkPipeline p = vkctx_pipeline(c, SH_CONV, spec, 13);
    int tiles = (int)((N + ci->bn - 1) / ci->bn);
    PcConv pc = { src, hist ? hist : src, ci->wt, ci->bias, res ? res : src, dst,
                  h, w, ho, wo, (int)N, nhist, pad_first, tiles, cw->ci, cw->co, ci->mpad, 0 };
    uint32_t gx, gy;
    if (fold2(c, (size_t)tiles, &gx, &gy) < 0) {
        L->err = -E2BIG;
        return;
    }
    emit_dispatch(L, PK_CONV, p, &pc, sizeof(pc), gx, gy, (uint32_t)(ci->mpad / ci->bm),
                  (double)N * cw->co * cw->K);
}

/* ----------------------------------------------------------- groupnorm */

typedef struct GnGeo {
    int nseg, nsplit, chunk, nsg;
} GnGeo;

static GnGeo gn_geometry(int t, int c, int hw, int groups, int clip)
{
    GnGeo g;
    long long L = (long long)(c / groups) * hw;
    g.nseg = clip ? t : 1;
    g.nsg = clip ? groups : t * groups;
    long long ns = (L + 8191) / 8192;
    if (ns < 1)
        ns = 1;
    if (ns > 64)
        ns = 64;
    g.chunk = (int)((L + ns - 1) / ns);
    g.nsplit = (int)((L + g.chunk - 1) / g.chunk);
    return g;
}

static size_t gn_part_floats(GnGeo g)
{
    return 2 * (size_t)g.nsg * g.nseg * g.nsplit;
}

typedef struct PcGnReduce {
    uint64_t x, part;
    int32_t c, hw, groups, nseg, nsplit, chunk, out_off;
    float n_inv;
} PcGnReduce;

typedef struct PcGnFinal {
    uint64_t part, prm, style, coef;
    int32_t t, c, groups, nseg, nsplit, clip, affine, Z;
    float eps, n_inv;
} PcGnFinal;

typedef struct PcGnApply {
    uint64_t x, y, coef;
    int32_t hw, rows, per_group, pad_;
} PcGnApply;

/* Norm parameters in the weights buffer: affine weight[c], bias[c];
 * adaptive gamma.weight[c][Z], gamma.bias[c], beta.weight[c][Z], beta.bias[c]. */
static size_t norm_floats(const Norm *n, int Z)
{
    size_t f = n->gw ? 2 * (size_t)n->c * Z + 2 * (size_t)n->c : n->w ? 2 * (size_t)n->c : 0;
    return (f + 15) & ~(size_t)15;
}

static void norm_pack(const Norm *n, int Z, float *dst)
{
    size_t c = (size_t)n->c;
    if (n->gw) {
        memcpy(dst, n->gw, c * Z * sizeof(float));
        memcpy(dst + c * Z, n->gb, c * sizeof(float));
        memcpy(dst + c * Z + c, n->bw, c * Z * sizeof(float));
        memcpy(dst + 2 * c * Z + c, n->bb, c * sizeof(float));
    } else if (n->w) {
        memcpy(dst, n->w, c * sizeof(float));
        memcpy(dst + c, n->b, c * sizeof(float));
    }
}

static void emit_norm(VkCtx *c, StepList *L, VkDeviceAddress x, VkDeviceAddress y, int t, int ch, int hw,
                      int groups, float eps, int clip, int silu, VkDeviceAddress prm, int affine, int adaptive,
                      int Z, VkDeviceAddress style, VkDeviceAddress part, VkDeviceAddress coef)
{
    GnGeo g = gn_geometry(t, ch, hw, groups, clip);
    if ((size_t)g.nsg > c->max_groups[2] || (size_t)g.nseg > c->max_groups[1] ||
        (long long)t * ch * hw > 0xffffffffLL) {
        L->err = -E2BIG;
        return;
    }
    float n_inv = (float)(1.0 / ((double)(clip ? t : 1) * (ch / groups) * hw));
    PcGnReduce r = { x, part, ch, hw, groups, g.nseg, g.nsplit, g.chunk, 0, n_inv };
    emit_dispatch(L, PK_NORM, vkctx_pipeline(c, SH_GN_SUM, NULL, 0), &r, sizeof(r), (uint32_t)g.nsplit,
                  (uint32_t)g.nseg, (uint32_t)g.nsg, 0);
    r.out_off = g.nsg * g.nseg * g.nsplit;
    emit_dispatch(L, PK_NORM, vkctx_pipeline(c, SH_GN_SQ, NULL, 0), &r, sizeof(r), (uint32_t)g.nsplit,
                  (uint32_t)g.nseg, (uint32_t)g.nsg, 0);
    PcGnFinal f = { part, prm ? prm : part, style ? style : part, coef, t, ch, groups, g.nseg, g.nsplit,
                    clip != 0, affine != 0, Z, eps, n_inv };
    uint32_t gx, gy;
    if (fold2(c, ((size_t)t * ch + 63) / 64, &gx, &gy) < 0) {
        L->err = -E2BIG;
        return;
    }
    if (gy > 1) { /* gn_final indexes with gl_GlobalInvocationID.x only */
        L->err = -E2BIG;
        return;
    }
    emit_dispatch(L, PK_NORM, vkctx_pipeline(c, adaptive ? SH_GN_FINAL_ADAPTIVE : SH_GN_FINAL, NULL, 0), &f,
                  sizeof(f), gx, 1, 1, 0);
    int32_t spec[1] = { silu != 0 };
    PcGnApply a = { x, y, coef, hw, t * ch, PER_GROUP, 0 };
    uint32_t ry, rz;
    if (fold_rows(c, (size_t)t * ch, &ry, &rz) < 0) {
        L->err = -E2BIG;
        return;
    }
    emit_dispatch(L, PK_NORM, vkctx_pipeline(c, SH_GN_APPLY, spec, 1), &a, sizeof(a),
                  (uint32_t)((hw + PER_GROUP - 1) / PER_GROUP), ry, rz, 0);
}

/* ------------------------------------------------------- data movement */

typedef struct PcD2S {
    uint64_t x, y;
    int32_t c, h, w, drop, rows, per_group;
} PcD2S;

typedef struct PcS2D {
    uint64_t x, y;
    int32_t c, h, w, rows, per_group, pad_;
} PcS2D;

typedef struct PcLfq {
    uint64_t z, tok;
    int32_t bits, n, total, pad_;
} PcLfq;

typedef struct PcStyle {
    uint64_t tok, style;
    int32_t bits, total, unbiased;
    float eps;
} PcStyle;

/* returns the output frames */
static int emit_d2s(VkCtx *c, StepList *L, VkDeviceAddress x, VkDeviceAddress y, int t, int ch, int h, int w,
                    int a, int b, int drop)
{
    drop = drop && a == 2;
    int tout = t * a - drop;
    if ((long long)t * ch * a * b * b * h * w > 0xffffffffLL) {
        L->err = -E2BIG;
        return tout;
    }
    int32_t spec[2] = { a, b };
    PcD2S pc = { x, y, ch, h, w, drop, tout * ch, PER_GROUP };
    uint32_t ry, rz;
    if (fold_rows(c, (size_t)tout * ch, &ry, &rz) < 0) {
        L->err = -E2BIG;
        return tout;
    }
    emit_dispatch(L, PK_D2S, vkctx_pipeline(c, SH_D2S, spec, 2), &pc, sizeof(pc),
                  (uint32_t)(((size_t)h * b * w * b + PER_GROUP - 1) / PER_GROUP), ry, rz, 0);
    return tout;
}

static void emit_s2d(VkCtx *c, StepList *L, VkDeviceAddress x, VkDeviceAddress y, int t, int ch, int h, int w,
                     int p)
{
    int32_t spec[1] = { p };
    int rows = t * ch * p * p;
    PcS2D pc = { x, y, ch, h, w, rows, PER_GROUP, 0 };
    uint32_t ry, rz;
    if ((long long)t * ch * h * w > 0xffffffffLL || fold_rows(c, (size_t)rows, &ry, &rz) < 0) {
        L->err = -E2BIG;
        return;
    }
    size_t ohw = (size_t)(h / p) * (w / p);
    emit_dispatch(L, PK_S2D, vkctx_pipeline(c, SH_S2D, spec, 1), &pc, sizeof(pc),
                  (uint32_t)((ohw + PER_GROUP - 1) / PER_GROUP), ry, rz, 0);
}

static void emit_lfq(VkCtx *c, StepList *L, int shader, VkDeviceAddress in, VkDeviceAddress out, int t, int bits,
                     int n)
{
    long long total = (long long)t * n * (shader == SH_DEQUANT ? bits : 1);
    uint32_t gx, gy;
    if (total > 0x7fffffffLL || fold2(c, (size_t)(total + 255) / 256, &gx, &gy) < 0) {
        L->err = -E2BIG;
        return;
    }
    PcLfq pc = { in, out, bits, n, (int32_t)total, 0 };
    emit_dispatch(L, shader == SH_DEQUANT ? PK_DEQUANT : PK_LFQ, vkctx_pipeline(c, shader, NULL, 0), &pc,
                  sizeof(pc), gx, gy, 1, 0);
}

static void emit_style(VkCtx *c, StepList *L, VkDeviceAddress tok, VkDeviceAddress style, int t, int bits, int n,
                       int unbiased, float eps)
{
    PcStyle pc = { tok, style, bits, t * n, unbiased, eps };
    emit_dispatch(L, PK_STYLE, vkctx_pipeline(c, SH_STYLE, NULL, 0), &pc, sizeof(pc), (uint32_t)bits, 1, 1, 0);
}

/* ------------------------------------------------------------ recording */

static int record(VkCtx *c, VkCmd *cmd, const StepList *L, VkQueryPool qp)
{
    VkCommandBuffer cb = cmd->cb;
    if (vkResetCommandBuffer(cb, 0) != VK_SUCCESS)
        return -ENOMEM;
    VkCommandBufferBeginInfo bi = { .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO };
    if (vkBeginCommandBuffer(cb, &bi) != VK_SUCCESS)
        return -ENOMEM;
    if (qp)
        vkCmdResetQueryPool(cb, qp, 0, (uint32_t)L->n + 1);
    vk_barrier(cb);
    if (qp)
        vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, qp, 0);
    VkPipeline bound = VK_NULL_HANDLE;
    for (int i = 0; i < L->n; i++) {
        const Step *s = &L->s[i];
        if (i > 0)
            vk_barrier(cb);
        switch (s->type) {
        case ST_DISPATCH:
            if (s->pipe != bound) {
                vkCmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_COMPUTE, s->pipe);
                bound = s->pipe;
            }
            if (s->set)
                vkCmdBindDescriptorSets(cb, VK_PIPELINE_BIND_POINT_COMPUTE, c->layout, 0, 1, &s->set, 1, &s->dynoff);
            vkCmdPushConstants(cb, c->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, s->pc_size, s->pc);
            vkCmdDispatch(cb, s->groups[0], s->groups[1], s->groups[2]);
            break;
        case ST_COPY: {
            VkBufferCopy r = { s->src_off, s->dst_off, s->size };
            vkCmdCopyBuffer(cb, s->src, s->dst, 1, &r);
            break;
        }
        case ST_FILL:
            vkCmdFillBuffer(cb, s->dst, s->dst_off, s->size, 0);
            break;
        }
        if (qp)
            vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, qp, (uint32_t)i + 1);
    }
    vk_barrier(cb);
    return vkEndCommandBuffer(cb) == VK_SUCCESS ? 0 : -ENOMEM;
}

static VkQueryPool make_query_pool(VkCtx *c, int n)
{
    if (!c->timestamps)
        return VK_NULL_HANDLE;
    VkQueryPoolCreateInfo qi = { .sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
                                 .queryType = VK_QUERY_TYPE_TIMESTAMP,
                                 .queryCount = (uint32_t)n };
    VkQueryPool qp;
    if (vkCreateQueryPool(c->dev, &qi, NULL, &qp) != VK_SUCCESS)
        return VK_NULL_HANDLE;
    return qp;
}

/* per-step milliseconds: ms[i] += ts[i+1] - ts[i] */
static int read_times(VkCtx *c, VkQueryPool qp, int n, double *ms, double *total)
{
    uint64_t *ts = malloc(((size_t)n + 1) * sizeof(uint64_t));
    if (!ts)
        return -ENOMEM;
    VkResult r = vkGetQueryPoolResults(c->dev, qp, 0, (uint32_t)n + 1, ((size_t)n + 1) * sizeof(uint64_t), ts,
                                       sizeof(uint64_t), VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT);
    if (r == VK_SUCCESS) {
        for (int i = 0; ms && i < n; i++)
            ms[i] += (double)(ts[i + 1] - ts[i]) * c->ts_ns * 1e-6;
        if (total)
            *total = (double)(ts[n] - ts[0]) * c->ts_ns * 1e-6;
    }
    free(ts);
    return r == VK_SUCCESS ? 0 : -EIO;
}

/* Record L, run it once, and report its GPU time. */
static int run_once(VkCtx *c, StepList *L, double *gpu_ms)
{
    if (L->err)
        return L->err;
    VkCmd cmd;
    int rc = vkcmd_init(c, &cmd);
    if (rc < 0)
        return rc;
    VkQueryPool qp = gpu_ms ? make_query_pool(c, L->n + 1) : VK_NULL_HANDLE;
    rc = record(c, &cmd, L, qp);
    if (rc == 0)
        rc = vkcmd_submit_wait(c, &cmd);
    if (gpu_ms) {
        *gpu_ms = 0;
        if (rc == 0 && qp)
            read_times(c, qp, L->n, NULL, gpu_ms);
    }
    if (qp)
        vkDestroyQueryPool(c->dev, qp, NULL);
    vkcmd_free(c, &cmd);
    return rc;
}

/* ------------------------------------------------------------- runner */

#define NB_GEN 3

typedef struct VkRunner {
    NetRunner base;
    VkCtx *ctx;
    const ArgModel *m;
    const Net *net;
    int is_dec, h, w, max_t;
    VkConvInfo (*cv)[4];             /* per op: conv | conv1, conv2, shortcut */
    size_t (*prm)[2];                /* per op: norm parameter offsets (floats) */
    VkBuf wbuf, gen[NB_GEN], part, coef, style, tok, up, rb;
    VkWSet wset;
    VkBuf *hist;                     /* per cache slot */
    size_t need_gen, need_part, need_coef, need_tok, need_up, need_rb, *need_hist;
    int *nh;                         /* per slot: frames in the cache (planning) */
    StepList plan[2];                /* 0: first chunk after a reset, 1: steady */
    int nplans, t_plan[2], out_cur[2];
    Shape out_shape[2];
    VkCmd cmd[2];
    VkQueryPool qp[2];
    int profile;
    double *prof[2];                 /* ms per step, summed over runs */
    int runs[2];
    char (*lname)[80];               /* per layer (ops, then input and output) */
    int first;
} VkRunner;

static void need(size_t *v, size_t n)
{
    if (n > *v)
        *v = n;
}

static size_t shape_floats(Shape s)
{
    return (size_t)s.t * s.c * s.h * s.w;
}

/* One causal convolution with its cache, as run_conv in exec.c. */
static void plan_conv(VkRunner *r, StepList *L, const VkConvInfo *ci, int slot, int first, const VkBuf *src,
                      const VkBuf *dst, const VkBuf *res, Shape *s)
{
    const ConvW *w = ci->w;
    const int kt = w->kt;
    const int pad = first && kt > 1;
    const int nhist = kt > 1 ? (first ? kt - 1 : r->nh[slot]) : 0;
    const int n = nhist + s->t;
    const int n_out = n >= kt ? (n - kt) / w->st + 1 : 0;
    const int ho = conv_out_dim(s->h, w->ks, w->ss), wo = conv_out_dim(s->w, w->ks, w->ss);
    const size_t fin = (size_t)s->c * s->h * s->w;
    need(&r->need_gen, (size_t)s->t * fin);
    need(&r->need_gen, (size_t)n_out * w->co * ho * wo);
    const VkBuf *hb = kt > 1 ? &r->hist[slot] : NULL;
    if (hb)
        need(&r->need_hist[slot], (size_t)(kt - 1) * fin);
    if (n_out > 0)
        emit_conv(r->ctx, L, ci, r->m->cfg.replicate, src->addr, hb ? hb->addr : 0, res ? res->addr : 0,
                  dst->addr, s->h, s->w, n_out, nhist, pad);
    if (hb) {
        /* keep the frames later outputs still read: the last nk of the
         * virtual sequence [cache | chunk] */
        int keep_from = n_out * w->st;
        int nk = n - keep_from;
        if (nk > kt - 1)
            nk = kt - 1;
        keep_from = n - nk;
        size_t fb = fin * sizeof(float);
        /* moves inside the cache first: later copies overwrite what they read */
        for (int j = 0; j < nk; j++) {
            int v = keep_from + j;
            if (v < nhist && !pad && v != j)
                emit_copy(L, hb, (size_t)v * fb, hb, (size_t)j * fb, fb);
        }
        for (int j = 0; j < nk; j++) {
            int v = keep_from + j;
            if (v >= nhist)
                emit_copy(L, src, (size_t)(v - nhist) * fb, hb, (size_t)j * fb, fb);
            else if (pad && r->m->cfg.replicate)
                emit_copy(L, src, 0, hb, (size_t)j * fb, fb);
            else if (pad)
                emit_fill(L, hb, (size_t)j * fb, fb);
        }
        r->nh[slot] = nk;
    }
    s->t = n_out;
    s->c = w->co;
    s->h = ho;
    s->w = wo;
}

static void plan_norm(VkRunner *r, StepList *L, const Norm *nm, size_t prm, const VkBuf *x, const VkBuf *y, Shape s,
                      int silu)
{
    const ArgConfig *cfg = &r->m->cfg;
    GnGeo g = gn_geometry(s.t, s.c, s.h * s.w, nm->groups, cfg->clip_scope);
    need(&r->need_part, gn_part_floats(g));
    need(&r->need_coef, 2 * (size_t)s.t * s.c);
    emit_norm(r->ctx, L, x->addr, y->addr, s.t, s.c, s.h * s.w, nm->groups, cfg->eps, cfg->clip_scope, silu,
              r->wbuf.addr + prm * sizeof(float), nm->w != NULL, nm->gw != NULL, cfg->bits, r->style.addr,
              r->part.addr, r->coef.addr);
}

static void layer_shape(VkRunner *r, int layer, Shape s)
{
    char *name = r->lname[layer];
    size_t len = strlen(name);
    if (!strchr(name, '@'))
        snprintf(name + len, sizeof(r->lname[0]) - len, " @%dx%d", s.w, s.h);
}

/* Plan one chunk of t_in input frames (first: after a reset). */
static int plan(VkRunner *r, int first, int t_in, StepList *L)
{
    const ArgConfig *cfg = &r->m->cfg;
    VkCtx *c = r->ctx;
    Shape s = { t_in, r->is_dec ? cfg->bits : cfg->in_channels, r->h, r->w };
    const size_t n = (size_t)r->h * r->w;
    const int nops = r->net->n_ops;
    int cur = 0;
    need(&r->need_gen, shape_floats(s));
    L->layer = nops;
    if (r->is_dec) {
        need(&r->need_tok, (size_t)t_in * n * sizeof(uint32_t));
        emit_lfq(c, L, SH_DEQUANT, r->tok.addr, r->gen[0].addr, t_in, cfg->bits, (int)n);
        if (cfg->adaptive)
            emit_style(c, L, r->tok.addr, r->style.addr, t_in, cfg->bits, (int)n, cfg->agn_unbiased, cfg->eps);
    } else if (!c->uma) {
        need(&r->need_up, shape_floats(s) * sizeof(float));
        emit_copy(L, &r->up, 0, &r->gen[0], 0, shape_floats(s) * sizeof(float));
    }
    for (int i = 0; i < nops && !L->err; i++) {
        const Op *op = &r->net->ops[i];
        const int a = (cur + 1) % NB_GEN, b = (cur + 2) % NB_GEN;
        L->layer = i;
        layer_shape(r, i, s);
        switch (op->kind) {
        case OP_S2D:
            emit_s2d(c, L, r->gen[cur].addr, r->gen[a].addr, s.t, s.c, s.h, s.w, op->b);
            s.c *= op->b * op->b;
            s.h /= op->b;
            s.w /= op->b;
            need(&r->need_gen, shape_floats(s));
            cur = a;
            break;
        case OP_CONV:
            plan_conv(r, L, &r->cv[i][0], op->slot, first, &r->gen[cur], &r->gen[a], NULL, &s);
            cur = a;
            break;
        case OP_NORM_SILU:
        case OP_LEVEL_NORM:
            plan_norm(r, L, &op->n1, r->prm[i][0], &r->gen[cur], &r->gen[cur], s, op->kind == OP_NORM_SILU);
            break;
        case OP_RES: {
            Shape in = s, h = s;
            plan_norm(r, L, &op->n1, r->prm[i][0], &r->gen[cur], &r->gen[a], in, 1);
            plan_conv(r, L, &r->cv[i][1], op->slot1, first, &r->gen[a], &r->gen[b], NULL, &h);
            plan_norm(r, L, &op->n2, r->prm[i][1], &r->gen[b], &r->gen[b], h, 1);
            Shape o = h;
            if (op->has_sc) {
                /* the shortcut goes where conv1's input was (its cache is
                 * updated already); conv2 adds it and writes over x */
                Shape sc = in;
                plan_conv(r, L, &r->cv[i][3], -1, first, &r->gen[cur], &r->gen[a], NULL, &sc);
                plan_conv(r, L, &r->cv[i][2], op->slot2, first, &r->gen[b], &r->gen[cur], &r->gen[a], &o);
            } else {
                plan_conv(r, L, &r->cv[i][2], op->slot2, first, &r->gen[b], &r->gen[a], &r->gen[cur], &o);
                cur = a;
            }
            s = o;
            break;
        }
        case OP_D2S: {
            int ch = s.c / (op->a * op->b * op->b);
            s.t = emit_d2s(c, L, r->gen[cur].addr, r->gen[a].addr, s.t, ch, s.h, s.w, op->a, op->b,
                           first && op->a == 2);
            s.c = ch;
            s.h *= op->b;
            s.w *= op->b;
            need(&r->need_gen, shape_floats(s));
            cur = a;
            break;
        }
        }
    }
    L->layer = nops + 1;
    if (!r->is_dec) {
        size_t zn = (size_t)s.h * s.w;
        need(&r->need_tok, (size_t)s.t * zn * sizeof(uint32_t));
        emit_lfq(c, L, SH_LFQ, r->gen[cur].addr, r->tok.addr, s.t, s.c, (int)zn);
    }
    if (!c->uma) {
        need(&r->need_rb, shape_floats(s) * sizeof(float));
        emit_copy(L, &r->gen[cur], 0, &r->rb, 0, shape_floats(s) * sizeof(float));
    }
    r->out_cur[first ? 0 : 1] = cur;
    r->out_shape[first ? 0 : 1] = s;
    return L->err;
}

static void vk_close(NetRunner *nr);

static void print_profile(VkRunner *r)
{
    int k = r->runs[1] ? 1 : 0;
    if (!r->runs[k] || !r->prof[k])
        return;
    const StepList *L = &r->plan[k];
    const int nl = r->net->n_ops + 2;
    double bykind[PK_COUNT] = { 0 }, total = 0, macs = 0;
    double *bylayer = calloc((size_t)nl, sizeof(double));
    if (!bylayer)
        return;
    for (int i = 0; i < L->n; i++) {
        double ms = r->prof[k][i] / r->runs[k];
        bykind[L->s[i].pk] += ms;
        if (L->s[i].layer >= 0 && L->s[i].layer < nl)
            bylayer[L->s[i].layer] += ms;
        total += ms;
        macs += L->s[i].macs;
    }
    fprintf(stderr, "arg: vulkan profile, %s %dx%d on %s: %d %s chunk%s, %d step%s; ms per chunk\n",
            r->is_dec ? "decoder" : "encoder", r->is_dec ? r->w * r->m->cfg.fs : r->w,
            r->is_dec ? r->h * r->m->cfg.fs : r->h, r->ctx->props.deviceName, r->runs[k],
            k ? "steady" : "first", r->runs[k] == 1 ? "" : "s", L->n, L->n == 1 ? "" : "s");
    fprintf(stderr, "  by op:   ");
    for (int p = 0; p < PK_COUNT; p++)
        if (bykind[p] > 0)
            fprintf(stderr, " %s %.3f (%.1f%%)", pk_names[p], bykind[p], total > 0 ? 100 * bykind[p] / total : 0.0);
    fprintf(stderr, "; total %.3f\n", total);
    if (bykind[PK_CONV] > 0)
        fprintf(stderr, "  conv:     %.3f GMAC per chunk, %.2f GMAC/s = %.2f GFLOP/s (fp32)\n", macs / 1e9,
                macs / 1e6 / bykind[PK_CONV], 2 * macs / 1e6 / bykind[PK_CONV]);
    fprintf(stderr, "  by layer:\n");
    for (int l = 0; l < nl; l++)
        if (bylayer[l] > 0)
            fprintf(stderr, "    %3d  %-52s %9.3f  %5.1f%%\n", l, r->lname[l], bylayer[l],
                    total > 0 ? 100 * bylayer[l] / total : 0.0);
    free(bylayer);
}

static void *vk_input(NetRunner *nr)
{
    VkRunner *r = (VkRunner *)nr;
    if (r->is_dec)
        return r->tok.map;
    return r->ctx->uma ? r->gen[0].map : r->up.map;
}

static int vk_run(NetRunner *nr, int t, RunOut *out)
{
    VkRunner *r = (VkRunner *)nr;
    int k = r->first ? 0 : 1;
    if (k >= r->nplans || t != r->t_plan[k])
        return -EINVAL;
    int rc = vkcmd_submit_wait(r->ctx, &r->cmd[k]);
    if (rc < 0)
        return rc;
    if (r->profile && r->qp[k] && r->prof[k] && read_times(r->ctx, r->qp[k], r->plan[k].n, r->prof[k], NULL) == 0)
        r->runs[k]++;
    r->first = 0;
    Shape s = r->out_shape[k];
    out->data = r->ctx->uma ? r->gen[r->out_cur[k]].map : r->rb.map;
    out->tokens = r->is_dec ? NULL : r->tok.map;
    out->t = s.t;
    out->c = s.c;
    out->h = s.h;
    out->w = s.w;
    return 0;
}

static void vk_reset(NetRunner *nr)
{
    ((VkRunner *)nr)->first = 1;
}

static void vk_close(NetRunner *nr)
{
    VkRunner *r = (VkRunner *)nr;
    if (!r)
        return;
    if (r->profile)
        print_profile(r);
    VkCtx *c = r->ctx;
    if (c) {
        vkDeviceWaitIdle(c->dev);
        for (int k = 0; k < 2; k++) {
            vkcmd_free(c, &r->cmd[k]);
            if (r->qp[k])
                vkDestroyQueryPool(c->dev, r->qp[k], NULL);
        }
        vkctx_wset_free(c, &r->wset);
        vkbuf_free(c, &r->wbuf);
        for (int i = 0; i < NB_GEN; i++)
            vkbuf_free(c, &r->gen[i]);
        vkbuf_free(c, &r->part);
        vkbuf_free(c, &r->coef);
        vkbuf_free(c, &r->style);
        vkbuf_free(c, &r->tok);
        vkbuf_free(c, &r->up);
        vkbuf_free(c, &r->rb);
        if (r->hist && r->net)
            for (int i = 0; i < r->net->n_slots; i++)
                vkbuf_free(c, &r->hist[i]);
    }
    for (int k = 0; k < 2; k++) {
        steps_free(&r->plan[k]);
        free(r->prof[k]);
    }
    free(r->hist);
    free(r->need_hist);
    free(r->nh);
    free(r->cv);
    free(r->prm);
    free(r->lname);
    vkctx_put(c);
    free(r);
}

static const NetRunnerOps vk_ops = { vk_input, vk_run, vk_reset, vk_close };

static void name_layers(VkRunner *r)
{
    const Net *net = r->net;
    for (int i = 0; i < net->n_ops; i++) {
        const Op *op = &net->ops[i];
        char *s = r->lname[i];
        size_t n = sizeof(r->lname[0]);
        switch (op->kind) {
        case OP_S2D: snprintf(s, n, "space-to-depth %d", op->b); break;
        case OP_CONV:
            snprintf(s, n, "conv %dx%dx%d %d->%d stride %d,%d", op->conv.kt, op->conv.ks, op->conv.ks, op->conv.ci,
                     op->conv.co, op->conv.st, op->conv.ss);
            break;
        case OP_RES: snprintf(s, n, "resblock %d->%d%s", op->c1.ci, op->c2.co, op->has_sc ? " +shortcut" : ""); break;
        case OP_NORM_SILU: snprintf(s, n, "groupnorm+silu %d", op->n1.c); break;
        case OP_LEVEL_NORM: snprintf(s, n, "level norm %d (%s)", op->n1.c, op->n1.gw ? "adaptive" : "plain"); break;
        case OP_D2S: snprintf(s, n, "depth-to-space %dx%dx%d", op->a, op->b, op->b); break;
        }
    }
    snprintf(r->lname[net->n_ops], sizeof(r->lname[0]), "%s", r->is_dec ? "input: dequant, style" : "input upload");
    snprintf(r->lname[net->n_ops + 1], sizeof(r->lname[0]), "%s", r->is_dec ? "output readback" : "output: lfq, readback");
}

static int alloc_all(VkRunner *r)
{
    VkCtx *c = r->ctx;
    int rc;
    for (int i = 0; i < NB_GEN; i++)
        if ((rc = vkbuf_alloc(c, &r->gen[i], r->need_gen * sizeof(float), VKB_DEVICE)) < 0)
            return rc;
    for (int i = 0; i < r->net->n_slots; i++)
        if (r->need_hist[i] && (rc = vkbuf_alloc(c, &r->hist[i], r->need_hist[i] * sizeof(float), VKB_DEVICE)) < 0)
            return rc;
    if ((rc = vkbuf_alloc(c, &r->part, r->need_part * sizeof(float), VKB_DEVICE)) < 0 ||
        (rc = vkbuf_alloc(c, &r->coef, r->need_coef * sizeof(float), VKB_DEVICE)) < 0 ||
        (rc = vkbuf_alloc(c, &r->style, 2 * ARG_MAX_BITS * sizeof(float), VKB_DEVICE)) < 0 ||
        (rc = vkbuf_alloc(c, &r->tok, r->need_tok, r->is_dec ? VKB_UPLOAD : VKB_READBACK)) < 0)
        return rc;
    if (r->need_up && (rc = vkbuf_alloc(c, &r->up, r->need_up, VKB_UPLOAD)) < 0)
        return rc;
    if (r->need_rb && (rc = vkbuf_alloc(c, &r->rb, r->need_rb, VKB_READBACK)) < 0)
        return rc;
    return 0;
}

/* weights of every conv and norm into one device buffer */
static int upload_weights(VkRunner *r)
{
    const Net *net = r->net;
    const int Z = r->m->cfg.bits;
    size_t total = 64;
    for (int i = 0; i < net->n_ops; i++) {
        const Op *op = &net->ops[i];
        const ConvW *cw[4] = { NULL, NULL, NULL, NULL };
        if (op->kind == OP_CONV)
            cw[0] = &op->conv;
        if (op->kind == OP_RES) {
            cw[1] = &op->c1;
            cw[2] = &op->c2;
            cw[3] = op->has_sc ? &op->sc : NULL;
        }
        for (int j = 0; j < 4; j++)
            if (cw[j]) {
                VkConvInfo *ci = &r->cv[i][j];
                ci->w = cw[j];
                conv_tiles(r->ctx, ci);
                ci->off = total;
                total += conv_floats(ci);
            }
        if (op->kind == OP_RES || op->kind == OP_NORM_SILU || op->kind == OP_LEVEL_NORM) {
            r->prm[i][0] = total;
            total += norm_floats(&op->n1, Z);
        }
        if (op->kind == OP_RES) {
            r->prm[i][1] = total;
            total += norm_floats(&op->n2, Z);
        }
    }
    total += VK_UBO_RANGE / sizeof(float); /* a whole uniform-buffer range from any offset */
    float *host = calloc(total, sizeof(float));
    if (!host)
        return -ENOMEM;
    for (int i = 0; i < net->n_ops; i++) {
        const Op *op = &net->ops[i];
        for (int j = 0; j < 4; j++)
            if (r->cv[i][j].w)
                conv_pack_dev(&r->cv[i][j], host + r->cv[i][j].off);
        if (op->kind == OP_RES || op->kind == OP_NORM_SILU || op->kind == OP_LEVEL_NORM)
            norm_pack(&op->n1, Z, host + r->prm[i][0]);
        if (op->kind == OP_RES)
            norm_pack(&op->n2, Z, host + r->prm[i][1]);
    }
    int rc = vkbuf_alloc(r->ctx, &r->wbuf, total * sizeof(float), VKB_DEVICE);
    if (rc == 0)
        rc = vkbuf_write(r->ctx, &r->wbuf, 0, host, total * sizeof(float));
    free(host);
    if (rc == 0 && r->ctx->conv_ubo)
        rc = vkctx_wset(r->ctx, &r->wbuf, &r->wset);
    if (rc < 0)
        return rc;
    for (int i = 0; i < net->n_ops; i++)
        for (int j = 0; j < 4; j++)
            if (r->cv[i][j].w)
                conv_bind(&r->cv[i][j], r->wbuf.addr, r->wset.set);
    return 0;
}

int runner_open_vulkan(NetRunner **out, const ArgModel *m, int is_dec, int h, int w, int max_t, int device,
                       int allow_cpu_device, char *msg, size_t msglen)
{
    *out = NULL;
    VkRunner *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    r->base.ops = &vk_ops;
    r->m = m;
    r->net = is_dec ? &m->dec : &m->enc;
    r->is_dec = is_dec;
    r->h = h;
    r->w = w;
    r->max_t = max_t;
    r->first = 1;
    const char *pv = getenv("ARG_VK_PROFILE");
    r->profile = pv && *pv && strcmp(pv, "0") != 0;
    int rc = vkctx_get(&r->ctx, device, allow_cpu_device, msg, msglen);
    if (rc < 0) {
        free(r);
        return rc;
    }
    snprintf(r->base.name, sizeof(r->base.name), "%s", r->ctx->name);
    const int nops = r->net->n_ops, nslots = r->net->n_slots;
    r->cv = calloc((size_t)nops + 1, sizeof(*r->cv));
    r->prm = calloc((size_t)nops + 1, sizeof(*r->prm));
    r->hist = calloc((size_t)nslots + 1, sizeof(VkBuf));
    r->need_hist = calloc((size_t)nslots + 1, sizeof(size_t));
    r->nh = calloc((size_t)nslots + 1, sizeof(int));
    r->lname = calloc((size_t)nops + 2, sizeof(*r->lname));
    if (!r->cv || !r->prm || !r->hist || !r->need_hist || !r->nh || !r->lname) {
        rc = -ENOMEM;
        goto fail;
    }
    name_layers(r);
    if ((rc = upload_weights(r)) < 0) {
        snprintf(msg, msglen, "cannot place the weights on the device (%s)", strerror(-rc));
        goto fail;
    }
    /* chunk kinds: fixed clips always start from empty caches */
    const ArgConfig *cfg = &m->cfg;
    r->nplans = cfg->clip_scope ? 1 : 2;
    r->t_plan[0] = cfg->clip_scope ? max_t : 1;
    r->t_plan[1] = is_dec ? 1 : cfg->ft;
    if (r->t_plan[0] > max_t || (r->nplans == 2 && r->t_plan[1] > max_t)) {
        rc = -EINVAL;
        goto fail;
    }
    /* sizing pass (no buffers yet), then the real plans */
    for (int pass = 0; pass < 2; pass++) {
        for (int k = 0; k < r->nplans; k++) {
            steps_free(&r->plan[k]);
            if ((rc = plan(r, k == 0, r->t_plan[k], &r->plan[k])) < 0) {
                snprintf(msg, msglen, "cannot plan the %s (%s)", is_dec ? "decoder" : "encoder",
                         rc == -E2BIG ? "too large for the device's limits" : "pipeline creation failed");
                if (rc == -ENODEV || rc == -E2BIG)
                    rc = -ENOTSUP;
                goto fail;
            }
        }
        if (pass == 0 && (rc = alloc_all(r)) < 0) {
            snprintf(msg, msglen, "out of device memory");
            goto fail;
        }
    }
    if (r->nplans == 2) {
        /* the steady plan assumes the caches hold after a steady chunk what
         * they held after the first one */
        int *nh1 = malloc(((size_t)nslots + 1) * sizeof(int));
        StepList tmp = { 0 };
        if (!nh1) {
            rc = -ENOMEM;
            goto fail;
        }
        memcpy(nh1, r->nh, (size_t)nslots * sizeof(int));
        rc = plan(r, 0, r->t_plan[1], &tmp);
        int same = rc == 0 && memcmp(nh1, r->nh, (size_t)nslots * sizeof(int)) == 0;
        steps_free(&tmp);
        free(nh1);
        if (!same) {
            snprintf(msg, msglen, "the causal caches do not reach a steady state");
            rc = -ENOTSUP;
            goto fail;
        }
    }
    for (int k = 0; k < r->nplans; k++) {
        if ((rc = vkcmd_init(r->ctx, &r->cmd[k])) < 0)
            goto fail;
        if (r->profile) {
            r->qp[k] = make_query_pool(r->ctx, r->plan[k].n + 1);
            r->prof[k] = calloc((size_t)r->plan[k].n + 1, sizeof(double));
        }
        if ((rc = record(r->ctx, &r->cmd[k], &r->plan[k], r->qp[k])) < 0)
            goto fail;
    }
    *out = &r->base;
    return 0;
fail:
    vk_close(&r->base);
    return rc;
}

/* ------------------------------------------------------------ one ops */

typedef struct OneOp {
    VkCtx *c;
    VkBuf b[8];
    int nb;
    StepList L;
} OneOp;

static VkBuf *op_buf(OneOp *o, size_t bytes, const void *data)
{
    if (o->nb == 8 || o->L.err)
        return NULL;
    VkBuf *b = &o->b[o->nb];
    if (vkbuf_alloc(o->c, b, bytes ? bytes : 4, VKB_DEVICE) < 0) {
        o->L.err = -ENOMEM;
        return NULL;
    }
    o->nb++;
    if (data && vkbuf_write(o->c, b, 0, data, bytes) < 0)
        o->L.err = -EIO;
    return b;
}

static int op_finish(OneOp *o, VkBuf *out, void *dst, size_t bytes, double *gpu_ms)
{
    int rc = o->L.err;
    if (rc == 0)
        rc = run_once(o->c, &o->L, gpu_ms);
    if (rc == 0 && out)
        rc = vkbuf_read(o->c, out, 0, dst, bytes);
    for (int i = 0; i < o->nb; i++)
        vkbuf_free(o->c, &o->b[i]);
    steps_free(&o->L);
    return rc;
}

int vkop_conv3d(VkCtx *c, const ConvW *w, const float *hist, int nhist, int pad_first, const float *chunk, int t,
                int h, int wd, int replicate, const float *res, float *dst, int *n_out_p, double *gpu_ms)
{
    OneOp o = { .c = c };
    VkConvInfo ci = { .w = w };
    conv_tiles(c, &ci);
    size_t frame = (size_t)w->ci * h * wd;
    int n = nhist + t;
    int n_out = n >= w->kt ? (n - w->kt) / w->st + 1 : 0;
    int ho = conv_out_dim(h, w->ks, w->ss), wo = conv_out_dim(wd, w->ks, w->ss);
    size_t onum = (size_t)n_out * w->co * ho * wo;
    *n_out_p = n_out;
    size_t wf = conv_floats(&ci) + VK_UBO_RANGE / sizeof(float);
    float *packed = calloc(wf, sizeof(float));
    if (!packed)
        return -ENOMEM;
    conv_pack_dev(&ci, packed);
    ci.off = 0;
    VkBuf *bw = op_buf(&o, wf * sizeof(float), packed);
    free(packed);
    VkWSet ws = { 0 };
    if (bw && ci.ubo && vkctx_wset(c, bw, &ws) < 0)
        o.L.err = -ENOMEM;
    VkBuf *bs = op_buf(&o, (size_t)t * frame * sizeof(float), chunk);
    VkBuf *bh = op_buf(&o, (size_t)(nhist && !pad_first ? nhist : 1) * frame * sizeof(float),
                       nhist && !pad_first ? hist : NULL);
    VkBuf *br = res ? op_buf(&o, onum * sizeof(float), res) : NULL;
    VkBuf *bd = op_buf(&o, onum * sizeof(float), NULL);
    if (!o.L.err) {
        conv_bind(&ci, bw->addr, ws.set);
        emit_conv(c, &o.L, &ci, replicate, bs->addr, bh->addr, br ? br->addr : 0, bd->addr, h, wd, n_out, nhist,
                  pad_first);
    }
    int rc = op_finish(&o, bd, dst, onum * sizeof(float), gpu_ms);
    vkctx_wset_free(c, &ws);
    return rc;
}

int vkop_groupnorm(VkCtx *c, const float *x, float *y, int t, int ch, int hw, const Norm *nm, float eps, int clip,
                   int silu, const float *style, int Z, double *gpu_ms)
{
    OneOp o = { .c = c };
    size_t num = (size_t)t * ch * hw;
    GnGeo g = gn_geometry(t, ch, hw, nm->groups, clip);
    size_t pf = norm_floats(nm, Z) + 16;
    float *prm = calloc(pf, sizeof(float));
    if (!prm)
        return -ENOMEM;
    norm_pack(nm, Z, prm);
    VkBuf *bp = op_buf(&o, pf * sizeof(float), prm);
    free(prm);
    VkBuf *bx = op_buf(&o, num * sizeof(float), x);
    VkBuf *by = op_buf(&o, num * sizeof(float), NULL);
    VkBuf *bst = op_buf(&o, 2 * ARG_MAX_BITS * sizeof(float), NULL);
    VkBuf *bpart = op_buf(&o, gn_part_floats(g) * sizeof(float), NULL);
    VkBuf *bc = op_buf(&o, 2 * (size_t)t * ch * sizeof(float), NULL);
    if (!o.L.err && style && vkbuf_write(c, bst, 0, style, 2 * (size_t)Z * sizeof(float)) < 0)
        o.L.err = -EIO;
    if (!o.L.err)
        emit_norm(c, &o.L, bx->addr, by->addr, t, ch, hw, nm->groups, eps, clip, silu, bp->addr, nm->w != NULL,
                  nm->gw != NULL, Z, bst->addr, bpart->addr, bc->addr);
    return op_finish(&o, by, y, num * sizeof(float), gpu_ms);
}

int vkop_depth_to_space(VkCtx *c, const float *x, int t, int ch, int h, int w, int a, int b, int drop, float *y,
                        int *t_out, double *gpu_ms)
{
    OneOp o = { .c = c };
    size_t in = (size_t)t * ch * a * b * b * h * w;
    int tout = t * a - (drop && a == 2);
    size_t outn = (size_t)tout * ch * h * b * w * b;
    *t_out = tout;
    VkBuf *bx = op_buf(&o, in * sizeof(float), x);
    VkBuf *by = op_buf(&o, outn * sizeof(float), NULL);
    if (!o.L.err)
        emit_d2s(c, &o.L, bx->addr, by->addr, t, ch, h, w, a, b, drop);
    return op_finish(&o, by, y, outn * sizeof(float), gpu_ms);
}

int vkop_space_to_depth(VkCtx *c, const float *x, int t, int ch, int h, int w, int p, float *y, double *gpu_ms)
{
    OneOp o = { .c = c };
    size_t in = (size_t)t * ch * h * w, outn = (size_t)t * ch * p * p * (h / p) * (w / p);
    VkBuf *bx = op_buf(&o, in * sizeof(float), x);
    VkBuf *by = op_buf(&o, outn * sizeof(float), NULL);
    if (!o.L.err)
        emit_s2d(c, &o.L, bx->addr, by->addr, t, ch, h, w, p);
    return op_finish(&o, by, y, outn * sizeof(float), gpu_ms);
}

int vkop_lfq_tokens(VkCtx *c, const float *z, int t, int bits, int n, uint32_t *tok, double *gpu_ms)
{
    OneOp o = { .c = c };
    VkBuf *bz = op_buf(&o, (size_t)t * bits * n * sizeof(float), z);
    VkBuf *bt = op_buf(&o, (size_t)t * n * sizeof(uint32_t), NULL);
    if (!o.L.err)
        emit_lfq(c, &o.L, SH_LFQ, bz->addr, bt->addr, t, bits, n);
    return op_finish(&o, bt, tok, (size_t)t * n * sizeof(uint32_t), gpu_ms);
}

int vkop_dequant(VkCtx *c, const uint32_t *tok, int t, int bits, int n, float *q, double *gpu_ms)
{
    OneOp o = { .c = c };
    VkBuf *bt = op_buf(&o, (size_t)t * n * sizeof(uint32_t), tok);
    VkBuf *bq = op_buf(&o, (size_t)t * bits * n * sizeof(float), NULL);
    if (!o.L.err)
        emit_lfq(c, &o.L, SH_DEQUANT, bt->addr, bq->addr, t, bits, n);
    return op_finish(&o, bq, q, (size_t)t * bits * n * sizeof(float), gpu_ms);
}

int vkop_style(VkCtx *c, const uint32_t *tok, int t, int bits, int n, int unbiased, float eps, float *style,
               double *gpu_ms)
{
    OneOp o = { .c = c };
    VkBuf *bt = op_buf(&o, (size_t)t * n * sizeof(uint32_t), tok);
    VkBuf *bs = op_buf(&o, 2 * (size_t)bits * sizeof(float), NULL);
    if (!o.L.err)
        emit_style(c, &o.L, bt->addr, bs->addr, t, bits, n, unbiased, eps);
    return op_finish(&o, bs, style, 2 * (size_t)bits * sizeof(float), gpu_ms);
}
