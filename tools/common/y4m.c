/*
 * Y4M reader and writer, YUV <-> float RGB conversion (see y4m.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mkstemp, fdopen, fchmod */
#endif

#include "y4m.h"
#include "arg/arg.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* ----------------------------------------------------------------- misc */

static void set_msg(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_msg(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    if (!buf || !len)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

static const char *const chroma_names[] = {
    [Y4M_C420JPEG] = "420jpeg",
    [Y4M_C420MPEG2] = "420mpeg2",
    [Y4M_C420PALDV] = "420paldv",
    [Y4M_C422] = "422",
    [Y4M_C444] = "444",
};

int y4m_chroma_shifts(int chroma, int *ss_x, int *ss_y)
{
    int sx, sy;
    switch (chroma) {
    case Y4M_C420JPEG:
    case Y4M_C420MPEG2:
    case Y4M_C420PALDV: sx = 1; sy = 1; break;
    case Y4M_C422: sx = 1; sy = 0; break;
    case Y4M_C444: sx = 0; sy = 0; break;
    default: return -EINVAL;
    }
    if (ss_x)
        *ss_x = sx;
    if (ss_y)
        *ss_y = sy;
    return 0;
}

const char *y4m_chroma_name(int chroma)
{
    if (chroma < 0 || chroma > Y4M_C444)
        return NULL;
    return chroma_names[chroma];
}

static int dims_ok(int w, int h)
{
    return w >= 1 && w <= Y4M_MAX_DIM && h >= 1 && h <= Y4M_MAX_DIM;
}

size_t y4m_frame_size(const Y4mInfo *info)
{
    int sx, sy;
    if (!info || !dims_ok(info->width, info->height) ||
        y4m_chroma_shifts(info->chroma, &sx, &sy) < 0)
        return 0;
    size_t luma = (size_t)info->width * (size_t)info->height;
    size_t cw = ((size_t)info->width + (1u << sx) - 1) >> sx;
    size_t ch = ((size_t)info->height + (1u << sy) - 1) >> sy;
    return luma + 2 * cw * ch;
}

/* --------------------------------------------------------------- images */

int y4m_image_alloc(Y4mImage *img, int width, int height, int chroma)
{
    int sx, sy;
    if (!img)
        return -EINVAL;
    memset(img, 0, sizeof(*img));
    if (!dims_ok(width, height) || y4m_chroma_shifts(chroma, &sx, &sy) < 0)
        return -EINVAL;
    img->chroma = chroma;
    img->w[0] = width;
    img->h[0] = height;
    img->w[1] = img->w[2] = (width + (1 << sx) - 1) >> sx;
    img->h[1] = img->h[2] = (height + (1 << sy) - 1) >> sy;
    size_t total = 0;
    for (int p = 0; p < 3; p++) {
        img->stride[p] = img->w[p];
        total += (size_t)img->w[p] * (size_t)img->h[p];
    }
    uint8_t *buf = malloc(total);
    if (!buf)
        return -ENOMEM;
    img->alloc = buf;
    img->data[0] = buf;
    img->data[1] = img->data[0] + (size_t)img->w[0] * (size_t)img->h[0];
    img->data[2] = img->data[1] + (size_t)img->w[1] * (size_t)img->h[1];
    return 0;
}

void y4m_image_free(Y4mImage *img)
{
    if (!img)
        return;
    free(img->alloc);
    memset(img, 0, sizeof(*img));
}

/* Same planes as a stream with this info? */
static int image_matches(const Y4mImage *img, const Y4mInfo *info)
{
    int sx, sy, isx, isy;
    if (!img || !img->data[0] || !img->data[1] || !img->data[2])
        return 0;
    if (img->w[0] != info->width || img->h[0] != info->height)
        return 0;
    if (y4m_chroma_shifts(info->chroma, &sx, &sy) < 0 ||
        y4m_chroma_shifts(img->chroma, &isx, &isy) < 0)
        return 0;
    if (sx != isx || sy != isy)
        return 0;
    for (int p = 1; p < 3; p++)
        if (img->w[p] != ((info->width + (1 << sx) - 1) >> sx) ||
            img->h[p] != ((info->height + (1 << sy) - 1) >> sy))
            return 0;
    for (int p = 0; p < 3; p++)
        if (img->stride[p] < img->w[p])
            return 0;
    return 1;
}

/* --------------------------------------------------------------- reader */

struct Y4mReader {
    FILE *f;
    int close_file;
    Y4mInfo info;
    size_t frame_size;
    int64_t frames;
    char name[256];
    char err[512];
};

/* Read one '\n'-terminated line of at most Y4M_MAX_HEADER bytes (newline
 * included) into buf (size > Y4M_MAX_HEADER), without the newline.
 * Returns its length, -1 at EOF before any byte, -2 at EOF inside the line,
 * -3 when too long, -4 on a read error, -5 on a NUL byte. */
static int read_line(FILE *f, char *buf)
{
    int n = 0;
    for (;;) {
        int c = getc(f);
        if (c == EOF) {
            if (ferror(f))
                return -4;
            return n == 0 ? -1 : -2;
        }
        if (c == '\n')
            break;
        if (c == '\0')
            return -5;
        if (n >= Y4M_MAX_HEADER - 1)
            return -3;
        buf[n++] = (char)c;
    }
    buf[n] = '\0';
    return n;
}

/* Decimal digits only, no sign, value <= INT_MAX. */
static int parse_int(const char *s, size_t len, int *out)
{
    long long v = 0;
    if (len == 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
        if (v > INT_MAX)
            return -1;
    }
    *out = (int)v;
    return 0;
}

static int parse_ratio(const char *s, size_t len, int *num, int *den)
{
    const char *colon = memchr(s, ':', len);
    if (!colon)
        return -1;
    size_t nl = (size_t)(colon - s);
    if (parse_int(s, nl, num) < 0 || parse_int(colon + 1, len - nl - 1, den) < 0)
        return -1;
    return 0;
}

static int parse_stream_header(Y4mReader *r, char *line)
{
    static const char magic[] = "YUV4MPEG2";
    Y4mInfo *in = &r->info;
    int seen_w = 0, seen_h = 0, seen_f = 0, seen_i = 0, seen_a = 0, seen_c = 0;

    if (strncmp(line, magic, sizeof(magic) - 1) != 0 ||
        (line[sizeof(magic) - 1] != ' ' && line[sizeof(magic) - 1] != '\0')) {
        set_msg(r->err, sizeof(r->err), "%s: not a Y4M stream (no YUV4MPEG2 signature)", r->name);
        return -EINVAL;
    }
    memset(in, 0, sizeof(*in));
    in->chroma = Y4M_C420JPEG;

    char *p = line + sizeof(magic) - 1;
    while (*p) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        char *tok = p;
        while (*p && *p != ' ')
            p++;
        size_t len = (size_t)(p - tok);
        char tag = tok[0];
        const char *val = tok + 1;
        size_t vlen = len - 1;
        int *seen = NULL;
        switch (tag) {
        case 'W': seen = &seen_w; break;
        case 'H': seen = &seen_h; break;
        case 'F': seen = &seen_f; break;
        case 'I': seen = &seen_i; break;
        case 'A': seen = &seen_a; break;
        case 'C': seen = &seen_c; break;
        default: break;
        }
        if (seen) {
            if (*seen) {
                set_msg(r->err, sizeof(r->err), "%s: Y4M header has the %c tag twice", r->name, tag);
                return -EINVAL;
            }
            *seen = 1;
        }
        switch (tag) {
        case 'W':
        case 'H': {
            int v;
            if (parse_int(val, vlen, &v) < 0 || v < 1 || v > Y4M_MAX_DIM) {
                set_msg(r->err, sizeof(r->err), "%s: Y4M %s '%.*s' is not an integer in 1..%d",
                        r->name, tag == 'W' ? "width" : "height", (int)(vlen > 32 ? 32 : vlen), val,
                        Y4M_MAX_DIM);
                return -EINVAL;
            }
            if (tag == 'W')
                in->width = v;
            else
                in->height = v;
            break;
        }
        case 'F':
            if (parse_ratio(val, vlen, &in->fps_num, &in->fps_den) < 0 ||
                in->fps_num <= 0 || in->fps_den <= 0) {
                set_msg(r->err, sizeof(r->err), "%s: Y4M frame rate 'F%.*s' is not N:D with N, D > 0",
                        r->name, (int)(vlen > 32 ? 32 : vlen), val);
                return -EINVAL;
            }
            break;
        case 'I':
            if (vlen != 1 || val[0] != 'p') {
                set_msg(r->err, sizeof(r->err),
                        "%s: Y4M interlacing 'I%.*s' is not supported (only progressive, Ip)",
                        r->name, (int)(vlen > 32 ? 32 : vlen), val);
                return -EINVAL;
            }
            break;
        case 'A':
            if (parse_ratio(val, vlen, &in->par_num, &in->par_den) < 0 ||
                ((in->par_num == 0) != (in->par_den == 0))) {
                set_msg(r->err, sizeof(r->err), "%s: Y4M pixel aspect 'A%.*s' is not N:D",
                        r->name, (int)(vlen > 32 ? 32 : vlen), val);
                return -EINVAL;
            }
            break;
        case 'C': {
            static const struct { const char *name; int chroma; } cs[] = {
                { "420jpeg", Y4M_C420JPEG }, { "420", Y4M_C420JPEG },
                { "420mpeg2", Y4M_C420MPEG2 }, { "420paldv", Y4M_C420PALDV },
                { "422", Y4M_C422 }, { "444", Y4M_C444 },
            };
            int found = 0;
            for (size_t i = 0; i < sizeof(cs) / sizeof(cs[0]); i++) {
                if (strlen(cs[i].name) == vlen && memcmp(cs[i].name, val, vlen) == 0) {
                    in->chroma = cs[i].chroma;
                    found = 1;
                    break;
                }
            }
            if (!found) {
                int deep = memchr(val, 'p', vlen) && vlen > 3 && val[0] >= '0' && val[0] <= '9';
                set_msg(r->err, sizeof(r->err),
                        "%s: Y4M colourspace 'C%.*s' is not supported (%s)", r->name,
                        (int)(vlen > 32 ? 32 : vlen), val,
                        deep ? "only 8-bit samples" : "420jpeg, 420, 420mpeg2, 420paldv, 422 or 444");
                return -EINVAL;
            }
            break;
        }
        case 'X': {
            static const char cr[] = "COLORRANGE=";
            if (vlen > sizeof(cr) - 1 && memcmp(val, cr, sizeof(cr) - 1) == 0) {
                const char *v = val + sizeof(cr) - 1;
                size_t l = vlen - (sizeof(cr) - 1);
                if (l == 4 && memcmp(v, "FULL", 4) == 0)
                    in->range = Y4M_RANGE_FULL;
                else if (l == 7 && memcmp(v, "LIMITED", 7) == 0)
                    in->range = Y4M_RANGE_LIMITED;
            }
            break;
        }
        default:
            break; /* unknown tag: ignored */
        }
    }
    if (!seen_w || !seen_h || !seen_f) {
        set_msg(r->err, sizeof(r->err), "%s: Y4M header lacks the %s tag", r->name,
                !seen_w ? "W (width)" : !seen_h ? "H (height)" : "F (frame rate)");
        return -EINVAL;
    }
    r->frame_size = y4m_frame_size(in);
    return 0;
}

int y4m_reader_open_file(Y4mReader **out, FILE *f, int close_file, const char *name,
                         char *err, size_t errlen)
{
    if (!out || !f) {
        set_msg(err, errlen, "y4m_reader_open_file: invalid argument");
        if (f && close_file)
            fclose(f);
        return -EINVAL;
    }
    *out = NULL;
    Y4mReader *r = calloc(1, sizeof(*r));
    if (!r) {
        set_msg(err, errlen, "out of memory");
        if (close_file)
            fclose(f);
        return -ENOMEM;
    }
    r->f = f;
    r->close_file = close_file;
    snprintf(r->name, sizeof(r->name), "%s", name ? name : "(stream)");

    char *line = malloc(Y4M_MAX_HEADER + 1);
    if (!line) {
        set_msg(err, errlen, "out of memory");
        y4m_reader_close(r);
        return -ENOMEM;
    }
    int ret = 0;
    int n = read_line(f, line);
    switch (n) {
    case -1: set_msg(r->err, sizeof(r->err), "%s: empty input, no Y4M header", r->name); ret = -EINVAL; break;
    case -2: set_msg(r->err, sizeof(r->err), "%s: Y4M header not terminated by a newline", r->name); ret = -EINVAL; break;
    case -3: set_msg(r->err, sizeof(r->err), "%s: Y4M header longer than %d bytes", r->name, Y4M_MAX_HEADER); ret = -EINVAL; break;
    case -4: set_msg(r->err, sizeof(r->err), "%s: read error: %s", r->name, strerror(errno)); ret = -EIO; break;
    case -5: set_msg(r->err, sizeof(r->err), "%s: NUL byte in the Y4M header", r->name); ret = -EINVAL; break;
    default: ret = parse_stream_header(r, line); break;
    }
    free(line);
    if (ret < 0) {
        set_msg(err, errlen, "%s", r->err);
        y4m_reader_close(r);
        return ret;
    }
    *out = r;
    return 0;
}

int y4m_reader_open(Y4mReader **out, const char *path, char *err, size_t errlen)
{
    if (!out || !path) {
        set_msg(err, errlen, "y4m_reader_open: invalid argument");
        return -EINVAL;
    }
    *out = NULL;
    if (strcmp(path, "-") == 0)
        return y4m_reader_open_file(out, stdin, 0, "(stdin)", err, errlen);
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        set_msg(err, errlen, "cannot open %s: %s", path, strerror(e));
        return e ? -e : -EIO;
    }
    return y4m_reader_open_file(out, f, 1, path, err, errlen);
}

