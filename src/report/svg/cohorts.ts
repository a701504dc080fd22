/**
 * Cohort-study plots (filterdb cohorts): per metric, boxplots over depth bins with one box per cohort (the
 * paper's figure 2), and the divergence between cohorts by depth as grouped bars (its figure 4).
 */
import type { CohortDivergence, CohortMetric, CohortModel } from '../../analysis/cohorts.js';
import { CATEGORICAL } from './color.js';
import {
  bottomAxis,
  emptyPlot,
  esc,
  fmt,
  header,
  leftAxis,
  linear,
  n2,
  niceDomain,
  type PlotFrameOptions,
  type PlotTable,
  svgDoc,
  text,
  textWidth,
  ticks,
  truncate,
} from './core.js';
import { boxStats } from './drift.js';

export interface CohortPlotData {
  bins: readonly string[];
  groups: readonly string[];
  models: readonly CohortModel[];
}

export interface CohortPlotOptions extends PlotFrameOptions {
  width?: number;
  height?: number;
}

/** The plot's root element, named by its title. */
function cohortDoc(
  width: number,
  height: number,
  body: string,
  options: CohortPlotOptions,
  title: string,
  table: () => PlotTable,
): string {
  return svgDoc(width, height, body, { ...options, title, description: options.description ?? title }, table);
}

/** Deterministic jitter in [-0.5, 0.5) (reproducible output). */
function jitter(i: number): number {
  let h = Math.imul(i + 1, 0x2c1b3c6d) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0x297a2d39) >>> 0;
  return (h >>> 8) / 16777216 - 0.5;
}

/** A row of cohort swatches with labels, from x; returns markup and its width. */
function legend(groups: readonly string[], x: number, y: number, maxWidth: number): string {
  let svg = '';
  let cx = x;
  let cy = y;
  groups.forEach((g, i) => {
    const label = truncate(g, 24);
    const w = 16 + textWidth(label) + 14;
    if (cx + w > x + maxWidth && cx > x) {
      cx = x;
      cy += 16;
    }
    svg += `<rect x="${n2(cx)}" y="${n2(cy - 8)}" width="10" height="10" rx="2" style="fill:${CATEGORICAL[i % CATEGORICAL.length]}"/>`;
    svg += `<text x="${n2(cx + 14)}" y="${n2(cy + 1)}"><title>${esc(g)}</title>${esc(label)}</text>`;
    cx += w;
  });
  return svg;
}

function legendRows(groups: readonly string[], maxWidth: number): number {
  let rows = 1;
  let cx = 0;
  for (const g of groups) {
    const w = 16 + textWidth(truncate(g, 24)) + 14;
    if (cx + w > maxWidth && cx > 0) {
      rows++;
      cx = 0;
    }
    cx += w;
  }
  return rows;
}

/** A depth-bin label under the x axis, turned to fit narrow slots. */
function slotLabel(x: number, y: number, label: string): string {
  return `<text x="${n2(x)}" y="${n2(y)}" text-anchor="end" dominant-baseline="hanging" transform="rotate(-35 ${n2(x)} ${n2(y)})">${esc(label)}</text>`;
}

const METRIC_LABELS: Record<CohortMetric, string> = {
  sparsity: 'sparsity',
  varianceEntropy: 'variance entropy',
  orthogonality: 'orthogonality',
};

/**
 * Boxplots of one metric: depth bins on x (bins where no model has a value are left out), one box per cohort
 * per bin — quartiles, median line, whiskers to the furthest values within 1.5 IQR, the mean as a diamond —
 * and every model's value as a dot whose tooltip names the model.
 */
