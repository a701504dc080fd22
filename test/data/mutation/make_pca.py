#!/usr/bin/env python3
"""Independent numpy answers for test/pca-moments.test.ts (issue 20 item 6): peak scaling, the mean and centred
scatter of the scaled filters, the PCA basis (numpy.linalg.eigh of the covariance, components in descending
eigenvalue order, each signed so that its largest-|x| entry is positive, the first on ties; negative rounding
eigenvalues clamped to 0), the explained-variance ratios and the projections of the filters. The filters come
from the minimal standard generator of make_quality_paths.py (bit-identical in the test); every 5th row is zero
and, in the rank-deficient case, the filters lie in a 2-D subspace. Writes pca.json next to this script:

    python3 test/data/mutation/make_pca.py
"""
import json
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
from make_quality_paths import weights  # noqa: E402  the shared generator (bit-identical in the tests)


def filters(kind, n, dims, seed):
    if kind == 'random':
        F = weights(n * dims, seed).reshape(n, dims)
    else:  # rank 2: F = C·B with C n×2 and B 2×dims
        C = weights(n * 2, seed).reshape(n, 2)
        B = weights(2 * dims, seed + 1).reshape(2, dims)
        F = C @ B
    F[::5] = 0
    return F


def sign_by_largest(v):
    best = 0
    for i in range(1, len(v)):
        if abs(v[i]) > abs(v[best]):
            best = i
    return -v if v[best] < 0 else v


def main():
    out = []
    for kind, n, dims, seed in [('random', 60, 9, 31), ('random', 41, 5, 32), ('rank2', 50, 4, 33)]:
        F = filters(kind, n, dims, seed)
        peak = np.abs(F).max(axis=1)
        S = np.where(peak[:, None] > 0, F / np.where(peak > 0, peak, 1)[:, None], 0)
        mean = S.mean(axis=0)
        C = S - mean
        scatter = C.T @ C
        w, V = np.linalg.eigh(scatter / (n - 1))
        order = np.argsort(w)[::-1]
        w = np.maximum(w[order], 0)
        comps = [sign_by_largest(V[:, i]) for i in order]
        proj = C @ np.array(comps).T
        out.append({'kind': kind, 'n': n, 'dims': dims, 'seed': seed,
                    'scaled': S.ravel().tolist(), 'mean': mean.tolist(), 'scatter': scatter.ravel().tolist(),
                    'explainedVariance': w.tolist(), 'explainedVarianceRatio': (w / w.sum()).tolist(),
                    'components': [c.tolist() for c in comps], 'projections': proj.ravel().tolist()})
    with open(os.path.join(HERE, 'pca.json'), 'w') as f:
        json.dump({'generator': 'make_pca.py (numpy %s)' % np.__version__, 'cases': out}, f)
        f.write('\n')


if __name__ == '__main__':
    main()
