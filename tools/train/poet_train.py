#!/usr/bin/env python3
"""Train ARG-Poet (spec/poet.md) on token grids from poet_data.py.

    poet_train.py [--data /work/poet-data] [--out-dir /work/poet-ckpt] [--minutes 75]
                  [--threads 1] [--batch 8] [--crop 12x16] [--lr 1e-3] [--resume auto]

Each sample: a random training clip, latent frame t, a random crop of the token grid,
the K = context latent frames before t (absent before the clip's start, and, with
probability --drop-history, a random tail of them dropped so that the model also learns
to start), the keyframe flag, and a random task:
  continue      nothing of frame t known
  inpaint       a random box (25-75% of the crop per side) unknown, the rest known
  outpaint      a random kept box known, the rest unknown
  interpolate   nothing known, the anchor frame t + j (j uniform in 1..D) given
and a random step g in 0..3 (spec §4): groups < g known, the loss is the code length in
bits of the true tokens of group g at the unknown positions (spec §3.5, teacher forced).

AdamW, warm-up then cosine decay over --minutes of training time, gradient clipping,
EMA of the weights (exported by poet_export.py), a progress line, a checkpoint
(OUT/last.pt, atomic) every --ckpt-minutes with the EMA's code length on a fixed
validation subset, and automatic resume.
"""

import argparse
import glob
import math
import os
import signal
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import poet  # noqa: E402

TASK_P = (0.4, 0.2, 0.2, 0.2)  # continue, inpaint, outpaint, interpolate


def load_split(data, split):
    clips = []
    for path in sorted(glob.glob(os.path.join(data, f"*_{split}.npz"))):
        z = np.load(path)
        clips.append({"name": str(z["clip"]), "tokens": z["tokens"].astype(np.int64),
                      "key": z["key"].astype(np.int64)})
    return clips


