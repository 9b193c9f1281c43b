"""Bjøntegaard delta rate (BD-rate) and delta quality (BD-PSNR) with
piecewise cubic Hermite (PCHIP, monotone) interpolation.

BD-rate of a test curve against an anchor curve, both given as (rate,
quality) points:

  1. each curve is sorted by quality, and log10(rate) is interpolated as a
     function of quality with a monotone piecewise cubic Hermite
     interpolant (Fritsch and Carlson 1980, with the derivative choice of
     Fritsch and Butland 1984 at interior points and the shape-preserving
     three-point formula at the ends: the "pchip" of MATLAB and SciPy);
  2. both interpolants are integrated exactly over the overlapping quality
     interval [max(min q_A, min q_T), min(max q_A, max q_T)];
  3. the mean difference of log10 rates over that interval, d, gives
     BD-rate = 10^d - 1 (negative: the test curve needs fewer bits for the
     same quality).

BD-quality swaps the axes: quality interpolated against log10(rate) over
the overlapping log-rate interval; the mean difference is in quality units
(dB for PSNR).

This is the integration of the JVET/AOM common test conditions' BD-rate
(piecewise cubic instead of the original single cubic fit of VCEG-M33).
Nothing is extrapolated: without an overlap (or with fewer than two
distinct points on a curve) the functions return None and say why.
"""
import math

import numpy as np


class BDError(ValueError):
    pass


def _prepare(points):
    """Sorted, de-duplicated (x, y) arrays of points (x strictly increasing)."""
    pts = sorted((float(x), float(y)) for x, y in points)
    xs, ys = [], []
    for x, y in pts:
        if not (math.isfinite(x) and math.isfinite(y)):
            raise BDError('non-finite value')
        if xs and x == xs[-1]:
            # equal abscissae: keep their mean ordinate
            ys[-1] = (ys[-1] + y) / 2.0
            continue
        xs.append(x)
        ys.append(y)
    return np.array(xs), np.array(ys)


def pchip_slopes(x, y):
    """Derivatives at the knots of the monotone piecewise cubic Hermite
    interpolant through (x, y), x strictly increasing, len >= 2."""
    n = len(x)
    h = np.diff(x)
    delta = np.diff(y) / h
    d = np.zeros(n)
    if n == 2:
        d[:] = delta[0]
        return d
    for k in range(1, n - 1):
        if delta[k - 1] * delta[k] <= 0:
            d[k] = 0.0
        else:
            # weighted harmonic mean (Fritsch-Butland)
            w1 = 2 * h[k] + h[k - 1]
            w2 = h[k] + 2 * h[k - 1]
            d[k] = (w1 + w2) / (w1 / delta[k - 1] + w2 / delta[k])

    def end(h0, h1, del0, del1):
        # non-centred three-point formula, made shape-preserving
        s = ((2 * h0 + h1) * del0 - h0 * del1) / (h0 + h1)
        if s * del0 <= 0:
            return 0.0
        if del0 * del1 <= 0 and abs(s) > abs(3 * del0):
            return 3 * del0
        return s

    d[0] = end(h[0], h[1], delta[0], delta[1])
    d[-1] = end(h[-1], h[-2], delta[-1], delta[-2])
    return d


