/* Op-level tests: every fast kernel against its plain-C reference or a naive
 * loop, on random shapes (odd sizes included); parsers against bad input.
 * Prints "N passed, M failed". With --bench, also times each conv path. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arg/arg.h"
#include "check.h"
#include "json.h"
#include "kernels.h"
#include "model.h"
#include "safetensors.h"



static void test_conv(int bench)
{
    KernelCtx kb, kb1, kbl;
    kctx_init(&kb, 2, GEMM_BUILTIN);
    kctx_init(&kb1, 1, GEMM_BUILTIN);
    int have_blas = kctx_init(&kbl, 2, GEMM_BLAS) == 0;
    printf("conv: builtin microkernel %s, BLAS %s\n", kctx_isa(), have_blas ? "yes" : "no");
    for (int iter = 0; iter < 40; iter++) {
        ConvW c = { 0 };
        c.ci = 1 + rnd() % 13;
        c.co = 1 + rnd() % 20;
        int k3 = iter % 5 != 0;
        c.kt = c.ks = k3 ? 3 : 1;
        c.st = k3 && (rnd() & 1) ? 2 : 1;
        c.ss = k3 && (rnd() & 1) ? 2 : 1;
        c.K = c.ci * c.kt * c.ks * c.ks;
        int h = 1 + rnd() % 23, w = 1 + rnd() % 37, n_out = 1 + rnd() % 3;
        int rep = rnd() & 1;
        int n_in = (n_out - 1) * c.st + c.kt;
        float *wt = rand_buf((size_t)c.co * c.K), *bias = rand_buf((size_t)c.co);
        c.w = wt;
        c.bias = (rnd() & 1) ? bias : NULL;
        conv_pack(&c);
        float *in = rand_buf((size_t)n_in * c.ci * h * w);
        const float *src[16];
        for (int t = 0; t < n_in; t++)
            src[t] = in + (size_t)t * c.ci * h * w;
        int ho = conv_out_dim(h, c.ks, c.ss), wo = conv_out_dim(w, c.ks, c.ss);
        size_t no = (size_t)n_out * c.co * ho * wo;
        float *ref = malloc(no * sizeof(float)), *out = malloc(no * sizeof(float));
        ref_conv3d(&c, src, n_out, h, w, rep, ref);
        conv3d(&kb, &c, src, n_out, h, w, rep, out);
        double e = rel_err(out, ref, no);
        CHECK(e < 1e-5, "conv builtin ci=%d co=%d k=%d st=%d ss=%d %dx%d rep=%d: rel err %g", c.ci,
              c.co, c.kt, c.st, c.ss, w, h, rep, e);
        conv3d(&kb1, &c, src, n_out, h, w, rep, out);
        e = rel_err(out, ref, no);
        CHECK(e < 1e-5, "conv builtin 1 thread: rel err %g", e);
        if (have_blas) {
            conv3d(&kbl, &c, src, n_out, h, w, rep, out);
            e = rel_err(out, ref, no);
            CHECK(e < 1e-5, "conv blas ci=%d co=%d: rel err %g", c.ci, c.co, e);
        }
        /* the reference itself against a literal formula at a few points */
        for (int probe = 0; probe < 5; probe++) {
            int o = rnd() % n_out, m = rnd() % c.co, y = rnd() % ho, x = rnd() % wo;
            double acc = c.bias ? c.bias[m] : 0;
            for (int ci = 0; ci < c.ci; ci++)
                for (int dt = 0; dt < c.kt; dt++)
                    for (int dy = 0; dy < c.ks; dy++)
                        for (int dx = 0; dx < c.ks; dx++) {
                            int iy = y * c.ss + dy - c.ks / 2, ix = x * c.ss + dx - c.ks / 2;
                            if (rep) {
                                iy = iy < 0 ? 0 : iy >= h ? h - 1 : iy;
                                ix = ix < 0 ? 0 : ix >= w ? w - 1 : ix;
                            } else if (iy < 0 || iy >= h || ix < 0 || ix >= w) {
                                continue;
                            }
                            acc += (double)wt[(((m * c.ci + ci) * c.kt + dt) * c.ks + dy) * c.ks + dx] *
                                   in[(((size_t)(o * c.st + dt) * c.ci + ci) * h + iy) * w + ix];
                        }
            float got = ref[(((size_t)o * c.co + m) * ho + y) * wo + x];
            CHECK(fabs(got - acc) <= 1e-4 * (1 + fabs(acc)), "ref conv probe: %g vs %g", got, acc);
        }
        free(c.wpack);
        free(wt);
        free(bias);
        free(in);
        free(ref);
        free(out);
    }
    if (bench) {
        /* a compact-profile layer: 64 -> 64 channels, 3x3x3, 160x96 */
        ConvW c = { 64, 64, 3, 3, 1, 1, 64 * 27, NULL, NULL, NULL };
        int h = 96, w = 160, n_out = 4;
        float *wt = rand_buf((size_t)c.co * c.K), *in = rand_buf((size_t)(n_out + 2) * c.ci * h * w);
        c.w = wt;
        conv_pack(&c);
        const float *src[8];
        for (int t = 0; t < n_out + 2; t++)
            src[t] = in + (size_t)t * c.ci * h * w;
        float *out = malloc((size_t)n_out * c.co * h * w * sizeof(float));
        double macs = (double)n_out * c.co * h * w * c.K;
        KernelCtx *ks[3] = { &kb1, &kb, have_blas ? &kbl : NULL };
        const char *names[3] = { "builtin 1 thread", "builtin 2 threads", "blas 2 threads" };
        for (int i = 0; i < 3; i++) {
            if (!ks[i])
                continue;
            double best = 1e9;
            for (int r = 0; r < 5; r++) {
                double t0 = now();
                conv3d(ks[i], &c, src, n_out, h, w, 0, out);
                double t1 = now() - t0;
                best = t1 < best ? t1 : best;
            }
            printf("bench conv 64->64 3x3x3 %dx%dx%d %-18s %7.2f ms  %6.1f GMAC/s\n", n_out, w, h,
                   names[i], best * 1e3, macs / best / 1e9);
        }
        double t0 = now();
        ref_conv3d(&c, src, 1, h, w, 0, out);
        double t1 = now() - t0;
        printf("bench conv reference (1 frame)          %7.2f ms  %6.2f GMAC/s\n", t1 * 1e3,
               macs / n_out / t1 / 1e9);
        free(c.wpack);
        free(wt);
        free(in);
        free(out);
    }
    kctx_free(&kb);
    kctx_free(&kb1);
    if (have_blas)
        kctx_free(&kbl);
}

