/** Per-layer filter-quality numbers (definitions: fixtures README / torchconvquality). null = undefined. */
export interface LayerMetrics {
  /** Number of 2-D filters (out * inPerGroup). */
  n: number;
  sparsity: number;
  varianceEntropy: number | null;
  varianceEntropyNorm: number | null;
  varianceEntropyClean: number | null;
  varianceEntropyCleanNorm: number | null;
  orthogonality: number | null;
  /** Null when it exceeds float64's range (finite weights near ±1.8e308; the layer is flagged `overflow`). */
  normL1: number | null;
  normL2: number | null;
  normL1Norm: number | null;
  normL2Norm: number | null;
}

export interface QualityOptions {
  /** Sparsity threshold as a fraction of the layer's max |w| (default 0.01). */
  sparsityEps?: number;
}

export type FlagId = 'sparse' | 'low-diversity' | 'random-like' | 'non-finite' | 'overflow' | 'tiny';

export interface LayerFlag {
  id: FlagId;
  /** One plain-words line saying why. */
  reason: string;
}
