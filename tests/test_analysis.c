/* The activity pass stage by stage (codec/src/analysis/an.h) and end to end
 * (arg/analysis.h), on constructed token fields with known answers. */
#include <errno.h>
#include <string.h>

#include "analysis/an.h"
#include "check.h"

/* ------------------------------------------------------------ Hungarian */

static double brute_force(const double *c, int n, int *perm, int k, int *used)
{
    if (k == n) {
        double s = 0;
        for (int r = 0; r < n; r++)
            s += c[r * n + perm[r]];
        return s;
    }
    double best = 1e300;
    for (int j = 0; j < n; j++) {
        if (used[j])
            continue;
        used[j] = 1;
        perm[k] = j;
        double v = brute_force(c, n, perm, k + 1, used);
        if (v < best)
            best = v;
        used[j] = 0;
    }
    return best;
}

static void test_hungarian(void)
{
    /* a classic: the optimum 1 + 2 + 2 = 5 avoids every row minimum trap */
    double c3[9] = { 4, 1, 3, 2, 0, 5, 3, 2, 2 };
    int m[3];
    CHECK(an_assign(c3, 3, 3, m) == 0, "assign 3x3");
    CHECK(m[0] == 1 && m[1] == 0 && m[2] == 2, "3x3 assignment %d %d %d", m[0], m[1], m[2]);
    /* more columns than rows: every row is assigned */
    double c23[6] = { 5, 1, 9, 2, 8, 1 };
    CHECK(an_assign(c23, 2, 3, m) == 0 && m[0] == 1 && m[1] == 2, "2x3: %d %d", m[0], m[1]);
    /* more rows than columns: one row stays out */
    double c32[6] = { 1, 9, 9, 5, 9, 0 };
    CHECK(an_assign(c32, 3, 2, m) == 0, "3x2");
    CHECK(m[0] == 0 && m[1] == -1 && m[2] == 1, "3x2: %d %d %d", m[0], m[1], m[2]);
    CHECK(an_assign(c32, 0, 2, m) == 0, "empty");
    /* random square matrices against brute force */
    for (int it = 0; it < 200; it++) {
        int n = 1 + (int)(rnd() % 6);
        double c[36];
        for (int i = 0; i < n * n; i++)
            c[i] = (double)(rnd() % 20);
        int perm[6], used[6] = { 0 }, a[6];
        double best = brute_force(c, n, perm, 0, used);
        an_assign(c, n, n, a);
        double got = 0;
        int seen[6] = { 0 }, ok = 1;
        for (int r = 0; r < n; r++) {
            if (a[r] < 0 || seen[a[r]]++)
                ok = 0;
            else
                got += c[r * n + a[r]];
        }
        CHECK(ok && got == best, "random %dx%d: got %g, optimum %g", n, n, got, best);
    }
}

/* ----------------------------------------------------------- foreground */

#define GW 40
#define GH 30

static uint32_t bg_codes[GW * GH];

static void make_background(void)
{
    for (int i = 0; i < GW * GH; i++)
        bg_codes[i] = rnd() & 0x3FFFFu;
}

/* the background with one random bit flipped in 1 cell in 10 (noise) and a
 * w x h block at (x, y) whose codes are the background's complement */
static void make_field(uint32_t *f, int x, int y, int w, int h)
{
    for (int i = 0; i < GW * GH; i++) {
        f[i] = bg_codes[i];
        if (rnd() % 10 == 0)
            f[i] ^= 1u << (rnd() % 18);
    }
    for (int yy = y; yy < y + h; yy++)
        for (int xx = x; xx < x + w; xx++)
            if (xx >= 0 && yy >= 0 && xx < GW && yy < GH)
                f[yy * GW + xx] = ~bg_codes[yy * GW + xx] & 0x3FFFFu;
}

