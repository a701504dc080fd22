"""Reference outputs for test/first-layer-conv.test.ts, computed with numpy (an implementation independent of
src/analysis/first-layer-conv.ts: padding by np.pad, one einsum per kernel tap over strided slices).

Run from the repository root:  python3 test/data/first-layer/conv_reference.py
Writes test/data/first-layer/conv_reference.json. Inputs and weights come from formulas the test repeats:
x[i] = cos(0.37 i) over the flattened C×H×W input, w[i] = sin(0.7 i + 0.3) over the flattened weight; the
ESRGAN case reads the first conv (F_m1/kernel, HWIO) of @upscalerjs/esrgan-slim x4 from its shard and uses the
image pixel(c, y, x) = ((7 x + 13 y + 29 c) mod 256) / 255.
"""
import json
import math
import os

import numpy as np


def same_pads(size, k, s, d, lower):
    out = -(-size // s)
    total = max(0, (out - 1) * s + (k - 1) * d + 1 - size)
    small = total // 2
    return (total - small, small) if lower else (small, total - small)


def conv(x, w, groups, strides, dilations, mode, pads):
    c, h, wd = x.shape
    o, ipg, kh, kw = w.shape
    sh, sw = strides
    dh, dw = dilations
    if mode == "explicit":
        t, l, b, r = pads
    elif mode == "valid":
        t = l = b = r = 0
    else:
        t, b = same_pads(h, kh, sh, dh, mode == "same-lower")
        l, r = same_pads(wd, kw, sw, dw, mode == "same-lower")
    xp = np.pad(x.astype(np.float64), ((0, 0), (t, b), (l, r)))
    oh = (h + t + b - ((kh - 1) * dh + 1)) // sh + 1
    ow = (wd + l + r - ((kw - 1) * dw + 1)) // sw + 1
    out = np.zeros((o, oh, ow))
    opg = o // groups
    for g in range(groups):
        xs = xp[g * ipg:(g + 1) * ipg]
        wg = w[g * opg:(g + 1) * opg].astype(np.float64)
        for ky in range(kh):
            for kx in range(kw):
                sl = xs[:, ky * dh: ky * dh + sh * (oh - 1) + 1: sh, kx * dw: kx * dw + sw * (ow - 1) + 1: sw]
                out[g * opg:(g + 1) * opg] += np.einsum("oc,chw->ohw", wg[:, :, ky, kx], sl)
    return out


def formula_case(name, chw, shape, groups, strides, dilations, mode, pads):
    x = np.cos(0.37 * np.arange(np.prod(chw))).reshape(chw)
    w = np.sin(0.7 * np.arange(np.prod(shape)) + 0.3).reshape(shape)
    y = conv(x, w, groups, strides, dilations, mode, pads)
    return {
        "name": name, "input": list(chw), "shape": list(shape), "groups": groups, "strides": list(strides),
        "dilations": list(dilations), "padMode": mode, "pads": list(pads), "outShape": list(y.shape),
        "output": [float(v) for v in y.ravel()],
    }


def esrgan_case(root):
    folder = os.path.join(root, "node_modules/@upscalerjs/esrgan-slim/models/x4")
    manifest = json.load(open(os.path.join(folder, "model.json")))["weightsManifest"]
    offset = 0
    for group in manifest:
        data = b"".join(open(os.path.join(folder, p), "rb").read() for p in group["paths"])
        for spec in group["weights"]:
            n = int(np.prod(spec["shape"]))
            if spec["name"] == "F_m1/kernel":
                hwio = np.frombuffer(data, dtype="<f4", count=n, offset=offset).reshape(spec["shape"])
                w = hwio.transpose(3, 2, 0, 1)  # HWIO -> OIHW
                c, h, wd = 3, 12, 10
                x = np.array([[[((7 * xx + 13 * yy + 29 * cc) % 256) / 255 for xx in range(wd)]
                               for yy in range(h)] for cc in range(c)])
                y = conv(x, w, 1, (1, 1), (1, 1), "same-upper", (0, 0, 0, 0))
                return {"name": "esrgan-slim x4 F_m1", "input": [c, h, wd], "outShape": list(y.shape),
                        "output": [float(v) for v in y.ravel()]}
            assert spec["dtype"] == "float32"
            offset += 4 * n
        offset = 0
    raise SystemExit("F_m1/kernel not found")


root = os.getcwd()
cases = [
    formula_case("stride 2x1, asymmetric pads", (3, 9, 11), (4, 3, 3, 3), 1, (2, 1), (1, 1), "explicit", (1, 0, 2, 1)),
    formula_case("groups 2, dilation 2x1", (4, 10, 8), (6, 2, 3, 2), 2, (1, 2), (2, 1), "explicit", (0, 1, 1, 0)),
    formula_case("depthwise, SAME_UPPER stride 2", (3, 7, 8), (3, 1, 3, 3), 3, (2, 2), (1, 1), "same-upper", (0, 0, 0, 0)),
    formula_case("SAME_LOWER stride 3, 4x4", (3, 8, 7), (2, 3, 4, 4), 1, (3, 3), (1, 1), "same-lower", (0, 0, 0, 0)),
    formula_case("VALID stride 2 dilation 2", (1, 6, 6), (2, 1, 3, 3), 1, (2, 2), (2, 2), "valid", (0, 0, 0, 0)),
    formula_case("7x7 stride 2 pads 3 (ResNet stem)", (3, 15, 13), (5, 3, 7, 7), 1, (2, 2), (1, 1), "explicit", (3, 3, 3, 3)),
]
out = {"numpy": np.__version__, "cases": cases, "esrgan": esrgan_case(root)}
path = os.path.join(root, "test/data/first-layer/conv_reference.json")
with open(path, "w") as f:
    json.dump(out, f, separators=(",", ":"))
print("wrote", path, sum(len(c["output"]) for c in cases) + len(out["esrgan"]["output"]), "values")
