/**
 * Node-only: `filterdb export --clickhouse`: a filter database's layers, models, metadata and 3x3 filters
 * into ClickHouse (tables in clickhouse.ts). Filters go model by model as RowBinary (float32 bits exact:
 * 18.16's text parser mis-rounds ~3 % of float32 values given as decimals), each model recorded in
 * `<prefix>_export` once all its rows are in; a rerun skips recorded models (same content hash) and first
 * deletes the rows of a model it finds half-written.
 */
import { Readable } from 'node:stream';
import type { FilterDb } from '../store/db.js';
import { ident, queryRows } from '../store/db.js';
import {
  type ClickHouseTarget,
  chCommand,
  chError,
  checkName,
  chRows,
  clickhouseClient,
} from './clickhouse.js';

const METADATA_TABLES = ['layers', 'models', 'model_meta'] as const;

/** ClickHouse column type of a DuckDB column and the DuckDB expression that feeds it; null: not exported. */
function columnMapping(duckType: string, col: string): { type: string; select: string } | null {
  const q = ident(col);
  const scalar: Record<string, string> = {
    INTEGER: 'Int32',
    BIGINT: 'Int64',
    SMALLINT: 'Int16',
    DOUBLE: 'Float64',
    FLOAT: 'Float32',
    VARCHAR: 'String',
  };
  if (scalar[duckType]) return { type: `Nullable(${scalar[duckType]})`, select: q };
  if (duckType === 'BOOLEAN') return { type: 'Nullable(UInt8)', select: `CAST(${q} AS INTEGER)` };
  if (duckType.startsWith('TIMESTAMP')) return { type: 'Nullable(String)', select: `CAST(${q} AS VARCHAR)` };
  if (duckType.startsWith('MAP('))
    return { type: 'Nullable(String)', select: `CAST(to_json(${q}) AS VARCHAR)` };
  const array = /^(\w+)\[\]$/.exec(duckType);
  if (array && scalar[array[1]]) return { type: `Array(${scalar[array[1]]})`, select: `coalesce(${q}, [])` };
  return null;
}

export interface ClickHouseExportOptions {
  /** Cluster name of `remote_servers`: filters go to `<table>_local` MergeTrees behind a Distributed table. */
  cluster?: string;
  /** Every node's HTTP URL (the cluster's shards): tables are created on each; the first takes the inserts. */
  nodes: ClickHouseTarget[];
  /** Filters per RowBinary insert. */
  batchRows?: number;
  /** Create the tables and write layers, models and metadata only (filters written otherwise: benches). */
  metadataOnly?: boolean;
  onProgress?: (filters: number, total: number) => void;
}

export interface ClickHouseExportResult {
  models: number;
  skipped: number;
  filters: number;
  seconds: number;
}

const ROW_BYTES = 8 + 4 + 4 + 9 * 4;

