/* Model loading: safetensors -> validated config -> op lists with weights. */
#include "model.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitstream.h"
#include "json.h"
#include "safetensors.h"

#define MAX_MODEL_FILE ((size_t)4 << 30)

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

/* ------------------------------------------------------------------ config */

static int get_int(const JsonValue *o, const char *key, int lo, int hi, int *out, char *err,
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

static int get_int_array(const JsonValue *o, const char *key, int n, int lo, int hi, int *out,
                         char *err, size_t errlen)
{
    const JsonValue *v = json_get(o, key);
    if (!v)
        return errf(err, errlen, -EINVAL, "config: missing \"%s\"", key);
    if (v->type != JSON_ARRAY || (n >= 0 && (int)v->len != n))
        return errf(err, errlen, -EINVAL, "config: \"%s\" must be an array of %d integers", key, n);
    for (size_t i = 0; i < v->len; i++) {
        const JsonValue *e = &v->items[i];
        if (e->type != JSON_NUMBER || !e->is_integer || e->integer < lo || e->integer > hi)
            return errf(err, errlen, -EINVAL, "config: \"%s\"[%zu] must be an integer in [%d, %d]",
                        key, i, lo, hi);
        out[i] = (int)e->integer;
    }
    return 0;
}

static int get_enum(const JsonValue *o, const char *key, const char *a, const char *b, int *out,
                    char *err, size_t errlen)
{
    const JsonValue *v = json_get(o, key);
    if (!v)
        return errf(err, errlen, -EINVAL, "config: missing \"%s\"", key);
    if (v->type == JSON_STRING && strcmp(v->string, a) == 0)
        *out = 0;
    else if (v->type == JSON_STRING && strcmp(v->string, b) == 0)
        *out = 1;
    else
        return errf(err, errlen, -EINVAL, "config: \"%s\" must be \"%s\" or \"%s\"", key, a, b);
    return 0;
}

static const char *const k_fields[] = {
    "in_channels", "patch_size", "base_channels", "channel_mult", "enc_blocks", "dec_blocks",
    "mid_blocks", "down", "num_groups", "norm_eps", "norm_scope", "clip_frames", "padding",
    "decoder_norm", "agn_var", "lfq_bits",
};

int config_parse(ArgConfig *c, const char *text, char *err, size_t errlen)
{
    char jerr[200];
    memset(c, 0, sizeof(*c));
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
    const JsonValue *mult = json_get(o, "channel_mult");
    if (!mult || mult->type != JSON_ARRAY || mult->len < 1 || mult->len > ARG_MAX_LEVELS) {
        errf(err, errlen, 0, "config: \"channel_mult\" must be an array of 1..%d integers", ARG_MAX_LEVELS);
        goto out;
    }
    c->levels = (int)mult->len;
    int scope, pad, dnorm, var;
    if (get_int(o, "in_channels", 1, 4, &c->in_channels, err, errlen) ||
        get_int(o, "patch_size", 1, 4, &c->patch, err, errlen) ||
        get_int(o, "base_channels", 1, 1024, &c->base, err, errlen) ||
        get_int_array(o, "channel_mult", c->levels, 1, 16, c->mult, err, errlen) ||
        get_int_array(o, "enc_blocks", c->levels, 0, 8, c->enc_blocks, err, errlen) ||
        get_int_array(o, "dec_blocks", c->levels, 0, 8, c->dec_blocks, err, errlen) ||
        get_int(o, "mid_blocks", 0, 8, &c->mid_blocks, err, errlen) ||
        get_int(o, "num_groups", 1, 256, &c->groups, err, errlen) ||
        get_enum(o, "norm_scope", "frame", "clip", &scope, err, errlen) ||
        get_enum(o, "padding", "zeros", "replicate", &pad, err, errlen) ||
        get_enum(o, "decoder_norm", "plain", "adaptive", &dnorm, err, errlen) ||
        get_enum(o, "agn_var", "biased", "unbiased", &var, err, errlen) ||
        get_int(o, "lfq_bits", 1, ARG_MAX_BITS, &c->bits, err, errlen))
        goto out;
    if (c->patch == 3) {
        errf(err, errlen, 0, "config: \"patch_size\" must be 1, 2 or 4");
        goto out;
    }
    c->clip_scope = scope;
    c->replicate = pad;
    c->adaptive = dnorm;
    c->agn_unbiased = var;
    const JsonValue *eps = json_get(o, "norm_eps");
    if (!eps || eps->type != JSON_NUMBER || !(eps->number > 0) || eps->number > 1) {
        errf(err, errlen, 0, "config: \"norm_eps\" must be a number in (0, 1]");
        goto out;
    }
    c->eps = (float)eps->number;
    const JsonValue *down = json_get(o, "down");
    if (!down || down->type != JSON_ARRAY || (int)down->len != c->levels - 1) {
        errf(err, errlen, 0, "config: \"down\" must have %d [temporal, spatial] pairs", c->levels - 1);
        goto out;
    }
    c->ft = 1;
    c->fs = c->patch;
    for (int l = 0; l + 1 < c->levels; l++) {
        const JsonValue *d = &down->items[l];
        if (d->type != JSON_ARRAY || d->len != 2) {
            errf(err, errlen, 0, "config: \"down\"[%d] must be [temporal, spatial]", l);
            goto out;
        }
        int f[2];
        for (int i = 0; i < 2; i++) {
            const JsonValue *e = &d->items[i];
            if (e->type != JSON_NUMBER || !e->is_integer || (e->integer != 1 && e->integer != 2)) {
                errf(err, errlen, 0, "config: \"down\"[%d] factors must be 1 or 2", l);
                goto out;
            }
            f[i] = (int)e->integer;
        }
        c->down_t[l] = f[0];
        c->down_s[l] = f[1];
        c->ft *= f[0];
        c->fs *= f[1];
    }
    if (c->ft > 16) {
        errf(err, errlen, 0, "config: temporal factor %d exceeds 16", c->ft);
        goto out;
    }
    for (int l = 0; l < c->levels; l++)
        if ((long)c->base * c->mult[l] > 4096) {
            errf(err, errlen, 0, "config: level %d is wider than 4096 channels", l);
            goto out;
        }
    if (get_int(o, "clip_frames", 1, ARG_MAX_CLIP, &c->clip_frames, err, errlen))
        goto out;
    if ((c->clip_frames - 1) % c->ft != 0) {
        errf(err, errlen, 0, "config: \"clip_frames\" must be 1 + %d*k", c->ft);
        goto out;
    }
    if (!scope)
        c->clip_frames = 0; /* streams: the value is not used */
    rc = 0;
out:
    json_free(o);
    return rc;
}

/* ---------------------------------------------------------------- building */

typedef struct Builder {
    StFile *st;
    float *arena;
    size_t arena_used, arena_size;
    float **tensor_f32;   /* per tensor in st order, converted lazily */
    char *err;
    size_t errlen;
    int failed;
    int64_t params_counter;
} Builder;

static const float *bind(Builder *bd, const char *name, int ndim, const int64_t *shape)
{
    if (bd->failed)
        return NULL;
    StTensor *t = st_find(bd->st, name);
    if (!t) {
        errf(bd->err, bd->errlen, 0, "missing tensor \"%s\"", name);
        bd->failed = 1;
        return NULL;
    }
    int ok = t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++)
        ok = t->shape[i] == shape[i];
    if (!ok) {
        char want[96] = "", got[96] = "";
        for (int i = 0; i < ndim; i++)
            snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s%lld", i ? "," : "",
                     (long long)shape[i]);
        for (int i = 0; i < t->ndim; i++)
            snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%lld", i ? "," : "",
                     (long long)t->shape[i]);
        errf(bd->err, bd->errlen, 0, "tensor \"%s\" has shape [%s], the config implies [%s]", name,
             got, want);
        bd->failed = 1;
        return NULL;
    }
    size_t idx = (size_t)(t - bd->st->tensors);
    if (!bd->tensor_f32[idx]) {
        bd->tensor_f32[idx] = bd->arena + bd->arena_used;
        st_to_f32(t, bd->tensor_f32[idx]);
        bd->arena_used += (size_t)t->numel;
        bd->params_counter += t->numel;
    }
    t->used = 1;
    return bd->tensor_f32[idx];
}

