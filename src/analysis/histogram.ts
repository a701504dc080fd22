/**
 * Equal-width histograms with numpy.histogram semantics: bins [a, b) except the last [a, b]; a value's bin is
 * found like numpy does (scaled index, then corrected against the explicit edges), so values that sit on an
 * edge land where numpy puts them.
 */

/** Edges lo + j*(hi - lo)/bins (the last one exactly hi), like numpy.linspace. */
export function binEdges(lo: number, hi: number, bins: number): Float64Array {
  const edges = new Float64Array(bins + 1);
  const step = (hi - lo) / bins;
  for (let j = 0; j < bins; j++) edges[j] = lo + j * step;
  edges[bins] = hi;
  return edges;
}

/**
 * Bin of x in [lo, hi] (numpy.histogram's rule); -1 when outside the range. `scale` is bins / (hi - lo)
 * (0 when hi == lo), passed in so hot loops compute it once.
 */
export function binIndex(
  x: number,
  lo: number,
  hi: number,
  bins: number,
  scale: number,
  edges: Float64Array,
): number {
  if (!(x >= lo && x <= hi)) return -1;
  let i = Math.floor((x - lo) * scale);
  if (i >= bins) i = bins - 1;
  if (x < edges[i]) i--;
  else if (i !== bins - 1 && x >= edges[i + 1]) i++;
  return i;
}

/** Running min and max of every value seen. */
export class RangeAccumulator {
  lo = Number.POSITIVE_INFINITY;
  hi = Number.NEGATIVE_INFINITY;
  add(values: ArrayLike<number>, length = values.length): void {
    let lo = this.lo;
    let hi = this.hi;
    for (let i = 0; i < length; i++) {
      const v = values[i];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    this.lo = lo;
    this.hi = hi;
  }
  merge(other: RangeAccumulator): void {
    if (other.lo < this.lo) this.lo = other.lo;
    if (other.hi > this.hi) this.hi = other.hi;
  }
}

/**
 * Per-group histograms of each of `dims` coefficients: counts[group] is a Float64Array of dims × bins.
 * Coefficients arrive as row-major batches (one row of `dims` coefficients per filter).
 */
export class GroupHistograms {
  readonly counts = new Map<string, Float64Array>();
  readonly filters = new Map<string, number>();
  readonly edges: Float64Array;
  constructor(
    readonly dims: number,
    readonly bins: number,
    readonly lo: number,
    readonly hi: number,
  ) {
    this.edges = binEdges(lo, hi, bins);
  }

  add(group: string, coefficients: Float64Array, count: number): void {
    let h = this.counts.get(group);
    if (!h) {
      h = new Float64Array(this.dims * this.bins);
      this.counts.set(group, h);
    }
    this.filters.set(group, (this.filters.get(group) ?? 0) + count);
    const { dims, bins, lo, hi, edges } = this;
    const scale = hi === lo ? 0 : bins / (hi - lo);
    for (let r = 0; r < count; r++) {
      const o = r * dims;
      for (let c = 0; c < dims; c++) {
        const i = binIndex(coefficients[o + c], lo, hi, bins, scale, edges);
        if (i >= 0) h[c * bins + i]++;
      }
    }
  }

  merge(other: GroupHistograms): void {
    for (const [g, h] of other.counts) {
      const mine = this.counts.get(g);
      if (mine) for (let i = 0; i < h.length; i++) mine[i] += h[i];
      else this.counts.set(g, Float64Array.from(h));
      this.filters.set(g, (this.filters.get(g) ?? 0) + (other.filters.get(g) ?? 0));
    }
  }
}
