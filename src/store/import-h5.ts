/**
 * Node-only: importing a CNN Filter DB `dataset.h5` (HDF5 `/filters` N x 3 x 3 or N x 9 float32, plus the
 * pandas table `/meta` with one row per 3x3 conv layer; see fixtures README) into the filter database.
 *
 * The file is read lazily through h5wasm (only the byte ranges asked for), filters are streamed per
 * layer in blocks of at most 1 M rows, and each model is written in one transaction, like `ingest`.
 * On a fresh database the filter ids equal the dataset.h5 row numbers. Re-importing the same file does
 * nothing for unchanged models (a model's hash covers its meta rows and its filter bytes); a changed
 * model replaces its rows.
 *
 * Layers get the metrics that need no output-channel count (sparsity, variance entropies, norms; the
 * filters are measured as one [1, n, 3, 3] tensor) — orthogonality, shape and flags stay NULL because
 * dataset.h5 does not record the layer shape.
 */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { FilterDbError } from '../errors.js';
import { type Hdf5File, openHdf5 } from '../formats/io/hdf5.js';
import '../node/hdf5-remote.js'; // HDF5 reads in a worker with a deadline
import { measureLayer } from '../metrics/quality.js';
import type { LayerMetrics } from '../metrics/types.js';
import { type FilterDb, mapDuckDbError, queryRows } from './db.js';
import { FilterWriter } from './filter-writer.js';
import { appendLayers, insertModelRow, type LayerRow, nextIds } from './ingest.js';
import { type Cell, readPandasFrame } from './pandas-h5.js';
import { refreshViews } from './schema.js';

export interface ImportH5Options {
  onProgress?: (filtersDone: number, filtersTotal: number) => void;
  /** Rows per read from /filters (default 1 M = 36 MB). */
  blockRows?: number;
  /** Skip the per-layer metrics (faster). */
  skipMetrics?: boolean;
}

export interface ImportH5Summary {
  file: string;
  models: { name: string; status: 'added' | 'replaced' | 'unchanged'; layers: number; filters: number }[];
  filters: number;
  layers: number;
  /** Rows of /filters that no meta row references (not imported). */
  unreferencedFilters: number;
  seconds: number;
}

interface LayerSpec {
  row: number;
  convDepth: number | null;
  convDepthNorm: number | null;
  start: number;
  end: number; // exclusive
}

interface ModelSpec {
  key: string;
  modelIdInFile: Cell;
  name: string;
  layers: LayerSpec[];
  values: Map<string, Cell>;
}

/** Columns of /meta that become `models` columns or structure rather than metadata. */
const STRUCTURAL = new Set(['filter_ids', 'model', 'producer', 'op_set', 'depth']);

export async function importDatasetH5(
  db: FilterDb,
  path: string,
  options: ImportH5Options = {},
): Promise<ImportH5Summary> {
  const t0 = performance.now();
  const abs = resolve(path);
  const file = await openHdf5({ path: abs, name: path });
  try {
    const { models, rowCount } = readLayout(file, path);
    const total = models.reduce((a, m) => a + m.layers.reduce((b, l) => b + l.end - l.start, 0), 0);
    let referenced = 0;
    {
      // count /filters rows referenced by at least one layer (ranges may not overlap in a valid file)
      const spans = models
        .flatMap((m) => m.layers.map((l) => [l.start, l.end] as const))
        .sort((a, b) => a[0] - b[0]);
      let reach = 0;
      for (const [a, b] of spans) {
        if (b > reach) {
          referenced += b - Math.max(a, reach);
          reach = b;
        }
      }
    }
    const reader = new BlockReader(file, options.blockRows ?? 1 << 20, rowCount);
    const summary: ImportH5Summary = {
      file: path,
      models: [],
      filters: 0,
      layers: 0,
      unreferencedFilters: rowCount - referenced,
      seconds: 0,
    };
    let done = 0;
    options.onProgress?.(0, total);
    for (const m of models) {
      const fileKey = `${abs}#${m.key}`;
      const existing = (
        await queryRows(db.connection, 'SELECT model_id, content_hash FROM models WHERE file = $1', [fileKey])
      )[0];
      let hash: string | null = null;
      if (existing) {
        hash = modelHash(m, reader);
        if (hash === existing.content_hash) {
          summary.models.push({ name: m.name, status: 'unchanged', layers: m.layers.length, filters: 0 });
          done += m.layers.reduce((a, l) => a + l.end - l.start, 0);
          options.onProgress?.(done, total);
          continue;
        }
      }
      try {
        const r = await writeH5Model(
          db.connection,
          m,
          fileKey,
          reader,
          hash,
          existing ? Number(existing.model_id) : null,
          options,
          (n) => {
            done += n;
            options.onProgress?.(done, total);
          },
        );
        summary.models.push({
          name: m.name,
          status: existing ? 'replaced' : 'added',
          layers: m.layers.length,
          filters: r,
        });
        summary.filters += r;
        summary.layers += m.layers.length;
      } catch (e) {
        if (e instanceof FilterDbError) throw e;
        throw mapDuckDbError(db.path, e);
      }
    }
    summary.seconds = (performance.now() - t0) / 1000;
    return summary;
  } finally {
    file.close();
  }
}

