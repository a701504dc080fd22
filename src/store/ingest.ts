/**
 * Node-only: ingesting model files into the filter database.
 *
 * Per model: hash its bytes (SHA-256, streamed); skip it when the same file with the same hash is stored
 * (or when another stored file has the same bytes); otherwise read it, measure every 2-D conv layer and
 * write the model row, its layers and its filters in ONE transaction (a changed file replaces its rows,
 * keeping its model_id and metadata). A failure while reading rolls that model back and the run goes on;
 * a killed process leaves every committed model intact and no half model (DuckDB's WAL + transactions).
 */
import {
  BIGINT,
  type DuckDBConnection,
  type DuckDBType,
  type DuckDBValue,
  INTEGER,
  LIST,
  listValue,
  VARCHAR,
} from '@duckdb/node-api';
import { isFilterDbError } from '../errors.js';
import { readModel } from '../formats/detect.js';
import { flagLayer } from '../metrics/flags.js';
import { planarShape } from '../metrics/layer-report.js';
import { measureLayer } from '../metrics/quality.js';
import type { LayerFlag, LayerMetrics } from '../metrics/types.js';
import type { Model, WeightArray } from '../model/types.js';
import { openModelInput } from '../node/file-source.js';
import { type FilterDb, mapDuckDbError, queryRows, queryValue } from './db.js';
import { FilterWriter } from './filter-writer.js';
import { applyMeta, type MetaReport, type MetaTable } from './meta.js';
import { METRIC_COLUMNS } from './schema.js';
import { discoverModels, hashModel, type ModelCandidate } from './walk.js';

export type KernelSelection = '3x3' | 'all';

export interface IngestOptions {
  /** Which kernels' filters to store: "3x3" (default) or "all" 2-D sizes. Layer metrics are always stored. */
  kernel?: KernelSelection;
  /** Store the filters of transposed convolutions too (default false, as in CNN Filter DB). */
  includeTransposed?: boolean;
  sparsityEps?: number;
  /** Do not compute layer metrics and flags (left NULL): benchmarks of the write path only. */
  skipMetrics?: boolean;
  meta?: MetaTable;
  onProgress?: (p: IngestProgress) => void;
  onResult?: (r: ModelResult) => void;
}

export interface IngestProgress {
  modelsDone: number;
  modelsTotal: number;
  filters: number;
  bytes: number;
  seconds: number;
  current?: string;
}

export type ModelStatus = 'added' | 'replaced' | 'unchanged' | 'duplicate' | 'failed';

export interface ModelResult {
  file: string;
  name: string;
  status: ModelStatus;
  bytes: number;
  modelId?: number;
  layers?: number;
  filters?: number;
  duplicateOf?: string;
  error?: string;
}

export interface IngestSummary {
  results: ModelResult[];
  meta: MetaReport | null;
  seconds: number;
  /** Bytes of the models read and written (not the skipped ones). */
  bytes: number;
  filters: number;
  counts: Record<ModelStatus, number>;
}

/** A model to write: what the `models` row records besides what the reader gives. */
export interface ModelRecord {
  name: string;
  file: string;
  hash: string;
  bytes: number;
  source: string;
}

/** An error from the database itself (not from the model file): the run stops instead of skipping. */
class StoreWriteError extends Error {
  constructor(cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
  }
}

async function dbStep<T>(fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw new StoreWriteError(e);
  }
}

/** Walks `inputs`, ingests every model found, then joins `options.meta` to the stored models. */
export async function ingestPaths(
  db: FilterDb,
  inputs: string[],
  options: IngestOptions = {},
): Promise<IngestSummary> {
  const t0 = performance.now();
  const { candidates, errors } = await discoverModels(inputs);
  const results: ModelResult[] = [];
  for (const { path, error } of errors) {
    const r: ModelResult = { file: path, name: path, status: 'failed', bytes: 0, error: error.message };
    results.push(r);
    options.onResult?.(r);
  }
  let bytes = 0;
  let filters = 0;
  const progress = (current?: string) =>
    options.onProgress?.({
      modelsDone: results.length - errors.length,
      modelsTotal: candidates.length,
      filters,
      bytes,
      seconds: (performance.now() - t0) / 1000,
      current,
    });
  progress();
  for (const candidate of candidates) {
    progress(candidate.display);
    const r = await ingestCandidate(db, candidate, options);
    if (r.status === 'added' || r.status === 'replaced') {
      bytes += r.bytes;
      filters += r.filters ?? 0;
    }
    results.push(r);
    options.onResult?.(r);
    progress();
  }
  const meta = options.meta ? await applyMetaMapped(db, options.meta) : null;
  const counts: Record<ModelStatus, number> = {
    added: 0,
    replaced: 0,
    unchanged: 0,
    duplicate: 0,
    failed: 0,
  };
  for (const r of results) counts[r.status]++;
  return { results, meta, seconds: (performance.now() - t0) / 1000, bytes, filters, counts };
}

