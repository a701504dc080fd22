/**
 * Small SVG building blocks shared by every plot: escaping, number formatting that never writes "NaN",
 * linear scales, "nice" ticks, axes and the document wrapper.
 *
 * Every plot is a pure function data → SVG string (no DOM, no `node:` imports), so the CLI's HTML report and
 * the browser app render the same marks. Ink uses `currentColor` (the surrounding text colour) and CSS
 * variables with fallbacks, so a plot reads in light and dark themes; data colours come from ./color.ts.
 */

/** Escapes text for XML/HTML element content and attribute values. */
export function esc(text: unknown): string {
  return String(text ?? '').replace(/[&<>"']/g, (c) =>
    c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&#39;',
  );
}

/** A coordinate for an attribute: at most 2 decimals, trailing zeros dropped, non-finite → 0. */
export function n2(x: number): string {
  if (!Number.isFinite(x)) return '0';
  const r = Math.round(x * 100) / 100;
  return String(Object.is(r, -0) ? 0 : r);
}

/** A value for display: `digits` significant digits, compact; non-finite → "–". */
export function fmt(x: number | null | undefined, digits = 3): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '–';
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 1e5 || a < 1e-3) return x.toExponential(Math.max(0, digits - 1)).replace('e+', 'e');
  return String(Number(x.toPrecision(digits)));
}

/** A ratio as a percentage ("41.2%"). */
export function pct(x: number | null | undefined, digits = 1): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '–';
  return `${(x * 100).toFixed(digits)}%`;
}

export function isFiniteNumber(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}

/** Linear map from [d0, d1] to [r0, r1]; a zero-width domain maps to the middle of the range. */
export function linear(d0: number, d1: number, r0: number, r1: number): (x: number) => number {
  const span = d1 - d0;
  if (!(Number.isFinite(span) && span !== 0)) return () => (r0 + r1) / 2;
  const k = (r1 - r0) / span;
  return (x) => r0 + (x - d0) * k;
}

/** About `count` round tick values covering [lo, hi] (1, 2, 5 × 10^k steps). */
export function ticks(lo: number, hi: number, count = 5): number[] {
  if (!(Number.isFinite(lo) && Number.isFinite(hi))) return [];
  if (lo === hi) return [lo];
  if (lo > hi) [lo, hi] = [hi, lo];
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  const step = (f >= 7.5 ? 10 : f >= 3.5 ? 5 : f >= 1.5 ? 2 : 1) * mag;
  const out: number[] = [];
  const start = Math.ceil(lo / step - 1e-9);
  const stop = Math.floor(hi / step + 1e-9);
  for (let i = start; i <= stop; i++) out.push(Number((i * step).toPrecision(12)));
  return out;
}

/** [lo, hi] widened to tick boundaries ("nice" domain). */
export function niceDomain(lo: number, hi: number, count = 5): [number, number] {
  if (!(Number.isFinite(lo) && Number.isFinite(hi))) return [0, 1];
  if (lo === hi) return lo === 0 ? [0, 1] : lo > 0 ? [0, lo * 1.1] : [lo * 1.1, 0];
  const t = ticks(lo, hi, count);
  const step = t.length > 1 ? t[1] - t[0] : Math.abs(hi - lo);
  return [
    Math.min(lo, Math.floor(lo / step + 1e-9) * step),
    Math.max(hi, Math.ceil(hi / step - 1e-9) * step),
  ];
}

/** Tick label text: few decimals, decided by the tick step. */
export function tickLabel(v: number, step: number): string {
  if (!Number.isFinite(v)) return '';
  const a = Math.abs(step);
  if (a >= 1e5 || (a > 0 && a < 1e-3)) return fmt(v, 2);
  const decimals = a >= 1 || a === 0 ? 0 : Math.min(6, Math.ceil(-Math.log10(a) - 1e-9));
  const s = v.toFixed(decimals);
  return s === '-0' || /^-0\.0*$/.test(s) ? s.slice(1) : s;
}

