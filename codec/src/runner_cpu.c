/* The CPU backend behind the runner interface: the C engine (exec.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "exec.h"

typedef struct CpuRunner {
    NetRunner base;
    const ArgModel *m;
    KernelCtx k;
    Exec ex;
    int is_dec, h, w, max_t;
    uint32_t *tok;            /* encoder: output tokens; decoder: input tokens */
    size_t tok_cap;           /* entries */
} CpuRunner;

static void *cpu_input(NetRunner *r)
{
    CpuRunner *c = (CpuRunner *)r;
    return c->is_dec ? (void *)c->tok : (void *)c->ex.buf[0];
}

static int cpu_run(NetRunner *r, int t, RunOut *out)
{
    CpuRunner *c = (CpuRunner *)r;
    const ArgConfig *cfg = &c->m->cfg;
    if (t < 1 || t > c->max_t)
        return -EINVAL;
    Shape s;
    if (c->is_dec) {
        size_t n = (size_t)c->h * c->w;
        for (int f = 0; f < t; f++)
            lfq_dequant(c->tok + (size_t)f * n, cfg->bits, (int)n, c->ex.buf[0] + (size_t)f * cfg->bits * n);
        exec_set_style(&c->ex, c->ex.buf[0], t, (int)n);
        s = (Shape){ t, cfg->bits, c->h, c->w };
    } else {
        s = (Shape){ t, cfg->in_channels, c->h, c->w };
    }
    int cur = exec_run(&c->ex, &s);
    if (cur < 0)
        return cur;
    out->data = c->ex.buf[cur];
    out->t = s.t;
    out->c = s.c;
    out->h = s.h;
    out->w = s.w;
    out->tokens = NULL;
    if (!c->is_dec) {
        size_t n = (size_t)s.h * s.w;
        if ((size_t)s.t * n > c->tok_cap || s.c != cfg->bits)
            return -EPROTO;
        for (int f = 0; f < s.t; f++)
            lfq_tokens(out->data + (size_t)f * s.c * n, s.c, (int)n, c->tok + (size_t)f * n);
        out->tokens = c->tok;
    }
    return 0;
}

static void cpu_reset(NetRunner *r)
{
    exec_reset(&((CpuRunner *)r)->ex);
}

static void cpu_close(NetRunner *r)
{
    CpuRunner *c = (CpuRunner *)r;
    if (!c)
        return;
    exec_free(&c->ex);
    kctx_free(&c->k);
    free(c->tok);
    free(c);
}

static const NetRunnerOps cpu_ops = { cpu_input, cpu_run, cpu_reset, cpu_close };

int runner_open_cpu(NetRunner **out, const ArgModel *m, int is_dec, int h, int w, int max_t,
                    int n_threads, int gemm)
{
    *out = NULL;
    CpuRunner *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->base.ops = &cpu_ops;
    c->m = m;
    c->is_dec = is_dec;
    c->h = h;
    c->w = w;
    c->max_t = max_t;
    /* int8 encodes only when asked for by name (auto keeps the float
     * encoder): its tokens are the same on every CPU, but not those of the
     * float paths (spec/precision.md) */
    int rc = kctx_init(&c->k, n_threads, gemm);
    if (rc < 0) {
        free(c);
        return rc;
    }
    const ArgConfig *cfg = &m->cfg;
    Shape in = { max_t, is_dec ? cfg->bits : cfg->in_channels, h, w };
    if ((rc = exec_init(&c->ex, m, is_dec ? &m->dec : &m->enc, &c->k, in, max_t)) < 0) {
        kctx_free(&c->k);
        free(c);
        return rc;
    }
    /* encoder: latent frames of a chunk (h, w are the picture size here) */
    size_t n = is_dec ? (size_t)h * w : (size_t)(h / cfg->fs) * (w / cfg->fs);
    c->tok_cap = (size_t)max_t * n;
    c->tok = malloc((c->tok_cap ? c->tok_cap : 1) * sizeof(uint32_t));
    if (!c->tok) {
        cpu_close(&c->base);
        return -ENOMEM;
    }
    snprintf(c->base.name, sizeof(c->base.name), "cpu (%s, %d thread%s)",
             gemm == GEMM_REF    ? "reference kernels"
             : gemm == GEMM_BLAS ? "OpenBLAS sgemm"
             : gemm == GEMM_INT8 ? kctx_isa8()
                                 : kctx_isa(),
             c->k.n_threads, c->k.n_threads == 1 ? "" : "s");
    *out = &c->base;
    return 0;
}
