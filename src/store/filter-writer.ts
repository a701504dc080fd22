/**
 * Bulk loading of filters through DuckDB's appender, one full data chunk (2048 rows) at a time. The
 * column vectors are filled with single memcpy-style copies (`copy_data_to_vector`) from typed arrays:
 * measured ~10x faster than per-value appends, and no SQL is parsed per row.
 */
import type { DuckDBAppender, DuckDBConnection } from '@duckdb/node-api';
import duckdb from '@duckdb/node-bindings';
import { BIGINT, DuckDBDataChunk, FLOAT, INTEGER, LIST, SMALLINT } from './duckdb-api.js';

/** Rows per DuckDB data chunk (the engine's vector size, 2048). */
export const CHUNK_ROWS = duckdb.vector_size();

type Values = Float32Array | Float64Array;

/** Appends 3x3 filters to `filters` (w0..w8) and other kernel shapes to `filters_other` (FLOAT[] lists). */
export class FilterWriter {
  private readonly con: DuckDBConnection;
  private app3: DuckDBAppender | null = null;
  private appOther: DuckDBAppender | null = null;
  private readonly chunk3: DuckDBDataChunk;
  private readonly ids = new Uint32Array(CHUNK_ROWS * 2);
  private readonly layerIds = new Int32Array(CHUNK_ROWS);
  private readonly modelIds = new Int32Array(CHUNK_ROWS);
  private readonly cols: Float32Array[] = Array.from({ length: 9 }, () => new Float32Array(CHUNK_ROWS));
  private fill = 0;
  /** Rows written so far (both tables). */
  rows = 0;

  private chunkOther: DuckDBDataChunk | null = null;
  private otherFill = 0;
  private otherIds = new Uint32Array(CHUNK_ROWS * 2);
  private otherLayer = new Int32Array(CHUNK_ROWS);
  private otherModel = new Int32Array(CHUNK_ROWS);
  private otherKh = new Int16Array(CHUNK_ROWS);
  private otherKw = new Int16Array(CHUNK_ROWS);
  private otherEntries = new Uint32Array(CHUNK_ROWS * 4);
  private otherValues: number[] = [];

  constructor(con: DuckDBConnection) {
    this.con = con;
    this.chunk3 = DuckDBDataChunk.create([BIGINT, INTEGER, INTEGER, ...Array(9).fill(FLOAT)]);
  }

  /**
   * Appends `count` 3x3 filters, values row-major (9 per filter) starting at filter `from` of `values`,
   * with ids firstId, firstId+1, … (ids must stay below 2^53).
   */
  async append3x3(
    values: Values,
    from: number,
    count: number,
    firstId: number,
    layerId: number,
    modelId: number,
  ) {
    if (!this.app3) this.app3 = await this.con.createAppender('filters');
    const { cols, ids, layerIds, modelIds } = this;
    const c0 = cols[0];
    const c1 = cols[1];
    const c2 = cols[2];
    const c3 = cols[3];
    const c4 = cols[4];
    const c5 = cols[5];
    const c6 = cols[6];
    const c7 = cols[7];
    const c8 = cols[8];
    let i = 0;
    while (i < count) {
      const take = Math.min(count - i, CHUNK_ROWS - this.fill);
      let row = this.fill;
      let src = (from + i) * 9;
      let id = firstId + i;
      for (let r = 0; r < take; r++, row++, src += 9, id++) {
        c0[row] = values[src];
        c1[row] = values[src + 1];
        c2[row] = values[src + 2];
        c3[row] = values[src + 3];
        c4[row] = values[src + 4];
        c5[row] = values[src + 5];
        c6[row] = values[src + 6];
        c7[row] = values[src + 7];
        c8[row] = values[src + 8];
        ids[row * 2] = id % 0x100000000;
        ids[row * 2 + 1] = Math.floor(id / 0x100000000);
      }
      layerIds.fill(layerId, this.fill, this.fill + take);
      modelIds.fill(modelId, this.fill, this.fill + take);
      this.fill += take;
      i += take;
      if (this.fill === CHUNK_ROWS) this.flush3();
    }
    this.rows += count;
  }

