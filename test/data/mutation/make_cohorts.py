#!/usr/bin/env python3
"""Independent numpy/scipy answers for test/cohorts-mutants.test.ts (issue 20 item 6: src/analysis/cohorts.ts).

Definitions (issue #13, after the paper's notebooks), written here with numpy only:
- a filter is sparse when max|f| <= max|W| / 100 (max|W| of the layer, or a given one); the kept filters are
  scaled by their own max|f|;
- variance entropy: eigenvalues of the covariance (ddof 1) of the kept scaled filters, negatives set to 0,
  p = v / sum(v), -sum p log10 p (None when fewer than 2 kept filters or every variance is 0);
- orthogonality of `out` rows (out x in*dims): rows scaled to unit norm (zero rows stay zero),
  1 - sum|G G^T - I| / (out (out - 1)) (None when out < 2);
- histograms: the (x - mean) . component_i coefficients of the kept filters (summed over j in order, plain
  Python floats, so the bits are the test's), numpy.histogram with `bins` bins over the range of all of them;
  zero bins floored at float32 eps, normalised; symmetric KL weighted by the explained-variance ratio;
- ranks and Spearman: scipy.stats.rankdata and scipy.stats.spearmanr.

The weights are not stored: both sides build them from the minimal standard generator of
make_quality_paths.py (rounded to float32), then the edits listed per layer. Writes cohorts.json next to this
script. Run once from the repository root:

    python3 test/data/mutation/make_cohorts.py
"""
import json
import os

import numpy as np
import scipy
from scipy import stats

HERE = os.path.dirname(os.path.abspath(__file__))
from make_quality_paths import weights  # noqa: E402  the shared generator (bit-identical in the tests)

EPS32 = float(np.finfo(np.float32).eps)


def layer_weights(filters, dims, seed, edits):
    """float32 weights, filters x dims; `edits`: [row, scale] multiplies a row, [row, 'zero'] zeroes it,
    [row, 'set', values] sets it."""
    w = weights(filters * dims, seed).astype(np.float32).reshape(filters, dims)
    for e in edits:
        if e[1] == 'zero':
            w[e[0]] = 0
        elif e[1] == 'set':
            w[e[0]] = np.asarray(e[2], dtype=np.float32)
        else:
            w[e[0]] = (w[e[0]].astype(np.float64) * e[1]).astype(np.float32)
    return w


def kept_filters(w, layer_max=None):
    w = w.astype(np.float64)
    peak = np.abs(w).max(axis=1)
    m = np.abs(w).max() if layer_max is None else layer_max
    keep = peak > m / 100
    return w[keep] / peak[keep][:, None]


def variance_entropy(s):
    if s.shape[0] < 2:
        return None
    v = np.linalg.eigvalsh(np.cov(s, rowvar=False, ddof=1))
    v = np.maximum(v, 0)
    if not (v > 0).any():
        return None
    p = v / v.sum()
    p = p[p > 0]
    return float(-(p * np.log10(p)).sum())


def orthogonality(g):
    out = g.shape[0]
    if out < 2:
        return None
    norm = np.linalg.norm(g, axis=1)
    gn = np.where(norm[:, None] > 0, g / np.where(norm > 0, norm, 1)[:, None], 0)
    return float(1 - np.abs(gn @ gn.T - np.eye(out)).sum() / (out * (out - 1)))


def project(s, mean, comps):
    """Sequential float64 sums, as the code under test: bit-identical coefficients."""
    d = len(mean)
    out = []
    for row in s.tolist():
        c = [row[j] - mean[j] for j in range(d)]
        for i in range(d):
            t = 0.0
            for j in range(d):
                t += c[j] * comps[i][j]
            out.append(t)
    return np.asarray(out).reshape(-1, d)


def drift(ps, evr, bins):
    g = len(ps)
    m = [[0.0] * g for _ in range(g)]
    for a in range(g):
        for b in range(a + 1, g):
            d = 0.0
            for c in range(len(evr)):
                p, q = ps[a][c], ps[b][c]
                d += evr[c] * (float((p * np.log(p / q)).sum()) + float((q * np.log(q / p)).sum()))
            m[a][b] = m[b][a] = d
    return m


