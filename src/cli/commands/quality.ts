/** `filterdb quality <file>`: per-layer filter-quality table, JSON or CSV. */
import type { Command } from 'commander';
import { readModel } from '../../formats/detect.js';
import { isDegenerated } from '../../metrics/flags.js';
import { kernelFilter, planarShape, type QualityReport, qualityReport } from '../../metrics/layer-report.js';
import { openModelInput } from '../../node/file-source.js';
import { withQualityPool } from '../../node/parallel-quality.js';
import { UsageError, writeNote, writeOut } from '../context.js';
import { progressBar } from '../progress.js';
import { fmtNumber, renderCsv, renderTable } from '../table.js';

interface QualityCliOptions {
  json?: boolean;
  csv?: boolean;
  kernel: string;
  sparsityEps: string;
}

export function registerQuality(program: Command): void {
  program
    .command('quality')
    .description(
      'measure filter quality per conv layer (sparsity, variance entropy, orthogonality, norms) and flag degenerated layers',
    )
    .argument('<file>', 'model file or directory')
    .option('--json', 'print the JSON answer on stdout')
    .option('--csv', 'print one CSV row per layer on stdout')
    .option('--kernel <size>', 'which kernels to measure: all, or a size such as 3x3', 'all')
    .option('--sparsity-eps <E>', "sparsity threshold as a fraction of the layer's max |w|", '0.01')
    .action(async (file: string, opts: QualityCliOptions) => {
      if (opts.json && opts.csv) throw new UsageError('choose one of --json and --csv');
      const sparsityEps = Number(opts.sparsityEps);
      if (!(sparsityEps >= 0 && sparsityEps < 1))
        throw new UsageError(`--sparsity-eps must be in [0, 1), got ${opts.sparsityEps}`);
      const model = await readModel(await openModelInput(file));
      const bar = progressBar('measuring', model.layers.length);
      // Big models: layers on a worker pool (same results, bit for bit); small ones stay on this thread.
      const accept = kernelFilter(opts.kernel);
      const shapes = model.layers.flatMap((l) => {
        const planar = planarShape(l.shape);
        return planar && accept(planar) ? [planar] : [];
      });
      const report = await withQualityPool(shapes, (pool) =>
        qualityReport(model, {
          kernel: opts.kernel,
          sparsityEps,
          onLayer: (done, total) => bar.update(done, total),
          measureBatch: pool?.measureBatch,
        }),
      );
      bar.stop();
      // warnings go to stderr in every output mode, so --json and --csv pipelines still see them
      for (const w of report.warnings) writeNote(`warning: ${w}`);
      if (opts.json) await writeOut(JSON.stringify(report, null, 2) + '\n');
      else if (opts.csv) await writeOut(qualityCsv(report));
      else await writeOut(qualityText(report));
    });
}

const METRIC_KEYS = [
  'n',
  'sparsity',
  'varianceEntropy',
  'varianceEntropyNorm',
  'varianceEntropyClean',
  'varianceEntropyCleanNorm',
  'orthogonality',
  'normL1',
  'normL2',
  'normL1Norm',
  'normL2Norm',
] as const;

function qualityCsv(report: QualityReport): string {
  const headers = [
    'name',
    'op',
    'kind',
    'shape',
    'groups',
    'dtype',
    'convDepth',
    'convDepthNorm',
    ...METRIC_KEYS,
    'flags',
  ];
  const rows = report.layers.map((l) => [
    l.name,
    l.op,
    l.kind,
    l.shape.join('x'),
    l.groups,
    l.dtype,
    l.convDepth,
    l.convDepthNorm,
    ...METRIC_KEYS.map((k) => l.metrics[k]),
    l.flags.map((f) => f.id).join(' '),
  ]);
  return renderCsv(headers, rows);
}

function qualityText(report: QualityReport): string {
  const table = renderTable(
    [
      { header: 'layer' },
      { header: 'kind' },
      { header: 'shape' },
      { header: 'n', right: true },
      { header: 'sparsity', right: true },
      { header: 'var.ent', right: true },
      { header: 'var.ent.norm', right: true },
      { header: 'clean.norm', right: true },
      { header: 'orthog', right: true },
      { header: 'L2', right: true },
      { header: 'flags' },
    ],
    report.layers.map((l) => [
      l.name,
      l.kind ?? '?',
      l.shape.join('x'),
      l.metrics.n,
      fmtNumber(l.metrics.sparsity, 3),
      fmtNumber(l.metrics.varianceEntropy),
      fmtNumber(l.metrics.varianceEntropyNorm),
      fmtNumber(l.metrics.varianceEntropyCleanNorm),
      fmtNumber(l.metrics.orthogonality),
      fmtNumber(l.metrics.normL2),
      l.flags.map((f) => f.id).join(','),
    ]),
  );
  const flagged = report.layers.filter((l) => isDegenerated(l.flags));
  const lines = [
    `${report.file}: ${report.format}${report.producer ? ` (${report.producer})` : ''}`,
    '',
    table,
    '',
  ];
  lines.push(
    `${report.layers.length} layers measured, ${flagged.length} degenerated` +
      (report.skipped.length ? `, ${report.skipped.length} not measured (${skippedWhy(report)})` : ''),
  );
  for (const l of report.layers) {
    for (const f of l.flags) lines.push(`  ${l.name}: ${f.id}: ${f.reason}`);
  }
  if (report.warnings.length)
    lines.push(
      `${report.warnings.length} warning${report.warnings.length === 1 ? '' : 's'} from the reader (on stderr): convs it could not read are not counted above`,
    );
  return lines.join('\n') + '\n';
}

/** "3 kernel 1x1 not selected, 1 rank-2 weight": how many convs were skipped for each reason. */
export function skippedWhy(report: QualityReport): string {
  const counts = new Map<string, number>();
  for (const s of report.skipped) counts.set(s.reason, (counts.get(s.reason) ?? 0) + 1);
  return [...counts].map(([reason, n]) => `${n} ${reason}`).join(', ');
}
