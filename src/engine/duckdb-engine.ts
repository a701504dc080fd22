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
    close: async () => {},
  };
}
