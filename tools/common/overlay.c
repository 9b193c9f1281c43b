/* Rectangles and a 3x5 bitmap font (overlay.h). Each glyph is 5 rows of 3
 * bits, the top row first, the left pixel the highest bit. */
#include "overlay.h"

#include <stdio.h>
#include <string.h>

static uint16_t glyph(char c)
{
#define G(a, b, c_, d, e) (uint16_t)((a) << 12 | (b) << 9 | (c_) << 6 | (d) << 3 | (e))
    if (c >= 'A' && c <= 'Z')
        c = (char)(c - 'A' + 'a');
    switch (c) {
    case '0': return G(7, 5, 5, 5, 7);
    case '1': return G(2, 6, 2, 2, 7);
    case '2': return G(7, 1, 7, 4, 7);
    case '3': return G(7, 1, 7, 1, 7);
    case '4': return G(5, 5, 7, 1, 1);
    case '5': return G(7, 4, 7, 1, 7);
    case '6': return G(7, 4, 7, 5, 7);
    case '7': return G(7, 1, 1, 1, 1);
    case '8': return G(7, 5, 7, 5, 7);
    case '9': return G(7, 5, 7, 1, 7);
    case 'a': return G(2, 5, 7, 5, 5);
    case 'b': return G(6, 5, 6, 5, 6);
    case 'c': return G(3, 4, 4, 4, 3);
    case 'd': return G(6, 5, 5, 5, 6);
    case 'e': return G(7, 4, 6, 4, 7);
    case 'f': return G(7, 4, 6, 4, 4);
    case 'g': return G(3, 4, 5, 5, 3);
    case 'h': return G(5, 5, 7, 5, 5);
    case 'i': return G(7, 2, 2, 2, 7);
    case 'j': return G(1, 1, 1, 5, 2);
    case 'k': return G(5, 5, 6, 5, 5);
    case 'l': return G(4, 4, 4, 4, 7);
    case 'm': return G(5, 7, 7, 5, 5);
    case 'n': return G(6, 5, 5, 5, 5);
    case 'o': return G(2, 5, 5, 5, 2);
    case 'p': return G(6, 5, 6, 4, 4);
    case 'q': return G(2, 5, 5, 6, 3);
    case 'r': return G(6, 5, 6, 5, 5);
    case 's': return G(3, 4, 2, 1, 6);
    case 't': return G(7, 2, 2, 2, 2);
    case 'u': return G(5, 5, 5, 5, 7);
    case 'v': return G(5, 5, 5, 5, 2);
    case 'w': return G(5, 5, 7, 7, 5);
    case 'x': return G(5, 5, 2, 5, 5);
    case 'y': return G(5, 5, 2, 2, 2);
    case 'z': return G(7, 1, 2, 4, 7);
    case '_': return G(0, 0, 0, 0, 7);
    case '-': return G(0, 0, 7, 0, 0);
    case ':': return G(0, 2, 0, 2, 0);
    case '.': return G(0, 0, 0, 0, 2);
    case '#': return G(5, 7, 5, 7, 5);
    case '/': return G(1, 1, 2, 4, 4);
    case ' ': return 0;
    default: return G(7, 5, 5, 5, 7) | G(0, 2, 2, 2, 0);
    }
#undef G
}

void ov_fill(OvImage *im, int x, int y, int w, int h, const uint8_t col[3])
{
    int x0 = x < 0 ? 0 : x, y0 = y < 0 ? 0 : y;
    int x1 = x + w > im->w ? im->w : x + w, y1 = y + h > im->h ? im->h : y + h;
    for (int yy = y0; yy < y1; yy++) {
        uint8_t *p = im->rgb + (ptrdiff_t)yy * im->stride + 3 * (ptrdiff_t)x0;
        for (int xx = x0; xx < x1; xx++, p += 3)
            memcpy(p, col, 3);
    }
}

void ov_rect(OvImage *im, int x, int y, int w, int h, int thick, const uint8_t col[3])
{
    if (w <= 0 || h <= 0 || thick <= 0)
        return;
    if (2 * thick >= w || 2 * thick >= h) {
        ov_fill(im, x, y, w, h, col);
        return;
    }
    ov_fill(im, x, y, w, thick, col);
    ov_fill(im, x, y + h - thick, w, thick, col);
    ov_fill(im, x, y + thick, thick, h - 2 * thick, col);
    ov_fill(im, x + w - thick, y + thick, thick, h - 2 * thick, col);
}

int ov_text_width(const char *s, int scale)
{
    return (int)strlen(s) * 4 * scale;
}

