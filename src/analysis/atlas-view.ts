/**
 * What the atlas faces draw (HTML reports, the web app): per kernel size the prototype of each pattern, the
 * pattern's count and share, and example kernels closest to the prototype first (highest score); the shares
 * per depth bin and per layer. Derived from a {@link ModelAtlas} and the weights it was computed from —
 * small and plain (JSON-safe), so a server or a worker can send it as is.
 */
import type { ConvLayer } from '../model/types.js';
import {
  type AtlasLayerInput,
  isAtlasShape,
  KERNEL_LABELS,
  type KernelLabel,
  type ModelAtlas,
  prototypeKernel,
  sigmaGrid,
} from './kernel-atlas.js';

/** Patterns that have a prototype (every label but flat and unclassified). */
export const PATTERN_LABELS: readonly KernelLabel[] = KERNEL_LABELS.filter(
  (l) => l !== 'flat' && l !== 'unclassified',
);

export interface AtlasExample {
  layer: string;
  /** Channel (kernel index) in its layer. */
  channel: number;
  score: number;
  /** The kernel as stored, k×k row-major. */
  kernel: number[];
}

export interface AtlasPattern {
  label: KernelLabel;
  count: number;
  /** Share among the size's kernels. */
  share: number;
  /** The prototype (k×k, max |v| = 1, θ = 0, centred) at `sigma`; null for flat and unclassified. */
  prototype: number[] | null;
  /** Median σ of the kernels with this label (the grid's middle σ when there are none). */
  sigma: number | null;
  /** Up to `examples` kernels with this label, highest score (closest to a prototype) first. */
  examples: AtlasExample[];
}

export interface AtlasSizeView {
  k: number;
  /** The score a kernel of this size had to reach. */
  threshold: number;
  kernels: number;
  patterns: AtlasPattern[];
}

export interface AtlasView {
  kernelCount: number;
  shares: Record<KernelLabel, number>;
  byDepth: ModelAtlas['byDepth'];
  layers: {
    layer: string;
    k: number;
    kernels: number;
    depthBin: string | null;
    shares: Record<KernelLabel, number>;
  }[];
  sizes: AtlasSizeView[];
}

/** A model's depthwise layers the atlas labels ([C, 1, k, k], k odd ≥ 3), with their weights loaded. */
export async function atlasInputs(layers: readonly ConvLayer[]): Promise<AtlasLayerInput[]> {
  const out: AtlasLayerInput[] = [];
  for (const l of layers) {
    if (l.kind !== 'depthwise' || !isAtlasShape(l.shape)) continue;
    out.push({ layer: l.name, shape: l.shape, convDepthNorm: l.convDepthNorm, weight: await l.loadWeight() });
  }
  return out;
}

function median(values: number[]): number | null {
  if (!values.length) return null;
  const v = [...values].sort((a, b) => a - b);
  return v[Math.floor((v.length - 1) / 2)];
}

/**
 * The view of an atlas. `inputs[i]` must be the layer `atlas.layers[i]` was computed from (same order, as
 * {@link modelAtlas} returns them); `examples` kernels per pattern (default 12).
 */
export function atlasView(
  inputs: readonly AtlasLayerInput[],
  atlas: ModelAtlas,
  options: { examples?: number } = {},
): AtlasView {
  if (inputs.length !== atlas.layers.length)
    throw new RangeError(`${inputs.length} layers for an atlas of ${atlas.layers.length}`);
  const perPattern = Math.max(0, options.examples ?? 12);
  const sizes = [...new Set(atlas.layers.map((l) => l.k))].sort((a, b) => a - b);
  const views = sizes.map((k): AtlasSizeView => {
    const kk = k * k;
    const members = atlas.layers.map((l, i) => ({ l, i })).filter(({ l }) => l.k === k);
    const kernels = members.reduce((s, { l }) => s + l.kernels.length, 0);
    const patterns = KERNEL_LABELS.filter((label) => label !== 'flat').map((label): AtlasPattern => {
      const hits: { layer: number; channel: number; score: number; sigma: number | null }[] = [];
      for (const { l, i } of members)
        l.kernels.forEach((c, channel) => {
          if (c.label === label) hits.push({ layer: i, channel, score: c.score, sigma: c.sigma });
        });
      // pushed in layer, then channel order, and the sort is stable: equal scores keep that order
      hits.sort((a, b) => b.score - a.score);
      const pattern = PATTERN_LABELS.includes(label);
      const grid = sigmaGrid(k);
      const sigma = pattern
        ? (median(hits.map((h) => h.sigma ?? 0)) ?? grid[Math.floor((grid.length - 1) / 2)])
        : null;
      return {
        label,
        count: hits.length,
        share: kernels ? hits.length / kernels : 0,
        prototype: sigma === null ? null : prototypeKernel(label, k, sigma),
        sigma,
        // examples need the weights: layers given as their stored labels only (no weights) show none
        examples: hits
          .filter((h) => inputs[h.layer].weight !== undefined)
          .slice(0, perPattern)
          .map((h) => {
            const weight = inputs[h.layer].weight as ArrayLike<number>;
            return {
              layer: inputs[h.layer].layer,
              channel: h.channel,
              score: h.score,
              kernel: Array.from({ length: kk }, (_, j) => weight[h.channel * kk + j] as number),
            };
          }),
      };
    });
    return { k, threshold: members[0].l.threshold, kernels, patterns };
  });
  return {
    kernelCount: atlas.kernelCount,
    shares: atlas.shares,
    byDepth: atlas.byDepth,
    layers: atlas.layers.map((l) => ({
      layer: l.layer,
      k: l.k,
      kernels: l.kernels.length,
      depthBin: l.depthBin,
      shares: l.shares,
    })),
    sizes: views,
  };
}
