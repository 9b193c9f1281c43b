/* Internal stages of the activity pass (arg/analysis.h), one file each, so
 * that tests/test_analysis.c can check every stage on its own. Boxes are in
 * token cells ([x0, x1) x [y0, y1), floats) until the public layer converts
 * them to source pixels. */
#ifndef ARG_ANALYSIS_AN_H
#define ARG_ANALYSIS_AN_H

#include <stdint.h>

#include "arg/analysis.h"

/* ---------------------------------------------------------- foreground */

typedef struct AnFg {
    int w, h, bits;
    float *p[2];        /* running mean of each bit, per cell: [0] latent frames
                           of 4 pictures, [1] keyframes (1 picture) */
    int seen[2];        /* latent frames learnt by each model */
    float *score;       /* w*h: weighted Hamming distance to the background */
    uint8_t *mask;      /* w*h: 1 = foreground */
} AnFg;

int an_fg_init(AnFg *f, int w, int h, int bits);
void an_fg_free(AnFg *f);
/* Score a latent frame against its background model, then learn it.
 * Returns the number of foreground cells. */
int an_fg_update(AnFg *f, const uint32_t *codes, int keyframe, const ArgAnalysisSettings *s);

/* ----------------------------------------------------------- detection */

typedef struct AnBox {
    float x0, y0, x1, y1;
} AnBox;

typedef struct AnDet {
    AnBox box;
    int cells;          /* foreground cells in the component */
    int object_type;    /* ArgObjectType by the size rule */
} AnDet;

float an_box_iou(const AnBox *a, const AnBox *b);
AnBox an_box_union(const AnBox *a, const AnBox *b);
/* Size rule: a vehicle is wider than tall by `vehicle_aspect` and covers at
 * least `vehicle_area` of the picture; anything else is a person. cell_w and
 * cell_h are pixels per cell, pic_area the picture's pixels. */
int an_classify(const AnBox *b, double cell_w, double cell_h, double pic_area,
                const ArgAnalysisSettings *s);
/* Connected components of mask (w x h; cells at most 2 apart in x and y
 * join) of at least min_cells cells, in
 * raster order of their first cell; scratch holds 2*w*h ints. Returns the
 * count (at most max_dets). object_type is left 0 (classify afterwards). */
int an_detect(const uint8_t *mask, int w, int h, int min_cells, int *scratch,
              AnDet *dets, int max_dets);

/* ---------------------------------------------------------- assignment */

/* Minimum-cost one-to-one assignment of a rows x cols cost matrix
 * (row-major): row_to_col[r] receives a column or -1 (more rows than
 * columns). Hungarian method with potentials, O(n^3). 0 or -ENOMEM. */
int an_assign(const double *cost, int rows, int cols, int *row_to_col);

/* ------------------------------------------------------------ tracking */

typedef struct AnPoint {
    int t;              /* latent frame */
    int64_t pic;        /* its first picture */
    AnBox box;
    int observed;       /* matched a detection (else predicted) */
    float fg;           /* foreground fraction of the box */
    int carried;        /* a keyframe latent frame (AN_TRACK_CARRY): not
                           observed, but not missed either */
} AnPoint;

typedef struct AnTrack {
    int id;             /* from 1, confirmed tracks only; 0 = tentative */
    int hits, misses, alive;
    int votes[2];       /* detections classified person / vehicle */
    float vx, vy;       /* cells per picture */
    AnPoint *pts;
    int n, cap;
} AnTrack;

typedef struct AnTracker {
    AnTrack *tr;
    int n, cap;
    int next_id;
    double *cost;       /* scratch */
    int *match;
    int scratch_cap;
    int min_track;      /* from the settings of the last step */
    int stitch_gap;
    double gate;
    int64_t *pics;      /* first picture of each latent frame seen */
    int n_pics, cap_pics;
    AnDet *dbuf;        /* the detections after merging fragments */
    int dbuf_cap;
} AnTracker;

/* One latent frame t whose first picture is pic: predict, match, update,
 * give birth and end tracks. mask (w x h) gives the foreground fraction of
 * each box. */
int an_track_step(AnTracker *tk, int t, int64_t pic, const AnDet *dets, int n_dets,
                  const uint8_t *mask, int w, int h, const ArgAnalysisSettings *s);
/* The same; flags AN_TRACK_CARRY: the detections are not trusted (a
 * keyframe latent frame): every live track moves on its predicted box
 * without counting a miss, and nothing is born. */
#define AN_TRACK_CARRY 1
int an_track_step_ex(AnTracker *tk, int t, int64_t pic, const AnDet *dets, int n_dets,
                     const uint8_t *mask, int w, int h, const ArgAnalysisSettings *s, int flags);
/* End of stream: ends every track and trims trailing predicted points,
 * stitches broken tracks (stitch_gap), drops tracks observed in fewer than
 * min_track latent frames, and numbers the rest from 1 in order of birth. */
void an_track_finish(AnTracker *tk);
void an_tracker_free(AnTracker *tk);
int an_track_object_type(const AnTrack *t);

/* ------------------------------------------- proposals and activities */

typedef struct AnGeom {
    int gw, gh;                 /* grid in cells */
    double cell_w, cell_h;      /* pixels per cell */
    double fps;
    const int64_t *pic_start;   /* first picture of each latent frame, n_latents + 1
                                   entries (the last is the end of the stream) */
    int n_latents;
} AnGeom;

typedef struct AnCube {
    int track;                  /* index in the tracker */
    int t0, t1;                 /* latent frames [t0, t1) where the track is */
    AnBox box;
    float fg;
    int kept;
} AnCube;

/* Cube proposals of a track: windows of cube_latents latent frames starting
 * at multiples of cube_stride that hold at least 2 of its observed points.
 * Appends to *cubes (realloc); returns the new count or -ENOMEM. */
int an_cubes(const AnTrack *tr, int track_index, const ArgAnalysisSettings *s,
             AnCube **cubes, int n, int *cap);

typedef struct AnCand {
    int act, track;             /* ArgActivityType, tracker index */
    int t0, t1;                 /* latent frames [t0, t1) */
    double score;
    AnBox box;
} AnCand;

/* Score one cube for every activity; writes the candidates scoring at least
 * s->min_score into out (room for ARG_ACT_COUNT) and returns their count. */
int an_score_cube(const AnTrack *tr, const AnCube *c, const AnGeom *g,
                  const ArgAnalysisSettings *s, AnCand *out);
/* Merge overlapping candidates of one activity and track (union of time,
 * best score), then NMS per activity. Sorts and compacts c; returns the new
 * count. */
int an_dedup(AnCand *c, int n, const ArgAnalysisSettings *s);

#endif
