/**
 * Reads a pandas DataFrame stored with `DataFrame.to_hdf(..., format="table")` (pandas_type "frame_table",
 * table_type "appendable_frame" or "appendable_multiframe"): a PyTables Table `<key>/table`, i.e. a 1-D
 * compound dataset with an `index` field, `values_block_N` array fields (one per dtype block) and one scalar
 * field per data column. The layout is described by attributes, several of them protocol-0 pickles of
 * Python lists (decoded by the allow-list pickle VM, which never resolves a global):
 * - group: `non_index_axes` `[(1, [column labels in frame order])]`, `values_cols` (field names),
 *   `index_cols` `[(0, "index")]`, `levels` (MultiIndex level names; the levels are data columns),
 *   `encoding`, `errors`, `nan_rep` (the string that stands for a missing string), `info`;
 * - table: `<field>_kind` (pickled list of the column labels held by the field, in element order),
 *   `<field>_dtype` (`int64`, `float64`, `bytes256`, …), `<field>_meta` (pickled None, or "category"),
 *   `index_kind`, `NROWS`.
 * The result is the same `PandasFrame` the fixed-format reader gives: row values in frame column order,
 * int64 as numbers, NaN and missing strings as null.
 */
import { FilterDbError } from '../../errors.js';
import type { Hdf5CompoundField, Hdf5File } from '../io/hdf5.js';
import { decodeFloat16 } from '../io/numeric.js';
import { unpickle } from '../io/pickle.js';
import type { Cell, PandasFrame } from './pandas-frame.js';

/** Rows decoded per read of the table (bounds the wasm heap; the meta table has one row per layer). */
const ROWS_PER_READ = 1 << 16;
/** Largest meta table read (compressed tables can declare more rows than the file holds). */
const MAX_TABLE_BYTES = 2 ** 31;
const TABLE_TYPES = new Set(['appendable_frame', 'appendable_multiframe']);

type Fail = (detail: string, code?: 'corrupt' | 'unsupported' | 'too-large') => never;

/** A decoder of one field: element `k` of `row` (a view of one row's bytes). */
type FieldDecoder = (row: DataView, k: number) => Cell;

interface ValuesCol {
  field: Hdf5CompoundField;
  labels: string[];
  decode: FieldDecoder;
}

function label(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  return String(typeof v === 'bigint' ? v.toString() : v);
}

/** A PyTables attribute that holds a pickled Python object (protocol 0), decoded; undefined if absent. */
function pickledAttr(file: Hdf5File, path: string, name: string, fail: Fail): unknown {
  const bytes = file.attrBytes(path, name);
  if (bytes === null) return undefined;
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  try {
    return unpickle(bytes.subarray(0, end), { name: `${file.name}:${path}@${name}` }).value;
  } catch (e) {
    if (e instanceof FilterDbError && e.code === 'unsafe') throw e;
    return fail(`attribute ${name} is not a readable pickle`);
  }
}

function stringList(v: unknown, what: string, fail: Fail): string[] {
  if (!Array.isArray(v)) return fail(`${what} is not a list`);
  return v.map(label);
}

/** Python codec names pandas may record in `encoding`, as byte → string decoders. */
function stringDecoder(encoding: string, errors: string, fail: Fail): (b: Uint8Array) => string {
  const enc = encoding.toLowerCase().replace(/_/g, '-');
  const strict = errors === 'strict';
  if (enc === 'utf-8' || enc === 'utf8') {
    const td = new TextDecoder('utf-8', { fatal: strict, ignoreBOM: true });
    return (b) => {
      try {
        return td.decode(b);
      } catch {
        return fail('a string is not valid UTF-8');
      }
    };
  }
  if (
    enc === 'ascii' ||
    enc === 'us-ascii' ||
    enc === 'latin-1' ||
    enc === 'latin1' ||
    enc === 'iso-8859-1'
  ) {
    const ascii = enc.includes('ascii');
    return (b) => {
      let s = '';
      for (const c of b) {
        if (ascii && c > 0x7f) {
          if (strict) fail('a string is not ASCII');
          s += '\ufffd';
        } else s += String.fromCharCode(c);
      }
      return s;
    };
  }
  return fail(`strings in encoding ${JSON.stringify(encoding)} are not supported`, 'unsupported');
}

/**
 * How to decode a field whose pandas dtype is `dtype`; checks that the stored HDF5 type matches it.
 * `decodeString` turns bytes into text (nan_rep handling is the caller's).
 */
