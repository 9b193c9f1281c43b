#!/usr/bin/env python3
"""Build the training / validation data of issues 3 and 12 under data/cache/.

    prepare_data.py [--data data] [--photo-max 512] [--force] [--contact-sheets DIR]

Inputs (never committed; data/ is git-ignored):
  data/{vtest,box,cup,tree}.y4m    2x downscaled clips from scripts/fetch_data.sh
  data/pkgs/                       Debian packages unpacked with `apt-get download` +
                                   `dpkg -x` (done here when missing): see PACKAGES
  data/clips/NAME.y4m              the other clips (EXTRA_CLIPS), converted here with ffmpeg
                                   (2x downscaled when the source is 480 lines or more)

Splits (fixed, independent of any seed):
  train clips      vtest, box, tree: the first 80% of the frames of each clip; node-opencv
                   motion.mov, openboard-common wannaworktogether.mp4 (3 excerpts),
                   castle-game-engine-doc flame: all of their frames
  seen-scenes val  the last 20% of the frames of vtest, box and tree
  unseen val       the whole cup clip, every 5th of the issue-3 photos by sorted name
                   (photos_val.npz), and WHOLE PACKAGES never trained on
                   (manifest "unseen_packages"): the python3-mecavideo clips, the
                   ukui-wallpapers and the libdlib19.1 face photos (photos_valpkg.npz)
  train photos     all other photos: the rest of the issue-3 set, one picture per
                   plasma-workspace-wallpapers theme, gimp-help-en screenshots and filter
                   examples (text, UI), cube2-data textures

Outputs in data/cache/:
  video_<name>.npy     uint8 [T, H, W, 3] RGB of the *training* frames (BT.601 limited,
                       bilinear chroma, as tools/common/y4m.c), rounded to 8 bits
  photos_train.npz / photos_val.npz / photos_valpkg.npz
                       uint8 [H, W, 3] per photo (long side <= --photo-max)
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
PACKAGES = ("opencv-doc", "python3-skimage", "mate-backgrounds", "visp-images-data",
            # issue 12
            "node-opencv", "openboard-common", "castle-game-engine-doc", "plasma-workspace-wallpapers",
            "gimp-help-en", "cube2-data", "python3-mecavideo", "ukui-wallpapers", "libdlib19.1")
# never trained on: evaluate.py's whole-package validation split
UNSEEN_PACKAGES = ("python3-mecavideo", "ukui-wallpapers", "libdlib19.1", "opencv-doc:cup")

MECA = "usr/share/pymecavideo/data/video"
CGE = "usr/share/doc/castle-game-engine-doc/examples/lazarus/two_controls/data/fireplace/flame"
# name: (package, path, split, first frame, frames (None: all), scale filter)
EXTRA_CLIPS = {
    "motion": ("node-opencv", "usr/share/doc/node-opencv/examples/files/motion.mov", "train",
               0, None, "scale=iw/2:ih/2"),
    "wanna1": ("openboard-common", "usr/share/openboard/library/videos/wannaworktogether.mp4",
               "train", 300, 150, "scale=iw/2:ih/2"),
    "wanna2": ("openboard-common", "usr/share/openboard/library/videos/wannaworktogether.mp4",
               "train", 2000, 150, "scale=iw/2:ih/2"),
    "wanna3": ("openboard-common", "usr/share/openboard/library/videos/wannaworktogether.mp4",
               "train", 4200, 150, "scale=iw/2:ih/2"),
    "flame": ("castle-game-engine-doc", CGE + "/flame_seamless_compressed.avi", "train",
              0, None, None),
    "balle": ("python3-mecavideo", MECA + "/balle-jbart.mp4", "unseen", 0, None, "scale=iw/2:ih/2"),
    "balle1": ("python3-mecavideo", MECA + "/balle1-vp9.avi", "unseen", 0, 120, None),
    "magnet": ("python3-mecavideo", MECA + "/Effet_force_magnetique.ogv", "unseen", 0, None, None),
    "mars": ("python3-mecavideo", MECA + "/retroMars2018.avi", "unseen", 0, None, "scale=iw/2:ih/2"),
}

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


PLASMA = "usr/share/wallpapers"
# plasma-workspace-wallpapers themes that are photographs (the others are vector drawings)
PLASMA_KEEP = ("Autumn", "BytheWater", "ColdRipple", "ColorfulCups", "DarkestHour", "EveningGlow",
               "FallenLeaf", "Grey", "Kite", "MilkyWay", "OneStandsOut", "Path", "summer_1am")
GIMP = "usr/share/gimp/2.0/help/en/images"
CUBE2 = "usr/share/games/cube2/packages"
UKUI = "usr/share/backgrounds"
DLIB = "usr/share/doc/libdlib19.1/examples/faces"


def _pick_size(folder):
    """The picture of a wallpaper theme closest to 1920 wide (smaller to decode)."""
    best = None
    for f in glob.glob(os.path.join(folder, "*")):
        try:
            w = int(os.path.basename(f).split("x")[0])
        except ValueError:
            continue
        key = abs(w - 1920)
        if best is None or key < best[0]:
            best = (key, f)
    return best[1] if best else None


def _image_size(path):
    probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                            "stream=width,height", "-of", "csv=p=0", path],
                           capture_output=True, text=True)
    try:
        w, h = map(int, probe.stdout.strip().split("\n")[0].split(",")[:2])
    except ValueError:
        return 0, 0
    return w, h


def extra_photo_list(pkgs):
    """Issue 12's training photos: [(name, path)], fixed choice."""
    out = []
    for t in PLASMA_KEEP:
        f = _pick_size(os.path.join(pkgs, PLASMA, t, "contents", "images"))
        if f:
            out.append(("plasma/" + t + os.path.splitext(f)[1], f))
    # gimp-help-en: screenshots of dialogs (text and UI) and the filter example photos;
    # only pictures of at least 200x150, every 3rd by sorted name to keep the set small
    for sub, every in (("dialogs", 3), ("filters/examples", 6), ("using", 4)):
        files = sorted(glob.glob(os.path.join(pkgs, GIMP, sub, "*.png"))
                       + glob.glob(os.path.join(pkgs, GIMP, sub, "*.jpg")))
        big = [f for f in files if min(_image_size(f)) >= 150 and max(_image_size(f)) >= 200]
        for f in big[::every]:
            out.append(("gimp/" + sub.replace("/", "_") + "_" + os.path.basename(f), f))
    # cube2-data: photo-derived texture maps (not normal/specular maps, not icons)
    for f in sorted(glob.glob(os.path.join(pkgs, CUBE2, "*", "*.jpg"))
                    + glob.glob(os.path.join(pkgs, CUBE2, "*", "*", "*.jpg"))):
        b = os.path.basename(f).lower()
        if any(k in b for k in ("_nm", "_nor", "normal", "_spec", "_glow", "_hm", "_local", "mask",
                                "dudv", "watern", "waterfalln", "_sc.", "license", "_128.", "_256.",
                                "_512.")):
            continue  # normal / specular / distortion maps, smaller copies, text
        if "/icons/" in f or "/hud/" in f or "/skyboxes/" in f:
            continue
        out.append(("cube2/" + os.path.relpath(f, os.path.join(pkgs, CUBE2)).replace("/", "_"), f))
    return [(n, f) for n, f in out if os.path.exists(f)]


