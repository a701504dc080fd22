/**
 * Node-only: the distribution-shift analyses of a planned selection (selection.ts), scanned by a
 * PlanScanner (plan-scanner.ts): shift, PCA and the zoo report's groupings.
 *
 * The moments pass also collects candidates for the extremes of the coefficients (range-candidates.ts),
 * then the histogram pass runs on the candidates' range, computes the exact range too and is repeated on it
 * in the rare case the guess was wrong — two scans instead of three (moments → range → histograms).
 *
 * Measured alternative (10 M synthetic filters, 2 cores): the moments as SQL aggregates (SUM of the 9 values
 * and 45 products of peak-scaled values, DuckDB on 2 threads) take 1.42 s, the streaming moments pass here
 * 0.6–0.8 s (with the range candidates); histograms as SQL (GROUPING SETS over floor((c - lo)·scale)) took
 * 2.3 s and lack numpy's edge correction. So the passes stay streaming, where the arithmetic is the kernels'.
 */
import { GroupHistograms } from '../analysis/histogram.js';
import { emptySums, type LayerStats, mergeMomentSums } from '../analysis/layer-stats.js';
import type { Moments } from '../analysis/moments.js';
import { type PcaBasis, pcaFromMoments } from '../analysis/pca.js';
import { type ShiftResult, shiftFromHistograms } from '../analysis/shift.js';
import { threadScanKernels } from '../analysis/wasm/scan.js';
import {
  type DensitySpec,
  type HistMap,
  type PassSpec,
  type ScanResult,
  totalMoments,
} from './filter-scan.js';
import { isKernel3x3, kernelDims, kernelLabel } from './kernel-size.js';
import { PlanScanner, type ScanOptions, sampleRanges } from './plan-scanner.js';
import { candidateRange, type TrackSpec } from './range-candidates.js';
import { type FilterGroups, PER_FILTER } from './scan-passes.js';
import { SelectionError, type SelectionPlan } from './selection.js';

/** Values per filter of a plan's kernel size (9 for 3x3). */
function planDims(plan: SelectionPlan): number {
  return kernelDims(plan.kernel);
}

function toMoments(r: ScanResult, dims: number): Moments {
  const m = totalMoments(r, dims);
  // layers counted at ingest are planned out when they hold NaN/inf; others (imported) are caught here
  if (!m.mean.every(Number.isFinite) || !m.scatter.every(Number.isFinite))
    throw new SelectionError(
      'the selected filters hold NaN or infinite weights (in layers without a non_finite count, such as imported ones), so they have no PCA basis; leave those layers out with --where',
    );
  return { n: m.n, dims, mean: m.mean, scatter: m.scatter };
}

function basisArrays(basis: PcaBasis, plan: SelectionPlan): { mean: Float64Array; comps: Float64Array } {
  const dims = planDims(plan);
  if (basis.dims !== dims)
    throw new SelectionError(
      `the basis has ${basis.dims} dimensions, the selected ${kernelLabel(plan.kernel)} filters have ${dims}`,
    );
  return { mean: Float64Array.from(basis.mean), comps: Float64Array.from(basis.components.flat()) };
}

/** Fits the PCA basis of the plan's filters (one pass). */
export async function fitStoreBasis(scanner: PlanScanner): Promise<PcaBasis> {
  return (await fitWithRangeGuess(scanner, false)).basis;
}

/** Range candidates kept at each end of the approximate coefficients (range-candidates.ts). */
const RANGE_CANDIDATES = 1024;

/**
 * The moments pass, optionally (`guess`) with range candidates on an approximate basis fitted on a sample
 * (read while the workers start): the basis, and the candidates' exact coefficient range — a guess of the
 * range that the histogram pass verifies (see {@link histogramPass}).
 */
