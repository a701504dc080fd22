/**
 * Node-only: the streaming passes of the distribution-shift analysis over the `filters` table, as tight
 * typed-array loops on DuckDB's columnar chunks (2048 rows; w0..w8 read as Float32Array views, layer_id as
 * Int32Array — never row objects). Runs in the calling thread or in a worker (filter-scan-worker.ts); every
 * result is a mergeable accumulator, so N workers each scanning a part of the filter_id range are merged by
 * the caller.
 *
 * The arithmetic is the one of analysis/shift.ts (division by the peak, projection summed in component order),
 * so results agree with the in-memory path to rounding of the moment merges.
 */
import duckdb from '@duckdb/node-bindings';

export const DIMS = 9;

/** A filter_id interval [lo, hi). */
export interface IdRange {
  lo: number;
  hi: number;
}

export interface HistMap {
  /** layer_id → group index (-1: not counted). */
  layerGroup: Int32Array;
  groups: number;
  bins: number;
}

export interface DensitySpec {
  size: number;
  lo: number;
  hi: number;
  xIndex: number;
  yIndex: number;
}

export type PassSpec =
  | { kind: 'moments' }
  | { kind: 'range'; mean: Float64Array; comps: Float64Array }
  | {
      kind: 'hist';
      mean: Float64Array;
      comps: Float64Array;
      lo: number;
      hi: number;
      maps: HistMap[];
      density?: DensitySpec;
    };

export interface ScanTask {
  path: string;
  /** filter_id intervals scanned (SQL predicate); rows outside selected layers are skipped when `selected` is given. */
  ranges: IdRange[];
  /** layer_id → 1 when selected; null: every row in `ranges` is selected. */
  selected: Uint8Array | null;
  pass: PassSpec;
  /** DuckDB threads of this scanner's instance. */
  threads?: number;
}

export interface MomentSums {
  n: number;
  mean: Float64Array;
  scatter: Float64Array;
}

export interface ScanResult {
  rows: number;
  moments?: MomentSums;
  lo?: number;
  hi?: number;
  hist?: { counts: Float64Array; filters: Float64Array }[];
  density?: { counts: Float64Array; total: number; outside: number };
}

/** Chan et al. merge of moments (a ← a ∪ b). */
export function mergeMomentSums(a: MomentSums, b: MomentSums): void {
  if (b.n === 0) return;
  if (a.n === 0) {
    a.n = b.n;
    a.mean.set(b.mean);
    a.scatter.set(b.scatter);
    return;
  }
  const n = a.n + b.n;
  const f = (a.n * b.n) / n;
  const d = new Float64Array(DIMS);
  for (let j = 0; j < DIMS; j++) d[j] = b.mean[j] - a.mean[j];
  for (let i = 0; i < DIMS; i++)
    for (let j = 0; j < DIMS; j++) a.scatter[i * DIMS + j] += b.scatter[i * DIMS + j] + d[i] * d[j] * f;
  for (let j = 0; j < DIMS; j++) a.mean[j] += (d[j] * b.n) / n;
  a.n = n;
}

export function mergeScanResults(into: ScanResult, r: ScanResult): ScanResult {
  into.rows += r.rows;
  if (r.moments) {
    if (!into.moments) into.moments = emptySums();
    mergeMomentSums(into.moments, r.moments);
  }
  if (r.lo !== undefined && r.hi !== undefined) {
    into.lo = into.lo === undefined ? r.lo : Math.min(into.lo, r.lo);
    into.hi = into.hi === undefined ? r.hi : Math.max(into.hi, r.hi);
  }
  if (r.hist) {
    if (!into.hist) into.hist = r.hist;
    else
      r.hist.forEach((h, m) => {
        const t = into.hist![m];
        for (let i = 0; i < h.counts.length; i++) t.counts[i] += h.counts[i];
        for (let i = 0; i < h.filters.length; i++) t.filters[i] += h.filters[i];
      });
  }
  if (r.density) {
    if (!into.density) into.density = r.density;
    else {
      const t = into.density;
      for (let i = 0; i < t.counts.length; i++) t.counts[i] += r.density.counts[i];
      t.total += r.density.total;
      t.outside += r.density.outside;
    }
  }
  return into;
}

function emptySums(): MomentSums {
  return { n: 0, mean: new Float64Array(DIMS), scatter: new Float64Array(DIMS * DIMS) };
}

