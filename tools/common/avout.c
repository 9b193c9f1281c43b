/* avout: decoded ARG pictures and audio into a playable file through
 * FFmpeg's libraries (avout.h). */
#include "avout.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/audio_fifo.h>
#include <libavutil/channel_layout.h>
#include <libavutil/intreadwrite.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswresample/swresample.h>

#include "cli.h"

struct AvOut {
    AvOutConfig cfg;
    CliOut out;
    AVFormatContext *fc;
    AVIOContext *pb;
    /* video */
    const AVCodec *vc;
    AVCodecContext *ve;
    AVStream *vs;
    AVFrame *vframe;
    /* audio */
    int amode;
    int preskip;
    int pts_skip;           /* copy: subtract the pre-skip from the pts (not in Matroska,
                             * whose blocks count it and whose CodecDelay says so) */
    const AVCodec *ac;
    AVCodecContext *ae;
    AVStream *as;
    SwrContext *swr;
    AVAudioFifo *fifo;
    AVFrame *aframe;
    int aframe_size;
    int64_t apts;           /* samples sent to the audio encoder */
    AVPacket *pkt;
    int header_written;
    char desc[512];
};

static const char *averr(int e, char *buf, size_t len)
{
    if (av_strerror(e, buf, len) < 0)
        snprintf(buf, len, "error %d", e);
    return buf;
}

/* ------------------------------------------------------------ file I/O */

static int io_write(void *opaque, uint8_t *buf, int size)
{
    AvOut *o = opaque;
    if (size < 0 || fwrite(buf, 1, (size_t)size, o->out.f) != (size_t)size)
        return AVERROR(EIO);
    return size;
}

static int64_t io_seek(void *opaque, int64_t off, int whence)
{
    AvOut *o = opaque;
    if (whence & AVSEEK_SIZE) {
        struct stat st;
        if (fflush(o->out.f) != 0 || fstat(fileno(o->out.f), &st) != 0)
            return AVERROR(EIO);
        return (int64_t)st.st_size;
    }
    whence &= ~AVSEEK_FORCE;
    if (whence != SEEK_SET && whence != SEEK_CUR && whence != SEEK_END)
        return AVERROR(EINVAL);
    if (fseeko(o->out.f, (off_t)off, whence) != 0)
        return AVERROR(errno ? errno : EIO);
    return (int64_t)ftello(o->out.f);
}

/* ------------------------------------------------------------- choices */

static const AVOutputFormat *pick_format(const AvOutConfig *c)
{
    const AVOutputFormat *f;
    if (c->format) {
        f = av_guess_format(c->format, NULL, NULL);
        if (!f || strcmp(f->name, c->format) != 0) {
            /* av_guess_format falls back on a near name: insist on the exact one */
            void *it = NULL;
            while ((f = av_muxer_iterate(&it)))
                if (!strcmp(f->name, c->format))
                    break;
        }
        if (!f)
            cli_error("-f %s: no such container (ffmpeg -muxers lists them)", c->format);
        return f;
    }
    f = av_guess_format(NULL, c->path, NULL);
    if (!f) {
        const char *dot = strrchr(c->path, '.');
        if (dot && !strchr(dot, '/'))
            cli_error("%s: unknown extension '%s'; name the container with -f (mp4, matroska, webm, mov, ...)",
                      c->path, dot);
        else
            cli_error("%s: no extension to tell the container by; give -f (mp4, matroska, webm, mov, "
                      "yuv4mpegpipe, ...)", c->path);
    }
    return f;
}

/* The container takes codec id: 1 yes, 0 no, <0 it does not say. */
static int takes(const AVOutputFormat *f, enum AVCodecID id)
{
    return avformat_query_codec(f, id, FF_COMPLIANCE_NORMAL);
}

static int is_webm(const AVOutputFormat *f)
{
    return !strcmp(f->name, "webm");
}

/* An encoder by name ("libx264"), or the default encoder of a codec name
 * ("h264", "vp9", "aac"). */
