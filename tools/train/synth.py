"""Synthetic training pictures and clips (issue 12): colour fields over the whole RGB gamut,
colour bars, gradients, saturated shapes, text-like glyphs and noise, optionally moving.

    clip = synth_clip(rng, frames, size)   # float32 [T, 3, size, size] in [-1, 1]

Everything is drawn with numpy from the given numpy Generator (reproducible per seed).
"""

import math

import numpy as np

# SMPTE-like 75% bars and the other colours of a test pattern, RGB in [0, 1]
_75 = 191 / 255
BAR_COLOURS = np.array([
    [_75, _75, _75], [_75, _75, 0], [0, _75, _75], [0, _75, 0], [_75, 0, _75], [_75, 0, 0],
    [0, 0, _75], [0, 0, 0], [1, 1, 1], [0, 33 / 255, 76 / 255], [50 / 255, 0, 106 / 255],
    [29 / 255, 29 / 255, 29 / 255], [19 / 255, 19 / 255, 19 / 255], [9 / 255, 9 / 255, 9 / 255],
    [1, 1, 0], [0, 1, 1], [0, 1, 0], [1, 0, 1], [1, 0, 0], [0, 0, 1],
], np.float32)

KINDS = ("flat", "bars", "linear", "radial", "shapes", "glyphs", "noise")
KIND_P = np.array([0.12, 0.22, 0.12, 0.08, 0.2, 0.16, 0.1])


def random_colour(rng):
    """RGB in [0, 1]: uniform over the cube, a test-pattern colour or a saturated corner."""
    u = rng.random()
    if u < 0.45:
        return rng.random(3).astype(np.float32)
    if u < 0.75:
        return BAR_COLOURS[int(rng.integers(len(BAR_COLOURS)))].copy()
    c = rng.choice(np.array([0.0, _75, 1.0], np.float32), 3)
    return (c * rng.uniform(0.3, 1.0)).astype(np.float32) if rng.random() < 0.3 else c


def _grid(h, w):
    return np.mgrid[0:h, 0:w].astype(np.float32)


def _flat(rng, h, w):
    img = np.empty((h, w, 3), np.float32)
    img[:] = random_colour(rng)
    if rng.random() < 0.5:  # a few large flat regions split by straight edges
        yy, xx = _grid(h, w)
        for _ in range(int(rng.integers(1, 4))):
            a = rng.uniform(0, 2 * math.pi)
            d = (xx - rng.uniform(0, w)) * math.cos(a) + (yy - rng.uniform(0, h)) * math.sin(a)
            img[d > 0] = random_colour(rng)
    return img


def _bars(rng, h, w):
    n = int(rng.integers(3, 12))
    widths = rng.uniform(0.5, 1.5, n)
    edges = np.concatenate([[0], np.cumsum(widths) / widths.sum() * w]).astype(int)
    rows = [(0, h)]
    if rng.random() < 0.5:  # SMPTE-like: a second band of bars under the first
        cut = int(h * rng.uniform(0.5, 0.8))
        rows = [(0, cut), (cut, h)]
    img = np.empty((h, w, 3), np.float32)
    for r0, r1 in rows:
        smpte = rng.random() < 0.4
        start = int(rng.integers(len(BAR_COLOURS)))
        for i in range(n):
            c = BAR_COLOURS[(start + i) % 8] if smpte else random_colour(rng)
            img[r0:r1, edges[i]:edges[i + 1]] = c
    if rng.random() < 0.5:
        img = img.transpose(1, 0, 2).copy() if h == w else img
    return img


def _linear(rng, h, w):
    yy, xx = _grid(h, w)
    a = rng.uniform(0, 2 * math.pi)
    d = xx * math.cos(a) + yy * math.sin(a)
    d = (d - d.min()) / max(1e-6, d.max() - d.min())
    if rng.random() < 0.3:
        d = d ** rng.uniform(0.4, 2.5)
    c0, c1 = random_colour(rng), random_colour(rng)
    return c0 + (c1 - c0) * d[..., None]


def _radial(rng, h, w):
    yy, xx = _grid(h, w)
    cy, cx = rng.uniform(0, h), rng.uniform(0, w)
    r = np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2) / rng.uniform(0.3, 1.2) / max(h, w)
    c0, c1 = random_colour(rng), random_colour(rng)
    return c0 + (c1 - c0) * np.clip(r, 0, 1)[..., None]


