/* The int8 convolution path, checkasm style: every int8 microkernel the CPU
 * runs (C, AVX2, AVX-512 VNNI) against the plain-C one, bit for bit, on
 * random data of awkward sizes and on the extremes (no saturation); the
 * whole int8 convolution against an independent implementation of the
 * quantisation formula in spec/precision.md (bit for bit), against the float
 * reference (within the quantisation error), and over 1 and 2 threads.
 * With --bench, times each microkernel. Prints "N passed, M failed". */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arg/arg.h"
#include "check.h"
#include "kernels.h"
#include "modelgen.h"

static const char *const level_names[3] = { "c", "avx2", "avx512-vnni" };

static void test_micro(int bench)
{
    Micro8Fn ref = micro8_get(0);
    CHECK(ref == micro8_c, "level 0 is the C kernel");
    for (int level = 1; level <= 2; level++) {
        Micro8Fn f = micro8_get(level);
        if (!f) {
            printf("micro8 %s: not on this CPU, skipped\n", level_names[level]);
            continue;
        }
        int bad = 0;
        for (int iter = 0; iter < 60 && !bad; iter++) {
            int K4 = iter < 3 ? iter + 1 : irand(1, 700);
            int ldb = ARG_NR8 * irand(1, 3) + (iter & 1 ? 0 : 7); /* awkward strides */
            int extreme = iter % 5 == 0;
            size_t na = (size_t)K4 * ARG_MR8 * 4, nb = (size_t)K4 * ldb * 4;
            int8_t *a = malloc(na);
            uint8_t *b = malloc(nb);
            for (size_t i = 0; i < na; i++)
                a[i] = (int8_t)(extreme ? (iter & 2 ? -127 : 127) : irand(-127, 127));
            for (size_t i = 0; i < nb; i++)
                b[i] = (uint8_t)(extreme ? 255 : irand(0, 255));
            /* rows at a stride, or shuffled (as the direct convolution reads them) */
            const uint8_t **brow = malloc((size_t)K4 * sizeof(*brow));
            int off = iter % 3 == 2 ? 4 * irand(0, 7) : 0;
            for (int k4 = 0; k4 < K4; k4++)
                brow[k4] = b + (size_t)(iter % 3 == 1 ? K4 - 1 - k4 : k4) * ldb * 4;
            if (off > (ldb - ARG_NR8) * 4)
                off = 0;
            int32_t c0[ARG_MR8 * ARG_NR8], c1[ARG_MR8 * ARG_NR8];
            memset(c1, 0x55, sizeof(c1));
            ref(K4, a, brow, off, c0);
            f(K4, a, brow, off, c1);
            free(brow);
            bad = memcmp(c0, c1, sizeof(c0)) != 0;
            CHECK(!bad, "micro8 %s == c, K4=%d ldb=%d extreme=%d", level_names[level], K4, ldb, extreme);
            if (extreme && !bad) {
                /* every product at its extreme: the exact sum, no saturation */
                long long want = (long long)K4 * 4 * 255 * (iter & 2 ? -127 : 127);
                CHECK(c1[0] == want && c1[ARG_MR8 * ARG_NR8 - 1] == want, "micro8 %s extreme sum %d, want %lld",
                      level_names[level], c1[0], want);
            }
            free(a);
            free(b);
        }
    }
    if (bench) {
        int K4 = 648, ldb = 128;
        int8_t *a = calloc((size_t)K4 * ARG_MR8 * 4, 1);
        uint8_t *b = calloc((size_t)K4 * ldb * 4, 1);
        int32_t c[ARG_MR8 * ARG_NR8];
        const uint8_t **brow = malloc((size_t)K4 * sizeof(*brow));
        for (int k4 = 0; k4 < K4; k4++)
            brow[k4] = b + (size_t)k4 * ldb * 4;
        for (int level = 0; level <= 2; level++) {
            Micro8Fn f = micro8_get(level);
            if (!f)
                continue;
            int reps = level ? 4000 : 100;
            double t0 = now();
            for (int r = 0; r < reps; r++)
                f(K4, a, brow, 0, c);
            double t = now() - t0;
            printf("bench micro8 %-12s %.1f GMAC/s (one thread)\n", level_names[level],
                   (double)reps * K4 * 4 * ARG_MR8 * ARG_NR8 / t / 1e9);
        }
        free(brow);
        free(a);
        free(b);
    }
}

