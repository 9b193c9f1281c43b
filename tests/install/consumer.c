/*
 * A program outside the ARG tree, built against an installed libarg with
 * nothing but `pkg-config --cflags --libs arg` (tests/install/test_install.sh):
 * it loads an installed model, encodes a few synthetic pictures, decodes
 * them with a separate decoder and checks that the result resembles the
 * input.
 *
 *   consumer MODEL.safetensors [VERSION]
 *
 * VERSION, when given, must equal arg_version() (the test passes
 * `pkg-config --modversion arg`). Exit status 0 when every check passes.
 *
 * The coded stream between the two halves is what a container would carry:
 * the sequence header (arg_encoder_sequence_header) and one packet per latent
 * frame (arg_encoder_get_packet); the decoder is opened from the header
 * (arg_decoder_open_stream) and fed the packets (arg_decoder_send_packet).
 */
#include <arg/arg.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WIDTH 96
#define HEIGHT 64
#define PICTURES 9 /* one latent frame of 1 picture, two of 4 (temporal factor 4) */
#define MAX_UNITS 64

/* Pass marks. On these pictures arg-s4, arg-s8 and arg-s16 reach 25.9,
 * 24.5 and 22.1 dB; the best flat picture (each plane's mean) 16.7 dB, and
 * a random-weight model (tests/fuzz/corpus/model/seed-levels2) 12.5 dB. */
#define MIN_PSNR_DB 20.0
#define MIN_GAIN_DB 5.0 /* over the best flat picture */

static int fail(const char *what, int rc)
{
    fprintf(stderr, "consumer: %s: %s\n", what, rc < 0 ? strerror(-rc) : "failed");
    return 1;
}

/* ------------------------------------------------------------ pictures */

typedef struct Frames {
    float data[PICTURES][3][HEIGHT][WIDTH];
} Frames;

/* Mostly grey ramps and a soft bright disc that moves, with a slight tint:
 * content like the camera footage the shipped tokenizers were trained on
 * (they render saturated synthetic colours poorly). */
static void make_pictures(Frames *f)
{
    for (int t = 0; t < PICTURES; t++) {
        double cx = 30 + 4.0 * t, cy = 28 + 1.5 * t;
        for (int y = 0; y < HEIGHT; y++)
            for (int x = 0; x < WIDTH; x++) {
                double d2 = ((x - cx) * (x - cx) + (y - cy) * (y - cy)) / (14.0 * 14.0);
                double l = -0.5 + 0.8 * x / WIDTH - 0.3 * y / HEIGHT + 0.7 * exp(-d2 * d2);
                f->data[t][0][y][x] = (float)(l + 0.15);
                f->data[t][1][y][x] = (float)l;
                f->data[t][2][y][x] = (float)(l - 0.1);
            }
    }
}

static void picture_of(Frames *f, int t, ArgPicture *p)
{
    memset(p, 0, sizeof(*p));
    p->data = &f->data[t][0][0][0];
    p->width = WIDTH;
    p->height = HEIGHT;
    p->stride = WIDTH;
    p->plane_stride = (ptrdiff_t)WIDTH * HEIGHT;
}

/* PSNR over all pictures and planes, for samples in [-1, 1] (peak 2). */
static double psnr(double sse, double n)
{
    double mse = sse / n;
    return mse > 0 ? 10.0 * log10(4.0 / mse) : 99.0;
}

/* -------------------------------------------------------------- stream */

typedef struct Unit {
    uint8_t *data;
    size_t size;
    int64_t pts;
    int duration, keyframe;
} Unit;

typedef struct Stream {
    uint8_t header[ARG_SEQUENCE_HEADER_SIZE];
    Unit unit[MAX_UNITS];
    int n;
} Stream;

static void stream_free(Stream *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->unit[i].data);
    s->n = 0;
}

/* STREAM API: take every packet the encoder has ready. Returns how many, or
 * a negative errno. */
