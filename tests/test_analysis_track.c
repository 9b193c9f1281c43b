/* The tracker's fragmentation fixes (codec/src/analysis/track.c) on
 * constructed detections with known answers: motion-gated matching of a
 * small fast object, keyframe latent frames that only carry the tracks, no
 * births from fragments of a tracked object, stitching across a gap, and
 * the shortest reported track. */
#include <string.h>

#include "analysis/an.h"
#include "check.h"

#define GW 48
#define GH 36

static uint8_t mask[GW * GH];

static AnDet det(float x, float y, float w, float h)
{
    AnDet d = { { x, y, x + w, y + h }, (int)(w * h), ARG_OBJECT_PERSON };
    return d;
}

static int observed(const AnTrack *t)
{
    int n = 0;
    for (int i = 0; i < t->n; i++)
        n += t->pts[i].observed;
    return n;
}

/* a 1x3 object moving 1.5 cells per latent frame: consecutive boxes do not
 * overlap, so IoU alone starts a new track every frame; the motion-gated
 * match keeps one */
static void test_gated(void)
{
    ArgAnalysisSettings s;
    arg_analysis_default_settings(&s);
    for (int gated = 0; gated < 2; gated++) {
        s.gate = gated ? 0.75 : 0.0;
        s.stitch_gap = 0;
        AnTracker tk;
        memset(&tk, 0, sizeof(tk));
        for (int t = 0; t < 20; t++) {
            AnDet d = det(2.0f + 1.5f * (float)t, 10, 1, 3);
            an_track_step(&tk, t, (int64_t)t * 4, &d, 1, mask, GW, GH, &s);
        }
        an_track_finish(&tk);
        if (gated)
            CHECK(tk.n == 1 && tk.tr[0].n == 20 && observed(&tk.tr[0]) == 20 && tk.tr[0].id == 1,
                  "gated: one track of 20 observed points (%d tracks)", tk.n);
        else
            CHECK(tk.n == 0, "IoU only: no track lasts (%d)", tk.n);
        an_tracker_free(&tk);
    }
    /* two objects far apart are not confused by the gate */
    AnTracker tk;
    memset(&tk, 0, sizeof(tk));
    arg_analysis_default_settings(&s);
    for (int t = 0; t < 12; t++) {
        AnDet d[2] = { det(2.0f + (float)t, 5, 2, 5), det(40.0f - (float)t, 25, 2, 5) };
        an_track_step(&tk, t, (int64_t)t * 4, d, 2, mask, GW, GH, &s);
    }
    an_track_finish(&tk);
    CHECK(tk.n == 2, "two tracks: %d", tk.n);
    CHECK(tk.n == 2 && tk.tr[0].pts[11].box.x0 == 13.0f && tk.tr[1].pts[11].box.x0 == 29.0f,
          "each keeps its own object");
    an_tracker_free(&tk);
}

/* keyframe latent frames: a detection there is ignored (no birth, no
 * update), tracks move on their prediction without a miss */
static void test_carry(void)
{
    ArgAnalysisSettings s;
    arg_analysis_default_settings(&s);
    s.max_misses = 0;
    AnTracker tk;
    memset(&tk, 0, sizeof(tk));
    for (int t = 0; t < 16; t++) {
        int key = t % 8 == 0;
        AnDet d[2] = { det(2.0f + (float)t, 10, 2, 5), det(30, 30, 3, 3) };
        /* on keyframes the object's detection is off (noisy keyframe
         * foreground) and a spurious blob shows up */
        if (key)
            d[0] = det(20, 2, 2, 2);
        an_track_step_ex(&tk, t, (int64_t)t * 4, d, key ? 2 : 1, mask, GW, GH, &s,
                         key && t > 0 ? AN_TRACK_CARRY : 0);
    }
    an_track_finish(&tk);
    CHECK(tk.n == 1, "one track through the keyframe (max_misses 0): %d", tk.n);
    CHECK(tk.n == 1 && tk.tr[0].n == 15 && !tk.tr[0].pts[7].observed &&
              fabsf(tk.tr[0].pts[7].box.x0 - 10.0f) < 1e-4f,
          "the keyframe point is the prediction");
    an_tracker_free(&tk);
}

/* a tracked object that splits into two components for a while: the
 * fragment inside the track's box starts nothing */
