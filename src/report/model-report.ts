/**
 * The one-model HTML report: a plain-words summary, the layer table with flags and reasons, metric curves over
 * depth, filter grids of the first and of the most degenerated layers, and the PCA basis of the model's own
 * 3×3 filters. Split in two so the web app can reuse either half: `modelReportData` (measures; async, reads
 * weights) and `renderModelReport` (pure HTML).
 */

import { type AtlasView, atlasInputs, atlasView } from '../analysis/atlas-view.js';
import { dctEnergy, firstConvLayerIndex } from '../analysis/energy.js';
import { modelAtlas } from '../analysis/kernel-atlas.js';
import type { PcaBasis } from '../analysis/pca.js';
import { fitBasis } from '../analysis/shift.js';
import { degenerationFlags, isDegenerationFlag } from '../metrics/flags.js';
import type { InitRule } from '../metrics/init-distance.js';
import { type LayerQuality, type QualityReport, qualityReport } from '../metrics/layer-report.js';
import type { ConvLayer, Model, WeightArray } from '../model/types.js';
import { atlasSection, atlasSharesTable, energySection, type ReportEnergy } from './atlas-section.js';
import {
  cards,
  escapeHtml as esc,
  figure,
  figureRow,
  type HtmlSection,
  htmlTable,
  renderHtmlPage,
} from './html.js';
import { pct } from './svg/core.js';
import { filterGridSvg, rgbFilterGridSvg } from './svg/filters.js';
import { ALPHA_PANEL, metricCurvesSvg } from './svg/metrics.js';
import { cumulativeVarianceSvg, eigenImagesSvg } from './svg/pca.js';

export interface ModelReportOptions {
  /** Sparsity threshold as a fraction of the layer's max |w| (default 0.01). */
  sparsityEps?: number;
  /** How many of the most degenerated layers get a filter grid (default 3). */
  degeneratedGrids?: number;
  /** Most 2-D filters per grid (default 256). */
  maxFilters?: number;
  /** Called after each measured layer. */
  onLayer?: (done: number, total: number) => void;
  /** WeightWatcher-style spectral metrics: a column and the alpha-over-depth plot (default true). */
  spectral?: boolean;
  /** Distance from random initialisation: columns and the init band on the metric plots (default off: slow). */
  init?: { rule: InitRule | 'auto'; draws?: number };
}

export interface LayerWeights {
  layer: LayerQuality;
  /** Position of the layer in the quality report (0-based). */
  index: number;
  weight: WeightArray;
}

export interface DegeneratedLayer extends LayerWeights {
  /** Ranking score: larger is worse (see `severity`). */
  severity: number;
}

export interface ModelReportData {
  quality: QualityReport;
  firstLayer: LayerWeights | null;
  degenerated: DegeneratedLayer[];
  /** PCA basis of the model's peak-scaled 3×3 filters, or null with the reason. */
  basis: PcaBasis | null;
  basisNote: string | null;
  /** Filters the basis was fitted on, and from how many layers. */
  basisFilters: number;
  basisLayers: number;
  /** The depthwise kernel atlas (null: no depthwise layer with odd k×k kernels). */
  atlas: AtlasView | null;
  /** The first conv layer's energy profile over the DCT basis (null: no 2-D conv). */
  energy: ReportEnergy | null;
}

/** The flags that make a layer degenerated (metrics/flags.ts's one definition). */
export function degeneratedFlags(layer: LayerQuality): LayerQuality['flags'] {
  return degenerationFlags(layer.flags);
}

/**
 * How bad a flagged layer is, to pick which to show: non-finite weights first, then the distance past each
 * threshold (sparsity above 0.1, entropy below 0.5 or above 1), plus one per flag.
 */
export function severity(layer: LayerQuality): number {
  let s = 0;
  const m = layer.metrics;
  for (const f of degeneratedFlags(layer)) {
    s += 1;
    if (f.id === 'non-finite') s += 10;
    else if (f.id === 'sparse') s += (m.sparsity - 0.1) / 0.9;
    else if (f.id === 'low-diversity')
      s += m.varianceEntropyNorm !== null ? (0.5 - m.varianceEntropyNorm) / 0.5 : 0;
    else if (f.id === 'random-like') s += m.varianceEntropyNorm !== null ? m.varianceEntropyNorm - 1 : 0;
  }
  return s;
}

function isKernel3x3(shape: readonly number[]): boolean {
  return shape.length === 4 && shape[2] === 3 && shape[3] === 3;
}

