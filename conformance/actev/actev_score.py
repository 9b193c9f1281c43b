#!/usr/bin/env python3
"""ARG's ActEV SDL v2 activity-detection scorer (plain Python 3, no packages).

Computes what NIST's ActEV_Scorer (protocol ActEV_SDL_V2, default options)
computes for activity detection, written from its documented definitions and
checked against its expected outputs (conformance/actev/test_scorer.py):

  * instances not wholly inside the file index's selected frames are dropped,
    and activities without reference instances are left out of the index;
  * per activity and per file, a one-to-one alignment that maximises the sum
    of kernel similarities (1 + presence-confidence congruence, the
    confidence rescaled to [0, 1] over all system instances); a pair is
    eligible when the temporal overlap is at least one second (frame rate
    frames), or, for a reference shorter than one second, at least half of
    the reference;
  * a sweep over the distinct presence confidences (high to low) giving one
    DET point per confidence: Pmiss, RFA (false alarms per minute of selected
    video), TFA (the system's summed temporal signal beyond the summed
    reference signal, over the non-reference time of each file), w_p_miss,
    n-MIDE;
  * Pmiss@X (and w_p_miss, n-MIDE) read off the DET curve at X with linear
    interpolation; AUDC@T the trapezoid area under Pmiss from FA 0 to T,
    nAUDC@T = AUDC@T / T.

Writes scores_aggregated.csv, scores_by_activity.csv and alignment.csv
(pipe-separated, rows sorted) in the official layout.

    actev_score.py -s SYSOUT.json -r REF.json -a ACTIVITY_INDEX.json \
        -f FILE_INDEX.json -o OUTDIR
"""

import argparse
import json
import os
import sys

FA_TARGETS = [1, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.55, 0.50, 0.45,
              0.4, 0.35, 0.3, 0.25, 0.2, 0.15, 0.1, 0.05, 0.04, 0.03, 0.02, 0.01]
AUDC_TARGETS = sorted([1] + [x / 100 for x in range(95, 1, -5)] +
                      [0.04, 0.03, 0.02, 0.01])
WPMISS_NUMER, WPMISS_DENOM = 8, 10
OVERLAP_DELTA = 0.5
EPSILON_CONGRUENCE = 1.0


# ---------------------------------------------------------------------------
# Step signals: {frame: value}, the value holding from that frame up to the
# next key; a signal is 0 before its first key.

def sig_join(a, b, op):
    """Combine two step signals point-wise; keep only the changes."""
    out = {}
    va = vb = 0
    last = 0
    for k in sorted(set(a) | set(b)):
        va = a.get(k, va)
        vb = b.get(k, vb)
        v = op(va, vb)
        if v != last:
            out[k] = v
            last = v
    return out


def sig_add(a, b):
    return sig_join(a, b, lambda x, y: x + y)


def sig_and(a, b):
    return sig_join(a, b, min)


def sig_or(a, b):
    return sig_join(a, b, max)


def sig_sub(a, b):
    return sig_join(a, b, lambda x, y: x - min(x, y))


def sig_area(s):
    area = 0
    last_k = last_v = None
    for k in sorted(s):
        if last_k is not None:
            area += (k - last_k) * last_v
        last_k, last_v = k, s[k]
    return area


def sig_complement(s, n_frames):
    """The non-reference time of a file, as the official scorer builds it:
    the complement of s over [0, n_frames), where n_frames is the number of
    selected frames of the file (not its last frame)."""
    if not s:
        return {0: 1, n_frames: 0}
    out = {}
    inside = False   # inside a stretch of s
    gap = False      # in a gap of s after its first stretch
    keys = sorted(s)
    first = keys[0]
    if first != 0:
        out[0] = 1
        out[first] = 0
    inside = True
    for k in keys[1:]:
        v = s[k]
        if v != 0 and inside and not gap:
            continue
        if v == 0 and inside:
            gap = True
            out[k] = 1
        if v != 0 and gap and inside:
            gap = False
            out[k] = 0
    if gap:
        out[n_frames] = 0
    return out


# ---------------------------------------------------------------------------
# Minimum-cost assignment: the classic Munkres procedure (star, cover, prime,
# augment, adjust). Equal-cost optima are common here (the similarity depends
# on the system instance only), so the scan orders matter: they follow those
# of the implementation the official scorer uses (the `munkres` package,
# 1.0.12), which makes tied alignments resolve the same way. In particular
# the search for an uncovered zero resumes at the last row and column found,
# wraps around, and returns the last uncovered zero of the first row that
# has one.