const Y4mInfo *y4m_reader_info(const Y4mReader *r)
{
    return r ? &r->info : NULL;
}

int64_t y4m_reader_frames(const Y4mReader *r)
{
    return r ? r->frames : 0;
}

const char *y4m_reader_error(const Y4mReader *r)
{
    return r ? r->err : "no reader";
}

int y4m_reader_read(Y4mReader *r, Y4mImage *img)
{
    char line[Y4M_MAX_HEADER + 1];
    if (!r)
        return -EINVAL;
    if (!image_matches(img, &r->info)) {
        set_msg(r->err, sizeof(r->err), "%s: image does not match the stream's %dx%d %s",
                r->name, r->info.width, r->info.height, y4m_chroma_name(r->info.chroma));
        return -EINVAL;
    }
    int64_t fno = r->frames;
    int n = read_line(r->f, line);
    if (n == -1)
        return 0; /* clean end of stream */
    if (n == -4) {
        set_msg(r->err, sizeof(r->err), "%s: read error: %s", r->name, strerror(errno));
        return -EIO;
    }
    if (n == -2) {
        set_msg(r->err, sizeof(r->err), "%s: frame %lld: truncated FRAME header", r->name, (long long)fno);
        return -EINVAL;
    }
    if (n == -3 || n == -5) {
        set_msg(r->err, sizeof(r->err), "%s: frame %lld: %s", r->name, (long long)fno,
                n == -3 ? "FRAME header too long" : "NUL byte in the FRAME header");
        return -EINVAL;
    }
    if (strncmp(line, "FRAME", 5) != 0 || (line[5] != '\0' && line[5] != ' ')) {
        set_msg(r->err, sizeof(r->err), "%s: frame %lld: expected a FRAME header, found '%.20s'",
                r->name, (long long)fno, line);
        return -EINVAL;
    }
    /* Frame parameters, if any, are ignored. */
    size_t want = r->frame_size, got = 0;
    for (int p = 0; p < 3; p++) {
        size_t w = (size_t)img->w[p];
        if (img->stride[p] == img->w[p]) {
            size_t sz = w * (size_t)img->h[p];
            size_t k = fread(img->data[p], 1, sz, r->f);
            got += k;
            if (k != sz)
                goto short_read;
        } else {
            for (int y = 0; y < img->h[p]; y++) {
                size_t k = fread(img->data[p] + (ptrdiff_t)y * img->stride[p], 1, w, r->f);
                got += k;
                if (k != w)
                    goto short_read;
            }
        }
    }
    r->frames++;
    return 1;

short_read:
    if (ferror(r->f)) {
        set_msg(r->err, sizeof(r->err), "%s: frame %lld: read error: %s", r->name,
                (long long)fno, strerror(errno));
        return -EIO;
    }
    set_msg(r->err, sizeof(r->err), "%s: frame %lld truncated: %zu of %zu bytes", r->name,
            (long long)fno, got, want);
    return -EINVAL;
}

