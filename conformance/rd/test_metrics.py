#!/usr/bin/python3
"""Checks argqual (tools/common/metrics.c, ssim.c) against independent clients.

  test_metrics.py ARGQUAL WORKDIR [DATA_DIR]

1. PSNR per plane and ffmpeg-compatible SSIM per plane against ffmpeg's
   psnr and ssim filters (their plain C code: see ffmpeg_scores), per
   picture and over the clip, on clip pairs made
   with ffmpeg: real footage (the first pictures of DATA_DIR/cup.y4m and
   tree.y4m when they exist, else ffmpeg's synthetic testsrc2 and
   mandelbrot) against versions degraded by an MPEG-4 and an HEVC encode,
   a Gaussian blur and noise, plus an odd-sized clip.
2. Gaussian SSIM and MS-SSIM against a numpy implementation written here
   from the papers' definitions (Wang et al. 2004, Wang et al. 2003): 2D
   windows applied through sliding_window_view, not the C code's separable
   passes.
3. Closed-form answers: identical clips; flat pictures, whose SSIM is the
   luminance term l = (2ab + C1) / (a^2 + b^2 + C1) and whose MS-SSIM is
   l^0.1333 (the contrast-structure term is exactly 1 on flat pictures).
4. The Gaussian SSIM, which ARG's reports use, against ffmpeg's block SSIM:
   the two windows differ (11x11 Gaussian against flat 8x8 blocks, and
   ffmpeg's C1 is 64 times smaller), so they agree only to within
   SSIM_GAUSS_VS_FFMPEG, and must rank the distortions of a clip alike.
"""
import json
import os
import re
import subprocess
import sys

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import y4mio  # noqa: E402

# Tolerances.
# ffmpeg prints PSNR and SSIM with 6 decimals (rounding: 5e-7) and sums the
# block SSIM values in single precision (relative error up to ~1e-6 over a
# few thousand windows); argqual prints 6 (PSNR) and 8 (SSIM) decimals.
TOL_PSNR_DB = 2e-6
TOL_SSIM_FF = 3e-6
# argqual (double, separable filter) against numpy (double, 2D windows):
# only the printed 8 decimals separate them.
TOL_NUMPY = 2e-8
# Gaussian SSIM against ffmpeg's block SSIM: measured differences on these
# pairs are below 0.03 (the Gaussian index is the higher one on textured
# footage because of its larger C1); 0.06 leaves room for other content.
SSIM_GAUSS_VS_FFMPEG = 0.06

C1 = (0.01 * 255) ** 2
C2 = (0.03 * 255) ** 2
MS_WEIGHTS = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333]

failures = []


def check(cond, what):
    if cond:
        print(f'ok   {what}')
    else:
        print(f'FAIL {what}')
        failures.append(what)


# ---------------------------------------------------------------- numpy SSIM

def gaussian_window(ky, kx, sigma=1.5):
    """2D Gaussian window of ky x kx taps centred on the middle, sum 1."""
    iy = np.arange(ky) - (ky - 1) / 2.0
    ix = np.arange(kx) - (kx - 1) / 2.0
    g = np.exp(-(iy[:, None] ** 2 + ix[None, :] ** 2) / (2 * sigma * sigma))
    return g / g.sum()


def ssim_maps(x, y):
    """Luminance and contrast-structure maps at every valid position of the
    11x11 window (a smaller window on planes narrower than 11)."""
    x = x.astype(np.float64)
    y = y.astype(np.float64)
    ky, kx = min(11, x.shape[0]), min(11, x.shape[1])
    w = gaussian_window(ky, kx)

    def moment(img):
        return np.einsum('ijkl,kl->ij', sliding_window_view(img, (ky, kx)), w)

    mx, my = moment(x), moment(y)
    vx = moment(x * x) - mx * mx
    vy = moment(y * y) - my * my
    cxy = moment(x * y) - mx * my
    lum = (2 * mx * my + C1) / (mx * mx + my * my + C1)
    cs = (2 * cxy + C2) / (vx + vy + C2)
    return lum, cs


