/*
 * Y4M (YUV4MPEG2) reading and writing, 8-bit only, and YUV <-> float RGB
 * conversion for the ARG tools.
 *
 * All functions return 0 (or a positive count) on success and a negative
 * errno value on failure. Readers and writers keep a message describing the
 * last failure (y4m_reader_error / y4m_writer_error); the open functions
 * write theirs into the caller's buffer.
 *
 * Stream format accepted by the reader:
 *   "YUV4MPEG2" followed by space-separated tags, ending in '\n', at most
 *   Y4M_MAX_HEADER bytes. Required: W<width> H<height> F<num>:<den>, all
 *   positive, width and height at most Y4M_MAX_DIM. Optional: I (only 'p'
 *   is accepted), A<num>:<den> (0:0 = unknown), C<colourspace> (420jpeg =
 *   the default, 420, 420mpeg2, 420paldv, 422, 444; high bit depth and
 *   alpha/mono are refused), X<extension> (XCOLORRANGE=FULL|LIMITED is
 *   understood, others ignored). Tags of other letters are ignored. A tag
 *   given twice is an error.
 *   Each frame: "FRAME", optional space-separated parameters (ignored), '\n'
 *   (header at most Y4M_MAX_HEADER bytes), then the Y, U and V planes,
 *   tightly packed.
 */
#ifndef ARG_TOOLS_Y4M_H
#define ARG_TOOLS_Y4M_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define Y4M_MAX_DIM 16384
#define Y4M_MAX_HEADER 4096

/* Chroma layout (the C tag). Chroma siting, in luma sample units, of chroma
 * sample (i, j) of a subsampled plane:
 *   420jpeg / 420: x = 2i + 0.5, y = 2j + 0.5 (centred)
 *   420mpeg2:      x = 2i,       y = 2j + 0.5 (co-sited horizontally)
 *   420paldv:      x = 2i; Cb at y = 2j + 1, Cr at y = 2j
 *   422:           x = 2i,       y = j
 *   444:           x = i,        y = j */
enum Y4mChroma {
    Y4M_C420JPEG = 0,
    Y4M_C420MPEG2,
    Y4M_C420PALDV,
    Y4M_C422,
    Y4M_C444,
};

enum Y4mRange {
    Y4M_RANGE_UNSPECIFIED = 0,
    Y4M_RANGE_LIMITED,
    Y4M_RANGE_FULL,
};

typedef struct Y4mInfo {
    int width, height;
    int fps_num, fps_den;   /* F tag, both > 0 */
    int par_num, par_den;   /* A tag; 0:0 when unknown or absent */
    int chroma;             /* enum Y4mChroma */
    int range;              /* enum Y4mRange, from XCOLORRANGE */
} Y4mInfo;

/* Subsampling shifts of a chroma layout (0 or 1), or -EINVAL. */
int y4m_chroma_shifts(int chroma, int *ss_x, int *ss_y);
/* The C tag's value ("420jpeg", ...), or NULL for an invalid layout. */
const char *y4m_chroma_name(int chroma);
/* Bytes of one frame's planes (without the FRAME line), or 0 if invalid. */
size_t y4m_frame_size(const Y4mInfo *info);

/* --------------------------------------------------------------- images */

/* Three 8-bit planes: plane 0 is w[0] x h[0] (the picture size), planes 1
 * and 2 are the chroma planes, ceil-divided by the subsampling. */
typedef struct Y4mImage {
    uint8_t *data[3];
    ptrdiff_t stride[3];
    int w[3], h[3];
    int chroma;             /* enum Y4mChroma */
    void *alloc;            /* owned buffer (NULL when not allocated) */
} Y4mImage;

/* Allocate planes for a width x height picture in a layout; the image is
 * zeroed first, so y4m_image_free on a failed alloc is safe. */
int y4m_image_alloc(Y4mImage *img, int width, int height, int chroma);
void y4m_image_free(Y4mImage *img);

/* --------------------------------------------------------------- reader */

typedef struct Y4mReader Y4mReader;

/* Open a file, or standard input when path is "-", and parse the stream
 * header. On failure err (if not NULL) receives a message. */
int y4m_reader_open(Y4mReader **out, const char *path, char *err, size_t errlen);
/* Same on an open stream; the reader closes it when close_file is set. */
int y4m_reader_open_file(Y4mReader **out, FILE *f, int close_file, const char *name,
                         char *err, size_t errlen);
const Y4mInfo *y4m_reader_info(const Y4mReader *r);
/* Read the next frame into img, which must have been allocated with the
 * stream's size and chroma layout. Returns 1 for a frame, 0 at a clean end
 * of stream (no byte of a further frame), or a negative errno: -EINVAL for
 * a malformed FRAME header or a truncated frame, -EIO for a read error. */
int y4m_reader_read(Y4mReader *r, Y4mImage *img);
/* Frames read so far. */
int64_t y4m_reader_frames(const Y4mReader *r);
const char *y4m_reader_error(const Y4mReader *r);
void y4m_reader_close(Y4mReader *r);

/* --------------------------------------------------------------- writer */

typedef struct Y4mWriter Y4mWriter;

