"""PyTorch twin of the ARG tokenizer (MAGVIT-v2 style causal video autoencoder + LFQ).

This module computes exactly the function of spec/model-format.md §4, driven by the
configuration of §3. Parameter names equal the tensor names of §5, so
`model.state_dict()` keys are the model file's tensor names.

Layout conventions: tensors are [B, C, T, H, W]; pictures are in [-1, 1].

    model = ArgTokenizer(CONFIGS["compact"])
    z = model.encode(x)              # x: [B, Cin, 1 + ft*k, H, W], H, W multiples of fs
    q, tokens = model.quantize(z)    # q = +-1, tokens int64 [B, T', h, w]
    x_hat = model.decode(q)          # [B, Cin, 1 + ft*(T'-1), H, W]
"""

import copy
import math
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

# ---------------------------------------------------------------------------
# configuration
# ---------------------------------------------------------------------------

#: fields of a configuration, in the order of spec §3 (all are required)
CONFIG_FIELDS = (
    "in_channels", "patch_size", "base_channels", "channel_mult", "enc_blocks",
    "dec_blocks", "mid_blocks", "down", "num_groups", "norm_eps", "norm_scope",
    "clip_frames", "padding", "decoder_norm", "agn_var", "lfq_bits",
)


class ConfigError(ValueError):
    """An invalid architecture configuration."""


def _paper(base):
    return OrderedDict([
        ("in_channels", 3), ("patch_size", 1), ("base_channels", base),
        ("channel_mult", [1, 2, 2, 4]), ("enc_blocks", [4, 4, 4, 4]),
        ("dec_blocks", [4, 4, 4, 4]), ("mid_blocks", 4),
        ("down", [[1, 2], [2, 2], [2, 2]]), ("num_groups", 32), ("norm_eps", 1e-6),
        ("norm_scope", "clip"), ("clip_frames", 17), ("padding", "zeros"),
        ("decoder_norm", "adaptive"), ("agn_var", "unbiased"), ("lfq_bits", 18),
    ])


def default_configs():
    """Named configurations (fresh copies, so callers may edit them)."""
    cfgs = OrderedDict()
    # the paper / Open-MAGVIT2 video tokenizer (spec §3)
    cfgs["paper"] = _paper(128)
    # same structure, a quarter of the width (tests, converter round trips)
    cfgs["paper32"] = _paper(32)
    # small streaming model: ft 4, fs 8, per-frame norms, replicate padding
    cfgs["compact"] = OrderedDict([
        ("in_channels", 3), ("patch_size", 1), ("base_channels", 16),
        ("channel_mult", [1, 2, 2, 4]), ("enc_blocks", [1, 1, 1, 1]),
        ("dec_blocks", [1, 1, 1, 1]), ("mid_blocks", 1),
        ("down", [[1, 2], [2, 2], [2, 2]]), ("num_groups", 8), ("norm_eps", 1e-6),
        ("norm_scope", "frame"), ("clip_frames", 17), ("padding", "replicate"),
        ("decoder_norm", "plain"), ("agn_var", "biased"), ("lfq_bits", 18),
    ])
    # patchified small model: p 2, ft 4, fs 8, adaptive decoder norm per frame
    cfgs["compact_patch"] = OrderedDict([
        ("in_channels", 3), ("patch_size", 2), ("base_channels", 32),
        ("channel_mult", [1, 2, 4]), ("enc_blocks", [1, 1, 1]),
        ("dec_blocks", [1, 1, 1]), ("mid_blocks", 1),
        ("down", [[2, 2], [2, 2]]), ("num_groups", 8), ("norm_eps", 1e-6),
        ("norm_scope", "frame"), ("clip_frames", 17), ("padding", "zeros"),
        ("decoder_norm", "adaptive"), ("agn_var", "biased"), ("lfq_bits", 18),
    ])
    # default CPU operating point (issue 3): compact_patch at 3/4 width, 4x8x8 tokens,
    # per-frame norms so it streams; about 47k decoder MACs per pixel
    cfgs["s8"] = copy.deepcopy(cfgs["compact_patch"])
    cfgs["s8"]["base_channels"] = 24
    cfgs["s8"]["channel_mult"] = [1, 2, 4]
    # the other shipped operating points (models/README.md): 4x16x16 tokens (s8 with
    # 4x4 patches, a quarter of the raw rate) and 4x4x4 tokens (the last downsampling
    # is temporal only, four times the raw rate)
    cfgs["s16"] = copy.deepcopy(cfgs["s8"])
    cfgs["s16"]["patch_size"] = 4
    cfgs["s4"] = copy.deepcopy(cfgs["s8"])
    cfgs["s4"]["down"] = [[2, 2], [2, 1]]
    # tiny profile for the training smoke test (not an operating point)
    cfgs["tiny"] = copy.deepcopy(cfgs["compact_patch"])
    cfgs["tiny"]["base_channels"] = 8
    cfgs["tiny"]["channel_mult"] = [1, 2, 2]
    cfgs["tiny"]["lfq_bits"] = 8
    cfgs["tiny"]["num_groups"] = 4
    return cfgs


