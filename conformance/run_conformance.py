#!/usr/bin/env python3
"""ARG decoder conformance runner (conformance/README.md).

    run_conformance.py --argdec BUILD/tools/argdec [--vectors DIR] [--models DIR] [--work DIR]
                       [--only SUBSTRING] [--self-test]

For every vector (NAME.mkv with NAME.expect) it decodes the stream on every
available decoding path with 1 and 2 threads and checks:

  * tokens: XXH3-64 equal to the expected value on every path (normative);
  * pictures on the builtin CPU GEMM (every thread count and SIMD level):
    XXH3-64 equal to the expected value;
  * pictures on other paths (OpenBLAS, the double-precision reference GEMM,
    Vulkan): the same number of pictures, each 8-bit sample within 1 of the
    builtin decode (what the spec's 1e-3 in [-1, 1] allows after rounding);
  * the stream itself, read by this script's own Matroska parser and by
    mkvmerge and ffprobe: sequence header, sizes, packets, GOPs;
  * the decoded Y4M, hashed again by xxhsum; decoding from the last keyframe
    gives the tail of the full decode; the audio track's length (exact) and
    its agreement with ffmpeg (own demuxer, libopus decoder).

It also fails when a model in --models has no vector, or a vector names a
model that is not there (rerun conformance/make_vectors.sh).

--self-test shows that the checks can fail: a vector with a flipped byte in a
token payload, a wrong expected hash, an 8-bit difference of 2 and a model
without vectors must each be reported, while the untouched vector passes.

Uses only the Python standard library and the programs named above.
"""
import argparse
import json
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

HEX16 = re.compile(r'^[0-9a-f]{16}$')
TOLERANCE_8BIT = 1


class Report:
    """Collects check results; prints one line per check."""

    def __init__(self, quiet=False):
        self.fails = []
        self.n_ok = 0
        self.quiet = quiet

    def check(self, where, what, ok, detail=''):
        line = '%s: %s%s' % (where, what, (' (%s)' % detail) if detail else '')
        if ok:
            self.n_ok += 1
            if not self.quiet:
                print('  ok    ' + line)
        else:
            self.fails.append(line)
            if not self.quiet:
                print('  FAIL  ' + line)
        return ok

    def note(self, where, text):
        if not self.quiet:
            print('  note  %s: %s' % (where, text))


# ------------------------------------------------------------------ files

def parse_expect(path):
    """NAME.expect: 'key value' lines; '#' starts a comment line."""
    need = {'stream', 'model', 'model_id', 'size', 'coded', 'fps', 'chroma', 'matrix', 'range',
            'pictures', 'latent_frames', 'gops', 'tokens', 'frames', 'float_pictures', 'audio'}
    e = {}
    with open(path, encoding='ascii') as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip('\n')
            if not line or line.startswith('#'):
                continue
            key, _, value = line.partition(' ')
            if key in e:
                raise ValueError('%s:%d: %s given twice' % (path, n, key))
            e[key] = value
    missing = need - set(e)
    if missing:
        raise ValueError('%s: missing %s' % (path, ', '.join(sorted(missing))))
    for k in ('model_id', 'tokens', 'frames', 'float_pictures'):
        if not HEX16.match(e[k]):
            raise ValueError('%s: %s is not 16 hex digits' % (path, k))
    for k in ('size', 'coded'):
        m = re.match(r'^(\d+)x(\d+)$', e[k])
        if not m:
            raise ValueError('%s: %s is not WxH' % (path, k))
        e[k] = (int(m.group(1)), int(m.group(2)))
    for k in ('chroma', 'matrix', 'range', 'pictures', 'latent_frames', 'gops'):
        if not e[k].isdigit():
            raise ValueError('%s: %s is not a number' % (path, k))
        e[k] = int(e[k])
    if not re.match(r'^\d+/\d+$', e['fps']):
        raise ValueError('%s: fps is not NUM/DEN' % path)
    if e['audio'] == 'none':
        e['audio'] = None
    else:
        a = e['audio'].split()
        if len(a) != 4 or not all(x.isdigit() for x in a[:3]) or not HEX16.match(a[3]):
            raise ValueError('%s: audio wants "none" or "RATE CHANNELS SAMPLES HASH"' % path)
        e['audio'] = (int(a[0]), int(a[1]), int(a[2]), a[3])
    if '/' in e['stream'] or not e['stream'].endswith('.mkv'):
        raise ValueError('%s: stream must be a .mkv file name in the same folder' % path)
    return e


