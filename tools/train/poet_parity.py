#!/usr/bin/env python3
"""Parity vectors for the C engine of ARG-Poet (spec/poet.md), made with the PyTorch twin.

    poet_parity.py --out-model M.safetensors [--out-vectors V.safetensors]
                   [--seed S] [--tokenizer-id HEX16] [--dtype F32|F16] [--height H --width W]

Writes a small random-weight poet model (every tensor random, biases, relative bias,
LayerNorm affine and the bit-to-bit weights included, so that each term is exercised)
and, with --out-vectors, a safetensors file of reference results computed by the twin
(tools/train/poet.py): token frames, teacher-forced logits of one pass (§3), code lengths
(§4) and the tokens of greedy and sampled decoding (§4, §5) for each task. The cases are
described in the metadata "cases" (JSON list); tests/test_synth.c replays them with the
engine. Token values are stored as F32 (exact below 2^24).
"""

import argparse
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import poet as P  # noqa: E402  the twin
import safetensors_io  # noqa: E402


def small_config(args):
    return P.default_config(token_bits=args.bits, dim=32, layers=2, heads=4, mlp=48, context=3,
                            window=args.window, anchor_max=4, ln_eps=1e-5)


def random_model(cfg, seed):
    m = P.Poet(cfg)
    m.reset_parameters(seed)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, shape in P.tensor_shapes(cfg).items():
            t = m.P(name)
            if name.endswith("ln1.weight") or name.endswith("ln2.weight") or name == "out.ln.weight":
                t.add_(torch.randn(shape, generator=g) * 0.2)
            elif name.endswith(".bias") or name.endswith("cur_bias") or name.endswith("attn.rel"):
                t.add_(torch.randn(shape, generator=g) * 0.3)
            elif name == "out.bits.ar":
                t.copy_(torch.tril(torch.randn(shape, generator=g) * 0.5, diagonal=-1))
            elif name.startswith("in.") and len(shape) == 2 and shape[1] != cfg["token_bits"]:
                t.add_(torch.randn(shape, generator=g) * 0.3)   # the none / task / key rows
    m.eval()
    return m


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out-model", required=True)
    ap.add_argument("--out-vectors")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tokenizer-id", default="0123456789abcdef")
    ap.add_argument("--tokenizer-name", default="arg-test")
    ap.add_argument("--name", default="poet-test")
    ap.add_argument("--dtype", default="F32", choices=("F32", "F16"))
    ap.add_argument("--bits", type=int, default=18)
    ap.add_argument("--window", type=int, default=5)
    ap.add_argument("--model", help="use this poet file (e.g. trained weights) instead of random ones; "
                    "--out-model then receives a copy")
    ap.add_argument("--tokens-npz", help="take the frames from tokens [T, H, W] of this npz "
                    "(tools/train/poet_data.py output; the top-left crop of --height x --width)")
    ap.add_argument("--height", type=int, default=7)
    ap.add_argument("--width", type=int, default=9)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    if args.model:
        model, meta = P.load_poet(args.model)
        cfg = model.config
        P.save_poet(args.out_model, model, {k: meta[k] for k in ("name", "tokenizer_id", "tokenizer_name")},
                    dtype=args.dtype)
    else:
        cfg = small_config(args)
        model = random_model(cfg, args.seed)
        P.save_poet(args.out_model, model, {"name": args.name, "tokenizer_id": args.tokenizer_id,
                                             "tokenizer_name": args.tokenizer_name}, dtype=args.dtype)
    if not args.out_vectors:
        return
    # the engine computes with the file's weights: F16 files are rounded
    model, _ = P.load_poet(args.out_model)
    H, W, B, K = args.height, args.width, cfg["token_bits"], cfg["context"]
    rng = np.random.default_rng(args.seed)
    T = 6
    if args.tokens_npz:
        z = np.load(args.tokens_npz)["tokens"]
        if z.shape[0] < T or z.shape[1] < H or z.shape[2] < W:
            raise SystemExit(f"{args.tokens_npz}: tokens {z.shape} smaller than {T}x{H}x{W}")
        frames = torch.from_numpy(z[:T, :H, :W].astype(np.int64))
    else:
        frames = torch.from_numpy(rng.integers(0, 1 << B, size=(T, H, W)).astype(np.int64))
    hole = torch.zeros(H, W, dtype=torch.bool)
    hole[1:H - 2, 2:W - 1] = True
    keep = torch.zeros(H, W, dtype=torch.bool)
    keep[2:H - 1, 1:W - 3] = True
    tensors = {"frames": frames.numpy().astype(np.float32),
               "known.inpaint": (~hole).numpy().astype(np.float32),
               "known.outpaint": keep.numpy().astype(np.float32),
               "known.random": (torch.from_numpy(rng.random((H, W)) < 0.4)).numpy().astype(np.float32)}
    cases = []

    def past_of(hist):
        """[K, H, W] and present [K] from a list of frames (oldest first)."""
        past = torch.zeros(K, H, W, dtype=torch.int64)
        pres = torch.zeros(K, dtype=torch.bool)
        for k in range(K):
            if k < len(hist):
                past[k] = hist[-1 - k]
                pres[k] = True
        return past, pres

    def add(name, arr):
        tensors[name] = np.asarray(arr, dtype=np.float32)
        return name

    with torch.no_grad():
        # one pass, teacher forced (§3): several states
        setups = [("continue", 0, 1, [], None, None, None),
                  ("inpaint", 1, 0, [0, 1], "known.inpaint", None, None),
                  ("outpaint", 2, 0, [0, 1, 2, 3], "known.outpaint", None, None),
                  ("interpolate", 3, 0, [0, 1, 2], "known.random", 5, 3),
                  ("continue-random-known", 0, 0, [1], "known.random", None, None)]
        for i, (label, task, key, hist, known_name, anchor_idx, dist) in enumerate(setups):
            cur = frames[4]
            known = torch.from_numpy(tensors[known_name] > 0.5) if known_name else torch.zeros(H, W, dtype=torch.bool)
            past, pres = past_of([frames[j] for j in hist])
            anchor = frames[anchor_idx] if anchor_idx is not None else None
            logits = model(cur[None], known[None], past[None], pres[None],
                           None if anchor is None else anchor[None],
                           torch.tensor([dist or 0]), task, key, target=cur[None])[0]
            bits = P.code_length(model, cur[None], known[None], past[None], pres[None],
                                 None if anchor is None else anchor[None], torch.tensor([dist or 0]),
                                 task, key)[0]
            cases.append({"kind": "logits", "label": label, "task": task, "key": key, "past": hist,
                          "known": known_name, "cur": 4, "anchor": anchor_idx, "anchor_dist": dist or 0,
                          "out": add(f"logits.{i}", logits.numpy())})
            cases.append({"kind": "bits", "label": label, "task": task, "key": key, "past": hist,
                          "known": known_name, "cur": 4, "anchor": anchor_idx, "anchor_dist": dist or 0,
                          "out": add(f"bits.{i}", np.array([float(bits.double().sum())]))})
        # decoding sequences (§4, §5): each frame is pushed into the history as made
        seqs = [("greedy-continue", 0, [0, 1], None, None, 4, 0.0, 0, 1.0, 0),
                ("greedy-inpaint", 1, [0], "known.inpaint", None, 3, 0.0, 0, 1.0, 0),
                ("greedy-outpaint", 2, [2, 3], "known.outpaint", None, 2, 0.0, 0, 1.0, 0),
                ("greedy-interpolate", 3, [0], None, 5, 3, 0.0, 0, 1.0, 0),
                ("sample-continue", 0, [0, 1], None, None, 3, 0.9, 0, 1.0, 12345),
                ("sample-topk-topp", 0, [0, 1, 2], None, None, 3, 1.3, 20, 0.8, 7),
                ("sample-inpaint", 1, [0], "known.inpaint", None, 2, 0.7, 5, 0.95, 99)]
        for i, (label, task, hist_idx, known_name, anchor_idx, n, temp, topk, topp, seed) in enumerate(seqs):
            hist = [frames[j] for j in hist_idx]
            out = []
            t0 = len(hist_idx)
            for f in range(n):
                past, pres = past_of(hist)
                known = torch.from_numpy(tensors[known_name] > 0.5) if known_name else None
                cur = frames[(t0 + f) % T] if known_name else None
                dist = None
                anchor = None
                if anchor_idx is not None:
                    # anchor frame at index t0 + n (one after the last made frame)
                    anchor = frames[anchor_idx]
                    dist = n - f
                key = 1 if (t0 + f) % 4 == 0 else 0
                tok = P.generate_frame(model, cur=cur, known=known, past=past, past_present=pres,
                                       anchor=anchor, anchor_dist=dist, task=task, key=key,
                                       temperature=temp, top_k=topk, top_p=topp, seed=seed, t=t0 + f,
                                       H=H, W=W)
                out.append(tok)
                hist.append(tok)
            cases.append({"kind": "generate", "label": label, "task": task, "past": hist_idx,
                          "known": known_name, "cur_first": t0, "anchor": anchor_idx, "frames": n,
                          "temperature": temp, "top_k": topk, "top_p": topp, "seed": seed,
                          "key_every": 4, "t0": t0, "out": add(f"gen.{i}", torch.stack(out).numpy())})
    safetensors_io.write_safetensors(args.out_vectors, tensors,
                                     {"cases": json.dumps(cases), "height": str(H), "width": str(W),
                                      "frames": str(T)})


if __name__ == "__main__":
    main()
