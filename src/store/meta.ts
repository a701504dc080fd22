/**
 * Node-only: model metadata (CSV or JSON) joined to stored models by name, kept in the long table
 * `model_meta (model_id, key, value)` and pivoted into columns by the `model_info` view.
 *
 * Join rule: a row with a non-empty `file` column matches the models whose stored file path equals it,
 * ends with "/<file>", or whose base name equals it; otherwise its `model` (or `name`) column matches
 * `models.name` (the file stem, or the folder name for generic file names). The join columns themselves
 * are not stored as metadata.
 */
import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { FilterDbError, fsErrorText } from '../errors.js';
import { queryRows } from './db.js';
import { refreshViews } from './schema.js';

export interface MetaTable {
  source: string;
  columns: string[];
  rows: Record<string, string | null>[];
}

export interface MetaReport {
  source: string;
  rows: number;
  /** Models that received metadata. */
  matchedModels: number;
  /** Meta rows that matched no stored model (by their join key). */
  rowsWithoutModel: string[];
  /** Stored models that have no metadata at all after this join. */
  modelsWithoutMeta: string[];
  /** Meta rows that matched more than one model (all of them receive the row). */
  ambiguous: { key: string; models: string[] }[];
  /** Models matched by more than one meta row (the last row wins). */
  conflicts: string[];
}

const MAX_META_BYTES = 256 << 20;

/** Reads a metadata file: `.json` (array of objects, or object keyed by model name) or CSV. */
export async function readMetaFile(path: string): Promise<MetaTable> {
  let text: string;
  try {
    const buf = await readFile(path);
    if (buf.byteLength > MAX_META_BYTES)
      throw new FilterDbError('too-large', path, 'metadata file larger than 256 MB');
    text = buf.toString('utf8').replace(/^\uFEFF/, '');
  } catch (e) {
    if (e instanceof FilterDbError) throw e;
    throw new FilterDbError('missing-file', path, `cannot read metadata: ${fsErrorText(e)}`);
  }
  const table =
    extname(path).toLowerCase() === '.json' || /^\s*[[{]/.test(text)
      ? parseMetaJson(path, text)
      : parseMetaCsv(path, text);
  const keyCol = joinColumns(table);
  if (!keyCol.model && !keyCol.file) {
    throw new FilterDbError(
      'corrupt',
      path,
      'metadata needs a "model" (or "name") column, or a "file" column, to join on',
    );
  }
  return table;
}

export function parseMetaJson(path: string, text: string): MetaTable {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new FilterDbError('corrupt', path, `invalid JSON: ${(e as Error).message}`);
  }
  let objects: Record<string, unknown>[];
  if (Array.isArray(data)) {
    objects = data as Record<string, unknown>[];
  } else if (data && typeof data === 'object') {
    objects = Object.entries(data as Record<string, unknown>).map(([k, v]) => ({
      model: k,
      ...(v as object),
    }));
  } else {
    throw new FilterDbError(
      'corrupt',
      path,
      'metadata JSON must be an array of objects or an object keyed by model name',
    );
  }
  const columns: string[] = [];
  const rows = objects.map((o, i) => {
    if (!o || typeof o !== 'object' || Array.isArray(o))
      throw new FilterDbError('corrupt', path, `entry ${i} is not an object`);
    const row: Record<string, string | null> = {};
    for (const [k, v] of Object.entries(o)) {
      if (!columns.includes(k)) columns.push(k);
      row[k] =
        v === null || v === undefined || v === ''
          ? null
          : typeof v === 'object'
            ? JSON.stringify(v)
            : String(v);
    }
    return row;
  });
  return { source: path, columns, rows };
}

/**
 * RFC 4180 CSV: header row, quoted fields with "" escapes and embedded newlines; empty cells are null. A
 * malformed file is refused with the line and column (1-based, in characters) where the problem is.
 */
export function parseMetaCsv(path: string, text: string): MetaTable {
  /** Each record's fields with where each field starts. */
  const records: { fields: string[]; at: [number, number][] }[] = [];
  let field = '';
  let record: string[] = [];
  let at: [number, number][] = [];
  let quoted = false;
  let closed = false; // a quoted field was closed: only a separator or line end may follow
  let line = 1;
  let col = 1;
  let fieldAt: [number, number] = [1, 1];
  let quoteAt: [number, number] = [1, 1];
  const fail = (l: number, c: number, what: string): never => {
    throw new FilterDbError('corrupt', path, `CSV line ${l}, column ${c}: ${what}`);
  };
  const endField = () => {
    record.push(field);
    at.push(fieldAt);
    field = '';
    closed = false;
  };
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          col += 2;
          continue;
        }
        quoted = false;
        closed = true;
      } else {
        field += c;
        if (c === '\n') {
          line++;
          col = 0;
        }
      }
      i++;
      col++;
      continue;
    }
    if (c === ',' || c === '\n' || c === '\r') {
      endField();
      if (c !== ',') {
        if (record.some((f) => f !== '') || record.length > 1) records.push({ fields: record, at });
        record = [];
        at = [];
        if (c === '\r' && text[i + 1] === '\n') i++;
        i++;
        line++;
        col = 1;
      } else {
        i++;
        col++;
      }
      fieldAt = [line, col];
      continue;
    }
    if (closed)
      fail(
        line,
        col,
        `${JSON.stringify(c)} after a closing quote (a quoted field must end at "," or the line end)`,
      );
    if (c === '"') {
      if (field !== '')
        fail(
          line,
          col,
          'a quote inside an unquoted field (quote the whole field and double the inner quote: "")',
        );
      quoted = true;
      quoteAt = [line, col];
    } else field += c;
    i++;
    col++;
  }
  if (quoted) fail(quoteAt[0], quoteAt[1], 'this quoted field is never closed');
  if (field !== '' || record.length || closed) {
    endField();
    records.push({ fields: record, at });
  }
  if (records.length === 0) throw new FilterDbError('corrupt', path, 'empty metadata CSV');
  const header = records[0];
  const columns = header.fields.map((c) => c.trim());
  const seen = new Set<string>();
  columns.forEach((c, k) => {
    if (c === '') fail(header.at[k][0], header.at[k][1], `the header's column ${k + 1} has no name`);
    if (seen.has(c)) fail(header.at[k][0], header.at[k][1], `the header repeats column ${JSON.stringify(c)}`);
    seen.add(c);
  });
  const rows = records.slice(1).map((r) => {
    if (r.fields.length > columns.length) {
      const [l, c] = r.at[columns.length];
      fail(
        l,
        c,
        `field ${columns.length + 1} is one too many: the header has ${columns.length} columns (a comma in a value needs quotes)`,
      );
    }
    const row: Record<string, string | null> = {};
    columns.forEach((c, j) => {
      const v = r.fields[j];
      row[c] = v === undefined || v === '' ? null : v;
    });
    return row;
  });
  return { source: path, columns, rows };
}

