#include "exec.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* ARG_PROFILE=1: time per op (convolutions, norms, adds, depth-to-space),
 * printed to stderr when the Exec is freed. */
static int prof_on(void)
{
    static int on = -1;
    if (on < 0) {
        const char *v = getenv("ARG_PROFILE");
        on = v && *v && strcmp(v, "0") != 0;
    }
    return on;
}

static double prof_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

enum { PR_CONV, PR_NORM, PR_ADD, PR_D2S, PR_COPY, PR_OTHER, PR_N };
static const char *const prof_names[PR_N] = { "conv", "norm", "add", "d2s", "cache", "other" };

#define PROF(e, kind, stmt)                           \
    do {                                              \
        double t0_ = prof_on() ? prof_now() : 0;      \
        stmt;                                         \
        if (prof_on())                                \
            (e)->prof[kind] += prof_now() - t0_;      \
    } while (0)

/* Output shape of one op; also reports its largest buffers. */
static Shape op_shape(const Op *op, Shape s, int first, size_t *hist, size_t *frame_in)
{
    switch (op->kind) {
    case OP_S2D:
        s.c *= op->b * op->b;
        s.h /= op->b;
        s.w /= op->b;
        break;
    case OP_CONV: {
        const ConvW *c = &op->conv;
        *frame_in = (size_t)s.c * s.h * s.w;
        *hist = (size_t)(c->kt - 1) * s.c * s.h * s.w;
        s.t = first ? (s.t - 1) / c->st + 1 : s.t / c->st;
        s.h = conv_out_dim(s.h, c->ks, c->ss);
        s.w = conv_out_dim(s.w, c->ks, c->ss);
        s.c = c->co;
        break;
    }
    case OP_RES:
        *frame_in = (size_t)(op->c1.ci > op->c2.ci ? op->c1.ci : op->c2.ci) * s.h * s.w;
        *hist = 2 * *frame_in;
        s.c = op->c2.co;
        break;
    case OP_D2S:
        s.t = s.t * op->a - (first && op->a == 2 ? 1 : 0);
        s.c /= op->a * op->b * op->b;
        s.h *= op->b;
        s.w *= op->b;
        break;
    default:
        break;
    }
    return s;
}

static size_t shape_size(Shape s)
{
    return (size_t)s.t * s.c * s.h * s.w;
}

