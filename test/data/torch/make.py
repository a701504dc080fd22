#!/usr/bin/env python3
"""Generates the small PyTorch / safetensors test files in this folder, without torch.

torch's pickles are emulated: fake `torch`, `torch._utils` and `torch.nn.modules.*` modules are put in
sys.modules so that Python's own pickler writes the same globals (`torch._utils._rebuild_tensor_v2`,
`torch.FloatStorage`, `collections.OrderedDict`, ...) and the same persistent ids
`('storage', StorageClass, key, 'cpu', numel)` as torch.save. The zip container copies torch's
PyTorchFileWriter (miniz): 64-byte aligned data with an `FB` padding extra field, data descriptors and
zip64 end records. `python3 make.py --check` rebuilds ../digits_cnn.pt from its own contents with this
emulation and asserts the result is byte-for-byte identical (pickle and zip).

Every generated file's expected tensors (names, shapes, dtypes, values as float64) go to expected.json.
Usage: python3 make.py [--check]
"""
import collections
import io
import json
import os
import pickle
import struct
import sys
import types
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OrderedDict = collections.OrderedDict

# ---------------------------------------------------------------------------------------------
# Fake torch modules: just enough names for the pickler to write torch's globals.


def fake_module(name):
    mod = types.ModuleType(name)
    sys.modules[name] = mod
    return mod


torch = fake_module('torch')
torch_utils = fake_module('torch._utils')
torch._utils = torch_utils


def fake_function(mod, name):
    def f(*args):
        raise RuntimeError('fake')

    f.__module__ = mod.__name__
    f.__qualname__ = f.__name__ = name
    setattr(mod, name, f)
    return f


def fake_class(mod, name, base=object):
    cls = type(name, (base,), {'__module__': mod.__name__})
    setattr(mod, name, cls)
    return cls


_rebuild_tensor_v2 = fake_function(torch_utils, '_rebuild_tensor_v2')
_rebuild_parameter = fake_function(torch_utils, '_rebuild_parameter')
STORAGE_CLASSES = {
    name: fake_class(torch, name)
    for name in ['FloatStorage', 'HalfStorage', 'BFloat16Storage', 'DoubleStorage', 'LongStorage']
}
ITEM_SIZE = {'FloatStorage': 4, 'HalfStorage': 2, 'BFloat16Storage': 2, 'DoubleStorage': 8, 'LongStorage': 8}
DTYPE = {'FloatStorage': 'float32', 'HalfStorage': 'float16', 'BFloat16Storage': 'bfloat16', 'DoubleStorage': 'float64',
         'LongStorage': 'int64'}

nn_conv = fake_module('torch.nn.modules.conv')
nn_bn = fake_module('torch.nn.modules.batchnorm')
nn_container = fake_module('torch.nn.modules.container')
nn_linear = fake_module('torch.nn.modules.linear')


class FakeModule:
    """Pickles like nn.Module: NEWOBJ of the class, then BUILD with the instance __dict__."""


MODULE_CLASSES = {
    'Conv2d': fake_class(nn_conv, 'Conv2d', FakeModule),
    'ConvTranspose2d': fake_class(nn_conv, 'ConvTranspose2d', FakeModule),
    'BatchNorm2d': fake_class(nn_bn, 'BatchNorm2d', FakeModule),
    'Sequential': fake_class(nn_container, 'Sequential', FakeModule),
    'Linear': fake_class(nn_linear, 'Linear', FakeModule),
}


class Storage:
    """A torch storage: raw little-endian bytes (or big-endian with byteorder 'big') of one dtype."""

    def __init__(self, kind, data):
        self.kind = kind  # 'FloatStorage', ...
        self.data = bytes(data)
        self.numel = len(self.data) // ITEM_SIZE[kind]


class Tensor:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def __reduce_ex__(self, proto):
        return (_rebuild_tensor_v2, (self.storage, self.offset, self.size, self.stride, False, OrderedDict()))


class Parameter:
    def __init__(self, tensor):
        self.tensor = tensor

    def __reduce_ex__(self, proto):
        return (_rebuild_parameter, (self.tensor, True, OrderedDict()))


