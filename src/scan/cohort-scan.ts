/**
 * Node-only: `filterdb cohorts` over a filter database — the plan (models, their cohort and correlation
 * value, their selected 3x3 layers with depth bin and output channels) and the streamed passes of
 * analysis/cohorts.ts.
 *
 * The per-layer quantities need a layer's filters together (its max|W| decides which filters are sparse, its
 * out × in·9 matrix gives the orthogonality), so the scan reads whole layers, one chunk of consecutive layers
 * at a time (at most {@link CHUNK_FILTERS} filters, or one larger layer), in filter_id order, and drops each
 * chunk before the next: memory is bounded by the largest layer, never a model or the selection. Passes:
 * 1. per-layer metrics into per-model sums, and the moments of the non-sparse peak-scaled filters (the basis);
 * 2. the coefficient range of those filters on the basis;
 * 3. the per cohort × bin histograms.
 * With a stored basis and range (`--basis`), pass 1 histograms directly: one scan.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import {
  COHORT_BINS,
  CohortHistograms,
  type CohortModel,
  type CohortsResult,
  cohortBin,
  cohortCorrelation,
  cohortDivergence,
  cohortModel,
  keptFilters,
  keptRange,
  LayerScratch,
  ModelAccumulator,
  maxAbsOf,
  measureCohortLayer,
  newProjectionBlock,
} from '../analysis/cohorts.js';
import { compareCodePoints, NONE_GROUP } from '../analysis/groups.js';
import { batchMoments, emptyMoments, mergeMoments } from '../analysis/moments.js';
import { flatComponents, type PcaBasis, pcaFromMoments } from '../analysis/pca.js';
import { FilterDbError } from '../errors.js';
import { queryRows } from '../store/db.js';
import { readKernelLabels } from '../store/kernel-pattern.js';
import { hasKernelPattern } from '../store/schema.js';
import { BatchReader } from './batch-read.js';
import { openScanSource, type ScanSource } from './filter-scan.js';
import { KERNEL_3X3, type KernelSize, kernelDims, kernelLabel } from './kernel-size.js';
import {
  checkWhere,
  firstLine,
  groupingExpression,
  MAX_GROUPS,
  modelLabels,
  PATTERN_GROUPING,
  refusePatternKernel,
  SelectionError,
  storedLayers,
  TooManyGroupsError,
} from './selection.js';

export interface CohortLayer {
  layerId: number;
  /** Index into {@link CohortPlan.models}. */
  model: number;
  first: number;
  count: number;
  /** Depth bin (analysis/cohorts.ts cohortBin), -1 for none. */
  bin: number;
  /** Output channels when the stored shape accounts for the layer's filters, else null (no orthogonality). */
  out: number | null;
  /**
   * `--by pattern`: the member (index into {@link CohortPlan.models}) of each of the layer's filters, in
   * filter_id order; `model` is then unused.
   */
  members?: Int32Array;
}

export interface CohortPlanModel {
  modelId: number;
  name: string;
  group: string;
  /** The --correlate column's value (null when absent or without --correlate). */
  value: number | null;
}

/**
 * A cohort plan. With `--by <column>` a member is a model; with `--by pattern` it is a model's filters of one
 * label (its depthwise kernels of that atlas label; `(none)`: its other filters), so a model is a member of
 * every cohort it has kernels in.
 */
export interface CohortPlan {
  by: string;
  where: string | null;
  correlate: string | null;
  models: CohortPlanModel[];
  /** Cohort labels sorted as strings. */
  groups: string[];
  /** Kernel size of the selected layers' filters (`--kernel`, default 3x3). */
  kernel: KernelSize;
  /** The selected layers (of {@link kernel}) in filter_id order. */
  layers: CohortLayer[];
  filterCount: number;
  /** Layers left out for NaN/infinite weights (non_finite > 0): they cannot be peak-scaled. */
  nonFinite: { layers: number; filters: number };
}

