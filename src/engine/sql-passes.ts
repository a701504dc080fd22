/**
 * The shift analysis's two scans as SQL, for engines that hold the filters themselves (DuckDB, ClickHouse):
 * the moments pass (per group: count, 9 sums and 45 sums of products of the peak-scaled filters), the exact
 * range of the coefficients on a basis, and the histogram pass (per group × coefficient × bin counts with
 * numpy.histogram's edge rule). What is left — the 9×9 eigenproblem and the KL sums — runs in-process.
 *
 * The arithmetic is the scan kernels' (scripts/gen-scan-wat.mjs), operation for operation, so coefficients
 * and bins are bit-identical to the streamed path's: float32 weights widened to float64, divided by the
 * largest |w| (an all-zero filter stays zero), centred, projected as ((x0·p0 + x1·p1) + …) left to right,
 * bin = ⌊(x − lo)·scale⌋ clamped to the last bin, moved down when x < edge[bin] and up when
 * x ≥ edge[bin + 1] (edges lo + j·step, the last one hi). Only the moment sums are in a different order
 * (SQL aggregates, compensated: Kahan sums), so the basis agrees to rounding (~1e-15), not bit for bit.
 *
 * The same passes serve `cohorts` (sql-cohorts.ts): with per-layer thresholds they see only a layer's
 * non-sparse filters, and a peaks pass gives each layer's max|w|.
 *
 * Pure: builds strings only. Every number goes into the SQL as a literal that parses back to the same double.
 */
import { DIMS } from '../scan/scan-passes.js';

/** How one engine spells the few things the passes need. */
export interface SqlDialect {
  readonly name: 'duckdb' | 'clickhouse';
  /** A float32 column widened to float64. */
  f64(column: string): string;
  /** A float64 literal that parses back to exactly `x`. */
  num(x: number): string;
  /** An integer expression (int32). */
  int(expr: string): string;
  cond(test: string, then: string, otherwise: string): string;
  /** A compensated float64 sum. */
  sum(expr: string): string;
  /**
   * Rows `gid, w0..w8` of the selected layers (gid: the layer's group index), and `thr` (the layer's
   * threshold) when the groups carry thresholds.
   */
  source(table: string, groups: LayerGroups): string;
  /** Rows `gid, k, x` of a relation with columns gid, c0..c8 (one row per coefficient). */
  explode(relation: string): string;
}

/** The grouping of a selection: layer `layerIds[i]` belongs to group `groupIds[i]` (0-based). */
export interface LayerGroups {
  layerIds: number[];
  groupIds: number[];
  /**
   * Per layer, a peak threshold: only filters whose max|w| is above it enter the passes (`cohorts`' non-sparse
   * filters: max|f| > max|W_layer| / 100). Absent: every filter.
   */
  thresholds?: number[];
}

function intList(v: number[]): string {
  for (const x of v) if (!Number.isSafeInteger(x)) throw new RangeError(`not an integer id: ${x}`);
  return `[${v.join(',')}]`;
}

/** Shortest round-trip decimal in exponent form (a DOUBLE literal in both engines, never a DECIMAL). */
function exactLiteral(x: number): string {
  if (!Number.isFinite(x)) throw new RangeError(`not a finite number: ${x}`);
  return x.toExponential();
}

function doubleList(v: number[]): string {
  return `[${v.map(exactLiteral).join(',')}]`;
}

const coefficientNames = Array.from({ length: DIMS }, (_, i) => `c${i}`);

export const DUCKDB: SqlDialect = {
  name: 'duckdb',
  f64: (c) => `CAST(${c} AS DOUBLE)`,
  num: (x) => `CAST(${exactLiteral(x)} AS DOUBLE)`,
  int: (e) => `CAST(${e} AS INTEGER)`,
  cond: (t, a, b) => `CASE WHEN ${t} THEN ${a} ELSE ${b} END`,
  sum: (e) => `kahan_sum(${e})`,
  source: (table, g) =>
    `SELECT lg.gid, ${g.thresholds ? 'lg.thr, ' : ''}${Array.from({ length: DIMS }, (_, j) => `f.w${j}`).join(', ')} FROM ${table} f
     JOIN (SELECT unnest(${intList(g.layerIds)}) AS layer_id, unnest(${intList(g.groupIds)}) AS gid${
       g.thresholds ? `, unnest(CAST(${doubleList(g.thresholds)} AS DOUBLE[])) AS thr` : ''
     }) lg
       ON f.layer_id = lg.layer_id`,
  explode: (rel) =>
    `SELECT gid, unnest(${intList(coefficientNames.map((_, i) => i))}) AS k, unnest([${coefficientNames.join(', ')}]) AS x FROM (${rel})`,
};

