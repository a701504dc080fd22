/**
 * Node-only: ingesting model files into the filter database.
 *
 * Per model: hash its bytes (SHA-256, streamed); skip it when the same file with the same hash is stored
 * (or when another stored file has the same bytes); otherwise read it, measure every 2-D conv layer and
 * write the model row, its layers and its filters in ONE transaction (a changed file replaces its rows,
 * keeping its model_id and metadata). A failure while reading rolls that model back and the run goes on;
 * a killed process leaves every committed model intact and no half model (DuckDB's WAL + transactions).
 */
import { availableParallelism } from 'node:os';
import type { DuckDBConnection, DuckDBPreparedStatement, DuckDBType, DuckDBValue } from '@duckdb/node-api';
import { layerStats } from '../analysis/layer-stats.js';
import { isFilterDbError } from '../errors.js';
import { readModel } from '../formats/detect.js';
import type { ModelInput } from '../formats/io/source.js';
import { flagLayer } from '../metrics/flags.js';
import { defaultInitRule, type InitRule, layerInitDistance } from '../metrics/init-distance.js';
import { measureLayerFull } from '../metrics/layer-measure.js';
import { checkLayerWork, type LayerMeasurement, planarShape } from '../metrics/layer-report.js';
import type { LayerFlag, LayerMetrics } from '../metrics/types.js';
import type { ConvLayer, Model, WeightArray } from '../model/types.js';
import { openModelInput } from '../node/file-source.js';
import { QualityPool } from '../node/parallel-quality.js';
import { type FilterDb, mapDuckDbError, queryRows, queryValue } from './db.js';
import { BIGINT, INTEGER, LIST, listValue, VARCHAR } from './duckdb-api.js';
import { FilterWriter } from './filter-writer.js';
import {
  appendKernelPatterns,
  isPatternLayer,
  type KernelPatternRow,
  layerPatterns,
} from './kernel-pattern.js';
import { appendDiagnostics, type LayerDiagnostics } from './layer-diagnostics.js';
import { appendLayerStats, type LayerStatsRow } from './layer-stats.js';
import { applyMeta, type MetaReport, type MetaTable } from './meta.js';
import { METRIC_COLUMNS } from './schema.js';
import { type BufferedModel, discoverModels, hashModel, type ModelCandidate, readBuffered } from './walk.js';

export type KernelSelection = '3x3' | 'all';

