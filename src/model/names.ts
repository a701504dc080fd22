/**
 * The name of a model from its file path (isomorphic: the CLI's directory walk and the web app's dropped
 * files use the same rule): the file's stem, or its folder's name when the stem is generic (`model.json`,
 * `pytorch_model.bin`, a shard index).
 */

/** Stems too generic to name a model; the folder name is used instead. */
const GENERIC_STEMS = new Set([
  'model',
  'pytorch_model',
  'tf_model',
  'flax_model',
  'weights',
  'checkpoint',
  'saved_model',
  'model_weights',
  'diffusion_pytorch_model',
]);

function lastSegment(path: string): string {
  const parts = path.split(/[\\/]+/).filter(Boolean);
  return parts[parts.length - 1] ?? '';
}

function parentOf(path: string): string {
  const parts = path.split(/[\\/]+/).filter(Boolean);
  return parts.length > 1 ? parts[parts.length - 2] : '';
}

/** The model name of a path: its stem, or the parent folder's name when the stem is generic. */
export function modelNameOfPath(path: string, isDirectory = false): string {
  const base = lastSegment(path);
  if (isDirectory) return base;
  const dot = base.lastIndexOf('.');
  let stem = (dot > 0 ? base.slice(0, dot) : base) || base;
  // sharded names such as pytorch_model-00001-of-00002 or model.safetensors.index
  stem = stem
    .replace(/-\d+-of-\d+$/, '')
    .replace(/\.(safetensors|bin)\.index$/, '')
    .replace(/[-_]weights_manifest$/, '');
  if (GENERIC_STEMS.has(stem.toLowerCase())) {
    const parent = parentOf(path);
    if (parent && parent !== '.') return parent;
  }
  return stem;
}
