/* Random-weight ARG-Poet model files for tests, written in C (no PyTorch
 * needed): every tensor spec/poet.md §2 lists for a configuration, with
 * deterministic random values (activations stay O(1); biases, the relative
 * bias, LayerNorm affine and the bit-to-bit weights are non-trivial). */
#ifndef ARG_TESTS_POETGEN_H
#define ARG_TESTS_POETGEN_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct PoetGenCfg {
    int B, d, L, h, m, K, w, D;
} PoetGenCfg;

typedef struct PoetGenT {
    char name[64];
    int ndim;
    int64_t shape[3];
    int64_t numel;
} PoetGenT;

static int pg_list(const PoetGenCfg *c, PoetGenT *t, int max)
{
    int n = 0;
#define PG(nm_, nd_, a_, b_, c_)                                       \
    do {                                                               \
        if (n < max) {                                                 \
            snprintf(t[n].name, sizeof(t[n].name), "%s", (nm_));       \
            t[n].ndim = (nd_);                                         \
            t[n].shape[0] = (a_);                                      \
            t[n].shape[1] = (b_);                                      \
            t[n].shape[2] = (c_);                                      \
            t[n].numel = (int64_t)(a_) * ((nd_) > 1 ? (b_) : 1) * ((nd_) > 2 ? (c_) : 1); \
            n++;                                                       \
        }                                                              \
    } while (0)
    char nm[64];
    PG("in.cur", 2, c->d, c->B, 0);
    PG("in.cur_bias", 1, c->d, 0, 0);
    PG("in.mask", 1, c->d, 0, 0);
    for (int k = 0; k < c->K; k++) {
        snprintf(nm, sizeof(nm), "in.past.%d", k);
        PG(nm, 2, c->d, c->B, 0);
    }
    PG("in.past_none", 2, c->K, c->d, 0);
    PG("in.anchor", 2, c->d, c->B, 0);
    PG("in.anchor_dist", 2, c->D, c->d, 0);
    PG("in.anchor_none", 1, c->d, 0, 0);
    PG("in.task", 2, 4, c->d, 0);
    PG("in.key", 2, 2, c->d, 0);
    for (int l = 0; l < c->L; l++) {
        static const char *const s1[] = { "ln1.weight", "ln1.bias", "attn.qkv.bias", "attn.out.bias",
                                          "ln2.weight", "ln2.bias", "mlp.fc1.bias", "mlp.fc2.bias" };
        for (size_t i = 0; i < sizeof(s1) / sizeof(s1[0]); i++) {
            snprintf(nm, sizeof(nm), "blk.%d.%s", l, s1[i]);
            int len = !strcmp(s1[i], "attn.qkv.bias") ? 3 * c->d : !strcmp(s1[i], "mlp.fc1.bias") ? c->m : c->d;
            PG(nm, 1, len, 0, 0);
        }
        snprintf(nm, sizeof(nm), "blk.%d.attn.qkv.weight", l);
        PG(nm, 2, 3 * c->d, c->d, 0);
        snprintf(nm, sizeof(nm), "blk.%d.attn.rel", l);
        PG(nm, 3, c->h, c->w, c->w);
        snprintf(nm, sizeof(nm), "blk.%d.attn.out.weight", l);
        PG(nm, 2, c->d, c->d, 0);
        snprintf(nm, sizeof(nm), "blk.%d.mlp.fc1.weight", l);
        PG(nm, 2, c->m, c->d, 0);
        snprintf(nm, sizeof(nm), "blk.%d.mlp.fc2.weight", l);
        PG(nm, 2, c->d, c->m, 0);
    }
    PG("out.ln.weight", 1, c->d, 0, 0);
    PG("out.ln.bias", 1, c->d, 0, 0);
    PG("out.bits.weight", 2, c->B, c->d, 0);
    PG("out.bits.bias", 1, c->B, 0, 0);
    PG("out.bits.ar", 2, c->B, c->B, 0);
#undef PG
    return n;
}

static uint64_t pg_rng;
static double pg_normal(void)
{
    double u[2];
    for (int i = 0; i < 2; i++) {
        pg_rng ^= pg_rng << 13;
        pg_rng ^= pg_rng >> 7;
        pg_rng ^= pg_rng << 17;
        u[i] = ((pg_rng >> 11) + 0.5) / 9007199254740992.0;
    }
    return sqrt(-2.0 * log(u[0])) * cos(6.283185307179586 * u[1]);
}

