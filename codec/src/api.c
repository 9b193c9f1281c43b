/* Public API: settings, streaming encoder and decoder. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "arg/arg.h"
#include "backend.h"
#include "bitstream.h"
#include "entropy.h"
#include "stream.h"
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
    case ARG_GEMM_AUTO: g = kctx_auto_gemm(is_dec, NULL); break; /* measured at first use */
    case ARG_GEMM_REFERENCE: g = GEMM_REF; break;
    case ARG_GEMM_BUILTIN: g = GEMM_BUILTIN; break;
    case ARG_GEMM_BLAS: g = GEMM_BLAS; break;
    case ARG_GEMM_INT8: g = GEMM_INT8; break;
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
    int key[ARG_MAX_CLIP];   /* latent frame t of the chunk starts a GOP */
    int gop_pictures;        /* end the sequence after this many pictures (0: never) */
    int gop_latents;         /* for the sequence header */
    /* stream layer */
    ArgStreamInfo info;
    int64_t pictures_sent;   /* pictures sent since opening */
    int64_t next_pts;        /* first picture of the next packet */
    ArgTokenCoder *tc;
    float *rgb;              /* arg_encoder_send_yuv's conversion buffer */
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
    if (s && (s->gop_latents < ARG_GOP_NONE || s->gop_latents > 65535)) {
        rc = -EINVAL;
        goto fail;
    }
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
    {
        int gop = s ? s->gop_latents : 0;
        if (gop == 0)
            gop = ARG_GOP_DEFAULT;
        if (m->cfg.clip_scope) {
            e->gop_latents = nlat;
            e->gop_pictures = 0; /* every clip is a sequence anyway */
        } else if (gop == ARG_GOP_NONE) {
            e->gop_latents = 65535;
            e->gop_pictures = 0;
        } else {
            e->gop_latents = gop;
            e->gop_pictures = 1 + (gop - 1) * m->cfg.ft;
        }
    }
    e->info.fps_num = 25;
    e->info.fps_den = 1;
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
    free(e->rgb);
    arg_token_coder_close(e->tc);
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
        e->key[t] = t == 0 && e->seq_pictures == 0;
    }
    e->nz = s.t;
    e->zpos = 0;
    e->seq_pictures += real;
    e->have = 0;
    if (c->clip_scope || (e->gop_pictures && e->seq_pictures >= e->gop_pictures)) {
        /* end of a clip or of a GOP: the next picture starts a keyframe */
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
    e->pictures_sent++;
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
    out->keyframe = e->key[e->zpos];
    e->zpos++;
    return 0;
}

int arg_encoder_send_yuv(ArgEncoder *e, const ArgPictureYUV *pic)
{
    if (!e || !pic || pic->width != e->w || pic->height != e->h)
        return -EINVAL;
    if (e->zpos < e->nz)
        return -EAGAIN;
    if (!e->rgb && !(e->rgb = malloc((size_t)3 * e->w * e->h * sizeof(float))))
        return -ENOMEM;
    ArgPicture p = { e->rgb, e->w, e->h, e->w, (ptrdiff_t)e->w * e->h, pic->pts };
    int rc = arg_yuv_to_rgb(pic, &p);
    if (rc < 0)
        return rc;
    return arg_encoder_send_picture(e, &p);
}

int arg_encoder_set_stream_info(ArgEncoder *e, const ArgStreamInfo *info)
{
    if (!e || !info)
        return -EINVAL;
    for (size_t i = 0; i < sizeof(info->reserved) / sizeof(info->reserved[0]); i++)
        if (info->reserved[i])
            return -EINVAL;
    if ((info->fps_num == 0) != (info->fps_den == 0) ||
        (info->matrix != ARG_MATRIX_BT601 && info->matrix != ARG_MATRIX_BT709) ||
        info->chroma < ARG_CHROMA_420 || info->chroma > ARG_CHROMA_444)
        return -EINVAL;
    if (e->pictures_sent)
        return -EBUSY;
    e->info = *info;
    e->info.full_range = info->full_range != 0;
    if (!info->fps_num) {
        e->info.fps_num = 25;
        e->info.fps_den = 1;
    }
    return 0;
}

