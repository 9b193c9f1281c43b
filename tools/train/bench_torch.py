#!/usr/bin/env python3
"""PyTorch's speed on an ARG model file: the twin (argmodel.py) next to the C engine.

    /usr/bin/python3 tools/train/bench_torch.py MODEL.safetensors [--size 640x360] [--frames 17]
                     [--threads N] [--repeats 3]

Encodes and decodes synthetic video (the picture argbench makes: gradients, a
moving disc, mild noise) with the PyTorch twin of the model under
torch.inference_mode(), float32 (f16 files are widened), on N threads. One
warm-up pass, then the median over --repeats passes; prints one JSON line:

    {"torch": "2.1.0", "threads": 2, "size": "640x360", "frames": 17,
     "decode_fps": 1.2, "encode_fps": 2.3, "mode": "...", ...}

The twin has no causal caches, so it cannot stream picture by picture as the C
engine does. It computes the same function on whole clips instead: the frames
are cut where the C encoder starts a new sequence (its default GOP of 8 latent
frames, 1 + 7 ft pictures; a fixed clip for clip-scope models), the last clip is
padded by repeating its last picture and the picture by repeating its edges (as
the C encoder pads), and the padding is cropped again after decoding. encode_fps
and decode_fps count the frames asked for, like argbench. "mode" says this.

Extra fields: decoded_frames (pictures that came out of the decoder after the
crop), psnr_db (of those against the input; a model that loaded wrongly
decodes noise), encode_s / decode_s (median seconds per pass), repeats, clips
(the clip lengths run), model (its name).

Without torch or numpy it prints {"error": "..."} and exits 3; other failures
print {"error": "..."} and exit 1.
"""

import argparse
import json
import math
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

GOP_LATENTS = 8  # ARG_GOP_DEFAULT (codec/include/arg/arg.h)
EXIT_NO_TORCH = 3


def fail(msg, code=1):
    print(json.dumps({"error": msg}), flush=True)
    sys.exit(code)


try:
    import numpy as np
    import torch
except ImportError as e:
    fail(f"python3 cannot import torch and numpy ({e})", EXIT_NO_TORCH)

import argmodel  # noqa: E402
import export  # noqa: E402


