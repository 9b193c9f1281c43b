#!/usr/bin/python3
"""Rate-distortion harness: ARG against HEVC (x265), AV1 (SVT-AV1, libaom)
and VVC (VVenC, when on PATH) on the same clips.

  rd.py --out DIR [options] CLIP [CLIP ...]

For every clip (Y4M, or anything ffmpeg reads) the first --frames pictures
are taken as the source (8-bit 4:2:0). Every operating point of every codec
encodes the source and is decoded back:

  arg     every shipped model (models/*.safetensors, or --models), argenc
          and argdec; ARG has no rate control, one model = one point
  x265    HEVC, x265 --preset medium, constant QP sweep (--x265-qp)
  svtav1  AV1, SvtAv1EncApp --preset 8, CRF sweep (--svtav1-crf)
  aom     AV1, aomenc --cpu-used=6 good quality, --end-usage=q sweep (--aom-cq)
  vvenc   VVC, vvencapp or vvencFFapp --preset medium, QP sweep (--vvenc-qp),
          only when on PATH with a VVC decoder (vvdecapp or an ffmpeg that
          decodes VVC); a notice says so otherwise

Rates come from the whole output file (container or elementary stream
included): bpp = 8 bytes / (width height pictures), kbps = 8 bytes /
1000 / (pictures / frame rate). Quality comes from argqual (tools/argqual):
PSNR-Y/U/V, PSNR-YUV = (6 Y + U + V) / 8, SSIM-Y/U/V (Gaussian 11x11),
MS-SSIM-Y, and the ffmpeg-compatible SSIM-Y. Speed: pictures / wall time of
the encoder and the decoder command (2 threads by default; the decoder
times include writing the Y4M).

Outputs under DIR: results.csv (one row per point), bdrate.csv and
bdrate.md (Bjøntegaard delta rate of every codec against the x265 anchor,
per clip and metric), plots/CLIP.png (gnuplot), and with --report a
Markdown report.
"""
import argparse
import csv
import datetime
import glob
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bdrate  # noqa: E402
import y4mio  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

DEFAULT_CODECS = 'arg,x265,svtav1,aom,vvenc'
ANCHOR = 'x265'

# Quality columns of results.csv, and how they are named in tables.
METRICS = [
    ('psnr_y', 'PSNR-Y'), ('psnr_yuv', 'PSNR-YUV'), ('ssim_y', 'SSIM-Y'), ('msssim_y', 'MS-SSIM-Y'),
]
CSV_FIELDS = ['clip', 'width', 'height', 'frames', 'fps', 'codec', 'point', 'params', 'bytes', 'payload_bytes',
              'bpp', 'kbps', 'psnr_y', 'psnr_u', 'psnr_v', 'psnr_yuv', 'psnr_all', 'ssim_y', 'ssim_u', 'ssim_v',
              'msssim_y', 'ssimff_y', 'enc_s', 'dec_s', 'enc_fps', 'dec_fps']

LABELS = {'arg': 'ARG', 'x265': 'HEVC (x265 medium)', 'svtav1': 'AV1 (SVT-AV1 preset 8)',
          'aom': 'AV1 (libaom cpu-used 6)', 'vvenc': 'VVC (VVenC medium)'}


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def ints(s):
    try:
        v = [int(x) for x in s.split(',') if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f'not a comma-separated list of integers: {s!r}')
    if not v:
        raise argparse.ArgumentTypeError('empty list')
    return v


def quality_db(metric, v):
    """The quality axis of BD-rate: PSNR in dB as is; SSIM and MS-SSIM as
    -10 log10(1 - x) (dB), which spreads the values near 1."""
    if v is None:
        return None
    if metric.startswith('psnr'):
        return v
    return 100.0 if v >= 1.0 else -10.0 * math.log10(1.0 - v)


def run_timed(cmd, log_path=None, env=None):
    """Run a command; returns wall seconds. Raises RuntimeError with the
    tail of its output on failure."""
    t0 = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    dt = time.perf_counter() - t0
    if log_path:
        with open(log_path, 'wb') as f:
            f.write(' '.join(cmd).encode() + b'\n' + r.stdout)
    if r.returncode != 0:
        tail = r.stdout.decode('utf-8', 'replace')[-1500:]
        raise RuntimeError(f'{os.path.basename(cmd[0])} failed (exit {r.returncode}): {tail}')
    return dt


def tool_version(cmd, pick=None):
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                           timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return 'unknown'
    lines = r.stdout.decode('utf-8', 'replace').splitlines()
    for line in lines:
        if pick is None or pick in line:
            return line.strip()
    return 'unknown'


def atomic_write(path, data, mode='w'):
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.' + os.path.basename(path) + '.', dir=d)
    try:
        with os.fdopen(fd, mode) as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.isfile(tmp):
            os.unlink(tmp)
        raise


# ------------------------------------------------------------------ codecs

class Codec:
    name = ''
    ext = ''

    def __init__(self, args):
        self.args = args
        self.t = str(args.threads)

    def available(self):
        """(True, '') or (False, notice)."""
        return True, ''

    def points(self):
        """[(point label, params text)]"""
        return []

    def encode_cmd(self, src, info, point, out):
        raise NotImplementedError

    def decode_cmds(self, bitstream, info, dec):
        """Commands whose total wall time is the decode time."""
        raise NotImplementedError

    def payload(self, path, frames):
        """Bytes of coded video without the container, when known."""
        return os.path.getsize(path)

    def version(self):
        return ''


def ffmpeg_decode_cmd(bitstream, dec, threads, decoder=None):
    cmd = ['ffmpeg', '-nostdin', '-v', 'error', '-y', '-threads', threads]
    if decoder:
        cmd += ['-c:v', decoder]
    return cmd + ['-i', bitstream, '-fps_mode', 'passthrough', '-pix_fmt', 'yuv420p', '-f', 'yuv4mpegpipe',
                  '-strict', '-1', dec]


