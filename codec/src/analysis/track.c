/* Tracking: each latent frame, the tracks' predicted boxes (constant
 * velocity) are matched one-to-one to the detections by the Hungarian
 * method: on 1 - IoU for pairs overlapping by at least min_iou, else (worse
 * than any overlap) on the distance of the centres when it is within
 * `gate` object sizes and the sizes agree. A detection left over starts a
 * tentative track (unless it lies mostly inside a live track's box: a
 * fragment of that object), confirmed after min_hits matches; a track
 * unmatched for more than max_misses latent frames ends (it coasts on its
 * predicted box meanwhile), and a tentative one that ends is dropped.
 * Latent frames flagged AN_TRACK_CARRY (keyframes: one picture, coded
 * differently, with a foreground model of their own that is noisier) only
 * carry the tracks forward.
 *
 * At the end, broken tracks are stitched: a track that ends and one born
 * at most stitch_gap latent frames later, where the first one's motion
 * leads, join (the gap filled by interpolated, unobserved points); tracks
 * observed in fewer than min_track latent frames are dropped, and the rest
 * numbered from 1 in order of birth. */
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

static float box_size(const AnBox *b)
{
    float s = 0.5f * ((b->x1 - b->x0) + (b->y1 - b->y0));
    return s > 1.0f ? s : 1.0f;
}

static float box_area(const AnBox *b)
{
    return (b->x1 - b->x0) * (b->y1 - b->y0);
}

static float centre_dist(const AnBox *a, const AnBox *b)
{
    return 0.5f * hypotf(a->x0 + a->x1 - b->x0 - b->x1, a->y0 + a->y1 - b->y0 - b->y1);
}

static float inter_area(const AnBox *a, const AnBox *b)
{
    float ix = fminf(a->x1, b->x1) - fmaxf(a->x0, b->x0);
    float iy = fminf(a->y1, b->y1) - fmaxf(a->y0, b->y0);
    return ix > 0 && iy > 0 ? ix * iy : 0.0f;
}

static AnBox shifted(const AnBox *b, float dx, float dy)
{
    AnBox r = { b->x0 + dx, b->y0 + dy, b->x1 + dx, b->y1 + dy };
    return r;
}

/* Cost of matching a predicted box to a detection, AN_NO_MATCH if refused. */
static double match_cost(const AnBox *pred, const AnBox *det, const ArgAnalysisSettings *s)
{
    float iou = an_box_iou(pred, det);
    if (iou >= s->min_iou && iou > 0)
        return 1.0 - iou;
    if (s->gate <= 0)
        return AN_NO_MATCH;
    float ra = box_area(det) / fmaxf(box_area(pred), 1e-3f);
    if (ra < 1.0f / 3.0f || ra > 3.0f)
        return AN_NO_MATCH;
    double d = centre_dist(pred, det) / box_size(pred);
    return d <= s->gate ? 1.0 + d / s->gate : AN_NO_MATCH;
}

static int record_pic(AnTracker *tk, int t, int64_t pic)
{
    if (t < 0)
        return -EINVAL;
    if (t >= tk->cap_pics) {
        int cap = tk->cap_pics ? tk->cap_pics : 256;
        while (cap <= t)
            cap *= 2;
        int64_t *p = realloc(tk->pics, sizeof(int64_t) * (size_t)cap);
        if (!p)
            return -ENOMEM;
        tk->pics = p;
        tk->cap_pics = cap;
    }
    tk->pics[t] = pic;
    if (t >= tk->n_pics)
        tk->n_pics = t + 1;
    return 0;
}

/* Components that lie mostly (half their area) inside a confirmed person track's
 * predicted box, where their union is not much larger than that box (1.5
 * times), are one object fallen apart (head and legs, a person split by a
 * pole): they merge into one detection before matching. *dets then points
 * to the tracker's copy. */