static const AVCodec *find_encoder(const char *name, enum AVMediaType type, const char *opt)
{
    if (type == AVMEDIA_TYPE_VIDEO && !strcmp(name, "copy")) {
        cli_error("%s copy: no player decodes ARG video (V_ARG); the .mkv argenc wrote is that copy", opt);
        return NULL;
    }
    const AVCodec *c = avcodec_find_encoder_by_name(name);
    if (!c) {
        const AVCodecDescriptor *d = avcodec_descriptor_get_by_name(name);
        if (d)
            c = avcodec_find_encoder(d->id);
    }
    if (!c) {
        cli_error("%s %s: no such encoder (ffmpeg -encoders lists them)", opt, name);
        return NULL;
    }
    if (c->type != type) {
        cli_error("%s %s: not a%s encoder", opt, name, type == AVMEDIA_TYPE_VIDEO ? " video" : "n audio");
        return NULL;
    }
    return c;
}

static int has_option(const AVCodec *c, const char *name)
{
    return c->priv_class && av_opt_find((void *)&c->priv_class, name, NULL, 0, AV_OPT_SEARCH_FAKE_OBJ) != NULL;
}

static enum AVPixelFormat pix_fmt_of(int chroma)
{
    switch (chroma) {
    case Y4M_C444: return AV_PIX_FMT_YUV444P;
    case Y4M_C422: return AV_PIX_FMT_YUV422P;
    default: return AV_PIX_FMT_YUV420P;
    }
}

/* ISO/IEC 23091-4 code points are FFmpeg's enum values; 0 and unknown
 * ones become "unspecified" (matrix: BT.601 as the pictures were made). */
static int code_point(int v, int max, int unspecified)
{
    return v >= 1 && v <= max && v != 2 && v != 3 ? v : unspecified;
}

/* --------------------------------------------------------------- video */

/* The video encoder for the request, or NULL after saying why. */
static const AVCodec *choose_video(const AvOutConfig *c, const AVOutputFormat *f)
{
    const AVCodec *vc = NULL;
    const char *name = c->vcodec;
    if (!name)
        name = is_webm(f) ? "libvpx-vp9" : takes(f, AV_CODEC_ID_H264) != 0 ? "libx264" : NULL;
    if (name) {
        if (!(vc = find_encoder(name, AVMEDIA_TYPE_VIDEO, "-c:v")))
            return NULL;
    } else if (f->video_codec == AV_CODEC_ID_NONE || !(vc = avcodec_find_encoder(f->video_codec))) {
        cli_error("%s: the %s container has no video encoder here; give -c:v", c->path, f->name);
        return NULL;
    }
    if (f->video_codec == AV_CODEC_ID_NONE || takes(f, vc->id) == 0) {
        cli_error("%s: the %s container does not take %s video (-c:v)", c->path, f->name, vc->name);
        return NULL;
    }
    enum AVPixelFormat pf = pix_fmt_of(c->chroma);
    if (vc->pix_fmts) {
        int ok = 0;
        for (const enum AVPixelFormat *p = vc->pix_fmts; *p != AV_PIX_FMT_NONE; p++)
            ok |= *p == pf;
        if (!ok) {
            cli_error("encoder %s does not take %s pictures (-pix_fmt)", vc->name, av_get_pix_fmt_name(pf));
            return NULL;
        }
    }
    if (c->crf >= 0 && !has_option(vc, "crf")) {
        cli_error("-crf: encoder %s has no constant-quality mode", vc->name);
        return NULL;
    }
    if (c->preset && !has_option(vc, "preset")) {
        cli_error("-preset: encoder %s has no presets", vc->name);
        return NULL;
    }
    return vc;
}

/* FFmpeg's mov muxer takes Opus only in its mp4 mode */
static int takes_opus(const AVOutputFormat *f)
{
    return f->audio_codec != AV_CODEC_ID_NONE && takes(f, AV_CODEC_ID_OPUS) == 1 && strcmp(f->name, "mov");
}

/* An explicit -c:a that the container cannot take: 0 or -EINVAL after saying why. */
static int check_audio(const AvOutConfig *c, const AVOutputFormat *f)
{
    if (!c->acodec)
        return 0;
    if (!strcmp(c->acodec, "copy")) {
        if (!takes_opus(f)) {
            cli_error("-c:a copy: the %s container does not take Opus; give an encoder (-c:a aac)", f->name);
            return -EINVAL;
        }
        return 0;
    }
    const AVCodec *ac = find_encoder(c->acodec, AVMEDIA_TYPE_AUDIO, "-c:a");
    if (!ac)
        return -EINVAL;
    if (f->audio_codec == AV_CODEC_ID_NONE || takes(f, ac->id) == 0) {
        cli_error("%s: the %s container does not take %s audio (-c:a)", c->path, f->name, ac->name);
        return -EINVAL;
    }
    return 0;
}

