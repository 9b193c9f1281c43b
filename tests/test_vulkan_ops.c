/* Vulkan ops against the C reference, checkasm style: every shader on
 * random shapes (odd sizes, strides, kernel sizes, zero / replicate padding,
 * groups, caches and causal padding) against the plain-C kernels, relative
 * error (max |diff| / max |ref|) <= 1e-4 in fp32; tokens bit-exact.
 * Exits 77 (skipped) when no Vulkan device exists. ARG_DEVICE=N picks one.
 * With ARG_VK_VALIDATION=1 and the Khronos layer installed, any validation
 * message fails the test.
 *
 *   test_vulkan_ops [--bench]   (--bench: per-op times, CPU and Vulkan side by side) */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arg/arg.h"
#include "check.h"
#include "exec.h"
#include "kernels.h"
#include "vk.h"
#include "vk_net.h"


/* reference: the virtual sequence [nhist frames | chunk], then ref_conv3d */
static void ref_causal(const ConvW *c, const float *hist, int nhist, int pad_first, const float *chunk, int t,
                       int h, int w, int replicate, const float *res, float *dst, int n_out, const float *zero)
{
    const float *seq[64];
    size_t frame = (size_t)c->ci * h * w;
    for (int v = 0; v < nhist + t; v++)
        seq[v] = v >= nhist ? chunk + (v - nhist) * frame
               : !pad_first ? hist + v * frame
               : replicate ? chunk : zero;
    ref_conv3d(c, seq, n_out, h, w, replicate, dst);
    if (res) {
        size_t on = (size_t)n_out * c->co * conv_out_dim(h, c->ks, c->ss) * conv_out_dim(w, c->ks, c->ss);
        for (size_t i = 0; i < on; i++)
            dst[i] += res[i];
    }
}

/* The layer kinds drawn (each compiles a pipeline; shapes vary freely):
 * kt, ks, st, ss, replicate, bias, residual, causal padding. */
static const int k_kinds[16][8] = {
    { 3, 3, 1, 1, 0, 0, 0, 0 }, { 3, 3, 1, 1, 0, 0, 1, 1 }, { 3, 3, 1, 1, 1, 0, 0, 1 }, { 3, 3, 1, 1, 1, 1, 1, 0 },
    { 3, 3, 2, 2, 0, 1, 0, 0 }, { 3, 3, 2, 2, 1, 1, 0, 1 }, { 3, 3, 1, 2, 0, 1, 0, 1 }, { 3, 3, 2, 1, 1, 0, 0, 0 },
    { 1, 1, 1, 1, 0, 0, 0, 0 }, { 1, 1, 1, 1, 0, 1, 0, 0 }, { 1, 1, 1, 1, 0, 0, 1, 0 }, { 3, 1, 1, 1, 0, 1, 0, 1 },
    { 1, 3, 1, 1, 1, 0, 0, 0 }, { 3, 3, 1, 1, 0, 1, 0, 1 }, { 3, 3, 1, 1, 0, 1, 1, 0 }, { 1, 3, 1, 2, 0, 1, 1, 0 },
};

