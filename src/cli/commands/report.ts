/**
 * `filterdb report <file> --out report.html`: a self-contained HTML report of one model;
 * `filterdb report --db zoo.duckdb --out zoo.html`: the zoo report of a filter database (models table, basis,
 * drift matrices for every metadata column + depth + model, ridges, 2-D density) from three streamed passes.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import type { CohortsResult } from '../../analysis/cohorts.js';
import { groupKdes } from '../../analysis/kde.js';
import { FilterDbError, fsErrorText, mkdirErrorText } from '../../errors.js';
import { readModel } from '../../formats/detect.js';
import { INIT_RULES, type InitRule } from '../../metrics/init-distance.js';
import { openModelInput } from '../../node/file-source.js';
import { modelReportHtml } from '../../report/model-report.js';
import { renderZooReport, type ZooModel, type ZooRidges } from '../../report/zoo-report.js';
import { storeZooAnalysis } from '../../scan/analyses.js';
import { type CohortPlan, planCohorts, storeCohorts } from '../../scan/cohort-scan.js';
import {
  isKernel3x3,
  KERNEL_3X3,
  type KernelSize,
  kernelLabel,
  parseKernelSize,
  storedLayersCondition,
} from '../../scan/kernel-size.js';
import {
  nonFiniteNote,
  planSelection,
  type SelectionPlan,
  TooManyGroupsError,
} from '../../scan/selection.js';
import { type StoredAtlas, type StoredEnergy, storedAtlas, storedEnergy } from '../../store/atlas-energy.js';
import { openDb, queryRows } from '../../store/db.js';
import type { SkippedLayer } from '../../store/depthwise-read.js';
import { modelHealth, type StoredModelHealth } from '../../store/health.js';
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

/** A model's verdict counts for the zoo report (`degenerated` null when no layer was assessed). */
function zooHealth(
  h: StoredModelHealth | undefined,
): Pick<ZooModel, 'degenerated' | 'notAssessed' | 'orthogonalityNotMeasured'> {
  if (!h) return { degenerated: null, notAssessed: 0, orthogonalityNotMeasured: 0 };
  return {
    degenerated: h.notAssessed === h.layers ? null : h.degenerated,
    notAssessed: h.notAssessed,
    orthogonalityNotMeasured: h.orthogonalityNotMeasured,
  };
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
  let cohortPlan: CohortPlan | null = null;
  let models: ZooModel[];
  let metaColumns: string[];
  let plans: SelectionPlan[];
  let atlas: StoredAtlas;
  let energy: StoredEnergy;
  try {
    const cols = await queryRows(
      db.connection,
      "SELECT column_name FROM information_schema.columns WHERE table_name = 'model_info' ORDER BY ordinal_position",
    );
    const base = new Set(['model_id', 'model', 'file', 'format', 'producer']);
    metaColumns = cols.map((r) => String(r.column_name)).filter((c) => !base.has(c));
    // schema-1 files opened read-only lack the layer diagnostics columns
    const diag =
      (
        await queryRows(
          db.connection,
          "SELECT 1 FROM information_schema.columns WHERE table_name = 'layers' AND column_name = 'near_init'",
        )
      ).length > 0;
    const rows = await queryRows(
      db.connection,
      `SELECT mi.*, coalesce(l.layers, 0) AS n_layers, coalesce(l.filters, 0) AS n_filters
         ${diag ? ', l.training AS n_training, l.near AS n_near' : ''}
       FROM model_info mi LEFT JOIN (
         SELECT model_id, count(*) AS layers,
           sum(CASE WHEN ${storedLayersCondition(kernel)} THEN filter_count ELSE 0 END) AS filters
           ${
             diag
               ? `, sum(CASE WHEN training_flags IS NULL THEN NULL WHEN len(training_flags) > 0 THEN 1 ELSE 0 END) AS training,
           sum(CASE WHEN near_init IS NULL THEN NULL WHEN near_init THEN 1 ELSE 0 END) AS near`
               : ''
           }
         FROM layers GROUP BY model_id) l USING (model_id)
       ORDER BY mi.model_id`,
    );
    const health = await modelHealth(db.connection);
    models = rows.map((r) => ({
      name: String(r.model),
      format: (r.format as string | null) ?? null,
      layers: Number(r.n_layers),
      filters: Number(r.n_filters),
      ...zooHealth(health.get(Number(r.model_id))),
      trainingWarnings: r.n_training === null || r.n_training === undefined ? null : Number(r.n_training),
      nearInit: r.n_near === null || r.n_near === undefined ? null : Number(r.n_near),
      meta: Object.fromEntries(metaColumns.map((c) => [c, r[c] as string | number | null])),
    }));
    plans = [];
    for (const by of [...metaColumns, 'depth', 'model']) {
      try {
        plans.push(await planSelection(db.connection, { by, kernel }));
      } catch (e) {
        // a column with a value per layer (say, a file hash) is no grouping: the report goes on without it
        if (!(e instanceof TooManyGroupsError)) throw e;
        writeNote(`report: no drift section by ${by}: ${e.message}`);
      }
    }
    if (cohortsBy !== undefined)
      cohortPlan = await planCohorts(db.connection, { by: cohortsBy, correlate: correlate ?? null, kernel });
    atlas = await storedAtlas(db.connection);
    energy = await storedEnergy(db.connection);
  } finally {
    db.close();
  }
  writeNote(nonFiniteNote(plans[0]));
  if (plans[0].filterCount < 2)
    throw new FilterDbError(
      'unsupported',
      dbPath,
      `holds fewer than 2 ${kernelLabel(kernel)} filters: nothing to analyse${isKernel3x3(kernel) ? '' : ' (other kernel sizes than 3x3 are stored by `ingest --kernel all`)'}`,
    );
  const bar = progressBar('zoo report', plans[0].filterCount * 3);
  let base = 0;
  let last = '';
  const ridgeable = plans.filter((p) => p.by !== 'model' || p.groups.length <= 12).map((p) => p.by!);
  const a = await storeZooAnalysis(dbPath, plans, {
    ridges: ridgeable,
    shareThisThread: true,
    onProgress: (n, pass) => {
      if (pass !== last) {
        if (last) base += plans[0].filterCount;
        last = pass;
      }
      bar.update(base + n);
    },
  });
  bar.stop();
  let cohorts: CohortsResult | undefined;
  if (cohortPlan) {
    writeNote(cohortNotes(cohortPlan));
    const cbar = scanProgress('cohorts', cohortPlan.filterCount, 3);
    cohorts = await storeCohorts(dbPath, cohortPlan, { onProgress: cbar.onProgress });
    cbar.stop();
  }
  const ridges: ZooRidges[] = [];
  for (const [by, hist] of a.fine) {
    const groups = a.shifts.find((s) => s.by === by)?.groups;
    ridges.push({
      by,
      coefficients: Array.from({ length: hist.dims }, (_, c) => ({
        index: c,
        curves: groupKdes(hist, c, { groups, points: 1024 }).map((k) => ({
          label: k.group,
          x: k.x,
          y: k.y,
          n: k.n,
        })),
      })),
    });
  }
  const html = renderZooReport({
    title: `Filter database ${basename(dbPath)}${isKernel3x3(kernel) ? '' : `: ${kernelLabel(kernel)} filters`}`,
    kernel: [kernel.kh, kernel.kw],
    source: dbPath,
    models,
    metaColumns,
    shifts: a.shifts.map(({ histograms: _h, ...s }) => s),
    ridges,
    cohorts,
    atlas: atlas.view
      ? { view: atlas.view, models: atlas.models, note: skippedNote(atlas.skipped) }
      : undefined,
    energy: energy.models.length
      ? { models: energy.models, correlation: energy.correlation, note: skippedNote(energy.skipped) }
      : undefined,
    density: a.density
      ? {
          counts: a.density.counts,
          nx: a.density.spec.size,
          ny: a.density.spec.size,
          x: [a.density.spec.lo, a.density.spec.hi],
          y: [a.density.spec.lo, a.density.spec.hi],
          outside: a.density.outside,
          xIndex: a.density.spec.xIndex,
          yIndex: a.density.spec.yIndex,
          total: a.density.total,
        }
      : undefined,
  });
  await writeReport(out, html);
  process.stderr.write(
    `wrote ${out} (${Math.round(Buffer.byteLength(html) / 1024)} kB; ${models.length} models, ${a.filterCount.toLocaleString('en-US')} filters, ${((performance.now() - t0) / 1000).toFixed(1)} s)\n`,
  );
}

/** "2 layers skipped: a / b (reason), …" for a report section, or undefined. */
function skippedNote(skipped: SkippedLayer[]): string | undefined {
  if (!skipped.length) return undefined;
  const shown = skipped
    .slice(0, 5)
    .map((s) => `${s.model}${s.layer ? ` / ${s.layer}` : ''} (${s.reason})`)
    .join('; ');
  return `Skipped ${skipped.length}: ${shown}${skipped.length > 5 ? '; …' : ''}.`;
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
