/** Small DOM helpers and the shared pieces of the pages (layer table, filter dialog, number formats). */
import { isDegenerated } from '../../src/metrics/flags.js';
import {
  ALPHA_PANEL,
  filterGridSvg,
  metricCurvesSvg,
  type PlotCell,
  type PlotTable,
  rgbFilterGridSvg,
} from '../../src/report/svg/index.js';

/** Options every plot of the app is drawn with: the page carries the stylesheet; the numbers go in a table. */
export const APP_PLOT = { embedStyle: false, dataTable: true } as const;

type Child = Node | string | null | undefined | false;

/** Creates an element: `h('td', { class: 'num' }, '1.0')`. Attributes with null/false are left out. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number | boolean | null | undefined> = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c);
  }
  return el;
}

/**
 * A figure holding an SVG string made by src/report/svg (our own escaped markup). A plot drawn with
 * `dataTable: true` carries its numbers; they become a collapsed data table under it (WCAG 1.1.1 fallback).
 */
export function svgFigure(svg: string, caption?: string, cls = ''): HTMLElement {
  const fig = h('figure', { class: cls || null });
  fig.innerHTML = svg;
  if (caption) fig.append(h('figcaption', {}, caption));
  const table = takeDataTable(fig);
  if (table) fig.append(table);
  return fig;
}

/** The data table a plot in `fig` carries (moved out of its `data-table` attribute), or null. */
export function takeDataTable(fig: Element): HTMLElement | null {
  const root = fig.querySelector(':scope > svg');
  const data = root?.getAttribute('data-table');
  if (!root || !data) return null;
  root.removeAttribute('data-table');
  return plotDataTable(JSON.parse(data) as PlotTable, root.querySelector(':scope > title')?.textContent);
}

/** A plot's numbers as a table in a closed `<details>`: each number rounded for reading, exact in `data-value`. */
export function plotDataTable(t: PlotTable, what?: string | null): HTMLElement {
  const cell = (v: PlotCell, i: number) =>
    typeof v === 'number'
      ? h('td', { class: 'num', 'data-value': String(v) }, fmt(v, 4))
      : v === null
        ? h('td', { class: 'num muted', 'data-value': 'null' }, '–')
        : i === 0
          ? h('th', { scope: 'row' }, v)
          : h('td', {}, v);
  return h(
    'details',
    { class: 'plot-data' },
    h('summary', {}, 'Data table'),
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        {},
        what ? h('caption', { class: 'visually-hidden' }, `Data of: ${what}`) : null,
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            t.columns.map((c) => h('th', { scope: 'col' }, c)),
          ),
        ),
        h(
          'tbody',
          {},
          t.rows.map((r) => h('tr', {}, r.map(cell))),
        ),
      ),
    ),
    t.note ? h('p', { class: 'muted small' }, t.note) : null,
  );
}

