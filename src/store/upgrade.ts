/**
 * Node-only: `filterdb upgrade` — brings a database built before the layer statistics (schema version < 3)
 * or the kernel labels (< 4) up to date: opening it for writing adds the empty `layer_stats` and
 * `kernel_pattern` tables (schema.ts), and this computes
 * - the statistics (analysis/layer-stats.ts) of every layer that has none, from its stored filters in storage
 *   order — the order ingest and import-h5 computed them in, so the rows are the same bits as a fresh ingest's;
 * - the atlas labels (store/kernel-pattern.ts) of every depthwise layer that has none and whose filters are
 *   stored (a 5x5 depthwise layer ingested with the default `--kernel 3x3` has none to label), the same rows a
 *   fresh ingest writes (both label the float32 values).
 * Resumable: layers are done in batches, each committed with its rows; a killed upgrade keeps the committed
 * batches and the next run does the rest. Nothing else is changed.
 */
import type { DuckDBConnection, DuckDBFloatVector, DuckDBIntegerVector } from '@duckdb/node-api';
import { LayerStatsBuilder } from '../analysis/layer-stats.js';
import { type FilterDb, mapDuckDbError, queryRows } from './db.js';
import { readStoredFilters } from './filter-read.js';
import {
  appendKernelPatterns,
  isPatternLayer,
  type KernelPatternRow,
  layerPatterns,
} from './kernel-pattern.js';
import { appendLayerStats, type LayerStatsRow } from './layer-stats.js';

export interface UpgradeOptions {
  onProgress?: (filtersDone: number, filtersTotal: number) => void;
  /** Filters per committed batch (default 8 M). */
  batchFilters?: number;
}

export interface UpgradeSummary {
  /** Layers that got statistics now. */
  layers: number;
  filters: number;
  /** Layers that already had them. */
  alreadyDone: number;
  /** Depthwise layers that got their kernel labels now, and their kernels. */
  patternLayers: number;
  patternKernels: number;
  seconds: number;
}

interface PendingLayer {
  layerId: number;
  modelId: number;
  first: number;
  count: number;
}

export async function upgradeDb(db: FilterDb, options: UpgradeOptions = {}): Promise<UpgradeSummary> {
  const t0 = performance.now();
  const con = db.connection;
  try {
    const pending: PendingLayer[] = (
      await queryRows(
        con,
        `SELECT layer_id, model_id, first_filter_id, filter_count FROM layers
         WHERE filter_table = 'filters' AND filter_count > 0
           AND layer_id NOT IN (SELECT layer_id FROM layer_stats)
         ORDER BY first_filter_id`,
      )
    ).map((r) => ({
      layerId: Number(r.layer_id),
      modelId: Number(r.model_id),
      first: Number(r.first_filter_id),
      count: Number(r.filter_count),
    }));
    const alreadyDone = Number((await queryRows(con, 'SELECT count(*) AS n FROM layer_stats'))[0].n);
    const total = pending.reduce((s, l) => s + l.count, 0);
    const batchFilters = options.batchFilters ?? 8 << 20;
    let done = 0;
    options.onProgress?.(0, total);
    for (let i = 0; i < pending.length; ) {
      const batch: PendingLayer[] = [];
      let filters = 0;
      while (i < pending.length && (batch.length === 0 || filters + pending[i].count <= batchFilters)) {
        filters += pending[i].count;
        batch.push(pending[i++]);
      }
      await upgradeBatch(db, batch, (n) => {
        done += n;
        options.onProgress?.(done, total);
      });
    }
    const patterns = await upgradePatterns(db, options.batchFilters ?? 8 << 20);
    return {
      layers: pending.length,
      filters: total,
      alreadyDone,
      patternLayers: patterns.layers,
      patternKernels: patterns.kernels,
      seconds: (performance.now() - t0) / 1000,
    };
  } catch (e) {
    throw mapDuckDbError(db.path, e);
  }
}