static const float *bind1(Builder *bd, const char *name, int64_t a)
{
    int64_t s[1] = { a };
    return bind(bd, name, 1, s);
}

static const float *bind2(Builder *bd, const char *name, int64_t a, int64_t b)
{
    int64_t s[2] = { a, b };
    return bind(bd, name, 2, s);
}

static int make_conv(Builder *bd, ConvW *c, const char *prefix, int ci, int co, int k, int st,
                     int ss, int bias)
{
    char name[160];
    memset(c, 0, sizeof(*c));
    c->ci = ci;
    c->co = co;
    c->kt = c->ks = k;
    c->st = st;
    c->ss = ss;
    c->K = ci * k * k * k;
    int64_t shape[5] = { co, ci, k, k, k };
    snprintf(name, sizeof(name), "%s.weight", prefix);
    c->w = bind(bd, name, 5, shape);
    if (bias) {
        snprintf(name, sizeof(name), "%s.bias", prefix);
        c->bias = bind1(bd, name, co);
    }
    if (bd->failed)
        return -EINVAL;
    if (conv_pack(c) < 0) {
        bd->failed = 1;
        errf(bd->err, bd->errlen, 0, "out of memory");
        return -ENOMEM;
    }
    return 0;
}

static int group_count(int groups, int c)
{
    int g = groups < c ? groups : c;
    while (g > 1 && c % g)
        g--;
    return g;
}

