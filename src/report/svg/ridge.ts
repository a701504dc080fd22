/** Ridge plots of coefficient KDEs per group: one coefficient, or small multiples for all of them. */
import { displayOrder } from '../../analysis/groups.js';
import { CATEGORICAL, toHex, viridisRgb } from './color.js';
import {
  bottomAxis,
  emptyPlot,
  esc,
  fmt,
  header,
  isFiniteNumber,
  linear,
  n2,
  type PlotCell,
  type PlotFrameOptions,
  type PlotTable,
  svgDoc,
  text,
  textWidth,
  ticks,
  truncate,
} from './core.js';

/** One group's density curve (an analysis/kde.ts `GroupKde` fits with `label: kde.group`). */
export interface RidgeCurve {
  label: string;
  x: ArrayLike<number>;
  y: ArrayLike<number>;
  /** Values behind the curve (tooltip). */
  n?: number;
}

export interface RidgeOptions extends PlotFrameOptions {
  width?: number;
  /** Vertical distance between ridges in px (default 26). */
  step?: number;
  /** Ridge height as a multiple of the step (default 1.8: neighbours overlap). */
  overlap?: number;
  /** Height scale: 'shared' (default; densities compare) or 'each' curve to its own peak. */
  normalise?: 'shared' | 'each';
  /** Points per drawn curve (default 240; curves are decimated evenly). */
  maxPoints?: number;
  /** X axis label (default "coefficient"). */
  xLabel?: string;
  /** Longest group label (default 24 characters). */
  maxLabelLength?: number;
  /**
   * Ridge colours: 'categorical' (Okabe–Ito) or 'sequential' (viridis, for ordered groups such as depth).
   * Default: sequential when there are more groups than categorical colours.
   */
  colors?: 'categorical' | 'sequential';
}

function ridgeColor(i: number, k: number, mode: RidgeOptions['colors']): string {
  const seq = mode === 'sequential' || (mode === undefined && k > CATEGORICAL.length);
  return seq
    ? toHex(viridisRgb(k > 1 ? 0.08 + (0.84 * i) / (k - 1) : 0.5))
    : CATEGORICAL[i % CATEGORICAL.length];
}

interface Panel {
  svg: string;
}

