#!/usr/bin/env python3
"""Synthetic activity clips with exact labels, for evaluating arganalyze.

Each clip is 320x240 at 10 pictures/s: a real background (vtest.avi's first
picture, cropped) with faint per-picture noise, and moving rectangular
patches cut from real footage (cup.y4m, box.y4m) whose piecewise-linear
trajectories define the ActEV references exactly (rules in README.md).

    make_clips.py --data /work/data --out DIR

writes DIR/NAME.y4m for every clip, DIR/reference.json, DIR/file-index.json
and DIR/activity-index.json. Plain Python 3.
"""

import argparse
import json
import os
import random

W, H, FPS = 320, 240, 10
PERSON = (16, 40)        # patch w, h (pixels)
VEHICLE = (56, 28)

# name: duration (s), objects: (kind, patch source (file, x, y), keyframes
# [(t s, x, y)]) -- x, y the patch's top-left; held before the first and
# after the last keyframe; the object exists only between first and last.
CLIPS = {
    "synth_walkers": (16, [
        ("person", ("cup", 150, 90), [(1.0, -16, 60), (11.0, 320, 60)]),
        ("person", ("box", 200, 100), [(2.0, 150, 240), (4.5, 150, 150), (10.5, 150, 150),
                                       (15.5, 320, 150)]),
    ]),
    "synth_crossing": (16, [
        ("person", ("box", 60, 40), [(0.5, 320, 40), (10.5, -16, 100)]),
        ("person", ("cup", 40, 150), [(3.0, 60, 240), (6.0, 60, 150), (13.0, 60, 150)]),
        ("person", ("cup", 220, 40), [(5.0, -16, 170), (14.0, 250, 170), (15.9, 250, 170)]),
    ]),
    "synth_vehicles": (16, [
        ("vehicle", ("box", 100, 120), [(0.5, -56, 30), (6.5, 320, 30)]),
        ("vehicle", ("cup", 120, 160), [(0.0, 40, 150), (5.0, 40, 150), (12.0, 320, 150)]),
        ("vehicle", ("box", 10, 180), [(7.0, 320, 90), (11.0, 150, 90), (15.9, 150, 90)]),
    ]),
    "synth_turns": (16, [
        ("vehicle", ("cup", 200, 20), [(0.5, -56, 170), (5.0, 150, 170), (9.0, 150, -28)]),
        ("vehicle", ("box", 240, 170), [(7.0, -56, 40), (11.0, 130, 40), (15.5, 130, 240)]),
    ]),
}


def read_y4m_frame(path, index):
    with open(path, "rb") as fp:
        header = fp.readline().split()
        w = int([x for x in header if x.startswith(b"W")][0][1:])
        h = int([x for x in header if x.startswith(b"H")][0][1:])
        size = w * h * 3 // 2
        for _ in range(index):
            fp.readline()
            fp.seek(size, 1)
        fp.readline()
        data = fp.read(size)
    y = [bytearray(data[r * w:(r + 1) * w]) for r in range(h)]
    cw, ch = w // 2, h // 2
    u = [bytearray(data[w * h + r * cw:w * h + (r + 1) * cw]) for r in range(ch)]
    v = [bytearray(data[w * h + cw * ch + r * cw:w * h + cw * ch + (r + 1) * cw]) for r in range(ch)]
    return w, h, y, u, v


