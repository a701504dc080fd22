/**
 * `filterdb cohorts --db zoo.duckdb --by <column|SQL> [--where SQL] [--correlate COL] [--basis NAME]
 * [--kernel KxK] [--json]`:
 * sparsity, variance entropy and orthogonality per depth bin and cohort of models, the distribution shift
 * between cohorts by depth, and correlations with a numeric column (analysis/cohorts.ts).
 */
import type { Command } from 'commander';
import {
  COHORT_METRICS,
  type CohortMetric,
  type CohortsResult,
  cohortsJson,
} from '../../analysis/cohorts.js';
import { FilterDbError } from '../../errors.js';
import { boxStats } from '../../report/svg/drift.js';
import type { CohortPlan } from '../../scan/cohort-scan.js';
import {
  isKernel3x3,
  KERNEL_3X3,
  type KernelSize,
  kernelLabel,
  parseKernelSize,
} from '../../scan/kernel-size.js';
import { UsageError, writeNote, writeOut } from '../context.js';
import { KERNEL_OPTION } from '../kernel-option.js';
import { scanProgress } from '../progress.js';
import { fmtNumber, renderTable } from '../table.js';

interface CohortsCliOptions {
  db?: string;
  engine?: string;
  by: string;
  where?: string;
  correlate?: string;
  basis?: string;
  json?: boolean;
  kernel?: string;
}

export function registerCohorts(program: Command): void {
  program
    .command('cohorts')
    .description(
      'cohort study: sparsity, variance entropy and orthogonality of 3x3 layers by depth bin and cohort of models, the distribution shift between cohorts by depth, Spearman correlations',
    )
    .option('--db <file>', 'DuckDB database file')
    .option(
      '--engine <url>',
      'run the aggregate passes on ClickHouse (clickhouse://host:8123/db[?table=filters], filled by `export --clickhouse`)',
    )
    .requiredOption(
      '--by <cohort>',
      'a layer_info column (Training, Task, …) or SQL expression on layer_info, one value per model; or pattern (cohorts of depthwise kernels by atlas label, a member per model and label)',
    )
    .option('--where <SQL>', 'selection: SQL condition on layer_info columns')
    .option('--correlate <column>', "numeric column (e.g. 'Robust Accuracy') to correlate the metrics with")
    .option('--basis <name>', 'use a basis stored with `pca --save` for the divergence')
    .option(...KERNEL_OPTION)
    .option('--json', 'print the JSON result')
    .action(async (opts: CohortsCliOptions) => {
      const kernel = parseKernelSize(opts.kernel);
      const t0 = performance.now();
      if (opts.engine !== undefined) {
        if (!isKernel3x3(kernel)) throw new UsageError('--engine analyses 3x3 filters only (no --kernel)');
        return runEngineCohorts(opts, t0);
      }
      if (opts.db === undefined) throw new UsageError('cohorts needs --db <file> or --engine <url>');
      const dbPath = opts.db;
      const { openDb } = await import('../../store/db.js');
      const { planCohorts, storeCohorts } = await import('../../scan/cohort-scan.js');
      const { loadBasis } = await import('../../scan/bases.js');
      const { noFiltersMessage } = await import('../../scan/selection.js');
      let plan: CohortPlan;
      let empty: string | null = null;
      let basis: Awaited<ReturnType<typeof loadBasis>> | undefined;
      {
        const db = await openDb(dbPath, { readOnly: true });
        try {
          plan = await planCohorts(db.connection, {
            by: opts.by,
            where: opts.where,
            correlate: opts.correlate,
            kernel,
          });
          // 3x3 keeps its answer of null metrics; another size without filters is a mistake to name
          if (plan.filterCount === 0 && !isKernel3x3(kernel))
            empty = await noFiltersMessage(db.connection, plan);
          if (opts.basis !== undefined) basis = await loadBasis(db.connection, opts.basis);
        } finally {
          db.close();
        }
      }
      if (empty !== null) throw new FilterDbError('unsupported', opts.db, empty);
      writeNote(cohortNotes(plan));
      const passes = basis?.range ? 1 : 3;
      const bar = scanProgress('cohorts', plan.filterCount, passes);
      const result = await storeCohorts(dbPath, plan, {
        basis: basis ? { basis: basis.basis, range: basis.range } : undefined,
        onProgress: bar.onProgress,
      });
      bar.stop();
      await writeCohorts(opts, result, t0, kernel);
    });
}

/** The result as JSON (`kernel` after `by` for other sizes than 3x3, whose output stays as it was) or text. */
async function writeCohorts(
  opts: CohortsCliOptions,
  result: CohortsResult,
  t0: number,
  kernel: KernelSize = KERNEL_3X3,
): Promise<void> {
  if (opts.json) {
    const { by, ...rest } = cohortsJson(result);
    const out = isKernel3x3(kernel) ? { by, ...rest } : { by, kernel: kernelLabel(kernel), ...rest };
    await writeOut(`${JSON.stringify(out)}\n`);
  } else await writeOut(`${renderCohortsText(result, (performance.now() - t0) / 1000, kernel)}\n`);
}