def ivf_payload(path):
    """Bytes of the frames of an IVF file without its 32-byte file header
    and 12-byte frame headers (validated while walking it)."""
    size = os.path.getsize(path)
    with open(path, 'rb') as f:
        head = f.read(32)
        if len(head) != 32 or head[:4] != b'DKIF':
            return size
        hlen = int.from_bytes(head[6:8], 'little')
        pos, payload = hlen, 0
        f.seek(pos)
        while pos + 12 <= size:
            fh = f.read(12)
            n = int.from_bytes(fh[:4], 'little')
            if pos + 12 + n > size:
                return size
            payload += n
            pos += 12 + n
            f.seek(pos)
        return payload


class Arg(Codec):
    name = 'arg'
    ext = 'mkv'

    def __init__(self, args):
        super().__init__(args)
        self.enc = os.path.join(args.build, 'tools', 'argenc')
        self.dec = os.path.join(args.build, 'tools', 'argdec')
        if args.models:
            self.models = [m for m in args.models.split(',') if m]
        else:
            # tokenizers only (not the token transformer, poet-*.safetensors)
            self.models = sorted(m for m in glob.glob(os.path.join(ROOT, 'models', '*.safetensors'))
                                 if not os.path.basename(m).startswith('poet-'))
        self.stats = {}

    def available(self):
        for p in (self.enc, self.dec):
            if not os.access(p, os.X_OK):
                return False, f'ARG: {p} not built (meson setup {self.args.build} && ninja -C {self.args.build})'
        if not self.models:
            return False, 'ARG: no model (models/*.safetensors)'
        for m in self.models:
            if not os.path.isfile(m):
                return False, f'ARG: model {m} not found'
        return True, ''

    def points(self):
        return [(os.path.splitext(os.path.basename(m))[0], f'model={os.path.basename(m)}') for m in self.models]

    def _model(self, point):
        for m in self.models:
            if os.path.splitext(os.path.basename(m))[0] == point:
                return m
        raise KeyError(point)

    def encode_cmd(self, src, info, point, out):
        self.stats[out] = out + '.json'
        return [self.enc, '-i', src, '-o', out, '-m', self._model(point), '--threads', self.t, '--quiet',
                '--stats', out + '.json']

    def decode_cmds(self, bitstream, info, dec):
        return [[self.dec, '-i', bitstream, '-o', dec, '-m', self._model(self._point_of(bitstream)),
                 '--threads', self.t]]

    def _point_of(self, bitstream):
        return os.path.basename(bitstream).rsplit('.', 1)[0]

    def payload(self, path, frames):
        try:
            with open(path + '.json') as f:
                return int(json.load(f)['video_bytes'])
        except (OSError, ValueError, KeyError):
            return os.path.getsize(path)

    def version(self):
        try:
            rev = subprocess.run(['git', '-C', ROOT, 'rev-parse', '--short', 'HEAD'], stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL).stdout.decode().strip()
        except OSError:
            rev = ''
        return f'ARG argenc/argdec (git {rev or "unknown"}), models: ' + \
            ', '.join(os.path.basename(m) for m in self.models)


class X265(Codec):
    name = 'x265'
    ext = 'hevc'

    def available(self):
        if not shutil.which('x265'):
            return False, 'x265 not on PATH (apt-get install x265)'
        return True, ''

    def points(self):
        return [(f'qp{q}', f'--preset medium --qp {q}') for q in self.args.x265_qp]

    def encode_cmd(self, src, info, point, out):
        q = point[2:]
        # --no-info: no SEI with the encoder's version and options string
        # (about 1.5 kB per file, which would distort the lowest rates).
        return ['x265', '--input', src, '--preset', 'medium', '--qp', q, '--no-info', '--pools', self.t,
                '--log-level', 'error', '--output', out]

    def decode_cmds(self, bitstream, info, dec):
        return [ffmpeg_decode_cmd(bitstream, dec, self.t)]

    def version(self):
        v = tool_version(['x265', '--version'], 'version')
        return 'x265 ' + v.split('version', 1)[1].strip() if 'version' in v else v


class SvtAv1(Codec):
    name = 'svtav1'
    ext = 'ivf'

    def available(self):
        if not shutil.which('SvtAv1EncApp'):
            return False, 'SvtAv1EncApp not on PATH (apt-get install svt-av1)'
        return True, ''

    def points(self):
        return [(f'crf{q}', f'--preset 8 --crf {q}') for q in self.args.svtav1_crf]

    def encode_cmd(self, src, info, point, out):
        return ['SvtAv1EncApp', '-i', src, '-b', out, '--preset', '8', '--crf', point[3:], '--lp', self.t,
                '--progress', '0']

    def decode_cmds(self, bitstream, info, dec):
        return [ffmpeg_decode_cmd(bitstream, dec, self.t, 'libdav1d')]

    def payload(self, path, frames):
        return ivf_payload(path)

    def version(self):
        return tool_version(['SvtAv1EncApp', '--version'], 'SVT')


class Aom(Codec):
    name = 'aom'
    ext = 'ivf'

    def available(self):
        if not shutil.which('aomenc'):
            return False, 'aomenc not on PATH (apt-get install aom-tools)'
        return True, ''

    def points(self):
        return [(f'cq{q}', f'--cpu-used=6 --end-usage=q --cq-level={q}') for q in self.args.aom_cq]

    def encode_cmd(self, src, info, point, out):
        return ['aomenc', src, '-o', out, '--ivf', '--cpu-used=6', '--end-usage=q', f'--cq-level={point[2:]}',
                f'--threads={self.t}', '--quiet']

    def decode_cmds(self, bitstream, info, dec):
        return [ffmpeg_decode_cmd(bitstream, dec, self.t, 'libdav1d')]

    def payload(self, path, frames):
        return ivf_payload(path)

    def version(self):
        v = tool_version(['aomenc', '--help'], 'AOMedia Project AV1 Encoder')
        return 'aomenc (libaom ' + v.rsplit('Encoder', 1)[1].replace('(default)', '').strip() + ')' \
            if 'Encoder' in v else v