  private flush3(): void {
    const n = this.fill;
    if (n === 0 || !this.app3) return;
    const raw = this.chunk3.chunk;
    duckdb.data_chunk_reset(raw);
    duckdb.data_chunk_set_size(raw, n);
    copy(raw, 0, this.ids, n * 8);
    copy(raw, 1, this.layerIds, n * 4);
    copy(raw, 2, this.modelIds, n * 4);
    for (let k = 0; k < 9; k++) copy(raw, 3 + k, this.cols[k], n * 4);
    this.app3.appendDataChunk(this.chunk3);
    this.fill = 0;
  }

  /** Appends `count` filters of a kh x kw kernel (any 2-D size) to `filters_other`. */
  async appendOther(
    values: Values,
    from: number,
    count: number,
    kh: number,
    kw: number,
    firstId: number,
    layerId: number,
    modelId: number,
  ) {
    if (!this.appOther) {
      this.appOther = await this.con.createAppender('filters_other');
      this.chunkOther = DuckDBDataChunk.create([BIGINT, INTEGER, INTEGER, SMALLINT, SMALLINT, LIST(FLOAT)]);
    }
    const k = kh * kw;
    for (let i = 0; i < count; i++) {
      const row = this.otherFill;
      const id = firstId + i;
      this.otherIds[row * 2] = id % 0x100000000;
      this.otherIds[row * 2 + 1] = Math.floor(id / 0x100000000);
      this.otherLayer[row] = layerId;
      this.otherModel[row] = modelId;
      this.otherKh[row] = kh;
      this.otherKw[row] = kw;
      // duckdb_list_entry { uint64 offset; uint64 length }
      const offset = this.otherValues.length;
      this.otherEntries[row * 4] = offset % 0x100000000;
      this.otherEntries[row * 4 + 1] = Math.floor(offset / 0x100000000);
      this.otherEntries[row * 4 + 2] = k;
      this.otherEntries[row * 4 + 3] = 0;
      const src = (from + i) * k;
      for (let j = 0; j < k; j++) this.otherValues.push(values[src + j]);
      this.otherFill++;
      if (this.otherFill === CHUNK_ROWS) this.flushOther();
    }
    this.rows += count;
  }

  private flushOther(): void {
    const n = this.otherFill;
    if (n === 0 || !this.appOther || !this.chunkOther) return;
    const raw = this.chunkOther.chunk;
    duckdb.data_chunk_reset(raw);
    duckdb.data_chunk_set_size(raw, n);
    copy(raw, 0, this.otherIds, n * 8);
    copy(raw, 1, this.otherLayer, n * 4);
    copy(raw, 2, this.otherModel, n * 4);
    copy(raw, 3, this.otherKh, n * 2);
    copy(raw, 4, this.otherKw, n * 2);
    const list = duckdb.data_chunk_get_vector(raw, 5);
    const total = this.otherValues.length;
    duckdb.list_vector_reserve(list, total);
    const child = duckdb.list_vector_get_child(list);
    const values = Float32Array.from(this.otherValues);
    duckdb.copy_data_to_vector(child, 0, values.buffer, 0, total * 4);
    duckdb.list_vector_set_size(list, total);
    duckdb.copy_data_to_vector(list, 0, this.otherEntries.buffer, 0, n * 16);
    this.appOther.appendDataChunk(this.chunkOther);
    this.otherFill = 0;
    this.otherValues = [];
  }

  /** Flushes buffered rows and closes the appenders (call before COMMIT). */
  close(): void {
    this.flush3();
    this.flushOther();
    this.app3?.closeSync();
    this.appOther?.closeSync();
    this.app3 = null;
    this.appOther = null;
  }

  /** Drops buffered rows and closes the appenders without flushing (before ROLLBACK). */
  abort(): void {
    this.fill = 0;
    this.otherFill = 0;
    this.otherValues = [];
    for (const app of [this.app3, this.appOther]) {
      if (!app) continue;
      try {
        app.clear();
        app.closeSync();
      } catch {
        // the transaction is rolled back anyway
      }
    }
    this.app3 = null;
    this.appOther = null;
  }
}

function copy(chunk: duckdb.DataChunk, column: number, data: ArrayBufferView, bytes: number): void {
  duckdb.copy_data_to_vector(
    duckdb.data_chunk_get_vector(chunk, column),
    0,
    data.buffer as ArrayBuffer,
    data.byteOffset,
    bytes,
  );
}
