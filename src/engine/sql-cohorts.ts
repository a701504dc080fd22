/**
 * `cohorts` with its aggregate passes run by an SQL engine (sql-passes.ts, the same generator and dialects as
 * `shift`) and the rest in-process with the streamed path's code (analysis/cohorts.ts):
 *
 * 1. peaks: per layer, its filter count and max|w| (→ the sparse threshold max|W_layer| / 100);
 * 2. per layer, the moments of its non-sparse peak-scaled filters (count, sums, sums of products and each
 *    column's min and max) → the layer's variance entropy (eigenvalues of its scatter, in-process) and,
 *    merged in layer order, the PCA basis of all non-sparse filters;
 * 3. the exact coefficient range of the non-sparse filters on the basis;
 * 4. the histograms per cohort × depth bin.
 *
 * Orthogonality needs each layer's out × out Gram matrix, not a mergeable aggregate: it is the layer metric
 * stored at ingest (`layers.orthogonality`, the same definition on the same out × in·9 matrix) where there is
 * one, else it is computed here from the layer's filters read from the engine (layers ingested without
 * metrics, or with float64 weights whose stored metric is of the unrounded values).
 *
 * The non-sparse filters and their coefficients are the streamed path's bit for bit (the same float64
 * operations); the moment sums are added in another order (compensated sums), so the basis and the variance
 * entropies agree to rounding, the histograms (given the same basis and range) exactly.
 */
import {
  CohortHistograms,
  type CohortLayerStats,
  type CohortsResult,
  cohortDivergence,
  layerOrthogonality,
  ModelAccumulator,
} from '../analysis/cohorts.js';
import { emptyMoments, mergeMoments } from '../analysis/moments.js';
import { flatComponents, type PcaBasis, pcaFromMoments } from '../analysis/pca.js';
import { FilterDbError } from '../errors.js';
import { varianceEntropyOfScatter } from '../metrics/quality.js';
import { type CohortLayer, type CohortPlan, cohortsResult } from '../scan/cohort-scan.js';
import { DIMS } from '../scan/scan-passes.js';
import { SelectionError } from '../scan/selection.js';
import {
  histogramSql,
  type LayerGroups,
  layerFiltersSql,
  momentsSql,
  peaksSql,
  rangeSql,
} from './sql-passes.js';
import type { SqlEngine } from './sql-shift.js';

const BINS = 11;

export interface SqlCohortsOptions {
  /** A stored basis (`pca --save`) instead of fitting one; its range when stored. */
  basis?: { basis: PcaBasis; range: [number, number] | null };
  bins?: number;
  /** Stored per-layer orthogonality by layer_id (see the module comment); missing layers are computed. */
  orthogonality?: Map<number, number>;
}

export interface SqlCohortsResult extends CohortsResult {
  /** Seconds of the engine's passes, and layers whose orthogonality was computed from their filters. */
  seconds: { peaks: number; moments: number; range: number; histograms: number; orthogonality: number };
  orthogonalityComputed: number;
}

function num(v: unknown, what: string): number {
  const x = typeof v === 'string' || typeof v === 'bigint' ? Number(v) : (v as number);
  if (typeof x !== 'number' || Number.isNaN(x))
    throw new SelectionError(`the engine returned ${String(v)} for ${what}`);
  return x;
}

/** Per layer (index into plan.layers): the moments of its non-sparse peak-scaled filters. */
interface KeptMoments {
  n: number;
  mean: Float64Array;
  scatter: Float64Array;
}

/**
 * A moments row as centred moments. A column whose min equals its max is constant: its mean is that value
 * and its scatter row and column are exactly 0, as the streamed path's two-pass moments give.
 */
