/* Detection: connected components of foreground cells -> boxes, and the
 * size rule that tells persons from vehicles. */
#include <math.h>
#include <string.h>

#include "an.h"

/* Cells up to AN_LINK apart (Chebyshev) join one component: a one-cell gap
 * does not split an object. */
#define AN_LINK 2

float an_box_iou(const AnBox *a, const AnBox *b)
{
    float ix = fminf(a->x1, b->x1) - fmaxf(a->x0, b->x0);
    float iy = fminf(a->y1, b->y1) - fmaxf(a->y0, b->y0);
    if (ix <= 0 || iy <= 0)
        return 0;
    float inter = ix * iy;
    float ua = (a->x1 - a->x0) * (a->y1 - a->y0) + (b->x1 - b->x0) * (b->y1 - b->y0) - inter;
    return ua > 0 ? inter / ua : 0;
}

AnBox an_box_union(const AnBox *a, const AnBox *b)
{
    AnBox u = { fminf(a->x0, b->x0), fminf(a->y0, b->y0), fmaxf(a->x1, b->x1), fmaxf(a->y1, b->y1) };
    return u;
}

int an_classify(const AnBox *b, double cell_w, double cell_h, double pic_area,
                const ArgAnalysisSettings *s)
{
    double w = (b->x1 - b->x0) * cell_w, h = (b->y1 - b->y0) * cell_h;
    if (w >= s->vehicle_aspect * h && w * h >= s->vehicle_area * pic_area)
        return ARG_OBJECT_VEHICLE;
    return ARG_OBJECT_PERSON;
}

int an_detect(const uint8_t *mask, int w, int h, int min_cells, int *scratch,
              AnDet *dets, int max_dets)
{
    int *label = scratch, *stack = scratch + (size_t)w * h;
    memset(label, 0, sizeof(int) * (size_t)w * h);
    int n = 0, next = 0;
    for (int y0 = 0; y0 < h; y0++)
        for (int x0 = 0; x0 < w; x0++) {
            int i0 = y0 * w + x0;
            if (!mask[i0] || label[i0])
                continue;
            next++;
            int sp = 0, cells = 0;
            int bx0 = x0, bx1 = x0, by0 = y0, by1 = y0;
            label[i0] = next;
            stack[sp++] = i0;
            while (sp > 0) {
                int i = stack[--sp], x = i % w, y = i / w;
                cells++;
                if (x < bx0) bx0 = x;
                if (x > bx1) bx1 = x;
                if (y < by0) by0 = y;
                if (y > by1) by1 = y;
                for (int dy = -AN_LINK; dy <= AN_LINK; dy++)
                    for (int dx = -AN_LINK; dx <= AN_LINK; dx++) {
                        int xx = x + dx, yy = y + dy;
                        if (xx < 0 || yy < 0 || xx >= w || yy >= h)
                            continue;
                        int j = yy * w + xx;
                        if (mask[j] && !label[j]) {
                            label[j] = next;
                            stack[sp++] = j; /* each cell is pushed once: sp <= w*h */
                        }
                    }
            }
            if (cells < min_cells || n >= max_dets)
                continue;
            AnDet d = { { (float)bx0, (float)by0, (float)(bx1 + 1), (float)(by1 + 1) }, cells, 0 };
            dets[n++] = d;
        }
    return n;
}