/**
 * ClickHouse from 18.16 on (Debian bookworm's package): binary greatest(), transform() for the layer → group
 * map and IN for the selection (constant sets, hashed; no join, so a Distributed table pushes the whole pass
 * down to the shards), ARRAY JOIN, sumKahan.
 */
export const CLICKHOUSE: SqlDialect = {
  name: 'clickhouse',
  f64: (c) => `toFloat64(${c})`,
  num: (x) => `toFloat64(${exactLiteral(x)})`,
  int: (e) => `toInt32(${e})`,
  cond: (t, a, b) => `if(${t}, ${a}, ${b})`,
  sum: (e) => `sumKahan(${e})`,
  source: (table, g) =>
    `SELECT gid, ${g.thresholds ? 'thr, ' : ''}${Array.from({ length: DIMS }, (_, j) => `w${j}`).join(', ')} FROM (
       SELECT transform(toInt64(layer_id), CAST(${intList(g.layerIds)} AS Array(Int64)),
                        CAST(${intList(g.groupIds)} AS Array(Int64)), toInt64(-1)) AS gid, ${
                          g.thresholds
                            ? `transform(toInt64(layer_id), CAST(${intList(g.layerIds)} AS Array(Int64)),
                        CAST(${doubleList(g.thresholds)} AS Array(Float64)), toFloat64(0)) AS thr, `
                            : ''
                        }${Array.from({ length: DIMS }, (_, j) => `w${j}`).join(', ')}
       FROM ${table} WHERE toInt64(layer_id) IN (${g.layerIds.join(',')}))
     WHERE gid >= 0`,
  explode: (rel) =>
    `SELECT gid, k, x FROM (${rel}) ARRAY JOIN ${intList(coefficientNames.map((_, i) => i))} AS k, [${coefficientNames.join(', ')}] AS x`,
};

/** max|w| of each filter in float64 (the kernels' `peak`). */
function peakSql(d: SqlDialect): { values: string[]; peak: string } {
  const values = Array.from({ length: DIMS }, (_, j) => d.f64(`w${j}`));
  let peak = `abs(${values[0]})`;
  for (let j = 1; j < DIMS; j++) peak = `greatest(${peak}, abs(${values[j]}))`;
  return { values, peak };
}

/**
 * Rows gid, x0..x8: the peak-scaled filters (the kernels' `scaled`); with thresholds, only the filters whose
 * peak is above their layer's (those are never all-zero, so the division is the same).
 */
function scaledSql(d: SqlDialect, table: string, groups: LayerGroups): string {
  const { values: v, peak } = peakSql(d);
  const x = v.map((vj, j) => `${d.cond('peak = 0', d.num(0), `${vj} / peak`)} AS x${j}`);
  const thr = groups.thresholds ? ', thr' : '';
  return `SELECT gid, ${x.join(', ')} FROM (SELECT gid${thr}, ${v.map((_, j) => `w${j}`).join(', ')}, ${peak} AS peak FROM (${d.source(table, groups)}))${
    groups.thresholds ? ' WHERE peak > thr' : ''
  }`;
}

/**
 * Moments pass: one row per group: gid, n, s0..s8 (Σx_j), q_i_j for i ≤ j (Σx_i·x_j); with `columnRange`
 * also lo0..lo8 and hi0..hi8 (min and max of x_j: a constant column's mean is then known exactly).
 */
export function momentsSql(
  d: SqlDialect,
  table: string,
  groups: LayerGroups,
  options: { columnRange?: boolean } = {},
): string {
  const cols = ['gid', 'count(*) AS n'];
  for (let j = 0; j < DIMS; j++) cols.push(`${d.sum(`x${j}`)} AS s${j}`);
  for (let i = 0; i < DIMS; i++)
    for (let j = i; j < DIMS; j++) cols.push(`${d.sum(`x${i} * x${j}`)} AS q${i}_${j}`);
  if (options.columnRange)
    for (let j = 0; j < DIMS; j++) cols.push(`min(x${j}) AS lo${j}`, `max(x${j}) AS hi${j}`);
  return `SELECT ${cols.join(', ')} FROM (${scaledSql(d, table, groups)}) GROUP BY gid ORDER BY gid`;
}

