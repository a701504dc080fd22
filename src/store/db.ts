/**
 * Node-only: opening a filter database (an embedded DuckDB file), mapping DuckDB's errors to FilterDbError,
 * and small query helpers. One process writes at a time (DuckDB's file lock); several read-only processes
 * may read while nothing writes.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import { FilterDbError, mkdirErrorText } from '../errors.js';
import { DuckDBInstance } from './duckdb-api.js';
import { createSchema, migrateToV2, readSchemaVersion, SCHEMA_VERSION } from './schema.js';

export interface OpenOptions {
  /** Open for reading only (shared lock; fails when the file does not exist). Default false. */
  readOnly?: boolean;
  /** DuckDB memory_limit (buffer pool), default 2GB: keeps big builds well under 4 GB RSS. */
  memoryLimit?: string;
  /** DuckDB worker threads (default: DuckDB's own, one per core). */
  threads?: number;
}

export interface FilterDb {
  readonly path: string;
  readonly readOnly: boolean;
  readonly instance: DuckDBInstance;
  readonly connection: DuckDBConnection;
  close(): void;
}

/** Opens (and for writers creates/upgrades) the database at `path`. */
export async function openDb(path: string, options: OpenOptions = {}): Promise<FilterDb> {
  const readOnly = options.readOnly ?? false;
  if (readOnly && !existsSync(path)) {
    throw new FilterDbError(
      'missing-file',
      path,
      'no such database (create one with `filterdb ingest` or `import-h5`)',
    );
  }
  if (!readOnly) {
    // a new database in a folder that does not exist yet: create the folder, as `export` does
    try {
      mkdirSync(dirname(resolve(path)), { recursive: true });
    } catch (e) {
      throw new FilterDbError(
        'missing-file',
        path,
        `cannot create the database's folder: ${mkdirErrorText(e)}`,
      );
    }
  }
  const config: Record<string, string> = {
    access_mode: readOnly ? 'READ_ONLY' : 'READ_WRITE',
    memory_limit: options.memoryLimit ?? '2GB',
  };
  if (options.threads) config.threads = String(options.threads);
  let instance: DuckDBInstance;
  try {
    instance = await DuckDBInstance.create(path, config);
  } catch (e) {
    throw mapDuckDbError(path, e);
  }
  let connection: DuckDBConnection;
  try {
    connection = await instance.connect();
    const version = await readSchemaVersion(connection);
    if (version === null) {
      if (readOnly)
        throw new FilterDbError(
          'not-a-model',
          path,
          'is a DuckDB file but not a filterdb database (no schema)',
        );
      await createSchema(connection);
    } else if (version > SCHEMA_VERSION) {
      throw new FilterDbError(
        'unsupported',
        path,
        `database schema version ${version} is newer than this filterdb (${SCHEMA_VERSION}); upgrade filterdb`,
      );
    } else if (version === 1 && SCHEMA_VERSION === 2) {
      // schema 1 lacks the layer diagnostics columns: added when opened for writing; read-only readers
      // see them as absent (NULL)
      if (!readOnly) await migrateToV2(connection);
    } else if (version < SCHEMA_VERSION) {
      throw new FilterDbError(
        'unsupported',
        path,
        `database schema version ${version} is older than ${SCHEMA_VERSION}`,
      );
    }
  } catch (e) {
    instance.closeSync();
    throw mapDuckDbError(path, e);
  }
  let closed = false;
  return {
    path,
    readOnly,
    instance,
    connection,
    close() {
      if (closed) return;
      closed = true;
      connection.closeSync();
      instance.closeSync();
    },
  };
}

/**
 * Turns a DuckDB exception into a FilterDbError naming the database file. A lock conflict becomes
 * "database is locked by <program> (PID n)"; a file that is not a DuckDB database becomes `corrupt`.
 */
export function mapDuckDbError(path: string, e: unknown): Error {
  if (e instanceof FilterDbError) return e;
  const message = e instanceof Error ? e.message : String(e);
  if (/Could not set lock on file|Conflicting lock is held/i.test(message)) {
    const holder = /Conflicting lock is held in (.+?) \(PID (\d+)\)/.exec(message);
    const command = holder ? commandLine(Number(holder[2])) : null;
    const serve = command ? /\bfilterdb\b.*\bserve\b|\bmain\.js serve\b/.test(command) : false;
    const who = holder
      ? `${serve ? `filterdb serve${/--read-only\b/.test(command!) ? ' --read-only' : ''}` : holder[1]} (PID ${holder[2]})`
      : 'another process';
    let hint = 'one writer at a time, and no readers while a writer has it open';
    if (serve && /--read-only\b/.test(command!))
      hint =
        'the server only reads, so read-only commands (sql, report --db, shift, pca) work meanwhile; stop it to write';
    else if (serve)
      hint =
        'start the server with `filterdb serve --read-only` so that sql, report --db, shift and pca can read the database meanwhile';
    else hint += ' (a `filterdb serve` started with --read-only lets readers share it)';
    return new FilterDbError('locked', path, `database is locked by ${who}: ${hint}`);
  }
  if (/not a valid DuckDB database file|Cannot launch in-memory database/i.test(message)) {
    return new FilterDbError('corrupt', path, 'is not a DuckDB database file');
  }
  if (/read-only mode|Cannot execute statement of type .* in read-only/i.test(message)) {
    return new FilterDbError(
      'read-only',
      path,
      `the database is open read-only (use --write to allow changes): ${firstLine(message)}`,
    );
  }
  if (/No such file or directory|Cannot open file/i.test(message)) {
    return new FilterDbError('missing-file', path, `cannot open database: ${firstLine(message)}`);
  }
  if (e instanceof Error && /Error:/.test(message)) {
    return new FilterDbError('corrupt', path, firstLine(message));
  }
  return e instanceof Error ? e : new Error(message);
}

/** The command line of a local process (Linux /proc), or null where that cannot be read. */
function commandLine(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim() || null;
  } catch {
    return null;
  }
}

function firstLine(s: string): string {
  return s.split('\n')[0];
}

/** Runs a query and returns plain JS rows (bigints that fit become numbers). */
export async function queryRows(
  con: DuckDBConnection,
  sql: string,
  values?: DuckDBValue[],
): Promise<Record<string, unknown>[]> {
  const reader = await con.runAndReadAll(sql, values);
  return reader.getRowObjectsJS().map((row) => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(row)) out[k] = plain(v);
    return out;
  });
}

/** One scalar value (first column of the first row), or null. */
export async function queryValue(
  con: DuckDBConnection,
  sql: string,
  values?: DuckDBValue[],
): Promise<unknown> {
  const reader = await con.runAndReadAll(sql, values);
  const rows = reader.getRowsJS();
  return rows.length ? plain(rows[0][0]) : null;
}

/** Converts DuckDB's JS values into JSON-friendly ones: safe bigints -> number, others -> string. */
export function plain(v: unknown): unknown {
  if (typeof v === 'bigint') {
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(v)
      : v.toString();
  }
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map(plain);
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = plain(x);
    return out;
  }
  return v;
}

/** Quotes an SQL identifier. */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Quotes an SQL string literal. */
export function literal(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}