export function fmt(v: number | null | undefined, digits = 4): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  if (Number.isInteger(v)) return v.toLocaleString('en-US');
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2);
  return v.toFixed(digits);
}

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '–';
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${n} B`;
}

const FLAG_LABEL: Record<string, string> = {
  sparse: 'sparse',
  'low-diversity': 'low diversity',
  'random-like': 'random-like',
  'non-finite': 'non-finite',
  tiny: 'tiny',
};

export function flagChips(flags: readonly { id: string; reason?: string }[]): HTMLElement[] {
  return flags.map((f) =>
    h(
      'span',
      { class: `chip ${f.id === 'tiny' ? 'info' : 'flag'}`, title: f.reason ?? '' },
      FLAG_LABEL[f.id] ?? f.id,
    ),
  );
}

/** What the layer table needs of a layer (a QualityReport layer and an API LayerRow both fit). */
export interface TableLayer {
  name: string;
  op: string;
  kind: string | null;
  shape: readonly number[] | null;
  convDepth: number | null;
  metrics: Record<string, number | null> | object;
  flags: readonly { id: string; reason?: string }[];
  /** What was not measured (server layers: `notMeasured` of metrics/flags.ts). */
  notMeasured?: readonly string[];
  /** Spectral metrics as the API gives them (a QualityReport layer has them in `metrics`). */
  spectral?: Record<string, number | null>;
  spectralReason?: string | null;
  trainingFlags?: readonly { id: string; reason?: string }[];
  init?: { nearInit: boolean; score: number | null; reason?: string | null } | null;
}

function alphaOf(l: TableLayer): number | null {
  const v = l.spectral?.alpha ?? (l.metrics as Record<string, number | null | undefined>).alpha;
  return v === undefined ? null : v;
}

/** WeightWatcher's warnings and the near-init verdict, as info chips after the degeneration flags. */
export function diagnosticChips(l: TableLayer): HTMLElement[] {
  const extra = [
    ...(l.trainingFlags ?? []),
    ...(l.init?.nearInit ? [{ id: 'near-init', reason: l.init.reason ?? '' }] : []),
  ];
  return extra.map((f) => h('span', { class: 'chip info diag', title: f.reason ?? '' }, f.id));
}

/**
 * alpha over depth with WeightWatcher's 2–6 range (null when no layer has an alpha): layers with an
 * over-/under-trained warning are marked.
 */
export function alphaFigure(layers: readonly TableLayer[]): HTMLElement | null {
  if (!layers.some((l) => alphaOf(l) !== null)) return null;
  const svg = metricCurvesSvg(
    layers.map((l) => ({
      name: l.name,
      convDepth: l.convDepth ?? undefined,
      metrics: { sparsity: null, varianceEntropyNorm: null, orthogonality: null, alpha: alphaOf(l) },
      trainingFlags: l.trainingFlags ?? [],
    })),
    {
      ...APP_PLOT,
      width: 1080,
      panels: [ALPHA_PANEL],
      markedLabel: 'over-/under-trained',
      hitColumns: true,
    },
  );
  return svgFigure(
    svg,
    'WeightWatcher alpha of each layer’s pooled eigenvalue spectrum; the shaded range 2–6 is where well-trained layers fall.',
  );
}

/** Metric columns: key in `metrics`, header, tooltip. */
export const METRIC_COLUMNS: [string, string, string][] = [
  ['n', 'n', '2-D filters'],
  ['sparsity', 'sparsity', 'share of filters whose every |value| < 0.01·max|W|'],
  ['varianceEntropy', 'var. entropy', 'Shannon entropy (log10) of the variance along principal directions'],
  [
    'varianceEntropyNorm',
    'var. entropy (norm.)',
    'variance entropy / entropy of a random layer of n filters',
  ],
  ['orthogonality', 'orthogonality', '1 − mean |GGᵀ − I| of the row-normalised filters'],
  ['normL1', 'L1', 'L1 norm of the weights'],
  ['normL2', 'L2', 'L2 norm of the weights'],
];

/**
 * The layer table. Every metric cell carries its exact value in `data-value` (tests compare it with the CLI's
 * JSON); rows are clickable when `onPick` is given.
 */
export function layerTable(layers: readonly TableLayer[], onPick?: (index: number) => void): HTMLElement {
  const hasSpectral = layers.some((l) => alphaOf(l) !== null || l.spectralReason);
  const hasInit = layers.some((l) => l.init);
  const head = h(
    'tr',
    {},
    h('th', { class: 'num' }, '#'),
    h('th', { class: 'name' }, 'layer · flags'),
    h('th', {}, 'op · kind'),
    h('th', {}, 'shape'),
    h('th', { class: 'num', title: 'conv depth' }, 'depth'),
    METRIC_COLUMNS.map(([, label, title]) => h('th', { class: 'num', title }, label)),
    hasSpectral
      ? h(
          'th',
          { class: 'num', title: 'WeightWatcher alpha of the pooled spectrum (2–6: well trained)' },
          'alpha',
        )
      : null,
    hasInit
      ? h('th', { class: 'num', title: 'max |z| against random layers of the same shape' }, 'init score')
      : null,
  );
  const rows = layers.map((l, i) => {
    const m = l.metrics as Record<string, number | null>;
    const degenerated = isDegenerated(l.flags) === true;
    const missing = l.notMeasured ?? [];
    const unmeasured = (key: string) =>
      missing.includes('metrics and flags') ? key !== 'n' : missing.includes(key);
    const tr = h(
      'tr',
      {
        class: `${degenerated ? 'flagged' : ''}${onPick ? ' pick' : ''}`.trim() || null,
        'data-layer': l.name,
        'data-index': i,
        'data-op': l.op,
        'data-kind': l.kind ?? '',
        'data-kernel': l.shape && l.shape.length === 4 ? `${l.shape[2]}×${l.shape[3]}` : '',
        tabindex: onPick ? 0 : null,
        title: onPick ? 'show the filters of this layer' : null,
      },
      h('td', { class: 'num' }, String(i + 1)),
      // flags next to the name: the name column stays in view when the table scrolls sideways
      h(
        'td',
        { class: 'name' },
        h('span', { class: 'lname', title: l.name }, l.name),
        ' ',
        missing.includes('metrics and flags')
          ? h('span', { class: 'muted' }, 'not measured')
          : [...flagChips(l.flags), ...diagnosticChips(l)],
      ),
      h('td', { class: 'nowrap' }, `${l.op}${l.kind ? ` · ${l.kind}` : ''}`),
      h('td', { class: 'nowrap mono' }, l.shape ? l.shape.join('×') : '–'),
      h('td', { class: 'num' }, l.convDepth === null ? '–' : String(l.convDepth)),
      METRIC_COLUMNS.map(([key]) =>
        h(
          'td',
          {
            class: 'num',
            'data-key': key,
            'data-value': m[key] === null || m[key] === undefined ? 'null' : String(m[key]),
          },
          unmeasured(key)
            ? h('span', { class: 'muted', title: 'not measured' }, 'not measured')
            : m[key] === null || m[key] === undefined
              ? h('span', { class: 'muted', title: 'undefined for this layer' }, 'n/a')
              : fmt(m[key], key === 'normL1' || key === 'normL2' ? 2 : 4),
        ),
      ),
      hasSpectral
        ? h(
            'td',
            { class: 'num', title: l.spectralReason ?? null },
            alphaOf(l) === null ? '–' : fmt(alphaOf(l), 3),
          )
        : null,
      hasInit
        ? h('td', { class: 'num', title: l.init?.reason ?? null }, fmt(l.init?.score ?? null, 2))
        : null,
    );
    if (onPick) {
      tr.addEventListener('click', (e) => {
        if (!(e.target as Element).closest('a, button')) onPick(i);
      });
      tr.addEventListener('keydown', (e) => {
        if (e.key === 'Enter' || e.key === ' ') {
          e.preventDefault();
          onPick(i);
        }
      });
    }
    return tr;
  });
  return h(
    'div',
    { class: 'table-wrap' },
    h('table', { class: 'layers', id: 'layers' }, h('thead', {}, head), h('tbody', {}, rows)),
  );
}

/** The filter grids of one layer (the RGB view too for 3-channel first layers). */
export function filterFigures(
  name: string,
  weight: ArrayLike<number>,
  shape: readonly number[],
  note = '',
  large = false,
): HTMLElement {
  const wrap = h('div', { class: 'figs' });
  if (shape.length !== 4) {
    wrap.append(
      h(
        'p',
        { class: 'muted' },
        `${name}: not a 2-D convolution (shape ${shape.join('×')}), no filter grid.`,
      ),
    );
    return wrap;
  }
  const maxFilters = large ? 4096 : 512;
  const pixel = large
    ? Math.max(4, Math.min(12, Math.floor(560 / Math.max(shape[2], shape[3]) / 6)))
    : undefined;
  wrap.append(
    svgFigure(
      filterGridSvg(weight, shape, {
        title: name,
        subtitle: `${shape.join('×')}${note}`,
        maxFilters,
        ...APP_PLOT,
        pixel,
      }),
      undefined,
      'grid',
    ),
  );
  if (shape[1] === 3)
    wrap.append(
      svgFigure(
        rgbFilterGridSvg(weight, shape, { title: 'as RGB images', ...APP_PLOT, maxFilters }),
        undefined,
        'grid',
      ),
    );
  return wrap;
}

const dialog = () => document.getElementById('dialog') as HTMLDialogElement;

/** Opens the modal dialog with `content` (Esc or × closes it). */
export function showDialog(title: string, content: Node | string): void {
  const body = document.getElementById('dialog-body')!;
  body.replaceChildren(h('h3', {}, title), typeof content === 'string' ? h('p', {}, content) : content);
  const d = dialog();
  if (!d.open) d.showModal();
}

export function errorBox(message: string): HTMLElement {
  return h('div', { class: 'summary bad error', role: 'alert' }, message);
}

export function loading(text = 'Loading…'): HTMLElement {
  return h('p', { class: 'muted loading' }, text);
}
