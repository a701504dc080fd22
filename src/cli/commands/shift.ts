/**
 * `filterdb shift --db zoo.duckdb --by <column|depth|model|layer-kind|pattern|SQL> [--by …] [--where SQL] [--bins 70]
 * [--basis NAME] [--json] [--sort mean|name] [--views out.json]`: the paper's distribution-shift matrix
 * between groups of filters, streamed from a filter database; a repeated --by gives every grouping from the
 * same read of the filters (JSON and views: arrays).
 */
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { displayOrder } from '../../analysis/groups.js';
import { kdeFromHistogram, linspace } from '../../analysis/kde.js';
import type { PcaBasis } from '../../analysis/pca.js';
import type { ShiftResult } from '../../analysis/shift.js';
import { FilterDbError, fsErrorText } from '../../errors.js';
import type { StoreShiftResult } from '../../scan/analyses.js';
import {
  isKernel3x3,
  KERNEL_3X3,
  type KernelSize,
  kernelLabel,
  parseKernelSize,
} from '../../scan/kernel-size.js';
import { prewarmScanWorkers, releaseScanWorkers, scanWorkersFor } from '../../scan/scan-workers.js';
import type { SelectionPlan } from '../../scan/selection.js';
import { UsageError, writeNote, writeOut } from '../context.js';
import { KERNEL_OPTION } from '../kernel-option.js';
import { scanProgress } from '../progress.js';
import { fmtNumber, renderTable } from '../table.js';

interface ShiftCliOptions {
  db: string;
  engine?: string;
  by: string[];
  where?: string;
  bins: string;
  basis?: string;
  json?: boolean;
  sort?: string;
  views?: string;
  kdeBins: string;
  density: string;
  workers?: string;
  kernel?: string;
}

