#!/usr/bin/env python3
"""Export a Poet training checkpoint as an ARG-Poet model file (spec/poet.md §2).

    poet_export.py [--ckpt /work/poet-ckpt/last.pt] [-o models/poet-s8.safetensors]
                   [--raw] [--dtype F32|F16] [--tokenizer models/arg-s8.safetensors]
                   [--tokenizer-id HEX] [--argtok build/tools/argtok] [--name poet-s8]

The EMA weights are exported (--raw: the raw ones). The tokenizer's model ID (the
16-hex XXH3-64 of its data section, as the codec prints it) is read from `argtok`'s
report on one picture of a generated grey clip unless --tokenizer-id gives it; the
file is read back with load_poet() and checked against the checkpoint's weights.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import poet  # noqa: E402


def tokenizer_id(argtok, model):
    """(name, id) of a tokenizer file as the C library reports them."""
    with tempfile.TemporaryDirectory() as d:
        y4m = os.path.join(d, "grey.y4m")
        with open(y4m, "wb") as f:
            f.write(b"YUV4MPEG2 W16 H16 F1:1 Ip A1:1 C420jpeg\nFRAME\n" + bytes([128]) * (16 * 16 * 3 // 2))
        r = subprocess.run([argtok, "-i", y4m, "-m", model, "--frames", "1", "--threads", "1",
                            "--quiet"], capture_output=True, text=True)
    m = re.search(r"model:\s+(\S+)\s+id ([0-9a-f]{16})", r.stdout + r.stderr)
    if r.returncode != 0 or not m:
        sys.exit(f"poet_export: cannot read the tokenizer ID from {argtok}:\n{r.stdout}{r.stderr}")
    return m.group(1), m.group(2)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ckpt", default="/work/poet-ckpt/last.pt")
    ap.add_argument("-o", "--output", default="models/poet-s8.safetensors")
    ap.add_argument("--raw", action="store_true", help="export the raw weights, not the EMA")
    ap.add_argument("--dtype", default="F32", choices=("F32", "F16"))
    ap.add_argument("--name", default="poet-s8")
    ap.add_argument("--tokenizer", default="models/arg-s8.safetensors")
    ap.add_argument("--tokenizer-id", help="16 hex digits (default: asked from argtok)")
    ap.add_argument("--tokenizer-name", help="default: the name argtok reports")
    ap.add_argument("--argtok", default="build/tools/argtok")
    args = ap.parse_args(argv)
    ck = torch.load(args.ckpt, map_location="cpu")
    model = poet.Poet(ck["config"])
    model.load_state_dict(ck["model"] if args.raw else ck["ema"])
    if args.tokenizer_id:
        tname, tid = args.tokenizer_name or "arg-s8", args.tokenizer_id
    else:
        tname, tid = tokenizer_id(args.argtok, args.tokenizer)
        tname = args.tokenizer_name or tname
    poet.save_poet(args.output, model, {"name": args.name, "tokenizer_id": tid,
                                        "tokenizer_name": tname}, dtype=args.dtype)
    back, meta = poet.load_poet(args.output)
    tol = 0.0 if args.dtype == "F32" else 1e-2
    for name, t in model.tensors().items():
        err = float((back.tensors()[name] - t).abs().max())
        if err > tol * max(1.0, float(t.abs().max())):
            sys.exit(f"poet_export: {name} differs after the round trip by {err}")
    size = os.path.getsize(args.output)
    print(f"{args.output}: {meta['name']} for {tname} ({tid}), {size / 1e6:.2f} MB {args.dtype}, "
          f"{'raw' if args.raw else 'EMA'} weights of step {ck['step']} "
          f"({ck['elapsed'] / 60:.1f} min of training), val bits/token {ck.get('val_bits', float('nan')):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
