/* A small strict JSON parser (RFC 8259) for model headers and configs. */
#ifndef ARG_JSON_H
#define ARG_JSON_H

#include <stddef.h>
#include <stdint.h>

typedef enum JsonType {
    JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT
} JsonType;

typedef struct JsonValue JsonValue;
struct JsonValue {
    JsonType type;
    int boolean;
    double number;
    int is_integer;         /* the literal had no fraction or exponent */
    int64_t integer;        /* valid when is_integer (and within int64) */
    char *string;           /* JSON_STRING: NUL-terminated UTF-8 (no embedded NUL) */
    size_t len;             /* string length, or number of items / members */
    JsonValue *items;       /* JSON_ARRAY items, or JSON_OBJECT member values */
    char **keys;            /* JSON_OBJECT member names */
};

/* Parse text[0..size). Returns NULL on error with a message in err.
 * Depth is limited to 32, strings to 1 MiB, total items to 1e6. */
JsonValue *json_parse(const char *text, size_t size, char *err, size_t errlen);
void json_free(JsonValue *v);
/* Member of an object by name, or NULL. */
const JsonValue *json_get(const JsonValue *obj, const char *key);

#endif
