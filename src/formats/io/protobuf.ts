/**
 * Protobuf wire-format reading, hand-written and bounds-checked. Two layers:
 * - `ProtoReader`: synchronous reads over bytes in memory; payloads are views, never copies.
 * - `ProtoWindow`: a sliding window over a `ByteSource`, so a multi-GB message can be walked field by field
 *   and big byte fields (tensor data) recorded as (offset, length) without ever being read.
 * Every error is a FilterDbError naming the file: `truncated` when a field runs past the end of the file,
 * `corrupt` when it is malformed or overruns its enclosing message.
 */
import { FilterDbError } from '../../errors.js';
import type { ByteSource } from './source.js';

export const WIRE_VARINT = 0;
export const WIRE_I64 = 1;
export const WIRE_LEN = 2;
export const WIRE_I32 = 5;

/** Most bytes a tag plus a length (or any scalar payload) can take: 5 + 10, with slack. */
export const HEADER_BYTES = 20;

const utf8 = new TextDecoder('utf-8');
const TWO_32 = 4294967296;

export class ProtoReader {
  /** Current position, relative to `buf`. */
  pos: number;
  /** Wire type of the last tag read. */
  wire = 0;
  /** Bytes actually present in `buf` (payload reads must stay below it). */
  readonly end: number;
  private lo = 0;
  private hi = 0;

  /**
   * @param buf bytes of (part of) the file
   * @param name file name for error messages
   * @param base file offset of `buf[0]`, so ranges can be reported in file coordinates
   * @param start first position to read, relative to `buf`
   * @param limit logical end of the message, relative to `buf` (may lie beyond `buf` for a window)
   * @param fileSize size of the whole file, to tell a truncated file from a malformed message
   */
  constructor(
    readonly buf: Uint8Array,
    readonly name: string,
    readonly base = 0,
    start = 0,
    readonly limit = buf.length,
    readonly fileSize = base + buf.length,
  ) {
    this.pos = start;
    this.end = Math.min(buf.length, limit);
  }

  /** True when the message is exhausted. */
  get done(): boolean {
    return this.pos >= this.limit;
  }

  /** File offset of the current position. */
  get offset(): number {
    return this.base + this.pos;
  }

  /** Reads a field tag; returns the field number and sets `wire`. */
  tag(): number {
    const at = this.pos;
    const v = this.varint();
    const field = Math.floor(v / 8);
    const wire = v % 8;
    if (field === 0 || field > 0x1fffffff || (wire !== 0 && wire !== 1 && wire !== 2 && wire !== 5)) {
      throw new FilterDbError(
        'corrupt',
        this.name,
        `invalid protobuf field tag ${v} at offset ${this.base + at}`,
      );
    }
    this.wire = wire;
    return field;
  }

  /** Unsigned varint as a number (exact up to 2^53; 64-bit values keep their high bits in `hi`). */
  varint(): number {
    const b = this.buf;
    let p = this.pos;
    if (p >= this.end) this.overrun(p, 1, 'varint');
    let byte = b[p++];
    if (byte < 0x80) {
      this.pos = p;
      this.lo = byte;
      this.hi = 0;
      return byte;
    }
    let lo = byte & 0x7f;
    let hi = 0;
    for (let shift = 7; shift < 28; shift += 7) {
      if (p >= this.end) this.overrun(p, 1, 'varint');
      byte = b[p++];
      lo |= (byte & 0x7f) << shift;
      if (byte < 0x80) return this.varintDone(p, lo >>> 0, 0);
    }
    if (p >= this.end) this.overrun(p, 1, 'varint');
    byte = b[p++];
    lo = (lo | ((byte & 0x7f) << 28)) >>> 0;
    hi = (byte & 0x7f) >> 4;
    if (byte < 0x80) return this.varintDone(p, lo, hi);
    for (let shift = 3; shift < 38; shift += 7) {
      if (p >= this.end) this.overrun(p, 1, 'varint');
      byte = b[p++];
      hi = (hi | ((byte & 0x7f) << shift)) >>> 0;
      if (byte < 0x80) return this.varintDone(p, lo, hi);
    }
    throw new FilterDbError(
      'corrupt',
      this.name,
      `varint longer than 10 bytes at offset ${this.base + this.pos}`,
    );
  }

  private varintDone(p: number, lo: number, hi: number): number {
    this.pos = p;
    this.lo = lo;
    this.hi = hi;
    return hi * TWO_32 + lo;
  }

  /** Signed 64-bit varint (int64/int32 fields; negatives are 10-byte two's complement). */
  int64(): number {
    const u = this.varint();
    if (this.hi < 0x80000000) return u;
    return -((~this.hi >>> 0) * TWO_32 + (~this.lo >>> 0) + 1);
  }

  /** Reads a length prefix and checks that the payload fits in the message (not necessarily in `buf`). */
  length(): number {
    const len = this.varint();
    if (this.pos + len > this.limit) this.overrun(this.pos, len, 'length-delimited field', true);
    return len;
  }

