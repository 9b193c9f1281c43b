#include "safetensors.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ST_MAX_HEADER (16u << 20)

static int set_err(char *err, size_t errlen, int code, const char *fmt, const char *a)
{
    if (err && errlen)
        snprintf(err, errlen, fmt, a);
    return code;
}

float st_half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31;
    uint32_t exp = (h >> 10) & 0x1F;
    uint32_t man = h & 0x3FF;
    uint32_t bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do {
                e++;
                man <<= 1;
            } while (!(man & 0x400));
            bits = sign | (uint32_t)(127 - 15 - e) << 23 | (man & 0x3FF) << 13;
        }
    } else if (exp == 31) {
        bits = sign | 0x7F800000u | man << 13;
    } else {
        bits = sign | (exp + 127 - 15) << 23 | man << 13;
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

void st_to_f32(const StTensor *t, float *dst)
{
    if (t->dtype == ST_F32) {
        memcpy(dst, t->data, (size_t)t->numel * 4); /* little-endian hosts only */
    } else {
        for (int64_t i = 0; i < t->numel; i++) {
            uint16_t h = (uint16_t)(t->data[2 * i] | t->data[2 * i + 1] << 8);
            dst[i] = st_half_to_float(h);
        }
    }
}

static int cmp_offset(const void *a, const void *b)
{
    const StTensor *x = a, *y = b;
    return (x->data > y->data) - (x->data < y->data);
}

int st_parse(StFile *f, const uint8_t *buf, size_t size, char *err, size_t errlen)
{
    char msg[256];
    memset(f, 0, sizeof(*f));
    if (size < 8)
        return set_err(err, errlen, -EINVAL, "file too short (%s bytes)", size ? "<8" : "0");
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | buf[i];
    if (n > ST_MAX_HEADER || n > size - 8) {
        snprintf(msg, sizeof(msg), "header size %llu exceeds the file (%zu bytes) or 16 MiB",
                 (unsigned long long)n, size);
        return set_err(err, errlen, -EINVAL, "%s", msg);
    }
    char jerr[200];
    f->header = json_parse((const char *)buf + 8, (size_t)n, jerr, sizeof(jerr));
    if (!f->header)
        return set_err(err, errlen, -EINVAL, "bad header: %s", jerr);
    if (f->header->type != JSON_OBJECT) {
        st_free(f);
        return set_err(err, errlen, -EINVAL, "header is not a JSON object%s", "");
    }
    f->data = buf + 8 + n;
    f->data_size = size - 8 - (size_t)n;
    f->tensors = calloc(f->header->len ? f->header->len : 1, sizeof(StTensor));
    if (!f->tensors) {
        st_free(f);
        return set_err(err, errlen, -ENOMEM, "out of memory%s", "");
    }
    int rc = -EINVAL;
    for (size_t i = 0; i < f->header->len; i++) {
        const char *name = f->header->keys[i];
        const JsonValue *v = &f->header->items[i];
        if (strcmp(name, "__metadata__") == 0) {
            if (v->type != JSON_OBJECT) {
                set_err(err, errlen, 0, "__metadata__ is not an object%s", "");
                goto fail;
            }
            for (size_t k = 0; k < v->len; k++) {
                if (v->items[k].type != JSON_STRING) {
                    set_err(err, errlen, 0, "__metadata__ value \"%.60s\" is not a string",
                            v->keys[k]);
                    goto fail;
                }
            }
            f->metadata = v;
            continue;
        }
        if (v->type != JSON_OBJECT || v->len != 3) {
            set_err(err, errlen, 0, "tensor \"%.80s\": entry must have exactly dtype, shape, data_offsets", name);
            goto fail;
        }
        const JsonValue *dt = json_get(v, "dtype");
        const JsonValue *sh = json_get(v, "shape");
        const JsonValue *of = json_get(v, "data_offsets");
        if (!dt || !sh || !of || dt->type != JSON_STRING || sh->type != JSON_ARRAY ||
            of->type != JSON_ARRAY) {
            set_err(err, errlen, 0, "tensor \"%.80s\": missing or mistyped dtype/shape/data_offsets", name);
            goto fail;
        }
        StTensor *t = &f->tensors[f->n_tensors];
        t->name = name;
        int esize;
        if (strcmp(dt->string, "F32") == 0) {
            t->dtype = ST_F32;
            esize = 4;
        } else if (strcmp(dt->string, "F16") == 0) {
            t->dtype = ST_F16;
            esize = 2;
        } else {
            snprintf(msg, sizeof(msg), "tensor \"%.80s\": unsupported dtype \"%.16s\" (F32 or F16)",
                     name, dt->string);
            set_err(err, errlen, 0, "%s", msg);
            goto fail;
        }
        if (sh->len > ST_MAX_DIMS) {
            set_err(err, errlen, 0, "tensor \"%.80s\": more than 5 dimensions", name);
            goto fail;
        }
        t->ndim = (int)sh->len;
        t->numel = 1;
        for (size_t d = 0; d < sh->len; d++) {
            const JsonValue *e = &sh->items[d];
            if (e->type != JSON_NUMBER || !e->is_integer || e->integer <= 0 ||
                e->integer > (1LL << 31)) {
                set_err(err, errlen, 0, "tensor \"%.80s\": bad dimension", name);
                goto fail;
            }
            t->shape[d] = e->integer;
            if (t->numel > (INT64_C(1) << 40) / e->integer) {
                set_err(err, errlen, 0, "tensor \"%.80s\": too many elements", name);
                goto fail;
            }
            t->numel *= e->integer;
        }
        if (of->len != 2 || of->items[0].type != JSON_NUMBER || of->items[1].type != JSON_NUMBER ||
            !of->items[0].is_integer || !of->items[1].is_integer || of->items[0].integer < 0 ||
            of->items[1].integer < of->items[0].integer) {
            set_err(err, errlen, 0, "tensor \"%.80s\": bad data_offsets", name);
            goto fail;
        }
        uint64_t b = (uint64_t)of->items[0].integer, e = (uint64_t)of->items[1].integer;
        if (e > f->data_size) {
            set_err(err, errlen, 0, "tensor \"%.80s\": data_offsets beyond the end of the file", name);
            goto fail;
        }
        if (e - b != (uint64_t)t->numel * (uint64_t)esize) {
            set_err(err, errlen, 0, "tensor \"%.80s\": byte size does not match dtype x shape", name);
            goto fail;
        }
        t->data = f->data + b;
        t->nbytes = (size_t)(e - b);
        f->n_tensors++;
    }
    /* The tensors must tile the data section exactly. */
    {
        StTensor *sorted = malloc((f->n_tensors ? f->n_tensors : 1) * sizeof(StTensor));
        if (!sorted) {
            rc = -ENOMEM;
            set_err(err, errlen, 0, "out of memory%s", "");
            goto fail;
        }
        memcpy(sorted, f->tensors, f->n_tensors * sizeof(StTensor));
        qsort(sorted, f->n_tensors, sizeof(StTensor), cmp_offset);
        const uint8_t *pos = f->data;
        const char *bad = NULL;
        for (size_t i = 0; i < f->n_tensors; i++) {
            if (sorted[i].data != pos) {
                bad = sorted[i].name;
                break;
            }
            pos += sorted[i].nbytes;
        }
        if (!bad && pos != f->data + f->data_size)
            bad = "(end of file)";
        if (bad) {
            set_err(err, errlen, 0, "tensor data has a gap or overlap at \"%.80s\"", bad);
            free(sorted);
            goto fail;
        }
        free(sorted);
    }
    return 0;
fail:
    st_free(f);
    return rc;
}

void st_free(StFile *f)
{
    json_free(f->header);
    free(f->tensors);
    memset(f, 0, sizeof(*f));
}

StTensor *st_find(const StFile *f, const char *name)
{
    for (size_t i = 0; i < f->n_tensors; i++)
        if (strcmp(f->tensors[i].name, name) == 0)
            return &f->tensors[i];
    return NULL;
}

const char *st_meta(const StFile *f, const char *key)
{
    const JsonValue *v = json_get(f->metadata, key);
    return v && v->type == JSON_STRING ? v->string : NULL;
}

int st_read_file(const char *path, uint8_t **buf, size_t *size, size_t max_size,
                 char *err, size_t errlen)
{
    *buf = NULL;
    *size = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return set_err(err, errlen, -errno, "cannot open %.200s", path);
    int rc = 0;
    if (fseek(fp, 0, SEEK_END) != 0) {
        rc = set_err(err, errlen, -EIO, "cannot seek %.200s", path);
        goto out;
    }
    long len = ftell(fp);
    if (len < 0 || (unsigned long)len > max_size) {
        rc = set_err(err, errlen, -EFBIG, "%.200s: not a regular file or too large", path);
        goto out;
    }
    rewind(fp);
    *buf = malloc(len ? (size_t)len : 1);
    if (!*buf) {
        rc = set_err(err, errlen, -ENOMEM, "out of memory reading %.200s", path);
        goto out;
    }
    if (fread(*buf, 1, (size_t)len, fp) != (size_t)len) {
        free(*buf);
        *buf = NULL;
        rc = set_err(err, errlen, -EIO, "short read on %.200s", path);
        goto out;
    }
    *size = (size_t)len;
out:
    fclose(fp);
    return rc;
}
