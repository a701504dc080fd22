/**
 * Node-only: a ClickHouse server or cluster as the engine of the shift passes (sql-passes.ts), through the
 * official @clickhouse/client over HTTP. Works with ClickHouse 18.16 (Debian bookworm's package) and later:
 * results are read as JSONEachRow (the one JSON row format 18.16 has), filters are written as RowBinary.
 *
 * Tables (prefix = the filters table's name, `filters` by default): `<prefix>` (filter_id, layer_id, model_id,
 * w0..w8 Float32) — a MergeTree, or with a cluster a Distributed table over `<prefix>_local` MergeTrees on
 * every shard —, and `<prefix>_layers`, `<prefix>_models`, `<prefix>_model_meta` (small: copied to every
 * node) and `<prefix>_export` (models exported so far: what makes an export resumable per model).
 */
import { createClient } from '@clickhouse/client';
import { FilterDbError } from '../errors.js';
import { CLICKHOUSE } from './sql-passes.js';
import type { SqlEngine } from './sql-shift.js';

export interface ClickHouseTarget {
  /** HTTP(S) base URL of the node queried (no credentials). */
  url: string;
  database: string;
  /** Filters table (prefix of the others). */
  table: string;
  username?: string;
  password?: string;
}

type Client = ReturnType<typeof createClient>;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function checkName(what: string, name: string): string {
  if (!NAME.test(name))
    throw new FilterDbError('unsupported', name, `is not a plain ${what} name ([A-Za-z_][A-Za-z0-9_]*)`);
  return name;
}

/**
 * Parses `clickhouse://host:port/db?table=filters` (or http(s)://host:port[/db]): the HTTP URL, database and
 * table. Credentials in the URL are taken out of it (they never appear in messages); explicit ones win.
 */
export function parseClickHouseUrl(
  spec: string,
  options: { table?: string; user?: string; password?: string } = {},
): ClickHouseTarget {
  let u: URL;
  try {
    u = new URL(spec);
  } catch {
    throw new FilterDbError(
      'unsupported',
      redact(spec),
      'is not a ClickHouse URL (clickhouse://host:8123/db)',
    );
  }
  const scheme = u.protocol.replace(/:$/, '');
  if (!['clickhouse', 'http', 'https'].includes(scheme))
    throw new FilterDbError(
      'unsupported',
      redact(spec),
      'is not a ClickHouse URL (clickhouse://host:8123/db)',
    );
  const database = decodeURIComponent(u.pathname.replace(/^\/+|\/+$/g, '')) || 'default';
  const table = options.table ?? u.searchParams.get('table') ?? 'filters';
  const username = options.user ?? (u.username ? decodeURIComponent(u.username) : undefined);
  const password =
    options.password ??
    (u.password ? decodeURIComponent(u.password) : undefined) ??
    process.env.FILTERDB_CLICKHOUSE_PASSWORD;
  const http = `${scheme === 'https' ? 'https' : 'http'}://${u.hostname.includes(':') ? `[${u.hostname}]` : u.hostname}:${u.port || (scheme === 'https' ? 8443 : 8123)}`;
  return {
    url: http,
    database: checkName('database', database),
    table: checkName('table', table),
    username,
    password,
  };
}

/** A URL with any user:password@ removed, for messages. */
export function redact(spec: string): string {
  return spec.replace(/\/\/[^/@]*@/, '//');
}

export function clickhouseClient(t: ClickHouseTarget): Client {
  return createClient({
    url: t.url,
    username: t.username ?? 'default',
    password: t.password ?? '',
    request_timeout: 3_600_000,
    // the client's own logging would print request parameters; errors are reported by the caller
    log: { level: 127 },
  });
}

/** Settings of every query: long generated SQL (the layer → group map) and 64-bit integers as numbers. */
const QUERY_SETTINGS = { max_query_size: '268435456', output_format_json_quote_64bit_integers: 0 } as const;

export async function chRows(client: Client, sql: string, where: string): Promise<Record<string, unknown>[]> {
  try {
    const r = await client.query({ query: sql, format: 'JSONEachRow', clickhouse_settings: QUERY_SETTINGS });
    return (await r.json()) as Record<string, unknown>[];
  } catch (e) {
    throw chError(where, e);
  }
}

export async function chCommand(client: Client, sql: string, where: string): Promise<void> {
  try {
    await client.command({ query: sql, clickhouse_settings: QUERY_SETTINGS });
  } catch (e) {
    throw chError(where, e);
  }
}

/** A ClickHouse or connection error as a FilterDbError naming the server (never its credentials). */
export function chError(where: string, e: unknown): FilterDbError {
  if (e instanceof FilterDbError) return e;
  const msg = (e instanceof Error ? e.message : String(e)).split('\n')[0].replace(/, e\.what\(\) = .*$/, '');
  return new FilterDbError('unsupported', where, `ClickHouse: ${msg}`);
}

/** The shift passes run by a ClickHouse node over `<table>` (a MergeTree or a Distributed table). */
export function clickhouseEngine(t: ClickHouseTarget): SqlEngine & { client: Client } {
  const client = clickhouseClient(t);
  const where = `${t.url}/${t.database}`;
  return {
    client,
    dialect: CLICKHOUSE,
    filtersTable: `${t.database}.${t.table}`,
    query: (sql) => chRows(client, sql, where),
    readFilters: async (sql) => {
      // RowBinary: the float32 bits as stored (no decimal round trip)
      try {
        const r = await client.exec({
          query: `${sql} FORMAT RowBinary`,
          clickhouse_settings: QUERY_SETTINGS,
        });
        const parts: Buffer[] = [];
        for await (const b of r.stream) parts.push(b as Buffer);
        const buf = Buffer.concat(parts);
        if (buf.length % 36 !== 0)
          throw new Error(`RowBinary of ${buf.length} bytes is not rows of 9 Float32`);
        const out = new Float32Array(buf.length / 4);
        for (let i = 0; i < out.length; i++) out[i] = buf.readFloatLE(i * 4);
        return out;
      } catch (e) {
        throw chError(where, e);
      }
    },
    close: () => client.close(),
  };
}
