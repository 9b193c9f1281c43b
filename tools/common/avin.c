/* avin: argenc's input through FFmpeg's libraries (see avin.h). */
#include "avin.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/audio_fifo.h>
#include <libavutil/channel_layout.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>

#include "y4m.h"

#define OUT_RATE 48000
#define MAX_QUEUE_BYTES (512ll << 20) /* packets waiting for the other stream */

typedef struct PktQueue {
    AVPacket **p;
    int n, cap, head;
    int64_t bytes;
} PktQueue;

struct Avin {
    AvinOptions o;
    AvinInfo info;
    AVFormatContext *fmt;
    AVIOContext *pb;            /* custom I/O over o.file */
    int vidx, aidx;             /* stream indices, -1 none */
    AVCodecContext *vdec, *adec;
    AVPacket *pkt;
    PktQueue vq, aq;
    int demux_eof, vdec_flushed, adec_flushed, video_done;
    double t0;                  /* seconds, in the streams' time: picture 0 */
    double origin;              /* the input's start time */
    int t0_final;               /* t0 is the first picture's time (audio waits for it) */
    double src_fps;             /* for missing or repeated timestamps */
    double fps;                 /* output */
    /* video: the current and the next decoded picture */
    AVFrame *cur, *next;
    int have_cur, have_next, vid_eof;
    int64_t cur_slot, next_slot, end_slot;
    double last_t;
    int64_t out_k;
    /* conversion */
    int src_w, src_h;
    int direct_fmt;             /* AVPixelFormat usable without swscale (-1 none) */
    int sws_fmt;                /* AVPixelFormat swscale writes */
    int rgb_path;               /* swscale gives GBRP */
    struct SwsContext *sws;
    int sws_key[3];             /* w, h, format of the frames it was made for */
    Y4mImage img;               /* swscale's YUV output */
    uint8_t *gbr[3];            /* swscale's GBRP output */
    int gbr_stride;
    /* audio */
    AVFrame *aframe;
    SwrContext *swr;
    AVChannelLayout swr_in;
    int swr_in_rate, swr_in_fmt;
    AVAudioFifo *fifo;
    int a_started;
    int64_t a_skip;             /* output samples still to drop (before t0) */
    int a_eof;
    AVPacket *apkt;             /* copy mode: the packet handed out */
    char err[512];
};

static int fail(Avin *a, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(Avin *a, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->err, sizeof(a->err), fmt, ap);
    va_end(ap);
    return rc;
}

static const char *averr(int e, char *buf, size_t n)
{
    if (av_strerror(e, buf, n) < 0)
        snprintf(buf, n, "error %d", e);
    return buf;
}

/* ------------------------------------------------------------ packet queue */

static int q_push(PktQueue *q, AVPacket *p)
{
    if (q->bytes > MAX_QUEUE_BYTES)
        return -ENOMEM;
    if (q->n == q->cap) {
        int cap = q->cap ? 2 * q->cap : 64;
        AVPacket **np = malloc((size_t)cap * sizeof(*np));
        if (!np)
            return -ENOMEM;
        for (int i = 0; i < q->n; i++)
            np[i] = q->p[(q->head + i) % q->cap];
        free(q->p);
        q->p = np;
        q->cap = cap;
        q->head = 0;
    }
    AVPacket *c = av_packet_clone(p);
    if (!c)
        return -ENOMEM;
    q->p[(q->head + q->n) % q->cap] = c;
    q->n++;
    q->bytes += c->size;
    return 0;
}

static AVPacket *q_pop(PktQueue *q)
{
    if (!q->n)
        return NULL;
    AVPacket *p = q->p[q->head];
    q->head = (q->head + 1) % q->cap;
    q->n--;
    q->bytes -= p->size;
    return p;
}

static void q_free(PktQueue *q)
{
    AVPacket *p;
    while ((p = q_pop(q)))
        av_packet_free(&p);
    free(q->p);
    memset(q, 0, sizeof(*q));
}

/* --------------------------------------------------------- standard input */

typedef struct Peek {
    uint8_t head[64];
    size_t n, pos;
    int fd;
} Peek;

static ssize_t peek_read(void *c, char *buf, size_t size)
{
    Peek *p = c;
    if (p->pos < p->n) {
        size_t k = p->n - p->pos < size ? p->n - p->pos : size;
        memcpy(buf, p->head + p->pos, k);
        p->pos += k;
        return (ssize_t)k;
    }
    for (;;) {
        ssize_t r = read(p->fd, buf, size);
        if (r < 0 && errno == EINTR)
            continue;
        return r;
    }
}

static int peek_close(void *c)
{
    Peek *p = c;
    if (p->fd > 2)
        close(p->fd);
    free(c);
    return 0;
}

