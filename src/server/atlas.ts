/**
 * Node-only: the atlas and energy endpoints — what the model page draws, computed from the stored filters by
 * the same code as `report --db` (store/atlas-energy.ts): GET /api/models/:id/atlas (the depthwise kernel
 * atlas view of one model), GET /api/models/:id/energy (its first-layer energy profile), GET /api/energy
 * (every model's profile and their Pearson correlation matrix).
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { AtlasView } from '../analysis/atlas-view.js';
import type { ReportEnergy } from '../report/atlas-section.js';
import { type StoredEnergy, storedAtlas, storedEnergy } from '../store/atlas-energy.js';
import type { SkippedLayer } from '../store/depthwise-read.js';
import { HttpError } from './http.js';

async function modelName(con: DuckDBConnection, id: number): Promise<string> {
  const rows = (await con.runAndReadAll('SELECT name FROM models WHERE model_id = $1', [id])).getRowsJS();
  if (rows.length === 0) throw new HttpError(404, 'unknown-model', `no model with id ${id} in the database`);
  return String(rows[0][0]);
}

export interface AtlasAnswer {
  model: string;
  /** Null when the model has no depthwise layer with stored odd k×k filters. */
  view: AtlasView | null;
  skipped: SkippedLayer[];
}

export async function modelAtlasAnswer(con: DuckDBConnection, id: number): Promise<AtlasAnswer> {
  const model = await modelName(con, id);
  const a = await storedAtlas(con, { modelId: id });
  return { model, view: a.view, skipped: a.skipped };
}

export interface EnergyAnswer {
  model: string;
  /** Null when the first layer's filters are not stored (the reason is in `skipped`). */
  energy: ReportEnergy | null;
  skipped: SkippedLayer[];
}

export async function modelEnergyAnswer(con: DuckDBConnection, id: number): Promise<EnergyAnswer> {
  const model = await modelName(con, id);
  const e = await storedEnergy(con, { modelId: id });
  return { model, energy: e.models[0] ?? null, skipped: e.skipped };
}

export async function energyAnswer(con: DuckDBConnection): Promise<StoredEnergy> {
  return storedEnergy(con);
}