void y4m_reader_close(Y4mReader *r)
{
    if (!r)
        return;
    if (r->f && r->close_file)
        fclose(r->f);
    free(r);
}

/* --------------------------------------------------------------- writer */

struct Y4mWriter {
    FILE *f;
    int to_stdout;
    int direct;   /* an existing non-regular file (device, FIFO): no rename */
    char *path;   /* final name (files only) */
    char *tmp;    /* temporary name (regular files only) */
    Y4mInfo info;
    int failed;   /* 0, or the errno of the first failed write */
    char err[512];
};

static void writer_free(Y4mWriter *w)
{
    free(w->path);
    free(w->tmp);
    free(w);
}

static int writer_info_ok(const Y4mInfo *info, char *err, size_t errlen)
{
    if (!dims_ok(info->width, info->height)) {
        set_msg(err, errlen, "Y4M writer: size %dx%d out of range 1..%d", info->width,
                info->height, Y4M_MAX_DIM);
        return -EINVAL;
    }
    if (y4m_chroma_shifts(info->chroma, NULL, NULL) < 0) {
        set_msg(err, errlen, "Y4M writer: invalid chroma layout %d", info->chroma);
        return -EINVAL;
    }
    if (info->fps_num <= 0 || info->fps_den <= 0 || info->par_num < 0 || info->par_den < 0 ||
        (info->par_num == 0) != (info->par_den == 0)) {
        set_msg(err, errlen, "Y4M writer: invalid frame rate %d:%d or aspect %d:%d",
                info->fps_num, info->fps_den, info->par_num, info->par_den);
        return -EINVAL;
    }
    return 0;
}