static void make_norm(Builder *bd, Norm *n, const char *prefix, int c, int groups, int affine)
{
    char name[160];
    memset(n, 0, sizeof(*n));
    n->c = c;
    n->groups = group_count(groups, c);
    if (affine) {
        snprintf(name, sizeof(name), "%s.weight", prefix);
        n->w = bind1(bd, name, c);
        snprintf(name, sizeof(name), "%s.bias", prefix);
        n->b = bind1(bd, name, c);
    }
}

static Op *push_op(Builder *bd, Net *net, int kind)
{
    if (bd->failed)
        return NULL;
    if (net->n_ops == net->cap) {
        int ncap = net->cap ? net->cap * 2 : 32;
        Op *n = realloc(net->ops, (size_t)ncap * sizeof(Op));
        if (!n) {
            bd->failed = 1;
            errf(bd->err, bd->errlen, 0, "out of memory");
            return NULL;
        }
        net->ops = n;
        net->cap = ncap;
    }
    Op *op = &net->ops[net->n_ops++];
    memset(op, 0, sizeof(*op));
    op->kind = kind;
    return op;
}

static void add_conv(Builder *bd, Net *net, const char *prefix, int ci, int co, int k, int st,
                     int ss, int bias)
{
    Op *op = push_op(bd, net, OP_CONV);
    if (!op)
        return;
    op->slot = net->n_slots++;
    if (make_conv(bd, &op->conv, prefix, ci, co, k, st, ss, bias) < 0)
        net->n_ops--;
}

