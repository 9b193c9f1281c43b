#!/usr/bin/env python3
"""Build the training / validation data of issue 3 under data/cache/.

    prepare_data.py [--data data] [--photo-max 512] [--force]

Inputs (never committed; data/ is git-ignored):
  data/{vtest,box,cup,tree}.y4m    2x downscaled clips from scripts/fetch_data.sh
  data/pkgs/                       Debian packages unpacked with `apt-get download` +
                                   `dpkg -x` (done here when missing): opencv-doc,
                                   python3-skimage, mate-backgrounds, visp-images-data

Splits (fixed, independent of any seed):
  train clips      vtest, box, tree: the first 80% of the frames of each clip
  seen-scenes val  the last 20% of the frames of each training clip
  unseen val       the whole cup clip, and every 5th photo by sorted name
  train photos     all other photos

Outputs in data/cache/:
  video_<name>.npy     uint8 [T, H, W, 3] RGB of the *training* frames (BT.601 limited,
                       bilinear chroma, as tools/common/y4m.c), rounded to 8 bits
  photos_train.npz / photos_val.npz   uint8 [H, W, 3] per photo (long side <= --photo-max)
  manifest.json        the splits (clip frame ranges, photo names) for evaluate.py
Photos are decoded (and downscaled with an area filter) by ffmpeg.
"""

import argparse
import glob
import json
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import y4mio  # noqa: E402

TRAIN_CLIPS = ("vtest", "box", "tree")
UNSEEN_CLIPS = ("cup",)
PACKAGES = ("opencv-doc", "python3-skimage", "mate-backgrounds", "visp-images-data")

OCV = "usr/share/doc/opencv-doc/examples/data"
# opencv-doc: camera photos only (no logos, charts, text, renders, synthetic shapes);
# of the 26 greyscale calibration-board shots only one stereo pair is kept
OCV_EXCLUDE = {
    "LinuxLogo.jpg", "WindowsLogo.jpg", "opencv-logo.png", "opencv-logo-white.png",
    "Blender_Suzanne1.jpg", "Blender_Suzanne2.jpg", "chessboard.png", "digits.png",
    "gradient.png", "imageTextN.png", "imageTextR.png", "mask.png", "ml.png", "notes.png",
    "pic1.png", "pic2.png", "pic3.png", "pic4.png", "pic5.png", "pic6.png", "detect_blob.png",
    "ellipses.jpg", "cards.png", "templ.png", "tmpl.png", "text_defocus.jpg",
    "text_motion.jpg", "starry_night.jpg", "aloeGT.png", "licenseplate_motion.jpg",
}
SKIMAGE = "usr/lib/python3/dist-packages/skimage/data"
SKIMAGE_KEEP = ("astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg", "motorcycle_left.png",
                "motorcycle_right.png", "hubble_deep_field.jpg", "retina.jpg", "gravel.png",
                "brick.png", "grass.png", "camera.png", "coins.png", "moon.png", "ihc.png")
MATE = "usr/share/backgrounds/mate/nature"
VISP = "usr/share/visp-images-data/ViSP-images"
VISP_KEEP = ("Klimt/Klimt.png", "Solvay/Solvay_conference_1927_Version2_2126x1463.png")


def ensure_packages(data):
    pkgs = os.path.join(data, "pkgs")
    debs = os.path.join(data, "debs")
    marker = os.path.join(pkgs, ".unpacked")
    if os.path.exists(marker):
        return pkgs
    os.makedirs(debs, exist_ok=True)
    for p in PACKAGES:
        if not glob.glob(os.path.join(debs, p + "_*.deb")):
            subprocess.run(["apt-get", "download", p], cwd=debs, check=True)
    for deb in sorted(glob.glob(os.path.join(debs, "*.deb"))):
        subprocess.run(["dpkg", "-x", deb, pkgs], check=True)
    open(marker, "w").close()
    return pkgs


