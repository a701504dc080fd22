#!/usr/bin/env python3
"""Test models with 5x5 and 7x7 convolutions, and the numpy reference of `pca`/`shift --kernel KxK` on them.

Writes, next to this script (deterministic: numpy's PCG64 with fixed seeds):

- kxk_alpha.safetensors, kxk_beta.safetensors, kxk_gamma.safetensors: F32 conv weights [out, in, k, k] of
  3x3, 5x5 and 7x7 layers (plain and [C, 1, k, k] depthwise-shaped). Each filter is a random mix of smooth
  patterns on the k x k grid (a Gaussian, its two first and three second derivatives, off-centre copies) plus
  noise, with per-model and per-layer weights so that models differ; a few filters are all zero (peak scaling
  must leave them zero) and one layer is tiny.
- meta.csv: model, Task, Score (a made-up number to correlate with).
- expected.json: for 5x5 and 7x7 the answers of
    pca   --db … --kernel KxK --json                               (mean, components, explained variance)
    shift --db … --kernel KxK --by model --json
    shift --db … --kernel KxK --by Task --where "model <> 'kxk_gamma'" --json
  computed from the definitions (test/data/FIXTURES.md "Distribution shift", in k*k dimensions): every filter
  scaled by its own max |w|; covariance (n - 1) and numpy.linalg.eigh, components in descending eigenvalue
  order, each signed so that its largest-magnitude entry (the first on ties) is positive; the coefficients'
  global min/max; numpy.histogram with 70 bins per group and coefficient; empty bins set to float32 eps,
  normalised; matrix[P][Q] = sum_i evr_i (KL(P_i||Q_i) + KL(Q_i||P_i)).
- cohorts.5x5.json, cohorts.7x7.json: `cohorts --kernel KxK --by Task --correlate Score --json`, by
  test/data/cohorts/make_expected.py (the 3x3 cohorts reference, run with K = 5 and 7).

numpy (and scipy for the cohorts' Spearman correlation). Run from the repository root:
python3 test/data/kxk/make_kxk.py
"""
import json
import os
import struct
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
EPS32 = float(np.finfo(np.float32).eps)
BINS = 70

# model -> Task, then its layers (name, shape); a model's layers in storage order
SCORES = {'kxk_alpha': 0.71, 'kxk_beta': 0.64, 'kxk_gamma': 0.58}
MODELS = {
    'kxk_alpha': ('Classification', [
        ('stem.weight', (24, 3, 7, 7)),
        ('dw1.weight', (96, 1, 5, 5)),
        ('conv2.weight', (48, 32, 5, 5)),
        ('conv3.weight', (32, 16, 3, 3)),
        ('dw2.weight', (128, 1, 7, 7)),
    ]),
    'kxk_beta': ('Classification', [
        ('stem.weight', (32, 3, 7, 7)),
        ('conv1.weight', (40, 40, 5, 5)),
        ('dw.weight', (256, 1, 7, 7)),
        ('conv2.weight', (64, 24, 7, 7)),
        ('head.weight', (2, 1, 5, 5)),
    ]),
    'kxk_gamma': ('Segmentation', [
        ('conv1.weight', (16, 8, 5, 5)),
        ('conv2.weight', (32, 40, 7, 7)),
        ('conv3.weight', (30, 30, 5, 5)),
    ]),
}


def patterns(k):
    """Smooth k x k patterns (rows): Gaussian, gx, gy, gxx, gyy, gxy, and half-off-centre Gaussians."""
    r = (k - 1) / 2
    y, x = np.mgrid[-r:r + 1, -r:r + 1]
    s = max(r / 1.5, 0.8)
    out = []
    for cx, cy in ((0, 0), (0.5, 0), (0, 0.5)):
        g = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * s * s))
        out.append(g)
        if (cx, cy) == (0, 0):
            out += [-x * g, -y * g, (x * x - s * s) * g, (y * y - s * s) * g, x * y * g]
    return np.array([p.ravel() / np.linalg.norm(p) for p in out])


def make_layer(rng, shape, model_index, layer_index):
    out, inp, kh, kw = shape
    n = out * inp
    P = patterns(kh)
    # per model and layer: which patterns dominate (the models' filter distributions differ)
    scale = 0.3 + rng.random(len(P)) * (1 + model_index)
    scale[(model_index + layer_index) % len(P)] *= 3
    a = rng.standard_normal((n, len(P))) * scale
    w = a @ P + rng.standard_normal((n, kh * kw)) * (0.05 + 0.05 * model_index)
    w *= 10.0 ** rng.uniform(-2, 0, size=(n, 1))  # filters of different magnitudes
    if n > 50:
        w[rng.choice(n, 3, replace=False)] = 0  # all-zero filters stay zero
    return w.reshape(shape).astype(np.float32)


