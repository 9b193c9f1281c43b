/* ARG-Poet engine tests (spec/poet.md).
 *
 *   test_synth                          ops fast vs reference, RNG, loader checks,
 *                                       window cache, thread-count determinism
 *   test_synth --parity MODEL VECTORS   replay tools/train/poet_parity.py's vectors
 *                                       (PyTorch twin): logits, code lengths, tokens
 *   test_synth --make-model PATH TOKID [tiny]  write a random-weight poet model (B = 18;
 *                                       tiny: B = 7, d = 4, fuzz seeds) whose tokenizer_id
 *                                       is TOKID (for tests/test_argsynth.sh)
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arg/synth.h"
#include "check.h"
#include "json.h"
#include "poetgen.h"
#include "safetensors.h"
#include "synth/poet.h"

static float maxdiff(const float *a, const float *b, size_t n)
{
    float m = 0;
    for (size_t i = 0; i < n; i++) {
        float d = fabsf(a[i] - b[i]);
        if (!(d <= m))
            m = d;
    }
    return m;
}

static float *rbuf(size_t n, float scale)
{
    float *p = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        p[i] = frand() * scale;
    return p;
}

/* ------------------------------------------------------------ op tests */

static void test_ops(int threads)
{
    KernelCtx k;
    CHECK(kctx_init(&k, threads, GEMM_BUILTIN) == 0, "kctx_init");
    /* LayerNorm, several widths and position counts (not multiples of the chunk) */
    int shapes[][2] = { { 32, 63 }, { 7, 300 }, { 128, 517 }, { 1, 5 } };
    for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
        int c = shapes[s][0], n = shapes[s][1];
        float *x = rbuf((size_t)c * n, 3.f), *w = rbuf((size_t)c, 1.f), *b = rbuf((size_t)c, 1.f);
        for (size_t i = 0; i < (size_t)c * n; i++)
            x[i] += 1.5f; /* a non-zero mean */
        float *y1 = malloc((size_t)c * n * sizeof(float)), *y2 = malloc((size_t)c * n * sizeof(float));
        ref_poet_layernorm(x, y1, c, n, w, b, 1e-5f);
        poet_layernorm(&k, x, y2, c, n, w, b, 1e-5f);
        float md = maxdiff(y1, y2, (size_t)c * n);
        CHECK(md < 2e-5f, "layernorm c=%d n=%d: fast vs ref %g", c, n, md);
        /* against the definition at one position */
        double mean = 0, var = 0;
        for (int i = 0; i < c; i++)
            mean += x[(size_t)i * n + 3 % n];
        mean /= c;
        for (int i = 0; i < c; i++)
            var += (x[(size_t)i * n + 3 % n] - mean) * (x[(size_t)i * n + 3 % n] - mean);
        var /= c;
        double want = (x[3 % n] - mean) / sqrt(var + 1e-5) * w[0] + b[0];
        CHECK(fabs(want - y1[3 % n]) < 1e-5, "layernorm definition %g vs %g", want, y1[3 % n]);
        free(x); free(w); free(b); free(y1); free(y2);
    }
    /* GELU */
    {
        size_t n = 40000;
        float *x = rbuf(n, 6.f), *y = malloc(n * sizeof(float));
        memcpy(y, x, n * sizeof(float));
        ref_poet_gelu(x, n);
        poet_gelu(&k, y, n);
        CHECK(maxdiff(x, y, n) < 1e-5f, "gelu fast vs ref %g", maxdiff(x, y, n));
        float g1[3] = { 1.f, -1.f, 0.f };
        ref_poet_gelu(g1, 3);
        CHECK(fabsf(g1[0] - 0.8413447f) < 1e-6f && fabsf(g1[1] + 0.1586553f) < 1e-6f && g1[2] == 0.f,
              "gelu(1) = %g, gelu(-1) = %g", g1[0], g1[1]);
        free(x); free(y);
    }
    /* windowed attention: grids smaller and larger than the window */
    int ag[][5] = { { 32, 4, 5, 7, 9 }, { 16, 2, 7, 3, 2 }, { 24, 3, 3, 1, 11 }, { 64, 4, 7, 12, 20 }, { 8, 1, 15, 5, 5 }, { 32, 4, 7, 5, 48 }, { 16, 2, 3, 4, 37 }, { 8, 2, 5, 3, 80 } };
    for (size_t s = 0; s < sizeof(ag) / sizeof(ag[0]); s++) {
        int d = ag[s][0], hd = ag[s][1], w = ag[s][2], H = ag[s][3], W = ag[s][4], n = H * W;
        float *qkv = rbuf((size_t)3 * d * n, 2.f), *rel = rbuf((size_t)hd * w * w, 1.f);
        float *o1 = malloc((size_t)d * n * sizeof(float)), *o2 = malloc((size_t)d * n * sizeof(float));
        float **scr = calloc((size_t)k.n_threads, sizeof(float *));
        for (int i = 0; i < k.n_threads; i++)
            scr[i] = malloc(poet_attn_scratch(w, W) * sizeof(float));
        ref_poet_attention(qkv, o1, d, hd, w, rel, H, W);
        poet_attention(&k, qkv, o2, d, hd, w, rel, H, W, scr);
        float md = maxdiff(o1, o2, (size_t)d * n);
        CHECK(md < 2e-5f, "attention d=%d h=%d w=%d %dx%d: fast vs ref %g", d, hd, w, W, H, md);
        /* a position whose window holds only itself attends to its own value */
        if (H == 1 && W == 1)
            CHECK(o1[0] == qkv[2 * d * n], "attention of one position");
        for (int i = 0; i < k.n_threads; i++)
            free(scr[i]);
        free(scr); free(qkv); free(rel); free(o1); free(o2);
    }
    /* edge exclusion: at the corner of a 1x1 grid the output is v itself */
    {
        int d = 4, n = 1;
        float qkv[12], rel[9 * 2], o[4];
        for (int i = 0; i < 12; i++)
            qkv[i] = (float)i - 3.f;
        for (int i = 0; i < 18; i++)
            rel[i] = (float)i;
        ref_poet_attention(qkv, o, d, 2, 3, rel, 1, 1);
        CHECK(o[0] == qkv[8] && o[3] == qkv[11], "attention 1x1: %g %g", o[0], o[3]);
        (void)n;
    }
    /* linear on the GEMM vs the reference */
    {
        ConvW c;
        memset(&c, 0, sizeof(c));
        c.ci = 40;
        c.co = 3 * 40;
        c.kt = c.ks = c.st = c.ss = 1;
        c.K = c.ci;
        float *w = rbuf((size_t)c.co * c.ci, 0.3f), *b = rbuf((size_t)c.co, 1.f);
        c.w = w;
        c.bias = b;
        CHECK(conv_pack(&c) == 0, "pack");
        int n = 77;
        float *x = rbuf((size_t)c.ci * n, 1.f), *y1 = malloc((size_t)c.co * n * sizeof(float)),
              *y2 = malloc((size_t)c.co * n * sizeof(float));
        KernelCtx kr;
        kctx_init(&kr, 1, GEMM_REF);
        poet_linear(&kr, &c, x, y1, n);
        poet_linear(&k, &c, x, y2, n);
        CHECK(maxdiff(y1, y2, (size_t)c.co * n) < 1e-5f, "linear fast vs ref %g", maxdiff(y1, y2, (size_t)c.co * n));
        double acc = b[5];
        for (int i = 0; i < c.ci; i++)
            acc += (double)w[5 * c.ci + i] * x[(size_t)i * n + 9];
        CHECK(fabs(acc - y1[5 * n + 9]) < 1e-5, "linear definition");
        kctx_free(&kr);
        free(c.wpack); free(w); free(b); free(x); free(y1); free(y2);
    }
    kctx_free(&k);
}

