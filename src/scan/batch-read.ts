/**
 * Node-only: reads the `filters` table in filter_id batches, synchronously in the calling thread.
 *
 * Each batch is one query `… WHERE filter_id >= lo AND filter_id < hi` whose tasks this thread executes
 * itself (`pending_execute_task`, DuckDB instance on 1 thread), materialized, then read chunk by chunk
 * (`result_get_chunk`, synchronous). One async hand-off per batch instead of one per 2048-row chunk: the
 * streaming `fetch_chunk` path costs a libuv thread round trip per chunk, and with two scanning workers the
 * four busy threads (two JS, two libuv) on two cores barely beat one worker.
 *
 * Measured (10 M synthetic 3x3 filters, 2 cores, layer_id + w0..w8, no kernels): streaming 0.40–0.60 s on
 * one thread, 0.41–0.50 s wall in two workers; batched 0.53 s on one thread, 0.26–0.30 s wall in two
 * workers (122,880-row batches; 61,440: 0.30 s; 245,760: same speed, +90 MB RSS). DuckDB's own scan
 * (`SELECT sum(w0), …`) takes 0.21 s of that; `result_get_chunk` ~40 µs a chunk.
 */
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import duckdb from '@duckdb/node-bindings';

/** DuckDB's default row group size: batches end on multiples of it (filter_ids usually follow row order). */
export const ROW_GROUP = 122_880;

/** End of the batch that starts at `lo` (the next row-group boundary, at most `hi`). */
export function batchEnd(lo: number, hi: number): number {
  return Math.min(hi, (Math.floor(lo / ROW_GROUP) + 1) * ROW_GROUP);
}

let collect: (() => void) | null = null;

/**
 * A minor garbage collection. DuckDB's results and chunks are freed by finalizers, and V8 does not see
 * their native memory, so without collections the materialized batches pile up (100 M filters, two workers:
 * 648 MB RSS and 5.3 s to read; with a minor collection after every batch 340 MB and 3.0 s).
 */
function collectGarbage(): void {
  if (!collect) {
    v8.setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as (o: { type: 'minor' }) => void;
    collect = () => gc({ type: 'minor' });
  }
  collect();
}

/** Column vectors of one chunk: raw bytes, 4 per value. */
export type ChunkSink = (size: number, columns: Uint8Array[]) => void;

export class BatchReader {
  private prep: duckdb.PreparedStatement | null = null;

  constructor(
    private readonly con: duckdb.Connection,
    /** 4-byte columns of `table` (FLOAT / INTEGER). */
    private readonly columns: string[],
    private readonly table: 'filters' | 'filters_other' = 'filters',
  ) {}

  private async prepared(): Promise<duckdb.PreparedStatement> {
    this.prep ??= await duckdb.prepare(
      this.con,
      `SELECT ${this.columns.join(', ')} FROM ${this.table} WHERE filter_id >= $1 AND filter_id < $2`,
    );
    return this.prep;
  }

  /** Reads the rows with filter_id in [lo, hi), in row order, into `sink` chunk by chunk; returns the rows. */
  async read(lo: number, hi: number, sink: ChunkSink): Promise<number> {
    const prep = await this.prepared();
    duckdb.bind_int64(prep, 1, BigInt(lo));
    duckdb.bind_int64(prep, 2, BigInt(hi));
    const pending = duckdb.pending_prepared(prep);
    for (;;) {
      const state = duckdb.pending_execute_task(pending);
      if (state === duckdb.PendingState.RESULT_READY) break;
      if (state === duckdb.PendingState.ERROR) throw new Error(duckdb.pending_error(pending));
    }
    const res = await duckdb.execute_pending(pending);
    const chunks = duckdb.result_chunk_count(res);
    const n = this.columns.length;
    const cols: Uint8Array[] = new Array(n);
    let rows = 0;
    for (let c = 0; c < chunks; c++) {
      const chunk = duckdb.result_get_chunk(res, c);
      const size = duckdb.data_chunk_get_size(chunk);
      if (size === 0) continue;
      for (let j = 0; j < n; j++)
        cols[j] = duckdb.vector_get_data(duckdb.data_chunk_get_vector(chunk, j), size * 4);
      sink(size, cols);
      rows += size;
    }
    collectGarbage();
    return rows;
  }

  close(): void {
    if (this.prep) duckdb.destroy_prepare_sync(this.prep);
    this.prep = null;
  }
}
