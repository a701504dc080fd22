/**
 * Degeneracy flags for one measured layer, each with a one-line reason in plain words.
 *
 * Thresholds and where they come from:
 * - `sparse`: sparsity > 0.1. Gavrikov & Keuper (CNN Filter DB, CVPR 2022, "degenerated layers") call layers
 *   with many near-zero filters degenerated; torchconvquality's sparsity uses the same 1%-of-max threshold.
 *   More than a tenth of the filters being dead is well beyond what healthy trained layers show.
 * - `low-diversity`: normalised variance entropy < 0.5. The normaliser T(n) is the entropy of a random layer,
 *   so < 0.5 means the filters vary along far fewer directions than random ones: redundant, near-copies.
 * - `random-like`: normalised variance entropy ≥ 1. T(n) is fitted to the entropy of randomly initialised
 *   layers, so a layer at or above it is indistinguishable from an untrained one by this measure.
 *   Both entropy flags apply to 3×3 kernels only: T(n) is fitted to 3×3 random layers (its limit
 *   L + b = 0.951 ≈ log10 9, the maximum entropy of 9 variances); for other sizes the ratio has no reference
 *   point (1×1 kernels always have entropy 0, 5×5 random layers exceed 1).
 *   They are also skipped for `tiny` layers, where the entropy is not meaningful.
 * - `non-finite`: any NaN or ±Infinity weight (metrics that would be NaN are reported as null).
 * - `overflow`: finite weights whose L1 or L2 norm exceeds float64's range (values near ±1.8e308); those norms
 *   are null. Every other metric is scale-free and computed on weights scaled by a power of two.
 * - `tiny`: n ≤ kh·kw, i.e. at most as many 2-D filters as kernel values. After centring, n filters span at
 *   most n − 1 directions, so with n ≤ k at least one of the k variances is zero by construction and the
 *   variance entropy reflects the layer's size, not its filters. Also raised when out == 1 (orthogonality is
 *   undefined for a single filter).
 */
import type { FlagId, LayerFlag, LayerMetrics } from './types.js';

/**
 * The one definition of "degenerated": a layer is degenerated when it carries any of these flags. `tiny` is
 * not among them: it says a layer is too small to judge, not that its filters are bad. The CLI, the reports,
 * the server (through {@link degeneratedSql}) and the app all use this list.
 */
export const DEGENERATION_FLAGS: readonly FlagId[] = ['sparse', 'low-diversity', 'random-like', 'non-finite'];

/** Every flag id, in the order tables list them. */
export const ALL_FLAGS: readonly FlagId[] = [...DEGENERATION_FLAGS, 'tiny'];

/** Whether a flag id makes a layer degenerated. */
export function isDegenerationFlag(id: string): boolean {
  return (DEGENERATION_FLAGS as readonly string[]).includes(id);
}

/** The flags of `flags` that make a layer degenerated (in their order). */
export function degenerationFlags<F extends { id: string }>(flags: readonly F[] | null | undefined): F[] {
  return (flags ?? []).filter((f) => isDegenerationFlag(f.id));
}

/**
 * Whether a layer is degenerated, from its flags. `null` flags mean the layer was never assessed (say, imported
 * with --no-metrics): the answer is then `null`, never "healthy".
 */
export function isDegenerated(flags: readonly { id: string }[] | null | undefined): boolean | null {
  if (flags === null || flags === undefined) return null;
  return flags.some((f) => isDegenerationFlag(f.id));
}

/**
 * The same definition as a DuckDB expression over a `VARCHAR[]` flags column: true / false, NULL when the
 * layer was not assessed (flags NULL).
 */
export function degeneratedSql(column = 'flags'): string {
  const list = DEGENERATION_FLAGS.map((f) => `'${f}'`).join(', ');
  return `(CASE WHEN ${column} IS NULL THEN NULL ELSE len(list_filter(${column}, f -> f IN (${list}))) > 0 END)`;
}

export const SPARSE_THRESHOLD = 0.1;
export const LOW_DIVERSITY_THRESHOLD = 0.5;
export const RANDOM_LIKE_THRESHOLD = 1;

function pct(x: number): string {
  const p = x * 100;
  return `${p >= 10 ? p.toFixed(0) : Number(p.toFixed(1))}%`;
}

function fmt(x: number): string {
  return x.toFixed(2);
}

/**
 * Flags for a layer measured by `measureLayer`. `shape` is the layer's `[out, inPerGroup, kh, kw]`; `out` may be
 * `null` when the file does not record it (dataset.h5 stores a layer's 2-D filters without its shape): every
 * flag that needs only `n` and the kernel size is still decided, only the single-output-filter part of `tiny`
 * is not. `sparsityEps` only words the `sparse` reason (default 0.01).
 */
