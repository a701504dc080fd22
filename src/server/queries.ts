/**
 * Node-only: the read side of the server's JSON API over a filter database — model list with health summary,
 * one model's layers, a layer's filters, and guarded read-only SQL.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { notMeasured } from '../metrics/flags.js';
import { type FilterDb, plain, queryRows } from '../store/db.js';
import { JSDuckDBValueConverter } from '../store/duckdb-api.js';
import { healthFromRow, MODEL_HEALTH_SQL, type StoredModelHealth } from '../store/health.js';
import { readDiagnostics } from '../store/layer-diagnostics.js';
import { METRIC_COLUMNS } from '../store/schema.js';
import { HttpError } from './http.js';
import { chunkRowSizes } from './result-size.js';

/** DuckDB's StatementType.SELECT. */
const SELECT_STATEMENT = 1;

export interface ModelSummary {
  id: number;
  name: string;
  file: string;
  format: string | null;
  producer: string | null;
  bytes: number | null;
  source: string | null;
  ingestedAt: string | null;
  convLayers: number | null;
  filters3x3: number | null;
  filtersTotal: number | null;
  storedFilters: number | null;
  meta: Record<string, string | null>;
  /** Layer counts: degenerated (metrics/flags.ts's definition), not assessed, per flag id. */
  health: StoredModelHealth;
}

export interface LayerRow {
  layerId: number;
  index: number;
  name: string;
  op: string;
  kind: string | null;
  shape: number[] | null;
  kernel: string | null;
  groups: number | null;
  dtype: string | null;
  graphDepth: number | null;
  convDepth: number | null;
  convDepthNorm: number | null;
  metrics: Record<string, number | null>;
  flags: { id: string; reason: string }[];
  /** What could not be measured for this layer (`notMeasured` in metrics/flags.ts); empty when nothing. */
  notMeasured: string[];
  /** Filters stored for this layer (0 when its kernel size was not stored). */
  storedFilters: number;
  filterTable: string | null;
  /** Spectral metrics (null values when not computed at ingest) and why they are missing. */
  spectral: Record<string, number | null>;
  spectralReason: string | null;
  /** WeightWatcher's over-/under-trained warnings (apart from `flags`). */
  trainingFlags: { id: string; reason: string }[];
  /** Distance from random initialisation (null when not computed at ingest). */
  init: ReturnType<typeof readDiagnostics>['init'];
}

