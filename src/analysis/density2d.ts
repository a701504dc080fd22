/**
 * 2-D density of coefficient pairs (by default the first two PCA coefficients): a size × size histogram over
 * [lo, hi]², filled batch by batch, for the log-colour density plot. Pure and streaming: memory is the grid
 * only (512² float64 = 2 MB), whatever the number of filters.
 */

export interface Density2dOptions {
  /** Bins per axis (default 512). */
  size?: number;
  /** Range of both axes (default [-3.3, 3.3], which holds every coefficient of peak-scaled 3×3 filters). */
  lo?: number;
  hi?: number;
  /** Which coefficients form the pair (default 0 and 1). */
  xIndex?: number;
  yIndex?: number;
}

/** Plain data of a 2-D density (what the plot takes; JSON-friendly after Array.from on counts). */
export interface DensityGrid {
  /** Row-major ny × nx counts; row 0 is the lowest y. */
  counts: ArrayLike<number>;
  nx: number;
  ny: number;
  x: [number, number];
  y: [number, number];
  /** Pairs counted inside the grid. */
  total: number;
  /** Pairs that fell outside the grid (or were NaN). */
  outside: number;
  xIndex: number;
  yIndex: number;
}

export class Density2d {
  readonly size: number;
  readonly lo: number;
  readonly hi: number;
  readonly xIndex: number;
  readonly yIndex: number;
  readonly counts: Float64Array;
  total = 0;
  outside = 0;

  constructor(options: Density2dOptions = {}) {
    this.size = options.size ?? 512;
    this.lo = options.lo ?? -3.3;
    this.hi = options.hi ?? 3.3;
    this.xIndex = options.xIndex ?? 0;
    this.yIndex = options.yIndex ?? 1;
    if (!Number.isInteger(this.size) || this.size < 1)
      throw new RangeError(`density size must be a positive integer, got ${this.size}`);
    if (!(this.hi > this.lo))
      throw new RangeError(`density range must have hi > lo, got [${this.lo}, ${this.hi}]`);
    this.counts = new Float64Array(this.size * this.size);
  }

  /** Adds `count` rows of `dims` coefficients (row-major). Bins are [a, b) except the last, closed one. */
  add(coefficients: ArrayLike<number>, count: number, dims: number): void {
    const { size, lo, hi, xIndex, yIndex, counts } = this;
    const scale = size / (hi - lo);
    let outside = 0;
    let inside = 0;
    for (let r = 0; r < count; r++) {
      const o = r * dims;
      const x = coefficients[o + xIndex];
      const y = coefficients[o + yIndex];
      if (!(x >= lo && x <= hi && y >= lo && y <= hi)) {
        outside++;
        continue;
      }
      const ix = Math.min(size - 1, Math.floor((x - lo) * scale));
      const iy = Math.min(size - 1, Math.floor((y - lo) * scale));
      counts[iy * size + ix]++;
      inside++;
    }
    this.total += inside;
    this.outside += outside;
  }

  merge(other: Density2d): void {
    if (other.size !== this.size || other.lo !== this.lo || other.hi !== this.hi)
      throw new RangeError('cannot merge densities of different grids');
    for (let i = 0; i < this.counts.length; i++) this.counts[i] += other.counts[i];
    this.total += other.total;
    this.outside += other.outside;
  }

  toGrid(): DensityGrid {
    return {
      counts: this.counts,
      nx: this.size,
      ny: this.size,
      x: [this.lo, this.hi],
      y: [this.lo, this.hi],
      total: this.total,
      outside: this.outside,
      xIndex: this.xIndex,
      yIndex: this.yIndex,
    };
  }
}