export function flagLayer(
  metrics: LayerMetrics,
  nonFinite: number,
  shape: readonly (number | null)[],
  sparsityEps = 0.01,
): LayerFlag[] {
  const flags: LayerFlag[] = [];
  const out = shape[0];
  const k = (shape[2] ?? 1) * (shape[3] ?? 1);
  const n = metrics.n;

  if (nonFinite > 0) {
    flags.push({
      id: 'non-finite',
      reason: `${nonFinite} weight${nonFinite === 1 ? ' is' : 's are'} NaN or infinite; entropy, orthogonality and standardised norms are not computed`,
    });
  }

  if (metrics.normL1 === null || metrics.normL2 === null) {
    flags.push({
      id: 'overflow',
      reason:
        'the weights are so large that their L1/L2 norm exceeds float64 range (> 1.8e308); those norms are not reported',
    });
  }

  if (metrics.sparsity > SPARSE_THRESHOLD) {
    flags.push({
      id: 'sparse',
      reason: `${pct(metrics.sparsity)} of filters are near zero (< ${pct(sparsityEps)} of the layer's max |w|)`,
    });
  }

  const tinyReasons: string[] = [];
  if (n <= k) {
    tinyReasons.push(
      `only ${n} filter${n === 1 ? '' : 's'} of ${k} values: too few to span the kernel space, so variance entropy is not meaningful`,
    );
  }
  if (out === 1) tinyReasons.push('a single output filter: orthogonality is undefined');
  const tiny = tinyReasons.length > 0;
  if (tiny) flags.push({ id: 'tiny', reason: tinyReasons.join('; ') });

  const norm = metrics.varianceEntropyNorm;
  if (norm !== null && !tiny && k === 9) {
    if (norm < LOW_DIVERSITY_THRESHOLD) {
      flags.push({
        id: 'low-diversity',
        reason: `variance entropy is ${fmt(norm)} of a random layer's (< ${LOW_DIVERSITY_THRESHOLD}): filters are redundant, varying along few directions`,
      });
    } else if (norm >= RANDOM_LIKE_THRESHOLD) {
      flags.push({
        id: 'random-like',
        reason: `variance entropy is ${fmt(norm)}× a random layer's (≥ ${RANDOM_LIKE_THRESHOLD}): filters look like untrained random initialisation`,
      });
    }
  }
  return flags;
}

/** What a stored layer needs for {@link notMeasured}. */
export interface AssessedLayer {
  /** `null` when the layer was never assessed. */
  flags: readonly unknown[] | null | undefined;
  /** `null` or empty when the file did not record the layer's shape (dataset.h5). */
  shape: readonly number[] | null | undefined;
}

/**
 * What could not be measured for a layer, in words: its metrics and flags when it was never assessed, its
 * orthogonality when its output-channel count is unknown (dataset.h5 layers). Empty when nothing is missing.
 * A metric that is undefined for the layer (1x1 variance entropy, a single filter's orthogonality) is not
 * "not measured": it is n/a.
 */
export function notMeasured(layer: AssessedLayer): string[] {
  if (layer.flags === null || layer.flags === undefined) return ['metrics and flags'];
  if (!layer.shape || layer.shape.length === 0) return ['orthogonality'];
  return [];
}

/** A model's layer counts, as the server's `/api/models` gives them. */
export interface ModelHealth {
  layers: number;
  /** Layers with a flag from {@link DEGENERATION_FLAGS}. */
  degenerated: number;
  /** Layers never assessed (flags NULL). */
  notAssessed?: number;
  /** Assessed layers whose orthogonality was not measured (shape unknown). */
  orthogonalityNotMeasured?: number;
}

/**
 * The one-line verdict on a model: "healthy" only when every layer was assessed and none is degenerated;
 * "not measured" when no layer was assessed; otherwise the counts, with what was not measured.
 */
export function modelVerdict(h: ModelHealth): {
  state: 'degenerated' | 'healthy' | 'not-measured';
  text: string;
} {
  const notAssessed = h.notAssessed ?? 0;
  const noOrth = h.orthogonalityNotMeasured ?? 0;
  const assessed = h.layers - notAssessed;
  const missing: string[] = [];
  if (notAssessed > 0 && assessed > 0) missing.push(`${notAssessed} of ${h.layers} layers not measured`);
  if (noOrth > 0) missing.push('orthogonality not measured');
  const tail = missing.length ? ` (${missing.join('; ')})` : '';
  if (h.degenerated > 0)
    return { state: 'degenerated', text: `${h.degenerated}/${h.layers} degenerated${tail}` };
  if (h.layers === 0 || assessed === 0) return { state: 'not-measured', text: 'not measured' };
  if (notAssessed > 0) return { state: 'not-measured', text: `no degenerated layers${tail}` };
  return { state: 'healthy', text: `healthy${tail}` };
}
