/* Cube proposals (Argus++: 64 pictures, stride 16 -> 16 latent frames,
 * stride 4), their foreground filter, activity scores from the track's
 * geometry, and the deduplication of the scored cubes. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "an.h"

int an_cubes(const AnTrack *tr, int track_index, const ArgAnalysisSettings *s,
             AnCube **cubes, int n, int *cap)
{
    if (tr->n == 0)
        return n;
    int L = s->cube_latents, S = s->cube_stride;
    int tf = tr->pts[0].t, tl = tr->pts[tr->n - 1].t;
    int s0 = tf - L + 1;
    s0 = s0 <= 0 ? 0 : (s0 + S - 1) / S * S;
    for (int w0 = s0; w0 <= tl; w0 += S) {
        int t0 = w0 > tf ? w0 : tf, t1 = w0 + L < tl + 1 ? w0 + L : tl + 1;
        int obs = 0;
        float fg = 0;
        AnBox box = tr->pts[t0 - tf].box;
        for (int t = t0; t < t1; t++) {
            const AnPoint *p = &tr->pts[t - tf];
            obs += p->observed;
            fg += p->fg;
            box = an_box_union(&box, &p->box);
        }
        if (obs < 2)
            continue;
        if (n == *cap) {
            int nc = *cap ? *cap * 2 : 64;
            AnCube *c = realloc(*cubes, sizeof(*c) * (size_t)nc);
            if (!c)
                return -ENOMEM;
            *cubes = c;
            *cap = nc;
        }
        AnCube c = { track_index, t0, t1, box, fg / (float)(t1 - t0), 0 };
        c.kept = c.fg >= s->min_cube_fg;
        (*cubes)[n++] = c;
    }
    return n;
}

static double ramp(double x, double a, double b)
{
    double r = (x - a) / (b - a);
    return r < 0 ? 0 : r > 1 ? 1 : r;
}

static int at_border(const AnBox *b, const AnGeom *g)
{
    return b->x0 <= 0.5f || b->y0 <= 0.5f || b->x1 >= g->gw - 0.5f || b->y1 >= g->gh - 0.5f;
}

/* Mean centre (pixels) and picture of the observed points i in [a, b). */
static int mean_centre(const AnPoint *const *obs, int a, int b, const AnGeom *g,
                       double *cx, double *cy, double *pic)
{
    double x = 0, y = 0, t = 0;
    for (int i = a; i < b; i++) {
        x += (obs[i]->box.x0 + obs[i]->box.x1) * 0.5 * g->cell_w;
        y += (obs[i]->box.y0 + obs[i]->box.y1) * 0.5 * g->cell_h;
        t += (double)obs[i]->pic;
    }
    if (b <= a)
        return -1;
    *cx = x / (b - a);
    *cy = y / (b - a);
    *pic = t / (b - a);
    return 0;
}

static AnBox span_box(const AnTrack *tr, int t0, int t1)
{
    int tf = tr->pts[0].t;
    AnBox b = tr->pts[t0 - tf].box;
    for (int t = t0; t < t1; t++)
        b = an_box_union(&b, &tr->pts[t - tf].box);
    return b;
}

/* Extend [t0, t1) forward (or backward) within the track until it lasts one
 * second. */
static void at_least_a_second(const AnTrack *tr, const AnGeom *g, int *t0, int *t1, int forward)
{
    int tf = tr->pts[0].t, tl = tr->pts[tr->n - 1].t;
    while ((double)(g->pic_start[*t1] - g->pic_start[*t0]) < g->fps) {
        if (forward && *t1 <= tl)
            (*t1)++;
        else if (!forward && *t0 > tf)
            (*t0)--;
        else
            break;
    }
}

