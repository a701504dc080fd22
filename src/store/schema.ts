/**
 * The filter database schema (DuckDB). See README "Filter database" for the documentation of every column.
 *
 * Filters: nine FLOAT columns w0..w8 stored uncompressed. Measured against a FLOAT[9] ARRAY column and
 * against DuckDB's default (ALPRD) float compression (bench/scale.ts --compare): trained weights hardly
 * compress (38 bytes/row either way), and skipping ALPRD makes full scans about 2x faster and builds
 * about 1.8x faster. model_id per row costs ~0 bytes (RLE) and saves a join for per-model queries.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { DIAGNOSTIC_COLUMN_DEFS, migrateLayerDiagnostics } from './layer-diagnostics.js';

/**
 * 2: the layer diagnostics columns (store/layer-diagnostics.ts) after filter_count; 3: `layer_stats`
 * (analysis/layer-stats.ts); 4: `kernel_pattern` (store/kernel-pattern.ts). Versions 1 to 3 are still read;
 * opened for writing they are migrated (the new tables empty: `filterdb upgrade` fills them, store/upgrade.ts).
 */
export const SCHEMA_VERSION = 4;

/** Columns of `filters` holding the 9 values of a 3x3 filter, row-major (w0 = top-left, w8 = bottom-right). */
export const FILTER_VALUE_COLUMNS = ['w0', 'w1', 'w2', 'w3', 'w4', 'w5', 'w6', 'w7', 'w8'] as const;

export const METRIC_COLUMNS = [
  ['n', 'n', 'BIGINT'],
  ['sparsity', 'sparsity', 'DOUBLE'],
  ['varianceEntropy', 'variance_entropy', 'DOUBLE'],
  ['varianceEntropyNorm', 'variance_entropy_norm', 'DOUBLE'],
  ['varianceEntropyClean', 'variance_entropy_clean', 'DOUBLE'],
  ['varianceEntropyCleanNorm', 'variance_entropy_clean_norm', 'DOUBLE'],
  ['orthogonality', 'orthogonality', 'DOUBLE'],
  ['normL1', 'norm_l1', 'DOUBLE'],
  ['normL2', 'norm_l2', 'DOUBLE'],
  ['normL1Norm', 'norm_l1_norm', 'DOUBLE'],
  ['normL2Norm', 'norm_l2_norm', 'DOUBLE'],
] as const;

/**
 * Sufficient statistics of each layer's 3x3 filters (analysis/layer-stats.ts): the count, mean and centred
 * scatter (45 entries i ≤ j, row by row) of the peak-scaled filters, and candidate extreme filters (float32
 * row-major × 9, little-endian). One row per layer of `filters`, written with the layer.
 */
const LAYER_STATS_DDL = `
CREATE TABLE IF NOT EXISTS layer_stats (
  layer_id INTEGER NOT NULL,
  model_id INTEGER NOT NULL,
  n BIGINT NOT NULL,
  mean DOUBLE[] NOT NULL,
  scatter DOUBLE[] NOT NULL,
  extremes BLOB NOT NULL
);`;

/**
 * The depthwise kernel atlas label of every kernel of every depthwise layer [C, 1, k, k] (k odd ≥ 3,
 * analysis/kernel-atlas.ts), one row per kernel: filter_index c is the kernel's channel, so its filter (when
 * the layer's filters are stored) is first_filter_id + c. Written with the layer by ingest (whether or not
 * its filters are stored) and by upgrade (from stored filters).
 */
const KERNEL_PATTERN_DDL = `
CREATE TABLE IF NOT EXISTS kernel_pattern (
  layer_id INTEGER NOT NULL,
  model_id INTEGER NOT NULL,
  filter_index INTEGER NOT NULL,
  label VARCHAR NOT NULL,
  family VARCHAR,
  polarity VARCHAR,
  sigma DOUBLE,
  theta DOUBLE,
  shift_x DOUBLE,
  shift_y DOUBLE,
  score DOUBLE NOT NULL,
  margin DOUBLE NOT NULL
);`;

