#!/usr/bin/env python3
"""Self-tests of the PyTorch twin (no pytest needed).

    /usr/bin/python3 tools/train/test_twin.py [-k SUBSTRING] [-v]

Checks the spec formulas against naive loop implementations, causality (prefix
property) of frame-scope models, the safetensors reader/writer and its rejection
rules, model-file export/load round trips, the Open-MAGVIT2 converter end to end,
and the parity-vector generator. Prints 'N passed, M failed'; exits 1 on failure.
"""

import argparse
import contextlib
import copy
import io
import json
import math
import os
import struct
import sys
import tempfile
import time
import traceback

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import argmodel as am  # noqa: E402
import convert_open_magvit2 as conv  # noqa: E402
import export  # noqa: E402
import make_parity  # noqa: E402
import safetensors_io as st  # noqa: E402

TMP = None  # a TemporaryDirectory path set by main()


def expect_error(exc_type, fn, *args, contains=None, **kwargs):
    try:
        fn(*args, **kwargs)
    except exc_type as e:
        if contains is not None and contains not in str(e):
            raise AssertionError(f"error {e!r} does not mention {contains!r}")
        return e
    raise AssertionError(f"{getattr(fn, '__name__', fn)} did not raise {exc_type.__name__}")


def close(a, b, tol=1e-5, what=""):
    a = a.detach().double() if isinstance(a, torch.Tensor) else torch.as_tensor(a, dtype=torch.float64)
    b = b.detach().double() if isinstance(b, torch.Tensor) else torch.as_tensor(b, dtype=torch.float64)
    assert a.shape == b.shape, f"{what}: shape {list(a.shape)} != {list(b.shape)}"
    err = (a - b).abs().max().item() if a.numel() else 0.0
    scale = max(1.0, b.abs().max().item() if b.numel() else 0.0)
    assert err <= tol * scale, f"{what}: max abs difference {err:.3g} > {tol * scale:.3g}"


def small_config(**kw):
    cfg = copy.deepcopy(am.CONFIGS["compact"])
    cfg.update(kw)
    return cfg


# ---------------------------------------------------------------------------
# configuration
# ---------------------------------------------------------------------------

def test_named_configs_and_anchors():
    factors = {"s16": (4, 16), "s4": (4, 4)}
    for name, cfg in am.CONFIGS.items():
        v = am.validate_config(cfg)
        assert (am.temporal_factor(v), am.spatial_factor(v)) == factors.get(name, (4, 8)), name
    # ANCHORS.md §1: about 145M + 226M parameters, 2.2 / 3.1 TMAC for 17x128x128
    n = am.count_params(am.CONFIGS["paper"])
    assert abs(n["encoder"] / 145e6 - 1) < 0.01 and abs(n["decoder"] / 226e6 - 1) < 0.01, n
    m = am.count_macs(am.CONFIGS["paper"], 17, 128, 128)
    assert abs(m["encoder"] / 2.2e12 - 1) < 0.03 and abs(m["decoder"] / 3.1e12 - 1) < 0.03, m
    assert am.CONFIGS["paper32"]["base_channels"] == 32
    # per-pixel MACs agree with the exact count for a long clip
    c = am.CONFIGS["compact"]
    ppx = am.macs_per_pixel(c)
    big = am.count_macs(c, 1 + 4 * 1000, 16, 16)
    for k in ppx:
        assert abs(big[k] / (4000 * 256) / ppx[k] - 1) < 2e-3, (k, big[k], ppx[k])


def test_config_rejections():
    bad = [
        dict(in_channels=0), dict(in_channels=5), dict(patch_size=3), dict(base_channels=0),
        dict(base_channels=1025), dict(channel_mult=[]), dict(channel_mult=[1] * 7),
        dict(channel_mult=[1, 2, 2, 17]), dict(enc_blocks=[1, 1, 1]), dict(dec_blocks=[1, 1, 1, 9]),
        dict(mid_blocks=-1), dict(down=[[1, 2], [2, 2]]), dict(down=[[1, 2], [2, 3], [2, 2]]),
        dict(down=[[1, 2], [2, 2], [2]]), dict(num_groups=0), dict(num_groups=257),
        dict(norm_eps=0), dict(norm_eps=-1e-6), dict(norm_eps="1e-6"), dict(norm_scope="batch"),
        dict(clip_frames=16), dict(clip_frames=0), dict(padding="reflect"),
        dict(decoder_norm="none"), dict(agn_var="x"), dict(lfq_bits=0), dict(lfq_bits=25),
        dict(in_channels=True), dict(base_channels=16.0), dict(extra_field=1),
        # ft = 32 > 16
        dict(channel_mult=[1] * 6, enc_blocks=[1] * 6, dec_blocks=[1] * 6, down=[[2, 1]] * 5,
             clip_frames=33),
    ]
    for change in bad:
        expect_error(am.ConfigError, am.validate_config, small_config(**change))
    cfg = small_config()
    del cfg["agn_var"]
    expect_error(am.ConfigError, am.validate_config, cfg, contains="agn_var")
    # valid edge cases
    am.validate_config(small_config(channel_mult=[3], enc_blocks=[0], dec_blocks=[2], down=[], clip_frames=1))
    am.validate_config(small_config(norm_eps=1))


def test_group_count():
    assert am.num_groups_for(128, 32) == 32
    assert am.num_groups_for(24, 32) == 24
    assert am.num_groups_for(48, 32) == 24
    assert am.num_groups_for(36, 8) == 6
    assert am.num_groups_for(7, 4) == 1
    assert am.num_groups_for(3, 256) == 3