class VVenC(Codec):
    """VVC with Fraunhofer's VVenC. Not in Debian 12, so not tested here:
    the options are those of vvencapp 1.x (raw YUV input, which every
    version reads) and of vvencFFapp (the VTM-style names)."""
    name = 'vvenc'
    ext = '266'

    def __init__(self, args):
        super().__init__(args)
        self.app = shutil.which('vvencapp') or shutil.which('vvencFFapp')
        self.decoder = None
        if shutil.which('vvdecapp'):
            self.decoder = 'vvdecapp'
        elif b' vvc ' in subprocess.run(['ffmpeg', '-hide_banner', '-decoders'], stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL).stdout:
            self.decoder = 'ffmpeg'

    def available(self):
        if not self.app:
            return False, ('VVenC (vvencapp or vvencFFapp) is not on PATH: VVC (H.266) is left out. '
                           'It is not packaged in Debian 12; build it from https://github.com/fraunhoferhhi/vvenc '
                           'and put vvencapp and vvdecapp on PATH to add VVC.')
        if not self.decoder:
            return False, (f'{os.path.basename(self.app)} found, but no VVC decoder (vvdecapp, or ffmpeg >= 7 '
                           'with its vvc decoder): VVC is left out.')
        return True, ''

    def points(self):
        return [(f'qp{q}', f'--preset medium --qp {q}') for q in self.args.vvenc_qp]

    def encode_cmd(self, src, info, point, out):
        yuv = src[:-4] + '.yuv'
        w, h = info['width'], info['height']
        fps = max(1, round(info['fps'][0] / info['fps'][1]))
        if os.path.basename(self.app) == 'vvencFFapp':
            return [self.app, '-i', yuv, '-wdt', str(w), '-hgt', str(h), '-fr', str(fps), '--preset', 'medium',
                    '-q', point[2:], '-t', self.t, '-b', out]
        return [self.app, '-i', yuv, '-s', f'{w}x{h}', '-r', str(fps), '-c', 'yuv420', '--preset', 'medium',
                '--qp', point[2:], '-t', self.t, '-o', out]

    def prepare(self, src, info):
        """vvencapp reads raw YUV: write the source's planes once."""
        yuv = src[:-4] + '.yuv'
        if not os.path.isfile(yuv):
            with y4mio.Reader(src) as r, open(yuv + '.tmp', 'wb') as f:
                while True:
                    fr = r.read_raw()
                    if fr is None:
                        break
                    f.write(fr[1])
            os.replace(yuv + '.tmp', yuv)

    def decode_cmds(self, bitstream, info, dec):
        """VVenC codes 8-bit input in 10 bits (Main 10). The decoded 10-bit
        pictures are brought back to 8 bits by rounding, (v + 2) >> 2, in
        post_decode: ffmpeg's own conversion dithers (or truncates with
        sws_dither=none), which would bias the PSNR."""
        raw = dec + '.yuv'
        if self.decoder == 'ffmpeg':
            pr = subprocess.run(['ffprobe', '-v', 'error', '-select_streams', 'v:0', '-show_entries',
                                 'stream=pix_fmt', '-of', 'csv=p=0', bitstream], stdout=subprocess.PIPE, text=True)
            if pr.stdout.strip() == 'yuv420p':
                return [ffmpeg_decode_cmd(bitstream, dec, self.t)]
            return [['ffmpeg', '-nostdin', '-v', 'error', '-y', '-threads', self.t, '-i', bitstream,
                     '-fps_mode', 'passthrough', '-f', 'rawvideo', '-pix_fmt', 'yuv420p10le', raw]]
        # vvdecapp -d 10: 10-bit output whatever the coded depth (an 8-bit
        # stream is shifted up, which the rounding undoes exactly)
        return [['vvdecapp', '-b', bitstream, '-o', raw, '-d', '10', '-t', self.t]]

    def post_decode(self, info, dec):
        raw = dec + '.yuv'
        if os.path.isfile(raw):
            raw10_to_y4m(raw, info, dec)
            os.unlink(raw)

    def version(self):
        return tool_version([self.app, '--version']) if self.app else ''