/* The int8 convolution written from the formula, independently of int8.c. */
static void naive_conv_int8(const ConvW *c, const float *const *src, int n_out, int h, int w, int rep,
                            float *dst)
{
    int n_in = (n_out - 1) * c->st + c->kt;
    size_t frame = (size_t)c->ci * h * w;
    float mn = 0.f, mx = 0.f;
    for (int t = 0; t < n_in; t++)
        for (size_t i = 0; i < frame; i++) {
            mn = src[t][i] < mn ? src[t][i] : mn;
            mx = src[t][i] > mx ? src[t][i] : mx;
        }
    float sa = (mx - mn) / 255.f;
    if (!(sa > 0.f))
        sa = 1.f;
    int zp = (int)rintf(-mn / sa);
    zp = zp < 0 ? 0 : zp > 255 ? 255 : zp;
    float inv = 1.f / sa;
    const int ho = conv_out_dim(h, c->ks, c->ss), wo = conv_out_dim(w, c->ks, c->ss), pad = c->ks / 2;
    for (int m = 0; m < c->co; m++) {
        const float *wm = c->w + (size_t)m * c->K;
        float amax = 0.f;
        for (int k = 0; k < c->K; k++)
            amax = fabsf(wm[k]) > amax ? fabsf(wm[k]) : amax;
        float sw = amax > 0.f ? amax / 127.f : 1.f, winv = 1.f / sw;
        int32_t wsum = 0;
        for (int k = 0; k < c->K; k++)
            wsum += (int32_t)rintf(wm[k] * winv);
        for (int o = 0; o < n_out; o++)
            for (int y = 0; y < ho; y++)
                for (int x = 0; x < wo; x++) {
                    long long acc = 0;
                    for (int k = 0; k < c->K; k++) {
                        int dx = k % c->ks, dy = k / c->ks % c->ks, dt = k / (c->ks * c->ks) % c->kt;
                        int ci = k / (c->ks * c->ks * c->kt);
                        int iy = y * c->ss + dy - pad, ix = x * c->ss + dx - pad;
                        int qv;
                        if (!rep && (iy < 0 || iy >= h || ix < 0 || ix >= w)) {
                            qv = zp;
                        } else {
                            iy = iy < 0 ? 0 : iy >= h ? h - 1 : iy;
                            ix = ix < 0 ? 0 : ix >= w ? w - 1 : ix;
                            float v = rintf(src[o * c->st + dt][((size_t)ci * h + iy) * w + ix] * inv) + (float)zp;
                            qv = v < 0.f ? 0 : v > 255.f ? 255 : (int)v;
                        }
                        acc += (long long)rintf(wm[k] * winv) * qv;
                    }
                    float bias = c->bias ? c->bias[m] : 0.f;
                    dst[(((size_t)o * c->co + m) * ho + y) * wo + x] =
                        (float)(int32_t)(acc - (long long)zp * wsum) * (sw * sa) + bias;
                }
    }
}