function fieldDecoder(
  field: Hdf5CompoundField,
  dtype: string,
  decodeString: (b: Uint8Array) => string,
  nanRep: string | null,
  fail: Fail,
): FieldDecoder {
  const what = `column block ${JSON.stringify(field.name)}`;
  const expect = (ok: boolean) => {
    if (!ok) fail(`${what} is declared ${dtype} but stored as ${field.dtype}`);
  };
  const at = (k: number) => field.offset + k * field.elementSize;
  if (/^(bytes|string)\d*$/.test(dtype)) {
    expect(field.dtype === 'string');
    return (row, k) => {
      const start = row.byteOffset + at(k);
      let end = start + field.elementSize;
      const all = new Uint8Array(row.buffer);
      while (end > start && all[end - 1] === 0) end--; // numpy strips trailing NULs of S fields
      const s = decodeString(all.subarray(start, end));
      return nanRep !== null && s === nanRep ? null : s;
    };
  }
  if (dtype === 'bool') {
    expect(field.dtype === 'uint8' || field.dtype === 'int8');
    return (row, k) => row.getUint8(at(k)) !== 0;
  }
  if (/^u?int(8|16|32|64)$/.test(dtype)) {
    expect(field.dtype === dtype);
    switch (dtype) {
      case 'int8':
        return (row, k) => row.getInt8(at(k));
      case 'uint8':
        return (row, k) => row.getUint8(at(k));
      case 'int16':
        return (row, k) => row.getInt16(at(k), true);
      case 'uint16':
        return (row, k) => row.getUint16(at(k), true);
      case 'int32':
        return (row, k) => row.getInt32(at(k), true);
      case 'uint32':
        return (row, k) => row.getUint32(at(k), true);
      case 'int64':
        return (row, k) => Number(row.getBigInt64(at(k), true));
      default:
        return (row, k) => Number(row.getBigUint64(at(k), true));
    }
  }
  if (dtype === 'float16' || dtype === 'float32' || dtype === 'float64') {
    expect(field.dtype === dtype);
    const nan = (v: number) => (Number.isNaN(v) ? null : v);
    if (dtype === 'float64') return (row, k) => nan(row.getFloat64(at(k), true));
    if (dtype === 'float32') return (row, k) => nan(row.getFloat32(at(k), true));
    return (row, k) => {
      const b = new Uint8Array(row.buffer, row.byteOffset + at(k), 2);
      return nan(decodeFloat16(b, 1)[0]);
    };
  }
  return fail(`${what} has pandas dtype ${JSON.stringify(dtype)}, which is not read`, 'unsupported');
}

