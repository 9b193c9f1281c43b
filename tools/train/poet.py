"""PyTorch twin of ARG-Poet, the token transformer of spec/poet.md (normative).

The model reads and writes grids of 18-bit LFQ tokens. One forward pass (spec §3) maps
the state of the current latent frame (known tokens / unknown positions), the K past
latent frames, an optional anchor frame, the task and the keyframe flag to one hidden
vector per position; the bit head (§3.5) turns it into 18 autoregressive bit logits.

    model = Poet(default_config())
    logits = model(cur, known, past, past_present, anchor, anchor_dist, task, key,
                   target=tokens)           # [N, H, W, B], teacher forced (§3.5)
    bits = code_length(model, tokens, ...)  # [N, H, W] bits per position (§4)
    toks = generate_frame(model, ...)       # §4 + §5 (greedy or seeded sampling)
    save_poet(path, model, {"name": ..., "tokenizer_id": ..., "tokenizer_name": ...})
    model, meta = load_poet(path)

Tensor layouts: token grids are int64 [N, H, W] (H rows, W columns of tokens);
past frames [N, K, H, W] with past[:, k] = latent frame t-1-k; past_present bool [N, K];
anchor [N, H, W] with anchor_dist int64 [N] (0: no anchor, else j in 1..D); task int64
[N] (0 continue, 1 inpaint, 2 outpaint, 3 interpolate); key int64 [N] (1: keyframe).
"""

import json
import math
import os
import sys
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

FORMAT = "arg-poet"
FORMAT_VERSION = "1"
TASKS = {"continue": 0, "inpaint": 1, "outpaint": 2, "interpolate": 3}
CONFIG_FIELDS = ("token_bits", "dim", "layers", "heads", "mlp", "context", "window",
                 "anchor_max", "ln_eps")
GROUPS = 4
BIT_GROUP = 6  # §5: bits are chosen in groups of six
LN2 = math.log(2.0)


class PoetError(ValueError):
    """An invalid configuration or model file (the message names the problem)."""


def default_config(**over):
    """The shipped model's configuration (poet-s8), with optional overrides."""
    cfg = OrderedDict([("token_bits", 18), ("dim", 128), ("layers", 4), ("heads", 4),
                       ("mlp", 512), ("context", 3), ("window", 7), ("anchor_max", 4),
                       ("ln_eps", 1e-5)])
    for k, v in over.items():
        if k not in cfg:
            raise PoetError(f"unknown configuration field {k!r}")
        cfg[k] = v
    return cfg


def check_config(cfg):
    """Validate a configuration dict (spec §2) and return a normalised copy."""
    if not isinstance(cfg, dict):
        raise PoetError("config must be a JSON object")
    missing = [f for f in CONFIG_FIELDS if f not in cfg and f != "ln_eps"]
    if missing:
        raise PoetError(f"config lacks field(s) {missing}")
    extra = [f for f in cfg if f not in CONFIG_FIELDS]
    if extra:
        raise PoetError(f"config has unknown field(s) {extra}")
    out = OrderedDict()
    for f in CONFIG_FIELDS[:-1]:
        v = cfg[f]
        if not isinstance(v, int) or isinstance(v, bool):
            raise PoetError(f"config field {f!r} must be an integer")
        out[f] = v
    eps = cfg.get("ln_eps", 1e-5)
    if not isinstance(eps, (int, float)) or isinstance(eps, bool) or not (0 < eps < 1):
        raise PoetError("config field 'ln_eps' must be a number in (0, 1)")
    out["ln_eps"] = float(eps)
    rng = {"token_bits": (1, 32), "dim": (1, 4096), "layers": (1, 64), "heads": (1, 64),
           "mlp": (1, 16384), "context": (1, 8), "window": (3, 15), "anchor_max": (1, 16)}
    for f, (lo, hi) in rng.items():
        if not lo <= out[f] <= hi:
            raise PoetError(f"config field {f!r} = {out[f]} outside {lo}..{hi}")
    if out["dim"] % out["heads"]:
        raise PoetError(f"dim {out['dim']} is not a multiple of heads {out['heads']}")
    if out["window"] % 2 == 0:
        raise PoetError(f"window {out['window']} must be odd")
    return out


