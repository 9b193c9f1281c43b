#!/usr/bin/env python3
"""bench_torch.py's JSON line and argbench --torch, on tiny runs (no torch import here).

    /usr/bin/python3 tests/test_bench_torch.py ARGBENCH BENCH_TORCH_PY MODEL

Checks that bench_torch.py answers what was asked (size, frames, threads),
with finite positive speeds, every asked frame decoded (also when the frame
count and the size need padding) and a PSNR that only loaded weights give;
that it fails with {"error"} on a missing model; that argbench --torch prints
the C / PyTorch line (model path with a quote and a space), says in one line
when torch cannot be imported and keeps its exit status, and refuses
--torch with --table. Exits 77 (skipped) when python3 lacks torch.
"""

import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile

FAILS = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        FAILS.append(what)


def bench(script, model, *args, env=None):
    p = subprocess.run([sys.executable, script, model, *args], capture_output=True, text=True, env=env,
                       timeout=120)
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    return p.returncode, (json.loads(lines[-1]) if lines else None), p.stderr


def check_answer(d, size, frames, threads, clips):
    tag = f"{size}, {frames} frames"
    check(isinstance(d.get("torch"), str) and d["torch"] != "", f"{tag}: torch version")
    check(d.get("threads") == threads, f"{tag}: threads {d.get('threads')} == {threads}")
    check(d.get("size") == size, f"{tag}: size {d.get('size')!r}")
    check(d.get("frames") == frames, f"{tag}: frames {d.get('frames')} == {frames}")
    check(d.get("decoded_frames") == frames, f"{tag}: decoded frames {d.get('decoded_frames')} == {frames}")
    check(d.get("clips") == clips, f"{tag}: clips {d.get('clips')} == {clips}")
    for k in ("decode_fps", "encode_fps", "decode_s", "encode_s"):
        v = d.get(k)
        check(isinstance(v, (int, float)) and math.isfinite(v) and v > 0, f"{tag}: {k} {v} finite and > 0")
    check(abs(d["decode_fps"] * d["decode_s"] - frames) < 1e-6 * frames, f"{tag}: decode_fps = frames / decode_s")
    check(isinstance(d.get("mode"), str) and "whole clips" in d["mode"], f"{tag}: mode says whole clips")
    # arg-s8 reaches ~23 dB on this content; wrongly loaded weights decode noise
    psnr = d.get("psnr_db")
    check(isinstance(psnr, (int, float)) and psnr > 15, f"{tag}: PSNR {psnr} dB > 15")


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    argbench, script, model = sys.argv[1:]

    rc, d, err = bench(script, model, "--size", "64x64", "--frames", "5", "--threads", "1", "--repeats", "1")
    if rc == 3:
        print(f"skipped: {d and d.get('error')}")
        return 77
    check(rc == 0 and d is not None, f"bench_torch.py 64x64 runs (rc {rc}) {err[-300:]}")
    if d:
        check_answer(d, "64x64", 5, 1, [5])
    # 6 frames (a clip of 1 + 4k = 9) of 60x50 (not multiples of fs 8): padded, cropped back
    rc, d, err = bench(script, model, "--size", "60x50", "--frames", "6", "--threads", "1", "--repeats", "1")
    check(rc == 0 and d is not None, f"bench_torch.py 60x50 runs (rc {rc}) {err[-300:]}")
    if d:
        check_answer(d, "60x50", 6, 1, [9])

    with tempfile.TemporaryDirectory() as tmp:
        rc, d, _ = bench(script, os.path.join(tmp, "missing.safetensors"), "--frames", "1")
        check(rc == 1 and d is not None and "missing.safetensors" in str(d.get("error")),
              f"missing model: rc {rc}, {d}")

        odd = os.path.join(tmp, "it's a model.safetensors")
        shutil.copyfile(model, odd)
        cmd = [argbench, "-m", odd, "-s", "64x64", "--frames", "5", "--threads", "1", "--torch", "--quiet"]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        line = next((l for l in p.stdout.splitlines() if l.startswith("torch ")), "")
        print(line)
        m = re.match(r"torch +decode ([0-9.]+) fps, encode ([0-9.]+) fps \(PyTorch \S+, 1 threads\); "
                     r"C / PyTorch: decode ([0-9.]+)x, encode ([0-9.]+)x$", line)
        check(p.returncode == 0 and m is not None, f"argbench --torch prints the comparison (rc {p.returncode})")
        if m:
            check(all(float(v) > 0 for v in m.groups()), "argbench --torch: figures > 0")

        # torch that cannot be imported: one line, exit status unchanged
        fake = os.path.join(tmp, "fake")
        os.mkdir(fake)
        with open(os.path.join(fake, "torch.py"), "w") as f:
            f.write("raise ImportError('torch hidden by the test')\n")
        env = dict(os.environ, PYTHONPATH=fake)
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
        lines = [l for l in p.stdout.splitlines() if l.startswith("torch ")]
        print("\n".join(lines))
        check(p.returncode == 0 and len(lines) == 1 and "not measured" in lines[0]
              and "torch hidden by the test" in lines[0], f"argbench --torch without torch (rc {p.returncode})")

        p = subprocess.run(cmd + ["--table"], capture_output=True, text=True, timeout=60)
        check(p.returncode == 2, f"argbench --torch --table is a usage error (rc {p.returncode})")

    print(f"{len(FAILS)} failed" if FAILS else "all passed")
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