CONFIGS = default_configs()


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def validate_config(cfg):
    """Check a configuration against spec §3; return a normalised copy (OrderedDict).

    Every field is required, unknown fields are an error, integers must be JSON
    integers (not floats or booleans). Raises ConfigError naming the problem.
    """
    if not isinstance(cfg, dict):
        raise ConfigError("configuration must be a JSON object")
    unknown = sorted(set(cfg) - set(CONFIG_FIELDS))
    if unknown:
        raise ConfigError(f"unknown configuration field(s): {', '.join(unknown)}")
    missing = [k for k in CONFIG_FIELDS if k not in cfg]
    if missing:
        raise ConfigError(f"missing configuration field(s): {', '.join(missing)}")

    def int_in(name, v, lo, hi):
        if not _is_int(v) or not lo <= v <= hi:
            raise ConfigError(f"{name} must be an integer in {lo}..{hi}, got {v!r}")
        return v

    out = OrderedDict()
    out["in_channels"] = int_in("in_channels", cfg["in_channels"], 1, 4)
    p = cfg["patch_size"]
    if not _is_int(p) or p not in (1, 2, 4):
        raise ConfigError(f"patch_size must be 1, 2 or 4, got {p!r}")
    out["patch_size"] = p
    out["base_channels"] = int_in("base_channels", cfg["base_channels"], 1, 1024)

    mult = cfg["channel_mult"]
    if not isinstance(mult, list) or not 1 <= len(mult) <= 6:
        raise ConfigError(f"channel_mult must be a list of 1..6 integers, got {mult!r}")
    L = len(mult)
    out["channel_mult"] = [int_in(f"channel_mult[{i}]", m, 1, 16) for i, m in enumerate(mult)]
    for key in ("enc_blocks", "dec_blocks"):
        v = cfg[key]
        if not isinstance(v, list) or len(v) != L:
            raise ConfigError(f"{key} must be a list of {L} integers (one per level), got {v!r}")
        out[key] = [int_in(f"{key}[{i}]", b, 0, 8) for i, b in enumerate(v)]
    out["mid_blocks"] = int_in("mid_blocks", cfg["mid_blocks"], 0, 8)

    down = cfg["down"]
    if not isinstance(down, list) or len(down) != L - 1:
        raise ConfigError(f"down must be a list of {L - 1} [temporal, spatial] pairs, got {down!r}")
    out["down"] = []
    for i, pair in enumerate(down):
        if (not isinstance(pair, list) or len(pair) != 2
                or not all(_is_int(f) and f in (1, 2) for f in pair)):
            raise ConfigError(f"down[{i}] must be a pair of factors, each 1 or 2, got {pair!r}")
        out["down"].append(list(pair))

    out["num_groups"] = int_in("num_groups", cfg["num_groups"], 1, 256)
    eps = cfg["norm_eps"]
    if (isinstance(eps, bool) or not isinstance(eps, (int, float))
            or not math.isfinite(eps) or eps <= 0):
        raise ConfigError(f"norm_eps must be a finite number > 0, got {eps!r}")
    out["norm_eps"] = float(eps)

    def choice(name, allowed):
        v = cfg[name]
        if v not in allowed:
            raise ConfigError(f"{name} must be one of {', '.join(map(repr, allowed))}, got {v!r}")
        return v

    out["norm_scope"] = choice("norm_scope", ("frame", "clip"))
    ft = 1
    for a, _ in out["down"]:
        ft *= a
    if ft > 16:
        raise ConfigError(f"temporal factor ft = {ft} exceeds 16")
    cf = cfg["clip_frames"]
    if not _is_int(cf) or cf < 1 or cf > 129 or (cf - 1) % ft != 0:
        raise ConfigError(f"clip_frames must be an integer of the form 1 + {ft}*k, at most 129, "
                          f"got {cf!r}")
    # a level without residual blocks cannot change the width (spec §3)
    width = out["base_channels"] * out["channel_mult"][0]
    for l in range(L):
        want = out["base_channels"] * out["channel_mult"][l]
        if out["enc_blocks"][l] == 0 and want != width:
            raise ConfigError(f"encoder level {l} has no block to change the width")
        width = want
    width = out["base_channels"] * out["channel_mult"][L - 1]
    for l in reversed(range(L)):
        want = out["base_channels"] * out["channel_mult"][l]
        if out["dec_blocks"][l] == 0 and want != width:
            raise ConfigError(f"decoder level {l} has no block to change the width")
        width = want
    out["clip_frames"] = cf
    out["padding"] = choice("padding", ("zeros", "replicate"))
    out["decoder_norm"] = choice("decoder_norm", ("adaptive", "plain"))
    out["agn_var"] = choice("agn_var", ("biased", "unbiased"))
    out["lfq_bits"] = int_in("lfq_bits", cfg["lfq_bits"], 1, 24)
    return out