int arg_encoder_get_header(const ArgEncoder *e, ArgSequenceHeader *h)
{
    if (!e || !h)
        return -EINVAL;
    const ArgModel *m = e->m;
    memset(h, 0, sizeof(*h));
    h->model_id = m->info.id;
    snprintf(h->model_name, sizeof(h->model_name), "%.32s", m->info.name);
    h->width = e->w;
    h->height = e->h;
    h->coded_width = e->wc;
    h->coded_height = e->hc;
    h->fps_num = e->info.fps_num;
    h->fps_den = e->info.fps_den;
    h->frame_count = e->info.frame_count ? e->info.frame_count
                     : e->pictures_sent > UINT32_MAX ? 0 : (uint32_t)e->pictures_sent;
    h->temporal_factor = m->cfg.ft;
    h->spatial_factor = m->cfg.fs;
    h->lfq_bits = m->cfg.bits;
    int bt709 = e->info.matrix == ARG_MATRIX_BT709;
    h->matrix = h->primaries = h->transfer = bt709 ? 1 : 6;
    h->range = e->info.full_range ? 2 : 1;
    h->chroma = e->info.chroma == ARG_CHROMA_444 ? 444 : e->info.chroma == ARG_CHROMA_422 ? 422 : 420;
    h->gop_latents = e->gop_latents;
    h->coder = ARG_CODER_RANGE_V1;
    h->rate_max = ENT_RATE_MAX_DEFAULT;
    return 0;
}

int arg_encoder_sequence_header(ArgEncoder *e, uint8_t *out, size_t size)
{
    ArgSequenceHeader h;
    int rc = arg_encoder_get_header(e, &h);
    if (rc < 0)
        return rc;
    return arg_write_sequence_header(&h, out, size);
}

int arg_encoder_get_packet(ArgEncoder *e, ArgPacket *out)
{
    if (!e || !out)
        return -EINVAL;
    if (e->zpos >= e->nz)
        return -EAGAIN;
    int rc;
    if (!e->tc && (rc = arg_token_coder_open(&e->tc, e->m->cfg.bits, e->tw, e->th, ENT_RATE_MAX_DEFAULT)) < 0)
        return rc;
    ArgTokens t;
    if ((rc = arg_encoder_get_tokens(e, &t)) < 0)
        return rc;
    const uint8_t *data;
    size_t size;
    rc = tc_encode(e->tc, t.tokens, t.keyframe, arg_pkt_byte(t.keyframe, t.n_pictures), NULL, &data, &size);
    if (rc < 0)
        return rc;
    out->data = data;
    out->size = size;
    out->pts = e->next_pts;
    out->duration = t.n_pictures;
    out->keyframe = t.keyframe;
    out->tokens = t;
    e->next_pts += t.n_pictures;
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
    int64_t next_in_pts;     /* picture number of the next latent frame sent */
    int64_t stage_pts, out_pts; /* of the first picture of the staged / output chunk */
    /* stream layer (arg_decoder_open_stream) */
    int stream;
    ArgSequenceHeader hdr;
    ArgTokenCoder *tc;
    uint32_t *tok;           /* tokens of the last packet */
    int tok_ready, tok_key, tok_pics;
    int started;             /* a keyframe has been decoded since opening / the last error */
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
    arg_token_coder_close(d->tc);
    free(d->tok);
    free(d);
}

void arg_decoder_reset(ArgDecoder *d)
{
    if (!d || !d->r)
        return;
    d->r->ops->reset(d->r);
    d->have = d->pictures = d->seq_latents = 0;
    d->nout = d->outpos = 0;
}

int arg_decoder_send_tokens(ArgDecoder *d, const ArgTokens *tok)
{
    if (!d || !d->r || !tok || !tok->tokens || tok->tokens_w != d->tw || tok->tokens_h != d->th)
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
    if (d->have == 0)
        d->stage_pts = d->next_in_pts;
    d->next_in_pts += tok->n_pictures;
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
    d->out_pts = d->stage_pts;
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
    if (!d->r)
        return 0;
    /* fixed-clip models need whole clips: the encoder always emits them */
    return d->have ? -EINVAL : 0;
}

int arg_decoder_get_picture(ArgDecoder *d, ArgPicture *out)
{
    if (!d || !out || !d->r)
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
    out->pts = d->out_pts + d->outpos;
    d->outpos++;
    return 0;
}

int arg_decoder_get_yuv(ArgDecoder *d, ArgPictureYUV *out)
{
    if (!d || !out || !d->r || out->width != d->w || out->height != d->h)
        return -EINVAL;
    ArgPicture p;
    int rc = arg_decoder_get_picture(d, &p);
    if (rc < 0)
        return rc;
    return arg_rgb_to_yuv(&p, out);
}

