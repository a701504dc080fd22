/**
 * Node-only: per-model layer verdicts in SQL, built from the one definition of "degenerated" in
 * metrics/flags.ts. The server's model list and `report --db` both read this query.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { ALL_FLAGS, degeneratedSql } from '../metrics/flags.js';
import { queryRows } from './db.js';

/**
 * One row per model: `layers`, `degenerated` (layers with a degeneration flag), `not_assessed` (flags NULL),
 * `orthogonality_not_measured` (assessed layers of unknown shape) and one count per flag id.
 */
export const MODEL_HEALTH_SQL = `
  SELECT model_id, count(*) AS layers,
    count(*) FILTER (WHERE ${degeneratedSql('flags')}) AS degenerated,
    count(*) FILTER (WHERE flags IS NULL) AS not_assessed,
    count(*) FILTER (WHERE flags IS NOT NULL AND (shape IS NULL OR len(shape) = 0)) AS orthogonality_not_measured,
    ${ALL_FLAGS.map((f) => `count(*) FILTER (WHERE list_contains(flags, '${f}')) AS "${f}"`).join(',\n    ')}
  FROM layers GROUP BY model_id`;

export interface StoredModelHealth {
  layers: number;
  degenerated: number;
  notAssessed: number;
  orthogonalityNotMeasured: number;
  flags: Record<string, number>;
}

/** Reads the health columns of a row that selected `MODEL_HEALTH_SQL`'s columns (absent = 0). */
export function healthFromRow(r: Record<string, unknown>): StoredModelHealth {
  const n = (v: unknown) => (v === null || v === undefined ? 0 : Number(v));
  const flags: Record<string, number> = {};
  for (const f of ALL_FLAGS) flags[f] = n(r[f]);
  return {
    layers: n(r.layers),
    degenerated: n(r.degenerated),
    notAssessed: n(r.not_assessed),
    orthogonalityNotMeasured: n(r.orthogonality_not_measured),
    flags,
  };
}

/** Health per model id. */
export async function modelHealth(con: DuckDBConnection): Promise<Map<number, StoredModelHealth>> {
  const rows = await queryRows(con, MODEL_HEALTH_SQL);
  return new Map(rows.map((r) => [Number(r.model_id), healthFromRow(r)]));
}