def tensor_shapes(cfg):
    """Ordered {name: shape} of every tensor of a model file (spec §2)."""
    B, d, L, h, m = cfg["token_bits"], cfg["dim"], cfg["layers"], cfg["heads"], cfg["mlp"]
    K, w, D = cfg["context"], cfg["window"], cfg["anchor_max"]
    s = OrderedDict()
    s["in.cur"] = (d, B)
    s["in.cur_bias"] = (d,)
    s["in.mask"] = (d,)
    for k in range(K):
        s[f"in.past.{k}"] = (d, B)
    s["in.past_none"] = (K, d)
    s["in.anchor"] = (d, B)
    s["in.anchor_dist"] = (D, d)
    s["in.anchor_none"] = (d,)
    s["in.task"] = (4, d)
    s["in.key"] = (2, d)
    for i in range(L):
        p = f"blk.{i}."
        s[p + "ln1.weight"] = (d,)
        s[p + "ln1.bias"] = (d,)
        s[p + "attn.qkv.weight"] = (3 * d, d)
        s[p + "attn.qkv.bias"] = (3 * d,)
        s[p + "attn.rel"] = (h, w, w)
        s[p + "attn.out.weight"] = (d, d)
        s[p + "attn.out.bias"] = (d,)
        s[p + "ln2.weight"] = (d,)
        s[p + "ln2.bias"] = (d,)
        s[p + "mlp.fc1.weight"] = (m, d)
        s[p + "mlp.fc1.bias"] = (m,)
        s[p + "mlp.fc2.weight"] = (d, m)
        s[p + "mlp.fc2.bias"] = (d,)
    s["out.ln.weight"] = (d,)
    s["out.ln.bias"] = (d,)
    s["out.bits.weight"] = (B, d)
    s["out.bits.bias"] = (B,)
    s["out.bits.ar"] = (B, B)
    return s


def _key(name):
    return name.replace(".", "__")


def token_signs(tokens, bits):
    """int64 tokens [...] -> float32 [..., bits] of s_c = 2*((v >> c) & 1) - 1."""
    shifts = torch.arange(bits, device=tokens.device, dtype=torch.int64)
    b = (tokens.unsqueeze(-1) >> shifts) & 1
    return b.to(torch.float32) * 2.0 - 1.0


def group_map(H, W, device=None):
    """int64 [H, W]: the decoding step g(y, x) of each position (spec §4)."""
    y = torch.arange(H, device=device).view(H, 1) % 2
    x = torch.arange(W, device=device).view(1, W) % 2
    lut = torch.tensor([0, 3, 2, 1], device=device)
    return lut[y * 2 + x]


