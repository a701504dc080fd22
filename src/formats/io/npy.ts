/**
 * NumPy `.npy` reader for 2-D float32/float64 arrays (a basis given by the user). Pure: takes the file's bytes.
 * Format: magic `\x93NUMPY`, version byte pair, header length (uint16 LE for 1.0, uint32 LE for 2.0/3.0), a
 * Python dict literal `{'descr': '<f8', 'fortran_order': False, 'shape': (R, C), }`, then the raw data.
 * Everything claimed is checked against the file before anything is allocated.
 */
import { FilterDbError } from '../../errors.js';

export interface NpyMatrix {
  rows: number;
  cols: number;
  /** Row-major values, widened to float64. */
  data: Float64Array;
  /** The dtype as the file states it (`<f4`, `>f8`, …). */
  descr: string;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
/** A header longer than this is not a real .npy header. */
const MAX_HEADER = 1 << 16;

/** Parses a 2-D float32/float64 `.npy`; `file` names it in errors. */
export function parseNpyMatrix(bytes: Uint8Array, file: string): NpyMatrix {
  const bad = (detail: string): never => {
    throw new FilterDbError('corrupt', file, `not a usable .npy matrix: ${detail}`);
  };
  if (bytes.length < 10) {
    throw new FilterDbError('truncated', file, `.npy file of ${bytes.length} bytes ends inside the preamble`);
  }
  for (let i = 0; i < MAGIC.length; i++) {
    if (bytes[i] !== MAGIC[i]) {
      throw new FilterDbError('unsupported-format', file, 'not a .npy file (no \\x93NUMPY magic)');
    }
  }
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let headerStart: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new FilterDbError('truncated', file, '.npy file ends inside the preamble');
    headerLen = view.getUint32(8, true);
    headerStart = 12;
  } else {
    throw new FilterDbError(
      'unsupported',
      file,
      `.npy format version ${major} is not supported (1, 2, 3 are)`,
    );
  }
  if (headerLen > MAX_HEADER) bad(`header length ${headerLen} exceeds ${MAX_HEADER} bytes`);
  if (headerStart + headerLen > bytes.length) {
    throw new FilterDbError(
      'truncated',
      file,
      `.npy header claims ${headerLen} bytes but the file has ${bytes.length - headerStart} after the preamble`,
    );
  }
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(
    bytes.subarray(headerStart, headerStart + headerLen),
  );
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    bad(`header ${JSON.stringify(header.trim().slice(0, 120))} lacks descr, fortran_order or shape`);
  }
  const itemSize = descr === '<f4' || descr === '>f4' ? 4 : descr === '<f8' || descr === '>f8' ? 8 : 0;
  if (itemSize === 0) {
    throw new FilterDbError(
      'unsupported',
      file,
      `.npy dtype ${JSON.stringify(descr)} is not supported (float32 or float64 only)`,
    );
  }
  const dims = shapeText!
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (dims.length !== 2) bad(`shape (${shapeText}) is not 2-D`);
  const [rows, cols] = dims.map((d) => (/^\d{1,9}$/.test(d) ? Number(d) : Number.NaN));
  if (!Number.isSafeInteger(rows) || !Number.isSafeInteger(cols))
    bad(`shape (${shapeText}) is not two integers`);
  const dataStart = headerStart + headerLen;
  const need = rows * cols * itemSize;
  const have = bytes.length - dataStart;
  if (need > have) {
    throw new FilterDbError(
      'truncated',
      file,
      `.npy shape (${rows}, ${cols}) of ${descr} needs ${need} data bytes but the file has ${have}`,
    );
  }
  if (need < have) bad(`${have - need} bytes after the (${rows}, ${cols}) ${descr} data`);
  const little = descr!.startsWith('<');
  const data = new Float64Array(rows * cols);
  const dv = new DataView(bytes.buffer, bytes.byteOffset + dataStart, need);
  for (let i = 0; i < rows * cols; i++) {
    // Fortran order stores column-major: element i of the file is (i % rows, i / rows)
    const dst = fortran === 'True' ? (i % rows) * cols + Math.floor(i / rows) : i;
    data[dst] = itemSize === 4 ? dv.getFloat32(i * 4, little) : dv.getFloat64(i * 8, little);
  }
  return { rows, cols, data, descr: descr! };
}
