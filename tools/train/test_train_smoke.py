#!/usr/bin/env python3
"""Training smoke test: a few steps of the `tiny` profile on synthetic pictures.

    test_train_smoke.py [--work DIR] [--test-parity BUILD/tests/test_parity]

Checks that train.py runs both phases (image then video), that the loss goes down,
that an interrupted run resumes from its checkpoint, that the EMA weights export to
a valid model file, and (with --test-parity) that the C engine loads that file and
decodes with parity (make_parity.py vectors checked by tests/test_parity). The optional
GAN: the discriminator learns to tell pictures from blurred copies, the LeCam penalty
matches its formula, and a run with the GAN switched on part-way logs both adversarial
losses, keeps the discriminator in its checkpoint and resumes it.
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

import gan  # noqa: E402
import train  # noqa: E402
from export import load_model  # noqa: E402


def losses(log_path):
    out = []
    for line in open(log_path):
        m = re.search(r"^step +\d+ (image|video) .* loss ([0-9.]+) ", line)
        if m:
            out.append((m.group(1), float(m.group(2))))
    return out


def check_gan_parts():
    """The discriminator and its losses, away from the tokenizer."""
    torch.manual_seed(3)
    # LeCam: first update sets the anchors, the next moves them by (1 - decay)
    lc = gan.LeCam(decay=0.9)
    r1, f1 = torch.tensor([1.0, 3.0]), torch.tensor([-2.0, 0.0])
    lc.update(r1, f1)
    assert (lc.real, lc.fake) == (2.0, -1.0), (lc.real, lc.fake)
    r2, f2 = torch.tensor([4.0]), torch.tensor([1.0])
    lc.update(r2, f2)
    assert abs(lc.real - (0.9 * 2.0 + 0.1 * 4.0)) < 1e-9 and abs(lc.fake - (0.9 * -1.0 + 0.1 * 1.0)) < 1e-9
    want = ((r1 - lc.fake) ** 2).mean() + ((f1 - lc.real) ** 2).mean()
    assert abs(lc.penalty(r1, f1).item() - want.item()) < 1e-6
    # the discriminator learns to tell smooth random pictures from blurred copies
    base = torch.rand(16, 3, 1, 6, 6) * 2 - 1
    real = torch.nn.functional.interpolate(base, size=(1, 32, 32), mode="trilinear", align_corners=False)
    real = (real + 0.3 * torch.randn_like(real)).clamp(-1, 1)
    fake = torch.nn.functional.avg_pool3d(real, (1, 3, 3), stride=1, padding=(0, 1, 1))
    d = gan.PatchDiscriminator3D(channels=8)
    opt = torch.optim.Adam(d.parameters(), lr=2e-3, betas=(0.5, 0.99))
    lecam = gan.LeCam()
    first = last = None
    for _ in range(40):
        loss, parts = gan.discriminator_loss(d(real), d(fake), lecam, 1e-3)
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = parts["adv"] if first is None else first
        last = parts["adv"]
    assert 1.2 < first < 1.6 and last < 0.7, f"discriminator did not learn: {first:.3f} -> {last:.3f}"
    # and the generator loss falls when the fakes look like the reals to it
    with torch.no_grad():
        assert gan.generator_loss(d(real)) < gan.generator_loss(d(fake))
    # on a 5-frame clip: one logit per 8x8 patch, time halved
    assert d(torch.zeros(1, 3, 5, 32, 40)).shape == (1, 1, 3, 4, 5)
    return first, last


def gan_run(work, common):
    """A short run with the GAN switched on half-way (step 8 of 16), interrupted there and
    resumed to 24 steps."""
    out = os.path.join(work, "run-gan")
    shutil.rmtree(out, ignore_errors=True)
    g = common + ["--out-dir", out, "--gan-weight", "0.1", "--gan-start", "0.5", "--disc-channels", "8"]
    assert train.main(g + ["--steps", "16", "--resume", "no"]) == 0
    ck = torch.load(os.path.join(out, "last.pt"))
    assert "disc" in ck and ck["lecam"]["started"], "checkpoint lacks the discriminator"
    saved = {k: v.clone() for k, v in ck["disc"].items()}
    assert train.main(g + ["--steps", "24"]) == 0
    text = open(os.path.join(out, "train.log")).read()
    assert "resumed" in text
    gl = [(int(m.group(1)), float(m.group(2)), float(m.group(3)))
          for m in re.finditer(r"^step +(\d+) .* GAN G ([0-9.]+) D ([0-9.]+) ", text, re.M)]
    assert [s for s, _, _ in gl] == [12, 16, 20, 24], f"GAN lines: {gl}"
    assert all(0 < gv < 20 and 0 < dv < 20 for _, gv, dv in gl), gl
    ck2 = torch.load(os.path.join(out, "last.pt"))
    assert ck2["step"] == 24
    assert any(not torch.equal(saved[k], ck2["disc"][k]) for k in saved), "discriminator did not train"
    return gl


def check_fixed_tests(model, work):
    """evaluate.py's fixed tests (issue 12) on the tiny model: they run, the SMPTE bars are
    found, the colour conversion's own ceiling is high, a perfect GOP has no drift/pumping."""
    import numpy as np
    import fixed_tests
    import y4mio
    res = fixed_tests.colour_test(model, {})
    b, f = res["bars"], res["flat"]
    assert b["ceiling_y"] > 40 and b["ceiling_u"] > 35 and b["ceiling_v"] > 35, b
    assert len(b["regions"]) >= 12, len(b["regions"])
    tops = [r["src"] for r in b["regions"] if r["y"] < 100]
    assert [191, 191, 191] in tops and any(r[2] > 150 and r[0] < 10 and r[1] < 10 for r in tops), tops
    assert f["fields"] == 125 and all(np.isfinite([b["psnr_y"], f["psnr_v"], f["err_max"]]))

    class Identity:   # a perfect codec: zero drift and pumping
        ft, fs = 4, 8

        def encode(self, x):
            return x

        def quantize(self, z):
            return z, None

        def decode(self, q):
            return q
    # a 122-picture clip: a moving gradient whose brightness steps at picture 61
    path = os.path.join(work, "gop.y4m")
    with open(path, "wb") as fh:
        fh.write(b"YUV4MPEG2 W32 H24 F25:1 Ip A1:1 C420mpeg2 XCOLORRANGE=LIMITED\n")
        for t in range(122):
            Y = (40 + np.arange(32)[None, :] * 4 + t + (20 if t >= 61 else 0)).repeat(24, 0)
            fh.write(b"FRAME\n" + Y.clip(16, 235).astype(np.uint8).tobytes()
                     + np.full(2 * 16 * 12, 128, np.uint8).tobytes())
    g = fixed_tests.gop_test(Identity(), path, 0, {})
    assert abs(g["drift"]) < 1 and g["pumping"] < 0.6 and abs(g["jump_src"] - 21) < 1, g
    assert len(g["curve"]) == 122 and y4mio.count_frames(path) == 122


