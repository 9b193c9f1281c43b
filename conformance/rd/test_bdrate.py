#!/usr/bin/python3
"""Known answers for the Bjøntegaard delta (conformance/rd/bdrate.py).

1. Rates scaled by 0.8 at the same qualities: BD-rate -20 % exactly.
2. Two curves whose log10(rate) is linear in quality (PCHIP reproduces a
   line): anchor log10 R = 0.1 q - 1 on q in [30, 40], test log10 R =
   0.05 q + 0.5 on [32, 44]. Overlap [32, 40]; the mean of the difference
   -0.05 q + 1.5 over it is -0.05 * 36 + 1.5 = -0.3, so BD-rate =
   10^-0.3 - 1 = -49.8813 %. Swapping the axes: anchor q = 10 lr + 10 on
   lr in [2, 3], test q = 20 lr - 10 on [2.1, 2.7]; overlap [2.1, 2.7],
   mean difference 10 * 2.4 - 20 = 4.0 dB BD-PSNR.
3. A three-point case worked by hand (see test_hand_pchip).
4. No overlap and single points give None with a reason, never a number.
5. The PCHIP slopes and values against SciPy's PchipInterpolator (an
   independent implementation) when SciPy is installed, and the exact
   integral against a dense numerical integration.
"""
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bdrate  # noqa: E402

failures = []


def check(cond, what):
    print(('ok   ' if cond else 'FAIL ') + what)
    if not cond:
        failures.append(what)


def close(a, b, tol=1e-9):
    return a is not None and b is not None and abs(a - b) <= tol


def test_scaled():
    anchor = [(1000, 30.0), (1800, 33.1), (3500, 36.0), (7000, 38.5), (12000, 40.2)]
    test = [(r * 0.8, q) for r, q in anchor]
    v, why = bdrate.bd_rate(anchor, test)
    check(close(v, -20.0, 1e-9), f'rates x 0.8 at equal quality: BD-rate {v:.10f} % = -20 % ({why})')
    v2, _ = bdrate.bd_rate(test, anchor)
    check(close(v2, 25.0, 1e-9), f'and the other way round +25 % (got {v2:.10f})')
    # qualities shifted by +1 dB at equal rates on a straight line of slope
    # 0.1 decade per dB: the test needs 10^-0.1 of the rate
    line = [(10 ** (0.1 * q - 1), q) for q in (30, 32, 34, 36, 38, 40)]
    up = [(r, q + 1) for r, q in line]
    v, _ = bdrate.bd_rate(line, up)
    check(close(v, (10 ** -0.1 - 1) * 100, 1e-9), f'+1 dB on a 0.1 decade/dB line: {v:.6f} % = '
          f'{(10 ** -0.1 - 1) * 100:.6f} %')
    d, _ = bdrate.bd_quality(line, up)
    check(close(d, 1.0, 1e-9), f'BD-PSNR of the same: {d:.10f} dB = 1')


def test_linear():
    qa = [30, 33, 36, 40]
    qt = [32, 35, 39, 44]
    anchor = [(10 ** (0.1 * q - 1), q) for q in qa]
    test = [(10 ** (0.05 * q + 0.5), q) for q in qt]
    v, why = bdrate.bd_rate(anchor, test)
    want = (10 ** -0.3 - 1) * 100
    check(close(v, want, 1e-9), f'linear log-rate curves: BD-rate {v:.6f} % = 10^-0.3 - 1 = {want:.6f} % ({why})')
    la = [2.0, 2.3, 2.6, 3.0]
    lt = [2.1, 2.4, 2.7]
    anchor = [(10 ** lr, 10 * lr + 10) for lr in la]
    test = [(10 ** lr, 20 * lr - 10) for lr in lt]
    d, why = bdrate.bd_quality(anchor, test)
    check(close(d, 4.0, 1e-9), f'linear quality curves: BD-PSNR {d:.10f} dB = 4 ({why})')


