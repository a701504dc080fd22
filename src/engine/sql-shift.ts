/**
 * The shift analysis with its passes run by an SQL engine (sql-passes.ts) and the rest — the basis from the
 * merged moments, the KL sums — in-process with the same code as the streamed path (analysis/). The
 * selection and grouping are planned as always (scan/selection.ts); only the layer → group map goes to the
 * engine.
 */
import { type PcaBasis, pcaFromMoments } from '../analysis/pca.js';
import { type ShiftResult, shiftFromHistograms } from '../analysis/shift.js';
import { cellsToGroups, checkShiftPlans, groupingCells, groupsAsCells } from '../scan/analyses.js';
import { DIMS, emptySums, type MomentSums, mergeMomentSums } from '../scan/scan-passes.js';
import { SelectionError, type SelectionPlan } from '../scan/selection.js';
import {
  countSql,
  histogramSql,
  type LayerGroups,
  momentsSql,
  rangeSql,
  type SqlDialect,
} from './sql-passes.js';

/** An engine that runs the passes: its dialect and a query returning plain rows. */
export interface SqlEngine {
  readonly dialect: SqlDialect;
  /** Table holding the filters (filter_id, layer_id, model_id, w0..w8). */
  readonly filtersTable: string;
  query(sql: string): Promise<Record<string, unknown>[]>;
  /** The rows of a query of nine Float32 columns (w0..w8) as row-major float32, bit for bit. */
  readFilters(sql: string): Promise<Float32Array>;
  close(): Promise<void>;
}

export interface SqlShiftResult extends ShiftResult {
  basis: PcaBasis;
  /** Seconds of each pass in the engine. */
  seconds: { moments: number; range: number; histograms: number };
}

/** The SQL passes group whole layers: a grouping of filters one by one (`--by pattern`) is refused. */
function refusePerFilter(plan: SelectionPlan): void {
  if (plan.layers.some((l) => l.filterGroups))
    throw new SelectionError(
      `--by ${plan.by} groups filters one by one, the SQL engines whole layers: run it on the database itself (--db)`,
    );
}

function layerGroups(plan: SelectionPlan): LayerGroups {
  refusePerFilter(plan);
  const index = new Map(plan.groups.map((g, i) => [g, i]));
  return {
    layerIds: plan.layers.map((l) => l.layerId),
    groupIds: plan.layers.map((l) => index.get(l.group) ?? 0),
  };
}

function num(v: unknown, what: string): number {
  const x = typeof v === 'string' ? Number(v) : typeof v === 'bigint' ? Number(v) : (v as number);
  if (typeof x !== 'number' || Number.isNaN(x))
    throw new SelectionError(`the engine returned ${String(v)} for ${what}`);
  return x;
}

/** Per-group moments from the moments pass (raw sums → mean and centred scatter, like a scan block). */
export async function sqlGroupMoments(
  engine: SqlEngine,
  groups: LayerGroups,
): Promise<Map<number, MomentSums>> {
  const rows = await engine.query(momentsSql(engine.dialect, engine.filtersTable, groups));
  const out = new Map<number, MomentSums>();
  for (const r of rows) {
    const n = num(r.n, 'n');
    if (n === 0) continue;
    const m = emptySums();
    m.n = n;
    for (let j = 0; j < DIMS; j++) m.mean[j] = num(r[`s${j}`], `s${j}`) / n;
    for (let i = 0; i < DIMS; i++)
      for (let j = i; j < DIMS; j++) {
        const v = num(r[`q${i}_${j}`], `q${i}_${j}`) - n * m.mean[i] * m.mean[j];
        m.scatter[i * DIMS + j] = v;
        m.scatter[j * DIMS + i] = v;
      }
    out.set(num(r.gid, 'gid'), m);
  }
  return out;
}

/** The PCA basis of a plan's filters: per-group moments merged in group order. */
export async function sqlBasis(
  engine: SqlEngine,
  plan: SelectionPlan,
): Promise<{ basis: PcaBasis; counts: Map<number, number> }> {
  return basisOfGroups(engine, layerGroups(plan));
}

async function basisOfGroups(
  engine: SqlEngine,
  groups: LayerGroups,
): Promise<{ basis: PcaBasis; counts: Map<number, number> }> {
  const per = await sqlGroupMoments(engine, groups);
  const total = emptySums();
  const counts = new Map<number, number>();
  for (const gid of [...per.keys()].sort((a, b) => a - b)) {
    mergeMomentSums(total, per.get(gid)!);
    counts.set(gid, per.get(gid)!.n);
  }
  if (total.n < 2) throw new SelectionError(`PCA needs at least 2 filters, the selection has ${total.n}`);
  if (!total.mean.every(Number.isFinite) || !total.scatter.every(Number.isFinite))
    throw new SelectionError('the selected filters hold NaN or infinite weights, so they have no PCA basis');
  return {
    basis: pcaFromMoments({ n: total.n, dims: DIMS, mean: total.mean, scatter: total.scatter }),
    counts,
  };
}

