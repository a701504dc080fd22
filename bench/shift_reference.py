"""The paper's notebook pipeline for the distribution shift (the Python reference of bench/shift.ts).

float16 load of the filters, per-filter peak scaling, sklearn.decomposition.PCA, numpy.histogram over the
global coefficient range, scipy.stats.entropy for the symmetric KL, explained-variance weighted.

    /usr/bin/python3 bench/shift_reference.py FILTERS.npy GROUPS.npy LABELS_JSON [BINS]

Prints one JSON line: seconds (total and per step), peak RSS (ru_maxrss), groups, counts, matrix.
"""
import time

import numpy as np
from shift_anchor import arguments, report
from scipy.stats import entropy
from sklearn.decomposition import PCA

EPS = np.finfo(np.float32).eps


def main():
    filters_path, groups_path, labels, bins = arguments()
    t = {}
    t0 = time.perf_counter()
    x = np.load(filters_path).astype(np.float16).reshape(-1, 9)  # the notebook keeps filters as float16
    g = np.load(groups_path)
    t["load"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    peak = np.abs(x).max(axis=1, keepdims=True)
    peak[peak == 0] = 1
    x = x / peak  # float16 / float16 (as the notebook)
    t["scale"] = time.perf_counter() - t1

    t1 = time.perf_counter()
    pca = PCA(n_components=9)
    c = pca.fit_transform(x)
    evr = pca.explained_variance_ratio_
    del x
    t["pca"] = time.perf_counter() - t1

    t1 = time.perf_counter()
    lo, hi = float(c.min()), float(c.max())
    present = [k for k in range(len(labels)) if np.any(g == k)]
    hists = {}
    for k in present:
        ck = c[g == k]
        hs = []
        for i in range(9):
            h, _ = np.histogram(ck[:, i], bins=bins, range=(lo, hi), density=True)
            h[h == 0] = EPS
            hs.append(h)
        hists[k] = hs
    t["histograms"] = time.perf_counter() - t1

    t1 = time.perf_counter()
    n = len(present)
    matrix = [[0.0] * n for _ in range(n)]
    for a in range(n):
        for b in range(a + 1, n):
            d = 0.0
            for i in range(9):
                p, q = hists[present[a]][i], hists[present[b]][i]
                d += evr[i] * (entropy(p, q) + entropy(q, p))
            matrix[a][b] = matrix[b][a] = float(d)
    t["kl"] = time.perf_counter() - t1
    report(t0, t, c, g, labels, present, lo, hi, evr, matrix)

if __name__ == "__main__":
    main()