def read_y4m(path):
    """Returns (header fields dict, [frame bytes]); validates every size."""
    with open(path, 'rb') as f:
        data = f.read()
    nl = data.find(b'\n')
    if nl < 0 or not data.startswith(b'YUV4MPEG2 '):
        raise ValueError('%s: not a Y4M file' % path)
    fields = {}
    for tok in data[10:nl].split(b' '):
        if tok:
            fields[chr(tok[0])] = tok[1:].decode('ascii', 'replace')
    w, h = int(fields.get('W', '0')), int(fields.get('H', '0'))
    c = fields.get('C', '420jpeg')
    cw, ch = {'444': (w, h), '422': ((w + 1) // 2, h)}.get(c[:3], ((w + 1) // 2, (h + 1) // 2))
    fsize = w * h + 2 * cw * ch
    frames = []
    pos = nl + 1
    while pos < len(data):
        end = data.find(b'\n', pos)
        if end < 0 or not data.startswith(b'FRAME', pos):
            raise ValueError('%s: bad FRAME header at byte %d' % (path, pos))
        if end + 1 + fsize > len(data):
            raise ValueError('%s: truncated picture at byte %d' % (path, pos))
        frames.append(data[end + 1:end + 1 + fsize])
        pos = end + 1 + fsize
    return fields, frames


def compare_frames(a, b):
    """Max abs difference and count of differing samples of two frame lists."""
    mx = nd = 0
    for fa, fb in zip(a, b):
        if fa == fb:
            continue
        for x, y in zip(fa, fb):
            if x != y:
                nd += 1
                d = abs(x - y)
                if d > mx:
                    mx = d
    return mx, nd


def read_wav(path):
    """16-bit PCM WAV -> (rate, channels, samples per channel, pcm bytes)."""
    with open(path, 'rb') as f:
        data = f.read()
    if len(data) < 12 or data[:4] != b'RIFF' or data[8:12] != b'WAVE':
        raise ValueError('%s: not a WAV file' % path)
    pos, fmt, pcm = 12, None, None
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack('<I', data[pos + 4:pos + 8])[0]
        body = data[pos + 8:pos + 8 + size]
        if len(body) < size and cid != b'data':
            raise ValueError('%s: truncated chunk' % path)
        if cid == b'fmt ' and size >= 16:
            fmt = struct.unpack('<HHIIHH', body[:16])
        elif cid == b'data':
            pcm = body
            break
        pos += 8 + size + (size & 1)
    if not fmt or pcm is None or fmt[0] != 1 or fmt[5] != 16 or fmt[1] < 1:
        raise ValueError('%s: not 16-bit PCM' % path)
    return fmt[2], fmt[1], len(pcm) // (2 * fmt[1]), pcm


def snr_db(ref, test):
    """SNR of test against ref over their common length (16-bit samples)."""
    n = min(len(ref), len(test)) // 2
    x = struct.unpack('<%dh' % n, ref[:2 * n])
    y = struct.unpack('<%dh' % n, test[:2 * n])
    sig = sum(v * v for v in x)
    err = sum((p - q) * (p - q) for p, q in zip(x, y))
    if err == 0:
        return float('inf')
    return 10 * math.log10(max(sig, 1) / err)


# ------------------------------------------------------- Matroska reading

def _vint(data, pos, end, keep_marker):
    if pos >= end:
        raise ValueError('EBML: element runs past its parent at %d' % pos)
    b = data[pos]
    n = 1
    while n <= 8 and not b & (0x80 >> (n - 1)):
        n += 1
    if n > 8 or pos + n > end:
        raise ValueError('EBML: bad variable-size integer at %d' % pos)
    v = b if keep_marker else b & (0xFF >> n)
    for i in range(1, n):
        v = (v << 8) | data[pos + i]
    unknown = not keep_marker and v == (1 << (7 * n)) - 1
    return v, n, unknown


def read_mkv(path):
    """A small independent Matroska reader: tracks (number, type, codec,
    private data) and blocks (track, time in ms, keyframe flag, payload
    offset and size). Checks every size against its parent."""
    with open(path, 'rb') as f:
        data = f.read()
    out = {'tracks': {}, 'blocks': [], 'data': data}
    masters = {0x18538067, 0x1F43B675, 0x1654AE6B, 0xAE, 0xA0}   # Segment Cluster Tracks TrackEntry BlockGroup

    def walk(pos, end, cluster_time, track):
        while pos < end:
            eid, n, _ = _vint(data, pos, end, True)
            pos += n
            size, n, unknown = _vint(data, pos, end, False)
            pos += n
            if unknown:
                size = end - pos
            if pos + size > end:
                raise ValueError('EBML: element 0x%X at %d runs past its parent' % (eid, pos))
            body_end = pos + size
            if eid == 0xE7:                                      # Cluster Timestamp
                cluster_time[0] = int.from_bytes(data[pos:body_end], 'big')
            elif eid == 0xAE:
                t = {}
                walk(pos, body_end, cluster_time, t)
                if 'number' not in t:
                    raise ValueError('Matroska: a track without a number')
                out['tracks'][t['number']] = t
            elif eid in masters:
                walk(pos, body_end, cluster_time, track)
            elif track is not None and eid == 0xD7:
                track['number'] = int.from_bytes(data[pos:body_end], 'big')
            elif track is not None and eid == 0x83:
                track['type'] = int.from_bytes(data[pos:body_end], 'big')
            elif track is not None and eid == 0x86:
                track['codec'] = data[pos:body_end].decode('ascii', 'replace')
            elif track is not None and eid == 0x63A2:
                track['private'] = data[pos:body_end]
            elif eid in (0xA3, 0xA1):                            # SimpleBlock, Block
                tn, n, _ = _vint(data, pos, body_end, False)
                p = pos + n
                if p + 3 > body_end:
                    raise ValueError('Matroska: block too short at %d' % pos)
                rel = struct.unpack('>h', data[p:p + 2])[0]
                flags = data[p + 2]
                if flags & 0x06:
                    raise ValueError('Matroska: laced block at %d (ARG writes none)' % pos)
                out['blocks'].append({'track': tn, 'time': cluster_time[0] + rel,
                                      'key': bool(flags & 0x80) if eid == 0xA3 else None,
                                      'offset': p + 3, 'size': body_end - (p + 3)})
            pos = body_end

    pos = 0
    eid, n, _ = _vint(data, 0, len(data), True)
    if eid != 0x1A45DFA3:
        raise ValueError('%s: not an EBML file' % path)
    walk(0, len(data), [0], None)
    return out


def parse_seq_header(b):
    """The 80-byte sequence header (spec/bitstream.md section 2)."""
    if len(b) != 80 or b[:4] != b'ARGS':
        raise ValueError('sequence header: not 80 bytes starting with ARGS')
    u16 = lambda o: struct.unpack('>H', b[o:o + 2])[0]
    u32 = lambda o: struct.unpack('>I', b[o:o + 4])[0]
    return {'version': b[4], 'size': b[5], 'model_id': '%016x' % struct.unpack('>Q', b[6:14])[0],
            'model': b[14:46].rstrip(b'\0').decode('ascii', 'replace'),
            'coded': (u16(46), u16(48)), 'picture': (u16(50), u16(52)),
            'fps': '%d/%d' % (u32(54), u32(58)), 'frame_count': u32(62), 'ft': b[66], 'fs': b[67],
            'bits': b[68], 'matrix': b[69], 'range': b[70], 'chroma': {0: 420, 1: 422, 2: 444}.get(b[73], -1),
            'gop': u16(74), 'coder': b[76]}


# --------------------------------------------------------------- helpers

def run(cmd, env_extra=None, timeout=300):
    env = dict(os.environ)
    if env_extra:
        env.update(env_extra)
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return -1, '', '%s: no result after %d s' % (os.path.basename(cmd[0]), timeout)
    except OSError as ex:
        return -1, '', '%s: %s' % (cmd[0], ex)
    return p.returncode, p.stdout.decode('utf-8', 'replace'), p.stderr.decode('utf-8', 'replace')


def xxh3_of(data):
    """XXH3-64 by xxhsum (an independent client); None without xxhsum."""
    exe = shutil.which('xxhsum')
    if not exe:
        return None
    p = subprocess.run([exe, '-H3', '-'], input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    m = re.search(r'= ([0-9a-f]{16})\s*$', p.stdout.decode('ascii', 'replace'))
    return m.group(1) if p.returncode == 0 and m else None



def model_format(path):
    """The __metadata__ "format" of a safetensors file ("arg-model" for a
    tokenizer, "arg-poet" for a token transformer); None if unreadable."""
    try:
        with open(path, 'rb') as f:
            n = struct.unpack('<Q', f.read(8))[0]
            if n > 1 << 24:
                return None
            return json.loads(f.read(n)).get('__metadata__', {}).get('format')
    except (OSError, ValueError, struct.error):
        return None

def model_id_of(path):
    """XXH3-64 of the safetensors data section (spec/model-format.md section 6)."""
    with open(path, 'rb') as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError('%s: too short for safetensors' % path)
    n = struct.unpack('<Q', data[:8])[0]
    if 8 + n > len(data):
        raise ValueError('%s: header length %d runs past the file' % (path, n))
    return xxh3_of(data[8 + n:])


def verify_fields(out):
    v = {}
    for k in ('tokens', 'frames', 'pictures'):
        m = re.search(r'^%s (\S+)$' % k, out, re.M)
        v[k] = m.group(1) if m else None
    return v


def cpu_flags():
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('flags'):
                    return set(line.split(':', 1)[1].split())
    except OSError:
        pass
    return set()


# -------------------------------------------------------------- the runner

SIMD_ENVS = [
    # (label, environment, CPU flags it needs)
    ('AVX2 kernel', {'ARG_SIMD': 'avx2'}, {'avx2', 'fma'}),
    # an SSE2-only machine: the 4-wide kernel, and glibc's libm without its FMA variants
    ('SSE2 kernel, libm without FMA', {'ARG_SIMD': 'generic', 'GLIBC_TUNABLES': 'glibc.cpu.hwcaps=-AVX2,-FMA,-AVX512F'},
     {'sse2'}),
]


def simd_envs():
    """The lower SIMD levels this CPU can be capped to (x86 only)."""
    flags = cpu_flags()
    best = 2 if 'avx512f' in flags else 1 if {'avx2', 'fma'} <= flags else 0
    if not flags & {'sse2'}:
        return []
    return [x for lvl, x in zip((1, 0), SIMD_ENVS) if lvl < best and x[2] <= flags]


class Runner:
    def __init__(self, argdec, work, report, conf_float=None):
        self.argdec = argdec
        self.conf_float = conf_float
        self.work = work
        self.r = report
        rc, out, err = run([argdec, '--help'])
        self.help = out + err
        self.has_backend = '--backend' in self.help
        self.has_gemm = '--gemm' in self.help
        self.cpu = ['--backend', 'cpu'] if self.has_backend else []
        self.blas = None       # probed on the first vector
        self.vulkan = None
        self.vulkan_note = ''

    def decode(self, mkv, model, args, env=None):
        return run([self.argdec, '-y', '-i', mkv, '-m', model, '--verify'] + args, env)

    def probe(self, mkv, model):
        """Which optional paths this build and machine have."""
        if self.blas is None:
            if not self.has_gemm:
                self.blas = False
            else:
                rc, out, err = self.decode(mkv, model, self.cpu + ['--gemm', 'blas', '--threads', '1', '--frames', '1'])
                self.blas = rc == 0
                if rc != 0 and 'not supported' not in err.lower():
                    self.r.check('setup', 'argdec --gemm blas runs or says it is not built', False, err.strip()[:200])
        if self.vulkan is None:
            self.vulkan = False
            if self.has_backend:
                rc, out, err = self.decode(mkv, model, ['--backend', 'vulkan', '--threads', '1', '--frames', '1'])
                # argdec falls back to the CPU (and says so) when Vulkan is
                # not built or finds no device: that is no Vulkan path
                fell_back = 'Vulkan backend unavailable' in err
                self.vulkan = rc == 0 and not fell_back
                if fell_back:
                    self.vulkan_note = [l for l in err.splitlines() if 'Vulkan backend unavailable' in l][0].strip()
                if rc != 0:
                    self.vulkan_note = err.strip().splitlines()[-1] if err.strip() else 'exit %d' % rc
                    if rc < 0 or rc >= 128:
                        # a crash is not "no device"
                        self.r.check('setup', 'argdec --backend vulkan fails cleanly when it cannot run', False,
                                     'exit %d: %s' % (rc, self.vulkan_note))
                    elif os.environ.get('ARG_CONFORMANCE_REQUIRE_VULKAN') == '1':
                        self.r.check('setup', 'Vulkan backend available (ARG_CONFORMANCE_REQUIRE_VULKAN=1)', False,
                                     self.vulkan_note)

    def paths(self, e):
        """(label, argdec arguments, environment, exact?) for each decoding path."""
        builtin = self.cpu + (['--gemm', 'builtin'] if self.has_gemm else [])
        p = [('cpu builtin, 1 thread', builtin + ['--threads', '1'], None, True),
             ('cpu builtin, 2 threads', builtin + ['--threads', '2'], None, True)]
        if not self.conf_float:
            # without conf_float (which compares them in float), the lower SIMD levels here
            for label, env, _ in simd_envs():
                p.append(('cpu builtin, %s, 2 threads' % label, builtin + ['--threads', '2'], env, True))
        if self.blas:
            p += [('cpu OpenBLAS, 1 thread', self.cpu + ['--gemm', 'blas', '--threads', '1'], None, False),
                  ('cpu OpenBLAS, 2 threads', self.cpu + ['--gemm', 'blas', '--threads', '2'], None, False)]
        w, h = e['size']
        if self.has_gemm and w * h * e['pictures'] <= 6000:
            # the double-precision reference convolution is slow: small vectors only
            p.append(('cpu reference GEMM, 2 threads', self.cpu + ['--gemm', 'reference', '--threads', '2'], None, False))
        if self.vulkan:
            p += [('vulkan, 1 thread', ['--backend', 'vulkan', '--threads', '1'], None, False),
                  ('vulkan, 2 threads', ['--backend', 'vulkan', '--threads', '2'], None, False)]
        return p

    def check_stream(self, name, mkv, e):
        """The stream as read by our own parser, mkvmerge and ffprobe."""
        r = self.r
        try:
            m = read_mkv(mkv)
        except (ValueError, struct.error) as ex:
            r.check(name, 'Matroska structure (own parser)', False, str(ex))
            return None
        vts = [t for t in m['tracks'].values() if t.get('codec') == 'V_ARG']
        ats = [t for t in m['tracks'].values() if t.get('codec') == 'A_OPUS']
        if not r.check(name, 'one V_ARG track (own parser)', len(vts) == 1, '%d' % len(vts)):
            return None
        r.check(name, 'Opus track present exactly when expected', len(ats) == (1 if e['audio'] else 0), '%d' % len(ats))
        try:
            sh = parse_seq_header(vts[0].get('private', b''))
        except (ValueError, struct.error) as ex:
            r.check(name, 'sequence header', False, str(ex))
            return None
        got = (sh['model_id'], sh['model'], sh['picture'], sh['coded'], sh['fps'], sh['frame_count'], sh['chroma'],
               sh['matrix'], sh['range'])
        want = (e['model_id'], e['model'], e['size'], e['coded'], e['fps'], e['pictures'], e['chroma'], e['matrix'],
                e['range'])
        r.check(name, 'sequence header fields (own parser)', got == want, 'got %s' % (got,) if got != want else
                'version %d, %d-bit tokens, ft %d, fs %d, GOP %d' % (sh['version'], sh['bits'], sh['ft'], sh['fs'], sh['gop']))
        vb = [b for b in m['blocks'] if b['track'] == vts[0]['number']]
        keys = [b for b in vb if b['size'] >= 1 and m['data'][b['offset']] & 0x80]
        npics = sum(m['data'][b['offset']] & 0x1F for b in vb if b['size'] >= 1)
        r.check(name, 'video blocks = latent frames, keyframe bits = GOPs, pictures', (len(vb), len(keys), npics) ==
                (e['latent_frames'], e['gops'], e['pictures']), '%d, %d, %d' % (len(vb), len(keys), npics))
        r.check(name, 'block keyframe flag = packet keyframe bit',
                all(b['key'] == bool(m['data'][b['offset']] & 0x80) for b in vb if b['key'] is not None))
        if shutil.which('mkvmerge'):
            import json
            rc, out, err = run(['mkvmerge', '-J', mkv])
            try:
                j = json.loads(out)
                codecs = sorted(t['properties'].get('codec_id', '') for t in j.get('tracks', []))
                v = [t for t in j['tracks'] if t['properties'].get('codec_id') == 'V_ARG'][0]['properties']
                ok = (codecs == sorted(['V_ARG'] + (['A_OPUS'] if e['audio'] else [])) and
                      v.get('pixel_dimensions') == '%dx%d' % e['coded'] and
                      v.get('display_dimensions') == '%dx%d' % e['size'] and
                      bytes.fromhex(v.get('codec_private_data', '')) == vts[0].get('private') and
                      not j.get('errors'))
                r.check(name, 'mkvmerge -J: codecs, sizes, sequence header', ok,
                        '%s, %s, %s' % (codecs, v.get('pixel_dimensions'), v.get('display_dimensions')))
            except (ValueError, KeyError, IndexError) as ex:
                r.check(name, 'mkvmerge -J reads the stream', False, '%s %s' % (ex, err.strip()[:200]))
        if shutil.which('ffprobe'):
            rc, out, err = run(['ffprobe', '-v', 'error', '-count_packets', '-show_entries',
                                'stream=codec_type,width,height,nb_read_packets', '-of', 'csv=p=0', mkv])
            lines = sorted(l.strip() for l in out.splitlines() if l.strip())
            want_v = 'video,%d,%d,%d' % (e['coded'][0], e['coded'][1], e['latent_frames'])
            ok = rc == 0 and want_v in lines and (any(l.startswith('audio') for l in lines) == bool(e['audio']))
            r.check(name, 'ffprobe: stream types, coded size, video packets', ok, ' '.join(lines) or err.strip()[:200])
        return m

    def check_vector(self, expect_path, model_path, quick=False):
        r = self.r
        e = parse_expect(expect_path)
        vdir = os.path.dirname(expect_path)
        name = os.path.basename(expect_path)[:-len('.expect')]
        mkv = os.path.join(vdir, e['stream'])
        if not r.check(name, 'stream file exists', os.path.isfile(mkv), mkv):
            return
        work = os.path.join(self.work, name)
        os.makedirs(work, exist_ok=True)
        m = self.check_stream(name, mkv, e)
        self.probe(mkv, model_path)
        # reference decode: builtin GEMM, 1 thread, with Y4M and audio output
        ref_y4m = os.path.join(work, 'ref.y4m')
        ref_wav = os.path.join(work, 'ref.wav')
        paths = self.paths(e)
        label, args, env, _ = paths[0]
        extra = ['-o', ref_y4m] + (['--audio', ref_wav] if e['audio'] else [])
        rc, out, err = self.decode(mkv, model_path, args + extra, env)
        v = verify_fields(out)
        if not r.check(name, 'decodes (%s)' % label, rc == 0, err.strip().splitlines()[-1] if rc and err.strip() else ''):
            return
        r.check(name, 'tokens (%s)' % label, v['tokens'] == e['tokens'], v['tokens'])
        r.check(name, 'pictures hash (%s)' % label, v['frames'] == e['frames'], v['frames'])
        r.check(name, 'picture count (%s)' % label, v['pictures'] == str(e['pictures']), v['pictures'])
        try:
            hdr, ref_frames = read_y4m(ref_y4m)
        except (OSError, ValueError) as ex:
            r.check(name, 'Y4M output readable', False, str(ex))
            return
        chroma = {420: '420', 422: '422', 444: '444'}[e['chroma']]
        r.check(name, 'Y4M size, chroma, range, picture count',
                (int(hdr.get('W', 0)), int(hdr.get('H', 0))) == e['size'] and hdr.get('C', '420')[:3] == chroma and
                (hdr.get('X', '') == 'COLORRANGE=FULL') == (e['range'] == 2) and len(ref_frames) == e['pictures'],
                'W%s H%s C%s, %d pictures' % (hdr.get('W'), hdr.get('H'), hdr.get('C'), len(ref_frames)))
        h = xxh3_of(b''.join(ref_frames))
        if h is not None:
            r.check(name, 'xxhsum -H3 of the Y4M pictures = expected pictures hash', h == e['frames'], h)
        if quick:
            return
        if self.conf_float:
            self.check_float(name, mkv, model_path, e)
        for label, args, env, exact in paths[1:]:
            if exact:
                rc, out, err = self.decode(mkv, model_path, args, env)
                v = verify_fields(out)
                r.check(name, 'tokens and pictures hash exact (%s)' % label,
                        rc == 0 and (v['tokens'], v['frames'], v['pictures']) == (e['tokens'], e['frames'], str(e['pictures'])),
                        'exit %d, tokens %s, pictures %s' % (rc, v['tokens'], v['frames']))
            else:
                y4m = os.path.join(work, 'other.y4m')
                rc, out, err = self.decode(mkv, model_path, args + ['-o', y4m], env)
                v = verify_fields(out)
                r.check(name, 'tokens exact (%s)' % label, rc == 0 and v['tokens'] == e['tokens'],
                        'exit %d, %s' % (rc, v['tokens'] if rc == 0 else err.strip()[-200:]))
                if rc != 0:
                    continue
                try:
                    _, frames = read_y4m(y4m)
                    mx, nd = compare_frames(ref_frames, frames)
                    total = sum(len(f) for f in ref_frames)
                    r.check(name, 'pictures within %d of the builtin decode (%s)' % (TOLERANCE_8BIT, label),
                            len(frames) == len(ref_frames) and mx <= TOLERANCE_8BIT,
                            '%d pictures, max diff %d, %d of %d samples differ%s' %
                            (len(frames), mx, nd, total, ', hash equal' if v['frames'] == e['frames'] else ''))
                except (OSError, ValueError) as ex:
                    r.check(name, 'Y4M output readable (%s)' % label, False, str(ex))
        # random access: decoding from the last keyframe gives the tail of the full decode
        if m and e['gops'] >= 2:
            vt = [t for t in m['tracks'].values() if t.get('codec') == 'V_ARG'][0]['number']
            vb = [b for b in m['blocks'] if b['track'] == vt and b['size'] >= 1]
            first_pic = 0
            start = None
            for b in vb:
                if m['data'][b['offset']] & 0x80:
                    start = (b['time'], first_pic)
                first_pic += m['data'][b['offset']] & 0x1F
            seek_y4m = os.path.join(work, 'seek.y4m')
            rc, out, err = self.decode(mkv, model_path, paths[1][1] + ['-ss', '%.3f' % (start[0] / 1000.0), '-o', seek_y4m])
            ok = rc == 0
            if ok:
                try:
                    _, frames = read_y4m(seek_y4m)
                    ok = frames == ref_frames[start[1]:]
                except (OSError, ValueError):
                    ok = False
            r.check(name, 'seeking to the last keyframe (%.3f s) gives pictures %d.. of the full decode' %
                    (start[0] / 1000.0, start[1]), ok)
        if e['audio']:
            self.check_audio(name, mkv, e, ref_wav, work)

    def check_float(self, name, mkv, model_path, e):
        """Pictures in float, before the 8-bit conversion (conf_float)."""
        r = self.r
        rc, out, err = run([self.conf_float, model_path, mkv])
        m = re.search(r'^float_hash ([0-9a-f]{16})$', out, re.M)
        got = m.group(1) if m else None
        r.check(name, 'float pictures hash exact (cpu builtin, 1 thread; conf_float)', got == e['float_pictures'],
                got or 'exit %d: %s' % (rc, err.strip()[-200:]))
        for line in out.splitlines():
            pm = re.match(r'^path (\S+) max_abs (\S+) pictures (-?\d+)(.*)$', line)
            if pm:
                exact = pm.group(1).startswith('builtin')
                r.check(name, '%s in float: %s (conf_float)' % (pm.group(1), 'bit-identical' if exact else
                                                                 'within 1e-3 of the builtin path'),
                        'FAIL' not in pm.group(4) and int(pm.group(3)) == e['pictures'],
                        'max abs %s, %s pictures%s' % (pm.group(2), pm.group(3), pm.group(4)))
        if rc not in (0, 1):
            r.check(name, 'conf_float runs', False, err.strip()[-200:])
        for label, env, _ in simd_envs():
            rc, out, err = run([self.conf_float, model_path, mkv, '--hash-only'], env)
            m = re.search(r'^float_hash ([0-9a-f]{16})$', out, re.M)
            got = m.group(1) if m else None
            r.check(name, 'float pictures hash exact (cpu builtin, %s)' % label, got == e['float_pictures'],
                    got or 'exit %d: %s' % (rc, err.strip()[-200:]))

    def check_audio(self, name, mkv, e, ref_wav, work):
        r = self.r
        rate, ch, samples, hsh = e['audio']
        try:
            wr, wch, wn, pcm = read_wav(ref_wav)
        except (OSError, ValueError) as ex:
            r.check(name, 'audio decoded to WAV', False, str(ex))
            return
        r.check(name, 'audio rate, channels, sample frames exact', (wr, wch, wn) == (rate, ch, samples),
                '%d Hz, %d ch, %d samples; expected %d' % (wr, wch, wn, samples))
        got = xxh3_of(pcm)
        if got is not None:
            # libopus's float decoder is not required to be bit-exact across
            # builds (RFC 6716): a different hash is reported, not failed
            if got == hsh:
                r.note(name, 'audio PCM hash %s equals the reference decode' % got)
            else:
                r.note(name, 'audio PCM hash %s differs from the reference decode %s (another libopus build?)' % (got, hsh))
        if shutil.which('ffmpeg'):
            # ffmpeg's own Matroska demuxer and pre-skip handling, with libopus
            # as the decoder (its native decoder resamples SILK differently):
            # every sample within 1 of argdec's (float -> 16-bit rounding);
            # ffmpeg does not trim the padding at the end, so it may give more
            ff = os.path.join(work, 'ffmpeg.wav')
            rc, out, err = run(['ffmpeg', '-nostdin', '-v', 'error', '-y', '-c:a', 'libopus', '-i', mkv, '-map', '0:a',
                                '-c:a', 'pcm_s16le', ff])
            if rc != 0 and 'libopus' in err.lower():
                r.note(name, 'ffmpeg has no libopus decoder: audio not compared with ffmpeg')
                return
            try:
                fr, fch, fn, fpcm = read_wav(ff)
                n = min(len(pcm), len(fpcm)) // 2
                x = struct.unpack('<%dh' % n, pcm[:2 * n])
                y = struct.unpack('<%dh' % n, fpcm[:2 * n])
                mx = max((abs(p - q) for p, q in zip(x, y)), default=0)
                r.check(name, 'audio within 1 of ffmpeg (libopus) from the start, ffmpeg at least as long',
                        rc == 0 and (fr, fch) == (wr, wch) and fn >= wn and mx <= 1,
                        'max diff %d over %d samples, SNR %.1f dB; ffmpeg gives %d samples' %
                        (mx, min(wn, fn), snr_db(pcm, fpcm), fn))
            except (OSError, ValueError) as ex:
                r.check(name, 'ffmpeg decodes the audio track', False, '%s %s' % (ex, err.strip()[:200]))


def find_vectors(vdir, only=None):
    names = sorted(f for f in os.listdir(vdir) if f.endswith('.expect'))
    if only:
        names = [n for n in names if only in n]
    return [os.path.join(vdir, n) for n in names]


def check_models(report, models_dir, expects):
    """Every shipped model has vectors; every vector names a shipped model.
    Returns {model ID: path}."""
    ids = {}
    # tokenizers only: a token transformer (poet-*.safetensors) decodes no stream
    files = sorted(f for f in os.listdir(models_dir) if f.endswith('.safetensors')
                   and model_format(os.path.join(models_dir, f)) != 'arg-poet')
    report.check('models', 'at least one model in %s' % models_dir, bool(files))
    for f in files:
        p = os.path.join(models_dir, f)
        try:
            mid = model_id_of(p)
        except (OSError, ValueError) as ex:
            report.check('models', 'model %s readable' % f, False, str(ex))
            continue
        if report.check('models', 'model ID of %s computed by xxhsum' % f, mid is not None,
                        'needs xxhsum -H3 (Debian package xxhash)' if mid is None else mid):
            ids[mid] = p
    by_model = {}
    for ex in expects:
        e = parse_expect(ex)
        by_model.setdefault(e['model_id'], []).append(os.path.basename(ex)[:-len('.expect')])
    for key, p in sorted(ids.items(), key=lambda kv: kv[1]):
        n = len(by_model.get(key, []))
        report.check('models', '%s (%s) has conformance vectors' % (os.path.basename(p), key), n > 0,
                     '%d vectors' % n if n else 'none: rerun bash conformance/make_vectors.sh')
    for key, names in sorted(by_model.items()):
        if key not in ids:
            report.check('models', 'vectors %s name a shipped model' % ', '.join(names[:3]), False,
                         'model %s is not in %s: rerun bash conformance/make_vectors.sh' % (key, models_dir))
    return ids


def run_all(args):
    rep = Report()
    expects = find_vectors(args.vectors, args.only)
    rep.check('vectors', 'vectors found in %s' % args.vectors, len(expects) > 0, '%d' % len(expects))
    ids = check_models(rep, args.models, find_vectors(args.vectors))
    runner = Runner(args.argdec, args.work, rep, args.conf_float)
    for i, ex in enumerate(expects):
        print('[%d/%d] %s' % (i + 1, len(expects), os.path.basename(ex)[:-len('.expect')]), flush=True)
        try:
            e = parse_expect(ex)
        except (OSError, ValueError) as err:
            rep.check(os.path.basename(ex), 'expected values readable', False, str(err))
            continue
        mp = ids.get(e['model_id'])
        if not rep.check(os.path.basename(ex), 'its model is shipped', mp is not None, e['model_id']):
            continue
        runner.check_vector(ex, mp)
    print('paths: cpu builtin (exact; SIMD caps: %s)%s%s%s' % (', '.join(x[0] for x in simd_envs()) or 'none',', OpenBLAS' if runner.blas else ', no OpenBLAS in this build',
                                                ', reference GEMM on small vectors' if runner.has_gemm else '',
                                                ', Vulkan' if runner.vulkan else
                                                (', no Vulkan (%s)' % (runner.vulkan_note or 'argdec has no --backend'))))
    print('conformance: %d checks passed, %d failed' % (rep.n_ok, len(rep.fails)))
    for f in rep.fails:
        print('FAILED: ' + f)
    return 1 if rep.fails else 0


def self_test(args):
    """The runner's checks must be able to fail."""
    outer = Report()
    expects = find_vectors(args.vectors)
    ids = check_models(Report(quiet=True), args.models, expects)
    cands = []
    for ex in expects:
        e = parse_expect(ex)
        if e['latent_frames'] >= 2 and not e['audio'] and e['model_id'] in ids:
            cands.append((os.path.getsize(os.path.join(args.vectors, e['stream'])), ex, e))
    if not outer.check('self-test', 'a vector with two latent frames and no audio', bool(cands)):
        return 1
    _, ex, e = min(cands)
    model = ids[e['model_id']]
    name = os.path.basename(ex)[:-len('.expect')]
    tmp = os.path.join(args.work, 'self-test')
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)

    def make_copy(tag, expect_edit=None, stream_edit=None):
        d = os.path.join(tmp, tag)
        os.makedirs(d)
        with open(ex, encoding='ascii') as f:
            text = f.read()
        if expect_edit:
            text = expect_edit(text)
        with open(os.path.join(d, name + '.expect'), 'w', encoding='ascii') as f:
            f.write(text)
        with open(os.path.join(args.vectors, e['stream']), 'rb') as f:
            data = bytearray(f.read())
        if stream_edit:
            stream_edit(data)
        with open(os.path.join(d, e['stream']), 'wb') as f:
            f.write(data)
        return os.path.join(d, name + '.expect')

    def verdict(expect_path, quick=True):
        rep = Report(quiet=True)
        Runner(args.argdec, os.path.join(tmp, 'work'), rep).check_vector(expect_path, model, quick=quick)
        return rep

    # control: an untouched copy passes
    rep = verdict(make_copy('control'))
    outer.check('self-test', 'untouched copy of %s passes' % name, not rep.fails, '; '.join(rep.fails)[:300])

    # a flipped bit in token payloads: the first payload byte of the first
    # packet and the middle byte of the biggest and of the last packet; each
    # must give an error or other tokens (not the very last byte: the range
    # coder's final flush byte may not change any decoded symbol)
    m = read_mkv(os.path.join(args.vectors, e['stream']))
    vt = [t for t in m['tracks'].values() if t.get('codec') == 'V_ARG'][0]['number']
    vb = [b for b in m['blocks'] if b['track'] == vt and b['size'] >= 6]
    big = max(vb, key=lambda b: b['size'])
    offsets = [vb[0]['offset'] + 1, big['offset'] + 1 + (big['size'] - 1) // 2,
               vb[-1]['offset'] + 1 + (vb[-1]['size'] - 1) // 2]
    for k, off in enumerate(offsets):
        def flip(data, off=off):
            data[off] ^= 0x10
        rep = verdict(make_copy('flipped%d' % k, stream_edit=flip))
        hit = [f for f in rep.fails if 'tokens' in f or 'decodes' in f]
        outer.check('self-test', 'byte %d (token payload) flipped: reported' % off, bool(hit),
                    hit[0][:200] if hit else 'no token or decode failure: %s' % rep.fails)

    # a wrong expected pictures hash and a wrong expected token hash
    def bump(key):
        def edit(text):
            old = re.search(r'^%s ([0-9a-f]{16})$' % key, text, re.M).group(1)
            new = '%016x' % (int(old, 16) ^ 1)
            return text.replace('%s %s' % (key, old), '%s %s' % (key, new))
        return edit
    for key in ('frames', 'tokens'):
        rep = verdict(make_copy('wrong-' + key, expect_edit=bump(key)))
        hit = [f for f in rep.fails if ('pictures hash' if key == 'frames' else 'tokens') in f]
        outer.check('self-test', 'wrong expected %s hash: reported' % key, bool(hit), hit[0][:200] if hit else str(rep.fails))

    # the tolerance comparison: a difference of 1 passes, 2 fails
    _, frames = read_y4m(os.path.join(tmp, 'work', name, 'ref.y4m'))
    f1 = [bytearray(f) for f in frames]
    i = len(f1[-1]) // 3
    f1[-1][i] = f1[-1][i] + 1 if f1[-1][i] < 255 else 254
    mx1, _ = compare_frames(frames, f1)
    f1[-1][i] = f1[-1][i] + 1 if f1[-1][i] < 254 else f1[-1][i] - 3
    mx2, _ = compare_frames(frames, f1)
    outer.check('self-test', 'tolerance: a sample off by 1 is within, off by 2 or more is not',
                mx1 <= TOLERANCE_8BIT < mx2, 'max diff %d and %d' % (mx1, mx2))

    # conf_float: a path off by more than the tolerance fails (here 1e-9 on
    # the smallest vector, which also has the reference GEMM path)
    if args.conf_float:
        small = min((parse_expect(x) for x in expects if parse_expect(x)['model_id'] in ids),
                    key=lambda x: x['size'][0] * x['size'][1] * x['pictures'])
        smkv = os.path.join(args.vectors, small['stream'])
        rc, out, err = run([args.conf_float, ids[small['model_id']], smkv, '1e-9'])
        fails = [l for l in out.splitlines() if l.startswith('path') and 'FAIL' in l]
        rc0, out0, err0 = run([args.conf_float, ids[small['model_id']], smkv])
        outer.check('self-test', 'conf_float fails paths beyond a 1e-9 tolerance and passes them at 1e-3',
                    rc == 1 and len(fails) >= 1 and rc0 == 0,
                    '%s: exit %d with %d failing paths; exit %d at 1e-3' % (small['stream'], rc, len(fails), rc0))

    # a model without vectors is reported
    mdir = os.path.join(tmp, 'models')
    os.makedirs(mdir)
    os.symlink(os.path.abspath(model), os.path.join(mdir, os.path.basename(model)))
    hdr = b'{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"__metadata__":{"name":"no-vectors"}}'
    with open(os.path.join(mdir, 'no-vectors.safetensors'), 'wb') as f:
        f.write(struct.pack('<Q', len(hdr)) + hdr + struct.pack('<4f', 1.5, -2.0, 0.25, 3.0))
    # (only this model's vectors: the others name models that are not in mdir)
    mexpects = [x for x in expects if parse_expect(x)['model_id'] == e['model_id']]
    rep = Report(quiet=True)
    check_models(rep, mdir, mexpects)
    hit = [f for f in rep.fails if 'no-vectors' in f]
    outer.check('self-test', 'a model without vectors is reported', len(hit) == 1 and len(rep.fails) == 1,
                '; '.join(rep.fails)[:300])
    os.unlink(os.path.join(mdir, 'no-vectors.safetensors'))
    rep = Report(quiet=True)
    check_models(rep, mdir, mexpects)
    outer.check('self-test', 'the shipped model alone is covered', not rep.fails, '; '.join(rep.fails)[:300])

    print('self-test: %d checks passed, %d failed' % (outer.n_ok, len(outer.fails)))
    return 1 if outer.fails else 0


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--argdec', required=True, help='the argdec program to test')
    ap.add_argument('--conf-float', default=None, help='the conf_float program (float comparisons)')
    ap.add_argument('--vectors', default=os.path.join(here, 'vectors'), help='folder of NAME.mkv + NAME.expect')
    ap.add_argument('--models', default=os.path.join(os.path.dirname(here), 'models'),
                    help='folder of the shipped models (*.safetensors)')
    ap.add_argument('--work', default=None, help='scratch folder (default: a temporary one)')
    ap.add_argument('--only', default=None, help='only vectors whose name contains this')
    ap.add_argument('--self-test', action='store_true', help='show that the checks can fail')
    args = ap.parse_args()
    tmp = None
    if args.work is None:
        tmp = args.work = tempfile.mkdtemp(prefix='arg-conformance-')
    else:
        os.makedirs(args.work, exist_ok=True)
    try:
        return self_test(args) if args.self_test else run_all(args)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
