"""Independent reference for src/analysis/kernel-atlas.ts (test/kernel-atlas-reference.test.ts).

Written from the module's documented definition, not from its code: prototypes sampled from the closed-form
Gaussian derivatives; a single prototype's score is |Pearson r| (numpy.corrcoef); a span's score is the norm of
the projection on an orthonormal basis of the centred span (numpy.linalg.qr) over the kernel's norm, with the
span coefficients from numpy.linalg.lstsq for the orientation; the chance score from the same seeded
mulberry32 draws (ported) and Box-Muller normals. Run: python3 make_atlas_reference.py > atlas_reference.json
"""

import json
import math

import numpy as np

SHIFTS = [(0.0, 0.0), (0.5, 0.0), (-0.5, 0.0), (0.0, 0.5), (0.0, -0.5)]
LINE_ANGLES = [15 * i for i in range(12)]
BLOB_DC_FRACTION = 0.5
FLAT_FRACTION = 0.01
DEFAULT = {"threshold": 0.75, "margin": 0.01, "chance": 0.9}
CHANCE_DRAWS = 1000
CHANCE_SEED = 0x6B65726E


def sigma_grid(k):
    r = (k - 1) / 2
    n = int(round((r - 0.5) / 0.25)) + 1
    return [0.5 + 0.25 * i for i in range(n)]


def fields(k, s, shift):
    r = (k - 1) / 2
    cx, cy = shift
    y, x = np.mgrid[0:k, 0:k].astype(float)
    x = x - r - cx
    y = y - r - cy
    g = np.exp(-(x**2 + y**2) / (2 * s * s))
    wide = np.exp(-(x**2 + y**2) / (2 * (1.6 * s) ** 2))
    f = {
        "g": g,
        "gx": x * g,
        "gy": y * g,
        "gxx": (x**2 / s**2 - 1) / s**2 * g,
        "gyy": (y**2 / s**2 - 1) / s**2 * g,
        "gxy": x * y / s**4 * g,
        "dog": g / g.sum() - wide / wide.sum(),
    }
    return {name: v.ravel() for name, v in f.items()}


def ridge(f, deg):
    t = math.radians(deg)
    c, s = math.cos(t), math.sin(t)
    return -(c * c * f["gxx"] + 2 * c * s * f["gxy"] + s * s * f["gyy"])


def prototype(label, k, sigma, theta=0.0, shift=(0.0, 0.0)):
    f = fields(k, sigma, shift)
    t = math.radians(theta)
    if label == "blob":
        v = f["g"]
    elif label == "centre-surround":
        v = f["dog"]
    elif label == "edge":
        v = math.cos(t) * f["gx"] + math.sin(t) * f["gy"]
    elif label == "line":
        v = ridge(f, theta)
    elif label == "saddle":
        v = math.cos(2 * t) * (f["gxx"] - f["gyy"]) + math.sin(2 * t) * 2 * f["gxy"]
    else:
        return None
    m = np.abs(v).max()
    return (v / m if m > 0 else v * 0).tolist()


def bank(k):
    singles, spans = [], []
    for s in sigma_grid(k):
        for shift in SHIFTS:
            f = fields(k, s, shift)
            for fam, p, q in (("edge", f["gx"], f["gy"]), ("saddle", f["gxx"] - f["gyy"], 2 * f["gxy"])):
                a, b = p - p.mean(), q - q.mean()
                aa, bb, ab = a @ a, b @ b, a @ b
                if aa * bb - ab * ab > 1e-12 * (aa + bb) ** 2:
                    spans.append((fam, s, shift, np.stack([a, b], axis=1)))
            protos = [("line", deg, ridge(f, deg)) for deg in LINE_ANGLES]
            protos += [("centre", None, f["g"]), ("centre", None, -(f["gxx"] + f["gyy"])), ("centre", None, f["dog"])]
            for fam, deg, v in protos:
                c = v - v.mean()
                if np.linalg.norm(c) >= 1e-9:
                    singles.append((fam, s, shift, deg, c))
    return singles, spans


BANKS = {}


def get_bank(k):
    if k not in BANKS:
        BANKS[k] = bank(k)
    return BANKS[k]