static void test_foreground(void)
{
    ArgAnalysisSettings s;
    arg_analysis_default_settings(&s);
    AnFg fg;
    CHECK(an_fg_init(&fg, GW, GH, 18) == 0, "fg init");
    uint32_t f[GW * GH];
    int n = 0;
    for (int t = 0; t < 10; t++) {
        make_field(f, 0, 0, 0, 0);
        n = an_fg_update(&fg, f, 0, &s);
    }
    CHECK(n == 0, "background with 1-bit noise: %d foreground cells", n);
    make_field(f, 10, 5, 3, 6);
    n = an_fg_update(&fg, f, 0, &s);
    CHECK(n == 18, "a 3x6 block: %d foreground cells", n);
    int inside = 1;
    for (int y = 0; y < GH; y++)
        for (int x = 0; x < GW; x++) {
            int in = x >= 10 && x < 13 && y >= 5 && y < 11;
            if (fg.mask[y * GW + x] != in)
                inside = 0;
        }
    CHECK(inside, "the mask is the block");
    CHECK(fg.score[6 * GW + 11] > 17.0f, "block score %g (18 settled bits)", fg.score[6 * GW + 11]);
    /* keyframes have their own model: still warming up */
    n = an_fg_update(&fg, f, 1, &s);
    CHECK(n == 0, "keyframe model in warm-up: %d", n);
    an_fg_free(&fg);
}

/* ------------------------------------------------------------ detection */

static void test_detection(void)
{
    ArgAnalysisSettings s;
    arg_analysis_default_settings(&s);
    uint8_t mask[GW * GH] = { 0 };
    int scratch[2 * GW * GH];
    AnDet d[16];
    /* a 3x6 person-like blob split by a one-cell gap, a 10x4 vehicle-like
     * blob, and a lone cell */
    for (int y = 2; y < 8; y++)
        for (int x = 2; x < 5; x++)
            mask[y * GW + x] = y != 4;
    for (int y = 20; y < 24; y++)
        for (int x = 20; x < 30; x++)
            mask[y * GW + x] = 1;
    mask[15 * GW + 35] = 1;
    int n = an_detect(mask, GW, GH, 2, scratch, d, 16);
    CHECK(n == 2, "components: %d", n);
    CHECK(n >= 1 && d[0].box.x0 == 2 && d[0].box.y0 == 2 && d[0].box.x1 == 5 && d[0].box.y1 == 8 &&
              d[0].cells == 15,
          "first box %g,%g-%g,%g cells %d", d[0].box.x0, d[0].box.y0, d[0].box.x1, d[0].box.y1, d[0].cells);
    CHECK(n >= 2 && d[1].box.x0 == 20 && d[1].box.y0 == 20 && d[1].box.x1 == 30 && d[1].box.y1 == 24,
          "second box");
    /* 8-pixel cells on a 320x240 picture */
    double area = 320.0 * 240.0;
    CHECK(an_classify(&d[0].box, 8, 8, area, &s) == ARG_OBJECT_PERSON, "tall blob: person");
    CHECK(an_classify(&d[1].box, 8, 8, area, &s) == ARG_OBJECT_VEHICLE, "wide large blob: vehicle");
    AnBox wide_small = { 0, 0, 3, 1 };
    CHECK(an_classify(&wide_small, 8, 8, area, &s) == ARG_OBJECT_PERSON, "wide but small: person");
    AnBox a = { 0, 0, 2, 2 }, b = { 1, 0, 3, 2 };
    CHECK(fabsf(an_box_iou(&a, &b) - 1.0f / 3.0f) < 1e-6f, "IoU");
}

/* ------------------------------------------------------------- tracking */

/* A 3x6 block moving right one cell per latent frame (4 pictures) for
 * `frames` latent frames from x = 5: its detections, straight into the
 * tracker. */
static void run_tracker(AnTracker *tk, int frames, int vx, int vy, int still_from)
{
    ArgAnalysisSettings s;
    arg_analysis_default_settings(&s);
    memset(tk, 0, sizeof(*tk));
    uint8_t mask[GW * GH];
    int x = 5, y = 10;
    for (int t = 0; t < frames; t++) {
        if (t > 0 && t < still_from) {
            x += vx;
            y += vy;
        }
        memset(mask, 0, sizeof(mask));
        AnDet d = { { (float)x, (float)y, (float)(x + 3), (float)(y + 6) }, 18, ARG_OBJECT_PERSON };
        for (int yy = y; yy < y + 6; yy++)
            for (int xx = x; xx < x + 3; xx++)
                mask[yy * GW + xx] = 1;
        an_track_step(tk, t, (int64_t)t * 4, &d, 1, mask, GW, GH, &s);
    }
    an_track_finish(tk);
}