def min_cost_assignment(cost):
    """cost: list of equal-length rows. Returns the sorted (row, col) pairs
    of a minimum-cost assignment (the matrix is padded square with zeros)."""
    n_rows = len(cost)
    if n_rows == 0 or not cost[0]:
        return []
    n_cols = len(cost[0])
    n = max(n_rows, n_cols)
    c = [list(r) + [0] * (n - n_cols) for r in cost]
    c += [[0] * n for _ in range(n - n_rows)]
    STAR, PRIME = 1, 2
    mark = [[0] * n for _ in range(n)]
    row_cov = [False] * n
    col_cov = [False] * n

    def uncover_all():
        for k in range(n):
            row_cov[k] = col_cov[k] = False

    def find_zero(i0, j0):
        i = i0
        while True:
            hit = None
            j = j0
            while True:
                if c[i][j] == 0 and not row_cov[i] and not col_cov[j]:
                    hit = (i, j)
                j = (j + 1) % n
                if j == j0:
                    break
            if hit:
                return hit
            i = (i + 1) % n
            if i == i0:
                return None

    def in_row(i, m):
        for j in range(n):
            if mark[i][j] == m:
                return j
        return -1

    def in_col(j, m):
        for i in range(n):
            if mark[i][j] == m:
                return i
        return -1

    for i in range(n):                      # reduce rows
        lo = min(c[i])
        for j in range(n):
            c[i][j] -= lo
    for i in range(n):                      # initial stars
        for j in range(n):
            if c[i][j] == 0 and not row_cov[i] and not col_cov[j]:
                mark[i][j] = STAR
                row_cov[i] = col_cov[j] = True
                break
    uncover_all()
    while True:
        covered = 0                         # cover starred columns
        for i in range(n):
            for j in range(n):
                if mark[i][j] == STAR and not col_cov[j]:
                    col_cov[j] = True
                    covered += 1
        if covered >= n:
            break
        r = k = 0
        while True:                         # prime zeros until a path ends
            z = find_zero(r, k)
            if z is None:                   # adjust the matrix
                lo = None
                for i in range(n):
                    for j in range(n):
                        if not row_cov[i] and not col_cov[j] and (
                                lo is None or lo > c[i][j]):
                            lo = c[i][j]
                for i in range(n):
                    for j in range(n):
                        if row_cov[i]:
                            c[i][j] += lo
                        if not col_cov[j]:
                            c[i][j] -= lo
                r = k = 0
                continue
            r, k = z
            mark[r][k] = PRIME
            s = in_row(r, STAR)
            if s >= 0:
                k = s
                row_cov[r] = True
                col_cov[k] = False
                continue
            path = [(r, k)]                 # augment along the path
            while True:
                i = in_col(path[-1][1], STAR)
                if i < 0:
                    break
                path.append((i, path[-1][1]))
                path.append((i, in_row(i, PRIME)))
            for i, j in path:
                mark[i][j] = 0 if mark[i][j] == STAR else STAR
            uncover_all()
            for i in range(n):
                for j in range(n):
                    if mark[i][j] == PRIME:
                        mark[i][j] = 0
            break
    return [(i, j) for i in range(n_rows) for j in range(n_cols)
            if mark[i][j] == STAR]


# ---------------------------------------------------------------------------
# Inputs

class Instance:
    def __init__(self, d):
        self.activity = d["activity"]
        self.id = d["activityID"]
        self.conf = d.get("presenceConf")
        loc = d["localization"]
        self.loc = {f: {int(k): v for k, v in fr.items()} for f, fr in loc.items()}
        self.file = next(iter(self.loc))
        self.sig = self.loc[self.file]


def load_json(path):
    with open(path, encoding="utf-8") as fp:
        return json.load(fp)


def parse_instances(doc, file_index):
    """Instances whose localisation lies inside the selected frames."""
    out = []
    for d in doc.get("activities", []):
        inst = Instance(d)
        if inst.file not in file_index:
            raise KeyError("instance %r localised in %r, which is not in the "
                           "file index" % (inst.id, inst.file))
        sel = {int(k): v for k, v in file_index[inst.file]["selected"].items()}
        if sig_or(sel, inst.sig) == sel:
            out.append(inst)
    return out


def temporal_intersection(r, s):
    total = 0
    for f in set(r.loc) & set(s.loc):
        total += sig_area(sig_and(r.loc[f], s.loc[f]))
    return total


