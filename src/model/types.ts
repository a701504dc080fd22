/** The in-memory representation every format reader produces. Pure data, no I/O. */

/** How a convolution combines input channels (null where the file does not say, e.g. a bare state dict). */
export type ConvKind = 'plain' | 'grouped' | 'depthwise' | 'transposed';

/** Weight values widened to float32 (or kept float64 when stored as float64). */
export type WeightArray = Float32Array | Float64Array;

export interface ConvLayer {
  /** The weight tensor's own name in the file (ONNX initializer, state-dict key, TF.js/Keras weight name). */
  name: string;
  /** The operator as the format names it: Conv, ConvTranspose, Conv2D, DepthwiseConv2D, CONV_2D, … */
  op: string;
  kind: ConvKind | null;
  /**
   * Normalised shape: `[out, inPerGroup, ...spatial]` (`[in, outPerGroup, ...spatial]` for transposed convs).
   * Rank 4 for 2-D convs, 3 for 1-D, 5 for 3-D.
   */
  shape: number[];
  groups: number | null;
  /** Element type as stored in the file: float32, float16, bfloat16, float64, int8, uint8, … */
  dtype: string;
  /** Depth in the operator graph (longest path from a graph input), when the format has a graph. */
  graphDepth: number | null;
  /** Index of this conv's depth level among the model's conv depth levels (see model/depth.ts). */
  convDepth: number;
  /** convDepth / (levels - 1), 0 when there is one level. */
  convDepthNorm: number;
  /** Strides, dilations, padding where the format records them (metadata only). */
  attributes?: ConvAttributes;
  /** Reads and decodes the weight in the normalised layout. Lazy, so big models need not sit in memory. */
  loadWeight(): Promise<WeightArray>;
}

export interface ConvAttributes {
  strides?: number[];
  dilations?: number[];
  pads?: number[];
  padding?: string;
}

export interface Model {
  /** Reader id: onnx, pytorch, safetensors, tfjs, keras, tflite. */
  format: string;
  /** Display name of the source (file name). */
  source: string;
  producer?: string;
  opset?: number;
  /** True when conv depths come from an operator graph; false when from storage order. */
  graphDepthKnown: boolean;
  /** Number of distinct graph-depth levels in the whole graph (dataset.h5's `depth`), when known. */
  graphDepthLevels?: number;
  layers: ConvLayer[];
  /** Things a reader noticed but could skip (e.g. a conv whose weight is computed at run time). */
  warnings: string[];
}

/** Number of spatial dimensions of a conv weight shape. */
export function spatialRank(shape: readonly number[]): number {
  return shape.length - 2;
}

/** Kernel size label such as "3x3" or "1x3x3"; a 1-D kernel of k is "1xk", the 1×k filters it is measured as. */
export function kernelLabel(shape: readonly number[]): string {
  return shape.length === 3 ? `1x${shape[2]}` : shape.slice(2).join('x');
}

/**
 * Most weights one conv layer may have (2^26 ≈ 67 M: 256 MiB as float32). Measuring takes a few times the
 * layer's size in memory, so this keeps any one layer within ~1.5 GB; the largest convs of real CNNs have
 * under 20 M weights (VGG's 512×512×3×3: 2.4 M; a 2048→2048 3×3: 38 M). A layer's *logical* size counts
 * (a stride-0 `expand` view or a small deflated entry can claim far more than the file holds), and it is
 * checked before anything is loaded or inflated.
 */
export const MAX_CONV_WEIGHTS = 2 ** 26;

export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** ONNX-style kind rule shared by readers that know the group count. */
export function convKind(op: 'conv' | 'transposed', groups: number, inPerGroup: number): ConvKind {
  if (op === 'transposed') return 'transposed';
  if (groups <= 1) return 'plain';
  return inPerGroup === 1 ? 'depthwise' : 'grouped';
}
