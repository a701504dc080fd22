/**
 * `filterdb report <file> --out report.html`: a self-contained HTML report of one model;
 * `filterdb report --db zoo.duckdb --out zoo.html`: the zoo report of a filter database (models table, basis,
 * drift matrices for every metadata column + depth + model, ridges, 2-D density) from three streamed passes.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { FilterDbError, fsErrorText, mkdirErrorText } from '../../errors.js';
import { readModel } from '../../formats/detect.js';
import { INIT_RULES, type InitRule } from '../../metrics/init-distance.js';
import { openModelInput } from '../../node/file-source.js';
import { modelReportHtml } from '../../report/model-report.js';
import { KERNEL_3X3, type KernelSize, parseKernelSize } from '../../scan/kernel-size.js';
import { nonFiniteNote } from '../../scan/selection.js';
import { planZooReport, type ZooReportPlan, zooReportFromPlan } from '../../scan/zoo-db-report.js';
import { openDb } from '../../store/db.js';
import { UsageError, writeNote } from '../context.js';
import { KERNEL_OPTION } from '../kernel-option.js';
import { progressBar, scanProgress } from '../progress.js';
import { cohortNotes } from './cohorts.js';

interface ReportCliOptions {
  out?: string;
  db?: string;
  sparsityEps: string;
  maxFilters: string;
  degenerated: string;
  cohorts?: string;
  correlate?: string;
  spectral?: boolean;
  init?: boolean;
  initRule?: string;
  kernel?: string;
}

export function registerReport(program: Command): void {
  program
    .command('report')
    .description(
      'write a self-contained HTML report of a model: layer table, flags, metric curves, filter grids, eigen-images',
    )
    .argument('[file]', 'model file or directory (or --db)')
    .option('--db <file>', 'write the zoo report of a filter database instead')
    .requiredOption('--out <report.html>', 'where to write the HTML file')
    .option('--sparsity-eps <E>', "sparsity threshold as a fraction of the layer's max |w|", '0.01')
    .option('--max-filters <N>', 'most 2-D filters drawn per layer grid', '256')
    .option('--degenerated <N>', 'filter grids for this many of the most degenerated layers', '3')
    .option(
      '--cohorts <column>',
      'with --db: add a cohort study by this column (boxplots by depth, divergence by depth; see `filterdb cohorts`)',
    )
    .option('--correlate <column>', 'with --cohorts: numeric column to correlate the metrics with')
    .option(KERNEL_OPTION[0], `with --db: ${KERNEL_OPTION[1]}`)
    .option('--no-spectral', 'leave out the WeightWatcher-style spectral metrics (alpha over depth)')
    .option('--init', 'distance from random initialisation: init score column and bands on the metric plots')
    .option(
      '--init-rule <rule>',
      `initialisation rule for --init: ${INIT_RULES.join(' or ')} (implies --init)`,
    )
    .action(async (file: string | undefined, opts: ReportCliOptions) => {
      if (opts.db !== undefined) {
        if (file !== undefined) throw new UsageError('give either a model file or --db, not both');
        await writeZooReport(opts.db, opts.out!, opts.cohorts, opts.correlate, parseKernelSize(opts.kernel));
        return;
      }
      if (opts.kernel !== undefined) throw new UsageError('--kernel needs --db');
      if (file === undefined) throw new UsageError('report needs a model file or --db <database>');
      if (opts.cohorts !== undefined) throw new UsageError('--cohorts needs --db');
      const sparsityEps = Number(opts.sparsityEps);
      if (!(sparsityEps >= 0 && sparsityEps < 1))
        throw new UsageError(`--sparsity-eps must be in [0, 1), got ${opts.sparsityEps}`);
      const maxFilters = Number(opts.maxFilters);
      if (!(Number.isInteger(maxFilters) && maxFilters >= 1))
        throw new UsageError(`--max-filters must be a positive integer, got ${opts.maxFilters}`);
      const degeneratedGrids = Number(opts.degenerated);
      if (!(Number.isInteger(degeneratedGrids) && degeneratedGrids >= 0))
        throw new UsageError(`--degenerated must be a whole number, got ${opts.degenerated}`);
      if (opts.initRule !== undefined && !INIT_RULES.includes(opts.initRule as InitRule))
        throw new UsageError(`--init-rule must be one of ${INIT_RULES.join(', ')}, got ${opts.initRule}`);
      const out = opts.out!;
      const model = await readModel(await openModelInput(file));
      const bar = progressBar('measuring', model.layers.length);
      const html = await modelReportHtml(model, {
        sparsityEps,
        maxFilters,
        degeneratedGrids,
        spectral: opts.spectral !== false,
        init:
          opts.init || opts.initRule !== undefined
            ? { rule: (opts.initRule as InitRule | undefined) ?? 'auto' }
            : undefined,
        onLayer: (done, total) => bar.update(done, total),
      });
      bar.stop();
      await writeReport(out, html);
      process.stderr.write(`wrote ${out} (${Math.round(Buffer.byteLength(html) / 1024)} kB)\n`);
    });
}

async function writeZooReport(
  dbPath: string,
  out: string,
  cohortsBy?: string,
  correlate?: string,
  kernel: KernelSize = KERNEL_3X3,
): Promise<void> {
  const t0 = performance.now();
  const db = await openDb(dbPath, { readOnly: true });
  let plan: ZooReportPlan;
  try {
    plan = await planZooReport(db.connection, { cohortsBy, correlate, kernel, onNote: writeNote });
  } finally {
    db.close();
  }
  if (plan.plans[0]) writeNote(nonFiniteNote(plan.plans[0]));
  if (plan.cohortPlan) writeNote(cohortNotes(plan.cohortPlan));
  const bar = progressBar('zoo report', (plan.plans[0]?.filterCount ?? 0) * 3);
  const { html, models, filterCount } = await zooReportFromPlan(dbPath, plan, {
    shareThisThread: true,
    onProgress: (n) => bar.update(n),
    cohortProgress: (total) => scanProgress('cohorts', total, 3),
  });
  bar.stop();
  await writeReport(out, html);
  process.stderr.write(
    `wrote ${out} (${Math.round(Buffer.byteLength(html) / 1024)} kB; ${models} models, ${filterCount.toLocaleString('en-US')} filters, ${((performance.now() - t0) / 1000).toFixed(1)} s)\n`,
  );
}

/** Writes a report, creating missing parent folders (as `export` does). */
async function writeReport(out: string, html: string): Promise<void> {
  try {
    await mkdir(dirname(resolve(out)), { recursive: true });
  } catch (e) {
    throw new FilterDbError('missing-file', out, `cannot write the report: ${mkdirErrorText(e)}`);
  }
  try {
    await writeFile(out, html);
  } catch (e) {
    throw new FilterDbError('missing-file', out, `cannot write the report: ${fsErrorText(e)}`);
  }
}
