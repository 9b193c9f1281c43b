#!/usr/bin/env python3
"""Training smoke test: a few steps of the `tiny` profile on synthetic pictures.

    test_train_smoke.py [--work DIR] [--test-parity BUILD/tests/test_parity]

Checks that train.py runs both phases (image then video), that the loss goes down,
that an interrupted run resumes from its checkpoint, that the EMA weights export to
a valid model file, and (with --test-parity) that the C engine loads that file and
decodes with parity (make_parity.py vectors checked by tests/test_parity).
Takes well under a minute on 2 cores. Exit status 0 on success.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import torch  # noqa: E402

import train  # noqa: E402
from export import load_model  # noqa: E402


def losses(log_path):
    out = []
    for line in open(log_path):
        m = re.search(r"^step +\d+ (image|video) .* loss ([0-9.]+) ", line)
        if m:
            out.append((m.group(1), float(m.group(2))))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", help="work folder (default: a temporary one)")
    ap.add_argument("--test-parity", help="tests/test_parity binary: also check the C engine")
    args = ap.parse_args(argv)
    t0 = time.time()
    work = args.work or tempfile.mkdtemp(prefix="arg-train-smoke-")
    os.makedirs(work, exist_ok=True)
    out = os.path.join(work, "run")
    shutil.rmtree(out, ignore_errors=True)
    common = ["--profile", "tiny", "--out-dir", out, "--synthetic-data", "--threads", "2",
              "--image-batch", "4", "--image-crop", "32", "--video-batch", "2",
              "--video-frames", "5", "--video-crop", "32", "--lr", "3e-3", "--warmup", "5",
              "--log-every", "4", "--image-frac", "0.5", "--seed", "1"]
    # interrupted run (16 of 40 steps), then resumed to the end
    rc = train.main(common + ["--steps", "16", "--resume", "no"])
    assert rc == 0
    rc = train.main(common + ["--steps", "40"])
    assert rc == 0
    log = os.path.join(out, "train.log")
    text = open(log).read()
    assert "resumed" in text, "the second run did not resume"
    ls = losses(log)
    phases = {p for p, _ in ls}
    assert phases == {"image", "video"}, f"phases seen: {phases}"
    img = [v for p, v in ls if p == "image"]
    assert img[-1] < 0.8 * img[0], f"image-phase loss did not go down: {img}"
    vid = [v for p, v in ls if p == "video"]
    assert all(torch.isfinite(torch.tensor(v)) for v in vid), vid
    model_path = os.path.join(work, "tiny.safetensors")
    assert train.main(common + ["--export", model_path, "--name", "smoke-tiny", "--dtype", "f32"]) == 0
    m = load_model(model_path)
    assert m.model_name == "smoke-tiny"
    x = torch.zeros(1, 3, 5, 16, 16)
    with torch.no_grad():
        y = m.decode(m.quantize(m.encode(x))[0])
    assert y.shape == x.shape and torch.isfinite(y).all()
    if args.test_parity:
        vec = os.path.join(work, "tiny-vectors.safetensors")
        subprocess.run([sys.executable, os.path.join(HERE, "make_parity.py"), "--model", model_path,
                        "--frames", "9", "--height", "32", "--width", "48", "--out-vectors", vec,
                        "--threads", "2"], check=True)
        subprocess.run([args.test_parity, model_path, vec], check=True)
    print(f"train smoke test passed: image loss {img[0]:.3f} -> {img[-1]:.3f}, "
          f"video loss {vid[0]:.3f} -> {vid[-1]:.3f}, {time.time() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