int exec_init(Exec *e, const ArgModel *m, const Net *net, KernelCtx *k, Shape in, int max_t)
{
    memset(e, 0, sizeof(*e));
    e->m = m;
    e->net = net;
    e->k = k;
    e->cs = calloc((size_t)net->n_slots + 1, sizeof(ConvState));
    if (!e->cs)
        return -ENOMEM;
    size_t maxbuf = 0, maxframe = 0;
    int maxc = 1;
    /* plan the first chunk (1 frame, or the whole clip) and a steady one */
    for (int pass = 0; pass < 2; pass++) {
        Shape s = in;
        s.t = pass == 0 ? (m->cfg.clip_scope ? max_t : 1) : max_t;
        int first = pass == 0;
        if (shape_size(s) > maxbuf)
            maxbuf = shape_size(s);
        for (int i = 0; i < net->n_ops; i++) {
            size_t hist = 0, frame = 0;
            const Op *op = &net->ops[i];
            Shape o = op_shape(op, s, first, &hist, &frame);
            if (frame > maxframe)
                maxframe = frame;
            if (op->kind == OP_CONV) {
                ConvState *c = &e->cs[op->slot];
                c->frame = (size_t)s.c * s.h * s.w;
            } else if (op->kind == OP_RES) {
                e->cs[op->slot1].frame = (size_t)op->c1.ci * s.h * s.w;
                e->cs[op->slot2].frame = (size_t)op->c2.ci * s.h * s.w;
            }
            if (op->kind == OP_RES || op->kind == OP_LEVEL_NORM || op->kind == OP_NORM_SILU)
                maxc = s.c > maxc ? s.c : maxc;
            if (op->kind == OP_RES)
                maxc = op->c1.co > maxc ? op->c1.co : maxc;
            /* a res block holds its input, two temporaries of its width */
            Shape wide = o;
            if (op->kind == OP_RES && op->c1.ci > o.c)
                wide.c = op->c1.ci;
            if (shape_size(wide) > maxbuf)
                maxbuf = shape_size(wide);
            if (shape_size(s) > maxbuf)
                maxbuf = shape_size(s);
            if (o.t + 4 > e->seqcap)
                e->seqcap = o.t + 4;
            s = o;
        }
    }
    if (max_t + 4 > e->seqcap)
        e->seqcap = max_t + 4;
    e->bufcap = maxbuf;
    for (int i = 0; i < 3; i++)
        e->buf[i] = arg_alloc_big(maxbuf * sizeof(float));
    e->zero = calloc(maxframe ? maxframe : 1, sizeof(float)); /* untouched pages read as 0 */
    e->seq = malloc((size_t)e->seqcap * sizeof(float *));
    e->rlo = malloc((size_t)e->seqcap * 4 * sizeof(float));
    e->rhi = e->rlo ? e->rlo + e->seqcap : NULL;
    e->seqlo = e->rlo ? e->rlo + 2 * e->seqcap : NULL;
    e->seqhi = e->rlo ? e->rlo + 3 * e->seqcap : NULL;
    e->scale = malloc((size_t)maxc * sizeof(float));
    e->pab = malloc((size_t)e->seqcap * 2 * maxc * sizeof(float));
    e->seqab = malloc((size_t)e->seqcap * sizeof(*e->seqab));
    e->seqkeep = malloc((size_t)e->seqcap * sizeof(*e->seqkeep));
    e->shift = malloc((size_t)maxc * sizeof(float));
    if (!e->buf[0] || !e->buf[1] || !e->buf[2] || !e->zero || !e->seq || !e->rlo || !e->scale || !e->shift ||
        !e->pab || !e->seqab || !e->seqkeep)
        goto nomem;
    for (int i = 0; i < net->n_slots; i++) {
        ConvState *c = &e->cs[i];
        if (c->frame) {
            c->hist = arg_alloc_big((k->gemm == GEMM_INT8 ? 4 : 2) * c->frame * sizeof(float));
            if (!c->hist)
                goto nomem;
        }
    }
    e->first = 1;
    /* for tests and A/B runs: ARG_INT8_FUSE=0 applies every norm in full
     * (its output in memory, each convolution finding its input's range)
     * and runs depth-to-space as its own pass */
    const char *f = getenv("ARG_INT8_FUSE");
    e->no_fuse = f && !strcmp(f, "0");
    /* int8: a stride-1 convolution followed by depth-to-space across by 2
     * writes it itself (its channels reordered once, here) */
    if (k->gemm == GEMM_INT8 && !e->no_fuse) {
        e->d2sw = calloc((size_t)net->n_ops, sizeof(ConvW));
        if (!e->d2sw)
            goto nomem;
        for (int i = 0; i + 1 < net->n_ops; i++) {
            const Op *op = &net->ops[i], *nx = &net->ops[i + 1];
            if (op->kind == OP_CONV && nx->kind == OP_D2S && nx->b == 2 && op->conv.ss == 1 &&
                op->conv.co % (nx->a * 4) == 0 && d2s_permute(&op->conv, nx->a, &e->d2sw[i]) < 0)
                goto nomem;
        }
    }
    return 0;
nomem:
    exec_free(e);
    return -ENOMEM;
}

void exec_free(Exec *e)
{
    if (prof_on() && e->net) {
        double tot = 0;
        for (int i = 0; i < PR_N; i++)
            tot += e->prof[i];
        if (tot > 0) {
            fprintf(stderr, "arg profile (%s):", e->net == &e->m->dec ? "decoder" : "encoder");
            for (int i = 0; i < PR_N; i++)
                fprintf(stderr, " %s %.3fs (%.0f%%)", prof_names[i], e->prof[i], 100 * e->prof[i] / tot);
            fprintf(stderr, "\n");
        }
    }
    if (e->cs && e->net)
        for (int i = 0; i < e->net->n_slots; i++)
            free(e->cs[i].hist);
    free(e->cs);
    for (int i = 0; i < 3; i++)
        free(e->buf[i]);
    free(e->zero);
    free(e->seq);
    free(e->rlo);
    free(e->pab);
    free(e->seqab);
    free(e->seqkeep);
    if (e->d2sw && e->net)
        for (int i = 0; i < e->net->n_ops; i++) {
            free((float *)e->d2sw[i].w);
            free((float *)e->d2sw[i].bias);
            free(e->d2sw[i].wpack);
        }
    free(e->d2sw);
    free(e->scale);
    free(e->shift);
    memset(e, 0, sizeof(*e));
}