def normalise(h):
    h = np.where(h == 0, EPS32, h)
    return h / h.sum(axis=1, keepdims=True)


def layer_cases():
    cases = []
    # maxAbs 0.78125 (= 100 / 128): the threshold is 2^-7 exactly; row 4 peaks exactly at it (sparse, `<=`),
    # row 5 one float32 ulp above it (kept); rows 2 and 7 are scaled far below it; row 9 is zero
    at = float(2 ** -7)
    above = float(np.nextafter(np.float32(at), np.float32(1)))
    cases.append({'name': 'sparse rows and the threshold', 'filters': 18, 'dims': 9, 'out': 6, 'seed': 101,
                  'edits': [[0, 'set', [0.78125, -0.25, 0.1, 0, 0.3, -0.2, 0.05, 0.4, -0.6]],
                            [2, 1e-3], [7, 1e-4],
                            [4, 'set', [at, -at / 2, at / 4, 0, -at, at / 8, 0, at / 2, -at / 4]],
                            [5, 'set', [-above, at / 2, 0, at / 4, 0, 0, 0, at / 8, 0]],
                            [9, 'zero']]})
    cases.append({'name': 'one output channel', 'filters': 5, 'dims': 9, 'out': 1, 'seed': 102, 'edits': []})
    cases.append({'name': 'shape unknown', 'filters': 7, 'dims': 9, 'out': None, 'seed': 103, 'edits': []})
    cases.append({'name': 'filters not a multiple of out', 'filters': 7, 'dims': 9, 'out': 2, 'seed': 104,
                  'edits': []})
    cases.append({'name': 'all zero', 'filters': 6, 'dims': 9, 'out': 3, 'seed': 105,
                  'edits': [[r, 'zero'] for r in range(6)]})
    cases.append({'name': 'one kept filter', 'filters': 4, 'dims': 9, 'out': 2, 'seed': 106,
                  'edits': [[1, 1e-3], [2, 1e-3], [3, 'zero']]})
    cases.append({'name': 'identical kept filters (no variance)', 'filters': 4, 'dims': 9, 'out': 4, 'seed': 107,
                  'edits': [[r, 'set', [0.5, -0.25, 0.125, 0, 0, 0, 0, 0, 0.25]] for r in range(3)] +
                  [[3, 'zero']]})
    cases.append({'name': '2x2 kernels', 'filters': 12, 'dims': 4, 'out': 3, 'seed': 108, 'edits': [[5, 1e-3]]})
    cases.append({'name': 'two kept filters', 'filters': 3, 'dims': 9, 'out': 3, 'seed': 110, 'edits': [[1, 1e-3]]})
    cases.append({'name': 'two output channels, one zero', 'filters': 2, 'dims': 9, 'out': 2, 'seed': 109,
                  'edits': [[1, 'zero']]})
    for c in cases:
        w = layer_weights(c['filters'], c['dims'], c['seed'], c['edits'])
        s = kept_filters(w)
        c['maxAbs'] = float(np.abs(w).max())
        c['kept'] = int(s.shape[0])
        c['scaled'] = s.ravel().tolist()
        c['entropy'] = variance_entropy(s)
        out = c['out']
        c['orthogonality'] = (orthogonality(w.astype(np.float64).reshape(out, -1))
                              if out is not None and out >= 2 and c['filters'] % out == 0 else None)
    return cases


def rowwise_cases():
    out = []
    for n, d, seed, zero in [(5, 9, 201, [2]), (3, 4, 202, []), (2, 1, 203, [0]), (4, 18, 204, [1, 3])]:
        g = weights(n * d, seed).reshape(n, d)
        g[zero] = 0
        out.append({'out': n, 'd': d, 'seed': seed, 'zero': zero, 'orthogonality': orthogonality(g)})
    return out


