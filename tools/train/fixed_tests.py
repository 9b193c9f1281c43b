"""Fixed quality tests that every ARG model card reports (issue 12), used by evaluate.py.

colour   SMPTE colour bars (ffmpeg lavfi smptebars, 320x240, 17 pictures, yuv420p) and flat
         fields over the RGB gamut (levels {0, 64, 128, 192, 255} per channel, 125 fields of
         17 pictures of 64x64): PSNR of the 8-bit Y, U and V planes (the reconstruction is
         converted to BT.601 limited-range 4:2:0, chroma by 2x2 means), and the mean colour
         of every bar / field in 8-bit RGB, source against decoded (error = the largest
         channel difference of the means, over all pictures). "ceiling" is the PSNR of the
         source's own RGB put through the same conversion (what a perfect codec would get).
gop      one 16-latent-frame GOP (61 pictures of a real clip coded as one causal sequence)
         and the next GOP (pictures 61..121, a fresh causal state): per-picture PSNR-Y of the
         first GOP, drift = mean PSNR-Y of its last 10 pictures minus its first 10, and
         pumping = |jump of mean luma from picture 60 to 61 in the decoded clip - the same
         jump in the source| (8-bit levels).
"""

import math
import os
import subprocess
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

import y4mio

KR, KB = 0.299, 0.114
KG = 1.0 - KR - KB


def rgb_to_yuv420_8(rgb):
    """float [T, 3, H, W] in [-1, 1] -> (Y [T, H, W], U, V [T, H/2, W/2]) 8-bit codes (float64),
    BT.601 limited range, chroma as 2x2 means."""
    x = (torch.as_tensor(rgb).double().clamp(-1, 1) + 1) * 0.5
    r, g, b = x[:, 0], x[:, 1], x[:, 2]
    yp = KR * r + KG * g + KB * b
    pb = (b - yp) / (2 * (1 - KB))
    pr = (r - yp) / (2 * (1 - KR))
    Y = torch.clamp(torch.floor(16 + 219 * yp + 0.5), 0, 255)
    T, H, W = yp.shape

    def sub(c):
        c = F.avg_pool2d(c[:, None], 2, ceil_mode=True)[:, 0]
        return torch.clamp(torch.floor(128 + 224 * c + 0.5), 0, 255)
    return Y.numpy(), sub(pb).numpy(), sub(pr).numpy()


def psnr8(a, b):
    mse = float(np.mean(np.square(np.asarray(a, np.float64) - np.asarray(b, np.float64))))
    return 100.0 if mse == 0 else 10 * math.log10(255.0 ** 2 / mse)


def to_rgb8(x):
    """float [..., 3, H, W] in [-1, 1] -> float64 8-bit RGB codes, same shape."""
    return torch.round((torch.as_tensor(x).double().clamp(-1, 1) + 1) * 127.5).numpy()


def code_clips(model, x):
    """x float [B, 3, T, H, W] (T = 1 + ft*k, H, W multiples of fs) -> decoded, same shape."""
    with torch.no_grad():
        q, _ = model.quantize(model.encode(x))
        return model.decode(q).clamp(-1, 1)


def code_clip(model, x):
    """x float [T, 3, H, W] -> decoded [T, 3, H, W] (evaluate.run_model's padding rules)."""
    ft, fs = model.ft, model.fs
    T, _, H, W = x.shape
    Tp = 1 + ft * math.ceil((T - 1) / ft)
    Hp, Wp = fs * math.ceil(H / fs), fs * math.ceil(W / fs)
    v = x.transpose(0, 1)[None]
    if Tp > T:
        v = torch.cat([v, v[:, :, -1:].expand(-1, -1, Tp - T, -1, -1)], dim=2)
    if Hp > H or Wp > W:
        v = F.pad(v, (0, Wp - W, 0, Hp - H, 0, 0), mode="replicate")
    return code_clips(model, v)[0, :, :T, :H, :W].transpose(0, 1)


