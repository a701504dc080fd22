/**
 * The distribution-shift passes (moments → range → histograms) over blocks of filters of any kernel size
 * (`--kernel KxK`, dims = kh·kw values a filter), in plain float64 JavaScript: the generic counterpart of the
 * 3x3 WebAssembly kernels of scan-passes.ts, with the same PassSpec in and ScanResult out, so the planning,
 * the scan parts, the workers and the merges are shared.
 *
 * Arithmetic (the definitions of analysis/moments.ts and analysis/pca.ts): each float32 value widened to
 * float64 and divided by its filter's max |w| (an all-zero filter stays zero); a block's moments are its mean
 * and centred scatter computed in two passes (batchMoments), Chan-merged in order within the superblock, as
 * the 3x3 path does; coefficients are `0 + y0·p_i0 + y1·p_i1 + …` with `y = x/peak − mean`; bins follow
 * numpy.histogram's edge rule (analysis/histogram.ts binIndex).
 *
 * Determinism: blocks are {@link SCAN_BLOCK} filters at fixed positions of the selection and superblocks a
 * function of its size only (scan-passes.ts), so results are the same bits for any number of scan workers.
 */
import { binEdges, binIndex } from '../analysis/histogram.js';
import { emptySums, type MomentSums, mergeMomentSums } from '../analysis/layer-stats.js';
import { batchMoments, peakScale } from '../analysis/moments.js';
import { SCAN_BLOCK } from '../analysis/wasm/scan.js';
import { type BlockPass, DensityRaster, type PassSpec, type ScanResult } from './scan-passes.js';

/** One block of row-major filters (`dims` float32 values each), staged by the reader for the pass. */
export class KxKBlock {
  readonly values: Float32Array;
  readonly scaled: Float64Array;
  readonly coef: Float64Array;
  constructor(readonly dims: number) {
    this.values = new Float32Array(SCAN_BLOCK * dims);
    this.scaled = new Float64Array(SCAN_BLOCK * dims);
    this.coef = new Float64Array(SCAN_BLOCK * dims);
  }

  /** Peak-scales rows [0, n) into `scaled`. */
  scale(n: number): Float64Array {
    return peakScale(this.values, n, this.dims, this.scaled);
  }

  /**
   * Peak-scales and projects rows [0, n) on the basis (mean, row-major components) into `coef` (row-major,
   * dims coefficients a filter); `range` (min, max) takes every coefficient.
   */
  project(n: number, mean: Float64Array, comps: Float64Array, range: Float64Array): Float64Array {
    const d = this.dims;
    const x = this.scale(n);
    const coef = this.coef;
    const y = new Float64Array(d);
    let lo = range[0];
    let hi = range[1];
    for (let r = 0; r < n; r++) {
      const o = r * d;
      for (let j = 0; j < d; j++) y[j] = x[o + j] - mean[j];
      for (let i = 0; i < d; i++) {
        const ci = i * d;
        let s = 0;
        for (let j = 0; j < d; j++) s += y[j] * comps[ci + j];
        coef[o + i] = s;
        if (s < lo) lo = s;
        if (s > hi) hi = s;
      }
    }
    range[0] = lo;
    range[1] = hi;
    return coef;
  }
}

function newRange(): Float64Array {
  return Float64Array.of(Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY);
}

function momentsPass(b: KxKBlock, superRows: number): BlockPass {
  const blocksPerSuper = superRows / SCAN_BLOCK;
  const supers: MomentSums[] = [];
  let acc = emptySums(b.dims);
  let blocks = 0;
  let rows = 0;
  return {
    needLayers: false,
    block(n) {
      mergeMomentSums(acc, batchMoments(b.scale(n), n, b.dims));
      rows += n;
      if (++blocks === blocksPerSuper) {
        supers.push(acc);
        acc = emptySums(b.dims);
        blocks = 0;
      }
    },
    result() {
      if (acc.n > 0) supers.push(acc);
      return { rows, moments: supers };
    },
  };
}

function rangePass(b: KxKBlock, mean: Float64Array, comps: Float64Array): BlockPass {
  const range = newRange();
  let rows = 0;
  return {
    needLayers: false,
    block(n) {
      b.project(n, mean, comps, range);
      rows += n;
    },
    result() {
      return { rows, lo: range[0], hi: range[1] };
    },
  };
}

function histPass(b: KxKBlock, spec: Extract<PassSpec, { kind: 'hist' }>): BlockPass {
  const d = b.dims;
  const range = newRange();
  const totals = spec.maps.map((m) => ({
    counts: new Float64Array(m.groups * d * m.bins),
    filters: new Float64Array(m.groups),
  }));
  const edges = spec.maps.map((m) => binEdges(spec.lo, spec.hi, m.bins));
  const dens = spec.density ? new DensityRaster(spec.density) : null;
  let rows = 0;
  const { lo, hi } = spec;
  return {
    needLayers: true,
    block(n, layers) {
      const coef = b.project(n, spec.mean, spec.comps, range);
      rows += n;
      spec.maps.forEach((m, mi) => {
        const { counts, filters } = totals[mi];
        const e = edges[mi];
        const bins = m.bins;
        const scale = hi === lo ? 0 : bins / (hi - lo);
        for (let r = 0; r < n; r++) {
          const g = m.layerGroup[layers[r]];
          if (g < 0) continue;
          filters[g]++;
          const o = r * d;
          const base = g * d * bins;
          for (let c = 0; c < d; c++) {
            const i = binIndex(coef[o + c], lo, hi, bins, scale, e);
            if (i >= 0) counts[base + c * bins + i]++;
          }
        }
      });
      if (dens !== null) {
        const { xIndex, yIndex } = spec.density!;
        const first = spec.maps[0].layerGroup;
        for (let r = 0; r < n; r++)
          if (first[layers[r]] >= 0) dens.add(coef[r * d + xIndex], coef[r * d + yIndex]);
      }
    },
    result(): ScanResult {
      return {
        rows,
        lo: range[0],
        hi: range[1],
        hist: totals,
        density: dens?.result(),
      };
    },
  };
}

/** The block pass of `spec` over the filters staged in `b`. */
export function makeKxKPass(b: KxKBlock, spec: PassSpec, superRows: number): BlockPass {
  if (spec.kind === 'moments') {
    if (spec.track) throw new RangeError('range candidates are tracked for 3x3 filters only');
    return momentsPass(b, superRows);
  }
  if (spec.kind === 'range') return rangePass(b, spec.mean, spec.comps);
  return histPass(b, spec);
}
