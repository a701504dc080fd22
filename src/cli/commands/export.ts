/**
 * `filterdb export --db zoo.duckdb --parquet DIR`: one Parquet file per table, filters in < 1 GB parts;
 * `filterdb export --db zoo.duckdb --clickhouse URL[,URL…] [--cluster NAME] [--table filters]`: into ClickHouse.
 */
import type { Command } from 'commander';
import { mapDuckDbError, openDb } from '../../store/db.js';
import { exportParquet } from '../../store/export.js';
import { UsageError, writeOut } from '../context.js';
import { progressBar } from '../progress.js';

interface ExportCliOptions {
  db: string;
  parquet?: string;
  clickhouse?: string;
  table: string;
  cluster?: string;
  user?: string;
  password?: string;
  json?: boolean;
}

export function registerExport(program: Command): void {
  program
    .command('export')
    .description(
      'export a filter database as Parquet (readable by pandas, polars, DuckDB) or into ClickHouse (for shift --engine)',
    )
    .requiredOption('--db <file>', 'DuckDB database file')
    .option('--parquet <dir>', 'output folder (created; earlier filter parts in it are replaced)')
    .option(
      '--clickhouse <url>',
      'ClickHouse node(s) http://host:8123/db, comma-separated: with --cluster, every shard (tables are created on each)',
    )
    .option('--table <name>', 'ClickHouse filters table (prefix of the layers/models/meta tables)', 'filters')
    .option('--cluster <name>', 'remote_servers cluster: MergeTree shards behind a Distributed table')
    .option('--user <name>', 'ClickHouse user (default: default)')
    .option('--password <pw>', 'ClickHouse password (better: FILTERDB_CLICKHOUSE_PASSWORD)')
    .option('--json', 'list the written files (or the export summary) as JSON on stdout')
    .action(async (opts: ExportCliOptions) => {
      if ((opts.parquet === undefined) === (opts.clickhouse === undefined))
        throw new UsageError('export needs one of --parquet <dir> or --clickhouse <url>');
      if (opts.clickhouse !== undefined) return exportClickHouse(opts);
      const parquet = opts.parquet!;
      const db = await openDb(opts.db, { readOnly: true });
      let bar: ReturnType<typeof progressBar> | null = null;
      try {
        const files = await exportParquet(db.connection, parquet, {
          onFile(_f, done, total) {
            bar ??= progressBar('export', total);
            bar.update(done, total);
          },
        }).catch((e) => {
          throw mapDuckDbError(opts.db, e);
        });
        (bar as ReturnType<typeof progressBar> | null)?.stop();
        if (opts.json) await writeOut(JSON.stringify(files, null, 2) + '\n');
        else {
          const lines = files.map((f) => `${f.path}  ${f.rows} rows  ${(f.bytes / 1e6).toFixed(1)} MB`);
          await writeOut(lines.join('\n') + '\n');
        }
      } finally {
        db.close();
      }
    });
}

async function exportClickHouse(opts: ExportCliOptions): Promise<void> {
  const { parseClickHouseUrl } = await import('../../engine/clickhouse.js');
  const { exportToClickHouse } = await import('../../engine/clickhouse-export.js');
  const nodes = opts
    .clickhouse!.split(',')
    .map((u) =>
      parseClickHouseUrl(u.trim(), { table: opts.table, user: opts.user, password: opts.password }),
    );
  if (nodes.length > 1 && !opts.cluster)
    throw new UsageError('several --clickhouse nodes are the shards of a --cluster: name it');
  const db = await openDb(opts.db, { readOnly: true });
  let bar: ReturnType<typeof progressBar> | null = null;
  try {
    const r = await exportToClickHouse(db, {
      nodes,
      cluster: opts.cluster,
      onProgress(done, total) {
        bar ??= progressBar('export', total);
        bar.update(done, total);
      },
    });
    (bar as ReturnType<typeof progressBar> | null)?.stop();
    if (opts.json) await writeOut(`${JSON.stringify(r)}\n`);
    else
      await writeOut(
        `${r.filters.toLocaleString('en-US')} filters of ${r.models + r.skipped} models in ${nodes[0].database}.${nodes[0].table} (${r.skipped} models already there) in ${r.seconds.toFixed(1)} s\n`,
      );
  } finally {
    db.close();
  }
}
