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
  seriesTable,
  svgDoc,
  text,
  ticks,
} from './core.js';
import { type DriftHeatmapOptions, driftHeatmapSvg } from './drift.js';

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
export function energyProfileSvg(series: readonly EnergySeries[], opts: EnergyPlotOptions = {}): string {
  const positive = series.flatMap((s) => s.profile.filter((v) => Number.isFinite(v) && v > 0));
  const dims = Math.max(0, ...series.map((s) => s.profile.length));
  const options = {
    ...opts,
    desc:
      opts.desc ??
      `First-layer energy along each basis vector, divided by its maximum, on a log scale, over the basis index: ${series
        .map((s) => {
          const top = s.profile.slice(0, 3).map((v) => fmt(v));
          return `${s.label} (${s.profile.length} vectors; first ${top.join(', ')})`;
        })
        .join('; ')}`,
  };
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
  return svgDoc(width, height, head.svg + body, options, () =>
    seriesTable(
      'basis index',
      series.map((s) => ({ label: `${s.label}: energy / max`, values: s.profile })),
    ),
  );
}

export interface EnergyCorrelationData {
  /** Model names, in matrix order. */
  models: readonly string[];
  /** Pearson correlation of the profiles (null where the patch spaces differ or a profile is constant). */
  matrix: readonly (readonly (number | null)[])[];
}

/** The Pearson correlation matrix of the models' energy profiles as a heat-map (diverging, −1…1). */
export function energyCorrelationSvg(data: EnergyCorrelationData, options: DriftHeatmapOptions = {}): string {
  const pairs: string[] = [];
  for (let i = 0; i < data.models.length; i++)
    for (let j = i + 1; j < data.models.length; j++)
      pairs.push(`${data.models[i]} vs ${data.models[j]}: ${fmt(data.matrix[i][j])}`);
  return driftHeatmapSvg(
    {
      groups: data.models,
      matrix: data.matrix.map((row) => row.map((v) => (v === null ? Number.NaN : v))),
    },
    {
      diverging: true,
      colorMax: 1,
      legendLabel: 'Pearson r',
      desc:
        'Pearson correlation between the models’ first-layer energy profiles (blue −1, white 0, red 1; grey: ' +
        `patch spaces differ). ${pairs.slice(0, 40).join('; ')}${pairs.length > 40 ? '; …' : ''}`,
      ...options,
    },
  );
}