const DDL = `
CREATE TABLE filterdb_info (key VARCHAR NOT NULL, value VARCHAR);

CREATE TABLE models (
  model_id INTEGER NOT NULL,
  name VARCHAR NOT NULL,
  file VARCHAR NOT NULL,
  content_hash VARCHAR NOT NULL,
  bytes BIGINT,
  format VARCHAR,
  producer VARCHAR,
  opset INTEGER,
  graph_depth_known BOOLEAN,
  graph_depth_levels INTEGER,
  conv_layers INTEGER,
  skipped_layers INTEGER,
  filters_3x3 BIGINT,
  filters_total BIGINT,
  kernel_counts MAP(VARCHAR, BIGINT),
  stored_filters BIGINT,
  source VARCHAR,
  warnings VARCHAR[],
  ingested_at TIMESTAMP
);

CREATE TABLE model_meta (
  model_id INTEGER NOT NULL,
  key VARCHAR NOT NULL,
  value VARCHAR
);

CREATE TABLE layers (
  layer_id INTEGER NOT NULL,
  model_id INTEGER NOT NULL,
  layer_index INTEGER,
  name VARCHAR,
  op VARCHAR,
  kind VARCHAR,
  shape INTEGER[],
  kernel VARCHAR,
  kh INTEGER,
  kw INTEGER,
  groups INTEGER,
  dtype VARCHAR,
  graph_depth INTEGER,
  conv_depth INTEGER,
  conv_depth_norm DOUBLE,
  ${METRIC_COLUMNS.map(([, col, type]) => `${col} ${type}`).join(',\n  ')},
  non_finite BIGINT,
  flags VARCHAR[],
  flag_reasons VARCHAR[],
  filter_table VARCHAR,
  first_filter_id BIGINT,
  filter_count BIGINT,
  ${DIAGNOSTIC_COLUMN_DEFS.join(',\n  ')}
);

CREATE TABLE filters (
  filter_id BIGINT,
  layer_id INTEGER,
  model_id INTEGER,
  ${FILTER_VALUE_COLUMNS.map((c) => `${c} FLOAT USING COMPRESSION uncompressed`).join(',\n  ')}
);

CREATE TABLE filters_other (
  filter_id BIGINT,
  layer_id INTEGER,
  model_id INTEGER,
  kh SMALLINT,
  kw SMALLINT,
  w FLOAT[]
);
${LAYER_STATS_DDL}
${KERNEL_PATTERN_DDL}
`;

/** Columns model_info takes from `models`; meta keys equal to these (case-insensitive) are left out of the view. */
const MODEL_INFO_BASE = ['model_id', 'model', 'file', 'format', 'producer'];

export async function readSchemaVersion(con: DuckDBConnection): Promise<number | null> {
  const tables = await con.runAndReadAll(
    "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' AND table_name = 'filterdb_info'",
  );
  if (Number(tables.getRowsJS()[0][0]) === 0) return null;
  const r = await con.runAndReadAll("SELECT value FROM filterdb_info WHERE key = 'schema_version'");
  const rows = r.getRowsJS();
  return rows.length ? Number(rows[0][0]) : null;
}

/**
 * Brings an older database to this version in one transaction: the diagnostics columns (< 2), `layer_stats`
 * (< 3), `kernel_pattern` (< 4).
 */
export async function migrateSchema(con: DuckDBConnection, from: number): Promise<void> {
  await con.run('BEGIN TRANSACTION');
  try {
    if (from < 2) await migrateLayerDiagnostics(con);
    if (from < 3) await con.run(LAYER_STATS_DDL);
    if (from < 4) await con.run(KERNEL_PATTERN_DDL);
    await con.run(`UPDATE filterdb_info SET value = '${SCHEMA_VERSION}' WHERE key = 'schema_version'`);
    await refreshViews(con);
    await con.run('COMMIT');
  } catch (e) {
    await con.run('ROLLBACK').catch(() => {});
    throw e;
  }
}