export async function fitWithRangeGuess(
  scanner: PlanScanner,
  guess = true,
): Promise<{ basis: PcaBasis; guess: [number, number] | null }> {
  if (scanner.plan.filterCount < 2)
    throw new SelectionError(`PCA needs at least 2 filters, the selection has ${scanner.plan.filterCount}`);
  const plan = scanner.plan;
  if (plan.stats) return fitFromStats(plan, plan.stats, guess);
  const dims = planDims(plan);
  let track: TrackSpec | undefined;
  // range candidates are the 3x3 kernels' (other sizes: a range pass)
  if (guess && isKernel3x3(plan.kernel)) {
    const sample = toMoments(await scanner.runSample(sampleRanges(plan), { kind: 'moments' }), dims);
    if (sample.n >= 2) track = { ...basisArrays(pcaFromMoments(sample), plan), keep: RANGE_CANDIDATES };
  }
  const r = await scanner.run({ kind: 'moments', track }, 'moments');
  const basis = pcaFromMoments(toMoments(r, dims));
  if (!track || !r.candidates || r.candidates.length === 0) return { basis, guess: null };
  const { mean, comps } = basisArrays(basis, plan);
  return { basis, guess: candidateRange(threadScanKernels(), r.candidates, mean, comps) };
}

/**
 * The basis of a plan whose layers all have stored statistics: their moments Chan-merged in filter order (no
 * scan), and the range guess from their stored extreme filters.
 */
export function fitFromStats(
  plan: SelectionPlan,
  stats: Map<number, LayerStats>,
  guess = true,
): { basis: PcaBasis; guess: [number, number] | null } {
  const total = emptySums();
  let extremes = 0;
  for (const l of plan.layers) {
    const st = stats.get(l.layerId)!;
    mergeMomentSums(total, st);
    extremes += st.extremes.length;
  }
  const basis = pcaFromMoments(toMoments({ rows: total.n, moments: [total] }, planDims(plan)));
  if (!guess) return { basis, guess: null };
  const candidates = new Float32Array(extremes);
  let at = 0;
  for (const l of plan.layers) {
    const e = stats.get(l.layerId)!.extremes;
    candidates.set(e, at);
    at += e.length;
  }
  const { mean, comps } = basisArrays(basis, plan);
  return { basis, guess: candidateRange(threadScanKernels(), candidates, mean, comps) };
}

/**
 * The histogram pass on the exact coefficient range: `range` when known; else on the `guess` of
 * {@link fitWithRangeGuess}, verified against the exact range the pass computes (bit-for-bit equal whenever
 * the extreme filters were among the candidates), and repeated on the exact range when it differs; without
 * either, after a range pass.
 */
export async function histogramPass(
  scanner: PlanScanner,
  spec: (range: [number, number]) => PassSpec,
  basis: PcaBasis,
  range: [number, number] | null,
  guess: [number, number] | null,
): Promise<{ result: ScanResult; range: [number, number]; passes: number }> {
  const known = range ?? (guess ? null : await coefficientRange(scanner, basis));
  if (known) return { result: await scanner.run(spec(known), 'histograms'), range: known, passes: 1 };
  const r = await scanner.run(spec(guess!), 'histograms');
  if (r.lo === undefined || r.hi === undefined || !(r.lo <= r.hi))
    throw new SelectionError('no filters selected');
  if (r.lo === guess![0] && r.hi === guess![1]) return { result: r, range: guess!, passes: 1 };
  const exact: [number, number] = [r.lo, r.hi];
  return { result: await scanner.run(spec(exact), 'histograms'), range: exact, passes: 2 };
}

export async function coefficientRange(scanner: PlanScanner, basis: PcaBasis): Promise<[number, number]> {
  const r = await scanner.run({ kind: 'range', ...basisArrays(basis, scanner.plan) }, 'range');
  if (r.lo === undefined || r.hi === undefined || !(r.lo <= r.hi))
    throw new SelectionError('no filters selected');
  return [r.lo, r.hi];
}