/** Peaks pass: one row per group: gid, n (filters), peak (the largest |w| of its filters, float64). */
export function peaksSql(d: SqlDialect, table: string, groups: LayerGroups): string {
  return `SELECT gid, count(*) AS n, max(${peakSql(d).peak}) AS peak FROM (${d.source(table, groups)}) GROUP BY gid ORDER BY gid`;
}

/** Basis of a projection: mean[9] and components[81] (row i = component i). */
export interface SqlBasis {
  mean: ArrayLike<number>;
  components: ArrayLike<number>;
}

/** Rows gid, c0..c8: coefficients on the basis, in the kernels' order of operations. */
function coefficientsSql(d: SqlDialect, table: string, groups: LayerGroups, basis: SqlBasis): string {
  const centred = Array.from({ length: DIMS }, (_, j) => `(x${j} - ${d.num(basis.mean[j])})`);
  const c = Array.from({ length: DIMS }, (_, i) => {
    let e = `${centred[0]} * ${d.num(basis.components[i * DIMS])}`;
    for (let j = 1; j < DIMS; j++) e = `(${e}) + ${centred[j]} * ${d.num(basis.components[i * DIMS + j])}`;
    return `${e} AS c${i}`;
  });
  return `SELECT gid, ${c.join(', ')} FROM (${scaledSql(d, table, groups)})`;
}

/** Range pass: one row lo, hi — the exact min and max over all 9 coefficients. */
export function rangeSql(d: SqlDialect, table: string, groups: LayerGroups, basis: SqlBasis): string {
  const mins = coefficientNames.map((c) => `min(${c}) AS lo${c.slice(1)}`);
  const maxs = coefficientNames.map((c) => `max(${c}) AS hi${c.slice(1)}`);
  return `SELECT ${[...mins, ...maxs].join(', ')} FROM (${coefficientsSql(d, table, groups, basis)})`;
}

/** Histogram pass: rows gid, k, bin, n over [lo, hi] with `bins` equal bins (numpy.histogram's edges). */
export function histogramSql(
  d: SqlDialect,
  table: string,
  groups: LayerGroups,
  basis: SqlBasis,
  range: [number, number],
  bins: number,
): string {
  if (!Number.isInteger(bins) || bins < 1) throw new RangeError(`bins must be a positive integer: ${bins}`);
  const [lo, hi] = range;
  const step = (hi - lo) / bins;
  const scale = hi === lo ? 0 : bins / (hi - lo);
  const L = d.num(lo);
  const last = bins - 1;
  const edge = (i: string) => `(${L} + ${i} * ${d.num(step)})`;
  const first = `SELECT gid, k, x, least(${d.int(`floor((x - ${L}) * ${d.num(scale)})`)}, ${last}) AS i0
    FROM (${d.explode(coefficientsSql(d, table, groups, basis))}) WHERE x >= ${L} AND x <= ${d.num(hi)}`;
  const bin = d.cond(
    `x < ${edge('i0')}`,
    'i0 - 1',
    d.cond(`i0 <> ${last} AND x >= ${edge('(i0 + 1)')}`, 'i0 + 1', 'i0'),
  );
  return `SELECT gid, k, bin, count(*) AS n FROM (SELECT gid, k, ${bin} AS bin FROM (${first}))
    GROUP BY gid, k, bin ORDER BY gid, k, bin`;
}

/** Filters per group (when the moments pass is skipped: a stored basis). */
export function countSql(d: SqlDialect, table: string, groups: LayerGroups): string {
  const rows = groups.thresholds ? scaledSql(d, table, groups) : d.source(table, groups);
  return `SELECT gid, count(*) AS n FROM (${rows}) GROUP BY gid ORDER BY gid`;
}

/** A layer's filters in storage order (w0..w8 rows), for what runs in-process on whole layers. */
export function layerFiltersSql(table: string, layerId: number): string {
  if (!Number.isSafeInteger(layerId)) throw new RangeError(`not an integer id: ${layerId}`);
  return `SELECT ${Array.from({ length: DIMS }, (_, j) => `w${j}`).join(', ')} FROM ${table} WHERE layer_id = ${layerId} ORDER BY filter_id`;
}