function keptMoments(r: Record<string, unknown>): KeptMoments {
  const n = num(r.n, 'n');
  const mean = new Float64Array(DIMS);
  const constant: boolean[] = [];
  for (let j = 0; j < DIMS; j++) {
    const lo = num(r[`lo${j}`], `lo${j}`);
    constant.push(lo === num(r[`hi${j}`], `hi${j}`));
    mean[j] = constant[j] ? lo : num(r[`s${j}`], `s${j}`) / n;
  }
  const scatter = new Float64Array(DIMS * DIMS);
  for (let i = 0; i < DIMS; i++)
    for (let j = i; j < DIMS; j++) {
      const v = constant[i] || constant[j] ? 0 : num(r[`q${i}_${j}`], `q${i}_${j}`) - n * mean[i] * mean[j];
      scatter[i * DIMS + j] = v;
      scatter[j * DIMS + i] = v;
    }
  return { n, mean, scatter };
}

/** Stored orthogonality where usable, else computed from the layer's filters read from the engine. */
async function orthogonalities(
  engine: SqlEngine,
  layers: readonly CohortLayer[],
  stored: Map<number, number>,
): Promise<{ values: (number | null)[]; computed: number }> {
  const values: (number | null)[] = [];
  let computed = 0;
  for (const l of layers) {
    if (l.out === null || l.out < 2) values.push(null);
    else if (stored.has(l.layerId)) values.push(stored.get(l.layerId)!);
    else {
      const w = await engine.readFilters(layerFiltersSql(engine.filtersTable, l.layerId));
      if (w.length !== l.count * DIMS)
        throw new FilterDbError(
          'corrupt',
          engine.filtersTable,
          `layer ${l.layerId} should have ${l.count} filters, the engine holds ${w.length / DIMS}`,
        );
      values.push(layerOrthogonality(w, l.count, l.out));
      computed++;
    }
  }
  return { values, computed };
}