function num(v: unknown): number | null {
  if (v === null || v === undefined) return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

function str(v: unknown): string | null {
  return v === null || v === undefined ? null : String(v);
}

async function metaByModel(
  con: DuckDBConnection,
  modelId?: number,
): Promise<Map<number, Record<string, string | null>>> {
  const rows = await queryRows(
    con,
    `SELECT model_id, key, value FROM model_meta ${modelId === undefined ? '' : 'WHERE model_id = $1'} ORDER BY rowid`,
    modelId === undefined ? undefined : [modelId],
  );
  const out = new Map<number, Record<string, string | null>>();
  for (const r of rows) {
    const id = Number(r.model_id);
    if (!out.has(id)) out.set(id, {});
    out.get(id)![String(r.key)] = str(r.value);
  }
  return out;
}

/** Metadata keys in first-seen order. */
export async function metaColumns(con: DuckDBConnection): Promise<string[]> {
  const rows = await queryRows(con, 'SELECT key FROM model_meta GROUP BY key ORDER BY min(rowid)');
  return rows.map((r) => String(r.key));
}

/** Columns of the layer_info view (what `where` clauses and groupings may use). */
export async function layerInfoColumns(con: DuckDBConnection): Promise<string[]> {
  const rows = await queryRows(
    con,
    "SELECT column_name FROM information_schema.columns WHERE table_name = 'layer_info' ORDER BY ordinal_position",
  );
  return rows.map((r) => String(r.column_name));
}

function summary(r: Record<string, unknown>, meta: Record<string, string | null>): ModelSummary {
  return {
    id: Number(r.model_id),
    name: String(r.name),
    file: String(r.file),
    format: str(r.format),
    producer: str(r.producer),
    bytes: num(r.bytes),
    source: str(r.source),
    ingestedAt: str(r.ingested_at),
    convLayers: num(r.conv_layers),
    filters3x3: num(r.filters_3x3),
    filtersTotal: num(r.filters_total),
    storedFilters: num(r.stored_filters),
    meta,
    health: healthFromRow(r),
  };
}

const MODEL_COLUMNS = `m.model_id, m.name, m.file, m.format, m.producer, m.bytes, m.source, m.ingested_at,
  m.conv_layers, m.filters_3x3, m.filters_total, m.stored_filters`;

export async function listModels(con: DuckDBConnection): Promise<ModelSummary[]> {
  const rows = await queryRows(
    con,
    `WITH h AS (${MODEL_HEALTH_SQL}) SELECT ${MODEL_COLUMNS}, h.* EXCLUDE (model_id)
     FROM models m LEFT JOIN h USING (model_id) ORDER BY m.name, m.model_id`,
  );
  const meta = await metaByModel(con);
  return rows.map((r) => summary(r, meta.get(Number(r.model_id)) ?? {}));
}

/** Parses a model id from a URL segment (404 when it is not a stored model). */
export function parseId(text: string, what: string): number {
  if (!/^\d{1,9}$/.test(text))
    throw new HttpError(404, `unknown-${what}`, `no ${what} ${JSON.stringify(text)} (ids are whole numbers)`);
  return Number(text);
}

export async function getModel(
  con: DuckDBConnection,
  id: number,
): Promise<ModelSummary & { warnings: string[]; layers: LayerRow[] }> {
  const rows = await queryRows(
    con,
    `WITH h AS (${MODEL_HEALTH_SQL}) SELECT ${MODEL_COLUMNS}, m.warnings, h.* EXCLUDE (model_id)
     FROM models m LEFT JOIN h USING (model_id) WHERE m.model_id = $1`,
    [id],
  );
  if (rows.length === 0) throw new HttpError(404, 'unknown-model', `no model with id ${id} in the database`);
  const meta = await metaByModel(con, id);
  const layers = await modelLayers(con, id);
  return {
    ...summary(rows[0], meta.get(id) ?? {}),
    warnings: ((rows[0].warnings as string[] | null) ?? []).map(String),
    layers,
  };
}

export async function modelLayers(con: DuckDBConnection, id: number): Promise<LayerRow[]> {
  const rows = await queryRows(con, 'SELECT * FROM layers WHERE model_id = $1 ORDER BY layer_index', [id]);
  return rows.map((r) => {
    const metrics: Record<string, number | null> = {};
    for (const [key, column] of METRIC_COLUMNS) metrics[key] = num(r[column]);
    const stored = r.flags as string[] | null;
    const ids = stored ?? [];
    const reasons = (r.flag_reasons as string[] | null) ?? [];
    return {
      layerId: Number(r.layer_id),
      index: Number(r.layer_index),
      name: String(r.name),
      op: String(r.op),
      kind: str(r.kind),
      shape: (r.shape as number[] | null)?.map(Number) ?? null,
      kernel: str(r.kernel),
      groups: num(r.groups),
      dtype: str(r.dtype),
      graphDepth: num(r.graph_depth),
      convDepth: num(r.conv_depth),
      convDepthNorm: num(r.conv_depth_norm),
      metrics,
      flags: ids.map((f, i) => ({ id: String(f), reason: String(reasons[i] ?? '') })),
      notMeasured: notMeasured({ flags: stored, shape: r.shape as number[] | null }),
      storedFilters: num(r.filter_count) ?? 0,
      filterTable: str(r.filter_table),
      ...readDiagnostics(r),
    };
  });
}

export interface LayerFilters {
  model: number;
  layer: number;
  name: string;
  /** Shape of the returned weights `[out', inPerGroup, kh, kw]` (out' ≤ out when cut at `max`). */
  shape: number[];
  /** The layer's full weight shape. */
  fullShape: number[] | null;
  /** Filters stored for the layer, and how many are returned. */
  stored: number;
  returned: number;
  weights: number[];
}

/** The first `max` stored 2-D filters of a layer (whole output channels), row-major. */
export async function layerFilters(
  con: DuckDBConnection,
  modelId: number,
  index: number,
  max: number,
): Promise<LayerFilters> {
  const rows = await queryRows(
    con,
    'SELECT layer_id, name, shape, kh, kw, filter_table, first_filter_id, filter_count FROM layers WHERE model_id = $1 AND layer_index = $2',
    [modelId, index],
  );
  if (rows.length === 0) {
    const known = await queryRows(con, 'SELECT 1 FROM models WHERE model_id = $1', [modelId]);
    if (known.length === 0)
      throw new HttpError(404, 'unknown-model', `no model with id ${modelId} in the database`);
    throw new HttpError(404, 'unknown-layer', `model ${modelId} has no layer ${index}`);
  }
  const r = rows[0];
  const fullShape = (r.shape as number[] | null)?.map(Number) ?? null;
  const stored = num(r.filter_count) ?? 0;
  const kh = num(r.kh) ?? 3;
  const kw = num(r.kw) ?? 3;
  const base = { model: modelId, layer: index, name: String(r.name), fullShape, stored };
  if (stored === 0 || !r.filter_table) return { ...base, shape: [0, 0, kh, kw], returned: 0, weights: [] };
  // whole output channels, so the grid keeps its rows × columns meaning
  const perOut = fullShape && fullShape.length === 4 ? fullShape[1] : 1;
  const outs = Math.max(1, Math.min(Math.ceil(stored / perOut), Math.floor(max / perOut) || 1));
  const take = Math.min(stored, outs * perOut);
  const first = num(r.first_filter_id) ?? 0;
  let weights: number[];
  if (r.filter_table === 'filters') {
    const reader = await con.runAndReadAll(
      `SELECT w0, w1, w2, w3, w4, w5, w6, w7, w8 FROM filters
       WHERE layer_id = $1 AND filter_id >= $2 AND filter_id < $3 ORDER BY filter_id`,
      [Number(r.layer_id), first, first + take],
    );
    weights = reader.getRowsJS().flat().map(Number);
  } else {
    const reader = await con.runAndReadAll(
      `SELECT w FROM filters_other WHERE layer_id = $1 AND filter_id >= $2 AND filter_id < $3 ORDER BY filter_id`,
      [Number(r.layer_id), first, first + take],
    );
    weights = reader.getRowsJS().flatMap((row) => (row[0] as number[]).map(Number));
  }
  const returned = weights.length / (kh * kw);
  return { ...base, shape: [Math.ceil(returned / perOut), perOut, kh, kw], returned, weights };
}

/**
 * Table functions user SQL may call: generators and DuckDB's catalog functions. Everything else — read_csv,
 * read_blob, read_text, parquet_scan, glob, query(…) and the rest — could read a file: DuckDB lets SQL read the
 * database's own file, its WAL and temp files even with external access disabled.
 */
const SAFE_TABLE_FUNCTIONS =
  /^(range|generate_series|unnest|repeat|repeat_row|json_each|json_tree|duckdb_\w+|pragma_\w+)$/i;

/**
 * Refuses a SELECT that could read a file, judged on DuckDB's own parse tree (json_serialize_sql) before
 * anything binds it — binding read_csv already reads the file, and its errors quote it. Any table function
 * outside {@link SAFE_TABLE_FUNCTIONS} and any table "name" that looks like a path (`FROM 'x.csv'`, a
 * replacement scan) is refused. Returns false when the statement is not a SELECT (not serialisable).
 */
async function checkNoFileAccess(con: DuckDBConnection, sql: string, what: string): Promise<boolean> {
  const reader = await con.runAndReadAll('SELECT json_serialize_sql($1::VARCHAR)', [sql]);
  const tree = JSON.parse(String(reader.getRowsJS()[0][0])) as { error?: boolean; error_message?: string };
  if (tree.error) {
    if (/Only SELECT statements/i.test(tree.error_message ?? '')) return false;
    throw new HttpError(
      400,
      'bad-sql',
      `${what} cannot be checked for file access (DuckDB cannot serialise its parse tree: ${tree.error_message}); write it another way`,
    );
  }
  const refuse = (thing: string): never => {
    throw new HttpError(
      403,
      'file-access',
      `${what} may not read files (${thing}): file access from SQL is disabled on this server`,
    );
  };
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const x of node) walk(x);
      return;
    }
    if (!node || typeof node !== 'object') return;
    const o = node as Record<string, unknown>;
    if (o.type === 'TABLE_FUNCTION') {
      const name = String((o.function as { function_name?: unknown } | null)?.function_name ?? '');
      if (!SAFE_TABLE_FUNCTIONS.test(name)) refuse(`${name}(…)`);
    } else if (o.type === 'BASE_TABLE' || o.type === 'SHOW_REF') {
      const table = String(o.table_name ?? '');
      if (/[/\\.:]/.test(table)) refuse(JSON.stringify(table));
    }
    for (const v of Object.values(o)) walk(v);
  };
  walk(tree);
  return true;
}

