/** Node-only: named PCA bases (and their coefficient ranges) stored in the database's `bases` table. */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { PcaBasis } from '../analysis/pca.js';
import { literal, queryRows } from '../store/db.js';
import { SelectionError } from './selection.js';

export interface StoredBasis {
  name: string;
  where: string | null;
  basis: PcaBasis;
  range: [number, number] | null;
  created: string;
}

const BASES_DDL = `CREATE TABLE IF NOT EXISTS bases (
  name VARCHAR PRIMARY KEY,
  "where" VARCHAR,
  count BIGINT,
  dims INTEGER,
  mean DOUBLE[],
  components DOUBLE[],
  explained_variance DOUBLE[],
  explained_variance_ratio DOUBLE[],
  range_lo DOUBLE,
  range_hi DOUBLE,
  created TIMESTAMP
)`;

function doubles(v: number[]): string {
  return `[${v.map((x) => (Number.isFinite(x) ? x.toExponential(16) : 'NULL')).join(', ')}]::DOUBLE[]`;
}

/** Stores (or replaces) a named basis; the database must be open for writing. */
export async function saveBasis(con: DuckDBConnection, stored: Omit<StoredBasis, 'created'>): Promise<void> {
  const b = stored.basis;
  await con.run(BASES_DDL);
  await con.run(`DELETE FROM bases WHERE name = ${literal(stored.name)}`);
  await con.run(
    `INSERT INTO bases VALUES (${literal(stored.name)}, ${stored.where === null ? 'NULL' : literal(stored.where)},
      ${b.count}, ${b.dims}, ${doubles(b.mean)}, ${doubles(b.components.flat())}, ${doubles(b.explainedVariance)},
      ${doubles(b.explainedVarianceRatio)}, ${stored.range ? stored.range[0].toExponential(16) : 'NULL'},
      ${stored.range ? stored.range[1].toExponential(16) : 'NULL'}, now()::TIMESTAMP)`,
  );
}

/** Reads a named basis; a missing one is a usage error naming the stored ones. */
export async function loadBasis(con: DuckDBConnection, name: string): Promise<StoredBasis> {
  const exists = await queryRows(
    con,
    "SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = 'main' AND table_name = 'bases'",
  );
  const rows =
    Number(exists[0].n) > 0
      ? await queryRows(
          con,
          `SELECT *, CAST(created AS VARCHAR) AS created_s FROM bases WHERE name = ${literal(name)}`,
        )
      : [];
  if (rows.length === 0) {
    const names =
      Number(exists[0].n) > 0
        ? (await queryRows(con, 'SELECT name FROM bases ORDER BY name')).map((r) => r.name)
        : [];
    throw new SelectionError(
      `no stored basis named ${JSON.stringify(name)} (${names.length ? `stored: ${names.join(', ')}` : 'none stored; save one with `filterdb pca --save NAME`'})`,
    );
  }
  const r = rows[0];
  const dims = Number(r.dims);
  const flat = (r.components as number[]).map(Number);
  const basis: PcaBasis = {
    dims,
    count: Number(r.count),
    mean: (r.mean as number[]).map(Number),
    components: Array.from({ length: dims }, (_, i) => flat.slice(i * dims, (i + 1) * dims)),
    explainedVariance: (r.explained_variance as number[]).map(Number),
    explainedVarianceRatio: (r.explained_variance_ratio as number[]).map(Number),
  };
  const lo = r.range_lo;
  const hi = r.range_hi;
  return {
    name,
    where: (r.where as string | null) ?? null,
    basis,
    range: typeof lo === 'number' && typeof hi === 'number' ? [lo, hi] : null,
    created: String(r.created_s),
  };
}
