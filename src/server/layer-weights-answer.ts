/**
 * The answer of `GET /api/models/:id/layers/:index/weights` (layer-weights.ts), a type only: the web app
 * imports it too.
 */
export interface LayerWeights {
  model: number;
  layer: number;
  name: string;
  /** The returned part: `[out', inPerGroup, kh, kw]` (whole output channels). */
  shape: number[];
  /** The layer's planar shape `[out, inPerGroup, kh, kw]`. */
  fullShape: number[];
  source: 'database' | 'file';
  /** Output channels returned of the layer's out. */
  returnedOut: number;
  /** Largest finite |w| of the whole layer. */
  maxAbs: number;
  /** Indices (out·inPerGroup + i) of the near-zero 2-D filters among the returned ones. */
  dead: number[];
  /** Near-zero filters of the whole layer and the threshold (eps · max|w|, eps 0.01; 1 when max|w| is 0). */
  deadCount: number;
  deadThreshold: number;
  weights: number[];
}
