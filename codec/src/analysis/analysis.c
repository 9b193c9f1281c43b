/* The public activity pass (arg/analysis.h): latent frames in, activities
 * out, through the stages of an.h. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "an.h"

#define AN_MAX_DETS 1024

struct ArgAnalysis {
    ArgAnalysisSettings s;
    ArgSequenceHeader h;
    int gw, gh;
    AnFg fg;
    AnTracker tk;
    int *scratch;
    AnDet *dets;
    int64_t *pic_start;  /* n_latents + 1 */
    int n_latents, cap_latents;
    int64_t pictures;
    int finished;
    int inter_seen;      /* a latent frame other than a keyframe came: from then
                            on keyframes only carry the tracks (an intra-only
                            stream is tracked on its keyframes) */
    ArgAnalysisStats st;
    ArgActivity *acts;
    ArgTimedBox *boxes;
    ArgProposal *props;
    int n_acts, n_props;
    ArgTrack *tracks;
    ArgTimedBox *track_boxes;
    uint8_t *track_obs;
    int n_tracks;
};

static const char *const act_names[ARG_ACT_COUNT] = {
    "person_walks", "person_stands", "person_enters_scene", "person_exits_scene",
    "vehicle_moves", "vehicle_starts", "vehicle_stops", "vehicle_turns_left",
    "vehicle_turns_right",
};

const char *arg_activity_name(int type)
{
    return type >= 0 && type < ARG_ACT_COUNT ? act_names[type] : NULL;
}

const char *arg_object_name(int type)
{
    return type == ARG_OBJECT_VEHICLE ? "Vehicle" : "Person";
}

void arg_analysis_default_settings(ArgAnalysisSettings *s)
{
    memset(s, 0, sizeof(*s));
    s->fg_bits = 3.0;
    s->bg_rate = 0.05;
    s->fg_rate = 0.004;
    s->warmup = 4;
    s->min_cells = 2;
    s->vehicle_aspect = 1.2;
    s->vehicle_area = 0.0125;
    s->min_iou = 0.05;
    s->min_hits = 2;
    s->max_misses = 2;
    s->cube_latents = 16;
    s->cube_stride = 4;
    s->min_cube_fg = 0.15;
    s->min_score = 0.1;
    s->nms_tiou = 0.5;
    s->nms_iou = 0.3;
    s->min_track = 4;
    s->stitch_gap = 8;
    s->gate = 0.75;
}

static int check_settings(const ArgAnalysisSettings *s)
{
    for (size_t i = 0; i < sizeof(s->reserved) / sizeof(s->reserved[0]); i++)
        if (s->reserved[i])
            return -EINVAL;
    if (!(s->fg_bits > 0) || !(s->bg_rate > 0 && s->bg_rate <= 1) || !(s->fg_rate >= 0 && s->fg_rate <= 1) ||
        s->warmup < 0 || s->min_cells < 1 || s->min_hits < 1 || s->max_misses < 0 ||
        s->cube_latents < 1 || s->cube_stride < 1 || !(s->min_iou >= 0 && s->min_iou <= 1) ||
        s->min_track < 1 || s->stitch_gap < 0 || !(s->gate >= 0 && s->gate <= 100))
        return -EINVAL;
    return 0;
}

int arg_analysis_open(ArgAnalysis **out, const ArgAnalysisSettings *s, const ArgSequenceHeader *h)
{
    if (!out || !h)
        return -EINVAL;
    *out = NULL;
    if (h->spatial_factor <= 0 || h->coded_width <= 0 || h->coded_height <= 0 ||
        h->coded_width % h->spatial_factor || h->coded_height % h->spatial_factor ||
        h->width <= 0 || h->height <= 0 || h->lfq_bits <= 0 || h->lfq_bits > 32)
        return -EINVAL;
    ArgAnalysis *a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    if (s)
        a->s = *s;
    else
        arg_analysis_default_settings(&a->s);
    int rc = check_settings(&a->s);
    if (rc < 0) {
        free(a);
        return rc;
    }
    a->h = *h;
    a->gw = h->coded_width / h->spatial_factor;
    a->gh = h->coded_height / h->spatial_factor;
    if ((rc = an_fg_init(&a->fg, a->gw, a->gh, h->lfq_bits)) < 0) {
        free(a);
        return rc;
    }
    a->scratch = malloc(sizeof(int) * 2 * (size_t)a->gw * a->gh);
    a->dets = malloc(sizeof(AnDet) * AN_MAX_DETS);
    a->cap_latents = 256;
    a->pic_start = malloc(sizeof(int64_t) * (size_t)(a->cap_latents + 1));
    if (!a->scratch || !a->dets || !a->pic_start) {
        arg_analysis_close(a);
        return -ENOMEM;
    }
    a->pic_start[0] = 0;
    *out = a;
    return 0;
}

