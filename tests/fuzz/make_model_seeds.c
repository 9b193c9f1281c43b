/*
 * Seed files for the model-loader fuzz target (fuzz_model.c):
 *
 *   make_model_seeds OUT_DIR [MODEL.safetensors...]
 *
 * writes small valid models (tests/modelgen.h: one level without blocks;
 * two levels with blocks, a shortcut, a downsample, patches, adaptive norms
 * and clip scope; the same two in F16) and, for each MODEL given, its
 * header alone (a real config whose tensor data is missing). Each valid
 * seed must load, and its F16 twin must load with the same config: the
 * program exits 1 otherwise, so as a test it checks that modelgen.h and the
 * loader agree. tests/fuzz/corpus/model holds its output (seed-*).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "arg/arg.h"
#include "modelgen.h"
#include "safetensors.h"

static const struct {
    const char *name, *config;
} k_seeds[] = {
    { "tiny",
      "{\"in_channels\":3,\"patch_size\":1,\"base_channels\":1,\"channel_mult\":[1],\"enc_blocks\":[0],"
      "\"dec_blocks\":[0],\"mid_blocks\":0,\"down\":[],\"num_groups\":1,\"norm_eps\":1e-06,"
      "\"norm_scope\":\"frame\",\"clip_frames\":1,\"padding\":\"zeros\",\"decoder_norm\":\"plain\","
      "\"agn_var\":\"biased\",\"lfq_bits\":2}" },
    { "levels2",
      "{\"in_channels\":3,\"patch_size\":2,\"base_channels\":1,\"channel_mult\":[1,2],\"enc_blocks\":[1,1],"
      "\"dec_blocks\":[1,1],\"mid_blocks\":1,\"down\":[[2,2]],\"num_groups\":2,\"norm_eps\":1e-05,"
      "\"norm_scope\":\"clip\",\"clip_frames\":3,\"padding\":\"replicate\",\"decoder_norm\":\"adaptive\","
      "\"agn_var\":\"unbiased\",\"lfq_bits\":3}" },
};

static int write_file(const char *dir, const char *name, const uint8_t *b, size_t n)
{
    char path[1200];
    snprintf(path, sizeof(path), "%.1000s/%.150s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "make_model_seeds: cannot write %s\n", path);
        return -1;
    }
    printf("%s: %zu bytes\n", path, n);
    return 0;
}

/* JSON string body of s (quotes and backslashes escaped) appended at h+*hn. */
static void put_escaped(char *h, size_t *hn, const char *s)
{
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            h[(*hn)++] = '\\';
        h[(*hn)++] = *s;
    }
}

/* The F16 twin of an F32 model file: same metadata and tensors, in the
 * same order, each value rounded to half precision (truncated mantissa;
 * the weights are O(1), no overflow). Returns 0 or -1. */
static int to_f16(const uint8_t *in, size_t size, uint8_t **out, size_t *out_size)
{
    StFile st;
    char err[256];
    if (st_parse(&st, in, size, err, sizeof(err)) < 0) {
        fprintf(stderr, "make_model_seeds: %s\n", err);
        return -1;
    }
    size_t hcap = 2 * size + 4096, hn = 0;
    char *h = malloc(hcap);
    uint8_t *b = malloc(size + 4096);
    if (!h || !b) {
        free(h);
        free(b);
        st_free(&st);
        return -1;
    }
    static const char *const keys[] = { "format", "format_version", "name", "config" };
    hn += (size_t)snprintf(h + hn, hcap - hn, "{\"__metadata__\":{");
    for (int k = 0; k < 4; k++) {
        hn += (size_t)snprintf(h + hn, hcap - hn, "%s\"%s\":\"", k ? "," : "", keys[k]);
        put_escaped(h, &hn, st_meta(&st, keys[k]));
        h[hn++] = '"';
    }
    h[hn++] = '}';
    int64_t off = 0;
    for (size_t i = 0; i < st.n_tensors; i++) {
        const StTensor *t = &st.tensors[i];
        hn += (size_t)snprintf(h + hn, hcap - hn, ",\"%s\":{\"dtype\":\"F16\",\"shape\":[", t->name);
        for (int d = 0; d < t->ndim; d++)
            hn += (size_t)snprintf(h + hn, hcap - hn, "%s%lld", d ? "," : "", (long long)t->shape[d]);
        hn += (size_t)snprintf(h + hn, hcap - hn, "],\"data_offsets\":[%lld,%lld]}", (long long)off,
                               (long long)(off + t->numel * 2));
        off += t->numel * 2;
    }
    h[hn++] = '}';
    while (hn % 8)
        h[hn++] = ' ';
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)((uint64_t)hn >> (8 * i));
    memcpy(b + 8, h, hn);
    uint8_t *d = b + 8 + hn;
    for (size_t i = 0; i < st.n_tensors; i++) {
        const StTensor *t = &st.tensors[i];
        for (int64_t k = 0; k < t->numel; k++) {
            uint32_t u;
            memcpy(&u, t->data + 4 * k, 4);
            uint32_t sign = (u >> 16) & 0x8000, e = (u >> 23) & 0xFF, man = (u >> 13) & 0x3FF;
            uint16_t v = (uint16_t)sign; /* |x| < 2^-14: zero */
            if (e >= 113 && e <= 142)
                v = (uint16_t)(sign | (e - 112) << 10 | man);
            *d++ = (uint8_t)v;
            *d++ = (uint8_t)(v >> 8);
        }
    }
    *out_size = (size_t)(d - b);
    *out = b;
    free(h);
    st_free(&st);
    return 0;
}

