#!/usr/bin/env python3
"""Evaluate an ARG model file on the validation splits of prepare_data.py.

    evaluate.py models/arg-s8.safetensors [--split seen|unseen|pkg|both|all|none] [--fixed]
                [--json OUT.json]

Splits: seen (the last 20% of the training clips), unseen (the cup clip and every 5th
issue-3 photo), pkg (whole packages never trained on, manifest "unseen_packages": the
python3-mecavideo clips, ukui-wallpapers, libdlib19.1 faces); both = seen + unseen (the
model card's tables), all = the three. --fixed adds the colour and GOP tests of
fixed_tests.py (SMPTE bars, flat fields, drift and pumping over 61-picture GOPs).

Whole frames, never crops: each picture is padded to a multiple of fs by edge
replication and cropped back after decoding. Clips are cut into independent windows
of --window frames (default 17 = 1 + 4*4; the last window is padded to 1 + ft*k by
repeating its last frame, as the C engine pads a clip's end); each window starts
with a fresh causal state (the C tool argtok streams the whole clip instead, which
differs only in the frames right after a window boundary). Photos are 1-frame clips.

Metrics per item (clip or photo set) and per split:
  PSNR-RGB   both sides quantised to 8 bits, PSNR of the total MSE (as argtok)
  PSNR-Y     the source's 8-bit luma against the reconstruction converted to BT.601
             limited-range 8-bit luma (as argtok); for photos both sides from RGB
  SSIM-Y     on 8-bit luma, 11x11 Gaussian window sigma 1.5, K1 0.01, K2 0.03,
             valid positions only, mean over pictures
  P(1)       per LFQ bit: the share of tokens with the bit set
  H0         order-0 entropy of the whole tokens (bits/token, from their histogram;
             biased low when tokens are few compared with 2^bits)
  Hbits      sum over bits of the binary entropy of P(1) (bits/token)
  bpp        raw token bits per pixel (lfq_bits * tokens / pixels, padding included)
"""

import argparse
import json
import math
import os
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import y4mio  # noqa: E402
import fixed_tests  # noqa: E402
from export import load_model  # noqa: E402


def gaussian_taps(size=11, sigma=1.5):
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-x ** 2 / (2 * sigma ** 2))
    return g / g.sum()


_TAPS = gaussian_taps()


def _blur(x):
    """Separable 11x11 Gaussian, valid positions only; x [N, 1, H, W] float64."""
    x = F.conv2d(x, _TAPS.view(1, 1, 1, -1))
    return F.conv2d(x, _TAPS.view(1, 1, -1, 1))


def ssim_y(a, b):
    """Mean SSIM of two 8-bit luma pictures [N, H, W] -> list of N values."""
    C1, C2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    a = torch.as_tensor(a, dtype=torch.float64)[:, None]
    b = torch.as_tensor(b, dtype=torch.float64)[:, None]
    mu_a, mu_b = _blur(a), _blur(b)
    saa = _blur(a * a) - mu_a ** 2
    sbb = _blur(b * b) - mu_b ** 2
    sab = _blur(a * b) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + C1) * (2 * sab + C2)) / ((mu_a ** 2 + mu_b ** 2 + C1) * (saa + sbb + C2))
    return s.mean(dim=(1, 2, 3)).tolist()


def run_model(model, x):
    """x float [T, 3, H, W] in [-1, 1] -> (x_hat [T, 3, H, W] clamped, tokens [T', h, w])."""
    ft, fs = model.ft, model.fs
    T, _, H, W = x.shape
    Tp = 1 + ft * math.ceil((T - 1) / ft)
    Hp, Wp = fs * math.ceil(H / fs), fs * math.ceil(W / fs)
    v = x.transpose(0, 1)[None]                                  # [1, 3, T, H, W]
    if Tp > T:
        v = torch.cat([v, v[:, :, -1:].expand(-1, -1, Tp - T, -1, -1)], dim=2)
    if Hp > H or Wp > W:
        v = F.pad(v, (0, Wp - W, 0, Hp - H, 0, 0), mode="replicate")
    with torch.no_grad():
        z = model.encode(v)
        q, tokens = model.quantize(z)
        y = model.decode(q)
    y = y[0, :, :T, :H, :W].transpose(0, 1).clamp(-1, 1)
    return y, tokens[0]