/** Shared stylesheet of plot classes (embedded once per page, or per SVG when standalone). */
export const PLOT_CSS = `
.fdb-plot{font-family:var(--fdb-font,system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif);font-size:11px}
.fdb-plot text{fill:currentColor}
.fdb-title{font-size:13px;font-weight:600}
.fdb-panel{font-size:12px;font-weight:600}
.fdb-sub{font-size:10.5px;fill-opacity:.75}
.fdb-muted{fill-opacity:.7}
.fdb-axis line,.fdb-axis path{stroke:currentColor;stroke-opacity:.55;fill:none}
.fdb-grid line{stroke:currentColor;stroke-opacity:.1}
.fdb-frame{fill:none;stroke:currentColor;stroke-opacity:.35}
.fdb-cellframe{fill:none;stroke:currentColor;stroke-opacity:.25;stroke-width:.6}
.fdb-line{fill:none;stroke-width:1.6;stroke-linejoin:round;stroke-linecap:round}
.fdb-thr{stroke:currentColor;stroke-opacity:.55;stroke-dasharray:4 3;fill:none}
.fdb-thr-label{font-size:10px;fill-opacity:.7}
.fdb-flag{fill:var(--fdb-flag,#d55e00);fill-opacity:.12}
.fdb-flagmark{stroke:var(--fdb-flag,#d55e00);fill:var(--fdb-bg,#fff);stroke-width:1.6}
.fdb-bar{fill:currentColor;fill-opacity:.18}
.fdb-initband{fill:currentColor;fill-opacity:.16}
.fdb-goodrange{fill:#009e73;fill-opacity:.12}
.fdb-box{fill:var(--fdb-accent,#0072b2);fill-opacity:.2;stroke:var(--fdb-accent,#0072b2);stroke-width:1.2}
.fdb-whisker{stroke:currentColor;stroke-opacity:.7}
.fdb-median{stroke:currentColor;stroke-width:2}
.fdb-dot{fill:currentColor;fill-opacity:.45}
.fdb-note{font-size:10.5px;font-style:italic;fill-opacity:.7}
.fdb-empty{font-size:12px;fill-opacity:.6}
.fdb-hit{fill:transparent;cursor:pointer}
.fdb-hit.fdb-linked{fill:var(--fdb-accent,#0072b2);fill-opacity:.14}
.fdb-hit.fdb-current{fill:var(--fdb-accent,#0072b2);fill-opacity:.22}
circle.fdb-linked{stroke:currentColor;stroke-width:2;r:6px}
`;

export interface PlotFrameOptions {
  /** Plot title drawn at the top (omit or '' for none). */
  title?: string;
  /** Line under the title. */
  subtitle?: string;
  /** Text for the root `<title>` (accessible name / tooltip); defaults to the title. */
  description?: string;
  /** Longer text for the root `<desc>`: what the plot shows and how to read it (omitted when absent). */
  desc?: string;
  /**
   * Embed the plot stylesheet in this SVG (default true, so a lone SVG renders correctly). Pages that inline
   * many plots set it false and include `PLOT_CSS` once.
   */
  embedStyle?: boolean;
  /** Extra class names on the root element. */
  className?: string;
  /**
   * Carry the numbers the plot draws as JSON in a `data-table` attribute on the root (a `PlotTable`), for a
   * page that shows them as a data-table fallback (the web app does; the HTML report leaves it off).
   */
  dataTable?: boolean;
}

/** A cell of a plot's data table: a number (shown rounded, kept exact), a label, or nothing. */
export type PlotCell = number | string | null;

/** The numbers a plot draws, as rows under named columns. */
export interface PlotTable {
  columns: string[];
  rows: PlotCell[][];
  /** Says what was left out when the rows were thinned. */
  note?: string;
}

/** Most rows a plot's data table carries; longer tables keep every k-th row (the downloads have all). */
export const PLOT_TABLE_MAX_ROWS = 240;

/** Thins `table` to at most `max` rows (every k-th row, the last kept) and says so in its note. */
export function capTable(table: PlotTable, max = PLOT_TABLE_MAX_ROWS): PlotTable {
  const n = table.rows.length;
  if (n <= max) return table;
  const step = Math.ceil(n / max);
  const rows = table.rows.filter((_, i) => i % step === 0 || i === n - 1);
  const note = `${rows.length} of ${n} rows shown (one in ${step})`;
  return { ...table, rows, note: table.note ? `${table.note}; ${note}` : note };
}

/**
 * Series drawn over a shared index as one table: a row per index, a column per series (shorter series leave
 * their cells empty). `index` names row i (default i itself).
 */