/** A column or SQL expression on layer_info as `shift --by` reads it ({@link groupingExpression}), checked. */
async function layerInfoExpression(con: DuckDBConnection, text: string, option: string): Promise<string> {
  const expr = await groupingExpression(con, text);
  try {
    await con.runAndReadAll(`SELECT ${expr} FROM layer_info LIMIT 0`);
  } catch (e) {
    throw new SelectionError(
      `${option} ${JSON.stringify(text)} is neither a column of layer_info (see \`filterdb sql --db … "DESCRIBE layer_info"\`) nor a valid SQL expression on it: ${firstLine(e)}`,
    );
  }
  return expr;
}

/**
 * The models of the selection (every model with a layer_info row matching `where`, 3x3 layers or not), each
 * with one cohort label (`by` must be constant over a model's layers; NULL → `(none)`), and their selected
 * 3x3 layers (the `filters` table, transposed convolutions left out as in `shift`).
 */
export async function planCohorts(
  con: DuckDBConnection,
  options: { by: string; where?: string | null; correlate?: string | null; kernel?: KernelSize },
): Promise<CohortPlan> {
  const kernel = options.kernel ?? KERNEL_3X3;
  const by = options.by.trim();
  if (!by) throw new SelectionError('--by needs a column or an SQL expression');
  const where = options.where?.trim() || null;
  const correlate = options.correlate?.trim() || null;
  const perFilter = by === PATTERN_GROUPING;
  if (perFilter) refusePatternKernel(kernel);
  if (perFilter && !(await hasKernelPattern(con)))
    throw new SelectionError(
      '--by pattern reads the depthwise kernel labels of the kernel_pattern table, which this database (built before it) lacks: open it for writing once (`filterdb upgrade --db …` adds and fills it)',
    );
  const byExpr = perFilter ? 'NULL' : await layerInfoExpression(con, by, '--by');
  const corrExpr = correlate === null ? 'NULL' : await layerInfoExpression(con, correlate, '--correlate');
  if (where !== null) await checkWhere(con, where);
  const whereSql = where !== null ? `WHERE (${where})` : '';
  let modelRows: Record<string, unknown>[];
  try {
    modelRows = await queryRows(
      con,
      `SELECT model_id, any_value(model) AS model, count(DISTINCT g) AS distinct_g, min(g) AS g,
              count(g) AS with_g, count(*) AS layers,
              count(c) AS with_c, count(cd) AS numeric_c, min(cd) AS c_lo, max(cd) AS c_hi
       FROM (SELECT model_id, model, CAST(${byExpr} AS VARCHAR) AS g, ${corrExpr} AS c,
                    TRY_CAST(${corrExpr} AS DOUBLE) AS cd
             FROM layer_info ${whereSql})
       GROUP BY model_id`,
    );
  } catch (e) {
    throw new SelectionError(`cannot evaluate the selection: ${firstLine(e)}`);
  }
  const layerRows = await storedLayers(
    con,
    'layer_id, model_id, first_filter_id, filter_count, conv_depth, conv_depth_norm, shape',
    where,
    kernel,
  );
  // models are named as `shift --by model` labels them: the stored name, told apart when several share it
  const labels = await modelLabels(con);
  const models: CohortPlanModel[] = [];
  const index = new Map<number, number>();
  for (const r of modelRows) {
    const name = labels.get(Number(r.model_id)) ?? String(r.model);
    if (Number(r.distinct_g) > 1 || (Number(r.with_g) > 0 && Number(r.with_g) < Number(r.layers)))
      throw new SelectionError(
        `--by ${JSON.stringify(by)} must give one value per model (a cohort is a set of models), but model ${name} has several`,
      );
    if (Number(r.with_c) > Number(r.numeric_c))
      throw new SelectionError(`--correlate ${JSON.stringify(correlate)} is not numeric (model ${name})`);
    if (r.c_lo !== r.c_hi)
      throw new SelectionError(
        `--correlate ${JSON.stringify(correlate)} must give one value per model, but model ${name} has several`,
      );
    index.set(Number(r.model_id), models.length);
    models.push({
      modelId: Number(r.model_id),
      name,
      group: by === 'model' ? name : r.g === null || r.g === undefined ? NONE_GROUP : String(r.g),
      value: typeof r.c_lo === 'number' && Number.isFinite(r.c_lo) ? r.c_lo : null,
    });
  }
  const groups = [...new Set(models.map((m) => m.group))].sort(compareCodePoints);
  if (groups.length > MAX_GROUPS)
    throw new TooManyGroupsError(
      `--by ${by} gives ${groups.length.toLocaleString('en-US')} cohorts; at most ${MAX_GROUPS.toLocaleString('en-US')} can be compared`,
    );
  const layers: CohortLayer[] = [];
  const nonFinite = { layers: 0, filters: 0 };
  let filterCount = 0;
  for (const r of layerRows) {
    const count = Number(r.filter_count);
    if (r.non_finite === true) {
      nonFinite.layers++;
      nonFinite.filters += count;
      continue;
    }
    const shape = Array.isArray(r.shape) ? r.shape.map(Number) : null;
    const out =
      shape && shape.length === 4 && shape[0] > 0 && shape[0] * shape[1] === count ? shape[0] : null;
    layers.push({
      layerId: Number(r.layer_id),
      model: index.get(Number(r.model_id))!,
      first: Number(r.first_filter_id),
      count,
      bin: cohortBin(
        typeof r.conv_depth === 'number' ? r.conv_depth : null,
        typeof r.conv_depth_norm === 'number' ? r.conv_depth_norm : null,
      ),
      out,
    });
    filterCount += count;
  }
  const plan = { by, where, correlate, models, groups, kernel, layers, filterCount, nonFinite };
  return perFilter ? await patternMembers(con, plan) : plan;
}

