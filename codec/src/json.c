/* Strict recursive-descent JSON parser with bounded depth and sizes. */
#include "json.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 32
#define JSON_MAX_STRING (1u << 20)
#define JSON_MAX_ITEMS 1000000

typedef struct Parser {
    const char *p, *end, *start;
    char *err;
    size_t errlen;
    size_t items;
    int failed;
} Parser;

static void fail(Parser *ps, const char *fmt, ...)
{
    if (ps->failed)
        return;
    ps->failed = 1;
    if (ps->err && ps->errlen) {
        char msg[160];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        snprintf(ps->err, ps->errlen, "JSON at byte %td: %s", ps->p - ps->start, msg);
    }
}

static void skip_ws(Parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static void free_value(JsonValue *v)
{
    if (v->type == JSON_STRING) {
        free(v->string);
    } else if (v->type == JSON_ARRAY || v->type == JSON_OBJECT) {
        for (size_t i = 0; i < v->len; i++) {
            free_value(&v->items[i]);
            if (v->keys)
                free(v->keys[i]);
        }
        free(v->items);
        free(v->keys);
    }
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int read_hex4(Parser *ps, unsigned *out)
{
    if (ps->end - ps->p < 4) {
        fail(ps, "truncated \\u escape");
        return -1;
    }
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(ps->p[i]);
        if (h < 0) {
            fail(ps, "bad \\u escape");
            return -1;
        }
        v = v << 4 | (unsigned)h;
    }
    ps->p += 4;
    *out = v;
    return 0;
}

/* Parses a string at ps->p (which points at the opening quote). */
static char *parse_string(Parser *ps, size_t *out_len)
{
    ps->p++; /* opening quote */
    size_t cap = 16, len = 0;
    char *s = malloc(cap);
    if (!s) {
        fail(ps, "out of memory");
        return NULL;
    }
    for (;;) {
        if (ps->p >= ps->end) {
            fail(ps, "unterminated string");
            goto error;
        }
        unsigned char c = (unsigned char)*ps->p++;
        unsigned cp;
        if (c == '"')
            break;
        if (c < 0x20) {
            fail(ps, "control character in string");
            goto error;
        }
        if (c == '\\') {
            if (ps->p >= ps->end) {
                fail(ps, "unterminated escape");
                goto error;
            }
            char e = *ps->p++;
            switch (e) {
            case '"': cp = '"'; break;
            case '\\': cp = '\\'; break;
            case '/': cp = '/'; break;
            case 'b': cp = '\b'; break;
            case 'f': cp = '\f'; break;
            case 'n': cp = '\n'; break;
            case 'r': cp = '\r'; break;
            case 't': cp = '\t'; break;
            case 'u':
                if (read_hex4(ps, &cp) < 0)
                    goto error;
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    unsigned lo;
                    if (ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u') {
                        fail(ps, "unpaired surrogate");
                        goto error;
                    }
                    ps->p += 2;
                    if (read_hex4(ps, &lo) < 0)
                        goto error;
                    if (lo < 0xDC00 || lo > 0xDFFF) {
                        fail(ps, "bad surrogate pair");
                        goto error;
                    }
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    fail(ps, "unpaired surrogate");
                    goto error;
                }
                if (cp == 0) {
                    fail(ps, "NUL in string");
                    goto error;
                }
                break;
            default:
                fail(ps, "bad escape '\\%c'", e);
                goto error;
            }
        } else {
            cp = c; /* raw byte: UTF-8 passes through unchanged */
        }
        if (len + 5 > cap) {
            if (cap >= JSON_MAX_STRING) {
                fail(ps, "string too long");
                goto error;
            }
            cap *= 2;
            char *n = realloc(s, cap);
            if (!n) {
                fail(ps, "out of memory");
                goto error;
            }
            s = n;
        }
        if (c == '\\' && cp >= 0x80) {
            if (cp < 0x800) {
                s[len++] = (char)(0xC0 | cp >> 6);
            } else if (cp < 0x10000) {
                s[len++] = (char)(0xE0 | cp >> 12);
                s[len++] = (char)(0x80 | ((cp >> 6) & 0x3F));
            } else {
                s[len++] = (char)(0xF0 | cp >> 18);
                s[len++] = (char)(0x80 | ((cp >> 12) & 0x3F));
                s[len++] = (char)(0x80 | ((cp >> 6) & 0x3F));
            }
            s[len++] = (char)(0x80 | (cp & 0x3F));
        } else {
            s[len++] = (char)cp;
        }
    }
    s[len] = 0;
    *out_len = len;
    return s;
error:
    free(s);
    return NULL;
}