export interface StoreShiftOptions extends ScanOptions {
  bins?: number;
  basis?: PcaBasis;
  /** Coefficient range of `basis` on this very selection (skips the range pass). */
  range?: [number, number];
  /** Also collect views: fine per-group histograms (KDE input) and the 2-D density. */
  views?: { kdeBins?: number; density?: DensitySpec | false };
}

export interface StoreShiftResult extends ShiftResult {
  basis: PcaBasis;
  /** Fine per-group histograms (when views were asked for). */
  fine?: GroupHistograms;
  density?: { counts: Float64Array; total: number; outside: number; spec: DensitySpec };
  /** Seconds of the moments pass and of the histogram pass(es) (with the range pass, when one was needed). */
  seconds: { moments: number; histograms: number };
  /** Histogram passes run: 2 when the guessed coefficient range was not the exact one. */
  histogramPasses: number;
  /**
   * Where the basis came from: the layers' stored statistics (no scan), a moments scan (a database without
   * them, see `filterdb upgrade`), or the caller (`--basis`).
   */
  basisFrom: 'stats' | 'scan' | 'given';
}

export const DEFAULT_DENSITY: DensitySpec = { size: 512, lo: -3.3, hi: 3.3, xIndex: 0, yIndex: 1 };

/**
 * Histogram cells (group × coefficient × bin, drift and KDE histograms together) one shift may count: each
 * scan thread holds them as uint32 counts plus float64 sums, 12 bytes a cell (2^25 cells ≈ 400 MB).
 */
export const MAX_HISTOGRAM_CELLS = 2 ** 25;
/** Largest side of the 2-D density raster (float64 counts per scan thread: 4096² = 128 MB). */
export const MAX_DENSITY_SIZE = 4096;

/** Refuses bins, KDE bins and density sizes whose counts would not fit the bounds above, before any scan. */
function checkHistogramSize(
  groups: number,
  dims: number,
  bins: number,
  kdeBins: number,
  density: DensitySpec | undefined,
): void {
  const cells = groups * dims * (bins + kdeBins);
  if (cells > MAX_HISTOGRAM_CELLS)
    throw new SelectionError(
      `${groups} groups × ${dims} coefficients × ${bins + kdeBins} bins${kdeBins ? ` (${bins} + ${kdeBins} for the KDE curves)` : ''} are ${cells.toLocaleString('en-US')} histogram cells, more than the ${MAX_HISTOGRAM_CELLS.toLocaleString('en-US')} a shift may hold (~400 MB a scan thread): use fewer bins or groups`,
    );
  const size = density?.size ?? 0;
  if (size > MAX_DENSITY_SIZE)
    throw new SelectionError(
      `a ${size}² density raster is larger than ${MAX_DENSITY_SIZE}² (~128 MB a scan thread): use a smaller --density`,
    );
}

/** The distribution shift of a planned selection and grouping, streamed from the store. */
export async function storeShift(
  path: string,
  plan: SelectionPlan,
  options: StoreShiftOptions = {},
): Promise<StoreShiftResult> {
  return (await storeShifts(path, [plan], options))[0];
}

/**
 * The distribution shifts of several groupings of one selection (plans of the same `--where`, one per
 * `--by`) from one histogram pass: with one grouping the pass counts per group; with several it counts per
 * cell (the layers with the same label in every grouping, see {@link groupingCells}) and adds the cells up per
 * grouping — integer counts, so every grouping's result is the one a shift of it alone gives.
 */