void exec_reset(Exec *e)
{
    for (int i = 0; i < e->net->n_slots; i++) {
        e->cs[i].nhist = 0;
        e->cs[i].started = 0;
        e->cs[i].hset = 0;
    }
    e->first = 1;
    e->pend.ab = NULL;
}

/* Causal convolution of the chunk in src (s) into dst, with the cache. */
static int run_conv(Exec *e, const ConvW *c, ConvState *cs, const float *src, Shape *s, float *dst, const Pend *pn,
                    const D2sOut *d2s)
{
    size_t frame = (size_t)s->c * s->h * s->w;
    int n = 0;
    if (s->t + c->kt > e->seqcap || c->kt - 1 > 4)
        return -EINVAL;
    /* the int8 path carries each frame's range, where known (NAN: not) */
    const int ranged = pn != NULL;
    float *lo = e->seqlo, *hi = e->seqhi;
    const float **ab = e->seqab;
    const size_t abn = (size_t)2 * s->c;
    float *hcur = cs->hist + (size_t)cs->hset * 2 * frame;
    if (!cs->started) {
        for (int i = 0; i < c->kt - 1; i++, n++) {
            e->seq[n] = e->m->cfg.replicate ? src : e->zero;
            ab[n] = e->m->cfg.replicate && pn ? pn->ab : NULL;
            lo[n] = !e->m->cfg.replicate ? 0.f : ranged ? e->rlo[0] : NAN;
            hi[n] = !e->m->cfg.replicate ? 0.f : ranged ? e->rhi[0] : NAN;
        }
        cs->started = 1;
    } else {
        for (int i = 0; i < cs->nhist; i++, n++) {
            e->seq[n] = hcur + i * frame; /* as the convolution saw it: normalised */
            ab[n] = NULL;
            lo[n] = cs->hlo[i];
            hi[n] = cs->hhi[i];
        }
    }
    for (int t = 0; t < s->t; t++, n++) {
        e->seq[n] = src + t * frame;
        ab[n] = pn ? pn->ab + t * abn : NULL;
        lo[n] = ranged ? e->rlo[t] : NAN;
        hi[n] = ranged ? e->rhi[t] : NAN;
    }
    int n_out = n >= c->kt ? (n - c->kt) / c->st + 1 : 0;
    /* the frames later outputs still read: seq[n_out*st .. n) */
    int keep_from = n_out * c->st;
    int nk = n - keep_from;
    if (nk > c->kt - 1)
        nk = c->kt - 1;
    keep_from = n - nk;
    int rc;
    if (e->k->gemm == GEMM_INT8 && n_out > 0) {
        /* the quantisation pass writes them (normalised) into the other set */
        float *hnext = cs->hist + (size_t)(cs->hset ^ 1) * 2 * frame;
        for (int i = 0; i < n; i++)
            e->seqkeep[i] = i >= keep_from ? hnext + (i - keep_from) * frame : NULL;
        PROF(e, PR_CONV, rc = conv3d_int8_ex(e->k, c, e->seq, ab, pn ? pn->silu : 0, n_out, s->h, s->w,
                                             e->m->cfg.replicate, dst, lo, hi, e->seqkeep, d2s));
        if (rc < 0)
            return rc;
        cs->hset ^= 1;
    } else if (pn) {
        /* no output (a temporal stride; the decoders' chunks always give
         * some): keep the pending frames normalised */
        float *hnext = cs->hist + (size_t)(cs->hset ^ 1) * 2 * frame;
        const size_t hw = (size_t)s->h * s->w;
        for (int i = 0; i < nk; i++) {
            const float *x = e->seq[keep_from + i], *abi = ab[keep_from + i];
            float *z = hnext + i * frame;
            for (int ch = 0; ch < s->c; ch++)
                for (size_t p = 0; p < hw; p++) {
                    float v = x[ch * hw + p];
                    if (abi) {
                        v = v * abi[ch] + abi[s->c + ch];
                        v = pn->silu ? silu_poly(v) : v;
                    }
                    z[ch * hw + p] = v;
                }
        }
        cs->hset ^= 1;
    } else {
        if (e->k->gemm == GEMM_INT8)
            PROF(e, PR_CONV, rc = conv3d_int8_ranged(e->k, c, e->seq, n_out, s->h, s->w, e->m->cfg.replicate, dst,
                                                     lo, hi));
        else
            PROF(e, PR_CONV, rc = conv3d(e->k, c, e->seq, n_out, s->h, s->w, e->m->cfg.replicate, dst));
        if (rc < 0)
            return rc;
        for (int i = 0; i < nk; i++)
            PROF(e, PR_COPY, copy_par(e->k, hcur + i * frame, e->seq[keep_from + i], frame));
    }
    for (int i = 0; i < nk; i++) {
        cs->hlo[i] = lo[keep_from + i];
        cs->hhi[i] = hi[keep_from + i];
    }
    cs->nhist = nk;
    s->t = n_out;
    s->h = conv_out_dim(s->h, c->ks, c->ss);
    s->w = conv_out_dim(s->w, c->ks, c->ss);
    s->c = c->co;
    if (d2s) {
        s->t = n_out * d2s->a - (d2s->drop_first && n_out > 0);
        s->c = d2s->c;
        s->h *= 2;
        s->w *= 2;
    }
    return 0;
}