  /** Payload of a length-delimited field as a view (no copy). */
  bytes(): Uint8Array {
    const len = this.length();
    if (this.pos + len > this.end) this.overrun(this.pos, len, 'field payload');
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  string(): string {
    return utf8.decode(this.bytes());
  }

  /** File range of a length-delimited payload; skips it without needing its bytes. */
  range(): { offset: number; length: number } {
    const length = this.length();
    const offset = this.base + this.pos;
    this.pos += length;
    return { offset, length };
  }

  /** File range of a fixed-size scalar payload (unpacked fixed32/fixed64 element). */
  fixedRange(size: 4 | 8): { offset: number; length: number } {
    if (this.pos + size > this.limit) this.overrun(this.pos, size, 'fixed-size field', true);
    const offset = this.base + this.pos;
    this.pos += size;
    return { offset, length: size };
  }

  /** A reader over the payload of a length-delimited field (shares `buf`). */
  sub(): ProtoReader {
    const len = this.length();
    if (this.pos + len > this.end) this.overrun(this.pos, len, 'embedded message');
    const r = new ProtoReader(this.buf, this.name, this.base, this.pos, this.pos + len, this.fileSize);
    this.pos += len;
    return r;
  }

  /** Repeated int64 field, packed or not; appends to `out`. */
  int64s(out: number[]): number[] {
    if (this.wire === WIRE_LEN) {
      const r = this.sub();
      while (!r.done) out.push(r.int64());
    } else if (this.wire === WIRE_VARINT) {
      out.push(this.int64());
    } else {
      this.skip();
    }
    return out;
  }

  float32(): number {
    if (this.pos + 4 > this.end) this.overrun(this.pos, 4, 'float');
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 4).getFloat32(0, true);
    this.pos += 4;
    return v;
  }

  /** Skips the payload of the last tag. */
  skip(): void {
    switch (this.wire) {
      case WIRE_VARINT:
        this.varint();
        return;
      case WIRE_I64:
        this.advance(8);
        return;
      case WIRE_I32:
        this.advance(4);
        return;
      case WIRE_LEN: {
        const len = this.length(); // read before `pos` is used: `pos += length()` would add to the old pos
        this.pos += len;
        return;
      }
      default:
        throw new FilterDbError('corrupt', this.name, `unsupported wire type ${this.wire}`);
    }
  }

  private advance(n: number): void {
    if (this.pos + n > this.limit) this.overrun(this.pos, n, 'fixed-size field', true);
    this.pos += n;
  }

  /** Throws `truncated` when the bytes would lie past the end of the file, `corrupt` otherwise. */
  private overrun(at: number, length: number, what: string, logical = false): never {
    const fileEnd = this.base + at + length;
    if (fileEnd > this.fileSize) {
      throw new FilterDbError(
        'truncated',
        this.name,
        `${what} at offset ${this.base + at} needs ${length} bytes but the file ends at ${this.fileSize} (truncated or corrupt)`,
      );
    }
    const where = logical ? 'overruns its enclosing message' : 'lies outside the bytes read';
    throw new FilterDbError(
      'corrupt',
      this.name,
      `${what} at offset ${this.base + at} (${length} bytes) ${where}`,
    );
  }
}

/** One field's tag and payload position, in file coordinates. */
export interface FieldHeader {
  field: number;
  wire: number;
  /** Varint value for varint fields (unsigned), 0 otherwise. */
  value: number;
  /** File offset of the payload (after the tag and, for length-delimited fields, the length). */
  offset: number;
  /** Payload length: the length prefix, 4, 8 or the varint's byte count. */
  length: number;
  /** File offset of the next field. */
  next: number;
}

/**
 * A sliding window over a ByteSource for walking messages too large to load. Reads go through
 * `source.read`, which bounds-checks against the file size, so no allocation follows an unchecked claim.
 */
export class ProtoWindow {
  private buf: Uint8Array = new Uint8Array(0);
  private start = 0;

  constructor(
    readonly source: ByteSource,
    readonly chunk = 1 << 14,
  ) {}

  get name(): string {
    return this.source.name;
  }

  /** A reader at `offset` with `min(need, limit - offset)` bytes available, or null if not loaded yet. */
  readerSync(offset: number, limit: number, need: number): ProtoReader | null {
    const want = Math.min(need, limit - offset);
    if (offset < this.start || offset + want > this.start + this.buf.length) return null;
    return new ProtoReader(
      this.buf,
      this.name,
      this.start,
      offset - this.start,
      limit - this.start,
      this.source.size,
    );
  }

  /** Like readerSync, loading the window first (at least `chunk` bytes, fewer at the end of the file). */
  async reader(offset: number, limit: number, need: number): Promise<ProtoReader> {
    const ready = this.readerSync(offset, limit, need);
    if (ready) return ready;
    const want = Math.min(need, limit - offset);
    if (offset + want > this.source.size) {
      throw new FilterDbError(
        'truncated',
        this.name,
        `data at offset ${offset} runs past the end of the file`,
      );
    }
    const length = Math.min(this.source.size - offset, Math.max(want, this.chunk));
    this.buf = await this.source.read(offset, length);
    this.start = offset;
    return new ProtoReader(this.buf, this.name, offset, 0, limit - offset, this.source.size);
  }

  /** Reads the header of the field at `offset` inside a message ending at `limit`. */
  async header(offset: number, limit: number): Promise<FieldHeader> {
    const r =
      this.readerSync(offset, limit, HEADER_BYTES) ?? (await this.reader(offset, limit, HEADER_BYTES));
    return readHeader(r);
  }
}

/** Reads one field header from `r` and moves past the whole field. */
export function readHeader(r: ProtoReader): FieldHeader {
  const field = r.tag();
  const wire = r.wire;
  let value = 0;
  let offset: number;
  let length: number;
  if (wire === WIRE_LEN) {
    length = r.length();
    offset = r.offset;
    r.pos += length;
  } else {
    offset = r.offset;
    if (wire === WIRE_VARINT) value = r.varint();
    else r.skip();
    length = r.offset - offset;
  }
  return { field, wire, value, offset, length, next: r.offset };
}
