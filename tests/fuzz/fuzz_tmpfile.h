/*
 * For fuzz targets whose code under test takes a path: the input is
 * written to one per-process anonymous file (memfd, or an unlinked
 * mkstemp file in /tmp when memfd_create is missing) and named as
 * /proc/self/fd/N, so nothing is left behind and every open() of the path
 * gets its own file position. Linux only.
 */
#ifndef ARG_FUZZ_TMPFILE_H
#define ARG_FUZZ_TMPFILE_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* The path of a file now holding exactly data[0..size), or NULL. */
static inline const char *fuzz_tmpfile(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
#ifdef MFD_CLOEXEC
        fd = memfd_create("argfuzz", MFD_CLOEXEC);
#endif
        if (fd < 0) {
            char tmpl[] = "/tmp/argfuzz.XXXXXX";
            fd = mkstemp(tmpl);
            if (fd < 0)
                return NULL;
            unlink(tmpl);
        }
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0)
        return NULL;
    size_t done = 0;
    while (done < size) {
        ssize_t k = pwrite(fd, data + done, size - done, (off_t)done);
        if (k <= 0)
            return NULL;
        done += (size_t)k;
    }
    return path;
}

#endif