def ssim_ref(x, y):
    lum, cs = ssim_maps(x, y)
    return float(np.mean(lum * cs))


def msssim_ref(x, y):
    x = x.astype(np.float64)
    y = y.astype(np.float64)
    value = 1.0
    for j, wj in enumerate(MS_WEIGHTS):
        lum, cs = ssim_maps(x, y)
        if j == len(MS_WEIGHTS) - 1:
            term = float(np.mean(lum * cs))
        else:
            term = float(np.mean(cs))
        value *= max(term, 0.0) ** wj
        # 2x2 average, dropping an odd last row or column
        h, w = (x.shape[0] // 2) * 2, (x.shape[1] // 2) * 2
        x = x[:h, :w].reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
        y = y[:h, :w].reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
    return value


# ---------------------------------------------------------------- helpers

def run(cmd, **kw):
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def ffmpeg(*args):
    run(['ffmpeg', '-nostdin', '-v', 'error', '-y', *args])


def to_y4m(src, dst, vf=None, frames=None, extra=()):
    args = ['-i', src]
    if frames:
        args += ['-frames:v', str(frames)]
    if vf:
        args += ['-vf', vf]
    # passthrough: one output picture per input picture whatever the time base
    ffmpeg(*args, *extra, '-fps_mode', 'passthrough', '-pix_fmt', 'yuv420p', '-f', 'yuv4mpegpipe',
           '-strict', '-1', dst)


def argqual(argq, ref, dist):
    out = run([argq, '-r', ref, '-d', dist, '--format', 'json', '--per-frame']).stdout
    return json.loads(out)


def ffmpeg_scores(ref, dist, work):
    """Overall and per-picture PSNR and SSIM from ffmpeg's filters."""
    ps, ss = os.path.join(work, 'psnr.log'), os.path.join(work, 'ssim.log')
    # Pictures are paired by index (the filters pair them by timestamp, and
    # a codec round trip may change the time base).
    graph = ('[0]settb=1/25,setpts=N[d];[1]settb=1/25,setpts=N[r];[d]split[d1][d2];[r]split[r1][r2];'
             f'[d1][r1]psnr=stats_file={ps};[d2][r2]ssim=stats_file={ss}')
    # -cpuflags 0: ffmpeg's plain C code. Its x86 SIMD SSIM (ffmpeg 5.1 in
    # Debian 12) differs from its own C code by up to 0.01 on planes whose
    # width w has floor(w/4) - 1 = 1 (mod 4), e.g. 72, 88, 104, 120, 136.
    r = subprocess.run(['ffmpeg', '-nostdin', '-hide_banner', '-cpuflags', '0', '-i', dist, '-i', ref, '-lavfi', graph,
                        '-f', 'null', '-'],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=True)
    m = re.search(r'PSNR y:(\S+) u:(\S+) v:(\S+) average:(\S+)', r.stderr)
    s = re.search(r'SSIM Y:(\S+) \(\S+\) U:(\S+) \(\S+\) V:(\S+) \(\S+\)', r.stderr)
    if not m or not s:
        raise RuntimeError('cannot read ffmpeg psnr/ssim output:\n' + r.stderr[-2000:])
    per = []
    for line in open(ss):
        f = dict(kv.split(':', 1) for kv in line.split() if ':' in kv)
        per.append([float(f['Y']), float(f['U']), float(f['V'])])
    return ([float(v) for v in m.groups()], [float(v) for v in s.groups()], per)


def write_flat(path, w, h, frames, yval, uval=128, vval=128):
    with open(path, 'wb') as f:
        f.write(f'YUV4MPEG2 W{w} H{h} F25:1 Ip A1:1 C420jpeg\n'.encode())
        cw, ch = (w + 1) // 2, (h + 1) // 2
        for _ in range(frames):
            f.write(b'FRAME\n')
            f.write(bytes([yval]) * (w * h) + bytes([uval]) * (cw * ch) + bytes([vval]) * (cw * ch))


# ---------------------------------------------------------------- main

def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    argq, work = sys.argv[1], sys.argv[2]
    data = sys.argv[3] if len(sys.argv) > 3 else None
    os.makedirs(work, exist_ok=True)
    frames = 6

    sources = []
    for name in ('cup', 'tree'):
        p = os.path.join(data, name + '.y4m') if data else None
        if p and os.path.isfile(p):
            dst = os.path.join(work, f'{name}.y4m')
            y4mio.copy_frames(p, dst, frames)
            sources.append((name, dst))
    if not sources:
        print('note: no real clip under', data, '- using ffmpeg\'s synthetic testsrc2 and mandelbrot')
        for name, src in (('testsrc2', 'testsrc2=size=176x144:rate=25'),
                          ('mandelbrot', 'mandelbrot=size=160x120:rate=25')):
            dst = os.path.join(work, name + '.y4m')
            ffmpeg('-f', 'lavfi', '-i', src, '-frames:v', str(frames), '-pix_fmt', 'yuv420p',
                   '-f', 'yuv4mpegpipe', dst)
            sources.append((name, dst))
    # an odd size (not a multiple of 2, 4 or 8), from the first source
    odd = os.path.join(work, 'odd.y4m')
    to_y4m(sources[0][1], odd, vf='scale=93:61:flags=bicubic')
    sources.append(('odd93x61', odd))

    distortions = [
        ('mpeg4-q12', None, ['-c:v', 'mpeg4', '-q:v', '12']),
        ('hevc-crf42', None, ['-c:v', 'libx265', '-preset', 'ultrafast', '-crf', '42',
                              '-x265-params', 'log-level=error']),
        ('blur', 'gblur=sigma=1.2', None),
        ('noise', 'noise=alls=24:allf=t', None),
    ]

    for sname, src in sources:
        gauss_by_dist, ff_by_dist = [], []
        for dname, vf, codec in distortions:
            if sname.startswith('odd') and 'libx265' in (codec or []):
                continue  # x265 refuses odd 4:2:0 sizes
            dist = os.path.join(work, f'{sname}-{dname}.y4m')
            if codec:
                mkv = dist + '.mkv'
                ffmpeg('-i', src, *codec, '-fps_mode', 'passthrough', mkv)
                to_y4m(mkv, dist)
            else:
                to_y4m(src, dist, vf=vf)
            q = argqual(argq, src, dist)
            psnr_ff, ssim_ff, per_ff = ffmpeg_scores(src, dist, work)
            tag = f'{sname} vs {dname}'
            # 1. PSNR and block SSIM against ffmpeg
            dp = max(abs(q['psnr_y'] - psnr_ff[0]), abs(q['psnr_u'] - psnr_ff[1]), abs(q['psnr_v'] - psnr_ff[2]),
                     abs(q['psnr_all'] - psnr_ff[3]))
            check(dp <= TOL_PSNR_DB, f'{tag}: PSNR Y/U/V/all = ffmpeg psnr within {TOL_PSNR_DB} dB '
                  f'(Y {q["psnr_y"]:.6f} vs {psnr_ff[0]:.6f}, max diff {dp:.2g})')
            yuv = (6 * psnr_ff[0] + psnr_ff[1] + psnr_ff[2]) / 8
            check(abs(q['psnr_yuv'] - yuv) <= TOL_PSNR_DB, f'{tag}: PSNR-YUV = (6 Y + U + V) / 8 of ffmpeg\'s '
                  f'planes ({q["psnr_yuv"]:.6f} vs {yuv:.6f})')
            ds = max(abs(q['ssimff_y'] - ssim_ff[0]), abs(q['ssimff_u'] - ssim_ff[1]),
                     abs(q['ssimff_v'] - ssim_ff[2]))
            check(ds <= TOL_SSIM_FF, f'{tag}: ffmpeg-compatible SSIM Y/U/V = ffmpeg ssim within {TOL_SSIM_FF} '
                  f'(Y {q["ssimff_y"]:.8f} vs {ssim_ff[0]:.6f}, max diff {ds:.2g})')
            dpf = max(abs(pf['ssimff_' + c] - per_ff[i][k]) for i, pf in enumerate(q['per_frame'])
                      for k, c in enumerate('yuv'))
            check(len(per_ff) == len(q['per_frame']) and dpf <= TOL_SSIM_FF,
                  f'{tag}: per-picture ffmpeg-compatible SSIM = ffmpeg ssim stats (max diff {dpf:.2g})')
            # 2. Gaussian SSIM and MS-SSIM against numpy, per picture
            worst_s = worst_m = 0.0
            with y4mio.Reader(src) as ra, y4mio.Reader(dist) as rb:
                for i in range(len(q['per_frame'])):
                    a, b = ra.read(), rb.read()
                    pf = q['per_frame'][i]
                    for k, c in enumerate('yuv'):
                        worst_s = max(worst_s, abs(pf['ssim_' + c] - ssim_ref(a[k], b[k])))
                    worst_m = max(worst_m, abs(pf['msssim_y'] - msssim_ref(a[0], b[0])))
            check(worst_s <= TOL_NUMPY, f'{tag}: Gaussian SSIM Y/U/V = numpy reference per picture '
                  f'(max diff {worst_s:.2g})')
            check(worst_m <= TOL_NUMPY, f'{tag}: MS-SSIM Y = numpy reference per picture (max diff {worst_m:.2g}, '
                  f'clip {q["msssim_y"]:.6f})')
            # 4. Gaussian SSIM against ffmpeg's index
            dg = abs(q['ssim_y'] - ssim_ff[0])
            check(dg <= SSIM_GAUSS_VS_FFMPEG, f'{tag}: Gaussian SSIM-Y {q["ssim_y"]:.4f} within '
                  f'{SSIM_GAUSS_VS_FFMPEG} of ffmpeg\'s {ssim_ff[0]:.4f} (diff {dg:.4f})')
            gauss_by_dist.append(q['ssim_y'])
            ff_by_dist.append(ssim_ff[0])
        check(list(np.argsort(gauss_by_dist)) == list(np.argsort(ff_by_dist)),
              f'{sname}: Gaussian SSIM and ffmpeg SSIM rank the {len(gauss_by_dist)} distortions alike '
              f'({[round(v, 4) for v in gauss_by_dist]} vs {[round(v, 4) for v in ff_by_dist]})')

    # 3. closed forms
    src = sources[0][1]
    q = argqual(argq, src, src)
    check(q['psnr_y'] == 100.0 and all(q[k] == 1.0 for k in ('ssim_y', 'ssim_u', 'ssim_v', 'msssim_y',
                                                            'ssimff_y')),
          'identical clips: PSNR capped at 100 dB, every SSIM and MS-SSIM exactly 1')
    fa, fb = os.path.join(work, 'flat100.y4m'), os.path.join(work, 'flat110.y4m')
    write_flat(fa, 64, 48, 2, 100)
    write_flat(fb, 64, 48, 2, 110, 120, 140)
    q = argqual(argq, fa, fb)
    lum = (2 * 100 * 110 + C1) / (100 ** 2 + 110 ** 2 + C1)
    lum_u = (2 * 128 * 120 + C1) / (128 ** 2 + 120 ** 2 + C1)
    check(abs(q['ssim_y'] - lum) <= 1e-8 and abs(q['ssim_u'] - lum_u) <= 1e-8,
          f'flat pictures 100 vs 110: SSIM-Y = l = {lum:.8f} (got {q["ssim_y"]:.8f}), SSIM-U = {lum_u:.8f}')
    check(abs(q['msssim_y'] - lum ** 0.1333) <= 1e-8,
          f'flat pictures: MS-SSIM-Y = l^0.1333 = {lum ** 0.1333:.8f} (got {q["msssim_y"]:.8f})')
    check(abs(q['psnr_y'] - 10 * np.log10(255 ** 2 / 100)) <= 1e-6 and
          abs(q['psnr_v'] - 10 * np.log10(255 ** 2 / 144)) <= 1e-6,
          f'flat pictures: PSNR-Y = 10 log10(255^2 / 10^2) = {10 * np.log10(255 ** 2 / 100):.6f}')

    print(f'{len(failures)} failure(s)')
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
