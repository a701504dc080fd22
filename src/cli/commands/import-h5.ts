/** `filterdb import-h5 dataset.h5 --db zoo.duckdb`: import a published CNN Filter DB dataset.h5. */
import type { Command } from 'commander';
import { openDb } from '../../store/db.js';
import { importDatasetH5 } from '../../store/import-h5.js';
import { databaseCounts } from '../../store/ingest.js';
import { writeOut } from '../context.js';
import { progressBar } from '../progress.js';

interface ImportH5CliOptions {
  db: string;
  json?: boolean;
  metrics: boolean;
}

export function registerImportH5(program: Command): void {
  program
    .command('import-h5')
    .description(
      'import a CNN Filter DB dataset.h5 (/filters + pandas /meta) into a filter database, streamed',
    )
    .argument('<dataset.h5>', 'the HDF5 file')
    .requiredOption('--db <file>', 'DuckDB database file (created if missing)')
    .option('--no-metrics', 'do not compute per-layer metrics (faster)')
    .option('--json', 'print the import summary as JSON on stdout')
    .action(async (file: string, opts: ImportH5CliOptions) => {
      const db = await openDb(opts.db);
      let bar: ReturnType<typeof progressBar> | null = null;
      const t0 = performance.now();
      try {
        const summary = await importDatasetH5(db, file, {
          skipMetrics: !opts.metrics,
          onProgress(done, total) {
            bar ??= progressBar(
              'import',
              total,
              'import-h5 [{bar}] {percentage}% | {value}/{total} filters | {rate} M filters/s | {eta_formatted}',
            );
            bar.update(done, total, {
              rate: (done / 1e6 / Math.max((performance.now() - t0) / 1000, 1e-3)).toFixed(2),
            });
          },
        });
        (bar as ReturnType<typeof progressBar> | null)?.stop();
        const counts = await databaseCounts(db.connection);
        if (opts.json) {
          await writeOut(JSON.stringify({ ...summary, database: counts }, null, 2) + '\n');
        } else {
          const by = (s: string) => summary.models.filter((m) => m.status === s).length;
          const lines = [
            `${file}: ${summary.models.length} models (${by('added')} added, ${by('replaced')} replaced, ${by('unchanged')} unchanged), ` +
              `${summary.layers} layers, ${summary.filters} filters in ${summary.seconds.toFixed(1)} s`,
          ];
          if (summary.unreferencedFilters)
            lines.push(
              `  ${summary.unreferencedFilters} rows of /filters belong to no /meta row (not imported)`,
            );
          lines.push(
            `database now: ${counts.models} models, ${counts.layers} layers, ${counts.filters} 3x3 filters`,
          );
          await writeOut(lines.join('\n') + '\n');
        }
      } finally {
        (bar as ReturnType<typeof progressBar> | null)?.stop();
        db.close();
      }
    });
}