def raw10_to_y4m(raw, info, dst):
    """Planar 4:2:0 10-bit little-endian pictures -> 8-bit Y4M, each sample
    rounded: (v + 2) >> 2, clamped to 255."""
    import numpy as np
    w, h = info['width'], info['height']
    n_samples = w * h + 2 * ((w + 1) // 2) * ((h + 1) // 2)
    size = os.path.getsize(raw)
    if size == 0 or size % (2 * n_samples):
        raise RuntimeError(f'{raw}: {size} bytes is not a whole number of {w}x{h} 10-bit 4:2:0 pictures')
    num, den = info['fps']
    with open(raw, 'rb') as f, open(dst + '.tmp', 'wb') as out:
        out.write(f'YUV4MPEG2 W{w} H{h} F{num}:{den} Ip A0:0 C420jpeg\n'.encode())
        while True:
            buf = f.read(2 * n_samples)
            if not buf:
                break
            v = np.frombuffer(buf, dtype='<u2').astype(np.int32)
            out.write(b'FRAME\n')
            out.write(np.minimum((v + 2) >> 2, 255).astype(np.uint8).tobytes())
    os.replace(dst + '.tmp', dst)


CODEC_CLASSES = {c.name: c for c in (Arg, X265, SvtAv1, Aom, VVenC)}


# ------------------------------------------------------------------ sources

def prepare_source(clip, frames, work):
    """The first `frames` pictures of clip as an 8-bit 4:2:0 Y4M with even
    dimensions; returns (path, info, pictures)."""
    name = os.path.splitext(os.path.basename(clip))[0]
    dst = os.path.join(work, name + '.y4m')
    info = None
    try:
        with y4mio.Reader(clip) as r:
            info = r.info
    except (y4mio.Y4MError, OSError):
        info = None
    if info and info['chroma'].startswith('420') and info['width'] % 2 == 0 and info['height'] % 2 == 0:
        info, n = y4mio.copy_frames(clip, dst, frames)
    else:
        # anything ffmpeg reads: 8-bit 4:2:0, even size, one picture per frame
        tmp = dst + '.tmp.y4m'
        subprocess.run(['ffmpeg', '-nostdin', '-v', 'error', '-y', '-i', clip, '-frames:v', str(frames),
                        '-vf', 'crop=trunc(iw/2)*2:trunc(ih/2)*2', '-fps_mode', 'passthrough',
                        '-pix_fmt', 'yuv420p', '-f', 'yuv4mpegpipe', '-strict', '-1', tmp], check=True)
        os.replace(tmp, dst)
        with y4mio.Reader(dst) as r:
            info = r.info
        n = y4mio.count_frames(dst)
    if n == 0:
        raise RuntimeError(f'{clip}: no picture')
    return name, dst, info, n


# ------------------------------------------------------------------ measuring

def measure(argqual, src, dec):
    r = subprocess.run([argqual, '-r', src, '-d', dec, '--format', 'json'], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise RuntimeError('argqual: ' + r.stderr.decode('utf-8', 'replace').strip())
    return json.loads(r.stdout)


def run_point(codec, clip, src, info, frames, point, params, work, argqual):
    out = os.path.join(work, f'{codec.name}-{point}.{codec.ext}')
    if codec.name == 'arg':
        out = os.path.join(work, f'{point}.{codec.ext}')
    dec = out + '.dec.y4m'
    for p in (out, dec):
        if os.path.isfile(p):
            os.unlink(p)
    logp = out + '.log'
    enc_s = run_timed(codec.encode_cmd(src, info, point, out), logp)
    if not os.path.isfile(out) or os.path.getsize(out) == 0:
        raise RuntimeError(f'{codec.name} {point}: no output file')
    dec_s = 0.0
    for cmd in codec.decode_cmds(out, info, dec):
        dec_s += run_timed(cmd, logp + '.dec')
    if hasattr(codec, 'post_decode'):
        codec.post_decode(info, dec)
    q = measure(argqual, src, dec)
    if q['frames'] != frames:
        raise RuntimeError(f'{codec.name} {point}: {q["frames"]} pictures decoded, {frames} coded')
    size = os.path.getsize(out)
    w, h = info['width'], info['height']
    fps = info['fps'][0] / info['fps'][1]
    row = {
        'clip': clip, 'width': w, 'height': h, 'frames': frames, 'fps': round(fps, 6),
        'codec': codec.name, 'point': point, 'params': params, 'bytes': size,
        'payload_bytes': codec.payload(out, frames),
        'bpp': size * 8.0 / (w * h * frames), 'kbps': size * 8.0 / 1000.0 / (frames / fps),
        'enc_s': enc_s, 'dec_s': dec_s, 'enc_fps': frames / enc_s, 'dec_fps': frames / dec_s,
    }
    for k in ('psnr_y', 'psnr_u', 'psnr_v', 'psnr_yuv', 'psnr_all', 'ssim_y', 'ssim_u', 'ssim_v', 'msssim_y',
              'ssimff_y'):
        row[k] = q.get(k)
    if not os.environ.get('RD_KEEP_DECODED') and not codec.args.keep:
        os.unlink(dec)
        for p in (dec + '.yuv',):
            if os.path.isfile(p):
                os.unlink(p)
    return row


# ------------------------------------------------------------------ analysis

def payload_bpp(r):
    return r['payload_bytes'] * 8.0 / (r['width'] * r['height'] * r['frames'])


def curve(rows, clip, codec, metric):
    pts = [(r['bpp'], quality_db(metric, r[metric])) for r in rows
           if r['clip'] == clip and r['codec'] == codec and r.get(metric) is not None]
    return sorted(pts, key=lambda p: p[0])


def point_vs_anchor(rows, clip, row, metric):
    """Compare one point with the anchor curve at equal quality:
    (text, anchor rate at the point's quality or None, dominating anchor
    point or None)."""
    anc = [r for r in rows if r['clip'] == clip and r['codec'] == ANCHOR and r.get(metric) is not None]
    if not anc:
        return 'no anchor', None, None
    q = quality_db(metric, row[metric])
    pts = [(r['bpp'], quality_db(metric, r[metric])) for r in anc]
    dom = [r for r in anc if r['bpp'] <= row['bpp'] and quality_db(metric, r[metric]) >= q]
    dom = min(dom, key=lambda r: r['bpp']) if dom else None
    ra = bdrate.rate_at_quality(pts, q)
    if ra is not None:
        return f'{(row["bpp"] / ra - 1) * 100:+.1f}%', ra, dom
    lo = min(anc, key=lambda r: quality_db(metric, r[metric]))
    hi = max(anc, key=lambda r: quality_db(metric, r[metric]))
    if q < quality_db(metric, lo[metric]):
        return f'below {ANCHOR} range', None, dom
    if q > quality_db(metric, hi[metric]):
        return f'above {ANCHOR} range', None, dom
    return 'n/a', None, dom


def bd_table(rows, clips, codecs):
    """[{clip, codec, metric, value, note}] of BD-rate against the anchor."""
    out = []
    for clip in clips:
        for c in codecs:
            if c == ANCHOR:
                continue
            for m, _ in METRICS:
                a, t = curve(rows, clip, ANCHOR, m), curve(rows, clip, c, m)
                if not a or not t:
                    continue
                if len(t) < 2:
                    # a single operating point: no curve to integrate
                    note, _, dom = point_vs_anchor(rows, clip, [r for r in rows if r['clip'] == clip and
                                                                r['codec'] == c][0], m)
                    if dom is not None:
                        note = f'dominated by {ANCHOR} {dom["point"]}'
                    elif note.startswith('below') or note.startswith('above'):
                        note = 'no overlap'
                    else:
                        note = f'{note} at equal quality'
                    out.append({'clip': clip, 'codec': c, 'metric': m, 'value': None,
                                'note': f'1 point: {note}'})
                    continue
                v, why = bdrate.bd_rate(a, t)
                out.append({'clip': clip, 'codec': c, 'metric': m, 'value': v, 'note': why})
    return out


def fmt_bd(e):
    if e is None:
        return '—'
    if e['value'] is None:
        return e['note']
    return f'{e["value"]:+.1f}%'


# ------------------------------------------------------------------ plots

def plot_clip(rows, clip, codecs, path, work, gnuplot='gnuplot'):
    rs = [r for r in rows if r['clip'] == clip]
    if not rs:
        return False
    w, h, n = int(rs[0]['width']), int(rs[0]['height']), int(rs[0]['frames'])
    datafiles = {}
    for c in codecs:
        pts = sorted([r for r in rs if r['codec'] == c], key=lambda r: r['bpp'])
        if not pts:
            continue
        dp = os.path.join(work, f'plot-{clip}-{c}.dat')
        with open(dp, 'w') as f:
            f.write('# bpp psnr_y psnr_yuv ssim_y msssim_y label\n')
            for r in pts:
                f.write(f'{r["bpp"]:.6g} {r["psnr_y"]:.4f} {r["psnr_yuv"]:.4f} {r["ssim_y"]:.6f} '
                        f'{r["msssim_y"] if r["msssim_y"] is not None else float("nan"):.6f} {r["point"]} '
                        f'{payload_bpp(r):.6g}\n')
        datafiles[c] = dp
    style = {'arg': 'lc rgb "#d62728" pt 7 ps 1.8', 'x265': 'lc rgb "#1f77b4" pt 5 ps 0.8',
             'svtav1': 'lc rgb "#2ca02c" pt 9 ps 0.9', 'aom': 'lc rgb "#9467bd" pt 11 ps 0.9',
             'vvenc': 'lc rgb "#ff7f0e" pt 13 ps 0.9'}
    tmp = path + '.tmp.png'
    lines = [
        'set terminal pngcairo size 1200,860 font "sans,10"',
        f'set output "{tmp}"',
        f'set multiplot layout 2,2 title "{clip} ({w}x{h}, {n} pictures): quality against bits per pixel '
        f'(whole file)"',
        'set logscale x', 'set grid', 'set key bottom right', 'set xlabel "bits per pixel"',
        'set format x "%g"', 'set offsets 0, 0, graph 0.06, graph 0.06',
    ]
    xs = [r['bpp'] for r in rs] + [payload_bpp(r) for r in rs]
    lines.append(f'set xrange [{min(xs) / 1.4:.6g}:{max(xs) * 1.4:.6g}]')
    for col, (m, label) in zip((2, 3, 4, 5), METRICS):
        unit = ' (dB)' if m.startswith('psnr') else ''
        lines.append('set yrange [*:*]' if m.startswith('psnr') else 'set yrange [*:1]')
        lines.append(f'set ylabel "{label}{unit}"')
        lines.append(f'set title "{label}"')
        parts = []
        for c, dp in datafiles.items():
            kind = 'points' if c == 'arg' else 'linespoints'
            parts.append(f'"{dp}" using 1:{col} with {kind} {style.get(c, "")} title "{LABELS.get(c, c)}"')
            if c == 'arg':
                parts.append(f'"{dp}" using 7:{col} with points lc rgb "#d62728" pt 6 ps 1.8 '
                             f'title "ARG, video payload only (no Matroska)"')
        lines.append('plot ' + ', \\\n     '.join(parts))
    lines.append('unset multiplot')
    script = os.path.join(work, f'plot-{clip}.gp')
    with open(script, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    r = subprocess.run([gnuplot, script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if r.returncode != 0 or not os.path.isfile(tmp):
        log(f'rd: gnuplot failed for {clip}: {r.stdout.decode("utf-8", "replace")[-800:]}')
        if os.path.isfile(tmp):
            os.unlink(tmp)
        return False
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return True


# ------------------------------------------------------------------ outputs

def write_csv(path, rows):
    import io
    s = io.StringIO()
    wr = csv.DictWriter(s, fieldnames=CSV_FIELDS, lineterminator='\n')
    wr.writeheader()
    for r in rows:
        o = {}
        for k in CSV_FIELDS:
            v = r.get(k)
            if isinstance(v, float):
                o[k] = f'{v:.8g}' if k in ('bpp', 'kbps', 'fps') else f'{v:.6f}' if k.startswith(('psnr', 'ssim',
                                                                                                   'msssim')) \
                    else f'{v:.3f}'
            else:
                o[k] = '' if v is None else v
        wr.writerow(o)
    atomic_write(path, s.getvalue())


def read_csv(path):
    rows = []
    with open(path) as f:
        for r in csv.DictReader(f):
            for k in CSV_FIELDS:
                if k in ('clip', 'codec', 'point', 'params'):
                    continue
                v = r.get(k, '')
                r[k] = None if v in ('', None) else float(v)
            rows.append(r)
    return rows


def bd_markdown(bd, clips, codecs):
    lines = ['| clip | codec | ' + ' | '.join(lbl for _, lbl in METRICS) + ' |',
             '| --- | --- | ' + ' | '.join('---' for _ in METRICS) + ' |']
    for clip in clips:
        for c in codecs:
            if c == ANCHOR:
                continue
            es = {e['metric']: e for e in bd if e['clip'] == clip and e['codec'] == c}
            if not es:
                continue
            lines.append(f'| {clip} | {LABELS.get(c, c)} | ' +
                         ' | '.join(fmt_bd(es.get(m)) for m, _ in METRICS) + ' |')
    # mean over the clips where every one is defined
    for c in codecs:
        if c == ANCHOR:
            continue
        cells, any_def = [], False
        for m, _ in METRICS:
            vals = [e['value'] for e in bd if e['codec'] == c and e['metric'] == m]
            defined = [v for v in vals if v is not None]
            if vals and len(defined) == len(vals):
                cells.append(f'{statistics.mean(defined):+.1f}%')
                any_def = True
            elif defined:
                cells.append(f'{statistics.mean(defined):+.1f}% ({len(defined)} of {len(vals)} clips)')
                any_def = True
            else:
                cells.append('—')
        if any_def:
            lines.append(f'| **mean** | {LABELS.get(c, c)} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


def write_bd_csv(path, bd):
    import io
    s = io.StringIO()
    wr = csv.writer(s, lineterminator='\n')
    wr.writerow(['clip', 'codec', 'anchor', 'metric', 'bd_rate_percent', 'note'])
    for e in bd:
        wr.writerow([e['clip'], e['codec'], ANCHOR, e['metric'],
                     '' if e['value'] is None else f'{e["value"]:.3f}', e['note']])
    atomic_write(path, s.getvalue())


def f2(v, d=2):
    return '—' if v is None else f'{v:.{d}f}'


def rd_table_md(rows, clip, codecs):
    lines = ['| codec | point | bytes | bpp | kbps | PSNR-Y | PSNR-U | PSNR-V | PSNR-YUV | SSIM-Y | MS-SSIM-Y | '
             'enc fps | dec fps |',
             '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |']
    for c in codecs:
        for r in sorted([r for r in rows if r['clip'] == clip and r['codec'] == c], key=lambda r: -r['bpp']):
            lines.append(f'| {LABELS.get(c, c)} | {r["point"]} | {int(r["bytes"])} | {r["bpp"]:.4f} | '
                         f'{r["kbps"]:.1f} | {f2(r["psnr_y"])} | {f2(r["psnr_u"])} | {f2(r["psnr_v"])} | '
                         f'{f2(r["psnr_yuv"])} | {f2(r["ssim_y"], 4)} | {f2(r["msssim_y"], 4)} | '
                         f'{r["enc_fps"]:.1f} | {r["dec_fps"]:.1f} |')
    return '\n'.join(lines) + '\n'


def arg_vs_anchor_md(rows, clips):
    """ARG's operating points against the anchor at equal quality."""
    lines = ['| clip | model | bpp (file) | bpp (video payload) | PSNR-Y | x265 bpp at that PSNR-Y | Δrate | '
             'MS-SSIM-Y | x265 bpp at that MS-SSIM | Δrate | lowest-rate x265 point (bpp, PSNR-Y, MS-SSIM-Y) |',
             '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |']
    facts = []
    for clip in clips:
        anc = [r for r in rows if r['clip'] == clip and r['codec'] == ANCHOR]
        low = min(anc, key=lambda r: r['bpp']) if anc else None
        for r in [r for r in rows if r['clip'] == clip and r['codec'] == 'arg']:
            t1, ra1, dom1 = point_vs_anchor(rows, clip, r, 'psnr_y')
            t2, ra2, dom2 = point_vs_anchor(rows, clip, r, 'msssim_y')
            lowtxt = (f'{low["point"]}: {low["bpp"]:.4f}, {low["psnr_y"]:.2f} dB, {low["msssim_y"]:.4f}'
                      if low else '—')
            lines.append(f'| {clip} | {r["point"]} | {r["bpp"]:.4f} | {payload_bpp(r):.4f} | {r["psnr_y"]:.2f} | '
                         f'{f2(ra1, 4)} | {t1} | {f2(r["msssim_y"], 4)} | {f2(ra2, 4)} | {t2} | {lowtxt} |')
            facts.append({'clip': clip, 'row': r, 'psnr': (t1, ra1, dom1), 'msssim': (t2, ra2, dom2),
                          'low': low})
    return '\n'.join(lines) + '\n', facts


def speed_md(rows, codecs):
    lines = ['| codec | median encode fps | median decode fps | clips × points |',
             '| --- | ---: | ---: | ---: |']
    for c in codecs:
        rs = [r for r in rows if r['codec'] == c]
        if rs:
            lines.append(f'| {LABELS.get(c, c)} | {statistics.median(r["enc_fps"] for r in rs):.1f} | '
                         f'{statistics.median(r["dec_fps"] for r in rs):.1f} | {len(rs)} |')
    return '\n'.join(lines) + '\n'


def findings(rows, facts, bd, clips, codecs):
    """Data-driven sentences on where ARG wins and loses."""
    out, wins, below = [], [], []
    for f in facts:
        r, low = f['row'], f['low']
        name = f'**{f["clip"]}** ({r["point"]})'
        parts = []
        for key, metric, label, unit, nd in (('psnr', 'psnr_y', 'PSNR-Y', ' dB', 2),
                                              ('msssim', 'msssim_y', 'MS-SSIM-Y', '', 4)):
            t, ra, dom = f[key]
            val = r[metric]
            if ra is not None:
                pct = (r['bpp'] / ra - 1) * 100
                parts.append(f'at its {label} of {val:.{nd}f}{unit}, x265 needs {ra:.4f} bpp, so ARG spends '
                             f'{abs(pct):.0f}% {"more" if pct > 0 else "fewer"} bits')
                if pct < 0:
                    wins.append(f'{f["clip"]} ({r["point"]}) on {label}')
            elif dom is not None:
                parts.append(f'on {label} ARG\'s {val:.{nd}f}{unit} is beaten by x265 {dom["point"]} with '
                             f'{dom[metric]:.{nd}f}{unit} at {dom["bpp"]:.4f} bpp, {r["bpp"] / dom["bpp"]:.1f}× '
                             f'fewer bits (no overlap, so no BD-rate)')
            elif t.startswith('below') and low is not None:
                parts.append(f'its {label} ({val:.{nd}f}{unit}) is below what x265 gives at QP 51, at a rate '
                             f'x265 does not reach')
                below.append(f'{f["clip"]} ({r["point"]}, {label})')
        pay = payload_bpp(r)
        dom_pay = [a for a in rows if a['clip'] == f['clip'] and a['codec'] == ANCHOR and a['bpp'] <= pay and
                   a['psnr_y'] >= r['psnr_y'] and (a['msssim_y'] or 0) >= (r['msssim_y'] or 0)]
        tail = (f' Without its Matroska overhead ({pay:.4f} bpp of video payload, '
                f'{(1 - pay / r["bpp"]) * 100:.0f}% less) ARG is still beaten on both metrics by x265 '
                f'{min(dom_pay, key=lambda a: a["bpp"])["point"]}.' if dom_pay else
                f' Counting only its video payload ({pay:.4f} bpp) x265 no longer dominates it on both metrics.')
        near = []
        for c in codecs:
            if c in (ANCHOR, 'arg'):
                continue
            cand = [a for a in rows if a['clip'] == f['clip'] and a['codec'] == c]
            if cand:
                a = min(cand, key=lambda a: abs(math.log(a['bpp'] / r['bpp'])))
                near.append(f'{LABELS.get(c, c)} {a["point"]}: {a["bpp"]:.4f} bpp, {a["psnr_y"]:.2f} dB '
                            f'({a["psnr_y"] - r["psnr_y"]:+.1f} dB), MS-SSIM-Y {a["msssim_y"]:.4f}')
        near_txt = (' Nearest in rate: ' + '; '.join(near) + '.') if near else ''
        out.append(f'- {name}, {r["bpp"]:.4f} bpp: ' + '; '.join(parts) + '.' + tail + near_txt)
    if below:
        out.insert(0, '- ARG reaches rates below x265\'s coarsest quantiser (QP 51), but only with lower '
                      'quality than QP 51 gives, so this is no win: ' + '; '.join(below) + '.')
    if not wins:
        out.insert(0, '- **ARG wins nowhere** in these measurements: on every clip, for PSNR-Y and MS-SSIM-Y '
                      'alike, x265 reaches ARG\'s quality with fewer bits, beats it on rate and quality '
                      'at once, or (below QP 51\'s rate) gives better quality with a few more bits.')
    else:
        out.insert(0, '- ARG needs fewer bits than x265 for the same quality in: ' + '; '.join(wins) + '.')
    for c in codecs:
        if c in (ANCHOR, 'arg'):
            continue
        vals = [e['value'] for e in bd if e['codec'] == c and e['metric'] == 'psnr_y' and e['value'] is not None]
        if vals:
            out.append(f'- For scale: {LABELS.get(c, c)} against x265, BD-rate on PSNR-Y averages '
                       f'{statistics.mean(vals):+.1f}% over {len(vals)} clips.')
    return '\n'.join(out) + '\n'


def write_report(path, rows, bd, clips, codecs, notices, versions, args, plots_rel, elapsed, errors=()):
    frames = sorted({int(r['frames']) for r in rows})
    now = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')
    cpu = platform.processor() or platform.machine()
    try:
        for line in open('/proc/cpuinfo'):
            if line.startswith('model name'):
                cpu = line.split(':', 1)[1].strip()
                break
    except OSError:
        pass
    argtab, facts = arg_vs_anchor_md(rows, clips)
    md = []
    md.append('# ARG against HEVC, AV1 and VVC: rate-distortion report\n')
    md.append(f'Generated by `conformance/rd/make_report.sh` on {now} ({os.cpu_count()} cores, {cpu}; '
              f'{args.threads} threads per codec), in {elapsed / 60:.1f} minutes. Do not edit by hand: '
              'rerun the script (the discussion comes from `conformance/rd/report_notes.md`).\n')
    md.append('## Setup\n')
    per_clip = {c: int(next(r['frames'] for r in rows if r['clip'] == c)) for c in clips}
    if len(frames) == 1:
        ftxt = f'the first {frames[0]} pictures of each'
    else:
        ftxt = 'the first ' + ', '.join(f'{n} pictures of {c}' for c, n in per_clip.items()) + \
            ' (all a clip has when it is shorter than asked)'
    md.append(f'- **Clips**: {", ".join(clips)} from `data/` (DATA.md; already 2× downscaled), {ftxt}, '
              '8-bit 4:2:0.')
    md.append('- **Rate**: the size of the whole output file (ARG: Matroska `.mkv`; x265: HEVC Annex B '
              'elementary stream, without the encoder-info SEI; AV1: IVF), as bits per pixel '
              '(8 · bytes / (width · height · pictures)) and kbit/s at the clip\'s frame rate.')
    md.append('- **Quality** (`tools/argqual`, C, in-tree): PSNR per plane from the MSE over the clip; '
              'PSNR-YUV = (6·PSNR-Y + PSNR-U + PSNR-V) / 8; SSIM-Y with an 11×11 Gaussian window, σ = 1.5 '
              '(Wang et al. 2004); MS-SSIM-Y with 5 scales and the standard weights (Wang et al. 2003). '
              'PSNR and the ffmpeg-compatible SSIM are checked against ffmpeg\'s `psnr`/`ssim` filters, '
              'SSIM and MS-SSIM against an independent numpy implementation (`meson test --suite rd`).')
    md.append('- **BD-rate**: Bjøntegaard delta rate against the x265 anchor, log-rate interpolated with '
              'monotone piecewise cubic (PCHIP) curves and integrated over the overlapping quality range only '
              '(SSIM and MS-SSIM as −10·log10(1 − x) dB). Negative = fewer bits than x265 for the same quality. '
              'No extrapolation: where the ranges do not overlap, or a codec has a single point (ARG has one '
              'point per model), the table says so.')
    md.append('- **Speed**: pictures per second of wall time of the encoder and decoder commands (decoders '
              'include writing the Y4M; ffmpeg decodes HEVC with its own decoder and AV1 with libdav1d). '
              'One run each on a shared machine: indicative only.')
    md.append('- **Codecs and settings**:')
    for c in codecs:
        md.append(f'  - {LABELS.get(c, c)}: {versions.get(c, "")}; points: '
                  f'{", ".join(sorted({r["point"] for r in rows if r["codec"] == c}, key=_natural))}')
    for n in notices:
        md.append(f'- **Notice**: {n}')
    for e in errors:
        md.append(f'- **Failed point** (left out of every table): {e}')
    md.append('')
    md.append('## BD-rate against HEVC (x265 medium)\n')
    md.append(bd_markdown(bd, clips, codecs))
    md.append('## ARG at its operating points against x265 at equal quality\n')
    md.append('Δrate = ARG\'s rate / x265\'s interpolated rate at the same quality − 1. "below x265 range" '
              'means ARG\'s quality is lower than that of x265 at QP 51, its coarsest quantiser.\n')
    md.append(argtab)
    md.append('## Where ARG wins and loses\n')
    md.append(findings(rows, facts, bd, clips, codecs))
    notes = os.path.join(HERE, 'report_notes.md')
    if os.path.isfile(notes):
        md.append(open(notes).read().rstrip() + '\n')
    md.append('## Speed\n')
    md.append(speed_md(rows, codecs))
    md.append('## Per clip\n')
    for clip in clips:
        md.append(f'### {clip}\n')
        if plots_rel.get(clip):
            md.append(f'![RD curves of {clip}]({plots_rel[clip]})\n')
        md.append(rd_table_md(rows, clip, codecs))
    md.append('## Reproduce\n')
    md.append('```\nbash conformance/rd/make_report.sh            # this report (about 10 minutes on 2 cores)\n'
              '/usr/bin/python3 conformance/rd/rd.py --help   # the harness on any clips\n```\n')
    atomic_write(path, '\n'.join(md))


def _natural(s):
    import re
    return [int(t) if t.isdigit() else t for t in re.split(r'(\d+)', s)]


# ------------------------------------------------------------------ main

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split('\n\n', 1)[1])
    ap.add_argument('clips', nargs='*', help='input clips (Y4M, or anything ffmpeg reads)')
    ap.add_argument('--out', help='output folder (results.csv, bdrate.csv, bdrate.md, plots/, work/)')
    ap.add_argument('--frames', type=int, default=65, help='pictures per clip (default 65 = 1 + 16·4)')
    ap.add_argument('--codecs', default=DEFAULT_CODECS, help=f'comma-separated (default {DEFAULT_CODECS})')
    ap.add_argument('--build', default=os.path.join(ROOT, 'build-dev'),
                    help='ARG build folder with tools/argenc, argdec, argqual (default build-dev)')
    ap.add_argument('--models', help='comma-separated ARG model files (default: every models/*.safetensors)')
    ap.add_argument('--threads', type=int, default=2, help='threads per encoder and decoder (default 2)')
    ap.add_argument('--x265-qp', type=ints, default=[22, 27, 32, 37, 40, 43, 46, 49, 51])
    ap.add_argument('--svtav1-crf', type=ints, default=[20, 30, 40, 45, 50, 55, 59, 63])
    ap.add_argument('--aom-cq', type=ints, default=[20, 30, 40, 45, 50, 55, 59, 63])
    ap.add_argument('--vvenc-qp', type=ints, default=[22, 27, 32, 37, 42, 47, 52, 57, 63])
    ap.add_argument('--plots', help='folder for the PNG plots (default OUT/plots)')
    ap.add_argument('--report', help='write a Markdown report here')
    ap.add_argument('--from-csv', help='skip the measurements: rebuild tables, plots and report from this '
                                       'results.csv')
    ap.add_argument('--keep', action='store_true', help='keep the decoded Y4M files')
    args = ap.parse_args(argv)
    if not args.out:
        ap.error('--out is needed')
    if args.frames < 1:
        ap.error('--frames must be positive')
    if args.threads < 1:
        ap.error('--threads must be positive')
    codecs = [c.strip() for c in args.codecs.split(',') if c.strip()]
    for c in codecs:
        if c not in CODEC_CLASSES:
            ap.error(f'unknown codec {c!r} (known: {", ".join(CODEC_CLASSES)})')
    if ANCHOR not in codecs:
        ap.error(f'the anchor {ANCHOR} must be among the codecs')
    if not args.from_csv and not args.clips:
        ap.error('no clip given')
    for c in args.clips:
        if not os.path.isfile(c):
            ap.error(f'{c}: no such file')
    args.build = os.path.abspath(args.build)
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    plots_dir = os.path.abspath(args.plots) if args.plots else os.path.join(out, 'plots')
    work = os.path.join(out, 'work')
    os.makedirs(work, exist_ok=True)
    t_start = time.perf_counter()

    objs, notices, versions = [], [], {}
    for c in codecs:
        o = CODEC_CLASSES[c](args)
        ok, why = o.available()
        if not ok:
            log(f'rd: notice: {why}')
            notices.append(why)
            if c == ANCHOR:
                log('rd: the anchor is needed')
                return 1
            continue
        objs.append(o)
        versions[c] = o.version()
    codecs = [o.name for o in objs]
    errors = []
    if args.from_csv:
        rows = read_csv(args.from_csv)
        clips = list(dict.fromkeys(r['clip'] for r in rows))
    else:
        argqual = os.path.join(args.build, 'tools', 'argqual')
        if not os.access(argqual, os.X_OK):
            log(f'rd: {argqual} not built (ninja -C {args.build})')
            return 1
        rows, clips = [], []
        for clip in args.clips:
            cw = os.path.join(work, os.path.splitext(os.path.basename(clip))[0])
            os.makedirs(cw, exist_ok=True)
            name, src, info, n = prepare_source(clip, args.frames, cw)
            if name in clips:
                log(f'rd: two clips named {name}: skipping {clip}')
                continue
            clips.append(name)
            log(f'rd: {name}: {info["width"]}x{info["height"]}, {n} pictures at '
                f'{info["fps"][0]}/{info["fps"][1]} fps')
            for o in objs:
                if hasattr(o, 'prepare'):
                    o.prepare(src, info)
                for point, params in o.points():
                    try:
                        row = run_point(o, name, src, info, n, point, params, cw, argqual)
                    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
                        msg = f'{name} {o.name} {point}: {e}'
                        log(f'rd: FAILED {msg}')
                        errors.append(msg)
                        continue
                    rows.append(row)
                    log(f'rd:   {o.name:7s} {point:10s} {row["bpp"]:.4f} bpp  PSNR-Y {row["psnr_y"]:.2f}  '
                        f'YUV {row["psnr_yuv"]:.2f}  SSIM-Y {row["ssim_y"]:.4f}  MS-SSIM-Y '
                        f'{(row["msssim_y"] or 0):.4f}  enc {row["enc_fps"]:.1f} fps  dec {row["dec_fps"]:.1f} fps')
        write_csv(os.path.join(out, 'results.csv'), rows)
        # Everything below works from the CSV as written, so that --from-csv
        # reproduces the tables exactly.
        rows = read_csv(os.path.join(out, 'results.csv'))
    bd = bd_table(rows, clips, codecs)
    write_bd_csv(os.path.join(out, 'bdrate.csv'), bd)
    atomic_write(os.path.join(out, 'bdrate.md'), bd_markdown(bd, clips, codecs))
    plots_rel = {}
    if shutil.which('gnuplot'):
        os.makedirs(plots_dir, exist_ok=True)
        for clip in clips:
            p = os.path.join(plots_dir, f'{clip}.png')
            if plot_clip(rows, clip, codecs, p, work):
                if args.report:
                    plots_rel[clip] = os.path.relpath(p, os.path.dirname(os.path.abspath(args.report)))
    else:
        msg = 'gnuplot not on PATH (apt-get install gnuplot-nox): no plots'
        log('rd: notice: ' + msg)
        notices.append(msg)
    print(bd_markdown(bd, clips, codecs))
    elapsed = time.perf_counter() - t_start
    if args.report:
        write_report(args.report, rows, bd, clips, codecs, notices, versions, args, plots_rel, elapsed, errors)
        log(f'rd: wrote {args.report}')
    log(f'rd: {len(rows)} points in {elapsed:.0f} s; {len(errors)} failed')
    for e in errors:
        log(f'rd: failed: {e}')
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main())