int an_score_cube(const AnTrack *tr, const AnCube *c, const AnGeom *g,
                  const ArgAnalysisSettings *s, AnCand *out)
{
    const AnPoint *obs[256];
    int nobs = 0, tf = tr->pts[0].t, tl = tr->pts[tr->n - 1].t;
    double size = 0;
    int ncarried = 0;
    for (int t = c->t0; t < c->t1 && nobs < 256; t++) {
        const AnPoint *p = &tr->pts[t - tf];
        ncarried += p->carried;
        if (!p->observed)
            continue;
        obs[nobs++] = p;
        double w = (p->box.x1 - p->box.x0) * g->cell_w, h = (p->box.y1 - p->box.y0) * g->cell_h;
        size += w > h ? w : h;
    }
    if (nobs < 2)
        return 0;
    size /= nobs;
    /* centres of the first, middle and last thirds */
    int k = nobs >= 3 ? nobs / 3 : 1;
    double ax = 0, ay = 0, at = 0, bx = 0, by = 0, bt = 0, cx = 0, cy = 0, ct = 0;
    mean_centre(obs, 0, k, g, &ax, &ay, &at);
    mean_centre(obs, nobs - k, nobs, g, &cx, &cy, &ct);
    if (nobs >= 3) {
        mean_centre(obs, k, nobs - k, g, &bx, &by, &bt);
    } else {
        bx = (ax + cx) / 2;
        by = (ay + cy) / 2;
        bt = (at + ct) / 2;
    }
    double fps = g->fps > 0 ? g->fps : 25.0;
    double dac = (ct - at) / fps, dab = (bt - at) / fps, dbc = (ct - bt) / fps;
    if (dac <= 0 || size <= 0)
        return 0;
    double v = hypot(cx - ax, cy - ay) / dac / size;
    double va = dab > 0 ? hypot(bx - ax, by - ay) / dab / size : v;
    double vb = dbc > 0 ? hypot(cx - bx, cy - by) / dbc / size : v;
    /* heading change, y down: a negative cross product turns counter-clockwise
     * on the screen, which we call left */
    double ux = bx - ax, uy = by - ay, wx = cx - bx, wy = cy - by;
    double turn = atan2(ux * wy - uy * wx, ux * wx + uy * wy) * 180.0 / M_PI;
    /* the share of latent frames where the object was seen (keyframes,
     * which only carry the track, neither count nor miss) */
    double obs_frac = (double)nobs / (double)(c->t1 - c->t0 - ncarried > nobs ? c->t1 - c->t0 - ncarried : nobs);
    int vehicle = an_track_object_type(tr) == ARG_OBJECT_VEHICLE;
    double sc[ARG_ACT_COUNT] = { 0 };
    int span0[ARG_ACT_COUNT], span1[ARG_ACT_COUNT];
    for (int a = 0; a < ARG_ACT_COUNT; a++) {
        span0[a] = c->t0;
        span1[a] = c->t1;
    }
    if (!vehicle) {
        sc[ARG_ACT_PERSON_WALKS] = ramp(v, 0.10, 0.35) * (0.5 + 0.5 * obs_frac);
        sc[ARG_ACT_PERSON_STANDS] = (1.0 - ramp(v, 0.04, 0.12)) * obs_frac;
        /* born inside the cube, at the border, after the background settled */
        if (tf >= c->t0 && tf < c->t1 && tf > s->warmup && at_border(&tr->pts[0].box, g)) {
            int t1 = tf + 1;
            while (t1 <= tl && at_border(&tr->pts[t1 - tf].box, g))
                t1++;
            int t0 = tf;
            at_least_a_second(tr, g, &t0, &t1, 1);
            sc[ARG_ACT_PERSON_ENTERS_SCENE] = 0.5 + 0.4 * ramp(v, 0.05, 0.2);
            span0[ARG_ACT_PERSON_ENTERS_SCENE] = t0;
            span1[ARG_ACT_PERSON_ENTERS_SCENE] = t1;
        }
        /* ended inside the cube, at the border, before the end of the stream */
        if (tl >= c->t0 && tl < c->t1 && tl + 1 + s->max_misses < g->n_latents &&
            at_border(&tr->pts[tl - tf].box, g)) {
            int t0 = tl;
            while (t0 > tf && at_border(&tr->pts[t0 - 1 - tf].box, g))
                t0--;
            int t1 = tl + 1;
            at_least_a_second(tr, g, &t0, &t1, 0);
            sc[ARG_ACT_PERSON_EXITS_SCENE] = 0.5 + 0.4 * ramp(v, 0.05, 0.2);
            span0[ARG_ACT_PERSON_EXITS_SCENE] = t0;
            span1[ARG_ACT_PERSON_EXITS_SCENE] = t1;
        }
    } else {
        sc[ARG_ACT_VEHICLE_MOVES] = ramp(v, 0.05, 0.25) * (0.5 + 0.5 * obs_frac);
        sc[ARG_ACT_VEHICLE_STARTS] = ramp(vb - va, 0.05, 0.2) * (1.0 - ramp(va, 0.03, 0.1));
        sc[ARG_ACT_VEHICLE_STOPS] = ramp(va - vb, 0.05, 0.2) * (1.0 - ramp(vb, 0.03, 0.1));
        double turning = ramp(fabs(turn), 25, 60) * ramp(va < vb ? va : vb, 0.03, 0.1);
        sc[turn < 0 ? ARG_ACT_VEHICLE_TURNS_LEFT : ARG_ACT_VEHICLE_TURNS_RIGHT] = turning;
    }
    int n = 0;
    for (int a = 0; a < ARG_ACT_COUNT; a++) {
        if (sc[a] < s->min_score || sc[a] <= 0)
            continue;
        AnCand cd = { a, c->track, span0[a], span1[a], sc[a], span_box(tr, span0[a], span1[a]) };
        out[n++] = cd;
    }
    return n;
}