def unseen_photo_list(pkgs):
    out = [("ukui/" + os.path.basename(f), f)
           for f in sorted(glob.glob(os.path.join(pkgs, UKUI, "*")))
           if f.lower().endswith((".jpg", ".png"))]
    out += [("dlib/" + os.path.basename(f), f)
            for f in sorted(glob.glob(os.path.join(pkgs, DLIB, "*.jpg")))]
    return out


def convert_clip(data, pkgs, name, spec):
    """EXTRA_CLIPS entry -> data/clips/NAME.y4m (yuv420p, limited range); returns the path."""
    pkg, rel, split, first, count, scale = spec
    out = os.path.join(data, "clips", name + ".y4m")
    if os.path.exists(out):
        return out
    os.makedirs(os.path.dirname(out), exist_ok=True)
    vf = [f"select=gte(n\\,{first})"] if first else []
    vf += ["setpts=N/25/TB"]
    if scale:
        vf.append(scale + ":flags=area")
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", os.path.join(pkgs, rel), "-an",
           "-vf", ",".join(vf), "-fps_mode", "passthrough", "-r", "25"]
    if count:
        cmd += ["-frames:v", str(count)]
    cmd += ["-pix_fmt", "yuv420p", "-color_range", "tv", "-f", "yuv4mpegpipe", out + ".tmp"]
    subprocess.run(cmd, check=True)
    os.replace(out + ".tmp", out)
    return out


