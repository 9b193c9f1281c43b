/* arganalyze: activities of an ARG stream as ActEV SDL v2 JSON, from the
 * tokens alone (a token-only decoder: no picture is decoded). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arg/analysis.h"
#include "arg/arg.h"
#include "arg_mkv.h"
#include "analyze_opt.h"
#include "cli.h"
#include "modelpath.h"
#include "overlay.h"
#include "png.h"
#include "y4m.h"

static struct {
    const char *in, *out, *name, *stats, *proposals, *draw, *draw_from, *model;
    double fg_bits, min_cube_fg, min_score;
    int draw_every, draw_per, threads;
} opt = { NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, -1, -1, -1, 16, 8, 0 };

static const CliOpt opts[] = {
    { .names = "-i --input", .kind = CLI_STRING, .dest = &opt.in, .metavar = "FILE",
      .help = "ARG stream (Matroska, .mkv)", .flags = CLI_REQUIRED },
    { .names = "-o --output", .kind = CLI_STRING, .dest = &opt.out, .metavar = "FILE",
      .help = "ActEV SDL v2 system output (JSON, written atomically; '-' for stdout)",
      .flags = CLI_REQUIRED },
    CLI_OPT_STRING("--name", &opt.name, "NAME",
                   "the video's name in the JSON (default: the input's file name;\n"
                   "characters other than A-Z a-z 0-9 _ - . become _)"),
    CLI_OPT_STRING("--stats", &opt.stats, "FILE", "write statistics and speed as JSON"),
    CLI_OPT_STRING("--proposals", &opt.proposals, "FILE",
                   "write the cube proposals (before activity scoring) as JSON"),
    CLI_OPT_DOUBLE("--fg-bits", &opt.fg_bits, 0.1, 32, "X",
                   "foreground threshold, weighted Hamming bits (default 3)"),
    CLI_OPT_DOUBLE("--min-cube-fg", &opt.min_cube_fg, 0, 1, "X",
                   "smallest mean foreground fraction of a kept cube (default 0.15)"),
    CLI_OPT_DOUBLE("--min-score", &opt.min_score, 0, 1, "X",
                   "smallest presence confidence reported (default 0.1)"),
    CLI_OPT_STRING("--draw", &opt.draw, "FILE.png",
                   "draw the tracks (boxes, #IDs) and activities on the pictures, for\n"
                   "checking by eye: contact sheets FILE_NNNN.png (NNNN: the sheet's\n"
                   "first picture, 1-based) of every --draw-every-th picture. This\n"
                   "decodes pictures (the model of the stream, or -m), unless\n"
                   "--draw-from gives them"),
    CLI_OPT_INT("--draw-every", &opt.draw_every, 1, 1000000, "N", "draw every N-th picture (default 16)"),
    CLI_OPT_INT("--draw-per", &opt.draw_per, 1, 64, "N", "pictures per sheet (default 8)"),
    CLI_OPT_STRING("--draw-from", &opt.draw_from, "FILE.y4m",
                   "draw on these pictures (the source of the stream, same size)\n"
                   "instead of decoding"),
    CLI_OPT_STRING("-m --model", &opt.model, "MODEL", "model for --draw's decoding (default: the stream's)"),
    CLI_OPT_INT("--threads", &opt.threads, 0, 1024, "N", "decoder threads for --draw (default 0: all cores)"),
    { .names = "-q --quiet", .kind = CLI_FLAG, .dest = &cli_quiet, .help = "no progress line or summary" },
    CLI_OPT_OVERWRITE_YES,
    CLI_OPT_OVERWRITE_NO,
    CLI_OPT_END,
};

static const CliTool tool = {
    .name = "arganalyze",
    .synopsis = "-i VIDEO.mkv -o ACTIVITIES.json [options]",
    .about = "Finds activities (person_walks, person_stands, person_enters_scene,\n"
             "person_exits_scene, vehicle_moves, vehicle_starts, vehicle_stops,\n"
             "vehicle_turns_left, vehicle_turns_right) in an ARG stream from its tokens,\n"
             "without decoding pictures, and writes them as ActEV SDL v2 JSON (frames\n"
             "1-based, boxes in source pixels). A stream that cannot be read still gives\n"
             "a valid JSON whose processingReport says \"fail\" and why (exit status 1).",
    .opts = opts,
};

static int write_proposals(const char *path, ArgAnalysis *an)
{
    CliOut o;
    if (cli_out_open(&o, path) < 0)
        return -1;
    CliJson j;
    cli_json_init(&j, o.f, 2);
    cli_json_object_begin(&j);
    cli_json_key(&j, "proposals");
    cli_json_array_begin(&j);
    const ArgProposal *p = NULL;
    int n = arg_analysis_proposals(an, &p);
    for (int i = 0; i < n; i++) {
        cli_json_object_begin(&j);
        cli_json_key(&j, "track");
        cli_json_int(&j, p[i].track_id);
        cli_json_key(&j, "objectType");
        cli_json_string(&j, arg_object_name(p[i].object_type));
        cli_json_key(&j, "first");
        cli_json_int(&j, p[i].first + 1);
        cli_json_key(&j, "end");
        cli_json_int(&j, p[i].end + 1);
        cli_json_key(&j, "box");
        cli_json_array_begin(&j);
        cli_json_int(&j, p[i].box.x);
        cli_json_int(&j, p[i].box.y);
        cli_json_int(&j, p[i].box.w);
        cli_json_int(&j, p[i].box.h);
        cli_json_array_end(&j);
        cli_json_key(&j, "fg");
        cli_json_double(&j, p[i].fg, "%.4f");
        cli_json_key(&j, "kept");
        cli_json_bool(&j, p[i].kept);
        cli_json_object_end(&j);
    }
    cli_json_array_end(&j);
    cli_json_object_end(&j);
    cli_json_finish(&j);
    return cli_out_commit(&o) < 0 ? -1 : 0;
}

/* ------------------------------------------------------------ --draw */