int avout_check(const AvOutConfig *cfg)
{
    const AVOutputFormat *f = pick_format(cfg);
    if (!f)
        return -EINVAL;
    if (f->video_codec == AV_CODEC_ID_NONE) {
        cli_error("%s: the %s container holds no video", cfg->path, f->name);
        return -EINVAL;
    }
    return choose_video(cfg, f) && check_audio(cfg, f) == 0 ? 0 : -EINVAL;
}

static int open_video(AvOut *o, const AVOutputFormat *f)
{
    const AvOutConfig *c = &o->cfg;
    if (!(o->vc = choose_video(c, f)))
        return -EINVAL;
    enum AVPixelFormat pf = pix_fmt_of(c->chroma);
    int crf = c->crf;
    int vpx = !strncmp(o->vc->name, "libvpx", 6);
    if (crf < 0 && has_option(o->vc, "crf"))
        crf = vpx ? 32 : !strcmp(o->vc->name, "libx264") ? 18 : -1;
    AVCodecContext *e = o->ve = avcodec_alloc_context3(o->vc);
    if (!e)
        return -ENOMEM;
    e->width = c->width;
    e->height = c->height;
    e->time_base = (AVRational){ c->fps_den, c->fps_num };
    e->framerate = (AVRational){ c->fps_num, c->fps_den };
    e->sample_aspect_ratio = (AVRational){ 1, 1 };
    e->pix_fmt = pf;
    e->color_range = c->range == 2 ? AVCOL_RANGE_JPEG : AVCOL_RANGE_MPEG;
    e->colorspace = (enum AVColorSpace)code_point(c->matrix, AVCOL_SPC_ICTCP, AVCOL_SPC_SMPTE170M);
    e->color_primaries = (enum AVColorPrimaries)code_point(c->primaries, AVCOL_PRI_EBU3213, AVCOL_PRI_UNSPECIFIED);
    e->color_trc = (enum AVColorTransferCharacteristic)code_point(c->transfer, AVCOL_TRC_ARIB_STD_B67,
                                                                  AVCOL_TRC_UNSPECIFIED);
    /* the pictures' chroma is a box average: centred (Y4M 420jpeg) */
    e->chroma_sample_location = c->chroma == Y4M_C420MPEG2 ? AVCHROMA_LOC_LEFT
                                : c->chroma == Y4M_C420JPEG ? AVCHROMA_LOC_CENTER
                                                            : AVCHROMA_LOC_UNSPECIFIED;
    e->thread_count = c->threads;
    if (f->flags & AVFMT_GLOBALHEADER)
        e->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    AVDictionary *d = NULL;
    char buf[32];
    if (crf >= 0) {
        snprintf(buf, sizeof(buf), "%d", crf);
        av_dict_set(&d, "crf", buf, 0);
        if (vpx)
            e->bit_rate = 0; /* constant quality */
    }
    if (c->preset)
        av_dict_set(&d, "preset", c->preset, 0);
    if (vpx) { /* libvpx's defaults are very slow */
        av_dict_set(&d, "deadline", "good", 0);
        av_dict_set(&d, "cpu-used", "4", 0);
        av_dict_set(&d, "row-mt", "1", 0);
    }
    char eb[128];
    int rc = avcodec_open2(e, o->vc, &d);
    av_dict_free(&d);
    if (rc < 0) {
        cli_error("cannot open the %s encoder: %s", o->vc->name, averr(rc, eb, sizeof(eb)));
        return rc == AVERROR(EINVAL) ? -EINVAL : -EIO;
    }
    if (!(o->vs = avformat_new_stream(o->fc, NULL)))
        return -ENOMEM;
    if (avcodec_parameters_from_context(o->vs->codecpar, e) < 0)
        return -ENOMEM;
    o->vs->time_base = e->time_base;
    o->vs->avg_frame_rate = e->framerate;
    o->vs->r_frame_rate = e->framerate;
    o->vs->disposition = AV_DISPOSITION_DEFAULT;
    o->vframe = av_frame_alloc();
    if (!o->vframe)
        return -ENOMEM;
    o->vframe->format = pf;
    o->vframe->width = c->width;
    o->vframe->height = c->height;
    if (av_frame_get_buffer(o->vframe, 0) < 0)
        return -ENOMEM;
    int n = snprintf(o->desc + strlen(o->desc), sizeof(o->desc) - strlen(o->desc), ", %s %s", o->vc->name,
                     av_get_pix_fmt_name(pf));
    if (n > 0 && crf >= 0)
        snprintf(o->desc + strlen(o->desc), sizeof(o->desc) - strlen(o->desc), " crf %d", crf);
    return 0;
}