def temporal_factor(cfg):
    """ft = product of the temporal downsampling factors."""
    return math.prod(a for a, _ in cfg["down"])


def spatial_factor(cfg):
    """fs = patch_size * product of the spatial downsampling factors."""
    return cfg["patch_size"] * math.prod(b for _, b in cfg["down"])


def num_groups_for(channels, num_groups):
    """GroupNorm groups: the largest divisor of `channels` that is <= num_groups (spec §4.2)."""
    for g in range(min(channels, num_groups), 0, -1):
        if channels % g == 0:
            return g
    return 1


# ---------------------------------------------------------------------------
# architecture walk (shared by the module builder, tensor_shapes and the MAC counter)
# ---------------------------------------------------------------------------

def _layers(cfg):
    """Yield the architecture as a flat list of layer descriptions.

    Kinds: ('conv', name, ci, co, k, stride(t,s), bias), ('norm', name, c, affine),
    ('adanorm', name, c), ('s2d', p), ('d2s', a, b), ('block', prefix, ci, co) (whose
    contents are expanded by the caller), ('tag', 'encoder'|'decoder'|'latent').
    Widths follow the data: a level with zero blocks keeps the width it was given.
    """
    C = cfg["base_channels"]
    mult = cfg["channel_mult"]
    L = len(mult)
    p = cfg["patch_size"]
    cin = cfg["in_channels"]
    P = cin * p * p
    Z = cfg["lfq_bits"]
    out = [("tag", "encoder")]
    if p > 1:
        out.append(("s2d", p))
    w = C * mult[0]
    out.append(("conv", "encoder.conv_in", P, w, 3, (1, 1), False))
    for l in range(L):
        for b in range(cfg["enc_blocks"][l]):
            out.append(("block", f"encoder.down.{l}.block.{b}", w, C * mult[l]))
            w = C * mult[l]
        if l < L - 1 and cfg["down"][l] != [1, 1]:
            a, s = cfg["down"][l]
            out.append(("conv", f"encoder.down.{l}.downsample", w, w, 3, (a, s), True))
    for k in range(cfg["mid_blocks"]):
        out.append(("block", f"encoder.mid.{k}", w, w))
    out.append(("norm", "encoder.norm_out", w, True))
    out.append(("conv", "encoder.conv_out", w, Z, 1, (1, 1), True))
    out.append(("tag", "decoder"))
    w = C * mult[L - 1]
    out.append(("conv", "decoder.conv_in", Z, w, 3, (1, 1), True))
    for k in range(cfg["mid_blocks"]):
        out.append(("block", f"decoder.mid.{k}", w, w))
    for l in reversed(range(L)):
        if cfg["decoder_norm"] == "plain":
            out.append(("norm", f"decoder.up.{l}.norm", w, True))
        else:
            out.append(("adanorm", f"decoder.up.{l}.norm", w))
        for b in range(cfg["dec_blocks"][l]):
            out.append(("block", f"decoder.up.{l}.block.{b}", w, C * mult[l]))
            w = C * mult[l]
        if l > 0 and cfg["down"][l - 1] != [1, 1]:
            a, s = cfg["down"][l - 1]
            out.append(("conv", f"decoder.up.{l}.upsample", w, w * a * s * s, 3, (1, 1), True))
            out.append(("d2s", a, s))
    out.append(("norm", "decoder.norm_out", w, True))
    out.append(("conv", "decoder.conv_out", w, P, 3, (1, 1), True))
    if p > 1:
        out.append(("d2s", 1, p))
    return out