FILE *avin_peek_fd(int fd, uint8_t *head, size_t n, size_t *got)
{
    Peek *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->fd = fd;
    if (n > sizeof(p->head))
        n = sizeof(p->head);
    while (p->n < n) {
        ssize_t r = read(fd, p->head + p->n, n - p->n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        p->n += (size_t)r;
    }
    memcpy(head, p->head, p->n);
    *got = p->n;
    cookie_io_functions_t io = { peek_read, NULL, NULL, peek_close };
    FILE *f = fopencookie(p, "rb", io);
    if (!f)
        free(p);
    return f;
}

static int file_read(void *opaque, uint8_t *buf, int size)
{
    size_t n = fread(buf, 1, (size_t)size, (FILE *)opaque);
    if (n == 0)
        return ferror((FILE *)opaque) ? AVERROR(EIO) : AVERROR_EOF;
    return (int)n;
}

/* -------------------------------------------------------------- demuxing */

static int handle_audio_packet(Avin *a, AVPacket *p);

/* Read one packet and route it: video to the queue (or the caller when
 * want_video), audio to its decoder (or queue in copy mode). Returns 1 with
 * a video packet in a->pkt when want_video, 0 after routing something else,
 * AVERROR_EOF at the end, or an error. */
static int demux(Avin *a, int want_video)
{
    if (a->demux_eof)
        return AVERROR_EOF;
    int rc = av_read_frame(a->fmt, a->pkt);
    if (rc == AVERROR_EOF || (rc < 0 && avio_feof(a->fmt->pb))) {
        a->demux_eof = 1;
        return AVERROR_EOF;
    }
    if (rc < 0)
        return rc;
    if (a->pkt->stream_index == a->vidx) {
        if (want_video)
            return 1;
        if (!a->video_done && !a->vid_eof)
            rc = q_push(&a->vq, a->pkt);
        av_packet_unref(a->pkt);
        if (rc < 0)
            return fail(a, rc, "too much video waiting while reading ahead for audio (badly interleaved file?)");
        return 0;
    }
    if (a->pkt->stream_index == a->aidx && !a->a_eof) {
        rc = handle_audio_packet(a, a->pkt);
        av_packet_unref(a->pkt);
        return rc < 0 ? rc : 0;
    }
    av_packet_unref(a->pkt);
    return 0;
}

/* --------------------------------------------------------------- video */

static double frame_time(Avin *a, const AVFrame *f)
{
    int64_t ts = f->best_effort_timestamp;
    if (ts == AV_NOPTS_VALUE)
        ts = f->pts;
    double t = ts == AV_NOPTS_VALUE ? NAN : ts * av_q2d(a->fmt->streams[a->vidx]->time_base);
    /* missing or non-increasing timestamps (B-frames without composition
     * offsets): one source picture after the last */
    if (!(t > a->last_t))
        t = isinf(a->last_t) ? a->t0 : a->last_t + 1.0 / a->src_fps;
    a->last_t = t;
    return t;
}

/* The next decoded picture into f: 1, 0 at the end, or an error. */
static int decode_video(Avin *a, AVFrame *f)
{
    for (;;) {
        int rc = avcodec_receive_frame(a->vdec, f);
        if (rc == 0)
            return 1;
        if (rc == AVERROR_EOF)
            return 0;
        if (rc != AVERROR(EAGAIN))
            return rc;
        AVPacket *p = q_pop(&a->vq);
        if (p) {
            rc = avcodec_send_packet(a->vdec, p);
            av_packet_free(&p);
        } else {
            rc = demux(a, 1);
            if (rc == AVERROR_EOF) {
                if (a->vdec_flushed)
                    return 0;
                a->vdec_flushed = 1;
                rc = avcodec_send_packet(a->vdec, NULL);
            } else if (rc == 1) {
                rc = avcodec_send_packet(a->vdec, a->pkt);
                av_packet_unref(a->pkt);
            } else if (rc < 0) {
                return rc;
            } else {
                continue;
            }
        }
        /* a damaged packet: the decoder says so and goes on with the next */
        if (rc < 0 && rc != AVERROR(EAGAIN) && rc != AVERROR_INVALIDDATA && rc != AVERROR_EOF)
            return rc;
    }
}

static int64_t slot_of(const Avin *a, double t)
{
    return (int64_t)llround((t - a->t0) * a->fps);
}

static int fetch_next(Avin *a)
{
    if (a->have_next || a->vid_eof)
        return 0;
    for (;;) {
        int rc = decode_video(a, a->next);
        if (rc < 0) {
            char b[128];
            return fail(a, -EIO, "decoding the video failed: %s", averr(rc, b, sizeof(b)));
        }
        if (rc == 0) {
            a->vid_eof = 1;
            return 0;
        }
        double t = frame_time(a, a->next);
        if (!a->t0_final) {
            /* picture 0: the first at or after the start (ffmpeg's -ss); a
             * timestamp rounded a little early still counts */
            double tol = 0.25 / a->src_fps < 0.001 ? 0.25 / a->src_fps : 0.001;
            if (t < a->t0 - tol) {
                av_frame_unref(a->next);
                continue;
            }
            a->t0 = t;
            a->t0_final = 1;
        }
        a->have_next = 1;
        a->next_slot = slot_of(a, t);
        return 0;
    }
}

static int pixfmt_is_planar8_yuv(int fmt, int *chroma_w, int *chroma_h)
{
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(fmt);
    if (!d || (d->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL | AV_PIX_FMT_FLAG_BITSTREAM)) ||
        d->nb_components < 3)
        return 0;
    *chroma_w = d->log2_chroma_w;
    *chroma_h = d->log2_chroma_h;
    return 1;
}