static void test_tracking(void)
{
    AnTracker tk;
    run_tracker(&tk, 20, 1, 0, 1 << 30);
    CHECK(tk.n == 1, "one track: %d", tk.n);
    CHECK(tk.n == 1 && tk.tr[0].id == 1 && tk.tr[0].n == 20, "id 1 with 20 points");
    int obs = 0;
    for (int i = 0; tk.n == 1 && i < tk.tr[0].n; i++)
        obs += tk.tr[0].pts[i].observed;
    CHECK(obs == 20, "every point observed: %d", obs);
    CHECK(tk.n == 1 && fabsf(tk.tr[0].vx - 0.25f) < 1e-3f, "velocity %g cells/picture", tk.tr[0].vx);
    an_tracker_free(&tk);

    /* two objects swapping nothing: far apart, two tracks; a detection that
     * vanishes for one frame keeps its track */
    ArgAnalysisSettings s;
    arg_analysis_default_settings(&s);
    memset(&tk, 0, sizeof(tk));
    uint8_t mask[GW * GH] = { 0 };
    for (int t = 0; t < 10; t++) {
        AnDet d[2] = { { { 2.0f + t, 2, 5.0f + t, 8 }, 18, 0 }, { { 30, 20, 33, 26 }, 18, 0 } };
        int nd = t == 5 ? 1 : 2; /* the second one missed at t = 5 */
        an_track_step(&tk, t, t * 4, d, nd, mask, GW, GH, &s);
    }
    an_track_finish(&tk);
    CHECK(tk.n == 2, "two tracks: %d", tk.n);
    CHECK(tk.n == 2 && tk.tr[1].n == 10 && !tk.tr[1].pts[5].observed, "gap bridged");
    an_tracker_free(&tk);
}

/* ----------------------------------------------- proposals and scoring */

static void geom(AnGeom *g, int64_t *pic, int n)
{
    for (int i = 0; i <= n; i++)
        pic[i] = (int64_t)i * 4;
    AnGeom gg = { GW, GH, 8, 8, 10.0, pic, n };
    *g = gg;
}

static int best_activity(const AnCand *c, int n, double *score)
{
    int best = -1;
    *score = 0;
    for (int i = 0; i < n; i++)
        if (c[i].score > *score) {
            *score = c[i].score;
            best = c[i].act;
        }
    return best;
}

