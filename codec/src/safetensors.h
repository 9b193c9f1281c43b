/* safetensors parsing with full validation (spec/model-format.md §1). */
#ifndef ARG_SAFETENSORS_H
#define ARG_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "json.h"

enum { ST_F32 = 0, ST_F16 = 1 };
#define ST_MAX_DIMS 5

typedef struct StTensor {
    const char *name;        /* points into the parsed header */
    int dtype;               /* ST_F32 or ST_F16 */
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    int64_t numel;
    const uint8_t *data;     /* into the file buffer */
    size_t nbytes;
    int used;                /* set by the consumer to detect unused tensors */
} StTensor;

typedef struct StFile {
    JsonValue *header;
    const JsonValue *metadata;    /* __metadata__ object, or NULL */
    StTensor *tensors;
    size_t n_tensors;
    const uint8_t *data;          /* the data section */
    size_t data_size;
} StFile;

/* Parse a whole file held in buf[0..size) (buf must outlive the StFile).
 * Returns 0 or a negative errno with a message in err. */
int st_parse(StFile *f, const uint8_t *buf, size_t size, char *err, size_t errlen);
void st_free(StFile *f);
StTensor *st_find(const StFile *f, const char *name);
/* Metadata string value, or NULL. */
const char *st_meta(const StFile *f, const char *key);
/* Copy a tensor to f32 (converting f16). dst holds t->numel floats. */
void st_to_f32(const StTensor *t, float *dst);
float st_half_to_float(uint16_t h);

/* Read a whole file into memory (bounded by max_size). */
int st_read_file(const char *path, uint8_t **buf, size_t *size, size_t max_size,
                 char *err, size_t errlen);

#endif