# ---------------------------------------------------------------------------
# Alignment

class Record:
    __slots__ = ("kind", "activity", "ref", "sys", "sim", "congruence", "file")

    def __init__(self, kind, activity, ref, sys_, sim=None, congruence=None):
        self.kind = kind
        self.activity = activity
        self.ref = ref
        self.sys = sys_
        self.sim = sim
        self.congruence = congruence
        self.file = (ref or sys_).file

    @property
    def conf(self):
        return None if self.sys is None else self.sys.conf


def build_congruence(all_sys):
    confs = [s.conf for s in all_sys]
    if len(confs) <= 1:
        return lambda s: 1.0
    lo = min(confs)
    span = max(confs) - lo
    if span == 0:
        return lambda s: 1.0
    return lambda s: float(s.conf - lo) / span


def align(activity, refs, syss, framerate, congruence):
    disallowed = object()
    sims = []
    comps = []
    max_sim = 0
    for s in syss:
        row, crow = [], []
        for r in refs:
            r_area = sig_area(r.sig)
            ti = temporal_intersection(r, s)
            if r_area < framerate:
                ok = (ti * 1.0) / r_area >= OVERLAP_DELTA
            else:
                ok = ti >= framerate
            if ok:
                c = congruence(s)
                sim = 1 + EPSILON_CONGRUENCE * c
                max_sim = max(max_sim, sim)
                row.append(sim)
                crow.append(c)
            else:
                row.append(disallowed)
                crow.append(None)
        sims.append(row)
        comps.append(crow)
    cost = [[max_sim + 1 if x is disallowed else (max_sim + 1) - x for x in row]
            for row in sims]
    recs = []
    ref_left = set(range(len(refs)))
    sys_left = set(range(len(syss)))
    if syss and refs:
        for si, ri in min_cost_assignment(cost):
            if sims[si][ri] is disallowed:
                continue
            ref_left.discard(ri)
            sys_left.discard(si)
            recs.append(Record("CD", activity, refs[ri], syss[si],
                               sims[si][ri], comps[si][ri]))
    for ri in sorted(ref_left):
        recs.append(Record("MD", activity, refs[ri], None))
    for si in sorted(sys_left):
        recs.append(Record("FA", activity, None, syss[si]))
    return recs


# ---------------------------------------------------------------------------
# Measures

def n_mide_pairs(pairs, frames_by_file):
    """Mean over aligned pairs of miss/ref + fa/non-ref time (no collar)."""
    if not pairs:
        return None, 0
    mides = []
    for r, s in pairs:
        miss = fa = miss_d = fa_d = 0
        for f in set(r.loc) | set(s.loc):
            rs, ss = r.loc.get(f, {}), s.loc.get(f, {})
            miss += sig_area(sig_sub(rs, ss))
            fa += sig_area(sig_sub(ss, rs))
            miss_d += sig_area(rs)
            fa_d += frames_by_file[f] - sig_area(rs)
        if miss_d > 0 and fa_d > 0:
            mides.append(float(miss) / miss_d + float(fa) / fa_d)
    if not mides:
        return None, len(pairs)
    total = 0.0
    for m in mides:
        total += m
    return total / len(mides), len(pairs) - len(mides)


def det_points(recs, minutes, frames_by_file):
    """One DET point per distinct confidence, from the highest down."""
    cds = [r for r in recs if r.kind == "CD"]
    mds = [r for r in recs if r.kind == "MD"]
    fas = [r for r in recs if r.kind == "FA"]
    n_ref = len(cds) + len(mds)
    ref_sum = {f: {} for f in frames_by_file}
    for r in cds + mds:
        ref_sum[r.file] = sig_add(ref_sum[r.file], r.ref.sig)
    non_ref = {f: sig_area(sig_complement(ref_sum[f], frames_by_file[f]))
               for f in frames_by_file}
    sys_sum = {f: {} for f in frames_by_file}
    pending_c = sorted(cds, key=lambda r: r.conf)
    pending_f = sorted(fas, key=lambda r: r.conf)
    cur_c = []
    n_fa = 0
    points = []
    for conf in sorted({r.conf for r in cds + fas}, reverse=True):
        while pending_c and pending_c[-1].conf >= conf:
            r = pending_c.pop()
            cur_c.append(r)
            sys_sum[r.file] = sig_add(sys_sum[r.file], r.sys.sig)
        while pending_f and pending_f[-1].conf >= conf:
            r = pending_f.pop()
            n_fa += 1
            sys_sum[r.file] = sig_add(sys_sum[r.file], r.sys.sig)
        n_miss = n_ref - len(cur_c)
        numer = denom = 0
        for f in frames_by_file:
            numer += sig_area(sig_sub(sys_sum[f], ref_sum[f]))
            denom += non_ref[f]
        nm, _ = n_mide_pairs([(r.ref, r.sys) for r in cur_c], frames_by_file)
        points.append((conf, {
            "rfa": float(n_fa) / minutes,
            "p_miss": None if n_ref == 0 else float(n_miss) / n_ref,
            "w_p_miss": None if n_ref == 0 else
            float(n_miss + WPMISS_NUMER) / (n_ref + WPMISS_DENOM),
            "n-mide": nm,
            "tfa": None if denom == 0 else float(numer) / denom,
        }))
    return points