UNUSUAL_CONFIGS = [
    # zero blocks in some levels, groups that do not divide, spatial-only / temporal-only steps
    small_config(base_channels=12, channel_mult=[1, 3, 3], enc_blocks=[0, 2, 0], dec_blocks=[1, 0, 2],
                 mid_blocks=0, down=[[2, 1], [1, 2]], num_groups=8, clip_frames=3,
                 decoder_norm="adaptive", agn_var="unbiased"),
    small_config(patch_size=4, in_channels=1, base_channels=8, channel_mult=[1, 2], enc_blocks=[1, 1],
                 dec_blocks=[1, 1], mid_blocks=2, down=[[2, 2]], clip_frames=5, norm_scope="clip"),
    small_config(channel_mult=[2], enc_blocks=[1], dec_blocks=[1], down=[], clip_frames=1),
    small_config(down=[[1, 1], [2, 2], [2, 2]], decoder_norm="adaptive"),
]


def test_tensor_names_match_spec_table():
    for cfg in [am.CONFIGS[n] for n in ("paper32", "compact", "compact_patch")] + UNUSUAL_CONFIGS:
        model = am.ArgTokenizer(cfg)
        got = {k: tuple(v.shape) for k, v in model.state_dict().items()}
        want = dict(am.tensor_shapes(cfg))
        assert got == want, (set(got) ^ set(want), [k for k in got if k in want and got[k] != want[k]])
    names = am.tensor_shapes(am.CONFIGS["paper"])
    for k in ("encoder.conv_in.weight", "encoder.down.0.block.1.conv1.weight", "encoder.down.1.block.0.nin_shortcut.weight",
              "encoder.down.2.downsample.bias", "encoder.mid.3.norm2.bias", "encoder.conv_out.bias",
              "decoder.up.3.norm.gamma.weight", "decoder.up.1.upsample.weight", "decoder.conv_out.bias"):
        assert k in names, k
    assert "encoder.down.3.downsample.weight" not in names and "decoder.up.0.upsample.weight" not in names
    assert "encoder.conv_in.bias" not in names and "encoder.down.0.block.0.conv1.bias" not in names
    assert names["decoder.up.1.upsample.weight"] == (256 * 4, 256, 3, 3, 3)   # down[0] = (1, 2)
    assert names["decoder.up.3.upsample.weight"] == (512 * 8, 512, 3, 3, 3)   # down[2] = (2, 2)
    assert names["decoder.up.2.norm.beta.weight"] == (512, 18)                # Cl_in of level 2


