/** Finds the reader for a file: magic bytes and structure first, the extension second. */
import { FilterDbError } from '../errors.js';
import type { Model } from '../model/types.js';
import type { ModelInput } from './io/source.js';
import type { FormatReader, ReadOptions } from './reader.js';
import { readers } from './registry.js';

/**
 * Extensions of single-file models, for picking the models out of a directory listing (multi-file models are
 * found by their `model.json` or `*.index.json` instead).
 */
export const MODEL_FILE_EXTENSIONS: readonly string[] = [
  '.onnx',
  '.pt',
  '.pth',
  '.ckpt',
  '.bin',
  '.safetensors',
  '.h5',
  '.keras',
  '.tflite',
];

export function supportedFormatsText(): string {
  return readers.map((r) => `${r.label} (${r.extensions.join(', ')})`).join('; ');
}

export async function detect(input: ModelInput): Promise<FormatReader> {
  const { main } = input;
  const head = await main.read(0, Math.min(4096, main.size));
  const name = (main.name.split(/[\\/]/).pop() ?? main.name).toLowerCase();
  let best: FormatReader | null = null;
  let bestScore = 0;
  for (const reader of readers) {
    const score = await reader.sniff({ head, name, source: main });
    if (score > bestScore) {
      best = reader;
      bestScore = score;
      if (score === 2) break;
    }
  }
  if (!best) {
    throw new FilterDbError(
      'unsupported-format',
      main.name,
      `not a model file filterdb can read. Supported: ${supportedFormatsText()}`,
    );
  }
  return best;
}

/** Detects the format and reads the model. */
export async function readModel(input: ModelInput, options?: ReadOptions): Promise<Model> {
  const reader = await detect(input);
  return reader.read(input, options);
}
