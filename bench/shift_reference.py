"""The paper's notebook pipeline for the distribution shift (the Python reference of bench/shift.ts).

float16 load of the filters, per-filter peak scaling, sklearn.decomposition.PCA, numpy.histogram over the
global coefficient range, scipy.stats.entropy for the symmetric KL, explained-variance weighted. Several
groupings are computed from the one loaded array and its one PCA, as the notebook computes its drift
matrices (Task, Training, depth) from one DataFrame.

    /usr/bin/python3 bench/shift_reference.py FILTERS.npy BY=GROUPS.npy=LABELS_JSON [BY=…] [--bins 70]

Prints one JSON line: seconds (total and per step), peak RSS (ru_maxrss), and per grouping its groups,
counts and matrix.
"""
import json
import resource
import sys
import time

import numpy as np
from scipy.stats import entropy
from sklearn.decomposition import PCA

EPS = np.finfo(np.float32).eps


def drift(c, g, labels, evr, lo, hi, bins):
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
    n = len(present)
    matrix = [[0.0] * n for _ in range(n)]
    for a in range(n):
        for b in range(a + 1, n):
            d = 0.0
            for i in range(9):
                p, q = hists[present[a]][i], hists[present[b]][i]
                d += evr[i] * (entropy(p, q) + entropy(q, p))
            matrix[a][b] = matrix[b][a] = float(d)
    return {
        "groups": [labels[k] for k in present],
        "counts": [int(np.sum(g == k)) for k in present],
        "matrix": matrix,
    }


def main():
    argv = sys.argv[1:]
    bins = 70
    if "--bins" in argv:
        i = argv.index("--bins")
        bins = int(argv[i + 1])
        del argv[i : i + 2]
    filters_path = argv[0]
    groupings = []
    for spec in argv[1:]:
        by, path, labels_json = spec.split("=", 2)
        groupings.append((by, path, json.loads(labels_json)))
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

    t1 = time.perf_counter()
    lo, hi = float(c.min()), float(c.max())
    results = []
    for (by, _, labels), g in zip(groupings, codes):
        r = drift(c, g, labels, evr, lo, hi, bins)
        r["by"] = by
        results.append(r)
    t["histograms+kl"] = time.perf_counter() - t1
    total = time.perf_counter() - t0
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "seconds": total,
                "steps": t,
                "peakRssMB": rss_kb / 1024,
                "filters": int(c.shape[0]),
                "range": [lo, hi],
                "explainedVarianceRatio": [float(v) for v in evr],
                "results": results,
            }
        )
    )


if __name__ == "__main__":
    main()
