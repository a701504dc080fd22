#!/usr/bin/env python3
"""Independent numpy answers for test/init-distance-mutants.test.ts (src/metrics/init-distance.ts; issue 20 item 6).

Re-implements the file comment's rules from scratch: the seeded draws (FNV-1a of the stream key, mulberry32,
float32 weights), the frameworks' bounds, the simulated null distribution of every metric (metrics from
test/data/metrics/make_expected.py's numpy definitions; mean, sample sd, numpy.percentile's linear 1st/99th
percentiles), the near-init threshold (99th percentile of the draws' max |z|) and a layer's z-scores, mid-rank
percentiles and score. normL2Norm is √(N−1) for every layer: its spread is rounding noise, which the tests
skip (their z-scores and the threshold are recomputed in the test from the JS metric values). Writes init-distance.json next to this script:

    python3 test/data/mutation/make_init_distance.py
"""
import json
import math
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'metrics'))
from make_expected import quality  # noqa: E402  the numpy metric definitions

KEYS = ['sparsity', 'varianceEntropy', 'varianceEntropyNorm', 'varianceEntropyClean', 'varianceEntropyCleanNorm',
        'orthogonality', 'normL1', 'normL2', 'normL1Norm', 'normL2Norm']
M32 = 0xFFFFFFFF


def imul(a, b):
    return (a * b) & M32


def fnv1a(s):
    h = 2166136261
    for ch in s:
        h = imul(h ^ ord(ch), 16777619)
    return h


def mulberry32(seed):
    state = [seed & M32]

    def nxt():
        state[0] = (state[0] + 0x6D2B79F5) & M32
        t = state[0]
        t = imul(t ^ (t >> 15), t | 1)
        t ^= (t + imul(t ^ (t >> 7), t | 61)) & M32
        return ((t ^ (t >> 14)) & M32) / 4294967296

    return nxt


