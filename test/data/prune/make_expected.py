#!/usr/bin/env python3
"""Expected pruning scores for test/prune.test.ts, computed with numpy and scipy (float64).

Per output filter j of each conv weight W [out, in, kh, kw]:
  l1   = np.abs(W).sum((1, 2, 3))
  l2   = np.linalg.norm(W.reshape(out, -1), axis=1)
  fpgm = scipy.spatial.distance.cdist(W.reshape(out, -1), W.reshape(out, -1)).sum(0)
on every conv of test/data/digits_cnn.safetensors and the float32 .bin cases of test/data/metrics/.
Run once:

    python3 test/data/prune/make_expected.py
"""
import json
import os
import sys

import numpy as np
from scipy.spatial.distance import cdist

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.dirname(HERE)
sys.path.insert(0, DATA)
from safetensors_np import read_conv_weights  # noqa: E402


def scores(W):
    W = W.astype(np.float64)
    F = W.reshape(W.shape[0], -1)
    return {
        'l1': np.abs(W).sum((1, 2, 3)).tolist(),
        'l2': np.linalg.norm(F, axis=1).tolist(),
        'fpgm': cdist(F, F).sum(0).tolist(),
    }


def main():
    cases = {}
    for name, w in read_conv_weights(os.path.join(DATA, 'digits_cnn.safetensors')).items():
        cases['digits_cnn.safetensors:' + name] = {'shape': list(w.shape), **scores(w)}
    folder = os.path.join(DATA, 'metrics')
    for f in sorted(os.listdir(folder)):
        if not f.endswith('.bin'):
            continue
        shape = [int(x) for x in f[:-4].split('_')[-1].split('x')]
        w = np.fromfile(os.path.join(folder, f), dtype='<f4').reshape(shape)
        cases['metrics/' + f] = {'shape': shape, **scores(w)}
    with open(os.path.join(HERE, 'expected.json'), 'w') as f:
        json.dump(cases, f)
        f.write('\n')


main()
