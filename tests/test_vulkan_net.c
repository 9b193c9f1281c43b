/* Whole-model parity of the Vulkan backend with the CPU engine, through the
 * public API, for every model configuration of tools/train/argmodel.py
 * (random weights, written here) and for shipped models given as arguments:
 *   latents within 1e-4 relative (max |diff| / max |ref|),
 *   token bits identical wherever the CPU's |z| > 1e-3,
 *   decoded pictures (both from the CPU's tokens) within 1e-3 max abs,
 *   the same number of latent frames and pictures, and the same again after
 *   a flush (a new sequence: empty caches).
 * Exits 77 (skipped) when no Vulkan device is usable.
 *
 *   test_vulkan_net [MODEL.safetensors ...] */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arg/arg.h"
#include "check.h"
#include "modelgen.h"
#include "vk.h"

typedef struct Clip {
    float *p;          /* T frames of C x H x W */
    int t, c, h, w;
} Clip;

typedef struct Result {
    float *z;
    uint32_t *tok;
    int *npics;
    int nlat;
    float *dec;        /* decoded from the reference tokens */
    int ndec;
    char backend[160];
} Result;

static void make_clip(Clip *c, int t, int ch, int h, int w, uint32_t seed)
{
    c->t = t;
    c->c = ch;
    c->h = h;
    c->w = w;
    c->p = malloc((size_t)t * ch * h * w * sizeof(float));
    uint32_t s = seed;
    for (int f = 0; f < t; f++)
        for (int k = 0; k < ch; k++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) {
                    s = s * 1664525u + 1013904223u;
                    float cx = (float)(x - (w / 3 + 2 * f)), cy = (float)(y - h / 2);
                    float disc = cx * cx + cy * cy < (float)(h * h) / 9 ? 0.5f : 0.f;
                    float v = 0.9f * x / w - 0.45f + 0.3f * (k - 1) * y / h + disc +
                              0.2f * ((float)(s >> 8) / 16777216.0f - 0.5f);
                    c->p[(((size_t)f * ch + k) * h + y) * w + x] = v > 1 ? 1 : v < -1 ? -1 : v;
                }
}

/* Encode the clip twice (flush in between: two sequences), then decode
 * ref_tok (or the result's own tokens) with the encoder's picture counts. */
static int run(const ArgModel *m, int backend, const Clip *in, const Result *ref, Result *r)
{
    const ArgModelInfo *info = arg_model_info(m);
    ArgSettings s;
    arg_default_settings(&s);
    s.backend = backend;
    s.n_threads = 2;
    s.gemm = ARG_GEMM_BUILTIN; /* the float reference (auto decodes in int8 on most CPUs) */
    ArgEncoder *enc;
    int rc = arg_encoder_open(&enc, m, &s, in->w, in->h);
    if (rc < 0)
        return rc;
    snprintf(r->backend, sizeof(r->backend), "%s", arg_encoder_backend(enc));
    int fs = info->spatial_factor, Z = info->lfq_bits;
    size_t n = (size_t)((in->w + fs - 1) / fs) * ((in->h + fs - 1) / fs);
    size_t plane = (size_t)in->h * in->w;
    int cap = 2 * in->t + 8;
    r->z = calloc((size_t)cap * Z * n, sizeof(float));
    r->tok = calloc((size_t)cap * n, sizeof(uint32_t));
    r->npics = calloc((size_t)cap, sizeof(int));
    r->nlat = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int f = 0; f <= in->t && rc >= 0; f++) {
            if (f < in->t) {
                ArgPicture pic = { in->p + (size_t)f * in->c * plane, in->w, in->h, in->w, (ptrdiff_t)plane, 0 };
                rc = arg_encoder_send_picture(enc, &pic);
            } else {
                rc = arg_encoder_flush(enc);
            }
            ArgTokens t;
            while (rc >= 0 && arg_encoder_get_tokens(enc, &t) == 0 && r->nlat < cap) {
                memcpy(r->z + (size_t)r->nlat * Z * n, t.latent, (size_t)Z * n * sizeof(float));
                memcpy(r->tok + (size_t)r->nlat * n, t.tokens, n * sizeof(uint32_t));
                r->npics[r->nlat++] = t.n_pictures;
            }
        }
    arg_encoder_close(enc);
    if (rc < 0)
        return rc;
    const Result *src = ref ? ref : r;
    ArgDecoder *dec;
    if ((rc = arg_decoder_open(&dec, m, &s, in->w, in->h)) < 0)
        return rc;
    if (strcmp(arg_decoder_backend(dec), r->backend) != 0)
        snprintf(r->backend, sizeof(r->backend), "encoder %.60s, decoder %.60s", arg_encoder_backend(NULL),
                 arg_decoder_backend(dec));
    size_t fsz = (size_t)in->c * plane;
    r->dec = calloc((size_t)(2 * in->t + 64) * fsz, sizeof(float));
    r->ndec = 0;
    for (int l = 0; l < src->nlat && rc >= 0; l++) {
        ArgTokens t = { src->tok + (size_t)l * n, NULL, (in->w + fs - 1) / fs, (in->h + fs - 1) / fs, l,
                        src->npics[l], 0 };
        rc = arg_decoder_send_tokens(dec, &t);
        ArgPicture pic;
        while (rc >= 0 && arg_decoder_get_picture(dec, &pic) == 0) {
            if (r->ndec < 2 * in->t + 64)
                for (int c = 0; c < in->c; c++)
                    for (int y = 0; y < in->h; y++)
                        memcpy(r->dec + (size_t)r->ndec * fsz + c * plane + (size_t)y * in->w,
                               pic.data + c * pic.plane_stride + y * pic.stride, (size_t)in->w * sizeof(float));
            r->ndec++;
        }
        /* a new sequence where the encoder flushed: the picture count says so */
        if (rc >= 0 && l + 1 < src->nlat && info->clip_frames == 0 && l + 1 == src->nlat / 2)
            arg_decoder_reset(dec);
    }
    if (rc >= 0)
        rc = arg_decoder_flush(dec);
    arg_decoder_close(dec);
    return rc;
}