/** `cohorts --engine clickhouse://…`: the aggregate passes there (engine/sql-cohorts.ts), the rest here. */
async function runEngineCohorts(opts: CohortsCliOptions, t0: number): Promise<void> {
  if (opts.db !== undefined || opts.basis !== undefined)
    throw new UsageError('--engine takes neither --db nor --basis');
  const { engineCohorts } = await import('../../engine/cli.js');
  const result = await engineCohorts(
    opts.engine!,
    { by: opts.by, where: opts.where, correlate: opts.correlate },
    (plan) => writeNote(cohortNotes(plan)),
  );
  if (result.orthogonalityComputed > 0)
    writeNote(
      `orthogonality of ${result.orthogonalityComputed} layer${result.orthogonalityComputed === 1 ? '' : 's'} computed here from filters read from the engine (no usable stored metric: ingested without metrics, or float64 weights)`,
    );
  await writeCohorts(opts, result, t0);
}

/** Notes on what the plan left out (stderr), or null. */
export function cohortNotes(plan: CohortPlan): string | null {
  const notes: string[] = [];
  const { layers, filters } = plan.nonFinite;
  if (layers > 0)
    notes.push(
      `left out ${layers} layer${layers === 1 ? '' : 's'} (${filters.toLocaleString('en-US')} filters) whose weights hold NaN or infinite values`,
    );
  // members: models, or with --by pattern a model's filters of one label
  const withLayers = new Set(plan.layers.flatMap((l) => (l.members ? [...new Set(l.members)] : [l.model])));
  const without = plan.models.length - withLayers.size;
  if (without > 0)
    notes.push(
      `${without} model${without === 1 ? ' has' : 's have'} no selected ${kernelLabel(plan.kernel)} layer (all values null)`,
    );
  return notes.length ? notes.join('; ') : null;
}

const METRIC_TITLES: Record<CohortMetric, string> = {
  sparsity: 'sparsity',
  varianceEntropy: 'variance entropy',
  orthogonality: 'orthogonality',
};

/** Median [q1, q3] over the models of a cohort, or '–' when none has a value. */
function cell(values: (number | null)[]): string {
  const st = boxStats(values.filter((v): v is number => v !== null));
  if (!st) return '–';
  return `${fmtNumber(st.median, 3)} [${fmtNumber(st.q1, 3)}, ${fmtNumber(st.q3, 3)}] n=${st.n}`;
}

export function renderCohortsText(
  r: CohortsResult,
  seconds?: number,
  kernel: KernelSize = KERNEL_3X3,
): string {
  const lines: string[] = [
    `cohorts by ${r.by}${isKernel3x3(kernel) ? '' : ` (${kernelLabel(kernel)} layers)`}: ${r.groups.length} cohort${r.groups.length === 1 ? '' : 's'} (${r.groups
      .map((g) => `${g}: ${r.models.filter((m) => m.group === g).length}`)
      .join(', ')} models); median [q1, q3] over models`,
  ];
  const slots = [...r.bins, 'whole'];
  for (const metric of COHORT_METRICS) {
    lines.push('', METRIC_TITLES[metric]);
    const rows = slots.map((bin, b) => [
      bin,
      ...r.groups.map((g) =>
        cell(
          r.models
            .filter((m) => m.group === g)
            .map((m) => (b < r.bins.length ? m[metric][b] : m.whole[metric])),
        ),
      ),
    ]);
    lines.push(renderTable([{ header: 'bin' }, ...r.groups.map((g) => ({ header: g, right: true }))], rows));
  }
  const d = r.divergence;
  lines.push('');
  if (!d) lines.push('divergence by depth: fewer than 2 non-sparse filters, no PCA basis');
  else if (r.groups.length < 2) lines.push('divergence by depth: a single cohort, no pairs');
  else {
    lines.push(
      `divergence by depth (EVR-weighted symmetric KL of 70-bin coefficient histograms; ${d.filterCount.toLocaleString('en-US')} non-sparse filters, range [${fmtNumber(d.range[0], 5)}, ${fmtNumber(d.range[1], 5)}])`,
    );
    const pairs: [number, number][] = [];
    for (let a = 0; a < r.groups.length; a++)
      for (let b = a + 1; b < r.groups.length; b++) pairs.push([a, b]);
    const matrices = [...d.byBin, d.whole];
    lines.push(
      renderTable(
        [
          { header: 'bin' },
          ...pairs.map(([a, b]) => ({ header: `${r.groups[a]} – ${r.groups[b]}`, right: true })),
        ],
        slots.map((bin, s) => [
          bin,
          ...pairs.map(([a, b]) => {
            const m = matrices[s];
            return m ? fmtNumber(m[a][b], 4) : '–';
          }),
        ]),
      ),
    );
  }
  const c = r.correlation;
  if (c) {
    lines.push(
      '',
      `Spearman correlation with ${c.column} (${c.n} models with a value): ${COHORT_METRICS.map(
        (m) => `${METRIC_TITLES[m]} ${c[m] === null ? '–' : fmtNumber(c[m], 3)}`,
      ).join(', ')}`,
    );
  }
  if (seconds !== undefined) lines.push(`(${seconds.toFixed(2)} s)`);
  return lines.join('\n');
}
