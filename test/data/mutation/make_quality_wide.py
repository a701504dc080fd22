#!/usr/bin/env python3
"""Independent numpy answers for test/quality-wide.test.ts: layers whose kernels are wider than 64 values
(the 1×k rows of 1-D convs), where src/metrics/quality.ts measures orthogonality and both variance entropies
from one Gram matrix of the rows (double centring) when there is one input channel per group, falls back to
centring the rows themselves when the mean row outweighs the spread (near-identical filters), and uses the
k×k scatter once there are at least as many filters as values.

The weights come from the integer generator of make_quality_paths.py (bit-identical on both sides); the metric
definitions are the fixtures README's, reused from test/data/metrics/make_expected.py (`quality`). Writes
quality-wide.json next to this script. Run once from the repository root:

    python3 test/data/mutation/make_quality_wide.py
"""
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, '..', 'metrics'))
from make_expected import quality  # noqa: E402
from make_quality_paths import layer, weights  # noqa: E402


def near_identical(shape, seed, spread):
    """Every row = one base row + spread · its own noise (the mean row carries most of the energy)."""
    out, inpg, kh, kw = shape
    k = kh * kw
    base = weights(k, seed)
    noise = weights(out * inpg * k, seed + 1).reshape(out * inpg, k)
    return (base[None, :] + spread * noise).reshape(shape)


def main():
    out = {'generator': 'make_quality_wide.py (numpy %s)' % np.__version__, 'layers': []}
    # shape, seed, dead_every (rows r % dead == 3 times 1e-4: sparse), float32-rounded weights
    for shape, seed, dead, f32 in [
        ([6, 1, 1, 80], 31, 4, False),  # shared Gram, a sparse row: double centring of all rows and of the kept
        ([6, 1, 1, 80], 31, 4, True),  # the same rounded to float32 (the Gram of the widened copy)
        ([2, 1, 1, 70], 34, 0, False),  # the fewest filters that share
        ([3, 1, 1, 65], 38, 0, False),  # k = 65, the narrowest shared kernel
        ([65, 1, 1, 65], 36, 5, False),  # as many filters as values: the k×k scatter
        ([3, 2, 1, 70], 37, 4, False),  # two input channels: rows are not the output filters, no sharing
        ([4, 1, 1, 64], 39, 4, False),  # k = 64: the Jacobi path on the 64×64 scatter
    ]:
        W = layer(shape, seed, dead, f32)
        out['layers'].append({'shape': shape, 'seed': seed, 'deadEvery': dead, 'float32': f32,
                              'expected': quality(W)})
    # large orders, where the path and solver choices decide the work: a 6×6 Gram instead of a 2000×2000
    # scatter (two input channels, no sharing); a 512×512 spectrum by QL (shared Gram of 512 rows of 700)
    out['large'] = []
    for shape, seed, dead in [([3, 2, 1, 2000], 44, 4), ([512, 1, 1, 700], 45, 7)]:
        W = layer(shape, seed, dead)
        out['large'].append({'shape': shape, 'seed': seed, 'deadEvery': dead, 'float32': False,
                             'expected': quality(W)})
    # near-identical filters: the double centring would lose digits, the rows are centred directly
    out['nearIdentical'] = []
    for shape, seed, spread, dead_row in [([5, 1, 1, 100], 40, 1e-3, None), ([6, 1, 1, 100], 42, 1e-3, 3)]:
        W = near_identical(shape, seed, spread)
        if dead_row is not None:
            W[dead_row] *= 1e-4
        out['nearIdentical'].append({'shape': shape, 'seed': seed, 'spread': spread, 'deadRow': dead_row,
                                     'expected': quality(W)})
    # an all-zero first filter: the double centring must read the selected rows themselves (row 0's Gram
    # entries are all 0, so a matrix built from row 0 alone would not fall back and would give a zero spectrum)
    out['zeroFirst'] = []
    for shape, seed in [([6, 1, 1, 80], 46), ([4, 1, 1, 300], 47)]:
        W = layer(shape, seed).reshape(shape[0], -1)
        W[0] = 0
        out['zeroFirst'].append({'shape': shape, 'seed': seed, 'expected': quality(W.reshape(shape))})
    with open(os.path.join(HERE, 'quality-wide.json'), 'w') as f:
        json.dump(out, f, indent=1)
        f.write('\n')


if __name__ == '__main__':
    main()