static GnParams norm_setup(Exec *e, const Norm *n, int silu)
{
    GnParams p = { n->groups, e->m->cfg.eps, n->w, n->b, NULL, NULL, silu, e->m->cfg.clip_scope };
    if (n->gw) {
        int Z = e->m->cfg.bits;
        for (int ch = 0; ch < n->c; ch++) {
            float a = n->gb[ch], b = n->bb[ch];
            for (int z = 0; z < Z; z++) {
                a += n->gw[ch * Z + z] * e->style_std[z];
                b += n->bw[ch * Z + z] * e->style_mean[z];
            }
            e->scale[ch] = a;
            e->shift[ch] = b;
        }
        p.scale = e->scale;
        p.shift = e->shift;
    }
    return p;
}

/* int8 path: the norm of x is left to the convolution that reads x next */
static int defer_norms(const Exec *e)
{
    return e->k->gemm == GEMM_INT8 && !e->no_fuse;
}

static int norm_defer(Exec *e, const Norm *n, const float *x, Shape s, int silu, Pend *pn)
{
    GnParams p = norm_setup(e, n, silu);
    int rc;
    PROF(e, PR_NORM, rc = groupnorm_fast_params(e->k, x, s.t, s.c, s.h * s.w, &p, e->pab, e->rlo, e->rhi));
    pn->ab = e->pab;
    pn->c = s.c;
    pn->silu = silu;
    return rc;
}

static void norm_apply(Exec *e, const Norm *n, const float *x, float *y, Shape s, int silu)
{
    GnParams p = norm_setup(e, n, silu);
    double t0 = prof_on() ? prof_now() : 0;
    if (e->k->gemm == GEMM_REF) {
        if (y != x)
            memcpy(y, x, (size_t)s.t * s.c * s.h * s.w * sizeof(float));
        ref_groupnorm(y, s.t, s.c, s.h * s.w, &p);
    } else if (e->k->gemm == GEMM_INT8) {
        groupnorm_fast(e->k, x, y, s.t, s.c, s.h * s.w, &p);
    } else {
        groupnorm(e->k, x, y, s.t, s.c, s.h * s.w, &p);
    }
    if (prof_on())
        e->prof[PR_NORM] += prof_now() - t0;
}

void exec_set_style(Exec *e, const float *q, int t, int n)
{
    int Z = e->m->cfg.bits;
    double cnt = (double)t * n;
    for (int z = 0; z < Z; z++) {
        double sum = 0, sq = 0;
        for (int f = 0; f < t; f++)
            for (int i = 0; i < n; i++)
                sum += q[((size_t)f * Z + z) * n + i];
        double mean = sum / cnt;
        for (int f = 0; f < t; f++)
            for (int i = 0; i < n; i++) {
                double d = q[((size_t)f * Z + z) * n + i] - mean;
                sq += d * d;
            }
        double var = e->m->cfg.agn_unbiased ? (cnt > 1 ? sq / (cnt - 1) : 0.0) : sq / cnt;
        e->style_mean[z] = (float)mean;
        e->style_std[z] = (float)sqrt(var + e->m->cfg.eps);
    }
}

