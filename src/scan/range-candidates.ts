/**
 * Candidates for the extremes of the PCA coefficients, collected during the moments pass so the range pass
 * can be skipped: the coefficient range [lo, hi] needs the basis, which is known only after the moments pass.
 * The moments pass therefore also projects every filter onto an approximate basis (fitted on a sample
 * spread over the selection — a sample of the first filters only, i.e. of one model, missed the extremes
 * on the synthetic 10 M bench) and keeps the filters whose approximate coefficients are among the most extreme (the `keep` highest maxima and
 * the `keep` lowest minima). Their exact coefficients give a guess of [lo, hi]; the histogram pass computes
 * the exact range anyway, so the guess is verified there (and the histograms recomputed on the exact range
 * in the rare case it was wrong). The guess is the min/max over real filters with the same arithmetic as the
 * pass, so it equals the exact range bit for bit whenever the extreme filters are among the candidates.
 */
import type { ScanKernels } from '../analysis/wasm/scan.js';

const D = 9;

export interface TrackSpec {
  /** Approximate basis (fitted on a sample spread over the selection): mean and row-major components. */
  mean: Float64Array;
  comps: Float64Array;
  /** Candidates kept at each end. */
  keep: number;
}

/** Approximate coefficient extremes of one filter (peak scaling and projection as the kernels). */
function extremes(v: Float32Array, o: number, mean: Float64Array, comps: Float64Array): [number, number] {
  let peak = 0;
  for (let j = 0; j < D; j++) {
    const a = Math.abs(v[o + j]);
    if (a > peak) peak = a;
  }
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < D; i++) {
    let c = 0;
    for (let j = 0; j < D; j++) c += ((peak === 0 ? 0 : v[o + j] / peak) - mean[j]) * comps[i * D + j];
    if (c < lo) lo = c;
    if (c > hi) hi = c;
  }
  return [lo, hi];
}

export class RangeCandidates {
  private capacity: number;
  private values: Float32Array;
  private lows: Float64Array;
  private highs: Float64Array;
  private count = 0;
  /** Current thresholds: rows with a coefficient outside (lo, hi) are candidates. */
  lo = Number.POSITIVE_INFINITY;
  hi = Number.NEGATIVE_INFINITY;

  private started = false;

  constructor(private readonly spec: TrackSpec) {
    this.capacity = Math.max(64, spec.keep * 8);
    this.values = new Float32Array(this.capacity * D);
    this.lows = new Float64Array(this.capacity);
    this.highs = new Float64Array(this.capacity);
  }

  /** Takes the block in `k` (rows [0, n)). */
  block(k: ScanKernels, n: number): void {
    if (!this.started) {
      k.setTrackBasis(this.spec.mean, this.spec.comps);
      this.started = true;
    }
    const rows = k.track(n, this.lo, this.hi);
    if (rows.length === 0) return;
    const cols = k.cols;
    for (let i = 0; i < rows.length; i++) {
      if (this.count === this.capacity) this.prune();
      const r = rows[i];
      const o = this.count * D;
      for (let j = 0; j < D; j++) this.values[o + j] = cols[j][r];
      const [lo, hi] = extremes(this.values, o, this.spec.mean, this.spec.comps);
      this.lows[this.count] = lo;
      this.highs[this.count] = hi;
      this.count++;
    }
  }

  /** Keeps the `keep` most extreme at each end and raises the thresholds to them. */
  private prune(): void {
    const keep = this.spec.keep;
    const n = this.count;
    const lo = Float64Array.from(this.lows.subarray(0, n)).sort()[Math.min(keep, n) - 1];
    const hi = Float64Array.from(this.highs.subarray(0, n)).sort()[Math.max(0, n - keep)];
    let w = 0;
    for (let r = 0; r < n; r++) {
      if (!(this.lows[r] <= lo || this.highs[r] >= hi)) continue;
      if (w !== r) {
        this.values.copyWithin(w * D, r * D, r * D + D);
        this.lows[w] = this.lows[r];
        this.highs[w] = this.highs[r];
      }
      w++;
    }
    this.count = w;
    if (lo < this.lo || this.lo === Number.POSITIVE_INFINITY) this.lo = lo;
    if (hi > this.hi || this.hi === Number.NEGATIVE_INFINITY) this.hi = hi;
    // ties can keep more than 2·keep rows: never prune to a full buffer
    if (this.count > (this.capacity * 3) / 4) {
      this.capacity *= 2;
      const values = new Float32Array(this.capacity * D);
      values.set(this.values.subarray(0, this.count * D));
      this.values = values;
      const lows = new Float64Array(this.capacity);
      lows.set(this.lows.subarray(0, this.count));
      this.lows = lows;
      const highs = new Float64Array(this.capacity);
      highs.set(this.highs.subarray(0, this.count));
      this.highs = highs;
    }
  }

  /** The candidate filters (raw values, row-major × 9). */
  result(): Float32Array {
    return this.values.slice(0, this.count * D);
  }
}

/**
 * The exact coefficient range of `candidates` (row-major × 9) under the basis — computed by the kernels'
 * `project`, i.e. with exactly the arithmetic of the range and histogram passes.
 */
export function candidateRange(
  k: ScanKernels,
  candidates: Float32Array,
  mean: Float64Array,
  comps: Float64Array,
): [number, number] {
  k.setBasis(mean, comps);
  k.resetRange();
  const total = candidates.length / D;
  const block = k.cols[0].length;
  for (let start = 0; start < total; start += block) {
    const n = Math.min(block, total - start);
    for (let r = 0; r < n; r++) {
      const o = (start + r) * D;
      for (let j = 0; j < D; j++) k.cols[j][r] = candidates[o + j];
    }
    if (n % 2 === 1) k.zeroRow(n);
    k.project(n, false);
  }
  return k.range();
}
