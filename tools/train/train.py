#!/usr/bin/env python3
"""Train an ARG tokenizer profile (issue 3 recipe) and keep resumable checkpoints.

    nice -n 10 python3 tools/train/train.py --profile s8 --minutes 70
    python3 tools/train/train.py --profile s8 --minutes 120      # resumes, runs to 120 min in all
    python3 tools/train/train.py --profile s8 --export models/arg-s8.safetensors --name arg-s8

Recipe: L1 + L2 reconstruction; LFQ entropy penalty computed per bit
(mean over positions of H(p) minus H(mean p), p = sigmoid(z / temperature)) with its
weight annealed from 3x to 1x; commitment 0.25 * ||z - sg(q)||^2; Adam with linear
warm-up and cosine decay; EMA weights (the EMA is what gets exported). Two phases:
image pre-training on stills (photos and single video frames) as 1-frame clips, then
video clips of 1 + 4k frames. At a fresh start every 3x3x3 kernel's past temporal
taps are zero, so the image phase trains the "2D" slice and the video phase starts
from the inflated image model (MAGVIT-v2's inflation). Optional GAN (--gan-weight W):
a 3D patch discriminator (gan.py) with the non-saturating loss and the LeCam
regulariser, switched on once --gan-start of the budget is done (after the warm-up);
off by default, since it trades PSNR for sharpness.

Issue 12 (colour and GOP robustness): --synthetic-frac draws a share of the samples from
synth.py (colour fields, bars, gradients, shapes, glyphs, noise; moving in video samples);
colour augmentation (hue rotation, channel permutation, saturation 0-1.8, gamma, dark
scenes; --colour-aug off to disable); --long-frac puts a share of the video steps on long
clips (--long-frames, --long-crop). A warm start (--init) keeps the trained temporal
upsamplers and starts the EMA from the init weights.

The budget (--minutes or --steps) is the total of the run: a resumed run continues
until the total is reached; the schedule (phase, learning rate) follows the fraction
of the budget done. Checkpoints (atomic) and train.log go to --out-dir
(default /root/arg-train/PROFILE). The data comes from prepare_data.py (data/cache).
"""

import argparse
import contextlib
import json
import math
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import argmodel  # noqa: E402
import gan  # noqa: E402
import synth  # noqa: E402
from export import export_state_dict  # noqa: E402
from safetensors_io import read_safetensors  # noqa: E402

# ---------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------


