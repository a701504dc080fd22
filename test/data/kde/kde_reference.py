"""Reference values for test/kde-density.test.ts, computed with numpy independently of src/analysis/kde.ts.

Run from the repository root:  python3 test/data/kde/kde_reference.py
Writes test/data/kde/kde_reference.json.

Definitions (the module's documentation, written here from scratch):
- a histogram of len(counts) equal bins on [lo, hi]; each bin's count sits at its centre lo + (b + 1/2)·w;
  bins with a count that is not > 0 are ignored;
- n, mean, sd (n − 1 in the denominator; 0 for n = 1);
- quartile f: the first bin (in order) where the running count reaches f·n, interpolated linearly inside that
  bin; `hi` when no bin reaches it;
- Silverman: min over the finite positive ones of {sd, IQR/1.349} times (3n/4)^(-1/5); 0 when none is;
- bandwidth: the given one or Silverman's, raised to one bin width w when smaller (or not finite); when still
  not > 0, max(|g1 − g0| / 100, 1e-12);
- the estimate on numpy.linspace(g0, g1, points): sum over bins of count · φ((x − centre)/h) / (n h), each term
  kept only where |x − centre| <= 6h when the grid increases (every term when it does not).
"""
import json
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def stats(counts, lo, hi):
    c = np.asarray(counts, dtype=np.float64)
    bins = len(c)
    w = (hi - lo) / bins if bins else 0.0
    c = np.where(c > 0, c, 0.0)
    n = float(c.sum())
    if n == 0:
        return None
    centres = lo + (np.arange(bins) + 0.5) * w
    mean = float((c * centres).sum() / n)
    sd = float(np.sqrt((c * (centres - mean) ** 2).sum() / (n - 1))) if n > 1 else 0.0
    cum = np.cumsum(c)

    def quantile(f):
        target = f * n
        b = int(np.searchsorted(cum, target, side="left"))
        if b >= bins:
            return hi
        before = cum[b] - c[b]
        return float(lo + (b + (target - before) / c[b]) * w)

    return {"n": n, "mean": mean, "sd": sd, "q1": quantile(0.25), "median": quantile(0.5), "q3": quantile(0.75)}


def silverman(s):
    if s is None or not s["n"] > 0:
        return 0.0
    spreads = [v for v in (s["sd"], (s["q3"] - s["q1"]) / 1.349) if np.isfinite(v) and v > 0]
    if not spreads:
        return 0.0
    return float(min(spreads) * (3 * s["n"] / 4) ** -0.2)


def kde(counts, lo, hi, points=1024, grid=None, bandwidth=None):
    points = max(2, points)
    g0, g1 = grid if grid is not None else (lo, hi)
    x = np.linspace(g0, g1, points)
    bins = len(counts)
    w = (hi - lo) / bins if bins else 0.0
    s = stats(counts, lo, hi)
    h = bandwidth if bandwidth is not None else silverman(s)
    if not (np.isfinite(h) and h >= w):
        h = max(w, h if np.isfinite(h) else 0.0)
    if not h > 0:
        h = max(abs(g1 - g0) / 100, 1e-12)
    y = np.zeros(points)
    if s is None:
        return x, y, h, 0.0
    c = np.asarray(counts, dtype=np.float64)
    for b in range(bins):
        if not c[b] > 0:
            continue
        centre = lo + (b + 0.5) * w
        d = x - centre
        term = c[b] * np.exp(-0.5 * (d / h) ** 2) / (np.sqrt(2 * np.pi) * s["n"] * h)
        if g1 > g0:
            # the cut must not sit on a rounding boundary, or the reference would depend on it
            assert np.all(np.abs(np.abs(d) - 6 * h) > 1e-9 * h), "a grid point lies 6h from a centre"
            term = np.where(np.abs(d) <= 6 * h, term, 0.0)
        y += term
    return x, y, h, s["n"]


def case(name, counts, lo, hi, **opts):
    x, y, h, n = kde(counts, lo, hi, **opts)
    return {
        "name": name,
        "counts": list(map(float, counts)),
        "lo": lo,
        "hi": hi,
        "options": {k: (list(v) if isinstance(v, tuple) else v) for k, v in opts.items()},
        "stats": stats(counts, lo, hi),
        "silverman": silverman(stats(counts, lo, hi)),
        "x": x.tolist(),
        "y": y.tolist(),
        "bandwidth": h,
        "n": n,
    }


# a lumpy histogram with empty bins inside and at both ends; the quartile targets 12.75/25.5/38.25 fall
# inside bins
lumpy = [0, 0, 1, 3, 0, 7, 12, 9, 0, 0, 4, 6, 2, 0, 1, 0, 0, 3, 2, 0]
# n = 8: the quartile targets 2, 4 and 6 end exactly on a bin's last count, with empty bins after it
exact = [0, 2, 0, 0, 2, 0, 1, 1, 0, 2, 0, 0]
cases = [
    case("lumpy, Silverman bandwidth, histogram range", lumpy, -1.0, 1.0, points=41),
    case("lumpy on a wider grid, fixed bandwidth (the 6h cut removes terms)", lumpy, -1.0, 1.0, points=57,
         grid=(-2.3, 2.1), bandwidth=0.13),
    case("quartile targets on bin boundaries", exact, -3.0, 3.0, points=33),
    case("bandwidth below one bin width is raised to it", exact, -3.0, 3.0, points=29, bandwidth=0.01),
    case("one full bin: sd 0, IQR half a bin", [0, 0, 0, 5, 0, 0], 0.0, 6.0, points=25),
    case("a single value: sd 0", [0, 1, 0, 0], 0.0, 4.0, points=17),
    case("a reversed grid keeps every term", lumpy, -1.0, 1.0, points=23, grid=(2.5, -2.5), bandwidth=0.07),
    case("negative and NaN counts are ignored", [0, 4, -3, 2, float("nan"), 5, 0, 1], -2.0, 2.0, points=21),
    case("no counts", [0, 0, 0, 0], -1.0, 1.0, points=9),
    case("no bins", [], -1.0, 1.0, points=9, grid=(-3.0, 5.0)),
]


def finite(v):
    """JSON has no NaN: the test reads null as NaN."""
    if isinstance(v, float) and not np.isfinite(v):
        return None
    if isinstance(v, list):
        return [finite(u) for u in v]
    if isinstance(v, dict):
        return {k: finite(u) for k, u in v.items()}
    return v


values = [0.31, -1.2, 0.05, 2.4, -0.7, 0.31, 1.9]
points = np.linspace(-3, 3, 13)
bw = 0.4
direct = [float(np.sum(np.exp(-0.5 * ((p - np.array(values)) / bw) ** 2)) / (np.sqrt(2 * np.pi) * len(values) * bw))
          for p in points]
tx = [0.0, 0.5, 1.5, 1.75, 3.0]
ty = [1.0, -2.0, 4.0, 0.5, 2.0]

out = {
    "cases": finite(cases),
    "gaussianKde": {"values": values, "x": points.tolist(), "bandwidth": bw, "y": direct},
    "trapezoid": {"x": tx, "y": ty, "value": float(np.trapezoid(ty, tx))},
}
with open(os.path.join(HERE, "kde_reference.json"), "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
