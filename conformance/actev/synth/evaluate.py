#!/usr/bin/env python3
"""Score arganalyze on the synthetic clips with the in-tree ActEV scorer.

    evaluate.py --arganalyze build/tools/arganalyze --clips DIR --work WORK
                [--floor-walks-pmiss X] [--json OUT]

DIR holds NAME.mkv streams, reference.json, file-index.json and
activity-index.json (make_clips.py, then argenc). Runs arganalyze on every
stream (with --proposals), merges the outputs into one system output,
scores it, and prints per activity nAUDC@0.2tfa and Pmiss@0.04tfa, the
means, and the proposal lower bound: the share of reference instances that
at least one kept cube proposal covers (same file, temporal overlap enough
for the scorer's eligibility rule, and a box overlapping the reference
object's boxes is not required: the references carry none).
"""

import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import actev_score  # noqa: E402


def overlap(a0, a1, b0, b1):
    return max(0, min(a1, b1) - max(a0, b0))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arganalyze", required=True)
    ap.add_argument("--clips", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--json", help="write the figures as JSON")
    ap.add_argument("--reference", help="reference JSON (default: CLIPS/reference.json)")
    ap.add_argument("--file-index", help="default: CLIPS/file-index.json")
    ap.add_argument("--activity-index", help="default: CLIPS/activity-index.json")
    ap.add_argument("--max-mean-nAUDC", type=float,
                    help="fail when mean nAUDC@0.2tfa is above this")
    ap.add_argument("--min-lower-bound", type=float,
                    help="fail when the proposal lower bound is below this")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    args.reference = args.reference or os.path.join(args.clips, "reference.json")
    args.file_index = args.file_index or os.path.join(args.clips, "file-index.json")
    args.activity_index = args.activity_index or os.path.join(args.clips, "activity-index.json")
    fi = json.load(open(args.file_index))
    ref = json.load(open(args.reference))
    merged = {"filesProcessed": [], "activities": [],
              "processingReport": {"fileStatuses": {}, "siteSpecific": {}}}
    proposals = {}
    pictures = secs = 0.0
    for video in fi:
        stem = os.path.splitext(video)[0]
        out = os.path.join(args.work, stem + ".json")
        props = os.path.join(args.work, stem + "-proposals.json")
        stats = os.path.join(args.work, stem + "-stats.json")
        subprocess.run([args.arganalyze, "-i", os.path.join(args.clips, video), "-o", out,
                        "--name", video, "--proposals", props, "--stats", stats, "-y", "-q"],
                       check=True)
        d = json.load(open(out))
        st = json.load(open(stats))
        pictures += st["pictures"]
        secs += st["seconds"]
        merged["filesProcessed"] += d["filesProcessed"]
        merged["processingReport"]["fileStatuses"].update(d["processingReport"]["fileStatuses"])
        for a in d["activities"]:
            a = dict(a)
            a["activityID"] = len(merged["activities"]) + 1
            merged["activities"].append(a)
        proposals[video] = [p for p in json.load(open(props))["proposals"] if p["kept"]]
    sysout = os.path.join(args.work, "sysout.json")
    json.dump(merged, open(sysout, "w"), indent=1)
    outdir = os.path.join(args.work, "scores")
    actev_score.main(["-q", "-s", sysout, "-r", args.reference, "-a", args.activity_index,
                      "-f", args.file_index, "-o", outdir])
    by = {}
    for line in open(os.path.join(outdir, "scores_by_activity.csv")).readlines()[1:]:
        a, m, v = line.rstrip("\n").split("|")
        by.setdefault(a, {})[m] = None if v == "None" else float(v)
    agg = {}
    for line in open(os.path.join(outdir, "scores_aggregated.csv")).readlines()[1:]:
        m, v = line.rstrip("\n").split("|")
        agg[m] = None if v == "None" else float(v)

    # proposal lower bound
    fps = list(fi.values())[0]["framerate"]
    covered = {}
    for r in ref["activities"]:
        video = next(iter(r["localization"]))
        fr = {int(k): v for k, v in r["localization"][video].items()}
        r0 = min(k for k, v in fr.items() if v == 1)
        r1 = max(k for k, v in fr.items() if v == 0)
        need = fps if r1 - r0 >= fps else 0.5 * (r1 - r0)
        hit = any(overlap(r0, r1, p["first"], p["end"]) >= need for p in proposals[video])
        c = covered.setdefault(r["activity"], [0, 0])
        c[0] += hit
        c[1] += 1
    n_cov = sum(c[0] for c in covered.values())
    n_ref = sum(c[1] for c in covered.values())
    n_sys = {}
    for a in merged["activities"]:
        n_sys[a["activity"]] = n_sys.get(a["activity"], 0) + 1

    print("%-22s %5s %5s %12s %14s %12s %9s" % ("activity", "refs", "sys", "nAUDC@0.2tfa",
                                                "Pmiss@0.04tfa", "nAUDC@0.2rfa", "proposal"))
    result = {"activities": {}}
    for a in sorted(by):
        m = by[a]
        print("%-22s %5d %5d %12.4f %14.4f %12.4f %5d/%-3d" % (
            a, covered.get(a, [0, 0])[1], n_sys.get(a, 0), m["nAUDC@0.2tfa"],
            m["p_miss@0.04tfa"], m["nAUDC@0.2rfa"], covered.get(a, [0, 0])[0],
            covered.get(a, [0, 0])[1]))
        result["activities"][a] = {"refs": covered.get(a, [0, 0])[1], "sys": n_sys.get(a, 0),
                                   "nAUDC@0.2tfa": m["nAUDC@0.2tfa"],
                                   "p_miss@0.04tfa": m["p_miss@0.04tfa"],
                                   "nAUDC@0.2rfa": m["nAUDC@0.2rfa"],
                                   "proposal_covered": covered.get(a, [0, 0])[0]}
    lb = float(n_cov) / n_ref if n_ref else 0.0
    print("%-22s %5d %5d %12.4f %14.4f %12.4f %5d/%-3d" % (
        "mean", n_ref, len(merged["activities"]), agg["mean-nAUDC@0.2tfa"],
        agg["mean-p_miss@0.04tfa"], agg["mean-nAUDC@0.2rfa"], n_cov, n_ref))
    print("proposal lower bound (references covered by a kept proposal): %.3f" % lb)
    print("mean nAUDC@0.2rfa %.4f; analysis speed %.0f pictures/s (%.0fx real time at %g fps)"
          % (agg["mean-nAUDC@0.2rfa"], pictures / secs if secs else 0,
             pictures / secs / fps if secs else 0, fps))
    result.update({"mean_nAUDC@0.2tfa": agg["mean-nAUDC@0.2tfa"],
                   "mean_p_miss@0.04tfa": agg["mean-p_miss@0.04tfa"],
                   "mean_nAUDC@0.2rfa": agg["mean-nAUDC@0.2rfa"],
                   "proposal_lower_bound": lb})
    if args.json:
        json.dump(result, open(args.json, "w"), indent=1)
    bad = False
    if args.max_mean_nAUDC is not None and agg["mean-nAUDC@0.2tfa"] > args.max_mean_nAUDC:
        print("FAIL: mean nAUDC@0.2tfa %.4f above %.4f" % (agg["mean-nAUDC@0.2tfa"],
                                                          args.max_mean_nAUDC))
        bad = True
    if args.min_lower_bound is not None and lb < args.min_lower_bound:
        print("FAIL: proposal lower bound %.3f below %.3f" % (lb, args.min_lower_bound))
        bad = True
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
