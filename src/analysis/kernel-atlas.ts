/**
 * Depthwise kernel atlas: a deterministic, data-free classifier of k×k depthwise kernels (k odd ≥ 3) into the
 * patterns trained depthwise kernels fall into (Babaiee et al., ICLR 2024: Gaussians, differences of Gaussians
 * and their derivatives, up to an affine map a·p + b).
 *
 * Grid: x (column) and y (row, increasing downwards) in {−r…r}, r = (k−1)/2. Prototypes, for σ in
 * {0.5, 0.75, …, r} and centre (cx, cy) in {(0,0), (±½,0), (0,±½)}, with g = exp(−((x−cx)²+(y−cy)²)/2σ²):
 * - edge: first derivatives gx = (x−cx)·g, gy = (y−cy)·g, scored by projection on span{gx, gy}; θ is the
 *   direction in which the kernel increases (0° = towards +x, 90° = towards +y), in [0, 360).
 * - line: the bright ridge −∂²g/∂n² across direction n at θ ∈ {0°, 15°, …, 165°} (θ = the ridge's normal).
 * - saddle: span{gxx − gyy, 2gxy} (the anisotropic second derivative), θ in [0, 90).
 * - centre: Gaussian g, −LoG and DoG g(σ)/Σg(σ) − g(1.6σ)/Σg(1.6σ) (all with a positive centre). After
 *   mean removal these are nearly collinear, so one family; it is split into `blob` and `centre-surround` by
 *   the DC fraction |ΣK| / Σ|K| of the kernel itself (≥ {@link BLOB_DC_FRACTION}: blob).
 * Score of a prototype: correlation of the mean-centred kernel with the mean-centred prototype (for a span,
 * the norm of the kernel's projection on the centred span over the kernel's norm) = √R² of the best affine
 * fit a·p + b. A family's score is its best over σ, centre (and θ). Label: `flat` when
 * ‖K − mean K‖ < 0.01·max|W_layer|; else the best family if its score ≥ the size's threshold
 * max(T, chance score at k) and it leads the runner-up family by ≥ margin; else `unclassified`. The chance
 * score ({@link chanceScore}) is the 90th percentile of the best score of i.i.d. normal k×k kernels: a fixed
 * correlation means far less at 3x3 (8 free dimensions) than at 7x7 (48), so one number cannot serve all k. Polarity (centre and line families): `on` when the kernel
 * correlates positively with the positive-centre prototype, `off` otherwise.
 */

import { mulberry32 } from '../metrics/random.js';
import { depthDecile, displayOrder, NONE_GROUP } from './groups.js';

export type KernelFamily = 'edge' | 'line' | 'saddle' | 'centre';
export type KernelLabel = 'flat' | 'unclassified' | 'edge' | 'line' | 'saddle' | 'blob' | 'centre-surround';
export const KERNEL_LABELS: readonly KernelLabel[] = [
  'blob',
  'centre-surround',
  'edge',
  'line',
  'saddle',
  'flat',
  'unclassified',
];

/** DC fraction |ΣK| / Σ|K| from which a centre-family kernel is a blob rather than centre-surround. */
export const BLOB_DC_FRACTION = 0.5;
/** Flat rule: ‖K − mean K‖ below this fraction of the layer's max |w|. */
export const FLAT_FRACTION = 0.01;

export interface AtlasThresholds {
  /** Minimum score (correlation) of the best family, whatever the kernel size. */
  threshold: number;
  /** Minimum lead of the best family's score over the runner-up family's. */
  margin: number;
  /**
   * Chance quantile: the best family must also reach this quantile of the scores of i.i.d. normal kernels of
   * the same size ({@link chanceScore}); 0 or absent: no chance level.
   */
  chance?: number;
}

/** Calibrated defaults (README, "Depthwise kernel atlas": real depthwise layers vs random-init layers). */
export const DEFAULT_THRESHOLDS: AtlasThresholds = { threshold: 0.75, margin: 0.01, chance: 0.9 };

export interface KernelClass {
  label: KernelLabel;
  /** on / off for blob, centre-surround and line; null otherwise. */
  polarity: 'on' | 'off' | null;
  sigma: number | null;
  /** Degrees (see the module comment for each family's convention); null for centre-family and flat. */
  theta: number | null;
  /** Prototype centre offset [cx, cy] in pixels. */
  shift: [number, number] | null;
  /** Best family's score (0 for flat). */
  score: number;
  /** Best family's score minus the runner-up family's. */
  margin: number;
  /** The best family whatever the label (null for flat). */
  family: KernelFamily | null;
}

