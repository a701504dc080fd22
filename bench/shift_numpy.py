"""The plain numpy port of the distribution shift a competent user would write (the second anchor of
bench/shift.ts, next to the notebook pipeline of shift_reference.py).

float32 load, per-filter peak scaling in place, covariance (numpy.cov, float64) + numpy.linalg.eigh for the
basis, one float64 projection, numpy.histogram per group and coefficient over the global range, float32-eps
floor, symmetric KL in numpy, explained-variance weighted.

    /usr/bin/python3 bench/shift_numpy.py FILTERS.npy GROUPS.npy LABELS_JSON [BINS]

Prints one JSON line: seconds (total and per step), peak RSS (ru_maxrss), groups, counts, matrix.
"""
import time

import numpy as np
from shift_anchor import arguments, report

EPS = float(np.finfo(np.float32).eps)


def main():
    filters_path, groups_path, labels, bins = arguments()
    t = {}
    t0 = time.perf_counter()
    x = np.load(filters_path).reshape(-1, 9)
    g = np.load(groups_path)
    t["load"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    peak = np.abs(x).max(axis=1, keepdims=True)
    peak[peak == 0] = 1
    x /= peak
    t["scale"] = time.perf_counter() - t1

    t1 = time.perf_counter()
    mean = x.mean(axis=0, dtype=np.float64)
    values, vectors = np.linalg.eigh(np.cov(x, rowvar=False))
    order = np.argsort(values)[::-1]
    values = np.clip(values[order], 0, None)
    comps = vectors[:, order].T
    comps *= np.sign(comps[np.arange(9), np.argmax(np.abs(comps), axis=1)])[:, None]
    evr = values / values.sum()
    c = (x - mean) @ comps.T
    del x
    t["pca"] = time.perf_counter() - t1

    t1 = time.perf_counter()
    lo, hi = float(c.min()), float(c.max())
    present = [k for k in range(len(labels)) if np.any(g == k)]
    hists = {}
    for k in present:
        ck = c[g == k]
        h = np.stack([np.histogram(ck[:, i], bins=bins, range=(lo, hi))[0] for i in range(9)]).astype(np.float64)
        h[h == 0] = EPS
        hists[k] = h / h.sum(axis=1, keepdims=True)
    t["histograms"] = time.perf_counter() - t1

    t1 = time.perf_counter()
    n = len(present)
    matrix = [[0.0] * n for _ in range(n)]
    for a in range(n):
        for b in range(a + 1, n):
            p, q = hists[present[a]], hists[present[b]]
            d = float(evr @ ((p * np.log(p / q)).sum(axis=1) + (q * np.log(q / p)).sum(axis=1)))
            matrix[a][b] = matrix[b][a] = d
    t["kl"] = time.perf_counter() - t1
    report(t0, t, c, g, labels, present, lo, hi, evr, matrix)

if __name__ == "__main__":
    main()