/** Measures the model and loads what the report draws. */
export async function modelReportData(
  model: Model,
  options: ModelReportOptions = {},
): Promise<ModelReportData> {
  const quality = await qualityReport(model, {
    sparsityEps: options.sparsityEps,
    onLayer: options.onLayer,
    spectral: options.spectral !== false,
    init: options.init,
  });
  const byName = new Map<string, ConvLayer>();
  for (const l of model.layers) if (!byName.has(l.name)) byName.set(l.name, l);
  const load = async (index: number): Promise<LayerWeights | null> => {
    const layer = quality.layers[index];
    const conv = byName.get(layer.name);
    return conv ? { layer, index, weight: await conv.loadWeight() } : null;
  };

  let firstIndex = -1;
  quality.layers.forEach((l, i) => {
    if (firstIndex < 0 || l.convDepth < quality.layers[firstIndex].convDepth) firstIndex = i;
  });
  const firstLayer = firstIndex >= 0 ? await load(firstIndex) : null;

  const ranked = quality.layers
    .map((l, i) => ({ i, s: severity(l) }))
    .filter((r) => r.s > 0 && r.i !== firstIndex)
    .sort((a, b) => b.s - a.s || a.i - b.i)
    .slice(0, Math.max(0, options.degeneratedGrids ?? 3));
  const degenerated: DegeneratedLayer[] = [];
  for (const r of ranked) {
    const w = await load(r.i);
    if (w) degenerated.push({ ...w, severity: r.s });
  }

  const threes = model.layers.filter((l) => isKernel3x3(l.shape) && l.kind !== 'transposed');
  const basisFilters = threes.reduce((s, l) => s + l.shape[0] * l.shape[1], 0);
  let basis: PcaBasis | null = null;
  let basisNote: string | null = null;
  if (threes.length === 0)
    basisNote = 'The model has no 3×3 convolutions, so there is no 3×3 filter basis to show.';
  else if (basisFilters < 2) basisNote = `Only ${basisFilters} 3×3 filter: too few for a PCA basis.`;
  else {
    basis = await fitBasis(async function* () {
      for (const l of threes) {
        const w = await l.loadWeight();
        yield { group: l.name, filters: w, count: l.shape[0] * l.shape[1] };
      }
    }, 9);
  }
  const inputs = await atlasInputs(model.layers);
  const atlas = inputs.length ? atlasView(inputs, modelAtlas(inputs)) : null;
  const first = firstConvLayerIndex(model.layers);
  let energy: ReportEnergy | null = null;
  if (first >= 0) {
    const l = model.layers[first];
    const e = dctEnergy(await l.loadWeight(), l.shape);
    energy = {
      model: model.source,
      layer: l.name,
      shape: [...l.shape],
      filters: e.filters,
      profile: e.profile,
      labels: e.labels,
    };
  }
  return {
    quality,
    firstLayer,
    degenerated,
    basis,
    basisNote,
    basisFilters,
    basisLayers: threes.length,
    atlas,
    energy,
  };
}

const FLAG_LABEL: Record<string, string> = {
  sparse: 'sparse',
  'low-diversity': 'low diversity',
  'random-like': 'random-like',
  'non-finite': 'non-finite',
  tiny: 'tiny',
};

function flagChips(layer: LayerQuality): string {
  // degeneration flags, then WeightWatcher's warnings and the near-init verdict (kept apart: chip style "info")
  const all = [
    ...layer.flags.map((f) => ({
      id: f.id,
      reason: f.reason,
      cls: isDegenerationFlag(f.id) ? 'flag' : 'info',
    })),
    ...(layer.trainingFlags ?? []).map((f) => ({ id: f.id, reason: f.reason, cls: 'info' })),
    ...(layer.init?.nearInit ? [{ id: 'near-init', reason: layer.init.reason, cls: 'info' }] : []),
  ];
  if (all.length === 0) return '';
  const chips = all
    .map(
      (f) => `<span class="chip ${f.cls}" title="${esc(f.reason)}">${esc(FLAG_LABEL[f.id] ?? f.id)}</span>`,
    )
    .join('');
  const reasons = all.map((f) => `<li>${esc(f.reason)}</li>`).join('');
  return `${chips}<ul class="reasons">${reasons}</ul>`;
}

const FORMAT_NAMES: Record<string, string> = {
  onnx: 'ONNX',
  pytorch: 'PyTorch',
  safetensors: 'safetensors',
  tfjs: 'TensorFlow.js',
  keras: 'Keras',
  tflite: 'TFLite',
};

function formatName(format: string): string {
  return FORMAT_NAMES[format] ?? format;
}

