#!/usr/bin/env python3
"""Independent numpy answers for test/sym-eigenvalues.test.ts: the eigenvalues (numpy.linalg.eigvalsh, LAPACK's
divide and conquer, float64) of symmetric matrices built from the minimal standard generator of
make_quality_paths.py (x <- 48271 x mod 2^31 - 1, w = x/M - 0.5; bit-identical in the test), chosen to reach every
branch of src/metrics/sym-eigenvalues.ts: odd and even orders (the kernel's row pairs), a diagonal matrix (every
Householder row zero), a zero last row, a rank-3 Gram matrix, a tridiagonal matrix that splits in the middle, and
entries near 1e-150 and 1e150 (the Householder scaling). Writes eigen.json next to this script:

    python3 test/data/mutation/make_eigen.py
"""
import json
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
from make_quality_paths import weights  # noqa: E402  the shared generator (bit-identical in the tests)


def symmetric(n, seed):
    """Lower triangle from the generator, row by row (a[i][j], j <= i), mirrored."""
    w = weights(n * (n + 1) // 2, seed)
    a = np.zeros((n, n))
    t = 0
    for i in range(n):
        for j in range(i + 1):
            a[i, j] = a[j, i] = w[t]
            t += 1
    return a


def cases():
    for n in [1, 2, 3, 4, 5, 8, 17, 33, 64]:
        yield f'random {n}', symmetric(n, n), {'kind': 'symmetric', 'n': n, 'seed': n}
    yield 'diagonal 7', np.diag(weights(7, 70)), {'kind': 'diagonal', 'n': 7, 'seed': 70}
    a = symmetric(9, 90)
    a[8, :] = 0
    a[:, 8] = 0
    yield 'zero last row 9', a, {'kind': 'zeroLastRow', 'n': 9, 'seed': 90}
    b = weights(20 * 3, 100).reshape(20, 3)
    yield 'rank 3 gram 20', b @ b.T, {'kind': 'gram', 'n': 20, 'r': 3, 'seed': 100}
    w = weights(2 * 12, 120)
    t = np.diag(w[:12]) + np.diag(w[12:23], -1) + np.diag(w[12:23], 1)
    t[6, 5] = t[5, 6] = 0
    yield 'split tridiagonal 12', t, {'kind': 'tridiagonal', 'n': 12, 'seed': 120, 'split': 6}
    for scale in [1e-150, 1e150]:
        yield f'random 10 x {scale:g}', symmetric(10, 10) * scale, {'kind': 'symmetric', 'n': 10, 'seed': 10,
                                                                     'scale': scale}


def main():
    out = []
    for name, a, spec in cases():
        out.append({'name': name, **spec, 'eigenvalues': [float(x) for x in np.linalg.eigvalsh(a)]})
    with open(os.path.join(HERE, 'eigen.json'), 'w') as f:
        json.dump({'generator': 'make_eigen.py (numpy %s)' % np.__version__, 'cases': out}, f, indent=1)
        f.write('\n')


if __name__ == '__main__':
    main()
