/* --backend cpu|vulkan|auto and --device N, shared by the tools. */
#ifndef ARG_TOOLS_BACKENDOPT_H
#define ARG_TOOLS_BACKENDOPT_H

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

#endif
