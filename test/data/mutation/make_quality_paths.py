#!/usr/bin/env python3
"""Independent numpy answers for test/quality-paths.test.ts (issue 20 item 6: the code paths of
src/metrics/quality.ts the fixture cases do not reach).

The weights are not stored: both sides build them from the same integer formula (`weights` below, exact in
float64, so numpy and the test see bit-identical inputs). The metric definitions are the fixtures README's,
reused from test/data/metrics/make_expected.py (`quality`, `entropy`); the scan of `scanWeights` (max |w|,
threshold, sparse rows, norms, column sums) and the non-finite rules (file comment of quality.ts: non-finite
values are counted and skipped, a filter holding one is never sparse) are written here with numpy masks.
Writes quality-paths.json next to this script. Run once from the repository root:

    python3 test/data/mutation/make_quality_paths.py
"""
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'metrics'))
from make_expected import entropy, quality  # noqa: E402

M = 2147483647


def weights(count, seed):
    """The minimal standard generator (Park & Miller): x_0 = seed, x_{i+1} = 48271·x_i mod M (M = 2³¹ − 1),
    w_i = x_{i+1} / M − 0.5. Every product is an integer below 2⁴⁷, exact in float64, so the test builds the
    same bits."""
    out = np.empty(count)
    x = seed
    for i in range(count):
        x = (x * 48271) % M
        out[i] = x / M - 0.5
    return out


def layer(shape, seed, dead_every=0, f32=False):
    n = shape[0] * shape[1]
    k = shape[2] * shape[3]
    w = weights(n * k, seed).reshape(n, k)
    if dead_every:
        w[np.arange(n) % dead_every == 3] *= 1e-4
    if f32:
        w = w.astype(np.float32).astype(np.float64)
    return w.reshape(shape)


def orthogonality(G):
    out = G.shape[0]
    norms = np.linalg.norm(G, axis=1)
    norms[norms == 0] = 1
    Gn = G / norms[:, None]
    return float(1 - np.abs(Gn @ Gn.T - np.eye(out)).sum() / (out * (out - 1)))


def scan(F, eps):
    """scanWeights on an n x k matrix with possibly non-finite values."""
    finite = np.isfinite(F)
    a = np.where(finite, np.abs(F), 0.0)
    max_abs = float(a.max()) if F.size else 0.0
    t = eps * max_abs
    if t == 0:
        t = 1.0
    sparse = np.all(np.abs(np.where(finite, F, np.inf)) < t, axis=1)
    fw = F[finite]
    l1n = l2n = None
    if finite.all() and F.size >= 2:
        std = F.ravel().std(ddof=1)
        if std > 0:
            z = (F.ravel() - F.mean()) / std
            l1n, l2n = float(np.abs(z).sum()), float(np.sqrt((z**2).sum()))
    return {
        'nonFinite': int((~finite).sum()),
        'maxAbs': max_abs,
        'threshold': float(t),
        'keep': [int(not s) for s in sparse],
        'sparseCount': int(sparse.sum()),
        'normL1': float(np.abs(fw).sum()),
        'normL2': float(np.sqrt((fw**2).sum())),
        'normL1Norm': l1n,
        'normL2Norm': l2n,
        'columnSums': [float(x) for x in F.sum(axis=0)] if finite.all() else None,
    }