/** Exports `db` (open read-only) into ClickHouse. */
export async function exportToClickHouse(
  db: FilterDb,
  options: ClickHouseExportOptions,
): Promise<ClickHouseExportResult> {
  const t0 = performance.now();
  const con = db.connection;
  const [main] = options.nodes;
  const { database, table } = main;
  const cluster = options.cluster ? checkName('cluster', options.cluster) : null;
  const clients = options.nodes.map((n) => ({
    client: clickhouseClient(n),
    where: `${n.url}/${n.database}`,
  }));
  const first = clients[0];
  const batchRows = options.batchRows ?? 262_144;
  try {
    const local = cluster ? `${table}_local` : table;
    const filterCols = `filter_id Int64, layer_id Int32, model_id Int32, ${Array.from({ length: 9 }, (_, j) => `w${j} Float32`).join(', ')}`;
    for (const { client, where } of clients) {
      await chCommand(client, `CREATE DATABASE IF NOT EXISTS ${database}`, where);
      await chCommand(
        client,
        `CREATE TABLE IF NOT EXISTS ${database}.${local} (${filterCols}) ENGINE = MergeTree() ORDER BY filter_id`,
        where,
      );
      if (cluster)
        await chCommand(
          client,
          `CREATE TABLE IF NOT EXISTS ${database}.${table} (${filterCols}) ENGINE = Distributed(${cluster}, ${database}, ${local}, intHash64(filter_id))`,
          where,
        );
      await chCommand(
        client,
        `CREATE TABLE IF NOT EXISTS ${database}.${table}_export (model_id Int32, content_hash String, filters Int64) ENGINE = MergeTree() ORDER BY model_id`,
        where,
      );
    }
    // metadata: small, rewritten whole on every node at every run
    for (const name of METADATA_TABLES) {
      const cols = await queryRows(
        con,
        `SELECT column_name, data_type FROM information_schema.columns WHERE table_name = '${name}' AND table_schema = 'main' ORDER BY ordinal_position`,
      );
      const mapped = cols
        .map((c) => ({
          name: String(c.column_name),
          m: columnMapping(String(c.data_type), String(c.column_name)),
        }))
        .filter((c): c is { name: string; m: { type: string; select: string } } => c.m !== null);
      const rows = await queryRows(
        con,
        `SELECT ${mapped.map((c) => `${c.m.select} AS ${ident(c.name)}`).join(', ')} FROM ${name}`,
      );
      for (const { client, where } of clients) {
        await chCommand(client, `DROP TABLE IF EXISTS ${database}.${table}_${name}`, where);
        await chCommand(
          client,
          `CREATE TABLE ${database}.${table}_${name} (${mapped.map((c) => `\`${c.name}\` ${c.m.type}`).join(', ')}) ENGINE = MergeTree() ORDER BY tuple()`,
          where,
        );
        if (rows.length)
          await client
            .insert({ table: `${database}.${table}_${name}`, values: rows, format: 'JSONEachRow' })
            .catch((e) => {
              throw chError(where, e);
            });
      }
    }
    if (options.metadataOnly)
      return { models: 0, skipped: 0, filters: 0, seconds: (performance.now() - t0) / 1000 };
    // filters, model by model
    const models = await queryRows(
      con,
      `SELECT m.model_id, m.content_hash, min(l.first_filter_id) AS lo, max(l.first_filter_id + l.filter_count) AS hi,
              sum(l.filter_count) AS n
       FROM models m JOIN layers l ON l.model_id = m.model_id
       WHERE l.filter_table = 'filters' AND l.filter_count > 0
       GROUP BY m.model_id, m.content_hash ORDER BY m.model_id`,
    );
    const total = models.reduce((s, m) => s + Number(m.n), 0);
    const done = new Map(
      (
        await chRows(
          first.client,
          `SELECT model_id, any(content_hash) AS h FROM ${database}.${table}_export GROUP BY model_id`,
          first.where,
        )
      ).map((r) => [Number(r.model_id), String(r.h)]),
    );
    const present = new Map(
      (
        await chRows(
          first.client,
          `SELECT model_id, count() AS n FROM ${database}.${table} GROUP BY model_id`,
          first.where,
        )
      ).map((r) => [Number(r.model_id), Number(r.n)]),
    );
    let written = 0;
    let skipped = 0;
    let exported = 0;
    for (const m of models) {
      const id = Number(m.model_id);
      const n = Number(m.n);
      if (done.get(id) === String(m.content_hash) && present.get(id) === n) {
        skipped++;
        written += n;
        options.onProgress?.(written, total);
        continue;
      }
      if ((present.get(id) ?? 0) > 0) await deleteModel(clients, `${database}.${local}`, id);
      await chCommand(
        first.client,
        `ALTER TABLE ${database}.${table}_export DELETE WHERE model_id = ${id}`,
        first.where,
      );
      for (let lo = Number(m.lo); lo < Number(m.hi); lo += batchRows) {
        const hi = Math.min(Number(m.hi), lo + batchRows);
        const buf = await rowBinary(db, id, lo, hi);
        if (buf.length === 0) continue;
        try {
          const r = await first.client.exec({
            query: `INSERT INTO ${database}.${table} FORMAT RowBinary`,
            values: Readable.from([buf]),
            clickhouse_settings: cluster ? { insert_distributed_sync: 1 } : {},
          });
          r.stream.resume();
          await new Promise<void>((resolve, reject) => {
            r.stream.once('end', () => resolve());
            r.stream.once('error', reject);
          });
        } catch (e) {
          throw chError(first.where, e);
        }
        written += buf.length / ROW_BYTES;
        options.onProgress?.(written, total);
      }
      await first.client
        .insert({
          table: `${database}.${table}_export`,
          values: [{ model_id: id, content_hash: String(m.content_hash), filters: n }],
          format: 'JSONEachRow',
        })
        .catch((e) => {
          throw chError(first.where, e);
        });
      exported++;
    }
    return { models: exported, skipped, filters: total, seconds: (performance.now() - t0) / 1000 };
  } finally {
    await Promise.all(clients.map((c) => c.client.close()));
  }
}

/** Deletes a half-written model's filters on every node (a mutation per shard) and waits for it. */
async function deleteModel(
  clients: { client: ReturnType<typeof clickhouseClient>; where: string }[],
  local: string,
  id: number,
): Promise<void> {
  for (const { client, where } of clients) {
    await chCommand(client, `ALTER TABLE ${local} DELETE WHERE model_id = ${id}`, where);
    const [db, name] = local.split('.');
    for (;;) {
      const [r] = await chRows(
        client,
        `SELECT count() AS n FROM system.mutations WHERE database = '${db}' AND table = '${name}' AND is_done = 0`,
        where,
      );
      if (Number(r.n) === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** Filters [lo, hi) of model `id` as RowBinary rows (filter_id, layer_id, model_id, w0..w8). */
async function rowBinary(db: FilterDb, id: number, lo: number, hi: number): Promise<Buffer> {
  const reader = await db.connection.runAndReadAll(
    `SELECT filter_id, layer_id, model_id, ${Array.from({ length: 9 }, (_, j) => `w${j}`).join(', ')}
     FROM filters WHERE filter_id >= ${lo} AND filter_id < ${hi} AND model_id = ${id} ORDER BY filter_id`,
  );
  const cols = reader.getColumnsJS() as unknown[][];
  const n = cols.length ? cols[0].length : 0;
  const buf = Buffer.alloc(n * ROW_BYTES);
  for (let r = 0, o = 0; r < n; r++, o += ROW_BYTES) {
    buf.writeBigInt64LE(BigInt(cols[0][r] as bigint | number), o);
    buf.writeInt32LE(Number(cols[1][r]), o + 8);
    buf.writeInt32LE(Number(cols[2][r]), o + 12);
    for (let j = 0; j < 9; j++) buf.writeFloatLE(Number(cols[3 + j][r]), o + 16 + 4 * j);
  }
  return buf;
}
