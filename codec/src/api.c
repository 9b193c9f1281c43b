/* Public API: settings, streaming encoder and decoder. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "arg/arg.h"
#include "backend.h"
#include "exec.h"
#include "model.h"

#define ARG_MAX_DIM 16384

const char *arg_version(void)
{
    return "0.1.0";
}

uint64_t arg_hash64(const void *data, size_t size)
{
    return (uint64_t)XXH3_64bits(data, size);
}

void arg_default_settings(ArgSettings *s)
{
    memset(s, 0, sizeof(*s));
    s->n_threads = 0;
    s->gemm = ARG_GEMM_AUTO;
}

static int env_backend(void)
{
    const char *v = getenv("ARG_BACKEND");
    if (!v || !*v || !strcmp(v, "auto"))
        return ARG_BACKEND_AUTO;
    if (!strcmp(v, "cpu"))
        return ARG_BACKEND_CPU;
    if (!strcmp(v, "vulkan"))
        return ARG_BACKEND_VULKAN;
    return -1;
}

/* One line on stderr, once per process, when Vulkan was asked for and the
 * CPU runs instead. */
static void say_fallback(const char *why)
{
    static int said;
    if (!said) {
        said = 1;
        fprintf(stderr, "arg: Vulkan backend unavailable (%s); using the CPU\n", why);
    }
}

/* Validate the settings and open the network on the chosen backend. */
static int open_runner(NetRunner **out, const ArgModel *m, const ArgSettings *s, int is_dec, int h,
                       int w, int max_t)
{
    ArgSettings d;
    if (!s) {
        arg_default_settings(&d);
        s = &d;
    }
    for (size_t i = 0; i < sizeof(s->reserved) / sizeof(s->reserved[0]); i++)
        if (s->reserved[i])
            return -EINVAL;
    if (s->n_threads < 0 || s->n_threads > 256 || s->device < 0 || s->device > 256 ||
        s->backend < ARG_BACKEND_AUTO || s->backend > ARG_BACKEND_VULKAN)
        return -EINVAL;
    int n = s->n_threads ? s->n_threads : tp_ncores();
    int g;
    switch (s->gemm) {
    case ARG_GEMM_AUTO: g = kctx_have_blas() ? GEMM_BLAS : GEMM_BUILTIN; break; /* BLAS measured faster */
    case ARG_GEMM_REFERENCE: g = GEMM_REF; break;
    case ARG_GEMM_BUILTIN: g = GEMM_BUILTIN; break;
    case ARG_GEMM_BLAS: g = GEMM_BLAS; break;
    default: return -EINVAL;
    }
    if (g == GEMM_BLAS && !kctx_have_blas())
        return -ENOTSUP;
    int backend = s->backend;
    if (backend == ARG_BACKEND_AUTO) {
        backend = env_backend();
        if (backend < 0)
            return -EINVAL;
    }
    int device = s->device - 1;
    if (device < 0) {
        const char *v = getenv("ARG_DEVICE");
        if (v && *v) {
            char *end;
            long dv = strtol(v, &end, 10);
            if (*end || dv < 0 || dv > 255)
                return -EINVAL;
            device = (int)dv;
        }
    }
    if (backend != ARG_BACKEND_CPU) {
#ifdef ARG_HAVE_VULKAN
        char msg[256] = "";
        /* auto: only a GPU beats the CPU engine; an explicit request or an
         * explicit device takes any device, lavapipe included */
        int allow_cpu = backend == ARG_BACKEND_VULKAN || device >= 0;
        int rc = runner_open_vulkan(out, m, is_dec, h, w, max_t, device, allow_cpu, msg, sizeof(msg));
        if (rc == 0)
            return 0;
        if (rc != -ENODEV && rc != -ENOTSUP && rc != -ENOMEM)
            return rc;
        /* silent only when auto found no GPU at all */
        if (backend == ARG_BACKEND_VULKAN || rc != -ENODEV)
            say_fallback(msg[0] ? msg : strerror(-rc));
#else
        if (backend == ARG_BACKEND_VULKAN)
            say_fallback("this libarg was built without Vulkan");
#endif
    }
    return runner_open_cpu(out, m, is_dec, h, w, max_t, n, g);
}