def curve_at(points, x_key, y_key, targets, label, y_default=1.0):
    """y read off the DET curve at each x target: the lowest-confidence point
    at exactly x, else linear interpolation between the points around x."""
    name = lambda t: "{}@{}{}".format(y_key, t, label)
    if not points:
        return {name(t): y_default for t in targets}
    targs = sorted(targets, reverse=True)
    pts = sorted([(c, m[x_key], m[y_key]) for c, m in points],
                 key=lambda p: p[0])
    out = {}
    t = targs[-1]
    x = y = None
    last_x = last_y = None
    exact = False
    while True:
        if x is not None:
            if abs(x - t) < 1e-10:
                exact = True
            elif x > t:
                if last_y is None:
                    out[name(t)] = y_default
                elif exact:
                    out[name(t)] = last_y
                    exact = False
                else:
                    out[name(t)] = last_y + (y - last_y) * (
                        float(t - last_x) / (x - last_x))
                targs.pop()
                if not targs:
                    break
                t = targs[-1]
                continue
        last_x, last_y = x, y
        if pts:
            _, x, y = pts.pop()
        else:
            break
    for tt in targs:
        out[name(tt)] = y_default if y is None else y
    return out


def audc(pmiss, fa, t):
    """Area under Pmiss(FA) from FA = 0 (Pmiss = 1) to t, trapezoids."""
    area = 0.0
    px, py = 0, 1
    i = 0
    n = len(fa)
    if n:
        if pmiss[0] is None:
            return None
        while i < n:
            if t < fa[i]:
                break
            if fa[i] == 0:
                px, py = fa[i], pmiss[i]
                i += 1
                continue
            area += 0.5 * (py + pmiss[i]) * abs(fa[i] - px)
            px, py = fa[i], pmiss[i]
            i += 1
    if i != 0 and t == fa[i - 1]:
        return area
    if i >= n:
        return area + py * (t - px)
    m = (py - pmiss[i]) / (px - fa[i])
    b = py - m * px
    y = t * m + b
    return area + 0.5 * (py + y) * abs(t - px)


def mean_excluding_none(values):
    vals = [v for v in values if v is not None]
    if not vals:
        return None
    total = 0
    for v in vals:
        total += v
    return float(total) / len(vals)


# ---------------------------------------------------------------------------