/** Per-chunk kernels: accumulate into the pass state. */
export interface Kernel {
  chunk(cols: Float32Array[], layer: Int32Array | null, size: number): void;
  result(): ScanResult;
}

// The kernels below are unrolled by hand-written generator (9 values, 45 products, 81 projection terms in
// locals): about 4x faster in V8 than loops over small Float64Arrays.

function momentsKernel(selected: Uint8Array | null): Kernel {
  const total = emptySums();
  const sum1 = new Float64Array(DIMS);
  const sum2 = new Float64Array((DIMS * (DIMS + 1)) / 2);
  const part: MomentSums = emptySums();
  let rows = 0;
  // raw sums of ≤ 2048 rows → centred moments, merged pairwise (keeps float64 accuracy at 1e9 rows)
  const addChunk = (n: number) => {
    part.n = n;
    for (let i = 0; i < DIMS; i++) part.mean[i] = sum1[i] / n;
    let q = 0;
    for (let i = 0; i < DIMS; i++)
      for (let j = i; j < DIMS; j++, q++) {
        const v = sum2[q] - n * part.mean[i] * part.mean[j];
        part.scatter[i * DIMS + j] = v;
        part.scatter[j * DIMS + i] = v;
      }
    mergeMomentSums(total, part);
  };
  return {
    chunk(cols, layer, size) {
      const [c0, c1, c2, c3, c4, c5, c6, c7, c8] = cols;
      let n = 0;
      let s0 = 0,
        s1 = 0,
        s2 = 0,
        s3 = 0,
        s4 = 0,
        s5 = 0,
        s6 = 0,
        s7 = 0,
        s8 = 0;
      let q00 = 0,
        q01 = 0,
        q02 = 0,
        q03 = 0,
        q04 = 0,
        q05 = 0,
        q06 = 0,
        q07 = 0,
        q08 = 0,
        q11 = 0,
        q12 = 0,
        q13 = 0,
        q14 = 0,
        q15 = 0,
        q16 = 0,
        q17 = 0,
        q18 = 0,
        q22 = 0,
        q23 = 0,
        q24 = 0,
        q25 = 0,
        q26 = 0,
        q27 = 0,
        q28 = 0,
        q33 = 0,
        q34 = 0,
        q35 = 0,
        q36 = 0,
        q37 = 0,
        q38 = 0,
        q44 = 0,
        q45 = 0,
        q46 = 0,
        q47 = 0,
        q48 = 0,
        q55 = 0,
        q56 = 0,
        q57 = 0,
        q58 = 0,
        q66 = 0,
        q67 = 0,
        q68 = 0,
        q77 = 0,
        q78 = 0,
        q88 = 0;
      for (let r = 0; r < size; r++) {
        if (selected !== null && layer !== null && selected[layer[r]] !== 1) continue;
        const v0 = c0[r];
        const v1 = c1[r];
        const v2 = c2[r];
        const v3 = c3[r];
        const v4 = c4[r];
        const v5 = c5[r];
        const v6 = c6[r];
        const v7 = c7[r];
        const v8 = c8[r];
        let peak = v0 < 0 ? -v0 : v0;
        const a1 = v1 < 0 ? -v1 : v1;
        if (a1 > peak) peak = a1;
        const a2 = v2 < 0 ? -v2 : v2;
        if (a2 > peak) peak = a2;
        const a3 = v3 < 0 ? -v3 : v3;
        if (a3 > peak) peak = a3;
        const a4 = v4 < 0 ? -v4 : v4;
        if (a4 > peak) peak = a4;
        const a5 = v5 < 0 ? -v5 : v5;
        if (a5 > peak) peak = a5;
        const a6 = v6 < 0 ? -v6 : v6;
        if (a6 > peak) peak = a6;
        const a7 = v7 < 0 ? -v7 : v7;
        if (a7 > peak) peak = a7;
        const a8 = v8 < 0 ? -v8 : v8;
        if (a8 > peak) peak = a8;
        n++;
        if (peak === 0) continue;
        const x0 = v0 / peak;
        const x1 = v1 / peak;
        const x2 = v2 / peak;
        const x3 = v3 / peak;
        const x4 = v4 / peak;
        const x5 = v5 / peak;
        const x6 = v6 / peak;
        const x7 = v7 / peak;
        const x8 = v8 / peak;
        s0 += x0;
        s1 += x1;
        s2 += x2;
        s3 += x3;
        s4 += x4;
        s5 += x5;
        s6 += x6;
        s7 += x7;
        s8 += x8;
        q00 += x0 * x0;
        q01 += x0 * x1;
        q02 += x0 * x2;
        q03 += x0 * x3;
        q04 += x0 * x4;
        q05 += x0 * x5;
        q06 += x0 * x6;
        q07 += x0 * x7;
        q08 += x0 * x8;
        q11 += x1 * x1;
        q12 += x1 * x2;
        q13 += x1 * x3;
        q14 += x1 * x4;
        q15 += x1 * x5;
        q16 += x1 * x6;
        q17 += x1 * x7;
        q18 += x1 * x8;
        q22 += x2 * x2;
        q23 += x2 * x3;
        q24 += x2 * x4;
        q25 += x2 * x5;
        q26 += x2 * x6;
        q27 += x2 * x7;
        q28 += x2 * x8;
        q33 += x3 * x3;
        q34 += x3 * x4;
        q35 += x3 * x5;
        q36 += x3 * x6;
        q37 += x3 * x7;
        q38 += x3 * x8;
        q44 += x4 * x4;
        q45 += x4 * x5;
        q46 += x4 * x6;
        q47 += x4 * x7;
        q48 += x4 * x8;
        q55 += x5 * x5;
        q56 += x5 * x6;
        q57 += x5 * x7;
        q58 += x5 * x8;
        q66 += x6 * x6;
        q67 += x6 * x7;
        q68 += x6 * x8;
        q77 += x7 * x7;
        q78 += x7 * x8;
        q88 += x8 * x8;
      }
      rows += n;
      if (n === 0) return;
      sum1.set([s0, s1, s2, s3, s4, s5, s6, s7, s8]);
      sum2.set([
        q00,
        q01,
        q02,
        q03,
        q04,
        q05,
        q06,
        q07,
        q08,
        q11,
        q12,
        q13,
        q14,
        q15,
        q16,
        q17,
        q18,
        q22,
        q23,
        q24,
        q25,
        q26,
        q27,
        q28,
        q33,
        q34,
        q35,
        q36,
        q37,
        q38,
        q44,
        q45,
        q46,
        q47,
        q48,
        q55,
        q56,
        q57,
        q58,
        q66,
        q67,
        q68,
        q77,
        q78,
        q88,
      ]);
      addChunk(n);
    },
    result: () => ({ rows, moments: total }),
  };
}