def _shapes(rng, h, w):
    img = _flat(rng, h, w) if rng.random() < 0.6 else _linear(rng, h, w)
    yy, xx = _grid(h, w)
    for _ in range(int(rng.integers(2, 12))):
        c = random_colour(rng)
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        ry, rx = rng.uniform(2, h / 2), rng.uniform(2, w / 2)
        if rng.random() < 0.5:
            m = (np.abs(yy - cy) < ry) & (np.abs(xx - cx) < rx)
        else:
            m = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 < 1
        img[m] = c
    return img


def _glyphs(rng, h, w):
    """Rows of text-like glyphs: each glyph a few strokes on a 4x6 grid, drawn in one colour."""
    bg, fg = random_colour(rng), random_colour(rng)
    if rng.random() < 0.5:  # mostly dark on light or light on dark, as text is
        v = rng.uniform(0.75, 1.0)
        bg, fg = np.full(3, v, np.float32), np.full(3, rng.uniform(0, 0.3), np.float32)
        if rng.random() < 0.4:
            bg, fg = fg, bg
    gh = int(rng.integers(6, 20))
    gw = max(4, int(gh * rng.uniform(0.5, 0.8)))
    th = max(1, int(round(gh / rng.uniform(6, 10))))
    lead = gh + int(rng.integers(1, max(2, gh // 2)))
    mask = np.zeros((h, w), bool)
    y0 = int(rng.integers(0, max(1, lead)))
    while y0 + gh <= h:
        x0 = int(rng.integers(0, gw))
        while x0 + gw <= w:
            if rng.random() < 0.15:  # a space
                x0 += gw
                continue
            pts = rng.integers(0, [5, 7], size=(int(rng.integers(2, 5)), 2, 2))
            for (ax, ay), (bx, by) in pts:
                n = max(abs(bx - ax), abs(by - ay)) * 4 + 1
                xs = np.round(x0 + np.linspace(ax, bx, n) * (gw - th) / 4).astype(int)
                ys = np.round(y0 + np.linspace(ay, by, n) * (gh - th) / 6).astype(int)
                for dy in range(th):
                    for dx in range(th):
                        mask[np.clip(ys + dy, 0, h - 1), np.clip(xs + dx, 0, w - 1)] = True
            x0 += gw + max(1, gw // 4)
        y0 += lead
    img = np.empty((h, w, 3), np.float32)
    img[:] = bg
    img[mask] = fg
    return img


def _noise(rng, h, w):
    """Blocky random colours (cells of 4-16 pixels) or fine coloured noise of small amplitude
    around a base colour (full-amplitude pixel noise cannot be coded and would dominate L2)."""
    if rng.random() < 0.5:
        cell = int(rng.choice([4, 8, 16]))
        small = rng.random((-(-h // cell), -(-w // cell), 3)).astype(np.float32)
    else:
        cell = int(rng.choice([1, 2, 4]))
        small = random_colour(rng) + rng.normal(0, rng.uniform(0.01, 0.08),
                                                (-(-h // cell), -(-w // cell), 3)).astype(np.float32)
    return np.repeat(np.repeat(small, cell, 0), cell, 1)[:h, :w]


_DRAW = {"flat": _flat, "bars": _bars, "linear": _linear, "radial": _radial,
         "shapes": _shapes, "glyphs": _glyphs, "noise": _noise}


def synth_picture(rng, h, w, kind=None):
    """float32 [h, w, 3] RGB in [0, 1]."""
    kind = kind or KINDS[int(rng.choice(len(KINDS), p=KIND_P))]
    return np.clip(_DRAW[kind](rng, h, w), 0, 1).astype(np.float32)


def synth_clip(rng, frames, size, kind=None):
    """float32 [T, 3, size, size] in [-1, 1]: a synthetic picture, static (30%) or moving
    (translation/scroll at up to 4 pixels per picture in a random direction)."""
    if frames == 1 or rng.random() < 0.3:
        vy = vx = 0.0
    else:
        sp, a = rng.uniform(0.25, 4.0), rng.uniform(0, 2 * math.pi)
        vy, vx = sp * math.sin(a), sp * math.cos(a)
    my = int(math.ceil(abs(vy) * (frames - 1)))
    mx = int(math.ceil(abs(vx) * (frames - 1)))
    canvas = synth_picture(rng, size + my, size + mx, kind)
    out = np.empty((frames, size, size, 3), np.float32)
    for t in range(frames):
        oy = int(round(vy * t)) if vy >= 0 else my + int(round(vy * t))
        ox = int(round(vx * t)) if vx >= 0 else mx + int(round(vx * t))
        out[t] = canvas[oy:oy + size, ox:ox + size]
    return out.transpose(0, 3, 1, 2) * 2.0 - 1.0