class Acc:
    def __init__(self, bits):
        self.bits = bits
        self.se_rgb = 0.0
        self.n_rgb = 0
        self.se_y = 0.0
        self.n_y = 0
        self.ssim = []
        self.tokens = []
        self.pixels = 0
        self.pictures = 0

    def add(self, x, y_hat, y_src, tokens):
        """x, y_hat float [T, 3, H, W]; y_src 8-bit luma [T, H, W] of the source."""
        a = torch.round((x + 1) * 127.5).double()
        b = torch.round((y_hat + 1) * 127.5).double()
        self.se_rgb += (a - b).square().sum().item()
        self.n_rgb += a.numel()
        y_rec = y4mio.rgb_to_y8(y_hat.numpy())
        self.se_y += float(np.square(y_src.astype(np.float64) - y_rec).sum())
        self.n_y += y_src.size
        self.ssim += ssim_y(y_src.astype(np.float64), y_rec)
        self.tokens.append(tokens.reshape(-1).numpy())
        self.pixels += x.shape[0] * x.shape[2] * x.shape[3]
        self.pictures += x.shape[0]

    @staticmethod
    def _psnr(se, n):
        return 100.0 if se == 0 else 10 * math.log10(255.0 ** 2 * n / se)

    def result(self):
        t = np.concatenate(self.tokens)
        p1 = [float(((t >> c) & 1).mean()) for c in range(self.bits)]
        _, counts = np.unique(t, return_counts=True)
        pr = counts / counts.sum()
        h0 = float(-(pr * np.log2(pr)).sum())
        hb = sum(0.0 if p in (0.0, 1.0) else -(p * math.log2(p) + (1 - p) * math.log2(1 - p))
                 for p in p1)
        return {"pictures": self.pictures, "psnr_rgb": self._psnr(self.se_rgb, self.n_rgb),
                "psnr_y": self._psnr(self.se_y, self.n_y),
                "ssim_y": float(np.mean(self.ssim)) if self.ssim else float("nan"),
                "p1": p1, "p1_min": min(p1), "p1_max": max(p1), "tokens": int(t.size),
                "distinct_tokens": int(counts.size), "h0_bits": h0, "hbits_bits": hb,
                "bpp": self.bits * t.size / self.pixels}


def to_u8(x):
    """float [3, H, W] in [-1, 1] -> uint8 [H, W, 3] (the 8-bit rule of the metrics)."""
    return torch.round((x.clamp(-1, 1) + 1) * 127.5).to(torch.uint8).permute(1, 2, 0).numpy()


def write_strip(path, pairs, gap=4):
    """PNG: originals on the top row, decoded pictures below, `gap` grey pixels apart.
    pairs: [(original uint8 [H, W, 3], decoded uint8 [H, W, 3])]; written with ffmpeg."""
    h = max(a.shape[0] for a, _ in pairs)
    w = sum(a.shape[1] for a, _ in pairs) + gap * (len(pairs) - 1)
    img = np.full((2 * h + gap, w, 3), 128, np.uint8)
    x0 = 0
    for a, b in pairs:
        img[:a.shape[0], x0:x0 + a.shape[1]] = a
        img[h + gap:h + gap + b.shape[0], x0:x0 + b.shape[1]] = b
        x0 += a.shape[1] + gap
    tmp = path + ".tmp.png"
    cmd = ["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s",
           f"{img.shape[1]}x{img.shape[0]}", "-i", "-", "-frames:v", "1", "-pred", "mixed", tmp]
    subprocess.run(cmd, input=img.tobytes(), check=True)
    os.replace(tmp, path)


def strip_picks(count, n=2):
    """Indices of n pictures spread over a clip of count pictures."""
    return sorted({round(i * (count - 1) / max(1, n - 1)) for i in range(n)}) if count else []


def eval_clip(model, path, first, count, window, acc, max_frames=None, strip=None):
    if max_frames is not None:
        count = min(count, max_frames)
    info, frames = y4mio.read_y4m(path, first, count)
    picks = strip_picks(len(frames))
    for s in range(0, len(frames), window):
        chunk = frames[s:s + window]
        x = torch.from_numpy(np.stack([y4mio.yuv420_to_rgb(Y, U, V, info["chroma"], info["full_range"])
                                       for Y, U, V in chunk]))
        y_hat, tokens = run_model(model, x)
        acc.add(x, y_hat, np.stack([Y for Y, _, _ in chunk]), tokens)
        if strip is not None:
            strip += [(to_u8(x[i - s]), to_u8(y_hat[i - s])) for i in picks if s <= i < s + len(chunk)]


