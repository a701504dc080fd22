/**
 * The depthwise kernel atlas and the first-layer energy profile in the app: for a database model (GET
 * /api/models/:id/atlas and /energy), for a dropped file (the worker's modelReportData), and across the
 * database (GET /api/energy). The plots are the report's own (src/report/svg): data in, SVG out.
 */
import type { AtlasView } from '../../src/analysis/atlas-view.js';
import { KERNEL_LABELS } from '../../src/analysis/kernel-atlas.js';
import type { ReportEnergy } from '../../src/report/atlas-section.js';
import {
  atlasDepthSvg,
  atlasExamplesSvg,
  atlasPrototypesSvg,
  energyCorrelationSvg,
  energyProfileSvg,
} from '../../src/report/svg/index.js';
import { getJson } from './api.js';
import { APP_PLOT, errorBox, h, loading, svgFigure } from './ui.js';

interface Skipped {
  model: string;
  layer: string | null;
  reason: string;
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

function skippedNote(skipped: readonly Skipped[]): HTMLElement | '' {
  if (!skipped.length) return '';
  return h(
    'p',
    { class: 'muted small' },
    `Skipped: ${skipped.map((s) => `${s.layer ?? s.model} (${s.reason})`).join('; ')}`,
  );
}

/** The atlas: shares by depth, then per kernel size the prototypes and the example grid. */
export function atlasFigures(view: AtlasView | null, skipped: readonly Skipped[] = []): HTMLElement {
  const box = h('div', { id: 'atlas', class: 'atlas' });
  if (!view || view.kernelCount === 0) {
    box.append(
      h('p', { class: 'muted' }, 'No depthwise layers with odd k×k kernels (k ≥ 3).'),
      skippedNote(skipped),
    );
    return box;
  }
  const labelled = 1 - view.shares.unclassified - view.shares.flat;
  box.append(
    h(
      'p',
      { id: 'atlas-summary' },
      h('b', {}, pct(labelled)),
      ` of ${view.kernelCount.toLocaleString('en-US')} depthwise kernels fall into a pattern (`,
      KERNEL_LABELS.map((l) => `${l} ${pct(view.shares[l])}`).join(', '),
      ').',
    ),
    skippedNote(skipped),
    svgFigure(
      atlasDepthSvg(view.byDepth, { title: 'Patterns by depth', ...APP_PLOT }),
      undefined,
      'atlas-depth',
    ),
  );
  for (const size of view.sizes) {
    box.append(
      h('h3', {}, `${size.k}×${size.k} kernels (${size.kernels.toLocaleString('en-US')})`),
      h(
        'div',
        { class: 'figs' },
        svgFigure(
          atlasPrototypesSvg(size, { title: 'Prototypes', ...APP_PLOT }),
          'Each pattern’s prototype at the median σ of its kernels; share and count.',
          'atlas-prototypes',
        ),
      ),
      svgFigure(
        atlasExamplesSvg(size, { title: 'Examples per pattern', ...APP_PLOT }),
        'Kernels with each label, highest score first, each on its own colour range. Hover for layer and score.',
        'atlas-examples',
      ),
    );
  }
  return box;
}

/** The energy profile of one model's first layer (or of several, with their correlation matrix). */
export function energyFigures(
  energies: readonly ReportEnergy[],
  correlation: (number | null)[][] | null = null,
  skipped: readonly Skipped[] = [],
): HTMLElement {
  const box = h('div', { id: 'energy', class: 'energy' });
  if (!energies.length) {
    box.append(h('p', { class: 'muted' }, 'No first convolution layer to measure.'), skippedNote(skipped));
    return box;
  }
  const one = energies.length === 1 ? energies[0] : null;
  box.append(
    skippedNote(skipped),
    h(
      'div',
      { class: 'figs' },
      svgFigure(
        energyProfileSvg(
          energies.map((e) => ({ label: e.model, profile: e.profile })),
          {
            title: 'Energy vs basis index',
            subtitle: one
              ? `${one.layer} · ${one.shape.join('×')} · 2-D DCT-II basis`
              : `${energies.length} models · 2-D DCT-II basis`,
            ...APP_PLOT,
            width: 520,
            height: 280,
          },
        ),
        'Energy of the first layer’s filters along each DCT basis vector, over its maximum (log scale).',
        'energy-profile',
      ),
      correlation && energies.length > 1
        ? svgFigure(
            energyCorrelationSvg(
              { models: energies.map((e) => e.model), matrix: correlation },
              { title: 'Correlation of the profiles', ...APP_PLOT },
            ),
            'Pearson correlation of two models’ profiles; grey where their patch spaces differ.',
            'energy-correlation',
          )
        : '',
    ),
  );
  return box;
}

/** A section that fills itself from the server once it is on the page. */
function lazySection(title: string, fill: () => Promise<HTMLElement>): HTMLElement[] {
  const body = h('div', {}, loading());
  fill().then(
    (el) => body.replaceChildren(el),
    (e) => body.replaceChildren(errorBox((e as Error).message)),
  );
  return [h('h2', {}, title), body];
}

/** The model page's atlas and energy sections (fetched from the server). */
export function modelAtlasSections(modelId: number | string): HTMLElement[] {
  const id = encodeURIComponent(String(modelId));
  return [
    ...lazySection('Depthwise kernel atlas', async () => {
      const r = await getJson<{ view: AtlasView | null; skipped: Skipped[] }>(`/api/models/${id}/atlas`);
      return atlasFigures(r.view, r.skipped);
    }),
    ...lazySection('First-layer energy profile', async () => {
      const r = await getJson<{ energy: ReportEnergy | null; skipped: Skipped[] }>(
        `/api/models/${id}/energy`,
      );
      return energyFigures(r.energy ? [r.energy] : [], null, r.skipped);
    }),
  ];
}

/** The models page's energy section: every model's profile and their correlation matrix. */
export function databaseEnergySection(): HTMLElement[] {
  return lazySection('First-layer energy across the database', async () => {
    const r = await getJson<{
      models: ReportEnergy[];
      correlation: (number | null)[][];
      skipped: Skipped[];
    }>('/api/energy');
    return energyFigures(r.models, r.correlation, r.skipped);
  });
}

/** The dropped file's atlas and energy sections (computed in the worker). */
export function droppedAtlasSections(atlas: AtlasView | null, energy: ReportEnergy | null): HTMLElement[] {
  return [
    h('h2', {}, 'Depthwise kernel atlas'),
    atlasFigures(atlas),
    h('h2', {}, 'First-layer energy profile'),
    energyFigures(energy ? [energy] : []),
  ];
}