typedef struct Sheet {
    uint8_t *rgb;
    int w, h, cols, pw, ph, n;
    int64_t first;          /* 0-based picture of the first cell */
    const char *base;       /* FILE without .png */
    size_t base_len;
    int files;
} Sheet;

static int sheet_flush(Sheet *sh)
{
    if (sh->n == 0)
        return 0;
    char path[4096];
    snprintf(path, sizeof(path), "%.*s_%04lld.png", (int)sh->base_len, sh->base, (long long)sh->first + 1);
    int rows = (sh->n + sh->cols - 1) / sh->cols;
    int h = rows * (sh->ph + 4) - 4;
    CliOut o;
    if (cli_check_overwrite(path) < 0 || cli_out_open(&o, path) < 0)
        return -1;
    if (png_write_rgb(o.f, sh->rgb, sh->w, h, 3 * (ptrdiff_t)sh->w) < 0) {
        cli_error("cannot write %s", path);
        cli_out_abort(&o);
        return -1;
    }
    if (cli_out_commit(&o) < 0)
        return -1;
    sh->files++;
    sh->n = 0;
    memset(sh->rgb, 0, (size_t)sh->w * sh->h * 3);
    return 0;
}

/* One picture (8-bit RGB, w x h) into the sheet. */
static int sheet_add(Sheet *sh, int64_t picture, const uint8_t *rgb, ArgAnalysis *an)
{
    if (sh->n == 0)
        sh->first = picture;
    int r = sh->n / sh->cols, c = sh->n % sh->cols;
    uint8_t *dst = sh->rgb + ((size_t)r * (sh->ph + 4) * sh->w + (size_t)c * (sh->pw + 4)) * 3;
    for (int y = 0; y < sh->ph; y++)
        memcpy(dst + (size_t)y * sh->w * 3, rgb + (size_t)y * sh->pw * 3, (size_t)sh->pw * 3);
    OvImage im = { dst, sh->pw, sh->ph, 3 * (ptrdiff_t)sh->w };
    const ArgTrack *tr = NULL;
    const ArgActivity *acts = NULL;
    int nt = arg_analysis_tracks(an, &tr), na = arg_analysis_activities(an, &acts);
    ov_draw_analysis(&im, picture, tr, nt < 0 ? 0 : nt, acts, na < 0 ? 0 : na, sh->pw >= 640 ? 2 : 1);
    if (++sh->n == opt.draw_per)
        return sheet_flush(sh);
    return 0;
}

