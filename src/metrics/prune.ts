/**
 * Data-free pruning plans: which output filters of each conv a criterion would remove.
 *
 * Scores per output filter j (the slice `W[j]` over (inPerGroup, kh, kw), float64):
 * - `l1` — Σ|W[j]| (Li et al., *Pruning Filters for Efficient ConvNets*, ICLR 2017);
 * - `l2` — ‖W[j]‖₂;
 * - `fpgm` — dⱼ = Σᵢ ‖W[j] − W[i]‖₂ over all filters i of the layer (He et al., *Filter Pruning via Geometric
 *   Median*, CVPR 2019): the filters closest to the others' geometric median are the most replaceable.
 * The smallest score is pruned first.
 *
 * Dead filters — every value below eps·max|W| of the layer (the CNN Filter DB sparsity rule, eps 0.01, applied
 * to a whole output filter) — are always pruned first, then the lowest scores up to the layer's quota; a layer
 * always keeps at least one filter. Quotas:
 * - per layer (`perLayer`): every layer loses ⌊ratio·out⌋ filters (or its dead ones, if more);
 * - global: the filters of all planned layers are ranked together by score divided by their layer's mean
 *   score (raw norms and distances are not comparable across layers of different fan-in and scale) and the
 *   lowest ratio·(all filters) are pruned, dead ones counted first.
 * Depthwise layers are not scored: their channel c only carries what channel c of the conv feeding them
 * produces, so they are pruned with that producer — taken to be the nearest earlier conv (graph depth, then
 * file order) with as many output filters as the depthwise layer has channels (the IR keeps no graph edges;
 * the plan names the producer it assumed). Transposed convolutions (output channels are dim 1 per group) are
 * left out with a note.
 *
 * Savings: the parameters of the pruned filters (inPerGroup·kh·kw each, weights only; the next layer's input
 * channels and biases are not counted). MACs would need each conv's output size, which the readers do not
 * infer (no shape inference), so `macsRemoved` is null with that reason.
 */
import type { ConvLayer, WeightArray } from '../model/types.js';

export type PruneCriterion = 'l1' | 'l2' | 'fpgm';
export const PRUNE_CRITERIA: readonly PruneCriterion[] = ['l1', 'l2', 'fpgm'];
export const DEAD_FILTER_EPS = 0.01;

export interface FilterScores {
  l1: Float64Array;
  l2: Float64Array;
  fpgm: Float64Array;
  /** 1 where the whole output filter is below eps·max|W|. */
  dead: Uint8Array;
}

/** L1, L2, FPGM scores and dead flags of the `out` filters of a rank-4 `[out, inPerGroup, kh, kw]` weight. */
export function filterScores(
  weight: WeightArray,
  shape: readonly number[],
  eps = DEAD_FILTER_EPS,
): FilterScores {
  const out = shape[0];
  const d = shape.slice(1).reduce((a, b) => a * b, 1);
  const l1 = new Float64Array(out);
  const l2 = new Float64Array(out);
  const rowMax = new Float64Array(out);
  let max = 0;
  for (let j = 0; j < out; j++) {
    let a1 = 0;
    let a2 = 0;
    let m = 0;
    const o = j * d;
    for (let k = 0; k < d; k++) {
      const v = weight[o + k];
      const a = Math.abs(v);
      a1 += a;
      a2 += v * v;
      if (a > m) m = a;
    }
    l1[j] = a1;
    l2[j] = Math.sqrt(a2);
    rowMax[j] = m;
    if (m > max) max = m;
  }
  let t = eps * max;
  if (t === 0) t = 1;
  const dead = new Uint8Array(out);
  for (let j = 0; j < out; j++) dead[j] = rowMax[j] < t ? 1 : 0;
  // FPGM: pairwise distances by direct differences (cancellation-free, like scipy's cdist)
  const fpgm = new Float64Array(out);
  for (let i = 0; i < out; i++) {
    const oi = i * d;
    for (let j = i + 1; j < out; j++) {
      const oj = j * d;
      let s = 0;
      for (let k = 0; k < d; k++) {
        const x = weight[oi + k] - weight[oj + k];
        s += x * x;
      }
      const dist = Math.sqrt(s);
      fpgm[i] += dist;
      fpgm[j] += dist;
    }
  }
  return { l1, l2, fpgm, dead };
}