static int writer_header(Y4mWriter *w, const char *name, char *err, size_t errlen)
{
    const Y4mInfo *info = &w->info;
    char hdr[256];
    int n = snprintf(hdr, sizeof(hdr), "YUV4MPEG2 W%d H%d F%d:%d Ip A%d:%d C%s%s\n",
                     info->width, info->height, info->fps_num, info->fps_den,
                     info->par_num, info->par_den, y4m_chroma_name(info->chroma),
                     info->range == Y4M_RANGE_FULL ? " XCOLORRANGE=FULL"
                     : info->range == Y4M_RANGE_LIMITED ? " XCOLORRANGE=LIMITED" : "");
    if (fwrite(hdr, 1, (size_t)n, w->f) != (size_t)n) {
        int e = errno;
        set_msg(err, errlen, "cannot write %s: %s", name, strerror(e));
        y4m_writer_abort(w);
        return e ? -e : -EIO;
    }
    return 0;
}

int y4m_writer_open_stream(Y4mWriter **out, FILE *f, const char *name, const Y4mInfo *info,
                           char *err, size_t errlen)
{
    if (!out || !f || !info) {
        set_msg(err, errlen, "y4m_writer_open_stream: invalid argument");
        return -EINVAL;
    }
    *out = NULL;
    int ret = writer_info_ok(info, err, errlen);
    if (ret < 0)
        return ret;
    Y4mWriter *w = calloc(1, sizeof(*w));
    if (!w) {
        set_msg(err, errlen, "out of memory");
        return -ENOMEM;
    }
    w->info = *info;
    w->f = f;
    w->to_stdout = 1; /* borrowed: flushed, never closed */
    w->path = strdup(name ? name : "(stream)");
    if (!w->path) {
        writer_free(w);
        set_msg(err, errlen, "out of memory");
        return -ENOMEM;
    }
    ret = writer_header(w, name ? name : "(stream)", err, errlen);
    if (ret < 0)
        return ret;
    *out = w;
    return 0;
}

