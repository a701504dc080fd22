/**
 * Node-only: the `layer_stats` rows (schema.ts) — each layer's sufficient statistics
 * (analysis/layer-stats.ts), written with the layer by ingest, import-h5 and upgrade, read by the planning
 * of a selection so its PCA basis is a merge of rows instead of a scan.
 */
import type { DuckDBBlobValue, DuckDBConnection, DuckDBListValue } from '@duckdb/node-api';
import { fromUpperTriangle, type LayerStats, upperTriangle } from '../analysis/layer-stats.js';
import { DOUBLE, LIST } from './duckdb-api.js';
import { hasLayerStats } from './schema.js';

export interface LayerStatsRow {
  layerId: number;
  stats: LayerStats;
}

/** Appends the rows (inside the caller's transaction). */
export async function appendLayerStats(
  con: DuckDBConnection,
  modelId: number,
  rows: LayerStatsRow[],
): Promise<void> {
  if (rows.length === 0) return;
  const app = await con.createAppender('layer_stats');
  const list = LIST(DOUBLE);
  for (const { layerId, stats } of rows) {
    app.appendInteger(layerId);
    app.appendInteger(modelId);
    app.appendBigInt(BigInt(stats.n));
    app.appendList([...stats.mean], list);
    app.appendList([...upperTriangle(stats.scatter)], list);
    const e = stats.extremes;
    app.appendBlob(new Uint8Array(e.buffer, e.byteOffset, e.byteLength));
    app.endRow();
  }
  app.closeSync();
}

function doubles(v: unknown): Float64Array {
  return Float64Array.from((v as DuckDBListValue).items as number[]);
}

/**
 * The stored statistics of the layers `want` (all of them), or null when the database has no `layer_stats`
 * table (an older one not yet upgraded) or some of these layers have no row.
 */
export async function readLayerStats(
  con: DuckDBConnection,
  want: ReadonlySet<number>,
): Promise<Map<number, LayerStats> | null> {
  if (want.size === 0 || !(await hasLayerStats(con))) return null;
  const reader = await con.runAndReadAll('SELECT layer_id, n, mean, scatter, extremes FROM layer_stats');
  const out = new Map<number, LayerStats>();
  for (const [id, n, mean, scatter, extremes] of reader.getRows()) {
    const layerId = Number(id);
    if (!want.has(layerId)) continue;
    const bytes = (extremes as DuckDBBlobValue).bytes;
    out.set(layerId, {
      n: Number(n),
      mean: doubles(mean),
      scatter: fromUpperTriangle(doubles(scatter)),
      // a copy: the blob may be a Node Buffer, whose slice() is a view into a shared pool
      extremes: new Float32Array(Uint8Array.from(bytes).buffer, 0, bytes.byteLength >> 2),
    });
  }
  return out.size === want.size ? out : null;
}