def family_scores(kernel, k):
    """Each family's best (score, sign, sigma, shift, theta), first best in bank order, and the runner-up's gap."""
    singles, spans = get_bank(k)
    kc = kernel - kernel.mean()
    best = {}
    gaps = []

    def offer(fam, cand):
        cur = best.get(fam)
        if cur is None or cand[0] > cur[0]:
            if cur is not None:
                gaps.append(cand[0] - cur[0])
            best[fam] = cand
        else:
            gaps.append(cur[0] - cand[0])

    for fam, s, shift, deg, v in singles:
        r = np.corrcoef(kc, v)[0, 1]
        offer(fam, (abs(r), 1 if r > 0 else -1, s, shift, deg))
    for fam, s, shift, m in spans:
        q, _ = np.linalg.qr(m)
        score = min(1.0, np.linalg.norm(q.T @ kc) / np.linalg.norm(kc))
        ca, cb = np.linalg.lstsq(m, kc, rcond=None)[0]
        theta = math.degrees(math.atan2(cb, ca))
        theta = theta % 360 if fam == "edge" else (theta / 2) % 90
        offer(fam, (score, 1, s, shift, theta))
    return best


def chance_draws(k):
    state = (CHANCE_SEED + k) & 0xFFFFFFFF
    M = 0xFFFFFFFF

    def rand():
        nonlocal state
        state = (state + 0x6D2B79F5) & M
        t = state
        t = ((t ^ (t >> 15)) * (t | 1)) & M
        t ^= (t + (((t ^ (t >> 7)) * (t | 61)) & M)) & M
        return ((t ^ (t >> 14)) & M) / 4294967296

    out = np.empty((CHANCE_DRAWS, k * k))
    for d in range(CHANCE_DRAWS):
        for i in range(k * k):
            u = max(rand(), 1e-300)
            out[d, i] = math.sqrt(-2 * math.log(u)) * math.cos(2 * math.pi * rand())
    return out


def chance_scores(k):
    singles, spans = get_bank(k)
    x = chance_draws(k)
    xc = x - x.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(xc, axis=1)
    cols = []
    for _, _, _, _, v in singles:
        cols.append(np.abs(xc @ (v / np.linalg.norm(v))) / norm)
    for _, _, _, m in spans:
        q, _ = np.linalg.qr(m)
        cols.append(np.minimum(1, np.linalg.norm(xc @ q, axis=1) / norm))
    return np.sort(np.max(np.stack(cols, axis=1), axis=1))


CHANCE = {}


def chance(k, q):
    if k not in CHANCE:
        CHANCE[k] = chance_scores(k)
    s = CHANCE[k]
    q = min(1.0, max(0.0, q))
    return float(s[int(math.floor(q * (len(s) - 1)))])


def classify(kernel, k, layer_max, th):
    kernel = np.asarray(kernel, dtype=float)
    kc = kernel - kernel.mean()
    norm = np.linalg.norm(kc)
    if not (norm >= FLAT_FRACTION * layer_max) or norm == 0:
        return {"label": "flat", "polarity": None, "sigma": None, "theta": None, "shift": None,
                "score": 0, "margin": 0, "family": None}
    best = family_scores(kernel, k)
    ranked = sorted(best.items(), key=lambda e: -e[1][0])
    fam, (score, sign, sigma, shift, theta) = ranked[0]
    margin = score - ranked[1][1][0]
    limit = max(th["threshold"], chance(k, th["chance"]) if th.get("chance", 0) > 0 else 0)
    out = {"sigma": sigma, "theta": theta, "shift": list(shift), "score": score, "margin": margin, "family": fam,
           "runnerUp": ranked[1][0], "limit": limit}
    if score < limit or margin < th["margin"]:
        return {"label": "unclassified", "polarity": None, **out}
    polarity = ("on" if sign > 0 else "off") if fam in ("centre", "line") else None
    if fam != "centre":
        return {"label": fam, "polarity": polarity, **out}
    dc = abs(kernel.sum()) / np.abs(kernel).sum()
    return {"label": "blob" if dc >= BLOB_DC_FRACTION else "centre-surround", "polarity": polarity, **out}


def ambiguous(kernel, k):
    """True when the best family's best prototype is not unique to 1e-9 (a tie the two codes may break
    differently) or when the best two families are within 1e-9."""
    best = family_scores(np.asarray(kernel, dtype=float), k)
    singles, spans = get_bank(k)
    kc = np.asarray(kernel, dtype=float)
    kc = kc - kc.mean()
    scores = {}
    for fam, s, shift, deg, v in singles:
        scores.setdefault(fam, []).append(abs(np.corrcoef(kc, v)[0, 1]))
    for fam, s, shift, m in spans:
        q, _ = np.linalg.qr(m)
        scores.setdefault(fam, []).append(np.linalg.norm(q.T @ kc) / np.linalg.norm(kc))
    top = max(best, key=lambda f: best[f][0])
    v = sorted(scores[top], reverse=True)
    if v[0] - v[1] < 1e-9:
        return True
    tops = sorted((b[0] for b in best.values()), reverse=True)
    return tops[0] - tops[1] < 1e-9