static void test_cubes_and_scores(void)
{
    ArgAnalysisSettings s;
    arg_analysis_default_settings(&s);
    int64_t pic[64];
    AnGeom g;
    geom(&g, pic, 60);
    AnTracker tk;
    run_tracker(&tk, 30, 1, 0, 1 << 30); /* latent frames 0..29 */
    AnCube *cubes = NULL;
    int cap = 0;
    int n = an_cubes(&tk.tr[0], 0, &s, &cubes, 0, &cap);
    /* windows start at 0, 4, ..., 28 (each holds >= 2 observed points) */
    CHECK(n == 8, "cubes: %d", n);
    CHECK(n == 8 && cubes[0].t0 == 0 && cubes[0].t1 == 16 && cubes[7].t0 == 28 && cubes[7].t1 == 30,
          "cube spans");
    CHECK(n == 8 && cubes[0].box.x0 == 5 && cubes[0].box.x1 == 5 + 15 + 3, "cube box = union");
    CHECK(n == 8 && fabsf(cubes[0].fg - 1.0f) < 1e-6f && cubes[0].kept, "foreground 1, kept");
    AnCand c[ARG_ACT_COUNT];
    double sc;
    int k = an_score_cube(&tk.tr[0], &cubes[0], &g, &s, c);
    /* 1 cell (8 px) per 0.4 s for a 48 px tall person: 0.42 heights/s */
    CHECK(best_activity(c, k, &sc) == ARG_ACT_PERSON_WALKS && sc > 0.9, "walking: best %d (%g)",
          best_activity(c, k, &sc), sc);
    /* all cubes of the track -> one person_walks instance after dedup */
    AnCand all[8 * ARG_ACT_COUNT];
    int na = 0;
    for (int i = 0; i < n; i++)
        na += an_score_cube(&tk.tr[0], &cubes[i], &g, &s, all + na);
    int nd = an_dedup(all, na, &s);
    int walks = 0;
    for (int i = 0; i < nd; i++)
        if (all[i].act == ARG_ACT_PERSON_WALKS) {
            walks++;
            CHECK(all[i].t0 == 0 && all[i].t1 == 30, "walk spans the track: %d-%d", all[i].t0, all[i].t1);
        }
    CHECK(walks == 1, "one person_walks instance: %d", walks);
    an_tracker_free(&tk);
    free(cubes);

    /* standing still */
    run_tracker(&tk, 20, 0, 0, 1 << 30);
    cubes = NULL;
    cap = 0;
    n = an_cubes(&tk.tr[0], 0, &s, &cubes, 0, &cap);
    k = an_score_cube(&tk.tr[0], &cubes[0], &g, &s, c);
    CHECK(best_activity(c, k, &sc) == ARG_ACT_PERSON_STANDS && sc > 0.9, "standing: best %d",
          best_activity(c, k, &sc));
    an_tracker_free(&tk);
    free(cubes);

    /* a vehicle: moving right, then up (counter-clockwise on the screen: left) */
    memset(&tk, 0, sizeof(tk));
    uint8_t mask[GW * GH] = { 0 };
    for (int t = 0; t < 16; t++) {
        float x = t < 8 ? 2.0f + t : 10.0f, y = t < 8 ? 20.0f : 20.0f - (float)(t - 8);
        AnDet d = { { x, y, x + 8, y + 4 }, 32, ARG_OBJECT_VEHICLE };
        an_track_step(&tk, t, t * 4, &d, 1, mask, GW, GH, &s);
    }
    an_track_finish(&tk);
    AnCube cube = { 0, 0, 16, { 2, 12, 18, 24 }, 1.0f, 1 };
    k = an_score_cube(&tk.tr[0], &cube, &g, &s, c);
    int left = 0, right = 0, moves = 0;
    for (int i = 0; i < k; i++) {
        left |= c[i].act == ARG_ACT_VEHICLE_TURNS_LEFT && c[i].score > 0.5;
        right |= c[i].act == ARG_ACT_VEHICLE_TURNS_RIGHT;
        moves |= c[i].act == ARG_ACT_VEHICLE_MOVES && c[i].score > 0.5;
    }
    CHECK(left && !right && moves, "vehicle turning left (left %d right %d moves %d)", left, right, moves);
    an_tracker_free(&tk);

    /* a vehicle that stops half way */
    run_tracker(&tk, 16, 1, 0, 8);
    tk.tr[0].votes[ARG_OBJECT_VEHICLE] = 100;
    AnCube cube2 = { 0, 0, 16, { 0, 0, 20, 20 }, 1.0f, 1 };
    k = an_score_cube(&tk.tr[0], &cube2, &g, &s, c);
    int stops = 0, starts = 0;
    for (int i = 0; i < k; i++) {
        stops |= c[i].act == ARG_ACT_VEHICLE_STOPS && c[i].score > 0.5;
        starts |= c[i].act == ARG_ACT_VEHICLE_STARTS;
    }
    CHECK(stops && !starts, "vehicle stops (stops %d starts %d)", stops, starts);
    an_tracker_free(&tk);
}

static void test_dedup(void)
{
    ArgAnalysisSettings s;
    arg_analysis_default_settings(&s);
    AnCand c[6] = {
        { ARG_ACT_PERSON_WALKS, 0, 0, 16, 0.5, { 0, 0, 4, 6 } },
        { ARG_ACT_PERSON_WALKS, 0, 4, 20, 0.8, { 1, 0, 5, 6 } },
        { ARG_ACT_PERSON_WALKS, 0, 30, 40, 0.3, { 1, 0, 5, 6 } },   /* apart in time */
        { ARG_ACT_PERSON_WALKS, 1, 0, 20, 0.6, { 0, 0, 5, 6 } },    /* a duplicate track */
        { ARG_ACT_PERSON_WALKS, 2, 0, 20, 0.4, { 30, 20, 34, 26 } }, /* someone else */
        { ARG_ACT_PERSON_STANDS, 0, 0, 16, 0.2, { 0, 0, 4, 6 } },
    };
    int n = an_dedup(c, 6, &s);
    CHECK(n == 4, "instances after dedup: %d", n);
    CHECK(c[0].act == ARG_ACT_PERSON_WALKS && c[0].track == 0 && c[0].t0 == 0 && c[0].t1 == 20 &&
              c[0].score == 0.8,
          "merged: union of time, best score");
    int dup = 0;
    for (int i = 0; i < n; i++)
        dup |= c[i].track == 1;
    CHECK(!dup, "the duplicate track is suppressed");
}