function rangeKernel(selected: Uint8Array | null, mean: Float64Array, comps: Float64Array): Kernel {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  let rows = 0;
  return {
    chunk(cols, layer, size) {
      const [c0, c1, c2, c3, c4, c5, c6, c7, c8] = cols;
      const m0 = mean[0];
      const m1 = mean[1];
      const m2 = mean[2];
      const m3 = mean[3];
      const m4 = mean[4];
      const m5 = mean[5];
      const m6 = mean[6];
      const m7 = mean[7];
      const m8 = mean[8];
      const p00 = comps[0];
      const p01 = comps[1];
      const p02 = comps[2];
      const p03 = comps[3];
      const p04 = comps[4];
      const p05 = comps[5];
      const p06 = comps[6];
      const p07 = comps[7];
      const p08 = comps[8];
      const p10 = comps[9];
      const p11 = comps[10];
      const p12 = comps[11];
      const p13 = comps[12];
      const p14 = comps[13];
      const p15 = comps[14];
      const p16 = comps[15];
      const p17 = comps[16];
      const p18 = comps[17];
      const p20 = comps[18];
      const p21 = comps[19];
      const p22 = comps[20];
      const p23 = comps[21];
      const p24 = comps[22];
      const p25 = comps[23];
      const p26 = comps[24];
      const p27 = comps[25];
      const p28 = comps[26];
      const p30 = comps[27];
      const p31 = comps[28];
      const p32 = comps[29];
      const p33 = comps[30];
      const p34 = comps[31];
      const p35 = comps[32];
      const p36 = comps[33];
      const p37 = comps[34];
      const p38 = comps[35];
      const p40 = comps[36];
      const p41 = comps[37];
      const p42 = comps[38];
      const p43 = comps[39];
      const p44 = comps[40];
      const p45 = comps[41];
      const p46 = comps[42];
      const p47 = comps[43];
      const p48 = comps[44];
      const p50 = comps[45];
      const p51 = comps[46];
      const p52 = comps[47];
      const p53 = comps[48];
      const p54 = comps[49];
      const p55 = comps[50];
      const p56 = comps[51];
      const p57 = comps[52];
      const p58 = comps[53];
      const p60 = comps[54];
      const p61 = comps[55];
      const p62 = comps[56];
      const p63 = comps[57];
      const p64 = comps[58];
      const p65 = comps[59];
      const p66 = comps[60];
      const p67 = comps[61];
      const p68 = comps[62];
      const p70 = comps[63];
      const p71 = comps[64];
      const p72 = comps[65];
      const p73 = comps[66];
      const p74 = comps[67];
      const p75 = comps[68];
      const p76 = comps[69];
      const p77 = comps[70];
      const p78 = comps[71];
      const p80 = comps[72];
      const p81 = comps[73];
      const p82 = comps[74];
      const p83 = comps[75];
      const p84 = comps[76];
      const p85 = comps[77];
      const p86 = comps[78];
      const p87 = comps[79];
      const p88 = comps[80];
      let l = lo;
      let h = hi;
      for (let r = 0; r < size; r++) {
        if (selected !== null && layer !== null && selected[layer[r]] !== 1) continue;
        const v0 = c0[r];
        const v1 = c1[r];
        const v2 = c2[r];
        const v3 = c3[r];
        const v4 = c4[r];
        const v5 = c5[r];
        const v6 = c6[r];
        const v7 = c7[r];
        const v8 = c8[r];
        let peak = v0 < 0 ? -v0 : v0;
        const a1 = v1 < 0 ? -v1 : v1;
        if (a1 > peak) peak = a1;
        const a2 = v2 < 0 ? -v2 : v2;
        if (a2 > peak) peak = a2;
        const a3 = v3 < 0 ? -v3 : v3;
        if (a3 > peak) peak = a3;
        const a4 = v4 < 0 ? -v4 : v4;
        if (a4 > peak) peak = a4;
        const a5 = v5 < 0 ? -v5 : v5;
        if (a5 > peak) peak = a5;
        const a6 = v6 < 0 ? -v6 : v6;
        if (a6 > peak) peak = a6;
        const a7 = v7 < 0 ? -v7 : v7;
        if (a7 > peak) peak = a7;
        const a8 = v8 < 0 ? -v8 : v8;
        if (a8 > peak) peak = a8;
        let x0: number,
          x1: number,
          x2: number,
          x3: number,
          x4: number,
          x5: number,
          x6: number,
          x7: number,
          x8: number;
        if (peak === 0) {
          x0 = 0 - m0;
          x1 = 0 - m1;
          x2 = 0 - m2;
          x3 = 0 - m3;
          x4 = 0 - m4;
          x5 = 0 - m5;
          x6 = 0 - m6;
          x7 = 0 - m7;
          x8 = 0 - m8;
        } else {
          x0 = v0 / peak - m0;
          x1 = v1 / peak - m1;
          x2 = v2 / peak - m2;
          x3 = v3 / peak - m3;
          x4 = v4 / peak - m4;
          x5 = v5 / peak - m5;
          x6 = v6 / peak - m6;
          x7 = v7 / peak - m7;
          x8 = v8 / peak - m8;
        }
        const k0 =
          0 +
          x0 * p00 +
          x1 * p01 +
          x2 * p02 +
          x3 * p03 +
          x4 * p04 +
          x5 * p05 +
          x6 * p06 +
          x7 * p07 +
          x8 * p08;
        const k1 =
          0 +
          x0 * p10 +
          x1 * p11 +
          x2 * p12 +
          x3 * p13 +
          x4 * p14 +
          x5 * p15 +
          x6 * p16 +
          x7 * p17 +
          x8 * p18;
        const k2 =
          0 +
          x0 * p20 +
          x1 * p21 +
          x2 * p22 +
          x3 * p23 +
          x4 * p24 +
          x5 * p25 +
          x6 * p26 +
          x7 * p27 +
          x8 * p28;
        const k3 =
          0 +
          x0 * p30 +
          x1 * p31 +
          x2 * p32 +
          x3 * p33 +
          x4 * p34 +
          x5 * p35 +
          x6 * p36 +
          x7 * p37 +
          x8 * p38;
        const k4 =
          0 +
          x0 * p40 +
          x1 * p41 +
          x2 * p42 +
          x3 * p43 +
          x4 * p44 +
          x5 * p45 +
          x6 * p46 +
          x7 * p47 +
          x8 * p48;
        const k5 =
          0 +
          x0 * p50 +
          x1 * p51 +
          x2 * p52 +
          x3 * p53 +
          x4 * p54 +
          x5 * p55 +
          x6 * p56 +
          x7 * p57 +
          x8 * p58;
        const k6 =
          0 +
          x0 * p60 +
          x1 * p61 +
          x2 * p62 +
          x3 * p63 +
          x4 * p64 +
          x5 * p65 +
          x6 * p66 +
          x7 * p67 +
          x8 * p68;
        const k7 =
          0 +
          x0 * p70 +
          x1 * p71 +
          x2 * p72 +
          x3 * p73 +
          x4 * p74 +
          x5 * p75 +
          x6 * p76 +
          x7 * p77 +
          x8 * p78;
        const k8 =
          0 +
          x0 * p80 +
          x1 * p81 +
          x2 * p82 +
          x3 * p83 +
          x4 * p84 +
          x5 * p85 +
          x6 * p86 +
          x7 * p87 +
          x8 * p88;
        rows++;
        if (k0 < l) l = k0;
        if (k0 > h) h = k0;
        if (k1 < l) l = k1;
        if (k1 > h) h = k1;
        if (k2 < l) l = k2;
        if (k2 > h) h = k2;
        if (k3 < l) l = k3;
        if (k3 > h) h = k3;
        if (k4 < l) l = k4;
        if (k4 > h) h = k4;
        if (k5 < l) l = k5;
        if (k5 > h) h = k5;
        if (k6 < l) l = k6;
        if (k6 > h) h = k6;
        if (k7 < l) l = k7;
        if (k7 > h) h = k7;
        if (k8 < l) l = k8;
        if (k8 > h) h = k8;
      }
      lo = l;
      hi = h;
    },
    result: () => ({ rows, lo, hi }),
  };
}

