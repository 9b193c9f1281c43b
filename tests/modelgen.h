/* Random-weight model files for tests, written in C (no PyTorch needed):
 * the tensors spec/model-format.md §5 lists for a configuration, with
 * deterministic random values scaled like tools/train/make_parity.py
 * (activations stay O(1), every bias and norm term is non-trivial). */
#ifndef ARG_TESTS_MODELGEN_H
#define ARG_TESTS_MODELGEN_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

typedef struct GenTensor {
    char name[128];
    int ndim;
    int64_t shape[5];
    int64_t numel;
} GenTensor;

typedef struct GenList {
    GenTensor t[1024];
    int n;
} GenList;

static void gen_add(GenList *l, const char *name, int ndim, int64_t a, int64_t b, int64_t c, int64_t d, int64_t e)
{
    if (l->n >= 1024)
        return;
    GenTensor *t = &l->t[l->n++];
    snprintf(t->name, sizeof(t->name), "%s", name);
    int64_t s[5] = { a, b, c, d, e };
    t->ndim = ndim;
    t->numel = 1;
    for (int i = 0; i < ndim; i++) {
        t->shape[i] = s[i];
        t->numel *= s[i];
    }
}

static void gen_norm(GenList *l, const char *pre, int c)
{
    char n[120];
    snprintf(n, sizeof(n), "%s.weight", pre);
    gen_add(l, n, 1, c, 0, 0, 0, 0);
    snprintf(n, sizeof(n), "%s.bias", pre);
    gen_add(l, n, 1, c, 0, 0, 0, 0);
}

static void gen_conv(GenList *l, const char *pre, int co, int ci, int k, int bias)
{
    char n[120];
    snprintf(n, sizeof(n), "%s.weight", pre);
    gen_add(l, n, 5, co, ci, k, k, k);
    if (bias) {
        snprintf(n, sizeof(n), "%s.bias", pre);
        gen_add(l, n, 1, co, 0, 0, 0, 0);
    }
}

static void gen_res(GenList *l, const char *pre, int ci, int co)
{
    char n[100];
    snprintf(n, sizeof(n), "%s.norm1", pre);
    gen_norm(l, n, ci);
    snprintf(n, sizeof(n), "%s.conv1", pre);
    gen_conv(l, n, co, ci, 3, 0);
    snprintf(n, sizeof(n), "%s.norm2", pre);
    gen_norm(l, n, co);
    snprintf(n, sizeof(n), "%s.conv2", pre);
    gen_conv(l, n, co, co, 3, 0);
    if (ci != co) {
        snprintf(n, sizeof(n), "%s.nin_shortcut", pre);
        gen_conv(l, n, co, ci, 1, 0);
    }
}

static void gen_tensors(const ArgConfig *c, GenList *l)
{
    char n[80];
    int P = c->in_channels * c->patch * c->patch, Z = c->bits, L = c->levels, C = c->base;
    int ch = C * c->mult[0];
    gen_conv(l, "encoder.conv_in", ch, P, 3, 0);
    for (int lv = 0; lv < L; lv++) {
        int co = C * c->mult[lv];
        for (int b = 0; b < c->enc_blocks[lv]; b++) {
            snprintf(n, sizeof(n), "encoder.down.%d.block.%d", lv, b);
            gen_res(l, n, ch, co);
            ch = co;
        }
        if (lv + 1 < L && (c->down_t[lv] > 1 || c->down_s[lv] > 1)) {
            snprintf(n, sizeof(n), "encoder.down.%d.downsample", lv);
            gen_conv(l, n, ch, ch, 3, 1);
        }
    }
    for (int k = 0; k < c->mid_blocks; k++) {
        snprintf(n, sizeof(n), "encoder.mid.%d", k);
        gen_res(l, n, ch, ch);
    }
    gen_norm(l, "encoder.norm_out", ch);
    gen_conv(l, "encoder.conv_out", Z, ch, 1, 1);
    ch = C * c->mult[L - 1];
    gen_conv(l, "decoder.conv_in", ch, Z, 3, 1);
    for (int k = 0; k < c->mid_blocks; k++) {
        snprintf(n, sizeof(n), "decoder.mid.%d", k);
        gen_res(l, n, ch, ch);
    }
    for (int lv = L - 1; lv >= 0; lv--) {
        if (c->adaptive) {
            snprintf(n, sizeof(n), "decoder.up.%d.norm.gamma.weight", lv);
            gen_add(l, n, 2, ch, Z, 0, 0, 0);
            snprintf(n, sizeof(n), "decoder.up.%d.norm.gamma.bias", lv);
            gen_add(l, n, 1, ch, 0, 0, 0, 0);
            snprintf(n, sizeof(n), "decoder.up.%d.norm.beta.weight", lv);
            gen_add(l, n, 2, ch, Z, 0, 0, 0);
            snprintf(n, sizeof(n), "decoder.up.%d.norm.beta.bias", lv);
            gen_add(l, n, 1, ch, 0, 0, 0, 0);
        } else {
            snprintf(n, sizeof(n), "decoder.up.%d.norm", lv);
            gen_norm(l, n, ch);
        }
        int co = C * c->mult[lv];
        for (int b = 0; b < c->dec_blocks[lv]; b++) {
            snprintf(n, sizeof(n), "decoder.up.%d.block.%d", lv, b);
            gen_res(l, n, ch, co);
            ch = co;
        }
        if (lv > 0 && (c->down_t[lv - 1] > 1 || c->down_s[lv - 1] > 1)) {
            int a = c->down_t[lv - 1], b = c->down_s[lv - 1];
            snprintf(n, sizeof(n), "decoder.up.%d.upsample", lv);
            gen_conv(l, n, ch * a * b * b, ch, 3, 1);
        }
    }
    gen_norm(l, "decoder.norm_out", ch);
    gen_conv(l, "decoder.conv_out", P, ch, 3, 1);
}