static int take_units(ArgEncoder *enc, Stream *s, const ArgModelInfo *mi)
{
    int got = 0;
    for (;;) {
        ArgPacket pkt;
        memset(&pkt, 0, sizeof(pkt));
        int rc = arg_encoder_get_packet(enc, &pkt);
        if (rc == -EAGAIN)
            return got;
        if (rc < 0)
            return rc;
        if (s->n == MAX_UNITS || pkt.size < 1 || pkt.duration < 0 || pkt.duration > mi->temporal_factor)
            return -EPROTO;
        int64_t want_pts = s->n ? s->unit[s->n - 1].pts + s->unit[s->n - 1].duration : 0;
        if (pkt.pts != want_pts || pkt.keyframe != (s->n == 0))
            return -EPROTO; /* one GOP here: pts run on, only the first packet is a keyframe */
        Unit *u = &s->unit[s->n];
        if (!(u->data = malloc(pkt.size)))
            return -ENOMEM;
        memcpy(u->data, pkt.data, pkt.size);
        u->size = pkt.size;
        u->pts = pkt.pts;
        u->duration = pkt.duration;
        u->keyframe = pkt.keyframe;
        s->n++;
        got++;
    }
}

/* STREAM API: the encoder half, pictures -> stream. */
static int encode(const ArgModel *model, const ArgSettings *set, Frames *in, Stream *s)
{
    const ArgModelInfo *mi = arg_model_info(model);
    ArgEncoder *enc = NULL;
    int rc = arg_encoder_open(&enc, model, set, WIDTH, HEIGHT);
    if (rc < 0)
        return fail("arg_encoder_open", rc);
    for (int t = 0; t <= PICTURES && rc >= 0; t++) {
        ArgPicture pic;
        if (t < PICTURES)
            picture_of(in, t, &pic);
        /* send (or, after the last picture, flush); -EAGAIN: take units first */
        while ((rc = t < PICTURES ? arg_encoder_send_picture(enc, &pic) : arg_encoder_flush(enc)) == -EAGAIN) {
            int n = take_units(enc, s, mi);
            if (n <= 0) {
                rc = n < 0 ? n : -EPROTO;
                break;
            }
        }
        if (rc >= 0)
            rc = take_units(enc, s, mi);
    }
    if (rc >= 0 && (rc = arg_encoder_sequence_header(enc, s->header, sizeof(s->header))) != ARG_SEQUENCE_HEADER_SIZE)
        rc = rc < 0 ? rc : -EPROTO;
    arg_encoder_close(enc);
    if (rc < 0)
        return fail("encoding", rc);
    ArgSequenceHeader h;
    char err[256];
    if (arg_parse_sequence_header(&h, s->header, sizeof(s->header), err, sizeof(err)) < 0 ||
        h.width != WIDTH || h.height != HEIGHT || h.frame_count != PICTURES) {
        fprintf(stderr, "consumer: the sequence header does not describe the stream\n");
        return 1;
    }
    return 0;
}

/* STREAM API: the decoder half, stream -> pictures (a fresh decoder, as a
 * player would open it). Writes the decoded pictures into out and their
 * count into *n_out. */
