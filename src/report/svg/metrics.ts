/**
 * Per-layer quality metrics over conv depth, with the flag thresholds drawn. A flagged layer is marked only on
 * the panels of the metric that tripped its flag (sparse on sparsity, low-diversity / random-like on the
 * variance entropy; non-finite weights, which make every metric suspect, on every panel). A metric that is
 * undefined for a layer shows `n/a`; the line breaks there and at skipped layers instead of bridging them.
 */
import { isDegenerationFlag } from '../../metrics/flags.js';
import {
  bottomAxis,
  emptyPlot,
  esc,
  fmt,
  header,
  isFiniteNumber,
  leftAxis,
  linear,
  linePath,
  n2,
  niceDomain,
  type PlotFrameOptions,
  svgDoc,
  text,
  ticks,
} from './core.js';

/** What the plot needs of a layer (a `LayerQuality` from metrics/layer-report.ts fits). */
export interface MetricCurveLayer {
  name: string;
  convDepth?: number;
  /** Weight shape `[out, inPerGroup, kh, kw]` (lets a panel skip kernel sizes it does not apply to). */
  shape?: readonly number[];
  metrics: { sparsity: number | null; varianceEntropyNorm: number | null; orthogonality: number | null };
  flags?: readonly { id: string; reason?: string }[];
  /** What was not measured for the layer (`notMeasured` of metrics/flags.ts): shown as such, not as n/a. */
  notMeasured?: readonly string[];
  /** Distance from random initialisation: per metric the 1st–99th percentile band of random layers. */
  init?: {
    rule?: string;
    metrics: Partial<Record<string, { p1: number | null; p99: number | null } | undefined>>;
  } | null;
  /** WeightWatcher's over-/under-trained warnings (kept apart from the degeneration flags). */
  trainingFlags?: readonly { id: string; reason?: string }[] | null;
}

export interface MetricPanel {
  /** Key in `metrics`. */
  key: string;
  label: string;
  /** Dashed reference lines with a short label. */
  thresholds?: { value: number; label: string }[];
  /** Fixed y domain (default: from the data, including 0 and the thresholds). */
  domain?: [number, number];
  /** Layers the metric means something for (others are skipped, not drawn as 0); default all. */
  applies?: (layer: MetricCurveLayer) => boolean;
  /** Tooltip text for skipped layers. */
  skippedReason?: string;
  /** A few words shown beside the panel title when layers are skipped. */
  skippedShort?: string;
  /**
   * Flag ids this panel's metric trips (degeneration flags, or WeightWatcher's training flags on the alpha
   * panel): a layer is marked on this panel only for them (default: none).
   */
  flags?: readonly string[];
  /** A shaded range of healthy values (e.g. alpha 2–6) with its label. */
  goodRange?: { from: number; to: number; label: string };
}

/** Flags about the weights themselves rather than one metric: marked on every panel. */
const WEIGHT_FLAGS = ['non-finite'];

/** 3×3 kernels (or unknown shape): the normalised variance entropy is only calibrated for them. */
export function is3x3(layer: MetricCurveLayer): boolean {
  return !layer.shape || layer.shape.length < 4 || (layer.shape[2] === 3 && layer.shape[3] === 3);
}

export const DEFAULT_METRIC_PANELS: MetricPanel[] = [
  { key: 'sparsity', label: 'sparsity', thresholds: [{ value: 0.1, label: 'sparse' }], flags: ['sparse'] },
  {
    key: 'varianceEntropyNorm',
    label: 'variance entropy (norm.)',
    applies: is3x3,
    skippedReason: 'only calibrated for 3×3 kernels',
    skippedShort: 'not 3×3',
    flags: ['low-diversity', 'random-like'],
    thresholds: [
      { value: 0.5, label: 'low diversity' },
      { value: 1, label: 'random-like' },
    ],
  },
  { key: 'orthogonality', label: 'orthogonality' },
];

/** alpha over depth with WeightWatcher's 2–6 range. */
export const ALPHA_PANEL: MetricPanel = {
  key: 'alpha',
  label: 'alpha (WeightWatcher)',
  thresholds: [
    { value: 2, label: 'over-trained <' },
    { value: 6, label: 'under-trained >' },
  ],
  goodRange: { from: 2, to: 6, label: 'well-trained range 2 ≤ alpha ≤ 6' },
  flags: ['over-trained', 'under-trained'],
};

