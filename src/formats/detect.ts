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
  return (await detectScored(input)).reader;
}

/** The reader, whether it recognised the bytes (2) or only the file name (1), and the first bytes. */
async function detectScored(
  input: ModelInput,
): Promise<{ reader: FormatReader; score: number; head: Uint8Array }> {
  const { main } = input;
  if (main.size === 0)
    throw new FilterDbError(
      'unsupported-format',
      main.name,
      `is empty (0 bytes): not a model file. Supported: ${supportedFormatsText()}`,
    );
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
  return { reader: best, score: bestScore, head };
}

/**
 * Whether bytes look like text (UTF-8 or ASCII without control characters other than tab, CR, LF): no binary
 * model format starts like that.
 */
export function looksLikeText(head: Uint8Array): boolean {
  if (head.length === 0) return false;
  for (const b of head) if (b === 0 || (b < 32 && b !== 9 && b !== 10 && b !== 13) || b === 127) return false;
  try {
    // a multi-byte character cut at the end of the window is still text
    new TextDecoder('utf-8', { fatal: true }).decode(head.subarray(0, Math.max(0, head.length - 3)));
    return true;
  } catch {
    return false;
  }
}

/** Detects the format and reads the model. */
export async function readModel(input: ModelInput, options?: ReadOptions): Promise<Model> {
  const { reader, score, head } = await detectScored(input);
  try {
    return await reader.read(input, options);
  } catch (e) {
    // Picked by its extension only, and the bytes are text (say, a README renamed .onnx): the parser's
    // complaint ("invalid protobuf field tag …") would hide what is wrong.
    const textual = !input.main.name.toLowerCase().endsWith('.json');
    if (score < 2 && textual && e instanceof FilterDbError && looksLikeText(head))
      throw new FilterDbError(
        'unsupported-format',
        input.main.name,
        `is a text file, not a model file (its name says ${reader.label}, its bytes do not). Supported: ${supportedFormatsText()}`,
      );
    throw e;
  }
}