static int say(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int say(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

int arg_decoder_open_stream(ArgDecoder **out, const ArgModel *m, const ArgSettings *s,
                            const uint8_t *seq, size_t size, unsigned flags, char *err, size_t errlen)
{
    if (!out)
        return say(err, errlen, -EINVAL, "no output pointer");
    *out = NULL;
    if (flags & ~ARG_DECODER_IGNORE_MODEL_ID)
        return say(err, errlen, -EINVAL, "unknown flags 0x%x", flags);
    ArgSequenceHeader h;
    int rc = arg_parse_sequence_header(&h, seq, size, err, errlen);
    if (rc < 0)
        return rc;
    ArgDecoder *d = NULL;
    if (m) {
        const ArgModelInfo *mi = &m->info;
        if (mi->id != h.model_id && !(flags & ARG_DECODER_IGNORE_MODEL_ID))
            return say(err, errlen, -EINVAL,
                       "the stream was made with model \"%s\" (%016llx) but this model is \"%s\" (%016llx)",
                       h.model_name, (unsigned long long)h.model_id, mi->name, (unsigned long long)mi->id);
        if (m->cfg.ft != h.temporal_factor || m->cfg.fs != h.spatial_factor || m->cfg.bits != h.lfq_bits)
            return say(err, errlen, -EINVAL,
                       "the model's tokens (%d bits, %dx%dx%d) do not match the stream's (%d bits, %dx%dx%d)",
                       m->cfg.bits, m->cfg.ft, m->cfg.fs, m->cfg.fs, h.lfq_bits, h.temporal_factor,
                       h.spatial_factor, h.spatial_factor);
        if ((rc = arg_decoder_open(&d, m, s, h.width, h.height)) < 0)
            return say(err, errlen, rc, "cannot open the decoder for %dx%d: %s", h.width, h.height,
                       strerror(-rc));
        int wc = d->wc, hc = d->hc;
        if (wc != h.coded_width || hc != h.coded_height) {
            arg_decoder_close(d);
            return say(err, errlen, -EINVAL, "coded size %dx%d does not match the model's %dx%d",
                       h.coded_width, h.coded_height, wc, hc);
        }
    } else {
        if (!(d = calloc(1, sizeof(*d))))
            return say(err, errlen, -ENOMEM, "out of memory");
        d->w = h.width;
        d->h = h.height;
        d->wc = h.coded_width;
        d->hc = h.coded_height;
        d->tw = h.coded_width / h.spatial_factor;
        d->th = h.coded_height / h.spatial_factor;
    }
    d->stream = 1;
    d->hdr = h;
    if ((rc = arg_token_coder_open(&d->tc, h.lfq_bits, d->tw, d->th, h.rate_max)) < 0 ||
        !(d->tok = malloc((size_t)d->tw * d->th * sizeof(uint32_t)))) {
        int tw = d->tw, th = d->th;
        arg_decoder_close(d);
        return say(err, errlen, rc < 0 ? rc : -ENOMEM, "cannot set up the token decoder for %dx%d tokens",
                   tw, th);
    }
    *out = d;
    return 0;
}

int arg_decoder_get_header(const ArgDecoder *d, ArgSequenceHeader *h)
{
    if (!d || !h || !d->stream)
        return -EINVAL;
    *h = d->hdr;
    return 0;
}

int arg_decoder_send_packet(ArgDecoder *d, const ArgPacket *p)
{
    if (!d || !p || !d->stream || (!p->data && p->size))
        return -EINVAL;
    if (d->r ? d->outpos < d->nout : d->tok_ready)
        return -EAGAIN;
    d->tok_ready = 0;
    if (p->size < 1 || (p->data[0] & 0x60)) { /* empty, or reserved bits set */
        d->started = 0;
        return -EBADMSG;
    }
    int key = (p->data[0] & ARG_PKT_KEY) != 0, npics = p->data[0] & 0x1F;
    if (!key && !d->started)
        return 1; /* wait for a keyframe */
    if (npics > (key ? 1 : d->hdr.temporal_factor)) {
        d->started = 0;
        return -EBADMSG;
    }
    int rc = arg_token_coder_decode(d->tc, p->data + 1, p->size - 1, key, d->tok);
    if (rc < 0) {
        d->started = 0;
        return rc;
    }
    d->started = 1;
    if (p->pts >= 0)
        d->next_in_pts = p->pts;
    if (d->r) {
        if (key && !d->m->cfg.clip_scope)
            arg_decoder_reset(d);
        ArgTokens t = { d->tok, NULL, d->tw, d->th, 0, npics, key };
        if ((rc = arg_decoder_send_tokens(d, &t)) < 0) {
            d->started = 0;
            return rc;
        }
    } else {
        d->next_in_pts += npics;
    }
    d->tok_ready = 1;
    d->tok_key = key;
    d->tok_pics = npics;
    return 0;
}

int arg_decoder_get_tokens(ArgDecoder *d, ArgTokens *out)
{
    if (!d || !out || !d->stream)
        return -EINVAL;
    if (!d->tok_ready)
        return -EAGAIN;
    out->tokens = d->tok;
    out->latent = NULL;
    out->tokens_w = d->tw;
    out->tokens_h = d->th;
    out->index = 0;
    out->n_pictures = d->tok_pics;
    out->keyframe = d->tok_key;
    d->tok_ready = 0;
    return 0;
}

const char *arg_encoder_backend(const ArgEncoder *e)
{
    return e ? e->r->name : "";
}

const char *arg_decoder_backend(const ArgDecoder *d)
{
    return d && d->r ? d->r->name : d ? "none (tokens only)" : "";
}
