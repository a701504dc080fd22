/**
 * Node-only: the `kernel_pattern` rows (schema.ts) — the depthwise kernel atlas label of every kernel of every
 * depthwise layer [C, 1, k, k] (analysis/kernel-atlas.ts, default thresholds), written with the layer by
 * ingest and by upgrade, read by `kernels --db` and by the `pattern` grouping of `shift` and `cohorts`.
 *
 * The labels are computed on the float32 values the filters table holds (a float64 weight is rounded first),
 * so a label from a file's ingest, from `upgrade` on its stored filters and from `kernels --db` recomputing
 * are the same.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import {
  type AtlasThresholds,
  classifyLayer,
  DEFAULT_THRESHOLDS,
  isAtlasShape,
  type KernelClass,
  type KernelFamily,
  type KernelLabel,
} from '../analysis/kernel-atlas.js';
import { queryValue } from './db.js';
import { hasKernelPattern } from './schema.js';

/** The `filterdb_info` key recording the thresholds the stored labels were computed with. */
const RULE_KEY = 'kernel_pattern_rule';

export interface KernelPatternRow {
  layerId: number;
  kernels: KernelClass[];
}

/** Is this layer one the atlas labels (a depthwise [C, 1, k, k], k odd ≥ 3)? */
export function isPatternLayer(kind: string | null, shape: readonly number[]): boolean {
  return kind === 'depthwise' && isAtlasShape(shape);
}

/** The labels of a depthwise layer's kernels, as stored: computed on the float32 values of `weight`. */
export function layerPatterns(
  weight: ArrayLike<number>,
  shape: readonly number[],
  thresholds: AtlasThresholds = DEFAULT_THRESHOLDS,
): KernelClass[] {
  const f32 = weight instanceof Float32Array ? weight : Float32Array.from(weight);
  return classifyLayer(f32, shape, thresholds).kernels;
}

/** Appends the rows (inside the caller's transaction) and records the rule they were computed with. */
export async function appendKernelPatterns(
  con: DuckDBConnection,
  modelId: number,
  rows: KernelPatternRow[],
): Promise<void> {
  if (rows.length === 0) return;
  await recordRule(con);
  const app = await con.createAppender('kernel_pattern');
  const dbl = (v: number | null) => (v === null || Number.isNaN(v) ? app.appendNull() : app.appendDouble(v));
  const str = (v: string | null) => (v === null ? app.appendNull() : app.appendVarchar(v));
  for (const { layerId, kernels } of rows) {
    kernels.forEach((k, c) => {
      app.appendInteger(layerId);
      app.appendInteger(modelId);
      app.appendInteger(c);
      app.appendVarchar(k.label);
      str(k.family);
      str(k.polarity);
      dbl(k.sigma);
      dbl(k.theta);
      dbl(k.shift ? k.shift[0] : null);
      dbl(k.shift ? k.shift[1] : null);
      app.appendDouble(k.score);
      app.appendDouble(k.margin);
      app.endRow();
    });
  }
  app.closeSync();
}

async function recordRule(con: DuckDBConnection): Promise<void> {
  const rule = JSON.stringify(DEFAULT_THRESHOLDS);
  const stored = await queryValue(con, `SELECT value FROM filterdb_info WHERE key = '${RULE_KEY}'`);
  if (stored === rule) return;
  // other thresholds in a later filterdb: its labels replace these only through re-ingest / upgrade
  await con.run(`DELETE FROM filterdb_info WHERE key = '${RULE_KEY}'`);
  await con.run(`INSERT INTO filterdb_info VALUES ('${RULE_KEY}', '${rule}')`);
}

/** The thresholds the stored labels were computed with, or null when none are stored. */
export async function storedRule(con: DuckDBConnection): Promise<AtlasThresholds | null> {
  if (!(await hasKernelPattern(con))) return null;
  const v = await queryValue(con, `SELECT value FROM filterdb_info WHERE key = '${RULE_KEY}'`);
  if (typeof v !== 'string') return null;
  const t = JSON.parse(v) as AtlasThresholds;
  return typeof t.threshold === 'number' && typeof t.margin === 'number' ? t : null;
}

/** The stored labels of `layerIds` (layer_id → labels in channel order); layers without rows are absent. */
export async function readKernelLabels(
  con: DuckDBConnection,
  layerIds: readonly number[],
): Promise<Map<number, KernelLabel[]>> {
  const out = new Map<number, KernelLabel[]>();
  for (const [layer, index, label] of await selectRows(con, layerIds, 'label'))
    setAt(out, Number(layer), Number(index), label as KernelLabel);
  return out;
}

/** Every stored row of `layerIds`, as the atlas's KernelClass (layer_id → kernels in channel order). */
export async function readKernelPatterns(
  con: DuckDBConnection,
  layerIds: readonly number[],
): Promise<Map<number, KernelClass[]>> {
  const out = new Map<number, KernelClass[]>();
  const rows = await selectRows(
    con,
    layerIds,
    'label, family, polarity, sigma, theta, shift_x, shift_y, score, margin',
  );
  const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  for (const [layer, index, label, family, polarity, sigma, theta, sx, sy, score, margin] of rows) {
    const x = num(sx);
    const y = num(sy);
    setAt(out, Number(layer), Number(index), {
      label: label as KernelLabel,
      polarity: (polarity ?? null) as KernelClass['polarity'],
      sigma: num(sigma),
      theta: num(theta),
      shift: x === null || y === null ? null : [x, y],
      score: Number(score),
      margin: Number(margin),
      family: (family ?? null) as KernelFamily | null,
    });
  }
  return out;
}

/** layer_id, filter_index and `columns` of the rows of `layerIds` in channel order (none without the table). */
async function selectRows(
  con: DuckDBConnection,
  layerIds: readonly number[],
  columns: string,
): Promise<unknown[][]> {
  if (layerIds.length === 0 || !(await hasKernelPattern(con))) return [];
  const reader = await con.runAndReadAll(
    `SELECT layer_id, filter_index, ${columns} FROM kernel_pattern
     WHERE layer_id IN (${layerIds.map((id) => Number(id)).join(', ')})
     ORDER BY layer_id, filter_index`,
  );
  return reader.getRowsJS();
}

/** Sets `value` at `index` of the list `map` holds for `id` (created on first use). */
function setAt<T>(map: Map<number, T[]>, id: number, index: number, value: T): void {
  let a = map.get(id);
  if (!a) {
    a = [];
    map.set(id, a);
  }
  a[index] = value;
}