/* --------------------------------------------------------------- audio */

static int open_audio_copy(AvOut *o)
{
    const AvOutConfig *c = &o->cfg;
    if (!(o->as = avformat_new_stream(o->fc, NULL)))
        return -ENOMEM;
    AVCodecParameters *p = o->as->codecpar;
    p->codec_type = AVMEDIA_TYPE_AUDIO;
    p->codec_id = AV_CODEC_ID_OPUS;
    p->sample_rate = 48000;
    av_channel_layout_default(&p->ch_layout, c->channels);
    p->extradata = av_mallocz(c->opus_head_size + AV_INPUT_BUFFER_PADDING_SIZE);
    if (!p->extradata)
        return -ENOMEM;
    memcpy(p->extradata, c->opus_head, c->opus_head_size);
    p->extradata_size = (int)c->opus_head_size;
    p->initial_padding = o->preskip;
    p->seek_preroll = 3840; /* 80 ms */
    p->frame_size = 960;
    o->as->disposition = AV_DISPOSITION_DEFAULT;
    o->pts_skip = strcmp(o->fc->oformat->name, "matroska") && strcmp(o->fc->oformat->name, "webm");
    o->as->time_base = (AVRational){ 1, 48000 };
    snprintf(o->desc + strlen(o->desc), sizeof(o->desc) - strlen(o->desc), ", opus (copy)");
    return 0;
}

static int open_audio_encoder(AvOut *o, const char *name)
{
    const AvOutConfig *c = &o->cfg;
    const AVOutputFormat *f = o->fc->oformat;
    if (!(o->ac = find_encoder(name, AVMEDIA_TYPE_AUDIO, "-c:a")))
        return -EINVAL;
    if (f->audio_codec == AV_CODEC_ID_NONE || takes(f, o->ac->id) == 0) {
        cli_error("%s: the %s container does not take %s audio", c->path, f->name, o->ac->name);
        return -EINVAL;
    }
    AVCodecContext *e = o->ae = avcodec_alloc_context3(o->ac);
    if (!e)
        return -ENOMEM;
    int rate = 48000;
    if (o->ac->supported_samplerates) {
        int best = 0;
        for (const int *r = o->ac->supported_samplerates; *r; r++)
            if (!best || abs(*r - 48000) < abs(best - 48000))
                best = *r;
        rate = best;
    }
    e->sample_rate = rate;
    av_channel_layout_default(&e->ch_layout, c->channels);
    e->sample_fmt = o->ac->sample_fmts ? o->ac->sample_fmts[0] : AV_SAMPLE_FMT_FLTP;
    if (o->ac->sample_fmts)
        for (const enum AVSampleFormat *s = o->ac->sample_fmts; *s != AV_SAMPLE_FMT_NONE; s++)
            if (*s == AV_SAMPLE_FMT_FLTP || *s == AV_SAMPLE_FMT_FLT) {
                e->sample_fmt = *s;
                break;
            }
    e->bit_rate = c->abitrate > 0 ? c->abitrate : o->ac->id == AV_CODEC_ID_OPUS ? 96000 : 128000;
    e->time_base = (AVRational){ 1, rate };
    if (f->flags & AVFMT_GLOBALHEADER)
        e->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    char eb[128];
    int rc = avcodec_open2(e, o->ac, NULL);
    if (rc < 0) {
        cli_error("cannot open the %s encoder: %s", o->ac->name, averr(rc, eb, sizeof(eb)));
        return rc == AVERROR(EINVAL) ? -EINVAL : -EIO;
    }
    o->aframe_size = e->frame_size > 0 && !(o->ac->capabilities & AV_CODEC_CAP_VARIABLE_FRAME_SIZE)
                         ? e->frame_size : 1024;
    AVChannelLayout in;
    av_channel_layout_default(&in, c->channels);
    rc = swr_alloc_set_opts2(&o->swr, &e->ch_layout, e->sample_fmt, rate, &in, AV_SAMPLE_FMT_FLT, 48000, 0, NULL);
    if (rc < 0 || swr_init(o->swr) < 0) {
        cli_error("cannot set up the audio conversion to %s", o->ac->name);
        return -EIO;
    }
    o->fifo = av_audio_fifo_alloc(e->sample_fmt, c->channels, o->aframe_size * 4);
    o->aframe = av_frame_alloc();
    if (!o->fifo || !o->aframe)
        return -ENOMEM;
    if (!(o->as = avformat_new_stream(o->fc, NULL)))
        return -ENOMEM;
    if (avcodec_parameters_from_context(o->as->codecpar, e) < 0)
        return -ENOMEM;
    o->as->time_base = e->time_base;
    o->as->disposition = AV_DISPOSITION_DEFAULT;
    snprintf(o->desc + strlen(o->desc), sizeof(o->desc) - strlen(o->desc), ", %s %d Hz %" PRId64 " kbit/s",
             o->ac->name, rate, (int64_t)e->bit_rate / 1000);
    return 0;
}

