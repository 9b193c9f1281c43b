#!/usr/bin/env python3
"""Tokenize the footage for ARG-Poet (issue 15) with a shipped tokenizer.

    poet_data.py [--data data] [--out /work/poet-data] [--model models/arg-s8.safetensors]
                 [--gop 8] [--threads 1] [--argentropy build/tools/argentropy]

Each clip goes through `argentropy --tokens-out` (the codec's own encoder, GOPs of --gop
latent frames, exactly the tokens an ARG stream of that GOP length carries), and ARG's
range-coder figures for the clip are kept next to the tokens.

Splits (the ones of prepare_data.py, at GOP granularity; never the evaluation-only
packages of DATA.md):
  train        vtest, box, tree: the GOPs whose pictures lie in the first 80% of the clip
  val_seen     the remaining GOPs of vtest, box and tree (scenes seen, frames not)
  train        node-opencv motion.mov (hand, coin, table; 2x down, cropped to 280x160): all
  val          the whole cup clip and python3-mecavideo balle-jbart.mp4 (a person throwing
               a ball; 2x down): clips never trained on (prepare_data.py's unseen split)

Outputs in --out, one npz per (clip, split): tokens uint32 [T, H, W], key uint8 [T]
(1: the GOP's first latent frame), gop, first_picture, pictures, clip, split, and
manifest.json (tokenizer name and ID, grids, latent frame counts).
"""

import argparse
import glob
import json
import os
import re
import subprocess
import sys
import time

import numpy as np

CLIPS = {  # name: split rule
    "vtest": "train80", "box": "train80", "tree": "train80", "cup": "val",
    "motion": "train", "balle": "val",
}
# clips converted here from Debian packages (apt-get download + dpkg -x + ffmpeg) into --pkgs
EXTRA = {
    "motion": ("node-opencv", "usr/share/doc/node-opencv/examples/files/motion.mov",
               "scale=iw/2:ih/2,crop=280:160"),
    "balle": ("python3-mecavideo", "usr/share/pymecavideo/data/video/balle-jbart.mp4",
              "scale=iw/2:ih/2"),
}
FT = 4  # the tokenizer's temporal factor (checked against argentropy's report)


def y4m_info(path):
    with open(path, "rb") as f:
        head = f.readline().decode("ascii", "replace").split()
    w = int(next(t[1:] for t in head if t.startswith("W")))
    h = int(next(t[1:] for t in head if t.startswith("H")))
    return w, h


def count_pictures(path):
    w, h = y4m_info(path)
    with open(path, "rb") as f:
        hdr = len(f.readline())
    size = os.path.getsize(path) - hdr
    frame = 6 + w * h * 3 // 2  # "FRAME\n" + 4:2:0 planes
    return size // frame


def extra_clip(args, name):
    """Convert an EXTRA clip from its Debian package into --pkgs (once)."""
    pkg, inner, vf = EXTRA[name]
    dst = os.path.join(args.pkgs, name + ".y4m")
    if os.path.exists(dst):
        return dst
    os.makedirs(args.pkgs, exist_ok=True)
    root = os.path.join(args.pkgs, "x")
    if not os.path.exists(os.path.join(root, inner)):
        subprocess.run(["apt-get", "download", pkg], cwd=args.pkgs, check=True)
        deb = sorted(glob.glob(os.path.join(args.pkgs, pkg + "_*.deb")))[-1]
        subprocess.run(["dpkg", "-x", deb, root], check=True)
    tmp = dst + ".tmp.y4m"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", os.path.join(root, inner),
                    "-vf", vf, "-pix_fmt", "yuv420p", tmp], check=True)
    os.replace(tmp, dst)
    return dst