export function cohortBoxplotSvg(
  data: CohortPlotData,
  metric: CohortMetric,
  options: CohortPlotOptions = {},
): string {
  const slots = data.bins
    .map((bin, b) => ({
      bin,
      byGroup: data.groups.map((g) =>
        data.models
          .filter((m) => m.group === g && m[metric][b] !== null)
          .map((m) => ({ model: m.model, v: m[metric][b] as number })),
      ),
    }))
    .filter((s) => s.byGroup.some((v) => v.length > 0));
  const title = options.title ?? METRIC_LABELS[metric];
  if (slots.length === 0) return emptyPlot(`no ${METRIC_LABELS[metric]} values`, { ...options, title });
  const all = slots.flatMap((s) => s.byGroup.flat().map((p) => p.v));
  const width =
    options.width ?? Math.max(420, 80 + slots.length * Math.max(36, 16 * data.groups.length + 14));
  const head = header({ ...options, title });
  const legendH = 16 * legendRows(data.groups, width - 80);
  const height = options.height ?? 300;
  const m = { top: head.height + legendH + 10, right: 14, bottom: 58, left: 62 };
  const lo = Math.min(...all);
  const hi = Math.max(...all);
  const pad = hi > lo ? (hi - lo) * 0.05 : Math.abs(hi) * 0.05 || 0.05;
  const [d0, d1] = niceDomain(lo >= 0 ? Math.max(0, lo - pad) : lo - pad, hi + pad, 5);
  const y = linear(d0, d1, height - m.bottom, m.top);
  const plotW = width - m.left - m.right;
  const sw = plotW / slots.length;
  let body = head.svg + legend(data.groups, m.left, head.height + 10, width - m.left - m.right);
  body += leftAxis(
    { scale: y, ticks: ticks(d0, d1, 5), label: METRIC_LABELS[metric] },
    m.left,
    m.top,
    height - m.bottom,
    width - m.right,
  );
  body += bottomAxis({ scale: (v) => v, ticks: [] }, height - m.bottom, m.left, width - m.right);
  const G = data.groups.length;
  slots.forEach((s, i) => {
    const x0 = m.left + sw * i;
    body += slotLabel(x0 + sw / 2, height - m.bottom + 8, s.bin);
    const inner = sw * 0.84;
    const bw = Math.min(28, (inner / G) * 0.78);
    s.byGroup.forEach((points, g) => {
      if (points.length === 0) return;
      const bx = x0 + sw * 0.08 + (inner / G) * (g + 0.5);
      const color = CATEGORICAL[g % CATEGORICAL.length];
      const st = boxStats(points.map((p) => p.v))!;
      const mean = points.reduce((a, p) => a + p.v, 0) / points.length;
      const tip = `${data.groups[g]} · ${s.bin}: ${st.n} model${st.n === 1 ? '' : 's'}; median ${fmt(st.median, 4)}, IQR ${fmt(st.q1, 4)}–${fmt(st.q3, 4)}, mean ${fmt(mean, 4)}`;
      body += `<g class="fdb-cohort-box" style="stroke:${color};color:${color}"><title>${esc(tip)}</title>`;
      body += `<line class="fdb-whisker" x1="${n2(bx)}" x2="${n2(bx)}" y1="${n2(y(st.lo))}" y2="${n2(y(st.q1))}"/>`;
      body += `<line class="fdb-whisker" x1="${n2(bx)}" x2="${n2(bx)}" y1="${n2(y(st.q3))}" y2="${n2(y(st.hi))}"/>`;
      body += `<line class="fdb-whisker" x1="${n2(bx - bw / 4)}" x2="${n2(bx + bw / 4)}" y1="${n2(y(st.lo))}" y2="${n2(y(st.lo))}"/>`;
      body += `<line class="fdb-whisker" x1="${n2(bx - bw / 4)}" x2="${n2(bx + bw / 4)}" y1="${n2(y(st.hi))}" y2="${n2(y(st.hi))}"/>`;
      body += `<rect x="${n2(bx - bw / 2)}" y="${n2(y(st.q3))}" width="${n2(bw)}" height="${n2(Math.max(1, y(st.q1) - y(st.q3)))}" style="fill:${color};fill-opacity:.25;stroke:${color}"/>`;
      body += `<line class="fdb-median" x1="${n2(bx - bw / 2)}" x2="${n2(bx + bw / 2)}" y1="${n2(y(st.median))}" y2="${n2(y(st.median))}" style="stroke:${color}"/>`;
      const my = y(mean);
      body += `<path class="fdb-mean" d="M${n2(bx)},${n2(my - 3.5)}L${n2(bx + 3.5)},${n2(my)}L${n2(bx)},${n2(my + 3.5)}L${n2(bx - 3.5)},${n2(my)}Z" style="fill:var(--fdb-bg,#fff);stroke:${color}"/>`;
      body += '</g>';
      points.forEach((p, j) => {
        body += `<circle class="fdb-dot" cx="${n2(bx + jitter(j + 31 * g) * bw * 0.7)}" cy="${n2(y(p.v))}" r="2.2" style="fill:${color};fill-opacity:.7"><title>${esc(`${p.model} (${data.groups[g]}): ${fmt(p.v, 6)}`)}</title></circle>`;
      });
    });
  });
  return cohortDoc(width, height, body, options, title, () => ({
    columns: ['model', 'cohort', ...data.bins],
    rows: data.models
      .filter((m) => data.groups.includes(m.group))
      .map((m) => [m.model, m.group, ...data.bins.map((_, b) => m[metric][b])]),
  }));
}

