/**
 * Node-only: the compare endpoint — distribution shift between groups of stored 3×3 filters (a grouping
 * column, `depth`, `model`, `layer-kind`, or two or more disjoint SQL selections), with ridge-plot KDEs and
 * the basis. User SQL is checked like the SQL endpoint's (one SELECT, on the server's locked-down
 * connection) before it selects layers; the filters themselves are streamed from the file by filter_id.
 */

import type { DuckDBConnection } from '@duckdb/node-api';
import { compareCodePoints } from '../analysis/groups.js';
import { groupKdes } from '../analysis/kde.js';
import { type StoreShiftResult, storeShifts } from '../scan/analyses.js';
import { isKernel3x3, type KernelSize, kernelLabel } from '../scan/kernel-size.js';
import {
  type LayerPlan,
  noFiltersMessage,
  planSelection,
  SelectionError,
  type SelectionPlan,
  SPECIAL_GROUPINGS,
  TooManyGroupsError,
} from '../scan/selection.js';
import { HttpError } from './http.js';
import { kernelParam } from './kernel-param.js';
import { checkSelect, layerInfoColumns } from './queries.js';
import { serial } from './serial.js';

export interface CompareRequest {
  /**
   * Groupings: each a layer_info column (e.g. "Task"), "depth" (conv_depth_norm deciles), "model" or
   * "layer-kind". A string in the body gives one (answered as one {@link CompareAnswer}); an array gives one
   * or more, computed from one read of the filters and answered as {@link CompareManyAnswer}.
   */
  by?: string[];
  /** Whether the body gave `by` as an array. */
  many?: boolean;
  /** Optional SQL condition on layer_info restricting the filters (with `by`). */
  where?: string;
  /** Two or more named selections, each a SQL condition on layer_info (instead of `by`). */
  selections?: { label: string; where: string }[];
  /** Histogram bins of the drift (default 70). */
  bins?: number;
  /** Kernel size of the compared filters (`kernel`: "5x5"; default 3x3). */
  kernel: KernelSize;
}

export interface CompareAnswer {
  by: string;
  /** The kernel size, for sizes other than 3x3 (3x3 answers are as they were). */
  kernel?: string;
  groups: string[];
  counts: number[];
  matrix: number[][];
  explainedVarianceRatio: number[];
  components: number[][];
  range: [number, number] | null;
  bins: number | null;
  filterCount: number;
  /** Selected layers left out because their weights hold NaN or infinite values (and their filters). */
  nonFinite: { layers: number; filters: number };
  summary: unknown;
  /** KDE curves per coefficient, one curve per group (x, y rounded to 5 significant digits). */
  ridges: { index: number; curves: { label: string; x: number[]; y: number[]; n?: number }[] }[];
  seconds: number;
}

/** The answer to a `by` array: one {@link CompareAnswer} per grouping, in the request's order. */
export interface CompareManyAnswer {
  results: CompareAnswer[];
  seconds: number;
}

/** At most this many groupings in one compare. */
export const MAX_GROUPINGS = 8;

function round(values: ArrayLike<number>): number[] {
  return Array.from(values, (v) => (Number.isFinite(v) ? Number(v.toPrecision(5)) : 0));
}