/** One batch of layers: their filters streamed in storage order, the rows written in one transaction. */
async function upgradeBatch(
  db: FilterDb,
  batch: PendingLayer[],
  onFilters: (n: number) => void,
): Promise<void> {
  const con = db.connection;
  const builders = new Map(batch.map((l) => [l.layerId, new LayerStatsBuilder()]));
  const lo = Math.min(...batch.map((l) => l.first));
  const hi = Math.max(...batch.map((l) => l.first + l.count));
  const result = await con.stream(
    `SELECT layer_id, w0, w1, w2, w3, w4, w5, w6, w7, w8 FROM filters
     WHERE filter_id >= ${lo} AND filter_id < ${hi} AND layer_id IN (${batch.map((l) => l.layerId).join(', ')})`,
  );
  const row = new Float32Array(9);
  for (;;) {
    const chunk = await result.fetchChunk();
    if (!chunk || chunk.rowCount === 0) break;
    const n = chunk.rowCount;
    const layer = chunk.getColumnVector(0) as DuckDBIntegerVector;
    const w = Array.from({ length: 9 }, (_, j) => chunk.getColumnVector(j + 1) as DuckDBFloatVector);
    for (let r = 0; r < n; r++) {
      for (let j = 0; j < 9; j++) row[j] = w[j].getItem(r) ?? Number.NaN;
      builders.get(layer.getItem(r) ?? -1)?.add(row, 1);
    }
    onFilters(n);
  }
  const byModel = new Map<number, LayerStatsRow[]>();
  for (const l of batch) {
    const rows = byModel.get(l.modelId) ?? [];
    rows.push({ layerId: l.layerId, stats: builders.get(l.layerId)!.finish() });
    byModel.set(l.modelId, rows);
  }
  await appendByModel(con, byModel, appendLayerStats);
}

/** Appends rows per model in one committed transaction (rolled back on failure). */
async function appendByModel<R>(
  con: DuckDBConnection,
  byModel: Map<number, R[]>,
  append: (con: DuckDBConnection, modelId: number, rows: R[]) => Promise<void>,
): Promise<void> {
  await con.run('BEGIN TRANSACTION');
  try {
    for (const [modelId, rows] of byModel) await append(con, modelId, rows);
    await con.run('COMMIT');
  } catch (e) {
    await con.run('ROLLBACK').catch(() => {});
    throw e;
  }
}

/** The kernel labels of stored depthwise layers that have none, committed in batches of about `batchFilters`. */
async function upgradePatterns(
  db: FilterDb,
  batchFilters: number,
): Promise<{ layers: number; kernels: number }> {
  const con = db.connection;
  const rows = await queryRows(
    con,
    `SELECT layer_id, model_id, kind, shape, filter_table, first_filter_id, filter_count FROM layers
     WHERE kind = 'depthwise' AND filter_table IS NOT NULL AND filter_count > 0
       AND layer_id NOT IN (SELECT layer_id FROM kernel_pattern)
     ORDER BY layer_id`,
  );
  let layers = 0;
  let kernels = 0;
  let batch = new Map<number, KernelPatternRow[]>();
  let inBatch = 0;
  const commit = async () => {
    await appendByModel(con, batch, appendKernelPatterns);
    batch = new Map();
    inBatch = 0;
  };
  for (const r of rows) {
    const shape = ((r.shape as number[] | null) ?? []).map(Number);
    if (!isPatternLayer(String(r.kind), shape) || Number(r.filter_count) !== shape[0]) continue;
    const k = shape[2];
    const weight = await readStoredFilters(con, {
      layerId: Number(r.layer_id),
      table: r.filter_table === 'filters' ? 'filters' : 'filters_other',
      firstFilterId: Number(r.first_filter_id),
      count: shape[0],
      perFilter: k * k,
    });
    if (!weight) continue; // rows missing: nothing to label from
    const modelId = Number(r.model_id);
    const list = batch.get(modelId) ?? [];
    list.push({ layerId: Number(r.layer_id), kernels: layerPatterns(weight, shape) });
    batch.set(modelId, list);
    layers++;
    kernels += shape[0];
    inBatch += shape[0];
    if (inBatch >= batchFilters) await commit();
  }
  if (inBatch > 0) await commit();
  return { layers, kernels };
}
