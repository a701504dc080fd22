/** Node-only: the SQL passes (sql-passes.ts) run by the embedded DuckDB store itself. */
import type { FilterDb } from '../store/db.js';
import { queryRows } from '../store/db.js';
import { DUCKDB } from './sql-passes.js';
import type { SqlEngine } from './sql-shift.js';

/** An SqlEngine over an open database (closing the engine leaves the database open). */
export function duckdbEngine(db: FilterDb): SqlEngine {
  return {
    dialect: DUCKDB,
    filtersTable: 'filters',
    query: (sql) => queryRows(db.connection, sql),
    readFilters: async (sql) => {
      const rows = (await db.connection.runAndReadAll(sql)).getRows();
      const out = new Float32Array(rows.length * 9);
      rows.forEach((r, i) => {
        for (let j = 0; j < 9; j++) out[i * 9 + j] = Number(r[j]);
      });
      return out;
    },
    close: async () => {},
  };
}