def test_hand_pchip():
    # Anchor: q = 30, 32, 36 with log10 R = 1, 2, 2.5 (slopes 0.5, 0.125).
    # Interior slope (Fritsch-Butland): h0 = 2, h1 = 4, w1 = 2*4 + 2 = 10,
    # w2 = 4 + 2*2 = 8, d1 = 18 / (10/0.5 + 8/0.125) = 18/84 = 3/14.
    # End slopes: d0 = ((2*2 + 4)*0.5 - 2*0.125) / 6 = 3.75/6 = 0.625 (same
    # sign as 0.5: kept); d2 = ((2*4 + 2)*0.125 - 4*0.5) / 6 = -0.75/6 < 0,
    # of the other sign than 0.125: set to 0.
    # Integral of a Hermite cubic over a segment of width h:
    # h (y0 + y1) / 2 + h^2 (d0 - d1) / 12.
    # [30, 32]: 2 * 1.5 + 4 (0.625 - 3/14) / 12 = 3 + (0.625 - 3/14) / 3
    # [32, 36]: 4 * 2.25 + 16 (3/14 - 0) / 12 = 9 + (4/3)(3/14) = 9 + 2/7
    # Test: the anchor's rates halved: log10 R lower by log10 2 everywhere.
    x = np.array([30.0, 32.0, 36.0])
    y = np.array([1.0, 2.0, 2.5])
    d = bdrate.pchip_slopes(x, y)
    check(np.allclose(d, [0.625, 3 / 14, 0.0], atol=1e-15, rtol=0),
          f'PCHIP slopes by hand: {list(d)} = [0.625, 3/14, 0]')
    p = bdrate.Pchip(x, y)
    want = 3 + (0.625 - 3 / 14) / 3 + 9 + 2 / 7
    check(close(p.integral(30, 36), want, 1e-12), f'PCHIP integral by hand: {p.integral(30, 36):.12f} = {want:.12f}')
    # value at the middle of a segment: (y0 + y1)/2 + h (d0 - d1)/8
    mid = 1.5 + 2 * (0.625 - 3 / 14) / 8
    check(close(p(31.0), mid, 1e-12), f'PCHIP at 31 by hand: {p(31.0):.12f} = {mid:.12f}')
    # a partial overlap: the test curve spans q 31..36 only
    anchor = [(10 ** v, q) for q, v in zip(x, y)]
    test = [(10 ** (v - 0.2), q) for q, v in [(31.0, float(p(31.0))), (32.0, 2.0), (36.0, 2.5)]]
    v, why = bdrate.bd_rate(anchor, test)
    # on [31, 36] the test interpolant is not the anchor's minus 0.2 (its own
    # slopes differ), so compute the expected value from integrals by hand:
    pt = bdrate.Pchip([31.0, 32.0, 36.0], [float(p(31.0)) - 0.2, 1.8, 2.3])
    want = (10 ** ((pt.integral(31, 36) - p.integral(31, 36)) / 5) - 1) * 100
    check(close(v, want, 1e-9) and why.startswith('over quality 31'), f'partial overlap uses [31, 36]: {v:.6f} %')


def test_refusals():
    a = [(100, 30), (200, 33), (400, 36)]
    b = [(50, 37), (80, 39)]
    v, why = bdrate.bd_rate(a, b)
    check(v is None and 'overlap' in why, f'no quality overlap: None ({why})')
    v, why = bdrate.bd_rate(a, [(150, 32)])
    check(v is None and '2' in why, f'one test point: None ({why})')
    v, why = bdrate.bd_quality(a, [(1000, 40), (2000, 41)])
    check(v is None and 'overlap' in why, f'no rate overlap for BD-PSNR: None ({why})')
    check(bdrate.rate_at_quality(a, 37) is None and close(bdrate.rate_at_quality(a, 33), 200, 1e-9),
          'rate_at_quality: None outside the curve, the point itself on it')
    try:
        bdrate.bd_rate([(0, 30), (10, 31)], a)
        check(False, 'a zero rate is refused')
    except bdrate.BDError:
        check(True, 'a zero rate is refused')


def test_against_scipy_and_numeric():
    rng = np.random.default_rng(1)
    for trial in range(20):
        n = int(rng.integers(2, 9))
        x = np.cumsum(rng.uniform(0.2, 3.0, n)) + 20
        # monotone or not, both must match
        y = np.cumsum(rng.uniform(-0.5 if trial % 2 else 0.01, 1.0, n))
        p = bdrate.Pchip(x, y)
        t = np.linspace(x[0], x[-1], 2001)
        ours = np.array([p(v) for v in t])
        # exact integral against composite Simpson on 2001 points
        hstep = t[1] - t[0]
        simpson = hstep / 3 * (ours[0] + ours[-1] + 4 * ours[1:-1:2].sum() + 2 * ours[2:-1:2].sum())
        if not math.isclose(p.integral(x[0], x[-1]), simpson, rel_tol=0, abs_tol=1e-6):
            check(False, f'trial {trial}: integral {p.integral(x[0], x[-1])} vs Simpson {simpson}')
            return
        if trial % 2 == 0 and (ours.min() < y.min() - 1e-12 or ours.max() > y.max() + 1e-12
                               or np.any(np.diff(ours) < -1e-12)):
            check(False, f'trial {trial}: monotone data gave a non-monotone interpolant')
            return
        try:
            from scipy.interpolate import PchipInterpolator
        except ImportError:
            continue
        ref = PchipInterpolator(x, y)
        if not np.allclose(ours, ref(t), rtol=0, atol=1e-12) or \
                not math.isclose(p.integral(x[0], x[-1]), float(ref.integrate(x[0], x[-1])), abs_tol=1e-12):
            check(False, f'trial {trial}: differs from SciPy PchipInterpolator')
            return
    check(True, 'exact integrals = Simpson on 2001 points; monotone data stay monotone (20 random curves)')
    try:
        import scipy  # noqa: F401
        check(True, 'values and integrals = SciPy PchipInterpolator within 1e-12 (20 random curves)')
    except ImportError:
        print('note: SciPy is not installed: the comparison with PchipInterpolator was skipped')


def main():
    test_scaled()
    test_linear()
    test_hand_pchip()
    test_refusals()
    test_against_scipy_and_numeric()
    print(f'{len(failures)} failure(s)')
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