/**
 * Checks that `sql` is exactly one SELECT statement that reads no file (DuckDB's own parser decides, so
 * comments, strings and `;` inside literals are handled). Malformed SQL → 400; anything else → 403.
 */
export async function checkSelect(con: DuckDBConnection, sql: string, what = 'query'): Promise<void> {
  let extracted: Awaited<ReturnType<DuckDBConnection['extractStatements']>>;
  try {
    extracted = await con.extractStatements(sql);
  } catch (e) {
    throw new HttpError(400, 'bad-sql', `malformed SQL in ${what}: ${sqlMessage(e)}`);
  }
  if (extracted.count !== 1)
    throw new HttpError(
      400,
      'bad-sql',
      `${what} must be exactly one SELECT statement, got ${extracted.count} statements`,
    );
  // before anything binds the statement: binding may already read what it names
  if (!(await checkNoFileAccess(con, sql, what)))
    throw new HttpError(403, 'read-only', `${what} must be a SELECT (the SQL endpoint is read-only)`);
  let type: number;
  try {
    type = (await extracted.prepare(0)).statementType as number;
  } catch (e) {
    throw new HttpError(400, 'bad-sql', `SQL error in ${what}: ${sqlMessage(e)}`);
  }
  if (type !== SELECT_STATEMENT)
    throw new HttpError(403, 'read-only', `${what} must be a SELECT (the SQL endpoint is read-only)`);
}

