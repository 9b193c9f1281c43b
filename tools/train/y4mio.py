"""Minimal Y4M reader and YUV <-> RGB conversion matching tools/common/y4m.c.

    info, frames = read_y4m("data/cup.y4m", first=0, count=30)   # list of (Y, U, V) uint8
    rgb = yuv420_to_rgb(Y, U, V, chroma=info["chroma"], full_range=info["full_range"])
        # float32 [3, H, W] in [-1, 1], BT.601, bilinear chroma upsampling with the
        # chroma siting of the C tag (420jpeg: centred, 420mpeg2: left, 420paldv)

Only 8-bit 4:2:0 input is supported (what scripts/fetch_data.sh writes).
"""

import numpy as np

KR, KB = 0.299, 0.114
KG = 1.0 - KR - KB


def _parse_header(line):
    parts = line.decode("ascii").split()
    if not parts or parts[0] != "YUV4MPEG2":
        raise ValueError("not a YUV4MPEG2 file")
    info = {"chroma": "420jpeg", "full_range": False, "fps": (25, 1)}
    for p in parts[1:]:
        tag, val = p[0], p[1:]
        if tag == "W":
            info["width"] = int(val)
        elif tag == "H":
            info["height"] = int(val)
        elif tag == "F":
            a, b = val.split(":")
            info["fps"] = (int(a), int(b))
        elif tag == "C":
            info["chroma"] = val
        elif tag == "X" and val.startswith("COLORRANGE="):
            info["full_range"] = val.split("=", 1)[1].upper() == "FULL"
    if not info["chroma"].startswith("420") or info["chroma"] in ("420p10", "420p12"):
        raise ValueError(f"only 8-bit 4:2:0 Y4M is supported, got C{info['chroma']}")
    return info


def read_y4m(path, first=0, count=None):
    """Return (info, [(Y, U, V), ...]) for frames first .. first+count-1 (all if None)."""
    with open(path, "rb") as f:
        data = f.read()
    nl = data.index(b"\n")
    info = _parse_header(data[:nl])
    W, H = info["width"], info["height"]
    cw, ch = (W + 1) // 2, (H + 1) // 2
    fsize = W * H + 2 * cw * ch
    pos = nl + 1
    frames = []
    idx = 0
    while pos < len(data):
        e = data.index(b"\n", pos)
        if not data[pos:e].startswith(b"FRAME"):
            raise ValueError(f"{path}: bad frame header at byte {pos}")
        pos = e + 1
        if idx >= first and (count is None or idx < first + count):
            buf = np.frombuffer(data, np.uint8, fsize, pos)
            Y = buf[:W * H].reshape(H, W)
            U = buf[W * H:W * H + cw * ch].reshape(ch, cw)
            V = buf[W * H + cw * ch:].reshape(ch, cw)
            frames.append((Y.copy(), U.copy(), V.copy()))
        pos += fsize
        idx += 1
        if count is not None and idx >= first + count:
            break
    info["frames_total_seen"] = idx
    return info, frames


def count_frames(path):
    with open(path, "rb") as f:
        data = f.read()
    return data.count(b"FRAME")  # good enough for these files (binary payload may not contain it)


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