def _block_layers(prefix, ci, co):
    """The layers of one ResBlock (spec §4.3)."""
    out = [("norm", f"{prefix}.norm1", ci, True),
           ("conv", f"{prefix}.conv1", ci, co, 3, (1, 1), False),
           ("norm", f"{prefix}.norm2", co, True),
           ("conv", f"{prefix}.conv2", co, co, 3, (1, 1), False)]
    if ci != co:
        out.append(("conv", f"{prefix}.nin_shortcut", ci, co, 1, (1, 1), False))
    return out


def _flat_layers(cfg):
    for layer in _layers(cfg):
        if layer[0] == "block":
            yield from _block_layers(*layer[1:])
        else:
            yield layer


def tensor_shapes(cfg):
    """OrderedDict name -> shape of every tensor the configuration uses (spec §5),
    derived from the spec independently of the nn.Module construction."""
    cfg = validate_config(cfg)
    Z = cfg["lfq_bits"]
    shapes = OrderedDict()
    for layer in _flat_layers(cfg):
        kind = layer[0]
        if kind == "conv":
            _, name, ci, co, k, _, bias = layer
            shapes[name + ".weight"] = (co, ci, k, k, k)
            if bias:
                shapes[name + ".bias"] = (co,)
        elif kind == "norm":
            shapes[layer[1] + ".weight"] = (layer[2],)
            shapes[layer[1] + ".bias"] = (layer[2],)
        elif kind == "adanorm":
            for sub in ("gamma", "beta"):
                shapes[f"{layer[1]}.{sub}.weight"] = (layer[2], Z)
                shapes[f"{layer[1]}.{sub}.bias"] = (layer[2],)
    return shapes


def count_params(cfg):
    """Parameter counts {'encoder', 'decoder', 'total'} of a configuration."""
    n = {"encoder": 0, "decoder": 0}
    for name, shape in tensor_shapes(cfg).items():
        n[name.split(".", 1)[0]] += math.prod(shape)
    n["total"] = n["encoder"] + n["decoder"]
    return n


def count_macs(cfg, frames, height, width):
    """Multiply-accumulates {'encoder', 'decoder'} to encode / decode one clip.

    Counts convolutions (full kernel at every output position, padding included)
    and the adaptive-norm linears; norms and activations are not counted.
    frames = 1 + ft*k; height, width multiples of fs.
    """
    cfg = validate_config(cfg)
    ft, fs = temporal_factor(cfg), spatial_factor(cfg)
    if frames < 1 or (frames - 1) % ft or height % fs or width % fs:
        raise ValueError(f"shape {frames}x{height}x{width} is not 1+{ft}k frames of multiples of {fs}")
    Z = cfg["lfq_bits"]
    macs = {"encoder": 0, "decoder": 0}
    part = "encoder"
    t, h, w = frames, height, width
    latent_t = None
    for layer in _flat_layers(cfg):
        kind = layer[0]
        if kind == "tag":
            part = layer[1]
            if part == "decoder":
                latent_t = t
        elif kind == "s2d":
            h, w = h // layer[1], w // layer[1]
        elif kind == "conv":
            _, _, ci, co, k, (st, ss), _ = layer
            t = (t - 1) // st + 1
            h, w = h // ss, w // ss
            macs[part] += t * h * w * co * ci * k ** 3
        elif kind == "adanorm":
            n_stats = latent_t if cfg["norm_scope"] == "frame" else 1
            macs[part] += 2 * n_stats * Z * layer[2]
        elif kind == "d2s":
            a, b = layer[1], layer[2]
            t = t * a - (1 if a == 2 else 0)
            h, w = h * b, w * b
    return macs


