/* The ARG-Poet engine (spec/poet.md §3-§5): the forward pass over a grid,
 * the four-step decoding of a latent frame, the code length, and the
 * window cache of the last K token grids. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "poet.h"

struct ArgSynth {
    const ArgPoet *p;
    int W, H, n;
    ArgSynthSettings s;
    KernelCtx k;
    uint32_t *hist;          /* K grids, a ring: the newest at hist_head */
    int hist_n, hist_head;
    float *base;             /* [d][n]: the input terms that do not depend on the state */
    float *x, *y, *att, *big;/* [d][n] x3, [max(3d, m)][n] */
    float **scratch;         /* per thread attention scratch */
    uint32_t *cur;
    uint8_t *known;
    int *todo;               /* positions to predict */
    char backend[128];
};

void arg_synth_default_settings(ArgSynthSettings *s)
{
    memset(s, 0, sizeof(*s));
    s->gemm = ARG_GEMM_AUTO;
    s->temperature = 0.0;
    s->top_k = 0;
    s->top_p = 1.0;
}

void arg_synth_close(ArgSynth *e)
{
    if (!e)
        return;
    if (e->scratch)
        for (int i = 0; i < e->k.n_threads; i++)
            free(e->scratch[i]);
    free(e->scratch);
    kctx_free(&e->k);
    free(e->hist);
    free(e->base);
    free(e->x);
    free(e->y);
    free(e->att);
    free(e->big);
    free(e->cur);
    free(e->known);
    free(e->todo);
    free(e);
}

int arg_synth_open(ArgSynth **out, const ArgPoet *p, int tw, int th, const ArgSynthSettings *s)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!p || tw < 1 || th < 1 || tw > ARG_TOKEN_MAX_DIM || th > ARG_TOKEN_MAX_DIM ||
        (size_t)tw * th > ARG_TOKEN_MAX_COUNT)
        return -EINVAL;
    ArgSynthSettings def;
    if (!s) {
        arg_synth_default_settings(&def);
        s = &def;
    }
    for (size_t i = 0; i < sizeof(s->reserved) / sizeof(s->reserved[0]); i++)
        if (s->reserved[i])
            return -EINVAL;
    if (s->n_threads < 0 || s->n_threads > 1024 || !(s->temperature >= 0) || s->temperature > 1e6 ||
        s->top_k < 0 || !(s->top_p > 0) || s->top_p > 1)
        return -EINVAL;
    int g;
    switch (s->gemm) {
    case ARG_GEMM_AUTO: g = kctx_have_blas() ? GEMM_BLAS : GEMM_BUILTIN; break;
    case ARG_GEMM_REFERENCE: g = GEMM_REF; break;
    case ARG_GEMM_BUILTIN: g = GEMM_BUILTIN; break;
    case ARG_GEMM_BLAS: g = GEMM_BLAS; break;
    default: return -EINVAL;
    }
    if (g == GEMM_BLAS && !kctx_have_blas())
        return -ENOTSUP;
    ArgSynth *e = calloc(1, sizeof(*e));
    if (!e)
        return -ENOMEM;
    e->p = p;
    e->W = tw;
    e->H = th;
    e->n = tw * th;
    e->s = *s;
    int nt = s->n_threads ? s->n_threads : tp_ncores();
    int rc = kctx_init(&e->k, nt, g);
    if (rc < 0) {
        free(e);
        return rc;
    }
    size_t n = (size_t)e->n, d = (size_t)p->d, big = (size_t)(3 * p->d > p->m ? 3 * p->d : p->m);
    e->hist = malloc((size_t)p->K * n * sizeof(uint32_t));
    e->base = malloc(d * n * sizeof(float));
    e->x = malloc(d * n * sizeof(float));
    e->y = malloc(d * n * sizeof(float));
    e->att = malloc(d * n * sizeof(float));
    e->big = malloc(big * n * sizeof(float));
    e->cur = malloc(n * sizeof(uint32_t));
    e->known = malloc(n);
    e->todo = malloc(n * sizeof(int));
    e->scratch = calloc((size_t)e->k.n_threads, sizeof(float *));
    int ok = e->hist && e->base && e->x && e->y && e->att && e->big && e->cur && e->known && e->todo &&
             e->scratch;
    for (int i = 0; ok && i < e->k.n_threads; i++)
        ok = (e->scratch[i] = malloc(poet_attn_scratch(p->w, tw) * sizeof(float))) != NULL;
    if (!ok) {
        arg_synth_close(e);
        return -ENOMEM;
    }
    snprintf(e->backend, sizeof(e->backend), "cpu (%s, %d thread%s)",
             g == GEMM_REF ? "reference kernels" : g == GEMM_BLAS ? "OpenBLAS sgemm" : kctx_isa(),
             e->k.n_threads, e->k.n_threads == 1 ? "" : "s");
    *out = e;
    return 0;
}

