/** PCA plots: eigen-images of the basis and the (cumulative) explained-variance curve. */
import { CATEGORICAL, colorBarRects, divergingRgb } from './color.js';
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
  type PlotFrameOptions,
  pct,
  seriesTable,
  svgDoc,
  text,
  ticks,
  weightColumns,
} from './core.js';
import { kernelHeatmap } from './filters.js';

export interface EigenImagesOptions extends PlotFrameOptions {
  /** Kernel shape of a component (default: square root of its length, e.g. 3×3 for 9 values). */
  kernel?: [number, number];
  /** Images per row (default: all in one row). */
  columns?: number;
  /** Side of one eigen-image in px (default 56). */
  size?: number;
  /** Colour limit 'shared' over all components (default, so they compare) or per 'component'. */
  scale?: 'shared' | 'component';
  /** Draw the colour bar (default true). */
  legend?: boolean;
}

/** The PCA components as kh×kw heat-maps, each labelled with its explained-variance ratio. */
export function eigenImagesSvg(
  components: readonly (readonly number[])[],
  explainedVarianceRatio: readonly number[],
  options: EigenImagesOptions = {},
): string {
  const comps = components.filter((c) => c && c.length > 0);
  if (comps.length === 0) return emptyPlot('no components to show', options);
  const dims = comps[0].length;
  const side = Math.round(Math.sqrt(dims));
  const [kh, kw] = options.kernel ?? (side * side === dims ? [side, side] : [1, dims]);
  const cols = Math.max(1, Math.min(comps.length, options.columns ?? comps.length));
  const rows = Math.ceil(comps.length / cols);
  const size = options.size ?? 56;
  const px = size / Math.max(kh, kw);
  const gapX = 14;
  const cellW = Math.max(kw * px, 44);
  const cellH = kh * px + 32;
  const head = header(options);
  const top = head.height;
  let shared = 0;
  for (const c of comps) for (const v of c) if (Number.isFinite(v)) shared = Math.max(shared, Math.abs(v));

  let body = '';
  comps.forEach((c, i) => {
    const x = (i % cols) * (cellW + gapX);
    const y = top + Math.floor(i / cols) * (cellH + 8);
    let lim = shared;
    if (options.scale === 'component') {
      lim = 0;
      for (const v of c) if (Number.isFinite(v)) lim = Math.max(lim, Math.abs(v));
    }
    const ix = x + (cellW - kw * px) / 2;
    const r = explainedVarianceRatio[i];
    body += `<g><title>${esc(`component ${i + 1}: ${pct(r)} of variance; values ${c.map((v) => fmt(v, 2)).join(', ')}`)}</title>`;
    body += text(x + cellW / 2, y + 10, `PC${i + 1}`, { anchor: 'middle', cls: 'fdb-sub' });
    body += kernelHeatmap(c, kh, kw, ix, y + 16, px, lim);
    body += text(x + cellW / 2, y + 16 + kh * px + 13, isFiniteNumber(r) ? pct(r) : '', { anchor: 'middle' });
    body += '</g>';
  });
  let width = cols * (cellW + gapX) - gapX;
  const height = top + rows * (cellH + 8);
  if (options.legend !== false) {
    const lx = width + 18;
    const lh = Math.min(cellH - 20, 70);
    body += colorBarRects(lx, top + 16, 8, lh, divergingRgb, 32);
    const l = options.scale === 'component' ? 'max' : fmt(shared, 2);
    body += text(lx + 12, top + 20, `+${l}`, { cls: 'fdb-sub', baseline: 'middle' });
    body += text(lx + 12, top + 16 + lh - 4, `−${l}`, { cls: 'fdb-sub', baseline: 'middle' });
    width = lx + 48;
  }
  return svgDoc(width, height, head.svg + body, options, () => {
    return {
      columns: ['component', 'explained variance', ...weightColumns(kh, kw)],
      rows: comps.map((c, i) => [`PC${i + 1}`, explainedVarianceRatio[i] ?? null, ...c]),
    };
  });
}

export interface VarianceSeries {
  label: string;
  /** Explained-variance ratio per component (descending order). */
  values: readonly number[];
}

export interface CumulativeVarianceOptions extends PlotFrameOptions {
  width?: number;
  height?: number;
  /** Bars for each component's own ratio behind the cumulative line (default true with one series). */
  bars?: boolean;
  /** Horizontal reference lines (default [0.9]). */
  thresholds?: number[];
}