export async function storeShifts(
  path: string,
  plans: SelectionPlan[],
  options: StoreShiftOptions = {},
): Promise<StoreShiftResult[]> {
  const { bins, base } = checkShiftPlans(plans, options.bins);
  const kdeBins = options.views ? (options.views.kdeBins ?? 2048) : 0;
  const density =
    options.views && options.views.density !== false ? (options.views.density ?? DEFAULT_DENSITY) : undefined;
  const cells = plans.length === 1 ? groupsAsCells(base) : groupingCells(plans);
  const fineGroups = kdeBins ? plans.reduce((s, p) => s + p.groups.length, 0) : 0;
  const dims = planDims(base);
  if (plans.length === 1) checkHistogramSize(base.groups.length, dims, bins, kdeBins, density);
  else {
    checkHistogramSize(cells.labels.length, dims, bins, 0, undefined);
    checkHistogramSize(fineGroups, dims, 0, kdeBins, density);
  }
  const scanner = new PlanScanner(path, base, options);
  try {
    const seconds = { moments: 0, histograms: 0 };
    let t = performance.now();
    const fit = options.basis ? { basis: options.basis, guess: null } : await fitWithRangeGuess(scanner);
    const basis = fit.basis;
    seconds.moments = (performance.now() - t) / 1000;
    t = performance.now();
    const maps: HistMap[] = [cellMap(cells, bins)];
    if (kdeBins) for (const p of plans) maps.push(groupMap(p, base.layerSpan, kdeBins));
    const pass = await histogramPass(
      scanner,
      (range) => ({ kind: 'hist', ...basisArrays(basis, base), lo: range[0], hi: range[1], maps, density }),
      basis,
      options.range ?? null,
      fit.guess,
    );
    const { result: r, range } = pass;
    seconds.histograms = (performance.now() - t) / 1000;
    return plans.map((p, pi) => {
      const hist =
        plans.length === 1
          ? toGroupHistograms(p.groups, r.hist![0], bins, range, dims)
          : cellsToGroups(cells.labels, pi, r.hist![0], bins, range, dims);
      return {
        ...shiftFromHistograms(p.by!, hist, basis),
        basis,
        fine: kdeBins ? toGroupHistograms(p.groups, r.hist![pi + 1], kdeBins, range, dims) : undefined,
        density: density && r.density ? { ...r.density, spec: density } : undefined,
        seconds,
        histogramPasses: pass.passes,
        basisFrom: options.basis ? 'given' : base.stats ? 'stats' : 'scan',
      };
    });
  } finally {
    await scanner.close();
  }
}

/**
 * The checks of a shift over several groupings (the streamed and the SQL paths): a positive integer bin count
 * (default 70), a grouping each, and one selection with filters. Returns the bins and the first plan.
 */
export function checkShiftPlans(
  plans: SelectionPlan[],
  binsOption: number | undefined,
): { bins: number; base: SelectionPlan } {
  const bins = binsOption ?? 70;
  if (!Number.isInteger(bins) || bins < 1)
    throw new SelectionError(`--bins must be a positive integer, got ${bins}`);
  if (plans.length === 0 || plans.some((p) => p.by === null))
    throw new SelectionError('a grouping (--by) is required');
  const base = plans[0];
  if (base.filterCount === 0) throw new SelectionError('no filters selected');
  if (
    plans.some(
      (p) =>
        p.where !== base.where ||
        p.filterCount !== base.filterCount ||
        kernelLabel(p.kernel) !== kernelLabel(base.kernel),
    )
  )
    throw new SelectionError('the groupings of one shift must group the same selection');
  return { bins, base };
}

/** layer_id → index of the layer's group in `plan.groups` (-1: not selected), for a histogram of `bins`. */
function groupMap(plan: SelectionPlan, layerSpan: number, bins: number): HistMap {
  const idx = new Map(plan.groups.map((g, i) => [g, i]));
  const layerGroup = new Int32Array(layerSpan).fill(-1);
  const filterGroups: FilterGroups[] = [];
  for (const l of plan.layers) {
    if (l.filterGroups) {
      layerGroup[l.layerId] = PER_FILTER;
      filterGroups.push({
        layerId: l.layerId,
        first: l.first,
        groups: Int32Array.from(l.filterGroups, (g) => idx.get(g)!),
      });
    } else layerGroup[l.layerId] = idx.get(l.group)!;
  }
  const map: HistMap = { layerGroup, groups: plan.groups.length, bins };
  if (filterGroups.length) map.filterGroups = filterGroups;
  return map;
}

