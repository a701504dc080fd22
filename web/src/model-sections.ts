/**
 * The sections of a model's page, in one order for the database model page and the dropped-file page, and
 * the filter-basis figures both show.
 */
import { cumulativeVarianceSvg, eigenImagesSvg } from '../../src/report/svg/index.js';
import { dataDownloads, layerRows, layerTableCsv, slug } from './download.js';
import { APP_PLOT, h, svgFigure, type TableLayer } from './ui.js';

export interface ModelSections {
  layers: Node;
  metrics: Node;
  alpha: Node | null;
  basis: Node;
  firstLayer: Node;
}

const ORDER: [keyof ModelSections, string][] = [
  ['layers', 'Layers'],
  ['metrics', 'Metrics over depth'],
  ['alpha', 'Spectral alpha over depth'],
  ['basis', 'Filter basis of the model'],
  ['firstLayer', 'Filters of the first layer'],
];

/** One `<section data-section=…>` per part, headed, in the shared order (a missing alpha plot is left out). */
export function modelSections(parts: ModelSections): HTMLElement[] {
  return ORDER.filter(([key]) => parts[key] !== null).map(([key, title]) =>
    h('section', { class: 'model-section', 'data-section': key }, h('h2', {}, title), parts[key]),
  );
}

/** Eigen-images and the cumulative explained variance of a model's 3×3 filter basis. */
export function basisFigures(
  basis: { components: number[][]; explainedVarianceRatio: number[]; filters: number; layers: number } | null,
  note: string | null,
): HTMLElement {
  if (!basis) return h('p', { class: 'muted' }, note ?? '');
  const fig = h(
    'div',
    { class: 'figs basis', 'data-evr': JSON.stringify(basis.explainedVarianceRatio) },
    svgFigure(
      eigenImagesSvg(basis.components, basis.explainedVarianceRatio, {
        title: 'Eigen-images',
        subtitle: `${basis.filters.toLocaleString('en-US')} 3×3 filters from ${basis.layers} layers`,
        columns: 3,
        size: 60,
        ...APP_PLOT,
      }),
      undefined,
      'eigen',
    ),
    svgFigure(
      cumulativeVarianceSvg(basis.explainedVarianceRatio, {
        title: 'Cumulative explained variance',
        width: 360,
        height: 230,
        ...APP_PLOT,
      }),
      undefined,
      'variance',
    ),
  );
  return fig;
}

/** The layer table (ui.ts layerTable: rows open a layer) with its CSV and JSON downloads. */
export function layersSection(
  table: HTMLElement,
  layers: readonly TableLayer[],
  modelName: string,
): HTMLElement {
  return h(
    'div',
    {},
    h(
      'p',
      { class: 'muted' },
      'Click a layer (or press Enter on it) for its detail: metrics, flag reasons, every filter.',
    ),
    table,
    dataDownloads(
      'layers-data',
      'layer table',
      slug(`${modelName}-layers`),
      () => layerTableCsv(layers),
      () => layerRows(layers),
    ),
  );
}