static void test_conv(void)
{
    KernelCtx k2, k1;
    kctx_init(&k2, 2, GEMM_INT8);
    kctx_init(&k1, 1, GEMM_INT8);
    printf("conv int8: microkernel %s\n", kctx_isa8());
    for (int iter = 0; iter < 30; iter++) {
        ConvW c = { 0 };
        c.ci = 1 + rnd() % 21;
        c.co = 1 + rnd() % 30;
        int k3 = iter % 5 != 0;
        c.kt = c.ks = k3 ? 3 : 1;
        c.st = k3 && (rnd() & 1) ? 2 : 1;
        c.ss = k3 && (rnd() & 1) ? 2 : 1;
        c.K = c.ci * c.kt * c.ks * c.ks;
        int h = 1 + rnd() % 23, w = 1 + rnd() % 41, n_out = 1 + rnd() % 3;
        int rep = rnd() & 1;
        int n_in = (n_out - 1) * c.st + c.kt;
        float *wt = rand_buf((size_t)c.co * c.K), *bias = rand_buf((size_t)c.co);
        c.w = wt;
        c.bias = (rnd() & 1) ? bias : NULL;
        CHECK(conv_pack(&c) == 0, "pack");
        float *in = rand_buf((size_t)n_in * c.ci * h * w);
        /* skewed activations (as after SiLU), so the zero point moves */
        float shift = (float)(iter % 3) * 0.4f;
        for (size_t i = 0; i < (size_t)n_in * c.ci * h * w; i++)
            in[i] = in[i] + shift;
        const float *src[16];
        for (int t = 0; t < n_in; t++)
            src[t] = in + (size_t)t * c.ci * h * w;
        if (iter % 4 == 3 && n_in > 1)
            src[1] = src[0]; /* a repeated frame (the zero frame, replicate padding) */
        int ho = conv_out_dim(h, c.ks, c.ss), wo = conv_out_dim(w, c.ks, c.ss);
        size_t no = (size_t)n_out * c.co * ho * wo;
        float *want = malloc(no * sizeof(float)), *fl = malloc(no * sizeof(float));
        float *o2 = malloc(no * sizeof(float)), *o1 = malloc(no * sizeof(float));
        naive_conv_int8(&c, src, n_out, h, w, rep, want);
        ref_conv3d(&c, src, n_out, h, w, rep, fl);
        CHECK(conv3d(&k2, &c, src, n_out, h, w, rep, o2) == 0, "conv3d int8");
        CHECK(conv3d_int8(&k1, &c, src, n_out, h, w, rep, o1) == 0, "conv3d_int8");
        CHECK(memcmp(o2, want, no * sizeof(float)) == 0,
              "int8 conv == formula, ci=%d co=%d k=%d st=%d ss=%d %dx%d rep=%d", c.ci, c.co, c.kt, c.st, c.ss,
              w, h, rep);
        CHECK(memcmp(o1, o2, no * sizeof(float)) == 0, "int8 conv: 1 thread == 2 threads");
        /* quantisation error: weights 1/254 of their range, inputs 1/510 of
         * theirs, summed over K random terms: well under 3% of the output */
        double e = rel_err(o2, fl, no);
        CHECK(e < 0.03, "int8 conv vs float ci=%d co=%d K=%d: rel err %g", c.ci, c.co, c.K, e);
        free(want);
        free(fl);
        free(o1);
        free(o2);
        free(in);
        free(wt);
        free(bias);
        free(c.wpack);
    }
    kctx_free(&k2);
    kctx_free(&k1);
}

/* the int8 path's GroupNorm against the double-precision reference */
static void test_groupnorm_fast(void)
{
    KernelCtx k;
    kctx_init(&k, 2, GEMM_INT8);
    for (int iter = 0; iter < 24; iter++) {
        int groups = 1 + rnd() % 4, c = groups * (1 + rnd() % 5), t = 1 + rnd() % 3, hw = 1 + rnd() % 700;
        size_t n = (size_t)t * c * hw;
        float *x = rand_buf(n), *ref = malloc(n * sizeof(float)), *out = malloc(n * sizeof(float));
        float off = (float)(iter % 4) * 30.f; /* a mean far from 0 */
        for (size_t i = 0; i < n; i++)
            x[i] = x[i] * (1 + iter % 3) + off;
        float *wb = rand_buf(4 * (size_t)c);
        GnParams p = { groups, 1e-6f, NULL, NULL, NULL, NULL, iter & 1, iter % 3 == 0 };
        if (iter & 2) {
            p.weight = wb;
            p.bias = wb + c;
        }
        if (iter & 4) {
            p.scale = wb + 2 * c;
            p.shift = wb + 3 * c;
        }
        memcpy(ref, x, n * sizeof(float));
        ref_groupnorm(ref, t, c, hw, &p);
        groupnorm_fast(&k, x, out, t, c, hw, &p);
        double e = rel_err(out, ref, n);
        CHECK(e < 2e-5, "groupnorm_fast t=%d c=%d hw=%d groups=%d silu=%d clip=%d: rel err %g", t, c, hw, groups,
              p.silu, p.clip_scope, e);
        /* every SIMD variant gives the same bits (same lanes, same order) */
        const char *cap = getenv("ARG_SIMD");
        char saved[32] = "";
        if (cap)
            snprintf(saved, sizeof(saved), "%s", cap);
        float *alt = malloc(n * sizeof(float));
        static const char *const caps[2] = { "generic", "avx2" };
        for (int v = 0; v < 2; v++) {
            setenv("ARG_SIMD", caps[v], 1);
            groupnorm_fast(&k, x, alt, t, c, hw, &p);
            CHECK(memcmp(alt, out, n * sizeof(float)) == 0, "groupnorm_fast %s == default", caps[v]);
        }
        if (cap)
            setenv("ARG_SIMD", saved, 1);
        else
            unsetenv("ARG_SIMD");
        free(alt);
        groupnorm_fast(&k, x, x, t, c, hw, &p); /* in place */
        CHECK(memcmp(x, out, n * sizeof(float)) == 0, "groupnorm_fast in place");
        free(x);
        free(ref);
        free(out);
        free(wb);
    }
    kctx_free(&k);
}