interface MapState extends HistMap {
  edges: Float64Array;
  scale: number;
  counts: Float64Array;
  filters: Float64Array;
}

/** numpy.histogram's bin of each of the 9 coefficients of one filter, counted into group g's histograms. */
function countRow(m: MapState, g: number, c: Float64Array, lo: number, hi: number): void {
  const { bins, edges, scale, counts } = m;
  const base = g * DIMS * bins;
  m.filters[g]++;
  for (let k = 0; k < DIMS; k++) {
    const x = c[k];
    if (!(x >= lo && x <= hi)) continue;
    let i = Math.floor((x - lo) * scale);
    if (i >= bins) i = bins - 1;
    if (x < edges[i]) i--;
    else if (i !== bins - 1 && x >= edges[i + 1]) i++;
    counts[base + k * bins + i]++;
  }
}

function histKernel(spec: Extract<PassSpec, { kind: 'hist' }>): Kernel {
  const { lo, hi, mean, comps } = spec;
  const c = new Float64Array(DIMS);
  const maps: MapState[] = spec.maps.map((m) => {
    const edges = new Float64Array(m.bins + 1);
    const step = (hi - lo) / m.bins;
    for (let j = 0; j < m.bins; j++) edges[j] = lo + j * step;
    edges[m.bins] = hi;
    return {
      ...m,
      edges,
      scale: hi === lo ? 0 : m.bins / (hi - lo),
      counts: new Float64Array(m.groups * DIMS * m.bins),
      filters: new Float64Array(m.groups),
    };
  });
  const nMaps = maps.length;
  const d = spec.density;
  const dens = d ? new Float64Array(d.size * d.size) : null;
  const dScale = d ? d.size / (d.hi - d.lo) : 0;
  let dTotal = 0;
  let dOutside = 0;
  let rows = 0;
  return {
    chunk(cols, layer, size) {
      const [c0, c1, c2, c3, c4, c5, c6, c7, c8] = cols;
      const m0 = mean[0];
      const m1 = mean[1];
      const m2 = mean[2];
      const m3 = mean[3];
      const m4 = mean[4];
      const m5 = mean[5];
      const m6 = mean[6];
      const m7 = mean[7];
      const m8 = mean[8];
      const p00 = comps[0];
      const p01 = comps[1];
      const p02 = comps[2];
      const p03 = comps[3];
      const p04 = comps[4];
      const p05 = comps[5];
      const p06 = comps[6];
      const p07 = comps[7];
      const p08 = comps[8];
      const p10 = comps[9];
      const p11 = comps[10];
      const p12 = comps[11];
      const p13 = comps[12];
      const p14 = comps[13];
      const p15 = comps[14];
      const p16 = comps[15];
      const p17 = comps[16];
      const p18 = comps[17];
      const p20 = comps[18];
      const p21 = comps[19];
      const p22 = comps[20];
      const p23 = comps[21];
      const p24 = comps[22];
      const p25 = comps[23];
      const p26 = comps[24];
      const p27 = comps[25];
      const p28 = comps[26];
      const p30 = comps[27];
      const p31 = comps[28];
      const p32 = comps[29];
      const p33 = comps[30];
      const p34 = comps[31];
      const p35 = comps[32];
      const p36 = comps[33];
      const p37 = comps[34];
      const p38 = comps[35];
      const p40 = comps[36];
      const p41 = comps[37];
      const p42 = comps[38];
      const p43 = comps[39];
      const p44 = comps[40];
      const p45 = comps[41];
      const p46 = comps[42];
      const p47 = comps[43];
      const p48 = comps[44];
      const p50 = comps[45];
      const p51 = comps[46];
      const p52 = comps[47];
      const p53 = comps[48];
      const p54 = comps[49];
      const p55 = comps[50];
      const p56 = comps[51];
      const p57 = comps[52];
      const p58 = comps[53];
      const p60 = comps[54];
      const p61 = comps[55];
      const p62 = comps[56];
      const p63 = comps[57];
      const p64 = comps[58];
      const p65 = comps[59];
      const p66 = comps[60];
      const p67 = comps[61];
      const p68 = comps[62];
      const p70 = comps[63];
      const p71 = comps[64];
      const p72 = comps[65];
      const p73 = comps[66];
      const p74 = comps[67];
      const p75 = comps[68];
      const p76 = comps[69];
      const p77 = comps[70];
      const p78 = comps[71];
      const p80 = comps[72];
      const p81 = comps[73];
      const p82 = comps[74];
      const p83 = comps[75];
      const p84 = comps[76];
      const p85 = comps[77];
      const p86 = comps[78];
      const p87 = comps[79];
      const p88 = comps[80];
      const map0 = maps[0];
      const first = map0.layerGroup;
      const bins0 = map0.bins;
      const edges0 = map0.edges;
      const scale0 = map0.scale;
      const counts0 = map0.counts;
      const f0 = map0.filters;
      for (let r = 0; r < size; r++) {
        const lid = layer === null ? 0 : layer[r];
        if (first[lid] < 0) continue;
        const v0 = c0[r];
        const v1 = c1[r];
        const v2 = c2[r];
        const v3 = c3[r];
        const v4 = c4[r];
        const v5 = c5[r];
        const v6 = c6[r];
        const v7 = c7[r];
        const v8 = c8[r];
        let peak = v0 < 0 ? -v0 : v0;
        const a1 = v1 < 0 ? -v1 : v1;
        if (a1 > peak) peak = a1;
        const a2 = v2 < 0 ? -v2 : v2;
        if (a2 > peak) peak = a2;
        const a3 = v3 < 0 ? -v3 : v3;
        if (a3 > peak) peak = a3;
        const a4 = v4 < 0 ? -v4 : v4;
        if (a4 > peak) peak = a4;
        const a5 = v5 < 0 ? -v5 : v5;
        if (a5 > peak) peak = a5;
        const a6 = v6 < 0 ? -v6 : v6;
        if (a6 > peak) peak = a6;
        const a7 = v7 < 0 ? -v7 : v7;
        if (a7 > peak) peak = a7;
        const a8 = v8 < 0 ? -v8 : v8;
        if (a8 > peak) peak = a8;
        let x0: number,
          x1: number,
          x2: number,
          x3: number,
          x4: number,
          x5: number,
          x6: number,
          x7: number,
          x8: number;
        if (peak === 0) {
          x0 = 0 - m0;
          x1 = 0 - m1;
          x2 = 0 - m2;
          x3 = 0 - m3;
          x4 = 0 - m4;
          x5 = 0 - m5;
          x6 = 0 - m6;
          x7 = 0 - m7;
          x8 = 0 - m8;
        } else {
          x0 = v0 / peak - m0;
          x1 = v1 / peak - m1;
          x2 = v2 / peak - m2;
          x3 = v3 / peak - m3;
          x4 = v4 / peak - m4;
          x5 = v5 / peak - m5;
          x6 = v6 / peak - m6;
          x7 = v7 / peak - m7;
          x8 = v8 / peak - m8;
        }
        const k0 =
          0 +
          x0 * p00 +
          x1 * p01 +
          x2 * p02 +
          x3 * p03 +
          x4 * p04 +
          x5 * p05 +
          x6 * p06 +
          x7 * p07 +
          x8 * p08;
        const k1 =
          0 +
          x0 * p10 +
          x1 * p11 +
          x2 * p12 +
          x3 * p13 +
          x4 * p14 +
          x5 * p15 +
          x6 * p16 +
          x7 * p17 +
          x8 * p18;
        const k2 =
          0 +
          x0 * p20 +
          x1 * p21 +
          x2 * p22 +
          x3 * p23 +
          x4 * p24 +
          x5 * p25 +
          x6 * p26 +
          x7 * p27 +
          x8 * p28;
        const k3 =
          0 +
          x0 * p30 +
          x1 * p31 +
          x2 * p32 +
          x3 * p33 +
          x4 * p34 +
          x5 * p35 +
          x6 * p36 +
          x7 * p37 +
          x8 * p38;
        const k4 =
          0 +
          x0 * p40 +
          x1 * p41 +
          x2 * p42 +
          x3 * p43 +
          x4 * p44 +
          x5 * p45 +
          x6 * p46 +
          x7 * p47 +
          x8 * p48;
        const k5 =
          0 +
          x0 * p50 +
          x1 * p51 +
          x2 * p52 +
          x3 * p53 +
          x4 * p54 +
          x5 * p55 +
          x6 * p56 +
          x7 * p57 +
          x8 * p58;
        const k6 =
          0 +
          x0 * p60 +
          x1 * p61 +
          x2 * p62 +
          x3 * p63 +
          x4 * p64 +
          x5 * p65 +
          x6 * p66 +
          x7 * p67 +
          x8 * p68;
        const k7 =
          0 +
          x0 * p70 +
          x1 * p71 +
          x2 * p72 +
          x3 * p73 +
          x4 * p74 +
          x5 * p75 +
          x6 * p76 +
          x7 * p77 +
          x8 * p78;
        const k8 =
          0 +
          x0 * p80 +
          x1 * p81 +
          x2 * p82 +
          x3 * p83 +
          x4 * p84 +
          x5 * p85 +
          x6 * p86 +
          x7 * p87 +
          x8 * p88;
        c[0] = k0;
        c[1] = k1;
        c[2] = k2;
        c[3] = k3;
        c[4] = k4;
        c[5] = k5;
        c[6] = k6;
        c[7] = k7;
        c[8] = k8;
        rows++;
        // map 0 inline (the common case), further maps through countRow
        const base0 = first[lid] * DIMS * bins0;
        f0[first[lid]]++;
        for (let k = 0; k < DIMS; k++) {
          const x = c[k];
          if (!(x >= lo && x <= hi)) continue;
          let i = Math.floor((x - lo) * scale0);
          if (i >= bins0) i = bins0 - 1;
          if (x < edges0[i]) i--;
          else if (i !== bins0 - 1 && x >= edges0[i + 1]) i++;
          counts0[base0 + k * bins0 + i]++;
        }
        for (let mi = 1; mi < nMaps; mi++) {
          const m = maps[mi];
          const g = m.layerGroup[lid];
          if (g >= 0) countRow(m, g, c, lo, hi);
        }
        if (dens !== null && d) {
          const x = c[d.xIndex];
          const y = c[d.yIndex];
          if (!(x >= d.lo && x <= d.hi && y >= d.lo && y <= d.hi)) dOutside++;
          else {
            const ix = Math.min(d.size - 1, Math.floor((x - d.lo) * dScale));
            const iy = Math.min(d.size - 1, Math.floor((y - d.lo) * dScale));
            dens[iy * d.size + ix]++;
            dTotal++;
          }
        }
      }
    },
    result: () => ({
      rows,
      hist: maps.map((m) => ({ counts: m.counts, filters: m.filters })),
      density: dens ? { counts: dens, total: dTotal, outside: dOutside } : undefined,
    }),
  };
}