def contiguous_strides(shape):
    strides, s = [], 1
    for d in reversed(shape):
        strides.append(s)
        s *= d
    return tuple(reversed(strides))


# ---------------------------------------------------------------------------------------------
# Value encodings


def bf16_bits(values):
    """float32 -> bfloat16 bits by round-to-nearest-even, like torch's conversion."""
    u = np.asarray(values, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return rounded.astype(np.uint16)


def bf16_values(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32).astype(np.float64)


def encode(kind, values, big_endian=False):
    """Returns (bytes, decoded float64 values) for a flat array in the storage's dtype."""
    order = '>' if big_endian else '<'
    if kind == 'BFloat16Storage':
        bits = bf16_bits(values)
        return bits.astype(order + 'u2').tobytes(), bf16_values(bits)
    np_type = {'FloatStorage': 'f4', 'HalfStorage': 'f2', 'DoubleStorage': 'f8', 'LongStorage': 'i8'}[kind]
    arr = np.asarray(values).astype(order + np_type)
    return arr.tobytes(), arr.astype(np.float64)


RNG = np.random.default_rng(20240607)


def make_tensor(kind, shape, big_endian=False):
    """A fresh contiguous tensor with its own storage; returns (tensor, decoded values)."""
    n = int(np.prod(shape))
    data, decoded = encode(kind, RNG.standard_normal(n).astype(np.float32) * 0.5, big_endian)
    return Tensor(Storage(kind, data), 0, shape, contiguous_strides(shape)), decoded


# ---------------------------------------------------------------------------------------------
# torch.save emulation


class TorchPickler(pickle.Pickler):
    """persistent_id as in torch.serialization._save (keys in first-use order) and _legacy_save."""

    def __init__(self, file, legacy=False):
        super().__init__(file, protocol=2)
        self.legacy = legacy
        self.keys = {}  # id(storage) -> key
        self.storages = {}  # key -> Storage

    def persistent_id(self, obj):
        if not isinstance(obj, Storage):
            return None
        key = self.keys.setdefault(id(obj), str(len(self.keys)) if not self.legacy else str(140000000 + 16 * len(self.keys)))
        self.storages[key] = obj
        pid = ('storage', STORAGE_CLASSES[obj.kind], key, 'cpu', obj.numel)
        return pid + (None,) if self.legacy else pid


def pickle_with_storages(obj, legacy=False):
    buf = io.BytesIO()
    pickler = TorchPickler(buf, legacy)
    pickler.dump(obj)
    return buf.getvalue(), pickler.storages


def torch_zip(folder, records, zip64_central=False):
    """PyTorchFileWriter layout: 64-byte aligned stored records, data descriptors, zip64 end records.

    `zip64_central` writes 0xFFFFFFFF sizes/offsets plus a zip64 extra field in the central directory, as
    writers do for entries past 4 GB (exercises that path on a small file)."""
    out = bytearray()
    central = []
    for name, data in records:
        full = f'{folder}/{name}'.encode()
        offset = len(out)
        start = offset + 30 + len(full) + 4
        pad = (64 - start % 64) % 64
        extra = b'FB' + struct.pack('<H', pad) + b'Z' * pad
        out += struct.pack('<IHHHHHIIIHH', 0x04034B50, 0, 0x0808, 0, 0, 0, 0, 0, 0, len(full), len(extra))
        out += full + extra + data
        crc = zlib.crc32(data)
        out += struct.pack('<IIII', 0x08074B50, crc, len(data), len(data))
        central.append((full, crc, len(data), offset))
    cd_start = len(out)
    for full, crc, size, offset in central:
        if zip64_central:
            extra = struct.pack('<HHQQQ', 1, 24, size, size, offset)
            out += struct.pack('<IHHHHHHIIIHHHHHII', 0x02014B50, 45, 45, 0x0808, 0, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                               len(full), len(extra), 0, 0, 0, 0, 0xFFFFFFFF) + full + extra
            continue
        out += struct.pack('<IHHHHHHIIIHHHHHII', 0x02014B50, 0, 0, 0x0808, 0, 0, 0, crc, size, size, len(full), 0, 0,
                           0, 0, 0, offset) + full
    cd_size = len(out) - cd_start
    zip64_at = len(out)
    n = len(central)
    out += struct.pack('<IQHHIIQQQQ', 0x06064B50, 44, 798, 45, 0, 0, n, n, cd_size, cd_start)
    out += struct.pack('<IIQI', 0x07064B50, 0, zip64_at, 1)
    out += struct.pack('<IHHHHIIH', 0x06054B50, 0, 0, n, n, cd_size, cd_start, 0)
    return bytes(out)


def torch_save_zip(obj, folder, byteorder=None, zip64_central=False):
    pkl, storages = pickle_with_storages(obj)
    records = [('data.pkl', pkl)]
    if byteorder:
        records.append(('byteorder', byteorder.encode()))
    records += [(f'data/{key}', storages[key].data) for key in sorted(storages)]
    records.append(('version', b'3\n'))
    return torch_zip(folder, records, zip64_central)


LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


def torch_save_legacy(obj):
    out = io.BytesIO()
    for header in (LEGACY_MAGIC, 1001, {'protocol_version': 1001, 'little_endian': True,
                                         'type_sizes': {'short': 2, 'int': 4, 'long': 4}}):
        pickle.dump(header, out, protocol=2)
    pkl, storages = pickle_with_storages(obj, legacy=True)
    out.write(pkl)
    keys = sorted(storages)
    pickle.dump(keys, out, protocol=2)
    for key in keys:
        out.write(struct.pack('<q', storages[key].numel))
        out.write(storages[key].data)
    return out.getvalue()


# ---------------------------------------------------------------------------------------------
# Test files


def expect(entries, name, tensor_values, shape, dtype, **extra):
    entries.append({'name': name, 'shape': list(shape), 'dtype': dtype, 'values': [float(v) for v in tensor_values], **extra})


def small_state_dict(kind='FloatStorage', prefix=''):
    """conv(4,2,3,3) -> bn(4) -> conv(3,4,1,1) + a linear; returns (OrderedDict, expected conv entries)."""
    sd = OrderedDict()
    expected = []
    for name, shape in [('conv1.weight', (4, 2, 3, 3)), ('bn1.weight', (4,)), ('bn1.running_var', (4,)),
                        ('conv2.weight', (3, 4, 1, 1)), ('fc.weight', (2, 3))]:
        t, values = make_tensor(kind, shape)
        sd[name] = t
        if len(shape) == 4:
            expect(expected, prefix + name, values, shape, DTYPE[kind])
    steps, _ = make_tensor('LongStorage', ())
    sd['bn1.num_batches_tracked'] = steps
    sd._metadata = OrderedDict([('', {'version': 1}), ('conv1', {'version': 1})])
    return sd, expected


def gen_legacy(files):
    sd, expected = small_state_dict()
    files['legacy.pt'] = (torch_save_legacy(sd), expected)


def gen_checkpoint(files):
    sd, expected = small_state_dict()
    moments = OrderedDict()
    for i, shape in enumerate([(4, 2, 3, 3), (3, 4, 1, 1)]):
        avg, _ = make_tensor('FloatStorage', shape)
        avg_sq, _ = make_tensor('FloatStorage', shape)
        moments[i] = {'step': 10, 'exp_avg': avg, 'exp_avg_sq': avg_sq}
    ckpt = {'epoch': 7, 'state_dict': sd,
            'optimizer': {'state': moments, 'param_groups': [{'lr': 0.001, 'params': [0, 1]}]}}
    files['checkpoint.pt'] = (torch_save_zip(ckpt, 'checkpoint'), expected)
    # Same, nested one level deeper under a key that is not in the preferred list, in legacy format.
    sd2, expected2 = small_state_dict(prefix='student.')
    ckpt2 = {'student': sd2, 'optimizer_state': {'state': moments}, 'best_acc': 0.9}
    files['nested_legacy.pt'] = (torch_save_legacy(ckpt2), expected2)


def gen_dtypes(files):
    sd = OrderedDict()
    expected = []
    for name, kind, shape in [('half.weight', 'HalfStorage', (2, 3, 3, 3)), ('bf16.weight', 'BFloat16Storage', (3, 2, 3, 3)),
                              ('double.weight', 'DoubleStorage', (2, 2, 3, 3)),
                              ('conv1d.weight', 'FloatStorage', (4, 2, 5)), ('conv3d.weight', 'FloatStorage', (2, 1, 3, 3, 3)),
                              ('conv1d.bias3', 'FloatStorage', (2, 2, 2)), ('ints', 'LongStorage', (2, 2, 2, 2))]:
        t, values = make_tensor(kind, shape)
        sd[name] = t
        if kind != 'LongStorage' and name != 'conv1d.bias3':
            expect(expected, name, values, shape, DTYPE[kind])
    files['dtypes.pt'] = (torch_save_zip(sd, 'dtypes'), expected)


def gen_views(files):
    """A transposed (non-contiguous) view and two tensors sharing one storage at different offsets."""
    sd = OrderedDict()
    expected = []
    base = RNG.standard_normal(3 * 4 * 2 * 2).astype(np.float32)
    data, decoded = encode('FloatStorage', base)
    # Storage holds a contiguous [4, 3, 2, 2] array; the view transposes dims 0 and 1 -> shape [3, 4, 2, 2].
    arr = decoded.reshape(4, 3, 2, 2)
    view = Tensor(Storage('FloatStorage', data), 0, (3, 4, 2, 2), (4, 12, 2, 1))
    sd['transposed.weight'] = view
    expect(expected, 'transposed.weight', arr.transpose(1, 0, 2, 3).ravel(), (3, 4, 2, 2), 'float32')
    shared_values = RNG.standard_normal(200).astype(np.float32)
    shared_data, shared_decoded = encode('FloatStorage', shared_values)
    shared = Storage('FloatStorage', shared_data)
    sd['first.weight'] = Tensor(shared, 0, (2, 2, 3, 3), contiguous_strides((2, 2, 3, 3)))
    expect(expected, 'first.weight', shared_decoded[0:36], (2, 2, 3, 3), 'float32')
    sd['second.weight'] = Tensor(shared, 50, (3, 1, 3, 3), contiguous_strides((3, 1, 3, 3)))
    expect(expected, 'second.weight', shared_decoded[50:77], (3, 1, 3, 3), 'float32')
    # An expanded view (stride 0 along dim 0) of 9 values at offset 100.
    sd['expanded.weight'] = Tensor(shared, 100, (2, 1, 3, 3), (0, 9, 3, 1))
    expect(expected, 'expanded.weight', np.tile(shared_decoded[100:109], 2), (2, 1, 3, 3), 'float32')
    files['views.pt'] = (torch_save_zip(sd, 'archive'), expected)


def gen_big_endian(files):
    sd = OrderedDict()
    t, values = make_tensor('FloatStorage', (2, 2, 3, 3), big_endian=True)
    sd['conv.weight'] = t
    expected = []
    expect(expected, 'conv.weight', values, (2, 2, 3, 3), 'float32')
    files['bigendian.pt'] = (torch_save_zip(sd, 'bigendian', byteorder='big'), expected)


def gen_zip_variants(files):
    """Zip64 central-directory fields, and a deflated archive as Python's zipfile writes it."""
    import zipfile

    sd, expected = small_state_dict()
    files['zip64.pt'] = (torch_save_zip(sd, 'zip64', zip64_central=True), expected)
    sd2, expected2 = small_state_dict()
    pkl, storages = pickle_with_storages(sd2)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, 'w', zipfile.ZIP_DEFLATED) as z:
        z.writestr('deflated/data.pkl', pkl)
        for key in sorted(storages):
            z.writestr(f'deflated/data/{key}', storages[key].data)
        z.writestr('deflated/version', b'3\n')
    files['deflated.pt'] = (buf.getvalue(), expected2)


