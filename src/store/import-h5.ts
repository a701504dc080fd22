/**
 * Node-only: importing a CNN Filter DB `dataset.h5` (HDF5 `/filters` N x 3 x 3 or N x 9 float32, plus the
 * pandas table `/meta` with one row per 3x3 conv layer; see fixtures README) into the filter database. The
 * file's layout and its block reads are the reader's (formats/dataset-h5/layout.ts); this is the writing.
 *
 * The file is read lazily through h5wasm (only the byte ranges asked for), filters are streamed per
 * layer in blocks of at most 1 M rows, and each model is written in one transaction, like `ingest`.
 * On a fresh database the filter ids equal the dataset.h5 row numbers. Re-importing the same file does
 * nothing for unchanged models (a model's hash covers its meta rows and its filter bytes); a changed
 * model replaces its rows.
 *
 * Layers get the metrics that need no output-channel count (sparsity, variance entropies, norms; the
 * filters are measured as one [1, n, 3, 3] tensor), their non-finite count, and every flag that needs no
 * layer shape, decided by the same `flagLayer` as ingest (sparse, low-diversity, random-like, non-finite,
 * tiny from n). Orthogonality and shape stay NULL because dataset.h5 does not record the layer shape: the
 * CLI, reports and app say "not measured" for them (see `notMeasured` in metrics/flags.ts). No
 * `kernel_pattern` rows either: without layer shapes and kinds, a depthwise layer's kernels cannot be told from
 * a plain layer's 3x3 filters (labelling every filter as a depthwise kernel would mislabel the plain ones).
 */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { LayerStatsBuilder } from '../analysis/layer-stats.js';
import { FilterDbError } from '../errors.js';
import { BlockReader, KERNEL_COUNT, type ModelSpec, readLayout } from '../formats/dataset-h5/layout.js';
import { openHdf5 } from '../formats/io/hdf5.js';
import '../node/hdf5-remote.js'; // HDF5 reads in a worker with a deadline
import { flagLayer } from '../metrics/flags.js';
import { measureLayer } from '../metrics/quality.js';
import type { LayerFlag, LayerMetrics } from '../metrics/types.js';
import { type FilterDb, mapDuckDbError, queryRows } from './db.js';
import { FilterWriter } from './filter-writer.js';
import { appendLayers, insertModelRow, type LayerRow, MODEL_TABLES, nextIds } from './ingest.js';
import { appendLayerStats, type LayerStatsRow } from './layer-stats.js';
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
      for (const t of [...MODEL_TABLES, 'model_meta']) {
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
    const stats: LayerStatsRow[] = [];
    for (const [index, l] of m.layers.entries()) {
      const n = l.end - l.start;
      hash.update(`${l.convDepth}|${l.convDepthNorm}|${n}\n`);
      let metrics: LayerMetrics | null = null;
      let nonFinite: number | null = null;
      let flags: LayerFlag[] | null = null;
      const whole = n <= 1 << 24;
      const layerStats = new LayerStatsBuilder();
      for (let a = l.start; a < l.end; ) {
        const b = whole ? l.end : Math.min(l.end, a + (1 << 20));
        const v = reader.rows(a, b);
        hash.update(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
        if (whole && !options.skipMetrics) {
          const measured = measureLayer(v, [1, n, 3, 3]);
          metrics = { ...measured.metrics, orthogonality: null };
          nonFinite = measured.nonFinite;
          // the output-channel count is unknown: `null` keeps flagLayer from calling the layer a single filter
          flags = flagLayer(metrics, nonFinite, [null, n, 3, 3]);
        }
        await writer.append3x3(v, 0, b - a, a + offset, layerId, modelId);
        layerStats.add(v, b - a);
        onFilters(b - a);
        a = b;
      }
      stored += n;
      stats.push({ layerId, stats: layerStats.finish() });
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
        metrics,
        nonFinite,
        flags,
        filterTable: 'filters',
        kernelSize: [3, 3],
        firstFilterId: l.start + offset,
        filterCount: n,
      });
      layerId++;
    }
    writer.close();
    await appendLayers(con, modelId, rows);
    await appendLayerStats(con, modelId, stats);
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