static void test_conv(VkCtx *vk, int iters, const char *variant)
{
    int shapes = 0;
    double worst = 0;
    for (int iter = 0; iter < iters; iter++) {
        const int *kd = k_kinds[iter % 16];
        ConvW c = { 0 };
        c.kt = kd[0];
        c.ks = kd[1];
        c.st = kd[2];
        c.ss = kd[3];
        int replicate = kd[4], has_bias = kd[5], has_res = kd[6], pad_first = kd[7] && c.kt > 1;
        c.ci = iter < 4 ? 1 + iter : irand(1, iter % 7 == 0 ? 100 : 40);
        c.co = iter % 9 == 0 ? irand(65, 140) : irand(1, 70);
        c.K = c.ci * c.kt * c.ks * c.ks;
        int h = irand(1, 19), w = irand(1, 23);
        if (iter % 11 == 5)
            h = 1, w = irand(30, 70);
        int t = irand(1, 5);
        int nhist = c.kt > 1 ? (c.st == 2 && !pad_first && irand(0, 1) ? 1 : c.kt - 1) : 0;
        int n = nhist + t;
        if (n < c.kt)
            t += c.kt - n, n = c.kt;
        int n_out = (n - c.kt) / c.st + 1;
        int ho = conv_out_dim(h, c.ks, c.ss), wo = conv_out_dim(w, c.ks, c.ss);
        size_t frame = (size_t)c.ci * h * w, on = (size_t)n_out * c.co * ho * wo;
        float *wt = rand_buf((size_t)c.co * c.K), *bias = rand_buf((size_t)c.co);
        c.w = wt;
        c.bias = has_bias ? bias : NULL;
        float *chunk = rand_buf((size_t)t * frame), *hist = rand_buf((size_t)(nhist ? nhist : 1) * frame);
        float *res = has_res ? rand_buf(on) : NULL, *zero = calloc(frame, sizeof(float));
        float *ref = malloc((on ? on : 1) * sizeof(float)), *got = malloc((on ? on : 1) * sizeof(float));
        ref_causal(&c, hist, nhist, pad_first, chunk, t, h, w, replicate, res, ref, n_out, zero);
        int got_out = -1;
        int rc = vkop_conv3d(vk, &c, hist, nhist, pad_first, chunk, t, h, w, replicate, res, got, &got_out, NULL);
        double e = rc == 0 ? rel_err(got, ref, on) : INFINITY;
        worst = e > worst ? e : worst;
        CHECK(rc == 0 && got_out == n_out && e <= 1e-4,
              "conv (%s) %dx%dx%d ci %d co %d stride %d,%d %dx%d t %d nhist %d%s%s%s%s: rc %d, %d frames (want %d), rel err %.3g",
              variant, c.kt, c.ks, c.ks, c.ci, c.co, c.st, c.ss, w, h, t, nhist, pad_first ? " (padding)" : "",
              replicate ? " replicate" : "", has_bias ? " bias" : "", has_res ? " +res" : "", rc, got_out, n_out, e);
        shapes++;
        free(wt);
        free(bias);
        free(chunk);
        free(hist);
        free(res);
        free(zero);
        free(ref);
        free(got);
    }
    printf("conv (%s variant): %d random shapes, worst rel err %.2e\n", variant, shapes, worst);
}

/* adaptive scale/shift as exec.c's norm_apply computes them */
static void style_affine(const Norm *n, const float *style, int Z, float *scale, float *shift)
{
    for (int ch = 0; ch < n->c; ch++) {
        float a = n->gb[ch], b = n->bb[ch];
        for (int z = 0; z < Z; z++) {
            a += n->gw[ch * Z + z] * style[z];
            b += n->bw[ch * Z + z] * style[Z + z];
        }
        scale[ch] = a;
        shift[ch] = b;
    }
}

static void test_groupnorm(VkCtx *vk)
{
    double worst = 0;
    int cases = 0;
    for (int iter = 0; iter < 40; iter++) {
        int groups = irand(1, 8), cg = irand(1, 6);
        int c = groups * cg, t = irand(1, 4);
        int hw = iter % 8 == 3 ? irand(9000, 40000) : irand(1, 300);
        int clip = irand(0, 1), silu = irand(0, 1), mode = irand(0, 2); /* none, affine, adaptive */
        int Z = irand(1, 18);
        Norm n = { c, groups, NULL, NULL, NULL, NULL, NULL, NULL };
        float *w = rand_buf((size_t)c), *b = rand_buf((size_t)c);
        float *gw = rand_buf((size_t)c * Z), *gb = rand_buf((size_t)c), *bw = rand_buf((size_t)c * Z),
              *bb = rand_buf((size_t)c);
        float style[2 * ARG_MAX_BITS], scale[64], shift[64];
        for (int z = 0; z < Z; z++) {
            style[z] = 0.5f + 0.5f * (frand() + 1.0f);
            style[Z + z] = frand();
        }
        if (mode == 1) {
            n.w = w;
            n.b = b;
        } else if (mode == 2) {
            n.gw = gw;
            n.gb = gb;
            n.bw = bw;
            n.bb = bb;
            style_affine(&n, style, Z, scale, shift);
        }
        size_t num = (size_t)t * c * hw;
        float *x = rand_buf(num), *ref = malloc(num * sizeof(float)), *got = malloc(num * sizeof(float));
        /* an offset makes the centred second pass matter */
        for (size_t i = 0; i < num; i++)
            x[i] = x[i] * 2.0f + 3.0f;
        memcpy(ref, x, num * sizeof(float));
        GnParams p = { groups, 1e-6f, n.w, n.b, mode == 2 ? scale : NULL, mode == 2 ? shift : NULL, silu, clip };
        ref_groupnorm(ref, t, c, hw, &p);
        int rc = vkop_groupnorm(vk, x, got, t, c, hw, &n, 1e-6f, clip, silu, mode == 2 ? style : NULL, Z, NULL);
        double e = rc == 0 ? rel_err(got, ref, num) : INFINITY;
        worst = e > worst ? e : worst;
        CHECK(rc == 0 && e <= 1e-4, "groupnorm t %d c %d groups %d hw %d %s %s%s: rc %d rel err %.3g", t, c, groups,
              hw, clip ? "clip" : "frame", mode == 0 ? "plain" : mode == 1 ? "affine" : "adaptive",
              silu ? " +silu" : "", rc, e);
        cases++;
        free(w);
        free(b);
        free(gw);
        free(gb);
        free(bw);
        free(bb);
        free(x);
        free(ref);
        free(got);
    }
    printf("groupnorm: %d random shapes, worst rel err %.2e\n", cases, worst);
}

