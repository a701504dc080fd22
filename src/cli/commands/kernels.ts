/**
 * `filterdb kernels <file|--db zoo.duckdb> [--json] [--threshold T] [--margin M]`: the depthwise kernel atlas —
 * every k×k depthwise kernel (k odd ≥ 3) labelled by the rule in analysis/kernel-atlas.ts, with shares per
 * layer, per depth bin and per model.
 */
import type { Command } from 'commander';
import {
  type AtlasLayerInput,
  DEFAULT_THRESHOLDS,
  isAtlasShape,
  KERNEL_LABELS,
  type KernelLabel,
  type ModelAtlas,
  modelAtlas,
} from '../../analysis/kernel-atlas.js';
import { readModel } from '../../formats/detect.js';
import { openModelInput } from '../../node/file-source.js';
import { openDb } from '../../store/db.js';
import { readStoredFilters } from '../../store/filter-read.js';
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
      const inputs = file ? [await fileLayers(file)] : await dbLayers(opts.db!, skipped);
      for (const m of inputs)
        models.push({ model: m.model, atlas: modelAtlas(m.layers, { threshold, margin, chance }) });
      for (const s of skipped) writeNote(`${s.model} ${s.layer}: skipped (${s.reason})`);
      if (opts.json) {
        await writeOut(
          `${JSON.stringify({ threshold, margin, chance, models: models.map((m) => ({ model: m.model, ...m.atlas })), skipped })}\n`,
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
        `threshold max(${threshold}, chance score at k, quantile ${chance}), margin ${margin}; per size: ${sizeThresholds(models)}`,
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
  const layers: AtlasLayerInput[] = [];
  for (const l of model.layers) {
    if (l.kind !== 'depthwise' || !isAtlasShape(l.shape)) continue;
    layers.push({
      layer: l.name,
      shape: l.shape,
      convDepthNorm: l.convDepthNorm,
      weight: await l.loadWeight(),
    });
  }
  return { model: model.source, layers };
}

/** Every model's depthwise layers from their stored filters (a layer whose filters were not stored is skipped). */
async function dbLayers(
  path: string,
  skipped: Skipped[],
): Promise<{ model: string; layers: AtlasLayerInput[] }[]> {
  const db = await openDb(path, { readOnly: true });
  try {
    const con = db.connection;
    const rows = (
      await con.runAndReadAll(
        `SELECT m.name, l.layer_id, l.name, l.shape, l.conv_depth_norm, l.filter_table, l.first_filter_id,
                l.filter_count
         FROM models m JOIN layers l ON l.model_id = m.model_id
         WHERE l.kind = 'depthwise'
         ORDER BY m.model_id, l.layer_index`,
      )
    ).getRowsJS();
    const out = new Map<string, AtlasLayerInput[]>();
    for (const r of rows) {
      const model = String(r[0]);
      const layer = String(r[2]);
      const shape = ((r[3] as number[] | null) ?? []).map(Number);
      if (!out.has(model)) out.set(model, []);
      if (!isAtlasShape(shape)) continue;
      const k = shape[2];
      if (r[5] === null || Number(r[7]) !== shape[0]) {
        skipped.push({
          model,
          layer,
          reason: `its ${k}x${k} filters are not stored (ingest with --kernel all)`,
        });
        continue;
      }
      const weight = await readStoredFilters(con, {
        layerId: Number(r[1]),
        table: r[5] === 'filters' ? 'filters' : 'filters_other',
        firstFilterId: Number(r[6]),
        count: shape[0],
        perFilter: k * k,
      });
      if (!weight) {
        skipped.push({ model, layer, reason: 'its stored filters are incomplete' });
        continue;
      }
      out.get(model)!.push({ layer, shape, convDepthNorm: Number(r[4]), weight });
    }
    return [...out.entries()].map(([model, layers]) => ({ model, layers }));
  } finally {
    db.close();
  }
}