export function makeKernel(task: ScanTask): Kernel {
  const p = task.pass;
  if (p.kind === 'moments') return momentsKernel(task.selected);
  if (p.kind === 'range') return rangeKernel(task.selected, p.mean, p.comps);
  return histKernel(p);
}

/** SQL predicate of a set of filter_id intervals. */
export function rangePredicate(ranges: IdRange[]): string {
  if (ranges.length === 0) return 'false';
  return ranges.map((r) => `(filter_id >= ${r.lo} AND filter_id < ${r.hi})`).join(' OR ');
}

function f32(v: Uint8Array, size: number): Float32Array {
  if (v.byteOffset % 4 === 0) return new Float32Array(v.buffer, v.byteOffset, size);
  return new Float32Array(v.slice().buffer, 0, size);
}

function i32(v: Uint8Array, size: number): Int32Array {
  if (v.byteOffset % 4 === 0) return new Int32Array(v.buffer, v.byteOffset, size);
  return new Int32Array(v.slice().buffer, 0, size);
}

/** Opens a read-only DuckDB instance (node-bindings) for scanning. */
export async function openScanDb(
  path: string,
  threads?: number,
): Promise<{ con: duckdb.Connection; close(): void }> {
  const cfg = duckdb.create_config();
  duckdb.set_config(cfg, 'access_mode', 'READ_ONLY');
  duckdb.set_config(cfg, 'memory_limit', '256MB');
  if (threads) duckdb.set_config(cfg, 'threads', String(threads));
  const db = await duckdb.open(path, cfg);
  const con = await duckdb.connect(db);
  return {
    con,
    close() {
      duckdb.disconnect_sync(con);
      duckdb.close_sync(db);
    },
  };
}

