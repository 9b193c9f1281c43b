/* PNG writer (png.h): signature, IHDR, one IDAT holding a zlib stream of
 * stored deflate blocks (each at most 65535 bytes), IEND. */
#include "png.h"

#include <errno.h>
#include <string.h>

uint32_t png_crc32(uint32_t crc, const uint8_t *p, size_t n)
{
    static uint32_t table[256];
    static int ready;
    if (!ready) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        ready = 1;
    }
    crc = ~crc;
    for (size_t i = 0; i < n; i++)
        crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

static void be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* A chunk written piece by piece: length, type, data..., CRC. */
typedef struct Chunk {
    FILE *f;
    uint32_t crc;
    int err;
} Chunk;

static void chunk_put(Chunk *c, const uint8_t *p, size_t n)
{
    c->crc = png_crc32(c->crc, p, n);
    if (n && fwrite(p, 1, n, c->f) != n)
        c->err = 1;
}

static void chunk_begin(Chunk *c, FILE *f, const char *type, uint32_t len)
{
    uint8_t b[4];
    c->f = f;
    c->crc = 0;
    c->err = 0;
    be32(b, len);
    if (fwrite(b, 1, 4, f) != 4)
        c->err = 1;
    chunk_put(c, (const uint8_t *)type, 4);
}

static int chunk_end(Chunk *c)
{
    uint8_t b[4];
    be32(b, c->crc);
    if (fwrite(b, 1, 4, c->f) != 4)
        c->err = 1;
    return c->err ? -EIO : 0;
}

int png_write_rgb(FILE *f, const uint8_t *rgb, int w, int h, ptrdiff_t stride)
{
    if (!f || !rgb || w <= 0 || h <= 0 || w > (1 << 20) || h > (1 << 20) || stride < 3 * (ptrdiff_t)w)
        return -EINVAL;
    uint64_t row = 1 + 3 * (uint64_t)w;           /* filter byte + pixels */
    uint64_t raw = row * (uint64_t)h;
    uint64_t blocks = (raw + 65534) / 65535;
    uint64_t idat = 2 + raw + 5 * blocks + 4;     /* zlib header, blocks, Adler-32 */
    if (idat > 0x7FFFFFFFu)
        return -EINVAL;
    static const uint8_t sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n' };
    if (fwrite(sig, 1, 8, f) != 8)
        return -EIO;
    Chunk c;
    uint8_t hdr[13];
    be32(hdr, (uint32_t)w);
    be32(hdr + 4, (uint32_t)h);
    hdr[8] = 8;  /* bit depth */
    hdr[9] = 2;  /* RGB */
    hdr[10] = hdr[11] = hdr[12] = 0;
    chunk_begin(&c, f, "IHDR", 13);
    chunk_put(&c, hdr, 13);
    if (chunk_end(&c) < 0)
        return -EIO;

    chunk_begin(&c, f, "IDAT", (uint32_t)idat);
    static const uint8_t zhdr[2] = { 0x78, 0x01 }; /* deflate, 32K window, no dictionary */
    chunk_put(&c, zhdr, 2);
    uint32_t s1 = 1, s2 = 0;                       /* Adler-32 */
    uint64_t left = raw, in_block = 0;
    for (int y = 0; y < h; y++) {
        const uint8_t *src = rgb + (ptrdiff_t)y * stride;
        uint64_t done = 0;
        while (done < row) {
            if (in_block == 0) {
                uint32_t n = left < 65535 ? (uint32_t)left : 65535;
                uint8_t bh[5] = { (uint8_t)(left <= 65535), (uint8_t)n, (uint8_t)(n >> 8),
                                  (uint8_t)~n, (uint8_t)(~n >> 8) };
                chunk_put(&c, bh, 5);
                in_block = n;
            }
            uint64_t k = row - done < in_block ? row - done : in_block;
            /* byte `done` of the row: 0 is the filter type (none) */
            uint64_t i = 0;
            if (done == 0) {
                uint8_t z = 0;
                chunk_put(&c, &z, 1);
                s2 = (s2 + s1) % 65521;
                i = 1;
            }
            const uint8_t *p = src + (done + i - 1);
            size_t n = (size_t)(k - i);
            chunk_put(&c, p, n);
            for (size_t j = 0; j < n; j++) {
                s1 = (s1 + p[j]) % 65521;
                s2 = (s2 + s1) % 65521;
            }
            done += k;
            in_block -= k;
            left -= k;
        }
    }
    uint8_t ad[4];
    be32(ad, (s2 << 16) | s1);
    chunk_put(&c, ad, 4);
    if (chunk_end(&c) < 0)
        return -EIO;
    chunk_begin(&c, f, "IEND", 0);
    return chunk_end(&c);
}
