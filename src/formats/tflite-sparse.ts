/**
 * TFLite sparse tensors (`Tensor.sparsity`, the input of a DENSIFY op): the schema's SparsityParameters
 * decoded and the stored values scattered back to the dense tensor, as TFLite's own FormatConverter does.
 *
 * The dense shape (rank r) is optionally split into blocks: `block_map[b]` names the original dimension
 * that block dimension r+b subdivides. `traversal_order` orders the r + blocks expanded dimensions from
 * outermost to innermost, and `dim_metadata[level]` describes the dimension at that level: DENSE (every
 * index 0..dense_size-1 present) or SPARSE_CSR (for the parent position p, the indices
 * `array_indices[array_segments[p] .. array_segments[p+1])`). The values are stored in traversal order.
 */
import type { FbTable } from './io/flatbuffers.js';

export interface DimensionMetadata {
  format: 'dense' | 'sparse-csr';
  denseSize: number;
  segments: Int32Array | null;
  indices: Int32Array | null;
}

export interface Sparsity {
  traversalOrder: number[];
  blockMap: number[];
  dimMetadata: DimensionMetadata[];
}

/** Dense tensors larger than this many elements are refused (the dense copy is allocated). */
const MAX_DENSE_ELEMENTS = 1 << 28;

/** SparseIndexVector union: Int32Vector = 1, Uint16Vector = 2, Uint8Vector = 3 (each a table of `values`). */
async function indexVector(
  table: FbTable,
  typeField: number,
  valueField: number,
): Promise<Int32Array | null> {
  const type = await table.u8(typeField, 0);
  if (type === 0) return null;
  const t = await table.table(valueField);
  if (!t) return null;
  const size = type === 1 ? 4 : type === 2 ? 2 : type === 3 ? 1 : 0;
  if (size === 0) throw t.fb.corrupt(`unknown SparseIndexVector type ${type}`);
  const v = await t.vector(0, size);
  if (!v) return new Int32Array(0);
  const b = await t.fb.bytes(v.start, v.length * size, 'sparse index vector');
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out = new Int32Array(v.length);
  for (let i = 0; i < v.length; i++)
    out[i] = size === 4 ? dv.getInt32(i * 4, true) : size === 2 ? dv.getUint16(i * 2, true) : b[i];
  return out;
}

/** Reads a SparsityParameters table (traversal_order 0, block_map 1, dim_metadata 2). */
export async function readSparsity(table: FbTable): Promise<Sparsity> {
  const traversalOrder = Array.from((await table.int32Vector(0)) ?? []);
  const blockMap = Array.from((await table.int32Vector(1)) ?? []);
  const dimVec = await table.tableVector(2);
  const dimMetadata: DimensionMetadata[] = [];
  for (let i = 0; i < (dimVec?.length ?? 0); i++) {
    // DimensionMetadata: format 0, dense_size 1, array_segments (type 2, value 3), array_indices (4, 5)
    const d = await table.fb.tableAt(dimVec!, i);
    dimMetadata.push({
      format: (await d.i8(0, 0)) === 1 ? 'sparse-csr' : 'dense',
      denseSize: await d.i32(1, 0),
      segments: await indexVector(d, 2, 3),
      indices: await indexVector(d, 4, 5),
    });
  }
  return { traversalOrder, blockMap, dimMetadata };
}

/**
 * For each stored value (in storage order), its flat row-major index in the dense tensor of `shape`.
 * Checks the metadata against the shape and returns a description of the first inconsistency instead.
 */
