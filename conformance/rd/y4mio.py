"""Minimal 8-bit Y4M reading and writing for the RD harness and its tests.

Only what the harness needs: the stream header's tags, the frame size of
the 4:2:0 / 4:2:2 / 4:4:4 layouts, reading planes as numpy arrays (when
numpy is wanted) and copying the first N frames of a clip. Everything is
validated before use: a malformed or truncated stream raises Y4MError.
"""
import os
import tempfile

MAX_HEADER = 4096
MAX_DIM = 16384


class Y4MError(Exception):
    pass


def _read_line(f, what):
    line = f.readline(MAX_HEADER + 1)
    if not line:
        return None
    if len(line) > MAX_HEADER or not line.endswith(b'\n'):
        raise Y4MError(f'{what}: line too long or truncated')
    return line


def parse_header(line):
    """Parse a 'YUV4MPEG2 ...' line into a dict of width, height, fps
    (num, den), chroma (the C tag, '420jpeg' when absent) and the raw tag
    list."""
    parts = line.rstrip(b'\n').split(b' ')
    if parts[0] != b'YUV4MPEG2':
        raise Y4MError('not a Y4M stream (no YUV4MPEG2 signature)')
    info = {'chroma': '420jpeg', 'tags': [p.decode('ascii', 'replace') for p in parts[1:] if p]}
    for p in parts[1:]:
        if not p:
            continue
        k, v = chr(p[0]), p[1:].decode('ascii', 'replace')
        try:
            if k == 'W':
                info['width'] = int(v)
            elif k == 'H':
                info['height'] = int(v)
            elif k == 'F':
                n, d = v.split(':')
                info['fps'] = (int(n), int(d))
            elif k == 'C':
                info['chroma'] = v
        except ValueError:
            raise Y4MError(f'bad tag {p!r}')
    for k in ('width', 'height', 'fps'):
        if k not in info:
            raise Y4MError(f'missing {k} in the Y4M header')
    if not (0 < info['width'] <= MAX_DIM and 0 < info['height'] <= MAX_DIM):
        raise Y4MError('bad picture size')
    if info['fps'][0] <= 0 or info['fps'][1] <= 0:
        raise Y4MError('bad frame rate')
    return info


def plane_sizes(info):
    """[(w, h)] of the three planes."""
    w, h, c = info['width'], info['height'], info['chroma']
    if c.startswith('420'):
        sx = sy = 1
    elif c == '422':
        sx, sy = 1, 0
    elif c == '444':
        sx = sy = 0
    else:
        raise Y4MError(f'unsupported chroma layout {c!r} (8-bit 420/422/444 only)')
    cw, ch = (w + sx) >> sx, (h + sy) >> sy
    return [(w, h), (cw, ch), (cw, ch)]


class Reader:
    def __init__(self, path):
        self.f = open(path, 'rb')
        line = _read_line(self.f, path)
        if line is None:
            raise Y4MError(f'{path}: empty file')
        self.header = line
        self.info = parse_header(line)
        self.sizes = plane_sizes(self.info)
        self.frame_bytes = sum(w * h for w, h in self.sizes)
        self.path = path

    def read_raw(self):
        """The next frame's FRAME line and plane bytes, or None at the end."""
        line = _read_line(self.f, self.path)
        if line is None:
            return None
        if not line.startswith(b'FRAME'):
            raise Y4MError(f'{self.path}: bad frame header')
        data = self.f.read(self.frame_bytes)
        if len(data) != self.frame_bytes:
            raise Y4MError(f'{self.path}: truncated frame')
        return line, data

    def read(self):
        """The next frame as three numpy uint8 arrays (h x w), or None."""
        import numpy as np
        r = self.read_raw()
        if r is None:
            return None
        data = np.frombuffer(r[1], dtype=np.uint8)
        planes, o = [], 0
        for w, h in self.sizes:
            planes.append(data[o:o + w * h].reshape(h, w))
            o += w * h
        return planes

    def close(self):
        self.f.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def count_frames(path):
    with Reader(path) as r:
        n = 0
        while r.read_raw() is not None:
            n += 1
        return n


def copy_frames(src, dst, frames):
    """Write the first `frames` frames of src (all when frames is None) to
    dst atomically; returns (info, frames written)."""
    d = os.path.dirname(os.path.abspath(dst))
    with Reader(src) as r:
        fd, tmp = tempfile.mkstemp(prefix='.y4m.', dir=d)
        n = 0
        try:
            with os.fdopen(fd, 'wb') as out:
                out.write(r.header)
                while frames is None or n < frames:
                    fr = r.read_raw()
                    if fr is None:
                        break
                    out.write(b'FRAME\n')
                    out.write(fr[1])
                    n += 1
            os.chmod(tmp, 0o644)
            os.replace(tmp, dst)
        except BaseException:
            if os.path.isfile(tmp):
                os.unlink(tmp)
            raise
        return r.info, n
