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
    spec.layers.push({ row: r, convDepth: num(iDepth), convDepthNorm: num(iNorm), start, end });
  });
  return { models: [...byKey.values()], rowCount };
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
