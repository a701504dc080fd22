/** `filterdb export --db zoo.duckdb --parquet DIR`: one Parquet file per table, filters in < 1 GB parts. */
import type { Command } from 'commander';
import { mapDuckDbError, openDb } from '../../store/db.js';
import { exportParquet } from '../../store/export.js';
import { writeOut } from '../context.js';
import { progressBar } from '../progress.js';

interface ExportCliOptions {
  db: string;
  parquet: string;
  json?: boolean;
}

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('export a filter database as Parquet (readable by pandas, polars, DuckDB)')
    .requiredOption('--db <file>', 'DuckDB database file')
    .requiredOption('--parquet <dir>', 'output folder (created; earlier filter parts in it are replaced)')
    .option('--json', 'list the written files as JSON on stdout')
    .action(async (opts: ExportCliOptions) => {
      const db = await openDb(opts.db, { readOnly: true });
      let bar: ReturnType<typeof progressBar> | null = null;
      try {
        const files = await exportParquet(db.connection, opts.parquet, {
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