static int coded_dims(const ArgModel *m, int width, int height, int *wc, int *hc)
{
    if (!m || width < 1 || height < 1 || width > ARG_MAX_DIM || height > ARG_MAX_DIM)
        return -EINVAL;
    int fs = m->cfg.fs;
    *wc = (width + fs - 1) / fs * fs;
    *hc = (height + fs - 1) / fs * fs;
    return 0;
}

/* ------------------------------------------------------------------ encoder */

struct ArgEncoder {
    const ArgModel *m;
    NetRunner *r;
    int w, h, wc, hc, tw, th;
    int have, need;          /* pictures staged / needed for the next chunk */
    int seq_pictures;        /* pictures since the last reset */
    float *z;                /* latent frames of the last chunk */
    uint32_t *tok;
    int nz, zpos, index;
    int npics[ARG_MAX_CLIP];
};

static int enc_chunk_len(const ArgEncoder *e)
{
    const ArgConfig *c = &e->m->cfg;
    if (c->clip_scope)
        return c->clip_frames;
    return e->seq_pictures == 0 ? 1 : c->ft;
}

int arg_encoder_open(ArgEncoder **out, const ArgModel *m, const ArgSettings *s, int width, int height)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    ArgEncoder *e = calloc(1, sizeof(*e));
    if (!e)
        return -ENOMEM;
    int rc = coded_dims(m, width, height, &e->wc, &e->hc);
    if (rc < 0) {
        free(e);
        return rc;
    }
    e->m = m;
    e->w = width;
    e->h = height;
    e->tw = e->wc / m->cfg.fs;
    e->th = e->hc / m->cfg.fs;
    int max_t = m->cfg.clip_scope ? m->cfg.clip_frames : m->cfg.ft;
    if ((rc = open_runner(&e->r, m, s, 0, e->hc, e->wc, max_t)) < 0)
        goto fail;
    int nlat = m->cfg.clip_scope ? 1 + (m->cfg.clip_frames - 1) / m->cfg.ft : 1;
    size_t n = (size_t)e->tw * e->th;
    e->z = malloc((size_t)nlat * m->cfg.bits * n * sizeof(float));
    e->tok = malloc((size_t)nlat * n * sizeof(uint32_t));
    if (!e->z || !e->tok) {
        rc = -ENOMEM;
        goto fail;
    }
    e->need = enc_chunk_len(e);
    *out = e;
    return 0;
fail:
    arg_encoder_close(e);
    return rc;
}

void arg_encoder_close(ArgEncoder *e)
{
    if (!e)
        return;
    if (e->r)
        e->r->ops->close(e->r);
    free(e->z);
    free(e->tok);
    free(e);
}

void arg_encoder_reset(ArgEncoder *e)
{
    if (!e)
        return;
    e->r->ops->reset(e->r);
    e->have = 0;
    e->seq_pictures = 0;
    e->nz = e->zpos = 0;
    e->index = 0;
    e->need = enc_chunk_len(e);
}

/* Copy a picture into staging slot t at the coded size, replicating edges. */
static void stage_picture(ArgEncoder *e, const ArgPicture *pic, int t)
{
    int C = e->m->cfg.in_channels;
    size_t plane = (size_t)e->hc * e->wc;
    float *dst = (float *)e->r->ops->input(e->r) + (size_t)t * C * plane;
    for (int c = 0; c < C; c++)
        for (int y = 0; y < e->hc; y++) {
            const float *src = pic->data + c * pic->plane_stride + (y < e->h ? y : e->h - 1) * pic->stride;
            float *d = dst + c * plane + (size_t)y * e->wc;
            memcpy(d, src, (size_t)e->w * sizeof(float));
            for (int x = e->w; x < e->wc; x++)
                d[x] = src[e->w - 1];
        }
}