export interface MetricCurvesOptions extends PlotFrameOptions {
  /** Total width (default 900); panels share it. */
  width?: number;
  /** Height of a panel's plot area plus axes (default 220). */
  height?: number;
  panels?: MetricPanel[];
  /** Panels per row (default: all in one row). */
  columns?: number;
  /** Legend text for the marked layers (default "flagged by this metric"). */
  markedLabel?: string;
  /** Draw each layer's random-initialisation band where the layers carry one (default true). */
  initBands?: boolean;
  /**
   * Draw a transparent hit column per layer and panel on top (`data-layer`, 0-based), for an app that links
   * the plot with a table and shows its own tooltip (default false: the native titles stay reachable).
   */
  hitColumns?: boolean;
}

/** The layer's 1st–99th percentile band of random layers for `key`, when it has one. */
export function initBandOf(layer: MetricCurveLayer, key: string): [number, number] | null {
  const b = layer.init?.metrics[key];
  return b && isFiniteNumber(b.p1) && isFiniteNumber(b.p99) ? [b.p1, b.p99] : null;
}

/**
 * The flags of `layer` that `panel` marks: the degeneration flags of its own metric plus the weight flags, and
 * the training flags (over-/under-trained) the panel names (the alpha panel).
 */
export function panelFlags(
  layer: MetricCurveLayer,
  panel: MetricPanel,
): readonly { id: string; reason?: string }[] {
  const own = panel.flags ?? [];
  const degeneration = (layer.flags ?? []).filter(
    (f) => isDegenerationFlag(f.id) && (own.includes(f.id) || WEIGHT_FLAGS.includes(f.id)),
  );
  return [...degeneration, ...(layer.trainingFlags ?? []).filter((f) => own.includes(f.id))];
}

function isUnmeasured(layer: MetricCurveLayer, key: string): boolean {
  const missing = layer.notMeasured ?? [];
  return missing.includes(key) || missing.includes('metrics and flags');
}

