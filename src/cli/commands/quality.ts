/** `filterdb quality <file>`: per-layer filter-quality table, JSON or CSV. */
import type { Command } from 'commander';
import { readModel } from '../../formats/detect.js';
import { isDegenerated } from '../../metrics/flags.js';
import { INIT_METRIC_KEYS, INIT_RULES, type InitRule } from '../../metrics/init-distance.js';
import { kernelFilter, planarShape, type QualityReport, qualityReport } from '../../metrics/layer-report.js';
import { SPECTRAL_KEYS } from '../../metrics/spectral.js';
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
  spectral?: boolean;
  init?: boolean;
  initRule?: string;
  initDraws?: string;
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
    .option('--spectral', 'also WeightWatcher-style spectral metrics (alpha, D, xmin, norms, ranks, entropy)')
    .option('--init', "also the distance from random initialisation (rule chosen by the file's format)")
    .option(
      '--init-rule <rule>',
      `initialisation rule for --init: ${INIT_RULES.join(' or ')} (implies --init)`,
    )
    .option(
      '--init-draws <N>',
      'simulated random layers per shape for --init (default: 1000, fewer for big layers)',
    )
    .action(async (file: string, opts: QualityCliOptions) => {
      if (opts.json && opts.csv) throw new UsageError('choose one of --json and --csv');
      if (opts.initRule !== undefined && !INIT_RULES.includes(opts.initRule as InitRule))
        throw new UsageError(`--init-rule must be one of ${INIT_RULES.join(', ')}, got ${opts.initRule}`);
      const initDraws = opts.initDraws === undefined ? undefined : Number(opts.initDraws);
      if (initDraws !== undefined && !(Number.isInteger(initDraws) && initDraws >= 10 && initDraws <= 100000))
        throw new UsageError(`--init-draws must be an integer in [10, 100000], got ${opts.initDraws}`);
      const init =
        opts.init || opts.initRule !== undefined
          ? { rule: (opts.initRule as InitRule | undefined) ?? ('auto' as const), draws: initDraws }
          : undefined;
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
          spectral: opts.spectral === true,
          init,
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

/** The CSV's metric columns: n, then every metric (the list the init distance compares). */
const METRIC_KEYS = ['n', ...INIT_METRIC_KEYS] as const;

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
  const spectral = report.layers.some((l) => l.trainingFlags !== undefined);
  const init = report.initRule !== undefined;
  if (spectral) headers.push(...SPECTRAL_KEYS, 'spectralReason', 'trainingFlags');
  if (init)
    headers.push(
      'initRule',
      'nearInit',
      'initScore',
      'initThreshold',
      ...INIT_METRIC_KEYS.map((k) => `${k}InitPercentile`),
    );
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
    ...(spectral
      ? [
          ...SPECTRAL_KEYS.map((k) => l.metrics[k] ?? null),
          l.spectralReason ?? null,
          (l.trainingFlags ?? []).map((f) => f.id).join(' '),
        ]
      : []),
    ...(init
      ? [
          report.initRule ?? null,
          l.init ? String(l.init.nearInit) : null,
          l.init?.score ?? null,
          l.init?.threshold ?? null,
          ...INIT_METRIC_KEYS.map((k) => l.init?.metrics[k]?.percentile ?? null),
        ]
      : []),
  ]);
  return renderCsv(headers, rows);
}

function qualityText(report: QualityReport): string {
  const spectral = report.layers.some((l) => l.trainingFlags !== undefined);
  const init = report.initRule !== undefined;
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
      ...(spectral
        ? [
            { header: 'alpha', right: true },
            { header: 'log.spec', right: true },
          ]
        : []),
      ...(init ? [{ header: 'init.score', right: true }] : []),
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
      ...(spectral ? [fmtNumber(l.metrics.alpha ?? null), fmtNumber(l.metrics.logSpectralNorm ?? null)] : []),
      ...(init ? [l.init?.score == null ? '-' : fmtNumber(l.init.score)] : []),
      [
        ...l.flags.map((f) => f.id),
        ...(l.trainingFlags ?? []).map((f) => f.id),
        ...(l.init?.nearInit ? ['near-init'] : []),
      ].join(','),
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
  if (spectral) {
    const warned = report.layers.filter((l) => (l.trainingFlags ?? []).length > 0);
    lines.push(
      `spectral (WeightWatcher conventions): ${warned.length} layer${warned.length === 1 ? '' : 's'} outside 2 ≤ alpha ≤ 6`,
    );
    const reasons = new Map<string, string[]>();
    for (const l of report.layers) {
      for (const f of l.trainingFlags ?? []) lines.push(`  ${l.name}: ${f.id}: ${f.reason}`);
      if (l.spectralReason) reasons.set(l.spectralReason, [...(reasons.get(l.spectralReason) ?? []), l.name]);
    }
    // one line per reason (a depthwise model has dozens of layers skipped for the same one)
    for (const [reason, names] of reasons)
      lines.push(
        `  no spectral metrics for ${names.length === 1 ? names[0] : `${names.length} layers (${names.slice(0, 3).join(', ')}${names.length > 3 ? ', …' : ''})`}: ${reason}`,
      );
  }
  if (init) {
    const near = report.layers.filter((l) => l.init?.nearInit);
    lines.push(`distance from random initialisation (${report.initRule}): ${near.length} near-init`);
    for (const l of near) lines.push(`  ${l.name}: near-init: ${l.init?.reason}`);
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