/**
 * Runs one pass over `task.ranges`, chunk by chunk (the next chunk is fetched while the current one is
 * processed). Memory: one or two DuckDB chunks plus the accumulators.
 */
export async function runScan(
  task: ScanTask,
  onRows?: (rows: number) => void,
  con?: duckdb.Connection,
): Promise<ScanResult> {
  const kernel = makeKernel(task);
  const needLayer = task.selected !== null || task.pass.kind === 'hist';
  if (task.ranges.length === 0) return kernel.result();
  const own = con ? null : await openScanDb(task.path, task.threads);
  const c = con ?? own!.con;
  try {
    const cols = `${needLayer ? 'layer_id, ' : ''}w0, w1, w2, w3, w4, w5, w6, w7, w8`;
    const prep = await duckdb.prepare(c, `SELECT ${cols} FROM filters WHERE ${rangePredicate(task.ranges)}`);
    const res = await duckdb.execute_prepared_streaming(prep);
    const off = needLayer ? 1 : 0;
    let seen = 0;
    let reported = 0;
    let next = duckdb.fetch_chunk(res);
    for (;;) {
      const chunk = await next;
      if (!chunk) break;
      const size = duckdb.data_chunk_get_size(chunk);
      if (size === 0) break;
      next = duckdb.fetch_chunk(res);
      const layer = needLayer
        ? i32(duckdb.vector_get_data(duckdb.data_chunk_get_vector(chunk, 0), size * 4), size)
        : null;
      const w: Float32Array[] = new Array(DIMS);
      for (let k = 0; k < DIMS; k++)
        w[k] = f32(duckdb.vector_get_data(duckdb.data_chunk_get_vector(chunk, k + off), size * 4), size);
      kernel.chunk(w, layer, size);
      seen += size;
      if (onRows && seen - reported >= 1 << 20) {
        onRows(seen - reported);
        reported = seen;
      }
    }
    if (onRows && seen > reported) onRows(seen - reported);
    duckdb.destroy_prepare_sync(prep);
    return kernel.result();
  } finally {
    own?.close();
  }
}