static void test_moves(VkCtx *vk)
{
    int cases = 0;
    for (int iter = 0; iter < 30; iter++) {
        int t = irand(1, 3), c = irand(1, 9), h = irand(1, 13), w = irand(1, 17);
        int a = irand(1, 2), b = 1 << irand(0, 2), drop = irand(0, 1);
        size_t in = (size_t)t * c * a * b * b * h * w;
        float *x = rand_buf(in);
        int tout = t * a;
        size_t outn = (size_t)tout * c * h * b * w * b;
        float *ref = calloc(outn, sizeof(float)), *got = calloc(outn, sizeof(float));
        int rt = depth_to_space(x, t, c, h, w, a, b, drop && a == 2, ref);
        int gt = -1;
        int rc = vkop_depth_to_space(vk, x, t, c, h, w, a, b, drop, got, &gt, NULL);
        size_t cmp = (size_t)rt * c * h * b * w * b;
        CHECK(rc == 0 && gt == rt && memcmp(got, ref, cmp * sizeof(float)) == 0,
              "depth-to-space t %d c %d %dx%d a %d b %d drop %d: rc %d, %d frames (want %d) or values differ", t, c, w,
              h, a, b, drop, rc, gt, rt);
        free(x);
        free(ref);
        free(got);
        int p = 1 << irand(0, 2);
        int hh = p * irand(1, 9), ww = p * irand(1, 11);
        in = (size_t)t * c * hh * ww;
        x = rand_buf(in);
        ref = malloc(in * sizeof(float));
        got = malloc(in * sizeof(float));
        space_to_depth(x, t, c, hh, ww, p, ref);
        rc = vkop_space_to_depth(vk, x, t, c, hh, ww, p, got, NULL);
        CHECK(rc == 0 && memcmp(got, ref, in * sizeof(float)) == 0, "space-to-depth t %d c %d %dx%d p %d: rc %d", t, c,
              ww, hh, p, rc);
        free(x);
        free(ref);
        free(got);
        cases += 2;
    }
    printf("depth-to-space, space-to-depth: %d random shapes, bit-exact\n", cases);
}

static void test_lfq(VkCtx *vk)
{
    int cases = 0;
    for (int iter = 0; iter < 20; iter++) {
        int t = irand(1, 5), bits = irand(1, 24), n = irand(1, 700);
        size_t zn = (size_t)t * bits * n;
        float *z = rand_buf(zn);
        for (size_t i = 0; i < zn; i += 7)
            z[i] = (i / 7) % 3 == 0 ? 0.0f : (i / 7) % 3 == 1 ? -0.0f : 1e-30f; /* zeros are negative bits */
        uint32_t *ref = malloc((size_t)t * n * sizeof(uint32_t)), *got = malloc((size_t)t * n * sizeof(uint32_t));
        for (int f = 0; f < t; f++)
            lfq_tokens(z + (size_t)f * bits * n, bits, n, ref + (size_t)f * n);
        int rc = vkop_lfq_tokens(vk, z, t, bits, n, got, NULL);
        CHECK(rc == 0 && memcmp(ref, got, (size_t)t * n * sizeof(uint32_t)) == 0,
              "lfq tokens t %d bits %d n %d: rc %d or tokens differ", t, bits, n, rc);
        float *qref = malloc(zn * sizeof(float)), *qgot = malloc(zn * sizeof(float));
        for (int f = 0; f < t; f++)
            lfq_dequant(ref + (size_t)f * n, bits, n, qref + (size_t)f * bits * n);
        rc = vkop_dequant(vk, ref, t, bits, n, qgot, NULL);
        CHECK(rc == 0 && memcmp(qref, qgot, zn * sizeof(float)) == 0, "dequant t %d bits %d n %d: rc %d", t, bits, n, rc);
        /* style: exec_set_style on the same q is the reference */
        for (int unb = 0; unb < 2; unb++) {
            ArgModel fake;
            memset(&fake, 0, sizeof(fake));
            fake.cfg.bits = bits;
            fake.cfg.eps = 1e-6f;
            fake.cfg.agn_unbiased = unb;
            Exec e;
            memset(&e, 0, sizeof(e));
            e.m = &fake;
            exec_set_style(&e, qref, t, n);
            float st[2 * ARG_MAX_BITS], sr[2 * ARG_MAX_BITS];
            memcpy(sr, e.style_std, (size_t)bits * sizeof(float));
            memcpy(sr + bits, e.style_mean, (size_t)bits * sizeof(float));
            rc = vkop_style(vk, ref, t, bits, n, unb, 1e-6f, st, NULL);
            double er = rc == 0 ? rel_err(st, sr, 2 * (size_t)bits) : INFINITY;
            CHECK(rc == 0 && er <= 1e-5, "style t %d bits %d n %d %s: rc %d rel err %.3g", t, bits, n,
                  unb ? "unbiased" : "biased", rc, er);
        }
        cases++;
        free(z);
        free(ref);
        free(got);
        free(qref);
        free(qgot);
    }
    printf("lfq, dequant, style: %d random shapes\n", cases);
}