def macs_per_pixel(cfg):
    """Asymptotic MACs per input pixel {'encoder', 'decoder'} for long videos.

    MAC counts are affine in the number of latent groups and linear in H*W, so the
    difference between k=2 and k=1 groups at one fs x fs tile is exact.
    """
    cfg = validate_config(cfg)
    ft, fs = temporal_factor(cfg), spatial_factor(cfg)
    a = count_macs(cfg, 1 + ft, fs, fs)
    b = count_macs(cfg, 1 + 2 * ft, fs, fs)
    return {k: (b[k] - a[k]) / (ft * fs * fs) for k in a}


# ---------------------------------------------------------------------------
# building blocks
# ---------------------------------------------------------------------------

class CausalConv3d(nn.Module):
    """Causal 3D convolution (spec §4.1) holding plain `weight` / `bias` parameters.

    Pads kt-1 frames before the clip (none after) and k//2 rows/columns on each
    side with zeros or the nearest edge value, then runs a valid convolution.
    """

    def __init__(self, ci, co, k, stride=(1, 1), bias=True, padding="zeros"):
        super().__init__()
        self.k = k
        self.stride = (stride[0], stride[1], stride[1])
        self.pad_mode = "constant" if padding == "zeros" else "replicate"
        self.weight = nn.Parameter(torch.empty(co, ci, k, k, k))
        if bias:
            self.bias = nn.Parameter(torch.empty(co))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        fan_in = self.weight.shape[1] * self.k ** 3
        bound = 1.0 / math.sqrt(fan_in)
        nn.init.uniform_(self.weight, -math.sqrt(3.0) * bound, math.sqrt(3.0) * bound)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def forward(self, x):
        k = self.k
        if k > 1:
            s = k // 2
            # F.pad order: (W left, W right, H top, H bottom, T front, T back)
            x = F.pad(x, (s, s, s, s, k - 1, 0), mode=self.pad_mode)
        return F.conv3d(x, self.weight, self.bias, self.stride)


def group_norm(x, groups, weight, bias, eps, scope):
    """GroupNorm of [B, C, T, H, W] with statistics per frame or over the clip (spec §4.2)."""
    if scope == "clip":
        return F.group_norm(x, groups, weight, bias, eps)
    B, C, T, H, W = x.shape
    y = x.transpose(1, 2).reshape(B * T, C, H, W)
    y = F.group_norm(y, groups, weight, bias, eps)
    return y.reshape(B, T, C, H, W).transpose(1, 2)


class GroupNorm(nn.Module):
    """GroupNorm with affine `weight` / `bias`; groups = largest divisor <= num_groups."""

    def __init__(self, channels, num_groups, eps, scope):
        super().__init__()
        self.groups = num_groups_for(channels, num_groups)
        self.eps = eps
        self.scope = scope
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x):
        return group_norm(x, self.groups, self.weight, self.bias, self.eps, self.scope)