class TrainData:
    """Random augmented crops from the cached training split (uint8 RGB)."""

    def __init__(self, cache, rng, synthetic=False, synthetic_frac=0.0, colour_aug=True):
        self.rng = rng
        self.synthetic_frac = synthetic_frac   # share of generated samples (synth.py)
        self.colour_aug = colour_aug
        if synthetic:  # smoke tests: smooth random pictures, a moving pattern as video
            r = np.random.default_rng(0)
            base = r.integers(0, 256, (4, 12, 16, 3)).astype(np.float32)
            big = torch.from_numpy(base).permute(0, 3, 1, 2)
            big = F.interpolate(big, size=(96, 128), mode="bilinear", align_corners=False)
            self.photos = [big[i].permute(1, 2, 0).numpy().astype(np.uint8) for i in range(4)]
            frames = np.stack([np.roll(self.photos[0], s, axis=1) for s in range(0, 40, 2)])
            self.clips = {"synthetic": frames}
            self.clip_names, self.clip_p = ["synthetic"], np.array([1.0])
            return
        man = json.load(open(os.path.join(cache, "manifest.json")))
        ph = np.load(os.path.join(cache, "photos_train.npz"))
        self.photos = [ph[k] for k in sorted(ph.files)]
        self.clips = {name: np.load(os.path.join(cache, f"video_{name}.npy"), mmap_mode="r")
                      for name, c in man["clips"].items() if "train" in c}
        # clips are sampled in proportion to sqrt(frames) so the long one does not dominate
        names = sorted(self.clips)
        w = np.array([math.sqrt(len(self.clips[n])) for n in names])
        self.clip_names, self.clip_p = names, w / w.sum()

    def _jitter_params(self):
        """Per-sample augmentation: brightness, contrast, saturation, flip, and (issue 12)
        hue rotation, channel permutation, gamma and dark-scene scaling."""
        r = self.rng
        p = {"bright": r.uniform(-0.08, 0.08), "contrast": r.uniform(0.85, 1.15),
             "sat": r.uniform(0.8, 1.2), "flip": r.random() < 0.5,
             "hue": 0.0, "perm": None, "gamma": 1.0, "scale": 1.0}
        if self.colour_aug:
            if r.random() < 0.5:
                p["hue"] = r.uniform(-math.pi, math.pi)
            if r.random() < 0.25:
                p["perm"] = [int(i) for i in r.permutation(3)]
            if r.random() < 0.5:
                p["sat"] = r.uniform(0.0, 1.8)
            if r.random() < 0.3:
                p["gamma"] = math.exp(r.uniform(math.log(0.6), math.log(1.7)))
            if r.random() < 0.15:
                p["scale"] = r.uniform(0.15, 1.0)
        return p

    @staticmethod
    def _apply(x, params):
        """x float [T, 3, H, W] in [-1, 1]; the same change on every picture of a clip."""
        p = params
        if p["flip"]:
            x = x.flip(-1)
        if p.get("perm") is not None:
            x = x[:, p["perm"]]
        if p.get("gamma", 1.0) != 1.0 or p.get("scale", 1.0) != 1.0:
            v = ((x + 1) * 0.5).clamp(0, 1)
            v = v.pow(p.get("gamma", 1.0)) * p.get("scale", 1.0)
            x = v * 2 - 1
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = (x - mean) * p["contrast"] + mean + p["bright"]
        if p.get("hue", 0.0) != 0.0 or p["sat"] != 1.0:
            # rotate and scale the chroma of BT.601 YUV (luma kept)
            m = _RGB2YUV.to(x.dtype)
            yuv = torch.einsum("ij,tjhw->tihw", m, x)
            c, s = math.cos(p.get("hue", 0.0)), math.sin(p.get("hue", 0.0))
            u, v = yuv[:, 1], yuv[:, 2]
            yuv = torch.stack([yuv[:, 0], p["sat"] * (c * u - s * v), p["sat"] * (s * u + c * v)], 1)
            x = torch.einsum("ij,tjhw->tihw", _YUV2RGB.to(x.dtype), yuv)
        return x.clamp(-1, 1)

    def _synthetic(self, frames, crop):
        x = torch.from_numpy(synth.synth_clip(self.rng, frames, crop))
        p = {"bright": 0.0, "contrast": 1.0, "sat": 1.0, "flip": self.rng.random() < 0.5}
        if self.rng.random() < 0.15:  # dark synthetic scenes too
            p["scale"] = self.rng.uniform(0.15, 1.0)
        return self._apply(x, p)

    def _crop(self, arr, crop, scale_lo, scale_hi):
        """arr uint8 [T, H, W, 3] -> float [T, 3, crop, crop], region crop/scale resized."""
        T, H, W = arr.shape[:3]
        s = self.rng.uniform(scale_lo, scale_hi)
        side = int(round(crop / s))
        side = min(max(crop // 2, min(side, H, W)), H, W)
        y = int(self.rng.integers(0, H - side + 1))
        x = int(self.rng.integers(0, W - side + 1))
        t = torch.from_numpy(np.ascontiguousarray(arr[:, y:y + side, x:x + side]))
        t = t.permute(0, 3, 1, 2).float() / 127.5 - 1.0
        if side != crop:
            t = F.interpolate(t, size=(crop, crop), mode="bilinear", align_corners=False,
                              antialias=side > crop)
        return t

    def image_batch(self, batch, crop):
        out = []
        for _ in range(batch):
            if self.rng.random() < self.synthetic_frac:
                out.append(self._synthetic(1, crop))
                continue
            if self.rng.random() < 0.6:
                img = self.photos[int(self.rng.integers(len(self.photos)))]
                arr = img[None]
                lo = min(1.0, crop / min(img.shape[:2]))
                x = self._crop(arr, crop, max(0.35, lo), 1.0)
            else:
                name = self.clip_names[int(self.rng.choice(len(self.clip_names), p=self.clip_p))]
                clip = self.clips[name]
                f = int(self.rng.integers(len(clip)))
                x = self._crop(clip[f:f + 1], crop, 0.7, 1.0)
            out.append(self._apply(x, self._jitter_params()))
        return torch.stack(out).transpose(1, 2).contiguous()  # [B, 3, 1, H, W]

    def video_batch(self, batch, frames, crop):
        out = []
        for _ in range(batch):
            if self.rng.random() < self.synthetic_frac:
                out.append(self._synthetic(frames, crop))
                continue
            name = self.clip_names[int(self.rng.choice(len(self.clip_names), p=self.clip_p))]
            clip = self.clips[name]
            stride = 1 if len(clip) < 2 * frames or self.rng.random() < 0.7 else 2
            span = (frames - 1) * stride + 1
            f = int(self.rng.integers(0, len(clip) - span + 1))
            x = self._crop(clip[f:f + span:stride], crop, 0.7, 1.0)
            if self.rng.random() < 0.2:  # time reversal (the footage has little motion)
                x = x.flip(0)
            out.append(self._apply(x, self._jitter_params()))
        return torch.stack(out).transpose(1, 2).contiguous()  # [B, 3, T, H, W]


# BT.601 RGB <-> YUV (analogue scaling; only the chroma rotation uses it)
_RGB2YUV = torch.tensor([[0.299, 0.587, 0.114], [-0.14713, -0.28886, 0.436],
                         [0.615, -0.51499, -0.10001]])
_YUV2RGB = torch.linalg.inv(_RGB2YUV)

# ---------------------------------------------------------------------------
# losses and helpers
# ---------------------------------------------------------------------------


def binary_entropy(p):
    p = p.clamp(1e-6, 1 - 1e-6)
    return -(p * torch.log2(p) + (1 - p) * torch.log2(1 - p))


def lfq_entropy_terms(z, temperature):
    """Per-bit LFQ entropy terms (in bits, averaged over the bits):
    sample = mean over positions of H(p), codebook = H(mean over positions of p)."""
    p = torch.sigmoid(z.float() / temperature)                   # [B, Z, T, h, w]
    sample = binary_entropy(p).mean()
    pm = p.transpose(0, 1).reshape(p.shape[1], -1).mean(dim=1)   # [Z]
    codebook = binary_entropy(pm).mean()
    return sample, codebook


def psnr(x, y):
    mse = F.mse_loss(x.float().clamp(-1, 1), y.float()).item()
    return 10 * math.log10(4.0 / max(mse, 1e-12))


def inflate_init(model):
    """Zero the past temporal taps of every k=3 kernel (a 2D model in a 3D shell)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 5 and p.shape[2] == 3:
                p[:, :, :-1].zero_()


def inflate_temporal_upsampling(model):
    """At the start of the video phase: copy each temporal upsampler's first-frame
    channel block (i = 0) into the second (i = 1), so the inflated decoder starts by
    repeating the image decode of each latent frame instead of emitting untrained
    channels (the image phase never uses the i = 1 block)."""
    dec = model.decoder
    with torch.no_grad():
        for l, level in enumerate(dec.up):
            if level.upsample is None or dec.up_factors[l][0] != 2:
                continue
            a, b = dec.up_factors[l]
            n = level.upsample.weight.shape[0] // a          # channels per temporal block
            level.upsample.weight[n:2 * n] = level.upsample.weight[:n]
            if level.upsample.bias is not None:
                level.upsample.bias[n:2 * n] = level.upsample.bias[:n]


def init_from(model, path, say):
    """Warm start: copy the tensors of `path` whose name and shape match the model's."""
    if path.endswith(".safetensors"):
        src, _ = read_safetensors(path)
    else:
        src = torch.load(path, map_location="cpu")["ema"]
    own = model.state_dict()
    copied = [k for k, v in src.items() if k in own and tuple(own[k].shape) == tuple(v.shape)]
    with torch.no_grad():
        for k in copied:
            own[k].copy_(torch.as_tensor(np.asarray(src[k])).to(own[k].dtype))
    fresh = sorted(set(own) - set(copied))
    say(f"init from {path}: {len(copied)} of {len(own)} tensors copied; fresh: "
        + (", ".join(fresh) if fresh else "none"))


def mixed(on):
    """bf16 autocast on CUDA, nothing on the CPU."""
    return torch.autocast(device_type="cuda", dtype=torch.bfloat16) if on else contextlib.nullcontext()


def new_acc():
    return {"loss": 0.0, "psnr": 0.0, "ent_s": 0.0, "ent_c": 0.0, "n": 0,
            "g_adv": 0.0, "d_adv": 0.0, "n_gan": 0}


def lr_at(frac, step, args):
    warm = min(1.0, (step + 1) / args.warmup)
    cos = 0.5 * (1 + math.cos(math.pi * min(1.0, frac)))
    return args.lr * warm * (args.lr_min_frac + (1 - args.lr_min_frac) * cos)


def atomic_save(obj, path):
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)


# ---------------------------------------------------------------------------
# main loop
# ---------------------------------------------------------------------------


def build_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="s8", help="configuration name in argmodel.CONFIGS")
    ap.add_argument("--out-dir", help="checkpoints and log (default /root/arg-train/PROFILE)")
    ap.add_argument("--data", default="data", help="data folder with cache/ (prepare_data.py)")
    ap.add_argument("--synthetic-data", action="store_true", help="synthetic pictures (smoke tests)")
    ap.add_argument("--synthetic-frac", type=float, default=0.0,
                    help="share of samples generated on the fly by synth.py (colour fields, bars, "
                         "gradients, shapes, glyphs, noise; moving in video samples)")
    ap.add_argument("--colour-aug", choices=("on", "off"), default="on",
                    help="hue rotation, channel permutation, saturation 0-1.8, gamma, dark scenes")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--minutes", type=float, help="total training time of the run")
    g.add_argument("--steps", type=int, help="total optimiser steps of the run")
    ap.add_argument("--resume", choices=("auto", "no"), default="auto",
                    help="auto: continue from OUT/last.pt when it exists (default)")
    ap.add_argument("--init", metavar="FILE",
                    help="fresh start only: copy every tensor whose name and shape match from "
                         "this checkpoint (.pt, its EMA weights) or model file (.safetensors)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="auto",
                    help="auto (default: cuda when torch sees a GPU, else cpu), cpu or cuda")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                    help="torch CPU threads (default: all cores)")
    ap.add_argument("--image-frac", type=float, default=0.5, help="budget share of image pre-training")
    ap.add_argument("--image-batch", type=int, default=8)
    ap.add_argument("--image-crop", type=int, default=96)
    ap.add_argument("--video-batch", type=int, default=2)
    ap.add_argument("--video-frames", type=int, default=5, help="1 + ft*k")
    ap.add_argument("--video-crop", type=int, default=96)
    ap.add_argument("--long-frac", type=float, default=0.0,
                    help="share of video steps that use long clips (--long-frames, --long-crop) "
                         "so quality holds over a GOP")
    ap.add_argument("--long-frames", type=int, default=33, help="1 + ft*k pictures of a long clip")
    ap.add_argument("--long-crop", type=int, default=48)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--lr-min-frac", type=float, default=0.1, help="final lr as a share of --lr")
    ap.add_argument("--warmup", type=int, default=200, help="warm-up steps (repeated at the video phase)")
    ap.add_argument("--l1", type=float, default=1.0)
    ap.add_argument("--l2", type=float, default=1.0)
    ap.add_argument("--entropy-weight", type=float, default=0.1)
    ap.add_argument("--entropy-anneal", type=int, default=2000, help="steps from 3x to 1x weight")
    ap.add_argument("--temperature", type=float, default=0.5, help="p = sigmoid(z / temperature)")
    ap.add_argument("--codebook-weight", type=float, default=1.0, help="weight of H(mean p) inside the penalty")
    ap.add_argument("--commit", type=float, default=0.25)
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--gan-weight", type=float, default=0.0,
                    help="weight of the adversarial loss (0: no GAN, the default)")
    ap.add_argument("--gan-start", type=float, default=0.5,
                    help="share of the budget after which the GAN is on")
    ap.add_argument("--lecam", type=float, default=0.001, help="LeCam regulariser weight")
    ap.add_argument("--disc-lr", type=float, help="discriminator lr (default: --lr)")
    ap.add_argument("--disc-channels", type=int, default=32)
    ap.add_argument("--log-every", type=int, default=25)
    ap.add_argument("--ckpt-minutes", type=float, default=3.0)
    ap.add_argument("--export", metavar="MODEL", help="only export the EMA weights of OUT/last.pt and exit")
    ap.add_argument("--export-raw", action="store_true", help="with --export: the raw weights, not the EMA")
    ap.add_argument("--name", help="model name for --export")
    ap.add_argument("--dtype", choices=("f32", "f16"), default="f16", help="storage type for --export")
    args = ap.parse_args(argv)
    if args.out_dir is None:
        args.out_dir = os.path.join("/root/arg-train", args.profile)
    return args


