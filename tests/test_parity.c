/* Parity with the PyTorch twin: test_parity MODEL VECTORS.
 * The vectors file (tools/train/make_parity.py) holds input [T,C,H,W],
 * latent [T',Z,h,w], tokens [T',h,w] and decoded [T,C,H,W] (clamped).
 * Checks, for several thread counts and GEMM paths:
 *   latents within 1e-4 relative (max |diff| / max |ref|),
 *   token bits identical wherever |z| > 1e-3,
 *   decoded frames (from the reference tokens) within 1e-3 max abs,
 *   and, for per-frame configs, streaming == whole-clip inside C. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arg/arg.h"
#include "check.h"
#include "exec.h"
#include "safetensors.h"


typedef struct Vec {
    float *p;
    int64_t shape[5];
    int ndim;
    size_t n;
} Vec;

static int get_vec(StFile *st, const char *name, Vec *v)
{
    StTensor *t = st_find(st, name);
    if (!t)
        return -1;
    v->p = malloc((size_t)t->numel * sizeof(float));
    st_to_f32(t, v->p);
    v->ndim = t->ndim;
    memcpy(v->shape, t->shape, sizeof(v->shape));
    v->n = (size_t)t->numel;
    return 0;
}

static double max_abs(const float *a, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fabs(a[i]) > m ? fabs(a[i]) : m;
    return m;
}

typedef struct Run {
    float *z;            /* [T'][Z][h][w] */
    uint32_t *tok;       /* [T'][h][w] */
    int *npics;
    int nlat;
    float *dec;          /* [T][C][H][W] decoded from the reference tokens */
    int ndec;
} Run;

static int run_codec(const ArgModel *m, const ArgSettings *s, const Vec *in, const Vec *ref_tok,
                     Run *r)
{
    const ArgModelInfo *info = arg_model_info(m);
    int T = (int)in->shape[0], C = (int)in->shape[1], H = (int)in->shape[2], W = (int)in->shape[3];
    int Z = info->lfq_bits;
    ArgEncoder *enc;
    ArgDecoder *dec;
    int rc = arg_encoder_open(&enc, m, s, W, H);
    if (rc < 0)
        return rc;
    size_t plane = (size_t)H * W;
    int cap = (int)ref_tok->shape[0] + 32;
    int th = (int)ref_tok->shape[1], tw = (int)ref_tok->shape[2];
    size_t n = (size_t)th * tw;
    r->z = calloc((size_t)cap * Z * n, sizeof(float));
    r->tok = calloc((size_t)cap * n, sizeof(uint32_t));
    r->npics = calloc((size_t)cap, sizeof(int));
    r->nlat = 0;
    ArgTokens t;
    for (int f = 0; f <= T; f++) {
        if (f < T) {
            ArgPicture pic = { in->p + (size_t)f * C * plane, W, H, W, (ptrdiff_t)plane, 0 };
            rc = arg_encoder_send_picture(enc, &pic);
        } else {
            rc = arg_encoder_flush(enc);
        }
        if (rc < 0)
            return rc;
        while (arg_encoder_get_tokens(enc, &t) == 0 && r->nlat < cap) {
            if (t.tokens_w != tw || t.tokens_h != th)
                return -EPROTO;
            memcpy(r->z + (size_t)r->nlat * Z * n, t.latent, (size_t)Z * n * sizeof(float));
            memcpy(r->tok + (size_t)r->nlat * n, t.tokens, n * sizeof(uint32_t));
            r->npics[r->nlat++] = t.n_pictures;
        }
    }
    arg_encoder_close(enc);
    /* decode the reference tokens with the encoder's picture counts */
    if ((rc = arg_decoder_open(&dec, m, s, W, H)) < 0)
        return rc;
    r->dec = calloc((size_t)(T + 64) * C * plane, sizeof(float));
    r->ndec = 0;
    uint32_t *tk = malloc(n * sizeof(uint32_t));
    for (int l = 0; l < (int)ref_tok->shape[0] && l < r->nlat; l++) {
        for (size_t i = 0; i < n; i++)
            tk[i] = (uint32_t)ref_tok->p[(size_t)l * n + i];
        ArgTokens in_t = { tk, NULL, tw, th, l, r->npics[l], 0 };
        if ((rc = arg_decoder_send_tokens(dec, &in_t)) < 0)
            return rc;
        ArgPicture pic;
        while (arg_decoder_get_picture(dec, &pic) == 0) {
            if (r->ndec < T + 64)
                for (int c = 0; c < C; c++)
                    for (int y = 0; y < H; y++)
                        memcpy(r->dec + ((size_t)r->ndec * C + c) * plane + (size_t)y * W,
                               pic.data + c * pic.plane_stride + y * pic.stride, (size_t)W * sizeof(float));
            r->ndec++;
        }
    }
    free(tk);
    rc = arg_decoder_flush(dec);
    arg_decoder_close(dec);
    return rc;
}

static void free_run(Run *r)
{
    free(r->z);
    free(r->tok);
    free(r->npics);
    free(r->dec);
}

