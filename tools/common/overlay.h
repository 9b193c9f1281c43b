/* Drawing on 8-bit RGB pictures for inspection overlays: rectangles and
 * text in a built-in 3x5 bitmap font (digits, lower-case letters, _ - : . #
 * / and space; upper-case letters draw as lower-case, anything else as a
 * box), scaled by an integer factor. Everything is clipped to the picture. */
#ifndef ARG_TOOLS_OVERLAY_H
#define ARG_TOOLS_OVERLAY_H

#include <stddef.h>
#include <stdint.h>

typedef struct OvImage {
    uint8_t *rgb;       /* w x h pixels, 3 bytes each */
    int w, h;
    ptrdiff_t stride;   /* bytes between rows */
} OvImage;

/* Fill the rectangle [x, x + w) x [y, y + h). */
void ov_fill(OvImage *im, int x, int y, int w, int h, const uint8_t col[3]);
/* The outline of [x, x + w) x [y, y + h), `thick` pixels wide, inside it. */
void ov_rect(OvImage *im, int x, int y, int w, int h, int thick, const uint8_t col[3]);
/* Text with its top-left corner at (x, y); each font pixel is scale x scale.
 * Returns the width drawn (4 * scale per character, the last one's gap
 * included). */
int ov_text(OvImage *im, int x, int y, const char *s, int scale, const uint8_t col[3]);
/* Width ov_text would draw; the height is 5 * scale. */
int ov_text_width(const char *s, int scale);
/* Text on a filled background (1 * scale margin), e.g. a label above a box;
 * returns the label's width. */
int ov_label(OvImage *im, int x, int y, const char *s, int scale, const uint8_t fg[3],
             const uint8_t bg[3]);

#include "arg/analysis.h"

/* The palette colour of a track id (8 colours). */
const uint8_t *ov_track_colour(int id);
/* Draw the analysis result on picture `picture` (0-based): every track
 * alive then (1-pixel box in its colour, "#ID" above it; predicted boxes
 * dotted), every activity instance covering the picture (a 2-pixel box
 * and its name under the box, "walks" for person_walks and so on), and the
 * picture number (1-based) in the top-left corner. scale is the font's. */
void ov_draw_analysis(OvImage *im, int64_t picture, const ArgTrack *tracks, int n_tracks,
                      const ArgActivity *acts, int n_acts, int scale);

#endif