class Poet(nn.Module):
    """ARG-Poet (spec/poet.md). Parameters are named after the file's tensors
    ('.' written '__' inside the module); `tensors()` gives the file's names."""

    def __init__(self, config=None):
        super().__init__()
        self.config = check_config(config if config is not None else default_config())
        c = self.config
        self.B, self.d, self.L, self.h = c["token_bits"], c["dim"], c["layers"], c["heads"]
        self.K, self.w, self.D = c["context"], c["window"], c["anchor_max"]
        self.p = nn.ParameterDict()
        for name, shape in tensor_shapes(c).items():
            self.p[_key(name)] = nn.Parameter(torch.zeros(shape))
        self.reset_parameters()
        ar_mask = torch.tril(torch.ones(self.B, self.B), diagonal=-1)
        self.register_buffer("ar_mask", ar_mask, persistent=False)

    # -- parameters ---------------------------------------------------------
    def P(self, name):
        return self.p[_key(name)]

    def reset_parameters(self, seed=None):
        g = torch.Generator().manual_seed(seed) if seed is not None else None
        d, m = self.d, self.config["mlp"]
        with torch.no_grad():
            for name, shape in tensor_shapes(self.config).items():
                t = self.P(name)
                if name.endswith("ln1.weight") or name.endswith("ln2.weight") or name == "out.ln.weight":
                    t.fill_(1.0)
                elif name.endswith(".bias") or name.endswith("cur_bias") or name == "out.bits.ar" \
                        or name.endswith("attn.rel"):
                    t.zero_()
                elif name.endswith("fc2.weight") or name.endswith("attn.out.weight"):
                    t.normal_(0.0, 0.02 / math.sqrt(2 * self.L), generator=g)
                elif name.startswith("in.") and len(shape) == 2 and shape[1] == self.B:
                    t.normal_(0.0, 1.0 / math.sqrt(self.B) * 0.5, generator=g)
                elif name.endswith("qkv.weight") or name.endswith("fc1.weight") or name == "out.bits.weight":
                    t.normal_(0.0, 1.0 / math.sqrt(shape[1]), generator=g)
                else:
                    t.normal_(0.0, 0.02, generator=g)
        del d, m

    def tensors(self):
        """{file tensor name: float32 tensor} (out.bits.ar with its upper part zeroed)."""
        out = OrderedDict()
        for name in tensor_shapes(self.config):
            t = self.P(name).detach()
            if name == "out.bits.ar":
                t = t * torch.tril(torch.ones_like(t), diagonal=-1)
            out[name] = t.clone()
        return out

    def load_tensors(self, tensors):
        with torch.no_grad():
            for name in tensor_shapes(self.config):
                self.P(name).copy_(torch.as_tensor(np.asarray(tensors[name], dtype=np.float32)))

    # -- forward --------------------------------------------------------------
    def embed(self, cur, known, past=None, past_present=None, anchor=None, anchor_dist=None,
              task=0, key=0):
        """§3.1: the input vectors, float32 [N, H, W, d]."""
        N, H, W = cur.shape
        dev = cur.device
        B, d, K = self.B, self.d, self.K
        task = torch.as_tensor(task, device=dev, dtype=torch.int64).expand(N)
        key = torch.as_tensor(key, device=dev, dtype=torch.int64).expand(N)
        e = (self.P("in.task")[task] + self.P("in.key")[key]).view(N, 1, 1, d)
        s = token_signs(cur, B)
        ecur = F.linear(s, self.P("in.cur"), self.P("in.cur_bias"))
        e = e + torch.where(known.unsqueeze(-1), ecur, self.P("in.mask").view(1, 1, 1, d))
        if past_present is None:
            past_present = torch.zeros(N, K, dtype=torch.bool, device=dev)
        past_none = self.P("in.past_none")
        for k in range(K):
            pres = past_present[:, k]
            if past is not None and bool(pres.any()):
                ep = F.linear(token_signs(past[:, k], B), self.P(f"in.past.{k}"))
                e = e + torch.where(pres.view(N, 1, 1, 1), ep, past_none[k].view(1, 1, 1, d))
            else:
                e = e + past_none[k].view(1, 1, 1, d)
        if anchor_dist is None:
            anchor_dist = torch.zeros(N, dtype=torch.int64, device=dev)
        anchor_dist = torch.as_tensor(anchor_dist, device=dev, dtype=torch.int64).expand(N)
        if anchor is not None and bool((anchor_dist > 0).any()):
            if bool((anchor_dist > self.D).any()) or bool((anchor_dist < 0).any()):
                raise PoetError(f"anchor distance outside 0..{self.D}")
            ea = F.linear(token_signs(anchor, B), self.P("in.anchor"))
            ea = ea + self.P("in.anchor_dist")[(anchor_dist - 1).clamp(min=0)].view(N, 1, 1, d)
            has = (anchor_dist > 0).view(N, 1, 1, 1)
            e = e + torch.where(has, ea, self.P("in.anchor_none").view(1, 1, 1, d))
        else:
            e = e + self.P("in.anchor_none").view(1, 1, 1, d)
        return e

    def _ln(self, x, name):
        return F.layer_norm(x, (self.d,), self.P(name + ".weight"), self.P(name + ".bias"),
                            self.config["ln_eps"])

    def window_bias(self, i, H, W, device=None):
        """[h, HW, HW] additive attention bias of block i: rel[head][dy+r][dx+r] for the
        keys inside the query's window, -inf elsewhere (positions outside the grid do not
        exist, so they are left out as §3.3 says)."""
        key = (H, W, str(device))
        cache = self.__dict__.setdefault("_win_cache", {})
        if key not in cache:
            r, w = (self.w - 1) // 2, self.w
            yy = torch.arange(H, device=device).repeat_interleave(W)
            xx = torch.arange(W, device=device).repeat(H)
            dy = yy.view(1, -1) - yy.view(-1, 1)  # [query, key]
            dx = xx.view(1, -1) - xx.view(-1, 1)
            valid = (dy.abs() <= r) & (dx.abs() <= r)
            idx = ((dy + r).clamp(0, w - 1) * w + (dx + r).clamp(0, w - 1))
            cache[key] = (idx, valid)
        idx, valid = cache[key]
        rel = self.P(f"blk.{i}.attn.rel").reshape(self.h, self.w * self.w)
        bias = rel[:, idx]  # [h, HW, HW]
        return bias.masked_fill(~valid, float("-inf"))

    BLOCK = 8  # query block side of the blocked attention path (large grids)

    def block_bias(self, i, H, W, device=None):
        """Blocked path: [h, nb, bs*bs, (bs+2r)^2] bias (rel or -inf) of block i."""
        bs, r, w = self.BLOCK, (self.w - 1) // 2, self.w
        key = ("blk", H, W, str(device))
        cache = self.__dict__.setdefault("_win_cache", {})
        if key not in cache:
            hb = bs + 2 * r
            qy = torch.arange(bs, device=device).repeat_interleave(bs)
            qx = torch.arange(bs, device=device).repeat(bs)
            ky = torch.arange(hb, device=device).repeat_interleave(hb) - r
            kx = torch.arange(hb, device=device).repeat(hb) - r
            dy = ky.view(1, -1) - qy.view(-1, 1)
            dx = kx.view(1, -1) - qx.view(-1, 1)
            inwin = (dy.abs() <= r) & (dx.abs() <= r)  # [bs*bs, hb*hb]
            idx = (dy + r).clamp(0, w - 1) * w + (dx + r).clamp(0, w - 1)
            Hp, Wp = -(-H // bs) * bs, -(-W // bs) * bs
            ones = torch.zeros(1, 1, Hp + 2 * r, Wp + 2 * r, device=device)
            ones[..., r:r + H, r:r + W] = 1.0
            ingrid = F.unfold(ones, kernel_size=hb, stride=bs)[0].T > 0.5  # [nb, hb*hb]
            valid = inwin.unsqueeze(0) & ingrid.unsqueeze(1)  # [nb, bs*bs, hb*hb]
            cache[key] = (idx, valid)
        idx, valid = cache[key]
        rel = self.P(f"blk.{i}.attn.rel").reshape(self.h, self.w * self.w)
        bias = rel[:, idx].unsqueeze(1)  # [h, 1, bs*bs, hb*hb]
        return bias.masked_fill(~valid.unsqueeze(0), float("-inf"))

    def _attend_blocked(self, q, k, v, i, H, W):
        """q, k, v [N, h, HW, dh] -> [N, h, HW, dh]: queries in bs x bs blocks against their
        block plus an r-wide halo (the same keys as the dense path; 6-20x fewer scores)."""
        N, h, HW, dh = q.shape
        bs, r = self.BLOCK, (self.w - 1) // 2
        hb = bs + 2 * r
        Hp, Wp = -(-H // bs) * bs, -(-W // bs) * bs
        Hb, Wb = Hp // bs, Wp // bs

        def grid(t, pad):
            t = t.transpose(2, 3).reshape(N, h * dh, H, W)
            return F.pad(t, (pad, Wp - W + pad, pad, Hp - H + pad))

        qb = grid(q, 0).view(N, h, dh, Hb, bs, Wb, bs).permute(0, 1, 3, 5, 4, 6, 2)
        qb = qb.reshape(N, h, Hb * Wb, bs * bs, dh)
        kb = F.unfold(grid(k, r), kernel_size=hb, stride=bs).view(N, h, dh, hb * hb, Hb * Wb)
        vb = F.unfold(grid(v, r), kernel_size=hb, stride=bs).view(N, h, dh, hb * hb, Hb * Wb)
        kb = kb.permute(0, 1, 4, 3, 2)  # [N, h, nb, hb*hb, dh]
        vb = vb.permute(0, 1, 4, 3, 2)
        a = torch.matmul(qb, kb.transpose(-1, -2)) * (1.0 / math.sqrt(dh))  # [N, h, nb, bs2, hb2]
        a = torch.softmax(a + self.block_bias(i, H, W, q.device).unsqueeze(0), dim=-1)
        o = torch.matmul(a, vb)  # [N, h, nb, bs*bs, dh]
        o = o.view(N, h, Hb, Wb, bs, bs, dh).permute(0, 1, 2, 4, 3, 5, 6).reshape(N, h, Hp, Wp, dh)
        return o[:, :, :H, :W].reshape(N, h, HW, dh)

    def attention(self, x, i, H, W, blocked=None):
        """§3.3 windowed attention; x float [N, H*W, d] (already normalised). Computed
        densely over the grid with a window mask for small grids (training crops), and
        block by block for large ones; both are exact."""
        N, HW = x.shape[0], H * W
        d, h = self.d, self.h
        dh = d // h
        pre = f"blk.{i}.attn."
        qkv = F.linear(x, self.P(pre + "qkv.weight"), self.P(pre + "qkv.bias"))  # [N, HW, 3d]
        qkv = qkv.view(N, HW, 3, h, dh).permute(2, 0, 3, 1, 4)  # [3, N, h, HW, dh]
        q, k, v = qkv[0], qkv[1], qkv[2]
        if blocked is None:
            blocked = HW > 4 * (self.BLOCK + self.w - 1) ** 2
        if blocked:
            o = self._attend_blocked(q, k, v, i, H, W).transpose(1, 2).reshape(N, HW, d)
            return F.linear(o, self.P(pre + "out.weight"), self.P(pre + "out.bias"))
        a = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(dh))  # [N, h, HW, HW]
        a = torch.softmax(a + self.window_bias(i, H, W, x.device).unsqueeze(0), dim=-1)
        o = torch.matmul(a, v)  # [N, h, HW, dh]
        o = o.transpose(1, 2).reshape(N, HW, d)
        return F.linear(o, self.P(pre + "out.weight"), self.P(pre + "out.bias"))

    def hidden(self, cur, known, past=None, past_present=None, anchor=None, anchor_dist=None,
               task=0, key=0, blocked=None):
        """§3.1-§3.4: h = out.ln(x), float32 [N, H, W, d]. blocked: force the attention
        path (None: by grid size)."""
        N, H, W = cur.shape
        x = self.embed(cur, known, past, past_present, anchor, anchor_dist, task, key)
        x = x.reshape(N, H * W, self.d)
        for i in range(self.L):
            pre = f"blk.{i}."
            x = x + self.attention(self._ln(x, pre + "ln1"), i, H, W, blocked)
            y = self._ln(x, pre + "ln2")
            y = F.linear(y, self.P(pre + "mlp.fc1.weight"), self.P(pre + "mlp.fc1.bias"))
            y = F.gelu(y)
            x = x + F.linear(y, self.P(pre + "mlp.fc2.weight"), self.P(pre + "mlp.fc2.bias"))
        x = self._ln(x, "out.ln")
        return x.view(N, H, W, self.d)

    def base_logits(self, h):
        """out.bits.weight·h + out.bits.bias, [..., B] (the §3.5 logits before the bit terms)."""
        return F.linear(h, self.P("out.bits.weight"), self.P("out.bits.bias"))

    def ar_matrix(self):
        """out.bits.ar restricted to its strict lower triangle (j < i)."""
        return self.P("out.bits.ar") * self.ar_mask

    def bit_logits(self, h, target):
        """§3.5 teacher forced: logit_i with s_j the bits of `target` (int64 [...])."""
        s = token_signs(target, self.B)
        return self.base_logits(h) + F.linear(s, self.ar_matrix())

    def forward(self, cur, known, past=None, past_present=None, anchor=None, anchor_dist=None,
                task=0, key=0, target=None):
        """Per-position bit logits [N, H, W, B] (spec §3), the bits before each taken from
        `target` (default: `cur`)."""
        h = self.hidden(cur, known, past, past_present, anchor, anchor_dist, task, key)
        return self.bit_logits(h, cur if target is None else target)


# ---------------------------------------------------------------------------
# code length (spec §4) and training loss
# ---------------------------------------------------------------------------

def bits_of_logits(logits, target):
    """-log2 P(target token) per position from teacher-forced logits [..., B]."""
    B = logits.shape[-1]
    y = (token_signs(target, B) + 1.0) * 0.5
    nll = F.binary_cross_entropy_with_logits(logits, y, reduction="none").sum(-1)
    return nll / LN2


def code_length(model, tokens, task_known=None, past=None, past_present=None, anchor=None,
                anchor_dist=None, task=0, key=0):
    """Bits of each position of `tokens` [N, H, W] under the four-step order of §4
    (0 at positions the task gives). Returns float32 [N, H, W]."""
    N, H, W = tokens.shape
    if task_known is None:
        task_known = torch.zeros(N, H, W, dtype=torch.bool, device=tokens.device)
    grp = group_map(H, W, tokens.device)
    out = torch.zeros(N, H, W, device=tokens.device)
    for g in range(GROUPS):
        if bool((~task_known & (grp == g)).any()):
            known = task_known | (grp < g)
            logits = model(tokens, known, past, past_present, anchor, anchor_dist, task, key,
                           target=tokens)
            sel = (grp == g) & ~task_known
            out = torch.where(sel, bits_of_logits(logits, tokens), out)
    return out


def group_loss(model, tokens, task_known, g, past=None, past_present=None, anchor=None,
               anchor_dist=None, task=0, key=0):
    """Training loss: mean bits per predicted token when step g[n] of each sample is
    taught (groups < g[n] and the task's known positions given). Returns (loss, count)."""
    N, H, W = tokens.shape
    grp = group_map(H, W, tokens.device).unsqueeze(0)
    g = g.view(N, 1, 1)
    known = task_known | (grp < g)
    logits = model(tokens, known, past, past_present, anchor, anchor_dist, task, key,
                   target=tokens)
    sel = (grp == g) & ~task_known
    bits = bits_of_logits(logits, tokens)
    cnt = sel.sum()
    return (bits * sel).sum() / cnt.clamp(min=1), cnt


# ---------------------------------------------------------------------------
# choosing tokens (spec §5)
# ---------------------------------------------------------------------------

M64 = (1 << 64) - 1


def splitmix64(z):
    """splitmix64 of a Python int or a numpy uint64 array (wrapping arithmetic)."""
    if isinstance(z, np.ndarray):
        with np.errstate(over="ignore"):
            z = z.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
            z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            return z ^ (z >> np.uint64(31))
    z = (z + 0x9E3779B97F4A7C15) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def uniform(seed, t, y, x, group):
    """u in [0, 1) of §5 for (seed, t, y, x, bit group); y, x may be numpy arrays."""
    y = np.asarray(y, dtype=np.uint64)
    x = np.asarray(x, dtype=np.uint64)
    with np.errstate(over="ignore"):
        idx = ((np.uint64(t & M64) * np.uint64(65536) + y) * np.uint64(65536) + x) \
            * np.uint64(8) + np.uint64(group)
        z = splitmix64(np.uint64(seed & M64) ^ splitmix64(idx))
    return (z >> np.uint64(11)).astype(np.float64) * (2.0 ** -53)


def choose_tokens(model, h, temperature=0.0, top_k=0, top_p=1.0, seed=0, t=0, ys=None, xs=None):
    """§5 for P positions: h float [P, d] -> int64 tokens [P].

    ys, xs (numpy int arrays [P]) are the positions, used only for the random numbers.
    Sampling: log-probabilities / temperature, softmax; keep the top_k most probable
    values (0: all; ties towards the smaller value), renormalise; keep the smallest set in
    descending probability whose mass reaches top_p, renormalise; walk the kept values in
    ascending order until the cumulative probability exceeds u.
    """
    B = model.B
    P = h.shape[0]
    with torch.no_grad():
        base = model.base_logits(h).double()  # [P, B]
        ar = model.ar_matrix().double()
        s = torch.zeros(P, B, dtype=torch.float64)
        tok = torch.zeros(P, dtype=torch.int64)
        for gi, a in enumerate(range(0, B, BIT_GROUP)):
            n = min(BIT_GROUP, B - a)
            vals = torch.arange(1 << n, dtype=torch.int64)
            sv = token_signs(vals, n).double()  # [V, n]
            # logits of bits a..a+n-1 for every candidate value: the bits before a are
            # fixed, the ones inside the group come from the candidate
            pre = base[:, a:a + n] + s[:, :a] @ ar[a:a + n, :a].T  # [P, n]
            inner = sv @ ar[a:a + n, a:a + n].T  # [V, n]
            lg = pre.unsqueeze(1) + inner.unsqueeze(0)  # [P, V, n]
            logp = F.logsigmoid(sv.unsqueeze(0) * lg).sum(-1)  # [P, V]
            if temperature <= 0.0:
                choice = torch.argmax(logp, dim=1)  # first maximum: the smaller value
            else:
                u = torch.from_numpy(uniform(seed, t, ys, xs, gi))
                choice = _sample(logp / temperature, top_k, top_p, u)
            tok |= choice << a
            s[:, a:a + n] = sv[choice]
        return tok


def _sample(scaled, top_k, top_p, u):
    """Draw from float64 [P, V] scaled log-probabilities with uniforms u [P]."""
    P, V = scaled.shape
    prob = torch.softmax(scaled, dim=1)
    # descending probability, ties towards the smaller value (stable sort on -prob)
    order = torch.sort(-prob, dim=1, stable=True).indices
    ps = torch.gather(prob, 1, order)
    keep = torch.ones(P, V, dtype=torch.bool)
    if top_k and top_k < V:
        keep[:, top_k:] = False
    ps = torch.where(keep, ps, torch.zeros_like(ps))
    ps = ps / ps.sum(1, keepdim=True)
    if top_p < 1.0:
        before = torch.cumsum(ps, 1) - ps  # mass of the values strictly before
        keep = keep & (before < top_p)
        ps = torch.where(keep, ps, torch.zeros_like(ps))
        ps = ps / ps.sum(1, keepdim=True)
    # back to value order, walk ascending
    pv = torch.zeros_like(ps).scatter_(1, order, ps)
    cum = torch.cumsum(pv, 1)
    idx = (cum <= u.view(P, 1)).sum(1)
    # the first value whose cumulative probability exceeds u; guard rounding at the end
    last = torch.where(pv > 0, torch.arange(V).expand(P, V), torch.zeros(P, V, dtype=torch.int64)).max(1).values
    return torch.minimum(idx, last)


def generate_frame(model, cur=None, known=None, past=None, past_present=None, anchor=None,
                   anchor_dist=None, task=0, key=0, temperature=0.0, top_k=0, top_p=1.0,
                   seed=0, t=0, H=None, W=None):
    """Decode one latent frame (spec §4) for a single grid: tensors without the batch
    dimension (cur, known [H, W]; past [K, H, W]; past_present [K]; anchor [H, W]).
    Returns int64 [H, W]."""
    if cur is None:
        if H is None or W is None:
            ref = past if past is not None else anchor
            if ref is None:
                raise PoetError("generate_frame needs cur, past, anchor or H and W")
            H, W = ref.shape[-2:]
        cur = torch.zeros(H, W, dtype=torch.int64)
    H, W = cur.shape
    if known is None:
        known = torch.zeros(H, W, dtype=torch.bool)
    cur = cur.clone()
    known = known.clone()
    grp = group_map(H, W)
    bat = (lambda v: None if v is None else v.unsqueeze(0))
    ad = None if anchor_dist is None else torch.as_tensor([int(anchor_dist)])
    with torch.no_grad():
        for g in range(GROUPS):
            todo = (grp == g) & ~known
            if not bool(todo.any()):
                continue
            h = model.hidden(cur.unsqueeze(0), known.unsqueeze(0), bat(past), bat(past_present),
                             bat(anchor), ad, task, key)[0]
            ys, xs = torch.nonzero(todo, as_tuple=True)
            tok = choose_tokens(model, h[ys, xs], temperature, top_k, top_p, seed, t,
                                ys.numpy(), xs.numpy())
            cur[ys, xs] = tok
            known = known | todo
    return cur


# ---------------------------------------------------------------------------
# model file (spec §2)
# ---------------------------------------------------------------------------

def save_poet(path, model, meta, dtype="F32"):
    """Write `model` as an ARG-Poet safetensors file. meta: {"name", "tokenizer_id",
    "tokenizer_name"} (strings). Written atomically (temporary file + rename)."""
    for k in ("name", "tokenizer_id", "tokenizer_name"):
        if k not in meta or not isinstance(meta[k], str):
            raise PoetError(f"metadata {k!r} (a string) is required")
    tid = meta["tokenizer_id"]
    if len(tid) != 16 or any(c not in "0123456789abcdef" for c in tid):
        raise PoetError(f"tokenizer_id {tid!r} is not 16 lower-case hex digits")
    npdt = {"F32": np.float32, "F16": np.float16}[dtype]
    tensors = {n: t.numpy().astype(npdt) for n, t in model.tensors().items()}
    md = {"format": FORMAT, "format_version": FORMAT_VERSION,
          "config": json.dumps(model.config, separators=(",", ":"))}
    for k, v in meta.items():
        if k in md:
            continue
        md[k] = str(v)
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        safetensors_io.write_safetensors(tmp, tensors, md)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_poet(path):
    """Read and validate an ARG-Poet file -> (Poet in eval mode, metadata dict)."""
    try:
        tensors, meta = safetensors_io.read_safetensors(path, safetensors_io.MODEL_DTYPES)
    except safetensors_io.SafetensorsError as e:
        raise PoetError(f"{path}: {e}") from None
    if not meta:
        raise PoetError(f"{path}: no __metadata__")
    if meta.get("format") != FORMAT:
        raise PoetError(f"{path}: format is {meta.get('format')!r}, not {FORMAT!r}")
    if meta.get("format_version") != FORMAT_VERSION:
        raise PoetError(f"{path}: format_version {meta.get('format_version')!r} unsupported")
    for k in ("config", "name", "tokenizer_id", "tokenizer_name"):
        if k not in meta:
            raise PoetError(f"{path}: metadata lacks {k!r}")
    try:
        cfg = json.loads(meta["config"])
    except ValueError as e:
        raise PoetError(f"{path}: config is not JSON: {e}") from None
    cfg = check_config(cfg)
    shapes = tensor_shapes(cfg)
    for name, shape in shapes.items():
        if name not in tensors:
            raise PoetError(f"{path}: tensor {name!r} is missing")
        if tuple(tensors[name].shape) != tuple(shape):
            raise PoetError(f"{path}: tensor {name!r} has shape {list(tensors[name].shape)}, "
                            f"expected {list(shape)}")
    extra = sorted(set(tensors) - set(shapes))
    if extra:
        raise PoetError(f"{path}: unexpected tensor {extra[0]!r}")
    ar = tensors["out.bits.ar"].astype(np.float32)
    if np.any(np.triu(ar) != 0):
        raise PoetError(f"{path}: out.bits.ar has non-zero entries on or above the diagonal")
    model = Poet(cfg)
    model.load_tensors(tensors)
    model.eval()
    return model, dict(meta)
