#!/usr/bin/env python3
"""Independent numpy answers for test/sym-eigenvalues-spectra.test.ts: numpy.linalg.eigvalsh (LAPACK, float64) of
symmetric matrices with hard spectra for src/metrics/sym-eigenvalues.ts, built from the shared generator of
make_quality_paths.py (bit-identical in the test) with exact operations only (sums of integers, products by
powers of two and by 1e±k constants applied the same way in both languages):

- zero matrices, the Wilkinson matrix W21+ (pairs of eigenvalues equal to ~1e-14), a cluster (I + 1e-9·S),
  a graded matrix (entries scaled by 2^-4(i+j)), a negative definite and a constant-diagonal tridiagonal one
  (the 1-D Laplacian, equal neighbouring diagonal entries), 2×2 blocks with equal diagonals, 1 beside a block of
  entries ~2^-600 (its eigenvalues must come out to full relative precision, as numpy's);
- magnitudes: a row whose last entry is 1e150 and others 1e-150 (Householder scaling), entries near 1e307 and
  subnormal ones (1e-310, 1e-320), which the solver brings into range by an exact power of two.

Writes eigen-spectra.json next to this script:

    python3 test/data/mutation/make_eigen_spectra.py
"""
import json
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
from make_eigen import symmetric  # noqa: E402  the same matrices as make_eigen.py (bit-identical in the tests)
from make_quality_paths import weights  # noqa: E402  the shared generator


def tridiagonal(diag, off):
    n = len(diag)
    a = np.diag(np.asarray(diag, dtype=float))
    for i in range(1, n):
        a[i, i - 1] = a[i - 1, i] = off[i - 1]
    return a


def cases():
    for n in [1, 2, 5]:
        yield f'zero {n}', np.zeros((n, n)), {'kind': 'zero', 'n': n}
    yield 'wilkinson W21+', tridiagonal([abs(10 - i) for i in range(21)], [1] * 20), {'kind': 'wilkinson', 'n': 21}
    yield 'laplacian 9', tridiagonal([2] * 9, [-1] * 8), {'kind': 'laplacian', 'n': 9}
    # order 17: the paired QL chases meet a row the first chase decoupled exactly (p = bb = 0 in the second)
    yield 'laplacian 17', tridiagonal([2] * 17, [-1] * 16), {'kind': 'laplacian', 'n': 17}
    yield 'equal diagonal 2', np.array([[1.0, 0.5], [0.5, 1.0]]), {'kind': 'pair', 'n': 2}
    c = symmetric(12, 12) * 1e-9 + np.eye(12)
    yield 'cluster 12', c, {'kind': 'cluster', 'n': 12, 'seed': 12}
    g = symmetric(10, 10)
    for i in range(10):
        for j in range(10):
            g[i, j] *= 2.0 ** (-4 * (i + j))
    yield 'graded 10', g, {'kind': 'graded', 'n': 10, 'seed': 10}
    b = weights(9 * 12, 9).reshape(9, 12)
    yield 'negative definite 9', -(b @ b.T), {'kind': 'negativeGram', 'n': 9, 'r': 12, 'seed': 9}
    m = symmetric(5, 5)
    m[4, :3] *= 1e-150
    m[:3, 4] *= 1e-150
    m[4, 3] = m[3, 4] = m[4, 3] * 1e150
    yield 'mixed magnitudes 5', m, {'kind': 'mixed', 'n': 5, 'seed': 5}
    for n, seed, scale in [(8, 8, 1e307), (6, 6, 1e-310)]:
        yield f'random {n} x {scale:g}', symmetric(n, seed) * scale, {'kind': 'scaled', 'n': n, 'seed': seed,
                                                                     'scale': scale}
    t = np.zeros((5, 5))  # 1 and a tridiagonal block of entries ~2^-600: QL's squares underflow in the block
    t[0, 0] = 1
    t[1:, 1:] = tridiagonal([0.3, -0.2, 0.5, 0.1], [0.7, 0.4, -0.6]) * 2.0 ** -600
    yield 'tiny block 5', t, {'kind': 'tinyBlock', 'n': 5}
    # the same block first, 1 last: splitting must not depend on which side of the zero coupling is larger
    t = np.zeros((5, 5))
    t[:4, :4] = tridiagonal([0.3, -0.2, 0.5, 0.1], [0.7, 0.4, -0.6]) * 2.0 ** -600
    t[4, 4] = 1
    yield 'tiny block first 5', t, {'kind': 'tinyBlockFirst', 'n': 5}
    # a coupling of 1e-12 between two equal entries of 1e-10 in a block of norm 1: negligible next to the
    # norm, yet it splits the pair into 1e-10 +- 1e-12 (dropping it errs by 1e-12)
    yield 'weak tail coupling 3', tridiagonal([1, 1e-10, 1e-10], [1e-8, 1e-12]), {'kind': 'weakTail', 'n': 3}
    for s, label in [(1e-320, '1e-320'), (-1e-320, '-1e-320')]:  # the second: every entry <= 0
        yield f'subnormal tridiagonal 4 x {label}', tridiagonal([0] * 4, [s, 2 * s, 3 * s]), {'kind': 'subnormal',
                                                                                        'n': 4, 'scale': s}


def main():
    out = []
    for name, a, spec in cases():
        out.append({'name': name, **spec, 'eigenvalues': [float(x) for x in np.linalg.eigvalsh(a)]})
    with open(os.path.join(HERE, 'eigen-spectra.json'), 'w') as f:
        json.dump({'generator': 'make_eigen_spectra.py (numpy %s)' % np.__version__, 'cases': out}, f, indent=1)
        f.write('\n')


if __name__ == '__main__':
    main()