/** Whether the database has the `layer_stats` table (version ≥ 3). */
export async function hasLayerStats(con: DuckDBConnection): Promise<boolean> {
  return hasTable(con, 'layer_stats');
}

/** Whether the database has the `kernel_pattern` table (version ≥ 4). */
export async function hasKernelPattern(con: DuckDBConnection): Promise<boolean> {
  return hasTable(con, 'kernel_pattern');
}

async function hasTable(con: DuckDBConnection, name: string): Promise<boolean> {
  const r = await con.runAndReadAll(
    `SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' AND table_name = ${sqlString(name)}`,
  );
  return Number(r.getRowsJS()[0][0]) > 0;
}

export async function createSchema(con: DuckDBConnection): Promise<void> {
  await con.run('BEGIN TRANSACTION');
  try {
    await con.run(DDL);
    await con.run(`INSERT INTO filterdb_info VALUES ('schema_version', '${SCHEMA_VERSION}')`);
    await refreshViews(con);
    await con.run('COMMIT');
  } catch (e) {
    await con.run('ROLLBACK').catch(() => {});
    throw e;
  }
}

/**
 * (Re)creates the views whose columns depend on the metadata keys present:
 * - `model_info`: one row per model, `model_id, model, file, format, producer` and one column per meta key
 *   (`"Task"`, `"Visual Category"`, …; DOUBLE when every value of the key parses as a number, else VARCHAR);
 * - `layer_info`: every `layers` column (the layer's name as `layer`) plus every model_info column;
 *   model_info columns whose names clash with a layer column are left out (they stay in model_info).
 * Called inside the writer's transaction whenever metadata changes.
 */
export async function refreshViews(con: DuckDBConnection): Promise<void> {
  const keysResult = await con.runAndReadAll(
    `SELECT key, count(value) = count(TRY_CAST(value AS DOUBLE)) AND count(value) > 0 AS numeric
     FROM model_meta GROUP BY key ORDER BY min(rowid)`,
  );
  const base = new Set(MODEL_INFO_BASE);
  const metaCols: string[] = [];
  const metaNames: string[] = [];
  for (const [key, numeric] of keysResult.getRowsJS() as [string, boolean][]) {
    if (base.has(key.toLowerCase()) || metaNames.some((n) => n.toLowerCase() === key.toLowerCase())) continue;
    const value = `max(mm.value) FILTER (WHERE mm.key = ${sqlString(key)})`;
    metaCols.push(`${numeric ? `TRY_CAST(${value} AS DOUBLE)` : value} AS ${sqlIdent(key)}`);
    metaNames.push(key);
  }
  await con.run(`CREATE OR REPLACE VIEW model_info AS
    SELECT m.model_id, any_value(m.name) AS model, any_value(m.file) AS file, any_value(m.format) AS format,
      any_value(m.producer) AS producer${metaCols.map((c) => `,\n      ${c}`).join('')}
    FROM models m LEFT JOIN model_meta mm ON mm.model_id = m.model_id
    GROUP BY m.model_id`);
  const layerColsResult = await con.runAndReadAll(
    "SELECT column_name FROM information_schema.columns WHERE table_name = 'layers' ORDER BY ordinal_position",
  );
  const layerCols = layerColsResult.getRowsJS().map((r) => String(r[0]));
  const taken = new Set(layerCols.map((c) => (c === 'name' ? 'layer' : c).toLowerCase()));
  const infoCols = ['model', 'file', 'format', 'producer', ...metaNames].filter(
    (c) => !taken.has(c.toLowerCase()),
  );
  const layerSelect = layerCols.map((c) => (c === 'name' ? 'l.name AS layer' : `l.${sqlIdent(c)}`));
  await con.run(`CREATE OR REPLACE VIEW layer_info AS
    SELECT ${[...layerSelect, ...infoCols.map((c) => `mi.${sqlIdent(c)}`)].join(', ')}
    FROM layers l JOIN model_info mi ON mi.model_id = l.model_id`);
}

function sqlIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function sqlString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}