static void free_result(Result *r)
{
    free(r->z);
    free(r->tok);
    free(r->npics);
    free(r->dec);
}

static void compare(const char *what, const ArgModel *m, const Clip *in)
{
    const ArgModelInfo *info = arg_model_info(m);
    Result rc_ = { 0 }, rv = { 0 };
    int e1 = run(m, ARG_BACKEND_CPU, in, NULL, &rc_);
    int e2 = run(m, ARG_BACKEND_VULKAN, in, &rc_, &rv);
    CHECK(e1 == 0 && e2 == 0, "%s: cpu rc %d, vulkan rc %d", what, e1, e2);
    CHECK(strncmp(rv.backend, "vulkan", 6) == 0, "%s: the Vulkan run used \"%s\"", what, rv.backend);
    if (e1 || e2) {
        free_result(&rc_);
        free_result(&rv);
        return;
    }
    int fs = info->spatial_factor, Z = info->lfq_bits;
    size_t n = (size_t)((in->w + fs - 1) / fs) * ((in->h + fs - 1) / fs);
    CHECK(rc_.nlat == rv.nlat && rc_.nlat > 0, "%s: %d latent frames on the CPU, %d on Vulkan", what, rc_.nlat, rv.nlat);
    int nl = rc_.nlat < rv.nlat ? rc_.nlat : rv.nlat;
    double md = 0, mz = 1e-30, minabs = INFINITY;
    long flips = 0, strict = 0, bits = 0, npic_diff = 0;
    for (int l = 0; l < nl; l++) {
        npic_diff += rc_.npics[l] != rv.npics[l];
        for (int b = 0; b < Z; b++)
            for (size_t i = 0; i < n; i++) {
                size_t at = ((size_t)l * Z + b) * n + i;
                double zr = rc_.z[at], d = fabs((double)rv.z[at] - zr);
                md = d > md || d != d ? (d != d ? INFINITY : d) : md;
                mz = fabs(zr) > mz ? fabs(zr) : mz;
                minabs = fabs(zr) < minabs ? fabs(zr) : minabs;
                int cb = rc_.tok[(size_t)l * n + i] >> b & 1, vb = rv.tok[(size_t)l * n + i] >> b & 1;
                bits++;
                if (cb != vb) {
                    flips++;
                    strict += fabs(zr) > 1e-3;
                }
            }
    }
    double rel = md / mz;
    size_t fsz = (size_t)in->c * in->h * in->w;
    int nd = rc_.ndec < rv.ndec ? rc_.ndec : rv.ndec;
    double dmax = 0;
    long saturated = 0;
    for (size_t i = 0; i < (size_t)nd * fsz; i++) {
        double d = fabs((double)rc_.dec[i] - rv.dec[i]);
        dmax = d > dmax || d != d ? (d != d ? INFINITY : d) : dmax;
        saturated += fabs(rc_.dec[i]) >= 1.0f;
    }
    printf("  %-34s latent rel err %.2e | bits differ %ld/%ld (|z|>1e-3: %ld; min |z| %.1e) | %d pictures, max abs err %.2e (%.0f%% clamped)\n",
           what, rel, flips, bits, strict, minabs, rv.ndec, dmax, 100.0 * saturated / ((double)nd * fsz + 1e-9));
    CHECK(npic_diff == 0, "%s: picture counts of %ld latent frames differ", what, npic_diff);
    CHECK(rel <= 1e-4, "%s: latent rel err %g > 1e-4", what, rel);
    CHECK(strict == 0, "%s: %ld token bits differ where |z| > 1e-3", what, strict);
    CHECK(rc_.ndec == rv.ndec && rc_.ndec == 2 * in->t, "%s: %d pictures on the CPU, %d on Vulkan, want %d", what,
          rc_.ndec, rv.ndec, 2 * in->t);
    CHECK(dmax <= 1e-3, "%s: decoded max abs err %g > 1e-3", what, dmax);
    /* the second sequence repeats the first exactly on each backend */
    int half = rv.nlat / 2;
    CHECK(rv.nlat % 2 == 0 && memcmp(rv.tok, rv.tok + (size_t)half * n, (size_t)half * n * sizeof(uint32_t)) == 0,
          "%s: Vulkan tokens differ after a flush (the caches were not emptied)", what);
    free_result(&rc_);
    free_result(&rv);
}

