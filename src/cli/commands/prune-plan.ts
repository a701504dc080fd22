/** `filterdb prune-plan <file>`: which output filters L1 / L2 / FPGM would prune, as a table, JSON and an .npz mask. */
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { readModel } from '../../formats/detect.js';
import { encodeNpz, type NpyArray } from '../../formats/io/npz.js';
import {
  keepMask,
  PRUNE_CRITERIA,
  type PruneCriterion,
  type PrunePlan,
  prunePlan,
} from '../../metrics/prune.js';
import { openModelInput } from '../../node/file-source.js';
import { UsageError, writeNote, writeOut } from '../context.js';
import { renderTable } from '../table.js';

interface PruneCliOptions {
  criterion: string;
  ratio: string;
  perLayer?: boolean;
  json?: boolean;
  mask?: string;
}

export function registerPrunePlan(program: Command): void {
  program
    .command('prune-plan')
    .description('data-free pruning plan per conv: L1 / L2 / FPGM filter scores, dead filters first, savings')
    .argument('<file>', 'model file or directory')
    .option('--criterion <c>', `filter score: ${PRUNE_CRITERIA.join(', ')}`, 'l1')
    .option('--ratio <R>', 'share of filters to prune, in [0, 1)', '0.3')
    .option(
      '--per-layer',
      'prune the ratio in every layer (default: one global ranking of layer-normalised scores)',
    )
    .option('--json', 'print the plan as JSON on stdout')
    .option('--mask <out.npz>', 'write keep-masks (numpy .npz, one boolean array per conv, true = keep)')
    .action(async (file: string, opts: PruneCliOptions) => {
      if (!PRUNE_CRITERIA.includes(opts.criterion as PruneCriterion))
        throw new UsageError(
          `--criterion must be one of ${PRUNE_CRITERIA.join(', ')}, got ${opts.criterion}`,
        );
      const ratio = Number(opts.ratio);
      if (!(ratio >= 0 && ratio < 1)) throw new UsageError(`--ratio must be in [0, 1), got ${opts.ratio}`);
      const model = await readModel(await openModelInput(file));
      const plan = await prunePlan(model.layers, {
        criterion: opts.criterion as PruneCriterion,
        ratio,
        perLayer: opts.perLayer === true,
      });
      if (opts.mask) {
        await writeFile(opts.mask, maskArchive(plan));
        writeNote(`wrote ${plan.layers.length} masks to ${opts.mask}`);
      }
      const answer = { file: model.source, format: model.format, ...plan };
      if (opts.json) await writeOut(JSON.stringify(answer, null, 2) + '\n');
      else await writeOut(planText(answer));
    });
}

/** One boolean keep-mask per conv, keyed by the layer's name, shaped like its (normalised) weight. */
export function maskArchive(plan: PrunePlan): Uint8Array {
  const arrays = new Map<string, NpyArray>();
  for (const l of plan.layers) arrays.set(l.name, { dtype: 'bool', shape: l.shape, data: keepMask(l) });
  return encodeNpz(arrays);
}

function planText(plan: PrunePlan & { file: string; format: string }): string {
  const table = renderTable(
    [
      { header: 'layer' },
      { header: 'kind' },
      { header: 'shape' },
      { header: 'filters', right: true },
      { header: 'dead', right: true },
      { header: 'pruned', right: true },
      { header: 'params removed', right: true },
      { header: 'note' },
    ],
    plan.layers.map((l) => [
      l.name,
      l.kind ?? '?',
      l.shape.join('x'),
      l.filters,
      l.dead.length,
      l.prune.length,
      l.paramsRemoved,
      l.note ?? '',
    ]),
  );
  const t = plan.totals;
  const pct = (a: number, b: number) => (b > 0 ? ((100 * a) / b).toFixed(1) : '0.0');
  return [
    `${plan.file}: ${plan.format}; criterion ${plan.criterion}, ratio ${plan.ratio} (${plan.mode})`,
    '',
    table,
    '',
    `${t.pruned} of ${t.filters} filters pruned (${pct(t.pruned, t.filters)}%; ${t.dead} dead), ${t.paramsRemoved} of ${t.params} conv weights removed (${pct(t.paramsRemoved, t.params)}%)`,
    `MACs: not computed (${t.macsNote})`,
    '',
  ].join('\n');
}