class Pchip:
    """Monotone piecewise cubic Hermite interpolant on [x0, xn]."""

    def __init__(self, x, y):
        self.x = np.asarray(x, dtype=float)
        self.y = np.asarray(y, dtype=float)
        if len(self.x) < 2 or np.any(np.diff(self.x) <= 0):
            raise BDError('need at least two points with increasing abscissae')
        self.d = pchip_slopes(self.x, self.y)

    def _segment(self, t):
        k = int(np.searchsorted(self.x, t, side='right') - 1)
        return min(max(k, 0), len(self.x) - 2)

    def __call__(self, t):
        k = self._segment(t)
        h = self.x[k + 1] - self.x[k]
        s = (t - self.x[k]) / h
        y0, y1, d0, d1 = self.y[k], self.y[k + 1], self.d[k], self.d[k + 1]
        h00 = 2 * s ** 3 - 3 * s ** 2 + 1
        h10 = s ** 3 - 2 * s ** 2 + s
        h01 = -2 * s ** 3 + 3 * s ** 2
        h11 = s ** 3 - s ** 2
        return h00 * y0 + h10 * h * d0 + h01 * y1 + h11 * h * d1

    def _antideriv_in(self, k, t):
        """Integral over [x_k, t] of segment k's cubic (exact)."""
        h = self.x[k + 1] - self.x[k]
        s = (t - self.x[k]) / h
        y0, y1, d0, d1 = self.y[k], self.y[k + 1], self.d[k], self.d[k + 1]
        # integrals over [0, s] of the Hermite basis, times h
        i00 = s ** 4 / 2 - s ** 3 + s
        i10 = s ** 4 / 4 - 2 * s ** 3 / 3 + s ** 2 / 2
        i01 = -s ** 4 / 2 + s ** 3
        i11 = s ** 4 / 4 - s ** 3 / 3
        return h * (i00 * y0 + i10 * h * d0 + i01 * y1 + i11 * h * d1)

    def integral(self, a, b):
        """Exact integral over [a, b], inside [x0, xn]."""
        if a > b:
            return -self.integral(b, a)
        if a < self.x[0] - 1e-12 or b > self.x[-1] + 1e-12:
            raise BDError('integration outside the interpolated range (no extrapolation)')
        ka, kb = self._segment(a), self._segment(b)
        if ka == kb:
            return self._antideriv_in(ka, b) - self._antideriv_in(ka, a)
        total = self._antideriv_in(ka, self.x[ka + 1]) - self._antideriv_in(ka, a)
        for k in range(ka + 1, kb):
            total += self._antideriv_in(k, self.x[k + 1])
        total += self._antideriv_in(kb, b)
        return total


def _curve(points, axis_quality):
    """Interpolant of log10(rate) over quality (axis_quality) or of quality
    over log10(rate)."""
    pts = []
    for r, q in points:
        if not (r > 0):
            raise BDError('rates must be positive')
        pts.append((q, math.log10(r)) if axis_quality else (math.log10(r), q))
    x, y = _prepare(pts)
    if len(x) < 2:
        return None
    return Pchip(x, y)


def overlap(anchor, test, axis_quality=True):
    """The overlapping interval [lo, hi] of the two curves on the quality
    axis (or the log10-rate axis), or None."""
    def span(points):
        v = [q if axis_quality else math.log10(r) for r, q in points]
        return min(v), max(v)
    a, t = span(anchor), span(test)
    lo, hi = max(a[0], t[0]), min(a[1], t[1])
    return (lo, hi) if hi > lo else None


def bd_rate(anchor, test):
    """BD-rate in percent of test against anchor, lists of (rate, quality);
    returns (value or None, reason)."""
    ca, ct = _curve(anchor, True), _curve(test, True)
    if ca is None or ct is None:
        return None, 'fewer than 2 distinct points'
    ov = overlap(anchor, test, True)
    if ov is None:
        return None, 'no quality overlap'
    lo, hi = ov
    diff = (ct.integral(lo, hi) - ca.integral(lo, hi)) / (hi - lo)
    return (10 ** diff - 1) * 100.0, f'over quality {lo:.4g}..{hi:.4g}'


def bd_quality(anchor, test):
    """BD-quality (e.g. BD-PSNR in dB) of test against anchor; returns
    (value or None, reason)."""
    ca, ct = _curve(anchor, False), _curve(test, False)
    if ca is None or ct is None:
        return None, 'fewer than 2 distinct points'
    ov = overlap(anchor, test, False)
    if ov is None:
        return None, 'no rate overlap'
    lo, hi = ov
    return (ct.integral(lo, hi) - ca.integral(lo, hi)) / (hi - lo), \
        f'over rate {10 ** lo:.4g}..{10 ** hi:.4g}'


def rate_at_quality(curve, q):
    """Rate of a curve (list of (rate, quality)) at quality q by the same
    PCHIP interpolation of log10(rate), or None outside its range."""
    c = _curve(curve, True)
    if c is None or q < c.x[0] or q > c.x[-1]:
        return None
    return 10 ** c(q)
