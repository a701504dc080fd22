/**
 * `filterdb pca --db zoo.duckdb [--where SQL] [--kernel KxK] [--json] [--save NAME]`: the PCA basis of a
 * filter selection.
 */
import type { Command } from 'commander';
import { FilterDbError } from '../../errors.js';
import { storePca } from '../../scan/analyses.js';
import { saveBasis } from '../../scan/bases.js';
import { isKernel3x3, type KernelSize, kernelLabel, parseKernelSize } from '../../scan/kernel-size.js';
import { noFiltersMessage, nonFiniteNote, planSelection } from '../../scan/selection.js';
import { openDb } from '../../store/db.js';
import { UsageError, writeNote, writeOut } from '../context.js';
import { KERNEL_OPTION } from '../kernel-option.js';
import { scanProgress } from '../progress.js';
import { fmtNumber, renderTable } from '../table.js';

interface PcaCliOptions {
  db: string;
  engine?: string;
  where?: string;
  json?: boolean;
  save?: string;
  kernel?: string;
}

export function registerPca(program: Command): void {
  program
    .command('pca')
    .description(
      'PCA basis of peak-scaled 3x3 filters (mean, components, explained variance), streamed from a filter database',
    )
    .option('--db <file>', 'DuckDB database file')
    .option(
      '--engine <url>',
      'run the moments (and range) passes on ClickHouse (clickhouse://host:8123/db) instead of --db',
    )
    .option(
      '--where <SQL>',
      'filter selection: SQL condition on layer_info columns (model, Task, kind, conv_depth_norm, …)',
    )
    .option(...KERNEL_OPTION)
    .option('--json', 'print JSON')
    .option(
      '--save <name>',
      'store the basis (and its coefficient range) in the `bases` table for `shift --basis`',
    )
    .action(async (opts: PcaCliOptions) => {
      const kernel = parseKernelSize(opts.kernel);
      const t0 = performance.now();
      const { plan, basis, range } = await fitPca(opts, kernel);
      if (opts.save) {
        if (opts.db === undefined) throw new UsageError('--save stores the basis in a --db database');
        const db = await openDb(opts.db);
        try {
          await saveBasis(db.connection, { name: opts.save, where: plan.where, basis, range });
        } finally {
          db.close();
        }
      }
      const seconds = (performance.now() - t0) / 1000;
      if (opts.json) {
        await writeOut(
          `${JSON.stringify({
            where: plan.where,
            ...(isKernel3x3(kernel) ? {} : { kernel: kernelLabel(kernel) }),
            filterCount: basis.count,
            mean: basis.mean,
            components: basis.components,
            explainedVariance: basis.explainedVariance,
            explainedVarianceRatio: basis.explainedVarianceRatio,
            range,
            saved: opts.save ?? null,
          })}\n`,
        );
        return;
      }
      let cum = 0;
      const rows = basis.explainedVarianceRatio.map((r, i) => {
        cum += r;
        return [
          `c${i}`,
          fmtNumber(r, 4),
          fmtNumber(cum, 4),
          basis.components[i].map((v) => (v >= 0 ? ' ' : '') + v.toFixed(3)).join(' '),
        ];
      });
      const text = [
        `${basis.count.toLocaleString('en-US')} ${isKernel3x3(kernel) ? '' : `${kernelLabel(kernel)} `}filters${plan.where ? ` where ${plan.where}` : ''}`,
        `mean: ${basis.mean.map((v) => v.toFixed(4)).join(' ')}`,
        '',
        renderTable(
          [
            { header: 'component' },
            { header: 'evr', right: true },
            { header: 'cumulative', right: true },
            { header: `w0 … w${basis.dims - 1} (row-major ${kernelLabel(kernel)})` },
          ],
          rows,
        ),
        range ? `\ncoefficient range [${range[0]}, ${range[1]}]` : '',
        opts.save ? `saved as basis ${JSON.stringify(opts.save)}` : '',
        `(${seconds.toFixed(2)} s)`,
      ].filter((l, i, a) => l !== '' || i < a.length - 1);
      await writeOut(`${text.join('\n')}\n`);
    });
}

/** The basis (and, for --save, its range): streamed from --db, or with its passes on --engine. */
async function fitPca(opts: PcaCliOptions, kernel: KernelSize) {
  if (opts.engine !== undefined) {
    if (opts.db !== undefined) throw new UsageError('pca takes --db or --engine, not both');
    if (!isKernel3x3(kernel)) throw new UsageError('--engine analyses 3x3 filters only (no --kernel)');
    const { enginePca } = await import('../../engine/cli.js');
    return enginePca(opts.engine, { where: opts.where, range: Boolean(opts.save) }, writeNote);
  }
  if (opts.db === undefined) throw new UsageError('pca needs --db <file> or --engine <url>');
  let plan: Awaited<ReturnType<typeof planSelection>>;
  let empty: string | null = null;
  {
    const db = await openDb(opts.db, { readOnly: true });
    try {
      plan = await planSelection(db.connection, { where: opts.where, kernel });
      if (plan.filterCount === 0) empty = await noFiltersMessage(db.connection, plan);
    } finally {
      db.close();
    }
  }
  writeNote(nonFiniteNote(plan));
  if (empty !== null) throw new FilterDbError('unsupported', opts.db, empty);
  const bar = scanProgress('pca', plan.filterCount, opts.save ? 2 : 1);
  const { basis, range } = await storePca(opts.db, plan, {
    range: Boolean(opts.save),
    shareThisThread: true,
    onProgress: bar.onProgress,
  });
  bar.stop();
  return { plan, basis, range };
}
