/**
 * The kernel atlas and the first-layer energy profiles of stored models, as the database report and the
 * server show them: filters read back (depthwise-read.ts, first-layer-read.ts), labelled and measured by the
 * one definition in analysis/ (kernel-atlas.ts, energy.ts).
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { type AtlasView, atlasView } from '../analysis/atlas-view.js';
import { dctEnergy, profileCorrelation } from '../analysis/energy.js';
import { KERNEL_LABELS, modelAtlas, summariseAtlas } from '../analysis/kernel-atlas.js';
import type { ReportEnergy } from '../report/atlas-section.js';
import { readDepthwiseLayers, type SkippedLayer } from './depthwise-read.js';
import { readFirstLayers } from './first-layer-read.js';

export interface StoredAtlas {
  /** Over every selected model's depthwise kernels (layers named "model / layer" when several models). */
  view: AtlasView | null;
  models: { modelId: number; name: string; kernels: number; shares: AtlasView['shares'] }[];
  skipped: SkippedLayer[];
}

/** The atlas of every stored model, or of one (`modelId`). */
export async function storedAtlas(
  con: DuckDBConnection,
  options: { modelId?: number; examples?: number } = {},
): Promise<StoredAtlas> {
  const { models, skipped } = await readDepthwiseLayers(con, options);
  const several = options.modelId === undefined;
  const named = (model: string, layer: string) => (several ? `${model} / ${layer}` : layer);
  const perModel = models.map((m) => ({ m, atlas: modelAtlas(m.layers) }));
  const inputs = perModel.flatMap(({ m }) => m.layers.map((l) => ({ ...l, layer: named(m.model, l.layer) })));
  const results = perModel.flatMap(({ m, atlas }) =>
    atlas.layers.map((l) => ({ ...l, layer: named(m.model, l.layer) })),
  );
  const empty = Object.fromEntries(KERNEL_LABELS.map((l) => [l, 0])) as AtlasView['shares'];
  return {
    view: inputs.length ? atlasView(inputs, summariseAtlas(results), { examples: options.examples }) : null,
    models: perModel.map(({ m, atlas }) => ({
      modelId: m.modelId,
      name: m.model,
      kernels: atlas.kernelCount,
      shares: atlas.kernelCount ? atlas.shares : empty,
    })),
    skipped,
  };
}

export interface StoredEnergy {
  models: (ReportEnergy & { modelId: number })[];
  /** Pearson correlation of the profiles (null where the patch spaces differ). */
  correlation: (number | null)[][];
  skipped: SkippedLayer[];
}

/** The first-layer energy profile (DCT basis) of every stored model, or of one, and their correlations. */
export async function storedEnergy(
  con: DuckDBConnection,
  options: { modelId?: number } = {},
): Promise<StoredEnergy> {
  const models: StoredEnergy['models'] = [];
  const skipped: SkippedLayer[] = [];
  for (const f of await readFirstLayers(con, options)) {
    if ('reason' in f) {
      skipped.push({ model: f.model, layer: f.layer, reason: f.reason });
      continue;
    }
    const e = dctEnergy(f.weights, f.shape);
    models.push({
      modelId: f.modelId!,
      model: f.model,
      layer: f.layer,
      shape: f.shape,
      filters: e.filters,
      profile: e.profile,
      labels: e.labels,
    });
  }
  return { models, correlation: profileCorrelation(models.map((m) => m.profile)), skipped };
}