export function seriesTable(
  indexName: string,
  series: readonly { label: string; values: ArrayLike<number> }[],
  index: (i: number) => PlotCell = (i) => i,
): PlotTable {
  const length = Math.max(0, ...series.map((s) => s.values.length));
  const rows: PlotCell[][] = [];
  for (let i = 0; i < length; i++)
    rows.push([index(i), ...series.map((s) => (i < s.values.length ? s.values[i] : null))]);
  return { columns: [indexName, ...series.map((s) => s.label)], rows };
}

/** Column names for the weights of a kh × kw kernel in row-major order ("w[0,0]", "w[0,1]", …). */
export function weightColumns(kh: number, kw: number): string[] {
  return Array.from({ length: kh * kw }, (_, j) => `w[${Math.floor(j / kw)},${j % kw}]`);
}

/** Non-finite numbers become null (JSON has no NaN); the rest is kept exact. */
function cell(v: PlotCell): PlotCell {
  return typeof v === 'number' && !Number.isFinite(v) ? null : v;
}

/** Wraps plot content in a root `<svg>` with viewBox, accessible title and (optionally) the stylesheet. */
export function svgDoc(
  width: number,
  height: number,
  content: string,
  o: PlotFrameOptions = {},
  table?: () => PlotTable,
): string {
  const w = Math.max(1, Math.ceil(width));
  const h = Math.max(1, Math.ceil(height));
  const cls = `fdb-plot${o.className ? ` ${esc(o.className)}` : ''}`;
  // every plot gets an accessible name (WCAG 1.1.1): its description, its title, else its subtitle
  const desc = o.description || o.title || o.subtitle || '';
  const longDesc = o.subtitle && o.subtitle !== desc ? `<desc>${esc(o.subtitle)}</desc>` : '';
  const style = o.embedStyle === false ? '' : `<style>${PLOT_CSS.replace(/\n/g, '')}</style>`;
  let data = '';
  if (o.dataTable && table) {
    const t = capTable(table());
    data = ` data-table="${esc(JSON.stringify({ ...t, rows: t.rows.map((r) => r.map(cell)) }))}"`;
  }
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" class="${cls}" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" role="img"${data}>` +
    (desc ? `<title>${esc(desc)}</title>` : '') +
    (o.desc ? `<desc>${esc(o.desc)}</desc>` : longDesc) +
    style +
    content +
    '</svg>'
  );
}

/** Title and subtitle at the top left; returns the markup and the height they take. */
export function header(o: PlotFrameOptions, x = 0): { svg: string; height: number } {
  let svg = '';
  let y = 0;
  if (o.title) {
    y += 16;
    svg += `<text class="fdb-title" x="${n2(x)}" y="${y}">${esc(o.title)}</text>`;
  }
  if (o.subtitle) {
    y += 15;
    svg += `<text class="fdb-sub" x="${n2(x)}" y="${y}">${esc(o.subtitle)}</text>`;
  }
  return { svg, height: y ? y + 8 : 0 };
}

/** Text element (escaped). */
export function text(
  x: number,
  y: number,
  content: string,
  attrs: {
    anchor?: 'start' | 'middle' | 'end';
    cls?: string;
    baseline?: 'middle' | 'hanging';
    rotate?: number;
    fill?: string;
  } = {},
): string {
  const a = [`x="${n2(x)}"`, `y="${n2(y)}"`];
  if (attrs.anchor && attrs.anchor !== 'start') a.push(`text-anchor="${attrs.anchor}"`);
  if (attrs.baseline === 'middle') a.push('dominant-baseline="central"');
  else if (attrs.baseline === 'hanging') a.push('dominant-baseline="hanging"');
  if (attrs.cls) a.push(`class="${attrs.cls}"`);
  if (attrs.fill) a.push(`style="fill:${attrs.fill}"`);
  if (attrs.rotate) a.push(`transform="rotate(${n2(attrs.rotate)} ${n2(x)} ${n2(y)})"`);
  return `<text ${a.join(' ')}>${esc(content)}</text>`;
}

export interface AxisSpec {
  /** Scale from data to pixels. */
  scale: (v: number) => number;
  ticks: number[];
  /** Tick label text (default tickLabel with the tick step). */
  format?: (v: number) => string;
  label?: string;
}

/** A bottom axis at pixel row `y`, spanning [x0, x1], with grid lines up to `gridTop` when given. */
export function bottomAxis(spec: AxisSpec, y: number, x0: number, x1: number, gridTop?: number): string {
  const step = spec.ticks.length > 1 ? spec.ticks[1] - spec.ticks[0] : 1;
  const f = spec.format ?? ((v: number) => tickLabel(v, step));
  let grid = '';
  let axis = `<line x1="${n2(x0)}" y1="${n2(y)}" x2="${n2(x1)}" y2="${n2(y)}"/>`;
  let labels = '';
  for (const t of spec.ticks) {
    const x = spec.scale(t);
    if (!Number.isFinite(x)) continue;
    if (gridTop !== undefined)
      grid += `<line x1="${n2(x)}" y1="${n2(gridTop)}" x2="${n2(x)}" y2="${n2(y)}"/>`;
    axis += `<line x1="${n2(x)}" y1="${n2(y)}" x2="${n2(x)}" y2="${n2(y + 4)}"/>`;
    labels += text(x, y + 14, f(t), { anchor: 'middle' });
  }
  let label = '';
  if (spec.label) label = text((x0 + x1) / 2, y + 30, spec.label, { anchor: 'middle', cls: 'fdb-muted' });
  return (grid ? `<g class="fdb-grid">${grid}</g>` : '') + `<g class="fdb-axis">${axis}</g>` + labels + label;
}

/** A left axis at pixel column `x`, spanning [y0 (top), y1 (bottom)], grid lines to `gridRight` when given. */
export function leftAxis(spec: AxisSpec, x: number, y0: number, y1: number, gridRight?: number): string {
  const step = spec.ticks.length > 1 ? spec.ticks[1] - spec.ticks[0] : 1;
  const f = spec.format ?? ((v: number) => tickLabel(v, step));
  let grid = '';
  let axis = `<line x1="${n2(x)}" y1="${n2(y0)}" x2="${n2(x)}" y2="${n2(y1)}"/>`;
  let labels = '';
  for (const t of spec.ticks) {
    const y = spec.scale(t);
    if (!Number.isFinite(y)) continue;
    if (gridRight !== undefined)
      grid += `<line x1="${n2(x)}" y1="${n2(y)}" x2="${n2(gridRight)}" y2="${n2(y)}"/>`;
    axis += `<line x1="${n2(x - 4)}" y1="${n2(y)}" x2="${n2(x)}" y2="${n2(y)}"/>`;
    labels += text(x - 7, y, f(t), { anchor: 'end', baseline: 'middle' });
  }
  let label = '';
  if (spec.label)
    label = text(x - 38, (y0 + y1) / 2, spec.label, { anchor: 'middle', cls: 'fdb-muted', rotate: -90 });
  return (grid ? `<g class="fdb-grid">${grid}</g>` : '') + `<g class="fdb-axis">${axis}</g>` + labels + label;
}

/** A placeholder plot saying why there is nothing to draw. */
export function emptyPlot(
  message: string,
  o: PlotFrameOptions & { width?: number; height?: number } = {},
): string {
  const width = o.width ?? 360;
  const head = header(o);
  const height = Math.max(o.height ?? 80, head.height + 40);
  return svgDoc(
    width,
    height,
    head.svg +
      text(width / 2, head.height + (height - head.height) / 2, message, {
        anchor: 'middle',
        baseline: 'middle',
        cls: 'fdb-empty',
      }),
    o,
  );
}

/** Approximate rendered width of a label at ~11px sans-serif (for layout; no DOM to measure with). */
export function textWidth(s: string, fontSize = 11): number {
  let w = 0;
  for (const ch of s) {
    if (/[il.,:;|'!]/.test(ch)) w += 0.28;
    else if (/[mwMW@]/.test(ch)) w += 0.85;
    else if (/[A-Z0-9]/.test(ch)) w += 0.64;
    else if (ch === ' ') w += 0.3;
    else w += 0.54;
  }
  return w * fontSize;
}

/** Shortens a label to about `max` characters with an ellipsis. */
export function truncate(s: string, max: number): string {
  const chars = [...s];
  return chars.length <= max ? s : chars.slice(0, Math.max(1, max - 1)).join('') + '…';
}

/** SVG path "M…L…" through finite points; non-finite points break the line into segments. */
export function linePath(xs: readonly number[], ys: readonly number[]): string {
  let d = '';
  let pen = false;
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i];
    const y = ys[i];
    if (!(Number.isFinite(x) && Number.isFinite(y))) {
      pen = false;
      continue;
    }
    d += `${pen ? 'L' : 'M'}${n2(x)},${n2(y)}`;
    pen = true;
  }
  return d;
}