static void test_rng(void)
{
    /* the first output of the reference splitmix64 generator seeded with 0 */
    CHECK(poet_splitmix64(0) == 0xE220A8397B1DCDAFull, "splitmix64(0) = %016llx",
          (unsigned long long)poet_splitmix64(0));
    double u = poet_uniform(1, 2, 3, 4, 1);
    uint64_t idx = ((2ull * 65536 + 3) * 65536 + 4) * 8 + 1;
    double want = (double)(poet_splitmix64(1 ^ poet_splitmix64(idx)) >> 11) / 9007199254740992.0;
    CHECK(u == want && u >= 0 && u < 1, "uniform");
    CHECK(poet_uniform(1, 2, 3, 4, 2) != u && poet_uniform(2, 2, 3, 4, 1) != u, "uniform depends on group, seed");
}

/* ----------------------------------------------------------- loader */

static const PoetGenCfg small = { 18, 32, 2, 4, 48, 3, 5, 4 };

static int load_gen(const PoetGenCfg *c, const char *cfg_override, ArgPoet **p, char *err, size_t errlen)
{
    uint8_t *buf;
    size_t size;
    if (poet_gen(c, "0123456789abcdef", 3, cfg_override, &buf, &size) < 0)
        return -ENOMEM;
    int rc = arg_poet_load_memory(p, buf, size, err, errlen);
    free(buf);
    return rc;
}