/** Reads the table-format DataFrame at `key` (a group with pandas_type "frame_table"). */
export function readPandasTable(file: Hdf5File, key: string): PandasFrame {
  const fail: Fail = (detail, code = 'corrupt') => {
    throw new FilterDbError(code, file.name, `pandas table ${key}: ${detail}`);
  };
  const tableType = file.attrString(key, 'table_type');
  if (tableType === null || !TABLE_TYPES.has(tableType)) {
    fail(
      `table_type ${JSON.stringify(tableType)} is not read (only DataFrames: appendable_frame, appendable_multiframe)`,
      'unsupported',
    );
  }
  const multi = tableType === 'appendable_multiframe';
  const tablePath = `${key}/table`;
  if (!file.isDataset(tablePath)) fail('has no table dataset');

  // layout from the group's attributes
  const axes = pickledAttr(file, key, 'non_index_axes', fail);
  if (
    !Array.isArray(axes) ||
    axes.length !== 1 ||
    !Array.isArray(axes[0]) ||
    axes[0].length !== 2 ||
    axes[0][0] !== 1
  )
    fail('non_index_axes is not [(1, [columns])]');
  const allLabels = stringList((axes as unknown[][])[0][1], 'non_index_axes', fail);
  const valuesCols = stringList(pickledAttr(file, key, 'values_cols', fail), 'values_cols', fail);
  const indexCols = pickledAttr(file, key, 'index_cols', fail);
  const indexField =
    Array.isArray(indexCols) && indexCols.length === 1 && Array.isArray(indexCols[0]) && indexCols[0][0] === 0
      ? label(indexCols[0][1])
      : fail('index_cols is not [(0, name)]');
  const levels = multi ? stringList(pickledAttr(file, key, 'levels', fail), 'levels', fail) : [];
  if (multi && levels.length === 0) fail('a MultiIndex table without levels');
  const info = pickledAttr(file, key, 'info', fail);
  const axisInfo = info instanceof Map ? info.get(1) : undefined;
  if (axisInfo instanceof Map && axisInfo.get('type') === 'MultiIndex')
    fail('columns are a MultiIndex, which is not read', 'unsupported');
  const decodeString = stringDecoder(
    file.attrString(key, 'encoding') ?? 'UTF-8',
    file.attrString(key, 'errors') ?? 'strict',
    fail,
  );
  const nanRep = file.attrString(key, 'nan_rep') ?? 'nan';

  // fields of the compound rows, by name (a Map: names come from the file)
  const probe = file.readCompound(tablePath, [0, 0]);
  const fields = new Map<string, Hdf5CompoundField>();
  for (const f of probe.fields) fields.set(f.name, f);
  const fieldOf = (name: string) =>
    fields.get(name) ?? fail(`field ${JSON.stringify(name)} is not in the table`);

  const cols: ValuesCol[] = [];
  const where = new Map<string, { col: ValuesCol; k: number }>();
  for (const name of valuesCols) {
    const field = fieldOf(name);
    const labels = stringList(pickledAttr(file, tablePath, `${name}_kind`, fail), `${name}_kind`, fail);
    const meta = pickledAttr(file, tablePath, `${name}_meta`, fail);
    if (meta !== null && meta !== undefined)
      fail(`column block ${JSON.stringify(name)} is ${label(meta)}, which is not read`, 'unsupported');
    const dtype = file.attrString(tablePath, `${name}_dtype`) ?? fail(`${name}_dtype is missing`);
    if (labels.length !== field.count)
      fail(
        `column block ${JSON.stringify(name)} holds ${field.count} values per row but names ${labels.length} columns`,
      );
    const col = { field, labels, decode: fieldDecoder(field, dtype, decodeString, nanRep, fail) };
    cols.push(col);
    labels.forEach((l, k) => {
      if (where.has(l)) fail(`column ${JSON.stringify(l)} is stored twice`);
      where.set(l, { col, k });
    });
  }
  const levelSet = new Set(levels);
  const columns = allLabels.filter((l) => !levelSet.has(l));
  for (const l of allLabels) if (!where.has(l)) fail(`column ${JSON.stringify(l)} is in no block`);

  // index: the MultiIndex levels are data columns; a plain index is the index field
  let indexNames: string[];
  let plainIndex: FieldDecoder | null = null;
  if (multi) {
    indexNames = levels;
  } else {
    const field = fieldOf(indexField);
    if (field.count !== 1) fail(`index field ${JSON.stringify(indexField)} is an array`);
    const kind = file.attrString(tablePath, `${indexField}_kind`) ?? 'integer';
    const dtypeOfKind: Record<string, string> = { integer: field.dtype, float: field.dtype, bool: 'bool' };
    let decode: FieldDecoder;
    if (kind === 'string') decode = fieldDecoder(field, 'bytes', decodeString, 'nan', fail);
    else if (Object.hasOwn(dtypeOfKind, kind))
      decode = fieldDecoder(field, dtypeOfKind[kind], decodeString, null, fail);
    else return fail(`index of kind ${JSON.stringify(kind)} is not read`, 'unsupported');
    const indexInfo = info instanceof Map ? info.get(indexField) : undefined;
    const name = indexInfo instanceof Map ? indexInfo.get('index_name') : undefined;
    indexNames = [typeof name === 'string' ? name : 'index'];
    plainIndex = decode;
  }

  // rows: PyTables keeps NROWS equal to the dataspace; the data must physically fit in the file
  const rowCount = (file.datasetInfo(tablePath).shape[0] ?? 0) as number;
  const declared = file.attrNumber(tablePath, 'NROWS');
  if (declared !== null && declared !== rowCount)
    fail(`the table declares ${declared} rows (NROWS) but holds ${rowCount}`);
  const declaredBytes = rowCount * probe.rowSize;
  if (file.filterIds(tablePath).length === 0 && declaredBytes > file.size)
    fail(`${rowCount} rows of ${probe.rowSize} bytes do not fit in the ${file.size}-byte file`);
  if (declaredBytes > MAX_TABLE_BYTES)
    fail(`${rowCount} rows of ${probe.rowSize} bytes are more than a meta table can be`, 'too-large');

  const rows: PandasFrame['rows'] = [];
  const levelAt = levels.map((l) => where.get(l) ?? fail(`index level ${JSON.stringify(l)} is not stored`));
  for (let a = 0; a < rowCount; a += ROWS_PER_READ) {
    const chunk = file.readCompound(tablePath, [a, Math.min(rowCount, a + ROWS_PER_READ)]);
    if (chunk.rowSize !== probe.rowSize || chunk.bytes.length !== chunk.rows * chunk.rowSize)
      fail('the table changed while being read');
    for (let r = 0; r < chunk.rows; r++) {
      const view = new DataView(
        chunk.bytes.buffer,
        chunk.bytes.byteOffset + r * chunk.rowSize,
        chunk.rowSize,
      );
      const index = multi
        ? levelAt.map(({ col, k }) => col.decode(view, k))
        : [(plainIndex as FieldDecoder)(view, 0)];
      const values = new Map<string, Cell>();
      for (const c of columns) {
        const { col, k } = where.get(c) as { col: ValuesCol; k: number };
        values.set(c, col.decode(view, k));
      }
      rows.push({ index, values });
    }
  }
  return { columns, indexNames, rows };
}