/** `filterdb cohorts` on a planned selection, its aggregate passes run by `engine`. */
export async function sqlCohorts(
  engine: SqlEngine,
  plan: CohortPlan,
  options: SqlCohortsOptions = {},
): Promise<SqlCohortsResult> {
  if (plan.layers.some((l) => l.members))
    throw new SelectionError(
      `--by ${plan.by} makes members of filters one by one, the SQL engines group whole layers: run it on the database itself (--db)`,
    );
  const bins = options.bins ?? 70;
  const d = engine.dialect;
  const table = engine.filtersTable;
  const seconds = { peaks: 0, moments: 0, range: 0, histograms: 0, orthogonality: 0 };
  const accs = plan.models.map(() => new ModelAccumulator());
  const groupIndex = new Map(plan.groups.map((g, i) => [g, i]));
  const layers = plan.layers;
  const result = (divergence: CohortsResult['divergence'], computed: number): SqlCohortsResult => ({
    ...cohortsResult(plan, accs, divergence),
    seconds,
    orthogonalityComputed: computed,
  });
  if (layers.length === 0) return result(null, 0);
  const layerIds = layers.map((l) => l.layerId);
  const byLayer: LayerGroups = { layerIds, groupIds: layers.map((_, i) => i) };
  let t = performance.now();
  const peaks = new Float64Array(layers.length);
  const seen = new Float64Array(layers.length);
  for (const r of await engine.query(peaksSql(d, table, byLayer))) {
    const i = num(r.gid, 'gid');
    seen[i] = num(r.n, 'n');
    peaks[i] = num(r.peak, 'peak');
  }
  layers.forEach((l, i) => {
    if (seen[i] !== l.count)
      throw new FilterDbError(
        'corrupt',
        table,
        `layer ${l.layerId} should have ${l.count} filters, the engine holds ${seen[i]}`,
      );
  });
  seconds.peaks = (performance.now() - t) / 1000;
  // non-sparse: max|f| > max|W_layer| / 100 (analysis/cohorts.ts keptFilters, the same double)
  const thresholds = Array.from(peaks, (p) => p / 100);
  t = performance.now();
  const kept: (KeptMoments | null)[] = layers.map(() => null);
  for (const r of await engine.query(momentsSql(d, table, { ...byLayer, thresholds }, { columnRange: true })))
    kept[num(r.gid, 'gid')] = keptMoments(r);
  seconds.moments = (performance.now() - t) / 1000;
  t = performance.now();
  const orth = await orthogonalities(engine, layers, options.orthogonality ?? new Map());
  seconds.orthogonality = (performance.now() - t) / 1000;
  const total = emptyMoments(DIMS);
  let keptTotal = 0;
  layers.forEach((l, i) => {
    const k = kept[i];
    const m = k?.n ?? 0;
    let entropy: number | null = null;
    if (k && m >= 2) {
      const ve = varianceEntropyOfScatter(k.scatter, DIMS, m);
      if (ve?.variances.some((v) => v > 0)) entropy = ve.entropy;
    }
    const stats: CohortLayerStats = {
      filters: l.count,
      sparse: l.count - m,
      kept: m,
      entropy,
      out: l.out,
      orthogonality: orth.values[i],
    };
    accs[l.model].add(l.bin, stats);
    keptTotal += m;
    if (k && m > 0) mergeMoments(total, { n: m, dims: DIMS, mean: k.mean, scatter: k.scatter });
  });
  const given = options.basis;
  if (!given && !(total.mean.every(Number.isFinite) && total.scatter.every(Number.isFinite)))
    throw new SelectionError(
      'the selected filters hold NaN or infinite weights (in layers without a non_finite count, such as imported ones); leave those layers out with --where',
    );
  const basis = given?.basis ?? (total.n >= 2 ? pcaFromMoments(total) : null);
  if (!basis || keptTotal === 0) return result(null, orth.computed);
  const projection = { mean: basis.mean, components: flatComponents(basis) };
  t = performance.now();
  let range = given?.range ?? null;
  if (!range) {
    const [r] = await engine.query(rangeSql(d, table, { ...byLayer, thresholds }, projection));
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    for (let k = 0; k < DIMS; k++) {
      lo = Math.min(lo, num(r[`lo${k}`], 'min'));
      hi = Math.max(hi, num(r[`hi${k}`], 'max'));
    }
    range = [lo, hi];
  }
  seconds.range = (performance.now() - t) / 1000;
  if (!(range[0] <= range[1])) return result(null, orth.computed);
  // histograms per cohort × depth bin (gid = cohort · 11 + bin) of the layers in a bin
  const cohortOf = plan.models.map((m) => groupIndex.get(m.group)!);
  const hist = new CohortHistograms(
    plan.groups.length,
    Float64Array.from(basis.mean),
    projection.components,
    range[0],
    range[1],
    bins,
  );
  const binned: LayerGroups = { layerIds: [], groupIds: [], thresholds: [] };
  layers.forEach((l, i) => {
    const m = kept[i]?.n ?? 0;
    if (l.bin < 0 || m === 0) return;
    const c = cohortOf[l.model];
    hist.counts[c][l.bin] ??= new Float64Array(DIMS * bins);
    hist.filters[c][l.bin] += m;
    binned.layerIds.push(l.layerId);
    binned.groupIds.push(c * BINS + l.bin);
    binned.thresholds!.push(thresholds[i]);
  });
  t = performance.now();
  if (binned.layerIds.length > 0)
    for (const r of await engine.query(histogramSql(d, table, binned, projection, range, bins))) {
      const g = num(r.gid, 'gid');
      const h = hist.counts[Math.floor(g / BINS)]?.[g % BINS];
      const k = num(r.k, 'k');
      const b = num(r.bin, 'bin');
      if (!h || !(k >= 0 && k < DIMS && b >= 0 && b < bins))
        throw new SelectionError(`the engine returned a histogram cell out of range: ${JSON.stringify(r)}`);
      h[k * bins + b] += num(r.n, 'n');
    }
  seconds.histograms = (performance.now() - t) / 1000;
  return result(cohortDivergence(hist, basis.explainedVarianceRatio, keptTotal), orth.computed);
}

/**
 * The stored orthogonality of the plan's layers that equals what `cohorts` computes from the stored filters:
 * measured at ingest on the same weights (not float64 ones, which were rounded when stored).
 */
export const STORED_ORTHOGONALITY_SQL = `SELECT layer_id, orthogonality FROM layers
  WHERE orthogonality IS NOT NULL AND filter_table = 'filters'
    AND lower(coalesce(dtype, '')) NOT IN ('float64', 'double')`;