/**
 * The `--by pattern` plan: members (model, label) from the stored kernel labels of the selected layers — a
 * depthwise layer's filters each in its model's member of their label, any other layer whole in its model's
 * `(none)` member (also the member of a model with no selected layer).
 */
async function patternMembers(con: DuckDBConnection, plan: CohortPlan): Promise<CohortPlan> {
  const labels = await readKernelLabels(
    con,
    plan.layers.map((l) => l.layerId),
  );
  const members: CohortPlanModel[] = [];
  const memberOf = new Map<string, number>();
  const member = (model: number, group: string) => {
    const key = `${model}\u0000${group}`;
    let m = memberOf.get(key);
    if (m === undefined) {
      m = members.length;
      memberOf.set(key, m);
      members.push({ ...plan.models[model], group });
    }
    return m;
  };
  const layers = plan.layers.map((l) => {
    const own = labels.get(l.layerId);
    if (!own || own.length !== l.count || own.some((x) => x === undefined))
      return { ...l, model: member(l.model, NONE_GROUP) };
    return { ...l, model: -1, members: Int32Array.from(own, (g) => member(l.model, g)) };
  });
  const present = new Set(members.map((m) => m.modelId));
  plan.models.forEach((m, i) => {
    if (!present.has(m.modelId)) member(i, NONE_GROUP);
  });
  const groups = [...new Set(members.map((m) => m.group))].sort(compareCodePoints);
  return { ...plan, models: members, groups, layers };
}

/**
 * A layer's filters split by member (`--by pattern`): per member its filters (row-major, in filter order) and
 * their output-channel count when each filter is one output channel (a depthwise layer), else null. 3x3 filters
 * only (planCohorts refuses `--by pattern` with another kernel size).
 */