/* Build (or keep) the swscale context for frames like f. */
static int setup_sws(Avin *a, const AVFrame *f)
{
    if (a->sws && a->sws_key[0] == f->width && a->sws_key[1] == f->height && a->sws_key[2] == f->format)
        return 0;
    sws_freeContext(a->sws);
    a->sws = sws_alloc_context();
    if (!a->sws)
        return -ENOMEM;
    const AvinInfo *in = &a->info;
    av_opt_set_int(a->sws, "srcw", f->width, 0);
    av_opt_set_int(a->sws, "srch", f->height, 0);
    av_opt_set_int(a->sws, "src_format", f->format, 0);
    av_opt_set_int(a->sws, "dstw", in->width, 0);
    av_opt_set_int(a->sws, "dsth", in->height, 0);
    av_opt_set_int(a->sws, "dst_format", a->sws_fmt, 0);
    av_opt_set_int(a->sws, "sws_flags", SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT | SWS_FULL_CHR_H_INP, 0);
    /* chroma siting in 1/256 of a luma sample: left = 0, centre = 128 */
    int h_pos = 128, v_pos = 128;
    switch (f->chroma_location) {
    case AVCHROMA_LOC_LEFT: h_pos = 0; break;
    case AVCHROMA_LOC_TOPLEFT: h_pos = 0; v_pos = 0; break;
    case AVCHROMA_LOC_TOP: v_pos = 0; break;
    case AVCHROMA_LOC_BOTTOMLEFT: h_pos = 0; v_pos = 256; break;
    case AVCHROMA_LOC_BOTTOM: v_pos = 256; break;
    default: break;
    }
    int cw, ch;
    if (pixfmt_is_planar8_yuv(f->format, &cw, &ch)) {
        if (cw)
            av_opt_set_int(a->sws, "src_h_chr_pos", h_pos, 0);
        if (ch)
            av_opt_set_int(a->sws, "src_v_chr_pos", v_pos, 0);
    }
    if (!a->rgb_path) {
        int dh = in->chroma == Y4M_C420MPEG2 || in->chroma == Y4M_C422 ? 0 : 128;
        if (in->chroma != Y4M_C444)
            av_opt_set_int(a->sws, "dst_h_chr_pos", dh, 0);
        if (in->chroma == Y4M_C420JPEG || in->chroma == Y4M_C420MPEG2)
            av_opt_set_int(a->sws, "dst_v_chr_pos", 128, 0);
    }
    if (sws_init_context(a->sws, NULL, NULL) < 0) {
        sws_freeContext(a->sws);
        a->sws = NULL;
        return fail(a, -EINVAL, "libswscale cannot convert %s %dx%d to %s %dx%d",
                    av_get_pix_fmt_name(f->format), f->width, f->height, av_get_pix_fmt_name(a->sws_fmt),
                    in->width, in->height);
    }
    /* the stream's matrix and range in; YUV out keeps them (no colour
     * change, only layout, depth and size), RGB out is full range */
    int cs = SWS_CS_ITU601;
    switch (f->colorspace) {
    case AVCOL_SPC_BT709: cs = SWS_CS_ITU709; break;
    case AVCOL_SPC_SMPTE240M: cs = SWS_CS_SMPTE240M; break;
    case AVCOL_SPC_BT2020_NCL:
    case AVCOL_SPC_BT2020_CL: cs = SWS_CS_BT2020; break;
    case AVCOL_SPC_FCC: cs = SWS_CS_FCC; break;
    case AVCOL_SPC_UNSPECIFIED: cs = in->matrix == Y4M_MATRIX_BT709 ? SWS_CS_ITU709 : SWS_CS_ITU601; break;
    default: break;
    }
    if (a->o.matrix >= 0)
        cs = a->o.matrix == Y4M_MATRIX_BT709 ? SWS_CS_ITU709 : SWS_CS_ITU601;
    int src_full = f->color_range == AVCOL_RANGE_JPEG;
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(f->format);
    if (d && (d->flags & AV_PIX_FMT_FLAG_RGB))
        src_full = 1;
    if (f->format == AV_PIX_FMT_YUVJ420P || f->format == AV_PIX_FMT_YUVJ422P || f->format == AV_PIX_FMT_YUVJ444P)
        src_full = 1;
    int dst_full = a->rgb_path ? 1 : in->full_range;
    const int *coef = sws_getCoefficients(cs);
    sws_setColorspaceDetails(a->sws, coef, src_full, a->rgb_path ? sws_getCoefficients(SWS_CS_ITU709) : coef,
                             dst_full, 0, 1 << 16, 1 << 16);
    a->sws_key[0] = f->width;
    a->sws_key[1] = f->height;
    a->sws_key[2] = f->format;
    return 0;
}

static int convert(Avin *a, const AVFrame *f, float *rgb, ptrdiff_t stride, ptrdiff_t ps)
{
    const AvinInfo *in = &a->info;
    Y4mColor col = { in->matrix, in->full_range, Y4M_UPSAMPLE_BILINEAR };
    if (!a->rgb_path && f->format == a->direct_fmt && f->width == in->width && f->height == in->height) {
        Y4mImage v;
        memset(&v, 0, sizeof(v));
        int sx = 0, sy = 0;
        y4m_chroma_shifts(in->chroma, &sx, &sy);
        for (int p = 0; p < 3; p++) {
            v.data[p] = f->data[p];
            v.stride[p] = f->linesize[p];
            v.w[p] = p ? (in->width + sx) >> sx : in->width;
            v.h[p] = p ? (in->height + sy) >> sy : in->height;
        }
        v.chroma = in->chroma;
        return y4m_yuv_to_rgb(&v, &col, rgb, stride, ps);
    }
    int rc = setup_sws(a, f);
    if (rc < 0)
        return rc;
    if (a->rgb_path) {
        uint8_t *dst[4] = { a->gbr[0], a->gbr[1], a->gbr[2], NULL };
        int ls[4] = { a->gbr_stride, a->gbr_stride, a->gbr_stride, 0 };
        sws_scale(a->sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, dst, ls);
        static const int plane_of[3] = { 2, 0, 1 }; /* GBRP: G, B, R; ours R, G, B */
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < in->height; y++) {
                const uint8_t *s = a->gbr[plane_of[c]] + (size_t)y * a->gbr_stride;
                float *d = rgb + c * ps + y * stride;
                for (int x = 0; x < in->width; x++)
                    d[x] = s[x] * (2.0f / 255.0f) - 1.0f;
            }
        return 0;
    }
    uint8_t *dst[4] = { a->img.data[0], a->img.data[1], a->img.data[2], NULL };
    int ls[4] = { (int)a->img.stride[0], (int)a->img.stride[1], (int)a->img.stride[2], 0 };
    sws_scale(a->sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, dst, ls);
    return y4m_yuv_to_rgb(&a->img, &col, rgb, stride, ps);
}

