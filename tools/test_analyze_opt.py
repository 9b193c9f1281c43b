#!/usr/bin/env python3
"""argdec --analyze's hook gives what arganalyze gives.

    test_analyze_opt.py TEST_ANALYZE_OPT ARGANALYZE STREAM.mkv WORKDIR [ARGDEC]

Runs tools/common/test_analyze_opt (the hook driven as argdec drives it)
and arganalyze on the same stream: the activities (names, confidences,
localizations, boxes) must be identical, the file status "success"; the
failure report must say "fail" with the message and carry no activity.
With ARGDEC (once argdec has --analyze; it decodes every picture, so this
takes as long as decoding the clip) the same comparison for
`argdec -i STREAM --analyze OUT.json`.
"""
import json
import os
import subprocess
import sys


def load(path):
    d = json.load(open(path))
    st = list(d["processingReport"]["fileStatuses"].values())[0]
    return d, st


def main():
    prog, exe, stream, work = sys.argv[1:5]
    argdec = sys.argv[5] if len(sys.argv) > 5 else None
    os.makedirs(work, exist_ok=True)
    hook, ref, fail = (os.path.join(work, n) for n in ("hook.json", "arganalyze.json", "fail.json"))
    fails = 0
    p = subprocess.run([prog, stream, hook, fail], capture_output=True, text=True)
    print(p.stdout.strip())
    subprocess.run([exe, "-i", stream, "-o", ref, "-y", "-q"], check=True)
    d_ref, st_ref = load(ref)
    runs = [("hook", hook)]
    if argdec:
        out = os.path.join(work, "argdec.json")
        q = subprocess.run([argdec, "-i", stream, "--analyze", out, "-y", "--quiet"],
                           capture_output=True, text=True)
        if q.returncode != 0:
            print("FAIL argdec --analyze: rc %d %s" % (q.returncode, q.stderr.strip()[-300:]))
            fails += 1
        else:
            runs.append(("argdec", out))
    for label, path in runs:
        try:
            d, st = load(path)
            assert st["status"] == "success", st
            assert d["filesProcessed"] == d_ref["filesProcessed"], d["filesProcessed"]
            assert len(d["activities"]) > 0, "no activity"
            assert d["activities"] == d_ref["activities"], "activities differ from arganalyze's"
            assert d["processingReport"]["siteSpecific"]["instances"] == len(d["activities"])
            print("ok   %-7s %d activities, identical to arganalyze's" % (label, len(d["activities"])))
        except (AssertionError, KeyError, ValueError, OSError) as e:
            print("FAIL %-7s %s" % (label, e))
            fails += 1
    try:
        d, st = load(fail)
        assert st["status"] == "fail" and st["message"] == "decoding stopped", st
        assert d["activities"] == [], "activities in a failure report"
        print("ok   failure report")
    except (AssertionError, KeyError, ValueError, OSError) as e:
        print("FAIL failure report: %s" % e)
        fails += 1
    fails += p.returncode != 0
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
