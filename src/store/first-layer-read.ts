/**
 * Each stored model's first conv layer (analysis/energy.ts `firstConvLayerIndex`, the one rule for files and
 * databases) rebuilt from its stored filters, for the energy profile (`energy --db`, the database report, the
 * server). `filters` / `filters_other` hold one row per (output, input) filter, ids first_filter_id… in weight
 * order, so [F, C, kh, kw] is their concatenation (as float32: that is how filters are stored). A layer whose
 * filters were not stored cannot be rebuilt and is reported with the reason.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { firstConvLayerIndex } from '../analysis/energy.js';
import type { SkippedLayer } from './depthwise-read.js';
import { readStoredFilters } from './filter-read.js';

/** A first conv layer's weight in the layout [F, C, kh, kw]. */
export interface FirstLayer {
  modelId?: number;
  model: string;
  layer: string;
  shape: number[];
  weights: ArrayLike<number>;
}

/** Every model's (or one model's) first layer, in model order; a model without one gives its reason. */
export async function readFirstLayers(
  con: DuckDBConnection,
  options: { modelId?: number } = {},
): Promise<(FirstLayer | (SkippedLayer & { modelId: number }))[]> {
  const one = options.modelId !== undefined;
  const rows = (
    await con.runAndReadAll(
      `SELECT m.model_id, m.name, l.layer_id, l.name, l.op, l.kind, l.shape, l.conv_depth, l.filter_table,
              l.first_filter_id, l.filter_count
       FROM models m LEFT JOIN layers l ON l.model_id = m.model_id
       ${one ? 'WHERE m.model_id = $1' : ''}
       ORDER BY m.model_id, l.layer_index`,
      one ? [options.modelId!] : [],
    )
  ).getRowsJS();
  const byModel = new Map<number, { name: string; layers: typeof rows }>();
  for (const r of rows) {
    const id = Number(r[0]);
    if (!byModel.has(id)) byModel.set(id, { name: String(r[1]), layers: [] });
    if (r[2] !== null) byModel.get(id)!.layers.push(r);
  }
  const out: (FirstLayer | (SkippedLayer & { modelId: number }))[] = [];
  for (const [modelId, { name: model, layers }] of byModel) {
    const cands = layers.map((r) => ({
      shape: ((r[6] as number[] | null) ?? []).map(Number),
      kind: r[5] === null ? null : String(r[5]),
      op: String(r[4] ?? ''),
      convDepth: Number(r[7] ?? 0),
    }));
    const i = firstConvLayerIndex(cands);
    if (i < 0) {
      out.push({ modelId, model, layer: null, reason: 'no 2-D convolution layer' });
      continue;
    }
    const r = layers[i];
    const shape = cands[i].shape;
    const layer = String(r[3]);
    const [f, c, kh, kw] = shape;
    const table = r[8];
    if (table === null || Number(r[10]) !== f * c) {
      out.push({
        modelId,
        model,
        layer,
        reason: `its first layer's ${kh}x${kw} filters are not stored (ingest with --kernel all stores every size)`,
      });
      continue;
    }
    const weights = await readStoredFilters(con, {
      layerId: Number(r[2]),
      table: table === 'filters' ? 'filters' : 'filters_other',
      firstFilterId: Number(r[9]),
      count: f * c,
      perFilter: kh * kw,
    });
    if (!weights) {
      out.push({ modelId, model, layer, reason: 'its stored filters are incomplete' });
      continue;
    }
    out.push({ modelId, model, layer, shape, weights });
  }
  return out;
}
