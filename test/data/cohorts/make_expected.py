#!/usr/bin/env python3
"""Reference answer of `filterdb cohorts --by Training --correlate "Robust Accuracy" --json` (issue #13's
definitions, after the notebooks of paulgavrikov/cvpr22w_RobustnessThroughTheLens), in numpy/scipy only,
independent of filterdb's code.

Usage: node dist/test/support/cohort-zoo.js /tmp/zoo && python3 test/data/cohorts/make_expected.py /tmp/zoo
writes test/data/cohorts/expected.json. `make_expected.py DIR K BY CORRELATE OUT` computes the same for the
K x K layers (`cohorts --kernel KxK`), cohorts by the meta column BY, correlated with CORRELATE, into OUT
(test/data/kxk/make_kxk.py runs it on its models with K = 5 and 7). Needs numpy and scipy (for spearmanr); no pandas: pandas.cut's
right-closed bins are numpy.searchsorted(edges, x, side="left") over numpy.linspace(0, 1, 11).

Inputs: every *.safetensors in DIR (F32 tensors) and DIR/meta.csv (model, Training, Robust Accuracy).
A model's conv layers are its 4-D tensors whose name ends in "weight", in ascending data-offset order (no graph
in safetensors: storage order is the depth); conv_depth = index, conv_depth_norm = index / (count - 1).
Only 3x3 layers (K x K) enter the metrics; every conv counts for the depth.
"""
import csv
import json
import os
import struct
import sys

import numpy as np
from scipy.stats import spearmanr

EDGES = np.linspace(0, 1, 11)
BINS = ["first"] + [f"({EDGES[i]:.1f}, {EDGES[i + 1]:.1f}]" for i in range(10)]
F32_EPS = np.finfo(np.float32).eps
HIST_BINS = 70
K = 3  # kernel side (main's argument)
D = 9  # values per filter, K * K


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8 : 8 + n])
    out = []
    for name, spec in header.items():
        if name == "__metadata__" or spec["dtype"] != "F32":
            continue
        lo, hi = spec["data_offsets"]
        arr = np.frombuffer(data[8 + n + lo : 8 + n + hi], dtype="<f4").reshape(spec["shape"])
        out.append((lo, name, arr))
    out.sort(key=lambda t: t[0])
    return [(name, arr) for _, name, arr in out]


def bin_of(depth, norm):
    if depth == 0:
        return 0
    if not (norm > EDGES[0] and norm <= EDGES[-1]):
        return -1
    return int(np.searchsorted(EDGES, norm, side="left"))  # right-closed (a, b]: first edge >= norm


def layer_stats(w):
    """w: [out, in, K, K] float32 → per-layer quantities and the kept scaled filters (float64)."""
    f = w.reshape(-1, D).astype(np.float64)
    max_w = np.abs(f).max() if f.size else 0.0
    peaks = np.abs(f).max(axis=1)
    sparse = peaks <= max_w / 100
    kept = f[~sparse] / peaks[~sparse][:, None]
    m = kept.shape[0]
    entropy = None
    if m >= 2:
        c = kept - kept.mean(axis=0)
        s = np.linalg.svd(c, compute_uv=False)
        v = s**2 / (m - 1)
        if v.sum() > 0:
            p = v / v.sum()
            p = p[p > 0]
            entropy = float(-(p * np.log10(p)).sum())
    out = w.shape[0]
    orth = None
    if out >= 2:
        g = w.reshape(out, -1).astype(np.float64)
        norms = np.linalg.norm(g, axis=1)
        g = np.divide(g, norms[:, None], out=np.zeros_like(g), where=norms[:, None] > 0)
        orth = float(1 - np.abs(g @ g.T - np.eye(out)).sum() / (out * (out - 1)))
    return {
        "filters": f.shape[0],
        "sparse": int(sparse.sum()),
        "kept": m,
        "entropy": entropy,
        "out": out,
        "orth": orth,
    }, kept


def weighted(layers, num, den):
    d = sum(den(l) for l in layers if num(l) is not None)
    if d == 0:
        return None
    return sum(num(l) * den(l) for l in layers if num(l) is not None) / d


def model_metrics(layers):
    def metrics(ls):
        if not ls:
            return None, None, None
        sp = sum(l["sparse"] for l in ls) / sum(l["filters"] for l in ls)
        ent = weighted(ls, lambda l: l["entropy"], lambda l: l["kept"])
        orth = weighted(ls, lambda l: l["orth"], lambda l: l["out"])
        return sp, ent, orth

    per_bin = [metrics([l for l in layers if l["bin"] == b]) for b in range(11)]
    whole = metrics(layers)
    return per_bin, whole


def coefficients(x, mean, comps):
    """(x - mean) . component_i, summed over j in order (as filterdb and the shift fixtures)."""
    c = x - mean
    out = np.zeros((x.shape[0], D))
    for i in range(D):
        s = np.zeros(x.shape[0])
        for j in range(D):
            s = s + c[:, j] * comps[i, j]
        out[:, i] = s
    return out