def contact_sheet(path, items, cell=128, cols=10):
    """PNG of small thumbnails of [(name, uint8 [H, W, 3])] (to look at a package's pictures)."""
    rows = (len(items) + cols - 1) // cols
    img = np.full((rows * (cell + 2), cols * (cell + 2), 3), 64, np.uint8)
    for i, (_, a) in enumerate(items):
        h, w = a.shape[:2]
        s = cell / max(h, w)
        ys = (np.arange(max(1, int(h * s))) / s).astype(int).clip(0, h - 1)
        xs = (np.arange(max(1, int(w * s))) / s).astype(int).clip(0, w - 1)
        t = a[ys][:, xs]
        r, c = divmod(i, cols)
        img[r * (cell + 2):r * (cell + 2) + t.shape[0], c * (cell + 2):c * (cell + 2) + t.shape[1]] = t
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s",
                    f"{img.shape[1]}x{img.shape[0]}", "-i", "-", "-frames:v", "1", path],
                   input=img.tobytes(), check=True)


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
    ap.add_argument("--contact-sheets", metavar="DIR",
                    help="also write DIR/SET.png: thumbnails of every photo set and clip")
    args = ap.parse_args(argv)

    cache = os.path.join(args.data, "cache")
    os.makedirs(cache, exist_ok=True)
    man_path = os.path.join(cache, "manifest.json")
    if os.path.exists(man_path) and not args.force:
        print(f"{man_path} exists (use --force to rebuild)")
        return 0
    pkgs = ensure_packages(args.data)
    manifest = {"clips": {}, "photos_train": [], "photos_val": [], "photos_valpkg": [],
                "photo_max": args.photo_max, "unseen_packages": list(UNSEEN_PACKAGES)}
    sheets = {}

    for name in TRAIN_CLIPS + UNSEEN_CLIPS:
        path = os.path.join(args.data, name + ".y4m")
        n = y4mio.count_frames(path)
        if name in TRAIN_CLIPS:
            n_train = int(round(n * 0.8))
            info, rgb = clip_to_rgb8(path, 0, n_train)
            np.save(os.path.join(cache, f"video_{name}.npy"), rgb)
            manifest["clips"][name] = {"path": path, "frames": n, "train": [0, n_train],
                                       "val_seen": [n_train, n], "width": info["width"],
                                       "height": info["height"], "package": "opencv-doc"}
            print(f"{name}: {n} frames, train 0..{n_train - 1}, seen-val {n_train}..{n - 1}")
            sheets.setdefault("clips_train", []).append((name, rgb[0]))
        else:
            manifest["clips"][name] = {"path": path, "frames": n, "val_unseen": [0, n],
                                       "package": "opencv-doc"}
            print(f"{name}: {n} frames, all unseen-val")
    for name, spec in EXTRA_CLIPS.items():
        path = convert_clip(args.data, pkgs, name, spec)
        n = y4mio.count_frames(path)
        pkg, split = spec[0], spec[2]
        info, rgb = clip_to_rgb8(path, 0, n)
        c = {"path": path, "frames": n, "width": info["width"], "height": info["height"],
             "package": pkg, "source": spec[1]}
        if split == "train":
            np.save(os.path.join(cache, f"video_{name}.npy"), rgb)
            c["train"] = [0, n]
            sheets.setdefault("clips_train", []).append((name, rgb[0]))
        else:
            c["val_unseen"] = [0, n]
            sheets.setdefault("clips_unseen", []).append((name, rgb[0]))
        manifest["clips"][name] = c
        print(f"{name}: {n} frames {info['width']}x{info['height']} ({pkg}), {split}")

    def load_set(items, tag):
        out = {}
        for name, path in items:
            try:
                img = load_photo(path, args.photo_max)
            except (subprocess.CalledProcessError, ValueError) as e:
                print(f"skip {name}: {e}")
                continue
            out[name] = img
            sheets.setdefault(tag + "_" + name.split("/")[0], []).append((name, img))
        return out

    train, val, valpkg = {}, {}, {}
    for i, (name, img) in enumerate(load_set(photo_list(pkgs), "issue3").items()):
        if i % 5 == 0:
            val[name.replace("/", "__")] = img
            manifest["photos_val"].append(name)
        else:
            train[name.replace("/", "__")] = img
            manifest["photos_train"].append(name)
    for name, img in load_set(extra_photo_list(pkgs), "train").items():
        train[name.replace("/", "__")] = img
        manifest["photos_train"].append(name)
    for name, img in load_set(unseen_photo_list(pkgs), "unseen").items():
        valpkg[name.replace("/", "__")] = img
        manifest["photos_valpkg"].append(name)
    np.savez(os.path.join(cache, "photos_train.npz"), **train)
    np.savez(os.path.join(cache, "photos_val.npz"), **val)
    np.savez(os.path.join(cache, "photos_valpkg.npz"), **valpkg)
    print(f"photos: {len(train)} train, {len(val)} unseen-val (every 5th of the issue-3 set), "
          f"{len(valpkg)} unseen-package val")
    if args.contact_sheets:
        os.makedirs(args.contact_sheets, exist_ok=True)
        for tag, items in sheets.items():
            contact_sheet(os.path.join(args.contact_sheets, tag + ".png"), items)
    tmp = man_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(manifest, f, indent=1)
    os.replace(tmp, man_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