/* replace the first occurrence of a in the file's header by b (same length) */
static int load_patched(const char *a, const char *b, ArgPoet **p, char *err, size_t errlen)
{
    uint8_t *buf;
    size_t size;
    if (poet_gen(&small, "0123456789abcdef", 3, NULL, &buf, &size) < 0)
        return -ENOMEM;
    size_t hl = 0;
    for (int i = 0; i < 8; i++)
        hl |= (size_t)buf[i] << (8 * i);
    char *h = (char *)buf + 8;
    for (size_t i = 0; i + strlen(a) <= hl; i++)
        if (!memcmp(h + i, a, strlen(a))) {
            memcpy(h + i, b, strlen(b));
            break;
        }
    int rc = arg_poet_load_memory(p, buf, size, err, errlen);
    free(buf);
    return rc;
}

static void test_loader(void)
{
    ArgPoet *p = NULL;
    char err[512];
    int rc = load_gen(&small, NULL, &p, err, sizeof(err));
    CHECK(rc == 0, "load a generated model: %s", err);
    if (p) {
        const ArgPoetInfo *in = arg_poet_info(p);
        CHECK(in->token_bits == 18 && in->dim == 32 && in->layers == 2 && in->heads == 4 && in->context == 3 &&
              in->window == 5 && in->anchor_max == 4 && in->tokenizer_id == 0x0123456789abcdefull &&
              !strcmp(in->name, "poet-test") && !strcmp(in->tokenizer_name, "arg-test"),
              "info");
        arg_poet_free(p);
    }
    struct {
        const char *cfg, *want;
    } bad[] = {
        { "{\"token_bits\":18,\"dim\":30,\"layers\":2,\"heads\":4,\"mlp\":48,\"context\":3,\"window\":5,\"anchor_max\":4}",
          "multiple of" },
        { "{\"token_bits\":18,\"dim\":32,\"layers\":2,\"heads\":4,\"mlp\":48,\"context\":3,\"window\":4,\"anchor_max\":4}",
          "window" },
        { "{\"token_bits\":18,\"dim\":32,\"layers\":2,\"heads\":4,\"mlp\":48,\"context\":9,\"window\":5,\"anchor_max\":4}",
          "context" },
        { "{\"token_bits\":18,\"dim\":32,\"layers\":2,\"heads\":4,\"mlp\":48,\"context\":3,\"window\":5}", "anchor_max" },
        { "{\"token_bits\":18,\"dim\":32,\"layers\":2,\"heads\":4,\"mlp\":48,\"context\":3,\"window\":5,\"anchor_max\":4,\"x\":1}",
          "unknown field" },
        { "{\"token_bits\":18,\"dim\":32,\"layers\":2,\"heads\":4,\"mlp\":48,\"context\":3,\"window\":5,\"anchor_max\":4,\"ln_eps\":0}",
          "ln_eps" },
        { "{\"token_bits\":18,\"dim\":32,\"layers\":3,\"heads\":4,\"mlp\":48,\"context\":3,\"window\":5,\"anchor_max\":4}",
          "missing tensor \"blk.2.ln1.weight\"" },
        { "{\"token_bits\":18,\"dim\":32,\"layers\":1,\"heads\":4,\"mlp\":48,\"context\":3,\"window\":5,\"anchor_max\":4}",
          "unexpected tensor \"blk.1." },
        { "{\"token_bits\":18,\"dim\":32,\"layers\":2,\"heads\":4,\"mlp\":48,\"context\":3,\"window\":5,\"anchor_max\":3}",
          "in.anchor_dist" },
        { "[1]", "not a JSON object" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        p = NULL;
        err[0] = 0;
        rc = load_gen(&small, bad[i].cfg, &p, err, sizeof(err));
        CHECK(rc == -EINVAL && !p && strstr(err, bad[i].want), "bad config %zu: rc %d, '%s' lacks '%s'", i, rc, err,
              bad[i].want);
    }
    struct {
        const char *a, *b, *want;
    } patch[] = {
        { "\"arg-poet\"", "\"arg-pxet\"", "not an ARG-Poet model" },
        { "\"format_version\":\"1\"", "\"format_version\":\"2\"", "format_version" },
        { "0123456789abcdef", "0123456789ABCDEF", "tokenizer_id" },
        { "\"in.mask\"", "\"in.masx\"", "missing tensor \"in.mask\"" },
        { "\"blk.0.attn.rel\":{\"dtype\":\"F32\",\"shape\":[4,5,5]", "\"blk.0.attn.rel\":{\"dtype\":\"F32\",\"shape\":[5,4,5]",
          "blk.0.attn.rel" },
    };
    for (size_t i = 0; i < sizeof(patch) / sizeof(patch[0]); i++) {
        p = NULL;
        err[0] = 0;
        rc = load_patched(patch[i].a, patch[i].b, &p, err, sizeof(err));
        CHECK(rc < 0 && !p && strstr(err, patch[i].want), "patched %zu: rc %d, '%s' lacks '%s'", i, rc, err,
              patch[i].want);
    }
    /* out.bits.ar with an entry on the diagonal */
    {
        uint8_t *buf;
        size_t size;
        poet_gen(&small, "0123456789abcdef", 3, NULL, &buf, &size);
        /* out.bits.ar is the last tensor: its [0][0] is 18*18 floats before the end */
        float one = 1.f;
        memcpy(buf + size - 18 * 18 * 4, &one, 4);
        p = NULL;
        rc = arg_poet_load_memory(&p, buf, size, err, sizeof(err));
        CHECK(rc == -EINVAL && strstr(err, "out.bits.ar"), "ar diagonal: '%s'", err);
        float nan = NAN;
        memcpy(buf + size - 4, &nan, 4); /* [17][17]: on the diagonal too; put NaN below it */
        memcpy(buf + size - 18 * 18 * 4, &(float){ 0.f }, 4);
        memcpy(buf + size - 8, &nan, 4);
        memcpy(buf + size - 4, &(float){ 0.f }, 4);
        rc = arg_poet_load_memory(&p, buf, size, err, sizeof(err));
        CHECK(rc == -EINVAL && strstr(err, "NaN"), "NaN weight: '%s'", err);
        CHECK(arg_poet_load_memory(&p, buf, 20, err, sizeof(err)) < 0, "truncated file");
        free(buf);
    }
}

/* ------------------------------------------------------------ engine */

static ArgSynth *open_engine(const ArgPoet *p, int W, int H, int threads, int gemm, double temp, int topk,
                             double topp, uint64_t seed)
{
    ArgSynthSettings s;
    arg_synth_default_settings(&s);
    s.n_threads = threads;
    s.gemm = gemm;
    s.temperature = temp;
    s.top_k = topk;
    s.top_p = topp;
    s.seed = seed;
    ArgSynth *e = NULL;
    int rc = arg_synth_open(&e, p, W, H, &s);
    CHECK(rc == 0, "arg_synth_open %dx%d: %d", W, H, rc);
    return e;
}

static void test_engine(void)
{
    ArgPoet *p = NULL;
    char err[256];
    if (load_gen(&small, NULL, &p, err, sizeof(err)) < 0) {
        CHECK(0, "load: %s", err);
        return;
    }
    const int W = 11, H = 6, n = W * H, T = 7, K = 3;
    uint32_t *seq1 = calloc((size_t)T * n, 4), *seq2 = calloc((size_t)T * n, 4), *seq3 = calloc((size_t)T * n, 4);
    uint32_t *first = malloc((size_t)n * 4);
    for (int i = 0; i < n; i++)
        first[i] = rnd() & 0x3FFFF;
    /* sampled continuation with 1 and 3 threads, and the reference ops */
    ArgSynth *e1 = open_engine(p, W, H, 1, ARG_GEMM_BUILTIN, 0.8, 30, 0.9, 42);
    ArgSynth *e2 = open_engine(p, W, H, 3, ARG_GEMM_BUILTIN, 0.8, 30, 0.9, 42);
    ArgSynth *e3 = open_engine(p, W, H, 2, ARG_GEMM_REFERENCE, 0.8, 30, 0.9, 42);
    ArgSynth *es[3] = { e1, e2, e3 };
    uint32_t *seqs[3] = { seq1, seq2, seq3 };
    for (int i = 0; i < 3; i++) {
        if (!es[i])
            continue;
        arg_synth_push(es[i], first);
        for (int t = 1; t < T; t++) {
            ArgSynthFrame f = { ARG_POET_CONTINUE, t % 4 == 0, (uint64_t)t, NULL, NULL, 0 };
            CHECK(arg_synth_generate(es[i], &f, seqs[i] + (size_t)t * n) == 0, "generate");
        }
        CHECK(arg_synth_history(es[i]) == K, "history holds K frames");
    }
    CHECK(!memcmp(seq1 + n, seq2 + n, (size_t)(T - 1) * n * 4), "sampled tokens: 1 thread == 3 threads");
    int diff = 0;
    for (int i = n; i < T * n; i++)
        diff += seq1[i] != seq3[i];
    CHECK(diff <= n / 20, "sampled tokens: fast vs reference ops differ at %d of %d", diff, (T - 1) * n);
    /* the whole pass: fast engine vs the reference one, teacher-forced logits */
    if (e1 && e3) {
        float *l1 = malloc((size_t)n * 18 * sizeof(float)), *l3 = malloc((size_t)n * 18 * sizeof(float));
        uint8_t *kn = malloc((size_t)n);
        for (int i = 0; i < n; i++)
            kn[i] = (uint8_t)(i % 3 == 0);
        for (int i = 0; i < 2; i++) { /* the same past for both */
            ArgSynth *ei = i ? e3 : e1;
            arg_synth_reset(ei);
            arg_synth_push(ei, seq1 + 1 * (size_t)n);
            arg_synth_push(ei, seq1 + 4 * (size_t)n);
        }
        ArgSynthFrame f = { ARG_POET_INPAINT, 0, 9, kn, seq1 + 2 * (size_t)n, 2 };
        int r1 = arg_synth_logits(e1, &f, seq1 + 3 * (size_t)n, seq1 + 3 * (size_t)n, l1);
        int r3 = arg_synth_logits(e3, &f, seq1 + 3 * (size_t)n, seq1 + 3 * (size_t)n, l3);
        float md = maxdiff(l1, l3, (size_t)n * 18);
        CHECK(r1 == 0 && r3 == 0 && md < 1e-4f, "logits fast vs reference engine: %g", md);
        free(l1); free(l3); free(kn);
    }
    int distinct = 0;
    for (int i = n + 1; i < T * n; i++)
        distinct += seq1[i] != seq1[i - 1];
    CHECK(distinct > n, "sampling makes varied tokens (%d changes)", distinct);
    /* streaming (window cache) == each frame from a fresh engine given its K past frames */
    memcpy(seq1, first, (size_t)n * 4);
    ArgSynth *f1 = open_engine(p, W, H, 2, ARG_GEMM_BUILTIN, 0.8, 30, 0.9, 42);
    int same = 1;
    for (int t = 1; t < T && f1; t++) {
        arg_synth_reset(f1);
        for (int j = t - K < 0 ? 0 : t - K; j < t; j++)
            arg_synth_push(f1, seq1 + (size_t)j * n);
        ArgSynthFrame f = { ARG_POET_CONTINUE, t % 4 == 0, (uint64_t)t, NULL, NULL, 0 };
        uint32_t *out = malloc((size_t)n * 4);
        arg_synth_generate(f1, &f, out);
        same &= !memcmp(out, seq1 + (size_t)t * n, (size_t)n * 4);
        free(out);
    }
    CHECK(same, "streaming == whole sequence (fresh engine per frame)");
    /* code length: streaming == fresh; equals the sum over logits of a pass per group */
    {
        ArgSynth *m1 = open_engine(p, W, H, 2, ARG_GEMM_BUILTIN, 0, 0, 1, 0);
        double total = 0, b;
        for (int t = 0; t < T && m1; t++) {
            ArgSynthFrame f = { ARG_POET_CONTINUE, t == 0, (uint64_t)t, NULL, NULL, 0 };
            CHECK(arg_synth_measure(m1, &f, seq1 + (size_t)t * n, &b) == 0, "measure");
            total += b;
        }
        double per = total / ((double)T * n);
        CHECK(per > 1 && per < 40, "code length %.3f bits/token", per);
        /* frame 4 again from a fresh engine */
        arg_synth_reset(m1);
        for (int j = 1; j < 4; j++)
            arg_synth_push(m1, seq1 + (size_t)j * n);
        ArgSynthFrame f = { ARG_POET_CONTINUE, 1, 4, NULL, NULL, 0 };
        double b4;
        arg_synth_measure(m1, &f, seq1 + 4 * (size_t)n, &b4);
        /* the same through logits: a pass per group with earlier groups known */
        arg_synth_reset(m1);
        for (int j = 1; j < 4; j++)
            arg_synth_push(m1, seq1 + (size_t)j * n);
        float *lg = malloc((size_t)n * 18 * sizeof(float));
        uint8_t *kn = malloc((size_t)n);
        double via = 0;
        for (int g = 0; g < 4; g++) {
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++)
                    kn[y * W + x] = poet_group(y, x) < g;
            ArgSynthFrame fg = { ARG_POET_CONTINUE, 1, 4, kn, NULL, 0 };
            arg_synth_logits(m1, &fg, seq1 + 4 * (size_t)n, seq1 + 4 * (size_t)n, lg);
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) {
                    if (poet_group(y, x) != g)
                        continue;
                    uint32_t v = seq1[4 * (size_t)n + y * W + x];
                    for (int bb = 0; bb < 18; bb++) {
                        double l = lg[(size_t)(y * W + x) * 18 + bb], s = (v >> bb & 1) ? 1 : -1;
                        via += log1p(exp(-s * l)) / log(2.0);
                    }
                }
        }
        CHECK(fabs(via - b4) < 1e-3 * b4, "code length %.4f == via logits %.4f", b4, via);
        /* a given (inpainting) region costs nothing and is kept */
        memset(kn, 1, (size_t)n);
        for (int y = 1; y < 4; y++)
            for (int x = 2; x < 6; x++)
                kn[y * W + x] = 0;
        ArgSynthFrame fi = { ARG_POET_INPAINT, 0, 5, kn, NULL, 0 };
        double bi;
        arg_synth_measure(m1, &fi, seq1 + 5 * (size_t)n, &bi);
        CHECK(bi > 0 && bi < 12 * 60.0, "inpaint code length of the 12 hole tokens %.3f", bi);
        uint32_t *fr = malloc((size_t)n * 4);
        memcpy(fr, seq1 + 5 * (size_t)n, (size_t)n * 4);
        for (int i = 0; i < n; i++)
            if (!kn[i])
                fr[i] = 0xFFFFFFFF; /* not read */
        CHECK(arg_synth_generate(m1, &fi, fr) == 0, "inpaint generate");
        int kept = 1;
        for (int i = 0; i < n; i++)
            kept &= !kn[i] || fr[i] == seq1[5 * (size_t)n + i];
        CHECK(kept, "inpainting keeps the known tokens");
        /* bad inputs */
        ArgSynthFrame bad = { 5, 0, 0, NULL, NULL, 0 };
        CHECK(arg_synth_generate(m1, &bad, fr) == -EINVAL, "bad task");
        ArgSynthFrame bad2 = { 3, 0, 0, NULL, fr, 5 };
        CHECK(arg_synth_generate(m1, &bad2, fr) == -EINVAL, "anchor distance > D");
        fr[0] = 1u << 18;
        CHECK(arg_synth_push(m1, fr) == -EINVAL, "token out of range");
        free(fr); free(lg); free(kn);
        arg_synth_close(m1);
    }
    ArgSynthSettings s;
    arg_synth_default_settings(&s);
    s.top_p = 0;
    ArgSynth *bad = NULL;
    CHECK(arg_synth_open(&bad, p, W, H, &s) == -EINVAL && !bad, "top_p 0 refused");
    arg_synth_close(f1);
    for (int i = 0; i < 3; i++)
        arg_synth_close(es[i]);
    free(seq1); free(seq2); free(seq3); free(first);
    arg_poet_free(p);
}

