/*
 * ARG — the Argus++-style activity pass on tokens (no pixel is decoded).
 *
 * Feed it the latent frames of a stream (ArgTokens from a token-only
 * decoder, arg_decoder_open_stream with a NULL model) and it reports
 * activities (ActEV names such as "person_walks") with their time span in
 * pictures and the acting object's boxes in source pixels:
 *
 *   1. foreground: a per-cell background model of the token field (the
 *      running mean of each of the cell's code bits; keyframe latent frames,
 *      which stand for one picture, have their own model); a cell's score is
 *      the Hamming distance of its code to the background code, each bit
 *      weighted by how settled the background bit is (|2p - 1|);
 *   2. detection: connected components of foreground cells (cells up to two
 *      apart join, so that a one-cell gap does not split an object) -> boxes;
 *      class by size (see ArgAnalysisSettings.vehicle_*);
 *   3. tracking: IoU (or, failing that, gated centre distance) of the
 *      motion-predicted track boxes against the detections, one-to-one by
 *      the Hungarian method; births confirmed after `min_hits` matches,
 *      deaths after `max_misses` unmatched latent frames (tracks coast on
 *      their predicted box meanwhile; keyframe latent frames, whose
 *      foreground is noisier, only carry the tracks forward); at the end,
 *      broken tracks are stitched (`stitch_gap`) and tracks observed in
 *      fewer than `min_track` latent frames are dropped;
 *   4. cube proposals: 16 latent frames (64 pictures at temporal factor 4),
 *      stride 4, box = union of the track's boxes in the window;
 *   5. filtering: mean foreground fraction of the cube's boxes against
 *      `min_cube_fg`;
 *   6. activity scores per cube from the track's geometry (speed relative to
 *      the object's size, heading change, births and deaths at the frame
 *      border, speed change);
 *   7. deduplication: overlapping cubes of one activity and track merge
 *      (union of time, best score), then a spatio-temporal NMS per activity.
 *
 * Functions return 0 (or a count) on success and a negative errno value on
 * failure.
 */
#ifndef ARG_ANALYSIS_H
#define ARG_ANALYSIS_H

#include <stddef.h>
#include <stdint.h>

#include "arg/arg.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ArgActivityType {
    ARG_ACT_PERSON_WALKS,
    ARG_ACT_PERSON_STANDS,
    ARG_ACT_PERSON_ENTERS_SCENE,
    ARG_ACT_PERSON_EXITS_SCENE,
    ARG_ACT_VEHICLE_MOVES,
    ARG_ACT_VEHICLE_STARTS,
    ARG_ACT_VEHICLE_STOPS,
    ARG_ACT_VEHICLE_TURNS_LEFT,
    ARG_ACT_VEHICLE_TURNS_RIGHT,
    ARG_ACT_COUNT
} ArgActivityType;

typedef enum ArgObjectType {
    ARG_OBJECT_PERSON,
    ARG_OBJECT_VEHICLE,
} ArgObjectType;

/* The ActEV name of an activity ("person_walks"), NULL when out of range. */
ARG_API const char *arg_activity_name(int type);
/* "Person" or "Vehicle" (ActEV object types). */
ARG_API const char *arg_object_name(int type);

typedef struct ArgAnalysisSettings {
    double fg_bits;         /* weighted Hamming distance (bits) at which a cell
                               counts as foreground; default 3.0 */
    double bg_rate;         /* background learning rate per latent frame for
                               background cells; default 0.05 */
    double fg_rate;         /* ... for foreground cells (slow absorption of
                               objects that stay); default 0.004 */
    int warmup;             /* latent frames (of each model) before anything
                               counts as foreground; default 4 */
    int min_cells;          /* smallest component kept, in cells; default 2 */
    double vehicle_aspect;  /* vehicle when w >= aspect * h ... default 1.2 */
    double vehicle_area;    /* ... and w * h >= this share of the picture area;
                               default 0.0125 */
    double min_iou;         /* smallest IoU for a track-detection match; 0.05 */
    int min_hits;           /* matches before a track is confirmed; default 2 */
    int max_misses;         /* unmatched latent frames before a track ends; 2 */
    int cube_latents;       /* cube length in latent frames; default 16 */
    int cube_stride;        /* cube stride in latent frames; default 4 */
    double min_cube_fg;     /* smallest mean foreground fraction of a kept
                               cube; default 0.15 */
    double min_score;       /* smallest activity score reported; default 0.1 */
    double nms_tiou;        /* NMS: temporal IoU ... default 0.5 */
    double nms_iou;         /* ... and box IoU above which the weaker of two
                               instances of one activity goes; default 0.3 */
    int min_track;          /* observed latent frames a track needs to be
                               reported; default 4 */
    int stitch_gap;         /* at the end, a track that ends and one that
                               starts at most this many latent frames later
                               where the first one's motion leads join into
                               one; 0 = never; default 8 */
    double gate;            /* a track and a detection whose boxes do not
                               overlap by min_iou may still match when their
                               centres are at most gate object sizes apart
                               (motion-predicted); 0 = IoU only; default 0.75 */
    int reserved[12];       /* must be zero */
} ArgAnalysisSettings;