int avin_read_video(Avin *a, float *rgb, ptrdiff_t stride, ptrdiff_t plane_stride)
{
    if (a->vidx < 0 || a->video_done)
        return 0;
    int64_t k = a->out_k;
    for (;;) {
        int rc = fetch_next(a);
        if (rc < 0)
            return rc;
        if (a->have_next && (!a->have_cur || a->next_slot <= k)) {
            AVFrame *t = a->cur;
            a->cur = a->next;
            a->next = t;
            av_frame_unref(a->next);
            a->have_cur = 1;
            a->have_next = 0;
            a->cur_slot = a->next_slot;
            /* where the picture ends when it is the last one */
            a->end_slot = slot_of(a, a->last_t + 1.0 / a->src_fps);
            if (a->end_slot <= a->cur_slot)
                a->end_slot = a->cur_slot + 1;
            continue;
        }
        break;
    }
    if (!a->have_cur)
        return 0;
    if (!a->have_next && a->vid_eof && k >= a->end_slot)
        return 0;
    int rc = convert(a, a->cur, rgb, stride, plane_stride);
    if (rc < 0)
        return rc;
    a->out_k++;
    return 1;
}

void avin_video_done(Avin *a)
{
    a->video_done = 1;
    q_free(&a->vq);
}

/* --------------------------------------------------------------- audio */

static int fifo_write_silence(Avin *a, int64_t n)
{
    float zero[2 * 1024];
    memset(zero, 0, sizeof(zero));
    while (n > 0) {
        int k = n > 1024 ? 1024 : (int)n;
        void *p[1] = { zero };
        if (av_audio_fifo_write(a->fifo, p, k) < k)
            return -ENOMEM;
        n -= k;
    }
    return 0;
}

/* Resampled samples into the FIFO, dropping those before t0. */
static int fifo_put(Avin *a, uint8_t *data, int n)
{
    if (a->a_skip > 0) {
        int drop = a->a_skip < n ? (int)a->a_skip : n;
        a->a_skip -= drop;
        data += (size_t)drop * a->info.audio_channels * sizeof(float);
        n -= drop;
    }
    if (n <= 0)
        return 0;
    void *p[1] = { data };
    return av_audio_fifo_write(a->fifo, p, n) < n ? -ENOMEM : 0;
}

static int resample(Avin *a, const AVFrame *f)
{
    if (!a->swr || f->sample_rate != a->swr_in_rate || f->format != a->swr_in_fmt ||
        av_channel_layout_compare(&f->ch_layout, &a->swr_in)) {
        if (a->swr) { /* a change of format mid-stream: finish the old one */
            uint8_t buf[4096 * 2 * sizeof(float)];
            uint8_t *o[1] = { buf };
            int n;
            while ((n = swr_convert(a->swr, o, 4096, NULL, 0)) > 0)
                if (fifo_put(a, buf, n) < 0)
                    return -ENOMEM;
        }
        swr_free(&a->swr);
        av_channel_layout_uninit(&a->swr_in);
        AVChannelLayout in_l, out_l;
        if (f->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC || f->ch_layout.nb_channels <= 0)
            av_channel_layout_default(&in_l, f->ch_layout.nb_channels > 0 ? f->ch_layout.nb_channels : 1);
        else if (av_channel_layout_copy(&in_l, &f->ch_layout) < 0)
            return -ENOMEM;
        av_channel_layout_default(&out_l, a->info.audio_channels);
        int rc = swr_alloc_set_opts2(&a->swr, &out_l, AV_SAMPLE_FMT_FLT, OUT_RATE, &in_l, f->format,
                                     f->sample_rate, 0, NULL);
        av_channel_layout_uninit(&out_l);
        if (rc >= 0)
            rc = swr_init(a->swr);
        av_channel_layout_uninit(&in_l);
        if (rc < 0)
            return fail(a, -EINVAL, "libswresample cannot convert %d Hz %d ch %s audio", f->sample_rate,
                        f->ch_layout.nb_channels, av_get_sample_fmt_name(f->format));
        if (av_channel_layout_copy(&a->swr_in, &f->ch_layout) < 0)
            return -ENOMEM;
        a->swr_in_rate = f->sample_rate;
        a->swr_in_fmt = f->format;
    }
    if (!a->a_started) { /* align the first sample with t0 (a decoder that drops its first
                          * packets, MP3's, starts later: silence fills the gap) */
        a->a_started = 1;
        int64_t ts = f->best_effort_timestamp;
        if (ts != AV_NOPTS_VALUE) {
            double t = ts * av_q2d(a->fmt->streams[a->aidx]->time_base);
            int64_t off = llround((t - a->t0) * OUT_RATE);
            if (off > 0 && fifo_write_silence(a, off) < 0)
                return -ENOMEM;
            if (off < 0)
                a->a_skip = -off;
        }
    }
    int cap = swr_get_out_samples(a->swr, f->nb_samples);
    if (cap < 0)
        return -EINVAL;
    uint8_t *buf = malloc((size_t)(cap + 1) * a->info.audio_channels * sizeof(float));
    if (!buf)
        return -ENOMEM;
    uint8_t *o[1] = { buf };
    int n = swr_convert(a->swr, o, cap + 1, (const uint8_t **)f->extended_data, f->nb_samples);
    int rc = n < 0 ? -EIO : fifo_put(a, buf, n);
    free(buf);
    return rc;
}