export interface Cells {
  /** layer_id → cell (-1: not selected; PER_FILTER: see `filterCells`). */
  layerCell: Int32Array;
  /** Per cell, its label in each grouping. */
  labels: string[][];
  /** The cells of the filters of layers some grouping labels filter by filter (`pattern`). */
  filterCells?: FilterGroups[];
}

/** The histogram map of `cells` (`bins` per coefficient). */
function cellMap(cells: Cells, bins: number): HistMap {
  const map: HistMap = { layerGroup: cells.layerCell, groups: cells.labels.length, bins };
  if (cells.filterCells) map.filterGroups = cells.filterCells;
  return map;
}

/** One grouping's groups as cells (in `plan.groups` order). */
export function groupsAsCells(plan: SelectionPlan): Cells {
  const map = groupMap(plan, plan.layerSpan, 0);
  return { layerCell: map.layerGroup, labels: plan.groups.map((g) => [g]), filterCells: map.filterGroups };
}

/**
 * The cells of several groupings of one selection: layers with the same label in every grouping (every
 * layer_info grouping is a function of the layer, and cells are far fewer than layers); where a grouping labels
 * a layer's filters one by one (`pattern`), its filters with the same labels.
 */
export function groupingCells(plans: SelectionPlan[]): Cells {
  const base = plans[0];
  const byLayer = new Map<number, SelectionPlan['layers'][number][]>();
  for (const p of plans)
    for (const l of p.layers) {
      let a = byLayer.get(l.layerId);
      if (!a) {
        a = [];
        byLayer.set(l.layerId, a);
      }
      a.push(l);
    }
  const cellOf = new Map<string, number>();
  const layerCell = new Int32Array(base.layerSpan).fill(-1);
  const labels: string[][] = [];
  const filterCells: FilterGroups[] = [];
  const cell = (own: string[]) => {
    const key = JSON.stringify(own);
    let c = cellOf.get(key);
    if (c === undefined) {
      c = labels.length;
      cellOf.set(key, c);
      labels.push(own);
    }
    return c;
  };
  for (const l of base.layers) {
    const planned = byLayer.get(l.layerId)!;
    if (planned.every((x) => !x.filterGroups)) {
      layerCell[l.layerId] = cell(planned.map((x) => x.group));
      continue;
    }
    const groups = new Int32Array(l.count);
    for (let f = 0; f < l.count; f++) groups[f] = cell(planned.map((x) => x.filterGroups?.[f] ?? x.group));
    layerCell[l.layerId] = PER_FILTER;
    filterCells.push({ layerId: l.layerId, first: l.first, groups });
  }
  return filterCells.length ? { layerCell, labels, filterCells } : { layerCell, labels };
}

/** Grouping `pi`'s histograms: the cells' counts added up per label. */
export function cellsToGroups(
  labels: string[][],
  pi: number,
  cells: { counts: Float64Array; filters: Float64Array },
  bins: number,
  range: [number, number],
  dims: number,
): GroupHistograms {
  const gh = new GroupHistograms(dims, bins, range[0], range[1]);
  const size = dims * bins;
  labels.forEach((own, c) => {
    const n = cells.filters[c];
    if (!(n > 0)) return;
    const g = own[pi];
    const h = gh.counts.get(g);
    const src = cells.counts.subarray(c * size, (c + 1) * size);
    if (h) for (let i = 0; i < size; i++) h[i] += src[i];
    else gh.counts.set(g, Float64Array.from(src));
    gh.filters.set(g, (gh.filters.get(g) ?? 0) + n);
  });
  return gh;
}

