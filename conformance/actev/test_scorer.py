#!/usr/bin/env python3
"""Check actev_score.py against what NIST's ActEV_Scorer wrote for the fixture
cases in shared/actev/expected/ (see shared/actev/README.md).

For every case: every metric the official scorer printed that ours computes
(all but the -e extras AP/mAP) must agree to the printed precision (relative
difference under 1e-12, or both None), no metric may be missing, and
alignment.csv must be identical.

    test_scorer.py ACTEV_FIXTURE_DIR [WORK_DIR]

Exits 77 (meson's "skipped") when the fixture directory is absent.
"""

import math
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import actev_score  # noqa: E402

# case, system output, reference, file index, activity index
CASES = [
    ("test_11_4", "test_11-4_fake-sysout.json", "test_11-4.json",
     "test_11-0_file-index.json", "test_9-0_activity-index.json"),
    ("test_19_1", "test_19-1_fake-sysout.json", "test_11-4.json",
     "test_19-1_file-index.json", "test_9-0_activity-index.json"),
    ("test_20_0", "test_20-0_fake-sysout.json", "test_11-4.json",
     "test_11-0_file-index.json", "test_9-0_activity-index.json"),
    ("test_21_0", "test_21-0_fake-sysout.json", "test_11-4.json",
     "test_11-0_file-index.json", "test_9-0_activity-index.json"),
] + [("gen_%d" % i, "gen_%d_sysout.json" % i, "gen_%d_ref.json" % i,
      "gen_%d_file-index.json" % i, "gen_%d_activity-index.json" % i)
     for i in (1, 2, 3)]

EXTRA = ("AP@", "mAP@")   # official -e extras, not computed here


def read_csv(path):
    with open(path, encoding="utf-8") as fp:
        lines = [l.rstrip("\n").split("|") for l in fp]
    return lines[0], lines[1:]


def parse_value(s):
    if s == "None":
        return None
    return float(s)


def same(a, b):
    if a is None or b is None:
        return a is None and b is None
    if a == b:
        return True
    return abs(a - b) <= 1e-12 * max(abs(a), abs(b))


def compare_metrics(name, exp_path, got_path, key_cols):
    _, exp = read_csv(exp_path)
    _, got = read_csv(got_path)
    exp_d = {tuple(r[:key_cols]): r[key_cols] for r in exp
             if not r[key_cols - 1].startswith(EXTRA)}
    got_d = {tuple(r[:key_cols]): r[key_cols] for r in got}
    errors = []
    exact = 0
    for k, v in sorted(exp_d.items()):
        if k not in got_d:
            errors.append("%s: %s missing" % (name, "|".join(k)))
            continue
        if got_d[k] == v:
            exact += 1
        if not same(parse_value(v), parse_value(got_d[k])):
            errors.append("%s: %s expected %s, got %s"
                          % (name, "|".join(k), v, got_d[k]))
    for k in sorted(set(got_d) - set(exp_d)):
        errors.append("%s: %s not in the official output" % (name, "|".join(k)))
    return len(exp_d), exact, errors


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    fixtures = argv[1]
    if not os.path.isdir(os.path.join(fixtures, "expected")):
        print("SKIP: no ActEV fixtures at %s" % fixtures)
        return 77
    work = argv[2] if len(argv) > 2 else tempfile.mkdtemp(prefix="actev-")
    failures = 0
    for case, so, ref, fi, ai in CASES:
        exp_dir = os.path.join(fixtures, "expected", case)
        if not os.path.isdir(exp_dir):
            print("SKIP %s: no expected outputs" % case)
            continue
        out = os.path.join(work, case)
        inp = lambda f: os.path.join(fixtures, "inputs", f)
        actev_score.main(["-q", "-s", inp(so), "-r", inp(ref), "-a", inp(ai),
                          "-f", inp(fi), "-o", out])
        errors = []
        counts = []
        for fn, kc in (("scores_aggregated.csv", 1), ("scores_by_activity.csv", 2)):
            n, exact, errs = compare_metrics(case + "/" + fn,
                                             os.path.join(exp_dir, fn),
                                             os.path.join(out, fn), kc)
            counts.append("%s %d/%d equal (%d printed identically)"
                          % (fn, n - len(errs), n, exact))
            errors += errs
        with open(os.path.join(exp_dir, "alignment.csv"), encoding="utf-8") as fp:
            exp_al = fp.read()
        with open(os.path.join(out, "alignment.csv"), encoding="utf-8") as fp:
            got_al = fp.read()
        if exp_al != got_al:
            errors.append("%s/alignment.csv differs" % case)
            counts.append("alignment.csv DIFFERS")
        else:
            counts.append("alignment.csv identical")
        status = "ok  " if not errors else "FAIL"
        print("%s %-10s %s" % (status, case, "; ".join(counts)))
        for e in errors[:20]:
            print("     " + e)
        if len(errors) > 20:
            print("     ... %d more" % (len(errors) - 20))
        failures += bool(errors)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