export function sqlMessage(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg
    .replace(/^Failed to extract statements: /, '')
    .split('\n')[0]
    .slice(0, 500);
}

export interface SqlLimits {
  /** Most rows returned. */
  maxRows: number;
  /** Most bytes returned (the rows' estimated JSON size, result-size.ts). */
  maxBytes: number;
  timeoutMs: number;
}

export interface SqlAnswer {
  columns: string[];
  rows: unknown[][];
  rowCount: number;
  /** True when more rows were there than returned; `truncatedBy` says which cap stopped them. */
  truncated: boolean;
  truncatedBy: 'rows' | 'bytes' | null;
  /** Estimated JSON bytes of the returned rows. */
  bytes: number;
  seconds: number;
}

/**
 * Runs one read-only SELECT on its own connection, streaming: rows are converted one by one until the row or
 * byte cap (each row's size is read from DuckDB's vectors before it is converted, so one huge cell is never
 * turned into JS values), interrupted after `timeoutMs` (503) or when `signal` aborts. File access from
 * SQL (read_csv, ATTACH, COPY …) is disabled for the whole database by the server, and reading the database's
 * own files is refused by {@link checkSelect}.
 */
export async function runSelect(
  db: FilterDb,
  sql: string,
  limits: SqlLimits,
  signal?: AbortSignal,
): Promise<SqlAnswer> {
  signal?.throwIfAborted();
  const con = await db.instance.connect();
  const t0 = performance.now();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    con.interrupt();
  }, limits.timeoutMs);
  const stop = () => con.interrupt();
  signal?.addEventListener('abort', stop);
  try {
    await checkSelect(con, sql, 'query');
    const result = await con.stream(sql);
    const columns = result.deduplicatedColumnNames();
    const types = result.columnTypes();
    const rows: unknown[][] = [];
    let bytes = 0;
    let truncatedBy: SqlAnswer['truncatedBy'] = null;
    while (truncatedBy === null) {
      const chunk = await result.fetchChunk();
      if (!chunk || chunk.rowCount === 0) break;
      const rowSize = chunkRowSizes(chunk, types);
      for (let i = 0; i < chunk.rowCount; i++) {
        if (rows.length >= limits.maxRows) {
          truncatedBy = 'rows';
          break;
        }
        const size = rowSize(i, limits.maxBytes - bytes);
        if (bytes + size > limits.maxBytes) {
          truncatedBy = 'bytes';
          break;
        }
        bytes += size;
        rows.push(chunk.convertRowValues(i, JSDuckDBValueConverter).map(plain));
      }
    }
    return {
      columns,
      rows,
      rowCount: rows.length,
      truncated: truncatedBy !== null,
      truncatedBy,
      bytes,
      seconds: (performance.now() - t0) / 1000,
    };
  } catch (e) {
    if (signal?.aborted) throw signal.reason;
    if (timedOut)
      throw new HttpError(503, 'timeout', `query interrupted after the ${limits.timeoutMs / 1000} s limit`);
    if (e instanceof HttpError) throw e;
    throw new HttpError(400, 'bad-sql', `SQL error: ${sqlMessage(e)}`);
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', stop);
    con.closeSync();
  }
}
