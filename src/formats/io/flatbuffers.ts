/**
 * A small, bounds-checked FlatBuffers table reader over a random-access ByteSource (no codegen).
 *
 * Every offset is checked against the file before it is followed, vector lengths are checked against
 * the bytes that remain before anything is allocated, and a zero offset (the only way a FlatBuffer
 * offset can point at itself: uoffsets are unsigned and point forward) is refused. A malformed file
 * therefore ends in a `corrupt` FilterDbError instead of a hang or a huge allocation. Reads go through a
 * small page cache, so a multi-GB file whose tables are small costs only the pages those tables touch.
 */
import { FilterDbError } from '../../errors.js';
import type { ByteSource } from './source.js';

const PAGE_SIZE = 1 << 16;
const MAX_CACHED_PAGES = 256;

export interface FbVector {
  /** Absolute position of the first element. */
  start: number;
  length: number;
}

export class FlatBufferReader {
  readonly source: ByteSource;
  readonly size: number;
  private readonly pages = new Map<number, Uint8Array>();

  constructor(source: ByteSource) {
    this.source = source;
    this.size = source.size;
  }

  corrupt(detail: string): FilterDbError {
    return new FilterDbError('corrupt', this.source.name, `corrupt FlatBuffer: ${detail}`);
  }

  /** Checks that [pos, pos+length) lies in the file, as a `corrupt` error (offsets come from the file). */
  check(pos: number, length: number, what: string): void {
    if (!Number.isSafeInteger(pos) || !Number.isSafeInteger(length) || pos < 0 || length < 0) {
      throw this.corrupt(`${what}: invalid range ${pos}+${length}`);
    }
    if (pos + length > this.size) {
      throw this.corrupt(`${what} at ${pos}+${length} points past the end of the file (${this.size} bytes)`);
    }
  }

  /** `length` bytes at `pos` (a view; do not modify). */
  async bytes(pos: number, length: number, what = 'data'): Promise<Uint8Array> {
    this.check(pos, length, what);
    if (length === 0) return new Uint8Array(0);
    const page = Math.floor(pos / PAGE_SIZE);
    if (Math.floor((pos + length - 1) / PAGE_SIZE) !== page) return this.source.read(pos, length);
    let data = this.pages.get(page);
    if (!data) {
      const start = page * PAGE_SIZE;
      data = await this.source.read(start, Math.min(PAGE_SIZE, this.size - start));
      if (this.pages.size >= MAX_CACHED_PAGES) this.pages.clear();
      this.pages.set(page, data);
    }
    const off = pos - page * PAGE_SIZE;
    return data.subarray(off, off + length);
  }

  private async view(pos: number, length: number, what: string): Promise<DataView> {
    const b = await this.bytes(pos, length, what);
    return new DataView(b.buffer, b.byteOffset, b.byteLength);
  }

  async u8(pos: number): Promise<number> {
    return (await this.view(pos, 1, 'u8')).getUint8(0);
  }
  async i8(pos: number): Promise<number> {
    return (await this.view(pos, 1, 'i8')).getInt8(0);
  }
  async u16(pos: number): Promise<number> {
    return (await this.view(pos, 2, 'u16')).getUint16(0, true);
  }
  async i32(pos: number): Promise<number> {
    return (await this.view(pos, 4, 'i32')).getInt32(0, true);
  }
  async u32(pos: number): Promise<number> {
    return (await this.view(pos, 4, 'u32')).getUint32(0, true);
  }
  async f32(pos: number): Promise<number> {
    return (await this.view(pos, 4, 'f32')).getFloat32(0, true);
  }
  /** A 64-bit integer as a number; refuses values beyond 2^53. */
  async i64(pos: number, signed: boolean): Promise<number> {
    const v = await this.view(pos, 8, 'i64');
    const big = signed ? v.getBigInt64(0, true) : v.getBigUint64(0, true);
    if (big > BigInt(Number.MAX_SAFE_INTEGER) || big < -BigInt(Number.MAX_SAFE_INTEGER)) {
      throw this.corrupt(`64-bit value ${big} at ${pos} is out of range`);
    }
    return Number(big);
  }

  /** Follows the uoffset stored at `pos`. */
  async deref(pos: number, what: string): Promise<number> {
    const rel = await this.u32(pos);
    if (rel === 0) throw this.corrupt(`${what} at ${pos} is a zero (self-referencing) offset`);
    const target = pos + rel;
    if (target >= this.size)
      throw this.corrupt(
        `${what} at ${pos} points to ${target}, past the end of the file (${this.size} bytes)`,
      );
    return target;
  }

  /** The root table (uoffset at byte 0). */
  async root(): Promise<FbTable> {
    if (this.size < 8) throw this.corrupt(`file of ${this.size} bytes is too small`);
    return this.table(await this.deref(0, 'root offset'));
  }

  /** The 4-byte file identifier at bytes 4..8. */
  async identifier(): Promise<string> {
    const b = await this.bytes(4, 4, 'file identifier');
    return String.fromCharCode(...b);
  }