const char *arg_synth_backend(const ArgSynth *e)
{
    return e ? e->backend : "";
}

void arg_synth_reset(ArgSynth *e)
{
    if (e)
        e->hist_n = e->hist_head = 0;
}

int arg_synth_history(const ArgSynth *e)
{
    return e ? e->hist_n : 0;
}

static int check_tokens(const ArgSynth *e, const uint32_t *t, const uint8_t *mask)
{
    const uint32_t lim = (uint32_t)1 << e->p->B; /* B <= 24 */
    for (int i = 0; i < e->n; i++)
        if ((!mask || mask[i]) && t[i] >= lim)
            return -EINVAL;
    return 0;
}

int arg_synth_push(ArgSynth *e, const uint32_t *tokens)
{
    if (!e || !tokens || check_tokens(e, tokens, NULL) < 0)
        return -EINVAL;
    const int K = e->p->K;
    e->hist_head = (e->hist_head + 1) % K;
    memcpy(e->hist + (size_t)e->hist_head * e->n, tokens, (size_t)e->n * sizeof(uint32_t));
    if (e->hist_n < K)
        e->hist_n++;
    return 0;
}

/* past frame t-1-k, or NULL */
static const uint32_t *past(const ArgSynth *e, int k)
{
    if (k >= e->hist_n)
        return NULL;
    int K = e->p->K;
    return e->hist + (size_t)((e->hist_head - k + K) % K) * e->n;
}

static int check_frame(const ArgSynth *e, const ArgSynthFrame *f)
{
    if (!f || f->task < 0 || f->task > 3)
        return -EINVAL;
    if (f->anchor && (f->anchor_dist < 1 || f->anchor_dist > e->p->D || check_tokens(e, f->anchor, NULL) < 0))
        return -EINVAL;
    return 0;
}

/* ---------------------------------------------------------------- input */

typedef struct EmbJob {
    ArgSynth *e;
    const ArgSynthFrame *f;
    int stage;               /* 0: base terms; 1: x = base + current-frame term */
} EmbJob;

#define EMB_CHUNK 64

/* acc[c * n + p] += W[c][:] . s(v) */
static void add_signed(float *dst, size_t n, const float *Wm, int d, int B, uint32_t v)
{
    float s[ARG_TOKEN_MAX_BITS];
    for (int b = 0; b < B; b++)
        s[b] = (v >> b & 1) ? 1.f : -1.f;
    for (int c = 0; c < d; c++) {
        const float *wr = Wm + (size_t)c * B;
        float acc = 0.f;
        for (int b = 0; b < B; b++)
            acc += wr[b] * s[b];
        dst[(size_t)c * n] += acc;
    }
}

static void emb_task(void *arg, int task, int thread)
{
    (void)thread;
    const EmbJob *j = arg;
    ArgSynth *e = j->e;
    const ArgPoet *P = e->p;
    const ArgSynthFrame *f = j->f;
    const int d = P->d, B = P->B, n = e->n;
    int p0 = task * EMB_CHUNK, p1 = p0 + EMB_CHUNK < n ? p0 + EMB_CHUNK : n;
    if (j->stage == 0) {
        for (int c = 0; c < d; c++) {
            float v = P->task[f->task * d + c] + P->key[(f->keyframe ? 1 : 0) * d + c];
            for (int k = 0; k < P->K; k++)
                if (!past(e, k))
                    v += P->past_none[k * d + c];
            v += f->anchor ? P->anchor_dist[(f->anchor_dist - 1) * d + c] : P->anchor_none[c];
            for (int p = p0; p < p1; p++)
                e->base[(size_t)c * n + p] = v;
        }
        for (int p = p0; p < p1; p++) {
            for (int k = 0; k < P->K; k++) {
                const uint32_t *pk = past(e, k);
                if (pk)
                    add_signed(e->base + p, (size_t)n, P->past[k], d, B, pk[p]);
            }
            if (f->anchor)
                add_signed(e->base + p, (size_t)n, P->anchor, d, B, f->anchor[p]);
        }
    } else {
        for (int c = 0; c < d; c++)
            for (int p = p0; p < p1; p++)
                e->x[(size_t)c * n + p] = e->base[(size_t)c * n + p] +
                                          (e->known[p] ? P->cur_bias[c] : P->mask[c]);
        for (int p = p0; p < p1; p++)
            if (e->known[p])
                add_signed(e->x + p, (size_t)n, P->cur, d, B, e->cur[p]);
    }
}