function joinColumns(table: MetaTable): { model: string | null; file: string | null } {
  const find = (...names: string[]) => table.columns.find((c) => names.includes(c.toLowerCase())) ?? null;
  return { model: find('model', 'name'), file: find('file') };
}

interface StoredModel {
  model_id: number;
  name: string;
  file: string;
}

/** Joins a metadata table to the stored models and replaces their metadata, in one transaction. */
export async function applyMeta(con: DuckDBConnection, table: MetaTable): Promise<MetaReport> {
  const cols = joinColumns(table);
  const models = (await queryRows(
    con,
    'SELECT model_id, name, file FROM models ORDER BY model_id',
  )) as unknown as StoredModel[];
  const byName = new Map<string, StoredModel[]>();
  for (const m of models) {
    const list = byName.get(m.name) ?? [];
    list.push(m);
    byName.set(m.name, list);
  }
  const report: MetaReport = {
    source: table.source,
    rows: table.rows.length,
    matchedModels: 0,
    rowsWithoutModel: [],
    modelsWithoutMeta: [],
    ambiguous: [],
    conflicts: [],
  };
  const assigned = new Map<number, Record<string, string | null>>();
  for (const row of table.rows) {
    const file = cols.file ? row[cols.file] : null;
    const name = cols.model ? row[cols.model] : null;
    let matches: StoredModel[];
    let key: string;
    if (file) {
      key = `file=${file}`;
      const norm = file.replace(/\\/g, '/');
      matches = models.filter((m) => {
        const f = m.file.replace(/\\/g, '/');
        return f === norm || f.endsWith(`/${norm.replace(/^\.\//, '')}`) || basename(f) === norm;
      });
    } else if (name) {
      key = name;
      matches = byName.get(name) ?? [];
    } else {
      continue;
    }
    if (matches.length === 0) {
      report.rowsWithoutModel.push(key);
      continue;
    }
    if (matches.length > 1) report.ambiguous.push({ key, models: matches.map((m) => m.file) });
    for (const m of matches) {
      if (assigned.has(m.model_id)) report.conflicts.push(m.name);
      assigned.set(m.model_id, row);
    }
  }
  const stored = table.columns.filter((c) => c !== cols.model && c !== cols.file);
  await con.run('BEGIN TRANSACTION');
  try {
    if (assigned.size) {
      const ids = [...assigned.keys()];
      await con.run(`DELETE FROM model_meta WHERE model_id IN (${ids.join(',')})`);
      const app = await con.createAppender('model_meta');
      for (const [id, row] of assigned) {
        for (const c of stored) {
          app.appendInteger(id);
          app.appendVarchar(c);
          const v = row[c];
          if (v === null || v === undefined) app.appendNull();
          else app.appendVarchar(v);
          app.endRow();
        }
      }
      app.closeSync();
    }
    await refreshViews(con);
    await con.run('COMMIT');
  } catch (e) {
    await con.run('ROLLBACK').catch(() => {});
    throw e;
  }
  report.matchedModels = assigned.size;
  const without = await queryRows(
    con,
    'SELECT name FROM models WHERE model_id NOT IN (SELECT DISTINCT model_id FROM model_meta) ORDER BY name',
  );
  report.modelsWithoutMeta = without.map((r) => String(r.name));
  return report;
}
