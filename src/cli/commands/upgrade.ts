/** `filterdb upgrade --db zoo.duckdb`: the layer statistics of a database built before them (resumable). */
import type { Command } from 'commander';
import { openDb } from '../../store/db.js';
import { upgradeDb } from '../../store/upgrade.js';
import { writeOut } from '../context.js';
import { progressBar } from '../progress.js';

interface UpgradeCliOptions {
  db: string;
  json?: boolean;
}

export function registerUpgrade(program: Command): void {
  program
    .command('upgrade')
    .description(
      'bring a database up to this version: per-layer statistics so shift reads the filters once, depthwise kernel labels (resumable)',
    )
    .requiredOption('--db <file>', 'DuckDB database file')
    .option('--json', 'print the summary as JSON')
    .action(async (opts: UpgradeCliOptions) => {
      const db = await openDb(opts.db);
      let bar: ReturnType<typeof progressBar> | null = null;
      try {
        const summary = await upgradeDb(db, {
          onProgress(done, total) {
            bar ??= progressBar('upgrade', total);
            bar.update(done, total);
          },
        });
        (bar as ReturnType<typeof progressBar> | null)?.stop();
        if (opts.json) await writeOut(`${JSON.stringify(summary)}\n`);
        else
          await writeOut(
            summary.layers === 0 && summary.patternLayers === 0
              ? `${opts.db} is up to date (${summary.alreadyDone} layers with statistics)\n`
              : `${opts.db}: statistics of ${summary.layers} layers (${summary.filters.toLocaleString('en-US')} filters), kernel labels of ${summary.patternLayers} depthwise layers (${summary.patternKernels.toLocaleString('en-US')} kernels) in ${summary.seconds.toFixed(1)} s\n`,
          );
      } finally {
        db.close();
      }
    });
}