static int drain_audio_decoder(Avin *a)
{
    for (;;) {
        int rc = avcodec_receive_frame(a->adec, a->aframe);
        if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF)
            return 0;
        if (rc < 0) {
            char b[128];
            return fail(a, -EIO, "decoding the audio failed: %s", averr(rc, b, sizeof(b)));
        }
        rc = resample(a, a->aframe);
        av_frame_unref(a->aframe);
        if (rc < 0)
            return rc;
    }
}

static int handle_audio_packet(Avin *a, AVPacket *p)
{
    if (a->info.audio_copy || (!a->t0_final && a->vidx >= 0))
        return q_push(&a->aq, p) < 0 ? fail(a, -ENOMEM, "too much audio waiting for the video") : 0;
    int rc = avcodec_send_packet(a->adec, p);
    if (rc < 0 && rc != AVERROR_INVALIDDATA && rc != AVERROR(EAGAIN)) {
        char b[128];
        return fail(a, -EIO, "decoding the audio failed: %s", averr(rc, b, sizeof(b)));
    }
    return drain_audio_decoder(a);
}

/* At the end of the input: flush the decoder and the resampler. */
static int finish_audio(Avin *a)
{
    if (a->adec_flushed)
        return 0;
    a->adec_flushed = 1;
    if (a->info.audio_copy)
        return 0;
    avcodec_send_packet(a->adec, NULL);
    int rc = drain_audio_decoder(a);
    if (rc < 0)
        return rc;
    if (a->swr) {
        uint8_t buf[4096 * 2 * sizeof(float)];
        uint8_t *o[1] = { buf };
        int n;
        while ((n = swr_convert(a->swr, o, 4096, NULL, 0)) > 0)
            if (fifo_put(a, buf, n) < 0)
                return -ENOMEM;
    }
    return 0;
}

long avin_read_audio(Avin *a, float *out, long n)
{
    if (a->aidx < 0 || a->info.audio_copy)
        return 0;
    while (av_audio_fifo_size(a->fifo) < n && !a->adec_flushed) {
        AVPacket *q = q_pop(&a->aq); /* read while looking for picture 0 */
        int rc;
        if (q) {
            rc = handle_audio_packet(a, q);
            av_packet_free(&q);
        } else {
            rc = demux(a, 0);
        }
        if (rc == AVERROR_EOF)
            rc = finish_audio(a);
        if (rc < 0) {
            if (!a->err[0]) {
                char b[128];
                fail(a, rc, "reading the input failed: %s", averr(rc, b, sizeof(b)));
            }
            return rc < -4096 ? -EIO : rc;
        }
    }
    int k = av_audio_fifo_size(a->fifo);
    if (k > n)
        k = (int)n;
    if (k <= 0)
        return 0;
    void *p[1] = { out };
    return av_audio_fifo_read(a->fifo, p, k);
}

int avin_read_audio_packet(Avin *a, const uint8_t **data, size_t *size, int64_t *pts_ns, int64_t *dur_ns)
{
    if (a->aidx < 0 || !a->info.audio_copy)
        return 0;
    AVRational tb = a->fmt->streams[a->aidx]->time_base;
    for (;;) {
        av_packet_free(&a->apkt);
        a->apkt = q_pop(&a->aq);
        if (!a->apkt) {
            int rc = demux(a, 0);
            if (rc == AVERROR_EOF)
                return 0;
            if (rc < 0)
                return rc < -4096 ? -EIO : rc;
            continue;
        }
        AVPacket *p = a->apkt;
        int64_t ts = p->pts != AV_NOPTS_VALUE ? p->pts : p->dts;
        if (ts == AV_NOPTS_VALUE)
            continue; /* cannot place it */
        double t = ts * av_q2d(tb) - a->t0;
        double d = p->duration > 0 ? p->duration * av_q2d(tb) : 0.02;
        if (t + d <= 0)
            continue; /* wholly before t0 */
        *data = p->data;
        *size = (size_t)p->size;
        *pts_ns = t > 0 ? llround(t * 1e9) : 0;
        *dur_ns = llround(d * 1e9);
        return 1;
    }
}

/* ---------------------------------------------------------------- open */

static AVStream *nth_stream(AVFormatContext *fmt, enum AVMediaType type, int n, int *index)
{
    for (unsigned i = 0; i < fmt->nb_streams; i++)
        if (fmt->streams[i]->codecpar->codec_type == type && n-- == 0) {
            *index = (int)i;
            return fmt->streams[i];
        }
    *index = -1;
    return NULL;
}