int exec_run(Exec *e, Shape *s)
{
    int cur = 0, rc;
    for (int i = 0; i < e->net->n_ops; i++) {
        const Op *op = &e->net->ops[i];
        int a = (cur + 1) % 3, b = (cur + 2) % 3;
        float *x = e->buf[cur];
        switch (op->kind) {
        case OP_S2D:
            PROF(e, PR_OTHER, space_to_depth(x, s->t, s->c, s->h, s->w, op->b, e->buf[a]));
            s->c *= op->b * op->b;
            s->h /= op->b;
            s->w /= op->b;
            cur = a;
            break;
        case OP_CONV:
            if (e->d2sw && e->d2sw[i].w) { /* with the depth-to-space after it */
                const Op *nx = &e->net->ops[i + 1];
                D2sOut d2s = { nx->a, op->conv.co / (nx->a * 4), e->first && nx->a == 2 };
                rc = run_conv(e, &e->d2sw[i], &e->cs[op->slot], x, s, e->buf[a], e->pend.ab ? &e->pend : NULL,
                              &d2s);
                i++;
            } else {
                rc = run_conv(e, &op->conv, &e->cs[op->slot], x, s, e->buf[a], e->pend.ab ? &e->pend : NULL, NULL);
            }
            e->pend.ab = NULL;
            if (rc < 0)
                return rc;
            cur = a;
            break;
        case OP_NORM_SILU:
            if (defer_norms(e) && i + 1 < e->net->n_ops && e->net->ops[i + 1].kind == OP_CONV) {
                if ((rc = norm_defer(e, &op->n1, x, *s, 1, &e->pend)) < 0)
                    return rc;
            } else {
                norm_apply(e, &op->n1, x, x, *s, 1);
            }
            break;
        case OP_LEVEL_NORM:
            norm_apply(e, &op->n1, x, x, *s, 0);
            break;
        case OP_RES: {
            Shape in = *s, h = *s;
            Pend p1, p2;
            if (defer_norms(e)) {
                if ((rc = norm_defer(e, &op->n1, x, in, 1, &p1)) < 0 ||
                    (rc = run_conv(e, &op->c1, &e->cs[op->slot1], x, &h, e->buf[b], &p1, NULL)) < 0)
                    return rc;
            } else {
                norm_apply(e, &op->n1, x, e->buf[a], in, 1);
                if ((rc = run_conv(e, &op->c1, &e->cs[op->slot1], e->buf[a], &h, e->buf[b], NULL, NULL)) < 0)
                    return rc;
            }
            Shape o = h;
            if (defer_norms(e)) {
                if ((rc = norm_defer(e, &op->n2, e->buf[b], h, 1, &p2)) < 0 ||
                    (rc = run_conv(e, &op->c2, &e->cs[op->slot2], e->buf[b], &o, e->buf[a], &p2, NULL)) < 0)
                    return rc;
            } else {
                norm_apply(e, &op->n2, e->buf[b], e->buf[b], h, 1);
                if ((rc = run_conv(e, &op->c2, &e->cs[op->slot2], e->buf[b], &o, e->buf[a], NULL, NULL)) < 0)
                    return rc;
            }
            if (op->has_sc) {
                ConvState tmp = { 0 };
                tmp.started = 1; /* 1x1x1: no temporal context */
                Shape sc = in;
                if ((rc = run_conv(e, &op->sc, &tmp, x, &sc, e->buf[b], NULL, NULL)) < 0)
                    return rc;
                PROF(e, PR_ADD, add_inplace(e->k, e->buf[a], e->buf[b], shape_size(o)));
            } else {
                PROF(e, PR_ADD, add_inplace(e->k, e->buf[a], x, shape_size(o)));
            }
            *s = o;
            cur = a;
            break;
        }
        case OP_D2S: {
            int t;
            PROF(e, PR_D2S, t = depth_to_space_par(e->k, x, s->t, s->c / (op->a * op->b * op->b), s->h, s->w,
                                                   op->a, op->b, e->first && op->a == 2, e->buf[a]));
            s->t = t;
            s->c /= op->a * op->b * op->b;
            s->h *= op->b;
            s->w *= op->b;
            cur = a;
            break;
        }
        }
    }
    e->first = 0;
    return cur;
}
