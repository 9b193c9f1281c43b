/* argdec: decode an ARG Matroska file to Y4M.
 *
 *   argdec -i IN.mkv -o OUT.y4m|- [-m MODEL] [--force] [-ss SECONDS]
 *          [--frames N] [--threads N] [--gemm KIND] [--backend cpu|vulkan|auto]
 *          [--device N] [--verify] [--info]
 *
 * --info prints the sequence header, the model, the GOPs and every packet's
 * size and bits per token (no decoding). --verify prints XXH3-64 of the
 * decoded tokens (little-endian uint32, latent frame after latent frame)
 * and of the decoded pictures (8-bit Y4M planes, picture after picture). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>
#include <opus/opus.h>

#include "arg/arg.h"
#include "arg_mkv.h"
#include "backendopt.h"
#include "metrics.h"
#include "modelpath.h"
#include "wav.h"
#include "y4m.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: argdec -i IN.mkv [-o OUT.y4m] [options]\n"
            "  -i FILE          ARG Matroska input\n"
            "  -o FILE          Y4M output ('-' for stdout; written atomically)\n"
            "  --psnr REF       compare the pictures with this Y4M (same size and chroma) and print PSNR\n"
            "  --audio FILE     decode the Opus track to a 16-bit 48 kHz WAV (written atomically)\n"
            "  -m MODEL         model file or name (default: the stream's model name)\n"
            "  --force          decode even if the model ID differs from the stream's\n"
            "  -ss SECONDS      start at this time (decoding from the GOP that holds it)\n"
            "  --frames N       output at most N pictures\n"
            "  --threads N      worker threads (default: all cores)\n"
            "  --gemm KIND      auto (default: OpenBLAS when built with it), builtin, blas or reference;\n"
            "                   builtin gives the reference pictures (conformance/README.md)\n"
            BACKEND_HELP
            "  --verify         print XXH3-64 of the decoded tokens and pictures\n"
            "  --info           describe the stream (header, GOPs, packets) and exit\n");
}

static int info_mode(MkvReader *r, const ArgSequenceHeader *h)
{
    printf("sequence header: model \"%s\" id %016" PRIx64 "\n", h->model_name,
           h->model_id);
    printf("  picture %dx%d (coded %dx%d), %u/%u fps, %u pictures, chroma %d\n", h->width, h->height,
           h->coded_width, h->coded_height, h->fps_num, h->fps_den, h->frame_count, h->chroma);
    printf("  tokens: %d bits, %dx%dx%d pictures x pixels per token; GOP %d latent frames; coder %d (R=%d)\n",
           h->lfq_bits, h->temporal_factor, h->spatial_factor, h->spatial_factor, h->gop_latents, h->coder,
           h->rate_max);
    printf("  colour: matrix %d, range %d, primaries %d, transfer %d\n", h->matrix, h->range, h->primaries,
           h->transfer);
    const char *enc = mkv_reader_tag(r, "ENCODER");
    if (enc)
        printf("  encoder: %s; settings: %s\n", enc, mkv_reader_tag(r, "ENCODER_SETTINGS") ? mkv_reader_tag(r, "ENCODER_SETTINGS") : "");
    const uint64_t *cues;
    int ncue;
    mkv_reader_cues(r, &cues, &ncue);
    printf("  %d cue points (GOP starts)\n", ncue);
    size_t tokens = (size_t)(h->coded_width / h->spatial_factor) * (h->coded_height / h->spatial_factor);
    MkvPacket p;
    int n = 0, gops = 0, rc;
    uint64_t total = 0;
    printf("  packet  time(s)    key  pictures  bytes  bits/token\n");
    while ((rc = mkv_read_packet(r, &p)) == 0) {
        if (p.track_type != MKV_TRACK_VIDEO || p.size < 1)
            continue;
        int key = p.keyframe;
        gops += key;
        printf("  %6d  %8.3f  %s  %8d  %5zu  %10.3f\n", n++, p.pts_ns / 1e9, key ? "key" : "   ", p.data[0] & 0x1F,
               p.size, (p.size - 1) * 8.0 / (double)tokens);
        total += p.size;
    }
    printf("  %d packets, %d GOPs, %" PRIu64 " bytes, %.3f bits/token (raw %d)\n", n, gops, total,
           n ? (total - (uint64_t)n) * 8.0 / ((double)n * tokens) : 0.0, h->lfq_bits);
    return rc < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
    const char *in = NULL, *out = NULL, *model_arg = NULL, *audio_out = NULL, *ref_path = NULL;
    int force = 0, verify = 0, info = 0, threads = 0, gemm = ARG_GEMM_AUTO;
    int backend = ARG_BACKEND_AUTO, device = 0;
    long max_frames = -1;
    double ss = 0;
    static const struct option lo[] = {
        { "force", no_argument, 0, 'f' },         { "verify", no_argument, 0, 'v' },
        { "info", no_argument, 0, 'I' },          { "frames", required_argument, 0, 'F' },
        { "threads", required_argument, 0, 'T' }, { "ss", required_argument, 0, 's' },
        { "help", no_argument, 0, 'h' },          { "audio", required_argument, 0, 'A' },
        { "psnr", required_argument, 0, 'P' },     { "gemm", required_argument, 0, 'G' },
        { "backend", required_argument, 0, 'B' }, { "device", required_argument, 0, 'D' },
        { 0, 0, 0, 0 },
    };
    int c;
    /* accept ffmpeg's single-dash -ss */
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-ss"))
            argv[i] = "--ss";
    while ((c = getopt_long(argc, argv, "i:o:m:h", lo, NULL)) != -1) {
        switch (c) {
        case 'i': in = optarg; break;
        case 'o': out = optarg; break;
        case 'm': model_arg = optarg; break;
        case 'f': force = 1; break;
        case 'v': verify = 1; break;
        case 'I': info = 1; break;
        case 'F': max_frames = atol(optarg); break;
        case 'T': threads = atoi(optarg); break;
        case 's': ss = atof(optarg); break;
        case 'A': audio_out = optarg; break;
        case 'P': ref_path = optarg; break;
        case 'G':
            if (!strcmp(optarg, "auto")) gemm = ARG_GEMM_AUTO;
            else if (!strcmp(optarg, "builtin")) gemm = ARG_GEMM_BUILTIN;
            else if (!strcmp(optarg, "blas")) gemm = ARG_GEMM_BLAS;
            else if (!strcmp(optarg, "reference")) gemm = ARG_GEMM_REFERENCE;
            else {
                fprintf(stderr, "argdec: --gemm wants auto, builtin, blas or reference, got '%s'\n", optarg);
                return 2;
            }
            break;
        case 'B':
        case 'D':
            if (backend_opt(c, optarg, "argdec", &backend, &device) < 0)
                return 2;
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!in || optind != argc || ss < 0 || threads < 0 || (!out && !verify && !info && !audio_out && !ref_path) || (ref_path && ss > 0)) {
        usage(stderr);
        return 2;
    }
    char err[512], path[1024];
    MkvReader *r;
    if (mkv_reader_open(&r, in, err, sizeof(err)) < 0) {
        fprintf(stderr, "argdec: %s: %s\n", in, err);
        return 1;
    }
    const MkvTrack *vt = mkv_reader_find_track(r, MKV_TRACK_VIDEO);
    ArgSequenceHeader h;
    if (!vt || strcmp(vt->codec_id, "V_ARG") != 0) {
        fprintf(stderr, "argdec: %s: no ARG video track (CodecID V_ARG)\n", in);
        mkv_reader_close(r);
        return 1;
    }
    if (arg_parse_sequence_header(&h, vt->codec_private, vt->codec_private_size, err, sizeof(err)) < 0) {
        fprintf(stderr, "argdec: %s: %s\n", in, err);
        mkv_reader_close(r);
        return 1;
    }
    if (info) {
        int rc = info_mode(r, &h);
        mkv_reader_close(r);
        return rc;
    }
    const char *want = model_arg ? model_arg : h.model_name;
    if (!want[0] || model_find(want, path, sizeof(path)) < 0) {
        fprintf(stderr, "argdec: model '%s' not found (give it with -m)\n", want);
        mkv_reader_close(r);
        return 1;
    }
    ArgModel *model = NULL;
    if (arg_model_load(&model, path, err, sizeof(err)) < 0) {
        fprintf(stderr, "argdec: %s\n", err);
        mkv_reader_close(r);
        return 1;
    }
    int ret = 1, rc;
    ArgDecoder *dec = NULL;
    Y4mWriter *yw = NULL;
    Y4mImage img = { 0 };
    XXH3_state_t *ht = XXH3_createState(), *hp = XXH3_createState();
    OpusDecoder *od = NULL;
    WavWriter *ww = NULL;
    float *apcm = NULL;
    int ach = 0;
    int64_t askip = 0;           /* 48 kHz samples still to drop (pre-skip) */
    int64_t aleft = -1;          /* 48 kHz samples still to write (-1: all) */
    Y4mReader *ref = NULL;
    Y4mImage rimg = { 0 };
    PsnrAcc acc;
    psnr_acc_init(&acc);
    ArgSettings s;
    arg_default_settings(&s);
    s.n_threads = threads;
    s.gemm = gemm;
    s.backend = backend;
    s.device = device;
    if ((rc = arg_decoder_open_stream(&dec, model, &s, vt->codec_private, vt->codec_private_size,
                                      force ? ARG_DECODER_IGNORE_MODEL_ID : 0, err, sizeof(err))) < 0) {
        fprintf(stderr, "argdec: %s%s\n", err,
                rc == -EINVAL && !force && strstr(err, "but this model") ? "; use the right model or --force" : "");
        goto out;
    }
    int ychroma = h.chroma == 444 ? Y4M_C444 : h.chroma == 422 ? Y4M_C422 : Y4M_C420JPEG;
    if (!ht || !hp || y4m_image_alloc(&img, h.width, h.height, ychroma) < 0) {
        fprintf(stderr, "argdec: out of memory\n");
        goto out;
    }
    XXH3_64bits_reset(ht);
    XXH3_64bits_reset(hp);
    if (out) {
        Y4mInfo yi = { h.width, h.height, (int)h.fps_num, (int)h.fps_den, 0, 0, ychroma,
                       h.range == 2 ? Y4M_RANGE_FULL : Y4M_RANGE_LIMITED };
        if (y4m_writer_open(&yw, out, &yi, err, sizeof(err)) < 0) {
            fprintf(stderr, "argdec: %s\n", err);
            goto out;
        }
    }
    if (audio_out) {
        const MkvTrack *at = mkv_reader_find_track(r, MKV_TRACK_AUDIO);
        if (!at || strcmp(at->codec_id, "A_OPUS") || at->codec_private_size < 19 ||
            memcmp(at->codec_private, "OpusHead", 8) || at->codec_private[9] < 1 || at->codec_private[9] > 2) {
            fprintf(stderr, "argdec: %s has no usable Opus audio track\n", in);
            goto out;
        }
        ach = at->codec_private[9];
        askip = at->codec_private[10] | at->codec_private[11] << 8;
        const char *ns = mkv_reader_tag(r, "ARG_AUDIO_SAMPLES"), *nr = mkv_reader_tag(r, "ARG_AUDIO_RATE");
        if (ns && nr && atoll(nr) > 0)
            aleft = (int64_t)(strtoull(ns, NULL, 10) * 48000ull / strtoull(nr, NULL, 10));
        int oerr;
        od = opus_decoder_create(48000, ach, &oerr);
        apcm = malloc((size_t)5760 * ach * sizeof(float));
        if (!od || !apcm || wav_writer_open(&ww, audio_out, 48000, ach, err, sizeof(err)) < 0) {
            fprintf(stderr, "argdec: cannot set up the audio output: %s\n", err);
            goto out;
        }
        if (ss > 0)
            fprintf(stderr, "argdec: note: with -ss the audio is still decoded from the start\n");
    }
    if (ref_path) {
        if (y4m_reader_open(&ref, ref_path, err, sizeof(err)) < 0) {
            fprintf(stderr, "argdec: %s\n", err);
            goto out;
        }
        const Y4mInfo *ri = y4m_reader_info(ref);
        int rch = ri->chroma == Y4M_C420MPEG2 || ri->chroma == Y4M_C420PALDV ? Y4M_C420JPEG : ri->chroma;
        if (ri->width != h.width || ri->height != h.height || rch != ychroma ||
            y4m_image_alloc(&rimg, ri->width, ri->height, ri->chroma) < 0) {
            fprintf(stderr, "argdec: %s: size or chroma differs from the stream\n", ref_path);
            goto out;
        }
    }
    Y4mColor col = { h.matrix == 1 ? Y4M_MATRIX_BT709 : Y4M_MATRIX_BT601, h.range == 2, Y4M_UPSAMPLE_BILINEAR };
    uint64_t start_ns = (uint64_t)(ss * 1e9);
    if (ss > 0 && (rc = mkv_seek(r, start_ns)) < 0) {
        fprintf(stderr, "argdec: cannot seek: %s\n", err);
        goto out;
    }
    struct timespec ts0, ts1;
    clock_gettime(CLOCK_MONOTONIC, &ts0);
    MkvPacket p;
    long written = 0, decoded = 0;
    uint64_t picture_ns = 1000000000ull * h.fps_den / h.fps_num;
    while ((rc = mkv_read_packet(r, &p)) == 0) {
        if (p.track_type == MKV_TRACK_AUDIO && od) {
            int an = opus_decode_float(od, p.data, (opus_int32)p.size, apcm, 5760, 0);
            if (an < 0) {
                fprintf(stderr, "argdec: corrupt Opus packet at %.3f s\n", p.pts_ns / 1e9);
                goto out;
            }
            int from = 0;
            if (askip > 0) {
                from = askip < an ? (int)askip : an;
                askip -= from;
            }
            int64_t k = an - from;
            if (aleft >= 0 && k > aleft)
                k = aleft;
            if (k > 0 && wav_writer_write(ww, apcm + (size_t)from * ach, (long)k) < 0) {
                fprintf(stderr, "argdec: cannot write %s\n", audio_out);
                goto out;
            }
            if (aleft >= 0)
                aleft -= k;
            continue;
        }
        if (p.track_type != MKV_TRACK_VIDEO)
            continue;
        if (!out && !verify && !ref)
            continue;
        /* Matroska times are rounded to 1 ms: the nearest picture */
        int64_t first = (int64_t)(((double)p.pts_ns * h.fps_num / h.fps_den + 5e8) / 1e9);
        ArgPacket ap = { p.data, p.size, first, 0, 0, { 0 } };
        rc = arg_decoder_send_packet(dec, &ap);
        if (rc == 1)
            continue; /* before the first keyframe */
        if (rc < 0) {
            fprintf(stderr, "argdec: %s packet at %.3f s (%s)\n", rc == -EBADMSG ? "corrupt" : "cannot decode the",
                    p.pts_ns / 1e9, strerror(-rc));
            goto out;
        }
        ArgTokens t;
        if (arg_decoder_get_tokens(dec, &t) == 0) /* little-endian hosts */
            XXH3_64bits_update(ht, t.tokens, (size_t)t.tokens_w * t.tokens_h * sizeof(uint32_t));
        ArgPicture pic;
        while (arg_decoder_get_picture(dec, &pic) == 0) {
            uint64_t this_pts = (uint64_t)pic.pts * picture_ns;
            decoded++;
            if (this_pts + 500000 < start_ns)
                continue; /* before -ss */
            if (max_frames >= 0 && written >= max_frames)
                continue;
            y4m_rgb_to_yuv(pic.data, pic.stride, pic.plane_stride, &col, &img);
            for (int pl = 0; pl < 3; pl++)
                for (int y = 0; y < img.h[pl]; y++)
                    XXH3_64bits_update(hp, img.data[pl] + y * img.stride[pl], (size_t)img.w[pl]);
            if (ref) {
                if (y4m_reader_read(ref, &rimg) != 1) {
                    fprintf(stderr, "argdec: %s has fewer pictures than the stream\n", ref_path);
                    goto out;
                }
                for (int pl = 0; pl < 3; pl++)
                    psnr_acc_add(&acc, pl, metrics_sse_u8(img.data[pl], img.stride[pl], rimg.data[pl], rimg.stride[pl],
                                                          img.w[pl], img.h[pl]),
                                 (uint64_t)img.w[pl] * img.h[pl]);
            }
            if (yw && y4m_writer_write(yw, &img) < 0) {
                fprintf(stderr, "argdec: %s\n", y4m_writer_error(yw));
                goto out;
            }
            written++;
        }
        if (max_frames >= 0 && written >= max_frames && !od)
            break;
    }
    if (rc < 0) {
        fprintf(stderr, "argdec: %s: %s\n", in, err);
        goto out;
    }
    if (yw) {
        rc = y4m_writer_close(yw, err, sizeof(err));
        yw = NULL;
        if (rc < 0) {
            fprintf(stderr, "argdec: %s\n", err);
            goto out;
        }
    }
    if (ww) {
        rc = wav_writer_close(ww, 1);
        ww = NULL;
        if (rc < 0) {
            fprintf(stderr, "argdec: cannot finish %s\n", audio_out);
            goto out;
        }
    }
    if (ref) {
        double py = psnr_acc_plane(&acc, 0), pu = psnr_acc_plane(&acc, 1), pv = psnr_acc_plane(&acc, 2);
        printf("PSNR Y %.3f  U %.3f  V %.3f  YUV(6:1:1) %.3f dB over %ld pictures\n", py, pu, pv,
               (6 * py + pu + pv) / 8, written);
    }
    if (verify)
        printf("tokens %016" PRIx64 "\nframes %016" PRIx64 "\npictures %ld\n", (uint64_t)XXH3_64bits_digest(ht),
               (uint64_t)XXH3_64bits_digest(hp), written);
    clock_gettime(CLOCK_MONOTONIC, &ts1);
    double el = (double)(ts1.tv_sec - ts0.tv_sec) + (ts1.tv_nsec - ts0.tv_nsec) * 1e-9;
    fprintf(stderr, "argdec: %ld pictures %dx%d in %.2f s (%.2f fps) on %s\n", written, h.width, h.height, el,
            el > 0 ? written / el : 0.0, arg_decoder_backend(dec));
    ret = 0;
out:
    y4m_image_free(&rimg);
    y4m_reader_close(ref);
    if (ww)
        wav_writer_close(ww, 0);
    if (od)
        opus_decoder_destroy(od);
    free(apcm);
    y4m_writer_abort(yw);
    y4m_image_free(&img);
    XXH3_freeState(ht);
    XXH3_freeState(hp);
    arg_decoder_close(dec);
    arg_model_free(model);
    mkv_reader_close(r);
    return ret;
}