def photo_list(pkgs):
    out = []
    for f in sorted(glob.glob(os.path.join(pkgs, OCV, "*"))):
        b = os.path.basename(f)
        if b.lower().endswith((".jpg", ".png")) and b not in OCV_EXCLUDE:
            if (b.startswith(("left", "right")) and b[-6:-4].isdigit()
                    and b not in ("left01.jpg", "right01.jpg")):
                continue
            out.append(("opencv/" + b, f))
    for b in SKIMAGE_KEEP:
        out.append(("skimage/" + b, os.path.join(pkgs, SKIMAGE, b)))
    for f in sorted(glob.glob(os.path.join(pkgs, MATE, "*.jpg"))):
        out.append(("mate/" + os.path.basename(f), f))
    for b in VISP_KEEP:
        out.append(("visp/" + os.path.basename(b), os.path.join(pkgs, VISP, b)))
    out = [(n, f) for n, f in out if os.path.exists(f)]
    return sorted(out)


def load_photo(path, max_side):
    """RGB uint8 [H, W, 3] via ffmpeg, long side scaled down to <= max_side (area filter)."""
    probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                            "stream=width,height", "-of", "csv=p=0", path],
                           capture_output=True, text=True, check=True)
    w, h = map(int, probe.stdout.strip().split("\n")[0].split(",")[:2])
    s = min(1.0, max_side / max(w, h))
    W, H = max(8, int(round(w * s / 2)) * 2), max(8, int(round(h * s / 2)) * 2)
    r = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-frames:v", "1",
                        "-vf", f"scale={W}:{H}:flags=area", "-pix_fmt", "rgb24",
                        "-f", "rawvideo", "-"], capture_output=True, check=True)
    return np.frombuffer(r.stdout, np.uint8)[:H * W * 3].reshape(H, W, 3).copy()


def clip_to_rgb8(path, first, count):
    info, frames = y4mio.read_y4m(path, first, count)
    out = np.empty((len(frames), info["height"], info["width"], 3), np.uint8)
    for i, (Y, U, V) in enumerate(frames):
        rgb = y4mio.yuv420_to_rgb(Y, U, V, info["chroma"], info["full_range"])
        out[i] = np.round((rgb.transpose(1, 2, 0) + 1.0) * 127.5).astype(np.uint8)
    return info, out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="data", help="data folder (default: data)")
    ap.add_argument("--photo-max", type=int, default=512, help="long side of the cached photos")
    ap.add_argument("--force", action="store_true", help="rebuild even when the cache exists")
    args = ap.parse_args(argv)

    cache = os.path.join(args.data, "cache")
    os.makedirs(cache, exist_ok=True)
    man_path = os.path.join(cache, "manifest.json")
    if os.path.exists(man_path) and not args.force:
        print(f"{man_path} exists (use --force to rebuild)")
        return 0
    pkgs = ensure_packages(args.data)
    manifest = {"clips": {}, "photos_train": [], "photos_val": [], "photo_max": args.photo_max}

    for name in TRAIN_CLIPS + UNSEEN_CLIPS:
        path = os.path.join(args.data, name + ".y4m")
        n = y4mio.count_frames(path)
        if name in TRAIN_CLIPS:
            n_train = int(round(n * 0.8))
            info, rgb = clip_to_rgb8(path, 0, n_train)
            np.save(os.path.join(cache, f"video_{name}.npy"), rgb)
            manifest["clips"][name] = {"path": path, "frames": n, "train": [0, n_train],
                                       "val_seen": [n_train, n], "width": info["width"],
                                       "height": info["height"]}
            print(f"{name}: {n} frames, train 0..{n_train - 1}, seen-val {n_train}..{n - 1}")
        else:
            manifest["clips"][name] = {"path": path, "frames": n, "val_unseen": [0, n]}
            print(f"{name}: {n} frames, all unseen-val")

    photos = photo_list(pkgs)
    train, val = {}, {}
    for i, (name, path) in enumerate(photos):
        try:
            img = load_photo(path, args.photo_max)
        except (subprocess.CalledProcessError, ValueError) as e:
            print(f"skip {name}: {e}")
            continue
        if i % 5 == 0:
            val[name.replace("/", "__")] = img
            manifest["photos_val"].append(name)
        else:
            train[name.replace("/", "__")] = img
            manifest["photos_train"].append(name)
    np.savez(os.path.join(cache, "photos_train.npz"), **train)
    np.savez(os.path.join(cache, "photos_val.npz"), **val)
    print(f"photos: {len(train)} train, {len(val)} unseen-val (every 5th by sorted name)")
    tmp = man_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(manifest, f, indent=1)
    os.replace(tmp, man_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
