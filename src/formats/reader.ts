/** The contract every format reader implements. */
import type { Model } from '../model/types.js';
import type { ByteSource, ModelInput } from './io/source.js';

export interface ReadOptions {
  /** Called as the reader gets through the file (bytes done, bytes total). */
  onProgress?: (done: number, total: number) => void;
}

export interface SniffContext {
  /** The first up-to-4096 bytes of the main file. */
  head: Uint8Array;
  /** Base name of the main file, lower-cased. */
  name: string;
  source: ByteSource;
}

/** How sure a reader is that a file is its format: 2 = magic bytes/structure, 1 = extension only, 0 = no. */
export type SniffScore = 0 | 1 | 2;

export interface FormatReader {
  /** Short id used in output (`format` field) and docs. */
  id: string;
  /** Human description for the "supported formats" list. */
  label: string;
  extensions: string[];
  sniff(ctx: SniffContext): Promise<SniffScore> | SniffScore;
  read(input: ModelInput, options?: ReadOptions): Promise<Model>;
}