function readLayout(file: Hdf5File, path: string): { models: ModelSpec[]; rowCount: number } {
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
const KERNEL_COUNT = /^\((\d+),\s*(\d+)\) filters$/;

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

/** Serves row ranges of /filters from blocks of up to `blockRows` rows, as row-major 9-value filters. */
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

/** A model's identity: its meta values and the bytes of its filters. */
function modelHash(m: ModelSpec, reader: BlockReader): string {
  const h = createHash('sha256');
  h.update(JSON.stringify([...m.values].filter(([k]) => k !== 'filter_ids')));
  for (const l of m.layers) {
    h.update(`${l.convDepth}|${l.convDepthNorm}|${l.end - l.start}\n`);
    for (let a = l.start; a < l.end; a += 1 << 20) {
      const v = reader.rows(a, Math.min(l.end, a + (1 << 20)));
      h.update(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
    }
  }
  return `h5:sha256:${h.digest('hex')}`;
}

async function writeH5Model(
  con: DuckDBConnection,
  m: ModelSpec,
  fileKey: string,
  reader: BlockReader,
  knownHash: string | null,
  replaceId: number | null,
  options: ImportH5Options,
  onFilters: (n: number) => void,
): Promise<number> {
  await con.run('BEGIN TRANSACTION');
  const writer = new FilterWriter(con);
  try {
    if (replaceId !== null) {
      for (const t of ['filters', 'filters_other', 'layers', 'models', 'model_meta']) {
        await con.run(`DELETE FROM ${t} WHERE model_id = ${replaceId}`);
      }
    }
    const ids = await nextIds(con);
    const modelId = replaceId ?? ids.model;
    // on a fresh database, filter ids are the dataset.h5 row numbers
    const base = ids.filter3;
    const minStart = Math.min(...m.layers.map((l) => l.start));
    const offset = replaceId === null && base <= minStart ? 0 : base - minStart;
    const hash = createHash('sha256');
    hash.update(JSON.stringify([...m.values].filter(([k]) => k !== 'filter_ids')));
    let layerId = ids.layer;
    let stored = 0;
    const rows: LayerRow[] = [];
    for (const [index, l] of m.layers.entries()) {
      const n = l.end - l.start;
      hash.update(`${l.convDepth}|${l.convDepthNorm}|${n}\n`);
      let metrics: LayerMetrics | null = null;
      const whole = n <= 1 << 24;
      for (let a = l.start; a < l.end; ) {
        const b = whole ? l.end : Math.min(l.end, a + (1 << 20));
        const v = reader.rows(a, b);
        hash.update(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
        if (whole && !options.skipMetrics) metrics = measureLayer(v, [1, n, 3, 3]).metrics;
        await writer.append3x3(v, 0, b - a, a + offset, layerId, modelId);
        onFilters(b - a);
        a = b;
      }
      stored += n;
      rows.push({
        layerId,
        index,
        name: `layer${index}`,
        op: 'Conv',
        kind: null,
        shape: [],
        groups: null,
        dtype: 'float32',
        graphDepth: null,
        convDepth: l.convDepth ?? index,
        convDepthNorm: l.convDepthNorm ?? 0,
        metrics: metrics ? { ...metrics, orthogonality: null } : null,
        nonFinite: null,
        flags: null,
        filterTable: 'filters',
        kernelSize: [3, 3],
        firstFilterId: l.start + offset,
        filterCount: n,
      });
      layerId++;
    }
    writer.close();
    await appendLayers(con, modelId, rows);
    const kernelCounts = new Map<string, number>();
    for (const [k, v] of m.values) {
      const km = KERNEL_COUNT.exec(k);
      if (km && typeof v === 'number' && Number.isFinite(v)) kernelCounts.set(`${km[1]}x${km[2]}`, v);
    }
    if (!kernelCounts.has('3x3')) kernelCounts.set('3x3', stored);
    const str = (k: string) => {
      const v = m.values.get(k);
      return v === null || v === undefined ? undefined : String(v);
    };
    const num = (k: string) => {
      const v = m.values.get(k);
      return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
    };
    await insertModelRow(
      con,
      modelId,
      {
        format: 'dataset.h5',
        producer: str('producer'),
        opset: num('op_set'),
        graphDepthKnown: num('depth') !== undefined,
        graphDepthLevels: num('depth'),
        warnings: [],
      },
      {
        name: m.name,
        file: fileKey,
        hash: knownHash ?? `h5:sha256:${hash.digest('hex')}`,
        bytes: stored * 36,
        source: 'import-h5',
      },
      { convLayers: m.layers.length, skipped: 0, kernelCounts, stored },
    );
    if (m.modelIdInFile !== null) await insertMeta(con, modelId, 'dataset_model_id', String(m.modelIdInFile));
    for (const [k, v] of m.values) {
      if (STRUCTURAL.has(k)) continue;
      await insertMeta(con, modelId, k, v === null ? null : String(v));
    }
    await refreshViews(con);
    await con.run('COMMIT');
    return stored;
  } catch (e) {
    writer.abort();
    await con.run('ROLLBACK').catch(() => {});
    throw e;
  }
}

async function insertMeta(
  con: DuckDBConnection,
  modelId: number,
  key: string,
  value: string | null,
): Promise<void> {
  await con.run('INSERT INTO model_meta VALUES ($1, $2, $3)', [modelId, key, value]);
}