static void add_res(Builder *bd, Net *net, const ArgConfig *cfg, const char *prefix, int ci, int co)
{
    char name[160];
    Op *op = push_op(bd, net, OP_RES);
    if (!op)
        return;
    snprintf(name, sizeof(name), "%s.norm1", prefix);
    make_norm(bd, &op->n1, name, ci, cfg->groups, 1);
    snprintf(name, sizeof(name), "%s.norm2", prefix);
    make_norm(bd, &op->n2, name, co, cfg->groups, 1);
    op->slot1 = net->n_slots++;
    op->slot2 = net->n_slots++;
    snprintf(name, sizeof(name), "%s.conv1", prefix);
    make_conv(bd, &op->c1, name, ci, co, 3, 1, 1, 0);
    snprintf(name, sizeof(name), "%s.conv2", prefix);
    make_conv(bd, &op->c2, name, co, co, 3, 1, 1, 0);
    if (ci != co) {
        op->has_sc = 1;
        snprintf(name, sizeof(name), "%s.nin_shortcut", prefix);
        make_conv(bd, &op->sc, name, ci, co, 1, 1, 1, 0);
    }
}

static void free_net(Net *net)
{
    for (int i = 0; i < net->n_ops; i++) {
        free(net->ops[i].conv.wpack);
        free(net->ops[i].c1.wpack);
        free(net->ops[i].c2.wpack);
        free(net->ops[i].sc.wpack);
    }
    free(net->ops);
    memset(net, 0, sizeof(*net));
}

static void build(Builder *bd, ArgModel *m)
{
    const ArgConfig *c = &m->cfg;
    char name[160];
    int P = c->in_channels * c->patch * c->patch, Z = c->bits, L = c->levels;
    /* encoder */
    Net *e = &m->enc;
    if (c->patch > 1) {
        Op *op = push_op(bd, e, OP_S2D);
        if (op)
            op->b = c->patch;
    }
    int ch = c->base * c->mult[0];
    add_conv(bd, e, "encoder.conv_in", P, ch, 3, 1, 1, 0);
    for (int l = 0; l < L; l++) {
        int co = c->base * c->mult[l];
        for (int b = 0; b < c->enc_blocks[l]; b++) {
            snprintf(name, sizeof(name), "encoder.down.%d.block.%d", l, b);
            add_res(bd, e, c, name, ch, co);
            ch = co;
        }
        if (ch != co) { /* a level without blocks cannot change width */
            errf(bd->err, bd->errlen, 0, "config: encoder level %d has no block to change the width", l);
            bd->failed = 1;
            return;
        }
        if (l + 1 < L && (c->down_t[l] > 1 || c->down_s[l] > 1)) {
            snprintf(name, sizeof(name), "encoder.down.%d.downsample", l);
            add_conv(bd, e, name, ch, ch, 3, c->down_t[l], c->down_s[l], 1);
        }
    }
    for (int k = 0; k < c->mid_blocks; k++) {
        snprintf(name, sizeof(name), "encoder.mid.%d", k);
        add_res(bd, e, c, name, ch, ch);
    }
    Op *op = push_op(bd, e, OP_NORM_SILU);
    if (op)
        make_norm(bd, &op->n1, "encoder.norm_out", ch, c->groups, 1);
    add_conv(bd, e, "encoder.conv_out", ch, Z, 1, 1, 1, 1);

    /* decoder */
    Net *d = &m->dec;
    ch = c->base * c->mult[L - 1];
    add_conv(bd, d, "decoder.conv_in", Z, ch, 3, 1, 1, 1);
    for (int k = 0; k < c->mid_blocks; k++) {
        snprintf(name, sizeof(name), "decoder.mid.%d", k);
        add_res(bd, d, c, name, ch, ch);
    }
    for (int l = L - 1; l >= 0; l--) {
        op = push_op(bd, d, OP_LEVEL_NORM);
        if (op) {
            snprintf(name, sizeof(name), "decoder.up.%d.norm", l);
            make_norm(bd, &op->n1, name, ch, c->groups, !c->adaptive);
            if (c->adaptive) {
                char n2[192];
                snprintf(n2, sizeof(n2), "%s.gamma.weight", name);
                op->n1.gw = bind2(bd, n2, ch, Z);
                snprintf(n2, sizeof(n2), "%s.gamma.bias", name);
                op->n1.gb = bind1(bd, n2, ch);
                snprintf(n2, sizeof(n2), "%s.beta.weight", name);
                op->n1.bw = bind2(bd, n2, ch, Z);
                snprintf(n2, sizeof(n2), "%s.beta.bias", name);
                op->n1.bb = bind1(bd, n2, ch);
            }
        }
        int co = c->base * c->mult[l];
        for (int b = 0; b < c->dec_blocks[l]; b++) {
            snprintf(name, sizeof(name), "decoder.up.%d.block.%d", l, b);
            add_res(bd, d, c, name, ch, co);
            ch = co;
        }
        if (ch != co) {
            errf(bd->err, bd->errlen, 0, "config: decoder level %d has no block to change the width", l);
            bd->failed = 1;
            return;
        }
        if (l > 0 && (c->down_t[l - 1] > 1 || c->down_s[l - 1] > 1)) {
            int a = c->down_t[l - 1], b = c->down_s[l - 1];
            snprintf(name, sizeof(name), "decoder.up.%d.upsample", l);
            add_conv(bd, d, name, ch, ch * a * b * b, 3, 1, 1, 1);
            op = push_op(bd, d, OP_D2S);
            if (op) {
                op->a = a;
                op->b = b;
            }
        }
    }
    op = push_op(bd, d, OP_NORM_SILU);
    if (op)
        make_norm(bd, &op->n1, "decoder.norm_out", ch, c->groups, 1);
    add_conv(bd, d, "decoder.conv_out", ch, P, 3, 1, 1, 1);
    if (c->patch > 1) {
        op = push_op(bd, d, OP_D2S);
        if (op) {
            op->a = 1;
            op->b = c->patch;
        }
    }
}