int y4m_writer_open(Y4mWriter **out, const char *path, const Y4mInfo *info,
                    char *err, size_t errlen)
{
    if (!out || !path || !info) {
        set_msg(err, errlen, "y4m_writer_open: invalid argument");
        return -EINVAL;
    }
    *out = NULL;
    int ret = writer_info_ok(info, err, errlen);
    if (ret < 0)
        return ret;
    Y4mWriter *w = calloc(1, sizeof(*w));
    if (!w) {
        set_msg(err, errlen, "out of memory");
        return -ENOMEM;
    }
    w->info = *info;
    struct stat st;
    if (strcmp(path, "-") == 0) {
        w->f = stdout;
        w->to_stdout = 1;
    } else if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        /* A device or FIFO (/dev/null, a pipe): write to it directly; never
         * rename over it or remove it. */
        if (S_ISDIR(st.st_mode)) {
            set_msg(err, errlen, "cannot write %s: it is a directory", path);
            writer_free(w);
            return -EISDIR;
        }
        w->direct = 1;
        w->path = strdup(path);
        if (!w->path) {
            writer_free(w);
            set_msg(err, errlen, "out of memory");
            return -ENOMEM;
        }
        w->f = fopen(path, "wb");
        if (!w->f) {
            int e = errno;
            set_msg(err, errlen, "cannot open %s: %s", path, strerror(e));
            writer_free(w);
            return e ? -e : -EIO;
        }
    } else {
        size_t len = strlen(path);
        w->path = malloc(len + 1);
        w->tmp = malloc(len + sizeof(".tmp.XXXXXX"));
        if (!w->path || !w->tmp) {
            writer_free(w);
            set_msg(err, errlen, "out of memory");
            return -ENOMEM;
        }
        memcpy(w->path, path, len + 1);
        memcpy(w->tmp, path, len);
        memcpy(w->tmp + len, ".tmp.XXXXXX", sizeof(".tmp.XXXXXX"));
        int fd = mkstemp(w->tmp);
        if (fd < 0) {
            int e = errno;
            set_msg(err, errlen, "cannot create %s: %s", w->tmp, strerror(e));
            writer_free(w);
            return e ? -e : -EIO;
        }
        /* mkstemp makes the file 0600: give it the usual 0666 & ~umask. */
        mode_t mask = umask(0);
        umask(mask);
        (void)fchmod(fd, 0666 & ~mask);
        w->f = fdopen(fd, "wb");
        if (!w->f) {
            int e = errno;
            close(fd);
            unlink(w->tmp);
            set_msg(err, errlen, "cannot open %s: %s", w->tmp, strerror(e));
            writer_free(w);
            return e ? -e : -EIO;
        }
    }
    ret = writer_header(w, path, err, errlen);
    if (ret < 0)
        return ret;
    *out = w;
    return 0;
}