/** Cumulative explained variance (line + points) over the number of components. */
export function cumulativeVarianceSvg(
  evr: readonly number[] | readonly VarianceSeries[],
  options: CumulativeVarianceOptions = {},
): string {
  const series: VarianceSeries[] =
    evr.length > 0 && typeof evr[0] === 'object'
      ? (evr as VarianceSeries[])
      : [{ label: 'cumulative', values: evr as number[] }];
  const dims = Math.max(0, ...series.map((s) => s.values.length));
  if (dims === 0) return emptyPlot('no explained variance to show', options);
  const width = options.width ?? 380;
  const height = options.height ?? 240;
  const head = header(options);
  const m = { top: head.height + 8, right: 14, bottom: 42, left: 50 };
  const x = linear(0.5, dims + 0.5, m.left, width - m.right);
  const y = linear(0, 1, height - m.bottom, m.top);
  const xt = Array.from({ length: dims }, (_, i) => i + 1);
  let body = leftAxis(
    {
      scale: y,
      ticks: ticks(0, 1, 5),
      format: (v) => `${Math.round(v * 100)}%`,
      label: 'explained variance',
    },
    m.left,
    m.top,
    height - m.bottom,
    width - m.right,
  );
  body += bottomAxis(
    { scale: x, ticks: xt, format: (v) => String(v), label: 'components' },
    height - m.bottom,
    m.left,
    width - m.right,
  );
  const showBars = options.bars ?? series.length === 1;
  const bw = ((width - m.left - m.right) / dims) * 0.55;
  if (showBars) {
    for (let i = 0; i < series[0].values.length; i++) {
      const v = series[0].values[i];
      if (!isFiniteNumber(v)) continue;
      body += `<rect class="fdb-bar" x="${n2(x(i + 1) - bw / 2)}" y="${n2(y(Math.max(0, v)))}" width="${n2(bw)}" height="${n2(Math.max(0, y(0) - y(Math.max(0, v))))}"><title>${esc(`component ${i + 1}: ${pct(v)}`)}</title></rect>`;
    }
  }
  for (const t of options.thresholds ?? [0.9]) {
    if (!isFiniteNumber(t)) continue;
    body += `<line class="fdb-thr" x1="${m.left}" x2="${n2(width - m.right)}" y1="${n2(y(t))}" y2="${n2(y(t))}"/>`;
    body += text(m.left + 4, y(t) - 4, pct(t, 0), { cls: 'fdb-thr-label' });
  }
  series.forEach((s, si) => {
    const color = series.length === 1 ? 'var(--fdb-accent,#0072b2)' : CATEGORICAL[si % CATEGORICAL.length];
    let acc = 0;
    const xs: number[] = [];
    const ys: number[] = [];
    const cum: number[] = [];
    for (let i = 0; i < s.values.length; i++) {
      acc += isFiniteNumber(s.values[i]) ? s.values[i] : 0;
      cum.push(acc);
      xs.push(x(i + 1));
      ys.push(y(Math.min(1, acc)));
    }
    body += `<path class="fdb-line" style="stroke:${color}" d="${linePath(xs, ys)}"/>`;
    for (let i = 0; i < xs.length; i++) {
      body += `<circle cx="${n2(xs[i])}" cy="${n2(ys[i])}" r="3.2" style="fill:${color}"><title>${esc(`${s.label}: ${i + 1} component${i ? 's' : ''} explain ${pct(cum[i])}`)}</title></circle>`;
    }
  });
  if (series.length > 1) {
    series.forEach((s, si) => {
      const ly = m.top + 60 + si * 14;
      body += `<rect x="${n2(width - m.right - 110)}" y="${n2(ly - 4)}" width="10" height="3" style="fill:${CATEGORICAL[si % CATEGORICAL.length]}"/>`;
      body += text(width - m.right - 96, ly, s.label, { baseline: 'middle', cls: 'fdb-sub' });
    });
  }
  return svgDoc(width, height, head.svg + body, options, () =>
    seriesTable(
      'components',
      series.flatMap((s) => {
        let acc = 0;
        const cum = s.values.map((v) => (acc += isFiniteNumber(v) ? v : 0));
        const name = series.length === 1 ? '' : `${s.label}: `;
        return [
          { label: `${name}explained variance`, values: s.values },
          { label: `${name}cumulative`, values: cum },
        ];
      }),
      (i) => i + 1,
    ),
  );
}
