/**
 * The `layers` columns of the layer diagnostics beyond the CNN Filter DB metrics (issue 15): the
 * WeightWatcher-style spectral metrics and the distance from random initialisation. They sit after the
 * original columns (appended in this order by appendLayers; per init metric its z-score, percentile and the
 * 1st/99th percentiles of the random layers — the band the plots draw), are NULL where not computed (`ingest` without
 * `--spectral` / `--init`, import-h5 rows), and are added to schema-1 databases by {@link migrateLayerDiagnostics}.
 */
import type { DuckDBAppender, DuckDBConnection } from '@duckdb/node-api';
import { INIT_METRIC_KEYS, type InitDistance, type StoredInitDistance } from '../metrics/init-distance.js';
import { type SPECTRAL_KEYS, type SpectralResult, trainingFlags } from '../metrics/spectral.js';
import { LIST, VARCHAR } from './duckdb-api.js';

/** Spectral metric key → column (D is `ww_d`: a bare `d` would be a poor column name). */
export const SPECTRAL_COLUMNS: readonly (readonly [
  (typeof SPECTRAL_KEYS)[number],
  string,
  'DOUBLE' | 'INTEGER',
])[] = [
  ['alpha', 'alpha', 'DOUBLE'],
  ['D', 'ww_d', 'DOUBLE'],
  ['xmin', 'xmin', 'DOUBLE'],
  ['alphaWeighted', 'alpha_weighted', 'DOUBLE'],
  ['logNorm', 'log_norm', 'DOUBLE'],
  ['logSpectralNorm', 'log_spectral_norm', 'DOUBLE'],
  ['stableRank', 'stable_rank', 'DOUBLE'],
  ['matrixEntropy', 'matrix_entropy', 'DOUBLE'],
  ['numPlSpikes', 'num_pl_spikes', 'INTEGER'],
  ['rankLoss', 'rank_loss', 'INTEGER'],
];

/** Init-distance metric key → base column name (the metric's own column: `<col>_init_z`, `<col>_init_pct`). */
export const INIT_COLUMNS = INIT_METRIC_KEYS.map(
  (k) => [k, k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)] as const,
);

/** Column definitions in table order. */
export const DIAGNOSTIC_COLUMN_DEFS: readonly string[] = [
  ...SPECTRAL_COLUMNS.map(([, c, t]) => `${c} ${t}`),
  'spectral_reason VARCHAR',
  'training_flags VARCHAR[]',
  'training_flag_reasons VARCHAR[]',
  'init_rule VARCHAR',
  'init_draws INTEGER',
  'init_score DOUBLE',
  'init_threshold DOUBLE',
  'near_init BOOLEAN',
  'init_reason VARCHAR',
  ...INIT_COLUMNS.flatMap(([, c]) => [
    `${c}_init_z DOUBLE`,
    `${c}_init_pct DOUBLE`,
    `${c}_init_p1 DOUBLE`,
    `${c}_init_p99 DOUBLE`,
  ]),
];

export interface LayerDiagnostics {
  spectral?: SpectralResult | null;
  init?: InitDistance | null;
}

/** Appends the diagnostic columns of one layer row (after filter_count). */
export function appendDiagnostics(app: DuckDBAppender, d: LayerDiagnostics | undefined): void {
  const dbl = (v: number | null | undefined) =>
    v === null || v === undefined || !Number.isFinite(v) ? app.appendNull() : app.appendDouble(v);
  const int = (v: number | null | undefined) =>
    v === null || v === undefined ? app.appendNull() : app.appendInteger(v);
  const str = (v: string | null | undefined) =>
    v === null || v === undefined ? app.appendNull() : app.appendVarchar(v);
  const s = d?.spectral;
  for (const [key, , type] of SPECTRAL_COLUMNS) {
    const v = s ? s.metrics[key] : null;
    if (type === 'INTEGER') int(v);
    else dbl(v);
  }
  str(s?.reason);
  if (s) {
    const flags = trainingFlags(s.metrics);
    app.appendList(
      flags.map((f) => f.id),
      LIST(VARCHAR),
    );
    app.appendList(
      flags.map((f) => f.reason),
      LIST(VARCHAR),
    );
  } else {
    app.appendNull();
    app.appendNull();
  }
  const i = d?.init;
  str(i?.rule);
  int(i?.draws);
  dbl(i?.score);
  dbl(i?.threshold);
  if (i) app.appendBoolean(i.nearInit);
  else app.appendNull();
  str(i?.reason);
  for (const [key] of INIT_COLUMNS) {
    const m = i?.metrics[key];
    // ±∞ z-scores (a metric with no spread in the null) are stored as ±1e308 so the sign survives
    dbl(m ? (Number.isFinite(m.z) ? m.z : Math.sign(m.z) * 1e308) : null);
    dbl(m?.percentile);
    dbl(m?.p1);
    dbl(m?.p99);
  }
}

/** Adds the diagnostic columns to a `layers` table that lacks them (schema 1 → 2). */
export async function migrateLayerDiagnostics(con: DuckDBConnection): Promise<void> {
  for (const def of DIAGNOSTIC_COLUMN_DEFS) await con.run(`ALTER TABLE layers ADD COLUMN ${def}`);
}

/** Reads the diagnostic columns of a `layers` row (as returned by SELECT *) back into plain values. */
export function readDiagnostics(r: Record<string, unknown>): {
  spectral: Record<string, number | null>;
  spectralReason: string | null;
  trainingFlags: { id: string; reason: string }[];
  init: StoredInitDistance | null;
} {
  const num = (v: unknown) =>
    v === null || v === undefined || !Number.isFinite(Number(v)) ? null : Number(v);
  const spectral: Record<string, number | null> = {};
  for (const [key, col] of SPECTRAL_COLUMNS) spectral[key] = num(r[col]);
  const ids = (r.training_flags as string[] | null | undefined) ?? [];
  const reasons = (r.training_flag_reasons as string[] | null | undefined) ?? [];
  const rule = r.init_rule;
  let init = null;
  if (rule !== null && rule !== undefined) {
    const metrics: StoredInitDistance['metrics'] = {};
    for (const [key, col] of INIT_COLUMNS)
      metrics[key] = {
        z: num(r[`${col}_init_z`]),
        percentile: num(r[`${col}_init_pct`]),
        p1: num(r[`${col}_init_p1`]),
        p99: num(r[`${col}_init_p99`]),
      };
    init = {
      rule: String(rule),
      draws: num(r.init_draws),
      score: num(r.init_score),
      threshold: num(r.init_threshold),
      nearInit: r.near_init === true,
      reason: r.init_reason === null || r.init_reason === undefined ? null : String(r.init_reason),
      metrics,
    };
  }
  return {
    spectral,
    spectralReason:
      r.spectral_reason === null || r.spectral_reason === undefined ? null : String(r.spectral_reason),
    trainingFlags: ids.map((id, k) => ({ id: String(id), reason: String(reasons[k] ?? '') })),
    init,
  };
}
