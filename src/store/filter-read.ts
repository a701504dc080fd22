/** Reads a layer's stored filters back as one weight array (the layout [out, inPerGroup, kh, kw]). */
import type { DuckDBConnection } from '@duckdb/node-api';

export interface StoredFilterRange {
  layerId: number;
  table: 'filters' | 'filters_other';
  firstFilterId: number;
  count: number;
  /** Values per filter (kh·kw). */
  perFilter: number;
}

/**
 * The layer's filters in filter-id order — one row per (output, input) filter, in weight order, so their
 * concatenation is the weight (as float32: that is how filters are stored). Null when rows are missing.
 */
export async function readStoredFilters(
  con: DuckDBConnection,
  r: StoredFilterRange,
): Promise<Float64Array | null> {
  const sql =
    r.table === 'filters'
      ? 'SELECT w0, w1, w2, w3, w4, w5, w6, w7, w8 FROM filters WHERE layer_id = $1 AND filter_id >= $2 AND filter_id < $3 ORDER BY filter_id'
      : 'SELECT w FROM filters_other WHERE layer_id = $1 AND filter_id >= $2 AND filter_id < $3 ORDER BY filter_id';
  const rows = (
    await con.runAndReadAll(sql, [r.layerId, r.firstFilterId, r.firstFilterId + r.count])
  ).getRowsJS();
  const out = new Float64Array(r.count * r.perFilter);
  let k = 0;
  for (const row of rows) {
    const values = r.table === 'filters' ? row : (row[0] as number[]);
    if (k + values.length > out.length) return null;
    for (const v of values) out[k++] = Number(v);
  }
  return k === out.length ? out : null;
}