static int open_audio(AvOut *o)
{
    const AvOutConfig *c = &o->cfg;
    const AVOutputFormat *f = o->fc->oformat;
    if (c->channels < 1 || c->channels > 2 || !c->opus_head || c->opus_head_size < 19 ||
        memcmp(c->opus_head, "OpusHead", 8) != 0) {
        cli_error("the audio track is not Opus in 1 or 2 channels");
        return -EINVAL;
    }
    o->preskip = c->opus_head[10] | c->opus_head[11] << 8;
    int can_copy = takes_opus(f);
    const char *name = c->acodec;
    if (check_audio(c, f) < 0)
        return -EINVAL;
    if (name && !strcmp(name, "copy")) {
        if (c->no_copy) {
            cli_error("-c:a copy needs the audio from the stream's start (not with -ss); give an encoder "
                      "(-c:a aac, -c:a libopus)");
            return -EINVAL;
        }
    }
    if (!name) {
        if (can_copy && !c->no_copy)
            name = "copy";
        else if (is_webm(f) || !strcmp(f->name, "matroska"))
            name = "libopus";
        else
            name = "aac";
    }
    if (!strcmp(name, "copy")) {
        o->amode = AVOUT_AUDIO_COPY;
        return open_audio_copy(o);
    }
    o->amode = AVOUT_AUDIO_PCM;
    return open_audio_encoder(o, name);
}

/* --------------------------------------------------------------- muxing */

/* Send frame (NULL: flush) to encoder e and write what comes out. */
static int encode(AvOut *o, AVCodecContext *e, AVStream *st, AVFrame *frame)
{
    char eb[128];
    int rc = avcodec_send_frame(e, frame);
    if (rc < 0) {
        cli_error("%s encoder: %s", e->codec->name, averr(rc, eb, sizeof(eb)));
        return -EIO;
    }
    for (;;) {
        rc = avcodec_receive_packet(e, o->pkt);
        if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF)
            return 0;
        if (rc < 0) {
            cli_error("%s encoder: %s", e->codec->name, averr(rc, eb, sizeof(eb)));
            return -EIO;
        }
        av_packet_rescale_ts(o->pkt, e->time_base, st->time_base);
        o->pkt->stream_index = st->index;
        rc = av_interleaved_write_frame(o->fc, o->pkt);
        if (rc < 0) {
            cli_error("cannot write %s: %s", o->cfg.path, averr(rc, eb, sizeof(eb)));
            return -EIO;
        }
    }
}

