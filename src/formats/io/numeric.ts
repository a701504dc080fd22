/** Decoding of stored element types into float arrays (little-endian, exact widening). */

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** IEEE half -> float32 value (exact). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** bfloat16 bits -> float32 value (exact: the upper half of a float32). */
export function bfloat16ToFloat(b: number): number {
  u32Scratch[0] = (b & 0xffff) << 16;
  return f32Scratch[0];
}

/** Copies little-endian float32 bytes into a new Float32Array (handles unaligned input). */
export function decodeFloat32(bytes: Uint8Array, count: number): Float32Array {
  const out = new Float32Array(count);
  new Uint8Array(out.buffer).set(bytes.subarray(0, count * 4));
  return out;
}

export function decodeFloat64(bytes: Uint8Array, count: number): Float64Array {
  const out = new Float64Array(count);
  new Uint8Array(out.buffer).set(bytes.subarray(0, count * 8));
  return out;
}

export function decodeFloat16(bytes: Uint8Array, count: number): Float32Array {
  const out = new Float32Array(count);
  const view = new DataView(bytes.buffer, bytes.byteOffset, count * 2);
  for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(i * 2, true));
  return out;
}

export function decodeBfloat16(bytes: Uint8Array, count: number): Float32Array {
  const out = new Float32Array(count);
  const view = new DataView(bytes.buffer, bytes.byteOffset, count * 2);
  for (let i = 0; i < count; i++) out[i] = bfloat16ToFloat(view.getUint16(i * 2, true));
  return out;
}

/** Bytes per element of the float dtypes readers decode. */
export const FLOAT_DTYPE_SIZE = new Map<string, number>([
  ['float32', 4],
  ['float16', 2],
  ['bfloat16', 2],
  ['float64', 8],
]);

/** Decodes `count` elements of a float dtype. float64 stays float64 so no precision is lost. */
export function decodeFloats(dtype: string, bytes: Uint8Array, count: number): Float32Array | Float64Array {
  switch (dtype) {
    case 'float32':
      return decodeFloat32(bytes, count);
    case 'float64':
      return decodeFloat64(bytes, count);
    case 'float16':
      return decodeFloat16(bytes, count);
    case 'bfloat16':
      return decodeBfloat16(bytes, count);
    default:
      throw new Error(`decodeFloats: unsupported dtype ${dtype}`);
  }
}

/** Reorders a row-major tensor by an axis permutation (numpy.transpose semantics). */
export function transpose<T extends Float32Array | Float64Array>(
  data: T,
  shape: readonly number[],
  perm: readonly number[],
): T {
  const rank = shape.length;
  const outShape = perm.map((p) => shape[p]);
  const inStrides = new Array<number>(rank);
  let s = 1;
  for (let i = rank - 1; i >= 0; i--) {
    inStrides[i] = s;
    s *= shape[i];
  }
  const strideByOutAxis = perm.map((p) => inStrides[p]);
  const out = new (data.constructor as { new (n: number): T })(data.length);
  const idx = new Array<number>(rank).fill(0);
  let src = 0;
  for (let o = 0; o < data.length; o++) {
    out[o] = data[src];
    for (let ax = rank - 1; ax >= 0; ax--) {
      idx[ax]++;
      src += strideByOutAxis[ax];
      if (idx[ax] < outShape[ax]) break;
      src -= strideByOutAxis[ax] * outShape[ax];
      idx[ax] = 0;
    }
  }
  return out;
}
