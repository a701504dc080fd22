/** Per-layer quality metrics, degeneracy flags and the small linear algebra behind them. */
export {
  ALL_FLAGS,
  type AssessedLayer,
  DEGENERATION_FLAGS,
  degeneratedSql,
  degenerationFlags,
  flagLayer,
  isDegenerated,
  isDegenerationFlag,
  LOW_DIVERSITY_THRESHOLD,
  type ModelHealth,
  modelVerdict,
  notMeasured,
  RANDOM_LIKE_THRESHOLD,
  SPARSE_THRESHOLD,
} from './flags.js';
export {
  centredScatter,
  columnMeans,
  type EigenOptions,
  GRAM_BLOCK_COLS,
  type GramOptions,
  gram,
  type SymmetricEigen,
  symmetricEigen,
} from './linalg.js';
export {
  DEFAULT_SPARSITY_EPS,
  measureLayer,
  orthogonality,
  randomEntropy,
  scanWeights,
  type VarianceEntropy,
  varianceEntropy,
  type WeightScan,
} from './quality.js';
export type { FlagId, LayerFlag, LayerMetrics, QualityOptions } from './types.js';
