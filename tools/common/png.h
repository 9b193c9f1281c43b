/* A minimal PNG writer: 8-bit RGB, no filtering, the image data in stored
 * (uncompressed) deflate blocks, so that no compression library is needed.
 * Files are about 3 bytes per pixel; fine for inspection strips. */
#ifndef ARG_TOOLS_PNG_H
#define ARG_TOOLS_PNG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* CRC-32 (ISO 3309, as PNG and zlib use it) of n bytes, continuing crc
 * (start with 0). */
uint32_t png_crc32(uint32_t crc, const uint8_t *p, size_t n);

/* Write a w x h RGB picture (rows `stride` bytes apart) as a PNG file to f.
 * Returns 0, -EINVAL (size out of range) or -EIO (write error). */
int png_write_rgb(FILE *f, const uint8_t *rgb, int w, int h, ptrdiff_t stride);

#endif