static void test_groupnorm(void)
{
    KernelCtx k;
    kctx_init(&k, 2, GEMM_BUILTIN);
    for (int iter = 0; iter < 30; iter++) {
        int t = 1 + rnd() % 4, c = 1 + rnd() % 24, hw = 1 + rnd() % 300;
        int g = 1 + rnd() % c;
        while (c % g)
            g--;
        float *w = rand_buf((size_t)c), *b = rand_buf((size_t)c), *sc = rand_buf((size_t)c),
              *sh = rand_buf((size_t)c);
        GnParams p = { g, 1e-6f, (iter & 1) ? w : NULL, (iter & 1) ? b : NULL,
                       (iter & 2) ? sc : NULL, (iter & 2) ? sh : NULL, (iter >> 2) & 1, (iter >> 3) & 1 };
        size_t n = (size_t)t * c * hw;
        float *x = rand_buf(n), *y = malloc(n * sizeof(float));
        for (size_t i = 0; i < n; i++)
            x[i] = x[i] * 3 + 0.5f; /* non-zero mean */
        memcpy(y, x, n * sizeof(float));
        /* naive: the textbook formula straight from the definition */
        float *naive = malloc(n * sizeof(float));
        int cg = c / g, nf = p.clip_scope ? t : 1;
        for (int f0 = 0; f0 < t; f0 += nf)
            for (int gi = 0; gi < g; gi++) {
                double s = 0, s2 = 0, cnt = (double)nf * cg * hw;
                for (int f = f0; f < f0 + nf; f++)
                    for (int ch = gi * cg; ch < gi * cg + cg; ch++)
                        for (int i = 0; i < hw; i++)
                            s += x[((size_t)f * c + ch) * hw + i];
                for (int f = f0; f < f0 + nf; f++)
                    for (int ch = gi * cg; ch < gi * cg + cg; ch++)
                        for (int i = 0; i < hw; i++) {
                            double d = x[((size_t)f * c + ch) * hw + i] - s / cnt;
                            s2 += d * d;
                        }
                for (int f = f0; f < f0 + nf; f++)
                    for (int ch = gi * cg; ch < gi * cg + cg; ch++)
                        for (int i = 0; i < hw; i++) {
                            size_t at = ((size_t)f * c + ch) * hw + i;
                            double v = (x[at] - s / cnt) / sqrt(s2 / cnt + 1e-6);
                            if (p.weight)
                                v = v * w[ch] + b[ch];
                            if (p.scale)
                                v = v * sc[ch] + sh[ch];
                            if (p.silu)
                                v = v / (1 + exp(-v));
                            naive[at] = (float)v;
                        }
            }
        float *y2 = malloc(n * sizeof(float));
        groupnorm(&k, x, y2, t, c, hw, &p); /* out of place */
        ref_groupnorm(x, t, c, hw, &p);
        groupnorm(&k, y, y, t, c, hw, &p);  /* in place */
        double e1 = rel_err(x, naive, n), e2 = rel_err(y, naive, n), e3 = rel_err(y2, naive, n);
        CHECK(e1 < 1e-5 && e2 < 1e-5 && e3 < 1e-5,
              "groupnorm t=%d c=%d g=%d hw=%d flags=%d: ref %g fast %g out-of-place %g", t, c, g, hw,
              iter, e1, e2, e3);
        free(y2);
        free(w);
        free(b);
        free(sc);
        free(sh);
        free(x);
        free(y);
        free(naive);
    }
    kctx_free(&k);
}

