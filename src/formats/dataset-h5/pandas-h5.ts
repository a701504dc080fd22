/**
 * Reads a pandas DataFrame stored with `DataFrame.to_hdf(..., format="fixed")` (pandas_type "frame"):
 * `axis0` column names, `axis1_level{i}` / `axis1_label{i}` (MultiIndex levels and per-row codes) or `axis1`
 * (plain index), and `block{k}_items` / `block{k}_values` blocks. Numeric blocks are HDF5 arrays of shape
 * (rows, items); object blocks are a PyTables VLArray whose single row is a pickled numpy object array,
 * decoded by the allow-list pickle VM (only numpy's `_reconstruct`, `ndarray` and `dtype` are resolved).
 */
import { FilterDbError } from '../../errors.js';
import type { Hdf5File } from '../io/hdf5.js';
import { basicGlobals, type PickleHandler, unpickle } from '../io/pickle.js';
import type { Cell, PandasFrame } from './pandas-frame.js';
import { readPandasTable } from './pandas-table-h5.js';

interface NdArray {
  shape: number[];
  fortran: boolean;
  data: unknown;
}

const reconstruct: PickleHandler = {
  call: () => ({ shape: [], fortran: false, data: null }) satisfies NdArray,
  build: (obj, state, ctx) => {
    if (!Array.isArray(state) || state.length < 5) ctx.fail('corrupt', 'numpy array state is not a 5-tuple');
    const [, shape, , fortran, data] = state as unknown[];
    const a = obj as NdArray;
    a.shape = (Array.isArray(shape) ? shape : []).map(Number);
    a.fortran = fortran === true;
    a.data = data;
    return a;
  },
};
const dtype: PickleHandler = { call: (args) => ({ dtype: args[0] }), build: (obj) => obj };

const numpyGlobals = new Map<string, PickleHandler>([
  ...basicGlobals,
  ['numpy.core.multiarray._reconstruct', reconstruct],
  ['numpy._core.multiarray._reconstruct', reconstruct],
  ['numpy.dtype', dtype],
  ['numpy.ndarray', {}],
]);

function toCell(v: unknown): Cell {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'number') return Number.isNaN(v) ? null : v;
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  if (v instanceof Uint8Array) return new TextDecoder().decode(v);
  return Array.isArray(v) ? renderList(v) : String(v);
}

/** Deepest list nesting a metadata cell may have, and the longest text it may render to. */
export const MAX_CELL_DEPTH = 64;
export const MAX_CELL_CHARS = 1 << 16;

/** A cell that cannot be rendered within the bounds above. */
class CellError extends Error {}

/**
 * A list cell as `String(list)` renders it (elements joined by ",", nested lists flattened, null as ""), but
 * with bounded depth and output: a pickled cell can nest 100 000 lists (String() overflows the stack) or
 * share references (`x = [x, x]` forty times renders 2^40 elements).
 */
function renderList(list: unknown[]): string {
  let out = '';
  const add = (text: string) => {
    out += text;
    if (out.length > MAX_CELL_CHARS) throw new CellError(`renders to more than ${MAX_CELL_CHARS} characters`);
  };
  const walk = (items: unknown[], depth: number) => {
    if (depth > MAX_CELL_DEPTH) throw new CellError(`nests lists more than ${MAX_CELL_DEPTH} deep`);
    for (let i = 0; i < items.length; i++) {
      if (i > 0) add(',');
      const x = items[i];
      if (Array.isArray(x)) walk(x, depth + 1);
      else if (x !== null && x !== undefined) add(String(x));
    }
  };
  walk(list, 1);
  return out;
}

function asStrings(file: Hdf5File, path: string): string[] {
  const v = file.readValue(path);
  const list = Array.isArray(v)
    ? v
    : ArrayBuffer.isView(v)
      ? Array.from(v as unknown as ArrayLike<unknown>)
      : [v];
  return list.map((x) => String(toCell(x)));
}

function asCells(file: Hdf5File, path: string): Cell[] {
  const v = file.readValue(path);
  if (Array.isArray(v)) return v.map(toCell);
  if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<unknown>, toCell);
  return [toCell(v)];
}

/** PyTables stores a Python None attribute as the pickle "N."; such a level / index name means "unnamed". */
function indexName(file: Hdf5File, path: string, fallback: string): string {
  const name = file.attrString(path, 'name');
  return name === null || name === 'N.' ? fallback : name;
}

/**
 * Reads the DataFrame at `key` (e.g. "/meta"), written by `to_hdf` in the "fixed" format (pandas_type
 * "frame") or the "table" format (pandas_type "frame_table", see pandas-table-h5.ts). Both give the same
 * frame for the same DataFrame.
 */