function validBody(body: Record<string, unknown>): CompareRequest {
  const req: CompareRequest = { kernel: kernelParam(body.kernel) };
  if (body.by !== undefined) {
    const list = Array.isArray(body.by) ? body.by : [body.by];
    if (list.length === 0 || list.length > MAX_GROUPINGS || list.some((b) => typeof b !== 'string' || !b))
      throw new HttpError(
        400,
        'bad-request',
        `"by" must be a column name or a list of 1..${MAX_GROUPINGS} column names`,
      );
    req.by = list as string[];
    req.many = Array.isArray(body.by);
  }
  if (body.where !== undefined && body.where !== null && body.where !== '') {
    if (typeof body.where !== 'string') throw new HttpError(400, 'bad-request', '"where" must be a string');
    req.where = body.where;
  }
  if (body.selections !== undefined) {
    if (!Array.isArray(body.selections) || body.selections.length < 2)
      throw new HttpError(400, 'bad-request', '"selections" must be a list of at least two {label, where}');
    req.selections = body.selections.map((s, i) => {
      const sel = s as { label?: unknown; where?: unknown };
      if (!sel || typeof sel.where !== 'string' || !sel.where.trim())
        throw new HttpError(400, 'bad-request', `selection ${i + 1} needs a "where" condition`);
      const label =
        typeof sel.label === 'string' && sel.label.trim() ? sel.label.trim() : String.fromCharCode(65 + i);
      return { label, where: sel.where };
    });
    if (new Set(req.selections.map((s) => s.label)).size !== req.selections.length)
      throw new HttpError(400, 'bad-request', 'selection labels must differ');
  }
  if (!req.by === !req.selections)
    throw new HttpError(
      400,
      'bad-request',
      'give either "by" (a grouping) or "selections" (two SQL conditions)',
    );
  if (body.bins !== undefined) {
    const b = Number(body.bins);
    if (!Number.isInteger(b) || b < 2 || b > 1000)
      throw new HttpError(400, 'bad-request', '"bins" must be 2..1000');
    req.bins = b;
  }
  return req;
}

/** Checks user SQL (a condition on layer_info) with the SQL endpoint's rules before anything runs it. */
async function checkCondition(con: DuckDBConnection, where: string, what: string): Promise<void> {
  await checkSelect(con, `SELECT 1 FROM layer_info WHERE (${where})`, what);
}

async function plan(
  con: DuckDBConnection,
  options: { where?: string; by?: string; stats?: boolean; kernel: KernelSize },
  what: string,
): Promise<SelectionPlan> {
  try {
    return await planSelection(con, options);
  } catch (e) {
    if (e instanceof TooManyGroupsError) throw new HttpError(400, 'too-many-groups', e.message);
    if (e instanceof SelectionError) throw new HttpError(400, 'bad-sql', `${what}: ${e.message}`);
    throw e;
  }
}

/** A grouping: a layer_info column (any case), depth, model or layer-kind. */
async function groupingColumn(con: DuckDBConnection, by: string): Promise<string> {
  let column = by;
  if (!(SPECIAL_GROUPINGS as readonly string[]).includes(by)) {
    const columns = await layerInfoColumns(con);
    const found = columns.find((c) => c === by) ?? columns.find((c) => c.toLowerCase() === by.toLowerCase());
    if (!found)
      throw new HttpError(
        400,
        'unknown-column',
        `cannot group by ${JSON.stringify(by)}: not a column of layer_info (try depth, model, layer-kind, or a metadata column)`,
      );
    column = found;
  }
  return column;
}

/**
 * One plan per grouping of the same selection, as `filterdb shift --by A --by B` plans them: the layer
 * statistics are read once and shared.
 */
async function groupingPlans(
  con: DuckDBConnection,
  by: string[],
  kernel: KernelSize,
  where?: string,
): Promise<SelectionPlan[]> {
  if (where) await checkCondition(con, where, 'where');
  const columns: string[] = [];
  for (const b of by) columns.push(await groupingColumn(con, b));
  if (new Set(columns).size !== columns.length)
    throw new HttpError(400, 'bad-request', '"by" names a grouping twice');
  const plans: SelectionPlan[] = [];
  for (const column of columns) {
    const p = await plan(con, { where, by: column, stats: plans.length === 0, kernel }, 'where');
    plans.push(plans.length === 0 ? p : { ...p, stats: plans[0].stats });
  }
  return plans;
}

/**
 * Named selections as the groups of one plan. The scan gives each layer one group, so the selections must
 * not share layers (a filter in two groups would also count twice in the common basis).
 */