def score(sysout, ref, activity_index, file_index):
    """Returns (by_activity rows, aggregated rows, alignment rows)."""
    frames_by_file = {f: sig_area({int(k): v for k, v in d["selected"].items()})
                      for f, d in file_index.items()}
    minutes = sum(float(n) / file_index[f]["framerate"]
                  for f, n in frames_by_file.items()) / 60.0
    framerate = [d["framerate"] for d in file_index.values()][0]

    syss = parse_instances(sysout, file_index)
    refs = parse_instances(ref, file_index)
    ref_acts = {r.activity for r in refs}
    activities = [a for a in activity_index if a in ref_acts]
    congruence = build_congruence(syss)

    by_act = {}
    for a in activities:
        ra = [r for r in refs if r.activity == a]
        sa = [s for s in syss if s.activity == a]
        recs = []
        files = []
        for x in ra + sa:
            if x.file not in files:
                files.append(x.file)
        for f in files:
            recs += align(a, [r for r in ra if r.file == f],
                          [s for s in sa if s.file == f], framerate, congruence)
        by_act[a] = recs

    rows = []
    for a in activities:
        recs = by_act[a]
        cds = [r for r in recs if r.kind == "CD"]
        nm, nrej = n_mide_pairs([(r.ref, r.sys) for r in cds], frames_by_file)
        rows.append((a, "n-mide", nm))
        rows.append((a, "n-mide_num_rejected", nrej))
        pts = det_points(recs, minutes, frames_by_file)
        meas = {}
        meas.update(curve_at(pts, "rfa", "p_miss", FA_TARGETS, "rfa"))
        meas.update(curve_at(pts, "rfa", "n-mide", FA_TARGETS, "rfa", None))
        meas.update(curve_at(pts, "rfa", "w_p_miss", FA_TARGETS, "rfa"))
        meas.update(curve_at(pts, "tfa", "p_miss", FA_TARGETS, "tfa"))
        meas.update(curve_at(pts, "tfa", "w_p_miss", FA_TARGETS, "tfa"))
        for k, v in meas.items():
            rows.append((a, k, v))
        for axis in ("rfa", "tfa"):
            fa = [m[axis] for _, m in pts]
            pm = [m["p_miss"] for _, m in pts]
            for t in AUDC_TARGETS:
                v = audc(pm, fa, t)
                rows.append((a, "AUDC@{}{}".format(t, axis), v))
                rows.append((a, "nAUDC@{}{}".format(t, axis),
                             None if v is None else float(v) / t))

    agg = []
    names = []
    for _, n, _ in rows:
        if n not in names:
            names.append(n)
    # Means in the official summation order (it shows in the last digit):
    # AUDC rows in activity-index order, the others by activity name.
    for n in names:
        order = activities if "AUDC@" in n else sorted(activities)
        vals = {a: v for a, k, v in rows if k == n}
        agg.append(("mean-" + n, mean_excluding_none([vals[a] for a in order])))
    all_cd = [r for a in activities for r in by_act[a] if r.kind == "CD"]
    nm, nrej = n_mide_pairs([(r.ref, r.sys) for r in all_cd], frames_by_file)
    agg.append(("n-mide", nm))
    agg.append(("n-mide_num_rejected", nrej))
    # the official scorer writes no mean AUDC row when no activity has one
    agg = [r for r in agg if not (r[0].startswith("mean-") and "AUDC" in r[0]
                                  and r[1] is None)]

    align_rows = []
    for a in activities:
        for r in by_act[a]:
            comp = (json.dumps({"presenceconf_congruence": r.congruence})
                    if r.kind == "CD" else None)
            align_rows.append((a, r.kind,
                               str(r.ref.id) if r.ref else "None",
                               str(r.sys.id) if r.sys else "None",
                               str(r.conf), str(r.sim), str(comp)))
    return rows, agg, align_rows


def write_csv(path, header, rows):
    lines = sorted([[str(x) for x in r] for r in rows]) if all(
        isinstance(x, str) for r in rows for x in r) else None
    if lines is None:
        # metric rows: sort on the names, as the official writer does
        lines = [[str(x) for x in r] for r in sorted(rows, key=lambda r: r[:-1])]
    with open(path, "w", encoding="utf-8") as fp:
        fp.write("|".join(header) + "\n")
        for r in lines:
            fp.write("|".join(r) + "\n")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("-s", "--system-output", required=True)
    p.add_argument("-r", "--reference", required=True)
    p.add_argument("-a", "--activity-index", required=True)
    p.add_argument("-f", "--file-index", required=True)
    p.add_argument("-o", "--output-dir", required=True)
    p.add_argument("-q", "--quiet", action="store_true",
                   help="do not print the headline metrics")
    args = p.parse_args(argv)
    rows, agg, align_rows = score(load_json(args.system_output),
                                  load_json(args.reference),
                                  load_json(args.activity_index),
                                  load_json(args.file_index))
    os.makedirs(args.output_dir, exist_ok=True)
    write_csv(os.path.join(args.output_dir, "scores_by_activity.csv"),
              ["activity", "metric_name", "metric_value"], rows)
    write_csv(os.path.join(args.output_dir, "scores_aggregated.csv"),
              ["metric_name", "metric_value"], agg)
    write_csv(os.path.join(args.output_dir, "alignment.csv"),
              ["activity", "alignment", "ref", "sys", "sys_presenceconf_score",
               "kernel_similarity", "kernel_components"], align_rows)
    if not args.quiet:
        a = dict(agg)
        for k in ("mean-nAUDC@0.2rfa", "mean-nAUDC@0.2tfa",
                  "mean-p_miss@0.04tfa", "mean-p_miss@0.15rfa"):
            print("%-22s %s" % (k, a.get(k)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