static int enc_run_chunk(ArgEncoder *e, int real)
{
    const ArgConfig *c = &e->m->cfg;
    RunOut s;
    int rc = e->r->ops->run(e->r, e->have, &s);
    if (rc < 0)
        return rc;
    size_t n = (size_t)e->tw * e->th;
    if (s.c != c->bits || s.h != e->th || s.w != e->tw || s.t < 1 || s.t > ARG_MAX_CLIP || !s.tokens)
        return -EPROTO; /* cannot happen with a validated model */
    memcpy(e->z, s.data, (size_t)s.t * s.c * n * sizeof(float));
    memcpy(e->tok, s.tokens, (size_t)s.t * n * sizeof(uint32_t));
    for (int t = 0; t < s.t; t++) {
        /* pictures covered by latent frame t of this chunk */
        int first = e->seq_pictures == 0 && t == 0;
        int start, len;
        if (c->clip_scope) {
            start = t == 0 ? 0 : 1 + (t - 1) * c->ft;
            len = t == 0 ? 1 : c->ft;
        } else {
            start = 0;
            len = first ? 1 : c->ft;
        }
        int r = real - start;
        e->npics[t] = r < 0 ? 0 : r > len ? len : r;
    }
    e->nz = s.t;
    e->zpos = 0;
    e->seq_pictures += real;
    e->have = 0;
    if (c->clip_scope) {
        e->r->ops->reset(e->r);
        e->seq_pictures = 0;
    }
    e->need = enc_chunk_len(e);
    return 0;
}

int arg_encoder_send_picture(ArgEncoder *e, const ArgPicture *pic)
{
    if (!e || !pic || !pic->data || pic->width != e->w || pic->height != e->h ||
        pic->stride < pic->width || pic->plane_stride < pic->stride * pic->height)
        return -EINVAL;
    if (e->zpos < e->nz)
        return -EAGAIN;
    stage_picture(e, pic, e->have++);
    if (e->have == e->need)
        return enc_run_chunk(e, e->have);
    return 0;
}

int arg_encoder_flush(ArgEncoder *e)
{
    if (!e)
        return -EINVAL;
    if (e->zpos < e->nz)
        return -EAGAIN;
    if (e->have == 0) {
        /* nothing pending: still end the sequence */
        e->r->ops->reset(e->r);
        e->seq_pictures = 0;
        e->need = enc_chunk_len(e);
        return 0;
    }
    int real = e->have;
    int C = e->m->cfg.in_channels;
    size_t frame = (size_t)C * e->hc * e->wc;
    float *in = e->r->ops->input(e->r);
    while (e->have < e->need) {
        memcpy(in + (size_t)e->have * frame, in + (size_t)(real - 1) * frame, frame * sizeof(float));
        e->have++;
    }
    int rc = enc_run_chunk(e, real);
    if (rc < 0)
        return rc;
    /* the stream ends here: the next picture starts a new sequence */
    e->r->ops->reset(e->r);
    e->seq_pictures = 0;
    e->need = enc_chunk_len(e);
    return 0;
}

int arg_encoder_get_tokens(ArgEncoder *e, ArgTokens *out)
{
    if (!e || !out)
        return -EINVAL;
    if (e->zpos >= e->nz)
        return -EAGAIN;
    size_t n = (size_t)e->tw * e->th;
    out->tokens = e->tok + e->zpos * n;
    out->latent = e->z + (size_t)e->zpos * e->m->cfg.bits * n;
    out->tokens_w = e->tw;
    out->tokens_h = e->th;
    out->index = e->index++;
    out->n_pictures = e->npics[e->zpos];
    e->zpos++;
    return 0;
}

/* ------------------------------------------------------------------ decoder */

struct ArgDecoder {
    const ArgModel *m;
    NetRunner *r;
    int w, h, wc, hc, tw, th;
    int have, need;          /* latent frames staged / per chunk */
    int pictures;            /* pictures requested by the staged latent frames */
    int seq_latents;         /* latent frames since reset */
    float *out;
    int nout, outpos;
};