async function selectionsPlan(
  con: DuckDBConnection,
  selections: { label: string; where: string }[],
  kernel: KernelSize,
): Promise<SelectionPlan> {
  const owner = new Map<number, string>();
  const layers: LayerPlan[] = [];
  let filterCount = 0;
  let layerSpan = 0;
  const nonFinite = { layers: 0, filters: 0 };
  let stats: SelectionPlan['stats'] = new Map();
  for (const s of selections) {
    const what = `selection "${s.label}"`;
    await checkCondition(con, s.where, what);
    const p = await plan(con, { where: s.where, kernel }, what);
    if (p.filterCount === 0) throw new HttpError(400, 'empty-selection', `${what} holds no 3×3 filters`);
    for (const l of p.layers) {
      const other = owner.get(l.layerId);
      if (other !== undefined)
        throw new HttpError(
          400,
          'bad-request',
          `selections "${other}" and "${s.label}" overlap (layer ${l.layerId} is in both); make the conditions disjoint`,
        );
      owner.set(l.layerId, s.label);
      layers.push({ ...l, group: s.label });
    }
    filterCount += p.filterCount;
    layerSpan = Math.max(layerSpan, p.layerSpan);
    nonFinite.layers += p.nonFinite.layers;
    nonFinite.filters += p.nonFinite.filters;
    if (p.stats === null) stats = null;
    else if (stats !== null) for (const [id, st] of p.stats) stats.set(id, st);
  }
  layers.sort((a, b) => a.first - b.first);
  const groups = selections.map((s) => s.label).sort(compareCodePoints);
  return {
    where: null,
    by: 'selection',
    kernel,
    layers,
    groups,
    filterCount,
    layerSpan,
    nonFinite,
    stats,
  };
}

/**
 * Streams the selection from the database file in two scans (scan/analyses.ts, as `filterdb shift`; several
 * groupings share the scans, as `filterdb shift --by A --by B`): memory stays bounded whatever the
 * selection's size. `dbPath` is the file behind `con`. `signal` stops the scans (the caller interrupts `con`
 * itself).
 */
export async function compare(
  con: DuckDBConnection,
  dbPath: string,
  body: Record<string, unknown>,
  signal?: AbortSignal,
): Promise<CompareAnswer | CompareManyAnswer> {
  const t0 = performance.now();
  const req = validBody(body);
  const plans = req.selections
    ? [await selectionsPlan(con, req.selections, req.kernel)]
    : await groupingPlans(con, req.by!, req.kernel, req.where);
  const selection = plans[0];
  if (selection.filterCount === 0)
    throw new HttpError(
      400,
      'empty-selection',
      isKernel3x3(req.kernel)
        ? 'the selection holds no 3×3 filters'
        : await noFiltersMessage(con, { kernel: req.kernel, where: req.where ?? null }),
    );
  let shifts: StoreShiftResult[];
  try {
    shifts = await serial(() => {
      signal?.throwIfAborted(); // the client left, or the deadline passed, while it waited its turn
      return storeShifts(dbPath, plans, {
        bins: req.bins ?? 70,
        views: { kdeBins: 1024, density: false },
        signal,
      });
    });
  } catch (e) {
    if (e instanceof SelectionError) throw new HttpError(400, 'bad-request', e.message);
    throw e;
  }
  const seconds = (performance.now() - t0) / 1000;
  const results = shifts.map((shift) => answerOf(shift, selection.nonFinite, seconds, req.kernel));
  return req.many ? { results, seconds } : results[0];
}

function answerOf(
  shift: StoreShiftResult,
  nonFinite: CompareAnswer['nonFinite'],
  seconds: number,
  kernel: KernelSize,
): CompareAnswer {
  const fine = shift.fine!;
  return {
    by: shift.by,
    ...(isKernel3x3(kernel) ? {} : { kernel: kernelLabel(kernel) }),
    groups: shift.groups,
    counts: shift.counts,
    matrix: shift.matrix,
    explainedVarianceRatio: shift.explainedVarianceRatio,
    components: shift.components,
    range: shift.range,
    bins: shift.bins,
    filterCount: shift.filterCount,
    nonFinite,
    summary: shift.summary,
    ridges: Array.from({ length: shift.components.length }, (_, index) => ({
      index,
      curves: groupKdes(fine, index, { groups: shift.groups, points: 256 }).map((k) => ({
        label: k.group,
        x: round(k.x),
        y: round(k.y),
        n: k.n,
      })),
    })),
    seconds,
  };
}
