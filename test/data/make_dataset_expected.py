#!/usr/bin/env python3
"""Independent numpy answers for dataset.h5, beyond the fixtures' own dataset.shift.{Task,depth}.json.

Writes, next to this script:

- dataset.import-h5.json: for each /meta row (one 3x3 conv layer), the layer metrics `import-h5` stores — the
  layer's filters measured as one [1, n, 3, 3] tensor with the fixtures README's "Quality metrics" definitions
  (orthogonality needs the output-channel count, which dataset.h5 does not record: null).
- dataset.shift.groupings.json: the distribution-shift answer (fixtures README, "Distribution shift") for the
  groupings `model`, `Training` (with digits_denoiser's Training removed, so its filters form the "(none)"
  group — the NULL case the tests set up) and `layer-kind` over the filters of the two models shipped as ONNX
  files, digits_cnn and digits_dwsep (the tests ingest those files; digits_dwsep's layers after its stem are
  depthwise, every other layer is plain: FIXTURES.md, "How the models were made").

Everything is float64 numpy: the covariance and numpy.linalg.eigh for the PCA, numpy.histogram for the bins,
numpy.linalg.svd for the variance entropies. Needs h5py and pandas with PyTables (Debian: python3-h5py
python3-pandas python3-tables). Run once from the repository root:

    python3 test/data/make_dataset_expected.py
"""
import json
import os

import sys

import h5py
import numpy as np
import pandas as pd

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'metrics'))
from make_expected import quality  # noqa: E402  the quality metrics' own numpy definitions

HERE = os.path.dirname(os.path.abspath(__file__))
EPS32 = float(np.finfo(np.float32).eps)
BINS = 70


def layer_metrics(F):
    """F: n x 9 float64, the filters of one layer, measured as one [1, n, 3, 3] tensor (orthogonality: null)."""
    return quality(F.reshape(1, -1, 3, 3))


def shift(X, labels):
    """The fixtures README's steps 2-7 on filters X (N x 9 float64) grouped by `labels` (N strings)."""
    peak = np.abs(X).max(axis=1, keepdims=True)
    S = np.divide(X, peak, out=np.zeros_like(X), where=peak != 0)
    mean = S.mean(axis=0)
    cov = np.cov(S, rowvar=False)
    values, vectors = np.linalg.eigh(cov)
    order = np.argsort(values)[::-1]
    values = np.clip(values[order], 0, None)
    comps = vectors[:, order].T
    for c in comps:
        if c[np.argmax(np.abs(c))] < 0:
            c *= -1
    evr = values / values.sum()
    C = (S - mean) @ comps.T
    lo, hi = float(C.min()), float(C.max())
    groups = sorted(set(labels))
    labels = np.array(labels)
    hists = []
    for g in groups:
        Cg = C[labels == g]
        h = []
        for i in range(9):
            counts = np.histogram(Cg[:, i], bins=BINS, range=(lo, hi))[0].astype(np.float64)
            counts[counts == 0] = EPS32
            h.append(counts / counts.sum())
        hists.append(h)
    m = np.zeros((len(groups), len(groups)))
    for a in range(len(groups)):
        for b in range(len(groups)):
            m[a, b] = sum(
                evr[i]
                * (np.sum(hists[a][i] * np.log(hists[a][i] / hists[b][i]))
                   + np.sum(hists[b][i] * np.log(hists[b][i] / hists[a][i])))
                for i in range(9)
            )
    return {
        'groups': groups,
        'counts': [int((labels == g).sum()) for g in groups],
        'matrix': m.tolist(),
        'explainedVarianceRatio': evr.tolist(),
        'components': comps.tolist(),
        'range': [lo, hi],
    }


def main():
    meta = pd.read_hdf(os.path.join(HERE, 'dataset.h5'), 'meta')
    with h5py.File(os.path.join(HERE, 'dataset.h5'), 'r') as f:
        X = f['filters'][()].reshape(-1, 9).astype(np.float64)

    layers = []
    labels = {'model': [None] * len(X), 'Training': [None] * len(X), 'layer-kind': [None] * len(X)}
    for (model_id, depth, norm), row in meta.iterrows():
        a, b = (int(v) for v in row['filter_ids'].split(':'))  # inclusive
        layers.append({
            'model': row['model'],
            'convDepth': int(depth),
            'convDepthNorm': float(norm),
            'filterIds': row['filter_ids'],
            'metrics': layer_metrics(X[a:b + 1]),
        })
        training = '(none)' if row['model'] == 'digits_denoiser' else row['Training']
        kind = None
        if row['model'] in ('digits_cnn', 'digits_dwsep'):
            kind = 'depthwise' if row['model'] == 'digits_dwsep' and depth > 0 else 'plain'
        for r in range(a, b + 1):
            labels['model'][r] = row['model']
            labels['Training'][r] = training
            labels['layer-kind'][r] = kind
    generator = 'make_dataset_expected.py (numpy %s, pandas %s, h5py %s)' % (
        np.__version__, pd.__version__, h5py.__version__)
    with open(os.path.join(HERE, 'dataset.import-h5.json'), 'w') as f:
        json.dump({'generator': generator, 'layers': layers}, f, indent=1)
        f.write('\n')
    assert all(v is not None for v in labels['model'])
    out = {'generator': generator, 'bins': BINS}
    for by, lab in labels.items():
        keep = np.array([v is not None for v in lab])
        out[by] = shift(X[keep], [v for v in lab if v is not None])
    with open(os.path.join(HERE, 'dataset.shift.groupings.json'), 'w') as f:
        json.dump(out, f, indent=1)
        f.write('\n')


if __name__ == '__main__':
    main()
