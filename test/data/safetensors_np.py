"""Reads the 4-D float32 tensors of a safetensors file with numpy only (used by the reference scripts)."""
import json
import struct

import numpy as np


def read_conv_weights(path):
    with open(path, 'rb') as f:
        raw = f.read()
    (n,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8 : 8 + n])
    out = {}
    for name, info in header.items():
        if name == '__metadata__' or len(info['shape']) != 4:
            continue
        assert info['dtype'] == 'F32', info['dtype']
        a, b = info['data_offsets']
        out[name] = np.frombuffer(raw[8 + n + a : 8 + n + b], dtype='<f4').reshape(info['shape'])
    return out