async function applyMetaMapped(db: FilterDb, meta: MetaTable): Promise<MetaReport> {
  try {
    return await applyMeta(db.connection, meta);
  } catch (e) {
    throw mapDuckDbError(db.path, e);
  }
}

/** Ingests one discovered model; never throws for a bad model file (the result says `failed`). */
export async function ingestCandidate(
  db: FilterDb,
  c: ModelCandidate,
  options: IngestOptions = {},
): Promise<ModelResult> {
  const con = db.connection;
  const base = { file: c.path, name: c.name, bytes: c.bytes };
  let hash: string;
  try {
    hash = await hashModel(c);
  } catch (e) {
    return { ...base, status: 'failed', error: errorText(c.display, e) };
  }
  let existing: Record<string, unknown> | undefined;
  let dup: Record<string, unknown> | undefined;
  try {
    existing = (
      await queryRows(con, 'SELECT model_id, content_hash FROM models WHERE file = $1', [c.path])
    )[0];
    dup = (
      await queryRows(con, 'SELECT file FROM models WHERE content_hash = $1 AND file <> $2 LIMIT 1', [
        hash,
        c.path,
      ])
    )[0];
  } catch (e) {
    throw mapDuckDbError(db.path, e);
  }
  if (existing && existing.content_hash === hash) {
    return { ...base, status: 'unchanged', modelId: Number(existing.model_id) };
  }
  if (dup) return { ...base, status: 'duplicate', duplicateOf: String(dup.file) };
  let model: Model;
  try {
    model = await readModel(await openModelInput(c.path));
  } catch (e) {
    return { ...base, status: 'failed', error: errorText(c.display, e) };
  }
  const replaceId = existing ? Number(existing.model_id) : null;
  try {
    const written = await writeModel(
      con,
      model,
      { name: c.name, file: c.path, hash, bytes: c.bytes, source: 'ingest' },
      options,
      replaceId,
    );
    return { ...base, status: replaceId === null ? 'added' : 'replaced', ...written };
  } catch (e) {
    if (e instanceof StoreWriteError) throw mapDuckDbError(db.path, e.cause);
    return { ...base, status: 'failed', error: errorText(c.display, e) };
  }
}

function errorText(display: string, e: unknown): string {
  if (isFilterDbError(e)) return e.message;
  const msg = e instanceof Error ? e.message : String(e);
  return `${display}: ${msg}`;
}

export interface LayerRow {
  layerId: number;
  index: number;
  name: string;
  op: string;
  kind: string | null;
  shape: number[];
  groups: number | null;
  dtype: string;
  graphDepth: number | null;
  convDepth: number;
  convDepthNorm: number;
  metrics: LayerMetrics | null;
  nonFinite: number | null;
  flags: LayerFlag[] | null;
  filterTable: 'filters' | 'filters_other' | null;
  firstFilterId: number | null;
  filterCount: number;
  /** Kernel size when `shape` is unknown (dataset.h5 layers). */
  kernelSize?: [number, number];
}

/** Next free ids, read inside the writer's transaction (one writer per database file). */
export async function nextIds(
  con: DuckDBConnection,
): Promise<{ model: number; layer: number; filter3: number; filterOther: number }> {
  const row = (
    await queryRows(
      con,
      `SELECT
        (SELECT coalesce(max(model_id) + 1, 0) FROM models) AS model,
        (SELECT coalesce(max(layer_id) + 1, 0) FROM layers) AS layer,
        (SELECT coalesce(max(first_filter_id + filter_count), 0) FROM layers WHERE filter_table = 'filters') AS f3,
        (SELECT coalesce(max(first_filter_id + filter_count), 0) FROM layers WHERE filter_table = 'filters_other') AS fo`,
    )
  )[0];
  return {
    model: Number(row.model),
    layer: Number(row.layer),
    filter3: Number(row.f3),
    filterOther: Number(row.fo),
  };
}