export interface PruneOptions {
  criterion: PruneCriterion;
  ratio: number;
  perLayer: boolean;
  eps?: number;
}

export interface LayerPlan {
  name: string;
  op: string;
  kind: ConvLayer['kind'];
  shape: number[];
  filters: number;
  /** Output filters to prune, ascending. */
  prune: number[];
  dead: number[];
  /** Scores of the chosen criterion per filter (null for layers pruned with their producer or left out). */
  scores: number[] | null;
  paramsBefore: number;
  paramsRemoved: number;
  /** Depthwise layers: the conv they are pruned with. */
  producer?: string;
  note?: string;
}

export interface PrunePlan {
  criterion: PruneCriterion;
  ratio: number;
  mode: 'global' | 'per-layer';
  layers: LayerPlan[];
  totals: {
    filters: number;
    pruned: number;
    dead: number;
    params: number;
    paramsRemoved: number;
    macsRemoved: null;
    macsNote: string;
  };
}

interface Scored {
  layer: ConvLayer;
  index: number;
  scores: FilterScores | null;
}

function paramsPerFilter(shape: readonly number[]): number {
  return shape.slice(1).reduce((a, b) => a * b, 1);
}

/** Layers that get scores of their own: rank-4 convs that are neither depthwise nor transposed. */
function plannable(layer: ConvLayer): boolean {
  return layer.shape.length === 4 && layer.kind !== 'depthwise' && layer.kind !== 'transposed';
}

/** The producer of the depthwise layer `layers[i]` (see the file comment): an index into `layers`, or -1. */
function producerOf(layers: readonly ConvLayer[], i: number): number {
  const l = layers[i];
  const channels = l.groups ?? l.shape[0]; // depthwise: one group per input channel
  let best = -1;
  for (let j = 0; j < layers.length; j++) {
    const p = layers[j];
    if (!plannable(p) || p.shape[0] !== channels) continue; // never l itself: it is depthwise
    const before = p.convDepth < l.convDepth || (p.convDepth === l.convDepth && j < i);
    if (!before) continue;
    // j ascends, so on equal depth the later conv in file order wins
    if (best < 0 || p.convDepth >= layers[best].convDepth) best = j;
  }
  return best;
}

