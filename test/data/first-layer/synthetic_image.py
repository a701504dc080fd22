"""The probe's synthetic test image (src/analysis/first-layer-conv.ts syntheticImage), drawn again from its
description with numpy for test/first-layer-conv-units.test.ts: a red-to-right ramp, a green-downwards ramp
broken by diagonal bands in the lower right quarter, a blue ramp towards the top left, a 8-pixel checkerboard
(240, 240, 30) in the lower left quarter and a disc (230, 60, 40) of radius 0.2 at (0.68, 0.32); opaque.
Rounding is half up (JavaScript's Math.round).

Run from the repository root:  python3 test/data/first-layer/synthetic_image.py
Writes test/data/first-layer/synthetic_image.json: the 37×29 and 6×26 images' bytes (the 6×26 one has a pixel
exactly on the disc's edge) and the default 224×224 image's SHA-256.
"""
import base64
import hashlib
import json
import os

import numpy as np


def image(width, height):
    y, x = np.mgrid[0:height, 0:width]
    u = x / (width - 1)
    v = y / (height - 1)
    disc = (u - 0.68) ** 2 + (v - 0.32) ** 2 < 0.04
    checks = (u < 0.5) & (v > 0.5) & ((x // 8 + y // 8) % 2 == 1)
    diag = np.where(np.sin((x + y) * 0.35) > 0, 1.0, 0.0)
    half_up = lambda a: np.floor(a + 0.5)
    r = half_up(255 * u)
    g = half_up(255 * v * np.where((u > 0.5) & (v > 0.5), diag, 1.0))
    b = half_up(255 * (1 - u) * (1 - v))
    r = np.where(checks, 240, r)
    g = np.where(checks, 240, g)
    b = np.where(checks, 30, b)
    r = np.where(disc, 230, r)
    g = np.where(disc, 60, g)
    b = np.where(disc, 40, b)
    a = np.full_like(r, 255)
    return np.stack([r, g, b, a], axis=-1).astype(np.uint8)


small = image(37, 29)
full = image(224, 224)
# 6×26: pixel (4, 4) lies exactly on the disc's edge, (0.8 - 0.68)² + (0.16 - 0.32)² == 0.04 in float64; the disc
# is open (< 0.04), so that pixel keeps the ramp colours
edge = image(6, 26)
assert (0.8 - 0.68) ** 2 + (4 / 25 - 0.32) ** 2 == 0.04
here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "synthetic_image.json"), "w") as f:
    json.dump(
        {
            "small": {"width": 37, "height": 29, "rgba": base64.b64encode(small.tobytes()).decode()},
            "edge": {"width": 6, "height": 26, "rgba": base64.b64encode(edge.tobytes()).decode()},
            "default": {"width": 224, "height": 224, "sha256": hashlib.sha256(full.tobytes()).hexdigest()},
        },
        f,
        indent=1,
    )
    f.write("\n")
