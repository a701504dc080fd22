#!/usr/bin/env python3
"""Expected WeightWatcher-style spectral metrics for test/spectral.test.ts, computed with numpy (float64, SVD).

A literal numpy transcription of CalculatedContent/WeightWatcher at commit a596ca09 (weightwatcher.py:
conv2D_Wmats, apply_normalize_Wmats, combined_eigenvalues, apply_esd, fit_powerlaw, apply_norm_metrics;
WW_powerlaw.py WWFit; RMT_Util.py matrix_rank / calc_rank_loss / matrix_entropy; constants.py defaults) for
PyTorch-layout conv weights [out, in, kh, kw] with analyze()'s defaults (pool=True, conv2d_norm=True,
pl_package='ww'). Singular values by numpy.linalg.svd of each W[:, :, i, j] -- not by the Gram matrix
filterdb uses -- so the test checks the formulas and the eigen-solver at once.

Cases: every conv of test/data/digits_cnn.safetensors (a real trained model), the float32 .bin cases of
test/data/metrics/, and two generated cases written here as .bin (a Gaussian 64x48x3x3 layer and a heavy-tailed
Student-t 96x64x3x3 one) and a 32x16x3x3 layer with four all-zero input
channels (rank loss 4 in each of its 9 matrices). Run once:

    python3 test/data/spectral/make_expected.py
"""
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.dirname(HERE)
sys.path.insert(0, DATA)
from safetensors_np import read_conv_weights  # noqa: E402
MIN_EVALS, MAX_EVALS, MAX_N, EVALS_THRESH = 10, 15000, 50000, 0.00001


def conv2d_wmats(W):
    out, inp, kh, kw = W.shape
    mats = []
    for i in range(kh):
        for j in range(kw):
            w = W[:, :, i, j]
            if w.shape[0] < w.shape[1]:
                w = w.T
            mats.append(w)
    return mats, max(out, inp), min(out, inp), kh * kw


def matrix_rank(svals, N):
    tol = np.max(svals) * N * np.finfo(svals.dtype).eps
    return int(np.count_nonzero(svals > tol))


def ww_fit(data):
    data = np.asarray(np.sort(data), dtype=np.float64)
    n_all = len(data)
    log_data = np.log(data, dtype=np.float64)
    alphas = np.zeros(n_all - 1)
    Ds = np.ones(n_all - 1)
    for i, xmin in enumerate(data[:-1]):
        n = float(n_all - i)
        alpha = 1 + n / (np.sum(log_data[i:]) - n * log_data[i])
        alphas[i] = alpha
        if alpha > 1:
            Ds[i] = np.max(np.abs(1 - (data[i:] / xmin) ** (-alpha + 1) - np.arange(n) / n))
    i = int(np.argmin(Ds))
    return float(alphas[i]), float(Ds[i]), float(data[i])


def spectral(W):
    W = W.astype(np.float64)
    mats, N, M, rf = conv2d_wmats(W)
    if M * rf < MIN_EVALS or M * rf > MAX_EVALS or N > MAX_N:
        return None
    norm = np.sqrt(1 / 2.0)  # conv2d_norm with conv2d_count = 1 (pool=True)
    evals, rank_loss = [], 0
    for w in mats:
        sv = np.linalg.svd(w * norm, compute_uv=False)
        evals.extend(sv * sv)
        rank_loss += len(sv) - matrix_rank(sv, N)
    evals = np.sort(np.array(evals))
    alpha, D, xmin = ww_fit(evals[evals > EVALS_THRESH])
    lam_max = float(np.max(evals))
    svals = np.sqrt(evals)
    rank = matrix_rank(svals, N)
    p = evals / np.sum(evals)
    p = p[p > 0]
    entropy = -np.sum(p * np.log(p)) / np.log(1.000001 if rank == 1 else rank)
    return {
        'alpha': alpha,
        'D': D,
        'xmin': xmin,
        'alphaWeighted': alpha * np.log10(lam_max),
        'logNorm': float(np.log10(np.sum(evals))),
        'logSpectralNorm': float(np.log10(lam_max)),
        'stableRank': float(np.sum(evals) / lam_max),
        'matrixEntropy': float(entropy),
        'numPlSpikes': int(np.sum(evals >= xmin)),
        'rankLoss': int(rank_loss),
    }


def main():
    rng = np.random.default_rng(15)
    gen = {
        'normal_64x48x3x3': rng.standard_normal((64, 48, 3, 3)) * 0.05,
        'student_96x64x3x3': rng.standard_t(2.5, (96, 64, 3, 3)) * 0.05,
        'dead_32x16x3x3': rng.standard_normal((32, 16, 3, 3)) * 0.1,
    }
    gen['dead_32x16x3x3'][:, [1, 5, 6, 11]] = 0  # four dead input channels: rank loss 4 per matrix
    for name, w in gen.items():
        w.astype('<f4').tofile(os.path.join(HERE, name + '.bin'))
    cases = {}
    for name, w in read_conv_weights(os.path.join(DATA, 'digits_cnn.safetensors')).items():
        cases['digits_cnn.safetensors:' + name] = {'shape': list(w.shape), 'spectral': spectral(w)}
    bins = [(os.path.join(DATA, 'metrics'), f) for f in sorted(os.listdir(os.path.join(DATA, 'metrics')))]
    bins += [(HERE, n + '.bin') for n in gen]
    for folder, f in bins:
        if not f.endswith('.bin'):
            continue
        stem = f[:-4]
        shape = [int(x) for x in stem.split('_')[-1].split('x')]
        w = np.fromfile(os.path.join(folder, f), dtype='<f4').reshape(shape)
        rel = os.path.relpath(os.path.join(folder, f), DATA)
        cases[rel] = {'shape': shape, 'spectral': spectral(w)}
    with open(os.path.join(HERE, 'expected.json'), 'w') as f:
        json.dump(cases, f, indent=1)
        f.write('\n')


main()