int avout_open(AvOut **out, const AvOutConfig *cfg)
{
    *out = NULL;
    if (avout_check(cfg) < 0)
        return -EINVAL;
    const AVOutputFormat *f = pick_format(cfg);
    if (cfg->width < 1 || cfg->height < 1 || cfg->fps_num < 1 || cfg->fps_den < 1) {
        cli_error("avout: bad picture size or rate");
        return -EINVAL;
    }
    /* FFmpeg's own messages: errors only (the encoders chat at info level) */
    av_log_set_level(cli_quiet ? AV_LOG_FATAL : AV_LOG_ERROR);
    AvOut *o = calloc(1, sizeof(*o));
    if (!o)
        return -ENOMEM;
    o->cfg = *cfg;
    int rc = -ENOMEM;
    snprintf(o->desc, sizeof(o->desc), "%s: %s", strcmp(cfg->path, "-") ? cfg->path : "stdout", f->name);
    if (avformat_alloc_output_context2(&o->fc, f, NULL, NULL) < 0 || !(o->pkt = av_packet_alloc()))
        goto fail;
    if ((rc = open_video(o, f)) < 0)
        goto fail;
    if (cfg->channels > 0 && (rc = open_audio(o)) < 0)
        goto fail;
    /* the file, through the toolkit: a temporary file renamed at the end, or stdout */
    if ((rc = cli_out_open(&o->out, cfg->path)) < 0)
        goto fail;
    int seekable = o->out.tmp != NULL;
    uint8_t *buf = av_malloc(1 << 16);
    rc = -ENOMEM;
    if (!buf || !(o->pb = avio_alloc_context(buf, 1 << 16, 1, o, NULL, io_write, seekable ? io_seek : NULL))) {
        av_free(buf);
        goto fail;
    }
    o->pb->seekable = seekable ? AVIO_SEEKABLE_NORMAL : 0;
    o->fc->pb = o->pb;
    AVDictionary *d = NULL;
    if (!seekable && (!strcmp(f->name, "mp4") || !strcmp(f->name, "mov") || !strcmp(f->name, "ipod")))
        av_dict_set(&d, "movflags", "frag_keyframe+empty_moov+default_base_moof", 0);
    char eb[128];
    int e = avformat_write_header(o->fc, &d);
    av_dict_free(&d);
    if (e < 0) {
        cli_error("cannot start %s: %s", cfg->path, averr(e, eb, sizeof(eb)));
        rc = e == AVERROR(EINVAL) ? -EINVAL : -EIO;
        goto fail;
    }
    o->header_written = 1;
    *out = o;
    return 0;
fail:
    avout_close(o, 0);
    return rc;
}

int avout_audio_mode(const AvOut *o)
{
    return o ? o->amode : AVOUT_AUDIO_NONE;
}

const char *avout_describe(const AvOut *o)
{
    return o->desc;
}

int avout_write_video(AvOut *o, const Y4mImage *img, int64_t pts)
{
    AVFrame *fr = o->vframe;
    if (img->w[0] != o->cfg.width || img->h[0] != o->cfg.height || av_frame_make_writable(fr) < 0)
        return -EINVAL;
    for (int p = 0; p < 3; p++)
        for (int y = 0; y < img->h[p]; y++)
            memcpy(fr->data[p] + (ptrdiff_t)y * fr->linesize[p], img->data[p] + y * img->stride[p],
                   (size_t)img->w[p]);
    fr->pts = pts;
    return encode(o, o->ve, o->vs, fr);
}

int avout_write_opus(AvOut *o, const uint8_t *data, size_t size, int64_t pts, int nsamples)
{
    if (o->amode != AVOUT_AUDIO_COPY || nsamples < 0 || size > INT32_MAX)
        return -EINVAL;
    pts -= o->preskip; /* from the first sample played */
    int64_t end = o->cfg.audio_samples;
    int64_t mux_pts = o->pts_skip ? pts : pts + o->preskip;
    if (end >= 0 && pts >= end)
        return 0;
    AVPacket *p = o->pkt;
    if (av_new_packet(p, (int)size) < 0)
        return -ENOMEM;
    memcpy(p->data, data, size);
    p->pts = p->dts = mux_pts;
    p->duration = nsamples;
    p->stream_index = o->as->index;
    p->flags |= AV_PKT_FLAG_KEY;
    if (end >= 0 && pts + nsamples > end) { /* the last packet: drop the padding */
        uint8_t *sd = av_packet_new_side_data(p, AV_PKT_DATA_SKIP_SAMPLES, 10);
        if (!sd) {
            av_packet_unref(p);
            return -ENOMEM;
        }
        AV_WL32(sd, 0);
        AV_WL32(sd + 4, (uint32_t)(pts + nsamples - end));
        sd[8] = sd[9] = 0;
        p->duration = end - pts;
    }
    av_packet_rescale_ts(p, (AVRational){ 1, 48000 }, o->as->time_base);
    char eb[128];
    int rc = av_interleaved_write_frame(o->fc, p);
    if (rc < 0) {
        cli_error("cannot write %s: %s", o->cfg.path, averr(rc, eb, sizeof(eb)));
        return -EIO;
    }
    return 0;
}

