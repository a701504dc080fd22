/**
 * `filterdb kernels <file|--db zoo.duckdb> [--json] [--threshold T] [--margin M]`: the depthwise kernel atlas —
 * every k×k depthwise kernel (k odd ≥ 3) labelled by the rule in analysis/kernel-atlas.ts, with shares per
 * layer, per depth bin and per model.
 */
import type { Command } from 'commander';
import {
  type AtlasLayerInput,
  type AtlasThresholds,
  DEFAULT_THRESHOLDS,
  isAtlasShape,
  KERNEL_LABELS,
  type KernelClass,
  type KernelLabel,
  type ModelAtlas,
  modelAtlas,
} from '../../analysis/kernel-atlas.js';
import { readModel } from '../../formats/detect.js';
import { openModelInput } from '../../node/file-source.js';
import { openDb } from '../../store/db.js';
import { readStoredFilters } from '../../store/filter-read.js';
import { readKernelPatterns, storedRule } from '../../store/kernel-pattern.js';
import { UsageError, writeNote, writeOut } from '../context.js';
import { renderTable } from '../table.js';

interface KernelsCliOptions {
  db?: string;
  json?: boolean;
  threshold: string;
  margin: string;
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
    .action(async (file: string | undefined, opts: KernelsCliOptions) => {
      if (Boolean(file) === Boolean(opts.db))
        throw new UsageError('kernels takes a model file or --db, not both');
      const threshold = Number(opts.threshold);
      const margin = Number(opts.margin);
      if (!(threshold >= 0 && threshold <= 1))
        throw new UsageError(`--threshold takes 0…1, not ${opts.threshold}`);
      if (!(margin >= 0 && margin <= 1)) throw new UsageError(`--margin takes 0…1, not ${opts.margin}`);
      const skipped: Skipped[] = [];
      const models: { model: string; atlas: ModelAtlas }[] = [];
      const inputs = file
        ? [{ ...(await fileLayers(file)), stored: 0 }]
        : await dbLayers(opts.db!, { threshold, margin }, skipped);
      for (const m of inputs)
        models.push({ model: m.model, atlas: modelAtlas(m.layers, { threshold, margin }) });
      for (const s of skipped) writeNote(`${s.model} ${s.layer}: skipped (${s.reason})`);
      // layers whose labels were read from kernel_pattern rather than computed now
      const storedLayers = inputs.reduce((n, m) => n + m.stored, 0);
      if (opts.json) {
        await writeOut(
          `${JSON.stringify({ threshold, margin, models: models.map((m) => ({ model: m.model, ...m.atlas })), skipped, storedLayers })}\n`,
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
        `threshold ${threshold}, margin ${margin}${opts.db ? `; labels of ${storedLayers} layers read from the database (kernel_pattern), the others computed from the stored filters` : ''}`,
      );
      await writeOut(`${out.join('\n')}\n`);
    });
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

/**
 * Every model's depthwise layers: their stored labels (`kernel_pattern`, written at ingest with the default
 * thresholds) when the thresholds asked for are the ones they were computed with, else labelled again from the
 * stored filters (a layer with neither is skipped).
 */
async function dbLayers(
  path: string,
  thresholds: AtlasThresholds,
  skipped: Skipped[],
): Promise<{ model: string; layers: AtlasLayerInput[]; stored: number }[]> {
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
    const rule = await storedRule(con);
    const useStored =
      rule !== null && rule.threshold === thresholds.threshold && rule.margin === thresholds.margin;
    const stored = useStored
      ? await readKernelPatterns(
          con,
          rows.map((r) => Number(r[1])),
        )
      : new Map<number, KernelClass[]>();
    const out = new Map<string, { layers: AtlasLayerInput[]; stored: number }>();
    for (const r of rows) {
      const model = String(r[0]);
      const layer = String(r[2]);
      const shape = ((r[3] as number[] | null) ?? []).map(Number);
      if (!out.has(model)) out.set(model, { layers: [], stored: 0 });
      const entry = out.get(model)!;
      if (!isAtlasShape(shape)) continue;
      const k = shape[2];
      const convDepthNorm = Number(r[4]);
      const kernels = stored.get(Number(r[1]));
      if (kernels && kernels.length === shape[0] && kernels.every((x) => x !== undefined)) {
        entry.layers.push({ layer, shape, convDepthNorm, kernels });
        entry.stored++;
        continue;
      }
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
      entry.layers.push({ layer, shape, convDepthNorm, weight });
    }
    return [...out.entries()].map(([model, e]) => ({ model, ...e }));
  } finally {
    db.close();
  }
}
