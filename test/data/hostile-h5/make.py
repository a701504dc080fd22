"""Regenerates the hostile dataset.h5 variants in this folder (issue 17, items 6-8): small CNN Filter DB
files whose /meta numbers, cells or /filters size are what a fuzzer or an attacker would write.

Needs pandas + PyTables (Debian: apt-get install python3-pandas python3-tables).
Run from the repository root:  /usr/bin/python3 test/data/hostile-h5/make.py

Base: the first two /meta rows of test/data/dataset.h5 (digits_cnn, filter_ids 0:15 and 16:271) and
/filters rows 0..271, written like the original (pandas "fixed" /meta, float32 N x 3 x 3 /filters).
"""

import os
import pickle

import numpy
import pandas
import tables

# pandas leaves PyTables' default VLArray chunk (65536 rows = 1 MiB, never compressed) for the object block;
# a small chunk keeps these files at a few KB.
_create_vlarray = tables.File.create_vlarray


def _small_chunk_vlarray(self, *args, **kwargs):
    kwargs.setdefault("chunkshape", (16,))
    return _create_vlarray(self, *args, **kwargs)


tables.File.create_vlarray = _small_chunk_vlarray

SRC = "test/data/dataset.h5"
OUT = os.path.dirname(os.path.abspath(__file__))

base_meta = pandas.read_hdf(SRC, "meta").iloc[:2].copy()
with tables.open_file(SRC) as f:
    base_filters = f.root.filters[:272]


def write(name, meta, filters=None, claimed_rows=None):
    path = os.path.join(OUT, name)
    if os.path.exists(path):
        os.remove(path)
    meta.to_hdf(path, key="meta", format="fixed", complevel=9, complib="zlib")
    with tables.open_file(path, "a") as f:
        if claimed_rows is None:
            f.create_array(f.root, "filters", filters if filters is not None else base_filters)
        else:
            # chunked, nothing written: claims claimed_rows x 3 x 3 float32 in a file of a few KB
            f.create_carray(f.root, "filters", tables.Float32Atom(), shape=(claimed_rows, 3, 3),
                            chunkshape=(4096, 3, 3))
    return path


def with_index_level(meta, level, values):
    idx = meta.index.to_frame(index=False)
    idx[level] = values
    out = meta.copy()
    out.index = pandas.MultiIndex.from_frame(idx)
    return out


# 6. numbers DuckDB cannot store
write("conv_depth_2p31.h5", with_index_level(base_meta, "conv_depth", [0, 2 ** 31]))
m = base_meta.copy()
m["(1, 1) filters"] = [0.5, 0.5]
write("kernel_count_half.h5", m)
m = base_meta.copy()
m["op_set"] = numpy.array([1e19, 1e19])
write("op_set_1e19.h5", m)

# 7. metadata cells: 40 levels of shared references (2^40 leaves), and 100 000 nested lists
laughs = []
for _ in range(40):
    laughs = [laughs, laughs]
m = base_meta.copy()
m["Architecture"] = pandas.Series([laughs, "DigitsCNN"], index=m.index, dtype=object)
write("cell_laughs40.h5", m)

# The deep list is spliced into the pickle by hand (Python's own pickler would recurse 100 000 deep).
m = base_meta.copy()
m["Architecture"] = ["@@DEEP@@", "DigitsCNN"]
path = write("cell_deep100k.h5", m)
with tables.open_file(path, "a") as f:
    for node in f.root.meta:
        if not node._v_name.endswith("_values") or not isinstance(node, tables.VLArray):
            continue
        raw = pickle.dumps(node[0], protocol=2)
        marker = b"@@DEEP@@"
        at = raw.find(marker)
        if at < 0:
            continue
        # protocol 2 writes the string as BINUNICODE: 'X' + 4-byte length + utf-8
        start = at - 5
        assert raw[start:start + 1] == b"X", raw[start:start + 1]
        depth = 100_000
        deep = b"]" * depth + b"a" * (depth - 1)
        patched = raw[:start] + deep + raw[at + len(marker):]
        name, parent, attrs = node._v_name, node._v_parent, {k: node._v_attrs[k] for k in node._v_attrs._f_list("user")}
        node._f_remove()
        vl = f.create_vlarray(parent, name, tables.UInt8Atom(), chunkshape=(16,))
        vl.append(numpy.frombuffer(patched, dtype=numpy.uint8))
        for k, v in attrs.items():
            vl._v_attrs[k] = v
        vl._v_attrs["PSEUDOATOM"] = "object"

# 8. /filters claiming 2^31 rows (nothing written) and a meta row covering them
m = base_meta.copy()
m["filter_ids"] = ["0:15", "16:2147483646"]
write("claims_2p31_rows.h5", m, claimed_rows=2 ** 31)

# A valid file of the same shape, for the tests' control case.
write("valid.h5", base_meta)
print("wrote", sorted(f for f in os.listdir(OUT) if f.endswith(".h5")))
