#include "wav.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct WavReader {
    FILE *f;
    int close_file;
    WavInfo info;
    uint64_t left;          /* frames left in the data chunk */
    int block;              /* bytes per frame */
    uint8_t *buf;
    size_t bufsize;
};

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static unsigned le16(const uint8_t *p)
{
    return (unsigned)p[0] | (unsigned)p[1] << 8;
}

static int werr(char *err, size_t errlen, int code, const char *msg, const char *path)
{
    if (err && errlen)
        snprintf(err, errlen, "%s: %s", path, msg);
    return code;
}

static int skip(FILE *f, uint64_t n)
{
    uint8_t tmp[4096];
    while (n) {
        size_t k = n < sizeof(tmp) ? (size_t)n : sizeof(tmp);
        if (fread(tmp, 1, k, f) != k)
            return -1;
        n -= k;
    }
    return 0;
}

int wav_reader_open(WavReader **out, const char *path, char *err, size_t errlen)
{
    *out = NULL;
    WavReader *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    int use_stdin = !strcmp(path, "-");
    r->f = use_stdin ? stdin : fopen(path, "rb");
    r->close_file = !use_stdin;
    int rc = -EINVAL;
    if (!r->f) {
        free(r);
        return werr(err, errlen, -errno, "cannot open", path);
    }
    uint8_t h[12];
    if (fread(h, 1, 12, r->f) != 12 || memcmp(h, "RIFF", 4) || memcmp(h + 8, "WAVE", 4)) {
        werr(err, errlen, 0, "not a RIFF/WAVE file", path);
        goto fail;
    }
    int have_fmt = 0;
    for (int chunks = 0; chunks < 64; chunks++) {
        uint8_t c[8];
        if (fread(c, 1, 8, r->f) != 8) {
            werr(err, errlen, 0, "no data chunk", path);
            goto fail;
        }
        uint32_t size = le32(c + 4);
        if (!memcmp(c, "fmt ", 4)) {
            uint8_t fm[40];
            if (size < 16 || size > sizeof(fm) || fread(fm, 1, size, r->f) != size) {
                werr(err, errlen, 0, "bad fmt chunk", path);
                goto fail;
            }
            unsigned tag = le16(fm), ch = le16(fm + 2), bits = le16(fm + 14), align = le16(fm + 12);
            uint32_t rate = le32(fm + 4);
            if (tag == 0xFFFE && size >= 40)
                tag = le16(fm + 24); /* WAVE_FORMAT_EXTENSIBLE: the sub-format */
            if (ch < 1 || ch > 8 || rate < 1 || rate > 384000) {
                werr(err, errlen, 0, "unsupported channel count or sample rate", path);
                goto fail;
            }
            if (!((tag == 1 && (bits == 8 || bits == 16 || bits == 24 || bits == 32)) || (tag == 3 && bits == 32))) {
                werr(err, errlen, 0, "unsupported sample format (PCM 8/16/24/32-bit or float32)", path);
                goto fail;
            }
            if (align != ch * (bits / 8)) {
                werr(err, errlen, 0, "inconsistent block alignment", path);
                goto fail;
            }
            r->info.sample_rate = (int)rate;
            r->info.channels = (int)ch;
            r->info.bits = (int)bits;
            r->info.is_float = tag == 3;
            r->block = (int)align;
            have_fmt = 1;
            if (size & 1)
                skip(r->f, 1);
        } else if (!memcmp(c, "data", 4)) {
            if (!have_fmt) {
                werr(err, errlen, 0, "data chunk before fmt chunk", path);
                goto fail;
            }
            /* 0xFFFFFFFF (streamed WAV) means "until the end" */
            r->info.frames = size == 0xFFFFFFFFu ? UINT64_MAX : size / (uint32_t)r->block;
            r->left = r->info.frames;
            *out = r;
            return 0;
        } else {
            if (skip(r->f, (uint64_t)size + (size & 1)) < 0) {
                werr(err, errlen, 0, "truncated chunk", path);
                goto fail;
            }
        }
    }
    werr(err, errlen, 0, "too many chunks before the data", path);
fail:
    wav_reader_close(r);
    return rc;
}

const WavInfo *wav_reader_info(const WavReader *r)
{
    return &r->info;
}

long wav_reader_read(WavReader *r, float *out, long n)
{
    if (n <= 0 || r->left == 0)
        return 0;
    if ((uint64_t)n > r->left)
        n = (long)r->left;
    size_t need = (size_t)n * (size_t)r->block;
    if (r->bufsize < need) {
        uint8_t *b = realloc(r->buf, need);
        if (!b)
            return -ENOMEM;
        r->buf = b;
        r->bufsize = need;
    }
    size_t got = fread(r->buf, 1, need, r->f) / (size_t)r->block;
    long frames = (long)got;
    int ch = r->info.channels, bps = r->info.bits / 8;
    for (long i = 0; i < frames * ch; i++) {
        const uint8_t *p = r->buf + (size_t)i * bps;
        float v = 0.f;
        if (r->info.is_float) {
            union { uint32_t u; float f; } bits = { le32(p) };
            v = bits.f;
            if (!(v == v))
                v = 0;
        } else if (bps == 1) {
            v = ((int)p[0] - 128) / 128.0f;
        } else if (bps == 2) {
            v = (int16_t)le16(p) / 32768.0f;
        } else if (bps == 3) {
            int32_t s = (int32_t)((uint32_t)p[0] << 8 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 24) >> 8;
            v = s / 8388608.0f;
        } else {
            v = (int32_t)le32(p) / 2147483648.0f;
        }
        out[i] = v < -1 ? -1 : v > 1 ? 1 : v;
    }
    r->left = got < (size_t)n ? 0 : r->left - (uint64_t)frames;
    return frames;
}

