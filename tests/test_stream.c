/* The public stream layer of arg.h: encoder packets and sequence header,
 * decoders opened from the header (pictures and token-only), model-ID
 * checks, corrupt packets and recovery at the next keyframe, the YUV
 * picture path and the token coder. A small random-weight streaming model
 * is generated at test time (tests/modelgen.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arg/arg.h"
#include "check.h"
#include "modelgen.h"

#define W 37
#define H 21
#define NPIC 23

static const char *k_cfg =
    "{\"in_channels\":3,\"patch_size\":2,\"base_channels\":8,\"channel_mult\":[1,2],"
    "\"enc_blocks\":[1,1],\"dec_blocks\":[1,1],\"mid_blocks\":1,\"down\":[[2,2]],"
    "\"num_groups\":4,\"norm_eps\":1e-06,\"norm_scope\":\"frame\",\"clip_frames\":17,\"padding\":\"zeros\","
    "\"decoder_norm\":\"adaptive\",\"agn_var\":\"biased\",\"lfq_bits\":10}";

typedef struct Pkt {
    uint8_t *data;
    size_t size;
    int64_t pts;
    int duration, keyframe;
    uint32_t *tokens;
} Pkt;

static float pics[NPIC][3 * W * H];

static void make_pictures(void)
{
    for (int t = 0; t < NPIC; t++)
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++)
                    pics[t][(c * H + y) * W + x] = 0.8f * sinf(0.3f * (float)(x + 2 * t) + 1.7f * (float)c) *
                                                       cosf(0.2f * (float)y) + 0.05f * frand();
}

/* Encode all pictures with the packet API; returns the packet count. */
static int encode(const ArgModel *m, int gop, Pkt *out, int max, uint8_t seq[ARG_SEQUENCE_HEADER_SIZE])
{
    ArgSettings s;
    arg_default_settings(&s);
    s.n_threads = 1;
    s.gop_latents = gop;
    ArgEncoder *e;
    if (arg_encoder_open(&e, m, &s, W, H) < 0)
        return -1;
    ArgStreamInfo si = { 30000, 1001, 0, ARG_MATRIX_BT709, 1, ARG_CHROMA_444, { 0 } };
    CHECK(arg_encoder_set_stream_info(e, &si) == 0, "set_stream_info");
    int n = 0, rc;
    ArgPacket p;
    for (int t = 0; t <= NPIC; t++) {
        if (t < NPIC) {
            ArgPicture pic = { pics[t], W, H, W, W * H, 0 };
            rc = arg_encoder_send_picture(e, &pic);
            if (rc == -EAGAIN) {
                CHECK(0, "send_picture -EAGAIN although every packet was fetched");
                break;
            }
            CHECK(rc == 0, "send_picture %d: %d", t, rc);
            if (t == 0)
                CHECK(arg_encoder_set_stream_info(e, &si) == -EBUSY, "stream info after a picture");
        } else {
            CHECK(arg_encoder_flush(e) == 0, "flush");
        }
        while ((rc = arg_encoder_get_packet(e, &p)) == 0 && n < max) {
            size_t nt = (size_t)p.tokens.tokens_w * p.tokens.tokens_h;
            out[n].data = malloc(p.size);
            out[n].tokens = malloc(nt * sizeof(uint32_t));
            memcpy(out[n].data, p.data, p.size);
            memcpy(out[n].tokens, p.tokens.tokens, nt * sizeof(uint32_t));
            out[n].size = p.size;
            out[n].pts = p.pts;
            out[n].duration = p.duration;
            out[n].keyframe = p.keyframe;
            n++;
        }
        CHECK(rc == -EAGAIN, "get_packet ends with -EAGAIN (%d)", rc);
    }
    CHECK(arg_encoder_sequence_header(e, seq, ARG_SEQUENCE_HEADER_SIZE - 1) == -ENOSPC, "header: small buffer");
    CHECK(arg_encoder_sequence_header(e, seq, ARG_SEQUENCE_HEADER_SIZE) == ARG_SEQUENCE_HEADER_SIZE, "header");
    arg_encoder_close(e);
    return n;
}

static void free_pkts(Pkt *p, int n)
{
    for (int i = 0; i < n; i++) {
        free(p[i].data);
        free(p[i].tokens);
    }
}