static int merge_fragments(AnTracker *tk, const int *live, int n_live, int64_t pic,
                           const AnDet **dets, int *n_dets)
{
    int n = *n_dets;
    if (n < 2 || n_live == 0)
        return 0;
    if (n > tk->dbuf_cap) {
        AnDet *b = realloc(tk->dbuf, sizeof(AnDet) * (size_t)n);
        if (!b)
            return -ENOMEM;
        tk->dbuf = b;
        tk->dbuf_cap = n;
    }
    AnDet *d = tk->dbuf;
    memcpy(d, *dets, sizeof(AnDet) * (size_t)n);
    int merged = 0;
    for (int k = 0; k < n_live; k++) {
        const AnTrack *tr = &tk->tr[live[k]];
        if (!tr->id || an_track_object_type(tr) != ARG_OBJECT_PERSON)
            continue;
        const AnPoint *last = &tr->pts[tr->n - 1];
        float dpic = (float)(pic - last->pic);
        AnBox pred = shifted(&last->box, tr->vx * dpic, tr->vy * dpic);
        int first = -1;
        AnBox u = pred;
        int parts = 0, cells = 0;
        for (int i = 0; i < n; i++) {
            if (d[i].cells < 0 || inter_area(&pred, &d[i].box) < 0.5f * box_area(&d[i].box))
                continue;
            u = parts ? an_box_union(&u, &d[i].box) : d[i].box;
            cells += d[i].cells;
            parts++;
            if (first < 0)
                first = i;
        }
        if (parts < 2 || box_area(&u) > 1.5f * box_area(&pred))
            continue;
        for (int i = first + 1; i < n; i++)
            if (d[i].cells >= 0 && inter_area(&pred, &d[i].box) >= 0.5f * box_area(&d[i].box))
                d[i].cells = -1; /* merged away */
        d[first].box = u;
        d[first].cells = cells;
        merged = 1;
    }
    if (!merged)
        return 0;
    int m = 0;
    for (int i = 0; i < n; i++)
        if (d[i].cells >= 0)
            d[m++] = d[i];
    *dets = d;
    *n_dets = m;
    return 0;
}

int an_track_step(AnTracker *tk, int t, int64_t pic, const AnDet *dets, int n_dets,
                  const uint8_t *mask, int w, int h, const ArgAnalysisSettings *s)
{
    return an_track_step_ex(tk, t, pic, dets, n_dets, mask, w, h, s, 0);
}