def test_unusual_configs_run():
    torch.manual_seed(0)
    for cfg in UNUSUAL_CONFIGS:
        model = make_parity.random_init(am.ArgTokenizer(cfg), 3).eval()
        ft, fs = model.ft, model.fs
        for T in (1, 1 + 2 * ft):
            x = torch.rand(1, cfg["in_channels"], T, 2 * fs, fs) * 2 - 1
            with torch.no_grad():
                y, z, q, tok = model(x)
            assert z.shape == (1, cfg["lfq_bits"], 1 + (T - 1) // ft, 2, 1), z.shape
            assert y.shape == x.shape, (y.shape, x.shape)
            assert torch.isfinite(y).all()


# ---------------------------------------------------------------------------
# spec formulas against naive loops
# ---------------------------------------------------------------------------

def test_space_to_depth_formula():
    for p in (2, 4):
        x = torch.randn(2, 3, 2, 4 * p // 2 * 2, 2 * p)
        y = am.space_to_depth(x, p)
        B, C, T, H, W = x.shape
        ref = torch.empty(B, C * p * p, T, H // p, W // p)
        for i in range(p):
            for j in range(p):
                for c in range(C):
                    ref[:, (i * p + j) * C + c] = x[:, c, :, i::p, j::p]
        assert torch.equal(y, ref)
        assert torch.equal(am.depth_to_space(y, 1, p), x)  # the output inverse


def test_depth_to_space_formula():
    for a, b in ((2, 2), (1, 2), (2, 1)):
        C, T, H, W = 3, 2, 2, 3
        x = torch.randn(2, a * b * b * C, T, H, W)
        y = am.depth_to_space(x, a, b)
        ref = torch.empty(2, C, a * T, b * H, b * W)
        for c in range(C):
            for t in range(T):
                for yy in range(H):
                    for xx in range(W):
                        for i in range(a):
                            for j in range(b):
                                for k in range(b):
                                    ref[:, c, a * t + i, b * yy + j, b * xx + k] = \
                                        x[:, ((i * b + j) * b + k) * C + c, t, yy, xx]
        assert torch.equal(y, ref), (a, b)


def test_lfq():
    z = torch.randn(2, 18, 3, 2, 2)
    z[0, 5, 0, 0, 0] = 0.0  # exactly zero -> bit 0
    q, tok = am.ArgTokenizer.quantize(z)
    assert tok.dtype == torch.int64 and tok.shape == (2, 3, 2, 2)
    assert torch.equal(q, torch.where(z > 0, 1.0, -1.0))
    ref = torch.zeros(2, 3, 2, 2, dtype=torch.int64)
    for c in range(18):
        ref += (z[:, c] > 0).long() << c
    assert torch.equal(tok, ref)
    assert torch.equal(am.ArgTokenizer.tokens_to_q(tok, 18), q)
    assert q[0, 5, 0, 0, 0] == -1 and (tok[0, 0, 0, 0] >> 5) & 1 == 0
    # straight-through: exact values, identity gradient
    zg = z.clone().requires_grad_(True)
    qg, _ = am.ArgTokenizer.quantize(zg)
    qg.sum().backward()
    assert torch.allclose(qg.detach(), q) and torch.equal(zg.grad, torch.ones_like(z))


def _ref_causal_conv(x, w, b, stride, mode):
    """Naive causal conv3d of one clip x [Ci, T, H, W] (numpy float64)."""
    Co, Ci, k = w.shape[0], w.shape[1], w.shape[2]
    st, ss = stride
    Ci_, T, H, W = x.shape
    s = k // 2
    P = np.zeros((Ci, T + k - 1, H + 2 * s, W + 2 * s))
    for tp in range(T + k - 1):
        for yp in range(H + 2 * s):
            for xp in range(W + 2 * s):
                t, y, xx = tp - (k - 1), yp - s, xp - s
                if mode == "replicate":
                    P[:, tp, yp, xp] = x[:, max(t, 0), min(max(y, 0), H - 1), min(max(xx, 0), W - 1)]
                elif t >= 0 and 0 <= y < H and 0 <= xx < W:
                    P[:, tp, yp, xp] = x[:, t, y, xx]
    To, Ho, Wo = (T - 1) // st + 1, (H + 2 * s - k) // ss + 1, (W + 2 * s - k) // ss + 1
    out = np.zeros((Co, To, Ho, Wo))
    for t in range(To):
        for y in range(Ho):
            for xx in range(Wo):
                patch = P[:, st * t:st * t + k, ss * y:ss * y + k, ss * xx:ss * xx + k]
                out[:, t, y, xx] = np.tensordot(w, patch, axes=([1, 2, 3, 4], [0, 1, 2, 3]))
    if b is not None:
        out += b[:, None, None, None]
    return out


def test_causal_conv_reference():
    torch.manual_seed(1)
    for mode in ("zeros", "replicate"):
        for k, stride, T in ((3, (1, 1), 3), (3, (2, 2), 5), (3, (1, 2), 2), (3, (2, 1), 1), (1, (1, 1), 2)):
            conv3 = am.CausalConv3d(2, 3, k, stride=stride, bias=True, padding=mode)
            with torch.no_grad():
                conv3.bias.normal_()
            x = torch.randn(1, 2, T, 4, 6)
            y = conv3(x)
            ref = _ref_causal_conv(x[0].double().numpy(), conv3.weight.detach().double().numpy(),
                                   conv3.bias.detach().double().numpy(), stride, mode)
            close(y[0], ref, 1e-5, f"conv {mode} k{k} s{stride} T{T}")


def test_group_norm_reference():
    torch.manual_seed(2)
    x = torch.randn(2, 12, 3, 4, 5) * 3 + 1
    w, b = torch.randn(12), torch.randn(12)
    G = am.num_groups_for(12, 8)
    assert G == 6
    for scope in ("frame", "clip"):
        y = am.group_norm(x, G, w, b, 0.5, scope)
        xd = x.double()
        ref = torch.empty_like(xd)
        for n in range(2):
            for g in range(G):
                cs = slice(g * 2, g * 2 + 2)
                frames = [slice(t, t + 1) for t in range(3)] if scope == "frame" else [slice(0, 3)]
                for fr in frames:
                    blk = xd[n, cs, fr]
                    mu, var = blk.mean(), ((blk - blk.mean()) ** 2).mean()
                    ref[n, cs, fr] = (blk - mu) / torch.sqrt(var + 0.5)
        ref = ref * w.double()[None, :, None, None, None] + b.double()[None, :, None, None, None]
        close(y, ref, 1e-5, f"group norm {scope}")


def test_adaptive_norm_reference():
    torch.manual_seed(3)
    C, Z = 6, 5
    for scope in ("frame", "clip"):
        for agn_var in ("biased", "unbiased"):
            for u, Tq in ((1, 3), (2, 3), (4, 2)):
                norm = am.AdaptiveGroupNorm(C, Z, 4, 0.3, scope, agn_var)
                q = torch.randn(2, Z, Tq, 2, 3).sign()
                T = 1 + (Tq - 1) * u
                x = torch.randn(2, C, T, 4, 6)
                y = norm(x, q, u)
                gn = am.group_norm(x, am.num_groups_for(C, 4), None, None, 0.3, scope).double()
                ref = torch.empty_like(gn)
                Wg, bg = norm.gamma.weight.double(), norm.gamma.bias.double()
                Wb, bb = norm.beta.weight.double(), norm.beta.bias.double()
                qd = q.double()
                for n in range(2):
                    for i in range(T):
                        src = qd[n, :, math.ceil(i / u)] if scope == "frame" else qd[n]
                        flat = src.reshape(Z, -1)
                        cnt = flat.shape[1]
                        mean = flat.mean(1)
                        var = ((flat - mean[:, None]) ** 2).sum(1) / (cnt - 1 if agn_var == "unbiased" else cnt)
                        scale = Wg @ torch.sqrt(var + 0.3) + bg
                        shift = Wb @ mean + bb
                        ref[n, :, i] = gn[n, :, i] * scale[:, None, None] + shift[:, None, None]
                close(y, ref, 1e-5, f"adaptive norm {scope} {agn_var} u{u}")
    # a single latent position: the unbiased variance is defined as 0 (spec §4.6)
    norm = am.AdaptiveGroupNorm(C, Z, 4, 1e-6, "frame", "unbiased")
    q1 = torch.ones(1, Z, 1, 1, 1)
    mean1, var1 = norm._stats(q1, (3, 4))
    assert torch.all(var1 == 0) and torch.all(mean1 == 1), "n = 1 must give variance 0"
    # a level without blocks cannot change the width (spec §3)
    expect_error(am.ConfigError, am.validate_config,
                 small_config(channel_mult=[1, 2], enc_blocks=[1, 0], dec_blocks=[1, 1], down=[[1, 2]]),
                 contains="width")


def test_frame_counts():
    model = am.ArgTokenizer(am.CONFIGS["compact_patch"]).eval()
    with torch.no_grad():
        for Tq, T in ((1, 1), (2, 5), (3, 9), (5, 17)):
            q = torch.randn(1, 18, Tq, 1, 2).sign()
            assert model.decode(q).shape == (1, 3, T, 8, 16)
            assert model.encode(torch.zeros(1, 3, T, 8, 16)).shape == (1, 18, Tq, 1, 2)
    expect_error(ValueError, model.encode, torch.zeros(1, 3, 4, 8, 8), contains="1 + 4*k")
    expect_error(ValueError, model.encode, torch.zeros(1, 3, 5, 12, 8), contains="multiple of 8")


# ---------------------------------------------------------------------------
# whole model against an independent functional reference written from the spec
# ---------------------------------------------------------------------------

def _r_conv(x, w, b, st, ss, mode):
    """Causal conv by explicit index construction (spec §4.1), no F.pad."""
    k = w.shape[2]
    s = k // 2
    B, C, T, H, W = x.shape
    if mode == "replicate":
        ti = torch.arange(-(k - 1), T).clamp(min=0)
        yi = torch.arange(-s, H + s).clamp(0, H - 1)
        xi = torch.arange(-s, W + s).clamp(0, W - 1)
        xp = x[:, :, ti][:, :, :, yi][:, :, :, :, xi]
    else:
        xp = x.new_zeros(B, C, T + k - 1, H + 2 * s, W + 2 * s)
        xp[:, :, k - 1:, s:s + H, s:s + W] = x
    return torch.nn.functional.conv3d(xp, w, b, (st, ss, ss))


def _r_gn(x, G, eps, scope, w=None, b=None):
    B, C, T, H, W = x.shape
    g = x.reshape(B, G, C // G, T, H, W)
    dims = (2, 4, 5) if scope == "frame" else (2, 3, 4, 5)
    mu = g.mean(dim=dims, keepdim=True)
    var = ((g - mu) ** 2).mean(dim=dims, keepdim=True)
    y = ((g - mu) / torch.sqrt(var + eps)).reshape(B, C, T, H, W)
    if w is not None:
        y = y * w[None, :, None, None, None] + b[None, :, None, None, None]
    return y


def _r_d2s(x, a, b):
    B, K, T, H, W = x.shape
    C = K // (a * b * b)
    out = x.new_empty(B, C, a * T, b * H, b * W)
    for i in range(a):
        for j in range(b):
            for k in range(b):
                ch = ((i * b + j) * b + k) * C
                out[:, :, i::a, j::b, k::b] = x[:, ch:ch + C]
    return out


def reference_forward(cfg, sd, x):
    """x [1, Cin, T, H, W] -> (z, decoded), straight from the spec's prose."""
    cfg = am.validate_config(cfg)
    mode, eps, scope, ng = cfg["padding"], cfg["norm_eps"], cfg["norm_scope"], cfg["num_groups"]
    silu = torch.nn.functional.silu

    def groups(c):
        return max(g for g in range(1, min(c, ng) + 1) if c % g == 0)

    def gn(h, name):
        return _r_gn(h, groups(h.shape[1]), eps, scope, sd[name + ".weight"], sd[name + ".bias"])

    def conv(h, name, st=1, ss=1):
        return _r_conv(h, sd[name + ".weight"], sd.get(name + ".bias"), st, ss, mode)

    def block(h, pre):
        r = conv(silu(gn(h, pre + ".norm1")), pre + ".conv1")
        r = conv(silu(gn(r, pre + ".norm2")), pre + ".conv2")
        return r + (conv(h, pre + ".nin_shortcut") if pre + ".nin_shortcut.weight" in sd else h)

    p, L = cfg["patch_size"], len(cfg["channel_mult"])
    B, Cin, T, H, W = x.shape
    if p > 1:
        h = x.new_empty(B, Cin * p * p, T, H // p, W // p)
        for i in range(p):
            for j in range(p):
                h[:, (i * p + j) * Cin:(i * p + j + 1) * Cin] = x[:, :, :, i::p, j::p]
    else:
        h = x
    h = conv(h, "encoder.conv_in")
    for l in range(L):
        for b in range(cfg["enc_blocks"][l]):
            h = block(h, f"encoder.down.{l}.block.{b}")
        if l < L - 1 and cfg["down"][l] != [1, 1]:
            h = conv(h, f"encoder.down.{l}.downsample", *cfg["down"][l])
    for k in range(cfg["mid_blocks"]):
        h = block(h, f"encoder.mid.{k}")
    z = conv(silu(gn(h, "encoder.norm_out")), "encoder.conv_out")

    q = (z > 0).to(z.dtype) * 2 - 1
    h = conv(q, "decoder.conv_in")
    for k in range(cfg["mid_blocks"]):
        h = block(h, f"decoder.mid.{k}")
    src = list(range(q.shape[2]))  # latent frame that produced each hidden frame
    for l in reversed(range(L)):
        pre = f"decoder.up.{l}"
        if cfg["decoder_norm"] == "plain":
            h = gn(h, pre + ".norm")
        else:
            y = _r_gn(h, groups(h.shape[1]), eps, scope)
            out = torch.empty_like(y)
            for i, t in enumerate(src):
                sel = q[:, :, t] if scope == "frame" else q
                flat = sel.reshape(B, q.shape[1], -1)
                n = flat.shape[2]
                mean = flat.mean(2)
                var = ((flat - mean[..., None]) ** 2).sum(2) / (n - 1 if cfg["agn_var"] == "unbiased" else n)
                scale = torch.sqrt(var + eps) @ sd[pre + ".norm.gamma.weight"].t() + sd[pre + ".norm.gamma.bias"]
                shift = mean @ sd[pre + ".norm.beta.weight"].t() + sd[pre + ".norm.beta.bias"]
                out[:, :, i] = y[:, :, i] * scale[:, :, None, None] + shift[:, :, None, None]
            h = out
        for b in range(cfg["dec_blocks"][l]):
            h = block(h, f"{pre}.block.{b}")
        if l > 0 and cfg["down"][l - 1] != [1, 1]:
            a, bb = cfg["down"][l - 1]
            h = _r_d2s(conv(h, pre + ".upsample"), a, bb)
            src = [t for t in src for _ in range(a)]
            if a == 2:
                keep = [0] + list(range(2, h.shape[2]))
                h = h[:, :, keep]
                src = [src[i] for i in keep]
    h = conv(silu(gn(h, "decoder.norm_out")), "decoder.conv_out")
    if p > 1:
        h = _r_d2s(h, 1, p)
    return z, h


def test_whole_model_against_reference():
    cases = [(am.CONFIGS["compact"], 9, 16, 24), (am.CONFIGS["compact_patch"], 5, 16, 8),
             (small_config(norm_scope="clip", clip_frames=9, decoder_norm="adaptive", agn_var="unbiased",
                           norm_eps=0.05), 9, 16, 16),
             (small_config(decoder_norm="adaptive", padding="zeros", norm_eps=0.2), 5, 8, 16)]
    cases += [(c, 1 + 2 * am.temporal_factor(c), 2 * am.spatial_factor(c), am.spatial_factor(c))
              for c in UNUSUAL_CONFIGS]
    for i, (cfg, T, H, W) in enumerate(cases):
        model = make_parity.random_init(am.ArgTokenizer(cfg), 100 + i).eval()
        sd = {k: v.double() for k, v in model.state_dict().items()}
        x = torch.from_numpy(make_parity.smooth_video(T, cfg["in_channels"], H, W, i)).permute(1, 0, 2, 3)[None]
        with torch.no_grad():
            z = model.encode(x)
            q, _ = model.quantize(z)
            y = model.decode(q)
            zr, yr = reference_forward(cfg, sd, x.double())
        close(z, zr, 1e-4, f"case {i} latent")
        assert torch.equal(q, (zr > 0).float() * 2 - 1), f"case {i}: LFQ bits differ (rounding?)"
        close(y, yr, 1e-4, f"case {i} decoded")


# ---------------------------------------------------------------------------
# causality (prefix property) of frame-scope models
# ---------------------------------------------------------------------------

def _prefix_check(name, H, W):
    model = make_parity.random_init(am.ArgTokenizer(am.CONFIGS[name]), 11).eval()
    x = torch.from_numpy(make_parity.smooth_video(9, 3, H, W, 12)).permute(1, 0, 2, 3)[None]
    with torch.no_grad():
        z = model.encode(x)
        q, _ = model.quantize(z)
        y = model.decode(q)
        for n_frames, n_latent in ((1, 1), (5, 2)):
            close(model.encode(x[:, :, :n_frames]), z[:, :, :n_latent], 1e-4, f"{name} encode prefix {n_frames}")
            close(model.decode(q[:, :, :n_latent]), y[:, :, :n_frames], 1e-4, f"{name} decode prefix {n_latent}")
        # a change in the future must not reach the past
        x2 = x.clone()
        x2[:, :, 6:] = -x2[:, :, 6:]
        z2 = model.encode(x2)
        close(z2[:, :, :2], z[:, :, :2], 1e-4, f"{name} future change")
        assert (z2[:, :, 2] - z[:, :, 2]).abs().max() > 1e-3


def test_causality_compact():
    _prefix_check("compact", 32, 24)


def test_causality_compact_patch():
    _prefix_check("compact_patch", 24, 32)


def test_clip_scope_is_not_causal():
    cfg = small_config(norm_scope="clip", clip_frames=9, decoder_norm="adaptive", agn_var="unbiased")
    model = make_parity.random_init(am.ArgTokenizer(cfg), 5).eval()
    x = torch.rand(1, 3, 9, 16, 16) * 2 - 1
    with torch.no_grad():
        a = model.encode(x)[:, :, :2]
        b = model.encode(x[:, :, :5])
    assert (a - b).abs().max() > 1e-4  # clip statistics see the whole clip


# ---------------------------------------------------------------------------
# safetensors container
# ---------------------------------------------------------------------------

def test_safetensors_roundtrip():
    rng = np.random.default_rng(0)
    tensors = {"b.x": rng.standard_normal((2, 3)).astype(np.float32),
               "a": rng.standard_normal((4,)).astype(np.float16),
               "c": np.arange(6, dtype=np.int32).reshape(1, 2, 3),
               "scalar_like": np.array([1.5], dtype=np.float32),
               "t5": rng.standard_normal((1, 2, 1, 2, 1)).astype(np.float32)}
    meta = {"format": "x", "k": "v é"}
    blob = st.encode_safetensors(tensors, meta)
    (n,) = struct.unpack("<Q", blob[:8])
    assert (8 + n) % 8 == 0
    header = json.loads(blob[8:8 + n])
    assert header["__metadata__"] == meta
    names = [k for k in header if k != "__metadata__"]
    offs = [header[k]["data_offsets"] for k in sorted(names)]
    assert offs[0][0] == 0 and all(offs[i][1] == offs[i + 1][0] for i in range(len(offs) - 1))
    back, meta2 = st.decode_safetensors(blob)
    assert meta2 == meta and set(back) == set(tensors)
    for k in tensors:
        assert back[k].dtype == tensors[k].dtype and np.array_equal(back[k], tensors[k]), k
    path = os.path.join(TMP, "rt.safetensors")
    st.write_safetensors(path, {k: torch.from_numpy(v) for k, v in tensors.items()}, meta)
    back2, _ = st.read_safetensors(path)
    assert all(np.array_equal(back2[k], tensors[k]) for k in tensors)
    assert st.data_section(path) == blob[8 + n:]
    # no metadata at all is a valid container
    back3, meta3 = st.decode_safetensors(st.encode_safetensors({"x": np.zeros(3, np.float32)}))
    assert meta3 is None and back3["x"].shape == (3,)


def _blob(header, data=b"", pad=b""):
    text = json.dumps(header).encode() + pad
    return struct.pack("<Q", len(text)) + text + data


def test_safetensors_rejections():
    ok = {"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}
    st.decode_safetensors(_blob(ok, b"\0" * 8, b"   "))  # sanity: valid, with trailing spaces
    cases = [
        (b"\0" * 7, "shorter"),
        (struct.pack("<Q", 100) + b"{}", "exceeds the file"),
        (struct.pack("<Q", 17 * 2 ** 20) + b"{}" * 10, "16 MiB"),
        (struct.pack("<Q", 3) + b"{x}", "not valid JSON"),
        (struct.pack("<Q", 2) + b"[]", "not a JSON object"),
        (_blob({"x": {"dtype": "F64", "shape": [1], "data_offsets": [0, 8]}}, b"\0" * 8), "dtype"),
        (_blob({"x": {"dtype": "F32", "shape": [1, 1, 1, 1, 1, 1], "data_offsets": [0, 4]}}, b"\0" * 4), "dimensions"),
        (_blob({"x": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}}), "not positive"),
        (_blob({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, b"\0" * 4), "bytes for"),
        (_blob({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 4), "past the data"),
        (_blob({"x": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}}, b"\0" * 4), "bad data_offsets"),
        (_blob({"x": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, b"\0" * 8), "gap"),
        (_blob({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                "y": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, b"\0" * 8), "overlap"),
        (_blob(ok, b"\0" * 12), "trailing bytes"),
        (_blob({"x": {"dtype": "F32", "shape": [1]}}, b"\0" * 4), "missing field"),
        (_blob({"x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4], "z": 1}}, b"\0" * 4), "unknown field"),
        (_blob({"x": {"dtype": "F32", "shape": [1.0], "data_offsets": [0, 4]}}, b"\0" * 4), "shape"),
        (_blob({"__metadata__": {"a": 1}}), "strings"),
        (struct.pack("<Q", 2) + b"\xff\xfe", "not valid JSON"),
    ]
    for blob, msg in cases:
        expect_error(st.SafetensorsError, st.decode_safetensors, blob, contains=msg)
    dup = b'{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
    expect_error(st.SafetensorsError, st.decode_safetensors, struct.pack("<Q", len(dup)) + dup + b"\0" * 4,
                 contains="repeats")
    dupf = b'{"x":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
    expect_error(st.SafetensorsError, st.decode_safetensors, struct.pack("<Q", len(dupf)) + dupf + b"\0" * 4,
                 contains="repeats")
    nan = b'{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,NaN]}}'
    expect_error(st.SafetensorsError, st.decode_safetensors, struct.pack("<Q", len(nan)) + nan, contains="JSON")


# ---------------------------------------------------------------------------
# model files
# ---------------------------------------------------------------------------

def test_export_load_roundtrip():
    torch.manual_seed(4)
    model = make_parity.random_init(am.ArgTokenizer(am.CONFIGS["compact_patch"]), 21).eval()
    path = os.path.join(TMP, "m.safetensors")
    export.export_model(model, path, name="arg-test.1", description="unit test")
    tensors, meta = st.read_safetensors(path)
    assert meta["format"] == "arg-model" and meta["format_version"] == "1" and meta["name"] == "arg-test.1"
    assert json.loads(meta["config"]) == json.loads(json.dumps(am.CONFIGS["compact_patch"]))
    assert " " not in meta["config"]
    assert all(v.dtype == np.float32 for v in tensors.values())
    back = export.load_model(path)
    sd, sd2 = model.state_dict(), back.state_dict()
    assert set(sd) == set(sd2) and all(torch.equal(sd[k], sd2[k]) for k in sd)
    x = torch.rand(1, 3, 5, 16, 16) * 2 - 1
    with torch.no_grad():
        assert torch.equal(model(x)[0], back(x)[0])
    # f16: values equal the f16 rounding of the f32 weights
    path16 = os.path.join(TMP, "m16.safetensors")
    export.export_model(model, path16, dtype="f16")
    t16, _ = st.read_safetensors(path16)
    assert all(v.dtype == np.float16 for v in t16.values())
    back16 = export.load_model(path16)
    for k, v in back16.state_dict().items():
        assert torch.equal(v, sd[k].half().float()), k
    # CLI: re-export the f32 file as f16, and --info
    path16b = os.path.join(TMP, "m16b.safetensors")
    with contextlib.redirect_stdout(io.StringIO()):
        assert export.main([path, "-o", path16b, "--dtype", "f16"]) == 0
    assert open(path16b, "rb").read() != open(path16, "rb").read()  # the name is kept from the source
    assert st.data_section(path16b) == st.data_section(path16)     # same tensor bytes -> same model ID
    with contextlib.redirect_stdout(io.StringIO()) as out:
        assert export.main(["--info", path16b]) == 0
    assert "arg-test.1" in out.getvalue()
    expect_error(export.ModelFileError, export.export_model, model, path, name="bad name!")


def test_model_file_rejections():
    cfg = am.CONFIGS["compact"]
    model = am.ArgTokenizer(cfg)
    sd = {k: v.numpy() for k, v in model.state_dict().items()}
    meta = export.model_metadata(cfg)
    path = os.path.join(TMP, "bad.safetensors")

    def try_file(tensors, metadata, msg):
        st.write_safetensors(path, tensors, metadata)
        expect_error(export.ModelFileError, export.read_model_file, path, contains=msg)

    t = dict(sd)
    del t["encoder.conv_in.weight"]
    try_file(t, meta, "missing tensor")
    try_file({**sd, "encoder.extra.weight": np.zeros(2, np.float32)}, meta, "does not use")
    try_file({**sd, "encoder.conv_out.bias": np.zeros(17, np.float32)}, meta, "shape")
    try_file({**sd, "encoder.conv_out.bias": np.zeros(18, np.int32)}, meta, "not allowed")
    try_file(sd, None, "__metadata__")
    try_file(sd, {**meta, "format": "other"}, "format")
    try_file(sd, {**meta, "format_version": "2"}, "format_version")
    try_file(sd, {k: v for k, v in meta.items() if k != "config"}, "config")
    try_file(sd, {**meta, "config": "{"}, "JSON")
    try_file(sd, {**meta, "config": json.dumps({**cfg, "lfq_bits": 30})}, "lfq_bits")
    try_file(sd, {**meta, "config": json.dumps({**cfg, "new_field": 1})}, "unknown")


# ---------------------------------------------------------------------------
# Open-MAGVIT2 conversion
# ---------------------------------------------------------------------------

def _om2_key(name):
    """Independent re-implementation of the Open-MAGVIT2 naming for the test."""
    parts = name.split(".")
    if parts[1] == "mid":
        parts[1] = "mid_block"
        name = ".".join(parts)
    if parts[0] == "decoder" and parts[1] == "up" and parts[3] == "norm":
        return ".".join(["decoder", "adaptive", parts[2]] + parts[4:])
    if parts[0] == "decoder" and parts[1] == "up" and parts[3] == "upsample":
        return ".".join(parts[:4] + ["conv1", "conv_1", parts[4]])
    if parts[-2] in ("conv_in", "conv_out", "conv1", "conv2", "nin_shortcut", "downsample"):
        return ".".join(parts[:-1] + ["conv_1", parts[-1]])
    return name


def test_converter_name_mapping():
    for a in am.tensor_shapes(am.CONFIGS["paper"]):
        o = _om2_key(a)
        assert conv.to_open_magvit2_name(a) == o, (a, o, conv.to_open_magvit2_name(a))
        assert conv.to_arg_name(o) == a, (o, a)
    assert conv.to_arg_name("encoder.conv_in.conv_1.weight") == "encoder.conv_in.weight"
    assert conv.to_arg_name("decoder.up.2.upsample.conv1.conv_1.bias") == "decoder.up.2.upsample.bias"
    assert conv.to_arg_name("decoder.adaptive.0.beta.weight") == "decoder.up.0.norm.beta.weight"
    assert conv.to_arg_name("encoder.mid_block.3.conv2.conv_1.weight") == "encoder.mid.3.conv2.weight"
    assert conv.ema_name("encoder.conv_in.conv_1.weight") == "model_ema.encoderconv_inconv_1weight"


def test_converter_end_to_end():
    cfg = am.CONFIGS["paper32"]
    shapes = am.tensor_shapes(cfg)
    rng = np.random.default_rng(7)
    raw, ema, sd = {}, {}, {}
    for a, shape in shapes.items():
        raw[a] = torch.from_numpy(rng.standard_normal(shape, dtype=np.float32))
        ema[a] = torch.from_numpy(rng.standard_normal(shape, dtype=np.float32))
        sd[_om2_key(a)] = raw[a]
        sd["model_ema." + _om2_key(a).replace(".", "")] = ema[a]
    # things a real checkpoint also holds
    sd["model_ema.decay"] = torch.tensor(0.999)
    sd["model_ema.num_updates"] = torch.tensor(1000, dtype=torch.int32)
    sd["model_ema.lossdiscriminatorblocks0weight"] = torch.zeros(3)
    sd["loss.discriminator.blocks.0.weight"] = torch.zeros(3)
    sd["quantize.mask"] = torch.arange(18)
    ckpt = os.path.join(TMP, "om2.ckpt")
    torch.save({"state_dict": sd, "global_step": 5}, ckpt)
    out = os.path.join(TMP, "om2.safetensors")
    quiet = lambda *a, **k: None  # noqa: E731
    got_cfg = conv.convert_file(ckpt, out, log=quiet)
    assert got_cfg == am.validate_config(cfg), got_cfg
    c2, tensors, meta = export.read_model_file(out)
    assert meta["name"] == "open-magvit2"
    assert set(tensors) == set(shapes)
    for a in shapes:
        assert np.array_equal(tensors[a], ema[a].numpy()), a
    # --no-ema gives the raw weights
    out2 = os.path.join(TMP, "om2raw.safetensors")
    with contextlib.redirect_stdout(io.StringIO()):
        assert conv.main([ckpt, "-o", out2, "--no-ema", "--dtype", "f16"]) == 0
    _, t2, _ = export.read_model_file(out2)
    assert all(np.array_equal(t2[a], raw[a].half().float().numpy()) for a in shapes)
    # --config override (here: a field the shapes cannot reveal)
    conf_over = conv.convert_state_dict(sd, config_overrides={"padding": "replicate"}, log=quiet)[0]
    assert conf_over["padding"] == "replicate"
    # errors: a missing key, an unexpected key, incomplete EMA
    bad = dict(sd)
    del bad["encoder.mid_block.1.norm1.weight"]
    expect_error(conv.ConversionError, conv.convert_state_dict, bad, log=quiet, contains="encoder.mid_block.1.norm1.weight")
    bad = dict(sd)
    bad["decoder.up.0.block.0.conv3.conv_1.weight"] = torch.zeros(1)
    expect_error(conv.ConversionError, conv.convert_state_dict, bad, log=quiet, contains="conv3")
    bad = dict(sd)
    del bad["model_ema.decoderconv_outconv_1bias"]
    expect_error(conv.ConversionError, conv.convert_state_dict, bad, log=quiet, contains="EMA")
    conv.convert_state_dict(bad, use_ema=False, log=quiet)  # fine without EMA
    bad = dict(sd)
    bad["model_ema.decoderconv_outconv_1bias"] = torch.zeros(5)
    expect_error(conv.ConversionError, conv.convert_state_dict, bad, log=quiet, contains="shape")


def test_converter_infers_other_sizes():
    cfg = small_config(base_channels=8, channel_mult=[1, 2, 4], enc_blocks=[2, 2, 2], dec_blocks=[2, 2, 2],
                       mid_blocks=2, down=[[1, 2], [2, 2]], num_groups=32, norm_scope="clip",
                       clip_frames=17, padding="zeros", decoder_norm="adaptive", agn_var="unbiased",
                       lfq_bits=10)
    sd = {_om2_key(a): torch.zeros(s) for a, s in am.tensor_shapes(cfg).items()}
    got, _ = conv.convert_state_dict(sd, log=lambda *a: None)
    assert got == am.validate_config(cfg), got


# ---------------------------------------------------------------------------
# parity vectors
# ---------------------------------------------------------------------------

def test_make_parity_cli():
    mpath, vpath = os.path.join(TMP, "pm.safetensors"), os.path.join(TMP, "pv.safetensors")
    with contextlib.redirect_stdout(io.StringIO()):
        rc = make_parity.main(["--config", "compact", "--seed", "3", "--frames", "7", "--height", "16",
                               "--width", "24", "--out-model", mpath, "--out-vectors", vpath])
    assert rc == 0
    vec, meta = st.read_safetensors(vpath)
    assert all(v.dtype == np.float32 for v in vec.values())
    assert (meta["frames"], meta["height"], meta["width"], meta["latent_frames"]) == ("7", "16", "24", "3")
    assert vec["input"].shape == (7, 3, 16, 24) and vec["decoded"].shape == (7, 3, 16, 24)
    assert vec["latent"].shape == (3, 18, 2, 3) and vec["tokens"].shape == (3, 2, 3)
    assert np.abs(vec["input"]).max() <= 1 and np.abs(vec["decoded"]).max() <= 1
    # recompute from the written model: 7 frames padded to 9 by repeating the last
    model = export.load_model(mpath)
    x = torch.from_numpy(vec["input"]).permute(1, 0, 2, 3)[None]
    x = torch.cat([x, x[:, :, -1:], x[:, :, -1:]], dim=2)
    with torch.no_grad():
        z = model.encode(x)
        q, tok = model.quantize(z)
        close(z[0].permute(1, 0, 2, 3), vec["latent"], 1e-6, "latent")
        assert np.array_equal(tok[0].numpy(), vec["tokens"].astype(np.int64))
        q2 = am.ArgTokenizer.tokens_to_q(torch.from_numpy(vec["tokens"]).long()[None], 18)
        dec = model.decode(q2).clamp(-1, 1)[0, :, :7].permute(1, 0, 2, 3)
        close(dec, vec["decoded"], 1e-6, "decoded")
    # same seed -> identical files
    vpath2 = os.path.join(TMP, "pv2.safetensors")
    with contextlib.redirect_stdout(io.StringIO()):
        make_parity.main(["--model", mpath, "--seed", "3", "--frames", "7", "--height", "16", "--width", "24",
                          "--out-vectors", vpath2])
    v2, _ = st.read_safetensors(vpath2)
    assert all(np.array_equal(v2[k], vec[k]) for k in vec)
    # clip scope needs exactly clip_frames
    cm = am.ArgTokenizer(small_config(norm_scope="clip", clip_frames=9))
    expect_error(AssertionError, make_parity.compute_vectors, cm, np.zeros((5, 3, 8, 8), np.float32))


def main():
    global TMP
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-k", default="", help="run only tests whose name contains this")
    ap.add_argument("-v", action="store_true", help="print each test's time")
    args = ap.parse_args()
    torch.set_num_threads(min(2, torch.get_num_threads()))
    tests = [(n, f) for n, f in globals().items() if n.startswith("test_") and callable(f) and args.k in n]
    passed = failed = 0
    t_all = time.time()
    with tempfile.TemporaryDirectory(prefix="arg-twin-") as tmp:
        TMP = tmp
        for name, fn in tests:
            t0 = time.time()
            try:
                fn()
                passed += 1
                if args.v:
                    print(f"ok    {name} ({time.time() - t0:.2f} s)")
            except Exception:
                failed += 1
                print(f"FAIL  {name}")
                traceback.print_exc()
    print(f"{passed} passed, {failed} failed ({time.time() - t_all:.1f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