static void embed(ArgSynth *e, const ArgSynthFrame *f, int stage)
{
    EmbJob j = { e, f, stage };
    tp_run(e->k.pool, (e->n + EMB_CHUNK - 1) / EMB_CHUNK, emb_task, &j);
}

/* ------------------------------------------------------------- forward */

/* §3.2-§3.4 from e->x (the input); leaves h = out.ln(x) in e->y. */
static int forward(ArgSynth *e)
{
    const ArgPoet *P = e->p;
    KernelCtx *k = &e->k;
    const int n = e->n, d = P->d;
    const size_t nd = (size_t)n * d;
    int rc;
    for (int l = 0; l < P->L; l++) {
        const PoetLayer *ly = &P->layers[l];
        poet_layernorm(k, e->x, e->y, d, n, ly->ln1_w, ly->ln1_b, P->eps);
        if ((rc = poet_linear(k, &ly->qkv, e->y, e->big, n)) < 0)
            return rc;
        poet_attention(k, e->big, e->att, d, P->h, P->w, ly->rel, e->H, e->W, e->scratch);
        if ((rc = poet_linear(k, &ly->out, e->att, e->y, n)) < 0)
            return rc;
        add_inplace(k, e->x, e->y, nd);
        poet_layernorm(k, e->x, e->y, d, n, ly->ln2_w, ly->ln2_b, P->eps);
        if ((rc = poet_linear(k, &ly->fc1, e->y, e->big, n)) < 0)
            return rc;
        poet_gelu(k, e->big, (size_t)P->m * n);
        if ((rc = poet_linear(k, &ly->fc2, e->big, e->y, n)) < 0)
            return rc;
        add_inplace(k, e->x, e->y, nd);
    }
    poet_layernorm(k, e->x, e->y, d, n, P->out_w, P->out_b, P->eps);
    return 0;
}

/* ---------------------------------------------------------------- head */

enum { HEAD_CHOOSE, HEAD_BITS, HEAD_LOGITS };

typedef struct HeadJob {
    ArgSynth *e;
    int mode, count;
    uint64_t t;
    const uint32_t *target;  /* HEAD_BITS, HEAD_LOGITS */
    double *bits;            /* HEAD_BITS: per task */
    float *logits;           /* HEAD_LOGITS */
} HeadJob;

#define HEAD_CHUNK 32

static void head_task(void *arg, int task, int thread)
{
    (void)thread;
    HeadJob *j = arg;
    ArgSynth *e = j->e;
    const ArgPoet *P = e->p;
    const int B = P->B;
    double base[ARG_TOKEN_MAX_BITS], acc = 0;
    int i0 = task * HEAD_CHUNK, i1 = i0 + HEAD_CHUNK < j->count ? i0 + HEAD_CHUNK : j->count;
    for (int i = i0; i < i1; i++) {
        int p = j->mode == HEAD_LOGITS ? i : e->todo[i];
        poet_bit_base(P, e->y + p, e->n, base);
        if (j->mode == HEAD_CHOOSE) {
            e->cur[p] = poet_choose(P, base, e->s.temperature, e->s.top_k, e->s.top_p, e->s.seed, j->t,
                                    p / e->W, p % e->W);
        } else if (j->mode == HEAD_BITS) {
            acc += poet_token_bits(P, base, j->target[p]);
        } else {
            uint32_t v = j->target[p];
            for (int b = 0; b < B; b++) {
                double lg = base[b];
                const float *ar = P->bits_ar + (size_t)b * B;
                for (int c = 0; c < b; c++)
                    lg += ar[c] * ((v >> c & 1) ? 1.0 : -1.0);
                j->logits[(size_t)p * B + b] = (float)lg;
            }
        }
    }
    if (j->mode == HEAD_BITS)
        j->bits[task] = acc;
}

