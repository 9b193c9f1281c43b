/*
 * libFuzzer target for the public packet decode path (arg.h): a sequence
 * header and packets go through arg_decoder_open_stream,
 * arg_decoder_send_packet, arg_decoder_get_tokens and
 * arg_decoder_get_picture with a tiny random-weight model (generated once,
 * tests/modelgen.h), on 1 or 2 threads, with pictures or tokens only.
 *
 * Input:
 *   byte 0     bit 0: 2 threads; bit 1: token-only decoder; bit 2: a raw
 *              80-byte sequence header follows (else a valid one is built
 *              from bytes 1..3); bit 3: ARG_DECODER_IGNORE_MODEL_ID
 *   bytes 1..3 (template) width 1 + b1 % 48, height 1 + b2 % 40,
 *              GOP 1 + b3 % 8 latent frames
 *   then       packets: a 16-bit big-endian length and that many bytes
 * Checks: tokens are below 2^bits, pictures have the stream's size and
 * values in [-1, 1], pts never go backwards within a GOP, every call
 * returns a documented code.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arg/arg.h"
#include "modelgen.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_PACKETS 48

/* The tiny streaming model of tests/test_stream.c: 4x4x2 pixels x pictures
 * per 10-bit token. */
static const char *k_cfg =
    "{\"in_channels\":3,\"patch_size\":2,\"base_channels\":8,\"channel_mult\":[1,2],"
    "\"enc_blocks\":[1,1],\"dec_blocks\":[1,1],\"mid_blocks\":1,\"down\":[[2,2]],"
    "\"num_groups\":4,\"norm_eps\":1e-06,\"norm_scope\":\"frame\",\"clip_frames\":17,\"padding\":\"zeros\","
    "\"decoder_norm\":\"adaptive\",\"agn_var\":\"biased\",\"lfq_bits\":10}";

static ArgModel *model(void)
{
    static ArgModel *m;
    if (!m) {
        uint8_t *file;
        size_t n;
        if (gen_model(k_cfg, "fuzz-tiny", 3, &file, &n) < 0 || arg_model_load_memory(&m, file, n, NULL, 0) < 0)
            abort();
        free(file);
    }
    return m;
}

static void check_picture(const ArgPicture *p, const ArgSequenceHeader *h)
{
    if (p->width != h->width || p->height != h->height)
        abort();
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < p->height; y++)
            for (int x = 0; x < p->width; x++) {
                float v = p->data[c * p->plane_stride + y * p->stride + x];
                if (!(v >= -1.0f && v <= 1.0f))
                    abort();
            }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const ArgModel *m = model();
    const ArgModelInfo *mi = arg_model_info(m);
    uint8_t b0 = data[0];
    size_t pos = 1;
    uint8_t seq[ARG_SEQUENCE_HEADER_SIZE];
    if (b0 & 4) {
        if (size < pos + sizeof(seq))
            return 0;
        memcpy(seq, data + pos, sizeof(seq));
        pos += sizeof(seq);
    } else {
        if (size < pos + 3)
            return 0;
        ArgSequenceHeader h;
        memset(&h, 0, sizeof(h));
        h.model_id = mi->id;
        snprintf(h.model_name, sizeof(h.model_name), "%.32s", mi->name);
        h.width = 1 + data[1] % 48;
        h.height = 1 + data[2] % 40;
        h.coded_width = (h.width + 3) / 4 * 4;
        h.coded_height = (h.height + 3) / 4 * 4;
        h.fps_num = 25;
        h.fps_den = 1;
        h.temporal_factor = mi->temporal_factor;
        h.spatial_factor = mi->spatial_factor;
        h.lfq_bits = mi->lfq_bits;
        h.matrix = h.primaries = h.transfer = 6;
        h.range = 1;
        h.chroma = 420;
        h.gop_latents = 1 + data[3] % 8;
        h.coder = 1;
        h.rate_max = 5;
        if (arg_write_sequence_header(&h, seq, sizeof(seq)) != ARG_SEQUENCE_HEADER_SIZE)
            abort();
        pos += 3;
    }
    ArgSettings s;
    arg_default_settings(&s);
    s.n_threads = 1 + (b0 & 1);
    s.gemm = ARG_GEMM_BUILTIN;
    s.backend = ARG_BACKEND_CPU;
    ArgDecoder *d = NULL;
    char err[256];
    err[0] = 0;
    int rc = arg_decoder_open_stream(&d, (b0 & 2) ? NULL : m, &s, seq, sizeof(seq),
                                     (b0 & 8) ? ARG_DECODER_IGNORE_MODEL_ID : 0, err, sizeof(err));
    if (rc < 0) {
        if (d || !err[0] || !memchr(err, 0, sizeof(err)))
            abort(); /* a refusal says why and returns nothing */
        return 0;
    }
    ArgSequenceHeader h;
    if (arg_decoder_get_header(d, &h) != 0)
        abort();
    int tw = h.coded_width / h.spatial_factor, th = h.coded_height / h.spatial_factor;
    int npk = 0;
    while (pos + 2 <= size && npk++ < FUZZ_MAX_PACKETS) {
        size_t len = (size_t)data[pos] << 8 | data[pos + 1];
        pos += 2;
        if (len > size - pos)
            len = size - pos;
        ArgPacket p = { data + pos, len, -1, 0, 0, { 0 } };
        pos += len;
        rc = arg_decoder_send_packet(d, &p);
        if (rc != 0 && rc != 1 && rc != -EBADMSG)
            abort(); /* pictures and tokens are fetched below: -EAGAIN cannot happen */
        ArgTokens t;
        int got = arg_decoder_get_tokens(d, &t);
        if (got == 0) {
            if (rc != 0 || t.tokens_w != tw || t.tokens_h != th || t.n_pictures < 0 ||
                t.n_pictures > h.temporal_factor)
                abort();
            for (int i = 0; i < tw * th; i++)
                if (t.tokens[i] >> h.lfq_bits)
                    abort();
        } else if (got != -EAGAIN || rc == 0) {
            abort(); /* a decoded packet always has tokens */
        }
        ArgPicture pic;
        while ((rc = arg_decoder_get_picture(d, &pic)) == 0)
            check_picture(&pic, &h);
        if (rc != ((b0 & 2) ? -EINVAL : -EAGAIN))
            abort();
    }
    rc = arg_decoder_flush(d);
    if (rc != 0 && rc != -EINVAL)
        abort();
    arg_decoder_close(d);
    return 0;
}