ARG_API void arg_analysis_default_settings(ArgAnalysisSettings *s);

typedef struct ArgBox {
    int x, y, w, h;         /* source pixels, inside the picture */
} ArgBox;

/* The acting object's box from picture `picture` on (one per latent frame
 * of the instance). */
typedef struct ArgTimedBox {
    int64_t picture;
    ArgBox box;
} ArgTimedBox;

typedef struct ArgActivity {
    int type;               /* ArgActivityType */
    int object_type;        /* ArgObjectType */
    int track_id;           /* from 1 */
    double score;           /* presence confidence in [0, 1] */
    int64_t first, end;     /* pictures [first, end), 0-based */
    const ArgTimedBox *boxes;
    int n_boxes;
} ArgActivity;

/* A cube proposal (after the track, before activity scoring). */
typedef struct ArgProposal {
    int track_id;
    int object_type;
    int64_t first, end;     /* pictures [first, end) where the track is in the cube */
    ArgBox box;             /* union of the track's boxes in the cube */
    double fg;              /* mean foreground fraction */
    int kept;               /* passed the foreground filter */
} ArgProposal;

/* A track (after stitching and the min_track rule): its box in every
 * latent frame from `first` (observed or, where the object was not seen,
 * predicted/interpolated), as ArgTimedBox from the latent frame's first
 * picture on. */
typedef struct ArgTrack {
    int id;                 /* as ArgActivity.track_id */
    int object_type;        /* ArgObjectType */
    int64_t first, end;     /* pictures [first, end), 0-based */
    const ArgTimedBox *boxes;
    const uint8_t *observed; /* per box: 1 = matched a detection */
    int n_boxes;
} ArgTrack;

typedef struct ArgAnalysisStats {
    int64_t latent_frames, pictures;
    int64_t fg_cells;       /* foreground cells summed over latent frames */
    int64_t detections, tracks, confirmed_tracks;
    int64_t proposals, proposals_kept, candidates, instances;
} ArgAnalysisStats;

typedef struct ArgAnalysis ArgAnalysis;

/* Open a pass for a stream described by its sequence header (grid, factors,
 * picture size). s may be NULL (defaults). */
ARG_API int arg_analysis_open(ArgAnalysis **out, const ArgAnalysisSettings *s,
                              const ArgSequenceHeader *h);
ARG_API void arg_analysis_close(ArgAnalysis *a);
/* One latent frame, in stream order (tokens_w x tokens_h must be the
 * header's grid). -EINVAL on a mismatch, -EALREADY after finish. */
ARG_API int arg_analysis_send_tokens(ArgAnalysis *a, const ArgTokens *t);
/* Pictures of the stream that will not be sent (packets dropped before a
 * keyframe or lost to corruption): the next latent frame starts n pictures
 * later. */
ARG_API int arg_analysis_skip_pictures(ArgAnalysis *a, int64_t n);
/* End of stream: ends the tracks and computes the activities. */
ARG_API int arg_analysis_finish(ArgAnalysis *a);
/* After finish: the activities (owned by the pass, valid until close);
 * returns their count. */
ARG_API int arg_analysis_activities(const ArgAnalysis *a, const ArgActivity **list);
/* After finish: the tracks (owned by the pass, valid until close); returns
 * their count. */
ARG_API int arg_analysis_tracks(const ArgAnalysis *a, const ArgTrack **list);
/* After finish: every cube proposal; returns their count. */
ARG_API int arg_analysis_proposals(const ArgAnalysis *a, const ArgProposal **list);
ARG_API void arg_analysis_stats(const ArgAnalysis *a, ArgAnalysisStats *st);
/* The foreground score and mask of the last latent frame (tokens_w x
 * tokens_h, valid until the next call); for inspection and tests. */
ARG_API int arg_analysis_foreground(const ArgAnalysis *a, const float **score,
                                    const uint8_t **mask);

#ifdef __cplusplus
}
#endif
#endif