def smpte_bars(frames=17, size="320x240"):
    """(info, [(Y, U, V)]) of ffmpeg's smptebars as 8-bit 4:2:0."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "bars.y4m")
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                        f"smptebars=size={size}:rate=25", "-frames:v", str(frames),
                        "-pix_fmt", "yuv420p", "-f", "yuv4mpegpipe", path], check=True)
        return y4mio.read_y4m(path, 0, frames)


def flat_regions(rgb8, min_area=150, margin=3):
    """Regions of one flat colour in an 8-bit RGB picture [3, H, W]: pixels whose
    (2 margin + 1)^2 neighbourhood has the same colour, split into connected parts.
    -> [(mask [H, W] bool, colour (3,))] with at least min_area pixels."""
    from scipy import ndimage
    code = torch.as_tensor(rgb8[0] * 65536 + rgb8[1] * 256 + rgb8[2], dtype=torch.float64)[None, None]
    k = 2 * margin + 1
    hi = F.max_pool2d(code, k, 1, margin)
    lo = -F.max_pool2d(-code, k, 1, margin)
    inner = ((hi == lo) & (hi == code))[0, 0].numpy()
    out = []
    codes = code[0, 0].numpy()
    for c in np.unique(codes[inner]):
        lab, n = ndimage.label(inner & (codes == c))
        for i in range(1, n + 1):
            m = lab == i
            if m.sum() >= min_area:
                out.append((m, rgb8[:, m][:, 0].copy()))
    return out


def colour_test(model, strip=None):
    info, frames = smpte_bars()
    x = torch.from_numpy(np.stack([y4mio.yuv420_to_rgb(Y, U, V, info["chroma"], info["full_range"])
                                   for Y, U, V in frames]))
    y = code_clip(model, x)
    Ys = np.stack([f[0] for f in frames])
    Us = np.stack([f[1] for f in frames])
    Vs = np.stack([f[2] for f in frames])
    Yd, Ud, Vd = rgb_to_yuv420_8(y)
    Yc, Uc, Vc = rgb_to_yuv420_8(x)
    src8, dec8 = to_rgb8(x), to_rgb8(y)
    bars = []
    for m, col in flat_regions(src8[0]):
        dm = dec8[:, :, m].mean(axis=(0, 2))
        ys, xs = np.nonzero(m)
        bars.append({"x": int(xs.mean()), "y": int(ys.mean()), "area": int(m.sum()),
                     "src": [int(v) for v in col], "dec": [round(float(v), 1) for v in dm],
                     "err": round(float(np.abs(dm - col).max()), 2)})
    bars.sort(key=lambda b: (b["y"] > 160, b["x"]))
    res = {"bars": {"psnr_y": psnr8(Ys, Yd), "psnr_u": psnr8(Us, Ud), "psnr_v": psnr8(Vs, Vd),
                    "ceiling_y": psnr8(Ys, Yc), "ceiling_u": psnr8(Us, Uc), "ceiling_v": psnr8(Vs, Vc),
                    "bar_err_max": max(b["err"] for b in bars),
                    "bar_err_mean": float(np.mean([b["err"] for b in bars])), "regions": bars}}
    if strip is not None:
        strip["bars"] = [(src8[i].transpose(1, 2, 0).astype(np.uint8), dec8[i].transpose(1, 2, 0).astype(np.uint8))
                         for i in (0, len(frames) - 1)]

    # flat fields over the gamut
    lv = (0, 64, 128, 192, 255)
    cols = np.array([(r, g, b) for r in lv for g in lv for b in lv], np.float64)
    T, S = 17, 64
    src = torch.from_numpy(cols / 127.5 - 1.0).float()[:, :, None, None, None].expand(-1, -1, T, S, S)
    decs = torch.cat([code_clips(model, src[i:i + 25].contiguous()) for i in range(0, len(cols), 25)])
    srcf = src.transpose(1, 2).reshape(-1, 3, S, S)
    decf = decs.transpose(1, 2).reshape(-1, 3, S, S)
    a, b = rgb_to_yuv420_8(srcf), rgb_to_yuv420_8(decf)
    dm = to_rgb8(decs).mean(axis=(2, 3, 4))                                   # [N, 3]
    err = np.abs(dm - cols).max(axis=1)
    worst = np.argsort(-err)[:5]
    res["flat"] = {"fields": len(cols), "psnr_y": psnr8(a[0], b[0]), "psnr_u": psnr8(a[1], b[1]),
                   "psnr_v": psnr8(a[2], b[2]), "err_max": float(err.max()), "err_mean": float(err.mean()),
                   "worst": [{"src": [int(v) for v in cols[i]], "dec": [round(float(v), 1) for v in dm[i]],
                              "err": round(float(err[i]), 2)} for i in worst]}
    if strip is not None:
        def mosaic(v):   # [N, 3, T, S, S] -> 5 rows of 25 tiles of 16x16 (last picture)
            t = to_rgb8(v[:, :, -1, 24:40, 24:40]).astype(np.uint8)           # [N, 3, 16, 16]
            t = t.reshape(5, 25, 3, 16, 16).transpose(0, 3, 1, 4, 2).reshape(80, 400, 3)
            return t
        strip["flat"] = [(mosaic(src), mosaic(decs))]
    return res


def gop_test(model, path, first=0, strip=None):
    """Two consecutive 61-picture GOPs of the clip at `path` from picture `first`."""
    n = 61
    info, frames = y4mio.read_y4m(path, first, 2 * n)
    if len(frames) < 2 * n:
        return {"error": f"{path}: {len(frames)} pictures, need {2 * n}"}
    x = torch.from_numpy(np.stack([y4mio.yuv420_to_rgb(Y, U, V, info["chroma"], info["full_range"])
                                   for Y, U, V in frames]))
    y = torch.cat([code_clip(model, x[:n]), code_clip(model, x[n:])])
    Ys = np.stack([f[0] for f in frames]).astype(np.float64)
    Yd = y4mio.rgb_to_y8(y.numpy())
    curve = [psnr8(Ys[i], Yd[i]) for i in range(2 * n)]
    g1 = curve[:n]
    ms, md = Ys.mean(axis=(1, 2)), Yd.mean(axis=(1, 2))
    jump_src, jump_dec = ms[n] - ms[n - 1], md[n] - md[n - 1]
    # flicker inside the GOP: mean |change of mean luma| between pictures, decoded vs source
    flick = float(np.mean(np.abs(np.diff(md[:n]) - np.diff(ms[:n]))))
    res = {"clip": os.path.basename(path), "first": first, "pictures": 2 * n,
           "psnr_y_gop1": psnr8(Ys[:n], Yd[:n]), "psnr_y_gop2": psnr8(Ys[n:], Yd[n:]),
           "drift": float(np.mean(g1[-10:]) - np.mean(g1[:10])),
           "drift_gop2": float(np.mean(curve[-10:]) - np.mean(curve[n:n + 10])),
           "pumping": float(abs(jump_dec - jump_src)), "jump_src": float(jump_src),
           "jump_dec": float(jump_dec), "luma_flicker": flick,
           "curve": [round(c, 2) for c in curve]}
    if strip is not None:
        src8, dec8 = to_rgb8(x), to_rgb8(y)
        strip["gop-" + os.path.splitext(os.path.basename(path))[0]] = [
            (src8[i].transpose(1, 2, 0).astype(np.uint8), dec8[i].transpose(1, 2, 0).astype(np.uint8))
            for i in (0, 30, n - 1, n)]
    return res


def summary_lines(fixed):
    out = []
    if "colour" in fixed:
        b, f = fixed["colour"]["bars"], fixed["colour"]["flat"]
        out.append(f"colour bars: PSNR Y {b['psnr_y']:.2f} U {b['psnr_u']:.2f} V {b['psnr_v']:.2f} dB "
                   f"(ceiling {b['ceiling_y']:.1f}/{b['ceiling_u']:.1f}/{b['ceiling_v']:.1f}); "
                   f"bar colour error max {b['bar_err_max']:.1f} mean {b['bar_err_mean']:.1f} levels")
        for r in b["regions"]:
            out.append(f"  bar at ({r['x']:3d},{r['y']:3d}) src {r['src']} dec {r['dec']} err {r['err']}")
        out.append(f"flat fields ({f['fields']}): PSNR Y {f['psnr_y']:.2f} U {f['psnr_u']:.2f} "
                   f"V {f['psnr_v']:.2f} dB; colour error max {f['err_max']:.1f} mean {f['err_mean']:.1f}; "
                   "worst " + ", ".join(f"{w['src']}->{w['dec']}" for w in f["worst"][:3]))
    for g in fixed.get("gop", []):
        if "error" in g:
            out.append("gop: " + g["error"])
            continue
        out.append(f"GOP {g['clip']}: PSNR-Y {g['psnr_y_gop1']:.2f} / {g['psnr_y_gop2']:.2f} dB, drift "
                   f"{g['drift']:+.2f} dB, pumping {g['pumping']:.2f} levels (src jump {g['jump_src']:+.2f}, "
                   f"dec {g['jump_dec']:+.2f}), luma flicker {g['luma_flicker']:.2f}")
        c = g["curve"][:61]
        out.append("  PSNR-Y per picture (GOP 1, every 4th): " + " ".join(f"{v:.1f}" for v in c[::4]))
    return out
