#!/usr/bin/python3
"""The RD harness end to end on a short clip, checked with independent tools.

  test_rd_smoke.py BUILD_DIR WORKDIR [DATA_DIR]

Runs rd.py on 9 pictures (of DATA_DIR/tree.y4m when present, else ffmpeg's
testsrc2) with ARG's shipped models, two x265 QPs, two SVT-AV1 CRFs and a
stand-in VVenC (scripts that wrap x265 and ffmpeg: the real VVenC is not in
Debian), then checks:
- every point is in results.csv, with its bytes equal to the file on disk
  and bpp = 8 bytes / (w h n);
- the x265 points' PSNR-Y/U/V equal ffmpeg's psnr filter on ffmpeg's own
  decode of the kept bitstream, and ffprobe counts n pictures in it;
- the ARG point's PSNR equals argdec --psnr's;
- bdrate.csv has the SVT-AV1 rows (a number or a reason) and the plot is a
  PNG of 1200x860;
- the report names the codecs and, with no VVenC on PATH, prints the
  notice; --from-csv rebuilds the same BD table; bad arguments are refused.
"""
import csv
import os
import re
import shutil
import stat
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import y4mio  # noqa: E402

failures = []


def check(cond, what):
    print(('ok   ' if cond else 'FAIL ') + what)
    if not cond:
        failures.append(what)


def rd(args, env=None):
    return subprocess.run(['/usr/bin/python3', os.path.join(HERE, 'rd.py')] + args, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, env=env)