static int decode(const ArgModel *model, const ArgSettings *set, const Stream *s, Frames *out, int *n_out)
{
    ArgDecoder *dec = NULL;
    char err[256];
    int rc = arg_decoder_open_stream(&dec, model, set, s->header, sizeof(s->header), 0, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "consumer: arg_decoder_open_stream: %s\n", err);
        return 1;
    }
    *n_out = 0;
    for (int i = 0; i <= s->n && rc >= 0; i++) {
        ArgPacket pkt;
        memset(&pkt, 0, sizeof(pkt));
        if (i < s->n) {
            pkt.data = s->unit[i].data;
            pkt.size = s->unit[i].size;
            pkt.pts = s->unit[i].pts;
        }
        for (;;) {
            rc = i < s->n ? arg_decoder_send_packet(dec, &pkt) : arg_decoder_flush(dec);
            /* take the pictures that are ready (all of them after a send) */
            int got = 0;
            for (;;) {
                ArgPicture pic;
                memset(&pic, 0, sizeof(pic));
                int g = arg_decoder_get_picture(dec, &pic);
                if (g == -EAGAIN)
                    break;
                if (g < 0) {
                    rc = g;
                    break;
                }
                if (pic.width != WIDTH || pic.height != HEIGHT || *n_out >= PICTURES) {
                    rc = -EPROTO;
                    break;
                }
                for (int c = 0; c < 3; c++)
                    for (int y = 0; y < HEIGHT; y++)
                        memcpy(out->data[*n_out][c][y], pic.data + c * pic.plane_stride + y * pic.stride,
                               WIDTH * sizeof(float));
                (*n_out)++;
                got++;
            }
            if (rc == -EAGAIN && got > 0)
                continue; /* the decoder made room: send again */
            if (rc == -EAGAIN)
                rc = -EPROTO; /* refused with nothing to fetch */
            break;
        }
    }
    arg_decoder_close(dec);
    if (rc < 0)
        return fail("decoding", rc);
    return 0;
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: consumer MODEL.safetensors [VERSION]\n");
        return 2;
    }
    printf("libarg %s\n", arg_version());
    if (argc == 3 && strcmp(argv[2], arg_version()) != 0) {
        fprintf(stderr, "consumer: pkg-config says version %s, the library says %s\n", argv[2], arg_version());
        return 1;
    }
    char err[512];
    ArgModel *model = NULL;
    int rc = arg_model_load(&model, argv[1], err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "consumer: %s\n", err);
        return 1;
    }
    const ArgModelInfo *mi = arg_model_info(model);
    printf("model %s, id %016llx, %d bits per token, %dx%dx%d pictures per token\n", mi->name,
           (unsigned long long)mi->id, mi->lfq_bits, mi->temporal_factor, mi->spatial_factor,
           mi->spatial_factor);
    if (mi->in_channels != 3) {
        fprintf(stderr, "consumer: the model wants %d channels, not RGB\n", mi->in_channels);
        arg_model_free(model);
        return 1;
    }

    ArgSettings set;
    arg_default_settings(&set);
    set.n_threads = 1;
    set.backend = ARG_BACKEND_CPU;

    Frames *in = malloc(sizeof(*in)), *out = calloc(1, sizeof(*out));
    Stream *s = calloc(1, sizeof(*s));
    int ret = 1, n_out = 0;
    if (!in || !out || !s) {
        fprintf(stderr, "consumer: out of memory\n");
        goto done;
    }
    make_pictures(in);
    if (encode(model, &set, in, s) || decode(model, &set, s, out, &n_out))
        goto done;
    printf("%d pictures -> %d units -> %d pictures\n", PICTURES, s->n, n_out);
    if (n_out != PICTURES) {
        fprintf(stderr, "consumer: decoded %d pictures, sent %d\n", n_out, PICTURES);
        goto done;
    }

    /* quality against the input, and against the best flat picture */
    double sse = 0, sse_flat = 0, n = (double)PICTURES * 3 * WIDTH * HEIGHT;
    for (int c = 0; c < 3; c++) {
        double mean = 0;
        for (int t = 0; t < PICTURES; t++)
            for (int y = 0; y < HEIGHT; y++)
                for (int x = 0; x < WIDTH; x++)
                    mean += in->data[t][c][y][x];
        mean /= (double)PICTURES * WIDTH * HEIGHT;
        for (int t = 0; t < PICTURES; t++)
            for (int y = 0; y < HEIGHT; y++)
                for (int x = 0; x < WIDTH; x++) {
                    double v = out->data[t][c][y][x], r = in->data[t][c][y][x];
                    if (!(v >= -1.0 && v <= 1.0)) {
                        fprintf(stderr, "consumer: decoded sample %g outside [-1, 1]\n", v);
                        goto done;
                    }
                    sse += (v - r) * (v - r);
                    sse_flat += (mean - r) * (mean - r);
                }
    }
    double p = psnr(sse, n), p_flat = psnr(sse_flat, n);
    printf("PSNR %.2f dB (pass mark %.1f dB); a flat picture: %.2f dB (needs a gain of %.1f dB)\n", p,
           MIN_PSNR_DB, p_flat, MIN_GAIN_DB);
    if (p < MIN_PSNR_DB || p < p_flat + MIN_GAIN_DB) {
        fprintf(stderr, "consumer: the decoded pictures do not resemble the input\n");
        goto done;
    }
    ret = 0;
done:
    if (s)
        stream_free(s);
    free(s);
    free(in);
    free(out);
    arg_model_free(model);
    return ret;
}
