/**
 * Node-only: Parquet export. One file per table (`models`, `model_meta`, `model_info`, `layers`,
 * `filters_other`), and `filters/part-NNNNN.parquet` by filter_id ranges so that each file stays < 1 GB
 * (16 M rows per part: at most 16 M x 48 B = 768 MB even uncompressed; ~600 MB with ZSTD in practice).
 */
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { FilterDbError, mkdirErrorText } from '../errors.js';
import { literal, queryValue } from './db.js';

export const FILTER_ROWS_PER_PART = 16_000_000;

export interface ExportedFile {
  table: string;
  path: string;
  rows: number;
  bytes: number;
}

export interface ExportOptions {
  rowsPerPart?: number;
  onFile?: (f: ExportedFile, done: number, total: number) => void;
}

const TABLES = ['models', 'model_meta', 'model_info', 'layers', 'filters_other'];

/** Writes the database into `dir` as Parquet (ZSTD). Existing files of earlier exports are replaced. */
export async function exportParquet(
  con: DuckDBConnection,
  dir: string,
  options: ExportOptions = {},
): Promise<ExportedFile[]> {
  const rowsPerPart = options.rowsPerPart ?? FILTER_ROWS_PER_PART;
  const out = resolve(dir);
  try {
    await mkdir(join(out, 'filters'), { recursive: true });
    for (const f of await readdir(join(out, 'filters'))) {
      if (/^part-\d+\.parquet$/.test(f)) await rm(join(out, 'filters', f));
    }
  } catch (e) {
    throw new FilterDbError('missing-file', dir, `cannot write the export folder: ${mkdirErrorText(e)}`);
  }
  const bounds = (
    await con.runAndReadAll('SELECT min(filter_id), max(filter_id) FROM filters')
  ).getRowsJS()[0];
  const parts: [number, number][] = [];
  if (bounds[0] !== null) {
    const lo = Number(bounds[0]);
    const hi = Number(bounds[1]);
    for (let a = lo; a <= hi; a += rowsPerPart) parts.push([a, Math.min(hi, a + rowsPerPart - 1)]);
  }
  const total = TABLES.length + parts.length;
  const files: ExportedFile[] = [];
  const write = async (table: string, query: string, path: string) => {
    await con.run(`COPY (${query}) TO ${literal(path)} (FORMAT parquet, COMPRESSION zstd)`);
    const rows = Number(await queryValue(con, `SELECT count(*) FROM read_parquet(${literal(path)})`));
    const f = { table, path, rows, bytes: (await stat(path)).size };
    files.push(f);
    options.onFile?.(f, files.length, total);
  };
  for (const t of TABLES) {
    const order =
      t === 'model_meta'
        ? 'model_id, key'
        : t === 'layers'
          ? 'layer_id'
          : t === 'filters_other'
            ? 'filter_id'
            : 'model_id';
    await write(t, `SELECT * FROM ${t} ORDER BY ${order}`, join(out, `${t}.parquet`));
  }
  let n = 0;
  for (const [a, b] of parts) {
    const path = join(out, 'filters', `part-${String(n++).padStart(5, '0')}.parquet`);
    await write('filters', `SELECT * FROM filters WHERE filter_id BETWEEN ${a} AND ${b}`, path);
  }
  return files;
}