static int count_streams(AVFormatContext *fmt, enum AVMediaType type)
{
    int n = 0;
    for (unsigned i = 0; i < fmt->nb_streams; i++)
        n += fmt->streams[i]->codecpar->codec_type == type;
    return n;
}

static int open_decoder(Avin *a, AVStream *st, AVCodecContext **out, const char *what)
{
    const AVCodec *c = avcodec_find_decoder(st->codecpar->codec_id);
    const char *name = avcodec_get_name(st->codecpar->codec_id);
    if (!c)
        return fail(a, -ENOTSUP, "%s: the %s stream (codec %s) cannot be decoded by FFmpeg's libraries", a->o.path,
                    what, st->codecpar->codec_id == AV_CODEC_ID_NONE ? "unknown" : name);
    AVCodecContext *d = avcodec_alloc_context3(c);
    if (!d)
        return -ENOMEM;
    *out = d;
    if (avcodec_parameters_to_context(d, st->codecpar) < 0)
        return -ENOMEM;
    d->pkt_timebase = st->time_base;
    int rc = avcodec_open2(d, c, NULL);
    if (rc < 0) {
        char b[128];
        return fail(a, -ENOTSUP, "%s: cannot open the %s decoder for the %s stream: %s", a->o.path, name, what,
                    averr(rc, b, sizeof(b)));
    }
    return 0;
}

static const char *chroma_name(int c)
{
    switch (c) {
    case Y4M_C420JPEG: return "4:2:0 centre";
    case Y4M_C420MPEG2: return "4:2:0 left";
    case Y4M_C420PALDV: return "4:2:0 paldv";
    case Y4M_C422: return "4:2:2";
    default: return "4:4:4";
    }
}

/* Describe the output pictures from the first decoded one. */
static int setup_video(Avin *a, const AVFrame *f)
{
    AvinInfo *in = &a->info;
    a->src_w = f->width;
    a->src_h = f->height;
    int W = a->o.width, H = a->o.height;
    if (W <= 0 && H <= 0) {
        W = f->width;
        H = f->height;
    } else if (W <= 0) {
        W = (int)lround((double)H * f->width / f->height);
        if (a->o.width == -2)
            W = (W + 1) & ~1;
    } else if (H <= 0) {
        H = (int)lround((double)W * f->height / f->width);
        if (a->o.height == -2)
            H = (H + 1) & ~1;
    }
    if (W < 1 || H < 1 || W > Y4M_MAX_DIM || H > Y4M_MAX_DIM)
        return fail(a, -EINVAL, "%s: picture size %dx%d out of range", a->o.path, W, H);
    in->width = W;
    in->height = H;
    int cw = 0, ch = 0;
    int yuv = pixfmt_is_planar8_yuv(f->format, &cw, &ch);
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(f->format);
    int matrix = -1; /* -1: ARG cannot describe it */
    switch (f->colorspace) {
    case AVCOL_SPC_BT709: matrix = Y4M_MATRIX_BT709; break;
    case AVCOL_SPC_BT470BG:
    case AVCOL_SPC_SMPTE170M:
    case AVCOL_SPC_FCC: matrix = Y4M_MATRIX_BT601; break;
    case AVCOL_SPC_UNSPECIFIED:
    case AVCOL_SPC_RESERVED: /* HD is BT.709; Y4M cannot say, and argenc's Y4M path takes BT.601 */
        matrix = f->height > 576 && strcmp(a->fmt->iformat->name, "yuv4mpegpipe") ? Y4M_MATRIX_BT709
                                                                                  : Y4M_MATRIX_BT601;
        break;
    default: break;
    }
    if (a->o.matrix >= 0)
        matrix = a->o.matrix;
    const char *why_rgb = NULL;
    if (!yuv)
        why_rgb = "RGB or grey";
    else if (matrix < 0)
        why_rgb = av_color_space_name(f->colorspace);
    if (why_rgb) {
        /* through RGB: the decoder's default output is BT.709 limited 4:2:0 */
        a->rgb_path = 1;
        a->sws_fmt = AV_PIX_FMT_GBRP;
        a->direct_fmt = -1;
        in->matrix = Y4M_MATRIX_BT709;
        in->full_range = 0;
        in->chroma = Y4M_C420MPEG2;
        a->gbr_stride = (W + 63) & ~63;
        for (int p = 0; p < 3; p++)
            if (!(a->gbr[p] = malloc((size_t)a->gbr_stride * H)))
                return -ENOMEM;
    } else {
        in->matrix = matrix;
        in->full_range = f->color_range == AVCOL_RANGE_JPEG || f->format == AV_PIX_FMT_YUVJ420P ||
                         f->format == AV_PIX_FMT_YUVJ422P || f->format == AV_PIX_FMT_YUVJ444P;
        if (cw == 1 && ch == 1) {
            in->chroma = f->chroma_location == AVCHROMA_LOC_LEFT || f->chroma_location == AVCHROMA_LOC_TOPLEFT
                             ? Y4M_C420MPEG2 : Y4M_C420JPEG;
            a->sws_fmt = AV_PIX_FMT_YUV420P;
        } else if (cw == 1 && ch == 0) {
            in->chroma = Y4M_C422;
            a->sws_fmt = AV_PIX_FMT_YUV422P;
        } else {
            in->chroma = Y4M_C444;
            a->sws_fmt = AV_PIX_FMT_YUV444P;
        }
        /* usable as they are: 8-bit planar of that layout */
        a->direct_fmt = -1;
        if (d && d->comp[0].depth == 8 && (d->flags & AV_PIX_FMT_FLAG_PLANAR) && d->nb_components == 3 &&
            ((cw == 1 && ch == 1) || (cw == 1 && ch == 0) || (cw == 0 && ch == 0)))
            a->direct_fmt = f->format;
        if (y4m_image_alloc(&a->img, W, H, in->chroma) < 0)
            return -ENOMEM;
    }
    AVStream *st = a->fmt->streams[a->vidx];
    char scaled[48] = "";
    if (W != f->width || H != f->height)
        snprintf(scaled, sizeof(scaled), " -> %dx%d", W, H);
    snprintf(in->video_desc, sizeof(in->video_desc), "%s %dx%d%s %s, %s%s %s, %s, %.3f fps%s",
             avcodec_get_name(st->codecpar->codec_id), f->width, f->height, scaled,
             d ? d->name : "?", a->rgb_path ? "via RGB from " : "", a->rgb_path ? why_rgb
             : in->matrix == Y4M_MATRIX_BT709 ? "bt709" : "bt601",
             in->full_range ? "full" : "limited", chroma_name(in->chroma), a->fps,
             f->colorspace == AVCOL_SPC_UNSPECIFIED && !a->rgb_path && a->o.matrix < 0
                 ? " (matrix unspecified: guessed from the height)" : "");
    return 0;
}