export interface DivergencePlotData {
  bins: readonly string[];
  groups: readonly string[];
  divergence: CohortDivergence | null;
}

/**
 * The divergence by depth: per bin (and `whole`), one bar per pair of cohorts; a pair without a value in a bin
 * (a cohort has no filter there) is marked "–".
 */
export function cohortDivergenceSvg(data: DivergencePlotData, options: CohortPlotOptions = {}): string {
  const title = options.title ?? 'divergence between cohorts by depth';
  const d = data.divergence;
  if (!d) return emptyPlot('no divergence (fewer than 2 non-sparse filters)', { ...options, title });
  const pairs: { label: string; a: number; b: number }[] = [];
  for (let a = 0; a < data.groups.length; a++)
    for (let b = a + 1; b < data.groups.length; b++)
      pairs.push({ label: `${data.groups[a]} – ${data.groups[b]}`, a, b });
  if (pairs.length === 0) return emptyPlot('a single cohort: no pairs to compare', { ...options, title });
  // bins where a cohort has no filter have no value for any pair: left out (and said so)
  const slots = [...data.bins.map((bin, i) => ({ bin, m: d.byBin[i] })), { bin: 'whole', m: d.whole }].filter(
    (s) => s.m !== null || s.bin === 'whole',
  );
  const dropped = data.bins.length + 1 - slots.length;
  if (dropped > 0 && options.subtitle === undefined)
    options = {
      ...options,
      subtitle: `${dropped} bin${dropped === 1 ? '' : 's'} without filters of every cohort left out`,
    };
  const values = slots.flatMap((s) => (s.m ? pairs.map((p) => s.m![p.a][p.b]) : []));
  const width = options.width ?? Math.max(420, 80 + slots.length * Math.max(40, 12 * pairs.length + 16));
  const head = header({ ...options, title });
  const shown = pairs.length > 1;
  const legendH = shown
    ? 16 *
      legendRows(
        pairs.map((p) => p.label),
        width - 80,
      )
    : 0;
  const height = options.height ?? 280;
  const m = { top: head.height + legendH + 10, right: 14, bottom: 58, left: 62 };
  const [d0, d1] = niceDomain(0, Math.max(0, ...values), 5);
  const y = linear(d0, d1, height - m.bottom, m.top);
  const plotW = width - m.left - m.right;
  const sw = plotW / slots.length;
  let body = head.svg;
  if (shown)
    body += legend(
      pairs.map((p) => p.label),
      m.left,
      head.height + 10,
      width - m.left - m.right,
    );
  body += leftAxis(
    { scale: y, ticks: ticks(d0, d1, 5), label: 'divergence (sym. KL)' },
    m.left,
    m.top,
    height - m.bottom,
    width - m.right,
  );
  body += bottomAxis({ scale: (v) => v, ticks: [] }, height - m.bottom, m.left, width - m.right);
  slots.forEach((s, i) => {
    const x0 = m.left + sw * i;
    body += slotLabel(x0 + sw / 2, height - m.bottom + 8, s.bin);
    const inner = sw * 0.8;
    const bw = inner / pairs.length;
    pairs.forEach((p, k) => {
      const bx = x0 + sw * 0.1 + bw * k;
      const color = shown ? CATEGORICAL[k % CATEGORICAL.length] : 'var(--fdb-accent,#0072b2)';
      if (!s.m) {
        body += text(bx + bw / 2, height - m.bottom - 6, '–', { anchor: 'middle', cls: 'fdb-note' });
        return;
      }
      const v = s.m[p.a][p.b];
      const top = y(v);
      body += `<rect x="${n2(bx + bw * 0.08)}" y="${n2(top)}" width="${n2(bw * 0.84)}" height="${n2(Math.max(0.5, height - m.bottom - top))}" style="fill:${color}"><title>${esc(`${p.label} · ${s.bin}: ${fmt(v, 5)}`)}</title></rect>`;
    });
  });
  return cohortDoc(width, height, body, options, title, () => ({
    columns: ['depth bin', ...pairs.map((p) => p.label)],
    rows: slots.map((s) => [s.bin, ...pairs.map((p) => (s.m ? s.m[p.a][p.b] : null))]),
  }));
}