def sym_kl_matrix(hists, evr):
    probs = []
    for h in hists:
        h = np.where(h == 0, F32_EPS, h)
        probs.append(h / h.sum(axis=1, keepdims=True))
    g = len(probs)
    m = np.zeros((g, g))
    for a in range(g):
        for b in range(a + 1, g):
            p, q = probs[a], probs[b]
            d = sum(evr[i] * ((p[i] * np.log(p[i] / q[i])).sum() + (q[i] * np.log(q[i] / p[i])).sum()) for i in range(D))
            m[a, b] = m[b, a] = d
    return m.tolist()


def main(zoo, by="Training", correlate="Robust Accuracy", out=None):
    with open(os.path.join(zoo, "meta.csv"), newline="") as f:
        meta = {r["model"]: r for r in csv.DictReader(f)}
    models = []
    all_kept = []
    for file in sorted(os.listdir(zoo)):
        if not file.endswith(".safetensors"):
            continue
        name = file[: -len(".safetensors")]
        convs = [(n, a) for n, a in read_safetensors(os.path.join(zoo, file)) if a.ndim == 4 and n.endswith("weight")]
        layers = []
        for i, (n, a) in enumerate(convs):
            if a.shape[2:] != (K, K):
                continue
            depth = i
            norm = i / (len(convs) - 1) if len(convs) > 1 else 0.0
            st, kept = layer_stats(a)
            st["bin"] = bin_of(depth, norm)
            layers.append(st)
            all_kept.append((name, st["bin"], kept))
        group = meta[name][by] or "(none)"
        ra = meta[name][correlate]
        models.append({"name": name, "group": group, "layers": layers, "value": float(ra) if ra else None})
    groups = sorted({m["group"] for m in models})
    models.sort(key=lambda m: (m["group"], m["name"]))
    rows = []
    for m in models:
        per_bin, whole = model_metrics(m["layers"])
        rows.append(
            {
                "model": m["name"],
                "group": m["group"],
                "sparsity": [b[0] for b in per_bin],
                "varianceEntropy": [b[1] for b in per_bin],
                "orthogonality": [b[2] for b in per_bin],
                "whole": {"sparsity": whole[0], "varianceEntropy": whole[1], "orthogonality": whole[2]},
            }
        )

    # divergence: one basis of every non-sparse scaled filter
    group_of = {m["name"]: m["group"] for m in models}
    x = np.concatenate([k for _, _, k in all_kept])
    mean = x.mean(axis=0)
    cov = np.cov(x, rowvar=False, ddof=1)
    vals, vecs = np.linalg.eigh(cov)
    order = np.argsort(vals)[::-1]
    vals = np.clip(vals[order], 0, None)
    comps = vecs[:, order].T.copy()
    for i in range(D):
        big = int(np.argmax(np.abs(comps[i])))
        if comps[i, big] < 0:
            comps[i] = -comps[i]
    evr = vals / vals.sum()
    coefs = coefficients(x, mean, comps)
    lo, hi = float(coefs.min()), float(coefs.max())
    hist = {}
    for name, b, kept in all_kept:
        if b < 0 or kept.shape[0] == 0:
            continue
        c = coefficients(kept, mean, comps)
        h = np.array([np.histogram(c[:, i], bins=HIST_BINS, range=(lo, hi))[0] for i in range(D)], dtype=np.float64)
        key = (group_of[name], b)
        hist[key] = hist.get(key, 0) + h
    by_bin = []
    for b in range(11):
        hs = [hist.get((g, b)) for g in groups]
        by_bin.append(None if any(h is None for h in hs) else sym_kl_matrix(hs, evr))
    pooled = []
    for g in groups:
        hs = [hist[(g, b)] for b in range(11) if (g, b) in hist]
        pooled.append(sum(hs) if hs else None)
    whole = None if any(h is None for h in pooled) else sym_kl_matrix(pooled, evr)

    # correlation with Robust Accuracy over the models where both are defined
    corr = {"column": correlate, "n": sum(1 for m in models if m["value"] is not None)}
    for metric in ["sparsity", "varianceEntropy", "orthogonality"]:
        pairs = [(r["whole"][metric], m["value"]) for r, m in zip(rows, models) if m["value"] is not None and r["whole"][metric] is not None]
        a = np.array([p[0] for p in pairs])
        v = np.array([p[1] for p in pairs])
        if len(pairs) < 2 or np.all(a == a[0]) or np.all(v == v[0]):
            corr[metric] = None
        else:
            corr[metric] = float(spearmanr(a, v).statistic)

    answer = {
        "by": by,
        "bins": BINS,
        "groups": groups,
        "models": rows,
        "divergence": {
            "explainedVarianceRatio": evr.tolist(),
            "range": [lo, hi],
            "filterCount": int(x.shape[0]),
            "byBin": by_bin,
            "whole": whole,
        },
        "correlation": corr,
    }
    out = out or os.path.join(os.path.dirname(os.path.abspath(__file__)), "expected.json")
    with open(out, "w") as f:
        json.dump(answer, f, indent=1)
        f.write("\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    if len(sys.argv) > 2:
        K = int(sys.argv[2])
        D = K * K
        main(sys.argv[1], sys.argv[3], sys.argv[4], sys.argv[5])
    else:
        main(sys.argv[1])
