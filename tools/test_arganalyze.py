#!/usr/bin/env python3
"""arganalyze's output and failure modes.

    test_arganalyze.py ARGANALYZE STREAM.mkv SCHEMA.json WORKDIR

A good stream gives exit 0 and JSON that the ActEV SDL v2 schema accepts
(python3-jsonschema when importable, else a structural check of the same
rules); an empty, missing, garbage or truncated stream gives exit 1 and a
valid JSON whose processingReport says "fail" with a message, never a crash.
A missing schema (no ../shared) only drops the jsonschema pass.

--draw on a constructed case: the stream's activities drawn on a uniform
grey Y4M (--draw-from, no decoding); the PNG is parsed here (zlib + struct,
every CRC checked) and each activity box's left edge must be in its track's
colour at the pixels the JSON names, the rest grey.
"""

import json
import os
import re
import struct
import subprocess
import sys
import zlib

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
    fails += draw_test(exe, stream, work)
    return 1 if fails else 0


# tools/common/overlay.c's track palette
PALETTE = [(255, 64, 64), (64, 224, 64), (64, 144, 255), (255, 224, 0),
           (255, 64, 255), (0, 224, 224), (255, 144, 0), (176, 112, 255)]


def read_png(path):
    """(width, height, rows of RGB bytes) of an 8-bit RGB PNG, checking
    the signature, every chunk's CRC and the zlib stream."""
    d = open(path, "rb").read()
    assert d[:8] == b"\x89PNG\r\n\x1a\n", "signature"
    pos, idat, w = 8, b"", None
    while pos < len(d):
        n, = struct.unpack(">I", d[pos:pos + 4])
        tag, body = d[pos + 4:pos + 8], d[pos + 8:pos + 8 + n]
        crc, = struct.unpack(">I", d[pos + 8 + n:pos + 12 + n])
        assert zlib.crc32(tag + body) & 0xFFFFFFFF == crc, "CRC of " + tag.decode()
        if tag == b"IHDR":
            w, h, depth, ctype, comp, filt, inter = struct.unpack(">IIBBBBB", body)
            assert (depth, ctype, comp, filt, inter) == (8, 2, 0, 0, 0), "IHDR"
        elif tag == b"IDAT":
            idat += body
        elif tag == b"IEND":
            break
        pos += 12 + n
    raw = zlib.decompress(idat)
    assert len(raw) == h * (1 + 3 * w), "image data size"
    rows = []
    for y in range(h):
        r = raw[y * (1 + 3 * w):(y + 1) * (1 + 3 * w)]
        assert r[0] == 0, "filter type"
        rows.append(r[1:])
    return w, h, rows


def draw_test(exe, stream, work):
    pw, ph, n = 320, 240, 160
    y4m = os.path.join(work, "grey.y4m")
    with open(y4m, "wb") as fp:
        fp.write(b"YUV4MPEG2 W%d H%d F10:1 Ip A1:1 C420jpeg\n" % (pw, ph))
        frame = b"FRAME\n" + bytes([128]) * (pw * ph * 3 // 2)
        for _ in range(n):
            fp.write(frame)
    out = os.path.join(work, "draw.json")
    base = os.path.join(work, "draw.png")
    for f in os.listdir(work):
        if f.startswith("draw_") and f.endswith(".png"):
            os.remove(os.path.join(work, f))
    p = subprocess.run([exe, "-i", stream, "-o", out, "-y", "-q", "--draw", base, "--draw-from", y4m,
                        "--draw-every", "40", "--draw-per", "4"], capture_output=True, text=True)
    sheets = sorted(f for f in os.listdir(work) if f.startswith("draw_") and f.endswith(".png"))
    try:
        assert p.returncode == 0, p.stderr
        assert sheets == ["draw_0001.png"], sheets
        w, h, rows = read_png(os.path.join(work, sheets[0]))
        assert (w, h) == (4 * (pw + 4) - 4, ph), (w, h)
        acts = json.load(open(out))["activities"]
        checked = good = 0
        for cell in range(4):
            k = cell * 40 + 1  # 1-based picture of the cell
            ox = cell * (pw + 4)
            px = lambda x, y: tuple(rows[y][3 * (ox + x):3 * (ox + x) + 3])  # noqa: E731
            bg = px(pw - 1, ph - 1)
            assert bg[0] == bg[1] == bg[2] and 100 < bg[0] < 160, "grey background %s" % (bg,)
            grey = sum(px(x, y) == bg for y in range(0, ph, 4) for x in range(0, pw, 4))
            assert grey > 0.5 * (pw // 4) * (ph // 4), "mostly background"
            for a in acts:
                loc = list(a["localization"].values())[0]
                first = min(int(f) for f, v in loc.items() if v == 1)
                end = max(int(f) for f, v in loc.items() if v == 0)
                if not first <= k < end:
                    continue
                o = a["objects"][0]
                boxes = sorted((int(f), v["boundingBox"]) for f, v in
                               list(o["localization"].values())[0].items() if "boundingBox" in v)
                bb = [b for f, b in boxes if f <= k]
                if not bb:
                    continue
                b = bb[-1]
                x, y = b["x"] - 1, b["y"] + b["h"] // 2
                if 0 <= x < pw:
                    checked += 1
                    good += px(x, y) == PALETTE[o["objectID"] % 8]
        assert checked >= 2 and good >= 0.75 * checked, "box edges in track colours: %d of %d" % (
            good, checked)
        print("ok   draw       %s %dx%d, %d of %d box edges at the expected pixels" % (
            sheets[0], w, h, good, checked))
        return 0
    except AssertionError as e:
        print("FAIL draw       %s" % e)
        return 1


if __name__ == "__main__":
    sys.exit(main())