void wav_reader_close(WavReader *r)
{
    if (!r)
        return;
    if (r->close_file && r->f)
        fclose(r->f);
    free(r->buf);
    free(r);
}

struct WavWriter {
    FILE *f;
    char *path, *tmp;
    int channels, rate;
    uint64_t frames;
    int failed;
    int stream;             /* the caller's FILE: not closed, maybe not seekable */
};

static void put32le(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void header(uint8_t *h, int rate, int ch, uint64_t frames)
{
    uint64_t data = frames * (uint64_t)ch * 2;
    if (data > 0xFFFFFFFFull - 36)
        data = 0xFFFFFFFFull - 36;
    memcpy(h, "RIFF", 4);
    put32le(h + 4, (uint32_t)(36 + data));
    memcpy(h + 8, "WAVEfmt ", 8);
    put32le(h + 16, 16);
    h[20] = 1, h[21] = 0, h[22] = (uint8_t)ch, h[23] = 0;
    put32le(h + 24, (uint32_t)rate);
    put32le(h + 28, (uint32_t)(rate * ch * 2));
    h[32] = (uint8_t)(ch * 2), h[33] = 0, h[34] = 16, h[35] = 0;
    memcpy(h + 36, "data", 4);
    put32le(h + 40, (uint32_t)data);
}

int wav_writer_open(WavWriter **out, const char *path, int rate, int ch, char *err, size_t errlen)
{
    *out = NULL;
    if (rate < 1 || ch < 1 || ch > 8)
        return -EINVAL;
    WavWriter *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->rate = rate;
    w->channels = ch;
    struct stat st;
    int direct = stat(path, &st) == 0 && !S_ISREG(st.st_mode); /* a device: write it, never replace it */
    w->path = strdup(path);
    if (!direct) {
        size_t n = strlen(path) + 16;
        w->tmp = malloc(n);
        if (w->tmp) {
            snprintf(w->tmp, n, "%s.tmp.XXXXXX", path);
            int fd = mkstemp(w->tmp);
            if (fd >= 0) { /* mkstemp makes the file 0600: give it the usual 0666 & ~umask */
                mode_t mask = umask(0);
                umask(mask);
                (void)fchmod(fd, 0666 & ~mask);
            }
            w->f = fd >= 0 ? fdopen(fd, "wb") : NULL;
        }
    } else {
        w->f = fopen(path, "wb");
    }
    if (!w->path || !w->f) {
        int rc = werr(err, errlen, -EIO, "cannot create", path);
        if (w->tmp)
            unlink(w->tmp);
        free(w->tmp);
        free(w->path);
        free(w);
        return rc;
    }
    uint8_t h[44];
    header(h, rate, ch, 0);
    fwrite(h, 1, 44, w->f);
    *out = w;
    return 0;
}

int wav_writer_open_stream(WavWriter **out, FILE *f, int rate, int ch, uint64_t expected_frames)
{
    *out = NULL;
    if (!f || rate < 1 || ch < 1 || ch > 8)
        return -EINVAL;
    WavWriter *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->f = f;
    w->rate = rate;
    w->channels = ch;
    w->stream = 1;
    uint8_t h[44];
    header(h, rate, ch, expected_frames ? expected_frames : ~0ull);
    if (fwrite(h, 1, 44, f) != 44) {
        free(w);
        return -EIO;
    }
    *out = w;
    return 0;
}

int wav_writer_write(WavWriter *w, const float *in, long frames)
{
    uint8_t buf[4096];
    long total = frames * w->channels, i = 0;
    while (i < total) {
        int k = 0;
        for (; k < (int)sizeof(buf) / 2 && i < total; k++, i++) {
            float v = in[i] * 32768.0f;
            int s = v >= 32767.0f ? 32767 : v <= -32768.0f ? -32768 : (int)(v < 0 ? v - 0.5f : v + 0.5f);
            buf[2 * k] = (uint8_t)(s & 0xFF);
            buf[2 * k + 1] = (uint8_t)((s >> 8) & 0xFF);
        }
        if (fwrite(buf, 2, (size_t)k, w->f) != (size_t)k)
            w->failed = 1;
    }
    w->frames += (uint64_t)frames;
    return w->failed ? -EIO : 0;
}

int wav_writer_close(WavWriter *w, int commit)
{
    if (!w)
        return -EINVAL;
    int rc = 0;
    if (w->stream) {
        if (commit && !w->failed) {
            long end = ftell(w->f);
            uint8_t h[44];
            header(h, w->rate, w->channels, w->frames);
            if (end >= 44 && fseek(w->f, end - 44 - (long)(w->frames * (uint64_t)w->channels * 2), SEEK_SET) == 0) {
                if (fwrite(h, 1, 44, w->f) != 44 || fseek(w->f, end, SEEK_SET) != 0)
                    rc = -EIO;
            }
            if (fflush(w->f) != 0)
                rc = -EIO;
        }
        rc = w->failed ? -EIO : rc;
        free(w);
        return rc;
    }
    if (commit && !w->failed && fseek(w->f, 0, SEEK_SET) == 0) {
        uint8_t h[44];
        header(h, w->rate, w->channels, w->frames);
        if (fwrite(h, 1, 44, w->f) != 44)
            rc = -EIO;
    } else if (commit) {
        rc = w->tmp ? -EIO : 0; /* devices cannot seek back: the header keeps size 0 */
    }
    if (fclose(w->f) != 0)
        rc = -EIO;
    if (w->tmp) {
        if (commit && rc == 0 && rename(w->tmp, w->path) != 0)
            rc = -errno;
        if (!commit || rc < 0)
            unlink(w->tmp);
    }
    free(w->tmp);
    free(w->path);
    free(w);
    return rc;
}