static int pg_ends(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

/* The file's bytes (malloc'd). tokenizer_id: 16 hex digits. extra_meta: ""
 * or ",\"key\":\"value\"..." appended to __metadata__ (tests of the loader);
 * cfg_override: NULL or the config JSON to store instead of c's. */
static int poet_gen(const PoetGenCfg *c, const char *tokenizer_id, uint64_t seed, const char *cfg_override,
                    uint8_t **out, size_t *size)
{
    PoetGenT *t = calloc(1024, sizeof(*t));
    if (!t)
        return -1;
    int n = pg_list(c, t, 1024);
    char cfg[512];
    if (cfg_override)
        snprintf(cfg, sizeof(cfg), "%s", cfg_override);
    else
        snprintf(cfg, sizeof(cfg),
                 "{\"token_bits\":%d,\"dim\":%d,\"layers\":%d,\"heads\":%d,\"mlp\":%d,\"context\":%d,"
                 "\"window\":%d,\"anchor_max\":%d,\"ln_eps\":1e-05}",
                 c->B, c->d, c->L, c->h, c->m, c->K, c->w, c->D);
    size_t hcap = 1024 + (size_t)n * 160, hn = 0;
    char *h = malloc(hcap);
    if (!h) {
        free(t);
        return -1;
    }
    hn += (size_t)snprintf(h + hn, hcap - hn,
                           "{\"__metadata__\":{\"format\":\"arg-poet\",\"format_version\":\"1\",\"name\":\"poet-test\","
                           "\"tokenizer_id\":\"%s\",\"tokenizer_name\":\"arg-test\",\"config\":\"",
                           tokenizer_id);
    for (const char *p = cfg; *p; p++) {
        if (*p == '"' || *p == '\\')
            h[hn++] = '\\';
        h[hn++] = *p;
    }
    hn += (size_t)snprintf(h + hn, hcap - hn, "\"}");
    int64_t off = 0;
    for (int i = 0; i < n; i++) {
        hn += (size_t)snprintf(h + hn, hcap - hn, ",\"%s\":{\"dtype\":\"F32\",\"shape\":[", t[i].name);
        for (int d = 0; d < t[i].ndim; d++)
            hn += (size_t)snprintf(h + hn, hcap - hn, "%s%lld", d ? "," : "", (long long)t[i].shape[d]);
        hn += (size_t)snprintf(h + hn, hcap - hn, "],\"data_offsets\":[%lld,%lld]}", (long long)off,
                               (long long)(off + t[i].numel * 4));
        off += t[i].numel * 4;
    }
    hn += (size_t)snprintf(h + hn, hcap - hn, "}");
    while (hn % 8)
        h[hn++] = ' ';
    *size = 8 + hn + (size_t)off;
    uint8_t *b = malloc(*size);
    if (!b) {
        free(h);
        free(t);
        return -1;
    }
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)((uint64_t)hn >> (8 * i));
    memcpy(b + 8, h, hn);
    free(h);
    float *d = (float *)(void *)(b + 8 + hn);
    pg_rng = seed * 0x9E3779B97F4A7C15ull + 1;
    for (int i = 0; i < n; i++) {
        const PoetGenT *ti = &t[i];
        for (int64_t k = 0; k < ti->numel; k++) {
            double v = pg_normal();
            if (!strcmp(ti->name, "out.bits.ar"))
                v = (k % c->B) < (k / c->B) ? 0.5 * v : 0.0;
            else if (pg_ends(ti->name, "ln1.weight") || pg_ends(ti->name, "ln2.weight") ||
                     !strcmp(ti->name, "out.ln.weight"))
                v = 1.0 + 0.2 * v;
            else if (ti->ndim == 2 && strncmp(ti->name, "in.", 3) && ti->shape[1] > 0)
                v /= sqrt((double)ti->shape[1]);
            else if (ti->ndim == 2 && ti->shape[1] == c->B)
                v *= 0.5 / sqrt((double)c->B);
            else
                v *= 0.3;
            d[k] = (float)v;
        }
        d += ti->numel;
    }
    free(t);
    *out = b;
    return 0;
}

#endif