static int cmp_act_track_time(const void *pa, const void *pb)
{
    const AnCand *a = pa, *b = pb;
    if (a->act != b->act)
        return a->act < b->act ? -1 : 1;
    if (a->track != b->track)
        return a->track < b->track ? -1 : 1;
    if (a->t0 != b->t0)
        return a->t0 < b->t0 ? -1 : 1;
    return (a->t1 > b->t1) - (a->t1 < b->t1);
}

static int cmp_score(const void *pa, const void *pb)
{
    const AnCand *a = pa, *b = pb;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    return cmp_act_track_time(pa, pb);
}

int an_dedup(AnCand *c, int n, const ArgAnalysisSettings *s)
{
    if (n <= 0)
        return 0;
    qsort(c, (size_t)n, sizeof(*c), cmp_act_track_time);
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (m > 0 && c[m - 1].act == c[i].act && c[m - 1].track == c[i].track &&
            c[i].t0 <= c[m - 1].t1) {
            AnCand *d = &c[m - 1];
            if (c[i].t1 > d->t1)
                d->t1 = c[i].t1;
            if (c[i].score > d->score)
                d->score = c[i].score;
            d->box = an_box_union(&d->box, &c[i].box);
        } else {
            c[m++] = c[i];
        }
    }
    qsort(c, (size_t)m, sizeof(*c), cmp_score);
    int k = 0;
    for (int i = 0; i < m; i++) {
        int keep = 1;
        for (int j = 0; j < k && keep; j++) {
            if (c[j].act != c[i].act)
                continue;
            int inter = (c[i].t1 < c[j].t1 ? c[i].t1 : c[j].t1) - (c[i].t0 > c[j].t0 ? c[i].t0 : c[j].t0);
            int uni = (c[i].t1 > c[j].t1 ? c[i].t1 : c[j].t1) - (c[i].t0 < c[j].t0 ? c[i].t0 : c[j].t0);
            double tiou = inter > 0 && uni > 0 ? (double)inter / uni : 0;
            if (tiou >= s->nms_tiou && an_box_iou(&c[i].box, &c[j].box) >= s->nms_iou)
                keep = 0;
        }
        if (keep)
            c[k++] = c[i];
    }
    return k;
}