/* --bench: model-like layers, CPU kernels (2 threads) against the device */
static void bench(VkCtx *vk)
{
    KernelCtx k;
    int g = kctx_have_blas() ? GEMM_BLAS : GEMM_BUILTIN;
    kctx_init(&k, 2, g);
    printf("\nbench: CPU %s (2 threads) vs %s; median of 5 runs, ms\n", g == GEMM_BLAS ? "OpenBLAS" : kctx_isa(),
           vk->name);
    printf("  %-44s %10s %10s %8s %10s\n", "op", "cpu ms", "vulkan ms", "ratio", "vk GFLOP/s");
    struct { int ci, co, ks, t, h, w; } cs[] = {
        { 24, 24, 3, 4, 180, 320 }, { 48, 48, 3, 2, 90, 160 },  { 96, 96, 3, 1, 45, 80 },
        { 96, 768, 3, 1, 45, 80 },  { 24, 12, 3, 4, 180, 320 }, { 96, 18, 1, 1, 45, 80 },
    };
    for (size_t i = 0; i < sizeof(cs) / sizeof(cs[0]); i++) {
        ConvW c = { cs[i].ci, cs[i].co, cs[i].ks, cs[i].ks, 1, 1, 0, NULL, NULL, NULL };
        c.K = c.ci * c.kt * c.ks * c.ks;
        float *wt = rand_buf((size_t)c.co * c.K), *bias = rand_buf((size_t)c.co);
        c.w = wt;
        c.bias = bias;
        conv_pack(&c);
        int t = cs[i].t, h = cs[i].h, w = cs[i].w, nh = c.kt - 1;
        size_t frame = (size_t)c.ci * h * w;
        float *x = rand_buf((size_t)(t + nh) * frame), *out = malloc((size_t)t * c.co * h * w * sizeof(float));
        const float *seq[16];
        for (int f = 0; f < t + nh; f++)
            seq[f] = x + f * frame;
        double tc[5], tv[5];
        int n_out;
        for (int r = 0; r < 5; r++) {
            double t0 = now();
            conv3d(&k, &c, seq, t, h, w, 0, out);
            tc[r] = (now() - t0) * 1e3;
            vkop_conv3d(vk, &c, x, nh, 0, x + nh * frame, t, h, w, 0, NULL, out, &n_out, &tv[r]);
        }
        for (int a = 0; a < 5; a++)
            for (int b2 = a + 1; b2 < 5; b2++) {
                if (tc[b2] < tc[a]) { double s = tc[a]; tc[a] = tc[b2]; tc[b2] = s; }
                if (tv[b2] < tv[a]) { double s = tv[a]; tv[a] = tv[b2]; tv[b2] = s; }
            }
        double flop = 2.0 * t * h * w * c.co * c.K;
        char name[64];
        snprintf(name, sizeof(name), "conv %dx%dx%d %d->%d, %d x %dx%d", c.kt, c.ks, c.ks, c.ci, c.co, t, w, h);
        printf("  %-44s %10.2f %10.2f %7.2fx %10.1f\n", name, tc[2], tv[2], tc[2] / tv[2], flop / tv[2] / 1e6);
        free(c.wpack);
        free(wt);
        free(bias);
        free(x);
        free(out);
    }
    struct { int t, c, hw, silu; } gs[] = { { 4, 24, 320 * 180, 1 }, { 1, 96, 80 * 45, 1 }, { 4, 48, 640 * 360, 0 } };
    for (size_t i = 0; i < sizeof(gs) / sizeof(gs[0]); i++) {
        int t = gs[i].t, c = gs[i].c, hw = gs[i].hw;
        size_t num = (size_t)t * c * hw;
        float *x = rand_buf(num), *y = malloc(num * sizeof(float)), *w = rand_buf((size_t)c), *b = rand_buf((size_t)c);
        Norm n = { c, 8, w, b, NULL, NULL, NULL, NULL };
        GnParams p = { 8, 1e-6f, w, b, NULL, NULL, gs[i].silu, 0 };
        double tc[5], tv[5];
        for (int r = 0; r < 5; r++) {
            double t0 = now();
            groupnorm(&k, x, y, t, c, hw, &p);
            tc[r] = (now() - t0) * 1e3;
            vkop_groupnorm(vk, x, y, t, c, hw, &n, 1e-6f, 0, gs[i].silu, NULL, 18, &tv[r]);
        }
        for (int a = 0; a < 5; a++)
            for (int b2 = a + 1; b2 < 5; b2++) {
                if (tc[b2] < tc[a]) { double s = tc[a]; tc[a] = tc[b2]; tc[b2] = s; }
                if (tv[b2] < tv[a]) { double s = tv[a]; tv[a] = tv[b2]; tv[b2] = s; }
            }
        char name[64];
        snprintf(name, sizeof(name), "groupnorm%s %d ch, %d x %d px", gs[i].silu ? "+silu" : "", c, t, hw);
        printf("  %-44s %10.2f %10.2f %7.2fx\n", name, tc[2], tv[2], tc[2] / tv[2]);
        free(x);
        free(y);
        free(w);
        free(b);
    }
    {
        int t = 1, c = 96, h = 45, w = 80;
        size_t num = (size_t)t * c * 8 * h * w;
        float *x = rand_buf(num), *y = malloc(num * sizeof(float));
        double tc[5], tv[5];
        int to;
        for (int r = 0; r < 5; r++) {
            double t0 = now();
            depth_to_space_par(&k, x, t, c, h, w, 2, 2, 0, y);
            tc[r] = (now() - t0) * 1e3;
            vkop_depth_to_space(vk, x, t, c, h, w, 2, 2, 0, y, &to, &tv[r]);
        }
        for (int a = 0; a < 5; a++)
            for (int b2 = a + 1; b2 < 5; b2++) {
                if (tc[b2] < tc[a]) { double s = tc[a]; tc[a] = tc[b2]; tc[b2] = s; }
                if (tv[b2] < tv[a]) { double s = tv[a]; tv[a] = tv[b2]; tv[b2] = s; }
            }
        printf("  %-44s %10.2f %10.2f %7.2fx\n", "depth-to-space 2x2x2, 96 ch 80x45", tc[2], tv[2], tc[2] / tv[2]);
        free(x);
        free(y);
    }
    kctx_free(&k);
}