static uint64_t gen_rng;

static double gen_normal(void)
{
    /* Box-Muller over a xorshift64 */
    double u[2];
    for (int i = 0; i < 2; i++) {
        gen_rng ^= gen_rng << 13;
        gen_rng ^= gen_rng >> 7;
        gen_rng ^= gen_rng << 17;
        u[i] = ((gen_rng >> 11) + 0.5) / 9007199254740992.0;
    }
    return sqrt(-2.0 * log(u[0])) * cos(6.283185307179586 * u[1]);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* A model file (safetensors bytes, malloc'd) for cfg_json with random
 * weights from seed. Returns 0 or -1. */
static int gen_model(const char *cfg_json, const char *name, uint64_t seed, uint8_t **out, size_t *size)
{
    ArgConfig cfg;
    char err[256];
    if (config_parse(&cfg, cfg_json, err, sizeof(err)) < 0) {
        fprintf(stderr, "modelgen: %s\n", err);
        return -1;
    }
    GenList *l = calloc(1, sizeof(*l));
    if (!l)
        return -1;
    gen_tensors(&cfg, l);
    size_t hcap = 256 + (size_t)l->n * 200 + 2 * strlen(cfg_json), hn = 0;
    char *h = malloc(hcap);
    int64_t off = 0;
    hn += (size_t)snprintf(h + hn, hcap - hn, "{\"__metadata__\":{\"format\":\"arg-model\",\"format_version\":\"1\","
                                               "\"name\":\"%s\",\"config\":\"",
                           name);
    for (const char *p = cfg_json; *p; p++) {
        if (*p == '"' || *p == '\\')
            h[hn++] = '\\';
        h[hn++] = *p;
    }
    hn += (size_t)snprintf(h + hn, hcap - hn, "\"}");
    for (int i = 0; i < l->n; i++) {
        const GenTensor *t = &l->t[i];
        hn += (size_t)snprintf(h + hn, hcap - hn, ",\"%s\":{\"dtype\":\"F32\",\"shape\":[", t->name);
        for (int d = 0; d < t->ndim; d++)
            hn += (size_t)snprintf(h + hn, hcap - hn, "%s%lld", d ? "," : "", (long long)t->shape[d]);
        hn += (size_t)snprintf(h + hn, hcap - hn, "],\"data_offsets\":[%lld,%lld]}", (long long)off,
                               (long long)(off + t->numel * 4));
        off += t->numel * 4;
    }
    hn += (size_t)snprintf(h + hn, hcap - hn, "}");
    while (hn % 8)
        h[hn++] = ' ';
    *size = 8 + hn + (size_t)off;
    uint8_t *b = malloc(*size);
    uint64_t hl = hn;
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(hl >> (8 * i));
    memcpy(b + 8, h, hn);
    free(h);
    float *d = (float *)(void *)(b + 8 + hn); /* 8 + hn is a multiple of 8 */
    gen_rng = seed * 0x9E3779B97F4A7C15ull + 1;
    int Z = cfg.bits;
    for (int i = 0; i < l->n; i++) {
        const GenTensor *t = &l->t[i];
        for (int64_t k = 0; k < t->numel; k++) {
            double v = gen_normal();
            if (ends_with(t->name, ".gamma.weight") || ends_with(t->name, ".beta.weight"))
                v *= 0.3 / sqrt((double)Z);
            else if (ends_with(t->name, ".gamma.bias"))
                v = 1.0 + 0.1 * v;
            else if (t->ndim == 5) {
                double fan = (double)(t->shape[1] * t->shape[2] * t->shape[3] * t->shape[4]);
                double gain = ends_with(t->name, ".conv2.weight") || !strcmp(t->name, "decoder.conv_out.weight") ? 0.5 : 1.0;
                v *= gain / sqrt(fan);
            } else if (ends_with(t->name, ".weight"))
                v = 1.0 + 0.1 * v;
            else
                v *= 0.1;
            d[k] = (float)v;
        }
        d += t->numel;
    }
    free(l);
    *out = b;
    return 0;
}

#endif