static void test_reshapes(void)
{
    for (int iter = 0; iter < 12; iter++) {
        int t = 1 + rnd() % 3, c = 1 + rnd() % 5, h = 1 + rnd() % 7, w = 1 + rnd() % 9;
        int a = 1 + (iter & 1), b = 1 + ((iter >> 1) & 1) + (iter % 5 == 0 ? 2 : 0);
        int drop = a == 2 && (iter & 4);
        size_t n = (size_t)t * c * a * b * b * h * w;
        float *x = rand_buf(n), *y = malloc(n * sizeof(float));
        int to = depth_to_space(x, t, c, h, w, a, b, drop, y);
        CHECK(to == t * a - drop, "d2s frame count %d", to);
        {
            KernelCtx k2;
            kctx_init(&k2, 2, GEMM_BUILTIN);
            float *y2 = malloc(n * sizeof(float));
            int to2 = depth_to_space_par(&k2, x, t, c, h, w, a, b, drop, y2);
            CHECK(to2 == to && memcmp(y2, y, (size_t)to * c * h * b * w * b * sizeof(float)) == 0,
                  "threaded d2s differs (a=%d b=%d drop=%d)", a, b, drop);
            free(y2);
            kctx_free(&k2);
        }
        int bad = 0;
        for (int f = 0; f < to; f++) {
            int fi = drop && f > 0 ? f + 1 : f; /* index in the undropped output */
            int tf = fi / a, i = fi % a;
            for (int ch = 0; ch < c; ch++)
                for (int y0 = 0; y0 < h * b; y0++)
                    for (int x0 = 0; x0 < w * b; x0++) {
                        int jy = y0 % b, kx = x0 % b;
                        float want = x[(((size_t)tf * c * a * b * b + ((i * b + jy) * b + kx) * c + ch) * h +
                                        y0 / b) * w + x0 / b];
                        float got = y[(((size_t)f * c + ch) * h * b + y0) * w * b + x0];
                        bad += want != got;
                    }
        }
        CHECK(bad == 0, "d2s a=%d b=%d drop=%d: %d mismatches", a, b, drop, bad);
        /* space-to-depth inverts depth-to-space with a = 1 */
        if (a == 1) {
            float *z = malloc(n * sizeof(float));
            space_to_depth(y, t, c, h * b, w * b, b, z);
            CHECK(memcmp(z, x, n * sizeof(float)) == 0, "s2d(d2s(x)) != x for b=%d", b);
            free(z);
        }
        free(x);
        free(y);
    }
    /* LFQ */
    int bits = 18, n = 257;
    float *z = rand_buf((size_t)bits * n), *q = malloc((size_t)bits * n * sizeof(float));
    uint32_t *tok = malloc((size_t)n * sizeof(uint32_t));
    z[0] = 0.f; /* exactly zero quantises to bit 0 */
    lfq_tokens(z, bits, n, tok);
    lfq_dequant(tok, bits, n, q);
    int bad = 0;
    for (int bt = 0; bt < bits; bt++)
        for (int i = 0; i < n; i++) {
            float want = z[bt * n + i] > 0 ? 1.f : -1.f;
            bad += q[bt * n + i] != want || (int)((tok[i] >> bt) & 1) != (z[bt * n + i] > 0);
        }
    CHECK(bad == 0 && tok[0] < (1u << bits) && !(tok[0] & 1), "lfq round trip: %d mismatches", bad);
    free(z);
    free(q);
    free(tok);
}