/* ------------------------------------------------------------ end to end */

static void test_end_to_end(void)
{
    ArgSequenceHeader h;
    memset(&h, 0, sizeof(h));
    h.width = GW * 8;
    h.height = GH * 8;
    h.coded_width = GW * 8;
    h.coded_height = GH * 8;
    h.fps_num = 10;
    h.fps_den = 1;
    h.temporal_factor = 4;
    h.spatial_factor = 8;
    h.lfq_bits = 18;
    ArgAnalysis *a = NULL;
    CHECK(arg_analysis_open(&a, NULL, &h) == 0, "open");
    uint32_t f[GW * GH];
    ArgTokens t;
    memset(&t, 0, sizeof(t));
    t.tokens = f;
    t.tokens_w = GW;
    t.tokens_h = GH;
    /* 60 latent frames (GOPs of 8): the block moves right from x = 5 at
     * latent 12, one cell per latent frame, until x = 30 */
    for (int i = 0; i < 60; i++) {
        t.keyframe = i % 8 == 0;
        t.n_pictures = t.keyframe ? 1 : 4;
        t.index = i;
        int x = i < 12 ? -100 : 5 + (i - 12 < 25 ? i - 12 : 25);
        make_field(f, x, 10, 3, 6);
        CHECK(arg_analysis_send_tokens(a, &t) == 0, "send %d", i);
    }
    CHECK(arg_analysis_finish(a) == 0, "finish");
    ArgAnalysisStats st;
    arg_analysis_stats(a, &st);
    CHECK(st.confirmed_tracks == 1, "one track: %lld", (long long)st.confirmed_tracks);
    const ArgActivity *acts;
    int n = arg_analysis_activities(a, &acts);
    int walks = 0;
    for (int i = 0; i < n; i++) {
        if (acts[i].type != ARG_ACT_PERSON_WALKS)
            continue;
        walks++;
        CHECK(acts[i].object_type == ARG_OBJECT_PERSON && acts[i].track_id == 1, "walker");
        CHECK(acts[i].n_boxes > 0 && acts[i].boxes[0].box.w == 24 && acts[i].boxes[0].box.h == 48,
              "box in pixels: %dx%d", acts[i].boxes[0].box.w, acts[i].boxes[0].box.h);
        /* the block appears at latent 12 = picture 1 + 11 * 4 - 1 + ... */
        CHECK(acts[i].first >= 40 && acts[i].first <= 50, "starts at picture %lld", (long long)acts[i].first);
    }
    CHECK(walks == 1, "one person_walks chain after dedup: %d (of %d)", walks, n);
    const ArgProposal *p;
    CHECK(arg_analysis_proposals(a, &p) > 0, "proposals");
    CHECK(arg_analysis_send_tokens(a, &t) == -EALREADY, "send after finish");
    arg_analysis_close(a);

    /* mismatched grid */
    CHECK(arg_analysis_open(&a, NULL, &h) == 0, "open");
    t.tokens_w = GW - 1;
    CHECK(arg_analysis_send_tokens(a, &t) == -EINVAL, "grid mismatch refused");
    CHECK(arg_analysis_finish(a) == 0, "finish with nothing");
    CHECK(arg_analysis_activities(a, &acts) == 0, "no activities");
    arg_analysis_close(a);
    h.coded_width = 0;
    CHECK(arg_analysis_open(&a, NULL, &h) == -EINVAL && !a, "bad header refused");
    CHECK(strcmp(arg_activity_name(ARG_ACT_VEHICLE_TURNS_RIGHT), "vehicle_turns_right") == 0 &&
              !arg_activity_name(ARG_ACT_COUNT),
          "names");
}

int main(void)
{
    make_background();
    test_hungarian();
    test_foreground();
    test_detection();
    test_tracking();
    test_cubes_and_scores();
    test_dedup();
    test_end_to_end();
    return check_summary();
}