def histogram_case(name, dims, bins, groups, layers, evr_seed, basis_seed):
    """layers: [group, bin, filters, seed, layerMaxAbs or None]; the basis is an orthonormal matrix (QR)."""
    q, _ = np.linalg.qr(weights(dims * dims, basis_seed).reshape(dims, dims))
    comps = q.T.tolist()
    mean = (weights(dims, basis_seed + 1) * 0.2).tolist()
    evr = np.sort(np.abs(weights(dims, evr_seed)) + 0.01)[::-1]
    evr = (evr / evr.sum()).tolist()
    coefs = []
    for g, b, f, seed, lm in layers:
        w = layer_weights(f, dims, seed, [[1, 1e-3]])
        coefs.append(project(kept_filters(w, lm), mean, comps))
    allc = np.concatenate([c.ravel() for c in coefs])
    lo, hi = float(allc.min()), float(allc.max())
    counts = [[None] * 11 for _ in range(groups)]
    filters = [[0] * 11 for _ in range(groups)]
    for (g, b, f, seed, lm), c in zip(layers, coefs):
        if b < 0 or c.shape[0] == 0:
            continue
        h = np.stack([np.histogram(c[:, i], bins=bins, range=(lo, hi))[0] for i in range(dims)]).astype(float)
        counts[g][b] = h if counts[g][b] is None else counts[g][b] + h
        filters[g][b] += c.shape[0]

    def matrix(hs):
        if any(h is None for h in hs):
            return None
        return drift([normalise(h) for h in hs], evr, bins)

    by_bin = [matrix([counts[g][b] for g in range(groups)]) for b in range(11)]
    pooled = []
    for g in range(groups):
        hs = [h for h in counts[g] if h is not None]
        pooled.append(sum(hs) if hs else None)
    return {'name': name, 'dims': dims, 'bins': bins, 'groups': groups, 'layers': layers,
            'mean': mean, 'components': comps, 'explainedVarianceRatio': evr, 'range': [lo, hi],
            'counts': [[None if h is None else h.ravel().tolist() for h in row] for row in counts],
            'filters': filters, 'byBin': by_bin, 'whole': matrix(pooled)}


def rank_cases():
    xs = [[3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5], [2.5, 2.5, 2.5, 1], [0.3, -1, 7, 7, 7, 2]]
    ys = [[2, 7, 1, 8, 2, 8, 1, 8, 2, 8, 4], [1, 2, 3, 4], [1, 2, 3, 4, 5, 6]]
    out = []
    for x, y in zip(xs, ys):
        out.append({'x': x, 'y': y, 'rankX': stats.rankdata(x).tolist(), 'rankY': stats.rankdata(y).tolist(),
                    'spearman': float(stats.spearmanr(x, y).statistic)})
    return out


def main():
    hist = [
        histogram_case('3x3, 70 bins, two cohorts, bins 0, 3 and 10 shared, bin 5 in one cohort only', 9, 70, 2,
                       [[0, 0, 20, 301, None], [0, 3, 30, 302, None], [0, 10, 25, 303, None],
                        [1, 0, 22, 304, None], [1, 3, 18, 305, None], [1, 10, 40, 306, None],
                        [1, 3, 15, 307, None], [0, 5, 12, 308, None], [1, -1, 30, 309, None]], 310, 311),
        histogram_case('2x2, 7 bins, three cohorts, 4200 filters in one layer (two projection blocks), a layer '
                       'scored against a larger max|W|', 4, 7, 3,
                       [[0, 1, 4200, 401, None], [1, 1, 50, 402, 30.0], [2, 1, 60, 403, None],
                        [2, 2, 10, 404, None]], 410, 411),
    ]
    with open(os.path.join(HERE, 'cohorts.json'), 'w') as f:
        json.dump({'generator': 'make_cohorts.py (numpy %s, scipy %s)' % (np.__version__, scipy.__version__),
                   'layers': layer_cases(), 'rowwise': rowwise_cases(), 'histograms': hist,
                   'ranks': rank_cases()}, f)
        f.write('\n')


if __name__ == '__main__':
    main()