function range(curves: readonly RidgeCurve[]): [number, number] {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const c of curves) {
    for (let i = 0; i < c.x.length; i++) {
      const v = c.x[i];
      if (!isFiniteNumber(v)) continue;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  return lo <= hi ? [lo, hi] : [0, 1];
}

function peakOf(c: RidgeCurve): number {
  let m = 0;
  for (let i = 0; i < c.y.length; i++) if (isFiniteNumber(c.y[i]) && c.y[i] > m) m = c.y[i];
  return m;
}

/** Draws the ridges of `curves` into the box (x0..x1, y0..y1); labels to the left of x0 when asked. */
function ridgePanel(
  curves: readonly RidgeCurve[],
  box: { x0: number; x1: number; y0: number; y1: number },
  domain: [number, number],
  o: RidgeOptions,
  labels: boolean,
  title?: string,
): Panel {
  // depth bins by depth, other groups as given
  curves = displayOrder(curves.map((c) => c.label)).map((i) => curves[i]);
  const k = curves.length;
  const stepPx = (box.y1 - box.y0) / (k + (o.overlap ?? 1.8) - 1);
  const ridgeH = stepPx * (o.overlap ?? 1.8);
  const x = linear(domain[0], domain[1], box.x0, box.x1);
  const sharedPeak = Math.max(...curves.map(peakOf), 0);
  const maxPoints = Math.max(8, o.maxPoints ?? 240);
  let svg = '';
  if (title) svg += text(box.x0, box.y0 - 8, title, { cls: 'fdb-panel' });
  // back to front: the first group at the top is drawn first
  curves.forEach((c, i) => {
    const base = box.y0 + ridgeH + i * stepPx;
    const pk = o.normalise === 'each' ? peakOf(c) : sharedPeak;
    const scale = pk > 0 ? ridgeH / pk : 0;
    const len = Math.min(c.x.length, c.y.length);
    const stride = Math.max(1, Math.ceil(len / maxPoints));
    // the curve (top edge) and the filled area under it, as separate paths so the range ends get no stroke
    let curve = '';
    let first = Number.NaN;
    let last = Number.NaN;
    const point = (j: number) => {
      const xv = c.x[j];
      const yv = c.y[j];
      if (!(isFiniteNumber(xv) && isFiniteNumber(yv))) return;
      const px = x(xv);
      if (Number.isNaN(first)) first = px;
      curve += `${curve ? 'L' : 'M'}${n2(px)},${n2(base - Math.max(0, yv) * scale)}`;
      last = px;
    };
    for (let j = 0; j < len; j += stride) point(j);
    if (len > 0 && (len - 1) % stride !== 0) point(len - 1);
    const color = ridgeColor(i, k, o.colors);
    const tip = `${c.label}${c.n !== undefined ? ` (${c.n} values)` : ''}`;
    if (curve && !Number.isNaN(last)) {
      const area = `M${n2(first)},${n2(base)}L${curve.slice(1)}L${n2(last)},${n2(base)}Z`;
      // an opaque backing in the page colour hides the ridges behind, then the tinted fill and the outline
      svg += `<g><title>${esc(tip)}</title><path d="${area}" style="fill:var(--fdb-bg,#fff);stroke:none"/><path d="${area}" style="fill:${color};fill-opacity:.6;stroke:none"/><path d="${curve}" style="fill:none;stroke:${color};stroke-width:1.3;stroke-linejoin:round"/></g>`;
    }
    svg += `<line x1="${n2(box.x0)}" x2="${n2(box.x1)}" y1="${n2(base)}" y2="${n2(base)}" style="stroke:currentColor;stroke-opacity:.25;stroke-width:.8"/>`;
    if (labels) {
      svg += `<text x="${n2(box.x0 - 6)}" y="${n2(base - 2)}" text-anchor="end"><title>${esc(tip)}</title>${esc(truncate(c.label, o.maxLabelLength ?? 24))}</text>`;
    }
  });
  svg += bottomAxis({ scale: x, ticks: ticks(domain[0], domain[1], 5) }, box.y1 + 2, box.x0, box.x1);
  return { svg };
}

function labelSpace(curves: readonly RidgeCurve[], o: RidgeOptions): number {
  return (
    Math.ceil(Math.max(20, ...curves.map((c) => textWidth(truncate(c.label, o.maxLabelLength ?? 24))))) + 10
  );
}

/** One ridge per group for one coefficient. */
export function ridgePlotSvg(curves: readonly RidgeCurve[], options: RidgeOptions = {}): string {
  if (curves.length === 0) return emptyPlot('no groups to draw', options);
  const width = options.width ?? 460;
  const head = header(options);
  const left = labelSpace(curves, options);
  const step = options.step ?? 26;
  const overlap = options.overlap ?? 1.8;
  const y0 = head.height + 6;
  const plotH = step * (curves.length + overlap - 1);
  const box = { x0: left, x1: width - 12, y0, y1: y0 + plotH };
  const p = ridgePanel(curves, box, range(curves), options, true);
  const xl = text((box.x0 + box.x1) / 2, box.y1 + 34, options.xLabel ?? 'coefficient', {
    anchor: 'middle',
    cls: 'fdb-muted',
  });
  return svgDoc(
    width,
    box.y1 + 42,
    head.svg + p.svg + xl,
    { description: `Ridge plot of ${curves.length} distributions`, ...options },
    () => curvesTable([{ title: '', curves }], options.xLabel ?? 'coefficient'),
  );
}

export interface RidgeGridPanel {
  /** Panel title, e.g. "c1 · 41.2%". */
  title: string;
  curves: readonly RidgeCurve[];
}

export interface RidgeGridOptions extends RidgeOptions {
  /** Panels per row (default 3). */
  columns?: number;
  /** Width of one panel's plot area (default 220). */
  panelWidth?: number;
  /** Share one x range over all panels (default false: each coefficient its own range). */
  sharedX?: boolean;
}

/** Small multiples: one ridge panel per coefficient (group labels on the first column only). */
export function ridgeGridSvg(panels: readonly RidgeGridPanel[], options: RidgeGridOptions = {}): string {
  const usable = panels.filter((p) => p.curves.length > 0);
  if (usable.length === 0) return emptyPlot('no groups to draw', options);
  const cols = Math.max(1, Math.min(usable.length, options.columns ?? 3));
  const rows = Math.ceil(usable.length / cols);
  const head = header(options);
  const left = labelSpace(usable[0].curves, options);
  const pw = options.panelWidth ?? 220;
  const gap = 18;
  const k = Math.max(...usable.map((p) => p.curves.length));
  const step = options.step ?? Math.max(12, Math.min(22, 180 / k));
  const overlap = options.overlap ?? 1.8;
  const plotH = step * (k + overlap - 1);
  const panelH = plotH + 24 + 26;
  const shared = range(usable.flatMap((p) => p.curves));
  let body = '';
  usable.forEach((p, i) => {
    const c = i % cols;
    const r = Math.floor(i / cols);
    const x0 = left + c * (pw + gap);
    const y0 = head.height + 20 + r * panelH;
    const dom = options.sharedX ? shared : range(p.curves);
    body += ridgePanel(
      p.curves,
      { x0, x1: x0 + pw, y0, y1: y0 + plotH },
      dom,
      { ...options, maxPoints: options.maxPoints ?? 160 },
      c === 0,
      p.title,
    ).svg;
  });
  const width = left + cols * (pw + gap) - gap + 10;
  const height = head.height + 20 + rows * panelH;
  const note = text(
    left,
    height - 4,
    `${options.xLabel ?? 'coefficient value'} · ridges: Gaussian KDE per group${options.normalise === 'each' ? ', each scaled to its peak' : ', common density scale per panel'}`,
    { cls: 'fdb-note' },
  );
  return svgDoc(
    width,
    height + 4,
    head.svg + body + note,
    { description: `Ridge plots of ${panels.length} coefficient distributions per group`, ...options },
    () => curvesTable(usable, options.xLabel ?? 'coefficient value'),
  );
}

/**
 * The density curves as a table: per panel a row for each x (curves of a panel evaluated on the same grid
 * share a row), a density column per group.
 */
function curvesTable(panels: readonly RidgeGridPanel[], xLabel: string): PlotTable {
  const labels = [...new Set(panels.flatMap((p) => p.curves.map((c) => c.label)))];
  const rows: PlotCell[][] = [];
  for (const p of panels) {
    const byX = new Map<number, PlotCell[]>();
    for (const c of p.curves) {
      const col = labels.indexOf(c.label);
      for (let k = 0; k < c.x.length; k++) {
        const row = byX.get(c.x[k]) ?? labels.map(() => null);
        byX.set(c.x[k], row);
        row[col] = c.y[k];
      }
    }
    for (const [x, row] of [...byX].sort((a, b) => a[0] - b[0])) rows.push([p.title, x, ...row]);
  }
  const named = panels.some((p) => p.title);
  return {
    columns: [...(named ? ['panel'] : []), xLabel, ...labels.map((l) => `density: ${l}`)],
    rows: named ? rows : rows.map((r) => r.slice(1)),
  };
}

/** Short panel title for coefficient i with its explained-variance ratio. */
export function coefficientTitle(i: number, evr?: number): string {
  return isFiniteNumber(evr) ? `c${i + 1} · ${fmt(evr * 100, 3)}% var.` : `c${i + 1}`;
}