/* Create a Y4M stream. path "-" writes to standard output; any other path
 * is written atomically: the data goes to PATH.tmp.XXXXXX, which
 * y4m_writer_close renames to PATH once everything is written and flushed,
 * and y4m_writer_abort removes. An existing PATH that is not a regular file
 * (a device such as /dev/null, a FIFO) is written directly, never replaced
 * or removed. Accepts all five layouts (4:2:0, 4:2:2,
 * 4:4:4) in 8 bits; the header names info->chroma, info->par when known
 * and XCOLORRANGE when info->range is set. */
int y4m_writer_open(Y4mWriter **out, const char *path, const Y4mInfo *info,
                    char *err, size_t errlen);
/* The same on a stream the caller owns (a CliOut's file, cli.h): close
 * flushes f but does not close it; abort leaves it to the caller. name
 * appears in messages. */
int y4m_writer_open_stream(Y4mWriter **out, FILE *f, const char *name, const Y4mInfo *info,
                           char *err, size_t errlen);
/* Write one frame; img must match the writer's size and layout. */
int y4m_writer_write(Y4mWriter *w, const Y4mImage *img);
/* Finish: flush, close and (for files) rename into place. Frees the writer
 * whatever the outcome; on failure the temporary file is removed and err
 * (if not NULL) receives a message. */
int y4m_writer_close(Y4mWriter *w, char *err, size_t errlen);
/* Give up: close, remove the temporary file, free. NULL is allowed. */
void y4m_writer_abort(Y4mWriter *w);
const char *y4m_writer_error(const Y4mWriter *w);

/* ------------------------------------------------------ colour conversion
 *
 * RGB pictures are planar float in [-1, 1] laid out like ArgPicture
 * (arg.h): plane c (R, G, B) starts at rgb + c * plane_stride, row y of it
 * at + y * stride (both counted in floats).
 *
 * With Kr, Kb = 0.299, 0.114 (BT.601) or 0.2126, 0.0722 (BT.709),
 * Kg = 1 - Kr - Kb and r, g, b = (R + 1) / 2 etc. in [0, 1]:
 *
 *   Y' = Kr r + Kg g + Kb b                    in [0, 1]
 *   Pb = (b - Y') / (2 (1 - Kb))               in [-1/2, 1/2]
 *   Pr = (r - Y') / (2 (1 - Kr))
 *   limited range: Y = 16 + 219 Y',  Cb = 128 + 224 Pb,  Cr = 128 + 224 Pr
 *   full range:    Y = 255 Y',       Cb = 128 + 255 Pb,  Cr = 128 + 255 Pr
 *
 * and the exact inverse (r = Y' + 2 (1 - Kr) Pr, b = Y' + 2 (1 - Kb) Pb,
 * g = (Y' - Kr r - Kb b) / Kg). Code values are rounded half up and clamped
 * to [0, 255]; RGB from YUV is clamped to [-1, 1] (out-of-gamut YUV, e.g.
 * Y < 16 in limited range, is clipped).
 *
 * Chroma upsampling (YUV -> RGB) for 4:2:0 and 4:2:2:
 *   nearest:  every luma pixel takes the chroma sample whose block holds it
 *             (sample (x >> ss_x, y >> ss_y)), whatever the siting;
 *   bilinear: linear interpolation in each direction at the pixel's
 *             position relative to the chroma siting of the layout (see
 *             enum Y4mChroma), edge samples repeated beyond the border.
 * Chroma downsampling (RGB -> YUV): Pb and Pr are computed per pixel and
 * averaged in float over each block (2x2, 2x1 or 1x1, fewer pixels at an
 * odd right/bottom edge: a box average, centred siting) before rounding.
 */

enum Y4mMatrix { Y4M_MATRIX_BT601 = 0, Y4M_MATRIX_BT709 };
enum Y4mUpsample { Y4M_UPSAMPLE_NEAREST = 0, Y4M_UPSAMPLE_BILINEAR };

typedef struct Y4mColor {
    int matrix;       /* enum Y4mMatrix */
    int full_range;   /* 0: limited (16-235/240), 1: full (0-255) */
    int upsample;     /* enum Y4mUpsample */
} Y4mColor;

/* YUV image -> float RGB (img->w[0] x img->h[0] pictures). */
int y4m_yuv_to_rgb(const Y4mImage *img, const Y4mColor *c,
                   float *rgb, ptrdiff_t stride, ptrdiff_t plane_stride);
/* Float RGB -> YUV image (size and layout taken from img, which must be
 * allocated). Values outside [-1, 1] are clamped first. */
int y4m_rgb_to_yuv(const float *rgb, ptrdiff_t stride, ptrdiff_t plane_stride,
                   const Y4mColor *c, Y4mImage *img);

/* Float [-1, 1] -> 8-bit code value: round half up of (v + 1) * 127.5,
 * clamped to [0, 255]. */
static inline uint8_t y4m_float_to_u8(float v)
{
    float q = (v + 1.0f) * 127.5f + 0.5f;
    if (!(q > 0.0f))   /* also NaN */
        return 0;
    if (q >= 255.0f)
        return 255;
    return (uint8_t)q;
}

#endif /* ARG_TOOLS_Y4M_H */
