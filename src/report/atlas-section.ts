/**
 * The report sections of the depthwise kernel atlas and the first-layer energy profile, shared by the model
 * report and the database (zoo) report: data in (analysis/atlas-view.ts, analysis/energy.ts), HTML out.
 */
import type { AtlasView } from '../analysis/atlas-view.js';
import { KERNEL_LABELS } from '../analysis/kernel-atlas.js';
import { escapeHtml as esc, figure, figureRow, type HtmlSection, htmlTable } from './html.js';
import { atlasDepthSvg, atlasExamplesSvg, atlasPrototypesSvg } from './svg/atlas.js';
import { fmt, pct } from './svg/core.js';
import { energyCorrelationSvg, energyProfileSvg } from './svg/energy.js';

/** One model's first-layer energy profile as the reports show it. */
export interface ReportEnergy {
  model: string;
  layer: string;
  shape: number[];
  filters: number;
  /** E / max E per basis vector. */
  profile: number[];
  /** One label per basis vector. */
  labels: string[];
}

const PATTERN_HELP =
  'Every depthwise kernel ([C, 1, k, k], k odd) labelled by the correlation of its mean-removed values with Gaussian-derivative prototypes (the affine model a·p + b of Babaiee et al., ICLR 2024): ' +
  'blob (Gaussian), centre-surround (difference of Gaussians), edge (first derivative), line (second derivative across a ridge), saddle; ' +
  'flat kernels are near-constant; unclassified ones fit no prototype beyond what random kernels of the same size reach.';

/** A table of per-row label shares (layers or models). */
export function atlasSharesTable(
  rows: readonly { name: string; k?: number; kernels: number; shares: AtlasView['shares'] }[],
  nameHeader: string,
): string {
  const withK = rows.some((r) => r.k !== undefined);
  return htmlTable(
    [
      { header: nameHeader, cls: 'name' },
      ...(withK ? [{ header: 'k', numeric: true }] : []),
      { header: 'kernels', numeric: true },
      ...KERNEL_LABELS.map((l) => ({ header: l, numeric: true })),
    ],
    rows.map((r) => [
      { html: esc(r.name), sort: r.name },
      ...(withK ? [r.k ?? null] : []),
      r.kernels,
      ...KERNEL_LABELS.map((l) => ({ html: esc(pct(r.shares[l])), sort: r.shares[l] })),
    ]),
  );
}

/** The atlas section: shares per depth, then per kernel size the prototypes and the example grid. */
export function atlasSection(view: AtlasView | null, table: string, note?: string): HtmlSection {
  if (!view || view.kernelCount === 0) {
    return {
      id: 'atlas',
      title: 'Depthwise kernel atlas',
      intro: `<p class="muted">${esc(note ?? 'No depthwise layers with odd k×k kernels (k ≥ 3).')}</p>`,
      body: '',
    };
  }
  const labelled = 1 - view.shares.unclassified - view.shares.flat;
  let body = figure(
    atlasDepthSvg(view.byDepth, {
      title: 'Patterns by depth',
      subtitle: `${view.kernelCount.toLocaleString('en-US')} depthwise kernels`,
      embedStyle: false,
    }),
  );
  for (const size of view.sizes) {
    body += `<h3>${size.k}×${size.k} kernels <span class="muted">(${size.kernels.toLocaleString('en-US')}; threshold ${esc(fmt(size.threshold))})</span></h3>`;
    body += figureRow(
      figure(
        atlasPrototypesSvg(size, { title: 'Prototypes', embedStyle: false }),
        'Each pattern’s prototype at the median σ of its kernels; share and count of the kernels it labels.',
      ),
    );
    body += figure(
      atlasExamplesSvg(size, { title: 'Examples per pattern', embedStyle: false }),
      'Kernels with each label, highest score (closest to a prototype) first, each on its own colour range. Hover a kernel for its layer and score.',
    );
  }
  return {
    id: 'atlas',
    title: 'Depthwise kernel atlas',
    intro:
      `<p>${esc(PATTERN_HELP)}</p>` +
      `<p><strong>${pct(labelled)}</strong> of ${view.kernelCount.toLocaleString('en-US')} depthwise kernels fall into a pattern (${KERNEL_LABELS.map((l) => `${esc(l)} ${pct(view.shares[l])}`).join(', ')}).</p>` +
      (note ? `<p class="muted">${esc(note)}</p>` : ''),
    body: body + table,
  };
}

/** The energy section: the profile plot (one line per model) and, for several models, the correlation heat-map. */
export function energySection(
  energies: readonly ReportEnergy[],
  correlation: (number | null)[][] | null,
  note?: string,
): HtmlSection {
  if (!energies.length) {
    return {
      id: 'energy',
      title: 'First-layer energy profile',
      intro: `<p class="muted">${esc(note ?? 'No first convolution layer to measure.')}</p>`,
      body: '',
    };
  }
  const one = energies.length === 1 ? energies[0] : null;
  const plots = [
    figure(
      energyProfileSvg(
        energies.map((e) => ({ label: e.model, profile: e.profile })),
        {
          title: 'Energy vs basis index',
          subtitle: one
            ? `${one.layer} · ${one.shape.join('×')} · ${one.filters} filters · 2-D DCT-II basis`
            : `${energies.length} models · 2-D DCT-II basis per channel`,
          embedStyle: false,
          width: 520,
          height: 280,
        },
      ),
      'Basis vectors ordered by spatial frequency (index 0…C−1: the channels’ DC). A steep fall means the filters are smooth.',
    ),
  ];
  if (correlation && energies.length > 1) {
    plots.push(
      figure(
        energyCorrelationSvg(
          { models: energies.map((e) => e.model), matrix: correlation },
          { title: 'Correlation of the profiles', subtitle: 'Pearson r', embedStyle: false },
        ),
        'Pearson correlation between two models’ profiles; grey where their patch spaces differ.',
      ),
    );
  }
  let table = '';
  if (one) {
    const top = one.profile
      .map((v, i) => ({ v, i }))
      .sort((a, b) => b.v - a.v || a.i - b.i)
      .slice(0, 8);
    table = htmlTable(
      [
        { header: 'basis vector' },
        { header: 'index', numeric: true },
        { header: 'energy / max', numeric: true },
      ],
      top.map((t) => [one.labels[t.i] ?? '', t.i, t.v]),
      { caption: 'The eight strongest basis vectors' },
    );
  }
  return {
    id: 'energy',
    title: 'First-layer energy profile',
    intro:
      '<p>The energy of the first conv layer’s filters along each vector uᵢ of an orthonormal basis of its C·k·k patch space, Eᵢ = (1/F)·√(Σ_f ⟨w_f, uᵢ⟩²), divided by its maximum (“What do CNNs learn in the first layer and why?”). ' +
      'The basis is the per-channel 2-D DCT-II ordered by frequency, the data-free stand-in for the PCA of natural-image patches.</p>' +
      (note ? `<p class="muted">${esc(note)}</p>` : ''),
    body: figureRow(...plots) + table,
  };
}