static int head(ArgSynth *e, int mode, int count, uint64_t t, const uint32_t *target, double *bits,
                float *logits)
{
    int tasks = (count + HEAD_CHUNK - 1) / HEAD_CHUNK;
    HeadJob j = { e, mode, count, t, target, NULL, logits };
    if (mode == HEAD_BITS) {
        j.bits = calloc((size_t)tasks + 1, sizeof(double));
        if (!j.bits)
            return -ENOMEM;
    }
    tp_run(e->k.pool, tasks, head_task, &j);
    if (mode == HEAD_BITS) {
        double s = 0; /* summed in task order: the same for any thread count */
        for (int i = 0; i < tasks; i++)
            s += j.bits[i];
        *bits += s;
        free(j.bits);
    }
    return 0;
}

/* positions of group g not yet known */
static int list_todo(ArgSynth *e, int g, const uint8_t *known)
{
    int cnt = 0;
    for (int y = 0; y < e->H; y++)
        for (int x = 0; x < e->W; x++) {
            int p = y * e->W + x;
            if (poet_group(y, x) == g && !known[p])
                e->todo[cnt++] = p;
        }
    return cnt;
}

/* ---------------------------------------------------------------- API */

int arg_synth_generate(ArgSynth *e, const ArgSynthFrame *f, uint32_t *tokens)
{
    if (!e || !tokens || check_frame(e, f) < 0)
        return -EINVAL;
    const size_t n = (size_t)e->n;
    if (f->known) {
        if (check_tokens(e, tokens, f->known) < 0)
            return -EINVAL;
        for (size_t p = 0; p < n; p++) {
            e->known[p] = f->known[p] != 0;
            e->cur[p] = e->known[p] ? tokens[p] : 0;
        }
    } else {
        memset(e->known, 0, n);
        memset(e->cur, 0, n * sizeof(uint32_t));
    }
    int rc, based = 0;
    for (int g = 0; g < POET_GROUPS; g++) {
        int cnt = list_todo(e, g, e->known);
        if (!cnt)
            continue;
        if (!based) {
            embed(e, f, 0);
            based = 1;
        }
        embed(e, f, 1);
        if ((rc = forward(e)) < 0)
            return rc;
        if ((rc = head(e, HEAD_CHOOSE, cnt, f->t, NULL, NULL, NULL)) < 0)
            return rc;
        for (int i = 0; i < cnt; i++)
            e->known[e->todo[i]] = 1;
    }
    memcpy(tokens, e->cur, n * sizeof(uint32_t));
    return arg_synth_push(e, tokens);
}

int arg_synth_measure(ArgSynth *e, const ArgSynthFrame *f, const uint32_t *tokens, double *bits)
{
    if (!e || !tokens || !bits || check_frame(e, f) < 0 || check_tokens(e, tokens, NULL) < 0)
        return -EINVAL;
    const size_t n = (size_t)e->n;
    double total = 0;
    int rc, based = 0;
    memcpy(e->cur, tokens, n * sizeof(uint32_t));
    for (int g = 0; g < POET_GROUPS; g++) {
        /* todo: group g outside the task's known positions */
        for (size_t p = 0; p < n; p++)
            e->known[p] = f->known ? f->known[p] != 0 : 0;
        int cnt = list_todo(e, g, e->known);
        if (!cnt)
            continue;
        for (int y = 0; y < e->H; y++)
            for (int x = 0; x < e->W; x++)
                if (poet_group(y, x) < g)
                    e->known[y * e->W + x] = 1;
        if (!based) {
            embed(e, f, 0);
            based = 1;
        }
        embed(e, f, 1);
        if ((rc = forward(e)) < 0)
            return rc;
        if ((rc = head(e, HEAD_BITS, cnt, f->t, tokens, &total, NULL)) < 0)
            return rc;
    }
    *bits = total;
    return arg_synth_push(e, tokens);
}

int arg_synth_logits(ArgSynth *e, const ArgSynthFrame *f, const uint32_t *cur, const uint32_t *target,
                     float *logits)
{
    if (!e || !cur || !target || !logits || check_frame(e, f) < 0 || check_tokens(e, target, NULL) < 0)
        return -EINVAL;
    const size_t n = (size_t)e->n;
    if (f->known && check_tokens(e, cur, f->known) < 0)
        return -EINVAL;
    for (size_t p = 0; p < n; p++) {
        e->known[p] = f->known ? f->known[p] != 0 : 0;
        e->cur[p] = e->known[p] ? cur[p] : 0;
    }
    embed(e, f, 0);
    embed(e, f, 1);
    int rc = forward(e);
    if (rc < 0)
        return rc;
    return head(e, HEAD_LOGITS, e->n, f->t, target, NULL, logits);
}
