/* ActEV SDL v2 output of the activity pass, and argdec's --analyze hook
 * (analyze_opt.h). */
#include "analyze_opt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void analyze_video_name(const char *path, char *out, size_t size)
{
    const char *base = path ? path : "";
    const char *s = strrchr(base, '/');
    if (s)
        base = s + 1;
    size_t k = 0;
    for (const char *p = base; *p && k + 1 < size; p++) {
        char c = *p;
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '-' || c == '.';
        out[k++] = ok ? c : '_';
    }
    out[k] = 0;
    if (k == 0)
        snprintf(out, size, "video");
}

static void json_frame_key(CliJson *j, int64_t frame)
{
    char k[32];
    snprintf(k, sizeof(k), "%lld", (long long)frame);
    cli_json_key(j, k);
}

static void json_box(CliJson *j, const ArgBox *b)
{
    cli_json_object_begin(j);
    cli_json_key(j, "boundingBox");
    cli_json_object_begin(j);
    cli_json_key(j, "x");
    cli_json_int(j, b->x);
    cli_json_key(j, "y");
    cli_json_int(j, b->y);
    cli_json_key(j, "w");
    cli_json_int(j, b->w);
    cli_json_key(j, "h");
    cli_json_int(j, b->h);
    cli_json_object_end(j);
    cli_json_object_end(j);
}

void analyze_json_stats(struct CliJson *j, const ArgAnalysisStats *st, double secs, double fps)
{
    cli_json_object_begin(j);
    cli_json_key(j, "latent_frames");
    cli_json_int(j, st->latent_frames);
    cli_json_key(j, "pictures");
    cli_json_int(j, st->pictures);
    cli_json_key(j, "foreground_cells");
    cli_json_int(j, st->fg_cells);
    cli_json_key(j, "detections");
    cli_json_int(j, st->detections);
    cli_json_key(j, "tracks");
    cli_json_int(j, st->confirmed_tracks);
    cli_json_key(j, "proposals");
    cli_json_int(j, st->proposals);
    cli_json_key(j, "proposals_kept");
    cli_json_int(j, st->proposals_kept);
    cli_json_key(j, "candidates");
    cli_json_int(j, st->candidates);
    cli_json_key(j, "instances");
    cli_json_int(j, st->instances);
    cli_json_key(j, "seconds");
    cli_json_double(j, secs, "%.4f");
    double pps = secs > 0 ? st->pictures / secs : 0;
    cli_json_key(j, "pictures_per_second");
    cli_json_double(j, pps, "%.1f");
    cli_json_key(j, "x_real_time");
    cli_json_double(j, fps > 0 ? pps / fps : 0, "%.1f");
    cli_json_object_end(j);
}

/* The system output: success with activities, or fail with a message. */
int analyze_write_actev(const char *path, const char *name, const ArgAnalysis *an, const char *fail,
                        const ArgAnalysisStats *st, double secs, double fps)
{
    CliOut o;
    if (cli_out_open(&o, path) < 0)
        return -1;
    CliJson j;
    cli_json_init(&j, o.f, 2);
    cli_json_object_begin(&j);
    cli_json_key(&j, "filesProcessed");
    cli_json_array_begin(&j);
    cli_json_string(&j, name);
    cli_json_array_end(&j);
    cli_json_key(&j, "processingReport");
    cli_json_object_begin(&j);
    cli_json_key(&j, "fileStatuses");
    cli_json_object_begin(&j);
    cli_json_key(&j, name);
    cli_json_object_begin(&j);
    cli_json_key(&j, "status");
    cli_json_string(&j, fail ? "fail" : "success");
    cli_json_key(&j, "message");
    cli_json_string(&j, fail ? fail : "analysed from tokens (arganalyze)");
    cli_json_object_end(&j);
    cli_json_object_end(&j);
    cli_json_key(&j, "siteSpecific");
    if (st)
        analyze_json_stats(&j, st, secs, fps);
    else {
        cli_json_object_begin(&j);
        cli_json_object_end(&j);
    }
    cli_json_object_end(&j);
    cli_json_key(&j, "activities");
    cli_json_array_begin(&j);
    const ArgActivity *acts = NULL;
    int n = (!fail && an) ? arg_analysis_activities(an, &acts) : 0;
    for (int i = 0; i < n; i++) {
        const ArgActivity *a = &acts[i];
        cli_json_object_begin(&j);
        cli_json_key(&j, "activity");
        cli_json_string(&j, arg_activity_name(a->type));
        cli_json_key(&j, "activityID");
        cli_json_int(&j, i + 1);
        cli_json_key(&j, "presenceConf");
        cli_json_double(&j, a->score, "%.6f");
        cli_json_key(&j, "localization");
        cli_json_object_begin(&j);
        cli_json_key(&j, name);
        cli_json_object_begin(&j);
        json_frame_key(&j, a->first + 1);
        cli_json_int(&j, 1);
        json_frame_key(&j, a->end + 1);
        cli_json_int(&j, 0);
        cli_json_object_end(&j);
        cli_json_object_end(&j);
        cli_json_key(&j, "objects");
        cli_json_array_begin(&j);
        cli_json_object_begin(&j);
        cli_json_key(&j, "objectType");
        cli_json_string(&j, arg_object_name(a->object_type));
        cli_json_key(&j, "objectID");
        cli_json_int(&j, a->track_id);
        cli_json_key(&j, "localization");
        cli_json_object_begin(&j);
        cli_json_key(&j, name);
        cli_json_object_begin(&j);
        for (int b = 0; b < a->n_boxes; b++) {
            json_frame_key(&j, a->boxes[b].picture + 1);
            json_box(&j, &a->boxes[b].box);
        }
        json_frame_key(&j, a->end + 1);
        cli_json_object_begin(&j);
        cli_json_object_end(&j);
        cli_json_object_end(&j);
        cli_json_object_end(&j);
        cli_json_object_end(&j);
        cli_json_array_end(&j);
        cli_json_object_end(&j);
    }
    cli_json_array_end(&j);
    cli_json_object_end(&j);
    if (cli_json_finish(&j) < 0) {
        cli_error("internal error: malformed JSON");
        cli_out_abort(&o);
        return -1;
    }
    return cli_out_commit(&o) < 0 ? -1 : 0;
}

