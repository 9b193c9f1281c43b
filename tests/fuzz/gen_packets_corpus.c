/*
 * Seed corpus of fuzz_packets: real streams of the fuzz target's tiny model
 * (same config and seed), encoded through the public API and written in
 * the target's input format. Run by hand when the format changes:
 *   ninja -C build tests/fuzz/gen_packets_corpus
 *   build/tests/fuzz/gen_packets_corpus tests/fuzz/corpus/packets
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arg/arg.h"
#include "modelgen.h"

static const char *k_cfg =
    "{\"in_channels\":3,\"patch_size\":2,\"base_channels\":8,\"channel_mult\":[1,2],"
    "\"enc_blocks\":[1,1],\"dec_blocks\":[1,1],\"mid_blocks\":1,\"down\":[[2,2]],"
    "\"num_groups\":4,\"norm_eps\":1e-06,\"norm_scope\":\"frame\",\"clip_frames\":17,\"padding\":\"zeros\","
    "\"decoder_norm\":\"adaptive\",\"agn_var\":\"biased\",\"lfq_bits\":10}";

static int write_case(const char *dir, int idx, const ArgModel *m, int w, int h, int gop, int npic, uint8_t b0)
{
    ArgSettings s;
    arg_default_settings(&s);
    s.n_threads = 1;
    s.gop_latents = gop;
    ArgEncoder *e;
    if (arg_encoder_open(&e, m, &s, w, h) < 0)
        return -1;
    float *pic = malloc((size_t)3 * w * h * sizeof(float));
    uint8_t *out = malloc(1 << 20);
    size_t n = 0;
    out[n++] = b0;
    if (b0 & 4) {
        arg_encoder_sequence_header(e, out + n, ARG_SEQUENCE_HEADER_SIZE); /* frame count 0 */
        n += ARG_SEQUENCE_HEADER_SIZE;
    } else {
        /* bytes that give w x h and the GOP in the target's template */
        out[n++] = (uint8_t)(w - 1);
        out[n++] = (uint8_t)(h - 1);
        out[n++] = (uint8_t)(gop - 1);
    }
    for (int t = 0; t <= npic; t++) {
        if (t < npic) {
            for (int c = 0; c < 3; c++)
                for (int i = 0; i < w * h; i++)
                    pic[c * w * h + i] = 0.7f * sinf(0.4f * (float)(i % w + t) + (float)c) * cosf(0.3f * (float)(i / w));
            ArgPicture p = { pic, w, h, w, (ptrdiff_t)w * h, 0 };
            arg_encoder_send_picture(e, &p);
        } else {
            arg_encoder_flush(e);
        }
        ArgPacket pk;
        while (arg_encoder_get_packet(e, &pk) == 0) {
            out[n++] = (uint8_t)(pk.size >> 8);
            out[n++] = (uint8_t)pk.size;
            memcpy(out + n, pk.data, pk.size);
            n += pk.size;
        }
    }
    char path[1024];
    snprintf(path, sizeof(path), "%s/seed-%02d-%dx%d-g%d", dir, idx, w, h, gop);
    FILE *f = fopen(path, "wb");
    int rc = f && fwrite(out, 1, n, f) == n ? 0 : -1;
    if (f)
        fclose(f);
    free(pic);
    free(out);
    arg_encoder_close(e);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_packets_corpus DIR\n");
        return 2;
    }
    uint8_t *file;
    size_t n;
    ArgModel *m;
    if (gen_model(k_cfg, "fuzz-tiny", 3, &file, &n) < 0 || arg_model_load_memory(&m, file, n, NULL, 0) < 0)
        return 1;
    int rc = 0;
    rc |= write_case(argv[1], 0, m, 16, 12, 3, 9, 0x00);
    rc |= write_case(argv[1], 1, m, 21, 13, 2, 7, 0x01);
    rc |= write_case(argv[1], 2, m, 8, 8, 4, 11, 0x02);
    rc |= write_case(argv[1], 3, m, 12, 9, 8, 5, 0x05);
    rc |= write_case(argv[1], 4, m, 5, 7, 1, 4, 0x0B);
    arg_model_free(m);
    free(file);
    return rc ? 1 : 0;
}