/* MACs of one steady-state chunk, by walking the shapes. */
static double net_macs(const Net *net, int t, int c, int h, int w)
{
    double macs = 0;
    for (int i = 0; i < net->n_ops; i++) {
        const Op *op = &net->ops[i];
        switch (op->kind) {
        case OP_S2D:
            c *= op->b * op->b;
            h /= op->b;
            w /= op->b;
            break;
        case OP_CONV: {
            int to = t / op->conv.st, ho = conv_out_dim(h, 3, op->conv.ss);
            if (op->conv.ks == 1)
                ho = h;
            int wo = op->conv.ks == 1 ? w : conv_out_dim(w, 3, op->conv.ss);
            macs += (double)to * op->conv.co * ho * wo * op->conv.K;
            t = to;
            h = ho;
            w = wo;
            c = op->conv.co;
            break;
        }
        case OP_RES:
            macs += (double)t * h * w * (op->c1.co * (double)op->c1.K + op->c2.co * (double)op->c2.K +
                                         (op->has_sc ? op->sc.co * (double)op->sc.K : 0));
            c = op->c2.co;
            break;
        case OP_D2S:
            t *= op->a;
            c /= op->a * op->b * op->b;
            h *= op->b;
            w *= op->b;
            break;
        default:
            break;
        }
    }
    (void)c;
    return macs;
}

void arg_model_free(ArgModel *m)
{
    if (!m)
        return;
    free_net(&m->enc);
    free_net(&m->dec);
    free(m->arena);
    free(m);
}