/* The whole decoder of a model: int8 on 1 and 2 threads bit for bit; the
 * fused int8 decoder close to the unfused one (ARG_INT8_FUSE=0), both
 * within the quantisation error of the float decoder. */
static int g_dec_threads = 2;

static int decode_all(const ArgModel *m, int gemm, const uint32_t *tok, int nlat, int w, int h, float *out)
{
    ArgSettings s;
    arg_default_settings(&s);
    s.gemm = gemm;
    s.n_threads = g_dec_threads;
    s.backend = ARG_BACKEND_CPU;
    ArgDecoder *dec;
    if (arg_decoder_open(&dec, m, &s, w, h) < 0)
        return -1;
    const ArgModelInfo *info = arg_model_info(m);
    int tw = w / info->spatial_factor, th = h / info->spatial_factor, n = 0;
    size_t pic = (size_t)3 * w * h;
    for (int l = 0; l < nlat; l++) {
        ArgTokens t = { 0 };
        t.tokens = (uint32_t *)tok + (size_t)l * tw * th;
        t.tokens_w = tw;
        t.tokens_h = th;
        t.n_pictures = l == 0 ? 1 : info->temporal_factor;
        if (arg_decoder_send_tokens(dec, &t) < 0)
            break;
        ArgPicture p;
        while (arg_decoder_get_picture(dec, &p) == 0) {
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < h; y++)
                    memcpy(out + n * pic + ((size_t)c * h + y) * w, p.data + c * p.plane_stride + y * p.stride,
                           (size_t)w * sizeof(float));
            n++;
        }
    }
    arg_decoder_close(dec);
    return n;
}

/* PSNR of a against b, values in [-1, 1] (peak-to-peak 2); 200 when equal */
static double psnr2(const float *a, const float *b, size_t n)
{
    double se = 0;
    for (size_t i = 0; i < n; i++)
        se += (double)(a[i] - b[i]) * (a[i] - b[i]);
    return se > 0 ? 10 * log10(4.0 / (se / n)) : 200.0;
}