/* Pictures from the Y4M source (--draw-from) or by decoding the stream. */
static int draw_pass(ArgAnalysis *an, const ArgSequenceHeader *h)
{
    const char *dot = strrchr(opt.draw, '.');
    if (!dot || strcmp(dot, ".png")) {
        cli_error("--draw %s: only .png contact sheets are supported", opt.draw);
        return -1;
    }
    Sheet sh;
    memset(&sh, 0, sizeof(sh));
    sh.pw = h->width;
    sh.ph = h->height;
    sh.cols = opt.draw_per < 4 ? opt.draw_per : h->width > 640 ? 2 : 4;
    int rows = (opt.draw_per + sh.cols - 1) / sh.cols;
    sh.w = sh.cols * (sh.pw + 4) - 4;
    sh.h = rows * (sh.ph + 4);
    sh.base = opt.draw;
    sh.base_len = (size_t)(dot - opt.draw);
    sh.rgb = calloc((size_t)sh.w * sh.h, 3);
    uint8_t *pic = malloc((size_t)sh.pw * sh.ph * 3);
    float *frgb = malloc(sizeof(float) * 3 * (size_t)sh.pw * sh.ph);
    char err[512] = "", path[4096];
    int rc = -1;
    MkvReader *r = NULL;
    ArgModel *model = NULL;
    ArgDecoder *dec = NULL;
    Y4mReader *yr = NULL;
    Y4mImage img = { 0 };
    if (!sh.rgb || !pic || !frgb) {
        cli_error("out of memory");
        goto out;
    }
    if (opt.draw_from) {
        if (y4m_reader_open(&yr, opt.draw_from, err, sizeof(err)) < 0) {
            cli_error("%s", err);
            goto out;
        }
        const Y4mInfo *yi = y4m_reader_info(yr);
        if (yi->width != h->width || yi->height != h->height) {
            cli_error("%s is %dx%d, the stream %dx%d", opt.draw_from, yi->width, yi->height, h->width,
                      h->height);
            goto out;
        }
        if (y4m_image_alloc(&img, yi->width, yi->height, yi->chroma) < 0) {
            cli_error("out of memory");
            goto out;
        }
        Y4mColor col = { h->matrix == 1 ? Y4M_MATRIX_BT709 : Y4M_MATRIX_BT601, yi->range == Y4M_RANGE_FULL,
                         Y4M_UPSAMPLE_BILINEAR };
        int64_t k = 0;
        int got;
        while ((got = y4m_reader_read(yr, &img)) == 1 && !cli_interrupted()) {
            if (k % opt.draw_every == 0) {
                y4m_yuv_to_rgb(&img, &col, frgb, sh.pw, (ptrdiff_t)sh.pw * sh.ph);
                for (size_t i = 0; i < (size_t)sh.pw * sh.ph; i++)
                    for (int c = 0; c < 3; c++)
                        pic[i * 3 + c] = y4m_float_to_u8(frgb[(size_t)c * sh.pw * sh.ph + i]);
                if (sheet_add(&sh, k, pic, an) < 0)
                    goto out;
            }
            k++;
        }
        if (got < 0) {
            cli_error("%s", y4m_reader_error(yr));
            goto out;
        }
    } else {
        const char *want = opt.model ? opt.model : h->model_name;
        if (!want[0] || model_find(want, path, sizeof(path)) < 0) {
            cli_error("--draw: model '%s' not found (give it with -m, or --draw-from)", want);
            goto out;
        }
        if (arg_model_load(&model, path, err, sizeof(err)) < 0) {
            cli_error("%s", err);
            goto out;
        }
        if (mkv_reader_open(&r, opt.in, err, sizeof(err)) < 0) {
            cli_error("cannot read %s: %s", opt.in, err);
            goto out;
        }
        const MkvTrack *vt = mkv_reader_find_track(r, MKV_TRACK_VIDEO);
        ArgSettings s;
        arg_default_settings(&s);
        s.n_threads = opt.threads;
        if (!vt || arg_decoder_open_stream(&dec, model, &s, vt->codec_private, vt->codec_private_size, 0, err,
                                           sizeof(err)) < 0) {
            cli_error("--draw: cannot open a decoder: %s", err);
            goto out;
        }
        CliProgress prog;
        memset(&prog, 0, sizeof(prog));
        cli_progress_start(&prog, h->frame_count, 0);
        MkvPacket p;
        int prc;
        while ((prc = mkv_read_packet(r, &p)) == 0 && !cli_interrupted()) {
            if (p.track_type != MKV_TRACK_VIDEO)
                continue;
            int64_t first = h->fps_num ? (int64_t)(((double)p.pts_ns * h->fps_num / h->fps_den + 5e8) / 1e9) : 0;
            ArgPacket ap = { p.data, p.size, first, 0, 0, { 0 } };
            int src = arg_decoder_send_packet(dec, &ap);
            if (src == 1 || src == -EBADMSG)
                continue;
            if (src < 0) {
                cli_error("--draw: cannot decode the packet at %.3f s", p.pts_ns / 1e9);
                break;
            }
            ArgTokens t;
            arg_decoder_get_tokens(dec, &t);
            ArgPicture pp;
            while (arg_decoder_get_picture(dec, &pp) == 0) {
                cli_progress_update(&prog, pp.pts + 1, "drawing");
                if (pp.pts % opt.draw_every)
                    continue;
                for (int y = 0; y < sh.ph; y++)
                    for (int x = 0; x < sh.pw; x++)
                        for (int c = 0; c < 3; c++)
                            pic[((size_t)y * sh.pw + x) * 3 + c] =
                                y4m_float_to_u8(pp.data[c * pp.plane_stride + y * pp.stride + x]);
                if (sheet_add(&sh, pp.pts, pic, an) < 0) {
                    cli_progress_end(&prog);
                    goto out;
                }
            }
        }
        cli_progress_end(&prog);
        if (prc < 0) {
            cli_error("--draw: cannot read %s", opt.in);
            goto out;
        }
    }
    if (cli_interrupted() || sheet_flush(&sh) < 0)
        goto out;
    cli_info("--draw: %d sheet%s %.*s_NNNN.png", sh.files, sh.files == 1 ? "" : "s", (int)sh.base_len, sh.base);
    rc = 0;
out:
    y4m_image_free(&img);
    y4m_reader_close(yr);
    arg_decoder_close(dec);
    arg_model_free(model);
    mkv_reader_close(r);
    free(sh.rgb);
    free(pic);
    free(frgb);
    return rc;
}