int y4m_writer_write(Y4mWriter *w, const Y4mImage *img)
{
    if (!w)
        return -EINVAL;
    if (w->failed)
        return -w->failed;
    if (!image_matches(img, &w->info)) {
        set_msg(w->err, sizeof(w->err), "Y4M writer: image does not match %dx%d %s",
                w->info.width, w->info.height, y4m_chroma_name(w->info.chroma));
        return -EINVAL;
    }
    if (fwrite("FRAME\n", 1, 6, w->f) != 6)
        goto fail;
    for (int p = 0; p < 3; p++) {
        size_t rw = (size_t)img->w[p];
        if (img->stride[p] == img->w[p]) {
            size_t sz = rw * (size_t)img->h[p];
            if (fwrite(img->data[p], 1, sz, w->f) != sz)
                goto fail;
        } else {
            for (int y = 0; y < img->h[p]; y++)
                if (fwrite(img->data[p] + (ptrdiff_t)y * img->stride[p], 1, rw, w->f) != rw)
                    goto fail;
        }
    }
    return 0;
fail:;
    int e = errno ? errno : EIO;
    w->failed = e;
    set_msg(w->err, sizeof(w->err), "cannot write %s: %s",
            w->to_stdout ? (w->path ? w->path : "(stdout)") : w->direct ? w->path : w->tmp, strerror(e));
    return -e;
}

