"""Regenerates test/data/dataset.table.h5: dataset.h5 with /meta rewritten in pandas' "table" format.

Needs pandas + PyTables + h5py (Debian: apt-get install python3-pandas python3-tables python3-h5py).
Run from the repository root:  /usr/bin/python3 test/data/make_table_meta.py

/filters is copied unchanged (float32, N x 3 x 3, contiguous, uncompressed, no attributes, like the
original). /meta is `pandas.read_hdf("dataset.h5", "meta")` written back with
`to_hdf(key="meta", format="table")`: every column, the MultiIndex (model_id, conv_depth, conv_depth_norm)
and the row order are kept. String columns get `min_itemsize` (pandas otherwise sizes them to the longest
value); `model` is also made a data column, so the fixture holds both layouts a table-format string
column can have (inside a `values_block_N` and as its own field).
"""

import sys

import h5py
import numpy
import pandas
import tables

SRC = "test/data/dataset.h5"
OUT = "test/data/dataset.table.h5"

meta = pandas.read_hdf(SRC, "meta")
with h5py.File(SRC, "r") as f:
    filters = f["filters"][()]

meta.to_hdf(
    OUT,
    key="meta",
    mode="w",
    format="table",
    data_columns=["model"],
    min_itemsize={"values": 32, "model": 24},
)
with h5py.File(OUT, "a") as f:
    f.create_dataset("filters", data=filters)

# the round trip must be exact (values, dtypes, index, column order)
back = pandas.read_hdf(OUT, "meta")
pandas.testing.assert_frame_equal(back, meta, check_exact=True)
with h5py.File(OUT, "r") as f:
    assert f["filters"].dtype == numpy.float32 and numpy.array_equal(f["filters"][()], filters)

print("python", sys.version.split()[0])
print("pandas", pandas.__version__, "PyTables", tables.__version__, "HDF5", tables.hdf5_version)
print("numpy", numpy.__version__, "h5py", h5py.__version__)
print("meta", meta.shape, "index", list(meta.index.names), "filters", filters.shape, filters.dtype)
with tables.open_file(OUT) as t:
    g = t.root.meta
    print("pandas_type", g._v_attrs.pandas_type, "table_type", g._v_attrs.table_type)
    print("table", g.table.description._v_dtype)
print("wrote", OUT)