def main(argv=None):
    args = build_args(argv)
    torch.set_num_threads(args.threads)
    os.makedirs(args.out_dir, exist_ok=True)
    ckpt_path = os.path.join(args.out_dir, "last.pt")
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(args.device)

    if args.export:
        ck = torch.load(ckpt_path, map_location="cpu")
        sd = ck["model"] if args.export_raw else ck["ema"]
        desc = (f"ARG tokenizer profile {ck['profile']}, trained {ck['step']} steps, "
                f"{ck['elapsed'] / 60:.1f} min ({'raw' if args.export_raw else 'EMA'} weights) "
                f"with tools/train/train.py")
        export_state_dict(ck["config"], sd, args.export, name=args.name or f"arg-{ck['profile']}",
                          dtype=args.dtype, description=desc)
        print(f"wrote {args.export} ({args.dtype}) from step {ck['step']}")
        return 0

    if args.profile not in argmodel.CONFIGS:
        sys.exit(f"unknown profile {args.profile!r}; known: {', '.join(argmodel.CONFIGS)}")
    cfg = argmodel.CONFIGS[args.profile]
    if cfg["norm_scope"] != "frame":
        sys.exit("train.py trains streaming (frame-scope GroupNorm) profiles only")

    model = argmodel.ArgTokenizer(cfg).to(dev)
    ema = argmodel.ArgTokenizer(cfg).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.99))
    step, elapsed, video_start_step = 0, 0.0, None
    warm_start = None   # --init file of a fresh start (kept in the checkpoint)
    disc = disc_opt = lecam = None
    if args.gan_weight > 0:
        disc = gan.PatchDiscriminator3D(cfg["in_channels"], args.disc_channels).to(dev)
        disc_opt = torch.optim.Adam(disc.parameters(), lr=args.disc_lr or args.lr, betas=(0.5, 0.99))
        lecam = gan.LeCam()
    log = open(os.path.join(args.out_dir, "train.log"), "a")

    def say(msg):
        print(msg, flush=True)
        log.write(msg + "\n")
        log.flush()

    if args.resume == "auto" and os.path.exists(ckpt_path):
        ck = torch.load(ckpt_path, map_location="cpu")
        if ck["config"] != json.loads(json.dumps(argmodel.validate_config(cfg))):
            sys.exit(f"{ckpt_path} holds another configuration; use another --out-dir")
        model.load_state_dict(ck["model"])
        ema.load_state_dict(ck["ema"])
        opt.load_state_dict(ck["opt"])
        step, elapsed = ck["step"], ck["elapsed"]
        if disc is not None and "disc" in ck:
            disc.load_state_dict(ck["disc"])
            disc_opt.load_state_dict(ck["disc_opt"])
            lecam.load_state_dict(ck["lecam"])
        video_start_step = ck.get("video_start_step")
        warm_start = ck.get("warm_start")
        rng = np.random.default_rng()
        rng.bit_generator.state = ck["np_rng"]
        torch.set_rng_state(ck["torch_rng"])
        say(f"resumed {ckpt_path} at step {step}, {elapsed / 60:.1f} min")
    else:
        torch.manual_seed(args.seed)
        random.seed(args.seed)
        rng = np.random.default_rng(args.seed)
        model = argmodel.ArgTokenizer(cfg).to(dev)
        inflate_init(model)
        if args.init:
            init_from(model, args.init, say)
            warm_start = args.init
        ema.load_state_dict(model.state_dict())
        opt = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.99))
        say(f"fresh start: profile {args.profile} {argmodel.config_summary(cfg)} seed {args.seed}")
    say("args: " + json.dumps({k: v for k, v in vars(args).items()}))
    if args.minutes is None and args.steps is None:
        sys.exit("give --minutes or --steps (the total budget of the run)")
    for p in ema.parameters():
        p.requires_grad_(False)

    data = TrainData(os.path.join(args.data, "cache"), rng, synthetic=args.synthetic_data,
                     synthetic_frac=args.synthetic_frac, colour_aug=args.colour_aug == "on")
    use_bf16 = dev.type == "cuda"

    def frac_done():
        if args.steps is not None:
            return step / args.steps
        return elapsed / (args.minutes * 60)

    def save():
        atomic_save({"config": json.loads(json.dumps(argmodel.validate_config(cfg))),
                     "profile": args.profile, "model": model.state_dict(), "ema": ema.state_dict(),
                     "opt": opt.state_dict(), "step": step, "elapsed": elapsed,
                     "np_rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state(),
                     "video_start_step": video_start_step, "args": vars(args),
                     "warm_start": warm_start,
                     **({"disc": disc.state_dict(), "disc_opt": disc_opt.state_dict(),
                         "lecam": lecam.state_dict()} if disc is not None else {})}, ckpt_path)

    model.train()
    t_last_ckpt = time.time()
    t_log, steps_log = time.time(), 0
    acc = new_acc()
    p1_acc = None
    gan_said = False
    while frac_done() < 1.0:
        t0 = time.time()
        frac = frac_done()
        video = frac >= args.image_frac
        if video:
            if video_start_step is None:
                video_start_step = step
                if step > 0 and warm_start is not None:
                    say(f"step {step}: video phase (warm start: temporal upsamplers kept)")
                elif step > 0:
                    inflate_temporal_upsampling(model)
                    inflate_temporal_upsampling(ema)
                    say(f"step {step}: video phase; temporal upsamplers inflated from the image model")
            if args.long_frac > 0 and rng.random() < args.long_frac:
                x = data.video_batch(args.video_batch, args.long_frames, args.long_crop)
            else:
                x = data.video_batch(args.video_batch, args.video_frames, args.video_crop)
            # restart the warm-up and the cosine at the video phase
            vfrac = (frac - args.image_frac) / max(1e-9, 1 - args.image_frac)
            lr = lr_at(vfrac, step - video_start_step, args)
        else:
            x = data.image_batch(args.image_batch, args.image_crop)
            lr = lr_at(frac / max(1e-9, args.image_frac), step, args)
        for g in opt.param_groups:
            g["lr"] = lr
        x = x.to(dev)
        with mixed(use_bf16):
            z = model.encode(x)
            q, _ = model.quantize(z)
            x_hat = model.decode(q)
        x_hat = x_hat.float()
        z = z.float()
        rec = args.l1 * (x_hat - x).abs().mean() + args.l2 * (x_hat - x).square().mean()
        ent_s, ent_c = lfq_entropy_terms(z, args.temperature)
        anneal = 1.0 + 2.0 * max(0.0, 1.0 - step / max(1, args.entropy_anneal))
        ent = args.entropy_weight * anneal * (ent_s - args.codebook_weight * ent_c)
        commit = args.commit * (z - torch.sign(z).detach()).square().mean()
        loss = rec + ent + commit
        gan_on = disc is not None and frac >= args.gan_start
        if gan_on and not gan_said:
            say(f"step {step}: GAN on (weight {args.gan_weight}, LeCam {args.lecam})")
            gan_said = True
        if gan_on:
            for p in disc.parameters():
                p.requires_grad_(False)
            with mixed(use_bf16):
                g_adv = gan.generator_loss(disc(x_hat))
            loss = loss + args.gan_weight * g_adv
        if not torch.isfinite(loss):
            say(f"step {step}: non-finite loss, skipping the batch")
            opt.zero_grad(set_to_none=True)
            continue
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if gan_on:
            for p in disc.parameters():
                p.requires_grad_(True)
            for g in disc_opt.param_groups:
                g["lr"] = (args.disc_lr or args.lr) * lr / args.lr
            with mixed(use_bf16):
                d_real, d_fake = disc(x), disc(x_hat.detach())
            d_loss, d_parts = gan.discriminator_loss(d_real, d_fake, lecam, args.lecam)
            disc_opt.zero_grad(set_to_none=True)
            d_loss.backward()
            torch.nn.utils.clip_grad_norm_(disc.parameters(), 1.0)
            disc_opt.step()
            acc["g_adv"] += g_adv.item()
            acc["d_adv"] += d_parts["adv"]
            acc["n_gan"] += 1
        with torch.no_grad():
            d = min(args.ema, (1 + step) / (10 + step))
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.mul_(d).add_(pm.detach(), alpha=1 - d)
            p1 = (z > 0).float().transpose(0, 1).reshape(z.shape[1], -1).mean(dim=1)
        step += 1
        elapsed += time.time() - t0
        steps_log += 1
        acc["loss"] += loss.item()
        acc["psnr"] += psnr(x_hat.detach(), x)
        acc["ent_s"] += ent_s.item()
        acc["ent_c"] += ent_c.item()
        acc["n"] += 1
        p1_acc = p1 if p1_acc is None else p1_acc + p1
        if step % args.log_every == 0 or frac_done() >= 1.0:
            n = acc["n"]
            now = time.time()
            sps = steps_log / max(1e-9, now - t_log)
            f = frac_done()
            if args.steps is not None:
                eta = (args.steps - step) / max(sps, 1e-9)
            else:
                eta = args.minutes * 60 - elapsed
            pm = p1_acc / n
            g_txt = ""
            if acc["n_gan"]:
                g_txt = f"GAN G {acc['g_adv'] / acc['n_gan']:.3f} D {acc['d_adv'] / acc['n_gan']:.3f}  "
            say(f"step {step:6d} {'video' if video else 'image'} lr {lr:.2e} loss {acc['loss'] / n:.4f} "
                f"psnr {acc['psnr'] / n:5.2f} dB  H(bit) sample {acc['ent_s'] / n:.3f} "
                f"codebook {acc['ent_c'] / n:.3f}  P(1) min {pm.min().item():.2f} "
                f"max {pm.max().item():.2f}  {g_txt}{sps:.2f} step/s  done {100 * f:5.1f}%  "
                f"ETA {eta / 60:.1f} min")
            acc = new_acc()
            p1_acc = None
            t_log, steps_log = now, 0
        if time.time() - t_last_ckpt > args.ckpt_minutes * 60:
            save()
            t_last_ckpt = time.time()
    save()
    say(f"finished: step {step}, {elapsed / 60:.1f} min; checkpoint {ckpt_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
