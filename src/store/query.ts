/** Node-only: running user SQL against a filter database, streaming the rows in chunks. */
import type { DuckDBConnection } from '@duckdb/node-api';
import { plain } from './db.js';

export interface QueryStream {
  columns: string[];
  /** Batches of rows (one DuckDB chunk each, up to 2048 rows), values made JSON-friendly. */
  batches(): AsyncIterableIterator<unknown[][]>;
}

/** Starts a (streaming) query; the last statement's rows are returned when several are given. */
export async function streamQuery(con: DuckDBConnection, sql: string): Promise<QueryStream> {
  const result = await con.stream(sql);
  const columns = result.deduplicatedColumnNames();
  return {
    columns,
    async *batches() {
      for await (const rows of result.yieldRowsJs()) yield rows.map((r) => r.map(plain));
    },
  };
}