void arg_analysis_close(ArgAnalysis *a)
{
    if (!a)
        return;
    an_fg_free(&a->fg);
    an_tracker_free(&a->tk);
    free(a->scratch);
    free(a->dets);
    free(a->pic_start);
    free(a->acts);
    free(a->boxes);
    free(a->props);
    free(a->tracks);
    free(a->track_boxes);
    free(a->track_obs);
    free(a);
}

int arg_analysis_send_tokens(ArgAnalysis *a, const ArgTokens *t)
{
    if (!a || !t || !t->tokens)
        return -EINVAL;
    if (a->finished)
        return -EALREADY;
    if (t->tokens_w != a->gw || t->tokens_h != a->gh || t->n_pictures < 1)
        return -EINVAL;
    if (a->n_latents == a->cap_latents) {
        int cap = a->cap_latents * 2;
        int64_t *p = realloc(a->pic_start, sizeof(int64_t) * (size_t)(cap + 1));
        if (!p)
            return -ENOMEM;
        a->pic_start = p;
        a->cap_latents = cap;
    }
    int ti = a->n_latents;
    int64_t pic = a->pictures;
    int nfg = an_fg_update(&a->fg, t->tokens, t->keyframe, &a->s);
    int nd = an_detect(a->fg.mask, a->gw, a->gh, a->s.min_cells, a->scratch, a->dets, AN_MAX_DETS);
    double pic_area = (double)a->h.width * a->h.height;
    for (int i = 0; i < nd; i++)
        a->dets[i].object_type = an_classify(&a->dets[i].box, a->h.spatial_factor, a->h.spatial_factor,
                                             pic_area, &a->s);
    int rc = an_track_step_ex(&a->tk, ti, pic, a->dets, nd, a->fg.mask, a->gw, a->gh, &a->s,
                              t->keyframe && a->inter_seen ? AN_TRACK_CARRY : 0);
    a->inter_seen |= !t->keyframe;
    if (rc < 0)
        return rc;
    a->pictures += t->n_pictures;
    a->n_latents++;
    a->pic_start[a->n_latents] = a->pictures;
    a->st.latent_frames++;
    a->st.pictures = a->pictures;
    a->st.fg_cells += nfg;
    a->st.detections += nd;
    return 0;
}

int arg_analysis_skip_pictures(ArgAnalysis *a, int64_t n)
{
    if (!a || n < 0)
        return -EINVAL;
    if (a->finished)
        return -EALREADY;
    a->pictures += n;
    a->pic_start[a->n_latents] = a->pictures;
    a->st.pictures = a->pictures;
    return 0;
}

static ArgBox to_pixels(const ArgAnalysis *a, const AnBox *b)
{
    double f = a->h.spatial_factor;
    int x0 = (int)floor(b->x0 * f), y0 = (int)floor(b->y0 * f);
    int x1 = (int)ceil(b->x1 * f), y1 = (int)ceil(b->y1 * f);
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > a->h.width) x1 = a->h.width;
    if (y1 > a->h.height) y1 = a->h.height;
    if (x1 <= x0) x1 = x0 + 1 <= a->h.width ? x0 + 1 : x0, x0 = x1 - 1;
    if (y1 <= y0) y1 = y0 + 1 <= a->h.height ? y0 + 1 : y0, y0 = y1 - 1;
    ArgBox r = { x0, y0, x1 - x0, y1 - y0 };
    return r;
}

