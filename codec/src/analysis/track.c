/* Tracking: each latent frame, the tracks' predicted boxes (constant
 * velocity) are matched one-to-one to the detections by the Hungarian
 * method on 1 - IoU; pairs under min_iou are refused. A detection left over
 * starts a tentative track, confirmed (given an ID) after min_hits matches;
 * a track unmatched for more than max_misses latent frames ends, and a
 * tentative one that ends is dropped. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "an.h"

#define AN_NO_MATCH 1e6

static int push_point(AnTrack *t, const AnPoint *p)
{
    if (t->n == t->cap) {
        int cap = t->cap ? t->cap * 2 : 16;
        AnPoint *np = realloc(t->pts, sizeof(*np) * (size_t)cap);
        if (!np)
            return -ENOMEM;
        t->pts = np;
        t->cap = cap;
    }
    t->pts[t->n++] = *p;
    return 0;
}

static float fg_fraction(const AnBox *b, const uint8_t *mask, int w, int h)
{
    int x0 = (int)floorf(b->x0), y0 = (int)floorf(b->y0);
    int x1 = (int)ceilf(b->x1), y1 = (int)ceilf(b->y1);
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > w) x1 = w;
    if (y1 > h) y1 = h;
    int n = 0, on = 0;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) {
            n++;
            on += mask[y * w + x] != 0;
        }
    return n ? (float)on / (float)n : 0.0f;
}

static void end_track(AnTrack *t)
{
    t->alive = 0;
    while (t->n > 0 && !t->pts[t->n - 1].observed)
        t->n--;
}

int an_track_object_type(const AnTrack *t)
{
    return t->votes[ARG_OBJECT_VEHICLE] > t->votes[ARG_OBJECT_PERSON] ? ARG_OBJECT_VEHICLE
                                                                        : ARG_OBJECT_PERSON;
}

int an_track_step(AnTracker *tk, int t, int64_t pic, const AnDet *dets, int n_dets,
                  const uint8_t *mask, int w, int h, const ArgAnalysisSettings *s)
{
    /* the live tracks */
    int n_live = 0;
    for (int i = 0; i < tk->n; i++)
        n_live += tk->tr[i].alive;
    int need = n_live * (n_dets > 0 ? n_dets : 1) + n_live + n_dets + 1;
    if (need > tk->scratch_cap) {
        double *c = realloc(tk->cost, sizeof(double) * (size_t)need);
        if (!c)
            return -ENOMEM;
        tk->cost = c;
        int *m = realloc(tk->match, sizeof(int) * (size_t)need);
        if (!m)
            return -ENOMEM;
        tk->match = m;
        tk->scratch_cap = need;
    }
    int *live = tk->match + n_live;            /* n_live indices */
    int *det_used = live + n_live;             /* n_dets flags */
    for (int i = 0, k = 0; i < tk->n; i++)
        if (tk->tr[i].alive)
            live[k++] = i;
    AnBox pred_buf;
    for (int k = 0; k < n_live; k++) {
        const AnTrack *tr = &tk->tr[live[k]];
        const AnBox *b = &tr->pts[tr->n - 1].box;
        float dpic = (float)(pic - tr->pts[tr->n - 1].pic);
        pred_buf = *b;
        pred_buf.x0 += tr->vx * dpic;
        pred_buf.x1 += tr->vx * dpic;
        pred_buf.y0 += tr->vy * dpic;
        pred_buf.y1 += tr->vy * dpic;
        for (int d = 0; d < n_dets; d++) {
            float iou = an_box_iou(&pred_buf, &dets[d].box);
            tk->cost[(size_t)k * n_dets + d] = iou >= s->min_iou ? 1.0 - iou : AN_NO_MATCH;
        }
    }
    int rc = an_assign(tk->cost, n_live, n_dets, tk->match);
    if (rc < 0)
        return rc;
    for (int d = 0; d < n_dets; d++)
        det_used[d] = 0;
    for (int k = 0; k < n_live; k++) {
        AnTrack *tr = &tk->tr[live[k]];
        int d = tk->match[k];
        AnPoint last = tr->pts[tr->n - 1];
        AnPoint p = { t, pic, last.box, 0, 0 };
        float dpic = (float)(pic - last.pic);
        if (d >= 0 && tk->cost[(size_t)k * n_dets + d] < AN_NO_MATCH) {
            det_used[d] = 1;
            p.box = dets[d].box;
            p.observed = 1;
            /* velocity from the last observed point, smoothed */
            int lo = tr->n - 1;
            while (lo > 0 && !tr->pts[lo].observed)
                lo--;
            float span = (float)(pic - tr->pts[lo].pic);
            if (span > 0) {
                float cx = (p.box.x0 + p.box.x1 - tr->pts[lo].box.x0 - tr->pts[lo].box.x1) * 0.5f / span;
                float cy = (p.box.y0 + p.box.y1 - tr->pts[lo].box.y0 - tr->pts[lo].box.y1) * 0.5f / span;
                tr->vx = tr->hits > 1 ? 0.5f * tr->vx + 0.5f * cx : cx;
                tr->vy = tr->hits > 1 ? 0.5f * tr->vy + 0.5f * cy : cy;
            }
            tr->hits++;
            tr->misses = 0;
            tr->votes[dets[d].object_type == ARG_OBJECT_VEHICLE]++;
            if (!tr->id && tr->hits >= s->min_hits)
                tr->id = ++tk->next_id;
        } else {
            p.box.x0 += tr->vx * dpic;
            p.box.x1 += tr->vx * dpic;
            p.box.y0 += tr->vy * dpic;
            p.box.y1 += tr->vy * dpic;
            tr->misses++;
        }
        p.fg = fg_fraction(&p.box, mask, w, h);
        if ((rc = push_point(tr, &p)) < 0)
            return rc;
        /* a predicted box that left the picture, or too many misses, ends it */
        int gone = p.box.x1 <= 0 || p.box.y1 <= 0 || p.box.x0 >= w || p.box.y0 >= h;
        if (tr->misses > s->max_misses || (gone && !p.observed))
            end_track(tr);
    }
    for (int d = 0; d < n_dets; d++) {
        if (det_used[d])
            continue;
        if (tk->n == tk->cap) {
            int cap = tk->cap ? tk->cap * 2 : 16;
            AnTrack *nt = realloc(tk->tr, sizeof(*nt) * (size_t)cap);
            if (!nt)
                return -ENOMEM;
            tk->tr = nt;
            tk->cap = cap;
        }
        AnTrack *tr = &tk->tr[tk->n++];
        memset(tr, 0, sizeof(*tr));
        tr->alive = 1;
        tr->hits = 1;
        tr->votes[dets[d].object_type == ARG_OBJECT_VEHICLE]++;
        if (tr->hits >= s->min_hits)
            tr->id = ++tk->next_id;
        AnPoint p = { t, pic, dets[d].box, 1, fg_fraction(&dets[d].box, mask, w, h) };
        if ((rc = push_point(tr, &p)) < 0)
            return rc;
    }
    /* drop tentative tracks that ended */
    int k = 0;
    for (int i = 0; i < tk->n; i++) {
        if (!tk->tr[i].alive && !tk->tr[i].id) {
            free(tk->tr[i].pts);
            continue;
        }
        tk->tr[k++] = tk->tr[i];
    }
    tk->n = k;
    return 0;
}

void an_track_finish(AnTracker *tk)
{
    int k = 0;
    for (int i = 0; i < tk->n; i++) {
        if (tk->tr[i].alive)
            end_track(&tk->tr[i]);
        if (!tk->tr[i].id || tk->tr[i].n == 0) {
            free(tk->tr[i].pts);
            continue;
        }
        tk->tr[k++] = tk->tr[i];
    }
    tk->n = k;
}

void an_tracker_free(AnTracker *tk)
{
    for (int i = 0; i < tk->n; i++)
        free(tk->tr[i].pts);
    free(tk->tr);
    free(tk->cost);
    free(tk->match);
    memset(tk, 0, sizeof(*tk));
}
