#!/usr/bin/env python3
"""Generate parity vectors for the C engine from the PyTorch twin.

Either random weights for a named configuration (written with --out-model) or an
existing model file. The vectors file (safetensors, all tensors F32) holds:

    input    [T, Cin, H, W]   the video fed to the encoder, in [-1, 1]
    latent   [T', Z, h, w]    encoder output z before quantisation
    tokens   [T', h, w]       LFQ tokens (integer values stored as float)
    decoded  [T, Cin, H, W]   decode(quantize(z)) clamped to [-1, 1], real frames only

and metadata: format "arg-parity", format_version "1", frames, height, width,
latent_frames, seed (weights), video_seed (input video), config (the model's JSON),
model_name, min_abs_latent (smallest |z|: token bits are robust to errors below it).

The input video's seed starts at seed + 1 and moves on until every |z| is at least
--min-margin (default 1e-4), so another engine's float rounding cannot flip a bit.

When T is not of the form 1 + ft*k the clip is padded to the next such length by
repeating the last frame (as the C engine does); `latent`/`tokens` cover the
padded clip and `decoded` is cropped back to the T real frames.

Examples:
    make_parity.py --config compact --frames 9 --height 64 --width 48 \\
        --out-model /tmp/compact.safetensors --out-vectors /tmp/compact.vec.safetensors
    make_parity.py --model models/arg-s8.safetensors --frames 17 --height 64 --width 64 \\
        --out-vectors /tmp/s8.vec.safetensors
"""

import argparse
import json
import math
import sys
import time

import numpy as np
import torch

import argmodel
from export import ModelFileError, export_model, load_model
from safetensors_io import write_safetensors

VECTORS_FORMAT = "arg-parity"
VECTORS_VERSION = "1"


def random_init(model, seed):
    """Deterministic random weights that keep activations O(1) and make every
    affine / bias term non-trivial, so that parity tests exercise all of them.

    Conv weights: N(0, gain^2 / fan_in) (gain 1.0; 0.5 for the second conv of a
    ResBlock so the residual stream grows slowly); conv biases 0.1*N(0,1); norm
    weights 1 + 0.1*N(0,1), norm biases 0.1*N(0,1); adaptive-norm linears give a
    scale near 1 and a shift near 0 that still depend on the latent statistics.
    """
    rng = np.random.default_rng(seed)
    Z = model.config["lfq_bits"]
    sd = model.state_dict()
    new = {}
    for name in sorted(sd):
        shape = tuple(sd[name].shape)
        n = rng.standard_normal(shape)
        if name.endswith((".gamma.weight", ".beta.weight")):
            v = n * (0.3 / math.sqrt(Z))
        elif name.endswith(".gamma.bias"):
            v = 1.0 + 0.1 * n
        elif len(shape) == 5:
            fan_in = shape[1] * shape[2] * shape[3] * shape[4]
            gain = 0.5 if name.endswith(".conv2.weight") else 1.0
            if name == "decoder.conv_out.weight":
                gain = 0.5
            v = n * (gain / math.sqrt(fan_in))
        elif name.endswith(".weight"):  # GroupNorm weight
            v = 1.0 + 0.1 * n
        else:  # biases
            v = 0.1 * n
        new[name] = torch.from_numpy(v.astype(np.float32))
    model.load_state_dict(new, strict=True)
    return model