/* ------------------------------------------------------------ parity */

static const float *vec(const StFile *st, const char *name, size_t numel)
{
    StTensor *t = st_find(st, name);
    if (!t || t->dtype != ST_F32 || (size_t)t->numel != numel) {
        CHECK(0, "vectors: tensor %s missing or misshapen", name);
        return NULL;
    }
    return (const float *)(const void *)t->data; /* the data section is 8-aligned */
}

static int jint(const JsonValue *o, const char *key, int def)
{
    const JsonValue *v = json_get(o, key);
    return v && v->type == JSON_NUMBER ? (int)v->number : def;
}

static double jnum(const JsonValue *o, const char *key, double def)
{
    const JsonValue *v = json_get(o, key);
    return v && v->type == JSON_NUMBER ? v->number : def;
}

static int parity(const char *model_path, const char *vec_path)
{
    char err[512];
    ArgPoet *p = NULL;
    if (arg_poet_load(&p, model_path, err, sizeof(err)) < 0) {
        CHECK(0, "%s", err);
        return check_summary();
    }
    uint8_t *buf;
    size_t size;
    StFile st;
    if (st_read_file(vec_path, &buf, &size, (size_t)1 << 30, err, sizeof(err)) < 0 ||
        st_parse(&st, buf, size, err, sizeof(err)) < 0) {
        CHECK(0, "%s", err);
        return check_summary();
    }
    const int H = atoi(st_meta(&st, "height")), W = atoi(st_meta(&st, "width")), T = atoi(st_meta(&st, "frames"));
    const int n = H * W, B = p->B;
    const char *cs = st_meta(&st, "cases");
    JsonValue *cases = cs ? json_parse(cs, strlen(cs), err, sizeof(err)) : NULL;
    const float *ff = vec(&st, "frames", (size_t)T * n);
    if (!cases || cases->type != JSON_ARRAY || !ff) {
        CHECK(0, "vectors: no cases");
        return check_summary();
    }
    uint32_t *frames = malloc((size_t)T * n * 4), *tok = malloc((size_t)n * 4), *cur = malloc((size_t)n * 4);
    uint8_t *known = malloc((size_t)n);
    float *lg = malloc((size_t)n * B * sizeof(float));
    for (int i = 0; i < T * n; i++)
        frames[i] = (uint32_t)ff[i];
    float worst = 0;
    for (size_t ci = 0; ci < cases->len; ci++) {
        const JsonValue *c = &cases->items[ci];
        const char *kind = json_get(c, "kind")->string, *label = json_get(c, "label")->string;
        const JsonValue *kn = json_get(c, "known"), *past = json_get(c, "past");
        const uint8_t *kp = NULL;
        if (kn && kn->type == JSON_STRING) {
            const float *kf = vec(&st, kn->string, (size_t)n);
            for (int i = 0; kf && i < n; i++)
                known[i] = kf[i] > 0.5f;
            kp = known;
        }
        int task = jint(c, "task", 0), anchor = jint(c, "anchor", -1);
        int gemm = ARG_GEMM_BUILTIN;
        double temp = jnum(c, "temperature", 0);
        ArgSynth *e = open_engine(p, W, H, 2, gemm, temp, jint(c, "top_k", 0), jnum(c, "top_p", 1),
                                  (uint64_t)jnum(c, "seed", 0));
        if (!e)
            continue;
        for (size_t j = 0; j < past->len; j++)
            arg_synth_push(e, frames + (size_t)past->items[j].integer * n);
        if (!strcmp(kind, "logits") || !strcmp(kind, "bits")) {
            const uint32_t *fr = frames + (size_t)jint(c, "cur", 0) * n;
            ArgSynthFrame f = { task, jint(c, "key", 0), 0, kp, anchor >= 0 ? frames + (size_t)anchor * n : NULL,
                                jint(c, "anchor_dist", 0) };
            if (!strcmp(kind, "logits")) {
                const float *want = vec(&st, json_get(c, "out")->string, (size_t)n * B);
                int rc = arg_synth_logits(e, &f, fr, fr, lg);
                float md = want ? maxdiff(lg, want, (size_t)n * B) : 1e9f;
                if (md > worst)
                    worst = md;
                CHECK(rc == 0 && md <= 1e-3f, "parity logits %s: max |diff| %g", label, md);
            } else {
                const float *want = vec(&st, json_get(c, "out")->string, 1);
                double bits = 0;
                int rc = arg_synth_measure(e, &f, fr, &bits);
                CHECK(rc == 0 && want && fabs(bits - want[0]) <= 1e-4 * fabs(want[0]) + 1e-3,
                      "parity code length %s: %.5f vs twin %.5f", label, bits, want ? want[0] : 0.0);
            }
        } else {
            int nf = jint(c, "frames", 1), t0 = jint(c, "t0", 0), every = jint(c, "key_every", 4);
            const float *want = vec(&st, json_get(c, "out")->string, (size_t)nf * n);
            int mism = 0;
            for (int fi = 0; fi < nf && want; fi++) {
                if (kp)
                    memcpy(cur, frames + (size_t)((t0 + fi) % T) * n, (size_t)n * 4);
                ArgSynthFrame f = { task, (t0 + fi) % every == 0, (uint64_t)(t0 + fi), kp,
                                    anchor >= 0 ? frames + (size_t)anchor * n : NULL, anchor >= 0 ? nf - fi : 0 };
                memcpy(tok, cur, (size_t)n * 4);
                if (arg_synth_generate(e, &f, tok) < 0) {
                    CHECK(0, "generate %s", label);
                    break;
                }
                for (int i = 0; i < n; i++)
                    mism += tok[i] != (uint32_t)want[(size_t)fi * n + i];
            }
            if (temp <= 0)
                CHECK(mism == 0, "parity greedy tokens %s: %d of %d differ", label, mism, nf * n);
            else /* the same draws; a value at a rounding boundary of the cumulative sum may differ */
                CHECK(mism <= nf * n / 50, "parity sampled tokens %s: %d of %d differ", label, mism, nf * n);
            printf("%s: %d of %d tokens differ\n", label, mism, nf * n);
        }
        arg_synth_close(e);
    }
    printf("parity: worst logit difference %g (tolerance 1e-3)\n", worst);
    json_free(cases);
    st_free(&st);
    free(buf); free(frames); free(tok); free(cur); free(known); free(lg);
    arg_poet_free(p);
    return check_summary();
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "--parity"))
        return parity(argv[2], argv[3]);
    if ((argc == 4 || argc == 5) && !strcmp(argv[1], "--make-model")) {
        uint8_t *buf;
        size_t size;
        PoetGenCfg c = { 18, 32, 2, 4, 64, 3, 5, 4 }, tiny = { 7, 4, 1, 2, 6, 2, 3, 2 };
        if (argc == 5 && !strcmp(argv[4], "tiny"))
            c = tiny;
        if (poet_gen(&c, argv[3], 5, NULL, &buf, &size) < 0)
            return 1;
        FILE *f = fopen(argv[2], "wb");
        int ok = f && fwrite(buf, 1, size, f) == size;
        if (f && fclose(f) != 0)
            ok = 0;
        free(buf);
        return ok ? 0 : 1;
    }
    if (argc != 1) {
        fprintf(stderr, "usage: test_synth [--parity MODEL VECTORS | --make-model PATH TOKID [tiny]]\n");
        return 2;
    }
    test_rng();
    test_ops(1);
    test_ops(3);
    test_loader();
    test_engine();
    return check_summary();
}