int main(int argc, char **argv)
{
    int do_bench = argc > 1 && !strcmp(argv[1], "--bench");
    char msg[256] = "";
    int device = -1;
    const char *dv = getenv("ARG_DEVICE");
    if (dv && *dv)
        device = atoi(dv);
    VkCtx *vk;
    int rc = vkctx_get(&vk, device, 1, msg, sizeof(msg));
    if (rc < 0) {
        printf("SKIP: no usable Vulkan device (%s)\n", msg);
        return 77;
    }
    printf("device: %s; validation layer %s\n", vk->name,
           vk_validation_messages() >= 0 ? "on" : "off (set ARG_VK_VALIDATION=1 with the layer installed)");
    double t0 = now();
    /* both convolution variants run here, whichever the device uses */
    int ubo = vk->conv_ubo;
    vk->conv_ubo = 0;
    test_conv(vk, 16, "tiled");
    /* the tile shapes of GPUs (BN = 128; lavapipe gets BN = 64) */
    int wide = vk->wide_tiles;
    vk->wide_tiles = !wide;
    test_conv(vk, 12, wide ? "tiled, BN 64" : "tiled, BN 128");
    vk->wide_tiles = wide;
    if (vk->props.limits.maxUniformBufferRange >= VK_UBO_RANGE) {
        vk->conv_ubo = 1;
        test_conv(vk, 32, "uniform-buffer");
    }
    vk->conv_ubo = ubo;
    double t1 = now();
    test_groupnorm(vk);
    double t2 = now();
    test_moves(vk);
    test_lfq(vk);
    printf("time: conv %.1f s, groupnorm %.1f s, others %.1f s; %d pipelines\n", t1 - t0, t2 - t1, now() - t2,
           vk->npipes);
    if (do_bench)
        bench(vk);
    vkctx_put(vk);
    int vm = vk_validation_messages();
    if (vm >= 0)
        CHECK(vm == 0, "%d validation messages", vm);
    return check_summary();
}