def smooth_video(frames, channels, height, width, seed):
    """A deterministic smooth-ish video [T, C, H, W] in [-1, 1]: moving gradients,
    drifting sinusoids and low-pass noise (correlated in time and space)."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames, dtype=np.float64)[:, None, None]
    y = (np.arange(height, dtype=np.float64)[None, :, None] + 0.5) / height
    x = (np.arange(width, dtype=np.float64)[None, None, :] + 0.5) / width
    out = np.empty((frames, channels, height, width), dtype=np.float64)
    # low-pass noise per channel: white noise filtered with a Gaussian in frequency
    ft = np.fft.fftfreq(frames)[:, None, None]
    fy = np.fft.fftfreq(height)[None, :, None]
    fx = np.fft.fftfreq(width)[None, None, :]
    lowpass = np.exp(-(ft ** 2) / (2 * 0.08 ** 2) - (fy ** 2 + fx ** 2) / (2 * 0.06 ** 2))
    for c in range(channels):
        theta = rng.uniform(0, 2 * np.pi)
        grad = rng.uniform(0.3, 0.8) * ((x - 0.5) * np.cos(theta) + (y - 0.5) * np.sin(theta)) * 2
        waves = np.zeros((frames, height, width))
        for _ in range(3):
            kx, ky = rng.uniform(-6, 6, size=2)
            vx, vy = rng.uniform(-0.03, 0.03, size=2)
            phase = rng.uniform(0, 2 * np.pi)
            waves += 0.25 * np.sin(2 * np.pi * (kx * (x - vx * t) + ky * (y - vy * t)) + phase)
        noise = np.real(np.fft.ifftn(np.fft.fftn(rng.standard_normal((frames, height, width))) * lowpass))
        noise /= noise.std() + 1e-12
        out[:, c] = np.tanh(grad + waves + 0.4 * noise)
    return np.clip(out, -1.0, 1.0).astype(np.float32)


def padded_frames(frames, ft):
    """Smallest 1 + ft*k >= frames."""
    return 1 + ft * math.ceil((frames - 1) / ft)


def check_shape(cfg, frames, height, width):
    """Raise ValueError unless the model can take T x H x W (before any padding)."""
    fs = argmodel.spatial_factor(cfg)
    if height <= 0 or width <= 0 or height % fs or width % fs:
        raise ValueError(f"height and width must be positive multiples of fs = {fs}, got {height}x{width}")
    if cfg["norm_scope"] == "clip" and frames != cfg["clip_frames"]:
        raise ValueError(f"clip scope: frames must equal clip_frames = {cfg['clip_frames']}, got {frames}")


@torch.no_grad()
def compute_vectors(model, video):
    """Run the twin on video [T, Cin, H, W] (np.float32) -> dict of np.float32 arrays."""
    cfg = model.config
    T, cin, H, W = video.shape
    if cin != cfg["in_channels"]:
        raise ValueError(f"video has {cin} channels, the model takes {cfg['in_channels']}")
    if H % model.fs or W % model.fs:
        raise ValueError(f"height and width must be multiples of fs = {model.fs}, got {H}x{W}")
    if cfg["norm_scope"] == "clip":
        assert T == cfg["clip_frames"], f"clip scope: frames must equal clip_frames = {cfg['clip_frames']}"
    Tp = padded_frames(T, model.ft)
    x = torch.from_numpy(video)
    if Tp > T:  # repeat the last frame up to 1 + ft*k frames
        x = torch.cat([x, x[-1:].expand(Tp - T, -1, -1, -1)], dim=0)
    x = x.permute(1, 0, 2, 3).unsqueeze(0).contiguous()      # [1, Cin, Tp, H, W]
    z = model.encode(x)
    q, tokens = model.quantize(z)
    dec = model.decode(q).clamp(-1.0, 1.0)[:, :, :T]
    return {
        "input": video,
        "latent": z[0].permute(1, 0, 2, 3).contiguous().numpy(),
        "tokens": tokens[0].to(torch.float32).numpy(),
        "decoded": dec[0].permute(1, 0, 2, 3).contiguous().numpy(),
    }


def write_vectors(path, vectors, cfg, seed, model_name=None, video_seed=None):
    T, _, H, W = vectors["input"].shape
    meta = {
        "format": VECTORS_FORMAT,
        "format_version": VECTORS_VERSION,
        "frames": str(T),
        "height": str(H),
        "width": str(W),
        "latent_frames": str(vectors["latent"].shape[0]),
        "seed": str(seed),
        "video_seed": str(seed + 1 if video_seed is None else video_seed),
        "config": json.dumps(argmodel.validate_config(cfg), separators=(",", ":")),
        "min_abs_latent": repr(float(np.abs(vectors["latent"]).min())),
    }
    if model_name:
        meta["model_name"] = model_name
    write_safetensors(path, {k: np.ascontiguousarray(v, np.float32) for k, v in vectors.items()}, meta)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Generate C-engine parity vectors from the PyTorch twin.")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--config", choices=list(argmodel.CONFIGS), help="named configuration, random weights")
    src.add_argument("--config-json", metavar="JSON", help="configuration as a JSON string or file, random weights")
    src.add_argument("--model", metavar="FILE", help="existing ARG model file (.safetensors)")
    ap.add_argument("--seed", type=int, default=0, help="seed for the weights and the video (default 0)")
    ap.add_argument("--frames", type=int, required=True, help="frames T >= 1 (clip scope: clip_frames)")
    ap.add_argument("--height", type=int, required=True, help="picture height, a multiple of fs")
    ap.add_argument("--width", type=int, required=True, help="picture width, a multiple of fs")
    ap.add_argument("--out-model", metavar="PATH", help="write the random-weight model here")
    ap.add_argument("--model-dtype", choices=("f32", "f16"), default="f32",
                    help="storage type of --out-model; with f16 the vectors use the f16-rounded weights")
    ap.add_argument("--out-vectors", metavar="PATH", required=True, help="vectors file to write")
    ap.add_argument("--min-margin", type=float, default=1e-4,
                    help="retry with the next video seeds (up to 100) until every |z| >= this, so that "
                         "float rounding in another engine cannot flip a token bit (default 1e-4; 0 = off)")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch default)")
    args = ap.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    t0 = time.time()
    try:
        if args.frames < 1:
            raise ValueError("--frames must be >= 1")
        if args.model:
            model = load_model(args.model)
            name = getattr(model, "model_name", None)
        else:
            if args.config:
                cfg, name = argmodel.CONFIGS[args.config], f"random-{args.config}-s{args.seed}"
            else:
                text = args.config_json
                if not text.lstrip().startswith("{"):
                    with open(text) as f:
                        text = f.read()
                cfg, name = json.loads(text), f"random-s{args.seed}"
            check_shape(argmodel.validate_config(cfg), args.frames, args.height, args.width)
            model = random_init(argmodel.ArgTokenizer(cfg), args.seed).eval()
            if args.out_model:
                export_model(model, args.out_model, name=name, dtype=args.model_dtype)
                if args.model_dtype == "f16":  # compute with exactly the stored weights
                    model = load_model(args.out_model)
            else:
                print("note: no --out-model given; the random weights are not saved", file=sys.stderr)
        cfg = model.config
        check_shape(cfg, args.frames, args.height, args.width)
        for video_seed in range(args.seed + 1, args.seed + 101):
            video = smooth_video(args.frames, cfg["in_channels"], args.height, args.width, video_seed)
            vec = compute_vectors(model, video)
            if np.abs(vec["latent"]).min() >= args.min_margin:
                break
            print(f"note: video seed {video_seed}: min |z| {np.abs(vec['latent']).min():.3g} "
                  f"< {args.min_margin:g}, trying the next", file=sys.stderr)
        else:
            raise ValueError(f"no video seed in 100 tries gives min |z| >= {args.min_margin:g}")
        write_vectors(args.out_vectors, vec, cfg, args.seed, name, video_seed)
    except (ValueError, AssertionError, OSError, ModelFileError, json.JSONDecodeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    z = vec["latent"]
    print(f"wrote {args.out_vectors}: input {list(vec['input'].shape)} latent {list(z.shape)} "
          f"tokens {list(vec['tokens'].shape)} decoded {list(vec['decoded'].shape)}; "
          f"|z| min {np.abs(z).min():.3g} std {z.std():.3g}; decoded std {vec['decoded'].std():.3g}, "
          f"clamped {np.mean(np.abs(vec['decoded']) >= 1.0) * 100:.1f}%; {time.time() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