def tokenize(args, name):
    src = extra_clip(args, name) if name in EXTRA else os.path.join(args.data, name + ".y4m")
    w, h = y4m_info(src)
    tok = os.path.join(args.out, f"{name}.tok")
    cmd = [args.argentropy, "-i", src, "-m", args.model, "-g", str(args.gop),
           "--threads", str(args.threads), "--tokens-out", tok]
    t0 = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"poet_data: {' '.join(cmd)} failed:\n{r.stderr}{r.stdout}")
    rep = r.stdout + r.stderr
    m = re.search(r"(\d+) latent frames of (\d+)x(\d+), (\d+) bits", rep)
    if not m:
        sys.exit(f"poet_data: cannot read argentropy's report:\n{rep}")
    T, gw, gh, bits = (int(m.group(i)) for i in range(1, 5))
    raw = np.fromfile(tok, dtype="<u4")
    if raw.size != T * gw * gh:
        sys.exit(f"poet_data: {tok}: {raw.size} tokens, expected {T}x{gw}x{gh}")
    os.unlink(tok)
    coded = float(re.search(r"coded:\s+([\d.]+) bits/token", rep).group(1))
    print(f"{name}: {w}x{h} -> {T} latent frames of {gw}x{gh}, ARG coder {coded:.4f} bits/token "
          f"({time.time() - t0:.1f} s)", flush=True)
    return raw.reshape(T, gh, gw), bits, coded, rep


def gop_pictures(T, gop):
    """Pictures covered by each latent frame (1 for a GOP's first, FT for the others)."""
    return np.array([1 if t % gop == 0 else FT for t in range(T)])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="data")
    ap.add_argument("--out", default="/work/poet-data")
    ap.add_argument("--model", default="models/arg-s8.safetensors")
    ap.add_argument("--argentropy", default="build/tools/argentropy")
    ap.add_argument("--pkgs", default="/work/poet-pkgs", help="Debian packages and converted clips")
    ap.add_argument("--gop", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--clips", default=",".join(CLIPS))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    mpath = os.path.join(args.out, "manifest.json")
    manifest = {"tokenizer_model": args.model, "gop": args.gop, "clips": {}}
    if os.path.exists(mpath):  # keep the entries of clips not redone
        with open(mpath) as f:
            manifest = json.load(f)
    for name in args.clips.split(","):
        tokens, bits, coded, rep = tokenize(args, name)
        T = tokens.shape[0]
        key = (np.arange(T) % args.gop == 0).astype(np.uint8)
        pics = gop_pictures(T, args.gop)
        first = np.concatenate([[0], np.cumsum(pics)[:-1]])
        total = int(pics.sum())
        if CLIPS[name] == "train80":
            # whole GOPs whose pictures end within the first 80% of the clip
            limit = 0.8 * total
            ngop = (T + args.gop - 1) // args.gop
            cut = 0
            for g in range(ngop):
                end = min((g + 1) * args.gop, T)
                if first[end - 1] + pics[end - 1] <= limit:
                    cut = end
            parts = {"train": (0, cut), "val_seen": (cut, T)}
        else:
            parts = {CLIPS[name]: (0, T)}
        for split, (a, b) in parts.items():
            if b <= a:
                continue
            path = os.path.join(args.out, f"{name}_{split}.npz")
            tmp = path + ".tmp.npz"
            np.savez_compressed(tmp, tokens=tokens[a:b], key=key[a:b], gop=args.gop,
                                first_picture=first[a:b], pictures=pics[a:b], bits=bits,
                                clip=name, split=split)
            os.replace(tmp, path)
            manifest["clips"][f"{name}_{split}"] = {
                "clip": name, "split": split, "latent_frames": [int(a), int(b)],
                "grid": [int(tokens.shape[2]), int(tokens.shape[1])],
                "pictures": [int(first[a]), int(first[b - 1] + pics[b - 1])]}
        manifest["clips_arg_coder_bits_per_token"] = manifest.get("clips_arg_coder_bits_per_token", {})
        manifest["clips_arg_coder_bits_per_token"][name] = coded
    with open(mpath, "w") as f:
        json.dump(manifest, f, indent=1)
    print(json.dumps(manifest["clips"], indent=1))


if __name__ == "__main__":
    main()
