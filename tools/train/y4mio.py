"""Y4M frames for training and evaluation (read with conformance/rd/y4mio.py) and YUV <-> RGB conversion matching tools/common/y4m.c.

    info, frames = read_y4m("data/cup.y4m", first=0, count=30)   # list of (Y, U, V) uint8
    rgb = yuv420_to_rgb(Y, U, V, chroma=info["chroma"], full_range=info["full_range"])
        # float32 [3, H, W] in [-1, 1], BT.601, bilinear chroma upsampling with the
        # chroma siting of the C tag (420jpeg: centred, 420mpeg2: left, 420paldv)

Only 8-bit 4:2:0 input is supported (what scripts/fetch_data.sh writes).
"""

import importlib.util
import os

import numpy as np

KR, KB = 0.299, 0.114
KG = 1.0 - KR - KB


def _load_reader():
    """The one validating Y4M reader of the project lives in conformance/rd/y4mio.py
    (stdlib only); load it under its own name, since this module is also `y4mio`."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                        "conformance", "rd", "y4mio.py")
    spec = importlib.util.spec_from_file_location("arg_rd_y4mio", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_rd = _load_reader()
Y4MError = _rd.Y4MError
count_frames = _rd.count_frames


def read_y4m(path, first=0, count=None):
    """Return (info, [(Y, U, V), ...]) for frames first .. first+count-1 (all if None).
    info: width, height, fps, chroma, full_range (from XCOLORRANGE=FULL), frames_total_seen.
    Raises Y4MError on a malformed or truncated stream or a layout other than 8-bit 4:2:0."""
    with _rd.Reader(path) as r:
        info = dict(r.info)
        if not info["chroma"].startswith("420") or info["chroma"] in ("420p10", "420p12"):
            raise Y4MError(f"{path}: only 8-bit 4:2:0 Y4M is supported, got C{info['chroma']}")
        info["full_range"] = any(t.upper() == "XCOLORRANGE=FULL" for t in info["tags"])
        frames = []
        idx = 0
        while count is None or idx < first + count:
            raw = r.read_raw() if idx < first else r.read()
            if raw is None:
                break
            if idx >= first:
                frames.append(tuple(plane.copy() for plane in raw))
            idx += 1
    info["frames_total_seen"] = idx
    return info, frames


def _taps(n_out, n_in, off):
    """Bilinear taps as in lerp_tap(): u = (x - off) / 2."""
    x = np.arange(n_out, dtype=np.float32)
    u = (x - off) / 2.0
    fl = np.floor(u)
    fr = (u - fl).astype(np.float32)
    a = np.clip(fl.astype(np.int64), 0, n_in - 1)
    b = np.clip(fl.astype(np.int64) + 1, 0, n_in - 1)
    return a, b, fr


def _siting(chroma, plane):
    if chroma == "420jpeg":
        return 0.5, 0.5
    if chroma in ("420mpeg2", "420"):
        return (0.0, 0.5) if chroma == "420mpeg2" else (0.5, 0.5)
    if chroma == "420paldv":
        return 0.0, (1.0 if plane == 1 else 0.0)
    return 0.0, 0.0


def _upsample(c, H, W, chroma, plane):
    ox, oy = _siting(chroma, plane)
    c = c.astype(np.float32)
    ya, yb, fy = _taps(H, c.shape[0], oy)
    v = c[ya] + fy[:, None] * (c[yb] - c[ya])
    xa, xb, fx = _taps(W, c.shape[1], ox)
    return v[:, xa] + fx[None, :] * (v[:, xb] - v[:, xa])


def yuv420_to_rgb(Y, U, V, chroma="420jpeg", full_range=False):
    """float32 [3, H, W] in [-1, 1] (BT.601), as y4m_yuv_to_rgb() with bilinear upsampling."""
    H, W = Y.shape
    if full_range:
        ymul, yoff, cmul = 255.0, 0.0, 255.0
    else:
        ymul, yoff, cmul = 219.0, 16.0, 224.0
    cb = _upsample(U, H, W, chroma, 1)
    cr = _upsample(V, H, W, chroma, 2)
    yp = (Y.astype(np.float32) - yoff) / ymul
    pb = (cb - 128.0) / cmul
    pr = (cr - 128.0) / cmul
    crr, cbb = 2.0 * (1.0 - KR), 2.0 * (1.0 - KB)
    r = yp + crr * pr
    b = yp + cbb * pb
    g = yp - (KR * crr * pr + KB * cbb * pb) / KG
    rgb = np.stack([r, g, b]) * 2.0 - 1.0
    return np.clip(rgb, -1.0, 1.0).astype(np.float32)


def rgb_to_y8(rgb, full_range=False):
    """[.., 3, H, W] in [-1, 1] -> 8-bit luma codes (float array of integers), BT.601."""
    x = (np.clip(rgb, -1.0, 1.0) + 1.0) * 0.5
    yp = KR * x[..., 0, :, :] + KG * x[..., 1, :, :] + KB * x[..., 2, :, :]
    ymul, yoff = (255.0, 0.0) if full_range else (219.0, 16.0)
    return np.clip(np.floor(yoff + ymul * yp + 0.5), 0, 255)
