/** First-layer energy profile: normalised energy vs basis index, log-scaled energy axis, one line per model. */
import { CATEGORICAL } from './color.js';
import {
  bottomAxis,
  emptyPlot,
  esc,
  fmt,
  header,
  leftAxis,
  linear,
  linePath,
  n2,
  type PlotFrameOptions,
  svgDoc,
  text,
  ticks,
} from './core.js';

export interface EnergySeries {
  label: string;
  /** E / max E per basis index (values ≤ 0 are left out: the axis is logarithmic). */
  profile: readonly number[];
}

export interface EnergyPlotOptions extends PlotFrameOptions {
  width?: number;
  height?: number;
}

/** Energy profile(s) on a log10 axis over the basis index (0-based). */
export function energyProfileSvg(series: readonly EnergySeries[], options: EnergyPlotOptions = {}): string {
  const positive = series.flatMap((s) => s.profile.filter((v) => Number.isFinite(v) && v > 0));
  const dims = Math.max(0, ...series.map((s) => s.profile.length));
  if (dims === 0 || positive.length === 0) return emptyPlot('no energy to show', options);
  const width = options.width ?? 420;
  const height = options.height ?? 250;
  const head = header(options);
  const m = { top: head.height + 8, right: 14, bottom: 42, left: 56 };
  const lo = Math.floor(Math.log10(Math.min(...positive)));
  const x = linear(0, Math.max(1, dims - 1), m.left, width - m.right);
  const y = linear(Math.min(lo, -1), 0, height - m.bottom, m.top);
  const decades: number[] = [];
  for (let d = Math.min(lo, -1); d <= 0; d++) decades.push(d);
  let body = leftAxis(
    {
      scale: y,
      ticks: decades,
      format: (d) => (d === 0 ? '1' : `1e${d}`),
      label: 'energy / max',
    },
    m.left,
    m.top,
    height - m.bottom,
    width - m.right,
  );
  body += bottomAxis(
    {
      scale: x,
      ticks: ticks(0, dims - 1, 6).filter((t) => Number.isInteger(t)),
      format: (v) => String(v),
      label: 'basis index',
    },
    height - m.bottom,
    m.left,
    width - m.right,
  );
  series.forEach((s, si) => {
    const color = series.length === 1 ? 'var(--fdb-accent,#0072b2)' : CATEGORICAL[si % CATEGORICAL.length];
    const xs = s.profile.map((_, i) => x(i));
    const ys = s.profile.map((v) => (v > 0 ? y(Math.log10(v)) : Number.NaN));
    body += `<path class="fdb-line" style="stroke:${color}" d="${linePath(xs, ys)}"><title>${esc(s.label)}</title></path>`;
    if (series.length === 1) {
      s.profile.forEach((v, i) => {
        if (!(v > 0)) return;
        body += `<circle cx="${n2(xs[i])}" cy="${n2(ys[i])}" r="2.2" style="fill:${color}"><title>${esc(`index ${i}: ${fmt(v)}`)}</title></circle>`;
      });
    }
  });
  if (series.length > 1) {
    series.slice(0, 12).forEach((s, si) => {
      const ly = m.top + 6 + si * 13;
      body += `<rect x="${n2(width - m.right - 130)}" y="${n2(ly - 2)}" width="10" height="3" style="fill:${CATEGORICAL[si % CATEGORICAL.length]}"/>`;
      body += text(width - m.right - 116, ly, s.label, { baseline: 'middle', cls: 'fdb-sub' });
    });
  }
  return svgDoc(width, height, head.svg + body, options);
}
