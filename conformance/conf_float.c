/* conf_float: decode one conformance vector on several decoding paths at once
 * and compare their pictures in float, before any 8-bit conversion, against
 * the builtin GEMM with 1 thread (the reference path).
 *
 *   conf_float MODEL.safetensors VECTOR.mkv [TOLERANCE | --hash-only]
 *
 * Paths: builtin GEMM with 2 threads (must be bit-identical), OpenBLAS with 1
 * and 2 threads when built with it, and the double-precision reference GEMM
 * when the stream is small (each within TOLERANCE, default 1e-3, the bound
 * of spec/bitstream.md in [-1, 1] units). Prints one line per path:
 *   path NAME max_abs X pictures N [exact]
 * and exits 1 when a path breaks its bound or decodes another number of
 * pictures, 2 on bad usage or input. First it prints
 *   float_hash HEX
 * the XXH3-64 of the reference path's pictures as float32 (R, G and B planes
 * of each picture, rows of width values, little-endian), which the runner
 * compares across SIMD levels and with the vector's expected value;
 * --hash-only decodes on the reference path alone and prints just that. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "arg/arg.h"
#include "arg_mkv.h"

#define MAX_PATHS 5

typedef struct Path {
    const char *name;
    int gemm, threads, exact;
    ArgDecoder *dec;
    double max_abs;
    long pictures;
    int bit_identical;
} Path;

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: conf_float MODEL.safetensors VECTOR.mkv [TOLERANCE | --hash-only]\n");
        return 2;
    }
    int hash_only = argc == 4 && !strcmp(argv[3], "--hash-only");
    double tol = argc == 4 && !hash_only ? atof(argv[3]) : 1e-3;
    if (!(tol >= 0 && tol < 1)) {
        fprintf(stderr, "conf_float: TOLERANCE must be in [0, 1)\n");
        return 2;
    }
    char err[512];
    ArgModel *model = NULL;
    MkvReader *r = NULL;
    if (arg_model_load(&model, argv[1], err, sizeof(err)) < 0) {
        fprintf(stderr, "conf_float: %s\n", err);
        return 2;
    }
    if (mkv_reader_open(&r, argv[2], err, sizeof(err)) < 0) {
        fprintf(stderr, "conf_float: %s: %s\n", argv[2], err);
        arg_model_free(model);
        return 2;
    }
    int ret = 2, rc;
    ArgSequenceHeader h;
    float *ref = NULL;
    XXH3_state_t *fh = XXH3_createState();
    Path paths[MAX_PATHS];
    int np = 0;
    const MkvTrack *vt = mkv_reader_find_track(r, MKV_TRACK_VIDEO);
    if (!vt || strcmp(vt->codec_id, "V_ARG") ||
        arg_parse_sequence_header(&h, vt->codec_private, vt->codec_private_size, err, sizeof(err)) < 0) {
        fprintf(stderr, "conf_float: %s: no valid V_ARG track\n", argv[2]);
        goto out;
    }
    const ArgModelInfo *mi = arg_model_info(model);
    if (mi->id != h.model_id) {
        fprintf(stderr, "conf_float: the stream's model ID differs from %s\n", argv[1]);
        goto out;
    }
    /* paths[0] is the reference */
    paths[np++] = (Path){ "builtin-1t", ARG_GEMM_BUILTIN, 1, 1, NULL, 0, 0, 1 };
    if (!hash_only) {
        paths[np++] = (Path){ "builtin-2t", ARG_GEMM_BUILTIN, 2, 1, NULL, 0, 0, 1 };
        paths[np++] = (Path){ "blas-1t", ARG_GEMM_BLAS, 1, 0, NULL, 0, 0, 1 };
        paths[np++] = (Path){ "blas-2t", ARG_GEMM_BLAS, 2, 0, NULL, 0, 0, 1 };
    }
    if (!hash_only && (long)h.width * h.height * (h.frame_count ? h.frame_count : 1000) <= 6000)
        paths[np++] = (Path){ "reference-2t", ARG_GEMM_REFERENCE, 2, 0, NULL, 0, 0, 1 };
    for (int i = 0; i < np; i++) {
        ArgSettings s;
        arg_default_settings(&s);
        s.n_threads = paths[i].threads;
        s.gemm = paths[i].gemm;
        rc = arg_decoder_open_stream(&paths[i].dec, model, &s, vt->codec_private, vt->codec_private_size, 0,
                                     err, sizeof(err));
        if (rc == -ENOTSUP && paths[i].gemm == ARG_GEMM_BLAS) {
            printf("path %s not built\n", paths[i].name);
            paths[i].dec = NULL;
            continue;
        }
        if (rc < 0) {
            fprintf(stderr, "conf_float: cannot open the %s decoder: %s\n", paths[i].name, err);
            goto out;
        }
    }
    size_t plane = (size_t)h.width * h.height;
    /* the pictures one packet gives on the reference path: at most ft (16),
     * or a whole clip for fixed-clip models */
    int max_pics = mi->clip_frames > 16 ? mi->clip_frames : 16;
    ref = malloc((size_t)max_pics * 3 * plane * sizeof(float));
    if (!ref || !fh || XXH3_64bits_reset(fh) != XXH_OK) {
        fprintf(stderr, "conf_float: out of memory\n");
        goto out;
    }
    MkvPacket p;
    while ((rc = mkv_read_packet(r, &p)) == 0) {
        if (p.track_type != MKV_TRACK_VIDEO)
            continue;
        int nref = 0;
        for (int i = 0; i < np; i++) {
            if (!paths[i].dec)
                continue;
            ArgPacket ap = { p.data, p.size, -1, 0, 0, { 0 } };
            if ((rc = arg_decoder_send_packet(paths[i].dec, &ap)) < 0) {
                fprintf(stderr, "conf_float: %s: %s packet at %.3f s\n", paths[i].name,
                        rc == -EBADMSG ? "corrupt" : "cannot decode the", p.pts_ns / 1e9);
                goto out;
            }
            ArgPicture pic;
            int k = 0;
            while (arg_decoder_get_picture(paths[i].dec, &pic) == 0) {
                if (pic.width != h.width || pic.height != h.height || k >= max_pics) {
                    fprintf(stderr, "conf_float: %s gives an unexpected picture\n", paths[i].name);
                    goto out;
                }
                for (int c = 0; c < 3; c++)
                    for (int y = 0; y < h.height; y++) {
                        const float *row = pic.data + c * pic.plane_stride + y * pic.stride;
                        float *rr = ref + ((size_t)k * 3 + c) * plane + (size_t)y * h.width;
                        if (i == 0) {
                            memcpy(rr, row, (size_t)h.width * sizeof(float));
                            XXH3_64bits_update(fh, row, (size_t)h.width * sizeof(float)); /* little-endian hosts */
                            continue;
                        }
                        for (int x = 0; x < h.width; x++) {
                            double d = fabs((double)row[x] - rr[x]);
                            if (d > paths[i].max_abs || d != d)
                                paths[i].max_abs = d != d ? INFINITY : d;
                            if (memcmp(&row[x], &rr[x], sizeof(float)))
                                paths[i].bit_identical = 0;
                        }
                    }
                k++;
            }
            if (i == 0)
                nref = k;
            else if (k != nref) {
                fprintf(stderr, "conf_float: %s gives %d pictures for a packet, the reference %d\n", paths[i].name, k,
                        nref);
                paths[i].pictures = -1;
                goto report;
            }
            paths[i].pictures += k;
        }
    }
    if (rc < 0) {
        fprintf(stderr, "conf_float: %s: %s\n", argv[2], err);
        goto out;
    }
report:
    ret = 0;
    printf("float_hash %016llx\n", (unsigned long long)XXH3_64bits_digest(fh));
    for (int i = 1; i < np; i++) {
        if (!paths[i].dec)
            continue;
        int ok = paths[i].pictures == paths[0].pictures &&
                 (paths[i].exact ? paths[i].bit_identical : paths[i].max_abs <= tol);
        printf("path %s max_abs %.3g pictures %ld%s%s\n", paths[i].name, paths[i].max_abs, paths[i].pictures,
               paths[i].bit_identical ? " exact" : "", ok ? "" : (paths[i].exact ? " FAIL (not bit-identical)" : " FAIL"));
        if (!ok)
            ret = 1;
    }
out:
    for (int i = 0; i < np; i++)
        arg_decoder_close(paths[i].dec);
    free(ref);
    XXH3_freeState(fh);
    mkv_reader_close(r);
    arg_model_free(model);
    return ret;
}