static int parse_value(Parser *ps, JsonValue *v, int depth);

static int parse_number(Parser *ps, JsonValue *v)
{
    const char *s = ps->p;
    const char *q = s;
    int integer = 1;
    if (q < ps->end && *q == '-')
        q++;
    if (q >= ps->end || *q < '0' || *q > '9') {
        fail(ps, "bad number");
        return -1;
    }
    if (*q == '0') {
        q++;
    } else {
        while (q < ps->end && *q >= '0' && *q <= '9')
            q++;
    }
    if (q < ps->end && *q == '.') {
        integer = 0;
        q++;
        if (q >= ps->end || *q < '0' || *q > '9') {
            fail(ps, "bad fraction");
            return -1;
        }
        while (q < ps->end && *q >= '0' && *q <= '9')
            q++;
    }
    if (q < ps->end && (*q == 'e' || *q == 'E')) {
        integer = 0;
        q++;
        if (q < ps->end && (*q == '+' || *q == '-'))
            q++;
        if (q >= ps->end || *q < '0' || *q > '9') {
            fail(ps, "bad exponent");
            return -1;
        }
        while (q < ps->end && *q >= '0' && *q <= '9')
            q++;
    }
    size_t n = (size_t)(q - s);
    char buf[64];
    if (n >= sizeof(buf)) {
        fail(ps, "number too long");
        return -1;
    }
    memcpy(buf, s, n);
    buf[n] = 0;
    v->type = JSON_NUMBER;
    v->number = strtod(buf, NULL);
    if (!isfinite(v->number)) {
        fail(ps, "number out of range");
        return -1;
    }
    if (integer) {
        errno = 0;
        long long ll = strtoll(buf, NULL, 10);
        if (errno == 0) {
            v->is_integer = 1;
            v->integer = ll;
        }
    }
    ps->p = q;
    return 0;
}

static int literal(Parser *ps, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0) {
        fail(ps, "unexpected token");
        return -1;
    }
    ps->p += n;
    return 0;
}

static int push_item(Parser *ps, JsonValue *v, size_t *cap, int with_key)
{
    if (++ps->items > JSON_MAX_ITEMS) {
        fail(ps, "too many items");
        return -1;
    }
    if (v->len == *cap) {
        size_t ncap = *cap ? *cap * 2 : 4;
        JsonValue *ni = realloc(v->items, ncap * sizeof(*ni));
        if (!ni) {
            fail(ps, "out of memory");
            return -1;
        }
        v->items = ni;
        if (with_key) {
            char **nk = realloc(v->keys, ncap * sizeof(*nk));
            if (!nk) {
                fail(ps, "out of memory");
                return -1;
            }
            v->keys = nk;
        }
        *cap = ncap;
    }
    memset(&v->items[v->len], 0, sizeof(JsonValue));
    if (with_key)
        v->keys[v->len] = NULL;
    return 0;
}