/* Decode packets to pictures; returns the picture count and fills out. */
static int decode(ArgDecoder *d, const Pkt *p, int n, float (*out)[3 * W * H], int64_t *pts)
{
    int k = 0;
    for (int i = 0; i < n; i++) {
        ArgPacket ap = { p[i].data, p[i].size, p[i].pts, 0, 0, { 0 } };
        int rc = arg_decoder_send_packet(d, &ap);
        CHECK(rc == 0, "send_packet %d: %d", i, rc);
        ArgPicture pic;
        while (arg_decoder_get_picture(d, &pic) == 0 && k < NPIC) {
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < H; y++)
                    memcpy(out[k] + (c * H + y) * W, pic.data + c * pic.plane_stride + y * pic.stride,
                           W * sizeof(float));
            pts[k++] = pic.pts;
        }
    }
    CHECK(arg_decoder_flush(d) == 0, "decoder flush");
    return k;
}

int main(void)
{
    uint8_t *file, *file2;
    size_t size, size2;
    if (gen_model(k_cfg, "tiny-a", 1, &file, &size) < 0 || gen_model(k_cfg, "tiny-b", 2, &file2, &size2) < 0)
        return 1;
    ArgModel *m, *m2;
    char err[256];
    if (arg_model_load_memory(&m, file, size, err, sizeof(err)) < 0 ||
        arg_model_load_memory(&m2, file2, size2, err, sizeof(err)) < 0) {
        printf("model: %s\n", err);
        return 1;
    }
    const ArgModelInfo *mi = arg_model_info(m);
    make_pictures();

    /* ---- encoder: packets, GOPs, header */
    static Pkt pk[64];
    uint8_t seq[ARG_SEQUENCE_HEADER_SIZE];
    int gop = 3;
    int n = encode(m, gop, pk, 64, seq);
    /* 23 pictures, GOP 3 latent frames = 1 + 2 * 2 = 5 pictures: 4 GOPs of 5, then 3 */
    int want = 0, pic_left = NPIC;
    while (pic_left > 0) {
        int g = pic_left >= 5 ? 5 : pic_left;
        want += 1 + (g - 1 + 1) / 2;
        pic_left -= g;
    }
    CHECK(n == want, "packets: %d, want %d", n, want);
    int64_t next = 0;
    for (int i = 0; i < n; i++) {
        CHECK(pk[i].pts == next, "packet %d pts %lld, want %lld", i, (long long)pk[i].pts, (long long)next);
        CHECK(pk[i].keyframe == (i % gop == 0), "packet %d keyframe %d", i, pk[i].keyframe);
        CHECK(pk[i].size >= 2 && (pk[i].data[0] & 0x80) == (pk[i].keyframe ? 0x80 : 0) &&
                  (pk[i].data[0] & 0x1F) == pk[i].duration,
              "packet %d byte 0x%02x", i, pk[i].data[0]);
        CHECK(pk[i].duration == (pk[i].keyframe ? 1 : pk[i].duration) && pk[i].duration >= 1 &&
                  pk[i].duration <= 2, "packet %d duration %d", i, pk[i].duration);
        next += pk[i].duration;
    }
    CHECK(next == NPIC, "pictures covered %lld", (long long)next);
    ArgSequenceHeader h;
    CHECK(arg_parse_sequence_header(&h, seq, sizeof(seq), err, sizeof(err)) == 0, "parse header: %s", err);
    CHECK(h.model_id == mi->id && !strcmp(h.model_name, "tiny-a"), "header model");
    CHECK(h.width == W && h.height == H && h.coded_width == 40 && h.coded_height == 24, "header size");
    CHECK(h.fps_num == 30000 && h.fps_den == 1001 && h.frame_count == NPIC, "header rate/count %u/%u %u", h.fps_num,
          h.fps_den, h.frame_count);
    CHECK(h.matrix == 1 && h.range == 2 && h.chroma == 444 && h.gop_latents == gop && h.lfq_bits == 10,
          "header colour/gop");
    uint8_t seq2[ARG_SEQUENCE_HEADER_SIZE];
    CHECK(arg_write_sequence_header(&h, seq2, sizeof(seq2)) == ARG_SEQUENCE_HEADER_SIZE &&
              !memcmp(seq, seq2, sizeof(seq)), "header write round trip");
    uint8_t bad[ARG_SEQUENCE_HEADER_SIZE];
    memcpy(bad, seq, sizeof(bad));
    bad[0] = 'X';
    CHECK(arg_parse_sequence_header(&h, bad, sizeof(bad), err, sizeof(err)) == -EINVAL && err[0],
          "bad magic refused");
    CHECK(arg_parse_sequence_header(&h, seq, 40, err, sizeof(err)) == -EINVAL, "short header refused");

    /* settings validation */
    {
        ArgSettings s;
        arg_default_settings(&s);
        ArgEncoder *e = NULL;
        s.gop_latents = 65536;
        CHECK(arg_encoder_open(&e, m, &s, W, H) == -EINVAL && !e, "gop 65536 refused");
        s.gop_latents = -2;
        CHECK(arg_encoder_open(&e, m, &s, W, H) == -EINVAL && !e, "gop -2 refused");
    }

    /* ---- decoder from the header: the same pictures as the token path */
    static float dec_a[NPIC][3 * W * H];
    int64_t pts_a[NPIC];
    ArgSettings s;
    arg_default_settings(&s);
    s.n_threads = 1;
    ArgDecoder *d;
    CHECK(arg_decoder_open_stream(&d, m, &s, seq, sizeof(seq), 0, err, sizeof(err)) == 0, "open_stream: %s", err);
    int k = decode(d, pk, n, dec_a, pts_a);
    CHECK(k == NPIC, "decoded %d pictures", k);
    for (int i = 0; i < k; i++)
        CHECK(pts_a[i] == i, "picture %d pts %lld", i, (long long)pts_a[i]);
    arg_decoder_close(d);
    {
        ArgDecoder *t;
        CHECK(arg_decoder_open(&t, m, &s, W, H) == 0, "open (token path)");
        int kk = 0;
        for (int i = 0; i < n; i++) {
            if (pk[i].keyframe)
                arg_decoder_reset(t);
            ArgTokens tk = { pk[i].tokens, NULL, 10, 6, 0, pk[i].duration, pk[i].keyframe };
            CHECK(arg_decoder_send_tokens(t, &tk) == 0, "send_tokens %d", i);
            ArgPicture pic;
            while (arg_decoder_get_picture(t, &pic) == 0 && kk < NPIC) {
                int same = 1;
                for (int c = 0; c < 3; c++)
                    for (int y = 0; y < H; y++)
                        same &= !memcmp(dec_a[kk] + (c * H + y) * W, pic.data + c * pic.plane_stride + y * pic.stride,
                                        W * sizeof(float));
                CHECK(same, "packet and token paths differ at picture %d", kk);
                kk++;
            }
        }
        CHECK(kk == NPIC, "token path pictures %d", kk);
        arg_decoder_close(t);
    }

    /* ---- token-only decoder */
    CHECK(arg_decoder_open_stream(&d, NULL, NULL, seq, sizeof(seq), 0, err, sizeof(err)) == 0, "token-only: %s", err);
    CHECK(!strcmp(arg_decoder_backend(d), "none (tokens only)"), "token-only backend '%s'", arg_decoder_backend(d));
    for (int i = 0; i < n; i++) {
        ArgPacket ap = { pk[i].data, pk[i].size, -1, 0, 0, { 0 } };
        CHECK(arg_decoder_send_packet(d, &ap) == 0, "token-only send %d", i);
        if (i == 0)
            CHECK(arg_decoder_send_packet(d, &ap) == -EAGAIN, "token-only: tokens must be fetched first");
        ArgTokens tk;
        CHECK(arg_decoder_get_tokens(d, &tk) == 0 && tk.tokens_w == 10 && tk.tokens_h == 6 &&
                  tk.keyframe == pk[i].keyframe && tk.n_pictures == pk[i].duration &&
                  !memcmp(tk.tokens, pk[i].tokens, 60 * sizeof(uint32_t)),
              "token-only tokens %d", i);
        CHECK(arg_decoder_get_tokens(d, &tk) == -EAGAIN, "tokens are given once");
        ArgPicture pic;
        CHECK(arg_decoder_get_picture(d, &pic) == -EINVAL, "no pictures from a token-only decoder");
    }
    arg_decoder_close(d);

    /* ---- model ID check */
    err[0] = 0;
    d = NULL;
    CHECK(arg_decoder_open_stream(&d, m2, &s, seq, sizeof(seq), 0, err, sizeof(err)) == -EINVAL && !d,
          "other model refused");
    char ida[32], idb[32];
    snprintf(ida, sizeof(ida), "%016llx", (unsigned long long)mi->id);
    snprintf(idb, sizeof(idb), "%016llx", (unsigned long long)arg_model_info(m2)->id);
    CHECK(strstr(err, ida) && strstr(err, idb) && strstr(err, "tiny-a") && strstr(err, "tiny-b"),
          "message names both models: %s", err);
    CHECK(arg_decoder_open_stream(&d, m2, &s, seq, sizeof(seq), ARG_DECODER_IGNORE_MODEL_ID, err, sizeof(err)) == 0,
          "override opens: %s", err);
    arg_decoder_close(d);
    CHECK(arg_decoder_open_stream(&d, m, &s, seq, sizeof(seq), 0x80, err, sizeof(err)) == -EINVAL, "unknown flag");

    /* ---- corrupt packet: -EBADMSG, then wait for the next keyframe */
    CHECK(arg_decoder_open_stream(&d, m, &s, seq, sizeof(seq), 0, err, sizeof(err)) == 0, "open again");
    k = 0;
    int corrupt = 1, second_key = gop; /* packet 1 is broken; packet 3 starts GOP 2 */
    for (int i = 0; i < n; i++) {
        uint8_t buf[4096];
        memcpy(buf, pk[i].data, pk[i].size);
        size_t sz = pk[i].size;
        if (i == corrupt)
            sz = 1; /* no payload: not one coded frame */
        ArgPacket ap = { buf, sz, pk[i].pts, 0, 0, { 0 } };
        int rc = arg_decoder_send_packet(d, &ap);
        if (i == corrupt)
            CHECK(rc == -EBADMSG, "truncated packet gives -EBADMSG (%d)", rc);
        else if (i > corrupt && i < second_key)
            CHECK(rc == 1, "packet %d before the next keyframe is dropped (%d)", i, rc);
        else
            CHECK(rc == 0, "packet %d decodes (%d)", i, rc);
        ArgPicture pic;
        while (arg_decoder_get_picture(d, &pic) == 0) {
            int64_t q = pic.pts;
            int same = q >= 0 && q < NPIC;
            for (int c = 0; same && c < 3; c++)
                for (int y = 0; y < H; y++)
                    same &= !memcmp(dec_a[q] + (c * H + y) * W, pic.data + c * pic.plane_stride + y * pic.stride,
                                    W * sizeof(float));
            CHECK(same, "picture %lld after recovery equals the clean decode", (long long)q);
            k++;
        }
    }
    CHECK(k == NPIC - 5 + 1, "pictures with one lost GOP tail: %d", k);
    uint8_t resv[2] = { 0xA0, 0 };
    ArgPacket rp = { resv, 2, 0, 0, 0, { 0 } };
    CHECK(arg_decoder_send_packet(d, &rp) == -EBADMSG, "reserved bits refused");
    uint8_t many[2] = { 0x83, 0 };
    ArgPacket mp = { many, 2, 0, 0, 0, { 0 } };
    CHECK(arg_decoder_send_packet(d, &mp) == -EBADMSG, "keyframe with 3 pictures refused");
    arg_decoder_close(d);

    /* ---- YUV pictures: send_yuv == convert + send_picture; get_yuv == get_picture + convert */
    {
        int cw = (W + 1) / 2, chh = (H + 1) / 2;
        static uint8_t yp[W * H], up[W * H], vp[W * H], y2[W * H], u2[W * H], v2[W * H];
        ArgPictureYUV yuv = { { yp, up, vp }, { W, cw, cw }, W, H, ARG_CHROMA_420_LEFT, ARG_MATRIX_BT709, 0, 0, 0 };
        ArgPicture src = { pics[0], W, H, W, W * H, 0 };
        CHECK(arg_rgb_to_yuv(&src, &yuv) == 0, "rgb_to_yuv");
        int wv[3], hv[3];
        CHECK(arg_yuv_plane_sizes(ARG_CHROMA_420, W, H, wv, hv) == 0 && wv[1] == cw && hv[1] == chh, "plane sizes");
        CHECK(arg_yuv_plane_sizes(7, W, H, wv, hv) == -EINVAL, "bad chroma");
        static float back[3 * W * H];
        ArgPicture bp = { back, W, H, W, W * H, 0 };
        CHECK(arg_yuv_to_rgb(&yuv, &bp) == 0, "yuv_to_rgb");
        double se = 0;
        for (int i = 0; i < W * H; i++) /* luma-weighted: compare G, which chroma subsampling spares least */
            se += (back[i] - pics[0][i]) * (back[i] - pics[0][i]);
        double psnr = 10 * log10(4.0 / (se / (W * H) + 1e-12));
        CHECK(psnr > 25, "RGB -> YUV 4:2:0 -> RGB PSNR %.1f dB", psnr);
        yuv.stride[0] = W - 1;
        CHECK(arg_yuv_to_rgb(&yuv, &bp) == -EINVAL, "short stride refused");
        yuv.stride[0] = W;

        ArgEncoder *e1, *e2;
        ArgSettings es;
        arg_default_settings(&es);
        es.n_threads = 1;
        CHECK(arg_encoder_open(&e1, m, &es, W, H) == 0 && arg_encoder_open(&e2, m, &es, W, H) == 0, "two encoders");
        CHECK(arg_encoder_send_yuv(e1, &yuv) == 0 && arg_encoder_send_picture(e2, &bp) == 0, "send yuv / rgb");
        ArgPacket a, b;
        CHECK(arg_encoder_get_packet(e1, &a) == 0 && arg_encoder_get_packet(e2, &b) == 0 && a.size == b.size &&
                  !memcmp(a.data, b.data, a.size), "send_yuv codes the converted picture");
        arg_encoder_close(e1);
        arg_encoder_close(e2);

        ArgDecoder *d1, *d2;
        CHECK(arg_decoder_open_stream(&d1, m, &s, seq, sizeof(seq), 0, err, sizeof(err)) == 0 &&
                  arg_decoder_open_stream(&d2, m, &s, seq, sizeof(seq), 0, err, sizeof(err)) == 0, "two decoders");
        ArgPacket ap = { pk[0].data, pk[0].size, 0, 0, 0, { 0 } };
        CHECK(arg_decoder_send_packet(d1, &ap) == 0 && arg_decoder_send_packet(d2, &ap) == 0, "send");
        ArgPictureYUV o1 = { { yp, up, vp }, { W, cw, cw }, W, H, ARG_CHROMA_422, ARG_MATRIX_BT601, 1, 0, 0 };
        ArgPictureYUV o2 = { { y2, u2, v2 }, { W, cw, cw }, W, H, ARG_CHROMA_422, ARG_MATRIX_BT601, 1, 0, 0 };
        ArgPicture pic;
        CHECK(arg_decoder_get_yuv(d1, &o1) == 0, "get_yuv");
        CHECK(arg_decoder_get_picture(d2, &pic) == 0 && arg_rgb_to_yuv(&pic, &o2) == 0, "get + convert");
        CHECK(!memcmp(yp, y2, (size_t)W * H) && !memcmp(up, u2, (size_t)cw * H) && !memcmp(vp, v2, (size_t)cw * H),
              "get_yuv gives the converted picture");
        CHECK(arg_decoder_get_yuv(d1, &o1) == -EAGAIN, "no second picture");
        arg_decoder_close(d1);
        arg_decoder_close(d2);
    }

    /* ---- token coder */
    {
        ArgTokenCoder *ce, *cd;
        CHECK(arg_token_coder_open(&ce, 25, 4, 4, 0) == -EINVAL, "25 bits refused");
        CHECK(arg_token_coder_open(&ce, 10, 10, 6, 0) == 0 && arg_token_coder_open(&cd, 10, 10, 6, 0) == 0, "open");
        uint32_t got[60];
        for (int i = 0; i < n; i++) {
            const uint8_t *data;
            size_t sz;
            CHECK(arg_token_coder_encode(ce, pk[i].tokens, pk[i].keyframe, &data, &sz, NULL) == 0, "encode %d", i);
            CHECK(sz == pk[i].size - 1 && !memcmp(data, pk[i].data + 1, sz), "coder bytes = packet payload %d", i);
            CHECK(arg_token_coder_decode(cd, data, sz, pk[i].keyframe, got) == 0 &&
                      !memcmp(got, pk[i].tokens, sizeof(got)), "decode %d", i);
        }
        uint32_t big[60] = { 1u << 10 };
        const uint8_t *data;
        size_t sz;
        CHECK(arg_token_coder_encode(ce, big, 1, &data, &sz, NULL) == -EINVAL, "token out of range refused");
        arg_token_coder_close(ce);
        arg_token_coder_close(cd);
    }

    free_pkts(pk, n);
    arg_model_free(m);
    arg_model_free(m2);
    free(file);
    free(file2);
    return check_summary();
}
