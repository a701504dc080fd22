/**
 * Writes NumPy `.npz` archives (isomorphic): a zip (stored, no compression — what `numpy.savez` writes) of
 * `.npy` files, format version 1.0: the magic `\x93NUMPY`, version 1.0, a little-endian uint16 header length,
 * the header dict `{'descr': …, 'fortran_order': False, 'shape': (…), }` padded with spaces and a newline so
 * the data starts on a 64-byte boundary, then the raw C-order data. `numpy.load(path)[key]` reads each array
 * back unchanged. The zip container is fflate's.
 */
import { zipSync } from 'fflate';

export type NpyArray =
  | { dtype: 'bool'; shape: readonly number[]; data: Uint8Array }
  | { dtype: 'float64'; shape: readonly number[]; data: Float64Array }
  | { dtype: 'float32'; shape: readonly number[]; data: Float32Array };

const DESCR = { bool: '|b1', float64: '<f8', float32: '<f4' } as const;

/** One `.npy` file (version 1.0). Throws a RangeError when the data length does not match the shape. */
export function encodeNpy(array: NpyArray): Uint8Array {
  const count = array.shape.reduce((a, b) => a * b, 1);
  if (array.data.length !== count)
    throw new RangeError(
      `npy: shape (${array.shape.join(', ')}) needs ${count} values, got ${array.data.length}`,
    );
  const shape = array.shape.length === 1 ? `(${array.shape[0]},)` : `(${array.shape.join(', ')})`;
  let header = `{'descr': '${DESCR[array.dtype]}', 'fortran_order': False, 'shape': ${shape}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  if (header.length > 65535) throw new RangeError('npy: header too long');
  const bytes = new Uint8Array(array.data.buffer, array.data.byteOffset, array.data.byteLength);
  const out = new Uint8Array(10 + header.length + bytes.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0); // \x93NUMPY, v1.0
  out[8] = header.length & 0xff;
  out[9] = header.length >> 8;
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  if (array.dtype === 'bool')
    for (let i = 0; i < count; i++) out[10 + header.length + i] = array.data[i] ? 1 : 0;
  else out.set(bytes, 10 + header.length); // typed arrays are little-endian on every engine we run on
  return out;
}

/** An `.npz` archive: one `<key>.npy` member per entry (numpy.load strips the `.npy`). */
export function encodeNpz(arrays: ReadonlyMap<string, NpyArray>): Uint8Array {
  const files: Record<string, [Uint8Array, { level: 0 }]> = {};
  for (const [key, array] of arrays) {
    if (key.length === 0) throw new RangeError('npz: empty array name');
    files[`${key}.npy`] = [encodeNpy(array), { level: 0 }];
  }
  return zipSync(files);
}