export function toGroupHistograms(
  groups: string[],
  h: { counts: Float64Array; filters: Float64Array },
  bins: number,
  range: [number, number],
  dims = 9,
): GroupHistograms {
  const gh = new GroupHistograms(dims, bins, range[0], range[1]);
  const size = dims * bins;
  groups.forEach((g, i) => {
    if (h.filters[i] > 0) {
      gh.counts.set(g, h.counts.slice(i * size, (i + 1) * size));
      gh.filters.set(g, h.filters[i]);
    }
  });
  return gh;
}

/** PCA basis (and its coefficient range, for later single-pass shifts) of a selection. */
export async function storePca(
  path: string,
  plan: SelectionPlan,
  options: ScanOptions & { range?: boolean } = {},
): Promise<{ basis: PcaBasis; range: [number, number] | null }> {
  const scanner = new PlanScanner(path, plan, options);
  try {
    const basis = await fitStoreBasis(scanner);
    const range = options.range === false ? null : await coefficientRange(scanner, basis);
    return { basis, range };
  } finally {
    await scanner.close();
  }
}

// ---- the zoo report from one coefficient pass -----------------------------------------------------------

export interface ZooAnalysis {
  basis: PcaBasis;
  range: [number, number];
  shifts: ShiftResult[];
  /** Fine histograms per grouping (for KDE ridges), by grouping name. */
  fine: Map<string, GroupHistograms>;
  density: { counts: Float64Array; total: number; outside: number; spec: DensitySpec } | null;
  filterCount: number;
}

/**
 * Every grouping of a zoo from three passes in all (moments, range, histograms): the histogram pass counts
 * per cell (a layer's (model, depth decile) — every layer_info grouping is a function of the layer, and the
 * cells of metadata/depth/model groupings are far fewer than layers), then aggregates the cells per grouping.
 * Groupings in `ridges` also get fine histograms (KDE input), and the 2-D density comes from the same pass.
 */
export async function storeZooAnalysis(
  path: string,
  plans: SelectionPlan[],
  options: ScanOptions & {
    bins?: number;
    kdeBins?: number;
    ridges?: string[];
    density?: DensitySpec | false;
  } = {},
): Promise<ZooAnalysis> {
  if (plans.length === 0) throw new SelectionError('no groupings');
  const bins = options.bins ?? 70;
  const kdeBins = options.kdeBins ?? 2048;
  const base = plans[0];
  if (base.filterCount < 2) throw new SelectionError('the database holds fewer than 2 3x3 filters');
  const cells = groupingCells(plans);
  const scanner = new PlanScanner(path, base, options);
  try {
    const { basis, guess } = await fitWithRangeGuess(scanner);
    const maps: HistMap[] = [cellMap(cells, bins)];
    const ridgePlans = plans.filter((p) => options.ridges?.includes(p.by ?? '') ?? true);
    for (const p of ridgePlans) maps.push(groupMap(p, base.layerSpan, kdeBins));
    const density = options.density === false ? undefined : (options.density ?? DEFAULT_DENSITY);
    const { result: r, range } = await histogramPass(
      scanner,
      (range) => ({ kind: 'hist', ...basisArrays(basis, base), lo: range[0], hi: range[1], maps, density }),
      basis,
      null,
      guess,
    );
    const dims = planDims(base);
    const shifts = plans.map((p, pi) =>
      shiftFromHistograms(p.by ?? '', cellsToGroups(cells.labels, pi, r.hist![0], bins, range, dims), basis),
    );
    const fine = new Map<string, GroupHistograms>();
    ridgePlans.forEach((p, i) => {
      fine.set(p.by ?? '', toGroupHistograms(p.groups, r.hist![i + 1], kdeBins, range, dims));
    });
    return {
      basis,
      range,
      shifts,
      fine,
      density: density && r.density ? { ...r.density, spec: density } : null,
      filterCount: r.rows,
    };
  } finally {
    await scanner.close();
  }
}