class Sampler:
    def __init__(self, clips, cfg, crop, rng, drop_history):
        self.clips = clips
        self.K, self.D = cfg["context"], cfg["anchor_max"]
        self.ch, self.cw = crop
        self.rng = rng
        self.drop = drop_history
        w = np.array([c["tokens"].size for c in clips], dtype=np.float64)
        self.weights = w / w.sum()
        for c in clips:
            T, H, W = c["tokens"].shape
            if H < self.ch or W < self.cw:
                raise SystemExit(f"clip {c['name']}: grid {W}x{H} smaller than the crop "
                                 f"{self.cw}x{self.ch}")

    def _box(self, H, W):
        r = self.rng
        bh = r.integers(max(1, H // 4), max(2, 3 * H // 4) + 1)
        bw = r.integers(max(1, W // 4), max(2, 3 * W // 4) + 1)
        y0 = r.integers(0, H - bh + 1)
        x0 = r.integers(0, W - bw + 1)
        m = np.zeros((H, W), dtype=bool)
        m[y0:y0 + bh, x0:x0 + bw] = True
        return m

    def batch(self, n):
        r = self.rng
        K, ch, cw = self.K, self.ch, self.cw
        cur = np.zeros((n, ch, cw), np.int64)
        past = np.zeros((n, K, ch, cw), np.int64)
        pres = np.zeros((n, K), bool)
        anchor = np.zeros((n, ch, cw), np.int64)
        adist = np.zeros(n, np.int64)
        task = np.zeros(n, np.int64)
        key = np.zeros(n, np.int64)
        known = np.zeros((n, ch, cw), bool)
        for i in range(n):
            c = self.clips[r.choice(len(self.clips), p=self.weights)]
            tok = c["tokens"]
            T, H, W = tok.shape
            t = int(r.integers(0, T))
            y0 = int(r.integers(0, H - ch + 1))
            x0 = int(r.integers(0, W - cw + 1))
            sl = (slice(y0, y0 + ch), slice(x0, x0 + cw))
            cur[i] = tok[t][sl]
            key[i] = c["key"][t]
            nk = K
            if r.random() < self.drop:
                nk = int(r.integers(0, K))
            for k in range(min(nk, t)):
                past[i, k] = tok[t - 1 - k][sl]
                pres[i, k] = True
            tk = int(r.choice(4, p=TASK_P))
            if tk == 3 and t + 1 >= T:
                tk = 0
            task[i] = tk
            if tk == 1:
                known[i] = ~self._box(ch, cw)
            elif tk == 2:
                known[i] = self._box(ch, cw)
            elif tk == 3:
                j = int(r.integers(1, min(self.D, T - 1 - t) + 1))
                anchor[i] = tok[t + j][sl]
                adist[i] = j
        g = r.integers(0, poet.GROUPS, size=n)
        T_ = torch.from_numpy
        return dict(tokens=T_(cur), task_known=T_(known), g=T_(g), past=T_(past),
                    past_present=T_(pres), anchor=T_(anchor), anchor_dist=T_(adist),
                    task=T_(task), key=T_(key))


def val_frames(data, cfg, frames):
    """A fixed validation subset: `frames` latent frames (full grids) of each val clip,
    the continuation task (nothing known), with their true past."""
    out = []
    for c in load_split(data, "val"):
        tok = c["tokens"]
        T = tok.shape[0]
        for t in np.linspace(1, T - 1, frames).astype(int):
            K = cfg["context"]
            past = np.zeros((K,) + tok.shape[1:], np.int64)
            pres = np.zeros(K, bool)
            for k in range(min(K, t)):
                past[k] = tok[t - 1 - k]
                pres[k] = True
            out.append((torch.from_numpy(tok[t][None]), torch.from_numpy(past[None]),
                        torch.from_numpy(pres[None]), int(c["key"][t])))
    return out


def val_bits(model, vset):
    tot, cnt = 0.0, 0
    with torch.no_grad():
        for tok, past, pres, key in vset:
            b = poet.code_length(model, tok, None, past, pres, task=0, key=key)
            tot += float(b.sum())
            cnt += b.numel()
    return tot / max(cnt, 1)


def atomic_save(obj, path):
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="/work/poet-data")
    ap.add_argument("--out-dir", default="/work/poet-ckpt")
    ap.add_argument("--minutes", type=float, default=75.0, help="training time (schedule length)")
    ap.add_argument("--steps", type=int, help="stop after this many steps (tests)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--crop", default="12x16", help="token crop HxW")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--lr-min-frac", type=float, default=0.1)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--wd", type=float, default=0.01)
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--drop-history", type=float, default=0.1)
    ap.add_argument("--ckpt-minutes", type=float, default=5.0)
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument("--val-frames", type=int, default=4, help="frames per val clip at each checkpoint")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--resume", default="auto", choices=("auto", "no"))
    for f in ("dim", "layers", "heads", "mlp", "context", "window", "anchor_max"):
        ap.add_argument("--" + f.replace("_", "-"), type=int)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    os.makedirs(args.out_dir, exist_ok=True)
    ckpt_path = os.path.join(args.out_dir, "last.pt")
    over = {f: getattr(args, f) for f in ("dim", "layers", "heads", "mlp", "context", "window",
                                          "anchor_max") if getattr(args, f) is not None}
    cfg = poet.default_config(**over)
    crop = tuple(int(v) for v in args.crop.lower().split("x"))

    def say(msg):
        print(time.strftime("%H:%M:%S ") + msg, flush=True)

    torch.manual_seed(args.seed)
    model = poet.Poet(cfg)
    ema = poet.Poet(cfg)
    ema.load_state_dict(model.state_dict())
    for p in ema.parameters():
        p.requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.wd,
                            betas=(0.9, 0.98))
    step, elapsed = 0, 0.0
    rng = np.random.default_rng(args.seed)
    if args.resume == "auto" and os.path.exists(ckpt_path):
        ck = torch.load(ckpt_path, map_location="cpu")
        if dict(ck["config"]) != dict(model.config):
            sys.exit(f"{ckpt_path} holds another configuration; use another --out-dir")
        model.load_state_dict(ck["model"])
        ema.load_state_dict(ck["ema"])
        opt.load_state_dict(ck["opt"])
        step, elapsed = ck["step"], ck["elapsed"]
        rng = np.random.default_rng([args.seed, step])
        say(f"resumed {ckpt_path} at step {step}, {elapsed / 60:.1f} min")
    train = load_split(args.data, "train")
    if not train:
        sys.exit(f"no *_train.npz in {args.data} (run poet_data.py)")
    sampler = Sampler(train, cfg, crop, rng, args.drop_history)
    vset = val_frames(args.data, cfg, args.val_frames)
    nparam = sum(p.numel() for p in model.parameters())
    say(f"ARG-Poet {dict(cfg)}: {nparam / 1e6:.3f} M parameters; train clips "
        f"{', '.join(c['name'] + ' ' + 'x'.join(map(str, c['tokens'].shape)) for c in train)}; "
        f"batch {args.batch} crops {crop[0]}x{crop[1]}; {args.threads} thread(s); "
        f"{args.minutes:.0f} min schedule")

    def frac_done():
        if args.steps is not None:
            return step / args.steps
        return elapsed / (args.minutes * 60)

    def save():
        vb = val_bits(ema, vset) if vset else float("nan")
        atomic_save({"config": dict(cfg), "model": model.state_dict(), "ema": ema.state_dict(),
                     "opt": opt.state_dict(), "step": step, "elapsed": elapsed,
                     "val_bits": vb, "args": vars(args)}, ckpt_path)
        say(f"checkpoint step {step} ({elapsed / 60:.1f} min): EMA val bits/token {vb:.4f}")

    stop = {"now": False}

    def on_signal(signum, frame):
        del frame
        stop["now"] = True
        say(f"signal {signum}: saving and stopping")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    t_ck = time.time()
    t_log, steps_log, acc, acc_n = time.time(), 0, 0.0, 0
    model.train()
    while frac_done() < 1.0 and not stop["now"]:
        t0 = time.time()
        f = frac_done()
        warm = min(1.0, (step + 1) / args.warmup)
        lr = args.lr * warm * (args.lr_min_frac + (1 - args.lr_min_frac) * 0.5 * (1 + math.cos(math.pi * f)))
        for gr in opt.param_groups:
            gr["lr"] = lr
        b = sampler.batch(args.batch)
        loss, _ = poet.group_loss(model, b["tokens"], b["task_known"], b["g"], b["past"],
                                  b["past_present"], b["anchor"], b["anchor_dist"], b["task"],
                                  b["key"])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            dcy = min(args.ema, (1 + step) / (10 + step))
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.mul_(dcy).add_(pm.detach(), alpha=1 - dcy)
        step += 1
        elapsed += time.time() - t0
        acc += loss.item()
        acc_n += 1
        steps_log += 1
        if step % args.log_every == 0:
            now = time.time()
            sps = steps_log / max(1e-9, now - t_log)
            eta = (args.steps - step) / max(sps, 1e-9) if args.steps else args.minutes * 60 - elapsed
            say(f"step {step:6d} lr {lr:.2e} loss {acc / acc_n:.4f} bits/token  {sps:.2f} step/s  "
                f"done {100 * frac_done():5.1f}%  ETA {eta / 60:.1f} min")
            t_log, steps_log, acc, acc_n = now, 0, 0.0, 0
        if time.time() - t_ck > args.ckpt_minutes * 60:
            save()
            t_ck = time.time()
    save()
    say(f"finished: step {step}, {elapsed / 60:.1f} min; checkpoint {ckpt_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
