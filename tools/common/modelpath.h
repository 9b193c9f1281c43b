/* Where the CLIs find shipped models: $ARG_MODEL_PATH (':'-separated
 * folders), the installed data folder (prefix/datadir/arg/models), then the
 * source tree's models/ (only for a tool run from its build folder). */
#ifndef ARG_TOOLS_MODELPATH_H
#define ARG_TOOLS_MODELPATH_H

#include <stddef.h>

/* Find NAME.safetensors (or NAME as a path: with a '/', or a .safetensors
 * file in the current folder). Returns 0 and the path in out, or -ENOENT. */
int model_find(const char *name, char *out, size_t outlen);
/* List the *.safetensors files found, sorted by name, de-duplicated by
 * file name (earlier folders win), tokenizers only (token transformers,
 * spec/poet.md, are left out). Returns the count (<= max) and fills
 * paths[i] (each outlen bytes). */
int model_list(char (*paths)[1024], int max);

#endif
