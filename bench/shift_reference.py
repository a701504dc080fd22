"""The paper's notebook pipeline for the distribution shift (the Python reference of bench/shift.ts).

float16 load of the filters, per-filter peak scaling, sklearn.decomposition.PCA, numpy.histogram over the
global coefficient range, scipy.stats.entropy for the symmetric KL, explained-variance weighted. Several
groupings are computed from the one loaded array and its one PCA, as the notebook computes its drift
matrices (Task, Training, depth) from one DataFrame.

    /usr/bin/python3 bench/shift_reference.py FILTERS.npy BY=GROUPS.npy=LABELS_JSON [BY=…] [--bins 70]

Prints one JSON line: seconds (total and per step), peak RSS (ru_maxrss), and per grouping its groups,
counts and matrix.
"""
import time

import numpy as np
from scipy.stats import entropy
from shift_anchor import arguments, drift_all, present_groups
from sklearn.decomposition import PCA

EPS = np.finfo(np.float32).eps


def drift(c, g, labels, evr, lo, hi, bins):
    present = present_groups(g, labels)
    hists = {}
    for k in present:
        ck = c[g == k]
        hs = []
        for i in range(9):
            h, _ = np.histogram(ck[:, i], bins=bins, range=(lo, hi), density=True)
            h[h == 0] = EPS
            hs.append(h)
        hists[k] = hs
    n = len(present)
    matrix = [[0.0] * n for _ in range(n)]
    for a in range(n):
        for b in range(a + 1, n):
            d = 0.0
            for i in range(9):
                p, q = hists[present[a]][i], hists[present[b]][i]
                d += evr[i] * (entropy(p, q) + entropy(q, p))
            matrix[a][b] = matrix[b][a] = float(d)
    return present, matrix


def main():
    filters_path, groupings, bins = arguments()
    t = {}
    t0 = time.perf_counter()
    x = np.load(filters_path).astype(np.float16).reshape(-1, 9)  # the notebook keeps filters as float16
    codes = [np.load(path) for _, path, _ in groupings]
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

    drift_all(t0, t, c, evr, groupings, codes, bins, drift)


if __name__ == "__main__":
    main()