function sqlProjection(basis: PcaBasis) {
  return { mean: basis.mean, components: basis.components.flat() };
}

/** Exact min and max of the coefficients of the plan's filters on `basis`. */
export async function sqlRange(
  engine: SqlEngine,
  plan: SelectionPlan,
  basis: PcaBasis,
): Promise<[number, number]> {
  return rangeOfGroups(engine, layerGroups(plan), basis);
}

async function rangeOfGroups(
  engine: SqlEngine,
  groups: LayerGroups,
  basis: PcaBasis,
): Promise<[number, number]> {
  const [r] = await engine.query(rangeSql(engine.dialect, engine.filtersTable, groups, sqlProjection(basis)));
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let k = 0; k < DIMS; k++) {
    lo = Math.min(lo, num(r[`lo${k}`], 'min'));
    hi = Math.max(hi, num(r[`hi${k}`], 'max'));
  }
  if (!(lo <= hi)) throw new SelectionError('no filters selected');
  return [lo, hi];
}

/** The distribution shift of a planned selection and grouping, its passes run by `engine`. */
export async function sqlShift(
  engine: SqlEngine,
  plan: SelectionPlan,
  options: SqlShiftOptions = {},
): Promise<SqlShiftResult> {
  return (await sqlShifts(engine, [plan], options))[0];
}

export interface SqlShiftOptions {
  bins?: number;
  basis?: PcaBasis;
  range?: [number, number];
}

/**
 * Several groupings of one selection (`shift --by A --by B`) in one set of passes, as the streamed path does:
 * the passes group by cell (the layers with the same label in every grouping: scan/analyses.ts's cells), and
 * each grouping's histograms are its cells' added up in-process. One basis and one range for all.
 */
export async function sqlShifts(
  engine: SqlEngine,
  plans: SelectionPlan[],
  options: SqlShiftOptions = {},
): Promise<SqlShiftResult[]> {
  for (const p of plans) refusePerFilter(p);
  const { bins, base } = checkShiftPlans(plans, options.bins);
  const cells = plans.length === 1 ? groupsAsCells(base) : groupingCells(plans);
  const groups: LayerGroups = {
    layerIds: base.layers.map((l) => l.layerId),
    groupIds: base.layers.map((l) => cells.layerCell[l.layerId]),
  };
  const seconds = { moments: 0, range: 0, histograms: 0 };
  let t = performance.now();
  let basis = options.basis;
  let counts: Map<number, number>;
  if (basis) {
    counts = new Map(
      (await engine.query(countSql(engine.dialect, engine.filtersTable, groups))).map((r) => [
        num(r.gid, 'gid'),
        num(r.n, 'n'),
      ]),
    );
  } else ({ basis, counts } = await basisOfGroups(engine, groups));
  seconds.moments = (performance.now() - t) / 1000;
  t = performance.now();
  const range = options.range ?? (await rangeOfGroups(engine, groups, basis));
  seconds.range = (performance.now() - t) / 1000;
  t = performance.now();
  const rows = await engine.query(
    histogramSql(engine.dialect, engine.filtersTable, groups, sqlProjection(basis), range, bins),
  );
  seconds.histograms = (performance.now() - t) / 1000;
  const size = DIMS * bins;
  const perCell = {
    counts: new Float64Array(cells.labels.length * size),
    filters: new Float64Array(cells.labels.length),
  };
  for (const [c, n] of counts) perCell.filters[c] = n;
  for (const r of rows) {
    const c = num(r.gid, 'gid');
    const k = num(r.k, 'k');
    const b = num(r.bin, 'bin');
    if (!(c >= 0 && c < cells.labels.length && k >= 0 && k < DIMS && b >= 0 && b < bins))
      throw new SelectionError(`the engine returned a histogram cell out of range: ${JSON.stringify(r)}`);
    perCell.counts[c * size + k * bins + b] += num(r.n, 'n');
  }
  return plans.map((p, pi) => ({
    ...shiftFromHistograms(p.by!, cellsToGroups(cells.labels, pi, perCell, bins, range, DIMS), basis),
    basis,
    seconds,
  }));
}
