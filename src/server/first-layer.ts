/**
 * Node-only: `GET /api/models/:id/first-layer` — the weights and conv attributes of a stored model's first
 * conv layer, for the app's "your image through the first layer" probe.
 *
 * The database keeps neither strides nor padding, and keeps only 3×3 filters unless ingested with --kernel all,
 * so the layer is read again from the model's source file when the server can still see it with the bytes it
 * had at ingest (same content hash). Otherwise the stored filters are returned when the whole layer is stored,
 * with `geometryKnown: false` so the app lets the user set stride and padding.
 */
import { stat } from 'node:fs/promises';
import type { DuckDBConnection } from '@duckdb/node-api';
import { type FirstLayerInfo, firstLayerInfo, MAX_PROBE_WEIGHTS } from '../analysis/first-layer-conv.js';
import { readModel } from '../formats/detect.js';
import type { ModelInput } from '../formats/io/source.js';
import { elementCount } from '../model/types.js';
import { openModelInput } from '../node/file-source.js';
import { queryRows } from '../store/db.js';
import { discoverModels, hashModel } from '../store/walk.js';
import { HttpError } from './http.js';
import { layerFilters } from './queries.js';

/** The first layer as the API gives it: where it came from, and the weights as plain numbers. */
export interface FirstLayerAnswer extends FirstLayerInfo {
  model: number;
  /** Where the weights came from. */
  source: 'file' | 'database';
  weights: number[];
}

/** Content hashes of source files by path, valid while size and mtime are unchanged (hashing is the slow part). */
const hashes = new Map<string, { size: number; mtimeMs: number; hash: string }>();
const MAX_CACHED = 64;

async function currentHash(path: string): Promise<string | null> {
  let st: Awaited<ReturnType<typeof stat>>;
  try {
    st = await stat(path);
  } catch {
    return null;
  }
  const known = hashes.get(path);
  if (known && known.size === st.size && known.mtimeMs === st.mtimeMs) return known.hash;
  const found = await discoverModels([path]);
  const candidate = found.candidates.find((c) => c.path === path) ?? found.candidates[0];
  if (!candidate) return null;
  const hash = await hashModel(candidate);
  if (hashes.size >= MAX_CACHED) hashes.delete(hashes.keys().next().value as string);
  hashes.set(path, { size: st.size, mtimeMs: st.mtimeMs, hash });
  return hash;
}

function tooLarge(shape: readonly number[], name: string): HttpError {
  return new HttpError(
    413,
    'too-large',
    `the first layer ${name} has ${elementCount(shape).toLocaleString('en-US')} weights; the probe takes up to ${MAX_PROBE_WEIGHTS.toLocaleString('en-US')}`,
  );
}

export async function firstLayer(con: DuckDBConnection, id: number): Promise<FirstLayerAnswer> {
  const rows = await queryRows(con, 'SELECT file, content_hash, format FROM models WHERE model_id = $1', [
    id,
  ]);
  if (rows.length === 0) throw new HttpError(404, 'unknown-model', `no model with id ${id} in the database`);
  const file = String(rows[0].file);
  const format = String(rows[0].format ?? '');
  const notes: string[] = [];
  const uploaded = file.startsWith('upload:');
  const hash = uploaded ? null : await currentHash(file);
  if (hash !== null && hash === String(rows[0].content_hash)) {
    const input = await openModelInput(file);
    try {
      return await fromFile(id, input, notes);
    } finally {
      await input.close?.();
    }
  }
  notes.push(
    uploaded
      ? 'The model was uploaded, so its file is not on the server: the weights come from the database, which does not keep stride or padding.'
      : hash === null
        ? `The source file ${file} is not readable any more: the weights come from the database, which does not keep stride or padding.`
        : `The source file ${file} changed since it was ingested: the weights come from the database, which does not keep stride or padding.`,
  );
  const layers = await queryRows(
    con,
    'SELECT layer_index, name, op, kind, shape, groups FROM layers WHERE model_id = $1 ORDER BY layer_index LIMIT 1',
    [id],
  );
  if (layers.length === 0) throw new HttpError(404, 'unknown-layer', `model ${id} has no conv layer`);
  const l = layers[0];
  const shape = ((l.shape as number[] | null) ?? []).map(Number);
  if (elementCount(shape) > MAX_PROBE_WEIGHTS) throw tooLarge(shape, String(l.name));
  const f = await layerFilters(con, id, Number(l.layer_index), 65536);
  if (shape.length !== 4 || f.weights.length !== elementCount(shape))
    throw new HttpError(
      409,
      'not-stored',
      `${notes[0]} Only ${f.returned} of the ${shape.length === 4 ? shape[0] * shape[1] : '?'} filters of the first layer ${l.name} are stored (the database keeps 3×3 filters unless ingested with --kernel all).`,
    );
  return {
    model: id,
    format,
    name: String(l.name),
    op: String(l.op),
    kind: l.kind === null ? null : String(l.kind),
    shape,
    groups: l.groups === null ? null : Number(l.groups),
    geometryKnown: false,
    source: 'database',
    notes,
    weights: f.weights,
  };
}

async function fromFile(id: number, input: ModelInput, notes: string[]): Promise<FirstLayerAnswer> {
  const model = await readModel(input);
  const layer = model.layers[0];
  if (!layer) throw new HttpError(404, 'unknown-layer', `model ${id} has no conv layer`);
  if (elementCount(layer.shape) > MAX_PROBE_WEIGHTS) throw tooLarge(layer.shape, layer.name);
  const weights = Array.from(await layer.loadWeight());
  const info = firstLayerInfo(layer, model.format);
  return { ...info, model: id, source: 'file', notes: [...notes, ...info.notes], weights };
}
