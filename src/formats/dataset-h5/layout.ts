/**
 * The layout of a CNN Filter DB `dataset.h5` (HDF5 `/filters` N x 3 x 3 or N x 9 floats, plus the pandas
 * table `/meta` with one row per 3x3 conv layer; see fixtures README): its models with their layers' filter
 * row ranges and metadata, and block reads of `/filters`. The database side is store/import-h5.ts.
 */
import { FilterDbError } from '../../errors.js';
import type { Hdf5File } from '../io/hdf5.js';
import type { Cell } from './pandas-frame.js';
import { readPandasFrame } from './pandas-h5.js';

export interface LayerSpec {
  row: number;
  convDepth: number | null;
  convDepthNorm: number | null;
  start: number;
  end: number; // exclusive
}

export interface ModelSpec {
  key: string;
  modelIdInFile: Cell;
  name: string;
  layers: LayerSpec[];
  values: Map<string, Cell>;
}

export function readLayout(file: Hdf5File, path: string): { models: ModelSpec[]; rowCount: number } {
  if (!file.isDataset('/filters') || !file.isGroup('/meta')) {
    throw new FilterDbError(
      'not-a-model',
      path,
      'is not a CNN Filter DB dataset.h5 (needs a /filters dataset and a /meta table)',
    );
  }
  const info = file.datasetInfo('/filters');
  const shapeOk =
    (info.shape.length === 3 && info.shape[1] === 3 && info.shape[2] === 3) ||
    (info.shape.length === 2 && info.shape[1] === 9);
  if (!shapeOk)
    throw new FilterDbError(
      'corrupt',
      path,
      `/filters has shape ${info.shape.join('x')}, expected N x 3 x 3 or N x 9`,
    );
  if (!['float32', 'float16', 'float64', 'bfloat16'].includes(info.dtype)) {
    throw new FilterDbError('unsupported', path, `/filters holds ${info.dtype}, expected floating point`);
  }
  const rowCount = info.shape[0];
  checkClaimedRows(file, path, rowCount, info.elementSize * 9);
  const frame = readPandasFrame(file, '/meta');
  if (!frame.columns.includes('filter_ids'))
    throw new FilterDbError('corrupt', path, '/meta has no filter_ids column');
  const level = (name: string) => frame.indexNames.indexOf(name);
  const iModel = level('model_id');
  const iDepth = level('conv_depth');
  const iNorm = level('conv_depth_norm');
  const byKey = new Map<string, ModelSpec>();
  frame.rows.forEach((row, r) => {
    const ids = row.values.get('filter_ids');
    const m = typeof ids === 'string' ? /^\s*(\d+)\s*:\s*(\d+)\s*$/.exec(ids) : null;
    if (!m)
      throw new FilterDbError(
        'corrupt',
        path,
        `/meta row ${r}: filter_ids ${JSON.stringify(ids)} is not "start:end"`,
      );
    const start = Number(m[1]);
    const end = Number(m[2]) + 1; // inclusive end in the file
    if (end <= start || end > rowCount) {
      throw new FilterDbError(
        'corrupt',
        path,
        `/meta row ${r}: filter_ids ${ids} outside /filters (${rowCount} rows)`,
      );
    }
    const modelId = iModel >= 0 ? row.index[iModel] : null;
    const name = row.values.get('model');
    const key = modelId !== null ? `model_id=${modelId}` : `model=${name}`;
    let spec = byKey.get(key);
    if (!spec) {
      spec = {
        key,
        modelIdInFile: modelId,
        name: name === null || name === undefined ? key : String(name),
        layers: [],
        values: row.values,
      };
      byKey.set(key, spec);
    }
    const num = (i: number) => (i >= 0 && typeof row.index[i] === 'number' ? (row.index[i] as number) : null);
    const convDepth = num(iDepth);
    const convDepthNorm = num(iNorm);
    const bad = (column: string, value: unknown, want: string): never => {
      throw new FilterDbError('corrupt', path, `/meta row ${r}: ${column} = ${value} is not ${want}`);
    };
    if (convDepth !== null && !isIntegerIn(convDepth, 0, INT32_MAX)) bad('conv_depth', convDepth, INT32_TEXT);
    if (convDepthNorm !== null && !Number.isFinite(convDepthNorm))
      bad('conv_depth_norm', convDepthNorm, 'finite');
    // the numbers that reach typed database columns (INTEGER, BIGINT): integers in range, or a typed error
    for (const [column, value] of row.values) {
      if (typeof value !== 'number') continue;
      if ((column === 'op_set' || column === 'depth') && !isIntegerIn(value, 0, INT32_MAX))
        bad(column, value, INT32_TEXT);
      if (KERNEL_COUNT.test(column) && !isIntegerIn(value, 0, Number.MAX_SAFE_INTEGER))
        bad(JSON.stringify(column), value, 'a whole number of filters (0 to 2^53)');
    }
    spec.layers.push({ row: r, convDepth, convDepthNorm, start, end });
  });
  return { models: [...byKey.values()], rowCount };
}

const INT32_MAX = 2 ** 31 - 1;
const INT32_TEXT = 'an integer from 0 to 2147483647';
/** `/meta` columns counting a model's filters per kernel size, e.g. "(3, 3) filters". */
export const KERNEL_COUNT = /^\((\d+),\s*(\d+)\) filters$/;

function isIntegerIn(v: number, lo: number, hi: number): boolean {
  return Number.isInteger(v) && v >= lo && v <= hi;
}

/** HDF5 filters that do not compress (shuffle, Fletcher-32): a dataset with only these holds its bytes. */
const NON_COMPRESSING_FILTERS = new Set([2, 3]);
/** Most a compressed chunk can expand (deflate's limit is ~1032:1; no HDF5 codec in use does better on data). */
const MAX_COMPRESSION_RATIO = 1032;

/**
 * Refuses a `/filters` that claims more rows than the file can hold: uncompressed, every row's bytes must be in
 * the file; compressed, at most {@link MAX_COMPRESSION_RATIO}× the file. (Chunked datasets may leave chunks
 * unwritten and read back as fill values: a 1 MB file can claim 2^31 rows and would stream 77 GB of zeros.)
 */
function checkClaimedRows(file: Hdf5File, path: string, rowCount: number, rowBytes: number): void {
  const compressed = file.filterIds('/filters').some((id) => !NON_COMPRESSING_FILTERS.has(id));
  const capacity = file.size * (compressed ? MAX_COMPRESSION_RATIO : 1);
  if (rowCount * rowBytes > capacity)
    throw new FilterDbError(
      'corrupt',
      path,
      `/filters claims ${rowCount} rows (${rowCount * rowBytes} bytes) but the ${file.size}-byte file can hold at most ${Math.floor(capacity / rowBytes)}${compressed ? ' even compressed' : ''}`,
    );
}

export /** Serves row ranges of /filters from blocks of up to `blockRows` rows, as row-major 9-value filters. */
class BlockReader {
  private start = 0;
  private end = 0;
  private data: Float32Array | Float64Array = new Float32Array(0);
  constructor(
    private readonly file: Hdf5File,
    private readonly blockRows: number,
    private readonly rowCount: number,
  ) {}
  rows(a: number, b: number): Float32Array | Float64Array {
    if (a < this.start || b > this.end) {
      const e = Math.min(this.rowCount, Math.max(b, a + this.blockRows));
      this.data = this.file.readFloats('/filters', [[a, e]]).data;
      this.start = a;
      this.end = e;
    }
    return this.data.subarray((a - this.start) * 9, (b - this.start) * 9);
  }
}