class AdaptiveGroupNorm(nn.Module):
    """Decoder level norm conditioned on the quantised latent (spec §4.6).

    GroupNorm without affine, then y * gamma(sqrt(var(q) + eps)) + beta(mean(q)),
    statistics per channel of q over (H, W) of the latent frame that produced each
    hidden frame ("frame" scope) or over the whole latent clip ("clip" scope).
    """

    def __init__(self, channels, z_channels, num_groups, eps, scope, agn_var):
        super().__init__()
        self.groups = num_groups_for(channels, num_groups)
        self.eps = eps
        self.scope = scope
        self.unbiased = agn_var == "unbiased"
        self.gamma = nn.Linear(z_channels, channels)
        self.beta = nn.Linear(z_channels, channels)

    def _stats(self, q, dims):
        n = math.prod(q.shape[d] for d in dims)
        mean = q.mean(dim=dims, keepdim=True)
        if self.unbiased and n < 2:  # spec §4.6: a single position has variance 0
            var = torch.zeros_like((q - mean).sum(dim=dims))
        else:
            var = (q - mean).square().sum(dim=dims) / (n - 1 if self.unbiased else n)
        return mean.reshape(var.shape), var

    def forward(self, x, q, upsampling):
        """x: hidden [B, C, T, H, W]; q: latent [B, Z, T', h, w]; upsampling: the
        cumulative temporal upsampling u between q and x (T = 1 + (T'-1)*u)."""
        y = group_norm(x, self.groups, None, None, self.eps, self.scope)
        if self.scope == "clip":
            mean, var = self._stats(q, (2, 3, 4))                   # [B, Z]
            scale = self.gamma(torch.sqrt(var + self.eps))          # [B, C]
            shift = self.beta(mean)
            return y * scale[:, :, None, None, None] + shift[:, :, None, None, None]
        mean, var = self._stats(q, (3, 4))                          # [B, Z, T']
        scale = self.gamma(torch.sqrt(var + self.eps).transpose(1, 2))  # [B, T', C]
        shift = self.beta(mean.transpose(1, 2))
        T, Tq = x.shape[2], q.shape[2]
        if T != 1 + (Tq - 1) * upsampling:
            raise ValueError(f"hidden frames {T} do not match {Tq} latent frames at upsampling {upsampling}")
        # hidden frame i comes from latent frame ceil(i / u)
        idx = (torch.arange(T, device=x.device) + (upsampling - 1)) // upsampling
        scale = scale.index_select(1, idx).transpose(1, 2)         # [B, C, T]
        shift = shift.index_select(1, idx).transpose(1, 2)
        return y * scale[..., None, None] + shift[..., None, None]


class ResBlock(nn.Module):
    """h = conv1(silu(norm1(x))); h = conv2(silu(norm2(h))); out = h + shortcut(x)."""

    def __init__(self, ci, co, cfg):
        super().__init__()
        g, eps, scope, pad = cfg["num_groups"], cfg["norm_eps"], cfg["norm_scope"], cfg["padding"]
        self.norm1 = GroupNorm(ci, g, eps, scope)
        self.conv1 = CausalConv3d(ci, co, 3, bias=False, padding=pad)
        self.norm2 = GroupNorm(co, g, eps, scope)
        self.conv2 = CausalConv3d(co, co, 3, bias=False, padding=pad)
        if ci != co:
            self.nin_shortcut = CausalConv3d(ci, co, 1, bias=False, padding=pad)
        else:
            self.nin_shortcut = None

    def forward(self, x):
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return h + (x if self.nin_shortcut is None else self.nin_shortcut(x))


