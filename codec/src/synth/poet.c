/* ARG-Poet model files (spec/poet.md §2): every check of the format, the
 * configuration and each tensor's name, shape and dtype. */
#include "poet.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../bitstream.h"
#include "../json.h"
#include "../safetensors.h"

#define MAX_POET_FILE ((size_t)1 << 31)

static int errf(char *err, size_t errlen, int code, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

static const char *const k_fields[] = {
    "token_bits", "dim", "layers", "heads", "mlp", "context", "window", "anchor_max", "ln_eps",
};

static int cfg_int(const JsonValue *o, const char *key, int lo, int hi, int *out, char *err,
                   size_t errlen)
{
    const JsonValue *v = json_get(o, key);
    if (!v)
        return errf(err, errlen, -EINVAL, "config: missing \"%s\"", key);
    if (v->type != JSON_NUMBER || !v->is_integer || v->integer < lo || v->integer > hi)
        return errf(err, errlen, -EINVAL, "config: \"%s\" must be an integer in [%d, %d]", key, lo, hi);
    *out = (int)v->integer;
    return 0;
}

static int parse_config(ArgPoet *p, const char *text, char *err, size_t errlen)
{
    char jerr[200];
    JsonValue *o = json_parse(text, strlen(text), jerr, sizeof(jerr));
    if (!o)
        return errf(err, errlen, -EINVAL, "config: %s", jerr);
    int rc = -EINVAL;
    if (o->type != JSON_OBJECT) {
        errf(err, errlen, 0, "config: not a JSON object");
        goto out;
    }
    for (size_t i = 0; i < o->len; i++) {
        int known = 0;
        for (size_t f = 0; f < sizeof(k_fields) / sizeof(k_fields[0]); f++)
            known |= strcmp(o->keys[i], k_fields[f]) == 0;
        if (!known) {
            errf(err, errlen, 0, "config: unknown field \"%.60s\"", o->keys[i]);
            goto out;
        }
    }
    if (cfg_int(o, "token_bits", 1, ARG_TOKEN_MAX_BITS, &p->B, err, errlen) ||
        cfg_int(o, "dim", 1, 4096, &p->d, err, errlen) ||
        cfg_int(o, "layers", 1, 64, &p->L, err, errlen) ||
        cfg_int(o, "heads", 1, 64, &p->h, err, errlen) ||
        cfg_int(o, "mlp", 1, 16384, &p->m, err, errlen) ||
        cfg_int(o, "context", 1, POET_MAX_CONTEXT, &p->K, err, errlen) ||
        cfg_int(o, "window", 3, 15, &p->w, err, errlen) ||
        cfg_int(o, "anchor_max", 1, POET_MAX_ANCHOR, &p->D, err, errlen))
        goto out;
    if (p->d % p->h) {
        errf(err, errlen, 0, "config: \"dim\" %d is not a multiple of \"heads\" %d", p->d, p->h);
        goto out;
    }
    if (p->w % 2 == 0) {
        errf(err, errlen, 0, "config: \"window\" %d must be odd", p->w);
        goto out;
    }
    p->eps = 1e-5f;
    const JsonValue *eps = json_get(o, "ln_eps");
    if (eps) {
        if (eps->type != JSON_NUMBER || !(eps->number > 0) || !(eps->number < 1)) {
            errf(err, errlen, 0, "config: \"ln_eps\" must be a number in (0, 1)");
            goto out;
        }
        p->eps = (float)eps->number;
    }
    rc = 0;
out:
    json_free(o);
    return rc;
}

typedef struct Binder {
    StFile *st;
    float *arena;
    size_t used;
    char *err;
    size_t errlen;
    int failed;
} Binder;

static const float *bindn(Binder *b, const char *name, int ndim, int64_t s0, int64_t s1, int64_t s2)
{
    if (b->failed)
        return NULL;
    StTensor *t = st_find(b->st, name);
    if (!t) {
        errf(b->err, b->errlen, 0, "missing tensor \"%s\"", name);
        b->failed = 1;
        return NULL;
    }
    int64_t want[3] = { s0, s1, s2 };
    int ok = t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++)
        ok = t->shape[i] == want[i];
    if (!ok) {
        char ws[80] = "", gs[96] = "";
        for (int i = 0; i < ndim; i++)
            snprintf(ws + strlen(ws), sizeof(ws) - strlen(ws), "%s%lld", i ? "," : "", (long long)want[i]);
        for (int i = 0; i < t->ndim; i++)
            snprintf(gs + strlen(gs), sizeof(gs) - strlen(gs), "%s%lld", i ? "," : "", (long long)t->shape[i]);
        errf(b->err, b->errlen, 0, "tensor \"%s\" has shape [%s], the config implies [%s]", name, gs, ws);
        b->failed = 1;
        return NULL;
    }
    if (t->used) { /* a name given twice cannot happen (st_parse refuses it) */
        errf(b->err, b->errlen, 0, "tensor \"%s\" bound twice", name);
        b->failed = 1;
        return NULL;
    }
    float *dst = b->arena + b->used;
    st_to_f32(t, dst);
    b->used += (size_t)t->numel;
    t->used = 1;
    return dst;
}

