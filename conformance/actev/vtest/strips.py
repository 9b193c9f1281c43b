#!/usr/bin/env python3
"""PNG contact strips of a Y4M clip, for annotating by eye (numpy + zlib).

    strips.py --y4m data/vtest.y4m --out DIR [--every 16] [--per 8] [--cols 4]
              [--grid 32] [--first 1] [--boxes REF.json] [--scale 1]

Writes DIR/strip_NNNN.png, each holding `per` pictures (luma only, grey) in
`cols` columns, picture numbers 1-based: picture k is the k-th of the clip.
Every picture gets a faint pixel grid (`grid` px; every third line brighter)
so that box corners can be read off, and its 1-based number drawn in the top
left corner with a 3x5 digit font. --boxes draws the per-frame boxes of an
ActEV reference JSON (interpolated keyframes as the scorer reads them).
"""
import argparse
import json
import os
import struct
import zlib

import numpy as np

DIGITS = {
    "0": "111101101101111", "1": "010110010010111", "2": "111001111100111",
    "3": "111001111001111", "4": "101101111001001", "5": "111100111001111",
    "6": "111100111101111", "7": "111001001001001", "8": "111101111101111",
    "9": "111101111001111",
}


def read_y4m(path):
    f = open(path, "rb")
    header = f.readline().decode().split()
    w = int(next(t[1:] for t in header if t[0] == "W"))
    h = int(next(t[1:] for t in header if t[0] == "H"))
    chroma = next((t[1:] for t in header if t[0] == "C"), "420")
    csize = {"420": w * h // 2, "422": w * h, "444": 2 * w * h}[
        "444" if chroma.startswith("444") else "422" if chroma.startswith("422") else "420"]
    frames = []
    while True:
        line = f.readline()
        if not line:
            break
        y = np.frombuffer(f.read(w * h), np.uint8).reshape(h, w)
        f.read(csize)
        frames.append(y)
    return frames


def write_png(path, rgb):
    h, w, _ = rgb.shape
    raw = b"".join(b"\0" + rgb[y].tobytes() for y in range(h))

    def chunk(tag, data):
        c = tag + data
        return struct.pack(">I", len(data)) + c + struct.pack(">I", zlib.crc32(c) & 0xffffffff)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")
    tmp = path + ".tmp"
    open(tmp, "wb").write(png)
    os.replace(tmp, path)


def draw_text(img, x, y, text, color, s=2):
    for ch in text:
        pat = DIGITS.get(ch)
        if pat:
            for i, bit in enumerate(pat):
                if bit == "1":
                    r, c = divmod(i, 3)
                    img[y + r * s:y + r * s + s, x + c * s:x + c * s + s] = color
        x += 4 * s


def rect(img, x0, y0, x1, y1, color):
    h, w, _ = img.shape
    x0, y0 = max(0, int(x0)), max(0, int(y0))
    x1, y1 = min(w - 1, int(x1)), min(h - 1, int(y1))
    if x1 <= x0 or y1 <= y0:
        return
    img[y0, x0:x1 + 1] = color
    img[y1, x0:x1 + 1] = color
    img[y0:y1 + 1, x0] = color
    img[y0:y1 + 1, x1] = color


COLORS = [(255, 60, 60), (60, 255, 60), (80, 160, 255), (255, 220, 0), (255, 0, 255),
          (0, 255, 255), (255, 140, 0), (160, 100, 255)]


def ref_boxes(path):
    """{frame: [(x, y, w, h, label)]} from an ActEV reference, keyframes
    carried forward until the next one (the scorer's reading)."""
    d = json.load(open(path))
    out = {}
    for a in d["activities"]:
        for o in a.get("objects", []):
            for vid, fr in o["localization"].items():
                keys = sorted((int(k), v) for k, v in fr.items())
                for (k, v), nxt in zip(keys, keys[1:] + [(None, None)]):
                    if "boundingBox" not in v:
                        continue
                    b = v["boundingBox"]
                    end = nxt[0] if nxt[0] is not None else k + 1
                    for f in range(k, end):
                        out.setdefault(f, []).append((b["x"], b["y"], b["w"], b["h"], o["objectID"]))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--y4m", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--every", type=int, default=16)
    ap.add_argument("--per", type=int, default=8)
    ap.add_argument("--cols", type=int, default=4)
    ap.add_argument("--grid", type=int, default=32)
    ap.add_argument("--first", type=int, default=1)
    ap.add_argument("--last", type=int, default=0)
    ap.add_argument("--boxes")
    args = ap.parse_args()
    frames = read_y4m(args.y4m)
    os.makedirs(args.out, exist_ok=True)
    boxes = ref_boxes(args.boxes) if args.boxes else {}
    last = args.last or len(frames)
    picks = list(range(args.first, last + 1, args.every))
    h, w = frames[0].shape
    for s in range(0, len(picks), args.per):
        group = picks[s:s + args.per]
        rows = (len(group) + args.cols - 1) // args.cols
        sheet = np.zeros((rows * (h + 4), args.cols * (w + 4), 3), np.uint8)
        for i, k in enumerate(group):
            img = np.repeat(frames[k - 1][:, :, None], 3, axis=2).astype(np.int32)
            if args.grid:
                for g in range(0, w, args.grid):
                    img[:, g] = img[:, g] * 0.6 + (100 if (g // args.grid) % 3 == 0 else 40)
                for g in range(0, h, args.grid):
                    img[g, :] = img[g, :] * 0.6 + (100 if (g // args.grid) % 3 == 0 else 40)
            img = np.clip(img, 0, 255).astype(np.uint8)
            for (x, y, bw, bh, oid) in boxes.get(k, []):
                col = COLORS[oid % len(COLORS)]
                rect(img, x, y, x + bw - 1, y + bh - 1, col)
                ty = y - 12 if y >= 12 else y + bh + 1
                img[max(0, ty - 1):ty + 11, x:x + 8 * len(str(oid)) + 2] = 0
                draw_text(img, x + 1, ty, str(oid), col, 2)
            img[0:14, 0:4 * 2 * len(str(k)) + 4] = 0
            draw_text(img, 2, 2, str(k), (255, 255, 0))
            r, c = divmod(i, args.cols)
            sheet[r * (h + 4):r * (h + 4) + h, c * (w + 4):c * (w + 4) + w] = img
        write_png(os.path.join(args.out, "strip_%04d.png" % group[0]), sheet)
        print(os.path.join(args.out, "strip_%04d.png" % group[0]), group)


if __name__ == "__main__":
    main()