def space_to_depth(x, p):
    """[B, C, T, H, W] -> [B, p*p*C, T, H/p, W/p]; out channel (i*p+j)*C + c at (y, x)
    is input channel c at (p*y+i, p*x+j) (spec §4.4)."""
    B, C, T, H, W = x.shape
    x = x.reshape(B, C, T, H // p, p, W // p, p)          # b c t y i x j
    x = x.permute(0, 4, 6, 1, 2, 3, 5)                    # b i j c t y x
    return x.reshape(B, p * p * C, T, H // p, W // p)


def depth_to_space(x, a, b):
    """[B, a*b*b*C, T, H, W] -> [B, C, a*T, b*H, b*W]: output channel c at
    (a*t+i, b*y+j, b*x+k) is input channel ((i*b+j)*b+k)*C + c at (t, y, x) (spec §4.6).
    No frame is dropped here."""
    B, K, T, H, W = x.shape
    C = K // (a * b * b)
    x = x.reshape(B, a, b, b, C, T, H, W)                 # b i j k c t y x
    x = x.permute(0, 4, 5, 1, 6, 2, 7, 3)                 # b c t i y j x k
    return x.reshape(B, C, T * a, H * b, W * b)


# ---------------------------------------------------------------------------
# encoder / decoder
# ---------------------------------------------------------------------------

class _Level(nn.Module):
    """Container giving the names `block.{b}`, `downsample`, `norm`, `upsample`."""


class Encoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        C, mult, L, pad = cfg["base_channels"], cfg["channel_mult"], len(cfg["channel_mult"]), cfg["padding"]
        p = cfg["patch_size"]
        self.patch = p
        w = C * mult[0]
        self.conv_in = CausalConv3d(cfg["in_channels"] * p * p, w, 3, bias=False, padding=pad)
        self.down = nn.ModuleList()
        for l in range(L):
            level = _Level()
            level.block = nn.ModuleList()
            for _ in range(cfg["enc_blocks"][l]):
                level.block.append(ResBlock(w, C * mult[l], cfg))
                w = C * mult[l]
            if l < L - 1 and cfg["down"][l] != [1, 1]:
                level.downsample = CausalConv3d(w, w, 3, stride=tuple(cfg["down"][l]), bias=True, padding=pad)
            else:
                level.downsample = None
            self.down.append(level)
        self.mid = nn.ModuleList(ResBlock(w, w, cfg) for _ in range(cfg["mid_blocks"]))
        self.norm_out = GroupNorm(w, cfg["num_groups"], cfg["norm_eps"], cfg["norm_scope"])
        self.conv_out = CausalConv3d(w, cfg["lfq_bits"], 1, bias=True, padding=pad)

    def forward(self, x):
        if self.patch > 1:
            x = space_to_depth(x, self.patch)
        h = self.conv_in(x)
        for level in self.down:
            for block in level.block:
                h = block(h)
            if level.downsample is not None:
                h = level.downsample(h)
        for block in self.mid:
            h = block(h)
        return self.conv_out(F.silu(self.norm_out(h)))


class Decoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        C, mult, L, pad = cfg["base_channels"], cfg["channel_mult"], len(cfg["channel_mult"]), cfg["padding"]
        g, eps, scope = cfg["num_groups"], cfg["norm_eps"], cfg["norm_scope"]
        Z = cfg["lfq_bits"]
        self.patch = cfg["patch_size"]
        self.adaptive = cfg["decoder_norm"] == "adaptive"
        w = C * mult[L - 1]
        self.conv_in = CausalConv3d(Z, w, 3, bias=True, padding=pad)
        self.mid = nn.ModuleList(ResBlock(w, w, cfg) for _ in range(cfg["mid_blocks"]))
        levels = [None] * L
        self.up_factors = [None] * L
        for l in reversed(range(L)):
            level = _Level()
            if self.adaptive:
                level.norm = AdaptiveGroupNorm(w, Z, g, eps, scope, cfg["agn_var"])
            else:
                level.norm = GroupNorm(w, g, eps, scope)
            level.block = nn.ModuleList()
            for _ in range(cfg["dec_blocks"][l]):
                level.block.append(ResBlock(w, C * mult[l], cfg))
                w = C * mult[l]
            if l > 0 and cfg["down"][l - 1] != [1, 1]:
                a, b = cfg["down"][l - 1]
                level.upsample = CausalConv3d(w, w * a * b * b, 3, bias=True, padding=pad)
                self.up_factors[l] = (a, b)
            else:
                level.upsample = None
            levels[l] = level
        self.up = nn.ModuleList(levels)
        self.norm_out = GroupNorm(w, g, eps, scope)
        self.conv_out = CausalConv3d(w, cfg["in_channels"] * self.patch ** 2, 3, bias=True, padding=pad)

    def forward(self, q):
        h = self.conv_in(q)
        for block in self.mid:
            h = block(h)
        u = 1  # cumulative temporal upsampling between q and h
        for l in reversed(range(len(self.up))):
            level = self.up[l]
            h = level.norm(h, q, u) if self.adaptive else level.norm(h)
            for block in level.block:
                h = block(h)
            if level.upsample is not None:
                a, b = self.up_factors[l]
                h = depth_to_space(level.upsample(h), a, b)
                if a == 2:
                    # keep frame 0, drop frame 1 (the second frame of the first pair)
                    h = torch.cat([h[:, :, :1], h[:, :, 2:]], dim=2)
                u *= a
        h = self.conv_out(F.silu(self.norm_out(h)))
        if self.patch > 1:
            h = depth_to_space(h, 1, self.patch)
        return h


class ArgTokenizer(nn.Module):
    """The ARG tokenizer: encoder, LFQ and decoder, built from a configuration dict."""

    def __init__(self, config):
        super().__init__()
        self.config = validate_config(config)
        self.ft = temporal_factor(self.config)
        self.fs = spatial_factor(self.config)
        self.encoder = Encoder(self.config)
        self.decoder = Decoder(self.config)

    def check_input(self, x):
        """Raise ValueError unless x is [B, Cin, 1 + ft*k, H, W] with H, W multiples of fs."""
        cin = self.config["in_channels"]
        if x.dim() != 5 or x.shape[1] != cin:
            raise ValueError(f"expected input [B, {cin}, T, H, W], got {list(x.shape)}")
        T, H, W = x.shape[2:]
        if (T - 1) % self.ft:
            raise ValueError(f"frame count {T} is not of the form 1 + {self.ft}*k")
        if H % self.fs or W % self.fs or H == 0 or W == 0:
            raise ValueError(f"picture size {H}x{W} is not a multiple of {self.fs}")

    def encode(self, x):
        """x [B, Cin, T, H, W] in [-1, 1] -> latent z [B, Z, 1 + (T-1)/ft, H/fs, W/fs]."""
        self.check_input(x)
        return self.encoder(x)

    @staticmethod
    def quantize(z):
        """LFQ (spec §4.5): returns (q, tokens) with q = 2*[z > 0] - 1 and
        tokens = sum_c [z_c > 0] * 2^c, int64 [B, T', h, w].

        When gradients are being recorded, q carries a straight-through estimator
        (same values up to rounding, gradient of identity); otherwise q is exact.
        """
        bits = z > 0
        q = bits.to(z.dtype) * 2 - 1
        if torch.is_grad_enabled() and z.requires_grad:
            q = z + (q - z).detach()
        weights = (2 ** torch.arange(z.shape[1], device=z.device, dtype=torch.int64))
        tokens = (bits.to(torch.int64) * weights[None, :, None, None, None]).sum(dim=1)
        return q, tokens

    @staticmethod
    def tokens_to_q(tokens, bits, dtype=torch.float32):
        """Inverse of the token packing: int tokens [B, T', h, w] -> q [B, bits, T', h, w]."""
        shifts = torch.arange(bits, device=tokens.device, dtype=torch.int64)
        b = (tokens.to(torch.int64)[:, None] >> shifts[None, :, None, None, None]) & 1
        return b.to(dtype) * 2 - 1

    def decode(self, q):
        """q [B, Z, T', h, w] (+-1) -> x_hat [B, Cin, 1 + ft*(T'-1), h*fs, w*fs] (not clamped)."""
        if q.dim() != 5 or q.shape[1] != self.config["lfq_bits"]:
            raise ValueError(f"expected latent [B, {self.config['lfq_bits']}, T', h, w], got {list(q.shape)}")
        return self.decoder(q)

    def forward(self, x):
        """Full round trip; returns (x_hat, z, q, tokens)."""
        z = self.encode(x)
        q, tokens = self.quantize(z)
        return self.decode(q), z, q, tokens


def config_summary(cfg):
    """A few human-readable lines describing a configuration's size and cost."""
    cfg = validate_config(cfg)
    n = count_params(cfg)
    m = macs_per_pixel(cfg)
    return (f"ft={temporal_factor(cfg)} fs={spatial_factor(cfg)} "
            f"params: encoder {n['encoder']:,} decoder {n['decoder']:,} total {n['total']:,}; "
            f"MAC/pixel: encoder {m['encoder']:,.0f} decoder {m['decoder']:,.0f}")


if __name__ == "__main__":
    for _name, _cfg in CONFIGS.items():
        print(f"{_name:14s} {config_summary(_cfg)}")