/* Encode whole frames from the FIFO (all that is left when last). */
static int drain_fifo(AvOut *o, int last)
{
    while (av_audio_fifo_size(o->fifo) >= o->aframe_size || (last && av_audio_fifo_size(o->fifo) > 0)) {
        int n = av_audio_fifo_size(o->fifo);
        if (n > o->aframe_size)
            n = o->aframe_size;
        AVFrame *fr = o->aframe;
        av_frame_unref(fr);
        fr->nb_samples = n;
        fr->format = o->ae->sample_fmt;
        fr->sample_rate = o->ae->sample_rate;
        if (av_channel_layout_copy(&fr->ch_layout, &o->ae->ch_layout) < 0 || av_frame_get_buffer(fr, 0) < 0)
            return -ENOMEM;
        if (av_audio_fifo_read(o->fifo, (void **)fr->data, n) != n)
            return -EIO;
        fr->pts = o->apts;
        o->apts += n;
        int rc = encode(o, o->ae, o->as, fr);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Convert n samples (NULL: flush the resampler) into the FIFO. */
static int convert(AvOut *o, const float *pcm, int n)
{
    int cap = swr_get_out_samples(o->swr, n);
    if (cap < 0)
        return -EIO;
    if (cap == 0)
        return 0;
    uint8_t **buf = NULL;
    if (av_samples_alloc_array_and_samples(&buf, NULL, o->cfg.channels, cap, o->ae->sample_fmt, 0) < 0)
        return -ENOMEM;
    const uint8_t *in[1] = { (const uint8_t *)pcm };
    int got = swr_convert(o->swr, buf, cap, pcm ? in : NULL, pcm ? n : 0);
    int rc = got < 0 ? -EIO : av_audio_fifo_write(o->fifo, (void **)buf, got) < got ? -ENOMEM : 0;
    av_freep(&buf[0]);
    av_freep(&buf);
    return rc;
}

int avout_write_pcm(AvOut *o, const float *pcm, int n)
{
    if (o->amode != AVOUT_AUDIO_PCM || n < 0)
        return -EINVAL;
    if (n == 0)
        return 0;
    int rc = convert(o, pcm, n);
    if (rc < 0) {
        cli_error("audio conversion failed");
        return rc;
    }
    return drain_fifo(o, 0);
}

int avout_close(AvOut *o, int commit)
{
    if (!o)
        return 0;
    int rc = 0;
    char eb[128];
    if (commit && o->header_written) {
        if (o->ve)
            rc = encode(o, o->ve, o->vs, NULL);
        if (rc == 0 && o->amode == AVOUT_AUDIO_PCM) {
            rc = convert(o, NULL, 0);
            if (rc == 0)
                rc = drain_fifo(o, 1);
            if (rc == 0)
                rc = encode(o, o->ae, o->as, NULL);
        }
        if (rc == 0) {
            int e = av_write_trailer(o->fc);
            if (e < 0) {
                cli_error("cannot finish %s: %s", o->cfg.path, averr(e, eb, sizeof(eb)));
                rc = -EIO;
            }
        }
        if (o->pb) {
            avio_flush(o->pb);
            if (rc == 0 && o->pb->error < 0) {
                cli_error("cannot write %s: %s", o->cfg.path, averr(o->pb->error, eb, sizeof(eb)));
                rc = -EIO;
            }
        }
        if (rc == 0)
            rc = cli_out_commit(&o->out);
    } else if (!commit && o->pb) {
        avio_flush(o->pb);
    }
    if (!commit || rc < 0)
        cli_out_abort(&o->out);
    if (o->pb) {
        av_freep(&o->pb->buffer);
        avio_context_free(&o->pb);
    }
    if (o->fc)
        o->fc->pb = NULL;
    avformat_free_context(o->fc);
    avcodec_free_context(&o->ve);
    avcodec_free_context(&o->ae);
    av_frame_free(&o->vframe);
    av_frame_free(&o->aframe);
    av_packet_free(&o->pkt);
    swr_free(&o->swr);
    if (o->fifo)
        av_audio_fifo_free(o->fifo);
    free(o);
    return rc < 0 ? rc : 0;
}
