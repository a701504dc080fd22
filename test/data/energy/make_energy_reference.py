"""Reference for `filterdb energy` (src/analysis/energy.ts), written independently with numpy/scipy.

Writes into this folder:
  rgb_stem.safetensors       stem.weight [16, 3, 5, 5] float32 (smooth oriented patterns + noise, seeded)
  rgb_stem_init.safetensors  stem.weight [16, 3, 5, 5] float32 (a seeded "initialisation")
  basis75_f8.npy             random orthonormal 75x75 basis (rows are basis vectors), float64, C order
  basis75_f4.npy             the same basis rounded to float32
  basis9_fortran.npy         random orthonormal 9x9 basis, float64, Fortran order (rows are basis vectors)
  energy_reference.json      DCT basis for C=2, k=3 and the energy profiles of each case

Run: python3 make_energy_reference.py  (numpy, scipy)
"""
import json
import os
import struct

import numpy as np
from scipy.fft import dct

HERE = os.path.dirname(os.path.abspath(__file__))


def write_safetensors(path, name, arr):
    arr = np.ascontiguousarray(arr, dtype='<f4')
    header = json.dumps({name: {'dtype': 'F32', 'shape': list(arr.shape), 'data_offsets': [0, arr.nbytes]}})
    while (len(header) + 8) % 8:
        header += ' '
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(header)))
        f.write(header.encode())
        f.write(arr.tobytes())


def read_safetensors(path, name):
    b = open(path, 'rb').read()
    n = struct.unpack('<Q', b[:8])[0]
    h = json.loads(b[8:8 + n])[name]
    s, e = h['data_offsets']
    return np.frombuffer(b[8 + n + s:8 + n + e], dtype='<f4').reshape(h['shape']).astype(np.float64)


def dct_basis(c, k):
    """Per-channel orthonormal 2-D DCT-II, ordered by (u + v, u, channel); rows are basis vectors."""
    m = dct(np.eye(k), norm='ortho', axis=0)  # m[u, x] = 1-D DCT-II vector u at x
    order = sorted(((u + v, u, ch, v) for u in range(k) for v in range(k) for ch in range(c)))
    rows = []
    for _, u, ch, v in order:
        vec = np.zeros((c, k, k))
        vec[ch] = np.outer(m[u], m[v])
        rows.append(vec.ravel())
    return np.array(rows)


def energy(w, basis, init=None):
    f = w.shape[0]
    d = w.reshape(f, -1) - (0 if init is None else init.reshape(f, -1))
    e = np.sqrt(((d @ basis.T) ** 2).sum(axis=0)) / f
    return e, e / e.max()


def main():
    rng = np.random.default_rng(14)
    yy, xx = np.mgrid[-2:3, -2:3]
    stem = np.zeros((16, 3, 5, 5))
    for o in range(16):
        th = np.pi * o / 16
        g = np.exp(-(xx ** 2 + yy ** 2) / 3.0)
        pattern = g * (np.cos(th) * xx + np.sin(th) * yy)
        for c in range(3):
            stem[o, c] = (0.3 + 0.2 * c) * pattern + 0.05 * rng.standard_normal((5, 5))
    init = 0.1 * rng.standard_normal((16, 3, 5, 5))
    write_safetensors(os.path.join(HERE, 'rgb_stem.safetensors'), 'stem.weight', stem)
    write_safetensors(os.path.join(HERE, 'rgb_stem_init.safetensors'), 'stem.weight', init)

    q, _ = np.linalg.qr(rng.standard_normal((75, 75)))
    np.save(os.path.join(HERE, 'basis75_f8.npy'), q.astype('<f8'))
    np.save(os.path.join(HERE, 'basis75_f4.npy'), q.astype('<f4'))
    q9, _ = np.linalg.qr(rng.standard_normal((9, 9)))
    np.save(os.path.join(HERE, 'basis9_fortran.npy'), np.asfortranarray(q9))

    w = read_safetensors(os.path.join(HERE, 'rgb_stem.safetensors'), 'stem.weight')
    wi = read_safetensors(os.path.join(HERE, 'rgb_stem_init.safetensors'), 'stem.weight')
    digits = read_safetensors(os.path.join(HERE, '..', 'digits_cnn.safetensors'), 'features.conv1.weight')
    b75_f4 = np.load(os.path.join(HERE, 'basis75_f4.npy')).astype(np.float64)

    cases = {}

    def case(name, weights, basis, init=None):
        e, p = energy(weights, basis, init)
        cases[name] = {'energy': e.tolist(), 'profile': p.tolist()}

    case('digits_cnn dct', digits, dct_basis(1, 3))
    case('digits_cnn basis9_fortran', digits, q9)
    case('rgb_stem dct', w, dct_basis(3, 5))
    case('rgb_stem dct init', w, dct_basis(3, 5), wi)
    case('rgb_stem basis75_f8', w, q)
    case('rgb_stem basis75_f4', w, b75_f4)
    out = {
        'dct_c2_k3': dct_basis(2, 3).tolist(),
        'cases': cases,
        # correlation of the rgb_stem profiles with DCT and with the init subtracted
        'pearson_rgb_dct_vs_init': float(np.corrcoef(cases['rgb_stem dct']['profile'],
                                                     cases['rgb_stem dct init']['profile'])[0, 1]),
    }
    with open(os.path.join(HERE, 'energy_reference.json'), 'w') as f:
        json.dump(out, f)


if __name__ == '__main__':
    main()