/* Encoder over the whole (padded) clip in one chunk, via the internal API. */
static int whole_clip_latent(const ArgModel *m, const Vec *in, float *z_out, size_t zn)
{
    int T = (int)in->shape[0], C = (int)in->shape[1], H = (int)in->shape[2], W = (int)in->shape[3];
    int ft = m->cfg.ft;
    int Tp = 1 + (T - 1 + ft - 1) / ft * ft;
    KernelCtx k;
    if (kctx_init(&k, 2, GEMM_BUILTIN) < 0)
        return -ENOMEM;
    Exec e;
    Shape s = { Tp, C, H, W };
    int rc = exec_init(&e, m, &m->enc, &k, s, Tp);
    if (rc < 0) {
        kctx_free(&k);
        return rc;
    }
    size_t frame = (size_t)C * H * W;
    for (int f = 0; f < Tp; f++)
        memcpy(e.buf[0] + f * frame, in->p + (f < T ? f : T - 1) * frame, frame * sizeof(float));
    /* a whole clip is the "first chunk": every layer starts from its padding */
    s.t = Tp;
    int cur = exec_run(&e, &s);
    if (cur >= 0 && (size_t)s.t * s.c * s.h * s.w == zn)
        memcpy(z_out, e.buf[cur], zn * sizeof(float));
    else if (cur >= 0)
        cur = -EPROTO;
    exec_free(&e);
    kctx_free(&k);
    return cur < 0 ? cur : 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: test_parity MODEL.safetensors VECTORS.safetensors\n");
        return 2;
    }
    char err[512];
    ArgModel *m;
    if (arg_model_load(&m, argv[1], err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    const ArgModelInfo *info = arg_model_info(m);
    uint8_t *vbuf;
    size_t vsize;
    StFile st;
    if (st_read_file(argv[2], &vbuf, &vsize, (size_t)1 << 32, err, sizeof(err)) < 0 ||
        st_parse(&st, vbuf, vsize, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s: %s\n", argv[2], err);
        return 1;
    }
    Vec in, lat, tok, decd;
    if (get_vec(&st, "input", &in) || get_vec(&st, "latent", &lat) || get_vec(&st, "tokens", &tok) ||
        get_vec(&st, "decoded", &decd)) {
        fprintf(stderr, "vectors file lacks input/latent/tokens/decoded\n");
        return 1;
    }
    int T = (int)in.shape[0];
    int Z = info->lfq_bits;
    size_t n = (size_t)tok.shape[1] * tok.shape[2];
    int nlat = (int)tok.shape[0];
    printf("model %s id %016llx: ft=%d fs=%d bits=%d clip=%d; vectors %dx%dx%d, %d latent frames\n",
           info->name[0] ? info->name : "(unnamed)", (unsigned long long)info->id, info->temporal_factor,
           info->spatial_factor, Z, info->clip_frames, T, (int)in.shape[3], (int)in.shape[2], nlat);
    struct { int threads, gemm; const char *name; } modes[] = {
        { 1, ARG_GEMM_BUILTIN, "builtin, 1 thread" },
        { 2, ARG_GEMM_BUILTIN, "builtin, 2 threads" },
        { 2, ARG_GEMM_BLAS, "blas, 2 threads" },
    };
    float *first_z = NULL;
    for (size_t mi = 0; mi < sizeof(modes) / sizeof(*modes); mi++) {
        ArgSettings s;
        arg_default_settings(&s);
        s.n_threads = modes[mi].threads;
        s.gemm = modes[mi].gemm;
        Run r = { 0 };
        int rc = run_codec(m, &s, &in, &tok, &r);
        if (rc == -ENOTSUP) {
            printf("  %-20s skipped (not built)\n", modes[mi].name);
            continue;
        }
        CHECK(rc == 0, "%s: codec failed (%d)", modes[mi].name, rc);
        if (rc < 0)
            continue;
        CHECK(r.nlat == nlat, "%s: %d latent frames, reference %d", modes[mi].name, r.nlat, nlat);
        int nl = r.nlat < nlat ? r.nlat : nlat;
        double md = 0;
        long flips = 0, strict_flips = 0, bits_total = 0;
        for (int l = 0; l < nl; l++)
            for (int b = 0; b < Z; b++)
                for (size_t i = 0; i < n; i++) {
                    size_t at = ((size_t)l * Z + b) * n + i;
                    double d = fabs((double)r.z[at] - lat.p[at]);
                    md = d > md || d != d ? (d != d ? INFINITY : d) : md;
                    int rb = ((uint32_t)tok.p[(size_t)l * n + i] >> b) & 1;
                    int cb = (r.tok[(size_t)l * n + i] >> b) & 1;
                    bits_total++;
                    if (rb != cb) {
                        flips++;
                        if (fabs(lat.p[at]) > 1e-3)
                            strict_flips++;
                    }
                }
        double rel = md / (max_abs(lat.p, lat.n) + 1e-30);
        double dmax = 0;
        int nd = r.ndec < T ? r.ndec : T;
        size_t fsz = (size_t)in.shape[1] * in.shape[2] * in.shape[3];
        for (size_t i = 0; i < (size_t)nd * fsz; i++) {
            double d = fabs((double)r.dec[i] - decd.p[i]);
            dmax = d > dmax || d != d ? (d != d ? INFINITY : d) : dmax;
        }
        printf("  %-20s latent rel err %.2e | bit flips %ld/%ld (|z|>1e-3: %ld) | decoded %d frames, max abs err %.2e\n",
               modes[mi].name, rel, flips, bits_total, strict_flips, r.ndec, dmax);
        CHECK(rel <= 1e-4, "%s: latent rel err %g > 1e-4", modes[mi].name, rel);
        CHECK(strict_flips == 0, "%s: %ld token bits differ where |z| > 1e-3", modes[mi].name, strict_flips);
        CHECK(r.ndec == T, "%s: decoded %d frames, want %d", modes[mi].name, r.ndec, T);
        CHECK(dmax <= 1e-3, "%s: decoded max abs err %g > 1e-3", modes[mi].name, dmax);
        if (!first_z) {
            first_z = malloc((size_t)nl * Z * n * sizeof(float));
            memcpy(first_z, r.z, (size_t)nl * Z * n * sizeof(float));
        }
        free_run(&r);
    }
    if (!info->clip_frames && first_z) {
        size_t zn = (size_t)nlat * Z * n;
        float *wz = malloc(zn * sizeof(float));
        int rc = whole_clip_latent(m, &in, wz, zn);
        double md = 0;
        for (size_t i = 0; rc == 0 && i < zn; i++)
            md = fabs((double)wz[i] - first_z[i]) > md ? fabs((double)wz[i] - first_z[i]) : md;
        double rel = md / (max_abs(first_z, zn) + 1e-30);
        printf("  streaming vs whole-clip encoder (C): rel diff %.2e\n", rel);
        CHECK(rc == 0 && rel <= 1e-5, "streaming != whole clip (rc %d, rel %g)", rc, rel);
        free(wz);
    }
    /* Odd sizes: the clip cropped to (W-3)x(H-5) must give the tokens of its
     * edge-replicated padded version (what the engine pads to), and decoding
     * must crop back to exactly the padded decode. */
    {
        int T0 = (int)in.shape[0], C0 = (int)in.shape[1], H0 = (int)in.shape[2], W0 = (int)in.shape[3];
        int fs = info->spatial_factor, Wo = W0 - 3, Ho = H0 - 5;
        if (Wo > W0 - fs && Ho > H0 - fs && Wo > 0 && Ho > 0) {
            Vec crop = in, pad = in;
            crop.shape[2] = Ho;
            crop.shape[3] = Wo;
            crop.n = (size_t)T0 * C0 * Ho * Wo;
            crop.p = malloc(crop.n * sizeof(float));
            pad.p = malloc(in.n * sizeof(float));
            for (int f = 0; f < T0; f++)
                for (int c = 0; c < C0; c++)
                    for (int y = 0; y < H0; y++)
                        for (int x = 0; x < W0; x++) {
                            float v = in.p[(((size_t)f * C0 + c) * H0 + (y < Ho ? y : Ho - 1)) * W0 +
                                           (x < Wo ? x : Wo - 1)];
                            pad.p[(((size_t)f * C0 + c) * H0 + y) * W0 + x] = v;
                            if (y < Ho && x < Wo)
                                crop.p[(((size_t)f * C0 + c) * Ho + y) * Wo + x] = v;
                        }
            ArgSettings s2;
            arg_default_settings(&s2);
            s2.n_threads = 2;
            Run ra = { 0 }, rb = { 0 };
            int rca = run_codec(m, &s2, &pad, &tok, &ra), rcb = run_codec(m, &s2, &crop, &tok, &rb);
            int same_tok = rca == 0 && rcb == 0 && ra.nlat == rb.nlat &&
                           memcmp(ra.tok, rb.tok, (size_t)ra.nlat * n * sizeof(uint32_t)) == 0;
            long diff = 0;
            for (int f = 0; same_tok && f < T0; f++)
                for (int c = 0; c < C0; c++)
                    for (int y = 0; y < Ho; y++)
                        for (int x = 0; x < Wo; x++)
                            diff += ra.dec[(((size_t)f * C0 + c) * H0 + y) * W0 + x] !=
                                    rb.dec[(((size_t)f * C0 + c) * Ho + y) * Wo + x];
            printf("  odd size %dx%d: tokens %s the padded clip's, decoded crop differs at %ld values, %d frames\n",
                   Wo, Ho, same_tok ? "equal" : "DIFFER from", diff, rb.ndec);
            CHECK(same_tok, "odd size %dx%d: tokens differ from the padded clip", Wo, Ho);
            CHECK(same_tok && diff == 0 && rb.ndec == T0, "odd size %dx%d: decoded crop differs (%ld) or %d frames",
                  Wo, Ho, diff, rb.ndec);
            free_run(&ra);
            free_run(&rb);
            free(crop.p);
            free(pad.p);
        }
    }
    free(first_z);
    free(in.p);
    free(lat.p);
    free(tok.p);
    free(decd.p);
    st_free(&st);
    free(vbuf);
    arg_model_free(m);
    return check_summary();
}