static const float *bind1(Binder *b, const char *name, int64_t a)
{
    return bindn(b, name, 1, a, 0, 0);
}

static const float *bind2(Binder *b, const char *name, int64_t a, int64_t c)
{
    return bindn(b, name, 2, a, c, 0);
}

static void bind_linear(Binder *b, ConvW *c, const char *prefix, int ci, int co)
{
    char name[96];
    memset(c, 0, sizeof(*c));
    c->ci = ci;
    c->co = co;
    c->kt = c->ks = c->st = c->ss = 1;
    c->K = ci;
    snprintf(name, sizeof(name), "%s.weight", prefix);
    c->w = bind2(b, name, co, ci);
    snprintf(name, sizeof(name), "%s.bias", prefix);
    c->bias = bind1(b, name, co);
    if (!b->failed && conv_pack(c) < 0) {
        errf(b->err, b->errlen, 0, "out of memory");
        b->failed = 1;
    }
}

static int hex16(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (!s || strlen(s) != 16)
        return -1;
    for (int i = 0; i < 16; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return -1;
        v = v << 4 | (uint64_t)d;
    }
    *out = v;
    return 0;
}

void arg_poet_free(ArgPoet *p)
{
    if (!p)
        return;
    if (p->layers)
        for (int l = 0; l < p->L; l++) {
            free(p->layers[l].qkv.wpack);
            free(p->layers[l].out.wpack);
            free(p->layers[l].fc1.wpack);
            free(p->layers[l].fc2.wpack);
        }
    free(p->layers);
    free(p->arena);
    free(p);
}

