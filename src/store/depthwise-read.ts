/**
 * The depthwise layers of stored models rebuilt from their stored filters, for the kernel atlas (`kernels
 * --db`, the database report, the server's atlas endpoint). A layer whose filters were not stored (other
 * sizes than 3x3 need `ingest --kernel all`) or are incomplete is skipped with the reason.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { type AtlasLayerInput, isAtlasShape, type KernelClass } from '../analysis/kernel-atlas.js';
import { readStoredFilters } from './filter-read.js';
import { readKernelPatterns } from './kernel-pattern.js';

export interface SkippedLayer {
  model: string;
  layer: string | null;
  reason: string;
}

export interface StoredModelLayers {
  modelId: number;
  model: string;
  layers: AtlasLayerInput[];
  /** How many of `layers` come as their stored labels (kernel_pattern) rather than their weights. */
  stored: number;
}

/**
 * Every model's (or one model's) depthwise layers, in model and layer order. With `storedLabels` (the caller
 * checked that kernel_pattern's rule is the one it asks for, see storedRule) a layer whose labels are stored
 * comes as those labels, without reading its filters — so also a layer whose filters were not stored.
 */
export async function readDepthwiseLayers(
  con: DuckDBConnection,
  options: { modelId?: number; storedLabels?: boolean } = {},
): Promise<{ models: StoredModelLayers[]; skipped: SkippedLayer[] }> {
  const one = options.modelId !== undefined;
  const rows = (
    await con.runAndReadAll(
      `SELECT m.model_id, m.name, l.layer_id, l.name, l.shape, l.conv_depth_norm, l.filter_table,
              l.first_filter_id, l.filter_count
       FROM models m JOIN layers l ON l.model_id = m.model_id
       WHERE l.kind = 'depthwise'${one ? ' AND m.model_id = $1' : ''}
       ORDER BY m.model_id, l.layer_index`,
      one ? [options.modelId!] : [],
    )
  ).getRowsJS();
  const labels = options.storedLabels
    ? await readKernelPatterns(
        con,
        rows.map((r) => Number(r[2])),
      )
    : new Map<number, KernelClass[]>();
  const out = new Map<number, StoredModelLayers>();
  const skipped: SkippedLayer[] = [];
  for (const r of rows) {
    const modelId = Number(r[0]);
    const model = String(r[1]);
    const layer = String(r[3]);
    const shape = ((r[4] as number[] | null) ?? []).map(Number);
    if (!out.has(modelId)) out.set(modelId, { modelId, model, layers: [], stored: 0 });
    if (!isAtlasShape(shape)) continue;
    const k = shape[2];
    const entry = out.get(modelId)!;
    const convDepthNorm = Number(r[5]);
    const kernels = labels.get(Number(r[2]));
    if (kernels && kernels.length === shape[0] && kernels.every((x) => x !== undefined)) {
      entry.layers.push({ layer, shape, convDepthNorm, kernels });
      entry.stored++;
      continue;
    }
    if (r[6] === null || Number(r[8]) !== shape[0]) {
      skipped.push({
        model,
        layer,
        reason: `its ${k}x${k} filters are not stored (ingest with --kernel all)`,
      });
      continue;
    }
    const weight = await readStoredFilters(con, {
      layerId: Number(r[2]),
      table: r[6] === 'filters' ? 'filters' : 'filters_other',
      firstFilterId: Number(r[7]),
      count: shape[0],
      perFilter: k * k,
    });
    if (!weight) {
      skipped.push({ model, layer, reason: 'its stored filters are incomplete' });
      continue;
    }
    entry.layers.push({ layer, shape, convDepthNorm, weight });
  }
  return { models: [...out.values()], skipped };
}
