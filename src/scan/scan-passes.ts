/**
 * The three distribution-shift passes (moments → range → histograms, analysis/shift.ts) as accumulators over
 * blocks of filters staged in the WebAssembly kernels' memory (analysis/wasm/scan.ts), and the merge of their
 * results across scan parts.
 *
 * Determinism: blocks are {@link SCAN_BLOCK} filters at fixed positions of the selection, and the moments
 * are kept per superblock (a fixed number of blocks, a function of the selection size only). A block's raw
 * sums become centred moments, Chan-merged in order within the superblock; the caller merges the superblocks
 * in order. Scan parts start at superblock boundaries, so the result is the same bits whatever the number of
 * workers. Histograms are integer counts and the range is a min/max: order-free.
 */
import { blockMoments, emptySums, type MomentSums, mergeMomentSums } from '../analysis/layer-stats.js';
import { SCAN_BLOCK, type ScanKernels, type WasmHistogram } from '../analysis/wasm/scan.js';
import { RangeCandidates, type TrackSpec } from './range-candidates.js';

export const DIMS = 9;

export { emptySums, type MomentSums, mergeMomentSums };

export interface HistMap {
  /** layer_id → group index (-1: not counted; {@link PER_FILTER}: see `filterGroups`). */
  layerGroup: Int32Array;
  groups: number;
  bins: number;
  /** The layers grouped filter by filter (`shift --by pattern`): each filter's group index, in filter_id order. */
  filterGroups?: FilterGroups[];
}

/** A layer's per-filter group indices; `first` is its first filter_id. */
export interface FilterGroups {
  layerId: number;
  first: number;
  groups: Int32Array;
}

/** {@link HistMap.layerGroup} of a layer whose filters are grouped one by one. */
export const PER_FILTER = -2;

/**
 * Per-filter groups as a scan meets them: a layer's rows arrive in filter_id order, and within one scan task a
 * layer lies in one of its ranges (parts are cut from the merged layer intervals), so its k-th row there is
 * filter max(first, range.lo) − first + k of the layer.
 */
class FilterGroupCursor {
  private readonly groups: (Int32Array | undefined)[] = [];
  private readonly next: Int32Array;
  constructor(map: HistMap, ranges: readonly { lo: number; hi: number }[]) {
    this.next = new Int32Array(map.layerGroup.length);
    for (const f of map.filterGroups ?? []) {
      this.groups[f.layerId] = f.groups;
      const end = f.first + f.groups.length;
      const r = ranges.find((x) => x.lo < end && x.hi > f.first);
      if (r) this.next[f.layerId] = Math.max(r.lo, f.first) - f.first;
    }
  }

  /** The group of the next row of `layer`. */
  take(layer: number): number {
    const g = this.groups[layer]![this.next[layer]++];
    if (g === undefined) throw new RangeError(`layer ${layer} has more rows than labelled filters`);
    return g;
  }
}

export interface DensitySpec {
  size: number;
  lo: number;
  hi: number;
  xIndex: number;
  yIndex: number;
}

export type PassSpec =
  | { kind: 'moments'; track?: TrackSpec }
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

export interface ScanResult {
  rows: number;
  /** Moments per superblock, in selection order. */
  moments?: MomentSums[];
  /** Range candidates of the moments pass (range-candidates.ts): raw filters, row-major × 9. */
  candidates?: Float32Array;
  /** Coefficient range (range and hist passes). */
  lo?: number;
  hi?: number;
  hist?: { counts: Float64Array; filters: Float64Array }[];
  density?: { counts: Float64Array; total: number; outside: number };
}

/** Superblock size (filters) of a selection: 2048 · clamp(⌊n / 32768⌋, 1, 128). */
export function superblockRows(filterCount: number): number {
  return SCAN_BLOCK * Math.min(128, Math.max(1, Math.floor(filterCount / (SCAN_BLOCK * 16))));
}