/**
 * Writes one model (row, layers with metrics and flags, filters) in one transaction. With `replaceId`
 * the old rows of that model are deleted first and the model keeps its id (and so its metadata).
 * Errors from the model's reader propagate as they are; database errors as StoreWriteError.
 */
export async function writeModel(
  con: DuckDBConnection,
  model: Model,
  record: ModelRecord,
  options: IngestOptions,
  replaceId: number | null,
): Promise<{ modelId: number; layers: number; filters: number }> {
  const kernelAll = options.kernel === 'all';
  const eps = options.sparsityEps;
  await dbStep(() => con.run('BEGIN TRANSACTION'));
  const writer = new FilterWriter(con);
  try {
    if (replaceId !== null) {
      await dbStep(async () => {
        for (const t of ['filters', 'filters_other', 'layers', 'models']) {
          await con.run(`DELETE FROM ${t} WHERE model_id = ${replaceId}`);
        }
      });
    }
    const ids = await dbStep(() => nextIds(con));
    const modelId = replaceId ?? ids.model;
    let layerId = ids.layer;
    let next3 = ids.filter3;
    let nextOther = ids.filterOther;
    const rows: LayerRow[] = [];
    const kernelCounts = new Map<string, number>();
    let skipped = 0;
    let stored = 0;
    for (const [index, layer] of model.layers.entries()) {
      // 1-D and 3-D convs are measured on their planar view (as `quality` does); only 2-D kernels store filters
      const planar = planarShape(layer.shape);
      if (!planar) {
        skipped++;
        continue;
      }
      const weight: WeightArray = await layer.loadWeight();
      let metrics: LayerMetrics | null = null;
      let nonFinite: number | null = null;
      let flags: LayerFlag[] | null = null;
      if (!options.skipMetrics) {
        const measured = measureLayer(weight, planar, { sparsityEps: eps });
        metrics = measured.metrics;
        nonFinite = measured.nonFinite;
        flags = flagLayer(metrics, nonFinite, planar, eps);
      }
      const [out, inpg, kh, kw] = planar;
      const n = out * inpg;
      const twoD = layer.shape.length === 4;
      const label = `${kh}x${kw}`;
      if (twoD) kernelCounts.set(label, (kernelCounts.get(label) ?? 0) + n);
      const transposed = layer.kind === 'transposed' || /transpose/i.test(layer.op);
      let filterTable: LayerRow['filterTable'] = null;
      let first: number | null = null;
      if (twoD && (!transposed || options.includeTransposed)) {
        if (kh === 3 && kw === 3) {
          filterTable = 'filters';
          first = next3;
          await dbStep(() => writer.append3x3(weight, 0, n, next3, layerId, modelId));
          next3 += n;
        } else if (kernelAll) {
          filterTable = 'filters_other';
          first = nextOther;
          await dbStep(() => writer.appendOther(weight, 0, n, kh, kw, nextOther, layerId, modelId));
          nextOther += n;
        }
      }
      if (filterTable) stored += n;
      rows.push({
        layerId,
        index,
        name: layer.name,
        op: layer.op,
        kind: layer.kind,
        shape: layer.shape,
        groups: layer.groups,
        dtype: layer.dtype,
        graphDepth: layer.graphDepth,
        convDepth: layer.convDepth,
        convDepthNorm: layer.convDepthNorm,
        metrics,
        nonFinite,
        flags,
        filterTable,
        firstFilterId: first,
        filterCount: filterTable ? n : 0,
      });
      layerId++;
    }
    await dbStep(async () => {
      writer.close();
      await appendLayers(con, modelId, rows);
      await insertModelRow(con, modelId, model, record, {
        convLayers: rows.length,
        skipped,
        kernelCounts,
        stored,
      });
      await con.run('COMMIT');
    });
    return { modelId, layers: rows.length, filters: stored };
  } catch (e) {
    writer.abort();
    await con.run('ROLLBACK').catch(() => {});
    throw e;
  }
}