def module(cls, **attrs):
    m = MODULE_CLASSES[cls]()
    m.__dict__.update({'training': True, '_parameters': OrderedDict(), '_buffers': OrderedDict(),
                       '_non_persistent_buffers_set': set(), '_backward_hooks': OrderedDict(),
                       '_forward_hooks': OrderedDict(), '_forward_pre_hooks': OrderedDict(),
                       '_state_dict_hooks': OrderedDict(), '_load_state_dict_pre_hooks': OrderedDict(),
                       '_modules': OrderedDict()})
    m.__dict__.update(attrs)
    return m


def gen_module(files):
    """torch.save(model), and a YOLO-style checkpoint {'model': module, 'ema': module, 'optimizer': ...}."""
    seq, expected = build_sequential()
    files['module.pt'] = (torch_save_zip(seq, 'module'), expected)
    model, expected_model = build_sequential()
    ema, _ = build_sequential()
    ckpt = {'epoch': 3, 'best_fitness': 0.5, 'model': model, 'ema': ema, 'updates': 10, 'optimizer': None}
    files['module_checkpoint.pt'] = (torch_save_zip(ckpt, 'module_checkpoint'), expected_model)


def build_sequential():
    """Sequential(Conv2d, BatchNorm2d, Conv2d(groups=2), ConvTranspose2d, Linear) and its expected convs."""
    expected = []

    def param(shape):
        t, values = make_tensor('FloatStorage', shape)
        return Parameter(t), values

    seq = module('Sequential')
    specs = [('0', 'Conv2d', (4, 1, 3, 3), 1), ('1', 'BatchNorm2d', None, None), ('2', 'Conv2d', (4, 2, 3, 3), 2),
             ('3', 'ConvTranspose2d', (4, 2, 2, 2), 1), ('4', 'Linear', (3, 8), None)]
    for name, cls, shape, groups in specs:
        if cls == 'BatchNorm2d':
            m = module(cls, num_features=4, eps=1e-5)
            w, _ = param((4,))
            m._parameters['weight'] = w
            m._buffers['running_mean'], _ = make_tensor('FloatStorage', (4,))
        else:
            m = module(cls, **({'groups': groups, 'in_channels': 2, 'out_channels': 4} if groups else {}))
            w, values = param(shape)
            m._parameters['weight'] = w
            m._parameters['bias'] = None
            if len(shape) == 4:
                kind = 'transposed' if cls == 'ConvTranspose2d' else ('plain' if groups == 1 else 'grouped')
                expect(expected, f'{name}.weight', values, shape, 'float32', op=cls, groups=groups, kind=kind)
        seq._modules[name] = m
    return seq, expected