interface SingleProto {
  family: 'line' | 'centre';
  sigma: number;
  shift: [number, number];
  theta: number | null;
  /** Mean-centred, unit norm. */
  unit: Float64Array;
}

interface SpanProto {
  family: 'edge' | 'saddle';
  sigma: number;
  shift: [number, number];
  /** Mean-centred basis pair and the inverse of their Gram matrix. */
  a: Float64Array;
  b: Float64Array;
  inv: [number, number, number];
}

export interface PrototypeBank {
  k: number;
  singles: SingleProto[];
  spans: SpanProto[];
}

const SHIFTS: [number, number][] = [
  [0, 0],
  [0.5, 0],
  [-0.5, 0],
  [0, 0.5],
  [0, -0.5],
];
const LINE_ANGLES = Array.from({ length: 12 }, (_, i) => i * 15);

function centred(v: Float64Array): Float64Array {
  let m = 0;
  for (const x of v) m += x;
  m /= v.length;
  return v.map((x) => x - m);
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** σ grid {0.5, 0.75, …, r} for kernel size k. */
export function sigmaGrid(k: number): number[] {
  const r = (k - 1) / 2;
  const out: number[] = [];
  for (let s = 0.5; s <= r + 1e-9; s += 0.25) out.push(s);
  return out;
}

const banks = new Map<number, PrototypeBank>();

/** The Gaussian and its derivatives at σ, centre `shift`, sampled on the k×k grid (row-major). */
interface GaussianFields {
  g: Float64Array;
  gx: Float64Array;
  gy: Float64Array;
  gxx: Float64Array;
  gyy: Float64Array;
  gxy: Float64Array;
  /** Difference of Gaussians g(σ)/Σg(σ) − g(1.6σ)/Σg(1.6σ). */
  dog: Float64Array;
}

function gaussianFields(k: number, s: number, shift: readonly [number, number]): GaussianFields {
  const r = (k - 1) / 2;
  const n = k * k;
  const [cx, cy] = shift;
  const s2 = s * s;
  const out = {
    g: new Float64Array(n),
    gx: new Float64Array(n),
    gy: new Float64Array(n),
    gxx: new Float64Array(n),
    gyy: new Float64Array(n),
    gxy: new Float64Array(n),
    dog: new Float64Array(n),
  };
  const wide = new Float64Array(n);
  for (let row = 0; row < k; row++) {
    for (let col = 0; col < k; col++) {
      const i = row * k + col;
      const x = col - r - cx;
      const y = row - r - cy;
      const g = Math.exp(-(x * x + y * y) / (2 * s2));
      out.g[i] = g;
      out.gx[i] = x * g;
      out.gy[i] = y * g;
      out.gxx[i] = (((x * x) / s2 - 1) / s2) * g;
      out.gyy[i] = (((y * y) / s2 - 1) / s2) * g;
      out.gxy[i] = ((x * y) / (s2 * s2)) * g;
      wide[i] = Math.exp(-(x * x + y * y) / (2 * (1.6 * s) ** 2));
    }
  }
  const s1 = out.g.reduce((p, q) => p + q, 0);
  const sB = wide.reduce((p, q) => p + q, 0);
  for (let i = 0; i < n; i++) out.dog[i] = out.g[i] / s1 - wide[i] / sB;
  return out;
}

/** a·u + b·v, element-wise. */
function mix(a: number, u: Float64Array, b: number, v: Float64Array): Float64Array {
  return u.map((x, i) => a * x + b * v[i]);
}

/** The bright ridge −∂²g/∂n² across the direction n at `deg`. */
function ridge(f: GaussianFields, deg: number): Float64Array {
  const t = (deg * Math.PI) / 180;
  const c = Math.cos(t);
  const si = Math.sin(t);
  return f.gxx.map((xx, i) => -(c * c * xx + 2 * c * si * f.gxy[i] + si * si * f.gyy[i]));
}

/**
 * A pattern's prototype as a k×k image (row-major, max |value| = 1, positive centre / "on" polarity): blob =
 * Gaussian, centre-surround = DoG, edge = cos θ·gₓ + sin θ·g_y, line = the ridge at θ, saddle =
 * cos 2θ·(gₓₓ − g_yy) + sin 2θ·2gₓᵧ — the prototypes the classifier scores against. Null for flat and
 * unclassified.
 */
export function prototypeKernel(
  label: KernelLabel,
  k: number,
  sigma: number,
  theta = 0,
  shift: readonly [number, number] = [0, 0],
): number[] | null {
  const f = gaussianFields(k, sigma, shift);
  const t = (theta * Math.PI) / 180;
  let v: Float64Array;
  if (label === 'blob') v = f.g;
  else if (label === 'centre-surround') v = f.dog;
  else if (label === 'edge') v = mix(Math.cos(t), f.gx, Math.sin(t), f.gy);
  else if (label === 'line') v = ridge(f, theta);
  else if (label === 'saddle') v = mix(Math.cos(2 * t), mix(1, f.gxx, -1, f.gyy), 2 * Math.sin(2 * t), f.gxy);
  else return null;
  let max = 0;
  for (const x of v) max = Math.max(max, Math.abs(x));
  return Array.from(v, (x) => (max > 0 ? x / max : 0));
}

/** The prototypes for k×k kernels (cached per k). */
export function prototypeBank(k: number): PrototypeBank {
  if (!(Number.isInteger(k) && k >= 3 && k % 2 === 1))
    throw new RangeError(`kernel size ${k} is not odd ≥ 3`);
  const cached = banks.get(k);
  if (cached) return cached;
  const singles: SingleProto[] = [];
  const spans: SpanProto[] = [];
  const addSingle = (
    family: SingleProto['family'],
    sigma: number,
    shift: [number, number],
    theta: number | null,
    v: Float64Array,
  ) => {
    const c = centred(v);
    const norm = Math.sqrt(dot(c, c));
    if (norm < 1e-9) return;
    singles.push({ family, sigma, shift, theta, unit: c.map((x) => x / norm) });
  };
  const addSpan = (
    family: SpanProto['family'],
    sigma: number,
    shift: [number, number],
    p: Float64Array,
    q: Float64Array,
  ) => {
    const a = centred(p);
    const b = centred(q);
    const aa = dot(a, a);
    const bb = dot(b, b);
    const ab = dot(a, b);
    const det = aa * bb - ab * ab;
    if (!(det > 1e-12 * (aa + bb) ** 2)) return;
    spans.push({ family, sigma, shift, a, b, inv: [bb / det, -ab / det, aa / det] });
  };
  for (const s of sigmaGrid(k)) {
    for (const shift of SHIFTS) {
      const f = gaussianFields(k, s, shift);
      addSpan('edge', s, shift, f.gx, f.gy);
      addSpan(
        'saddle',
        s,
        shift,
        mix(1, f.gxx, -1, f.gyy),
        f.gxy.map((x) => 2 * x),
      );
      for (const deg of LINE_ANGLES) addSingle('line', s, shift, deg, ridge(f, deg));
      addSingle('centre', s, shift, null, f.g);
      addSingle('centre', s, shift, null, mix(-1, f.gxx, -1, f.gyy));
      addSingle('centre', s, shift, null, f.dog);
    }
  }
  const bank = { k, singles, spans };
  banks.set(k, bank);
  return bank;
}

interface FamilyBest {
  score: number;
  sign: number;
  sigma: number;
  shift: [number, number];
  theta: number | null;
}

const FAMILIES: readonly KernelFamily[] = ['edge', 'line', 'saddle', 'centre'];

/** Each family's best prototype for a mean-centred kernel `kc` of norm `norm`, best family first. */
function rankFamilies(
  kc: Float64Array,
  norm: number,
  bank: PrototypeBank,
): (readonly [KernelFamily, FamilyBest])[] {
  const best = new Map<KernelFamily, FamilyBest>();
  const offer = (family: KernelFamily, cand: FamilyBest) => {
    const cur = best.get(family);
    if (!cur || cand.score > cur.score) best.set(family, cand);
  };
  for (const p of bank.singles) {
    const c = Math.max(-1, Math.min(1, dot(kc, p.unit) / norm));
    offer(p.family, {
      score: Math.abs(c),
      sign: Math.sign(c),
      sigma: p.sigma,
      shift: p.shift,
      theta: p.theta,
    });
  }
  for (const p of bank.spans) {
    const ra = dot(kc, p.a);
    const rb = dot(kc, p.b);
    const ca = p.inv[0] * ra + p.inv[1] * rb;
    const cb = p.inv[1] * ra + p.inv[2] * rb;
    const score = Math.min(1, Math.sqrt(Math.max(0, ca * ra + cb * rb)) / norm);
    let theta = (Math.atan2(cb, ca) * 180) / Math.PI;
    if (p.family === 'edge') theta = (theta + 360) % 360;
    else theta = (((theta / 2) % 90) + 90) % 90;
    offer(p.family, { score, sign: 1, sigma: p.sigma, shift: p.shift, theta });
  }
  return FAMILIES.map((f) => [f, best.get(f)] as const)
    .filter((e): e is readonly [KernelFamily, FamilyBest] => e[1] !== undefined)
    .sort((a, b) => b[1].score - a[1].score);
}

/** Draws behind {@link chanceScore} (seeded: the same value on every run). */
const CHANCE_DRAWS = 1000;
const CHANCE_SEED = 0x6b65726e;
const chanceCache = new Map<string, number>();

/**
 * The `quantile` of the best family's score of i.i.d. normal k×k kernels (CHANCE_DRAWS seeded draws): the
 * score a kernel reaches by chance. It falls with k (k² − 1 free dimensions after mean removal against a
 * prototype bank that grows only with the σ grid): ≈ 0.92 at 3x3, 0.64 at 5x5, 0.47 at 7x7 for q = 0.9.
 */
export function chanceScore(k: number, quantile: number): number {
  const key = `${k}:${quantile}`;
  const cached = chanceCache.get(key);
  if (cached !== undefined) return cached;
  const bank = prototypeBank(k);
  const rand = mulberry32(CHANCE_SEED + k);
  const scores: number[] = [];
  const v = new Float64Array(k * k);
  for (let d = 0; d < CHANCE_DRAWS; d++) {
    for (let i = 0; i < v.length; i++) {
      const u = Math.max(rand(), 1e-300);
      v[i] = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
    }
    const kc = centred(v);
    scores.push(rankFamilies(kc, Math.sqrt(dot(kc, kc)), bank)[0][1].score);
  }
  scores.sort((a, b) => a - b);
  const q = Math.min(1, Math.max(0, quantile));
  const value = scores[Math.floor(q * (scores.length - 1))];
  chanceCache.set(key, value);
  return value;
}

/** The score a k×k kernel's best family must reach: max(threshold, chance score at k). */
export function effectiveThreshold(k: number, thresholds: AtlasThresholds = DEFAULT_THRESHOLDS): number {
  const chance = thresholds.chance ?? 0;
  return Math.max(thresholds.threshold, chance > 0 ? chanceScore(k, chance) : 0);
}

/** Classifies one k×k kernel (row-major); `layerMaxAbs` is max |w| over its layer (for the flat rule). */
export function classifyKernel(
  kernel: ArrayLike<number>,
  k: number,
  layerMaxAbs: number,
  thresholds: AtlasThresholds = DEFAULT_THRESHOLDS,
): KernelClass {
  const bank = prototypeBank(k);
  const kc = centred(Float64Array.from(kernel));
  const norm = Math.sqrt(dot(kc, kc));
  if (!(norm >= FLAT_FRACTION * layerMaxAbs) || norm === 0) {
    return {
      label: 'flat',
      polarity: null,
      sigma: null,
      theta: null,
      shift: null,
      score: 0,
      margin: 0,
      family: null,
    };
  }
  const ranked = rankFamilies(kc, norm, bank);
  const [family, top] = ranked[0];
  const margin = top.score - (ranked[1]?.[1].score ?? 0);
  const base = {
    sigma: top.sigma,
    theta: top.theta === null ? null : Math.round(top.theta * 1e6) / 1e6,
    shift: top.shift,
    score: top.score,
    margin,
    family,
  };
  if (top.score < effectiveThreshold(k, thresholds) || margin < thresholds.margin) {
    return { label: 'unclassified', polarity: null, ...base };
  }
  const polarity = family === 'centre' || family === 'line' ? (top.sign >= 0 ? 'on' : 'off') : null;
  if (family !== 'centre') return { label: family, polarity, ...base };
  let sum = 0;
  let abs = 0;
  for (let i = 0; i < kernel.length; i++) {
    sum += kernel[i];
    abs += Math.abs(kernel[i]);
  }
  const label = Math.abs(sum) / abs >= BLOB_DC_FRACTION ? 'blob' : 'centre-surround';
  return { label, polarity, ...base };
}

/** Is a conv weight shape a depthwise layer the atlas labels: [C, 1, k, k], k odd ≥ 3. */
export function isAtlasShape(shape: readonly number[]): boolean {
  return shape.length === 4 && shape[1] === 1 && shape[2] === shape[3] && shape[2] >= 3 && shape[2] % 2 === 1;
}

export interface LayerAtlas {
  k: number;
  /** The score a kernel of this size had to reach ({@link effectiveThreshold}). */
  threshold: number;
  kernels: KernelClass[];
  /** Share of each label among the layer's kernels. */
  shares: Record<KernelLabel, number>;
}

/** Counts → shares over {@link KERNEL_LABELS}. */
export function labelShares(labels: readonly KernelLabel[]): Record<KernelLabel, number> {
  const out = Object.fromEntries(KERNEL_LABELS.map((l) => [l, 0])) as Record<KernelLabel, number>;
  for (const l of labels) out[l] += 1;
  for (const l of KERNEL_LABELS) out[l] = labels.length ? out[l] / labels.length : 0;
  return out;
}

/** Labels every kernel of a depthwise layer [C, 1, k, k]. */
export function classifyLayer(
  weight: ArrayLike<number>,
  shape: readonly number[],
  thresholds: AtlasThresholds = DEFAULT_THRESHOLDS,
): LayerAtlas {
  if (!isAtlasShape(shape))
    throw new RangeError(`shape [${shape.join(', ')}] is not [C, 1, k, k] with k odd ≥ 3`);
  const k = shape[2];
  const kk = k * k;
  let maxAbs = 0;
  for (let i = 0; i < weight.length; i++) {
    const a = Math.abs(weight[i]);
    if (a > maxAbs) maxAbs = a;
  }
  const kernels: KernelClass[] = [];
  for (let c = 0; c < shape[0]; c++) {
    const slice = Array.prototype.slice.call(weight, c * kk, (c + 1) * kk) as number[];
    kernels.push(classifyKernel(slice, k, maxAbs, thresholds));
  }
  return {
    k,
    threshold: effectiveThreshold(k, thresholds),
    kernels,
    shares: labelShares(kernels.map((x) => x.label)),
  };
}

/** One depthwise layer to put in the atlas: its weight, or its kernels already labelled (stored labels). */
export type AtlasLayerInput = {
  layer: string;
  shape: readonly number[];
  convDepthNorm: number;
} & ({ weight: ArrayLike<number>; kernels?: undefined } | { kernels: KernelClass[]; weight?: undefined });

export interface AtlasLayerResult extends LayerAtlas {
  layer: string;
  shape: number[];
  convDepthNorm: number;
  /** Depth decile of convDepthNorm (the depth bins of `shift --by depth`). */
  depthBin: string | null;
}

export interface ModelAtlas {
  layers: AtlasLayerResult[];
  /** Shares over all the model's depthwise kernels. */
  shares: Record<KernelLabel, number>;
  kernelCount: number;
  /** Shares per depth bin (bins in depth order). */
  byDepth: { bin: string; kernels: number; shares: Record<KernelLabel, number> }[];
}

/** Labels every kernel of a model's depthwise layers; shares per layer, per depth bin and for the model. */
export function modelAtlas(
  layers: readonly AtlasLayerInput[],
  thresholds: AtlasThresholds = DEFAULT_THRESHOLDS,
): ModelAtlas {
  return summariseAtlas(
    layers.map((l) => ({
      layer: l.layer,
      shape: [...l.shape],
      convDepthNorm: l.convDepthNorm,
      depthBin: depthDecile(l.convDepthNorm),
      ...(l.kernels
        ? {
            k: l.shape[2],
            threshold: effectiveThreshold(l.shape[2], thresholds),
            kernels: l.kernels,
            shares: labelShares(l.kernels.map((x) => x.label)),
          }
        : classifyLayer(l.weight, l.shape, thresholds)),
    })),
  );
}

/** Shares over labelled layers (one model's, or several models' for a database), per depth bin and overall. */
export function summariseAtlas(results: AtlasLayerResult[]): ModelAtlas {
  const all = results.flatMap((r) => r.kernels.map((k) => k.label));
  const bins = new Map<string, KernelLabel[]>();
  for (const r of results) {
    const key = r.depthBin ?? NONE_GROUP;
    if (!bins.has(key)) bins.set(key, []);
    bins.get(key)!.push(...r.kernels.map((k) => k.label));
  }
  const entries = [...bins.entries()];
  const byDepth = displayOrder(entries.map(([bin]) => bin)).map((i) => ({
    bin: entries[i][0],
    kernels: entries[i][1].length,
    shares: labelShares(entries[i][1]),
  }));
  return { layers: results, shares: labelShares(all), kernelCount: all.length, byDepth };
}
