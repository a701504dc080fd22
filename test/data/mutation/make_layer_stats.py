#!/usr/bin/env python3
"""Independent numpy/scipy answers for test/layer-stats-mutants.test.ts (issue 20 item 6:
src/analysis/layer-stats.ts).

- the extreme directions: the orthonormal 2-D DCT-II of 3 x 3, kron(D, D) with D = scipy.fft.dct(eye(3),
  norm='ortho', axis=0);
- a layer's statistics: the filters peak-scaled (each divided by its max |f|, zero filters stay zero), their
  count, mean and centred scatter; per basis row the first filter of largest and of smallest projection
  (scaled filter . row), in the order row 0 max, row 0 min, row 1 max, ...; the `keep` filters of largest squared
  norm of the scaled filter (zero filters never), as a set.

The filters are not stored: both sides build them from the minimal standard generator of make_quality_paths.py
rounded to float32, every 50th filter zero, filter 0 all +1 and filter 2048 (the first of the second block of
2048) all -1, the largest and smallest along the DCT's first row, and in one case some filters of ±1. Writes layer-stats.json next to this script.
Run once from the repository root:

    python3 test/data/mutation/make_layer_stats.py
"""
import json
import os

import numpy as np
import scipy
from scipy import fft

HERE = os.path.dirname(os.path.abspath(__file__))
from make_quality_paths import weights  # noqa: E402  the shared generator (bit-identical in the tests)


def layer(n, seed, signs=()):
    w = weights(n * 9, seed).astype(np.float32).reshape(n, 9)
    w[::50] = 0
    w[0] = 1
    if n > 2048:
        w[2048] = -1
    for row, s in signs:
        w[row] = s
    return w


def stats(w, bases, keep):
    f = w.astype(np.float64)
    peak = np.abs(f).max(axis=1)
    s = np.where(peak[:, None] > 0, f / np.where(peak > 0, peak, 1)[:, None], 0)
    mean = s.mean(axis=0)
    c = s - mean
    ends = []
    for b in bases:
        p = s @ b.T  # n x 9
        for i in range(9):
            ends.append(int(np.argmax(p[:, i])))
            ends.append(int(np.argmin(p[:, i])))
    q = (s * s).sum(axis=1)
    nonzero = np.flatnonzero(peak > 0)
    by_norm = nonzero[np.argsort(-q[nonzero], kind='stable')[:keep]]
    return {'n': len(w), 'mean': mean.tolist(), 'scatter': (c.T @ c).ravel().tolist(), 'ends': ends,
            'byNorm': sorted(int(i) for i in by_norm)}


def main():
    d = fft.dct(np.eye(3), norm='ortho', axis=0)
    dct = np.kron(d, d)
    perm = np.eye(9)[[3, 1, 4, 0, 5, 8, 2, 6, 7]]  # a second basis: the unit directions, shuffled
    cases = [
        {'name': '4613 filters (two full blocks and an odd one)', 'n': 4613, 'seed': 501, 'bases': ['dct'],
         'keep': 128},
        {'name': '300 filters, DCT and unit directions, no filters kept by norm', 'n': 300, 'seed': 502,
         'bases': ['dct', 'unit'], 'keep': 0},
        {'name': '2049 filters, 5 kept by norm', 'n': 2049, 'seed': 503, 'bases': ['dct'], 'keep': 5},
        # no directions: the norms alone; rows 10, 20 and 30 tie at the largest norm (9): the first two stay
        {'name': '200 filters, 2 kept by norm, ties', 'n': 200, 'seed': 504, 'bases': [], 'keep': 2,
         'signs': [[10, [1, -1, 1, 1, 1, 1, 1, 1, 1]], [20, [1, 1, -1, 1, -1, 1, 1, 1, 1]],
                   [30, [-1, 1, 1, 1, 1, 1, 1, 1, 1]]]},
    ]
    named = {'dct': dct, 'unit': perm}
    for c in cases:
        c.update(stats(layer(c['n'], c['seed'], c.get('signs', ())), [named[b] for b in c['bases']], c['keep']))
    with open(os.path.join(HERE, 'layer-stats.json'), 'w') as f:
        json.dump({'generator': 'make_layer_stats.py (numpy %s, scipy %s)' % (np.__version__, scipy.__version__),
                   'dct': dct.ravel().tolist(), 'unit': perm.ravel().tolist(), 'cases': cases}, f)
        f.write('\n')


if __name__ == '__main__':
    main()