static int check_loads(const char *what, const uint8_t *b, size_t n, ArgModelInfo *info)
{
    ArgModel *m = NULL;
    char err[256];
    int rc = arg_model_load_memory(&m, b, n, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "make_model_seeds: seed %s does not load: %s\n", what, err);
        return -1;
    }
    *info = *arg_model_info(m);
    arg_model_free(m);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: make_model_seeds OUT_DIR [MODEL.safetensors...]\n");
        return 2;
    }
    const char *dir = argv[1];
    if (mkdir(dir, 0777) < 0 && errno != EEXIST) {
        fprintf(stderr, "make_model_seeds: cannot create %s: %s\n", dir, strerror(errno));
        return 1;
    }
    for (size_t i = 0; i < sizeof(k_seeds) / sizeof(k_seeds[0]); i++) {
        uint8_t *b = NULL, *h = NULL;
        size_t n = 0, hn = 0;
        char name[64];
        ArgModelInfo a, c;
        if (gen_model(k_seeds[i].config, k_seeds[i].name, 7 + i, &b, &n) < 0)
            return 1;
        snprintf(name, sizeof(name), "seed-%s", k_seeds[i].name);
        int bad = check_loads(name, b, n, &a) < 0 || write_file(dir, name, b, n) < 0;
        if (!bad && to_f16(b, n, &h, &hn) < 0)
            bad = 1;
        snprintf(name, sizeof(name), "seed-%s-f16", k_seeds[i].name);
        if (!bad)
            bad = check_loads(name, h, hn, &c) < 0 || write_file(dir, name, h, hn) < 0;
        if (!bad && (strcmp(a.config_json, c.config_json) != 0 || a.enc_params != c.enc_params ||
                     a.dec_params != c.dec_params || a.id == c.id)) {
            fprintf(stderr, "make_model_seeds: the F16 twin of %s differs in config or shares its ID\n",
                    k_seeds[i].name);
            bad = 1;
        }
        free(b);
        free(h);
        if (bad)
            return 1;
    }
    /* the header of each model named: the tensor data is missing */
    for (int i = 2; i < argc; i++) {
        uint8_t *b;
        size_t n;
        char err[256], name[200];
        if (st_read_file(argv[i], &b, &n, (size_t)1 << 30, err, sizeof(err)) < 0) {
            fprintf(stderr, "make_model_seeds: %s\n", err);
            return 1;
        }
        uint64_t hl = 0;
        for (int k = 7; n >= 8 && k >= 0; k--)
            hl = hl << 8 | b[k];
        if (n < 8 || hl > n - 8) {
            fprintf(stderr, "make_model_seeds: %s is not a safetensors file\n", argv[i]);
            free(b);
            return 1;
        }
        const char *base = strrchr(argv[i], '/');
        base = base ? base + 1 : argv[i];
        snprintf(name, sizeof(name), "seed-header-%.150s", base);
        char *dot = strstr(name, ".safetensors");
        if (dot)
            *dot = 0;
        ArgModel *m = (ArgModel *)(uintptr_t)1;
        int rc = arg_model_load_memory(&m, b, 8 + (size_t)hl, err, sizeof(err));
        if (rc != -EINVAL || m) {
            fprintf(stderr, "make_model_seeds: %s without its tensor data: not refused\n", argv[i]);
            free(b);
            return 1;
        }
        rc = write_file(dir, name, b, 8 + (size_t)hl);
        free(b);
        if (rc < 0)
            return 1;
    }
    return 0;
}