/** Appends layer rows through the appender (column order of the `layers` table). */
export async function appendLayers(con: DuckDBConnection, modelId: number, rows: LayerRow[]): Promise<void> {
  if (rows.length === 0) return;
  const app = await con.createAppender('layers');
  const intList = LIST(INTEGER);
  const strList = LIST(VARCHAR);
  const int = (v: number | null | undefined) =>
    v === null || v === undefined ? app.appendNull() : app.appendInteger(v);
  const big = (v: number | null | undefined) =>
    v === null || v === undefined ? app.appendNull() : app.appendBigInt(BigInt(v));
  const str = (v: string | null | undefined) =>
    v === null || v === undefined ? app.appendNull() : app.appendVarchar(v);
  const dbl = (v: number | null | undefined) =>
    v === null || v === undefined || Number.isNaN(v) ? app.appendNull() : app.appendDouble(v);
  for (const r of rows) {
    const spatial = r.shape.length === 4;
    const kh = spatial ? r.shape[2] : (r.kernelSize?.[0] ?? null);
    const kw = spatial ? r.shape[3] : (r.kernelSize?.[1] ?? null);
    int(r.layerId);
    int(modelId);
    int(r.index);
    str(r.name);
    str(r.op);
    str(r.kind);
    if (r.shape.length) app.appendList(r.shape, intList);
    else app.appendNull();
    str(kh !== null && kw !== null ? `${kh}x${kw}` : null);
    int(kh);
    int(kw);
    int(r.groups);
    str(r.dtype);
    int(r.graphDepth);
    int(r.convDepth);
    dbl(r.convDepthNorm);
    for (const [key, , type] of METRIC_COLUMNS) {
      const v = r.metrics ? r.metrics[key] : null;
      if (type === 'BIGINT') big(v);
      else dbl(v);
    }
    big(r.nonFinite);
    if (r.flags) {
      app.appendList(
        r.flags.map((f) => f.id),
        strList,
      );
      app.appendList(
        r.flags.map((f) => f.reason),
        strList,
      );
    } else {
      app.appendNull();
      app.appendNull();
    }
    str(r.filterTable);
    big(r.firstFilterId);
    big(r.filterCount);
    app.endRow();
  }
  app.closeSync();
}

export interface ModelCounts {
  convLayers: number;
  skipped: number;
  kernelCounts: Map<string, number>;
  stored: number;
}

export async function insertModelRow(
  con: DuckDBConnection,
  modelId: number,
  model: Pick<Model, 'format' | 'producer' | 'opset' | 'graphDepthKnown' | 'graphDepthLevels' | 'warnings'>,
  record: ModelRecord,
  counts: ModelCounts,
): Promise<void> {
  const keys = [...counts.kernelCounts.keys()].sort();
  let total = 0;
  for (const v of counts.kernelCounts.values()) total += v;
  const values: DuckDBValue[] = [
    modelId,
    record.name,
    record.file,
    record.hash,
    record.bytes,
    model.format,
    model.producer ?? null,
    model.opset ?? null,
    model.graphDepthKnown,
    model.graphDepthLevels ?? null,
    counts.convLayers,
    counts.skipped,
    counts.kernelCounts.get('3x3') ?? 0,
    total,
    listValue(keys),
    listValue(keys.map((k) => counts.kernelCounts.get(k) ?? 0)),
    counts.stored,
    record.source,
    listValue(model.warnings ?? []),
  ];
  await con.run(
    `INSERT INTO models VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
      MAP($15::VARCHAR[], $16::BIGINT[]), $17, $18, $19::VARCHAR[], current_localtimestamp())`,
    values,
    listTypes,
  );
}

const listTypes = Array(19).fill(undefined) as DuckDBType[];
listTypes[14] = LIST(VARCHAR);
listTypes[15] = LIST(BIGINT);
listTypes[18] = LIST(VARCHAR);

/** Counts for a quick summary (models, layers, 3x3 filters, other filters). */
export async function databaseCounts(con: DuckDBConnection): Promise<Record<string, number>> {
  const v = async (sql: string) => Number(await queryValue(con, sql));
  return {
    models: await v('SELECT count(*) FROM models'),
    layers: await v('SELECT count(*) FROM layers'),
    filters: await v('SELECT count(*) FROM filters'),
    filtersOther: await v('SELECT count(*) FROM filters_other'),
  };
}