def gen_sharded(files):
    """pytorch_model.bin.index.json + two shards (one zip, one legacy); the safetensors equivalent."""
    sd, expected = small_state_dict()
    names = list(sd.keys())
    first = OrderedDict((k, sd[k]) for k in names[:3])
    second = OrderedDict((k, sd[k]) for k in names[3:])
    shard_names = ['pytorch_model-00001-of-00002.bin', 'pytorch_model-00002-of-00002.bin']
    files['sharded/' + shard_names[0]] = (torch_save_zip(first, 'pytorch_model-00001-of-00002'), None)
    files['sharded/' + shard_names[1]] = (torch_save_legacy(second), None)
    weight_map = {k: shard_names[0 if k in first else 1] for k in reversed(names)}
    index = {'metadata': {'total_size': 1234}, 'weight_map': weight_map}
    files['sharded/pytorch_model.bin.index.json'] = (json.dumps(index, indent=2).encode(), expected)
    missing = {'weight_map': {'a.weight': 'pytorch_model-00001-of-00002.bin', 'b.weight': 'nowhere-00002.bin'}}
    files['sharded/missing.bin.index.json'] = (json.dumps(missing).encode(), None)
    # safetensors shards hold the same values.
    st_names = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']
    files['sharded/' + st_names[0]] = (safetensors_bytes([(k, first[k]) for k in first]), None)
    files['sharded/' + st_names[1]] = (safetensors_bytes([(k, second[k]) for k in second]), None)
    st_map = {k: st_names[0 if k in first else 1] for k in names}
    files['sharded/model.safetensors.index.json'] = (json.dumps({'weight_map': st_map}).encode(), expected)


