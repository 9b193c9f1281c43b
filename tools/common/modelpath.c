/* Model lookup for the CLIs (modelpath.h). The folders, in order:
 *   1. $ARG_MODEL_PATH (':'-separated);
 *   2. the installed data folder, ARG_MODEL_DIR_INSTALLED: meson's
 *      prefix/datadir/arg/models, where `meson install` puts models/;
 *   3. the source tree's models/ (ARG_MODEL_DIR_SOURCE), only for a binary
 *      that runs from the build folder it was built in (ARG_BUILD_ROOT): an
 *      installed tool never reaches back into the tree it was built from,
 *      which may be gone, so its models come from the data folder alone. */
#include "modelpath.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef ARG_MODEL_DIR_INSTALLED
#define ARG_MODEL_DIR_INSTALLED "/usr/local/share/arg/models"
#endif
#ifndef ARG_MODEL_DIR_SOURCE
#define ARG_MODEL_DIR_SOURCE "models"
#endif

#define MAX_DIRS 18

/* 1 when this program runs from inside the build folder it was built in:
 * the source tree's models/ is then searched too. 0 when the build folder
 * is gone or the program lies outside it (installed). Where the program's
 * path is unknown (no /proc/self/exe) or no build folder was compiled in: 1. */
static int running_uninstalled(void)
{
#ifdef ARG_BUILD_ROOT
    char exe[PATH_MAX], root[PATH_MAX];
    if (!realpath("/proc/self/exe", exe))
        return 1;
    if (!realpath(ARG_BUILD_ROOT, root))
        return 0;
    size_t n = strlen(root);
    return strncmp(exe, root, n) == 0 && exe[n] == '/';
#else
    return 1;
#endif
}

static int folders(char dirs[][1024], int max)
{
    int n = 0;
    const char *env = getenv("ARG_MODEL_PATH");
    while (env && *env && n < max - 2) {
        const char *c = strchr(env, ':');
        size_t len = c ? (size_t)(c - env) : strlen(env);
        if (len && len < 1024) {
            memcpy(dirs[n], env, len);
            dirs[n++][len] = 0;
        }
        env = c ? c + 1 : NULL;
    }
    snprintf(dirs[n++], 1024, "%s", ARG_MODEL_DIR_INSTALLED);
    if (running_uninstalled())
        snprintf(dirs[n++], 1024, "%s", ARG_MODEL_DIR_SOURCE);
    return n;
}

static int is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* 1 when the safetensors file at p is a token transformer (its header's
 * metadata says "arg-poet", spec/poet.md), not a tokenizer. The header's
 * size is checked against the file before it is read; anything unreadable
 * counts as a tokenizer, for the loader to refuse with its own message. */
static int is_poet(const char *p)
{
    FILE *f = fopen(p, "rb");
    if (!f)
        return 0;
    unsigned char b8[8];
    int poet = 0;
    struct stat st;
    if (fread(b8, 1, 8, f) == 8 && fstat(fileno(f), &st) == 0) {
        unsigned long long n = 0;
        for (int i = 7; i >= 0; i--)
            n = n << 8 | b8[i];
        if (n > 0 && n <= (1u << 24) && n <= (unsigned long long)st.st_size - 8) {
            char *h = malloc((size_t)n + 1);
            if (h && fread(h, 1, (size_t)n, f) == n) {
                h[n] = 0;
                poet = strstr(h, "\"arg-poet\"") != NULL;
            }
            free(h);
        }
    }
    fclose(f);
    return poet;
}

int model_find(const char *name, char *out, size_t outlen)
{
    /* a path (with a '/'), or a file name in the current folder */
    int has_ext = strstr(name, ".safetensors") != NULL;
    if (strchr(name, '/') || (has_ext && is_file(name))) {
        if (!is_file(name) || strlen(name) >= outlen)
            return -ENOENT;
        snprintf(out, outlen, "%s", name);
        return 0;
    }
    /* NAME or NAME.safetensors in the model folders */
    char dirs[MAX_DIRS][1024];
    int n = folders(dirs, MAX_DIRS);
    for (int i = 0; i < n; i++) {
        char p[2100];
        snprintf(p, sizeof(p), "%.1000s/%.255s%s", dirs[i], name, has_ext ? "" : ".safetensors");
        if (is_file(p) && strlen(p) < outlen) {
            snprintf(out, outlen, "%s", p);
            return 0;
        }
    }
    return -ENOENT;
}

static int cmp_base(const void *a, const void *b)
{
    const char *x = strrchr((const char *)a, '/'), *y = strrchr((const char *)b, '/');
    return strcmp(x ? x + 1 : a, y ? y + 1 : b);
}

int model_list(char (*paths)[1024], int max)
{
    char dirs[MAX_DIRS][1024];
    int nd = folders(dirs, MAX_DIRS), n = 0;
    for (int i = 0; i < nd && n < max; i++) {
        DIR *d = opendir(dirs[i]);
        if (!d)
            continue;
        struct dirent *e;
        while ((e = readdir(d)) && n < max) {
            size_t l = strlen(e->d_name);
            if (l < 13 || strcmp(e->d_name + l - 12, ".safetensors"))
                continue;
            int dup = 0;
            for (int k = 0; k < n; k++) {
                const char *b = strrchr(paths[k], '/');
                dup |= !strcmp(b ? b + 1 : paths[k], e->d_name);
            }
            char p[2100];
            snprintf(p, sizeof(p), "%.1000s/%.255s", dirs[i], e->d_name);
            if (!dup && is_file(p) && strlen(p) < 1024 && !is_poet(p))
                snprintf(paths[n++], 1024, "%s", p);
        }
        closedir(d);
    }
    qsort(paths, (size_t)n, sizeof(paths[0]), cmp_base);
    return n;
}