static const struct {
    const char *name;
    const char *config;
    int t, h, w;
} k_cases[] = {
    /* tools/train/argmodel.py CONFIGS (paper at a quarter width) */
    { "paper32", "{\"in_channels\":3,\"patch_size\":1,\"base_channels\":32,\"channel_mult\":[1,2,2,4],"
                 "\"enc_blocks\":[4,4,4,4],\"dec_blocks\":[4,4,4,4],\"mid_blocks\":4,\"down\":[[1,2],[2,2],[2,2]],"
                 "\"num_groups\":32,\"norm_eps\":1e-06,\"norm_scope\":\"clip\",\"clip_frames\":17,\"padding\":\"zeros\","
                 "\"decoder_norm\":\"adaptive\",\"agn_var\":\"unbiased\",\"lfq_bits\":18}", 17, 16, 16 },
    { "compact", "{\"in_channels\":3,\"patch_size\":1,\"base_channels\":16,\"channel_mult\":[1,2,2,4],"
                 "\"enc_blocks\":[1,1,1,1],\"dec_blocks\":[1,1,1,1],\"mid_blocks\":1,\"down\":[[1,2],[2,2],[2,2]],"
                 "\"num_groups\":8,\"norm_eps\":1e-06,\"norm_scope\":\"frame\",\"clip_frames\":17,\"padding\":\"replicate\","
                 "\"decoder_norm\":\"plain\",\"agn_var\":\"biased\",\"lfq_bits\":18}", 9, 21, 27 },
    { "compact_patch", "{\"in_channels\":3,\"patch_size\":2,\"base_channels\":32,\"channel_mult\":[1,2,4],"
                       "\"enc_blocks\":[1,1,1],\"dec_blocks\":[1,1,1],\"mid_blocks\":1,\"down\":[[2,2],[2,2]],"
                       "\"num_groups\":8,\"norm_eps\":1e-06,\"norm_scope\":\"frame\",\"clip_frames\":17,\"padding\":\"zeros\","
                       "\"decoder_norm\":\"adaptive\",\"agn_var\":\"biased\",\"lfq_bits\":18}", 9, 24, 40 },
    { "s8", "{\"in_channels\":3,\"patch_size\":2,\"base_channels\":24,\"channel_mult\":[1,2,4],"
            "\"enc_blocks\":[1,1,1],\"dec_blocks\":[1,1,1],\"mid_blocks\":1,\"down\":[[2,2],[2,2]],"
            "\"num_groups\":8,\"norm_eps\":1e-06,\"norm_scope\":\"frame\",\"clip_frames\":17,\"padding\":\"zeros\","
            "\"decoder_norm\":\"adaptive\",\"agn_var\":\"biased\",\"lfq_bits\":18}", 6, 30, 33 },
    { "tiny", "{\"in_channels\":3,\"patch_size\":2,\"base_channels\":8,\"channel_mult\":[1,2,2],"
              "\"enc_blocks\":[1,1,1],\"dec_blocks\":[1,1,1],\"mid_blocks\":1,\"down\":[[2,2],[2,2]],"
              "\"num_groups\":4,\"norm_eps\":1e-06,\"norm_scope\":\"frame\",\"clip_frames\":17,\"padding\":\"zeros\","
              "\"decoder_norm\":\"adaptive\",\"agn_var\":\"biased\",\"lfq_bits\":8}", 13, 32, 24 },
    /* the corners: one channel, patch 4, temporal-only and spatial-only
     * steps, groups that do not divide, replicate padding, unbiased
     * adaptive norm, a level without blocks */
    { "corners", "{\"in_channels\":1,\"patch_size\":4,\"base_channels\":6,\"channel_mult\":[1,2,2],"
                 "\"enc_blocks\":[1,1,0],\"dec_blocks\":[1,2,0],\"mid_blocks\":0,\"down\":[[2,1],[1,2]],"
                 "\"num_groups\":4,\"norm_eps\":1e-05,\"norm_scope\":\"frame\",\"clip_frames\":3,\"padding\":\"replicate\","
                 "\"decoder_norm\":\"adaptive\",\"agn_var\":\"unbiased\",\"lfq_bits\":5}", 7, 22, 17 },
};