function memberParts(
  l: CohortLayer,
  w: Float32Array,
): { member: number; w: Float32Array; count: number; out: number | null }[] {
  const members = l.members!;
  const counts = new Map<number, number>();
  for (const m of members) counts.set(m, (counts.get(m) ?? 0) + 1);
  const parts = [...counts].map(([member, count]) => ({
    member,
    w: new Float32Array(count * 9),
    count,
    out: l.out === l.count ? count : null,
  }));
  const at = new Map(parts.map((p) => [p.member, { part: p, fill: 0 }]));
  members.forEach((m, f) => {
    const t = at.get(m)!;
    t.part.w.set(w.subarray(f * 9, f * 9 + 9), t.fill * 9);
    t.fill++;
  });
  return parts;
}

/** Filters read per query (consecutive layers together; a larger layer alone): ≈ 10 MB of columns. */
export const CHUNK_FILTERS = 1 << 18;

const WEIGHT_COLUMNS = ['w0', 'w1', 'w2', 'w3', 'w4', 'w5', 'w6', 'w7', 'w8'];

/** Consecutive layers whose filter ids touch, up to CHUNK_FILTERS each (a larger layer alone). */
function chunks(layers: readonly CohortLayer[], limit: number): CohortLayer[][] {
  const out: CohortLayer[][] = [];
  let cur: CohortLayer[] = [];
  let size = 0;
  for (const l of layers) {
    const last = cur[cur.length - 1];
    if (cur.length > 0 && (last.first + last.count !== l.first || size + l.count > limit)) {
      out.push(cur);
      cur = [];
      size = 0;
    }
    cur.push(l);
    size += l.count;
  }
  if (cur.length) out.push(cur);
  return out;
}

/**
 * Reads whole layers (row-major filters in filter_id order) from a scan source: 3x3 filters from `filters`
 * (a row a filter: its position, w0..w8), other kernel sizes from `filters_other` (a row a value, the list
 * unnested: its position filter·dims + index, the value).
 */
class LayerReader {
  private cols: (Float32Array | Int32Array)[] = [];
  private rows = new Float32Array(0);
  private batch: BatchReader | null = null;
  /** Values per result row, the table and the position expression (`$1`: the first filter_id read). */
  private readonly perRow: number;
  private readonly table: 'filters' | 'filters_other';
  private readonly position: string;
  private readonly values: string[];
  constructor(
    private readonly path: string,
    private readonly source: ScanSource,
    private readonly dims = 9,
  ) {
    if (dims === 9) {
      this.perRow = 9;
      this.table = 'filters';
      this.position = 'CAST(filter_id - $1 AS INTEGER)';
      this.values = WEIGHT_COLUMNS;
    } else {
      this.perRow = 1;
      this.table = 'filters_other';
      this.position = `CAST((filter_id - $1) * ${dims} AS INTEGER) + CAST(generate_subscripts(w, 1) AS INTEGER) - 1`;
      this.values = ['unnest(w)'];
    }
  }

  private columns(cap: number): (Float32Array | Int32Array)[] {
    if (this.cols.length === 0 || this.cols[0].length < cap)
      this.cols = [new Int32Array(cap), ...this.values.map(() => new Float32Array(cap))];
    return this.cols;
  }

  /** The rows of filter_id [lo, hi) as row-major filters (valid until the next call). */
  async read(lo: number, hi: number): Promise<Float32Array> {
    const d = this.dims;
    const size = ((hi - lo) * d) / this.perRow; // result rows expected
    const cols = this.columns(size + 1);
    const n = cols.length;
    let got = 0;
    if (this.source.native) {
      const { reader, db } = this.source.native;
      const scan = reader.query(
        db,
        `SELECT ${this.position.replace('$1', String(lo))}, ${this.values.join(', ')} FROM ${this.table} WHERE filter_id >= ${lo} AND filter_id < ${hi}`,
      );
      try {
        got = reader.fill(scan, cols, 0, size + 1, null);
      } finally {
        reader.closeScan(scan);
      }
    } else {
      this.batch ??= new BatchReader(this.source.con, [this.position, ...this.values], this.table);
      await this.batch.read(lo, hi, (rows, v) => {
        if (got + rows > size) {
          got += rows;
          return;
        }
        for (let c = 0; c < n; c++)
          cols[c].set(
            c === 0
              ? new Int32Array(v[c].slice(0, rows * 4).buffer)
              : new Float32Array(v[c].slice(0, rows * 4).buffer),
            got,
          );
        got += rows;
      });
    }
    if (got !== size)
      throw new FilterDbError(
        'corrupt',
        this.path,
        `filters ${lo}..${hi - 1} should be ${size} rows of ${this.perRow === 1 ? `${d} values in the filters_other table` : 'the filters table'}, found ${got}`,
      );
    const total = (hi - lo) * d;
    if (this.rows.length < total) this.rows = new Float32Array(total);
    const rows = this.rows;
    const pos = cols[0] as Int32Array;
    const per = this.perRow;
    for (let c = 0; c < per; c++) {
      const w = cols[c + 1];
      for (let r = 0; r < size; r++) rows[pos[r] * per + c] = w[r];
    }
    return rows.subarray(0, total);
  }

