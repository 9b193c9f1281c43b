/*
 * Standalone driver for the libFuzzer targets: runs LLVMFuzzerTestOneInput
 * over every file named on the command line (a directory: over its regular
 * files, not recursively), so that a corpus runs as an ordinary test
 * without clang or libFuzzer. Exits non-zero if an input cannot be read or
 * if no input was found; a crash of the target is a crash of the test.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_INPUT ((size_t)64 << 20)

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            fclose(f);
            return -1;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0 || len > FUZZ_MAX_INPUT)
            break;
        if (len == cap) {
            uint8_t *p = realloc(buf, cap * 2);
            if (!p)
                free(buf);
            buf = p;
            cap *= 2;
        }
    }
    int err = ferror(f);
    fclose(f);
    if (err || len > FUZZ_MAX_INPUT) {
        fprintf(stderr, "cannot read %s\n", path);
        free(buf);
        return -1;
    }
    /* An exact-size copy so that ASan sees reads past the end. */
    uint8_t *exact = malloc(len ? len : 1);
    if (!exact) {
        free(buf);
        return -1;
    }
    memcpy(exact, buf, len);
    free(buf);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    int ran = 0, failed = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
            failed++;
            continue;
        }
        if (!S_ISDIR(st.st_mode)) {
            failed += run_file(argv[i]) < 0;
            ran++;
            continue;
        }
        DIR *d = opendir(argv[i]);
        if (!d) {
            fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
            failed++;
            continue;
        }
        char **names = NULL;
        size_t nn = 0, cap = 0;
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.')
                continue;
            if (nn == cap) {
                cap = cap ? cap * 2 : 64;
                char **p = realloc(names, cap * sizeof(*names));
                if (!p)
                    break;
                names = p;
            }
            size_t l = strlen(argv[i]) + strlen(e->d_name) + 2;
            if (!(names[nn] = malloc(l)))
                break;
            snprintf(names[nn], l, "%s/%s", argv[i], e->d_name);
            nn++;
        }
        closedir(d);
        if (nn)
            qsort(names, nn, sizeof(*names), cmp_str); /* a stable order */
        for (size_t k = 0; k < nn; k++) {
            if (stat(names[k], &st) == 0 && S_ISREG(st.st_mode)) {
                failed += run_file(names[k]) < 0;
                ran++;
            }
            free(names[k]);
        }
        free(names);
    }
    printf("%d inputs run, %d unreadable\n", ran, failed);
    return failed || ran == 0 ? 1 : 0;
}
