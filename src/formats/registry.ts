/** All format readers, in the order detection asks them. Add one line per reader. */
import type { FormatReader } from './reader.js';

export const readers: FormatReader[] = [
  // readers are appended here, one import + one entry each
];