static void test_json(void)
{
    const char *good[] = { "{}", "[1,2.5,-3e2,true,false,null,\"a\\u00e9\\n\"]", " {\"a\":{\"b\":[]}} " };
    const char *bad[] = { "", "{", "{\"a\":1,}", "[1 2]", "{\"a\":1,\"a\":2}", "\"\\x\"", "01",
                          "[1e999]", "{\"a\":\"\\ud800\"}", "[]]", "nul", "\"abc",
                          "{\"b\":1,\"a\":2,\"c\":3,\"a\":4}", "{\"x\":{\"a\":1,\"b\":2,\"a\":3}}" };
    char err[200];
    for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++) {
        JsonValue *v = json_parse(good[i], strlen(good[i]), err, sizeof(err));
        CHECK(v != NULL, "json should parse: %s (%s)", good[i], err);
        json_free(v);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        JsonValue *v = json_parse(bad[i], strlen(bad[i]), err, sizeof(err));
        CHECK(v == NULL, "json should be rejected: %s", bad[i]);
        json_free(v);
    }
    char deep[200];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    JsonValue *v = json_parse(deep, 200, err, sizeof(err));
    CHECK(v == NULL, "json nesting 100 must be rejected");
    json_free(v);
    /* a wide object: distinct names parse, one repeated name anywhere is
     * refused, in well under a second (the duplicate check is not
     * quadratic: that took about a minute here) */
    {
        const int nk = 300000;
        char *wide = malloc((size_t)nk * 24 + 16);
        size_t wn = 0;
        wide[wn++] = '{';
        for (int i = 0; i < nk; i++)
            wn += (size_t)sprintf(wide + wn, "%s\"k%07d\":%d", i ? "," : "", (int)((long long)i * 7919 % nk), i);
        wide[wn++] = '}';
        clock_t c0 = clock();
        v = json_parse(wide, wn, err, sizeof(err));
        CHECK(v && v->len == (size_t)nk, "json: %d distinct members must parse (%s)", nk, v ? "" : err);
        json_free(v);
        memcpy(wide + 2, "k0000005", 8); /* the first name repeats a later one */
        v = json_parse(wide, wn, err, sizeof(err));
        CHECK(!v && strstr(err, "duplicate member \"k0000005\""), "json: a repeated member name among %d must be refused (%s)",
              nk, v ? "parsed" : err);
        json_free(v);
        double cpu = (double)(clock() - c0) / CLOCKS_PER_SEC;
        CHECK(cpu < 10.0, "json: two parses of %d members took %.1f s of CPU", nk, cpu);
        free(wide);
    }
    CHECK(st_half_to_float(0x3C00) == 1.0f && st_half_to_float(0xC000) == -2.0f &&
              st_half_to_float(0x0001) == 5.9604644775390625e-08f && st_half_to_float(0x7BFF) == 65504.0f,
          "f16 conversion");
}

/* Build a safetensors file from a header string and a data blob. */
static uint8_t *mkfile(const char *hdr, size_t datalen, size_t *size)
{
    size_t n = strlen(hdr);
    *size = 8 + n + datalen;
    uint8_t *b = calloc(1, *size);
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)((uint64_t)n >> (8 * i));
    memcpy(b + 8, hdr, n);
    return b;
}

static void expect_reject(const uint8_t *buf, size_t size, const char *what, const char *needle)
{
    ArgModel *m = NULL;
    char err[512] = "";
    int rc = arg_model_load_memory(&m, buf, size, err, sizeof(err));
    CHECK(rc < 0 && m == NULL && (!needle || strstr(err, needle)), "%s: rc=%d err=\"%s\" (want \"%s\")",
          what, rc, err, needle ? needle : "");
    arg_model_free(m);
}