static int setup_audio(Avin *a, AVStream *st)
{
    AvinInfo *in = &a->info;
    const AVCodecParameters *cp = st->codecpar;
    int ch = cp->ch_layout.nb_channels;
    in->has_audio = 1;
    if (a->o.audio_copy) {
        if (cp->codec_id != AV_CODEC_ID_OPUS)
            return fail(a, -ENOTSUP, "%s: -c:a copy needs Opus audio, the stream is %s (leave -c:a out to "
                        "re-encode it)", a->o.path, avcodec_get_name(cp->codec_id));
        if (cp->extradata_size < 19 || memcmp(cp->extradata, "OpusHead", 8))
            return fail(a, -EINVAL, "%s: the Opus stream has no OpusHead", a->o.path);
        in->audio_copy = 1;
        in->audio_channels = cp->extradata[9];
        in->opus_head = cp->extradata;
        in->opus_head_size = (size_t)cp->extradata_size;
        in->opus_preskip = (uint64_t)(cp->extradata[10] | cp->extradata[11] << 8);
        snprintf(in->audio_desc, sizeof(in->audio_desc), "opus %d ch, copied", in->audio_channels);
        return 0;
    }
    int rc = open_decoder(a, st, &a->adec, "audio");
    if (rc < 0)
        return rc;
    in->audio_channels = ch == 1 ? 1 : 2;
    a->fifo = av_audio_fifo_alloc(AV_SAMPLE_FMT_FLT, in->audio_channels, 4096);
    a->aframe = av_frame_alloc();
    if (!a->fifo || !a->aframe)
        return -ENOMEM;
    snprintf(in->audio_desc, sizeof(in->audio_desc), "%s %d Hz %d ch -> %d Hz %d ch%s", avcodec_get_name(cp->codec_id),
             cp->sample_rate, ch, OUT_RATE, in->audio_channels, ch > 2 ? " (downmixed)" : "");
    return 0;
}