def crop(planes, x, y, w, h):
    _, _, py, pu, pv = planes
    return ([row[x:x + w] for row in py[y:y + h]],
            [row[x // 2:(x + w) // 2] for row in pu[y // 2:(y + h) // 2]],
            [row[x // 2:(x + w) // 2] for row in pv[y // 2:(y + h) // 2]])


def position(keys, t):
    """Patch top-left at time t, or None when the object does not exist."""
    if t < keys[0][0] or t > keys[-1][0]:
        return None
    for (t0, x0, y0), (t1, x1, y1) in zip(keys, keys[1:]):
        if t0 <= t <= t1:
            a = (t - t0) / (t1 - t0) if t1 > t0 else 0.0
            return (x0 + a * (x1 - x0), y0 + a * (y1 - y0))
    return (keys[-1][1], keys[-1][2])


def visible(kind, p):
    w, h = PERSON if kind == "person" else VEHICLE
    return p is not None and p[0] < W and p[1] < H and p[0] + w > 0 and p[1] + h > 0


def inside(kind, p):
    w, h = PERSON if kind == "person" else VEHICLE
    return p is not None and p[0] >= 0 and p[1] >= 0 and p[0] + w <= W and p[1] + h <= H


def spans(frames):
    """Runs of consecutive frame numbers -> [(first, end)) pairs."""
    out = []
    for f in sorted(frames):
        if out and out[-1][1] == f:
            out[-1][1] = f + 1
        else:
            out.append([f, f + 1])
    return [tuple(s) for s in out]


def labels(kind, keys, n):
    """ActEV references of one object (0-based pictures, [first, end))."""
    pos = [position(keys, i / FPS) for i in range(n)]
    vis = [i for i in range(n) if visible(kind, pos[i])]
    moving = set()
    for i in vis:
        a = position(keys, max(i - 1, 0) / FPS) or pos[i]
        b = position(keys, min(i + 1, n - 1) / FPS) or pos[i]
        if abs(b[0] - a[0]) + abs(b[1] - a[1]) > 0.5:
            moving.add(i)
    acts = []
    clip = lambda a, b: (max(a, vis[0]), min(b, vis[-1] + 1))
    if kind == "person":
        for s in spans(moving):
            acts.append(("person_walks", s))
        for s in spans(set(vis) - moving):
            if s[1] - s[0] >= FPS:
                acts.append(("person_stands", s))
        if vis[0] > 0 and not inside(kind, pos[vis[0]]):
            end = next((i for i in vis if inside(kind, pos[i])), vis[-1] + 1)
            acts.append(("person_enters_scene", (vis[0], end)))
        if vis[-1] < n - 1 and not inside(kind, pos[vis[-1]]):
            start = max(i for i in vis if inside(kind, pos[i])) + 1
            acts.append(("person_exits_scene", (start, vis[-1] + 1)))
    else:
        for s in spans(moving):
            acts.append(("vehicle_moves", s))
            if s[0] > vis[0]:
                acts.append(("vehicle_starts", clip(s[0] - FPS, s[0] + 2 * FPS)))
            if s[1] < vis[-1] + 1:
                acts.append(("vehicle_stops", clip(s[1] - 2 * FPS, s[1] + FPS)))
        # turns: a change of heading at an inner keyframe while moving
        for (ta, xa, ya), (tb, xb, yb), (tc, xc, yc) in zip(keys, keys[1:], keys[2:]):
            u = (xb - xa, yb - ya)
            v = (xc - xb, yc - yb)
            if u == (0, 0) or v == (0, 0):
                continue
            cross = u[0] * v[1] - u[1] * v[0]
            if abs(cross) < 1e-9:
                continue
            # y down: a negative cross product turns counter-clockwise on the
            # screen, called left (as arganalyze does)
            name = "vehicle_turns_left" if cross < 0 else "vehicle_turns_right"
            f = int(round(tb * FPS))
            acts.append((name, clip(f - FPS, f + FPS)))
    return acts


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True, help="folder with vtest.y4m, cup.y4m, box.y4m")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = random.Random(14)
    bg = read_y4m_frame(os.path.join(args.data, "vtest.y4m"), 0)
    by, bu, bv = crop(bg, 32, 24, W, H)
    sources = {"cup": read_y4m_frame(os.path.join(args.data, "cup.y4m"), 100),
               "box": read_y4m_frame(os.path.join(args.data, "box.y4m"), 200)}
    # a few noisy versions of the background luma, cycled
    noisy = []
    for k in range(4):
        lut = [bytes(min(255, max(0, v + d)) for v in range(256)) for d in (-2, -1, 0, 1, 2)]
        noisy.append([bytes(row).translate(lut[rng.randrange(5)]) for row in by])
    refs = []
    file_index = {}
    for name, (dur, objects) in CLIPS.items():
        n = int(dur * FPS)
        patches = []
        for kind, (src, sx, sy), keys in objects:
            pw, ph = PERSON if kind == "person" else VEHICLE
            patches.append(crop(sources[src], sx, sy, pw, ph))
        with open(os.path.join(args.out, name + ".y4m"), "wb") as fp:
            fp.write(b"YUV4MPEG2 W%d H%d F%d:1 Ip A1:1 C420jpeg XCOLORRANGE=LIMITED\n" % (W, H, FPS))
            for i in range(n):
                y = [bytearray(r) for r in noisy[i % 4]]
                u = [bytearray(r) for r in bu]
                v = [bytearray(r) for r in bv]
                for (kind, _, keys), (py, pu, pv) in zip(objects, patches):
                    p = position(keys, i / FPS)
                    if not visible(kind, p):
                        continue
                    x0, y0 = int(round(p[0])) & ~1, int(round(p[1])) & ~1
                    for r, row in enumerate(py):
                        yy = y0 + r
                        if 0 <= yy < H:
                            for c, val in enumerate(row):
                                if 0 <= x0 + c < W:
                                    y[yy][x0 + c] = val
                    for r in range(len(pu)):
                        yy = y0 // 2 + r
                        if 0 <= yy < H // 2:
                            for c in range(len(pu[r])):
                                xx = x0 // 2 + c
                                if 0 <= xx < W // 2:
                                    u[yy][xx] = pu[r][c]
                                    v[yy][xx] = pv[r][c]
                fp.write(b"FRAME\n")
                for plane in (y, u, v):
                    for row in plane:
                        fp.write(row)
        video = name + ".mkv"
        file_index[video] = {"framerate": float(FPS), "selected": {"1": 1, str(n + 1): 0}}
        for oid, (kind, _, keys) in enumerate(objects, 1):
            for act, (a, b) in labels(kind, keys, n):
                if b <= a:
                    continue
                refs.append({"activity": act, "activityID": len(refs) + 1,
                             "localization": {video: {str(a + 1): 1, str(b + 1): 0}},
                             "objects": [{"objectType": kind.capitalize(), "objectID": oid}]})
    acts = sorted({r["activity"] for r in refs})
    with open(os.path.join(args.out, "reference.json"), "w") as fp:
        json.dump({"filesProcessed": list(file_index), "activities": refs}, fp, indent=1)
    with open(os.path.join(args.out, "file-index.json"), "w") as fp:
        json.dump(file_index, fp, indent=1)
    with open(os.path.join(args.out, "activity-index.json"), "w") as fp:
        json.dump({a: {"objectTypes": []} for a in acts}, fp, indent=1)
    counts = {}
    for r in refs:
        counts[r["activity"]] = counts.get(r["activity"], 0) + 1
    print("clips: %d, references: %d %s" % (len(CLIPS), len(refs), counts))


if __name__ == "__main__":
    main()
