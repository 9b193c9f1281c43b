#!/usr/bin/env python3
"""Box proposals for annotating vtest by hand (pixel space, never used by
arganalyze): the median of every 8th picture as background, |luma - bg| > 28,
a closing, connected components of at least 60 pixels, greedy IoU/centre
tracking every 4th picture. Writes a JSON of candidate tracks
{id: {frame: [x, y, w, h]}} (1-based frames) that the annotator then checks,
joins, splits and labels by looking at strips (strips.py --boxes)."""
import argparse
import json

import numpy as np
from scipy import ndimage

import strips


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--y4m", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--step", type=int, default=4)
    args = ap.parse_args()
    frames = strips.read_y4m(args.y4m)
    bg = np.median(np.stack(frames[::8]).astype(np.int16), axis=0)
    tracks = {}
    live = {}
    nid = 0
    for k in range(0, len(frames), args.step):
        m = np.abs(frames[k].astype(np.int16) - bg) > 28
        m = ndimage.binary_closing(m, np.ones((5, 3), bool))
        m = ndimage.binary_opening(m, np.ones((2, 2), bool))
        lab, n = ndimage.label(m)
        boxes = []
        for sl in ndimage.find_objects(lab):
            y0, y1, x0, x1 = sl[0].start, sl[0].stop, sl[1].start, sl[1].stop
            if (y1 - y0) * (x1 - x0) < 60 or (y1 - y0) < 8:
                continue
            boxes.append([x0, y0, x1 - x0, y1 - y0])
        used = set()
        new_live = {}
        for tid, b in sorted(live.items(), key=lambda t: -t[1][2] * t[1][3]):
            best, bd = None, 1e9
            for i, c in enumerate(boxes):
                if i in used:
                    continue
                d = np.hypot(b[0] + b[2] / 2 - c[0] - c[2] / 2, b[1] + b[3] / 2 - c[1] - c[3] / 2)
                if d < bd and d < 0.8 * max(b[3], 12):
                    best, bd = i, d
            if best is not None:
                used.add(best)
                new_live[tid] = boxes[best]
                tracks[tid][k + 1] = boxes[best]
        for i, c in enumerate(boxes):
            if i not in used:
                nid += 1
                new_live[nid] = c
                tracks[nid] = {k + 1: c}
        live = new_live
    tracks = {t: v for t, v in tracks.items() if len(v) >= 3}
    json.dump({str(t): {str(f): b for f, b in v.items()} for t, v in tracks.items()},
              open(args.out, "w"), indent=0)
    for t, v in tracks.items():
        fs = sorted(v)
        print(t, fs[0], fs[-1], v[fs[0]], v[fs[-1]])


if __name__ == "__main__":
    main()