ST_DTYPE = {'FloatStorage': 'F32', 'HalfStorage': 'F16', 'BFloat16Storage': 'BF16', 'DoubleStorage': 'F64', 'LongStorage': 'I64'}


def safetensors_bytes(named, metadata=None, reverse_offsets=False):
    """safetensors from contiguous fake tensors; `reverse_offsets` stores them in reverse data order."""
    header = {}
    if metadata:
        header['__metadata__'] = metadata
    order = list(reversed(named)) if reverse_offsets else named
    offsets, data, pos = {}, bytearray(), 0
    for name, t in order:
        size = int(np.prod(t.size)) * ITEM_SIZE[t.storage.kind]
        chunk = t.storage.data[t.offset * ITEM_SIZE[t.storage.kind]:][:size]
        offsets[name] = (pos, pos + size)
        data += chunk
        pos += size
    for name, t in named:
        header[name] = {'dtype': ST_DTYPE[t.storage.kind], 'shape': list(t.size), 'data_offsets': list(offsets[name])}
    text = json.dumps(header, separators=(',', ':')).encode()
    text += b' ' * (-len(text) % 8)
    return struct.pack('<Q', len(text)) + text + bytes(data)


def gen_safetensors(files):
    named, expected = [], []
    for name, kind, shape in [('c.weight', 'FloatStorage', (2, 1, 3, 3)), ('b.weight', 'HalfStorage', (2, 2, 3, 3)),
                              ('a.weight', 'BFloat16Storage', (2, 2, 1, 1)), ('d.weight', 'DoubleStorage', (1, 2, 3, 3)),
                              ('steps', 'LongStorage', (1,)), ('bias', 'FloatStorage', (4,))]:
        t, values = make_tensor(kind, shape)
        named.append((name, t))
        if len(shape) == 4:
            expect(expected, name, values, shape, DTYPE[kind])
    # Data is stored in reverse header order, so data_offsets order differs from key order.
    expected = list(reversed(expected))
    files['dtypes.safetensors'] = (safetensors_bytes(named, {'format': 'pt'}, reverse_offsets=True), expected)