int main(int argc, char **argv)
{
    char msg[256] = "";
    VkCtx *vk;
    /* the same device the library will pick for ARG_BACKEND_VULKAN */
    int device = -1;
    const char *dv = getenv("ARG_DEVICE");
    if (dv && *dv)
        device = atoi(dv);
    if (vkctx_get(&vk, device, 1, msg, sizeof(msg)) < 0) {
        printf("SKIP: no usable Vulkan device (%s)\n", msg);
        return 77;
    }
    printf("device: %s\n", vk->name);
    const char *only = getenv("ARG_TEST_CONFIG");
    for (size_t i = 0; i < sizeof(k_cases) / sizeof(k_cases[0]); i++) {
        if (only && strcmp(only, k_cases[i].name) != 0)
            continue;
        uint8_t *file;
        size_t size;
        char name[64], err[256];
        snprintf(name, sizeof(name), "random-%s", k_cases[i].name);
        if (gen_model(k_cases[i].config, name, 11 + i, &file, &size) < 0) {
            CHECK(0, "%s: cannot make the model", k_cases[i].name);
            continue;
        }
        ArgModel *m;
        int rc = arg_model_load_memory(&m, file, size, err, sizeof(err));
        free(file);
        CHECK(rc == 0, "%s: model rejected: %s", k_cases[i].name, err);
        if (rc < 0)
            continue;
        Clip c;
        make_clip(&c, k_cases[i].t, arg_model_info(m)->in_channels, k_cases[i].h, k_cases[i].w, 7 + (uint32_t)i);
        char what[96];
        snprintf(what, sizeof(what), "%s %dx%dx%d", k_cases[i].name, c.t, c.w, c.h);
        compare(what, m, &c);
        free(c.p);
        arg_model_free(m);
    }
    for (int a = 1; a < argc; a++) {
        ArgModel *m;
        char err[512];
        if (arg_model_load(&m, argv[a], err, sizeof(err)) < 0) {
            CHECK(0, "%s", err);
            continue;
        }
        Clip c;
        make_clip(&c, 9, arg_model_info(m)->in_channels, 44, 70, 99);
        char what[96];
        snprintf(what, sizeof(what), "%s %dx%dx%d", arg_model_info(m)->name, c.t, c.w, c.h);
        compare(what, m, &c);
        free(c.p);
        arg_model_free(m);
    }
    vkctx_put(vk);
    int vm = vk_validation_messages();
    if (vm >= 0)
        CHECK(vm == 0, "%d validation messages", vm);
    return check_summary();
}