int main(int argc, char **argv)
{
    cli_parse_or_exit(&tool, argc, argv);
    if (cli_check_overwrite(opt.out) < 0)
        return CLI_EXIT_USAGE;
    cli_signals_install(0);
    char name[256], err[256] = "", fail[512] = "";
    if (opt.name)
        analyze_video_name(opt.name, name, sizeof(name));
    else
        analyze_video_name(opt.in, name, sizeof(name));

    MkvReader *r = NULL;
    ArgDecoder *dec = NULL;
    ArgAnalysis *an = NULL;
    ArgSequenceHeader h;
    ArgAnalysisStats st;
    memset(&st, 0, sizeof(st));
    double t0 = cli_now(), fps = 0;
    long corrupt = 0;
    int status = CLI_EXIT_OK, rc;
    CliProgress prog;
    memset(&prog, 0, sizeof(prog));

    if (mkv_reader_open(&r, opt.in, err, sizeof(err)) < 0) {
        snprintf(fail, sizeof(fail), "cannot read %s: %s", opt.in, err);
        goto done;
    }
    const MkvTrack *vt = mkv_reader_find_track(r, MKV_TRACK_VIDEO);
    if (!vt || strcmp(vt->codec_id, "V_ARG")) {
        snprintf(fail, sizeof(fail), "%s has no ARG video track", opt.in);
        goto done;
    }
    if (arg_parse_sequence_header(&h, vt->codec_private, vt->codec_private_size, err, sizeof(err)) < 0) {
        snprintf(fail, sizeof(fail), "bad sequence header: %s", err);
        goto done;
    }
    fps = h.fps_den ? (double)h.fps_num / h.fps_den : 0;
    if ((rc = arg_decoder_open_stream(&dec, NULL, NULL, vt->codec_private, vt->codec_private_size, 0,
                                      err, sizeof(err))) < 0) {
        snprintf(fail, sizeof(fail), "cannot open a token decoder: %s", err[0] ? err : strerror(-rc));
        goto done;
    }
    ArgAnalysisSettings s;
    arg_analysis_default_settings(&s);
    if (opt.fg_bits > 0)
        s.fg_bits = opt.fg_bits;
    if (opt.min_cube_fg >= 0)
        s.min_cube_fg = opt.min_cube_fg;
    if (opt.min_score >= 0)
        s.min_score = opt.min_score;
    if ((rc = arg_analysis_open(&an, &s, &h)) < 0) {
        snprintf(fail, sizeof(fail), "cannot start the analysis: %s", strerror(-rc));
        goto done;
    }
    cli_progress_start(&prog, h.frame_count, 0);
    MkvPacket p;
    int64_t next_pic = 0;
    while ((rc = mkv_read_packet(r, &p)) == 0) {
        if (cli_interrupted())
            break;
        if (p.track_type != MKV_TRACK_VIDEO)
            continue;
        /* Matroska times are rounded to 1 ms: the nearest picture */
        int64_t first = h.fps_num ? (int64_t)(((double)p.pts_ns * h.fps_num / h.fps_den + 5e8) / 1e9) : next_pic;
        ArgPacket ap = { p.data, p.size, first, 0, 0, { 0 } };
        rc = arg_decoder_send_packet(dec, &ap);
        if (rc == 1)
            continue; /* before the first keyframe */
        if (rc == -EBADMSG) {
            corrupt++;
            cli_warn("corrupt packet at %.3f s: skipped to the next keyframe", p.pts_ns / 1e9);
            continue;
        }
        if (rc < 0) {
            snprintf(fail, sizeof(fail), "cannot decode the packet at %.3f s: %s", p.pts_ns / 1e9,
                     strerror(-rc));
            break;
        }
        ArgTokens t;
        if (arg_decoder_get_tokens(dec, &t) < 0)
            continue;
        if (first > next_pic) {
            arg_analysis_skip_pictures(an, first - next_pic);
            next_pic = first;
        }
        if ((rc = arg_analysis_send_tokens(an, &t)) < 0) {
            snprintf(fail, sizeof(fail), "analysis failed at %.3f s: %s", p.pts_ns / 1e9, strerror(-rc));
            break;
        }
        next_pic += t.n_pictures;
        cli_progress_update(&prog, next_pic, "latent %lld", (long long)(st.latent_frames++ + 1));
    }
    cli_progress_end(&prog);
    if (!fail[0] && rc < 0)
        snprintf(fail, sizeof(fail), "cannot read %s: %s", opt.in, strerror(-rc));
    if (!fail[0] && cli_interrupted())
        snprintf(fail, sizeof(fail), "interrupted");
    if (!fail[0] && (rc = arg_analysis_finish(an)) < 0)
        snprintf(fail, sizeof(fail), "analysis failed: %s", strerror(-rc));
    arg_analysis_stats(an, &st);
    if (!fail[0] && st.latent_frames == 0)
        snprintf(fail, sizeof(fail), "%s holds no decodable video packet", opt.in);

done:;
    double secs = cli_now() - t0;
    if (fail[0]) {
        cli_error("%s", fail);
        status = CLI_EXIT_FAIL;
    }
    if (analyze_write_actev(opt.out, name, an, fail[0] ? fail : NULL, an ? &st : NULL, secs, fps) < 0)
        status = CLI_EXIT_FAIL;
    if (!fail[0] && opt.proposals && write_proposals(opt.proposals, an) < 0)
        status = CLI_EXIT_FAIL;
    if (!fail[0] && opt.draw && draw_pass(an, &h) < 0)
        status = CLI_EXIT_FAIL;
    if (opt.stats) {
        CliOut o;
        if (cli_out_open(&o, opt.stats) == 0) {
            CliJson j;
            cli_json_init(&j, o.f, 1);
            analyze_json_stats(&j, &st, secs, fps);
            cli_json_finish(&j);
            if (cli_out_commit(&o) < 0)
                status = CLI_EXIT_FAIL;
        } else {
            status = CLI_EXIT_FAIL;
        }
    }
    if (!fail[0]) {
        double pps = secs > 0 ? st.pictures / secs : 0;
        cli_info("%lld pictures (%lld latent frames), %lld tracks, %lld/%lld proposals kept, "
                 "%lld activities",
                 (long long)st.pictures, (long long)st.latent_frames, (long long)st.confirmed_tracks,
                 (long long)st.proposals_kept, (long long)st.proposals, (long long)st.instances);
        cli_info("%.1f pictures/s (%.1fx real time), %.3f s%s", pps, fps > 0 ? pps / fps : 0, secs,
                 corrupt ? " (corrupt packets skipped)" : "");
    }
    arg_analysis_close(an);
    arg_decoder_close(dec);
    mkv_reader_close(r);
    return cli_interrupted() ? cli_interrupt_status() : status;
}