# ---------------------------------------------------------------------------------------------
# Hostile files (expected: an error, never execution)


def raw_zip_pickle(folder, pkl, extra_records=()):
    return torch_zip(folder, [('data.pkl', pkl), *extra_records, ('version', b'3\n')])


def gen_hostile(files):
    # Each of these would run a command if unpickled by Python; the VM must refuse or stub them.
    os_system = b'\x80\x02cos\nsystem\nq\x00X\x0b\x00\x00\x00echo pwned!q\x01\x85q\x02Rq\x03.'
    files['hostile_os_system.pt'] = (raw_zip_pickle('hostile', os_system), None)
    files['hostile_eval.pt'] = (raw_zip_pickle('hostile', b'\x80\x02c__builtin__\neval\nX\x0e\x00\x00\x00__import__("os")\x85R.'), None)
    popen = b'\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00\x8c\nsubprocess\x8c\x05Popen\x93]\x8c\x02id\x85\x85R.'
    files['hostile_popen.pt'] = (raw_zip_pickle('hostile', popen), None)
    # An unknown (not refused) class with a reduce call: stubbed, no tensors -> 'unsupported' error.
    files['hostile_unknown.pt'] = (raw_zip_pickle('hostile', b'\x80\x02cmymodule\nEvil\nX\x03\x00\x00\x00argq\x00\x85R.'), None)
    # Keys that would pollute Object.prototype if used as object properties.
    sd, expected = small_state_dict()
    t, values = make_tensor('FloatStorage', (1, 1, 3, 3))
    sd['__proto__'] = t
    expect(expected, '__proto__', values, (1, 1, 3, 3), 'float32')
    sd['constructor'] = {'prototype': {'polluted': 'yes'}}
    ckpt = {'__proto__': {'polluted': 'yes'}, 'state_dict': sd}
    files['proto_keys.pt'] = (torch_save_zip(ckpt, 'proto'), expected)
    # A tensor whose view needs more elements than its storage declares.
    small = Storage('FloatStorage', np.zeros(10, dtype='<f4').tobytes())
    files['overclaim.pt'] = (torch_save_zip(OrderedDict([('w', Tensor(small, 0, (4, 4, 3, 3), contiguous_strides((4, 4, 3, 3))))]),
                                            'overclaim'), None)
    # A storage whose persistent id claims 144 elements but whose zip entry holds only 16 bytes.
    pkl, _ = pickle_with_storages(OrderedDict([('w', Tensor(Storage('FloatStorage', bytes(576)), 0, (16, 1, 3, 3),
                                                                  contiguous_strides((16, 1, 3, 3))))]))
    files['short_storage.pt'] = (raw_zip_pickle('short', pkl, [('data/0', bytes(16))]), None)
    # A deflated data.pkl that declares a 4 GB uncompressed size (zip bomb shape).
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = comp.compress(b'\x80\x02}.') + comp.flush()
    files['bomb.pt'] = (deflated_zip('bomb/data.pkl', body, 0xFFFFFFF0, zlib.crc32(b'\x80\x02}.')), None)