  close(): void {
    this.batch?.close();
    this.batch = null;
  }
}

export interface CohortScanOptions {
  /** A stored basis (`pca --save`) instead of fitting one; its range when stored. */
  basis?: { basis: PcaBasis; range: [number, number] | null };
  bins?: number;
  /** Filters read per query (default {@link CHUNK_FILTERS}; tests make it small to cross chunk edges). */
  chunkFilters?: number;
  onProgress?: (filters: number, pass: string) => void;
  /** Stops the scan between chunks (the server's request deadline, or a client that left). */
  signal?: AbortSignal;
}

/** One pass over the plan's layers: `visit(layer, its row-major filters)` in filter_id order. */
async function scanLayers(
  path: string,
  plan: CohortPlan,
  pass: string,
  visit: (layer: CohortLayer, w: Float32Array) => void,
  options: CohortScanOptions,
): Promise<void> {
  const source = await openScanSource(path, 1);
  const d = kernelDims(plan.kernel);
  const reader = new LayerReader(path, source, d);
  // chunks of about the same bytes whatever the kernel size
  const limit = options.chunkFilters ?? Math.max(1, Math.floor((CHUNK_FILTERS * 9) / d));
  try {
    let done = 0;
    for (const chunk of chunks(plan.layers, limit)) {
      options.signal?.throwIfAborted();
      const lo = chunk[0].first;
      const last = chunk[chunk.length - 1];
      const w = await reader.read(lo, last.first + last.count);
      for (const l of chunk) visit(l, w.subarray((l.first - lo) * d, (l.first - lo + l.count) * d));
      done += last.first + last.count - lo;
      options.onProgress?.(done, pass);
      await new Promise((resolve) => setImmediate(resolve)); // a server stays responsive
    }
  } finally {
    reader.close();
    source.close();
  }
}