def eval_photos(model, npz, acc, strip=None):
    ph = np.load(npz)
    names = sorted(ph.files)
    picks = set(strip_picks(len(names)))
    for i, k in enumerate(names):
        x = torch.from_numpy(ph[k]).permute(2, 0, 1).float()[None] / 127.5 - 1.0
        y_hat, tokens = run_model(model, x)
        acc.add(x, y_hat, y4mio.rgb_to_y8(x.numpy()), tokens)
        if strip is not None and i in picks:
            strip.append((to_u8(x[0]), to_u8(y_hat[0])))


def print_markdown(results):
    """The quality table and the per-bit P(1) table of models/README.md."""
    if not results["splits"]:
        return
    print("| split | item | pictures | PSNR-RGB | PSNR-Y | SSIM-Y | P(bit=1) min–max | H0 | Hbits | bpp |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for split, s in results["splits"].items():
        for k, r in s["items"].items():
            print(f"| {split} | {k} | {r['pictures']} | {r['psnr_rgb']:.2f} | {r['psnr_y']:.2f} | "
                  f"{r['ssim_y']:.3f} | {r['p1_min']:.2f}–{r['p1_max']:.2f} | {r['h0_bits']:.2f} | "
                  f"{r['hbits_bits']:.2f} | {r['bpp']:.4f} |")
        m = s["mean"]
        print(f"| {split} | **mean** | | {m['psnr_rgb']:.2f} | **{m['psnr_y']:.2f}** | {m['ssim_y']:.3f} | "
              f"{m['p1_min']:.2f}–{m['p1_max']:.2f} | {m['h0_bits']:.2f} | {m['hbits_bits']:.2f} | "
              f"{m['bpp']:.4f} |")
    print()
    bits = len(next(iter(results["splits"].values()))["mean"]["p1"])
    print("| split | " + " | ".join(f"b{i}" for i in range(bits)) + " |")
    print("|---|" + "---|" * bits)
    for split, s in results["splits"].items():
        print(f"| {split} | " + " | ".join(f"{p:.2f}" for p in s["mean"]["p1"]) + " |")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="ARG model file (.safetensors)")
    ap.add_argument("--split", choices=("seen", "unseen", "pkg", "both", "all", "none"), default="both")
    ap.add_argument("--fixed", action="store_true",
                    help="also run the fixed colour (SMPTE bars, flat fields) and GOP tests")
    ap.add_argument("--gop-clips", default="cup,balle",
                    help="manifest clips for the GOP test (default: cup,balle)")
    ap.add_argument("--data", default="data", help="data folder (prepare_data.py's manifest)")
    ap.add_argument("--window", type=int, default=17, help="frames per independent window")
    ap.add_argument("--max-frames", type=int, help="at most N frames of each clip (quick checks)")
    ap.add_argument("--clips", help="comma-separated clip names to keep (default: all of the split)")
    ap.add_argument("--no-photos", action="store_true", help="skip the unseen photos")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", help="write the results here (default: MODEL.eval.json)")
    ap.add_argument("--markdown", action="store_true", help="also print the model card's tables")
    ap.add_argument("--strips", metavar="DIR",
                    help="also write DIR/MODEL-SPLIT-ITEM.png per item: 2 pictures, original above "
                         "decoded (needs ffmpeg)")
    args = ap.parse_args(argv)
    if args.strips:
        os.makedirs(args.strips, exist_ok=True)
    stem = os.path.splitext(os.path.basename(args.model))[0]
    torch.set_num_threads(args.threads)
    model = load_model(args.model)
    bits = model.config["lfq_bits"]
    man = json.load(open(os.path.join(args.data, "cache", "manifest.json")))
    keep = set(args.clips.split(",")) if args.clips else None
    t0 = time.time()
    results = {"model": args.model, "name": getattr(model, "model_name", None),
               "window": args.window, "max_frames": args.max_frames, "splits": {}}
    splits = {"both": ("seen", "unseen"), "all": ("seen", "unseen", "pkg"),
              "none": ()}.get(args.split, (args.split,))
    unseen_pkgs = set(man.get("unseen_packages", ()))
    for split in splits:
        key = "val_seen" if split == "seen" else "val_unseen"
        items = {}
        for name, c in sorted(man["clips"].items()):
            if key not in c or (keep is not None and name not in keep):
                continue
            if split != "seen" and (c.get("package") in unseen_pkgs) != (split == "pkg"):
                continue
            acc = Acc(bits)
            a, b = c[key]
            strip = [] if args.strips else None
            eval_clip(model, c["path"], a, b - a, args.window, acc, args.max_frames, strip)
            items[f"{name}[{a}:{a + (min(b - a, args.max_frames) if args.max_frames else b - a)}]"] = acc
            if strip:
                write_strip(os.path.join(args.strips, f"{stem}-{split}-{name}.png"), strip)
        if split == "pkg" and not args.no_photos and man.get("photos_valpkg"):
            acc = Acc(bits)
            strip = [] if args.strips else None
            eval_photos(model, os.path.join(args.data, "cache", "photos_valpkg.npz"), acc, strip)
            items[f"photos({len(man['photos_valpkg'])})"] = acc
            if strip:
                write_strip(os.path.join(args.strips, f"{stem}-{split}-photos.png"), strip)
        if split == "unseen" and not args.no_photos:
            acc = Acc(bits)
            strip = [] if args.strips else None
            eval_photos(model, os.path.join(args.data, "cache", "photos_val.npz"), acc, strip)
            items[f"photos({len(man['photos_val'])})"] = acc
            if strip:
                write_strip(os.path.join(args.strips, f"{stem}-{split}-photos.png"), strip)
        res = {k: v.result() for k, v in items.items()}
        # split summary: mean of the items' figures; tokens of all items pooled
        pooled = Acc(bits)
        for v in items.values():
            pooled.tokens += v.tokens
            pooled.pixels += v.pixels
        pr = pooled.result()
        summary = {m: float(np.mean([r[m] for r in res.values()])) for m in ("psnr_rgb", "psnr_y", "ssim_y", "bpp")}
        summary.update({k: pr[k] for k in ("p1", "p1_min", "p1_max", "h0_bits", "hbits_bits", "tokens")})
        results["splits"][split] = {"items": res, "mean": summary}

    if args.fixed:
        fstrips = {} if args.strips else None
        fixed = {"colour": fixed_tests.colour_test(model, fstrips), "gop": []}
        for name in args.gop_clips.split(","):
            if name in man["clips"]:
                fixed["gop"].append(fixed_tests.gop_test(model, man["clips"][name]["path"], 0, fstrips))
        results["fixed"] = fixed
        for tag, pairs in (fstrips or {}).items():
            write_strip(os.path.join(args.strips, f"{stem}-fixed-{tag}.png"), pairs)

    print(f"model {args.model} ({results['name']}), windows of {args.window} frames, "
          f"{time.time() - t0:.0f} s")
    if "fixed" in results:
        print("\n".join(fixed_tests.summary_lines(results["fixed"])))
    hdr = f"{'split':7s} {'item':22s} {'pics':>5s} {'PSNR-RGB':>8s} {'PSNR-Y':>7s} {'SSIM-Y':>7s} " \
          f"{'P1min':>6s} {'P1max':>6s} {'H0':>6s} {'Hbits':>6s} {'bpp':>7s}"
    print(hdr)
    for split, s in results["splits"].items():
        for k, r in list(s["items"].items()) + [("mean", dict(s["mean"], pictures=0))]:
            print(f"{split:7s} {k:22s} {r['pictures'] if r['pictures'] else '':>5} {r['psnr_rgb']:8.2f} "
                  f"{r['psnr_y']:7.2f} {r['ssim_y']:7.4f} {r['p1_min']:6.3f} {r['p1_max']:6.3f} "
                  f"{r['h0_bits']:6.2f} {r['hbits_bits']:6.2f} {r['bpp']:7.4f}")
        print(f"{split:7s} P(1) per bit: " + " ".join(f"{p:.2f}" for p in s["mean"]["p1"]))
    if args.markdown:
        print_markdown(results)
    out = args.json or os.path.splitext(args.model)[0] + ".eval.json"
    with open(out, "w") as f:
        json.dump(results, f, indent=1)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