def write_safetensors(path, tensors):
    header = {}
    blobs = []
    at = 0
    for name, arr in tensors:
        b = np.ascontiguousarray(arr, dtype='<f4').tobytes()
        header[name] = {'dtype': 'F32', 'shape': list(arr.shape), 'data_offsets': [at, at + len(b)]}
        blobs.append(b)
        at += len(b)
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def pca(X):
    peak = np.abs(X).max(axis=1, keepdims=True)
    S = np.divide(X, peak, out=np.zeros_like(X), where=peak != 0)
    mean = S.mean(axis=0)
    cov = np.cov(S, rowvar=False)
    values, vectors = np.linalg.eigh(cov)
    order = np.argsort(values)[::-1]
    values = np.clip(values[order], 0, None)
    comps = vectors[:, order].T.copy()
    for c in comps:
        if c[np.argmax(np.abs(c))] < 0:
            c *= -1
    return S, mean, comps, values


def shift(X, labels):
    dims = X.shape[1]
    S, mean, comps, values = pca(X)
    evr = values / values.sum()
    C = (S - mean) @ comps.T
    lo, hi = float(C.min()), float(C.max())
    groups = sorted(set(labels))
    labels = np.array(labels)
    hists = []
    for g in groups:
        Cg = C[labels == g]
        h = []
        for i in range(dims):
            counts = np.histogram(Cg[:, i], bins=BINS, range=(lo, hi))[0].astype(np.float64)
            counts[counts == 0] = EPS32
            h.append(counts / counts.sum())
        hists.append(h)
    m = np.zeros((len(groups), len(groups)))
    for a in range(len(groups)):
        for b in range(len(groups)):
            m[a, b] = sum(
                evr[i] * (np.sum(hists[a][i] * np.log(hists[a][i] / hists[b][i]))
                          + np.sum(hists[b][i] * np.log(hists[b][i] / hists[a][i])))
                for i in range(dims))
    return {
        'groups': groups,
        'counts': [int((labels == g).sum()) for g in groups],
        'matrix': m.tolist(),
        'explainedVarianceRatio': evr.tolist(),
        'components': comps.tolist(),
        'mean': mean.tolist(),
        'range': [lo, hi],
        'filterCount': int(len(X)),
    }


def main():
    rng = np.random.default_rng(20261206)
    filters = {}  # kernel -> list of (model, task, filters n x k*k)
    for mi, (model, (task, layers)) in enumerate(MODELS.items()):
        tensors = []
        for li, (name, shape) in enumerate(layers):
            w = make_layer(rng, shape, mi, li)
            tensors.append((name, w))
            k = f'{shape[2]}x{shape[3]}'
            filters.setdefault(k, []).append((model, task, w.reshape(-1, shape[2] * shape[3]).astype(np.float64)))
        write_safetensors(os.path.join(HERE, f'{model}.safetensors'), tensors)
    with open(os.path.join(HERE, 'meta.csv'), 'w') as f:
        f.write('model,Task,Score\n')
        for model, (task, _) in MODELS.items():
            f.write(f'{model},{task},{SCORES[model]}\n')
    out = {'generator': f'make_kxk.py (numpy {np.__version__})', 'bins': BINS}
    for k in ('5x5', '7x7'):
        rows = filters[k]
        X = np.concatenate([f for _, _, f in rows])
        S, mean, comps, values = pca(X)
        by_model = sum(([m] * len(f) for m, _, f in rows), [])
        sel = [(m, t, f) for m, t, f in rows if m != 'kxk_gamma']
        Xs = np.concatenate([f for _, _, f in sel])
        by_task = sum(([t] * len(f) for _, t, f in sel), [])
        out[k] = {
            'pca': {
                'filterCount': int(len(X)),
                'mean': mean.tolist(),
                'components': comps.tolist(),
                'explainedVariance': values.tolist(),
                'explainedVarianceRatio': (values / values.sum()).tolist(),
            },
            'shiftByModel': shift(X, by_model),
            'shiftByTaskWhere': shift(Xs, by_task),
        }
    with open(os.path.join(HERE, 'expected.json'), 'w') as f:
        json.dump(out, f)
        f.write('\n')
    cohorts = os.path.join(HERE, '..', 'cohorts', 'make_expected.py')
    for k in (5, 7):
        target = os.path.join(HERE, f'cohorts.{k}x{k}.json')
        subprocess.run([sys.executable, cohorts, HERE, str(k), 'Task', 'Score', target], check=True)


if __name__ == '__main__':
    main()