int arg_decoder_open(ArgDecoder **out, const ArgModel *m, const ArgSettings *s, int width, int height)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    ArgDecoder *d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    int rc = coded_dims(m, width, height, &d->wc, &d->hc);
    if (rc < 0) {
        free(d);
        return rc;
    }
    d->m = m;
    d->w = width;
    d->h = height;
    d->tw = d->wc / m->cfg.fs;
    d->th = d->hc / m->cfg.fs;
    d->need = m->cfg.clip_scope ? 1 + (m->cfg.clip_frames - 1) / m->cfg.ft : 1;
    if ((rc = open_runner(&d->r, m, s, 1, d->th, d->tw, d->need)) < 0) {
        free(d);
        return rc;
    }
    *out = d;
    return 0;
}

void arg_decoder_close(ArgDecoder *d)
{
    if (!d)
        return;
    if (d->r)
        d->r->ops->close(d->r);
    free(d);
}

void arg_decoder_reset(ArgDecoder *d)
{
    if (!d)
        return;
    d->r->ops->reset(d->r);
    d->have = d->pictures = d->seq_latents = 0;
    d->nout = d->outpos = 0;
}

int arg_decoder_send_tokens(ArgDecoder *d, const ArgTokens *tok)
{
    if (!d || !tok || !tok->tokens || tok->tokens_w != d->tw || tok->tokens_h != d->th)
        return -EINVAL;
    const ArgConfig *c = &d->m->cfg;
    int first = c->clip_scope ? d->have == 0 : d->seq_latents == 0;
    int maxp = first ? 1 : c->ft;
    if (tok->n_pictures < 0 || tok->n_pictures > maxp)
        return -EINVAL;
    if (d->outpos < d->nout)
        return -EAGAIN;
    size_t n = (size_t)d->tw * d->th;
    for (size_t i = 0; i < n; i++)
        if (tok->tokens[i] >> c->bits)
            return -EINVAL;
    memcpy((uint32_t *)d->r->ops->input(d->r) + (size_t)d->have * n, tok->tokens, n * sizeof(uint32_t));
    d->have++;
    d->pictures += tok->n_pictures;
    d->seq_latents++;
    if (d->have < d->need)
        return 0;
    RunOut s;
    int rc = d->r->ops->run(d->r, d->have, &s);
    if (rc < 0)
        return rc;
    if (s.c != c->in_channels || s.h != d->hc || s.w != d->wc)
        return -EPROTO;
    d->out = s.data;
    d->nout = d->pictures < s.t ? d->pictures : s.t;
    d->outpos = 0;
    d->have = 0;
    d->pictures = 0;
    if (c->clip_scope) {
        d->r->ops->reset(d->r);
        d->seq_latents = 0;
    }
    return 0;
}

int arg_decoder_flush(ArgDecoder *d)
{
    if (!d)
        return -EINVAL;
    /* fixed-clip models need whole clips: the encoder always emits them */
    return d->have ? -EINVAL : 0;
}

int arg_decoder_get_picture(ArgDecoder *d, ArgPicture *out)
{
    if (!d || !out)
        return -EINVAL;
    if (d->outpos >= d->nout)
        return -EAGAIN;
    int C = d->m->cfg.in_channels;
    size_t plane = (size_t)d->hc * d->wc;
    float *f = d->out + (size_t)d->outpos * C * plane;
    for (int c = 0; c < C; c++)
        for (int y = 0; y < d->h; y++) {
            float *row = f + c * plane + (size_t)y * d->wc;
            for (int x = 0; x < d->w; x++)
                row[x] = row[x] < -1.f ? -1.f : row[x] > 1.f ? 1.f : row[x];
        }
    out->data = f;
    out->width = d->w;
    out->height = d->h;
    out->stride = d->wc;
    out->plane_stride = (ptrdiff_t)plane;
    d->outpos++;
    return 0;
}

const char *arg_encoder_backend(const ArgEncoder *e)
{
    return e ? e->r->name : "";
}

const char *arg_decoder_backend(const ArgDecoder *d)
{
    return d ? d->r->name : "";
}