export function readPandasFrame(file: Hdf5File, key: string): PandasFrame {
  const fail = (detail: string): never => {
    throw new FilterDbError('corrupt', file.name, `pandas table ${key}: ${detail}`);
  };
  if (!file.isGroup(key)) fail('not found');
  const pandasType = file.attrString(key, 'pandas_type');
  if (pandasType === 'frame_table') return readPandasTable(file, key);
  if (pandasType !== 'frame')
    fail(`pandas_type ${JSON.stringify(pandasType)} is not "frame" (fixed) or "frame_table" (table)`);
  return readFixedFrame(file, key, fail);
}

function readFixedFrame(file: Hdf5File, key: string, fail: (detail: string) => never): PandasFrame {
  const columns = asStrings(file, `${key}/axis0`);

  // index
  const nlevels = Number(file.attrNumber(key, 'axis1_nlevels') ?? 0);
  const indexNames: string[] = [];
  const indexColumns: Cell[][] = [];
  let rowCount = -1;
  if (nlevels > 0) {
    for (let i = 0; i < nlevels; i++) {
      const levels = asCells(file, `${key}/axis1_level${i}`);
      const codes = asCells(file, `${key}/axis1_label${i}`);
      indexNames.push(indexName(file, `${key}/axis1_level${i}`, `level_${i}`));
      indexColumns.push(
        codes.map((c) => (typeof c === 'number' && c >= 0 && c < levels.length ? levels[c] : null)),
      );
      rowCount = codes.length;
    }
  } else {
    const idx = asCells(file, `${key}/axis1`);
    indexNames.push(indexName(file, `${key}/axis1`, 'index'));
    indexColumns.push(idx);
    rowCount = idx.length;
  }
  const rows = Array.from({ length: rowCount }, (_, r) => ({
    index: indexColumns.map((col) => col[r]),
    values: new Map<string, Cell>(),
  }));

  // blocks
  const nblocks = Number(file.attrNumber(key, 'nblocks') ?? 0);
  for (let b = 0; b < nblocks; b++) {
    const items = asStrings(file, `${key}/block${b}_items`);
    const valuesPath = `${key}/block${b}_values`;
    const isObject =
      file.attrString(valuesPath, 'PSEUDOATOM') === 'object' ||
      file.datasetInfo(valuesPath).dtype === 'other';
    if (isObject) {
      const v = file.readValue(valuesPath);
      const bytes = Array.isArray(v) ? v[0] : v;
      if (!(bytes instanceof Uint8Array)) fail(`${valuesPath} is not a pickled object array`);
      const arr = unpickle(bytes as Uint8Array, { name: `${file.name}:${valuesPath}`, globals: numpyGlobals })
        .value as NdArray;
      if (!arr || !Array.isArray(arr.data) || arr.shape.length !== 2)
        fail(`${valuesPath}: expected a 2-D numpy object array`);
      const [nr, ni] = arr.shape;
      if (nr !== rowCount || ni !== items.length)
        fail(`${valuesPath} has shape ${nr}x${ni}, expected ${rowCount}x${items.length}`);
      // numpy pickles object arrays as a list in C (logical) order whatever the Fortran flag says
      const data = arr.data as unknown[];
      if (data.length !== nr * ni) fail(`${valuesPath} holds ${data.length} objects, expected ${nr * ni}`);
      for (let r = 0; r < nr; r++) {
        for (let c = 0; c < ni; c++) {
          try {
            rows[r].values.set(items[c], toCell(data[r * ni + c]));
          } catch (e) {
            if (!(e instanceof CellError)) throw e;
            fail(`row ${r}, column ${JSON.stringify(items[c])}: the cell ${e.message}`);
          }
        }
      }
    } else {
      const info = file.datasetInfo(valuesPath);
      const cells = asCells(file, valuesPath);
      const [nr, ni] = info.shape.length === 2 ? info.shape : [rowCount, 1];
      if (nr !== rowCount || ni !== items.length)
        fail(`${valuesPath} has shape ${info.shape.join('x')}, expected ${rowCount}x${items.length}`);
      for (let r = 0; r < nr; r++)
        for (let c = 0; c < ni; c++) rows[r].values.set(items[c], cells[r * ni + c]);
    }
  }
  for (const c of columns)
    if (rows.length && !rows[0].values.has(c)) fail(`column ${JSON.stringify(c)} is in no block`);
  // blocks group columns by dtype in whatever order the DataFrame held them: use the column order instead
  for (const row of rows) {
    const ordered = new Map<string, Cell>();
    for (const c of columns) ordered.set(c, row.values.get(c) ?? null);
    for (const [k, v] of row.values) if (!ordered.has(k)) ordered.set(k, v);
    row.values = ordered;
  }
  return { columns, indexNames, rows };
}