def gen_blowups(files):
    """Small files that claim huge work (issue 17): shared references, stride-0 views, a deflated storage."""
    import zipfile

    # "Billion laughs": x = [x, x] sixty times beside a conv; 2 KB, 2^60 paths through the lists.
    sd, expected = small_state_dict()
    x = []
    for _ in range(60):
        x = [x, x]
    sd['laughs'] = x
    files['dag60.pt'] = (torch_save_zip(sd, 'dag60'), expected)
    # torch.randn(1, 1, 3, 3).expand(20000, 1, 3, 3): 36 bytes of storage, 180 000 logical weights.
    nine = Storage('FloatStorage', RNG.standard_normal(9).astype('<f4').tobytes())
    files['expand20000.pt'] = (torch_save_zip(OrderedDict([('conv.weight', Tensor(nine, 0, (20000, 1, 3, 3), (0, 9, 3, 1)))]),
                                              'expand'), None)
    # The same expanded to 10 M filters: 90 M logical weights, over the per-layer limit.
    files['expand_huge.pt'] = (torch_save_zip(OrderedDict([('conv.weight', Tensor(nine, 0, (10_000_000, 1, 3, 3), (0, 9, 3, 1)))]),
                                              'expand'), None)
    # A deflated storage of 64 MiB of zeros (~65 KB in the file) holding a [16777216, 1, 1, 1] conv.
    zeros = Storage('FloatStorage', bytes(64 * 1024 * 1024))
    pkl, storages = pickle_with_storages(OrderedDict([('conv.weight', Tensor(zeros, 0, (16777216, 1, 1, 1), (1, 1, 1, 1)))]))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, 'w', zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr('inflated/data.pkl', pkl)
        for key in sorted(storages):
            z.writestr(f'inflated/data/{key}', storages[key].data)
        z.writestr('inflated/version', b'3\n')
    files['inflated.pt'] = (buf.getvalue(), None)


def deflated_zip(name, body, declared, crc):
    full = name.encode()
    out = bytearray(struct.pack('<IHHHHHIIIHH', 0x04034B50, 20, 0, 8, 0, 0, crc, len(body), declared, len(full), 0))
    out += full + body
    cd = len(out)
    out += struct.pack('<IHHHHHHIIIHHHHHII', 0x02014B50, 20, 20, 0, 8, 0, 0, crc, len(body), declared, len(full), 0, 0, 0,
                       0, 0, 0) + full
    size = len(out) - cd
    out += struct.pack('<IHHHHIIH', 0x06054B50, 0, 0, 1, 1, size, cd, 0)
    return bytes(out)


# ---------------------------------------------------------------------------------------------
# Plain pickles for the VM tests (base64 in pickles.json)


