/**
 * Node-only: `GET /api/models/:id/layers/:index/weights` — one layer's weights for the app's layer view, from
 * the database when it stores every filter of the layer, else from the model file the database was built
 * from (only when that file is still there with the same content hash), with the layer's near-zero ("dead")
 * 2-D filters as `scanWeights` (metrics/quality.ts) decides them for the sparsity metric. Bounded: at most
 * `max` values (whole output channels) are returned; a layer of more than {@link READ_LIMIT} values is refused
 * (413), since marking its dead filters needs it whole.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { readModel } from '../formats/detect.js';
import { planarShape } from '../metrics/layer-report.js';
import { DEFAULT_SPARSITY_EPS, scanWeights } from '../metrics/quality.js';
import type { WeightArray } from '../model/types.js';
import { openModelInput } from '../node/file-source.js';
import { queryRows } from '../store/db.js';
import { HttpError } from './http.js';
import type { LayerWeights } from './layer-weights-answer.js';
import { layerFilters } from './queries.js';
import { currentHash } from './source-hash.js';

export type { LayerWeights };

/** Most values of one layer read (16 M; a float64 copy is 128 MB). */
export const READ_LIMIT = 1 << 24;
/** Default and largest `max` (values returned). */
export const DEFAULT_MAX_VALUES = 1 << 18;
export const MAX_VALUES = 1 << 22;

async function weightsFromFile(
  file: string,
  contentHash: string,
  index: number,
  name: string,
): Promise<{ weight: WeightArray; planar: number[] }> {
  if (file.startsWith('upload:'))
    throw new HttpError(
      404,
      'weights-unavailable',
      `the filters of ${name} are not stored and the model was uploaded (${file.slice(7)}): its file is not kept; ingest it with --kernel all to store every kernel size`,
    );
  const hash = await currentHash(file);
  if (hash === null)
    throw new HttpError(
      404,
      'weights-unavailable',
      `the filters of ${name} are not stored (ingested with --kernel 3x3) and the model file ${file} is no longer there`,
    );
  if (hash !== contentHash)
    throw new HttpError(
      409,
      'weights-unavailable',
      `the filters of ${name} are not stored and the model file ${file} has changed since it was ingested (its content hash differs)`,
    );
  const input = await openModelInput(file);
  try {
    const model = await readModel(input);
    const byIndex = model.layers[index];
    const layer = byIndex?.name === name ? byIndex : model.layers.find((l) => l.name === name);
    const planar = layer ? planarShape(layer.shape) : null;
    if (!layer || !planar)
      throw new HttpError(404, 'unknown-layer', `${file} has no 2-D conv layer ${JSON.stringify(name)}`);
    if (planar[0] * planar[1] * planar[2] * planar[3] > READ_LIMIT)
      throw new HttpError(
        413,
        'too-large',
        `${name} holds more than ${READ_LIMIT} weights: too large for the layer view`,
      );
    return { weight: await layer.loadWeight(), planar };
  } finally {
    await input.close?.().catch(() => {});
  }
}

/** The layer's weights (at most `max` values, whole output channels) and its dead filters. */
export async function layerWeights(
  con: DuckDBConnection,
  modelId: number,
  index: number,
  max: number,
): Promise<LayerWeights> {
  const rows = await queryRows(
    con,
    `SELECT l.name, l.shape, l.kh, l.kw, l.filter_count, m.file, m.content_hash
     FROM layers l JOIN models m USING (model_id) WHERE l.model_id = $1 AND l.layer_index = $2`,
    [modelId, index],
  );
  if (rows.length === 0) {
    // the same 404s as the filters endpoint
    await layerFilters(con, modelId, index, 1);
    throw new HttpError(404, 'unknown-layer', `model ${modelId} has no layer ${index}`);
  }
  const r = rows[0];
  const name = String(r.name);
  const shape = (r.shape as number[] | null)?.map(Number) ?? null;
  const stored = Number(r.filter_count ?? 0);
  let weight: WeightArray;
  let planar: number[];
  let source: LayerWeights['source'];
  const kh = Number(r.kh ?? 3);
  const kw = Number(r.kw ?? 3);
  // a layer imported from dataset.h5 has filters but no shape: its filters as one column of outputs
  const known = shape && shape.length === 4 ? shape : stored > 0 ? [stored, 1, kh, kw] : null;
  if (known && stored > 0 && stored === known[0] * known[1]) {
    if (stored * known[2] * known[3] > READ_LIMIT)
      throw new HttpError(
        413,
        'too-large',
        `${name} holds more than ${READ_LIMIT} weights: too large for the layer view`,
      );
    const f = await layerFilters(con, modelId, index, stored);
    weight = Float64Array.from(f.weights);
    planar = known;
    source = 'database';
  } else {
    ({ weight, planar } = await weightsFromFile(String(r.file), String(r.content_hash), index, name));
    source = 'file';
  }
  const [out, inPer] = planar;
  const k = planar[2] * planar[3];
  const scan = scanWeights(weight, out * inPer, k, DEFAULT_SPARSITY_EPS);
  const returnedOut = Math.min(out, Math.max(1, Math.floor(max / (inPer * k))));
  const n = returnedOut * inPer;
  const dead: number[] = [];
  for (let i = 0; i < n; i++) if (scan.keep[i] === 0) dead.push(i);
  const weights = new Array<number>(n * k);
  for (let i = 0; i < n * k; i++) weights[i] = weight[i];
  return {
    model: modelId,
    layer: index,
    name,
    shape: [returnedOut, inPer, planar[2], planar[3]],
    fullShape: planar,
    source,
    returnedOut,
    maxAbs: scan.maxAbs,
    dead,
    deadCount: scan.sparseCount,
    deadThreshold: scan.threshold,
    weights,
  };
}