struct AnalyzeOpt {
    char *path;
    char name[256];
    ArgAnalysis *an;
    double fps, t0;
    int64_t next_pic;
    int err;            /* first error of the pass (negative errno) */
};

int analyze_opt_open(AnalyzeOpt **out, const char *json_path, const char *input,
                     const ArgSequenceHeader *h)
{
    *out = NULL;
    if (!json_path)
        return 0;
    if (cli_check_overwrite(json_path) < 0)
        return -1;
    AnalyzeOpt *a = calloc(1, sizeof(*a));
    if (!a || !(a->path = strdup(json_path))) {
        free(a);
        cli_error("out of memory");
        return -1;
    }
    analyze_video_name(input, a->name, sizeof(a->name));
    a->fps = h->fps_den ? (double)h->fps_num / h->fps_den : 0;
    a->t0 = cli_now();
    int rc = arg_analysis_open(&a->an, NULL, h);
    if (rc < 0) {
        cli_error("--analyze: cannot start the analysis: %s", strerror(-rc));
        analyze_opt_close(a);
        return -1;
    }
    *out = a;
    return 0;
}

int analyze_opt_tokens(AnalyzeOpt *a, const ArgTokens *t, int64_t first)
{
    if (!a || a->err)
        return a ? a->err : 0;
    int rc = 0;
    if (first > a->next_pic) {
        rc = arg_analysis_skip_pictures(a->an, first - a->next_pic);
        a->next_pic = first;
    }
    if (rc == 0)
        rc = arg_analysis_send_tokens(a->an, t);
    if (rc < 0)
        a->err = rc;
    else
        a->next_pic += t->n_pictures;
    return rc;
}

int analyze_opt_finish(AnalyzeOpt *a, const char *fail)
{
    if (!a)
        return 0;
    char msg[256] = "";
    int rc = 0;
    if (!fail && a->err)
        snprintf(msg, sizeof(msg), "analysis failed: %s", strerror(-a->err));
    else if (!fail && (rc = arg_analysis_finish(a->an)) < 0)
        snprintf(msg, sizeof(msg), "analysis failed: %s", strerror(-rc));
    ArgAnalysisStats st;
    arg_analysis_stats(a->an, &st);
    if (!fail && !msg[0] && st.latent_frames == 0)
        snprintf(msg, sizeof(msg), "no decodable video packet");
    if (fail)
        snprintf(msg, sizeof(msg), "%s", fail);
    rc = analyze_write_actev(a->path, a->name, a->an, msg[0] ? msg : NULL, &st, cli_now() - a->t0, a->fps);
    if (rc == 0 && !msg[0])
        cli_info("--analyze: %lld activities (%lld tracks) in %s", (long long)st.instances,
                 (long long)st.confirmed_tracks, a->path);
    return rc;
}

void analyze_opt_close(AnalyzeOpt *a)
{
    if (!a)
        return;
    arg_analysis_close(a->an);
    free(a->path);
    free(a);
}