export function registerShift(program: Command): void {
  program
    .command('shift')
    .description(
      'distribution-shift matrix (EVR-weighted symmetric KL of PCA-coefficient histograms) between groups of 3x3 filters',
    )
    .option('--db <file>', 'DuckDB database file')
    .option(
      '--engine <url>',
      'run the passes on ClickHouse (clickhouse://host:8123/db, after `export --clickhouse`) instead of --db',
    )
    .option(
      '--by <grouping>',
      'a layer_info column (Task, "Visual Category", …), depth (conv-depth deciles), model, layer-kind, pattern (each filter by its depthwise kernel atlas label), or an SQL expression on layer_info; repeat it for several groupings from one read of the filters (JSON: an array)',
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
    .option('--where <SQL>', 'filter selection: SQL condition on layer_info columns')
    .option(...KERNEL_OPTION)
    .option('--bins <n>', 'histogram bins per coefficient', '70')
    .option('--basis <name>', 'use a basis stored with `pca --save` instead of fitting one')
    .option('--json', 'print the JSON result (groups sorted as strings)')
    .option(
      '--sort <order>',
      'row order of the text table: mean (mean drift, descending) or name (depth bins by depth); default: name for --by depth, else mean',
    )
    .option(
      '--views <out.json>',
      'also write KDE curves per group × coefficient, the 2-D density and eigen-images',
    )
    .option('--kde-bins <n>', 'fine histogram bins behind the KDE curves', '2048')
    .option('--density <size>', '2-D density grid size over [-3.3, 3.3]² (0: none)', '512')
    .option(
      '--workers <n>',
      'scan threads, this one included (default: 2 for large selections; 0 or 1: this thread only)',
    )
    .action(async (opts: ShiftCliOptions) => {
      if (opts.by.length === 0) throw new UsageError("required option '--by <grouping>' not specified");
      const bins = Number(opts.bins);
      if (!(Number.isInteger(bins) && bins >= 1))
        throw new UsageError(`--bins must be a positive integer, got ${opts.bins}`);
      if (opts.sort !== undefined && opts.sort !== 'mean' && opts.sort !== 'name')
        throw new UsageError(`--sort takes mean or name, not ${opts.sort}`);
      const kdeBins = Number(opts.kdeBins);
      if (!(Number.isInteger(kdeBins) && kdeBins >= 2))
        throw new UsageError(`--kde-bins must be an integer ≥ 2`);
      const densitySize = Number(opts.density);
      if (!(Number.isInteger(densitySize) && densitySize >= 0))
        throw new UsageError(`--density must be a whole number`);
      const workers = opts.workers === undefined ? undefined : Number(opts.workers);
      if (workers !== undefined && !(Number.isInteger(workers) && workers >= 0 && workers <= 64))
        throw new UsageError(`--workers takes a whole number from 0 to 64, got ${opts.workers}`);
      const kernel = parseKernelSize(opts.kernel);
      const t0 = performance.now();
      if (opts.engine !== undefined) {
        if (!isKernel3x3(kernel)) throw new UsageError('--engine analyses 3x3 filters only (no --kernel)');
        return runEngineShift(opts, bins, t0);
      }
      if (opts.db === undefined) throw new UsageError('shift needs --db <file> or --engine <url>');
      // the scan workers start (DuckDB instance, kernels) while this thread loads @duckdb/node-api and plans;
      // this thread is one of the scan threads
      prewarmScanWorkers(opts.db, Math.max(0, (workers ?? scanWorkersFor(opts.db)) - 1));
      try {
        await runShift(opts, { bins, kdeBins, densitySize, workers, t0, kernel });
      } finally {
        await releaseScanWorkers();
      }
    });
}

async function runShift(
  opts: ShiftCliOptions,
  o: {
    bins: number;
    kdeBins: number;
    densitySize: number;
    workers: number | undefined;
    t0: number;
    kernel: KernelSize;
  },
): Promise<void> {
  const { bins, kdeBins, densitySize, workers, t0, kernel } = o;
  const { openDb } = await import('../../store/db.js');
  const { DEFAULT_DENSITY, storeShifts } = await import('../../scan/analyses.js');
  const { loadBasis } = await import('../../scan/bases.js');
  const { noFiltersMessage, nonFiniteNote, planSelection } = await import('../../scan/selection.js');
  const plans: SelectionPlan[] = [];
  let basis: PcaBasis | undefined;
  let range: [number, number] | undefined;
  let empty: string | null = null;
  {
    const db = await openDb(opts.db, { readOnly: true });
    try {
      for (const by of opts.by) {
        const p = await planSelection(db.connection, {
          where: opts.where,
          by,
          stats: plans.length === 0,
          kernel,
        });
        plans.push(plans.length === 0 ? p : { ...p, stats: plans[0].stats });
      }
      if (plans[0].filterCount === 0) empty = await noFiltersMessage(db.connection, plans[0]);
      if (opts.basis !== undefined) {
        const stored = await loadBasis(db.connection, opts.basis);
        basis = stored.basis;
        // the stored range is this selection's only when the basis was fitted on the same selection
        if (stored.range && stored.where === plans[0].where) range = stored.range;
      }
    } finally {
      db.close();
    }
  }
  const plan = plans[0];
  writeNote(nonFiniteNote(plan));
  if (empty !== null) throw new FilterDbError('unsupported', opts.db, empty);
  if (!basis && plan.stats === null && isKernel3x3(kernel))
    writeNote(
      'this database has no layer statistics (built before them): the basis is fitted by an extra scan; `filterdb upgrade --db …` adds them once',
    );
  // histograms, after a moments scan when there are no statistics or the range when a stored basis has none;
  // other kernel sizes than 3x3 have no statistics nor range candidates: moments, range, histograms
  const passes = basis ? (range ? 1 : 2) : plan.stats !== null ? 1 : isKernel3x3(kernel) ? 2 : 3;
  const bar = scanProgress('shift', plan.filterCount, passes);
  const results = await storeShifts(opts.db, plans, {
    bins,
    basis,
    range,
    workers,
    shareThisThread: true,
    views: opts.views
      ? { kdeBins, density: densitySize > 0 ? { ...DEFAULT_DENSITY, size: densitySize } : false }
      : undefined,
    onProgress: bar.onProgress,
  });
  bar.stop();
  const seconds = (performance.now() - t0) / 1000;
  // one grouping keeps its single object; several give arrays
  const one = results.length === 1;
  if (opts.views)
    await writeViews(
      opts.views,
      one ? shiftViews(results[0], kernel) : results.map((r) => shiftViews(r, kernel)),
    );
  await writeShifts(opts, results, seconds, kernel);
}

/** The results as JSON (one grouping: its object; several: an array) or as text tables. */
async function writeShifts(
  opts: ShiftCliOptions,
  results: ShiftResult[],
  seconds: number,
  kernel: KernelSize = KERNEL_3X3,
): Promise<void> {
  if (opts.json) {
    const json = results.map((r) => shiftJson(r, kernel));
    await writeOut(`${JSON.stringify(results.length === 1 ? json[0] : json)}\n`);
    return;
  }
  // depth bins read best in depth order, other groupings by mean drift (unless --sort says)
  const texts = results.map((r, i) =>
    renderShiftText(r, textSort(opts, opts.by[i]), i === results.length - 1 ? seconds : undefined, kernel),
  );
  await writeOut(`${texts.join('\n\n')}\n`);
}

/** Row order of the text table: --sort, else depth bins by depth and other groups by mean drift. */
function textSort(opts: ShiftCliOptions, by: string): 'mean' | 'name' {
  return (opts.sort ?? (by === 'depth' ? 'name' : 'mean')) as 'mean' | 'name';
}

/** `shift --engine clickhouse://…`: the passes there (engine/), the rest here; every --by from one set of passes. */
async function runEngineShift(opts: ShiftCliOptions, bins: number, t0: number): Promise<void> {
  if (opts.db !== undefined || opts.basis !== undefined || opts.views !== undefined)
    throw new UsageError('--engine takes neither --db, --basis nor --views');
  const { engineShift } = await import('../../engine/cli.js');
  const results = await engineShift(opts.engine!, { where: opts.where, by: opts.by, bins }, writeNote);
  await writeShifts(opts, results, (performance.now() - t0) / 1000);
}

/**
 * The `shift --json` object (DESIGN.md contract, plus `summary`; `kernel` after `by` for other sizes than
 * 3x3, whose output stays as it was).
 */
export function shiftJson(r: ShiftResult, kernel: KernelSize = KERNEL_3X3) {
  return {
    by: r.by,
    ...(isKernel3x3(kernel) ? {} : { kernel: kernelLabel(kernel) }),
    groups: r.groups,
    counts: r.counts,
    matrix: r.matrix,
    explainedVarianceRatio: r.explainedVarianceRatio,
    components: r.components,
    mean: r.mean,
    range: r.range,
    bins: r.bins,
    filterCount: r.filterCount,
    summary: r.summary,
  };
}

/** Mean drift of each group to the others (the row order of `--sort mean`). */
export function meanDrift(matrix: number[][]): number[] {
  const n = matrix.length;
  return matrix.map((row, i) => (n > 1 ? row.reduce((s, v, j) => (j === i ? s : s + v), 0) / (n - 1) : 0));
}

export function renderShiftText(
  r: ShiftResult,
  sort: 'mean' | 'name',
  seconds?: number,
  kernel: KernelSize = KERNEL_3X3,
): string {
  const means = meanDrift(r.matrix);
  // by name: depth bins by depth, other groups as the JSON sorts them
  const order = displayOrder(r.groups);
  if (sort === 'mean') order.sort((a, b) => means[b] - means[a] || a - b);
  const width = 8;
  const short = (g: string) => (g.length > width + 6 ? `${g.slice(0, width + 5)}…` : g);
  const columns = [
    { header: r.by },
    { header: 'filters', right: true },
    { header: 'mean', right: true },
    ...order.map((j) => ({ header: short(r.groups[j]), right: true })),
  ];
  const rows = order.map((i) => [
    r.groups[i],
    r.counts[i],
    fmtNumber(means[i], 4),
    ...order.map((j) => (i === j ? '0' : fmtNumber(r.matrix[i][j], 4))),
  ]);
  const s = r.summary;
  const lines = [
    `distribution shift by ${r.by}: ${r.groups.length} groups, ${r.filterCount.toLocaleString('en-US')} ${isKernel3x3(kernel) ? '' : `${kernelLabel(kernel)} `}filters, ${r.bins} bins, coefficient range [${fmtNumber(r.range[0], 5)}, ${fmtNumber(r.range[1], 5)}]`,
    `explained variance ratio: ${r.explainedVarianceRatio.map((v) => fmtNumber(v, 3)).join(' ')}`,
    '',
    renderTable(columns, rows),
    '',
    s.pairs > 0
      ? `drift D over ${s.pairs} pairs: min ${fmtNumber(s.min, 4)}  median ${fmtNumber(s.median, 4)}  mean ${fmtNumber(s.mean, 4)}  max ${fmtNumber(s.max, 4)}  (q1 ${fmtNumber(s.q1, 4)}, q3 ${fmtNumber(s.q3, 4)})`
      : 'drift D: a single group, no pairs',
  ];
  if (seconds !== undefined) lines.push(`(${seconds.toFixed(2)} s)`);
  return lines.join('\n');
}

/**
 * Per group × coefficient KDE curves, the 2-D density and the eigen-images (kh × kw each), as JSON for the
 * report/web app.
 */
export function shiftViews(r: StoreShiftResult, kernel: KernelSize = KERNEL_3X3, points = 1024) {
  const x = linspace(r.range[0], r.range[1], points);
  const curves: { group: string; coefficient: number; n: number; bandwidth: number; y: number[] }[] = [];
  if (r.fine) {
    const fine = r.fine;
    for (const g of r.groups) {
      const counts = fine.counts.get(g);
      if (!counts) continue;
      for (let c = 0; c < fine.dims; c++) {
        const k = kdeFromHistogram(counts.subarray(c * fine.bins, (c + 1) * fine.bins), fine.lo, fine.hi, {
          points,
        });
        curves.push({ group: g, coefficient: c, n: k.n, bandwidth: k.bandwidth, y: Array.from(k.y, round) });
      }
    }
  }
  const d = r.density;
  return {
    by: r.by,
    groups: r.groups,
    counts: r.counts,
    range: r.range,
    kde: { points, x: Array.from(x, round), kdeBins: r.fine?.bins ?? null, curves },
    density: d
      ? {
          nx: d.spec.size,
          ny: d.spec.size,
          x: [d.spec.lo, d.spec.hi],
          y: [d.spec.lo, d.spec.hi],
          xIndex: d.spec.xIndex,
          yIndex: d.spec.yIndex,
          total: d.total,
          outside: d.outside,
          counts: Array.from(d.counts),
        }
      : null,
    eigenImages: {
      ...(isKernel3x3(kernel) ? {} : { kernel: kernelLabel(kernel) }),
      mean: r.mean,
      explainedVarianceRatio: r.explainedVarianceRatio,
      components: r.components.map((c) => kernelRows(c, kernel)),
    },
  };
}

/** A row-major filter as kh rows of kw values. */
function kernelRows(c: number[], k: KernelSize): number[][] {
  return Array.from({ length: k.kh }, (_, i) => c.slice(i * k.kw, (i + 1) * k.kw));
}

function round(v: number): number {
  return Number(v.toPrecision(7));
}

async function writeViews(path: string, views: unknown): Promise<void> {
  try {
    await writeFile(path, JSON.stringify(views));
  } catch (e) {
    throw new FilterDbError('missing-file', path, `cannot write the views: ${fsErrorText(e)}`);
  }
  process.stderr.write(`wrote ${path}\n`);
}