int arg_analysis_finish(ArgAnalysis *a)
{
    if (!a)
        return -EINVAL;
    if (a->finished)
        return 0;
    a->finished = 1;
    an_track_finish(&a->tk);
    a->st.tracks = a->tk.next_id;
    a->st.confirmed_tracks = a->tk.n;
    size_t ntb = 0;
    for (int i = 0; i < a->tk.n; i++)
        ntb += (size_t)a->tk.tr[i].n;
    a->tracks = malloc(sizeof(ArgTrack) * ((size_t)a->tk.n + 1));
    a->track_boxes = malloc(sizeof(ArgTimedBox) * (ntb + 1));
    a->track_obs = malloc(ntb + 1);
    if (!a->tracks || !a->track_boxes || !a->track_obs)
        return -ENOMEM;
    ntb = 0;
    for (int i = 0; i < a->tk.n; i++) {
        const AnTrack *tr = &a->tk.tr[i];
        ArgTrack *o = &a->tracks[i];
        o->id = tr->id;
        o->object_type = an_track_object_type(tr);
        o->first = a->pic_start[tr->pts[0].t];
        o->end = a->pic_start[tr->pts[tr->n - 1].t + 1];
        o->boxes = a->track_boxes + ntb;
        o->observed = a->track_obs + ntb;
        o->n_boxes = tr->n;
        for (int k = 0; k < tr->n; k++) {
            ArgTimedBox b = { a->pic_start[tr->pts[k].t], to_pixels(a, &tr->pts[k].box) };
            a->track_boxes[ntb] = b;
            a->track_obs[ntb++] = (uint8_t)tr->pts[k].observed;
        }
    }
    a->n_tracks = a->tk.n;
    AnGeom g = { a->gw, a->gh, a->h.spatial_factor, a->h.spatial_factor,
                 a->h.fps_den ? (double)a->h.fps_num / a->h.fps_den : 25.0, a->pic_start, a->n_latents };
    AnCube *cubes = NULL;
    int nc = 0, capc = 0;
    for (int i = 0; i < a->tk.n; i++) {
        nc = an_cubes(&a->tk.tr[i], i, &a->s, &cubes, nc, &capc);
        if (nc < 0)
            return nc;
    }
    AnCand *cand = malloc(sizeof(AnCand) * ((size_t)nc * ARG_ACT_COUNT + 1));
    a->props = malloc(sizeof(ArgProposal) * ((size_t)nc + 1));
    if (!cand || !a->props) {
        free(cubes);
        free(cand);
        return -ENOMEM;
    }
    int ncand = 0;
    for (int i = 0; i < nc; i++) {
        const AnCube *c = &cubes[i];
        const AnTrack *tr = &a->tk.tr[c->track];
        ArgProposal p = { tr->id, an_track_object_type(tr), a->pic_start[c->t0], a->pic_start[c->t1],
                          to_pixels(a, &c->box), c->fg, c->kept };
        a->props[i] = p;
        a->st.proposals++;
        if (!c->kept)
            continue;
        a->st.proposals_kept++;
        ncand += an_score_cube(tr, c, &g, &a->s, cand + ncand);
    }
    a->n_props = nc;
    free(cubes);
    a->st.candidates = ncand;
    int n = an_dedup(cand, ncand, &a->s);
    size_t nb = 0;
    for (int i = 0; i < n; i++)
        nb += (size_t)(cand[i].t1 - cand[i].t0);
    a->acts = malloc(sizeof(ArgActivity) * ((size_t)n + 1));
    a->boxes = malloc(sizeof(ArgTimedBox) * (nb + 1));
    if (!a->acts || !a->boxes) {
        free(cand);
        return -ENOMEM;
    }
    nb = 0;
    for (int i = 0; i < n; i++) {
        const AnCand *c = &cand[i];
        const AnTrack *tr = &a->tk.tr[c->track];
        ArgActivity *o = &a->acts[i];
        o->type = c->act;
        o->object_type = an_track_object_type(tr);
        o->track_id = tr->id;
        o->score = c->score;
        o->first = a->pic_start[c->t0];
        o->end = a->pic_start[c->t1];
        o->boxes = a->boxes + nb;
        o->n_boxes = c->t1 - c->t0;
        for (int t = c->t0; t < c->t1; t++) {
            ArgTimedBox b = { a->pic_start[t], to_pixels(a, &tr->pts[t - tr->pts[0].t].box) };
            a->boxes[nb++] = b;
        }
    }
    a->n_acts = n;
    a->st.instances = n;
    free(cand);
    return 0;
}

int arg_analysis_activities(const ArgAnalysis *a, const ArgActivity **list)
{
    if (!a || !list)
        return -EINVAL;
    if (!a->finished)
        return -EAGAIN;
    *list = a->acts;
    return a->n_acts;
}

int arg_analysis_tracks(const ArgAnalysis *a, const ArgTrack **list)
{
    if (!a || !list)
        return -EINVAL;
    if (!a->finished)
        return -EAGAIN;
    *list = a->tracks;
    return a->n_tracks;
}

int arg_analysis_proposals(const ArgAnalysis *a, const ArgProposal **list)
{
    if (!a || !list)
        return -EINVAL;
    if (!a->finished)
        return -EAGAIN;
    *list = a->props;
    return a->n_props;
}

void arg_analysis_stats(const ArgAnalysis *a, ArgAnalysisStats *st)
{
    if (a && st)
        *st = a->st;
}

int arg_analysis_foreground(const ArgAnalysis *a, const float **score, const uint8_t **mask)
{
    if (!a)
        return -EINVAL;
    if (score)
        *score = a->fg.score;
    if (mask)
        *mask = a->fg.mask;
    return a->gw * a->gh;
}