int an_track_step_ex(AnTracker *tk, int t, int64_t pic, const AnDet *dets, int n_dets,
                     const uint8_t *mask, int w, int h, const ArgAnalysisSettings *s, int flags)
{
    int carry = (flags & AN_TRACK_CARRY) != 0;
    if (carry)
        n_dets = 0;
    tk->min_track = s->min_track;
    tk->stitch_gap = s->stitch_gap;
    tk->gate = s->gate;
    int rc = record_pic(tk, t, pic);
    if (rc < 0)
        return rc;
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
    if ((rc = merge_fragments(tk, live, n_live, pic, &dets, &n_dets)) < 0)
        return rc;
    for (int k = 0; k < n_live; k++) {
        const AnTrack *tr = &tk->tr[live[k]];
        const AnPoint *last = &tr->pts[tr->n - 1];
        float dpic = (float)(pic - last->pic);
        AnBox pred = shifted(&last->box, tr->vx * dpic, tr->vy * dpic);
        for (int d = 0; d < n_dets; d++)
            tk->cost[(size_t)k * n_dets + d] = match_cost(&pred, &dets[d].box, s);
    }
    rc = an_assign(tk->cost, n_live, n_dets, tk->match);
    if (rc < 0)
        return rc;
    for (int d = 0; d < n_dets; d++)
        det_used[d] = 0;
    for (int k = 0; k < n_live; k++) {
        AnTrack *tr = &tk->tr[live[k]];
        int d = tk->match[k];
        AnPoint last = tr->pts[tr->n - 1];
        AnPoint p = { t, pic, last.box, 0, 0, carry };
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
            p.box = shifted(&last.box, tr->vx * dpic, tr->vy * dpic);
            if (!carry)
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
    int n_old = tk->n;
    for (int d = 0; d < n_dets; d++) {
        if (det_used[d])
            continue;
        /* a fragment of an object that is tracked already */
        int inside = 0;
        float area = box_area(&dets[d].box);
        for (int i = 0; i < n_old && !inside; i++) {
            const AnTrack *o = &tk->tr[i];
            if (!o->alive || o->n < 2 || o->pts[o->n - 1].t != t)
                continue;
            /* its box now, or where it was predicted (the object's extent
             * before it fell apart) */
            const AnPoint *prev = &o->pts[o->n - 2];
            float dpic = (float)(pic - prev->pic);
            AnBox pred = shifted(&prev->box, o->vx * dpic, o->vy * dpic);
            if (inter_area(&o->pts[o->n - 1].box, &dets[d].box) >= 0.5f * area ||
                inter_area(&pred, &dets[d].box) >= 0.5f * area)
                inside = 1;
        }
        if (inside)
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
        AnPoint p = { t, pic, dets[d].box, 1, fg_fraction(&dets[d].box, mask, w, h), 0 };
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

typedef struct StitchPair {
    int a, b;
    double cost;
} StitchPair;

static int cmp_pair(const void *pa, const void *pb)
{
    const StitchPair *a = pa, *b = pb;
    if (a->cost != b->cost)
        return a->cost < b->cost ? -1 : 1;
    if (a->a != b->a)
        return a->a < b->a ? -1 : 1;
    return (a->b > b->b) - (a->b < b->b);
}

/* Cost of continuing track a by track b (b born after a's last point), or
 * a negative value when b is not where a was heading. */
static double stitch_cost(const AnTracker *tk, const AnTrack *a, const AnTrack *b)
{
    const AnPoint *pa = &a->pts[a->n - 1], *pb = &b->pts[0];
    int gap = pb->t - pa->t;
    if (gap < 1 || gap > tk->stitch_gap || an_track_object_type(a) != an_track_object_type(b))
        return -1;
    float ha = pa->box.y1 - pa->box.y0, hb = pb->box.y1 - pb->box.y0;
    if (ha > 2.0f * hb || hb > 2.0f * ha)
        return -1;
    float dpic = (float)(pb->pic - pa->pic);
    AnBox pred = shifted(&pa->box, a->vx * dpic, a->vy * dpic);
    double size = 0.5 * (box_size(&pa->box) + box_size(&pb->box));
    double d = centre_dist(&pred, &pb->box) / size;
    /* the allowed distance grows with the gap: the motion may have changed */
    double allowed = tk->gate + 0.15 * gap;
    if (d > allowed)
        return -1;
    return d / allowed + 0.02 * gap;
}

/* Append b to a, the gap filled by interpolated points. */
static int join_tracks(AnTracker *tk, AnTrack *a, AnTrack *b)
{
    AnPoint pa = a->pts[a->n - 1], pb = b->pts[0];
    int gap = pb.t - pa.t;
    for (int t = pa.t + 1; t < pb.t; t++) {
        float u = (float)(t - pa.t) / (float)gap;
        AnPoint p;
        p.t = t;
        p.pic = t < tk->n_pics ? tk->pics[t] : pa.pic + (int64_t)((float)(pb.pic - pa.pic) * u);
        p.box.x0 = pa.box.x0 + u * (pb.box.x0 - pa.box.x0);
        p.box.y0 = pa.box.y0 + u * (pb.box.y0 - pa.box.y0);
        p.box.x1 = pa.box.x1 + u * (pb.box.x1 - pa.box.x1);
        p.box.y1 = pa.box.y1 + u * (pb.box.y1 - pa.box.y1);
        p.observed = 0;
        p.carried = 0;
        p.fg = pa.fg + u * (pb.fg - pa.fg);
        int rc = push_point(a, &p);
        if (rc < 0)
            return rc;
    }
    for (int i = 0; i < b->n; i++) {
        int rc = push_point(a, &b->pts[i]);
        if (rc < 0)
            return rc;
    }
    a->votes[0] += b->votes[0];
    a->votes[1] += b->votes[1];
    a->hits += b->hits;
    a->vx = b->vx;
    a->vy = b->vy;
    free(b->pts);
    b->pts = NULL;
    b->n = b->cap = 0;
    return 0;
}

static void stitch(AnTracker *tk)
{
    int n = tk->n;
    if (tk->stitch_gap <= 0 || n < 2)
        return;
    StitchPair *pairs = NULL;
    int np = 0, cap = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            if (i == j || tk->tr[i].n == 0 || tk->tr[j].n == 0)
                continue;
            double c = stitch_cost(tk, &tk->tr[i], &tk->tr[j]);
            if (c < 0)
                continue;
            if (np == cap) {
                int nc = cap ? cap * 2 : 64;
                StitchPair *p = realloc(pairs, sizeof(*p) * (size_t)nc);
                if (!p) {
                    free(pairs);
                    return; /* no stitching rather than a failure */
                }
                pairs = p;
                cap = nc;
            }
            StitchPair sp = { i, j, c };
            pairs[np++] = sp;
        }
    int *next = malloc(sizeof(int) * (size_t)n * 2);
    if (!next) {
        free(pairs);
        return;
    }
    int *prev = next + n;
    for (int i = 0; i < n; i++)
        next[i] = prev[i] = -1;
    qsort(pairs, (size_t)np, sizeof(*pairs), cmp_pair);
    for (int k = 0; k < np; k++) {
        int a = pairs[k].a, b = pairs[k].b;
        if (next[a] >= 0 || prev[b] >= 0)
            continue;
        /* no cycle: b must not lead back to a (impossible in time, checked anyway) */
        int c = a;
        while (prev[c] >= 0)
            c = prev[c];
        if (c == b)
            continue;
        next[a] = b;
        prev[b] = a;
    }
    for (int i = 0; i < n; i++) {
        if (prev[i] >= 0)
            continue;
        for (int j = next[i]; j >= 0; j = next[j])
            if (join_tracks(tk, &tk->tr[i], &tk->tr[j]) < 0)
                break; /* out of memory: the rest of the chain stays apart */
    }
    free(next);
    free(pairs);
}

static int cmp_birth(const void *pa, const void *pb)
{
    const AnTrack *a = pa, *b = pb;
    if (a->pts[0].t != b->pts[0].t)
        return a->pts[0].t < b->pts[0].t ? -1 : 1;
    return (a->id > b->id) - (a->id < b->id);
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
    stitch(tk);
    k = 0;
    for (int i = 0; i < tk->n; i++) {
        int obs = 0;
        for (int j = 0; j < tk->tr[i].n; j++)
            obs += tk->tr[i].pts[j].observed;
        if (tk->tr[i].n == 0 || obs < tk->min_track) {
            free(tk->tr[i].pts);
            continue;
        }
        tk->tr[k++] = tk->tr[i];
    }
    tk->n = k;
    if (k > 1)
        qsort(tk->tr, (size_t)k, sizeof(*tk->tr), cmp_birth);
    for (int i = 0; i < k; i++)
        tk->tr[i].id = i + 1;
    tk->next_id = k;
}

void an_tracker_free(AnTracker *tk)
{
    for (int i = 0; i < tk->n; i++)
        free(tk->tr[i].pts);
    free(tk->tr);
    free(tk->cost);
    free(tk->match);
    free(tk->pics);
    free(tk->dbuf);
    memset(tk, 0, sizeof(*tk));
}