def parse_size(s):
    try:
        w, h = (int(v) for v in s.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size {s!r} is not WxH") from None
    if not (1 <= w <= 16384 and 1 <= h <= 16384):
        raise argparse.ArgumentTypeError(f"size {s!r}: each side must be 1..16384")
    return w, h


def positive(s):
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{s!r} is not an integer") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"{s!r} must be >= 1")
    return v


_LCG_A, _LCG_C, _M32 = 1664525, 1013904223, 0xFFFFFFFF


def _lcg_jump(n):
    """(A, C) per element k < n: k + 1 steps of argbench's LCG map s -> A s + C (mod 2^32)."""
    k = np.arange(1, n + 1, dtype=np.uint64)
    a = np.ones(n, np.uint64)
    c = np.zeros(n, np.uint64)
    pa, pc = np.uint64(_LCG_A), np.uint64(_LCG_C)
    m = np.uint64(_M32)
    for b in range(int(n).bit_length()):
        sel = ((k >> np.uint64(b)) & np.uint64(1)).astype(bool)
        a[sel] = (pa * a[sel]) & m
        c[sel] = (pa * c[sel] + pc) & m
        pc = (pa * pc + pc) & m
        pa = (pa * pa) & m
    return a, c


def make_frames(w, h, frames):
    """argbench's make_frame(), vectorised: float32 [3, frames, h, w] in [-1, 1]."""
    with np.errstate(over="ignore"):
        ja, jc = _lcg_jump(3 * w * h)
    c = np.arange(3, dtype=np.float32)[:, None, None]
    y = np.arange(h, dtype=np.float32)[None, :, None]
    x = np.arange(w, dtype=np.float32)[None, None, :]
    base = np.float32(0.8) * x / np.float32(w) - np.float32(0.4) + np.float32(0.3) * (c - 1) * y / np.float32(h)
    cy = y - np.float32(h // 2)
    out = np.empty((3, frames, h, w), np.float32)
    for f in range(frames):
        s0 = np.uint64((12345 + f * 7919) & _M32)
        s = (ja * s0 + jc) & np.uint64(_M32)
        noise = ((s >> np.uint64(8)).astype(np.float32) / np.float32(16777216.0) - np.float32(0.5)).reshape(3, h, w)
        cx = x - np.float32(w // 3 + (3 * f) % w)
        disc = np.where(cx * cx + cy * cy < np.float32(h * h) / np.float32(25), np.float32(0.6), np.float32(0))
        out[:, f] = np.clip(base + disc + np.float32(0.05) * noise, -1, 1)
    return out


def clip_plan(cfg, frames):
    """[(first frame, real frames, frames run)] as the C encoder cuts and pads sequences."""
    ft = argmodel.temporal_factor(cfg)
    seq = cfg["clip_frames"] if cfg["norm_scope"] == "clip" else 1 + (GOP_LATENTS - 1) * ft
    plan, start = [], 0
    while start < frames:
        real = min(seq, frames - start)
        run = seq if cfg["norm_scope"] == "clip" else 1 + ft * math.ceil((real - 1) / ft)
        plan.append((start, real, run))
        start += real
    return plan


def pad_clip(x, run, fs):
    """[1, C, T, H, W] -> [1, C, run, H', W'] repeating the last picture and the edges."""
    T, H, W = x.shape[2:]
    if run > T:
        x = torch.cat([x, x[:, :, -1:].expand(-1, -1, run - T, -1, -1)], dim=2)
    ph, pw = (-H) % fs, (-W) % fs
    if ph or pw:
        x = torch.cat([x, x[:, :, :, -1:].expand(-1, -1, -1, ph, -1)], dim=3) if ph else x
        x = torch.cat([x, x[..., -1:].expand(-1, -1, -1, -1, pw)], dim=4) if pw else x
    return x.contiguous()


def encode_pass(model, video, plan, fs):
    """Every clip through the encoder and LFQ -> list of int64 token tensors [1, T', h, w]."""
    tokens = []
    for start, real, run in plan:
        x = pad_clip(video[:, :, start:start + real], run, fs)
        _, tok = model.quantize(model.encode(x))
        tokens.append(tok)
    return tokens


def decode_pass(model, tokens, plan, w, h, bits):
    """Every clip's tokens through the decoder -> list of pictures [1, C, real, h, w], clamped."""
    out = []
    for tok, (_, real, _) in zip(tokens, plan):
        x = model.decode(model.tokens_to_q(tok, bits))
        out.append(x[:, :, :real, :h, :w].clamp(-1, 1))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description="Time the PyTorch twin of an ARG model (one JSON line).")
    ap.add_argument("model", help="ARG model file (.safetensors)")
    ap.add_argument("--size", type=parse_size, default=(640, 360), metavar="WxH", help="picture size")
    ap.add_argument("--frames", type=positive, default=17, help="frames (default 17)")
    ap.add_argument("--threads", type=positive, default=os.cpu_count() or 1, help="torch threads")
    ap.add_argument("--repeats", type=positive, default=3, help="timed passes after one warm-up (median)")
    args = ap.parse_args(argv)
    w, h = args.size
    torch.set_num_threads(args.threads)
    try:
        model = export.load_model(args.model)
    except (export.ModelFileError, argmodel.ConfigError, OSError) as e:
        fail(str(e))
    cfg = model.config
    fs, bits = model.fs, cfg["lfq_bits"]
    plan = clip_plan(cfg, args.frames)
    video = torch.from_numpy(make_frames(w, h, args.frames))[None]
    enc_t, dec_t = [], []
    with torch.inference_mode():
        for r in range(1 + args.repeats):
            t0 = time.perf_counter()
            tokens = encode_pass(model, video, plan, fs)
            t1 = time.perf_counter()
            out = decode_pass(model, tokens, plan, w, h, bits)
            t2 = time.perf_counter()
            if r:  # the first pass warms up
                enc_t.append(t1 - t0)
                dec_t.append(t2 - t1)
        decoded = torch.cat(out, dim=2)
        mse = float(((decoded - video) ** 2).mean()) / 4  # pictures span [-1, 1]: peak 2
    enc_s, dec_s = statistics.median(enc_t), statistics.median(dec_t)
    ft = model.ft
    seq = "fixed clips" if cfg["norm_scope"] == "clip" else f"sequences of {GOP_LATENTS} latent frames"
    mode = (f"whole clips: the twin has no causal caches, so each of the C encoder's {seq} "
            f"(here {'+'.join(str(run) for _, _, run in plan)} frames, ft {ft}, fs {fs}) "
            f"is encoded and decoded at once; float32")
    result = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "size": f"{w}x{h}",
        "frames": args.frames,
        "decode_fps": args.frames / dec_s,
        "encode_fps": args.frames / enc_s,
        "mode": mode,
        "decoded_frames": int(decoded.shape[2]),
        "psnr_db": 10 * math.log10(1 / mse) if mse > 0 else None,
        "encode_s": enc_s,
        "decode_s": dec_s,
        "repeats": args.repeats,
        "clips": [run for _, _, run in plan],
        "model": getattr(model, "model_name", None),
    }
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