static void test_fragments(void)
{
    ArgAnalysisSettings s;
    arg_analysis_default_settings(&s);
    AnTracker tk;
    memset(&tk, 0, sizeof(tk));
    for (int t = 0; t < 12; t++) {
        AnDet d[2];
        int nd = 1;
        d[0] = det(10, 10, 3, 6);
        if (t >= 4 && t < 9) { /* head and legs apart */
            d[0] = det(10, 10, 3, 4);
            d[1] = det(10.5f, 14, 2, 2);
            nd = 2;
        }
        an_track_step(&tk, t, (int64_t)t * 4, d, nd, mask, GW, GH, &s);
    }
    an_track_finish(&tk);
    CHECK(tk.n == 1, "a split object stays one track: %d", tk.n);
    an_tracker_free(&tk);
}

/* an object lost for 5 latent frames (more than max_misses) continues
 * where its motion leads: the two tracks join, the gap interpolated; a
 * second object that reappears far off its course does not join */
static void test_stitch(void)
{
    ArgAnalysisSettings s;
    arg_analysis_default_settings(&s);
    for (int gap = 0; gap < 2; gap++) {
        s.stitch_gap = gap ? 8 : 0;
        AnTracker tk;
        memset(&tk, 0, sizeof(tk));
        for (int t = 0; t < 24; t++) {
            AnDet d[2];
            int nd = 0;
            if (t < 8 || t >= 13)
                d[nd++] = det(2.0f + (float)t, 10, 2, 5);
            if (t < 8)
                d[nd++] = det(5, 28, 2, 5);           /* stands ... */
            else if (t >= 13)
                d[nd++] = det(40, 2, 2, 5);           /* ... then someone else far away */
            an_track_step(&tk, t, (int64_t)t * 4, d, nd, mask, GW, GH, &s);
        }
        an_track_finish(&tk);
        if (gap) {
            CHECK(tk.n == 3, "stitched: 3 tracks (%d)", tk.n);
            const AnTrack *w = tk.n == 3 ? &tk.tr[0] : NULL;
            CHECK(w && w->n == 24 && w->pts[23].t == 23 && observed(w) == 19, "the walker is whole");
            CHECK(w && !w->pts[10].observed && fabsf(w->pts[10].box.x0 - 12.0f) < 1e-4f &&
                      w->pts[10].pic == 40,
                  "gap interpolated: x0 %g pic %lld", w ? w->pts[10].box.x0 : -1,
                  w ? (long long)w->pts[10].pic : -1);
            CHECK(tk.n == 3 && tk.tr[0].id == 1 && tk.tr[1].id == 2 && tk.tr[2].id == 3, "ids 1..3");
        } else {
            CHECK(tk.n == 4, "not stitched: 4 tracks (%d)", tk.n);
        }
        an_tracker_free(&tk);
    }
}

/* tracks observed in fewer than min_track latent frames are dropped */
static void test_min_track(void)
{
    ArgAnalysisSettings s;
    arg_analysis_default_settings(&s);
    AnTracker tk;
    memset(&tk, 0, sizeof(tk));
    for (int t = 0; t < 10; t++) {
        AnDet d[2] = { det(5, 5, 2, 5), det(30, 20, 2, 5) };
        int nd = t < 3 ? 2 : 1; /* the second lasts 3 latent frames */
        an_track_step(&tk, t, (int64_t)t * 4, d, nd, mask, GW, GH, &s);
    }
    an_track_finish(&tk);
    CHECK(tk.n == 1 && tk.tr[0].pts[0].box.x0 == 5.0f, "the 3-frame track is dropped: %d", tk.n);
    an_tracker_free(&tk);
    s.min_track = 3;
    memset(&tk, 0, sizeof(tk));
    for (int t = 0; t < 10; t++) {
        AnDet d[2] = { det(5, 5, 2, 5), det(30, 20, 2, 5) };
        an_track_step(&tk, t, (int64_t)t * 4, d, t < 3 ? 2 : 1, mask, GW, GH, &s);
    }
    an_track_finish(&tk);
    CHECK(tk.n == 2, "kept with min_track 3: %d", tk.n);
    an_tracker_free(&tk);
}

int main(void)
{
    test_gated();
    test_carry();
    test_fragments();
    test_stitch();
    test_min_track();
    return check_summary();
}