export function sparseToDenseIndex(shape: readonly number[], sp: Sparsity): Float64Array | string {
  const rank = shape.length;
  const { traversalOrder: order, blockMap, dimMetadata: meta } = sp;
  const total = rank + blockMap.length;
  if (order.length !== total || meta.length !== total)
    return `traversal_order has ${order.length} and dim_metadata ${meta.length} entries for ${rank} dimensions and ${blockMap.length} block dimensions`;
  if (new Set(order).size !== total || order.some((d) => !Number.isInteger(d) || d < 0 || d >= total))
    return `traversal_order [${order.join(', ')}] is not a permutation of 0..${total - 1}`;
  let denseCount = 1;
  for (const d of shape) denseCount *= d;
  if (denseCount > MAX_DENSE_ELEMENTS) return `dense shape [${shape.join(', ')}] is too large to densify`;
  // size of every expanded dimension: blocked original dims, then the block sizes
  const expanded = shape.slice();
  const blockSize: number[] = [];
  for (const [b, dim] of blockMap.entries()) {
    if (!Number.isInteger(dim) || dim < 0 || dim >= rank || blockMap.indexOf(dim) !== b)
      return `block_map [${blockMap.join(', ')}] does not name distinct dimensions`;
    const level = order.indexOf(rank + b);
    const size = meta[level].denseSize;
    if (!(size > 0) || shape[dim] % size !== 0)
      return `block size ${size} does not divide dimension ${dim} of [${shape.join(', ')}]`;
    blockSize.push(size);
    expanded[dim] = shape[dim] / size;
  }
  for (let b = 0; b < blockMap.length; b++) expanded.push(blockSize[b]);
  for (let level = 0; level < total; level++) {
    const m = meta[level];
    const size = expanded[order[level]];
    if (m.format === 'dense' && m.denseSize !== size)
      return `dense dimension at level ${level} has size ${m.denseSize}, the shape says ${size}`;
    if (m.format === 'sparse-csr' && (!m.segments || !m.indices))
      return `sparse dimension at level ${level} has no array_segments or array_indices`;
  }
  const strides = new Array<number>(rank).fill(1);
  for (let d = rank - 2; d >= 0; d--) strides[d] = strides[d + 1] * shape[d + 1];

  // block dimension of each original dimension, -1 where it is not blocked
  const blockOf = new Array<number>(rank).fill(-1);
  for (const [b, dim] of blockMap.entries()) blockOf[dim] = b;
  const out: number[] = [];
  const index = new Array<number>(total).fill(0);
  const orig = new Array<number>(rank).fill(0);
  let error: string | null = null;
  const leaf = (): void => {
    orig.fill(0);
    for (let level = 0; level < total; level++) {
      const dim = order[level];
      if (dim >= rank) orig[blockMap[dim - rank]] += index[level];
      else orig[dim] += index[level] * (blockOf[dim] >= 0 ? blockSize[blockOf[dim]] : 1);
    }
    let flat = 0;
    for (let d = 0; d < rank; d++) flat += orig[d] * strides[d];
    if (out.length >= denseCount) {
      error = `more stored values than the ${denseCount} elements of [${shape.join(', ')}]`;
      return;
    }
    out.push(flat);
  };
  const walk = (level: number, parent: number): void => {
    if (error) return;
    if (level === total) {
      leaf();
      return;
    }
    const m = meta[level];
    const size = expanded[order[level]];
    if (m.format === 'dense') {
      for (let i = 0; i < size && !error; i++) {
        index[level] = i;
        walk(level + 1, parent * size + i);
      }
      return;
    }
    const seg = m.segments!;
    const idx = m.indices!;
    if (parent + 1 >= seg.length) {
      error = `array_segments at level ${level} has ${seg.length} entries, position ${parent} needs more`;
      return;
    }
    const from = seg[parent];
    const to = seg[parent + 1];
    if (from < 0 || to < from || to > idx.length) {
      error = `array_segments at level ${level} points outside its ${idx.length} indices`;
      return;
    }
    for (let i = from; i < to && !error; i++) {
      if (idx[i] < 0 || idx[i] >= size) {
        error = `array_indices at level ${level} holds ${idx[i]}, the dimension has ${size}`;
        return;
      }
      index[level] = idx[i];
      walk(level + 1, i);
    }
  };
  walk(0, 0);
  return error ?? Float64Array.from(out);
}

/** Scatters `values` (elements of `elementSize` bytes in storage order) into a zeroed dense byte array. */
export function densifyBytes(
  values: Uint8Array,
  elementSize: number,
  denseCount: number,
  denseIndex: Float64Array,
): Uint8Array {
  const dense = new Uint8Array(denseCount * elementSize);
  for (let k = 0; k < denseIndex.length; k++) {
    const to = denseIndex[k] * elementSize;
    dense.set(values.subarray(k * elementSize, (k + 1) * elementSize), to);
  }
  return dense;
}