function metricValue(layer: MetricCurveLayer, key: string): number | null {
  const v = (layer.metrics as unknown as Record<string, unknown>)[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** Small multiples of per-layer metrics (x = conv layer in depth order, 1-based). */
export function metricCurvesSvg(
  layers: readonly MetricCurveLayer[],
  options: MetricCurvesOptions = {},
): string {
  if (layers.length === 0) return emptyPlot('no conv layers measured', options);
  const panels = options.panels ?? DEFAULT_METRIC_PANELS;
  const width = options.width ?? 900;
  const ph = options.height ?? 220;
  const cols = Math.max(1, Math.min(panels.length, options.columns ?? panels.length));
  const prow = Math.ceil(panels.length / cols);
  const head = header(options);
  const legendH = 22;
  const top0 = head.height + legendH;
  const pw = width / cols;
  const n = layers.length;
  const tickEvery = Math.max(1, Math.ceil(n / Math.max(2, Math.floor((pw - 70) / 26))));
  const xTicks: number[] = [];
  for (let i = 1; i <= n; i += tickEvery) xTicks.push(i);

  let body = '';
  // legend
  const lx = 0;
  const ly = head.height + 8;
  body += `<circle cx="${lx + 5}" cy="${ly}" r="3.2" style="fill:var(--fdb-accent,#0072b2)"/>`;
  body += text(lx + 13, ly, 'layer', { baseline: 'middle', cls: 'fdb-sub' });
  body += `<rect class="fdb-flag" x="${lx + 52}" y="${ly - 7}" width="10" height="14"/><circle class="fdb-flagmark" cx="${lx + 57}" cy="${ly}" r="3.4"/>`;
  body += text(lx + 67, ly, options.markedLabel ?? 'flagged by this metric', {
    baseline: 'middle',
    cls: 'fdb-sub',
  });
  body += `<line class="fdb-thr" x1="${lx + 200}" x2="${lx + 222}" y1="${ly}" y2="${ly}"/>`;
  body += text(lx + 227, ly, 'flag threshold', { baseline: 'middle', cls: 'fdb-sub' });
  const showBands = options.initBands !== false;
  const anyBand = showBands && panels.some((p) => layers.some((l) => initBandOf(l, p.key)));
  if (anyBand) {
    body += `<rect class="fdb-initband" x="${lx + 320}" y="${ly - 7}" width="8" height="14"/>`;
    const rule = layers.find((l) => l.init?.rule)?.init?.rule;
    body += text(lx + 333, ly, `random init${rule ? ` (${rule})` : ''}: 1st–99th percentile`, {
      baseline: 'middle',
      cls: 'fdb-sub',
    });
  }

  panels.forEach((panel, pi) => {
    const ox = (pi % cols) * pw;
    const oy = top0 + Math.floor(pi / cols) * ph;
    const m = { top: 22, right: 12, bottom: 40, left: 48 };
    const x0 = ox + m.left;
    const x1 = ox + pw - m.right;
    const y0 = oy + m.top;
    const y1 = oy + ph - m.bottom;
    const applies = layers.map((l) => (panel.applies ? panel.applies(l) : true));
    const values = layers.map((l, i) => (applies[i] ? metricValue(l, panel.key) : null));
    const marks = layers.map((l) => panelFlags(l, panel));
    const bands = layers.map((l, i) => (showBands && applies[i] ? initBandOf(l, panel.key) : null));
    let dom = panel.domain;
    if (!dom) {
      const finite = values.filter(isFiniteNumber);
      for (const b of bands) if (b) finite.push(b[0], b[1]);
      const th = (panel.thresholds ?? []).map((t) => t.value);
      if (panel.goodRange) th.push(panel.goodRange.from);
      const lo = Math.min(0, ...finite, ...th);
      const hi = Math.max(...finite, ...th, lo + 1e-9);
      dom = niceDomain(lo, hi === lo ? lo + 1 : hi * 1.05, 4);
    }
    const x = linear(0.5, n + 0.5, x0, x1);
    const y = linear(dom[0], dom[1], y1, y0);
    const band = Math.max(4, (x1 - x0) / n);
    body += text(x0, oy + 12, panel.label, { cls: 'fdb-panel' });
    const skipped = applies.filter((a) => !a).length;
    const unmeasured = layers.filter(
      (l, i) => applies[i] && values[i] === null && isUnmeasured(l, panel.key),
    ).length;
    const notes: [string, string][] = [];
    if (skipped)
      notes.push([
        `${skipped} skipped${panel.skippedShort ? ` (${panel.skippedShort})` : ''}`,
        `${skipped} layer${skipped === 1 ? '' : 's'} not shown: ${panel.skippedReason ?? 'not applicable'}`,
      ]);
    if (unmeasured)
      notes.push([
        unmeasured === n ? 'not measured' : `${unmeasured} not measured`,
        `${unmeasured} layer${unmeasured === 1 ? '' : 's'}: ${panel.label} not measured`,
      ]);
    if (notes.length) {
      body += `<g><title>${esc(notes.map((x) => x[1]).join('\n'))}</title>${text(x1, oy + 12, notes.map((x) => x[0]).join(' · '), { anchor: 'end', cls: 'fdb-thr-label' })}</g>`;
    }
    // layers flagged by this panel's metric: shaded columns behind the data
    layers.forEach((l, i) => {
      if (marks[i].length === 0) return;
      const reasons = marks[i].map((f) => `${f.id}: ${f.reason ?? ''}`);
      body += `<rect class="fdb-flag" x="${n2(x(i + 1) - band / 2)}" y="${n2(y0)}" width="${n2(band)}" height="${n2(y1 - y0)}"><title>${esc(`${l.name}\n${reasons.join('\n')}`)}</title></rect>`;
    });
    if (panel.goodRange) {
      const a = Math.max(dom[0], Math.min(dom[1], panel.goodRange.from));
      const b = Math.max(dom[0], Math.min(dom[1], panel.goodRange.to));
      if (b > a)
        body += `<rect class="fdb-goodrange" x="${n2(x0)}" y="${n2(y(b))}" width="${n2(x1 - x0)}" height="${n2(y(a) - y(b))}"><title>${esc(panel.goodRange.label)}</title></rect>`;
    }
    // random-initialisation bands: one bar per layer (the band depends on the layer's shape)
    bands.forEach((b, i) => {
      if (!b) return;
      const top = y(Math.min(dom[1], b[1]));
      const bottom = y(Math.max(dom[0], b[0]));
      body += `<rect class="fdb-initband" x="${n2(x(i + 1) - band * 0.35)}" y="${n2(top)}" width="${n2(band * 0.7)}" height="${n2(Math.max(1, bottom - top))}"><title>${esc(`${layers[i].name}: random layers of this shape give ${panel.label} ${fmt(b[0], 4)} … ${fmt(b[1], 4)} (1st–99th percentile)`)}</title></rect>`;
    });
    body += leftAxis({ scale: y, ticks: ticks(dom[0], dom[1], 4) }, x0, y0, y1, x1);
    body += bottomAxis(
      { scale: x, ticks: xTicks, format: (v) => String(v), label: 'conv layer (depth order)' },
      y1,
      x0,
      x1,
    );
    for (const t of panel.thresholds ?? []) {
      if (!(t.value >= dom[0] && t.value <= dom[1])) continue;
      body += `<line class="fdb-thr" x1="${n2(x0)}" x2="${n2(x1)}" y1="${n2(y(t.value))}" y2="${n2(y(t.value))}"/>`;
      body += text(x1 - 2, y(t.value) - 3, `${t.label} ${fmt(t.value)}`, {
        anchor: 'end',
        cls: 'fdb-thr-label',
      });
    }
    const xs = layers.map((_, i) => x(i + 1));
    const ys = values.map((v) => (v === null ? Number.NaN : y(v)));
    // NaN (skipped or undefined) breaks the line: no segment pretends to know the value in between
    body += `<path class="fdb-line" style="stroke:var(--fdb-accent,#0072b2)" d="${linePath(xs, ys)}"/>`;
    layers.forEach((l, i) => {
      const v = values[i];
      if (!applies[i]) {
        body += `<g><title>${esc(`${l.name}: ${panel.label} not shown (${panel.skippedReason ?? 'not applicable'})`)}</title><line class="fdb-whisker" x1="${n2(xs[i])}" x2="${n2(xs[i])}" y1="${n2(y1 - 5)}" y2="${n2(y1)}"/></g>`;
        return;
      }
      if (v === null) {
        const [label, why] = isUnmeasured(l, panel.key)
          ? ['–', 'not measured']
          : ['n/a', 'undefined for this layer'];
        body += `<g class="fdb-na"><title>${esc(`${l.name}: ${panel.label} ${why}`)}</title>${text(xs[i], y1 - 6, label, { anchor: 'middle', cls: 'fdb-muted' })}</g>`;
        return;
      }
      const tip =
        `${l.name} (layer ${i + 1}${l.convDepth !== undefined ? `, depth ${l.convDepth}` : ''}): ${panel.label} ${fmt(v, 4)}` +
        (marks[i].length ? ` — ${marks[i].map((f) => f.id).join(', ')}` : '');
      body += marks[i].length
        ? `<circle class="fdb-flagmark" data-layer="${i}" cx="${n2(xs[i])}" cy="${n2(ys[i])}" r="4"><title>${esc(tip)}</title></circle>`
        : `<circle class="fdb-point" data-layer="${i}" cx="${n2(xs[i])}" cy="${n2(ys[i])}" r="3.2" style="fill:var(--fdb-accent,#0072b2)"><title>${esc(tip)}</title></circle>`;
    });
    if (options.hitColumns)
      for (let i = 0; i < n; i++)
        body += `<rect class="fdb-hit" data-layer="${i}" data-panel="${esc(panel.key)}" x="${n2(xs[i] - band / 2)}" y="${n2(y0)}" width="${n2(band)}" height="${n2(y1 - y0)}"/>`;
  });
  const what = `${panels.map((p) => p.label).join(', ')} of ${layers.length} layers by depth`;
  const table = () => ({
    columns: ['#', 'layer', 'depth', ...panels.map((p) => p.label), 'marked'],
    rows: layers.map((l, i) => [
      i + 1,
      l.name,
      l.convDepth ?? null,
      ...panels.map((p) => ((p.applies ? p.applies(l) : true) ? metricValue(l, p.key) : null)),
      [...new Set(panels.flatMap((p) => panelFlags(l, p).map((f) => f.id)))].join(', '),
    ]),
  });
  return svgDoc(
    width,
    top0 + prow * ph,
    head.svg + body,
    { description: `Metric curves: ${what}`, ...options },
    table,
  );
}
