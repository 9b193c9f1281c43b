/* --backend cpu|vulkan|auto and --device N for the getopt-based tools.
 * Superseded by cli.h (CLI_OPT_BACKEND, CLI_OPT_DEVICE, CLI_OPT_GEMM): to be
 * removed once no tool includes it. */
#ifndef ARG_TOOLS_BACKENDOPT_H
#define ARG_TOOLS_BACKENDOPT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arg/arg.h"

#define BACKEND_HELP \
    "  --backend B      cpu | vulkan | auto (default auto: a Vulkan GPU if one is usable, else the CPU;\n" \
    "                   vulkan also takes software devices such as lavapipe)\n" \
    "  --device N       Vulkan device N (vulkaninfo's GPU numbering; default: ARG_DEVICE or the best)\n"

/* ArgBackend value, or -1 */
static inline int backend_parse(const char *v)
{
    if (!strcmp(v, "cpu"))
        return ARG_BACKEND_CPU;
    if (!strcmp(v, "vulkan"))
        return ARG_BACKEND_VULKAN;
    if (!strcmp(v, "auto"))
        return ARG_BACKEND_AUTO;
    return -1;
}

/* ArgSettings.device value (index + 1), or -1 */
static inline int device_parse(const char *v)
{
    char *end;
    long d = strtol(v, &end, 10);
    if (!*v || *end || d < 0 || d > 255)
        return -1;
    return (int)d + 1;
}

/* Handle getopt's 'B' (--backend) or 'D' (--device) for tool `prog`: store
 * the value, or print why it is refused and return -1. */
static inline int backend_opt(int c, const char *v, const char *prog, int *backend, int *device)
{
    if (c == 'B' && (*backend = backend_parse(v)) < 0) {
        fprintf(stderr, "%s: --backend wants cpu, vulkan or auto, got '%s'\n", prog, v);
        return -1;
    }
    if (c == 'D' && (*device = device_parse(v)) < 0) {
        fprintf(stderr, "%s: --device wants a device number (0..255), got '%s'\n", prog, v);
        return -1;
    }
    return 0;
}

#endif
