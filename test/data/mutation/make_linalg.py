#!/usr/bin/env python3
"""Independent answers for test/linalg-mutants.test.ts (src/metrics/linalg.ts; issue 20 item 6).

- numpy.linalg.eigh (LAPACK) eigenvalues and eigenvectors of symmetric matrices chosen to reach every branch of
  the Jacobi solver: diagonal, 2x2, repeated eigenvalues, exact zeros between equal diagonal entries, a huge eigenvalue gap (the θ-overflow branch), entries
  near 1e-290 (off-diagonals below 2^-900 are dropped after four sweeps) and 9x9 / 25x25 random ones;
- the cyclic Jacobi method with Rutishauser's refinements written out from its description (Numerical Recipes'
  `jacobi`: threshold 0.2·Σ|a_pq|/k² in the first three sweeps, skipping after sweep four an element too small to
  change either diagonal entry, accumulated diagonal updates), in Python floats (IEEE float64, the same operations
  in the same order), so its eigenvalues, eigenvectors and sweep counts are what the TypeScript solver must give
  bit for bit; eigenvalues sorted descending (ties by index), each vector's largest component positive.
Writes linalg.json next to this script:

    python3 test/data/mutation/make_linalg.py
"""
import json
import math
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
NEGLIGIBLE = 2.0 ** -900


def jacobi(a, k, max_sweeps=100):
    m = [[a[i * k + j] if j >= i else 0.0 for j in range(k)] for i in range(k)]
    v = [[1.0 if i == j else 0.0 for j in range(k)] for i in range(k)]
    d = [m[i][i] for i in range(k)]
    b = d[:]
    z = [0.0] * k
    sweep = 0
    while True:
        off = 0.0
        for p in range(k - 1):
            for q in range(p + 1, k):
                off += abs(m[p][q])
        if off == 0:
            break
        sweep += 1
        if sweep > max_sweeps:
            return None
        thresh = (0.2 * off) / (k * k) if sweep < 4 else 0.0
        for p in range(k - 1):
            for q in range(p + 1, k):
                apq = m[p][q]
                g = 100 * abs(apq)
                if sweep > 4 and ((abs(d[p]) + g == abs(d[p]) and abs(d[q]) + g == abs(d[q])) or g < NEGLIGIBLE):
                    m[p][q] = 0.0
                    continue
                if abs(apq) <= thresh:
                    continue
                h = d[q] - d[p]
                if abs(h) + g == abs(h):
                    t = apq / h
                else:
                    theta = (0.5 * h) / apq
                    t = 1 / (abs(theta) + math.sqrt(1 + theta * theta))
                    if theta < 0:
                        t = -t
                c = 1 / math.sqrt(1 + t * t)
                s = t * c
                tau = s / (1 + c)
                h = t * apq
                z[p] -= h
                z[q] += h
                d[p] -= h
                d[q] += h
                m[p][q] = 0.0

                def rot(x, y):
                    return x - s * (y + tau * x), y + s * (x - tau * y)

                for r in range(p):
                    m[r][p], m[r][q] = rot(m[r][p], m[r][q])
                for r in range(p + 1, q):
                    m[p][r], m[r][q] = rot(m[p][r], m[r][q])
                for r in range(q + 1, k):
                    m[p][r], m[q][r] = rot(m[p][r], m[q][r])
                for r in range(k):
                    v[r][p], v[r][q] = rot(v[r][p], v[r][q])
        for i in range(k):
            b[i] += z[i]
            d[i] = b[i]
            z[i] = 0.0
    order = sorted(range(k), key=lambda i: (-d[i], i))
    values, vectors = [], []
    for col in order:
        values.append(d[col])
        big, sign = 0.0, 1.0
        for r in range(k):
            if abs(v[r][col]) > big:
                big = abs(v[r][col])
                sign = -1.0 if v[r][col] < 0 else 1.0
        vectors.extend(sign * v[r][col] if v[r][col] != 0 else 0.0 for r in range(k))
    return values, vectors, sweep


def with_spectrum(lam, rng):
    k = len(lam)
    q, _ = np.linalg.qr(rng.normal(size=(k, k)))
    a = q @ np.diag(lam) @ q.T
    return (a + a.T) / 2


def cases():
    rng = np.random.default_rng(606)
    yield '2x2 [[2,1],[1,2]]', np.array([[2.0, 1], [1, 2]])
    yield 'diagonal with a tie', np.diag([2.0, 5, 2, -1])
    yield '3x3 integers', np.array([[4.0, 1, -2], [1, 3, 0.5], [-2, 0.5, 1]])
    yield '9x9 random', with_spectrum(rng.normal(0, 3, 9), rng)
    yield '9x9 repeated', with_spectrum([4, 4, 4, 1, 1, 0, 0, 0, -2.5], rng)
    yield '9x9 wide scales', with_spectrum([1, 1e-3, 1e-6, 1e-9, 1e-12, 1e-15, 0, 0, 0], rng)
    # a 1e13 gap: the rotation angle's θ² would overflow the |h| + g == |h| test's precision
    yield 'huge gap', np.array([[1e13, 1e-4, 3e-5], [1e-4, 1.0, 0.25], [3e-5, 0.25, -2.0]])
    yield 'entries near 1e-290', with_spectrum(rng.uniform(-1, 1, 6), rng) * 1e-290
    yield '25x25 random', with_spectrum(rng.normal(0, 1, 25) ** 3, rng)
    # two equal 3x3 blocks: the cross elements are exact zeros between equal diagonal entries from sweep 4 on
    b = np.array([[4.0, 1, -2], [1, 3, 0.5], [-2, 0.5, 1]])
    yield 'two equal blocks', np.block([[b, np.zeros((3, 3))], [np.zeros((3, 3)), b]])
    m = rng.normal(size=(7, 7))
    yield '7x7 asymmetric input (upper triangle read)', m


def main():
    out = []
    for name, a in cases():
        k = a.shape[0]
        flat = [float(x) for x in a.ravel()]
        values, vectors, sweeps = jacobi(flat, k)
        sym = np.triu(a) + np.triu(a, 1).T
        w, vec = np.linalg.eigh(sym)
        order = np.argsort(-w, kind='stable')
        out.append({
            'name': name,
            'k': k,
            'a': flat,
            'values': values,
            'vectors': vectors,
            'sweeps': sweeps,
            'numpyValues': [float(x) for x in w[order]],
            'numpyVectors': [float(x) for x in vec[:, order].T.ravel()],
        })
    with open(os.path.join(HERE, 'linalg.json'), 'w') as f:
        json.dump({'generator': 'make_linalg.py (numpy %s)' % np.__version__, 'cases': out}, f, indent=1)
        f.write('\n')


if __name__ == '__main__':
    main()