/** `filterdb cohorts` on a planned selection, streamed from the store. */
export async function storeCohorts(
  path: string,
  plan: CohortPlan,
  options: CohortScanOptions = {},
): Promise<CohortsResult> {
  const groupIndex = new Map(plan.groups.map((g, i) => [g, i]));
  const cohortOf = plan.models.map((m) => groupIndex.get(m.group)!);
  const accs = plan.models.map(() => new ModelAccumulator());
  const scratch = new LayerScratch();
  const bins = options.bins ?? 70;
  const given = options.basis;
  const dims = kernelDims(plan.kernel);
  if (given && given.basis.dims !== dims)
    throw new SelectionError(
      `the basis has ${given.basis.dims} dimensions, the selected ${kernelLabel(plan.kernel)} filters have ${dims}`,
    );
  const moments = emptyMoments(dims);
  let kept = 0;
  const histogramsOn = (basis: PcaBasis, range: [number, number]) =>
    new CohortHistograms(
      plan.groups.length,
      Float64Array.from(basis.mean),
      flatComponents(basis),
      range[0],
      range[1],
      bins,
    );
  // a stored basis with its range: histograms in the first pass
  let hist = given?.range ? histogramsOn(given.basis, given.range) : null;
  await scanLayers(
    path,
    plan,
    'layers',
    (l, w) => {
      if (l.members) {
        // per member (3x3 only); the basis from the whole layer, as with any other grouping
        const max = maxAbsOf(w, l.count * dims);
        for (const p of memberParts(l, w)) {
          const r = measureCohortLayer(p.w, p.count, p.out, scratch, max);
          accs[p.member].add(l.bin, r.stats);
          kept += r.kept.kept;
          if (hist) hist.add(cohortOf[p.member], l.bin, r.kept);
        }
        const k = hist || given ? null : keptFilters(w, l.count, scratch);
        if (k && k.kept > 0) mergeMoments(moments, batchMoments(k.scaled, k.kept, dims));
        return;
      }
      const r = measureCohortLayer(w, l.count, l.out, scratch, undefined, dims);
      accs[l.model].add(l.bin, r.stats);
      kept += r.kept.kept;
      if (hist) hist.add(cohortOf[l.model], l.bin, r.kept);
      else if (!given && r.kept.kept > 0)
        mergeMoments(moments, batchMoments(r.kept.scaled, r.kept.kept, dims));
    },
    options,
  );
  let basis: PcaBasis | null = given?.basis ?? null;
  if (!given && !(moments.mean.every(Number.isFinite) && moments.scatter.every(Number.isFinite)))
    // layers counted at ingest are planned out when they hold NaN/inf; uncounted ones (imported) end here
    throw new SelectionError(
      'the selected filters hold NaN or infinite weights (in layers without a non_finite count, such as imported ones); leave those layers out with --where',
    );
  if (!basis && moments.n >= 2) basis = pcaFromMoments(moments);
  if (basis && !hist) {
    const b = basis;
    const mean = Float64Array.from(b.mean);
    const comps = flatComponents(b);
    const range: [number, number] = [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
    const block = newProjectionBlock(dims);
    await scanLayers(
      path,
      plan,
      'range',
      (l, w) => {
        const k = keptFilters(w, l.count, scratch, undefined, dims);
        if (k.kept > 0) keptRange(k, mean, comps, block, range);
      },
      options,
    );
    if (range[0] <= range[1]) {
      const h = histogramsOn(b, range);
      await scanLayers(
        path,
        plan,
        'histograms',
        (l, w) => {
          if (!l.members)
            return h.add(cohortOf[l.model], l.bin, keptFilters(w, l.count, scratch, undefined, dims));
          const max = maxAbsOf(w, l.count * dims);
          for (const p of memberParts(l, w))
            h.add(cohortOf[p.member], l.bin, keptFilters(p.w, p.count, scratch, max));
        },
        options,
      );
      hist = h;
    }
  }
  return cohortsResult(
    plan,
    accs,
    basis && hist ? cohortDivergence(hist, basis.explainedVarianceRatio, kept) : null,
  );
}

/** The result of a plan's per-model sums and divergence (models sorted; the correlation when asked for). */
export function cohortsResult(
  plan: CohortPlan,
  accs: ModelAccumulator[],
  divergence: CohortsResult['divergence'],
): CohortsResult {
  const models: CohortModel[] = plan.models.map((m, i) => cohortModel(m.name, m.group, accs[i]));
  const order = models.map((_, i) => i);
  order.sort(
    (a, b) =>
      compareCodePoints(models[a].group, models[b].group) ||
      compareCodePoints(models[a].model, models[b].model) ||
      plan.models[a].modelId - plan.models[b].modelId,
  );
  const sorted = order.map((i) => models[i]);
  const result: CohortsResult = {
    by: plan.by,
    bins: [...COHORT_BINS],
    groups: plan.groups,
    models: sorted,
    divergence,
  };
  if (plan.correlate !== null)
    result.correlation = cohortCorrelation(
      plan.correlate,
      sorted,
      order.map((i) => plan.models[i].value),
    );
  return result;
}
