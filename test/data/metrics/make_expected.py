#!/usr/bin/env python3
"""Expected quality metrics for test/metrics.test.ts, computed independently with numpy (float64, SVD).

Implements the definitions in the fixtures README ("Quality metrics") literally: singular values of the
centred filter matrix via numpy.linalg.svd, explicit row normalisation and G G^T for orthogonality.
Writes one raw little-endian float32 file per case (<name>.bin) and expected.json. Run once:

    python3 test/data/metrics/make_expected.py
"""
import json
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
L, X0, K, B = 1.2618047, 2.30436435, 0.88767525, -0.31050834


def T(n):
    return L / (1 + np.exp(-K * (np.log2(n) - X0))) + B


def entropy(F):
    n = F.shape[0]
    if n < 2:
        return None, None
    C = F - F.mean(axis=0)
    s = np.linalg.svd(C, compute_uv=False)
    v = s**2 / (n - 1)
    if v.sum() == 0:
        e = 0.0
    else:
        p = v / v.sum()
        p = p[p > 0]
        e = float(-(p * np.log10(p)).sum())
    return e, float(e / T(n))


def quality(W, eps=0.01):
    W = W.astype(np.float64)
    out, inpg, kh, kw = W.shape
    n = out * inpg
    F = W.reshape(n, kh * kw)
    t = eps * np.abs(W).max()
    if t == 0:
        t = 1.0
    sparse_rows = np.all(np.abs(F) < t, axis=1)
    e, en = entropy(F)
    ec, ecn = entropy(F[~sparse_rows])
    if out == 1:
        orth = None
    else:
        G = W.reshape(out, -1)
        norms = np.linalg.norm(G, axis=1)
        norms[norms == 0] = 1
        G = G / norms[:, None]
        c = np.abs(G @ G.T - np.eye(out)).sum() / (out * (out - 1))
        orth = float(1 - c)
    w = W.ravel()
    std = w.std(ddof=1)
    if std == 0:
        l1n = l2n = None
    else:
        z = (w - w.mean()) / std
        l1n, l2n = float(np.abs(z).sum()), float(np.sqrt((z**2).sum()))
    return {
        'n': int(n),
        'sparsity': float(sparse_rows.sum() / n),
        'varianceEntropy': e,
        'varianceEntropyNorm': en,
        'varianceEntropyClean': ec,
        'varianceEntropyCleanNorm': ecn,
        'orthogonality': orth,
        'normL1': float(np.abs(w).sum()),
        'normL2': float(np.sqrt((w**2).sum())),
        'normL1Norm': l1n,
        'normL2Norm': l2n,
    }


def cases():
    rng = np.random.default_rng(20220601)
    yield 'normal_32x16x3x3', rng.normal(0, 0.1, (32, 16, 3, 3)), {}
    W = rng.normal(0, 0.05, (64, 8, 3, 3))
    dead = rng.random((64, 8)) < 0.3
    W[dead] *= 1e-4  # ~30% near-zero filters: sparse and clean entropies differ
    yield 'sparse30_64x8x3x3', W, {}
    yield 'sparse30_64x8x3x3 eps=0.3', W, {'sparsityEps': 0.3}
    basis = rng.normal(0, 1, (2, 9))
    coef = rng.normal(0, 1, (64 * 16, 2))
    W = (coef @ basis + rng.normal(0, 0.01, (64 * 16, 9))).reshape(64, 16, 3, 3)
    yield 'lowrank_64x16x3x3', W, {}
    yield 'k5x5_16x4x5x5', rng.uniform(-1, 1, (16, 4, 5, 5)), {}
    yield 'k1x3_24x6x1x3', rng.normal(0.2, 1, (24, 6, 1, 3)), {}
    yield 'k1x1_40x20x1x1', rng.normal(0, 1, (40, 20, 1, 1)), {}
    yield 'depthwise_48x1x3x3', rng.normal(0, 0.3, (48, 1, 3, 3)), {}
    yield 'odd_7x10x3x3', rng.normal(0, 1, (7, 10, 3, 3)), {}
    yield 'odd_13x3x7x7', rng.normal(0.01, 0.02, (13, 3, 7, 7)), {}
    yield 'pair_2x1x3x3', rng.normal(0, 1, (2, 1, 3, 3)), {}
    yield 'biased_33x5x3x3', rng.normal(3, 0.001, (33, 5, 3, 3)), {}
    # wide 1xk rows (1-D convs): fewer filters than values (60 < 100, spectrum from the Gram matrix) with
    # a tenth of them dead, and more (96 > 72)
    W = rng.normal(0, 0.2, (30, 2, 1, 100))
    W[rng.random((30, 2)) < 0.1] *= 1e-4
    yield 'wide_30x2x1x100', W, {}
    yield 'wide_16x6x1x72', rng.normal(0.05, 0.3, (16, 6, 1, 72)), {}


def main():
    out = []
    for name, W, opts in cases():
        W32 = np.ascontiguousarray(W, dtype='<f4')
        fname = name.split(' ')[0] + '.bin'  # cases with options reuse their base case's weights
        W32.tofile(os.path.join(HERE, fname))
        out.append({
            'name': name,
            'file': fname,
            'shape': list(W32.shape),
            'options': opts,
            'expected': quality(W32, opts.get('sparsityEps', 0.01)),
        })
    with open(os.path.join(HERE, 'expected.json'), 'w') as f:
        json.dump({'generator': 'make_expected.py (numpy %s)' % np.__version__, 'cases': out}, f, indent=1)
        f.write('\n')


if __name__ == '__main__':
    main()
