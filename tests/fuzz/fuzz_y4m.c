/*
 * libFuzzer target for the Y4M reader (tools/common/y4m.c): the input is
 * read as a stream through fmemopen, every frame is read into an image of
 * the stream's size and converted to float RGB (BT.601 limited range with
 * bilinear chroma, BT.709 full range with nearest chroma, alternating).
 * Streams whose frame exceeds FUZZ_Y4M_MAX_FRAME bytes are only opened: the
 * reader accepts up to 16384x16384, a legitimate size the fuzzer must not
 * allocate for every input.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "y4m.h"

#define FUZZ_Y4M_MAX_FRAME ((size_t)16 << 20)
#define FUZZ_Y4M_MAX_FRAMES 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0; /* fmemopen of 0 bytes is not portable */
    FILE *f = fmemopen((void *)data, size, "rb");
    if (!f)
        return 0;
    Y4mReader *r = NULL;
    char err[512];
    err[0] = 0;
    int ret = y4m_reader_open_file(&r, f, 1, "fuzz", err, sizeof(err));
    if (ret < 0) {
        if (r || !err[0])
            abort();
        return 0;
    }
    const Y4mInfo *info = y4m_reader_info(r);
    int sx, sy;
    if (info->width < 1 || info->height < 1 || info->width > Y4M_MAX_DIM || info->height > Y4M_MAX_DIM ||
        info->fps_num < 1 || info->fps_den < 1 || y4m_chroma_shifts(info->chroma, &sx, &sy) < 0)
        abort();
    size_t fsize = y4m_frame_size(info);
    if (fsize == 0)
        abort();
    Y4mImage img;
    float *rgb = NULL;
    if (fsize <= FUZZ_Y4M_MAX_FRAME && y4m_image_alloc(&img, info->width, info->height, info->chroma) == 0) {
        const size_t plane = (size_t)info->width * (size_t)info->height;
        for (int n = 0; n < FUZZ_Y4M_MAX_FRAMES; n++) {
            ret = y4m_reader_read(r, &img);
            if (ret <= 0) {
                if (ret < 0 && !y4m_reader_error(r)[0])
                    abort();
                break;
            }
            if (!rgb && !(rgb = malloc(3 * plane * sizeof(float))))
                break;
            Y4mColor c = { n & 1 ? Y4M_MATRIX_BT709 : Y4M_MATRIX_BT601, n & 1,
                           n & 1 ? Y4M_UPSAMPLE_NEAREST : Y4M_UPSAMPLE_BILINEAR };
            if (y4m_yuv_to_rgb(&img, &c, rgb, info->width, (ptrdiff_t)plane) != 0)
                abort();
            for (size_t i = 0; i < 3 * plane; i++)
                if (!(rgb[i] >= -1.0f && rgb[i] <= 1.0f))
                    abort();
        }
        if (y4m_reader_frames(r) < 0)
            abort();
        y4m_image_free(&img);
    }
    free(rgb);
    y4m_reader_close(r);
    return 0;
}