static void test_model_files(const char *model_path)
{
    size_t size;
    uint8_t *b;
    b = mkfile("{}", 0, &size);
    expect_reject(b, size, "no metadata", "arg-model");
    expect_reject(b, 5, "too short", "short");
    b[0] = 0xFF;
    expect_reject(b, size, "header size too large", "header size");
    free(b);
    b = mkfile("{\"x\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8, &size);
    expect_reject(b, size, "F64", "dtype");
    free(b);
    b = mkfile("{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, &size);
    expect_reject(b, size, "size mismatch", "byte size");
    free(b);
    b = mkfile("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 12, &size);
    expect_reject(b, size, "gap at end", "gap");
    free(b);
    b = mkfile("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
               "\"y\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, &size);
    expect_reject(b, size, "overlap", "gap or overlap");
    free(b);
    b = mkfile("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,99999999999]}}", 8, &size);
    expect_reject(b, size, "offset past end", "beyond");
    free(b);
    b = mkfile("{\"x\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}", 0, &size);
    expect_reject(b, size, "zero dim", "dimension");
    free(b);
    b = mkfile("{\"__metadata__\":{\"format\":\"arg-model\",\"format_version\":\"2\"}}", 0, &size);
    expect_reject(b, size, "version 2", "format_version");
    free(b);
    b = mkfile("{\"__metadata__\":{\"format\":\"arg-model\",\"format_version\":\"1\",\"config\":\"{\\\"in_channels\\\":3}\"}}",
               0, &size);
    expect_reject(b, size, "incomplete config", "config");
    free(b);

    /* Mutations of a real model file (written by the PyTorch twin). */
    if (!model_path)
        return;
    uint8_t *orig;
    size_t osize;
    char err[512];
    if (st_read_file(model_path, &orig, &osize, (size_t)1 << 30, err, sizeof(err)) < 0) {
        CHECK(0, "cannot read %s: %s", model_path, err);
        return;
    }
    ArgModel *m = NULL;
    int rc = arg_model_load_memory(&m, orig, osize, err, sizeof(err));
    CHECK(rc == 0, "valid model loads: %s", err);
    if (m) {
        const ArgModelInfo *in = arg_model_info(m);
        CHECK(in->id == arg_hash64(orig + 8 + (orig[0] | orig[1] << 8 | orig[2] << 16), osize - 8 -
                                   (orig[0] | orig[1] << 8 | orig[2] << 16)),
              "model id is XXH3 of the data section");
        arg_model_free(m);
    }
    expect_reject(orig, osize - 4, "truncated model", "beyond");
    uint8_t *mut = malloc(osize);
    /* replace substrings of the same length in the header */
    struct { const char *from, *to, *needle; } muts[] = {
        { "\"F32\"", "\"I32\"", "dtype" },
        { "encoder.conv_in.weight", "encoder.conv_in.weighx", "missing tensor" },
        { "\\\"lfq_bits\\\": 18", "\\\"lfq_bits\\\": 17", "shape" },
        { "\\\"lfq_bits\\\":18", "\\\"lfq_bits\\\":17", "shape" },
        { "arg-model", "arg-modex", "arg-model" },
        { "\\\"norm_scope\\\"", "\\\"norm_scopf\\\"", "unknown field" },
    };
    size_t hdr = orig[0] | orig[1] << 8 | orig[2] << 16;
    for (size_t i = 0; i < sizeof(muts) / sizeof(*muts); i++) {
        memcpy(mut, orig, osize);
        char *h = (char *)mut + 8;
        char *at = NULL;
        size_t fl = strlen(muts[i].from);
        for (size_t p = 0; p + fl <= hdr; p++)
            if (memcmp(h + p, muts[i].from, fl) == 0) {
                at = h + p;
                break;
            }
        if (!at)
            continue; /* that spelling is not in this file */
        memcpy(at, muts[i].to, fl);
        expect_reject(mut, osize, muts[i].from, muts[i].needle);
    }
    free(mut);
    free(orig);
}

int main(int argc, char **argv)
{
    int bench = 0;
    const char *model = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--bench"))
            bench = 1;
        else
            model = argv[i];
    }
    test_conv(bench);
    test_groupnorm();
    test_reshapes();
    test_json();
    test_model_files(model);
    return check_summary();
}