def main():
    rng = np.random.default_rng(20)
    out = {"sigmaGrid": {k: sigma_grid(k) for k in (3, 5, 7, 9)}}
    counts = {}
    for k in (3, 5, 7):
        singles, spans = get_bank(k)
        c = {}
        for fam, *_ in singles:
            c[fam] = c.get(fam, 0) + 1
        for fam, *_ in spans:
            c[fam] = c.get(fam, 0) + 1
        counts[k] = {"singles": len(singles), "spans": len(spans), "byFamily": c}
    out["bank"] = counts
    out["chance"] = [{"k": k, "quantile": q, "score": chance(k, q)}
                     for k in (3, 5, 7) for q in (-0.5, 0, 0.25, 0.5, 0.9, 1, 1.5)]
    protos = []
    for label, k, sigma, theta, shift in [
        ("blob", 5, 1.0, 0, (0.5, 0)), ("blob", 3, 0.75, 0, (0, 0)),
        ("centre-surround", 5, 1.25, 0, (0, -0.5)), ("centre-surround", 3, 0.5, 0, (0, 0)),
        ("edge", 5, 1.0, 30, (0, 0)), ("edge", 3, 0.75, 200, (0, 0.5)), ("edge", 7, 2.0, 90, (-0.5, 0)),
        ("line", 5, 1.0, 60, (0, 0)), ("line", 7, 1.5, 0, (0.5, 0)), ("line", 3, 1.0, 135, (0, 0)),
        ("saddle", 5, 1.0, 20, (0, 0)), ("saddle", 7, 1.75, 0, (0, 0.5)), ("saddle", 3, 0.75, 70, (0, 0)),
        ("flat", 3, 1.0, 0, (0, 0)), ("unclassified", 5, 1.0, 0, (0, 0)),
    ]:
        protos.append({"label": label, "k": k, "sigma": sigma, "theta": theta, "shift": list(shift),
                       "kernel": prototype(label, k, sigma, theta, shift)})
    out["prototypes"] = protos

    cases = []

    def add(name, kernel, k, layer_max=None, th=None):
        kernel = [float(v) for v in np.asarray(kernel, dtype=float).ravel()]
        if layer_max is None:
            layer_max = float(np.abs(kernel).max())
        thr = th or DEFAULT
        exp = classify(kernel, k, layer_max, thr)
        if exp["label"] != "flat" and ambiguous(kernel, k):
            return
        if exp["family"] == "edge" and min(exp["theta"], 360 - exp["theta"]) < 0.01:
            return
        if exp["family"] == "saddle" and min(exp["theta"], 90 - exp["theta"]) < 0.01:
            return
        cases.append({"name": name, "k": k, "layerMaxAbs": layer_max, "thresholds": th, "kernel": kernel,
                      "expected": exp})

    for k in (3, 5, 7):
        for i in range(12):
            add(f"random {k}x{k} #{i}", rng.standard_normal(k * k), k)
        for i in range(4):
            add(f"random {k}x{k} #{i}, no thresholds", rng.standard_normal(k * k), k,
                th={"threshold": 0, "margin": 0, "chance": 0})
    for k in (3, 5, 7):
        grid = sigma_grid(k)
        s = grid[len(grid) // 2]
        for label, thetas in (("edge", (30, 110, 200, 290, 340)), ("line", (15, 75, 120, 165)),
                              ("saddle", (10, 40, 80)), ("blob", (0,)), ("centre-surround", (0,))):
            for theta in thetas:
                for a, b in ((1.3, 0.2), (-0.8, -0.1)):
                    p = np.asarray(prototype(label, k, s, theta))
                    if label == "centre-surround":
                        p = p - p.mean()
                    off = 0 if label in ("blob", "centre-surround") else b
                    noise = 0.04 * rng.standard_normal(k * k)
                    add(f"{label} {k}x{k} θ={theta} a={a}", a * (p + noise) + off, k)
    # a centre spike on a negative floor: DC fraction 16/32 = 0.5 exactly (blob) and 15/31 (centre-surround)
    free = {"threshold": 0, "margin": 0, "chance": 0}
    for centre in (24, 23):
        v = -np.ones(9)
        v[4] = centre
        add(f"spike {centre} on −1", v, 3, th=free)
    # ‖K − mean K‖ = 2 exactly: not flat at layer max 200 (2 ≥ 0.01·200), flat just above
    v = np.array([1, -1, 1, -1, 0, 0, 0, 0, 0], dtype=float)
    add("norm 2, layer max 200", v, 3, layer_max=200.0, th=free)
    add("norm 2, layer max above 200", v, 3, layer_max=float(np.nextafter(200, 300)), th=free)
    add("constant, layer max 0", np.full(9, 0.5), 3, layer_max=0.0)
    out["cases"] = cases
    print(json.dumps(out, indent=1))


main()