  /** Reads the table at absolute position `pos` (its vtable is read and checked here). */
  async table(pos: number): Promise<FbTable> {
    this.check(pos, 4, 'table');
    const soff = await this.i32(pos);
    const vt = pos - soff;
    this.check(vt, 4, `vtable of table at ${pos}`);
    const vtLen = await this.u16(vt);
    const tableLen = await this.u16(vt + 2);
    if (vtLen < 4 || vtLen % 2 !== 0) throw this.corrupt(`vtable at ${vt} has invalid length ${vtLen}`);
    if (tableLen < 4) throw this.corrupt(`table at ${pos} has invalid length ${tableLen}`);
    this.check(pos, tableLen, `table at ${pos}`);
    const raw = await this.bytes(vt + 4, vtLen - 4, `vtable at ${vt}`);
    const fields = new Uint16Array((vtLen - 4) / 2);
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let i = 0; i < fields.length; i++) {
      const f = dv.getUint16(i * 2, true);
      if (f !== 0 && (f < 4 || f >= tableLen))
        throw this.corrupt(`field ${i} of table at ${pos} lies outside the table`);
      fields[i] = f;
    }
    return new FbTable(this, pos, fields, tableLen);
  }

  /** Vector header at the uoffset stored at `pos`, checked to fit the file with `elemSize`-byte elements. */
  async vectorAt(pos: number, elemSize: number, what: string): Promise<FbVector> {
    const vpos = await this.deref(pos, what);
    const length = await this.u32(vpos);
    const start = vpos + 4;
    if (length * elemSize > this.size - start) {
      throw this.corrupt(
        `${what} claims ${length} elements of ${elemSize} bytes but the file has only ${this.size - start} bytes left`,
      );
    }
    return { start, length };
  }

  async tableAt(vec: FbVector, index: number): Promise<FbTable> {
    if (!Number.isInteger(index) || index < 0 || index >= vec.length) {
      throw this.corrupt(`index ${index} outside a vector of ${vec.length} tables`);
    }
    const p = vec.start + index * 4;
    return this.table(await this.deref(p, `table ${index} of vector`));
  }
}

export class FbTable {
  constructor(
    readonly fb: FlatBufferReader,
    readonly pos: number,
    private readonly fields: Uint16Array,
    private readonly tableLen: number,
  ) {}

  /** Absolute position of field `id`, or 0 when absent (default value). Checks `size` fits the table. */
  fieldPos(id: number, size: number): number {
    const off = id < this.fields.length ? this.fields[id] : 0;
    if (off === 0) return 0;
    if (off + size > this.tableLen)
      throw this.fb.corrupt(`field ${id} of table at ${this.pos} overruns the table`);
    return this.pos + off;
  }

  has(id: number): boolean {
    return id < this.fields.length && this.fields[id] !== 0;
  }

  async u8(id: number, def = 0): Promise<number> {
    const p = this.fieldPos(id, 1);
    return p ? this.fb.u8(p) : def;
  }
  async i8(id: number, def = 0): Promise<number> {
    const p = this.fieldPos(id, 1);
    return p ? this.fb.i8(p) : def;
  }
  async i32(id: number, def = 0): Promise<number> {
    const p = this.fieldPos(id, 4);
    return p ? this.fb.i32(p) : def;
  }
  async u32(id: number, def = 0): Promise<number> {
    const p = this.fieldPos(id, 4);
    return p ? this.fb.u32(p) : def;
  }
  async u64(id: number, def = 0): Promise<number> {
    const p = this.fieldPos(id, 8);
    return p ? this.fb.i64(p, false) : def;
  }

  async table(id: number): Promise<FbTable | null> {
    const p = this.fieldPos(id, 4);
    return p ? this.fb.table(await this.fb.deref(p, `table field ${id}`)) : null;
  }

  async vector(id: number, elemSize: number): Promise<FbVector | null> {
    const p = this.fieldPos(id, 4);
    return p ? this.fb.vectorAt(p, elemSize, `vector field ${id} of table at ${this.pos}`) : null;
  }

  async string(id: number): Promise<string | null> {
    const v = await this.vector(id, 1);
    if (!v) return null;
    return new TextDecoder().decode(await this.fb.bytes(v.start, v.length, 'string'));
  }

  async int32Vector(id: number): Promise<Int32Array | null> {
    const v = await this.vector(id, 4);
    if (!v) return null;
    const b = await this.fb.bytes(v.start, v.length * 4, 'int vector');
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const out = new Int32Array(v.length);
    for (let i = 0; i < v.length; i++) out[i] = dv.getInt32(i * 4, true);
    return out;
  }

  async float32Vector(id: number): Promise<Float32Array | null> {
    const v = await this.vector(id, 4);
    if (!v) return null;
    const b = await this.fb.bytes(v.start, v.length * 4, 'float vector');
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const out = new Float32Array(v.length);
    for (let i = 0; i < v.length; i++) out[i] = dv.getFloat32(i * 4, true);
    return out;
  }

  async int64Vector(id: number): Promise<number[] | null> {
    const v = await this.vector(id, 8);
    if (!v) return null;
    const out: number[] = [];
    for (let i = 0; i < v.length; i++) out.push(await this.fb.i64(v.start + i * 8, true));
    return out;
  }

  /** A vector of tables: its header; read elements with `tableAt`. */
  async tableVector(id: number): Promise<FbVector | null> {
    return this.vector(id, 4);
  }
}