FAKE_VVENCAPP = r'''#!/bin/sh
# stand-in for vvencapp: parses its options and encodes the raw YUV with x265
while [ $# -gt 0 ]; do
  case "$1" in
    -i) i=$2; shift ;; -s) s=$2; shift ;; -r) r=$2; shift ;; -c) shift ;; --preset) shift ;;
    --qp) q=$2; shift ;; -t) t=$2; shift ;; -o) o=$2; shift ;; --version) echo "fake vvencapp 0.0"; exit 0 ;;
    *) echo "fake vvencapp: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
# VVenC codes 8-bit input in 10 bits: so does the stand-in
exec x265 --input "$i" --input-res "$s" --fps "$r" --qp "$q" --output-depth 10 --no-info --log-level error \
    --output "$o"
'''
FAKE_VVDECAPP = r'''#!/bin/sh
# stand-in for vvdecapp: -b IN -o OUT.yuv -d 10 -t N (10-bit little-endian output)
while [ $# -gt 0 ]; do
  case "$1" in
    -b) b=$2; shift ;; -o) o=$2; shift ;; -d) d=$2; shift ;; -t) shift ;;
    *) echo "fake vvdecapp: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[ "$d" = 10 ] || exit 3
exec ffmpeg -nostdin -v error -y -i "$b" -f rawvideo -pix_fmt yuv420p10le "$o"
'''


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    build, work = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    data = sys.argv[3] if len(sys.argv) > 3 else None
    if os.path.isdir(work):
        shutil.rmtree(work)
    os.makedirs(work)
    n = 9
    clip = os.path.join(work, 'clipsrc.y4m')
    tree = os.path.join(data, 'tree.y4m') if data else None
    if tree and os.path.isfile(tree):
        y4mio.copy_frames(tree, clip, n)
    else:
        print('note: no data/tree.y4m: using ffmpeg testsrc2')
        subprocess.run(['ffmpeg', '-nostdin', '-v', 'error', '-y', '-f', 'lavfi', '-i',
                        'testsrc2=size=96x64:rate=10', '-frames:v', str(n), '-pix_fmt', 'yuv420p', '-f',
                        'yuv4mpegpipe', clip], check=True)
    info = y4mio.Reader(clip).info
    w, h = info['width'], info['height']

    # refusals
    check(rd([clip]).returncode == 2, 'no --out: refused')
    check(rd(['--out', work + '/x', work + '/missing.y4m']).returncode == 2, 'missing clip: refused')
    check(rd(['--out', work + '/x', '--codecs', 'x265,bogus', clip]).returncode == 2, 'unknown codec: refused')
    check(rd(['--out', work + '/x', '--codecs', 'svtav1', clip]).returncode == 2, 'no anchor: refused')
    check(rd(['--out', work + '/x', '--x265-qp', '3a', clip]).returncode == 2, 'bad QP list: refused')

    codecs = 'arg,x265,svtav1' if shutil.which('SvtAv1EncApp') else 'arg,x265'
    out = os.path.join(work, 'out')
    report = os.path.join(work, 'REPORT.md')
    env = dict(os.environ)
    # the notice for an absent VVenC (when this machine has none)
    no_vvenc = not (shutil.which('vvencapp') or shutil.which('vvencFFapp'))
    r = rd(['--out', out, '--build', build, '--frames', str(n), '--codecs', codecs + (',vvenc' if no_vvenc else ''),
            '--x265-qp', '30,45', '--svtav1-crf', '45,60', '--keep', '--report', report, clip], env=env)
    print(r.stderr[-3000:])
    check(r.returncode == 0, f'rd.py ran (exit {r.returncode})')
    if no_vvenc:
        check('VVenC' in r.stderr and 'not on PATH' in r.stderr, 'the absent VVenC is announced')
    rows = list(csv.DictReader(open(os.path.join(out, 'results.csv'))))
    models = sorted(os.path.splitext(m)[0] for m in os.listdir(os.path.join(ROOT, 'models'))
                    if m.endswith('.safetensors') and not m.startswith('poet-'))
    want = {('arg', m) for m in models} | {('x265', 'qp30'), ('x265', 'qp45')}
    if 'svtav1' in codecs:
        want |= {('svtav1', 'crf45'), ('svtav1', 'crf60')}
    got = {(r['codec'], r['point']) for r in rows}
    check(got == want, f'results.csv has every point: {sorted(got)}')
    cw = os.path.join(out, 'work', 'clipsrc')
    src = os.path.join(cw, 'clipsrc.y4m')
    for r in rows:
        f = os.path.join(cw, f'{r["point"]}.mkv' if r['codec'] == 'arg' else
                         f'{r["codec"]}-{r["point"]}.{ {"x265": "hevc", "svtav1": "ivf"}[r["codec"]] }')
        size = os.path.getsize(f)
        check(int(r['bytes']) == size and abs(float(r['bpp']) - size * 8 / (w * h * n)) < 1e-6 * float(r['bpp'])
              and int(r['frames']) == n,
              f'{r["codec"]} {r["point"]}: bytes = file size {size}, bpp = 8 bytes / (w h n)')
        for k in ('psnr_y', 'psnr_yuv', 'ssim_y', 'msssim_y', 'enc_fps', 'dec_fps'):
            if r[k] == '' or not float(r[k]) > 0:
                check(False, f'{r["codec"]} {r["point"]}: {k} is set')
        if r['codec'] == 'x265':
            pr = subprocess.run(['ffprobe', '-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries',
                                 'stream=nb_read_frames', '-of', 'csv=p=0', f], stdout=subprocess.PIPE, text=True)
            check(pr.stdout.strip() == str(n), f'x265 {r["point"]}: ffprobe counts {pr.stdout.strip()} pictures')
            fr = subprocess.run(['ffmpeg', '-nostdin', '-hide_banner', '-i', f, '-i', src, '-lavfi',
                                 '[0]settb=1/25,setpts=N[a];[1]settb=1/25,setpts=N[b];[a][b]psnr', '-f', 'null',
                                 '-'], stderr=subprocess.PIPE, text=True)
            m = re.search(r'PSNR y:(\S+) u:(\S+) v:(\S+)', fr.stderr)
            ok = m and all(abs(float(r[k]) - float(v)) < 2e-6 for k, v in zip(('psnr_y', 'psnr_u', 'psnr_v'),
                                                                                m.groups()))
            check(bool(ok), f'x265 {r["point"]}: PSNR-Y/U/V {r["psnr_y"]}/{r["psnr_u"]}/{r["psnr_v"]} = ffmpeg '
                  f'psnr on its own decode {m.groups() if m else None}')
        if r['codec'] == 'arg':
            dr = subprocess.run([os.path.join(build, 'tools', 'argdec'), '-i', f, '--psnr', src,
                                 '-m', os.path.join(ROOT, 'models', r['point'] + '.safetensors')],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            m = re.search(r'PSNR Y ([\d.]+)\s+U ([\d.]+)\s+V ([\d.]+)', dr.stdout)
            ok = m and all(abs(float(r[k]) - float(v)) < 6e-4 for k, v in zip(('psnr_y', 'psnr_u', 'psnr_v'),
                                                                                m.groups()))
            check(bool(ok), f'ARG {r["point"]}: PSNR = argdec --psnr ({m.groups() if m else dr.stdout[-300:]})')
    bd = list(csv.DictReader(open(os.path.join(out, 'bdrate.csv'))))
    if 'svtav1' in codecs:
        sv = [b for b in bd if b['codec'] == 'svtav1']
        check(len(sv) == 4 and all(b['bd_rate_percent'] != '' or b['note'] for b in sv),
              f'bdrate.csv: 4 SVT-AV1 rows, each a number or a reason ({[b["bd_rate_percent"] or b["note"] for b in sv]})')
    argbd = [b for b in bd if b['codec'] == 'arg']
    check(len(argbd) == 4 * (1 if len(models) == 1 else 1) and
          (len(models) > 1 or all(b['bd_rate_percent'] == '' and '1 point' in b['note'] for b in argbd)),
          'bdrate.csv: ARG rows (with one model: no BD-rate, "1 point")')
    png = os.path.join(out, 'plots', 'clipsrc.png')
    if shutil.which('gnuplot'):
        with open(png, 'rb') as f:
            head = f.read(24)
        check(head[:8] == b'\x89PNG\r\n\x1a\n' and struct.unpack('>II', head[16:24]) == (1200, 860),
              'the plot is a 1200x860 PNG')
    rep = open(report).read()
    check('## BD-rate against HEVC' in rep and 'HEVC (x265 medium)' in rep and ('not on PATH' in rep or not no_vvenc),
          'the report has the BD table, the codecs and the VVenC notice')
    # --from-csv: same BD table without measuring
    out2 = os.path.join(work, 'out2')
    r2 = rd(['--out', out2, '--build', build, '--codecs', codecs, '--from-csv', os.path.join(out, 'results.csv')])
    check(r2.returncode == 0 and open(os.path.join(out2, 'bdrate.csv')).read() ==
          open(os.path.join(out, 'bdrate.csv')).read(), '--from-csv rebuilds the same bdrate.csv')

    # a stand-in VVenC: the harness's VVC plumbing (raw YUV in, vvdecapp out)
    fake = os.path.join(work, 'fakebin')
    os.makedirs(fake)
    for name, body in (('vvencapp', FAKE_VVENCAPP), ('vvdecapp', FAKE_VVDECAPP)):
        p = os.path.join(fake, name)
        with open(p, 'w') as f:
            f.write(body)
        os.chmod(p, os.stat(p).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    env3 = dict(env)
    env3['PATH'] = fake + os.pathsep + env['PATH']
    out3 = os.path.join(work, 'out3')
    r3 = rd(['--out', out3, '--build', build, '--frames', str(n), '--codecs', 'x265,vvenc', '--x265-qp', '30,45',
             '--vvenc-qp', '30,45', clip], env=env3)
    rows3 = list(csv.DictReader(open(os.path.join(out3, 'results.csv')))) if r3.returncode == 0 else []
    vv = {r['point']: r for r in rows3 if r['codec'] == 'vvenc'}
    hv = {r['point']: r for r in rows3 if r['codec'] == 'x265'}
    check(r3.returncode == 0 and set(vv) == {'qp30', 'qp45'} and
          all(abs(float(vv[k]['psnr_y']) - float(hv[k]['psnr_y'])) < 1.0 for k in vv),
          'stand-in VVenC (10-bit x265 inside) runs through raw YUV, vvdecapp and the 10-to-8-bit rounding '
          f'to about x265\'s PSNR (exit {r3.returncode}: {r3.stderr[-400:] if r3.returncode else ""})')
    # the rounding itself: PSNR of the stand-in's point = ffmpeg's psnr on
    # ffmpeg's 10-bit decode rounded by numpy here
    if r3.returncode == 0:
        import numpy as np
        bs = os.path.join(out3, 'work', 'clipsrc', 'vvenc-qp30.266')
        raw = subprocess.run(['ffmpeg', '-nostdin', '-v', 'error', '-i', bs, '-f', 'rawvideo', '-pix_fmt',
                              'yuv420p10le', '-'], stdout=subprocess.PIPE, check=True).stdout
        dec = np.minimum((np.frombuffer(raw, dtype='<u2').astype(np.int32) + 2) >> 2, 255)
        ref = []
        with y4mio.Reader(src) as rr:
            while True:
                fr = rr.read_raw()
                if fr is None:
                    break
                ref.append(np.frombuffer(fr[1], dtype=np.uint8))
        ref = np.concatenate(ref).astype(np.int32)
        ys = w * h
        per = ys + 2 * ((w + 1) // 2) * ((h + 1) // 2)
        ymask = np.zeros(per, dtype=bool)
        ymask[:ys] = True
        ymask = np.tile(ymask, n)
        mse = float(np.mean((dec[ymask] - ref[ymask]) ** 2)) if dec.size == ref.size else -1
        want = 10 * np.log10(255 ** 2 / mse) if mse > 0 else None
        check(want is not None and abs(float(vv['qp30']['psnr_y']) - want) < 2e-6,
              f'stand-in VVenC qp30: PSNR-Y {vv["qp30"]["psnr_y"]} = numpy on the rounded 10-bit decode ({want})')
    print(f'{len(failures)} failure(s)')
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