/** Builds the plan for every rank-4 conv of a model (weights read one layer at a time). */
export async function prunePlan(layers: readonly ConvLayer[], options: PruneOptions): Promise<PrunePlan> {
  const { criterion, ratio, perLayer } = options;
  if (!(ratio >= 0 && ratio < 1)) throw new RangeError(`ratio must be in [0, 1), got ${ratio}`);
  const scored: Scored[] = [];
  for (const [index, layer] of layers.entries()) {
    scored.push({
      layer,
      index,
      scores: plannable(layer) ? filterScores(await layer.loadWeight(), layer.shape, options.eps) : null,
    });
  }
  const pruned = new Map<number, Set<number>>();
  for (const s of scored) if (s.scores) pruned.set(s.index, new Set());

  const pick = (s: Scored) => (s.scores ? s.scores[criterion] : null);
  if (perLayer) {
    for (const s of scored) {
      if (!s.scores) continue;
      const out = s.layer.shape[0];
      const chosen = pruned.get(s.index)!;
      const dead = [...s.scores.dead.keys()].filter((j) => s.scores!.dead[j]);
      const quota = Math.min(out - 1, Math.max(dead.length, Math.floor(ratio * out)));
      const order = rankFilters(pick(s)!, s.scores.dead);
      for (const j of order.slice(0, quota)) chosen.add(j);
    }
  } else {
    // dead filters first (all layers), then normalised scores across layers
    const candidates: { layer: number; j: number; key: number; dead: boolean }[] = [];
    let total = 0;
    for (const s of scored) {
      if (!s.scores) continue;
      const sc = pick(s)!;
      const out = sc.length;
      total += out;
      let mean = 0;
      for (const v of sc) mean += v;
      mean /= out;
      for (let j = 0; j < out; j++)
        candidates.push({
          layer: s.index,
          j,
          key: mean > 0 ? sc[j] / mean : 0,
          dead: s.scores.dead[j] === 1,
        });
    }
    // candidates were pushed by layer, then filter index; the sort is stable, so ties keep that order
    candidates.sort((a, b) => Number(b.dead) - Number(a.dead) || a.key - b.key);
    const deadCount = candidates.filter((c) => c.dead).length;
    const target = Math.max(deadCount, Math.floor(ratio * total));
    let taken = 0;
    for (const c of candidates) {
      if (taken >= target) break;
      const set = pruned.get(c.layer)!;
      const out = layers[c.layer].shape[0];
      if (set.size >= out - 1) continue; // never a whole layer
      set.add(c.j);
      taken++;
    }
  }

  const plans: LayerPlan[] = [];
  for (const s of scored) {
    const { layer } = s;
    const out = layer.shape[0] ?? 0;
    const per = paramsPerFilter(layer.shape);
    const base: LayerPlan = {
      name: layer.name,
      op: layer.op,
      kind: layer.kind,
      shape: layer.shape,
      filters: out,
      prune: [],
      dead: [],
      scores: null,
      paramsBefore: per * out,
      paramsRemoved: 0,
    };
    if (s.scores) {
      const prune = [...pruned.get(s.index)!].sort((a, b) => a - b);
      base.prune = prune;
      base.dead = [...s.scores.dead.keys()].filter((j) => s.scores!.dead[j]);
      base.scores = Array.from(pick(s)!);
      base.paramsRemoved = prune.length * per;
    } else if (layer.kind === 'depthwise' && layer.shape.length === 4) {
      const p = producerOf(layers, s.index);
      if (p >= 0) {
        base.producer = layers[p].name;
        // channel c of the depthwise layer holds filters c·mult … c·mult + mult − 1
        const mult = Math.max(1, Math.round(out / layers[p].shape[0]));
        for (const c of pruned.get(p)!) for (let m = 0; m < mult; m++) base.prune.push(c * mult + m);
        base.prune.sort((a, b) => a - b);
        base.paramsRemoved = base.prune.length * per;
        base.note = `depthwise: pruned with its producer ${layers[p].name} (nearest earlier conv with ${layers[p].shape[0]} filters)`;
      } else base.note = 'depthwise: no producer with a matching filter count found; not pruned';
    } else if (layer.kind === 'transposed')
      base.note = 'transposed convolution: output channels are dim 1 per group; not planned';
    else base.note = `rank-${layer.shape.length} weight: not planned`;
    plans.push(base);
  }
  let filters = 0;
  let prunedCount = 0;
  let dead = 0;
  let params = 0;
  let paramsRemoved = 0;
  for (const p of plans) {
    filters += p.filters;
    prunedCount += p.prune.length;
    dead += p.dead.length;
    params += p.paramsBefore;
    paramsRemoved += p.paramsRemoved;
  }
  return {
    criterion,
    ratio,
    mode: perLayer ? 'per-layer' : 'global',
    layers: plans,
    totals: {
      filters,
      pruned: prunedCount,
      dead,
      params,
      paramsRemoved,
      macsRemoved: null,
      macsNote: "MACs need each conv's output size; the readers do not infer tensor shapes",
    },
  };
}

/** Filter indices in pruning order: dead ones first, then ascending score (index order on ties: stable sort). */
export function rankFilters(scores: Float64Array, dead: Uint8Array): number[] {
  return [...scores.keys()].sort((a, b) => dead[b] - dead[a] || scores[a] - scores[b]);
}

/** The keep-mask of a layer plan, shaped like the weight (row-major): false for every value of a pruned filter. */
export function keepMask(plan: LayerPlan): Uint8Array {
  const per = paramsPerFilter(plan.shape);
  const mask = new Uint8Array(per * plan.filters).fill(1);
  for (const j of plan.prune) mask.fill(0, j * per, (j + 1) * per);
  return mask;
}