int arg_poet_load_memory(ArgPoet **out, const void *data, size_t size, char *err, size_t errlen)
{
    char dummy[8];
    if (!err) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    err[0] = 0;
    if (!out || (!data && size))
        return -EINVAL;
    *out = NULL;
    StFile st;
    int rc = st_parse(&st, data, size, err, errlen);
    if (rc < 0)
        return rc;
    rc = -EINVAL;
    ArgPoet *p = calloc(1, sizeof(*p));
    if (!p)
        goto nomem;
    const char *fmt = st_meta(&st, "format"), *ver = st_meta(&st, "format_version");
    const char *cfgs = st_meta(&st, "config"), *name = st_meta(&st, "name");
    const char *tid = st_meta(&st, "tokenizer_id"), *tname = st_meta(&st, "tokenizer_name");
    if (!st.metadata || !fmt || strcmp(fmt, "arg-poet") != 0) {
        errf(err, errlen, 0, "not an ARG-Poet model: __metadata__ \"format\" is not \"arg-poet\"");
        goto fail;
    }
    if (!ver || strcmp(ver, "1") != 0) {
        errf(err, errlen, 0, "unsupported format_version \"%.20s\" (this build reads \"1\")", ver ? ver : "(none)");
        goto fail;
    }
    if (!cfgs) {
        errf(err, errlen, 0, "__metadata__ has no \"config\"");
        goto fail;
    }
    if (!name || !name[0] || !arg_name_valid(name, 63)) {
        errf(err, errlen, 0, "__metadata__ \"name\" must be 1..63 characters of [A-Za-z0-9._-]");
        goto fail;
    }
    if (hex16(tid, &p->info.tokenizer_id) < 0) {
        errf(err, errlen, 0, "__metadata__ \"tokenizer_id\" must be 16 lower-case hex digits");
        goto fail;
    }
    if (tname && tname[0] && !arg_name_valid(tname, 63)) {
        errf(err, errlen, 0, "__metadata__ \"tokenizer_name\" must be up to 63 characters of [A-Za-z0-9._-]");
        goto fail;
    }
    if ((rc = parse_config(p, cfgs, err, errlen)) < 0)
        goto fail;
    rc = -EINVAL;
    size_t total = 0;
    for (size_t i = 0; i < st.n_tensors; i++)
        total += (size_t)st.tensors[i].numel;
    p->arena = malloc((total ? total : 1) * sizeof(float));
    p->layers = calloc((size_t)p->L, sizeof(PoetLayer));
    if (!p->arena || !p->layers)
        goto nomem;
    Binder b = { &st, p->arena, 0, err, errlen, 0 };
    const int B = p->B, d = p->d, K = p->K, D = p->D;
    char nm[96];
    p->cur = bind2(&b, "in.cur", d, B);
    p->cur_bias = bind1(&b, "in.cur_bias", d);
    p->mask = bind1(&b, "in.mask", d);
    for (int k = 0; k < K; k++) {
        snprintf(nm, sizeof(nm), "in.past.%d", k);
        p->past[k] = bind2(&b, nm, d, B);
    }
    p->past_none = bind2(&b, "in.past_none", K, d);
    p->anchor = bind2(&b, "in.anchor", d, B);
    p->anchor_dist = bind2(&b, "in.anchor_dist", D, d);
    p->anchor_none = bind1(&b, "in.anchor_none", d);
    p->task = bind2(&b, "in.task", 4, d);
    p->key = bind2(&b, "in.key", 2, d);
    for (int l = 0; l < p->L && !b.failed; l++) {
        PoetLayer *ly = &p->layers[l];
        snprintf(nm, sizeof(nm), "blk.%d.ln1.weight", l);
        ly->ln1_w = bind1(&b, nm, d);
        snprintf(nm, sizeof(nm), "blk.%d.ln1.bias", l);
        ly->ln1_b = bind1(&b, nm, d);
        snprintf(nm, sizeof(nm), "blk.%d.attn.qkv", l);
        bind_linear(&b, &ly->qkv, nm, d, 3 * d);
        snprintf(nm, sizeof(nm), "blk.%d.attn.rel", l);
        ly->rel = bindn(&b, nm, 3, p->h, p->w, p->w);
        snprintf(nm, sizeof(nm), "blk.%d.attn.out", l);
        bind_linear(&b, &ly->out, nm, d, d);
        snprintf(nm, sizeof(nm), "blk.%d.ln2.weight", l);
        ly->ln2_w = bind1(&b, nm, d);
        snprintf(nm, sizeof(nm), "blk.%d.ln2.bias", l);
        ly->ln2_b = bind1(&b, nm, d);
        snprintf(nm, sizeof(nm), "blk.%d.mlp.fc1", l);
        bind_linear(&b, &ly->fc1, nm, d, p->m);
        snprintf(nm, sizeof(nm), "blk.%d.mlp.fc2", l);
        bind_linear(&b, &ly->fc2, nm, p->m, d);
    }
    p->out_w = bind1(&b, "out.ln.weight", d);
    p->out_b = bind1(&b, "out.ln.bias", d);
    p->bits_w = bind2(&b, "out.bits.weight", B, d);
    p->bits_b = bind1(&b, "out.bits.bias", B);
    p->bits_ar = bind2(&b, "out.bits.ar", B, B);
    if (b.failed)
        goto fail;
    for (size_t i = 0; i < st.n_tensors; i++)
        if (!st.tensors[i].used) {
            errf(err, errlen, 0, "unexpected tensor \"%.80s\" (not part of an ARG-Poet model)", st.tensors[i].name);
            goto fail;
        }
    for (int i = 0; i < B; i++)
        for (int j = i; j < B; j++)
            if (p->bits_ar[i * B + j] != 0.f) {
                errf(err, errlen, 0, "tensor \"out.bits.ar\" has a non-zero entry [%d][%d] on or above the diagonal",
                     i, j);
                goto fail;
            }
    for (size_t i = 0; i < total; i++)
        if (!(p->arena[i] - p->arena[i] == 0.f)) {
            errf(err, errlen, 0, "a tensor holds NaN or infinity");
            goto fail;
        }
    ArgPoetInfo *in = &p->info;
    snprintf(in->name, sizeof(in->name), "%s", name);
    snprintf(in->tokenizer_name, sizeof(in->tokenizer_name), "%s", tname ? tname : "");
    in->id = arg_hash64(st.data, st.data_size);
    in->token_bits = B;
    in->dim = d;
    in->layers = p->L;
    in->heads = p->h;
    in->mlp = p->m;
    in->context = K;
    in->window = p->w;
    in->anchor_max = D;
    in->ln_eps = p->eps;
    in->params = (int64_t)total;
    snprintf(in->config_json, sizeof(in->config_json), "%s", cfgs);
    st_free(&st);
    *out = p;
    return 0;
nomem:
    errf(err, errlen, 0, "out of memory");
    rc = -ENOMEM;
fail:
    st_free(&st);
    arg_poet_free(p);
    return rc;
}

int arg_poet_load(ArgPoet **out, const char *path, char *err, size_t errlen)
{
    uint8_t *buf;
    size_t size;
    if (!out || !path)
        return -EINVAL;
    *out = NULL;
    int rc = st_read_file(path, &buf, &size, MAX_POET_FILE, err, errlen);
    if (rc < 0)
        return rc;
    rc = arg_poet_load_memory(out, buf, size, err, errlen);
    if (rc < 0 && err && errlen) {
        char tmp[512];
        snprintf(tmp, sizeof(tmp), "%s: %s", path, err);
        snprintf(err, errlen, "%s", tmp);
    }
    free(buf);
    return rc;
}

const ArgPoetInfo *arg_poet_info(const ArgPoet *p)
{
    return p ? &p->info : NULL;
}
