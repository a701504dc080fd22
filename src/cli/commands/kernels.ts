/**
 * `filterdb kernels <file|--db zoo.duckdb> [--json] [--threshold T] [--margin M]`: the depthwise kernel atlas —
 * every k×k depthwise kernel (k odd ≥ 3) labelled by the rule in analysis/kernel-atlas.ts, with shares per
 * layer, per depth bin and per model.
 */
import type { Command } from 'commander';
import { atlasInputs } from '../../analysis/atlas-view.js';
import {
  type AtlasLayerInput,
  type AtlasThresholds,
  DEFAULT_THRESHOLDS,
  KERNEL_LABELS,
  type KernelLabel,
  type ModelAtlas,
  modelAtlas,
} from '../../analysis/kernel-atlas.js';
import { readModel } from '../../formats/detect.js';
import { openModelInput } from '../../node/file-source.js';
import { openDb } from '../../store/db.js';
import { readDepthwiseLayers } from '../../store/depthwise-read.js';
import { storedRule } from '../../store/kernel-pattern.js';
import { UsageError, writeNote, writeOut } from '../context.js';
import { renderTable } from '../table.js';

interface KernelsCliOptions {
  db?: string;
  json?: boolean;
  threshold: string;
  margin: string;
  chance: string;
}

interface Skipped {
  model: string;
  layer: string;
  reason: string;
}

export function registerKernels(program: Command): void {
  program
    .command('kernels')
    .description(
      'depthwise kernel atlas: label every k×k depthwise kernel (blob, centre-surround, edge, line, saddle, flat, unclassified)',
    )
    .argument('[file]', 'model file or directory')
    .option('--db <file>', 'DuckDB database: the stored filters of every depthwise layer')
    .option('--json', 'print JSON (every kernel: label, polarity, sigma, theta, shift, score, margin)')
    .option('--threshold <T>', 'minimum correlation of the best family', String(DEFAULT_THRESHOLDS.threshold))
    .option(
      '--margin <M>',
      "minimum lead over the runner-up family's correlation",
      String(DEFAULT_THRESHOLDS.margin),
    )
    .option(
      '--chance <Q>',
      'the best family must also beat this quantile of random kernels of the same size (0: off)',
      String(DEFAULT_THRESHOLDS.chance),
    )
    .action(async (file: string | undefined, opts: KernelsCliOptions) => {
      if (Boolean(file) === Boolean(opts.db))
        throw new UsageError('kernels takes a model file or --db, not both');
      const threshold = Number(opts.threshold);
      const margin = Number(opts.margin);
      if (!(threshold >= 0 && threshold <= 1))
        throw new UsageError(`--threshold takes 0…1, not ${opts.threshold}`);
      if (!(margin >= 0 && margin <= 1)) throw new UsageError(`--margin takes 0…1, not ${opts.margin}`);
      const chance = Number(opts.chance);
      if (!(chance >= 0 && chance < 1)) throw new UsageError(`--chance takes 0…1, not ${opts.chance}`);
      const skipped: Skipped[] = [];
      const models: { model: string; atlas: ModelAtlas }[] = [];
      const inputs = file
        ? [{ ...(await fileLayers(file)), stored: 0 }]
        : await dbLayers(opts.db!, { threshold, margin, chance }, skipped);
      for (const m of inputs)
        models.push({ model: m.model, atlas: modelAtlas(m.layers, { threshold, margin, chance }) });
      for (const s of skipped) writeNote(`${s.model} ${s.layer}: skipped (${s.reason})`);
      // layers whose labels were read from kernel_pattern rather than computed now
      const storedLayers = inputs.reduce((n, m) => n + m.stored, 0);
      if (opts.json) {
        await writeOut(
          `${JSON.stringify({ threshold, margin, chance, models: models.map((m) => ({ model: m.model, ...m.atlas })), skipped, storedLayers })}\n`,
        );
        return;
      }
      const pctCell = (v: number) => `${(v * 100).toFixed(1)}%`;
      const labelCols = KERNEL_LABELS.map((l) => ({ header: l, right: true }));
      const out: string[] = [];
      for (const { model, atlas } of models) {
        out.push(`${model}: ${atlas.layers.length} depthwise layers, ${atlas.kernelCount} kernels`);
        if (atlas.layers.length === 0) continue;
        const row = (shares: Record<KernelLabel, number>) => KERNEL_LABELS.map((l) => pctCell(shares[l]));
        out.push(
          renderTable(
            [
              { header: 'layer' },
              { header: 'k', right: true },
              { header: 'kernels', right: true },
              ...labelCols,
            ],
            [
              ...atlas.layers.map((l) => [l.layer, l.k, l.kernels.length, ...row(l.shares)]),
              ...atlas.byDepth.map((b) => [`depth ${b.bin}`, '', b.kernels, ...row(b.shares)]),
              ['model', '', atlas.kernelCount, ...row(atlas.shares)],
            ],
          ),
          '',
        );
      }
      out.push(
        `threshold max(${threshold}, chance score at k, quantile ${chance}), margin ${margin}; per size: ${sizeThresholds(models)}${opts.db ? `; labels of ${storedLayers} layers read from the database (kernel_pattern), the others computed from the stored filters` : ''}`,
      );
      await writeOut(`${out.join('\n')}\n`);
    });
}

/** "3x3 0.921, 5x5 0.75": the threshold each kernel size met. */
function sizeThresholds(models: { atlas: ModelAtlas }[]): string {
  const bySize = new Map<number, number>();
  for (const m of models) for (const l of m.atlas.layers) bySize.set(l.k, l.threshold);
  return (
    [...bySize]
      .sort((a, b) => a[0] - b[0])
      .map(([k, t]) => `${k}x${k} ${t.toFixed(3)}`)
      .join(', ') || 'none'
  );
}

async function fileLayers(file: string): Promise<{ model: string; layers: AtlasLayerInput[] }> {
  const model = await readModel(await openModelInput(file));
  return { model: model.source, layers: await atlasInputs(model.layers) };
}

/**
 * Every model's depthwise layers: their stored labels (`kernel_pattern`, written at ingest with the default
 * thresholds) when the thresholds asked for are the ones they were computed with, else labelled again from the
 * stored filters (store/depthwise-read.ts; a layer with neither is skipped).
 */
async function dbLayers(
  path: string,
  thresholds: AtlasThresholds,
  skipped: Skipped[],
): Promise<{ model: string; layers: AtlasLayerInput[]; stored: number }[]> {
  const db = await openDb(path, { readOnly: true });
  try {
    const con = db.connection;
    const rule = await storedRule(con);
    const useStored =
      rule !== null &&
      rule.threshold === thresholds.threshold &&
      rule.margin === thresholds.margin &&
      (rule.chance ?? 0) === (thresholds.chance ?? 0);
    const r = await readDepthwiseLayers(con, { storedLabels: useStored });
    skipped.push(...r.skipped.map((s) => ({ model: s.model, layer: s.layer ?? '', reason: s.reason })));
    return r.models;
  } finally {
    db.close();
  }
}
