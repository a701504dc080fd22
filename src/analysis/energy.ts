/**
 * First-layer energy profile ("What do CNNs learn in the first layer and why?"): for the first conv layer
 * (F filters over C input channels, k×k), the energy along each basis vector uᵢ of the D = C·k·k patch space,
 *
 *   Eᵢ = (1/F)·√(Σ_f ⟨w_f − w_f^init, uᵢ⟩²),  profile = E / max E,
 *
 * with w^init = 0 unless an initialisation checkpoint is given. The default basis is the per-channel
 * orthonormal 2-D DCT-II, ordered by frequency (see {@link dctBasis}). Pure float64 arithmetic, no I/O.
 */

/** An orthonormal (or user-given) basis: `size` vectors of length `size`, row i is uᵢ, row-major. */
export interface Basis {
  size: number;
  vectors: Float64Array;
  /** One label per vector (e.g. "c0 (0,1)": channel 0, vertical frequency 0, horizontal 1). */
  labels: string[];
}

/** Orthonormal 1-D DCT-II vector u on n points: α(u)·cos(π(2x+1)u / 2n), α(0) = √(1/n), α(u>0) = √(2/n). */
function dct1(n: number, u: number, x: number): number {
  const a = u === 0 ? Math.sqrt(1 / n) : Math.sqrt(2 / n);
  return a * Math.cos((Math.PI * (2 * x + 1) * u) / (2 * n));
}

/**
 * The per-channel orthonormal 2-D DCT-II basis of the C·kh·kw patch space. Vector (c, u, v) is zero outside
 * channel c and equals dct1(kh, u, y)·dct1(kw, v, x) at row y, column x of that channel (u: vertical
 * frequency, v: horizontal). Element index of a patch: c·kh·kw + y·kw + x (the weight layout [F, C, kh, kw]).
 * Order: by total frequency u + v, then by u (so (0,1) — variation along x — before (1,0)), then by
 * channel c. The first C vectors are the channels' DC components.
 */
export function dctBasis(channels: number, kh: number, kw: number = kh): Basis {
  const plane = kh * kw;
  const size = channels * plane;
  const order: [number, number, number][] = [];
  for (let s = 0; s <= kh + kw - 2; s++) {
    for (let u = Math.max(0, s - (kw - 1)); u <= Math.min(s, kh - 1); u++) {
      for (let c = 0; c < channels; c++) order.push([c, u, s - u]);
    }
  }
  const vectors = new Float64Array(size * size);
  const labels: string[] = [];
  order.forEach(([c, u, v], i) => {
    labels.push(`c${c} (${u},${v})`);
    const row = i * size + c * plane;
    for (let y = 0; y < kh; y++) {
      for (let x = 0; x < kw; x++) vectors[row + y * kw + x] = dct1(kh, u, y) * dct1(kw, v, x);
    }
  });
  return { size, vectors, labels };
}

/** Largest |UUᵀ − I| entry: 0 for an orthonormal basis (a user's basis need not be; the caller says so). */
export function orthonormalityError(basis: Basis): number {
  const { size, vectors } = basis;
  let worst = 0;
  for (let i = 0; i < size; i++) {
    for (let j = i; j < size; j++) {
      let dot = 0;
      for (let t = 0; t < size; t++) dot += vectors[i * size + t] * vectors[j * size + t];
      worst = Math.max(worst, Math.abs(dot - (i === j ? 1 : 0)));
    }
  }
  return worst;
}

export interface EnergyProfile {
  /** Number of filters F. */
  filters: number;
  /** Patch dimension D = C·k·k. */
  size: number;
  /** Eᵢ before normalisation. */
  energy: number[];
  /** E / max E (all zeros when every projection is zero). */
  profile: number[];
}

/**
 * Energy profile of `filters` filters of `basis.size` values each (row-major, the layout [F, C, k, k]);
 * `init`, when given, has the same layout and is subtracted first.
 */
export function energyProfile(
  weights: ArrayLike<number>,
  basis: Basis,
  init?: ArrayLike<number> | null,
): EnergyProfile {
  const d = basis.size;
  if (d <= 0 || weights.length % d !== 0) {
    throw new RangeError(`${weights.length} weights are not whole filters of ${d} values`);
  }
  if (init && init.length !== weights.length) {
    throw new RangeError(`the initialisation has ${init.length} values, the layer ${weights.length}`);
  }
  const f = weights.length / d;
  const sums = new Float64Array(d);
  const diff = new Float64Array(d);
  for (let n = 0; n < f; n++) {
    for (let t = 0; t < d; t++) diff[t] = weights[n * d + t] - (init ? init[n * d + t] : 0);
    for (let i = 0; i < d; i++) {
      let dot = 0;
      const row = i * d;
      for (let t = 0; t < d; t++) dot += diff[t] * basis.vectors[row + t];
      sums[i] += dot * dot;
    }
  }
  const energy = Array.from(sums, (s) => (f > 0 ? Math.sqrt(s) / f : 0));
  const max = Math.max(0, ...energy);
  const profile = energy.map((e) => (max > 0 ? e / max : 0));
  return { filters: f, size: d, energy, profile };
}

/** A first layer's profile over the default basis (per-channel 2-D DCT-II), with the basis vectors' labels. */
export function dctEnergy(
  weights: ArrayLike<number>,
  shape: readonly number[],
): EnergyProfile & { labels: string[] } {
  const basis = dctBasis(shape[1], shape[2], shape[3]);
  return { ...energyProfile(weights, basis), labels: basis.labels };
}

/** Pearson correlation of two equal-length series; null when lengths differ or either is constant. */
export function pearson(a: readonly number[], b: readonly number[]): number | null {
  const n = a.length;
  if (n !== b.length || n < 2) return null;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i];
    mb += b[i];
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i] - ma;
    const db = b[i] - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  if (saa === 0 || sbb === 0) return null;
  return sab / Math.sqrt(saa * sbb);
}

/** Pearson correlation matrix of profiles (null where two profiles differ in length or one is constant). */
export function profileCorrelation(profiles: readonly (readonly number[])[]): (number | null)[][] {
  return profiles.map((a, i) => profiles.map((b, j) => (i === j && a.length > 1 ? 1 : pearson(a, b))));
}

/** What the first-layer rule needs of a conv layer (a model's ConvLayer or a database layer row). */
export interface FirstLayerCandidate {
  shape: readonly number[];
  kind: string | null;
  op: string;
  convDepth: number;
}

/**
 * Index of a model's first conv layer: among 2-D (rank-4), non-transposed convs, the one with the lowest
 * conv depth, ties broken by file order. -1 when there is none.
 */
export function firstConvLayerIndex(layers: readonly FirstLayerCandidate[]): number {
  let best = -1;
  layers.forEach((l, i) => {
    if (l.shape.length !== 4 || l.kind === 'transposed' || /transpose/i.test(l.op)) return;
    if (best < 0 || l.convDepth < layers[best].convDepth) best = i;
  });
  return best;
}
