/* argsynth: continue, inpaint, outpaint or interpolate an ARG stream with
 * ARG-Poet, the token transformer (spec/poet.md), writing an ARG stream.
 *
 *   argsynth -i IN.mkv -o OUT.mkv --continue 2s [--from TIME]
 *   argsynth -i IN.mkv -o OUT.mkv --inpaint X,Y,W,H@T0-T1
 *   argsynth -i IN.mkv -o OUT.mkv --outpaint X,Y,W,H@T0-T1
 *   argsynth -i IN.mkv -o OUT.mkv --interpolate T0,T1
 *   argsynth -i IN.mkv --measure
 *   argsynth --bench 80x45 [--poet FILE]
 *
 * Boxes are in pixels of the picture (the token box is the smallest one
 * covering them); times in seconds (or any -ss style time). The output has
 * the input's sequence header (same tokenizer, GOP length and colour; the
 * new picture count), every latent frame entropy-coded again, and the
 * input's audio (cut where the video is cut). Nothing touches pixels: the
 * model reads and writes tokens, and argdec turns them into pictures. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arg/arg.h"
#include "arg/synth.h"
#include "arg_mkv.h"
#include "cli.h"
#include "modelpath.h"

#define DEFAULT_POET "poet-s8"

typedef struct Box {
    int set, x, y, w, h;
    double t0, t1;
} Box;

static struct {
    const char *in, *out, *poet;
    double cont, from, temperature, top_p, interp[2];
    int top_k, threads, gemm, measure, progress, have_interp, bench_frames;
    int64_t seed;
    Box inpaint, outpaint;
    int bench[2];
} opt = { .temperature = 0.5, .top_p = 1.0, .from = -1, .seed = 0, .gemm = ARG_GEMM_AUTO, .bench_frames = 4 };

/* "X,Y,W,H@T0-T1" */
static int parse_box(const char *arg, void *dest)
{
    Box *b = dest;
    char buf[256];
    if (strlen(arg) >= sizeof(buf))
        return -EINVAL;
    strcpy(buf, arg);
    char *at = strchr(buf, '@');
    if (!at)
        return -EINVAL;
    *at = 0;
    long long v[4];
    char *p = buf;
    for (int i = 0; i < 4; i++) {
        char *c = strchr(p, ',');
        if ((i < 3) != (c != NULL))
            return -EINVAL;
        if (c)
            *c = 0;
        if (cli_parse_int64(p, i < 2 ? 0 : 1, 65535, &v[i]) < 0)
            return -EINVAL;
        p = c ? c + 1 : p;
    }
    char *times = at + 1, *dash = strchr(times, '-');
    if (!dash)
        return -EINVAL;
    *dash = 0;
    if (cli_parse_time(times, &b->t0) < 0 || cli_parse_time(dash + 1, &b->t1) < 0 || !(b->t1 > b->t0))
        return -EINVAL;
    b->x = (int)v[0];
    b->y = (int)v[1];
    b->w = (int)v[2];
    b->h = (int)v[3];
    b->set = 1;
    return 0;
}

/* "T0,T1" */
static int parse_interp(const char *arg, void *dest)
{
    double *t = dest;
    char buf[128];
    if (strlen(arg) >= sizeof(buf))
        return -EINVAL;
    strcpy(buf, arg);
    char *c = strchr(buf, ',');
    if (!c)
        return -EINVAL;
    *c = 0;
    if (cli_parse_time(buf, &t[0]) < 0 || cli_parse_time(c + 1, &t[1]) < 0 || !(t[1] > t[0]))
        return -EINVAL;
    opt.have_interp = 1;
    return 0;
}

/* "WxH" in tokens */
static int parse_grid(const char *arg, void *dest)
{
    int *g = dest;
    char buf[64];
    if (strlen(arg) >= sizeof(buf))
        return -EINVAL;
    strcpy(buf, arg);
    char *x = strchr(buf, 'x');
    if (!x)
        return -EINVAL;
    *x = 0;
    long long a, b;
    if (cli_parse_int64(buf, 1, 1024, &a) < 0 || cli_parse_int64(x + 1, 1, 1024, &b) < 0)
        return -EINVAL;
    g[0] = (int)a;
    g[1] = (int)b;
    return 0;
}