int avin_open(Avin **out, const AvinOptions *o, char *err, size_t errlen)
{
    *out = NULL;
    Avin *a = calloc(1, sizeof(*a));
    if (!a) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    a->o = *o;
    a->vidx = a->aidx = -1;
    a->direct_fmt = -1;
    a->last_t = -INFINITY;
    av_log_set_level(AV_LOG_ERROR);
    int rc;
    char b[128];
    const char *url = o->path;
    if (o->file) {
        uint8_t *buf = av_malloc(1 << 16);
        a->fmt = avformat_alloc_context();
        if (!buf || !a->fmt || !(a->pb = avio_alloc_context(buf, 1 << 16, 0, o->file, file_read, NULL, NULL))) {
            av_free(buf);
            rc = -ENOMEM;
            goto fail;
        }
        a->fmt->pb = a->pb;
        a->fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
        url = "";
    } else if (!strcmp(o->path, "-")) {
        url = "pipe:0";
    }
    rc = avformat_open_input(&a->fmt, url, NULL, NULL);
    if (rc < 0) {
        a->fmt = NULL;
        if (rc == AVERROR_INVALIDDATA)
            fail(a, -EINVAL, "%s: not a media file that FFmpeg's libraries can read (or a damaged one)", o->path);
        else
            fail(a, -EINVAL, "%s: %s", o->path, averr(rc, b, sizeof(b)));
        rc = -EINVAL;
        goto fail;
    }
    rc = avformat_find_stream_info(a->fmt, NULL);
    if (rc < 0) {
        fail(a, -EINVAL, "%s: cannot read the streams: %s", o->path, averr(rc, b, sizeof(b)));
        rc = -EINVAL;
        goto fail;
    }
    snprintf(a->info.format_desc, sizeof(a->info.format_desc), "%s", a->fmt->iformat->name);
    if (!strcmp(a->fmt->iformat->name, "tty")) { /* FFmpeg shows text files as ANSI art */
        rc = fail(a, -EINVAL, "%s: a text file, not a media file", o->path);
        goto fail;
    }
    int nv = count_streams(a->fmt, AVMEDIA_TYPE_VIDEO), na = count_streams(a->fmt, AVMEDIA_TYPE_AUDIO);
    /* attached pictures (cover art) are not video */
    for (unsigned i = 0; i < a->fmt->nb_streams; i++)
        if (a->fmt->streams[i]->disposition & AV_DISPOSITION_ATTACHED_PIC)
            nv--;
    AVStream *vst = NULL, *ast = NULL;
    if (o->need_video) {
        vst = nth_stream(a->fmt, AVMEDIA_TYPE_VIDEO, o->video_stream, &a->vidx);
        if (vst && (vst->disposition & AV_DISPOSITION_ATTACHED_PIC))
            vst = NULL, a->vidx = -1;
        if (!vst) {
            if (nv > 0)
                rc = fail(a, -EINVAL, "%s: no video stream 0:v:%d (it has %d)", o->path, o->video_stream, nv);
            else
                rc = fail(a, -EINVAL, "%s: no video stream%s", o->path,
                          na > 0 ? " (an audio-only file; give it as a second -i for its audio)" : "");
            goto fail;
        }
    }
    if (o->audio_stream >= 0) {
        ast = nth_stream(a->fmt, AVMEDIA_TYPE_AUDIO, o->audio_stream, &a->aidx);
        if (!ast && (o->audio_stream > 0 || !o->need_video)) {
            rc = fail(a, -EINVAL, "%s: no audio stream 0:a:%d (it has %d)", o->path, o->audio_stream, na);
            goto fail;
        }
    }
    /* the rate */
    double sf = 0;
    if (vst) {
        AVRational r = av_guess_frame_rate(a->fmt, vst, NULL); /* as ffmpeg's CLI does */
        if (r.num <= 0 || r.den <= 0)
            r = (AVRational){ 25, 1 };
        sf = av_q2d(r);
        a->src_fps = sf;
        if (o->fps_num > 0 && o->fps_den > 0) {
            a->info.fps_num = o->fps_num;
            a->info.fps_den = o->fps_den;
        } else {
            av_reduce(&a->info.fps_num, &a->info.fps_den, r.num, r.den, 1 << 30);
        }
        a->fps = (double)a->info.fps_num / a->info.fps_den;
        if ((rc = open_decoder(a, vst, &a->vdec, "video")) < 0)
            goto fail;
    }
    if (ast && (rc = setup_audio(a, ast)) < 0)
        goto fail;
    if (!a->info.has_audio)
        a->aidx = -1;
    /* time zero and -ss */
    double origin = a->fmt->start_time != AV_NOPTS_VALUE ? a->fmt->start_time / (double)AV_TIME_BASE : 0;
    a->origin = origin;
    a->t0 = origin + o->start;
    a->t0_final = !vst;
    a->info.duration = -1;
    if (a->fmt->duration != AV_NOPTS_VALUE && a->fmt->duration > 0)
        a->info.duration = a->fmt->duration / (double)AV_TIME_BASE - o->start;
    if (o->start > 0 && !o->file && (a->fmt->pb && (a->fmt->pb->seekable & AVIO_SEEKABLE_NORMAL))) {
        int64_t ts = llround(a->t0 * AV_TIME_BASE);
        avformat_seek_file(a->fmt, -1, INT64_MIN, ts, ts, 0); /* failing: decode from the start */
    }
    if (!(a->pkt = av_packet_alloc()) || !(a->cur = av_frame_alloc()) || !(a->next = av_frame_alloc())) {
        rc = -ENOMEM;
        goto fail;
    }
    if (vst) {
        if ((rc = fetch_next(a)) < 0)
            goto fail;
        if (!a->have_next) {
            rc = fail(a, -EINVAL, "%s: the video stream has no decodable picture%s", o->path,
                      o->start > 0 ? " after -ss" : "");
            goto fail;
        }
        if ((rc = setup_video(a, a->next)) < 0)
            goto fail;
        a->info.start_time = a->t0 - origin;
        if (a->fmt->duration != AV_NOPTS_VALUE && a->fmt->duration > 0)
            a->info.duration = a->fmt->duration / (double)AV_TIME_BASE - a->info.start_time;
    }
    *out = a;
    return 0;
fail:
    snprintf(err, errlen, "%s", a->err[0] ? a->err : "cannot open the input");
    avin_close(a);
    return rc < 0 ? rc : -EINVAL;
}

const AvinInfo *avin_info(const Avin *a)
{
    return &a->info;
}

const char *avin_error(const Avin *a)
{
    return a->err[0] ? a->err : "input error";
}

void avin_close(Avin *a)
{
    if (!a)
        return;
    q_free(&a->vq);
    q_free(&a->aq);
    av_packet_free(&a->apkt);
    av_packet_free(&a->pkt);
    av_frame_free(&a->cur);
    av_frame_free(&a->next);
    av_frame_free(&a->aframe);
    avcodec_free_context(&a->vdec);
    avcodec_free_context(&a->adec);
    swr_free(&a->swr);
    av_channel_layout_uninit(&a->swr_in);
    if (a->fifo)
        av_audio_fifo_free(a->fifo);
    sws_freeContext(a->sws);
    y4m_image_free(&a->img);
    for (int p = 0; p < 3; p++)
        free(a->gbr[p]);
    if (a->fmt)
        avformat_close_input(&a->fmt);
    if (a->pb) {
        av_freep(&a->pb->buffer);
        avio_context_free(&a->pb);
    }
    free(a);
}