def warm_run(work, common, init):
    """Issue 12: a warm start (--init) with synthetic samples and colour augmentation keeps
    the trained temporal upsamplers at the video phase and starts the EMA from the init."""
    out = os.path.join(work, "run-warm")
    shutil.rmtree(out, ignore_errors=True)
    args = common + ["--out-dir", out, "--init", init, "--synthetic-frac", "0.5", "--steps", "8",
                     "--resume", "no", "--long-frac", "0.5", "--long-frames", "9", "--long-crop", "24"]
    assert train.main(args) == 0
    text = open(os.path.join(out, "train.log")).read()
    assert "temporal upsamplers kept" in text and "inflated" not in text, text
    ck = torch.load(os.path.join(out, "last.pt"))
    assert ck["warm_start"] == init
    src = torch.load(init)["ema"]
    # the EMA moved away from the init only by a few averaged steps, not from random weights
    k = next(k for k in src if k.endswith("weight") and src[k].dim() == 5)
    d_ema = (ck["ema"][k] - src[k]).abs().mean().item()
    d_rand = src[k].abs().mean().item()
    assert d_ema < 0.5 * d_rand, (k, d_ema, d_rand)


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
    common_no_out = ["--profile", "tiny", "--synthetic-data", "--threads", "2",
                     "--image-batch", "4", "--image-crop", "32", "--video-batch", "2",
                     "--video-frames", "5", "--video-crop", "32", "--lr", "3e-3", "--warmup", "5",
                     "--log-every", "4", "--image-frac", "0.5", "--seed", "1"]
    common = common_no_out + ["--out-dir", out]
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
    warm_run(work, common_no_out, os.path.join(out, "last.pt"))
    d_first, d_last = check_gan_parts()
    gl = gan_run(work, common_no_out)
    model_path = os.path.join(work, "tiny.safetensors")
    assert train.main(common + ["--export", model_path, "--name", "smoke-tiny", "--dtype", "f32"]) == 0
    m = load_model(model_path)
    assert m.model_name == "smoke-tiny"
    x = torch.zeros(1, 3, 5, 16, 16)
    with torch.no_grad():
        y = m.decode(m.quantize(m.encode(x))[0])
    assert y.shape == x.shape and torch.isfinite(y).all()
    check_fixed_tests(m, work)
    if args.test_parity:
        vec = os.path.join(work, "tiny-vectors.safetensors")
        subprocess.run([sys.executable, os.path.join(HERE, "make_parity.py"), "--model", model_path,
                        "--frames", "9", "--height", "32", "--width", "48", "--out-vectors", vec,
                        "--threads", "2"], check=True)
        subprocess.run([args.test_parity, model_path, vec], check=True)
    print(f"train smoke test passed: image loss {img[0]:.3f} -> {img[-1]:.3f}, "
          f"video loss {vid[0]:.3f} -> {vid[-1]:.3f}, discriminator {d_first:.3f} -> {d_last:.3f}, "
          f"GAN run G {gl[0][1]:.3f} -> {gl[-1][1]:.3f}, {time.time() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
