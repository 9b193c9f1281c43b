#!/usr/bin/env python3
"""Evaluate ARG-Poet on validation token streams never trained on (the model card).

    poet_eval.py [--model models/poet-s8.safetensors | --ckpt /work/poet-ckpt/last.pt]
                 [--data /work/poet-data] [--tokenizer models/arg-s8.safetensors]
                 [--strips models/strips] [--json models/poet-eval.json] [--threads 2]

(a) Modelling: the code length of spec §4 (continuation task, the true past, bits per
    token) over every latent frame of each validation clip, next to what ARG's range
    coder spends on the same tokens (`argentropy --tokens`, same GOP length).
(b)-(d) Tasks on GOP segments of the clips with motion (--task-clips): a GOP of 8 latent
    frames (29 pictures), the GOP before it as the past.
    continue      latent frames 0-1 given (the keyframe and 4 pictures), 2-7 generated
                  (24 pictures, about 0.9 s); baselines: copy-last (latent frame 1
                  repeated, decoded), freeze (the last given picture repeated)
    inpaint       a centred box of a third of the grid per side unknown in latent frames
                  2-7, the rest given; PSNR inside the box; baseline: copy-previous (the
                  box's tokens of the previous latent frame, as they stand)
    outpaint      a centred box of half the grid per side kept in latent frames 2-7;
                  PSNR outside it; baseline: copy-previous
    interpolate   latent frames 0-2 given and frame 7 as the anchor, 3-6 generated;
                  baseline: copy-last
    Pictures come from the tokenizer twin (argmodel.py) decoding the whole GOP; the
    ceiling is the decoding of the true tokens. PSNR on 8-bit RGB (total MSE over the
    generated pictures), SSIM on BT.601 luma. Greedy decoding unless --temperature.
A PNG strip per task in --strips: rows truth / tokenizer ceiling (the true tokens decoded) /
ARG-Poet / baseline, first column the last given picture, then pictures spread over the generated range.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import poet  # noqa: E402
import y4mio  # noqa: E402
from evaluate import ssim_y, to_u8  # noqa: E402
from export import load_model  # noqa: E402

FT = 4
CLIP_SOURCES = {"cup": "data/cup.y4m", "balle": "/work/poet-pkgs/balle.y4m",
                "vtest": "data/vtest.y4m", "box": "data/box.y4m", "tree": "data/tree.y4m",
                "motion": "/work/poet-pkgs/motion.y4m"}


def load_clip(data, name):
    z = np.load(os.path.join(data, name + ".npz"))
    return {k: z[k] for k in z.files}


def past_of(tok, t, K):
    """Past frames t-1..t-K of a token array [T, H, W] (int64 tensor), present flags."""
    H, W = tok.shape[1:]
    past = torch.zeros(K, H, W, dtype=torch.int64)
    pres = torch.zeros(K, dtype=torch.bool)
    for k in range(K):
        if t - 1 - k >= 0:
            past[k] = tok[t - 1 - k]
            pres[k] = True
    return past, pres


def clip_code_length(model, tok, key, max_frames=None):
    """Bits per token of every latent frame (continuation, true past): (mean, key, inter)."""
    T = tok.shape[0] if max_frames is None else min(max_frames, tok.shape[0])
    tot = np.zeros(T)
    with torch.no_grad():
        for t in range(T):
            past, pres = past_of(tok, t, model.K)
            b = poet.code_length(model, tok[t][None], None, past[None], pres[None], task=0,
                                 key=int(key[t]))
            tot[t] = float(b.mean())
    kf = key[:T].astype(bool)
    return tot.mean(), tot[kf].mean() if kf.any() else float("nan"), \
        tot[~kf].mean() if (~kf).any() else float("nan")


def arg_coder_bits(argentropy, tok, gop, max_frames=None):
    T = tok.shape[0] if max_frames is None else min(max_frames, tok.shape[0])
    H, W = tok.shape[1:]
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "t.tok")
        tok[:T].astype("<u4").tofile(p)
        r = subprocess.run([argentropy, "--tokens", p, "--grid", f"{W}x{H}", "--bits", "18",
                            "-g", str(gop)], capture_output=True, text=True)
    import re
    m = re.search(r"coded:\s+([\d.]+) bits/token", r.stdout + r.stderr)
    if r.returncode != 0 or not m:
        sys.exit(f"poet_eval: argentropy failed:\n{r.stdout}{r.stderr}")
    return float(m.group(1))


# ---------------------------------------------------------------------------
# tasks
# ---------------------------------------------------------------------------

def gen_frames(model, tok, t_from, t_to, known_mask=None, task=0, anchor_t=None, key=None,
               temperature=0.0, seed=1, time_acc=None):
    """Generate latent frames t_from..t_to-1 in place of a copy of tok (int64 [T, H, W]).
    known_mask [H, W] (True: the true token is given) applies to every generated frame."""
    out = tok.clone()
    H, W = tok.shape[1:]
    for t in range(t_from, t_to):
        past, pres = past_of(out, t, model.K)
        known = known_mask if known_mask is not None else torch.zeros(H, W, dtype=torch.bool)
        cur = torch.where(known, tok[t], torch.zeros_like(tok[t]))
        anchor = tok[anchor_t] if anchor_t is not None else None
        ad = (anchor_t - t) if anchor_t is not None else None
        t0 = time.time()
        out[t] = poet.generate_frame(model, cur, known, past, pres, anchor, ad, task,
                                     int(key[t]), temperature=temperature, seed=seed, t=t)
        if time_acc is not None:
            time_acc.append(time.time() - t0)
    return out


def copy_frames(tok, t_from, t_to, region=None):
    """Baseline: frames t_from.. repeat the previous frame (within `region` only)."""
    out = tok.clone()
    for t in range(t_from, t_to):
        if region is None:
            out[t] = out[t - 1]
        else:
            out[t] = torch.where(region, out[t - 1], out[t])
    return out


def decode_gop(tokenizer, gop_tokens):
    """int64 [8, h, w] -> uint8 pictures [29, H, W, 3]."""
    q = tokenizer.tokens_to_q(gop_tokens[None], 18)
    with torch.no_grad():
        x = tokenizer.decode(q)[0]  # [3, P, H, W]
    return np.stack([to_u8(x[:, i]) for i in range(x.shape[1])])


def psnr_u8(a, b, mask=None):
    d = a.astype(np.float64) - b.astype(np.float64)
    if mask is not None:
        d = d[:, mask]
    mse = float((d ** 2).mean())
    return 100.0 if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def ssim_u8(a, b):
    ya = y4mio.rgb_to_y8(a.transpose(0, 3, 1, 2).astype(np.float32) / 127.5 - 1.0)
    yb = y4mio.rgb_to_y8(b.transpose(0, 3, 1, 2).astype(np.float32) / 127.5 - 1.0)
    return float(np.mean(ssim_y(ya, yb)))


def truth_pictures(src, first, count):
    info, frames = y4mio.read_y4m(src, first, count)
    out = []
    for Y, U, V in frames:
        rgb = y4mio.yuv420_to_rgb(Y, U, V, info["chroma"], info["full_range"])
        out.append(to_u8(torch.from_numpy(rgb)))
    return np.stack(out)


def write_grid(path, rows, gap=4, boxes=None):
    """rows: list of lists of uint8 [H, W, 3] pictures; boxes: (y0, x0, y1, x1) outlined
    in yellow on the generated pictures of the ARG-Poet and baseline rows."""
    h, w = rows[0][0].shape[:2]
    nr, nc = len(rows), max(len(r) for r in rows)
    img = np.full((nr * h + gap * (nr - 1), nc * w + gap * (nc - 1), 3), 128, np.uint8)
    for i, row in enumerate(rows):
        for j, pic in enumerate(row):
            pic = pic.copy()
            if boxes is not None and i > 1 and j > 0:
                y0, x0, y1, x1 = boxes
                pic[y0, x0:x1] = pic[y1 - 1, x0:x1] = (255, 255, 0)
                pic[y0:y1, x0] = pic[y0:y1, x1 - 1] = (255, 255, 0)
            img[i * (h + gap):i * (h + gap) + h, j * (w + gap):j * (w + gap) + w] = pic
    tmp = path + ".tmp.png"
    cmd = ["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s",
           f"{img.shape[1]}x{img.shape[0]}", "-i", "-", "-frames:v", "1", tmp]
    subprocess.run(cmd, input=img.tobytes(), check=True)
    os.replace(tmp, path)


def pics_of(i):
    """Picture indices (within the GOP) of latent frame i."""
    return [0] if i == 0 else list(range(1 + FT * (i - 1), 1 + FT * i))


def run_segment(model, tokenizer, clip, g, args, res, strips, speed):
    tok = torch.from_numpy(clip["tokens"].astype(np.int64))
    key = clip["key"]
    gop = int(clip["gop"])
    T, H, W = tok.shape
    a = g * gop
    seg = tok[:a + gop]  # the past (GOPs before) and this GOP
    first = int(clip["first_picture"][a])
    name = str(clip["clip"])
    truth = truth_pictures(CLIP_SOURCES[name], first, 1 + FT * (gop - 1))
    ceiling = decode_gop(tokenizer, tok[a:a + gop])
    Hp, Wp = ceiling.shape[1:3]
    truth = truth[:, :Hp, :Wp]
    fs = Hp // H

    def box(frac):
        bh, bw = max(1, round(H * frac)), max(1, round(W * frac))
        y0, x0 = (H - bh) // 2, (W - bw) // 2
        m = torch.zeros(H, W, dtype=torch.bool)
        m[y0:y0 + bh, x0:x0 + bw] = True
        return m, (y0 * fs, x0 * fs, (y0 + bh) * fs, (x0 + bw) * fs)

    tasks = {}
    # continue: 0-1 given, 2-7 generated
    tasks["continue"] = dict(t_from=a + 2, task=0, known=None, anchor=None, region=None)
    hole, hole_px = box(1 / 3)
    tasks["inpaint"] = dict(t_from=a + 2, task=1, known=~hole, anchor=None, region=hole, px=hole_px)
    kept, kept_px = box(1 / 2)
    tasks["outpaint"] = dict(t_from=a + 2, task=2, known=kept, anchor=None, region=~kept, px=kept_px)
    tasks["interpolate"] = dict(t_from=a + 3, t_to=a + 7, task=3, known=None, anchor=a + 7, region=None)
    for tname, tk in tasks.items():
        t_to = tk.get("t_to", a + gop)
        gen = gen_frames(model, seg, tk["t_from"], t_to, tk["known"], tk["task"], tk["anchor"], key,
                         args.temperature, args.seed, speed)
        base = copy_frames(seg, tk["t_from"], t_to, tk["region"])
        pg = decode_gop(tokenizer, gen[a:a + gop])
        pb = decode_gop(tokenizer, base[a:a + gop])
        sel = [p for i in range(tk["t_from"] - a, t_to - a) for p in pics_of(i)]
        last_given = pics_of(tk["t_from"] - a - 1)[-1]
        mask = None
        if tk["region"] is not None:
            rm = tk["region"].numpy().repeat(fs, 0).repeat(fs, 1)
            mask = rm
        r = {"poet": psnr_u8(pg[sel], truth[sel], mask), "baseline": psnr_u8(pb[sel], truth[sel], mask),
             "ceiling": psnr_u8(ceiling[sel], truth[sel], mask)}
        if tname == "continue":
            freeze = np.repeat(truth[last_given][None], len(sel), 0)
            r["freeze"] = psnr_u8(freeze, truth[sel])
            r["ssim_poet"] = ssim_u8(pg[sel], truth[sel])
            r["ssim_baseline"] = ssim_u8(pb[sel], truth[sel])
            r["ssim_ceiling"] = ssim_u8(ceiling[sel], truth[sel])
            r["ssim_freeze"] = ssim_u8(freeze, truth[sel])
        tg = gen[a:a + gop][tk["t_from"] - a:t_to - a]
        tt = tok[a:a + gop][tk["t_from"] - a:t_to - a]
        r["token_match"] = float((tg == tt).float().mean())
        res.setdefault(tname, []).append(dict(clip=name, gop=g, **r))
        print(f"  {name} GOP {g} {tname:11s} PSNR poet {r['poet']:.2f}  baseline {r['baseline']:.2f}  "
              f"ceiling {r['ceiling']:.2f}" + (f"  freeze {r['freeze']:.2f}" if "freeze" in r else "")
              + f"  tokens equal to the truth {100 * r['token_match']:.1f}%", flush=True)
        if strips is not None and tname not in strips:
            cols = [sel[round(i * (len(sel) - 1) / 4)] for i in range(5)]
            rows = [[truth[last_given]] + [truth[c] for c in cols],
                    [ceiling[last_given]] + [ceiling[c] for c in cols],
                    [ceiling[last_given]] + [pg[c] for c in cols],
                    [ceiling[last_given]] + [pb[c] for c in cols]]
            strips[tname] = (rows, tk.get("px"))
            os.makedirs(args.strips, exist_ok=True)
            sp = os.path.join(args.strips, f"poet-{tname}.png")
            write_grid(sp, rows, boxes=tk.get("px"))
            print(f"  strip {sp} ({name} GOP {g}; rows: truth / tokenizer ceiling / ARG-Poet / "
                  "baseline; first column: last given picture)", flush=True)


def summarize(out):
    """Token-weighted bits over the clips and per-task means over the segments (in place)."""
    bits = {k: v for k, v in out["bits"].items() if k != "all"}
    n = sum(v["tokens"] for v in bits.values())
    if n:
        p = sum(v["poet"] * v["tokens"] for v in bits.values()) / n
        a = sum(v["arg_coder"] * v["tokens"] for v in bits.values()) / n
        out["bits"]["all"] = {"poet": p, "arg_coder": a, "tokens": n}
        print(f"  {'all (token-weighted)':16s} ARG-Poet {p:.4f}  ARG coder {a:.4f}  "
              f"{100 * (1 - p / a):.1f}% below")
    for tname, t in out["tasks"].items():
        rows = t["segments"] if isinstance(t, dict) else t
        keys = [k for k in rows[0] if k not in ("clip", "gop")]
        mean = {k: float(np.mean([r[k] for r in rows])) for k in keys}
        out["tasks"][tname] = {"segments": rows, "mean": mean}
        print(f"  mean {tname:11s} ({len(rows)} segments) " + "  ".join(f"{k} {v:.3f}" for k, v in mean.items()))


def merge(paths, dest):
    """Combine the JSON reports of several runs (e.g. run in parallel) into one."""
    out = {"model": None, "bits": {}, "tasks": {}}
    for p in paths:
        with open(p) as f:
            j = json.load(f)
        out["model"] = out["model"] or j["model"]
        out["bits"].update({k: v for k, v in j["bits"].items() if k != "all"})
        for tname, t in j["tasks"].items():
            out["tasks"].setdefault(tname, []).extend(t["segments"])
        for k in ("python_seconds_per_latent_frame",):
            if k in j:
                out.setdefault(k, []).append(j[k])
    for name, v in out["bits"].items():
        print(f"  {name:16s} ARG-Poet {v['poet']:.4f} (keyframes {v['poet_key']:.3f}, inter "
              f"{v['poet_inter']:.3f})  ARG coder {v['arg_coder']:.4f}  "
              f"{100 * (1 - v['poet'] / v['arg_coder']):+.1f}% below")
    summarize(out)
    tmp = dest + ".tmp"
    with open(tmp, "w") as f:
        json.dump(out, f, indent=1)
    os.replace(tmp, dest)
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="models/poet-s8.safetensors")
    ap.add_argument("--ckpt", help="evaluate the EMA weights of a training checkpoint instead")
    ap.add_argument("--data", default="/work/poet-data")
    ap.add_argument("--tokenizer", default="models/arg-s8.safetensors")
    ap.add_argument("--argentropy", default="build/tools/argentropy")
    ap.add_argument("--bits-clips", default="cup_val,balle_val,vtest_val_seen,box_val_seen,tree_val_seen")
    ap.add_argument("--task-clips", default="cup_val:2,cup_val:5,balle_val:2,balle_val:5",
                    help="CLIP:GOP segments for the tasks")
    ap.add_argument("--max-frames", type=int, help="at most this many latent frames per clip in (a)")
    ap.add_argument("--temperature", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--strips", default="models/strips")
    ap.add_argument("--json", default="models/poet-eval.json")
    ap.add_argument("--merge", nargs="+", metavar="JSON",
                    help="only merge these reports into --json (runs split over processes)")
    args = ap.parse_args(argv)
    if args.merge:
        return merge(args.merge, args.json)
    torch.set_num_threads(args.threads)
    if args.ckpt:
        ck = torch.load(args.ckpt, map_location="cpu")
        model = poet.Poet(ck["config"])
        model.load_state_dict(ck["ema"])
        model.eval()
        src = f"{args.ckpt} (EMA, step {ck['step']})"
    else:
        model, meta = poet.load_poet(args.model)
        src = f"{args.model} ({meta['name']}, tokenizer {meta['tokenizer_name']} {meta['tokenizer_id']})"
    print(f"poet_eval: {src}", flush=True)
    out = {"model": src, "bits": {}, "tasks": {}}
    if args.bits_clips:
        print("(a) bits per token, continuation with the true past, vs ARG's range coder:")
        for name in args.bits_clips.split(","):
            c = load_clip(args.data, name)
            tok = torch.from_numpy(c["tokens"].astype(np.int64))
            t0 = time.time()
            mean, kf, inter = clip_code_length(model, tok, c["key"], args.max_frames)
            argb = arg_coder_bits(args.argentropy, c["tokens"], int(c["gop"]), args.max_frames)
            n = (tok.shape[0] if args.max_frames is None else min(args.max_frames, tok.shape[0])) \
                * tok.shape[1] * tok.shape[2]
            out["bits"][name] = {"poet": mean, "poet_key": kf, "poet_inter": inter, "arg_coder": argb,
                                 "tokens": n}
            print(f"  {name:16s} ARG-Poet {mean:.4f} (keyframes {kf:.3f}, inter {inter:.3f})  "
                  f"ARG coder {argb:.4f}  {100 * (1 - mean / argb):+.1f}% below  "
                  f"({time.time() - t0:.0f} s)", flush=True)
    if args.task_clips:
        tokenizer = load_model(args.tokenizer)
        strips = {} if args.strips else None
        speed = []
        print("(b)-(d) tasks (PSNR-RGB dB over the generated pictures; inpaint inside the hole, "
              "outpaint outside the kept box):")
        for spec in args.task_clips.split(","):
            name, g = spec.split(":")
            c = load_clip(args.data, name)
            if (int(g) + 1) * int(c["gop"]) > c["tokens"].shape[0]:
                print(f"  {spec}: the clip has no whole GOP {g}; skipped")
                continue
            run_segment(model, tokenizer, c, int(g), args, out["tasks"], strips, speed)
        if speed:
            H, W = c["tokens"].shape[1:]
            out["python_seconds_per_latent_frame"] = float(np.mean(speed))
            print(f"  PyTorch twin: {np.mean(speed):.2f} s per generated latent frame "
                  f"({args.threads} threads, last grid {W}x{H})")
    summarize(out)
    if args.json:
        tmp = args.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump(out, f, indent=1)
        os.replace(tmp, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
