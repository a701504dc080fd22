import type { ConvLayer, WeightArray } from '../../src/model/types.js';

/** An in-memory plain conv layer (depth 0, one group) holding `w`; `extra` overrides any field. */
export function convLayer(
  name: string,
  shape: number[],
  w: WeightArray,
  extra: Partial<ConvLayer> = {},
): ConvLayer {
  return {
    name,
    op: 'Conv',
    kind: 'plain',
    shape,
    groups: 1,
    dtype: w instanceof Float64Array ? 'float64' : 'float32',
    graphDepth: null,
    convDepth: 0,
    convDepthNorm: 0,
    loadWeight: async () => w,
    ...extra,
  };
}