int arg_model_load_memory(ArgModel **out, const void *data, size_t size, char *err, size_t errlen)
{
    char dummy[8];
    if (!err) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    err[0] = 0;
    if (!out)
        return -EINVAL;
    *out = NULL;
    StFile st;
    int rc = st_parse(&st, data, size, err, errlen);
    if (rc < 0)
        return rc;
    ArgModel *m = calloc(1, sizeof(*m));
    Builder bd = { &st, NULL, 0, 0, NULL, err, errlen, 0, 0 };
    rc = -EINVAL;
    if (!m)
        goto nomem;
    const char *fmt = st_meta(&st, "format"), *ver = st_meta(&st, "format_version");
    const char *cfgs = st_meta(&st, "config"), *name = st_meta(&st, "name");
    if (!st.metadata || !fmt || strcmp(fmt, "arg-model") != 0) {
        errf(err, errlen, 0, "not an ARG model: __metadata__ \"format\" is not \"arg-model\"");
        goto fail;
    }
    if (!ver || strcmp(ver, "1") != 0) {
        errf(err, errlen, 0, "unsupported format_version \"%s\" (this build reads \"1\")", ver ? ver : "(none)");
        goto fail;
    }
    if (!cfgs) {
        errf(err, errlen, 0, "__metadata__ has no \"config\"");
        goto fail;
    }
    if (name && (!name[0] || !arg_name_valid(name, 63))) {
        errf(err, errlen, 0, "model name must be 1..63 characters of [A-Za-z0-9._-]");
        goto fail;
    }
    if ((rc = config_parse(&m->cfg, cfgs, err, errlen)) < 0)
        goto fail;
    rc = -EINVAL;
    size_t total = 0;
    for (size_t i = 0; i < st.n_tensors; i++)
        total += (size_t)st.tensors[i].numel;
    bd.arena = malloc((total ? total : 1) * sizeof(float));
    bd.tensor_f32 = calloc(st.n_tensors ? st.n_tensors : 1, sizeof(float *));
    if (!bd.arena || !bd.tensor_f32)
        goto nomem;
    bd.arena_size = total;
    m->arena = bd.arena;
    build(&bd, m);
    if (bd.failed)
        goto fail;
    for (size_t i = 0; i < st.n_tensors; i++)
        if (!st.tensors[i].used) {
            errf(err, errlen, 0, "unexpected tensor \"%s\" (not used by the config)", st.tensors[i].name);
            goto fail;
        }
    /* info */
    ArgModelInfo *in = &m->info;
    const ArgConfig *c = &m->cfg;
    snprintf(in->name, sizeof(in->name), "%s", name ? name : "");
    in->id = arg_hash64(st.data, st.data_size);
    in->in_channels = c->in_channels;
    in->lfq_bits = c->bits;
    in->temporal_factor = c->ft;
    in->spatial_factor = c->fs;
    in->clip_frames = c->clip_scope ? c->clip_frames : 0;
    for (size_t i = 0; i < st.n_tensors; i++) {
        if (strncmp(st.tensors[i].name, "encoder.", 8) == 0)
            in->enc_params += st.tensors[i].numel;
        else
            in->dec_params += st.tensors[i].numel;
    }
    {
        int s = c->fs * 8;
        double px = (double)c->ft * s * s;
        in->enc_macs_per_pixel = net_macs(&m->enc, c->ft, c->in_channels, s, s) / px;
        in->dec_macs_per_pixel = net_macs(&m->dec, 1, c->bits, s / c->fs, s / c->fs) / px;
    }
    snprintf(in->config_json, sizeof(in->config_json), "%s", cfgs);
    free(bd.tensor_f32);
    st_free(&st);
    *out = m;
    return 0;
nomem:
    errf(err, errlen, 0, "out of memory");
    rc = -ENOMEM;
fail:
    free(bd.tensor_f32);
    st_free(&st);
    arg_model_free(m);
    return rc;
}

int arg_model_load(ArgModel **out, const char *path, char *err, size_t errlen)
{
    uint8_t *buf;
    size_t size;
    if (!out)
        return -EINVAL;
    *out = NULL;
    int rc = st_read_file(path, &buf, &size, MAX_MODEL_FILE, err, errlen);
    if (rc < 0)
        return rc;
    rc = arg_model_load_memory(out, buf, size, err, errlen);
    if (rc < 0 && err && errlen) {
        char tmp[512];
        snprintf(tmp, sizeof(tmp), "%s: %s", path, err);
        snprintf(err, errlen, "%s", tmp);
    }
    free(buf);
    return rc;
}

const ArgModelInfo *arg_model_info(const ArgModel *m)
{
    return m ? &m->info : NULL;
}
