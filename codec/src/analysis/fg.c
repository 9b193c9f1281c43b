/* Foreground of the token field: a per-cell background model made of the
 * running mean p of each code bit. A cell's score is the Hamming distance
 * of its code to the background code (the rounded p), each differing bit
 * weighted by how settled the background bit is, |2p - 1|: a bit that
 * flickers in the background (p near 1/2) counts for little. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "an.h"

int an_fg_init(AnFg *f, int w, int h, int bits)
{
    memset(f, 0, sizeof(*f));
    if (w <= 0 || h <= 0 || bits <= 0 || bits > 32)
        return -EINVAL;
    size_t n = (size_t)w * h;
    f->w = w;
    f->h = h;
    f->bits = bits;
    f->p[0] = calloc(n * bits, sizeof(float));
    f->p[1] = calloc(n * bits, sizeof(float));
    f->score = calloc(n, sizeof(float));
    f->mask = calloc(n, 1);
    if (!f->p[0] || !f->p[1] || !f->score || !f->mask) {
        an_fg_free(f);
        return -ENOMEM;
    }
    return 0;
}

void an_fg_free(AnFg *f)
{
    free(f->p[0]);
    free(f->p[1]);
    free(f->score);
    free(f->mask);
    memset(f, 0, sizeof(*f));
}

int an_fg_update(AnFg *f, const uint32_t *codes, int keyframe, const ArgAnalysisSettings *s)
{
    int m = keyframe ? 1 : 0;
    float *p = f->p[m];
    int bits = f->bits, seen = f->seen[m];
    size_t n = (size_t)f->w * f->h;
    int active = seen >= s->warmup;
    /* the first frames are learnt at 1/(k+1) (a plain mean), then at the rates */
    float warm = 1.0f / (float)(seen + 1);
    float rbg = seen == 0 ? 1.0f : (float)fmax(s->bg_rate, warm);
    float rfg = seen == 0 ? 1.0f : (float)fmax(s->fg_rate, active ? 0.0 : warm);
    int count = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = codes[i];
        float *pc = p + i * bits;
        float d = 0;
        for (int b = 0; b < bits; b++) {
            float x = (float)((c >> b) & 1u);
            float settled = fabsf(2.0f * pc[b] - 1.0f);
            if ((x > 0.5f) != (pc[b] > 0.5f))
                d += settled;
        }
        uint8_t fg = active && seen > 0 && d >= (float)s->fg_bits;
        f->score[i] = seen > 0 ? d : 0;
        f->mask[i] = fg;
        count += fg;
        float r = fg ? rfg : rbg;
        for (int b = 0; b < bits; b++) {
            float x = (float)((c >> b) & 1u);
            pc[b] += r * (x - pc[b]);
        }
    }
    f->seen[m] = seen + 1;
    return count;
}