/** Merges the result of the next part (in selection order) into `into`. */
export function mergeScanResults(into: ScanResult, r: ScanResult): ScanResult {
  into.rows += r.rows;
  if (r.moments) into.moments = [...(into.moments ?? []), ...r.moments];
  if (r.candidates) {
    const a = into.candidates ?? new Float32Array(0);
    const c = new Float32Array(a.length + r.candidates.length);
    c.set(a);
    c.set(r.candidates, a.length);
    into.candidates = c;
  }
  if (r.lo !== undefined && r.hi !== undefined && r.rows > 0) {
    into.lo = into.lo === undefined || r.lo < into.lo ? r.lo : into.lo;
    into.hi = into.hi === undefined || r.hi > into.hi ? r.hi : into.hi;
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

/** The moments of all superblocks, merged in order (`dims` values a filter: 9, or k² of kxk-passes.ts). */
export function totalMoments(r: ScanResult, dims = DIMS): MomentSums {
  const total = emptySums(dims);
  for (const m of r.moments ?? []) mergeMomentSums(total, m);
  return total;
}

/**
 * The 2-D density of two coefficients of a histogram pass: counts on the spec's square raster over [lo, hi]²,
 * and the points outside it.
 */
export class DensityRaster {
  readonly counts: Float64Array;
  private total = 0;
  private outside = 0;
  private readonly scale: number;
  constructor(private readonly spec: DensitySpec) {
    this.counts = new Float64Array(spec.size * spec.size);
    this.scale = spec.size / (spec.hi - spec.lo);
  }

  add(x: number, y: number): void {
    const d = this.spec;
    if (!(x >= d.lo && x <= d.hi && y >= d.lo && y <= d.hi)) this.outside++;
    else {
      const ix = Math.min(d.size - 1, Math.floor((x - d.lo) * this.scale));
      const iy = Math.min(d.size - 1, Math.floor((y - d.lo) * this.scale));
      this.counts[iy * d.size + ix]++;
      this.total++;
    }
  }

  result(): { counts: Float64Array; total: number; outside: number } {
    return { counts: this.counts, total: this.total, outside: this.outside };
  }
}

/**
 * A pass over staged blocks: `block(n, layers)` is called with the kernels' columns holding rows [0, n) of the
 * next block (layer ids in `layers`, when the pass asked for them).
 */
export interface BlockPass {
  readonly needLayers: boolean;
  block(n: number, layers: Int32Array): void;
  result(): ScanResult;
}

function momentsPass(k: ScanKernels, superRows: number, track?: TrackSpec): BlockPass {
  const cands = track ? new RangeCandidates(track) : null;
  const blocksPerSuper = superRows / SCAN_BLOCK;
  const supers: MomentSums[] = [];
  let acc = emptySums();
  let blocks = 0;
  let rows = 0;
  const part = emptySums();
  return {
    needLayers: false,
    block(n) {
      if (n % 2 === 1) k.zeroRow(n);
      mergeMomentSums(acc, blockMoments(k.moments(n + (n % 2)), n, part));
      cands?.block(k, n);
      rows += n;
      if (++blocks === blocksPerSuper) {
        supers.push(acc);
        acc = emptySums();
        blocks = 0;
      }
    },
    result() {
      if (acc.n > 0) supers.push(acc);
      return { rows, moments: supers, candidates: cands?.result() };
    },
  };
}

function rangePass(k: ScanKernels, mean: Float64Array, comps: Float64Array): BlockPass {
  k.setBasis(mean, comps);
  k.resetRange();
  let rows = 0;
  return {
    needLayers: false,
    block(n) {
      k.project(n, false);
      rows += n;
    },
    result() {
      const [lo, hi] = k.range();
      return { rows, lo, hi };
    },
  };
}

function histPass(
  k: ScanKernels,
  spec: Extract<PassSpec, { kind: 'hist' }>,
  ranges: readonly { lo: number; hi: number }[],
): BlockPass {
  k.setBasis(spec.mean, spec.comps);
  const cursors = spec.maps.map((m) => (m.filterGroups ? new FilterGroupCursor(m, ranges) : null));
  k.resetRange();
  const hists: WasmHistogram[] = spec.maps.map((m) => k.allocHistogram(m.groups, m.bins, spec.lo, spec.hi));
  const totals = spec.maps.map((m) => ({
    counts: new Float64Array(m.groups * DIMS * m.bins),
    filters: new Float64Array(m.groups),
  }));
  const d = spec.density;
  const dens = d ? new DensityRaster(d) : null;
  let rows = 0;
  let pending = 0;
  const drain = () => {
    hists.forEach((h, m) => {
      k.drain(h, totals[m].counts, totals[m].filters);
    });
    pending = 0;
  };
  return {
    needLayers: true,
    block(n, layers) {
      k.project(n, true);
      rows += n;
      const g = k.groups;
      spec.maps.forEach((m, mi) => {
        const lg = m.layerGroup;
        const cursor = cursors[mi];
        if (cursor)
          for (let r = 0; r < n; r++) {
            const v = lg[layers[r]];
            g[r] = v === PER_FILTER ? cursor.take(layers[r]) : v;
          }
        else for (let r = 0; r < n; r++) g[r] = lg[layers[r]];
        k.bin(n, hists[mi]);
      });
      if (dens !== null && d) {
        const first = spec.maps[0].layerGroup;
        const xs = k.coef[d.xIndex];
        const ys = k.coef[d.yIndex];
        // -1: not selected (PER_FILTER layers are)
        for (let r = 0; r < n; r++) if (first[layers[r]] !== -1) dens.add(xs[r], ys[r]);
      }
      pending += n;
      if (pending >= 1 << 30) drain();
    },
    result() {
      drain();
      const [lo, hi] = k.range();
      return {
        rows,
        lo,
        hi,
        hist: totals,
        density: dens?.result(),
      };
    },
  };
}

/** The block pass of `spec` on the kernels `k`, for a task scanning the filter_id `ranges`. */
export function makePass(
  k: ScanKernels,
  spec: PassSpec,
  superRows: number,
  ranges: readonly { lo: number; hi: number }[] = [],
): BlockPass {
  k.resetHeap();
  if (spec.kind === 'moments') return momentsPass(k, superRows, spec.track);
  if (spec.kind === 'range') return rangePass(k, spec.mean, spec.comps);
  return histPass(k, spec, ranges);
}