function article(word: string): string {
  return /^[aeiouAEIO]|^ONNX/.test(word) ? 'an' : 'a';
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** The plain-words summary at the top. */
export function modelSummary(data: ModelReportData): { html: string; bad: boolean } {
  const q = data.quality;
  const layers = q.layers;
  const flagged = layers.filter((l) => degeneratedFlags(l).length > 0);
  const tiny = layers.filter((l) => l.flags.some((f) => f.id === 'tiny'));
  const filters = layers.reduce((s, l) => s + l.metrics.n, 0);
  const parts: string[] = [];
  parts.push(
    `<p><strong>${esc(q.file)}</strong> is ${article(formatName(q.format))} ${esc(formatName(q.format))} model${q.producer ? ` from ${esc(q.producer)}` : ''} with ` +
      `${plural(layers.length, 'measured convolution layer')} holding ${filters.toLocaleString('en-US')} 2-D filters.</p>`,
  );
  if (layers.length === 0) {
    parts.push('<p>There is nothing to judge: no 2-D convolution weights were found.</p>');
  } else if (flagged.length === 0) {
    parts.push(
      `<p><strong>No degenerated layers.</strong> No layer is sparse, low in diversity, random-like or non-finite by the thresholds below.</p>`,
    );
  } else {
    const byFlag = new Map<string, LayerQuality[]>();
    for (const l of flagged)
      for (const f of degeneratedFlags(l)) byFlag.set(f.id, [...(byFlag.get(f.id) ?? []), l]);
    const why: Record<string, string> = {
      sparse: 'more than 10% of their filters are near zero',
      'low-diversity':
        'their filters vary along few directions (normalised variance entropy below 0.5: redundant filters)',
      'random-like':
        'their filters are as diverse as random initialisation (normalised variance entropy at least 1), which can mean the layer learned little',
      'non-finite': 'they hold NaN or infinite weights',
    };
    const items = [...byFlag.entries()].map(([id, ls]) => {
      const names = ls.map((l) => `<code>${esc(l.name)}</code>`);
      const shown =
        names.length > 4 ? `${names.slice(0, 4).join(', ')} and ${names.length - 4} more` : names.join(', ');
      return `<li><strong>${plural(ls.length, 'layer')} ${esc(FLAG_LABEL[id] ?? id)}</strong> (${shown}): ${esc(why[id] ?? '')}.</li>`;
    });
    parts.push(
      `<p><strong>${flagged.length} of ${layers.length} layers are flagged as degenerated:</strong></p><ul>${items.join('')}</ul>`,
    );
  }
  if (tiny.length)
    parts.push(
      `<p class="muted">${plural(tiny.length, 'layer is', 'layers are')} too small to judge by variance entropy (“tiny”).</p>`,
    );
  if (q.skipped.length)
    parts.push(
      `<p class="muted">${plural(q.skipped.length, 'convolution was', 'convolutions were')} not measured (see Notes).</p>`,
    );
  return { html: parts.join(''), bad: flagged.length > 0 };
}

function gridFor(w: LayerWeights, maxFilters: number | undefined): string {
  const { layer, weight } = w;
  const transposed = layer.kind === 'transposed';
  const opts = {
    subtitle: `${layer.shape.join('×')} · ${layer.kind ?? 'conv'} · conv depth ${layer.convDepth}`,
    description: `filters of ${layer.name}`,
    embedStyle: false,
    maxFilters,
    rowName: transposed ? 'input' : 'output',
    colName: transposed ? 'output' : 'input',
  };
  const figs: string[] = [];
  if (layer.shape[1] === 3 && !transposed) {
    figs.push(
      figure(
        rgbFilterGridSvg(weight, layer.shape, { ...opts, subtitle: `${opts.subtitle} · RGB view` }),
        'Each output filter as one colour image: input channels mapped to red, green, blue.',
      ),
    );
  }
  figs.push(figure(filterGridSvg(weight, layer.shape, opts)));
  return figureRow(...figs);
}

const METRIC_HELP = {
  sparsity: 'share of filters whose every |w| is below 1% of the layer’s max |w|',
  entropy: 'variance entropy of the filters divided by that of a random layer of the same size (3×3 only)',
  clean: 'the same, computed on the non-sparse filters only',
  orth: '1 − mean |cosine| between the layer’s output filters',
  alpha:
    'WeightWatcher power-law exponent of the pooled eigenvalue spectrum; 2–6 is typical of well-trained layers',
  init: 'max |z| of the metrics against random layers of the same shape (near-init when ≤ the 99th percentile of random layers)',
};

/** Renders the report page from measured data (pure). */
export function renderModelReport(
  data: ModelReportData,
  options: ModelReportOptions & { generatedAt?: string | null } = {},
): string {
  const q = data.quality;
  const summary = modelSummary(data);
  const sections: HtmlSection[] = [];
  const flaggedCount = q.layers.filter((l) => degeneratedFlags(l).length > 0).length;
  const spectral = q.layers.some((l) => l.trainingFlags !== undefined);
  const init = q.initRule !== undefined;

  const rows = q.layers.map((l, i) => [
    i + 1,
    { html: esc(l.name), cls: l.name.length <= 36 ? 'nowrap' : undefined, sort: l.name },
    l.kind ?? l.op,
    { html: esc(l.shape.join('×')), sort: l.shape.reduce((a, b) => a * b, 1) },
    l.convDepth,
    l.metrics.n,
    l.metrics.sparsity,
    l.metrics.varianceEntropyNorm,
    l.metrics.varianceEntropyCleanNorm,
    l.metrics.orthogonality,
    l.metrics.normL2,
    ...(spectral ? [l.metrics.alpha ?? null] : []),
    ...(init ? [l.init?.score ?? null] : []),
    {
      html: flagChips(l),
      sort: degeneratedFlags(l).length * 10 + l.flags.length,
      cls: l.flags.length ? 'reasons-cell' : undefined,
    },
  ]);
  sections.push({
    id: 'layers',
    title: 'Layers',
    intro:
      cards([
        { value: q.layers.length, label: 'conv layers measured' },
        { value: flaggedCount, label: 'degenerated' },
        {
          value: q.layers.reduce((s, l) => s + l.metrics.n, 0).toLocaleString('en-US'),
          label: '2-D filters',
        },
        { value: data.basisLayers, label: 'layers with 3×3 kernels' },
      ]) +
      '<p class="muted">Click a column header to sort. Highlighted rows are flagged as degenerated; hover a flag for its reason.</p>',
    body: htmlTable(
      [
        { header: '#', numeric: true },
        { header: 'layer', cls: 'name' },
        { header: 'kind' },
        { header: 'shape' },
        { header: 'depth', numeric: true, title: 'conv depth level' },
        { header: 'filters', numeric: true },
        { header: 'sparsity', numeric: true, title: METRIC_HELP.sparsity },
        { header: 'var. entropy', numeric: true, title: METRIC_HELP.entropy },
        { header: 'clean', numeric: true, title: METRIC_HELP.clean },
        { header: 'orthogonality', numeric: true, title: METRIC_HELP.orth },
        { header: 'L2', numeric: true },
        ...(spectral ? [{ header: 'alpha', numeric: true, title: METRIC_HELP.alpha }] : []),
        ...(init ? [{ header: 'init score', numeric: true, title: METRIC_HELP.init }] : []),
        { header: 'flags' },
      ],
      rows,
      { rowClass: (i) => (degeneratedFlags(q.layers[i]).length ? 'flagged' : undefined) },
    ),
  });

  sections.push({
    id: 'metrics',
    title: 'Quality over depth',
    intro:
      '<p>Per-layer metrics in depth order. Shaded columns and hollow markers are degenerated layers; dashed lines are the flag thresholds. ' +
      'Variance entropy is only calibrated for 3×3 kernels; other layers are skipped (tick on the axis).</p>',
    body: figure(metricCurvesSvg(q.layers, { embedStyle: false, width: 1080, height: 230 })),
  });
  if (spectral) {
    const warned = q.layers.filter((l) => (l.trainingFlags ?? []).length > 0);
    const skipped = q.layers.filter((l) => l.spectralReason);
    sections.push({
      id: 'spectral',
      title: 'Spectral metrics (WeightWatcher)',
      intro:
        `<p>alpha per layer in depth order: the power-law exponent of the eigenvalues of WᵀW pooled over the kernel positions, with WeightWatcher's conventions. ` +
        `The shaded range 2–6 is where WeightWatcher expects well-trained layers; below 2 it warns "over-trained", above 6 "under-trained". ` +
        `${warned.length} layer${warned.length === 1 ? '' : 's'} outside the range${skipped.length ? `; ${skipped.length} not analysed (${esc(skipped[0].spectralReason ?? '')}${skipped.length > 1 ? ', …' : ''})` : ''}.</p>`,
      body: figure(
        metricCurvesSvg(q.layers, {
          embedStyle: false,
          width: 1080,
          height: 230,
          panels: [ALPHA_PANEL],
          markedLabel: 'over-/under-trained',
        }),
      ),
    });
  }

  let filters = '';
  if (data.firstLayer) {
    filters += `<h3>First layer: <code>${esc(data.firstLayer.layer.name)}</code></h3>`;
    filters += gridFor(data.firstLayer, options.maxFilters);
  }
  if (data.degenerated.length) {
    filters += '<h3>Most degenerated layers</h3>';
    for (const d of data.degenerated) {
      const reasons = degeneratedFlags(d.layer).map((f) => `${FLAG_LABEL[f.id] ?? f.id}: ${f.reason}`);
      filters += `<h4><code>${esc(d.layer.name)}</code> <span class="muted">(layer ${d.index + 1})</span></h4><p class="muted">${esc(reasons.join('; '))}</p>`;
      filters += gridFor(d, options.maxFilters);
    }
  } else if (q.layers.length) {
    const firstFlagged = data.firstLayer && degeneratedFlags(data.firstLayer.layer).length > 0;
    filters += `<p class="muted">${firstFlagged ? 'No other layer is flagged as degenerated.' : 'No layer is flagged as degenerated, so only the first layer is shown.'}</p>`;
  }
  sections.push({
    id: 'filters',
    title: 'Filters',
    intro:
      '<p>Each 2-D filter as a small heat-map: blue negative, white zero, red positive, on a symmetric range per layer (the colour bar). ' +
      'Rows are output channels, columns input channels.</p>',
    body: filters || '<p class="muted">No 2-D convolution layers.</p>',
  });

  let basisBody: string;
  if (data.basis) {
    const evr = data.basis.explainedVarianceRatio;
    const two = (evr[0] ?? 0) + (evr[1] ?? 0);
    basisBody =
      figureRow(
        figure(
          eigenImagesSvg(data.basis.components, evr, {
            title: 'Eigen-images',
            subtitle: `principal components of ${data.basisFilters.toLocaleString('en-US')} peak-scaled 3×3 filters`,
            embedStyle: false,
            size: 58,
          }),
          'Components in descending order of explained variance; each filter ≈ mean + Σ cᵢ·PCᵢ.',
        ),
        figure(
          cumulativeVarianceSvg(evr, {
            title: 'Explained variance',
            subtitle: 'bars: per component · line: cumulative',
            embedStyle: false,
          }),
        ),
      ) +
      `<p>The first two components explain ${pct(two)} of the variance of this model’s 3×3 filters${two > 0.5 ? ' — most filters are variations of a few shapes' : ''}.</p>`;
  } else {
    basisBody = `<p class="muted">${esc(data.basisNote ?? 'No basis.')}</p>`;
  }
  sections.push({
    id: 'basis',
    title: 'Filter basis',
    intro: `<p>PCA of this model’s own 3×3 filters (${plural(data.basisLayers, 'layer')}), each scaled by its own max |w| first, as in CNN Filter DB.</p>`,
    body: basisBody,
  });

  if (data.atlas)
    sections.push(
      atlasSection(
        data.atlas,
        atlasSharesTable(
          data.atlas.layers.map((l) => ({ name: l.layer, k: l.k, kernels: l.kernels, shares: l.shares })),
          'layer',
        ),
      ),
    );
  if (data.energy) sections.push(energySection([data.energy], null));

  const notes: string[] = [];
  for (const s of q.skipped)
    notes.push(`<li><code>${esc(s.name)}</code> (${esc(s.shape.join('×'))}): ${esc(s.reason)}</li>`);
  for (const w of q.warnings) notes.push(`<li>${esc(w)}</li>`);
  if (notes.length) sections.push({ id: 'notes', title: 'Notes', body: `<ul>${notes.join('')}</ul>` });

  const generated =
    options.generatedAt === undefined
      ? new Date().toISOString().slice(0, 19).replace('T', ' ') + ' UTC'
      : options.generatedAt;
  return renderHtmlPage({
    title: `Filter report: ${q.file}`,
    subtitle: `${esc(formatName(q.format))}${q.producer ? ` · ${esc(q.producer)}` : ''} · ${plural(q.layers.length, 'conv layer')} · thresholds: sparsity &gt; 0.1, variance entropy &lt; 0.5 or ≥ 1`,
    summary: `<div class="summary ${summary.bad ? 'bad' : 'good'}">${summary.html}</div>`,
    sections,
    footer: `Generated by filterdb${generated ? ` on ${esc(generated)}` : ''}. Metrics and flags as in CNN Filter DB (Gavrikov &amp; Keuper, CVPR 2022).`,
  });
}

/** Measures and renders in one go. */
export async function modelReportHtml(
  model: Model,
  options: ModelReportOptions & { generatedAt?: string | null } = {},
): Promise<string> {
  return renderModelReport(await modelReportData(model, options), options);
}