export interface IngestOptions {
  /** Which kernels' filters to store: "3x3" (default) or "all" 2-D sizes. Layer metrics are always stored. */
  kernel?: KernelSelection;
  /** Store the filters of transposed convolutions too (default false, as in CNN Filter DB). */
  includeTransposed?: boolean;
  sparsityEps?: number;
  /**
   * Worker threads for the layer metrics: 0 = measure on this thread; default: a pool of
   * `defaultPoolSize()` when there is enough to measure (see {@link INGEST_POOL_MIN_BYTES}).
   */
  workers?: number;
  /** Do not compute layer metrics and flags (left NULL): benchmarks of the write path only. */
  skipMetrics?: boolean;
  /** Also store the WeightWatcher-style spectral metrics (metrics/spectral.ts). */
  spectral?: boolean;
  /** Also store the distance from random initialisation (`auto`: the rule by the file's format). */
  init?: { rule: InitRule | 'auto'; draws?: number };
  meta?: MetaTable;
  onProgress?: (p: IngestProgress) => void;
  onResult?: (r: ModelResult) => void;
  /** A file met in a directory walk and left out (e.g. a CNN Filter DB dataset.h5), with why. */
  onSkip?: (s: { path: string; reason: string }) => void;
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
  /** Files met in a directory walk that are not models (e.g. a dataset.h5: use import-h5). */
  skipped: { path: string; reason: string }[];
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

/** Next free ids (models, layers, 3x3 filters, other filters). */
export interface NextIds {
  model: number;
  layer: number;
  filter3: number;
  filterOther: number;
}

/**
 * What an ingest run keeps in memory instead of asking the database for every model: the stored models by
 * file and by content hash, and the next free ids. Valid while this connection is the only writer (DuckDB's
 * file lock makes the process the only writer; within it, nothing else may write during the run). Updated
 * only after a COMMIT succeeds, so a rolled-back model changes nothing.
 */
export interface IngestState {
  byFile: Map<string, { modelId: number; hash: string }>;
  byHash: Map<string, Set<string>>;
  ids: NextIds;
  /** The models-row INSERT, prepared once per run. */
  insertModel: DuckDBPreparedStatement | null;
}

/** Reads the stored models and next ids: the two queries a run needs (instead of three per model). */
export async function loadIngestState(con: DuckDBConnection): Promise<IngestState> {
  const byFile: IngestState['byFile'] = new Map();
  const byHash: IngestState['byHash'] = new Map();
  for (const row of await queryRows(
    con,
    'SELECT model_id, file, content_hash FROM models ORDER BY model_id',
  )) {
    const file = String(row.file);
    const hash = String(row.content_hash);
    byFile.set(file, { modelId: Number(row.model_id), hash });
    addToSet(byHash, hash, file);
  }
  return { byFile, byHash, ids: await nextIds(con), insertModel: null };
}

function addToSet(map: Map<string, Set<string>>, key: string, value: string): void {
  const set = map.get(key);
  if (set) set.add(value);
  else map.set(key, new Set([value]));
}

type Decision =
  | { status: 'unchanged'; modelId: number }
  | { status: 'duplicate'; of: string }
  | { status: 'write'; replaceId: number | null };

/** Same rules as before the in-memory state: same file and hash → unchanged; same bytes elsewhere → duplicate. */
function decide(state: IngestState, file: string, hash: string): Decision {
  const existing = state.byFile.get(file);
  if (existing && existing.hash === hash) return { status: 'unchanged', modelId: existing.modelId };
  for (const other of state.byHash.get(hash) ?? []) {
    if (other !== file) return { status: 'duplicate', of: other };
  }
  return { status: 'write', replaceId: existing ? existing.modelId : null };
}

function recordCommit(state: IngestState, file: string, hash: string, modelId: number, next: NextIds): void {
  const old = state.byFile.get(file);
  if (old) state.byHash.get(old.hash)?.delete(file);
  state.byFile.set(file, { modelId, hash });
  addToSet(state.byHash, hash, file);
  state.ids = next;
}

/**
 * Above this many model bytes still to ingest (and with ≥ 2 cores) the layer metrics run on a worker pool
 * (src/node/parallel-quality.ts), overlapping with reading the next model and writing the current one.
 * A pool costs ~40–60 ms to start; measured with bench/ingest.ts.
 */
export const INGEST_POOL_MIN_BYTES = 8_000_000;

/** Layers are sent to the workers in batches of at least this many weights (one message per batch). */
const BATCH_WEIGHTS = 1 << 18;

interface RunContext {
  options: IngestOptions;
  pool: QualityPool | null;
  /** Bytes of the candidates not yet prepared (decides whether a pool pays off). */
  bytesLeft: number;
  poolFailed: boolean;
}

/** A 2-D (or planar-viewed) conv layer read and, once `done` settles, measured. */
interface LoadedLayer {
  index: number;
  layer: ConvLayer;
  planar: number[];
  /**
   * Weight and measurement (measurement null with skipMetrics); rejects when measuring fails. On the pool the
   * work is already under way (and its rejection observed); without one it runs on this thread when called.
   */
  result: () => Promise<{ weight: WeightArray; measured: LayerMeasurement | null }>;
}

interface PreparedModel {
  candidate: ModelCandidate;
  hash?: string;
  error?: string;
  model?: Model;
  layers?: LoadedLayer[];
  skipped?: number;
}

/** Walks `inputs`, ingests every model found, then joins `options.meta` to the stored models. */
export async function ingestPaths(
  db: FilterDb,
  inputs: string[],
  options: IngestOptions = {},
): Promise<IngestSummary> {
  const t0 = performance.now();
  const { candidates, errors, skipped } = await discoverModels(inputs);
  const results: ModelResult[] = [];
  for (const { path, error } of errors) {
    const r: ModelResult = { file: path, name: path, status: 'failed', bytes: 0, error: error.message };
    results.push(r);
    options.onResult?.(r);
  }
  for (const s of skipped) options.onSkip?.(s);
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
  const state = await stateOf(db);
  const ctx: RunContext = {
    options,
    pool: null,
    bytesLeft: candidates.reduce((a, c) => a + c.bytes, 0),
    poolFailed: false,
  };
  try {
    // Pipeline: model i+1 is hashed, read and measured (on the pool) while model i is written.
    let next: Promise<PreparedModel> | null = candidates.length ? prepare(candidates[0], state, ctx) : null;
    for (let i = 0; i < candidates.length; i++) {
      const prepared = await next!;
      next = i + 1 < candidates.length ? prepare(candidates[i + 1], state, ctx) : null;
      progress(prepared.candidate.display);
      let r: ModelResult;
      try {
        r = await commitPrepared(db, prepared, state, ctx);
      } catch (e) {
        // the run stops (database error): let the read-ahead settle quietly
        next?.catch(() => {});
        throw e;
      }
      if (r.status === 'added' || r.status === 'replaced') {
        bytes += r.bytes;
        filters += r.filters ?? 0;
      }
      results.push(r);
      options.onResult?.(r);
      progress();
    }
  } finally {
    state.insertModel?.destroySync();
    state.insertModel = null;
    await ctx.pool?.close();
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
  return { results, skipped, meta, seconds: (performance.now() - t0) / 1000, bytes, filters, counts };
}

async function stateOf(db: FilterDb): Promise<IngestState> {
  try {
    return await loadIngestState(db.connection);
  } catch (e) {
    throw mapDuckDbError(db.path, e);
  }
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
  state?: IngestState,
): Promise<ModelResult> {
  const own = state ?? (await stateOf(db));
  const ctx: RunContext = { options, pool: null, bytesLeft: 0, poolFailed: false };
  try {
    return await commitPrepared(db, await prepare(c, own, ctx), own, ctx);
  } finally {
    if (!state) own.insertModel?.destroySync();
  }
}

/** The candidate's hash, from its bytes read into memory when it is small enough (then kept for reading). */
async function hashCandidate(
  c: ModelCandidate,
): Promise<{ buffered: BufferedModel | null; hash: string } | { error: string }> {
  try {
    const buffered = await readBuffered(c);
    return { buffered, hash: buffered ? buffered.hash : await hashModel(c) };
  } catch (e) {
    return { error: errorText(c.display, e) };
  }
}

/**
 * Hashes the candidate (from the buffered bytes when it is small enough) and, unless the stored state says
 * it is unchanged or a duplicate, reads it and starts measuring its layers. Never throws.
 */
async function prepare(c: ModelCandidate, state: IngestState, ctx: RunContext): Promise<PreparedModel> {
  const leftBefore = ctx.bytesLeft;
  ctx.bytesLeft -= c.bytes;
  const hashed = await hashCandidate(c);
  if ('error' in hashed) return { candidate: c, error: hashed.error };
  const { buffered, hash } = hashed;
  // A hint only (the write stage decides again, in order): skip reading what will not be written.
  if (decide(state, c.path, hash).status !== 'write') return { candidate: c, hash };
  return load(c, hash, buffered, ctx, leftBefore);
}

/**
 * A model hashed, read and measured away from the database (the server analyses uploads in a worker thread):
 * plain, structured-cloneable data holding everything the write stage needs.
 */
export interface AnalysedModel {
  candidate: ModelCandidate;
  hash: string;
  model: Omit<Model, 'layers'>;
  layers: {
    index: number;
    layer: Omit<ConvLayer, 'loadWeight'>;
    planar: number[];
    weight: WeightArray;
    measured: LayerMeasurement | null;
  }[];
  skipped: number;
}

/** Hashes, reads and measures one candidate on this thread; a bad model file gives `{ error }` (never throws). */
export async function analyseCandidate(
  c: ModelCandidate,
  options: IngestOptions = {},
): Promise<AnalysedModel | { error: string }> {
  const ctx: RunContext = {
    options: { ...options, workers: 0 },
    pool: null,
    bytesLeft: 0,
    poolFailed: false,
  };
  const hashed = await hashCandidate(c);
  if ('error' in hashed) return hashed;
  const { buffered, hash } = hashed;
  const p = await load(c, hash, buffered, ctx, 0);
  if (p.error !== undefined || !p.model || !p.layers) return { error: p.error ?? `${c.display}: not read` };
  const layers: AnalysedModel['layers'] = [];
  for (const l of p.layers) {
    try {
      const { weight, measured } = await l.result();
      const { name, op, kind, shape, groups, dtype, graphDepth, convDepth, convDepthNorm, attributes } =
        l.layer;
      const layer = {
        name,
        op,
        kind,
        shape,
        groups,
        dtype,
        graphDepth,
        convDepth,
        convDepthNorm,
        attributes,
      };
      layers.push({ index: l.index, layer, planar: l.planar, weight, measured });
    } catch (e) {
      return { error: errorText(c.display, e) };
    }
  }
  const { format, source, producer, opset, graphDepthKnown, graphDepthLevels, warnings } = p.model;
  const model = { format, source, producer, opset, graphDepthKnown, graphDepthLevels, warnings };
  return { candidate: c, hash, model, layers, skipped: p.skipped ?? 0 };
}

/** Writes a model {@link analyseCandidate} prepared, with ingest's rules (unchanged, duplicate, replaced). */
export async function ingestAnalysed(
  db: FilterDb,
  a: AnalysedModel,
  options: IngestOptions = {},
): Promise<ModelResult> {
  const state = await stateOf(db);
  const ctx: RunContext = { options, pool: null, bytesLeft: 0, poolFailed: false };
  const layers: LoadedLayer[] = a.layers.map((l) => {
    const done = Promise.resolve({ weight: l.weight, measured: l.measured });
    const layer: ConvLayer = { ...l.layer, loadWeight: async () => l.weight };
    return { index: l.index, layer, planar: l.planar, result: () => done };
  });
  const model: Model = { ...a.model, layers: layers.map((l) => l.layer) };
  try {
    return await commitPrepared(
      db,
      { candidate: a.candidate, hash: a.hash, model, layers, skipped: a.skipped },
      state,
      ctx,
    );
  } finally {
    state.insertModel?.destroySync();
  }
}

/** Reads the model, loads every planar conv weight and starts the measurements. Never throws. */
async function load(
  c: ModelCandidate,
  hash: string,
  buffered: BufferedModel | null,
  ctx: RunContext,
  bytesLeft: number,
): Promise<PreparedModel> {
  const loaded: { index: number; layer: ConvLayer; planar: number[]; weight: WeightArray }[] = [];
  let model: Model;
  let skipped = 0;
  let input: ModelInput | null = null;
  try {
    input = buffered ? await buffered.open() : await openModelInput(c.path);
    model = await readModel(input);
    for (const [index, layer] of model.layers.entries()) {
      // 1-D and 3-D convs are measured on their planar view (as `quality` does); only 2-D kernels store filters
      const planar = planarShape(layer.shape);
      if (!planar) {
        skipped++;
        continue;
      }
      if (!ctx.options.skipMetrics) checkLayerWork(model.source, layer, planar);
      loaded.push({ index, layer, planar, weight: await layer.loadWeight() });
    }
  } catch (e) {
    return { candidate: c, hash, error: errorText(c.display, e) };
  } finally {
    await input?.close?.().catch(() => {});
  }
  const { options } = ctx;
  const eps = options.sparsityEps;
  const spectral = options.spectral === true;
  let layers: LoadedLayer[];
  if (options.skipMetrics) {
    layers = loaded.map((l) => ({
      index: l.index,
      layer: l.layer,
      planar: l.planar,
      result: async () => ({ weight: l.weight, measured: null }),
    }));
  } else {
    const pool = poolFor(ctx, bytesLeft);
    if (!pool) {
      // measured on this thread now: this runs while the previous model's COMMIT is awaited
      layers = [];
      for (const l of loaded) {
        let done: Promise<{ weight: WeightArray; measured: LayerMeasurement | null }>;
        try {
          const measured = measureLayerFull(l.weight, l.planar, { sparsityEps: eps, spectral });
          done = Promise.resolve({ weight: l.weight, measured });
        } catch (e) {
          done = Promise.reject(e);
          done.catch(() => {});
        }
        layers.push({ index: l.index, layer: l.layer, planar: l.planar, result: () => done });
      }
    } else {
      layers = [];
      let batch: typeof loaded = [];
      let batchWeights = 0;
      const flush = () => {
        if (!batch.length) return;
        const items = batch;
        batch = [];
        batchWeights = 0;
        const sent = pool.measureMany(
          items.map((l) => ({ weight: l.weight, shape: l.planar })),
          { sparsityEps: eps, spectral },
        );
        sent.catch(() => {}); // awaited (and reported) by the write stage
        items.forEach((l, i) => {
          const done = sent.then((b) => ({ weight: b.weights[i], measured: b.results[i] }));
          done.catch(() => {});
          layers.push({ index: l.index, layer: l.layer, planar: l.planar, result: () => done });
        });
      };
      // biggest first within the model, so the two workers finish together; results are matched by index
      for (const l of [...loaded].sort((a, b) => b.weight.length - a.weight.length)) {
        batch.push(l);
        batchWeights += l.weight.length;
        if (batchWeights >= BATCH_WEIGHTS) flush();
      }
      flush();
      layers.sort((a, b) => a.index - b.index);
    }
  }
  return { candidate: c, hash, model, layers, skipped };
}

function poolFor(ctx: RunContext, bytesLeft: number): QualityPool | null {
  if (ctx.pool || ctx.poolFailed) return ctx.pool;
  const workers = ctx.options.workers;
  if (workers === 0) return null;
  if (workers === undefined && (bytesLeft < INGEST_POOL_MIN_BYTES || availableParallelism() < 2)) return null;
  try {
    ctx.pool = new QualityPool(workers);
  } catch {
    ctx.poolFailed = true;
  }
  return ctx.pool;
}

/** The write stage: decides (in order, against the committed state) and writes one model. */
async function commitPrepared(
  db: FilterDb,
  prepared: PreparedModel,
  state: IngestState,
  ctx: RunContext,
): Promise<ModelResult> {
  const c = prepared.candidate;
  const base = { file: c.path, name: c.name, bytes: c.bytes };
  if (prepared.error !== undefined || prepared.hash === undefined) {
    return { ...base, status: 'failed', error: prepared.error ?? `${c.display}: not hashed` };
  }
  const hash = prepared.hash;
  const d = decide(state, c.path, hash);
  if (d.status === 'unchanged') {
    return { ...base, status: 'unchanged', modelId: d.modelId };
  }
  if (d.status === 'duplicate') {
    return { ...base, status: 'duplicate', duplicateOf: d.of };
  }
  // The hint said skip but the state changed since (the model before this one was written): read it now.
  const ready = prepared.model ? prepared : await load(c, hash, null, ctx, 0);
  if (ready.error !== undefined || !ready.model || !ready.layers) {
    return { ...base, status: 'failed', error: ready.error ?? `${c.display}: not read` };
  }
  let measured: MeasuredLayer[];
  try {
    measured = await finishLayers(ready.layers, ctx.options, ready.model.format);
  } catch (e) {
    return { ...base, status: 'failed', error: errorText(c.display, e) };
  }
  try {
    const written = await writeMeasured(
      db.connection,
      ready.model,
      measured,
      ready.skipped ?? 0,
      { name: c.name, file: c.path, hash, bytes: c.bytes, source: 'ingest' },
      ctx.options,
      d.replaceId,
      state,
    );
    recordCommit(state, c.path, hash, written.modelId, written.next);
    return {
      ...base,
      status: d.replaceId === null ? 'added' : 'replaced',
      modelId: written.modelId,
      layers: written.layers,
      filters: written.filters,
    };
  } catch (e) {
    if (e instanceof StoreWriteError) throw mapDuckDbError(db.path, e.cause);
    return { ...base, status: 'failed', error: errorText(c.display, e) };
  }
}

interface MeasuredLayer {
  index: number;
  layer: ConvLayer;
  planar: number[];
  weight: WeightArray;
  metrics: LayerMetrics | null;
  nonFinite: number | null;
  flags: LayerFlag[] | null;
  diagnostics?: LayerDiagnostics;
}

/** Spectral result (measured with the metrics) and init distance (from the cached null) of one layer. */
function diagnosticsOf(
  measured: LayerMeasurement,
  layer: ConvLayer,
  planar: number[],
  format: string,
  options: IngestOptions,
): LayerDiagnostics {
  const d: LayerDiagnostics = { spectral: measured.spectral ?? null };
  if (options.init && measured.nonFinite === 0) {
    const rule = options.init.rule === 'auto' ? defaultInitRule(format) : options.init.rule;
    d.init = layerInitDistance(measured.metrics, planar, layer.groups, {
      rule,
      draws: options.init.draws,
      sparsityEps: options.sparsityEps,
    });
  }
  return d;
}

/**
 * The layer's non-finite weights as the filters table holds them (float32): float64 weights beyond ±3.4e38
 * (a 1e200 in a float64 safetensors) are stored as ±Infinity, so scans must leave the layer out like a NaN one.
 */
function storedNonFinite(weight: WeightArray, nonFinite: number): number {
  if (!(weight instanceof Float64Array)) return nonFinite;
  let overflow = 0;
  for (let i = 0; i < weight.length; i++) {
    const v = weight[i];
    if (Number.isFinite(v) && !Number.isFinite(Math.fround(v))) overflow++;
  }
  return nonFinite + overflow;
}

/** Waits for every layer's measurement (in layer order) and adds the flags. */
async function finishLayers(
  layers: LoadedLayer[],
  options: IngestOptions,
  format: string,
): Promise<MeasuredLayer[]> {
  const out: MeasuredLayer[] = [];
  let failure: unknown = null;
  for (const l of layers) {
    try {
      const { weight, measured } = await l.result();
      const flags = measured
        ? flagLayer(measured.metrics, measured.nonFinite, l.planar, options.sparsityEps)
        : null;
      out.push({
        index: l.index,
        layer: l.layer,
        planar: l.planar,
        weight,
        metrics: measured?.metrics ?? null,
        nonFinite: measured ? storedNonFinite(weight, measured.nonFinite) : null,
        flags,
        diagnostics: measured ? diagnosticsOf(measured, l.layer, l.planar, format, options) : undefined,
      });
    } catch (e) {
      failure ??= e; // keep waiting for the rest so nothing is left running unobserved
    }
  }
  if (failure !== null) throw failure;
  return out;
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
  /** Spectral metrics and init distance (NULL columns when absent). */
  diagnostics?: LayerDiagnostics;
}

/** Next free ids, read inside the writer's transaction (one writer per database file). */
export async function nextIds(con: DuckDBConnection): Promise<NextIds> {
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
 * Loads and measures the layers on this thread first (ingestPaths pipelines that instead).
 * Errors from the model's reader propagate as they are; database errors as StoreWriteError.
 */
export async function writeModel(
  con: DuckDBConnection,
  model: Model,
  record: ModelRecord,
  options: IngestOptions,
  replaceId: number | null,
): Promise<{ modelId: number; layers: number; filters: number }> {
  const eps = options.sparsityEps;
  const measured: MeasuredLayer[] = [];
  let skipped = 0;
  for (const [index, layer] of model.layers.entries()) {
    const planar = planarShape(layer.shape);
    if (!planar) {
      skipped++;
      continue;
    }
    if (!options.skipMetrics) checkLayerWork(model.source, layer, planar);
    const weight = await layer.loadWeight();
    let m: LayerMeasurement | null = null;
    if (!options.skipMetrics)
      m = measureLayerFull(weight, planar, { sparsityEps: eps, spectral: options.spectral === true });
    measured.push({
      index,
      layer,
      planar,
      weight,
      metrics: m?.metrics ?? null,
      nonFinite: m ? storedNonFinite(weight, m.nonFinite) : null,
      flags: m ? flagLayer(m.metrics, m.nonFinite, planar, eps) : null,
      diagnostics: m ? diagnosticsOf(m, layer, planar, model.format, options) : undefined,
    });
  }
  const { modelId, layers, filters } = await writeMeasured(
    con,
    model,
    measured,
    skipped,
    record,
    options,
    replaceId,
    null,
  );
  return { modelId, layers, filters };
}

/**
 * The transaction: BEGIN, (delete the replaced model's rows), filters through the appender, layer rows,
 * the model row, COMMIT. Ids come from `state` (kept in memory by ingestPaths) or, without one, are read
 * inside the transaction. Returns the ids to use next; the caller records them only after this resolves.
 */
async function writeMeasured(
  con: DuckDBConnection,
  model: Model,
  measured: MeasuredLayer[],
  skipped: number,
  record: ModelRecord,
  options: IngestOptions,
  replaceId: number | null,
  state: IngestState | null,
): Promise<{ modelId: number; layers: number; filters: number; next: NextIds }> {
  const kernelAll = options.kernel === 'all';
  await dbStep(() => con.run('BEGIN TRANSACTION'));
  const writer = new FilterWriter(con);
  try {
    if (replaceId !== null) {
      await dbStep(async () => {
        for (const t of MODEL_TABLES) {
          await con.run(`DELETE FROM ${t} WHERE model_id = ${replaceId}`);
        }
      });
    }
    const ids = state ? state.ids : await dbStep(() => nextIds(con));
    const modelId = replaceId ?? ids.model;
    let layerId = ids.layer;
    let next3 = ids.filter3;
    let nextOther = ids.filterOther;
    const rows: LayerRow[] = [];
    const stats: LayerStatsRow[] = [];
    const patterns: KernelPatternRow[] = [];
    const kernelCounts = new Map<string, number>();
    let stored = 0;
    for (const m of measured) {
      const { layer, planar, weight } = m;
      const [out, inpg, kh, kw] = planar;
      const n = out * inpg;
      // 2-D convs and 1-D convs (stored as the 1×k filters they are measured as); 3-D convs keep metrics only
      const twoD = layer.shape.length === 4 || layer.shape.length === 3;
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
          stats.push({ layerId, stats: layerStats(weight, n) });
          next3 += n;
        } else if (kernelAll) {
          filterTable = 'filters_other';
          first = nextOther;
          await dbStep(() => writer.appendOther(weight, 0, n, kh, kw, nextOther, layerId, modelId));
          nextOther += n;
        }
      }
      if (filterTable) stored += n;
      // labelled whether or not the filters are stored (`--kernel 3x3` leaves 5x5 and 7x7 out)
      if (isPatternLayer(layer.kind, layer.shape))
        patterns.push({ layerId, kernels: layerPatterns(weight, layer.shape) });
      rows.push({
        layerId,
        index: m.index,
        name: layer.name,
        op: layer.op,
        kind: layer.kind,
        shape: layer.shape,
        groups: layer.groups,
        dtype: layer.dtype,
        graphDepth: layer.graphDepth,
        convDepth: layer.convDepth,
        convDepthNorm: layer.convDepthNorm,
        metrics: m.metrics,
        nonFinite: m.nonFinite,
        flags: m.flags,
        diagnostics: m.diagnostics,
        filterTable,
        firstFilterId: first,
        filterCount: filterTable ? n : 0,
      });
      layerId++;
    }
    const counts = { convLayers: rows.length, skipped, kernelCounts, stored };
    await dbStep(async () => {
      writer.close();
      await appendLayers(con, modelId, rows);
      await appendLayerStats(con, modelId, stats);
      await appendKernelPatterns(con, modelId, patterns);
      if (state) {
        state.insertModel ??= await con.prepare(INSERT_MODEL_SQL);
        state.insertModel.bind(modelRowValues(modelId, model, record, counts), listTypes);
        await state.insertModel.run();
      } else {
        await insertModelRow(con, modelId, model, record, counts);
      }
      await con.run('COMMIT');
    });
    const next: NextIds = {
      model: Math.max(ids.model, modelId + 1),
      layer: layerId,
      filter3: next3,
      filterOther: nextOther,
    };
    return { modelId, layers: rows.length, filters: stored, next };
  } catch (e) {
    writer.abort();
    await con.run('ROLLBACK').catch(() => {});
    throw e;
  }
}

/** The tables holding a model's rows by model_id (deleted when it is replaced). */
export const MODEL_TABLES = ['filters', 'filters_other', 'layers', 'layer_stats', 'kernel_pattern', 'models'];

/** kh and kw of a layer row: 2-D kernels as they are, 1-D kernels as the 1×k filters they are measured as. */
function storedKernel(r: LayerRow): [number | null, number | null] {
  if (r.shape.length === 4) return [r.shape[2], r.shape[3]];
  if (r.shape.length === 3) return [1, r.shape[2]];
  return [r.kernelSize?.[0] ?? null, r.kernelSize?.[1] ?? null];
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
    const [kh, kw] = storedKernel(r);
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
    appendDiagnostics(app, r.diagnostics);
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
  await con.run(INSERT_MODEL_SQL, modelRowValues(modelId, model, record, counts), listTypes);
}

const INSERT_MODEL_SQL = `INSERT INTO models VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
      MAP($15::VARCHAR[], $16::BIGINT[]), $17, $18, $19::VARCHAR[], current_localtimestamp())`;

function modelRowValues(
  modelId: number,
  model: Pick<Model, 'format' | 'producer' | 'opset' | 'graphDepthKnown' | 'graphDepthLevels' | 'warnings'>,
  record: ModelRecord,
  counts: ModelCounts,
): DuckDBValue[] {
  const keys = [...counts.kernelCounts.keys()].sort();
  let total = 0;
  for (const v of counts.kernelCounts.values()) total += v;
  return [
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
