#!/usr/bin/env python3
"""arganalyze's output and failure modes.

    test_arganalyze.py ARGANALYZE STREAM.mkv SCHEMA.json WORKDIR

A good stream gives exit 0 and JSON that the ActEV SDL v2 schema accepts
(python3-jsonschema when importable, else a structural check of the same
rules); an empty, missing, garbage or truncated stream gives exit 1 and a
valid JSON whose processingReport says "fail" with a message, never a crash.
A missing schema (no ../shared) only drops the jsonschema pass.
"""

import json
import os
import re
import subprocess
import sys

NAME = re.compile(r"^[A-Za-z0-9_\-\.]+$")


def structural_check(d):
    """The schema's rules, by hand."""
    assert isinstance(d, dict)
    for k in ("filesProcessed", "activities", "processingReport"):
        assert k in d, "missing " + k
    assert all(isinstance(f, str) and NAME.match(f) for f in d["filesProcessed"])
    fs = d["processingReport"]["fileStatuses"]
    assert isinstance(fs, dict) and len(fs) >= 1
    for k, v in fs.items():
        assert NAME.match(k) and v["status"] in ("success", "fail") and isinstance(v["message"], str)
    for a in d["activities"]:
        assert isinstance(a["activity"], str) and isinstance(a["activityID"], int)
        assert isinstance(a["presenceConf"], (int, float)) and 0 <= a["presenceConf"] <= 1
        loc = a["localization"]
        assert len(loc) == 1
        for f, frames in loc.items():
            assert NAME.match(f) and len(frames) >= 2
            for k, v in frames.items():
                assert re.match(r"^-?[0-9]+$", k) and v in (0, 1)
            keys = sorted(int(k) for k in frames)
            assert keys[0] >= 1 and frames[str(keys[0])] == 1 and frames[str(keys[-1])] == 0
        for o in a.get("objects", []):
            assert o["objectType"] in ("Person", "Vehicle")
            for f, frames in o["localization"].items():
                for k, v in frames.items():
                    if v:
                        b = v["boundingBox"]
                        assert b["w"] > 0 and b["h"] > 0 and b["x"] >= 0 and b["y"] >= 0


def check(d, schema):
    structural_check(d)
    if schema is not None:
        try:
            import jsonschema
        except ImportError:
            return "structural"
        jsonschema.validate(d, schema)
        return "jsonschema"
    return "structural"


def main():
    exe, stream, schema_path, work = sys.argv[1:5]
    os.makedirs(work, exist_ok=True)
    schema = json.load(open(schema_path)) if os.path.exists(schema_path) else None
    fails = 0

    def run(inp, expect_rc, label):
        nonlocal fails
        out = os.path.join(work, label + ".json")
        p = subprocess.run([exe, "-i", inp, "-o", out, "-y", "-q"], capture_output=True, text=True)
        ok = p.returncode == expect_rc
        how = ""
        try:
            d = json.load(open(out))
            how = check(d, schema)
            status = list(d["processingReport"]["fileStatuses"].values())[0]["status"]
            ok = ok and status == ("success" if expect_rc == 0 else "fail")
            if expect_rc == 0:
                ok = ok and len(d["activities"]) > 0
        except Exception as e:  # noqa: BLE001
            ok = False
            how = "invalid: %s" % e
        print("%s %-10s rc %d (%s) %s" % ("ok  " if ok else "FAIL", label, p.returncode, how,
                                         p.stderr.strip().splitlines()[-1] if p.stderr.strip() else ""))
        fails += not ok

    run(stream, 0, "good")
    empty = os.path.join(work, "empty.mkv")
    open(empty, "wb").close()
    run(empty, 1, "empty")
    run(os.path.join(work, "does-not-exist.mkv"), 1, "missing")
    garbage = os.path.join(work, "garbage.mkv")
    with open(garbage, "wb") as fp:
        fp.write(bytes((i * 7919 + 13) % 251 for i in range(4000)))
    run(garbage, 1, "garbage")
    data = open(stream, "rb").read()
    trunc = os.path.join(work, "truncated.mkv")
    with open(trunc, "wb") as fp:
        fp.write(data[:200])
    run(trunc, 1, "header")
    # cut mid-stream: the packets read so far are analysed (success or a
    # clear failure, never a crash)
    with open(trunc, "wb") as fp:
        fp.write(data[:len(data) // 2])
    out = os.path.join(work, "half.json")
    p = subprocess.run([exe, "-i", trunc, "-o", out, "-y", "-q"], capture_output=True, text=True)
    try:
        check(json.load(open(out)), schema)
        ok = p.returncode in (0, 1)
    except Exception:  # noqa: BLE001
        ok = False
    print("%s %-10s rc %d" % ("ok  " if ok else "FAIL", "half", p.returncode))
    fails += not ok
    # corrupt bytes inside packets
    bad = bytearray(data)
    for i in range(len(bad) // 3, len(bad) * 2 // 3, 97):
        bad[i] ^= 0x5A
    with open(trunc, "wb") as fp:
        fp.write(bad)
    p = subprocess.run([exe, "-i", trunc, "-o", out, "-y", "-q"], capture_output=True, text=True)
    try:
        check(json.load(open(out)), schema)
        ok = p.returncode in (0, 1)
    except Exception:  # noqa: BLE001
        ok = False
    print("%s %-10s rc %d" % ("ok  " if ok else "FAIL", "corrupt", p.returncode))
    fails += not ok
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