int y4m_writer_close(Y4mWriter *w, char *err, size_t errlen)
{
    if (!w) {
        set_msg(err, errlen, "y4m_writer_close: no writer");
        return -EINVAL;
    }
    int ret = 0;
    if (w->failed) {
        set_msg(err, errlen, "%s", w->err);
        ret = -w->failed;
    }
    if (w->to_stdout) {
        if (fflush(w->f) != 0 || ferror(w->f)) {
            if (!ret) {
                int e = errno ? errno : EIO;
                set_msg(err, errlen, "cannot write %s: %s", w->path ? w->path : "(stdout)", strerror(e));
                ret = -e;
            }
        }
        writer_free(w);
        return ret;
    }
    errno = 0;
    int ferr = fflush(w->f) != 0 || ferror(w->f);
    int e = errno ? errno : EIO;
    if (fclose(w->f) != 0 && !ferr) {
        ferr = 1;
        e = errno ? errno : EIO;
    }
    w->f = NULL;
    if (!ret && ferr) {
        set_msg(err, errlen, "cannot write %s: %s", w->direct ? w->path : w->tmp, strerror(e));
        ret = -e;
    }
    if (w->direct) {
        writer_free(w);
        return ret;
    }
    if (!ret && rename(w->tmp, w->path) != 0) {
        e = errno ? errno : EIO;
        set_msg(err, errlen, "cannot rename %s to %s: %s", w->tmp, w->path, strerror(e));
        ret = -e;
    }
    if (ret)
        unlink(w->tmp);
    writer_free(w);
    return ret;
}

void y4m_writer_abort(Y4mWriter *w)
{
    if (!w)
        return;
    if (w->to_stdout) {
        fflush(w->f);
    } else {
        if (w->f)
            fclose(w->f);
        if (!w->direct)
            unlink(w->tmp);
    }
    writer_free(w);
}

const char *y4m_writer_error(const Y4mWriter *w)
{
    return w ? w->err : "no writer";
}

/* ------------------------------------------------------ colour conversion */

_Static_assert((int)Y4M_C420JPEG == (int)ARG_CHROMA_420 && (int)Y4M_C420MPEG2 == (int)ARG_CHROMA_420_LEFT &&
               (int)Y4M_C420PALDV == (int)ARG_CHROMA_420_PALDV && (int)Y4M_C422 == (int)ARG_CHROMA_422 &&
               (int)Y4M_C444 == (int)ARG_CHROMA_444, "Y4M and ARG chroma enums agree");

/* The conversion itself is libarg's (arg_yuv_to_rgb / arg_rgb_to_yuv):
 * these wrap a Y4mImage into an ArgPictureYUV (the chroma enums match). */
static int wrap(const Y4mImage *img, const Y4mColor *c, ArgPictureYUV *p)
{
    if (!img || !c || y4m_chroma_shifts(img->chroma, NULL, NULL) < 0 || !img->data[0] ||
        (c->matrix != Y4M_MATRIX_BT601 && c->matrix != Y4M_MATRIX_BT709))
        return -EINVAL;
    memset(p, 0, sizeof(*p));
    for (int i = 0; i < 3; i++) {
        p->data[i] = img->data[i];
        p->stride[i] = img->stride[i];
    }
    p->width = img->w[0];
    p->height = img->h[0];
    p->chroma = img->chroma;
    p->matrix = c->matrix == Y4M_MATRIX_BT709 ? ARG_MATRIX_BT709 : ARG_MATRIX_BT601;
    p->full_range = c->full_range != 0;
    p->nearest_chroma = c->upsample != Y4M_UPSAMPLE_BILINEAR;
    return 0;
}

int y4m_yuv_to_rgb(const Y4mImage *img, const Y4mColor *c,
                   float *rgb, ptrdiff_t stride, ptrdiff_t plane_stride)
{
    ArgPictureYUV p;
    if (wrap(img, c, &p) < 0 || !rgb)
        return -EINVAL;
    ArgPicture out = { rgb, p.width, p.height, stride, plane_stride, 0 };
    return arg_yuv_to_rgb(&p, &out);
}

int y4m_rgb_to_yuv(const float *rgb, ptrdiff_t stride, ptrdiff_t plane_stride,
                   const Y4mColor *c, Y4mImage *img)
{
    ArgPictureYUV p;
    if (wrap(img, c, &p) < 0 || !rgb)
        return -EINVAL;
    ArgPicture in = { (float *)rgb, p.width, p.height, stride, plane_stride, 0 };
    return arg_rgb_to_yuv(&in, &p);
}