static const CliOpt opts[] = {
    CLI_OPT_STRING("-i --input", &opt.in, "FILE", "ARG Matroska input"),
    CLI_OPT_STRING("-o --output", &opt.out, "FILE", "ARG Matroska output (written atomically)"),
    CLI_OPT_TIME("--continue", &opt.cont, 0.001, 3600, "DUR",
                 "add DUR of new video after the input (or after --from)"),
    CLI_OPT_TIME("--from", &opt.from, 0, 1e9, "TIME",
                 "--continue: keep the latent frames that start before TIME, continue from there"),
    CLI_OPT_CUSTOM("--inpaint", &opt.inpaint, parse_box, "X,Y,W,H@T0-T1 (pixels, seconds), e.g. 16,8,32,24@0.5-1.5",
                   "X,Y,W,H@T0-T1", "make the box anew in the latent frames overlapping T0..T1\n"
                   "(a box in pixels; its token cover is replaced)"),
    CLI_OPT_CUSTOM("--outpaint", &opt.outpaint, parse_box, "X,Y,W,H@T0-T1 (pixels, seconds), e.g. 16,8,32,24@0.5-1.5",
                   "X,Y,W,H@T0-T1", "keep the box, make everything around it anew\n"
                   "(the tokens wholly inside the box are kept)"),
    CLI_OPT_CUSTOM("--interpolate", opt.interp, parse_interp, "T0,T1 (seconds), e.g. 0.2,0.8", "T0,T1",
                   "make anew the latent frames between the ones holding T0 and T1"),
    CLI_OPT_FLAG("--measure", &opt.measure,
                 "print the input's bits per token under the poet next to the range coder's"),
    CLI_OPT_STRING("--poet", &opt.poet, "FILE", "poet model file or name (default " DEFAULT_POET ")"),
    CLI_OPT_INT64("--seed", &opt.seed, 0, INT64_MAX, "N", "random seed (default 0)"),
    CLI_OPT_DOUBLE("--temperature", &opt.temperature, 0, 100, "T",
                   "sampling temperature; 0 = greedy (default 0.5: from about 0.8\n"
                   "poet-s8 lets objects dissolve within a second)"),
    CLI_OPT_INT("--top-k", &opt.top_k, 0, 64, "K", "keep the K most probable values of each 6-bit group (0 = all)"),
    CLI_OPT_DOUBLE("--top-p", &opt.top_p, 1e-6, 1, "P", "keep the smallest set of values whose mass reaches P (default 1)"),
    CLI_OPT_INT("--threads", &opt.threads, 0, 256, "N", "worker threads (default 0: all cores)"),
    CLI_OPT_GEMM("--gemm", &opt.gemm),
    CLI_OPT_CUSTOM("--bench", opt.bench, parse_grid, "a token grid WxH, e.g. 80x45", "WxH",
                   "time the poet on random WxH token grids (no input) and exit"),
    CLI_OPT_INT("--bench-frames", &opt.bench_frames, 1, 1000, "N", "--bench: latent frames to make (default 4)"),
    CLI_OPT_FLAG("--quiet", &cli_quiet, "no progress line"),
    CLI_OPT_FLAG("--progress", &opt.progress, "show the progress line even when stderr is not a terminal"),
    CLI_OPT_OVERWRITE_YES,
    CLI_OPT_OVERWRITE_NO,
    CLI_OPT_END,
};

static const CliTool tool = {
    .name = "argsynth",
    .synopsis = "-i IN.mkv -o OUT.mkv (--continue DUR | --inpaint BOX | --outpaint BOX | --interpolate T0,T1) [options]",
    .about = "Continue, inpaint, outpaint or interpolate an ARG stream with ARG-Poet, the token transformer,\n"
             "writing an ARG stream that argdec plays. The poet must have been trained on the tokens of the\n"
             "stream's tokenizer.",
    .opts = opts,
    .hints = NULL,
    .epilog = "Examples:\n"
              "  argsynth -i in.mkv --continue 2s -o out.mkv\n"
              "  argsynth -i in.mkv --inpaint 96,64,128,96@1-2 -o out.mkv --seed 3\n"
              "  argsynth -i in.mkv --interpolate 0.5,1.5 -o out.mkv --temperature 0\n"
              "  argsynth -i in.mkv --measure\n",
};