int ov_text(OvImage *im, int x, int y, const char *s, int scale, const uint8_t col[3])
{
    int x0 = x;
    for (; *s; s++, x += 4 * scale) {
        uint16_t g = glyph(*s);
        for (int r = 0; r < 5; r++)
            for (int c = 0; c < 3; c++)
                if (g >> (14 - 3 * r - c) & 1)
                    ov_fill(im, x + c * scale, y + r * scale, scale, scale, col);
    }
    return x - x0;
}

int ov_label(OvImage *im, int x, int y, const char *s, int scale, const uint8_t fg[3],
             const uint8_t bg[3])
{
    int w = ov_text_width(s, scale) + scale;
    ov_fill(im, x, y, w, 7 * scale, bg);
    ov_text(im, x + scale, y + scale, s, scale, fg);
    return w;
}

const uint8_t *ov_track_colour(int id)
{
    static const uint8_t pal[8][3] = {
        { 255, 64, 64 }, { 64, 224, 64 }, { 64, 144, 255 }, { 255, 224, 0 },
        { 255, 64, 255 }, { 0, 224, 224 }, { 255, 144, 0 }, { 176, 112, 255 },
    };
    return pal[(id < 0 ? -id : id) % 8];
}

/* The box of a timed box list at picture k: the last one starting at or
 * before k; -1 when k is before the first. */
static int box_at(const ArgTimedBox *b, int n, int64_t k)
{
    int j = -1;
    for (int i = 0; i < n && b[i].picture <= k; i++)
        j = i;
    return j;
}

static void dotted_rect(OvImage *im, const ArgBox *b, const uint8_t col[3])
{
    for (int x = b->x; x < b->x + b->w; x += 3) {
        ov_fill(im, x, b->y, 1, 1, col);
        ov_fill(im, x, b->y + b->h - 1, 1, 1, col);
    }
    for (int y = b->y; y < b->y + b->h; y += 3) {
        ov_fill(im, b->x, y, 1, 1, col);
        ov_fill(im, b->x + b->w - 1, y, 1, 1, col);
    }
}

static const char *short_name(int type)
{
    const char *n = arg_activity_name(type);
    if (!n)
        return "?";
    if (!strncmp(n, "person_", 7))
        return n + 7;
    if (!strncmp(n, "vehicle_", 8))
        return n + 8;
    return n;
}

void ov_draw_analysis(OvImage *im, int64_t picture, const ArgTrack *tracks, int n_tracks,
                      const ArgActivity *acts, int n_acts, int scale)
{
    static const uint8_t black[3] = { 0, 0, 0 }, white[3] = { 255, 255, 255 };
    char buf[64];
    if (scale < 1)
        scale = 1;
    for (int i = 0; i < n_tracks; i++) {
        const ArgTrack *t = &tracks[i];
        if (picture < t->first || picture >= t->end)
            continue;
        int j = box_at(t->boxes, t->n_boxes, picture);
        if (j < 0)
            continue;
        const ArgBox *b = &t->boxes[j].box;
        const uint8_t *col = ov_track_colour(t->id);
        if (t->observed && !t->observed[j])
            dotted_rect(im, b, col);
        else
            ov_rect(im, b->x, b->y, b->w, b->h, 1, col);
        snprintf(buf, sizeof(buf), "#%d", t->id);
        int ly = b->y - 7 * scale >= 0 ? b->y - 7 * scale : b->y;
        ov_label(im, b->x, ly, buf, scale, col, black);
    }
    /* activity labels under their boxes, stacked per track */
    for (int i = 0; i < n_acts; i++) {
        const ArgActivity *a = &acts[i];
        if (picture < a->first || picture >= a->end)
            continue;
        int j = box_at(a->boxes, a->n_boxes, picture);
        if (j < 0)
            continue;
        const ArgBox *b = &a->boxes[j].box;
        const uint8_t *col = ov_track_colour(a->track_id);
        ov_rect(im, b->x - 1, b->y - 1, b->w + 2, b->h + 2, 2, col);
        int row = 0;
        for (int k = 0; k < i; k++)
            row += acts[k].track_id == a->track_id && picture >= acts[k].first && picture < acts[k].end;
        snprintf(buf, sizeof(buf), "%s %.2f", short_name(a->type), a->score);
        int ly = b->y + b->h + 1 + row * 7 * scale;
        if (ly + 7 * scale > im->h)
            ly = b->y + b->h - (row + 1) * 7 * scale;
        ov_label(im, b->x, ly, buf, scale, black, col);
    }
    snprintf(buf, sizeof(buf), "%lld", (long long)picture + 1);
    ov_label(im, 0, 0, buf, scale + 1, white, black);
}