def gen_pickles():
    import base64

    value = OrderedDict([('int', [0, 1, -1, 255, 256, 65535, 65536, -2 ** 31, 2 ** 31, 2 ** 53, 2 ** 70, -2 ** 70]),
                         ('float', [0.5, -1e300, float('inf')]), ('str', ['', 'abc', 'h\u00e9\u20ac\U0001F600', 'a\nb\\c']),
                         ('bytes', [b'', b'\x00\xffab']), ('none', None), ('bool', [True, False]),
                         ('tuple', [(), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4)]), ('set', {1, 2}), ('frozenset', frozenset([3])),
                         ('bytearray', bytearray(b'xy')), ('nested', {'k': [{'x': 1}]}), ('__proto__', {'polluted': True})])
    shared = [1, 2]
    value['shared'] = [shared, shared]
    out = {f'protocol{p}': base64.b64encode(pickle.dumps(value, protocol=p)).decode() for p in range(6)}
    # numpy pickles as pandas writes them into dataset.h5 (object arrays) and a float array.
    obj = np.empty((2, 2), dtype=object)
    obj[:] = [['a', 'bb'], ['ccc', '0:8']]
    out['numpy_object'] = base64.b64encode(pickle.dumps(obj, protocol=5)).decode()
    out['numpy_float'] = base64.b64encode(pickle.dumps(np.arange(6, dtype='<f8').reshape(2, 3), protocol=5)).decode()
    out['numpy_float_p2'] = base64.b64encode(pickle.dumps(np.arange(4, dtype='<f4'), protocol=2)).decode()
    return json.dumps(out, indent=1).encode() + b'\n'


# ---------------------------------------------------------------------------------------------
# Self-check against the real fixture


class FixtureUnpickler(pickle.Unpickler):
    """Loads ../digits_cnn.pt's data.pkl into the fake classes (never torch)."""

    def __init__(self, file, records):
        super().__init__(file)
        self.records = records
        self.storages = {}

    def find_class(self, module, name):
        if (module, name) == ('collections', 'OrderedDict'):
            return OrderedDict
        if (module, name) == ('torch._utils', '_rebuild_tensor_v2'):
            return lambda storage, offset, size, stride, grad, hooks: Tensor(storage, offset, size, stride)
        if module == 'torch' and name.endswith('Storage'):
            return fake_class(torch, name) if name not in STORAGE_CLASSES else STORAGE_CLASSES[name]
        raise pickle.UnpicklingError(f'unexpected global {module}.{name}')

    def persistent_load(self, pid):
        _, cls, key, _, numel = pid
        if key not in self.storages:
            ITEM_SIZE.setdefault(cls.__name__, 8)
            STORAGE_CLASSES.setdefault(cls.__name__, cls)
            self.storages[key] = Storage(cls.__name__, self.records[f'data/{key}'])
        return self.storages[key]


def check_fixture():
    import zipfile

    path = os.path.join(HERE, '..', 'digits_cnn.pt')
    original = open(path, 'rb').read()
    with zipfile.ZipFile(path) as z:
        records = {n.split('/', 1)[1]: z.read(n) for n in z.namelist()}
    sd = FixtureUnpickler(io.BytesIO(records['data.pkl']), records).load()
    pkl, _ = pickle_with_storages(sd)
    assert pkl == records['data.pkl'], 'data.pkl differs from the fixture'
    rebuilt = torch_save_zip(sd, 'digits_cnn')
    assert rebuilt == original, 'zip layout differs from the fixture'
    print('make.py emulation reproduces digits_cnn.pt byte for byte')


def main():
    if '--check' in sys.argv:
        check_fixture()
        return
    files = {}
    for gen in (gen_legacy, gen_checkpoint, gen_dtypes, gen_views, gen_big_endian, gen_module, gen_zip_variants, gen_sharded,
                gen_safetensors, gen_hostile, gen_blowups):
        gen(files)
    files['pickles.json'] = (gen_pickles(), None)
    expected = {}
    for name, (data, exp) in files.items():
        path = os.path.join(HERE, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'wb') as f:
            f.write(data)
        assert len(data) < 200_000, name
        if exp is not None:
            expected[name] = exp
    with open(os.path.join(HERE, 'expected.json'), 'w') as f:
        json.dump(expected, f, indent=1)
        f.write('\n')
    print(f'wrote {len(files)} files and expected.json')


if __name__ == '__main__':
    main()