static int cmp_key(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Refuses an object with two members of one name. Sorting a copy of the
 * names keeps this O(n log n): comparing each name with all earlier ones
 * took minutes on a header of a million members. */
static int check_unique_keys(Parser *ps, const JsonValue *v)
{
    if (v->len < 2)
        return 0;
    char **k = malloc(v->len * sizeof(*k));
    if (!k) {
        fail(ps, "out of memory");
        return -1;
    }
    memcpy(k, v->keys, v->len * sizeof(*k));
    qsort(k, v->len, sizeof(*k), cmp_key);
    int rc = 0;
    for (size_t i = 1; i < v->len; i++) {
        if (strcmp(k[i - 1], k[i]) == 0) {
            fail(ps, "duplicate member \"%.60s\"", k[i]);
            rc = -1;
            break;
        }
    }
    free(k);
    return rc;
}

static int parse_value(Parser *ps, JsonValue *v, int depth)
{
    memset(v, 0, sizeof(*v));
    if (depth > JSON_MAX_DEPTH) {
        fail(ps, "nesting too deep");
        return -1;
    }
    skip_ws(ps);
    if (ps->p >= ps->end) {
        fail(ps, "unexpected end");
        return -1;
    }
    char c = *ps->p;
    size_t cap = 0;
    switch (c) {
    case 'n': v->type = JSON_NULL; return literal(ps, "null");
    case 't': v->type = JSON_BOOL; v->boolean = 1; return literal(ps, "true");
    case 'f': v->type = JSON_BOOL; return literal(ps, "false");
    case '"':
        v->string = parse_string(ps, &v->len);
        if (!v->string)
            return -1;
        v->type = JSON_STRING;
        return 0;
    case '[':
        v->type = JSON_ARRAY;
        ps->p++;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ']') {
            ps->p++;
            return 0;
        }
        for (;;) {
            if (push_item(ps, v, &cap, 0) < 0)
                return -1;
            v->len++;
            if (parse_value(ps, &v->items[v->len - 1], depth + 1) < 0)
                return -1;
            skip_ws(ps);
            if (ps->p < ps->end && *ps->p == ',') {
                ps->p++;
                continue;
            }
            if (ps->p < ps->end && *ps->p == ']') {
                ps->p++;
                return 0;
            }
            fail(ps, "expected ',' or ']'");
            return -1;
        }
    case '{':
        v->type = JSON_OBJECT;
        ps->p++;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == '}') {
            ps->p++;
            return 0;
        }
        for (;;) {
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != '"') {
                fail(ps, "expected a member name");
                return -1;
            }
            if (push_item(ps, v, &cap, 1) < 0)
                return -1;
            v->len++;
            size_t klen;
            char *key = parse_string(ps, &klen);
            if (!key)
                return -1;
            v->keys[v->len - 1] = key;
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':') {
                fail(ps, "expected ':'");
                return -1;
            }
            ps->p++;
            if (parse_value(ps, &v->items[v->len - 1], depth + 1) < 0)
                return -1;
            skip_ws(ps);
            if (ps->p < ps->end && *ps->p == ',') {
                ps->p++;
                continue;
            }
            if (ps->p < ps->end && *ps->p == '}') {
                ps->p++;
                return check_unique_keys(ps, v);
            }
            fail(ps, "expected ',' or '}'");
            return -1;
        }
    default:
        if (c == '-' || (c >= '0' && c <= '9'))
            return parse_number(ps, v);
        fail(ps, "unexpected character 0x%02x", (unsigned char)c);
        return -1;
    }
}

JsonValue *json_parse(const char *text, size_t size, char *err, size_t errlen)
{
    Parser ps = { text, text + size, text, err, errlen, 0, 0 };
    JsonValue *v = calloc(1, sizeof(*v));
    if (!v) {
        if (err && errlen)
            snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (parse_value(&ps, v, 0) == 0) {
        skip_ws(&ps);
        if (ps.p != ps.end)
            fail(&ps, "trailing data");
    }
    if (ps.failed) {
        free_value(v);
        free(v);
        return NULL;
    }
    return v;
}

void json_free(JsonValue *v)
{
    if (!v)
        return;
    free_value(v);
    free(v);
}

const JsonValue *json_get(const JsonValue *obj, const char *key)
{
    if (!obj || obj->type != JSON_OBJECT)
        return NULL;
    for (size_t i = 0; i < obj->len; i++)
        if (strcmp(obj->keys[i], key) == 0)
            return &obj->items[i];
    return NULL;
}