static void test_model(const ArgModel *m, double min_float_db, double min_fused_db)
{
    const ArgModelInfo *info = arg_model_info(m);
    const int w = 12 * info->spatial_factor, h = 8 * info->spatial_factor, nlat = 3;
    size_t ntok = (size_t)nlat * (w / info->spatial_factor) * (h / info->spatial_factor);
    uint32_t *tok = malloc(ntok * sizeof(uint32_t));
    int npic = 1 + (nlat - 1) * info->temporal_factor;
    /* tokens of a moving disc on gradients, from the float encoder */
    ArgSettings s;
    arg_default_settings(&s);
    s.backend = ARG_BACKEND_CPU;
    s.gemm = ARG_GEMM_BUILTIN;
    ArgEncoder *enc;
    float *pic = malloc((size_t)3 * w * h * sizeof(float));
    int got = 0;
    if (arg_encoder_open(&enc, m, &s, w, h) == 0) {
        for (int f = 0; f <= npic; f++) {
            if (f < npic) {
                for (int c = 0; c < 3; c++)
                    for (int y = 0; y < h; y++)
                        for (int x = 0; x < w; x++) {
                            float dx = (float)(x - 20 - 3 * f), dy = (float)(y - h / 2);
                            float v = 0.8f * x / w - 0.4f + 0.3f * (c - 1) * y / h +
                                      (dx * dx + dy * dy < 150.f ? 0.6f : 0.f);
                            pic[((size_t)c * h + y) * w + x] = v;
                        }
                ArgPicture p = { pic, w, h, w, (ptrdiff_t)w * h, 0 };
                arg_encoder_send_picture(enc, &p);
            } else {
                arg_encoder_flush(enc);
            }
            ArgTokens t;
            while (arg_encoder_get_tokens(enc, &t) == 0 && got < nlat) {
                size_t nt = (size_t)t.tokens_w * t.tokens_h;
                memcpy(tok + got * nt, t.tokens, nt * sizeof(uint32_t));
                got++;
            }
        }
        arg_encoder_close(enc);
    }
    free(pic);
    CHECK(got == nlat, "encoded %d latent frames, want %d", got, nlat);
    size_t n = (size_t)npic * 3 * w * h;
    float *fl = malloc(n * sizeof(float)), *qf = malloc(n * sizeof(float));
    float *q1 = malloc(n * sizeof(float)), *q0 = malloc(n * sizeof(float));
    CHECK(decode_all(m, ARG_GEMM_BUILTIN, tok, nlat, w, h, fl) == npic, "float decode");
    CHECK(decode_all(m, ARG_GEMM_INT8, tok, nlat, w, h, qf) == npic, "int8 decode");
    g_dec_threads = 1;
    CHECK(decode_all(m, ARG_GEMM_INT8, tok, nlat, w, h, q1) == npic, "int8 decode, 1 thread");
    g_dec_threads = 2;
    CHECK(memcmp(qf, q1, n * sizeof(float)) == 0, "int8 decoder: 1 thread == 2 threads");
    setenv("ARG_INT8_FUSE", "0", 1); /* norms in full, each convolution finds its range */
    CHECK(decode_all(m, ARG_GEMM_INT8, tok, nlat, w, h, q0) == npic, "int8 decode, norms in full");
    unsetenv("ARG_INT8_FUSE");
    /* fused norms quantise with a range bound, not the exact range: close,
     * not equal */
    double p_fl = psnr2(qf, fl, n), p_q0 = psnr2(qf, q0, n), p_un = psnr2(q0, fl, n);
    printf("int8 decoder (%s, %d pictures %dx%d): fused vs float %.2f dB, unfused vs float %.2f dB, "
           "fused vs unfused %.2f dB\n", info->name, npic, w, h, p_fl, p_un, p_q0);
    CHECK(p_fl > min_float_db && p_fl < 200.0, "int8 (fused) vs float decoder: %.2f dB", p_fl);
    CHECK(p_un > min_float_db && p_un < 200.0, "int8 (norms in full) vs float decoder: %.2f dB", p_un);
    CHECK(p_q0 > min_fused_db && p_q0 < 200.0, "int8 fused vs unfused: %.2f dB", p_q0);
    free(tok);
    free(fl);
    free(qf);
    free(q0);
    free(q1);
}

/* a shipped model file (45 dB: spec/precision.md's tolerance), and random
 * weights with replicate padding (no shipped model has it: the first
 * chunk's padding frames are then the first frame, norm and all) */
static void test_models(const char *path)
{
    ArgModel *m;
    char err[256];
    if (arg_model_load(&m, path, err, sizeof(err)) < 0) {
        CHECK(0, "load %s: %s", path, err);
    } else {
        test_model(m, 45.0, 50.0);
        arg_model_free(m);
    }
    static const char cfg[] =
        "{\"in_channels\":3,\"patch_size\":2,\"base_channels\":16,\"channel_mult\":[1,2],\"enc_blocks\":[1,1],"
        "\"dec_blocks\":[1,1],\"mid_blocks\":1,\"down\":[[2,2]],\"num_groups\":4,\"norm_eps\":1e-06,"
        "\"norm_scope\":\"frame\",\"clip_frames\":17,\"padding\":\"replicate\",\"decoder_norm\":\"adaptive\",\"agn_var\":\"biased\",\"lfq_bits\":10}";
    uint8_t *file;
    size_t size;
    if (gen_model(cfg, "replicate", 7, &file, &size) < 0 || arg_model_load_memory(&m, file, size, err, sizeof(err)) < 0) {
        CHECK(0, "generated replicate model: %s", err);
        return;
    }
    test_model(m, 30.0, 40.0);
    arg_model_free(m);
    free(file);
}

int main(int argc, char **argv)
{
    int bench = argc > 1 && !strcmp(argv[1], "--bench");
    test_micro(bench);
    test_conv();
    test_groupnorm_fast();
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--model") && i + 1 < argc)
            test_models(argv[++i]);
    return check_summary();
}
