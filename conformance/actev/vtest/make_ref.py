#!/usr/bin/env python3
"""vtest_ref.json from the checked candidate tracks (ANNOTATION.md).

    make_ref.py --proposals P.json --out vtest_ref.json [--fixes fixes.json]

P.json: propose.py's candidate tracks. fixes.json: the annotator's decisions
after looking at the strips: "drop" (ids that are not persons), "join"
(lists of ids that are one person), "split" ({id: frame}: from that frame on
it is someone else). Tracks are then joined automatically where one ends
and another starts within 12 pictures close to where the first was heading,
and the activities follow from the boxes by the rules of ANNOTATION.md.
"""
import argparse
import json

W, H, FPS, N = 384, 288, 10, 795
EDGE = 4          # px: a box this close to the picture's edge touches it
STEP = 4          # pictures between proposal boxes


def load(path, fixes):
    p = {int(t): {int(f): b for f, b in v.items()} for t, v in json.load(open(path)).items()}
    for t, f0 in fixes.get("split", {}).items():
        t, f0 = int(t), int(f0)
        nid = max(p) + 1
        p[nid] = {f: b for f, b in p[t].items() if f >= f0}
        p[t] = {f: b for f, b in p[t].items() if f < f0}
    for t in fixes.get("drop", []):
        p.pop(int(t), None)
    for group in fixes.get("join", []):
        group = [int(g) for g in group if int(g) in p]
        for g in group[1:]:
            p[group[0]].update(p.pop(g))
    return p


def centre(b):
    return b[0] + b[2] / 2.0, b[1] + b[3] / 2.0


def auto_join(p):
    changed = True
    while changed:
        changed = False
        ends = sorted(p, key=lambda t: max(p[t]))
        best = None
        for a in ends:
            fa = max(p[a])
            for b in p:
                if b == a:
                    continue
                fb = min(p[b])
                gap = fb - fa
                if gap < 0 or gap > 12:
                    continue
                ca, cb = centre(p[a][fa]), centre(p[b][fb])
                d = ((ca[0] - cb[0]) ** 2 + (ca[1] - cb[1]) ** 2) ** 0.5
                hb = max(p[a][fa][3], p[b][fb][3])
                if d <= 0.5 * hb + gap and (best is None or d < best[0]):
                    best = (d, a, b)
        if best:
            _, a, b = best
            pb = p.pop(b)
            p[a] = {f: v for f, v in p[a].items() if f < min(pb)}
            p[a].update(pb)
            changed = True
    return p


def touches(b):
    return b[0] <= EDGE or b[1] <= EDGE or b[0] + b[2] >= W - EDGE or b[1] + b[3] >= H - EDGE


def runs(flags, frames):
    out, start = [], None
    for f, on in zip(frames, flags):
        if on and start is None:
            start = f
        if not on and start is not None:
            out.append((start, f))
            start = None
    if start is not None:
        out.append((start, frames[-1] + STEP))
    return out


def activities(t, boxes):
    fs = sorted(boxes)
    first, last = fs[0], min(fs[-1] + STEP, N + 1)
    acts = []
    # speed in object heights per second over +-8 pictures
    speed = []
    for i, f in enumerate(fs):
        a, b = fs[max(0, i - 2)], fs[min(len(fs) - 1, i + 2)]
        if b == a:
            speed.append(0.0)
            continue
        ca, cb = centre(boxes[a]), centre(boxes[b])
        h = sum(boxes[k][3] for k in (a, b)) / 2.0
        speed.append(((ca[0] - cb[0]) ** 2 + (ca[1] - cb[1]) ** 2) ** 0.5 / h / ((b - a) / FPS))
    moving = [s >= 0.15 for s in speed]
    # standing: slower than 0.08 heights/s for at least 2 s; walking: the rest
    # of the visible span, split where the person stands
    stands = [r for r in runs([s < 0.08 for s in speed], fs) if r[1] - r[0] >= 2 * FPS]
    still = set()
    for r in stands:
        acts.append(("person_stands", r[0], r[1]))
        still.update(range(r[0], r[1]))
    walk = [f not in still and m for f, m in zip(fs, moving)]
    # a walk may pause for less than 2 s
    for r in runs(walk, fs):
        if r[1] - r[0] >= FPS:
            acts.append(("person_walks", r[0], min(r[1], last)))
    # merge walks separated by short pauses
    w = sorted(a for a in acts if a[0] == "person_walks")
    merged = []
    for a in w:
        if merged and a[1] - merged[-1][2] < 2 * FPS and not any(
                s[1] >= merged[-1][2] and s[2] <= a[1] for s in acts if s[0] == "person_stands"):
            merged[-1] = ("person_walks", merged[-1][1], a[2])
        else:
            merged.append(a)
    acts = [a for a in acts if a[0] != "person_walks"] + merged
    # enters: born touching the edge after the first picture, until fully inside
    if first > 1 and touches(boxes[first]):
        k = next((f for f in fs if not touches(boxes[f])), last)
        acts.append(("person_enters_scene", first, max(k, first + FPS)))
    # exits: ends touching the edge before the end, from the last fully inside
    if last <= N - STEP and touches(boxes[fs[-1]]):
        k = next((f for f in reversed(fs) if not touches(boxes[f])), first)
        acts.append(("person_exits_scene", min(k + STEP, last - FPS), last))
    return acts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--proposals", required=True)
    ap.add_argument("--fixes")
    ap.add_argument("--out", required=True)
    ap.add_argument("--every", type=int, default=16, help="keyframe boxes every N pictures")
    args = ap.parse_args()
    fixes = json.load(open(args.fixes)) if args.fixes else {}
    p = auto_join(load(args.proposals, fixes))
    # persons: at least 1.2 s visible; not a small thing that does not move
    # (flicker on the sign at the lamp post, the bins at the kerb)
    def person(v):
        fs = sorted(v)
        hs = sorted(b[3] for b in v.values())
        ca, cb = centre(v[fs[0]]), centre(v[fs[-1]])
        moved = ((ca[0] - cb[0]) ** 2 + (ca[1] - cb[1]) ** 2) ** 0.5
        return fs[-1] - fs[0] >= 1.2 * FPS and (hs[len(hs) // 2] >= 20 or moved >= 10)
    p = {t: v for t, v in p.items() if person(v)}
    ids = {t: i + 1 for i, t in enumerate(sorted(p, key=lambda t: (min(p[t]), t)))}
    out = {"filesProcessed": ["vtest.mkv"], "activities": [], "objects_index": {}}
    n = 0
    for t in sorted(p, key=lambda t: ids[t]):
        boxes = p[t]
        fs = sorted(boxes)
        for name, a, b in sorted(activities(t, boxes), key=lambda a: (a[1], a[0])):
            n += 1
            loc = {}
            inside = [f for f in fs if a <= f < b]
            keys = [f for f in inside if (f - inside[0]) % args.every == 0] if inside else []
            for f in keys:
                x, y, w, h = boxes[f]
                loc[str(f)] = {"boundingBox": {"x": x, "y": y, "w": w, "h": h}}
            loc[str(b)] = {}
            out["activities"].append({
                "activity": name, "activityID": n,
                "localization": {"vtest.mkv": {str(a): 1, str(b): 0}},
                "objects": [{"objectType": "Person", "objectID": ids[t],
                             "localization": {"vtest.mkv": loc}}]})
    del out["objects_index"]
    json.dump(out, open(args.out, "w"), indent=1)
    count = {}
    for a in out["activities"]:
        count[a["activity"]] = count.get(a["activity"], 0) + 1
    print(len(ids), "persons;", count)


if __name__ == "__main__":
    main()