def bound(rule, shape, groups):
    d0, d1, kh, kw = shape
    rf = kh * kw
    if rule == 'kaiming-uniform':
        return 1 / math.sqrt(d1 * rf)
    if groups is not None and groups > 1 and d1 == 1:  # Keras depthwise [kh, kw, in=groups, mult]
        fan_in, fan_out = groups * rf, (d0 // groups) * rf
    else:
        fan_in, fan_out = d1 * rf, d0 * rf
    return math.sqrt(6 / (fan_in + fan_out))


def draw(rule, shape, groups, seed, d):
    key = '%s|%s|%s|%s|%s' % (rule, 'x'.join(map(str, shape)), '' if groups is None else groups, seed, d)
    rnd = mulberry32(fnv1a(key))
    b = bound(rule, shape, groups)
    w = np.array([(2 * rnd() - 1) * b for _ in range(int(np.prod(shape)))], dtype=np.float32)
    return w.reshape(shape)


def zscore(v, mean, sd):
    if sd > 0:
        return (v - mean) / sd
    return 0.0 if v == mean else (math.inf if v > mean else -math.inf)


def null_distribution(rule, shape, groups, draws, seed, eps):
    samples = [quality(draw(rule, shape, groups, seed, d), eps) for d in range(draws)]
    metrics = {}
    for k in KEYS:
        vals = [s[k] for s in samples if s[k] is not None]
        if len(vals) < draws:
            continue
        v = np.sort(np.array(vals))
        metrics[k] = {'mean': float(v.mean()), 'sd': float(v.std(ddof=1)),
                      'p1': float(np.percentile(v, 1)), 'p99': float(np.percentile(v, 99)), 'sorted': v}
    scores = [max(abs(zscore(s[k], m['mean'], m['sd'])) for k, m in metrics.items()) for s in samples]
    return metrics, float(np.percentile(np.array(scores), 99))


def distance(layer, metrics, threshold):
    out = {}
    for k, m in metrics.items():
        v = layer[k]
        below = int((m['sorted'] < v).sum())
        equal = int((m['sorted'] == v).sum())
        z = zscore(v, m['mean'], m['sd'])
        out[k] = {'value': v, 'z': z if math.isfinite(z) else ('+inf' if z > 0 else '-inf'),
                  'percentile': 100 * (below + equal / 2) / len(m['sorted'])}
    score = max(abs(zscore(layer[k], m['mean'], m['sd'])) for k, m in metrics.items())
    return {'metrics': out, 'score': score if math.isfinite(score) else '+inf', 'nearInit': bool(score <= threshold)}


def main():
    draws = [
        {'rule': r, 'shape': s, 'groups': g, 'seed': seed, 'draw': d,
         'values': [float(x) for x in draw(r, s, g, seed, d).ravel()]}
        for r, s, g, seed, d in [
            ('kaiming-uniform', [2, 1, 1, 2], None, 7, 0),
            ('kaiming-uniform', [2, 1, 1, 2], 1, 7, 0),
            ('kaiming-uniform', [2, 1, 1, 2], None, 7, 1),
            ('kaiming-uniform', [2, 1, 1, 2], None, 8, 0),
            ('glorot-uniform', [4, 1, 1, 3], 2, 3, 5),
        ]
    ]
    bounds = [{'rule': r, 'shape': s, 'groups': g, 'bound': bound(r, s, g)} for r, s, g in [
        ('kaiming-uniform', [64, 32, 3, 3], None), ('kaiming-uniform', [64, 1, 3, 3], 64),
        ('kaiming-uniform', [8, 3, 5, 2], 1),
        ('glorot-uniform', [64, 32, 3, 3], None), ('glorot-uniform', [64, 32, 1, 3], 1),
        ('glorot-uniform', [64, 1, 3, 3], 32), ('glorot-uniform', [32, 1, 3, 3], 32),
        ('glorot-uniform', [64, 1, 3, 3], 1), ('glorot-uniform', [64, 1, 3, 3], None),
        ('glorot-uniform', [64, 4, 3, 3], 8), ('glorot-uniform', [12, 1, 5, 5], 3),
    ]]
    cases = []
    rng = np.random.default_rng(2026)
    for name, r, s, g, n, seed, eps in [
        ('kaiming 4x2x3x3', 'kaiming-uniform', [4, 2, 3, 3], 1, 40, 5, None),
        ('kaiming 4x2x3x3 eps 0.6', 'kaiming-uniform', [4, 2, 3, 3], 1, 40, 5, 0.6),
        ('glorot depthwise 6x1x3x3', 'glorot-uniform', [6, 1, 3, 3], 6, 30, 9, None),
        ('kaiming one filter 1x3x3x3', 'kaiming-uniform', [1, 3, 3, 3], None, 25, 2, None),
    ]:
        metrics, threshold = null_distribution(r, s, g, n, seed, 0.01 if eps is None else eps)
        b = bound(r, s, g)
        layers = {
            # a draw from a stream the null never saw (seed + 1000): near-init
            'fresh': draw(r, s, g, seed + 1000, 0),
            # trained-looking: wider than the bound and with a shared direction
            'trained': (rng.normal(0, 3 * b, size=s) + 2 * b).astype(np.float32),
            # a third of the filters dead (sparsity > 0, which random layers never have)
            'dead': (lambda w: (w.reshape(-1, s[2] * s[3]).__setitem__(slice(0, None, 3), 0), w)[1])(
                draw(r, s, g, seed + 2000, 0)),
        }
        layer_out = {}
        for lname, w in layers.items():
            lm = quality(w, 0.01 if eps is None else eps)
            layer_out[lname] = {'weights': [float(x) for x in w.ravel()],
                                **distance(lm, metrics, threshold)}
        cases.append({
            'name': name, 'rule': r, 'shape': s, 'groups': g, 'draws': n, 'seed': seed,
            'sparsityEps': eps, 'bound': b, 'threshold': threshold,
            'metrics': {k: {kk: vv for kk, vv in m.items() if kk != 'sorted'} for k, m in metrics.items()},
            'layers': layer_out,
        })
    with open(os.path.join(HERE, 'init-distance.json'), 'w') as f:
        json.dump({'generator': 'make_init_distance.py (numpy %s)' % np.__version__,
                   'draws': draws, 'bounds': bounds, 'cases': cases}, f, indent=1)
        f.write('\n')


if __name__ == '__main__':
    main()