def main():
    out = {'generator': 'make_quality_paths.py (numpy %s)' % np.__version__}

    # blockedOrthogonality: several 256-row blocks, rows of 1, 9 (short rows), 20 and 1030 values (two
    # 1024-column chunks); one zero row in each
    blocked = []
    for rows, d, seed in [(300, 1, 1), (300, 9, 2), (530, 20, 3), (260, 1030, 4)]:
        G = weights(rows * d, seed).reshape(rows, d)
        G[7] = 0
        blocked.append({'rows': rows, 'd': d, 'seed': seed, 'zeroRow': 7, 'orthogonality': orthogonality(G)})
    out['blocked'] = blocked

    # scanWeights: k = 9, 1 and 5 (three loops), sparse rows, a non-finite case, an all-zero layer
    scans = []
    for n, k, seed, dead, eps in [(40, 9, 5, 4, 0.01), (50, 1, 6, 5, 0.01), (30, 5, 7, 6, 0.02), (3, 3, 8, 0, 0.01)]:
        F = weights(n * k, seed).reshape(n, k)
        if dead:
            F[np.arange(n) % dead == 3] *= 1e-4
        scans.append({'n': n, 'k': k, 'seed': seed, 'deadEvery': dead, 'eps': eps, 'expected': scan(F, eps)})
    F = weights(20 * 9, 9).reshape(20, 9)
    F[2, 4] = np.nan
    F[5, 0] = np.inf
    F[6, 8] = -np.inf
    F[11] *= 1e-4  # sparse: its max is below 0.01 of the finite max
    scans.append({'n': 20, 'k': 9, 'seed': 9, 'deadEvery': 0, 'eps': 0.01,
                  'nonFinite': [[2, 4, 'NaN'], [5, 0, 'Infinity'], [6, 8, '-Infinity']], 'scaleRow': 11,
                  'expected': scan(F, 0.01)})
    out['scans'] = scans

    # varianceEntropy over all rows and over a selection: k = 9, k = 25, k = 100 with fewer rows than values
    # (the Gram-matrix path), k = 1
    ents = []
    for n, k, seed in [(40, 9, 10), (30, 25, 11), (50, 100, 12), (80, 100, 13), (12, 1, 14)]:
        F = weights(n * k, seed).reshape(n, k)
        select = [int(r % 3 != 1) for r in range(n)]
        e, en = entropy(F)
        es, esn = entropy(F[np.array(select) == 1])
        ents.append({'n': n, 'k': k, 'seed': seed, 'select': select,
                     'all': {'entropy': e, 'norm': en}, 'selected': {'entropy': es, 'norm': esn}})
    out['entropies'] = ents

    # measureLayer on shapes the fixtures lack: sparse rows in 1x1, 5x5 and wide (Gram path) layers, k = 9
    # with sparse rows, and more than 512 output filters (the blocked orthogonality inside measureLayer)
    layers = []
    for shape, seed, dead in [([30, 4, 1, 1], 15, 4), ([12, 3, 5, 5], 16, 5), ([20, 2, 1, 90], 17, 6),
                              ([24, 8, 3, 3], 18, 7), ([520, 1, 1, 20], 19, 0), ([16, 2, 2, 2], 20, 4)]:
        W = layer(shape, seed, dead)
        layers.append({'shape': shape, 'seed': seed, 'deadEvery': dead, 'expected': quality(W)})
    out['layers'] = layers

    # a layer with non-finite weights, as measureLayer treats it (quality.ts file comment)
    W = layer([6, 2, 3, 3], 21)
    F = W.reshape(12, 9)
    F[1, 1] = np.nan
    F[4, 7] = np.inf
    F[9] *= 1e-4
    s = scan(F, 0.01)
    out['nonFiniteLayer'] = {'shape': [6, 2, 3, 3], 'seed': 21, 'nonFinite': [[1, 1, 'NaN'], [4, 7, 'Infinity']],
                             'scaleRow': 9, 'expected': {
                                 'n': 12, 'sparsity': s['sparseCount'] / 12, 'varianceEntropy': None,
                                 'varianceEntropyNorm': None, 'varianceEntropyClean': None,
                                 'varianceEntropyCleanNorm': None, 'orthogonality': None,
                                 'normL1': s['normL1'], 'normL2': s['normL2'], 'normL1Norm': None,
                                 'normL2Norm': None}, 'count': 2}

    with open(os.path.join(HERE, 'quality-paths.json'), 'w') as f:
        json.dump(out, f, indent=1)
        f.write('\n')


if __name__ == '__main__':
    main()