typedef struct Latent {
    uint32_t *tok;
    int npics, key;
    size_t bytes;          /* coded size in the input (0: made here) */
    int64_t first;         /* first picture */
} Latent;

typedef struct Audio {
    uint64_t pts;
    uint8_t *data;
    size_t size;
} Audio;

static double now_s(void)
{
    return cli_now();
}

static int bench(const ArgPoet *poet)
{
    const int W = opt.bench[0], H = opt.bench[1], n = W * H;
    ArgSynthSettings s;
    arg_synth_default_settings(&s);
    s.n_threads = opt.threads;
    s.gemm = opt.gemm;
    s.temperature = opt.temperature;
    s.top_k = opt.top_k;
    s.top_p = opt.top_p;
    s.seed = (uint64_t)opt.seed;
    ArgSynth *e;
    int rc = arg_synth_open(&e, poet, W, H, &s);
    if (rc < 0) {
        cli_error("cannot open the engine for %dx%d tokens: %s", W, H, strerror(-rc));
        return CLI_EXIT_FAIL;
    }
    uint32_t *t = malloc((size_t)n * sizeof(uint32_t));
    if (!t) {
        arg_synth_close(e);
        return CLI_EXIT_FAIL;
    }
    uint64_t z = 1;
    const uint32_t mask = (uint32_t)((1ull << arg_poet_info(poet)->token_bits) - 1);
    for (int i = 0; i < n; i++) {
        z = z * 6364136223846793005ull + 1442695040888963407ull;
        t[i] = (uint32_t)(z >> 33) & mask;
    }
    arg_synth_push(e, t);
    double t0 = now_s();
    for (int f = 0; f < opt.bench_frames; f++) {
        ArgSynthFrame fr = { ARG_POET_CONTINUE, 0, (uint64_t)f + 1, NULL, NULL, 0 };
        if ((rc = arg_synth_generate(e, &fr, t)) < 0)
            break;
    }
    double el = now_s() - t0;
    if (rc >= 0)
        printf("%dx%d tokens: %d latent frames in %.3f s: %.3f latent frames/s on %s\n", W, H, opt.bench_frames, el,
               el > 0 ? opt.bench_frames / el : 0.0, arg_synth_backend(e));
    free(t);
    arg_synth_close(e);
    return rc < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

static int load_poet(ArgPoet **poet)
{
    char path[1024], err[600];
    const char *want = opt.poet ? opt.poet : DEFAULT_POET;
    if (model_find(want, path, sizeof(path)) < 0) {
        cli_error("poet model '%s' not found (give it with --poet FILE)", want);
        return -ENOENT;
    }
    if (arg_poet_load(poet, path, err, sizeof(err)) < 0) {
        cli_error("%s", err);
        return -EINVAL;
    }
    return 0;
}

int main(int argc, char **argv)
{
    cli_parse_or_exit(&tool, argc, argv);
    int modes = (opt.cont > 0) + opt.inpaint.set + opt.outpaint.set + opt.have_interp + (opt.bench[0] > 0);
    if (modes > 1) {
        cli_error("give one of --continue, --inpaint, --outpaint, --interpolate and --bench");
        return CLI_EXIT_USAGE;
    }
    if (modes == 0 && !opt.measure) {
        cli_error("nothing to do: give --continue, --inpaint, --outpaint, --interpolate or --measure (try --help)");
        return CLI_EXIT_USAGE;
    }
    if (opt.from >= 0 && !(opt.cont > 0)) {
        cli_error("--from goes with --continue");
        return CLI_EXIT_USAGE;
    }
    if (opt.bench[0] > 0) {
        ArgPoet *poet;
        if (load_poet(&poet) < 0)
            return CLI_EXIT_FAIL;
        int rc = bench(poet);
        arg_poet_free(poet);
        return rc;
    }
    if (!opt.in) {
        cli_error("no input: give -i IN.mkv");
        return CLI_EXIT_USAGE;
    }
    if (modes == 1 && !opt.out) {
        cli_error("no output: give -o OUT.mkv");
        return CLI_EXIT_USAGE;
    }
    if (modes == 0 && opt.out) {
        cli_error("-o needs --continue, --inpaint, --outpaint or --interpolate");
        return CLI_EXIT_USAGE;
    }
    if (opt.out && !strcmp(opt.out, "-")) {
        cli_error("-o -: argsynth writes Matroska to a file (it seeks); give a file name");
        return CLI_EXIT_USAGE;
    }
    if (opt.out && cli_check_overwrite(opt.out) < 0)
        return CLI_EXIT_FAIL;
    cli_signals_install(1);

    char err[600];
    MkvReader *r = NULL;
    if (mkv_reader_open(&r, opt.in, err, sizeof(err)) < 0) {
        cli_error("%s: %s", opt.in, err);
        return CLI_EXIT_FAIL;
    }
    int ret = CLI_EXIT_FAIL, rc;
    ArgPoet *poet = NULL;
    ArgDecoder *dec = NULL;
    ArgSynth *eng = NULL;
    ArgTokenCoder *tc = NULL;
    MkvWriter *w = NULL;
    Latent *lat = NULL;
    Audio *aud = NULL;
    int nlat = 0, caplat = 0, naud = 0, capaud = 0;
    uint8_t *pkt = NULL, *known = NULL;
    CliProgress prog;
    memset(&prog, 0, sizeof(prog));
    const MkvTrack *vt = mkv_reader_find_track(r, MKV_TRACK_VIDEO);
    const MkvTrack *at = mkv_reader_find_track(r, MKV_TRACK_AUDIO);
    ArgSequenceHeader h;
    if (!vt || strcmp(vt->codec_id, "V_ARG") != 0) {
        cli_error("%s: no ARG video track (CodecID V_ARG)", opt.in);
        goto out;
    }
    if (arg_parse_sequence_header(&h, vt->codec_private, vt->codec_private_size, err, sizeof(err)) < 0) {
        cli_error("%s: %s", opt.in, err);
        goto out;
    }
    if (load_poet(&poet) < 0)
        goto out;
    const ArgPoetInfo *pi = arg_poet_info(poet);
    if (pi->tokenizer_id != h.model_id || pi->token_bits != h.lfq_bits) {
        cli_error("the poet '%s' was trained on the tokens of tokenizer %016" PRIx64 " ('%s', %d bits), but %s "
                  "holds tokens of tokenizer %016" PRIx64 " ('%s', %d bits): use a poet made for '%s'",
                  pi->name, pi->tokenizer_id, pi->tokenizer_name, pi->token_bits, opt.in, h.model_id, h.model_name,
                  h.lfq_bits, h.model_name);
        goto out;
    }
    const int tw = h.coded_width / h.spatial_factor, th = h.coded_height / h.spatial_factor, n = tw * th;
    const int ft = h.temporal_factor, G = h.gop_latents;
    if ((rc = arg_decoder_open_stream(&dec, NULL, NULL, vt->codec_private, vt->codec_private_size, 0, err,
                                      sizeof(err))) < 0) {
        cli_error("%s: %s", opt.in, err);
        goto out;
    }
    /* read the whole stream: tokens of every latent frame, audio packets */
    MkvPacket p;
    int64_t pics = 0;
    while ((rc = mkv_read_packet(r, &p)) == 0) {
        if (p.track_type == MKV_TRACK_AUDIO && at) {
            if (naud == capaud) {
                capaud = capaud ? 2 * capaud : 256;
                Audio *na = realloc(aud, (size_t)capaud * sizeof(*aud));
                if (!na)
                    goto nomem;
                aud = na;
            }
            aud[naud].pts = p.pts_ns;
            aud[naud].size = p.size;
            aud[naud].data = malloc(p.size ? p.size : 1);
            if (!aud[naud].data)
                goto nomem;
            memcpy(aud[naud].data, p.data, p.size);
            naud++;
            continue;
        }
        if (p.track_type != MKV_TRACK_VIDEO)
            continue;
        ArgPacket ap = { p.data, p.size, -1, 0, 0, { 0 } };
        rc = arg_decoder_send_packet(dec, &ap);
        if (rc == 1)
            continue; /* before the first keyframe */
        if (rc < 0) {
            cli_error("%s: %s packet at %.3f s", opt.in, rc == -EBADMSG ? "corrupt" : "undecodable", p.pts_ns / 1e9);
            goto out;
        }
        ArgTokens t;
        if ((rc = arg_decoder_get_tokens(dec, &t)) < 0 || t.tokens_w != tw || t.tokens_h != th) {
            cli_error("%s: cannot read the tokens of the packet at %.3f s", opt.in, p.pts_ns / 1e9);
            goto out;
        }
        if (nlat == caplat) {
            caplat = caplat ? 2 * caplat : 64;
            Latent *nl = realloc(lat, (size_t)caplat * sizeof(*lat));
            if (!nl)
                goto nomem;
            lat = nl;
        }
        Latent *L = &lat[nlat];
        L->tok = malloc((size_t)n * sizeof(uint32_t));
        if (!L->tok)
            goto nomem;
        memcpy(L->tok, t.tokens, (size_t)n * sizeof(uint32_t));
        L->key = (p.data[0] & 0x80) != 0;
        L->npics = p.data[0] & 0x1F;
        L->bytes = p.size;
        L->first = pics;
        pics += L->npics;
        nlat++;
    }
    if (rc < 0) {
        cli_error("%s: cannot read the file", opt.in);
        goto out;
    }
    if (nlat == 0) {
        cli_error("%s: no latent frames", opt.in);
        goto out;
    }
    const double fps = (double)h.fps_num / h.fps_den;
    ArgSynthSettings s;
    arg_synth_default_settings(&s);
    s.n_threads = opt.threads;
    s.gemm = opt.gemm;
    s.temperature = opt.temperature;
    s.top_k = opt.top_k;
    s.top_p = opt.top_p;
    s.seed = (uint64_t)opt.seed;
    if ((rc = arg_synth_open(&eng, poet, tw, th, &s)) < 0) {
        cli_error("cannot open the poet engine for %dx%d tokens: %s", tw, th, strerror(-rc));
        goto out;
    }
    double t_start = now_s();

    if (opt.measure) {
        double bits = 0, coder = 0, b;
        cli_progress_start(&prog, nlat, opt.progress);
        for (int i = 0; i < nlat; i++) {
            ArgSynthFrame f = { ARG_POET_CONTINUE, lat[i].key, (uint64_t)i, NULL, NULL, 0 };
            if ((rc = arg_synth_measure(eng, &f, lat[i].tok, &b)) < 0) {
                cli_error("cannot measure: %s", strerror(-rc));
                goto out;
            }
            bits += b;
            coder += (double)(lat[i].bytes - 1) * 8;
            cli_progress_update(&prog, i + 1, "%.3f bits/token", bits / ((double)(i + 1) * n));
            if (cli_interrupted())
                break;
        }
        cli_progress_end(&prog);
        double el = now_s() - t_start, tok = (double)nlat * n;
        printf("poet %s: %.4f bits/token; range coder: %.4f bits/token (poet %.1f%% lower); raw %d\n", pi->name,
               bits / tok, coder / tok, coder > 0 ? 100.0 * (1.0 - bits / coder) : 0.0, h.lfq_bits);
        printf("%d latent frames of %dx%d tokens in %.2f s (%.3f latent frames/s on %s)\n", nlat, tw, th, el,
               el > 0 ? nlat / el : 0.0, arg_synth_backend(eng));
        if (!opt.out) {
            ret = CLI_EXIT_OK;
            goto out;
        }
        arg_synth_reset(eng);
        t_start = now_s();
    }

    /* the output's latent frames: [0, keep) from the input, then made or
     * given ones; made[i] says which to make and how */
    known = malloc((size_t)n);
    if (!known)
        goto nomem;
    int keep = nlat, out_n = nlat, gen0 = nlat, gen1 = nlat, task = ARG_POET_CONTINUE, anchor = -1;
    if (opt.cont > 0) {
        if (opt.from >= 0) {
            int64_t fp = (int64_t)floor(opt.from * fps + 0.5);
            keep = 0;
            while (keep < nlat && lat[keep].first < fp)
                keep++;
            if (keep == 0) {
                cli_error("--from %.3f s keeps no latent frame", opt.from);
                goto usage;
            }
        }
        /* the last kept frame stands for ft pictures now that more follow */
        if (!lat[keep - 1].key || ft == 1)
            lat[keep - 1].npics = lat[keep - 1].key ? 1 : ft;
        int64_t want = (int64_t)floor(opt.cont * fps + 0.5);
        if (want < 1)
            want = 1;
        int since = 0; /* latent frames since the last keyframe, the last kept one included */
        for (int i = keep - 1; i >= 0; i--) {
            since++;
            if (lat[i].key)
                break;
        }
        int64_t have = 0;
        int add = 0;
        int64_t first = lat[keep - 1].first + lat[keep - 1].npics;
        while (have < want) {
            int key = since >= G;
            since = key ? 1 : since + 1;
            int np = key ? 1 : ft;
            if (np > want - have)
                np = (int)(want - have);
            if (keep + add == caplat) {
                caplat = caplat ? 2 * caplat : 64;
                Latent *nl = realloc(lat, (size_t)caplat * sizeof(*lat));
                if (!nl)
                    goto nomem;
                lat = nl;
            }
            /* frames [keep, nlat) of the input are dropped: reuse their slots */
            Latent *L = &lat[keep + add];
            if (keep + add >= nlat) {
                L->tok = malloc((size_t)n * sizeof(uint32_t));
                if (!L->tok)
                    goto nomem;
                nlat = keep + add + 1; /* owned slots to free */
            }
            L->key = key;
            L->npics = np;
            L->bytes = 0;
            L->first = first;
            first += np;
            have += np;
            add++;
        }
        out_n = keep + add;
        gen0 = keep;
        gen1 = out_n;
    } else if (opt.inpaint.set || opt.outpaint.set) {
        const Box *b = opt.inpaint.set ? &opt.inpaint : &opt.outpaint;
        task = opt.inpaint.set ? ARG_POET_INPAINT : ARG_POET_OUTPAINT;
        if (b->x >= h.width || b->y >= h.height) {
            cli_error("the box starts outside the %dx%d picture", h.width, h.height);
            goto usage;
        }
        int fs = h.spatial_factor;
        int x0, y0, x1, y1;
        if (task == ARG_POET_INPAINT) { /* the tokens touching the box */
            x0 = b->x / fs;
            y0 = b->y / fs;
            x1 = (b->x + b->w + fs - 1) / fs;
            y1 = (b->y + b->h + fs - 1) / fs;
        } else { /* the tokens wholly inside it */
            x0 = (b->x + fs - 1) / fs;
            y0 = (b->y + fs - 1) / fs;
            x1 = (b->x + b->w) / fs;
            y1 = (b->y + b->h) / fs;
        }
        x1 = x1 > tw ? tw : x1;
        y1 = y1 > th ? th : y1;
        if (task == ARG_POET_OUTPAINT && (x1 <= x0 || y1 <= y0)) {
            cli_error("the kept box holds no whole token (tokens are %dx%d pixels)", fs, fs);
            goto usage;
        }
        for (int y = 0; y < th; y++)
            for (int x = 0; x < tw; x++) {
                int in = x >= x0 && x < x1 && y >= y0 && y < y1;
                known[y * tw + x] = (uint8_t)(task == ARG_POET_INPAINT ? !in : in);
            }
        int64_t p0 = (int64_t)floor(b->t0 * fps + 0.5), p1 = (int64_t)floor(b->t1 * fps + 0.5);
        gen0 = -1;
        for (int i = 0; i < nlat; i++)
            if (lat[i].first < p1 && lat[i].first + lat[i].npics > p0) {
                if (gen0 < 0)
                    gen0 = i;
                gen1 = i + 1;
            }
        if (gen0 < 0) {
            cli_error("%.3f-%.3f s holds no latent frame of %s (it lasts %.3f s)", b->t0, b->t1, opt.in, pics / fps);
            goto usage;
        }
        cli_info("tokens x %d..%d, y %d..%d %s in latent frames %d..%d", x0, x1 - 1, y0, y1 - 1,
                 task == ARG_POET_INPAINT ? "made anew" : "kept", gen0, gen1 - 1);
    } else if (opt.have_interp) {
        int64_t p0 = (int64_t)floor(opt.interp[0] * fps + 0.5), p1 = (int64_t)floor(opt.interp[1] * fps + 0.5);
        int a = -1, bb = -1;
        for (int i = 0; i < nlat; i++) {
            if (lat[i].first <= p0 && p0 < lat[i].first + lat[i].npics)
                a = i;
            if (lat[i].first <= p1 && p1 < lat[i].first + lat[i].npics)
                bb = i;
        }
        if (a < 0 || bb < 0) {
            cli_error("--interpolate %.3f,%.3f: both times must lie in %s (0..%.3f s)", opt.interp[0], opt.interp[1],
                      opt.in, pics / fps);
            goto usage;
        }
        if (bb - a < 2) {
            cli_error("--interpolate: no latent frame lies between latent frames %d and %d (%d pictures each)", a, bb,
                      ft);
            goto usage;
        }
        if (bb - a - 1 > pi->anchor_max) {
            cli_error("--interpolate: %d latent frames between %d and %d; the poet reaches at most %d ahead "
                      "(anchor_max)", bb - a - 1, a, bb, pi->anchor_max);
            goto usage;
        }
        task = ARG_POET_INTERPOLATE;
        gen0 = a + 1;
        gen1 = bb;
        anchor = bb;
    }

    /* make the frames; the window cache sees every frame as it stands */
    int todo = gen1 - gen0;
    cli_progress_start(&prog, todo, opt.progress);
    for (int i = 0; i < out_n; i++) {
        if (i < gen0 || i >= gen1) {
            if (i < gen0 && i + pi->context < gen0)
                continue; /* too old to matter */
            if (i >= gen1)
                break;
            if ((rc = arg_synth_push(eng, lat[i].tok)) < 0)
                goto fail_rc;
            continue;
        }
        ArgSynthFrame f = { task, lat[i].key, (uint64_t)i, task == ARG_POET_INPAINT || task == ARG_POET_OUTPAINT ? known : NULL,
                            anchor >= 0 ? lat[anchor].tok : NULL, anchor >= 0 ? anchor - i : 0 };
        if ((rc = arg_synth_generate(eng, &f, lat[i].tok)) < 0)
            goto fail_rc;
        double el = now_s() - t_start;
        cli_progress_update(&prog, i - gen0 + 1, "%.2f latent frames/s", el > 0 ? (i - gen0 + 1) / el : 0.0);
        if (cli_interrupted()) {
            cli_progress_end(&prog);
            cli_error("interrupted");
            ret = cli_interrupt_status();
            goto out;
        }
    }
    cli_progress_end(&prog);
    double el = now_s() - t_start;

    /* write: the input's header with the new picture count, every frame coded again */
    int64_t total = 0;
    for (int i = 0; i < out_n; i++)
        total += lat[i].npics;
    ArgSequenceHeader oh = h;
    oh.frame_count = (uint32_t)total;
    uint8_t seq[ARG_SEQUENCE_HEADER_SIZE];
    if (arg_write_sequence_header(&oh, seq, sizeof(seq)) < 0) {
        cli_error("cannot write the sequence header (%" PRId64 " pictures?)", total);
        goto out;
    }
    MkvVideoInfo vi = { vt->width, vt->height, h.width, h.height, vt->default_duration_ns, vt->matrix, vt->range,
                        vt->primaries, vt->transfer, seq, sizeof(seq) };
    MkvAudioInfo ai = { 0 };
    if (at) {
        ai.sample_rate = (int)at->sample_rate;
        ai.channels = at->channels;
        ai.codec_delay_ns = at->codec_delay_ns;
        ai.seek_preroll_ns = at->seek_preroll_ns;
        ai.codec_private = at->codec_private;
        ai.codec_private_size = at->codec_private_size;
    }
    char encname[64], settings[256], idhex[17];
    snprintf(encname, sizeof(encname), "argsynth %s", arg_version());
    snprintf(settings, sizeof(settings), "poet=%.64s seed=%" PRId64 " temperature=%g top_k=%d top_p=%g", pi->name,
             opt.seed, opt.temperature, opt.top_k, opt.top_p);
    snprintf(idhex, sizeof(idhex), "%016" PRIx64, h.model_id);
    MkvTag tags[4] = { { "ENCODER", encname }, { "ENCODER_SETTINGS", settings }, { "ARG_MODEL", h.model_name },
                       { "ARG_MODEL_ID", idhex } };
    if (mkv_writer_open(&w, opt.out, &vi, at ? &ai : NULL, tags, 4, err, sizeof(err)) < 0) {
        cli_error("%s", err);
        goto out;
    }
    cli_tmp_register(mkv_writer_tmp_path(w));
    if ((rc = arg_token_coder_open(&tc, h.lfq_bits, tw, th, h.rate_max)) < 0)
        goto fail_rc;
    /* the audio ends with the video when the video was cut */
    uint64_t vend = (uint64_t)((double)total * 1e9 / fps);
    int ai_next = 0;
    for (int i = 0; i < out_n; i++) {
        uint64_t pts = (uint64_t)((double)lat[i].first * 1e9 * h.fps_den / h.fps_num + 0.5);
        uint64_t end = (uint64_t)((double)(lat[i].first + lat[i].npics) * 1e9 * h.fps_den / h.fps_num + 0.5);
        for (; ai_next < naud && aud[ai_next].pts <= pts; ai_next++)
            if (aud[ai_next].pts < vend &&
                (rc = mkv_write_block(w, MKV_TRACK_AUDIO, aud[ai_next].pts, 0, 1, aud[ai_next].data, aud[ai_next].size)) < 0)
                goto fail_rc;
        const uint8_t *data;
        size_t size;
        if ((rc = arg_token_coder_encode(tc, lat[i].tok, lat[i].key, &data, &size, NULL)) < 0)
            goto fail_rc;
        uint8_t *np = realloc(pkt, size + 1);
        if (!np)
            goto nomem;
        pkt = np;
        pkt[0] = (uint8_t)((lat[i].key ? 0x80 : 0) | (lat[i].npics & 0x1F));
        memcpy(pkt + 1, data, size);
        if ((rc = mkv_write_block(w, MKV_TRACK_VIDEO, pts, end - pts, lat[i].key, pkt, size + 1)) < 0)
            goto fail_rc;
    }
    for (; ai_next < naud; ai_next++)
        if (aud[ai_next].pts < vend &&
            (rc = mkv_write_block(w, MKV_TRACK_AUDIO, aud[ai_next].pts, 0, 1, aud[ai_next].data, aud[ai_next].size)) < 0)
            goto fail_rc;
    const char *as = mkv_reader_tag(r, "ARG_AUDIO_SAMPLES"), *ar = mkv_reader_tag(r, "ARG_AUDIO_RATE");
    if (at && as && ar) {
        long long ns, nr;
        if (cli_parse_int64(as, 0, INT64_MAX / 48000, &ns) == 0 && cli_parse_int64(ar, 1, 1000000, &nr) == 0) {
            long long cut = (long long)((double)total / fps * (double)nr);
            char buf[32];
            snprintf(buf, sizeof(buf), "%lld", ns < cut ? ns : cut);
            mkv_writer_add_tag(w, "ARG_AUDIO_SAMPLES", buf);
            mkv_writer_add_tag(w, "ARG_AUDIO_RATE", ar);
        }
    }
    char tmp_name[CLI_TMP_PATH_MAX];
    snprintf(tmp_name, sizeof(tmp_name), "%s", mkv_writer_tmp_path(w));
    rc = mkv_writer_close(w, 1);
    w = NULL;
    cli_tmp_unregister(tmp_name);
    if (rc < 0) {
        cli_error("cannot finish %s: %s", opt.out, strerror(-rc));
        goto out;
    }
    cli_info("%s: %d latent frames (%" PRId64 " pictures, %.3f s), %d made in %.2f s (%.3f latent frames/s on %s)",
             opt.out, out_n, total, total / fps, todo, el, el > 0 ? todo / el : 0.0, arg_synth_backend(eng));
    ret = CLI_EXIT_OK;
    goto out;
usage:
    ret = CLI_EXIT_USAGE;
    goto out;
nomem:
    cli_error("out of memory");
    goto out;
fail_rc:
    cli_error("%s", strerror(-rc));
out:
    cli_progress_end(&prog);
    if (w) {
        cli_tmp_unregister(mkv_writer_tmp_path(w));
        mkv_writer_close(w, 0);
    }
    arg_token_coder_close(tc);
    for (int i = 0; i < nlat; i++)
        free(lat[i].tok);
    free(lat);
    for (int i = 0; i < naud; i++)
        free(aud[i].data);
    free(aud);
    free(pkt);
    free(known);
    arg_synth_close(eng);
    arg_decoder_close(dec);
    arg_poet_free(poet);
    mkv_reader_close(r);
    return ret;
}
